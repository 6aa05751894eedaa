"""tapegrad/composite.py: functions built from recorded ops. Fixed values and finite
differences always; the same expressions against PyTorch when it is installed."""

import numpy as np
import pytest

import tapegrad as tg

# (expression over x (3, 4) float64 requiring grad and the module m), differentiable?
CASES = [
    ("m.sort(x, 1)[0]", True), ("m.sort(x, 0, descending=True).values", True),
    ("m.topk(x, 2)[0]", True), ("m.topk(x, 2, dim=0, largest=False).values", True),
    ("m.tril(x)", True), ("m.triu(x, 1)", True), ("m.tril(x, -1)", True),
    ("m.diagonal(x)", True), ("m.diag(x)", True), ("m.diag(x[0])", True),
    ("m.trace(x)", True), ("m.masked_select(x, x > 0.5)", True),
    ("m.roll(x, 1, 1)", True), ("m.roll(x, (1, -1), (0, 1))", True), ("m.roll(x, 2)", True),
    ("m.repeat_interleave(x, 2, dim=0)", True), ("m.tile(x, (2,))", True),
    ("m.unbind(x, 1)[2]", True), ("m.narrow(x, 1, 1, 2)", True),
    ("m.movedim(x.reshape(3, 2, 2), 0, 2)", True), ("m.broadcast_to(x[0], (2, 4))", True),
    ("m.addmm(x[:, :2], x, x.T[:, :2], beta=0.5, alpha=2)", True),
    ("m.clamp_min(x, 0.4)", True), ("m.clamp_max(x, 0.4)", True),
    ("m.hstack([x, x])", True), ("m.vstack([x, x[0]])", True),
    ("m.column_stack([x[0], x[1]])", True), ("m.meshgrid(x[0], x[1, :2], indexing='ij')[1]", True),
    ("m.cdist(x, x[:2])", True), ("m.diff(x, dim=1)", True),
    ("m.std_mean(x, 1)[0]", True), ("m.nan_to_num(x)", True),
    ("x.view_as(x.T)", True), ("x.reshape_as(x.T)", True),
    ("m.floor(x * 3)", False), ("m.round(x * 3)", False), ("m.argsort(x, 1)", False),
    ("m.nonzero(x > 0.5)", False), ("m.remainder(x * 5, 2)", True),
    ("m.count_nonzero(x > 0.5)", False), ("m.searchsorted(m.arange(5.0), x)", False),
    ("m.unique(m.tensor([3, 1, 3, 2]))", False), ("m.bincount(m.tensor([0, 2, 2, 5]))", False),
]


def _x(m, dtype):
    v = np.random.default_rng(3).uniform(0.05, 0.95, (3, 4))
    return m.tensor(v, dtype=dtype, requires_grad=True)


def _run(m, expr, x):
    out = eval(expr, {"m": m, "x": x})
    return out


@pytest.mark.parametrize("expr,diff", CASES, ids=[c[0] for c in CASES])
def test_gradient_matches_finite_differences(expr, diff):
    x = _x(tg, tg.float64)
    out = _run(tg, expr, x)
    if not diff:
        assert not out.requires_grad or expr.startswith("m.floor") or \
            expr.startswith("m.round")
        return
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
                vals.append(float(np.sum(np.asarray(_run(tg, expr, tg.tensor(b)).double()) * v)))
        num[j] = (vals[0] - vals[1]) / 2e-6
    np.testing.assert_allclose(x.grad.numpy(), num, rtol=1e-6, atol=1e-6)


def test_fixed_values():
    t = tg.tensor([[3.0, 1.0, 2.0], [0.0, 5.0, 4.0]])
    assert tg.sort(t, 1).indices.tolist() == [[1, 2, 0], [0, 2, 1]]
    assert tg.topk(t, 1).values.tolist() == [[3.0], [5.0]]
    assert tg.tril(t).tolist() == [[3.0, 0.0, 0.0], [0.0, 5.0, 0.0]]
    assert tg.roll(tg.arange(4), 1).tolist() == [3, 0, 1, 2]
    assert tg.nonzero(t).tolist() == [[0, 0], [0, 1], [0, 2], [1, 1], [1, 2]]
    assert tg.round(tg.tensor([0.5, 1.5, 2.5])).tolist() == [0.0, 2.0, 2.0]  # half to even
    assert (tg.tensor([7, -7]) // 2).tolist() == [3, -4]
    assert (tg.tensor([7, -7]) % 3).tolist() == [1, 2]
    assert tg.diag(tg.tensor([1.0, 2.0])).tolist() == [[1.0, 0.0], [0.0, 2.0]]
    assert tg.repeat_interleave(tg.tensor([1, 2]), 2).tolist() == [1, 1, 2, 2]


@pytest.mark.torch
@pytest.mark.parametrize("expr,diff", CASES, ids=[c[0] for c in CASES])
def test_matches_torch(expr, diff):
    torch = pytest.importorskip("torch")
    for dt in ("float32", "float64"):
        a, b = _x(tg, getattr(tg, dt)), _x(torch, getattr(torch, dt))
        oa, ob = _run(tg, expr, a), _run(torch, expr, b)
        np.testing.assert_allclose(np.asarray(oa.detach()), ob.detach().numpy(), rtol=1e-5,
                                   atol=1e-6, err_msg=expr)
        assert oa.dtype.name == str(ob.dtype).replace("torch.", ""), expr
        if diff and ob.requires_grad:
            v = np.random.default_rng(4).standard_normal(tuple(ob.shape))
            (oa * tg.tensor(v, dtype=oa.dtype)).sum().backward()
            (ob * torch.tensor(v, dtype=ob.dtype)).sum().backward()
            np.testing.assert_allclose(a.grad.numpy(), b.grad.numpy(), rtol=1e-5, atol=1e-6,
                                       err_msg=expr)


def test_broadcast_shapes_takes_any_number_of_shapes():
    assert tg.broadcast_shapes((2, 1), (1, 3), (2, 3)) == (2, 3)
    assert tg.broadcast_shapes(2, (3, 1)) == (3, 2)
    assert tg.broadcast_shapes() == ()
    assert type(tg.broadcast_shapes((1,), (4,))).__name__ == "Size"
    with pytest.raises(RuntimeError, match="broadcast_shapes"):
        tg.broadcast_shapes((2,), (3,))
