"""Comparisons, logical and bitwise ops, any/all, argmax/argmin, isclose/allclose.

None of these is recorded on the tape in ordinary (eager) use and none has a gradient (as
in PyTorch): each reads the NumPy value of its inputs and returns a new tensor owning its
result array (bool for comparisons, logical ops, any/all, isnan...; int64 for
argmax/argmin; bool or integer for bitwise ops). Operands are compared in PyTorch's common dtype (a python scalar or a 0-d
tensor does not lift a tensor with dims within its category), so `float32 == 0.1` compares
in float32. While tapegrad.func records a function, comparisons of its values and logic on
the resulting masks are recorded instead (tapegrad/_recorded_masks.py). Importing this
module binds the methods and operators on Tensor.
"""

import builtins

import numpy as np

from . import dtypes
from ._hints import Dims, Number
from ._recorded_masks import _Mask, _recorded, _recorded_logical
from .functions import broadcast_shapes
from .tensor import Tensor, _dim, _from_array

_scalar_types = (builtins.int, builtins.float, builtins.bool, np.number, np.bool_)
_INT64_MIN, _INT64_MAX = -(2**63), 2**63 - 1


def _new(arr, dt):
    """A tensor owning the (freshly computed) result `arr`, as a C-contiguous array of dt."""
    a = np.asarray(arr, dt.np)
    if not a.flags.c_contiguous:
        a = np.ascontiguousarray(a)  # (never 0-d here: ascontiguousarray makes 0-d arrays 1-d)
    return _from_array(a, dt, False)


def _check_input(x, op):
    if not isinstance(x, Tensor):
        raise TypeError(f"{op}(): argument 'input' must be Tensor, not {type(x).__name__}")


def _check_other(x, op):
    if not isinstance(x, Tensor):
        raise TypeError(f"{op}(): argument 'other' must be Tensor, not {type(x).__name__}")


def _tname(dt):
    """PyTorch's short dtype name used in kernel errors: Float, Double, Long, Int, Bool."""
    return dt.legacy[:-len("Tensor")]


def _operands(op, a, b):
    """(va, vb, dt): the operands of a binary op as NumPy values in the common dtype dt.
    b may be a python/NumPy scalar; the shapes are checked for broadcasting."""
    _check_input(a, op)
    if isinstance(b, Tensor):
        broadcast_shapes(a._shape, b._shape, op)
        dt = (a._dtype if a._dtype is b._dtype else
              dtypes.promote_tensors(a._dtype, a._shape, b._dtype, b._shape))
        return a._value().astype(dt.np, copy=False), b._value().astype(dt.np, copy=False), dt
    if not isinstance(b, _scalar_types):
        raise TypeError(f"{op}(): argument 'other' must be Tensor or Number, not "
                        f"{type(b).__name__}")
    if isinstance(b, (np.number, np.bool_)):
        b = b.item()
    dt = dtypes.promote_scalar(a._dtype, b)
    va = a._value().astype(dt.np, copy=False)
    if dt.is_floating_point:
        return va, dt.np.type(b), dt
    if isinstance(b, builtins.int) and not isinstance(b, builtins.bool) and not (
            _INT64_MIN <= b <= _INT64_MAX):
        raise OverflowError(f"{op}(): int too big to convert")
    return va, dtypes.wrap_int(b, dt), dt  # wrapped into dt first, as PyTorch does


# ---- comparisons ------------------------------------------------------------------------
def _comparison(name, ufunc):
    def fn(input, other):
        if getattr(input, "_tape", None) is not None or (isinstance(other, Tensor) and
                                                          other._tape is not None):
            m = _recorded(name, input, other)
            if m is not None:
                return m
        va, vb, _ = _operands(name, input, other)
        return _new(ufunc(va, vb), dtypes.bool_)

    fn.__name__ = fn.__qualname__ = name
    fn.__annotations__ = {"input": Tensor, "other": Tensor | Number, "return": Tensor}
    fn.__doc__ = (f"Elementwise `{name}` with broadcasting; a bool tensor (recorded only while "
                  "tapegrad.func records a function).")
    return fn


eq = _comparison("eq", np.equal)
ne = _comparison("ne", np.not_equal)
lt = _comparison("lt", np.less)
le = _comparison("le", np.less_equal)
gt = _comparison("gt", np.greater)
ge = _comparison("ge", np.greater_equal)
greater, greater_equal, less, less_equal, not_equal = gt, ge, lt, le, ne


def equal(input: Tensor, other: Tensor) -> bool:
    """True if both tensors have the same shape and equal elements (NaN is unequal)."""
    _check_input(input, "equal")
    _check_other(other, "equal")
    if input._shape != other._shape:
        return False
    va, vb, _ = _operands("equal", input, other)
    return builtins.bool(np.array_equal(va, vb))


# ---- floating-point classification ------------------------------------------------------
def _classify(name, ufunc, int_value):
    def fn(input):
        _check_input(input, name)
        v = input._value()
        if input._dtype.is_floating_point:
            return _new(ufunc(v), dtypes.bool_)
        return _new(np.full(v.shape, int_value, np.bool_), dtypes.bool_)

    fn.__name__ = fn.__qualname__ = name
    fn.__annotations__ = {"input": Tensor, "return": Tensor}
    fn.__doc__ = f"Elementwise `{name}`: a bool tensor (integer and bool inputs are finite)."
    return fn


isnan = _classify("isnan", np.isnan, False)
isinf = _classify("isinf", np.isinf, False)
isfinite = _classify("isfinite", np.isfinite, True)
isposinf = _classify("isposinf", np.isposinf, False)
isneginf = _classify("isneginf", np.isneginf, False)


# ---- logical ----------------------------------------------------------------------------
def _logical(name, ufunc):
    def fn(input, other):
        _check_input(input, name)
        _check_other(other, name)
        broadcast_shapes(input._shape, other._shape, name)
        if type(input) is _Mask or type(other) is _Mask:
            m = _recorded_logical(name[8:], input, other)
            if m is not None:
                return m
        return _new(ufunc(input._value() != 0, other._value() != 0), dtypes.bool_)

    fn.__name__ = fn.__qualname__ = name
    fn.__annotations__ = {"input": Tensor, "other": Tensor, "return": Tensor}
    fn.__doc__ = f"Elementwise `{name}` of the truth values (nonzero is True); a bool tensor."
    return fn


logical_and = _logical("logical_and", np.logical_and)
logical_or = _logical("logical_or", np.logical_or)
logical_xor = _logical("logical_xor", np.logical_xor)


def logical_not(input: Tensor) -> Tensor:
    """Elementwise logical NOT (input == 0) as a bool tensor, as torch.logical_not."""
    _check_input(input, "logical_not")
    if type(input) is _Mask:
        m = _recorded_logical("not", input)
        if m is not None:
            return m
    return _new(input._value() == 0, dtypes.bool_)


# ---- bitwise (bool and integer tensors) -------------------------------------------------
def _bitwise(name, ufunc):
    def fn(input, other):
        if type(input) is _Mask or type(other) is _Mask:
            m = _recorded_logical(name[8:], input, other)
            if m is not None:
                return m
        va, vb, dt = _operands(name, input, other)
        if dt.is_floating_point:
            raise NotImplementedError(f'"{name}_cpu" not implemented for \'{_tname(dt)}\'')
        return _new(ufunc(va, vb), dt)

    fn.__name__ = fn.__qualname__ = name
    fn.__annotations__ = {"input": Tensor, "other": Tensor | Number, "return": Tensor}
    fn.__doc__ = f"Elementwise `{name}` of bool or integer tensors (bool for two bools)."
    return fn


bitwise_and = _bitwise("bitwise_and", np.bitwise_and)
bitwise_or = _bitwise("bitwise_or", np.bitwise_or)
bitwise_xor = _bitwise("bitwise_xor", np.bitwise_xor)


def bitwise_not(input: Tensor) -> Tensor:
    """Elementwise bitwise NOT of an integer tensor (logical NOT of a bool one); float tensors
    raise."""
    _check_input(input, "bitwise_not")
    if type(input) is _Mask:
        m = _recorded_logical("not", input)
        if m is not None:
            return m
    dt = input._dtype
    if dt.is_floating_point:
        raise NotImplementedError(f'"bitwise_not_cpu" not implemented for \'{_tname(dt)}\'')
    return _new(np.invert(input._value()), dt)


# ---- reductions to bool and to indices ----------------------------------------------------
def _dims(dim, nd, op):
    """A tuple of normalized dims (PyTorch's IndexError / repeated-dim RuntimeError)."""
    if isinstance(dim, (tuple, list)):
        out = tuple(_dim(d, nd, op) for d in dim)
        for i, d in enumerate(out):
            if d in out[:i]:
                raise RuntimeError(f"{op}(): dim {d} appears multiple times in the list of dims")
        return out
    return (_dim(dim, nd, op),)


def _any_all(name, ufunc):
    def fn(input, dim=None, keepdim=False):
        _check_input(input, name)
        v = input._value() != 0
        out = dtypes.uint8 if input._dtype is dtypes.uint8 else dtypes.bool_  # (as PyTorch)
        if dim is None:
            r = ufunc(v)
            if keepdim:
                r = np.reshape(r, (1,) * v.ndim)
            return _new(np.asarray(r, out.np), out)
        axes = _dims(dim, v.ndim, name)
        if not axes or v.ndim == 0:  # dim=() reduces nothing in PyTorch; nor does a 0-d dim
            return _new(np.asarray(v, out.np), out)
        return _new(np.asarray(ufunc(v, axis=axes, keepdims=keepdim), out.np), out)

    fn.__name__ = fn.__qualname__ = name
    fn.__annotations__ = {"input": Tensor, "dim": Dims | None, "keepdim": bool,
                          "return": Tensor}
    fn.__doc__ = (f"`{name}` of the truth values over the whole tensor, or over `dim` (int or "
                  f"tuple) with `keepdim`; a bool tensor (uint8 for a uint8 input, as in PyTorch).")
    return fn


any = _any_all("any", np.any)
all = _any_all("all", np.all)


def _arg(name, npfn):
    def fn(input, dim=None, keepdim=False):
        _check_input(input, name)
        if input._dtype is dtypes.bool_:
            raise RuntimeError(f"{name}(): does not support bool input")
        v = input._value()
        if dim is None:
            if v.size == 0:
                raise IndexError(f"{name}(): Expected reduction dim to be specified for "
                                 "input.numel() == 0.")
            r = npfn(v)  # over the flattened tensor; the first occurrence wins, NaN wins
            return _new(np.reshape(r, (1,) * v.ndim if keepdim else ()), dtypes.int64)
        d = _dim(dim, v.ndim, name)
        if v.ndim == 0:
            return _new(np.int64(0), dtypes.int64)
        if v.shape[d] == 0:
            raise IndexError(f"{name}(): Expected reduction dim {d} to have non-zero size.")
        return _new(npfn(v, axis=d, keepdims=keepdim), dtypes.int64)

    fn.__name__ = fn.__qualname__ = name
    fn.__annotations__ = {"input": Tensor, "dim": int | None, "keepdim": bool,
                          "return": Tensor}
    fn.__doc__ = (f"Indices of the {name[3:]}imum (int64; ties and NaN: first occurrence), over "
                  "the flattened tensor or along `dim`; never recorded.")
    return fn


argmax = _arg("argmax", np.argmax)
argmin = _arg("argmin", np.argmin)


# ---- closeness ----------------------------------------------------------------------------
def _isclose(op, input, other, rtol, atol, equal_nan):
    _check_input(input, op)
    _check_other(other, op)
    if input._dtype is not other._dtype:
        raise RuntimeError(f"{op}(): {_tname(input._dtype)} did not match "
                           f"{_tname(other._dtype)}")
    if rtol < 0:
        raise RuntimeError(f"{op}(): rtol must be greater than or equal to zero, but got {rtol}")
    if atol < 0:
        raise RuntimeError(f"{op}(): atol must be greater than or equal to zero, but got {atol}")
    broadcast_shapes(input._shape, other._shape, op)
    va, vb = input._value(), other._value()
    if input._dtype is dtypes.bool_:
        return np.equal(va, vb)
    if input._dtype.is_floating_point:  # |a - b| <= atol + rtol |b| in the tensors' dtype
        t = va.dtype.type
        return np.isclose(va, vb, rtol=t(rtol), atol=t(atol), equal_nan=equal_nan)
    return np.isclose(va, vb, rtol=rtol, atol=atol)


def isclose(input: Tensor, other: Tensor, rtol: float = 1e-05, atol: float = 1e-08,
            equal_nan: bool = False) -> Tensor:
    """Elementwise |input - other| <= atol + rtol * |other| (equal infinities are close);
    a bool tensor."""
    return _new(_isclose("isclose", input, other, rtol, atol, equal_nan), dtypes.bool_)


def allclose(input: Tensor, other: Tensor, rtol: float = 1e-05, atol: float = 1e-08,
             equal_nan: bool = False) -> bool:

    """True if every element of input is close to other (see isclose)."""
    return builtins.bool(np.all(_isclose("allclose", input, other, rtol, atol, equal_nan)))


# ---- binding ------------------------------------------------------------------------------
def _dunder(fn):
    """An operator: NotImplemented for operands that are not tensors or numbers, so that
    `x == None` is False and `x < "a"` raises Python's TypeError, as in PyTorch."""
    def op(self, other):
        if not isinstance(other, (Tensor,) + _scalar_types):
            return NotImplemented
        return fn(self, other)
    return op


def _invert(self):
    if self._dtype.is_floating_point:
        raise TypeError("~ (operator.invert) is only implemented on integer and Boolean-type "
                        "tensors")
    return bitwise_not(self)


FUNCTIONS = ("eq", "ne", "lt", "le", "gt", "ge", "greater", "greater_equal", "less",
             "less_equal", "not_equal", "equal", "isnan", "isinf", "isfinite", "isposinf",
             "isneginf", "logical_and", "logical_or", "logical_xor", "logical_not",
             "bitwise_and", "bitwise_or", "bitwise_xor", "bitwise_not", "any", "all", "argmax",
             "argmin", "isclose", "allclose")


def _bind():
    T = Tensor
    g = globals()
    for name in FUNCTIONS:
        setattr(T, name, g[name])
    T.__eq__ = _dunder(eq)
    T.__ne__ = _dunder(ne)
    T.__lt__ = _dunder(lt)
    T.__le__ = _dunder(le)
    T.__gt__ = _dunder(gt)
    T.__ge__ = _dunder(ge)
    T.__and__ = _dunder(bitwise_and)
    T.__or__ = _dunder(bitwise_or)
    T.__xor__ = _dunder(bitwise_xor)
    # `2 & x` calls x.__rand__(2): & | ^ commute (dtype promotion too); `2 < x` is x.__gt__(2)
    # by Python's own reflection
    T.__rand__, T.__ror__, T.__rxor__ = T.__and__, T.__or__, T.__xor__
    T.__invert__ = _invert
    # Tensor's own __hash__ (by id) stays: __eq__ set after the class body does not clear it


_bind()
