"""More layers as functions (tapegrad.nn.functional): prelu, pixel_shuffle and
pixel_unshuffle, adaptive_max_pool1d/2d, unfold and fold, local_response_norm and
triplet_margin_loss, composed from recorded tensor ops (so gradients, double backward and
create_graph come from the op table).

- pixel_(un)shuffle: a reshape, a permute and a reshape (views).
- adaptive max pools: each window's maximum is found in NumPy, separably (along W, then
  along H; one vectorised compare per window offset), then one INDEX record reads the
  winners, so the gradient goes to exactly that element (the first maximum in row-major
  order; a NaN wins its window, the last NaN as in PyTorch).
- unfold (im2col): one gather of the window positions from the (N*C, H*W) planes (a zero
  column appended when there is padding); fold (col2im) is its adjoint: one
  accumulating index_put into zero planes, then a crop of the padding.
- local_response_norm: the channel-window average of x^2 is one matmul with a constant
  band matrix.
"""

import math

import numpy as np

from .. import dtypes
from .._hints import IntOrTuple
from ..creation import zeros
from ..functions import minimum
from ..movement import cat
from ..recorder import check_tensor
from ..selection import where
from ..tensor import Tensor, _from_array
from ._conv import _tup, _windows
from ._layers_functional import pairwise_distance
from ._losses import _legacy_reduction, _reduce


def _const(v, dt: dtypes.dtype) -> Tensor:
    return _from_array(np.array(v, dt.np, order="C"), dt, False)


def _tname(dt: dtypes.dtype) -> str:
    return dt.legacy[:-len("Tensor")]


def _floating(input: Tensor, op: str) -> None:
    if not input._dtype.is_floating_point:
        raise NotImplementedError(f'"{op}" not implemented for \'{_tname(input._dtype)}\'')


# ---- prelu ------------------------------------------------------------------------------
def prelu(input: Tensor, weight: Tensor) -> Tensor:
    """x where x > 0, weight * x elsewhere; weight has one element or one per channel
    (dim 1 of an input of 2 or more dims). The gradient at 0 is weight's, as PyTorch."""
    check_tensor(input, "prelu")
    check_tensor(weight, "prelu", "weight")
    _floating(input, "prelu_cpu")
    if weight.ndim > 1:
        raise RuntimeError(f"prelu: Expected `weight` to be a scalar or 1D tensor, but got: "
                           f"ndim = {weight.ndim}")
    n = weight.numel()
    if n != 1:
        if input.ndim == 0:
            raise RuntimeError("Not allow zero-dim input tensor.")
        c = input._shape[1] if input.ndim >= 2 else 1
        if n != c:
            raise RuntimeError(f"Mismatch of parameter numbers and input channel size. Found "
                               f"parameter numbers = {n} and channel size = {c}.")
        w = weight.reshape((c,) + (1,) * (input.ndim - 2))
    else:
        w = weight.reshape(())
    pos = _from_array(input._value() > 0, dtypes.bool_, False)
    return where(pos, input, w * input)


# ---- pixel shuffle ----------------------------------------------------------------------
def _factor(r: int, op: str, what: str) -> int:
    r = int(r)
    if r <= 0:
        raise RuntimeError(f"{op} expects a positive {what}, but got {r}")
    return r


def pixel_shuffle(input: Tensor, upscale_factor: int) -> Tensor:
    """(*, C r^2, H, W) -> (*, C, H r, W r): each group of r^2 channels becomes an r x r
    block of pixels."""
    check_tensor(input, "pixel_shuffle")
    op = "pixel_shuffle"
    if input.ndim < 3:
        raise RuntimeError(f"{op} expects input to have at least 3 dimensions, but got input "
                           f"with {input.ndim} dimension(s)")
    r = _factor(upscale_factor, op, "upscale_factor")
    *lead, c, h, w = input._shape
    if c % (r * r):
        raise RuntimeError(f"{op} expects its input's 'channel' dimension to be divisible by "
                           f"the square of upscale_factor, but input.size(-3)={c} is not "
                           f"divisible by {r * r}")
    k = len(lead)
    x = input.reshape(*lead, c // (r * r), r, r, h, w)
    x = x.permute(*range(k), k, k + 3, k + 1, k + 4, k + 2)
    return x.reshape(*lead, c // (r * r), h * r, w * r)


def pixel_unshuffle(input: Tensor, downscale_factor: int) -> Tensor:
    """(*, C, H r, W r) -> (*, C r^2, H, W), the inverse of pixel_shuffle."""
    check_tensor(input, "pixel_unshuffle")
    op = "pixel_unshuffle"
    if input.ndim < 3:
        raise RuntimeError(f"{op} expects input to have at least 3 dimensions, but got input "
                           f"with {input.ndim} dimension(s)")
    r = _factor(downscale_factor, op, "downscale_factor")
    *lead, c, h, w = input._shape
    for name, d, n in (("height", -2, h), ("width", -1, w)):
        if n % r:
            raise RuntimeError(f"{op} expects {name} to be divisible by downscale_factor, but "
                               f"input.size({d})={n} is not divisible by {r}")
    k = len(lead)
    x = input.reshape(*lead, c, h // r, r, w // r, r)
    x = x.permute(*range(k), k, k + 2, k + 4, k + 1, k + 3)
    return x.reshape(*lead, c * r * r, h // r, w // r)


# ---- adaptive max pools -----------------------------------------------------------------
def _bounds(n: int, o: int) -> tuple:
    """(o, K) row numbers of each adaptive window [floor(i n/o), ceil((i+1) n/o)), the
    last one repeated to the widest window's length K (a repeat never wins a max)."""
    i = np.arange(o)
    a, b = (i * n) // o, -((-(i + 1) * n) // o)
    k = int((b - a).max()) if o else 0
    return np.minimum(a[:, None] + np.arange(k)[None, :], (b - 1)[:, None])


def _window_max(v: np.ndarray, bounds: np.ndarray, axis: int) -> tuple:
    """(maxima, positions) over the windows `bounds` (o, K) along axis 1 or 2 of v
    (rows, A, B): the first maximum of each window, or its last NaN."""
    nan = v.dtype.kind == "f" and bool(np.isnan(v).any())
    best = k = None
    for j in range(bounds.shape[1]):
        c = np.take(v, bounds[:, j], axis=axis)
        if best is None:
            best, k = c, np.zeros(c.shape, np.int8 if bounds.shape[1] < 128 else np.int64)
            continue
        m = c > best
        if nan:
            m |= np.isnan(c)
            best = np.where(m, c, best)
        else:
            np.maximum(best, c, out=best)
        k += m * (k.dtype.type(j) - k)  # (arithmetic: masked writes are slower here)
    o = np.arange(bounds.shape[0])
    return best, bounds[o[None, :, None] if axis == 1 else o[None, None, :], k]


def _adaptive_max(op: str, input: Tensor, output_size, return_indices: bool, nsp: int):
    check_tensor(input, op)
    if input.ndim not in (nsp + 1, nsp + 2):
        if nsp == 1:
            raise RuntimeError(f"Expected 2 to 3 dimensions, but got {input.ndim}-dimensional "
                               f"tensor for argument #1 'self' (while checking arguments for "
                               f"{op})")
        raise RuntimeError(f"{op}(): Expected 3D or 4D tensor, but got: {list(input._shape)}")
    _floating(input, op)
    sh = input._shape
    for d in range(input.ndim - nsp - 1, input.ndim):
        if sh[d] == 0:
            raise RuntimeError(f"{op}(): Expected input to have non-zero size for non-batch "
                               f"dimensions, but input has sizes {list(sh)} with dimension {d}"
                               f" being empty")
    sp = sh[input.ndim - nsp:]
    if isinstance(output_size, (list, tuple)):
        if len(output_size) != nsp:
            raise ValueError(f"{op}: output_size must be an int or a tuple of {nsp} values, "
                             f"got {tuple(output_size)}")
        os_ = tuple(n if o is None else int(o) for o, n in zip(output_size, sp))
    else:
        os_ = (int(output_size),) * nsp
    if any(o < 0 for o in os_):
        raise RuntimeError(f"{op}: output_size must be non-negative, got {list(os_)} (Trying to "
                           f"create tensor with negative dimension)")
    (H, W), (Ho, Wo) = (1,) * (2 - nsp) + sp, (1,) * (2 - nsp) + os_
    rows = math.prod(sh[:input.ndim - nsp])
    shape = sh[:input.ndim - nsp] + os_
    if Ho * Wo == 0 or rows == 0:
        pick = np.zeros((rows, Ho, Wo), np.int64)
    else:  # separable: along W, then along H (row-major first maximum; the last NaN)
        best, col = _window_max(input._value().reshape(rows, H, W), _bounds(W, Wo), 2)
        _, row = _window_max(best, _bounds(H, Ho), 1)
        pick = row * W + np.take_along_axis(col, row, axis=1)
    flat = pick.reshape(rows, -1) + (np.arange(rows, dtype=np.int64) * (H * W))[:, None]
    y = input.reshape(-1)[_const(flat.reshape(shape), dtypes.int64)]
    if not return_indices:
        return y
    return y, _from_array(np.ascontiguousarray(pick.reshape(shape)), dtypes.int64, False)


def adaptive_max_pool2d(input: Tensor, output_size: int | None | tuple[int | None, ...],
                        return_indices: bool = False) -> Tensor | tuple[Tensor, Tensor]:
    """Max over the (Ho, Wo) grid of windows [floor(i*H/Ho), ceil((i+1)*H/Ho)) x ... of an
    (N, C, H, W) or (C, H, W) input (output_size an int or a pair; None keeps that size).
    return_indices also gives each maximum's flat index into its H*W plane."""
    return _adaptive_max("adaptive_max_pool2d", input, output_size, return_indices, 2)


def adaptive_max_pool1d(input: Tensor, output_size: int | tuple[int],
                        return_indices: bool = False) -> Tensor | tuple[Tensor, Tensor]:
    """Max over the Lo windows [floor(i*L/Lo), ceil((i+1)*L/Lo)) of (N, C, L) or (C, L)."""
    return _adaptive_max("adaptive_max_pool1d", input, output_size, return_indices, 1)


# ---- unfold / fold ----------------------------------------------------------------------
def _block_args(op: str, kernel_size, dilation, padding, stride) -> tuple:
    vals = []
    for name, v in (("kernel_size", kernel_size), ("dilation", dilation),
                    ("padding", padding), ("stride", stride)):
        if isinstance(v, (list, tuple)) and len(v) != 2:
            raise RuntimeError(f"It is expected {name} equals to 2, but got size {len(v)}")
        vals.append(_tup(v, 2, name, op))
    ks, dl, pd, st = vals
    for name, what, t, ok in (("kernel size", "kernel", ks, ks[0] > 0 and ks[1] > 0),
                              ("dilation", "dilation", dl, dl[0] > 0 and dl[1] > 0),
                              ("stride", "stride", st, st[0] > 0 and st[1] > 0)):
        if not ok:
            raise RuntimeError(f"{name} should be greater than zero, but got {what}_height: "
                               f"{t[0]} {what}_width: {t[1]}")
    if pd[0] < 0 or pd[1] < 0:
        raise RuntimeError(f"padding should be non-negative, but got pad_height: {pd[0]} "
                           f"pad_width: {pd[1]}")
    return ks, dl, pd, st


def _blocks(size: tuple, ks, dl, pd, st) -> tuple:
    return tuple((n + 2 * p - d * (k - 1) - 1) // s + 1
                 for n, k, d, p, s in zip(size, ks, dl, pd, st))


def unfold(input: Tensor, kernel_size: IntOrTuple, dilation: IntOrTuple = 1,
           padding: IntOrTuple = 0, stride: IntOrTuple = 1) -> Tensor:
    """Sliding blocks (im2col): (N, C, H, W) -> (N, C*kh*kw, L) with L the number of block
    positions, channel-major then kernel row-major; a (C, H, W) input gives (C*kh*kw, L).
    Zero padding."""
    check_tensor(input, "unfold")
    op = "im2col"
    if input.ndim < 3:
        raise IndexError(f"unfold: Dimension out of range: expected a 3D or 4D input, got "
                         f"shape {list(input._shape)}")
    if input.ndim > 4 or 0 in input._shape[-3:]:
        raise RuntimeError(f"Expected 3D or 4D (batch mode) tensor with possibly 0 batch size "
                           f"and other non-zero dimensions for input, but got: "
                           f"{list(input._shape)}")
    _floating(input, "im2col_out_cpu")
    ks, dl, pd, st = _block_args(op, kernel_size, dilation, padding, stride)
    *lead, c, h, w = input._shape
    out = _blocks((h, w), ks, dl, pd, st)
    if out[0] < 1 or out[1] < 1:
        raise RuntimeError(f"Given input with spatial size ({h}, {w}), kernel_size={ks}, "
                           f"dilation={dl}, padding={pd}, calculated shape of the array of "
                           f"sliding blocks as {out}, but its components must be at least one.")
    win = _windows((h, w), ks, st, pd, dl, out)                     # (K, L), -1: padding
    planes = input.reshape(-1, h * w)
    if (win < 0).any():
        z = _const(np.zeros((planes._shape[0], 1)), input._dtype)
        planes = cat([planes, z], 1)
        win = np.where(win < 0, h * w, win)
    cols = planes[:, _const(win, dtypes.int64)]                     # (N*C, K, L)
    return cols.reshape(*lead, c * ks[0] * ks[1], out[0] * out[1])


def fold(input: Tensor, output_size: IntOrTuple, kernel_size: IntOrTuple,
         dilation: IntOrTuple = 1, padding: IntOrTuple = 0, stride: IntOrTuple = 1) -> Tensor:
    """Sum sliding blocks back into an image (col2im, the adjoint of unfold):
    (N, C*kh*kw, L) -> (N, C, H, W) with (H, W) = output_size, overlapping values added;
    a (C*kh*kw, L) input gives (C, H, W)."""
    check_tensor(input, "fold")
    op = "col2im"
    if input.ndim not in (2, 3) or 0 in input._shape[-2:]:
        raise RuntimeError(f"Expected 2D or 3D (batch mode) tensor for input with possibly 0 "
                           f"batch size and non-zero dimensions for input, but got: "
                           f"{list(input._shape)}")
    _floating(input, "col2im_out_cpu")
    if isinstance(output_size, (list, tuple)) and len(output_size) != 2:
        raise RuntimeError(f"It is expected output_size equals to 2, but got size "
                           f"{len(output_size)}")
    osz = _tup(output_size, 2, "output_size", op)
    ks, dl, pd, st = _block_args(op, kernel_size, dilation, padding, stride)
    *lead, ck, nl = input._shape
    k = ks[0] * ks[1]
    if ck % k:
        raise RuntimeError(f"Expected size of input's dimension 1 to be divisible by the "
                           f"product of kernel_size, but got input.size(1)={ck} and "
                           f"kernel_size={ks}.")
    out = _blocks(osz, ks, dl, pd, st)
    if out[0] * out[1] != nl or out[0] < 1 or out[1] < 1:
        raise RuntimeError(f"Given output_size={osz}, kernel_size={ks}, dilation={dl}, "
                           f"padding={pd}, stride={st}, expected size of input's dimension 2 "
                           f"to match the calculated number of sliding blocks {out[0]} * "
                           f"{out[1]} = {out[0] * out[1]}, but got input.size(2)={nl}.")
    c = ck // k
    hp, wp = osz[0] + 2 * pd[0], osz[1] + 2 * pd[1]
    win = _windows((hp, wp), ks, st, (0, 0), dl, out)               # (K, L) in padded planes
    rows = math.prod(lead) * c
    vals = input.reshape(rows, k * nl)
    ri = _const(np.arange(rows)[:, None], dtypes.int64)
    ci = _const(win.reshape(1, k * nl), dtypes.int64)
    img = zeros(rows, hp * wp, dtype=input._dtype).index_put((ri, ci), vals, accumulate=True)
    img = img.reshape(*lead, c, hp, wp)
    if pd[0] or pd[1]:
        img = img[..., pd[0]:pd[0] + osz[0], pd[1]:pd[1] + osz[1]]
    return img


# ---- local response norm ----------------------------------------------------------------
def local_response_norm(input: Tensor, size: int, alpha: float = 1e-4, beta: float = 0.75,
                        k: float = 1.0) -> Tensor:
    """x / (k + alpha * mean of x^2 over the `size` channels around each one)^beta, over
    dim 1 of an (N, C, *) input (the channel window zero-padded: size//2 before,
    (size-1)//2 after, the mean always over `size`)."""
    check_tensor(input, "local_response_norm")
    if input.ndim < 3:
        raise ValueError(f"Expected 3D or higher dimensionality input (got {input.ndim} "
                         f"dimensions)")
    if input.numel() == 0:
        return input
    sh = input._shape
    c = sh[1]
    i = np.arange(c)
    lo, hi = i - size // 2, i + (size - 1) // 2
    band = ((i[None, :] >= lo[:, None]) & (i[None, :] <= hi[:, None])) / float(size)
    sq = (input * input).reshape(sh[0], c, -1)
    avg = (_const(band, input._dtype) @ sq).reshape(sh)
    return input / (avg * float(alpha) + float(k)) ** float(beta)


# ---- triplet margin loss ----------------------------------------------------------------
def triplet_margin_loss(anchor: Tensor, positive: Tensor, negative: Tensor,
                        margin: float = 1.0, p: float = 2, eps: float = 1e-6,
                        swap: bool = False, size_average: bool | None = None,
                        reduce: bool | None = None, reduction: str = "mean") -> Tensor:
    """max(d(a, p) - d(a, n) + margin, 0) with d the p-norm pairwise distance over the
    last dim (eps added to the difference); swap uses min(d(a, n), d(p, n))."""
    op = "triplet_margin_loss"
    for name, t in (("anchor", anchor), ("positive", positive), ("negative", negative)):
        check_tensor(t, op, name)
    reduction = _legacy_reduction(size_average, reduce, reduction)
    if margin <= 0:
        raise ValueError(f"margin must be greater than 0, got {margin}")
    da, dp, dn = anchor.ndim, positive.ndim, negative.ndim
    if not da == dp == dn:
        raise RuntimeError(f"The anchor, positive, and negative tensors are expected to have "
                           f"the same number of dimensions, but got: anchor {da}D, positive "
                           f"{dp}D, and negative {dn}D inputs")
    d_pos = pairwise_distance(anchor, positive, p, eps)
    d_neg = pairwise_distance(anchor, negative, p, eps)
    if swap:
        d_neg = minimum(d_neg, pairwise_distance(positive, negative, p, eps))
    return _reduce((d_pos - d_neg + float(margin)).clamp_min(0.0), reduction)
