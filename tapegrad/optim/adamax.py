"""Adamax, and its compiled step (the conventions of `_kernels`: one call a group and
dtype over the flat buffers)."""

from typing import Any, Dict, Optional, Tuple

import numpy as np
from numba import njit

from ._kernels import _JIT, F_DECAY, F_SMALL_W, _count_steps, _grad, _lerp, _run_end
from .optimizer import FlatOptimizer, _check, _check_lr, _no_differentiable, _num

_ZERO3 = (0.0, 0.0, 0.0)


def _check_betas(betas: Tuple[Any, Any]) -> None:
    """PyTorch's errors for betas outside [0, 1)."""
    for i in (0, 1):
        if not 0.0 <= _num(betas[i]) < 1.0:
            raise ValueError(f"Invalid beta parameter at index {i}: {betas[i]}")


@njit(**_JIT)
def _adamax(p, g, a, b, sc, small, decay):
    w1, w1m1, beta2, eps, wd, sign, nclr = sc[0], sc[1], sc[2], sc[3], sc[4], sc[5], sc[6]
    for i in range(p.shape[0]):
        gi = _grad(g[i], p[i], sign, wd, decay)
        m = _lerp(a[i], gi, w1, w1m1, small)
        a[i] = m
        u = b[i] * beta2
        n = np.abs(gi) + eps
        u = u if (u > n or u != u) else n  # torch.maximum: NaN wins
        b[i] = u
        p[i] = p[i] + nclr * m / u


@njit(**_JIT)
def adamax_step(p: np.ndarray, g: np.ndarray, a: np.ndarray, b: np.ndarray, c: np.ndarray,
                off: np.ndarray, mode: np.ndarray, steps: np.ndarray, sc: np.ndarray,
                hp: np.ndarray, flags: int) -> None:
    """Adamax's step kernel: a = exp_avg, b = exp_inf; sc = [1 - beta1, (1 - beta1) - 1,
    beta2, eps, weight_decay, sign, scratch (-lr / (1 - beta1^t))]; hp = [lr, beta1]."""
    lr, beta1 = hp[0], hp[1]
    decay = flags & F_DECAY != 0
    small = flags & F_SMALL_W != 0
    _count_steps(mode, steps)
    k = 0
    while k < mode.shape[0]:
        j = _run_end(mode, steps, k)
        if mode[k] != 0:
            sc[6] = -(lr / (1.0 - beta1 ** steps[k]))  # -clr, rounded to the dtype
            o, e = off[k], off[j]
            _adamax(p[o:e], g[o:e], a[o:e], b[o:e], sc, small, decay)
        k = j


class Adamax(FlatOptimizer):
    """Adamax (Adam with the infinity norm), PyTorch's update rule: with g the gradient
    (negated under maximize) plus weight_decay * p, m = lerp(m, g, 1 - beta1),
    u = max(beta2 u, |g| + eps), p -= lr / (1 - beta1^t) * m / u (m is "exp_avg", u
    "exp_inf")."""

    _kernel = staticmethod(adamax_step)
    _hp_names = ("lr", "betas", "eps", "weight_decay", "maximize")

    def __init__(self, params: Any, lr: float = 2e-3, betas: Tuple[float, float] = (0.9, 0.999),
                 eps: float = 1e-8, weight_decay: float = 0, foreach: Optional[bool] = None,
                 *, maximize: bool = False, differentiable: bool = False,
                 capturable: bool = False) -> None:
        _check_lr(lr)
        if not 0.0 <= eps:
            raise ValueError(f"Invalid epsilon value: {eps}")
        _check_betas(betas)
        _check(weight_decay, "weight_decay")
        _no_differentiable("Adamax", differentiable)
        defaults = dict(lr=lr, betas=betas, eps=eps, weight_decay=weight_decay,
                        foreach=foreach, maximize=maximize, differentiable=differentiable,
                        capturable=capturable)
        super().__init__(params, defaults)

    def _state_keys(self, group: Dict[str, Any]) -> tuple:
        return ("exp_avg", "exp_inf", None), _ZERO3, True

    def _scalars(self, group: Dict[str, Any], dt: Any) -> tuple:
        T = dt.np.type
        beta1, beta2 = (_num(b) for b in group["betas"])
        wd = group["weight_decay"]
        w = T(1 - beta1)
        sign = -1 if group["maximize"] else 1
        sc = np.array([w, w - T(1), beta2, group["eps"], wd, sign, 0], T)
        hp = np.array([_num(group["lr"]), beta1])
        flags = (F_DECAY if wd != 0 else 0) | (F_SMALL_W if abs(w) < 0.5 else 0)
        return sc, hp, flags
