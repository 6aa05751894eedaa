"""Shared helpers of the benchmark modules: sizes, peer loading, gradient checks, timing.

Every benchmark module defines, for each implementation it has, a factory
`make(impl, **size) -> (run, result)`: `run()` is the timed call (value and gradient
in the implementation's native form, synchronised), `result()` returns
`(value, gradient)` as NumPy for the cross-check. `time_case` checks `result()`
against the module's reference (itself checked against central differences in
`bench_reference_*`) before timing, so no timed row can be wrong.
"""

import os
import time

import numpy as np
import pytest

# The implementations, in table order. "numba" is the hand-written value-and-gradient.
# "numpy" (plain NumPy, no gradient) is a peer only of the workloads without a gradient
# (bench_elementwise.py), which list it themselves.
IMPLS = ("tapegrad", "replay", "torch", "jax", "autograd", "casadi", "numba")
# "replay": tapegrad.func, the function recorded once (outside the timed region) and
# replayed by each call: what an optimizer calling a gradient many times gets

QUICK = os.environ.get("TAPEGRAD_BENCH_QUICK", "") not in ("", "0")


def size(full, quick):
    """`full` normally, `quick` under TAPEGRAD_BENCH_QUICK=1 / --quick (CI)."""
    return quick if QUICK else full


# ---- peers ------------------------------------------------------------------------------
def load(impl):
    """The module of `impl`, or skip the test when that peer is not installed."""
    if impl in ("tapegrad", "replay"):
        import tapegrad

        return tapegrad
    if impl == "torch":
        torch = pytest.importorskip("torch")
        torch.set_num_threads(1)
        return torch
    if impl == "jax":
        jax = pytest.importorskip("jax")
        jax.config.update("jax_enable_x64", True)
        jax.config.update("jax_platforms", "cpu")
        return jax
    if impl == "autograd":
        return pytest.importorskip("autograd")
    if impl == "casadi":
        return pytest.importorskip("casadi")
    if impl == "numba":
        return pytest.importorskip("numba")
    if impl == "numpy":
        return np
    raise ValueError(impl)


def np_of(x):
    """NumPy float64 array of any implementation's value (tensor, jax array, DM, float)."""
    if type(x).__module__.startswith("casadi"):                 # casadi DM
        x = x.full()
    if hasattr(x, "detach"):                                      # torch / tapegrad tensor
        x = x.detach().numpy()
    return np.asarray(x, dtype=np.float64)


# ---- checks -----------------------------------------------------------------------------
def assert_matches(impl, got, ref, rtol=1e-8, atol=1e-10):
    """got and ref are (value, gradient) pairs; gradient may be a tuple of arrays."""
    gv, gg = got
    rv, rg = ref
    if rv is not None and gv is not None:  # None: a workload without a value (hvp)
        np.testing.assert_allclose(np.ravel(np_of(gv)), np.ravel(np_of(rv)), rtol=rtol,
                                   atol=atol, err_msg=f"{impl}: value differs from the reference")
    if not isinstance(rg, tuple):
        gg, rg = (gg,), (rg,)
    assert len(gg) == len(rg), f"{impl}: {len(gg)} gradients, expected {len(rg)}"
    for k, (a, b) in enumerate(zip(gg, rg)):
        a, b = np_of(a), np_of(b)
        np.testing.assert_allclose(a.reshape(b.shape), b, rtol=rtol, atol=atol,
                                   err_msg=f"{impl}: gradient {k} differs from the reference")


def central_differences(f, x, eps=1e-6):
    """Gradient of a scalar NumPy function by central differences (float64)."""
    x = np.array(x, dtype=np.float64)
    g = np.zeros_like(x)
    flat, gflat = x.reshape(-1), g.reshape(-1)
    for i in range(flat.size):
        keep = flat[i]
        flat[i] = keep + eps
        fp = f(x)
        flat[i] = keep - eps
        fm = f(x)
        flat[i] = keep
        gflat[i] = (fp - fm) / (2 * eps)
    return g


def crosscheck(results, rtol=1e-8, atol=1e-10):
    """Every pair of implementations' (value, gradient) agree."""
    names = list(results)
    for i, a in enumerate(names):
        for b in names[i + 1:]:
            assert_matches(f"{a} vs {b}", results[a], results[b], rtol=rtol, atol=atol)


def time_case(benchmark, group, impl, make, reference, rtol=1e-8, atol=1e-10, info=None,
              **size):
    """Build `impl`'s callable, check it against `reference`, then time it in `group`."""
    load(impl)
    t0 = time.perf_counter()
    run, result = make(impl, **size)
    built = time.perf_counter() - t0
    t0 = time.perf_counter()
    got = result()       # the first call: JAX traces and compiles here
    first = time.perf_counter() - t0
    assert_matches(impl, got, reference, rtol=rtol, atol=atol)
    t0 = time.perf_counter()
    for _ in range(3):   # warm-up beyond the first call (caches, allocator, branch history)
        run()
        if time.perf_counter() - t0 > 0.2:
            break
    benchmark.group = group
    benchmark.extra_info.update(workload=group, impl=impl, build_s=built, first_call_s=first,
                                quick=QUICK, **size, **(info or {}))
    benchmark(run)


def available(impl):
    """True when `impl` can be loaded (no skip)."""
    try:
        load(impl)
    except pytest.skip.Exception:
        return False
    return True


def crosscheck_all(make, impls=IMPLS, rtol=1e-8, atol=1e-10, **size):
    """Build every installed implementation and check them pairwise; returns the names."""
    results = {}
    for impl in impls:
        if not available(impl):
            continue
        try:
            _, result = make(impl, **size)
        except pytest.skip.Exception:  # an implementation that cannot do this workload yet
            continue
        results[impl] = result()
    crosscheck(results, rtol=rtol, atol=atol)
    return sorted(results)
