"""Ops whose kernels are whole-array loops (reductions, matmul, movement, casts).

Their kernels live in tapegrad/tape/kernels.py, one per family, driven by the int
parameters that the recorder interns in the aux pool; the rows here name them.
"""

import math

import numpy as np

from .spec import (CAST, COPY, IN0, IN1, INDEX, JOIN, LEAF, MATMUL, NOTHING, OUT, PYTHON, REDUCE,
                   SCALAR, STRIDED, declare, grad_of)


def _tg():
    import tapegrad  # the formulas run long after import; the op table loads first

    return tapegrad


# ---- formulas (create_graph=True): helpers for the reductions ----------------------------
def _reduced(ctx):
    """(reduced dims, or None for all; the input shape with them as 1; elements per output)."""
    shape, p = ctx.shape(0), ctx.params
    if p is None:
        keep = ctx.shape(-1) if ctx.spec.name.endswith("_dim") else ()
        return None, keep, max(1, math.prod(shape))
    dims = tuple(i for i, st in enumerate(p[2]) if st == 0)
    keep = tuple(1 if i in dims else n for i, n in enumerate(shape))
    return dims, keep, math.prod(shape) // max(1, math.prod(keep))


def _kept(ctx, t, keep):
    return t.reshape(keep) if t._shape != keep else t


def _lane_dim(shape, outer, size, inner):
    """The dim of `shape` a softmax / cumsum record runs along."""
    for d in range(len(shape)):
        if shape[d] == size and math.prod(shape[:d]) == outer and math.prod(shape[d + 1:]) == inner:
            return d
    return 0

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
@grad_of("sum", "sum_dim", "mean", "mean_dim")
def _sum_grad(ctx):  # the output's gradient copied back over the reduced dims
    dims, keep, per = _reduced(ctx)
    g = _kept(ctx, ctx.g, keep)
    if ctx.spec.name.startswith("mean"):
        g = g / per
    shape = ctx.shape(0)
    return (g.expand(shape) if g._shape != shape else g,)


declare(34, "prod", "ProdBackward0", REDUCE, saves=IN0 | OUT, domain=(0.5, 1.5),
        examples=(("x.prod()", (2, 3)),))
declare(35, "prod_dim", "ProdBackward1", REDUCE, saves=IN0 | OUT, domain=(0.5, 1.5),
        examples=(("x.prod(1)", (2, 3)), ("x.prod(0, keepdim=True)", (3, 2))))
@grad_of("prod", "prod_dim")
def _prod_grad(ctx):  # y / x, or, at a lane's lone zero, the product of the others
    dims, keep, _ = _reduced(ctx)
    x, g = ctx.inputs[0], _kept(ctx, ctx.g, keep)
    xv = ctx.value(0)
    zero = xv == 0
    if not zero.any():
        return (g * _kept(ctx, ctx.out, keep) / x,)
    xm = ctx.where(zero, ctx.const(np.ones(xv.shape)), x)
    pnz = xm.prod(dims, keepdim=True) if dims else xm.prod()
    cnt = zero.sum(axis=dims, keepdims=True) if dims else zero.sum()
    share = np.where(cnt == 0, 1.0, np.where((cnt == 1) & zero, 1.0, 0.0))
    return (g * pnz / xm * ctx.const(share),)


declare(36, "amax", "AmaxBackward0", REDUCE, saves=IN0 | OUT,
        examples=(("x.amax(1)", (2, 3)), ("x.amax((0, 1))", (2, 3, 2))))
declare(37, "amin", "AminBackward0", REDUCE, saves=IN0 | OUT, examples=(("x.amin(0)", (2, 3)),))
declare(38, "max", "MaxBackward1", REDUCE, saves=IN0 | OUT, examples=(("x.max()", (2, 3)),))
declare(39, "min", "MinBackward1", REDUCE, saves=IN0 | OUT, examples=(("torch.min(x)", (4,)),))
declare(100, "max_dim", "MaxBackward0", REDUCE, saves=IN0 | OUT,
        examples=(("x.max(1).values", (2, 3)), ("torch.max(x, 0, keepdim=True)[0]", (3, 2))))
declare(101, "min_dim", "MinBackward0", REDUCE, saves=IN0 | OUT,
        examples=(("x.min(dim=-1).values", (2, 3)),))
@grad_of("amax", "amin", "max", "min", "max_dim", "min_dim")
def _max_grad(ctx):  # constant shares: ties split evenly (max over a dim: the first one)
    dims, keep, _ = _reduced(ctx)
    xv, yv = ctx.value(0), ctx.value(-1).reshape(keep)
    hit = (xv == yv) | (np.isnan(xv) & np.isnan(yv))
    if ctx.spec.name.endswith("_dim"):
        d = dims[0] if dims else None
        share = hit & (np.cumsum(hit, axis=d) == 1) if d is not None else hit
    else:
        share = hit / np.maximum(hit.sum(axis=dims, keepdims=True), 1)
    return (_kept(ctx, ctx.g, keep) * ctx.const(share),)


declare(102, "var", "VarBackward0", REDUCE, saves=IN0,
        examples=(("x.var()", (2, 3)), ("x.var(1)", (2, 3)), ("x.var(0, correction=0)", (3, 2))))
declare(103, "std", "StdBackward0", REDUCE, saves=IN0 | OUT,
        examples=(("x.std()", (5,)), ("x.std(1, keepdim=True)", (2, 3)),
                  ("x.std(0, unbiased=False)", (3, 2))))
@grad_of("var", "std")
def _var_grad(ctx):
    dims, keep, per = _reduced(ctx)
    x, g = ctx.inputs[0], _kept(ctx, ctx.g, keep)
    d = x - (x.mean(dims, keepdim=True) if dims else x.mean())
    if ctx.spec.name == "var":
        return (g * d * (2.0 / (per - ctx.c)),)
    y = _kept(ctx, ctx.out, keep)  # zero where the std is 0 (PyTorch masks it)
    return (ctx.keep(g * d / (y * (per - ctx.c)), np.broadcast_to(ctx.value(-1).reshape(keep)
                                                                   != 0, x._shape)),)


declare(104, "norm", "LinalgVectorNormBackward0", REDUCE, saves=IN0 | OUT,
        examples=(("x.norm()", (2, 3)), ("x.norm(p=1)", (4,)), ("x.norm(p=float('inf'))", (4,)),
                  ("x.norm(dim=1)", (2, 3)), ("x.norm(p=3)", (3,))))
@grad_of("norm")
def _norm_grad(ctx):
    dims, keep, _ = _reduced(ctx)
    x, g, p = ctx.inputs[0], _kept(ctx, ctx.g, keep), ctx.c
    xv, yv = ctx.value(0), ctx.value(-1).reshape(keep)
    sign = ctx.const(np.sign(xv))
    if p == 1:
        return (g * sign,)
    if p == math.inf:  # ties share evenly
        hit = np.abs(xv) == yv
        return (g * ctx.const(np.sign(xv) * hit / np.maximum(hit.sum(axis=dims, keepdims=True),
                                                             1)),)
    y = _kept(ctx, ctx.out, keep)
    nz = np.broadcast_to(yv != 0, xv.shape)
    if p == 2:
        return (ctx.keep(g * x / y, nz),)
    return (ctx.keep(g * sign * x.abs() ** (p - 1) / y ** (p - 1), nz),)


declare(105, "logsumexp", "LogsumexpBackward0", REDUCE, saves=IN0 | OUT,
        examples=(("x.logsumexp(1)", (2, 3)), ("torch.logsumexp(x, dim=(0, 1))", (2, 3))))
@grad_of("logsumexp")
def _logsumexp_grad(ctx):
    dims, keep, _ = _reduced(ctx)
    return (_kept(ctx, ctx.g, keep) * (ctx.inputs[0] - _kept(ctx, ctx.out, keep)).exp(),)


declare(106, "cumsum", "CumsumBackward0", REDUCE, doc="aux = [stride of dim, its size]",
        examples=(("x.cumsum(0)", (4,)), ("x.cumsum(-1)", (2, 3)), ("x.cumsum(0)", (3, 2))))
@grad_of("cumsum")
def _cumsum_grad(ctx):  # the reversed running sum of the gradient
    shape = ctx.shape(0)
    if not shape:
        return (ctx.g,)
    st, size = ctx.params
    d = _lane_dim(shape, math.prod(shape) // max(1, st * size), size, st)
    return (ctx.g.flip(d).cumsum(d).flip(d),)


declare(107, "softmax", "SoftmaxBackward0", REDUCE, saves=OUT,
        doc="along one dim, shifted by the lane's max; aux = [outer, size, inner]",
        examples=(("torch.softmax(x, 1)", (2, 3)), ("x.softmax(-1)", (4,)),
                  ("torch.nn.functional.softmax(x, dim=1)", (2, 3, 4))))
declare(108, "log_softmax", "LogSoftmaxBackward0", REDUCE, saves=OUT,
        doc="x - logsumexp(x, dim) in one record; aux = [outer, size, inner]",
        examples=(("torch.log_softmax(x, 1)", (2, 3)), ("x.log_softmax(0)", (3, 2)),
                  ("torch.nn.functional.log_softmax(x, dim=1)", (2, 3, 4))))
@grad_of("softmax", "log_softmax")
def _softmax_grad(ctx):
    d = _lane_dim(ctx.shape(0), *ctx.params)
    y, g = ctx.out, ctx.g
    if ctx.spec.name == "softmax":
        return (y * (g - (g * y).sum(d, keepdim=True)),)
    return (g - y.exp() * g.sum(d, keepdim=True),)


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
@grad_of("mm", "mv", "dot", "vm", "mm_nt")
def _mm_grad(ctx):
    from ..linalg import linear

    (a, b, _), g, name = ctx.inputs, ctx.g, ctx.spec.name
    da, db = ctx.need[0], ctx.need[1]
    if name == "mm":  # g b^T (one mm_nt record), a^T g
        return linear(g, b) if da else None, a.t().mm(g) if db else None
    if name == "mm_nt":  # a (m, k) @ b.T, b stored (n, k)
        return g.mm(b) if da else None, g.t().mm(a) if db else None
    if name == "mv":
        return g.reshape(-1, 1) * b if da else None, g @ a if db else None
    if name == "dot":
        return g * b if da else None, g * a if db else None
    return b @ g if da else None, a.reshape(-1, 1) * g if db else None  # vm

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
@grad_of("bmm", "matmul_batched")
def _bmm_grad(ctx):  # per batch; a shared operand (batch stride 0) sums over the batch
    m, k, n, batch, sa, sb = ctx.params
    (a, b, _), g = ctx.inputs, ctx.g.reshape(batch, m, n)
    a3 = a.reshape(batch, m, k) if sa else a.reshape(m, k)
    b3 = b.reshape(batch, k, n) if sb else b.reshape(k, n)
    da = db = None
    if ctx.need[0]:
        da = g @ b3.transpose(-1, -2)
        da = (da if sa else da.sum(0)).reshape(a._shape)
    if ctx.need[1]:
        db = a3.transpose(-1, -2) @ g
        db = (db if sb else db.sum(0)).reshape(b._shape)
    return da, db


# ---- movement (squeeze keeps the elements in order: a COPY record; unsqueeze is STRIDED,
# as indexing with None records it after slices and selects) ------------------------------
declare(50, "view", "ViewBackward0", COPY, doc="reshape, view, flatten",
        examples=(("x.reshape(3, 2)", (2, 3)), ("x.view(-1)", (2, 3, 2)), ("x.flatten()", (2, 2)),
                  ("x.reshape(())", (1,))))
declare(51, "clone", "CloneBackward0", COPY, examples=(("x.clone()", (2, 3)),))
@grad_of("view", "clone", "squeeze", "squeeze_dim")
def _view_grad(ctx):
    shape = ctx.shape(0)
    return (ctx.g.reshape(shape) if ctx.g._shape != shape else ctx.g,)


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
@grad_of("cat", "stack")
def _cat_grad(ctx):
    outer, na, nb = ctx.params
    g = ctx.g.reshape(outer, na + nb)
    return (g[:, :na].reshape(ctx.shape(0)) if ctx.need[0] else None,
            g[:, na:].reshape(ctx.shape(1)) if ctx.need[1] else None)


declare(98, "alias", "AliasBackward0", STRIDED, doc="an index that selects everything: x[...]",
        examples=(("x[...]", (2, 3)), ("x[:, 0:3]", (2, 3))))
@grad_of("permute", "transpose", "t")
def _permute_grad(ctx):  # the inverse permutation
    _, out, st, _ = ctx.params
    shape = ctx.shape(0)
    cs = [math.prod(shape[j + 1:]) for j in range(len(shape))]
    inv, used = [0] * len(shape), set()
    for i in range(len(shape)):
        j = next(j for j in range(len(shape)) if j not in used and cs[j] == st[i]
                 and shape[j] == out[i])
        used.add(j)
        inv[j] = i
    return (ctx.g.permute(inv),)


@grad_of("unsqueeze", "alias")
def _unsqueeze_grad(ctx):
    shape = ctx.shape(0)
    if math.prod(ctx.shape(-1)) == math.prod(shape):  # None dims and full slices only
        return (ctx.g.reshape(shape),)
    # an index that also selects or slices (x[0, None], x[1:, None]) is one record named
    # after its last part, as PyTorch names it: every read element gets its gradient back
    _, it, st, base = ctx.params
    return (ctx.scatter(ctx.g, lambda: _positions(it, st, base), shape, (it, st, base, shape)),)


@grad_of("expand")
def _expand_grad(ctx):
    return (ctx.sum_to(ctx.g, 0),)


@grad_of("flip")
def _flip_grad(ctx):
    _, _, st, _ = ctx.params
    return (ctx.g.flip([d for d, s in enumerate(st) if s < 0]),)


def _positions(shape, strides, base):
    """Flat input position of each output element of a strided gather (C order)."""
    p = np.full(shape, base, np.int64)
    for d, (n, s) in enumerate(zip(shape, strides)):
        p += (np.arange(n, dtype=np.int64) * s).reshape((n,) + (1,) * (len(shape) - d - 1))
    return p.reshape(-1)


@grad_of("select", "slice", "repeat", "split", "split_with_sizes")
def _strided_grad(ctx):  # every read element gets its gradient back: a scatter-add
    _, it, st, base = ctx.params
    shape = ctx.shape(0)
    block = _block(tuple(it), tuple(st), base, tuple(shape))
    if block is not None:  # a contiguous block along one dim: zeros around g, concatenated
        d, start = block
        g = ctx.g if len(it) == len(shape) else ctx.g.unsqueeze(d)
        tg = _tg()
        before, after = start, shape[d] - start - g.shape[d]
        parts = ([tg.zeros(shape[:d] + (before,) + shape[d + 1:], dtype=ctx.dtype)]
                 if before else []) + [g]
        if after:
            parts.append(tg.zeros(shape[:d] + (after,) + shape[d + 1:], dtype=ctx.dtype))
        return (tg.cat(parts, d) if len(parts) > 1 else g,)
    return (ctx.scatter(ctx.g, lambda: _positions(it, st, base), shape, (it, st, base, shape)),)


def _block(it, st, base, shape):
    """(dim d, start) when a strided gather (output shape `it`, input strides `st`, offset
    `base`) reads the block [start, start + it[d]) of the input along d (a slice with step
    1, or a select: then `it` lacks d) and the whole input along every other dim; else
    None."""
    cs = [1] * len(shape)
    for j in range(len(shape) - 2, -1, -1):
        cs[j] = cs[j + 1] * shape[j + 1]
    for d in range(len(shape)):
        if cs[d] == 0 or base % cs[d] or not 0 <= base // cs[d] < shape[d]:
            continue
        rest_shape, rest_st = shape[:d] + shape[d + 1:], tuple(cs[:d] + cs[d + 1:])
        if len(it) == len(shape) - 1 and it == rest_shape and st == rest_st:
            return d, base // cs[d]  # a select
        if len(it) == len(shape) and st == tuple(cs) and it[:d] + it[d + 1:] == rest_shape \
                and base // cs[d] + it[d] <= shape[d]:
            return d, base // cs[d]
    return None


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
def _index_positions(ctx):
    """Flat positions in in0 that a gather by index read, one per output element."""
    p, idx = ctx.params, ctx.value(1).reshape(-1).astype(np.int64)
    if p[0] == 2:
        return idx
    if p[0] == 0:
        _, outer, n, inner, m = p
        o = np.arange(outer).reshape(-1, 1, 1) * n
        return ((o + idx.reshape(1, -1, 1)) * inner + np.arange(inner).reshape(1, 1, -1)).reshape(-1)
    _, nd, dim, shape, st = p
    coords = list(np.unravel_index(np.arange(idx.size), shape)) if nd else []
    if nd:
        coords[dim] = idx
    return sum((c * s for c, s in zip(coords, st)), np.zeros(idx.size, np.int64))


@grad_of("index_select", "gather", "index")
def _gather_grad(ctx):
    return ctx.scatter(ctx.g, _index_positions(ctx), ctx.shape(0)), None, None


@grad_of("index_put", "copy_slices")
def _put_grad(ctx):  # out = x with out[positions] = v (or += v)
    pos = ctx.value(1).reshape(-1).astype(np.int64)
    g, acc = ctx.g, ctx.params[1]
    gx = gv = None
    if ctx.need[0]:
        hit = np.zeros(g.numel(), np.bool_)
        hit[pos] = not acc
        gx = ctx.keep(g, ~hit.reshape(g._shape))
    if ctx.need[2]:
        idx = ctx.const(pos).to(_tg().int64)
        gv = g.reshape(-1)[idx]
        vshape = ctx.shape(2)
        gv = gv.reshape(vshape) if math.prod(vshape) == pos.size else gv.sum().reshape(vshape)
    return gx, None, gv


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
@grad_of("to_copy")
def _cast_grad(ctx):
    return (ctx.g.to(ctx.inputs[0]._dtype),)


del SCALAR, IN0, IN1
