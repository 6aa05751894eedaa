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

The elementwise hot paths in tapegrad.functions call `Tape.record` directly with the
same slots (a function call less on the path of every scalar op).
"""

from .ops import BY_NAME
from .ops.spec import FAMILY_NAMES, INDEX, TERNARY
from .tape.records import S_FLAGS, S_RETAIN, S_RG
from .tape.tape import _local, current
from .tensor import _UNTRACKED, Tensor, _on_tape

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


def record(name, ins, shape, dt, *, params=None, c=0.0, positions=None):
    """Append op `name` of the table over tensors `ins` (the op's in0, in1, in2) with
    output `shape` and dtype `dt`, and return the output tensor, which requires grad when
    `needs_grad(*ins)`.

    `params`: a tuple of ints, interned in the aux pool (the layout the op's kernel reads,
    tapegrad/tape/kernels.py); `c`: the record's float parameter. INDEX ops read
    `positions` (an int tensor, kept exactly in the float64 arena) as in1 and `ins` as
    (in0, in2)."""
    tape = _local.tape
    opcode, family, tag = _ROW[name]
    rg = False
    if _local.grad_enabled:
        for t in ins:
            if t._rg:
                rg = True
                break
    aux = -1 if params is None else tape.intern(tuple(params), tag)
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
        if len(ins) == 1 and ins[0]._tape is tape and ins[0]._dtype is dt and not tape.dirty:
            s0, s1 = ins[0]._slot, -1  # the common case: a result of this tape
        else:
            s = slots(tape, dt, *ins)
            s0, s1 = s[0], s[1] if len(s) > 1 else -1
        out = tape.record(opcode, s0, s1, aux, c, tape.shape(shape), dt.code,
                          S_RG if rg else 0)
    return _on_tape(tape, out, shape if type(shape) is tuple else tuple(shape), dt, rg)


_ROW = {name: (spec.opcode, spec.family, FAMILY_NAMES[spec.family])
        for name, spec in BY_NAME.items()}  # op name -> what record() needs of its row


# ---- getting inputs onto the tape ------------------------------------------------------
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
