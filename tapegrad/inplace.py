"""In-place ops (add_, mul_, clamp_, fill_, normal_, x += y, ...), detach, and PyTorch's
rules for them: a leaf that requires grad refuses under grad mode; on a recorded tensor
the op records a new value and rebinds the tensor to it, so that backward through a use of
the old value raises, as PyTorch's version counter does."""

import builtins

import numpy as np

from . import dtypes
from . import functions as F
from ._hints import Number
from .random import Generator
from .recorder import views_a_leaf
from .tape.tape import _local, current
from .tensor import _UNTRACKED, Tensor, _DataVersion, _from_array, _on_tape, _Version, bump

_SAVE_SELF = ("mul", "div")  # in-place forms whose backward reads self: they get a clone


def _inplace(t, op, compute, saves_self=False):
    """Apply an in-place op: check PyTorch's rules, compute, then write or rebind.

    `compute(src)` returns the result with `src` standing for t; when the op saves its
    input (mul_, div_ by a tensor), src is a clone, PyTorch's `original_self`."""
    tape = current()
    if t._rg and _local.grad_enabled:
        if t.is_leaf:
            raise RuntimeError("a leaf Variable that requires grad is being used in an "
                               f"in-place operation. ({op})")
        if views_a_leaf(t):
            raise RuntimeError("a view of a leaf Variable that requires grad is being used in "
                               f"an in-place operation. ({op})")
    src = t
    if saves_self and t._tape is tape and _local.grad_enabled:
        src = _clone(t)  # rebinding t bumps its old slot, which this op's record must not save
    elif t._tape is None and _local.grad_enabled:
        # PyTorch's original_self: a recorded op reads t's value under a version cell of its
        # own, so the write below counts against earlier uses of t only, not this op's own
        src = _from_array(t._arr, t._dtype, False)
    r = compute(src)
    if r._shape != t._shape:
        raise RuntimeError(f"{op}: output with shape {list(t._shape)} doesn't match the broadcast "
                           f"shape {list(r._shape)}")
    if r._dtype is not t._dtype:
        if t._dtype.is_floating_point and r._rg:
            r = F.to(r, t._dtype)
        elif not t._dtype.is_floating_point and r._dtype.is_floating_point:
            raise RuntimeError(f"{op}: result type {r._dtype.legacy[:-6]} can't be cast to "
                               f"the desired output type {t._dtype.legacy[:-6]}")
    if type(t) is not Tensor and hasattr(t, "_own_array"):  # a recorded mask (compare.py)
        t._own_array()
    if r._rg and r._tape is tape and (t._tape is None or t._tape is tape):
        _rebind(t, r)
    elif t._tape is None:
        np.copyto(t._arr, r._value(), casting="unsafe")
        bump(t._vc)
        if type(t._vc) is _DataVersion:  # the array's copies on tapes follow the write
            t._vc.mirror()
    elif op in _OVERWRITES and t._rg and t._tape is tape and _local.grad_enabled:
        # a new value that does not depend on t's: PyTorch's FillBackward2, ZeroBackward0...
        new = tape.overwrite(t._slot, r._value(), F._OP[op])
        _rebind(t, _on_tape(tape, new, t._shape, t._dtype, True))
    else:  # no grad: write the value (aliases see it); its history stays, as in PyTorch
        t._value()[...] = r._value()
        if t._vc is not _UNTRACKED:
            t._tape.bump(t._slot, written=True)
        elif t._tape.reads is not None:  # (a traced function: see Tape.bump)
            t._tape.reads.changed(t._slot)
    return t


_OVERWRITES = ("fill_", "zero_", "normal_", "uniform_", "fill_all")  # rows of the op table


def _rebind(t, r):
    """t now names the recorded result r (PyTorch rebases its history onto the in-place op);
    recorded uses of t's old value raise at backward, as a version counter does."""
    from .tape.records import S_FLAGS, S_RETAIN

    version = t._version + 1
    tape = r._tape
    if t._tape is None:
        np.copyto(t._arr, r._value(), casting="unsafe")  # views of the array see the value
        bump(t._vc)
        if type(t._vc) is _DataVersion:
            t._vc.mirror()
        t._arr = None
        tape.handles.append(t)
    else:
        tape.bump(t._slot)
        if t._retains:
            tape.S[t._slot, S_FLAGS] &= ~S_RETAIN
            tape.retained.pop(t._slot, None)
            tape.S[r._slot, S_FLAGS] |= S_RETAIN
            tape.retained[r._slot] = t
    t._tape, t._slot, t._rg, t._gfn = tape, r._slot, True, None
    t._vc = [version - tape.version(r._slot)]


def _inplace_method(name, fn, saves_self=False):
    def method(self, *args, **kwargs):
        saves = saves_self and builtins.any(isinstance(a, Tensor) for a in args)
        return _inplace(self, name, lambda src: fn(src, *args, **kwargs), saves)

    method.__name__ = method.__qualname__ = name
    base = name.strip("_").removeprefix("i")
    method.__doc__ = (f"In place: self = {base}(self, ...), as torch.Tensor.{name}; returns self "
                      f"(recorded when it requires grad; see tapegrad.{base} for the arguments).")
    method.__annotations__ = {"return": Tensor}
    return method


def zero_(t: Tensor) -> Tensor:
    """Fill with zeros in place; returns the tensor (recorded when it requires grad, as in
    PyTorch)."""
    return _fill(t, 0, "zero_")


def fill_(t: Tensor, value: Number | Tensor) -> Tensor:
    """Fill with `value` in place; returns the tensor."""
    return _fill(t, value, "fill_")


def _fill(t, value, _op):
    """fill_, with `_op` the name recorded (zero_)."""
    if not isinstance(value, Tensor):
        value = dtypes.checked_int(value, t._dtype, _op)
    return _inplace(t, _op, lambda src: _from_array(np.full(t._shape, value, t._dtype.np),
                                                   t._dtype, False))


def normal_(t: Tensor, mean: float = 0.0, std: float = 1.0, *,
            generator: Generator | None = None) -> Tensor:
    """Fill with samples of N(mean, std^2) from `generator` (default: tapegrad's)."""
    from .random import _float_only, _gen, _normal

    _float_only(t._dtype, "normal_", "normal_kernel_cpu")
    if std < 0:
        raise RuntimeError(f"normal_ expects std >= 0.0, but found std {std}")
    gen = _gen(generator)
    return _inplace(t, "normal_", lambda src: _from_array(
        _normal(gen, t._shape, t._dtype.np, mean, std), t._dtype, False))


def uniform_(t: Tensor, a: float = 0.0, b: float = 1.0, *,
             generator: Generator | None = None) -> Tensor:
    """Fill with samples of U[a, b) from `generator` (default: tapegrad's)."""
    from .random import _float_only, _gen, _uniform

    _float_only(t._dtype, "uniform_", "check_uniform_bounds")
    if a > b:
        raise RuntimeError(f"uniform_ expects to return a [from, to) range, but found from={a} "
                           f"> to={b}")
    gen = _gen(generator)
    return _inplace(t, "uniform_", lambda src: _from_array(
        _uniform(gen, t._shape, t._dtype.np, a, b), t._dtype, False))


def copy_(t: Tensor, src: Tensor | Number) -> Tensor:
    """Copy src (broadcast, converted to this dtype) into this tensor in place; the
    gradient flows to src (CopyBackwards), as in PyTorch."""
    def compute(dst):
        if t._dtype.is_floating_point and _local.grad_enabled and (t._rg or (
                isinstance(src, Tensor) and src._rg)):  # CopyBackwards: grad to src only
            return F._binary("copy_from", dst, F.to(src, t._dtype))
        v = np.broadcast_to(np.asarray(src._value(), t._dtype.np), t._shape)
        return _from_array(np.array(v), t._dtype, False)

    return _inplace(t, "copy_", compute)


# ---- detach, clone ---------------------------------------------------------------------
def detach(input: Tensor) -> Tensor:
    """Same value, no history: shares storage (a tape slot or the tensor's own array)."""
    if input._tape is None:
        t = _from_array(input._arr, input._dtype, False)
        t._vc = input._vc
        return t
    tape = input._tape
    t = _on_tape(tape, tape.alias(input._slot), input._shape, input._dtype, False)
    t._vc = (input._version - tape.version(t._slot),)  # so that t._version == input._version
    return t


def detach_(input: Tensor) -> Tensor:

    """Detach this tensor from the graph in place: it becomes a leaf that does not require grad."""
    if input._tape is not None and input._rg:
        input._arr, input._tape, input._vc = np.array(input._value()), None, _Version()
    input._rg, input._gfn = False, None
    return input


def _clone(t):
    from .movement import clone  # movement builds on functions

    return clone(t)


# ---- in-place shape changes: t_, transpose_, squeeze_, unsqueeze_, resize_ --------------
def _shape_dims(t, op, *args):
    """(the out-of-place op, its arguments, a NumPy view function) of an in-place shape op
    on tensor t, the arguments checked as the out-of-place op checks them."""
    from . import movement as M
    from .tensor import _dim

    nd = len(t._shape)
    if op == "t_":
        if nd > 2:
            raise RuntimeError(f"t_() expects a tensor with <= 2 dimensions, but self is {nd}D")
        return M.t, (), (lambda a: a.T) if nd == 2 else (lambda a: a)
    if op == "transpose_":
        d0, d1 = (_dim(d, nd, "transpose_") for d in args)
        return M.transpose, (d0, d1), lambda a: np.swapaxes(a, d0, d1)
    if op == "unsqueeze_":
        d = _dim(args[0], nd + 1, "unsqueeze_")
        return M.unsqueeze, (d,), lambda a: np.expand_dims(a, d)
    dims = range(nd) if args[0] is None else \
        args[0] if isinstance(args[0], (tuple, list)) else (args[0],)
    dims = sorted({_dim(d, nd, "squeeze_") for d in dims}, reverse=True)
    dims = tuple(d for d in dims if t._shape[d] == 1)

    def squeeze_all(x):  # one squeeze per dim, last first: the dims stay valid
        for d in dims:
            x = M.squeeze(x, d)
        return x

    return squeeze_all, (), lambda a: np.squeeze(a, dims) if dims else a


def _shape_inplace(t, op, *args):
    """An in-place shape op, with PyTorch's rules: a leaf that requires grad refuses under grad
    mode; a tensor that owns its array gets a NumPy view of the same storage (its version
    counts the change); a recorded tensor is rebound to the recorded view op."""
    if t._rg and t.is_leaf and _local.grad_enabled:
        raise RuntimeError("a leaf Variable that requires grad is being used in an in-place "
                           f"operation. ({op})")
    fn, fargs, view = _shape_dims(t, op, *args)
    if t._tape is None:  # a NumPy view of the storage, as PyTorch changes the metadata only
        t._arr = view(t._arr)
        t._shape = t._arr.shape
        bump(t._vc)
    elif t._rg and _local.grad_enabled:  # a non-leaf: record the view op, rebind t to it
        r = fn(t, *fargs)
        if r is t:  # nothing to change (t_ of a vector, squeeze_ without dims of size 1)
            return t
        if r._tape is not t._tape:
            raise RuntimeError(f"{op}: the tensor was recorded on another thread's tape")
        _rebind(t, r)
        t._shape = r._shape
    elif op in ("squeeze_", "unsqueeze_") or len(t._shape) < 2:  # same layout in the slot
        t._shape = tuple(view(np.broadcast_to(np.empty((), np.bool_), t._shape)).shape)
        if t._vc is not _UNTRACKED:
            t._tape.bump(t._slot)
    elif t._rg:
        raise RuntimeError(f"{op}: transposing a tensor that requires grad in place under "
                           f"no_grad is not supported by tapegrad (its recorded history keeps "
                           f"the old layout); use x = x.{op[:-1]}(...) instead")
    else:  # a tape value that needs no grad: it gets its own array (a copy)
        t._arr = np.ascontiguousarray(view(t._value()))
        t._tape, t._shape, t._vc = None, t._arr.shape, _Version(t._version + 1)
    return t


def t_(self: Tensor) -> Tensor:
    """In place: self becomes its transpose (at most 2 dims), as torch.Tensor.t_; returns
    self. A view of the same storage for a tensor that owns its array; recorded (and the
    tensor rebound) for a non-leaf that requires grad; a leaf that requires grad refuses."""
    return _shape_inplace(self, "t_")


def transpose_(self: Tensor, dim0: int, dim1: int) -> Tensor:
    """In place: dims dim0 and dim1 of self swapped, as torch.Tensor.transpose_ (see t_)."""
    return _shape_inplace(self, "transpose_", dim0, dim1)


def squeeze_(self: Tensor, dim: "int | tuple[int, ...] | None" = None) -> Tensor:
    """In place: self without its dims of size 1 (only those in dim, if given), as
    torch.Tensor.squeeze_ (see t_)."""
    return _shape_inplace(self, "squeeze_", dim)


def unsqueeze_(self: Tensor, dim: int) -> Tensor:
    """In place: a dim of size 1 inserted at dim, as torch.Tensor.unsqueeze_ (see t_)."""
    return _shape_inplace(self, "unsqueeze_", dim)


def resize_(self: Tensor, *sizes: "int | tuple[int, ...]",
            memory_format: object = None) -> Tensor:
    """In place: self takes the shape `sizes` over its storage, as torch.Tensor.resize_:
    read contiguously from self's first element, the storage's elements come first (a
    view of it while they suffice); new elements are zeros (PyTorch leaves them
    uninitialised). Differences: growing gives the tensor a new array, so views taken
    before no longer share its storage; a storage NumPy holds (from_numpy, numpy()) cannot
    grow (RuntimeError, as PyTorch's for from_numpy). A tensor that requires grad refuses."""
    from .creation import _size

    if self._rg:
        raise RuntimeError("cannot resize variables that require grad")
    shape = _size(sizes, "resize_")
    n = int(np.prod(shape, dtype=np.int64))
    if self._tape is not None:  # a tape value that needs no grad: it gets its own array
        self._arr, self._vc = np.array(self._value()), _Version(self._version)
        self._tape = None
    arr, isz = self._arr, self._arr.dtype.itemsize
    root = arr
    while isinstance(root.base, np.ndarray):
        root = root.base
    if root.flags.c_contiguous and root.size and min(arr.strides, default=0) >= 0:
        storage = root.reshape(-1).view(np.uint8)
        start = arr.__array_interface__["data"][0] - storage.__array_interface__["data"][0]
    else:  # no flat storage to read forward from (or a flipped view): its elements in order
        storage, start = np.ascontiguousarray(arr).reshape(-1).view(np.uint8), 0
    if start + n * isz <= storage.size:
        new = storage[start:start + n * isz].view(arr.dtype).reshape(shape)
    elif len(self._vc) > 1:
        raise RuntimeError(f"resize_: Trying to resize storage that is not resizable (its "
                           f"array is shared with NumPy; size {list(self._shape)} to "
                           f"{list(shape)})")
    else:
        new = np.zeros(shape, arr.dtype)
        old = storage[start:start + (storage.size - start) // isz * isz].view(arr.dtype)
        new.reshape(-1)[:old.size] = old
    self._arr, self._shape = new, shape
    bump(self._vc)
    return self


def _bind():
    T = Tensor
    for name in ("t_", "transpose_", "squeeze_", "unsqueeze_", "resize_"):
        setattr(T, name, globals()[name])
    T.swapaxes_ = T.swapdims_ = T.transpose_
    for name in ("detach", "detach_", "zero_", "fill_", "copy_", "normal_", "uniform_"):
        setattr(T, name, globals()[name])
    for name in ("add", "sub", "mul", "div", "clamp"):
        setattr(T, name + "_", _inplace_method(name + "_", getattr(F, name), name in _SAVE_SELF))
    T.clip_ = T.clamp_
    for op in ("add", "sub", "mul"):
        setattr(T, f"__i{op}__", _inplace_method(f"__i{op}__", getattr(F, op), op in _SAVE_SELF))
    T.__itruediv__ = _inplace_method("__itruediv__", F.div, True)
    # the in-place forms of the elementwise math (x.exp_(), x.sqrt_(), ...) and pow_, as
    # PyTorch has them; the activations' own (relu_, ...) are bound where they are defined
    for name in ("neg", "exp", "log", "sqrt", "sin", "cos", "tanh", "sigmoid", "abs", "log1p",
                 "expm1", "rsqrt", "sign", "log2", "log10", "erf", "tan", "asin", "acos",
                 "atan", "sinh", "cosh"):
        fn = F.UNARY_FUNCTIONS.get(name) or getattr(F, name, None)
        if fn is not None and not hasattr(T, name + "_"):
            setattr(T, name + "_", _inplace_method(name + "_", fn))
    T.pow_ = _inplace_method("pow_", F.pow, True)


_bind()
