"""Adagrad (with lr_decay and an initial accumulator value)."""

from typing import Any, Dict, Optional

import numpy as np

from . import _kernels as K
from .optimizer import FlatOptimizer, _check, _check_lr, _no_differentiable, _num


class Adagrad(FlatOptimizer):
    """Adagrad, PyTorch's update rule: s += g^2; p -= clr * g / (sqrt(s) + eps) with
    clr = lr / (1 + (t - 1) lr_decay). Its state starts at construction (step 0, sum
    filled with initial_accumulator_value), as PyTorch's does."""

    _kernel = staticmethod(K.adagrad_step)
    _hp_names = ("lr", "lr_decay", "weight_decay", "eps", "maximize")

    def __init__(self, params: Any, lr: float = 1e-2, lr_decay: float = 0,
                 weight_decay: float = 0, initial_accumulator_value: float = 0,
                 eps: float = 1e-10, foreach: Optional[bool] = None, *,
                 maximize: bool = False, differentiable: bool = False,
                 fused: Optional[bool] = None) -> None:
        _check_lr(lr)
        _check(lr_decay, "lr_decay")
        _check(weight_decay, "weight_decay")
        _check(initial_accumulator_value, "initial_accumulator_value")
        if not 0.0 <= eps:
            raise ValueError(f"Invalid epsilon value: {eps}")
        _no_differentiable("Adagrad", differentiable)
        if fused and foreach:
            raise RuntimeError("`fused` and `foreach` cannot be `True` together.")
        defaults = dict(lr=lr, lr_decay=lr_decay, eps=eps, weight_decay=weight_decay,
                        initial_accumulator_value=initial_accumulator_value, foreach=foreach,
                        maximize=maximize, differentiable=differentiable, fused=fused)
        super().__init__(params, defaults)

    def _state_keys(self, group: Dict[str, Any]) -> tuple:
        return ("sum", None, None), (group["initial_accumulator_value"], 0.0, 0.0), True

    def _group_added(self, group: Dict[str, Any]) -> None:
        for f in self._flats(group):
            for k in range(len(f.params)):
                f.start(self._state, k)
            f.read_state(self._state)

    def _scalars(self, group: Dict[str, Any], dt: Any) -> tuple:
        wd = group["weight_decay"]
        sc = np.array([wd, group["eps"], 0, -1 if group["maximize"] else 1], dt.np)
        hp = np.array([_num(group["lr"]), group["lr_decay"]])
        flags = K.F_DECAY if wd != 0 else 0
        return sc, hp, flags
