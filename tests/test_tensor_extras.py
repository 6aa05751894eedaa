"""addcmul/addcdiv, cross, dist, broadcast_tensors, logspace, take, tril/triu_indices,
Tensor.unflatten and .stride, and the in-place elementwise methods (exp_, sqrt_, ...)."""

import numpy as np
import pytest

import tapegrad as tg


def test_values_against_numpy():
    a, b, c = np.array([1.0, 2.0, 3.0]), np.array([0.5, -1.0, 2.0]), np.array([2.0, 2.0, 4.0])
    ta, tb, tc = (tg.tensor(v) for v in (a, b, c))
    np.testing.assert_allclose(tg.addcmul(ta, tb, tc, value=2).numpy(), a + 2 * b * c)
    np.testing.assert_allclose(tg.addcdiv(ta, tb, tc, value=0.5).numpy(), a + 0.5 * b / c)
    np.testing.assert_allclose(ta.addcmul(tb, tc).numpy(), a + b * c)
    np.testing.assert_allclose(tg.cross(ta, tb).numpy(), np.cross(a, b))
    m = np.arange(12.0).reshape(2, 3, 2)
    np.testing.assert_allclose(tg.cross(tg.tensor(m), tg.tensor(m[::-1].copy()), dim=1).numpy(),
                               np.cross(m, m[::-1], axis=1))
    assert tg.dist(ta, tb).item() == pytest.approx(np.linalg.norm(a - b))
    assert tg.dist(ta, tb, 1).item() == pytest.approx(np.abs(a - b).sum())
    np.testing.assert_allclose(tg.logspace(0, 3, 4).numpy(), [1, 10, 100, 1000], rtol=1e-6)
    np.testing.assert_allclose(tg.logspace(0, 3, 4, base=2).numpy(), [1, 2, 4, 8])
    x = tg.arange(12.0).reshape(3, 4)
    np.testing.assert_array_equal(tg.take(x, tg.tensor([[0, 5], [11, 2]])).numpy(),
                                  [[0, 5], [11, 2]])
    assert tg.tril_indices(3, 4, 1).tolist() == [list(v) for v in np.tril_indices(3, 1, 4)]
    assert tg.triu_indices(3, 3).tolist() == [list(v) for v in np.triu_indices(3, 0, 3)]
    assert tg.triu_indices(3, 3).dtype is tg.int64
    assert [t.shape for t in tg.broadcast_tensors(tg.zeros(3, 1), tg.zeros(4))] == [(3, 4)] * 2
    assert x.unflatten(1, (2, -1)).shape == (3, 2, 2)
    assert x.stride() == (4, 1) and x.t().stride() == (1, 4) and x.stride(0) == 4
    with pytest.raises(RuntimeError, match="length 3"):
        tg.cross(tg.zeros(2, 4), tg.zeros(2, 4), dim=1)


def test_gradients():
    a = tg.tensor([1.0, 2.0, 3.0], dtype=tg.float64, requires_grad=True)
    b = tg.tensor([0.5, -1.0, 2.0], dtype=tg.float64, requires_grad=True)
    tg.cross(a, b).sum().backward()
    av, bv = a.detach().numpy(), b.detach().numpy()
    np.testing.assert_allclose(a.grad.numpy(), np.cross(bv, np.ones(3)))  # d/da (a x b).1
    np.testing.assert_allclose(b.grad.numpy(), np.cross(np.ones(3), av))
    a.grad = b.grad = None
    tg.addcdiv(a, a, b, value=3.0).sum().backward()
    np.testing.assert_allclose(a.grad.numpy(), 1 + 3 / bv)
    np.testing.assert_allclose(b.grad.numpy(), -3 * av / bv ** 2)
    a.grad = None
    tg.dist(a, b.detach()).backward()
    np.testing.assert_allclose(a.grad.numpy(), (av - bv) / np.linalg.norm(av - bv))


def test_in_place_elementwise_methods():
    for name, f in (("exp_", np.exp), ("log_", np.log), ("sqrt_", np.sqrt), ("neg_", np.negative),
                    ("tanh_", np.tanh), ("sigmoid_", lambda v: 1 / (1 + np.exp(-v))),
                    ("abs_", np.abs)):
        v = np.array([0.5, 2.0, 3.0])
        t = tg.tensor(v)
        assert getattr(t, name)() is t, name
        np.testing.assert_allclose(t.numpy(), f(v), rtol=1e-6, err_msg=name)
    t = tg.tensor([2.0, 3.0])
    t.pow_(2)
    assert t.tolist() == [4.0, 9.0]
    w = tg.tensor([1.0, 2.0], requires_grad=True)
    y = w * 1.0
    y.exp_()  # recorded: the gradient flows through the in-place exp
    y.sum().backward()
    np.testing.assert_allclose(w.grad.numpy(), np.exp([1.0, 2.0]), rtol=1e-6)


@pytest.mark.torch
def test_against_pytorch():
    torch = pytest.importorskip("torch")
    a, b = np.array([[1.0, 2.0, 3.0]]), np.array([[0.5, -1.0, 2.0], [1.0, 1.0, 1.0]])
    for name in ("cross", "dist"):
        got = getattr(tg, name)(tg.tensor(a), tg.tensor(b)).numpy()
        kw = {"dim": 1} if name == "cross" else {}
        want = getattr(torch, name)(torch.tensor(a), torch.tensor(b), **kw).numpy()
        np.testing.assert_allclose(got, want)
    np.testing.assert_allclose(tg.logspace(-1, 2, 5, base=3).numpy(),
                               torch.logspace(-1, 2, 5, base=3).numpy(), rtol=1e-6)
    assert tg.tril_indices(4, 3, -1).tolist() == torch.tril_indices(4, 3, -1).tolist()
    x = tg.arange(24.0).reshape(2, 3, 4).permute(2, 0, 1)
    assert x.stride() == torch.arange(24.0).reshape(2, 3, 4).permute(2, 0, 1).stride()
