"""Choosing elements: where, masked_fill, lerp (BINARY rows with a mask or weight), and
gathers by index: index_select, gather, x[int tensor], x[bool mask] (the INDEX family)."""

import math

import numpy as np

from . import dtypes
from .functions import (_OP, _SAVE_SELF, _binary, _check_tensor, _inplace_method, _slots,
                        broadcast_shapes)
from .movement import _contiguous_strides, _advanced
from .tape.records import S_RG
from .tape.tape import current
from .tensor import Tensor, _dim, _from_array, _on_tape


def _mask(mask, op):
    if not isinstance(mask, Tensor) or mask._dtype is not dtypes.bool_:
        raise RuntimeError(f"{op}: expected a bool tensor as the condition/mask, got "
                           f"{mask._dtype if isinstance(mask, Tensor) else type(mask).__name__}")
    return mask


def masked_fill(input, mask, value):
    """input where mask is false, value (a python number or 0-d tensor) where it is true."""
    _check_tensor(input, "masked_fill")
    _mask(mask, "masked_fill")
    if isinstance(value, Tensor):
        value = value.item()
    if broadcast_shapes(input._shape, mask._shape, "masked_fill") != input._shape:
        raise RuntimeError(f"masked_fill: the mask of shape {list(mask._shape)} must broadcast "
                           f"to the input's shape {list(input._shape)}")
    if not input._dtype.is_floating_point:
        v = np.where(mask._value(), value, input._value()).astype(input._dtype.np)
        return _from_array(v, input._dtype, False)
    return _binary("masked_fill", input, mask, float(value))


def lerp(input, end, weight):
    """input + weight * (end - input); a tensor weight is recorded as that formula."""
    if isinstance(weight, Tensor):
        return input + weight * (end - input)
    return _binary("lerp", input, end, float(weight))


def where(condition, input, other):
    """input where condition is true, other elsewhere (tensors or python numbers).

    With two tensor branches it records two exact selections and an add (grad_fn
    AddBackward0) until tapegrad has three-input records; values and gradients are
    PyTorch's."""
    _mask(condition, "where")
    scalar_types = (int, float)
    if isinstance(other, scalar_types) and isinstance(input, Tensor):
        return _binary("where_scalar_other", input, condition, float(other))
    if isinstance(input, scalar_types) and isinstance(other, Tensor):
        return _binary("where_scalar_self", other, condition, float(input))
    if isinstance(input, scalar_types):
        v = np.where(condition._value(), input, other)
        return _from_array(v.astype(dtypes.get_default_dtype().np),
                           dtypes.get_default_dtype(), False)
    if not (input._dtype.is_floating_point or other._dtype.is_floating_point):
        v = np.where(condition._value(), input._value(), other._value())
        return _from_array(v, dtypes.promote(input._dtype, other._dtype), False)
    return _binary("add", _binary("where_scalar_other", input, condition, 0.0),
                   _binary("where_scalar_self", other, condition, 0.0))


def _index_record(name, x, idx, aux, shape, numpy_fn):
    """One INDEX record reading x at integer positions `idx` (a NumPy int array)."""
    from . import dtypes

    tape = current()
    rg = x._rg and tape.grad_enabled
    if (x._tape is None and not rg) or not x._dtype.is_floating_point:
        return _from_array(np.ascontiguousarray(numpy_fn(x._value())), x._dtype, False)
    it = _from_array(np.asarray(idx, np.float64).reshape(-1), dtypes.float64, False)
    s0, s1 = _slots(tape, None, x, it)  # indices: exact integers in the float64 arena
    out = tape.record_index(_OP[name], s0, s1, tape.intern(aux, "index"), tape.shape(shape),
                            x._dtype.code, S_RG if rg else 0)
    return _on_tape(tape, out, tuple(shape), x._dtype, rg)


def _int_index(index, size, op, dim):
    """A tensor/list/array of ints as a NumPy int64 array in [0, size), checked."""
    v = index._value() if isinstance(index, Tensor) else np.asarray(index)
    if v.dtype == np.bool_ or not np.issubdtype(v.dtype, np.integer):
        if v.size or v.dtype == np.bool_:
            raise IndexError(f"{op}: tensors used as indices must be long, int or bool tensors, "
                             f"got {v.dtype}")
        v = v.astype(np.int64)
    bad = (v < -size) | (v >= size)
    if bad.any():
        raise IndexError(f"{op}: index {int(v[bad].flat[0])} is out of bounds for dimension "
                         f"{dim} with size {size}")
    return np.where(v < 0, v + size, v).astype(np.int64)


def index_select(input, dim, index):
    """The entries of `index` (a 1-D int tensor) along dim."""
    _check_tensor(input, "index_select")
    d = _dim(dim, input.ndim, "index_select") if input.ndim else 0
    if isinstance(index, Tensor) and index.ndim > 1:
        raise IndexError(f"index_select(): Index is supposed to be a vector, got shape "
                         f"{list(index._shape)}")
    sh = input._shape or (1,)
    idx = _int_index(index, sh[d], "index_select", d).reshape(-1)
    shape = input._shape[:d] + (len(idx),) + input._shape[d + 1:]
    aux = (0, math.prod(sh[:d]), sh[d], math.prod(sh[d + 1:]), len(idx))
    return _index_record("index_select", input, idx, aux, shape,
                         lambda a: np.take(a, idx, axis=d).reshape(shape))


def gather(input, dim, index):
    """out[p] = input[p with dim replaced by index[p]] (index has input's number of dims)."""
    _check_tensor(input, "gather")
    nd = input.ndim
    d = _dim(dim, nd, "gather") if nd else 0
    v = index._value() if isinstance(index, Tensor) else np.asarray(index)
    if v.ndim != nd:
        raise RuntimeError(f"gather(): Index tensor must have the same number of dimensions as "
                           f"input tensor (index {list(v.shape)}, input {list(input._shape)})")
    for i in range(nd):
        if i != d and v.shape[i] > input._shape[i]:
            raise RuntimeError(f"gather(): Size does not match at dimension {i} expected index "
                               f"{list(v.shape)} to be smaller than self {list(input._shape)} "
                               f"apart from dimension {d}")
    idx = _int_index(v, input._shape[d] if nd else 1, "gather", d)
    shape = tuple(v.shape)
    aux = (1, nd, d) + shape + tuple(_contiguous_strides(input._shape))

    def numpy_fn(a):
        sub = a[tuple(slice(0, s) if i != d else slice(None) for i, s in enumerate(shape))]
        return np.take_along_axis(sub, idx, axis=d)

    return _index_record("gather", input, idx, aux, shape, numpy_fn)


def getitem_advanced(x, index):
    """x[..., idx, ...] with one integer tensor or bool mask; the other parts full slices."""
    k = [j for j, i in enumerate(index) if _advanced(i)]
    if len(k) > 1 or any(not (isinstance(i, slice) and i == slice(None))
                         for j, i in enumerate(index) if j != k[0]):
        raise NotImplementedError(f"indexing a tensor of shape {list(x._shape)} with {index}: "
                                  "one integer tensor or bool mask among full slices is "
                                  "supported, other mixes are not yet")
    d, i = k[0], index[k[0]]
    v = i._value() if isinstance(i, Tensor) else np.asarray(i)
    sh = x._shape
    if v.dtype == np.bool_:
        if tuple(v.shape) != sh[d:d + v.ndim]:
            raise IndexError(f"The shape of the mask {list(v.shape)} at index {d} does not match "
                             f"the shape of the indexed tensor {list(sh)}")
        idx, n, rest = np.flatnonzero(v), math.prod(v.shape), sh[d + v.ndim:]
        shape = sh[:d] + (len(idx),) + rest
    else:
        if d >= len(sh):
            raise IndexError(f"too many indices for tensor of dimension {len(sh)}")
        idx, n, rest = _int_index(v, sh[d], "index", d), sh[d], sh[d + 1:]
        shape = sh[:d] + tuple(v.shape) + rest
    aux = (0, math.prod(sh[:d]), n, math.prod(rest), idx.size)
    flat = sh[:d] + (n,) + rest
    return _index_record("index", x, idx, aux, shape,
                         lambda a: np.take(a.reshape(flat), idx.reshape(-1), axis=d).reshape(shape))


def _bind():
    T = Tensor
    for name in ("masked_fill", "lerp", "index_select", "gather"):
        setattr(T, name, globals()[name])
    T.where = lambda self, condition, other: where(condition, self, other)
    T.masked_fill_ = _inplace_method("masked_fill_", masked_fill, "masked_fill" in _SAVE_SELF)


_bind()
