"""Record a function once on a tape of its own, then replay that tape for new inputs.

A `Variant` is one recording: a private tape (pinned, never compacted: every slot and
record stays where it was recorded), the slots where the inputs were loaded, the output
slots, and the guards. Replaying it writes the new inputs into their slots, runs the
compiled forward sweep over all records (`sweep.forward`: every value recomputed from its
inputs, as the eager run computed it), checks the guards, then runs the engine's reverse
sweep from the outputs (retain_graph: the records stay usable) and reads the inputs'
adjoints. No Python runs per record.

Guards. While a function is recorded the tape's `reads` is a `Reads`: every value that
leaves the tape for Python (`float(t)`, `t.item()`, `bool(t)`, `t.numpy()`, a NumPy
fallback of an op that needs no grad, a boolean mask's shape) is noted with its value.
A replay is valid only if each such value comes out bitwise equal; otherwise the caller
records a new variant. An in-place change of a recorded value (`bump`) makes the
recording unusable: the forward sweep would not redo it.
"""

import sys

import numpy as np

from .. import dtypes
from ..autograd import engine
from ..tape import sweep, tangent
from ..tape.dispatch import OP_PYTHON
from ..tape.records import R_OP, S_DTYPE, S_FLAGS, S_NUMEL, S_OFF, S_RG, S_SHAPE
from ..tape.tape import Tape, _fast, recording
from ..tensor import Tensor, _from_array, _on_tape
from . import _fuse
from ._calls import _SCALAR, _fused_call, _scalar_call, _vector_call
from ._fuse import load_fused, plan_fused
from ._plan import live_records, plan_scalar

_PKG = __file__.rsplit("tapegrad", 1)[0] + "tapegrad"
_NO_SEED = np.zeros(0)


def user_line():
    """'file:line' of the innermost frame outside tapegrad (for warnings)."""
    f = sys._getframe(1)
    while f is not None and f.f_code.co_filename.startswith(_PKG):
        f = f.f_back
    return "<unknown>" if f is None else f"{f.f_code.co_filename}:{f.f_lineno}"


class Reads:
    """The guards of a recording: slot -> the value Python read there, and whether (and
    where) a recorded value was changed in place."""

    __slots__ = ("guards", "where", "unsafe")

    def __init__(self):
        self.guards = {}
        self.where = None   # the user's line of the first guarded read
        self.unsafe = None  # the user's line of an in-place change, if any

    def read(self, slot, value):
        if slot not in self.guards:
            self.guards[slot] = np.array(value, copy=True).reshape(-1)
            if self.where is None:
                self.where = user_line()

    def changed(self, slot):
        if self.unsafe is None:
            self.unsafe = user_line()


def as_input(x, name):
    """A positional argument as a float NumPy array (a Tensor's value, a number, a
    sequence); integers and bools become float64, as a gradient needs a float input."""
    if isinstance(x, Tensor):
        x = x.detach().numpy()
    a = np.asarray(x)
    if a.dtype not in (np.float32, np.float64):
        if a.dtype.kind not in "biuf":
            raise TypeError(f"tapegrad.func.{name}: an argument must be a number, an array or "
                            f"a Tensor, not {type(x).__name__}")
        a = a.astype(np.float64)
    return a


class Variant:
    """One recording of `f` for one input signature (see the module docstring)."""

    def __init__(self, f, arrays, statics, name):
        self.tape = tape = Tape()
        tape.pinned = 1  # never compacted: the recorded slots and records stay put
        reads = tape.reads = Reads()
        leaves, ins = [], []
        with recording(tape):
            for a in arrays:
                dt = dtypes.float32 if a.dtype == np.float32 else dtypes.float64
                leaf = _from_array(a.copy(), dt, True)
                s = tape.load(leaf, dt)
                leaves.append(leaf)
                ins.append(_on_tape(tape, s, a.shape, dt, True))
            args = list(ins)
            for i, v in statics:
                args.insert(i, v)
            out, extras, *hidden = f(*args)
        tape.reads = None
        self.in_slots = [t._slot for t in ins]
        self.in_codes = [t._dtype.code for t in ins]
        for t in (hidden[0] if hidden else ()):  # inputs made inside (jvp's cotangent)
            leaves.append(t)
            self.in_slots.append(tape.leaf_slots[id(t)][0])
            self.in_codes.append(t._dtype.code)
        self.leaves = leaves  # (alive: the tape's leaf slots point to them)
        self.value, self.out = _output(out, name)
        self.extras = [_output(e, name) for e in extras]  # values read after a replay
        self.guards = [(s, int(tape.S[s, S_DTYPE]), g) for s, g in reads.guards.items()]
        self.where, self.unsafe = reads.where, reads.unsafe
        self._setup()

    @classmethod
    def from_tables(cls, tape, in_slots, in_codes, value, out, extras, guards):
        """A Variant over a tape filled from saved tables (tapegrad.func.load): the same
        replay as a recording's, with no function behind it (it cannot record again).
        `tape` holds the records, slots, aux pool and arenas; `value`/`out` and `extras`
        are as `_output` gives them, `guards` (slot, dtype code, expected flat values)."""
        self = cls.__new__(cls)
        tape.pinned = 1
        self.tape = tape
        self.in_slots, self.in_codes = list(in_slots), list(in_codes)
        self.leaves = []
        self.value, self.out, self.extras = value, out, list(extras)
        self.guards = list(guards)
        self.where, self.unsafe = "<saved program>", None
        self._setup()
        return self

    def _setup(self):
        """What a replay needs to know of the tape, once its tables are final."""
        tape = self.tape
        n = tape.nrecords
        self.python = bool((tape.R[:n, R_OP] == OP_PYTHON).any())  # a custom Function
        self.nrec = n
        self.failed = None  # the slot of the guard the last failed replay broke
        S = tape.S
        self._ins = [(code, S.item(s, S_OFF), S.item(s, S_NUMEL))
                     for s, code in zip(self.in_slots, self.in_codes)]
        self._shapes = [tape._dims(int(S[s, S_SHAPE])) for s in self.in_slots]
        self._fwd = None  # planned on the first replay (see _plan)
        self._mark = None  # the marking pass's entry, once a sweep ran
        self._fused = None  # (the one-call closure, replay1's arguments or None, _SCALAR)
        self.fast = None  # replay_grad itself, for a scalar program (_scalar_call)
        self.program = None  # the ScalarProgram a scalar tape is replayed by (_plan.py)
        self.tmode = None  # "tangent" when the tangent sweep answers jvp/jacfwd
        self._tan = None  # the tangent sweep's entry (see jvp)

    # ---- replay -----------------------------------------------------------------------
    def prepare(self, one_call, tangents=False):
        """Plan the replay now (not on the first replay): the one-call form of replay_grad
        when `one_call`, else the forward sweep's rows, and with `tangents` whether the
        tangent sweep can answer (`tmode`)."""
        if one_call:
            self._fuse()
        if self._fwd is None and self.program is None:
            self._plan()
        if tangents:
            self.tmode = None
            if not self.extras and self.out is not None and _ONE_CODE.get(self.tape.codes) \
                    is not None and not self.python:
                if self._fwd is None:
                    self._plan()
                if tangent.supported(self.tape, self._keep) is None:
                    self.tmode = "tangent"

    def jvp(self, seeds):
        """After `forward`: the output's tangent (shaped like it) when the inputs' tangents
        are `seeds` ({input position: array}; the others zero), by one tangent sweep
        (tapegrad/tape/tangent.py)."""
        tape = self.tape
        if self._tan is None:
            code = _ONE_CODE[tape.codes]
            T = np.zeros_like(tape.A[code])
            self._tan_args = (self.rows, tape.S, tape.AUX, tape.A[code], T, 0, len(self.rows))
            self._tan = _fast(tangent.tangent, *self._tan_args)
        T = self._tan_args[4]
        for i, (code, off, n) in enumerate(self._ins):
            t = seeds.get(i)
            T[off:off + n] = 0 if t is None else np.asarray(t, T.dtype).reshape(-1)
        self._tan(*self._tan_args)
        S = tape.S
        off, n = S.item(self.out, S_OFF), S.item(self.out, S_NUMEL)
        return T[off:off + n].reshape(self.value.shape).copy()

    def _plan(self):
        """Where things are: nothing records on this tape any more and it never compacts,
        so the slots' arena offsets and the tables stay put."""
        tape = self.tape
        S = tape.S
        self._guards = [(code, S.item(s, S_OFF), g.view(np.uint8), g.size, s)
                        for s, code, g in self.guards]
        wanted = [s for s in [self.out] + [s for _, s in self.extras] if s is not None]
        keep = live_records(tape, wanted + [s for s, _, _ in self.guards])
        self.rows = np.ascontiguousarray(tape.R[keep])  # the planned forward rows
        if self.program is None:  # (a scalar program keeps its own listing: it answers)
            tape.plan = (keep, f"-- planned for replay: {keep.size} of {self.nrec} records kept "
                               "(the others reach no output); the engine's sweeps over the "
                               "recorded slots")
        self._keep = keep
        self._fwd_args = (self.rows, S, tape.AUX, tape.A[0], tape.A[1], 0, keep.size)
        self._fwd = _fast(sweep.forward, *self._fwd_args)

    def forward(self, arrays):
        """Write `arrays` into the input slots and rerun every record; False when a guard
        fails (the caller records a new variant)."""
        if self._fwd is None:
            self._plan()
        self._write(arrays)
        self._fwd(*self._fwd_args)
        return self._guards_hold()

    def _write(self, arrays):
        """The new inputs into their slots."""
        A = self.tape.A
        for (code, off, n), a in zip(self._ins, arrays):
            if n == 1:
                A[code][off] = a.item()
            else:
                A[code][off:off + n] = a.reshape(-1)

    def _guards_hold(self):
        """After a forward sweep: does every guarded value come out as recorded? (The
        first one that does not is left in `failed`.)"""
        A = self.tape.A
        for code, off, want, n, s in self._guards:
            if not np.array_equal(A[code][off:off + n].view(np.uint8), want):
                self.failed = s
                return False
        return True

    def _adjoints(self, argnums):
        """The inputs' adjoints after a reverse sweep from the output (copies)."""
        tape = self.tape
        MARK, G = tape.MARK, tape.G
        out = []
        for i in argnums:
            code, off, n = self._ins[i]
            shape = self._shapes[i]
            if MARK.item(self.in_slots[i]):
                g = G[code][off:off + n].copy()
                out.append(g if len(shape) == 1 else g.reshape(shape))
            else:
                out.append(np.zeros(shape, tape.A[code].dtype))
        return out

    def output(self, j=None):
        """The output's value after `forward` (extra output j if given): a float for a 0-d
        value, else an array."""
        value, s = (self.value, self.out) if j is None else self.extras[j]
        if s is None:
            return float(value) if value.ndim == 0 else value.copy()
        S = self.tape.S
        off = S.item(s, S_OFF)
        A = self.tape.A[S.item(s, S_DTYPE)]
        if value.ndim == 0:
            return float(A[off])
        return A[off:off + value.size].reshape(value.shape).copy()

    def gradients(self, argnums, seed=_NO_SEED):
        """Adjoints of the inputs `argnums` after `forward`, seeded by `seed` (flat, the
        output's size) or by 1 for a one-element output."""
        tape = self.tape
        shapes = [self._shapes[i] for i in argnums]
        if self.out is None:  # the output does not depend on the inputs
            return [np.zeros(sh, tape.A[self.in_codes[i]].dtype)
                    for i, sh in zip(argnums, shapes)]
        roots = tape.ROOT
        roots[0] = self.out
        if self._mark is None or engine._ANOMALY[0] or tape in engine._hooks.NONLEAF:
            engine._sweep(tape, roots, seed, True)  # the general path
            if self._mark is None:
                G = tape.adjoints()
                self._mark = engine._entry["mark"]
                self._mark_args = (tape.R, tape.S, tape.AUX, G[0], G[1], tape.MARK, tape.LIST,
                                   roots)
        else:  # the engine's two compiled passes, called directly
            status, tape.families, _, top, bottom = self._mark(*self._mark_args, seed)
            engine._reverse(tape, top, bottom, top, True)
        return self._adjoints(argnums)


    def replay_grad(self, arrays, argnums):
        """`forward`, `output` and `gradients(argnums)` in one compiled call (tapegrad/
        func/_replay.py) for a tape of one dtype whose output depends on the inputs:
        (value, gradients), or None when a guard fails (the caller records a new
        variant). Anything else (two dtypes, anomaly mode, hooks) goes the two-step way."""
        fused = self._fused
        if fused is None:
            fused = self._fuse()
        if fused is False or engine._ANOMALY[0] or \
                engine._HOOKED and self.tape in engine._hooks.NONLEAF:
            if not self.forward(arrays):
                return None
            return self.output(), self.gradients(argnums)
        return fused[0](arrays, argnums)

    def _fuse_late(self, min_elements=None):
        """Fuse the replay (tapegrad/func/_fuse.py) when the recording allows it and has
        at least `min_elements` (default: the late threshold); True when it did."""
        tape = self.tape
        fused = None if self.extras else plan_fused(
            tape, self._keep, self.in_slots, self.out, self.guards,
            _fuse.LATE_ELEMENTS if min_elements is None else min_elements)
        fn = fused and load_fused(fused[0])
        if fn is None:
            return False
        self.fast = _fused_call(self, fn, fused[1])
        self._fused = (self.fast, None, _SCALAR)
        tape.plan = (self._keep, f"-- planned for replay as one fused loop over "
                     f"{fused[2]:,} elements (tapegrad/func/_fuse.py): {self._keep.size} "
                     f"of {self.nrec} records kept")
        return True

    def _fuse(self):
        """Plan the one-call replay (see replay_grad); False when the tape cannot take it."""
        tape = self.tape
        one = _ONE_CODE.get(tape.codes)
        if one is None or self.out is None:
            self._fused = False
            return False
        prog = None if self.extras else plan_scalar(tape, self.in_slots, self.out, [],
                                                    {s: g for s, _, g in self.guards})
        if prog is not None:
            self.program = prog
            tape.plan = (prog.kept, prog.summary())
            self.fast = _scalar_call(self, prog)
            self._fused = (self.fast, None, _SCALAR)
            return self._fused
        if self._fwd is None:
            self._plan()
        if self._fuse_late(_fuse.MIN_ELEMENTS):
            return self._fused
        if self._fwd is None:
            self._plan()
        from ._replay import replay1

        G = tape.adjoints()
        roots = np.array([self.out], np.int64)
        args = (self.rows, tape.R, tape.S, tape.AUX, tape.A[0], tape.A[1], tape.A[one], G[one],
                G[0], G[1], tape.MARK, tape.LIST, tape.BUF, roots, _NO_SEED, len(self.rows))
        S = tape.S
        scalar_out = (S.item(self.out, S_DTYPE), S.item(self.out, S_OFF)) \
            if self.value.ndim == 0 else None
        self.fast = _vector_call(self, _fast(replay1, *args), args, scalar_out)
        self._fused = (self.fast, args, _SCALAR)
        return self._fused


_ONE_CODE = {1: 0, 2: 1}  # tape.codes (a bit per arena in use) -> its one dtype code


def _slot_value(tape, s):
    off, n = tape.S.item(s, S_OFF), tape.S.item(s, S_NUMEL)
    return tape.A[int(tape.S[s, S_DTYPE])][off:off + n].copy()


def _output(out, name):
    """(the output's value as recorded, its slot or None when it does not depend on the
    inputs)."""
    if not isinstance(out, Tensor):
        raise TypeError(f"tapegrad.func.{name}: the function must return a Tensor, got "
                        f"{type(out).__name__}")
    if not out._dtype.is_floating_point:
        raise TypeError(f"tapegrad.func.{name}: the function returned a {out._dtype} tensor; "
                        "a gradient needs a floating point output")
    tape = out._tape
    if tape is None:
        return np.array(out._arr, copy=True), None
    value = _slot_value(tape, out._slot).reshape(out._shape)
    return value, (out._slot if tape.S[out._slot, S_FLAGS] & S_RG else None)
