"""Tensor: storage, attributes, conversion and printing; math lives in tapegrad.functions.

A tensor's value is stored in one of two places:
  - its own NumPy array (`_arr`): leaves, factory results, `from_numpy`, `.grad`;
  - a slot of its thread's tape (`_tape`, `_slot`): results of operations.
Leaves enter the tape (are copied into the arena) when an operation first reads them.
"""

import warnings

import numpy as np

from . import dtypes
from .tape import tape as _tapes
from .tape.records import S_DTYPE, S_NUMEL, S_OFF, S_VER


class Tensor:
    """A multi-dimensional array that records the operations on it for automatic
    differentiation, as torch.Tensor.

    A leaf (made by a factory such as tapegrad.tensor, or by the user) owns a NumPy array; an
    operation's result is a slot of its thread's flat tape. `backward()` runs one compiled
    sweep over that tape. Differences from PyTorch: CPU only; float16/bfloat16 and complex
    dtypes are not supported; `Tensor(data)` and `Tensor(*size)` are the legacy float32
    constructors."""
    __array_priority__ = 1000  # np.float64(2) * t calls t.__rmul__, as for PyTorch tensors
    __slots__ = ("_arr", "_tape", "_slot", "_shape", "_dtype", "_rg", "_grad", "_vc", "_gfn",
                 "_ltape", "_lkey", "_lslot", "_retains", "_ghome", "__weakref__")

    def __new__(cls, *data):
        """Legacy constructor `Tensor(data)` / `Tensor(2, 3)` (float32, as in PyTorch)."""
        if cls is not Tensor:
            return object.__new__(cls)
        if len(data) == 1 and not isinstance(data[0], int):
            arr = data[0]._value() if isinstance(data[0], Tensor) else data[0]
            return _from_array(np.array(arr, np.float32), dtypes.float32, False)
        return _from_array(np.zeros(data, np.float32), dtypes.float32, False)

    # ---- value access --------------------------------------------------------------------
    def _value(self):
        """NumPy array of the value (the tensor's own array, or a view of the arena)."""
        if self._tape is None:
            return self._arr
        return self._tape.value(self._slot, self._shape, self._dtype)

    # ---- attributes -------------------------------------------------------------------
    @property
    def shape(self):
        """The shape, a tapegrad.Size (a tuple), as torch.Tensor.shape."""
        return Size(self._shape)

    def size(self, dim: int | None = None) -> "Size | int":
        """The shape (a Size), or the size of dimension dim, as torch.Tensor.size."""
        if dim is None:
            return Size(self._shape)
        return self._shape[_dim(dim, len(self._shape), "size")]

    @property
    def ndim(self):
        """The number of dimensions."""
        return len(self._shape)

    def dim(self) -> int:
        """The number of dimensions, as torch.Tensor.dim."""
        return len(self._shape)

    def numel(self) -> int:
        """The number of elements, as torch.Tensor.numel (`nelement` is the same)."""
        n = 1
        for d in self._shape:
            n *= d
        return n

    nelement = numel

    def data_ptr(self) -> int:
        """The address of the first element (0 for an empty tensor), as
        torch.Tensor.data_ptr: the NumPy buffer's for a tensor that owns its array, so views
        of one storage differ by their offsets (x[1:].data_ptr() is x.data_ptr() plus one
        element's bytes); an operation's result reports its place on the tape, which moves
        when the tape is compacted."""
        if not self.numel():
            return 0
        return int(_peek(self).__array_interface__["data"][0])  # (not a read of the value)

    @property
    def dtype(self):
        """The tapegrad dtype (tapegrad.float32, ...)."""
        return self._dtype

    @property
    def device(self):
        """The device: always device(type='cpu') (tapegrad runs on the CPU only)."""
        from .device import device

        return device("cpu")

    is_cuda = False

    def cpu(self, memory_format=None):
        """The tensor itself: tapegrad tensors live on the CPU."""
        return self

    def cuda(self, device: object = None, non_blocking: bool = False,
             memory_format: object = None) -> "Tensor":
        """Raises a RuntimeError: tapegrad has no CUDA backend."""
        from .device import check_device

        check_device("cuda", "cuda")

    @property
    def requires_grad(self):
        """Whether gradients are computed for this tensor; settable on leaves (as
        requires_grad_)."""
        return self._rg

    @requires_grad.setter
    def requires_grad(self, flag):
        """Whether gradients are computed for this tensor; settable on leaves (as
        requires_grad_)."""
        self.requires_grad_(flag)

    def requires_grad_(self, requires_grad: bool = True) -> "Tensor":
        """Set requires_grad on a leaf (in place, returns self), as
        torch.Tensor.requires_grad_; only floating-point tensors can require grad, and a non-leaf's
        flag can only be kept on."""
        if not self.is_leaf:
            if not requires_grad:
                raise RuntimeError(
                    "you can only change requires_grad flags of leaf variables. If you want to "
                    "use a computed variable in a subgraph that doesn't require differentiation "
                    "use var_no_grad = var.detach().")
            return self
        if requires_grad and not self._dtype.is_floating_point:
            raise RuntimeError("only Tensors of floating point dtype can require gradients "
                               f"(got {self._dtype})")
        if requires_grad and self._tape is not None:
            # a value computed without grad becomes a leaf: it owns its value from now on
            self._arr, self._tape, self._vc = np.array(self._value()), None, _Version()
        self._rg = bool(requires_grad)
        self._lkey = None  # a cached leaf slot has the wrong flags now
        return self

    @property
    def is_leaf(self):
        """Whether this tensor is a leaf of the graph (it does not require grad, or the user made
        it)."""
        return self._tape is None or not self._rg

    @property
    def grad_fn(self):
        """The graph node that made this tensor (a Node with PyTorch's class name, e.g.
        MulBackward0), or None for a leaf."""
        if self.is_leaf:
            return None
        if self._gfn is None:
            from .autograd.graph import node

            self._gfn = node(self._tape, self._slot)
        return self._gfn

    @property
    def grad(self):
        """The gradient accumulated by backward() (None before); reading it on a non-leaf
        that does not retain grad warns, as in PyTorch. Assignable with a tensor of the same shape
        and dtype, or None."""
        if self._grad is None and not self._retains and not self.is_leaf:
            warnings.warn(
                "The .grad attribute of a Tensor that is not a leaf Tensor is being accessed. Its "
                ".grad attribute won't be populated during autograd.backward(). If you indeed "
                "want the .grad field to be populated for a non-leaf Tensor, use .retain_grad() "
                "on the non-leaf Tensor. If you access the non-leaf Tensor by mistake, make sure "
                "you access the leaf Tensor instead.", UserWarning, stacklevel=2)
        return self._grad

    @grad.setter
    def grad(self, g):
        """The gradient accumulated by backward() (None before); reading it on a non-leaf
        that does not retain grad warns, as in PyTorch. Assignable with a tensor of the same shape
        and dtype, or None."""
        if g is not None:
            if not isinstance(g, Tensor):
                raise TypeError(f"assigned grad expected to be a Tensor or None but got grad of "
                                f"type {type(g).__name__}")
            if g._shape != self._shape:
                raise RuntimeError(f"assigned grad has data of a different size: {list(g._shape)}"
                                   f" vs {list(self._shape)}")
            if g._dtype is not self._dtype:
                raise RuntimeError(f"assigned grad has data of a different type: {g._dtype} vs "
                                   f"{self._dtype}")
        self._grad = g

    @property
    def retains_grad(self):
        """Whether retain_grad() was called on this non-leaf."""
        return self._retains

    def retain_grad(self) -> None:
        """Make backward() fill .grad of this non-leaf tensor too, as torch.Tensor.retain_grad."""
        if not self._rg:
            raise RuntimeError("can't retain_grad on Tensor that has requires_grad=False")
        if not self.is_leaf and not self._retains:
            from .tape.records import S_FLAGS, S_RETAIN

            self._retains = True
            self._tape.S[self._slot, S_FLAGS] |= S_RETAIN
            self._tape.retained[self._slot] = self

    @property
    def _version(self):
        if self._tape is None:
            return self._vc[0]
        return self._vc[0] + self._tape.version(self._slot)

    @property
    def data(self):
        """The value, untracked: shares storage, has its own version counter."""
        if self._tape is None:
            t = _from_array(self._arr, self._dtype, False)
            t._vc = _DataVersion()
            t._vc.base, t._vc.array = self._vc, self._arr
            return t
        t = _on_tape(self._tape, self._tape.alias(self._slot), self._shape, self._dtype, False)
        t._vc = _UNTRACKED
        return t

    @data.setter
    def data(self, other):
        if other._shape != self._shape or other._dtype is not self._dtype:
            self._shape, self._dtype = other._shape, other._dtype
        if not isinstance(self._vc, _Version):  # it held a tape slot: it owns an array now
            self._vc = _Version(self._version)
        self._tape, self._arr = None, np.array(other._value())
        bump(self._vc)

    # ---- conversion -------------------------------------------------------------------
    def numpy(self, force: bool = False) -> np.ndarray:
        """The value as a NumPy array sharing memory with the tensor (as in PyTorch);
        raises if it requires grad (use detach().numpy()), unless force=True."""
        if self._rg and not force:
            raise RuntimeError("Can't call numpy() on Tensor that requires grad. Use "
                               "tensor.detach().numpy() instead.")
        if self._tape is not None:
            # hand out a NumPy array that shares memory with this tensor from now on
            self._arr, self._tape, self._vc = np.array(self._value()), None, _Version()
        _expose(self)
        return self._arr

    def __array__(self, dtype=None, copy=None):
        if self._rg:
            raise RuntimeError("Can't call numpy() on Tensor that requires grad. Use "
                               "tensor.detach().numpy() instead.")
        v = self._value()
        if dtype is not None and np.dtype(dtype) != v.dtype:
            if copy is False:
                raise ValueError(f"Unable to avoid copy while creating an array as requested "
                                 f"(a {self._dtype} tensor as {np.dtype(dtype)})")
            return v.astype(dtype)
        if copy:  # NumPy 2: np.array(t) asks for a copy
            return v.copy()
        if self._tape is None:
            _expose(self)  # np.asarray(t) shares the storage, which NumPy may now write
        return v

    def item(self) -> int | float | bool:
        """The value of a one-element tensor as a python number."""
        if self.numel() != 1:
            raise RuntimeError(f"a Tensor with {self.numel()} elements cannot be converted to "
                               f"Scalar (item() on a tensor of shape {list(self._shape)})")
        return self._value().reshape(-1)[0].item()

    def tolist(self) -> list | int | float | bool:

        """The value as (nested) python lists of numbers."""
        return self._value().tolist()

    def __float__(self):
        if self.numel() != 1:
            raise ValueError("only one element tensors can be converted to Python scalars (got "
                             f"shape {list(self._shape)})")
        return float(self.item())

    def __int__(self):
        if self.numel() != 1:
            raise ValueError("only one element tensors can be converted to Python scalars (got "
                             f"shape {list(self._shape)})")
        return int(self.item())

    def __index__(self):
        if self._dtype.is_floating_point or self.numel() != 1:
            raise TypeError("only integer tensors of a single element can be converted to an "
                            f"index (got {self._dtype} of shape {list(self._shape)})")
        return int(self.item())

    def __bool__(self):
        if self.numel() != 1:
            many = "more than one value" if self.numel() else "no values"
            raise RuntimeError(f"Boolean value of Tensor with {many} is ambiguous (shape "
                               f"{list(self._shape)})")
        return bool(self.item())

    def __len__(self):
        if not self._shape:
            raise TypeError("len() of a 0-d tensor")
        return self._shape[0]

    def __iter__(self):
        if not self._shape:
            raise TypeError("iteration over a 0-d tensor")
        if self._rg:  # one recorded select per row, made up front (PyTorch's unbind)
            return iter(tuple(self[i] for i in range(self._shape[0])))
        if self._tape is not None:
            return (_from_array(np.array(r), self._dtype, False) for r in self._value())
        return (_view(self, r) for r in self._arr)

    def __hash__(self):
        return id(self)

    def __repr__(self):
        from .printing import tensor_repr

        return tensor_repr(self)

    def __format__(self, spec):
        if not self._shape:
            return format(self.item(), spec)
        return object.__format__(self, spec)

    def __reduce__(self):
        raise TypeError("tapegrad tensors are not pickled; use tapegrad.save (npz format)")

    def __copy__(self):
        """copy.copy (matplotlib copies its data): a leaf with the same value and flag; it
        shares the storage of a tensor that owns its array, as PyTorch's does."""
        if self._tape is None:
            t = _from_array(self._arr, self._dtype, self._rg)
            t._vc = self._vc
            return t
        return _from_array(np.array(self._value()), self._dtype, self._rg)

    def __deepcopy__(self, memo: dict) -> "Tensor":
        """copy.deepcopy: a leaf keeps its flag and gets a copy of the value; a non-leaf
        becomes a clone (recorded, as in PyTorch)."""
        return self.clone().detach().requires_grad_(self._rg) if self.is_leaf else self.clone()

    def __dir__(self) -> list[str]:
        """The attributes, without the PyTorch names tapegrad does not support yet (those
        are class attributes that raise AttributeError: see tapegrad._pytorch_names)."""
        from ._pytorch_names import unsupported_members

        hidden = unsupported_members(type(self))
        return [n for n in object.__dir__(self) if n not in hidden]


class Size(tuple):
    """A tensor's shape: a tuple that prints like PyTorch's `torch.Size([2, 3])`."""

    def __repr__(self):
        return f"torch.Size({list(self)})"

    def __getitem__(self, i, _get=tuple.__getitem__):  # a slice is a Size too
        r = _get(self, i)
        return Size(r) if type(i) is slice else r

    def __add__(self, other):
        return Size(tuple.__add__(self, other))

    def __radd__(self, other):
        return Size(tuple.__add__(other, self)) if isinstance(other, tuple) else NotImplemented

    def __mul__(self, n):
        return Size(tuple.__mul__(self, n))

    __rmul__ = __mul__

    def numel(self):
        n = 1
        for d in self:
            n *= d
        return n


_new = object.__new__


def _peek(t):
    """t's value for a check that can only raise (a range check of an argument): unlike
    `t._value()` it is not a guard of a function tapegrad.func records, since the
    recorded program does not depend on it."""
    if t._tape is None:
        return t._arr
    return t._tape.peek(t._slot, t._shape, t._dtype)


def _from_array(arr, dt, rg):
    """A tensor that owns (or shares) the NumPy array `arr` (of dtype dt)."""
    t = _new(Tensor)
    t._arr = arr
    t._tape = None
    t._slot = -1
    t._shape = arr.shape
    t._dtype = dt
    t._rg = rg
    t._grad = None
    t._vc = _Version()
    t._gfn = None
    t._ltape = None
    t._retains = False
    t._ghome = None  # an optimizer's flat-buffer view where backward writes a new .grad
    return t


def _on_tape(tape, slot, shape, dt, rg):
    """A tensor whose value is `slot` of `tape` (registered so compaction can renumber it)."""
    t = _new(Tensor)
    t._arr = None
    t._tape = tape
    t._slot = slot
    t._shape = shape
    t._dtype = dt
    t._rg = rg
    t._grad = None
    t._vc = _ZERO
    t._gfn = None
    t._ltape = None
    t._retains = False
    t._ghome = None
    tape.handles.append(t)
    return t


def _expose(t):
    """Mark t's storage as writable behind tapegrad's back (NumPy holds it): its copies on
    the tape are not reused, every operation reads it afresh. A version cell of length 2
    means exposed; views and detach() share the cell."""
    if type(t._vc) is not tuple and len(t._vc) == 1:
        t._vc.append(True)


def _view(t, arr):
    """An untracked tensor sharing storage and version counter with array tensor t."""
    v = _from_array(arr, t._dtype, False)
    v._vc = t._vc
    return v


_ZERO = (0,)  # version cell of tensors on a tape (their versions live in the slot table)


class _Untracked(tuple):
    """Version cell of `.data` of a tape tensor: its writes bump no version."""

    __slots__ = ()


_UNTRACKED = _Untracked((0,))


class _Version(list):
    """Version counter of a tensor that owns its array, shared with its views and detach():
    [count], or [count, True] once NumPy holds the array (see _expose). `loads` lists the
    tape slots that hold a copy of this version, as (tape, entry) with entry = [slot, ...]
    (tape.loaded renumbers it when the tape compacts): `bump` counts an in-place change
    into their `ver`, so a recorded op that saved the copy raises at backward."""

    __slots__ = ("loads",)

    def __init__(self, n=0):
        self.append(n)  # (list's own __init__ is not called: a third of super().__init__'s cost)
        self.loads = None


def bump(vc):
    """An in-place change of the value behind version cell vc (a _Version)."""
    vc[0] += 1
    loads = vc.loads
    if loads:
        for tape, entry in loads:
            if entry[0] >= 0:
                tape.S[entry[0], S_VER] += 1
        vc.loads = None  # those copies are stale now; a new use loads the new version


class _DataVersion(_Version):
    """Version cell of `.data` of a tensor that owns its array: its writes bump no version
    of that tensor (`base`), but reach the copies of `array` the tapes hold (`mirror`), so
    recorded ops see them at backward as PyTorch's shared storage does."""

    __slots__ = ("base", "array")

    def mirror(self):
        """Copy `array` into every tape slot that holds its current version."""
        for tape, entry in self.base.loads or ():
            s = entry[0]
            if s >= 0:
                off, n = tape.S[s, S_OFF], tape.S[s, S_NUMEL]
                tape.A[int(tape.S[s, S_DTYPE])][off:off + n] = self.array.reshape(-1)


def _dim(d, nd, op):
    """Normalize a dim index, raising PyTorch's IndexError when out of range."""
    lo, hi = (-nd, nd - 1) if nd else (-1, 0)
    if not isinstance(d, int) or isinstance(d, bool):
        raise TypeError(f"{op}(): argument 'dim' must be int, not {type(d).__name__}")
    if d < lo or d > hi:
        raise IndexError(f"{op}(): Dimension out of range (expected to be in range of "
                         f"[{lo}, {hi}], but got {d})")
    return d + nd if d < 0 else d


_tapes  # re-exported for tapegrad.functions
