"""conv3d, embedding_bag, affine_grid, grid_sample and ctc_loss (torch.nn.functional's
names, signatures and defaults), composed from recorded ops except ctc_loss.

- conv3d is one conv2d (tapegrad/nn/_conv.py): the kD depth slices each output depth
  reads are gathered into the channel dim (one index_select, one permute), so an
  (N, C, D, H, W) input becomes (N*Do, C*kD, H, W) and the weight (O, Cg*kD, kH, kW).
- embedding_bag gathers the rows (one index record), weights them, and sums them into
  their bags with one index_add (mean: divided by the counts); max takes the max over
  a (bags, longest bag, dim) gather.
- grid_sample gathers the 4 bilinear corners of every output pixel in one index record
  from the input laid out (N*H*W, C) and weights them; the padding modes are affine maps
  of the source coordinate (slope and offset computed in NumPy), so the grid gets
  PyTorch's gradient, piecewise.
- ctc_loss (tapegrad/nn/_ctc.py, re-exported here) is one custom-Function record.
"""

import warnings

import numpy as np

from .. import dtypes
from .._hints import IntOrTuple
from ..movement import cat, stack
from ..recorder import check_tensor
from ..selection import where
from ..tensor import Tensor
from ._conv import _shape_str, _tup, conv2d
from ._grad_fn import show
from ._layers_functional import _const, _int_indices, _renorm_rows
from ._ctc import ctc_loss  # noqa: F401  (re-exported)


# ---- conv3d -------------------------------------------------------------------------------
def _conv3d_padding(padding, ks: tuple, st: tuple, dl: tuple) -> tuple:
    """(lo, hi) per spatial dim from an int, a triple, 'valid' or 'same'."""
    if isinstance(padding, str):
        if padding == "valid":
            return (0,) * 3, (0,) * 3
        if padding != "same":
            raise RuntimeError(f"Invalid padding string: '{padding}'")
        if any(v != 1 for v in st):
            raise RuntimeError("padding='same' is not supported for strided convolutions")
        tot = [d * (k - 1) for d, k in zip(dl, ks)]
        return tuple(t // 2 for t in tot), tuple(t - t // 2 for t in tot)
    lo = _tup(padding, 3, "padding")
    if any(v < 0 for v in lo):
        raise RuntimeError("negative padding is not supported")
    return lo, lo


def conv3d(input: Tensor, weight: Tensor, bias: Tensor | None = None, stride: IntOrTuple = 1,
           padding: IntOrTuple | str = 0, dilation: IntOrTuple = 1, groups: int = 1) -> Tensor:
    """3-D cross-correlation of input (N, C, D, H, W) or (C, D, H, W) with weight
    (O, C/groups, kD, kH, kW), plus bias (O,). padding: int, triple, 'valid' or 'same'.
    Computed as one conv2d over the gathered depth windows (same numbers and gradients)."""
    op = "conv3d"
    check_tensor(input, op)
    check_tensor(weight, op)
    if input.ndim not in (4, 5):
        raise RuntimeError(f"Expected 4D (unbatched) or 5D (batched) input to conv3d, but got "
                           f"input of size: {list(input._shape)}")
    if weight.ndim != 5:
        raise RuntimeError(f"weight should have five dimensions for conv3d: expected "
                           f"(out, in/groups, kD, kH, kW), got weight of size "
                           f"{list(weight._shape)}")
    unbatched = input.ndim == 4
    x = input.unsqueeze(0) if unbatched else input
    groups = int(groups)
    if groups <= 0:
        raise RuntimeError("non-positive groups is not supported")
    st, dl = _tup(stride, 3, "stride"), _tup(dilation, 3, "dilation")
    if any(v <= 0 for v in st):
        raise RuntimeError("non-positive stride is not supported")
    if any(v <= 0 for v in dl):
        raise RuntimeError("dilation should be greater than zero")
    O, Cg = weight._shape[0], weight._shape[1]
    ks = tuple(weight._shape[2:])
    lo, hi = _conv3d_padding(padding, ks, st, dl)
    wsz = list(weight._shape)
    if O % groups:
        raise RuntimeError(f"Given groups={groups}, expected weight to be divisible by {groups} "
                           f"at dimension 0, but got weight of size [{wsz}] instead")
    if x._shape[1] != Cg * groups:
        raise RuntimeError(f"Given groups={groups}, weight of size {wsz}, expected input"
                           f"{list(input._shape)} to have {Cg * groups} channels, but got "
                           f"{x._shape[1]} channels instead")
    if input._dtype != weight._dtype:
        raise RuntimeError(f"Input type (torch.{input._dtype.legacy}) and weight type "
                           f"(torch.{weight._dtype.legacy}) should be the same")
    if bias is not None:
        check_tensor(bias, op)
        if bias.ndim != 1 or bias._shape[0] != O:
            raise RuntimeError(f"Given weight of size {wsz}, expected bias to be 1-dimensional "
                               f"with {O} elements, but got bias of size {list(bias._shape)} "
                               f"instead")
    N, C, D, H, W = x._shape
    padded = tuple(n + a + b for n, a, b in zip((D, H, W), lo, hi))
    eff = tuple(d * (k - 1) + 1 for d, k in zip(dl, ks))
    if any(p < e for p, e in zip(padded, eff)):
        raise RuntimeError(f"Calculated padded input size per channel: ({_shape_str(padded)}). "
                           f"Kernel size: ({_shape_str(eff)}). Kernel size can't be greater "
                           f"than actual input size")
    Do = (padded[0] - eff[0]) // st[0] + 1
    kD = ks[0]
    depth = (np.arange(Do) * st[0] - lo[0])[:, None] + np.arange(kD)[None] * dl[0]  # (Do, kD)
    pad = (depth < 0) | (depth >= D)
    if pad.any():  # padded depths read one slab of zeros appended to the input
        x = cat([x, _const(np.zeros((N, C, 1, H, W)), x._dtype)], dim=2)
        depth = np.where(pad, D, depth)
    g = x.index_select(2, _const(depth.reshape(-1), dtypes.int64))       # (N, C, Do*kD, H, W)
    g = g.reshape(N, C, Do, kD, H, W).permute(0, 2, 1, 3, 4, 5).reshape(N * Do, C * kD, H, W)
    w2 = weight.reshape(O, Cg * kD, ks[1], ks[2])
    hw = "same" if lo[1:] != hi[1:] else lo[1:]  # 'same' with an odd total: conv2d's split
    y = conv2d(g, w2, bias, st[1:], hw, dl[1:], groups)                  # (N*Do, O, Ho, Wo)
    y = y.reshape((N, Do, O) + tuple(y._shape[2:])).permute(0, 2, 1, 3, 4)
    return y.squeeze(0) if unbatched else y


# ---- embedding_bag --------------------------------------------------------------------------
def _bag_offsets(input: Tensor, offsets, op: str):
    """(flat indices, offsets) as int64 arrays from a 2-D input or a 1-D input + offsets."""
    if input.ndim == 2:
        if offsets is not None:
            raise ValueError("if input is 2D, then offsets has to be None, as input is treated "
                             "is a mini-batch of fixed length sequences. However, found offsets "
                             f"of type {type(offsets)}")
        B, L = input._shape
        return _int_indices(input, op).reshape(-1), np.arange(0, B * L, max(L, 1))[:B]
    if input.ndim != 1:
        raise ValueError(f"input has to be 1D or 2D Tensor, but got Tensor of dimension "
                         f"{input.ndim}")
    if offsets is None:
        raise ValueError("offsets has to be a 1D Tensor but got None")
    check_tensor(offsets, op, "offsets")
    if offsets.ndim != 1:
        raise ValueError("offsets has to be a 1D Tensor")
    idx = _int_indices(input, op)
    if offsets._dtype not in (dtypes.int64, dtypes.int32):
        raise RuntimeError(f"{op}: expected offsets of dtype Long or Int, got "
                           f"torch.{offsets._dtype.legacy}")
    offs = offsets._value().astype(np.int64)
    n = idx.size
    if offs.size and offs[0] != 0:
        raise RuntimeError(f"offsets[0] has to be 0, i.e., the first sequence in the mini-batch "
                           f"has to start from position 0. However, got {offs[0]}")
    if offs.size and offs[-1] > n:
        raise RuntimeError(f"offsets[-1] can not be greater than input's length {n} but got "
                           f"offsets[-1] of {offs[-1]}")
    if (np.diff(offs) < 0).any():
        raise RuntimeError(f"{op}: offsets must be non-decreasing, got {offs.tolist()}")
    return idx, offs


def embedding_bag(input: Tensor, weight: Tensor, offsets: Tensor | None = None,
                  max_norm: float | None = None, norm_type: float = 2.0,
                  scale_grad_by_freq: bool = False, mode: str = "mean", sparse: bool = False,
                  per_sample_weights: Tensor | None = None, include_last_offset: bool = False,
                  padding_idx: int | None = None) -> Tensor:
    """Sums, means or maxes of bags of rows of `weight` (num_embeddings, dim), without
    building the (indices, dim) intermediate of embedding(): input 2-D (B, L) is B bags of
    L indices; input 1-D with `offsets` (the start of each bag; include_last_offset: the
    last entry is the end of the last bag). per_sample_weights (input's shape) scales each
    row (mode 'sum' only). Entries equal to padding_idx are left out (an empty bag gives
    zeros). max_norm renormalizes looked-up rows in place; scale_grad_by_freq divides a
    row's gradient by its count in input. `sparse` is accepted and ignored (dense grads).
    Difference from PyTorch 2.x: with scale_grad_by_freq, PyTorch's CPU kernel divides
    some rows' gradients by another index's count (tapegrad uses each row's own count,
    as the documentation and F.embedding do)."""
    op = "embedding_bag"
    check_tensor(weight, op, "weight")
    check_tensor(input, op)
    psw = per_sample_weights
    if psw is not None:
        check_tensor(psw, op, "per_sample_weights")
        if psw._shape != input._shape:
            raise ValueError(f"embedding_bag: If per_sample_weights ({psw.shape}) is not None, "
                             f"then it must have the same shape as the input ({input.shape})")
    if weight.ndim != 2:
        raise ValueError(f"weight has to be a 2D Tensor, but got Tensor of dimension "
                         f"{weight.ndim}")
    flat, offs = _bag_offsets(input, offsets, op)
    if input.ndim == 2:
        include_last_offset = False
    if mode not in ("sum", "mean", "max"):
        raise ValueError("mode has to be one of sum, mean or max")
    if mode == "max" and scale_grad_by_freq:
        raise ValueError("max mode does not support scaling the gradient by the frequency")
    if mode == "max" and sparse:
        raise ValueError("max mode does not support sparse weights")
    if psw is not None:
        if mode != "sum":
            raise NotImplementedError(f"embedding_bag: per_sample_weights was not None. "
                                      f"per_sample_weights is only supported for mode='sum' "
                                      f"(got mode='{mode}'). Please open a feature request on "
                                      f"GitHub.")
        if psw._dtype != weight._dtype:
            raise RuntimeError(f"Expected tensor for argument #1 'weight' to have the same type "
                               f"as tensor for argument #1 'per_sample_weights'; but type "
                               f"torch.{weight._dtype.legacy} does not equal "
                               f"torch.{psw._dtype.legacy} (while checking arguments for {op})")
    num, D = weight._shape
    bad = (flat < 0) | (flat >= num)
    if bad.any():
        i = int(np.flatnonzero(bad)[0])
        raise RuntimeError(f"Index {i} of input takes value {flat[i]} which is not in the valid "
                           f"range [0, {num})")
    if max_norm is not None and flat.size:
        _renorm_rows(weight, np.unique(flat), float(max_norm), float(norm_type))
    if padding_idx is not None:
        if not -num <= padding_idx < num:
            raise RuntimeError(f"padding_idx must be within the number of embeddings, -{num} "
                               f"through {num - 1}, but got {padding_idx}")
        padding_idx = padding_idx + num if padding_idx < 0 else padding_idx
    if include_last_offset:
        B = max(offs.size - 1, 0)
        starts, ends = offs[:B], offs[1:B + 1]
    else:
        B = offs.size
        starts, ends = offs, np.append(offs[1:], flat.size).astype(np.int64)
    bag = np.repeat(np.arange(B), ends - starts)               # bag of elements [0, ends[-1])
    keep = np.arange(bag.size)
    if padding_idx is not None:
        keep = keep[flat[:bag.size] != padding_idx]
    bag, idx = bag[keep], flat[keep]
    dt = weight._dtype
    rows = weight[_const(idx, dtypes.int64)]                    # (m, D)
    if scale_grad_by_freq and rows._rg:
        uniq, counts = np.unique(flat, return_counts=True)
        freq = np.zeros(num)
        freq[uniq] = counts
        vals = _const(rows._value(), dt)
        rows = vals + (rows - vals) * _const((1.0 / freq[idx])[:, None], dt)
    if psw is not None:
        rows = rows * psw.reshape(-1)[_const(keep, dtypes.int64)].unsqueeze(1)
    counts = np.bincount(bag, minlength=B)
    if mode == "max":
        out = _bag_max(rows, bag, counts, B, D, dt)
    else:
        out = _const(np.zeros((B, D)), dt).index_add(0, _const(bag, dtypes.int64), rows)
        if mode == "mean":
            out = out / _const(np.maximum(counts, 1)[:, None], dt)
    return show(out, "EmbeddingBagBackward0", weight)


def _bag_max(rows: Tensor, bag: np.ndarray, counts: np.ndarray, B: int, D: int, dt) -> Tensor:
    """Per-bag max of rows (m, D) (bag: each row's bag, sorted); empty bags give zeros."""
    longest = int(counts.max()) if B else 0
    if longest == 0:  # every bag empty: zeros (still connected to weight, as in PyTorch)
        out = _const(np.zeros((B, D)), dt)
        return out + rows.sum() * 0 if rows._rg else out
    m = bag.size
    first = np.concatenate([[0], np.cumsum(counts)[:-1]])
    pm = np.full((B, longest), m, np.int64)
    pm[bag, np.arange(m) - first[bag]] = np.arange(m)
    ext = cat([rows, _const(np.full((1, D), -np.inf), dt)])
    out = ext[_const(pm, dtypes.int64)].max(1)[0]              # (B, D)
    if (counts == 0).any():
        out = where(_const((counts == 0)[:, None], dtypes.bool_), 0.0, out)
    return out


# ---- affine_grid and grid_sample ------------------------------------------------------------
_ALIGN = ("Default grid_sample and affine_grid behavior has changed to align_corners=False "
          "since 1.3.0. Please specify align_corners=True if the old behavior is desired. See "
          "the documentation of grid_sample for details.")


def _base(n: int, align_corners: bool) -> np.ndarray:
    """The normalized coordinates of n pixel centers (or corners) in [-1, 1]."""
    if n <= 1:
        return np.zeros(max(n, 0))
    v = np.linspace(-1.0, 1.0, n)
    return v if align_corners else v * (n - 1) / n


def affine_grid(theta: Tensor, size: list[int] | tuple[int, ...],
                align_corners: bool | None = None) -> Tensor:
    """The sampling grid of a batch of affine maps: theta (N, 2, 3) for size (N, C, H, W)
    gives (N, H, W, 2) (x, y) in [-1, 1] coordinates; theta (N, 3, 4) for size
    (N, C, D, H, W) gives (N, D, H, W, 3). align_corners None means False (with
    PyTorch's warning)."""
    check_tensor(theta, "affine_grid", "theta")
    if align_corners is None:
        warnings.warn(_ALIGN, stacklevel=2)
        align_corners = False
    if not theta._dtype.is_floating_point:
        raise ValueError(f"Expected theta to have floating point type, but got {theta.dtype}")
    size = tuple(int(s) for s in size)
    if len(size) in (4, 5):
        k = len(size) - 2
        if theta.ndim != 3 or theta._shape[-2:] != (k, k + 1):
            raise ValueError(f"Expected a batch of {k}D affine matrices of shape Nx{k}x{k + 1} "
                             f"for size {size}. Got {theta.shape}.")
        spatial = size[2:]
    else:
        raise NotImplementedError(f"affine_grid only supports 4D and 5D sizes, for 2D and 3D "
                                  f"affine transforms, respectively. Got size {size}.")
    if align_corners and min(spatial) == 1:
        warnings.warn("Since version 1.3.0, affine_grid behavior has changed for unit-size "
                      "grids when align_corners=True. This is not an intended use case of "
                      "affine_grid. See the documentation of affine_grid for details.",
                      stacklevel=2)
    elif min(size) <= 0:
        raise ValueError(f"Expected non-zero, positive output size. Got {size}")
    if theta._shape[0] != size[0]:
        raise RuntimeError(f"affine_grid: theta of size {list(theta._shape)} holds "
                           f"{theta._shape[0]} matrices, but size {list(size)} asks for a "
                           f"batch of {size[0]}")
    axes = [_base(n, align_corners) for n in reversed(spatial)]          # x, y (, z)
    mesh = list(np.meshgrid(*axes[::-1], indexing="ij"))[::-1]          # each (*spatial)
    base = np.stack(mesh + [np.ones(spatial)], axis=-1).reshape(-1, k + 1)
    grid = _const(base, theta._dtype) @ theta.transpose(1, 2)           # (N, prod, k)
    return grid.reshape((size[0],) + spatial + (k,))


def _source(g: Tensor, n: int, padding_mode: str, align_corners: bool):
    """Pixel coordinates (Tensor, and its NumPy value) of the normalized coordinates g
    along an axis of n pixels, after the padding mode's reflection / clipping, which are
    applied as value * slope + offset with slope 0 or +-1 (PyTorch's gradient)."""
    t = g * ((n - 1) / 2 if align_corners else n / 2) + (n - 1) / 2
    v = t._value().astype(np.float64)
    if padding_mode == "zeros":
        return t, v
    s = np.ones_like(v)
    r = v
    if padding_mode == "reflection":
        lo2, hi2 = (0, 2 * (n - 1)) if align_corners else (-1, 2 * n - 1)
        if lo2 == hi2:
            r, s = np.zeros_like(v), np.zeros_like(v)
        else:
            mn, span = lo2 / 2, (hi2 - lo2) / 2
            d = v - mn
            sign = np.where(d < 0, -1.0, 1.0)
            d = np.abs(d)
            extra = np.fmod(d, span)
            even = np.floor(d / span) % 2 == 0
            r = np.where(even, extra + mn, span - extra + mn)
            s = np.where(even, sign, -sign)
    inside = (r > 0) & (r < n - 1)
    s = np.where(inside, s, 0.0)
    r = np.where(r <= 0, 0.0, np.where(r >= n - 1, n - 1.0, r))
    if (s == 1).all() and (r == v).all():
        return t, v
    dt = g._dtype
    return t * _const(s, dt) + _const(r - s * v, dt), r


def grid_sample(input: Tensor, grid: Tensor, mode: str = "bilinear",
                padding_mode: str = "zeros", align_corners: bool | None = None) -> Tensor:
    """Sample input (N, C, H, W) at grid (N, Ho, Wo, 2) locations ((x, y) in [-1, 1]):
    (N, C, Ho, Wo). mode 'bilinear' or 'nearest'; padding_mode 'zeros', 'border' or
    'reflection'; align_corners None means False (with PyTorch's warning). Gradients reach
    input and (bilinear) grid. Differences from PyTorch: 'bicubic' and 5-D (volumetric)
    inputs raise NotImplementedError."""
    op = "grid_sampler()"
    check_tensor(input, "grid_sample")
    check_tensor(grid, "grid_sample", "grid")
    if mode not in ("bilinear", "nearest", "bicubic"):
        raise ValueError(f"nn.functional.grid_sample(): expected mode to be 'bilinear', "
                         f"'nearest' or 'bicubic', but got: '{mode}'")
    if padding_mode not in ("zeros", "border", "reflection"):
        raise ValueError(f"nn.functional.grid_sample(): expected padding_mode to be 'zeros', "
                         f"'border', or 'reflection', but got: '{padding_mode}'")
    if align_corners is None:
        warnings.warn(_ALIGN, stacklevel=2)
        align_corners = False
    isz, gsz = list(input._shape), list(grid._shape)
    if not input.ndim or not grid.ndim or isz[0] != gsz[0]:
        raise RuntimeError(f"{op}: expected grid and input to have same batch size, but got "
                           f"input with sizes {isz} and grid with sizes {gsz}")
    if gsz[-1] != input.ndim - 2:
        raise RuntimeError(f"{op}: expected grid to have size {input.ndim - 2} in last "
                           f"dimension, but got grid with sizes {gsz}")
    if input.ndim != grid.ndim or input.ndim not in (4, 5):
        raise RuntimeError(f"{op}: expected 4D or 5D input and grid with same number of "
                           f"dimensions, but got input with sizes {isz} and grid with sizes "
                           f"{gsz}")
    for i in range(2, input.ndim):
        if isz[i] == 0:
            raise RuntimeError(f"{op}: expected input to have non-empty spatial dimensions, "
                               f"but input has sizes {isz} with dimension {i} being empty")
    if input._dtype != grid._dtype or not input._dtype.is_floating_point:
        raise RuntimeError(f"{op}: expected input and grid to have the same floating dtype, "
                           f"but got input torch.{input._dtype.name} and grid "
                           f"torch.{grid._dtype.name}")
    if input.ndim == 5 or mode == "bicubic":
        what = "5-D inputs" if input.ndim == 5 else "mode='bicubic'"
        raise NotImplementedError(f"grid_sample: {what} not supported by tapegrad yet (4-D "
                                  "inputs, modes 'bilinear' and 'nearest' are)")
    N, C, H, W = isz
    dt = input._dtype
    ix, vx = _source(grid[..., 0], W, padding_mode, align_corners)
    iy, vy = _source(grid[..., 1], H, padding_mode, align_corners)
    xr = input.permute(0, 2, 3, 1).reshape(N * H * W, C)
    base = (np.arange(N) * (H * W))[:, None, None]

    def corner(yy, xx):  # flat row index (clipped) and validity of pixels (yy, xx)
        ok = np.isfinite(yy) & np.isfinite(xx)
        yi = np.nan_to_num(yy, posinf=-1, neginf=-1).clip(-1, H).astype(np.int64)
        xi = np.nan_to_num(xx, posinf=-1, neginf=-1).clip(-1, W).astype(np.int64)
        ok &= (yi >= 0) & (yi < H) & (xi >= 0) & (xi < W)
        return base + yi.clip(0, H - 1) * W + xi.clip(0, W - 1), ok

    if mode == "nearest":
        at, ok = corner(np.rint(vy), np.rint(vx))
        out = xr[_const(at, dtypes.int64)] * _const(ok[..., None], dt)      # (N, Ho, Wo, C)
        return out.permute(0, 3, 1, 2)
    x0, y0 = np.floor(vx), np.floor(vy)
    fx, fy = ix - _const(x0, dt), iy - _const(y0, dt)
    ats, oks = zip(*(corner(y0 + a, x0 + b) for a in (0, 1) for b in (0, 1)))
    w4 = stack([(1 - fy) * (1 - fx), (1 - fy) * fx, fy * (1 - fx), fy * fx])
    w4 = w4 * _const(np.stack(oks), dt)                                 # (4, N, Ho, Wo)
    vals = xr[_const(np.stack(ats), dtypes.int64)]                      # (4, N, Ho, Wo, C)
    return (vals * w4.unsqueeze(-1)).sum(0).permute(0, 3, 1, 2)
