"""Training steps with nn and optim, float32, tapegrad against PyTorch (one thread).

Group `train_logistic`: 200 points, nn.Linear(2, 1) + nn.Sigmoid, nn.BCELoss, SGD with
momentum 0.9: one step = forward, zero_grad, backward, opt.step(). Its `replay` and `jax`
rows are the same step written against a compiled gradient (tapegrad.func, JAX jit) with
the SGD update in NumPy.
Group `train_mlp`: batch 256, 784-256-256-10 with ReLU, nn.CrossEntropyLoss, Adam.

Both start from the same weights (drawn here in NumPy and copied into each library). The
cross-check compares the loss and the gradients of the first step with a NumPy
backpropagation written out below (float64 reference, float32 tolerances).
"""

import numpy as np
import pytest

from bench.common import crosscheck_all, size, time_case

IMPLS = ("tapegrad", "torch")
N_LOGISTIC = 200
BATCH = size(256, 32)
SIZES = size((784, 256, 256, 10), (20, 16, 16, 10))


# ---- data and the NumPy reference ---------------------------------------------------------
def logistic_data():
    rng = np.random.default_rng(7)
    n = N_LOGISTIC // 2
    x = np.concatenate([rng.normal(2.5, 1, (n, 2)), rng.normal(-2.5, 1, (n, 2))])
    y = np.concatenate([np.ones(n), np.zeros(n)])
    w = rng.uniform(-0.7, 0.7, (1, 2))
    b = rng.uniform(-0.7, 0.7, 1)
    return [a.astype(np.float32) for a in (x, y, w, b)]


def logistic_reference():
    x, y, w, b = (a.astype(np.float64) for a in logistic_data())
    p = 1 / (1 + np.exp(-(x @ w.T + b)))[:, 0]
    loss = -np.mean(y * np.log(p) + (1 - y) * np.log(1 - p))
    dz = (p - y) / len(y)
    return loss, (dz[None, :] @ x, dz.sum(keepdims=True))


def mlp_data():
    rng = np.random.default_rng(8)
    x = rng.normal(0, 1, (BATCH, SIZES[0]))
    t = rng.integers(0, SIZES[-1], BATCH)
    params = []
    for fan_in, fan_out in zip(SIZES[:-1], SIZES[1:]):
        bound = 1 / np.sqrt(fan_in)
        params += [rng.uniform(-bound, bound, (fan_out, fan_in)), rng.uniform(-bound, bound,
                                                                             fan_out)]
    return x.astype(np.float32), t, [p.astype(np.float32) for p in params]


def mlp_reference():
    x, t, params = mlp_data()
    x = x.astype(np.float64)
    ws = [p.astype(np.float64) for p in params]
    hs = [x]
    for i in range(0, len(ws), 2):
        z = hs[-1] @ ws[i].T + ws[i + 1]
        hs.append(np.maximum(z, 0) if i + 2 < len(ws) else z)
    z = hs[-1]
    m = z.max(1, keepdims=True)
    logp = z - m - np.log(np.exp(z - m).sum(1, keepdims=True))
    loss = -logp[np.arange(len(t)), t].mean()
    g = np.exp(logp)
    g[np.arange(len(t)), t] -= 1
    g /= len(t)
    grads = [None] * len(ws)
    for i in range(len(ws) - 2, -1, -2):
        grads[i], grads[i + 1] = g.T @ hs[i // 2], g.sum(0)
        g = (g @ ws[i]) * (hs[i // 2] > 0)
    return loss, tuple(grads)


# ---- the implementations ---------------------------------------------------------------
def _lib(impl):
    if impl == "tapegrad":
        import tapegrad as T
    else:
        import torch as T
        T.set_num_threads(1)
    return T


def _load(T, module, arrays):
    with T.no_grad():
        for p, a in zip(module.parameters(), arrays):
            p.copy_(T.tensor(a))


def make_logistic(impl):
    if impl in ("replay", "jax"):
        return _logistic_compiled(impl)
    T = _lib(impl)
    nn = T.nn
    x, y, w, b = logistic_data()
    xt, yt = T.tensor(x), T.tensor(y)
    net = nn.Sequential(nn.Linear(2, 1), nn.Sigmoid())
    loss_fn = nn.BCELoss()
    opt = T.optim.SGD(net.parameters(), lr=0.05, momentum=0.9)

    def run():
        loss = loss_fn(net(xt).squeeze(), yt)
        opt.zero_grad()
        loss.backward()
        opt.step()
        return loss

    def result():
        _load(T, net, (w, b))
        loss = loss_fn(net(xt).squeeze(), yt)
        opt.zero_grad()
        loss.backward()
        return loss.item(), tuple(p.grad for p in net.parameters())

    return run, result


def _logistic_compiled(impl):
    """The logistic step as an optimizer loop written against a compiled gradient: the
    value and gradient of the BCE loss in (w, b) from tapegrad.func (recorded once,
    replayed) or JAX's jit, then SGD with momentum 0.9 in NumPy (PyTorch's update rule)."""
    x, y, w0, b0 = logistic_data()
    if impl == "replay":
        import tapegrad as T

        X, Y = T.tensor(x), T.tensor(y)

        def loss_of(w, b):
            return T.nn.functional.binary_cross_entropy(T.sigmoid(X @ w.t() + b).squeeze(), Y)

        fg = T.func.value_and_grad(loss_of, argnums=(0, 1))
    else:
        from bench.common import load

        jax = load("jax")
        jnp = jax.numpy

        def loss_of(w, b):
            p = jax.nn.sigmoid(x @ w.T + b)[:, 0]
            return -jnp.mean(y * jnp.log(p) + (1 - y) * jnp.log(1 - p))

        g = jax.jit(jax.value_and_grad(loss_of, argnums=(0, 1)))

        def fg(w, b):
            v, (gw, gb) = g(w, b)
            return float(v), (np.asarray(gw), np.asarray(gb))

    params, velocity = [w0.copy(), b0.copy()], [np.zeros_like(w0), np.zeros_like(b0)]
    fg(*params)  # records (tapegrad) or compiles (JAX) outside the timed region

    def run():
        loss, grads = fg(*params)
        for p, v, gr in zip(params, velocity, grads):
            v *= 0.9
            v += gr
            p -= np.float32(0.05) * v
        return loss

    def result():
        return fg(w0, b0)

    return run, result


def make_mlp(impl):
    T = _lib(impl)
    nn = T.nn
    x, t, params = mlp_data()
    xt, tt = T.tensor(x), T.tensor(t)
    layers = []
    for fan_in, fan_out in zip(SIZES[:-1], SIZES[1:]):
        layers += [nn.Linear(fan_in, fan_out), nn.ReLU()]
    net = nn.Sequential(*layers[:-1])
    loss_fn = nn.CrossEntropyLoss()
    opt = T.optim.Adam(net.parameters(), lr=1e-3)

    def run():
        loss = loss_fn(net(xt), tt)
        opt.zero_grad()
        loss.backward()
        opt.step()
        return loss

    def result():
        _load(T, net, params)
        loss = loss_fn(net(xt), tt)
        opt.zero_grad()
        loss.backward()
        return loss.item(), tuple(p.grad for p in net.parameters())

    return run, result


def bench_training_crosscheck():
    assert "tapegrad" in crosscheck_all(lambda impl: make_logistic(impl), IMPLS, rtol=1e-4,
                                        atol=1e-5)
    assert "tapegrad" in crosscheck_all(lambda impl: make_mlp(impl), IMPLS, rtol=1e-3,
                                        atol=1e-5)


LOGISTIC_IMPLS = ("tapegrad", "replay", "torch", "jax")


@pytest.mark.parametrize("impl", LOGISTIC_IMPLS)
def bench_train_logistic(benchmark, impl):
    time_case(benchmark, "train_logistic", impl, lambda impl: make_logistic(impl),
              logistic_reference(), rtol=1e-4, atol=1e-5, info={"points": N_LOGISTIC})


@pytest.mark.parametrize("impl", IMPLS)
def bench_train_mlp(benchmark, impl):
    time_case(benchmark, "train_mlp", impl, lambda impl: make_mlp(impl), mlp_reference(),
              rtol=1e-3, atol=1e-5, info={"batch": BATCH, "sizes": list(SIZES)})
