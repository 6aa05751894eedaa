"""create_graph=True: the backward pass itself recorded on the tape, to any order.

The compiled reverse sweep adds adjoints into arenas: nothing there can be differentiated
again. With `create_graph=True` the engine comes here instead. `sweep.mark` marks what the
sweep needs and checks it (freed records, in-place changes: the plain sweep's errors),
then a Python walk visits the marked records from the top down, the tape pinned (new
records never renumber the walked ones). For each record it calls the row's `grad`
formula (tapegrad/ops: the derivative written once more in public tapegrad ops, beside
the op's compiled VJP), which records new ops on the same tape; the gradients it returns
(Tensors that carry their own graph) are summed per input slot. A leaf's gradient is the
sum at its slots; it goes to `.grad` (backward) or is returned (grad).

`GradCtx` (_grad_ctx.py) is what a formula reads of its record.
"""

import warnings

import numpy as np

from ..ops import BY_CODE
from ..ops.spec import LEAF, PYTHON
from ..tape import sweep
from ..tape.dispatch import FAMILY, OP_DETACH, OP_LEAF, OP_SNAPSHOT
from ..tape.records import (OK, R_FLAGS, R_FREED, R_IN0, R_OP, R_OUT, R_SEQ, S_FLAGS, S_LEAF,
                            S_NUMEL, S_RETAIN)
from ..tape.tape import _fast, _local
from ..tensor import Tensor, _from_array
from . import _walk_cache as _cache
from ._grad_ctx import _FIELDS, GradCtx, _slot_tensor
from . import engine
from . import hooks as _hooks
from . import saved_hooks as _saved

_EMPTY = np.zeros(0)


# ---- the walk ---------------------------------------------------------------------------
def _mark(tape, roots):
    """Pass 1 of the compiled sweep (marks, checks); (top, bottom, marked slots)."""
    G = tape.adjoints()
    args = (tape.R, tape.S, tape.AUX, G[0], G[1], tape.MARK, tape.LIST, roots, _EMPTY)
    fn = engine._entry.get("mark")
    if fn is None:
        fn = engine._entry["mark"] = _fast(sweep.mark, *args)
    status, a, b, top, bottom = fn(*args)
    if status != OK:  # the plain sweep raises the same error, with its message
        engine._sweep(tape, roots, _EMPTY, True)
        raise RuntimeError(f"backward: mark failed with status {status}")
    return top, bottom, tape.LIST[:int(tape.AUX[sweep.H_MARKED])].tolist()


def _unsupported(tape, rows):
    """NotImplementedError for the first marked op without a formula (before any work)."""
    for op in {r[R_OP] for r in rows}:
        spec = BY_CODE[op]
        if spec.grad is None and spec.family not in (LEAF, PYTHON):
            raise NotImplementedError(f"create_graph=True through {spec.grad_fn} is not "
                                      f"supported yet (op '{spec.name}' has no formula)")


def _room(tape, roots):
    """Compact now if the tape is over half full: the walk records with the tape pinned,
    where a full tape can only grow (memory would climb loop after loop)."""
    head = tape.AUX[:sweep.AUX_HEADER].tolist()
    half = tape.R.shape[0] // 2
    if max(head[sweep.H_NREC], head[sweep.H_NSLOT]) > half or any(
            head[sweep.H_TOP32 + c] > tape.A[c].shape[0] // 2 for c in (0, 1)):
        roots = np.array(tape.make_room(0, 1, tuple(roots.tolist())), np.int64)
    return roots


def walk(tape, roots, seeds, retain):
    """The recorded reverse sweep from root slots `roots` seeded with Tensors `seeds`;
    returns ({slot: gradient Tensor}, the set of marked slots)."""
    if not tape.pinned:
        roots = _room(tape, roots)
    top, bottom, marked = _mark(tape, roots)
    R = tape.R
    sel = np.flatnonzero(tape.MARK[R[bottom:top + 1, R_OUT]] == 1) + bottom
    sel = sel[::-1]
    rows = R[sel].tolist()
    marked_set = set(marked)
    hooked = _hooks.NONLEAF.get(tape) or None
    packed = tape.packed  # saved-tensor hooks' entries (saved_hooks.py)
    engine._SWEEPS[0] += 1  # a custom Function's stored output gradients are this walk's
    plan = None  # (structure key, canonical slots): the walk may replay a template
    if hooked is None and not packed:
        plan = _cache.key(tape, rows, roots.tolist(), seeds, marked_set)
    tpl = tape.templates.get(plan[0]) if plan is not None else None
    if tpl is None or _cache.uncacheable(tpl):
        _unsupported(tape, rows)  # (a template's walk passed this check)
    tensors = {}
    paused = []
    prev = _local.grad_enabled
    _local.grad_enabled = True
    tape.pinned += 1
    try:
        if tpl is not None and not _cache.uncacheable(tpl):
            def slot_tensor(s):
                t = tensors.get(s)
                if t is None:
                    t = tensors[s] = _slot_tensor(tape, s)
                return t

            acc = _cache.replay(tape, tpl, plan[1], seeds, slot_tensor)
        else:
            n0, reads = int(tape.AUX[sweep.H_NREC]), _cache.READS[0]
            acc = {}
            for s, g in zip(roots.tolist(), seeds):
                acc[s] = acc[s] + g if s in acc else g
            for row in rows:
                o = row[R_OUT]
                g = acc.get(o)
                if hooked is not None:
                    fns = hooked.get(row[R_SEQ])
                    if fns and g is not None:
                        g = acc[o] = _hooks._run(fns, g)
                if g is None:
                    continue
                op = row[R_OP]
                fam = FAMILY[op]
                if fam == LEAF:
                    if op == OP_LEAF or op == OP_DETACH:
                        continue
                    s = row[R_IN0]
                    if op != OP_SNAPSHOT:  # fill_, zero_, normal_, uniform_: a zero gradient
                        g = _from_array(np.zeros(g._shape, g._dtype.np), g._dtype, False)
                    if s in marked_set:
                        acc[s] = acc[s] + g if s in acc else g
                    continue
                need = tuple(row[f] >= 0 and row[f] in marked_set for f in _FIELDS)
                ctx = GradCtx(tape, row, g, need, tensors)
                if fam == PYTHON:
                    from ._higher_python import python_grads

                    grads = python_grads(ctx, paused)
                else:
                    entry = packed.get(row[R_SEQ]) if packed else None
                    undo = _saved.unpacked(tape, row, entry, True) if entry else None
                    try:  # the formula reads (and records with) the unpacked values
                        grads = ctx.spec.grad(ctx)
                    finally:
                        if undo:
                            _saved.restore(tape, undo)
                for f, gi in zip(_FIELDS, grads):
                    s = row[f]
                    if gi is None or s < 0 or s not in marked_set:
                        continue
                    if gi.numel() != tape.S[s, S_NUMEL]:
                        spec = ctx.spec
                        raise RuntimeError(f"create_graph: the formula of {spec.grad_fn} ('"
                                           f"{spec.name}') gave a gradient of shape "
                                           f"{list(gi._shape)} for an input of shape "
                                           f"{list(ctx.shape(_FIELDS.index(f)))}")
                    acc[s] = acc[s] + gi if s in acc else gi
            if plan is not None and tpl is None and _cache.READS[0] == reads:
                _cache.store(tape, plan[0], plan[1], seeds, n0, acc)
    finally:
        tape.pinned -= 1
        _local.grad_enabled = prev
    if not retain:
        R[sel, R_FLAGS] |= R_FREED
        engine._release(paused)
        if packed:
            _saved.drop(tape, [row[R_SEQ] for row in rows])
    return acc, marked_set


# ---- entry points (tapegrad/autograd/engine.py calls these for create_graph=True) --------
def _seeds(tensors, grad_tensors):
    out = []
    for t, g in zip(tensors, grad_tensors):
        if g is None:
            g = _from_array(np.ones(t._shape, t._dtype.np), t._dtype, False)
        elif not isinstance(g, Tensor):
            g = _from_array(np.array(g, t._dtype.np), t._dtype, False)
        elif g._dtype is not t._dtype:
            g = g.to(t._dtype)
        out.append(g)
    return out


def _zero(t):
    return _from_array(np.zeros(t._shape, t._dtype.np), t._dtype, False)


def _gather(tape, acc, marked, t):
    """t's gradient: summed over its slots; zeros if the sweep reached it with nothing;
    None if it did not reach it."""
    slots = [t._slot] if t._tape is tape else tape.leaf_slots.get(id(t), ())
    g, reached = None, False
    for s in slots:
        if s in marked:
            reached = True
            v = acc.get(s)
            if v is not None:
                g = v if g is None else g + v
    if reached and g is None:
        g = _zero(t)
    if g is not None and t._tape is None:
        entry = _hooks.LEAF.get(id(t))
        if entry is not None and entry[0]() is t and entry[1]:
            g = _hooks._run(entry[1], g)
    return g


def _store(t, g):
    """.grad += g, out of place so that the new .grad carries g's graph."""
    if t._grad is not None:
        t._grad = t._grad + g
    elif g._rg:  # copied into storage of its own (CopyBackwards), as PyTorch's AccumulateGrad
        t._grad = _zero(t).copy_(g)
    else:
        t._grad = g


def backward(tensors, grad_tensors=None, retain_graph=None, inputs=None):
    """backward(create_graph=True): `.grad` of the leaves (and retained tensors) gets
    gradients that carry their own graph. `tensors` and `grad_tensors` come as
    engine.backward checked them (tuples of one length)."""
    tape, roots, _ = engine._roots(tensors, grad_tensors, "backward")
    retain = True if retain_graph is None else bool(retain_graph)
    if inputs is not None:
        inputs = (inputs,) if isinstance(inputs, Tensor) else tuple(inputs)
        if not inputs:
            raise RuntimeError("'inputs' argument to backward() cannot be empty.")
        _check_inputs(inputs)
    warnings.warn("Using backward() with create_graph=True will create a reference cycle "
                  "between the parameter and its gradient which can cause a memory leak. We "
                  "recommend using autograd.grad when creating the graph to avoid this. If you "
                  "have to use this function, make sure to reset the .grad fields of your "
                  "parameters to None after use to break the cycle and avoid the leak.",
                  UserWarning, stacklevel=4)
    acc, marked = walk(tape, roots, _seeds(tensors, grad_tensors), retain)
    if inputs is not None:
        targets = list(inputs)
    else:
        targets, seen = [], set()
        for s in marked:
            fl = int(tape.S[s, S_FLAGS])
            t = tape.leaf_of.get(s) if fl & S_LEAF else (
                tape.retained.get(s) if fl & S_RETAIN else None)
            if t is not None and id(t) not in seen:
                seen.add(id(t))
                targets.append(t)
    grads = [_gather(tape, acc, marked, t) for t in targets]  # hooks first: all or nothing
    for t, g in zip(targets, grads):
        if g is not None:
            _store(t, g)
    for t, g in zip(targets, grads):
        if g is not None and t._tape is None:
            _hooks.run_post_hooks(t)


def _check_inputs(inputs):
    for i, t in enumerate(inputs):
        if not isinstance(t, Tensor):
            raise TypeError(f"grad: expected a Tensor as input {i}, got {type(t).__name__}")
        if not t._rg:
            raise RuntimeError(f"One of the differentiated Tensors does not require grad (grad() "
                               f"input {i}, a {t._dtype} tensor of shape {list(t._shape)})")


def grad(outputs, inputs, grad_outputs, retain_graph, allow_unused, materialize_grads):
    """autograd.grad(create_graph=True): gradients that carry their own graph. Sequences
    in (engine.grad normalized the user's arguments); grad_outputs None means ones."""
    outputs, inputs = tuple(outputs), tuple(inputs)
    if grad_outputs is None:
        grad_outputs = (None,) * len(outputs)
    t = outputs[0]
    if len(outputs) == 1 and grad_outputs[0] is None and isinstance(t, Tensor) and t._rg \
            and t._tape is not None and t._tape is _local.tape and t.numel() == 1:
        tape, roots = t._tape, np.array([t._slot], np.int64)  # the common case
    else:
        tape, roots, _ = engine._roots(outputs, grad_outputs, "grad")
    _check_inputs(inputs)
    retain = True if retain_graph is None else bool(retain_graph)
    acc, marked = walk(tape, roots, _seeds(outputs, grad_outputs), retain)
    res = []
    for i, t in enumerate(inputs):
        g = _gather(tape, acc, marked, t)
        if g is None:
            if not allow_unused:
                raise RuntimeError(f"The differentiated Tensor at index {i} appears to not have "
                                   "been used in the graph. Set allow_unused=True if this is "
                                   "the desired behavior.")
            if materialize_grads:
                g = _zero(t)
        res.append(g)
    return tuple(res)
