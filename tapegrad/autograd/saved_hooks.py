"""Saved-tensor hooks: `saved_tensors_hooks(pack_hook, unpack_hook)`, `save_on_cpu()` and
`disable_saved_tensors_hooks(error_message)` (exported by tapegrad/autograd/graph.py).

- **forward**: while a context is open in this thread, every record whose output requires
  grad calls `pack_hook` once per value its backward reads (the record's R_SAVES_IN0/IN1/
  IN2/OUT bits, tapegrad/tape/records.py) and the result is stored, with the unpack hook,
  under the record's `seq` (stable across compaction; entries of records compacted away
  are dropped). As in anomaly mode this is done by wrappers on the `Tape` class's record
  methods, installed when the first context opens and removed when the last one closes:
  an untouched recording path is what runs otherwise.
- **backward**: the engine (`_sweep` in engine.py) routes a sweep that reaches records
  with packed values to anomaly mode's record-by-record sweep (anomaly.py, its checks off),
  which calls `run` here for such a record: `unpack_hook` gives each value, which is
  written into the record's slot in the tape's arena, the record's VJP runs, and the
  original values come back (other records and user tensors never see the unpacked ones).
  The create_graph walk (higher.py) does the same around a record's formula. Without
  retain_graph the packed objects are dropped with the record (PyTorch frees them).

Hooks are per thread (a stack: the innermost pair wins). Pack hooks run in no_grad mode
(as in PyTorch); unpack hooks in the backward's grad mode. No hook is called while a hook
runs (in PyTorch a pack hook that records ops with grad enabled recurses without end).
"""

import contextlib
import threading
import weakref
from typing import Any, Callable, Iterator

import numpy as np

from .. import dtypes
from ..ops.spec import INDEX
from ..tape.dispatch import FAMILY
from ..tape.records import (R_FLAGS, R_IN0, R_IN1, R_IN2, R_OP, R_OUT, R_SAVES_IN0,
                            R_SAVES_IN1, R_SAVES_IN2, R_SAVES_OUT, R_SEQ, S_DTYPE, S_FLAGS,
                            S_LEAF, S_NUMEL, S_OFF, S_REC, S_RG, S_SHAPE)
from ..tape.tape import Tape, _local as _grad
from ..tensor import Tensor, _from_array

__all__ = ["saved_tensors_hooks", "save_on_cpu", "disable_saved_tensors_hooks"]

# a tape's entries: tape.packed = {seq of a record: (unpack hook, [(field, packed)])}
TAPES = weakref.WeakSet()  # the tapes holding entries
_ROLES = ((R_SAVES_IN0, R_IN0), (R_SAVES_IN1, R_IN1), (R_SAVES_IN2, R_IN2),
          (R_SAVES_OUT, R_OUT))
_ANY_SAVED = R_SAVES_IN0 | R_SAVES_IN1 | R_SAVES_IN2 | R_SAVES_OUT
_OP_WHERE = 120  # where's in2 is its condition: packed as a bool tensor
_DT = (dtypes.float32, dtypes.float64)
_WRAPPED = {}    # Tape method name -> our wrapper, while it sits in the method's chain
_OPEN = [0]      # contexts open in all threads
_LOCK = threading.Lock()


class _State(threading.local):
    def __init__(self):  # once per thread
        self.stack = []         # (pack_hook, unpack_hook) pairs, innermost last
        self.disabled = None    # disable_saved_tensors_hooks' message while it is open
        self.busy = False       # a hook is running: records made now call no hook


_state = _State()


# ---- the public context managers ---------------------------------------------------------
class saved_tensors_hooks:
    """Context manager: `pack_hook(tensor)` is called for each value an op records for its
    backward, and `unpack_hook(packed)` gives that value back when backward needs it.

    What differs from PyTorch:
    - tapegrad keeps every saved value in its tape arena whatever `pack_hook` returns, so
      a pack hook cannot free memory (offloading to disk saves nothing); `unpack_hook`'s
      result is what the op's backward reads (written into the arena for that one op, the
      original restored afterwards).
    - which values count as saved follows tapegrad's records (the op table's `saves`),
      whichever inputs require grad: mul, div, mm, matmul and dot save both inputs (PyTorch
      skips an input whose partner needs no grad), pow(x, 2) saves x, exp, sigmoid, tanh,
      relu, sqrt and softmax their output, x ** y all three, add, sub, sum, mean and views
      nothing; where saves its condition (a bool tensor), an index op its flat positions
      (an int64 tensor; PyTorch saves the user's index tensors); a 1-d `v @ W` saves v as
      is (PyTorch saves it unsqueezed). Custom Functions' `save_for_backward` is not hooked.
    - a leaf that requires grad is passed as itself (as in PyTorch); any other value is
      passed as a copy that requires no grad (PyTorch passes the tensor with its grad_fn),
      so what a pack hook returns can never keep the graph alive (no reference cycle).
    - in-place changes of saved values are still detected (PyTorch skips the check when
      hooks are set); an unpacked tensor of another dtype is cast (PyTorch casts the
      gradient); one of another shape raises RuntimeError naming the op.
    - no hook runs while a hook runs (PyTorch would recurse).
    - with create_graph=True the record's formula reads the unpacked values when it
      records the backward; differentiating that recorded backward again reads the
      original values (the same numbers unless `unpack_hook` changes values).
    - a function compiled by tapegrad.func calls the hooks when it is recorded, not when
      it is replayed."""

    def __init__(self, pack_hook: Callable[[Tensor], Any],
                 unpack_hook: Callable[[Any], Tensor]) -> None:
        self.pack_hook = pack_hook
        self.unpack_hook = unpack_hook

    def __enter__(self) -> None:
        st = _state
        if st.disabled is not None:
            raise RuntimeError(st.disabled)
        st.stack.append((self.pack_hook, self.unpack_hook))
        with _LOCK:
            _OPEN[0] += 1
            if _OPEN[0] == 1:
                _install()

    def __exit__(self, *args: object) -> None:
        _state.stack.pop()
        with _LOCK:
            _OPEN[0] -= 1
            if _OPEN[0] == 0:
                _uninstall()


class save_on_cpu(saved_tensors_hooks):
    """Saved values are packed as a copy "on the CPU" and handed back at backward: the
    hooks pair PyTorch uses to move activations off the GPU. tapegrad runs on the CPU,
    so the results are those without it (the copies cost memory, see
    `saved_tensors_hooks`); `pin_memory` and `device_type` are accepted and unused."""

    def __init__(self, pin_memory: bool = False, device_type: str = "cuda") -> None:
        def pack_to_cpu(tensor: Tensor) -> tuple:
            return tensor.device, _from_array(np.array(tensor._value()), tensor._dtype, False)

        def unpack_from_cpu(packed: tuple) -> Tensor:
            device, tensor = packed
            return tensor.to(device)

        super().__init__(pack_to_cpu, unpack_from_cpu)


@contextlib.contextmanager
def disable_saved_tensors_hooks(error_message: str) -> Iterator[None]:
    """Context manager under which opening `saved_tensors_hooks` (or `save_on_cpu`) raises
    RuntimeError(error_message); opening it while hooks are set in this thread raises the
    same. Per thread, as in PyTorch."""
    st = _state
    prev = st.disabled
    try:
        if st.stack:
            raise RuntimeError(error_message)
        st.disabled = error_message
        yield
    finally:
        st.disabled = prev


# ---- forward: packing ---------------------------------------------------------------------
def _install():
    for name, make in (("record", _packing), ("record_wide", _packing),
                       ("compact", _pruning)):
        w = _WRAPPED.get(name)
        if w is not None and _in_chain(name, w):
            continue  # still there (under another wrapper), idle while no context is open
        w = _WRAPPED[name] = make(Tape.__dict__[name])
        setattr(Tape, name, w)


def _uninstall():
    """Back to the plain record methods. The compaction wrapper stays while packed values
    remain (it drops those of records compacted away, then removes itself)."""
    _remove("record")
    _remove("record_wide")
    if not TAPES:
        _remove("compact")


def _remove(name):
    """Unwrap `name` if our wrapper is the outermost one; under another one (anomaly mode
    or forward AD wrapped it since) it stays in place, idle."""
    w = _WRAPPED.get(name)
    if w is None:
        return
    if Tape.__dict__.get(name) is w:
        setattr(Tape, name, w.__wrapped__)
        del _WRAPPED[name]
    elif not _in_chain(name, w):
        del _WRAPPED[name]


def _in_chain(name, w):
    f = Tape.__dict__.get(name)
    while f is not None:
        if f is w:
            return True
        f = getattr(f, "__wrapped__", None)
    return False


def _packing(fn):
    def method(self, *args, **kwargs):
        s = fn(self, *args, **kwargs)
        st = _state
        if st.stack and not st.busy and s >= 0:
            _pack(self, s, st)
        return s

    method.__name__, method.__doc__, method.__wrapped__ = fn.__name__, fn.__doc__, fn
    return method


def _pruning(fn):
    def compact(self, keep=()):
        out = fn(self, keep)
        if self.packed:
            _prune(self, self.packed)
        if not _OPEN[0]:  # no context: unwrap what is still wrapped (and outermost now)
            with _LOCK:
                if not _OPEN[0]:
                    _remove("record")
                    _remove("record_wide")
                    if not TAPES:
                        _remove("compact")
        return out

    compact.__name__, compact.__doc__, compact.__wrapped__ = fn.__name__, fn.__doc__, fn
    return compact


def _prune(tape, table):
    """Drop the entries of records that are no longer on the tape."""
    seqs = tape.R[:tape.nrecords, R_SEQ]  # increasing
    keys = np.fromiter(table, np.int64, len(table))
    if len(seqs):
        ks = np.minimum(np.searchsorted(seqs, keys), len(seqs) - 1)
        dead = keys[seqs[ks] != keys]
    else:
        dead = keys
    for q in dead.tolist():
        del table[q]
    if not table:
        TAPES.discard(tape)


def _pack(tape, s, st):
    """Call the innermost pack hook for each value the record of output slot s saves."""
    k = int(tape.S[s, S_REC])
    row = tape.R[k].tolist()
    fl = row[R_FLAGS]
    if not fl & _ANY_SAVED or not tape.S[s, S_FLAGS] & S_RG:
        return  # nothing saved, or no backward will run it (no grad needed)
    table = tape.packed
    if row[R_SEQ] in table:
        return  # packed already (a wrapper of ours twice in the chain)
    pack, unpack = st.stack[-1]
    items = []
    prev, st.busy, _grad.grad_enabled = _grad.grad_enabled, True, False
    tape.pinned += 1  # a hook's ops never compact the tape under slot s (no tensor holds it yet)
    try:
        for bit, field in _ROLES:
            if fl & bit:
                t, leaf = _saved_tensor(tape, row[field], row[R_OP], field)
                v0 = t._version if leaf else 0
                items.append((field, pack(t)))
                if leaf and t._version != v0:
                    raise RuntimeError(
                        "A saved tensor pack hook is modifying its input in place. Tensors "
                        "provided as input to pack hook can not be modified by in-place "
                        "operations as this can lead to unexpected side-effects. Please open "
                        "an issue if you need to perform in-place operations on the input to "
                        "a pack hook.")
    finally:
        tape.pinned -= 1
        st.busy, _grad.grad_enabled = False, prev
    if not table:
        with _LOCK:
            TAPES.add(tape)
    table[row[R_SEQ]] = (unpack, items)


def _kind(op, field, code):
    """The tapegrad dtype a saved value is packed as."""
    if field == R_IN1 and FAMILY[op] == INDEX:
        return dtypes.int64  # flat positions, kept exactly in the float64 arena
    if field == R_IN2 and op == _OP_WHERE:
        return dtypes.bool_
    return _DT[code]


def _saved_tensor(tape, s, op, field):
    """(the Tensor passed to pack_hook for slot s, whether it is a user's leaf)."""
    S = tape.S
    if S[s, S_FLAGS] & S_LEAF:
        return tape.leaf_of[s], True
    code, off, n = int(S[s, S_DTYPE]), int(S[s, S_OFF]), int(S[s, S_NUMEL])
    dt = _kind(op, field, code)
    v = tape.A[code][off:off + n].reshape(tape._dims(int(S[s, S_SHAPE])))
    return _from_array(v.astype(dt.np), dt, False), False


# ---- backward: unpacking ------------------------------------------------------------------
def covers(tape, top: int, bottom: int) -> bool:
    """Are there packed values for records bottom..top (by seq) of this tape?"""
    table = tape.packed
    if not table:
        return False
    lo, hi = int(tape.R[bottom, R_SEQ]), int(tape.R[top, R_SEQ])
    if next(iter(table)) > hi or next(reversed(table)) < lo:  # keys are in seq order
        return False
    return any(lo <= q <= hi for q in table)


def unpacked(tape, row: list, entry, grad: bool) -> list:
    """Call the unpack hooks of a record (its row as a list) and write their values into
    its slots; returns what `restore` needs to put the original values back. `grad`: the
    grad mode the hooks run in (on for create_graph)."""
    from ..ops import BY_CODE

    unpack, items = entry
    st = _state
    values = []
    prev, st.busy, _grad.grad_enabled = _grad.grad_enabled, True, grad
    try:
        for field, packed in items:
            values.append((row[field], unpack(packed)))
    finally:
        st.busy, _grad.grad_enabled = False, prev
    S, undo = tape.S, []
    for s, t in values:
        if not isinstance(t, Tensor):
            raise TypeError("Output of saved tensor unpack_hook expected to be a Tensor but "
                            f"got result of type {type(t).__name__}")
        dims = tape._dims(int(S[s, S_SHAPE]))
        if tuple(t._shape) != dims:
            raise RuntimeError(
                f"{BY_CODE[row[R_OP]].grad_fn}: the saved tensor unpack_hook returned a "
                f"tensor of shape {list(t._shape)} ({t._dtype}) for a saved value of shape "
                f"{list(dims)}: unpack_hook must give back the packed tensor's shape")
    for s, t in values:
        code, off, n = int(S[s, S_DTYPE]), int(S[s, S_OFF]), int(S[s, S_NUMEL])
        if off < 0:
            continue
        region = tape.A[code][off:off + n]
        undo.append((code, off, n, region.copy()))
        region[:] = np.asarray(t._value()).reshape(-1)  # (cast to the arena's dtype)
    return undo


def restore(tape, undo: list) -> None:
    """Put back the values `unpacked` replaced (the arena may have grown meanwhile)."""
    for code, off, n, old in reversed(undo):
        tape.A[code][off:off + n] = old


def run(tape, k: int, entry, top: int) -> None:
    """Record k's VJP with its unpacked values (the record-by-record sweep calls this)."""
    from . import engine

    undo = unpacked(tape, tape.R[k].tolist(), entry, False)
    try:
        engine._reverse(tape, k, k, top, True)
    finally:
        restore(tape, undo)


def drop(tape, seqs) -> None:
    """Drop the packed values of records with these seqs (freed by a backward)."""
    table = tape.packed
    if not table:
        return
    for q in seqs:
        table.pop(q, None)
    if not table:
        with _LOCK:
            TAPES.discard(tape)
