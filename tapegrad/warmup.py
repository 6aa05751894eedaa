"""Compile everything tapegrad compiles, ahead of time: `python -m tapegrad.warmup [--jobs N]`.

For CI and container images: after it ran, every later process loads the tape's compiled
sweeps from Numba's cache (tapegrad/tape/__pycache__, or NUMBA_CACHE_DIR when set) and
starts in about a second instead of compiling for a minute.

It compiles by running small programs, not by naming entry points: every example of
every row of the op table (`tapegrad.ops.OPS`, the expressions the gradient tests
evaluate), in float32 and in float64, each recorded (forward), replayed by the compiled
forward sweep (`tapegrad.tape.sweep.forward`), differentiated (backward) and compacted
away. A new op, or a new compiled entry point behind these paths, is covered without an
edit here. Rows without examples of their own (leaf, detach, in-place writes, Python
backward) get the programs in `EXTRA`; `PATHS` adds the recording paths no example
reaches (casts both ways, implicit promotion, a read-only constant). Last, `optimizers`
steps every optimizer kernel of tapegrad.optim once per dtype, and `replays` runs
tapegrad.func's compiled replays (the one-call replay, a scalar program, a tangent sweep).

With --jobs N > 1 the work runs in N processes (multiprocessing, spawn) in two stages.
First the expensive compiles are spread over the processes (`priming`): the reverse sweep,
the largest single compile, reached by the backward of a leaf, in one; the recorders, the
forward sweep and compaction in the others. Then each process runs its share of every
program (`shares`: float32 in one, float64 in another), loading from the cache what the
others compiled and compiling what is left. Numba's cache files are read and written
under a lock shared by the processes (see `_locked_cache`). On a warm cache it only
loads, in a few seconds.
"""

import argparse
import os
import sys
import time
from dataclasses import dataclass

DTYPES = ("float32", "float64")

# rows of the op table that have no examples: what the warmup runs for them instead
# (expressions over x, y, z, c and torch, as the rows' examples; a row that gains examples
# of its own runs those instead)
_WRITE = "(lambda y: (y.{}, y + x)[1])(x * c)"  # an in-place write of a value requiring grad
EXTRA = {
    "leaf": (("x", (3,)), ("x * y", (3,), (3,))),   # loads; "x": backward of a leaf itself
    "detach": (("(x * c).detach() * x", (3,)), ("(x + c).data + x", (2, 3))),  # alias records
    # a read of a value changed in place since it was recorded
    "snapshot": (("(lambda y: (y.detach().mul_(2), y * x)[1])(x * c)", (3,)),),
    "fill_": ((_WRITE.format("fill_(0.5)"), (3,)),),
    "zero_": ((_WRITE.format("zero_()"), (3,)),),
    "normal_": ((_WRITE.format("normal_()"), (2, 3)),),
    "uniform_": ((_WRITE.format("uniform_()"), (2, 3)),),
    "copy_": ((_WRITE.format("copy_(torch.ones(3))"), (3,)),),
    "fill_all": ((_WRITE.format("__setitem__(Ellipsis, 0.5)"), (2, 3)),),   # y[...] = 0.5
    # a backward in Python: the reverse sweep pauses at the record and resumes below it
    "python": (("python_op(x)", (3,)), ("python_op(x * c).sum() * x", (2, 3))),
}

# recording paths that the examples do not all reach, as (row, expression, shapes...);
# found by comparing the signatures in Numba's cache after the test suite with these
PATHS = (
    ("to_copy", "x.double()", (2, 3)),                      # float32 -> float64 (explicit)
    ("to_copy", "x.float()", (2, 3)),                       # float64 -> float32
    ("to_copy", "x + torch.ones(3, dtype=torch.float64)", (3,)),   # implicit promotion
    ("to_copy", "x * torch.ones(3, dtype=torch.float32)", (3,)),
    # a constant whose array is read-only (np.broadcast_to's view): a load signature of its own
    ("leaf", "x * torch.ones_like(x).expand(1, 3)", (3,)),
)


PHASES = ("forward sweep", "backward", "compaction")  # what runs after the recording


@dataclass(frozen=True)
class Program:
    """One small program: evaluate `expr` on inputs of `shapes` (dtype `dtype`, sampled
    in row `op`'s domain), replay it with the forward sweep, backpropagate, compact."""

    op: str        # the op table row it exercises
    expr: str
    shapes: tuple
    dtype: str     # "float32" or "float64"
    source: str    # "example", "extra" (a row without examples) or "path"


def programs(dtypes=DTYPES):
    """Every program the warmup runs, in order: for each dtype, every example of every
    row of the op table (EXTRA's programs for a row without examples), then PATHS."""
    from .ops import OPS

    out = []
    for dt in dtypes:
        for spec in OPS:
            if spec.examples:
                rows, source = spec.examples, "example"
            else:
                rows, source = EXTRA.get(spec.name, ()), "extra"
            for expr, *shapes in rows:
                out.append(Program(spec.name, expr, tuple(map(tuple, shapes)), dt, source))
        for name, expr, *shapes in PATHS:
            out.append(Program(name, expr, tuple(map(tuple, shapes)), dt, "path"))
    return out


def coverage(progs=None):
    """{op row name: set of dtypes its programs run in}, over the rows of the op table
    (a row no program exercises maps to an empty set)."""
    from .ops import OPS

    progs = programs() if progs is None else progs
    cov = {spec.name: set() for spec in OPS}
    for p in progs:
        if p.op in cov:
            cov[p.op].add(p.dtype)
    return cov


def uncovered(progs=None, dtypes=DTYPES):
    """Names of the op table rows that some dtype in `dtypes` has no program for."""
    return sorted(name for name, dts in coverage(progs).items() if not set(dtypes) <= dts)


def shares(progs, jobs):
    """Split programs into at most `jobs` lists of indices into `progs`: by dtype first
    (the recorders and leaf loads have one signature per dtype, which then compile side
    by side), then, for more jobs than dtypes, each dtype's programs into contiguous
    parts."""
    jobs = max(1, int(jobs))
    groups = {}
    for i, p in enumerate(progs):
        groups.setdefault(p.dtype, []).append(i)
    groups = list(groups.values())
    if jobs <= len(groups):
        out = [[] for _ in range(jobs)]
        for j, g in enumerate(groups):
            out[j % jobs].extend(g)
        return [s for s in out if s]
    out = []
    for j, g in enumerate(groups):
        parts = jobs // len(groups) + (1 if j < jobs % len(groups) else 0)
        size = -(-len(g) // parts)
        out.extend(g[k:k + size] for k in range(0, len(g), size))
    return [s for s in out if s]


def priming(progs, jobs):
    """The first stage of a parallel warmup: at most `jobs` lists of (index into `progs`,
    phases), a few programs that reach the costly compiles, so that these run side by
    side: the backward of a leaf (no recorder; the reverse sweep, about half of all the
    compile time) alone in one process; in the others, per dtype, a product with the
    forward sweep and compaction, and recordings of one example of each family of the op
    table and of every program of EXTRA and PATHS. Only for speed: the second stage
    (`shares`) runs every program with every phase anyway. Empty for one job."""
    if jobs < 2:
        return []
    from .ops import BY_NAME

    leaf, records, seen = [], {dt: [] for dt in DTYPES}, set()
    for i, p in enumerate(progs):
        spec = BY_NAME.get(p.op)
        if p.op == "leaf" and p.expr == "x":
            if not leaf:
                leaf.append((i, ("backward",)))
        elif p.op == "leaf" and p.expr == "x * y":
            records[p.dtype].insert(0, (i, ("forward sweep", "compaction")))
        elif p.source != "example" or (spec is not None and (p.dtype, spec.family) not in seen):
            records[p.dtype].append((i, ()))  # recording only
            if spec is not None:
                seen.add((p.dtype, spec.family))
    tasks = [leaf] if leaf else []
    records = [r for r in records.values() if r]
    merged = [[] for _ in range(min(max(1, jobs - len(tasks)), len(records)))]
    for j, r in enumerate(records):
        merged[j % len(merged)].extend(r)
    return [t for t in tasks + merged if t]


# ---- running programs ---------------------------------------------------------------
def _setitem(x, index, value):
    """x with x[index] = value, x untouched (an expression can't assign; as in the tests)."""
    x = x.clone()
    x[index] = value
    return x


def _python_op(x, factor=2.0):
    """y = factor * x with its backward computed in Python (a PYTHON record): through
    torch.autograd.Function where tapegrad has it, else through Tape.record_python."""
    import numpy as np

    import tapegrad as torch

    function = getattr(torch.autograd, "Function", None)
    if function is not None:
        class Scale(function):
            @staticmethod
            def forward(ctx, a):
                return a * factor

            @staticmethod
            def backward(ctx, g):
                return g * factor

        return Scale.apply(x)
    from .functions import _slots
    from .tape.tape import current
    from .tensor import _on_tape

    tape = current()
    (s,) = _slots(tape, x._dtype, x)
    out = tape.record_python([s], np.asarray(x._value()) * factor, lambda g: (g * factor,),
                             x._dtype.code, x._rg)
    return _on_tape(tape, out, x._shape, x._dtype, x._rg)


def run(progs, phases=PHASES):
    """Run programs in this process: record each, then the `phases` (default all of
    PHASES). Returns a dict: programs, sweeps and backwards run, the opcodes recorded
    in each dtype, failures (strings), wall and cpu seconds, the phases, and what was
    compiled and loaded from the cache meanwhile (see `_delta`)."""
    import numpy as np

    import tapegrad as torch

    from .ops import BY_NAME
    from .tape import sweep
    from .tape.records import R_OP
    from .tape.tape import current

    recorded = {dt: set() for dt in DTYPES}
    failed, sweeps, backwards = [], 0, 0
    before = _compiled()
    t0, c0 = time.perf_counter(), time.process_time()
    for p in progs:
        spec = BY_NAME.get(p.op)
        lo, hi = spec.domain if spec is not None else (-2.0, 2.0)
        c = spec.const if spec is not None and spec.const is not None else 1.3
        rng = np.random.default_rng(spec.opcode if spec is not None else 0)
        dt = getattr(torch, p.dtype)
        try:
            xs = [torch.tensor(rng.uniform(lo, hi, s), dtype=dt, requires_grad=True)
                  for s in p.shapes]
            env = {"torch": torch, "c": c, "setitem": _setitem, "python_op": _python_op}
            env.update(zip("xyz", xs))
            tape = current()
            k0, epoch = tape.nrecords, tape.epoch
            out = eval(p.expr, env)  # the forward: records (compiles the recorders)
            k1 = tape.nrecords
            if tape.epoch == epoch and k1 > k0:  # not renumbered by a compaction meanwhile
                recorded.setdefault(p.dtype, set()).update(tape.R[k0:k1, R_OP].tolist())
            if "forward sweep" in phases and tape.epoch == epoch and k1 > k0:
                sweep.forward(tape.R, tape.S, tape.AUX, tape.A[0], tape.A[1], k0, k1)
                sweeps += 1
            if "backward" in phases and isinstance(out, torch.Tensor) and out.requires_grad:
                if out.numel() == 1:
                    out.backward()  # seeded by ones inside the sweep
                else:
                    out.backward(torch.ones_like(out))
                backwards += 1
            del xs, env, out
            if "compaction" in phases:
                tape.compact()  # nothing above is alive any more: drops all of it
        except Exception as e:  # noqa: BLE001  (reported; the other programs still run)
            failed.append(f"{p.op} [{p.dtype}] {p.expr}: {type(e).__name__}: {e}")
    if "backward" in phases:  # a fresh tape sweeps with reverse_elementwise first
        from .tape.tape import recording

        for name in sorted({p.dtype for p in progs}):
            with recording():
                x = torch.tensor([0.5, 1.5], dtype=getattr(torch, name), requires_grad=True)
                (x * x + 1.0).sum().backward()
                backwards += 1
    return {"programs": len(progs), "sweeps": sweeps, "backwards": backwards,
            "recorded": {dt: sorted(ops) for dt, ops in recorded.items()}, "failed": failed,
            "seconds": time.perf_counter() - t0, "cpu": time.process_time() - c0,
            "phases": list(phases), "compiled": _delta(before, _compiled())}


def optimizers():
    """One step of every optimizer kernel (tapegrad.optim), in float32 and float64: their
    compiled step is per dtype, the options are runtime arguments. Returns like `run`."""
    import tapegrad as torch

    before = _compiled()
    t0, c0 = time.perf_counter(), time.process_time()
    failed, steps = [], 0
    configs = (("SGD", {"lr": 0.1}), ("SGD", {"lr": 0.1, "momentum": 0.9}),
               ("Adam", {}), ("Adam", {"amsgrad": True}), ("AdamW", {}),
               ("RMSprop", {"centered": True, "momentum": 0.5}), ("Adagrad", {}),
               ("Adadelta", {}), ("Adamax", {}), ("NAdam", {}), ("RAdam", {}))
    for dt in DTYPES:
        for name, kw in configs:
            try:
                p = torch.ones(3, dtype=getattr(torch, dt), requires_grad=True)
                opt = getattr(torch.optim, name)([p], **kw)
                (p * p).sum().backward()
                opt.step()
                steps += 1
            except Exception as e:  # noqa: BLE001
                failed.append(f"optim.{name} [{dt}]: {type(e).__name__}: {e}")
    return {"programs": steps, "sweeps": 0, "backwards": steps, "recorded": {},
            "failed": failed, "seconds": time.perf_counter() - t0,
            "cpu": time.process_time() - c0, "phases": ["optimizer steps"],
            "compiled": _delta(before, _compiled()), "stage": 2, "pid": os.getpid()}


def _compiled():
    """{cached Numba function of tapegrad: (signatures compiled, signatures loaded from
    the cache)} in this process so far, signatures as strings."""
    from numba.core.dispatcher import Dispatcher

    out = {}
    for modname, mod in list(sys.modules.items()):
        if not modname.startswith("tapegrad.") or mod is None:
            continue
        for name, obj in list(vars(mod).items()):
            if not isinstance(obj, Dispatcher) or obj.__module__ != modname:
                continue
            st = obj.stats
            if st.cache_path is None:  # cache=False: compiled into its callers
                continue
            miss = {str(k) for k, n in st.cache_misses.items() if n}
            hit = {str(k) for k, n in st.cache_hits.items() if n}
            if miss or hit:
                out[f"{modname.rsplit('.', 1)[-1]}.{name}"] = (miss, hit)
    return out


def _delta(before, after):
    """What `_compiled` gained between two calls, as {function: [compiled, loaded]}."""
    out = {}
    for name, (miss, hit) in after.items():
        m0, h0 = before.get(name, (set(), set()))
        if miss - m0 or hit - h0:
            out[name] = [sorted(miss - m0), sorted(hit - h0)]
    return out


# ---- parallel runs: workers, and Numba's cache files under one lock ------------------
def _locked_cache(lock):
    """Make Numba's cache reads and writes in this process atomic with respect to the
    other warmup processes holding `lock`.

    Numba saves an entry as: read the index, pick a free data file number, write the
    index, write the data file. Two processes saving different signatures of one function
    at once can pick the same number, and the index then names the other signature's
    machine code; a process reading between the two writes can load a stale data file.
    Returns False when this Numba has no such methods (the caller then runs everything
    in one process)."""
    from numba.core import caching

    cls = getattr(caching, "IndexDataCacheFile", None)
    save, load = getattr(cls, "save", None), getattr(cls, "load", None)
    if save is None or load is None:
        return False
    if getattr(save, "_tapegrad_lock", None) is lock:
        return True
    save = getattr(save, "_tapegrad_plain", save)
    load = getattr(load, "_tapegrad_plain", load)

    def locked_save(self, key, data):
        with lock:
            return save(self, key, data)

    def locked_load(self, key):
        with lock:
            return load(self, key)

    for fn, plain in ((locked_save, save), (locked_load, load)):
        fn._tapegrad_lock, fn._tapegrad_plain = lock, plain
    cls.save, cls.load = locked_save, locked_load
    return True


def _can_lock():
    from numba.core import caching

    cls = getattr(caching, "IndexDataCacheFile", None)
    return callable(getattr(cls, "save", None)) and callable(getattr(cls, "load", None))


def _init_worker(lock):
    """Pool initializer of a spawned worker: quiet notices, locked cache files."""
    from .tape import notice

    notice.quiet()  # the warmup reports for itself
    _locked_cache(lock)


def _work(task):
    """Run one task, a list of (index into programs(), phases), in this worker process
    (spawned: it imports tapegrad itself). Consecutive programs with the same phases run
    in one `run`; returns the list of their results."""
    progs = programs()
    out, group, phases = [], [], None
    for i, ph in list(task) + [(None, None)]:
        if group and (i is None or tuple(ph) != phases):
            out.append(run([progs[j] for j in group], phases))
            group = []
        if i is not None:
            group.append(i)
            phases = tuple(ph)
    for r in out:
        r["pid"] = os.getpid()
    return out


def replays():
    """tapegrad.func's compiled replays, in float32 and float64: the one-call replay of a
    vector tape, a scalar program (tapegrad/func/_scalar.py) and the tangent sweep of a
    jvp (tapegrad/tape/tangent.py), and the replay of a create_graph walk's template
    (tapegrad/autograd/_walk_cache.py). Returns like `run`."""
    import numpy as np

    import tapegrad as torch

    before = _compiled()
    t0, c0 = time.perf_counter(), time.process_time()
    failed, calls = [], 0
    programs = (("value_and_grad", lambda x: (x * x.sin()).sum(), (3,)),
                ("value_and_grad", lambda x: x[0] * x[1] + x[0].exp(), (2,)),
                ("jvp", lambda x: (x * x).cumsum(0), (3,)))
    for dt in DTYPES:
        for kind, f, shape in programs:
            try:
                x = np.linspace(0.5, 1.5, shape[0]).astype(dt)
                fn = getattr(torch.func, kind)(f)
                args = (x, x) if kind == "jvp" else (x,)
                fn(*args)
                fn(*args)  # (the replay)
                fn.batch(*(np.stack([a] * 16) for a in args))  # (its batch kernel)
                calls += 18
            except Exception as e:  # noqa: BLE001
                failed.append(f"func.{kind} [{dt}]: {type(e).__name__}: {e}")
        try:  # a create_graph walk of a structure walked before: its template's replay
            for _ in range(2):
                x = torch.tensor(np.linspace(0.5, 1.5, 3).astype(dt), requires_grad=True)
                (g,) = torch.autograd.grad((x * x.sin()).sum(), x, create_graph=True)
                g.sum().backward()
            calls += 2
        except Exception as e:  # noqa: BLE001
            failed.append(f"create_graph [{dt}]: {type(e).__name__}: {e}")
    return {"programs": calls, "sweeps": calls, "backwards": 0, "recorded": {},
            "failed": failed, "seconds": time.perf_counter() - t0,
            "cpu": time.process_time() - c0, "phases": ["replays"],
            "compiled": _delta(before, _compiled()), "stage": 2, "pid": os.getpid()}


def warmup(jobs=1):
    """Run every program (see `programs`) with every phase, in `jobs` processes (see
    the module docstring for the two stages). Returns (list of `run` results, the
    programs, the number of processes used, seconds of wall time)."""
    from .tape import notice

    t0 = time.perf_counter()
    progs = programs()
    parts = shares(progs, jobs)
    if len(parts) <= 1 or not _can_lock():
        notice.quiet()
        r = run(progs)
        r["stage"], r["pid"] = 1, os.getpid()
        return [r, optimizers(), replays()], progs, 1, time.perf_counter() - t0
    import multiprocessing

    prime = priming(progs, jobs)
    tasks = [[(i, PHASES) for i in part] for part in parts]
    nproc = max(len(prime), len(tasks))
    ctx = multiprocessing.get_context("spawn")
    lock = ctx.Lock()
    results = []
    with ctx.Pool(nproc, initializer=_init_worker, initargs=(lock,)) as pool:
        for n, stage in enumerate((prime, tasks)):  # map returns when all of a stage is done
            if stage:
                for rs in pool.map(_work, stage, chunksize=1):
                    for r in rs:
                        r["stage"] = n
                    results.extend(rs)
    notice.quiet()
    results.append(optimizers())  # a few seconds; the pool's work is done by now
    results.append(replays())
    return results, progs, nproc, time.perf_counter() - t0


def summary(results, progs, nproc, seconds):
    """The one-line report of a warmup: programs, op rows recorded, processes, what was
    compiled and what loaded from the cache (distinct signatures), wall time."""
    from .ops import OPS

    compiled, loaded = set(), set()
    for r in results:
        for name, (miss, hit) in r["compiled"].items():
            compiled.update((name, sig) for sig in miss)
            loaded.update((name, sig) for sig in hit)
    loaded -= compiled  # loaded by one process after another one compiled it
    recorded = {dt: set() for dt in DTYPES}
    for r in results:
        for dt, ops in r["recorded"].items():
            recorded.setdefault(dt, set()).update(ops)
    both = sum(all(s.opcode in recorded[dt] for dt in DTYPES) for s in OPS)
    funcs = {name for name, _ in compiled | loaded}
    return (f"tapegrad.warmup: {len(progs)} programs, {both} of {len(OPS)} op rows recorded "
            f"in {' and '.join(DTYPES)} (record, forward sweep, backward, compaction), "
            f"{nproc} process{'es' if nproc > 1 else ''}: {len(compiled)} signatures "
            f"compiled, {len(loaded)} loaded from the cache ({len(funcs)} cached functions) "
            f"in {seconds:.1f} s")


def main(argv=None):
    """The command line: `python -m tapegrad.warmup [--jobs N] [--list]`."""
    parser = argparse.ArgumentParser(
        prog="python -m tapegrad.warmup",
        description="Compile every Numba kernel tapegrad uses, ahead of time, into Numba's "
                    "cache (tapegrad/tape/__pycache__, or NUMBA_CACHE_DIR if set), by running "
                    "every example of the op table in float32 and float64. Safe to rerun: "
                    "on a warm cache it only loads.")
    parser.add_argument("--jobs", "-j", type=int, default=1, metavar="N",
                        help="processes to compile in (default 1; 2 uses two cores)")
    parser.add_argument("--list", action="store_true",
                        help="print the programs it would run, and exit")
    parser.add_argument("--verbose", "-v", action="store_true",
                        help="also print, to stderr, each process's stages: programs, "
                             "phases, seconds and what it compiled")
    args = parser.parse_args(argv)
    if args.jobs < 1:
        parser.error("--jobs must be at least 1")
    progs = programs()
    if args.list:
        for p in progs:
            print(f"{p.dtype}  {p.op:20s} {p.expr}  {list(map(list, p.shapes))}")
        return 0
    results, progs, nproc, seconds = warmup(args.jobs)
    print(summary(results, progs, nproc, seconds), flush=True)
    if args.verbose:
        for r in results:
            comp = ", ".join(f"{k} {len(m)}" for k, (m, _) in r["compiled"].items() if m)
            print(f"  stage {r['stage']} pid {r['pid']}: {r['programs']} programs "
                  f"({', '.join(r['phases']) or 'recording only'}) {r['seconds']:.1f} s wall, "
                  f"{r['cpu']:.1f} s cpu; compiled: {comp or 'nothing'}", file=sys.stderr)
    failed = [f for r in results for f in r["failed"]]
    missing = uncovered(progs)
    for f in failed:
        print(f"tapegrad.warmup: failed: {f}", file=sys.stderr)
    if missing:
        print(f"tapegrad.warmup: op rows without a program (add examples to the row, or a "
              f"program to tapegrad.warmup.EXTRA): {', '.join(missing)}", file=sys.stderr)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
