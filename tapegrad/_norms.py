"""torch.linalg's norms, composed of recorded reductions: vector_norm (any ord), matrix_norm
('fro', 'nuc', +-1, +-2, +-inf; the spectral and nuclear norms through svd) and norm."""

import math

from ._hints import Dims, DType
from .recorder import check_tensor

from .tensor import Tensor, _dim


def _float(x: Tensor, op: str, dtype) -> Tensor:
    check_tensor(x, op, "x" if op.endswith("vector_norm") else "A")
    if dtype is not None:
        x = x.to(dtype)
    if not x._dtype.is_floating_point:
        raise RuntimeError(f"{op}: Expected a floating point or complex tensor as input. Got "
                           f"{x._dtype.legacy}")
    return x


def vector_norm(x: Tensor, ord: float = 2, dim: Dims | None = None,
                keepdim: bool = False, *, dtype: DType = None) -> Tensor:
    """(sum |x|^ord)^(1/ord) over dim (all elements when None); ord inf / -inf: the largest /
    smallest |x|; ord 0: the number of nonzero elements."""
    x = _float(x, "linalg.vector_norm", dtype)
    if isinstance(ord, str):
        raise RuntimeError(f"linalg.vector_norm: ord must be a number, got '{ord}'")
    ord = float(ord)
    if isinstance(dim, int):
        dim = (dim,)
    if ord == math.inf:
        return x.abs().amax(() if dim is None else dim, keepdim)
    if ord == -math.inf:
        return x.abs().amin(() if dim is None else dim, keepdim)
    if ord == 0:
        from .composite2 import _zero_grad

        return _zero_grad((x != 0).to(x._dtype).sum(dim, keepdim).detach(), x)
    if ord > 0:
        return x.norm(ord, dim, keepdim)
    return (x.abs() ** ord).sum(dim, keepdim) ** (1.0 / ord)


def _dims2(A: Tensor, dim, op: str) -> tuple:
    if not (isinstance(dim, (tuple, list)) and len(dim) == 2):
        raise RuntimeError(f"{op}: dim must be a 2-tuple. Got {dim}")
    d0, d1 = (_dim(d, A.ndim, op) for d in dim)
    if d0 == d1:
        raise RuntimeError(f"{op}: dims must be different. Got ({d0}, {d1})")
    return d0, d1


def matrix_norm(A: Tensor, ord: float | str = "fro", dim: tuple[int, int] = (-2, -1),
                keepdim: bool = False, *, dtype: DType = None) -> Tensor:
    """The matrix norm over the two dims: 'fro' (Frobenius), 'nuc' (sum of singular values),
    2 / -2 (largest / smallest singular value), 1 / -1 (max / min column sum of |A|), inf /
    -inf (max / min row sum of |A|)."""
    op = "linalg.matrix_norm"
    A = _float(A, op, dtype)
    if A.ndim < 2:
        raise RuntimeError(f"{op}: The input tensor A must have at least 2 dimensions.")
    d0, d1 = _dims2(A, dim, op)
    if ord == "fro":
        return A.norm(2.0, (d0, d1), keepdim)
    if ord in ("nuc", 2, -2, 2.0, -2.0):
        from .linalg_ops import svdvals

        S = svdvals(A.movedim((d0, d1), (-2, -1)))
        r = S.sum(-1) if ord == "nuc" else S.amax(-1) if ord > 0 else S.amin(-1)
        if keepdim:
            for d in sorted((d0, d1)):
                r = r.unsqueeze(d)
        return r
    if ord not in (1, -1, math.inf, -math.inf):
        raise RuntimeError(f"{op}: Order {ord} not supported.")
    rows, cols = (d0, d1) if abs(ord) == 1 else (d1, d0)  # sum over rows: column sums
    s = A.abs().sum(rows, keepdim=True)
    r = s.amax(cols, keepdim=True) if ord > 0 else s.amin(cols, keepdim=True)
    return r if keepdim else r.squeeze(max(d0, d1)).squeeze(min(d0, d1))


def norm(A: Tensor, ord: float | str | None = None,
         dim: Dims | None = None, keepdim: bool = False, *,
         dtype: DType = None) -> Tensor:
    """A vector norm (dim an int, or A 1-D) or matrix norm (dim a 2-tuple, or A 2-D) of
    order ord; with neither ord nor dim, the 2-norm of all elements."""
    check_tensor(A, "linalg.norm", "A")
    if isinstance(dim, int):
        dim = (dim,)
    if dim is not None and len(dim) == 2:
        return matrix_norm(A, "fro" if ord is None else ord, dim, keepdim, dtype=dtype)
    if dim is None and ord is not None:
        if A.ndim == 2:
            return matrix_norm(A, ord, (-2, -1), keepdim, dtype=dtype)
        if A.ndim != 1:
            raise RuntimeError(f"linalg.norm: If dim is not specified but ord is, the input "
                               f"must be 1D or 2D. Got {A.ndim}D.")
    if isinstance(ord, str):
        raise RuntimeError(f"linalg.norm: the '{ord}' norm is a matrix norm: it needs a "
                           f"2-D input or a 2-tuple dim")
    return vector_norm(A, 2 if ord is None else ord, dim, keepdim, dtype=dtype)

