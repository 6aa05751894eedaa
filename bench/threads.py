"""One thread for every library the suite times: the environment, set before import.

Imported first by bench/conftest.py (so before NumPy, Numba, PyTorch or JAX is loaded in
the pytest process), and passed to the subprocesses of report.py and coldstart.py.
"""

import os

THREAD_ENV = {
    "OMP_NUM_THREADS": "1",
    "MKL_NUM_THREADS": "1",
    "OPENBLAS_NUM_THREADS": "1",
    "BLIS_NUM_THREADS": "1",
    "VECLIB_MAXIMUM_THREADS": "1",
    "NUMEXPR_NUM_THREADS": "1",
    "NUMBA_NUM_THREADS": "1",
    # JAX: CPU only, 64-bit floats, XLA's CPU backend on one thread
    "JAX_PLATFORMS": "cpu",
    "JAX_ENABLE_X64": "1",
    "XLA_FLAGS": "--xla_cpu_multi_thread_eigen=false intra_op_parallelism_threads=1",
    "TF_CPP_MIN_LOG_LEVEL": "2",
}


def pin(environ=os.environ):
    """Put the one-thread settings into `environ` (os.environ by default); returns it."""
    environ.update(THREAD_ENV)
    return environ
