"""Conv3d, EmbeddingBag and ctc_loss without PyTorch: NumPy references, fixed values,
finite differences (float64) and error classes. LazyLinear, affine_grid / grid_sample and
the Transformer decoder side are in tests/test_layers3_nn.py, the PyTorch comparisons in
tests/test_layers3_torch.py."""

import itertools
import math

import numpy as np
import pytest

import tapegrad as tg
import tapegrad.nn as nn
import tapegrad.nn.functional as F
from tests.fdcheck import fd_check, t64

RNG = np.random.default_rng(33)


def arr(t):
    return t.detach().numpy()


# ---- conv3d -------------------------------------------------------------------------------
def _naive_conv3d(x, w, b, st, lo, dl, groups, hi=None):
    hi = lo if hi is None else hi
    N, C, D, H, W = x.shape
    O, Cg, kd, kh, kw = w.shape
    xp = np.pad(x, ((0, 0), (0, 0)) + tuple(zip(lo, hi)))
    out = [(xp.shape[2 + i] - dl[i] * (k - 1) - 1) // st[i] + 1 for i, k in enumerate((kd, kh, kw))]
    y = np.zeros((N, O) + tuple(out))
    og = O // groups
    for o in range(O):
        g = o // og
        for i, j, k in itertools.product(*map(range, out)):
            a, c, e = i * st[0], j * st[1], k * st[2]
            patch = xp[:, g * Cg:(g + 1) * Cg, a:a + dl[0] * (kd - 1) + 1:dl[0],
                       c:c + dl[1] * (kh - 1) + 1:dl[1], e:e + dl[2] * (kw - 1) + 1:dl[2]]
            y[:, o, i, j, k] = (patch * w[o]).sum(axis=(1, 2, 3, 4))
    return y + (0 if b is None else b[None, :, None, None, None])


CONV3D = [
    dict(stride=1, padding=0, dilation=1, groups=1),
    dict(stride=2, padding=1, dilation=1, groups=1),
    dict(stride=(1, 2, 1), padding=(2, 0, 1), dilation=(2, 1, 2), groups=2),
    dict(stride=1, padding=(1, 1, 0), dilation=1, groups=4),
]


@pytest.mark.parametrize("kw", CONV3D)
@pytest.mark.parametrize("bias", [True, False])
def test_conv3d_matches_naive_loops(kw, bias):
    x = RNG.standard_normal((2, 4, 5, 6, 4))
    w = RNG.standard_normal((4, 4 // kw["groups"], 3, 2, 2))
    b = RNG.standard_normal(4) if bias else None
    t3 = lambda v: (v,) * 3 if isinstance(v, int) else v  # noqa: E731
    ref = _naive_conv3d(x, w, b, t3(kw["stride"]), t3(kw["padding"]), t3(kw["dilation"]),
                        kw["groups"])
    got = F.conv3d(t64(x), t64(w), None if b is None else t64(b), **kw)
    np.testing.assert_allclose(arr(got), ref, rtol=1e-11, atol=1e-12)
    got1 = F.conv3d(t64(x[0]), t64(w), None if b is None else t64(b), **kw)  # unbatched
    np.testing.assert_allclose(arr(got1), ref[0], rtol=1e-11, atol=1e-12)


def test_conv3d_same_and_valid_padding():
    x, w = RNG.standard_normal((1, 2, 5, 4, 6)), RNG.standard_normal((3, 2, 2, 3, 4))
    y = F.conv3d(t64(x), t64(w), padding="same", dilation=(2, 1, 1))
    # totals (2, 2, 3): the extra element goes after, as conv2d's 'same'
    ref = _naive_conv3d(x, w, None, (1, 1, 1), (1, 1, 1), (2, 1, 1), 1, hi=(1, 1, 2))
    assert y.shape == (1, 3, 5, 4, 6)
    np.testing.assert_allclose(arr(y), ref, rtol=1e-11, atol=1e-12)
    v = F.conv3d(t64(x), t64(w), padding="valid")
    np.testing.assert_allclose(arr(v), _naive_conv3d(x, w, None, (1,) * 3, (0,) * 3, (1,) * 3,
                                                     1), rtol=1e-11)


@pytest.mark.parametrize("kw", [CONV3D[1], CONV3D[2]])
def test_conv3d_gradients_by_finite_differences(kw):
    x = RNG.standard_normal((1, 4, 4, 3, 3))
    w = RNG.standard_normal((2, 4 // kw["groups"], 2, 2, 2))
    b = RNG.standard_normal(2)
    fd_check(lambda x, w, b: F.conv3d(x, w, b, **kw), [x, w, b])


def test_conv3d_module_repr_init_and_padding_modes():
    tg.manual_seed(0)
    m = nn.Conv3d(4, 6, 3, stride=(1, 2, 1), padding=1, groups=2, bias=False)
    assert repr(m) == ("Conv3d(4, 6, kernel_size=(3, 3, 3), stride=(1, 2, 1), padding=(1, 1, 1), "
                       "groups=2, bias=False)")
    assert m.weight.shape == (6, 2, 3, 3, 3) and m.bias is None
    bound = 1 / math.sqrt(2 * 27)  # kaiming_uniform_(a=sqrt(5)): 1/sqrt(fan_in)
    assert np.abs(arr(m.weight)).max() <= bound
    s = nn.Conv3d(2, 3, (3, 2, 1), padding="same")
    assert repr(s) == "Conv3d(2, 3, kernel_size=(3, 2, 1), stride=(1, 1, 1), padding=same)"
    x = tg.randn(1, 2, 4, 5, 3)
    assert s(x).shape == (1, 3, 4, 5, 3)
    r = nn.Conv3d(2, 3, 3, padding=1, padding_mode="replicate").double()
    xd = t64(RNG.standard_normal((1, 2, 3, 4, 3)))
    want = F.conv3d(F.pad(xd, (1, 1, 1, 1, 1, 1), mode="replicate"), r.weight, r.bias)
    np.testing.assert_allclose(arr(r(xd)), arr(want), rtol=1e-12)
    with pytest.raises(ValueError):
        nn.Conv3d(3, 4, 3, groups=2)
    with pytest.raises(ValueError):
        nn.Conv3d(2, 4, 3, stride=2, padding="same")


def test_conv3d_output_is_viewable_and_trains():
    m = nn.Conv3d(2, 3, 2)
    x = tg.randn(2, 2, 3, 3, 3)
    y = m(x).view(2, -1)
    y.sum().backward()
    assert m.weight.grad.shape == m.weight.shape and float(m.bias.grad[0]) == 16.0


@pytest.mark.parametrize("call", [
    lambda: F.conv3d(tg.randn(2, 3, 4, 4), tg.randn(2, 3, 2, 2, 2)),          # 4-D: C=2
    lambda: F.conv3d(tg.randn(1, 2, 4, 4, 4, 4), tg.randn(2, 2, 2, 2, 2)),
    lambda: F.conv3d(tg.randn(1, 2, 4, 4, 4), tg.randn(2, 2, 2, 2)),
    lambda: F.conv3d(tg.randn(1, 2, 1, 4, 4), tg.randn(2, 2, 2, 2, 2)),       # kernel > input
    lambda: F.conv3d(tg.randn(1, 2, 4, 4, 4), tg.randn(2, 2, 2, 2, 2), stride=(1, 2)),
    lambda: F.conv3d(tg.randn(1, 2, 4, 4, 4), tg.randn(2, 2, 2, 2, 2), stride=2, padding="same"),
    lambda: F.conv3d(tg.randn(1, 2, 4, 4, 4), tg.randn(2, 2, 2, 2, 2), padding=-1),
    lambda: F.conv3d(tg.randn(1, 2, 4, 4, 4), tg.randn(2, 2, 2, 2, 2), tg.randn(3)),
    lambda: F.conv3d(tg.randn(1, 2, 4, 4, 4), tg.randn(2, 2, 2, 2, 2, dtype=tg.float64)),
])
def test_conv3d_bad_input_raises_runtime_error(call):
    with pytest.raises(RuntimeError):
        call()


def test_conv3d_type_error_for_non_tensor():
    with pytest.raises(TypeError):
        F.conv3d(np.zeros((1, 1, 2, 2, 2)), tg.randn(1, 1, 1, 1, 1))


# ---- embedding_bag ------------------------------------------------------------------------
def _ref_bags(W, flat, offs, mode, psw=None, padding_idx=None, last=False):
    n = len(flat)
    bounds = list(zip(offs[:-1], offs[1:])) if last else list(zip(offs, list(offs[1:]) + [n]))
    out = []
    for a, b in bounds:
        rows = [W[flat[i]] * (1 if psw is None else psw[i]) for i in range(a, b)
                if flat[i] != padding_idx]
        if not rows:
            out.append(np.zeros(W.shape[1]))
        else:
            out.append({"sum": np.sum, "mean": np.mean, "max": np.max}[mode](rows, axis=0))
    return np.array(out).reshape(len(bounds), W.shape[1])


BAGS = [
    dict(flat=[1, 2, 4, 5, 4, 3, 2, 9], offs=[0, 4], mode="mean"),
    dict(flat=[1, 2, 4, 5, 4, 3, 2, 9], offs=[0, 4, 4], mode="sum"),
    dict(flat=[1, 2, 4, 5, 4, 3, 2, 9], offs=[0, 4, 4], mode="max"),
    dict(flat=[1, 2, 4, 5, 4, 3, 2, 9], offs=[0, 3, 8], mode="max", last=True),
    dict(flat=[1, 2, 4, 5, 4, 3, 2, 9], offs=[0, 3, 6], mode="mean", padding_idx=4),
    dict(flat=[1, 2, 4, 5, 4, 3, 2, 9], offs=[0, 3, 6], mode="max", padding_idx=4),
    dict(flat=[1, 2, 4, 5, 4, 3, 2, 9], offs=[0, 3, 6], mode="sum", psw=True, padding_idx=2),
    dict(flat=[4, 4, 4, 7], offs=[0, 3], mode="sum", padding_idx=4),   # an all-padding bag
]


@pytest.mark.parametrize("c", BAGS)
def test_embedding_bag_matches_numpy_and_finite_differences(c):
    W = RNG.standard_normal((10, 3))
    psw = RNG.standard_normal(len(c["flat"])) if c.get("psw") else None
    kw = dict(mode=c["mode"], padding_idx=c.get("padding_idx"),
              include_last_offset=c.get("last", False))
    flat, offs = tg.tensor(c["flat"]), tg.tensor(c["offs"])
    ref = _ref_bags(W, c["flat"], c["offs"], c["mode"], psw, c.get("padding_idx"),
                    c.get("last", False))
    got = F.embedding_bag(flat, t64(W), offs, per_sample_weights=None if psw is None else
                          t64(psw), **kw)
    np.testing.assert_allclose(arr(got), ref, rtol=1e-12)
    if psw is None:
        fd_check(lambda w: F.embedding_bag(flat, w, offs, **kw), [W])
    else:
        fd_check(lambda w, p: F.embedding_bag(flat, w, offs, per_sample_weights=p, **kw),
                 [W, psw])


def test_embedding_bag_2d_input_scale_grad_and_max_norm():
    W = RNG.standard_normal((10, 2))
    x = tg.tensor([[1, 2, 4, 5], [4, 3, 2, 9]])
    w = t64(W, True)
    y = F.embedding_bag(x, w, mode="sum", scale_grad_by_freq=True)
    np.testing.assert_allclose(arr(y), W[[[1, 2, 4, 5], [4, 3, 2, 9]]].sum(1), rtol=1e-12)
    y.sum().backward()
    # each row's gradient divided by its count in the batch: rows 2 and 4 appear twice
    want = np.zeros(10)
    want[[1, 2, 3, 4, 5, 9]] = 1.0
    np.testing.assert_allclose(arr(w.grad)[:, 0], want)
    m = t64(W * 3)
    F.embedding_bag(tg.tensor([1, 2]), m, tg.tensor([0]), max_norm=1.0)
    norms = np.linalg.norm(arr(m), axis=1)
    assert np.allclose(norms[[1, 2]], 1.0, atol=1e-6) and np.allclose(arr(m)[0], W[0] * 3)


def test_embedding_bag_module():
    tg.manual_seed(3)
    m = nn.EmbeddingBag(10, 3, mode="max", padding_idx=2, max_norm=1.0)
    assert repr(m) == "EmbeddingBag(10, 3, max_norm=1.0, mode='max', padding_idx=2)"
    assert repr(nn.EmbeddingBag(10, 3)) == "EmbeddingBag(10, 3, mode='mean')"
    assert (arr(m.weight)[2] == 0).all()
    e = nn.EmbeddingBag(5, 2, mode="sum")
    x, o = tg.tensor([0, 1, 1, 4]), tg.tensor([0, 1])
    np.testing.assert_allclose(arr(e(x, o)), arr(e.weight)[[0]].tolist() +
                               [arr(e.weight)[[1, 1, 4]].sum(0).tolist()], rtol=1e-5, atol=1e-6)
    p = nn.EmbeddingBag.from_pretrained(t64(np.eye(3)), mode="sum")
    assert not p.weight.requires_grad
    np.testing.assert_allclose(arr(p(tg.tensor([[0, 2]]))), [[1, 0, 1]])
    with pytest.raises(AssertionError):
        nn.EmbeddingBag(4, 2, padding_idx=4)


W4 = tg.randn(10, 3)


@pytest.mark.parametrize("call,exc", [
    (lambda: F.embedding_bag(tg.tensor([1, 2]), W4), ValueError),            # no offsets
    (lambda: F.embedding_bag(tg.tensor([[1, 2]]), W4, tg.tensor([0])), ValueError),
    (lambda: F.embedding_bag(tg.tensor([1, 2]), W4, tg.tensor([[0]])), ValueError),
    (lambda: F.embedding_bag(tg.tensor([[[1]]]), W4), ValueError),
    (lambda: F.embedding_bag(tg.tensor([1, 2]), W4[0], tg.tensor([0])), ValueError),
    (lambda: F.embedding_bag(tg.tensor([1, 2]), W4, tg.tensor([0]), mode="foo"), ValueError),
    (lambda: F.embedding_bag(tg.tensor([1, 2]), W4, tg.tensor([0]), mode="max",
                             scale_grad_by_freq=True), ValueError),
    (lambda: F.embedding_bag(tg.tensor([1, 2]), W4, tg.tensor([0]),
                             per_sample_weights=tg.ones(2)), NotImplementedError),
    (lambda: F.embedding_bag(tg.tensor([1, 2]), W4, tg.tensor([0]), mode="sum",
                             per_sample_weights=tg.ones(3)), ValueError),
    (lambda: F.embedding_bag(tg.tensor([1, 2]), W4, tg.tensor([0]), mode="sum",
                             per_sample_weights=tg.ones(2, dtype=tg.float64)), RuntimeError),
    (lambda: F.embedding_bag(tg.tensor([1., 2.]), W4, tg.tensor([0])), RuntimeError),
    (lambda: F.embedding_bag(tg.tensor([1, 12]), W4, tg.tensor([0])), RuntimeError),
    (lambda: F.embedding_bag(tg.tensor([1, 2]), W4, tg.tensor([1])), RuntimeError),
    (lambda: F.embedding_bag(tg.tensor([1, 2]), W4, tg.tensor([0, 3])), RuntimeError),
    (lambda: F.embedding_bag(tg.tensor([1, 2, 3]), W4, tg.tensor([0, 2, 1])), RuntimeError),
    (lambda: F.embedding_bag(tg.tensor([1, 2]), W4, tg.tensor([0]), padding_idx=10),
     RuntimeError),
])
def test_embedding_bag_bad_input(call, exc):
    with pytest.raises(exc):
        call()


# ---- ctc_loss -----------------------------------------------------------------------------
def _ref_ctc(lp, target, blank=0):
    """-log of the sum over every alignment (a label or blank per step) that collapses
    (merge repeats, drop blanks) to target."""
    T, C = lp.shape
    total = -np.inf
    for path in itertools.product(range(C), repeat=T):
        col = [k for i, k in enumerate(path) if k != blank and (i == 0 or path[i - 1] != k)]
        if col == list(target):
            total = np.logaddexp(total, sum(lp[t, k] for t, k in enumerate(path)))
    return -total


def _log_softmax(a):
    return a - np.log(np.exp(a).sum(-1, keepdims=True))


def test_ctc_loss_matches_brute_force_alignments():
    T, N, C = 5, 4, 3
    lp = _log_softmax(RNG.standard_normal((T, N, C)))
    targets = np.array([[1, 2], [1, 1], [2, 0], [0, 0]])
    Tl, Sl = (5, 4, 5, 3), (2, 2, 1, 0)
    ref = np.array([_ref_ctc(lp[:Tl[b], b], targets[b, :Sl[b]]) for b in range(N)])
    got = F.ctc_loss(t64(lp), tg.tensor(targets), Tl, Sl, reduction="none")
    np.testing.assert_allclose(arr(got), ref, rtol=1e-12)
    mean = F.ctc_loss(t64(lp), tg.tensor(targets), tg.tensor(Tl), tg.tensor(Sl))
    np.testing.assert_allclose(float(mean), (ref / np.maximum(Sl, 1)).mean(), rtol=1e-12)
    flat = tg.tensor([1, 2, 1, 1, 2])  # 1-D concatenated targets
    np.testing.assert_allclose(float(F.ctc_loss(t64(lp), flat, Tl, Sl, reduction="sum")),
                               ref.sum(), rtol=1e-12)
    one = F.ctc_loss(t64(lp[:, 0]), tg.tensor([1, 2]), (5,), (2,), reduction="none")
    assert one.shape == () and np.isclose(float(one), ref[0])
    blank2 = F.ctc_loss(t64(lp[:, :1]), tg.tensor([[0, 1]]), (5,), (2,), blank=2,
                        reduction="none")
    np.testing.assert_allclose(arr(blank2), [_ref_ctc(lp[:, 0], [0, 1], blank=2)], rtol=1e-12)


@pytest.mark.parametrize("reduction", ["mean", "sum", "none"])
def test_ctc_loss_gradient_through_log_softmax(reduction):
    logits = RNG.standard_normal((6, 3, 4))
    tgt = tg.tensor([[1, 2, 2], [3, 1, 0], [2, 0, 0]])
    fd_check(lambda z: F.ctc_loss(z.log_softmax(2), tgt, (6, 5, 4), (3, 2, 1),
                                  reduction=reduction), [logits])


def test_ctc_loss_gradient_formula_and_zero_infinity():
    lp = _log_softmax(RNG.standard_normal((4, 2, 3)))
    x = t64(lp, True)
    F.ctc_loss(x, tg.tensor([[1, 2], [1, 1]]), (4, 3), (2, 2), reduction="sum").backward()
    g = arr(x.grad)
    # the gradient is exp(lp) minus the label posteriors: sums to 0 over classes
    np.testing.assert_allclose(g[:3].sum(-1), 0, atol=1e-12)
    assert (g[3, 1] == 0).all()  # past the input length
    # (1, 1) needs a blank between: 3 steps fit, 1 step does not
    x = t64(lp, True)
    inf = F.ctc_loss(x, tg.tensor([[1, 1], [1, 1]]), (4, 1), (2, 2), reduction="none")
    assert np.isinf(arr(inf)[1]) and np.isfinite(arr(inf)[0])
    z = F.ctc_loss(x, tg.tensor([[1, 1], [1, 1]]), (4, 1), (2, 2), reduction="sum",
                   zero_infinity=True)
    z.backward()
    assert np.isfinite(float(z)) and (arr(x.grad)[:, 1] == 0).all()
    assert repr(nn.CTCLoss(blank=1)) == "CTCLoss()"
    m = nn.CTCLoss(zero_infinity=True, reduction="none")
    np.testing.assert_allclose(arr(m(t64(lp), tg.tensor([[1, 1], [1, 1]]), (4, 1), (2, 2))),
                               [arr(inf)[0], 0.0])


@pytest.mark.parametrize("call,exc", [
    (lambda lp, t: F.ctc_loss(lp, t, (7, 5), (3, 2)), RuntimeError),
    (lambda lp, t: F.ctc_loss(lp, t, (6, 5), (4, 2)), RuntimeError),
    (lambda lp, t: F.ctc_loss(lp, t, (6,), (3, 2)), RuntimeError),
    (lambda lp, t: F.ctc_loss(lp, t, (6, 5), (3, 2), blank=5), RuntimeError),
    (lambda lp, t: F.ctc_loss(lp, t, (6, 5), (3, 2), reduction="foo"), ValueError),
    (lambda lp, t: F.ctc_loss(lp, t, 6, 3), TypeError),
    (lambda lp, t: F.ctc_loss(lp, t * 3, (6, 5), (3, 2)), RuntimeError),   # label 6 >= C
])
def test_ctc_loss_bad_input(call, exc):
    lp = tg.randn(6, 2, 5).log_softmax(2)
    with pytest.raises(exc):
        call(lp, tg.tensor([[1, 2, 2], [3, 4, 0]]))
