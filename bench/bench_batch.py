"""`.batch`: value and gradient of rosenbrock (n = 100) at 10,000 points, on 2 threads.

    NUMBA_NUM_THREADS=2 python -m pytest bench/bench_batch.py

Rows: `fg.batch(X)` (all rows in one compiled call, rows cut into one range per thread)
against the loop of replays `[fg(x) for x in X]`, the same recording either way. The
suite pins every library to one thread (bench/conftest.py); this file asks for
TAPEGRAD_BATCH_THREADS (default 2) Numba threads, which works when it is the first to
import Numba (run it alone, as above); otherwise its rows are skipped. `test_ratio`
times both in the same run, best of 5, and checks the target (>= 1.7x on 2 cores).
"""

import os
import sys
import time

if "numba" not in sys.modules:  # before anything imports Numba (bench/conftest.py does not)
    os.environ["NUMBA_NUM_THREADS"] = os.environ.get("TAPEGRAD_BATCH_THREADS", "2")

import numpy as np  # noqa: E402
import pytest  # noqa: E402

from bench.common import size  # noqa: E402

ROWS, N = size(10_000, 100), size(100, 10)
TARGET = 1.7


def rosen(x):
    return (100 * (x[1:] - x[:-1] ** 2) ** 2 + (1 - x[:-1]) ** 2).sum()


@pytest.fixture(scope="module")
def case():
    import numba

    from tapegrad import func

    threads = numba.get_num_threads()
    if threads < 2:
        pytest.skip("one Numba thread in this process: run bench/bench_batch.py alone "
                    "(NUMBA_NUM_THREADS=2)")
    X = np.random.default_rng(0).uniform(-1.5, 1.5, (ROWS, N))
    fg = func.value_and_grad(rosen)
    fg.batch(X[:100])  # records, and compiles or loads the sweeps and the batch entry
    V, G = fg.batch(X)
    W, H = zip(*[fg(x) for x in X])
    assert np.array_equal(V, np.array(W)) and np.array_equal(G, np.array(H))
    return fg, X, threads


def _loop(fg, X):
    return [fg(x) for x in X]


@pytest.mark.benchmark(group="batch rosenbrock n=100, 10,000 points")
def test_loop(benchmark, case):
    fg, X, _ = case
    benchmark(_loop, fg, X)


@pytest.mark.benchmark(group="batch rosenbrock n=100, 10,000 points")
def test_batch(benchmark, case):
    fg, X, threads = case
    benchmark.extra_info["threads"] = threads
    benchmark(fg.batch, X)


def _best(fn, *args, repeat=5):
    best = float("inf")
    for _ in range(repeat):
        t = time.perf_counter()
        fn(*args)
        best = min(best, time.perf_counter() - t)
    return best


def test_ratio(case, record_property):
    fg, X, threads = case
    loop, batch = _best(_loop, fg, X), _best(fg.batch, X)
    ratio = loop / batch
    record_property("ratio", ratio)
    print(f"\nbatch of {ROWS} rosenbrock(n={N}) points on {threads} threads: loop "
          f"{loop * 1e3:.1f} ms, batch {batch * 1e3:.1f} ms, ratio {ratio:.2f}x "
          f"(target >= {TARGET}x)")
    if ROWS >= 10_000:
        assert ratio >= TARGET
