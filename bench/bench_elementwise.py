"""elementwise: `a * 2.5 + a` on 100,000 float32 elements, no backward.

Two ops on a large tensor, where the per-op overhead is small and the cost is the
arithmetic and memory traffic of the forward pass (the result is returned and dropped).

- group `elementwise`: a does NOT require grad (plain array math: nothing to record).
  Peers: NumPy (`a * 2.5 + a` on a float32 ndarray, float32 result) and PyTorch eager.
- group `elementwise_rg`: a is a leaf that requires grad, so each call also records the
  two ops (no backward: the records are dropped with the result, as in `record_op`).
  Peer: PyTorch eager, the only other library that records op by op.

Both groups: a float32 array of uniform(-1, 1) values, converted once outside the timed
region; every implementation's result is checked against NumPy's (rtol 1e-6, float32)
before timing, and in `elementwise_rg` a backward of the sum checks what was recorded
(d/da sum(a * 2.5 + a) = 3.5).
"""

import numpy as np
import pytest

from bench.common import crosscheck_all, size, time_case

N = size(100_000, 100)
IMPLS = ("tapegrad", "numpy", "torch")
RG_IMPLS = ("tapegrad", "torch")
RTOL = 1e-6


def data(n):
    return np.random.default_rng(n).uniform(-1.0, 1.0, n).astype(np.float32)


def reference(n):
    a = data(n)
    return a * np.float32(2.5) + a, ()


def reference_rg(n):
    return reference(n)[0], np.full(n, 3.5)


def _module(impl):
    if impl == "tapegrad":
        import tapegrad as T
    elif impl == "torch":
        import torch as T
    else:
        raise ValueError(impl)
    return T


def make(impl, n):
    """`elementwise`: a does not require grad; (value, no gradient)."""
    a0 = data(n)
    if impl == "numpy":
        a = a0.copy()

        def run():
            return a * 2.5 + a

        def result():
            y = run()
            assert y.dtype == np.float32, y.dtype
            return y, ()

        return run, result
    T = _module(impl)
    a = T.tensor(a0, dtype=T.float32)

    def run():
        return a * 2.5 + a

    def result():
        y = run()
        assert y.dtype == T.float32 and not y.requires_grad, (y.dtype, y.requires_grad)
        return y, ()

    return run, result


def make_rg(impl, n):
    """`elementwise_rg`: a requires grad, record only; the check also runs a backward."""
    T = _module(impl)
    a = T.tensor(data(n), dtype=T.float32, requires_grad=True)

    def run():
        return a * 2.5 + a

    def result():  # what was recorded: backward of the sum
        a.grad = None
        y = run()
        assert y.dtype == T.float32 and y.requires_grad, (y.dtype, y.requires_grad)
        y.sum().backward()
        return y, a.grad

    return run, result


def bench_elementwise_crosscheck():
    assert "tapegrad" in crosscheck_all(make, IMPLS, rtol=RTOL, atol=0, n=N)


def bench_elementwise_rg_crosscheck():
    assert "tapegrad" in crosscheck_all(make_rg, RG_IMPLS, rtol=RTOL, atol=0, n=N)


@pytest.mark.parametrize("impl", IMPLS)
def bench_elementwise(benchmark, impl):
    time_case(benchmark, f"elementwise n={N}", impl, make, reference(N), rtol=RTOL, atol=0,
              n=N)


@pytest.mark.parametrize("impl", RG_IMPLS)
def bench_elementwise_rg(benchmark, impl):
    time_case(benchmark, f"elementwise_rg n={N}", impl, make_rg, reference_rg(N), rtol=RTOL,
              atol=0, n=N)
