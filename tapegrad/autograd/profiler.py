"""The profiler: `profile` (PyTorch's legacy `torch.autograd.profiler.profile`) and
`record_function`; `tapegrad.profiler.profile` is the newer front end over the same
collection.

    with tapegrad.autograd.profiler.profile(record_shapes=True) as prof:
        with tapegrad.autograd.profiler.record_function("forward"):
            loss = model(x).sum()
        loss.backward()
    print(prof.key_averages().table(sort_by="self_cpu_time_total", row_limit=10))

What is timed, in the thread that opened the profile (other threads are not seen):
- every recorded op: each record appended to the tape (its name is the op table's,
  "mul", "matmul", "cross_entropy"...; an implicit cast or broadcast is a record of
  its own; a custom Function's record is named after the Function). The time is that
  of the record's kernel, which computes the op's value; the Python front end around
  it counts in the enclosing range's self time;
- every `record_function` range (nested ranges: a range's self time excludes the
  ranges and ops inside it);
- each backward call: `Tensor.backward`, `tapegrad.autograd.backward` (both named
  "autograd::backward") and `tapegrad.autograd.grad` ("autograd::grad"), as one
  range each (a create_graph backward lists the ops it records inside it).

Differences from PyTorch: an op computed without grad (grad mode off, or no input
requiring grad) runs in NumPy with no record and is not listed on its own (its time
counts in the enclosing range); a `tapegrad.func` replay is one compiled call, timed
only by a range around it; a backward is one event, not one per graph node; names
bound before the profile started (`from tapegrad.autograd import grad`) are not
timed; memory, stacks, FLOPs and modules are not recorded (`profile_memory`,
`with_stack`, `with_flops`, `with_modules` are accepted and ignored); there is no
device (`use_cuda`/`use_device` warn and are ignored, as PyTorch does on a machine
without CUDA).

Cost: nothing while no profile is running. Starting the first profile (in any thread)
wraps the Tape's record methods and the backward entry points; stopping the last one
puts the plain methods back (the same install trick as anomaly mode). A wrapper left
under another one (anomaly mode switched on inside a profile) passes calls through and
removes itself once it is on top again.
"""


import functools
import threading
from time import perf_counter_ns
from typing import Any, Callable, TypeVar

from ..tape.dispatch import OP_PYTHON as _OP_PYTHON
from ..tape.records import R_IN0, R_OP, S_REC, S_SHAPE
from ..tape.tape import Tape
from .profiler_util import EventList, FunctionEvent, FunctionEventAvg, _Results, _warn_device

__all__ = ["profile", "record_function", "EventList", "FunctionEvent", "FunctionEventAvg"]

_F = TypeVar("_F", bound=Callable[..., Any])
_LOCK = threading.RLock()
_ACTIVE = [0]       # profiles started and not stopped, in all threads
_WRAPPED: dict = {}  # (owner, attribute) -> (original, wrapper)


class _Local(threading.local):
    col = None  # the collector of the profile this thread opened


_LOCAL = _Local()


# ---- collection ------------------------------------------------------------------------
class _Collector:
    """The rows of one thread's profile: (name, start ns, end ns, parent row, shapes,
    user range); `stack` holds the rows of the open ranges."""

    def __init__(self, record_shapes: bool) -> None:
        self.record_shapes = record_shapes
        self.recording = True
        self.thread = threading.get_native_id()
        self.t0 = perf_counter_ns()
        self.stopped = False
        self.rows: list = []
        self.stack: list = []

    def take(self) -> EventList:
        """The events collected so far (open ranges end now); starts a new collection."""
        end = perf_counter_ns()
        rows, self.rows, self.stack = self.rows, [], []
        t0, tid = self.t0, self.thread
        events = []
        for i, (name, a, b, parent, shapes, user) in enumerate(rows):
            events.append(FunctionEvent(i + 1, name, tid, (a - t0) / 1e3,
                                        ((end if b is None else b) - t0) / 1e3, shapes, user))
        for e, row in zip(events, rows):
            if row[3] >= 0:
                e.set_cpu_parent(events[row[3]])
                events[row[3]].append_cpu_child(e)
        events.sort(key=lambda e: (e.time_range.start, -e.time_range.end))
        return EventList(events)

    def open(self, name: str, user: bool) -> int:
        parent = self.stack[-1] if self.stack else -1
        self.rows.append([name, perf_counter_ns(), None, parent, [] if self.record_shapes
                          else None, user])
        k = len(self.rows) - 1
        self.stack.append(k)
        return k

    def close(self, k: int) -> None:
        if k < len(self.rows) and self.rows[k][2] is None:
            self.rows[k][2] = perf_counter_ns()
            if k in self.stack:
                del self.stack[self.stack.index(k):]


def _name_and_shapes(tape, s, shapes):
    from ..ops import BY_CODE
    from ..ops.spec import UNARY

    k = int(tape.S[s, S_REC])
    spec = BY_CODE[int(tape.R[k, R_OP])]
    if not shapes:
        return spec.name, None
    out = []
    for f in spec.edges:
        i = int(tape.R[k, f])
        if f != R_IN0 and spec.family == UNARY and spec.name.endswith("_scalar"):
            out.append([])  # a Python number operand
        elif i >= 0:
            out.append(list(tape._dims(int(tape.S[i, S_SHAPE]))))
    return spec.name, out


def _op_wrapper(fn, key):
    def method(self, *args, **kwargs):
        col = _LOCAL.col
        if col is None or not col.recording:
            if not _ACTIVE[0]:
                _remove_if_on_top(key, method)
            return fn(self, *args, **kwargs)
        t0 = perf_counter_ns()
        s = fn(self, *args, **kwargs)
        t1 = perf_counter_ns()
        if key[1] == "record" and args and args[0] == _OP_PYTHON:
            return s  # timed by the record_python wrapper, under the Function's name
        name, shapes = _name_and_shapes(self, s, col.record_shapes)
        col.rows.append((name, t0, t1, col.stack[-1] if col.stack else -1, shapes, False))
        return s

    return _finish(method, fn)


def _python_wrapper(fn, key):
    def method(self, ins, value, vjp, *args, **kwargs):
        col = _LOCAL.col
        if col is None or not col.recording:
            if not _ACTIVE[0]:
                _remove_if_on_top(key, method)
            return fn(self, ins, value, vjp, *args, **kwargs)
        t0 = perf_counter_ns()
        s = fn(self, ins, value, vjp, *args, **kwargs)
        t1 = perf_counter_ns()
        ctx = getattr(vjp, "ctx", None)
        if ctx is None and hasattr(vjp, "core"):
            return s  # a fan-in or output record of a custom Function: part of its core
        name = "python" if ctx is None else type(ctx).__name__.removesuffix("Backward")
        shapes = None
        if col.record_shapes:
            shapes = [list(self._dims(int(self.S[i, S_SHAPE]))) for i in ins if i >= 0]
        col.rows.append((name, t0, t1, col.stack[-1] if col.stack else -1, shapes, False))
        return s

    return _finish(method, fn)


def _range_wrapper(fn, key, name):
    def call(*args, **kwargs):
        col = _LOCAL.col
        if col is None or not col.recording:
            if not _ACTIVE[0]:
                _remove_if_on_top(key, call)
            return fn(*args, **kwargs)
        _ensure_fast()
        k = col.open(name, False)
        try:
            return fn(*args, **kwargs)
        finally:
            col.close(k)

    return _finish(call, fn)


def _finish(wrapper, fn):
    functools.update_wrapper(wrapper, fn)  # name, doc, signature (__wrapped__) of fn
    return wrapper


# ---- installing the wrappers -------------------------------------------------------------

def _targets():
    from .. import autograd
    from ..tensor import Tensor

    out = [(Tape, n, _op_wrapper) for n in ("record", "record_wide", "record_cast",
                                            "overwrite")]
    out.append((Tape, "record_python", _python_wrapper))
    out.append((Tensor, "backward", lambda f, k: _range_wrapper(f, k, "autograd::backward")))
    out.append((autograd, "backward", lambda f, k: _range_wrapper(f, k, "autograd::backward")))
    out.append((autograd, "grad", lambda f, k: _range_wrapper(f, k, "autograd::grad")))
    return out


def _current(owner, name):
    return owner.__dict__[name] if isinstance(owner, type) else getattr(owner, name)


def _in_chain(fn, wrapper):
    """Is `wrapper` fn itself or under it (wrappers name what they wrap `__wrapped__`)?"""
    for _ in range(16):
        if fn is wrapper:
            return True
        fn = getattr(fn, "__wrapped__", None)
        if fn is None:
            return False
    return False


def _ensure():
    """Wrap every target whose wrapper is not in place (first profile, or another mode
    put back the plain method underneath a running profile)."""
    with _LOCK:
        for owner, name, make in _targets():
            key = (owner, name)
            cur = _current(owner, name)
            have = _WRAPPED.get(key)
            if have is not None and _in_chain(cur, have[1]):
                continue
            w = make(cur, key)
            _WRAPPED[key] = (cur, w)
            setattr(owner, name, w)


def _ensure_fast():
    """`_ensure` when Tape.record lost its wrapper (the cheap check of a range's start)."""
    have = _WRAPPED.get((Tape, "record"))
    if have is None or not _in_chain(Tape.__dict__["record"], have[1]):
        _ensure()


def _uninstall():
    """Put back the methods the wrappers replaced, where a wrapper is on top; one under
    another mode's wrapper stays (passing calls through) until it is on top again."""
    with _LOCK:
        for key, (orig, w) in list(_WRAPPED.items()):
            owner, name = key
            cur = _current(owner, name)
            if cur is w:
                setattr(owner, name, orig)
                del _WRAPPED[key]
            elif not _in_chain(cur, w):
                del _WRAPPED[key]  # replaced by someone else: nothing of ours is left


def _remove_if_on_top(key, w):
    with _LOCK:
        have = _WRAPPED.get(key)
        if not _ACTIVE[0] and have is not None and have[1] is w and \
                _current(*key) is w:
            setattr(key[0], key[1], have[0])
            del _WRAPPED[key]


def _start(col: _Collector) -> None:
    if _LOCAL.col is not None and not _LOCAL.col.stopped:
        raise RuntimeError("profiler: a profile is already running in this thread (profiles "
                           "do not nest); stop it before starting another")
    with _LOCK:
        _LOCAL.col = col
        _ACTIVE[0] += 1
        _ensure()


def _stop(col: _Collector) -> None:
    with _LOCK:
        col.recording, col.stopped = False, True
        if _LOCAL.col is col:
            _LOCAL.col = None
        _ACTIVE[0] -= 1
        if not _ACTIVE[0]:
            _uninstall()


# ---- record_function ---------------------------------------------------------------------
class record_function:
    """A named range of a profile: `with record_function("name"):` or, as a decorator,
    `@record_function("name")` around every call of a function. The range's CPU total
    is its length; its self time excludes the ranges and ops inside it. Outside a
    profile (or in a thread other than the profile's) it does nothing. `args` is
    accepted and not recorded."""

    def __init__(self, name: str, args: str | None = None) -> None:
        if not isinstance(name, str):
            raise TypeError(f"record_function(): name must be a str, not {type(name).__name__}")
        self.name, self.args = name, args
        self._open: list = []

    def __enter__(self) -> "record_function":
        col = _LOCAL.col
        if col is not None and col.recording:
            _ensure_fast()
            self._open.append((col, col.open(self.name, True)))
        else:
            self._open.append(None)
        return self

    def __exit__(self, *exc: object) -> None:
        item = self._open.pop() if self._open else None
        if item is not None:
            item[0].close(item[1])

    def __call__(self, fn: _F) -> _F:
        """Decorate fn: each call runs inside this range."""
        name, args = self.name, self.args

        @functools.wraps(fn)
        def ranged(*a: Any, **kw: Any) -> Any:
            with record_function(name, args):
                return fn(*a, **kw)

        return ranged  # type: ignore[return-value]


# ---- profile (the legacy front end) ----------------------------------------------------
class profile(_Results):
    """Time what runs in this thread between `__enter__` and `__exit__` (see the module
    docstring for what is timed): `with profile() as prof: ...`, then
    `prof.key_averages().table(...)`, `prof.events()`, `prof.export_chrome_trace(path)`.
    `enabled=False` profiles nothing; `record_shapes` stores each op's input shapes;
    the memory, stack, FLOP and module options are accepted and ignored, and a device
    (`use_cuda`, `use_device`) warns and is ignored: tapegrad runs on the CPU only."""

    def __init__(self, enabled: bool = True, *, use_cuda: bool = False,
                 use_device: str | None = None, record_shapes: bool = False,
                 with_flops: bool = False, profile_memory: bool = False,
                 with_stack: bool = False, with_modules: bool = False,
                 use_kineto: bool = False, use_cpu: bool = True,
                 experimental_config: object = None, acc_events: bool = False,
                 custom_trace_id_callback: object = None) -> None:
        self.enabled, self.record_shapes = enabled, record_shapes
        self.use_device = "cuda" if use_cuda and use_device is None else use_device
        self._col: _Collector | None = None
        self._entered = False

    def __enter__(self) -> "profile":
        if not self.enabled:
            return self
        if self._entered:
            raise RuntimeError("Profiler context manager is not reentrant")
        _warn_device(self.use_device)
        col = _Collector(self.record_shapes)
        _start(col)
        self._entered, self._col = True, col
        return self

    def __exit__(self, *exc: object) -> None:
        if not self.enabled or self._col is None:
            return
        col, self._col = self._col, None
        _stop(col)
        self._events = col.take()

    @property
    def function_events(self) -> EventList | None:
        """The events once the profile finished (None before)."""
        return self._events

    def table(self, sort_by: str | None = None, row_limit: int = 100,
              max_src_column_width: int = 75, max_name_column_width: int = 55,
              max_shapes_column_width: int = 80, header: str | None = None,
              top_level_events_only: bool = False) -> str:
        """The table of the events (not averaged): see EventList.table."""
        return self._finished().table(sort_by, row_limit, max_src_column_width,
                                      max_name_column_width, max_shapes_column_width,
                                      header, top_level_events_only)

    def total_average(self) -> FunctionEventAvg:
        """All the events added up."""
        return self._finished().total_average()

    def __str__(self) -> str:
        return self.table() if self._events is not None else "<unfinished profile>"



_MISSING = frozenset("""
DeviceType EnforceUnique KinetoStepTracker MemRecordsAcc ProfilerActivity ProfilerConfig
ProfilerState emit_itt emit_nvtx kineto_available load_nvprof parse_nvprof_trace
""".split())


def __getattr__(name: str) -> object:
    """An AttributeError that says tapegrad does not support a torch.autograd.profiler
    name yet."""
    import sys

    from .._pytorch_names import unsupported

    raise unsupported("torch.autograd.profiler", name, _MISSING, sys.modules[__name__])
