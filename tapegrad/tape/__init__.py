"""The tape: tables (records.py), compiled sweeps (sweep.py, kernels.py), upkeep (tape.py),
listing.

`tapegrad.tape.current()` is this thread's Tape; `print(current())` lists its records.
"""

from .tape import Tape, current, recording

__all__ = ["Tape", "current", "recording"]
