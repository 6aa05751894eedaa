"""tapegrad/tape/span.py: reference-free views and arguments in compiled code."""

import numpy as np
from numba import njit

from tapegrad.tape.span import span, span2, unref


@njit(cache=False)
def _use(A, p, m, k):
    A = unref(A)
    v = span(A, p, m * k)
    w = span2(A, p, m, k)
    s = 0.0
    for i in range(m):
        for j in range(k):
            s += w[i, j] * (i + 1)
    for i in range(v.shape[0]):
        v[i] *= 2.0  # writes through to A
    return s, w.shape[0], w.shape[1], v.shape[0]


def test_span_views_are_the_slices_and_write_through():
    A = np.arange(40, dtype=np.float64)
    want = (A[5:17].reshape(3, 4) * np.arange(1, 4)[:, None]).sum()
    s, m, k, n = _use(A, 5, 3, 4)
    assert (s, m, k, n) == (want, 3, 4, 12)
    expect = np.arange(40, dtype=np.float64)
    expect[5:17] *= 2
    np.testing.assert_array_equal(A, expect)


def test_an_unref_array_keeps_its_values_and_python_keeps_the_memory():
    A = np.ones(8, np.float32)
    _use(A, 0, 2, 4)
    assert A.dtype == np.float32 and A.sum() == 16.0
