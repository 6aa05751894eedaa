"""`.batch` of tapegrad.func transforms: the rows in one compiled call, on all threads,
equal bit for bit to the one-by-one calls (tapegrad/func/_batch.py)."""

import os
import subprocess
import sys
import textwrap

import numpy as np
import pytest

import tapegrad as tg
from tapegrad import func
from tapegrad.func import _batch


def rosen(x):
    return (100 * (x[1:] - x[:-1] ** 2) ** 2 + (1 - x[:-1]) ** 2).sum()


def rosen_grad(x):
    a, b = x[:-1], x[1:]
    g = np.zeros_like(x)
    g[:-1] += -400.0 * a * (b - a * a) - 2.0 * (1.0 - a)
    g[1:] += 200.0 * (b - a * a)
    return g


@pytest.fixture
def runs(monkeypatch):
    """Counts the compiled batches (kernel runs) made during a test."""
    count = [0]
    plain = _batch._Plan.run

    def run(self, *a):
        count[0] += 1
        return plain(self, *a)

    monkeypatch.setattr(_batch._Plan, "run", run)
    return count


def same(a, b):
    """Bitwise equal, with the same structure and dtypes."""
    if isinstance(a, tuple):
        return isinstance(b, tuple) and len(a) == len(b) and all(map(same, a, b))
    a, b = np.asarray(a), np.asarray(b)
    return a.dtype == b.dtype and a.shape == b.shape and np.array_equal(
        a.view(np.uint8), b.view(np.uint8))


def one_by_one(fn, *args):
    return _batch._stack([fn(*(a[i] for a in args)) for i in range(len(args[0]))])


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("rows", [3, 40, 301])
def test_value_and_grad(dtype, rows, runs):
    X = np.random.default_rng(rows).uniform(-1.5, 1.5, (rows, 7)).astype(dtype)
    fg = func.value_and_grad(rosen)
    V, G = fg.batch(X)
    assert runs[0] == (rows >= _batch.MIN_ROWS)
    assert V.dtype == np.float64 and G.dtype == dtype and G.shape == X.shape
    assert same((V, G), one_by_one(fn := func.value_and_grad(rosen), X))
    assert same((V, G), one_by_one(fn, X))  # (replays: the same bits as the first calls)
    tol = 1e-12 if dtype == np.float64 else 1e-4
    ref = np.array([rosen_grad(x) for x in X.astype(np.float64)])
    np.testing.assert_allclose(G, ref, rtol=tol, atol=tol * 100)


def test_grad_tuple_argnums(runs):
    def f(x, y, z):
        return (x ** 2 * y.sin()).sum() + (x * 3).sum()

    rng = np.random.default_rng(0)
    X, Y, Z = rng.normal(size=(50, 4)), rng.normal(size=(50, 4)), rng.normal(size=(50, 2))
    g = func.grad(f, argnums=(0, 1, 2))
    gx, gy, gz = g.batch(X, Y, Z)
    assert runs[0] == 1
    assert same((gx, gy, gz), one_by_one(func.grad(f, argnums=(0, 1, 2)), X, Y, Z))
    assert np.array_equal(gz, np.zeros((50, 2)))  # z is not used: its gradient is 0
    np.testing.assert_allclose(gx, 2 * X * np.sin(Y) + 3, rtol=1e-13)
    np.testing.assert_allclose(gy, X ** 2 * np.cos(Y), rtol=1e-13)
    V, (Gx, Gz) = func.value_and_grad(f, argnums=(0, 2)).batch(X, Y, Z)
    assert same((V, (Gx, Gz)), one_by_one(func.value_and_grad(f, argnums=(0, 2)), X, Y, Z))


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_vjp(dtype, runs):
    def f(x):
        return x.exp() * x.flip(0) + x.sum()

    rng = np.random.default_rng(1)
    X, U = rng.normal(size=(33, 5)).astype(dtype), rng.normal(size=(33, 5)).astype(dtype)
    out, vj = func.vjp(f).batch(X, U)
    assert runs[0] == 1
    assert same((out, vj), one_by_one(func.vjp(f), X, U))
    assert out.shape == (33, 5) and out.dtype == dtype
    tol = 1e-12 if dtype == np.float64 else 1e-4
    x, u = X.astype(np.float64), U.astype(np.float64)
    ref = u * np.exp(x) * x[:, ::-1] + (u * np.exp(x))[:, ::-1] + u.sum(1, keepdims=True)
    np.testing.assert_allclose(vj, ref, rtol=tol, atol=tol)


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_hvp(dtype, runs):
    rng = np.random.default_rng(2)
    X, W = rng.uniform(-1, 1, (64, 6)).astype(dtype), rng.normal(size=(64, 6)).astype(dtype)
    H = func.hvp(rosen).batch(X, W)
    assert runs[0] == 1
    assert same(H, one_by_one(func.hvp(rosen), X, W))
    x, w = X[5].astype(np.float64), W[5].astype(np.float64)
    eps = 1e-6  # a central difference of the analytic gradient along w
    ref = (rosen_grad(x + eps * w) - rosen_grad(x - eps * w)) / (2 * eps)
    tol = 1e-6 if dtype == np.float64 else 1e-2
    np.testing.assert_allclose(H[5], ref, rtol=tol, atol=tol * 10)


def test_jvp(runs):
    def f(x):
        return x.sin() * 2

    rng = np.random.default_rng(3)
    X, T = rng.normal(size=(20, 3)), rng.normal(size=(20, 3))
    y, jt = func.jvp(f).batch(X, T)
    assert runs[0] == 0  # a jvp by tangent sweeps: the rows run one by one (no kernel yet)
    assert same((y, jt), one_by_one(func.jvp(f), X, T))
    np.testing.assert_allclose(y, 2 * np.sin(X), rtol=1e-14)
    np.testing.assert_allclose(jt, 2 * np.cos(X) * T, rtol=1e-13)


def test_guard_failures_inside_a_batch(runs):
    def f(x):
        if x[0] > 0:  # a guard: rows of the other sign fail the first recording's
            return (x ** 2).sum()
        return (x * 3).sum()

    rng = np.random.default_rng(4)
    X = rng.normal(size=(200, 4))  # (the guard is on the value read, x[0]: two values)
    X[:, 0] = np.where(rng.random(200) < 0.3, -1.0, 1.0)
    X[0, 0] = 1.0  # the first row records the positive branch
    fg = func.value_and_grad(f)
    V, G = fg.batch(X)
    assert runs[0] == 1
    pos = X[:, 0] > 0
    assert 0 < pos.sum() < 200
    np.testing.assert_array_equal(G[pos], 2 * X[pos])
    np.testing.assert_array_equal(G[~pos], np.full(((~pos).sum(), 4), 3.0))
    np.testing.assert_allclose(V, np.where(pos, (X ** 2).sum(1), 3 * X.sum(1)), rtol=1e-14)
    assert fg.variants == 2
    assert same((V, G), one_by_one(func.value_and_grad(f), X))
    assert same((V, G), fg.batch(X))  # both variants exist now: still the same answers


def test_small_and_empty_batches(runs):
    fg = func.value_and_grad(rosen)
    X = np.random.default_rng(5).uniform(-1, 1, (2, 4))
    assert same(fg.batch(X), one_by_one(fg, X)) and runs[0] == 0
    out = fg.batch(np.zeros((0, 4)))
    assert np.size(out) == 0
    X1 = np.random.default_rng(6).uniform(-1, 1, (100, 4))
    assert same(fg.batch(X1), one_by_one(fg, X1)) and runs[0] == 1
    assert same(fg.batch(X1.tolist()), one_by_one(fg, X1))  # lists are arrays too


def test_bad_batches():
    fg = func.vjp(lambda x: x * 2)
    with pytest.raises(ValueError, match="same first"):
        fg.batch(np.zeros((5, 3)), np.zeros((4, 3)))
    with pytest.raises(ValueError, match="same first"):
        fg.batch(np.float64(2.0), np.float64(1.0))
    with pytest.raises(RuntimeError, match="cotangent has 2 elements"):
        fg.batch(np.zeros((30, 3)), np.zeros((30, 2)))
    with pytest.raises(TypeError):
        fg.batch()


def test_loops_in_anomaly_mode_and_for_jacobians(runs):
    X = np.random.default_rng(7).uniform(-1, 1, (40, 3))
    fg = func.value_and_grad(rosen)
    with tg.autograd.detect_anomaly():
        assert same(fg.batch(X), one_by_one(fg, X))
    assert runs[0] == 0
    jac = func.jacrev(lambda x: x * x)
    assert same(jac.batch(X), one_by_one(jac, X)) and runs[0] == 0


def test_one_thread_is_correct():
    code = textwrap.dedent("""
        import numpy as np, numba
        from tapegrad import func
        from tapegrad.func import _batch
        assert numba.get_num_threads() == 1
        def rosen(x):
            return (100 * (x[1:] - x[:-1] ** 2) ** 2 + (1 - x[:-1]) ** 2).sum()
        X = np.random.default_rng(0).uniform(-1, 1, (64, 9))
        fg = func.value_and_grad(rosen)
        V, G = fg.batch(X)
        W, H = _batch._stack([fg(x) for x in X])
        assert np.array_equal(V, W) and np.array_equal(G, H)
        print("ok")
    """)
    env = dict(os.environ, NUMBA_NUM_THREADS="1")
    r = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True,
                       text=True, timeout=600)
    assert r.returncode == 0, r.stderr
    assert r.stdout.strip().endswith("ok")


@pytest.mark.torch
def test_matches_torch():
    torch_ref = pytest.importorskip("torch")
    X = np.random.default_rng(8).uniform(-1.5, 1.5, (30, 6))
    V, G = func.value_and_grad(rosen).batch(X)
    for i in (0, 17, 29):
        x = torch_ref.tensor(X[i], requires_grad=True)
        v = rosen(x)
        v.backward()
        np.testing.assert_allclose(V[i], v.item(), rtol=1e-14)
        np.testing.assert_allclose(G[i], x.grad.numpy(), rtol=1e-13, atol=1e-13)
