"""What `import tapegrad` does about the start-up time of a whole process.

A quickstart process (import, one backward, exit) spent about a third of its time in
the cyclic garbage collector (measured with gc.callbacks and perf): collections during
the import of Numba (whose machinery is some 60,000 objects), during its first load of
compiled code (another 56,000), and a full collection over all of them at interpreter
exit. So, by default:

- `paused()`: the collector is paused while tapegrad imports Numba and the tape (its
  previous state is restored after, even if the import fails), and what they made is
  frozen (below) so that the collections of the rest of the import skip it;
- `settle()`, at the end of the import: Numba's typing and target registries are loaded
  now rather than by the first compiled call (the same work, moved: `import tapegrad`
  takes about 0.15 s longer and the first backward that much less), then `gc.freeze()`
  moves every object alive into the collector's permanent generation, which collections
  (the one at exit included) no longer walk. Objects are still freed by reference
  counting as usual; only cycles among the frozen objects are never collected: about
  1,100 objects (290 KB) of the import's own cyclic garbage, and any that the program
  had made before it imported tapegrad.

The freeze only happens when tapegrad is imported early, by a process that held fewer
than `_FREEZE_BEFORE` objects tracked by the collector (a fresh interpreter with NumPy and
SciPy imported holds about 46,000; one that imported PyTorch first, 167,000): a
process that had done much work before is left alone. `TAPEGRAD_GC_FREEZE=0` in the
environment turns both the pause and the freeze off; `=1` freezes whatever the count.
Measured with `python -m bench.coldstart`: a warm quickstart process 1.1 -> 0.7 s.
"""

import contextlib
import gc
import os

_FREEZE_BEFORE = 100_000
_MODE = os.environ.get("TAPEGRAD_GC_FREEZE", "")
_state = {}  # "freeze": whether settle() freezes, decided by the first paused() block


@contextlib.contextmanager
def paused():
    """Pause the cyclic garbage collector over the block (unless turned off, or off
    already), and decide whether `settle` freezes."""
    if _MODE == "0":
        yield
        return
    if "freeze" not in _state:  # (the first block: the count before tapegrad's import)
        _state["freeze"] = _MODE == "1" or len(gc.get_objects()) < _FREEZE_BEFORE
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if _state["freeze"]:
            gc.freeze()  # (the collections of the rest of the import skip these objects)
        if enabled:
            gc.enable()


def settle():
    """Load Numba's registries and, when `paused` decided so, freeze the heap."""
    if not _state.get("freeze"):
        return
    from numba.core.registry import cpu_target

    with paused():  # (which freezes after it)
        cpu_target.target_context.refresh()  # (what the first compiled call would do)
        cpu_target.typing_context.refresh()
