"""Planning a recording for replay: drop what reaches no output, reuse registers by
liveness, and run a scalar tape as a compact program (DESIGN C4).

A recording of scalar code (a Python loop over one-element tensors: an ODE step, a
likelihood written term by term) is planned into a `ScalarProgram` when every record it
needs computes one element:

- **Dead records are dropped.** Only the records that the output, the extra outputs or a
  guarded value depend on are kept (a value the function computed and never used costs
  nothing on replay).
- **Registers instead of slots.** Each kept value gets a register of a flat file V; a
  leaf (input or constant) gets one register per element. A select of an element of a
  leaf (`p[0]`) or a one-element copy, sum or mean becomes a move; a detach is no row at
  all (the same register, no adjoint).
- **Liveness.** A value register is reused once its last reader has run, unless a reverse
  row reads it (the saved values of PyTorch's terms) or Python does (outputs, guards). The
  reverse rows zero the adjoint register they consume, so adjoint registers are reused
  too: a 1,000-step ODE needs a handful, not 11,000.
- **The same numbers.** Rows run in the eager sweep's order with its element kernels, and
  an adjoint starts at zero and takes its terms in the same order: value and gradient are
  the eager sweep's bit for bit.

The rows are what the reverse sweep of the recording would mark, found here once: the
replay needs no marking pass and no version checks (a recording's private tape is never
written by anything else). A recording with any other record (a vector op, a matmul, a
where, a cast, a custom Function) is replayed by the engine's sweeps over its tape.
"""

import numpy as np

from ..ops import BY_CODE
from ..ops.spec import BINARY, COPY, LEAF, REDUCE, STRIDED, UNARY
from ..tape import sweep
from ..tape.dispatch import OP_DETACH, OP_LEAF
from ..tape.records import (R_CONST, R_AUX, R_IN0, R_IN1, R_IN2, R_OP, R_OUT, S_DTYPE, S_FLAGS,
                            S_NUMEL, S_OFF, S_RG)
from ._scalar import K_BINARY, K_MOVE, K_UNARY

_REDUCE_MOVES = {s.opcode for s in BY_CODE.values() if s.family == REDUCE and
                 s.name in ("sum", "sum_dim", "mean", "mean_dim")}  # over one element: the element itself


class ScalarProgram:
    """A planned scalar program (see the module docstring): the rows, the register files,
    where the inputs, output, extras and guards live, and the planning counts."""

    def __init__(self, F, FC, B, BC, nv, ng, dtype, consts, ins, out, extras, guards, root,
                 nclear, counts):
        self.F, self.FC, self.B, self.BC = F, FC, B, BC
        self.V = np.zeros(nv, dtype)
        for reg, value in consts:
            self.V[reg] = value
        self.G = np.zeros(ng, dtype)
        self.ins = ins          # [(first register, element count)] per input
        self.out = out          # the output's register (one element) or None
        self.extras = extras    # [register or None] per extra output
        self.guards = guards    # [(first register, count, expected bytes, slot)]
        self.root, self.nclear = root, nclear
        self.counts = counts    # (records recorded, planned, value slots, registers,
                                #  adjoint slots, adjoint registers)
        # loop rolling (tapegrad/func/_roll.py, _calls.py: roll_due): the replays so far
        # and the count to look again at (set by the counting call), the plan (source,
        # listing line) or () once looked at, and the compiled module once rolled
        self.replays, self.when = 0, None
        self.rolled = self.module = None

    def summary(self):
        rec, kept, vs, vr, gs, gr = self.counts
        nbytes = sum(a.nbytes for a in (self.V, self.G, self.F, self.FC, self.B, self.BC))
        return (f"-- planned for replay as a scalar program: {kept} of {rec} records kept "
                f"({len(self.F)} forward rows, {len(self.B)} reverse rows); value slots {vs} -> "
                f"{vr} registers, adjoint slots {gs} -> {gr} registers; "
                f"{nbytes:,} bytes")


def plan_scalar(tape, in_slots, out, extra_slots, guard_slots):
    """The ScalarProgram of a one-dtype recording, or None when some needed record is not
    a one-element op (module docstring). `out` is the output slot (it depends on the
    inputs), `extra_slots` the extras' slots (None: not on the tape), `guard_slots` the
    guarded slots."""
    n = tape.nrecords
    if tape.S[out, S_NUMEL] != 1:
        return None
    R = tape.R[:n].tolist()
    S = tape.S
    numel = S[:, S_NUMEL]
    canon = {}  # slot -> the slot whose register holds its value (a detach's source)

    def c(s):
        return canon.get(s, s)

    leaves = {}   # leaf slot -> element count
    kinds = {}    # record -> (kind, source slot of a move or None, element of it)
    for k in range(n):
        r = R[k]
        op, o = r[R_OP], r[R_OUT]
        fam = BY_CODE[op].family
        if op == OP_LEAF:
            leaves[o] = int(numel[o])
            continue
        if op == OP_DETACH:
            canon[o] = c(r[R_IN0])
            continue
        if numel[o] != 1 or fam == LEAF:  # (in-place fills, snapshots)
            kinds[k] = None  # not scalar: fatal only if the record is needed
            continue
        a = c(r[R_IN0])
        if fam == UNARY:
            kinds[k] = (K_UNARY, None, 0)
        elif fam == BINARY:
            kinds[k] = (K_BINARY, None, 0)
        elif fam in (STRIDED, COPY) or (op in _REDUCE_MOVES and numel[a] == 1):
            if numel[a] == 1:
                kinds[k] = (K_MOVE, a, 0)
            elif a in leaves and fam == STRIDED:
                kinds[k] = (K_MOVE, a, _probe(tape, k, a))
            else:
                kinds[k] = None
        else:
            kinds[k] = None

    # the records the output, extras and guards need (a walk down from the last record)
    wanted = [out] + [s for s in extra_slots if s is not None] + list(guard_slots)
    need = {c(s) for s in wanted}
    kept = []
    for k in range(n - 1, -1, -1):
        r = R[k]
        o = r[R_OUT]
        if o not in need or k not in kinds:
            continue
        if kinds[k] is None:
            return None
        kept.append(k)
        for f in (R_IN0, R_IN1, R_IN2):
            if r[f] >= 0:
                need.add(c(r[f]))
    kept.reverse()
    if any(c(s) not in leaves and s not in need for s in in_slots):
        return None  # (cannot happen: inputs are leaves)

    # the reverse rows: what the reverse sweep from `out` marks (inputs that require grad)
    rg = S[:, S_FLAGS] & S_RG
    marked = {out}
    rev = []
    for k in reversed(kept):
        r = R[k]
        if r[R_OUT] not in marked:
            continue
        rev.append(k)
        for f in (R_IN0, R_IN1, R_IN2):
            i = r[f]
            if i >= 0 and rg[i]:
                marked.add(i)

    # value registers: leaves first (inputs in order, then constants), then by liveness
    reg, nv = {}, 0
    for s in list(in_slots) + [s for s in leaves if s not in in_slots]:
        reg[s] = nv
        nv += leaves[s]
    pinned = {c(s) for s in wanted} | set(leaves)
    for k in rev:
        r = R[k]
        pinned.update(c(r[f]) for f in (R_IN0, R_IN1, R_OUT) if r[f] >= 0)
    last = {}
    for k in kept:
        r = R[k]
        for f in (R_IN0, R_IN1):
            if r[f] >= 0:
                last[c(r[f])] = k
    free = []
    F, FC = [], []
    RF = tape.R[:n].view(np.float64)
    for k in kept:
        r = R[k]
        kind, src, elem = kinds[k]
        a = c(r[R_IN0])
        b = c(r[R_IN1]) if kind == K_BINARY else -1
        ra = reg[a] + elem if kind == K_MOVE else reg[a]
        rb = reg[b] if b >= 0 else 0
        for s in {a, b}:
            if s >= 0 and last.get(s) == k and s not in pinned:
                free.append(reg[s])
        o = r[R_OUT]
        if free:
            reg[o] = free.pop()
        else:
            reg[o], nv = nv, nv + 1
        F.append((kind, r[R_OP], reg[o], ra, rb))
        FC.append((RF[k, R_CONST], RF[k, R_AUX]))  # (unary records keep c2 in `aux`)

    # adjoint registers: the inputs' first (read by Python), the sink, then by liveness
    greg, ng = {}, 0
    for s in in_slots:
        greg[s] = ng
        ng += leaves[s]
    sink = ng
    ng += 1
    gfree = []
    root = greg.get(out)
    if root is None:
        root = greg[out] = ng
        ng += 1
    B, BC = [], []
    for k in rev:
        r = R[k]
        kind, src, elem = kinds[k]
        o = r[R_OUT]
        go = greg.pop(o)
        gfree.append(go)
        row = [kind, r[R_OP], reg[o], 0, 0, go, sink, sink]
        ins = (R_IN0, R_IN1) if kind == K_BINARY else (R_IN0,)
        for j, f in enumerate(ins):
            i = r[f]
            row[3 + j] = reg[c(i)] + (elem if kind == K_MOVE else 0)
            if rg[i] and i in marked:
                if i in leaves:
                    row[6 + j] = greg[i] + elem
                else:
                    if i not in greg:
                        greg[i] = gfree.pop() if gfree else ng
                        ng = max(ng, greg[i] + 1)
                    row[6 + j] = greg[i]
        B.append(row)
        BC.append((RF[k, R_CONST], RF[k, R_AUX]))

    dtype = tape.A[int(S[out, S_DTYPE])].dtype
    consts = []
    for s, m in leaves.items():
        if s not in in_slots:
            off = S.item(s, S_OFF)
            A = tape.A[int(S[s, S_DTYPE])]
            for j in range(m):
                consts.append((reg[s] + j, A[off + j]))

    def where(s):
        return None if s is None else reg[c(s)]

    ins = [(reg[s], leaves[s]) for s in in_slots]
    guards = []
    for s, want in guard_slots.items():
        guards.append((reg[c(s)], int(numel[s]), want.view(np.uint8), s))
    slots_v = len(kept) + len(leaves)
    counts = (n, len(kept) + len(leaves), slots_v, nv, len(marked), ng)
    prog = ScalarProgram(_rows(F, 5), _floats(FC), _rows(B, 8), _floats(BC), nv, ng, dtype,
                         consts, ins, where(out), [where(s) for s in extra_slots], guards,
                         root, sink + 1, counts)
    prog.kept = np.array(sorted(kept + [k for k in range(n) if R[k][R_OUT] in leaves]),
                         np.int64)  # the recorded records the program computes (listing)
    return prog


def _rows(rows, width):
    return np.array(rows, np.int64).reshape(-1, width)


def _floats(rows):
    return np.array(rows, np.float64).reshape(-1, 2)


def positions_read(tape, k, src):
    """The positions in slot `src` that record k (a gather of it) reads, one per output
    element in order: k run once on copies of the arenas in which src holds 0, 1, 2, ..."""
    S = tape.S
    A32, A64 = tape.A[0].copy(), tape.A[1].copy()
    A = (A32, A64)[int(S[src, S_DTYPE])]
    off, m = S.item(src, S_OFF), S.item(src, S_NUMEL)
    A[off:off + m] = np.arange(m)
    sweep.forward(tape.R, S, tape.AUX, A32, A64, k, k + 1)
    o = tape.R[k, R_OUT]
    po = S.item(o, S_OFF)
    return (A32, A64)[int(S[o, S_DTYPE])][po:po + S.item(o, S_NUMEL)].astype(np.int64)


def _probe(tape, k, src):
    """The element of leaf `src` that record k (a one-element gather of it) selects."""
    return int(positions_read(tape, k, src)[0])


def live_records(tape, wanted):
    """The records (indices, in order) that the slots `wanted` depend on, for a replay's
    forward sweep over a tape of any kind; all records when one writes a value in place
    (a fill or a snapshot: what it overwrites is not an input edge)."""
    n = tape.nrecords
    ops = tape.R[:n, R_OP]
    special = [s.opcode for s in BY_CODE.values() if s.family == LEAF and
               s.opcode not in (OP_LEAF, OP_DETACH)]
    if np.isin(ops, special).any():
        return np.arange(n)
    R = tape.R[:n].tolist()
    need = set(int(s) for s in wanted)
    keep = []
    for k in range(n - 1, -1, -1):
        r = R[k]
        if r[R_OUT] in need:
            keep.append(k)
            for f in (R_IN0, R_IN1, R_IN2):
                if r[f] >= 0:
                    need.add(r[f])
    return np.array(keep[::-1], np.int64)
