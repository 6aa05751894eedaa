"""Recorded backward templates: a create_graph walk over a graph it has walked before
appends the same records again without running the formulas.

A create_graph=True backward (higher.py `walk`) runs, in Python, each marked record's
`grad` formula, which records new ops: some 12 us a record on Rosenbrock, where the plain
compiled sweep takes 1. What a walk appends depends only on the walked graph's structure
(ops, parameters, shapes, dtypes, which inputs need a gradient), on the seeds, and on the
values the computation reads (masks of piecewise-linear ops, the ties of a max, anything
computed without a record from a value of the graph). So the first walk over a structure
runs as usual and the records it appended are kept as a template, keyed by that
structure: each record's opcode, parameters, flags and output shape, its inputs written
as references to (a) a slot of the walked graph, by its position in the walk's canonical
numbering, (b) an earlier template record, (c) a seed, or (d) a constant the walk loaded,
kept by value (the parts of the gradient computed without records: they come from the
seeds, all ones, and from the formulas' constants). A later walk of the same structure
appends the template's records through the tape's compiled recorders (the same kernels in
the same order: the gradients are bit for bit the walk's) and builds its gradient tensors
from the template's map.

Cached only when that holds: seeds that are all ones (grad_outputs None) or tape tensors;
no value of the tape changed in place since it was recorded (the tape is not `dirty`);
no value read during the walk (Tape.value and the formulas' `GradCtx.value` count in
READS); only op, constant, cast and seed records appended, and gradients that are template
records, graph slots, seeds or constants. Never cached: walks through custom Functions,
hooked tensors, packed saved tensors, or while the tape's record methods are wrapped
(anomaly mode, forward AD, the profiler). At most MAX_TEMPLATES structures per tape are
kept (then the cache starts over).
"""

import numpy as np

from ..ops.spec import CAST, INDEX, LEAF, PYTHON, TERNARY
from ..tape.dispatch import FAMILY, OP_LEAF
from ..tape.records import (R_AUX, R_CONST, R_FLAGS, R_FREED, R_IMPLICIT, R_IN0, R_IN1, R_IN2,
                            R_OP, R_OUT, S_DTYPE, S_FLAGS, S_LEAF, S_NUMEL, S_OFF, S_REC,
                            S_RETAIN, S_RG, S_SHAPE)
from ..tape.tape import VALUE_READS as READS, Tape, _fast
from ..tape import sweep
from ..tensor import _from_array, _on_tape

MAX_TEMPLATES = 64
ENABLED = True  # (tests compare against walks without templates)
HITS = [0]      # replays of a template, for tests
_FIELDS = (R_OUT, R_IN0, R_IN1, R_IN2)
_SLOT_BITS = S_RG | S_LEAF | S_RETAIN
_UNCACHEABLE = object()
_PLAIN = tuple(Tape.__dict__[name] for name in ("record", "record_wide", "record_cast"))
_WIDE = (INDEX, TERNARY)
_FAMILY = FAMILY.tolist()
_KEEP_FLAGS = ~R_FREED
_SLOT_COLS = np.array([S_SHAPE, S_DTYPE, S_FLAGS])


def key(tape, rows, roots, seeds, marked_set):
    """(the walk's structure key, its canonical slot numbering), or None when a walk of
    these rows is never cached."""
    if not ENABLED or tape.dirty or (Tape.record, Tape.record_wide, Tape.record_cast) != _PLAIN:
        return None  # wrapped record methods (anomaly mode, forward AD, the profiler), or
        # values changed in place (a walk reads them through snapshot records)
    for g in seeds:
        if g._tape is None:
            v = g._arr
            if not (v.item() == 1 if v.size == 1 else (v == 1).all()):
                return None  # a seed of other values: what the walk computes without
                # records from it (the gradients until they meet a tensor requiring grad)
                # would be stale
    canon = {-1: -1}  # slot -> canonical id, in order of first use (-1: no input)
    n = 0
    for s in roots:
        if s not in canon:
            canon[s] = n
            n += 1
    flat = []
    add, put, get = flat.extend, flat.append, canon.get
    for row in rows:  # (R_OP, R_FLAGS, R_OUT, R_IN0, R_IN1, R_AUX, R_CONST, R_SEQ, R_IN2)
        op = row[0]
        if _FAMILY[op] == PYTHON:
            return None
        add((op, row[1] & _KEEP_FLAGS, row[5], row[6]))
        for s in (row[2], row[3], row[4], row[8]):  # out, in0, in1, in2
            c = get(s)
            if c is None:
                c = canon[s] = n
                n += 1
            put(c)
    del canon[-1]
    ids = list(canon)
    info = tape.S.take(ids, axis=0)[:, _SLOT_COLS]
    info[:, 2] &= _SLOT_BITS
    marks = bytes(s in marked_set for s in ids)
    seed_part = tuple((g._shape, g._dtype.code, g._tape is None) for g in seeds)
    return (tuple(flat), info.tobytes(), marks, seed_part), canon


def store(tape, k, canon, seeds, n0, acc):
    """Keep the records appended since record n0 (the walk's) as the template of key k,
    or note that k is not cached."""
    tpl = _capture(tape, canon, seeds, n0, acc)
    if len(tape.templates) >= MAX_TEMPLATES:
        tape.templates.clear()
    tape.templates[k] = _UNCACHEABLE if tpl is None else tpl


def uncacheable(tpl):
    return tpl is _UNCACHEABLE


def _capture(tape, canon, seeds, n0, acc):
    R, S = tape.R, tape.S
    n1 = int(tape.AUX[sweep.H_NREC])
    nc = len(canon)
    # a seed on the tape is an external slot; a seed of ones loaded (and what was loaded
    # of its views) is a constant like the formulas' own
    seed_slot = {g._slot: nc + j for j, g in enumerate(seeds) if g._tape is tape}
    made = {}  # slot appended by the walk -> its template row
    rows, consts, pools = [], [], ([], [])
    for k in range(n0, n1):
        row = R[k].tolist()
        op, o = row[R_OP], row[R_OUT]
        fam = FAMILY[op]
        sflags = S.item(o, S_FLAGS)
        t = [0] * 11
        t[sweep.T_OP], t[sweep.T_AUX] = op, row[R_AUX]
        t[sweep.T_SHAPE], t[sweep.T_DTYPE] = S.item(o, S_SHAPE), S.item(o, S_DTYPE)
        t[sweep.T_SFLAGS], t[sweep.T_RFLAGS] = sflags, row[R_FLAGS]
        t[sweep.T_IN0] = t[sweep.T_IN1] = t[sweep.T_IN2] = -1
        if fam == LEAF:
            if op != OP_LEAF or sflags & (S_RG | S_LEAF):
                return None  # an alias, a fill_, a (re)loaded leaf: the walk runs
            off, n, code = S.item(o, S_OFF), S.item(o, S_NUMEL), S.item(o, S_DTYPE)
            t[sweep.T_KIND], t[sweep.T_POOL] = sweep.T_CONST, sum(len(v) for v in pools[code])
            pools[code].append(tape.A[code][off:off + n].copy())
        elif fam == PYTHON:
            return None
        else:
            t[sweep.T_KIND] = (sweep.T_WIDE if fam in _WIDE else
                               sweep.T_CAST if fam == CAST else sweep.T_RECORD)
            for f, tf in ((R_IN0, sweep.T_IN0), (R_IN1, sweep.T_IN1), (R_IN2, sweep.T_IN2)):
                s = row[f]
                if s < 0:
                    continue
                if s in made:
                    t[tf] = made[s]
                elif s in seed_slot:
                    t[tf] = -2 - seed_slot[s]
                elif s in canon:
                    t[tf] = -2 - canon[s]
                else:
                    return None  # a slot outside the graph and the template
        made[o] = len(rows)
        rows.append(t)
        consts.append(np.int64(row[R_CONST]).view(np.float64).item())
    grads = []
    for s, t in acc.items():
        if s not in canon:
            return None
        if t._tape is tape and t._slot in made:
            ref = ("rec", made[t._slot], t._shape, t._dtype, t._rg)
        elif t._tape is tape and t._slot in canon:
            ref = ("canon", canon[t._slot])
        elif any(t is g for g in seeds):
            ref = ("seed", next(j for j, g in enumerate(seeds) if t is g))
        elif t._tape is None and not t._rg:  # computed without records from the seeds
            ref = ("const", np.array(t._arr), t._dtype)
        else:
            return None
        grads.append((canon[s], ref))
    T = np.array(rows, np.int64).reshape(-1, 11)
    P = [np.concatenate(p).astype(dt) if p else np.zeros(0, dt)
         for p, dt in zip(pools, (np.float32, np.float64))]
    need = [0, 0]  # arena elements the records take, per dtype
    for j in range(T.shape[0]):
        dims = tape._dims(int(T[j, sweep.T_SHAPE]))
        need[int(T[j, sweep.T_DTYPE])] += int(np.prod(dims))
    return T, np.array(consts, np.float64), P[0], P[1], need, grads


def replay(tape, tpl, canon, seeds, slot_tensor):
    """Append template tpl's records for the walk whose canonical numbering is `canon`;
    returns the walk's {slot: gradient Tensor}. `slot_tensor(s)` gives slot s's Tensor."""
    T, C, P32, P64, need, grads = tpl
    HITS[0] += 1
    by_id = list(canon)  # canonical id -> this walk's slot
    ext = by_id + [g._slot if g._tape is tape else -1 for g in seeds]
    m = T.shape[0]
    head = tape.AUX[:sweep.AUX_HEADER].tolist()
    if max(head[sweep.H_NREC], head[sweep.H_NSLOT]) + m >= tape.R.shape[0] or any(
            head[sweep.H_TOP32 + c] + need[c] > tape.A[c].shape[0] for c in (0, 1)):
        for c in (0, 1):  # (the walk's tape is pinned: make_room grows, never compacts)
            tape.make_room(need[c] + m, c, ())
    out = np.empty(m, np.int64)
    ext = np.array(ext, np.int64)
    args = (tape.R, tape.S, tape.AUX, tape.A[0], tape.A[1], T, C, P32, P64, ext, out, 0)
    fn = _ENTRY[0]
    if fn is None:
        fn = _ENTRY[0] = _fast(sweep.append_template, *args)
    j = fn(*args)
    while j < m:  # (a table filled up after all: grow, go on)
        for c in (0, 1):
            tape.make_room(need[c] + m, c, ())
        j = fn(tape.R, tape.S, tape.AUX, tape.A[0], tape.A[1], T, C, P32, P64, ext, out, j)
    tape.codes |= (1 << 0 if need[0] else 0) | (1 << 1 if need[1] else 0)
    return _Grads(tape, out.tolist(), by_id, grads, seeds, slot_tensor)


class _Grads:
    """The walk's {slot: gradient Tensor} after a replay: each Tensor is made when it is
    asked for (`get`; the callers gather only the inputs', of a dozen or more)."""

    __slots__ = ("tape", "out", "refs", "seeds", "slot_tensor", "made")

    def __init__(self, tape, out, by_id, grads, seeds, slot_tensor):
        self.tape, self.out, self.seeds, self.slot_tensor = tape, out, seeds, slot_tensor
        self.refs = {by_id[cid]: ("canon", by_id[ref[1]]) if ref[0] == "canon" else ref
                     for cid, ref in grads}
        self.made = {}

    def get(self, s, default=None):
        t = self.made.get(s)
        if t is not None:
            return t
        ref = self.refs.get(s)
        if ref is None:
            return default
        kind = ref[0]
        if kind == "rec":
            _, i, shape, dt, rg = ref
            t = _on_tape(self.tape, self.out[i], shape, dt, rg)
        elif kind == "canon":
            t = self.slot_tensor(ref[1])
        elif kind == "seed":
            t = self.seeds[ref[1]]
        else:
            t = _from_array(ref[1].copy(), ref[2], False)
        self.made[s] = t
        return t


_ENTRY = [None]  # the compiled append_template entry point (tape arrays' types are fixed)
