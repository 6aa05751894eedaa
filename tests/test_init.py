"""nn.init: gains and fans by hand, the distributions checked statistically over many
samples, in-place and untracked writes, reproducibility under manual_seed."""

import math
import warnings

import numpy as np
import pytest

import tapegrad as tg
import tapegrad.nn as nn
from tapegrad.nn import init


def arr(t):
    return np.array(t.detach())  # a copy (np.asarray would share, and expose, the storage)


def test_calculate_gain():
    assert init.calculate_gain("linear") == 1 and init.calculate_gain("conv2d") == 1
    assert init.calculate_gain("sigmoid") == 1
    assert init.calculate_gain("tanh") == pytest.approx(5 / 3)
    assert init.calculate_gain("relu") == pytest.approx(math.sqrt(2))
    assert init.calculate_gain("leaky_relu") == pytest.approx(math.sqrt(2 / (1 + 0.01 ** 2)))
    assert init.calculate_gain("leaky_relu", 0.2) == pytest.approx(math.sqrt(2 / 1.04))
    assert init.calculate_gain("leaky_relu", math.sqrt(5)) == pytest.approx(math.sqrt(1 / 3))
    assert init.calculate_gain("selu") == 0.75
    with pytest.raises(ValueError, match="Unsupported nonlinearity gelu"):
        init.calculate_gain("gelu")
    with pytest.raises(ValueError, match="negative_slope True not a valid number"):
        init.calculate_gain("leaky_relu", True)


def test_fans():
    assert init._calculate_fan_in_and_fan_out(tg.empty(3, 5)) == (5, 3)
    assert init._calculate_fan_in_and_fan_out(tg.empty(4, 2, 3, 3)) == (18, 36)
    with pytest.raises(ValueError, match="fewer than 2 dimensions"):
        init._calculate_fan_in_and_fan_out(tg.empty(3))
    with pytest.raises(ValueError, match=r"Mode fan_avg not supported, please use one of "
                                         r"\['fan_in', 'fan_out'\]"):
        init.kaiming_uniform_(tg.empty(2, 2), mode="fan_avg")


N = 400  # 400 x 500 = 200,000 samples per distribution


def _uniform_ok(v, bound):
    """Samples of U(-bound, bound): bounds, and mean / std within 6 standard errors."""
    n = v.size
    assert np.abs(v).max() <= bound
    assert abs(v.mean()) < 6 * bound / math.sqrt(3 * n)
    assert v.std() == pytest.approx(bound / math.sqrt(3), rel=6 * math.sqrt(0.2 / n))
    assert v.min() < -0.99 * bound and v.max() > 0.99 * bound


def _normal_ok(v, std, mean=0.0):
    """Samples of N(mean, std^2): mean / std within 6 standard errors, normal kurtosis."""
    n = v.size
    assert abs(v.mean() - mean) < 6 * std / math.sqrt(n)
    assert v.std() == pytest.approx(std, rel=6 * math.sqrt(0.5 / n))
    z = (v - mean) / std
    assert abs(np.mean(z ** 4) - 3) < 0.1  # normal kurtosis, not uniform's 1.8


def test_uniform_normal_constant():
    tg.manual_seed(0)
    t = tg.empty(N, 500)
    assert init.uniform_(t, -2.0, 3.0) is t
    v = arr(t)
    assert v.min() >= -2.0 and v.max() < 3.0 and v.mean() == pytest.approx(0.5, abs=0.02)
    _normal_ok(arr(init.normal_(t, 1.5, 0.3)), 0.3, 1.5)
    assert np.all(arr(init.constant_(t, 0.25)) == 0.25)
    assert np.all(arr(init.ones_(t)) == 1) and np.all(arr(init.zeros_(t)) == 0)


def test_xavier_and_kaiming():
    tg.manual_seed(1)
    w = tg.empty(N, 500)  # fan_out 400, fan_in 500
    _uniform_ok(arr(init.xavier_uniform_(w, gain=2.0)), 2.0 * math.sqrt(6 / 900))
    _normal_ok(arr(init.xavier_normal_(w)), math.sqrt(2 / 900))
    _uniform_ok(arr(init.kaiming_uniform_(w, nonlinearity="relu")), math.sqrt(6 / 500))
    _uniform_ok(arr(init.kaiming_uniform_(w, a=math.sqrt(5))), 1 / math.sqrt(500))
    _normal_ok(arr(init.kaiming_normal_(w, mode="fan_out", nonlinearity="relu")),
               math.sqrt(2 / 400))
    _normal_ok(arr(init.kaiming_normal_(w, a=0.1)), math.sqrt(2 / 1.01 / 500))
    conv = tg.empty(64, 16, 3, 3)  # fan_in 144
    _uniform_ok(arr(init.kaiming_uniform_(conv, nonlinearity="linear")), math.sqrt(3 / 144))
    with pytest.warns(UserWarning, match="Initializing zero-element tensors is a no-op"):
        init.kaiming_uniform_(tg.empty(0, 3))


def test_trunc_normal():
    tg.manual_seed(2)
    t = init.trunc_normal_(tg.empty(N, 500))
    v = arr(t)
    assert v.min() >= -2.0 and v.max() <= 2.0 and abs(v.mean()) < 0.01
    # std of N(0, 1) truncated to [-2, 2]: sqrt(1 - 4 phi(2) / (2 Phi(2) - 1))
    phi2 = math.exp(-2) / math.sqrt(2 * math.pi)
    want = math.sqrt(1 - 4 * phi2 / math.erf(2 / math.sqrt(2)))
    assert v.std() == pytest.approx(want, rel=0.01)
    v = arr(init.trunc_normal_(t, mean=1.0, std=0.1, a=0.9, b=1.3))
    assert v.min() >= 0.9 and v.max() <= 1.3 and v.mean() > 1.0
    with pytest.warns(UserWarning, match="mean is more than 2 std from"):
        init.trunc_normal_(tg.empty(3), mean=10.0)


def test_eye_dirac_orthogonal_sparse():
    assert arr(init.eye_(tg.empty(2, 3))).tolist() == [[1, 0, 0], [0, 1, 0]]
    with pytest.raises(ValueError, match="Only tensors with 2 dimensions are supported"):
        init.eye_(tg.empty(2, 2, 2))
    d = arr(init.dirac_(tg.empty(2, 2, 3)))
    assert d[0, 0, 1] == 1 and d[1, 1, 1] == 1 and d.sum() == 2
    tg.manual_seed(3)
    for shape in ((6, 4), (4, 6), (3, 2, 2)):
        q = arr(init.orthogonal_(tg.empty(*shape), gain=2.0)).reshape(shape[0], -1)
        small = q @ q.T if q.shape[0] <= q.shape[1] else q.T @ q
        assert np.allclose(small, 4 * np.eye(min(q.shape)), atol=1e-5)
    with pytest.raises(ValueError, match="Only tensors with 2 or more dimensions"):
        init.orthogonal_(tg.empty(3))
    s = arr(init.sparse_(tg.empty(10, 50), sparsity=0.3))
    assert np.all((s == 0).sum(0) >= 3)


def test_reproducible_and_generator():
    tg.manual_seed(7)
    a = arr(init.kaiming_normal_(tg.empty(20, 10)))
    tg.manual_seed(7)
    b = arr(init.kaiming_normal_(tg.empty(20, 10)))
    assert np.array_equal(a, b)
    g1, g2 = tg.Generator().manual_seed(5), tg.Generator().manual_seed(5)
    c = arr(init.xavier_uniform_(tg.empty(20, 10), generator=g1))
    d = arr(init.xavier_uniform_(tg.empty(20, 10), generator=g2))
    assert np.array_equal(c, d) and not np.array_equal(a, c)
    tg.manual_seed(7)
    l1 = nn.Linear(10, 20)
    tg.manual_seed(7)
    l2 = nn.Linear(10, 20)
    assert np.array_equal(arr(l1.weight), arr(l2.weight))
    assert np.array_equal(arr(l1.bias), arr(l2.bias))


def test_in_place_untracked_on_parameters():
    lin = nn.Linear(3, 2)
    w = lin.weight
    x = tg.ones(1, 3)
    lin(x).sum().backward()  # the weight is on the tape now
    v0 = w._version
    assert init.zeros_(w) is w and w.requires_grad and w.is_leaf and w.grad_fn is None
    assert w._version == v0 + 1
    assert np.allclose(arr(lin(x)), arr(lin.bias))  # the next forward reads the new value
    init.normal_(w)
    assert np.allclose(arr(lin(x)), arr(w).sum(1) + arr(lin.bias), atol=1e-6)
    assert w.dtype is tg.float32


def test_deprecated_aliases_warn():
    with pytest.warns(FutureWarning, match="`nn.init.xavier_uniform` is now deprecated in "
                                           "favor of `nn.init.xavier_uniform_`"):
        init.xavier_uniform(tg.empty(2, 2))
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        init.xavier_uniform_(tg.empty(2, 2))


def test_float64_and_dtype_kept():
    t = tg.empty(N, 500, dtype=tg.float64)
    tg.manual_seed(4)
    _normal_ok(arr(init.normal_(t, 0.0, 2.0)), 2.0)
    assert t.dtype is tg.float64
    assert init.orthogonal_(t).dtype is tg.float64
