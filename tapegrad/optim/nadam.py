"""NAdam (Adam with Nesterov momentum), and its compiled step (the conventions of
`_kernels`: one call a group and dtype over the flat buffers).

Besides Adam's buffers NAdam keeps one number a parameter, "mu_product" (a 0-dim tensor
in the dtype of "step"); `_MuFlat` is the flat layout that also keeps those: the kernel
updates a float64 copy of them (its buffer c, one entry a parameter) that the state
tensors' array receives after each step, as Flat does for the step counts."""

from typing import Any, Dict, List, Optional, Tuple

import numpy as np
from numba import njit

from ..tensor import _from_array, _Version, bump
from ._flat import Flat
from ._kernels import _JIT, F_DECAY, F_DECOUPLED, F_SMALL_W, _adam_moments, _count_steps
from .adamax import _check_betas
from .optimizer import FlatOptimizer, _check, _check_lr, _no_differentiable, _step_dtype
from .radam import _adam_like

F_STEP32 = 256  # mu_product's state tensors are float32: its products round to float32
_ZERO3 = (0.0, 0.0, 0.0)


@njit(**_JIT)
def _nadam(p, g, a, b, sc, small, decay, decoupled):
    eps, bc2, c1, c2 = sc[4], sc[7], sc[8], sc[10]
    for i in range(p.shape[0]):
        pi, gi, mi, vi = _adam_moments(p[i], g[i], a[i], b[i], sc, small, decay, decoupled)
        a[i] = mi
        b[i] = vi
        d = np.sqrt(vi / bc2) + eps
        pi = pi + c1 * gi / d
        p[i] = pi + c2 * mi / d


@njit(**_JIT)
def nadam_step(p: np.ndarray, g: np.ndarray, a: np.ndarray, b: np.ndarray, c: np.ndarray,
               off: np.ndarray, mode: np.ndarray, steps: np.ndarray, sc: np.ndarray,
               hp: np.ndarray, flags: int) -> None:
    """NAdam's step kernel: a = exp_avg, b = exp_avg_sq, c = mu_product (float64, one a
    segment); sc as `radam._adam_like` makes it, its scratch slots 7 = 1 - beta2^t and
    8, 10 = the values of the two addcdiv; hp = [lr, beta1, beta2, momentum_decay]."""
    lr, beta1, beta2, md = hp[0], hp[1], hp[2], hp[3]
    decay = flags & F_DECAY != 0
    decoupled = flags & F_DECOUPLED != 0
    small = flags & F_SMALL_W != 0
    step32 = flags & F_STEP32 != 0
    _count_steps(mode, steps)
    k = 0
    while k < mode.shape[0]:
        j = k + 1  # the run of segments that share mode, step count and mu_product
        while j < mode.shape[0] and mode[j] == mode[k] and steps[j] == steps[k] and \
                c[j] == c[k]:
            j += 1
        if mode[k] != 0:
            t = steps[k]
            mu = beta1 * (1.0 - 0.5 * 0.96 ** (t * md))
            mu_next = beta1 * (1.0 - 0.5 * 0.96 ** ((t + 1.0) * md))
            prod = np.float64(np.float32(c[k]) * np.float32(mu)) if step32 else c[k] * mu
            c[k:j] = prod
            sc[7] = 1.0 - beta2 ** t
            sc[8] = -lr * (1.0 - mu) / (1.0 - prod)
            sc[10] = (-lr * mu_next) / (1.0 - prod * mu_next)
            o, e = off[k], off[j]
            _nadam(p[o:e], g[o:e], a[o:e], b[o:e], sc, small, decay, decoupled)
        k = j


class _MuFlat(Flat):
    """A Flat that also keeps each parameter's "mu_product" (see the module's docstring):
    `mu` (float64, the kernel's), `mu_pub` (the step dtype, what the tensors view), their
    version cell `mu_vc`."""

    def _init_mu(self) -> None:
        n = len(self.params)
        self.mu = np.ones(n)
        self.mu_pub = np.ones(n, self.steps_pub.dtype)
        self.mu_vc = _Version()
        self.mu_seen = 0
        self.mu_tens: List[Any] = [None] * n
        self.bufs[2] = self.mu

    def _mu_tensor(self, k: int) -> Any:
        t = self.mu_tens[k]
        if t is None:
            t = _from_array(self.mu_pub[k:k + 1].reshape(()), self.step_dt, False)
            t._vc = self.mu_vc
            self.mu_tens[k] = t
        return t

    def _set_mu(self, k: int, value: float) -> None:
        self.mu_pub[k] = value
        self.mu[k] = self.mu_pub[k]

    def stale(self, state: Any) -> bool:
        return self.mu_vc[0] != self.mu_seen or super().stale(state)

    def read_state(self, state: Any) -> None:
        self.mu[:] = self.mu_pub
        super().read_state(state)
        for k, p in enumerate(self.params):
            st = dict.get(state, p)
            if not st:
                continue
            t = st.get("mu_product")
            ours = self.mu_tens[k]
            if t is not None and t is ours and t._arr is not None and t._arr.base is self.mu_pub:
                continue
            if t is ours:  # it got another array (`.data = ...`): a new one
                self.mu_tens[k] = None
            self._set_mu(k, 1.0 if t is None else float(t))
            dict.__setitem__(st, "mu_product", self._mu_tensor(k))
        self.mu_seen = self.mu_vc[0]

    def start(self, state: Any, k: int) -> None:
        super().start(state, k)
        st = dict.__getitem__(state, self.params[k])
        self._set_mu(k, 1.0)
        rest = [(key, dict.pop(st, key)) for key in self.keys if key and key in st]
        dict.__setitem__(st, "mu_product", self._mu_tensor(k))  # after "step", as PyTorch
        for key, value in rest:
            dict.__setitem__(st, key, value)

    def finish(self, modes: list, wrote_state: bool = True) -> None:
        super().finish(modes, wrote_state)
        if wrote_state:
            self.mu_pub[:] = self.mu
            bump(self.mu_vc)
            self.mu_seen = self.mu_vc[0]


class NAdam(FlatOptimizer):
    """NAdam, PyTorch's update rule: m and v as Adam's (weight decay added to g, or scaling
    p by 1 - lr * weight_decay under `decoupled_weight_decay`); with mu_t = beta1 (1 -
    0.96^(t momentum_decay) / 2) and P_t = mu_1 ... mu_t ("mu_product"), d = sqrt(v / (1 -
    beta2^t)) + eps, p -= lr (1 - mu_t) / (1 - P_t) g / d + lr mu_{t+1} / (1 - P_t
    mu_{t+1}) m / d.

    Differs from PyTorch: "mu_product" stays in the dtype of "step" after load_state_dict
    (PyTorch casts it to a float64 parameter's dtype, so its later products round in
    float64 there)."""

    _kernel = staticmethod(nadam_step)

    def __init__(self, params: Any, lr: float = 2e-3, betas: Tuple[float, float] = (0.9, 0.999),
                 eps: float = 1e-8, weight_decay: float = 0, momentum_decay: float = 4e-3,
                 decoupled_weight_decay: bool = False, *, foreach: Optional[bool] = None,
                 maximize: bool = False, capturable: bool = False,
                 differentiable: bool = False) -> None:
        _check_lr(lr)
        if not 0.0 <= eps:
            raise ValueError(f"Invalid epsilon value: {eps}")
        _check_betas(betas)
        _check(weight_decay, "weight_decay")
        _check(momentum_decay, "momentum_decay")
        _no_differentiable("NAdam", differentiable)
        defaults = dict(lr=lr, betas=betas, eps=eps, weight_decay=weight_decay,
                        momentum_decay=momentum_decay,
                        decoupled_weight_decay=decoupled_weight_decay, maximize=maximize,
                        foreach=foreach, capturable=capturable, differentiable=differentiable)
        super().__init__(params, defaults)

    def _flats(self, group: Dict[str, Any], rebuild: bool = False) -> List[Flat]:
        flats = super()._flats(group, rebuild)
        for f in flats:
            if not isinstance(f, _MuFlat):  # a new layout: it keeps the mu_products too
                f.__class__ = _MuFlat
                f._init_mu()
        return flats

    def _state_keys(self, group: Dict[str, Any]) -> tuple:
        return ("exp_avg", "exp_avg_sq", None), _ZERO3, True

    def _scalars(self, group: Dict[str, Any], dt: Any) -> tuple:
        sc, hp, flags = _adam_like(group, dt)
        hp = np.array([hp[0], hp[1], hp[2], group["momentum_decay"]])
        return sc, hp, flags | (F_STEP32 if _step_dtype() == np.float32 else 0)
