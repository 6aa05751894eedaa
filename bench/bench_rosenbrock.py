"""rosenbrock: f(x) = sum(100*(x[1:] - x[:-1]**2)**2 + (1 - x[:-1])**2), float64, vectorized.

Value and gradient per call, n = 1,000 and n = 100,000.

tapegrad has no slicing yet, so the two tape-based eager libraries (tapegrad and
PyTorch) run the *same* program on two leaves built outside the timed region,
`a = x[:-1]` and `b = x[1:]` (copies, each requiring grad):

    f = (100 * (b - a**2)**2 + (1 - a)**2).sum();  f.backward()

and return f, a.grad, b.grad; the gradient with respect to x is
`grad_a` (padded) + `grad_b` (shifted), assembled outside the timed region (an O(n)
NumPy add, the same for both). Op for op the two record the same graph, so their
ratio compares the engines. The functional peers (JAX, HIPS autograd, CasADi, Numba)
take x itself and slice inside, their natural form (slicing is fused or free there).
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
        a = T.tensor(x[:-1].copy(), dtype=T.float64, requires_grad=True)
        b = T.tensor(x[1:].copy(), dtype=T.float64, requires_grad=True)

        def run():
            a.grad = None
            b.grad = None
            f = (100 * (b - a**2) ** 2 + (1 - a) ** 2).sum()
            f.backward()
            return f, a.grad, b.grad

        def result():
            f, ga, gb = run()
            g = np.zeros(n)
            g[:-1] += ga.numpy()
            g[1:] += gb.numpy()
            return f, g

        return run, result

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
