"""tapegrad: PyTorch's autograd API on a flat Wengert tape with Numba-compiled sweeps.

    import tapegrad as torch
    x = torch.tensor([2.0], requires_grad=True)
    y = x**2 + 3*x + 1
    y.backward()
    x.grad          # tensor([7.])
"""

from __future__ import annotations

from . import _startup

with _startup.paused():  # (the cyclic collector, over Numba's import: tapegrad/_startup.py)
    from . import autograd, dtypes
from .autograd.engine import backward as _backward
from .autograd.anomaly import (is_anomaly_check_nan_enabled, is_anomaly_enabled,
                               set_anomaly_enabled)
from .autograd.grad_mode import (enable_grad, inference_mode, is_grad_enabled,
                                 is_inference_mode_enabled, no_grad, set_grad_enabled)
from .creation import (DoubleTensor, FloatTensor, LongTensor, arange, as_tensor, empty,
                       empty_like, eye, from_numpy, full, full_like, linspace, normal, ones,
                       ones_like, rand, rand_like, randint, randint_like, randn, randn_like,
                       randperm, tensor, zeros, zeros_like, get_default_device,
                       set_default_device, with_out as _with_out)
from .random import (Generator, bernoulli, default_generator, get_rng_state, initial_seed,
                     manual_seed, multinomial, seed, set_rng_state)
from .serialization import load, save
from .printing import set_printoptions
from .dtypes import (bool_ as bool, double, float, float32, float64, get_default_dtype, int,
                     int8, int16, int32, int64, long, set_default_dtype, short, uint8)
from .dtypes import bfloat16, float16, half  # names only: using them raises TypeError
from .dtypes import dtype, promote_types, result_type
from .functions import (BINARY_FUNCTIONS as _BINARY, UNARY_FUNCTIONS as _UNARY, add, broadcast_shapes, clamp, clip,
                        div, mul, neg, pow, reciprocal, square, sub)
from .inplace import detach
from .activations import log_softmax, softmax
from ._products import bmm, dot, ger, matmul, mm, mv, outer
from . import linalg
from .reductions import (amax, amin, cumsum, logsumexp, max, mean, min, norm, prod, std, sum,
                         var)
from .movement import (cat, chunk, clone, concat, concatenate, stack, expand, flatten, flip, permute, repeat, reshape, select,
                       split, squeeze, swapaxes, t, transpose, unsqueeze, view)
from .selection import gather, index_put, index_select, lerp, masked_fill, where
from .scatter import scatter, scatter_add
from .tensor import Size, Tensor
from .composite import (addmm, argsort, atleast_1d, atleast_2d, baddbmm, bincount, broadcast_shapes,
                        broadcast_to, bucketize, cdist, ceil, clamp_max, clamp_min,
                        column_stack, count_nonzero, diag, diagonal, diff, e, finfo, fix,
                        floor, floor_divide, fmod, frac, get_num_threads, hstack, iinfo, inf,
                        isin, masked_select, meshgrid, movedim, msort, nan, nan_to_num,
                        narrow, nonzero, pi, remainder, repeat_interleave, roll, round,
                        searchsorted, set_num_threads, sort, std_mean, tile, topk, trace,
                        tril, triu, trunc, unbind, unique, var_mean, vstack)
from .compare import (all, allclose, any, argmax, argmin, bitwise_and, bitwise_not, bitwise_or,
                      bitwise_xor, eq, equal, ge, greater, greater_equal, gt, isclose, isfinite,
                      isinf, isnan, isneginf, isposinf, le, less, less_equal, logical_and,
                      logical_not, logical_or, logical_xor, lt, ne, not_equal)

globals().update(_UNARY)  # exp, log, sqrt, sin, cos, tanh, sigmoid, relu, abs, ...
globals().update(_BINARY)  # atan2, maximum, minimum
add, sub, mul, div, pow, matmul, mm, bmm, mv, cat, stack = map(  # out= as in PyTorch
    _with_out, (add, sub, mul, div, pow, matmul, mm, bmm, mv, cat, stack))
concat = concatenate = cat
true_divide = divide = div
multiply, subtract, negative = mul, sub, neg
from .tensor_extras import (addcdiv, addcmul, broadcast_tensors, cross, dist,  # noqa: E402
                            logspace, take, tril_indices, triu_indices)
from .composite2 import (ceil, cummax, cummin, cumprod, fix, floor, frac, histc, hypot,  # noqa
                         index_add, kthvalue, logaddexp, logaddexp2, logcumsumexp, median,
                         mode, nanmean, nanmedian, nansum, round, trunc)
from .contract import diag_embed, einsum, kron, tensordot  # noqa: E402
from .linalg_ops import TOP_LEVEL as _LINALG_TOP  # noqa: E402

globals().update(_LINALG_TOP)  # inverse, det, logdet, slogdet, cholesky, qr, svd
from ._axis import install_axis as _install_axis  # noqa: E402

_install_axis(globals())  # axis= as another name of dim=


def _tensor_backward(self: Tensor, gradient: Tensor | None = None,
                     retain_graph: bool | None = None, create_graph: bool = False,
                     inputs: Tensor | list[Tensor] | None = None) -> None:
    """Compute the gradient of this tensor with respect to the graph's leaves and
    accumulate it into their `.grad`, as torch.Tensor.backward.

    `gradient` is the vector of the vector-Jacobian product (required unless the tensor
    has one element). The graph is freed afterwards unless `retain_graph` (default:
    `create_graph`); `create_graph=True` records the backward itself so that the
    gradients can be differentiated again; `inputs` restricts accumulation to those
    leaves. Differences from PyTorch: backward is one compiled sweep over this thread's
    tape (records of other threads are not reached), and a graph freed by an earlier
    backward raises PyTorch's RuntimeError."""
    _backward(self, None if gradient is None else (gradient,), retain_graph, create_graph,
              inputs)


_tensor_backward.__name__ = _tensor_backward.__qualname__ = "backward"
Tensor.backward = _tensor_backward


def compile(model: object = None, *, fullgraph: bool = False, dynamic: object = None,
            backend: object = "inductor", mode: object = None, options: object = None,
            disable: bool = False) -> object:
    """`model` itself (a function or a Module), or, called without it, a decorator that
    returns what it decorates. PyTorch's `torch.compile` speeds a model up without changing
    its results; tapegrad has no graph compiler to hand it to, so code that calls it runs
    unchanged, eagerly. To compile a function's value and gradient, use `tapegrad.func`
    (record once, replay at compiled speed)."""
    if model is None:
        return lambda fn: fn
    return model


def is_tensor(obj: object) -> bool:
    """Whether obj is a tapegrad Tensor (or a subclass, as nn.Parameter), as torch.is_tensor."""
    return isinstance(obj, Tensor)


def is_floating_point(input: Tensor) -> bool:
    """Whether input has a floating-point dtype, as torch.is_floating_point."""
    return input._dtype.is_floating_point


def numel(input: Tensor) -> int:
    """The number of elements of input, as torch.numel."""
    return input.numel()


__version__ = "0.1.0"

from .device import accelerator, backends, cuda, device  # noqa: E402
# tapegrad.nn, optim, utils, func, jit and profiler are imported on first use (module
# __getattr__ below): `import tapegrad` for autograd alone does not pay for them (about 60 ms)
_LAZY = frozenset(("func", "jit", "nn", "optim", "profiler", "utils"))

import sys as _sys  # noqa: E402

_sys.modules.update({"tapegrad.cuda": cuda, "tapegrad.backends": backends,
                     "tapegrad.backends.mps": backends.mps, "tapegrad.accelerator": accelerator})

from ._pytorch_names import install_tensor_names as _install  # noqa: E402

_install(Tensor)  # Tensor.stft & co: AttributeError "tapegrad does not support ... yet"

# the public names (submodules aside): everything above without a leading underscore
__all__ = sorted(_n for _n, _v in globals().items()
                 if not _n.startswith("_") and type(_v) is not type(_sys) and
                 _n != "annotations")  # the __future__ feature
del annotations


_startup.settle()  # Numba's registries loaded, the import-time heap frozen (_startup.py)


def __getattr__(name: str) -> object:
    """A submodule imported on first use (nn, optim, utils, func, jit, profiler), or an
    AttributeError that says so when PyTorch has the name (not yet here)."""
    if name in _LAZY:
        import importlib

        return importlib.import_module(f"{__name__}.{name}")  # (binds it here too)
    from ._pytorch_names import TORCH, unsupported

    raise unsupported("torch", name, TORCH, _sys.modules[__name__])
