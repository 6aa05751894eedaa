"""Matrix products: matmul for every rank, mm, mv, dot, bmm, outer, linear (the MATMUL
family). The public names are exported by tapegrad, tapegrad.linalg (matmul) and
tapegrad.nn.functional (linear)."""

import math

import numpy as np

from .functions import _binary, broadcast_shapes
from .recorder import check_tensor as _check_tensor
from .recorder import record
from .tape.tape import _local
from .tensor import Tensor, _from_array


# ---- matmul ---------------------------------------------------------------------------
def matmul(input: Tensor, other: Tensor) -> Tensor:
    """Matrix product of two tensors of any rank >= 1, as torch.matmul: 1-D operands are
    vectors (dot, mv, vector-matrix), batch dimensions broadcast. One record (the MATMUL
    family) when a float operand requires grad; NumPy's matmul otherwise."""
    return _matmul_op(input, other, "matmul")


_C_NAMES = {"float32": "float", "float64": "double", "int64": "long int", "int32": "int",
            "int16": "short int", "int8": "signed char", "uint8": "unsigned char"}


def _c_name(dt) -> str:
    """A dtype as PyTorch's messages name its element type (double, long int, ...)."""
    return _C_NAMES.get(dt.name, dt.name)


def _matmul_op(input, other, _op):
    """matmul, with `_op` naming the caller (mm, mv, dot, linear) in error messages."""
    _check_tensor(input, _op)
    _check_tensor(other, _op, "other")
    a, b = input._shape, other._shape
    if input._dtype is not other._dtype:
        raise RuntimeError(f"{_op}: expected m1 and m2 to have the same dtype, but got: "
                           f"{_c_name(input._dtype)} != {_c_name(other._dtype)}")
    if len(a) == 0 or len(b) == 0:
        raise RuntimeError(f"{_op}: both arguments to matmul need to be at least 1D, but they are "
                           f"{len(a)}D and {len(b)}D")
    if len(a) > 2 or len(b) > 2:
        return _batched("matmul_batched", input, other)
    if len(a) == 1 and len(b) == 1:
        if a[0] != b[0]:
            raise RuntimeError(f"{_op}: inconsistent tensor size, expected tensor [{a[0]}] and src "
                               f"[{b[0]}] to have the same number of elements, but got {a[0]} "
                               f"and {b[0]} elements respectively")
        return _matmul("dot", input, other, 1, a[0], 1, ())
    if len(a) == 2 and len(b) == 1:
        if a[1] != b[0]:
            raise RuntimeError(f"{_op}: size mismatch, got input ({a[0]}), mat ({a[0]}x{a[1]}), "
                               f"vec ({b[0]})")
        return _matmul("mv", input, other, a[0], a[1], 1, (a[0],))
    if len(a) == 1:
        if a[0] != b[0]:
            raise RuntimeError(f"{_op}: size mismatch, got vector ({a[0]}) and matrix "
                               f"({b[0]}x{b[1]})")
        return _matmul("vm", input, other, 1, a[0], b[1], (b[1],))
    if a[1] != b[0]:
        raise RuntimeError(f"{_op}: mat1 and mat2 shapes cannot be multiplied ({a[0]}x{a[1]} and "
                           f"{b[0]}x{b[1]})")
    return _matmul("mm", input, other, a[0], a[1], b[1], (a[0], b[1]))


def _matmul(name, x, y, m, k, n, shape):
    dt = x._dtype
    if not (dt.is_floating_point and (x._rg or y._rg) and _local.grad_enabled):
        return _np_matmul(x, y, shape)
    return record(name, (x, y), shape, dt, params=(m, k, n, 1, 0, 0))


def _batched(name, x, y):
    """Batched matmul: batch dims broadcast; a 1-D operand is a row/column vector."""
    a, b = x._shape, y._shape
    xa = a if len(a) > 1 else (1,) + a
    yb = b if len(b) > 1 else b + (1,)
    m, k, k2, n = xa[-2], xa[-1], yb[-2], yb[-1]
    if k != k2:
        raise RuntimeError(f"Expected size for first two dimensions of batch2 tensor to be: "
                           f"[{math.prod(a[:-2])}, {k}] but got: [{math.prod(b[:-2])}, {k2}]. "
                           f"({name} of shapes {list(a)} and {list(b)})")
    batch = broadcast_shapes(xa[:-2], yb[:-2], name)
    nb = math.prod(batch)
    if x.ndim == 1 or y.ndim == 1:
        x, y = x.reshape(xa), y.reshape(yb)
    sa = 0 if math.prod(xa[:-2]) == 1 else m * k
    sb = 0 if math.prod(yb[:-2]) == 1 else k * n
    if sa and xa[:-2] != batch:
        x = x.expand(batch + xa[-2:])
    if sb and yb[:-2] != batch:
        y = y.expand(batch + yb[-2:])
    shape = batch + ((m,) if len(a) > 1 else ()) + ((n,) if len(b) > 1 else ())
    if not (x._dtype.is_floating_point and (x._rg or y._rg) and _local.grad_enabled):
        return _np_matmul(x, y, shape)
    return record(name, (x, y), shape, x._dtype, params=(m, k, n, nb, sa, sb))


def linear(input: Tensor, weight: Tensor, bias: Tensor | None = None) -> Tensor:
    """input @ weight.T + bias over the last dim of input (torch.nn.functional.linear).

    The product is one `mm_nt` record that reads weight as stored (out, in): no transposed
    copy of the weight per call, then the bias add: two records. `nn.functional.linear`
    gives the result PyTorch's grad_fn for display (AddmmBackward0 for a 2-D input with a
    bias; tapegrad/nn/_grad_fn.py)."""
    _check_tensor(input, "linear")
    _check_tensor(weight, "linear", "weight")
    if weight.ndim != 2 or input.ndim < 2:
        y = _matmul_op(input, weight.t() if weight.ndim == 2 else weight, "linear")
    else:
        sh = input._shape
        w = weight._shape
        if sh[-1] != w[1]:
            rows = math.prod(sh[:-1])
            raise RuntimeError(f"linear: mat1 and mat2 shapes cannot be multiplied ({rows}x{sh[-1]}"
                               f" and {w[1]}x{w[0]})")
        if input._dtype is not weight._dtype:
            raise RuntimeError(f"linear: mat1 and mat2 must have the same dtype, but got "
                               f"{input._dtype.legacy[:-6]} and {weight._dtype.legacy[:-6]}")
        x = input if len(sh) == 2 else input.reshape(-1, sh[-1])
        m = x._shape[0]
        dt = x._dtype
        if not (dt.is_floating_point and (x._rg or weight._rg) and _local.grad_enabled):
            with np.errstate(all="ignore"):
                v = np.dot(x._value(), weight._value().T)
            y = _from_array(np.asarray(v, dt.np), dt, False)
        else:
            y = record("mm_nt", (x, weight), (m, w[0]), dt, params=(m, w[1], w[0], 1, 0, 0))
        if len(sh) != 2:
            y = y.reshape(sh[:-1] + (w[0],))
    return y if bias is None else y + bias


def _np_matmul(x, y, shape):
    """A product that needs no grad (or of integers): NumPy's matmul (the same BLAS)."""
    with np.errstate(all="ignore"):
        v = np.matmul(x._value(), y._value())
    return _from_array(np.array(v, x._dtype.np).reshape(shape), x._dtype, False)


def bmm(input: Tensor, mat2: Tensor) -> Tensor:
    """Batched matrix product of two 3-D tensors [b, n, m] @ [b, m, p], as torch.bmm
    (one record; no broadcasting of the batch dimension, as in PyTorch)."""
    if input.ndim != 3 or mat2.ndim != 3:
        raise RuntimeError(f"bmm: batch1 must be a 3D tensor, got {input.ndim}-D and "
                           f"{mat2.ndim}-D")
    if input._shape[0] != mat2._shape[0] or input._shape[2] != mat2._shape[1]:
        raise RuntimeError(f"Expected size for first two dimensions of batch2 tensor to be: "
                           f"[{input._shape[0]}, {input._shape[2]}] but got: [{mat2._shape[0]}, "
                           f"{mat2._shape[1]}]. (bmm of shapes {list(input._shape)} and "
                           f"{list(mat2._shape)})")
    return _batched("bmm", input, mat2)


def mm(input: Tensor, mat2: Tensor) -> Tensor:
    """Matrix product of two 2-D tensors, as torch.mm (one MmBackward0 record)."""
    if input.ndim != 2 or mat2.ndim != 2:
        raise RuntimeError(f"mm: expected 2-D tensors, got {input.ndim}-D and {mat2.ndim}-D")
    return _matmul_op(input, mat2, "mm")


def mv(input: Tensor, vec: Tensor) -> Tensor:
    """Matrix-vector product of a 2-D and a 1-D tensor, as torch.mv."""
    if input.ndim != 2 or vec.ndim != 1:
        raise RuntimeError(f"mv: expected a 2-D matrix and a 1-D vector, got {input.ndim}-D and "
                           f"{vec.ndim}-D")
    return _matmul_op(input, vec, "mv")


def dot(input: Tensor, other: Tensor) -> Tensor:
    """Inner product of two 1-D tensors of the same length, as torch.dot."""
    if input.ndim != 1 or other.ndim != 1:
        raise RuntimeError(f"dot: 1D tensors expected, but got {input.ndim}D and {other.ndim}D "
                           f"tensors (shapes {list(input._shape)} and {list(other._shape)})")
    return _matmul_op(input, other, "dot")


def outer(input: Tensor, vec2: Tensor) -> Tensor:
    """Outer product of two 1-D tensors, as torch.outer: a broadcast multiply
    (MulBackward0, as PyTorch records it); `ger` is the same function."""
    if input.ndim != 1 or vec2.ndim != 1:
        raise RuntimeError(f"outer: expected 1-D vectors, got {input.ndim}-D and {vec2.ndim}-D")
    return _binary("mul", input.reshape(-1, 1), vec2)


ger = outer


def _bind() -> None:
    """Bind the products as Tensor methods and the @ operator."""
    for name in ("matmul", "mm", "mv", "dot", "bmm", "outer", "ger"):
        setattr(Tensor, name, globals()[name])
    Tensor.__matmul__ = matmul
    Tensor.__rmatmul__ = _rmatmul


def _rmatmul(self: Tensor, other: object) -> Tensor:
    """other @ self for a Tensor subclass on the left (NotImplemented otherwise)."""
    return matmul(other, self) if isinstance(other, Tensor) else NotImplemented


_bind()
