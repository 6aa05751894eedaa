"""What the third batch of tutorials (tests/tutorials/t3a_*.py) needed: PyTorch's grad_fn
nodes for smoothed and soft-target cross-entropy, soft_margin_loss and the order
statistics (sort, topk, kthvalue, median, mode); PyTorch's dtype names in the matmul and
linear messages; uint8 class targets; the dtype checks of the binary cross-entropies; the
missing losses (cosine_embedding_loss, multilabel_soft_margin_loss, multi_margin_loss,
gaussian_nll_loss and their modules); Tensor.type with a legacy tensor type.

Expected values are NumPy formulas or numbers worked out by hand, gradients are checked by
central differences; the torch-marked tests compare with PyTorch on the same inputs."""

import math

import numpy as np
import pytest

import tapegrad as tg
import tapegrad.nn.functional as F
from tapegrad import nn
from fdcheck import fd_check, t64

RNG = np.random.default_rng(3)
X = RNG.standard_normal((4, 3))
Y = np.array([2, 0, 1, 1])
T01 = np.array([[1.0, 0, 1], [0, 0, 1], [1, 1, 1], [0, 0, 0]])


def _name(t) -> str:
    return t.grad_fn.name()


def _log_softmax(x):
    m = x.max(1, keepdims=True)
    return x - m - np.log(np.exp(x - m).sum(1, keepdims=True))


def _logsig(x):
    return -np.logaddexp(0.0, -x)


# ---- grad_fn names ------------------------------------------------------------------------
@pytest.mark.parametrize("reduction", ["mean", "sum", "none"])
def test_smoothed_cross_entropy_is_an_add_node_with_unchanged_value(reduction):
    x = t64(X, True)
    out = F.cross_entropy(x, tg.tensor(Y), label_smoothing=0.2, reduction=reduction)
    assert _name(out) == "AddBackward0"
    lp = _log_softmax(X)
    per = -(0.8 * lp[np.arange(4), Y] + 0.2 * lp.mean(1))
    want = {"mean": per.mean(), "sum": per.sum(), "none": per}[reduction]
    np.testing.assert_allclose(out.detach().numpy(), want, rtol=1e-12)
    assert out.grad_fn.next_functions[0][0].name() == "LogSoftmaxBackward0"
    fd_check(lambda a: F.cross_entropy(a, tg.tensor(Y), label_smoothing=0.2,
                                       reduction=reduction), [X])


def test_soft_target_cross_entropy_nodes():
    q = np.exp(_log_softmax(X[::-1].copy()))
    x = t64(X, True)
    mean = F.cross_entropy(x, t64(q))
    assert _name(mean) == "DivBackward1"  # a division by a Scalar
    np.testing.assert_allclose(mean.item(), -(q * _log_softmax(X)).sum() / 4, rtol=1e-12)
    assert _name(F.cross_entropy(x, t64(q), reduction="sum")) == "NegBackward0"
    assert _name(F.cross_entropy(x, t64(q), reduction="none")) == "NegBackward0"
    mean.backward()
    np.testing.assert_allclose(x.grad.numpy(), (np.exp(_log_softmax(X)) - q) / 4, rtol=1e-10)


def test_soft_margin_loss_node():
    t = np.where(T01 > 0, 1.0, -1.0)
    for red in ("mean", "sum", "none"):
        out = F.soft_margin_loss(t64(X, True), t64(t), reduction=red)
        assert _name(out) == "SoftMarginLossBackward0"
    np.testing.assert_allclose(nn.SoftMarginLoss()(t64(X), t64(t)).item(),
                               np.log1p(np.exp(-t * X)).mean(), rtol=1e-12)


def test_order_statistics_have_pytorchs_nodes_and_gradients():
    x = tg.tensor([[3.0, 1.0, 2.0], [0.5, 4.0, -1.0]], requires_grad=True)
    cases = {
        "SortBackward0": [tg.sort(x, 1)[0], x.sort(descending=True).values, tg.msort(x)],
        "SortBackward1": [tg.sort(x, stable=True, dim=1)[0]],
        "TopkBackward0": [tg.topk(x, 2)[0], x.topk(1, largest=False, sorted=False).values],
        "KthvalueBackward0": [tg.kthvalue(x, 2)[0]],
        "MedianBackward0": [tg.median(x)], "MedianBackward1": [tg.median(x, 1)[0],
                                                               x.median(1, keepdim=True)[0]],
        "NanmedianBackward0": [tg.nanmedian(x)], "NanmedianBackward1": [tg.nanmedian(x, 0)[0]],
        "ModeBackward0": [tg.mode(x, 1)[0]],
    }
    for name, outs in cases.items():
        for out in outs:
            assert _name(out) == name
            assert type(out.grad_fn.next_functions[0][0]).__name__ == "AccumulateGrad"
    s = tg.tensor(2.0, requires_grad=True)
    assert [_name(f(s)) for f in (lambda v: tg.sort(v)[0], lambda v: tg.topk(v, 1)[0],
                                  tg.median, lambda v: tg.median(v, 0)[0],
                                  lambda v: tg.kthvalue(v, 1)[0], lambda v: tg.mode(v)[0])] == \
        ["SortBackward0", "TopkBackward0", "MedianBackward0", "MedianBackward1",
         "KthvalueBackward0", "ModeBackward0"]
    v, i = tg.topk(x, 2)
    assert v.tolist() == [[3.0, 2.0], [4.0, 0.5]] and i.tolist() == [[0, 2], [1, 0]]
    (v.sum() + tg.median(x * 2, 1)[0].sum()).backward()
    assert x.grad.tolist() == [[1.0, 0.0, 3.0], [3.0, 1.0, 0.0]]
    top = tg.topk(x * 2, 1)[0]
    assert _name(top) == "TopkBackward0"
    assert top.grad_fn.next_functions[0][0].name() == "MulBackward0"
    with tg.no_grad():
        assert tg.sort(x)[0].grad_fn is None


# ---- messages -------------------------------------------------------------------------------
def test_matmul_and_linear_name_dtypes_as_pytorch():
    d, f = tg.ones(2, 3, dtype=tg.float64), tg.ones(4, 3)
    with pytest.raises(RuntimeError, match="must have the same dtype, but got Double and Float"):
        F.linear(d, f, tg.ones(4))
    with pytest.raises(RuntimeError, match="same dtype, but got: double != float$"):
        d @ f.T
    with pytest.raises(RuntimeError, match="but got: long int != float$"):
        tg.mm(tg.ones(2, 2, dtype=tg.int64), tg.ones(2, 2))
    with pytest.raises(RuntimeError, match="but got Long and Float"):
        nn.Linear(2, 3)(tg.ones(3, 2, dtype=tg.int64))


# ---- targets --------------------------------------------------------------------------------
def test_uint8_class_targets():
    x = t64(X, True)
    t8 = tg.tensor(Y, dtype=tg.uint8)
    want = -_log_softmax(X)[np.arange(4), Y]
    np.testing.assert_allclose(F.cross_entropy(x, t8).item(), want.mean(), rtol=1e-12)
    np.testing.assert_allclose(F.nll_loss(x, t8, reduction="none").detach().numpy(),
                               -X[np.arange(4), Y], rtol=1e-12)
    assert _name(nn.CrossEntropyLoss()(x, t8)) == "NllLossBackward0"
    np.testing.assert_allclose(F.cross_entropy(x, t8, label_smoothing=0.1).item(),
                               F.cross_entropy(x, tg.tensor(Y), label_smoothing=0.1).item())
    with pytest.raises(RuntimeError, match="expected target dtype to be Long or Byte, but got "
                                           "Int"):
        F.cross_entropy(x, tg.tensor(Y, dtype=tg.int32))


def test_binary_cross_entropy_targets_of_another_dtype_raise():
    p, x = tg.tensor([0.3, 0.6], requires_grad=True), tg.tensor([0.3, -0.6])
    for t, name in ((tg.tensor([1, 0]), "Long"), (tg.tensor([True, False]), "Bool"),
                    (tg.tensor([1.0, 0.0], dtype=tg.float64), "Double")):
        with pytest.raises(RuntimeError, match=f"^Found dtype {name} but expected Float"):
            nn.BCELoss()(p, t)
    with pytest.raises(RuntimeError, match="^result type Float can't be cast to the desired "
                                           "output type Long"):
        nn.BCEWithLogitsLoss()(x, tg.tensor([1, 0]))
    with pytest.raises(RuntimeError, match="^Subtraction, the `-` operator, with two bool"):
        F.binary_cross_entropy_with_logits(x, tg.tensor([True, False]))
    out = F.binary_cross_entropy_with_logits(x, tg.tensor([1.0, 0.0], dtype=tg.float64))
    assert out.dtype == tg.float64  # a float target of another width is still fine
    np.testing.assert_allclose(out.item(), -(_logsig(0.3) + _logsig(0.6)) / 2, rtol=1e-6)


# ---- new losses -------------------------------------------------------------------------------
def test_cosine_embedding_loss_is_in_functional():
    a, b = X[:, :2], X[::-1, 1:].copy()
    target = np.array([1, -1, 1, -1])
    cos = (a * b).sum(1) / np.sqrt(((a * a).sum(1) + 1e-12) * ((b * b).sum(1) + 1e-12))
    want = np.where(target == 1, 1 - cos, np.maximum(cos - 0.2, 0))
    out = F.cosine_embedding_loss(t64(a), t64(b), tg.tensor(target), margin=0.2,
                                  reduction="none")
    np.testing.assert_allclose(out.numpy(), want, rtol=1e-12)
    m = nn.CosineEmbeddingLoss(margin=0.2)
    np.testing.assert_allclose(m(t64(a), t64(b), tg.tensor(target)).item(), want.mean())
    fd_check(lambda u, v: F.cosine_embedding_loss(u, v, tg.tensor(target), margin=0.2), [a, b])


def _mlsm(x, t, w=None):
    terms = -(t * _logsig(x) + (1 - t) * _logsig(-x))
    return (terms * (1 if w is None else w)).mean(1)


def test_multilabel_soft_margin_loss():
    w = np.array([0.5, 2.0, 1.0])
    for red, f in (("mean", np.mean), ("sum", np.sum), ("none", lambda v: v)):
        out = F.multilabel_soft_margin_loss(t64(X, True), t64(T01), weight=t64(w),
                                            reduction=red)
        np.testing.assert_allclose(out.detach().numpy(), f(_mlsm(X, T01, w)), rtol=1e-12)
    assert _name(out) == "DivBackward0"
    np.testing.assert_allclose(nn.MultiLabelSoftMarginLoss()(t64(X), t64(T01)).item(),
                               _mlsm(X, T01).mean(), rtol=1e-12)
    assert repr(nn.MultiLabelSoftMarginLoss()) == "MultiLabelSoftMarginLoss()"
    assert "weight" in dict(nn.MultiLabelSoftMarginLoss(weight=t64(w)).named_buffers())
    fd_check(lambda a: F.multilabel_soft_margin_loss(a, t64(T01), weight=t64(w)), [X])


def _mm(x, y, p=1, margin=1.0, weight=None):
    n, c = x.shape
    out = np.zeros(n)
    for i in range(n):
        for j in range(c):
            if j != y[i]:
                z = max(0.0, margin - x[i, y[i]] + x[i, j]) ** p
                out[i] += z * (1 if weight is None else weight[y[i]])
    return out / c


def test_multi_margin_loss_values_gradients_and_checks():
    w = np.array([0.5, 2.0, 1.0])
    for kw in ({}, {"p": 2, "margin": 0.7, "weight": w}):
        args = dict(kw, weight=t64(kw["weight"])) if "weight" in kw else kw
        out = F.multi_margin_loss(t64(X, True), tg.tensor(Y), reduction="none", **args)
        np.testing.assert_allclose(out.detach().numpy(), _mm(X, Y, **kw), rtol=1e-12)
        assert _name(out) == "MultiMarginLossBackward0"
        fd_check(lambda a: F.multi_margin_loss(a, tg.tensor(Y), **args), [X])
    # one sample: a vector and a 0-d (or one-element) target
    v = X[0]
    want = _mm(v[None], np.array([1]))[0]
    assert F.multi_margin_loss(t64(v), tg.tensor(1)).item() == pytest.approx(want, rel=1e-12)
    assert F.multi_margin_loss(t64(v), tg.tensor([1])).item() == pytest.approx(want, rel=1e-12)
    m = nn.MultiMarginLoss(p=2, margin=0.5, weight=t64(w))
    assert repr(m) == "MultiMarginLoss()" and list(m.state_dict()) == ["weight"]
    assert m(t64(X), tg.tensor(Y)).item() == pytest.approx(
        _mm(X, Y, 2, 0.5, w).mean(), rel=1e-12)
    with pytest.raises(ValueError, match="only p == 1 and p == 2 supported"):
        F.multi_margin_loss(t64(X), tg.tensor(Y), p=3)
    with pytest.raises(ValueError, match="only p == 1 and p == 2 supported"):
        nn.MultiMarginLoss(p=0)
    with pytest.raises(RuntimeError, match="^target out of range"):
        F.multi_margin_loss(t64(X), tg.tensor([0, 1, 2, 3]))
    with pytest.raises(RuntimeError, match="^inconsistent weight size, expected 3 but got"):
        F.multi_margin_loss(t64(X), tg.tensor(Y), weight=tg.ones(2, dtype=tg.float64))
    with pytest.raises(RuntimeError, match="Expected non-empty vector or matrix"):
        F.multi_margin_loss(t64(X).reshape(2, 2, 3), tg.tensor(Y))


def _gnll(mu, t, var, eps=1e-6, full=False):
    v = np.maximum(var, eps)
    return 0.5 * (np.log(v) + (mu - t) ** 2 / v) + (0.5 * math.log(2 * math.pi) if full else 0)


def test_gaussian_nll_loss_values_shapes_and_clamp():
    var = np.array([0.5, 1e-8, 2.0, 0.1])
    cases = [(var.reshape(4, 1), var.reshape(4, 1)), (var, var.reshape(4, 1)),
             (np.full((4, 3), 0.3), np.full((4, 3), 0.3))]
    for given, used in cases:
        for red, f in (("mean", np.mean), ("sum", np.sum), ("none", lambda a: a)):
            out = F.gaussian_nll_loss(t64(X), t64(T01), t64(given), reduction=red)
            np.testing.assert_allclose(out.numpy(), f(_gnll(X, T01, used)), rtol=1e-12)
    out = F.gaussian_nll_loss(t64(X), t64(T01), 0.5, full=True, reduction="none")
    np.testing.assert_allclose(out.numpy(), _gnll(X, T01, 0.5, full=True), rtol=1e-12)
    # the clamp passes the gradient to var unchanged: d/dv at the clamped value v = eps
    mu, v = t64(X, True), t64(var.reshape(4, 1), True)
    F.gaussian_nll_loss(mu, t64(T01), v, reduction="sum").backward()
    vc = np.maximum(var, 1e-6).reshape(4, 1)
    want = (0.5 / vc - 0.5 * (X - T01) ** 2 / vc ** 2).sum(1, keepdims=True)
    np.testing.assert_allclose(v.grad.numpy(), want, rtol=1e-10)
    np.testing.assert_allclose(mu.grad.numpy(), (X - T01) / vc, rtol=1e-10)
    fd_check(lambda a, s: F.gaussian_nll_loss(a, t64(T01), s), [X, np.full((4, 1), 0.7)])
    m = nn.GaussianNLLLoss(full=True, eps=0.1)
    assert repr(m) == "GaussianNLLLoss()" and (m.full, m.eps) == (True, 0.1)
    assert m(t64(X), t64(T01), t64(var.reshape(4, 1))).item() == pytest.approx(
        _gnll(X, T01, var.reshape(4, 1), eps=0.1, full=True).mean(), rel=1e-12)
    with pytest.raises(ValueError, match="^var has negative entry/entries"):
        F.gaussian_nll_loss(t64(X), t64(T01), -t64(var))
    with pytest.raises(ValueError, match="^var has negative entry/entries"):
        F.gaussian_nll_loss(t64(X), t64(T01), -1.0)
    with pytest.raises(ValueError, match="^var is of incorrect size"):
        F.gaussian_nll_loss(t64(X), t64(T01), tg.ones(3, 4, dtype=tg.float64))
    with pytest.raises(ValueError, match="avg is not valid"):
        F.gaussian_nll_loss(t64(X), t64(T01), t64(var), reduction="avg")


# ---- Tensor.type ------------------------------------------------------------------------------
def test_tensor_type_takes_legacy_tensor_types():
    x = tg.tensor([1, 2])
    assert x.type(tg.FloatTensor).dtype == tg.float32
    assert x.type(tg.FloatTensor).tolist() == [1.0, 2.0]
    assert x.type("torch.DoubleTensor").dtype == tg.float64
    assert x.float().type(tg.LongTensor).dtype == tg.int64
    assert x.type("torch.BoolTensor").tolist() == [True, True]
    assert x.type(tg.int32).dtype == tg.int32 and x.type() == "torch.LongTensor"
    with pytest.raises(ValueError, match="^invalid type: 'torch.cuda.FloatTensor'"):
        x.type("torch.cuda.FloatTensor")


# ---- against PyTorch ------------------------------------------------------------------------
@pytest.mark.torch
def test_new_losses_and_nodes_match_pytorch():
    torch = pytest.importorskip("torch")
    tF = torch.nn.functional

    def both(fn):
        a, b = tg.tensor(X, requires_grad=True), torch.tensor(X, requires_grad=True)
        ra, rb = fn(tg, F, a), fn(torch, tF, b)
        ra.sum().backward()
        rb.sum().backward()
        np.testing.assert_allclose(ra.detach().numpy(), rb.detach().numpy(), rtol=1e-10)
        np.testing.assert_allclose(a.grad.numpy(), b.grad.numpy(), rtol=1e-9, atol=1e-12)
        assert ra.grad_fn.name() == rb.grad_fn.name()

    w = [0.5, 2.0, 1.0]
    var = [[0.5], [1e-9], [2.0], [0.1]]
    for red in ("mean", "sum", "none"):
        both(lambda m, f, x: f.multilabel_soft_margin_loss(x, m.tensor(T01), reduction=red))
        both(lambda m, f, x: f.multi_margin_loss(x, m.tensor(Y), p=2, margin=0.3, reduction=red,
                                                 weight=m.tensor(w, dtype=m.float64)))
        both(lambda m, f, x: f.gaussian_nll_loss(x, m.tensor(T01), m.tensor(var, dtype=m.float64),
                                                 reduction=red))
        both(lambda m, f, x: f.cross_entropy(x, m.tensor(Y, dtype=m.uint8), label_smoothing=0.3,
                                             reduction=red))
        both(lambda m, f, x: f.soft_margin_loss(x, m.tensor(T01) * 2 - 1, reduction=red))
        both(lambda m, f, x: f.cosine_embedding_loss(x, x.flip(0), m.tensor([1, -1, 1, -1]),
                                                     margin=0.1, reduction=red))
    both(lambda m, f, x: m.topk(x, 2)[0])
    both(lambda m, f, x: m.sort(x, 1, True)[0])
    both(lambda m, f, x: m.median(x, 0)[0])
    both(lambda m, f, x: m.kthvalue(x, 2)[0])
