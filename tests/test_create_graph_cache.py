"""create_graph walks replayed from templates (tapegrad/autograd/_walk_cache.py): a walk
over a structure walked before appends the same records without running the formulas.
The results must be those of the walk itself, bit for bit, whenever the values change;
walks whose computation depends on values (masks, constants of the graph, seeds that are
not ones) must never be replayed."""

import numpy as np
import pytest

import tapegrad as torch
from tapegrad.autograd import _walk_cache
from tapegrad.tape import tape as tapes


@pytest.fixture
def fresh():
    with tapes.recording() as tape:
        yield tape


def _rosen(x):
    return (100 * (x[1:] - x[:-1] ** 2) ** 2 + (1 - x[:-1]) ** 2).sum()


def _hvp(x0, v0, dtype=torch.float64):
    x = torch.tensor(x0, dtype=dtype, requires_grad=True)
    v = torch.tensor(v0, dtype=dtype)
    (g,) = torch.autograd.grad(_rosen(x), x, create_graph=True)
    (h,) = torch.autograd.grad((g * v).sum(), x)
    return g.detach().numpy().copy(), h.numpy().copy(), g.grad_fn is not None


def _without_templates(fn, *args):
    _walk_cache.ENABLED = False
    try:
        return fn(*args)
    finally:
        _walk_cache.ENABLED = True


@pytest.mark.parametrize("dtype", [torch.float64, torch.float32])
def test_a_repeated_hessian_vector_product_replays_the_walk_bit_for_bit(fresh, dtype):
    rng = np.random.default_rng(0)
    hits = _walk_cache.HITS[0]
    for _ in range(6):
        x0, v0 = rng.uniform(-1.5, 1.5, 50), rng.normal(size=50)
        g, h, has_graph = _hvp(x0, v0, dtype)
        g_ref, h_ref, _ = _without_templates(_hvp, x0, v0, dtype)
        assert has_graph
        assert np.array_equal(g, g_ref) and np.array_equal(h, h_ref)
        a, b = x0[:-1], x0[1:]
        exact = np.zeros(50)
        exact[:-1] += (1200 * a ** 2 - 400 * b + 2) * v0[:-1] - 400 * a * v0[1:]
        exact[1:] += -400 * a * v0[:-1] + 200 * v0[1:]
        np.testing.assert_allclose(h, exact, rtol=1e-4 if dtype is torch.float32 else 1e-12,
                                   atol=1e-2 if dtype is torch.float32 else 1e-9)
    assert _walk_cache.HITS[0] - hits == 5  # the first walk ran, the others replayed


def test_a_new_shape_is_a_new_structure(fresh):
    rng = np.random.default_rng(1)
    for n in (5, 6, 5, 7, 6):
        x0, v0 = rng.uniform(-1, 1, n), rng.normal(size=n)
        assert np.array_equal(_hvp(x0, v0)[1], _without_templates(_hvp, x0, v0)[1])
    assert len(fresh.templates) == 3


def test_masks_are_read_from_values_so_piecewise_walks_never_replay(fresh):
    """relu's, abs's and max's formulas read the values (a mask): a replay would keep the
    first call's mask. Signs flip from call to call here."""
    hits = _walk_cache.HITS[0]
    for k in range(6):
        s = 1.0 if k % 2 else -1.0
        x = torch.tensor([s * 0.5, -s * 1.5, s * 2.0], requires_grad=True)
        y = (torch.relu(x) ** 2).sum() + (x.abs() ** 3).sum() + x.max() ** 2
        (g,) = torch.autograd.grad(y, x, create_graph=True)
        (h,) = torch.autograd.grad(g.sum(), x)
        xv = x.detach().numpy()
        exact = 2.0 * (xv > 0) + 6.0 * np.abs(xv) + 2.0 * (xv == xv.max())
        np.testing.assert_allclose(h.numpy(), exact, rtol=1e-12)
    assert _walk_cache.HITS[0] == hits


def test_a_constant_of_the_graph_changed_between_calls_is_read_again(fresh):
    """The gradient of (x * c).sum() is c itself, computed without a record from the seed
    and the constant's value: such a walk is not kept."""
    x = torch.tensor([1.0, 2.0], requires_grad=True)
    for k in range(4):
        c = torch.tensor([3.0 + k, -1.0 * k])
        (g,) = torch.autograd.grad((x * c * x).sum(), x, create_graph=True)
        np.testing.assert_array_equal(g.detach().numpy(), 2.0 * c.numpy() * x.detach().numpy())
        (h,) = torch.autograd.grad(g.sum(), x)
        np.testing.assert_array_equal(h.numpy(), 2.0 * c.numpy())


def test_seeds_other_than_ones_are_not_replayed(fresh):
    x = torch.tensor([1.0, -2.0, 0.5], requires_grad=True)
    hits = _walk_cache.HITS[0]
    for k in range(4):
        w = torch.tensor([1.0 + k, 2.0, -k])
        (g,) = torch.autograd.grad(x ** 3, x, grad_outputs=w, create_graph=True)
        np.testing.assert_allclose(g.detach().numpy(), 3.0 * x.detach().numpy() ** 2 * w.numpy())
    assert _walk_cache.HITS[0] == hits


def test_backward_with_create_graph_and_third_derivatives_replay(fresh):
    hits = _walk_cache.HITS[0]
    for k in range(4):
        x = torch.tensor([0.3 + k, -1.2], dtype=torch.float64, requires_grad=True)
        y = (x.sin() * x ** 2).sum()
        with pytest.warns(UserWarning, match="reference cycle"):
            y.backward(create_graph=True)
        g = x.grad
        (h,) = torch.autograd.grad(g.sum(), x, create_graph=True)
        (t,) = torch.autograd.grad(h.sum(), x)
        xv = x.detach().numpy()
        s, c = np.sin(xv), np.cos(xv)
        np.testing.assert_allclose(g.detach().numpy(), c * xv ** 2 + 2 * xv * s, rtol=1e-12)
        np.testing.assert_allclose(h.detach().numpy(), -s * xv ** 2 + 4 * xv * c + 2 * s,
                                   rtol=1e-12)
        np.testing.assert_allclose(t.numpy(), -c * xv ** 2 - 6 * xv * s + 6 * c, rtol=1e-12)
    assert _walk_cache.HITS[0] - hits >= 6  # each of the three walks replayed from call 2


def test_a_replayed_walk_frees_the_graph_without_retain_graph(fresh):
    for _ in range(3):
        x = torch.tensor([1.0, 2.0], requires_grad=True)
        y = (x.exp() * x).sum()
        (g,) = torch.autograd.grad(y, x, create_graph=True, retain_graph=False)
        with pytest.raises(RuntimeError, match="a second time"):
            torch.autograd.grad(y, x)
        assert g.grad_fn is not None


def test_gradient_with_respect_to_an_intermediate_tensor(fresh):
    for k in range(3):
        x = torch.tensor([0.5, 1.5 + k], requires_grad=True)
        u = x * 2.0
        y = (u ** 3).sum()
        gu, gx = torch.autograd.grad(y, (u, x), create_graph=True)
        np.testing.assert_allclose(gu.detach().numpy(), 3 * u.detach().numpy() ** 2)
        np.testing.assert_allclose(gx.detach().numpy(), 6 * u.detach().numpy() ** 2)
        (h,) = torch.autograd.grad(gx.sum(), x)
        np.testing.assert_allclose(h.numpy(), 24 * u.detach().numpy())


@pytest.mark.torch
def test_gradient_penalty_matches_pytorch_over_steps(fresh):
    torch_ref = pytest.importorskip("torch")
    rng = np.random.default_rng(3)
    w0 = rng.normal(size=(4, 3))
    for lib in (torch, torch_ref):
        w = lib.tensor(w0, requires_grad=True)
        out = []
        for _ in range(4):
            x = lib.tensor(rng.normal(size=(5, 4)), requires_grad=True)
            d = (x @ w).tanh().sum()
            (gx,) = lib.autograd.grad(d, x, create_graph=True)
            pen = ((gx.norm(dim=1) - 1) ** 2).mean()
            (gw,) = lib.autograd.grad(pen, w)
            out.append(gw.detach().numpy().copy())
        rng = np.random.default_rng(3)
        rng.normal(size=(4, 3))
        if lib is torch:
            mine = out
    np.testing.assert_allclose(np.array(mine), np.array(out), rtol=1e-10)
