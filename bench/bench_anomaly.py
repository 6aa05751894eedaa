"""anomaly_off: what anomaly mode costs while it is off (it never is switched on here).

Anomaly mode (tapegrad/autograd/anomaly.py) touches two paths. Recording: it wraps the
Tape class's record methods only while it is on, so with the mode off the recording code
is the very same function objects (checked below). Backward: the engine's `_sweep` tests
one flag per backward call. That flag test is what this measures: the tapegrad engine as
it is ("hook") against the same `_sweep` rebuilt from its source without the anomaly
lines ("no hook"), swapped in for the timed calls, on

- seed: `y = x**2 + 3*x + 1; y.backward()` for a 1-element float64 x (the per-call cost
  of a tiny backward, where a fixed cost shows most), and
- rosenbrock n = 1,000 (bench_rosenbrock's tapegrad workload).

pytest-benchmark groups `anomaly_off seed` and `anomaly_off rosenbrock n=1000` each hold
both variants. `python -m bench.bench_anomaly` times them interleaved (A B B A ... blocks,
alternating so that drift on a shared machine hits both) and prints the ratio
hook / no hook of the median per-call times with the spread between rounds.
"""

from bench.threads import pin

pin()  # one thread, before NumPy is imported (when run as a script)

import inspect  # noqa: E402
import sys  # noqa: E402
import textwrap  # noqa: E402
import time  # noqa: E402

import numpy as np  # noqa: E402
import pytest  # noqa: E402

from bench import bench_rosenbrock, bench_seed  # noqa: E402
from bench.common import assert_matches, size  # noqa: E402

VARIANTS = ("hook", "no hook")
N_ROSEN = size(1_000, 10)


def _no_hook_sweep():
    """engine._sweep compiled again without its anomaly-mode lines, in engine's globals."""
    from tapegrad.autograd import engine

    src = textwrap.dedent(inspect.getsource(engine._sweep))
    lines = src.splitlines(keepends=True)
    i = next(j for j, ln in enumerate(lines) if "_ANOMALY[0]" in ln)
    assert "_anomaly_sweep" in lines[i + 1], "engine._sweep changed: update bench_anomaly"
    src = "".join(lines[:i] + lines[i + 2:])
    ns = {}
    exec(compile(src, engine.__file__, "exec"), engine.__dict__, ns)
    return ns["_sweep"]


class _Engine:
    """Context manager: backward runs with `variant`'s _sweep."""

    def __init__(self, variant):
        from tapegrad.autograd import engine

        self.engine = engine
        self.hooked = engine._sweep
        self.fn = self.hooked if variant == "hook" else _no_hook_sweep()

    def __enter__(self):
        self.engine._sweep = self.fn

    def __exit__(self, *exc):
        self.engine._sweep = self.hooked


def _workloads():
    return {"seed": (bench_seed.make("tapegrad")[0], bench_seed.REFERENCE),
            f"rosenbrock n={N_ROSEN}": (bench_rosenbrock.make("tapegrad", N_ROSEN)[0],
                                       bench_rosenbrock.reference(N_ROSEN))}


def _check_off():
    """The mode is off and recording runs the Tape class's own methods."""
    import tapegrad
    from tapegrad.autograd import anomaly
    from tapegrad.tape.tape import Tape

    assert not tapegrad.autograd.is_anomaly_enabled()
    assert not any(hasattr(Tape.__dict__[n], "__wrapped__") for n in anomaly._RECORDERS)


@pytest.mark.parametrize("variant", VARIANTS)
@pytest.mark.parametrize("workload", ("seed", "rosenbrock"))
def bench_anomaly_off(benchmark, workload, variant):
    import tapegrad  # noqa: F401

    _check_off()
    name, (run, ref) = next((k, v) for k, v in _workloads().items() if k.startswith(workload))
    with _Engine(variant):
        assert_matches("tapegrad", run(), ref)
        for _ in range(20):
            run()
        benchmark.group = f"anomaly_off {name}"
        # the report's tables show the engine as it is in tapegrad's column
        impl = "tapegrad" if variant == "hook" else "tapegrad (no hook)"
        benchmark.extra_info.update(workload=f"anomaly_off {name}", impl=impl)
        benchmark(run)
    _check_off()


def _per_call(run, calls):
    t0 = time.perf_counter()
    for _ in range(calls):
        run()
    return (time.perf_counter() - t0) / calls


def measure(rounds=31, seconds=0.05):
    """{workload: (ratio hook / no hook of median per-call times, rounds' ratio spread
    (25th, 75th percentile), median per-call seconds with the hook)}."""
    _check_off()
    engines = {v: _Engine(v) for v in VARIANTS}
    out = {}
    for name, (run, ref) in _workloads().items():
        for v in VARIANTS:
            with engines[v]:
                assert_matches("tapegrad", run(), ref)
        with engines["hook"]:
            t = _per_call(run, 50)
        calls = max(10, int(seconds / t))
        times = {v: [] for v in VARIANTS}
        for r in range(rounds):
            for v in (VARIANTS if r % 2 == 0 else VARIANTS[::-1]):
                with engines[v]:
                    times[v].append(_per_call(run, calls))
        a, b = np.array(times["hook"]), np.array(times["no hook"])
        out[name] = (np.median(a) / np.median(b), tuple(np.percentile(a / b, [25, 75])),
                     float(np.median(a)))
    _check_off()
    return out


def main(argv=None):
    quick = "--quick" in (argv or sys.argv[1:])
    res = measure(rounds=3 if quick else 31, seconds=0.002 if quick else 0.05)
    print("anomaly mode off: engine with the anomaly hook / engine without it "
          "(median per-call time; rounds' 25th-75th percentile of the ratio)")
    for name, (ratio, (lo, hi), t) in res.items():
        print(f"  {name:24s} {ratio:6.3f}x   [{lo:.3f}, {hi:.3f}]   {t * 1e6:9.2f} us/call")


if __name__ == "__main__":
    main()
