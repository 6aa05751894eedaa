"""More layers (torch.nn's names, arguments, defaults and repr): the padding layers,
InstanceNorm1d/2d/3d, LocalResponseNorm, PReLU, GLU, Threshold, Softmax2d,
PixelShuffle/PixelUnshuffle, AdaptiveMaxPool1d/2d, TripletMarginLoss, Unfold/Fold and
TransformerEncoder. Each calls its tapegrad.nn.functional function."""

import copy
import warnings

from ... import creation
from ..._hints import DType, Device, IntOrTuple
from ...tensor import Tensor
from .. import functional as F
from .. import init
from ..parameter import Parameter
from .container import ModuleList
from .loss import _Loss
from .module import Module
from .module_state import _factory
from .normalization import _BatchNorm


# ---- padding ----------------------------------------------------------------------------
def _ntuple(padding, n: int) -> tuple:
    if isinstance(padding, (list, tuple)):
        return tuple(padding)
    return (padding,) * n


class _PadNd(Module):
    """A padding layer: F.pad(input, self.padding, mode); padding an int (every side) or
    a tuple (left, right, top, bottom, front, back)."""

    _mode = "constant"
    _dims = 1

    def __init__(self, padding: IntOrTuple) -> None:
        super().__init__()
        self.padding = _ntuple(padding, 2 * self._dims)

    def forward(self, input: Tensor) -> Tensor:
        return F.pad(input, self.padding, self._mode)

    def extra_repr(self) -> str:
        return f"{self.padding}"


class _ConstantPadNd(_PadNd):
    def __init__(self, padding: IntOrTuple, value: float) -> None:
        super().__init__(padding)
        self.value = value

    def forward(self, input: Tensor) -> Tensor:
        return F.pad(input, self.padding, "constant", self.value)

    def extra_repr(self) -> str:
        return f"padding={self.padding}, value={self.value}"


class ConstantPad1d(_ConstantPadNd):
    """Pad the last dim with `value`: padding an int or (left, right)."""


class ConstantPad2d(_ConstantPadNd):
    """Pad the last 2 dims with `value`: padding an int or (left, right, top, bottom)."""

    _dims = 2


class ConstantPad3d(_ConstantPadNd):
    """Pad the last 3 dims with `value`: padding an int or a 6-tuple."""

    _dims = 3


class _ZeroPadNd(_ConstantPadNd):
    def __init__(self, padding: IntOrTuple) -> None:
        super().__init__(padding, 0.0)

    def extra_repr(self) -> str:
        return f"{self.padding}"


class ZeroPad1d(_ZeroPadNd):
    """Pad the last dim with zeros: padding an int or (left, right)."""


class ZeroPad2d(_ZeroPadNd):
    """Pad the last 2 dims with zeros: padding an int or (left, right, top, bottom)."""

    _dims = 2


class ZeroPad3d(_ZeroPadNd):
    """Pad the last 3 dims with zeros: padding an int or a 6-tuple."""

    _dims = 3


def _pad_class(name: str, mode: str, dims: int, doc: str) -> type:
    return type(name, (_PadNd,), {"_mode": mode, "_dims": dims, "__doc__": doc,
                                  "__module__": __name__, "__qualname__": name})


_WHAT = {"reflect": "the reflection of the input at its border (the edge not repeated)",
         "replicate": "copies of the edge values", "circular": "the input wrapped around"}
ReflectionPad1d, ReflectionPad2d, ReflectionPad3d, ReplicationPad1d, ReplicationPad2d, \
    ReplicationPad3d, CircularPad1d, CircularPad2d, CircularPad3d = (
        _pad_class(f"{cls}{d}d", mode, d, f"Pad the last {d} dim(s) of a batched or unbatched "
                   f"input with {_WHAT[mode]}; padding an int or a {2 * d}-tuple.")
        for cls, mode in (("ReflectionPad", "reflect"), ("ReplicationPad", "replicate"),
                          ("CircularPad", "circular")) for d in (1, 2, 3))


# ---- normalization ----------------------------------------------------------------------
class _InstanceNorm(_BatchNorm):
    """Normalise each (sample, channel) over its spatial dims; weight and bias per channel
    when affine; running statistics (the batch average of the instance statistics) only
    with track_running_stats, used in eval mode."""

    _no_batch = 2

    def __init__(self, num_features: int, eps: float = 1e-5, momentum: float | None = 0.1,
                 affine: bool = False, track_running_stats: bool = False,
                 device: Device = None, dtype: DType = None, *, bias: bool = True) -> None:
        super().__init__(num_features, eps, momentum, affine, track_running_stats, device,
                         dtype, bias=bias)

    def _check_input_dim(self, input: Tensor) -> None:
        n = self._no_batch
        if input.dim() not in (n, n + 1):
            raise ValueError(f"expected {n}D or {n + 1}D input (got {input.dim()}D input)")

    def _apply(self, input: Tensor) -> Tensor:
        return F.instance_norm(input, self.running_mean, self.running_var, self.weight,
                               self.bias, self.training or not self.track_running_stats,
                               0.0 if self.momentum is None else self.momentum, self.eps)

    def forward(self, input: Tensor) -> Tensor:
        self._check_input_dim(input)
        fd = input.dim() - self._no_batch
        if input.size(fd) != self.num_features:
            if self.affine:
                raise ValueError(f"expected input's size at dim={fd} to match num_features "
                                 f"({self.num_features}), but got: {input.size(fd)}.")
            warnings.warn(f"input's size at dim={fd} does not match num_features. You can "
                          "silence this warning by not passing in num_features, which is not "
                          "used because affine=False", stacklevel=2)
        if input.dim() == self._no_batch:
            return self._apply(input.unsqueeze(0)).squeeze(0)
        return self._apply(input)


class InstanceNorm1d(_InstanceNorm):
    """Instance norm of (N, C, L) or (C, L) input."""


class InstanceNorm2d(_InstanceNorm):
    """Instance norm of (N, C, H, W) or (C, H, W) input."""

    _no_batch = 3


class InstanceNorm3d(_InstanceNorm):
    """Instance norm of (N, C, D, H, W) or (C, D, H, W) input."""

    _no_batch = 4


class LocalResponseNorm(Module):
    """x / (k + alpha * mean of x^2 over `size` neighbouring channels)^beta."""

    def __init__(self, size: int, alpha: float = 1e-4, beta: float = 0.75,
                 k: float = 1.0) -> None:
        super().__init__()
        self.size, self.alpha, self.beta, self.k = size, alpha, beta, k

    def forward(self, input: Tensor) -> Tensor:
        return F.local_response_norm(input, self.size, self.alpha, self.beta, self.k)

    def extra_repr(self) -> str:
        return f"{self.size}, alpha={self.alpha}, beta={self.beta}, k={self.k}"


# ---- activations ------------------------------------------------------------------------
class PReLU(Module):
    """max(0, x) + weight * min(0, x) with a learnt weight: one value, or one per channel
    (num_parameters = C), all `init` at first."""

    def __init__(self, num_parameters: int = 1, init: float = 0.25, device: Device = None,
                 dtype: DType = None) -> None:
        super().__init__()
        self.num_parameters = num_parameters
        self.init = init
        self.weight = Parameter(_factory(creation.empty, (num_parameters,), device, dtype))
        self.reset_parameters()

    def reset_parameters(self) -> None:
        """weight to `init`."""
        init.constant_(self.weight, self.init)

    def forward(self, input: Tensor) -> Tensor:
        return F.prelu(input, self.weight)

    def extra_repr(self) -> str:
        return f"num_parameters={self.num_parameters}"


class GLU(Module):
    """a * sigmoid(b), a and b the halves of the input along dim."""

    def __init__(self, dim: int = -1) -> None:
        super().__init__()
        self.dim = dim

    def forward(self, input: Tensor) -> Tensor:
        return F.glu(input, self.dim)

    def extra_repr(self) -> str:
        return f"dim={self.dim}"


class Threshold(Module):
    """x where x > threshold, `value` elsewhere."""

    def __init__(self, threshold: float, value: float, inplace: bool = False) -> None:
        super().__init__()
        self.threshold, self.value, self.inplace = threshold, value, inplace

    def forward(self, input: Tensor) -> Tensor:
        return F.threshold(input, self.threshold, self.value, self.inplace)

    def extra_repr(self) -> str:
        s = f"threshold={self.threshold}, value={self.value}"
        return s + (", inplace=True" if self.inplace else "")


class Softmax2d(Module):
    """Softmax over the channels (dim -3) of a (N, C, H, W) or (C, H, W) input."""

    def forward(self, input: Tensor) -> Tensor:
        if input.dim() not in (3, 4):
            raise ValueError(f"Softmax2d: expected input to be 3D or 4D, got {input.dim()}D "
                             f"instead")
        return F.softmax(input, -3)


class PixelShuffle(Module):
    """(*, C r^2, H, W) -> (*, C, H r, W r); see F.pixel_shuffle."""

    def __init__(self, upscale_factor: int) -> None:
        super().__init__()
        self.upscale_factor = upscale_factor

    def forward(self, input: Tensor) -> Tensor:
        return F.pixel_shuffle(input, self.upscale_factor)

    def extra_repr(self) -> str:
        return f"upscale_factor={self.upscale_factor}"


class PixelUnshuffle(Module):
    """(*, C, H r, W r) -> (*, C r^2, H, W); see F.pixel_unshuffle."""

    def __init__(self, downscale_factor: int) -> None:
        super().__init__()
        self.downscale_factor = downscale_factor

    def forward(self, input: Tensor) -> Tensor:
        return F.pixel_unshuffle(input, self.downscale_factor)

    def extra_repr(self) -> str:
        return f"downscale_factor={self.downscale_factor}"


# ---- pooling, blocks --------------------------------------------------------------------
class AdaptiveMaxPool2d(Module):
    """Max over an output_size grid of windows; see F.adaptive_max_pool2d."""

    def __init__(self, output_size: int | None | tuple[int | None, ...],
                 return_indices: bool = False) -> None:
        super().__init__()
        self.output_size, self.return_indices = output_size, return_indices

    def forward(self, input: Tensor) -> Tensor | tuple[Tensor, Tensor]:
        return F.adaptive_max_pool2d(input, self.output_size, self.return_indices)

    def extra_repr(self) -> str:
        return f"output_size={self.output_size}"


class AdaptiveMaxPool1d(AdaptiveMaxPool2d):
    """Max over output_size windows of the last dim; see F.adaptive_max_pool1d."""

    def forward(self, input: Tensor) -> Tensor | tuple[Tensor, Tensor]:
        return F.adaptive_max_pool1d(input, self.output_size, self.return_indices)


class Unfold(Module):
    """Sliding blocks of a batched image as columns; see F.unfold."""

    def __init__(self, kernel_size: IntOrTuple, dilation: IntOrTuple = 1,
                 padding: IntOrTuple = 0, stride: IntOrTuple = 1) -> None:
        super().__init__()
        self.kernel_size, self.dilation = kernel_size, dilation
        self.padding, self.stride = padding, stride

    def forward(self, input: Tensor) -> Tensor:
        return F.unfold(input, self.kernel_size, self.dilation, self.padding, self.stride)

    def extra_repr(self) -> str:
        return (f"kernel_size={self.kernel_size}, dilation={self.dilation}, "
                f"padding={self.padding}, stride={self.stride}")


class Fold(Unfold):
    """Columns of sliding blocks summed back into an image of output_size; see F.fold."""

    def __init__(self, output_size: IntOrTuple, kernel_size: IntOrTuple,
                 dilation: IntOrTuple = 1, padding: IntOrTuple = 0,
                 stride: IntOrTuple = 1) -> None:
        super().__init__(kernel_size, dilation, padding, stride)
        self.output_size = output_size

    def forward(self, input: Tensor) -> Tensor:
        return F.fold(input, self.output_size, self.kernel_size, self.dilation, self.padding,
                      self.stride)

    def extra_repr(self) -> str:
        return f"output_size={self.output_size}, " + super().extra_repr()


# ---- losses -----------------------------------------------------------------------------
class TripletMarginLoss(_Loss):
    """max(d(a, p) - d(a, n) + margin, 0), d the p-norm pairwise distance; see
    F.triplet_margin_loss."""

    def __init__(self, margin: float = 1.0, p: float = 2.0, eps: float = 1e-6,
                 swap: bool = False, size_average: bool | None = None,
                 reduce: bool | None = None, reduction: str = "mean") -> None:
        super().__init__(size_average, reduce, reduction)
        if margin <= 0:
            raise ValueError(f"TripletMarginLoss: expected margin to be greater than 0, got "
                             f"{margin} instead")
        self.margin, self.p, self.eps, self.swap = margin, p, eps, swap

    def forward(self, anchor: Tensor, positive: Tensor, negative: Tensor) -> Tensor:
        return F.triplet_margin_loss(anchor, positive, negative, margin=self.margin, p=self.p,
                                     eps=self.eps, swap=self.swap, reduction=self.reduction)


# ---- transformer ------------------------------------------------------------------------
def _no_fast_path(layer: Module) -> str:
    """Why PyTorch would not use nested tensors for a stack of `layer` (its warning's
    words); tapegrad never does."""
    from .attention import TransformerEncoderLayer

    if not isinstance(layer, TransformerEncoderLayer):
        return "encoder_layer was not TransformerEncoderLayer"
    sa = layer.self_attn
    for why, bad in (("norm_first was True", layer.norm_first),
                     ("self_attn.batch_first was not True(use batch_first for better "
                      "inference performance)", not sa.batch_first),
                     ("self_attn._qkv_same_embed_dim was not True", not sa._qkv_same_embed_dim),
                     ("self_attn was passed bias=False", sa.in_proj_bias is None),
                     ("activation_relu_or_gelu was not True", not layer.activation_relu_or_gelu),
                     ("norm1.eps was not equal to encoder_layer.norm2.eps",
                      layer.norm1.eps != layer.norm2.eps),
                     ("self_attn.num_heads is odd", sa.num_heads % 2 == 1)):
        if bad:
            return "encoder_layer." + why
    return ""


class TransformerEncoder(Module):
    """num_layers deep copies of encoder_layer (in `layers`, a ModuleList: all start with
    the same parameters, as in PyTorch), applied in turn, then `norm` if given.

    Differences from PyTorch: no nested-tensor fast path (enable_nested_tensor is kept and
    its warning given as PyTorch gives it, but use_nested_tensor changes nothing)."""

    def __init__(self, encoder_layer: Module, num_layers: int, norm: Module | None = None,
                 enable_nested_tensor: bool = True, mask_check: bool = True) -> None:
        super().__init__()
        self.layers = ModuleList([copy.deepcopy(encoder_layer) for _ in range(num_layers)])
        self.num_layers = num_layers
        self.norm = norm
        self.enable_nested_tensor = self.use_nested_tensor = enable_nested_tensor
        self.mask_check = mask_check
        why = _no_fast_path(encoder_layer)
        if enable_nested_tensor and why:
            warnings.warn(f"enable_nested_tensor is True, but self.use_nested_tensor is False "
                          f"because {why}", stacklevel=2)
            self.use_nested_tensor = False

    def forward(self, src: Tensor, mask: Tensor | None = None,
                src_key_padding_mask: Tensor | None = None,
                is_causal: bool | None = None) -> Tensor:
        """src through every layer (src_mask=mask, src_key_padding_mask as given), then
        norm. is_causal is a hint that mask is the causal mask (it needs mask)."""
        out = src
        for mod in self.layers:
            out = mod(out, src_mask=mask, src_key_padding_mask=src_key_padding_mask,
                      is_causal=bool(is_causal))
        return self.norm(out) if self.norm is not None else out
