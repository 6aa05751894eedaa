"""The recorder: how an operation's inputs get onto the tape and its record is appended.

Every front-end module (functions, movement, selection, reductions, linalg, inplace)
records through this module and imports it instead of each other:

- `needs_grad(*ts)`: the one rule for whether an op is recorded at all (grad mode is on
  and an input requires grad); otherwise the front end computes in NumPy and appends
  nothing;
- `slots(tape, dt, *ts)`: the input slots, loading leaves, casting between float dtypes
  (a recorded cast) and reading values changed in place through a snapshot;
- `record(name, ins, shape, dt, ...)`: append the op of the table named `name` over
  those inputs and return the output tensor. Its integer parameters are interned in the
  tape's aux pool under the op's family. It is the one place that grad mode, tracing,
  anomaly mode and create_graph have to hook.

The elementwise hot paths in tapegrad.functions call `elementwise(...)` directly with
the same slots (the compiled recorder and the output tensor in one Python call).
"""

from .ops import BY_NAME
from .ops.spec import COPY, FAMILY_NAMES, INDEX, STRIDED, TERNARY
from .tape.records import R_IN0, R_OP, S_FLAGS, S_LEAF, S_REC, S_RETAIN, S_RG
from .tape.tape import _ELEMENTWISE, Tape, _local
from .tensor import _UNTRACKED, Tensor, _on_tape

_PLAIN_RECORD = Tape.record  # while it is Tape's method (forward AD and anomaly mode wrap it)

OP = {name: spec.opcode for name, spec in BY_NAME.items()}  # op name -> frozen opcode


def check_tensor(x, op: str, arg: str = "input") -> None:
    """PyTorch's TypeError for an argument that must be a Tensor."""
    if not isinstance(x, Tensor):
        raise TypeError(f"{op}(): argument '{arg}' must be Tensor, not {type(x).__name__}")


def needs_grad(*ts) -> bool:
    """Is an op over tensors ts recorded: grad mode on and an input requiring grad?"""
    if _local.grad_enabled:
        for t in ts:
            if t._rg:
                return True
    return False


def views_a_leaf(t) -> bool:
    """Is t, recorded on this thread's tape, a view of a leaf that requires grad (through
    view ops only: select, slice, view, transpose, expand, ...)? PyTorch refuses in-place
    ops on those, as on the leaf itself; tapegrad's views are records of their own, so
    the op would change the view's value and leave the leaf as it was."""
    tape = t._tape
    if tape is None or tape is not _local.tape:
        return False
    R, S = tape.R, tape.S
    s = t._slot
    while s >= 0:
        fl = S.item(s, S_FLAGS)
        if fl & S_LEAF:
            return bool(fl & S_RG)
        k = S.item(s, S_REC)
        if R.item(k, R_OP) not in _VIEW_OPS:
            return False
        s = R.item(k, R_IN0)
    return False


_VIEW_OPS = frozenset(spec.opcode for name, spec in BY_NAME.items()
                      if spec.family in (STRIDED, COPY) and name not in ("clone", "flip", "repeat"))


def record(name, ins, shape, dt, *, params=None, c=0.0, positions=None):
    """Append op `name` of the table over tensors `ins` (the op's in0, in1, in2) with
    output `shape` and dtype `dt`, and return the output tensor, which requires grad when
    `needs_grad(*ins)`.

    `params`: a tuple of ints, interned in the aux pool (the layout the op's kernel reads,
    tapegrad/tape/kernels.py); `c`: the record's float parameter. INDEX ops read
    `positions` (an int tensor, kept exactly in the float64 arena) as in1 and `ins` as
    (in0, in2)."""
    local = _local  # (a thread-local's attributes cost ~40 ns a read: read it once)
    tape = local.tape
    opcode, family, tag = _ROW[name]
    rg = False
    if local.grad_enabled:
        for t in ins:
            if t._rg:
                rg = True
                break
    aux = -1 if params is None else tape.intern(
        params if type(params) is tuple else tuple(params), tag)
    if family == INDEX:
        s = slots(tape, None, *ins, positions)
        s0, s2, s1 = (s[0], -1, s[1]) if len(ins) == 1 else s
        out = tape.record_wide(opcode, s0, s1, s2, aux, c, tape.shape(shape), dt.code,
                               S_RG if rg else 0)
    elif family == TERNARY:
        s0, s1, s2 = slots(tape, dt, *ins)
        out = tape.record_wide(opcode, s0, s1, s2, aux, c, tape.shape(shape), dt.code,
                               S_RG if rg else 0)
    else:
        s0 = s1 = -1
        if not tape.dirty:  # the common cases: results of this tape, leaves loaded already
            s0 = _ready(tape, ins[0], dt)
            if len(ins) > 1:
                s1 = _ready(tape, ins[1], dt)
                if s1 < 0:
                    s0 = -1
        if s0 < 0:
            s = slots(tape, dt, *ins)
            s0, s1 = s[0], s[1] if len(s) > 1 else -1
        out = tape.record(opcode, s0, s1, aux, c, tape.shape(shape), dt.code,
                          S_RG if rg else 0)
    return _on_tape(tape, out, shape if type(shape) is tuple else tuple(shape), dt, rg)


_ROW = {name: (spec.opcode, spec.family, FAMILY_NAMES[spec.family])
        for name, spec in BY_NAME.items()}  # op name -> what record() needs of its row


def elementwise(tape, op, s0, s1, c, shape, dt, sflags):
    """Append elementwise op `op` (an opcode of the UNARY or BINARY family) over slots s0,
    s1 (-1: none) with float parameter c, and return the output tensor of `shape` (the
    inputs' own: no broadcast) and dtype dt, requiring grad when sflags has S_RG.

    What `Tape.record` followed by `_on_tape` does, with one Python call less: the hot
    path of every scalar op (the compiled recorder is called directly once it is loaded; the
    first call, a full table, a non-elementwise opcode and a wrapped `Tape.record` (forward
    AD, anomaly mode) go through `Tape.record`)."""
    code = dt.code
    fn = tape._entries[code + 2] if _ELEMENTWISE[op] and Tape.record is _PLAIN_RECORD else None
    if fn is None:
        s = tape.record(op, s0, s1, -1, c, -1, code, sflags)
    else:  # (tape.codes has this dtype: `Tape.record` noted it when it loaded fn)
        s = fn(tape.R, tape.S, tape.AUX, tape.A[code], op, s0, s1, -1, c, -1, code, sflags)
        if s < 0:  # a table is full: make room and append (tape.record)
            s = tape.record(op, s0, s1, -1, c, -1, code, sflags)
    return _on_tape(tape, s, shape, dt, (sflags & S_RG) != 0)


# ---- getting inputs onto the tape ------------------------------------------------------
def _ready(tape, t, dt):
    """t's slot as dtype dt on `tape` when it is there already (a result of the tape of
    dtype dt, or a value loaded earlier and unchanged since: `slot` would return it as
    is, see Tape.load), else -1. Only when the tape is not dirty."""
    if t._dtype is not dt:
        return -1
    if t._tape is tape:
        return t._slot
    if t._ltape is tape and t._lkey == (tape.epoch, t._vc[0], dt) and len(t._vc) == 1:
        return t._lslot
    return -1


def slot(tape, t, dt):
    """Slot of tensor t as float dtype dt (None: its own) on `tape`, loading or casting."""
    if dt is None:
        dt = t._dtype
    if t._tape is tape:
        if tape.dirty and tape.version(t._slot):
            refresh(tape, t)
        if t._dtype is dt:
            return t._slot
        if t._dtype.is_floating_point:  # float32 <-> float64: recorded, gradients flow back
            rg = t._rg and _local.grad_enabled
            return tape.record_cast(t._slot, dt.code, S_RG if rg else 0, implicit=True)
    elif t._rg and t._dtype is not dt:
        return tape.record_cast(tape.load(t, t._dtype), dt.code,
                                S_RG if _local.grad_enabled else 0, implicit=True)
    return tape.load(t, dt)


def refresh(tape, t):
    """t's value was changed in place since its slot was recorded: rebind t to a snapshot
    of the slot (same value and adjoint, versions counted from now), so that the record
    about to read t is not taken for a user of the old value at backward."""
    v = t._version
    s = tape.snapshot(t._slot)
    old = t._slot  # renumbered if taking the snapshot compacted the tape
    if t._retains:
        tape.S[old, S_FLAGS] &= ~S_RETAIN
        tape.retained.pop(old, None)
        tape.S[s, S_FLAGS] |= S_RETAIN
        tape.retained[s] = t
    t._slot = s
    if t._vc is not _UNTRACKED:
        t._vc = (v - tape.version(s),)


def slots(tape, dt, *ts):
    """Slots of several tensors (dtype dt, or each its own when None).

    Loading or casting one may compact the tape, which drops what the others just loaded:
    then make room for all of them at once (the only compaction) and get them again."""
    epoch = tape.epoch
    s = [slot(tape, t, dt) for t in ts]
    if tape.epoch == epoch:
        return s
    need = {}
    for t in ts:  # a load and a cast each may need the tensor's size
        code = (dt or t._dtype).code
        need[code] = need.get(code, 0) + 2 * t.numel()
    for code, numel in need.items():
        tape.make_room(numel, code, ())
    epoch = tape.epoch
    s = [slot(tape, t, dt) for t in ts]
    if tape.epoch != epoch:
        raise RuntimeError("tapegrad: the tape compacted twice while loading one op's inputs")
    return s
