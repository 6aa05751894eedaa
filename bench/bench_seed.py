"""seed: y = x**2 + 3*x + 1 for a 1-element float64 x; value and gradient per call.

The per-call overhead of recording three ops and sweeping them back. The leaf x is
made once (outside the timed region) and its `.grad` reset to None in each call, as an
optimisation loop does; every call records the expression again and runs backward.

Group `seed_grad`: the same expression, with the gradient taken by
`torch.autograd.grad(y, x)` instead of `y.backward()` (returned, not accumulated into
`x.grad`, so there is nothing to reset): tapegrad and PyTorch, the libraries with that API.
"""

import numpy as np
import pytest

from bench.common import IMPLS, time_case, crosscheck_all

X0 = 2.0
REFERENCE = (np.array([X0**2 + 3 * X0 + 1]), np.array([2 * X0 + 3]))  # (11, 7)


def make(impl):
    if impl in ("tapegrad", "torch"):
        if impl == "tapegrad":
            import tapegrad as T
        else:
            import torch as T
        x = T.tensor([X0], dtype=T.float64, requires_grad=True)

        def run():
            x.grad = None
            y = x**2 + 3 * x + 1
            y.backward()
            return y, x.grad

        return run, run

    if impl == "replay":
        import tapegrad as T

        fg = T.func.value_and_grad(lambda x: (x**2 + 3 * x + 1).sum())
        x = np.array([X0])
        fg(x)  # records; the timed calls replay
        return (lambda: fg(x)), (lambda: fg(x))

    if impl == "jax":
        import jax

        f = jax.jit(jax.value_and_grad(lambda x: (x**2 + 3 * x + 1).sum()))
        x = jax.numpy.array([X0], dtype=jax.numpy.float64)

        def run():
            return jax.block_until_ready(f(x))

        return run, run

    if impl == "autograd":
        import autograd

        f = autograd.value_and_grad(lambda x: (x**2 + 3 * x + 1).sum())
        x = np.array([X0])
        return (lambda: f(x)), (lambda: f(x))

    if impl == "casadi":
        import casadi as ca

        x = ca.SX.sym("x")
        y = x**2 + 3 * x + 1
        F = ca.Function("seed", [x], [y, ca.gradient(y, x)])
        return (lambda: F(X0)), (lambda: F(X0))

    if impl == "numba":
        from numba import njit

        @njit(cache=True)
        def value_and_grad(x):
            return x[0] * x[0] + 3.0 * x[0] + 1.0, 2.0 * x[0] + 3.0

        x = np.array([X0])
        return (lambda: value_and_grad(x)), (lambda: value_and_grad(x))

    raise ValueError(impl)


GRAD_IMPLS = ("tapegrad", "torch")


def make_grad(impl):
    """`seed_grad`: `(dx,) = autograd.grad(y, x)` in place of `y.backward()`."""
    if impl == "tapegrad":
        import tapegrad as T
    elif impl == "torch":
        import torch as T
    else:
        raise ValueError(impl)
    x = T.tensor([X0], dtype=T.float64, requires_grad=True)

    def run():
        y = x**2 + 3 * x + 1
        (dx,) = T.autograd.grad(y, x)
        return y, dx

    def result():
        y, dx = run()
        assert x.grad is None, f"{impl}: autograd.grad accumulated into x.grad"
        return y, dx

    return run, result


def bench_seed_crosscheck():
    assert "tapegrad" in crosscheck_all(make)


@pytest.mark.parametrize("impl", IMPLS)
def bench_seed(benchmark, impl):
    time_case(benchmark, "seed", impl, make, REFERENCE)


def bench_seed_grad_crosscheck():
    assert "tapegrad" in crosscheck_all(make_grad, GRAD_IMPLS)


@pytest.mark.parametrize("impl", GRAD_IMPLS)
def bench_seed_grad(benchmark, impl):
    time_case(benchmark, "seed_grad", impl, make_grad, REFERENCE)
