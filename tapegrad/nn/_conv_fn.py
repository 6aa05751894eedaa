"""The convolution as one custom-Function record: forward and backward in NumPy + BLAS.

conv2d / conv1d (tapegrad/nn/_conv.py) use it whenever something requires grad: the tape
then holds the output only (its im2col matrix stays a NumPy array saved for backward,
instead of an INDEX record of Cg*K*L*N values plus the copies a recorded layout needs).
Layout: the input batch-innermost, (C*H*W + 2, N) rows (the last two are zeros, which
padding reads, and ones, which the bias row reads), the patches (G, Cg*K + 1, L*N) by one
np.take of whole rows, the product (G, O/G, Cg*K + 1) @ patches with the bias as its last
column. Backward: the weight gradient is one product with the saved patches; the input
gradient is the transposed product, added back window element by window element as
strided slabs (col2im).

With create_graph=True the backward instead differentiates the recorded composite
(`_conv_nd`'s im2col gather + matmul) built again from the saved inputs, so double
backward works as it does for the composite.
"""

import numpy as np

from ..autograd.function import Function
from ..autograd.grad_mode import is_grad_enabled
from ..tensor import Tensor, _from_array


def _rows(v: np.ndarray, tail: bool) -> np.ndarray:
    """v (N, C, *sp) as (C*prod(sp) [+ 2], N): batch innermost, then a row of zeros and a
    row of ones."""
    N = v.shape[0]
    m = v.reshape(N, v[0].size if N else int(np.prod(v.shape[1:])))
    xt = np.empty((m.shape[1] + 2 * tail, N), v.dtype)
    xt[:m.shape[1]] = m.T
    if tail:
        xt[-2] = 0
        xt[-1] = 1
    return xt


class _ConvFunction(Function):
    """y = conv(x, w, b) of x (N, C, *sp) (a 1-D conv as one of height 1); `geom` is
    (pos, tail, sp, ks, st, lo, dl, out, groups, composite, final): pos the cached patch
    rows of tapegrad/nn/_conv.py, the geometry as 2-D tuples, composite the recorded
    fallback (x, w, b) -> y, final the output's spatial shape."""

    @staticmethod
    def forward(ctx, x: Tensor, w: Tensor, b, geom) -> Tensor:
        pos, tail, sp, ks, st, lo, dl, out, G, _, final = geom
        xv, wv = x._value(), w._value()
        N = xv.shape[0]
        O = wv.shape[0]
        wm = wv.reshape(G, O // G, -1)
        if b is not None:
            wm = np.concatenate([wm, b._value().reshape(G, O // G, 1)], axis=2)
        L = pos.shape[2]
        cols = np.take(_rows(xv, tail), pos, axis=0).reshape(G, pos.shape[1], L * N)
        with np.errstate(all="ignore"):
            y = np.matmul(wm, cols)                                    # (G, O/G, L*N)
        y = np.ascontiguousarray(y.reshape(O, L, N).transpose(2, 0, 1))
        ctx.save_for_backward(x, w, b)
        ctx.geom, ctx.cols, ctx.wm = geom, cols, wm
        return _from_array(y.reshape((N, O) + final), x._dtype, False)

    @staticmethod
    def backward(ctx, g: Tensor):
        x, w, b = ctx.saved_tensors
        pos, tail, sp, ks, st, lo, dl, out, G, composite, _ = ctx.geom
        need = ctx.needs_input_grad
        if is_grad_enabled():  # create_graph: differentiate the recorded composite
            from ..autograd import grad as _grad

            ins = [t for t, n in zip((x, w, b), need) if n]
            got = iter(_grad(composite(x, w, b), ins, g, create_graph=True,
                             allow_unused=True))
            return tuple(next(got) if n else None for n in need[:3]) + (None,)
        gv, cols, wm = g._value(), ctx.cols, ctx.wm
        N, O = gv.shape[0], gv.shape[1]
        L = pos.shape[2]
        gt = np.ascontiguousarray(gv.reshape(N, O, L).transpose(1, 2, 0)).reshape(G, O // G,
                                                                                  L * N)
        gx = gw = gb = None
        CK = w._shape[1] * ks[0] * ks[1]
        with np.errstate(all="ignore"):
            if need[1] or (len(need) > 2 and need[2]):
                gwm = np.matmul(gt, cols.transpose(0, 2, 1))           # (G, O/G, CK+1)
                if need[1]:
                    gw = _from_array(np.ascontiguousarray(gwm[:, :, :CK]).reshape(w._shape),
                                     w._dtype, False)
                if b is not None and need[2]:
                    gb = _from_array(np.ascontiguousarray(gwm[:, :, CK]).reshape(O),
                                     b._dtype, False)
            if need[0]:
                gcols = np.matmul(wm[:, :, :CK].transpose(0, 2, 1), gt)  # (G, CK, L*N)
                gx = _from_array(_col2im(gcols, x._shape, sp, ks, st, lo, dl, out, G),
                                 x._dtype, False)
        return gx, gw, gb, None


# its grad_fn as PyTorch names a convolution's (a custom Function's is `<Name>Backward`)
_ConvFunction._backward_cls.__name__ = _ConvFunction._backward_cls.__qualname__ = \
    "ConvolutionBackward0"
_ConvFunction._backward_cls._native = True  # (its repr without torch.autograd.function.)


def _col2im(gcols: np.ndarray, shape: tuple, sp, ks, st, lo, dl, out, G: int) -> np.ndarray:
    """The input gradient (N, C, H, W) from the patch gradient (G, Cg*K, Ho*Wo*N): each
    window element's slab added at its strided place in a padded buffer."""
    N, C = shape[0], shape[1]
    (H, W), (kh, kw), (sh, sw), (ph, pw), (dh, dw) = sp, ks, st, lo, dl
    Ho, Wo = out
    hp = max(H + ph, (Ho - 1) * sh + (kh - 1) * dh + 1)
    wp = max(W + pw, (Wo - 1) * sw + (kw - 1) * dw + 1)
    gp = np.zeros((G, C // G, hp, wp, N), gcols.dtype)
    gc = gcols.reshape(G, C // G, kh, kw, Ho, Wo, N)
    for i in range(kh):
        for j in range(kw):
            gp[:, :, i * dh:i * dh + (Ho - 1) * sh + 1:sh,
               j * dw:j * dw + (Wo - 1) * sw + 1:sw] += gc[:, :, i, j]
    gx = gp[:, :, ph:ph + H, pw:pw + W].reshape(C, H, W, N)
    return np.ascontiguousarray(gx.transpose(3, 0, 1, 2)).reshape(shape)
