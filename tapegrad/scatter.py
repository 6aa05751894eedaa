"""scatter and scatter_add (and their in-place forms): writes along one dim at the
positions an index tensor gives, recorded as one index_put of the flat positions, which
NumPy computes with PyTorch's checks, and shown as PyTorch's node (ScatterBackward0,
ScatterBackward1 for a value, ScatterAddBackward0)."""

import numpy as np

from . import dtypes
from .inplace import _inplace
from .recorder import check_tensor as _check_tensor
from .selection import _put
from .tensor import Tensor, _dim


def _scatter_positions(input, dim, index, src, op):
    """Flat positions in input of out[index[p] along dim, p elsewhere] with PyTorch's checks
    (a 0-d tensor counts as 1-d), and the part of src (a tensor) that index covers."""
    _check_tensor(input, op)
    _check_tensor(index, op, "index")
    if index._dtype not in (dtypes.int64, dtypes.int32):
        raise RuntimeError(f"{op}(): Expected dtype int32/int64 for index (got {index._dtype})")
    sh, ish = input._shape or (1,), index._shape or (1,)
    d = _dim(dim, len(sh), op)
    if len(ish) != len(sh):
        raise RuntimeError(f"{op}(): Index tensor must have the same number of dimensions as "
                           f"self tensor (index {list(index._shape)}, self {list(input._shape)})")
    if isinstance(src, Tensor) and len(src._shape or (1,)) != len(sh):
        raise RuntimeError(f"{op}(): Index tensor must have the same number of dimensions as "
                           f"src tensor (index {list(index._shape)}, src {list(src._shape)})")
    ssh = (src._shape or (1,)) if isinstance(src, Tensor) else ish
    if any(i > s for i, s in zip(ish, ssh)) or any(
            i > s for k, (i, s) in enumerate(zip(ish, sh)) if k != d):
        raise RuntimeError(f"{op}(): Expected index {list(ish)} to be no larger than self "
                           f"{list(sh)} apart from dimension {d}" + (
                               f" and to be no larger size than src {list(ssh)}"
                               if isinstance(src, Tensor) else ""))
    iv = index._value().reshape(ish)
    bad = (iv < 0) | (iv >= sh[d])
    if bad.any():
        raise RuntimeError(f"{op}(): index {int(iv[bad].flat[0])} is out of bounds for dimension "
                           f"{d} with size {sh[d]}")
    coords = list(np.indices(ish, sparse=True))
    coords[d] = iv
    pos = np.ravel_multi_index(tuple(coords), sh).reshape(index._shape)
    if isinstance(src, Tensor):
        if src._shape != ish and src._shape:
            src = src[tuple(slice(0, n) for n in ish)]
        src = src.reshape(index._shape)
    return pos, src


def scatter(input: Tensor, dim: int, index: Tensor, src: Tensor | float | None = None, *,
            value: float | None = None, reduce: str | None = None) -> Tensor:
    """input with input[index[p] along dim, p elsewhere] = src[p] (or `value`); reduce='add'
    adds instead (scatter_add). Recorded as an index_put (grad_fn ScatterBackward0,
    ScatterBackward1 with a value, ScatterAddBackward0 with reduce='add')."""
    if src is not None and not isinstance(src, Tensor):
        src, value = None, src
    if src is None and value is None:
        raise TypeError("scatter(): expected a `src` tensor or a `value`")
    if reduce not in (None, "add"):
        raise NotImplementedError(f"scatter(): reduce={reduce!r} is not supported (only 'add'); "
                                  "use scatter_reduce")
    given = src
    pos, src = _scatter_positions(input, dim, index, src, "scatter")
    if src is not None and src._dtype is not input._dtype:
        raise RuntimeError(f"scatter(): Expected self.dtype to be equal to src.dtype (got "
                           f"{input._dtype} and {src._dtype})")
    out = _put("index_put", input, pos, value if src is None else src, reduce == "add",
               "scatter")
    if out._rg:  # shown as PyTorch's node (tapegrad records an index_put)
        from .nn._grad_fn import show

        name = ("ScatterAddBackward0" if reduce == "add" else "ScatterBackward0") \
            if src is not None else "ScatterBackward1"
        show(out, name, input, *(() if src is None else (given,)))
    return out


def scatter_add(input: Tensor, dim: int, index: Tensor, src: Tensor) -> Tensor:
    """input with src[p] added at input[index[p] along dim, p elsewhere] (repeats add up)."""
    return scatter(input, dim, index, src, reduce="add")


def _scatter_(input: Tensor, dim: int, index: Tensor, src: Tensor | float | None = None, *,
              value: float | None = None, reduce: str | None = None) -> Tensor:
    """In-place scatter: self[index[p] along dim] = src[p] (or `value`), as
    torch.Tensor.scatter_."""
    return _inplace(input, "scatter_", lambda t: scatter(t, dim, index, src, value=value,
                                                        reduce=reduce))


def _scatter_add_(input: Tensor, dim: int, index: Tensor, src: Tensor) -> Tensor:

    """In-place scatter_add: self[index[p] along dim] += src[p], as torch.Tensor.scatter_add_."""
    return _inplace(input, "scatter_add_", lambda t: scatter_add(t, dim, index, src))


def _bind():
    T = Tensor
    T.scatter, T.scatter_add, T.scatter_, T.scatter_add_ = (scatter, scatter_add, _scatter_,
                                                            _scatter_add_)


_bind()
