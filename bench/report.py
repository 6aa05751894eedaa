"""Run the benchmark suite and report medians and ratios (run from the repository root).

    python -m bench.report                 # suite + cold start -> RESULTS.md, speed.png
    python -m bench.report --quick         # tiny sizes (a smoke run, not a measurement)
    python -m bench.report --no-run        # re-render from bench/results/latest.json
    python -m bench.report --no-coldstart  # skip the cold-start subprocesses
    python -m bench.report --no-history    # skip the tape-history subprocesses
    python -m bench.report -- -k seed      # extra arguments after -- go to pytest

Runs `pytest bench --benchmark-json=bench/results/latest.json` in a subprocess (threads
pinned to one), then the cold-start (bench/coldstart.py) and tape-history
(bench/history.py) subprocesses, prints the summary of the target figures (TARGETS: each
a ratio to a peer timed in the same run, or a per-record / per-op time, with its target),
a markdown table of the median time of every group and implementation and of the ratio
tapegrad / peer (below 1: tapegrad is faster), and writes bench/results/RESULTS.md (date,
machine, versions, tables) and, when matplotlib is installed, bench/results/speed.png
(log-scale bars). The machine is shared and noisy: compare the ratios of one run, not
absolute times across runs.
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
IMPLS = ("tapegrad", "replay", "torch", "numpy", "jax", "autograd", "casadi", "numba")
LABELS = {"tapegrad": "tapegrad (eager)", "replay": "tapegrad.func (replay)", "torch": "PyTorch (eager)", "numpy": "NumPy",
          "jax": "JAX (jit)", "autograd": "HIPS autograd", "casadi": "CasADi",
          "numba": "Numba (by hand)"}
WORKLOADS = ("seed", "seed_grad", "record_op", "sweep", "elementwise", "elementwise_rg",
             "rosenbrock", "scalar_ode", "rnn", "hvp", "train_logistic", "train_mlp",
             "train_conv", "optim_adam", "optim_sgd_momentum")
COMMAND = "python -m bench.report"

# The figures tapegrad is tuned for, in the order of the summary table:
# (figure, kind, source, target). Kinds: "ratio" (source = (workload, which group of it:
# 0 the smallest size, -1 the largest), peer[, ours]): median(ours) / median(peer) of one
# group, ours the tapegrad eager row unless given ("replay": tapegrad.func); "sweep": the reverse sweep's ns per record from the `sweep` groups; "time"
# (source = workload): tapegrad's median time; "history" (source = the baseline):
# bench/history.py's after / baseline. target None: reported, no target.
TARGETS = (
    ("reverse sweep, per scalar record", "sweep", None, 15e-9),
    ("elementwise `a*2.5 + a`, 100,000 float32, no grad, vs NumPy", "ratio",
     ("elementwise", 0, "numpy"), 1.3),
    ("the same, `a` requires grad (record, no backward), vs PyTorch", "ratio",
     ("elementwise_rg", 0, "torch"), None),
    ("rosenbrock n=1,000 eager, slicing in the call, vs PyTorch", "ratio",
     ("rosenbrock", 0, "torch"), 0.4),
    ("rosenbrock n=100,000 eager, vs PyTorch", "ratio", ("rosenbrock", -1, "torch"), 0.7),
    ("seed `x**2+3x+1` with `torch.autograd.grad`, vs PyTorch", "ratio",
     ("seed_grad", 0, "torch"), 0.25),
    ("Lotka-Volterra 1,000 steps eager, vs PyTorch", "ratio", ("scalar_ode", 0, "torch"),
     0.15),
    ("tanh RNN h32 T100 eager, vs PyTorch", "ratio", ("rnn", 0, "torch"), 0.5),
    ("record one op (1 element)", "time", "record_op", 1.0e-6),
    ("logistic regression training step (200 points, BCE, SGD momentum), vs PyTorch",
     "ratio", ("train_logistic", 0, "torch"), 1 / 3),
    ("MLP training step (batch 256, 784-256-256-10, Adam), vs PyTorch", "ratio",
     ("train_mlp", 0, "torch"), 1.0),
    ("conv training step LeNet-5 batch 64, vs PyTorch", "ratio", ("train_conv", 0, "torch"),
     1.5),
    ("Adam step, 100 parameters of 1,000 elements, vs PyTorch foreach", "ratio",
     ("optim_adam", 0, "torch"), 0.5),
    ("SGD momentum step, 100 parameters of 1,000 elements, vs PyTorch foreach", "ratio",
     ("optim_sgd_momentum", 0, "torch"), 0.5),
    ("replay (tapegrad.func): seed, one call from Python, vs JAX jit", "ratio",
     ("seed", 0, "jax", "replay"), 0.3),
    ("replay: rosenbrock n=1,000, vs JAX jit", "ratio", ("rosenbrock", 0, "jax", "replay"), 1.0),
    ("replay: rosenbrock n=100,000, vs JAX jit", "ratio", ("rosenbrock", -1, "jax", "replay"),
     1.0),
    ("replay: Lotka-Volterra 1,000 steps (11,000 scalar records), vs CasADi", "ratio",
     ("scalar_ode", 0, "casadi", "replay"), 1.0),
    ("replay: tanh RNN h32 T100, vs JAX", "ratio", ("rnn", 0, "jax", "replay"), 1.0),
    ("replay: hvp rosenbrock n=1,000, vs JAX", "ratio", ("hvp", 0, "jax", "replay"), 1.0),
    ("replay: logistic regression step (value and gradient, NumPy SGD), vs JAX", "ratio",
     ("train_logistic", 0, "jax", "replay"), 1.0),
    ("eager double backward: hvp rosenbrock n=1,000, vs PyTorch", "ratio",
     ("hvp", 0, "torch"), 0.5),
    ("seed after a dropped 10,000-record graph, vs a fresh process", "history",
     "fresh_process", 1.2),
    ("seed after a dropped 10,000-record graph, vs a fresh tape (new thread)", "history",
     "fresh_tape", 1.2),
)


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


def _groups_of(medians, workload):
    return sorted((g for g in medians if g.split(" ")[0] == workload), key=group_key)


def sweep_per_record(times):
    """{impl: seconds per record} from the smallest and largest `sweep` groups, or None."""
    gs = _groups_of(times, "sweep")
    if len(gs) < 2:
        return None
    lo, hi = gs[0], gs[-1]
    dn = group_key(hi)[2] - group_key(lo)[2]
    return {i: (times[hi][i] - times[lo][i]) / dn for i in IMPLS
            if i in times[lo] and i in times[hi]}


def summary(medians, mins, history=None):
    """The TARGETS table: each figure as measured in this run, with its target."""
    lines = ["**Targets**: each figure from this run (a ratio is tapegrad / the peer timed "
             "in the same run; *met* judges the ratio of medians; the minima's are less "
             "sensitive to other jobs on the machine)", "",
             "| figure | measured in | target | median | minima | met | tapegrad | peer |",
             "| --- | --- | ---: | ---: | ---: | :---: | ---: | ---: |"]
    for figure, kind, source, target in TARGETS:
        where, med, mn, tg, peer = "—", None, None, "—", "—"
        if kind == "ratio":
            workload, which, impl, *ours = source  # ours: the numerator (default tapegrad)
            ours = ours[0] if ours else "tapegrad"
            gs = _groups_of(medians, workload)
            g = gs[which] if gs else None
            if g is not None:
                where = f"`{g}`"
                if ours in medians[g]:
                    tg = fmt_time(medians[g][ours])
                if impl in medians[g]:
                    peer = f"{LABELS[impl]} {fmt_time(medians[g][impl])}"
                if ours in medians[g] and impl in medians[g]:
                    med = medians[g][ours] / medians[g][impl]
                    mn = mins[g][ours] / mins[g][impl]
            shown = fmt_ratio
            goal = "report only" if target is None else f"≤ {target:g}×"
        elif kind == "sweep":
            pm, pn = sweep_per_record(medians), sweep_per_record(mins)
            gs = _groups_of(medians, "sweep")
            if len(gs) >= 2:
                where = f"`{gs[0]}`, `{gs[-1]}`"
            if pm and "tapegrad" in pm:
                med, mn = pm["tapegrad"], pn["tapegrad"]
            if pm and "torch" in pm:
                peer = f"{LABELS['torch']} {fmt_time(pm['torch'])}"

            def shown(v):
                return fmt_time(v) + "/record"

            goal = f"≤ {fmt_time(target)}"
        elif kind == "time":
            if source in medians:
                where = f"`{source}`"
                if "tapegrad" in medians[source]:
                    med, mn = medians[source]["tapegrad"], mins[source]["tapegrad"]
                if "torch" in medians[source]:
                    peer = f"{LABELS['torch']} {fmt_time(medians[source]['torch'])}"
            shown = fmt_time
            goal = f"≤ {fmt_time(target)}"
        elif kind == "history":
            if history:
                where = "`python -m bench.history`"
                r = history[f"after/{source}"]
                med, mn = r["median"], r["min"]
                tg = fmt_time(history["after"]["median"])
                peer = f"{source.replace('_', ' ')} {fmt_time(history[source]['median'])}"
            shown = fmt_ratio
            goal = f"≤ {target:g}×"
        else:
            raise ValueError(kind)
        if kind in ("sweep", "time"):
            tg = "—"
        met = "—" if med is None or target is None else ("yes" if med <= target else "no")
        lines.append(f"| {figure} | {where} | {goal} | "
                     f"{'—' if med is None else shown(med)} | "
                     f"{'—' if mn is None else shown(mn)} | {met} | {tg} | {peer} |")
    return "\n".join(lines)


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
def render(json_path, skips=(), cold=None, results_dir=RESULTS, quick=False, history=None):
    """Build the markdown report from a pytest-benchmark JSON (and the cold-start and
    tape-history results, when given); writes RESULTS.md and PNG."""
    medians, rows, info, when = load(json_path)
    mins = minima(rows)
    t0 = summary(medians, mins, history)
    t1, t2, skipped = tables(medians, skips, mins)
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
             "", t0, "", t1, "", t2, ""]
    if skipped:
        parts += ["Skipped rows:", ""]
        parts += [f"- {w} / {i}: {r}" for (w, i), r in sorted(skipped.items())] + [""]
    parts.append(extra)
    if cold:
        from bench.coldstart import markdown as cold_markdown

        parts += ["**Cold start**", "", cold_markdown(cold), ""]
    if history:
        from bench.history import markdown as history_markdown

        parts += ["**Tape history** (`python -m bench.history`: the seed example after a "
                  "dropped graph, each process fresh)", "", history_markdown(history), ""]
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
    ap.add_argument("--no-history", action="store_true", help="skip the tape-history runs")
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
    history = None
    history_file = re.sub(r"\.json$", "", a.json) + ".history.json"
    if not a.no_history and not a.no_run:
        from bench import history as tape_history

        print("\n$ python -m bench.history", flush=True)
        history = tape_history.measure(quick=a.quick)
        with open(history_file, "w") as f:
            json.dump(history, f)
    elif a.no_run and os.path.exists(history_file):
        with open(history_file) as f:
            history = json.load(f)
    text = render(a.json, skips, cold, quick=a.quick, history=history)
    print()
    print(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
