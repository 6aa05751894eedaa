"""Cold start of tapegrad, each measurement in a fresh Python process.

    python -m bench.coldstart            # warm cache (5 runs) and first-ever compile
    python -m bench.coldstart --quick    # warm cache only, 1 run (CI)

Measures `import tapegrad`, and import + the first backward of the seed example
(`x = tensor([2.0], requires_grad=True); (x**2 + 3*x + 1).backward()`):
  (a) with Numba's cache warm (tapegrad's compiled kernels on disk; one untimed run
      first makes sure they are there),
  (b) cold: NUMBA_CACHE_DIR set to a fresh, empty temporary directory, so every kernel
      is compiled for the first time.
Times are taken inside the child (perf_counter around the import and the backward) and
also as the child's whole wall time (interpreter start included). Also reports tape
bytes per record. Prints a markdown table; `--json PATH` saves the numbers.
"""

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time

from bench.threads import THREAD_ENV

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))

IMPORT_ONLY = """
import json, time
t0 = time.perf_counter()
import tapegrad
t1 = time.perf_counter()
print(json.dumps({"import_s": t1 - t0}))
"""

FIRST_BACKWARD = """
import json, time
t0 = time.perf_counter()
import tapegrad as torch
t1 = time.perf_counter()
x = torch.tensor([2.0], requires_grad=True)
y = x**2 + 3*x + 1
y.backward()
assert float(x.grad.item()) == 7.0, x.grad
t2 = time.perf_counter()
print(json.dumps({"import_s": t1 - t0, "first_backward_s": t2 - t1, "total_s": t2 - t0}))
"""

TAPE_BYTES = """
import json
import tapegrad as tg
from tapegrad.tape import current
from tapegrad.tape import records
N = %d
tape = current()
x = tg.tensor([1.0], dtype=tg.float64, requires_grad=True)
y = x
for _ in range(N):
    y = y + 1.0
nrec = tape.nrecords
nbytes = tape.nbytes()
row = records.RECORD.itemsize + records.SLOT.itemsize
print(json.dumps({"records": nrec, "nbytes": nbytes, "nbytes_per_record": nbytes / nrec,
                  "row_bytes_per_record": row}))
"""


def child(code, extra_env=None, timeout=900):
    """Run `code` in a fresh interpreter; its JSON line plus the wall time of the process."""
    env = dict(os.environ, **THREAD_ENV, **(extra_env or {}))
    env["PYTHONPATH"] = ROOT + (os.pathsep + env["PYTHONPATH"] if env.get("PYTHONPATH") else "")
    t0 = time.perf_counter()
    r = subprocess.run([sys.executable, "-c", code], cwd=ROOT, env=env, capture_output=True,
                       text=True, timeout=timeout)
    wall = time.perf_counter() - t0
    if r.returncode != 0:
        raise RuntimeError(f"child failed ({r.returncode}):\n{r.stdout}\n{r.stderr}")
    out = json.loads(r.stdout.strip().splitlines()[-1])
    out["process_s"] = wall
    return out


def summarize(runs):
    keys = runs[0].keys()
    return {k: {"median": statistics.median(r[k] for r in runs), "min": min(r[k] for r in runs),
                "runs": len(runs)} for k in keys}


def measure(repeats=5, cold=True, tape_records=100_000):
    res = {}
    child(FIRST_BACKWARD)  # untimed: fills Numba's cache if it is missing or stale
    res["import_warm"] = summarize([child(IMPORT_ONLY) for _ in range(repeats)])
    res["first_backward_warm"] = summarize([child(FIRST_BACKWARD) for _ in range(repeats)])
    if cold:
        d = tempfile.mkdtemp(prefix="tapegrad-numba-cold-")
        try:
            res["first_backward_cold"] = summarize(
                [child(FIRST_BACKWARD, {"NUMBA_CACHE_DIR": d})])
        finally:
            shutil.rmtree(d, ignore_errors=True)
    res["tape_bytes"] = child(TAPE_BYTES % tape_records)
    return res


def markdown(res):
    def cell(d, key):
        if key not in d:
            return "-"
        v = d[key]
        if v["runs"] == 1:
            return f"{v['median']:.3f} s"
        return f"{v['median']:.3f} s (min {v['min']:.3f}, {v['runs']} runs)"

    lines = ["| cold start (fresh process) | in-process | process wall |",
             "| --- | --- | --- |"]
    rows = [("`import tapegrad`, Numba cache warm", "import_warm", "import_s"),
            ("import + first backward, Numba cache warm", "first_backward_warm", "total_s"),
            ("  of which the first backward", "first_backward_warm", "first_backward_s"),
            ("import + first backward, cold (empty NUMBA_CACHE_DIR: first-ever compile)",
             "first_backward_cold", "total_s"),
            ("  of which the first backward", "first_backward_cold", "first_backward_s")]
    for label, case, key in rows:
        if case not in res:
            continue
        wall = cell(res[case], "process_s") if key != "first_backward_s" else ""
        lines.append(f"| {label} | {cell(res[case], key)} | {wall} |")
    tb = res.get("tape_bytes")
    if tb:
        lines += ["", "| tape size | bytes per record |", "| --- | --- |",
                  f"| record + slot table rows (RECORD.itemsize + SLOT.itemsize) | "
                  f"{tb['row_bytes_per_record']} |",
                  f"| whole tape after {tb['records']:,} scalar records "
                  f"(`tape.current().nbytes() / records`: tables, arenas, growth slack) | "
                  f"{tb['nbytes_per_record']:.1f} |"]
    return "\n".join(lines)


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--quick", action="store_true", help="warm cache only, one run (CI)")
    ap.add_argument("--repeats", type=int, default=5)
    ap.add_argument("--json", help="also save the numbers to this file")
    a = ap.parse_args(argv)
    res = measure(repeats=1 if a.quick else a.repeats, cold=not a.quick,
                  tape_records=1_000 if a.quick else 100_000)
    print(markdown(res))
    if a.json:
        with open(a.json, "w") as f:
            json.dump(res, f, indent=1)
    return res


if __name__ == "__main__":
    main()
