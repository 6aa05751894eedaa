"""The compile notice (tapegrad/tape/notice.py) and the ahead-of-time warmup
(tapegrad/warmup.py): what it runs, not a full compile."""

import os
import subprocess
import sys
import threading
import time

import pytest

from tapegrad import warmup
from tapegrad.ops import OPS
from tapegrad.tape import notice
from tapegrad.tape.notice import compiling

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


@pytest.fixture
def loud(monkeypatch):
    monkeypatch.delenv(notice.ENV, raising=False)
    monkeypatch.setattr(notice, "_told", False)  # as in a fresh process


def _notice_threads():
    return [t for t in threading.enumerate() if t.name == "tapegrad-compile-notice"]


# ---- the notice -----------------------------------------------------------------------
def test_a_slow_body_prints_exactly_one_line(loud, capsys):
    with compiling("the reverse sweep (float64)"):
        time.sleep(0.7)
    assert not _notice_threads()  # joined on exit
    time.sleep(0.1)
    out, err = capsys.readouterr()
    assert out == ""
    assert err.count("\n") == 1 and err.endswith("\n"), err
    assert err.startswith("tapegrad: compiling the reverse sweep (float64) with Numba")
    assert "python -m tapegrad.warmup" in err
    with compiling("the recorder (float32)", delay=0.05):  # the next one refers to it
        time.sleep(0.15)
    assert capsys.readouterr().err == ("tapegrad: compiling the recorder (float32) with Numba "
                                       "(once per install, as above)\n")


def test_a_fast_body_prints_nothing_even_later(loud, capsys):
    with compiling("the recorder (float32)"):
        pass
    assert not _notice_threads()  # cancelled and joined: it can't fire after the block
    time.sleep(0.6)
    assert capsys.readouterr() == ("", "")


def test_quiet_by_environment_and_by_function(loud, monkeypatch, capsys):
    monkeypatch.setenv(notice.ENV, "1")
    assert notice.is_quiet()
    with compiling("x", delay=0.05):
        time.sleep(0.15)
    monkeypatch.setenv(notice.ENV, "0")
    assert not notice.is_quiet()
    notice.quiet()
    assert os.environ[notice.ENV] == "1"
    with compiling("x", delay=0.05):
        time.sleep(0.15)
    assert capsys.readouterr().err == ""
    notice.quiet(False)
    assert notice.ENV not in os.environ and not notice.is_quiet()
    with compiling("x", delay=0.05):
        time.sleep(0.15)
    assert capsys.readouterr().err.count("\n") == 1


def test_exceptions_propagate_unchanged(loud, capsys):
    err = KeyError("from the body")
    with pytest.raises(KeyError) as info:
        with compiling("x"):
            raise err
    assert info.value is err
    with pytest.raises(ZeroDivisionError):  # also after the notice was printed
        with compiling("x", delay=0.05):
            time.sleep(0.15)
            1 / 0
    assert not _notice_threads()
    assert capsys.readouterr().err.count("\n") == 1


def test_nested_blocks_print_one_line(loud, capsys):
    with compiling("outer", delay=0.05):
        with compiling("inner", delay=0.05):
            time.sleep(0.15)
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "outer" in err


def test_describe_names_entry_points_and_their_dtype():
    from numba import typeof
    import numpy as np

    from tapegrad.tape import sweep

    f32, f64 = typeof(np.zeros(1, np.float32)), typeof(np.zeros(1, np.float64))
    assert notice.describe(sweep.record, (f32, typeof(1))) == "the recorder (float32)"
    assert notice.describe(sweep.reverse, (f32, f64)) == "the reverse sweep"
    assert notice.describe(sweep.reverse1, (f32, f32)) == "the reverse sweep (float32)"
    assert notice.describe(lambda: 0).startswith("the compiled entry point")


# ---- the warmup: what it runs -----------------------------------------------------------
def test_help_runs():
    env = dict(os.environ, PYTHONPATH=ROOT + os.pathsep + os.environ.get("PYTHONPATH", ""))
    r = subprocess.run([sys.executable, "-m", "tapegrad.warmup", "--help"], cwd=ROOT, env=env,
                       capture_output=True, text=True, timeout=120)
    assert r.returncode == 0, r.stderr
    assert "--jobs" in r.stdout and "NUMBA_CACHE_DIR" in r.stdout


def test_every_row_of_the_op_table_has_programs_in_both_dtypes():
    progs = warmup.programs()
    assert warmup.uncovered(progs) == [], \
        "add examples to these rows of the op table, or programs to tapegrad.warmup.EXTRA"
    cov = warmup.coverage(progs)
    assert set(cov) == {s.name for s in OPS}
    assert all(cov[s.name] == set(warmup.DTYPES) for s in OPS)
    # every example of every row, in each dtype, is among the programs
    have = {(p.op, p.expr, p.shapes, p.dtype) for p in progs}
    for s in OPS:
        for expr, *shapes in s.examples:
            for dt in warmup.DTYPES:
                assert (s.name, expr, tuple(map(tuple, shapes)), dt) in have, (s.name, expr)


def test_a_new_row_is_covered_without_an_edit(monkeypatch):
    from tapegrad import ops
    from tapegrad.ops.spec import UNARY, OpSpec

    row = OpSpec(999, "made_up", "MadeUpBackward0", UNARY, examples=(("x.made_up()", (3,)),))
    bare = OpSpec(998, "bare", "None", 0)
    monkeypatch.setattr(ops, "OPS", ops.OPS + (row, bare))
    progs = warmup.programs()
    assert {p.dtype for p in progs if p.op == "made_up"} == set(warmup.DTYPES)
    assert warmup.uncovered(progs) == ["bare"]


def test_shares_split_by_dtype_and_cover_every_program_once():
    progs = warmup.programs()
    for jobs in (1, 2, 3, 4):
        parts = warmup.shares(progs, jobs)
        assert 1 <= len(parts) <= jobs
        assert sorted(i for part in parts for i in part) == list(range(len(progs)))
    two = warmup.shares(progs, 2)
    assert [{progs[i].dtype for i in part} for part in two] == [{"float32"}, {"float64"}]
    prime = warmup.priming(progs, 2)
    assert len(prime) == 2 and warmup.priming(progs, 1) == []
    assert [ph for i, ph in prime[0]] == [("backward",)]  # the reverse sweep, alone


def test_the_extra_programs_run_and_record_their_rows():
    """The programs that are not examples (which the gradient tests run already)."""
    from tapegrad.ops import BY_NAME

    progs = [p for p in warmup.programs() if p.source != "example"]
    r = warmup.run(progs)
    assert r["failed"] == []
    for p in progs:
        assert BY_NAME[p.op].opcode in r["recorded"][p.dtype], p


def test_a_worker_runs_its_task_in_groups_of_equal_phases(monkeypatch):
    calls = []
    monkeypatch.setattr(warmup, "run", lambda progs, phases: calls.append(
        (len(progs), phases)) or {"programs": len(progs)})
    task = [(0, ("backward",)), (1, ()), (2, ()), (3, ("compaction",)), (4, ())]
    assert len(warmup._work(task)) == 4
    assert calls == [(1, ("backward",)), (2, ()), (1, ("compaction",)), (1, ())]


def test_watch_prints_when_a_dispatcher_compiles_and_only_then(loud, capsys, monkeypatch):
    from numba import njit

    @njit
    def plus_one(a):
        return a + 1

    monkeypatch.setattr(notice, "DELAY", 0.0)  # any compile is "long"
    assert notice.watch(plus_one) == ["plus_one"]
    notice.watch(plus_one)  # twice: still one wrapper
    assert plus_one(1.0) == 2.0  # compiles (float64)
    assert plus_one(2.0) == 3.0  # compiled: no notice
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "plus_one" in err
    plus_one.compile((__import__("numba").int64,))  # an explicit compile goes through it too
    assert capsys.readouterr().err.count("\n") == 1


def test_watch_a_module_watches_its_public_entry_points():
    import types

    from numba import njit

    mod = types.ModuleType("fake_sweep")
    exec("from numba import njit\n@njit\ndef entry(a):\n    return a\n@njit\ndef _inner(a):\n"
         "    return a\n", mod.__dict__)
    mod.imported = njit(lambda a: a)  # defined elsewhere: not this module's
    assert notice.watch(mod) == ["entry"]
    with pytest.raises(TypeError):
        notice.watch(42)
