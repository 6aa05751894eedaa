"""F.interpolate and nn.Upsample."""

import numpy as np
import pytest

import tapegrad as tg
import tapegrad.nn as nn
import tapegrad.nn.functional as F
from tapegrad.autograd.gradcheck import gradcheck

RNG = np.random.default_rng(77)


def test_nearest_fixed_values():
    x = tg.tensor([[[1.0, 2.0, 3.0]]])
    np.testing.assert_array_equal(F.interpolate(x, scale_factor=2).numpy(),
                                  [[[1, 1, 2, 2, 3, 3]]])
    np.testing.assert_array_equal(F.interpolate(x, size=2).numpy(), [[[1, 2]]])
    np.testing.assert_array_equal(F.interpolate(x, size=5, mode="nearest-exact").numpy(),
                                  [[[1, 1, 2, 3, 3]]])
    x2 = tg.tensor(np.arange(4.0).reshape(1, 1, 2, 2))
    np.testing.assert_array_equal(F.interpolate(x2, size=(2, 3)).numpy()[0, 0],
                                  [[0, 0, 1], [2, 2, 3]])


def test_bilinear_fixed_values():
    x = tg.tensor(np.array([[[[0.0, 1.0], [2.0, 3.0]]]]))
    up = F.interpolate(x, scale_factor=2, mode="bilinear").numpy()[0, 0]
    np.testing.assert_allclose(up[0], [0, 0.25, 0.75, 1.0])
    np.testing.assert_allclose(up[:, 0], [0, 0.5, 1.5, 2.0])
    ac = F.interpolate(x, size=3, mode="bilinear", align_corners=True).numpy()[0, 0]
    np.testing.assert_allclose(ac, [[0, 0.5, 1], [1, 1.5, 2], [2, 2.5, 3]])
    lin = F.interpolate(tg.tensor([[[0.0, 4.0]]]), size=5, mode="linear", align_corners=True)
    np.testing.assert_allclose(lin.numpy(), [[[0, 1, 2, 3, 4]]])
    area = F.interpolate(tg.tensor([[[1.0, 3.0, 5.0, 7.0]]]), size=2, mode="area")
    np.testing.assert_allclose(area.numpy(), [[[2.0, 6.0]]])


@pytest.mark.parametrize("kw", [
    dict(scale_factor=2), dict(size=(3, 5)), dict(scale_factor=1.5, mode="nearest-exact"),
    dict(scale_factor=2, mode="bilinear"), dict(size=(3, 5), mode="bilinear", align_corners=True),
    dict(scale_factor=(0.7, 1.6), mode="bilinear"), dict(size=(2, 2), mode="area"),
])
def test_interpolate_4d_gradcheck(kw):
    x = tg.tensor(RNG.standard_normal((2, 2, 4, 3)), requires_grad=True)
    assert gradcheck(lambda x: F.interpolate(x, **kw), (x,))


def test_nearest_gradient_counts_copies():
    x = tg.tensor([[[1.0, 2.0, 3.0]]], requires_grad=True)
    F.interpolate(x, size=7).sum().backward()
    np.testing.assert_array_equal(x.grad.numpy(), [[[3, 2, 2]]])


def test_interpolate_3d_gradcheck():
    x = tg.tensor(RNG.standard_normal((2, 3, 5)), requires_grad=True)
    assert gradcheck(lambda x: F.interpolate(x, scale_factor=1.7, mode="linear"), (x,))
    assert gradcheck(lambda x: F.interpolate(x, size=8), (x,))


def test_upsample_modules():
    x = tg.randn(1, 2, 3, 4)
    m = nn.Upsample(scale_factor=2, mode="bilinear")
    assert repr(m) == "Upsample(scale_factor=2.0, mode='bilinear')"
    assert m(x).shape == (1, 2, 6, 8)
    assert nn.Upsample(size=(5, 5))(x).shape == (1, 2, 5, 5)
    b = nn.UpsamplingBilinear2d(scale_factor=2)(x)
    np.testing.assert_allclose(b.numpy(), F.interpolate(x, scale_factor=2, mode="bilinear",
                                                        align_corners=True).numpy())
    assert nn.UpsamplingNearest2d(size=6)(x).shape == (1, 2, 6, 6)
    assert list(m.parameters()) == []


def test_interpolate_errors():
    x = tg.randn(1, 2, 3, 4)
    with pytest.raises(ValueError, match="only one of size or scale_factor"):
        F.interpolate(x, size=2, scale_factor=2)
    with pytest.raises(ValueError, match="either size or scale_factor"):
        F.interpolate(x)
    with pytest.raises(ValueError, match="align_corners option can only be set"):
        F.interpolate(x, scale_factor=2, align_corners=True)
    with pytest.raises(NotImplementedError, match="bilinear mode needs 4D input"):
        F.interpolate(tg.randn(1, 2, 3), scale_factor=2, mode="bilinear")
    with pytest.raises(NotImplementedError, match="'bicubic' is not supported"):
        F.interpolate(x, scale_factor=2, mode="bicubic")
    with pytest.raises(ValueError, match="same number of spatial dimensions"):
        F.interpolate(x, size=(2, 3, 4))
    with pytest.raises(RuntimeError, match="output sizes should be greater than 0"):
        F.interpolate(x, scale_factor=0.1)


@pytest.mark.torch
@pytest.mark.parametrize("dtype,tol", [(np.float64, 1e-12), (np.float32, 2e-6)])
@pytest.mark.parametrize("shape,kw", [
    ((2, 3, 5, 7), dict(scale_factor=2)), ((2, 3, 5, 7), dict(size=(8, 3))),
    ((2, 3, 5, 7), dict(scale_factor=1.7)), ((2, 3, 5, 7), dict(scale_factor=(0.6, 2.3))),
    ((2, 3, 9), dict(size=4)), ((2, 3, 9), dict(scale_factor=2.2)),
    ((2, 3, 5, 7), dict(scale_factor=2, mode="bilinear")),
    ((2, 3, 5, 7), dict(size=(8, 3), mode="bilinear", align_corners=True)),
    ((2, 3, 5, 7), dict(scale_factor=1.7, mode="bilinear", align_corners=False)),
    ((2, 3, 5, 7), dict(scale_factor=1.7, mode="bilinear", recompute_scale_factor=True)),
    ((2, 3, 9), dict(scale_factor=2.5, mode="linear", align_corners=True)),
    ((2, 3, 5, 7), dict(scale_factor=1.7, mode="nearest-exact")),
    ((2, 3, 5, 7), dict(size=(3, 4), mode="area")),
])
def test_interpolate_vs_torch(dtype, tol, shape, kw):
    torch_ref = pytest.importorskip("torch")
    x = RNG.standard_normal(shape).astype(dtype)
    xt, xg = torch_ref.tensor(x, requires_grad=True), tg.tensor(x, requires_grad=True)
    yt = torch_ref.nn.functional.interpolate(xt, **kw)
    yg = F.interpolate(xg, **kw)
    assert tuple(yg.shape) == tuple(yt.shape)
    np.testing.assert_allclose(yg.detach().numpy(), yt.detach().numpy(), rtol=tol, atol=tol)
    up = RNG.standard_normal(tuple(yt.shape)).astype(dtype)
    (yt * torch_ref.tensor(up)).sum().backward()
    (yg * tg.tensor(up)).sum().backward()
    np.testing.assert_allclose(xg.grad.numpy(), xt.grad.numpy(), rtol=tol * 5, atol=tol * 5)


@pytest.mark.torch
def test_upsample_module_vs_torch():
    torch_ref = pytest.importorskip("torch")
    x = RNG.standard_normal((1, 2, 4, 4))
    for args in (dict(scale_factor=3), dict(size=(5, 7), mode="bilinear", align_corners=True)):
        a = nn.Upsample(**args)(tg.tensor(x)).numpy()
        b = torch_ref.nn.Upsample(**args)(torch_ref.tensor(x)).numpy()
        np.testing.assert_allclose(a, b, rtol=1e-12, atol=1e-12)
