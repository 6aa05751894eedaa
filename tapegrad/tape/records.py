"""The tape's tables: record and slot layouts, flag bits and the glossary.

Glossary (used everywhere in tapegrad):
  tape     a thread's whole recording: the record table, the slot table, the aux and
           const pools and one value arena per float dtype.
  record   one row of the record table: one operation (opcode, output slot, input slots).
  slot     one row of the slot table: one tensor value (arena offset, size, shape, dtype).
  opcode   the frozen small int of an op; `op` is its OpSpec row in tapegrad.ops.
  primal   a value computed by the forward sweep; adjoint: its reverse accumulator
           (public name `.grad`); tangent: its forward-mode derivative.
  sweep    one compiled pass over records (forward, or reverse for adjoints).
  replay   a forward sweep with new inputs followed by a reverse or tangent sweep.

Every field is 8 bytes (int64, and the float64 `const`) so that the public structured
array and the (n, K) int64 view that Numba receives are the same memory (a structured
argument costs ~1 us to dispatch, a plain int64 one ~0.15 us).
"""

import numpy as np

_I8 = np.int64

# ---- record table: one row per operation ------------------------------------------
RECORD_FIELDS = (
    "op",     # opcode (tapegrad.ops); frozen numbers, saved tapes stay readable
    "flags",  # R_* bits below
    "out",    # output slot
    "in0",    # first input slot, -1 if absent
    "in1",    # second input slot, -1 if absent
    "aux",    # offset into the int64 aux pool (shapes, strides, dims), -1 if unused
    "const",  # a float parameter (python scalar operand, alpha, exponent)
    "seq",    # global sequence number: total order of records across tapes
    "in2",    # third input slot, -1 if absent (where's condition, a clamp bound, the
              # values of an index_put)
)
RECORD = np.dtype([(f, np.float64 if f == "const" else _I8) for f in RECORD_FIELDS])
R_OP, R_FLAGS, R_OUT, R_IN0, R_IN1, R_AUX, R_CONST, R_SEQ, R_IN2 = range(len(RECORD_FIELDS))

R_SAVES = 1       # backward reads saved values (PyTorch's saved tensors, scalars included)
R_SAVES_IN0 = 2   # backward reads in0's primal: version-checked
R_SAVES_IN1 = 4   # backward reads in1's primal: version-checked
R_SAVES_OUT = 8   # backward reads the output's primal: version-checked
R_FREED = 16      # a backward without retain_graph ran this record
R_IMPLICIT = 32   # a cast or broadcast inside an op: not a grad_fn node of its own
R_SAVES_IN2 = 64  # backward reads in2's primal: version-checked

# ---- slot table: one row per tensor value -----------------------------------------
SLOT_FIELDS = (
    "off",    # element offset into the arena of `dtype`; -1 once the value was dropped
    "numel",  # number of elements
    "ndim",   # number of dims
    "shape",  # offset into the aux pool where `ndim` dims are stored
    "dtype",  # DT_F32 or DT_F64: which arena holds the value
    "rec",    # producing record (the LEAF record for a leaf or a constant)
    "flags",  # S_* bits below
    "ver",    # in-place changes of the value since it was recorded (0 = untouched)
)
SLOT = np.dtype([(f, _I8) for f in SLOT_FIELDS])
S_OFF, S_NUMEL, S_NDIM, S_SHAPE, S_DTYPE, S_REC, S_FLAGS, S_VER = range(len(SLOT_FIELDS))

S_RG = 1          # the value requires grad: the reverse sweep propagates into it
S_LEAF = 2        # a leaf that requires grad: its adjoint goes to the tensor's .grad
S_RETAIN = 4      # retain_grad() was called: its adjoint goes to the tensor's .grad
S_FREE = 8        # a free row (compaction dropped its value); `rec` links the next one

DT_F32 = 0
DT_F64 = 1

# ---- sweep status codes (the only way compiled code reports an error) --------------
OK = 0
ERR_FREED = 1     # reached a freed record that saved tensors: "backward ... a second time"
ERR_VERSION = 2   # a saved value was modified in place
PAUSE = 3         # the reverse sweep stopped at a record whose backward runs in Python
OTHER = 4         # reverse_elementwise stopped at a record of another family
