"""Ops whose kernels are whole-array loops (reductions, matmul, movement, casts).

Their kernels live in tapegrad/tape/sweep.py, one per family, driven by the int
parameters that the recorder interns in the aux pool; the rows here name them.
"""

from .spec import (CAST, COPY, IN0, IN1, LEAF, MATMUL, NOTHING, PERMUTE, REDUCE, SCALAR,
                   declare)

declare(0, "leaf", "AccumulateGrad", LEAF, doc="a leaf or constant entering the tape")

# ---- reductions: aux = [ndim, in shape..., out strides (0 on reduced dims)...] ---------
declare(30, "sum", "SumBackward0", REDUCE, doc="sum of all elements",
        examples=(("x.sum()", (2, 3)), ("x.sum()", ()), ("torch.sum(x)", (5,))))
declare(31, "sum_dim", "SumBackward1", REDUCE, doc="sum over dims",
        examples=(("x.sum(dim=1)", (2, 3)), ("x.sum((0, 2), keepdim=True)", (2, 3, 4)),
                  ("x.sum(-1)", (3,)), ("x.sum(0, keepdim=True)", (3, 2)), ("x.sum(1)", (2, 3, 4))))
declare(32, "mean", "MeanBackward0", REDUCE, saves=NOTHING,
        examples=(("x.mean()", (2, 3)), ("torch.mean(x)", ())))
declare(33, "mean_dim", "MeanBackward1", REDUCE, saves=NOTHING,
        examples=(("x.mean(0)", (2, 3)), ("x.mean((1, 2), keepdim=True)", (2, 3, 4))))

# ---- matmul: aux = [m, k, n]; in0 is (m, k), in1 is (k, n) as flat arrays ----------------
declare(40, "mm", "MmBackward0", MATMUL, saves=IN0 | IN1,
        examples=(("x @ y", (2, 3), (3, 4)), ("torch.mm(x, y)", (40, 30), (30, 20))))
declare(41, "mv", "MvBackward0", MATMUL, saves=IN0 | IN1,
        examples=(("x @ y", (2, 3), (3,)), ("torch.mv(x, y)", (200, 100), (100,))))
declare(42, "dot", "DotBackward0", MATMUL, saves=IN0 | IN1,
        examples=(("x @ y", (3,), (3,)), ("torch.dot(x, y)", (1,), (1,))))
declare(43, "vm", "SqueezeBackward4", MATMUL, saves=IN0 | IN1,
        doc="1-D @ 2-D; PyTorch runs it as unsqueeze, mm, squeeze",
        examples=(("x @ y", (3,), (3, 4)),))

# ---- movement -----------------------------------------------------------------------
declare(50, "view", "ViewBackward0", COPY, doc="reshape, view, flatten",
        examples=(("x.reshape(3, 2)", (2, 3)), ("x.view(-1)", (2, 3, 2)), ("x.flatten()", (2, 2)),
                  ("x.reshape(())", (1,))))
declare(51, "clone", "CloneBackward0", COPY, examples=(("x.clone()", (2, 3)),))
declare(52, "permute", "PermuteBackward0", PERMUTE, doc="aux = [ndim, out shape, in strides]",
        examples=(("x.permute(2, 0, 1)", (2, 3, 4)), ("x.T", (2, 3)), ("x.permute(0, 1)", (2, 3))))
declare(53, "transpose", "TransposeBackward0", PERMUTE,
        examples=(("x.transpose(0, 1)", (2, 3)), ("x.transpose(-1, 0)", (2, 3, 4))))
declare(54, "t", "TBackward0", PERMUTE, examples=(("x.t()", (2, 3)), ("x.t()", (3,))))
declare(55, "to_copy", "ToCopyBackward0", CAST, doc="float32 <-> float64",
        examples=(("x.float()", (2, 3)),), tol=1e-2)

del SCALAR, IN0, IN1
