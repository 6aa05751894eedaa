"""tapegrad: PyTorch's autograd API on a flat Wengert tape with Numba-compiled sweeps.

    import tapegrad as torch
    x = torch.tensor([2.0], requires_grad=True)
    y = x**2 + 3*x + 1
    y.backward()
    x.grad          # tensor([7.])
"""

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
from .dtypes import (bool_ as bool, double, float, float32, float64, get_default_dtype, int,
                     int32, int64, long, set_default_dtype)
from .dtypes import dtype
from .functions import (BINARY_FUNCTIONS, UNARY_FUNCTIONS, add, broadcast_shapes, clamp, clip,
                        div, mul, neg, pow, reciprocal, square, sub)
from .inplace import detach
from .activations import log_softmax, softmax
from .linalg import bmm, dot, ger, matmul, mm, mv, outer
from .reductions import (amax, amin, cumsum, logsumexp, max, mean, min, norm, prod, std, sum,
                         var)
from .movement import (cat, chunk, clone, concat, concatenate, stack, expand, flatten, flip, permute, repeat, reshape, select,
                       split, squeeze, swapaxes, t, transpose, unsqueeze, view)
from .selection import gather, index_put, index_select, lerp, masked_fill, where
from .scatter import scatter, scatter_add
from .tensor import Size, Tensor
from .composite import (addmm, argsort, atleast_1d, atleast_2d, baddbmm, bincount,
                        broadcast_to, bucketize, cdist, ceil, clamp_max, clamp_min,
                        column_stack, count_nonzero, diag, diagonal, diff, e, finfo, fix,
                        floor, floor_divide, fmod, frac, get_num_threads, hstack, iinfo, inf,
                        isin, masked_select, meshgrid, movedim, msort, nan, nan_to_num,
                        narrow, nonzero, pi, remainder, repeat_interleave, roll, round,
                        searchsorted, set_num_threads, sort, std_mean, tile, topk, trace,
                        tril, triu, trunc, unbind, unique, var_mean, vstack)
from .compare import (all, allclose, any, argmax, argmin, bitwise_and, bitwise_not, bitwise_or,
                      bitwise_xor, eq, equal, ge, greater, greater_equal, gt, isclose, isfinite,
                      isinf, isnan, le, less, less_equal, logical_and, logical_not, logical_or,
                      logical_xor, lt, ne, not_equal)

globals().update(UNARY_FUNCTIONS)  # exp, log, sqrt, sin, cos, tanh, sigmoid, relu, abs, ...
globals().update(BINARY_FUNCTIONS)  # atan2, maximum, minimum
add, sub, mul, div, pow, matmul, mm, bmm, mv, cat, stack = map(  # out= as in PyTorch
    _with_out, (add, sub, mul, div, pow, matmul, mm, bmm, mv, cat, stack))
concat = concatenate = cat
true_divide = divide = div
multiply, subtract, negative = mul, sub, neg


def _tensor_backward(self, gradient=None, retain_graph=None, create_graph=False, inputs=None):
    """Accumulate the gradient of this tensor into the leaves' .grad (PyTorch's backward)."""
    _backward(self, None if gradient is None else (gradient,), retain_graph, create_graph,
              inputs)


Tensor.backward = _tensor_backward


def is_tensor(obj):
    return isinstance(obj, Tensor)


def is_floating_point(t):
    return t._dtype.is_floating_point


def numel(t):
    return t.numel()


__version__ = "0.1.0"

from .device import accelerator, backends, cuda, device  # noqa: E402
from . import nn, optim, utils  # noqa: E402  (they build on the names above)

import sys as _sys  # noqa: E402

_sys.modules.update({"tapegrad.cuda": cuda, "tapegrad.backends": backends,
                     "tapegrad.backends.mps": backends.mps, "tapegrad.accelerator": accelerator})
