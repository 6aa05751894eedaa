"""Choosing elements: where, masked_fill, lerp, clamp with tensor bounds (BINARY rows with
a mask or python weight, TERNARY rows with three tensors), gathers by index (index_select,
gather, x[any index]) and writes by index (x[index] = v, index_put): the INDEX family."""

import math
import warnings

import numpy as np

from . import dtypes
from ._hints import Number
from ._recorded_masks import _Mask
from .functions import _binary, _strides, broadcast_shapes
from .ops import BY_NAME
from .recorder import check_tensor as _check_tensor
from .recorder import needs_grad, record, views_a_leaf
from .inplace import _SAVE_SELF, _inplace, _inplace_method
from .movement import _contiguous_strides, _advanced
from .tape.records import R_FLAGS, R_IMPLICIT, S_REC
from .tape.tape import _local, current
from .tensor import Tensor, _dim, _from_array


def _warn_outside(msg):
    """warnings.warn(msg, UserWarning) attributed to the first caller outside tapegrad."""
    import os
    import sys

    root = os.path.dirname(os.path.abspath(__file__))
    f, level = sys._getframe(1), 2
    while f is not None and os.path.abspath(f.f_code.co_filename).startswith(root):
        f, level = f.f_back, level + 1
    warnings.warn(msg, UserWarning, stacklevel=level)


def _mask(mask, op):
    if not isinstance(mask, Tensor) or mask._dtype is not dtypes.bool_:
        raise RuntimeError(f"{op}: expected a bool tensor as the condition/mask, got "
                           f"{mask._dtype if isinstance(mask, Tensor) else type(mask).__name__}")
    return mask


def _condition(mask, dt):
    """where's / masked_fill's condition: a mask recorded on the tape tapegrad.func is
    recording (a comparison there, see tapegrad.compare) as a float tensor of dtype dt
    that reads the comparison's slot, so that a replay recomputes it; else mask itself."""
    if type(mask) is _Mask and mask._tape is not None and mask._tape is current() and \
            dt.is_floating_point:
        return mask._float_view(dt)
    return mask


def masked_fill(input: Tensor, mask: Tensor, value: Number | Tensor) -> Tensor:
    """input where mask is false, value (a python number or 0-d tensor) where it is true."""
    _check_tensor(input, "masked_fill")
    _mask(mask, "masked_fill")
    if isinstance(value, Tensor):
        value = value.item()
    if broadcast_shapes(input._shape, mask._shape, "masked_fill") != input._shape:
        raise RuntimeError(f"masked_fill: the mask of shape {list(mask._shape)} must broadcast "
                           f"to the input's shape {list(input._shape)}")
    if not input._dtype.is_floating_point:
        value = dtypes.checked_int(value, input._dtype, "masked_fill")
        v = np.where(mask._value(), value, input._value()).astype(input._dtype.np)
        return _from_array(v, input._dtype, False)
    return _binary("masked_fill", input, _condition(mask, input._dtype), float(value))


def lerp(input: Tensor, end: Tensor, weight: float | Tensor) -> Tensor:
    """input + weight * (end - input); LerpBackward0 for a python weight, LerpBackward1 for a
    tensor weight."""
    if isinstance(weight, Tensor):
        return _ternary("lerp_tensor", input, end, weight)
    return _binary("lerp", input, end, float(weight))


def where(condition: Tensor, input: Tensor | Number | None = None,
          other: Tensor | Number | None = None) -> Tensor | tuple[Tensor, ...]:
    """input where condition is true, other elsewhere (tensors or python numbers). A uint8
    condition is read as bool, with PyTorch's deprecation warning. where(condition) alone
    is nonzero(condition, as_tuple=True)."""
    if input is None and other is None:
        from .composite import nonzero

        return nonzero(condition, as_tuple=True)
    if input is None or other is None:
        raise TypeError("where() takes a condition alone or a condition, input and other")
    if isinstance(condition, Tensor) and condition._dtype is dtypes.uint8:
        _warn_outside("where received a uint8 condition tensor. This behavior is deprecated "
                      "and will be removed in a future version of PyTorch. Use a boolean "
                      "condition instead.")
        condition = _from_array(condition._value() != 0, dtypes.bool_, False)
    _mask(condition, "where")
    scalar_types = (int, float)
    for t, c in ((input, other), (other, input)):  # an integer tensor and a python int
        if isinstance(t, Tensor) and not t._dtype.is_floating_point and \
                isinstance(c, int) and not isinstance(c, bool):
            dt = dtypes.promote_scalar(t._dtype, c)  # (bool with an int: int64)
            c = dtypes.wrap_int(c, dt)
            v = np.where(condition._value(), *((t._value(), c) if t is input else (c, t._value())))
            return _from_array(np.asarray(v).astype(dt.np, copy=False), dt, False)
    if isinstance(other, scalar_types) and isinstance(input, Tensor):
        return _binary("where_scalar_other", input, _condition(condition, input._dtype),
                       float(other))
    if isinstance(input, scalar_types) and isinstance(other, Tensor):
        return _binary("where_scalar_self", other, _condition(condition, other._dtype),
                       float(input))
    if isinstance(input, scalar_types):
        v = np.where(condition._value(), input, other)
        return _from_array(v.astype(dtypes.get_default_dtype().np),
                           dtypes.get_default_dtype(), False)
    return _ternary("where", input, other, condition)


def clamp_tensor(input, min, max):
    """clamp with tensor bounds (one may be None): one ClampBackward0 record."""
    for b in (min, max):
        if b is not None and not isinstance(b, Tensor):
            raise TypeError(f"clamp() received an invalid combination of arguments: a tensor and "
                            f"a {type(b).__name__} bound; give both bounds as tensors or both "
                            "as numbers")
    dummy = _from_array(np.zeros((), input._dtype.np), input._dtype, False)  # the absent bound
    flags = (1.0 if max is None else 3.0) if min is not None else 2.0
    return _ternary("clamp_tensor", input, dummy if min is None else min,
                    dummy if max is None else max, flags)


def _ternary(name, a, b, m, c=0.0):
    """One TERNARY record y = f(a, b, m) (m is where's condition, lerp's weight, clamp's
    max). An input that is neither the output's shape nor one element is expanded first by
    a record flagged R_IMPLICIT (PyTorch broadcasts inside the op: no node of its own)."""
    op = name.replace("_tensor", "")  # the public name, for messages
    _check_tensor(a, op)
    for t in (b, m):
        if not isinstance(t, Tensor):
            raise TypeError(f"{op}(): expected a Tensor, got {type(t).__name__}")
    ins = (a, b) if name == "where" else (a, b, m)
    dt = _result_type(ins)
    shape = broadcast_shapes(broadcast_shapes(a._shape, b._shape, op), m._shape, op)
    if not dt.is_floating_point:
        fn = {"where": lambda x, y, w: np.where(w, x, y), "lerp_tensor": None,
              "clamp_tensor": lambda x, lo, hi: np.clip(x, None if c == 2.0 else lo,
                                                        None if c == 1.0 else hi)}[name]
        if fn is None:
            raise RuntimeError(f"lerp: expected a floating point tensor, got {a._dtype}")
        v = fn(a._value(), b._value(), m._value())
        return _from_array(np.ascontiguousarray(np.broadcast_to(v, shape)).astype(dt.np), dt,
                           False)
    if not ((a._rg or b._rg or m._rg) and _local.grad_enabled):  # NumPy, nothing recorded
        with np.errstate(all="ignore"):
            v = BY_NAME[name].np_fwd(*(np.asarray(t._value(), dt.np) for t in (a, b, m)), c)
        return _from_array(np.array(np.broadcast_to(v, shape), dt.np), dt, False)
    tape = current()
    if name == "where":
        m = _condition(m, dt)
        if m._tape is tape and m._shape != shape and m.numel() != 1:  # a recorded mask
            aux = (len(shape),) + shape + tuple(_strides(m._shape, shape)) + (0,)
            m = _implicit(record("expand", (m,), shape, dt, params=aux), tape)
    a, b, m = (_broadcast_to(t, shape, tape) for t in (a, b, m))
    return record(name, (a, b, m), shape, dt, c=c)


def _result_type(ts):
    """PyTorch's promotion of tensors, 0-d ones weighing less (tapegrad.dtypes)."""
    dt, sh = ts[0]._dtype, ts[0]._shape
    for t in ts[1:]:
        dt = dtypes.promote_tensors(dt, sh, t._dtype, t._shape)
        sh = sh if len(sh) else t._shape
    return dt


def _implicit(r, tape):
    """Flag the record that made r as part of the op that uses it (not a grad_fn node)."""
    tape.R[tape.S[r._slot, S_REC], R_FLAGS] |= R_IMPLICIT
    return r


def _broadcast_to(t, shape, tape):
    """t itself when it has `shape` or one element; else t expanded (an implicit record when
    it is recorded, a constant otherwise)."""
    if t._shape == shape or t.numel() == 1:
        return t
    if t._rg and _local.grad_enabled:
        from .movement import expand

        return _implicit(expand(t, shape), tape)
    v = np.ascontiguousarray(np.broadcast_to(t._value(), shape))
    return _from_array(v, t._dtype, False)


def _index_record(name, x, idx, aux, shape, numpy_fn):
    """One INDEX record reading x at integer positions `idx` (a NumPy int array)."""
    if not needs_grad(x) or not x._dtype.is_floating_point:  # no grad: NumPy, no record
        return _from_array(np.array(numpy_fn(x._value())), x._dtype, False)
    it = _from_array(np.asarray(idx, np.float64).reshape(-1), dtypes.float64, False)
    return record(name, (x,), shape, x._dtype, params=aux, positions=it)


_KERNEL_INDEX = {"gather": "int32/int64", "index_select": "int32 or int64"}


def _check_kernel_index(index, op):
    """gather and index_select take an int32/int64 tensor index (else RuntimeError)."""
    if isinstance(index, Tensor) and index._dtype not in (dtypes.int32, dtypes.int64):
        raise RuntimeError(f"{op}(): Expected dtype {_KERNEL_INDEX[op]} for index (got "
                           f"{index._dtype})")


def _int_index(index, size, op, dim):
    """A tensor/list/array of ints as a NumPy int64 array in [0, size), checked."""
    v = np.asarray(_index_array(index, op))
    if v.dtype == np.bool_:
        raise IndexError(f"{op}: tensors used as indices must be long, int or bool tensors, "
                         f"got {v.dtype}")
    bad = (v < -size) | (v >= size)
    if bad.any():
        raise IndexError(f"{op}: index {int(v[bad].flat[0])} is out of bounds for dimension "
                         f"{dim} with size {size}")
    return np.where(v < 0, v + size, v).astype(np.int64)


def index_select(input: Tensor, dim: int, index: Tensor) -> Tensor:
    """The entries of `index` (a 1-D int tensor) along dim."""
    _check_tensor(input, "index_select")
    d = _dim(dim, input.ndim, "index_select") if input.ndim else 0
    if isinstance(index, Tensor) and index.ndim > 1:
        raise IndexError(f"index_select(): Index is supposed to be a vector, got shape "
                         f"{list(index._shape)}")
    sh = input._shape or (1,)
    _check_kernel_index(index, "index_select")
    idx = _int_index(index, sh[d], "index_select", d).reshape(-1)
    shape = input._shape[:d] + (len(idx),) + input._shape[d + 1:]
    aux = (0, math.prod(sh[:d]), sh[d], math.prod(sh[d + 1:]), len(idx))
    return _index_record("index_select", input, idx, aux, shape,
                         lambda a: np.take(a, idx, axis=d).reshape(shape))


def gather(input: Tensor, dim: int, index: Tensor) -> Tensor:
    """out[p] = input[p with dim replaced by index[p]] (index has input's number of dims)."""
    _check_tensor(input, "gather")
    nd = input.ndim
    d = _dim(dim, nd, "gather") if nd else 0
    _check_kernel_index(index, "gather")
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


def _index_array(i, op):
    """An index part as PyTorch reads it: int/bool tensors, lists and arrays become arrays."""
    if isinstance(i, Tensor):
        if i._dtype is dtypes.uint8:  # a mask, as PyTorch reads it (deprecated there)
            _warn_outside("indexing with dtype torch.uint8 is now deprecated, please use a "
                          "dtype torch.bool instead.")
            i = i._value() != 0
        elif i._dtype in (dtypes.int8, dtypes.int16):
            raise IndexError(f"{op}: tensors used as indices must be long, int, byte or bool "
                             f"tensors (got {i._dtype})")
        else:
            i = i._value()
    elif isinstance(i, (list, range, np.ndarray)):  # a range is a sequence index, as a list
        i = np.asarray(i)
        if i.size == 0 and i.dtype == np.float64:
            i = i.astype(np.int64)  # x[[]] indexes with an empty long tensor, as PyTorch
    if isinstance(i, np.ndarray) and i.dtype != np.bool_ and not np.issubdtype(i.dtype,
                                                                               np.integer):
        raise IndexError(f"{op}: tensors used as indices must be long, int, byte or bool "
                         f"tensors (got {i.dtype})")
    return i


_IOTA = np.arange(0, dtype=np.int64)
_IOTA_MAX = 1 << 22  # elements kept between calls (32 MB at most)


def _iota(shape):
    """np.arange(numel).reshape(shape), a read-only view of one shared array: indexing a
    big tensor would otherwise allocate and fill numel positions to read a few of them."""
    global _IOTA
    n = math.prod(shape)
    if n > _IOTA.size:
        if n > _IOTA_MAX:
            return np.arange(n, dtype=np.int64).reshape(shape)
        _IOTA = np.arange(min(max(n, 2 * _IOTA.size), _IOTA_MAX), dtype=np.int64)
        _IOTA.flags.writeable = False
    return _IOTA[:n].reshape(shape)


def positions(shape, index, op="index"):
    """Flat positions of x[index] for x of `shape`, with the indexed result's shape.

    PyTorch's rule, which differs from NumPy's when ints and tensors mix: ints, slices and
    None apply first (as views), then the tensor indices, by NumPy's rules on what is left
    (x[0, :, idx] has shape [5, len(idx)] for x of shape [4, 5, 6], not [len(idx), 5])."""
    index = [_index_array(i, op) for i in (index if isinstance(index, tuple) else (index,))]
    used = sum(i.ndim if isinstance(i, np.ndarray) and i.dtype == np.bool_ else
               (0 if i is None or i is Ellipsis else 1) for i in index)
    ell = [j for j, i in enumerate(index) if i is Ellipsis]
    if len(ell) > 1:
        raise IndexError(f"{op}: an index can only have a single ellipsis ('...')")
    if used > len(shape):
        raise IndexError(f"{op}: too many indices for tensor of dimension {len(shape)} (got "
                         f"{used} for a tensor of shape {list(shape)})")
    if ell:
        index[ell[0]:ell[0] + 1] = [slice(None)] * (len(shape) - used)
    basic, adv, d = [], [], 0
    for i in index:
        if isinstance(i, np.ndarray):
            k = i.ndim if i.dtype == np.bool_ else 1
            if i.dtype == np.bool_ and tuple(i.shape) != tuple(shape[d:d + k]):
                raise IndexError(f"{op}: the shape of the mask {list(i.shape)} at index {d} "
                                 f"does not match the shape of the indexed tensor "
                                 f"{list(shape)} at index {d}")
            basic += [slice(None)] * k
            adv.append(i)
            d += k
        elif isinstance(i, (int, np.integer)) and not isinstance(i, bool):
            if not -shape[d] <= i < shape[d]:
                raise IndexError(f"{op}: index {i} is out of bounds for dimension {d} with "
                                 f"size {shape[d]}")
            basic.append(i)
            d += 1
        else:
            basic.append(i)
            adv.append(slice(None))
            d += i is not None
    view = _iota(shape)[tuple(basic)]
    try:
        return view[tuple(adv)]
    except IndexError as e:  # NumPy's words for an out-of-range tensor index or a shape
        msg = str(e).replace("axis", "dimension").replace("arrays", "tensors")
        raise IndexError(f"{op}: {msg} (indexing a tensor of shape {list(shape)})") from None


def getitem_advanced(x, index):
    """x[index] with integer tensors or bool masks among ints, slices, None and `...`."""
    _check_tensor(x, "index")
    k = [j for j, i in enumerate(index) if _advanced(i)]
    if len(k) == 1 and all(isinstance(i, slice) and i == slice(None)
                           for j, i in enumerate(index) if j != k[0]):
        return _getitem_one(x, k[0], index[k[0]])
    pos = positions(x._shape, index)
    return _index_record("index", x, pos, (2,), pos.shape,
                         lambda a: a.reshape(-1)[pos.reshape(-1)].reshape(pos.shape))


def _getitem_one(x, d, i):
    """x[:, ..., idx] with one index tensor at dim d: index_select's layout (the index is
    stored once, not once per element read)."""
    v = _index_array(i, "index")
    sh = x._shape
    if v.dtype == np.bool_:
        if tuple(v.shape) != sh[d:d + v.ndim]:
            raise IndexError(f"The shape of the mask {list(v.shape)} at index {d} does not match "
                             f"the shape of the indexed tensor {list(sh)} at index {d}")
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


# ---- writes by index: x[index] = v, index_put ------------------------------------------
def _put(name, x, pos, value, accumulate=False, op="index_put"):
    """A new tensor: x with the elements at flat positions `pos` set from (or, accumulate,
    added to by) value, a python number or a tensor broadcastable to pos's shape."""
    if isinstance(value, Tensor):
        vs = value._shape
        while len(vs) > len(pos.shape) and vs[0] == 1:  # leading 1s go, as in PyTorch
            vs = vs[1:]
        try:
            fits = broadcast_shapes(vs, pos.shape, op) == pos.shape
        except RuntimeError:
            fits = False
        if not fits:
            raise RuntimeError(f"{op}: shape mismatch: value tensor of shape "
                               f"{list(value._shape)} cannot be broadcast to indexing result of "
                               f"shape {list(pos.shape)}")
        if vs != value._shape:
            value = value.reshape(vs)
    else:
        value = _from_array(np.array(value, x._dtype.np), x._dtype, False)
    tape = current()
    if not needs_grad(x, value) or not x._dtype.is_floating_point:
        v = np.array(x._value(), order="C")  # (C order: v.reshape(-1) below is a view)
        vals = np.broadcast_to(value._value(), pos.shape).reshape(-1)
        if accumulate:
            np.add.at(v.reshape(-1), pos.reshape(-1), vals.astype(v.dtype))
        else:
            v.reshape(-1)[pos.reshape(-1)] = vals
        return _from_array(v, x._dtype, False)
    value = _broadcast_to(value, pos.shape, tape)
    if value._dtype is not x._dtype:  # written in x's dtype, as PyTorch's copy_ does
        if value._rg:
            value = _implicit(value.to(x._dtype), tape)
        else:
            value = _from_array(value._value().astype(x._dtype.np), x._dtype, False)
    it = _from_array(np.asarray(pos, np.float64).reshape(-1), dtypes.float64, False)
    return record(name, (x, value), x._shape, x._dtype, params=(3, int(accumulate)),
                  positions=it)


def _basic_part(index):
    """Whether an index has parts PyTorch applies as a view first (then a write through it
    is CopySlices, else IndexPutBackward0)."""
    index = index if isinstance(index, tuple) else (index,)
    return any(not (_advanced(i) or i is Ellipsis or isinstance(i, slice) and i == slice(None))
               for i in index)


def _selects_all(index, nd):
    """Is the index only `...` and full slices (at most one per dim)?"""
    index = index if isinstance(index, tuple) else (index,)
    full = [i for i in index if isinstance(i, slice) and i == slice(None)]
    ell = [i for i in index if i is Ellipsis]
    return len(full) + len(ell) == len(index) and len(ell) <= 1 and len(full) <= nd


def _fits(value, t):
    """Does value broadcast to t's shape without leading dims?"""
    try:
        return np.broadcast_shapes(value._shape, t._shape) == t._shape
    except ValueError:
        return False


def setitem(t, index, value):
    """t[index] = value, in place, with PyTorch's rules: recorded (CopySlices or
    IndexPutBackward0) when t or value requires grad; a leaf that requires grad refuses."""
    if t._rg and _local.grad_enabled and (t.is_leaf or views_a_leaf(t)):
        raise RuntimeError("a view of a leaf Variable that requires grad is being used in an "
                           "in-place operation. (__setitem__)")
    if _selects_all(index, t.ndim) and (not isinstance(value, Tensor) or _fits(value, t)):
        # x[...] = v, x[:] = v: PyTorch's copy_ or fill_ (a misfit: the general path's error)
        from .inplace import _fill, copy_

        if isinstance(value, Tensor) or not t._shape:
            if not isinstance(value, Tensor):
                value = _from_array(np.array(value, t._dtype.np), t._dtype, False)
            return copy_(t, value)
        return _fill(t, value, "fill_all")
    pos = positions(t._shape, index, "__setitem__")
    name = "copy_slices" if _basic_part(index) else "index_put"
    if isinstance(value, Tensor) and value._rg and not t._dtype.is_floating_point:
        raise RuntimeError(f"__setitem__: a value that requires grad can't be written into a "
                           f"{t._dtype} tensor")
    r = _put(name, t, pos, value, op="__setitem__")
    _inplace(t, "__setitem__", lambda src: r)


def index_put(input: Tensor, indices: tuple[Tensor | None, ...], values: Tensor | Number,
              accumulate: bool = False) -> Tensor:
    """input with input[indices] = values, or += with accumulate (repeated positions then
    add up); indices is a tuple of index tensors. Not in place."""
    _check_tensor(input, "index_put")
    if not isinstance(indices, (tuple, list)):
        raise TypeError(f"index_put(): argument 'indices' must be tuple of Tensors, not "
                        f"{type(indices).__name__}")
    return _put("index_put", input, positions(input._shape, tuple(indices), "index_put"),
                values, accumulate)


def index_put_(input: Tensor, indices: tuple[Tensor | None, ...], values: Tensor | Number,
               accumulate: bool = False) -> Tensor:
    """self[indices] = values in place (added with accumulate=True), as torch.Tensor.index_put_."""
    if not accumulate:
        setitem(input, tuple(indices), values)
        return input
    return _inplace(input, "index_put_", lambda src: index_put(src, indices, values, True))


def _bind():
    T = Tensor
    for name in ("masked_fill", "lerp", "index_select", "gather", "index_put", "index_put_"):
        setattr(T, name, globals()[name])
    T.__setitem__ = setitem
    T.where = lambda self, condition, other: where(condition, self, other)
    T.where.__name__ = T.where.__qualname__ = "where"
    T.where.__annotations__ = {"condition": Tensor, "other": Tensor | Number, "return": Tensor}

    T.where.__doc__ = "where(condition, self, other), as torch.Tensor.where."
    T.masked_fill_ = _inplace_method("masked_fill_", masked_fill, "masked_fill" in _SAVE_SELF)


_bind()
