"""Benchmark configuration: one thread for every library, peers optional, machine info.

The thread settings must be in the environment before NumPy, Numba, PyTorch or JAX is
first imported, so they are set at the top of this file, which pytest imports before any
benchmark module (`python -m bench.report` also passes them to its pytest subprocess).
"""

import os
import sys

from bench.threads import THREAD_ENV, pin

pin()  # before anything below imports NumPy, Numba, PyTorch or JAX

import platform  # noqa: E402

import pytest  # noqa: E402

from bench import common  # noqa: E402


def pytest_addoption(parser):
    parser.addoption("--quick", action="store_true", default=False,
                     help="tiny sizes (as TAPEGRAD_BENCH_QUICK=1); use with --benchmark-disable")


def pytest_configure(config):
    if config.getoption("--quick"):
        os.environ["TAPEGRAD_BENCH_QUICK"] = "1"
        common.QUICK = True
    torch = sys.modules.get("torch")
    if torch is not None:  # imported already (by a plugin): pin it now
        torch.set_num_threads(1)


def pytest_report_header(config):
    return (f"tapegrad bench: {'QUICK sizes' if common.QUICK else 'full sizes'}; "
            f"threads pinned to 1; peers installed: "
            + ", ".join(i for i in common.IMPLS if _installed(i)))


def _installed(name):
    import importlib.util

    try:
        return importlib.util.find_spec(name) is not None
    except (ImportError, ValueError):
        return False


def cpu_model():
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def versions():
    """Versions of Python and every library the suite may time."""
    from importlib.metadata import PackageNotFoundError, version

    out = {"python": platform.python_version()}
    for dist in ("numpy", "numba", "torch", "jax", "jaxlib", "autograd", "casadi",
                 "pytest-benchmark"):
        try:
            out[dist] = version(dist)
        except PackageNotFoundError:
            out[dist] = None
    try:
        import tapegrad

        out["tapegrad"] = getattr(tapegrad, "__version__", "?")
    except Exception:  # noqa: BLE001 - reported, not fatal
        out["tapegrad"] = None
    return out


@pytest.hookimpl(optionalhook=True)
def pytest_benchmark_update_machine_info(config, machine_info):
    machine_info["cpu_model"] = cpu_model()
    machine_info["cores"] = os.cpu_count()
    machine_info["versions"] = versions()
    machine_info["thread_env"] = dict(THREAD_ENV)
    machine_info["quick"] = common.QUICK
