"""Rolled scalar programs (tapegrad/func/_roll.py): a replayed Python loop of scalar ops
becomes compiled loops whose values and gradients are the interpreter's bit for bit."""

import os
import subprocess
import sys

import numpy as np
import pytest

import tapegrad as tg
from tapegrad import func
from tapegrad.func import _roll

STEPS = 40  # 11 records a step: 880 rows, above MIN_ROWS
assert 22 * STEPS > _roll.MIN_ROWS


@pytest.fixture(autouse=True)
def cache_dir(tmp_path, monkeypatch):
    monkeypatch.setenv("TAPEGRAD_CACHE_DIR", str(tmp_path / "cache"))
    monkeypatch.setattr(_roll, "LATE_CALLS", 6)
    monkeypatch.setattr(_roll, "BUDGET", 0.0)  # roll at the LATE_CALLS-th replay
    return tmp_path / "cache"


def lotka_volterra(p):
    """Explicit Euler with a step size that changes every step (a float parameter the
    rolled loop reads from the program's parameter array) and a guard on the state."""
    a, b, d, g = p[0], p[1], p[2], p[3]
    x, y = 10.0, 5.0
    for k in range(STEPS):
        dt = 0.01 + 1e-4 * k
        xy = x * y
        x, y = x + dt * (a * x - b * xy), y + dt * (d * xy - g * y)
    if x > 1e6:  # a guard: the replay checks that the branch is the recorded one
        return x.log()
    return (x - 1.0) ** 2 + (y - 1.0) ** 2


def rolled(fg):
    return "rolled" in fg.tape.plan[1]


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_an_ode_loop_rolls_and_stays_bit_for_bit(dtype):
    fg = func.value_and_grad(lotka_volterra)
    rng = np.random.default_rng(1)
    points = [np.array([1.1, 0.4, 0.1, 0.4], dtype) + rng.uniform(0, 0.1, 4).astype(dtype)
              for _ in range(4)]
    before = [fg(p) for p in points]  # interpreted (the first LATE_CALLS replays)
    assert not rolled(fg)
    for _ in range(_roll.LATE_CALLS):
        fg(points[0])
    assert rolled(fg)
    assert "compiled loop(s) (periods of" in fg.tape.plan[1]
    for p, (value, grad) in zip(points, before):
        v2, g2 = fg(p)
        assert v2 == value and g2.dtype == dtype
        np.testing.assert_array_equal(g2, grad)
    p = points[0]
    ts = tg.tensor(p, requires_grad=True)
    want = lotka_volterra(ts)
    want.backward()
    value, grad = fg(p)
    np.testing.assert_allclose(value, want.item(), rtol=1e-5 if dtype == np.float32 else 1e-13)
    np.testing.assert_allclose(grad, ts.grad.numpy(), rtol=1e-4 if dtype == np.float32 else 1e-12)


def test_a_rolled_programs_guard_still_sends_the_other_branch_elsewhere():
    fg = func.value_and_grad(lotka_volterra)
    p = np.array([1.1, 0.4, 0.1, 0.4])
    for _ in range(_roll.LATE_CALLS + 1):
        fg(p)
    assert rolled(fg)
    big = np.array([80.0, 0.0, 0.0, 0.0])  # x grows past the guard: the log branch
    value, grad = fg(big)
    ts = tg.tensor(big, requires_grad=True)
    want = lotka_volterra(ts)
    want.backward()
    assert value == want.item() and np.isfinite(value)
    np.testing.assert_array_equal(grad, ts.grad.numpy())


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_a_batch_counts_as_replays_and_runs_the_rolled_rows(dtype):
    fg = func.value_and_grad(lotka_volterra)
    X = (np.array([1.1, 0.4, 0.1, 0.4]) +
         np.random.default_rng(2).uniform(0, 0.1, (40, 4))).astype(dtype)
    X[3, 0] = 80.0  # a row on the other side of the guard: answered by its own call
    X[3, 1:] = 0.0
    calls = [fg(x) for x in X[:2]]  # two interpreted replays: not rolled yet
    assert not rolled(fg)
    V, G = fg.batch(X)  # 40 more rows: past LATE_CALLS, so the batch rolls first
    (variants,) = fg._variants.values()  # (the guard's other side: a second variant)
    assert any("rolled" in v.tape.plan[1] for v in variants if v.tape.plan)
    calls = [fg(x) for x in X]
    assert np.array_equal(V, np.array([c[0] for c in calls]))
    assert np.array_equal(G, np.array([c[1] for c in calls])) and G.dtype == dtype


def test_runs_find_periods_and_end_where_registers_stop_being_affine():
    sig = np.array([7, 1, 2, 3, 1, 2, 3, 1, 2, 3, 1, 2, 3, 9])
    regs = np.zeros((len(sig), 2), np.int64)
    regs[1:13, 0] = np.arange(12) + 100  # stride 3 a period
    regs[1:13, 1] = 5                    # a register read by every step
    assert _roll.runs(sig, regs) == [(0, 1, 1), (1, 3, 4), (13, 1, 1)]
    regs[10, 0] = 0  # the last period breaks the stride: three periods are left
    assert _roll.runs(sig, regs) == [(0, 1, 1), (1, 3, 3)] + [(k, 1, 1) for k in range(10, 14)]
    sig2 = np.array([1, 2, 1, 2, 5])  # two periods are not a run
    assert _roll.runs(sig2, np.zeros((5, 1), np.int64)) == [(k, 1, 1) for k in range(5)]


def test_a_program_that_does_not_repeat_is_not_rolled():
    sig = np.random.default_rng(0).integers(0, 1 << 30, 1000)
    assert _roll.runs(sig, np.zeros((1000, 1), np.int64), max_straight=100) is None
    # opcodes that repeat over registers that do not: given up on after max_straight rows
    sig = np.tile(np.arange(11), 500)
    regs = np.random.default_rng(1).integers(0, 1000, (sig.size, 3))
    assert _roll.runs(sig, regs, max_straight=100) is None

    def distinct(p):  # 600 records, no period (every step's constant differs in kind)
        s = p[0] * 1.0
        for k in range(150):
            s = (s * (1.0 + k)).sin() + s.exp() * 1e-3 if k % 2 else s.tanh() - p[1] ** 2
        return s
    fg = func.value_and_grad(distinct)
    p = np.array([0.3, 0.2])
    want = fg(p)
    for _ in range(_roll.LATE_CALLS + 2):
        got = fg(p)
    assert got[0] == want[0] and np.array_equal(got[1], want[1])


def test_rolled_loops_load_from_the_cache_in_another_process(cache_dir):
    code = (
        "import numpy as np, sys\n"
        "sys.path.insert(0, %r)\n"
        "from test_func_roll import lotka_volterra, rolled\n"
        "from tapegrad import func\n"
        "from tapegrad.func import _roll\n"
        "_roll.LATE_CALLS, _roll.BUDGET = 3, float(sys.argv[1])\n"
        "fg = func.value_and_grad(lotka_volterra)\n"
        "p = np.array([1.1, 0.4, 0.1, 0.4])\n"
        "for _ in range(8): value, grad = fg(p)\n"
        "print(rolled(fg), repr(value))\n") % os.path.dirname(__file__)
    env = dict(os.environ, TAPEGRAD_CACHE_DIR=str(cache_dir))

    def run(budget):
        return subprocess.run([sys.executable, "-c", code, str(budget)], capture_output=True,
                              text=True, env=env, check=True)
    first = run(1e9)  # the budget is not spent and nothing is cached: interpreted
    assert first.stdout.split()[0] == "False"
    compiled = run(0.0)  # compiled at the third replay
    assert compiled.stdout.split()[0] == "True" and "compiling" in compiled.stderr
    second = run(1e9)  # the compiled loops are in the cache: loaded at the third replay
    assert second.stdout.split() == compiled.stdout.split() == ["True",
                                                                first.stdout.split()[1]]
    assert "compiling" not in second.stderr
