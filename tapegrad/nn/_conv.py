"""Convolution as functions (torch.nn.functional's conv1d and conv2d); the pools, in
tapegrad/nn/_pool.py, are re-exported from here.

- With something that requires grad (and grad mode on), a conv is one custom-Function
  record (tapegrad/nn/_conv_fn.py): im2col by np.take of whole batch-innermost rows, one
  BLAS product per group with the bias as the weight's last column, and a NumPy
  backward (one product for the weight, one plus a strided col2im for the input).
- The same computation as recorded ops (`_conv_recorded`: one INDEX gather of those
  rows, one matmul record, one permute) is what create_graph=True differentiates, and
  what a pinned tape records (tapegrad.func's recordings: replayable and savable).
- Constants only: NumPy, nothing recorded.
The patch positions are cached per geometry. 1-D forms run the 2-D ones on a height-1
input.
"""

import functools

import numpy as np

from .. import dtypes as _dtypes
from .._hints import IntOrTuple

from ..movement import cat as _cat
from ..recorder import check_tensor as _check_tensor
from ..recorder import needs_grad, record
from ._conv_fn import _ConvFunction, _rows
from ..tape.tape import _local as _tape_local
from ..tensor import Tensor
from ..tensor import _from_array


def _grad_on() -> bool:
    return _tape_local.grad_enabled


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
    C = x._shape[1]
    ones = bias is not None  # the bias joins the product: a row of ones under the patches
    geo = (sp2, ks2, st2, lo2, dl2, out2)
    pos, tail = _patch_positions(C, groups, *geo, ones)
    if not (x._dtype.is_floating_point and _grad_on() and
            (x._rg or weight._rg or ones and bias._rg)):
        y = _conv_numpy(x, weight, bias, pos, tail, groups, out2, out)
    elif _tape_local.tape.pinned:  # a tapegrad.func recording (or a sweep's Python step):
        y = _conv_recorded(x, weight, bias, pos, tail, groups, geo, out)  # replayable ops
    else:
        def composite(x_, w_, b_):
            return _conv_recorded(x_, w_, b_, pos, tail, groups, geo, out)

        geom = (pos, tail) + geo + (groups, composite, out)
        y = _ConvFunction.apply(x, weight, bias, geom)
    return y.squeeze(0) if unbatched else y


def _conv_recorded(x, weight, bias, pos, tail, groups, geo, out):
    """The convolution as recorded tapegrad ops (what create_graph differentiates):
    the im2col gather (an INDEX record, batch innermost) or NumPy patches of a constant
    input, then one matmul record with the bias as the last weight column."""
    sp2, ks2, st2, lo2, dl2, out2 = geo
    nsp, dt = len(out), x._dtype
    N, C = x._shape[0], x._shape[1]
    ones = bias is not None
    L, O = out2[0] * out2[1], weight._shape[0]
    CK = weight.numel() // max(O, 1)
    w = weight.reshape(groups, O // groups, CK)
    if ones:
        w = _cat([w, bias.reshape(groups, O // groups, 1)], dim=2)     # (G, O/G, CK+1)
    rows = CK + ones
    if not needs_grad(x) and groups == 1:
        # a constant input: its patches (N, CK+1, L) from NumPy, one product per sample
        # written as (N, O, *out) directly
        cols = _from_array(_patches_numpy(x._value().reshape((N, C) + sp2), (N, rows, L),
                                          ks2, st2, lo2, dl2, out2, ones, False), dt, False)
        return record("matmul_batched", (w, cols), (N, O) + out, dt,
                      params=(O, rows, L, N, 0, rows * L))
    shape = (groups, rows, L * N)
    if needs_grad(x):  # batch innermost: the gather copies runs of N values
        xt = x.permute(tuple(range(1, x.ndim)) + (0,))                   # (C, *sp, N)
        if tail:  # padding reads a row of zeros appended to the input, the ones row ones
            t = np.zeros((1 if sp2[0] * sp2[1] >= 2 else 2,) + xt._shape[1:], dt.np)
            t.reshape(-1, N)[1] = 1  # rows C*H*W (zeros) and C*H*W+1 (ones) of xt
            xt = _cat([xt, _from_array(t, dt, False)])
        it = _from_array(pos.reshape(-1).astype(np.float64), _dtypes.float64, False)
        cols = record("index_select", (xt,), shape, dt, positions=it,
                      params=(0, 1, xt.numel() // max(N, 1), N, pos.size))
    else:
        cols = _from_array(_patches_numpy(x._value().reshape((N, C) + sp2), shape, ks2, st2,
                                          lo2, dl2, out2, ones, True), dt, False)
    # (G, O/G, CK+1) @ (G, CK+1, L*N) per group, written as (O, *out, N)
    y = record("matmul_batched", (w, cols), (O,) + out + (N,), dt,
               params=(O // groups, rows, L * N, groups, (O // groups) * rows if groups > 1
                       else 0, rows * L * N if groups > 1 else 0))
    return y.permute((nsp + 1,) + tuple(range(nsp + 1)))


def _conv_numpy(x, weight, bias, pos, tail, groups, out2, out):
    """The convolution of constants (nothing recorded): NumPy's im2col and matmul."""
    N, O = x._shape[0], weight._shape[0]
    wm = weight._value().reshape(groups, O // groups, -1)
    if bias is not None:
        wm = np.concatenate([wm, bias._value().reshape(groups, O // groups, 1)], axis=2)
    L = pos.shape[2]
    cols = np.take(_rows(x._value(), tail), pos, axis=0).reshape(groups, pos.shape[1], L * N)
    with np.errstate(all="ignore"):
        y = np.matmul(wm, cols).reshape(O, L, N)
    y = np.ascontiguousarray(y.transpose(2, 0, 1)).reshape((N, O) + out)
    return _from_array(y, x._dtype, False)


@functools.lru_cache(maxsize=16)
def _patch_positions(C: int, G: int, sp: tuple, ks: tuple, st: tuple, lo: tuple,
                     dl: tuple, out: tuple, ones: bool) -> tuple:
    """(positions, tail): the rows of the (C*H*W, N) batch-innermost input that the
    im2col gather copies, a (G, C/G*K (+1 with ones), Ho*Wo) intp array in the order
    (channel, kernel element) x output position, read-only, cached per geometry (C*K*L
    entries, whatever the batch). Padding reads row C*H*W and the ones row C*H*W+1
    (tail: the input needs those two rows appended)."""
    plane, K, L = sp[0] * sp[1], ks[0] * ks[1], out[0] * out[1]
    end = C * plane
    win = _windows(sp, ks, st, lo, dl, out)                             # (K, L)
    pos = (np.arange(C) * plane)[:, None, None] + win[None]             # (C, K, L)
    pad = win < 0
    tail = ones or bool(pad.any())
    if pad.any():
        pos = np.where(pad[None], end, pos)
    pos = pos.reshape(G, (C // G) * K, L)
    if ones:
        pos = np.concatenate([pos, np.full((G, 1, L), end + 1, pos.dtype)], axis=1)
    pos = np.ascontiguousarray(pos, np.intp)
    pos.flags.writeable = False
    return pos, tail


def _patches_numpy(v: np.ndarray, shape: tuple, ks, st, lo, dl, out, ones: bool,
                   batch_inner: bool) -> np.ndarray:
    """The im2col matrix of a constant input v (N, C, H, W) in NumPy, with its rows of
    ones (the bias): batch_inner, (G, (C/G, kh, kw), (Ho, Wo, N)) as the recorded gather
    lays it out; else (N, (C, kh, kw), (Ho, Wo)). One strided slab copy per kernel
    element from a zero-padded copy."""
    N, C, H, W = v.shape
    (kh, kw), (sh, sw), (ph, pw), (dh, dw), (Ho, Wo) = ks, st, lo, dl, out
    hp = max(H + ph, (Ho - 1) * sh + (kh - 1) * dh + 1)
    wp = max(W + pw, (Wo - 1) * sw + (kw - 1) * dw + 1)
    full = np.empty(shape, v.dtype)
    if ones:
        full[:, -1] = 1
    if batch_inner:
        G = shape[0]
        xp = np.zeros((G, C // G, hp, wp, N), v.dtype)
        xp[:, :, ph:ph + H, pw:pw + W] = v.transpose(1, 2, 3, 0).reshape(G, C // G, H, W, N)
        cols = full[:, :shape[1] - ones].reshape(G, C // G, kh, kw, Ho, Wo, N)  # a view
    else:
        xp = np.zeros((N, C, hp, wp), v.dtype)
        xp[:, :, ph:ph + H, pw:pw + W] = v
        cols = full[:, :shape[1] - ones].reshape(N, C, kh, kw, Ho, Wo)  # a view
    for i in range(kh):
        for j in range(kw):
            cols[:, :, i, j] = xp[:, :, i * dh:i * dh + (Ho - 1) * sh + 1:sh,
                                  j * dw:j * dw + (Wo - 1) * sw + 1:sw]
    return full


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


# the pools live in tapegrad/nn/_pool.py (they use _tup and _windows above)
from ._pool import (_apply_separable, _pool_args, _pool_out, adaptive_avg_pool1d,  # noqa: E402,F401
                    adaptive_avg_pool2d, avg_pool1d, avg_pool2d, max_pool1d, max_pool2d)
