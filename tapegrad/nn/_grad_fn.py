"""PyTorch's grad_fn for nn functions that tapegrad records as several ops.

`F.mse_loss` is one MseLossBackward0 node in PyTorch and `F.linear` one AddmmBackward0;
on the tape they are a few elementwise and reduction records. Programs print these nodes
(`print(loss)` shows `grad_fn=<MseLossBackward0>`, tutorials walk
`loss.grad_fn.next_functions`), so the result of such a function gets a display node: an
object of PyTorch's class name whose `next_functions` lead to the nodes of its inputs
(AccumulateGrad for a leaf, None for a tensor that needs no grad), or to nested display
nodes (the TBackward0 of a linear's weight).

The node is registered as the result slot's grad_fn object (`tape.nodes`, whose keys
compaction renumbers) and held while that record lives, so the next_functions of later
ops lead to it. It is no compaction root and holds no tensor of the tape: compaction
counts the references to its roots, and anything a result tensor's node held would stay
alive one compaction longer (a training loop would carry an extra step of records). An
input that is an op result is remembered by its record's sequence number and found, when
next_functions is first read, by a walk down the recorded graph from the slot the node is
registered at. It only describes the graph; backward still sweeps the records.
"""

from ..autograd.graph import AccumulateGrad, Node, accumulator
from ..tape.records import R_SEQ, S_REC
from ..tensor import Tensor

_classes: dict = {}
_DEPTH = 8  # how far below the result the walk looks for an input's node


class _Shown(Node):
    """A display node. `_edges` holds the inputs (see `_spec`) until next_functions is
    first read; `_nest` then arranges the resolved inputs into the edges."""

    __slots__ = ("_edges", "_nest")

    @property
    def next_functions(self) -> tuple:
        if type(self._edges) is list:
            found = {}
            if self._tape is not None and _relocate(self) >= 0:
                found = _find(self, {~s for s in self._edges if type(s) is int})
            nodes = [_resolve(e, found) for e in self._edges]
            self._edges = tuple((n, 0) for n in (self._nest(*nodes) if self._nest else nodes))
        return self._edges

    __eq__ = object.__eq__
    __hash__ = object.__hash__


def _relocate(n: _Shown) -> int:
    """n's slot now: the key it is registered at (compaction renumbers the keys of
    tape.nodes, not n._slot); -1 once its record is gone."""
    n._slot = next((s for s, m in n._tape.nodes.items() if m is n), -1)
    return n._slot


def _cls(name: str) -> type:
    cls = _classes.get(name)
    if cls is None:
        cls = _classes[name] = type(name, (_Shown,), {"__slots__": ()})
    return cls


def _nested(name: str, *inputs):
    """A display node of its own (no slot) over already resolved inputs; None when none of
    them leads anywhere (nothing needs grad there)."""
    if all(i is None for i in inputs):
        return None
    n = object.__new__(_cls(name))
    n._tape, n._slot, n._nest = None, -1, None
    n._edges = tuple((i, 0) for i in inputs)
    return n


def _find(root: _Shown, wanted: set) -> dict:
    """Record sequence number -> node, for the wanted records below root (breadth first)."""
    found, tape, level, seen = {}, root._tape, [root], set()
    for _ in range(_DEPTH):
        if len(found) == len(wanted):
            break
        nxt = []
        for n in level:
            for m, _ in Node.next_functions.fget(n):
                if m is None or isinstance(m, AccumulateGrad) or id(m) in seen:
                    continue
                seen.add(id(m))
                if isinstance(m, _Shown) and _relocate(m) < 0:
                    continue
                seq = int(tape.R[int(tape.S[m._slot, S_REC]), R_SEQ])
                if seq in wanted:
                    found.setdefault(seq, m)
                nxt.append(m)
        level = nxt
    return found


def _resolve(s, found: dict):
    if s is None:
        return None
    if isinstance(s, Tensor):
        return accumulator(s) if s._rg and s.is_leaf else s.grad_fn
    return found.get(~s)


def show(out: Tensor, name: str, *inputs, nest=None) -> Tensor:
    """Give `out` (a recorded result, not one of `inputs`) the grad_fn `name` whose
    next_functions lead to the nodes of `inputs` (tensors or None), arranged by
    `nest(*nodes)` when given (nested display nodes, see `_nested`). Returns out.

    An input is kept as None (it needs no grad), the tensor (a leaf), or ~seq of the
    record that made it."""
    tape = out._tape
    if out._rg and tape is not None and out._gfn is None:
        specs = []
        for e in inputs:
            if e is None or not e._rg:
                specs.append(None)
            elif e._tape is None:
                specs.append(e)
            else:
                specs.append(~int(tape.R[tape.S[e._slot, S_REC], R_SEQ]) if e._tape is tape
                             else None)
        n = object.__new__(_classes.get(name) or _cls(name))
        n._tape, n._slot, n._edges, n._nest = tape, out._slot, specs, nest
        tape.nodes[n._slot] = out._gfn = n  # compaction renumbers the key, not n._slot
        _keep(tape, n)
    return out


def _keep(tape, n: _Shown) -> None:
    """Hold n while its record lives (tape.nodes holds nodes weakly, and a result tensor
    that goes away, or is rebound by an in-place op, drops its own reference), so that
    the next_functions of the ops that read it lead to it, as PyTorch's nodes keep their
    inputs' nodes. After a compaction, the nodes of dropped records go."""
    kept = getattr(tape, "_shown_nodes", None)  # [epoch, [nodes]], on the tape
    if kept is None:  # (a dict keyed by tape would keep it alive: the nodes hold it)
        kept = tape._shown_nodes = [tape.epoch, []]
    elif kept[0] != tape.epoch:  # compaction dropped from tape.nodes those of dead records
        live = {id(m) for m in tape.nodes.values() if isinstance(m, _Shown)}
        kept[0], kept[1] = tape.epoch, [m for m in kept[1] if id(m) in live]
    kept[1].append(n)


def _t(w):
    return _nested("TBackward0", w)


_LINEAR = {  # (input rank 2, 1 or more; bias?) -> grad_fn name and arrangement of (x, w, b)
    (2, True): ("AddmmBackward0", lambda x, w, b: (b, x, _t(w))),
    (2, False): ("MmBackward0", lambda x, w, b: (x, _t(w))),
    (1, False): ("SqueezeBackward4", lambda x, w, b: (
        _nested("MmBackward0", _nested("UnsqueezeBackward0", x), _t(w)),)),
    (1, True): ("ViewBackward0", lambda x, w, b: (
        _nested("AddmmBackward0", b, _nested("ViewBackward0", x), _t(w)),)),
    (3, True): ("ViewBackward0", lambda x, w, b: (
        _nested("AddmmBackward0", b, _nested("ViewBackward0", x), _t(w)),)),
    (3, False): ("UnsafeViewBackward0", lambda x, w, b: (
        _nested("MmBackward0", _nested("ViewBackward0", x), _t(w)),)),
}


def show_linear(y: Tensor, input: Tensor, weight: Tensor, bias) -> Tensor:
    """The grad_fn of F.linear's result as PyTorch builds it for each input rank: addmm
    (or mm without a bias) of the input viewed as 2-D and the transposed weight."""
    nd = input.ndim
    if not y._rg or weight.ndim != 2 or nd == 0:
        return y
    name, nest = _LINEAR[min(nd, 3), bias is not None]
    return show(y, name, input, weight, bias, nest=nest)
