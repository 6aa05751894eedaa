"""Anomaly mode: `detect_anomaly()`, `set_detect_anomaly(mode)`, `is_anomaly_enabled()`.

While the mode is on:
- **forward**: every record remembers the user's stack where it was made, keyed by the
  record's `seq` (stable across compaction; entries of records compacted away are
  dropped). This costs nothing while the mode is off because it is done by wrappers
  installed on the `Tape` class's record methods when the mode is switched on and
  removed when it is switched off: an untouched recording path is what runs otherwise.
- **backward**: the engine (`_sweep` in engine.py) hands the reverse sweep to `sweep`
  here, which runs it one marked record at a time. After each record it checks the
  adjoints of that record's input slots (those the sweep needs) for NaN, and after a
  custom Function's backward the gradients it returned; a NaN raises PyTorch's
  RuntimeError ("Function 'SqrtBackward0' returned nan values in its 0th output.").
  Any error in a record's backward is preceded by a UserWarning with the forward
  traceback of the record ("Error detected in SqrtBackward0. Traceback of forward call
  that caused the error: ..."). Nothing reached `.grad` then: delivery comes after the
  sweep, so a raising backward leaves every `.grad` as it was. The same sweep, its
  checks off, runs a sweep over records with saved-tensor hooks (saved_hooks.py).

The flag is global (all threads), as PyTorch's is; grad mode stays per thread.
"""

import os
import sys
import threading
import traceback
import warnings
import weakref
from typing import Any

import numpy as np

from ..tape.dispatch import FAMILY, OP_LEAF, OP_PYTHON
from ..tape.records import (R_FLAGS, R_IMPLICIT, R_OP, R_OUT, R_SEQ, S_DTYPE, S_NUMEL, S_OFF,
                            S_REC)
from ..tape.tape import Tape

__all__ = ["detect_anomaly", "set_detect_anomaly", "is_anomaly_enabled",
           "is_anomaly_check_nan_enabled", "set_anomaly_enabled"]

STATE = [False, True]  # [enabled, check_nan]: read by the engine (one list lookup a sweep)
_STACKS = weakref.WeakKeyDictionary()  # tape -> {seq of a record: its forward stack}
_ORIGINAL = {}         # Tape method name -> the unwrapped function, while wrapped
_RECORDERS = ("record", "record_wide", "record_cast", "overwrite")
_LOCK = threading.Lock()
_PKG = os.path.dirname(os.path.dirname(os.path.abspath(__file__))) + os.sep
_NO_INFO = ("No forward pass information available. Enable detect anomaly during forward "
            "pass for more information.")


# ---- the mode ------------------------------------------------------------------------
def is_anomaly_enabled() -> bool:
    """Is anomaly mode on (in any thread: the flag is global)?"""
    return STATE[0]


def is_anomaly_check_nan_enabled() -> bool:
    """Does anomaly mode raise on NaN gradients (its `check_nan` setting)?"""
    return STATE[1]


def set_anomaly_enabled(mode: bool, check_nan: bool = True) -> None:
    """Switch anomaly mode on or off (PyTorch's `torch.set_anomaly_enabled`)."""
    with _LOCK:
        STATE[0], STATE[1] = bool(mode), bool(check_nan)
        if STATE[0]:
            _install()
        else:
            _uninstall()


class detect_anomaly:
    """Context manager that turns anomaly mode on: the backward pass names the forward
    operation (and the user's line that recorded it) whose backward failed, and, with
    `check_nan`, raises RuntimeError when a backward produces NaN. Slow: for debugging."""

    def __init__(self, check_nan: bool = True) -> None:
        self.prev = is_anomaly_enabled()
        self.check_nan = check_nan
        self.prev_check_nan = is_anomaly_check_nan_enabled()
        warnings.warn("Anomaly Detection has been enabled. This mode will increase the runtime "
                      "and should only be enabled for debugging.", stacklevel=2)

    def __enter__(self) -> None:
        set_anomaly_enabled(True, self.check_nan)

    def __exit__(self, *args: object) -> None:
        set_anomaly_enabled(self.prev, self.prev_check_nan)


class set_detect_anomaly:
    """Set anomaly mode on or off now (a function call), or for a `with` block, after
    which the previous setting comes back."""

    def __init__(self, mode: bool, check_nan: bool = True) -> None:
        self.prev = is_anomaly_enabled()
        self.prev_check_nan = is_anomaly_check_nan_enabled()
        set_anomaly_enabled(mode, check_nan)

    def __enter__(self) -> None:
        pass

    def __exit__(self, *args: object) -> None:
        set_anomaly_enabled(self.prev, self.prev_check_nan)


# ---- forward: remembering where each record was made ----------------------------------
def _install():
    for name in _RECORDERS:
        if name not in _ORIGINAL:
            _ORIGINAL[name] = fn = Tape.__dict__[name]
            setattr(Tape, name, _remembering(fn))
    if "compact" not in _ORIGINAL:
        _ORIGINAL["compact"] = fn = Tape.__dict__["compact"]
        Tape.compact = _pruning(fn)


def _uninstall():
    """Back to the plain record methods. The compaction wrapper stays while stacks
    recorded in the mode remain (a later backward in the mode may need them)."""
    for name in _RECORDERS:
        fn = _ORIGINAL.pop(name, None)
        if fn is not None:
            setattr(Tape, name, fn)
    if not any(_STACKS.values()) and "compact" in _ORIGINAL and _outermost():
        Tape.compact = _ORIGINAL.pop("compact")


def _outermost():
    """Is our compaction wrapper Tape.compact itself (not under another module's wrapper,
    which unwrapping would drop)?"""
    return getattr(Tape.__dict__["compact"], "__wrapped__", None) is _ORIGINAL["compact"]


def _remembering(fn):
    def method(self, *args, **kwargs):
        s = fn(self, *args, **kwargs)
        seq = int(self.R[self.S[s, S_REC], R_SEQ])
        stacks = _STACKS.get(self)
        if stacks is None:
            stacks = _STACKS[self] = {}
        stacks[seq] = _user_stack()
        return s

    method.__name__, method.__doc__ = fn.__name__, fn.__doc__
    method.__wrapped__ = fn
    return method


def _pruning(fn):
    def compact(self, keep=()):
        out = fn(self, keep)
        stacks = _STACKS.get(self)
        if stacks:
            seqs = self.R[:self.nrecords, R_SEQ]  # increasing
            keys = np.fromiter(stacks, np.int64, len(stacks))
            ks = np.minimum(np.searchsorted(seqs, keys), max(len(seqs) - 1, 0))
            alive = (seqs[ks] == keys) if len(seqs) else np.zeros(len(keys), bool)
            for q in keys[~alive].tolist():
                del stacks[q]
        if not STATE[0] and not any(_STACKS.values()):
            with _LOCK:
                if not STATE[0] and _ORIGINAL.get("compact") is fn and _outermost():
                    Tape.compact = _ORIGINAL.pop("compact")
        return out

    compact.__name__, compact.__doc__, compact.__wrapped__ = fn.__name__, fn.__doc__, fn
    return compact


def _user_stack():
    """The caller's stack without its innermost tapegrad frames, outermost first, as
    (file, line number, function, None) (source lines are read only when printed)."""
    f = sys._getframe(2)
    while f is not None and f.f_code.co_filename.startswith(_PKG):
        f = f.f_back
    out = []
    while f is not None:
        out.append((f.f_code.co_filename, f.f_lineno, f.f_code.co_name, None))
        f = f.f_back
    out.reverse()
    return out


def _warn(tape, k, name):
    """PyTorch's warning before an error in record k's backward: its forward traceback."""
    stack = _STACKS.get(tape, {}).get(int(tape.R[k, R_SEQ]))
    if stack is None:
        msg = f"Error detected in {name}. {_NO_INFO}"
    else:
        frames = traceback.StackSummary.from_list(stack)
        msg = (f"Error detected in {name}. Traceback of forward call that caused the error:\n"
               + "".join(frames.format()))
    level, f = 1, sys._getframe(0)
    while f is not None and f.f_code.co_filename.startswith(_PKG):
        level, f = level + 1, f.f_back
    warnings.warn(msg, UserWarning, stacklevel=level)  # at the user's backward() line


# ---- backward: record by record, checking for NaN -------------------------------------
def sweep(tape, top: int, bottom: int, retain: bool, check: bool = True,
          packed: "dict | None" = None) -> int:
    """Pass 2 of the reverse sweep (after `sweep.mark`) one record at a time; returns the
    reached-slot count, as the engine's other sweeps do. `check`: anomaly mode's checks
    above (off for a sweep that only needs records one at a time); `packed`: the tape's
    saved-tensor hook entries by record seq (saved_hooks.py): such a record runs with its
    unpacked values, and without `retain` its entries are dropped afterwards."""
    from . import engine
    from . import hooks as _hooks
    from . import saved_hooks as _saved

    engine._SWEEPS[0] += 1
    hooked = {}
    for k, s, fns in _hooks.marked(tape, bottom, top):
        hooked.setdefault(k, []).append((s, fns))
    outs = tape.R[bottom:top + 1, R_OUT]
    ks = (np.flatnonzero(tape.MARK[outs] == 1) + bottom)[::-1].tolist()
    seqs = tape.R[ks, R_SEQ].tolist() if packed else ()
    nan = check and STATE[1]
    paused = []
    for pos, k in enumerate(ks):
        for s, fns in hooked.get(k, ()):
            _hooks.run_slot_hooks(tape, s, fns)
        op = int(tape.R[k, R_OP])
        if op == OP_LEAF:
            continue
        entry = packed.get(seqs[pos]) if packed else None
        try:
            if FAMILY[op] == FAMILY[OP_PYTHON]:
                vjp = engine._python_step(tape, k)
                paused.append(vjp)
                bad = _python_nan(tape, k, vjp, top) if nan else None
            else:
                if entry is None:
                    engine._reverse(tape, k, k, top, True)
                else:
                    _saved.run(tape, k, entry, top)
                bad = _record_nan(tape, k, top) if nan else None
        except Exception:
            if check:
                _failed(tape, k, top)
            raise
        if bad is not None:
            j, i, name = bad
            _warn(tape, j, name)
            raise RuntimeError(f"Function '{name}' returned nan values in its {i}th output.")
    n = engine._reverse(tape, bottom - 1, bottom, top, retain)[1]  # frees, lists leaves
    if not retain:
        engine._release(paused)
        if packed:
            _saved.drop(tape, seqs)
    return n


def _edges(tape, k):
    """Record k's input slots in the order of its grad_fn's next_functions (-2: a python
    scalar operand), as tapegrad/autograd/graph.py lists them."""
    from ..ops import BY_CODE
    from ..ops.spec import UNARY

    spec = BY_CODE[int(tape.R[k, R_OP])]
    ins = [int(tape.R[k, f]) for f in spec.edges]
    if spec.family == UNARY and spec.name.endswith("_scalar"):
        ins[1] = -2
    return [s for s in ins if s != -1]


def _blame(tape, k, top):
    """(record, input position) a gradient that record k wrote is reported at: k itself,
    or for an implicit record (a cast or broadcast inside an op, no grad_fn of its own)
    the op above it that read its output, with that output's position among its inputs."""
    if tape.R[k, R_FLAGS] & R_IMPLICIT and tape.R[k, R_OP] != OP_PYTHON:
        o = int(tape.R[k, R_OUT])
        for j in range(k + 1, top + 1):
            ins = _edges(tape, j)
            if o in ins:
                return _blame(tape, j, top)[0], ins.index(o)
    return k, None


def _grad_fn(tape, k):
    """The grad_fn class name of record k (a custom Function's `<Name>Backward`)."""
    from ..ops import BY_CODE

    op = int(tape.R[k, R_OP])
    if op == OP_PYTHON:
        vjp = tape.python_vjp.get(int(tape.R[k, R_SEQ]))
        ctx = getattr(getattr(vjp, "core", vjp), "ctx", None)
        if ctx is not None:
            return type(ctx).__name__
    return BY_CODE[op].grad_fn


def _failed(tape, k, top):
    """Warn with the forward traceback of the op whose backward (record k) failed."""
    j = _blame(tape, k, top)[0]
    _warn(tape, j, _grad_fn(tape, j))


def _has_nan(tape, s):
    off, n = int(tape.S[s, S_OFF]), int(tape.S[s, S_NUMEL])
    return bool(np.isnan(tape.G[int(tape.S[s, S_DTYPE])][off:off + n]).any())


def _record_nan(tape, k, top):
    """(record, input position, name) if record k's backward gave an input a NaN."""
    mark = tape.MARK
    for i, s in enumerate(_edges(tape, k)):
        if s >= 0 and mark[s] == 1 and _has_nan(tape, s):
            j, pos = _blame(tape, k, top)
            return j, i if pos is None else pos, _grad_fn(tape, j)
    return None


def _python_nan(tape, k, vjp: Any, top):
    """The check after a PYTHON record: a custom Function's returned gradients (indexed
    by tensor argument, as PyTorch counts its outputs), else the input adjoints."""
    from ._function_tape import _Core, _FanIn, _OutputGrad

    if isinstance(vjp, (_FanIn, _OutputGrad)):
        return None  # they hand on gradients the core returned (checked there)
    if not isinstance(vjp, _Core):
        return _record_nan(tape, k, top)
    grads, pos = iter(vjp.input_grads or ()), -1
    for a in vjp.args:
        if a is None:
            continue
        pos += 1
        if not a[1]:
            continue
        g = next(grads, None)
        if g is not None and np.isnan(np.asarray(g, np.float64)).any():
            return k, pos, type(vjp.ctx).__name__
    return None
