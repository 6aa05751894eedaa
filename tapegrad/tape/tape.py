"""Tape: one thread's record table, slot table, aux pool and arenas, and their upkeep.

Recording appends through the compiled `sweep.record`; this class grows the tables by
doubling, loads leaves and constants, and keeps memory bounded: before a table doubles,
`compact` keeps only what live tensors (and grad_fn objects) can still reach.
"""

import contextlib
import gc
import sys
import threading
from typing import Iterator
import weakref

import numpy as np
from numba import typeof

from . import notice, sweep
from ..ops.spec import BINARY, UNARY
from .dispatch import FAMILY, OP_DETACH, OP_PYTHON, OP_SNAPSHOT
from .records import (DT_F32, DT_F64, R_IMPLICIT, R_IN0, R_IN2, R_OP, R_SEQ, RECORD, S_DTYPE,
                      S_FLAGS, S_LEAF, S_NUMEL,
                      S_OFF, S_REC, S_RG, S_SHAPE, S_VER, SLOT)

_KR, _KS = len(RECORD.names), len(SLOT.names)
_FEW_RECORDS = 512        # make_room after fewer records than this since the last one ...
_FREQUENT_CAP = 1 << 18   # ... grows the arena, up to this many elements (beyond, the
                          # work on the values outweighs compaction, and a small arena stays
                          # in cache: Rosenbrock n=1,000 eager 24 -> 21.5 us a call at 1 << 18
                          # against 1 << 20; past it, growth follows the half-full rule)
_SETTLE_BYTES = 1 << 21   # a backward that freed its graph compacts when more value bytes
                          # than this were recorded since the last compaction (settle)
_ELEMENTWISE = [int(f in (UNARY, BINARY)) for f in FAMILY.tolist()]  # opcode -> 0 or 1
_ARENA_REFS = 2  # sys.getrefcount(self.A[c]) when no NumPy view of the arena exists (the
                 # list and the call's argument; a view's base is the arena itself)
VALUE_READS = [0]  # values read through Tape.value (and create_graph formulas' ctx.value)
_PRUNE_MIN = 256          # prune() looks at the handles appended since it last ran once
                          # there are this many
notice.watch(sweep)  # a first-ever compile prints one line on stderr (tape/notice.py)


def _fast(dispatcher, *args):
    """The compiled entry point of `dispatcher` for these argument types.

    Calling it skips Numba's per-call type dispatch (about 95 ns per array argument on
    a 2-core machine): safe only because tapegrad always passes exactly these types."""
    key = tuple(typeof(a) for a in args)
    if key not in dispatcher.overloads:
        dispatcher.compile(key)
    return dispatcher.overloads[key].entry_point


class _Probe:
    __slots__ = ()


class Tape:
    """A flat Wengert tape (see tapegrad/tape/records.py for the glossary)."""

    def __init__(self, records=4096, elements=1 << 15, aux=4096):
        self.R = np.zeros((records, _KR), np.int64)
        self.S = np.zeros((records, _KS), np.int64)
        self.AUX = np.zeros(aux, np.int64)
        self.AUX[sweep.H_NAUX] = sweep.AUX_HEADER
        self.AUX[sweep.H_FREE] = -1  # no free slot row yet
        self.A = [np.zeros(elements, np.float32), np.zeros(elements, np.float64)]
        self.G = [np.zeros(0, np.float32), np.zeros(0, np.float64)]
        self.MARK = np.zeros(records, np.uint8)
        self.LIST = np.zeros(records, np.int64)  # the slots the last sweep marked
        self.BUF = np.zeros(records, np.int64)
        self.NEW = np.zeros(records, np.int64)
        self.ROOT = np.zeros(1, np.int64)  # the roots of a sweep from one tensor (engine)
        self.handles = []     # objects holding a slot of this tape: the compaction roots
        self.leaf_of = {}     # leaf slot -> the leaf tensor (requires grad) loaded there
        self.leaf_slots = {}  # id(leaf tensor) -> its slots (the tensor is in leaf_of)
        self.loaded = []      # [slot, version] of every value loaded from a tensor's array
        self.python_vjp = {}  # seq of a PYTHON record -> its backward (a Python function)
        self.templates = {}   # a create_graph walk's structure -> the records it appended
                              # (tapegrad/autograd/_walk_cache.py)
        self.packed = {}      # seq of a record -> its saved-tensor hook entries
                              # (tapegrad/autograd/saved_hooks.py)
        self.dirty = False    # a slot was changed in place: new reads check for snapshots
        self.codes = 0        # bit 1 << dtype code for each arena holding a slot
        self.plan = None      # a replay's plan of this (recorded, pinned) tape: (the kept
                              # records' indices, a summary line); the listing shows it
        self._seq_compacted = 0  # the record count (seq) at the last make_room
        self._settled = 0     # value bytes in the arenas after the last compaction
        self.retained = {}    # slot -> tensor that called retain_grad()
        self.interned = {}    # tuple of ints -> aux offset
        self.nodes = weakref.WeakValueDictionary()  # slot -> its grad_fn object, while alive
        self.epoch = 0        # bumped by compaction: cached leaf slots are then stale
        self._entries = [None] * 4  # compiled record entry points by (elementwise, dtype)
        self._loads = [None] * 2    # compiled load entry points by dtype
        self.families = -1    # bit 1 << family for the families the last sweep met
        self.reads = None     # while tapegrad.func records a function: its guard list
        self.pinned = 0       # > 0 while a sweep (or a Python walk) holds record positions:
                              # make_room then only grows the tables, never compacts
        self._pruned = 0      # handles[:_pruned] were alive when prune/compact last looked
        self._busy = False    # compact or prune is going through `handles`

    # ---- aux pool: shapes and op parameters, interned ---------------------------------
    def intern(self, values, tag):
        """aux offset of a tuple of ints (op parameters), stored once per tape."""
        key = (tag, values)
        off = self.interned.get(key)
        if off is None:
            key = values
            n = int(self.AUX[sweep.H_NAUX])
            while n + len(key) > self.AUX.shape[0]:
                self.AUX = np.concatenate([self.AUX, np.zeros_like(self.AUX)])
            self.AUX[n:n + len(key)] = key
            self.AUX[sweep.H_NAUX] = n + len(key)
            self.interned[(tag, values)] = off = n
        return off

    def shape(self, shape):
        """aux offset of a shape tuple ([ndim, dims...])."""
        off = self.interned.get(shape)
        return off if off is not None else self._intern_shape(shape)

    def _intern_shape(self, shape):
        off = self.intern((len(shape),) + tuple(shape), "shape")
        self.interned[shape] = off  # a tuple of dims is its own key: one dict lookup
        return off

    # ---- recording ----------------------------------------------------------------------
    def record(self, op, in0, in1, aux, c, shape, code, sflags):
        """Append a record (op, inputs, aux offset, float const) and compute its output in
        the arena of dtype `code`; returns the output slot."""
        self.codes |= 1 << code
        key = code + 2 * _ELEMENTWISE[op]
        fn = self._entries[key]
        if fn is None:
            entry = sweep.record_elementwise if _ELEMENTWISE[op] else sweep.record
            fn = self._entries[key] = _fast(entry, self.R, self.S, self.AUX, self.A[code], 0, 0,
                                            0, 0, 0.0, 0, 0, 0)
        s = fn(self.R, self.S, self.AUX, self.A[code], op, in0, in1, aux, c, shape, code, sflags)
        if s < 0:
            dims = self._dims(shape if shape >= 0 else self.S[in0, S_SHAPE])
            numel = int(np.prod(dims))
            try:
                in0, in1 = self.make_room(numel, code, (in0, in1))
            except MemoryError as e:
                from ..ops import BY_CODE

                raise MemoryError(f"{BY_CODE[op].name}: can't allocate the output of shape "
                                  f"{list(dims)} ({'float32' if code == 0 else 'float64'}, "
                                  f"{numel:,} elements): {e}") from None
            s = fn(self.R, self.S, self.AUX, self.A[code], op, in0, in1, aux, c, shape, code,
                   sflags)
        return s

    def record_wide(self, op, in0, in1, in2, aux, c, shape, code, sflags):
        """`record` for the INDEX and TERNARY families (a third input in2; an index, in1,
        lives in the float64 arena); `shape` is an aux offset."""
        self.codes |= 1 << code
        s = sweep.record_wide(self.R, self.S, self.AUX, self.A[0], self.A[1], op, in0, in1, in2,
                              aux, c, shape, code, sflags)
        if s < 0:
            in0, in1, in2 = self.make_room(int(np.prod(self._dims(shape))), code,
                                           (in0, in1, in2))
            s = sweep.record_wide(self.R, self.S, self.AUX, self.A[0], self.A[1], op, in0, in1,
                                  in2, aux, c, shape, code, sflags)
        return s

    def record_cast(self, in0, code, sflags, implicit=False):
        """Append a float32 <-> float64 copy; `implicit` for a promotion inside an op."""
        rflags = R_IMPLICIT if implicit else 0
        self.codes |= 3  # both arenas
        s = sweep.record_cast(self.R, self.S, self.AUX, self.A[0], self.A[1], in0, code, sflags,
                              rflags)
        if s < 0:
            (in0,) = self.make_room(int(self.S[in0, S_NUMEL]), code, (in0,))
            s = sweep.record_cast(self.R, self.S, self.AUX, self.A[0], self.A[1], in0, code,
                                  sflags, rflags)
        return s

    def alias(self, slot):
        """A slot aliasing `slot`'s value without its history (detach(), .data), or the slot
        itself when it needs no grad (nothing to cut). Shares its version counter."""
        if not self.S[slot, S_FLAGS] & S_RG:
            return slot
        return self._alias(slot, OP_DETACH, 0, 0)

    def snapshot(self, slot):
        """A slot aliasing `slot`'s value and adjoint whose version counts from now: what a
        new record reads of a value changed in place since it was recorded."""
        return self._alias(slot, OP_SNAPSHOT, int(self.S[slot, S_FLAGS]) & S_RG, R_IMPLICIT)

    def _alias(self, slot, op, sflags, rflags):
        s = sweep.alias(self.R, self.S, self.AUX, slot, op, sflags, rflags)
        if s < 0:
            (slot,) = self.make_room(0, DT_F32, (slot,))
            s = sweep.alias(self.R, self.S, self.AUX, slot, op, sflags, rflags)
        return s

    def _root(self, slot):
        """The slot whose value `slot` aliases (itself when it aliases none)."""
        k = self.S[slot, S_REC]
        op = self.R[k, R_OP]
        return int(self.R[k, R_IN0]) if op == OP_DETACH or op == OP_SNAPSHOT else slot

    def bump(self, slot, written=False):
        """Count an in-place change of slot's value (of the value it aliases, for an alias);
        from now on new records read the value through a snapshot (tapegrad.functions).
        `written`: the arena value itself was overwritten, with no record of it."""
        self.S[self._root(slot), S_VER] += 1
        self.dirty = True
        if written and self.reads is not None:  # a traced function wrote a value: a replay
            self.reads.changed(slot)            # would not redo it

    def version(self, slot):
        """In-place changes of slot's value since it was recorded (see `bump`)."""
        root = self._root(slot)
        v = int(self.S[slot, S_VER])
        return v + int(self.S[root, S_VER]) if root != slot else v

    def overwrite(self, slot, value, op):
        """A record `op` (fill_, zero_, ... of the op table) whose output, requiring grad,
        holds `value` (its own storage) and whose history is `slot` with a zero gradient:
        an in-place op that replaces a value requiring grad by one that does not depend
        on it. Returns the output slot."""
        code = int(self.S[slot, S_DTYPE])
        src = np.ascontiguousarray(value, self.A[code].dtype).reshape(-1)
        shp = int(self.S[slot, S_SHAPE])
        s = sweep.load(self.R, self.S, self.AUX, self.A[code], src, shp, code, S_RG)
        if s < 0:
            (slot,) = self.make_room(src.size, code, (slot,))
            shp = int(self.S[slot, S_SHAPE])
            s = sweep.load(self.R, self.S, self.AUX, self.A[code], src, shp, code, S_RG)
        k = self.S[s, S_REC]
        self.R[k, R_OP] = op
        self.R[k, R_IN0] = slot
        return s

    def record_python(self, ins, value, vjp, code, rg):
        """Append a PYTHON record over input slots `ins` (at most 3) whose output is the
        NumPy array `value`; at backward, vjp(output adjoint) returns one adjoint (or None)
        per input. Returns the output slot."""
        ins = list(ins) + [-1] * (3 - len(ins))
        n = value.size
        head = self.AUX[:sweep.AUX_HEADER].tolist()  # the counters, as Python ints
        if max(head[sweep.H_NREC], head[sweep.H_NSLOT]) + 1 >= self.R.shape[0] or \
                head[sweep.H_TOP32 + code] + n > self.A[code].shape[0]:
            ins = list(self.make_room(n, code, tuple(ins)))  # renumbers all three
            head = self.AUX[:sweep.AUX_HEADER].tolist()
        shape = self.shape(tuple(value.shape))
        s = self.record(OP_PYTHON, ins[0], ins[1], -1, 0.0, shape, code, S_RG if rg else 0)
        k, off = head[sweep.H_NREC], head[sweep.H_TOP32 + code]  # there was room: appended
        if ins[2] >= 0:
            self.R[k, R_IN2] = ins[2]
        if n == 1:
            self.A[code][off] = value.reshape(-1)[0]
        elif n:
            self.A[code][off:off + n] = value.reshape(-1)
        self.python_vjp[head[sweep.H_SEQ]] = vjp
        return s

    def load(self, t, dt):
        """Slot holding tensor t's value as dtype dt (a float dtype): a leaf record.

        Cached on the tensor while the tape was not compacted and t was not modified."""
        key = (self.epoch, t._vc[0], dt)
        if t._ltape is self and t._lkey == key and len(t._vc) == 1:
            return t._lslot  # loaded before, unchanged since (and not exposed to NumPy)
        if t._tape is not None:  # a tensor of another thread's tape: its value only
            if t._rg:
                raise RuntimeError(
                    "a tensor that requires grad and was computed in another thread is used "
                    f"here (shape {list(t._shape)}, {t._dtype}): each thread records its own "
                    "graph, so gradients cannot flow back across threads. Build the graph "
                    "and call backward() in one thread, or pass .detach() to cut it.")
            src = t._value()  # (a recorded bool mask reads its float slot)
        else:
            src = t._arr
        src = np.ascontiguousarray(src, dt.np).reshape(-1)
        if not src.flags.writeable:  # a broadcast view: one argument type for sweep.load
            src = src.copy()
        rg = t._rg and t._dtype is dt
        sflags = S_RG | S_LEAF if rg else 0
        code = dt.code
        self.codes |= 1 << code
        shp = self.shape(t._shape)
        fn = self._loads[code]
        if fn is None:  # (the entry for these argument types: no type dispatch a load)
            fn = self._loads[code] = _fast(sweep.load, self.R, self.S, self.AUX, self.A[code],
                                           src, 0, 0, 0)
        s = fn(self.R, self.S, self.AUX, self.A[code], src, shp, code, sflags)
        if s < 0:
            self.make_room(src.size, code, ())
            shp = self.shape(t._shape)
            key = (self.epoch, t._vc[0], dt)  # the epoch it is loaded in
            s = sweep.load(self.R, self.S, self.AUX, self.A[code], src, shp, code, sflags)
        if rg:
            self.leaf_of[s] = t
            self.leaf_slots.setdefault(id(t), []).append(s)
        if t._tape is None:
            self._register(t._vc, s)
        t._ltape, t._lkey, t._lslot = self, key, s
        return s

    def _register(self, vc, s):
        """Note on version cell vc that slot s holds a copy of its value, so that an
        in-place change of the tensor bumps the slot's `ver` (tapegrad.tensor.bump)."""
        entry = [s, vc[0]]  # the slot (renumbered by compact) and the version loaded
        self.loaded.append(entry)
        loads = vc.loads
        if loads is None:
            vc.loads = [(self, entry)]
        else:
            if len(loads) >= 8:  # a tensor used across many compactions: drop dead entries
                loads[:] = [le for le in loads if le[1][0] >= 0]
            loads.append((self, entry))

    # ---- reading values -----------------------------------------------------------------
    def peek(self, slot, shape, dt):
        """NumPy view of a slot's value (valid until the tape is next compacted), for code
        whose result does not depend on it (an argument check): never a guard."""
        off, n = self.S[slot, S_OFF], self.S[slot, S_NUMEL]
        return self.A[dt.code][off:off + n].reshape(shape)

    def value(self, slot, shape, dt):
        """NumPy view of a slot's value (valid until the tape is next compacted)."""
        VALUE_READS[0] += 1  # (a create_graph walk that reads values is not cached)
        v = self.peek(slot, shape, dt)
        if self.reads is not None:  # a traced function reads a value: a guard (tapegrad.func)
            self.reads.read(slot, v)
        return v

    def _dims(self, shape_off):
        nd = int(self.AUX[shape_off])
        return tuple(int(d) for d in self.AUX[shape_off + 1:shape_off + 1 + nd])

    # ---- memory -------------------------------------------------------------------------
    def make_room(self, numel, code, keep):
        """Compact, then double whatever is still more than half full. `keep` are slots
        the caller holds in local variables; they are returned renumbered."""
        seq = int(self.AUX[sweep.H_SEQ])
        frequent = seq - self._seq_compacted < _FEW_RECORDS  # the arena fills in few records
        self._seq_compacted = seq
        if not self.pinned:
            keep = self.compact(keep)
        nrec, nslot = int(self.AUX[sweep.H_NREC]), int(self.AUX[sweep.H_NSLOT])
        if max(nrec, nslot) + 1 > self.R.shape[0] // 2:
            self.R = _grown(self.R, 2 * self.R.shape[0])
            self.S = _grown(self.S, 2 * self.S.shape[0])
            self.MARK = _grown(self.MARK, self.R.shape[0])  # a pinned sweep's marks stay
            self.LIST = _grown(self.LIST, self.R.shape[0])
            self.BUF = np.zeros(self.R.shape[0], np.int64)
            self.NEW = np.zeros(self.R.shape[0], np.int64)
        for c in (DT_F32, DT_F64):
            top = int(self.AUX[sweep.H_TOP32 + c]) + (numel if c == code else 0)
            cap = self.A[c].shape[0]
            if top > cap // 2 or (frequent and c == code and cap < _FREQUENT_CAP):
                # more than half full, or big values compacting every few records: double,
                # so that compaction stays amortized (bounded: _FREQUENT_CAP elements)
                self.A[c] = _grown(self.A[c], max(2 * cap, 2 * top))
        return keep

    def prune(self):
        """Drop the handles appended since the last look that nothing else references
        (what `compact` drops of them anyway), so that the tensors of a long computation
        are freed as they die, not all at the next compaction. Run at the start of the
        garbage collector's young collections (`_collecting`): a dead tensor that only
        `handles` holds would otherwise survive the collection and be promoted, and every
        promoted object makes the collector's full collections (which walk every object
        of the process) come sooner. Slots are only reclaimed by `compact`."""
        h = self.handles
        k, n = self._pruned, len(h)
        if k > n:
            k = 0
        if n - k < _PRUNE_MIN or self._busy:
            return
        self._busy = True
        try:
            seg = h[k:n]
            seg.append(_Probe())
            counts = [sys.getrefcount(x) for x in seg]
            base = counts.pop() + 1  # the probe's count, plus the one of `h`: dead
            seg.pop()
            live = [x for x, c in zip(seg, counts) if c > base]
            h[k:n] = live  # (one slice assignment: handles appended meanwhile stay)
            self._pruned = k + len(live)
        finally:
            self._busy = False

    def settle(self):
        """After a backward that freed its graph and handed out its gradients: compact
        when more than _SETTLE_BYTES of values were recorded since the last compaction.
        The graph just swept is dead, so little moves, and the next iteration records
        into the same memory, still in cache, instead of marching on through the arena
        (Rosenbrock n=100,000 eager: 1.0 ms -> 0.65-0.74 ms a call)."""
        grown = self._value_bytes() - self._settled
        if grown > _SETTLE_BYTES and not (self.pinned or self._busy):
            self.compact()

    def _value_bytes(self):
        """Bytes of values the arenas hold up to their tops (float32, float64)."""
        return 4 * self.AUX.item(sweep.H_TOP32) + 8 * self.AUX.item(sweep.H_TOP64)

    def compact(self, keep=()):
        """Drop every record, slot and value that no live object can reach. Slots do not
        move (the rows of dropped ones are reused); returns `keep`, whose slots stay."""
        busy, self._busy = self._busy, True
        try:
            return self._compact(keep)
        finally:
            self._busy = busy

    def _compact(self, keep):
        probe = _Probe()
        self.handles.append(probe)
        del probe
        counts = [sys.getrefcount(h) for h in self.handles]
        base = counts.pop()  # the probe: referenced by the list alone
        self.handles.pop()
        live = [h for h, n in zip(self.handles, counts) if n > base]
        roots = np.array([h._slot for h in live] + [s for s in keep if s >= 0], np.int64)
        # values move down inside the same arena when nothing outside the tape views it
        # (memory just written stays in cache: a fresh arena's first writes cost twice as
        # much at 100,000 elements); a NumPy view of the old arena stays a valid snapshot
        N = [self.A[c] if sys.getrefcount(self.A[c]) <= _ARENA_REFS else
             np.empty_like(self.A[c]) for c in (0, 1)]
        nslot = self.AUX.item(sweep.H_NSLOT)
        sweep.compact(self.R, self.S, self.AUX, self.A[0], self.A[1], N[0], N[1], roots,
                      self.MARK, self.NEW)
        self.A = N
        kept = self.NEW[:nslot].tolist()  # slot -> itself if kept, else -1
        self.handles = live
        self._pruned = len(live)
        self.leaf_of = {s: v for s, v in self.leaf_of.items() if kept[s] >= 0}
        self.leaf_slots = {}
        epoch = self.epoch + 1
        for s, t in self.leaf_of.items():
            self.leaf_slots.setdefault(id(t), []).append(s)
            if t._ltape is self and t._lslot == s:  # its cached load survived (slots do
                t._lkey = (epoch,) + t._lkey[1:]   # not move): later ops read the same
                # slot, so the leaf's gradient is one sum in sweep order, whenever the
                # tape compacts (two slots would be added in another order: 1 ulp off)
        for e in self.loaded:
            e[0] = kept[e[0]]
        self.loaded = [e for e in self.loaded if e[0] >= 0]
        self.retained = {s: v for s, v in self.retained.items() if kept[s] >= 0}
        if self.python_vjp:
            n = self.nrecords
            seqs = set(self.R[:n, R_SEQ][self.R[:n, R_OP] == OP_PYTHON].tolist())
            self.python_vjp = {q: f for q, f in self.python_vjp.items() if q in seqs}
        if len(self.nodes):
            self.nodes = weakref.WeakValueDictionary(
                {s: n for s, n in self.nodes.items() if kept[s] >= 0})
        self.epoch += 1
        self._settled = self._value_bytes()
        self.dirty = bool(self.S[:self.nslots, S_VER].any())  # a changed value still alive?
        return tuple(keep)

    def adjoints(self):
        """Adjoint arenas sized like the value arenas (reused across backward calls)."""
        G, A = self.G, self.A
        if len(G[0]) != len(A[0]) or len(G[1]) != len(A[1]):
            for c in (DT_F32, DT_F64):
                if len(G[c]) != len(A[c]):
                    G[c] = np.zeros_like(A[c])
        return G

    # ---- inspection ---------------------------------------------------------------------
    @property
    def nrecords(self):
        return int(self.AUX[sweep.H_NREC])

    @property
    def nslots(self):
        return int(self.AUX[sweep.H_NSLOT])

    def records(self):
        """The record table as a NumPy structured array (a copy)."""
        return self.R[:self.nrecords].copy().view(RECORD).reshape(-1)

    def slots(self):
        """The slot table as a NumPy structured array (a copy)."""
        return self.S[:self.nslots].copy().view(SLOT).reshape(-1)

    def __str__(self):
        from .listing import listing

        return listing(self)

    def __repr__(self):
        return f"<Tape: {self.nrecords} records, {self.nslots} slots>"

    def nbytes(self):
        return sum(a.nbytes for a in (self.R, self.S, self.AUX, *self.A, *self.G, self.MARK,
                                      self.LIST, self.BUF, self.NEW))


def _grown(a, n):
    b = np.zeros((n,) + a.shape[1:], a.dtype)
    b[:a.shape[0]] = a
    return b


class _Local(threading.local):
    """This thread's autograd state: grad mode and the stack of tapes it records on."""

    def __init__(self):  # runs once in each thread, on its first use
        self.tape = Tape()          # the top of `tapes`: where operations record
        self.tapes = [self.tape]
        _mine.tapes = self.tapes
        self.grad_enabled = True    # PyTorch's grad mode (no_grad, enable_grad, ...)
        self.inference = False      # inference_mode


_mine = threading.local()  # .tapes: this thread's stack, once its _Local is made
_local = _Local()


def _collecting(phase, info):
    """gc callback: before a young collection, prune the handles of this thread's tapes
    (Tape.prune). Other threads' tapes are left to their own threads."""
    if phase == "start" and info.get("generation") == 0:
        try:
            for tape in getattr(_mine, "tapes", ()):
                tape.prune()
        except Exception:  # (interpreter shutdown): a collection is never stopped by this
            pass


gc.callbacks.append(_collecting)


def current() -> Tape:
    """The tape this thread records on now (the top of its stack)."""
    return _local.tape


@contextlib.contextmanager
def recording(tape: "Tape | None" = None) -> Iterator["Tape"]:
    """Record on `tape` (a fresh one by default) for the block, then return to the tape
    below it: how a transform records a function on a tape of its own."""
    tape = Tape() if tape is None else tape
    state = _local
    state.tapes.append(tape)
    state.tape = tape
    try:
        yield tape
    finally:
        state.tapes.pop()
        state.tape = state.tapes[-1]
