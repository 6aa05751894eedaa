"""rosenbrock: f(x) = sum(100*(x[1:] - x[:-1]**2)**2 + (1 - x[:-1])**2), float64, vectorized.

Value and gradient per call, n = 1,000 and n = 100,000.

Every implementation takes x itself: no slice is prepared outside the timed region. The
tape-based eager libraries (tapegrad and PyTorch) hold one leaf x that requires grad and
run, slicing inside the timed call as a user writes it,

    x.grad = None
    f = (100 * (x[1:] - x[:-1]**2)**2 + (1 - x[:-1])**2).sum();  f.backward()

returning f and x.grad: each call records the three slices (two of them `x[:-1]`, as
written) and their backward scatters the slices' gradients into x's. Op for op the two
record the same graph, so their ratio compares the engines, slicing included. The
functional peers (JAX, HIPS autograd, CasADi) slice inside their function, their natural
form (slicing is fused or free there); Numba's hand-written loop reads x[i], x[i + 1].
"""

import numpy as np
import pytest

from bench.common import IMPLS, central_differences, crosscheck_all, size, time_case

SIZES = (size(1_000, 10), size(100_000, 100))


def data(n):
    return np.random.default_rng(n).uniform(-1.5, 1.5, n)


def f_numpy(x):
    a, b = x[:-1], x[1:]
    return np.sum(100.0 * (b - a * a) ** 2 + (1.0 - a) ** 2)


def grad_numpy(x):
    a, b = x[:-1], x[1:]
    u = b - a * a
    g = np.zeros_like(x)
    g[:-1] += -400.0 * a * u - 2.0 * (1.0 - a)
    g[1:] += 200.0 * u
    return g


def reference(n):
    x = data(n)
    return np.array([f_numpy(x)]), grad_numpy(x)


def make(impl, n):
    x = data(n)
    if impl in ("tapegrad", "torch"):
        if impl == "tapegrad":
            import tapegrad as T
        else:
            import torch as T
        xt = T.tensor(x, dtype=T.float64, requires_grad=True)

        def run():
            xt.grad = None
            f = (100 * (xt[1:] - xt[:-1] ** 2) ** 2 + (1 - xt[:-1]) ** 2).sum()
            f.backward()
            return f, xt.grad

        return run, run

    if impl == "replay":
        import tapegrad as T

        fg = T.func.value_and_grad(
            lambda x: (100 * (x[1:] - x[:-1] ** 2) ** 2 + (1 - x[:-1]) ** 2).sum())
        fg(x)  # records; the timed calls replay
        return (lambda: fg(x)), (lambda: fg(x))

    if impl == "jax":
        import jax
        import jax.numpy as jnp

        def f(x):
            a, b = x[:-1], x[1:]
            return jnp.sum(100.0 * (b - a**2) ** 2 + (1.0 - a) ** 2)

        vg = jax.jit(jax.value_and_grad(f))
        xj = jnp.asarray(x)

        def run():
            return jax.block_until_ready(vg(xj))

        return run, run

    if impl == "autograd":
        import autograd
        import autograd.numpy as anp

        def f(x):
            a, b = x[:-1], x[1:]
            return anp.sum(100.0 * (b - a**2) ** 2 + (1.0 - a) ** 2)

        vg = autograd.value_and_grad(f)
        return (lambda: vg(x)), (lambda: vg(x))

    if impl == "casadi":
        import casadi as ca

        xs = ca.MX.sym("x", n)
        a, b = xs[0:n - 1], xs[1:n]
        f = ca.sum1(100.0 * (b - a**2) ** 2 + (1.0 - a) ** 2)
        F = ca.Function("rosenbrock", [xs], [f, ca.gradient(f, xs)])
        xd = ca.DM(x)
        return (lambda: F(xd)), (lambda: F(xd))

    if impl == "numba":
        from numba import njit

        @njit(cache=True)
        def value_and_grad(x):
            n = x.shape[0]
            g = np.zeros(n)
            f = 0.0
            for i in range(n - 1):
                a, b = x[i], x[i + 1]
                u = b - a * a
                f += 100.0 * u * u + (1.0 - a) * (1.0 - a)
                g[i] += -400.0 * a * u - 2.0 * (1.0 - a)
                g[i + 1] += 200.0 * u
            return f, g

        return (lambda: value_and_grad(x)), (lambda: value_and_grad(x))

    raise ValueError(impl)


def bench_rosenbrock_reference():
    x = data(7)
    np.testing.assert_allclose(grad_numpy(x), central_differences(f_numpy, x), rtol=1e-6)


@pytest.mark.parametrize("n", SIZES)
def bench_rosenbrock_crosscheck(n):
    assert "tapegrad" in crosscheck_all(make, n=n, rtol=1e-9)


@pytest.mark.parametrize("n", SIZES, ids=lambda n: f"n={n}")
@pytest.mark.parametrize("impl", IMPLS)
def bench_rosenbrock(benchmark, impl, n):
    time_case(benchmark, f"rosenbrock n={n}", impl, make, reference(n), rtol=1e-9, n=n)
