"""The op table: every op tapegrad records, by opcode and by name.

`OPS` is the single source of truth. Families and rows are declared in elementwise.py, nn.py
and structural.py; the compiled dispatch (tapegrad/tape/dispatch.py) is generated from it.
"""

from . import elementwise, nn, structural  # noqa: F401  (declaring modules fill REGISTRY)
from .spec import FAMILY_NAMES, REGISTRY, OpSpec

OPS = tuple(sorted(REGISTRY, key=lambda s: s.opcode))
BY_NAME = {s.name: s for s in OPS}
BY_CODE = {s.opcode: s for s in OPS}

if len(BY_CODE) != len(OPS) or len(BY_NAME) != len(OPS):
    raise RuntimeError("tapegrad op table: duplicate opcode or name")

__all__ = ["OPS", "BY_NAME", "BY_CODE", "OpSpec", "FAMILY_NAMES"]
