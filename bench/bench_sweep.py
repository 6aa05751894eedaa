"""sweep: the reverse sweep alone, on a recorded chain of N scalar records.

The chain is `y = x; y = y + 1.0` N times on a 1-element float64 leaf, recorded once
outside the timed region; each timed call is `y.backward(retain_graph=True)`, so the
same graph is swept again and again (adding a Python scalar saves nothing, so PyTorch
and tapegrad can both sweep it again). Timed for N = 10 and N = 10,000; the report
takes (median(10,000) - median(10)) / 9,990 as the cost of the sweep per record, with
the fixed per-backward overhead cancelled out.
"""

import numpy as np
import pytest

from bench.common import crosscheck_all, size, time_case

IMPLS = ("tapegrad", "torch")
SIZES = (10, size(10_000, 200))
X0 = 0.5


def make(impl, n):
    if impl == "tapegrad":
        import tapegrad as T
    elif impl == "torch":
        import torch as T
    else:
        raise ValueError(impl)
    x = T.tensor([X0], dtype=T.float64, requires_grad=True)
    y = x
    for _ in range(n):
        y = y + 1.0

    def run():
        y.backward(retain_graph=True)

    def result():
        x.grad = None
        run()
        return y, x.grad

    return run, result


@pytest.mark.parametrize("n", SIZES)
def bench_sweep_crosscheck(n):
    assert "tapegrad" in crosscheck_all(make, IMPLS, n=n)


@pytest.mark.parametrize("n", SIZES, ids=lambda n: f"n={n}")
@pytest.mark.parametrize("impl", IMPLS)
def bench_sweep(benchmark, impl, n):
    reference = (np.array([X0 + n]), np.array([1.0]))
    time_case(benchmark, f"sweep n={n}", impl, make, reference, n=n)
