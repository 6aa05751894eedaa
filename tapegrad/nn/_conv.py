"""Convolution and pooling as functions (torch.nn.functional's conv1d, conv2d, max_pool1d,
max_pool2d, avg_pool1d, avg_pool2d, adaptive_avg_pool1d, adaptive_avg_pool2d).

Built from recorded tapegrad ops only, so autograd needs nothing new:
- conv: im2col by one integer gather from the flattened input (with one zero column
  appended that padding positions read), one batched matmul with the reshaped weight
  (groups become a batch dim of that matmul), a reshape and the bias add.
- max pool: the window maxima are located in NumPy (-inf fills the padding), then one gather
  picks the winning elements, so the gradient goes to exactly that element (the first
  maximum of its window; NaN counts as the maximum).
- avg pools (fixed and adaptive): separable, so out = A_h @ x @ A_w^T with constant
  averaging matrices (one matmul per spatial dim).
1-D forms run the 2-D ones on a height-1 input.
"""

import math

import numpy as np

from .. import dtypes as _dtypes
from .._hints import IntOrTuple

from ..movement import cat as _cat
from ..recorder import check_tensor as _check_tensor
from ..selection import gather as _gather
from ..tensor import Tensor
from ..tensor import _from_array


def _tup(v, n: int, name: str, op: str = "convolution") -> tuple:
    """An int or a sequence of n ints as an n-tuple (PyTorch's message otherwise)."""
    if isinstance(v, (list, tuple)):
        v = tuple(int(e) for e in v)
        if len(v) == 1 and n > 1:
            v = v * n
        if len(v) != n:
            raise RuntimeError(f"expected {name} to be a single integer value or a list of {n} "
                               f"values to match the {op} dimensions, but got {name}="
                               f"{list(v)}")
        return v
    return (int(v),) * n


def _windows(size: tuple, k: tuple, s: tuple, lo: tuple, d: tuple, out: tuple) -> np.ndarray:
    """(kh*kw, Ho*Wo) int64 flat indices into an (H, W) plane of each window element;
    -1 where the element falls in the padding."""
    (H, W), (kh, kw), (sh, sw), (ph, pw), (dh, dw), (Ho, Wo) = size, k, s, lo, d, out
    r = (np.arange(kh)[:, None] * dh)[:, None, None, None] + \
        (np.arange(Ho) * sh - ph)[None, None, :, None]          # (kh, 1, Ho, 1)
    c = (np.arange(kw) * dw)[None, :, None, None] + \
        (np.arange(Wo) * sw - pw)[None, None, None, :]          # (1, kw, 1, Wo)
    ok = (r >= 0) & (r < H) & (c >= 0) & (c < W)
    return np.where(ok, r * W + c, -1).reshape(kh * kw, Ho * Wo).astype(np.int64)


def _with_zero_column(x2: Tensor) -> Tensor:
    """x2 (rows, n) with a column of zeros appended (what padding indices read)."""
    z = _from_array(np.zeros((x2._shape[0], 1), x2._dtype.np), x2._dtype, False)
    return _cat([x2, z], dim=1)


def _c_name(dt) -> str:
    """float / double / long / int / bool: the element type names of dtype errors."""
    return {"float32": "float", "float64": "double", "int64": "long", "int32": "int"}.get(
        dt.name, dt.name)


def _shape_str(sh) -> str:
    return " x ".join(str(v) for v in sh)


def _conv_nd(input: Tensor, weight: Tensor, bias, stride, padding, dilation, groups: int,
             nsp: int) -> Tensor:
    """conv1d (nsp=1) / conv2d (nsp=2): checks, then the 2-D im2col + matmul."""
    op = f"conv{nsp}d"
    _check_tensor(input, op)
    _check_tensor(weight, op)
    if input.ndim not in (nsp + 1, nsp + 2):
        raise RuntimeError(f"Expected {nsp + 1}D (unbatched) or {nsp + 2}D (batched) input to "
                           f"{op}, but got input of size: {list(input._shape)}")
    if weight.ndim != nsp + 2:
        raise RuntimeError(f"weight should have at least three dimensions: expected a "
                           f"{nsp + 2}D weight for {op}, got weight of size "
                           f"{list(weight._shape)}")
    unbatched = input.ndim == nsp + 1
    x = input.unsqueeze(0) if unbatched else input
    groups = int(groups)
    if groups <= 0:
        raise RuntimeError("non-positive groups is not supported")
    st, dl = _tup(stride, nsp, "stride"), _tup(dilation, nsp, "dilation")
    if any(v <= 0 for v in st):
        raise RuntimeError("non-positive stride is not supported")
    if any(v <= 0 for v in dl):
        raise RuntimeError("dilation should be greater than zero")
    ks = tuple(weight._shape[2:])
    if isinstance(padding, str):
        if padding == "valid":
            lo = hi = (0,) * nsp
        elif padding == "same":
            if any(v != 1 for v in st):
                raise RuntimeError("padding='same' is not supported for strided convolutions")
            tot = [d * (k - 1) for d, k in zip(dl, ks)]
            lo = tuple(t // 2 for t in tot)
            hi = tuple(t - t // 2 for t in tot)
        else:
            raise RuntimeError(f"Invalid padding string: '{padding}'")
    else:
        lo = hi = _tup(padding, nsp, "padding")
        if any(v < 0 for v in lo):
            raise RuntimeError("negative padding is not supported")
    O, Cg = weight._shape[0], weight._shape[1]
    wsz = list(weight._shape)
    if O % groups:
        raise RuntimeError(f"Given groups={groups}, expected weight to be divisible by {groups} "
                           f"at dimension 0, but got weight of size [{wsz}] instead")
    if x._shape[1] != Cg * groups:
        raise RuntimeError(f"Given groups={groups}, weight of size {wsz}, expected input"
                           f"{list(input._shape)} to have {Cg * groups} channels, but got "
                           f"{input._shape[0 if unbatched else 1]} channels instead")
    if input._dtype != weight._dtype:
        raise RuntimeError(f"Input type (torch.{input._dtype.legacy}) and weight type "
                           f"(torch.{weight._dtype.legacy}) should be the same or input should be "
                           "a MKLDNN tensor and weight is a dense tensor")
    if bias is not None:
        _check_tensor(bias, op)
        if bias.ndim != 1 or bias._shape[0] != O:
            raise RuntimeError(f"Given weight of size {wsz}, expected bias to be 1-dimensional "
                               f"with {O} elements, but got bias of size {list(bias._shape)} "
                               f"instead")
        if bias._dtype != input._dtype:
            raise RuntimeError(f"Input type ({_c_name(input._dtype)}) and bias type "
                               f"({_c_name(bias._dtype)}) should be the same")
    sp = tuple(x._shape[2:])
    padded = tuple(n + a + b for n, a, b in zip(sp, lo, hi))
    eff = tuple(d * (k - 1) + 1 for d, k in zip(dl, ks))
    if any(p < e for p, e in zip(padded, eff)):
        raise RuntimeError(f"Calculated padded input size per channel: ({_shape_str(padded)}). "
                           f"Kernel size: ({_shape_str(eff)}). Kernel size can't be greater "
                           f"than actual input size")
    out = tuple((p - e) // s + 1 for p, e, s in zip(padded, eff, st))
    # everything as 2-D: a 1-D conv is one of height 1
    pre = (1,) * (2 - nsp)
    sp2, ks2, st2, dl2, out2 = (pre + t for t in (sp, ks, st, dl, out))
    lo2 = (0,) * (2 - nsp) + lo
    N, C = x._shape[0], x._shape[1]
    plane, K, L = sp2[0] * sp2[1], ks2[0] * ks2[1], out2[0] * out2[1]
    win = _windows(sp2, ks2, st2, lo2, dl2, out2)                       # (K, L)
    chan = np.arange(C, dtype=np.int64)[:, None, None] * plane
    idx = np.where(win[None] < 0, C * plane, chan + win[None])          # (C, K, L)
    xe = _with_zero_column(x.reshape(N, C * plane))
    cols = xe[:, idx.reshape(groups, Cg * K, L)]                        # (N, G, Cg*K, L)
    w = weight.reshape(groups, O // groups, Cg * K)
    y = (w @ cols).reshape((N, O) + out)
    if bias is not None:
        y = y + bias.reshape((1, O) + (1,) * nsp)
    return y.squeeze(0) if unbatched else y


def conv2d(input: Tensor, weight: Tensor, bias: Tensor | None = None, stride: IntOrTuple = 1,
           padding: IntOrTuple | str = 0, dilation: IntOrTuple = 1, groups: int = 1) -> Tensor:
    """2-D cross-correlation of input (N, C, H, W) or (C, H, W) with weight
    (O, C/groups, kh, kw), plus bias (O,). padding: int, pair, 'valid' or 'same'."""
    return _conv_nd(input, weight, bias, stride, padding, dilation, groups, 2)


def conv1d(input: Tensor, weight: Tensor, bias: Tensor | None = None, stride: IntOrTuple = 1,
           padding: IntOrTuple | str = 0, dilation: IntOrTuple = 1, groups: int = 1) -> Tensor:
    """1-D cross-correlation of input (N, C, L) or (C, L) with weight (O, C/groups, k),
    plus bias (O,). padding: int, 1-tuple, 'valid' or 'same'."""
    return _conv_nd(input, weight, bias, stride, padding, dilation, groups, 1)


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


def _max_pool(op, input, kernel_size, stride, padding, dilation, ceil_mode, return_indices,
              nsp):
    lead, sp, ks, st, pd, dl, out = _pool_args(op, input, kernel_size, stride, padding,
                                               dilation, ceil_mode, nsp)
    plane, rows = sp[0] * sp[1], math.prod(lead)
    win = _windows(sp, ks, st, pd, dl, out)                             # (K, L)
    x2 = input.reshape(rows, plane)
    v = x2._value()
    dt = input._dtype
    low = -np.inf if dt.is_floating_point else (False if dt == _dtypes.bool_ else
                                                np.iinfo(dt.np).min)
    ve = np.concatenate([v, np.full((rows, 1), low, v.dtype)], axis=1)
    vals = ve[:, win]                                                   # (rows, K, L)
    pick = np.argmax(vals, axis=1)                                      # (rows, L)
    if dt.is_floating_point:  # a NaN wins its window (PyTorch propagates it)
        nan = np.isnan(vals)
        if nan.any():
            pick = np.where(nan.any(axis=1), np.argmax(nan, axis=1), pick)
    sel = win[pick, np.arange(win.shape[1])[None, :]]
    if (sel < 0).any():  # the window held only the lowest value: take its first real element
        first = win[np.argmax(win >= 0, axis=0), np.arange(win.shape[1])]
        sel = np.where(sel < 0, first[None, :], sel)
    shape = tuple(lead) + out[2 - nsp:]
    y = _gather(x2, 1, _from_array(sel, _dtypes.int64, False)).reshape(shape)
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
