"""Short compositions PyTorch programs reach for: addcmul/addcdiv, cross, dist,
broadcast_tensors, logspace, take, tril/triu_indices, Tensor.unflatten, .stride, .apply_,
the pinned-memory methods and shared memory (.share_memory_, .is_shared).

Each is built from recorded ops (its gradient comes with them) or, for index and stride
helpers, from NumPy (no gradient, as in PyTorch)."""

import mmap
from typing import Any, Callable

import numpy as np

from . import dtypes
from .tensor import Tensor, _dim, _expose, _from_array, _Version

__all__ = ["addcmul", "addcdiv", "cross", "dist", "broadcast_tensors", "logspace", "take",
           "tril_indices", "triu_indices"]


def addcmul(input: Tensor, tensor1: Tensor, tensor2: Tensor, *, value: float = 1) -> Tensor:
    """input + value * tensor1 * tensor2, elementwise with broadcasting."""
    return input + (tensor1 * tensor2) * value


def addcdiv(input: Tensor, tensor1: Tensor, tensor2: Tensor, *, value: float = 1) -> Tensor:
    """input + value * tensor1 / tensor2, elementwise with broadcasting."""
    return input + (tensor1 / tensor2) * value


def cross(input: Tensor, other: Tensor, dim: "int | None" = None) -> Tensor:
    """The cross product of 3-vectors along `dim` (default: the first dim of size 3, as
    torch.cross without dim), with broadcasting."""
    from .movement import stack

    from .composite import broadcast_shapes

    shape = tuple(broadcast_shapes(input._shape, other._shape))
    if dim is None:
        dim = next((i for i, n in enumerate(shape) if n == 3), None)
        if dim is None:
            raise RuntimeError(f"no dimension of size 3 in input (shapes {list(input._shape)} "
                               f"and {list(other._shape)})")
    d = _dim(dim, len(shape), "cross")
    if shape[d] != 3:
        raise RuntimeError(f"linalg.cross: inputs dimension {dim} must have length 3. Got "
                           f"{input._shape[d] if d < len(input._shape) else 1} and "
                           f"{other._shape[d] if d < len(other._shape) else 1}")
    a, b = input.expand(*shape), other.expand(*shape)
    ax = [a.select(d, i) for i in range(3)]
    bx = [b.select(d, i) for i in range(3)]
    return stack([ax[1] * bx[2] - ax[2] * bx[1], ax[2] * bx[0] - ax[0] * bx[2],
                  ax[0] * bx[1] - ax[1] * bx[0]], d)


def dist(input: Tensor, other: Tensor, p: float = 2) -> Tensor:
    """The p-norm of input - other (broadcast), as torch.dist."""
    return (input - other).norm(p)


def broadcast_tensors(*tensors: Tensor) -> tuple:
    """The tensors expanded to their common broadcast shape (views when nothing needs grad),
    as torch.broadcast_tensors."""
    from .composite import broadcast_shapes

    shape = tuple(broadcast_shapes(*(t._shape for t in tensors)))
    return tuple(t.expand(*shape) for t in tensors)


def logspace(start: float, end: float, steps: int, base: float = 10.0, *,
             dtype: "dtypes.dtype | None" = None, requires_grad: bool = False,
             device: object = None) -> Tensor:
    """base ** linspace(start, end, steps), as torch.logspace."""
    from .device import check_device
    from .ranges import linspace

    check_device(device, "logspace")
    exps = linspace(start, end, steps, dtype=dtypes.float64)
    dt = dtype or dtypes.get_default_dtype()
    v = np.power(float(base), exps.numpy()).astype(dt.np)
    return _from_array(v, dt, requires_grad)


def take(input: Tensor, index: Tensor) -> Tensor:
    """input read as flat (row-major) at `index`, in index's shape, as torch.take."""
    from .nn._grad_fn import show  # one TakeBackward0 node, as PyTorch's

    out = input.reshape(-1)[index]
    return show(out, "TakeBackward0", input) if out is not input else out


def _indices(fn, row, col, offset, dtype):
    r, c = fn(row, offset, col)
    dt = dtype or dtypes.int64
    return _from_array(np.stack([r, c]).astype(dt.np), dt, False)


def tril_indices(row: int, col: int, offset: int = 0, *, dtype: "dtypes.dtype | None" = None,
                 device: object = None) -> Tensor:
    """The 2 x N (row, column) indices of the lower triangle of a row x col matrix."""
    return _indices(np.tril_indices, row, col, offset, dtype)


def triu_indices(row: int, col: int, offset: int = 0, *, dtype: "dtypes.dtype | None" = None,
                 device: object = None) -> Tensor:
    """The 2 x N (row, column) indices of the upper triangle of a row x col matrix."""
    return _indices(np.triu_indices, row, col, offset, dtype)


def _unflatten(self: Tensor, dim: int, sizes: "tuple | list") -> Tensor:
    """dim split into `sizes` (one may be -1), as torch.Tensor.unflatten."""
    d = _dim(dim, self.ndim, "unflatten")
    sh = self._shape
    return self.reshape(sh[:d] + tuple(sizes) + sh[d + 1:])


def _stride(self: Tensor, dim: "int | None" = None) -> "tuple | int":
    """Element strides (a NumPy view's own; a value on the tape is contiguous)."""
    if self._tape is None and self._arr is not None:
        st = tuple(s // self._arr.itemsize for s in self._arr.strides)
    else:
        st, acc = [], 1
        for n in reversed(self._shape):
            st.append(acc)
            acc *= n
        st = tuple(reversed(st))
    return st if dim is None else st[_dim(dim, max(self.ndim, 1), "stride")]


def _addcmul_(self: Tensor, tensor1: Tensor, tensor2: Tensor, *, value: float = 1) -> Tensor:
    """In place: self = addcmul(self, tensor1, tensor2, value=value); returns self."""
    return self.copy_(addcmul(self, tensor1, tensor2, value=value))


def _addcdiv_(self: Tensor, tensor1: Tensor, tensor2: Tensor, *, value: float = 1) -> Tensor:
    """In place: self = addcdiv(self, tensor1, tensor2, value=value); returns self."""
    return self.copy_(addcdiv(self, tensor1, tensor2, value=value))


def _apply_(self: Tensor, callable: "Callable[[Any], Any]") -> Tensor:
    """Replace each element by `callable(element)` (a Python number in, a number out), in
    place; returns self. As torch.Tensor.apply_: one Python call an element, for small
    tensors, and not on a tensor that requires grad."""
    if self._rg:
        raise RuntimeError("Can't call apply_() on Variable that requires grad. Use "
                           "var.detach().apply_() instead.")
    values = [callable(v) for v in self._value().reshape(-1).tolist()]
    new = np.array(values, dtype=self._dtype.np).reshape(self._shape)
    return self.copy_(_from_array(new, self._dtype, False))


def _pin_memory(self: Tensor, device: object = None) -> Tensor:
    """Raises PyTorch's RuntimeError on a machine without an accelerator: pinned memory
    is for copies to a GPU, and tapegrad runs on the CPU only (`is_pinned()` is False)."""
    raise RuntimeError("Cannot access accelerator device when none is available.")


def _is_pinned(self: Tensor, device: object = None) -> bool:
    """False: tapegrad's tensors live in ordinary (pageable) CPU memory."""
    return False


class _SharedMap(mmap.mmap):
    """An anonymous shared mapping holding a tensor's storage after share_memory_()."""


def _share_memory_(self: Tensor) -> Tensor:
    """Move the storage into shared memory (in place; returns self), as
    torch.Tensor.share_memory_: an anonymous shared mapping, which a process forked
    afterwards (multiprocessing with the "fork" start method) shares, so that in-place
    writes of either process (`p.add_(1)`, an optimizer step, Hogwild training) are seen
    by the other. A no-op when the storage is shared already.

    Differences from PyTorch: tapegrad tensors do not pickle, so a shared tensor reaches
    another process by fork only (not as an argument to a "spawn" process); the values
    are copied into new memory, and views and NumPy arrays of the tensor made before the
    call keep the old memory (PyTorch's views follow, its NumPy arrays do not). A tensor
    computed by recorded operations (a non-leaf that requires grad: its value lives on
    its thread's tape) cannot move and raises RuntimeError; share the leaf instead
    (`x.detach().clone().share_memory_()`). The write of another process counts in no
    version counter of this one; tapegrad re-reads the storage at every use instead of
    caching it on the tape."""
    if self._tape is not None:
        if self._rg:
            raise RuntimeError(
                f"share_memory_(): this tensor (shape {list(self._shape)}, {self._dtype}) was "
                "computed by recorded operations and its value lives on its thread's tape, "
                "which cannot move to shared memory; share a leaf instead "
                "(x.detach().clone().share_memory_())")
        # a value computed without grad: it owns an array from now on
        self._arr, self._tape, self._vc = np.array(self._value()), None, _Version(self._version)
    if _is_shared(self):
        return self
    arr = self._arr
    buf = _SharedMap(-1, max(arr.nbytes, 1))  # MAP_SHARED | MAP_ANONYMOUS
    new = np.frombuffer(buf, dtype=arr.dtype, count=arr.size).reshape(arr.shape)
    np.copyto(new, arr)
    self._arr = new  # (the array keeps the mapping alive)
    _expose(self)  # written behind tapegrad's back (by another process): never cached
    return self


def _is_shared(self: Tensor) -> bool:
    """Whether the storage is in shared memory (after share_memory_(), also for views of
    the tensor made since), as torch.Tensor.is_shared."""
    if self._tape is not None:
        return False
    base = self._arr
    while isinstance(base, np.ndarray):
        base = base.base
    if isinstance(base, memoryview):
        base = base.obj
    return isinstance(base, _SharedMap)


def _bind():
    T = Tensor
    T.addcmul, T.addcdiv, T.cross, T.dist, T.take = addcmul, addcdiv, cross, dist, take
    T.addcmul_, T.addcdiv_ = _addcmul_, _addcdiv_
    T.unflatten, T.stride = _unflatten, _stride
    T.apply_, T.pin_memory, T.is_pinned = _apply_, _pin_memory, _is_pinned
    T.share_memory_, T.is_shared = _share_memory_, _is_shared
    for name in ("addcmul_", "addcdiv_", "unflatten", "stride", "apply_", "pin_memory",
                 "is_pinned", "share_memory_", "is_shared"):
        getattr(T, name).__name__ = getattr(T, name).__qualname__ = name

_bind()
