"""grad_fn objects (a view of one record, named with PyTorch's class name) and the
saved-tensor hooks (`saved_tensors_hooks`, `save_on_cpu`, `disable_saved_tensors_hooks`,
tapegrad/autograd/saved_hooks.py)."""

import weakref

from ..ops import BY_CODE
from ..ops.spec import UNARY
from ..tape.dispatch import OP_PYTHON
from ..tape.records import R_FLAGS, R_IMPLICIT, R_IN0, R_OP, R_SEQ, S_FLAGS, S_LEAF, S_REC, S_RG
from .saved_hooks import disable_saved_tensors_hooks, save_on_cpu, saved_tensors_hooks

__all__ = ["Node", "saved_tensors_hooks", "save_on_cpu", "disable_saved_tensors_hooks"]

_classes = {}
_QUALIFIED = {"CopySlices": "torch::autograd::CopySlices"}  # name() of the nodes PyTorch
# implements outside its generated code: their class name without the namespace
_accumulators = weakref.WeakValueDictionary()  # id(leaf) -> its AccumulateGrad, while alive


class Node:
    """grad_fn of a non-leaf tensor: the record that produced it (PyTorch's Node)."""

    __slots__ = ("_tape", "_slot", "__weakref__")

    def name(self):
        n = type(self).__name__
        return _QUALIFIED.get(n, n)

    @property
    def _record(self):
        return int(self._tape.S[self._slot, S_REC])

    @property
    def next_functions(self):
        tape, k = self._tape, self._record
        spec = BY_CODE[int(tape.R[k, R_OP])]
        ins = [int(tape.R[k, f]) for f in spec.edges]
        if spec.family == UNARY and spec.name.endswith("_scalar"):
            ins[1] = -2  # the python scalar: PyTorch lists it as (None, 0)
        return tuple(edge(tape, s) for s in ins if s != -1)

    def __repr__(self):
        return f"<{type(self).__name__} object at {id(self):#x}>"

    def __eq__(self, other):
        return type(other) is type(self) and other._tape is self._tape \
            and other._slot == self._slot

    def __hash__(self):
        return hash((id(self._tape), self._slot))


class AccumulateGrad:
    """The node that adds a leaf's gradient into its `.grad`."""

    __slots__ = ("variable", "__weakref__")

    def __init__(self, variable):
        self.variable = variable

    def name(self):
        return "torch::autograd::AccumulateGrad"

    next_functions = ()

    def __repr__(self):
        return f"<AccumulateGrad object at {id(self):#x}>"


def edge(tape, s: int) -> tuple:
    """The (node, 0) pair that next_functions lists for input slot s (-2: a scalar)."""
    while s >= 0 and tape.R[tape.S[s, S_REC], R_FLAGS] & R_IMPLICIT:
        s = int(tape.R[tape.S[s, S_REC], R_IN0])  # a cast or broadcast: not a node
    if s < 0 or not tape.S[s, S_FLAGS] & S_RG:
        return (None, 0)
    if tape.S[s, S_FLAGS] & S_LEAF:
        return (accumulator(tape.leaf_of[s]), 0)
    return (node(tape, s), 0)


def accumulator(leaf):
    """The AccumulateGrad node of a leaf: the same object while anything holds it."""
    acc = _accumulators.get(id(leaf))
    if acc is None:
        acc = _accumulators[id(leaf)] = AccumulateGrad(leaf)
    return acc


def node(tape, slot):
    """The grad_fn object for `slot`: one per record while anything holds it (registered
    so that compaction renumbers it). A snapshot (R_IMPLICIT) is its source's node; a
    custom Function's record has its ctx as node (tapegrad/autograd/function.py)."""
    while tape.R[tape.S[slot, S_REC], R_FLAGS] & R_IMPLICIT:
        slot = int(tape.R[tape.S[slot, S_REC], R_IN0])
    n = tape.nodes.get(slot)
    if n is not None:
        return n
    k = tape.S[slot, S_REC]
    if tape.R[k, R_OP] == OP_PYTHON:  # a custom Function's record: its ctx is the node
        ctx = getattr(tape.python_vjp.get(int(tape.R[k, R_SEQ])), "ctx", None)
        if ctx is not None:
            return ctx
    name = BY_CODE[int(tape.R[tape.S[slot, S_REC], R_OP])].grad_fn
    cls = _classes.get(name)
    if cls is None:
        cls = _classes[name] = type(name, (Node,), {"__slots__": ()})
    n = object.__new__(cls)
    n._tape, n._slot = tape, slot
    tape.handles.append(n)
    tape.nodes[slot] = n
    return n
