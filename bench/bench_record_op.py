"""record_op: recording one op, `x * 2.0`, on a 1-element float64 tensor that requires grad.

No backward: the per-op cost of recording (the result is dropped, so each
implementation also pays for freeing what it recorded: PyTorch frees its graph node,
tapegrad reclaims tape rows when it compacts). Only the tape-based eager libraries
record ops one at a time, so the group has tapegrad and PyTorch.
"""

import numpy as np
import pytest

from bench.common import crosscheck_all, time_case

IMPLS = ("tapegrad", "torch")
X0 = 1.5
REFERENCE = (np.array([2 * X0]), np.array([2.0]))


def make(impl):
    if impl == "tapegrad":
        import tapegrad as T
    elif impl == "torch":
        import torch as T
    else:
        raise ValueError(impl)
    x = T.tensor([X0], dtype=T.float64, requires_grad=True)

    def run():
        return x * 2.0

    def result():  # one record, then its backward, to check what was recorded
        x.grad = None
        y = run()
        y.backward()
        return y, x.grad

    return run, result


def bench_record_op_crosscheck():
    assert "tapegrad" in crosscheck_all(make, IMPLS)


@pytest.mark.parametrize("impl", IMPLS)
def bench_record_op(benchmark, impl):
    time_case(benchmark, "record_op", impl, make, REFERENCE)
