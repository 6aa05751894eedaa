"""Type aliases for the hints of tapegrad's public signatures (no runtime behaviour).

They name what PyTorch's functions accept: a Python number, one dim or several, a shape
given as ints or as one sequence, a dtype, a device (a string, an int or a device object).
"""

from .device import device as _device
from .dtypes import dtype as _dtype

Number = int | float | bool
Dims = int | tuple[int, ...] | list[int]
Shape = int | tuple[int, ...] | list[int]
DType = _dtype | None
Device = str | int | _device | None
IntOrTuple = int | tuple[int, ...]
