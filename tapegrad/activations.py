"""Activations and softmax: one record each (rows of the op table in
tapegrad/ops/nn.py and tapegrad/ops/structural.py).

These are the functions behind `tapegrad.nn.functional` and the `nn` activation layers;
`softmax` and `log_softmax` are also `tapegrad.softmax` and Tensor methods, as in PyTorch.
"""

import math
import warnings

import numpy as np

from . import dtypes
from .functions import _eager, _unary, to
from .recorder import OP, check_tensor, needs_grad, record, slots
from .tape.records import S_RG
from .tape.tape import current
from .tensor import Tensor, _dim, _from_array, _on_tape


def _float_input(x: Tensor, op: str) -> Tensor:
    check_tensor(x, op)
    if not x._dtype.is_floating_point:
        raise RuntimeError(f"{op}: expected a floating point tensor, got {x._dtype} of shape "
                           f"{list(x._shape)}")
    return x


def _unary2(name: str, x: Tensor, c: float, c2: float) -> Tensor:
    """A UNARY op with two float parameters (the record keeps c2's bits in `aux`)."""
    _float_input(x, name)
    if not needs_grad(x):
        return _eager(OP[name], x._dtype, c, x._value(), c2=c2)
    tape = current()
    (s,) = slots(tape, x._dtype, x)
    hi_bits = int(np.float64(c2).view(np.int64))
    out = tape.record(OP[name], s, -1, hi_bits, c, -1, x._dtype.code, S_RG)
    return _on_tape(tape, out, x._shape, x._dtype, True)


def relu6(input: Tensor, inplace: bool = False) -> Tensor:
    """min(max(x, 0), 6) (HardtanhBackward0, as PyTorch records it)."""
    return hardtanh(input, 0.0, 6.0)


def hardtanh(input: Tensor, min_val: float = -1.0, max_val: float = 1.0,
             inplace: bool = False) -> Tensor:
    """Clamp to [min_val, max_val]; zero gradient outside the open interval."""
    if min_val > max_val:
        raise ValueError(f"hardtanh: min_val ({min_val}) cannot be greater than max_val "
                         f"({max_val})")
    return _unary2("hardtanh", input, float(min_val), float(max_val))


def softplus(input: Tensor, beta: float = 1.0, threshold: float = 20.0) -> Tensor:
    """log(1 + exp(beta x)) / beta, linear (x) where beta x > threshold."""
    return _unary2("softplus", input, float(beta), float(threshold))


def leaky_relu(input: Tensor, negative_slope: float = 0.01, inplace: bool = False) -> Tensor:
    """x where x > 0, negative_slope * x elsewhere."""
    return _unary("leaky_relu", _float_input(input, "leaky_relu"), float(negative_slope))


def elu(input: Tensor, alpha: float = 1.0, inplace: bool = False) -> Tensor:
    """x where x > 0, alpha (exp(x) - 1) elsewhere."""
    return _unary("elu", _float_input(input, "elu"), float(alpha))


def selu(input: Tensor, inplace: bool = False) -> Tensor:
    """scale * elu(x, alpha) with the self-normalizing constants."""
    return elu(input, 1.6732632423543772) * 1.0507009873554805


def celu(input: Tensor, alpha: float = 1.0, inplace: bool = False) -> Tensor:
    """max(0, x) + min(0, alpha (exp(x / alpha) - 1))."""
    if alpha == 0:
        raise RuntimeError("ZeroDivisionError: celu: alpha cannot be 0")
    return elu(input / alpha, 1.0) * alpha if alpha != 1 else elu(input, 1.0)


def gelu(input: Tensor, approximate: str = "none") -> Tensor:
    """x Phi(x) (approximate='none', with erf) or its tanh approximation ('tanh')."""
    if approximate not in ("none", "tanh"):
        raise RuntimeError(f"gelu: approximate argument must be either none or tanh, got "
                           f"{approximate!r}")
    return _unary("gelu", _float_input(input, "gelu"), 0.0 if approximate == "none" else 1.0)


def silu(input: Tensor, inplace: bool = False) -> Tensor:
    """x * sigmoid(x) (swish)."""
    return _unary("silu", _float_input(input, "silu"))


def mish(input: Tensor, inplace: bool = False) -> Tensor:
    """x * tanh(softplus(x))."""
    return input * softplus(input).tanh()


def logsigmoid(input: Tensor) -> Tensor:
    """log(sigmoid(x)), computed without overflow on either side."""
    return _unary("logsigmoid", _float_input(input, "logsigmoid"))


def hardsigmoid(input: Tensor, inplace: bool = False) -> Tensor:
    """relu6(x + 3) / 6."""
    return hardtanh(input + 3.0, 0.0, 6.0) / 6.0


def hardswish(input: Tensor, inplace: bool = False) -> Tensor:
    """x * relu6(x + 3) / 6."""
    return input * hardsigmoid(input)


def tanhshrink(input: Tensor) -> Tensor:
    """x - tanh(x)."""
    return input - input.tanh()


def softsign(input: Tensor) -> Tensor:
    """x / (1 + |x|)."""
    return input / (input.abs() + 1.0)


# ---- softmax family ---------------------------------------------------------------------
def _implicit_dim(nd: int, op: str) -> int:
    warnings.warn(f"Implicit dimension choice for {op} has been deprecated. Change the call to "
                  "include dim=X as an argument.", UserWarning, stacklevel=4)
    return 0 if nd in (0, 1, 3) else 1


def _softmax(name: str, x: Tensor, dim, dtype) -> Tensor:
    check_tensor(x, name)
    if dtype is not None:
        x = to(x, dtype)
    nd = len(x._shape)
    if dim is None:
        dim = _implicit_dim(nd, name)
    d = _dim(dim, nd, name) if nd else _dim(dim, 1, name) * 0
    if not x._dtype.is_floating_point:
        raise RuntimeError(f"\"{name}_lastdim_kernel_impl\" not implemented for "
                           f"'{x._dtype.name.capitalize()}'")
    sh = x._shape
    if not needs_grad(x):
        a = x._value().astype(np.float64)
        ax = d if nd else None
        with np.errstate(all="ignore"):
            m = np.max(a, axis=ax, keepdims=True) if a.size else a
            e = a - m
            ls = np.log(np.sum(np.exp(e), axis=ax, keepdims=True))
            v = e - ls if name == "log_softmax" else np.exp(e - ls)
        return _from_array(np.asarray(v, x._dtype.np).reshape(sh), x._dtype, False)
    params = (math.prod(sh[:d]), sh[d] if nd else 1, math.prod(sh[d + 1:]))
    return record(name, (x,), sh, x._dtype, params=params)


def softmax(input: Tensor, dim: int | None = None, _stacklevel: int = 3,
            dtype: dtypes.dtype | None = None) -> Tensor:
    """exp(x) / sum(exp(x)) along dim, shifted by the max (one SoftmaxBackward0 record)."""
    return _softmax("softmax", input, dim, dtype)


def log_softmax(input: Tensor, dim: int | None = None, _stacklevel: int = 3,
                dtype: dtypes.dtype | None = None) -> Tensor:
    """x - logsumexp(x) along dim (one LogSoftmaxBackward0 record)."""
    return _softmax("log_softmax", input, dim, dtype)


def softmin(input: Tensor, dim: int | None = None, _stacklevel: int = 3,
            dtype: dtypes.dtype | None = None) -> Tensor:
    """softmax(-x) along dim."""
    return _softmax("softmax", -input, dim, dtype)


def _softmax_method(self: Tensor, dim: int, dtype: dtypes.dtype | None = None) -> Tensor:
    return _softmax("softmax", self, dim, dtype)


def _log_softmax_method(self: Tensor, dim: int, dtype: dtypes.dtype | None = None) -> Tensor:
    return _softmax("log_softmax", self, dim, dtype)


def _bind() -> None:
    """Bind softmax and log_softmax as Tensor methods (dim is required, as in PyTorch)."""
    for fn, name, doc in ((_softmax_method, "softmax", softmax.__doc__),
                          (_log_softmax_method, "log_softmax", log_softmax.__doc__)):
        fn.__name__ = fn.__qualname__ = name
        fn.__doc__ = doc
        setattr(Tensor, name, fn)


_bind()
