"""Tape history: the seed example after a 10,000-record graph was built and dropped.

    python -m bench.history                # 3 fresh processes, full size
    python -m bench.history --quick        # 1 process, tiny sizes (CI: a smoke run)
    python -m bench.history --json PATH    # also save the numbers

A tape is long-lived (one per thread): a graph that is built, differentiated and dropped
must not make every later call slower. Each measurement runs in a fresh Python process
(`python -m bench.history --child`), which, in this order:

  1. times the seed example (`x.grad = None; y = x**2 + 3*x + 1; y.backward()` on a
     1-element float64 leaf made once, the tapegrad row of bench_seed.py) on the fresh
     tape of a fresh process: the baseline `fresh process`;
  2. builds a graph of 10,000 op records on 10,000 separate 1-element float64 leaves
     (`total = leaves[0] * 1.0`, then `total = total + leaf` for the other 9,999, in a
     Python loop; the tape also holds the leaves' 10,000 load records), calls
     `total.backward()` once, checks the value and every leaf's gradient, and drops it
     all (`del total, leaves, leaf`; no gc.collect(), as user code does not call it);
  3. times the seed example again on that tape (`after`), interleaved, block by block,
     with the seed example on the fresh tape of a new thread of the same process
     (`fresh tape`; each thread has its own tape, so that one never saw the history).

Each timing block is `timeit` of 20,000 calls (80,000 records: more than one compaction
cycle even of the tables the graph grew, so a block amortizes compaction as a long loop
does), 3 blocks per state and process; a state's time is the median of its blocks.

Why not pytest-benchmark in the suite's process: there the main thread's tape already
carries the history of every benchmark that ran before (so "fresh" would depend on the
test order), and that process has loaded PyTorch, Numba and the peers. A fresh process
is the clean baseline; the fresh-tape thread (cheap, in the same process) isolates the
tape's own state from the process's (allocator, gc generations). The figure is
after / fresh process (target <= 1.2x), also given as after / fresh tape; both ratios are
the median over the processes of each process's ratio of medians. Prints a markdown
table; `python -m bench.report` runs this too and puts the ratios in its summary.
"""

import argparse
import json
import os
import statistics
import subprocess
import sys
import time

from bench.threads import THREAD_ENV

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
X0 = 2.0
LEAVES = 10_000
MIN_NUMBER = 20_000  # calls per timing block (full size)
FULL = {"leaves": LEAVES, "number": MIN_NUMBER, "repeats": 3, "processes": 3}
QUICK = {"leaves": 200, "number": 50, "repeats": 2, "processes": 1}


# ---- the child: one fresh process ------------------------------------------------------
def _seed(T):
    """The seed example (bench_seed.py's tapegrad row): run() records and sweeps it."""
    x = T.tensor([X0], dtype=T.float64, requires_grad=True)

    def run():
        x.grad = None
        y = x**2 + 3 * x + 1
        y.backward()
        return y, x.grad

    y, g = run()
    assert (y.item(), g.item()) == (X0**2 + 3 * X0 + 1, 2 * X0 + 3), (y, g)
    return run


def _blocks(run, number, repeats):
    import timeit

    return [t / number for t in timeit.repeat(run, number=number, repeat=repeats)]


def _warm(run, calls=200):
    for _ in range(calls):
        run()


def _history(T, n):
    """Build, differentiate, check and drop a graph of n op records on n leaves."""
    from tapegrad.tape import current

    leaves = [T.tensor([float(i)], dtype=T.float64, requires_grad=True) for i in range(n)]
    total = leaves[0] * 1.0
    for leaf in leaves[1:]:
        total = total + leaf
    total.backward()
    assert total.item() == n * (n - 1) / 2, total
    bad = [i for i, leaf in enumerate(leaves) if leaf.grad is None or leaf.grad.item() != 1.0]
    assert not bad, f"wrong gradient of leaves {bad[:5]}..."
    # records on the tape now: the n ops, the n leaves' loads and what is left of the seed
    info = {"tape_records": current().nrecords, "tape_rows": current().R.shape[0]}
    del total, leaves, leaf
    return info


def child(leaves, number, repeats):
    """Time fresh process, then (after the history) the historied and a fresh tape."""
    import queue
    import threading

    import tapegrad as T
    from tapegrad.tape import current

    run = _seed(T)
    _warm(run)
    fresh_process = _blocks(run, number, repeats)
    info = _history(T, leaves)
    _warm(run, 3)  # as time_case: a few calls beyond the first, then the timed blocks

    todo, done = queue.Queue(), queue.Queue()

    def worker():  # a thread of its own, so a tape of its own that never saw the history
        try:
            trun = _seed(T)
            _warm(trun)
            done.put(("ready", current() is not tape))
            while todo.get():
                done.put(("block", _blocks(trun, number, 1)[0]))
        except BaseException as e:  # noqa: BLE001 - reported to the main thread
            done.put(("error", repr(e)))

    tape = current()
    th = threading.Thread(target=worker, daemon=True)
    th.start()
    kind, own_tape = done.get()
    if kind == "error":
        raise RuntimeError(f"fresh-tape thread failed: {own_tape}")
    assert own_tape, "the new thread shares the main thread's tape"
    after, fresh_tape = [], []
    for _ in range(repeats):  # interleaved, so drift of the machine's load hits both
        after += _blocks(run, number, 1)
        todo.put(True)
        kind, t = done.get()
        if kind == "error":
            raise RuntimeError(f"fresh-tape thread failed: {t}")
        fresh_tape.append(t)
    todo.put(False)
    th.join()
    y, g = run()
    assert (y.item(), g.item()) == (X0**2 + 3 * X0 + 1, 2 * X0 + 3), (y, g)
    return {"fresh_process": fresh_process, "after": after, "fresh_tape": fresh_tape,
            "number": number, "repeats": repeats, "leaves": leaves, **info}


# ---- the parent ------------------------------------------------------------------------
def run_child(leaves, number, repeats, timeout=900):
    env = dict(os.environ, **THREAD_ENV)
    env["PYTHONPATH"] = ROOT + (os.pathsep + env["PYTHONPATH"] if env.get("PYTHONPATH") else "")
    cmd = [sys.executable, "-m", "bench.history", "--child", "--leaves", str(leaves),
           "--number", str(number), "--repeats", str(repeats)]
    r = subprocess.run(cmd, cwd=ROOT, env=env, capture_output=True, text=True, timeout=timeout)
    if r.returncode != 0:
        raise RuntimeError(f"child failed ({r.returncode}):\n{r.stdout}\n{r.stderr}")
    return json.loads(r.stdout.strip().splitlines()[-1])


def summarize(runs):
    """Per state: median time per call over all blocks; ratios: median over processes."""
    out = {"processes": len(runs), "leaves": runs[0]["leaves"], "number": runs[0]["number"],
           "repeats": runs[0]["repeats"], "tape_records": runs[0]["tape_records"],
           "tape_rows": runs[0]["tape_rows"]}
    for state in ("fresh_process", "fresh_tape", "after"):
        blocks = [t for r in runs for t in r[state]]
        out[state] = {"median": statistics.median(blocks), "min": min(blocks)}
    for base in ("fresh_process", "fresh_tape"):
        out[f"after/{base}"] = {
            "median": statistics.median(statistics.median(r["after"])
                                        / statistics.median(r[base]) for r in runs),
            "min": statistics.median(min(r["after"]) / min(r[base]) for r in runs)}
    return out


def measure(quick=False):
    p = QUICK if quick else FULL
    t0 = time.perf_counter()
    runs = [run_child(p["leaves"], p["number"], p["repeats"]) for _ in range(p["processes"])]
    res = summarize(runs)
    res["runs"] = runs
    res["wall_s"] = time.perf_counter() - t0
    return res


def markdown(res):
    def us(s):
        return f"{s * 1e6:.3g} µs"

    lines = [f"Seed example, median per call ({res['processes']} fresh processes, "
             f"{res['repeats']} blocks of {res['number']:,} calls per state each); the "
             f"dropped graph: {res['leaves']:,} op records on {res['leaves']:,} leaves "
             f"({res['tape_records']:,} records on the tape after it was built, leaf loads "
             f"included; tables grown to {res['tape_rows']:,} rows)", "",
             "| state | median | min |", "| --- | ---: | ---: |"]
    for state, label in (("fresh_process", "fresh process (before the graph)"),
                         ("fresh_tape", "fresh tape (a new thread, after the graph)"),
                         ("after", "after the dropped graph (same tape)")):
        lines.append(f"| {label} | {us(res[state]['median'])} | {us(res[state]['min'])} |")
    lines += ["", "| ratio | of medians | of minima |", "| --- | ---: | ---: |"]
    for base in ("fresh_process", "fresh_tape"):
        r = res[f"after/{base}"]
        lines.append(f"| after / {base.replace('_', ' ')} | {r['median']:.3g}× | "
                     f"{r['min']:.3g}× |")
    return "\n".join(lines)


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--quick", action="store_true", help="one process, tiny sizes (CI)")
    ap.add_argument("--json", help="also save the numbers to this file")
    ap.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    ap.add_argument("--leaves", type=int, default=LEAVES, help=argparse.SUPPRESS)
    ap.add_argument("--number", type=int, default=MIN_NUMBER, help=argparse.SUPPRESS)
    ap.add_argument("--repeats", type=int, default=FULL["repeats"], help=argparse.SUPPRESS)
    a = ap.parse_args(argv)
    if a.child:
        print(json.dumps(child(a.leaves, a.number, a.repeats)))
        return None
    res = measure(quick=a.quick)
    print(markdown(res))
    if a.json:
        with open(a.json, "w") as f:
            json.dump(res, f, indent=1)
    return res


if __name__ == "__main__":
    main()
