"""Activations and layers of tapegrad.nn.functional: values against NumPy formulas,
gradients against finite differences (float64), in-place forms, PyTorch's errors, record
counts, and (marked torch) values and gradients against PyTorch."""

import math
import warnings

import numpy as np
import pytest

import tapegrad as tg
import tapegrad.nn.functional as F
from tapegrad.tape import current, recording
from tests.fdcheck import fd_check, t64

RNG = np.random.default_rng(11)


def _away_from(x, kinks, gap=0.05):
    for k in kinks:
        near = np.abs(x - k) < gap
        x = np.where(near, k + np.sign(x - k + 1e-9) * 2 * gap, x)
    return x


KINKS = (0.0, 1.0, -1.0, 3.0, -3.0, 6.0, 0.5, -0.5, 2.0, -2.0)
XA = _away_from(RNG.uniform(-7, 7, (3, 8)), KINKS)


def _sig(x):
    return 1 / (1 + np.exp(-x))


def _softplus(x, beta=1.0, th=20.0):
    return np.where(beta * x > th, x, np.log1p(np.exp(beta * x)) / beta)


_erf = np.vectorize(math.erf)
SELU_A, SELU_S = 1.6732632423543772, 1.0507009873554805
# name -> (tapegrad call, NumPy reference)
ACTIVATIONS = {
    "relu": (F.relu, lambda x: np.maximum(x, 0)),
    "sigmoid": (F.sigmoid, _sig),
    "tanh": (F.tanh, np.tanh),
    "leaky_relu": (lambda x: F.leaky_relu(x, 0.2), lambda x: np.where(x > 0, x, 0.2 * x)),
    "elu": (lambda x: F.elu(x, 0.7), lambda x: np.where(x > 0, x, 0.7 * np.expm1(x))),
    "selu": (F.selu, lambda x: SELU_S * np.where(x > 0, x, SELU_A * np.expm1(x))),
    "celu": (lambda x: F.celu(x, 1.5), lambda x: np.maximum(x, 0)
             + np.minimum(0, 1.5 * np.expm1(x / 1.5))),
    "gelu": (F.gelu, lambda x: 0.5 * x * (1 + _erf(x / math.sqrt(2)))),
    "gelu_tanh": (lambda x: F.gelu(x, approximate="tanh"), lambda x: 0.5 * x * (1 + np.tanh(
        math.sqrt(2 / math.pi) * (x + 0.044715 * x ** 3)))),
    "silu": (F.silu, lambda x: x * _sig(x)),
    "mish": (F.mish, lambda x: x * np.tanh(_softplus(x))),
    "softplus": (lambda x: F.softplus(x, 2.0, 5.0), lambda x: _softplus(x, 2.0, 5.0)),
    "hardtanh": (lambda x: F.hardtanh(x, -2.0, 3.0), lambda x: np.clip(x, -2, 3)),
    "relu6": (F.relu6, lambda x: np.clip(x, 0, 6)),
    "logsigmoid": (F.logsigmoid, lambda x: -np.logaddexp(0, -x)),
    "hardsigmoid": (F.hardsigmoid, lambda x: np.clip(x / 6 + 0.5, 0, 1)),
    "hardswish": (F.hardswish, lambda x: x * np.clip(x / 6 + 0.5, 0, 1)),
    "tanhshrink": (F.tanhshrink, lambda x: x - np.tanh(x)),
    "softsign": (F.softsign, lambda x: x / (1 + np.abs(x))),
    "threshold": (lambda x: F.threshold(x, 0.5, -2.0), lambda x: np.where(x > 0.5, x, -2.0)),
    "hardshrink": (F.hardshrink, lambda x: np.where(np.abs(x) > 0.5, x, 0)),
    "softshrink": (F.softshrink, lambda x: np.where(x > 0.5, x - 0.5,
                                                    np.where(x < -0.5, x + 0.5, 0))),
    "softmax": (lambda x: F.softmax(x, 1), lambda x: np.exp(x) / np.exp(x).sum(1,
                                                                               keepdims=True)),
    "log_softmax": (lambda x: F.log_softmax(x, -1), lambda x: x - np.log(np.exp(x).sum(
        -1, keepdims=True))),
    "softmin": (lambda x: F.softmin(x, 0), lambda x: np.exp(-x) / np.exp(-x).sum(
        0, keepdims=True)),
    "glu": (lambda x: F.glu(x, 1), lambda x: x[:, :4] * _sig(x[:, 4:])),
}


@pytest.mark.parametrize("name", sorted(ACTIVATIONS))
def test_activation_values_and_gradients(name):
    fn, ref = ACTIVATIONS[name]
    np.testing.assert_allclose(fn(t64(XA)).numpy(), ref(XA), rtol=1e-12, atol=1e-14)
    np.testing.assert_allclose(fn(tg.tensor(XA, dtype=tg.float32)).numpy(), ref(XA),
                               rtol=2e-6, atol=1e-6)
    fd_check(fn, [XA])


def test_gradients_at_kinks():
    x = t64([-1.0, 0.0, 1.0, 6.0, -3.0, 3.0], True)
    for fn, want in ((F.relu, [0, 0, 1, 1, 0, 1]), (F.relu6, [0, 0, 1, 0, 0, 1]),
                     (F.hardtanh, [0, 1, 0, 0, 0, 0]),
                     (lambda v: F.threshold(v, 1.0, 0.0), [0, 0, 0, 1, 0, 1])):
        fn(x).sum().backward()
        np.testing.assert_array_equal(x.grad.numpy(), want)
        x.grad = None


def test_softmax_family_is_one_record_each():
    x = tg.randn(4, 6, requires_grad=True)
    with recording() as tape:
        y = x * 1.0
        for fn in (F.softmax, F.log_softmax):
            n0 = tape.nrecords
            fn(y, 1)
            assert tape.nrecords - n0 == 1
        with pytest.warns(UserWarning, match="Implicit dimension choice for softmax"):
            F.softmax(y)


@pytest.mark.parametrize("name", ["relu", "relu6", "hardtanh", "leaky_relu", "elu", "selu",
                                  "celu", "silu", "mish", "hardsigmoid", "hardswish"])
def test_inplace_activations(name):
    fn = getattr(F, name)
    ref = fn(t64(XA)).numpy()
    a = t64(XA, True)
    y = a * 1.0
    out = fn(y, inplace=True)
    assert out is y
    np.testing.assert_allclose(y.detach().numpy(), ref)
    (y * y).sum().backward()
    z = t64(XA, True)
    (fn(z) ** 2).sum().backward()
    np.testing.assert_allclose(a.grad.numpy(), z.grad.numpy())
    plain = t64(XA)
    assert fn(plain, inplace=True) is plain
    np.testing.assert_allclose(plain.numpy(), ref)
    with pytest.raises(RuntimeError, match="a leaf Variable that requires grad is being used in "
                                           "an in-place operation."):
        fn(t64(XA, True), inplace=True)


def test_underscore_forms():
    for fn, args, ref in ((F.relu_, (), np.maximum(XA, 0)),
                          (F.elu_, (0.5,), np.where(XA > 0, XA, 0.5 * np.expm1(XA))),
                          (F.leaky_relu_, (0.1,), np.where(XA > 0, XA, 0.1 * XA)),
                          (F.hardtanh_, (-1.0, 2.0), np.clip(XA, -1, 2)),
                          (F.threshold_, (1.0, 5.0), np.where(XA > 1, XA, 5.0)),
                          (F.selu_, (), SELU_S * np.where(XA > 0, XA, SELU_A * np.expm1(XA))),
                          (F.celu_, (2.0,), np.maximum(XA, 0) + np.minimum(0, 2 * np.expm1(
                              XA / 2)))):
        x = t64(XA)
        assert fn(x, *args) is x
        np.testing.assert_allclose(x.numpy(), ref, rtol=1e-12)


def test_inplace_relu_after_an_op_that_saved_its_output_raises_at_backward():
    a = t64([0.5, -1.0], True)
    y = a.sigmoid()  # SigmoidBackward0 saves its output
    z = y - 0.6
    F.relu_(z)  # fine: sub saved nothing
    z.sum().backward()
    s = 1 / (1 + math.exp(-0.5))
    np.testing.assert_allclose(a.grad.numpy(), [s * (1 - s), 0.0])  # sigmoid(-1) - 0.6 < 0
    a.grad = None
    y = a.exp()  # saves y
    F.relu_(y)
    with pytest.raises(RuntimeError, match="modified by an inplace operation"):
        y.sum().backward()


def test_linear_and_bilinear():
    x, w, b = RNG.standard_normal((3, 4)), RNG.standard_normal((2, 4)), RNG.standard_normal(2)
    np.testing.assert_allclose(F.linear(t64(x), t64(w), t64(b)).numpy(), x @ w.T + b)
    fd_check(lambda p, q, r: F.linear(p, q, r), [x, w, b])
    x1, x2 = RNG.standard_normal((2, 3, 4)), RNG.standard_normal((2, 3, 5))
    wb, bb = RNG.standard_normal((6, 4, 5)), RNG.standard_normal(6)
    ref = np.einsum("...i,oij,...j->...o", x1, wb, x2) + bb
    np.testing.assert_allclose(F.bilinear(t64(x1), t64(x2), t64(wb), t64(bb)).numpy(), ref)
    fd_check(F.bilinear, [x1[0, :2], x2[0, :2], wb[:2], bb[:2]])
    with pytest.raises(RuntimeError, match="bilinear\\(\\): input2 size does not match weight "
                                           "size: got 5 but expected 4"):
        F.bilinear(t64(x1), t64(x2), t64(wb[:, :, :4]))
    with pytest.raises(RuntimeError, match="input batch dimensions do not match at dim 0"):
        F.bilinear(t64(x1[0]), t64(x2[:, 0]), t64(wb))


# ---- dropout ------------------------------------------------------------------------------
def test_dropout():
    x = tg.ones(200, 50, requires_grad=True)
    tg.manual_seed(0)
    y = F.dropout(x, 0.3)
    v = y.detach().numpy()
    assert set(np.unique(v)) <= {0.0, np.float32(1 / 0.7)}
    assert abs((v == 0).mean() - 0.3) < 0.02
    y.sum().backward()
    np.testing.assert_array_equal(x.grad.numpy(), v)  # the gradient is the mask / (1 - p)
    tg.manual_seed(0)
    np.testing.assert_array_equal(F.dropout(x, 0.3).detach().numpy(), v)  # the seed decides
    assert F.dropout(x, 0.3, training=False) is x
    np.testing.assert_array_equal(F.dropout(x, 1.0).detach().numpy(), np.zeros((200, 50)))
    np.testing.assert_array_equal(F.dropout(x, 0.0).detach().numpy(), np.ones((200, 50)))
    for p in (1.5, -0.1):
        with pytest.raises(ValueError, match=f"dropout probability has to be between 0 and 1, "
                                             f"but got {p}"):
            F.dropout(x, p)
    z = tg.ones(10)
    assert F.dropout(z, 0.5, inplace=True) is z and set(z.numpy()) <= {0.0, 2.0}
    with pytest.raises(RuntimeError, match="leaf Variable that requires grad"):
        F.dropout(x, 0.5, inplace=True)


def test_channel_dropout():
    tg.manual_seed(1)
    x = tg.ones(8, 16, 5, 5)
    v = F.dropout2d(x, 0.5).numpy()
    per = v.reshape(8, 16, -1)
    assert (per.min(2) == per.max(2)).all()  # whole channels
    assert set(np.unique(v)) == {0.0, 2.0}
    v1 = F.dropout1d(tg.ones(4, 16, 7), 0.5).numpy()
    assert (v1.min(2) == v1.max(2)).all()
    v3 = F.dropout3d(tg.ones(2, 8, 2, 2, 2), 0.5).numpy().reshape(2, 8, -1)
    assert (v3.min(2) == v3.max(2)).all()
    with pytest.warns(UserWarning, match="Received a 3D input to dropout2d"):
        F.dropout2d(tg.ones(2, 3, 4))
    with pytest.raises(RuntimeError, match="dropout1d: Expected 2D or 3D input, but received a "
                                           "1D input."):
        F.dropout1d(tg.ones(3))


# ---- embedding, one_hot ---------------------------------------------------------------
def test_embedding():
    w = RNG.standard_normal((6, 3))
    idx = np.array([[0, 2, 2], [5, 0, 1]])
    W = t64(w, True)
    out = F.embedding(tg.tensor(idx), W, padding_idx=0)
    np.testing.assert_array_equal(out.detach().numpy(), w[idx])
    out.sum().backward()
    counts = np.bincount(idx.ravel(), minlength=6)[:, None] * np.ones(3)
    counts[0] = 0  # the padding row gets no gradient
    np.testing.assert_array_equal(W.grad.numpy(), counts)
    W.grad = None
    F.embedding(tg.tensor(idx, dtype=tg.int32), W, scale_grad_by_freq=True).sum().backward()
    seen = np.bincount(idx.ravel(), minlength=6) > 0  # each row's gradient / its count
    np.testing.assert_array_equal(W.grad.numpy(), seen[:, None] * np.ones(3))
    np.testing.assert_array_equal(F.embedding(tg.tensor(3), t64(w)).numpy(), w[3])
    fd_check(lambda q: F.embedding(tg.tensor(idx), q), [w])


def test_embedding_max_norm_renormalizes_in_place():
    w = np.array([[3.0, 4.0], [0.3, 0.4], [6.0, 8.0]])
    W = t64(w, True)
    out = F.embedding(tg.tensor([0, 1]), W, max_norm=1.0)
    scaled = w[0] / (5 + 1e-7)
    np.testing.assert_allclose(W.detach().numpy(), [scaled, w[1], w[2]])  # row 2: not looked up
    np.testing.assert_allclose(out.detach().numpy(), [scaled, w[1]])
    out.sum().backward()
    np.testing.assert_array_equal(W.grad.numpy(), [[1, 1], [1, 1], [0, 0]])


def test_embedding_errors():
    w = t64(np.zeros((5, 3)))
    with pytest.raises(IndexError, match="index out of range in self"):
        F.embedding(tg.tensor([0, 5]), w)
    with pytest.raises(IndexError, match="index out of range in self"):
        F.embedding(tg.tensor([-1]), w)
    with pytest.raises(RuntimeError, match="Expected tensor for argument #1 'indices' to have "
                                           "one of the following scalar types: Long, Int; but "
                                           "got torch.FloatTensor instead"):
        F.embedding(tg.tensor([0.0, 1.0]), w)
    with pytest.raises(AssertionError, match="Padding_idx must be within num_embeddings"):
        F.embedding(tg.tensor([0]), w, padding_idx=5)
    with pytest.raises(RuntimeError, match="'weight' must be 2-D"):
        F.embedding(tg.tensor([0]), t64(np.zeros(5)))


def test_one_hot():
    out = F.one_hot(tg.tensor([[0, 2], [1, 0]]))
    assert out.dtype is tg.int64 and out.shape == (2, 2, 3)
    np.testing.assert_array_equal(out.numpy(), np.eye(3, dtype=np.int64)[[[0, 2], [1, 0]]])
    assert F.one_hot(tg.tensor([1]), 4).tolist() == [[0, 1, 0, 0]]
    assert F.one_hot(tg.tensor(1), 3).tolist() == [0, 1, 0]
    assert F.one_hot(tg.tensor([], dtype=tg.int64), 3).shape == (0, 3)
    for arg, msg in (((tg.tensor([0, 2], dtype=tg.int32),), "only applicable to index tensor "
                      "of type LongTensor"), ((tg.tensor([0, -1]),), "Class values must be "
                                              "non-negative."),
                     ((tg.tensor([0, 3]), 3), "Class values must be smaller than num_classes."),
                     ((tg.tensor([], dtype=tg.int64),), "Can not infer total number of classes "
                                                        "from empty tensor.")):
        with pytest.raises(RuntimeError, match=msg):
            F.one_hot(*arg)


# ---- pad ------------------------------------------------------------------------------
PAD_CASES = [
    ((2, 3), (1, 2), "constant"), ((2, 3, 4), (1, 0, 2, 1), "constant"),
    ((2, 3, 4), (-1, 2, 0, -2), "constant"), ((2, 3, 4), (0, 0, 1, 1, 2, 0), "constant"),
    ((2, 5), (2, 3), "reflect"), ((1, 2, 4, 5), (3, 1, 2, 2), "reflect"),
    ((2, 5), (2, 3), "replicate"), ((1, 2, 3, 2, 2), (1, 1, 2, 0, 1, 1), "replicate"),
    ((1, 2, 4), (2, 3), "circular"), ((1, 3, 4), (-1, 1), "replicate"),
]
_NP_MODE = {"constant": "constant", "reflect": "reflect", "replicate": "edge",
            "circular": "wrap"}


def np_pad(x, pad, mode, value=0.0):
    """np.pad with PyTorch's pad argument order (negative pads crop)."""
    widths = [(0, 0)] * x.ndim
    for i in range(len(pad) // 2):
        widths[x.ndim - 1 - i] = (pad[2 * i], pad[2 * i + 1])
    crop = tuple(slice(-lo if lo < 0 else 0, n + hi if hi < 0 else n)
                 for (lo, hi), n in zip(widths, x.shape))
    x = x[crop]
    kw = {"constant_values": value} if mode == "constant" else {}
    return np.pad(x, [(max(lo, 0), max(hi, 0)) for lo, hi in widths], _NP_MODE[mode], **kw)


@pytest.mark.parametrize("shape,pad,mode", PAD_CASES)
def test_pad(shape, pad, mode):
    x = RNG.standard_normal(shape)
    value = 1.5 if mode == "constant" else None
    out = F.pad(t64(x), pad, mode, value)
    np.testing.assert_array_equal(out.numpy(), np_pad(x, pad, mode, value or 0.0))
    fd_check(lambda a: F.pad(a, pad, mode, value), [x])
    if mode != "constant":
        return
    xi = RNG.integers(0, 9, shape)
    assert F.pad(tg.tensor(xi), pad, value=2.5).tolist() == np_pad(xi, pad, mode, 2).tolist()


def test_pad_records_and_errors():
    x = tg.randn(2, 3, 4, requires_grad=True)
    with recording() as tape:
        F.pad(x, (1, 1, 2, 2, 1, 0))
        assert tape.nrecords <= 6  # leaf, view, index constant, index, mask, masked_fill
    y = x.detach()
    with pytest.raises(RuntimeError, match="Padding length must be divisible by 2"):
        F.pad(y, (1,))
    with pytest.raises(RuntimeError, match="Padding length should be less than or equal to two "
                                           "times the input dimension but got padding length 8"):
        F.pad(y, (1,) * 8)
    with pytest.raises(RuntimeError, match="resulted in a negative output size"):
        F.pad(y, (-3, -2))
    with pytest.raises(RuntimeError, match="Padding size should be less than the corresponding "
                                           "input dimension"):
        F.pad(y, (4, 0), mode="reflect")
    with pytest.raises(NotImplementedError, match="Padding size 2 is not supported for 1D "
                                                  "input tensor."):
        F.pad(tg.randn(3), (1, 1), mode="replicate")
    with pytest.raises(NotImplementedError, match="Unrecognised padding mode foo"):
        F.pad(y, (1, 1), mode="foo")
    with pytest.raises(RuntimeError, match='Padding mode "reflect" doesn\'t take in value'):
        F.pad(y, (1, 1), mode="reflect", value=2.0)
    with pytest.raises(RuntimeError, match="Padding value causes wrapping around more than "
                                           "once."):
        F.pad(y, (5, 0), mode="circular")


# ---- norms and distances ----------------------------------------------------------------
XN = RNG.standard_normal((4, 3, 5))


def _std(x, axes, eps):
    m = x.mean(axes, keepdims=True)
    return (x - m) / np.sqrt(x.var(axes, keepdims=True) + eps)


def test_layer_norm_and_rms_norm():
    w, b = RNG.standard_normal((3, 5)), RNG.standard_normal((3, 5))
    ref = _std(XN, (1, 2), 1e-5) * w + b
    np.testing.assert_allclose(F.layer_norm(t64(XN), (3, 5), t64(w), t64(b)).numpy(), ref,
                               rtol=1e-10)
    np.testing.assert_allclose(F.layer_norm(t64(XN), [5], eps=0.1).numpy(),
                               _std(XN, (2,), 0.1), rtol=1e-10)
    fd_check(lambda x, p, q: F.layer_norm(x, (5,), p, q), [XN[:2], w[0], b[0]])
    rms = XN / np.sqrt((XN ** 2).mean(-1, keepdims=True) + 1e-6) * w[0]
    np.testing.assert_allclose(F.rms_norm(t64(XN), [5], t64(w[0]), eps=1e-6).numpy(), rms)
    fd_check(lambda x: F.rms_norm(x, (5,)), [XN[:2]])
    with pytest.raises(RuntimeError, match=r"Given normalized_shape=\[4\], expected input with "
                                           r"shape \[\*, 4\], but got input of size\[4, 3, 5\]"):
        F.layer_norm(t64(XN), (4,))
    with pytest.raises(TypeError, match="must be tuple of ints, not int"):
        F.layer_norm(t64(XN), 5)
    with pytest.raises(RuntimeError, match="Expected weight to be of same shape as "
                                           "normalized_shape"):
        F.layer_norm(t64(XN), (5,), t64(w))


def test_batch_norm_training_updates_running_stats():
    rm, rv = t64(np.full(3, 0.5)), t64(np.full(3, 2.0))
    w, b = RNG.standard_normal(3), RNG.standard_normal(3)
    out = F.batch_norm(t64(XN), rm, rv, t64(w), t64(b), training=True, momentum=0.2)
    ref = _std(XN, (0, 2), 1e-5) * w[:, None] + b[:, None]
    np.testing.assert_allclose(out.numpy(), ref, rtol=1e-10)
    np.testing.assert_allclose(rm.numpy(), 0.8 * 0.5 + 0.2 * XN.mean((0, 2)))
    np.testing.assert_allclose(rv.numpy(), 0.8 * 2.0 + 0.2 * XN.var((0, 2), ddof=1))
    fd_check(lambda x, p, q: F.batch_norm(x, None, None, p, q, training=True),
             [XN[:2, :, :3], w, b])
    out = F.batch_norm(t64(XN), rm, rv, t64(w), t64(b))  # eval: the running statistics
    ref = (XN - rm.numpy()[:, None]) / np.sqrt(rv.numpy()[:, None] + 1e-5) * w[:, None] \
        + b[:, None]
    np.testing.assert_allclose(out.numpy(), ref, rtol=1e-10)
    fd_check(lambda x, p: F.batch_norm(x, rm, rv, p), [XN[:2], w])
    x2 = RNG.standard_normal((6, 3))
    np.testing.assert_allclose(F.batch_norm(t64(x2), None, None, training=True).numpy(),
                               _std(x2, (0,), 1e-5), rtol=1e-10)


def test_batch_norm_running_stats_version_and_errors():
    x = tg.randn(4, 3, requires_grad=True)
    rm = tg.zeros(3)
    y = x * rm  # a recorded use of rm's old value
    F.batch_norm(x, rm, tg.ones(3), training=True)
    with pytest.raises(RuntimeError, match="modified by an inplace operation"):
        y.sum().backward()
    with pytest.raises(ValueError, match=r"Expected more than 1 value per channel when "
                                         r"training, got input size torch.Size\(\[1, 3\]\)"):
        F.batch_norm(tg.randn(1, 3), tg.zeros(3), tg.ones(3), training=True)
    with pytest.raises(RuntimeError, match="running_mean should contain 3 elements not 4"):
        F.batch_norm(tg.randn(2, 3), tg.zeros(4), tg.ones(4), training=True)
    with pytest.raises(RuntimeError, match="running_mean must be defined in evaluation mode"):
        F.batch_norm(tg.randn(2, 3), None, None)


def test_group_and_instance_norm():
    x = RNG.standard_normal((2, 6, 4))
    w, b = RNG.standard_normal(6), RNG.standard_normal(6)
    ref = _std(x.reshape(2, 3, -1), (2,), 1e-5).reshape(2, 6, 4) * w[:, None] + b[:, None]
    np.testing.assert_allclose(F.group_norm(t64(x), 3, t64(w), t64(b)).numpy(), ref,
                               rtol=1e-10)
    fd_check(lambda a, p: F.group_norm(a, 2, p), [x[:, :, :3], w])
    with pytest.raises(RuntimeError, match="Expected number of channels in input to be "
                                           "divisible by num_groups"):
        F.group_norm(t64(x), 4)
    rm, rv = tg.zeros(6, dtype=tg.float64), tg.ones(6, dtype=tg.float64)
    out = F.instance_norm(t64(x), rm, rv, momentum=0.5)
    np.testing.assert_allclose(out.numpy(), _std(x, (2,), 1e-5), rtol=1e-10)
    np.testing.assert_allclose(rm.numpy(), 0.5 * x.mean(2).mean(0))
    np.testing.assert_allclose(rv.numpy(), 0.5 + 0.5 * x.var(2, ddof=1).mean(0))
    fd_check(lambda a: F.instance_norm(a), [x[:, :2]])


def test_normalize_cosine_pairwise():
    a, b = RNG.standard_normal((3, 4)), RNG.standard_normal((3, 4))
    np.testing.assert_allclose(F.normalize(t64(a)).numpy(),
                               a / np.linalg.norm(a, axis=1, keepdims=True))
    np.testing.assert_allclose(F.normalize(t64(a), p=1.0, dim=0).numpy(),
                               a / np.abs(a).sum(0, keepdims=True))
    np.testing.assert_array_equal(F.normalize(t64(np.zeros((2, 3)))).numpy(), np.zeros((2, 3)))
    fd_check(lambda p: F.normalize(p, dim=0), [a])
    cos = (a * b).sum(1) / np.linalg.norm(a, axis=1) / np.linalg.norm(b, axis=1)
    np.testing.assert_allclose(F.cosine_similarity(t64(a), t64(b)).numpy(), cos)
    fd_check(F.cosine_similarity, [a, b])
    np.testing.assert_allclose(F.cosine_similarity(t64(a), t64(b[0]), dim=-1).numpy(),
                               (a * b[0]).sum(1) / np.linalg.norm(a, axis=1)
                               / np.linalg.norm(b[0]))
    tiny = t64([[1e-9, 0.0]])  # each norm is raised to eps: (1e-9 / 1e-8)^2
    np.testing.assert_allclose(F.cosine_similarity(tiny, tiny).numpy(), [0.01])
    np.testing.assert_allclose(F.pairwise_distance(t64(a), t64(b)).numpy(),
                               np.linalg.norm(a - b + 1e-6, axis=-1))
    np.testing.assert_allclose(F.pairwise_distance(t64(a), t64(b), p=1.0, keepdim=True)
                               .numpy(), np.abs(a - b + 1e-6).sum(-1, keepdims=True))
    fd_check(lambda p, q: F.pairwise_distance(p, q, p=3.0), [a, b])


def test_no_grad_layers_record_nothing():
    x = tg.randn(4, 3, 5)
    tape = current()
    n0 = tape.nrecords
    F.layer_norm(x, (5,))
    F.batch_norm(x, tg.zeros(3), tg.ones(3), training=True)
    F.pad(x, (1, 1))
    F.embedding(tg.tensor([0, 1]), tg.randn(3, 2))
    F.cosine_similarity(x, x)
    F.dropout(x)
    with tg.no_grad():
        F.cross_entropy(tg.randn(3, 4, requires_grad=True), tg.tensor([0, 1, 2]))
    assert tape.nrecords == n0


# ---- against PyTorch ----------------------------------------------------------------------
@pytest.fixture
def torch_ref():
    return pytest.importorskip("torch")


def both(torch_ref, prog, dtype, rtol):
    """prog(m, F, dt, leaf) -> output run with tapegrad and PyTorch: the same values and the
    same gradients of (output * v).sum() for every leaf made with leaf(array)."""
    res = []
    for m, fm, dt in ((tg, F, getattr(tg, dtype)),
                      (torch_ref, torch_ref.nn.functional, getattr(torch_ref, dtype))):
        made = []

        def leaf(a, m=m, dt=dt, made=made):
            made.append(m.tensor(np.asarray(a), dtype=dt, requires_grad=True))
            return made[-1]

        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            out = prog(m, fm, dt, leaf)
        v = np.random.default_rng(1).standard_normal(tuple(out.shape))
        (out * m.tensor(v, dtype=dt)).sum().backward()
        res.append((out.detach().numpy(), [t.grad.numpy() for t in made]))
    (a, ga), (b, gb) = res
    np.testing.assert_allclose(a, b, rtol=rtol, atol=rtol)
    for x, y in zip(ga, gb):
        np.testing.assert_allclose(x, y, rtol=rtol, atol=rtol)


WB = RNG.standard_normal((2, 5, 4))
XK = np.r_[XA.ravel(), [0.0, 1.0, -1.0, 3.0, -3.0, 6.0, 0.5, -0.5, 20.0, -20.0, 2.5]]
TORCH_ACTS = {
    "relu": {}, "sigmoid": {}, "tanh": {}, "leaky_relu": {"negative_slope": 0.2},
    "elu": {"alpha": 0.7}, "selu": {}, "celu": {"alpha": 1.5}, "gelu": {},
    "gelu_tanh": {"approximate": "tanh"}, "silu": {}, "mish": {},
    "softplus": {"beta": 2.0, "threshold": 5.0}, "hardtanh": {"min_val": -2.0, "max_val": 3.0},
    "relu6": {}, "logsigmoid": {}, "hardsigmoid": {}, "hardswish": {}, "tanhshrink": {},
    "softsign": {}, "threshold": {"threshold": 0.5, "value": -2.0}, "hardshrink": {},
    "softshrink": {},
}


@pytest.mark.torch
@pytest.mark.parametrize("name", sorted(TORCH_ACTS))
@pytest.mark.parametrize("dtype,rtol", [("float32", 2e-6), ("float64", 1e-12)])
def test_activations_match_torch(torch_ref, name, dtype, rtol):
    if name == "hardsigmoid" and dtype == "float64":
        rtol = 1e-7  # PyTorch's kernel multiplies by 1/6 rounded to float32
    fname = "gelu" if name == "gelu_tanh" else name
    both(torch_ref, lambda m, f, dt, leaf: getattr(f, fname)(leaf(XK), **TORCH_ACTS[name]),
         dtype, rtol)


LAYER_PROGS = {
    "softmax": lambda m, f, dt, lf: f.softmax(lf(XN), 1),
    "log_softmax": lambda m, f, dt, lf: f.log_softmax(lf(XN), -1),
    "softmin": lambda m, f, dt, lf: f.softmin(lf(XN), 0),
    "glu": lambda m, f, dt, lf: f.glu(lf(XN[:, :2]), 1),
    "inplace_relu": lambda m, f, dt, lf: (lambda y: f.relu(y, inplace=True) * y)(lf(XN) * 2),
    "linear": lambda m, f, dt, lf: f.linear(lf(XN), lf(XN[0]), lf(XN[1, 0, :3])),
    "bilinear": lambda m, f, dt, lf: f.bilinear(lf(XN[:, 0]), lf(XN[:, 1, :4]), lf(WB),
                                                lf(XN[0, 0, :2])),
    "embedding": lambda m, f, dt, lf: f.embedding(m.tensor([[0, 3, 3], [1, 0, 2]]),
                                                  lf(XN[0, :, :4].T), padding_idx=3),
    "pad_const": lambda m, f, dt, lf: f.pad(lf(XN), (1, -2, 2, 0), value=0.5),
    "pad_reflect": lambda m, f, dt, lf: f.pad(lf(XN), (2, 3), mode="reflect"),
    "pad_replicate": lambda m, f, dt, lf: f.pad(lf(XN[None]), (2, 3, 1, 0),
                                                mode="replicate"),
    "pad_circular": lambda m, f, dt, lf: f.pad(lf(XN), (2, 3), mode="circular"),
    "normalize": lambda m, f, dt, lf: f.normalize(lf(XN), p=3.0, dim=2),
    "layer_norm": lambda m, f, dt, lf: f.layer_norm(lf(XN), (3, 5), lf(XN[0]), lf(XN[1])),
    "batch_norm_train": lambda m, f, dt, lf: f.batch_norm(
        lf(XN), m.zeros(3, dtype=dt), m.ones(3, dtype=dt), lf(XN[0, 0, :3]),
        lf(XN[0, 1, :3]), training=True),
    "batch_norm_eval": lambda m, f, dt, lf: f.batch_norm(
        lf(XN), m.tensor(XN[0, 0, :3], dtype=dt), m.tensor(np.abs(XN[0, 1, :3]), dtype=dt),
        lf(XN[0, 2, :3]), None),
    "group_norm": lambda m, f, dt, lf: f.group_norm(lf(XN[:, :, :4].reshape(4, 6, 2)), 3,
                                                    lf(XN[0, :2].ravel()[:6]),
                                                    lf(XN[1, :2].ravel()[:6])),
    "instance_norm": lambda m, f, dt, lf: f.instance_norm(lf(XN)),
    "rms_norm": lambda m, f, dt, lf: f.rms_norm(lf(XN), (5,), lf(XN[0, 0]), eps=1e-3),
    "cosine": lambda m, f, dt, lf: f.cosine_similarity(lf(XN), lf(XN[0] * 0 + XN[1]), dim=2),
    "cosine_tiny": lambda m, f, dt, lf: f.cosine_similarity(lf(XN[0] * 1e-9), lf(XN[1]),
                                                            dim=1),
    "pairwise": lambda m, f, dt, lf: f.pairwise_distance(lf(XN), lf(XN[::-1].copy()), p=1.5),
}


@pytest.mark.torch
@pytest.mark.parametrize("name", sorted(LAYER_PROGS))
@pytest.mark.parametrize("dtype,rtol", [("float32", 2e-5), ("float64", 1e-10)])
def test_layers_match_torch(torch_ref, name, dtype, rtol):
    both(torch_ref, LAYER_PROGS[name], dtype, rtol)


@pytest.mark.torch
def test_running_stats_match_torch(torch_ref):
    stats = []
    for m in (tg, torch_ref):
        rm, rv = m.zeros(3), m.ones(3)
        for k in range(3):
            m.nn.functional.batch_norm(m.tensor(XN * (k + 1), dtype=m.float32), rm, rv,
                                       training=True, momentum=0.3)
        stats.append((rm.numpy(), rv.numpy()))
    np.testing.assert_allclose(stats[0][0], stats[1][0], rtol=1e-6)
    np.testing.assert_allclose(stats[0][1], stats[1][1], rtol=1e-6)
