"""RMSprop (optionally centered, with momentum)."""

from typing import Any, Dict, Optional

import numpy as np

from . import _kernels as K
from .optimizer import FlatOptimizer, _check, _check_lr, _no_differentiable, _num

_NO_HP = np.zeros(1)
_ZERO3 = (0.0, 0.0, 0.0)


class RMSprop(FlatOptimizer):
    """RMSprop, PyTorch's update rule: v = alpha v + (1 - alpha) g^2; centered: a =
    lerp(a, g, 1 - alpha) and v - a^2 under the root; d = sqrt(...) + eps; with momentum
    b = momentum b + g / d, p -= lr b; else p -= lr g / d."""

    _kernel = staticmethod(K.rmsprop_step)
    _hp_names = ("lr", "alpha", "eps", "weight_decay", "momentum", "centered", "maximize")

    def __init__(self, params: Any, lr: float = 1e-2, alpha: float = 0.99, eps: float = 1e-8,
                 weight_decay: float = 0, momentum: float = 0, centered: bool = False,
                 capturable: bool = False, foreach: Optional[bool] = None,
                 maximize: bool = False, differentiable: bool = False) -> None:
        _check_lr(lr)
        if not 0.0 <= eps:
            raise ValueError(f"Invalid epsilon value: {eps}")
        _check(momentum, "momentum")
        _check(weight_decay, "weight_decay")
        _check(alpha, "alpha")
        _no_differentiable("RMSprop", differentiable)
        defaults = dict(lr=lr, momentum=momentum, alpha=alpha, eps=eps, centered=centered,
                        weight_decay=weight_decay, capturable=capturable, foreach=foreach,
                        maximize=maximize, differentiable=differentiable)
        super().__init__(params, defaults)

    def _state_keys(self, group: Dict[str, Any]) -> tuple:
        return ("square_avg", "momentum_buffer" if group["momentum"] > 0 else None,
                "grad_avg" if group["centered"] else None), _ZERO3, True

    def _scalars(self, group: Dict[str, Any], dt: Any) -> tuple:
        T = dt.np.type
        alpha, wd, mom = group["alpha"], group["weight_decay"], group["momentum"]
        w = T(1 - alpha)
        sign = -1 if group["maximize"] else 1
        sc = np.array([alpha, w, w - T(1), group["eps"], wd, mom, -_num(group["lr"]), sign], T)
        flags = ((K.F_DECAY if wd != 0 else 0)
                 | (K.F_CENTERED if group["centered"] else 0)
                 | (K.F_MOMENTUM if mom > 0 else 0) | (K.F_SMALL_W if abs(w) < 0.5 else 0))
        return sc, _NO_HP, flags
