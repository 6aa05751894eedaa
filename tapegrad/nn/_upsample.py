"""F.interpolate: resizing (N, C, L) and (N, C, H, W) inputs from recorded ops.

- 'nearest' / 'nearest-exact': the source element of every output position is computed in
  NumPy (in float32 arithmetic, as PyTorch's CPU kernel does), then one integer gather from
  the flattened planes picks them; the gradient of an output goes to its source element.
- 'linear' / 'bilinear': separable, so out = A_h @ x @ A_w^T with constant (out, in)
  interpolation matrices of two weights per row (one matmul per spatial dim), computed in
  the input's precision.
- 'area': adaptive average pooling to the output size.
"""

import math

import numpy as np

from ..recorder import check_tensor as _check_tensor
from ..tensor import Tensor
from ..tensor import _from_array
from .. import dtypes as _dtypes
from ._conv import _apply_separable, adaptive_avg_pool1d, adaptive_avg_pool2d

_MODES = ("nearest", "nearest-exact", "linear", "bilinear", "area")
_LATER = ("bicubic", "trilinear")


def _out_sizes(op: str, sp: tuple, size, scale_factor, recompute) -> tuple:
    """(output sizes, scales for the kernel or None each) from size= or scale_factor=."""
    n = len(sp)
    if size is not None and scale_factor is not None:
        raise ValueError("only one of size or scale_factor should be defined")
    if size is not None:
        if isinstance(size, (list, tuple)):
            if len(size) != n:
                raise ValueError(f"Input and output must have the same number of spatial "
                                 f"dimensions, but got input with spatial dimensions of "
                                 f"{list(sp)} and output size of {list(size)}. Please provide "
                                 f"input tensor in (N, C, d1, d2, ...,dK) format and output "
                                 f"size in (o1, o2, ...,oK) format.")
            out = tuple(int(v) for v in size)
        else:
            out = (int(size),) * n
        if any(o <= 0 for o in out):
            raise RuntimeError(f"{op}: output sizes should be greater than 0, but got "
                               f"output size {list(out)}")
        return out, (None,) * n
    if scale_factor is None:
        raise ValueError("either size or scale_factor should be defined")
    if isinstance(scale_factor, (list, tuple)):
        if len(scale_factor) != n:
            raise ValueError(f"Input and scale_factor must have the same number of spatial "
                             f"dimensions, but got input with spatial dimensions of "
                             f"{list(sp)} and scale_factor of shape {list(scale_factor)}.")
        sf = tuple(float(v) for v in scale_factor)
    else:
        sf = (float(scale_factor),) * n
    out = tuple(math.floor(float(s) * f) for s, f in zip(sp, sf))
    if any(o <= 0 for o in out):
        raise RuntimeError(f"{op}: output sizes should be greater than 0, but got "
                           f"output size {list(out)} (input {list(sp)}, scale_factor "
                           f"{list(sf)})")
    return out, ((None,) * n if recompute else sf)


def _nearest_index(n: int, o: int, scale, exact: bool) -> np.ndarray:
    """Source index of each of o outputs along a dim of n inputs (float32 arithmetic)."""
    f32 = np.float32
    s = f32(1.0 / scale) if scale is not None else f32(n) / f32(o)
    d = np.arange(o, dtype=f32)
    if exact:
        src = np.floor((d + f32(0.5)) * s)
    elif o == n:
        return np.arange(o, dtype=np.int64)
    else:
        src = np.floor(d * s)
    return np.minimum(src.astype(np.int64), n - 1)


def _linear_matrix(n: int, o: int, scale, align_corners: bool, npd) -> np.ndarray:
    """(o, n) matrix of 1-D linear interpolation weights (two per row)."""
    d = np.arange(o, dtype=npd)
    if align_corners:
        s = npd.type((n - 1) / (o - 1)) if o > 1 else npd.type(0)
        src = d * s
    else:
        s = npd.type(1.0 / scale) if scale is not None else npd.type(n) / npd.type(o)
        src = np.maximum((d + npd.type(0.5)) * s - npd.type(0.5), npd.type(0))
    i0 = np.minimum(np.floor(src).astype(np.int64), n - 1)
    i1 = np.minimum(i0 + 1, n - 1)
    lam = (src - i0).astype(npd)
    m = np.zeros((o, n), npd)
    rows = np.arange(o)
    m[rows, i0] += npd.type(1) - lam
    m[rows, i1] += lam
    return m


def interpolate(input: Tensor, size: int | tuple[int, ...] | None = None,
                scale_factor: float | tuple[float, ...] | None = None, mode: str = "nearest",
                align_corners: bool | None = None, recompute_scale_factor: bool | None = None,
                antialias: bool = False) -> Tensor:
    """Resize input (N, C, L) or (N, C, H, W) to `size` or by `scale_factor`, as
    torch.nn.functional.interpolate. Modes: 'nearest', 'nearest-exact', 'linear' (3-D),
    'bilinear' (4-D, align_corners False or True) and 'area'; 'bicubic', 'trilinear', 5-D
    inputs and antialias=True are not supported (NotImplementedError)."""
    op = "interpolate"
    _check_tensor(input, op)
    if mode in _LATER or mode not in _MODES:
        if mode in _LATER:
            raise NotImplementedError(f"interpolate: mode '{mode}' is not supported by "
                                      f"tapegrad yet (nearest, nearest-exact, linear, "
                                      f"bilinear, area)")
        raise NotImplementedError(f"Input Error: Only 3D, 4D and 5D input Tensors supported "
                                  f"(got {input.ndim}D) for the modes: nearest | linear | "
                                  f"bilinear | bicubic | trilinear | area | nearest-exact "
                                  f"(got {mode})")
    if align_corners is not None and mode not in ("linear", "bilinear"):
        raise ValueError("align_corners option can only be set with the interpolating modes: "
                         "linear | bilinear | bicubic | trilinear")
    if antialias:
        raise NotImplementedError("interpolate: antialias=True is not supported by tapegrad")
    nd = input.ndim
    if nd not in (3, 4):
        raise NotImplementedError(f"interpolate: tapegrad supports 3D and 4D inputs, got "
                                  f"{nd}D input of size {list(input._shape)}")
    if mode == "linear" and nd != 3:
        raise NotImplementedError(f"Got {nd}D input, but linear mode needs 3D input")
    if mode == "bilinear" and nd != 4:
        raise NotImplementedError(f"Got {nd}D input, but bilinear mode needs 4D input")
    sp = tuple(input._shape[2:])
    out, scales = _out_sizes(op, sp, size, scale_factor, recompute_scale_factor)
    if mode == "area":
        return (adaptive_avg_pool1d if nd == 3 else adaptive_avg_pool2d)(input, out)
    if mode in ("linear", "bilinear"):
        if not input._dtype.is_floating_point:
            raise RuntimeError(f"interpolate: mode '{mode}' is not implemented for "
                               f"'{input._dtype.name}' inputs")
        npd = input._dtype.np
        ac = bool(align_corners)
        mats = [_linear_matrix(n, o, s, ac, npd) for n, o, s in zip(sp, out, scales)]
        return _apply_separable(input, mats[0] if nd == 4 else None, mats[-1])
    exact = mode == "nearest-exact"
    idx = [_nearest_index(n, o, s, exact) for n, o, s in zip(sp, out, scales)]
    flat = idx[-1] if nd == 3 else (idx[0][:, None] * sp[1] + idx[1][None, :]).reshape(-1)
    N, C = input._shape[:2]
    x2 = input.reshape(N * C, math.prod(sp))
    y = x2[:, _from_array(np.ascontiguousarray(flat), _dtypes.int64, False)]
    return y.reshape((N, C) + out)
