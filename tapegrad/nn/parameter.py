"""nn.Parameter: a leaf tensor that a Module registers as one of its parameters."""

import numpy as np

from .. import dtypes
from ..tensor import Tensor, _from_array


class Parameter(Tensor):
    """A tensor that is a module parameter when assigned as a Module attribute.

    `Parameter(data)` shares `data`'s storage and version counter (a value computed on a
    tape is copied out, as it has no storage of its own); it is a leaf and requires grad
    unless `requires_grad=False`. `Parameter()` is an empty float tensor. Operations on a
    parameter return plain tensors, as in PyTorch.
    """

    __slots__ = ()

    def __new__(cls, data: Tensor | None = None, requires_grad: bool = True) -> "Parameter":
        if data is None:
            dt = dtypes.get_default_dtype()
            t = _from_array(np.empty((0,), dt.np), dt, False)
        elif not isinstance(data, Tensor):
            raise TypeError(f"Parameter(): argument 'data' must be a Tensor, not "
                            f"{type(data).__name__}")
        elif data._tape is None:
            t = _from_array(data._arr, data._dtype, False)
            t._vc = data._vc  # same storage, same version counter (as detach())
        else:
            t = _from_array(np.array(data._value()), data._dtype, False)
        if requires_grad and not t._dtype.is_floating_point:
            raise RuntimeError("Only Tensors of floating point and complex dtype can require "
                               f"gradients (Parameter of dtype {t._dtype})")
        t.__class__ = cls  # same slot layout: _from_array initialised every field
        t._rg = bool(requires_grad)
        return t

    def __repr__(self) -> str:
        return "Parameter containing:\n" + super().__repr__()

    def __deepcopy__(self, memo: dict) -> "Parameter":
        if id(self) in memo:
            return memo[id(self)]
        result = type(self)(_from_array(np.array(self._value()), self._dtype, False),
                            self._rg)
        memo[id(self)] = result
        return result
