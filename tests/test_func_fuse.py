"""Fused replays (tapegrad/func/_fuse.py): an elementwise objective over many elements
compiled into one loop; equal to the eager value and gradient to rounding, with the
recordings that do not fuse replayed as before."""

import os

import numpy as np
import pytest

import tapegrad as tg
from tapegrad import func
from tapegrad.func import _fuse

N = _fuse.MIN_ELEMENTS + 17


@pytest.fixture(autouse=True)
def cache_dir(tmp_path, monkeypatch):
    monkeypatch.setenv("TAPEGRAD_CACHE_DIR", str(tmp_path / "cache"))
    return tmp_path / "cache"


def rosen(x):
    return (100 * (x[1:] - x[:-1] ** 2) ** 2 + (1 - x[:-1]) ** 2).sum()


def eager(f, *arrays, argnums=(0,)):
    ts = [tg.tensor(a, requires_grad=True) for a in arrays]
    out = f(*ts)
    grads = tg.autograd.grad(out, [ts[i] for i in argnums], allow_unused=True,
                             materialize_grads=True)
    return out.item(), [g.numpy() for g in grads]


def fused(fg):
    return "fused loop" in fg.tape.plan[1]


def test_rosenbrock_fuses_and_matches_eager(cache_dir):
    fg = func.value_and_grad(rosen)
    rng = np.random.default_rng(0)
    fg(rng.uniform(-1, 1, N))
    assert fused(fg) and len(os.listdir(cache_dir)) >= 1
    for _ in range(3):
        x = rng.uniform(-1.5, 1.5, N)
        value, grad = fg(x)
        want, (want_g,) = eager(rosen, x)
        np.testing.assert_allclose(value, want, rtol=1e-12)
        np.testing.assert_allclose(grad, want_g, rtol=1e-12, atol=1e-12)
    files = sorted(os.listdir(cache_dir))
    again = func.value_and_grad(rosen)  # the same program: the same generated file
    again(rng.uniform(-1, 1, N))
    assert sorted(os.listdir(cache_dir)) == files and fused(again)


def objective(x, w, s):
    c = tg.linspace(0.0, 1.0, N)  # a constant vector made inside
    r = (x * w - c).tanh() * s + x[: N].exp() * 0.01
    return (r * r).mean() + (w.sigmoid() - 0.5).abs().mean()


def test_mean_constants_scalars_and_argnums():
    rng = np.random.default_rng(1)
    args = [rng.normal(size=N), rng.normal(size=N), np.array(1.5)]
    fg = func.value_and_grad(objective, argnums=(0, 1, 2))
    fg(*args)
    assert fused(fg)
    for k in range(2):
        new = [a * (1 + 0.1 * k) for a in args]
        value, grads = fg(*new)
        want, want_g = eager(objective, *new, argnums=(0, 1, 2))
        np.testing.assert_allclose(value, want, rtol=1e-12)
        for g, w in zip(grads, want_g):
            assert g.shape == w.shape
            np.testing.assert_allclose(g, w, rtol=1e-10, atol=1e-14)
    gw = func.grad(objective, argnums=1)
    np.testing.assert_allclose(gw(*args), eager(objective, *args, argnums=(1,))[1][0],
                               rtol=1e-10, atol=1e-14)


@pytest.mark.parametrize("case", ["float32", "small", "matmul", "guard"])
def test_what_does_not_fuse_still_replays(case):
    rng = np.random.default_rng(2)
    x = rng.normal(size=N)
    f = rosen
    if case == "float32":
        x = x.astype(np.float32)
    elif case == "small":
        x = x[:100]
    elif case == "matmul":
        def f(x):
            return (x.reshape(-1, 1) @ tg.ones(1, 2, dtype=tg.float64)).sum() + rosen(x)
    else:
        def f(x):
            return rosen(x) * (2.0 if x.sum() > 0 else 1.0)
    fg = func.value_and_grad(f)
    fg(x)
    assert not fused(fg)
    x2 = (x * 1.1).astype(x.dtype)
    value, grad = fg(x2)
    want, (want_g,) = eager(f, x2)
    tol = 1e-4 if case == "float32" else 1e-12
    np.testing.assert_allclose(value, want, rtol=tol)
    np.testing.assert_allclose(grad, want_g, rtol=tol, atol=tol)


def test_an_unwritable_cache_directory_replays_unfused(tmp_path, monkeypatch):
    blocker = tmp_path / "file"
    blocker.write_text("not a directory")
    monkeypatch.setenv("TAPEGRAD_CACHE_DIR", str(blocker / "sub"))
    fg = func.value_and_grad(rosen)
    x = np.random.default_rng(3).normal(size=N + 1)  # (a program this process has not loaded)
    fg(x)
    assert not fused(fg)
    np.testing.assert_allclose(fg(x)[1], eager(rosen, x)[1][0], rtol=1e-12, atol=1e-12)


def test_a_smaller_objective_fuses_after_many_replays():
    fg = func.value_and_grad(rosen)
    rng = np.random.default_rng(5)
    x = rng.uniform(-1, 1, 2 * _fuse.LATE_ELEMENTS)
    fg(x)
    assert not fused(fg)
    before = [fg(x * 0.5) for _ in range(3)]
    for _ in range(_fuse.LATE_CALLS):
        fg(x)
    assert fused(fg)
    after = fg(x * 0.5)
    np.testing.assert_allclose(after[0], before[0][0], rtol=1e-13)
    np.testing.assert_allclose(after[1], before[0][1], rtol=1e-13, atol=1e-13)


def test_a_fused_program_loads_from_the_cache_in_another_process(cache_dir):
    """The generated file and Numba's cache of it serve a second process (which loads,
    not compiles, and gets the same numbers)."""
    import subprocess
    import sys

    code = ("import numpy as np, tapegrad as tg\n"
            "def rosen(x):\n"
            "    return (100 * (x[1:] - x[:-1] ** 2) ** 2 + (1 - x[:-1]) ** 2).sum()\n"
            f"fg = tg.func.value_and_grad(rosen)\nx = np.linspace(-1, 1, {N})\n"
            "fg(x)\nv, g = fg(x)\nassert 'fused loop' in fg.tape.plan[1]\n"
            "print(repr(v), repr(float(g.sum())))\n")
    env = dict(os.environ, TAPEGRAD_CACHE_DIR=str(cache_dir), TAPEGRAD_QUIET="1")
    runs = [subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                           env=env, timeout=300) for _ in range(2)]
    for r in runs:
        assert r.returncode == 0, r.stderr[-2000:]
    assert runs[0].stdout == runs[1].stdout
    assert any(f.endswith(".nbi") for _, _, fs in os.walk(cache_dir) for f in fs)
