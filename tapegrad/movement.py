"""Shape and indexing: reshape/view/flatten and the strided gathers (permute, transpose, t,
select, slicing, unsqueeze, squeeze, expand, flip, repeat).

On a tensor that owns its array and needs no gradient these are NumPy views (they share
memory, as PyTorch's views do). Otherwise a strided gather is one STRIDED record: the
output iterated in C order over a shape, reading the input at base + sum(j_d * stride_d).
"""

import math
from typing import Sequence

import numpy as np

from .recorder import check_tensor as _check_tensor
from .recorder import OP, _ready, needs_grad, record
from .tape.records import S_RG
from .tape.tape import _local
from ._hints import Dims, Shape
from .tensor import Tensor, _dim, _from_array, _on_tape

_SLICE = OP["slice"]


def _contiguous_strides(shape):
    return [math.prod(shape[i + 1:]) for i in range(len(shape))]


def _record(name, x, shape, aux, numpy_fn, view=True):
    """Record op `name` (COPY or STRIDED) with output `shape`, or, when no grad is needed,
    give a NumPy view (`view`: sharing storage and version counter, as PyTorch's views do)
    or copy."""
    if not needs_grad(x):
        if x._tape is None:
            t = _from_array(numpy_fn(x._arr), x._dtype, False)
            if view:
                t._vc = x._vc
            return t
        return _from_array(np.array(numpy_fn(x._value()), order="C"), x._dtype, False)
    return record(name, (x,), shape, x._dtype, params=aux)


def _strided(name, x, shape, it_shape, strides, base, numpy_fn):
    """A STRIDED record: output `shape`, iterated over `it_shape` (same numel) with the
    input's `strides` and `base` offset."""
    if not it_shape:  # a single element
        it_shape, strides = (1,), (0,)
    if not (x._rg and _local.grad_enabled):
        return _record(name, x, tuple(shape), None, numpy_fn)  # a NumPy view: no aux
    aux = (len(it_shape),) + tuple(it_shape) + tuple(strides) + (base,)
    return record(name, (x,), tuple(shape), x._dtype, params=aux)


# ---- reshape ----------------------------------------------------------------------------
def _bad_shape(name, shape, x):
    return (f"{name}(): shape '{list(shape)}' is invalid for input of size {x.numel()} (input "
            f"shape {list(x._shape)})")


def reshape(input: Tensor, *shape: "int | Sequence[int]") -> Tensor:
    """The elements of input in a new shape (one dimension may be -1), as torch.reshape.

    A view of input's storage when input owns a NumPy array; recorded as one view record
    (ViewBackward0) when input requires grad. PyTorch copies when the input is not
    contiguous; tapegrad always gives the same values either way."""
    return _reshape(input, shape, "reshape")


def _reshape(input, shape, _name):
    """reshape, with `_name` naming the caller (view) in error messages."""
    _check_tensor(input, _name)
    shape = tuple(shape[0]) if len(shape) == 1 and not isinstance(shape[0], int) else shape
    n = input.numel()
    if shape == input._shape:  # nothing to check (view(x.shape), reshape(x.size()))
        return _record("view", input, shape, None, lambda a: a.reshape(shape))
    if shape.count(-1) > 1:
        raise RuntimeError(f"{_name}(): only one dimension can be inferred (shape "
                           f"{list(shape)}, input shape {list(input._shape)})")
    for i, d in enumerate(shape):
        if d < -1:
            raise RuntimeError(f"{_name}(): invalid shape dimension {d} at index {i} of shape "
                               f"{list(shape)}")
    known = math.prod(d for d in shape if d != -1)
    if -1 in shape:
        if known == 0 or n % known:
            raise RuntimeError(_bad_shape(_name, shape, input))
        shape = tuple(n // known if d == -1 else d for d in shape)
    if math.prod(shape) != n:
        raise RuntimeError(_bad_shape(_name, shape, input))
    return _record("view", input, shape, None, lambda a: a.reshape(shape))


def view(input: Tensor, *shape: "int | Sequence[int]") -> Tensor:
    """input viewed in a new shape (one dimension may be -1), as torch.Tensor.view: shares
    storage with a plain tensor (ViewBackward0 when recorded). Unlike PyTorch, a view of
    a non-contiguous tensor does not raise: tapegrad computes it as reshape does."""
    return _reshape(input, shape, "view")


def flatten(input: Tensor, start_dim: int = 0, end_dim: int = -1) -> Tensor:
    """input with dimensions start_dim..end_dim merged into one, as torch.flatten (a view; input
    itself when there is nothing to merge)."""
    nd = input.ndim
    if nd == 0:
        return reshape(input, 1)
    s, e = _dim(start_dim, nd, "flatten"), _dim(end_dim, nd, "flatten")
    if s > e:
        raise RuntimeError(f"flatten() has invalid args: start_dim cannot come after end_dim "
                           f"(start_dim {start_dim}, end_dim {end_dim}, input shape "
                           f"{list(input._shape)})")
    if s == e:
        return input  # nothing to flatten: the input itself, as PyTorch returns it
    sh = input._shape
    return reshape(input, sh[:s] + (math.prod(sh[s:e + 1]),) + sh[e + 1:])


def clone(input: Tensor) -> Tensor:
    """A copy with its own storage (CloneBackward0 when recorded)."""
    return _record("clone", input, input._shape, None, lambda a: np.array(a, order="C"),
                   view=False)


# ---- permutes -------------------------------------------------------------------------
def permute(input: Tensor, *dims: "int | Sequence[int]") -> Tensor:
    """input with its dimensions reordered by dims, as torch.permute (a view of a plain
    tensor; PermuteBackward0 when recorded)."""
    return _permute(input, dims, "permute")


def _permute(input, dims, _name):
    """permute, with `_name` the op recorded (transpose, t)."""
    _check_tensor(input, "permute")
    dims = tuple(dims[0]) if len(dims) == 1 and not isinstance(dims[0], int) else dims
    nd = input.ndim
    if len(dims) != nd:
        raise RuntimeError(f"permute(): number of dims don't match in permute: the input has "
                           f"{nd} dims, got {len(dims)} ({list(dims)})")
    dims = tuple(_dim(d, nd, "permute") for d in dims)
    if len(set(dims)) != nd:
        raise RuntimeError(f"permute(): duplicate dims are not allowed. (dims {list(dims)}, "
                           f"input shape {list(input._shape)})")
    sh = input._shape
    st = _contiguous_strides(sh)
    shape = tuple(sh[d] for d in dims)
    return _strided(_name, input, shape, shape, [st[d] for d in dims], 0,
                    lambda a: a.transpose(dims))


def transpose(input: Tensor, dim0: int, dim1: int) -> Tensor:
    """input with dimensions dim0 and dim1 swapped, as torch.transpose (a view of a plain tensor);
    `swapaxes` is the same."""
    nd = input.ndim
    d0, d1 = _dim(dim0, nd, "transpose"), _dim(dim1, nd, "transpose")
    dims = list(range(nd))
    dims[d0], dims[d1] = dims[d1], dims[d0]
    return _permute(input, (dims,), "transpose")


swapaxes = transpose


def t(input: Tensor) -> Tensor:
    """The transpose of a tensor of at most 2 dimensions, as torch.t."""
    if input.ndim > 2:
        raise RuntimeError(f"t() expects a tensor with <= 2 dimensions, but self is "
                           f"{input.ndim}D")
    if input.ndim == 2:  # the common case, without permute's checks: strides (1, cols)
        m, n = input._shape
        return _strided("t", input, (n, m), (n, m), (1, n), 0, lambda a: a.T)
    return _permute(input, (tuple(range(input.ndim - 1, -1, -1)),), "t")


# ---- indexing ---------------------------------------------------------------------------
def select(input: Tensor, dim: int, index: int) -> Tensor:
    """The slice of input at `index` along dim, with that dimension removed, as torch.select."""
    nd = input.ndim
    if nd == 0:
        raise IndexError("select() cannot be applied to a 0-dim tensor.")
    d = _dim(dim, nd, "select")
    size = input._shape[d]
    if isinstance(index, (int, np.integer)) and not -size <= index < size:
        raise IndexError(f"select(): index {index} out of range for tensor of size "
                         f"{list(input._shape)} at dimension {d}")
    return input[(slice(None),) * d + (index,)]


def _advanced(i):
    return isinstance(i, (Tensor, list, range, np.ndarray)) and not isinstance(i, bool)


def _getitem(x, index):
    """Basic indexing (ints, slices, None, ...) as one STRIDED record; one integer-tensor or
    bool-mask index among full slices as one INDEX record."""
    if type(index) is slice and x._shape and (index.step is None or type(index.step) is int
                                              and index.step > 0):
        return _slice0(x, index)  # x[a:b:c] along dim 0, what loops over sequences write
    single_slice = isinstance(index, slice)  # x[:] is a SliceBackward0 even at full range
    if not isinstance(index, tuple):
        index = (index,)
    if any(_advanced(i) for i in index):
        from .selection import getitem_advanced  # selection builds on this module

        return getitem_advanced(x, index)
    for i in index:
        if isinstance(i, str):  # PyTorch tries to make a tensor of it: TypeError
            raise TypeError(f"indexing a tensor of shape {list(x._shape)}: invalid index of "
                            f"type 'str' ({i!r})")
        if isinstance(i, (float, complex, np.floating)):
            raise IndexError("only integers, slices (`:`), ellipsis (`...`), None and long or "
                             "byte Variables are valid indices (got "
                             f"{type(i).__name__}), indexing a tensor of shape {list(x._shape)}")
        if not (i is None or i is Ellipsis or isinstance(i, (int, np.integer, slice))) or \
                isinstance(i, bool):
            raise NotImplementedError(f"indexing with {type(i).__name__} (advanced indexing) is "
                                      "not supported yet; use ints, slices, None and ...")
    used = sum(1 for i in index if i is not None and i is not Ellipsis)
    if sum(1 for i in index if i is Ellipsis) > 1:
        raise IndexError("an index can only have a single ellipsis ('...')")
    nd = x.ndim
    if used and nd == 0:
        raise IndexError("invalid index of a 0-dim tensor. Use `tensor.item()` in Python or "
                         "`tensor.item<T>()` in C++ to convert a 0-dim tensor to a number")
    if used > nd:
        raise IndexError(f"too many indices for tensor of dimension {nd} (got {used} indices for "
                         f"a tensor of shape {list(x._shape)})")
    if Ellipsis in index:
        k = index.index(Ellipsis)
        index = index[:k] + (slice(None),) * (nd - used) + index[k + 1:]
    else:
        index = index + (slice(None),) * (nd - used)
    st = _contiguous_strides(x._shape)
    shape, strides, base, d, name = [], [], 0, 0, "alias"  # alias: the index changed nothing
    for i in index:
        if i is None:
            shape.append(1)
            strides.append(0)
            name = "unsqueeze"
            continue
        size = x._shape[d]
        if isinstance(i, slice):
            if i.step is not None and i.step <= 0:
                what = "slice step cannot be zero" if i.step == 0 else \
                    f"step must be greater than zero, got {i.step}"
                raise ValueError(f"{what} (slicing dimension {d} of a tensor of shape "
                                 f"{list(x._shape)})")
            start, stop, step = i.indices(size)
            shape.append(len(range(start, stop, step)))
            strides.append(st[d] * step)
            base += start * st[d]
            if (start, stop, step) != (0, size, 1) or single_slice or i.start not in (None, 0):
                # a full-range slice in a tuple index is skipped, as PyTorch skips it when
                # its start is not negative (x[0, -4:] of 4 columns is a SliceBackward0)
                name = "slice"
        else:
            if not -size <= i < size:
                raise IndexError(f"index {i} is out of bounds for dimension {d} with size {size} "
                                 f"(indexing a tensor of shape {list(x._shape)})")
            base += (i % size) * st[d]
            name = "select"
        d += 1
    # a trailing ... makes NumPy return a 0-d view (not a scalar copy) for a full index
    return _strided(name, x, shape, shape, strides, base, lambda a: a[index + (Ellipsis,)])


def _slice0(x, index):
    """x[index], a slice along dim 0 with a positive step: `_getitem`'s general path gives
    the same record, after more Python."""
    sh = x._shape
    start, stop, step = index.indices(sh[0])
    if len(sh) == 1 and x._rg:  # x[1:], x[:-1] of a vector requiring grad: straight to the
        local = _local          # record (`record`'s steps for this one case)
        tape = local.tape
        if local.grad_enabled and not tape.dirty:
            s0 = _ready(tape, x, x._dtype)
            if s0 >= 0:
                m = len(range(start, stop, step))
                aux = tape.intern((1, m, step, start), "strided")
                shape = (m,)
                out = tape.record(_SLICE, s0, -1, aux, 0.0, tape.shape(shape), x._dtype.code,
                                  S_RG)
                return _on_tape(tape, out, shape, x._dtype, True)
    inner = math.prod(sh[1:])
    shape = (len(range(start, stop, step)),) + sh[1:]
    strides = [inner * step] + _contiguous_strides(sh)[1:]
    return _strided("slice", x, shape, shape, strides, start * inner, lambda a: a[index])


def unsqueeze(input: Tensor, dim: int) -> Tensor:
    """input with a dimension of size 1 inserted at dim, as torch.unsqueeze (a view)."""
    nd = input.ndim
    d = _dim(dim, nd + 1, "unsqueeze")
    sh = input._shape
    shape = sh[:d] + (1,) + sh[d:]
    st = _contiguous_strides(sh)
    return _strided("unsqueeze", input, shape, shape, st[:d] + [0] + st[d:], 0,
                    lambda a: np.expand_dims(a, d))


def squeeze(input: Tensor, dim: Dims | None = None) -> Tensor:
    """input without its dimensions of size 1 (only dim, if given), as torch.squeeze (a view)."""
    sh = input._shape
    if dim is None:
        shape, name = tuple([n for n in sh if n != 1]), "squeeze"
    else:
        d = _dim(dim, len(sh), "squeeze")
        shape, name = (sh[:d] + sh[d + 1:] if sh[d] == 1 else sh), "squeeze_dim"
    return _record(name, input, shape, None, lambda a: a.reshape(shape))


def expand(input: Tensor, *sizes: Shape) -> Tensor:
    """input broadcast to `sizes` (-1 keeps a size) without copying, as torch.Tensor.expand."""
    sizes = tuple(sizes[0]) if len(sizes) == 1 and not isinstance(sizes[0], int) else sizes
    sh, nd = input._shape, input.ndim
    if len(sizes) < nd:
        raise RuntimeError(f"expand(torch.{input._dtype.legacy}{{{list(sh)}}}, size={list(sizes)})"
                           f": the number of sizes provided ({len(sizes)}) must be greater or "
                           f"equal to the number of dimensions in the tensor ({nd})")
    lead = len(sizes) - nd
    st = _contiguous_strides(sh)
    shape, strides = [], []
    for i, n in enumerate(sizes):
        if i < lead:
            if n < 0:
                raise RuntimeError(f"expand: the expanded size of the tensor ({n}) isn't allowed "
                                   "in a leading, non-existing dimension")
            shape.append(n)
            strides.append(0)
            continue
        have = sh[i - lead]
        if n == -1 or n == have:
            shape.append(have)
            strides.append(st[i - lead])
        elif have == 1:
            shape.append(n)
            strides.append(0)
        else:
            raise RuntimeError(f"expand: The expanded size of the tensor ({n}) must match the "
                               f"existing "
                               f"size ({have}) at non-singleton dimension {i}.  Target sizes: "
                               f"{list(sizes)}.  Tensor sizes: {list(sh)}")
    shape = tuple(shape)
    return _strided("expand", input, shape, shape, strides, 0,
                    lambda a: np.broadcast_to(a, shape))


def expand_as(input: Tensor, other: Tensor) -> Tensor:
    """input expanded to other's shape, as torch.Tensor.expand_as."""
    return expand(input, other._shape)


def flip(input: Tensor, dims: Dims) -> Tensor:
    """input reversed along `dims`, as torch.flip (PyTorch copies; tapegrad gives a view of a plain
    tensor)."""
    dims = (dims,) if isinstance(dims, int) else tuple(dims)
    nd = input.ndim
    dims = {_dim(d, nd, "flip") for d in dims}
    sh = input._shape
    st = _contiguous_strides(sh)
    strides = [-s if i in dims else s for i, s in enumerate(st)]
    base = sum((sh[i] - 1) * st[i] for i in dims if sh[i] > 0)
    return _strided("flip", input, sh, sh, strides, base, lambda a: np.flip(a, tuple(dims)))


def repeat(input: Tensor, *sizes: Shape) -> Tensor:
    """input tiled `sizes` times along each dimension, as torch.Tensor.repeat (a copy)."""
    sizes = tuple(sizes[0]) if len(sizes) == 1 and not isinstance(sizes[0], int) else sizes
    nd = input.ndim
    if len(sizes) < nd:
        raise RuntimeError(f"repeat: Number of dimensions of repeat dims can not be smaller than "
                           f"number of dimensions of tensor (repeat dims {list(sizes)}, tensor "
                           f"shape {list(input._shape)})")
    sh = (1,) * (len(sizes) - nd) + input._shape
    st = _contiguous_strides(sh)
    it_shape, strides = [], []
    for r, n, s in zip(sizes, sh, st):  # iterate (r0, n0, r1, n1, ...): copies outermost
        it_shape += [r, n]
        strides += [0, s]
    shape = tuple(r * n for r, n in zip(sizes, sh))
    return _strided("repeat", input, shape, it_shape, strides, 0,
                    lambda a: np.tile(a, sizes))


def split(tensor: Tensor, split_size_or_sections: int | list[int] | tuple[int, ...],
          dim: int = 0) -> tuple[Tensor, ...]:
    """Pieces along dim: of a given size (the last may be smaller) or of listed sizes."""
    nd = tensor.ndim
    if nd == 0:
        raise RuntimeError("split expects at least a 1-dimensional tensor")
    d = _dim(dim, nd, "split")
    n = tensor._shape[d]
    if isinstance(split_size_or_sections, int):
        size, name = split_size_or_sections, "split"
        if size <= 0 and not (size == 0 and n == 0):
            raise RuntimeError(f"split: split_size can only be 0 if dimension size is 0, but "
                               f"got dimension size of {n}")
        sizes = [min(size, n - i) for i in range(0, n, size)] if n else [0]
    else:
        sizes, name = [int(s) for s in split_size_or_sections], "split_with_sizes"
        if sum(sizes) != n or any(s < 0 for s in sizes):
            raise RuntimeError(f"split_with_sizes expects split_sizes to sum exactly to {n} "
                               f"(input tensor's size at dimension {d}), but got "
                               f"split_sizes={sizes}")
    st = _contiguous_strides(tensor._shape)
    pieces, start = [], 0
    for size in sizes:
        shape = tensor._shape[:d] + (size,) + tensor._shape[d + 1:]
        index = (slice(None),) * d + (slice(start, start + size),)
        pieces.append(_strided(name, tensor, shape, shape, st, start * st[d],
                               lambda a, index=index: a[index]))
        start += size
    return tuple(pieces)


def chunk(input: Tensor, chunks: int, dim: int = 0) -> tuple[Tensor, ...]:
    """`chunks` pieces of ceil(n / chunks) elements along dim (fewer if n is small)."""
    if chunks <= 0:
        raise RuntimeError(f"chunk expects `chunks` to be greater than 0, got: {chunks}")
    n = input._shape[_dim(dim, input.ndim, "chunk")] if input.ndim else 0
    return split(input, max(1, -(-n // chunks)), dim)


def cat(tensors: list[Tensor] | tuple[Tensor, ...], dim: int = 0) -> Tensor:
    """Join along an existing dim (CatBackward0); n tensors record n - 1 joins."""
    return _join("cat", tensors, dim)


concat = concatenate = cat


def stack(tensors: list[Tensor] | tuple[Tensor, ...], dim: int = 0) -> Tensor:

    """Join along a new dim (StackBackward0)."""
    tensors = list(tensors)
    if not tensors:
        raise RuntimeError("stack expects a non-empty TensorList")
    d = _dim(dim, tensors[0].ndim + 1, "stack")
    return _join("stack", [unsqueeze(t, d) for t in tensors], d, check=tensors)


def _join(name, tensors, dim, check=None):
    from . import dtypes

    tensors = list(tensors)
    if not tensors:
        raise RuntimeError(f"{name}(): expected a non-empty list of Tensors")
    for i, t in enumerate(tensors):
        _check_tensor(t, name, f"tensors[{i}]")
    shapes = [t._shape for t in (check or tensors)]
    if any(s != shapes[0] for s in shapes) and name == "stack":
        raise RuntimeError(f"stack expects each tensor to be equal size, but got "
                           f"{list(shapes[0])} at entry 0 and {list(next(s for s in shapes if s != shapes[0]))} "
                           f"at entry {next(i for i, s in enumerate(shapes) if s != shapes[0])}")
    nd = tensors[0].ndim
    if nd == 0:
        raise RuntimeError(f"{name}(): zero-dimensional tensor (at position 0) cannot be "
                           "concatenated")
    d = _dim(dim, nd, name)
    base = tensors[0]._shape
    for i, t in enumerate(tensors):
        if t.ndim != nd or t._shape[:d] + t._shape[d + 1:] != base[:d] + base[d + 1:]:
            raise RuntimeError(f"{name}(): Sizes of tensors must match except in dimension {d}. "
                               f"Expected size {list(base)} but got size {list(t._shape)} for "
                               f"tensor number {i} in the list.")
    dt = tensors[0]._dtype
    for t in tensors[1:]:
        dt = dtypes.promote(dt, t._dtype)
    if not (dt.is_floating_point and _local.grad_enabled and any(t._rg for t in tensors)):
        v = np.concatenate([np.asarray(t._value(), dt.np) for t in tensors], axis=d)
        return _from_array(v, dt, False)  # nothing needs grad: NumPy, nothing recorded
    outer = math.prod(base[:d])
    inner = math.prod(base[d + 1:])
    out = tensors[0] if dt is tensors[0]._dtype else tensors[0].to(dt)
    for i, t in enumerate(tensors[1:], 1):
        a, b = out, t
        shape = a._shape[:d] + (a._shape[d] + b._shape[d],) + a._shape[d + 1:]
        out = record(name if i == len(tensors) - 1 else "cat", (a, b), shape, dt,
                     params=(outer, a._shape[d] * inner, b._shape[d] * inner))
    if len(tensors) == 1:  # a copy, shown as the join (StackBackward0 of one tensor)
        from .nn._grad_fn import show

        return show(clone(out), f"{name.capitalize()}Backward0", (check or tensors)[0])
    return out


def _bind():
    T = Tensor
    for name in ("clone", "reshape", "view", "flatten", "permute", "transpose", "swapaxes", "t",
                 "select", "unsqueeze", "squeeze", "expand", "expand_as", "flip", "repeat",
                 "split", "chunk"):
        setattr(T, name, globals()[name])
    T.__getitem__ = _getitem
    T.T = property(lambda a: permute(a, tuple(range(a.ndim - 1, -1, -1))),
                   doc="The tensor with its dimensions reversed (a view), as torch.Tensor.T.")
    T.mT = property(lambda a: transpose(a, -2, -1),
                    doc="The tensor with its last two dimensions swapped, as torch.Tensor.mT.")


_bind()
