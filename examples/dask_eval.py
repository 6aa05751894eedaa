"""A saved tapegrad.func program evaluated on many points across a Dask cluster.

    fg = tapegrad.func.value_and_grad(rosen); fg(x0); fg.save(path)   # here, once
    program = tapegrad.func.load(path)                                 # on each worker

The client records the Rosenbrock function's value and gradient, saves the program and
ships the file's bytes to every worker in a worker plugin: each worker loads it once (it
needs tapegrad, not this script's function) and evaluates its chunks of points with
`.batch`. The results are checked against local ones, bit for bit.

The cluster here is a `LocalCluster` of 2 worker processes with 1 thread each; pass a
scheduler address as the first argument to use a real cluster instead (its workers need
tapegrad installed). Needs `pip install -e ".[distributed]"`.
Set TAPEGRAD_EXAMPLES_QUICK=1 for the small run CI does.
"""
import io
import os
import sys
import tempfile
import time

import numpy as np
from distributed import Client, LocalCluster, WorkerPlugin, get_worker

import tapegrad as tg


def rosen(x):
    return (100 * (x[1:] - x[:-1] ** 2) ** 2 + (1 - x[:-1]) ** 2).sum()


class TapegradProgram(WorkerPlugin):
    """Carries a saved program's bytes to each worker, which loads it once."""

    name = "tapegrad-program"

    def __init__(self, data: bytes):
        self.data = data
        self.program, self.loads = None, 0

    def setup(self, worker):
        self.program = tg.func.load(io.BytesIO(self.data))
        self.loads += 1


def evaluate_chunk(X):
    """The program's value and gradient at each row of X, on the worker that runs it."""
    worker = get_worker()
    program = worker.plugins[TapegradProgram.name].program
    values, grads = program.batch(X)
    return worker.address, values, grads


def evaluate(client, path, X, chunk):
    """(values, gradients, addresses of the workers that ran the chunks) at the rows of X."""
    with open(path, "rb") as fh:
        client.register_plugin(TapegradProgram(fh.read()))
    chunks = [X[i:i + chunk] for i in range(0, len(X), chunk)]
    futures = client.map(evaluate_chunk, client.scatter(chunks))
    parts = client.gather(futures)
    return (np.concatenate([p[1] for p in parts]), np.concatenate([p[2] for p in parts]),
            [p[0] for p in parts])


def main():
    quick = bool(os.environ.get("TAPEGRAD_EXAMPLES_QUICK"))
    n, points, chunk = (50, 400, 50) if quick else (1000, 4000, 500)
    fg = tg.func.value_and_grad(rosen)
    X = np.random.default_rng(0).uniform(-2, 2, (points, n))
    fg(X[0])  # records
    path = os.path.join(tempfile.mkdtemp(), "rosen.npz")
    fg.save(path)
    print(f"saved {path.rsplit(os.sep, 1)[-1]}: {os.path.getsize(path):,} bytes, "
          f"{fg.tape.nrecords} records")
    t0 = time.perf_counter()
    V0, G0 = fg.batch(X)
    local = time.perf_counter() - t0
    if len(sys.argv) > 1:
        client = Client(sys.argv[1])
    else:
        client = Client(LocalCluster(n_workers=2, threads_per_worker=1, processes=True,
                                     dashboard_address=None))
    with client:
        evaluate(client, path, X[:chunk], chunk)  # warm: the workers load and compile
        t0 = time.perf_counter()
        V, G, workers = evaluate(client, path, X, chunk)
        remote = time.perf_counter() - t0
        nworkers = len(client.scheduler_info()["workers"])
    assert np.array_equal(V, V0) and np.array_equal(G, G0)
    print(f"{points} points of rosenbrock n={n} in {len(workers)} chunks on {nworkers} "
          f"workers ({len(set(workers))} used): {remote:.3f} s; locally {local:.3f} s")
    print("values and gradients equal to the local ones: True")


if __name__ == "__main__":
    main()
