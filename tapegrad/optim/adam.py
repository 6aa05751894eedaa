"""Adam (optionally amsgrad) and AdamW (decoupled weight decay)."""

from typing import Any, Dict, Optional, Tuple

import numpy as np

from ..tensor import Tensor
from . import _kernels as K
from .optimizer import FlatOptimizer, _check, _check_lr, _no_differentiable, _num

_ZERO3 = (0.0, 0.0, 0.0)


class Adam(FlatOptimizer):
    """Adam, PyTorch's update rule: m = lerp(m, g, 1 - beta1), v = beta2 v + (1 - beta2) g^2,
    p -= lr / (1 - beta1^t) * m / (sqrt(v) / sqrt(1 - beta2^t) + eps), with the running max
    of v under amsgrad, g negated under maximize, and weight decay added to g (Adam) or
    scaling p by 1 - lr * weight_decay first (AdamW, `decoupled_weight_decay`)."""

    _kernel = staticmethod(K.adam_step)
    _hp_names = ("lr", "betas", "eps", "weight_decay", "amsgrad", "maximize",
                 "decoupled_weight_decay")

    def __init__(self, params: Any, lr: float = 1e-3, betas: Tuple[float, float] = (0.9, 0.999),
                 eps: float = 1e-8, weight_decay: float = 0, amsgrad: bool = False, *,
                 foreach: Optional[bool] = None, maximize: bool = False,
                 capturable: bool = False, differentiable: bool = False,
                 fused: Optional[bool] = None, decoupled_weight_decay: bool = False) -> None:
        _check_lr(lr)
        if not 0.0 <= eps:
            raise ValueError(f"Invalid epsilon value: {eps}")
        if not 0.0 <= _num(betas[0]) < 1.0:
            raise ValueError(f"Invalid beta parameter at index 0: {betas[0]}")
        if not 0.0 <= _num(betas[1]) < 1.0:
            raise ValueError(f"Invalid beta parameter at index 1: {betas[1]}")
        _check(weight_decay, "weight_decay")
        if not (all(isinstance(b, float) for b in betas) or
                all(isinstance(b, Tensor) for b in betas)):
            raise ValueError("betas must be either both floats or both Tensors")
        _no_differentiable(type(self).__name__, differentiable)
        if fused and foreach:
            raise RuntimeError("`fused` and `foreach` cannot be `True` together.")
        betas = (_num(betas[0]), _num(betas[1]))
        defaults = dict(lr=lr, betas=betas, eps=eps, weight_decay=weight_decay,
                        amsgrad=amsgrad, maximize=maximize, foreach=foreach,
                        capturable=capturable, differentiable=differentiable, fused=fused,
                        decoupled_weight_decay=decoupled_weight_decay)
        super().__init__(params, defaults)

    def _state_keys(self, group: Dict[str, Any]) -> tuple:
        third = "max_exp_avg_sq" if group["amsgrad"] else None
        return ("exp_avg", "exp_avg_sq", third), _ZERO3, True

    def _scalars(self, group: Dict[str, Any], dt: Any) -> tuple:
        T = dt.np.type
        lr, wd = _num(group["lr"]), group["weight_decay"]
        beta1, beta2 = (_num(b) for b in group["betas"])
        w = T(1 - beta1)
        sign = -1 if group["maximize"] else 1
        sc = np.array([w, w - T(1), beta2, 1 - beta2, group["eps"], wd, 1 - lr * wd, 0, 0,
                       sign], T)
        hp = np.array([lr, beta1, beta2])
        flags = ((K.F_DECAY if wd != 0 else 0)
                 | (K.F_DECOUPLED if group["decoupled_weight_decay"] else 0)
                 | (K.F_AMSGRAD if group["amsgrad"] else 0)
                 | (K.F_SMALL_W if abs(w) < 0.5 else 0))
        return sc, hp, flags


class AdamW(Adam):
    """Adam with decoupled weight decay (default 1e-2): p *= 1 - lr * weight_decay, then
    the Adam update."""

    def __init__(self, params: Any, lr: float = 1e-3, betas: Tuple[float, float] = (0.9, 0.999),
                 eps: float = 1e-8, weight_decay: float = 1e-2, amsgrad: bool = False, *,
                 maximize: bool = False, foreach: Optional[bool] = None,
                 capturable: bool = False, differentiable: bool = False,
                 fused: Optional[bool] = None) -> None:
        super().__init__(params, lr, betas, eps, weight_decay, amsgrad, foreach=foreach,
                         maximize=maximize, capturable=capturable,
                         differentiable=differentiable, fused=fused,
                         decoupled_weight_decay=True)

    def _setstate_group(self, group: Dict[str, Any]) -> None:
        super()._setstate_group(group)
        group["decoupled_weight_decay"] = True
