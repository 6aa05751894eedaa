"""scalar_ode: explicit Euler of Lotka-Volterra, 4 parameters, 1,000 steps of scalar math.

    x' = x + dt*(alpha*x - beta*x*y)     y' = y + dt*(delta*x*y - gamma*y)

from (x0, y0) = (10, 5), dt = 0.01; loss = (x_T - 1)**2 + (y_T - 1)**2; value and
gradient with respect to (alpha, beta, delta, gamma) per call. Each step is 11 scalar
ops, so a call records about 11,000 ops: the per-op overhead decides.

tapegrad and PyTorch: the four parameters are four 1-element float64 leaves (not one
vector indexed in the loop; the same for both) and the state is 1-element tensors, in a
Python loop. HIPS autograd: the same Python loop on its boxed scalars. JAX: the same step in
`lax.fori_loop` under `jit(value_and_grad)` (a Python loop would unroll 11,000 ops into
the XLA graph; the loop is the idiomatic form). CasADi: the Python loop builds an SX
expression once, and the timed call evaluates `Function([p], [loss, gradient])`. Numba:
a hand-written forward pass storing the trajectory, then its adjoint, reversed.
"""

import numpy as np
import pytest

from bench.common import IMPLS, central_differences, crosscheck_all, size, time_case

STEPS = size(1_000, 20)
P0 = np.array([1.1, 0.4, 0.1, 0.4])  # alpha, beta, delta, gamma
X0, Y0, DT = 10.0, 5.0, 0.01


def loss_python(p, steps=STEPS):
    a, b, d, g = p
    x, y = X0, Y0
    for _ in range(steps):
        xy = x * y
        x, y = x + DT * (a * x - b * xy), y + DT * (d * xy - g * y)
    return (x - 1.0) ** 2 + (y - 1.0) ** 2


def value_and_grad_python(p, steps):
    """The hand-written adjoint (compiled by Numba for the `numba` row)."""
    a, b, d, g = p[0], p[1], p[2], p[3]
    xs = np.empty(steps + 1)
    ys = np.empty(steps + 1)
    xs[0], ys[0] = X0, Y0
    for k in range(steps):
        x, y = xs[k], ys[k]
        xy = x * y
        xs[k + 1] = x + DT * (a * x - b * xy)
        ys[k + 1] = y + DT * (d * xy - g * y)
    xt, yt = xs[steps], ys[steps]
    loss = (xt - 1.0) ** 2 + (yt - 1.0) ** 2
    xb, yb = 2.0 * (xt - 1.0), 2.0 * (yt - 1.0)
    grad = np.zeros(4)
    for k in range(steps - 1, -1, -1):
        x, y = xs[k], ys[k]
        grad[0] += xb * DT * x
        grad[1] -= xb * DT * x * y
        grad[2] += yb * DT * x * y
        grad[3] -= yb * DT * y
        xb, yb = (xb * (1.0 + DT * (a - b * y)) + yb * DT * d * y,
                  -xb * DT * b * x + yb * (1.0 + DT * (d * x - g)))
    return loss, grad


def reference():
    return value_and_grad_python(P0, STEPS)


def make(impl):
    if impl in ("tapegrad", "torch"):
        if impl == "tapegrad":
            import tapegrad as T
        else:
            import torch as T
        ps = [T.tensor([v], dtype=T.float64, requires_grad=True) for v in P0]
        x0 = T.tensor([X0], dtype=T.float64)
        y0 = T.tensor([Y0], dtype=T.float64)

        def run():
            a, b, d, g = ps
            for p in ps:
                p.grad = None
            x, y = x0, y0
            for _ in range(STEPS):
                xy = x * y
                x, y = x + DT * (a * x - b * xy), y + DT * (d * xy - g * y)
            loss = (x - 1.0) ** 2 + (y - 1.0) ** 2
            loss.backward()
            return loss, [p.grad for p in ps]

        def result():
            loss, grads = run()
            return loss, np.concatenate([gr.numpy() for gr in grads])

        return run, result

    if impl == "replay":  # the same Python loop, recorded once (11,000 scalar records)
        import tapegrad as T

        def loss_of(p):
            a, b, d, g = p[0], p[1], p[2], p[3]
            x, y = X0, Y0
            for _ in range(STEPS):
                xy = x * y
                x, y = x + DT * (a * x - b * xy), y + DT * (d * xy - g * y)
            return (x - 1.0) ** 2 + (y - 1.0) ** 2

        fg = T.func.value_and_grad(loss_of)
        p0 = np.array(P0, np.float64)
        fg(p0)
        return (lambda: fg(p0)), (lambda: fg(p0))

    if impl == "jax":
        import jax
        import jax.numpy as jnp

        def loss(p):
            a, b, d, g = p[0], p[1], p[2], p[3]

            def step(_, s):
                x, y = s
                xy = x * y
                return x + DT * (a * x - b * xy), y + DT * (d * xy - g * y)

            x, y = jax.lax.fori_loop(0, STEPS, step, (jnp.float64(X0), jnp.float64(Y0)))
            return (x - 1.0) ** 2 + (y - 1.0) ** 2

        vg = jax.jit(jax.value_and_grad(loss))
        pj = jnp.asarray(P0)

        def run():
            return jax.block_until_ready(vg(pj))

        return run, run

    if impl == "autograd":
        import autograd

        def loss(p):
            a, b, d, g = p[0], p[1], p[2], p[3]
            x, y = X0, Y0
            for _ in range(STEPS):
                xy = x * y
                x, y = x + DT * (a * x - b * xy), y + DT * (d * xy - g * y)
            return (x - 1.0) ** 2 + (y - 1.0) ** 2

        vg = autograd.value_and_grad(loss)
        p = P0.copy()
        return (lambda: vg(p)), (lambda: vg(p))

    if impl == "casadi":
        import casadi as ca

        p = ca.SX.sym("p", 4)
        a, b, d, g = p[0], p[1], p[2], p[3]
        x, y = ca.SX(X0), ca.SX(Y0)
        for _ in range(STEPS):
            xy = x * y
            x, y = x + DT * (a * x - b * xy), y + DT * (d * xy - g * y)
        loss = (x - 1.0) ** 2 + (y - 1.0) ** 2
        F = ca.Function("lotka_volterra", [p], [loss, ca.gradient(loss, p)])
        pd = ca.DM(P0)
        return (lambda: F(pd)), (lambda: F(pd))

    if impl == "numba":
        from numba import njit

        vg = njit(cache=True)(value_and_grad_python)
        p = P0.copy()
        return (lambda: vg(p, STEPS)), (lambda: vg(p, STEPS))

    raise ValueError(impl)


def bench_scalar_ode_reference():
    loss, grad = value_and_grad_python(P0, 50)
    assert loss == pytest.approx(loss_python(P0, 50))
    fd = central_differences(lambda p: loss_python(p, 50), P0, eps=1e-7)
    np.testing.assert_allclose(grad, fd, rtol=1e-6)


def bench_scalar_ode_crosscheck():
    assert "tapegrad" in crosscheck_all(make, rtol=1e-9)


@pytest.mark.parametrize("impl", IMPLS)
def bench_scalar_ode(benchmark, impl):
    time_case(benchmark, "scalar_ode", impl, make, reference(), rtol=1e-9,
              info={"steps": STEPS})
