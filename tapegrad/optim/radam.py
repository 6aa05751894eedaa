"""RAdam (rectified Adam), and its compiled step (the conventions of `_kernels`: one call
a group and dtype over the flat buffers)."""

from typing import Any, Dict, Optional, Tuple

import numpy as np
from numba import njit

from ._kernels import (_JIT, F_DECAY, F_DECOUPLED, F_SMALL_W, _adam_moments, _count_steps,
                       _run_end)
from .adamax import _check_betas
from .optimizer import FlatOptimizer, _check, _check_lr, _no_differentiable, _num

_ZERO3 = (0.0, 0.0, 0.0)


def _adam_like(group: Dict[str, Any], dt: Any) -> Tuple[np.ndarray, np.ndarray, int]:
    """RAdam's and NAdam's kernel scalars: sc = [1 - beta1, (1 - beta1) - 1, beta2,
    1 - beta2, eps, weight_decay, 1 - lr * weight_decay, scratch, lr, sign, scratch,
    scratch, 1] in the dtype (slots 0-6 and 9 as Adam's), hp = [lr, beta1, beta2], flags."""
    T = dt.np.type
    lr, wd = _num(group["lr"]), group["weight_decay"]
    beta1, beta2 = (_num(b) for b in group["betas"])
    w = T(1 - beta1)
    sign = -1 if group["maximize"] else 1
    sc = np.array([w, w - T(1), beta2, 1 - beta2, group["eps"], wd, 1 - lr * wd, 0, lr, sign,
                   0, 0, 1], T)
    flags = ((F_DECAY if wd != 0 else 0)
             | (F_DECOUPLED if group["decoupled_weight_decay"] else 0)
             | (F_SMALL_W if abs(w) < 0.5 else 0))
    return sc, np.array([lr, beta1, beta2]), flags


@njit(**_JIT)
def _radam(p, g, a, b, sc, small, decay, decoupled, rectify):
    eps, bc1, lr, sbc2, rect, one = sc[4], sc[7], sc[8], sc[10], sc[11], sc[12]
    for i in range(p.shape[0]):
        pi, gi, mi, vi = _adam_moments(p[i], g[i], a[i], b[i], sc, small, decay, decoupled)
        a[i] = mi
        b[i] = vi
        u = mi / bc1 * lr
        if rectify:
            u = u * (one / (np.sqrt(vi) + eps) * sbc2) * rect
        p[i] = pi - u


@njit(**_JIT)
def radam_step(p: np.ndarray, g: np.ndarray, a: np.ndarray, b: np.ndarray, c: np.ndarray,
               off: np.ndarray, mode: np.ndarray, steps: np.ndarray, sc: np.ndarray,
               hp: np.ndarray, flags: int) -> None:
    """RAdam's step kernel: a = exp_avg, b = exp_avg_sq; sc as `_adam_like` makes it, its
    scratch slots 7 = 1 - beta1^t, 10 = (1 - beta2^t)^0.5, 11 = the rectification."""
    beta1, beta2 = hp[1], hp[2]
    decay = flags & F_DECAY != 0
    decoupled = flags & F_DECOUPLED != 0
    small = flags & F_SMALL_W != 0
    rho_inf = 2.0 / (1.0 - beta2) - 1.0
    _count_steps(mode, steps)
    k = 0
    while k < mode.shape[0]:
        j = _run_end(mode, steps, k)
        if mode[k] != 0:
            t = steps[k]
            bc2 = 1.0 - beta2 ** t
            rho_t = rho_inf - 2.0 * t * beta2 ** t / bc2
            rectify = rho_t > 5.0
            sc[7] = 1.0 - beta1 ** t
            if rectify:
                sc[10] = bc2 ** 0.5
                sc[11] = ((rho_t - 4.0) * (rho_t - 2.0) * rho_inf
                          / ((rho_inf - 4.0) * (rho_inf - 2.0) * rho_t)) ** 0.5
            o, e = off[k], off[j]
            _radam(p[o:e], g[o:e], a[o:e], b[o:e], sc, small, decay, decoupled, rectify)
        k = j


class RAdam(FlatOptimizer):
    """RAdam, PyTorch's update rule: m and v as Adam's (weight decay added to g, or scaling
    p by 1 - lr * weight_decay under `decoupled_weight_decay`); with rho_inf = 2 / (1 -
    beta2) - 1 and rho_t = rho_inf - 2 t beta2^t / (1 - beta2^t), the step is
    lr * m / (1 - beta1^t) times, when rho_t > 5, sqrt(1 - beta2^t) / (sqrt(v) + eps) and
    the rectification sqrt((rho_t - 4)(rho_t - 2) rho_inf / ((rho_inf - 4)(rho_inf - 2)
    rho_t)); p -= step."""

    _kernel = staticmethod(radam_step)

    def __init__(self, params: Any, lr: float = 1e-3, betas: Tuple[float, float] = (0.9, 0.999),
                 eps: float = 1e-8, weight_decay: float = 0,
                 decoupled_weight_decay: bool = False, *, foreach: Optional[bool] = None,
                 maximize: bool = False, capturable: bool = False,
                 differentiable: bool = False) -> None:
        _check_lr(lr)
        if not 0.0 <= eps:
            raise ValueError(f"Invalid epsilon value: {eps}")
        _check_betas(betas)
        _check(weight_decay, "weight_decay")
        _no_differentiable("RAdam", differentiable)
        defaults = dict(lr=lr, betas=betas, eps=eps, weight_decay=weight_decay,
                        maximize=maximize, foreach=foreach, capturable=capturable,
                        decoupled_weight_decay=decoupled_weight_decay,
                        differentiable=differentiable)
        super().__init__(params, defaults)

    def _state_keys(self, group: Dict[str, Any]) -> tuple:
        return ("exp_avg", "exp_avg_sq", None), _ZERO3, True

    def _scalars(self, group: Dict[str, Any], dt: Any) -> tuple:
        return _adam_like(group, dt)
