"""Run the benchmark suite and report medians and ratios (run from the repository root).

    python -m bench.report                 # suite + cold start -> RESULTS.md, speed.png
    python -m bench.report --quick         # tiny sizes (a smoke run, not a measurement)
    python -m bench.report --no-run        # re-render from bench/results/latest.json
    python -m bench.report --no-coldstart  # skip the cold-start subprocesses
    python -m bench.report -- -k seed      # extra arguments after -- go to pytest

Runs `pytest bench --benchmark-json=bench/results/latest.json` in a subprocess (threads
pinned to one), prints a markdown table of the median time of every group and
implementation and of the ratio tapegrad / peer (below 1: tapegrad is faster), and writes
bench/results/RESULTS.md (date, machine, versions, tables) and, when matplotlib is
installed, bench/results/speed.png (log-scale bars). The machine is shared and noisy:
compare the ratios of one run, not absolute times across runs.
"""

import argparse
import datetime as _dt
import json
import os
import re
import subprocess
import sys

from bench.threads import THREAD_ENV

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
RESULTS = os.path.join(ROOT, "bench", "results")
IMPLS = ("tapegrad", "torch", "jax", "autograd", "casadi", "numba")
LABELS = {"tapegrad": "tapegrad (eager)", "torch": "PyTorch (eager)",
          "jax": "JAX (jit)", "autograd": "HIPS autograd", "casadi": "CasADi",
          "numba": "Numba (by hand)"}
WORKLOADS = ("seed", "record_op", "sweep", "rosenbrock", "scalar_ode", "rnn", "hvp")
COMMAND = "python -m bench.report"


# ---- running ------------------------------------------------------------------------------
def run_suite(json_path, quick=False, extra=()):
    """Run the suite; returns (exit code, the skip reasons pytest printed)."""
    env = dict(os.environ, **THREAD_ENV)
    if quick:
        env["TAPEGRAD_BENCH_QUICK"] = "1"
    cmd = [sys.executable, "-m", "pytest", "bench", f"--benchmark-json={json_path}", "-rs",
           *extra]
    print("$", " ".join(cmd[2:]), flush=True)
    p = subprocess.Popen(cmd, cwd=ROOT, env=env, stdout=subprocess.PIPE,
                         stderr=subprocess.STDOUT, text=True)
    lines = []
    for line in p.stdout:
        sys.stdout.write(line)
        lines.append(line)
    return p.wait(), parse_skips(lines)


def parse_skips(lines):
    """{test id fragment: reason} from pytest's `-rs` summary lines."""
    skips = []
    for line in lines:
        m = re.match(r"SKIPPED \[\d+\] ([^:]+):\d+: (.*)", line.strip())
        if m:
            skips.append((os.path.basename(m.group(1)), m.group(2)))
    return skips


# ---- reading ------------------------------------------------------------------------------
def group_key(group):
    name, _, rest = group.partition(" ")
    m = re.search(r"n=(\d+)", rest)
    order = WORKLOADS.index(name) if name in WORKLOADS else len(WORKLOADS)
    return (order, name, int(m.group(1)) if m else 0)


def load(json_path):
    """(medians {group: {impl: seconds}}, rows {group: {impl: benchmark}}, machine_info)."""
    with open(json_path) as f:
        data = json.load(f)
    rows = {}
    for b in data["benchmarks"]:
        impl = b.get("extra_info", {}).get("impl") or b["name"].split("[")[-1].split("-")[0]
        rows.setdefault(b["group"], {})[impl] = b
    medians = {g: {i: b["stats"]["median"] for i, b in r.items()} for g, r in rows.items()}
    return medians, rows, data.get("machine_info", {}), data.get("datetime")


def minima(rows):
    return {g: {i: b["stats"]["min"] for i, b in r.items()} for g, r in rows.items()}


def fmt_time(s):
    if s is None:
        return "—"
    for unit, scale in (("s", 1.0), ("ms", 1e-3), ("µs", 1e-6), ("ns", 1e-9)):
        if s >= scale or unit == "ns":
            v = s / scale
            return f"{v:.3g} {unit}" if v < 100 else f"{v:.0f} {unit}"


def fmt_ratio(r):
    return "—" if r is None else (f"{r:.3g}×" if r < 100 else f"{r:.0f}×")


# ---- tables -------------------------------------------------------------------------------
def ratio_table(title, times, impls, missing):
    peers = [i for i in impls if i != "tapegrad"]
    out = [title, "", "| workload | " + " | ".join(LABELS[i] for i in peers) + " |",
           "| --- |" + " ---: |" * len(peers)]
    for g in sorted(times, key=group_key):
        tg = times[g].get("tapegrad")
        cells = []
        for i in peers:
            if i not in times[g]:
                cells.append("—")
            elif tg is None:
                cells.append(missing(g, "tapegrad"))
            else:
                cells.append(fmt_ratio(tg / times[g][i]))
        out.append(f"| {g} | " + " | ".join(cells) + " |")
    return "\n".join(out)


def tables(medians, skips=(), mins=None):
    groups = sorted(medians, key=group_key)
    impls = [i for i in IMPLS if any(i in medians[g] for g in groups)]
    skipped = {}  # (module, impl) noted in the skip reason -> reason
    for module, reason in skips:
        for impl in IMPLS:
            if impl in reason.lower() and module.startswith("bench_"):
                skipped[(module[len("bench_"):-3], impl)] = reason

    def missing(g, impl):
        workload = g.split(" ")[0]
        return "skipped" if (workload, impl) in skipped else "—"

    head = "| workload | " + " | ".join(LABELS[i] for i in impls) + " |"
    sep = "| --- |" + " ---: |" * len(impls)
    t1 = ["**Median time per call** (value and gradient unless said; lower is better)", "",
          head, sep]
    for g in groups:
        cells = [fmt_time(medians[g][i]) if i in medians[g] else missing(g, i) for i in impls]
        t1.append(f"| {g} | " + " | ".join(cells) + " |")
    t2 = ratio_table("**tapegrad / peer**, ratio of medians in the same run (below 1: "
                     "tapegrad is faster)", medians, impls, missing)
    if mins:
        t2 += "\n\n" + ratio_table(
            "**tapegrad / peer, ratio of minimum times** (less sensitive to other jobs on a "
            "shared machine)", mins, impls, missing)
    return "\n".join(t1), t2, skipped


def derived(medians, rows):
    """Per-record sweep cost, per-op recording cost and JAX's first-call compile times."""
    out = []
    small = {g: m for g, m in medians.items() if g.startswith("sweep ")}
    if len(small) >= 2:
        ns = sorted(small, key=group_key)
        lo, hi = ns[0], ns[-1]
        n_lo, n_hi = group_key(lo)[2], group_key(hi)[2]
        out += [f"**Reverse sweep per record** ((median({hi}) - median({lo})) / "
                f"{n_hi - n_lo:,}, graph retained and swept again)", "",
                "| implementation | ns per record |", "| --- | ---: |"]
        for i in IMPLS:
            if i in medians[lo] and i in medians[hi]:
                per = (medians[hi][i] - medians[lo][i]) / (n_hi - n_lo)
                out.append(f"| {LABELS[i]} | {per * 1e9:.1f} |")
        out.append("")
    if "record_op" in medians:
        out += ["**Recording one op** (`x * 2.0`, 1-element float64 tensor that requires "
                "grad)", "", "| implementation | time per op |", "| --- | ---: |"]
        for i in IMPLS:
            if i in medians["record_op"]:
                out.append(f"| {LABELS[i]} | {fmt_time(medians['record_op'][i])} |")
        out.append("")
    jax_first = [(g, r["jax"]["extra_info"].get("first_call_s")) for g, r in
                 sorted(rows.items(), key=lambda kv: group_key(kv[0])) if "jax" in r]
    if jax_first:
        out += ["**JAX first call** (trace + XLA compile + run; not in the medians above)", "",
                "| workload | first call | steady median |", "| --- | ---: | ---: |"]
        for g, t in jax_first:
            out.append(f"| {g} | {fmt_time(t)} | {fmt_time(medians[g]['jax'])} |")
        out.append("")
    return "\n".join(out)


def machine(info):
    v = info.get("versions", {})
    cpu = info.get("cpu_model") or info.get("cpu", {}).get("brand_raw", "?")
    cores = info.get("cores") or info.get("cpu", {}).get("count", "?")
    libs = ", ".join(f"{k} {v[k]}" for k in ("python", "numpy", "numba", "tapegrad", "torch",
                                              "jax", "jaxlib", "autograd", "casadi",
                                              "pytest-benchmark") if v.get(k))
    return f"{cpu}, {cores} cores; {libs}"


# ---- chart --------------------------------------------------------------------------------
def chart(medians, path):
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
        import numpy as np
    except ImportError:
        return None
    groups = sorted(medians, key=group_key)
    impls = [i for i in IMPLS if any(i in medians[g] for g in groups)]
    width = 0.8 / max(1, len(impls))
    fig, ax = plt.subplots(figsize=(max(8, 1.3 * len(groups)), 5.2), dpi=110)
    xs = np.arange(len(groups))
    for k, impl in enumerate(impls):
        ys = [medians[g].get(impl, np.nan) * 1e6 for g in groups]
        ax.bar(xs + (k - (len(impls) - 1) / 2) * width, ys, width, label=LABELS[impl])
    ax.set_yscale("log")
    ax.set_xticks(xs)
    ax.set_xticklabels([g.replace(" ", "\n") for g in groups], fontsize=8)
    ax.set_ylabel("median time per call (µs, log scale)")
    ax.set_title("tapegrad and its peers: one thread, value and gradient per call")
    ax.grid(axis="y", which="major", alpha=0.3)
    ax.legend(fontsize=8, ncol=len(impls), loc="upper center", bbox_to_anchor=(0.5, -0.16),
              frameon=False)
    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)
    return path


# ---- main ---------------------------------------------------------------------------------
def render(json_path, skips=(), cold=None, results_dir=RESULTS, quick=False):
    """Build the markdown report from a pytest-benchmark JSON; writes RESULTS.md and PNG."""
    medians, rows, info, when = load(json_path)
    t1, t2, skipped = tables(medians, skips, minima(rows))
    extra = derived(medians, rows)
    date = (when or _dt.datetime.now().isoformat())[:19].replace("T", " ")
    parts = [f"# tapegrad benchmark results{' (QUICK sizes: not a measurement)' if quick else ''}",
             "",
             f"- date: {date} UTC" if when else f"- date: {date}",
             f"- machine: {machine(info)}",
             "- every library pinned to one thread; all rows of a group ran on the same data "
             "in the same run, and each row's gradient was checked against the reference "
             "before it was timed",
             f"- regenerate: `{COMMAND}` (from the repository root); workloads: "
             "bench/README.md",
             "- the machine is shared with other jobs: absolute times are noisy, the ratios "
             "of one run are the comparison",
             "", t1, "", t2, ""]
    if skipped:
        parts += ["Skipped rows:", ""]
        parts += [f"- {w} / {i}: {r}" for (w, i), r in sorted(skipped.items())] + [""]
    parts.append(extra)
    if cold:
        from bench.coldstart import markdown as cold_markdown

        parts += ["**Cold start**", "", cold_markdown(cold), ""]
    text = "\n".join(parts).rstrip() + "\n"
    os.makedirs(results_dir, exist_ok=True)
    with open(os.path.join(results_dir, "RESULTS.md"), "w") as f:
        f.write(text)
    png = chart(medians, os.path.join(results_dir, "speed.png"))
    if png:
        text += f"\n![speed](speed.png)\n"
        with open(os.path.join(results_dir, "RESULTS.md"), "w") as f:
            f.write(text)
    return text


def main(argv=None):
    argv = list(sys.argv[1:] if argv is None else argv)
    extra = []
    if "--" in argv:
        k = argv.index("--")
        argv, extra = argv[:k], argv[k + 1:]
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--quick", action="store_true", help="tiny sizes (a smoke run)")
    ap.add_argument("--no-run", action="store_true", help="render from the existing JSON")
    ap.add_argument("--no-coldstart", action="store_true", help="skip the cold-start runs")
    ap.add_argument("--json", default=os.path.join(RESULTS, "latest.json"))
    a = ap.parse_args(argv)
    os.makedirs(os.path.dirname(os.path.abspath(a.json)), exist_ok=True)
    skips = []
    skip_file = re.sub(r"\.json$", "", a.json) + ".skips.json"
    if not a.no_run:
        code, skips = run_suite(a.json, quick=a.quick, extra=extra)
        if code != 0:
            print(f"pytest exited with {code}: not writing a report", file=sys.stderr)
            return code
        with open(skip_file, "w") as f:
            json.dump(skips, f)
    elif os.path.exists(skip_file):
        with open(skip_file) as f:
            skips = [tuple(s) for s in json.load(f)]
    cold = None
    cold_file = re.sub(r"\.json$", "", a.json) + ".coldstart.json"
    if not a.no_coldstart and not a.no_run:
        from bench import coldstart

        print("\n$ python -m bench.coldstart", flush=True)
        cold = coldstart.measure(repeats=1 if a.quick else 5, cold=not a.quick,
                                 tape_records=1_000 if a.quick else 100_000)
        with open(cold_file, "w") as f:
            json.dump(cold, f)
    elif a.no_run and os.path.exists(cold_file):
        with open(cold_file) as f:
            cold = json.load(f)
    text = render(a.json, skips, cold, quick=a.quick)
    print()
    print(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
