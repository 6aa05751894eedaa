"""The layers of tapegrad/nn/_layers2.py, nn/modules/layers2.py and nn/utils/rnn.py:
padding layers, instance and local response norms, PReLU/GLU/Threshold/Softmax2d, pixel
(un)shuffle, adaptive max pools, unfold/fold, triplet loss, TransformerEncoder and packed
sequences. NumPy expectations and float64 finite differences always; torch-marked tests
compare values, gradients and error classes with PyTorch (weights copied across)."""

import math
import warnings

import numpy as np
import pytest

import tapegrad as tg
import tapegrad.nn as nn
import tapegrad.nn.functional as F
from tapegrad.autograd.gradcheck import gradgradcheck
from tapegrad.nn.utils import rnn as R

from fdcheck import fd_check, t64

RNG = np.random.default_rng(2024)


def arr(t):
    return np.array(t.detach())


# ---- padding ------------------------------------------------------------------------------
PADS = [("ZeroPad1d", (1, 2), "constant"), ("ZeroPad2d", (1, 0, 2, 1), "constant"),
        ("ConstantPad1d", 2, "constant"), ("ConstantPad2d", (0, 1, 1, 2), "constant"),
        ("ReflectionPad1d", (2, 1), "reflect"), ("ReflectionPad2d", 1, "reflect"),
        ("ReplicationPad1d", 3, "edge"), ("ReplicationPad2d", (2, 0, 1, 3), "edge"),
        ("CircularPad1d", (1, 2), "wrap"), ("CircularPad2d", (1, 1, 0, 2), "wrap"),
        ("ZeroPad3d", 1, "constant"), ("ReflectionPad3d", (1, 0, 1, 1, 0, 1), "reflect"),
        ("ReplicationPad3d", 1, "edge"), ("ConstantPad3d", (0, 0, 1, 0, 0, 1), "constant")]


def _np_pad(x, pad, mode, value=0.0):
    nd = len(pad) // 2
    width = [(0, 0)] * (x.ndim - nd) + [(pad[2 * i], pad[2 * i + 1]) for i in range(nd)][::-1]
    kw = {"constant_values": value} if mode == "constant" else {}
    return np.pad(x, width, mode=mode, **kw)


@pytest.mark.parametrize("name,padding,mode", PADS)
def test_padding_layers_values_repr_and_gradient(name, padding, mode):
    d = int(name[-2])
    const = name.startswith("Constant")
    m = getattr(nn, name)(padding, 2.5) if const else getattr(nn, name)(padding)
    full = padding if isinstance(padding, tuple) else (padding,) * (2 * d)
    assert m.padding == full
    want_repr = f"{name}(padding={full}, value=2.5)" if const else f"{name}({full})"
    assert repr(m) == want_repr
    x = RNG.standard_normal((2, 3) + (4,) * d)
    y = m(t64(x))
    np.testing.assert_array_equal(arr(y), _np_pad(x, full, mode, 2.5 if const else 0.0))
    fd_check(lambda a: m(a), [x[:1, :2]])
    if not const and not name.startswith("Zero"):  # unbatched input of the layer's rank + 1
        assert m(t64(x[0])).shape == y.shape[1:]


def test_padding_layer_bad_input():
    with pytest.raises(NotImplementedError, match="Padding size 4 is not supported for 2D"):
        nn.ReflectionPad2d(1)(tg.randn(3, 4))
    with pytest.raises(NotImplementedError, match="Padding size 2 is not supported for 4D"):
        nn.ReplicationPad1d(1)(tg.randn(1, 2, 3, 4))
    with pytest.raises(RuntimeError, match="Padding size should be less than"):
        nn.ReflectionPad2d(4)(tg.randn(1, 3, 4))
    with pytest.raises(RuntimeError, match="Padding length should be less than or equal"):
        nn.ZeroPad2d(1)(tg.randn(4))
    assert nn.ZeroPad2d([1, 2, 3, 4]).padding == (1, 2, 3, 4)


# ---- instance norm, local response norm -----------------------------------------------------
def _np_instance(x, w=None, b=None, eps=1e-5):
    ax = tuple(range(2, x.ndim))
    y = (x - x.mean(ax, keepdims=True)) / np.sqrt(x.var(ax, keepdims=True) + eps)
    sh = (1, -1) + (1,) * (x.ndim - 2)
    if w is not None:
        y = y * w.reshape(sh) + b.reshape(sh)
    return y


def test_instance_norm_values_running_stats_and_unbatched():
    m = nn.InstanceNorm2d(3)
    assert repr(m) == ("InstanceNorm2d(3, eps=1e-05, momentum=0.1, affine=False, bias=False, "
                       "track_running_stats=False)")
    assert m.weight is None and m.running_mean is None and not list(m.parameters())
    x = RNG.standard_normal((2, 3, 4, 5)) * 3 + 1
    np.testing.assert_allclose(arr(m(t64(x))), _np_instance(x), atol=1e-12)
    np.testing.assert_allclose(arr(m(t64(x[0]))), _np_instance(x[:1])[0], atol=1e-12)
    a = nn.InstanceNorm1d(3, affine=True, track_running_stats=True, momentum=0.2).double()
    assert sorted(a.state_dict()) == ["bias", "num_batches_tracked", "running_mean",
                                      "running_var", "weight"]
    with tg.no_grad():
        a.weight.copy_(t64([1.0, 2.0, -1.0]))
        a.bias.copy_(t64([0.5, 0.0, 1.0]))
    x1 = RNG.standard_normal((4, 3, 6))
    np.testing.assert_allclose(arr(a(t64(x1))), _np_instance(x1, np.array([1, 2, -1.0]),
                                                             np.array([0.5, 0, 1.0])), atol=1e-12)
    rm = 0.2 * x1.mean(2).mean(0)
    rv = 0.8 + 0.2 * x1.var(2, ddof=1).mean(0)
    np.testing.assert_allclose(arr(a.running_mean), rm, atol=1e-12)
    np.testing.assert_allclose(arr(a.running_var), rv, atol=1e-12)
    a.eval()  # eval: the running statistics
    want = (x1 - rm[None, :, None]) / np.sqrt(rv[None, :, None] + 1e-5)
    want = want * np.array([1, 2, -1.0])[None, :, None] + np.array([0.5, 0, 1.0])[None, :, None]
    np.testing.assert_allclose(arr(a(t64(x1))), want, atol=1e-12)
    fd_check(lambda v, w, b: F.instance_norm(v, weight=w, bias=b), [x1[:2], RNG.random(3) + .5,
                                                                    RNG.random(3)])
    assert nn.InstanceNorm3d(2)(tg.randn(1, 2, 3, 3, 3)).shape == (1, 2, 3, 3, 3)


def test_instance_norm_bad_input():
    with pytest.raises(ValueError, match=r"expected 2D or 3D input \(got 4D input\)"):
        nn.InstanceNorm1d(3)(tg.randn(2, 3, 4, 5))
    with pytest.raises(ValueError, match=r"expected 3D or 4D input \(got 2D input\)"):
        nn.InstanceNorm2d(3)(tg.randn(3, 4))
    with pytest.raises(ValueError, match="to match num_features"):
        nn.InstanceNorm2d(3, affine=True)(tg.randn(2, 4, 4, 5))
    with pytest.warns(UserWarning, match="does not match num_features"):
        nn.InstanceNorm2d(3)(tg.randn(2, 4, 4, 5))
    with pytest.raises(ValueError, match="Expected more than 1 spatial element"):
        nn.InstanceNorm1d(3)(tg.randn(2, 3, 1))


def _np_lrn(x, size, alpha, beta, k):
    c = x.shape[1]
    out = np.empty_like(x)
    for i in range(c):
        lo, hi = max(0, i - size // 2), min(c - 1, i + (size - 1) // 2)
        out[:, i] = x[:, i] / (k + alpha * (x[:, lo:hi + 1] ** 2).sum(1) / size) ** beta
    return out


def test_local_response_norm():
    m = nn.LocalResponseNorm(3, alpha=0.1, beta=0.6, k=1.5)
    assert repr(m) == "LocalResponseNorm(3, alpha=0.1, beta=0.6, k=1.5)"
    for shape in ((2, 5, 4), (2, 5, 3, 4), (1, 4, 2, 2, 3)):
        x = RNG.standard_normal(shape)
        np.testing.assert_allclose(arr(m(t64(x))), _np_lrn(x, 3, 0.1, 0.6, 1.5), atol=1e-12)
    fd_check(lambda a: F.local_response_norm(a, 2, 0.5, 0.75, 1.0),
             [RNG.standard_normal((2, 4, 3))])
    with pytest.raises(ValueError, match=r"Expected 3D or higher dimensionality input \(got 2"):
        m(tg.randn(3, 4))
    assert m(tg.randn(0, 3, 4)).shape == (0, 3, 4)


# ---- activations --------------------------------------------------------------------------
def test_prelu():
    m = nn.PReLU(3, init=0.1, dtype=tg.float64)
    assert repr(m) == "PReLU(num_parameters=3)" and arr(m.weight).tolist() == [0.1] * 3
    assert repr(nn.PReLU()) == "PReLU(num_parameters=1)"
    x = RNG.standard_normal((4, 3, 2))
    xt = t64(x, True)
    y = m(xt)
    w = np.array([0.1] * 3)[None, :, None]
    np.testing.assert_allclose(arr(y), np.where(x > 0, x, w * x))
    y.sum().backward()
    np.testing.assert_allclose(arr(m.weight.grad), np.where(x > 0, 0, x).sum((0, 2)))
    np.testing.assert_allclose(arr(xt.grad), np.where(x > 0, 1.0, w + 0 * x))
    fd_check(F.prelu, [x, np.array([0.3, -0.2, 0.5])])
    fd_check(F.prelu, [x[0, 0], np.array([0.3])])
    with pytest.raises(RuntimeError, match="Found parameter numbers = 3 and channel size = 4"):
        nn.PReLU(3)(tg.randn(2, 4))
    with pytest.raises(RuntimeError, match="channel size = 1"):
        nn.PReLU(3)(tg.randn(3))
    with pytest.raises(RuntimeError, match="Not allow zero-dim input tensor"):
        nn.PReLU(3)(tg.tensor(1.0))
    with pytest.raises(RuntimeError, match="Expected `weight` to be a scalar or 1D tensor"):
        F.prelu(tg.randn(2, 3), tg.ones(3, 1))
    with pytest.raises(NotImplementedError, match="not implemented for 'Long'"):
        F.prelu(tg.ones(2, 3, dtype=tg.int64), tg.ones(1, dtype=tg.int64))


def test_glu_threshold_softmax2d():
    x = RNG.standard_normal((3, 4, 6))
    g = nn.GLU(1)
    assert repr(g) == "GLU(dim=1)" and repr(nn.GLU()) == "GLU(dim=-1)"
    np.testing.assert_allclose(arr(g(t64(x))), x[:, :2] / (1 + np.exp(-x[:, 2:])))
    fd_check(lambda a: nn.GLU()(a), [x[0]])
    with pytest.raises(RuntimeError, match="Halving dimension must be even"):
        nn.GLU()(tg.randn(3, 5))
    th = nn.Threshold(0.1, 20)
    assert repr(th) == "Threshold(threshold=0.1, value=20)"
    assert repr(nn.Threshold(0.1, 20, True)) == "Threshold(threshold=0.1, value=20, inplace=True)"
    np.testing.assert_array_equal(arr(th(t64(x))), np.where(x > 0.1, x, 20.0))
    v = t64(x.copy())
    assert nn.Threshold(0.0, -1.0, inplace=True)(v) is v
    np.testing.assert_array_equal(arr(v), np.where(x > 0, x, -1.0))
    sm = nn.Softmax2d()
    assert repr(sm) == "Softmax2d()"
    e = np.exp(x - x.max(0, keepdims=True))
    np.testing.assert_allclose(arr(sm(t64(x))), e / e.sum(0, keepdims=True))
    assert sm(tg.randn(2, 3, 4, 5)).shape == (2, 3, 4, 5)
    with pytest.raises(ValueError, match="Softmax2d: expected input to be 3D or 4D, got 2D"):
        sm(tg.randn(3, 4))


def test_pixel_shuffle_and_unshuffle():
    x = np.arange(2 * 8 * 2 * 3, dtype=np.float64).reshape(2, 8, 2, 3)
    ps = nn.PixelShuffle(2)
    assert repr(ps) == "PixelShuffle(upscale_factor=2)"
    assert repr(nn.PixelUnshuffle(2)) == "PixelUnshuffle(downscale_factor=2)"
    y = arr(ps(t64(x)))
    assert y.shape == (2, 2, 4, 6)
    for c in range(2):
        for i in range(4):
            for j in range(6):
                assert y[1, c, i, j] == x[1, c * 4 + (i % 2) * 2 + j % 2, i // 2, j // 2]
    np.testing.assert_array_equal(arr(nn.PixelUnshuffle(2)(t64(y))), x)
    assert F.pixel_shuffle(tg.randn(2, 1, 4, 2, 2), 2).shape == (2, 1, 1, 4, 4)
    fd_check(lambda a: F.pixel_shuffle(a, 2), [RNG.standard_normal((1, 4, 2, 2))])
    with pytest.raises(RuntimeError, match="at least 3 dimensions, but got input with 2"):
        ps(tg.randn(3, 4))
    with pytest.raises(RuntimeError, match=r"input.size\(-3\)=5 is not divisible by 4"):
        ps(tg.randn(1, 5, 2, 2))
    with pytest.raises(RuntimeError, match="expects a positive upscale_factor, but got 0"):
        F.pixel_shuffle(tg.randn(1, 4, 2, 2), 0)
    with pytest.raises(RuntimeError, match=r"expects height to be divisible.*size\(-2\)=5"):
        F.pixel_unshuffle(tg.randn(1, 1, 5, 4), 2)
    with pytest.raises(RuntimeError, match=r"expects width to be divisible.*size\(-1\)=5"):
        F.pixel_unshuffle(tg.randn(1, 1, 4, 5), 2)


# ---- adaptive max pools -------------------------------------------------------------------
def _np_adaptive_max(x, oh, ow):
    H, W = x.shape[-2:]
    out = np.empty(x.shape[:-2] + (oh, ow))
    idx = np.empty(out.shape, np.int64)
    for i in range(oh):
        a, b = i * H // oh, -(-(i + 1) * H // oh)
        for j in range(ow):
            c, d = j * W // ow, -(-(j + 1) * W // ow)
            win = x[..., a:b, c:d].reshape(x.shape[:-2] + (-1,))
            k = win.argmax(-1)
            out[..., i, j] = win.max(-1)
            idx[..., i, j] = (a + k // (d - c)) * W + c + k % (d - c)
    return out, idx


@pytest.mark.parametrize("size", [(2, 3), 3, (None, 2), (5, 7), (4, 4), 1])
def test_adaptive_max_pool2d_values_indices_gradient(size):
    x = RNG.standard_normal((2, 3, 5, 7))
    m = nn.AdaptiveMaxPool2d(size, return_indices=True)
    y, i = m(t64(x))
    s = size if isinstance(size, tuple) else (size, size)
    s = tuple(n if o is None else o for o, n in zip(s, (5, 7)))
    want, wi = _np_adaptive_max(x, *s)
    np.testing.assert_array_equal(arr(y), want)
    np.testing.assert_array_equal(arr(i), wi)
    assert i.dtype is tg.int64
    fd_check(lambda a: F.adaptive_max_pool2d(a, size), [x[:1, :2]])


def test_adaptive_max_pool1d_nan_repr_and_bad_input():
    y, i = nn.AdaptiveMaxPool1d(2, True)(tg.tensor([[[1.0, 3, 2, 5, 4]]]))
    assert arr(y).tolist() == [[[3.0, 5.0]]] and arr(i).tolist() == [[[1, 3]]]
    x = RNG.standard_normal((3, 7))
    fd_check(lambda a: F.adaptive_max_pool1d(a, 3), [x])
    assert repr(nn.AdaptiveMaxPool2d((2, None))) == "AdaptiveMaxPool2d(output_size=(2, None))"
    assert repr(nn.AdaptiveMaxPool1d(2, True)) == "AdaptiveMaxPool1d(output_size=2)"
    nan = float("nan")
    y, i = F.adaptive_max_pool2d(tg.tensor([[[1.0, nan, 2, nan]]]), (1, 1), True)
    assert math.isnan(arr(y).item()) and arr(i).item() == 3  # the last NaN, as PyTorch
    assert F.adaptive_max_pool2d(tg.ones(1, 4, 4), 0).shape == (1, 0, 0)
    with pytest.raises(RuntimeError, match=r"Expected 3D or 4D tensor, but got: \[3, 4\]"):
        F.adaptive_max_pool2d(tg.randn(3, 4), 2)
    with pytest.raises(RuntimeError, match="Expected 2 to 3 dimensions, but got 1-dimensional"):
        F.adaptive_max_pool1d(tg.randn(4), 2)
    with pytest.raises(NotImplementedError, match="not implemented for 'Long'"):
        F.adaptive_max_pool2d(tg.ones(1, 4, 4, dtype=tg.int64), 2)
    with pytest.raises(RuntimeError, match="dimension 1 being empty"):
        F.adaptive_max_pool2d(tg.ones(1, 0, 4), 2)
    with pytest.raises(RuntimeError, match="negative"):
        F.adaptive_max_pool2d(tg.ones(1, 4, 4), -1)
    with pytest.raises(ValueError):
        F.adaptive_max_pool2d(tg.ones(1, 4, 4), (1, 2, 3))


# ---- unfold / fold ------------------------------------------------------------------------
BLOCKS = [dict(kernel_size=2), dict(kernel_size=(2, 3), dilation=(1, 2), padding=1, stride=(2, 1)),
          dict(kernel_size=3, padding=(0, 2), stride=2)]


def _np_unfold(x, kernel_size, dilation=1, padding=0, stride=1):
    two = lambda v: v if isinstance(v, tuple) else (v, v)  # noqa: E731
    (kh, kw), (dh, dw), (ph, pw), (sh, sw) = map(two, (kernel_size, dilation, padding, stride))
    n, c, h, w = x.shape
    xp = np.pad(x, ((0, 0), (0, 0), (ph, ph), (pw, pw)))
    oh = (h + 2 * ph - dh * (kh - 1) - 1) // sh + 1
    ow = (w + 2 * pw - dw * (kw - 1) - 1) // sw + 1
    out = np.empty((n, c, kh, kw, oh, ow))
    for i in range(kh):
        for j in range(kw):
            out[:, :, i, j] = xp[:, :, i * dh:i * dh + (oh - 1) * sh + 1:sh,
                                 j * dw:j * dw + (ow - 1) * sw + 1:sw]
    return out.reshape(n, c * kh * kw, oh * ow)


@pytest.mark.parametrize("kw", BLOCKS)
def test_unfold_fold_values_adjoint_and_gradient(kw):
    x = RNG.standard_normal((2, 3, 5, 7))
    u = nn.Unfold(**kw)
    cols = arr(u(t64(x)))
    np.testing.assert_array_equal(cols, _np_unfold(x, **kw))
    np.testing.assert_array_equal(arr(F.unfold(t64(x[0]), **kw)), cols[0])  # unbatched
    y = RNG.standard_normal(cols.shape)
    back = arr(nn.Fold((5, 7), **kw)(t64(y)))
    assert back.shape == x.shape
    assert np.isclose((cols * y).sum(), (x * back).sum())  # fold is unfold's adjoint
    np.testing.assert_allclose(arr(F.fold(t64(y[0]), (5, 7), **kw)), back[0])
    fd_check(lambda a: F.unfold(a, **kw), [x[:1, :2]])
    fd_check(lambda a: F.fold(a, (5, 7), **kw), [y[:1, :cols.shape[1] // 3 * 2]])


def test_unfold_fold_repr_and_bad_input():
    assert repr(nn.Unfold(2)) == "Unfold(kernel_size=2, dilation=1, padding=0, stride=1)"
    assert repr(nn.Fold((4, 5), 2)) == ("Fold(output_size=(4, 5), kernel_size=2, dilation=1, "
                                        "padding=0, stride=1)")
    ones = np.ones((1, 1, 4, 4))
    counts = arr(F.fold(F.unfold(t64(ones), 2), 4, 2))  # how many blocks cover each pixel
    np.testing.assert_array_equal(counts[0, 0], [[1, 2, 2, 1], [2, 4, 4, 2], [2, 4, 4, 2],
                                                  [1, 2, 2, 1]])
    assert F.unfold(tg.randn(0, 1, 3, 3), 2).shape == (0, 4, 4)
    with pytest.raises(RuntimeError, match="Expected 3D or 4D"):
        F.unfold(tg.randn(1, 1, 1, 3, 3), 2)
    with pytest.raises(IndexError):
        F.unfold(tg.randn(3, 4), 2)
    with pytest.raises(RuntimeError, match="its components must be at least one"):
        F.unfold(tg.randn(1, 1, 3, 3), 4)
    with pytest.raises(RuntimeError, match="stride should be greater than zero"):
        F.unfold(tg.randn(1, 1, 3, 3), 2, stride=0)
    with pytest.raises(RuntimeError, match="padding should be non-negative"):
        F.unfold(tg.randn(1, 1, 3, 3), 2, padding=-1)
    with pytest.raises(RuntimeError, match="It is expected kernel_size equals to 2"):
        F.unfold(tg.randn(1, 1, 3, 3), (1, 2, 3))
    with pytest.raises(NotImplementedError, match="not implemented for 'Long'"):
        F.unfold(tg.ones(1, 1, 3, 3, dtype=tg.int64), 2)
    with pytest.raises(RuntimeError, match="Expected 2D or 3D"):
        F.fold(tg.randn(1, 4, 4, 1), (3, 3), 2)
    with pytest.raises(RuntimeError, match="divisible by the product of kernel_size"):
        F.fold(tg.randn(1, 5, 4), (3, 3), 2)
    with pytest.raises(RuntimeError, match="calculated number of sliding blocks 2 \\* 2 = 4"):
        F.fold(tg.randn(1, 4, 5), (3, 3), 2)


def test_create_graph_through_the_new_layers():
    x = tg.tensor(RNG.standard_normal((1, 2, 4, 4)), requires_grad=True)
    w = tg.tensor(np.array([0.2, -0.4]), requires_grad=True)
    assert gradgradcheck(lambda a: F.unfold(a, 2, padding=1).pow(2), (x,))
    assert gradgradcheck(lambda a, b: F.prelu(a, b) ** 3, (x, w))
    assert gradgradcheck(lambda a: F.local_response_norm(a, 2, 0.5), (x,))
    cols = tg.tensor(RNG.standard_normal((1, 8, 9)), requires_grad=True)
    assert gradgradcheck(lambda c: F.fold(c, 4, 2, padding=1, stride=2).pow(2), (cols,))


# ---- triplet margin loss ------------------------------------------------------------------
def test_triplet_margin_loss():
    a, p, n = (RNG.standard_normal((5, 4)) for _ in range(3))

    def dist(u, v, q=2.0):
        return (np.abs(u - v + 1e-6) ** q).sum(-1) ** (1 / q)

    want = np.maximum(dist(a, p) - dist(a, n) + 1.0, 0)
    loss = nn.TripletMarginLoss(reduction="none")
    assert repr(nn.TripletMarginLoss()) == "TripletMarginLoss()"
    np.testing.assert_allclose(arr(loss(t64(a), t64(p), t64(n))), want)
    sw = np.maximum(dist(a, p, 1) - np.minimum(dist(a, n, 1), dist(p, n, 1)) + 2.0, 0).mean()
    got = F.triplet_margin_loss(t64(a), t64(p), t64(n), margin=2.0, p=1, swap=True)
    np.testing.assert_allclose(arr(got), sw)
    fd_check(lambda u, v, w: F.triplet_margin_loss(u, v, w, margin=3.0, swap=True), [a, p, n])
    assert F.triplet_margin_loss(*(t64(v[0]) for v in (a, p, n))).shape == ()
    with pytest.raises(RuntimeError, match="anchor 2D, positive 2D, and negative 1D"):
        F.triplet_margin_loss(t64(a), t64(p), t64(n[0]))
    with pytest.raises(ValueError, match="TripletMarginLoss: expected margin to be greater"):
        nn.TripletMarginLoss(margin=0)
    with pytest.raises(ValueError, match="margin must be greater than 0, got -1"):
        F.triplet_margin_loss(t64(a), t64(p), t64(n), margin=-1)


# ---- transformer encoder ------------------------------------------------------------------
def test_transformer_encoder_copies_layers_and_applies_them_in_turn():
    tg.manual_seed(0)
    layer = nn.TransformerEncoderLayer(8, 2, 16, dropout=0.0, batch_first=True)
    enc = nn.TransformerEncoder(layer, 3, norm=nn.LayerNorm(8))
    assert len(enc.layers) == 3 and enc.num_layers == 3 and enc.layers[0] is not layer
    p0, p1 = enc.layers[0].linear1.weight, enc.layers[1].linear1.weight
    assert p0 is not p1 and np.array_equal(arr(p0), arr(p1))
    assert len(list(enc.parameters())) == 3 * len(list(layer.parameters())) + 2
    x = tg.randn(2, 5, 8)
    mask = tg.triu(tg.full((5, 5), float("-inf")), diagonal=1)
    y = x
    for mod in enc.layers:
        y = mod(y, src_mask=mask)
    np.testing.assert_allclose(arr(enc(x, mask=mask)), arr(enc.norm(y)), atol=1e-6)
    assert "(0-2): 3 x TransformerEncoderLayer(" in repr(enc)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        nn.TransformerEncoder(layer, 2)  # batch_first, even heads: no warning
    with pytest.warns(UserWarning, match="self.use_nested_tensor is False because encoder_"
                                         "layer.self_attn.batch_first was not True"):
        e2 = nn.TransformerEncoder(nn.TransformerEncoderLayer(8, 2, 16), 1)
    assert e2.use_nested_tensor is False and e2.norm is None
    out = e2(x)
    out.sum().backward()
    assert e2.layers[0].linear1.weight.grad is not None


# ---- nn.utils.rnn -------------------------------------------------------------------------
def _seqs():
    return [tg.arange(3.0), tg.arange(2.0) + 10, tg.tensor([20.0])]


def test_pad_sequence_fixed_values():
    a, b, c = _seqs()
    assert arr(R.pad_sequence([a, b, c])).tolist() == [[0, 10, 20], [1, 11, 0], [2, 0, 0]]
    left = R.pad_sequence([a, b, c], batch_first=True, padding_value=-1, padding_side="left")
    assert arr(left).tolist() == [[0, 1, 2], [-1, 10, 11], [-1, -1, 20]]
    assert R.pad_sequence(tg.ones(2, 3)).shape == (3, 2)  # a tensor: its rows
    x = t64(RNG.standard_normal((4, 2)), True)
    y = R.pad_sequence([x[:3], x[3:]], batch_first=True)
    (y * t64(np.arange(12.0).reshape(2, 3, 2))).sum().backward()
    assert arr(x.grad).tolist() == [[0, 1], [2, 3], [4, 5], [6, 7]]
    with pytest.raises(RuntimeError, match="Expected padding_side to be one of left or right"):
        R.pad_sequence([a], padding_side="up")
    with pytest.raises(RuntimeError, match="received an empty list of sequences"):
        R.pad_sequence([])
    with pytest.raises(RuntimeError, match="trailing shape"):
        R.pad_sequence([tg.ones(2, 3), tg.ones(2, 4)])
    with pytest.raises(RuntimeError):
        R.pad_sequence([tg.tensor(1.0), tg.tensor(2.0)])


def test_pack_and_unpack_fixed_values():
    a, b, c = _seqs()
    p = R.pack_sequence([a, b, c])
    assert isinstance(p, tuple) and p._fields == ("data", "batch_sizes", "sorted_indices",
                                                  "unsorted_indices")
    assert arr(p.data).tolist() == [0, 10, 20, 1, 11, 2]
    assert arr(p.batch_sizes).tolist() == [3, 2, 1]
    assert p.sorted_indices is None and p.unsorted_indices is None
    assert p.batch_sizes.dtype is tg.int64 and not p.is_cuda and not p.is_pinned()
    assert repr(p).startswith("PackedSequence(data=tensor([ 0., 10., 20.,  1., 11.,  2.]), "
                              "batch_sizes=tensor([3, 2, 1]), sorted_indices=None")
    assert p.double().data.dtype is tg.float64
    q = R.pack_sequence([b, a, c], enforce_sorted=False)
    assert arr(q.data).tolist() == [0, 10, 20, 1, 11, 2]
    assert arr(q.sorted_indices).tolist() == [1, 0, 2] == arr(q.unsorted_indices).tolist()
    padded, lens = R.pad_packed_sequence(q)
    assert arr(padded).tolist() == [[10, 0, 20], [11, 1, 0], [0, 2, 0]]
    assert arr(lens).tolist() == [2, 3, 1] and lens.dtype is tg.int64
    padded, _ = R.pad_packed_sequence(p, batch_first=True, total_length=5, padding_value=9)
    assert arr(padded).tolist() == [[0, 1, 2, 9, 9], [10, 11, 9, 9, 9], [20, 9, 9, 9, 9]]
    assert [arr(s).tolist() for s in R.unpack_sequence(q)] == [[10, 11], [0, 1, 2], [20]]
    un = R.unpad_sequence(R.pad_sequence([a, b, c]), tg.tensor([3, 2, 1]))
    assert [arr(s).tolist() for s in un] == [[0, 1, 2], [10, 11], [20]]
    ties = R.pack_padded_sequence(tg.zeros(4, 3, 2), [2, 4, 2], enforce_sorted=False)
    assert arr(ties.sorted_indices).tolist() == [1, 0, 2]  # a stable sort
    assert arr(ties.batch_sizes).tolist() == [3, 3, 1, 1]
    bf = R.pack_padded_sequence(tg.zeros(4, 3, 2), tg.tensor([3.0, 2, 2, 1]), batch_first=True)
    assert arr(bf.batch_sizes).tolist() == [4, 3, 1]
    ps = R.PackedSequence(tg.ones(3), tg.tensor([2, 1]), tg.tensor([1, 0]))
    assert arr(ps.unsorted_indices).tolist() == [1, 0]


def test_pack_gradient_and_bad_input():
    x = RNG.standard_normal((4, 3, 2))
    lens = [2, 4, 1]

    def roundtrip(v):
        packed = R.pack_padded_sequence(v, lens, enforce_sorted=False)
        return R.pad_packed_sequence(packed, padding_value=0.5)[0] * 2 + packed.data.sum()

    fd_check(roundtrip, [x])
    xs = t64(x)
    with pytest.raises(RuntimeError, match=r"must be sorted in decreasing order"):
        R.pack_padded_sequence(xs, [2, 4, 1])
    with pytest.raises(RuntimeError, match=r"Expected `len\(lengths\)` to be equal to batch_size"
                                           r", but got 2 \(batch_size=3\)"):
        R.pack_padded_sequence(xs, [4, 3])
    with pytest.raises(RuntimeError, match="Length of all samples has to be greater than 0"):
        R.pack_padded_sequence(xs, [4, 3, 0])
    with pytest.raises(RuntimeError, match="exceeds the padded length"):
        R.pack_padded_sequence(xs, [5, 3, 1])
    with pytest.raises(ValueError, match="Expected total_length to be at least"):
        R.pad_packed_sequence(R.pack_padded_sequence(xs, [4, 3, 1]), total_length=2)


@pytest.mark.parametrize("cls,kw", [("RNN", {}), ("LSTM", dict(num_layers=2, bidirectional=True)),
                                    ("GRU", dict(batch_first=True, bidirectional=True))])
def test_recurrent_layers_on_packed_input_equal_per_sequence_runs(cls, kw):
    tg.manual_seed(1)
    m = getattr(nn, cls)(3, 4, **kw).double()
    lens = [5, 2, 4]
    seqs = [t64(RNG.standard_normal((n, 3))) for n in lens]
    packed = R.pack_sequence(seqs, enforce_sorted=False)
    out, h = m(packed)
    assert isinstance(out, R.PackedSequence)
    assert arr(out.batch_sizes).tolist() == arr(packed.batch_sizes).tolist()
    padded, got_lens = R.pad_packed_sequence(out, batch_first=m.batch_first)
    hs = h[0] if cls == "LSTM" else h
    for i, s in enumerate(seqs):
        o1, h1 = m(s.unsqueeze(0) if m.batch_first else s.unsqueeze(1))
        h1 = h1[0] if cls == "LSTM" else h1
        oi = padded[i] if m.batch_first else padded[:, i]
        np.testing.assert_allclose(arr(oi)[:lens[i]], arr(o1.squeeze(0 if m.batch_first else 1)),
                                   atol=1e-12)
        np.testing.assert_allclose(arr(oi)[lens[i]:], 0.0)
        np.testing.assert_allclose(arr(hs[:, i]), arr(h1[:, 0]), atol=1e-12)
    (out.data.sum() + hs.sum()).backward()
    assert all(p.grad is not None for p in m.parameters())


# ---- against PyTorch ----------------------------------------------------------------------
@pytest.fixture
def torch_ref():
    return pytest.importorskip("torch")


def _copy_into(a, b, torch):
    b.load_state_dict({k: torch.tensor(arr(v)) for k, v in a.state_dict().items()})


FUNCTIONS = [
    ("prelu", lambda F_: (lambda x, w: F_.prelu(x, w)), [(2, 3, 4, 5), (3,)]),
    ("pixel_shuffle", lambda F_: (lambda x: F_.pixel_shuffle(x, 2)), [(2, 8, 3, 4)]),
    ("pixel_unshuffle", lambda F_: (lambda x: F_.pixel_unshuffle(x, 2)), [(2, 2, 4, 6)]),
    ("adaptive_max_pool2d", lambda F_: (lambda x: F_.adaptive_max_pool2d(x, (3, 2), True)),
     [(2, 3, 7, 5)]),
    ("adaptive_max_pool1d", lambda F_: (lambda x: F_.adaptive_max_pool1d(x, 4, True)), [(2, 3, 9)]),
    ("unfold", lambda F_: (lambda x: F_.unfold(x, (2, 3), dilation=(2, 1), padding=1, stride=2)),
     [(2, 3, 7, 6)]),
    ("fold", lambda F_: (lambda x: F_.fold(x, (5, 6), 2, padding=1, stride=2)), [(2, 8, 12)]),
    ("local_response_norm", lambda F_: (lambda x: F_.local_response_norm(x, 3, 0.1, 0.7, 2.0)),
     [(2, 5, 3, 4)]),
    ("triplet_margin_loss", lambda F_: (lambda a, p, n: F_.triplet_margin_loss(
        a, p, n, margin=1.5, p=1.5, swap=True, reduction="sum")), [(6, 4)] * 3),
    ("glu", lambda F_: (lambda x: F_.glu(x, 1)), [(3, 6, 2)]),
    ("pad reflect", lambda F_: (lambda x: F_.pad(x, (2, 1, 1, 2), mode="reflect")), [(2, 3, 4, 5)]),
]


@pytest.mark.torch
@pytest.mark.parametrize("name,build,shapes", FUNCTIONS, ids=[f[0] for f in FUNCTIONS])
def test_functions_match_torch(torch_ref, name, build, shapes):
    torch = torch_ref
    vals = [RNG.standard_normal(s) for s in shapes]
    ta = [t64(v, True) for v in vals]
    tb = [torch.tensor(v, requires_grad=True) for v in vals]
    ya, yb = build(F)(*ta), build(torch.nn.functional)(*tb)
    if isinstance(yb, tuple):
        np.testing.assert_array_equal(arr(ya[1]), yb[1].numpy())
        ya, yb = ya[0], yb[0]
    np.testing.assert_allclose(arr(ya), yb.detach().numpy(), rtol=1e-12, atol=1e-12)
    g = RNG.standard_normal(tuple(yb.shape))
    (ya * t64(g)).sum().backward()
    (yb * torch.tensor(g)).sum().backward()
    for a, b in zip(ta, tb):
        np.testing.assert_allclose(arr(a.grad), b.grad.numpy(), rtol=1e-10, atol=1e-12)


MODULES = [
    ("InstanceNorm2d affine", lambda nn_: nn_.InstanceNorm2d(3, affine=True), (2, 3, 4, 5)),
    ("InstanceNorm1d stats", lambda nn_: nn_.InstanceNorm1d(3, affine=True,
                                                            track_running_stats=True), (4, 3, 6)),
    ("InstanceNorm1d unbatched", lambda nn_: nn_.InstanceNorm1d(3), (3, 6)),
    ("PReLU", lambda nn_: nn_.PReLU(3), (2, 3, 4)),
    ("ZeroPad2d", lambda nn_: nn_.ZeroPad2d((1, 2, 0, 1)), (2, 3, 4)),
    ("ReplicationPad2d", lambda nn_: nn_.ReplicationPad2d((1, 2, 0, 3)), (2, 3, 4, 4)),
    ("ReflectionPad1d", lambda nn_: nn_.ReflectionPad1d(2), (2, 3, 4)),
    ("ConstantPad1d", lambda nn_: nn_.ConstantPad1d((2, 0), 1.5), (2, 3)),
    ("LocalResponseNorm", lambda nn_: nn_.LocalResponseNorm(2), (2, 4, 3)),
    ("Softmax2d", lambda nn_: nn_.Softmax2d(), (2, 3, 2, 2)),
    ("Threshold", lambda nn_: nn_.Threshold(0.2, -3.0), (3, 4)),
]


@pytest.mark.torch
@pytest.mark.parametrize("name,build,shape", MODULES, ids=[m[0] for m in MODULES])
def test_modules_match_torch(torch_ref, name, build, shape):
    torch = torch_ref
    a, b = build(nn).double(), build(torch.nn).double()
    for p in a.parameters():
        with tg.no_grad():
            p.copy_(t64(RNG.standard_normal(p.shape)))
    _copy_into(a, b, torch)
    assert repr(a) == repr(b)
    for _ in range(2):  # twice: running statistics carried over
        x = RNG.standard_normal(shape)
        xa, xb = t64(x, True), torch.tensor(x, requires_grad=True)
        ya, yb = a(xa), b(xb)
        np.testing.assert_allclose(arr(ya), yb.detach().numpy(), rtol=1e-10, atol=1e-12)
        g = RNG.standard_normal(shape if "Pad" not in name else tuple(yb.shape))
        (ya * t64(g)).sum().backward()
        (yb * torch.tensor(g)).sum().backward()
        np.testing.assert_allclose(arr(xa.grad), xb.grad.numpy(), rtol=1e-10, atol=1e-12)
    for (k, v), (k2, w) in zip(a.state_dict().items(), b.state_dict().items()):
        assert k == k2
        np.testing.assert_allclose(arr(v), w.numpy(), rtol=1e-12)
    for (k, p), (_, q) in zip(a.named_parameters(), b.named_parameters()):
        np.testing.assert_allclose(arr(p.grad), q.grad.numpy(), rtol=1e-10, atol=1e-12)
    a.eval(), b.eval()
    x = RNG.standard_normal(shape)
    np.testing.assert_allclose(arr(a(t64(x))), b(torch.tensor(x)).detach().numpy(), atol=1e-12)


@pytest.mark.torch
def test_transformer_encoder_matches_torch(torch_ref):
    torch = torch_ref
    kw = dict(d_model=8, nhead=2, dim_feedforward=16, dropout=0.0)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        a = nn.TransformerEncoder(nn.TransformerEncoderLayer(**kw), 2, norm=nn.LayerNorm(8))
        b = torch.nn.TransformerEncoder(torch.nn.TransformerEncoderLayer(**kw), 2,
                                        norm=torch.nn.LayerNorm(8))
    a.double(), b.double()
    for p in a.parameters():
        with tg.no_grad():
            p.copy_(t64(RNG.standard_normal(p.shape) * 0.3))
    _copy_into(a, b, torch)
    x = RNG.standard_normal((5, 2, 8))
    mask = np.triu(np.ones((5, 5), bool), 1)
    kpm = np.array([[False] * 5, [False] * 3 + [True] * 2])
    xa, xb = t64(x, True), torch.tensor(x, requires_grad=True)
    ya = a(xa, mask=tg.tensor(mask), src_key_padding_mask=tg.tensor(kpm))
    yb = b(xb, mask=torch.tensor(mask), src_key_padding_mask=torch.tensor(kpm))
    np.testing.assert_allclose(arr(ya), yb.detach().numpy(), atol=1e-10)
    ya.pow(2).sum().backward()
    yb.pow(2).sum().backward()
    np.testing.assert_allclose(arr(xa.grad), xb.grad.numpy(), atol=1e-10)
    for (k, p), (_, q) in zip(a.named_parameters(), b.named_parameters()):
        np.testing.assert_allclose(arr(p.grad), q.grad.numpy(), atol=1e-10, err_msg=k)


@pytest.mark.torch
def test_rnn_utils_and_packed_recurrent_layers_match_torch(torch_ref):
    torch = torch_ref
    TR = torch.nn.utils.rnn
    seqs = [RNG.standard_normal((n, 2)) for n in (3, 5, 1, 5)]
    A, B = [t64(s, True) for s in seqs], [torch.tensor(s, requires_grad=True) for s in seqs]
    for kw in [{}, dict(batch_first=True, padding_value=-1.0, padding_side="left")]:
        np.testing.assert_array_equal(arr(R.pad_sequence(A, **kw)),
                                      TR.pad_sequence(B, **kw).detach().numpy())
    pa, pb = R.pack_sequence(A, enforce_sorted=False), TR.pack_sequence(B, enforce_sorted=False)
    for x, y in zip(pa, pb):
        np.testing.assert_array_equal(arr(x), y.detach().numpy())
    for kw in [{}, dict(batch_first=True, padding_value=3.0, total_length=7)]:
        for x, y in zip(R.pad_packed_sequence(pa, **kw), TR.pad_packed_sequence(pb, **kw)):
            np.testing.assert_array_equal(arr(x), y.detach().numpy())
    x = RNG.standard_normal((6, 4, 3))
    for cls, kw in [("RNN", dict(nonlinearity="relu")), ("LSTM", dict(num_layers=2)),
                    ("GRU", dict(batch_first=True, bidirectional=True))]:
        a, b = getattr(nn, cls)(3, 4, **kw).double(), getattr(torch.nn, cls)(3, 4, **kw).double()
        _copy_into(a, b, torch)
        xx = x.transpose(1, 0, 2).copy() if a.batch_first else x
        xa, xb = t64(xx, True), torch.tensor(xx, requires_grad=True)
        lens = [6, 2, 5, 3]
        oa, ha = a(R.pack_padded_sequence(xa, lens, a.batch_first, enforce_sorted=False))
        ob, hb = b(TR.pack_padded_sequence(xb, lens, b.batch_first, enforce_sorted=False))
        np.testing.assert_allclose(arr(oa.data), ob.data.detach().numpy(), atol=1e-12)
        ha, hb = (ha[1], hb[1]) if cls == "LSTM" else (ha, hb)
        np.testing.assert_allclose(arr(ha), hb.detach().numpy(), atol=1e-12)
        (oa.data.sum() + ha.pow(2).sum()).backward()
        (ob.data.sum() + hb.pow(2).sum()).backward()
        np.testing.assert_allclose(arr(xa.grad), xb.grad.numpy(), atol=1e-12)
        for (k, p), (_, q) in zip(a.named_parameters(), b.named_parameters()):
            np.testing.assert_allclose(arr(p.grad), q.grad.numpy(), atol=1e-12, err_msg=k)


BAD = [
    lambda t, F_, nn_: F_.triplet_margin_loss(t.randn(3, 4), t.randn(3, 4), t.randn(4)),
    lambda t, F_, nn_: F_.pixel_shuffle(t.randn(3, 4), 2),
    lambda t, F_, nn_: F_.pixel_unshuffle(t.randn(1, 1, 5, 4), 2),
    lambda t, F_, nn_: F_.adaptive_max_pool2d(t.randn(3, 4), 2),
    lambda t, F_, nn_: F_.adaptive_max_pool1d(t.randn(1, 1, 2, 2), 2),
    lambda t, F_, nn_: F_.adaptive_max_pool2d(t.ones(1, 4, 4, dtype=t.int64), 2),
    lambda t, F_, nn_: F_.adaptive_max_pool2d(t.ones(1, 4, 4), (1, 2, 3)),
    lambda t, F_, nn_: nn_.Softmax2d()(t.randn(3, 4)),
    lambda t, F_, nn_: nn_.LocalResponseNorm(2)(t.randn(3, 4)),
    lambda t, F_, nn_: nn_.PReLU(3)(t.randn(2, 4)),
    lambda t, F_, nn_: nn_.InstanceNorm1d(3)(t.randn(2, 3, 4, 5)),
    lambda t, F_, nn_: nn_.InstanceNorm2d(3, affine=True)(t.randn(2, 4, 4, 5)),
    lambda t, F_, nn_: F_.unfold(t.randn(1, 1, 1, 3, 3), 2),
    lambda t, F_, nn_: F_.unfold(t.randn(3, 4), 2),
    lambda t, F_, nn_: F_.unfold(t.ones(1, 1, 3, 3, dtype=t.int64), 2),
    lambda t, F_, nn_: F_.fold(t.randn(1, 5, 4), (3, 3), 2),
    lambda t, F_, nn_: F_.fold(t.randn(1, 4, 4, 1), (3, 3), 2),
    lambda t, F_, nn_: nn_.ReflectionPad2d(1)(t.randn(3, 4)),
    lambda t, F_, nn_: nn_.GLU()(t.randn(3, 5)),
    lambda t, F_, nn_: nn_.TripletMarginLoss(margin=0),
    lambda t, F_, nn_: nn_.utils.rnn.pack_padded_sequence(t.randn(4, 3, 2), [4, 3]),
    lambda t, F_, nn_: nn_.utils.rnn.pack_padded_sequence(t.randn(4, 3, 2), [1, 3, 4]),
    lambda t, F_, nn_: nn_.utils.rnn.pad_sequence([]),
    lambda t, F_, nn_: nn_.utils.rnn.pad_packed_sequence(
        nn_.utils.rnn.pack_sequence([t.ones(3), t.ones(1)]), total_length=2),
]


@pytest.mark.torch
@pytest.mark.parametrize("k", range(len(BAD)))
def test_bad_input_raises_the_torch_class(torch_ref, k):
    torch = torch_ref
    with pytest.raises(Exception) as want:
        BAD[k](torch, torch.nn.functional, torch.nn)
    with pytest.raises(want.type):
        BAD[k](tg, F, nn)
