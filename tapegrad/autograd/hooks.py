"""Tensor hooks: `Tensor.register_hook` and `register_post_accumulate_grad_hook`.

A hook must see the *complete* gradient of its tensor (every use summed) and its
replacement must flow on. On a flat tape that moment has a place:

- **Non-leaf tensor** (a slot produced by record k): every record that reads the slot
  comes after k on the tape, so when the reverse sweep reaches k, the slot's adjoint is
  complete and record k has not read it yet. Hooks live in a per-tape table keyed by the
  record's `seq` (stable across compaction; a `seq` no longer on the tape is dropped
  lazily). A sweep over a tape with hooks runs in segments (engine `_sweep`): the compiled
  reverse sweep runs from the top down to k + 1 (pausing at PYTHON records as always),
  Python runs the hooks on the slot's adjoint and writes the result back into the adjoint
  arena, and the sweep resumes at k, whose backward then reads the replacement; so do
  `retain_grad()` and `autograd.grad` for that tensor. Per sweep this costs one lookup per
  hooked tensor and one pause per hooked tensor that the sweep reaches: nothing per record,
  and the compiled sweep is unchanged. A hook outlives its tensor as long as the graph
  through it exists (as a hook on PyTorch's grad_fn does).
- **Leaf tensor**: its adjoint is complete when the sweep ends (summed over the slots
  the leaf was loaded into), so its hooks run at delivery, before `.grad` is written: in
  `backward()` the replacement is what accumulates, in `autograd.grad` it is what is
  returned. Every leaf's hooks run before any `.grad` changes, so a raising hook leaves
  every `.grad` as it was. Post-accumulate hooks run after that leaf's `.grad` was updated.

Hooks run with grad mode off. Leaf tables are keyed by `id(tensor)` with a weak reference
that removes the entry when the tensor dies.
"""

import weakref
from collections import OrderedDict
from typing import TYPE_CHECKING, Callable

import numpy as np

from ..tape.records import R_OUT, R_SEQ, S_DTYPE, S_FLAGS, S_LEAF, S_NUMEL, S_OFF, S_REC, S_SHAPE
from ..tape.tape import _local

if TYPE_CHECKING:
    from ..nn.modules.hooks import RemovableHandle

LEAF = {}     # id(leaf) -> (weakref to it, OrderedDict handle id -> hook)
POST = {}     # id(leaf) -> (weakref to it, OrderedDict handle id -> post-accumulate hook)
NONLEAF = weakref.WeakKeyDictionary()  # tape -> {seq of the producing record: OrderedDict}


def _handle(hooks: OrderedDict, fn: Callable):
    from ..nn.modules.hooks import RemovableHandle  # not at import: nn imports autograd

    handle = RemovableHandle(hooks)
    hooks[handle.id] = fn
    return handle


def _leaf_table(table: dict, t) -> OrderedDict:
    entry = table.get(id(t))
    if entry is None or entry[0]() is not t:
        key = id(t)
        ref = weakref.ref(t, lambda r, table=table, key=key: _drop(table, key, r))
        entry = table[key] = (ref, OrderedDict())
    return entry[1]


def _drop(table, key, ref):
    entry = table.get(key)
    if entry is not None and entry[0] is ref:
        del table[key]


def register_hook(self, hook: Callable) -> "RemovableHandle":
    """Register `hook(grad) -> Tensor or None`, called with this tensor's gradient each time
    it is computed (the complete one: all uses summed); a returned tensor replaces the
    gradient from then on. Returns a handle whose `.remove()` unregisters it."""
    if not self._rg:
        raise RuntimeError("cannot register a hook on a tensor that doesn't require gradient")
    if self.is_leaf:
        return _handle(_leaf_table(LEAF, self), hook)
    tape = self._tape
    table = NONLEAF.get(tape)
    if table is None:
        table = NONLEAF[tape] = {}
    seq = int(tape.R[tape.S[self._slot, S_REC], R_SEQ])
    hooks = table.get(seq)
    if hooks is None:
        hooks = table[seq] = OrderedDict()
    return _handle(hooks, hook)


def register_post_accumulate_grad_hook(self, hook: Callable) -> "RemovableHandle":
    """Register `hook(tensor)`, called after backward() accumulated into this leaf's
    `.grad` (an optimizer step per parameter, for instance). Returns a removable handle."""
    if not self._rg:
        raise RuntimeError("cannot register a hook on a tensor that doesn't require gradient")
    if not self.is_leaf:
        raise RuntimeError("post accumulate grad hooks cannot be registered on non-leaf tensors")
    return _handle(_leaf_table(POST, self), hook)


# ---- running hooks (called by the engine) -----------------------------------------------
def _run(hooks, g):
    """Call `hooks` in order on gradient tensor g (grad mode off); the last replacement."""
    from ..tensor import Tensor

    shape, dt = g._shape, g._dtype
    prev = _local.grad_enabled
    _local.grad_enabled = False
    try:
        for fn in list(hooks.values()):
            r = fn(g)
            if r is None:
                continue
            name = getattr(fn, "__name__", repr(fn))
            if not isinstance(r, Tensor):
                raise TypeError(f"expected Variable, but hook returned '{type(r).__name__}'")
            if r._shape != shape:
                raise RuntimeError(f"hook '{name}' has changed the size of value")
            if r._dtype is not dt:
                raise RuntimeError(f"hook '{name}' has changed the type of value (was "
                                   f"torch.{dt.legacy} got torch.{r._dtype.legacy})")
            g = r
    finally:
        _local.grad_enabled = prev
    return g


def marked(tape, bottom: int, top: int) -> list:
    """(record, slot, hooks) of the hooked records this sweep reaches, top first."""
    table = NONLEAF.get(tape)
    if not table:
        return []
    n = tape.nrecords
    seqs = tape.R[:n, R_SEQ]
    keys = np.fromiter(table, np.int64, len(table))
    ks = np.searchsorted(seqs, keys)
    out = []
    for seq, k in zip(keys.tolist(), ks.tolist()):
        hooks = table[seq]
        if k >= n or seqs[k] != seq or not hooks:  # the record was dropped, or no hooks left
            del table[seq]
            continue
        o = int(tape.R[k, R_OUT])
        if bottom <= k <= top and tape.MARK[o] == 1:
            out.append((k, o, hooks))
    out.sort(key=lambda e: -e[0])
    return out


def run_slot_hooks(tape, s: int, hooks) -> None:
    """Run a non-leaf tensor's hooks on slot s's adjoint and write the result back."""
    from .. import dtypes
    from ..tensor import _from_array

    code, off, n = int(tape.S[s, S_DTYPE]), int(tape.S[s, S_OFF]), int(tape.S[s, S_NUMEL])
    region = tape.G[code][off:off + n]
    dt = dtypes.float32 if code == 0 else dtypes.float64
    g = _from_array(region.reshape(tape._dims(int(tape.S[s, S_SHAPE]))).copy(), dt, False)
    r = _run(hooks, g)  # the replacement, or g itself, which a hook may change in place
    region[:] = np.asarray(r._value(), region.dtype).reshape(-1)


def run_leaf_hooks(t, g: np.ndarray) -> np.ndarray:
    """Leaf t's gradient (a NumPy array) after its hooks (itself when it has none)."""
    from ..tensor import _from_array

    entry = LEAF.get(id(t))
    if entry is None or entry[0]() is not t:
        return g
    if not entry[1]:  # every hook was removed: back to the plain delivery
        del LEAF[id(t)]
        return g
    gt = _from_array(np.array(g, t._dtype.np), t._dtype, False)
    r = _run(entry[1], gt)
    return np.array(r._value()) if r is not gt else gt._arr


def run_post_hooks(t) -> None:
    """Leaf t's post-accumulate-grad hooks, called with t."""
    entry = POST.get(id(t))
    if entry is None or entry[0]() is not t:
        return
    if not entry[1]:
        del POST[id(t)]
        return
    prev = _local.grad_enabled
    _local.grad_enabled = False
    try:
        for fn in list(entry[1].values()):
            fn(t)
    finally:
        _local.grad_enabled = prev


def deliver(tape, slots: list, accumulate: Callable) -> None:
    """The engine's delivery when leaf hooks exist: sum each leaf's slots, run every
    leaf's hooks, then accumulate them all, then the post-accumulate hooks."""
    S, G = tape.S, tape.G
    grads = {}
    for s in slots:
        off, n = S[s, S_OFF], S[s, S_NUMEL]
        if S[s, S_FLAGS] & S_LEAF:
            t = tape.leaf_of[s]
        else:
            t = tape.retained.get(s)
            if t is None:
                continue
        g = G[t._dtype.code][off:off + n].reshape(t._shape)
        e = grads.get(id(t))
        if e is None:
            grads[id(t)] = [t, g]
        else:
            e[1] = e[1] + g
    for e in grads.values():
        if e[0]._tape is None:
            e[1] = run_leaf_hooks(e[0], e[1])
    for t, g in grads.values():
        accumulate(t, g)
    if POST:
        for t, _ in grads.values():
            run_post_hooks(t)


def _bind() -> None:
    from ..tensor import Tensor

    Tensor.register_hook = register_hook
    Tensor.register_post_accumulate_grad_hook = register_post_accumulate_grad_hook


_bind()
