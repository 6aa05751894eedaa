"""F.conv_transpose1d/2d and nn.ConvTranspose1d/2d."""

import math

import numpy as np
import pytest

import tapegrad as tg
import tapegrad.nn as nn
import tapegrad.nn.functional as F
from tapegrad.autograd.gradcheck import gradcheck

RNG = np.random.default_rng(4321)


def _naive_conv_transpose2d(x, w, b, stride, pad, outpad, groups, dil):
    """Scatter loops in NumPy: every input element spreads weight * value over the output."""
    N, C, H, W = x.shape
    _, Og, kh, kw = w.shape
    Ho = (H - 1) * stride[0] - 2 * pad[0] + dil[0] * (kh - 1) + outpad[0] + 1
    Wo = (W - 1) * stride[1] - 2 * pad[1] + dil[1] * (kw - 1) + outpad[1] + 1
    full = np.zeros((N, Og * groups, Ho + 2 * pad[0] + kh * dil[0], Wo + 2 * pad[1] + kw * dil[1]))
    cg = C // groups
    for c in range(C):
        g = c // cg
        for i in range(H):
            for j in range(W):
                for a in range(kh):
                    for e in range(kw):
                        r, s = i * stride[0] + a * dil[0], j * stride[1] + e * dil[1]
                        full[:, g * Og:(g + 1) * Og, r, s] += x[:, c, i, j][:, None] * w[c, :, a, e]
    y = full[:, :, pad[0]:pad[0] + Ho, pad[1]:pad[1] + Wo]
    return y + (0 if b is None else b[None, :, None, None])


CASES = [
    dict(stride=1, padding=0, output_padding=0, groups=1, dilation=1),
    dict(stride=2, padding=1, output_padding=1, groups=1, dilation=1),
    dict(stride=(2, 3), padding=(1, 0), output_padding=(1, 2), groups=2, dilation=(1, 2)),
    dict(stride=3, padding=2, output_padding=0, groups=4, dilation=2),
]


def _two(v):
    return v if isinstance(v, tuple) else (v, v)


@pytest.mark.parametrize("kw", CASES)
def test_conv_transpose2d_matches_naive_loops(kw):
    g = kw["groups"]
    x = RNG.standard_normal((2, 4, 5, 4))
    w = RNG.standard_normal((4, 6 // g if g != 4 else 2, 3, 2))
    b = RNG.standard_normal(w.shape[1] * g)
    y = F.conv_transpose2d(tg.tensor(x), tg.tensor(w), tg.tensor(b), **kw)
    ref = _naive_conv_transpose2d(x, w, b, _two(kw["stride"]), _two(kw["padding"]),
                                  _two(kw["output_padding"]), g, _two(kw["dilation"]))
    assert y.shape == ref.shape
    np.testing.assert_allclose(y.numpy(), ref, rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("kw", CASES[:3])
def test_conv_transpose2d_gradcheck(kw):
    g = kw["groups"]
    x = tg.tensor(RNG.standard_normal((1, 4, 3, 3)), requires_grad=True)
    w = tg.tensor(RNG.standard_normal((4, 2, 2, 3)), requires_grad=True)
    b = tg.tensor(RNG.standard_normal(2 * g), requires_grad=True)
    assert gradcheck(lambda x, w, b: F.conv_transpose2d(x, w, b, **kw), (x, w, b))


def test_conv_transpose1d_gradcheck_and_unbatched():
    x = tg.tensor(RNG.standard_normal((2, 4, 5)), requires_grad=True)
    w = tg.tensor(RNG.standard_normal((4, 3, 3)), requires_grad=True)
    assert gradcheck(lambda x, w: F.conv_transpose1d(x, w, stride=2, padding=1, groups=2,
                                                     output_padding=1), (x, w))
    y1 = F.conv_transpose1d(x[0], w, stride=2)
    y2 = F.conv_transpose2d(x[0][:, None, :], w[:, :, None, :], stride=(1, 2))
    assert y1.shape == (3, 11)
    np.testing.assert_allclose(y1.detach().numpy(), y2.detach().numpy()[:, 0], rtol=1e-12)


def test_conv_transpose_is_adjoint_of_conv():
    """<conv(x), y> == <x, conv_transpose(y)> for the same stride/padding/dilation/groups."""
    x = RNG.standard_normal((2, 4, 9, 8))
    w = RNG.standard_normal((6, 2, 3, 3))
    kw = dict(stride=2, padding=1, dilation=1, groups=2)
    cx = F.conv2d(tg.tensor(x), tg.tensor(w), **kw).numpy()
    y = RNG.standard_normal(cx.shape)
    # output_padding gives back the column the stride's remainder leaves out (W: 7 -> 8)
    ty = F.conv_transpose2d(tg.tensor(y), tg.tensor(w), output_padding=(0, 1), **kw).numpy()
    assert ty.shape == x.shape
    np.testing.assert_allclose((cx * y).sum(), (x * ty).sum(), rtol=1e-11)


def test_module_shapes_init_and_output_size():
    tg.manual_seed(0)
    m = nn.ConvTranspose2d(4, 6, 3, stride=2, padding=1, output_padding=1, groups=2)
    assert m.weight.shape == (4, 3, 3, 3) and m.bias.shape == (6,)
    bound = 1 / math.sqrt(3 * 9)  # fan_in = out/groups * kh * kw
    assert float(m.weight.abs().max()) <= bound and float(m.bias.abs().max()) <= bound
    assert m.transposed and m.output_padding == (1, 1)
    assert repr(m) == ("ConvTranspose2d(4, 6, kernel_size=(3, 3), stride=(2, 2), "
                       "padding=(1, 1), output_padding=(1, 1), groups=2)")
    x = tg.randn(2, 4, 5, 5)
    assert m(x).shape == (2, 6, 10, 10)
    m0 = nn.ConvTranspose2d(4, 6, 3, stride=2, padding=1)
    assert m0(x).shape == (2, 6, 9, 9)
    assert m0(x, output_size=[10, 10]).shape == (2, 6, 10, 10)
    assert m0(x, output_size=(2, 6, 9, 10)).shape == (2, 6, 9, 10)
    with pytest.raises(ValueError, match="valid sizes range from"):
        m0(x, output_size=[11, 9])
    m1 = nn.ConvTranspose1d(3, 2, 4, bias=False)
    assert m1.weight.shape == (3, 2, 4) and m1.bias is None
    assert m1(tg.randn(3, 7)).shape == (2, 10)


def test_conv_transpose_errors():
    w = tg.randn(4, 3, 3, 3)
    with pytest.raises(RuntimeError, match=r"Given transposed=1, weight of size \[4, 3, 3, 3\], "
                       r"expected input\[1, 3, 5, 5\] to have 4 channels, but got 3"):
        F.conv_transpose2d(tg.randn(1, 3, 5, 5), w)
    with pytest.raises(RuntimeError, match="output padding must be smaller than"):
        F.conv_transpose2d(tg.randn(1, 4, 5, 5), w, output_padding=1)
    with pytest.raises(RuntimeError, match="expected bias to be 1-dimensional with 3"):
        F.conv_transpose2d(tg.randn(1, 4, 5, 5), w, tg.randn(4))
    with pytest.raises(RuntimeError, match="Output size is too small"):
        F.conv_transpose2d(tg.randn(1, 4, 1, 1), w, padding=2)
    with pytest.raises(RuntimeError, match="Expected 3D .unbatched. or 4D"):
        F.conv_transpose2d(tg.randn(4, 5), w)
    with pytest.raises(ValueError, match='Only "zeros" padding mode'):
        nn.ConvTranspose2d(3, 4, 3, padding_mode="reflect")


@pytest.fixture
def torch_ref():
    return pytest.importorskip("torch")


@pytest.mark.torch
@pytest.mark.parametrize("dtype,tol", [(np.float64, 1e-12), (np.float32, 2e-5)])
@pytest.mark.parametrize("kw", CASES)
def test_conv_transpose2d_module_vs_torch(torch_ref, dtype, tol, kw):
    g = kw["groups"]
    out_ch = 6 if g != 4 else 8
    tm = torch_ref.nn.ConvTranspose2d(4, out_ch, (3, 2), **kw)
    m = nn.ConvTranspose2d(4, out_ch, (3, 2), **kw)
    if dtype == np.float64:
        tm, m = tm.double(), m.double()
    with tg.no_grad():
        m.weight.copy_(tg.tensor(tm.weight.detach().numpy()))
        m.bias.copy_(tg.tensor(tm.bias.detach().numpy()))
    x = RNG.standard_normal((2, 4, 5, 4)).astype(dtype)
    xt, xg = torch_ref.tensor(x, requires_grad=True), tg.tensor(x, requires_grad=True)
    yt, yg = tm(xt), m(xg)
    np.testing.assert_allclose(yg.detach().numpy(), yt.detach().numpy(), rtol=tol, atol=tol)
    up = RNG.standard_normal(tuple(yt.shape)).astype(dtype)
    (yt * torch_ref.tensor(up)).sum().backward()
    (yg * tg.tensor(up)).sum().backward()
    for a, b in ((xg.grad, xt.grad), (m.weight.grad, tm.weight.grad),
                 (m.bias.grad, tm.bias.grad)):
        np.testing.assert_allclose(a.numpy(), b.numpy(), rtol=tol * 10, atol=tol * 10)


@pytest.mark.torch
def test_conv_transpose1d_vs_torch(torch_ref):
    x, w, b = (RNG.standard_normal(s) for s in ((2, 4, 6), (4, 3, 3), (6,)))
    kw = dict(stride=3, padding=1, output_padding=2, groups=2, dilation=2)
    yt = torch_ref.nn.functional.conv_transpose1d(*map(torch_ref.tensor, (x, w, b)), **kw)
    yg = F.conv_transpose1d(*map(tg.tensor, (x, w, b)), **kw)
    np.testing.assert_allclose(yg.numpy(), yt.numpy(), rtol=1e-12, atol=1e-12)
