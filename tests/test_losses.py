"""Losses of tapegrad.nn.functional: values against NumPy formulas, gradients against
finite differences (float64), PyTorch's error classes and messages, the records
cross_entropy costs, and (marked torch) values and gradients against PyTorch."""

import math
import warnings

import numpy as np
import pytest

import tapegrad as tg
import tapegrad.nn.functional as F
from tapegrad.tape import current, recording
from tests.fdcheck import fd_check, t64

RNG = np.random.default_rng(7)


def reduce_np(loss, reduction):
    return {"none": loss, "sum": loss.sum(), "mean": loss.mean()}[reduction]


X = RNG.standard_normal((4, 5))
Y = RNG.standard_normal((4, 5))
REDUCTIONS = ["none", "sum", "mean"]


# ---- regression losses ----------------------------------------------------------------
@pytest.mark.parametrize("reduction", REDUCTIONS)
def test_mse_l1_values(reduction):
    for fn, ref in ((F.mse_loss, (X - Y) ** 2), (F.l1_loss, np.abs(X - Y))):
        out = fn(t64(X), t64(Y), reduction=reduction)
        np.testing.assert_allclose(out.numpy(), reduce_np(ref, reduction), rtol=1e-12)


@pytest.mark.parametrize("fn", [F.mse_loss, F.l1_loss, F.smooth_l1_loss, F.huber_loss,
                                F.soft_margin_loss])
def test_regression_gradients(fn):
    fd_check(lambda a, b: fn(a, b, reduction="none"), [X, Y])
    fd_check(lambda a, b: fn(a, b), [X, Y])


def test_legacy_reduction_keywords():
    a, b = t64(X), t64(Y)
    for kw, red in (({"size_average": False}, "sum"), ({"reduce": False}, "none"),
                    ({"size_average": True, "reduce": True}, "mean")):
        with pytest.warns(UserWarning, match=f"please use reduction='{red}' instead"):
            out = F.mse_loss(a, b, **kw)
        np.testing.assert_allclose(out.numpy(), reduce_np((X - Y) ** 2, red))
    with pytest.raises(ValueError, match="avg is not a valid value for reduction"):
        F.mse_loss(a, b, reduction="avg")
    with pytest.raises(ValueError, match="bad is not a valid value for reduction"):
        F.cross_entropy(a, tg.tensor([0, 1, 2, 3]), reduction="bad")


def test_broadcasting_warns():
    with pytest.warns(UserWarning, match=r"Using a target size \(torch.Size\(\[5\]\)\) that is "
                                         r"different to the input size"):
        out = F.mse_loss(t64(X), t64(Y[0]))
    np.testing.assert_allclose(out.item(), ((X - Y[0]) ** 2).mean())


def test_elementwise_weight():
    w = RNG.random((4, 5))
    out = F.mse_loss(t64(X), t64(Y), weight=t64(w))
    np.testing.assert_allclose(out.item(), ((X - Y) ** 2 * w).sum() / w.sum())
    out = F.l1_loss(t64(X), t64(Y), weight=t64(w), reduction="sum")
    np.testing.assert_allclose(out.item(), (np.abs(X - Y) * w).sum())
    d = np.abs(X - Y)
    hub = np.where(d < 1, 0.5 * d * d, d - 0.5)
    out = F.huber_loss(t64(X), t64(Y), weight=t64(w))  # 'mean' of the weighted terms
    np.testing.assert_allclose(out.item(), (hub * w).mean())
    with pytest.raises(ValueError, match="Weights and input must have the same size."):
        F.mse_loss(t64(X), t64(Y), weight=t64(w[0]))


@pytest.mark.parametrize("delta", [0.5, 1.0, 2.0])
def test_huber_and_smooth_l1_values(delta):
    d = X - Y
    a = np.abs(d)
    hub = np.where(a < delta, 0.5 * d * d, delta * (a - 0.5 * delta))
    sl1 = np.where(a < delta, 0.5 * d * d / delta, a - 0.5 * delta)
    np.testing.assert_allclose(F.huber_loss(t64(X), t64(Y), reduction="none", delta=delta)
                               .numpy(), hub, rtol=1e-12)
    np.testing.assert_allclose(F.smooth_l1_loss(t64(X), t64(Y), reduction="none", beta=delta)
                               .numpy(), sl1, rtol=1e-12)
    fd_check(lambda p, q: F.huber_loss(p, q, delta=delta), [X, Y])


def test_huber_at_delta_and_l1_at_zero():
    x = t64([1.0, -1.0, 2.0, 0.0], True)
    F.huber_loss(x, t64([0.0, 0.0, 1.0, 0.0]), reduction="sum").backward()
    np.testing.assert_allclose(x.grad.numpy(), [1.0, -1.0, 1.0, 0.0])  # |d| = delta: d
    x.grad = None
    F.huber_loss(x, t64([0.0, 0.0, 0.0, 0.0]), reduction="sum", delta=2.0).backward()
    np.testing.assert_allclose(x.grad.numpy(), [1.0, -1.0, 2.0, 0.0])
    x.grad = None
    F.l1_loss(x, t64([1.0, 0.0, 0.0, 0.0]), reduction="sum").backward()
    np.testing.assert_allclose(x.grad.numpy(), [0.0, -1.0, 1.0, 0.0])
    x.grad = None
    F.smooth_l1_loss(x, t64([0.0, 0.0, 0.0, 1.0]), reduction="sum", beta=0.0).backward()
    np.testing.assert_allclose(x.grad.numpy(), [1.0, -1.0, 1.0, -1.0])


def test_huber_smooth_l1_errors():
    with pytest.raises(RuntimeError, match="huber_loss does not support non-positive values"):
        F.huber_loss(t64(X), t64(Y), delta=0.0)
    with pytest.raises(RuntimeError, match="smooth_l1_loss does not support negative values"):
        F.smooth_l1_loss(t64(X), t64(Y), beta=-1.0)


# ---- binary cross-entropy ---------------------------------------------------------------
P = RNG.uniform(0.05, 0.95, (3, 4))
T = RNG.uniform(0, 1, (3, 4))


def bce_np(p, t):
    with np.errstate(all="ignore"):
        return -(t * np.maximum(np.log(p), -100) + (1 - t) * np.maximum(np.log1p(-p), -100))


@pytest.mark.parametrize("reduction", REDUCTIONS)
def test_bce_values_and_gradients(reduction):
    out = F.binary_cross_entropy(t64(P), t64(T), reduction=reduction)
    np.testing.assert_allclose(out.numpy(), reduce_np(bce_np(P, T), reduction), rtol=1e-12)
    fd_check(lambda p, t: F.binary_cross_entropy(p, t, reduction=reduction), [P, T])


def test_bce_weight_broadcasts():
    w = RNG.random(4)
    out = F.binary_cross_entropy(t64(P), t64(T), weight=t64(w), reduction="sum")
    np.testing.assert_allclose(out.item(), (bce_np(P, T) * w).sum())
    fd_check(lambda p: F.binary_cross_entropy(p, t64(T), weight=t64(w)), [P])


def test_bce_at_zero_and_one():
    p = t64([0.0, 0.0, 1.0, 1.0, 1e-13, 0.3], True)
    t = t64([0.0, 1.0, 0.0, 1.0, 1.0, 0.7])
    loss = F.binary_cross_entropy(p, t, reduction="none")
    np.testing.assert_allclose(loss.detach().numpy(),
                               [0.0, 100.0, 100.0, 0.0, -math.log(1e-13), bce_np(0.3, 0.7)])
    loss.sum().backward()
    g = p.grad.numpy()  # w (p - t) / max(p (1 - p), 1e-12), PyTorch's formula
    np.testing.assert_allclose(g[:5], [0.0, -1e12, 1e12, 0.0, (1e-13 - 1) / 1e-12])
    np.testing.assert_allclose(g[5], (0.3 - 0.7) / (0.3 * 0.7))
    assert np.isfinite(g).all()


def test_bce_errors():
    with pytest.raises(ValueError, match=r"Using a target size \(torch.Size\(\[3, 1\]\)\) that "
                                         r"is different to the input size \(torch.Size\(\[3\]\)"
                                         r"\) is deprecated. Please ensure they have the same "
                                         r"size."):
        F.binary_cross_entropy(t64([0.5] * 3), t64([[0.5]] * 3))
    with pytest.raises(RuntimeError, match="all elements of input should be between 0 and 1"):
        F.binary_cross_entropy(t64([1.5]), t64([1.0]))
    with pytest.raises(RuntimeError, match="all elements of target should be between 0 and 1"):
        F.binary_cross_entropy(t64([0.5]), t64([2.0]))
    with pytest.raises(ValueError, match=r"Target size \(torch.Size\(\[3, 1\]\)\) must be the "
                                         r"same as input size \(torch.Size\(\[3\]\)\)"):
        F.binary_cross_entropy_with_logits(t64([0.5] * 3), t64([[0.5]] * 3))


def bce_logits_np(x, t, pw=None):
    ls = -np.logaddexp(0, -x)  # log sigmoid
    lw = 1 if pw is None else 1 + (pw - 1) * t
    return (1 - t) * x - lw * ls


def test_bce_with_logits_values_gradients_and_stability():
    pw, w = RNG.random(4) * 3, RNG.random(4)
    out = F.binary_cross_entropy_with_logits(t64(X[:3, :4]), t64(T), weight=t64(w),
                                             pos_weight=t64(pw), reduction="none")
    np.testing.assert_allclose(out.numpy(), bce_logits_np(X[:3, :4], T, pw) * w, rtol=1e-12)
    fd_check(lambda x, t: F.binary_cross_entropy_with_logits(x, t, pos_weight=t64(pw)),
             [X[:3, :4], T])
    x = t64([-1000.0, -200.0, 0.0, 200.0, 1000.0], True)
    loss = F.binary_cross_entropy_with_logits(x, t64([1.0, 0.0, 0.5, 1.0, 0.0]),
                                              reduction="none")
    np.testing.assert_allclose(loss.detach().numpy(), [1000.0, 0.0, math.log(2), 0.0, 1000.0],
                               atol=1e-80)
    loss.sum().backward()
    np.testing.assert_allclose(x.grad.numpy(), [-1.0, 0.0, 0.0, 0.0, 1.0], atol=1e-80)


# ---- cross_entropy and nll_loss ---------------------------------------------------------
def ce_np(x, t, w=None, ignore=-100, reduction="mean", eps=0.0):
    """Reference: class dim 1 (or 0 for 1-D input); t class indices."""
    cdim = 1 if x.ndim >= 2 else 0
    ls = x - x.max(cdim, keepdims=True)
    ls = ls - np.log(np.exp(ls).sum(cdim, keepdims=True))
    c = x.shape[cdim]
    w = np.ones(c) if w is None else w
    valid = t != ignore
    safe = np.where(valid, t, 0)
    picked = np.take_along_axis(ls, np.expand_dims(safe, cdim), cdim).squeeze(cdim)
    wt = w[safe] * valid
    shape = [1] * x.ndim
    shape[cdim] = c
    smooth = -(ls * w.reshape(shape)).sum(cdim) * valid
    per = (1 - eps) * (-picked * wt) + eps / c * smooth
    if reduction == "none":
        return per
    return per.sum() / (wt.sum() if reduction == "mean" else 1)


CE_CASES = [((6, 4), (6,)), ((2, 3, 4, 2), (2, 4, 2)), ((5,), ())]


@pytest.mark.parametrize("xs,ts", CE_CASES)
@pytest.mark.parametrize("reduction", REDUCTIONS)
@pytest.mark.parametrize("weighted", [False, True])
@pytest.mark.parametrize("eps", [0.0, 0.2])
def test_cross_entropy_class_indices(xs, ts, reduction, weighted, eps):
    c = xs[1] if len(xs) > 1 else xs[0]
    x = RNG.standard_normal(xs)
    t = RNG.integers(0, c, ts)
    if t.ndim:
        t.flat[0] = -100  # one ignored target
    w = RNG.random(c) + 0.5 if weighted else None
    kw = dict(weight=None if w is None else t64(w), reduction=reduction, label_smoothing=eps)
    out = F.cross_entropy(t64(x), tg.tensor(t), **kw)
    np.testing.assert_allclose(out.numpy(), ce_np(x, t, w, -100, reduction, eps), rtol=1e-10,
                               atol=1e-12)
    fd_check(lambda a: F.cross_entropy(a, tg.tensor(t), **kw), [x])
    if eps == 0.0:
        out = F.nll_loss(F.log_softmax(t64(x), 1 if x.ndim > 1 else 0), tg.tensor(t),
                         weight=kw["weight"], reduction=reduction)
        np.testing.assert_allclose(out.numpy(), ce_np(x, t, w, -100, reduction), rtol=1e-10,
                                   atol=1e-12)


def test_cross_entropy_ignore_index_value():
    x, t = RNG.standard_normal((4, 3)), np.array([0, 2, 2, 1])
    out = F.cross_entropy(t64(x), tg.tensor(t), ignore_index=2)
    np.testing.assert_allclose(out.item(), ce_np(x, t, ignore=2))


def test_cross_entropy_all_ignored_is_nan_with_zero_grad():
    x = t64(RNG.standard_normal((3, 4)), True)
    for kw in ({}, {"weight": t64([1.0, 2, 3, 4])}, {"label_smoothing": 0.1}):
        loss = F.cross_entropy(x, tg.tensor([-100, -100, -100]), **kw)
        assert math.isnan(loss.item())
        loss.backward()
        np.testing.assert_array_equal(x.grad.numpy(), np.zeros((3, 4)))
        x.grad = None
    assert F.cross_entropy(x, tg.tensor([-100] * 3), reduction="sum").item() == 0.0
    np.testing.assert_array_equal(F.nll_loss(x, tg.tensor([-100] * 3), reduction="none")
                                  .detach().numpy(), np.zeros(3))


@pytest.mark.parametrize("reduction", REDUCTIONS)
@pytest.mark.parametrize("eps", [0.0, 0.3])
def test_cross_entropy_probabilities(reduction, eps):
    x = RNG.standard_normal((3, 4, 2))
    p = RNG.random((3, 4, 2))
    p /= p.sum(1, keepdims=True)
    w = RNG.random(4)
    ls = x - np.log(np.exp(x).sum(1, keepdims=True))
    q = p * (1 - eps) + eps / 4
    per = -(ls * q * w.reshape(1, 4, 1)).sum(1)
    ref = {"none": per, "sum": per.sum(), "mean": per.sum() / 6}[reduction]
    out = F.cross_entropy(t64(x), t64(p), weight=t64(w), reduction=reduction,
                          label_smoothing=eps)
    np.testing.assert_allclose(out.numpy(), ref, rtol=1e-12)
    fd_check(lambda a, b: F.cross_entropy(a, b, reduction=reduction, label_smoothing=eps),
             [x, p])


def test_cross_entropy_is_stable_and_cheap():
    x = tg.tensor([[1000.0, 0.0, -1000.0], [1000.0, 1000.0, 0.0]], requires_grad=True)
    t = tg.tensor([0, 2])
    with recording() as tape:  # a fresh tape: nothing else on it, no compaction
        loss = F.cross_entropy(x, t)
        # leaf load, log_softmax, index constant, gather, neg, mean
        assert 4 <= tape.nrecords <= 6, tape
        np.testing.assert_allclose(loss.item(), (0.0 + 1000.0 + math.log(2)) / 2, rtol=1e-6)
        loss.backward()
    assert np.isfinite(x.grad.numpy()).all()
    np.testing.assert_allclose(x.grad.numpy(), [[0, 0, 0], [0.25, 0.25, -0.5]], atol=1e-7)
    for kw, most in (({"weight": tg.tensor([1.0, 2.0, 3.0])}, 8),  # + target weights, mul
                     ({"label_smoothing": 0.1}, 6),  # log_softmax, constant, mul, sum, div
                     ({"reduction": "none"}, 7)):
        with recording() as tape:
            F.cross_entropy(x, t, **kw)
            assert 4 <= tape.nrecords <= most, (kw, tape)


def test_cross_entropy_no_grad_records_nothing():
    x, t = tg.randn(4, 3), tg.tensor([0, 1, 2, 0])
    tape = current()
    n0 = tape.nrecords
    loss = F.cross_entropy(x, t, weight=tg.tensor([1.0, 2.0, 3.0]), label_smoothing=0.1)
    F.binary_cross_entropy(tg.rand(3), tg.rand(3))
    F.mse_loss(x, x * 2)
    assert tape.nrecords == n0 and loss.grad_fn is None


def test_cross_entropy_errors():
    x = t64(RNG.standard_normal((3, 5)))
    with pytest.raises(IndexError, match=r"^Target 5 is out of bounds\.$"):
        F.cross_entropy(x, tg.tensor([1, 5, 2]))
    with pytest.raises(IndexError, match=r"^Target -3 is out of bounds\.$"):
        F.nll_loss(x, tg.tensor([1, -3, 2]))
    with pytest.raises(ValueError, match=r"Expected input batch_size \(3\) to match target "
                                         r"batch_size \(2\)\."):
        F.cross_entropy(x, tg.tensor([1, 2]))
    with pytest.raises(RuntimeError, match="expected target dtype to be Long or Byte, but got "
                                           "Double"):
        F.cross_entropy(x, t64([1.0, 2.0, 3.0]))
    with pytest.raises(RuntimeError, match="expected target dtype to be Long or Byte, but got "
                                           "Int"):
        F.nll_loss(x, tg.tensor([1, 2, 3], dtype=tg.int32))
    with pytest.raises(RuntimeError, match="0D or 1D target tensor expected, multi-target not "
                                           "supported"):
        F.cross_entropy(x, t64(RNG.random((3, 4))))
    with pytest.raises(RuntimeError, match=r"weight tensor should be defined either for all 5 "
                                           r"classes or no classes but got weight tensor of "
                                           r"shape: \[4\]"):
        F.cross_entropy(x, tg.tensor([1, 2, 3]), weight=t64(np.ones(4)))
    with pytest.raises(RuntimeError, match=r"Expected target size \[2, 4\], got \[2, 3\]"):
        F.nll_loss(t64(np.zeros((2, 3, 4))), tg.tensor([[0, 1, 2], [0, 1, 2]]))
    with pytest.raises(RuntimeError, match="label_smoothing must be between 0.0 and 1.0. Got: "
                                           "1.5"):
        F.cross_entropy(x, tg.tensor([0, 1, 2]), label_smoothing=1.5)
    with pytest.raises(RuntimeError, match="ignore_index is not supported for floating point "
                                           "target"):
        F.cross_entropy(x, t64(np.full((3, 5), 0.2)), ignore_index=1)
    with pytest.raises(RuntimeError, match="expected scalar type Double but found Float"):
        F.cross_entropy(x, tg.tensor([0, 1, 2]), weight=tg.ones(5))
    with pytest.raises(TypeError, match="must be Tensor"):
        F.cross_entropy(x, [0, 1, 2])


# ---- kl_div and the margin / count losses ----------------------------------------------
Q = RNG.random((3, 4))
Q[0, 1] = 0.0  # a zero target contributes 0


@pytest.mark.parametrize("reduction", ["none", "sum", "batchmean"])
def test_kl_div(reduction):
    lp = np.log(RNG.random((3, 4)))
    with np.errstate(divide="ignore", invalid="ignore"):
        per = np.where(Q > 0, Q * (np.log(Q) - lp), 0.0)
    ref = per.sum() / 3 if reduction == "batchmean" else reduce_np(per, reduction)
    np.testing.assert_allclose(F.kl_div(t64(lp), t64(Q), reduction=reduction).numpy(), ref)
    fd_check(lambda a, b: F.kl_div(a, b, reduction=reduction), [lp, Q + 0.1])
    lq = np.log(Q + 0.1)
    per = np.exp(lq) * (lq - lp)
    ref = per.sum() / 3 if reduction == "batchmean" else reduce_np(per, reduction)
    np.testing.assert_allclose(F.kl_div(t64(lp), t64(lq), reduction=reduction, log_target=True)
                               .numpy(), ref)
    fd_check(lambda a, b: F.kl_div(a, b, reduction=reduction, log_target=True), [lp, lq])


def test_kl_div_mean_warns():
    with pytest.warns(UserWarning, match="'batchmean' divides only by the batch size"):
        out = F.kl_div(t64(np.log(Q + 0.1)), t64(Q))
    assert out.shape == ()
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        F.kl_div(t64(np.log(Q + 0.1)), t64(Q), reduction="batchmean")


def test_margin_hinge_soft_margin_poisson():
    a, b = X[0], Y[0]
    y = np.array([1.0, -1.0, 1.0, -1.0, 1.0])
    np.testing.assert_allclose(
        F.margin_ranking_loss(t64(a), t64(b), t64(y), margin=0.3, reduction="none").numpy(),
        np.maximum(0, -y * (a - b) + 0.3))
    fd_check(lambda p, q: F.margin_ranking_loss(p, q, t64(y), margin=0.3), [a, b])
    yh = np.array([1.0, -1.0, 0.5, -1.0, 1.0])
    ref = np.where(yh != 1, np.maximum(0, 1 - a), 0) + np.where(yh != -1, a, 0)
    np.testing.assert_allclose(F.hinge_embedding_loss(t64(a), t64(yh), reduction="none")
                               .numpy(), ref)
    fd_check(lambda p: F.hinge_embedding_loss(p, t64(yh)), [a])
    np.testing.assert_allclose(F.soft_margin_loss(t64(a), t64(y), reduction="none").numpy(),
                               np.log1p(np.exp(-y * a)))
    assert F.soft_margin_loss(t64([-1000.0]), t64([1.0])).item() == 1000.0  # no overflow
    cnt = np.array([0.0, 1.0, 3.0, 2.0, 7.0])
    st = np.where(cnt > 1, cnt * np.log(np.maximum(cnt, 1)) - cnt
                  + 0.5 * np.log(2 * np.pi * np.maximum(cnt, 1)), 0)
    np.testing.assert_allclose(F.poisson_nll_loss(t64(a), t64(cnt), reduction="none").numpy(),
                               np.exp(a) - cnt * a)
    np.testing.assert_allclose(F.poisson_nll_loss(t64(a), t64(cnt), full=True,
                                                  reduction="none").numpy(),
                               np.exp(a) - cnt * a + st)
    pos = np.abs(a) + 0.1
    np.testing.assert_allclose(F.poisson_nll_loss(t64(pos), t64(cnt), log_input=False,
                                                  reduction="sum").numpy(),
                               (pos - cnt * np.log(pos + 1e-8)).sum())
    fd_check(lambda p: F.poisson_nll_loss(p, t64(cnt), full=True), [a])
    with pytest.raises(RuntimeError, match="All input tensors should have same dimension"):
        F.margin_ranking_loss(t64(a), t64(b), t64(y[:, None]))


# ---- against PyTorch ----------------------------------------------------------------------
@pytest.fixture
def torch_ref():
    return pytest.importorskip("torch")


def both(torch_ref, prog, dtype, rtol):
    """prog(m, F, dt) -> (output, leaves) run with tapegrad and PyTorch: the same values and
    the same gradients of (output * v).sum()."""
    res = []
    for m, fm, dt in ((tg, F, getattr(tg, dtype)),
                      (torch_ref, torch_ref.nn.functional, getattr(torch_ref, dtype))):
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            out, leaves = prog(m, fm, dt)
        v = np.random.default_rng(1).standard_normal(tuple(out.shape))
        (out * m.tensor(v, dtype=dt)).sum().backward()
        res.append((out.detach().numpy(), [lf.grad.numpy() for lf in leaves]))
    (a, ga), (b, gb) = res
    np.testing.assert_allclose(a, b, rtol=rtol, atol=rtol)
    for x, y in zip(ga, gb):
        np.testing.assert_allclose(x, y, rtol=rtol, atol=rtol)


def _leaf(m, a, dt):
    return m.tensor(np.asarray(a), dtype=dt, requires_grad=True)


W45 = RNG.random((4, 5))
X2 = RNG.standard_normal((2, 3, 2, 2))
# name -> prog(m, F, dt, reduction, leaf): leaf(a) makes a leaf whose gradient is compared
LOSS_PROGS = {
    "mse": lambda m, f, dt, red, lf: f.mse_loss(lf(X), m.tensor(Y, dtype=dt), reduction=red),
    "mse_w": lambda m, f, dt, red, lf: f.mse_loss(lf(X), m.tensor(Y, dtype=dt), reduction=red,
                                                  weight=m.tensor(W45, dtype=dt)),
    "l1": lambda m, f, dt, red, lf: f.l1_loss(lf(X), m.tensor(Y, dtype=dt), reduction=red),
    "huber": lambda m, f, dt, red, lf: f.huber_loss(lf(X), m.tensor(Y, dtype=dt),
                                                    reduction=red, delta=0.7),
    "huber_w": lambda m, f, dt, red, lf: f.huber_loss(lf(X), m.tensor(Y, dtype=dt),
                                                      reduction=red, delta=0.7,
                                                      weight=m.tensor(W45, dtype=dt)),
    "smooth_l1": lambda m, f, dt, red, lf: f.smooth_l1_loss(lf(X), m.tensor(Y, dtype=dt),
                                                            reduction=red, beta=0.7),
    "bce": lambda m, f, dt, red, lf: f.binary_cross_entropy(
        lf(np.r_[P.ravel(), 0.0, 1.0, 0.0, 1.0]),
        m.tensor(np.r_[T.ravel(), 0.0, 1.0, 1.0, 0.0], dtype=dt), reduction=red),
    "bce_w": lambda m, f, dt, red, lf: f.binary_cross_entropy(
        lf(P), lf(T), weight=m.tensor(Q[0], dtype=dt), reduction=red),
    "bce_logits": lambda m, f, dt, red, lf: f.binary_cross_entropy_with_logits(
        lf(X[:3, :4] * 30), lf(T), weight=m.tensor(Q[1], dtype=dt),
        pos_weight=m.tensor(Q[2] * 3, dtype=dt), reduction=red),
    "ce": lambda m, f, dt, red, lf: f.cross_entropy(lf(X), m.tensor([0, 4, -100, 2]),
                                                    reduction=red),
    "ce_1d": lambda m, f, dt, red, lf: f.cross_entropy(lf(X[0]), m.tensor(3), reduction=red),
    "ce_w_ls": lambda m, f, dt, red, lf: f.cross_entropy(
        lf(X), m.tensor([0, 4, -100, 2]), weight=m.tensor(W45[0], dtype=dt), reduction=red,
        label_smoothing=0.15),
    "ce_nd": lambda m, f, dt, red, lf: f.cross_entropy(
        lf(X2), m.tensor([[[0, 1], [2, 1]], [[1, 1], [0, 2]]]), reduction=red, ignore_index=1,
        weight=m.tensor([0.5, 1.0, 2.0], dtype=dt)),
    "ce_probs": lambda m, f, dt, red, lf: f.cross_entropy(
        lf(X), lf(np.abs(Y) / np.abs(Y).sum(1, keepdims=True)), reduction=red,
        label_smoothing=0.1, weight=m.tensor(W45[1], dtype=dt)),
    "nll": lambda m, f, dt, red, lf: f.nll_loss(
        lf(X), m.tensor([0, 4, 3, 2]), weight=m.tensor(np.arange(1.0, 6.0), dtype=dt),
        reduction=red),
    "kl": lambda m, f, dt, red, lf: f.kl_div(lf(X[:3, :4]), m.tensor(Q, dtype=dt),
                                             reduction=red),
    "kl_log": lambda m, f, dt, red, lf: f.kl_div(lf(X[:3, :4]), lf(np.log(Q + 0.1)),
                                                 reduction=red, log_target=True),
    "kl_tgrad": lambda m, f, dt, red, lf: f.kl_div(lf(X[:3, :4]), lf(Q + 0.1), reduction=red),
    "margin": lambda m, f, dt, red, lf: f.margin_ranking_loss(
        lf(X[0]), lf(Y[0]), m.tensor([1.0, -1, 1, -1, 1], dtype=dt), margin=0.2,
        reduction=red),
    "hinge": lambda m, f, dt, red, lf: f.hinge_embedding_loss(
        lf(X[0]), m.tensor([1.0, -1, 0.5, -1, 1], dtype=dt), reduction=red),
    "soft_margin": lambda m, f, dt, red, lf: f.soft_margin_loss(
        lf(X[0]), m.tensor([1.0, -1, 1, -1, 1], dtype=dt), reduction=red),
    "poisson": lambda m, f, dt, red, lf: f.poisson_nll_loss(
        lf(X[0]), m.tensor([0.0, 1, 3, 2, 7], dtype=dt), full=True, reduction=red),
    "poisson_lin": lambda m, f, dt, red, lf: f.poisson_nll_loss(
        lf(np.abs(X[0]) + 0.1), m.tensor([0.0, 1, 3, 2, 7], dtype=dt), log_input=False,
        reduction=red),
}


def run_prog(prog, reduction):
    """prog as both() runs it: the leaves it makes are the ones compared."""
    def wrapped(m, f, dt):
        made = []

        def lf(a):
            made.append(_leaf(m, a, dt))
            return made[-1]

        return prog(m, f, dt, reduction, lf), made

    return wrapped


@pytest.mark.torch
@pytest.mark.parametrize("name", sorted(LOSS_PROGS))
@pytest.mark.parametrize("reduction", REDUCTIONS)
@pytest.mark.parametrize("dtype,rtol", [("float32", 2e-5), ("float64", 1e-10)])
def test_losses_match_torch(torch_ref, name, reduction, dtype, rtol):
    both(torch_ref, run_prog(LOSS_PROGS[name], reduction), dtype, rtol)


@pytest.mark.torch
def test_bce_edges_match_torch(torch_ref):
    for dtype in ("float32", "float64"):
        both(torch_ref, lambda m, f, dt: (lambda p: (f.binary_cross_entropy(
            p, m.tensor([0.0, 1.0, 0.0, 1.0, 1.0, 0.0], dtype=dt), reduction="none"), [p]))(
            _leaf(m, [0.0, 0.0, 1.0, 1.0, 1e-13, 0.5], dt)), dtype, 1e-6)


@pytest.mark.torch
def test_error_classes_match_torch(torch_ref):
    cases = [
        lambda m, f: f.cross_entropy(m.zeros(3, 5), m.tensor([1, 5, 2])),
        lambda m, f: f.cross_entropy(m.zeros(3, 5), m.tensor([1, 2])),
        lambda m, f: f.cross_entropy(m.zeros(3, 5), m.tensor([1.0, 2.0, 3.0])),
        lambda m, f: f.cross_entropy(m.zeros(3, 5), m.tensor([1, 2, 3]), weight=m.ones(4)),
        lambda m, f: f.binary_cross_entropy(m.full((3,), 0.5), m.full((3, 1), 0.5)),
        lambda m, f: f.binary_cross_entropy(m.tensor([1.5]), m.tensor([1.0])),
        lambda m, f: f.binary_cross_entropy_with_logits(m.zeros(3), m.zeros(3, 1)),
        lambda m, f: f.mse_loss(m.zeros(3), m.zeros(3), reduction="avg"),
        lambda m, f: f.huber_loss(m.zeros(3), m.zeros(3), delta=0.0),
        lambda m, f: f.nll_loss(m.zeros(2, 3, 4), m.tensor([[0, 1, 2], [0, 1, 2]])),
    ]
    for case in cases:
        got = []
        for m in (tg, torch_ref):
            with pytest.raises(Exception) as e:
                case(m, m.nn.functional)
            got.append((type(e.value).__name__, str(e.value).split("\n")[0][:40]))
        assert got[0] == got[1]
