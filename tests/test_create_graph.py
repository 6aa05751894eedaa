"""create_graph=True: the backward pass recorded on the tape, differentiated again."""

import numpy as np
import pytest

import tapegrad as tg
from tapegrad.ops import BY_NAME


def t64(a, rg=False):
    return tg.tensor(np.asarray(a, np.float64), dtype=tg.float64, requires_grad=rg)


def test_issue_example():
    x = tg.tensor([3.0], requires_grad=True)
    y = x ** 2
    (g,) = tg.autograd.grad(y, x, create_graph=True)
    assert g.tolist() == [6.0] and type(g.grad_fn).__name__ == "MulBackward0"
    assert "grad_fn=<MulBackward0>" in repr(g)
    (h,) = tg.autograd.grad(g, x)
    assert h.tolist() == [2.0] and h.grad_fn is None


def test_third_derivative_of_a_scalar_function():
    x = t64([0.7], True)
    f = x.sin() * x.exp()  # f''' = 2 e^x (cos x - sin x)
    (g,) = tg.autograd.grad(f, x, create_graph=True)
    (h,) = tg.autograd.grad(g, x, create_graph=True)
    (t,) = tg.autograd.grad(h, x)
    v = 0.7
    assert g.item() == pytest.approx(np.exp(v) * (np.sin(v) + np.cos(v)), rel=1e-12)
    assert h.item() == pytest.approx(2 * np.exp(v) * np.cos(v), rel=1e-12)
    assert t.item() == pytest.approx(2 * np.exp(v) * (np.cos(v) - np.sin(v)), rel=1e-12)


def rosenbrock(x):
    return (100 * (x[1:] - x[:-1] ** 2) ** 2 + (1 - x[:-1]) ** 2).sum()


def hvp_numpy(x, v):
    a, b, va, vb = x[:-1], x[1:], v[:-1], v[1:]
    haa, hab = 1200.0 * a * a - 400.0 * b + 2.0, -400.0 * a
    hv = np.zeros_like(x)
    hv[:-1] += haa * va + hab * vb
    hv[1:] += hab * va + 200.0 * vb
    return hv


def test_rosenbrock_hessian_vector_product():
    rng = np.random.default_rng(0)
    xv, vv = rng.uniform(-1, 1, 50), rng.standard_normal(50)
    x = t64(xv, True)
    (g,) = tg.autograd.grad(rosenbrock(x), x, create_graph=True)
    (hv,) = tg.autograd.grad((g * t64(vv)).sum(), x)
    np.testing.assert_allclose(hv.numpy(), hvp_numpy(xv, vv), rtol=1e-12, atol=1e-9)


class _Critic:
    def __init__(self, seed):
        tg.manual_seed(seed)
        self.l1, self.l2 = tg.nn.Linear(2, 8).double(), tg.nn.Linear(8, 1).double()

    def params(self):
        return [*self.l1.parameters(), *self.l2.parameters()]

    def __call__(self, x):
        return self.l2(self.l1(x).tanh())


def _penalty(D, x):
    (g,) = tg.autograd.grad(D(x).sum(), x, create_graph=True)
    return ((g.norm(dim=1) - 1) ** 2).mean()


def test_gradient_penalty_matches_finite_differences_and_trains():
    D = _Critic(0)
    xv = np.random.default_rng(1).standard_normal((5, 2))
    x = t64(xv, True)
    loss = _penalty(D, x)
    loss.backward()
    w = D.l1.weight
    analytic = w.grad.numpy().copy()
    num = np.zeros_like(analytic)
    eps = 1e-6
    for j in np.ndindex(analytic.shape):
        vals = []
        for s in (eps, -eps):
            with tg.no_grad():
                w[j] += s
            vals.append(_penalty(D, t64(xv, True)).item())
            with tg.no_grad():
                w[j] -= s
        num[j] = (vals[0] - vals[1]) / (2 * eps)
    np.testing.assert_allclose(analytic, num, rtol=1e-6, atol=1e-9)
    opt = tg.optim.SGD(D.params(), lr=0.05)
    losses = []
    for _ in range(20):
        opt.zero_grad()
        loss = _penalty(D, t64(xv, True))
        loss.backward()
        opt.step()
        losses.append(loss.item())
    assert losses[-1] < losses[0]


def _hessian(f, x):
    (g,) = tg.autograd.grad(f(x), x, create_graph=True)
    rows = [tg.autograd.grad(g[i], x, retain_graph=True)[0].numpy() for i in range(x.numel())]
    return g.detach().numpy(), np.stack(rows)


def test_newton_steps_with_the_exact_hessian_converge():
    def f(x):
        return (x ** 4).sum() + (x[0] - 2 * x[1]) ** 2 + x.exp().sum()

    xv = np.array([1.0, -0.5])
    for _ in range(20):
        g, H = _hessian(f, t64(xv, True))
        xv = xv - np.linalg.solve(H, g)
    g, H = _hessian(f, t64(xv, True))
    assert np.abs(g).max() < 1e-12 and np.all(np.linalg.eigvalsh(H) > 0)


def test_backward_create_graph_gives_grad_with_a_graph():
    x = t64([0.5, 1.2], True)
    with pytest.warns(UserWarning, match="reference cycle"):
        (x ** 3).sum().backward(create_graph=True)
    assert type(x.grad.grad_fn).__name__ == "CopyBackwards" and x.grad.requires_grad
    np.testing.assert_allclose(x.grad.detach().numpy(), 3 * np.array([0.5, 1.2]) ** 2)
    with pytest.warns(UserWarning):
        (x ** 3).sum().backward(create_graph=True)
    assert type(x.grad.grad_fn).__name__ == "AddBackward0"
    (h,) = tg.autograd.grad(x.grad.sum(), x)
    np.testing.assert_allclose(h.numpy(), 12 * np.array([0.5, 1.2]))


def test_retained_grad_and_hooks_under_create_graph():
    x = t64([1.5], True)
    y = x * x
    y.retain_grad()
    seen = []
    y.register_hook(lambda g: seen.append(g.item()))
    z = (y * 3).sum()
    with pytest.warns(UserWarning):
        z.backward(create_graph=True)
    assert seen == [3.0] and y.grad.item() == 3.0 and x.grad.item() == 9.0


class _Cube(tg.autograd.Function):
    @staticmethod
    def forward(ctx, x):
        ctx.save_for_backward(x)
        return x ** 3

    @staticmethod
    def backward(ctx, g):
        (x,) = ctx.saved_tensors
        return g * 3 * x * x


class _Pair(tg.autograd.Function):
    @staticmethod
    def forward(ctx, x, w):
        ctx.save_for_backward(x, w)
        return x * w, x + w

    @staticmethod
    def backward(ctx, ga, gb):
        x, w = ctx.saved_tensors
        return ga * w + gb, ga * x + gb


def test_create_graph_through_a_custom_function():
    x = t64([2.0], True)
    (g,) = tg.autograd.grad(_Cube.apply(x).sum(), x, create_graph=True)
    (h,) = tg.autograd.grad(g.sum(), x)
    assert g.item() == 12.0 and h.item() == 12.0
    w = t64([3.0], True)
    a, b = _Pair.apply(x, w)
    gx, gw = tg.autograd.grad((a * a + b).sum(), (x, w), create_graph=True)
    assert (gx.item(), gw.item()) == (37.0, 25.0)  # 2 x w^2 + 1, 2 x^2 w + 1
    assert [v.item() for v in tg.autograd.grad(gx.sum(), (x, w))] == [18.0, 24.0]


@pytest.mark.parametrize("fn", [lambda x: x.relu(), lambda x: x.abs(),
                                lambda x: x.clamp(-0.5, 0.5),
                                lambda x: x.max() + x.amax(0).sum(),
                                lambda x: tg.nn.functional.hardtanh(x)])
def test_piecewise_linear_ops_have_second_derivative_zero(fn):
    x = t64([-1.5, -0.2, 0.3, 2.0], True)
    (g,) = tg.autograd.grad((fn(x) * t64([1.0, 2.0, 3.0, 4.0])).sum() + (x * x).sum(), x,
                            create_graph=True)
    (h,) = tg.autograd.grad(g.sum(), x)
    np.testing.assert_array_equal(h.numpy(), [2.0, 2.0, 2.0, 2.0])  # from x * x alone


def test_errors_are_those_of_the_plain_sweep():
    x = t64([1.0, 2.0], True)
    y = (x.exp() * 2).sum()
    tg.autograd.grad(y, x)  # frees the graph
    with pytest.raises(RuntimeError, match="backward through the graph a second time"):
        tg.autograd.grad(y, x, create_graph=True)
    a = t64([1.0, 2.0], True)
    b = a * 1
    z = (b * b).sum()
    b.mul_(2)
    with pytest.raises(RuntimeError, match="modified by an inplace operation"):
        tg.autograd.grad(z, a, create_graph=True)
    with pytest.raises(RuntimeError, match="appears to not have been used"):
        tg.autograd.grad((a * 2).sum(), [a, t64([1.0], True)], create_graph=True)
    g = tg.autograd.grad((a * 2).sum(), [a, t64([1.0], True)], create_graph=True,
                         materialize_grads=True)
    assert g[1].tolist() == [0.0]


def test_an_op_without_a_formula_raises_before_anything_is_written(monkeypatch):
    spec = BY_NAME["index"]
    monkeypatch.setattr(spec, "grad", None)
    x = t64([1.0, 2.0, 3.0], True)
    x.grad = t64([5.0, 5.0, 5.0])
    y = (x[tg.tensor([0, 2])] ** 2).sum()
    with pytest.raises(NotImplementedError, match="create_graph=True through IndexBackward0 is "
                                                  "not supported yet"):
        with pytest.warns(UserWarning):
            y.backward(create_graph=True)
    assert x.grad.tolist() == [5.0, 5.0, 5.0]


def test_grad_outputs_that_require_grad_are_differentiated():
    x, v = t64([1.0, 2.0], True), t64([0.5, -1.0], True)
    y = x ** 3
    (g,) = tg.autograd.grad(y, x, grad_outputs=v, create_graph=True)  # 3 x^2 v
    gx, gv = tg.autograd.grad(g.sum(), (x, v))
    np.testing.assert_allclose(gx.numpy(), [3.0, -12.0])
    np.testing.assert_allclose(gv.numpy(), [3.0, 12.0])


# ---- against PyTorch -------------------------------------------------------------------
@pytest.fixture
def torch_ref():
    return pytest.importorskip("torch")


CASES = [lambda T, x: (x ** 2).sum(), lambda T, x: (x.sin() * x).sum(),
         lambda T, x: (x * x).sum(), lambda T, x: x.exp().mean(),
         lambda T, x: (x.tanh() @ x), lambda T, x: T.nn.functional.softplus(x).sum(),
         lambda T, x: x.logsumexp(0), lambda T, x: (x.reshape(2, 2).t() @ x.reshape(2, 2)).sum()]


@pytest.mark.torch
@pytest.mark.parametrize("i", range(len(CASES)))
def test_values_and_grad_fn_names_against_pytorch(torch_ref, i):
    xv = np.array([0.3, -0.7, 1.1, 0.4])
    res = []
    for T in (tg, torch_ref):
        x = T.tensor(xv, dtype=T.float64, requires_grad=True)
        (g,) = T.autograd.grad(CASES[i](T, x), x, create_graph=True)
        (h,) = T.autograd.grad((g * T.tensor(xv[::-1].copy())).sum(), x)
        res.append((g.detach().numpy(), h.numpy(), type(g.grad_fn).__name__))
    np.testing.assert_allclose(res[0][0], res[1][0], rtol=1e-12)
    np.testing.assert_allclose(res[0][1], res[1][1], rtol=1e-12, atol=1e-12)
    if i < 3:  # the simple ones: PyTorch's names
        assert res[0][2] == res[1][2]


@pytest.mark.torch
def test_gradient_penalty_against_pytorch(torch_ref):
    D = _Critic(0)
    xv = np.random.default_rng(1).standard_normal((5, 2))
    _penalty(D, t64(xv, True)).backward()
    l1, l2 = torch_ref.nn.Linear(2, 8).double(), torch_ref.nn.Linear(8, 1).double()
    with torch_ref.no_grad():
        for mine, theirs in zip(D.params(), [*l1.parameters(), *l2.parameters()]):
            theirs.copy_(torch_ref.tensor(mine.detach().numpy()))
    x = torch_ref.tensor(xv, requires_grad=True)
    (g,) = torch_ref.autograd.grad(l2(l1(x).tanh()).sum(), x, create_graph=True)
    ((g.norm(dim=1) - 1) ** 2).mean().backward()
    for mine, theirs in zip(D.params(), [*l1.parameters(), *l2.parameters()]):
        if theirs.grad is None:  # the output bias: the penalty does not depend on it
            assert mine.grad is None
            continue
        np.testing.assert_allclose(mine.grad.numpy(), theirs.grad.numpy(), rtol=1e-10,
                                   atol=1e-12)


# ---- autograd.functional second order, gradgradcheck ----------------------------------
F = tg.autograd.functional


def _quartic(x):
    return (x ** 4).sum() + (x[0] * x[1]) + x.exp().sum()


def _quartic_hessian(xv):
    H = np.diag(12 * xv ** 2 + np.exp(xv))
    H[0, 1] += 1
    H[1, 0] += 1
    return H


def test_functional_hessian_hvp_vhp():
    xv, vv = np.array([0.5, -1.0, 2.0]), np.array([1.0, 0.5, -2.0])
    H = F.hessian(_quartic, t64(xv))
    np.testing.assert_allclose(H.numpy(), _quartic_hessian(xv), rtol=1e-12)
    for fn in (F.hvp, F.vhp):
        out, hv = fn(_quartic, t64(xv), t64(vv))
        assert out.item() == pytest.approx(_quartic(t64(xv)).item())
        np.testing.assert_allclose(hv.numpy(), _quartic_hessian(xv) @ vv, rtol=1e-12)
    blocks = F.hessian(lambda a, b: (a * a * b).sum(), (t64([1.0, 2.0]), t64([3.0, 4.0])))
    np.testing.assert_allclose(blocks[0][0].numpy(), np.diag([6.0, 8.0]))
    np.testing.assert_allclose(blocks[0][1].numpy(), np.diag([2.0, 4.0]))
    np.testing.assert_allclose(blocks[1][1].numpy(), np.zeros((2, 2)))
    with pytest.raises(RuntimeError, match="should contain a single element"):
        F.hessian(lambda x: x * 2, t64([1.0, 2.0]))


def test_functional_create_graph_results_carry_a_graph():
    x = t64([0.5, 1.5], True)
    J = F.jacobian(lambda a: a ** 3, x, create_graph=True)  # diag(3 a^2)
    (g,) = tg.autograd.grad(J.sum(), x)
    np.testing.assert_allclose(g.numpy(), 6 * np.array([0.5, 1.5]))
    H = F.hessian(lambda a: (a ** 3).sum(), x, create_graph=True)  # diag(6 a)
    (g,) = tg.autograd.grad(H.sum(), x)
    np.testing.assert_allclose(g.numpy(), [6.0, 6.0])
    _, hv = F.hvp(lambda a: (a ** 3).sum(), x, t64([1.0, 1.0]), create_graph=True)
    (g,) = tg.autograd.grad(hv.sum(), x)
    np.testing.assert_allclose(g.numpy(), [6.0, 6.0])
    _, jv = F.jvp(lambda a: a ** 3, x, t64([1.0, 2.0]), create_graph=True)
    np.testing.assert_allclose(jv.detach().numpy(), 3 * np.array([0.25, 2.25]) * [1, 2])
    (g,) = tg.autograd.grad(jv.sum(), x)
    np.testing.assert_allclose(g.numpy(), 6 * np.array([0.5, 1.5]) * [1, 2])
    _, vj = F.vjp(lambda a: a ** 3, x, t64([1.0, 2.0]), create_graph=True)
    (g,) = tg.autograd.grad(vj.sum(), x)
    np.testing.assert_allclose(g.numpy(), 6 * np.array([0.5, 1.5]) * [1, 2])


class _DetachedBackward(tg.autograd.Function):
    @staticmethod
    def forward(ctx, x):
        ctx.save_for_backward(x)
        return x ** 3

    @staticmethod
    def backward(ctx, g):  # right first derivative, but its own graph is cut
        (x,) = ctx.saved_tensors
        return g * 3 * x.detach() ** 2


def test_gradgradcheck():
    x = t64([0.3, 0.7], True)
    assert tg.autograd.gradgradcheck(lambda a: a.sin() * a * a, (x,))
    assert tg.autograd.gradgradcheck(lambda a, b: (a.exp() * b).sum(), (x, t64([1.0, 2.0], True)))
    assert tg.autograd.gradgradcheck(lambda a: _Cube.apply(a), (x,))
    assert tg.autograd.gradcheck(lambda a: _DetachedBackward.apply(a), (x,))
    with pytest.raises(tg.autograd.GradcheckError, match="Jacobian mismatch"):
        tg.autograd.gradgradcheck(lambda a: _DetachedBackward.apply(a), (x,))


@pytest.mark.torch
def test_functional_second_order_against_pytorch(torch_ref):
    xv, vv = np.array([0.5, -1.0, 2.0]), np.array([1.0, 0.5, -2.0])
    res = []
    for T in (tg, torch_ref):
        x, v = T.tensor(xv), T.tensor(vv)
        res.append([T.autograd.functional.hessian(_quartic, x).numpy(),
                    T.autograd.functional.hvp(_quartic, x, v)[1].numpy(),
                    T.autograd.functional.vhp(_quartic, x, v)[1].numpy()])
    for a, b in zip(*res):
        np.testing.assert_allclose(a, b, rtol=1e-12)


@pytest.mark.parametrize("index", [(0, None), (slice(1, None), None), (None, slice(None, 2))])
def test_an_index_with_none_that_also_selects_differentiates_twice(index):
    """x[0, None] is one strided record named UnsqueezeBackward0 (PyTorch's name for it)
    that also selects: its formula scatters the gradient back like a select's, where it
    once reshaped it (and raised). Checked against finite differences of the gradient."""
    xv = np.array([0.7, -1.3, 2.1])

    def first(v):
        x = t64(v, True)
        y = (x[index] ** 3).sum()
        (g,) = tg.autograd.grad(y, x, create_graph=True)
        return x, g

    x, g = first(xv)
    (h,) = tg.autograd.grad((g * t64([1.0, 2.0, 3.0])).sum(), x)
    eps, num = 1e-6, np.zeros(3)
    for j in range(3):
        d = np.zeros(3)
        d[j] = eps
        gp, gm = first(xv + d)[1].detach().numpy(), first(xv - d)[1].detach().numpy()
        num[j] = ((gp - gm) / (2 * eps) * [1.0, 2.0, 3.0]).sum()
    np.testing.assert_allclose(h.numpy(), num, rtol=1e-6, atol=1e-8)
