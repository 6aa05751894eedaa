"""More tensor functions composed of recorded ops: order statistics (kthvalue, median,
mode), running products and extrema (cumprod, cummax, ...), rounding with zero gradients,
elementwise composites (hypot, logaddexp), index_add, histc and tensor metadata. NumPy's
`axis=` spelling of `dim=` is in tapegrad/_axis.py; contractions (einsum, tensordot, kron,
diag_embed) are in tapegrad/contract.py.

Like tapegrad/composite.py, nothing here adds a row to the op table: a value chosen by an
order (median, kthvalue, cummax) is a gather at the index NumPy finds, so its gradient goes
to that element as in PyTorch; a running product is a log-depth scan of products, so zeros
in the input get exact gradients (and second derivatives).
"""

import builtins

import numpy as np

from . import dtypes
from ._hints import Dims, DType
from .composite import _int_op, _long, _pair, _shown
from .inplace import _inplace
from .recorder import check_tensor
from .tape.tape import _local
from .tensor import Tensor, _dim, _from_array


def _const(a, dt) -> Tensor:
    return _from_array(np.array(a, dt.np, order="C"), dt, False)


def _keep(t: Tensor, d: int, keepdim: bool) -> Tensor:
    return t if keepdim else t.squeeze(d)


def _no_int(input: Tensor, op: str) -> None:
    if not input._dtype.is_floating_point:
        raise NotImplementedError(f'"{op}_cpu" not implemented for \'{input._dtype.legacy}\'')


# ---- order statistics ------------------------------------------------------------------
def _pick(name, input: Tensor, d: int, idx: np.ndarray, keepdim: bool):
    """(values, indices) where idx (keepdim shape, int64) picks one element along d."""
    ind = _long(idx)
    vals = _keep(input.gather(d, ind), d, keepdim)
    return _pair(name, _shown(vals, _node(name, True), input), _keep(ind, d, keepdim))


def _node(name: str, with_dim: bool) -> str:
    """PyTorch's grad_fn of an order statistic: KthvalueBackward0, ModeBackward0, and
    MedianBackward0 / NanmedianBackward0 over all elements, ...Backward1 along a dim."""
    return f"{name.capitalize()}Backward{int(with_dim and name in ('median', 'nanmedian'))}"


def kthvalue(input: Tensor, k: int, dim: int = -1,
             keepdim: bool = False) -> tuple[Tensor, Tensor]:
    """(values, indices) of the k-th smallest element (k from 1) along dim; NaN sorts last."""
    check_tensor(input, "kthvalue")
    v = input._value()
    if v.ndim == 0:
        if k != 1:
            raise RuntimeError("kthvalue(): selected number k out of range for dimension 0")
        return _pair("kthvalue", _shown(input.clone(), "KthvalueBackward0", input), _long(0))
    d = _dim(dim, v.ndim, "kthvalue")
    if not 1 <= k <= v.shape[d]:
        raise RuntimeError(f"kthvalue(): selected number k out of range for dimension {d}")
    idx = np.take(np.argsort(v, axis=d, kind="stable"), [k - 1], axis=d)
    return _pick("kthvalue", input, d, idx, keepdim)


def _median_index(v: np.ndarray, d: int, ignore_nan: bool) -> np.ndarray:
    order = np.argsort(v, axis=d, kind="stable")  # NaN last
    nan = np.isnan(v) if v.dtype.kind == "f" else np.zeros(v.shape, bool)
    if ignore_nan:
        m = v.shape[d] - nan.sum(axis=d, keepdims=True)
        return np.take_along_axis(order, np.maximum((m - 1) // 2, 0), axis=d)
    idx = np.take(order, [(v.shape[d] - 1) // 2], axis=d)
    has = nan.any(axis=d, keepdims=True)
    return np.where(has, np.argmax(nan, axis=d, keepdims=True), idx)


def _median(name, input: Tensor, dim, keepdim: bool, ignore_nan: bool):
    check_tensor(input, name)
    if dim is None:
        flat = input.reshape(-1)
        if flat._shape[0] == 0:
            return _const(np.nan, input._dtype)
        fv = flat._value()
        i = _median_index(fv, 0, ignore_nan)
        m = fv[int(i[0])]
        ties = np.flatnonzero(np.isnan(fv) if m != m else fv == m) if input.requires_grad \
            else i
        if len(ties) == 1:
            out = flat.gather(0, _long(i)).reshape(())
        else:  # the gradient is shared evenly by the elements equal to the median
            picked = flat[_long(ties)]
            out = picked.sum() / len(ties) if m != m else picked.amax()
        return _shown(out, _node(name, False), input)
    v = input._value()
    if v.ndim == 0:
        return _pair(name, _shown(input.clone(), _node(name, True), input), _long(0))
    d = _dim(dim, v.ndim, name)
    if v.shape[d] == 0:
        raise IndexError(f"{name}(): Expected reduction dim {d} to have non-zero size.")
    return _pick(name, input, d, _median_index(v, d, ignore_nan), keepdim)


def median(input: Tensor, dim: int | None = None,
           keepdim: bool = False) -> Tensor | tuple[Tensor, Tensor]:
    """The lower median of all elements (a 0-d tensor), or (values, indices) along dim;
    NaN if a NaN is present."""
    return _median("median", input, dim, keepdim, False)


def nanmedian(input: Tensor, dim: int | None = None,
              keepdim: bool = False) -> Tensor | tuple[Tensor, Tensor]:
    """median ignoring NaN (NaN only where every element is NaN)."""
    return _median("nanmedian", input, dim, keepdim, True)


def _nan_free(input: Tensor, op: str) -> Tensor:
    """input with its NaNs zeroed (a masked_fill: their gradient is 0)."""
    check_tensor(input, op)
    if not input._dtype.is_floating_point:
        raise RuntimeError(f"{op}(): expected input to have floating point dtype but got "
                           f"{input._dtype.legacy[:-len('Tensor')]}")
    return input.masked_fill(_const(np.isnan(input._value()), dtypes.bool_), 0.0)


def nansum(input: Tensor, dim: Dims | None = None, keepdim: bool = False, *,
           dtype: DType = None) -> Tensor:
    """sum treating NaN as zero (over dim, or all elements)."""
    if not input._dtype.is_floating_point:  # nothing to drop: a plain sum
        return input.sum(dtype=dtype) if dim is None else input.sum(dim, keepdim, dtype=dtype)
    clean = _nan_free(input, "nansum")
    out = clean.sum(dtype=dtype) if dim is None else clean.sum(dim, keepdim, dtype=dtype)
    return _shown(out, "NansumBackward0", input)


def nanmean(input: Tensor, dim: Dims | None = None, keepdim: bool = False, *,
            dtype: DType = None) -> Tensor:
    """mean over the elements that are not NaN (NaN where all are)."""
    clean = _nan_free(input, "nanmean")
    ok = _const(~np.isnan(input._value()), input._dtype)
    total = clean.sum() if dim is None else clean.sum(dim, keepdim)
    count = ok.sum() if dim is None else ok.sum(dim, keepdim)
    out = total / count
    return out if dtype is None else out.to(dtype)


def mode(input: Tensor, dim: int = -1, keepdim: bool = False) -> tuple[Tensor, Tensor]:
    """(values, indices): the most frequent value along dim (the smallest among ties) and
    the index of its last occurrence."""
    check_tensor(input, "mode")
    v = input._value()
    if v.ndim == 0:
        return _pair("mode", _shown(input.clone(), "ModeBackward0", input), _long(0))
    d = _dim(dim, v.ndim, "mode")
    rows = np.moveaxis(v, d, -1).reshape(-1, v.shape[d])
    out = np.zeros(rows.shape[0], np.int64)
    for r, row in enumerate(rows):
        u, cnt = np.unique(row, return_counts=True)
        best = u[np.argmax(cnt)]  # first maximum: the smallest value among ties
        same = (row == best) | (np.isnan(row) & np.isnan(best)) if row.dtype.kind == "f" \
            else row == best
        out[r] = len(row) - 1 - np.argmax(same[::-1])
    idx = np.expand_dims(out.reshape(np.moveaxis(v, d, -1).shape[:-1]), d)
    return _pick("mode", input, d, idx, keepdim)


# ---- running products and extrema -------------------------------------------------------
def _scan(input: Tensor, d: int, combine) -> Tensor:
    """Inclusive scan along d in log2(n) steps of recorded ops (Hillis-Steele)."""
    n, out, s = input._shape[d], input, 1
    while s < n:
        head = out.narrow(d, 0, s)
        tail = combine(out.narrow(d, s, n - s), out.narrow(d, 0, n - s))
        from .movement import cat

        out, s = cat([head, tail], d), s * 2
    return out


def cumprod(input: Tensor, dim: int, *, dtype: dtypes.dtype | None = None) -> Tensor:
    """Running product along dim (integers give int64, as PyTorch)."""
    check_tensor(input, "cumprod")
    if dtype is not None:
        input = input.to(dtype)
    nd = input.ndim
    d = _dim(dim, nd, "cumprod") if nd else 0
    v = input._value()
    if not input._dtype.is_floating_point:
        return _long(np.cumprod(v, axis=d if nd else None).reshape(v.shape))
    if not (input._rg and _local.grad_enabled) or nd == 0:
        r = np.cumprod(v, axis=d) if nd else v
        out = _const(r, input._dtype)
        return out if nd or not input._rg else input.clone()
    return _shown(_scan(input, d, lambda a, b: a * b), "CumprodBackward0", input)


def logcumsumexp(input: Tensor, dim: int) -> Tensor:
    """log(cumsum(exp(input))) along dim, computed stably."""
    check_tensor(input, "logcumsumexp")
    _no_int(input, "logcumsumexp")
    if input.ndim == 0:
        return input.clone()
    return _scan(input, _dim(dim, input.ndim, "logcumsumexp"), logaddexp)


def _cumext(name, input: Tensor, dim: int):
    check_tensor(input, name)
    v = input._value()
    if v.ndim == 0:
        return _pair(name, input.clone(), _long(0))
    d = _dim(dim, v.ndim, name)
    w = np.moveaxis(v, d, 0)
    idx = np.zeros(w.shape, np.int64)
    best = w[0] if w.shape[0] else None
    better = np.greater_equal if name == "cummax" else np.less_equal
    for i in range(1, w.shape[0]):
        x = w[i]
        take = better(x, best)
        if v.dtype.kind == "f":
            take = (take & ~np.isnan(best)) | np.isnan(x)
        idx[i] = np.where(take, i, idx[i - 1])
        best = np.where(take, x, best)
    ind = _long(np.moveaxis(idx, 0, d))
    return _pair(name, input.gather(d, ind), ind)


def cummax(input: Tensor, dim: int) -> tuple[Tensor, Tensor]:
    """(values, indices) of the running maximum along dim (ties: the latest index)."""
    return _cumext("cummax", input, dim)


def cummin(input: Tensor, dim: int) -> tuple[Tensor, Tensor]:
    """(values, indices) of the running minimum along dim (ties: the latest index)."""
    return _cumext("cummin", input, dim)


# ---- rounding: the rounded value, a zero gradient (as PyTorch's) --------------------------
def _zero_grad(r: Tensor, *inputs) -> Tensor:
    """r, linked to the inputs requiring grad with a zero gradient (exact for inf/nan)."""
    from .selection import where

    for x in inputs:
        if isinstance(x, Tensor) and x._rg and _local.grad_enabled:
            if np.broadcast_shapes(x._shape, r._shape) != r._shape:
                x = x.reshape(-1)[:0].sum()  # a zero that reaches x (r keeps its shape)
            r = where(_const(False, dtypes.bool_), x, r)
    return r


def _rounding(name, fn):
    def op(input: Tensor) -> Tensor:
        check_tensor(input, name)
        if not input._dtype.is_floating_point:
            return input.clone()
        r = _zero_grad(_const(fn(input._value()), input._dtype), input)
        return _shown(r, f"{name.capitalize()}Backward0", input) if r._rg else r

    op.__name__ = op.__qualname__ = name
    op.__doc__ = f"Elementwise {name}; integers are returned unchanged; zero gradient."
    return op


floor = _rounding("floor", np.floor)
ceil = _rounding("ceil", np.ceil)
trunc = _rounding("trunc", np.trunc)
fix = trunc


def round(input: Tensor, *, decimals: int = 0) -> Tensor:
    """Round half to even, to `decimals` decimal places (negative: tens, hundreds, ...)."""
    check_tensor(input, "round")
    if decimals == 0 and not input._dtype.is_floating_point:
        return input.clone()
    _no_int(input, "round")
    v = input._value()
    with np.errstate(all="ignore"):
        if decimals > 0:
            p = v.dtype.type(10.0 ** decimals)
            r = np.round(v * p) / p
        elif decimals < 0:
            p = v.dtype.type(10.0 ** -decimals)
            r = np.round(v / p) * p
        else:
            r = np.round(v)
    r = _zero_grad(_const(r, input._dtype), input)
    return _shown(r, f"RoundBackward{int(decimals != 0)}", input) if r._rg else r


def frac(input: Tensor) -> Tensor:
    """input - trunc(input), the sign of input; gradient 1."""
    check_tensor(input, "frac")
    _no_int(input, "frac")
    r = input - _const(np.trunc(input._value()), input._dtype)
    return _shown(r, "FracBackward0", input) if r._rg else r


def div_rounding(input, other, rounding_mode: str) -> Tensor:
    """div(input, other, rounding_mode='trunc' | 'floor'): the rounded quotient (integers
    stay integers; an integer division by zero raises); zero gradient."""
    if rounding_mode not in ("trunc", "floor"):
        raise RuntimeError(f"div expected rounding_mode to be one of None, 'trunc', or 'floor' "
                           f"but found '{rounding_mode}'")
    ints = builtins.all(not x._dtype.is_floating_point if isinstance(x, Tensor) else
                        isinstance(x, (int, np.integer)) for x in (input, other))
    bv = other._value() if isinstance(other, Tensor) else other
    if ints and np.any(np.asarray(bv) == 0):
        raise RuntimeError("ZeroDivisionError")
    if rounding_mode == "floor":
        fn = np.floor_divide
    elif ints:
        def fn(a, b):
            return (a - np.fmod(a, b)) // b
    else:
        def fn(a, b):
            return np.trunc(np.true_divide(a, b))
    return _zero_grad(_int_op(fn, input, other), input, other)


# ---- elementwise composites -------------------------------------------------------------
def _pair_check(input, other, op: str) -> None:
    check_tensor(input, op)
    check_tensor(other, op, "other")
    _no_int(input, op)
    _no_int(other, op)


def hypot(input: Tensor, other: Tensor) -> Tensor:
    """sqrt(input**2 + other**2) without overflow (scaled by the larger magnitude)."""
    from .selection import where

    _pair_check(input, other, "hypot")
    m = np.maximum(np.abs(input._value()), np.abs(other._value()))
    m = _const(np.where((m == 0) | ~np.isfinite(m), 1.0, m),
               dtypes.promote(input._dtype, other._dtype))
    r = m * ((input / m) ** 2 + (other / m) ** 2).sqrt()
    inf = np.isinf(input._value()) | np.isinf(other._value())
    if inf.any():  # hypot(inf, nan) is inf
        r = where(_const(inf, dtypes.bool_), _const(np.inf, r._dtype), r)
    return r


def _logaddexp(input, other, op, exp, log):
    _pair_check(input, other, op)
    m = np.maximum(input._value(), other._value())
    m = _const(np.where(np.isfinite(m), m, 0.0), dtypes.promote(input._dtype, other._dtype))
    return log(exp(input - m) + exp(other - m)) + m


def logaddexp(input: Tensor, other: Tensor) -> Tensor:
    """log(exp(input) + exp(other)), computed stably."""
    return _logaddexp(input, other, "logaddexp", lambda t: t.exp(), lambda t: t.log())


def logaddexp2(input: Tensor, other: Tensor) -> Tensor:
    """log2(2**input + 2**other), computed stably."""
    return _logaddexp(input, other, "logaddexp2", lambda t: 2.0 ** t, lambda t: t.log2())


# ---- index_add, histc --------------------------------------------------------------------
def index_add(input: Tensor, dim: int, index: Tensor, source: Tensor, *,
              alpha: float = 1) -> Tensor:
    """input with alpha * source[..., i, ...] added at input[..., index[i], ...] along dim
    (repeated indices add up)."""
    from .scatter import scatter_add

    for x, a in ((input, "input"), (index, "index"), (source, "source")):
        check_tensor(x, "index_add", a)
    nd = max(input.ndim, 1)
    d = _dim(dim, nd, "index_add")
    iv = index._value()
    if iv.ndim > 1 or iv.dtype.kind not in "iu":
        raise IndexError(f"index_add_(): Index is supposed to be a vector of Long or Int, got "
                         f"{index._dtype.name} of {iv.ndim} dimensions")
    src = source.reshape(1) if source.ndim == 0 else source
    x = input.reshape(1) if input.ndim == 0 else input
    if src.ndim != x.ndim or src._shape[d] != iv.size or builtins.any(
            a != b for i, (a, b) in enumerate(zip(src._shape, x._shape)) if i != d):
        raise RuntimeError(f"index_add_(): source of shape {list(source._shape)} does not fit "
                           f"input of shape {list(input._shape)} with {iv.size} indices along "
                           f"dim {d}")
    if source._dtype is not input._dtype:
        raise RuntimeError(f"index_add_(): self ({input._dtype.legacy}) and source "
                           f"({source._dtype.legacy}) must have the same scalar type")
    if iv.size and (iv.min() < -x._shape[d] or iv.max() >= x._shape[d]):
        raise IndexError(f"index_add_(): index out of range for dim {d} of size {x._shape[d]}")
    view = [1] * nd
    view[d] = iv.size
    full = np.broadcast_to((iv % max(x._shape[d], 1)).astype(np.int64).reshape(view),
                           src._shape)
    if alpha != 1:
        src = src * alpha
    return scatter_add(x, d, _long(np.ascontiguousarray(full)), src).reshape(input._shape)


def index_add_(input: Tensor, dim: int, index: Tensor, source: Tensor, *,
               alpha: float = 1) -> Tensor:

    """In-place index_add."""
    return _inplace(input, "index_add_", lambda t: index_add(t, dim, index, source,
                                                             alpha=alpha))


def histc(input: Tensor, bins: int = 100, min: float = 0, max: float = 0) -> Tensor:
    """Counts of the elements in `bins` equal-width bins over [min, max] (the data's range
    when min == max); elements outside are ignored. Not differentiable."""
    check_tensor(input, "histc")
    _no_int(input, "histogram")
    if bins <= 0:
        raise RuntimeError(f"torch.histogram(): bins must be > 0, but got {bins} for dimension 0")
    if min > max:
        raise RuntimeError("torch.histc: max must be larger than min")
    v = input._value().reshape(-1)
    lo, hi = float(min), float(max)
    if lo == hi and v.size:
        lo, hi = float(np.nanmin(v)), float(np.nanmax(v))
    if lo == hi:
        lo, hi = lo - 1, hi + 1
    cnt, _ = np.histogram(v[~np.isnan(v)], bins, (lo, hi))
    return _const(cnt, input._dtype)


# ---- metadata -----------------------------------------------------------------------------
def _storage_offset(self: Tensor) -> int:
    """Elements between the start of the storage and this tensor's first element."""
    arr = self._arr if self._tape is None else None
    base = getattr(arr, "base", None)
    while isinstance(getattr(base, "base", None), np.ndarray):
        base = base.base
    if not isinstance(base, np.ndarray) or base.size == 0 or arr.size == 0:
        return 0
    start = arr.__array_interface__["data"][0]
    return (start - base.__array_interface__["data"][0]) // arr.itemsize


# ---- Tensor methods -----------------------------------------------------------------------
def _bind() -> None:
    T = Tensor
    for name in ("kthvalue", "median", "nanmedian", "nansum", "nanmean", "mode", "cumprod",
                 "logcumsumexp", "cummax", "cummin", "floor", "ceil", "trunc", "fix", "round",
                 "frac", "hypot", "logaddexp", "logaddexp2", "index_add", "index_add_", "histc"):
        setattr(T, name, globals()[name])
    T.nbytes = property(lambda self: self.numel() * self._dtype.np.itemsize,
                        doc="Bytes of the tensor's elements (numel * element_size).")
    T.itemsize = property(lambda self: self._dtype.np.itemsize,
                          doc="Bytes per element.")
    T.storage_offset = _storage_offset


_bind()
