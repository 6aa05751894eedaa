"""The family kernels: one loop body per family (broadcast binary, reductions, matmul,
strided gathers, joins, casts, three-input ops, gathers and writes by index).

Each takes the tape's tables as plain arrays (see sweep.py) and runs one record forward,
or its VJP when `backward`. They are compiled into the entry points of sweep.py, whose
DISPATCH_STAMP hashes this file too: an edit here renews sweep.py's Numba cache.
"""

import numpy as np
from numba import njit

from .dispatch import binary_fwd, binary_vjp, ternary_fwd, ternary_vjp
from .span import span, span2
from .records import R_AUX, R_CONST, R_IN0, R_IN1, R_IN2, R_OP, R_OUT, S_NUMEL, S_OFF

BLAS_MIN = 1 << 14  # m*k*n from which a matmul goes to BLAS instead of the loops


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


@njit(inline="always", error_model="numpy")
def _pass_adjoint(D, pd, sd, G, q, n, sg):
    """D[pd + i*sd] += sg * G[q + i] for i < n, the product rounded to G's dtype as the
    op's VJP kernel rounds it: an add's or sub's adjoint (sg: 1, or +-alpha for in1) into an
    input's run or a float64 buffer; a contiguous run goes through views (it vectorizes)."""
    if sd == 1:
        d, g = span(D, pd, n), span(G, q, n)
        for i in range(n):
            d[i] += G.dtype.type(sg * g[i])
    else:
        for i in range(n):
            D[pd + i * sd] += G.dtype.type(sg * G[q + i])


@njit(inline="always")
def _binary_operands(R, S, k):
    """Binary record k: (op, its constant, output numel, offsets of a, b and the output,
    its aux offset, numels of a and b)."""
    a, b, o = R[k, R_IN0], R[k, R_IN1], R[k, R_OUT]
    return (R[k, R_OP], R.view(np.float64)[k, R_CONST], S[o, S_NUMEL], S[a, S_OFF],
            S[b, S_OFF], S[o, S_OFF], R[k, R_AUX], S[a, S_NUMEL], S[b, S_NUMEL])


@njit(inline="always")
def _binary_runs(AUX, x, n, na, nb):
    """How a broadcasting binary record's output is walked: (nd, run length, out shape,
    a strides, b strides, a's and b's stride within a run). aux x < 0: one side is a
    single element (one run of n, that side's stride 0); else aux = [nd, out shape,
    a strides, b strides]."""
    one = n * 0 + 1  # (a variable, not the literal 1: a literal compiles another copy)
    if x < 0:
        shape = AUX[0:1]  # (unread: one run, no _advance)
        return (one, n, shape, shape, shape, one if na == n else one - 1,
                one if nb == n else one - 1)
    nd = AUX[x]
    shape = AUX[x + 1:x + 1 + nd]
    st_a = AUX[x + 1 + nd:x + 1 + 2 * nd]
    st_b = AUX[x + 1 + 2 * nd:x + 1 + 3 * nd]
    return nd, shape[nd - 1], shape, st_a, st_b, st_a[nd - 1], st_b[nd - 1]


@njit(inline="always", error_model="numpy")
def _binary(R, S, AUX, A, G, k, backward, need_a, need_b):
    op, c, n, pa, pb, po, x, na, nb = _binary_operands(R, S, k)
    one = n * 0 + 1  # (a variable, not the literal 1: a literal compiles another copy)
    if x < 0 and na == n and nb == n:  # same shapes: the vectorized loops, in place
        if backward:
            binary_vjp(op, A, G, pa, one, pb, one, po, n, c, need_a, need_b)
        else:
            binary_fwd(op, A, pa, one, pb, one, po, n, c)
        return
    if backward:  # (n < 0 or ...: plain bools, where callers pass literal ones, which would
        # compile a copy of the function per literal)
        _binary_broadcast_vjp(R, S, AUX, A, G, k, n < 0 or need_a, n < 0 or need_b)
        return
    nd, inner, shape, st_a, st_b, sa, sb = _binary_runs(AUX, x, n, na, nb)
    if x < 0:
        binary_fwd(op, A, pa, sa, pb, sb, po, n, c)
        return
    idx = np.zeros(nd, np.int64)
    qa, qb = pa, pb
    for run in range(n // inner if inner > 0 else 0):
        binary_fwd(op, A, qa, sa, qb, sb, po + run * inner, inner, c)
        qa, qb = _advance(idx, shape, st_a, st_b, nd, qa, qb)


@njit(cache=True, error_model="numpy")
def _binary_broadcast_vjp(R, S, AUX, A, G, k, need_a, need_b):
    """The backward of binary record k whose inputs broadcast (`_binary`'s other case).

    Compiled on its own (once per dtype) rather than inlined into every sweep that
    reaches `_binary`: its loops are a third of `_binary`'s code, and every inlined copy
    was compiled again (about 5 s of the first-ever compile)."""
    op, c, n, pa, pb, po, x, na, nb = _binary_operands(R, S, k)
    one = n * 0 + 1
    nd, inner, shape, st_a, st_b, sa, sb = _binary_runs(AUX, x, n, na, nb)
    idx = np.zeros(nd, np.int64)
    qa, qb = pa, pb
    # Backward over runs. binary_vjp only ever sees contiguous operands (its loops
    # vectorize, and a first program compiles one loop per op, not two): a run whose
    # inputs are not contiguous, or an input that is broadcast, goes through a copy of the
    # run; a broadcast input's terms are summed in float64 and added rounded once, as
    # PyTorch's sum_to does (float32: a bias over 5 rows of 0.2 gets 1.0, not 1 + 1 ulp)
    wide_a, wide_b = need_a and na < n, need_b and nb < n
    direct = sa == 1 and sb == 1 and not wide_a and not wide_b
    Ta = np.zeros(na if wide_a else 0)
    Tb = np.zeros(nb if wide_b else 0)
    z0 = one - 1
    if op == OP_ADD or op == OP_SUB:  # the adjoint passes through (negated into sub's in1):
        # a loop per run and input, no copies (a bias over a 256 x 256 batch: 190 -> 11 us)
        sg = c if op == OP_ADD else -c  # in1's factor (alpha); in0's is 1
        for run in range(n // inner if inner > 0 else 0):
            q = po + run * inner
            if wide_a:
                _pass_adjoint(Ta, qa - pa, sa, G, q, inner, 1.0)
            elif need_a:
                _pass_adjoint(G, qa, sa, G, q, inner, 1.0)
            if wide_b:
                _pass_adjoint(Tb, qb - pb, sb, G, q, inner, sg)
            elif need_b:
                _pass_adjoint(G, qb, sb, G, q, inner, sg)
            if x >= 0:
                qa, qb = _advance(idx, shape, st_a, st_b, nd, qa, qb)
        direct, inner = False, z0  # (the loop below runs no run)
    At = np.empty(0 if direct else 3 * inner, A.dtype)
    Gt = np.empty(0 if direct else 3 * inner, G.dtype)
    for run in range(n // inner if inner > 0 else 0):
        q = po + run * inner
        if direct:
            binary_vjp(op, A, G, qa, one, qb, one, q, inner, c, need_a, need_b)
        else:
            for i in range(inner):
                At[i], At[inner + i] = A[qa + i * sa], A[qb + i * sb]
                At[2 * inner + i] = A[q + i]
                Gt[i] = Gt[inner + i] = 0
                Gt[2 * inner + i] = G[q + i]
            binary_vjp(op, At, Gt, z0, one, inner, one, 2 * inner, inner, c, need_a, need_b)
            for i in range(inner):
                if wide_a:
                    Ta[qa - pa + i * sa] += Gt[i]
                elif need_a:
                    G[qa + i * sa] += Gt[i]
                if wide_b:
                    Tb[qb - pb + i * sb] += Gt[inner + i]
                elif need_b:
                    G[qb + i * sb] += Gt[inner + i]
        if x >= 0:
            qa, qb = _advance(idx, shape, st_a, st_b, nd, qa, qb)
    for j in range(Ta.shape[0]):
        G[pa + j] += G.dtype.type(Ta[j])
    for j in range(Tb.shape[0]):
        G[pb + j] += G.dtype.type(Tb[j])


OP_ADD, OP_SUB = 20, 21  # (tapegrad/ops/elementwise.py)

# reduce opcodes (tapegrad/ops/structural.py): the kernel's sub-switch
OP_SUM, OP_SUM_DIM, OP_MEAN, OP_MEAN_DIM, OP_PROD, OP_PROD_DIM = 30, 31, 32, 33, 34, 35
OP_AMAX, OP_AMIN, OP_MAX, OP_MIN, OP_MAX_DIM, OP_MIN_DIM = 36, 37, 38, 39, 100, 101
OP_VAR, OP_STD, OP_NORM, OP_LOGSUMEXP, OP_CUMSUM = 102, 103, 104, 105, 106
OP_SOFTMAX, OP_LOG_SOFTMAX = 107, 108


@njit(inline="always", error_model="numpy")
def copy_into(dst, src, n):
    """dst[:n] = src[:n] as a loop (it vectorizes): a slice assignment would compile
    NumPy's shape-mismatch error (string formatting, 1.4 s of the first-ever compile) for a
    check that cannot fail here."""
    for i in range(n):
        dst[i] = src[i]


@njit(inline="always", error_model="numpy")
def _sum_all(A, G, pa, po, n, mean, backward):
    """sum() or mean() of n elements at pa into po: float64 accumulation in four running
    sums (independent chains the CPU overlaps); the reverse adds g (or g / n) to each."""
    x = span(A, pa, n)
    if backward:
        g = G[po] / n if mean else G[po]
        gx = span(G, pa, n)
        for i in range(n):
            gx[i] += g
        return
    s = _sum4(x, n)
    A[po] = s / n if mean else s  # mean of nothing: 0 / 0 = nan, as PyTorch


@njit(inline="always", error_model="numpy")
def _sum4(x, n):
    """The float64 sum of x[:n] in four running sums (independent chains the CPU overlaps)."""
    s0 = s1 = s2 = s3 = 0.0
    n4 = n - n % 4
    for i in range(0, n4, 4):
        s0 += x[i]
        s1 += x[i + 1]
        s2 += x[i + 2]
        s3 += x[i + 3]
    for i in range(n4, n):
        s0 += x[i]
    return (s0 + s1) + (s2 + s3)


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


@njit(error_model="numpy")
def _sum_dims(A, G, pa, po, m, per, trailing, mean, backward):
    """sum/mean over the trailing dims (output j reads the block j*per...) or the leading
    ones (output j reads j, j + m, ...): loops that vectorize, float64 accumulation."""
    if backward:
        if trailing:
            for j in range(m):
                g = G[po + j] / per if mean else G[po + j]
                blk = G[pa + j * per:pa + (j + 1) * per]
                for r in range(per):
                    blk[r] += g
        else:
            go = span(G, po, m)
            for r in range(per):
                row = G[pa + r * m:pa + (r + 1) * m]
                for j in range(m):
                    row[j] += go[j] / per if mean else go[j]
        return
    if trailing:
        for j in range(m):
            acc = _sum4(A[pa + j * per:pa + (j + 1) * per], per)
            A[po + j] = acc / per if mean else acc
        return
    acc = np.zeros(m)
    for r in range(per):
        row = A[pa + r * m:pa + (r + 1) * m]
        for j in range(m):
            acc[j] += row[j]
    for j in range(m):
        A[po + j] = acc[j] / per if mean else acc[j]


@njit(error_model="numpy")
def _layout(AUX, x):
    """How input elements map to outputs: 0 all to one, 1 the reduced dims are the
    trailing ones (output i // per), 2 the leading ones (output i % m), 3 any (a map)."""
    if x < 0:
        return 0
    nd = AUX[x]
    st = AUX[x + 1 + nd:x + 1 + 2 * nd]
    f = 0
    while f < nd and st[f] != 0:
        f += 1
    trailing = True
    for d in range(f, nd):
        if st[d] != 0:
            trailing = False
    if trailing:
        return 1
    f = 0
    while f < nd and st[f] == 0:
        f += 1
    for d in range(f, nd):
        if st[d] == 0:
            return 3
    return 2


@njit(inline="always", error_model="numpy")
def _oi(om, i, mode, per, m):
    if mode == 1:
        return i // per
    if mode == 2:
        return i % m
    return om[i] if mode == 3 else 0


@njit(error_model="numpy")
def _reduce(R, S, AUX, A, G, k, backward):
    """Reductions over dims: sum, mean, prod, amax/amin, max/min, var, std, norm,
    logsumexp (and cumsum, a scan). Accumulates in float64 scratch per output."""
    op = R[k, R_OP]
    if op == OP_CUMSUM:
        _cumsum(R, S, AUX, A, G, k, backward)
        return
    if op == OP_SOFTMAX or op == OP_LOG_SOFTMAX:
        _softmax(R, S, AUX, A, G, k, backward, op == OP_LOG_SOFTMAX)
        return
    a, o = R[k, R_IN0], R[k, R_OUT]
    pa, po = S[a, S_OFF], S[o, S_OFF]
    n, m = S[a, S_NUMEL], S[o, S_NUMEL]
    if op == OP_SUM or op == OP_MEAN:  # over everything: the common loss, a loop of its own
        _sum_all(A, G, pa, po, n, op == OP_MEAN, backward)
        return
    c = R.view(np.float64)[k, R_CONST]
    mode = _layout(AUX, R[k, R_AUX])
    om = _outmap(AUX, R[k, R_AUX] if mode == 3 else -1, n)
    per = n // m if m > 0 else 0  # input elements per output
    if per == 0 and mode != 0:  # no input elements: every loop below is empty
        mode = 0
    if op <= OP_MEAN_DIM and (mode == 1 or mode == 2) and per > 0:
        _sum_dims(A, G, pa, po, m, per, mode == 1, op >= OP_MEAN, backward)
        return
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
            mean[_oi(om, i, mode, per, m)] += A[pa + i]
        for j in range(m):
            mean[j] /= per
    if not backward:
        for i in range(n):
            v = np.float64(A[pa + i])
            j = _oi(om, i, mode, per, m)
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
                j = _oi(om, i, mode, per, m)
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
            if v == A[po + _oi(om, i, mode, per, m)]:
                cnt[_oi(om, i, mode, per, m)] += 1
    nz = np.ones(m if prod else 0)  # prod: product of the nonzero elements; cnt: zeros
    if prod:
        for i in range(n):
            v = A[pa + i]
            if v == 0:
                cnt[_oi(om, i, mode, per, m)] += 1
            else:
                nz[_oi(om, i, mode, per, m)] *= v
    taken = np.zeros(m if op == OP_MAX_DIM or op == OP_MIN_DIM else 0, np.bool_)
    for i in range(n):
        j = _oi(om, i, mode, per, m)
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
def _softmax(R, S, AUX, A, G, k, backward, log):
    """softmax / log_softmax along one dim; aux = [outer, size, inner]. Each lane (the
    `size` elements of one outer, inner pair) is shifted by its max, so exp never
    overflows; float64 sums. Backward reads only the output (PyTorch saves `result`)."""
    x = R[k, R_AUX]
    outer, size, inner = AUX[x], AUX[x + 1], AUX[x + 2]
    pa, po = S[R[k, R_IN0], S_OFF], S[R[k, R_OUT], S_OFF]
    for o in range(outer):
        for i in range(inner):
            b = o * size * inner + i
            if not backward:
                m = -np.inf
                for j in range(size):
                    v = np.float64(A[pa + b + j * inner])
                    if v > m or v != v:
                        m = v if m == m else m
                s = 0.0
                for j in range(size):
                    s += np.exp(A[pa + b + j * inner] - m)
                if log:
                    ls = m + np.log(s)
                    for j in range(size):
                        A[po + b + j * inner] = A[pa + b + j * inner] - ls
                else:
                    for j in range(size):
                        A[po + b + j * inner] = np.exp(A[pa + b + j * inner] - m) / s
                continue
            t = 0.0  # log: sum g; softmax: sum g y
            for j in range(size):
                q = po + b + j * inner
                t += G[q] if log else G[q] * np.float64(A[q])
            for j in range(size):
                q = po + b + j * inner
                if log:  # g - softmax * sum g
                    G[pa + b + j * inner] += G[q] - np.exp(np.float64(A[q])) * t
                else:  # y (g - sum g y)
                    G[pa + b + j * inner] += A[q] * (G[q] - t)


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
    if R[k, R_OP] == OP_MM_NT:
        _mm_nt(A, G, pa, pb, po, m, kk, n, backward, need_a, need_b)
        return
    for i in range(batch):
        _mm(A, G, pa + i * sa, pb + i * sb, po + i * m * n, m, kk, n, backward, need_a, need_b)


OP_MM_NT = 46  # in0 (m, k) @ in1.T, in1 stored (n, k): F.linear's product, no transpose copy


@njit(error_model="numpy")
def _mm_nt(A, G, pa, pb, po, m, kk, n, backward, need_a, need_b):
    a = span2(A, pa, m, kk)
    w = span2(A, pb, n, kk)
    if not backward:
        out = span2(A, po, m, n)
        if m * kk * n >= BLAS_MIN:  # the products' argument layouts are _mm's (one compile)
            r = np.dot(a, w.T)
            for i in range(m):
                for j in range(n):
                    out[i, j] = r[i, j]
        else:
            for i in range(m):
                for j in range(n):
                    acc = 0.0  # (in_features may be 0: then the output is 0)
                    for p in range(kk):
                        acc += a[i, p] * w[j, p]
                    out[i, j] = acc
        return
    g = span2(G, po, m, n)
    ga = span2(G, pa, m, kk)
    gw = span2(G, pb, n, kk)
    if m * kk * n >= BLAS_MIN:
        if need_a:
            t = np.empty((m, kk), A.dtype)
            np.dot(g, w, t)
            ga += t
        if need_b:
            gw += np.dot(g.T, a)
        return
    for i in range(m):
        for j in range(n):
            gij = g[i, j]
            for p in range(kk):
                if need_a:
                    ga[i, p] += gij * w[j, p]
                if need_b:
                    gw[j, p] += gij * a[i, p]


@njit(inline="always", error_model="numpy")
def _mv(A, pa, pb, po, m, kk):
    """out (m) = in0 (m, k) @ in1 (k), each sum taken in p's order as the loops of _mm
    take it (the same bits), four rows at a time: four independent chains of adds instead
    of one. Indexing is by views made once and range variables, which LLVM knows are not
    negative: an index such as pa + p would get a wraparound test that stops LLVM from
    vectorizing (a 32x32 product in 0.25 us, not 1.1). No view is made in the loops: each
    costs two atomic reference-count updates (a row view per row was most of a small
    RNN's replay)."""
    a = span2(A, pa, m, kk)
    b = span(A, pb, kk)
    out = span(A, po, m)
    for q in range(m // 4):
        i = 4 * q
        s0 = s1 = s2 = s3 = A.dtype.type(0)  # (A[po] * 0 would be nan at an inf)
        for p in range(kk):
            bp = b[p]
            s0 += a[i, p] * bp
            s1 += a[i + 1, p] * bp
            s2 += a[i + 2, p] * bp
            s3 += a[i + 3, p] * bp
        out[i], out[i + 1], out[i + 2], out[i + 3] = s0, s1, s2, s3
    for i in range(m - m % 4, m):
        acc = A.dtype.type(0)
        for p in range(kk):
            acc += a[i, p] * b[p]
        out[i] = acc


@njit(error_model="numpy")
def _mm(A, G, pa, pb, po, m, kk, n, backward, need_a, need_b):
    a = span2(A, pa, m, kk)
    b = span2(A, pb, kk, n)
    if not backward:
        out = span2(A, po, m, n)
        if m * kk * n >= BLAS_MIN:
            np.dot(a, b, out)
        elif n == 1:
            _mv(A, pa, pb, po, m, kk)
        else:
            out[:, :] = 0
            for i in range(m):
                for p in range(kk):
                    aip = a[i, p]
                    for j in range(n):
                        out[i, j] += aip * b[p, j]
        return
    g = span2(G, po, m, n)
    ga = span2(G, pa, m, kk)
    gb = span2(G, pb, kk, n)
    if m * kk * n >= BLAS_MIN:
        if need_a:
            ga += np.dot(g, b.T)
        if need_b:
            gb += np.dot(a.T, g)
        return
    if n == 1:  # a matrix-vector product: the same sums, in loops that vectorize
        bv, gbv, gv = span(A, pb, kk), span(G, pb, kk), span(G, po, m)  # (contiguous views,
        for i in range(m):  # made once: a view per row costs two atomic updates)
            gi = gv[i]
            if need_a:
                for p in range(kk):
                    ga[i, p] += gi * bv[p]
            if need_b:
                for p in range(kk):
                    gbv[p] += a[i, p] * gi
        return
    for i in range(m):
        for p in range(kk):
            aip = a[i, p]
            acc = G.dtype.type(0)  # (ga[i, p] * 0 would be nan at an inf)
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
        if si == 1:  # a contiguous run (slices, selects): loops over slices vectorize
            if backward:
                gi, go = span(G, qi, inner), span(G, qo, inner)
                for i in range(inner):
                    gi[i] += go[i]
            else:
                copy_into(span(A, qo, inner), span(A, qi, inner), inner)
        elif backward and si == 0:  # an expand: the copies' adjoints summed in float64,
            acc = 0.0  # then added once (float32: 5 * 0.2f sums to 1, not 1 + 1 ulp)
            for i in range(inner):
                acc += G[qo + i]
            G[qi] += G.dtype.type(acc)  # (rounded first: the sum is the dtype's)
        elif backward:
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
    for r in range(outer):  # (loops over views from 0: they vectorize, see _mv)
        q = po + r * (na + nb)
        if not backward:
            copy_into(span(A, q, na), span(A, pa + r * na, na), na)
            copy_into(span(A, q + na, nb), span(A, pb + r * nb, nb), nb)
            continue
        if need_a:
            ga, go = span(G, pa + r * na, na), span(G, q, na)
            for i in range(na):
                ga[i] += go[i]
        if need_b:
            gb, go = span(G, pb + r * nb, nb), span(G, q + na, nb)
            for i in range(nb):
                gb[i] += go[i]


@njit(error_model="numpy")
def _cast(R, S, Ain, Aout, Gin, Gout, k, backward):
    pa, po, n = S[R[k, R_IN0], S_OFF], S[R[k, R_OUT], S_OFF], S[R[k, R_OUT], S_NUMEL]
    for i in range(n):
        if backward:
            Gin[pa + i] += Gout[po + i]
        else:
            Aout[po + i] = Ain[pa + i]


@njit(inline="always", error_model="numpy")
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
