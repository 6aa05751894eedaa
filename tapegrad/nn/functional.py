"""tapegrad.nn.functional: activations, losses and layers as functions (PyTorch's
torch.nn.functional names, signatures and defaults).

Activations live in tapegrad/activations.py, losses in _losses.py and _cross_entropy.py,
layers in _layers_functional.py and _norms.py; this module gathers them.

In-place activations (`relu_`, `relu(x, inplace=True)`, ...): the result is computed out
of place, then copied into `input` with `input.copy_`, under PyTorch's rules for in-place
ops (a leaf that requires grad refuses while grad mode is on; a recorded tensor is
rebound to the copy, so a backward through an earlier use of its old value that saved it
raises). The activation reads a clone of a recorded input (PyTorch's `original_self`), so
its own backward never trips on the copy. The function returns `input`, as PyTorch's
in-place forms do.
"""

from .. import activations as _act
from .. import dtypes as _dtypes
from ..activations import (gelu, log_softmax, logsigmoid, softmax, softmin, softplus, softsign,
                           tanhshrink)
from ..autograd.grad_mode import is_grad_enabled as _grad_on
from ..functions import UNARY_FUNCTIONS as _U
from .._products import linear as _linear
from ..recorder import check_tensor as _check_tensor
from ..selection import where as _where
from ..tensor import Tensor
from ..tensor import _from_array
from ._grad_fn import show_linear as _show_linear
from ._conv import (adaptive_avg_pool1d, adaptive_avg_pool2d, avg_pool1d, avg_pool2d, conv1d,
                    conv2d, max_pool1d, max_pool2d)
from ._attention import scaled_dot_product_attention
from ._conv_transpose import conv_transpose1d, conv_transpose2d
from ._cross_entropy import (binary_cross_entropy, binary_cross_entropy_with_logits,
                             cross_entropy, nll_loss)
from ._layers_functional import (cosine_similarity, dropout, dropout1d, dropout2d, dropout3d,
                                 embedding, normalize, one_hot, pad, pairwise_distance)
from ._losses import (hinge_embedding_loss, huber_loss, kl_div, l1_loss, margin_ranking_loss,
                      mse_loss, poisson_nll_loss, smooth_l1_loss, soft_margin_loss)
from ._losses2 import (cosine_embedding_loss, gaussian_nll_loss, multi_margin_loss,
                       multilabel_soft_margin_loss)
from ._upsample import interpolate
from ._layers2 import (adaptive_max_pool1d, adaptive_max_pool2d, fold, local_response_norm,
                       pixel_shuffle, pixel_unshuffle, prelu, triplet_margin_loss, unfold)
from ._norms import batch_norm, bilinear, group_norm, instance_norm, layer_norm, rms_norm
from ._layers3 import affine_grid, conv3d, ctc_loss, embedding_bag, grid_sample

sigmoid = _U["sigmoid"]
tanh = _U["tanh"]


def linear(input: Tensor, weight: Tensor, bias: Tensor | None = None) -> Tensor:
    """input @ weight.T + bias over the last dim of input, with PyTorch's grad_fn
    (AddmmBackward0 for a 2-D input with a bias)."""
    return _show_linear(_linear(input, weight, bias), input, weight, bias)


def _in_place(input: Tensor, fn, inplace: bool, *args) -> Tensor:
    """fn(input, *args), copied into input when inplace (see the module docstring)."""
    if not inplace:
        return fn(input, *args)
    _check_tensor(input, getattr(fn, "__name__", "activation"))
    if input._rg and _grad_on():
        if input.is_leaf:
            raise RuntimeError("a leaf Variable that requires grad is being used in an "
                               "in-place operation.")
        # the activation reads a clone (PyTorch's original_self): the copy below then
        # counts against earlier uses of input's old value only, not this op's own
        return input.copy_(fn(input.clone(), *args))
    return input.copy_(fn(input, *args))


def relu(input: Tensor, inplace: bool = False) -> Tensor:
    """max(x, 0) (zero gradient at 0)."""
    return _in_place(input, _U["relu"], inplace)


def relu6(input: Tensor, inplace: bool = False) -> Tensor:
    """min(max(x, 0), 6)."""
    return _in_place(input, _act.relu6, inplace)


def hardtanh(input: Tensor, min_val: float = -1.0, max_val: float = 1.0,
             inplace: bool = False) -> Tensor:
    """Clamp to [min_val, max_val]; zero gradient outside the open interval."""
    return _in_place(input, _act.hardtanh, inplace, min_val, max_val)


def leaky_relu(input: Tensor, negative_slope: float = 0.01, inplace: bool = False) -> Tensor:
    """x where x > 0, negative_slope * x elsewhere."""
    return _in_place(input, _act.leaky_relu, inplace, negative_slope)


def elu(input: Tensor, alpha: float = 1.0, inplace: bool = False) -> Tensor:
    """x where x > 0, alpha (exp(x) - 1) elsewhere."""
    return _in_place(input, _act.elu, inplace, alpha)


def selu(input: Tensor, inplace: bool = False) -> Tensor:
    """scale * elu(x, alpha) with the self-normalizing constants."""
    return _in_place(input, _act.selu, inplace)


def celu(input: Tensor, alpha: float = 1.0, inplace: bool = False) -> Tensor:
    """max(0, x) + min(0, alpha (exp(x / alpha) - 1))."""
    return _in_place(input, _act.celu, inplace, alpha)


def silu(input: Tensor, inplace: bool = False) -> Tensor:
    """x * sigmoid(x)."""
    return _in_place(input, _act.silu, inplace)


def mish(input: Tensor, inplace: bool = False) -> Tensor:
    """x * tanh(softplus(x))."""
    return _in_place(input, _act.mish, inplace)


def hardsigmoid(input: Tensor, inplace: bool = False) -> Tensor:
    """relu6(x + 3) / 6."""
    return _in_place(input, _act.hardsigmoid, inplace)


def hardswish(input: Tensor, inplace: bool = False) -> Tensor:
    """x * relu6(x + 3) / 6."""
    return _in_place(input, _act.hardswish, inplace)


def _threshold(input: Tensor, threshold: float, value: float) -> Tensor:
    keep = _from_array(input._value() > threshold, _dtypes.bool_, False)
    return _where(keep, input, float(value))


def threshold(input: Tensor, threshold: float, value: float, inplace: bool = False) -> Tensor:
    """x where x > threshold, `value` elsewhere (zero gradient there)."""
    _check_tensor(input, "threshold")
    return _in_place(input, _threshold, inplace, threshold, value)


def hardshrink(input: Tensor, lambd: float = 0.5) -> Tensor:
    """x where |x| > lambd, 0 elsewhere."""
    _check_tensor(input, "hardshrink")
    keep = _from_array(abs(input._value()) > lambd, _dtypes.bool_, False)
    return _where(keep, input, 0.0)


def softshrink(input: Tensor, lambd: float = 0.5) -> Tensor:
    """x - lambd where x > lambd, x + lambd where x < -lambd, 0 elsewhere."""
    _check_tensor(input, "softshrink")
    if lambd < 0:
        raise RuntimeError(f"lambda must be greater or equal to 0, but found to be {lambd}.")
    return input - input.clamp(-lambd, lambd)


def glu(input: Tensor, dim: int = -1) -> Tensor:
    """a * sigmoid(b), a and b the two halves of input along dim."""
    _check_tensor(input, "glu")
    if input.ndim == 0:
        raise RuntimeError("glu does not support scalars because halving size must be even")
    n = input.size(dim)
    if n % 2:
        d = dim % input.ndim
        raise RuntimeError(f"Halving dimension must be even, but dimension {d} is size {n}")
    a, b = input.chunk(2, dim)
    return a * b.sigmoid()


def relu_(input: Tensor) -> Tensor:
    """relu in place."""
    return relu(input, inplace=True)


def elu_(input: Tensor, alpha: float = 1.0) -> Tensor:
    """elu in place."""
    return elu(input, alpha, inplace=True)


def leaky_relu_(input: Tensor, negative_slope: float = 0.01) -> Tensor:
    """leaky_relu in place."""
    return leaky_relu(input, negative_slope, inplace=True)


def hardtanh_(input: Tensor, min_val: float = -1.0, max_val: float = 1.0) -> Tensor:
    """hardtanh in place."""
    return hardtanh(input, min_val, max_val, inplace=True)


def threshold_(input: Tensor, threshold: float, value: float) -> Tensor:
    """threshold in place."""
    return _in_place(input, _threshold, True, threshold, value)


def celu_(input: Tensor, alpha: float = 1.0) -> Tensor:
    """celu in place."""
    return celu(input, alpha, inplace=True)


def selu_(input: Tensor) -> Tensor:
    """selu in place."""
    return selu(input, inplace=True)


__all__ = [
    # activations
    "relu", "relu_", "relu6", "sigmoid", "tanh", "hardtanh", "hardtanh_", "leaky_relu",
    "leaky_relu_", "elu", "elu_", "selu", "selu_", "celu", "celu_", "gelu", "silu", "mish",
    "softplus", "logsigmoid", "hardsigmoid", "hardswish", "tanhshrink", "softsign",
    "threshold", "threshold_", "hardshrink", "softshrink", "glu", "softmax", "log_softmax",
    "softmin", "linear", "bilinear",
    # losses
    "mse_loss", "l1_loss", "huber_loss", "smooth_l1_loss", "binary_cross_entropy",
    "binary_cross_entropy_with_logits", "cross_entropy", "nll_loss", "kl_div",
    "margin_ranking_loss", "hinge_embedding_loss", "soft_margin_loss", "poisson_nll_loss",
    "cosine_embedding_loss", "multilabel_soft_margin_loss", "multi_margin_loss",
    "gaussian_nll_loss",
    # layers
    "dropout", "dropout1d", "dropout2d", "dropout3d", "embedding", "one_hot", "pad",
    "normalize", "layer_norm", "batch_norm", "group_norm", "instance_norm", "rms_norm",
    "cosine_similarity", "pairwise_distance",
    # convolution and pooling
    "conv1d", "conv2d", "max_pool1d", "max_pool2d", "avg_pool1d", "avg_pool2d",
    "adaptive_avg_pool1d", "adaptive_avg_pool2d", "conv_transpose1d", "conv_transpose2d",
    "interpolate", "scaled_dot_product_attention",
    # more layers (_layers2.py)
    "prelu", "pixel_shuffle", "pixel_unshuffle", "adaptive_max_pool1d", "adaptive_max_pool2d",
    "unfold", "fold", "local_response_norm", "triplet_margin_loss",
    # _layers3.py
    "conv3d", "embedding_bag", "affine_grid", "grid_sample", "ctc_loss",
]


def __getattr__(name: str) -> object:
    """A missing name: an AttributeError that says so when PyTorch has it (not yet here)."""
    import sys

    from .._pytorch_names import FUNCTIONAL, unsupported

    raise unsupported("torch.nn.functional", name, FUNCTIONAL, sys.modules[__name__])
