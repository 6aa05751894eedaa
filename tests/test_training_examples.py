"""The training examples (examples/linear_regression.py, logistic_regression.py,
mlp_digits.py) run at their small CI size and reach their targets; each saves its figure
when matplotlib is installed."""

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent


def _run(name, out_dir):
    env = dict(os.environ, TAPEGRAD_EXAMPLES_QUICK="1", TAPEGRAD_EXAMPLES_OUT=str(out_dir))
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(ROOT), env.get("PYTHONPATH")]))
    proc = subprocess.run([sys.executable, str(ROOT / "examples" / name)], cwd=ROOT, env=env,
                          capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, f"{name} exited {proc.returncode}:\n{proc.stderr}"
    return proc.stdout


def _figure(out, out_dir, name):
    try:
        import matplotlib  # noqa: F401
    except ImportError:
        return
    assert (out_dir / name).is_file(), out


def test_linear_regression_fits_the_line(tmp_path):
    out = _run("linear_regression.py", tmp_path)
    m = re.search(r"loss ([\d.]+) < 1, w = ([\d.-]+), b = ([\d.-]+)", out)
    assert m, out
    loss, w, b = map(float, m.groups())
    assert loss < 1 and abs(w - 3) < 0.5 and abs(b - 2) < 1.5, out
    _figure(out, tmp_path, "linear_regression.png")


def test_logistic_regression_separates_the_clouds(tmp_path):
    out = _run("logistic_regression.py", tmp_path)
    m = re.search(r"accuracy ([\d.]+)", out)
    assert m and float(m.group(1)) > 0.99, out
    _figure(out, tmp_path, "logistic_regression.png")


def test_mlp_digits_learns(tmp_path):
    pytest.importorskip("sklearn", reason="the digits example needs the examples extra")
    out = _run("mlp_digits.py", tmp_path)
    m = re.search(r"test accuracy ([\d.]+)", out)
    assert m and float(m.group(1)) >= 0.9, out
    _figure(out, tmp_path, "mlp_digits.png")


def test_hessian_newton_converges(tmp_path):
    out = _run("hessian_newton.py", tmp_path)
    assert "converged to (3.000000, 2.000000)" in out, out


def test_gradient_penalty_trains_the_critic(tmp_path):
    out = _run("gradient_penalty.py", tmp_path)
    m = re.search(r"final: critic gap ([\d.-]+) > 0, penalty ([\d.]+)", out)
    assert m and float(m.group(1)) > 0.1 and float(m.group(2)) < 0.1, out


def test_scipy_minimize_replays_the_recorded_gradient(tmp_path):
    out = _run("scipy_minimize.py", tmp_path)
    assert "replay recordings: 1" in out, out
    for name in ("tapegrad.func replay", "eager backward", "finite differences"):
        assert name in out, out


def test_print_tape_loads_the_saved_program_in_a_subprocess(tmp_path):
    out = _run("print_tape.py", tmp_path)
    assert "v1    = sin(v0)" in out and "7 records" in out, out
    assert "equal bit for bit: True" in out and "subprocess: f(x2) = " in out, out


def test_dask_eval_matches_local_results(tmp_path):
    pytest.importorskip("distributed", reason="the Dask example needs the distributed extra")
    out = _run("dask_eval.py", tmp_path)
    assert "on 2 workers (2 used)" in out, out
    assert "values and gradients equal to the local ones: True" in out, out


def test_newton_with_a_replayed_hessian_converges(tmp_path):
    out = _run("newton_hessian_replay.py", tmp_path)
    assert "recordings: gradient 1, Hessian 1" in out, out
    assert "max|x - 1| = " in out and "converged" in out, out
