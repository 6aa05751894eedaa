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
    def itemsize(self):
        return self.np.itemsize


float32 = dtype("float32", np.float32, True, DT_F32, "FloatTensor")
float64 = dtype("float64", np.float64, True, DT_F64, "DoubleTensor")
int64 = dtype("int64", np.int64, False, -1, "LongTensor")
int32 = dtype("int32", np.int32, False, -1, "IntTensor")
bool_ = dtype("bool", np.bool_, False, -1, "BoolTensor")
float = float32     # torch.float, torch.double, torch.long, torch.int as in PyTorch
double = float64
long = int64
int = int32

ALL = (float32, float64, int64, int32, bool_)
_BY_NP = {d.np: d for d in ALL}
_RANK = {bool_: 0, int32: 1, int64: 2, float32: 3, float64: 4}


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
                        "float64, float32, int64, int32 and bool.")
    return d


def promote(a, b):
    """Result dtype of a binary op between two tensors (PyTorch's category rules)."""
    if a is b:
        return a
    return a if _RANK[a] >= _RANK[b] else b


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

