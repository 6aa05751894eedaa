"""SGD with momentum, dampening, Nesterov momentum, weight decay and maximize."""

from typing import Any, Dict, Optional

import numpy as np

from . import _kernels as K
from .optimizer import FlatOptimizer, _check, _check_lr, _no_differentiable, _num

_NO_HP = np.zeros(1)
_NONE3 = (None, None, None)


class SGD(FlatOptimizer):
    """Stochastic gradient descent, PyTorch's update rule: with g the gradient (negated
    under maximize) plus weight_decay * p, the momentum buffer b = g at the first step and
    b = momentum * b + (1 - dampening) * g after; g = g + momentum * b (nesterov) or b;
    then p -= lr * g."""

    _kernel = staticmethod(K.sgd_step)
    _writes_first = True
    _hp_names = ("lr", "momentum", "dampening", "weight_decay", "nesterov", "maximize")

    def __init__(self, params: Any, lr: float = 1e-3, momentum: float = 0,
                 dampening: float = 0, weight_decay: float = 0, nesterov: bool = False, *,
                 maximize: bool = False, foreach: Optional[bool] = None,
                 differentiable: bool = False, fused: Optional[bool] = None) -> None:
        _check_lr(lr)
        _check(momentum, "momentum")
        _check(weight_decay, "weight_decay")
        _no_differentiable("SGD", differentiable)
        if nesterov and (momentum <= 0 or dampening != 0):
            raise ValueError("Nesterov momentum requires a momentum and zero dampening")
        if fused and foreach:
            raise RuntimeError("`fused` and `foreach` cannot be `True` together.")
        defaults = dict(lr=lr, momentum=momentum, dampening=dampening,
                        weight_decay=weight_decay, nesterov=nesterov, maximize=maximize,
                        foreach=foreach, differentiable=differentiable, fused=fused)
        super().__init__(params, defaults)

    def _state_keys(self, group: Dict[str, Any]) -> tuple:
        if group["momentum"] != 0:
            return ("momentum_buffer", None, None), _NONE3, False
        return _NONE3, _NONE3, False

    def _scalars(self, group: Dict[str, Any], dt: Any) -> tuple:
        lr, mom, wd = _num(group["lr"]), group["momentum"], group["weight_decay"]
        sign = -1 if group["maximize"] else 1
        sc = np.array([wd, mom, 1 - group["dampening"], -lr, sign], dt.np)
        flags = ((K.F_DECAY if wd != 0 else 0)
                 | (K.F_MOMENTUM if mom != 0 else 0)
                 | (K.F_NESTEROV if group["nesterov"] else 0))
        return sc, _NO_HP, flags
