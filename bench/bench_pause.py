"""pause: the cost of a custom autograd.Function, per application and backward.

A chain of N custom Functions `y = Scale.apply(y)` on a 1-element float64 leaf, where
Scale's forward is `x * 1.01` and its backward `g * 1.01` (both written in the library's
own ops), then `y.backward()`: value and gradient per call, forward included. In tapegrad
each application appends a PYTHON record and the compiled reverse sweep pauses there to
run the Python backward; PyTorch runs its custom-Function node. Timed for N = 1 and
N = 100; the report's per-pause cost is (median(100) - median(1)) / 99 (the fixed cost
of one backward cancels out). `pause_ops` is the same chain of plain `y * 1.01` ops, the
cost a custom Function adds to.
"""

import numpy as np
import pytest

from bench.common import crosscheck_all, size, time_case

IMPLS = ("tapegrad", "torch")
SIZES = (1, size(100, 10))
X0, K = 0.5, 1.01


def _scale(T):
    class Scale(T.autograd.Function):
        @staticmethod
        def forward(ctx, x):
            return x * K

        @staticmethod
        def backward(ctx, g):
            return g * K

    return Scale


def make(impl, n, custom=True):
    if impl == "tapegrad":
        import tapegrad as T
    elif impl == "torch":
        import torch as T
    else:
        raise ValueError(impl)
    apply = _scale(T).apply if custom else (lambda y: y * K)
    x = T.tensor([X0], dtype=T.float64, requires_grad=True)

    def run():
        x.grad = None
        y = x
        for _ in range(n):
            y = apply(y)
        y.backward()
        return y, x.grad

    return run, run


def reference(n):
    return np.array([X0 * K ** n]), np.array([K ** n])


def bench_pause_reference():
    # d/dx of x * K**n by central differences, against the closed form
    g = ((X0 + 1e-6) * K ** 5 - (X0 - 1e-6) * K ** 5) / 2e-6
    np.testing.assert_allclose(g, reference(5)[1][0], rtol=1e-8)


@pytest.mark.parametrize("n", SIZES)
def bench_pause_crosscheck(n):
    assert "tapegrad" in crosscheck_all(make, IMPLS, rtol=1e-12, n=n)


@pytest.mark.parametrize("n", SIZES, ids=lambda n: f"n={n}")
@pytest.mark.parametrize("impl", IMPLS)
def bench_pause(benchmark, impl, n):
    time_case(benchmark, f"pause n={n}", impl, make, reference(n), rtol=1e-12, n=n)


@pytest.mark.parametrize("impl", IMPLS)
def bench_pause_ops(benchmark, impl):
    n = SIZES[1]
    time_case(benchmark, f"pause_ops n={n}", impl, make, reference(n), rtol=1e-12, n=n,
              custom=False)
