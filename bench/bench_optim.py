"""optim: one optimizer step over 100 parameters of 1,000 float32 elements.

Groups `optim_adam` (Adam, lr 1e-3) and `optim_sgd_momentum` (SGD, lr 1e-3, momentum
0.9). The timed call is `opt.step()` alone: the gradients were computed once before, by
the same `backward()` of sum(p * g) in both libraries (so each p.grad is g, and
tapegrad's sit in its optimizer's flat gradient buffer, where backward puts them), and a
step does not clear them. tapegrad's step is one compiled kernel call over the group's
flat buffers; PyTorch's is its `foreach=True` implementation (one multi-tensor op per
line of the update rule), pinned to one thread like every peer here.

The cross-check runs ten steps from the same start in each library and compares the
parameters with a NumPy reference of the documented update rule (float64, float32
tolerances).
"""

import numpy as np
import pytest

from bench.common import crosscheck_all, size, time_case

IMPLS = ("tapegrad", "torch")
N_PARAMS, NUMEL = size((100, 1000), (10, 50))
LR, MOMENTUM, CHECK_STEPS = 1e-3, 0.9, 10
RTOL, ATOL = 1e-5, 1e-6


def data(n_params, numel):
    rng = np.random.default_rng(11)
    params = [rng.standard_normal(numel).astype(np.float32) for _ in range(n_params)]
    grads = [rng.standard_normal(numel).astype(np.float32) for _ in range(n_params)]
    return params, grads


def reference(kind, n_params, numel, steps=CHECK_STEPS):
    """The parameters after `steps` steps with constant gradients (NumPy, float64)."""
    params, grads = data(n_params, numel)
    out = []
    for p, g in zip(params, grads):
        p, g = p.astype(np.float64), g.astype(np.float64)
        m = v = buf = 0 * p
        for t in range(1, steps + 1):
            if kind == "adam":
                m = 0.9 * m + 0.1 * g
                v = 0.999 * v + 0.001 * g * g
                p = p - LR / (1 - 0.9 ** t) * m / (np.sqrt(v) / np.sqrt(1 - 0.999 ** t) + 1e-8)
            else:
                buf = g if t == 1 else MOMENTUM * buf + g
                p = p - LR * buf
        out.append(p)
    return None, tuple(out)


def _lib(impl):
    if impl == "tapegrad":
        import tapegrad as T
    elif impl == "torch":
        import torch as T
    else:
        raise ValueError(impl)
    return T


def _setup(T, impl, kind, n_params, numel):
    params, grads = data(n_params, numel)
    ps = [T.tensor(p, dtype=T.float32, requires_grad=True) for p in params]
    gs = [T.tensor(g, dtype=T.float32) for g in grads]
    extra = {"foreach": True} if impl == "torch" else {}
    if kind == "adam":
        opt = T.optim.Adam(ps, lr=LR, **extra)
    else:
        opt = T.optim.SGD(ps, lr=LR, momentum=MOMENTUM, **extra)
    opt.zero_grad()
    sum((p * g).sum() for p, g in zip(ps, gs)).backward()
    return ps, opt


def make(impl, kind, n_params, numel):
    T = _lib(impl)
    _, opt = _setup(T, impl, kind, n_params, numel)

    def run():
        opt.step()

    def result():
        ps, fresh = _setup(T, impl, kind, n_params, numel)
        for _ in range(CHECK_STEPS):
            fresh.step()
        return None, tuple(p.detach().numpy() for p in ps)

    return run, result


KINDS = ("adam", "sgd_momentum")


@pytest.mark.parametrize("kind", KINDS)
def bench_optim_crosscheck(kind):
    assert "tapegrad" in crosscheck_all(make, IMPLS, rtol=RTOL, atol=ATOL, kind=kind,
                                        n_params=N_PARAMS, numel=NUMEL)


@pytest.mark.parametrize("impl", IMPLS)
@pytest.mark.parametrize("kind", KINDS)
def bench_optim(benchmark, kind, impl):
    time_case(benchmark, f"optim_{kind} n={N_PARAMS}x{NUMEL}", impl, make,
              reference(kind, N_PARAMS, NUMEL), rtol=RTOL, atol=ATOL, kind=kind,
              n_params=N_PARAMS, numel=NUMEL)
