"""Pooling as functions (torch.nn.functional's max_pool1d, max_pool2d, avg_pool1d,
avg_pool2d, adaptive_avg_pool1d, adaptive_avg_pool2d), re-exported by tapegrad/nn/_conv.py.

- max pool: each window's first maximum is found in NumPy, one vectorised compare per
  window element over strided views (-inf fills the padding; NaN counts as the maximum),
  then one INDEX record reads the winners at their flat positions, so the gradient goes
  to exactly that element.
- avg pools (fixed and adaptive): separable, so out = A_h @ x @ A_w^T with constant
  averaging matrices (one matmul per spatial dim).
1-D forms run the 2-D ones on a height-1 input.
"""

import math

import numpy as np

from .. import dtypes as _dtypes
from .._hints import IntOrTuple
from ..recorder import check_tensor as _check_tensor
from ..recorder import needs_grad, record
from ..tensor import Tensor
from ..tensor import _from_array
from ._conv import _tup, _windows


def _pool_out(n: int, k: int, s: int, p: int, d: int, ceil_mode: bool) -> int:
    """Output length of a pooling window sweep (PyTorch's formula, ceil_mode's last window
    must start inside the input or the left padding)."""
    num = n + 2 * p - d * (k - 1) - 1 + ((s - 1) if ceil_mode else 0)
    o = num // s + 1
    if ceil_mode and (o - 1) * s >= n + p:
        o -= 1
    return o


def _pool_args(op, input, kernel_size, stride, padding, dilation, ceil_mode, nsp):
    """Validated (x as (N*C, H, W) planes, lead shape, ks, st, pd, dl, out) for a pool."""
    _check_tensor(input, op)
    if input.ndim not in (nsp + 1, nsp + 2) or input.numel() == 0 and input.ndim == nsp + 1:
        if nsp == 1:
            raise RuntimeError(f"{op}: Expected 2D or 3D (batch mode) tensor with optional 0 "
                               f"dim batch size for input, but got:{list(input._shape)}")
        raise RuntimeError(f"{op}: non-empty 3D or 4D (batch mode) tensor expected for input, "
                           f"got {list(input._shape)}")
    ks = _tup(kernel_size, nsp, "kernel_size", "pooling")
    st = ks if stride is None or (isinstance(stride, (list, tuple)) and not stride) \
        else _tup(stride, nsp, "stride", "pooling")
    pd, dl = _tup(padding, nsp, "padding", "pooling"), _tup(dilation, nsp, "dilation", "pooling")
    if any(v <= 0 for v in ks):
        raise RuntimeError(f"{op}: kernel_size must be greater than zero, but got {list(ks)}")
    if any(v <= 0 for v in st):
        raise RuntimeError("stride should not be zero")
    if any(v <= 0 for v in dl):
        raise RuntimeError(f"{op}: dilation must be greater than zero, but got {list(dl)}")
    for p, k, d in zip(pd, ks, dl):
        if p < 0 or p > (d * (k - 1) + 1) // 2:
            raise RuntimeError(f"pad should be at most half of effective kernel size, but got "
                               f"pad={p}, kernel_size={k} and dilation={d}")
    sp = tuple(input._shape[-nsp:])
    out = tuple(_pool_out(n, k, s, p, d, ceil_mode) for n, k, s, p, d in zip(sp, ks, st, pd, dl))
    if any(o <= 0 for o in out):
        lead = input._shape[-nsp - 1]
        raise RuntimeError(f"Given input size: ({'x'.join(map(str, (lead,) + sp))}). "
                           f"Calculated output size: ({'x'.join(map(str, (lead,) + out))}). "
                           f"Output size is too small")
    pre = (1,) * (2 - nsp)
    return (input._shape[:-nsp], pre + sp, pre + ks, pre + st, (0,) * (2 - nsp) + pd,
            pre + dl, pre + out)


def _first_max(xp: np.ndarray, ks, st, dl, out, nan: bool) -> tuple:
    """(pick, best) over the windows of xp (rows, H, W): the row-major number of each
    window's first maximum (int8 when it fits) and the maxima; nan: a NaN counts as the
    maximum (the first NaN stays)."""
    (kh, kw), (sh, sw), (dh, dw), (Ho, Wo) = ks, st, dl, out
    it = np.int8 if kh * kw < 128 else np.int32
    best = pick = None
    for i in range(kh):
        for j in range(kw):
            cand = xp[:, i * dh:i * dh + (Ho - 1) * sh + 1:sh, j * dw:j * dw + (Wo - 1) * sw + 1:sw]
            if best is None:
                best, pick = cand.copy(), np.zeros(cand.shape, it)
                continue
            m = cand > best
            if nan:
                m |= np.isnan(cand) & ~np.isnan(best)
                best = np.where(m, cand, best)
            else:
                np.maximum(best, cand, out=best)
            pick += m * (it(i * kw + j) - pick)
    return pick, best


def _pool_argmax(v: np.ndarray, dt, sp, ks, st, pd, dl, out) -> np.ndarray:
    """(rows, Ho*Wo) int64 flat index into each (H, W) plane of v (rows, H, W) of each
    window's first maximum in row-major window order (NaN counts as the maximum; padding
    as the lowest value; a window of lowest values only takes its first real element).
    One vectorised compare per window element over strided views (no per-window copies)."""
    (H, W), (kh, kw), (sh, sw), (ph, pw), (dh, dw), (Ho, Wo) = sp, ks, st, pd, dl, out
    low = -np.inf if dt.is_floating_point else (False if dt == _dtypes.bool_ else
                                                np.iinfo(dt.np).min)
    hp = max(H + ph, (Ho - 1) * sh + (kh - 1) * dh + 1)
    wp = max(W + pw, (Wo - 1) * sw + (kw - 1) * dw + 1)
    if ph or pw or hp > H or wp > W:
        xp = np.full((v.shape[0], hp, wp), low, v.dtype)
        xp[:, ph:ph + H, pw:pw + W] = v
    else:
        xp = v
    pick, best = _first_max(xp, ks, st, dl, out, False)
    if dt.is_floating_point and np.isnan(best).any():  # a NaN wins its window: again
        pick, _ = _first_max(xp, ks, st, dl, out, True)
    if not (ph or pw):  # every window element is real: a table of offsets
        off = np.array([i * dh * W + j * dw for i in range(kh) for j in range(kw)], np.int64)
        base = (np.arange(Ho) * sh)[:, None] * W + (np.arange(Wo) * sw)[None, :]
        return (off.take(pick) + base).reshape(-1, Ho * Wo)
    ki, kj = np.divmod(pick.astype(np.int64), kw)
    r = (np.arange(Ho) * sh - ph)[:, None] + ki * dh
    c = (np.arange(Wo) * sw - pw)[None, :] + kj * dw
    bad = (r < 0) | (r >= H) | (c < 0) | (c >= W)
    if (ph or pw) and bad.any():  # the window held only the lowest value: its first real
        win = _windows(sp, ks, st, pd, dl, out)                     # element (K, L)
        first = win[np.argmax(win >= 0, axis=0), np.arange(win.shape[1])].reshape(Ho, Wo)
        return np.where(bad, first[None], r * W + c).reshape(-1, Ho * Wo)
    return (r * W + c).reshape(-1, Ho * Wo)


def _max_pool(op, input, kernel_size, stride, padding, dilation, ceil_mode, return_indices,
              nsp):
    lead, sp, ks, st, pd, dl, out = _pool_args(op, input, kernel_size, stride, padding,
                                               dilation, ceil_mode, nsp)
    plane, rows = sp[0] * sp[1], math.prod(lead)
    v = input._value().reshape(rows, sp[0], sp[1])
    dt = input._dtype
    sel = _pool_argmax(v, dt, sp, ks, st, pd, dl, out)                   # (rows, L)
    shape = tuple(lead) + out[2 - nsp:]
    flat = sel + (np.arange(rows, dtype=np.int64) * plane)[:, None]
    if needs_grad(input) and dt.is_floating_point:
        it = _from_array(flat.reshape(-1).astype(np.float64), _dtypes.float64, False)
        y = record("index", (input,), shape, dt, params=(2,), positions=it)
    else:
        y = _from_array(np.take(v.reshape(-1), flat).reshape(shape), dt, False)
    if not return_indices:
        return y
    if nsp == 1:
        sel = sel % sp[1]
    return y, _from_array(np.ascontiguousarray(sel.reshape(shape)), _dtypes.int64, False)


def max_pool2d(input: Tensor, kernel_size: IntOrTuple, stride: IntOrTuple | None = None,
               padding: IntOrTuple = 0, dilation: IntOrTuple = 1, ceil_mode: bool = False,
               return_indices: bool = False) -> Tensor | tuple[Tensor, Tensor]:
    """Max over (kh, kw) windows of (N, C, H, W) or (C, H, W); padding counts as -inf.
    return_indices also gives each maximum's flat index into its H*W plane."""
    return _max_pool("max_pool2d", input, kernel_size, stride, padding, dilation, ceil_mode,
                     return_indices, 2)


def max_pool1d(input: Tensor, kernel_size: IntOrTuple, stride: IntOrTuple | None = None,
               padding: IntOrTuple = 0, dilation: IntOrTuple = 1, ceil_mode: bool = False,
               return_indices: bool = False) -> Tensor | tuple[Tensor, Tensor]:
    """Max over length-k windows of (N, C, L) or (C, L); padding counts as -inf."""
    return _max_pool("max_pool1d", input, kernel_size, stride, padding, dilation, ceil_mode,
                     return_indices, 1)


def _avg_matrix(n: int, o: int, k: int, s: int, p: int, ceil_mode: bool,
                count_include_pad: bool, npd) -> np.ndarray:
    """(o, n) matrix of one dim's window weights: 1/count on the window's real positions."""
    m = np.zeros((o, n), npd)
    for i in range(o):
        a = i * s - p
        b = min(a + k, n + p)
        cnt = b - a
        a, b = max(a, 0), min(b, n)
        m[i, a:b] = 1.0 / ((cnt if count_include_pad else b - a) or 1)
    return m


def _apply_separable(x: Tensor, mh: np.ndarray | None, mw: np.ndarray) -> Tensor:
    """mh @ x @ mw.T over x's last two dims (mh None: the last dim only)."""
    dt = x._dtype
    y = x @ _from_array(np.ascontiguousarray(mw.T), dt, False)
    if mh is not None:
        y = _from_array(mh, dt, False) @ y
    return y


def _avg_pool(op, input, kernel_size, stride, padding, ceil_mode, count_include_pad,
              divisor_override, nsp):
    lead, sp, ks, st, pd, _, out = _pool_args(op, input, kernel_size, stride, padding, 1,
                                              ceil_mode, nsp)
    if not input._dtype.is_floating_point:
        raise NotImplementedError(f"{op}: not implemented for '{input._dtype.name}' inputs "
                                  f"in tapegrad (floating point only)")
    if divisor_override is not None and int(divisor_override) == 0:
        raise RuntimeError("divisor must be not zero")
    npd = input._dtype.np
    cip = count_include_pad and divisor_override is None
    mats = [_avg_matrix(n, o, k, s, p, ceil_mode, cip, npd)
            for n, o, k, s, p in zip(sp, out, ks, st, pd)]
    if divisor_override is not None:  # plain window sums over the divisor
        for m in mats:
            m[m != 0] = 1.0
        mats[1] = mats[1] / float(divisor_override)
    return _apply_separable(input, mats[0] if nsp == 2 else None, mats[1])


def avg_pool2d(input: Tensor, kernel_size: IntOrTuple, stride: IntOrTuple | None = None,
               padding: IntOrTuple = 0, ceil_mode: bool = False,
               count_include_pad: bool = True, divisor_override: int | None = None) -> Tensor:
    """Mean over (kh, kw) windows of (N, C, H, W) or (C, H, W) (zero padding, counted in
    the divisor unless count_include_pad=False; divisor_override replaces the divisor)."""
    return _avg_pool("avg_pool2d", input, kernel_size, stride, padding, ceil_mode,
                     count_include_pad, divisor_override, 2)


def avg_pool1d(input: Tensor, kernel_size: IntOrTuple, stride: IntOrTuple | None = None,
               padding: IntOrTuple = 0, ceil_mode: bool = False,
               count_include_pad: bool = True) -> Tensor:
    """Mean over length-k windows of (N, C, L) or (C, L)."""
    return _avg_pool("avg_pool1d", input, kernel_size, stride, padding, ceil_mode,
                     count_include_pad, None, 1)


def _adaptive_matrix(n: int, o: int, npd) -> np.ndarray:
    """(o, n) averaging matrix of window i = [floor(i*n/o), ceil((i+1)*n/o))."""
    m = np.zeros((o, n), npd)
    for i in range(o):
        a, b = (i * n) // o, -((-(i + 1) * n) // o)
        m[i, a:b] = 1.0 / (b - a)
    return m


def _adaptive_avg(op, input, output_size, nsp):
    _check_tensor(input, op)
    if input.ndim not in (nsp + 1, nsp + 2):
        raise RuntimeError(f"{op}(): Expected {nsp + 1}D or {nsp + 2}D tensor, but got "
                           f"{list(input._shape)}")
    if not input._dtype.is_floating_point:
        raise NotImplementedError(f"{op}: not implemented for '{input._dtype.name}' inputs")
    sp = tuple(input._shape[-nsp:])
    if isinstance(output_size, (list, tuple)):
        if len(output_size) != nsp:
            raise RuntimeError(f"{op}: output_size must be {nsp}")
        os_ = tuple(n if o is None else int(o) for o, n in zip(output_size, sp))
    else:
        os_ = (int(output_size),) * nsp
    if any(o < 0 for o in os_):
        raise RuntimeError(f"{op}: elements of output_size must be greater than or equal to 0 "
                           f"but received {list(os_)}")
    if any(n == 0 for n in sp) and input.numel() == 0:
        raise RuntimeError(f"{op}(): Expected input to have non-zero size for non-batch "
                           f"dimensions, but input has sizes {list(input._shape)}")
    npd = input._dtype.np
    mats = [_adaptive_matrix(n, o, npd) for n, o in zip(sp, os_)]
    return _apply_separable(input, mats[0] if nsp == 2 else None, mats[-1])


def adaptive_avg_pool2d(input: Tensor, output_size: int | None | tuple[int | None, ...]) -> Tensor:
    """Mean over the (Ho, Wo) grid of windows [floor(i*H/Ho), ceil((i+1)*H/Ho)) x ...;
    output_size an int or a pair (None keeps that dim's size)."""
    return _adaptive_avg("adaptive_avg_pool2d", input, output_size, 2)


def adaptive_avg_pool1d(input: Tensor, output_size: int | tuple[int]) -> Tensor:
    """Mean over the Lo windows [floor(i*L/Lo), ceil((i+1)*L/Lo)) of (N, C, L) or (C, L)."""
    return _adaptive_avg("adaptive_avg_pool1d", input, output_size, 1)
