"""Conv and pooling: F.conv1d/conv2d, max/avg/adaptive pools and their modules."""

import math

import numpy as np
import pytest

import tapegrad as tg
import tapegrad.nn as nn
import tapegrad.nn.functional as F
from tapegrad.autograd.gradcheck import gradcheck

RNG = np.random.default_rng(1234)


def _naive_conv2d(x, w, b, stride, pad, dil, groups):
    """Reference loops in NumPy (zero padding)."""
    N, C, H, W = x.shape
    O, Cg, kh, kw = w.shape
    xp = np.pad(x, ((0, 0), (0, 0), (pad[0], pad[0]), (pad[1], pad[1])))
    Ho = (H + 2 * pad[0] - dil[0] * (kh - 1) - 1) // stride[0] + 1
    Wo = (W + 2 * pad[1] - dil[1] * (kw - 1) - 1) // stride[1] + 1
    out = np.zeros((N, O, Ho, Wo))
    og = O // groups
    for o in range(O):
        g = o // og
        for i in range(Ho):
            for j in range(Wo):
                r, c = i * stride[0], j * stride[1]
                patch = xp[:, g * Cg:(g + 1) * Cg, r:r + dil[0] * (kh - 1) + 1:dil[0],
                           c:c + dil[1] * (kw - 1) + 1:dil[1]]
                out[:, o, i, j] = (patch * w[o]).sum(axis=(1, 2, 3))
    return out + (0 if b is None else b[None, :, None, None])


def _naive_max_pool2d(x, k, s, p):
    N, C, H, W = x.shape
    xp = np.pad(x, ((0, 0), (0, 0), (p, p), (p, p)), constant_values=-np.inf)
    Ho, Wo = (H + 2 * p - k) // s + 1, (W + 2 * p - k) // s + 1
    out = np.empty((N, C, Ho, Wo))
    for i in range(Ho):
        for j in range(Wo):
            out[:, :, i, j] = xp[:, :, i * s:i * s + k, j * s:j * s + k].max(axis=(2, 3))
    return out


CONV2D_CASES = [
    dict(stride=1, padding=0, dilation=1, groups=1),
    dict(stride=2, padding=1, dilation=1, groups=1),
    dict(stride=(1, 2), padding=(2, 1), dilation=(2, 1), groups=1),
    dict(stride=1, padding=1, dilation=1, groups=2),
    dict(stride=2, padding=0, dilation=2, groups=4),
]


@pytest.mark.parametrize("kw", CONV2D_CASES)
def test_conv2d_matches_naive_loops(kw):
    x = RNG.standard_normal((2, 4, 7, 6))
    w = RNG.standard_normal((4, 4 // kw["groups"], 3, 2))
    b = RNG.standard_normal(4)
    y = F.conv2d(tg.tensor(x), tg.tensor(w), tg.tensor(b), **kw)
    two = lambda v: v if isinstance(v, tuple) else (v, v)  # noqa: E731
    ref = _naive_conv2d(x, w, b, two(kw["stride"]), two(kw["padding"]), two(kw["dilation"]),
                        kw["groups"])
    np.testing.assert_allclose(y.numpy(), ref, rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("kw", CONV2D_CASES[:4])
def test_conv2d_gradcheck(kw):
    x = tg.tensor(RNG.standard_normal((1, 4, 5, 5)), requires_grad=True)
    w = tg.tensor(RNG.standard_normal((2, 4 // kw["groups"], 3, 2)), requires_grad=True)
    b = tg.tensor(RNG.standard_normal(2), requires_grad=True)
    assert gradcheck(lambda x, w, b: F.conv2d(x, w, b, **kw), (x, w, b))


def test_conv1d_and_same_padding_gradcheck():
    x = tg.tensor(RNG.standard_normal((2, 2, 7)), requires_grad=True)
    w = tg.tensor(RNG.standard_normal((4, 1, 4)), requires_grad=True)
    assert gradcheck(lambda x, w: F.conv1d(x, w, padding="same", dilation=2, groups=2), (x, w))
    x2 = tg.tensor(RNG.standard_normal((1, 2, 5, 4)), requires_grad=True)
    w2 = tg.tensor(RNG.standard_normal((3, 2, 2, 3)), requires_grad=True)
    y = F.conv2d(x2, w2, padding="same")
    assert y.shape == (1, 3, 5, 4)
    assert gradcheck(lambda x, w: F.conv2d(x, w, padding="same"), (x2, w2))


def test_conv_unbatched_and_1d_as_2d():
    x = RNG.standard_normal((3, 9))
    w = RNG.standard_normal((5, 3, 3))
    y1 = F.conv1d(tg.tensor(x), tg.tensor(w), stride=2, padding=1)
    y2 = F.conv2d(tg.tensor(x[None, :, None, :]), tg.tensor(w[:, :, None, :]), stride=(1, 2),
                  padding=(0, 1))
    assert y1.shape == (5, 5)
    np.testing.assert_allclose(y1.numpy(), y2.numpy()[0, :, 0], rtol=1e-12)


def test_conv_errors():
    w = tg.randn(6, 3, 5, 5)
    with pytest.raises(RuntimeError, match=r"Given groups=1, weight of size \[6, 3, 5, 5\], "
                       r"expected input\[1, 4, 32, 32\] to have 3 channels, but got 4 "
                       r"channels instead"):
        F.conv2d(tg.randn(1, 4, 32, 32), w)
    with pytest.raises(RuntimeError, match="Expected 3D .unbatched. or 4D"):
        F.conv2d(tg.randn(2, 3), w)
    with pytest.raises(RuntimeError, match="Kernel size can't be greater"):
        F.conv2d(tg.randn(1, 3, 2, 2), w)
    with pytest.raises(RuntimeError, match="expected bias to be 1-dimensional with 6"):
        F.conv2d(tg.randn(1, 3, 8, 8), w, tg.randn(5))
    with pytest.raises(RuntimeError, match="should be the same"):
        F.conv2d(tg.randn(1, 3, 8, 8), w.double())
    with pytest.raises(RuntimeError, match="not supported for strided"):
        F.conv2d(tg.randn(1, 3, 8, 8), w, padding="same", stride=2)
    with pytest.raises(RuntimeError, match="non-positive stride"):
        F.conv2d(tg.randn(1, 3, 8, 8), w, stride=0)
    with pytest.raises(RuntimeError, match="divisible by 2 at dimension 0"):
        F.conv2d(tg.randn(1, 6, 8, 8), tg.randn(5, 3, 3, 3), groups=2)
    with pytest.raises(ValueError, match="in_channels must be divisible by groups"):
        nn.Conv2d(3, 6, 3, groups=2)
    with pytest.raises(ValueError, match="Invalid padding string"):
        nn.Conv2d(3, 6, 3, padding="full")


def test_max_pool2d_values_indices_and_grad():
    x = tg.tensor([[[[1., 5., 2., 0.], [3., 4., 9., 8.], [7., 6., 1., 1.],
                     [0., 2., 3., 4.]]]], requires_grad=True)
    y, idx = F.max_pool2d(x, 2, return_indices=True)
    np.testing.assert_array_equal(y.detach().numpy(), [[[[5., 9.], [7., 4.]]]])
    np.testing.assert_array_equal(idx.numpy(), [[[[1, 6], [8, 15]]]])
    y.sum().backward()
    g = np.zeros(16)
    g[[1, 6, 8, 15]] = 1
    np.testing.assert_array_equal(x.grad.numpy().reshape(-1), g)
    # ties: the first maximum of the window gets the gradient; padding counts as -inf
    t = tg.tensor([[[[-1., -1.], [-1., -1.]]]], requires_grad=True)
    y, idx = F.max_pool2d(t, 2, stride=1, padding=1, return_indices=True)
    np.testing.assert_array_equal(y.detach().numpy(), -np.ones((1, 1, 3, 3)))
    np.testing.assert_array_equal(idx.numpy()[0, 0], [[0, 0, 1], [0, 0, 1], [2, 2, 3]])


@pytest.mark.parametrize("k,s,p", [(2, 2, 0), (3, 2, 1), (3, 1, 1)])
def test_max_pool2d_matches_naive_and_gradcheck(k, s, p):
    x = RNG.permutation(2 * 3 * 6 * 5).reshape(2, 3, 6, 5) / 7.0  # distinct values: no ties
    np.testing.assert_array_equal(F.max_pool2d(tg.tensor(x), k, s, p).numpy(),
                                  _naive_max_pool2d(x, k, s, p))
    xt = tg.tensor(x, requires_grad=True)
    assert gradcheck(lambda a: F.max_pool2d(a, k, s, p), (xt,), eps=1e-6)


def test_pool_output_sizes_ceil_mode_and_1d():
    x = tg.randn(1, 2, 7, 7)
    assert F.max_pool2d(x, 2).shape == (1, 2, 3, 3)
    assert F.max_pool2d(x, 2, ceil_mode=True).shape == (1, 2, 4, 4)
    assert F.avg_pool2d(x, 3, 2, 1, ceil_mode=True).shape == (1, 2, 4, 4)
    assert F.max_pool2d(x, 3, 2, 1, dilation=2).shape == (1, 2, 3, 3)  # (7+2-4-1)//2+1
    v = tg.tensor([[1., 3., 2., 5., 4.]])
    np.testing.assert_array_equal(F.max_pool1d(v, 2, ceil_mode=True).numpy(), [[3., 5., 4.]])
    np.testing.assert_allclose(F.avg_pool1d(v, 2, ceil_mode=True).numpy(), [[2., 3.5, 4.]])
    np.testing.assert_allclose(F.avg_pool1d(v, 3, 2, 1).numpy(), [[4 / 3, 10 / 3, 3.]])
    np.testing.assert_allclose(F.avg_pool1d(v, 3, 2, 1, count_include_pad=False).numpy(),
                               [[2., 10 / 3, 4.5]])
    with pytest.raises(RuntimeError, match="pad should be at most half"):
        F.max_pool2d(x, 3, padding=2)
    with pytest.raises(RuntimeError, match="Output size is too small"):
        F.max_pool2d(tg.randn(1, 3, 2, 2), 3)


def test_avg_pool2d_values_and_gradcheck():
    x = np.arange(16.).reshape(1, 1, 4, 4)
    np.testing.assert_allclose(F.avg_pool2d(tg.tensor(x), 2).numpy(),
                               [[[[2.5, 4.5], [10.5, 12.5]]]])
    y = F.avg_pool2d(tg.tensor(x), 3, 2, 1)
    assert y[0, 0, 0, 0].item() == pytest.approx((0 + 1 + 4 + 5) / 9)
    y = F.avg_pool2d(tg.tensor(x), 3, 2, 1, count_include_pad=False)
    assert y[0, 0, 0, 0].item() == pytest.approx((0 + 1 + 4 + 5) / 4)
    y = F.avg_pool2d(tg.tensor(x), 2, divisor_override=3)
    assert y[0, 0, 0, 0].item() == pytest.approx(10 / 3)
    xt = tg.tensor(RNG.standard_normal((2, 2, 5, 6)), requires_grad=True)
    assert gradcheck(lambda a: F.avg_pool2d(a, (3, 2), 2, 1, ceil_mode=True,
                                            count_include_pad=False), (xt,))


def test_adaptive_avg_pool_formula_and_gradcheck():
    x = RNG.standard_normal((2, 3, 7, 5))
    y = F.adaptive_avg_pool2d(tg.tensor(x), (3, 2)).numpy()
    for i in range(3):
        for j in range(2):
            a, b = (i * 7) // 3, math.ceil((i + 1) * 7 / 3)
            c, d = (j * 5) // 2, math.ceil((j + 1) * 5 / 2)
            np.testing.assert_allclose(y[:, :, i, j], x[:, :, a:b, c:d].mean(axis=(2, 3)),
                                       rtol=1e-12)
    np.testing.assert_allclose(F.adaptive_avg_pool2d(tg.tensor(x), 1).numpy(),
                               x.mean(axis=(2, 3), keepdims=True), rtol=1e-12)
    assert F.adaptive_avg_pool2d(tg.tensor(x), (None, 4)).shape == (2, 3, 7, 4)
    assert F.adaptive_avg_pool1d(tg.tensor(x[0]), 3).shape == (3, 7, 3)
    xt = tg.tensor(x[:1, :1], requires_grad=True)
    assert gradcheck(lambda a: F.adaptive_avg_pool2d(a, (4, 3)), (xt,))


def test_module_reprs():
    assert repr(nn.Conv2d(3, 6, 5)) == "Conv2d(3, 6, kernel_size=(5, 5), stride=(1, 1))"
    assert repr(nn.Conv2d(3, 6, (3, 5), stride=2, padding=1, dilation=2, groups=3,
                          bias=False, padding_mode="reflect")) == (
        "Conv2d(3, 6, kernel_size=(3, 5), stride=(2, 2), padding=(1, 1), dilation=(2, 2), "
        "groups=3, bias=False, padding_mode=reflect)")
    assert repr(nn.Conv2d(3, 6, 3, padding="same")) == (
        "Conv2d(3, 6, kernel_size=(3, 3), stride=(1, 1), padding=same)")
    assert repr(nn.Conv1d(3, 6, 3)) == "Conv1d(3, 6, kernel_size=(3,), stride=(1,))"
    assert repr(nn.MaxPool2d(2, 2)) == (
        "MaxPool2d(kernel_size=2, stride=2, padding=0, dilation=1, ceil_mode=False)")
    assert repr(nn.MaxPool1d(3)) == (
        "MaxPool1d(kernel_size=3, stride=3, padding=0, dilation=1, ceil_mode=False)")
    assert repr(nn.AvgPool2d(2)) == "AvgPool2d(kernel_size=2, stride=2, padding=0)"
    assert repr(nn.AvgPool1d(3)) == "AvgPool1d(kernel_size=(3,), stride=(3,), padding=(0,))"
    assert repr(nn.AdaptiveAvgPool2d((1, 1))) == "AdaptiveAvgPool2d(output_size=(1, 1))"


def test_conv_module_init_and_forward():
    tg.manual_seed(0)
    c = nn.Conv2d(4, 6, 3, groups=2)
    assert c.weight.shape == (6, 2, 3, 3) and c.bias.shape == (6,)
    bound = 1 / math.sqrt(2 * 9)  # kaiming_uniform_(a=sqrt(5)) and the bias share it
    assert np.abs(c.weight.detach().numpy()).max() <= bound
    assert np.abs(c.bias.detach().numpy()).max() <= bound
    assert np.abs(c.weight.detach().numpy()).max() > 0.8 * bound
    y = c(tg.randn(2, 4, 5, 5))
    assert y.shape == (2, 6, 3, 3)
    y.sum().backward()
    assert c.weight.grad.shape == c.weight.shape
    x = np.arange(12.).reshape(1, 1, 3, 4)
    r = nn.Conv2d(1, 1, 3, padding=1, padding_mode="replicate", bias=False, dtype=tg.float64)
    with tg.no_grad():
        r.weight.fill_(1.0)
    ref = np.pad(x, ((0, 0), (0, 0), (1, 1), (1, 1)), mode="edge")
    np.testing.assert_allclose(r(tg.tensor(x)).detach().numpy(),
                               _naive_conv2d(ref, np.ones((1, 1, 3, 3)), None, (1, 1),
                                             (0, 0), (1, 1), 1))


# ---------------------------------------------------------------- comparisons with PyTorch

@pytest.fixture
def torch_ref():
    return pytest.importorskip("torch")


def _compare(torch_ref, fn_name, arrays, dtype, kw, tol):
    ts = [torch_ref.tensor(a.astype(dtype), requires_grad=True) for a in arrays]
    gs = [tg.tensor(a.astype(dtype), requires_grad=True) for a in arrays]
    yt = getattr(torch_ref.nn.functional, fn_name)(*ts, **kw)
    yg = getattr(F, fn_name)(*gs, **kw)
    if isinstance(yt, tuple):
        np.testing.assert_array_equal(yg[1].numpy(), yt[1].numpy())
        yt, yg = yt[0], yg[0]
    assert tuple(yg.shape) == tuple(yt.shape)
    np.testing.assert_allclose(yg.detach().numpy(), yt.detach().numpy(), rtol=tol, atol=tol)
    up = RNG.standard_normal(tuple(yt.shape)).astype(dtype)
    (yt * torch_ref.tensor(up)).sum().backward()
    (yg * tg.tensor(up)).sum().backward()
    for a, b in zip(gs, ts):
        np.testing.assert_allclose(a.grad.numpy(), b.grad.numpy(), rtol=tol, atol=tol)


DTYPES = [(np.float32, 1e-4), (np.float64, 1e-10)]


@pytest.mark.torch
@pytest.mark.parametrize("dtype,tol", DTYPES)
@pytest.mark.parametrize("kw", CONV2D_CASES + [dict(padding="same", dilation=2, groups=2),
                                               dict(padding="valid", stride=3)])
def test_conv2d_vs_torch(torch_ref, dtype, tol, kw):
    g = kw.get("groups", 1)
    arrays = [RNG.standard_normal((2, 4, 9, 8)), RNG.standard_normal((6 if g != 4 else 4,
                                                                      4 // g, 3, 2)), None]
    arrays[2] = RNG.standard_normal(arrays[1].shape[0])
    _compare(torch_ref, "conv2d", arrays, dtype, kw, tol)


@pytest.mark.torch
@pytest.mark.filterwarnings("ignore:Using padding='same'")
@pytest.mark.parametrize("dtype,tol", DTYPES)
@pytest.mark.parametrize("kw", [dict(), dict(stride=2, padding=3, groups=2),
                                dict(padding="same", dilation=3)])
def test_conv1d_vs_torch(torch_ref, dtype, tol, kw):
    g = kw.get("groups", 1)
    _compare(torch_ref, "conv1d",
             [RNG.standard_normal((2, 4, 11)), RNG.standard_normal((6, 4 // g, 4))], dtype, kw,
             tol)


POOL_CASES = [
    ("max_pool2d", (2, 3, 9, 8), dict(kernel_size=2)),
    ("max_pool2d", (2, 3, 9, 8), dict(kernel_size=3, stride=2, padding=1,
                                      return_indices=True)),
    ("max_pool2d", (3, 9, 8), dict(kernel_size=(3, 2), stride=(2, 1), padding=(1, 1),
                                   dilation=(2, 1), ceil_mode=True)),
    ("max_pool1d", (2, 3, 11), dict(kernel_size=4, stride=3, padding=2, ceil_mode=True,
                                    return_indices=True)),
    ("avg_pool2d", (2, 3, 9, 8), dict(kernel_size=2)),
    ("avg_pool2d", (2, 3, 9, 8), dict(kernel_size=3, stride=2, padding=1, ceil_mode=True,
                                      count_include_pad=False)),
    ("avg_pool2d", (3, 9, 8), dict(kernel_size=(3, 2), stride=2, padding=1, ceil_mode=True)),
    ("avg_pool2d", (2, 3, 9, 8), dict(kernel_size=3, padding=1, divisor_override=5)),
    ("avg_pool1d", (2, 3, 11), dict(kernel_size=4, stride=3, padding=2, ceil_mode=True)),
    ("adaptive_avg_pool2d", (2, 3, 9, 8), dict(output_size=(4, 7))),
    ("adaptive_avg_pool2d", (3, 9, 8), dict(output_size=(None, 3))),
    ("adaptive_avg_pool2d", (2, 3, 9, 8), dict(output_size=1)),
    ("adaptive_avg_pool1d", (2, 3, 11), dict(output_size=4)),
]


@pytest.mark.torch
@pytest.mark.parametrize("dtype,tol", DTYPES)
@pytest.mark.parametrize("name,shape,kw", POOL_CASES)
def test_pools_vs_torch(torch_ref, dtype, tol, name, shape, kw):
    _compare(torch_ref, name, [RNG.standard_normal(shape)], dtype, kw, tol)


def _lenet(m):
    nn_, F_ = m.nn, m.nn.functional

    class Net(nn_.Module):
        def __init__(self):
            super().__init__()
            self.conv1 = nn_.Conv2d(3, 6, 5)
            self.pool = nn_.MaxPool2d(2, 2)
            self.conv2 = nn_.Conv2d(6, 16, 5)
            self.fc1 = nn_.Linear(16 * 5 * 5, 120)
            self.fc2 = nn_.Linear(120, 84)
            self.fc3 = nn_.Linear(84, 10)

        def forward(self, x):
            x = self.pool(F_.relu(self.conv1(x)))
            x = self.pool(F_.relu(self.conv2(x)))
            x = m.flatten(x, 1)
            x = F_.relu(self.fc1(x))
            x = F_.relu(self.fc2(x))
            return self.fc3(x)

    return Net()


@pytest.mark.torch
def test_lenet_cifar_tutorial_vs_torch(torch_ref):
    tn, gn = _lenet(torch_ref), _lenet(tg)
    for (ka, a), (kb, b) in zip(tn.named_parameters(), gn.named_parameters()):
        assert ka == kb and tuple(a.shape) == tuple(b.shape)
        with tg.no_grad():
            b.copy_(tg.tensor(a.detach().numpy()))
    x = RNG.standard_normal((4, 3, 32, 32)).astype(np.float32)
    y = np.array([3, 8, 8, 0])
    lt = torch_ref.nn.CrossEntropyLoss()(tn(torch_ref.tensor(x)), torch_ref.tensor(y))
    lg = nn.CrossEntropyLoss()(gn(tg.tensor(x)), tg.tensor(y))
    lt.backward()
    lg.backward()
    assert lg.item() == pytest.approx(lt.item(), rel=1e-5)
    for (k, a), (_, b) in zip(tn.named_parameters(), gn.named_parameters()):
        np.testing.assert_allclose(b.grad.numpy(), a.grad.numpy(), rtol=1e-4, atol=1e-6,
                                   err_msg=k)
