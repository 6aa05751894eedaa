"""In-place ops (add_, mul_, clamp_, fill_, normal_, x += y, ...), detach, and PyTorch's
rules for them: a leaf that requires grad refuses under grad mode; on a recorded tensor
the op records a new value and rebinds the tensor to it, so that backward through a use of
the old value raises, as PyTorch's version counter does."""

import builtins

import numpy as np

from . import functions as F
from ._hints import Number
from .random import Generator
from .tape.tape import _local, current
from .tensor import _UNTRACKED, Tensor, _DataVersion, _from_array, _on_tape, _Version, bump

_SAVE_SELF = ("mul", "div")  # in-place forms whose backward reads self: they get a clone


def _inplace(t, op, compute, saves_self=False):
    """Apply an in-place op: check PyTorch's rules, compute, then write or rebind.

    `compute(src)` returns the result with `src` standing for t; when the op saves its
    input (mul_, div_ by a tensor), src is a clone, PyTorch's `original_self`."""
    tape = current()
    if t._rg and t.is_leaf and _local.grad_enabled:
        raise RuntimeError("a leaf Variable that requires grad is being used in an in-place "
                           f"operation. ({op})")
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
            raise RuntimeError(f"{op}: result type {r._dtype.name.capitalize()} can't be cast to "
                               f"the desired output type {t._dtype.name.capitalize()}")
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


def _bind():
    T = Tensor
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
