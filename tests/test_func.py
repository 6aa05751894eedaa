"""tapegrad.func: record once, replay for new inputs, with guards and eager fallbacks."""

import warnings

import numpy as np
import pytest

import tapegrad as torch
from tapegrad import func
from tests.opcases import CASES, IDS, run


def rosen(x):
    return (100 * (x[1:] - x[:-1] ** 2) ** 2 + (1 - x[:-1]) ** 2).sum()


def rosen_grad(x):
    a, b = x[:-1], x[1:]
    u = b - a * a
    g = np.zeros_like(x)
    g[:-1] += -400.0 * a * u - 2.0 * (1.0 - a)
    g[1:] += 200.0 * u
    return g


def eager_grad(f, *xs, argnums=(0,)):
    ts = [torch.tensor(x, requires_grad=True) for x in xs]
    y = f(*ts)
    gs = torch.autograd.grad(y, [ts[i] for i in argnums], allow_unused=True,
                             materialize_grads=True)
    return y.detach().numpy(), [g.numpy() for g in gs]


def test_value_and_grad_records_once_and_replays():
    fg = func.value_and_grad(rosen)
    rng = np.random.default_rng(0)
    for _ in range(5):
        x = rng.uniform(-1.5, 1.5, 40)
        v, g = fg(x)
        assert isinstance(v, float)
        np.testing.assert_allclose(v, np.sum(100 * (x[1:] - x[:-1] ** 2) ** 2
                                             + (1 - x[:-1]) ** 2), rtol=1e-12)
        np.testing.assert_allclose(g, rosen_grad(x), rtol=1e-12, atol=1e-12)
    assert fg.variants == 1
    fg(np.zeros(7))  # a new shape: a second recording
    assert fg.variants == 2
    listing = str(fg.tape)
    assert "slice(v0)" in listing and "sum(" in listing and "records" in listing


def test_scipy_minimize_takes_value_and_grad():
    scipy_optimize = pytest.importorskip("scipy.optimize")
    fg = func.value_and_grad(rosen)
    res = scipy_optimize.minimize(fg, np.zeros(20), jac=True, method="L-BFGS-B",
                                  options={"maxiter": 2000})
    assert res.success
    np.testing.assert_allclose(res.x, np.ones(20), atol=1e-4)


@pytest.mark.parametrize("case", CASES, ids=IDS)
def test_replay_equals_eager_on_every_op_example(case):
    """Every op-table example as a traced function: replayed at a new point, its value and
    gradient equal an eager run there bit for bit (the same kernels run)."""
    spec, expr, shapes = case
    rng = np.random.default_rng(spec.opcode)
    lo, hi = spec.domain

    def f(*xs):
        return run(spec, expr, xs).sum()

    def point():
        return [rng.uniform(lo, hi, s) for s in shapes]

    argnums = tuple(range(len(shapes)))
    fg = func.value_and_grad(f, argnums=argnums)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # (an op reading values falls back to eager)
        fg(*point())
        xs = point()
        v, gs = fg(*xs)
    ev, egs = eager_grad(f, *xs, argnums=argnums)
    assert np.array_equal(np.asarray(v), ev.reshape(()), equal_nan=True)
    for g, eg in zip(gs, egs):
        assert np.array_equal(g, eg, equal_nan=True), (expr, g, eg)


def test_argnums_statics_and_dtypes():
    def f(x, w, scale):
        return ((x * w).sum() * scale) ** 2

    g = func.grad(f, argnums=(0, 1))
    x, w = np.array([1.0, 2.0]), np.array([0.5, -1.0], np.float32)
    gx, gw = g(x, w, 3.0)
    _, (ex, ew) = eager_grad(lambda a, b: f(a, b, 3.0), x, w, argnums=(0, 1))
    np.testing.assert_allclose(gx, ex)
    assert gw.dtype == np.float32
    np.testing.assert_allclose(gw, ew, rtol=1e-6)
    g(x, w, 2.0)  # another static value: another recording
    assert g.variants == 2
    np.testing.assert_allclose(func.grad(lambda x: (x * 0.0 + 1.0).sum())(x), [0.0, 0.0])
    np.testing.assert_allclose(func.grad(lambda x: torch.ones(2).sum() * 1.0)(x), [0.0, 0.0])


def test_a_guard_never_lets_a_replay_return_another_branch():
    def branchy(x):
        s = x.sum()
        if s > 0:
            return (x * x).sum()
        if float(x[0]) < -1:
            return x.exp().sum()
        return (x * 3.0).sum()

    g = func.grad(branchy)
    rng = np.random.default_rng(1)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        for _ in range(60):
            x = rng.uniform(-2, 2, 3)
            _, (want,) = eager_grad(branchy, x)
            np.testing.assert_allclose(g(x), want, rtol=1e-12)


def test_guards_that_keep_failing_fall_back_to_eager_with_one_warning():
    def f(x):
        return x * float(x.sum()) if x.sum() > 0 else -x

    g = func.value_and_grad(lambda x: f(x).sum())
    xs = [np.array([1.0, float(i)]) for i in range(12)]
    with pytest.warns(UserWarning, match="keeps changing") as record:
        for x in xs:
            v, gr = g(x)
            ev, (eg,) = eager_grad(lambda t: f(t).sum(), x)
            np.testing.assert_allclose(gr, eg)
    assert len([w for w in record if "tapegrad.func" in str(w.message)]) == 1
    assert g.variants == 8 and g.eager is not None


def test_in_place_changes_and_custom_functions_run_eagerly():
    def inplace(x):
        y = x * 2.0
        with torch.no_grad():
            y.mul_(0.5)
        return (y * x).sum()

    g = func.grad(inplace)
    with pytest.warns(UserWarning, match="in place"):
        r = g(np.array([1.0, 2.0]))
    _, (want,) = eager_grad(inplace, np.array([1.0, 2.0]))
    np.testing.assert_allclose(r, want)
    np.testing.assert_allclose(g(np.array([3.0, 4.0])), eager_grad(inplace, [3.0, 4.0])[1][0])

    class Double(torch.autograd.Function):
        @staticmethod
        def forward(ctx, x):
            return x * 2

        @staticmethod
        def backward(ctx, gr):
            return gr * 2

    g2 = func.grad(lambda x: Double.apply(x).sum())
    with pytest.warns(UserWarning, match="custom autograd.Function"):
        np.testing.assert_allclose(g2(np.array([1.0, 5.0])), [2.0, 2.0])
    np.testing.assert_allclose(g2(np.array([7.0])), [2.0])


def test_second_order_and_forward_transforms():
    x = np.array([1.0, 2.0, 3.0])
    h = func.hessian(rosen)(x)
    want = np.array([[1200 * 1 - 400 * 2 + 2, -400 * 1, 0],
                     [-400 * 1, 200 + 1200 * 4 - 400 * 3 + 2, -400 * 2],
                     [0, -400 * 2, 200]], float)
    np.testing.assert_allclose(h, want)
    hv = func.hvp(rosen)
    v = np.array([0.5, -1.0, 2.0])
    np.testing.assert_allclose(hv(x, v), want @ v)
    np.testing.assert_allclose(hv(2 * x, v), func.hessian(rosen)(2 * x) @ v)
    assert hv.variants == 1
    hs = func.hessian(rosen)  # replayed at a new point (recorded at x)
    hs(x)
    y = np.array([0.5, -1.0, 2.0])
    np.testing.assert_allclose(hs(y), [[1200 * 0.25 + 400 + 2, -200, 0],
                                       [-200, 200 + 1200 - 800 + 2, 400],
                                       [0, 400, 200]])
    assert hs.variants == 1

    def f(x):
        return (x * x).sin() * 2.0

    val, jt = func.jvp(f)(np.array([1.0, 2.0]), np.array([1.0, -1.0]))
    np.testing.assert_allclose(val, 2 * np.sin([1.0, 4.0]))
    np.testing.assert_allclose(jt, 4 * np.array([1.0, -2.0]) * np.cos([1.0, 4.0]))
    jac = func.jacrev(f)(np.array([1.0, 2.0]))
    np.testing.assert_allclose(jac, np.diag(4 * np.array([1.0, 2.0]) * np.cos([1.0, 4.0])))
    out, vj = func.vjp(f)(np.array([1.0, 2.0]), np.array([1.0, 3.0]))
    np.testing.assert_allclose(vj, np.array([1.0, 3.0]) * np.diag(jac))


def test_batch_equals_one_by_one():
    fg = func.value_and_grad(rosen)
    X = np.random.default_rng(2).uniform(-1, 1, (6, 5))
    V, G = fg.batch(X)
    for i in range(6):
        v, g = fg(X[i])
        assert V[i] == v and np.array_equal(G[i], g)
    hv = func.hvp(rosen)
    W = np.ones((6, 5))
    np.testing.assert_allclose(hv.batch(X, W)[2], hv(X[2], W[2]))


def test_bad_arguments():
    with pytest.raises(TypeError, match="expected a function"):
        func.grad(3)
    with pytest.raises(IndexError, match="argnums 2"):
        func.grad(rosen, argnums=2)(np.zeros(3))
    with pytest.raises(TypeError, match="must return a Tensor"):
        func.grad(lambda x: 1.0)(np.zeros(3))
    with pytest.raises(TypeError, match="number, an array or a Tensor"):
        func.grad(rosen)("abc")
