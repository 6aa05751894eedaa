"""Iterating over / unpacking tensors that require grad, and the float16/bfloat16 names."""

import pickle

import numpy as np
import pytest

import tapegrad as tg
from tapegrad.autograd.gradcheck import gradcheck


def test_unpack_records_selects_and_grad_flows():
    w = tg.tensor(np.arange(6.0).reshape(3, 2), requires_grad=True)
    y = w * 2
    a, b, c = y
    assert a.requires_grad and type(a.grad_fn).__name__ == "SelectBackward0"
    np.testing.assert_array_equal(b.detach().numpy(), [4.0, 6.0])
    (a.sum() * 3 + (c ** 2).sum()).backward()
    expected = np.zeros((3, 2))
    expected[0] = 6.0
    expected[2] = 2 * 2 * (2 * w.detach().numpy()[2])
    np.testing.assert_allclose(w.grad.numpy(), expected)


def test_for_loop_and_list_over_leaf():
    w = tg.tensor(np.array([[1.0, -2.0], [3.0, 0.5]]), requires_grad=True)
    total = 0
    for row in w:
        total = total + (row ** 3).sum()
    rows = list(w)
    assert len(rows) == 2 and all(r.shape == (2,) for r in rows)
    (total + sum(rows).sum()).backward()
    np.testing.assert_allclose(w.grad.numpy(), 3 * w.detach().numpy() ** 2 + 1)


def test_iteration_gradcheck_float64():
    x = tg.tensor(np.random.default_rng(0).standard_normal((4, 3)), requires_grad=True)

    def f(x):
        rows = list(x.sin())
        return tg.stack([r * i for i, r in enumerate(rows)][::-1])

    assert gradcheck(f, (x,))


def test_iteration_plain_and_zero_dim():
    t = tg.tensor([[1, 2], [3, 4]])
    assert [r.tolist() for r in t] == [[1, 2], [3, 4]]
    with pytest.raises(TypeError, match="0-d tensor"):
        iter(tg.tensor(1.0, requires_grad=True))
    assert list(tg.zeros(0, 3, requires_grad=True)) == []


@pytest.mark.torch
def test_iteration_vs_torch():
    torch_ref = pytest.importorskip("torch")
    x = np.random.default_rng(1).standard_normal((3, 4))
    grads = []
    for lib in (tg, torch_ref):
        t = lib.tensor(x, requires_grad=True)
        a, b, c = t.exp()
        (a * b - c.sum() * b).sum().backward()
        grads.append(t.grad.numpy())
    np.testing.assert_allclose(grads[0], grads[1], rtol=1e-12)


# ---- float16 / bfloat16: names that refuse -------------------------------------------------
def test_half_names_exist_and_compare():
    assert tg.half is tg.float16 and repr(tg.float16) == "torch.float16"
    assert repr(tg.bfloat16) == "torch.bfloat16"
    assert tg.float16.is_floating_point and tg.float16.itemsize == 2
    assert tg.float16 != tg.float32 and tg.ones(2).dtype != tg.float16
    assert pickle.loads(pickle.dumps(tg.bfloat16)) is tg.bfloat16
    assert "float16" in tg.__all__ and "bfloat16" in tg.__all__


@pytest.mark.parametrize("op,make", [
    ("tensor", lambda d: tg.tensor([1.0, 2.0], dtype=d)),
    ("zeros", lambda d: tg.zeros(2, dtype=d)),
    ("randn", lambda d: tg.randn(2, dtype=d)),
    ("to", lambda d: tg.ones(2, requires_grad=True).to(d)),
    ("to", lambda d: tg.ones(2).to(d)),
    ("arange", lambda d: tg.arange(3, dtype=d)),
])
@pytest.mark.parametrize("dt", ["float16", "bfloat16"])
def test_half_use_raises_type_error_naming_op(op, make, dt):
    d = getattr(tg, dt)
    with pytest.raises(TypeError, match=rf"^{op}: dtype torch\.{dt} is not supported"):
        make(d)
