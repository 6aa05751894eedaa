"""Comparisons recorded while tapegrad.func records a function (tapegrad/compare.py calls
in here only then): a comparison whose operand is a float value of the recording tape
appends a record (an op-table row gt, gt_scalar, ...) whose slot holds 1.0 / 0.0 in the
compared dtype's arena, and returns a `_Mask`, a bool tensor stored in that slot. where and
masked_fill (tapegrad/selection.py) read the slot as their condition, so a replay recomputes
it; not / and / or / xor of masks are recorded too. Any other use reads the mask's value
through `Tape.value`, which makes it a guard of the recording (correct: the recorded
program then depends on that value).
"""

import builtins

import numpy as np

from . import dtypes
from .functions import _BROADCASTS, _broadcast
from .recorder import OP as _OP
from .recorder import slots as _slots
from .tape.records import S_DTYPE
from .tensor import Tensor, _Version, _on_tape

_scalar_types = (builtins.int, builtins.float, builtins.bool, np.number, np.bool_)
_ARENA = {dtypes.float32.code: dtypes.float32, dtypes.float64.code: dtypes.float64}


class _Mask(Tensor):
    """A bool tensor whose storage is a slot of a tape tapegrad.func records: the 1.0/0.0
    output of a comparison record, in the compared float dtype's arena. where and
    masked_fill read that slot as their condition (a replay recomputes it); any other use
    reads its value, through `Tape.value`, which makes it a guard of the recording."""

    __slots__ = ()

    def _value(self):
        tape = self._tape
        if tape is None:  # (numpy() moved the value into an array of its own)
            return self._arr
        return tape.value(self._slot, self._shape, _ARENA[tape.S.item(self._slot, S_DTYPE)]) != 0

    def _own_array(self):
        """Before an in-place write: the value (read as a guard) in an array of its own."""
        if self._tape is not None:
            self._arr, self._tape, self._slot, self._vc = np.array(self._value()), None, -1, \
                _Version()

    def _float_view(self, dt):
        """The mask as a float tensor of dtype dt on its tape (the slot itself, or a recorded
        cast of it): 1.0 where true; never requires grad."""
        tape, s = self._tape, self._slot
        if tape.S.item(s, S_DTYPE) != dt.code:
            s = tape.record_cast(s, dt.code, 0, implicit=True)
        return _on_tape(tape, s, self._shape, dt, False)

    def detach(self) -> Tensor:
        """The mask itself (a mask has no history to cut); a tensor of its own."""
        return _as_mask(self._tape, self._slot, self._shape) if self._tape is not None \
            else Tensor.detach(self)

    @property
    def data(self) -> Tensor:
        """As detach()."""
        return self.detach()

    def to(self, *args, **kwargs) -> Tensor:
        """As Tensor.to; to a float dtype: the recorded mask as 1.0/0.0 (no guard)."""
        dt = kwargs.get("dtype") or next((a for a in args if isinstance(a, dtypes.dtype)),
                                         None)
        if dt is not None and dt.is_floating_point and self._tape is not None and \
                set(kwargs) <= {"dtype"}:
            return self._float_view(dt)
        return Tensor.to(self, *args, **kwargs)

    def float(self, memory_format: object = None) -> Tensor:
        """self.to(float32)."""
        return self.to(dtypes.float32)

    def double(self, memory_format: object = None) -> Tensor:
        """self.to(float64)."""
        return self.to(dtypes.float64)


def _as_mask(tape, slot, shape):
    t = _on_tape(tape, slot, shape, dtypes.bool_, False)
    t.__class__ = _Mask
    return t


def _recorded(name, a, b):
    """While tapegrad.func records (the tape's `reads` is set), a comparison whose operand is
    a float value of that tape is recorded (a `_Mask`); None: compute it in NumPy."""
    tape = a._tape if isinstance(a, Tensor) and a._tape is not None else \
        b._tape if isinstance(b, Tensor) else None
    if tape is None or tape.reads is None or not isinstance(a, Tensor) or \
            not a._dtype.is_floating_point or type(a) is _Mask:
        return None
    if isinstance(b, Tensor):
        if not b._dtype.is_floating_point or type(b) is _Mask:
            return None
        dt = a._dtype if a._dtype is b._dtype else dtypes.promote_tensors(a._dtype, a._shape,
                                                                          b._dtype, b._shape)
        return _pair(tape, name, a, b, 1.0, dt)
    if a._tape is not tape or not isinstance(b, _scalar_types):
        return None
    dt = a._dtype  # a python scalar does not lift a float tensor's dtype
    c = builtins.float(dt.np.type(b))  # compared in dt, as the NumPy path compares
    out = tape.record(_OP[name + "_scalar"], _slots(tape, dt, a)[0], -1, -1, c, -1, dt.code, 0)
    return _as_mask(tape, out, a._shape)


def _pair(tape, name, x, y, c, dt):
    """A BINARY record `name` over float tensors x, y (broadcasting) as a mask."""
    sx, sy = x._shape, y._shape
    shape, layout = _BROADCASTS.get((sx, sy)) or _broadcast(sx, sy, name)
    aux = -1 if layout is None else tape.intern(layout, "bcast")
    s0, s1 = _slots(tape, dt, x, y)
    out = tape.record(_OP[name], s0, s1, aux, c, -1 if sx == sy else tape.shape(shape),
                      dt.code, 0)
    return _as_mask(tape, out, shape)


def _is_mask(t):
    """Is t a mask recorded on the tape tapegrad.func is recording?"""
    return type(t) is _Mask and t._tape is not None and t._tape.reads is not None


def _recorded_logical(name, a, b=None):
    """not / and / or / xor of recorded masks (and bool tensors of their own) as a recorded
    mask: 1 - a is `a == 0`, a and b is a * b, a or b is where(a, 1, b), a xor b is a != b;
    None when no operand is a recorded mask (or one is not a bool tensor)."""
    ma, mb = _is_mask(a), b is not None and _is_mask(b)
    if not (ma or mb):
        return None
    mask = a if ma else b
    tape = mask._tape
    dt = _ARENA[tape.S.item(mask._slot, S_DTYPE)]
    if b is None:
        out = tape.record(_OP["eq_scalar"], a._slot, -1, -1, 0.0, -1, dt.code, 0)
        return _as_mask(tape, out, a._shape)
    ops = []
    for t, m in ((a, ma), (b, mb)):
        if m:
            if t._tape is not tape:
                return None
            ops.append(t._float_view(dt))
        elif isinstance(t, Tensor) and t._tape is None and t._dtype is dtypes.bool_:
            ops.append(t)  # a constant mask: loaded as 0.0 / 1.0
        else:
            return None
    fa, fb = ops
    if name == "or":
        return _pair(tape, "where_scalar_self", fb, fa, 1.0, dt)  # 1.0 where a, else b
    return _pair(tape, "mul" if name == "and" else "ne", fa, fb, 1.0, dt)
