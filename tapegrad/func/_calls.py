"""The closures that answer a Variant's one-call replay, `replay_grad(arrays,
argnums)` -> (value, gradients) or None when a guard fails: each is made once per
variant and closes over everything it touches (the recording's tape is final: its arrays
stay), so a call is the inputs' writes, one compiled call and the outputs' reads.

- `_scalar_call`: a scalar program (tapegrad/func/_plan.py), interpreted by
  `scalar_replay` or, once `roll_due` rolled it, by its generated loops (_roll.py);
- `_vector_call`: any other one-dtype tape, by `replay1` (the engine's sweeps);
- `_fused_call`: a fused elementwise objective (_fuse.py).
"""

import numpy as np

from ..tape.tape import _fast
from . import _fuse, _roll
from ._fuse import is_cached, load_module
from ._scalar import scalar_replay


_SCALAR = object()  # replay_grad's mark of a closure answering (arrays, argnums)


def _vector_call(v, fn, args, scalar_out):
    """replay_grad(arrays, argnums) of Variant v by one compiled call (replay1: forward,
    mark, reverse) between Python's writes of the inputs and reads of the output and the
    adjoints, a closure over what they touch (the tape is final: its arrays stay). It
    counts its calls for a late fusion (tapegrad/func/_fuse.py: LATE_CALLS)."""
    tape = v.tape
    A, G, MARK = tape.A, tape.G, tape.MARK
    ins = v._ins
    reads = [(A[code], G[code], off, n, s, shape, len(shape) != 1)
             for (code, off, n), s, shape in zip(ins, v.in_slots, v._shapes)]
    writes = [(A[code], off, n) for code, off, n in ins]
    guards = [(A[code], off, n, want, s) for code, off, want, n, s in v._guards]
    out = (A[scalar_out[0]], scalar_out[1]) if scalar_out else None
    array_equal, uint8 = np.array_equal, np.uint8
    calls = 0

    def call(arrays, argnums):
        nonlocal calls
        calls += 1
        if calls == _fuse.LATE_CALLS and v._fuse_late():
            return v.fast(arrays, argnums)
        for (Ai, off, n), a in zip(writes, arrays):
            if n == 1:
                Ai[off] = a.item()
            else:
                Ai[off:off + n] = a.reshape(-1)
        fn(*args)  # (its status: mark's checks cannot fail on a tape nothing else touches)
        for Ai, off, n, want, s in guards:
            if not array_equal(Ai[off:off + n].view(uint8), want):
                v.failed = s
                return None
        grads = []
        for i in argnums:
            Ai, Gi, off, n, s, shape, nd = reads[i]
            if MARK.item(s):
                g = Gi[off:off + n].copy()
                grads.append(g.reshape(shape) if nd else g)
            else:
                grads.append(np.zeros(shape, Ai.dtype))
        return (float(out[0][out[1]]) if out else v.output()), grads
    return call


def _fused_call(v, fn, consts):
    """replay_grad(arrays, argnums) of Variant v by its fused loop (tapegrad/func/
    _fuse.py): the inputs flat, fresh gradient arrays the loop adds into."""
    shapes = v._shapes
    zero_d = v.value.ndim == 0
    shape = v.value.shape

    def call(arrays, argnums):
        xs = [np.ascontiguousarray(a, np.float64).reshape(-1) for a in arrays]
        gs = [np.zeros(x.size) for x in xs]
        value = fn(*xs, *consts, *gs)
        return (value if zero_d else np.full(shape, value)), [gs[i].reshape(shapes[i])
                                                               for i in argnums]
    return call


def _scalar_call(v, prog, rolled=None):
    """replay_grad(arrays, argnums) of Variant v by its ScalarProgram: a closure over
    everything it touches (a seed-sized call spends its time in Python: ~1 us here). The
    program runs in the interpreter, or in its `rolled` loops (tapegrad/func/_roll.py);
    an interpreted program big enough to roll counts its replays (see `roll_due`)."""
    call = _scalar_closure(v, prog, rolled)
    if rolled is not None or len(prog.F) + len(prog.B) < _roll.MIN_ROWS:
        return call
    prog.replays, prog.when = 0, _roll.LATE_CALLS  # (a batch's rows count too: _batch.py)

    def counted(arrays, argnums):
        prog.replays += 1
        if prog.replays >= prog.when:
            roll_due(v, prog)
        return call(arrays, argnums)
    return counted


def roll_due(v, prog):
    """At replay `prog.replays` of an interpreted scalar program: roll it (tapegrad/func/
    _roll.py) when the compiled loops are in the cache or the replays so far have cost
    about what the compile will (_roll.BUDGET seconds); else set the replay count to look
    again at (`prog.when`; never, when the program does not roll)."""
    planned = prog.rolled
    if planned is None:
        planned = prog.rolled = _roll.plan_rolled(prog) or ()
    prog.when = float("inf")
    if not planned:
        return
    source, line = planned
    due = _roll.due_calls(prog)
    if prog.replays < due and not is_cached(source):
        prog.when = due
        return
    module = load_module(source)
    if module is None:
        return
    prog.module = module  # (its `rows` runs a batch: _batch.py)
    v.fast = _scalar_call(v, prog, module.fused)
    v._fused = (v.fast, None, _SCALAR)
    kept, text = v.tape.plan
    v.tape.plan = (kept, text + "\n" + line)


def _scalar_closure(v, prog, rolled):
    """The call of `_scalar_call`: the inputs into their registers, one compiled call,
    the guards, the output and the inputs' adjoints out."""
    if rolled is None:
        args = (prog.F, prog.FC, prog.B, prog.BC, prog.V, prog.G, prog.root, prog.nclear)
        run = _fast(scalar_replay, *args)
    else:
        args = (prog.F, prog.FC, prog.B, prog.BC, prog.V, prog.G)
        run = _fast(rolled, *args)
    V, G, out, guards = prog.V, prog.G, prog.out, prog.guards
    ins = [(lo, lo + m, m == 1) for lo, m in prog.ins]
    reads = [(lo, hi, len(shape) != 1 and shape) for (lo, hi, _), shape in zip(ins, v._shapes)]
    zero_d = v.value.ndim == 0
    shape = v.value.shape
    array_equal, uint8 = np.array_equal, np.uint8

    if len(ins) == 1 and not guards:  # one input: the common case, written out
        (lo, hi, one), (_, _, reshape) = ins[0], reads[0]

        def call1(arrays, argnums):
            if one:
                V[lo] = arrays[0].item()
            else:
                V[lo:hi] = arrays[0].reshape(-1)
            run(*args)
            g = G[lo:hi].copy()
            return ((V.item(out) if zero_d else V[out:out + 1].reshape(shape)),
                    [g.reshape(reshape) if reshape is not False else g])
        return call1

    def call(arrays, argnums):
        for (lo, hi, one), a in zip(ins, arrays):
            if one:
                V[lo] = a.item()
            else:
                V[lo:hi] = a.reshape(-1)
        run(*args)
        for lo, m, want, s in guards:
            if not array_equal(V[lo:lo + m].view(uint8), want):
                v.failed = s
                return None
        grads = []
        for i in argnums:
            lo, hi, reshape = reads[i]
            g = G[lo:hi].copy()
            grads.append(g.reshape(reshape) if reshape is not False else g)
        return (V.item(out) if zero_d else V[out:out + 1].reshape(shape)), grads
    return call
