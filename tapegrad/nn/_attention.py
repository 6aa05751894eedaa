"""Attention as functions: scaled_dot_product_attention and multi_head_attention_forward.

Both are built from recorded ops (matmul, mul, add, softmax, where, dropout, reshape /
transpose), so autograd needs nothing new. Masks are constants made in NumPy: a bool mask
becomes an additive float mask (0 where attention is allowed, -inf elsewhere) and is added
to the scores in one record; a float mask that requires grad is added as a tensor.
"""

import math

import numpy as np

from .. import dtypes as _dtypes
from ..activations import softmax as _softmax
from ..recorder import check_tensor as _check_tensor
from ..selection import where as _where
from ..tensor import Tensor
from ..tensor import _from_array
from ._layers_functional import dropout as _dropout


def _additive(mask, dt, op: str, true_means_masked: bool):
    """A mask as an additive float (NumPy array, or a Tensor that requires grad)."""
    if mask is None:
        return None
    if not isinstance(mask, Tensor):
        raise TypeError(f"{op}: a mask must be a Tensor, got {type(mask).__name__}")
    if mask._dtype is _dtypes.bool_:
        m = mask._value()
        blocked = m if true_means_masked else ~m
        return np.where(blocked, -np.inf, 0.0).astype(dt.np)
    if not mask._dtype.is_floating_point:
        raise RuntimeError(f"{op}: expected a bool or float mask, got torch.{mask._dtype.name}")
    if mask._dtype != dt:
        raise RuntimeError(f"{op}: expected the mask's dtype torch.{mask._dtype.name} to be "
                           f"bool or to match the query's dtype torch.{dt.name}")
    return mask if mask._rg else np.asarray(mask._value(), dt.np)


def _add_masks(a, b):
    """Sum of two additive masks (None, NumPy arrays or Tensors)."""
    if a is None or b is None:
        return a if b is None else b
    if isinstance(a, Tensor) or isinstance(b, Tensor):
        return (a if isinstance(a, Tensor) else _from_array(a, b._dtype, False)) + b
    return a + b


def _attend(q: Tensor, k: Tensor, v: Tensor, mask, dropout_p: float, scale: float,
            safe: bool):
    """softmax(q @ k^T * scale + mask) (dropout) @ v; (output, weights). `safe`: a row
    whose mask blocks every key gives zero weights (else NaN, as a plain softmax)."""
    dead = None
    if safe and mask is not None and not isinstance(mask, Tensor):
        dead = np.isneginf(mask).all(axis=-1, keepdims=True)
        if dead.any():  # keep those rows finite (0 mask), then zero their weights
            mask = np.where(dead, mask.dtype.type(0), mask)
        else:
            dead = None
    s = (q * scale) @ k.transpose(-2, -1)
    if mask is not None:
        s = s + (mask if isinstance(mask, Tensor) else _from_array(mask, q._dtype, False))
    w = _softmax(s, -1)
    if dead is not None:
        w = _where(_from_array(dead, _dtypes.bool_, False), 0.0, w)
    if dropout_p > 0.0:
        w = _dropout(w, dropout_p, True)
    return w @ v, w


def scaled_dot_product_attention(query: Tensor, key: Tensor, value: Tensor,
                                 attn_mask: Tensor | None = None, dropout_p: float = 0.0,
                                 is_causal: bool = False, scale: float | None = None,
                                 enable_gqa: bool = False) -> Tensor:
    """softmax(query @ key^T * scale + mask) @ value over the last two dims, as
    torch.nn.functional.scaled_dot_product_attention: query (..., L, E), key (..., S, E),
    value (..., S, Ev). attn_mask: bool (True = may attend) or float (added), broadcast to
    (..., L, S); is_causal masks keys after each query; scale defaults to 1/sqrt(E);
    dropout_p > 0 drops attention weights with the global generator. A query row that may
    attend to no key gives zeros. enable_gqa repeats key/value heads (dim -3)."""
    op = "scaled_dot_product_attention"
    for name, t in (("query", query), ("key", key), ("value", value)):
        _check_tensor(t, op)
        if t.ndim < 2:
            raise RuntimeError(f"{op}: expected {name} to have at least 2 dimensions, got "
                               f"size {list(t._shape)}")
    dt = query._dtype
    if not dt.is_floating_point or key._dtype != dt or value._dtype != dt:
        raise RuntimeError(f"Expected query, key, and value to have the same floating-point "
                           f"dtype, but got query.dtype: torch.{dt.name} key.dtype: "
                           f"torch.{key._dtype.name} and value.dtype: torch.{value._dtype.name}"
                           f" instead.")
    L, E = query._shape[-2:]
    S = key._shape[-2]
    if key._shape[-1] != E or value._shape[-2] != S:
        raise RuntimeError(f"{op}: shapes do not fit: query {list(query._shape)}, key "
                           f"{list(key._shape)}, value {list(value._shape)} (need query "
                           f"(..., L, E), key (..., S, E), value (..., S, Ev))")
    if not 0.0 <= dropout_p <= 1.0:
        raise ValueError(f"{op}: dropout_p must be in [0, 1], got {dropout_p}")
    if enable_gqa and query.ndim >= 3 and key._shape[-3] != query._shape[-3]:
        hq, hk = query._shape[-3], key._shape[-3]
        if hq % hk or value._shape[-3] != hk:
            raise RuntimeError(f"{op}: enable_gqa needs the query heads ({hq}) to be a "
                               f"multiple of the key/value heads ({hk})")
        key = key.repeat_interleave(hq // hk, dim=-3)
        value = value.repeat_interleave(hq // hk, dim=-3)
    mask = _additive(attn_mask, dt, op, true_means_masked=False)
    if is_causal:
        if attn_mask is not None:
            raise RuntimeError("_scaled_dot_product_attention: Explicit attn_mask should not "
                               "be set when is_causal=True")
        mask = np.where(np.tril(np.ones((L, S), bool)), 0.0, -np.inf).astype(dt.np)
    sc = 1.0 / math.sqrt(E) if scale is None else float(scale)
    return _attend(query, key, value, mask, float(dropout_p), sc, True)[0]


def _heads(x: Tensor, N: int, T: int, H: int) -> Tensor:
    """(N, T, H*d) -> (N, H, T, d)."""
    return x.reshape(N, T, H, x._shape[-1] // H).transpose(1, 2)


def _mha_mask(attn_mask, key_padding_mask, N: int, H: int, L: int, S: int, dt, op: str):
    """attn_mask (L, S) or (N*H, L, S) and key_padding_mask (N, S) as one additive mask
    broadcastable to (N, H, L, S) (bool: True = may not attend)."""
    am = _additive(attn_mask, dt, op, true_means_masked=True)
    if am is not None:
        sh = tuple(attn_mask._shape)
        if sh == (L, S):
            pass
        elif sh == (N * H, L, S):
            am = am.reshape(N, H, L, S)
        else:
            raise RuntimeError(f"The shape of the 2D attn_mask is {list(sh)}, but should be "
                               f"{[L, S]}" if len(sh) == 2 else
                               f"The shape of the 3D attn_mask is {list(sh)}, but should be "
                               f"{[N * H, L, S]}.")
    kp = _additive(key_padding_mask, dt, op, true_means_masked=True)
    if kp is not None:
        if tuple(key_padding_mask._shape) != (N, S):
            raise RuntimeError(f"expected key_padding_mask of shape {[N, S]}, got "
                               f"{list(key_padding_mask._shape)}")
        kp = kp.reshape(N, 1, 1, S)
    return _add_masks(am, kp)
