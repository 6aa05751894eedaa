"""The benchmark suite (bench/) in quick mode, so CI keeps it from rotting.

Runs `pytest bench --benchmark-disable` with TAPEGRAD_BENCH_QUICK=1 (tiny sizes) in a
subprocess: every installed implementation's gradient is still checked against the
reference, each benchmark body runs once, peers that are absent are skipped. Also runs
the cold-start and tape-history scripts in their quick modes and renders a report (its
target summary included) from a small JSON.
"""

import json
import os
import subprocess
import sys

import pytest

pytest.importorskip("pytest_benchmark")

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def _env():
    env = dict(os.environ, TAPEGRAD_BENCH_QUICK="1")
    env["PYTHONPATH"] = ROOT + (os.pathsep + env["PYTHONPATH"] if env.get("PYTHONPATH") else "")
    return env


# tapegrad's rows of the benchmarks behind the report's target figures: each must run
# (and pass its checks), not be skipped or silently dropped from the collection
TARGET_ROWS = ("bench_sweep.py::bench_sweep[tapegrad-n=10]",
               "bench_elementwise.py::bench_elementwise[tapegrad]",
               "bench_elementwise.py::bench_elementwise_crosscheck",
               "bench_elementwise.py::bench_elementwise_rg[tapegrad]",
               "bench_elementwise.py::bench_elementwise_rg_crosscheck",
               "bench_rosenbrock.py::bench_rosenbrock[tapegrad-n=10]",
               "bench_rosenbrock.py::bench_rosenbrock[tapegrad-n=100]",
               "bench_rosenbrock.py::bench_rosenbrock_crosscheck[10]",
               "bench_seed.py::bench_seed_grad[tapegrad]",
               "bench_seed.py::bench_seed_grad_crosscheck",
               "bench_scalar_ode.py::bench_scalar_ode[tapegrad]",
               "bench_rnn.py::bench_rnn[tapegrad]",
               "bench_record_op.py::bench_record_op[tapegrad]")


def test_bench_suite_quick():
    r = subprocess.run([sys.executable, "-m", "pytest", "bench", "--benchmark-disable", "-q",
                        "-rA", "-p", "no:randomly"],
                       cwd=ROOT, env=_env(), capture_output=True, text=True, timeout=1200)
    assert r.returncode == 0, r.stdout[-6000:] + r.stderr[-3000:]
    assert " passed" in r.stdout
    assert "tapegrad" in r.stdout  # the report header lists what is installed
    passed = {line.split()[1] for line in r.stdout.splitlines() if line.startswith("PASSED ")}
    missing = [t for t in TARGET_ROWS if f"bench/{t}" not in passed]
    assert not missing, f"not run or not passed: {missing}\n" + r.stdout[-6000:]


def test_coldstart_quick():
    r = subprocess.run([sys.executable, "-m", "bench.coldstart", "--quick"], cwd=ROOT,
                       env=_env(), capture_output=True, text=True, timeout=1200)
    assert r.returncode == 0, r.stdout + r.stderr
    assert "import tapegrad" in r.stdout and "bytes per record" in r.stdout


def test_history_quick(tmp_path):
    out = tmp_path / "history.json"
    r = subprocess.run([sys.executable, "-m", "bench.history", "--quick", "--json", str(out)],
                       cwd=ROOT, env=_env(), capture_output=True, text=True, timeout=1200)
    assert r.returncode == 0, r.stdout + r.stderr
    assert "after / fresh process" in r.stdout and "after / fresh tape" in r.stdout
    res = json.loads(out.read_text())
    for key in ("fresh_process", "fresh_tape", "after"):
        assert res[key]["median"] > 0 and len(res["runs"][0][key]) == res["repeats"]
    assert res["after/fresh_process"]["median"] > 0
    assert res["tape_records"] >= 2 * res["leaves"]  # the graph's ops and leaf loads


def test_report_renders(tmp_path):
    sys.path.insert(0, ROOT)
    from bench import report

    def bench(group, impl, median):
        return {"group": group, "name": f"bench_x[{impl}]", "extra_info": {"impl": impl,
                "first_call_s": 0.5},
                "stats": {"median": median, "min": median * 0.9}}

    data = {"datetime": "2026-01-01T00:00:00", "machine_info": {
                "cpu_model": "test cpu", "cores": 2, "versions": {"python": "3"}},
            "benchmarks": [bench("seed", "tapegrad", 10e-6), bench("seed", "torch", 40e-6),
                           bench("seed", "jax", 20e-6), bench("sweep n=10", "tapegrad", 1e-6),
                           bench("sweep n=1000", "tapegrad", 100e-6),
                           bench("hvp n=10", "torch", 1e-3),
                           bench("elementwise n=100", "tapegrad", 3e-6),
                           bench("elementwise n=100", "numpy", 2e-6),
                           bench("rosenbrock n=10", "tapegrad", 30e-6),
                           bench("rosenbrock n=10", "torch", 100e-6),
                           bench("rosenbrock n=100", "tapegrad", 80e-6),
                           bench("rosenbrock n=100", "torch", 100e-6),
                           bench("record_op", "tapegrad", 0.8e-6)]}
    path = tmp_path / "latest.json"
    path.write_text(json.dumps(data))
    skips = [("bench_hvp.py", "tapegrad cannot do this yet: no create_graph")]
    history = {"processes": 1, "leaves": 10, "number": 5, "repeats": 1, "tape_records": 20,
               "tape_rows": 1024, "fresh_process": {"median": 10e-6, "min": 9e-6},
               "fresh_tape": {"median": 12e-6, "min": 10e-6},
               "after": {"median": 15e-6, "min": 9e-6},
               "after/fresh_process": {"median": 1.5, "min": 1.0},
               "after/fresh_tape": {"median": 1.25, "min": 0.9}}
    text = report.render(str(path), skips, results_dir=str(tmp_path), history=history)
    assert "| seed | 10 µs | 40 µs | — | 20 µs |" in text
    assert "0.25×" in text and "0.5×" in text
    assert "| hvp n=10 | skipped |" in text
    assert "| tapegrad (eager) | 100.0 |" in text  # (100 us - 1 us) / 990 records
    # the target summary: a row per figure, measured where it can be, "—" where not
    rows = {line.split(" | ")[0].lstrip("| "): line for line in text.splitlines()
            if line.startswith("| ")}
    assert "| `sweep n=10`, `sweep n=1000` | ≤ 15 ns | 100 ns/record | 90 ns/record | no |" in \
        rows["reverse sweep, per scalar record"]
    assert "| `elementwise n=100` | ≤ 1.3× | 1.5× | 1.5× | no |" in \
        rows["elementwise `a*2.5 + a`, 100,000 float32, no grad, vs NumPy"]
    assert "| `rosenbrock n=10` | ≤ 0.4× | 0.3× | 0.3× | yes |" in \
        rows["rosenbrock n=1,000 eager, slicing in the call, vs PyTorch"]
    assert "| `rosenbrock n=100` | ≤ 0.7× | 0.8× | 0.8× | no |" in \
        rows["rosenbrock n=100,000 eager, vs PyTorch"]
    assert "| — | ≤ 0.25× | — | — | — |" in \
        rows["seed `x**2+3x+1` with `torch.autograd.grad`, vs PyTorch"]
    assert "| ≤ 1 µs | 800 ns | 720 ns | yes |" in rows["record one op (1 element)"]
    assert "| ≤ 1.2× | 1.5× | 1× | no |" in \
        rows["seed after a dropped 10,000-record graph, vs a fresh process"]
    assert "**Tape history**" in text
    assert (tmp_path / "RESULTS.md").read_text().startswith("# tapegrad benchmark results")
