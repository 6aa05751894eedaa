"""Upsample, UpsamplingNearest2d and UpsamplingBilinear2d: F.interpolate as layers."""

from ...tensor import Tensor
from .. import _upsample
from .module import Module

_Size = int | tuple[int, ...] | None  # (type hints)
_Scale = float | tuple[float, ...] | None


class Upsample(Module):
    """Resize by `scale_factor` or to `size` with F.interpolate's modes ('nearest',
    'nearest-exact', 'linear', 'bilinear', 'area'); no parameters."""

    def __init__(self, size: _Size = None, scale_factor: _Scale = None,
                 mode: str = "nearest",
                 align_corners: bool | None = None,
                 recompute_scale_factor: bool | None = None) -> None:
        super().__init__()
        self.name = type(self).__name__
        self.size = size
        self.scale_factor = float(scale_factor) if isinstance(scale_factor, (int, float)) \
            else (tuple(float(f) for f in scale_factor) if scale_factor else None)
        self.mode, self.align_corners = mode, align_corners
        self.recompute_scale_factor = recompute_scale_factor

    def forward(self, input: Tensor) -> Tensor:
        """F.interpolate(input) with this layer's settings."""
        return _upsample.interpolate(input, self.size, self.scale_factor, self.mode,
                                     self.align_corners, self.recompute_scale_factor)

    def extra_repr(self) -> str:
        if self.scale_factor is not None:
            info = f"scale_factor={self.scale_factor!r}"
        else:
            info = f"size={self.size!r}"
        return info + f", mode={self.mode!r}"


class UpsamplingNearest2d(Upsample):
    """Upsample with mode='nearest' on 4-D inputs."""

    def __init__(self, size: _Size = None, scale_factor: _Scale = None) -> None:
        super().__init__(size, scale_factor, mode="nearest")


class UpsamplingBilinear2d(Upsample):
    """Upsample with mode='bilinear' and align_corners=True on 4-D inputs."""

    def __init__(self, size: _Size = None, scale_factor: _Scale = None) -> None:
        super().__init__(size, scale_factor, mode="bilinear", align_corners=True)
