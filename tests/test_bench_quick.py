"""The benchmark suite (bench/) in quick mode, so CI keeps it from rotting.

Runs `pytest bench --benchmark-disable` with TAPEGRAD_BENCH_QUICK=1 (tiny sizes) in a
subprocess: every installed implementation's gradient is still checked against the
reference, each benchmark body runs once, peers that are absent are skipped. Also runs
the cold-start script in its quick mode and renders a report from a small JSON.
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


def test_bench_suite_quick():
    r = subprocess.run([sys.executable, "-m", "pytest", "bench", "--benchmark-disable", "-q",
                        "-rs", "-p", "no:randomly"],
                       cwd=ROOT, env=_env(), capture_output=True, text=True, timeout=1200)
    assert r.returncode == 0, r.stdout[-6000:] + r.stderr[-3000:]
    assert " passed" in r.stdout
    assert "tapegrad" in r.stdout  # the report header lists what is installed


def test_coldstart_quick():
    r = subprocess.run([sys.executable, "-m", "bench.coldstart", "--quick"], cwd=ROOT,
                       env=_env(), capture_output=True, text=True, timeout=1200)
    assert r.returncode == 0, r.stdout + r.stderr
    assert "import tapegrad" in r.stdout and "bytes per record" in r.stdout


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
                           bench("hvp n=10", "torch", 1e-3)]}
    path = tmp_path / "latest.json"
    path.write_text(json.dumps(data))
    skips = [("bench_hvp.py", "tapegrad cannot do this yet: no create_graph")]
    text = report.render(str(path), skips, results_dir=str(tmp_path))
    assert "| seed | 10 µs | 40 µs | 20 µs |" in text
    assert "0.25×" in text and "0.5×" in text
    assert "| hvp n=10 | skipped |" in text
    assert "| tapegrad (eager) | 100.0 |" in text  # (100 us - 1 us) / 990 records
    assert (tmp_path / "RESULTS.md").read_text().startswith("# tapegrad benchmark results")
