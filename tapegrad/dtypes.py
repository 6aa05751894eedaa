"""dtype objects (tapegrad.float32 ...), the default dtype and PyTorch's promotion rules."""

import builtins

import numpy as np

from .tape.records import DT_F32, DT_F64


class dtype:
    """A tensor element type; prints like PyTorch's (`torch.float32`)."""

    __slots__ = ("name", "np", "is_floating_point", "code", "legacy")

    def __init__(self, name: str, np_dtype: object, is_floating_point: bool,
                 code: builtins.int, legacy: str) -> None:
        self.name = name
        self.np = np.dtype(np_dtype)
        self.is_floating_point = is_floating_point
        self.code = code        # DT_F32 / DT_F64 for float dtypes (which arena), -1 otherwise
        self.legacy = legacy    # PyTorch's legacy type name, used in error messages

    def __repr__(self):
        return "torch." + self.name

    def __reduce__(self):
        return (_by_name, (self.name,))

    @property
    def itemsize(self) -> builtins.int:
        """Bytes per element, as torch.dtype.itemsize."""
        return self.np.itemsize

    @property
    def is_signed(self) -> builtins.bool:
        """Whether the type holds negative values (False for uint8 and bool), as
        torch.dtype.is_signed."""
        return self.is_floating_point or self.np.kind == "i"

    is_complex = False  # tapegrad has no complex dtypes


float32 = dtype("float32", np.float32, True, DT_F32, "FloatTensor")
float64 = dtype("float64", np.float64, True, DT_F64, "DoubleTensor")
int64 = dtype("int64", np.int64, False, -1, "LongTensor")
int32 = dtype("int32", np.int32, False, -1, "IntTensor")
int16 = dtype("int16", np.int16, False, -1, "ShortTensor")
int8 = dtype("int8", np.int8, False, -1, "CharTensor")
uint8 = dtype("uint8", np.uint8, False, -1, "ByteTensor")
bool_ = dtype("bool", np.bool_, False, -1, "BoolTensor")
float = float32     # torch.float, torch.double, torch.long, torch.int as in PyTorch
double = float64
long = int64
int = int32
short = int16

ALL = (float32, float64, int64, int32, int16, int8, uint8, bool_)
_BY_NP = {d.np: d for d in ALL}
# promotion order; uint8 and int8 share a rank: together they need int16 (as in PyTorch)
_RANK = {bool_: 0, uint8: 1, int8: 1, int16: 2, int32: 3, int64: 4, float32: 5, float64: 6}


def _caller_op() -> str:
    """Name of the tapegrad function that reached for an unsupported dtype's storage (the
    nearest public function of the package on the stack; factories report their name)."""
    import os
    import sys

    root = os.path.dirname(os.path.abspath(__file__))
    f = sys._getframe(2)
    while f is not None:
        code = f.f_code
        if not os.path.abspath(code.co_filename).startswith(root):
            break
        name = code.co_name
        if name == "make" and isinstance(f.f_locals.get("name"), str):
            return f.f_locals["name"]
        if name == "__init__" and "self" in f.f_locals:
            return type(f.f_locals["self"]).__name__
        if not name.startswith(("_", "<")) and name != "make":
            return name
        f = f.f_back
    return "this operation"


class _UnsupportedDtype(dtype):
    """float16 / bfloat16: the names exist (so `x.dtype == torch.float16` and dtype-keyed
    code run) but tapegrad neither stores nor computes them; anything that needs the
    element type (a factory, `.to`, an op) raises a TypeError naming the op and dtype."""

    __slots__ = ("_size",)

    def __init__(self, name: str, size: int, legacy: str) -> None:
        self.name, self.is_floating_point, self.legacy = name, True, legacy
        self._size = size

    def _refuse(self):
        raise TypeError(f"{_caller_op()}: dtype torch.{self.name} is not supported by "
                        f"tapegrad (no half-precision storage or math; use torch.float32 or "
                        f"torch.float64)")

    np = property(_refuse, doc="Raises TypeError: tapegrad has no such storage.")
    code = property(_refuse, doc="Raises TypeError: tapegrad has no such arena.")

    def __reduce__(self):
        return (_unsupported_by_name, (self.name,))

    @property
    def itemsize(self) -> int:
        """Bytes per element (2), as torch.float16.itemsize."""
        return self._size


float16 = _UnsupportedDtype("float16", 2, "HalfTensor")
bfloat16 = _UnsupportedDtype("bfloat16", 2, "BFloat16Tensor")
half = float16


def _by_name(name):
    return {d.name: d for d in ALL}[name]


def _unsupported_by_name(name):
    return {"float16": float16, "bfloat16": bfloat16}[name]


class _Default:
    value = float32


_default = _Default()


def set_default_dtype(d: dtype) -> None:
    """Set the dtype of new float tensors (tapegrad.float32 or tapegrad.float64), as
    torch.set_default_dtype."""
    if d not in (float32, float64):
        raise TypeError(f"only floating-point types are supported as the default type, got {d}")
    _default.value = d


def get_default_dtype() -> dtype:

    """The dtype of new float tensors (float32 unless set_default_dtype changed it)."""
    return _default.value


def from_numpy_dtype(npd):
    """tapegrad dtype of a NumPy dtype (float16 and friends are refused)."""
    d = _BY_NP.get(np.dtype(npd))
    if d is None:
        raise TypeError(f"can't convert np.ndarray of type {np.dtype(npd)}; the supported types are: "
                        "float64, float32, int64, int32, int16, int8, uint8 and bool.")
    return d


def promote(a, b):
    """Result dtype of a binary op between two tensors (PyTorch's category rules)."""
    if a is b:
        return a
    ra, rb = _RANK[a], _RANK[b]
    if ra == rb:  # uint8 with int8: the smallest type that holds both
        return int16
    return a if ra > rb else b


def _category(d):
    return 2 if d.is_floating_point else (0 if d is bool_ else 1)


def promote_tensors(a, sa, b, sb):
    """Result dtype of a binary op between tensors of dtypes a, b and shapes sa, sb: a 0-d
    tensor, like a python scalar, cannot lift a tensor with dims within its category."""
    if (len(sa) == 0) == (len(sb) == 0):
        return promote(a, b)
    dim, zero = (b, a) if len(sa) == 0 else (a, b)
    return zero if _category(zero) > _category(dim) else dim


def promote_scalar(d, s):
    """Result dtype of tensor(d) op python scalar s: a scalar only lifts the category."""
    if isinstance(s, bool):
        return d
    if isinstance(s, builtins.float):
        return d if d.is_floating_point else _default.value
    return d if d is not bool_ else int64


def promote_types(type1: dtype, type2: dtype) -> dtype:
    """The dtype a binary op between tensors of dtypes type1 and type2 gives."""
    if not (isinstance(type1, dtype) and isinstance(type2, dtype)):
        raise TypeError(f"promote_types(): expected two dtypes, got {type(type1).__name__} "
                        f"and {type(type2).__name__}")
    return promote(type1, type2)


def _scalar_dtype(s):
    if isinstance(s, bool):
        return bool_
    return _default.value if isinstance(s, builtins.float) else int64


def result_type(tensor1: object, tensor2: object) -> dtype:
    """The dtype of an arithmetic op between tensor1 and tensor2 (tensors or python
    numbers), by the promotion rules the ops use."""
    ts = [getattr(t, "_dtype", None) for t in (tensor1, tensor2)]
    for t, d in zip((tensor1, tensor2), ts):
        if d is None and not isinstance(t, (builtins.bool, builtins.int, builtins.float)):
            raise TypeError(f"result_type(): expected a Tensor or a number, got "
                            f"{type(t).__name__}")
    if ts[0] is not None and ts[1] is not None:
        return promote_tensors(ts[0], tuple(tensor1.shape), ts[1], tuple(tensor2.shape))
    if ts[0] is not None:
        return promote_scalar(ts[0], tensor2)
    if ts[1] is not None:
        return promote_scalar(ts[1], tensor1)
    a, b = _scalar_dtype(tensor1), _scalar_dtype(tensor2)
    return a if _category(a) >= _category(b) else b


# ---- python ints into fixed-width integer dtypes ------------------------------------------
def _int_bounds(d):
    """(lo, hi, bits) of integer dtype d."""
    bits = d.np.itemsize * 8
    if d.np.kind == "u":
        return 0, (1 << bits) - 1, bits
    return -(1 << (bits - 1)), (1 << (bits - 1)) - 1, bits


def wrap_int(c: builtins.int, d: dtype) -> builtins.int:
    """The python int c as integer dtype d holds it, wrapping around (two's complement), as
    PyTorch treats the python-int operand of arithmetic and comparisons (uint8: 256 is 0,
    -1 is 255). Ints outside int64 and the dtypes bool and int64 pass unchanged."""
    if d is bool_ or d.np.itemsize == 8 or isinstance(c, builtins.bool):
        return c
    lo, hi, bits = _int_bounds(d)
    if lo <= c <= hi or not -(1 << 63) <= c < (1 << 63):
        return c
    return ((c - lo) % (1 << bits)) + lo


def checked_int(c: "builtins.int | builtins.float", d: dtype, op: str = "") -> object:
    """A python number converted to integer dtype d with PyTorch's overflow check (for
    fill values, clamp bounds, data of tapegrad.tensor): a RuntimeError when it does not
    fit, except that a negative value down to -max of an unsigned dtype wraps (uint8: -1 is
    255, as in PyTorch). Non-integer dtypes and bool get c unchanged."""
    if d is bool_ or d.is_floating_point or isinstance(c, builtins.bool):
        return c
    lo, hi, _ = _int_bounds(d)
    if not (-hi if lo == 0 else lo) <= c <= hi:
        where = f"{op}(): " if op else ""
        raise RuntimeError(f"{where}value cannot be converted to type {d.name} without "
                           f"overflow (got {c})")
    return wrap_int(builtins.int(c), d) if isinstance(c, builtins.int) else c


def check_range(values: np.ndarray, d: dtype, op: str) -> None:
    """checked_int for every element of an array of python data bound for dtype d."""
    if d is bool_ or d.is_floating_point or values.size == 0 or values.dtype.kind not in "iuf":
        return
    lo, hi, _ = _int_bounds(d)
    lo = -hi if lo == 0 else lo
    bad = (values < lo) | (values > hi)
    if bad.any():
        checked_int(values[bad].flat[0].item(), d, op)
