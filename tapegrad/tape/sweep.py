"""The compiled code that walks the tape: record, forward sweep, reverse sweep, compaction.

Every function here takes the tape's tables as plain arrays: R (records, int64 (n, 9)),
S (slots, int64 (n, 8)), AUX (int64 pool: header counters, interned shapes and op
parameters), the value arenas A32/A64 and the adjoint arenas G32/G64. Errors leave as
status codes; Python formats the messages. The loop bodies are the family kernels in
kernels.py and the generated elementwise switches in dispatch.py; this file dispatches
to them by family.
"""

import numpy as np
from numba import njit

from ..ops.spec import (BINARY, CAST, COPY, INDEX, JOIN, LEAF, MATMUL, PYTHON, REDUCE, STRIDED,
                        TERNARY, UNARY)
from .dispatch import (FAMILY, OP_DETACH, OP_LEAF, OP_SNAPSHOT, OP_TO_COPY, SAVES, binary_fwd1,
                       binary_vjp1, unary_fwd, unary_fwd1,
                       unary_vjp, unary_vjp1)
from .kernels import (_binary, _cast, _index, _join, _matmul, _reduce, _strided, _ternary,
                      copy_into)
from .records import (DT_F32, ERR_FREED, ERR_VERSION, OK, OTHER, PAUSE, R_AUX, R_CONST, R_FLAGS, R_FREED,
                      R_IN0, R_IN1, R_IN2, R_OP, R_OUT, R_SAVES, R_SAVES_IN0, R_SAVES_IN1,
                      R_SAVES_IN2, R_SAVES_OUT, R_SEQ, S_DTYPE, S_FLAGS, S_LEAF, S_NDIM,
                      S_FREE, S_NUMEL, S_OFF, S_REC, S_RETAIN, S_RG, S_SHAPE, S_VER)
from .span import span, unref

# Every kernel uses error_model="numpy": x / 0 is inf or nan as IEEE (and PyTorch) say,
# never a ZeroDivisionError. codegen rewrites the stamp line below; a change there
# invalidates Numba's cache of this file.
DISPATCH_STAMP = "3b7087ce86755972"

# ---- AUX header: the tape's counters live in the first words of the aux pool ---------
H_NREC, H_NSLOT, H_TOP32, H_TOP64, H_NAUX, H_SEQ, H_MARKED, H_FREE = range(8)
# H_NSLOT: the slot rows ever used (a high-water mark); H_FREE: the first free slot row
# (-1: none), each free row holding the next in its `rec` field. Slots never move: a slot
# id, once handed out, stays valid while anything holds it; compaction frees the rows of
# the dead ones, which new records take first.
AUX_HEADER = 8
KEEP_ROW, KEEP_VALUE = 1, 2  # compaction marks: keep the slot row / also its value


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
            ga, go = span(G, pa, n), span(G, po, n)
            for i in range(n):
                ga[i] += go[i]
        else:
            copy_into(span(A, po, n), span(A, pa, n), n)


@njit(inline="always", error_model="numpy")
def _sweep_one(R, S, AUX, A32, A64, G32, G64, k, backward, need_a, need_b, need_m):
    """One record in either arena (casts read one arena and write the other)."""
    fam = FAMILY[R[k, R_OP]]
    if fam == LEAF or fam == PYTHON:
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


# ---- entry points --------------------------------------------------------------------
@njit(inline="always", error_model="numpy")
def _append(R, S, AUX, cap, op, in0, in1, aux, c, shape, dtype, sflags):
    """Append a record and its output slot (arena capacity `cap`); the new record's index,
    or -1 when a table or the arena is full (nothing is written then)."""
    nrec, nslot = AUX[H_NREC], _next_slot(S, AUX)
    if nrec >= R.shape[0] or nslot < 0:
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
    _take_slot(S, AUX, nslot)
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
    AUX[H_TOP32 + dtype] = top + numel
    AUX[H_SEQ] += 1
    return nrec


@njit(inline="always")
def _next_slot(S, AUX):
    """The slot row a new record takes: the first free one, else a new row; -1 when the
    table is full."""
    s = AUX[H_FREE]
    if s >= 0:
        return s
    s = AUX[H_NSLOT]
    return s if s < S.shape[0] else -1


@njit(inline="always")
def _take_slot(S, AUX, s):
    """Take slot row s (from `_next_slot`), before anything is written to it."""
    if s == AUX[H_FREE]:
        AUX[H_FREE] = S[s, S_REC]  # the next free row
    else:
        AUX[H_NSLOT] = s + 1


@njit(cache=True, error_model="numpy")
def record(R, S, AUX, A, op, in0, in1, aux, c, shape, dtype, sflags):
    """Append one record and its output slot, then run its forward kernel.

    `shape` is an aux offset ([nd, dims...]) or -1 for in0's shape. Returns the output
    slot, or -1 when a table or the arena is full (nothing is written then)."""
    R, S, AUX, A = unref(R), unref(S), unref(AUX), unref(A)
    k = _append(R, S, AUX, A.shape[0], op, in0, in1, aux, c, shape, dtype, sflags)
    if k < 0:
        return -1
    if op != 0:
        _step(R, S, AUX, A, A, k, False, False, False)
    return R[k, R_OUT]


@njit(cache=True, error_model="numpy")
def record_elementwise(R, S, AUX, A, op, in0, in1, aux, c, shape, dtype, sflags):
    """`record` for the UNARY and BINARY families, what programs record most: compiled
    without the other families' kernels, so a first program compiles less."""
    R, S, AUX, A = unref(R), unref(S), unref(AUX), unref(A)
    k = _append(R, S, AUX, A.shape[0], op, in0, in1, aux, c, shape, dtype, sflags)
    if k < 0:
        return -1
    if FAMILY[op] == UNARY:
        RF = R.view(np.float64)  # unary records keep a second float parameter in `aux`
        po, n = S[R[k, R_OUT], S_OFF], S[R[k, R_OUT], S_NUMEL]
        unary_fwd(op, A, S[in0, S_OFF], po, n, c, RF[k, R_AUX])
    else:
        _binary(R, S, AUX, A, A, k, False, False, False)
    return R[k, R_OUT]


@njit(cache=True, error_model="numpy")
def record_wide(R, S, AUX, A32, A64, op, in0, in1, in2, aux, c, shape, dtype, sflags):
    """`record` for the INDEX and TERNARY families: a third input in2, and both arenas
    (an index lives in the float64 arena whatever the data's dtype)."""
    R, S, AUX, A32, A64 = unref(R), unref(S), unref(AUX), unref(A32), unref(A64)
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
    R, S, AUX, A32, A64 = unref(R), unref(S), unref(AUX), unref(A32), unref(A64)
    cap = A32.shape[0] if dtype == DT_F32 else A64.shape[0]
    nrec, nslot = AUX[H_NREC], _next_slot(S, AUX)
    numel = S[in0, S_NUMEL]
    top = AUX[H_TOP32 + dtype]
    if nrec >= R.shape[0] or nslot < 0 or top + numel > cap:
        return -1
    _take_slot(S, AUX, nslot)
    for f in range(S.shape[1]):
        S[nslot, f] = S[in0, f]
    S[nslot, S_OFF] = top
    S[nslot, S_DTYPE] = dtype
    S[nslot, S_REC] = nrec
    S[nslot, S_FLAGS] = sflags
    S[nslot, S_VER] = 0
    R[nrec, R_OP] = OP_TO_COPY
    R[nrec, R_FLAGS] = rflags
    R[nrec, R_OUT] = nslot
    R[nrec, R_IN0] = in0
    R[nrec, R_IN1] = -1
    R[nrec, R_AUX] = -1
    R[nrec, R_CONST] = 0
    R[nrec, R_SEQ] = AUX[H_SEQ]
    R[nrec, R_IN2] = -1
    AUX[H_NREC] = nrec + 1
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
    R, S, AUX, A, src = unref(R), unref(S), unref(AUX), unref(A), unref(src)
    nrec, nslot = AUX[H_NREC], _next_slot(S, AUX)
    numel = src.size
    top = AUX[H_TOP32 + dtype]
    if nrec >= R.shape[0] or nslot < 0 or top + numel > A.shape[0]:
        return -1
    _take_slot(S, AUX, nslot)
    copy_into(span(A, top, numel), src, numel)
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
    AUX[H_TOP32 + dtype] = top + numel
    AUX[H_SEQ] += 1
    return nslot


# a recorded backward's template (tapegrad/autograd/_walk_cache.py): one row per record
T_KIND, T_OP, T_IN0, T_IN1, T_IN2, T_AUX, T_SHAPE, T_DTYPE, T_SFLAGS, T_RFLAGS, T_POOL = \
    range(11)
T_RECORD, T_WIDE, T_CAST, T_CONST = range(4)  # kinds: record, record_wide, record_cast, a
                                              # constant leaf (values at T_POOL of P32/P64)


@njit(inline="always")
def _template_ref(i, out, ext):
    """A template input: -1 none, i >= 0 the template's record i, -2 - j external slot j."""
    if i >= 0:
        return out[i]
    return -1 if i == -1 else ext[-2 - i]


@njit(cache=True, error_model="numpy")
def append_template(R, S, AUX, A32, A64, T, C, P32, P64, ext, out, j0):
    """Append the records j0... of template T (rows as T_* above; C their float parameters)
    whose inputs are its earlier records or the slots `ext`, computing each output as the
    recorders do (the same kernels: the same values); out[j] gets record j's slot. Returns
    the row reached: T.shape[0], or the row that found a table or an arena full."""
    R, S, AUX, A32, A64 = unref(R), unref(S), unref(AUX), unref(A32), unref(A64)
    z = T.shape[0] * 0  # (variables, not literals: a literal compiles another copy)
    for j in range(j0, T.shape[0]):
        kind, op, code = T[j, T_KIND], T[j, T_OP], T[j, T_DTYPE]
        a = _template_ref(T[j, T_IN0], out, ext)
        b = _template_ref(T[j, T_IN1], out, ext)
        m = _template_ref(T[j, T_IN2], out, ext)
        aux, shape, sflags = T[j, T_AUX], T[j, T_SHAPE], T[j, T_SFLAGS]
        if kind == T_RECORD:
            if code == DT_F32:
                o = record(R, S, AUX, A32, op, a, b, aux, C[j], shape, code, sflags)
            else:
                o = record(R, S, AUX, A64, op, a, b, aux, C[j], shape, code, sflags)
            if o >= 0 and m >= 0:
                R[S[o, S_REC], R_IN2] = m
        elif kind == T_WIDE:
            o = record_wide(R, S, AUX, A32, A64, op, a, b, m, aux, C[j], shape, code, sflags)
        elif kind == T_CAST:
            o = record_cast(R, S, AUX, A32, A64, a, code, sflags, T[j, T_RFLAGS])
        else:
            cap = A32.shape[0] if code == DT_F32 else A64.shape[0]
            k = _append(R, S, AUX, cap, z, z - 1, z - 1, z - 1, 0.0, shape, code, z)
            o = -1 if k < 0 else R[k, R_OUT]
            if o >= 0:
                p, n, q = S[o, S_OFF], S[o, S_NUMEL], T[j, T_POOL]
                if code == DT_F32:
                    copy_into(span(A32, p, n), span(P32, q, n), n)
                else:
                    copy_into(span(A64, p, n), span(P64, q, n), n)
        if o < 0:
            return j
        R[S[o, S_REC], R_FLAGS] = T[j, T_RFLAGS]
        out[j] = o
    return T.shape[0]


@njit(cache=True, error_model="numpy")
def alias(R, S, AUX, src, op, sflags, rflags):
    """Append a record `op` (DETACH or SNAPSHOT) whose slot aliases slot `src`'s value and
    adjoint (same arena offset); -1 if a table is full. The alias shares the version
    counter of the value it aliases (src, or what src aliases): its own `ver` starts at
    minus that one's, and in-place writes through it bump that one's."""
    R, S, AUX = unref(R), unref(S), unref(AUX)
    nrec, nslot = AUX[H_NREC], _next_slot(S, AUX)
    if nrec >= R.shape[0] or nslot < 0:
        return -1
    _take_slot(S, AUX, nslot)
    if _aliases(R, S, src):
        src = R[S[src, S_REC], R_IN0]
    for f in range(S.shape[1]):
        S[nslot, f] = S[src, f]
    S[nslot, S_REC] = nrec
    S[nslot, S_FLAGS] = sflags
    S[nslot, S_VER] = -S[src, S_VER]
    for f in range(R.shape[1]):
        R[nrec, f] = -1
    R[nrec, R_OP] = op
    R[nrec, R_FLAGS] = rflags
    R[nrec, R_OUT] = nslot
    R[nrec, R_IN0] = src
    R[nrec, R_CONST] = 0
    R[nrec, R_SEQ] = AUX[H_SEQ]
    AUX[H_NREC] = nrec + 1
    AUX[H_SEQ] += 1
    return nslot


@njit(inline="always")
def _aliases(R, S, s):
    """Does slot s alias another slot's value (a DETACH or SNAPSHOT record's output)?"""
    op = R[S[s, S_REC], R_OP]
    return op == OP_DETACH or op == OP_SNAPSHOT


@njit(inline="always")
def _changed(R, S, s):
    """Was slot s's value modified in place since it was recorded? An alias (detach) counts
    the changes of the value it aliases, made through it or through the original."""
    v = S[s, S_VER]
    if _aliases(R, S, s):
        v += S[R[S[s, S_REC], R_IN0], S_VER]
    return v != 0


@njit(cache=True, error_model="numpy")
def forward(R, S, AUX, A32, A64, k0, k1):
    """Forward sweep over records k0..k1-1: recomputes every output from its inputs.

    1-element elementwise records go through a switch over scalars (written out here, as
    in `reverse`): about 10 ns a record instead of a family loop's 80."""
    R, S, AUX, A32, A64 = unref(R), unref(S), unref(AUX), unref(A32), unref(A64)
    RF = R.view(np.float64)
    for k in range(k0, k1):
        op = R[k, R_OP]
        fam = FAMILY[op]
        o = R[k, R_OUT]
        if S[o, S_NUMEL] == 1 and (fam == UNARY or fam == BINARY):
            po, pa = S[o, S_OFF], S[R[k, R_IN0], S_OFF]
            c = RF[k, R_CONST]
            if S[o, S_DTYPE] == DT_F32:
                if fam == UNARY:
                    A32[po] = unary_fwd1(op, A32[pa], c, RF[k, R_AUX])
                else:
                    A32[po] = binary_fwd1(op, A32[pa], A32[S[R[k, R_IN1], S_OFF]], c)
            elif fam == UNARY:
                A64[po] = unary_fwd1(op, A64[pa], c, RF[k, R_AUX])
            else:
                A64[po] = binary_fwd1(op, A64[pa], A64[S[R[k, R_IN1], S_OFF]], c)
            continue
        _sweep_one(R, S, AUX, A32, A64, A32, A64, k, False, False, False, False)


@njit(cache=True, error_model="numpy")
def mark(R, S, AUX, G32, G64, MARK, LIST, roots, seed):
    """Pass 1 of the reverse sweep from `roots` (slots): mark the slots it needs, check
    that their records can still run, zero their adjoints and seed the roots with `seed`
    (their adjoints, flat and concatenated) or with ones when `seed` is empty.

    Returns (status, a, b, top, bottom): on OK, records bottom..top hold the marked ones,
    a has bit 1 << family set for each family among them, and `reverse` (both arenas),
    `reverse1` (a tape of one dtype) or `reverse_elementwise` does pass 2; on an
    error, a = the record and b = the slot at fault, and nothing was written. MARK[s] = 1
    for the slots the sweep needs, which LIST[:AUX[H_MARKED]] lists: no loop here runs
    over the tape's other slots, and leaves (which have no inputs) do not extend the walk
    over records, so the cost does not grow with the tape's history."""
    R, S, AUX, G32, G64, MARK, LIST, roots, seed = (unref(R), unref(S), unref(AUX),
                                                    unref(G32), unref(G64), unref(MARK),
                                                    unref(LIST), unref(roots),
                                                    unref(seed))
    for j in range(AUX[H_MARKED]):  # marks of the previous sweep
        MARK[LIST[j]] = 0
    count, top, pending, fams = 0, -1, 0, 0
    for r in roots:
        if MARK[r] == 0:
            MARK[r] = 1
            LIST[count] = r
            count += 1
            if R[S[r, S_REC], R_OP] != OP_LEAF:
                pending += 1
        top = max(top, S[r, S_REC])
    AUX[H_MARKED] = count
    # pass 1: which records are needed, and can they still run? `pending` counts marked
    # slots whose producer is not reached yet: at 0 nothing below is needed.
    bottom = top + 1
    for k in range(top, -1, -1):
        if pending == 0:
            break
        o = R[k, R_OUT]
        if MARK[o] == 0 or R[k, R_OP] == OP_LEAF:
            continue
        pending -= 1
        fams |= 1 << FAMILY[R[k, R_OP]]
        bottom = k
        fl = R[k, R_FLAGS]
        if fl & R_FREED and fl & R_SAVES:
            _unmark(MARK, LIST, AUX, count)
            return ERR_FREED, k, o, top, 0
        a, b, m = R[k, R_IN0], R[k, R_IN1], R[k, R_IN2]
        bad = -1
        if fl & R_SAVES_IN0 and _changed(R, S, a):
            bad = a
        elif fl & R_SAVES_IN1 and _changed(R, S, b):
            bad = b
        elif fl & R_SAVES_IN2 and _changed(R, S, m):
            bad = m
        elif fl & R_SAVES_OUT and _changed(R, S, o):
            bad = o
        if bad >= 0:
            _unmark(MARK, LIST, AUX, count)
            return ERR_VERSION, k, bad, top, 0
        for i in (a, b, m):
            if i >= 0 and S[i, S_FLAGS] & S_RG and MARK[i] == 0:
                MARK[i] = 1
                LIST[count] = i
                count += 1
                if R[S[i, S_REC], R_OP] != OP_LEAF:
                    pending += 1
    AUX[H_MARKED] = count
    # zero the adjoints of the needed slots, then seed the roots
    for j in range(count):
        s = LIST[j]
        p = S[s, S_OFF]  # >= 0: pass 1 stopped at any record whose value was dropped
        if S[s, S_DTYPE] == DT_F32:
            span(G32, p, S[s, S_NUMEL])[:] = 0
        else:
            span(G64, p, S[s, S_NUMEL])[:] = 0
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
    return OK, fams, 0, top, bottom


@njit(cache=True, error_model="numpy")
def reverse(R, S, AUX, A32, A64, G32, G64, MARK, LIST, BUF, k0, bottom, top, retain):
    """Pass 2 of the reverse sweep (after `mark`), from record k0 down to `bottom`, over
    the records pass 1 marked: the reverse sweep proper, for a tape with both dtypes.

    At a PYTHON record it stops and returns (PAUSE, k, bottom, top): Python adds that
    record's input adjoints and calls reverse(..., k - 1, bottom, top, retain) to go on.
    At the end it returns (OK, count, 0, top): BUF[:count] are the reached slots flagged
    S_LEAF or S_RETAIN, whose adjoints Python hands to `.grad`. Without `retain`, the
    swept records get their R_FREED bit."""
    R, S, AUX, A32, A64, G32, G64, MARK, LIST, BUF = (unref(R), unref(S), unref(AUX),
                                                      unref(A32), unref(A64), unref(G32),
                                                      unref(G64), unref(MARK),
                                                      unref(LIST), unref(BUF))
    # 1-element elementwise records take a path that passes scalars, not arrays, written
    # out here: behind an inlined helper taking the arenas it costs 70 ns a record, not 6
    RF = R.view(np.float64)
    for k in range(k0, bottom - 1, -1):
        o = R[k, R_OUT]
        if MARK[o] == 0:
            continue
        op = R[k, R_OP]
        fam = FAMILY[op]
        a, b, m = R[k, R_IN0], R[k, R_IN1], R[k, R_IN2]
        if S[o, S_NUMEL] == 1 and (fam == UNARY or fam == BINARY):
            c = RF[k, R_CONST]
            po, pa = S[o, S_OFF], S[a, S_OFF]
            f32 = S[o, S_DTYPE] == DT_F32  # an elementwise record's inputs share its dtype
            if fam == UNARY:
                if f32:
                    G32[pa] += unary_vjp1(op, A32[pa], A32[po], G32[po], c, RF[k, R_AUX])
                else:
                    G64[pa] += unary_vjp1(op, A64[pa], A64[po], G64[po], c, RF[k, R_AUX])
                continue
            pb = S[b, S_OFF]
            if f32:
                ga, gb = binary_vjp1(op, A32[pa], A32[pb], A32[po], G32[po], c)
                if MARK[a] == 1:  # an unmarked input may be a detached alias (its adjoint
                    G32[pa] += ga  # region is its source's)
                if MARK[b] == 1:
                    G32[pb] += gb
            else:
                ga, gb = binary_vjp1(op, A64[pa], A64[pb], A64[po], G64[po], c)
                if MARK[a] == 1:
                    G64[pa] += ga
                if MARK[b] == 1:
                    G64[pb] += gb
            continue
        if fam == PYTHON:
            return PAUSE, k, bottom, top
        need_a, need_b = a >= 0 and MARK[a] == 1, b >= 0 and MARK[b] == 1
        if fam == BINARY:  # called here, not through _step: the forward loops drop out
            if S[o, S_DTYPE] == DT_F32:
                _binary(R, S, AUX, A32, G32, k, True, need_a, need_b)
            else:
                _binary(R, S, AUX, A64, G64, k, True, need_a, need_b)
            continue
        _sweep_one(R, S, AUX, A32, A64, G32, G64, k, True, need_a, need_b,
                   m >= 0 and MARK[m] == 1)
    return OK, _finish(R, S, AUX, MARK, LIST, BUF, bottom, top, retain), 0, top


@njit(cache=True, error_model="numpy")
def reverse1(R, S, AUX, A, G, MARK, LIST, BUF, k0, bottom, top, retain):
    """`reverse` for a tape whose values all live in one arena (A, G: all float32 or all
    float64): half the code to compile, the common case (no casts, no index tensors)."""
    R, S, AUX, A, G, MARK, LIST, BUF = (unref(R), unref(S), unref(AUX), unref(A),
                                        unref(G), unref(MARK), unref(LIST), unref(BUF))
    RF = R.view(np.float64)
    for k in range(k0, bottom - 1, -1):
        o = R[k, R_OUT]
        if MARK[o] == 0:
            continue
        op = R[k, R_OP]
        fam = FAMILY[op]
        a, b = R[k, R_IN0], R[k, R_IN1]
        if S[o, S_NUMEL] == 1 and (fam == UNARY or fam == BINARY):
            c = RF[k, R_CONST]  # written out: behind an inlined helper taking the arenas
            po, pa = S[o, S_OFF], S[a, S_OFF]  # it costs 70 ns a record, not 6
            if fam == UNARY:
                G[pa] += unary_vjp1(op, A[pa], A[po], G[po], c, RF[k, R_AUX])
            else:
                pb = S[b, S_OFF]
                ga, gb = binary_vjp1(op, A[pa], A[pb], A[po], G[po], c)
                if MARK[a] == 1:  # an unmarked input may be a detached alias (its adjoint
                    G[pa] += ga   # region is its source's)
                if MARK[b] == 1:
                    G[pb] += gb
            continue
        if fam == PYTHON:
            return PAUSE, k, bottom, top
        need_a, need_b = a >= 0 and MARK[a] == 1, b >= 0 and MARK[b] == 1
        m = R[k, R_IN2]
        if fam == LEAF:
            continue
        elif fam == TERNARY:
            _ternary(R, S, A, G, k, True, need_a, need_b, m >= 0 and MARK[m] == 1)
        elif fam == INDEX:  # a tape of one dtype has index ops only in float64
            _index(R, S, AUX, A, G, A, k, True, need_a, m >= 0 and MARK[m] == 1)
        elif fam == BINARY:  # called here, not through _step: the forward loops drop out
            _binary(R, S, AUX, A, G, k, True, need_a, need_b)
        else:
            _step(R, S, AUX, A, G, k, True, need_a, need_b)
    return OK, _finish(R, S, AUX, MARK, LIST, BUF, bottom, top, retain), 0, top


@njit(cache=True, error_model="numpy")
def reverse_elementwise(R, S, AUX, A, G, MARK, LIST, BUF, k0, bottom, top, retain):
    """`reverse1` for the elementwise families only (leaves, unary, binary, views): what a
    first program needs, compiled in a third of reverse1's time. At a record of another
    family it returns (OTHER, k, bottom, top) and Python goes on with reverse1 from k."""
    R, S, AUX, A, G, MARK, LIST, BUF = (unref(R), unref(S), unref(AUX), unref(A),
                                        unref(G), unref(MARK), unref(LIST), unref(BUF))
    RF = R.view(np.float64)
    for k in range(k0, bottom - 1, -1):
        o = R[k, R_OUT]
        if MARK[o] == 0:
            continue
        op = R[k, R_OP]
        fam = FAMILY[op]
        a, b = R[k, R_IN0], R[k, R_IN1]
        if S[o, S_NUMEL] == 1 and (fam == UNARY or fam == BINARY):
            c = RF[k, R_CONST]  # written out: behind an inlined helper taking the arenas
            po, pa = S[o, S_OFF], S[a, S_OFF]  # it costs 70 ns a record, not 6
            if fam == UNARY:
                G[pa] += unary_vjp1(op, A[pa], A[po], G[po], c, RF[k, R_AUX])
            else:
                pb = S[b, S_OFF]
                ga, gb = binary_vjp1(op, A[pa], A[pb], A[po], G[po], c)
                if MARK[a] == 1:  # an unmarked input may be a detached alias (its adjoint
                    G[pa] += ga   # region is its source's)
                if MARK[b] == 1:
                    G[pb] += gb
        elif fam == BINARY:
            _binary(R, S, AUX, A, G, k, True, a >= 0 and MARK[a] == 1, b >= 0 and MARK[b] == 1)
        elif fam == UNARY:
            unary_vjp(op, A, G, S[a, S_OFF], S[o, S_OFF], S[o, S_NUMEL], RF[k, R_CONST],
                      RF[k, R_AUX])
        elif fam == COPY:
            pa, po, n = S[a, S_OFF], S[o, S_OFF], S[o, S_NUMEL]
            ga, go = span(G, pa, n), span(G, po, n)
            for i in range(n):
                ga[i] += go[i]
        elif fam == PYTHON:
            return PAUSE, k, bottom, top
        elif fam != LEAF:
            return OTHER, k, bottom, top
    return OK, _finish(R, S, AUX, MARK, LIST, BUF, bottom, top, retain), 0, top


@njit(inline="always", error_model="numpy")
def _finish(R, S, AUX, MARK, LIST, BUF, bottom, top, retain):
    """End of a sweep: list the reached leaves and retained slots in BUF (their count is
    returned) and, without `retain`, free the swept records."""
    count = 0
    for j in range(AUX[H_MARKED]):
        s = LIST[j]
        if S[s, S_FLAGS] & (S_LEAF | S_RETAIN):
            BUF[count] = s
            count += 1
    if not retain:
        for k in range(top, bottom - 1, -1):
            if MARK[R[k, R_OUT]]:
                R[k, R_FLAGS] |= R_FREED
    return count


@njit(error_model="numpy")
def _unmark(MARK, LIST, AUX, count):
    """After an error: clear this sweep's `count` marks (nothing was reached)."""
    for j in range(count):
        MARK[LIST[j]] = 0
    AUX[H_MARKED] = 0


@njit(cache=True, error_model="numpy")
def compact(R, S, AUX, A32, A64, N32, N64, roots, MARK, NEW):
    """Keep only what live tensors can reach: records (in order), slots and values.

    `roots` are the slots of live tensors and grad_fn objects. A record is kept when its
    output is kept; its inputs are kept too unless it was freed while holding saved
    values (reaching it raises anyway). A kept slot keeps its value when a live object
    holds it, an unfreed record saves it, or a sweep can still pass through it; otherwise
    its offset becomes -1. Values move to the arenas N32/N64: fresh ones when NumPy views
    of the old arenas exist (they stay valid snapshots), else the same arrays, the values
    moving down (offsets grow in record order, so a value never moves up over one not yet
    moved, and copy_into's forward loop is safe for the overlap). Slots do not move: the rows of dropped ones join
    the free list, and NEW[slot] = slot if kept, else -1. Records move down over the
    dropped ones (a record's position is the tape's business: what lives outside the
    tables holds slots, and record `seq`s)."""
    R, S, AUX, A32, A64, N32, N64, roots, MARK = (unref(R), unref(S), unref(AUX),
                                                  unref(A32), unref(A64), unref(N32),
                                                  unref(N64), unref(roots), unref(MARK))
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
        a, b, m = R[k, R_IN0], R[k, R_IN1], R[k, R_IN2]
        if R[k, R_OP] == OP_SNAPSHOT:  # a sweep may pass through: it needs the region
            MARK[o] |= KEEP_VALUE
        if _aliases(R, S, o):  # an alias keeps the value it aliases
            MARK[a] |= KEEP_ROW | (MARK[o] & KEEP_VALUE)
            continue
        MARK[o] |= KEEP_VALUE  # a sweep may pass through: its adjoint needs the region
        for i, bit in ((a, R_SAVES_IN0), (b, R_SAVES_IN1), (m, R_SAVES_IN2)):
            if i >= 0:
                MARK[i] |= KEEP_ROW
                if fl & bit and not fl & R_FREED:
                    MARK[i] |= KEEP_VALUE
    top32, top64, nr = 0, 0, 0
    for k in range(nrec):  # in record order: an alias comes after the value it aliases
        o = R[k, R_OUT]
        if MARK[o] == 0:
            continue
        p, n = S[o, S_OFF], S[o, S_NUMEL]
        if _aliases(R, S, o):  # the value it aliases has moved already
            S[o, S_OFF] = S[R[k, R_IN0], S_OFF] if MARK[o] & KEEP_VALUE else -1
        elif MARK[o] & KEEP_VALUE == 0 or p < 0:
            S[o, S_OFF] = -1  # the row stays for the graph's structure, the value is dropped
        elif S[o, S_DTYPE] == DT_F32:
            copy_into(span(N32, top32, n), span(A32, p, n), n)
            S[o, S_OFF] = top32
            top32 += n
        else:
            copy_into(span(N64, top64, n), span(A64, p, n), n)
            S[o, S_OFF] = top64
            top64 += n
        for f in range(R.shape[1]):
            R[nr, f] = R[k, f]
        for f in (R_IN0, R_IN1, R_IN2):  # an input a freed record no longer keeps
            if R[k, f] >= 0 and MARK[R[k, f]] == 0:
                R[nr, f] = -1
        S[o, S_REC] = nr
        nr += 1
    # the free list, lowest row first; rows above the highest kept one are simply unused
    used = 0
    for s in range(nslot - 1, -1, -1):
        if MARK[s] != 0:
            used = s + 1
            break
    head = -1
    for s in range(used - 1, -1, -1):
        NEW[s] = s if MARK[s] != 0 else -1
        if MARK[s] == 0:
            for f in range(S.shape[1]):
                S[s, f] = 0
            S[s, S_OFF] = -1
            S[s, S_FLAGS] = S_FREE
            S[s, S_REC] = head
            head = s
    for s in range(used, nslot):
        NEW[s] = -1
        for f in range(S.shape[1]):
            S[s, f] = 0
    AUX[H_NREC] = nr
    AUX[H_NSLOT] = used
    AUX[H_FREE] = head
    AUX[H_TOP32] = top32
    AUX[H_TOP64] = top64
    MARK[:nslot] = 0
    AUX[H_MARKED] = 0
    return nr
