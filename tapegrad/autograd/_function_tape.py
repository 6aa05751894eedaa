"""The records of a custom Function's application (see tapegrad/autograd/function.py):
the core record, the output records and the fan-in records, their Python backward
functions, and PyTorch's checks of the gradients a backward returns."""

import weakref

import numpy as np

from ..recorder import slots as _slots
from ..tape.dispatch import OP_PYTHON
from ..tape.sweep import H_SEQ
from ..tape.records import DT_F64, R_FLAGS, R_IMPLICIT, R_IN0, R_IN1, R_IN2, R_OP, R_SEQ, S_REC
from ..tape.tape import _local, current
from ..tensor import Tensor, _from_array, _on_tape
from .engine import _SWEEPS

_EMPTY = np.zeros(0)


def _input_slots(tape, k):
    """The differentiable input slots of core record k, fan-ins expanded, in order."""
    out = []
    for f in (R_IN0, R_IN1, R_IN2):
        s = int(tape.R[k, f])
        if s < 0:
            continue
        r = int(tape.S[s, S_REC])
        if tape.R[r, R_OP] == OP_PYTHON and \
                isinstance(tape.python_vjp.get(int(tape.R[r, R_SEQ])), _FanIn):
            out.extend(_input_slots(tape, r))
        else:
            out.append(s)
    return out


class _FanIn:
    """Backward of a fan-in record: the gradients the core computed for its inputs."""

    __slots__ = ("core", "direct")

    def __init__(self, core, direct):
        self.core, self.direct = core, direct

    def __call__(self, g):
        grads = self.core.input_grads
        return tuple(None if i is None or grads is None else grads[i] for i in self.direct)


class _OutputGrad:
    """Backward of output record j: stores that output's adjoint for the core."""

    __slots__ = ("core", "j")

    def __init__(self, core, j):
        self.core, self.j = core, j

    def __call__(self, g):
        self.core.output_grads[self.j] = (_SWEEPS[0], g)
        return (None,)



class _Core:
    """Backward of a core record: the user's backward, once per sweep."""

    __slots__ = ("ctx", "args", "outs", "one", "output_grads", "input_grads", "direct")

    def __init__(self, ctx, args, outs, one):
        self.ctx = ctx
        self.args = args            # per argument: None (not a tensor) or (shape, requires grad)
        self.outs = outs            # per output: None (not a tensor) or (shape, dtype, diff)
        self.one = one              # the core's output is the Function's one output
        self.output_grads = [None] * len(outs)  # (sweep, adjoint) from the output records
        self.input_grads = None     # per differentiable input, for the fan-in records
        self.direct = None          # the core's inputs: differentiable input index or None
                                    # (a fan-in) each; None: the inputs themselves

    def __call__(self, g):
        ctx = self.ctx
        if self.one:
            grads = [_from_array(g, self.outs[0][1], False)]
        else:
            grads = self._gather(ctx)
        local = _local
        prev = local.grad_enabled
        local.grad_enabled = False
        try:
            res = ctx.apply(*grads)
        finally:
            local.grad_enabled = prev
        self.input_grads = grads = _check_grads(ctx, self.args, res)
        if self.direct is None:  # the inputs are the core's own, in order
            return grads
        return tuple(None if i is None else grads[i] for i in self.direct)

    def _gather(self, ctx):
        """The output gradients the output records stored in this sweep (else zeros, or
        None when the ctx does not materialize them)."""
        now, grads = _SWEEPS[0], []
        for j, info in enumerate(self.outs):
            v = None
            if info is None:
                grads.append(None)
                continue
            if self.output_grads[j] is not None and self.output_grads[j][0] == now:
                v = self.output_grads[j][1]
            if v is not None:
                grads.append(_from_array(v, info[1], False))
            else:
                grads.append(_from_array(np.zeros(info[0], info[1].np), info[1], False)
                             if ctx.materialize_grads else None)
        return grads

    def release(self):
        self.ctx.release()


def _check_grads(ctx, args, res):
    """The gradients backward returned, checked as PyTorch does: one per forward argument
    (extra Nones dropped), None for non-tensors, shapes that sum down to the input's.
    Returns a NumPy array (or None) per differentiable input."""
    if not isinstance(res, tuple):
        res = (res,)
    name = type(ctx).__name__
    n = len(args)
    if len(res) > n and all(r is None for r in res[n:]):
        res = res[:n]
    if len(res) != n:
        raise RuntimeError(f"function {name} returned an incorrect number of gradients "
                           f"(expected {n}, got {len(res)})")
    out = []
    for i, (a, g) in enumerate(zip(args, res)):
        if a is None:
            if g is not None:
                raise RuntimeError(f"function {name} returned a gradient different than None "
                                   f"at position {i + 1}, but the corresponding forward input "
                                   "was not a Variable")
            continue
        if g is not None and not isinstance(g, Tensor):
            raise RuntimeError(f"expected Variable or None (got {type(g).__name__})")
        shape, rg = a
        if not rg:
            continue
        if g is None:
            out.append(None)
            continue
        v = g._value()
        if g._shape != shape:
            if not _expandable(shape, g._shape):
                raise RuntimeError(f"Function {name} returned an invalid gradient at index {i} "
                                   f"- got {list(g._shape)} but expected shape compatible with "
                                   f"{list(shape)}")
            v = _sum_to(v, shape)
        out.append(v)
    return out


def _expandable(shape, to):
    if len(shape) > len(to):
        return False
    return all(a == b or a == 1 for a, b in zip(shape[::-1], to[::-1]))


def _sum_to(v, shape):
    lead = v.ndim - len(shape)
    v = v.sum(axis=tuple(range(lead))) if lead else v
    dims = tuple(d for d, n in enumerate(shape) if n == 1 and v.shape[d] != 1)
    return v.sum(axis=dims, keepdims=True) if dims else v


def _record(ctx, args, out):
    """Append the records of one application; the outputs, as tensors on the tape."""
    tape = current()
    if type(out) is Tensor and out._dtype.is_floating_point and not ctx._dirty \
            and not ctx._non_differentiable:  # the common case: one output, one record
        ins, argspec, rgs = [], [], []
        for a in args:
            if isinstance(a, Tensor):
                argspec.append((a._shape, a._rg))
                rgs.append(a._rg)
                if a._rg:
                    ins.append(a)
            else:
                argspec.append(None)
        if len(ins) <= 3:
            core = _Core(ctx, argspec, [(out._shape, out._dtype, True)], True)
            c = tape.record_python(_slots(tape, None, *ins), np.asarray(out._value()), core,
                                   out._dtype.code, True)
            ctx._seq = int(tape.AUX[H_SEQ]) - 1
            ctx._tape_ref = weakref.ref(tape)
            ctx._tensor_rg = tuple(rgs)
            new = _on_tape(tape, c, out._shape, out._dtype, True)
            ctx._saved = [(None, None, None) if t is None else
                          (t, weakref.ref(new), 0) if t is out else (t, None, t._version)
                          for t in ctx._to_save]
            ctx._to_save = ()  # packed: only _saved holds them (release() drops it)
            return new
    from ..inplace import _rebind

    outs = out if isinstance(out, tuple) else (out,)
    for t in ctx._dirty:
        if t._rg and t.is_leaf:
            raise RuntimeError("a leaf Variable that requires grad has been used in an "
                               "in-place operation.")
        if not any(o is t for o in outs):
            raise RuntimeError("Some elements marked as dirty during the forward method were "
                               "not returned as output. The inputs that are modified inplace "
                               "must all be outputs of the Function.")
    nondiff = {id(t) for t in ctx._non_differentiable}
    infos = [None if not isinstance(o, Tensor) else
             (o._shape, o._dtype, o._dtype.is_floating_point and id(o) not in nondiff)
             for o in outs]
    diff = [j for j, info in enumerate(infos) if info is not None and info[2]]
    if not diff:
        ctx._saved = [(t, None, None if t is None else t._version) for t in ctx._to_save]
        ctx._to_save = ()
        return out
    ins = [a for a in args if isinstance(a, Tensor) and a._rg]
    core = _Core(ctx, [(a._shape, a._rg) if isinstance(a, Tensor) else None for a in args],
                 infos, len(outs) == 1)
    c, slots = _append(tape, core, ins, [outs[j] for j in diff], diff)
    ctx._seq = int(tape.R[tape.S[c, S_REC], R_SEQ])  # (not the last record: outputs follow)
    ctx._tape_ref = weakref.ref(tape)
    ctx._tensor_rg = tuple(a._rg for a in args if isinstance(a, Tensor))
    results, wrapped = list(outs), {}
    for j, s in zip(diff, slots):
        o = outs[j]
        new = _on_tape(tape, s, o._shape, o._dtype, True)
        if any(o is d for d in ctx._dirty):
            _rebind(o, new)  # the input modified in place now names the output
            new = o
        wrapped[id(o)] = (o, new)
        results[j] = new
    saved = []
    for t in ctx._to_save:
        if t is None:
            saved.append((None, None, None))
        elif id(t) in wrapped:  # an output: the forward's own result, checked via the output
            raw, new = wrapped[id(t)]
            if raw is new:  # a dirty input, now on the tape: a copy (no cycle via the tape)
                raw = _from_array(np.array(new._value()), new._dtype, False)
            saved.append((raw, weakref.ref(new), new._version))
        else:
            saved.append((t, None, t._version))
    ctx._saved, ctx._to_save = saved, ()
    return tuple(results) if isinstance(out, tuple) else results[0]


def _append(tape, core, ins, values, diff):
    """Record the fan-in, core and output records; (core slot, output slots). A
    compaction while several records are made renumbers the slots held here: start again
    (the records made so far are unreachable and go at the next compaction)."""
    for _ in range(8):
        items = list(zip(_slots(tape, None, *ins), range(len(ins))))
        epoch = tape.epoch
        while len(items) > 3:
            tail, items = items[-3:], items[:-3]
            s = tape.record_python([t[0] for t in tail], _EMPTY,
                                   _FanIn(core, [t[1] for t in tail]), DT_F64, True)
            items.append((s, None))
        core.direct = [t[1] for t in items]
        ins_slots = [t[0] for t in items]
        if core.one:
            v = values[0]
            c = tape.record_python(ins_slots, np.asarray(v._value()), core, v._dtype.code, True)
            if tape.epoch == epoch or len(ins) <= 3:
                return c, [c]
            continue
        c = tape.record_python(ins_slots, _EMPTY, core, DT_F64, True)
        slots = []
        for j, v in zip(diff, values):
            s = tape.record_python([c], np.asarray(v._value()), _OutputGrad(core, j),
                                   v._dtype.code, True)
            tape.R[tape.S[s, S_REC], R_FLAGS] |= R_IMPLICIT  # its grad_fn is the core's
            slots.append(s)
        if tape.epoch == epoch:
            return c, slots
    raise RuntimeError("custom Function: the tape kept compacting while its records were "
                       f"appended ({len(ins)} inputs, {len(values)} outputs)")
