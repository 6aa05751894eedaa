"""The compiled code that walks the tape: record, forward sweep, reverse sweep, compaction.

Every function here takes the tape's tables as plain arrays: R (records, int64 (n, 9)),
S (slots, int64 (n, 8)), AUX (int64 pool: header counters, interned shapes and op
parameters), the value arenas A32/A64 and the adjoint arenas G32/G64. Errors leave as
status codes; Python formats the messages. Family kernels are the only loop bodies
besides the generated elementwise switches in dispatch.py.
"""

import numpy as np
from numba import njit

from ..ops.spec import (BINARY, CAST, COPY, INDEX, JOIN, LEAF, MATMUL, REDUCE, STRIDED, TERNARY,
                        UNARY)
from .dispatch import (FAMILY, SAVES, binary_fwd, binary_vjp, binary_vjp1, ternary_fwd,
                       ternary_vjp, unary_fwd, unary_vjp, unary_vjp1)
from .records import (DT_F32, ERR_FREED, ERR_VERSION, OK, R_AUX, R_CONST, R_FLAGS, R_FREED,
                      R_IN0, R_IN1, R_IN2, R_OP, R_OUT, R_SAVES, R_SAVES_IN0, R_SAVES_IN1,
                      R_SAVES_IN2, R_SAVES_OUT, R_SEQ, S_DTYPE, S_FLAGS, S_LEAF, S_NDIM, S_NUMEL, S_OFF,
                      S_REC, S_RETAIN, S_RG, S_SHAPE, S_VER)

# Every kernel uses error_model="numpy": x / 0 is inf or nan as IEEE (and PyTorch) say,
# never a ZeroDivisionError. codegen rewrites the stamp line below; a change there
# invalidates Numba's cache of this file.
DISPATCH_STAMP = "d5b187748cde7ce5"

# ---- AUX header: the tape's counters live in the first words of the aux pool ---------
H_NREC, H_NSLOT, H_TOP32, H_TOP64, H_NAUX, H_SEQ, H_MARK_LO, H_MARK_HI = range(8)
AUX_HEADER = 8
BLAS_MIN = 1 << 14  # m*k*n from which a matmul goes to BLAS instead of the loops
KEEP_ROW, KEEP_VALUE = 1, 2  # compaction marks: keep the slot row / also its value


# ---- strided iteration (broadcasting, reductions, permutes) ---------------------------
@njit(inline="always", error_model="numpy")
def _advance(idx, shape, st1, st2, nd, p1, p2):
    """Step an N-d index over all dims but the last; returns the two moved offsets."""
    d = nd - 2
    while d >= 0:
        idx[d] += 1
        p1 += st1[d]
        p2 += st2[d]
        if idx[d] < shape[d]:
            return p1, p2
        p1 -= st1[d] * shape[d]
        p2 -= st2[d] * shape[d]
        idx[d] = 0
        d -= 1
    return p1, p2


@njit(error_model="numpy")
def _binary(R, S, AUX, A, G, k, backward, need_a, need_b):
    op = R[k, R_OP]
    a, b, o = R[k, R_IN0], R[k, R_IN1], R[k, R_OUT]
    c = R.view(np.float64)[k, R_CONST]
    n = S[o, S_NUMEL]
    pa, pb, po = S[a, S_OFF], S[b, S_OFF], S[o, S_OFF]
    x = R[k, R_AUX]
    if x < 0:  # same shapes, or one side a single element
        sa = 1 if S[a, S_NUMEL] == n else 0
        sb = 1 if S[b, S_NUMEL] == n else 0
        if backward:
            binary_vjp(op, A, G, pa, sa, pb, sb, po, n, c, need_a, need_b)
        else:
            binary_fwd(op, A, pa, sa, pb, sb, po, n, c)
        return
    nd = AUX[x]  # aux = [nd, out shape, a strides, b strides]
    shape = AUX[x + 1:x + 1 + nd]
    st_a = AUX[x + 1 + nd:x + 1 + 2 * nd]
    st_b = AUX[x + 1 + 2 * nd:x + 1 + 3 * nd]
    inner = shape[nd - 1]
    idx = np.zeros(nd, np.int64)
    qa, qb = pa, pb
    for run in range(n // inner if inner > 0 else 0):
        if backward:
            binary_vjp(op, A, G, qa, st_a[nd - 1], qb, st_b[nd - 1], po + run * inner, inner, c,
                       need_a, need_b)
        else:
            binary_fwd(op, A, qa, st_a[nd - 1], qb, st_b[nd - 1], po + run * inner, inner, c)
        qa, qb = _advance(idx, shape, st_a, st_b, nd, qa, qb)


# reduce opcodes (tapegrad/ops/structural.py): the kernel's sub-switch
OP_SUM, OP_SUM_DIM, OP_MEAN, OP_MEAN_DIM, OP_PROD, OP_PROD_DIM = 30, 31, 32, 33, 34, 35
OP_AMAX, OP_AMIN, OP_MAX, OP_MIN, OP_MAX_DIM, OP_MIN_DIM = 36, 37, 38, 39, 100, 101
OP_VAR, OP_STD, OP_NORM, OP_LOGSUMEXP, OP_CUMSUM = 102, 103, 104, 105, 106


@njit(error_model="numpy")
def _outmap(AUX, x, n):
    """Output index of each input element; aux = [nd, in shape, out strides (0 on reduced
    dims)]. For x < 0, a reduction over everything, every element maps to 0: no map."""
    om = np.zeros(n if x >= 0 else 0, np.int64)
    if x < 0:
        return om
    nd = AUX[x]
    shape = AUX[x + 1:x + 1 + nd]
    st = AUX[x + 1 + nd:x + 1 + 2 * nd]
    idx = np.zeros(nd, np.int64)
    j = 0
    for i in range(n):
        om[i] = j
        d = nd - 1
        while d >= 0:  # next C-order index; j moves by the output strides
            idx[d] += 1
            j += st[d]
            if idx[d] < shape[d]:
                break
            j -= st[d] * shape[d]
            idx[d] = 0
            d -= 1
    return om


@njit(inline="always", error_model="numpy")
def _oi(om, i, dimred):
    return om[i] if dimred else 0


@njit(error_model="numpy")
def _reduce(R, S, AUX, A, G, k, backward):
    """Reductions over dims: sum, mean, prod, amax/amin, max/min, var, std, norm,
    logsumexp (and cumsum, a scan). Accumulates in float64 scratch per output."""
    op = R[k, R_OP]
    if op == OP_CUMSUM:
        _cumsum(R, S, AUX, A, G, k, backward)
        return
    a, o = R[k, R_IN0], R[k, R_OUT]
    pa, po = S[a, S_OFF], S[o, S_OFF]
    n, m = S[a, S_NUMEL], S[o, S_NUMEL]
    c = R.view(np.float64)[k, R_CONST]
    om = _outmap(AUX, R[k, R_AUX], n)
    dimred = R[k, R_AUX] >= 0
    per = n // m if m > 0 else 0  # input elements per output
    acc = np.zeros(0 if backward else m)  # scratch arrays are sized only where used
    if op == OP_PROD or op == OP_PROD_DIM:
        acc[:] = 1.0
    elif op in (OP_AMAX, OP_MAX, OP_MAX_DIM, OP_LOGSUMEXP) or (op == OP_NORM and c == np.inf):
        acc[:] = -np.inf
    elif op in (OP_AMIN, OP_MIN, OP_MIN_DIM):
        acc[:] = np.inf
    mean = np.zeros(m if op == OP_VAR or op == OP_STD else 0)
    if op == OP_VAR or op == OP_STD:
        for i in range(n):
            mean[_oi(om, i, dimred)] += A[pa + i]
        for j in range(m):
            mean[j] /= per
    if not backward:
        for i in range(n):
            v = np.float64(A[pa + i])
            j = _oi(om, i, dimred)
            if op <= OP_MEAN_DIM:
                acc[j] += v
            elif op == OP_PROD or op == OP_PROD_DIM:
                acc[j] *= v
            elif op in (OP_AMAX, OP_MAX, OP_MAX_DIM, OP_LOGSUMEXP):
                if v > acc[j] or v != v:
                    acc[j] = v if acc[j] == acc[j] else acc[j]
            elif op in (OP_AMIN, OP_MIN, OP_MIN_DIM):
                if v < acc[j] or v != v:
                    acc[j] = v if acc[j] == acc[j] else acc[j]
            elif op == OP_VAR or op == OP_STD:
                acc[j] += (v - mean[j]) ** 2
            elif op == OP_NORM:
                if c == np.inf:
                    acc[j] = max(acc[j], abs(v)) if v == v else v
                elif c == 2:
                    acc[j] += v * v
                else:
                    acc[j] += abs(v) ** c
        if op == OP_LOGSUMEXP:  # m + log(sum exp(x - m)), m the max (0 when not finite)
            s = np.zeros(m)
            for i in range(n):
                j = _oi(om, i, dimred)
                mj = acc[j] if np.isfinite(acc[j]) else 0.0
                s[j] += np.exp(A[pa + i] - mj)
            for j in range(m):
                mj = acc[j] if np.isfinite(acc[j]) else 0.0
                acc[j] = mj + np.log(s[j])
        for j in range(m):
            v = acc[j]
            if op == OP_MEAN or op == OP_MEAN_DIM:
                v = v / per if per > 0 else np.nan
            elif op == OP_VAR:
                v = v / (per - c)
            elif op == OP_STD:
                v = np.sqrt(v / (per - c))
            elif op == OP_NORM and c != np.inf:
                v = np.sqrt(v) if c == 2 else v ** (1.0 / c)
            A[po + j] = v
        return
    # ---- reverse: each input element gets its share of its output's adjoint ----
    ties = op in (OP_AMAX, OP_AMIN, OP_MAX, OP_MIN) or (op == OP_NORM and c == np.inf)
    prod = op == OP_PROD or op == OP_PROD_DIM
    cnt = np.zeros(m if ties or prod else 0)  # ties (amax, max(), norm inf) or zeros (prod)
    if ties:
        for i in range(n):
            v = abs(A[pa + i]) if op == OP_NORM else A[pa + i]
            if v == A[po + _oi(om, i, dimred)]:
                cnt[_oi(om, i, dimred)] += 1
    nz = np.ones(m if prod else 0)  # prod: product of the nonzero elements; cnt: zeros
    if prod:
        for i in range(n):
            v = A[pa + i]
            if v == 0:
                cnt[_oi(om, i, dimred)] += 1
            else:
                nz[_oi(om, i, dimred)] *= v
    taken = np.zeros(m if op == OP_MAX_DIM or op == OP_MIN_DIM else 0, np.bool_)
    for i in range(n):
        j = _oi(om, i, dimred)
        g = G[po + j]
        x = A[pa + i]
        y = A[po + j]
        if op <= OP_SUM_DIM:
            d = g
        elif op <= OP_MEAN_DIM:
            d = g / per
        elif op <= OP_PROD_DIM:  # zeros: only a lone zero gets the product of the rest
            if cnt[j] == 0:
                d = g * nz[j] / x
            elif cnt[j] == 1 and x == 0:
                d = g * nz[j]
            else:
                d = 0.0
        elif op <= OP_MIN:  # amax, amin, max(), min(): ties share evenly (PyTorch)
            d = g / cnt[j] if x == y else 0.0
        elif op == OP_MAX_DIM or op == OP_MIN_DIM:
            d = 0.0
            if x == y and not taken[j]:
                d = g
                taken[j] = True
        elif op == OP_VAR:
            d = g * 2 * (x - mean[j]) / (per - c)
        elif op == OP_STD:  # zero where the std is 0 (PyTorch masks it)
            d = g * (x - mean[j]) / ((per - c) * y) if y != 0 else 0.0
        elif op == OP_NORM:
            if c == np.inf:
                d = g * np.sign(x) / cnt[j] if abs(x) == y else 0.0
            elif c == 2:
                d = g * x / y if y != 0 else 0.0
            elif c == 1:
                d = g * np.sign(x)
            else:
                d = g * np.sign(x) * abs(x) ** (c - 1) / y ** (c - 1) if y != 0 else 0.0
        else:  # logsumexp
            d = g * np.exp(x - y)
        G[pa + i] += d


@njit(error_model="numpy")
def _cumsum(R, S, AUX, A, G, k, backward):
    """Running sum along one dim; aux = [stride of the dim, its size]."""
    x = R[k, R_AUX]
    st, size = AUX[x], AUX[x + 1]
    pa, po, n = S[R[k, R_IN0], S_OFF], S[R[k, R_OUT], S_OFF], S[R[k, R_OUT], S_NUMEL]
    if not backward:
        for i in range(n):  # C order: the predecessor along the dim is already done
            A[po + i] = A[pa + i] + (A[po + i - st] if (i // st) % size > 0 else 0)
        return
    run = np.zeros(n)  # reverse cumsum of the adjoint
    for i in range(n - 1, -1, -1):
        run[i] = G[po + i] + (run[i + st] if (i // st) % size < size - 1 else 0.0)
        G[pa + i] += run[i]


@njit(error_model="numpy")
def _matmul(R, S, AUX, A, G, k, backward, need_a, need_b):
    """out (m, n) = in0 (m, k) @ in1 (k, n), `batch` times; aux = [m, k, n, batch, batch
    stride of in0, of in1] (a stride 0 shares that operand across the batch): mm, mv, dot,
    vector @ matrix, bmm and batched matmul alike."""
    x = R[k, R_AUX]
    m, kk, n, batch, sa, sb = AUX[x], AUX[x + 1], AUX[x + 2], AUX[x + 3], AUX[x + 4], AUX[x + 5]
    pa, pb, po = S[R[k, R_IN0], S_OFF], S[R[k, R_IN1], S_OFF], S[R[k, R_OUT], S_OFF]
    for i in range(batch):
        _mm(A, G, pa + i * sa, pb + i * sb, po + i * m * n, m, kk, n, backward, need_a, need_b)


@njit(error_model="numpy")
def _mm(A, G, pa, pb, po, m, kk, n, backward, need_a, need_b):
    a = A[pa:pa + m * kk].reshape((m, kk))
    b = A[pb:pb + kk * n].reshape((kk, n))
    if not backward:
        out = A[po:po + m * n].reshape((m, n))
        if m * kk * n >= BLAS_MIN:
            np.dot(a, b, out)
        else:
            out[:, :] = 0
            for i in range(m):
                for p in range(kk):
                    aip = a[i, p]
                    for j in range(n):
                        out[i, j] += aip * b[p, j]
        return
    g = G[po:po + m * n].reshape((m, n))
    ga = G[pa:pa + m * kk].reshape((m, kk))
    gb = G[pb:pb + kk * n].reshape((kk, n))
    if m * kk * n >= BLAS_MIN:
        if need_a:
            ga += np.dot(g, b.T)
        if need_b:
            gb += np.dot(a.T, g)
        return
    for i in range(m):
        for p in range(kk):
            aip = a[i, p]
            acc = ga[i, p] * 0
            for j in range(n):
                acc += g[i, j] * b[p, j]
                if need_b:
                    gb[p, j] += aip * g[i, j]
            if need_a:
                ga[i, p] += acc


@njit(error_model="numpy")
def _strided(R, S, AUX, A, G, k, backward):
    """out[j] = in[base + sum_d j_d * stride_d]; aux = [nd, shape, in strides, base], the
    shape the output is iterated in (C order) and the input's strides along it: permutes,
    slices, select, expand (stride 0: the VJP's += sums the copies), flip (negative)."""
    x = R[k, R_AUX]
    po = S[R[k, R_OUT], S_OFF]
    n = S[R[k, R_OUT], S_NUMEL]
    nd = AUX[x]
    shape = AUX[x + 1:x + 1 + nd]
    st = AUX[x + 1 + nd:x + 1 + 2 * nd]
    pa = S[R[k, R_IN0], S_OFF] + AUX[x + 1 + 2 * nd]
    inner = shape[nd - 1]
    si = st[nd - 1]
    idx = np.zeros(nd, np.int64)
    qi = pa
    for run in range(n // inner if inner > 0 else 0):
        qo = po + run * inner  # the output is contiguous
        if backward:
            for i in range(inner):
                G[qi + i * si] += G[qo + i]
        else:
            for i in range(inner):
                A[qo + i] = A[qi + i * si]
        qi, _ = _advance(idx, shape, st, st, nd, qi, qi)


@njit(error_model="numpy")
def _join(R, S, AUX, A, G, k, backward, need_a, need_b):
    """out = [a, b] along a dim: `outer` blocks, each an a-block then a b-block."""
    x = R[k, R_AUX]
    outer, na, nb = AUX[x], AUX[x + 1], AUX[x + 2]
    pa, pb, po = S[R[k, R_IN0], S_OFF], S[R[k, R_IN1], S_OFF], S[R[k, R_OUT], S_OFF]
    for r in range(outer):
        q = po + r * (na + nb)
        for i in range(na):
            if backward:
                if need_a:
                    G[pa + r * na + i] += G[q + i]
            else:
                A[q + i] = A[pa + r * na + i]
        for i in range(nb):
            if backward:
                if need_b:
                    G[pb + r * nb + i] += G[q + na + i]
            else:
                A[q + na + i] = A[pb + r * nb + i]


@njit(inline="always", error_model="numpy")  # inlined: halves the per-record cost
def _step(R, S, AUX, A, G, k, backward, need_a, need_b):
    """Forward (G unused) or reverse step of record k, all of whose slots are in arena A."""
    fam = FAMILY[R[k, R_OP]]
    a, o = R[k, R_IN0], R[k, R_OUT]
    po, n = S[o, S_OFF], S[o, S_NUMEL]
    if fam == UNARY:
        RF = R.view(np.float64)  # unary records keep a second float parameter in `aux`
        c, c2 = RF[k, R_CONST], RF[k, R_AUX]
        if backward:
            unary_vjp(R[k, R_OP], A, G, S[a, S_OFF], po, n, c, c2)
        else:
            unary_fwd(R[k, R_OP], A, S[a, S_OFF], po, n, c, c2)
    elif fam == BINARY:
        _binary(R, S, AUX, A, G, k, backward, need_a, need_b)
    elif fam == REDUCE:
        _reduce(R, S, AUX, A, G, k, backward)
    elif fam == MATMUL:
        _matmul(R, S, AUX, A, G, k, backward, need_a, need_b)
    elif fam == STRIDED:
        _strided(R, S, AUX, A, G, k, backward)
    elif fam == JOIN:
        _join(R, S, AUX, A, G, k, backward, need_a, need_b)
    elif fam == COPY:
        pa = S[a, S_OFF]
        if backward:
            for i in range(n):
                G[pa + i] += G[po + i]
        else:
            for i in range(n):
                A[po + i] = A[pa + i]


@njit(error_model="numpy")
def _cast(R, S, Ain, Aout, Gin, Gout, k, backward):
    pa, po, n = S[R[k, R_IN0], S_OFF], S[R[k, R_OUT], S_OFF], S[R[k, R_OUT], S_NUMEL]
    for i in range(n):
        if backward:
            Gin[pa + i] += Gout[po + i]
        else:
            Aout[po + i] = Ain[pa + i]


@njit(inline="always", error_model="numpy")
def _sweep_one(R, S, AUX, A32, A64, G32, G64, k, backward, need_a, need_b, need_m):
    """One record in either arena (casts read one arena and write the other)."""
    fam = FAMILY[R[k, R_OP]]
    if fam == LEAF:
        return
    out_f32 = S[R[k, R_OUT], S_DTYPE] == DT_F32
    if fam == CAST:
        if out_f32:
            _cast(R, S, A64, A32, G64, G32, k, backward)
        else:
            _cast(R, S, A32, A64, G32, G64, k, backward)
    elif fam == INDEX:  # indices (in1) live in the float64 arena
        if out_f32:
            _index(R, S, AUX, A32, G32, A64, k, backward, need_a, need_m)
        else:
            _index(R, S, AUX, A64, G64, A64, k, backward, need_a, need_m)
    elif fam == TERNARY:
        if out_f32:
            _ternary(R, S, A32, G32, k, backward, need_a, need_b, need_m)
        else:
            _ternary(R, S, A64, G64, k, backward, need_a, need_b, need_m)
    elif out_f32:
        _step(R, S, AUX, A32, G32, k, backward, need_a, need_b)
    else:
        _step(R, S, AUX, A64, G64, k, backward, need_a, need_b)


@njit(error_model="numpy")
def _ternary(R, S, A, G, k, backward, need_a, need_b, need_m):
    """y = f(a, b, m): each input has the output's size or one element (stride 0)."""
    o = R[k, R_OUT]
    n = S[o, S_NUMEL]
    a, b, m = R[k, R_IN0], R[k, R_IN1], R[k, R_IN2]
    sa = 1 if S[a, S_NUMEL] == n else 0
    sb = 1 if S[b, S_NUMEL] == n else 0
    sm = 1 if S[m, S_NUMEL] == n else 0
    c = R.view(np.float64)[k, R_CONST]
    if backward:
        ternary_vjp(R[k, R_OP], A, G, S[a, S_OFF], sa, S[b, S_OFF], sb, S[m, S_OFF], sm,
                    S[o, S_OFF], n, c, need_a, need_b, need_m)
    else:
        ternary_fwd(R[k, R_OP], A, S[a, S_OFF], sa, S[b, S_OFF], sb, S[m, S_OFF], sm,
                    S[o, S_OFF], n, c)


@njit(error_model="numpy")
def _index(R, S, AUX, A, G, AI, k, backward, need_x, need_v):
    """By an index tensor in1 (exact integers in the float64 arena AI); aux[0] the layout:
    0 [0, outer, n, inner, m]: out[o, j, i] = x[o, idx[j], i] (index_select, x[idx]);
    1 [1, nd, dim, out shape, x strides]: out[p] = x[p with dim replaced by idx[p]] (gather);
    2 [2]: out[p] = x[idx[p]], idx flat positions (any mix of indices);
    3 [3, accumulate]: out = x, then out[idx[j]] = v[j], or += with accumulate (v = in2:
       one element, or one per position; the last write wins, as a sequential loop does).
    The VJP of a gather adds each output's adjoint to the element it read; of a put, v
    gets the adjoint at the positions and x the adjoint (outside them unless accumulate)."""
    x = R[k, R_AUX]
    px, pi, po = S[R[k, R_IN0], S_OFF], S[R[k, R_IN1], S_OFF], S[R[k, R_OUT], S_OFF]
    n_out = S[R[k, R_OUT], S_NUMEL]
    if AUX[x] == 2:
        for p in range(n_out):
            if backward:
                G[px + np.int64(AI[pi + p])] += G[po + p]
            else:
                A[po + p] = A[px + np.int64(AI[pi + p])]
        return
    if AUX[x] == 3:
        v = R[k, R_IN2]
        pv, m = S[v, S_OFF], S[R[k, R_IN1], S_NUMEL]
        sv = 1 if S[v, S_NUMEL] == m else 0
        acc = AUX[x + 1] != 0
        if not backward:
            for i in range(n_out):
                A[po + i] = A[px + i]
            for j in range(m):
                if acc:
                    A[po + np.int64(AI[pi + j])] += A[pv + j * sv]
                else:
                    A[po + np.int64(AI[pi + j])] = A[pv + j * sv]
            return
        if need_v:
            for j in range(m):
                G[pv + j * sv] += G[po + np.int64(AI[pi + j])]
        if need_x:
            hit = np.zeros(n_out, np.bool_)
            for j in range(m):
                hit[np.int64(AI[pi + j])] = not acc
            for i in range(n_out):
                if not hit[i]:
                    G[px + i] += G[po + i]
        return
    if AUX[x] == 0:
        outer, n, inner, m = AUX[x + 1], AUX[x + 2], AUX[x + 3], AUX[x + 4]
        for o in range(outer):
            for j in range(m):
                src = px + (o * n + np.int64(AI[pi + j])) * inner
                dst = po + (o * m + j) * inner
                for i in range(inner):
                    if backward:
                        G[src + i] += G[dst + i]
                    else:
                        A[dst + i] = A[src + i]
        return
    nd, dim = AUX[x + 1], AUX[x + 2]
    shape = AUX[x + 3:x + 3 + nd]
    st = AUX[x + 3 + nd:x + 3 + 2 * nd]
    for p in range(n_out):
        rest, src = p, px
        for d in range(nd - 1, -1, -1):
            c = rest % shape[d]
            rest //= shape[d]
            src += (np.int64(AI[pi + p]) if d == dim else c) * st[d]
        if backward:
            G[src] += G[po + p]
        else:
            A[po + p] = A[src]


# ---- entry points --------------------------------------------------------------------
@njit(inline="always", error_model="numpy")
def _append(R, S, AUX, cap, op, in0, in1, aux, c, shape, dtype, sflags):
    """Append a record and its output slot (arena capacity `cap`); the new record's index,
    or -1 when a table or the arena is full (nothing is written then)."""
    nrec, nslot = AUX[H_NREC], AUX[H_NSLOT]
    if nrec >= R.shape[0] or nslot >= S.shape[0]:
        return -1
    if shape < 0:
        shape = S[in0, S_SHAPE]
    nd = AUX[shape]
    numel = 1
    for d in range(nd):
        numel *= AUX[shape + 1 + d]
    top = AUX[H_TOP32 + dtype]
    if top + numel > cap:
        return -1
    S[nslot, S_OFF] = top
    S[nslot, S_NUMEL] = numel
    S[nslot, S_NDIM] = nd
    S[nslot, S_SHAPE] = shape
    S[nslot, S_DTYPE] = dtype
    S[nslot, S_REC] = nrec
    S[nslot, S_FLAGS] = sflags
    S[nslot, S_VER] = 0
    R[nrec, R_OP] = op
    R[nrec, R_FLAGS] = SAVES[op]
    R[nrec, R_OUT] = nslot
    R[nrec, R_IN0] = in0
    R[nrec, R_IN1] = in1
    R[nrec, R_AUX] = aux
    R.view(np.float64)[nrec, R_CONST] = c
    R[nrec, R_SEQ] = AUX[H_SEQ]
    R[nrec, R_IN2] = -1
    AUX[H_NREC] = nrec + 1
    AUX[H_NSLOT] = nslot + 1
    AUX[H_TOP32 + dtype] = top + numel
    AUX[H_SEQ] += 1
    return nrec


@njit(cache=True, error_model="numpy")
def record(R, S, AUX, A, op, in0, in1, aux, c, shape, dtype, sflags):
    """Append one record and its output slot, then run its forward kernel.

    `shape` is an aux offset ([nd, dims...]) or -1 for in0's shape. Returns the output
    slot, or -1 when a table or the arena is full (nothing is written then)."""
    k = _append(R, S, AUX, A.shape[0], op, in0, in1, aux, c, shape, dtype, sflags)
    if k < 0:
        return -1
    if op != 0:
        _step(R, S, AUX, A, A, k, False, False, False)
    return R[k, R_OUT]


@njit(cache=True, error_model="numpy")
def record_wide(R, S, AUX, A32, A64, op, in0, in1, in2, aux, c, shape, dtype, sflags):
    """`record` for the INDEX and TERNARY families: a third input in2, and both arenas
    (an index lives in the float64 arena whatever the data's dtype)."""
    cap = A32.shape[0] if dtype == DT_F32 else A64.shape[0]
    k = _append(R, S, AUX, cap, op, in0, in1, aux, c, shape, dtype, sflags)
    if k < 0:
        return -1
    R[k, R_IN2] = in2
    if FAMILY[op] == INDEX:  # not _sweep_one: compiling every family again costs seconds
        if dtype == DT_F32:
            _index(R, S, AUX, A32, A32, A64, k, False, False, False)
        else:
            _index(R, S, AUX, A64, A64, A64, k, False, False, False)
    elif dtype == DT_F32:
        _ternary(R, S, A32, A32, k, False, False, False, False)
    else:
        _ternary(R, S, A64, A64, k, False, False, False, False)
    return R[k, R_OUT]


@njit(cache=True, error_model="numpy")
def record_cast(R, S, AUX, A32, A64, in0, dtype, sflags, rflags):
    """Append a float32 <-> float64 copy of slot in0 (ToCopyBackward0); -1 if full."""
    cap = A32.shape[0] if dtype == DT_F32 else A64.shape[0]
    nrec, nslot = AUX[H_NREC], AUX[H_NSLOT]
    numel = S[in0, S_NUMEL]
    top = AUX[H_TOP32 + dtype]
    if nrec >= R.shape[0] or nslot >= S.shape[0] or top + numel > cap:
        return -1
    for f in range(S.shape[1]):
        S[nslot, f] = S[in0, f]
    S[nslot, S_OFF] = top
    S[nslot, S_DTYPE] = dtype
    S[nslot, S_REC] = nrec
    S[nslot, S_FLAGS] = sflags
    S[nslot, S_VER] = 0
    R[nrec, R_OP] = 55
    R[nrec, R_FLAGS] = rflags
    R[nrec, R_OUT] = nslot
    R[nrec, R_IN0] = in0
    R[nrec, R_IN1] = -1
    R[nrec, R_AUX] = -1
    R[nrec, R_CONST] = 0
    R[nrec, R_SEQ] = AUX[H_SEQ]
    R[nrec, R_IN2] = -1
    AUX[H_NREC] = nrec + 1
    AUX[H_NSLOT] = nslot + 1
    AUX[H_TOP32 + dtype] = top + numel
    AUX[H_SEQ] += 1
    if dtype == DT_F32:
        _cast(R, S, A64, A32, A64, A32, nrec, False)
    else:
        _cast(R, S, A32, A64, A32, A64, nrec, False)
    return nslot


@njit(cache=True, error_model="numpy")
def load(R, S, AUX, A, src, shape, dtype, sflags):
    """Append a leaf record whose slot holds a copy of `src` (same dtype as A); -1 if full."""
    nrec, nslot = AUX[H_NREC], AUX[H_NSLOT]
    numel = src.size
    top = AUX[H_TOP32 + dtype]
    if nrec >= R.shape[0] or nslot >= S.shape[0] or top + numel > A.shape[0]:
        return -1
    A[top:top + numel] = src
    S[nslot, S_OFF] = top
    S[nslot, S_NUMEL] = numel
    S[nslot, S_NDIM] = AUX[shape]
    S[nslot, S_SHAPE] = shape
    S[nslot, S_DTYPE] = dtype
    S[nslot, S_REC] = nrec
    S[nslot, S_FLAGS] = sflags
    S[nslot, S_VER] = 0
    R[nrec, R_OP] = 0
    R[nrec, R_FLAGS] = 0
    R[nrec, R_OUT] = nslot
    R[nrec, R_IN0] = -1
    R[nrec, R_IN1] = -1
    R[nrec, R_AUX] = -1
    R[nrec, R_CONST] = 0
    R[nrec, R_SEQ] = AUX[H_SEQ]
    R[nrec, R_IN2] = -1
    AUX[H_NREC] = nrec + 1
    AUX[H_NSLOT] = nslot + 1
    AUX[H_TOP32 + dtype] = top + numel
    AUX[H_SEQ] += 1
    return nslot


@njit(cache=True, error_model="numpy")
def forward(R, S, AUX, A32, A64, k0, k1):
    """Forward sweep over records k0..k1-1: recomputes every output from its inputs."""
    for k in range(k0, k1):
        _sweep_one(R, S, AUX, A32, A64, A32, A64, k, False, False, False, False)


@njit(cache=True, error_model="numpy")
def backward(R, S, AUX, A32, A64, G32, G64, MARK, BUF, roots, seed, retain):
    """Reverse sweep from `roots` (slots), seeded by `seed` (their adjoints, flat and
    concatenated) or by ones when `seed` is empty.

    Returns (status, a, b): on OK, a = how many slots were written to BUF (the reached
    slots flagged S_LEAF or S_RETAIN, whose adjoints Python hands to `.grad`); on an
    error, a = the record and b = the slot at fault. Nothing but adjoints and, when the
    sweep succeeded without `retain`, the R_FREED bits is written."""
    nslot = AUX[H_NSLOT]
    MARK[AUX[H_MARK_LO]:AUX[H_MARK_HI]] = 0  # marks of the previous sweep
    top, pending, lo = -1, 0, nslot
    for r in roots:
        if MARK[r] == 0:
            pending += 1
        MARK[r] = 1
        top = max(top, S[r, S_REC])
        lo = min(lo, r)
    # pass 1: which records are needed, and can they still run? `pending` counts marked
    # slots whose producer is not reached yet: at 0 nothing below is needed.
    bottom = top + 1
    for k in range(top, -1, -1):
        if pending == 0:
            break
        o = R[k, R_OUT]
        if MARK[o] == 0:
            continue
        pending -= 1
        bottom = k
        fl = R[k, R_FLAGS]
        if fl & R_FREED and fl & R_SAVES:
            _unmark(MARK, AUX, lo, nslot)
            return ERR_FREED, k, o
        a, b, m = R[k, R_IN0], R[k, R_IN1], R[k, R_IN2]
        bad = -1
        if fl & R_SAVES_IN0 and S[a, S_VER] != 0:
            bad = a
        elif fl & R_SAVES_IN1 and S[b, S_VER] != 0:
            bad = b
        elif fl & R_SAVES_IN2 and S[m, S_VER] != 0:
            bad = m
        elif fl & R_SAVES_OUT and S[o, S_VER] != 0:
            bad = o
        if bad >= 0:
            _unmark(MARK, AUX, lo, nslot)
            return ERR_VERSION, k, bad
        for i in (a, b, m):
            if i >= 0 and S[i, S_FLAGS] & S_RG and MARK[i] == 0:
                MARK[i] = 1
                pending += 1
                lo = min(lo, i)
    AUX[H_MARK_LO], AUX[H_MARK_HI] = lo, nslot
    # zero the adjoints of the needed slots, then seed the roots
    for s in range(lo, nslot):
        if MARK[s]:
            p = S[s, S_OFF]  # >= 0: pass 1 stopped at any record whose value was dropped
            if S[s, S_DTYPE] == DT_F32:
                G32[p:p + S[s, S_NUMEL]] = 0
            else:
                G64[p:p + S[s, S_NUMEL]] = 0
    j = 0
    for r in roots:
        p, n = S[r, S_OFF], S[r, S_NUMEL]
        for i in range(n):
            v = seed[j + i] if seed.size > 0 else 1.0
            if S[r, S_DTYPE] == DT_F32:
                G32[p + i] += v
            else:
                G64[p + i] += v
        j += n
    # pass 2: the reverse sweep proper; 1-element elementwise records take a path that
    # passes scalars, not arrays (half the cost per record of a scalar program)
    RF = R.view(np.float64)
    for k in range(top, bottom - 1, -1):
        o = R[k, R_OUT]
        if MARK[o] == 0:
            continue
        a, b, m = R[k, R_IN0], R[k, R_IN1], R[k, R_IN2]
        if S[o, S_NUMEL] == 1 and _scalar_vjp(R, RF, S, A32, A64, G32, G64, k, o, a, b):
            continue
        _sweep_one(R, S, AUX, A32, A64, G32, G64, k, True, a >= 0 and MARK[a] == 1,
                   b >= 0 and MARK[b] == 1, m >= 0 and MARK[m] == 1)
    count = 0
    for s in range(lo, nslot):
        if MARK[s] and S[s, S_FLAGS] & (S_LEAF | S_RETAIN):
            BUF[count] = s
            count += 1
    if not retain:
        for k in range(top, bottom - 1, -1):
            if MARK[R[k, R_OUT]]:
                R[k, R_FLAGS] |= R_FREED
    return OK, count, 0


@njit(inline="always", error_model="numpy")
def _scalar_vjp(R, RF, S, A32, A64, G32, G64, k, o, a, b):
    """The VJP of a 1-element UNARY or BINARY record; False for any other record. RF is
    R viewed as float64 (made once per sweep: a view per record costs as much as a VJP)."""
    op = R[k, R_OP]
    fam = FAMILY[op]
    if fam != UNARY and fam != BINARY:
        return False
    c = RF[k, R_CONST]
    po, pa = S[o, S_OFF], S[a, S_OFF]
    f32 = S[o, S_DTYPE] == DT_F32
    if fam == UNARY:
        if f32:
            G32[pa] += unary_vjp1(op, A32[pa], A32[po], G32[po], c, RF[k, R_AUX])
        else:
            G64[pa] += unary_vjp1(op, A64[pa], A64[po], G64[po], c, RF[k, R_AUX])
        return True
    pb = S[b, S_OFF]
    if f32:
        ga, gb = binary_vjp1(op, A32[pa], A32[pb], A32[po], G32[po], c)
        G32[pa] += ga
        G32[pb] += gb
    else:
        ga, gb = binary_vjp1(op, A64[pa], A64[pb], A64[po], G64[po], c)
        G64[pa] += ga
        G64[pb] += gb
    return True


@njit(error_model="numpy")
def _unmark(MARK, AUX, lo, hi):
    """After an error: clear this sweep's marks (nothing was reached)."""
    MARK[lo:hi] = 0
    AUX[H_MARK_LO], AUX[H_MARK_HI] = 0, 0


@njit(cache=True, error_model="numpy")
def compact(R, S, AUX, A32, A64, N32, N64, roots, MARK, NEW):
    """Keep only what live tensors can reach, in order: records, slots and values.

    `roots` are the slots of live tensors and grad_fn objects. A record is kept when its
    output is kept; its inputs are kept too unless it was freed while holding saved
    values (reaching it raises anyway). A kept slot keeps its value when a live object
    holds it, an unfreed record saves it, or a sweep can still pass through it; otherwise
    its offset becomes -1. Values move to the fresh arenas N32/N64 (so NumPy views of the
    old arenas stay valid snapshots). NEW[old slot] = new slot or -1."""
    nrec, nslot = AUX[H_NREC], AUX[H_NSLOT]
    MARK[:nslot] = 0
    for r in roots:
        MARK[r] = KEEP_ROW | KEEP_VALUE
    for k in range(nrec - 1, -1, -1):
        o = R[k, R_OUT]
        if MARK[o] == 0:
            continue
        fl = R[k, R_FLAGS]
        if fl & R_FREED and fl & R_SAVES:
            # any sweep reaching this record stops with an error before writing anything:
            # neither its inputs nor its output's value (unless still read elsewhere) stay
            continue
        MARK[o] |= KEEP_VALUE  # a sweep may pass through: its adjoint needs the region
        a, b, m = R[k, R_IN0], R[k, R_IN1], R[k, R_IN2]
        for i, bit in ((a, R_SAVES_IN0), (b, R_SAVES_IN1), (m, R_SAVES_IN2)):
            if i >= 0:
                MARK[i] |= KEEP_ROW
                if fl & bit and not fl & R_FREED:
                    MARK[i] |= KEEP_VALUE
    top32, top64, ns = 0, 0, 0
    for s in range(nslot):
        if MARK[s] == 0:
            NEW[s] = -1
            continue
        NEW[s] = ns
        p, n = S[s, S_OFF], S[s, S_NUMEL]
        if MARK[s] & KEEP_VALUE == 0 or p < 0:
            S[s, S_OFF] = -1  # the row stays for the graph's structure, the value is dropped
        elif S[s, S_DTYPE] == DT_F32:
            N32[top32:top32 + n] = A32[p:p + n]
            S[s, S_OFF] = top32
            top32 += n
        else:
            N64[top64:top64 + n] = A64[p:p + n]
            S[s, S_OFF] = top64
            top64 += n
        for f in range(S.shape[1]):
            S[ns, f] = S[s, f]
        ns += 1
    nr = 0
    for k in range(nrec):
        o = R[k, R_OUT]
        if MARK[o] == 0:
            continue
        for f in range(R.shape[1]):
            R[nr, f] = R[k, f]
        R[nr, R_OUT] = NEW[o]
        for f in (R_IN0, R_IN1, R_IN2):
            R[nr, f] = NEW[R[k, f]] if R[k, f] >= 0 else -1
        S[NEW[o], S_REC] = nr
        nr += 1
    AUX[H_NREC] = nr
    AUX[H_NSLOT] = ns
    AUX[H_TOP32] = top32
    AUX[H_TOP64] = top64
    MARK[:nslot] = 0
    AUX[H_MARK_LO], AUX[H_MARK_HI] = 0, 0
    return nr
