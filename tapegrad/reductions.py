"""Reductions: sum, mean, prod, amax/amin, max/min (with indices over a dim), var, std,
norm, logsumexp, cumsum; all one REDUCE family of the op table."""

import builtins
import math

import numpy as np

from . import dtypes
from ._hints import Dims, DType, Number
from .functions import _binary, _strides, to
from .recorder import OP as _OP
from .recorder import check_tensor as _check_tensor
from .recorder import record
from .tape.tape import _local
from .tensor import Tensor, _dim, _from_array


# ---- reductions -----------------------------------------------------------------------
def _dims(dim, nd, op):
    if dim is None:
        return tuple(range(nd))
    if not (isinstance(dim, int) or isinstance(dim, (tuple, list)) and
            builtins.all(isinstance(d, int) for d in dim)) or isinstance(dim, bool):
        raise TypeError(f"{op}(): argument 'dim' must be int or tuple of ints, not "
                        f"{type(dim).__name__}")
    dims = (dim,) if isinstance(dim, int) else tuple(dim)
    out = tuple(sorted({_dim(d, nd, op) for d in dims}))
    if len(out) != len(dims):
        raise RuntimeError(f"{op}(): dim {list(dims)} appears multiple times in the list of dims")
    return out


_INT_REDUCE = {"sum": np.sum, "prod": np.prod, "amax": np.max, "amin": np.min, "max": np.max,
               "min": np.min}


_NEEDS_ONE = frozenset(("amax", "amin", "max", "min"))  # no reduction of 0 elements


def _reduce(name, x, dim, keepdim, dtype=None, c=0.0):
    """Record a REDUCE op: `name` over all elements (dim None) or its `_dim` form; the
    float `c` is the op's parameter (correction of var/std, p of norm)."""
    if dim is None and not keepdim and dtype is None and type(x) is Tensor and x._rg and \
            _local.grad_enabled and x._dtype.is_floating_point and (0 not in x._shape or
                                                                   name not in _NEEDS_ONE):
        return record(name, (x,), (), x._dtype, c=float(c))  # all elements: the common case
    _check_tensor(x, name)
    nd = len(x._shape)
    dims = _dims(dim, nd, name)
    if dtype is not None:
        x = to(x, dtype)
    dt = x._dtype
    if not dt.is_floating_point:
        f = _INT_REDUCE.get(name)
        if f is None:
            raise RuntimeError(f"{name}(): could not infer output dtype. Input dtype must be "
                               f"either a floating point or complex dtype. Got: "
                               f"{dt.legacy[:-len('Tensor')]}")  # (Long, Int, Bool)
        v = np.asarray(f(x._value(), axis=dims, keepdims=keepdim))
        out_dt = dtypes.int64 if name in ("sum", "prod") else dt
        return _from_array(v.astype(out_dt.np), out_dt, False)
    if 0 in x._shape and name in _NEEDS_ONE and (dim is None or 0 in [
            x._shape[d] for d in dims]):
        raise IndexError(f"{name}(): Expected reduction dim to be specified for input.numel() "
                         f"== 0. Specify the reduction dim with the 'dim' argument.")
    keep = tuple(1 if i in dims else d for i, d in enumerate(x._shape))
    shape = keep if keepdim else tuple(d for i, d in enumerate(x._shape) if i not in dims)
    if not (x._rg and _local.grad_enabled):
        v = _np_reduce(name, x._value().astype(np.float64), dims if nd else (), float(c))
        return _from_array(np.array(v, dt.np).reshape(shape), dt, False)
    op = name if dim is None and not keepdim else (name + "_dim" if name + "_dim" in _OP
                                                   else name)
    params = None
    if nd and (dim is not None or keepdim):  # a dim of a 0-d tensor: the _dim op, no params
        params = (nd,) + x._shape + tuple(_strides(keep, keep)[i] if i not in dims else 0
                                          for i in range(nd))
    return record(op, (x,), shape, dt, params=params, c=float(c))


def _np_reduce(name, a, dims, c):
    """A reduction that needs no grad, in NumPy, as the REDUCE kernel computes it: float64
    accumulation (a is float64), nan propagating through max/min, IEEE results."""
    per = math.prod(a.shape[d] for d in dims)  # elements per output
    with np.errstate(all="ignore"):  # (NumPy's mean and var would warn on empty slices)
        if name in ("sum", "prod"):
            return getattr(np, name)(a, axis=dims, keepdims=True)
        if name == "mean":
            return np.sum(a, axis=dims, keepdims=True) / per
        if name in ("var", "std"):
            d = a - np.sum(a, axis=dims, keepdims=True) / per
            v = np.sum(d * d, axis=dims, keepdims=True) / (per - c)
            return v if name == "var" else np.sqrt(v)
        if name in ("amax", "max"):
            return np.max(a, axis=dims, keepdims=True)
        if name in ("amin", "min"):
            return np.min(a, axis=dims, keepdims=True)
        if name == "norm":
            if c == np.inf:
                return np.max(np.abs(a), axis=dims, keepdims=True)
            if c == 2:
                return np.sqrt(np.sum(a * a, axis=dims, keepdims=True))
            return np.sum(np.abs(a) ** c, axis=dims, keepdims=True) ** (1.0 / c)
        if name == "logsumexp":  # m + log(sum exp(x - m)), m the max (0 where not finite)
            m = np.max(a, axis=dims, keepdims=True) if a.size else np.zeros(
                tuple(1 if i in dims else d for i, d in enumerate(a.shape)))
            m = np.where(np.isfinite(m), m, 0.0)
            return m + np.log(np.sum(np.exp(a - m), axis=dims, keepdims=True))
    raise NotImplementedError(f"{name}: no NumPy path")


def sum(input: Tensor, dim: Dims | None = None, keepdim: bool = False, *,
        dtype: DType = None) -> Tensor:
    """The sum of input's elements over dim (an int, a tuple, or all when None), as
    torch.sum; keepdim keeps the reduced dimensions as size 1; integer and bool inputs sum to
    int64 as in PyTorch. One SumBackward record when input requires grad."""
    return _reduce("sum", input, dim, keepdim, dtype)


def mean(input: Tensor, dim: Dims | None = None, keepdim: bool = False, *,
         dtype: DType = None) -> Tensor:
    """The mean over dim (all when None), as torch.mean; integer inputs raise, as in PyTorch."""
    return _reduce("mean", input, dim, keepdim, dtype)


def prod(input: Tensor, dim: int | None = None, keepdim: bool = False, *,
         dtype: DType = None) -> Tensor:
    """The product over dim (all when None), as torch.prod (its gradient handles zeros)."""
    return _reduce("prod", input, dim, keepdim, dtype)


def amax(input: Tensor, dim: Dims = (), keepdim: bool = False) -> Tensor:
    """The maximum over dim (all when omitted), as torch.amax: the gradient is split evenly between
    ties."""
    return _reduce("amax", input, None if dim == () else dim, keepdim)


def amin(input: Tensor, dim: Dims = (), keepdim: bool = False) -> Tensor:
    """The minimum over dim (all when omitted), as torch.amin: the gradient is split evenly between
    ties."""
    return _reduce("amin", input, None if dim == () else dim, keepdim)


class _ValuesIndices(tuple):
    """(values, indices) of max/min over a dim, like torch.return_types.max."""

    values = property(lambda self: self[0])
    indices = property(lambda self: self[1])

    def __repr__(self):
        return (f"torch.return_types.{self.name}(\nvalues={self[0]!r},\n"
                f"indices={self[1]!r})")


_KINDS: dict = {}


def _values_indices(name: str, values: Tensor, indices: Tensor) -> _ValuesIndices:
    """(values, indices) as an instance of a subclass named after the op (type(r).__name__
    is 'max', 'sort', 'topk', ... as torch.return_types' are)."""
    cls = _KINDS.get(name)
    if cls is None:
        cls = _KINDS[name] = type(name, (_ValuesIndices,), {"name": name, "__slots__": ()})
    return cls((values, indices))


def _max_min(name, input, dim=None, keepdim=False):
    """max(x) (MaxBackward1), max(x, dim) -> (values, indices), max(x, other) = maximum."""
    if isinstance(dim, Tensor):
        return _binary("maximum" if name == "max" else "minimum", input, dim)
    if dim is None:
        return _reduce(name, input, None, False)
    d = _dim(dim, input.ndim, name) if input.ndim else 0
    values = _reduce(name, input, d if input.ndim else None, keepdim)
    arg = np.argmax if name == "max" else np.argmin
    v = input._value()
    idx = arg(v, axis=d) if v.ndim else np.zeros((), np.int64)  # first occurrence, as PyTorch
    if keepdim and v.ndim:
        idx = np.expand_dims(idx, d)
    return _values_indices(name, values,
                           _from_array(np.asarray(idx, np.int64), dtypes.int64, False))


_ValuesIndices.name = "max"


def max(input: Tensor, dim: int | Tensor | None = None,
        keepdim: bool = False) -> Tensor | tuple[Tensor, Tensor]:
    """max(input): the largest element; max(input, dim, keepdim) -> (values, indices) of
    the first maximum; max(input, other): elementwise maximum. As torch.max."""
    return _max_min("max", input, dim, keepdim)


def min(input: Tensor, dim: int | Tensor | None = None,
        keepdim: bool = False) -> Tensor | tuple[Tensor, Tensor]:
    """min(input): the smallest element; min(input, dim, keepdim) -> (values, indices) of
    the first minimum; min(input, other): elementwise minimum. As torch.min."""
    return _max_min("min", input, dim, keepdim)


def var(input: Tensor, dim: Dims | None = None, unbiased: bool = True, keepdim: bool = False,
        *, correction: Number | None = None) -> Tensor:
    """The variance over dim with Bessel's correction (`correction`, or `unbiased`), as
    torch.var."""
    if isinstance(dim, bool):  # var(input, unbiased), PyTorch's older overload
        dim, unbiased = None, dim
    c = correction if correction is not None else (1 if unbiased else 0)
    return _reduce("var", input, dim, keepdim, c=c)


def std(input: Tensor, dim: Dims | None = None, unbiased: bool = True, keepdim: bool = False,
        *, correction: Number | None = None) -> Tensor:
    """The standard deviation over dim with Bessel's correction (`correction`, or `unbiased`), as
    torch.std."""
    if isinstance(dim, bool):  # std(input, unbiased), PyTorch's older overload
        dim, unbiased = None, dim
    c = correction if correction is not None else (1 if unbiased else 0)
    return _reduce("std", input, dim, keepdim, c=c)


def norm(input: Tensor, p: float | str | None = "fro", dim: Dims | None = None,
         keepdim: bool = False, dtype: DType = None) -> Tensor:
    """Vector norm over all elements or dims: p = 1, 2 ('fro'), inf or any float > 0."""
    p = 2.0 if p in ("fro", None) else float(p)
    if not p > 0:
        raise RuntimeError(f"norm: p = {p} is not supported (p must be positive or inf)")
    return _reduce("norm", input, dim, keepdim, dtype, c=p)


def logsumexp(input: Tensor, dim: Dims | None = None, keepdim: bool = False) -> Tensor:
    """log(sum(exp(input))) over dim, computed stably (max subtracted), as torch.logsumexp."""
    return _reduce("logsumexp", input, dim, keepdim)


def cumsum(input: Tensor, dim: int, *, dtype: DType = None) -> Tensor:

    """Running sum along dim (CumsumBackward0)."""
    _check_tensor(input, "cumsum")
    if dtype is not None:
        input = to(input, dtype)
    nd = input.ndim
    d = _dim(dim, nd, "cumsum") if nd else 0
    if not input._dtype.is_floating_point:
        v = np.cumsum(input._value(), axis=d if nd else None).reshape(input._shape)
        return _from_array(v.astype(np.int64), dtypes.int64, False)
    if not (input._rg and _local.grad_enabled):  # float64 running sums, as the kernel
        v = np.cumsum(input._value().astype(np.float64), axis=d if nd else None)
        return _from_array(v.astype(input._dtype.np).reshape(input._shape), input._dtype, False)
    sh = input._shape
    return record("cumsum", (input,), sh, input._dtype,
                  params=(math.prod(sh[d + 1:]), sh[d] if nd else 1))


def _bind():
    for name in ("sum", "mean", "prod", "amax", "amin", "max", "min", "var", "std", "norm",
                 "logsumexp", "cumsum"):
        setattr(Tensor, name, globals()[name])


_bind()
