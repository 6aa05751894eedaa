"""Adadelta, and its compiled step (the conventions of `_kernels`: one call a group and
dtype over the flat buffers)."""

from typing import Any, Dict, Optional

import numpy as np
from numba import njit

from ._kernels import _JIT, F_DECAY, _count_steps, _fma, _grad, _run_end
from .optimizer import FlatOptimizer, _check, _check_lr, _no_differentiable, _num

_NO_HP = np.zeros(1)
_ZERO3 = (0.0, 0.0, 0.0)


@njit(**_JIT)
def _adadelta(p, g, a, b, sc, decay):
    rho, omr, eps, wd, nlr, sign = sc[0], sc[1], sc[2], sc[3], sc[4], sc[5]
    for i in range(p.shape[0]):
        gi = _grad(g[i], p[i], sign, wd, decay)
        sa = _fma(omr * gi, gi, a[i] * rho)
        a[i] = sa
        d = np.sqrt(b[i] + eps) / np.sqrt(sa + eps) * gi
        b[i] = _fma(omr * d, d, b[i] * rho)
        p[i] = _fma(d, nlr, p[i])


@njit(**_JIT)
def adadelta_step(p: np.ndarray, g: np.ndarray, a: np.ndarray, b: np.ndarray, c: np.ndarray,
                  off: np.ndarray, mode: np.ndarray, steps: np.ndarray, sc: np.ndarray,
                  hp: np.ndarray, flags: int) -> None:
    """Adadelta's step kernel: a = square_avg, b = acc_delta; sc = [rho, 1 - rho, eps,
    weight_decay, -lr, 1 or -1 (maximize)] in the parameters' dtype."""
    decay = flags & F_DECAY != 0
    _count_steps(mode, steps)
    k = 0
    while k < mode.shape[0]:
        j = _run_end(mode, mode, k)  # the step count does not enter the update
        if mode[k] != 0:
            o, e = off[k], off[j]
            _adadelta(p[o:e], g[o:e], a[o:e], b[o:e], sc, decay)
        k = j


class Adadelta(FlatOptimizer):
    """Adadelta, PyTorch's update rule: with g the gradient (negated under maximize) plus
    weight_decay * p, v = rho v + (1 - rho) g^2, d = sqrt(u + eps) / sqrt(v + eps) * g,
    u = rho u + (1 - rho) d^2, p -= lr d (v is "square_avg", u "acc_delta")."""

    _kernel = staticmethod(adadelta_step)
    _hp_names = ("lr", "rho", "eps", "weight_decay", "maximize")

    def __init__(self, params: Any, lr: float = 1.0, rho: float = 0.9, eps: float = 1e-6,
                 weight_decay: float = 0, foreach: Optional[bool] = None, *,
                 capturable: bool = False, maximize: bool = False,
                 differentiable: bool = False) -> None:
        _check_lr(lr)
        if not 0.0 <= rho <= 1.0:
            raise ValueError(f"Invalid rho value: {rho}")
        if not 0.0 <= eps:
            raise ValueError(f"Invalid epsilon value: {eps}")
        _check(weight_decay, "weight_decay")
        _no_differentiable("Adadelta", differentiable)
        defaults = dict(lr=lr, rho=rho, eps=eps, weight_decay=weight_decay, maximize=maximize,
                        capturable=capturable, foreach=foreach, differentiable=differentiable)
        super().__init__(params, defaults)

    def _state_keys(self, group: Dict[str, Any]) -> tuple:
        return ("square_avg", "acc_delta", None), _ZERO3, True

    def _scalars(self, group: Dict[str, Any], dt: Any) -> tuple:
        rho, wd = group["rho"], group["weight_decay"]
        sign = -1 if group["maximize"] else 1
        sc = np.array([rho, 1 - rho, group["eps"], wd, -_num(group["lr"]), sign], dt.np)
        return sc, _NO_HP, (F_DECAY if wd != 0 else 0)
