"""Tensor operations: apply an op of the table to tensors and record it (elementwise ops,
clamp, dtype conversion; reductions.py, linalg.py and the rest build on this).

Each public function checks its arguments (PyTorch's exception classes, messages that
name the op and the shapes or dtypes), picks the result dtype, computes the output
shape, and appends one record through the compiled `record`, which also runs the
forward kernel. Integer and bool tensors never enter the tape: their arithmetic runs in
NumPy (they cannot require grad). Tensor methods and operators are bound at the end.
"""

import builtins
import math
import warnings
from sys import getrefcount

import numpy as np

from . import dtypes
from .ops import BY_NAME
from .ops import _reuse
from .ops.spec import BINARY, UNARY
from .recorder import OP as _OP
from .recorder import check_tensor as _check_tensor
from .recorder import elementwise as _append
from .recorder import slots as _slots
from .tape.records import S_RG
from .tape.tape import _local, current
from .tensor import Tensor, _Version, _from_array, _on_tape

_INT_UFUNC = {"neg": np.negative, "abs": np.abs, "add": np.add, "sub": np.subtract,
              "mul": np.multiply, "pow": np.power, "relu": lambda a: np.maximum(a, 0),
              "maximum": np.maximum, "minimum": np.minimum, "sign": np.sign}
_scalar_types = (int, float, bool, np.number, np.bool_)


def _float(dt):
    return dt if dt.is_floating_point else dtypes.get_default_dtype()


# ---- elementwise ----------------------------------------------------------------------
def _unary(name, x, c=0.0):
    """Record y = f(x, c) for a UNARY op (by name); int tensors are promoted to the default
    float dtype unless NumPy can keep them integral (neg, abs, relu)."""
    if type(x) is not Tensor:
        _check_tensor(x, name)
    if not x._dtype.is_floating_point:
        f = _INT_UFUNC.get(name)
        if f is not None:
            return _from_array(f(x._value()), x._dtype, False)
    return _record_unary(_OP[name], x, c)


def _record_unary(op, x, c):
    """The hot path of every elementwise op on a float tensor (or promoted int tensor)."""
    dt = x._dtype
    if not dt.is_floating_point:
        dt = dtypes.get_default_dtype()
    local = _local  # (a thread-local's attributes cost ~40 ns a read: read each once)
    if not (x._rg and local.grad_enabled):
        return _eager(op, dt, c, x._value())
    tape = local.tape
    if x._tape is tape and x._dtype is dt and not tape.dirty:
        s = x._slot
    elif x._ltape is tape and x._lkey == (tape.epoch, x._vc[0], dt) and len(x._vc) == 1:
        s = x._lslot  # a leaf already loaded
    else:
        s = _slots(tape, dt, x)[0]
    return _append(tape, op, s, -1, c, x._shape, dt, S_RG)


_NP_FWD = {s.opcode: s.np_fwd for s in BY_NAME.values() if s.np_fwd is not None}
_UFUNCS = _reuse.UFUNCS  # opcode -> NumPy ufunc, for ops that may run into a temporary
# x / 0 is inf, as IEEE and PyTorch say, without NumPy's RuntimeWarning. np.errstate would
# cost 1-2 us per op (more than the op on small tensors), so the kernels' own module is
# filtered, and a user filter that turns the warning into an error is retried quietly.
warnings.filterwarnings("ignore", category=RuntimeWarning,
                        module=r"tapegrad\.ops\.(elementwise|nn|_reuse)$")


def _eager(op, dt, c, a, b=None, c2=None):
    """An elementwise op on values that need no grad (NumPy arrays a, and b for a binary
    op): NumPy, no record. The op table's np_fwd, which tests/test_eager.py checks against
    the compiled kernel the tape records with."""
    npdt = dt.np
    if a.dtype != npdt:
        a = a.astype(npdt)
    args = (a, c) if b is None else (a, b if b.dtype == npdt else b.astype(npdt), c)
    if c2 is not None:
        args += (c2,)
    try:
        r = _NP_FWD[op](*args)
    except (RuntimeWarning, FloatingPointError):  # -W error, or np.seterr(all="raise")
        with np.errstate(all="ignore"):
            r = _NP_FWD[op](*args)
    if type(r) is not np.ndarray or r.dtype != npdt or r is a or r is b:
        r = np.array(r, npdt)  # a NumPy scalar, another dtype, or an input itself
    return _from_array(r, dt, False)


def broadcast_shapes(a: tuple[int, ...], b: tuple[int, ...],
                     op: str = "broadcast") -> tuple[int, ...]:

    """PyTorch's broadcasting of two shapes, with its error text prefixed by the op."""
    nd = builtins.max(len(a), len(b))
    a1 = (1,) * (nd - len(a)) + tuple(a)
    b1 = (1,) * (nd - len(b)) + tuple(b)
    out = []
    for i, (x, y) in enumerate(zip(a1, b1)):
        if x != y and x != 1 and y != 1:
            raise RuntimeError(f"{op}: The size of tensor a ({x}) must match the size of tensor b "
                               f"({y}) at non-singleton dimension {i}")
        out.append(y if x == 1 else x)
    return tuple(out)


def _strides(shape, out):
    """Element strides of a contiguous `shape` read in broadcast `out` (0 where broadcast)."""
    nd = len(out)
    full = (1,) * (nd - len(shape)) + tuple(shape)
    st, acc = [0] * nd, 1
    for i in range(nd - 1, -1, -1):
        st[i] = acc if full[i] != 1 else 0
        acc *= full[i]
    return st


_BROADCASTS = {}  # (shape a, shape b) -> (out shape, the kernel's layout or None)


def _broadcast(sa, sb, name):
    """The broadcast of shapes sa and sb and the BINARY kernel's layout of it: None when
    each input is full size or one element, else [nd, out shape, strides of a, of b]."""
    shape = broadcast_shapes(sa, sb, name)
    if (sa == shape or math.prod(sa) == 1) and (sb == shape or math.prod(sb) == 1):
        layout = None
    else:
        layout = (len(shape),) + shape + tuple(_strides(sa, shape)) + tuple(_strides(sb, shape))
    if len(_BROADCASTS) < 4096:
        _BROADCASTS[sa, sb] = shape, layout
    return shape, layout


def _binary(name, a, b, alpha=1.0):
    """Record y = f(a, b, alpha) with broadcasting; a python scalar b goes to the scalar op."""
    if type(a) is not Tensor:
        _check_tensor(a, name)
    if type(b) is not Tensor and not isinstance(b, Tensor):  # subclasses: nn.Parameter
        if isinstance(b, _scalar_types):
            return _scalar(name, a, b, alpha)
        raise TypeError(f"{name}(): argument 'other' must be Tensor or Number, not "
                        f"{type(b).__name__}")
    if name == "sub" and (a._dtype is dtypes.bool_ or b._dtype is dtypes.bool_):
        raise RuntimeError("Subtraction, the `-` operator, with a bool tensor is not supported. "
                           "If you are trying to invert a mask, use the `~` or `logical_not()` "
                           "operator instead.")
    dt = a._dtype if a._dtype is b._dtype else dtypes.promote_tensors(a._dtype, a._shape,
                                                                      b._dtype, b._shape)
    if not dt.is_floating_point:
        if name not in _INT_UFUNC:  # div, atan2, ...: computed in the default float dtype
            dt = dtypes.get_default_dtype()
        else:
            return _int_op(name, a._value(), b._value(), alpha, dt)
    sa, sb = a._shape, b._shape
    if sa == sb:
        shape, layout = sa, None
    else:
        shape, layout = _BROADCASTS.get((sa, sb)) or _broadcast(sa, sb, name)
    if not ((a._rg or b._rg) and _local.grad_enabled):
        return _eager(_OP[name], dt, alpha, a._value(), b._value())
    tape = current()
    if sa == sb:
        aux, out_shape = -1, -1
    else:
        aux = -1 if layout is None else tape.intern(layout, "bcast")
        out_shape = tape.shape(shape)
    if a._tape is tape and b._tape is tape and a._dtype is dt and b._dtype is dt and \
            not tape.dirty:
        s0, s1 = a._slot, b._slot
    else:
        s0, s1 = _slots(tape, dt, a, b)
    rg = (a._rg or b._rg) and _local.grad_enabled
    out = tape.record(_OP[name], s0, s1, aux, alpha, out_shape, dt.code, S_RG if rg else 0)
    return _on_tape(tape, out, shape, dt, rg)


def _int_op(name, va, vb, alpha, dt):
    """va (op) alpha * vb for integer or bool result dtype dt, in dt's fixed width: it wraps
    around on overflow as PyTorch's integers do (uint8: 255 + 1 is 0). vb may be a python
    int (wrapped into dt first, as PyTorch does, except a pow exponent)."""
    npdt = dt.np
    va = np.asarray(va).astype(npdt, copy=False)
    if isinstance(vb, np.ndarray):
        vb = vb.astype(npdt, copy=False)
        if alpha != 1:
            vb = vb * dtypes.checked_int(builtins.int(alpha), dt, name)
    elif name == "pow":  # the exponent is checked, not wrapped; the result wraps, below
        vb = np.int64(dtypes.checked_int(vb, dt, "pow"))
    else:
        if alpha != 1:
            vb = vb * dtypes.checked_int(builtins.int(alpha), dt, name)
        vb = dtypes.wrap_int(vb, dt)
    return _from_array(np.asarray(_INT_UFUNC[name](va, vb)).astype(npdt, copy=False), dt, False)


def _scalar(name, a, c, alpha=1.0):
    """tensor (op) python scalar."""
    if isinstance(c, (np.number, np.bool_)):
        c = c.item()
    if name == "sub" and isinstance(c, bool):
        raise RuntimeError("Subtraction, the `-` operator, with a bool tensor is not supported. "
                           "If you are trying to invert a mask, use the `~` or `logical_not()` "
                           "operator instead.")
    if not a._dtype.is_floating_point and name in ("add", "sub"):
        dt = dtypes.promote_scalar(a._dtype, c)
        if not dt.is_floating_point:
            return _int_op("add", a._value(), -c if name == "sub" else c, alpha, dt)
        return _scalar(name, to(a, dt), c, alpha)
    if name == "add":
        return _unary("add_scalar", a, float(c) * alpha)
    if name == "sub":
        return _unary("sub_scalar", a, float(c) * alpha)
    dt = dtypes.promote_scalar(a._dtype, c)
    if not dt.is_floating_point and name in _INT_UFUNC:
        return _int_op(name, a._value(), c, 1, dt)
    if not dt.is_floating_point:
        dt = dtypes.get_default_dtype()
    if dt is not a._dtype:
        a = to(a, dt)
    return _unary(name + "_scalar", a, float(c))


def add(input: Tensor, other: "Tensor | float", *, alpha: float = 1) -> Tensor:
    """input + alpha * other with broadcasting and PyTorch's type promotion, as torch.add
    (AddBackward0; a python scalar other records the scalar op)."""
    return _binary("add", input, other, alpha)


def sub(input: Tensor, other: "Tensor | float", *, alpha: float = 1) -> Tensor:
    """input - alpha * other with broadcasting, as torch.sub (bool tensors raise, as in
    PyTorch)."""
    return _binary("sub", input, other, alpha)


def mul(input: Tensor, other: "Tensor | float") -> Tensor:
    """input * other with broadcasting and type promotion, as torch.mul (MulBackward0)."""
    return _binary("mul", input, other)


def div(input: Tensor, other: "Tensor | float", *, rounding_mode: str | None = None) -> Tensor:
    """input / other with broadcasting, as torch.div: true division (integers give the
    default float dtype); rounding_mode "trunc" or "floor" rounds the quotient."""
    if rounding_mode is not None:
        from .composite2 import div_rounding

        return div_rounding(input, other, rounding_mode)
    return _binary("div", input, other)


def pow(input: "Tensor | float", exponent: "Tensor | float") -> Tensor:
    """input ** exponent with broadcasting, as torch.pow; either side may be a python
    scalar (PowBackward0 for a scalar exponent, PowBackward1 for a tensor, PowBackward2 for
    a scalar base)."""
    if isinstance(input, _scalar_types):  # scalar ** tensor
        _check_tensor(exponent, "pow", "exponent")
        if not exponent._dtype.is_floating_point and not isinstance(input, (float, np.floating)):
            dt = dtypes.promote_scalar(exponent._dtype, input)
            base = np.asarray(dtypes.wrap_int(input, dt), dt.np)
            return _from_array(np.asarray(np.power(base, exponent._value()), dt.np), dt, False)
        e = exponent if exponent._dtype.is_floating_point else to(exponent, _float(exponent._dtype))
        return _unary("rpow_scalar", e, float(input))
    return _binary("pow", input, exponent)


def neg(input: Tensor) -> Tensor:
    """-input, as torch.neg (integers stay integers)."""
    return _unary("neg", input)


def _rsub(a, c):
    if not a._dtype.is_floating_point:
        dt = dtypes.promote_scalar(a._dtype, c)
        if dt.is_floating_point:
            return _rsub(to(a, dt), c)
        return _from_array(np.asarray(dtypes.wrap_int(c, dt) - a._value().astype(dt.np)), dt,
                           False)
    return _unary("rsub_scalar", a, float(c))


def _rdiv(a, c):  # c / a = reciprocal(a) * c, as PyTorch records it
    return _unary("mul_scalar", _unary("reciprocal", a), float(c))


def reciprocal(input: Tensor) -> Tensor:
    """1 / input, as torch.reciprocal (integers give the default float dtype)."""
    return _unary("reciprocal", input)


# what each generated function computes, for its docstring (x: input, y: other)
_COMPUTES = {
    "exp": "e ** x", "log": "the natural logarithm ln(x)", "sqrt": "x ** 0.5",
    "sin": "sin(x)", "cos": "cos(x)", "tanh": "tanh(x)", "sigmoid": "1 / (1 + e ** -x)",
    "relu": "max(x, 0)", "abs": "|x|", "logsigmoid": "log(sigmoid(x))",
    "log1p": "ln(1 + x), accurate for small x", "expm1": "e ** x - 1, accurate for small x",
    "log2": "log2(x)", "log10": "log10(x)", "tan": "tan(x)", "sinh": "sinh(x)",
    "cosh": "cosh(x)", "asin": "arcsin(x)", "acos": "arccos(x)", "atan": "arctan(x)",
    "erf": "the error function erf(x)", "rsqrt": "1 / sqrt(x)",
    "sign": "the sign of x (-1, 0 or 1; its gradient is 0)",
    "leaky_relu": "x if x > 0 else 0.01 * x", "elu": "x if x > 0 else e ** x - 1",
    "gelu": "x * Phi(x) (the exact, erf form)", "silu": "x * sigmoid(x)",
    "softplus": "ln(1 + e ** x)", "hardtanh": "x clamped to [-1, 1]",
    "atan2": "the angle arctan(x / y) in the quadrant of (y, x)",
    "maximum": "the larger of x and y (ties split the gradient, as PyTorch)",
    "minimum": "the smaller of x and y (ties split the gradient, as PyTorch)",
    "binary_cross_entropy": "-(y ln x + (1 - y) ln(1 - x)) elementwise (no reduction)",
}


def _table_doc(name, head):
    """The docstring of a function generated from op-table row `name`."""
    import textwrap

    spec = BY_NAME[name]
    return "\n\n".join(textwrap.fill(p, 88) for p in (
        f"{head} of {_COMPUTES.get(name, name)}, as torch.{name}.\n\n"
        f"Generated from the op table row `{name}`: one record (grad_fn "
        f"{spec.grad_fn}) when the input requires grad, a NumPy call otherwise. "
        f"Integer inputs are promoted to the default float dtype, except where NumPy "
        f"keeps them integral (neg, abs, relu), as in PyTorch.").split("\n\n"))


def _elementwise(name):
    def fn(input: Tensor) -> Tensor:
        return _unary(name, input)

    fn.__name__ = fn.__qualname__ = name
    fn.__doc__ = _table_doc(name, "Elementwise value")
    return fn


# one public function per UNARY row that is not a scalar-operand variant
UNARY_FUNCTIONS = {s.name: _elementwise(s.name) for s in BY_NAME.values()
                   if s.family == UNARY and not s.name.endswith("_scalar")
                   and s.name not in ("neg", "reciprocal", "clamp")}
globals().update(UNARY_FUNCTIONS)


def _binary_function(name):
    def fn(input: Tensor, other: "Tensor | float") -> Tensor:
        return _binary(name, input, other)

    fn.__name__ = fn.__qualname__ = name
    fn.__doc__ = _table_doc(name, "Elementwise value, with broadcasting,")
    return fn


# one public function per BINARY row not written out (add, sub, mul, div, pow here, the
# selections in selection.py)
BINARY_FUNCTIONS = {s.name: _binary_function(s.name) for s in BY_NAME.values()
                    if s.family == BINARY and s.name not in (
                        "add", "sub", "mul", "div", "pow", "masked_fill", "lerp",
                        "where_scalar_other", "where_scalar_self", "copy_from",
                        "gt", "lt", "ge", "le", "eq", "ne")}  # (comparisons: tapegrad.compare)


globals().update(BINARY_FUNCTIONS)


def clamp(input: Tensor, min: "Tensor | float | None" = None,
          max: "Tensor | float | None" = None) -> Tensor:
    """input limited to [min, max], as torch.clamp (`clip` is the same): ClampBackward1
    for python bounds, ClampBackward0 for tensor bounds; the gradient is 1 inside the
    bounds (including at them) and 0 outside, as in PyTorch."""
    _check_tensor(input, "clamp")
    if min is None and max is None:
        raise RuntimeError("clamp: At least one of 'min' or 'max' must not be None")
    if isinstance(min, Tensor) or isinstance(max, Tensor):
        from .selection import clamp_tensor  # selection builds on this module

        return clamp_tensor(input, min, max)
    lo = -math.inf if min is None else float(min)
    hi = math.inf if max is None else float(max)
    if not input._dtype.is_floating_point:
        lo, hi = (None if b is None else dtypes.checked_int(b, input._dtype, "clamp")
                  for b in (min, max))
        return _from_array(np.clip(input._value(), lo, hi).astype(input._dtype.np, copy=False),
                           input._dtype, False)
    if not (input._rg and _local.grad_enabled):
        return _eager(_OP["clamp"], input._dtype, lo, input._value(), c2=hi)
    tape = current()
    (s,) = _slots(tape, input._dtype, input)
    rg = input._rg and _local.grad_enabled
    hi_bits = int(np.float64(hi).view(np.int64))  # unary records keep c2 in `aux`
    out = tape.record(_OP["clamp"], s, -1, hi_bits, lo, -1, input._dtype.code,
                      S_RG if rg else 0)
    return _on_tape(tape, out, input._shape, input._dtype, rg)


clip = clamp


def square(input: Tensor) -> Tensor:
    """input ** 2, as torch.square (recorded as pow with exponent 2, PowBackward0)."""
    return input ** 2


# ---- dtype conversion ------------------------------------------------------------------
def to(input: Tensor, dtype: object = None, *args: object, **kwargs: object) -> Tensor:
    """tensor.to(dtype), tensor.to(device), tensor.to(other): the tensor converted to a
    dtype (itself when it has it already), as torch.Tensor.to. A float-to-float cast of a
    tensor that requires grad is recorded (ToCopyBackward0). The CPU as a device ("cpu",
    torch.device("cpu")) is accepted, any other device raises a RuntimeError (tapegrad
    runs on the CPU only); `non_blocking` and `copy` are accepted and ignored."""
    from .device import check_device, device

    if isinstance(dtype, Tensor):
        dtype = dtype._dtype
    for d in (dtype, kwargs.get("device"), *args):
        if isinstance(d, (str, device)):
            check_device(d)
    if dtype is None or isinstance(dtype, (str, device)):
        dtype = kwargs.get("dtype") or next((a for a in args if isinstance(a, dtypes.dtype)),
                                            None)
        if dtype is None:
            return input
    if not isinstance(dtype, dtypes.dtype):
        raise TypeError(f"to() received an invalid combination of arguments: {dtype!r}")
    if dtype is input._dtype:
        return input
    tape = current()
    if input._dtype.is_floating_point and dtype.is_floating_point and input._rg and \
            _local.grad_enabled:
        rg = input._rg and _local.grad_enabled
        if input._tape is tape:
            s = tape.record_cast(input._slot, dtype.code, S_RG if rg else 0)
        else:
            s = tape.record_cast(_slots(tape, input._dtype, input)[0], dtype.code,
                                 S_RG if rg else 0)
        return _on_tape(tape, s, input._shape, dtype, rg)
    v = input._value()
    if input._dtype.is_floating_point and dtype.np.kind in "iu" and dtype.np.itemsize < 8:
        v = v.astype(np.int64)  # truncate, then wrap around (uint8: -1.5 is 255, 300.0 is 44)
    return _from_array(np.array(v, dtype.np), dtype, False)


# ---- binding: Tensor methods and operators --------------------------------------------
def _loaded(t, tape, dt):
    """The slot of leaf t loaded on `tape` earlier and unchanged since, or -1."""
    if t._tape is None and t._ltape is tape and t._lkey == (tape.epoch, t._vc[0], dt) and \
            len(t._vc) == 1:
        return t._lslot
    return -1


def _temp_refs():
    """References to `self` inside a binary operator's method when `self` is the
    temporary result of a subexpression, as `a * 2.5` in `a * 2.5 + a` (measured, so
    the count follows the interpreter)."""
    seen = []

    class Probe:
        def __add__(self, other):
            seen.append(getrefcount(self))
            return 0

    Probe() + 1
    return seen[0]


_TEMP = _temp_refs()
_ARRAY_REFS = getrefcount(np.zeros(1))  # an array that only the call's argument holds


def _temporary(a):
    """Is tensor a (held by nothing but the expression evaluating it: the caller checked
    its reference count) a plain float tensor whose array nothing else holds either (no
    view, no NumPy user, no tape copy)? Then an op may overwrite that array, as NumPy's
    temporary elision does, and return a itself."""
    arr = a._arr
    vc = a._vc
    return (type(a) is Tensor and a._tape is None and type(arr) is np.ndarray and
            arr.base is None and getrefcount(arr) <= _ARRAY_REFS + 2 and
            arr.flags.writeable and type(vc) is _Version and len(vc) == 1 and vc.loads is None)


def _into(ufunc, a, b):
    """a (a temporary, see _temporary) = ufunc(a, b), in place; returns a."""
    _reuse.into(ufunc, a._arr, b)
    return a


def _dunder(name):
    """`tensor (op) other`, going straight to the scalar op for a python float or int, and
    straight to the record for two same-shape float tensors of this tape (the common case
    of scalar programs: checks, promotion and broadcasting have nothing to do there)."""
    scalar_op, binary_op = _OP[name + "_scalar"], _OP[name]
    scalar_ufunc, binary_ufunc = _UFUNCS.get(scalar_op), _UFUNCS.get(binary_op)

    def op(a, b):
        tb = type(b)
        if (tb is float or tb is int) and a._dtype.is_floating_point:
            if a._rg:
                local = _local
                tape = local.tape
                if local.grad_enabled and not tape.dirty:
                    # a result of this tape, or a leaf loaded on it already: straight to
                    # the record (_record_unary's first two cases)
                    if a._tape is tape:
                        return _append(tape, scalar_op, a._slot, -1,
                                       b if tb is float else float(b), a._shape, a._dtype, S_RG)
                    if a._ltape is tape:
                        s = _loaded(a, tape, a._dtype)
                        if s >= 0:
                            return _append(tape, scalar_op, s, -1,
                                           b if tb is float else float(b), a._shape, a._dtype,
                                           S_RG)
                return _record_unary(scalar_op, a, b if tb is float else float(b))
            if scalar_ufunc is not None and getrefcount(a) <= _TEMP and _temporary(a):
                return _into(scalar_ufunc, a, float(b))  # (a * 2.5) + 1.0: into a's array
            return _record_unary(scalar_op, a, float(b))
        if tb is Tensor or isinstance(b, Tensor):
            tape = _local.tape
            dt = a._dtype
            if b._dtype is dt and a._shape == b._shape and dt.is_floating_point:
                if a._rg or b._rg:
                    if _local.grad_enabled and not tape.dirty:
                        sa = a._slot if a._tape is tape else _loaded(a, tape, dt)
                        sb = b._slot if b._tape is tape else _loaded(b, tape, dt)
                        if sa >= 0 and sb >= 0:
                            return _append(tape, binary_op, sa, sb, 1.0, a._shape, dt, S_RG)
                elif binary_ufunc is not None and getrefcount(a) <= _TEMP and _temporary(a):
                    return _into(binary_ufunc, a, b._value())  # (a * 2.5) + a: into a's
        return _binary(name, a, b)

    op.__name__ = f"__{name}__"
    return op


def _bind():
    """Bind the functions above as Tensor methods and operators."""
    T = Tensor
    for name, fn in {**UNARY_FUNCTIONS, **BINARY_FUNCTIONS}.items():
        setattr(T, name, fn)
    for name in ("add", "sub", "mul", "div", "pow", "neg", "reciprocal", "square", "clamp",
                 "clip", "to"):
        setattr(T, name, globals()[name])
    T.true_divide = T.divide = T.div
    T.multiply, T.subtract, T.negative, T.absolute = T.mul, T.sub, T.neg, T.abs
    T.__add__ = T.__radd__ = _dunder("add")
    T.__sub__ = _dunder("sub")
    T.__rsub__ = lambda a, b: _rsub(a, b) if isinstance(b, _scalar_types) else NotImplemented
    T.__mul__ = T.__rmul__ = _dunder("mul")
    T.__truediv__ = _dunder("div")
    T.__rtruediv__ = lambda a, b: _rdiv(a, b) if isinstance(b, _scalar_types) else NotImplemented
    T.__pow__ = _dunder("pow")
    T.__rpow__ = lambda a, b: pow(b, a) if isinstance(b, _scalar_types) else NotImplemented
    T.__neg__ = neg
    T.__pos__ = lambda a: a
    T.__abs__ = UNARY_FUNCTIONS["abs"]
    for name, dt in (("float", dtypes.float32), ("double", dtypes.float64),
                     ("long", dtypes.int64), ("int", dtypes.int32), ("bool", dtypes.bool_),
                     ("short", dtypes.int16), ("char", dtypes.int8), ("byte", dtypes.uint8),
                     ("half", dtypes.float16), ("bfloat16", dtypes.bfloat16)):
        setattr(T, name, _cast_method(name, dt))
    T.is_signed = _is_signed
    for name, fn in (("type", _type), ("cpu", _cpu), ("contiguous", _contiguous)):
        fn.__name__ = fn.__qualname__ = name
        setattr(T, name, fn)


def _cast_method(name, dt):
    """Tensor.float(), .double(), ...: self.to(dt); .half() and .bfloat16() raise."""
    def cast(self: Tensor, memory_format: object = None) -> Tensor:
        return to(self, dt)

    def refuse(self: Tensor, memory_format: object = None) -> Tensor:
        raise TypeError(f"{name}(): dtype torch.{dt.name} is not supported by tapegrad (no "
                        f"half-precision storage or math; use torch.float32 or torch.float64)")

    fn = refuse if isinstance(dt, dtypes._UnsupportedDtype) else cast
    fn.__name__ = fn.__qualname__ = name
    fn.__doc__ = (f"self.to(tapegrad.{dt.name}), as torch.Tensor.{name} (the tensor itself "
                  f"when it is {dt.name} already).") if fn is cast else (
        f"Raises TypeError: tapegrad has no {dt.name} storage or math (torch.Tensor.{name} "
        f"converts to torch.{dt.name}).")
    return fn


def _is_signed(self: Tensor) -> bool:
    """Whether the dtype holds negative values (False for uint8 and bool), as
    torch.Tensor.is_signed."""
    return self._dtype.is_signed


def _type(self: Tensor, dtype: object = None) -> "str | Tensor":
    """With no argument, the legacy type name ("torch.FloatTensor"); with a dtype, a legacy
    tensor type (torch.FloatTensor) or its name ("torch.DoubleTensor"), the tensor
    converted to it, as torch.Tensor.type."""
    if dtype is None:
        return f"torch.{self._dtype.legacy}"
    if isinstance(dtype, str) or (callable(dtype) and not isinstance(dtype, dtypes.dtype)):
        name = dtype if isinstance(dtype, str) else getattr(dtype, "__name__", "")
        match = [d for d in vars(dtypes).values() if isinstance(d, dtypes.dtype)
                 and name in (d.legacy, f"torch.{d.legacy}")]
        if not match:
            raise ValueError(f"invalid type: {dtype!r} (Tensor.type takes a dtype or a tensor "
                             f"type such as torch.FloatTensor)")
        dtype = match[0]
    return to(self, dtype)


def _cpu(self: Tensor, *args: object, **kwargs: object) -> Tensor:
    """The tensor itself: tapegrad tensors live on the CPU."""
    return self


def _contiguous(self: Tensor, *args: object, **kwargs: object) -> Tensor:
    """The tensor itself when its value is stored C-contiguously (recorded results always
    are); else a contiguous copy (a plain tensor's view such as a permute is a NumPy view),
    recorded as a clone when it requires grad."""
    if self._tape is not None:
        return self
    v = self._arr
    if v.flags.c_contiguous:
        return self
    if self.requires_grad:
        return self.clone()
    from .tensor import _from_array

    return _from_array(np.ascontiguousarray(v), self._dtype, False)


_bind()
