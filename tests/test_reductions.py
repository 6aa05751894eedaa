"""Reductions at their edge points: ties, zeros, empty and single-element inputs.

Expected values are PyTorch 2.13's (run on the same inputs)."""

import math

import numpy as np
import pytest

import tapegrad as torch


def grad_of(fn, values):
    x = torch.tensor(values, requires_grad=True)
    fn(x).backward()
    return x.grad.tolist()


@pytest.mark.parametrize("fn,values,expected", [
    (lambda x: x.max(), [1.0, 3.0, 3.0], [0.0, 0.5, 0.5]),        # ties share evenly
    (lambda x: x.amax(0), [1.0, 3.0, 3.0], [0.0, 0.5, 0.5]),
    (lambda x: x.min(), [2.0, 2.0, 5.0], [0.5, 0.5, 0.0]),
    (lambda x: x.max(0).values, [1.0, 3.0, 3.0], [0.0, 1.0, 0.0]),  # first occurrence takes it
    (lambda x: x.min(dim=0)[0], [2.0, 2.0, 5.0], [1.0, 0.0, 0.0]),
    (lambda x: x.prod(), [0.0, 2.0, 3.0], [6.0, 0.0, 0.0]),         # a lone zero
    (lambda x: x.prod(), [0.0, 0.0, 3.0], [0.0, 0.0, 0.0]),         # two zeros
    (lambda x: x.norm(), [0.0, 0.0, 0.0], [0.0, 0.0, 0.0]),         # subgradient 0 at 0
    (lambda x: x.norm(p=1), [0.0, -2.0, 3.0], [0.0, -1.0, 1.0]),
    (lambda x: x.norm(p=float("inf")), [-3.0, 3.0, 1.0], [-0.5, 0.5, 0.0]),
    (lambda x: x.std(), [1.0, 1.0], [0.0, 0.0]),                     # std 0: masked to 0
    (lambda x: x.logsumexp(0), [0.0, 0.0], [0.5, 0.5]),
    (lambda x: x.cumsum(0).sum(), [1.0, 2.0, 3.0], [3.0, 2.0, 1.0]),
])
def test_gradients_at_edge_points(fn, values, expected):
    assert grad_of(fn, values) == pytest.approx(expected)


def test_max_over_a_dim_returns_values_and_indices():
    x = torch.tensor([[1.0, 5.0, 5.0], [7.0, 2.0, 7.0]])
    out = x.max(1)
    values, indices = out
    assert values.tolist() == [5.0, 7.0] and indices.tolist() == [1, 0]
    assert out.values is values and out.indices is indices
    assert indices.dtype is torch.int64
    k = torch.max(x, 0, keepdim=True)
    assert k.values.shape == (1, 3) and k.indices.tolist() == [[1, 0, 1]]
    assert repr(out).startswith("torch.return_types.max(\nvalues=tensor([5., 7.])")
    assert torch.max(x, torch.full((2, 3), 6.0)).tolist() == [[6.0, 6.0, 6.0], [7.0, 6.0, 7.0]]


def test_values_of_empty_and_single_element_reductions():
    e = torch.zeros(0)
    assert e.sum().item() == 0.0 and math.isnan(e.mean().item())
    assert e.prod().item() == 1.0
    assert math.isnan(torch.tensor([2.0]).var().item())      # n - 1 = 0: nan, as PyTorch
    assert torch.tensor([2.0]).var(correction=0).item() == 0.0
    with pytest.raises(IndexError, match="amax"):
        e.amax()


def test_values_match_numpy():
    rng = np.random.default_rng(0)
    a = rng.standard_normal((3, 4, 5))
    x = torch.tensor(a)
    np.testing.assert_allclose(x.prod(1).numpy(), a.prod(1))
    np.testing.assert_allclose(x.var((0, 2)).numpy(), a.var((0, 2), ddof=1))
    np.testing.assert_allclose(x.std(2, correction=0).numpy(), a.std(2))
    np.testing.assert_allclose(x.norm(p=3, dim=0).numpy(), (np.abs(a) ** 3).sum(0) ** (1 / 3))
    m = a.max(1, keepdims=True)
    np.testing.assert_allclose(x.logsumexp(1).numpy(), (m + np.log(np.exp(a - m).sum(1, keepdims=True)))[:, 0])
    np.testing.assert_allclose(x.cumsum(1).numpy(), a.cumsum(1))
    np.testing.assert_allclose(x.amin((0, 1)).numpy(), a.min((0, 1)))


def test_nan_propagates_through_max_and_logsumexp():
    x = torch.tensor([1.0, float("nan"), 3.0])
    assert math.isnan(x.max().item()) and math.isnan(x.amax(0).item())
    assert math.isnan(x.logsumexp(0).item())
    assert torch.tensor([-float("inf"), -float("inf")]).logsumexp(0).item() == -float("inf")


def test_integer_reductions_run_in_numpy():
    t = torch.tensor([[1, 2], [3, 4]])
    assert t.prod().item() == 24 and t.max().item() == 4 and t.amin(0).tolist() == [1, 2]
    assert t.cumsum(1).tolist() == [[1, 3], [3, 7]]
    with pytest.raises(RuntimeError, match="var"):
        t.var()
