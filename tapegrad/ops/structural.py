"""Ops whose kernels are whole-array loops (reductions, matmul, movement, casts).

Their kernels live in tapegrad/tape/sweep.py, one per family, driven by the int
parameters that the recorder interns in the aux pool; the rows here name them.
"""

from .spec import (CAST, COPY, IN0, IN1, LEAF, MATMUL, NOTHING, PERMUTE, REDUCE, SCALAR,
                   declare)

declare(0, "leaf", "AccumulateGrad", LEAF, doc="a leaf or constant entering the tape")

# ---- reductions: aux = [ndim, in shape..., out strides (0 on reduced dims)...] ---------
declare(30, "sum", "SumBackward0", REDUCE, doc="sum of all elements")
declare(31, "sum_dim", "SumBackward1", REDUCE, doc="sum over dims")
declare(32, "mean", "MeanBackward0", REDUCE, saves=NOTHING)
declare(33, "mean_dim", "MeanBackward1", REDUCE, saves=NOTHING)

# ---- matmul: aux = [m, k, n]; in0 is (m, k), in1 is (k, n) as flat arrays ----------------
declare(40, "mm", "MmBackward0", MATMUL, saves=IN0 | IN1)
declare(41, "mv", "MvBackward0", MATMUL, saves=IN0 | IN1)
declare(42, "dot", "DotBackward0", MATMUL, saves=IN0 | IN1)
declare(43, "vm", "SqueezeBackward4", MATMUL, saves=IN0 | IN1,
        doc="1-D @ 2-D; PyTorch runs it as unsqueeze, mm, squeeze")

# ---- movement -----------------------------------------------------------------------
declare(50, "view", "ViewBackward0", COPY, doc="reshape, view, flatten")
declare(51, "clone", "CloneBackward0", COPY)
declare(52, "permute", "PermuteBackward0", PERMUTE, doc="aux = [ndim, out shape..., in strides...]")
declare(53, "transpose", "TransposeBackward0", PERMUTE)
declare(54, "t", "TBackward0", PERMUTE)
declare(55, "to_copy", "ToCopyBackward0", CAST, doc="float32 <-> float64")

del SCALAR, IN0, IN1
