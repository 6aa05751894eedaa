"""tapegrad.profiler: PyTorch's `torch.profiler` front end (`profile`, `record_function`,
`ProfilerActivity`, `schedule`, `tensorboard_trace_handler`).

    from tapegrad.profiler import profile, record_function, ProfilerActivity
    with profile(activities=[ProfilerActivity.CPU], record_shapes=True) as prof:
        with record_function("model_inference"):
            model(inputs)
    print(prof.key_averages().table(sort_by="cpu_time_total", row_limit=10))

It collects what `tapegrad.autograd.profiler` does (every recorded op, every
`record_function` range, each backward call, in the thread that started the profile;
ops computed without grad run in NumPy and are not listed on their own: see that
module). tapegrad runs on the CPU only: `ProfilerActivity.CUDA` (and the other device
activities) warn "CUDA is not available, disabling CUDA profiling" and are ignored, as
PyTorch does on a machine without CUDA. Memory, stacks, FLOPs and modules are not
recorded (those options are accepted and ignored).
"""


import enum
import json
import os
import socket
import time
from typing import Any, Callable, Iterable

from .autograd.profiler import _Collector, _Results, _start, _stop, _warn_device
from .autograd.profiler import record_function

__all__ = ["profile", "record_function", "ProfilerActivity", "ProfilerAction", "schedule",
           "supported_activities", "tensorboard_trace_handler"]


class ProfilerActivity(enum.Enum):
    """What a profile may time: CPU is what tapegrad has; the device activities are
    accepted and ignored with a warning (there is no device)."""

    CPU = 0
    XPU = 1
    MTIA = 2
    CUDA = 3
    HPU = 4
    PrivateUse1 = 5


class ProfilerAction(enum.Enum):
    """What a `schedule` asks of a step: nothing, warm up (nothing to warm up here: as
    NONE), record, or record and hand the trace to `on_trace_ready` at the end of the
    step."""

    NONE = 0
    WARMUP = 1
    RECORD = 2
    RECORD_AND_SAVE = 3


_RECORDING = (ProfilerAction.RECORD, ProfilerAction.RECORD_AND_SAVE)


def supported_activities() -> set:
    """The activities tapegrad can time: {ProfilerActivity.CPU}."""
    return {ProfilerActivity.CPU}


def schedule(*, wait: int, warmup: int, active: int, repeat: int = 0, skip_first: int = 0,
             skip_first_wait: int = 0) -> Callable[[int], ProfilerAction]:
    """A schedule for `profile(schedule=...)`: after `skip_first` steps, cycles of `wait`
    idle steps, `warmup` steps and `active` recorded steps (the last one
    RECORD_AND_SAVE), `repeat` cycles (0: forever). `skip_first_wait` leaves out the
    wait of the first cycle."""
    if min(wait, warmup, repeat, skip_first) < 0 or active < 1:
        raise ValueError(f"schedule(): needs wait, warmup, repeat, skip_first >= 0 and "
                         f"active >= 1 (got wait={wait}, warmup={warmup}, active={active}, "
                         f"repeat={repeat}, skip_first={skip_first})")

    def action(step: int) -> ProfilerAction:
        if step < skip_first:
            return ProfilerAction.NONE
        step -= skip_first
        period = wait + warmup + active
        if skip_first_wait:
            step += wait
        if repeat > 0 and step // period >= repeat:
            return ProfilerAction.NONE
        mod = step % period
        if mod < wait:
            return ProfilerAction.NONE
        if mod < wait + warmup:
            return ProfilerAction.WARMUP
        return ProfilerAction.RECORD if mod < period - 1 else ProfilerAction.RECORD_AND_SAVE

    return action


def _always(step: int) -> ProfilerAction:
    return ProfilerAction.RECORD


def tensorboard_trace_handler(dir_name: str, worker_name: str | None = None,
                              use_gzip: bool = False) -> Callable[..., None]:
    """An `on_trace_ready` handler that writes each trace as a Chrome trace file
    `<worker_name>.<milliseconds>.pt.trace.json` (gzipped with `use_gzip`) in `dir_name`
    (made if missing); the worker name defaults to `<host>_<pid>`."""
    def handler(prof: "profile") -> None:
        os.makedirs(dir_name, exist_ok=True)
        name = worker_name or f"{socket.gethostname()}_{os.getpid()}"
        path = os.path.join(dir_name, f"{name}.{time.time_ns() // 1_000_000}.pt.trace.json")
        if use_gzip:
            import gzip

            from .autograd.profiler_util import _chrome_trace

            with gzip.open(path + ".gz", "wt", encoding="utf-8") as f:
                json.dump(_chrome_trace(prof.events()), f)
        else:
            prof.export_chrome_trace(path)

    return handler


class profile(_Results):
    """Time what runs in this thread while the profile is on (`with profile(...) as
    prof:` or `prof.start()` ... `prof.stop()`); then `prof.key_averages().table(...)`,
    `prof.events()`, `prof.export_chrome_trace(path)`.

    `activities`: ProfilerActivity.CPU (the default); a device activity warns and is
    ignored. `schedule`: a function of the step number (see `schedule()`); `prof.step()`
    ends a step, and `on_trace_ready(prof)` is called after each RECORD_AND_SAVE step
    (and at stop when recording; without a schedule every step records). The results are
    those of the last trace. `record_shapes` stores each op's input shapes (for
    `key_averages(group_by_input_shape=True)`). `profile_memory`, `with_stack`,
    `with_flops`, `with_modules` are accepted and ignored."""

    def __init__(self, *, activities: Iterable[ProfilerActivity] | None = None,
                 schedule: Callable[[int], ProfilerAction] | None = None,
                 on_trace_ready: Callable[..., Any] | None = None,
                 record_shapes: bool = False, profile_memory: bool = False,
                 with_stack: bool = False, with_flops: bool = False,
                 with_modules: bool = False, experimental_config: object = None,
                 execution_trace_observer: object = None, acc_events: bool = False,
                 use_cuda: bool | None = None,
                 custom_trace_id_callback: Callable[[], str] | None = None) -> None:
        acts = set(activities) if activities else {ProfilerActivity.CPU}
        if use_cuda:
            acts.add(ProfilerActivity.CUDA)
        for a in acts:
            if not isinstance(a, ProfilerActivity):
                raise TypeError(f"profile(): activities must be ProfilerActivity values, "
                                f"got {a!r}")
        self.activities = acts
        self.schedule = schedule if schedule is not None else _always
        self.on_trace_ready = on_trace_ready
        self.record_shapes = record_shapes
        self.profile_memory, self.with_stack = profile_memory, with_stack
        self.with_flops, self.with_modules = with_flops, with_modules
        self.step_num = 0
        self.current_action = ProfilerAction.NONE
        self._col: _Collector | None = None

    # ---- running ------------------------------------------------------------------------
    def start(self) -> None:
        """Start profiling (step 0 of the schedule)."""
        if self._col is not None:
            raise RuntimeError("profile.start(): this profile is running already")
        for a in sorted(self.activities - {ProfilerActivity.CPU}, key=lambda a: a.value):
            _warn_device(a.name.lower() if a is not ProfilerActivity.PrivateUse1 else
                         "privateuseone", stacklevel=4)
        col = _Collector(self.record_shapes)
        self.step_num = 0
        self.current_action = self.schedule(0)
        col.recording = self.current_action in _RECORDING
        _start(col)
        self._col = col

    def stop(self) -> None:
        """Stop profiling; a trace being recorded is finished (and handed to
        `on_trace_ready`)."""
        col = self._col
        if col is None:
            return
        recording = self.current_action in _RECORDING
        _stop(col)
        self._col = None
        if recording:
            self._events = col.take()
            if self.on_trace_ready is not None:
                self.on_trace_ready(self)

    def step(self) -> None:
        """End the current step: the schedule decides what the next one does."""
        col = self._col
        if col is None:
            return
        prev = self.current_action
        self.step_num += 1
        self.current_action = self.schedule(self.step_num)
        if prev is ProfilerAction.RECORD_AND_SAVE or (
                prev is ProfilerAction.RECORD and self.current_action not in _RECORDING):
            self._events = col.take()
            if self.on_trace_ready is not None:
                self.on_trace_ready(self)
        col.recording = self.current_action in _RECORDING

    def __enter__(self) -> "profile":
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    # ---- results --------------------------------------------------------------------------
    def export_memory_timeline(self, path: str, device: str | None = None) -> None:
        """Refuses: memory is not recorded by tapegrad's profiler."""
        raise RuntimeError("export_memory_timeline: tapegrad's profiler does not record "
                           "memory (profile_memory is ignored)")

    def add_metadata(self, key: str, value: str) -> None:
        """Accepted and not stored (the Chrome trace holds the events only)."""

    def add_metadata_json(self, key: str, value: str) -> None:
        """Accepted and not stored (the Chrome trace holds the events only)."""



_MISSING = frozenset("""
DeviceType ExecutionTraceObserver KinetoStepTracker RecordScope itt kineto_available
register_optimizer_step_post_hook
""".split())


def __getattr__(name: str) -> object:
    """An AttributeError that says tapegrad does not support a torch.profiler name yet."""
    import sys

    from ._pytorch_names import unsupported

    raise unsupported("torch.profiler", name, _MISSING, sys.modules[__name__])
