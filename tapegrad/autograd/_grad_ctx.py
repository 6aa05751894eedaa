"""`GradCtx`: one record as its create_graph `grad` formula sees it (tapegrad/autograd/
higher.py walks the records; tapegrad/ops declares the formulas).

A formula reads `inputs` (Tensors for in0, in1, in2 or None: a leaf slot is the leaf
itself, so new records depend on it), `out`, `g` (the output's gradient), `c`/`c2` (the
record's float parameters), `params` (its int parameters from the aux pool, decoded per
family), `need` (which inputs need a gradient), and the helpers below (constants,
masks, sums back to an input's shape, the scatter of a gather's gradient). Forward-mode
AD (forward_ad.py) reads records through the same class.
"""

import numpy as np

from .. import dtypes
from ..ops import BY_CODE
from ..ops.spec import INDEX, JOIN, MATMUL, REDUCE, STRIDED
from ..tape.dispatch import FAMILY
from ..tape.records import (R_AUX, R_CONST, R_IN0, R_IN1, R_IN2, R_OP, R_OUT, S_DTYPE,
                            S_FLAGS, S_LEAF, S_NUMEL, S_RG, S_SHAPE)
from ..tensor import Tensor, _from_array, _on_tape
from . import _walk_cache as _cache

_DT = (dtypes.float32, dtypes.float64)
_FIELDS = (R_IN0, R_IN1, R_IN2)

class GradCtx:
    """One record, as its `grad` formula sees it (see the module docstring)."""

    __slots__ = ("tape", "row", "g", "need", "_tensors", "_inputs", "_params")

    def __init__(self, tape, row, g, need, tensors):
        self.tape, self.row, self.g, self.need, self._tensors = tape, row, g, need, tensors
        self._inputs = self._params = None

    # ---- the record --------------------------------------------------------------------
    @property
    def inputs(self) -> tuple:
        """Tensors for in0, in1, in2 (None where absent), carrying the original graph."""
        if self._inputs is None:
            self._inputs = tuple(None if self.row[f] < 0 else self.tensor(self.row[f])
                                 for f in _FIELDS)
        return self._inputs

    @property
    def out(self) -> Tensor:
        """The record's output as a Tensor (with its graph)."""
        return self.tensor(self.row[R_OUT])

    @property
    def c(self) -> float:
        """The record's float parameter (scalar operand, alpha, exponent, p, ...)."""
        return float(np.int64(self.row[R_CONST]).view(np.float64))

    @property
    def c2(self) -> float:
        """A unary record's second float parameter (kept in its aux field)."""
        return float(np.int64(self.row[R_AUX]).view(np.float64))

    @property
    def spec(self):
        """The record's row of the op table."""
        return BY_CODE[self.row[R_OP]]

    @property
    def params(self):
        """The record's int parameters, decoded per family (None when it has none):
        REDUCE (nd, in shape, out strides) or cumsum (stride, size) or softmax (outer,
        size, inner); MATMUL (m, k, n, batch, batch stride a, b); STRIDED (nd, shape,
        strides, base); JOIN (outer, a block, b block); INDEX (layout, ...) as
        tapegrad/tape/kernels.py `_index` lists them."""
        if self._params is None:
            self._params = _decode(self.tape.AUX, self.row[R_AUX], FAMILY[self.row[R_OP]],
                                   self.row[R_OP])
        return self._params

    def shape(self, i: int) -> tuple:
        """Shape of input i (0, 1, 2), or of the output for i = -1."""
        s = self.row[R_OUT] if i < 0 else self.row[_FIELDS[i]]
        return self.tape._dims(int(self.tape.S[s, S_SHAPE]))

    def value(self, i: int) -> np.ndarray:
        """NumPy value of input i, or of the output for i = -1 (for masks: constants)."""
        s = self.row[R_OUT] if i < 0 else self.row[_FIELDS[i]]
        S = self.tape.S
        _cache.READS[0] += 1  # a walk whose formulas read values is not cached
        off, n = S[s, 0], S[s, S_NUMEL]
        return self.tape.A[int(S[s, S_DTYPE])][off:off + n].reshape(self.shape(i))

    def tensor(self, s: int) -> Tensor:
        """The Tensor of slot s (the leaf itself for a leaf slot), one per slot per walk."""
        t = self._tensors.get(s)
        if t is None:
            t = self._tensors[s] = _slot_tensor(self.tape, s)
        return t

    # ---- helpers for formulas ------------------------------------------------------------
    @property
    def dtype(self):
        """The output's tapegrad dtype."""
        return _DT[int(self.tape.S[self.row[R_OUT], S_DTYPE])]

    def const(self, arr) -> Tensor:
        """A constant (no grad) tensor of the output's dtype: masks, tie shares."""
        dt = self.dtype
        return _from_array(np.asarray(arr, dt.np), dt, False)

    def zeros(self, shape) -> Tensor:
        """A constant zero tensor of the output's dtype."""
        dt = self.dtype
        return _from_array(np.zeros(shape, dt.np), dt, False)

    def keep(self, t: Tensor, mask) -> Tensor:
        """t where the NumPy bool `mask` holds, 0 elsewhere (None when it holds nowhere).
        The mask is a constant: no gradient flows through it, so a piecewise-linear op
        has a second derivative of zero, as in PyTorch."""
        mask = np.asarray(mask, np.bool_)
        if mask.all():
            return t
        if not mask.any():
            return None
        import tapegrad as tg

        return tg.where(_from_array(mask, dtypes.bool_, False), t, 0.0)

    def where(self, mask, a: Tensor, b: Tensor) -> Tensor:
        """a where the NumPy bool `mask` holds, else b (a constant condition)."""
        import tapegrad as tg

        mask = np.asarray(mask, np.bool_)
        if mask.all():
            return a
        if not mask.any():
            return b
        return tg.where(_from_array(mask, dtypes.bool_, False), a, b)

    def values(self, *ids) -> list:
        """NumPy values of inputs `ids` (-1: the output), broadcast to the output's shape."""
        sh = self.shape(-1)
        return [np.broadcast_to(self.value(i), sh) for i in ids]

    def sum_to(self, t: Tensor, i: int) -> Tensor:
        """t summed down to input i's shape (a broadcast gradient back to its input)."""
        if t is None:
            return None
        return sum_to(t, self.shape(i))

    def scatter(self, g: Tensor, positions, shape: tuple, key=None) -> Tensor:
        """zeros(shape) with g's elements added at flat `positions` (one per element of
        g): the gradient of any gather, differentiable (index_put with accumulate).
        `positions` may be a function computing them, cached under `key`."""
        from ..selection import _put

        dt = self.dtype
        cached = _SCATTER.get((key, dt)) if key is not None else None
        if cached is None:
            pos = np.asarray(positions() if callable(positions) else positions, np.int64)
            cached = (pos.reshape(-1), np.zeros(int(np.prod(shape)), dt.np))
            if key is not None and len(_SCATTER) < 256:
                _SCATTER[key, dt] = cached
        pos, z = cached
        z = _from_array(z, dt, False)  # never written: index_put makes a new value
        return _put("index_put", z, pos, g.reshape(-1), True).reshape(shape)


_SCATTER = {}  # (key, dtype) -> (positions, zeros): a strided gather's, for its formula


def sum_to(t: Tensor, shape: tuple) -> Tensor:
    """t (broadcast from `shape`) summed back down to `shape`."""
    ts = t._shape
    if ts == shape:
        return t
    lead = len(ts) - len(shape)
    dims = tuple(range(lead)) + tuple(lead + i for i, d in enumerate(shape)
                                       if d == 1 and ts[lead + i] != 1)
    if dims:
        t = t.sum(dims, keepdim=True)
    return t.reshape(shape) if t._shape != shape else t


def _decode(AUX, x, fam, op):
    if x < 0 or fam not in (REDUCE, MATMUL, STRIDED, JOIN, INDEX):
        return None
    if fam == REDUCE:
        if op == 106:  # cumsum
            return tuple(AUX[x:x + 2].tolist())
        if op in (107, 108):  # softmax, log_softmax
            return tuple(AUX[x:x + 3].tolist())
        nd = int(AUX[x])
        return nd, tuple(AUX[x + 1:x + 1 + nd].tolist()), tuple(AUX[x + 1 + nd:x + 1 + 2 * nd]
                                                                 .tolist())
    if fam == MATMUL:
        return tuple(AUX[x:x + 6].tolist())
    if fam == JOIN:
        return tuple(AUX[x:x + 3].tolist())
    if fam == STRIDED:
        nd = int(AUX[x])
        v = AUX[x + 1:x + 2 + 2 * nd].tolist()
        return nd, tuple(v[:nd]), tuple(v[nd:2 * nd]), v[2 * nd]
    layout = int(AUX[x])  # INDEX
    if layout == 0:
        return tuple(AUX[x:x + 5].tolist())
    if layout == 1:
        nd = int(AUX[x + 1])
        v = AUX[x + 3:x + 3 + 2 * nd].tolist()
        return 1, nd, int(AUX[x + 2]), tuple(v[:nd]), tuple(v[nd:])
    if layout == 3:
        return 3, int(AUX[x + 1])
    return (layout,)


def _slot_tensor(tape, s):
    S = tape.S
    fl = int(S[s, S_FLAGS])
    if fl & S_LEAF:
        return tape.leaf_of[s]
    return _on_tape(tape, s, tape._dims(int(S[s, S_SHAPE])), _DT[int(S[s, S_DTYPE])],
                    bool(fl & S_RG))
