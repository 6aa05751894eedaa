"""Transposed convolution as functions (conv_transpose1d, conv_transpose2d).

out[n, o, y, x] = sum over c, ky, kx with y = iy*s - p + ky*d (and the same along x) of
in[n, c, iy, ix] * weight[c, o, ky, kx], plus bias[o]: the adjoint of conv2d with the same
arguments. Built from recorded ops as conv2d is: one integer gather takes, for each output
position and kernel element, the input element that lands there (or a zero column where
none does: between strides and outside the input), then one batched matmul with the weight
rearranged to (groups, out/groups, in/groups * kh * kw), a reshape and the bias add. No
zero-stuffed input is ever materialised, so autograd needs nothing new.
"""

import numpy as np

from .._hints import IntOrTuple
from ..recorder import check_tensor as _check_tensor
from ..tensor import Tensor
from ._conv import _shape_str, _tup, _with_zero_column


def _sources(size: tuple, k: tuple, s: tuple, p: tuple, d: tuple, out: tuple) -> np.ndarray:
    """(kh*kw, Ho*Wo) int64 flat index into an (H, W) input plane of the element that
    output position (y, x) receives through kernel element (ky, kx); -1 where none."""
    idx = []
    for n, kk, ss, pp, dd, oo in zip(size, k, s, p, d, out):
        num = np.arange(oo)[None, :] + pp - (np.arange(kk) * dd)[:, None]   # (k, o)
        i = num // ss
        ok = (num % ss == 0) & (i >= 0) & (i < n)
        idx.append((np.where(ok, i, -1), ok))
    (r, okr), (c, okc) = idx
    ok = okr[:, None, :, None] & okc[None, :, None, :]                       # (kh, kw, Ho, Wo)
    flat = r[:, None, :, None] * size[1] + c[None, :, None, :]
    return np.where(ok, flat, -1).reshape(k[0] * k[1], out[0] * out[1]).astype(np.int64)


def _output_padding_for(output_size, base: tuple, st: tuple, dl: tuple, nsp: int) -> tuple:
    """The output_padding that makes the output spatial size `output_size` (its last nsp
    entries), checked against the reachable range [base, base + max(stride, dilation))."""
    want = tuple(int(v) for v in tuple(output_size)[-nsp:])
    if len(want) != nsp:
        raise ValueError(f"ConvTranspose{nsp}D: output_size must have {nsp} or {nsp + 2} "
                         f"elements (got {len(tuple(output_size))})")
    pads = []
    for w, b, s, d in zip(want, base, st, dl):
        hi = b + max(s, d) - 1
        if not b <= w <= hi:
            raise ValueError(f"requested an output size of {list(want)}, but valid sizes "
                             f"range from {list(base)} to "
                             f"{[bb + max(ss, dd) - 1 for bb, ss, dd in zip(base, st, dl)]} "
                             f"(for an input of {list(base)} before output_padding)")
        pads.append(w - b)
    return tuple(pads)


def _conv_transpose_nd(input: Tensor, weight: Tensor, bias, stride, padding, output_padding,
                       groups: int, dilation, nsp: int, output_size=None) -> Tensor:
    """conv_transpose1d (nsp=1) / conv_transpose2d (nsp=2): checks, then gather + matmul."""
    op = f"conv_transpose{nsp}d"
    _check_tensor(input, op)
    _check_tensor(weight, op)
    if input.ndim not in (nsp + 1, nsp + 2):
        raise RuntimeError(f"Expected {nsp + 1}D (unbatched) or {nsp + 2}D (batched) input to "
                           f"{op}, but got input of size: {list(input._shape)}")
    if weight.ndim != nsp + 2:
        raise RuntimeError(f"{op}: expected a {nsp + 2}D weight (in, out/groups, *kernel), "
                           f"got weight of size {list(weight._shape)}")
    unbatched = input.ndim == nsp + 1
    x = input.unsqueeze(0) if unbatched else input
    groups = int(groups)
    if groups <= 0:
        raise RuntimeError("non-positive groups is not supported")
    st, dl = _tup(stride, nsp, "stride"), _tup(dilation, nsp, "dilation")
    pd = _tup(padding, nsp, "padding")
    if any(v <= 0 for v in st):
        raise RuntimeError("non-positive stride is not supported")
    if any(v <= 0 for v in dl):
        raise RuntimeError("dilation should be greater than zero")
    if any(v < 0 for v in pd):
        raise RuntimeError("negative padding is not supported")
    ks = tuple(weight._shape[2:])
    Ci, Og = weight._shape[0], weight._shape[1]
    wsz = list(weight._shape)
    if Ci % groups:
        raise RuntimeError(f"Given groups={groups}, expected weight to be divisible by {groups} "
                           f"at dimension 0, but got weight of size {wsz} instead")
    if x._shape[1] != Ci:
        raise RuntimeError(f"Given transposed=1, weight of size {wsz}, expected input"
                           f"{list(input._shape)} to have {Ci} channels, but got "
                           f"{x._shape[1]} channels instead")
    if input._dtype != weight._dtype:
        raise RuntimeError(f"{op}: input type (torch.{input._dtype.name}) and weight type "
                           f"(torch.{weight._dtype.name}) should be the same")
    O = Og * groups
    if bias is not None:
        _check_tensor(bias, op)
        if bias.ndim != 1 or bias._shape[0] != O:
            raise RuntimeError(f"Given transposed=1, weight of size {wsz}, expected bias to be "
                               f"1-dimensional with {O} elements, but got bias of size "
                               f"{list(bias._shape)} instead")
        if bias._dtype != input._dtype:
            raise RuntimeError(f"{op}: input type (torch.{input._dtype.name}) and bias type "
                               f"(torch.{bias._dtype.name}) should be the same")
    sp = tuple(x._shape[2:])
    base = tuple((n - 1) * s - 2 * p + d * (k - 1) + 1
                 for n, s, p, d, k in zip(sp, st, pd, dl, ks))
    if output_size is not None:
        op_ = _output_padding_for(output_size, base, st, dl, nsp)
    else:
        op_ = _tup(output_padding, nsp, "output_padding")
        if any(o < 0 or (o >= s and o >= d) for o, s, d in zip(op_, st, dl)):
            raise RuntimeError(f"{op}: output padding must be smaller than either stride or "
                               f"dilation, but got output_padding={list(op_)}, stride="
                               f"{list(st)}, dilation={list(dl)}")
    out = tuple(b + o for b, o in zip(base, op_))
    if any(o <= 0 for o in out):
        raise RuntimeError(f"Given input size per channel: ({_shape_str(sp)}). Calculated "
                           f"output size per channel: ({_shape_str(out)}). Output size is "
                           f"too small")
    pre = (1,) * (2 - nsp)
    sp2, ks2, st2, dl2, out2 = (pre + t for t in (sp, ks, st, dl, out))
    pd2 = (0,) * (2 - nsp) + pd
    N = x._shape[0]
    plane, K, L = sp2[0] * sp2[1], ks2[0] * ks2[1], out2[0] * out2[1]
    Cg = Ci // groups
    src = _sources(sp2, ks2, st2, pd2, dl2, out2)                       # (K, L)
    chan = np.arange(Ci, dtype=np.int64)[:, None, None] * plane
    idx = np.where(src[None] < 0, Ci * plane, chan + src[None])         # (Ci, K, L)
    xe = _with_zero_column(x.reshape(N, Ci * plane))
    cols = xe[:, idx.reshape(groups, Cg * K, L)]                        # (N, G, Cg*K, L)
    w = weight.reshape(groups, Cg, Og, K).transpose(1, 2).reshape(groups, Og, Cg * K)
    y = (w @ cols).reshape((N, O) + out)
    if bias is not None:
        y = y + bias.reshape((1, O) + (1,) * nsp)
    if unbatched:
        return y.squeeze(0)
    from ._grad_fn import show  # one ConvolutionBackward0 node, as conv2d's

    return show(y, "ConvolutionBackward0", x, weight, bias)


def conv_transpose2d(input: Tensor, weight: Tensor, bias: Tensor | None = None,
                     stride: IntOrTuple = 1, padding: IntOrTuple = 0,
                     output_padding: IntOrTuple = 0, groups: int = 1,
                     dilation: IntOrTuple = 1) -> Tensor:
    """2-D transposed convolution ("deconvolution") of input (N, C, H, W) or (C, H, W) with
    weight (C, O/groups, kh, kw), plus bias (O,): the adjoint of conv2d. Output size
    (H-1)*stride - 2*padding + dilation*(kh-1) + output_padding + 1 (and the same for W)."""
    return _conv_transpose_nd(input, weight, bias, stride, padding, output_padding, groups,
                              dilation, 2)


def conv_transpose1d(input: Tensor, weight: Tensor, bias: Tensor | None = None,
                     stride: IntOrTuple = 1, padding: IntOrTuple = 0,
                     output_padding: IntOrTuple = 0, groups: int = 1,
                     dilation: IntOrTuple = 1) -> Tensor:
    """1-D transposed convolution of input (N, C, L) or (C, L) with weight (C, O/groups, k),
    plus bias (O,): the adjoint of conv1d."""
    return _conv_transpose_nd(input, weight, bias, stride, padding, output_padding, groups,
                              dilation, 1)
