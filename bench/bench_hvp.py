"""hvp: Hessian-vector product of rosenbrock (see bench_rosenbrock.py), n = 1,000.

Hv for a fixed x and v per call (no value). tapegrad and PyTorch run rosenbrock's
program on one leaf x, slicing inside the timed call, and double backward:

    f = (100 * (x[1:] - x[:-1]**2)**2 + (1 - x[:-1])**2).sum()
    (g,) = grad(f, x, create_graph=True)
    (Hv,) = grad((g * v).sum(), x)

tapegrad records the first backward on the tape (create_graph=True, a Python walk over
the records calling each op's formula) and sweeps the second one compiled. JAX:
forward-over-reverse `jit(jvp(grad(f)))`; HIPS autograd: `hessian_vector_product`;
CasADi: `jtimes(gradient(f, x), x, v)` in a Function built once; Numba: the analytic
product.

A second group measures what create_graph=True costs: the gradient of rosenbrock n = 1,000
by `grad(f, x)` (plain) and by `grad(f, x, create_graph=True)` (recorded), tapegrad and
PyTorch, forward included.
"""

import numpy as np
import pytest

from bench.bench_rosenbrock import data, grad_numpy
from bench.common import IMPLS, crosscheck_all, size, time_case

N = size(1_000, 10)


def vector(n):
    return np.random.default_rng(n + 1).normal(0, 1, n)


def hvp_numpy(x, v):
    a, b = x[:-1], x[1:]
    va, vb = v[:-1], v[1:]
    haa = 1200.0 * a * a - 400.0 * b + 2.0
    hab = -400.0 * a
    hv = np.zeros_like(x)
    hv[:-1] += haa * va + hab * vb
    hv[1:] += hab * va + 200.0 * vb
    return hv


def reference(n):
    return None, hvp_numpy(data(n), vector(n))


def make(impl, n):
    x, v = data(n), vector(n)
    if impl in ("tapegrad", "torch"):
        if impl == "tapegrad":
            import tapegrad as T
        else:
            import torch as T
        xt = T.tensor(x, dtype=T.float64, requires_grad=True)
        vt = T.tensor(v, dtype=T.float64)

        def run():
            f = (100 * (xt[1:] - xt[:-1] ** 2) ** 2 + (1 - xt[:-1]) ** 2).sum()
            (g,) = T.autograd.grad(f, xt, create_graph=True)
            return T.autograd.grad((g * vt).sum(), xt)

        def result():
            (hv,) = run()
            return None, hv.detach().numpy()

        if impl == "tapegrad":
            try:
                run()
            except NotImplementedError as e:
                pytest.skip(f"tapegrad cannot do this yet: {e}")
        return run, result

    if impl == "replay":  # f and its backward recorded once (create_graph), replayed
        import tapegrad as T

        hv = T.func.hvp(lambda x: (100 * (x[1:] - x[:-1] ** 2) ** 2
                                   + (1 - x[:-1]) ** 2).sum())
        hv(x, v)
        return (lambda: hv(x, v)), (lambda: (None, hv(x, v)))

    if impl == "jax":
        import jax
        import jax.numpy as jnp

        def f(x):
            a, b = x[:-1], x[1:]
            return jnp.sum(100.0 * (b - a**2) ** 2 + (1.0 - a) ** 2)

        hvp = jax.jit(lambda x, v: jax.jvp(jax.grad(f), (x,), (v,))[1])
        xj, vj = jnp.asarray(x), jnp.asarray(v)

        def run():
            return jax.block_until_ready(hvp(xj, vj))

        return run, lambda: (None, run())

    if impl == "autograd":
        import autograd
        import autograd.numpy as anp

        def f(x):
            a, b = x[:-1], x[1:]
            return anp.sum(100.0 * (b - a**2) ** 2 + (1.0 - a) ** 2)

        hvp = autograd.hessian_vector_product(f)
        return (lambda: hvp(x, v)), (lambda: (None, hvp(x, v)))

    if impl == "casadi":
        import casadi as ca

        xs, vs = ca.MX.sym("x", n), ca.MX.sym("v", n)
        a, b = xs[0:n - 1], xs[1:n]
        f = ca.sum1(100.0 * (b - a**2) ** 2 + (1.0 - a) ** 2)
        F = ca.Function("hvp", [xs, vs], [ca.jtimes(ca.gradient(f, xs), xs, vs)])
        xd, vd = ca.DM(x), ca.DM(v)
        return (lambda: F(xd, vd)), (lambda: (None, F(xd, vd)))

    if impl == "numba":
        from numba import njit

        @njit(cache=True)
        def hvp(x, v):
            n = x.shape[0]
            hv = np.zeros(n)
            for i in range(n - 1):
                a, b = x[i], x[i + 1]
                haa = 1200.0 * a * a - 400.0 * b + 2.0
                hab = -400.0 * a
                hv[i] += haa * v[i] + hab * v[i + 1]
                hv[i + 1] += hab * v[i] + 200.0 * v[i + 1]
            return hv

        return (lambda: hvp(x, v)), (lambda: (None, hvp(x, v)))

    raise ValueError(impl)


def bench_hvp_reference():
    x, v = data(6), vector(6)
    # Hv as the central difference of the gradient along v
    eps = 1e-6
    hv_fd = (grad_numpy(x + eps * v) - grad_numpy(x - eps * v)) / (2 * eps)
    np.testing.assert_allclose(hvp_numpy(x, v), hv_fd, rtol=1e-6, atol=1e-6)


def bench_hvp_crosscheck():
    names = crosscheck_all(make, rtol=1e-9, n=N)
    assert names, "no implementation installed"


@pytest.mark.parametrize("impl", IMPLS)
def bench_hvp(benchmark, impl):
    time_case(benchmark, f"hvp n={N}", impl, make, reference(N), rtol=1e-9, n=N)


def make_grad(impl, n, create_graph):
    import tapegrad
    import torch

    T = tapegrad if impl == "tapegrad" else torch
    xt = T.tensor(data(n), dtype=T.float64, requires_grad=True)

    def run():
        f = (100 * (xt[1:] - xt[:-1] ** 2) ** 2 + (1 - xt[:-1]) ** 2).sum()
        return T.autograd.grad(f, xt, create_graph=create_graph)

    def result():
        (g,) = run()
        return None, g.detach().numpy()

    return run, result


@pytest.mark.parametrize("mode", ("plain", "create_graph"))
@pytest.mark.parametrize("impl", ("tapegrad", "torch"))
def bench_create_graph_cost(benchmark, impl, mode):
    pytest.importorskip(impl)
    time_case(benchmark, f"create_graph {'on' if mode == 'create_graph' else 'off'} "
              f"rosenbrock n={N}", impl,
              lambda impl, n: make_grad(impl, n, mode == "create_graph"),
              (None, grad_numpy(data(N))), rtol=1e-9, n=N)
