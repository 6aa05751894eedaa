"""where, masked_fill, lerp: values and gradients at the cases the op table can't express."""

import math

import pytest

import tapegrad as torch


def test_where_with_two_tensor_branches_selects_exactly():
    x = torch.tensor([1.0, float("nan"), 3.0], requires_grad=True)
    y = torch.tensor([float("inf"), 5.0, 6.0], requires_grad=True)
    cond = torch.tensor([True, False, True])
    z = torch.where(cond, x, y)
    assert z.tolist() == [1.0, 5.0, 3.0]  # the nan and the inf are not selected: no nan leaks
    z.sum().backward()
    assert x.grad.tolist() == [1.0, 0.0, 1.0] and y.grad.tolist() == [0.0, 1.0, 0.0]
    assert torch.where(cond, x, 0.0).grad_fn.name() == "WhereBackward0"
    assert torch.where(cond, 2.0, 4.0).tolist() == [2.0, 4.0, 2.0]
    assert x.where(cond, -1.0).tolist()[1] == -1.0


def test_where_and_masked_fill_broadcast_and_check_the_mask():
    x = torch.ones(2, 3, requires_grad=True)
    m = torch.tensor([True, False, False])
    assert x.masked_fill(m, 7.0).tolist() == [[7.0, 1.0, 1.0], [7.0, 1.0, 1.0]]
    assert torch.tensor([1, 2, 3]).masked_fill(m, 0).tolist() == [0, 2, 3]
    with pytest.raises(RuntimeError, match="masked_fill.*bool"):
        x.masked_fill(torch.tensor([1, 0, 0]), 0.0)
    with pytest.raises(RuntimeError, match="masked_fill.*\\[2, 2, 3\\].*\\[2, 3\\]"):
        x.masked_fill(torch.zeros(2, 2, 3) > 0, 0.0)
    y = torch.tensor([1.0, 2.0])
    with torch.no_grad():
        y.masked_fill_(torch.tensor([False, True]), math.inf)
    assert y.tolist() == [1.0, math.inf]


def test_lerp_with_scalar_and_tensor_weights():
    a = torch.tensor([0.0, 10.0], requires_grad=True)
    b = torch.tensor([10.0, 20.0], requires_grad=True)
    assert torch.lerp(a, b, 0.25).tolist() == [2.5, 12.5]
    w = torch.tensor([0.5, 1.0], requires_grad=True)
    out = torch.lerp(a, b, w)
    assert out.tolist() == [5.0, 20.0]
    out.sum().backward()
    assert a.grad.tolist() == [0.5, 0.0] and b.grad.tolist() == [0.5, 1.0]
    assert w.grad.tolist() == [10.0, 10.0]
