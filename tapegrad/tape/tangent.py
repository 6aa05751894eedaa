"""The tangent sweep (forward mode): J t for a recorded tape, in one compiled pass.

After a forward sweep has put every value in the arena A, `tangent` walks the records in
order and writes each output's tangent into T, an arena of A's size with the same
offsets (the tangent of slot s lives at T[S[s, off]], as its value at A[...]). The
caller seeds the inputs' regions of T; the regions of values that require no grad stay
zero (T is allocated zero and never written there). Per family:

- elementwise (unary, binary, ternary): the generated `*_jvp` loops, which call each op's
  VJP kernel with an input's tangent in place of the output's adjoint (a VJP is linear in
  the adjoint, so that is the input's term of the output's tangent); no rule per op;
- the linear families (strided gathers, copies, joins, sums and means, cumsum, index
  gathers and puts): the forward kernel itself, run over T (indices read from A);
- matrix products: t_a @ b + a @ t_b.

Nonlinear reductions (prod, max, var, norm, softmax, ...), casts and Python backwards
have no tangent rule here: `supported` says so before a sweep, and tapegrad.func then
answers by the double-VJP way instead.

One arena: a tape of one float dtype (float64 tapes keep their index tensors in the same
arena, so index ops are in).
"""

import numpy as np
from numba import njit

from ..ops import BY_CODE
from ..ops.spec import (BINARY, COPY, INDEX, JOIN, LEAF, MATMUL, REDUCE, STRIDED, TERNARY,
                        UNARY)
from . import notice
from .dispatch import (FAMILY, OP_DETACH, OP_LEAF, binary_jvp, binary_vjp1, ternary_jvp,
                       unary_jvp, unary_vjp1)
from .kernels import BLAS_MIN, OP_MM_NT, _advance, _index, _join, _reduce, _strided, copy_into
from .records import (R_AUX, R_CONST, R_IN0, R_IN1, R_IN2, R_OP, R_OUT, S_FLAGS, S_NUMEL,
                      S_OFF, S_RG)
from .span import span, span2, unref

# the sweeps' stamp (tapegrad/tape/codegen.py rewrites it): a change of the kernels changes
# this file, so Numba recompiles it instead of loading it with the old kernels inside
DISPATCH_STAMP = "3b7087ce86755972"

# reductions whose tangent is the reduction of the tangent
_LINEAR_REDUCE = {s.opcode for s in BY_CODE.values() if s.family == REDUCE and
                  s.name in ("sum", "sum_dim", "mean", "mean_dim", "cumsum")}
_ELEMENTWISE = (UNARY, BINARY, TERNARY)  # they read need flags: an input without grad
_LINEAR = (STRIDED, COPY, JOIN, INDEX, MATMUL, REDUCE)  # they read T of every input


def supported(tape, rows):
    """None when `tangent` can run over the records `rows` (indices) of a one-dtype tape,
    else the name of the first op it cannot: a family without a rule, a nonlinear
    reduction, or a detached value read by a linear kernel (a detach shares its source's
    offset, so T there holds the source's tangent, not zero)."""
    R = tape.R
    detached = set()
    for k in rows.tolist():
        op = int(R[k, R_OP])
        fam = BY_CODE[op].family
        if op == OP_DETACH:
            detached.add(int(R[k, R_OUT]))
            continue
        if fam == LEAF:
            if op != OP_LEAF:
                return BY_CODE[op].name
            continue
        if fam not in _ELEMENTWISE and fam not in _LINEAR:
            return BY_CODE[op].name
        if fam == REDUCE and op not in _LINEAR_REDUCE:
            return BY_CODE[op].name
        if fam in _LINEAR and detached & {int(R[k, f]) for f in (R_IN0, R_IN1, R_IN2)}:
            return "detach"
    return None


@njit(cache=True, error_model="numpy")
def tangent(R, S, AUX, A, T, k0, k1):
    """Tangent sweep over records R[k0:k1] (see the module docstring); records whose
    output requires no grad are skipped (their tangent is zero)."""
    R, S, AUX, A, T = unref(R), unref(S), unref(AUX), unref(A), unref(T)
    RF = R.view(np.float64)
    for k in range(k0, k1):
        o = R[k, R_OUT]
        if not S[o, S_FLAGS] & S_RG:
            continue
        op = R[k, R_OP]
        fam = FAMILY[op]
        a, b, m = R[k, R_IN0], R[k, R_IN1], R[k, R_IN2]
        need_a = a >= 0 and S[a, S_FLAGS] & S_RG != 0
        need_b = b >= 0 and S[b, S_FLAGS] & S_RG != 0
        po, n = S[o, S_OFF], S[o, S_NUMEL]
        c = RF[k, R_CONST]
        if fam == UNARY:
            pa = S[a, S_OFF]
            if n == 1:
                T[po] = unary_vjp1(op, A[pa], A[po], T[pa], c, RF[k, R_AUX])
            else:
                unary_jvp(op, A, T, pa, po, n, c, RF[k, R_AUX])
        elif fam == BINARY:
            _binary_tangent(R, S, AUX, A, T, k, need_a, need_b)
        elif fam == TERNARY:
            sa = 1 if S[a, S_NUMEL] == n else 0
            sb = 1 if S[b, S_NUMEL] == n else 0
            sm = 1 if S[m, S_NUMEL] == n else 0
            ternary_jvp(op, A, T, S[a, S_OFF], sa, S[b, S_OFF], sb, S[m, S_OFF], sm, po, n, c,
                        need_a, need_b, m >= 0 and S[m, S_FLAGS] & S_RG != 0)
        elif fam == STRIDED:
            _strided(R, S, AUX, T, T, k, False)
        elif fam == COPY:
            pa = S[a, S_OFF]
            copy_into(span(T, po, n), span(T, pa, n), n)
        elif fam == JOIN:
            _join(R, S, AUX, T, T, k, False, need_a, need_b)
        elif fam == REDUCE:
            _reduce(R, S, AUX, T, T, k, False)
        elif fam == INDEX:
            _index(R, S, AUX, T, T, A, k, False, need_a, m >= 0)
        elif fam == MATMUL:
            _matmul_tangent(R, S, AUX, A, T, k, need_a, need_b)


@njit(error_model="numpy")
def _binary_tangent(R, S, AUX, A, T, k, need_a, need_b):
    """A binary record's tangent: as kernels._binary iterates (broadcasts by strides)."""
    op = R[k, R_OP]
    a, b, o = R[k, R_IN0], R[k, R_IN1], R[k, R_OUT]
    c = R.view(np.float64)[k, R_CONST]
    n = S[o, S_NUMEL]
    pa, pb, po = S[a, S_OFF], S[b, S_OFF], S[o, S_OFF]
    if n == 1:
        y, xa, xb = A[po], A[pa], A[pb]
        if need_a and need_b:
            T[po] = binary_vjp1(op, xa, xb, y, T[pa], c)[0] + \
                binary_vjp1(op, xa, xb, y, T[pb], c)[1]
        elif need_a:
            T[po] = binary_vjp1(op, xa, xb, y, T[pa], c)[0]
        else:
            T[po] = binary_vjp1(op, xa, xb, y, T[pb], c)[1]
        return
    x = R[k, R_AUX]
    if x < 0:  # same shapes, or one side a single element
        sa = 1 if S[a, S_NUMEL] == n else 0
        sb = 1 if S[b, S_NUMEL] == n else 0
        binary_jvp(op, A, T, pa, sa, pb, sb, po, n, c, need_a, need_b)
        return
    nd = AUX[x]
    shape = AUX[x + 1:x + 1 + nd]
    st_a = AUX[x + 1 + nd:x + 1 + 2 * nd]
    st_b = AUX[x + 1 + 2 * nd:x + 1 + 3 * nd]
    inner = shape[nd - 1]
    idx = np.zeros(nd, np.int64)
    qa, qb = pa, pb
    for run in range(n // inner if inner > 0 else 0):
        binary_jvp(op, A, T, qa, st_a[nd - 1], qb, st_b[nd - 1], po + run * inner, inner, c,
                   need_a, need_b)
        qa, qb = _advance(idx, shape, st_a, st_b, nd, qa, qb)


@njit(error_model="numpy")
def _matmul_tangent(R, S, AUX, A, T, k, need_a, need_b):
    """d(a @ b) = t_a @ b + a @ t_b, for every layout _matmul handles (aux = [m, k, n,
    batch, batch stride of a, of b]; mm_nt: b stored transposed, (n, k))."""
    x = R[k, R_AUX]
    m, kk, n, batch, sa, sb = AUX[x], AUX[x + 1], AUX[x + 2], AUX[x + 3], AUX[x + 4], AUX[x + 5]
    pa, pb, po = S[R[k, R_IN0], S_OFF], S[R[k, R_IN1], S_OFF], S[R[k, R_OUT], S_OFF]
    nt = R[k, R_OP] == OP_MM_NT
    for i in range(1 if nt else batch):
        qa, qb, qo = pa + i * sa, pb + i * sb, po + i * m * n
        out = span2(T, qo, m, n)
        out[:, :] = 0
        a, ta = span2(A, qa, m, kk), span2(T, qa, m, kk)
        if nt:  # b[p, j] is bt[j, p]
            bt, tbt = span2(A, qb, n, kk), span2(T, qb, n, kk)
            for r in range(m):
                for j in range(n):
                    acc = out[r, j]
                    for p in range(kk):
                        if need_a:
                            acc += ta[r, p] * bt[j, p]
                        if need_b:
                            acc += a[r, p] * tbt[j, p]
                    out[r, j] = acc
            continue
        b, tb = span2(A, qb, kk, n), span2(T, qb, kk, n)
        if m * kk * n >= BLAS_MIN:
            if need_a:
                out += np.dot(ta, b)
            if need_b:
                out += np.dot(a, tb)
            continue
        for r in range(m):
            for p in range(kk):
                if need_a:
                    t = ta[r, p]
                    for j in range(n):
                        out[r, j] += t * b[p, j]
                if need_b:
                    v = a[r, p]
                    for j in range(n):
                        out[r, j] += v * tb[p, j]


notice.watch(tangent)
