"""A one-line notice on stderr while a Numba compile runs long.

The first process after an install (or after an edit of the kernels) compiles the tape's
sweeps, which takes seconds to a minute; later processes load them from Numba's cache in
well under a second. Wrapped around a call that may compile,

    with compiling("the reverse sweep (float64)"):
        fn = dispatcher.compile(key)

prints, if the call is still running after half a second, one line saying what is being
compiled and that it happens once, and nothing at all if it finishes sooner (a cache
hit). Exceptions pass through unchanged. `quiet()` or the environment variable
TAPEGRAD_QUIET=1 silence it.

`watch(sweep)` does this for every compile of the module's entry points, wherever the
compile comes from (a first call with new argument types, `Dispatcher.compile`, or a
caller being compiled), at no cost to calls that don't compile.
"""

import contextlib
import gc
import os
import sys
import threading
import types
from typing import Iterator, List, Optional

DELAY = 0.5              # seconds a block may run before the notice is printed
ENV = "TAPEGRAD_QUIET"   # "1" (or "true", "yes", "on") silences the notice

_FALSE = ("", "0", "false", "no", "off")
_depth = threading.local()  # blocks open in this thread: nested blocks print nothing
_told = False               # a notice was printed in this process: later ones are shorter


def message(what: str, first: bool = True) -> str:
    """The notice's text for a compile of `what` (no trailing newline); the first of a
    process says why and what to do about it, later ones refer to it."""
    if not first:
        return f"tapegrad: compiling {what} with Numba (once per install, as above)"
    return (f"tapegrad: compiling {what} with Numba; this happens once per install, later "
            f"runs load it from the cache (python -m tapegrad.warmup compiles everything "
            f"ahead of time)")


def is_quiet() -> bool:
    """True when TAPEGRAD_QUIET is set to anything but "", "0", "false", "no" or "off"."""
    return os.environ.get(ENV, "").strip().lower() not in _FALSE


def quiet(on: bool = True) -> None:
    """Silence the notice (on=True) or let it print again (on=False).

    Sets or clears TAPEGRAD_QUIET in os.environ, so the choice also holds in child
    processes started afterwards."""
    if on:
        os.environ[ENV] = "1"
    else:
        os.environ.pop(ENV, None)


def _emit(what: str) -> None:
    """Timer callback: write the notice (to sys.stderr as it is when the timer fires)."""
    global _told
    first, _told = not _told, True
    try:
        stream = sys.stderr
        if stream is not None:
            stream.write(message(what, first) + "\n")
            stream.flush()
    except (OSError, ValueError):  # stderr closed or gone: a notice is not worth a crash
        pass


@contextlib.contextmanager
def compiling(what: str, delay: Optional[float] = None) -> Iterator[None]:
    """Context manager around a call that may compile `what` (e.g. "the reverse sweep
    (float64)"): prints one line to stderr if the block is still running after `delay`
    seconds (default DELAY, 0.5 s), nothing if it finishes sooner.

    The timer thread is cancelled and joined on exit, so it never outlives the block and
    the line is printed at most once; an exception raised in the block propagates
    unchanged. Silent when `is_quiet()` at entry, and inside another `compiling` block of
    the same thread (the outer block speaks for both)."""
    depth = getattr(_depth, "n", 0)
    if depth or is_quiet():
        _depth.n = depth + 1
        try:
            yield
        finally:
            _depth.n = depth
        return
    timer = threading.Timer(DELAY if delay is None else delay, _emit, (what,))
    timer.daemon = True  # never keeps the interpreter alive (it is joined below anyway)
    timer.name = "tapegrad-compile-notice"
    _depth.n = depth + 1
    timer.start()
    try:
        yield
    finally:
        _depth.n = depth
        timer.cancel()
        timer.join()  # a notice being written finishes before the block returns


def watch(*targets) -> List[str]:
    """Print the notice whenever one of these Numba dispatchers compiles a signature it
    has not got yet: each target is a dispatcher, or a module (its public dispatchers
    defined there, e.g. tapegrad.tape.sweep's entry points). Returns the names watched.

    Wraps the dispatcher's `compile` (an instance attribute), through which Numba goes
    for every new signature: a call with new argument types, an explicit compile, or a
    caller that is being compiled. Calls that find a compiled signature never reach it,
    so they cost nothing more. Watching twice is harmless."""
    from numba.core.dispatcher import Dispatcher

    found = []
    for t in targets:
        if isinstance(t, Dispatcher):
            found.append(t)
        elif isinstance(t, types.ModuleType):
            found.extend(obj for name, obj in sorted(vars(t).items())
                         if isinstance(obj, Dispatcher) and not name.startswith("_")
                         and obj.__module__ == t.__name__)
        else:
            raise TypeError(f"watch: expected a Numba dispatcher or a module, got {t!r}")
    for d in found:
        if not getattr(d.compile, "_tapegrad_watched", False):
            d.compile = _watched(d, d.compile)
    return [d.py_func.__name__ for d in found]


def _watched(dispatcher, plain):
    def compile(sig):
        args = getattr(sig, "args", sig)
        if isinstance(args, tuple) and args in dispatcher.overloads:
            return plain(sig)  # compiled already: Numba returns it at once
        with compiling(describe(dispatcher, args if isinstance(args, tuple) else ())):
            if not gc.isenabled():
                return plain(sig)
            gc.disable()  # Numba's compiler makes millions of short-lived objects: the
            try:          # young collections over them cost about a tenth of a first-ever
                return plain(sig)  # compile (for some 75 MB more at its peak)
            finally:
                gc.enable()

    compile._tapegrad_watched = True
    compile.__doc__ = plain.__doc__
    return compile


def describe(dispatcher, key: tuple = ()) -> str:
    """The words for `compiling()` of a tapegrad entry point: e.g. "the reverse sweep",
    "the recorder (float32)" for sweep.record with a float32 arena in its types `key`.

    Unknown entry points are named by their function name, so a new one needs no entry
    here (a better phrase is welcome in _NAMES)."""
    name = getattr(getattr(dispatcher, "py_func", dispatcher), "__name__", str(dispatcher))
    words = _NAMES.get(name, f"the compiled entry point {name}")
    floats = set()
    for t in key:
        dt = getattr(t, "dtype", None)
        if dt is not None and str(dt) in ("float32", "float64"):
            floats.add(str(dt))
    return f"{words} ({floats.pop()})" if len(floats) == 1 else words


_NAMES = {
    "record": "the recorder",
    "record_elementwise": "the recorder of elementwise ops",
    "record_wide": "the recorder of index and three-input ops",
    "record_cast": "the float32/float64 cast recorder",
    "load": "the leaf loader",
    "alias": "the alias recorder (detach, snapshots)",
    "forward": "the forward replay sweep",
    "mark": "the reverse sweep's marking pass",
    "reverse": "the reverse sweep",
    "reverse1": "the reverse sweep",
    "reverse_elementwise": "the reverse sweep of elementwise ops",
    "replay1": "the replay of a recorded function (tapegrad.func)",
    "rows_one": "the parallel batch replay (tapegrad.func .batch)",
    "rows_two": "the parallel batch replay (tapegrad.func .batch)",
    "compact": "the tape compaction",
    "append_template": "the replay of a recorded backward (create_graph)",
}
