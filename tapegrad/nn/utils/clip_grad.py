"""Gradient clipping: rescale the gradients to a total norm, or clamp them elementwise.

Both work on `.grad` in place and untracked, as PyTorch's; the norms are accumulated in
float64 and returned in the gradients' dtype.
"""

import math
import warnings
from collections.abc import Iterable

import numpy as np

from ... import creation, dtypes
from ...autograd.grad_mode import no_grad
from ...tensor import Tensor, _from_array, _Version, bump

_Tensors = Tensor | Iterable[Tensor]


def _as_list(tensors) -> list:
    return [tensors] if isinstance(tensors, Tensor) else list(tensors)


def _grads(parameters) -> list:
    return [p.grad for p in _as_list(parameters) if p.grad is not None]


def _norm(v: np.ndarray, p: float) -> float:
    """The p-norm of the flattened array v (float64 accumulation)."""
    a = np.abs(v.reshape(-1).astype(np.float64, copy=False))
    if a.size == 0:
        return 0.0
    if p == math.inf:
        return float(a.max())
    if p == -math.inf:
        return float(a.min())
    if p == 0:
        return float(np.count_nonzero(a))
    if p == 1:
        return float(a.sum())
    if p == 2:
        return float(np.sqrt(np.dot(a, a)))
    return float(np.sum(a ** p) ** (1.0 / p))


def get_total_norm(tensors: _Tensors, norm_type: float = 2.0, error_if_nonfinite: bool = False,
                   foreach: bool | None = None) -> Tensor:
    """The norm of the norms of `tensors` (= the norm of all their elements as one
    vector), a 0-d tensor in their (promoted) dtype."""
    tensors = _as_list(tensors)
    if not tensors:
        return creation.tensor(0.0)
    p = float(norm_type)
    norms = np.array([_norm(t._value(), p) for t in tensors])
    dt = tensors[0]._dtype
    for t in tensors[1:]:
        dt = dtypes.promote(dt, t._dtype)
    total = _norm(norms, p)
    if error_if_nonfinite and not math.isfinite(total):
        raise RuntimeError(f"The total norm of order {p} for gradients from `parameters` is "
                           "non-finite, so it cannot be clipped. To disable this error and "
                           "scale the gradients by the non-finite norm anyway, set "
                           "`error_if_nonfinite=False`")
    return _from_array(np.array(total, dt.np), dt, False)


def _scale(g: Tensor, c) -> None:
    """g *= c in place, untracked."""
    if g._tape is None and type(g._vc) is _Version:
        np.multiply(g._arr, c, out=g._arr, casting="unsafe")
        bump(g._vc)
    else:
        with no_grad():
            g.mul_(float(c))


def clip_grads_with_norm_(parameters: _Tensors, max_norm: float, total_norm: Tensor,
                          foreach: bool | None = None) -> None:
    """Scale the gradients by min(1, max_norm / (total_norm + 1e-6))."""
    grads = _grads(parameters)
    if not grads:
        return
    npdt = total_norm._dtype.np
    # max_norm / (total + 1e-6), in the norm's dtype as PyTorch computes it
    coef = np.reciprocal(npdt.type(total_norm.item()) + npdt.type(1e-6)) * npdt.type(max_norm)
    coef = np.minimum(coef, npdt.type(1.0))
    for g in grads:
        _scale(g, coef.astype(g._dtype.np))


def clip_grad_norm_(parameters: _Tensors, max_norm: float, norm_type: float = 2.0,
                    error_if_nonfinite: bool = False, foreach: bool | None = None) -> Tensor:
    """Rescale the gradients of `parameters` (a tensor or an iterable) in place so that
    their total norm is at most max_norm; returns the total norm before clipping.
    error_if_nonfinite: a nan or inf norm raises RuntimeError."""
    parameters = _as_list(parameters)
    grads = _grads(parameters)
    if not grads:
        return creation.tensor(0.0)
    total = get_total_norm(grads, norm_type, error_if_nonfinite, foreach)
    clip_grads_with_norm_(parameters, max_norm, total, foreach)
    return total


def clip_grad_norm(parameters: _Tensors, max_norm: float, norm_type: float = 2.0,
                   error_if_nonfinite: bool = False, foreach: bool | None = None) -> Tensor:
    """Deprecated alias of clip_grad_norm_."""
    warnings.warn("`torch.nn.utils.clip_grad_norm` is now deprecated in favor of "
                  "`torch.nn.utils.clip_grad_norm_`.", FutureWarning, stacklevel=2)
    return clip_grad_norm_(parameters, max_norm, norm_type, error_if_nonfinite, foreach)


def clip_grad_value_(parameters: _Tensors, clip_value: float,
                     foreach: bool | None = None) -> None:
    """Clamp every gradient element of `parameters` into [-clip_value, clip_value], in
    place."""
    c = float(clip_value)
    for g in _grads(parameters):
        if g._tape is None and type(g._vc) is _Version:
            np.clip(g._arr, -c, c, out=g._arr)
            bump(g._vc)
        else:
            with no_grad():
                g.clamp_(min=-c, max=c)
