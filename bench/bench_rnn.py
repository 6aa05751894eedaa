"""rnn: a tanh RNN, hidden 32, input 8, 100 steps, batch 1, float64.

    h_{t+1} = tanh(W @ x_t + U @ h_t + b),  h_0 = 0,  loss = sum(h_T**2)

value and gradient with respect to W (32x8), U (32x32) and b (32) per call, with
matrix-vector products (5 recorded ops a step). The inputs x_t are data (no grad),
held as a list of 100 tensors of shape (8,) built outside the timed region (so the timed
loop does no indexing; the same list for PyTorch). JAX runs the step in `lax.scan` under
`jit(value_and_grad)`; HIPS autograd the Python loop; CasADi an MX graph built once
(Function of W, U, b). There is no hand-written Numba row for this workload.
"""

import numpy as np
import pytest

from bench.common import central_differences, crosscheck_all, size, time_case

IMPLS = ("tapegrad", "replay", "torch", "jax", "autograd", "casadi")
HIDDEN, INPUT = 32, 8
STEPS = size(100, 5)


def data(steps=STEPS):
    rng = np.random.default_rng(32)
    W = rng.normal(0, 1 / np.sqrt(INPUT), (HIDDEN, INPUT))
    U = rng.normal(0, 1 / np.sqrt(HIDDEN), (HIDDEN, HIDDEN))
    b = rng.normal(0, 0.1, HIDDEN)
    xs = rng.normal(0, 1, (steps, INPUT))
    return W, U, b, xs


def loss_numpy(W, U, b, xs):
    h = np.zeros(HIDDEN)
    for x in xs:
        h = np.tanh(W @ x + U @ h + b)
    return np.sum(h**2)


def value_and_grad_numpy(W, U, b, xs):
    """Backpropagation through time, by hand."""
    hs = [np.zeros(HIDDEN)]
    for x in xs:
        hs.append(np.tanh(W @ x + U @ hs[-1] + b))
    loss = np.sum(hs[-1] ** 2)
    gW, gU, gb = np.zeros_like(W), np.zeros_like(U), np.zeros_like(b)
    hb = 2 * hs[-1]
    for t in range(len(xs) - 1, -1, -1):
        zb = hb * (1 - hs[t + 1] ** 2)
        gW += np.outer(zb, xs[t])
        gU += np.outer(zb, hs[t])
        gb += zb
        hb = U.T @ zb
    return loss, (gW, gU, gb)


def make(impl):
    W0, U0, b0, xs0 = data()
    if impl in ("tapegrad", "torch"):
        if impl == "tapegrad":
            import tapegrad as T
        else:
            import torch as T
        W, U, b = (T.tensor(v, dtype=T.float64, requires_grad=True) for v in (W0, U0, b0))
        xs = [T.tensor(x, dtype=T.float64) for x in xs0]
        h0 = T.zeros(HIDDEN, dtype=T.float64)

        def run():
            W.grad = U.grad = b.grad = None
            h = h0
            for x in xs:
                h = T.tanh(W @ x + U @ h + b)
            loss = (h**2).sum()
            loss.backward()
            return loss, (W.grad, U.grad, b.grad)

        return run, run

    if impl == "replay":
        import tapegrad as T

        xs = [T.tensor(x, dtype=T.float64) for x in xs0]

        def loss_of(W, U, b):
            h = T.zeros(HIDDEN, dtype=T.float64)
            for x in xs:
                h = T.tanh(W @ x + U @ h + b)
            return (h**2).sum()

        fg = T.func.value_and_grad(loss_of, argnums=(0, 1, 2))
        fg(W0, U0, b0)
        return (lambda: fg(W0, U0, b0)), (lambda: fg(W0, U0, b0))

    if impl == "jax":
        import jax
        import jax.numpy as jnp

        def loss(W, U, b, xs):
            def step(h, x):
                return jnp.tanh(W @ x + U @ h + b), None

            h, _ = jax.lax.scan(step, jnp.zeros(HIDDEN), xs)
            return jnp.sum(h**2)

        vg = jax.jit(jax.value_and_grad(loss, argnums=(0, 1, 2)))
        args = tuple(jnp.asarray(v) for v in (W0, U0, b0, xs0))

        def run():
            return jax.block_until_ready(vg(*args))

        return run, run

    if impl == "autograd":
        import autograd
        import autograd.numpy as anp

        def loss(W, U, b):
            h = anp.zeros(HIDDEN)
            for x in xs0:
                h = anp.tanh(anp.dot(W, x) + anp.dot(U, h) + b)
            return anp.sum(h**2)

        vg = autograd.value_and_grad(loss, argnum=(0, 1, 2))
        return (lambda: vg(W0, U0, b0)), (lambda: vg(W0, U0, b0))

    if impl == "casadi":
        import casadi as ca

        W = ca.MX.sym("W", HIDDEN, INPUT)
        U = ca.MX.sym("U", HIDDEN, HIDDEN)
        b = ca.MX.sym("b", HIDDEN)
        h = ca.MX.zeros(HIDDEN)
        for x in xs0:
            h = ca.tanh(ca.mtimes(W, ca.DM(x)) + ca.mtimes(U, h) + b)
        loss = ca.sumsqr(h)
        F = ca.Function("rnn", [W, U, b],
                        [loss, ca.gradient(loss, W), ca.gradient(loss, U), ca.gradient(loss, b)])
        args = tuple(ca.DM(v) for v in (W0, U0, b0))

        def run():
            return F(*args)

        def result():
            out = run()
            return out[0], tuple(out[1:])

        return run, result

    raise ValueError(impl)


def reference():
    return value_and_grad_numpy(*data())


def bench_rnn_reference():
    W, U, b, xs = data(steps=4)
    _, (gW, gU, gb) = value_and_grad_numpy(W, U, b, xs)
    np.testing.assert_allclose(gW, central_differences(lambda W: loss_numpy(W, U, b, xs), W),
                               rtol=1e-5, atol=1e-8)
    np.testing.assert_allclose(gU, central_differences(lambda U: loss_numpy(W, U, b, xs), U),
                               rtol=1e-5, atol=1e-8)
    np.testing.assert_allclose(gb, central_differences(lambda b: loss_numpy(W, U, b, xs), b),
                               rtol=1e-5, atol=1e-8)


def bench_rnn_crosscheck():
    assert "tapegrad" in crosscheck_all(make, IMPLS, rtol=1e-9)


@pytest.mark.parametrize("impl", IMPLS)
def bench_rnn(benchmark, impl):
    time_case(benchmark, "rnn", impl, make, reference(), rtol=1e-9, info={"steps": STEPS})
