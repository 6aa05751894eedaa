"""tapegrad/composite2.py, contract.py and _axis.py: order statistics, running products,
rounding, elementwise composites, index_add, histc, einsum & co, metadata and axis=.
Fixed values and finite differences always; the same expressions against PyTorch when it is
installed."""

import math

import numpy as np
import pytest

import tapegrad as tg
from fdcheck import fd_check

# expressions over x (3, 4) float64 (uniform in (0.05, 0.95), requiring grad) and module m
CASES = [
    "m.kthvalue(x, 2, 1)[0]", "m.kthvalue(x, 1, 0, keepdim=True).values", "m.median(x)",
    "m.median(x, 1)[0]", "m.nanmedian(x, 0).values", "m.mode(x, 1)[0]", "x.median(axis=0)[0]",
    "m.cumprod(x, 1)", "m.cumprod(x - 0.5, 0)", "x.cumprod(-1)", "m.logcumsumexp(x, 1)",
    "m.cummax(x, 1)[0]", "m.cummin(x, 0).values",
    "m.hypot(x, x[0] - 0.5)", "m.logaddexp(x, x[:, :1] * 3)", "m.logaddexp2(x, 1 - x)",
    "m.frac(x * 3)", "m.floor(x * 3)", "m.ceil(x * 3)", "m.trunc(x * 3 - 1)", "m.round(x * 3)",
    "m.round(x * 3, decimals=1)", "x.round(decimals=-1) + x",
    "m.div(x, x[0] + 0.1, rounding_mode='floor')", "m.div(x * 7, 2, rounding_mode='trunc')",
    "m.index_add(x, 1, m.tensor([0, 2, 0]), x[:, :3] * 2)",
    "m.index_add(x, 0, m.tensor([2, 2]), x[:2], alpha=0.5)",
    "x.sum(axis=1)", "x.mean(axis=0)", "m.cat([x, x], axis=1)", "x.std(axis=1)",
    "m.sum(x * x, axis=(0, 1))", "x.softmax(axis=0)", "m.amax(x, axis=1)",
    "m.einsum('ij,kj->ik', x, x)", "m.einsum('ij->', x)", "m.einsum('ii->i', x[:, :3])",
    "m.einsum('i,j->ij', x[0], x[1])", "m.einsum('ji', x)", "m.einsum('ij,ij->i', x, x)",
    "m.einsum('bij,bjk->bik', x.reshape(3, 2, 2), x.reshape(3, 2, 2))",
    "m.einsum('...j,j->...', x, x[0])", "m.einsum('ij,jk,kl->il', x, x.T, x)",
    "m.einsum('ij,kl->', x[:2], x[1:])", "m.einsum('i j , j -> i', [x, x[0]])",
    "m.einsum('bi,bi->b', x, x[:1])",
    "m.tensordot(x, x, ([1], [1]))", "m.tensordot(x.reshape(3, 2, 2), x.reshape(2, 2, 3), 2)",
    "m.tensordot(x, x[0], 1)",
    "m.kron(x[:2, :2], x[1:, 2:])", "m.kron(x[0], x[:, 0])", "m.diag_embed(x)",
    "m.diag_embed(x, 1)", "m.diag_embed(x, -1, 0, 2)",
]


def _x(m, dtype):
    v = np.random.default_rng(3).uniform(0.05, 0.95, (3, 4))
    return m.tensor(v, dtype=dtype, requires_grad=True)


def _run(m, expr, x):
    return eval(expr, {"m": m, "x": x})


@pytest.mark.parametrize("expr", CASES)
def test_gradient_matches_finite_differences(expr):
    x = _x(tg, tg.float64)
    out = _run(tg, expr, x)
    assert out.requires_grad
    v = np.random.default_rng(4).standard_normal(out.shape)
    (out * tg.tensor(v)).sum().backward()
    base = x.detach().numpy().copy()
    num = np.zeros_like(base)
    for j in np.ndindex(base.shape):
        vals = []
        for h in (1e-6, -1e-6):
            b = base.copy()
            b[j] += h
            with tg.no_grad():
                vals.append(float(np.sum(_run(tg, expr, tg.tensor(b)).numpy() * v)))
        num[j] = (vals[0] - vals[1]) / 2e-6
    np.testing.assert_allclose(x.grad.numpy(), num, rtol=1e-6, atol=1e-6)


def test_cumprod_gradient_through_zeros_and_second_derivative():
    a = np.array([[2.0, 0.0, 3.0, 0.5, 0.0, 1.5], [0.0, 1.0, -2.0, 0.0, 4.0, 1.0]])
    fd_check(lambda t: tg.cumprod(t, 1), [a])
    x = tg.tensor(a, requires_grad=True)
    (g,) = tg.autograd.grad(tg.cumprod(x, 1).sum(), x, create_graph=True)
    w = np.random.default_rng(0).standard_normal(a.shape)
    (h,) = tg.autograd.grad((g * tg.tensor(w)).sum(), x)

    def grad_at(b):
        xb = tg.tensor(b, requires_grad=True)
        tg.cumprod(xb, 1).sum().backward()
        return (xb.grad.numpy() * w).sum()

    num = np.zeros_like(a)
    for j in np.ndindex(a.shape):
        b1, b2 = a.copy(), a.copy()
        b1[j] += 1e-6
        b2[j] -= 1e-6
        num[j] = (grad_at(b1) - grad_at(b2)) / 2e-6
    np.testing.assert_allclose(h.numpy(), num, rtol=1e-5, atol=1e-6)


def test_order_statistics_fixed_values():
    t = tg.tensor([[1.0, 2.0, 2.0, 1.0, 3.0], [5.0, 5.0, 4.0, 4.0, 4.0]])
    assert tg.mode(t, 1).values.tolist() == [1.0, 4.0]
    assert tg.mode(t, 1).indices.tolist() == [3, 4]  # the last occurrence
    assert tg.median(tg.tensor([3.0, 1.0, 2.0, 4.0])).item() == 2.0  # the lower median
    r = tg.median(tg.tensor([[1.0, math.nan, 0.0], [2.0, 1.0, 3.0]]), 1)
    assert math.isnan(r.values[0].item()) and r.indices.tolist() == [1, 0]
    assert tg.nanmedian(tg.tensor([1.0, math.nan, 3.0, 2.0])).item() == 2.0
    k = tg.kthvalue(tg.tensor([[4.0, 1.0, 3.0], [0.0, 9.0, 8.0]]), 2)
    assert k.values.tolist() == [3.0, 8.0] and k.indices.tolist() == [2, 2]
    c = tg.cummax(tg.tensor([1.0, 3.0, 3.0, 2.0, 3.0]), 0)
    assert c.values.tolist() == [1.0, 3.0, 3.0, 3.0, 3.0]
    assert c.indices.tolist() == [0, 1, 2, 2, 4]  # ties: the latest index
    assert tg.cummin(tg.tensor([3, 1, 2]), 0).values.tolist() == [3, 1, 1]
    v = np.random.default_rng(1).standard_normal((3, 5))
    np.testing.assert_allclose(tg.cumprod(tg.tensor(v), 1).numpy(), np.cumprod(v, 1))
    np.testing.assert_allclose(tg.logcumsumexp(tg.tensor(v), 0).numpy(),
                               np.logaddexp.accumulate(v, 0))
    assert tg.cumprod(tg.tensor([1, 2, 3]), 0).tolist() == [1, 2, 6]
    assert tg.cumprod(tg.tensor([1, 2, 3]), 0).dtype == tg.int64


def test_rounding_and_division_fixed_values():
    r = tg.round(tg.tensor([1.2345, -2.5, 1234.5]), decimals=2).tolist()
    np.testing.assert_allclose(r, [1.23, -2.5, 1234.5], rtol=1e-6)
    assert tg.round(tg.tensor([1234.5, 1250.0]), decimals=-2).tolist() == [1200.0, 1200.0]
    x = tg.tensor([math.inf, -1.5, 2.5], requires_grad=True)
    for f, want in ((tg.floor, [math.inf, -2.0, 2.0]), (tg.ceil, [math.inf, -1.0, 3.0]),
                    (tg.trunc, [math.inf, -1.0, 2.0]), (tg.round, [math.inf, -2.0, 2.0])):
        y = f(x)
        assert y.tolist() == want and y.requires_grad
        y.sum().backward()
        assert x.grad.tolist() == [0.0, 0.0, 0.0]
    assert tg.frac(tg.tensor([-1.25, 2.5])).tolist() == [-0.25, 0.5]
    assert tg.trunc(tg.tensor([2, -3])).tolist() == [2, -3]
    i = tg.tensor([-7, 7])
    assert tg.div(i, 2, rounding_mode="trunc").tolist() == [-3, 3]
    assert tg.div(i, 2, rounding_mode="floor").tolist() == [-4, 3]
    assert tg.div(i, 2, rounding_mode="floor").dtype == tg.int64
    assert i.div(2.0, rounding_mode="floor").tolist() == [-4.0, 3.0]
    assert tg.div(tg.tensor([-7.0, 7.0]), 0.0, rounding_mode="trunc").tolist() == [-math.inf,
                                                                                   math.inf]
    with pytest.raises(RuntimeError, match="ZeroDivisionError"):
        tg.div(i, tg.tensor([0, 1]), rounding_mode="floor")
    with pytest.raises(RuntimeError, match="rounding_mode"):
        tg.div(i, 2, rounding_mode="round")


def test_elementwise_fixed_values():
    a = np.array([3.0, 1e200, 0.0, -math.inf, math.nan])
    b = np.array([4.0, 1e200, 0.0, math.nan, 1.0])
    np.testing.assert_array_equal(tg.hypot(tg.tensor(a), tg.tensor(b)).numpy(), np.hypot(a, b))
    a = np.array([1.0, -math.inf, math.inf, -1000.0, 30.0])
    b = np.array([2.0, -math.inf, 1.0, -1000.0, -2.0])
    np.testing.assert_allclose(tg.logaddexp(tg.tensor(a), tg.tensor(b)).numpy(),
                               np.logaddexp(a, b))
    np.testing.assert_allclose(tg.logaddexp2(tg.tensor(a), tg.tensor(b)).numpy(),
                               np.logaddexp2(a, b))
    assert tg.hypot(tg.tensor([3.0]), tg.tensor([4.0], dtype=tg.float64)).dtype == tg.float64


def test_index_add_histc_fixed_values():
    x = tg.zeros(3, 2)
    r = tg.index_add(x, 0, tg.tensor([0, 2, 0]), tg.tensor([[1.0, 2.0], [3.0, 4.0], [5.0, 6.0]]))
    assert r.tolist() == [[6.0, 8.0], [0.0, 0.0], [3.0, 4.0]]
    x.index_add_(1, tg.tensor([1]), tg.ones(3, 1), alpha=2)
    assert x.tolist() == [[0.0, 2.0]] * 3
    assert tg.histc(tg.tensor([1.0, 2, 1, 4]), bins=4).tolist() == [2.0, 1.0, 0.0, 1.0]
    assert tg.histc(tg.tensor([1.0, 2, 1, 4]), 4, 0, 3).tolist() == [0.0, 2.0, 1.0, 0.0]
    h = tg.histc(tg.tensor([1.0, 2.0], requires_grad=True), 2)
    assert not h.requires_grad and h.dtype == tg.float32


def test_contractions_against_numpy():
    rng = np.random.default_rng(2)
    a, b, c = (rng.standard_normal(s) for s in ((2, 3, 4), (4, 5), (2, 3, 3)))
    A, B, C = map(tg.tensor, (a, b, c))
    for eq, ops, nops in (("bij,jk->bik", (A, B), (a, b)), ("bii->bi", (C,), (c,)),
                          ("bij->j", (A,), (a,)), ("...k,kl->...l", (A, B), (a, b)),
                          ("bij,bkj->bik", (A, A), (a, a)), ("ijk", (A,), (a,)),
                          ("kj,bij", (B.T, A), (b.T, a)), ("bii", (C,), (c,))):
        np.testing.assert_allclose(tg.einsum(eq, *ops).numpy(), np.einsum(eq, *nops),
                                   rtol=1e-12, atol=1e-12, err_msg=eq)
    np.testing.assert_allclose(tg.tensordot(A, B, 1).numpy(), np.tensordot(a, b, 1))
    np.testing.assert_allclose(tg.tensordot(A, A, ([0, 2], [0, 2])).numpy(),
                               np.tensordot(a, a, ([0, 2], [0, 2])))
    np.testing.assert_allclose(tg.kron(B, C).numpy(), np.kron(b, c))
    assert tg.kron(tg.tensor([1, 2]), tg.tensor([1, 10])).tolist() == [1, 10, 2, 20]
    d = tg.diag_embed(tg.tensor([[1.0, 2.0]]), 1)
    assert d.tolist() == [[[0.0, 1.0, 0.0], [0.0, 0.0, 2.0], [0.0, 0.0, 0.0]]]
    assert tg.diag_embed(tg.tensor([1.0, math.inf])).tolist() == [[1.0, 0.0], [0.0, math.inf]]


def test_metadata_and_axis():
    x = tg.zeros(3, 4)
    assert x.nbytes == 48 and x.itemsize == 4 and x.element_size() == 4
    assert x.storage_offset() == 0 and tg.zeros(2, dtype=tg.float64).nbytes == 16
    y = tg.tensor([[1.0, 2.0], [3.0, 5.0]])
    assert y.sum(axis=0).tolist() == y.sum(dim=0).tolist() == [4.0, 7.0]
    assert tg.mean(y, axis=1, keepdim=True).tolist() == [[1.5], [4.0]]
    assert y.max(axis=1).indices.tolist() == [1, 1]
    assert tg.cat([y, y], axis=1).shape == (2, 4) and tg.stack([y, y], axis=0).shape == (2, 2, 2)
    assert y.argmax(axis=0).tolist() == [1, 1] and y.cumsum(axis=1).tolist() == [[1, 3], [3, 8]]
    z = tg.zeros(4, 2)
    assert tg.cat([y, y], axis=0, out=z) is z and z.tolist()[2] == [1.0, 2.0]
    with pytest.raises(TypeError, match="axis"):
        y.sum(0, axis=1)
    with pytest.raises(TypeError):
        y.softmax()


@pytest.mark.parametrize("expr,exc", [
    ("m.kthvalue(m.ones(3), 4)", RuntimeError), ("m.hypot(m.tensor([3]), m.tensor([4]))",
                                                  NotImplementedError),
    ("m.histc(m.tensor([1, 2]))", NotImplementedError),
    ("m.histc(m.tensor([1.0]), min=3, max=1)", RuntimeError),
    ("m.einsum('ij,jk->ik', m.ones(2, 3), m.ones(4, 2))", RuntimeError),
    ("m.einsum('ij->i', m.ones(2, 3, 4))", RuntimeError),
    ("m.einsum('ij,jk->ik', m.ones(2, 3))", RuntimeError),
    ("m.tensordot(m.ones(2, 3), m.ones(4, 2), 1)", RuntimeError),
    ("m.logaddexp(m.ones(2), 2.0)", TypeError),
    ("m.index_add(m.ones(3, 2), 0, m.tensor([0]), m.ones(2, 2))", RuntimeError),
    ("m.diag_embed(m.ones(2), 0, 0, 0)", RuntimeError),
    ("m.round(m.tensor([3]), decimals=1)", NotImplementedError),
])
def test_errors(expr, exc):
    with pytest.raises(exc):
        eval(expr, {"m": tg})


@pytest.mark.torch
@pytest.mark.parametrize("expr", CASES)
def test_matches_torch(expr):
    torch = pytest.importorskip("torch")
    xs, outs = [], []
    for m, dt in ((tg, tg.float64), (torch, torch.float64)):
        x = _x(m, dt)
        out = _run(m, expr, x)
        out.backward(m.ones_like(out))
        xs.append(x.grad.detach().numpy())
        outs.append(out.detach().numpy())
    np.testing.assert_allclose(outs[0], outs[1], rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(xs[0], xs[1], rtol=1e-9, atol=1e-12)


@pytest.mark.torch
def test_dtypes_indices_and_errors_match_torch():
    torch = pytest.importorskip("torch")
    exprs = ["m.cumprod(m.tensor([1, 2, 3]), 0)", "m.div(m.tensor([-7, 7]), 2, "
             "rounding_mode='trunc')", "m.div(m.tensor([-7, 7]), 2.0, rounding_mode='floor')",
             "m.histc(m.tensor([1.0, 2, 1, 4]), bins=3)", "m.mode(m.tensor([[1.0, 2, 2, 1, 3]]))",
             "m.cummax(m.tensor([1, 3, 3, 2]), 0)", "m.median(m.tensor([[1.0, 2, 3, 4]]), 1)",
             "m.round(m.tensor([0.125, 2.675, -1.005]), decimals=2)",
             "m.einsum('ii', m.arange(9.0).reshape(3, 3))", "m.kron(m.ones(2, 1), m.eye(2))",
             "m.diag_embed(m.arange(4.0).reshape(2, 2), -1, 0, 2)", "m.frac(m.tensor([-2.5]))",
             "m.zeros(2, 3, dtype=m.float64).nbytes", "m.tensordot(m.ones(2, 3), m.ones(3), 1)"]
    for e in exprs:
        a, b = eval(e, {"m": tg}), eval(e, {"m": torch})
        if isinstance(b, tuple):
            assert [t.tolist() for t in a] == [t.tolist() for t in b], e
            continue
        if isinstance(b, int):
            assert a == b, e
            continue
        assert str(a.dtype) == str(b.dtype), e
        np.testing.assert_allclose(a.numpy(), b.numpy(), rtol=1e-6, err_msg=e)
    for e in ["m.kthvalue(m.ones(3), 4)", "m.hypot(m.tensor([3]), m.tensor([4]))",
              "m.histc(m.tensor([1, 2]))", "m.logaddexp(m.ones(2), 2.0)",
              "m.div(m.tensor([1]), 2, rounding_mode='x')",
              "m.einsum('ij,jk->ik', m.ones(2, 3), m.ones(4, 2))",
              "m.tensordot(m.ones(2, 3), m.ones(4, 2), 1)"]:
        kinds = []
        for m in (tg, torch):
            with pytest.raises(Exception) as info:
                eval(e, {"m": m})
            kinds.append(info.type)
        assert issubclass(kinds[0], kinds[1]) or issubclass(kinds[1], kinds[0]), (e, kinds)
