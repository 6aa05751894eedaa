"""Tensor functions that programs reach for, composed of recorded ops (no rows of their own).

Each is written with ops of the table, so its gradient is theirs: `sort`/`topk` are a
gather by the order NumPy finds, `tril`/`triu` a product with a constant mask, `roll` and
`repeat_interleave` an index_select, `addmm` a product and a sum. Integer results
(`argsort`, `nonzero`, `unique`, `bincount`, ...) are NumPy's and never recorded.
"""

import math

import numpy as np

from . import dtypes
from ._hints import Dims, DType, Number, Shape
from .recorder import check_tensor
from .reductions import _values_indices  # (values, indices), as max(dim) returns
from .tensor import Size, Tensor, _dim, _from_array

_LONG = dtypes.int64


def _long(a) -> Tensor:
    return _from_array(np.asarray(a, np.int64), _LONG, False)


def _const(a, dt) -> Tensor:
    return _from_array(np.asarray(a, dt.np), dt, False)


def _pair(name, values, indices):
    """torch.return_types.sort / topk: a (values, indices) tuple with those names."""
    return _values_indices(name, values, indices)


def _shown(values: Tensor, node: str, input: Tensor) -> Tensor:
    """values (a gather or clone of input) with PyTorch's grad_fn `node` (SortBackward0,
    TopkBackward0, ...) in place of the GatherBackward0 it is recorded as."""
    from .nn._grad_fn import show

    return show(values, node, input)


# ---- order ------------------------------------------------------------------------------
def argsort(input: Tensor, dim: int = -1, descending: bool = False,
            stable: bool = False) -> Tensor:
    """Indices that sort input along dim (NumPy's stable sort; ties keep their order)."""
    check_tensor(input, "argsort")
    v = input._value()
    if v.ndim == 0:
        return _long(np.zeros((), np.int64))
    d = _dim(dim, v.ndim, "argsort")
    if descending:  # ~v reverses integers and bools without overflow (-v wraps for uint8)
        v = ~v if v.dtype.kind in "iub" else -v
    idx = np.argsort(v, axis=d, kind="stable")
    return _long(idx)


def sort(input: Tensor, dim: int = -1, descending: bool = False,
         stable: bool = False) -> tuple[Tensor, Tensor]:
    """(values, indices) sorted along dim; values are a gather, so gradients flow."""
    idx = argsort(input, dim, descending)
    node = "SortBackward1" if stable else "SortBackward0"
    if input.ndim == 0:
        return _pair("sort", _shown(input.clone(), node, input), idx)
    return _pair("sort", _shown(input.gather(_dim(dim, input.ndim, "sort"), idx), node, input),
                 idx)


def topk(input: Tensor, k: int, dim: int = -1, largest: bool = True,
         sorted: bool = True) -> tuple[Tensor, Tensor]:
    """The k largest (or smallest) along dim, with their indices."""
    check_tensor(input, "topk")
    nd = input.ndim
    d = _dim(dim, nd, "topk") if nd else 0
    size = input._shape[d] if nd else 1
    if not 0 <= k <= size:
        raise RuntimeError(f"selected index k out of range (k = {k}, dim {dim} of size {size})")
    if nd == 0:
        return _pair("topk", _shown(input.clone(), "TopkBackward0", input),
                     _long(np.zeros((), np.int64)))
    idx = argsort(input, d, descending=largest)._value()
    idx = np.take(idx, np.arange(k), axis=d)
    ind = _long(idx)
    return _pair("topk", _shown(input.gather(d, ind), "TopkBackward0", input), ind)


def msort(input: Tensor) -> Tensor:
    """input sorted along its first dimension, as torch.msort."""
    return sort(input, 0)[0]


# ---- masks and triangles ----------------------------------------------------------------
def _tri(input: Tensor, diagonal: int, lower: bool, op: str) -> Tensor:
    check_tensor(input, op)
    if input.ndim < 2:
        raise RuntimeError(f"{op}: input tensor must have at least 2 dimensions (got shape "
                           f"{list(input._shape)})")
    r, c = input._shape[-2:]
    mask = np.tri(r, c, diagonal, dtype=bool) if lower else ~np.tri(r, c, diagonal - 1,
                                                                   dtype=bool)
    if not input._dtype.is_floating_point:
        return _from_array(np.where(mask, input._value(), 0).astype(input._dtype.np),
                           input._dtype, False)
    return _shown(input.masked_fill(_const(~mask, dtypes.bool_), 0.0),
                  "TrilBackward0" if lower else "TriuBackward0", input)


def tril(input: Tensor, diagonal: int = 0) -> Tensor:
    """Lower triangle (elements above the diagonal set to 0)."""
    return _tri(input, diagonal, True, "tril")


def triu(input: Tensor, diagonal: int = 0) -> Tensor:
    """Upper triangle (elements below the diagonal set to 0)."""
    return _tri(input, diagonal, False, "triu")


def diagonal(input: Tensor, offset: int = 0, dim1: int = 0, dim2: int = 1) -> Tensor:
    """The diagonal of the matrices in dims dim1, dim2 (entry [i, i + offset]), appended as
    the last dim after the remaining ones."""
    check_tensor(input, "diagonal")
    if input.ndim < 2:
        raise RuntimeError(f"diagonal(): expected a tensor of at least 2 dimensions, got "
                           f"shape {list(input._shape)}")
    d1, d2 = _dim(dim1, input.ndim, "diagonal"), _dim(dim2, input.ndim, "diagonal")
    if d1 == d2:
        raise RuntimeError(f"diagonal dimensions cannot be identical {dim1}, {dim2}")
    x = input if (d1, d2) == (input.ndim - 2, input.ndim - 1) else \
        movedim(input, (d1, d2), (-2, -1))
    *rest, r, c = x._shape
    i = np.arange(max(0, min(r - max(0, -offset), c - max(0, offset))))
    flat = (i + max(0, -offset)) * c + i + max(0, offset)
    from .nn._grad_fn import show

    return show(x.reshape(tuple(rest) + (r * c,))[..., _long(flat)], "DiagonalBackward0", input)


def diag(input: Tensor, diagonal: int = 0) -> Tensor:
    """1-D input: a square matrix with it on the diagonal; 2-D: its diagonal."""
    check_tensor(input, "diag")
    if input.ndim == 2:
        return globals()["diagonal"](input, diagonal)
    if input.ndim != 1:
        raise RuntimeError(f"diag(): Supports 1D or 2D tensors. Got {input.ndim}D")
    n = input._shape[0] + abs(diagonal)
    i = np.arange(input._shape[0])
    pos = (i + max(0, -diagonal)) * n + i + max(0, diagonal)
    from .selection import index_put

    zeros = _from_array(np.zeros(n * n, input._dtype.np), input._dtype, False)
    return index_put(zeros, (_long(pos),), input).reshape(n, n)


def trace(input: Tensor) -> Tensor:
    """Sum of the diagonal of a 2-D tensor (grad_fn TraceBackward0)."""
    check_tensor(input, "trace")
    if input.ndim != 2:
        raise RuntimeError(f"trace: expected a matrix, but got tensor with dim {input.ndim}")
    from .nn._grad_fn import show

    return show(diagonal(input).sum(), "TraceBackward0", input)


def masked_select(input: Tensor, mask: Tensor) -> Tensor:
    """The elements where mask is True, as a 1-D tensor (mask broadcasts)."""
    check_tensor(mask, "masked_select", "mask")
    if mask._dtype is not dtypes.bool_:
        raise RuntimeError(f"masked_select: expected BoolTensor for mask (got {mask._dtype})")
    if mask._shape != input._shape:
        mask = _const(np.broadcast_to(mask._value(), input._shape), dtypes.bool_)
    return input[mask]


def nonzero(input: Tensor, *, as_tuple: bool = False) -> Tensor | tuple[Tensor, ...]:
    """Indices of the nonzero elements: (n, ndim) int64, or a tuple of 1-D index tensors."""
    v = input._value()
    if as_tuple:
        return tuple(_long(i) for i in np.nonzero(np.atleast_1d(v)))
    return _long(np.argwhere(v))


def count_nonzero(input: Tensor, dim: Dims | None = None) -> Tensor:
    """The number of non-zero elements (over dim, or all), as an int64 tensor."""
    return _long(np.count_nonzero(input._value(), axis=dim))


def nan_to_num(input: Tensor, nan: float = 0.0, posinf: float | None = None,
               neginf: float | None = None) -> Tensor:
    """nan, +inf and -inf replaced (by 0 and the dtype's largest and smallest finite)."""
    from .selection import where

    v = input._value()
    if not input._dtype.is_floating_point:
        return input.clone()
    fi = np.finfo(v.dtype)
    rep = np.nan_to_num(v, nan=nan, posinf=fi.max if posinf is None else posinf,
                        neginf=fi.min if neginf is None else neginf)
    return where(_const(np.isfinite(v), dtypes.bool_), input, _const(rep, input._dtype))


# ---- rearranging ------------------------------------------------------------------------
def roll(input: Tensor, shifts: Dims, dims: Dims | None = None) -> Tensor:
    """Elements shifted along dims (wrapping around); over the flattened tensor without dims."""
    check_tensor(input, "roll")
    if dims is None:
        out = roll(input.reshape(-1), shifts, 0).reshape(input._shape)
        return _shown(out, "RollBackward0", input) if input.numel() else out
    shifts = (shifts,) if isinstance(shifts, int) else tuple(shifts)
    dims = (dims,) if isinstance(dims, int) else tuple(dims)
    if len(shifts) != len(dims):
        raise RuntimeError(f"roll: shifts and dimensions must align. shifts: {len(shifts)}, "
                           f"dims:{len(dims)}")
    out = input
    for s, d in zip(shifts, dims):
        d = _dim(d, input.ndim, "roll")
        n = input._shape[d]
        if n:
            out = out.index_select(d, _long((np.arange(n) - s) % n))
    return out if out is input else _shown(out, "RollBackward0", input)


def repeat_interleave(input: Tensor, repeats: int | Tensor, dim: int | None = None) -> Tensor:
    """Each element (or slice along dim) repeated `repeats` times in place."""
    if dim is None:
        input, dim = input.reshape(-1), 0
    d = _dim(dim, input.ndim, "repeat_interleave")
    reps = repeats._value() if isinstance(repeats, Tensor) else repeats
    idx = np.repeat(np.arange(input._shape[d]), reps)
    return input.index_select(d, _long(idx))


def tile(input: Tensor, dims: Shape) -> Tensor:
    """input repeated `dims` times along each dimension, as torch.tile (a repeat)."""
    dims = tuple(dims)
    if len(dims) < input.ndim:
        dims = (1,) * (input.ndim - len(dims)) + dims
    return input.repeat(*dims)


def unbind(input: Tensor, dim: int = 0) -> tuple:
    """The slices along dim, as a tuple."""
    d = _dim(dim, input.ndim, "unbind")
    return tuple(_shown(input.select(d, i), "UnbindBackward0", input)
                 for i in range(input._shape[d]))


def narrow(input: Tensor, dim: int, start: int, length: int) -> Tensor:
    """The slice start:start+length of input along dim, as torch.narrow (a view)."""
    d = _dim(dim, input.ndim, "narrow")
    start = start + input._shape[d] if start < 0 else start
    if start < 0 or start + length > input._shape[d] or length < 0:
        raise RuntimeError(f"start ({start}) + length ({length}) exceeds dimension size "
                           f"({input._shape[d]}).")
    index = (slice(None),) * d + (slice(start, start + length),)
    return input[index]


def movedim(input: Tensor, source: Dims, destination: Dims) -> Tensor:
    """input with dimension(s) `source` moved to position(s) `destination` (a permute)."""
    nd = input.ndim
    src = [_dim(s, nd, "movedim") for s in ((source,) if isinstance(source, int) else source)]
    dst = [_dim(s, nd, "movedim") for s in ((destination,) if isinstance(destination, int)
                                            else destination)]
    order = [i for i in range(nd) if i not in src]
    for d, s in sorted(zip(dst, src)):
        order.insert(d, s)
    return input.permute(*order)


def broadcast_shapes(*shapes: "int | Shape") -> Size:
    """The shape that tensors of these shapes broadcast to, as torch.broadcast_shapes (an
    int stands for a 1-d shape); RuntimeError naming the sizes when they do not."""
    from .functions import broadcast_shapes as _pair

    out: tuple = ()
    for sh in shapes:
        sh = (sh,) if isinstance(sh, int) else tuple(sh)
        for d in sh:
            if not isinstance(d, int) or isinstance(d, bool):
                raise TypeError(f"broadcast_shapes(): expected ints in a shape, got "
                                f"{type(d).__name__}")
            if d < 0:
                raise RuntimeError(f"Trying to create tensor with negative dimension {d}: "
                                   f"{list(sh)}")
        out = _pair(out, sh, "broadcast_shapes")
    return Size(out)


def broadcast_to(input: Tensor, size: Shape) -> Tensor:
    """input expanded to `size` by broadcasting, as torch.broadcast_to (a view)."""
    return input.expand(*size)


def atleast_1d(input: Tensor) -> Tensor:
    """input with at least one dimension (a 0-d tensor becomes shape [1])."""
    return input.reshape(1) if input.ndim == 0 else input


def atleast_2d(input: Tensor) -> Tensor:
    """input with at least two dimensions (leading dimensions of size 1 added)."""
    return input.reshape(1, -1) if input.ndim < 2 else input


def hstack(tensors: list[Tensor] | tuple[Tensor, ...]) -> Tensor:
    """Tensors concatenated along dim 1 (dim 0 for 1-D tensors), as torch.hstack."""
    from .movement import cat

    tensors = [atleast_1d(t) for t in tensors]
    return cat(tensors, 0 if tensors[0].ndim == 1 else 1)


def vstack(tensors: list[Tensor] | tuple[Tensor, ...]) -> Tensor:
    """Tensors (1-D ones as rows) concatenated along dim 0, as torch.vstack."""
    from .movement import cat

    return cat([atleast_2d(t) for t in tensors], 0)


def column_stack(tensors: list[Tensor] | tuple[Tensor, ...]) -> Tensor:
    """1-D tensors as columns (2-D tensors as they are), concatenated along dim 1."""
    from .movement import cat

    return cat([t.reshape(-1, 1) if t.ndim < 2 else t for t in tensors], 1)


def meshgrid(*tensors, indexing: str = "ij") -> tuple:
    """Coordinate grids (expanded views of the inputs); indexing 'ij' or 'xy'."""
    if len(tensors) == 1 and not isinstance(tensors[0], Tensor):
        tensors = tuple(tensors[0])
    if indexing not in ("ij", "xy"):
        raise ValueError(f"torch.meshgrid: indexing must be one of 'xy' or 'ij', but received: "
                         f"{indexing}")
    ts = list(tensors)
    if indexing == "xy" and len(ts) >= 2:  # 'ij' grids of (y, x, ...), then (X, Y, ...)
        ts[0], ts[1] = ts[1], ts[0]
    shape = tuple(t.numel() for t in ts)
    out = []
    for i, t in enumerate(ts):
        view = [1] * len(ts)
        view[i] = -1
        out.append(t.reshape(*view).expand(*shape))
    if indexing == "xy" and len(out) >= 2:
        out[0], out[1] = out[1], out[0]
    return tuple(out)


# ---- arithmetic -------------------------------------------------------------------------
def addmm(input: Tensor, mat1: Tensor, mat2: Tensor, *, beta: float = 1,
          alpha: float = 1) -> Tensor:
    """beta * input + alpha * (mat1 @ mat2)."""
    prod = mat1 @ mat2
    prod = prod if alpha == 1 else prod * alpha
    out = prod + (input if beta == 1 else input * beta) if beta != 0 else prod
    from .nn._grad_fn import show  # one AddmmBackward0 node, as PyTorch's

    return show(out, "AddmmBackward0", input if input._shape == out._shape else None, mat1,
                mat2)


def baddbmm(input: Tensor, batch1: Tensor, batch2: Tensor, *, beta: float = 1,
            alpha: float = 1) -> Tensor:
    """beta * input + alpha * (batch1 @ batch2) for 3-D batches, as torch.baddbmm."""
    from ._products import bmm

    prod = bmm(batch1, batch2)
    prod = prod if alpha == 1 else prod * alpha
    return prod + (input if beta == 1 else input * beta) if beta != 0 else prod


def clamp_min(input: Tensor, min: Number | Tensor) -> Tensor:
    """input limited to at least min (a number or a tensor), as torch.clamp_min."""
    return input.clamp(min=min)


def clamp_max(input: Tensor, max: Number | Tensor) -> Tensor:
    """input limited to at most max (a number or a tensor), as torch.clamp_max."""
    return input.clamp(max=max)


def _rounding(name, fn):
    def op(input: Tensor) -> Tensor:
        """Rounded elementwise; zero gradient (as PyTorch's) where the input requires grad."""
        check_tensor(input, name)
        r = _from_array(np.asarray(fn(input._value()), input._dtype.np), input._dtype, False)
        if not input._rg:
            return r
        return input * 0.0 + r  # the rounded value, with a zero gradient
    op.__name__ = name
    return op


floor = _rounding("floor", np.floor)
ceil = _rounding("ceil", np.ceil)
round = _rounding("round", np.round)  # half to even, as PyTorch
trunc = _rounding("trunc", np.trunc)
fix = trunc


def frac(input: Tensor) -> Tensor:
    return input - trunc(input.detach())


def floor_divide(input: Tensor | Number, other: Tensor | Number) -> Tensor:
    """Floor of input / other (not recorded)."""
    return _int_op(np.floor_divide, input, other)


def remainder(input: Tensor | Number, other: Tensor | Number) -> Tensor:
    """input - floor(input / other) * other, the sign of other (Python's %)."""
    if isinstance(input, Tensor) and input._rg:
        return input - floor(input.detach() / other) * other
    return _int_op(np.remainder, input, other)


def fmod(input: Tensor | Number, other: Tensor | Number) -> Tensor:
    """C's fmod: the sign of input."""
    if isinstance(input, Tensor) and input._rg:
        return input - trunc(input.detach() / other) * other
    return _int_op(np.fmod, input, other)


def _int_op(fn, a, b) -> Tensor:
    av = a._value() if isinstance(a, Tensor) else a
    bv = b._value() if isinstance(b, Tensor) else b
    dt = a._dtype if isinstance(a, Tensor) else b._dtype
    if isinstance(a, Tensor) and isinstance(b, Tensor):
        dt = dtypes.promote_tensors(a._dtype, a._shape, b._dtype, b._shape)
    elif isinstance(b, float) and not dt.is_floating_point:
        dt = dtypes.get_default_dtype()
    # operands in dt (a python int wrapped into it, as PyTorch does)
    av, bv = (np.asarray(v).astype(dt.np, copy=False) if isinstance(v, np.ndarray) else
              dtypes.wrap_int(v, dt) if isinstance(v, int) else v for v in (av, bv))
    if not dt.is_floating_point and dt is not dtypes.bool_ and np.any(np.asarray(bv) == 0):
        raise RuntimeError("ZeroDivisionError")  # (an integer floor_divide, remainder or fmod)
    with np.errstate(all="ignore"):
        return _from_array(np.asarray(fn(av, bv), dt.np), dt, False)


def std_mean(input: Tensor, dim: Dims | None = None, unbiased: bool = True,
             keepdim: bool = False, *, correction: float | None = None) -> tuple[Tensor, Tensor]:
    """(std, mean) over dim, as torch.std_mean (std_mean(input, unbiased) too)."""
    if isinstance(dim, bool):
        dim, unbiased = None, dim
    return (input.std(dim, unbiased, keepdim=keepdim, correction=correction),
            input.mean(dim, keepdim))


def var_mean(input: Tensor, dim: Dims | None = None, unbiased: bool = True,
             keepdim: bool = False, *, correction: float | None = None) -> tuple[Tensor, Tensor]:
    """(var, mean) over dim, as torch.var_mean (var_mean(input, unbiased) too)."""
    if isinstance(dim, bool):
        dim, unbiased = None, dim
    return (input.var(dim, unbiased, keepdim=keepdim, correction=correction),
            input.mean(dim, keepdim))


def cdist(x1: Tensor, x2: Tensor, p: float = 2.0) -> Tensor:
    """Pairwise p-norm distances between the rows of x1 (..., P, M) and x2 (..., R, M)."""
    diff = x1.unsqueeze(-2) - x2.unsqueeze(-3)
    return diff.norm(p=p, dim=-1)


def diff(input: Tensor, n: int = 1, dim: int = -1) -> Tensor:
    """The n-th forward difference along dim, as torch.diff (a composite of slices:
    differentiable)."""
    d = _dim(dim, input.ndim, "diff")
    out = input
    for _ in range(n):
        m = out._shape[d]
        lo = (slice(None),) * d + (slice(0, m - 1),)
        hi = (slice(None),) * d + (slice(1, m),)
        out = out[hi] - out[lo]
    return out


# ---- integer results --------------------------------------------------------------------
def unique(input: Tensor, sorted: bool = True, return_inverse: bool = False,
           return_counts: bool = False, dim: int | None = None) -> Tensor | tuple[Tensor, ...]:
    """The sorted distinct values of input (optionally the inverse indices and the counts),
    as torch.unique; NumPy's unique, never recorded (not differentiable, as in PyTorch).
    `sorted=False` still sorts."""
    v = input._value()
    u, inv, cnt = np.unique(v if dim is None else v, return_inverse=True, return_counts=True,
                            axis=dim)
    out = [_from_array(np.asarray(u, v.dtype), input._dtype, False)]
    if return_inverse:
        out.append(_long(inv.reshape(v.shape) if dim is None else inv))
    if return_counts:
        out.append(_long(cnt))
    return out[0] if len(out) == 1 else tuple(out)


def bincount(input: Tensor, weights: Tensor | None = None, minlength: int = 0) -> Tensor:
    """Counts of each non-negative integer of a 1-D input (weighted sums with `weights`), as
    torch.bincount."""
    w = None if weights is None else weights._value()
    r = np.bincount(input._value(), w, minlength)
    if w is None:
        return _long(r)
    return _from_array(r.astype(weights._dtype.np), weights._dtype, False)


def searchsorted(sorted_sequence: Tensor, values: Tensor | Number, *, right: bool = False,
                 side: str | None = None) -> Tensor:
    """Indices where `values` would be inserted into the sorted last dimension of
    sorted_sequence to keep it sorted (int64), as torch.searchsorted (1-D sequences)."""
    side = side or ("right" if right else "left")
    v = values._value() if isinstance(values, Tensor) else values
    return _long(np.searchsorted(sorted_sequence._value(), v, side=side))


def bucketize(input: Tensor, boundaries: Tensor, *, right: bool = False) -> Tensor:
    """For each element of input, the index of its bucket in the sorted 1-D `boundaries` (int64)."""
    return _long(np.searchsorted(boundaries._value(), input._value(),
                                 side="left" if not right else "right"))


def isin(elements: Tensor | Number, test_elements: Tensor | Number, *,
         invert: bool = False) -> Tensor:
    """Whether each element of `elements` is in `test_elements` (bool), as torch.isin."""
    e = elements._value() if isinstance(elements, Tensor) else np.asarray(elements)
    t = test_elements._value() if isinstance(test_elements, Tensor) else test_elements
    return _from_array(np.isin(e, t, invert=invert), dtypes.bool_, False)


# ---- constants and dtype information ---------------------------------------------------
inf, nan, pi, e = math.inf, math.nan, math.pi, math.e


class finfo:
    """Floating dtype limits: bits, eps, max, min, tiny, resolution."""

    def __init__(self, type: DType = None):
        fi = np.finfo((type or dtypes.get_default_dtype()).np)
        self.bits, self.eps, self.max, self.min = fi.bits, float(fi.eps), float(fi.max), \
            float(fi.min)
        self.tiny = self.smallest_normal = float(fi.tiny)
        self.resolution = float(fi.resolution)
        self.dtype = str(fi.dtype)


class iinfo:
    """Integer dtype limits: bits, max, min."""

    def __init__(self, type: dtypes.dtype):
        ii = np.iinfo(type.np)
        self.bits, self.max, self.min, self.dtype = ii.bits, int(ii.max), int(ii.min), \
            str(ii.dtype)


_threads = [1]


def get_num_threads() -> int:
    """Threads tapegrad's kernels use (its sweeps are single-threaded)."""
    return _threads[0]


def set_num_threads(n: int) -> None:
    """Accepted for compatibility; tapegrad's sweeps are single-threaded."""
    _threads[0] = int(n)


# ---- Tensor methods -----------------------------------------------------------------------
def _bind() -> None:
    T = Tensor
    for name in ("argsort", "sort", "topk", "msort", "tril", "triu", "diagonal", "diag",
                 "trace", "masked_select", "nonzero", "count_nonzero", "nan_to_num", "roll",
                 "repeat_interleave", "tile", "unbind", "narrow", "movedim", "broadcast_to",
                 "addmm", "baddbmm", "clamp_min", "clamp_max", "floor", "ceil", "round",
                 "trunc", "fix", "frac", "floor_divide", "remainder", "fmod", "diff",
                 "unique", "bincount", "isin"):
        setattr(T, name, globals()[name])
    T.view_as = lambda self, other: self.view(other._shape)
    T.reshape_as = lambda self, other: self.reshape(other._shape)
    T.type_as = lambda self, other: self.to(other._dtype)
    T.ndimension = lambda self: len(self._shape)
    T.element_size = lambda self: self._dtype.np.itemsize
    as_other = {"other": Tensor, "return": Tensor}
    for name, doc, hints in (
            ("view_as", "self viewed in other's shape, as torch.Tensor.view_as.", as_other),
            ("reshape_as", "self reshaped to other's shape.", as_other),
            ("type_as", "self converted to other's dtype, as torch.Tensor.type_as.", as_other),
            ("ndimension", "The number of dimensions (as dim()).", {"return": int}),
            ("element_size", "Bytes per element of the dtype.", {"return": int})):
        fn = getattr(T, name)
        fn.__name__ = fn.__qualname__ = name
        fn.__doc__ = doc
        fn.__annotations__ = dict(hints)

    T.__floordiv__ = lambda self, other: floor_divide(self, other)
    T.__rfloordiv__ = lambda self, other: floor_divide(other, self)
    T.__mod__ = lambda self, other: remainder(self, other)
    T.__rmod__ = lambda self, other: remainder(other, self)


_bind()
