"""Contractions composed of recorded ops: einsum, tensordot, kron, diag_embed.

einsum contracts its operands left to right, two at a time, as one batched matmul each:
the labels of a pair split into batch (in both, still needed), contracted (in both, needed
no more), left-only and right-only; labels no later operand or the output uses are summed
out first. Gradients (and second derivatives) are those of permute, reshape, sum and matmul.
"""

import math

import numpy as np

from . import dtypes
from .composite import _long
from .recorder import check_tensor
from .tensor import Tensor, _dim, _from_array


def _diagonal_of(x: Tensor, labels: list, a: int, b: int):
    """x with its dims a < b (same label) replaced by their diagonal, placed at a."""
    n = x._shape[a]
    if x._shape[b] != n:
        raise RuntimeError(f"einsum(): subscript {labels[a]} is repeated for operand but the "
                           f"sizes don't match, {x._shape[b]} != {n}")
    moved = x.movedim((a, b), (-2, -1))
    flat = moved.reshape(moved._shape[:-2] + (n * n,))
    diag = flat.index_select(-1, _long(np.arange(n) * (n + 1)))
    return diag.movedim(-1, a), labels[:b] + labels[b + 1:]


def _parse(equation: str, operands):
    eq = equation.replace(" ", "")
    lhs, arrow, out = eq.partition("->")
    terms = lhs.split(",")
    if len(terms) != len(operands):
        which = "more" if len(operands) > len(terms) else "fewer"
        raise RuntimeError(f"einsum(): {which} operands were provided than specified in the "
                           f"equation")
    ell_nd = 0
    for i, (t, x) in enumerate(zip(terms, operands)):
        letters = len(t.replace("...", ""))
        if "..." in t:
            ell_nd = max(ell_nd, x.ndim - letters)
        elif letters != x.ndim:
            raise RuntimeError(f"einsum(): the number of subscripts in the equation ({letters}) "
                               f"does not match the number of dimensions ({x.ndim}) for "
                               f"operand {i} and no ellipsis was given")
    ell = [chr(0x2460 + i) for i in range(ell_nd)]  # labels no equation can contain
    labels = []
    for t, x in zip(terms, operands):
        pre, dots, post = t.partition("...")
        if any(not (c.isalpha()) for c in pre + post):
            raise RuntimeError(f"einsum(): invalid subscript given at index {eq.index(t)} in "
                               f"the equation string, subscripts must be in [a-zA-Z]")
        k = x.ndim - len(pre) - len(post)
        labels.append(list(pre) + (ell[ell_nd - k:] if dots else []) + list(post))
    if arrow:
        pre, dots, post = out.partition("...")
        output = list(pre) + (ell if dots else []) + list(post)
        seen = {c for ls in labels for c in ls}
        for c in output:
            if c not in seen:
                raise RuntimeError(f"einsum(): output subscript {c} does not appear in the "
                                   f"equation for any input operand")
            if output.count(c) > 1:
                raise RuntimeError(f"einsum(): output subscript {c} appears more than once in "
                                   f"the output")
    else:
        count = {}
        for ls in labels:
            for c in ls:
                count[c] = count.get(c, 0) + 1
        output = ell + sorted(c for c, n in count.items() if n == 1 and c not in ell)
    return labels, output


def _sum_out(x: Tensor, ls: list, keep: set):
    drop = [i for i, c in enumerate(ls) if c not in keep]
    if drop:
        x = x.sum(tuple(drop))
        ls = [c for c in ls if c in keep]
    return x, ls


def _pair(a: Tensor, la: list, b: Tensor, lb: list, keep: set):
    a, la = _sum_out(a, la, keep | set(lb))
    b, lb = _sum_out(b, lb, keep | set(la))
    batch = [c for c in la if c in lb and c in keep]
    con = [c for c in la if c in lb and c not in keep]
    left = [c for c in la if c not in lb]
    right = [c for c in lb if c not in la]
    for c in con:  # a size-1 contracted dim broadcasts against the other side
        i, j = la.index(c), lb.index(c)
        if a._shape[i] != b._shape[j]:
            if a._shape[i] == 1:
                a = a.expand(a._shape[:i] + (b._shape[j],) + a._shape[i + 1:])
            else:
                b = b.expand(b._shape[:j] + (a._shape[i],) + b._shape[j + 1:])
    sa = {c: a._shape[la.index(c)] for c in la}
    sb = {c: b._shape[lb.index(c)] for c in lb}
    a = a.permute(*[la.index(c) for c in batch + left + con])
    b = b.permute(*[lb.index(c) for c in batch + con + right])
    ba, bb = tuple(sa[c] for c in batch), tuple(sb[c] for c in batch)
    nl, nc, nr = (math.prod(sa[c] for c in left), math.prod(sa[c] for c in con),
                  math.prod(sb[c] for c in right))
    out = a.reshape(ba + (nl, nc)) @ b.reshape(bb + (nc, nr))
    bo = out._shape[:len(batch)]
    out = out.reshape(bo + tuple(sa[c] for c in left) + tuple(sb[c] for c in right))
    return out, batch + left + right


def einsum(equation: str, *operands) -> Tensor:
    """Einstein summation over the operands as `equation` ('ij,jk->ik', '...ij->...ji',
    'ii->i', implicit output when '->' is absent); size-1 dims broadcast."""
    if len(operands) == 1 and isinstance(operands[0], (list, tuple)):
        operands = tuple(operands[0])
    if not isinstance(equation, str):
        raise TypeError(f"einsum(): argument 'equation' must be str, not "
                        f"{type(equation).__name__}")
    for i, x in enumerate(operands):
        check_tensor(x, "einsum", f"operands[{i}]")
    labels, output = _parse(equation, operands)
    xs = list(operands)
    for k in range(len(xs)):  # repeated labels within one operand: take the diagonal
        ls = labels[k]
        while len(set(ls)) < len(ls):
            a = next(i for i, c in enumerate(ls) if ls.index(c) != i)
            xs[k], ls = _diagonal_of(xs[k], ls, ls.index(ls[a]), a)
        labels[k] = ls
    sizes = {}
    for k, (x, ls) in enumerate(zip(xs, labels)):
        for c, n in zip(ls, x._shape):
            if sizes.get(c, 1) not in (1, n) and n != 1:
                raise RuntimeError(f"einsum(): subscript {c} has size {n} for operand {k} "
                                   f"which does not broadcast with previously seen size "
                                   f"{sizes[c]}")
            sizes[c] = max(sizes.get(c, 1), n)
    x, lx = xs[0], labels[0]
    for k in range(1, len(xs)):
        keep = set(output).union(*map(set, labels[k + 1:]))
        x, lx = _pair(x, lx, xs[k], labels[k], keep)
    x, lx = _sum_out(x, lx, set(output))
    x = x.permute(*[lx.index(c) for c in output]) if lx else x
    shape = tuple(sizes[c] for c in output)
    return x if x._shape == shape else x.expand(*shape)


def tensordot(a: Tensor, b: Tensor,
              dims: int | tuple[list[int], list[int]] | list[list[int]] = 2) -> Tensor:

    """Sum of products over the last `dims` dims of a and the first of b, or over the dims
    listed as dims = (dims_a, dims_b)."""
    check_tensor(a, "tensordot", "a")
    check_tensor(b, "tensordot", "b")
    if isinstance(dims, Tensor):
        dims = dims.tolist()
    if isinstance(dims, int):
        if dims < 0:
            raise RuntimeError(f"tensordot expects dims >= 0, but got dims={dims}")
        da, db = list(range(a.ndim - dims, a.ndim)), list(range(dims))
    else:
        da, db = ([d] if isinstance(d, int) else list(d) for d in dims)
    if len(da) != len(db):
        raise RuntimeError(f"both dimension lists should have same length (got {len(da)} and "
                           f"{len(db)})")
    da = [_dim(d, a.ndim, "tensordot") for d in da]
    db = [_dim(d, b.ndim, "tensordot") for d in db]
    for i, j in zip(da, db):
        if a._shape[i] != b._shape[j]:
            raise RuntimeError(f"contracted dimensions need to match, but first has size "
                               f"{a._shape[i]} in dim {i} and second has size {b._shape[j]} "
                               f"in dim {j}")
    fa = [i for i in range(a.ndim) if i not in da]
    fb = [j for j in range(b.ndim) if j not in db]
    nc = math.prod(a._shape[i] for i in da)
    am = a.permute(*(fa + da)).reshape(math.prod(a._shape[i] for i in fa), nc)
    bm = b.permute(*(db + fb)).reshape(nc, math.prod(b._shape[j] for j in fb))
    return (am @ bm).reshape(tuple(a._shape[i] for i in fa) + tuple(b._shape[j] for j in fb))


def kron(input: Tensor, other: Tensor) -> Tensor:
    """Kronecker product: blocks input[i] * other, for any ranks (missing dims are 1)."""
    check_tensor(input, "kron")
    check_tensor(other, "kron", "other")
    nd = max(input.ndim, other.ndim)
    sa = (1,) * (nd - input.ndim) + input._shape
    sb = (1,) * (nd - other.ndim) + other._shape
    a = input.reshape(tuple(x for n in sa for x in (n, 1)))
    b = other.reshape(tuple(x for n in sb for x in (1, n)))
    return (a * b).reshape(tuple(p * q for p, q in zip(sa, sb)))


def diag_embed(input: Tensor, offset: int = 0, dim1: int = -2, dim2: int = -1) -> Tensor:
    """Tensor whose (dim1, dim2) planes hold the last dim of input on their offset diagonal
    (zeros elsewhere)."""
    from .movement import cat

    check_tensor(input, "diag_embed")
    nd = input.ndim + 1
    d1, d2 = _dim(dim1, nd, "diag_embed"), _dim(dim2, nd, "diag_embed")
    if d1 == d2:
        raise RuntimeError(f"diagonal dimensions cannot be identical {dim1}, {dim2}")
    x = input.reshape(1) if input.ndim == 0 else input
    n, batch, k = x._shape[-1], x._shape[:-1], abs(offset)
    eye = _from_array(~np.eye(n, dtype=bool), dtypes.bool_, False)
    m = x.unsqueeze(-1).expand(*(batch + (n, n)))
    m = m.masked_fill(eye, 0)
    if k:
        z = _from_array(np.zeros(batch + (n, k), x._dtype.np), x._dtype, False)
        m = cat([z, m] if offset > 0 else [m, z], -1)
        z = _from_array(np.zeros(batch + (k, n + k), x._dtype.np), x._dtype, False)
        m = cat([m, z] if offset > 0 else [z, m], -2)
    if (d1, d2) == (nd - 2, nd - 1):
        return m
    return m.movedim((-2, -1), (d1, d2))


def _bind() -> None:
    Tensor.kron, Tensor.diag_embed = kron, diag_embed


_bind()
