"""Conv1d, Conv2d, ConvTranspose1d and ConvTranspose2d layers."""

import math

from ... import creation
from ...tensor import Tensor
from .. import _conv
from .. import _conv_transpose
from .. import functional as F
from .. import init
from ..parameter import Parameter
from ._fastattr import registered
from .module import Module
from .module_state import _factory

_PAD_MODES = {"zeros", "reflect", "replicate", "circular"}


def _ntuple(v, n: int) -> tuple:
    if isinstance(v, (list, tuple)):
        v = tuple(v)
        return v * n if len(v) == 1 and n > 1 else v
    return (v,) * n


class _ConvNd(Module):
    """Shared body of Conv1d / Conv2d: weight (out, in/groups, *kernel), optional bias."""

    _nsp = 2
    _transposed = False

    def __init__(self, in_channels: int, out_channels: int, kernel_size, stride=1, padding=0,
                 dilation=1, groups: int = 1, bias: bool = True, padding_mode: str = "zeros",
                 device=None, dtype=None) -> None:
        super().__init__()
        n = self._nsp
        if not isinstance(groups, int) or groups <= 0:
            raise ValueError("groups must be a positive integer")
        if in_channels % groups != 0:
            raise ValueError("in_channels must be divisible by groups")
        if out_channels % groups != 0:
            raise ValueError("out_channels must be divisible by groups")
        ks, st, dl = _ntuple(kernel_size, n), _ntuple(stride, n), _ntuple(dilation, n)
        if isinstance(padding, str):
            if padding not in ("same", "valid"):
                raise ValueError(f"Invalid padding string {padding!r}, should be one of "
                                 "{'same', 'valid'}")
            if padding == "same" and any(s != 1 for s in st):
                raise ValueError("padding='same' is not supported for strided convolutions")
        else:
            padding = _ntuple(padding, n)
        if padding_mode not in _PAD_MODES:
            raise ValueError(f"padding_mode must be one of {_PAD_MODES}, but got "
                             f"padding_mode='{padding_mode}'")
        self.in_channels, self.out_channels = in_channels, out_channels
        self.kernel_size, self.stride, self.padding, self.dilation = ks, st, padding, dl
        self.transposed, self.output_padding = False, (0,) * n
        self.groups, self.padding_mode = groups, padding_mode
        if isinstance(padding, str):
            rev = [0, 0] * n
            if padding == "same":
                for i, (d, k) in enumerate(zip(dl, ks)):
                    tot = d * (k - 1)
                    rev[2 * (n - 1 - i)] = tot // 2
                    rev[2 * (n - 1 - i) + 1] = tot - tot // 2
            self._reversed_padding_repeated_twice = tuple(rev)
        else:
            self._reversed_padding_repeated_twice = tuple(
                p for v in reversed(padding) for p in (v, v))
        wshape = (in_channels, out_channels // groups) if self._transposed else \
            (out_channels, in_channels // groups)
        self.weight = Parameter(_factory(creation.empty, wshape + ks, device, dtype))
        if bias:
            self.bias = Parameter(_factory(creation.empty, (out_channels,), device, dtype))
        else:
            self.register_parameter("bias", None)
        self.reset_parameters()

    def reset_parameters(self) -> None:
        """Draw weight and bias again: kaiming_uniform_(a=sqrt(5)) and U(+-1/sqrt(fan_in))."""
        init.kaiming_uniform_(self.weight, a=math.sqrt(5))
        if self.bias is not None:
            fan_in, _ = init._calculate_fan_in_and_fan_out(self.weight)
            if fan_in != 0:
                bound = 1 / math.sqrt(fan_in)
                init.uniform_(self.bias, -bound, bound)

    def _conv_forward(self, input: Tensor, weight: Tensor, bias) -> Tensor:
        fn = _conv.conv2d if self._nsp == 2 else _conv.conv1d
        if self.padding_mode != "zeros":
            x = F.pad(input, list(self._reversed_padding_repeated_twice),
                      mode=self.padding_mode)
            return fn(x, weight, bias, self.stride, 0, self.dilation, self.groups)
        return fn(input, weight, bias, self.stride, self.padding, self.dilation, self.groups)

    def forward(self, input: Tensor) -> Tensor:
        return self._conv_forward(input, registered(self, "weight"), registered(self, "bias"))

    def extra_repr(self) -> str:
        n = self._nsp
        s = (f"{self.in_channels}, {self.out_channels}, kernel_size={self.kernel_size}, "
             f"stride={self.stride}")
        if self.padding != (0,) * n:
            s += f", padding={self.padding}"
        if self.output_padding != (0,) * n:
            s += f", output_padding={self.output_padding}"
        if self.dilation != (1,) * n:
            s += f", dilation={self.dilation}"
        if self.groups != 1:
            s += f", groups={self.groups}"
        if self.bias is None:
            s += ", bias=False"
        if self.padding_mode != "zeros":
            s += f", padding_mode={self.padding_mode}"
        return s


class Conv2d(_ConvNd):
    """2-D convolution over (N, C, H, W) or (C, H, W); weight (out, in/groups, kh, kw).

    padding: int, pair, 'valid' or 'same'; padding_mode 'zeros', 'reflect', 'replicate'
    or 'circular'. Initialised as PyTorch (kaiming_uniform_(a=sqrt(5)), bias
    U(+-1/sqrt(fan_in)))."""

    _nsp = 2


class Conv1d(_ConvNd):
    """1-D convolution over (N, C, L) or (C, L); weight (out, in/groups, k). Same options
    and initialisation as Conv2d."""

    _nsp = 1


class _ConvTransposeNd(_ConvNd):
    """Shared body of ConvTranspose1d / ConvTranspose2d: weight (in, out/groups, *kernel)."""

    _transposed = True

    def __init__(self, in_channels: int, out_channels: int, kernel_size, stride=1, padding=0,
                 output_padding=0, groups: int = 1, bias: bool = True, dilation=1,
                 padding_mode: str = "zeros", device=None, dtype=None) -> None:
        name = type(self).__name__
        if padding_mode != "zeros":
            raise ValueError(f'Only "zeros" padding mode is supported for {name}')
        if isinstance(padding, str):
            raise ValueError(f"{name}: padding must be an int or a tuple of ints, got "
                             f"{padding!r}")
        super().__init__(in_channels, out_channels, kernel_size, stride, padding, dilation,
                         groups, bias, padding_mode, device, dtype)
        self.transposed = True
        self.output_padding = _ntuple(output_padding, self._nsp)

    def forward(self, input: Tensor, output_size=None) -> Tensor:
        """The transposed convolution; output_size (the spatial sizes, optionally with the
        batch and channel dims) picks the output_padding that reaches it."""
        return _conv_transpose._conv_transpose_nd(
            input, self.weight, self.bias, self.stride, self.padding, self.output_padding,
            self.groups, self.dilation, self._nsp, output_size)


class ConvTranspose2d(_ConvTransposeNd):
    """2-D transposed convolution over (N, C, H, W) or (C, H, W); weight (in, out/groups,
    kh, kw). forward(input, output_size=None). Initialised as PyTorch (kaiming_uniform_
    (a=sqrt(5)) with fan_in = out/groups * kh * kw, bias U(+-1/sqrt(fan_in))); padding_mode
    'zeros' only."""

    _nsp = 2


class ConvTranspose1d(_ConvTransposeNd):
    """1-D transposed convolution over (N, C, L) or (C, L); weight (in, out/groups, k).
    Same options and initialisation as ConvTranspose2d."""

    _nsp = 1
