"""Ops whose kernels are whole-array loops (reductions, matmul, movement, casts).

Their kernels live in tapegrad/tape/kernels.py, one per family, driven by the int
parameters that the recorder interns in the aux pool; the rows here name them.
"""

from .spec import (CAST, COPY, IN0, IN1, INDEX, JOIN, LEAF, MATMUL, NOTHING, OUT, PYTHON, REDUCE,
                   SCALAR, STRIDED, declare)

declare(0, "leaf", "AccumulateGrad", LEAF, doc="a leaf or constant entering the tape")
declare(130, "detach", "None", LEAF,
        doc="detach() or .data of a value that requires grad: a slot aliasing in0's value "
            "(same arena offset), without its history; no grad_fn, the sweeps skip it")

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

declare(34, "prod", "ProdBackward0", REDUCE, saves=IN0 | OUT, domain=(0.5, 1.5),
        examples=(("x.prod()", (2, 3)),))
declare(35, "prod_dim", "ProdBackward1", REDUCE, saves=IN0 | OUT, domain=(0.5, 1.5),
        examples=(("x.prod(1)", (2, 3)), ("x.prod(0, keepdim=True)", (3, 2))))
declare(36, "amax", "AmaxBackward0", REDUCE, saves=IN0 | OUT,
        examples=(("x.amax(1)", (2, 3)), ("x.amax((0, 1))", (2, 3, 2))))
declare(37, "amin", "AminBackward0", REDUCE, saves=IN0 | OUT, examples=(("x.amin(0)", (2, 3)),))
declare(38, "max", "MaxBackward1", REDUCE, saves=IN0 | OUT, examples=(("x.max()", (2, 3)),))
declare(39, "min", "MinBackward1", REDUCE, saves=IN0 | OUT, examples=(("torch.min(x)", (4,)),))
declare(100, "max_dim", "MaxBackward0", REDUCE, saves=IN0 | OUT,
        examples=(("x.max(1).values", (2, 3)), ("torch.max(x, 0, keepdim=True)[0]", (3, 2))))
declare(101, "min_dim", "MinBackward0", REDUCE, saves=IN0 | OUT,
        examples=(("x.min(dim=-1).values", (2, 3)),))
declare(102, "var", "VarBackward0", REDUCE, saves=IN0,
        examples=(("x.var()", (2, 3)), ("x.var(1)", (2, 3)), ("x.var(0, correction=0)", (3, 2))))
declare(103, "std", "StdBackward0", REDUCE, saves=IN0 | OUT,
        examples=(("x.std()", (5,)), ("x.std(1, keepdim=True)", (2, 3)),
                  ("x.std(0, unbiased=False)", (3, 2))))
declare(104, "norm", "LinalgVectorNormBackward0", REDUCE, saves=IN0 | OUT,
        examples=(("x.norm()", (2, 3)), ("x.norm(p=1)", (4,)), ("x.norm(p=float('inf'))", (4,)),
                  ("x.norm(dim=1)", (2, 3)), ("x.norm(p=3)", (3,))))
declare(105, "logsumexp", "LogsumexpBackward0", REDUCE, saves=IN0 | OUT,
        examples=(("x.logsumexp(1)", (2, 3)), ("torch.logsumexp(x, dim=(0, 1))", (2, 3))))
declare(106, "cumsum", "CumsumBackward0", REDUCE, doc="aux = [stride of dim, its size]",
        examples=(("x.cumsum(0)", (4,)), ("x.cumsum(-1)", (2, 3)), ("x.cumsum(0)", (3, 2))))
declare(107, "softmax", "SoftmaxBackward0", REDUCE, saves=OUT,
        doc="along one dim, shifted by the lane's max; aux = [outer, size, inner]",
        examples=(("torch.softmax(x, 1)", (2, 3)), ("x.softmax(-1)", (4,)),
                  ("torch.nn.functional.softmax(x, dim=1)", (2, 3, 4))))
declare(108, "log_softmax", "LogSoftmaxBackward0", REDUCE, saves=OUT,
        doc="x - logsumexp(x, dim) in one record; aux = [outer, size, inner]",
        examples=(("torch.log_softmax(x, 1)", (2, 3)), ("x.log_softmax(0)", (3, 2)),
                  ("torch.nn.functional.log_softmax(x, dim=1)", (2, 3, 4))))

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

declare(46, "mm_nt", "MmBackward0", MATMUL, saves=IN0 | IN1,
        doc="in0 @ in1.T with in1 stored (n, k): the product of F.linear, no transpose copy",
        examples=(("torch.nn.functional.linear(x, y)", (2, 3), (4, 3)),
                  ("torch.nn.functional.linear(x, y)", (40, 30), (20, 30)),
                  ("torch.nn.functional.linear(x, y)", (1, 5), (3, 5))))
declare(44, "bmm", "BmmBackward0", MATMUL, saves=IN0 | IN1,
        examples=(("torch.bmm(x, y)", (2, 3, 4), (2, 4, 2)),))
declare(45, "matmul_batched", "UnsafeViewBackward0", MATMUL, saves=IN0 | IN1,
        examples=(("x @ y", (2, 3, 4), (4, 2)), ("x @ y", (3, 4), (2, 4, 2)),
                  ("x @ y", (2, 1, 3, 4), (3, 4, 2)), ("x @ y", (2, 3, 4), (4,)),
                  ("x @ y", (4,), (2, 4, 3)), ("torch.matmul(x, y)", (5, 30, 20), (5, 20, 40))))

# ---- movement (squeeze keeps the elements in order: a COPY record; unsqueeze is STRIDED,
# as indexing with None records it after slices and selects) ------------------------------
declare(50, "view", "ViewBackward0", COPY, doc="reshape, view, flatten",
        examples=(("x.reshape(3, 2)", (2, 3)), ("x.view(-1)", (2, 3, 2)), ("x.flatten()", (2, 2)),
                  ("x.reshape(())", (1,))))
declare(51, "clone", "CloneBackward0", COPY, examples=(("x.clone()", (2, 3)),))
# strided gathers: aux = [nd, iteration shape, input strides along it, base offset]
declare(52, "permute", "PermuteBackward0", STRIDED,
        examples=(("x.permute(2, 0, 1)", (2, 3, 4)), ("x.T", (2, 3)), ("x.permute(0, 1)", (2, 3))))
declare(53, "transpose", "TransposeBackward0", STRIDED,
        examples=(("x.transpose(0, 1)", (2, 3)), ("x.transpose(-1, 0)", (2, 3, 4))))
declare(54, "t", "TBackward0", STRIDED, examples=(("x.t()", (2, 3)), ("x.t()", (3,))))
declare(56, "select", "SelectBackward0", STRIDED,
        examples=(("x[1]", (3, 4)), ("x[:, -1]", (3, 4)), ("x[0]", (3,)), ("x.select(1, 2)", (2, 3, 4))))
declare(57, "slice", "SliceBackward0", STRIDED,
        examples=(("x[1:]", (5,)), ("x[:-1]", (5,)), ("x[::2, 1:3]", (5, 4)), ("x[..., 1:]", (2, 3, 4)),
                  ("x[0, 1:]", (3, 4))))
declare(58, "unsqueeze", "UnsqueezeBackward0", STRIDED,
        examples=(("x.unsqueeze(0)", (3,)), ("x.unsqueeze(-1)", (2, 3)), ("x[:, None]", (3,))))
declare(59, "squeeze", "SqueezeBackward0", COPY, examples=(("x.squeeze()", (1, 3, 1)),))
declare(90, "squeeze_dim", "SqueezeBackward1", COPY, examples=(("x.squeeze(1)", (3, 1)),))
declare(91, "expand", "ExpandBackward0", STRIDED,
        examples=(("x.expand(2, 3)", (3,)), ("x.expand(4, -1, 2)", (3, 1))))
declare(92, "flip", "FlipBackward0", STRIDED,
        examples=(("x.flip(0)", (4,)), ("x.flip((0, 1))", (2, 3))))
declare(93, "repeat", "RepeatBackward0", STRIDED,
        examples=(("x.repeat(2)", (3,)), ("x.repeat(2, 1, 3)", (2, 2))))
declare(94, "split", "SplitBackward0", STRIDED,
        examples=(("x.split(2)[1]", (5, 3)), ("torch.chunk(x, 3, 1)[2]", (2, 7))))
declare(95, "split_with_sizes", "SplitWithSizesBackward0", STRIDED,
        examples=(("x.split([1, 4])[1]", (5, 2)), ("torch.split(x, [2, 1], dim=1)[0]", (2, 3))))
declare(96, "cat", "CatBackward0", JOIN, doc="aux = [outer, a block, b block]",
        examples=(("torch.cat([x, y])", (2, 3), (4, 3)), ("torch.cat((x, y, x), dim=1)", (2, 3), (2, 1)),
                  ("torch.cat([x, y], -1)", (3,), (2,))))
declare(97, "stack", "StackBackward0", JOIN,
        examples=(("torch.stack([x, y])", (2, 3), (2, 3)), ("torch.stack((x, y, x), dim=1)", (3,), (3,))))
declare(98, "alias", "AliasBackward0", STRIDED, doc="an index that selects everything: x[...]",
        examples=(("x[...]", (2, 3)), ("x[:, 0:3]", (2, 3))))
# ---- by an index tensor (in1: exact integers in the float64 arena) ----------------------
declare(110, "index_select", "IndexSelectBackward0", INDEX, saves=IN1,
        examples=(("x.index_select(1, torch.tensor([2, 0, 2]))", (2, 3)),
                  ("torch.index_select(x, 0, torch.tensor([1]))", (3, 2))))
declare(111, "gather", "GatherBackward0", INDEX, saves=IN1,
        examples=(("x.gather(1, torch.tensor([[0, 2], [1, 1]]))", (2, 3)),
                  ("torch.gather(x, 0, torch.tensor([[1, 0, 1]]))", (2, 3))))
declare(112, "index", "IndexBackward0", INDEX, saves=IN1,
        examples=(("x[torch.tensor([2, 0, -1])]", (4, 2)), ("x[:, torch.tensor([[1], [0]])]", (2, 3)),
                  ("x[x > 0.5]", (3, 4)), ("x[torch.tensor([True, False, True])]", (3, 2)),
                  ("x[torch.tensor([0, 2]), 1:]", (3, 4)),
                  ("x[1, :, torch.tensor([0, 0, 2])]", (2, 3, 3)),
                  ("x[torch.tensor([[0], [2]]), torch.tensor([1, 0, 1])]", (3, 2))))
# out = in0 with out[positions] = in2 (in1 = flat positions, in2 one value or one per position)
declare(113, "index_put", "IndexPutBackward0", INDEX, saves=IN1,
        doc="x[tensor index] = v, and x.index_put(indices, v)",
        examples=(("x.index_put((torch.tensor([0, 2]),), y)", (3, 2), (2, 2)),
                  ("setitem(x, x > 0.5, y)", (2, 3), ()),
                  ("setitem(x, (torch.tensor([1, 1]), torch.tensor([0, 2])), y)", (2, 3), (2,))))
declare(114, "copy_slices", "CopySlices", INDEX, saves=IN1,
        doc="x[basic index] = v (ints, slices, None, ...), also mixed with tensors",
        examples=(("setitem(x, (slice(1, None), 0), y)", (3, 2), (2,)),
                  ("setitem(x, 1, y)", (3, 2), (1,)),
                  ("setitem(x, (0, torch.tensor([2, 0])), y)", (2, 3), (2,))))
declare(132, "snapshot", "None", LEAF,
        doc="a read of a slot changed in place since it was recorded: it aliases in0's value "
            "and adjoint (same arena offset) and counts versions from now, so the records "
            "that read it are not taken for users of the old value; gradient passes through")
# in-place writes that replace a value requiring grad by one that does not depend on it:
# a new value (loaded, its own storage) whose history is in0 with a zero gradient
for _code, _name, _grad_fn in ((133, "fill_", "FillBackward2"), (134, "zero_", "ZeroBackward0"),
                               (135, "normal_", "NormalBackward0"),
                               (136, "uniform_", "UniformBackward0"),
                               (138, "fill_all", "FillBackward3")):  # x[...] = number
    declare(_code, _name, _grad_fn, LEAF, doc=f"x.{_name} on a value that requires grad")
declare(131, "python", "PythonBackward0", PYTHON,
        doc="a value computed in Python whose backward is a Python function (tape.python_vjp "
            "by the record's seq): the reverse sweep pauses there, Python adds the input "
            "adjoints, the sweep resumes")
declare(55, "to_copy", "ToCopyBackward0", CAST, doc="float32 <-> float64",
        examples=(("x.float()", (2, 3)),), tol=1e-2)

del SCALAR, IN0, IN1
