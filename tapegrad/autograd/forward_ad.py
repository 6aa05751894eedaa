"""Forward-mode AD: `dual_level`, `make_dual`, `unpack_dual`, `enter_dual_level`,
`exit_dual_level` (PyTorch's `torch.autograd.forward_ad`).

How it works
------------
A dual tensor is a tensor on the tape whose slot has a tangent (itself a tapegrad tensor)
in the level's table, keyed by slot (with the slot's record `seq`, so a slot row reused
after compaction is never taken for the old one). `make_dual` returns a view of the primal
that requires grad on the tape (of the primal itself when it requires grad, else of a
hidden copy), so every op on it is recorded.

While a level is open, wrappers sit on the `Tape` record methods (`record`, `record_wide`,
`record_cast`, `overwrite`, `snapshot`; the first record after a compaction prunes the
table of the slots it freed). After each record that reads a slot with a tangent they
compute the output's tangent, the tape pinned (no compaction under the caller's feet) and
the wrappers idle (tangent ops get no tangents of their own). Exiting the level removes
the wrappers: outside a level the recording path is the plain one (as in anomaly.py).

Tangent rules, by family (all exact):
- UNARY: the op's derivative formula (the op table's `grad`, written for create_graph)
  with g = t: the Jacobian is diagonal, so J t = J^T t (x + c, x - c: t itself).
- BINARY, TERNARY: the formula once per input with a tangent, g = that tangent broadcast
  to the output's shape, and its `sum_to` disabled (the elementwise factor times the
  broadcast tangent is J_i t_i); the contributions are summed.
- Linear ops (COPY, STRIDED, CAST, sum/mean/cumsum, gathers by index): the record itself
  replayed on the tangent; jointly linear ones (cat/stack, index_put, copy_slices) replayed
  on both tangents (zeros for a missing one); bilinear MATMUL: op(t_a, b) + op(a, t_b).
- Other reductions over dims (prod, max/min/amax/amin, var, std, norm, logsumexp): their
  formula is g broadcast times a factor D(x); J t is (D * t) summed over the reduced dims.
  softmax and log_softmax: written out (y (t - sum(y t)), t - sum(softmax t)).
- Any other row with a formula: the double-VJP, J t = d/dg <J^T g, t> (recorded).
- In-place fills (fill_, zero_, ...) give a zero tangent; a snapshot keeps its source's;
  detach() has none. A custom Function (PYTHON record) raises NotImplementedError, as in
  PyTorch without `jvp`.

Limits: ops under `no_grad()` are not recorded, so they give results without tangents;
a dual tensor reports `requires_grad=True` even when its primal did not require grad.
The level is global (all threads); tangents live on the tape of the thread that made them.
"""

import functools
import threading
import weakref
from collections import namedtuple
from typing import Any, Callable, Optional

import numpy as np

from ..ops import BY_CODE
from ..ops.spec import (BINARY, CAST, COPY, INDEX, JOIN, LEAF, MATMUL, PYTHON, REDUCE, STRIDED,
                        TERNARY, UNARY)
from ..tape.dispatch import OP_PYTHON
from ..tape.records import (R_IN0, R_IN1, R_IN2, R_OP, R_SEQ, S_DTYPE, S_FLAGS, S_FREE, S_REC,
                            S_RG, S_SHAPE)
from ..tape.tape import Tape, _local
from ..tensor import Tensor, _from_array, _on_tape
from ._grad_ctx import _DT, GradCtx

__all__ = ["UnpackedDualTensor", "enter_dual_level", "exit_dual_level", "make_dual",
           "unpack_dual", "dual_level"]

UnpackedDualTensor = namedtuple("UnpackedDualTensor", ["primal", "tangent"])
UnpackedDualTensor.__doc__ = "What `unpack_dual` returns: the primal and its tangent (or None)."

_LEVEL = [-1]            # the open level (-1: none); PyTorch allows one at a time
_TABLES = weakref.WeakKeyDictionary()  # tape -> {slot: (seq, tangent Tensor, hidden)}
_ORIGINAL = {}           # Tape method name -> the function the wrapper replaced
_LOCK = threading.Lock()
_LINEAR_REDUCE = frozenset(("sum", "sum_dim", "mean", "mean_dim", "cumsum"))
_SHIFTS = frozenset(("add_scalar", "sub_scalar"))
_PUTS = frozenset(("index_put", "copy_slices"))


class _Busy(threading.local):
    on = False  # computing a tangent in this thread: the wrappers stay idle


_BUSY = _Busy()


# ---- the API ------------------------------------------------------------------------------
def enter_dual_level() -> int:
    """Open a forward AD level and return its index (0: one level at a time, as PyTorch)."""
    with _LOCK:
        if _LEVEL[0] >= 0:
            raise RuntimeError("Nested forward mode AD is not supported at the moment")
        _install()
        _LEVEL[0] = 0
    return 0


def exit_dual_level(*, level: Optional[int] = None) -> None:
    """Close the level (the open one by default): every tangent it held is dropped."""
    with _LOCK:
        if level is None:
            level = _LEVEL[0]
        if level < 0:
            raise RuntimeError("Dual level must be a positive number.")
        if level != _LEVEL[0]:
            raise RuntimeError("Trying to exit a forward AD level that was not the last one "
                               "that was created. This is not supported.")
        _LEVEL[0] = -1
        _uninstall()
        _TABLES.clear()


class dual_level:
    """Context manager (or decorator) for a forward AD level: `with dual_level(): ...`
    makes `make_dual` usable inside and drops every tangent on exit."""

    def __enter__(self) -> int:
        return enter_dual_level()

    def __exit__(self, *args: object) -> None:
        exit_dual_level()

    def __call__(self, fn: Callable) -> Callable:
        @functools.wraps(fn)
        def wrapped(*args: Any, **kwargs: Any) -> Any:
            with dual_level():
                return fn(*args, **kwargs)

        return wrapped


def _check_level(level, op):
    if _LEVEL[0] < 0 and op == "_make_dual":
        raise RuntimeError("Trying to create a dual Tensor for forward AD but no level exists, "
                           "make sure to enter_dual_level() first.")
    if level is not None and level != _LEVEL[0]:
        raise RuntimeError(f"Invalid level given to {op}")


def make_dual(tensor: Tensor, tangent: Tensor, *, level: Optional[int] = None) -> Tensor:
    """A view of `tensor` carrying `tangent` (same shape; any floating dtype) at the open
    level: ops on it compute the directional derivative along `tangent` as they go."""
    _check_level(level, "_make_dual")
    for name, t in (("primal", tensor), ("tangent", tangent)):
        if not isinstance(t, Tensor):
            raise TypeError(f"make_dual(): argument '{name}' must be Tensor, not "
                            f"{type(t).__name__}")
        if not t._dtype.is_floating_point:
            raise ValueError(f"Expected {name} to be floating point or complex, but got: "
                             f"{t._dtype}")
    if tangent._shape != tensor._shape:
        raise RuntimeError("Trying to set a forward gradient that has a different size than "
                           "that of the original Tensor, this is not supported. Tensor is of "
                           f"size {list(tensor._shape)} while the given forward gradient is of "
                           f"size {list(tangent._shape)}.")
    if _entry(tensor) is not None:
        raise RuntimeError("Making a dual Tensor based on a Tensor that already has a forward "
                           f"gradient at the same level {_LEVEL[0]} is not supported.")
    prev, _local.grad_enabled = _local.grad_enabled, True
    _BUSY.on = True
    try:
        hidden = not tensor._rg and not tangent._rg  # forward AD's own history alone
        src = tensor if tensor._rg else _from_array(np.array(tensor._value()), tensor._dtype,
                                                     True)
        dual = src.view(tensor._shape)
    finally:
        _BUSY.on = False
        _local.grad_enabled = prev
    tape = dual._tape
    _table(tape)[dual._slot] = (_seq(tape, dual._slot), tangent, hidden)
    return dual


def unpack_dual(tensor: Tensor, *, level: Optional[int] = None) -> UnpackedDualTensor:
    """(primal, tangent) of `tensor`: the primal a view without the tangent (detached when
    its history is forward AD's alone), the tangent None for a tensor that is not dual."""
    if _LEVEL[0] < 0 and level is None:
        return UnpackedDualTensor(tensor, None)
    _check_level(level, "_fw_primal")
    e = _entry(tensor)
    if e is None:
        return UnpackedDualTensor(tensor, None)
    if e[2]:  # no real gradient history: PyTorch's primal and tangent need no grad
        tan = e[1].detach() if e[1]._rg else e[1]
        return UnpackedDualTensor(tensor.detach(), tan)
    _BUSY.on = True
    try:
        primal = tensor[...]
    finally:
        _BUSY.on = False
    return UnpackedDualTensor(primal, e[1])


# ---- the table -------------------------------------------------------------------------
class _Table(dict):
    """A tape's tangents: slot -> (seq of its record, tangent, hidden), and the tape's
    compaction count when it was last pruned."""

    __slots__ = ("epoch",)


def _table(tape):
    tab = _TABLES.get(tape)
    if tab is None:
        tab = _TABLES[tape] = _Table()
        tab.epoch = tape.epoch
    return tab


def _seq(tape, s):
    return tape.R.item(tape.S.item(s, S_REC), R_SEQ)


def _lookup(tape, tab, s):
    """The entry of slot s, or None (also for a slot row reused by a newer record)."""
    e = tab.get(s) if s >= 0 else None
    if e is not None and e[0] != _seq(tape, s):
        del tab[s]
        return None
    return e


def _entry(t):
    tape = t._tape
    if tape is None or _LEVEL[0] < 0:
        return None
    tab = _TABLES.get(tape)
    return _lookup(tape, tab, t._slot) if tab else None


# ---- the wrappers ----------------------------------------------------------------------
def _install():
    for name, make in (("record", _recording), ("record_wide", _recording),
                       ("record_cast", _recording), ("overwrite", _recording),
                       ("snapshot", _recording)):
        if name not in _ORIGINAL:
            _ORIGINAL[name] = fn = Tape.__dict__[name]
            setattr(Tape, name, make(fn, name))


def _uninstall():
    for name in list(_ORIGINAL):
        setattr(Tape, name, _ORIGINAL.pop(name))


def _recording(fn, name):
    n_in = {"record": 2, "record_wide": 3}.get(name, 1)  # leading args that are slots
    first = 1 if name in ("record", "record_wide") else 0  # record: op comes first

    def method(self, *args, **kwargs):
        tab = _TABLES.get(self)
        if not tab or _BUSY.on or _LEVEL[0] < 0:
            return fn(self, *args, **kwargs)
        if tab.epoch != self.epoch:
            _prune(self, tab)
        ins = args[first:first + n_in]
        if not any(i in tab for i in ins):
            return fn(self, *args, **kwargs)
        if first and args[0] == OP_PYTHON:  # a custom Function over a dual tensor
            raise _unsupported(BY_CODE[OP_PYTHON])
        s = fn(self, *args, **kwargs)
        _propagate(self, tab, s, name, args)
        return s

    method.__name__, method.__doc__, method.__wrapped__ = fn.__name__, fn.__doc__, fn
    return method


def _prune(tape, tab):
    """Drop the entries of slots that compaction freed since the last look (their tangents
    held their inputs: those go at the next compaction)."""
    tab.epoch = tape.epoch
    n, S = tape.nslots, tape.S
    for s in list(tab):
        if s >= n or S.item(s, S_FLAGS) & S_FREE or tab[s][0] != _seq(tape, s):
            del tab[s]


# ---- tangents ----------------------------------------------------------------------------
class _TangentCtx(GradCtx):
    """A record as its formula sees it, with g of the output's shape and no reduction back
    to an input's shape (J_i t_i of an elementwise op, not J_i^T g)."""

    __slots__ = ()

    def sum_to(self, t, i):
        return t


def _propagate(tape, tab, s, method, args):
    """Give output slot s (a record just made) its tangent."""
    S = tape.S
    srow = S[s].tolist()
    row = tape.R[srow[S_REC]].tolist()
    spec = BY_CODE[row[R_OP]]
    ins = (args[0], -1, -1) if method == "snapshot" else (row[R_IN0], row[R_IN1], row[R_IN2])
    entries = [None if i < 0 else _lookup(tape, tab, i) for i in ins]
    if entries[0] is None and entries[1] is None and entries[2] is None:
        return
    ts = [None if e is None else e[1] for e in entries]
    hidden = all(e is not None and e[2] for e, i in zip(entries, ins)
                 if i >= 0 and S.item(i, S_FLAGS) & S_RG)
    out_t = _on_tape(tape, s, tape._dims(srow[S_SHAPE]), _DT[srow[S_DTYPE]],
                     bool(srow[S_FLAGS] & S_RG))
    _BUSY.on = True
    tape.pinned += 1
    try:
        if method == "snapshot":
            tan = ts[0]
        elif method == "overwrite":
            tan = _zeros(out_t)
        else:
            tan = _rule(tape, row, spec, ts, out_t, method, args)
    finally:
        tape.pinned -= 1
        _BUSY.on = False
    if tan is None:
        tan = _zeros(out_t)
    if tan._shape != out_t._shape:
        raise RuntimeError(f"forward AD: the tangent rule of {spec.grad_fn} ('{spec.name}') gave "
                           f"shape {list(tan._shape)} for an output of shape "
                           f"{list(out_t._shape)}")
    tab[s] = (row[R_SEQ], tan, hidden)


def _zeros(like):
    return _from_array(np.zeros(like._shape, like._dtype.np), like._dtype, False)


def _as(t, dt):
    return t if t is None or t._dtype is dt else t.to(dt)


def _total(parts):
    parts = [p for p in parts if p is not None]
    return functools.reduce(lambda a, b: a + b, parts) if parts else None


def _unsupported(spec):
    if spec.family == PYTHON:
        return NotImplementedError("You must implement the jvp function for custom "
                                   "autograd.Function to use it with forward mode AD.")
    return NotImplementedError(f"Trying to use forward AD with {spec.name} that does not "
                               "support it because it has not been implemented yet.")


def _rule(tape, row, spec, ts, out, method, args):
    """The tangent of record `row` (output `out`) from its inputs' tangents `ts`."""
    fam, dt, name = spec.family, out._dtype, spec.name
    ts = [_as(t, dt) if fam != CAST else t for t in ts]
    if fam == PYTHON or fam == LEAF:
        raise _unsupported(spec)
    if fam == UNARY:
        if name in _SHIFTS:  # x + c, x - c: the tangent itself
            return ts[0]
        return spec.grad(_TangentCtx(tape, row, ts[0], (True, False, False), {}))[0]
    if fam in (BINARY, TERNARY):
        parts = []
        for i, t in enumerate(ts):
            if t is not None:
                g = t if t._shape == out._shape else t.expand(out._shape)
                need = tuple(j == i for j in range(3))
                parts.append(spec.grad(_TangentCtx(tape, row, g, need, {}))[i])
        return _total(parts)
    if fam == CAST:
        return ts[0].to(dt)
    if fam in (COPY, STRIDED) or (fam == REDUCE and name in _LINEAR_REDUCE) or (
            fam == INDEX and name not in _PUTS):
        return _replay(tape, method, args, out, {0: ts[0]})
    if fam == JOIN or fam == INDEX:  # jointly linear in (in0, in1) / (in0, in2)
        j = 1 if fam == JOIN else 2
        ctx = GradCtx(tape, row, None, (), {})
        return _replay(tape, method, args, out, {
            0: ts[0] if ts[0] is not None else _zeros(ctx.inputs[0]),
            j: ts[j] if ts[j] is not None else _zeros(ctx.inputs[j])})
    if fam == MATMUL:
        return _total([_replay(tape, method, args, out, {i: ts[i]}) for i in (0, 1)
                       if ts[i] is not None])
    if fam == REDUCE:
        return _reduce_rule(tape, row, spec, ts[0], out)
    if spec.grad is None:
        raise _unsupported(spec)
    return _double_vjp(tape, row, spec, ts, out)


def _replay(tape, method, args, out, subs):
    """The record made by `method(*args)` again, with input i replaced by tangent subs[i]
    (linear ops: the op applied to the tangent)."""
    from ..recorder import slot

    args = list(args)
    rg = False
    for i, t in subs.items():
        if t is None:
            return None
        args[1 + i] = slot(tape, t, out._dtype)
    n_in = 2 if method == "record" else 3
    for a in args[1:1 + n_in]:
        if a >= 0 and tape.S[a, S_FLAGS] & S_RG:
            rg = _local.grad_enabled
    args[-1] = S_RG if rg else 0
    s = getattr(tape, method)(*args)
    return _on_tape(tape, s, out._shape, out._dtype, rg)


def _reduce_rule(tape, row, spec, t, out):
    ctx = GradCtx(tape, row, None, (True, False, False), {})
    if spec.name in ("softmax", "log_softmax"):
        from ..ops.structural import _lane_dim

        d = _lane_dim(ctx.shape(0), *ctx.params)
        y = ctx.out
        if spec.name == "softmax":
            return y * (t - (y * t).sum(d, keepdim=True))
        return t - (y.exp() * t).sum(d, keepdim=True)
    # the formula is g (broadcast back over the reduced dims) times a factor D(x)
    ctx.g = ctx.const(np.ones(out._shape))
    factor = spec.grad(ctx)[0]
    p = ctx.params  # None: all dims; else the reduced dims have output stride 0
    dims = None if p is None else tuple(i for i, st in enumerate(p[2]) if st == 0)
    prod = factor * t
    tan = prod.sum() if dims is None or len(dims) == len(t._shape) else prod.sum(dims)
    return tan.reshape(out._shape) if tan._shape != out._shape else tan


def _double_vjp(tape, row, spec, ts, out):
    """J t = d/dg <J^T g, t>: the VJP formula is linear in g (recorded, so the tangent
    keeps its graph)."""
    from .engine import grad

    prev, _local.grad_enabled = _local.grad_enabled, True
    try:
        g = _from_array(np.zeros(out._shape, out._dtype.np), out._dtype, True)
        need = tuple(t is not None for t in ts)
        us = spec.grad(GradCtx(tape, row, g, need, {}))
        dot = _total([(u * t).sum() for u, t in zip(us, ts) if u is not None and t is not None])
        if dot is None or not dot._rg:
            return None
        (jt,) = grad(dot, g, create_graph=True, allow_unused=True)
    finally:
        _local.grad_enabled = prev
    return jt
