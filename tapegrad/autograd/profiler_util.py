"""The profiler's results: `FunctionEvent` (one timed range), `FunctionEventAvg` (the
events of one name added up), `EventList` (a list of either, with `table()`,
`key_averages()` and `export_chrome_trace()`).

Times are microseconds (floats), measured with `time.perf_counter_ns` and counted from
the start of the profile. tapegrad runs on the CPU only: every device time is 0.
"""


import json
import os
import warnings
from typing import Any, Iterable

__all__ = ["EventList", "FunctionEvent", "FunctionEventAvg", "Interval"]

_UNITS = {"s": 1e6, "ms": 1e3, "us": 1.0}


def _format_time(us: float, unit: str | None = None) -> str:
    """A time in microseconds as PyTorch's tables print it (3 decimals, s/ms/us)."""
    if unit is None:
        unit = "s" if us >= 1e6 else "ms" if us >= 1e3 else "us"
    return f"{us / _UNITS[unit]:.3f}{unit}"


class Interval:
    """A time range: `start` and `end` in microseconds."""

    def __init__(self, start: float, end: float) -> None:
        self.start, self.end = start, end

    def elapsed_us(self) -> float:
        """The length of the range in microseconds."""
        return self.end - self.start

    def __repr__(self) -> str:
        return f"Interval(start={self.start:.3f}, end={self.end:.3f})"


class _Times:
    """The attributes both kinds of event share (devices: none, so 0)."""

    cuda_time_total = self_cuda_time_total = device_time_total = 0.0
    self_device_time_total = cpu_memory_usage = self_cpu_memory_usage = 0
    device_memory_usage = self_device_memory_usage = cuda_memory_usage = 0
    self_cuda_memory_usage = flops = 0
    is_async = is_remote = is_legacy = False
    node_id = -1

    @property
    def cuda_time(self) -> float:
        """0: tapegrad has no CUDA device."""
        return 0.0

    device_time = cuda_time

    @property
    def cpu_time_str(self) -> str:
        """`cpu_time` formatted as in the tables."""
        return _format_time(self.cpu_time)

    @property
    def cpu_time_total_str(self) -> str:
        """`cpu_time_total` formatted as in the tables."""
        return _format_time(self.cpu_time_total)

    @property
    def self_cpu_time_total_str(self) -> str:
        """`self_cpu_time_total` formatted as in the tables."""
        return _format_time(self.self_cpu_time_total)


class FunctionEvent(_Times):
    """One timed range of a profile: an op's record, a `record_function` range or a
    backward call. `cpu_time_total` is its length, `self_cpu_time_total` that minus
    the ranges nested directly in it (`cpu_children`); times in microseconds."""

    def __init__(self, id: int, name: str, thread: int, start_us: float, end_us: float,
                 input_shapes: list | None = None, is_user_annotation: bool = False) -> None:
        self.id, self.name, self.thread = id, name, thread
        self.time_range = Interval(start_us, end_us)
        self.input_shapes = input_shapes if input_shapes is not None else []
        self.is_user_annotation = is_user_annotation
        self.cpu_children: list[FunctionEvent] = []
        self.cpu_parent: FunctionEvent | None = None
        self.count = 1
        self.stack: list = []
        self.kernels: list = []
        self.sequence_nr = -1

    @property
    def key(self) -> str:
        """The name the event is grouped by in `key_averages` (its name)."""
        return self.name

    @property
    def cpu_time_total(self) -> float:
        """The length of the range, microseconds (children included)."""
        return self.time_range.elapsed_us()

    cpu_time = cpu_time_total

    @property
    def self_cpu_time_total(self) -> float:
        """The length of the range minus its direct children's, microseconds."""
        return self.cpu_time_total - sum(c.cpu_time_total for c in self.cpu_children)

    def append_cpu_child(self, child: "FunctionEvent") -> None:
        """Add a range nested directly in this one."""
        self.cpu_children.append(child)

    def set_cpu_parent(self, parent: "FunctionEvent") -> None:
        """Set the range this one is nested in directly."""
        self.cpu_parent = parent

    def __repr__(self) -> str:
        return (f"<FunctionEvent id={self.id} name={self.name} thread={self.thread} "
                f"cpu_time={self.cpu_time_str} start_us={self.time_range.start:.3f} "
                f"end_us={self.time_range.end:.3f} cpu_children="
                f"{[c.id for c in self.cpu_children]} input_shapes={self.input_shapes}>")


class FunctionEventAvg(_Times):
    """The events of one key (one name, and one input shape list when grouped by shape)
    added up: `count` calls, `cpu_time_total` and `self_cpu_time_total` summed,
    `cpu_time` their mean."""

    def __init__(self) -> None:
        self.key: str | None = None
        self.count = 0
        self.cpu_time_total = 0.0
        self.self_cpu_time_total = 0.0
        self.input_shapes: list | None = None
        self.cpu_parent: FunctionEvent | None = None
        self.cpu_children: list = []
        self.is_user_annotation = False
        self.stack: list = []

    @property
    def cpu_time(self) -> float:
        """The mean length of the calls, microseconds."""
        return self.cpu_time_total / self.count if self.count else 0.0

    def add(self, other: "FunctionEvent | FunctionEventAvg") -> "FunctionEventAvg":
        """Add an event (or another average) of the same key; returns self."""
        if self.key is None:
            self.key = other.key
            self.cpu_parent = other.cpu_parent
            self.is_user_annotation = other.is_user_annotation
        elif other.key != self.key:
            raise AssertionError(f"FunctionEventAvg.add: key {other.key!r} is not {self.key!r}")
        self.count += other.count
        self.cpu_time_total += other.cpu_time_total
        self.self_cpu_time_total += other.self_cpu_time_total
        return self

    def __iadd__(self, other: "FunctionEvent | FunctionEventAvg") -> "FunctionEventAvg":
        return self.add(other)

    def __repr__(self) -> str:
        return (f"<FunctionEventAvg key={self.key} self_cpu_time="
                f"{self.self_cpu_time_total_str} cpu_time={self.cpu_time_str} "
                f"count={self.count} input_shapes={self.input_shapes}>")


_SORT_KEYS = ("cpu_time", "cpu_time_total", "self_cpu_time_total", "count", "cuda_time",
              "cuda_time_total", "self_cuda_time_total", "device_time", "device_time_total",
              "self_device_time_total", "cpu_memory_usage", "self_cpu_memory_usage",
              "device_memory_usage", "self_device_memory_usage", "cuda_memory_usage",
              "self_cuda_memory_usage", "flops")


class EventList(list):
    """A list of FunctionEvent (`profile.events()`) or FunctionEventAvg
    (`key_averages()`), with PyTorch's methods to summarise it."""

    def __init__(self, events: Iterable = (), *, use_device: str | None = None,
                 profile_memory: bool = False, with_flops: bool = False) -> None:
        super().__init__(events)

    @property
    def self_cpu_time_total(self) -> float:
        """The sum of the events' self CPU times, microseconds (the profile's CPU time)."""
        return sum(e.self_cpu_time_total for e in self)

    def key_averages(self, group_by_input_shape: bool = False, group_by_stack_n: int = 0,
                     group_by_overload_name: bool = False) -> "EventList":
        """One FunctionEventAvg per name (per name and input shapes with
        `group_by_input_shape`), in the order each key first occurs. Stacks are not
        recorded, so `group_by_stack_n` groups as 0 does."""
        groups: dict[Any, FunctionEventAvg] = {}
        for e in self:
            shapes = e.input_shapes if group_by_input_shape else None
            k = (e.key, str(shapes)) if group_by_input_shape else e.key
            avg = groups.get(k)
            if avg is None:
                avg = groups[k] = FunctionEventAvg()
                if group_by_input_shape:
                    avg.input_shapes = shapes
            avg.add(e)
        return EventList(groups.values())

    def total_average(self) -> FunctionEventAvg:
        """All the events added up (key "Total")."""
        total = FunctionEventAvg()
        for e in self:
            total.count += e.count
            total.cpu_time_total += e.cpu_time_total
            total.self_cpu_time_total += e.self_cpu_time_total
        total.key = "Total"
        return total

    def table(self, sort_by: str | None = None, row_limit: int = 100,
              max_src_column_width: int = 75, max_name_column_width: int = 55,
              max_shapes_column_width: int = 80, header: str | None = None,
              top_level_events_only: bool = False, time_unit: str | None = None) -> str:
        """PyTorch's text table of the events: Name, Self CPU %, Self CPU, CPU total %,
        CPU total, CPU time avg, # of Calls, and Input Shapes when events have them
        (`key_averages(group_by_input_shape=True)` of a profile made with
        `record_shapes=True`), then the self CPU time total. `sort_by` is an event
        attribute, largest first ("self_cpu_time_total", "cpu_time_total", "count", ...;
        device columns are all 0, there are no devices); `row_limit` rows at most;
        `time_unit` "s", "ms" or "us" (default: per value). The percentages are of the
        self CPU time total of all the events."""
        return _table(self, sort_by, row_limit, max_name_column_width,
                      max_shapes_column_width, header, top_level_events_only, time_unit)

    def export_chrome_trace(self, path: str) -> None:
        """Write the events as a Chrome trace (JSON, "X" complete events with name,
        ts, dur in microseconds, pid and tid): open it in chrome://tracing or Perfetto."""
        with open(path, "w", encoding="utf-8") as f:
            json.dump(_chrome_trace(self), f)

    def export_stacks(self, path: str, metric: str = "self_cpu_time_total") -> None:
        """Refuses: stacks are not recorded by tapegrad's profiler."""
        raise RuntimeError("export_stacks: tapegrad's profiler does not record stacks "
                           "(with_stack is ignored); use table() or export_chrome_trace()")


def _chrome_trace(events: Iterable) -> dict:
    pid = os.getpid()
    out = []
    for e in events:
        if not isinstance(e, FunctionEvent):
            raise TypeError("export_chrome_trace: needs the events of a profile "
                            "(profile.events()), not their key averages")
        ev = {"ph": "X", "cat": "user_annotation" if e.is_user_annotation else "cpu_op",
              "name": e.name, "pid": pid, "tid": e.thread, "ts": e.time_range.start,
              "dur": e.cpu_time_total, "args": {}}
        if e.input_shapes:
            ev["args"]["Input Dims"] = e.input_shapes
        out.append(ev)
    return {"traceEvents": out, "displayTimeUnit": "ms"}


def _table(events, sort_by, row_limit, name_width_max, shapes_width_max, header,
           top_only, unit):
    if unit is not None and unit not in _UNITS:
        raise ValueError(f"table(): time_unit must be 's', 'ms' or 'us', not {unit!r}")
    events = list(events)
    if top_only:
        events = [e for e in events if e.cpu_parent is None]
    if sort_by is not None:
        if sort_by not in _SORT_KEYS:
            raise AttributeError(f"table(): sort_by={sort_by!r} is not an event attribute; "
                                 f"use one of {', '.join(_SORT_KEYS[:4])}, ...")
        events.sort(key=lambda e: getattr(e, sort_by), reverse=True)
    total = sum(e.self_cpu_time_total for e in events)
    if row_limit is not None and row_limit > 0:
        events = events[:row_limit]
    names = [e.key for e in events]
    name_w = max([len(n) for n in names] + [4]) + 4
    if name_width_max is not None:
        name_w = min(name_w, name_width_max)
    shapes = [str(e.input_shapes) for e in events]
    with_shapes = any(e.input_shapes for e in events)
    heads = ["Self CPU %", "Self CPU", "CPU total %", "CPU total", "CPU time avg",
             "# of Calls"]
    widths = [name_w] + [12] * len(heads)
    titles = ["Name"] + heads
    if with_shapes:
        shape_w = max(len(s) for s in shapes + ["Input Shapes"]) + 4
        widths.append(min(shape_w, shapes_width_max or shape_w))
        titles.append("Input Shapes")
    line = "  ".join("-" * w for w in widths) + "  "

    def row(cells):
        out = []
        for c, w in zip(cells, widths):
            if len(c) > w:
                c = c[:w - 3] + "..."
            out.append(c.rjust(w))
        return "  ".join(out) + "  "

    def pct(v):
        return f"{100.0 * v / total:.2f}%" if total > 0 else "0.00%"

    lines = [header] if header else []
    lines += [line, row(titles), line]
    for e, shp in zip(events, shapes):
        cells = [e.key, pct(e.self_cpu_time_total), _format_time(e.self_cpu_time_total, unit),
                 pct(e.cpu_time_total), _format_time(e.cpu_time_total, unit),
                 _format_time(e.cpu_time, unit), str(e.count)]
        if with_shapes:
            cells.append(shp)
        lines.append(row(cells))
    lines += [line, f"Self CPU time total: {_format_time(total, unit)}", ""]
    return "\n".join(lines)


# ---- what both profile classes answer ---------------------------------------------------
class _Results:
    """What both profile classes answer once a profile finished."""

    _events: EventList | None = None

    def _finished(self) -> EventList:
        if self._events is None:
            raise RuntimeError("Profiler didn't finish running")
        return self._events

    def events(self) -> EventList:
        """The events of the profile (FunctionEvent), in order of start time."""
        return self._finished()

    def key_averages(self, group_by_input_shape: bool = False, group_by_stack_n: int = 0,
                     group_by_overload_name: bool = False) -> EventList:
        """The events grouped by name (and by input shapes with `group_by_input_shape`,
        which needs `record_shapes=True`): an EventList of FunctionEventAvg."""
        return self._finished().key_averages(group_by_input_shape, group_by_stack_n)

    def export_chrome_trace(self, path: str) -> None:
        """Write the events as a Chrome trace JSON file (chrome://tracing, Perfetto)."""
        self._finished().export_chrome_trace(path)

    def export_stacks(self, path: str, metric: str = "self_cpu_time_total") -> None:
        """Refuses: stacks are not recorded (with_stack is ignored)."""
        self._finished().export_stacks(path, metric)

    @property
    def self_cpu_time_total(self) -> float:
        """The profile's CPU time: the sum of its events' self times, microseconds."""
        return self._finished().self_cpu_time_total


def _warn_device(use_device: str | None, stacklevel: int = 3) -> None:
    if use_device is not None and use_device != "cpu":
        warnings.warn(f"{use_device.upper()} is not available, disabling "
                      f"{use_device.upper()} profiling", UserWarning, stacklevel=stacklevel)
