"""autograd.Function: custom operations whose backward is Python code.

`Function.apply` runs `forward` with grad mode off and, when an input requires grad (and
grad mode is on), appends PYTHON records (tapegrad/tape/tape.py `record_python`): the
compiled reverse sweep pauses at such a record, calls its Python backward with the
output's adjoint, adds the returned adjoints into the inputs and resumes, so a graph with
one custom Function among 10,000 records costs one pause, not a Python step per record.

A PYTHON record has at most 3 input slots and one output, so an application becomes:
- the *core* record, whose backward calls the user's `backward` once per sweep. Its
  output is the Function's output when there is exactly one; otherwise it is an empty
  slot and
- one *output* record per differentiable output, reading the core's slot (flagged
  R_IMPLICIT: its grad_fn is the core's), whose backward only stores that output's
  gradient for the core (outputs the sweep does not reach get zeros, or None under
  `ctx.set_materialize_grads(False)`);
- with more than 3 differentiable inputs, *fan-in* records: each reads up to 3 slots
  (inputs or a further fan-in) and gives the core an empty slot; the sweep reaches them
  after the core, and they hand out the gradients the core's backward computed.

The ctx is the grad_fn (as PyTorch's): `y.grad_fn.saved_tensors`, `y.grad_fn.name()`
(`<Name>Backward`), `next_functions`. The tape holds it (through the record's backward
function), so it must not hold the graph in turn: it finds its record by `seq` (stable
across compaction), keeps only a weak reference to the tape and is no compaction root;
saved outputs are kept as the forward's own result objects, version-checked through a
weak reference to the returned tensor; saved tensors are dropped after a backward
without retain_graph (as PyTorch frees them). The records and their backward functions
are in tapegrad/autograd/_function_tape.py.
"""

import functools
import inspect
import warnings
from typing import Any, Callable

import numpy as np

from ..tape.records import R_OUT, R_SEQ, S_REC
from ..tape.tape import _local
from ..tensor import Tensor
from ._function_tape import _input_slots, _record
from .graph import Node, edge

_FREED = ("Trying to backward through the graph a second time (or directly access saved "
          "tensors after they have already been freed). Saved intermediate values of the graph "
          "are freed when you call .backward() or autograd.grad(). Specify retain_graph=True if "
          "you need to backward through the graph a second time or if you need to access saved "
          "tensors after calling backward.")


class FunctionCtx:
    """What `forward` / `setup_context` tell backward: saved tensors, marks, attributes."""

    def save_for_backward(self, *tensors) -> None:
        """Save tensors (or None) for backward; read them back as `ctx.saved_tensors`."""
        for i, t in enumerate(tensors):
            if t is not None and not isinstance(t, Tensor):
                raise TypeError(f"save_for_backward can only save variables, but argument {i} "
                                f"is of type {type(t).__name__}")
        self._to_save = tensors

    def save_for_forward(self, *tensors) -> None:
        """Accepted for compatibility (tapegrad has no forward-mode AD)."""
        self.saved_for_forward = tensors

    def mark_dirty(self, *tensors) -> None:
        """Declare inputs that forward modified in place (they must also be returned)."""
        self._dirty = tensors

    def mark_non_differentiable(self, *tensors) -> None:
        """Declare outputs that get no gradient (requires_grad False; backward gets zeros)."""
        self._non_differentiable = tensors

    def set_materialize_grads(self, value: bool) -> None:
        """Whether backward gets zeros (True, the default) or None for outputs the
        gradient does not reach."""
        self.materialize_grads = bool(value)


class BackwardCFunction(FunctionCtx, Node):
    """The ctx of one application, which is also its outputs' grad_fn."""

    _forward_cls = None
    materialize_grads = True
    _to_save = ()
    _dirty = ()
    _non_differentiable = ()
    _saved = None      # [(tensor, weakref to the tensor version-checked, its version)]
    _freed = False
    _seq = -1          # seq of the core record, once recorded
    _tape_ref = None
    _tensor_rg = ()    # per tensor argument: does it require grad (an edge)?

    __eq__ = object.__eq__
    __hash__ = object.__hash__

    @property
    def metadata(self) -> dict:
        """A dict for the user's own notes about this node (PyTorch's Node.metadata)."""
        d = self.__dict__.get("_metadata")
        if d is None:
            d = self.__dict__["_metadata"] = {}
        return d

    @property
    def _tape(self):
        return None if self._tape_ref is None else self._tape_ref()

    @property
    def _slot(self):
        tape = self._tape
        if tape is None:
            return -1
        seqs = tape.R[:tape.nrecords, R_SEQ]
        k = int(np.searchsorted(seqs, self._seq))
        return int(tape.R[k, R_OUT]) if k < seqs.shape[0] and seqs[k] == self._seq else -1

    def name(self) -> str:
        return type(self).__name__

    @property
    def saved_tensors(self) -> tuple:
        """The tensors given to save_for_backward, checked for in-place changes since."""
        if self._freed:
            raise RuntimeError(_FREED)
        if self._saved is None:
            return ()
        out = []
        for t, ref, version in self._saved:
            cur = t if ref is None else ref()
            if cur is not None and cur._version != version:
                raise RuntimeError(_version_message(cur, version, self.name()))
            out.append(t)
        return tuple(out)

    @property
    def next_functions(self) -> tuple:
        tape, s = self._tape, self._slot
        if s < 0:
            return ()
        slots = iter(_input_slots(tape, int(tape.S[s, S_REC])))
        return tuple(edge(tape, next(slots)) if rg else (None, 0) for rg in self._tensor_rg)

    def apply(self, *grads) -> Any:
        """Call the Function's backward on these output gradients."""
        fn = type(self).__dict__.get("_backward_impl")
        if fn is None:
            fn = _backward_fn(self._forward_cls)
            type(self)._backward_impl = staticmethod(fn)
        return fn(self, *grads)

    def release(self) -> None:
        """Free the saved tensors (after a backward without retain_graph)."""
        self._saved = None
        self._freed = True

    def __repr__(self):
        where = "" if getattr(type(self), "_native", False) else "torch.autograd.function."
        return f"<{where}{self.name()} object at {id(self):#x}>"


def _version_message(t, version, name):
    which = f", which is output 0 of {type(t.grad_fn).__name__}," if t.grad_fn is not None \
        else ""
    return (f"one of the variables needed for gradient computation has been modified by an "
            f"inplace operation: [torch.{t._dtype.legacy} {list(t._shape)}]{which} is at version "
            f"{t._version}; expected version {version} instead (needed by {name}). Hint: the "
            f"variable was changed in place after the custom Function saved it.")


class FunctionMeta(type):
    """Gives each Function subclass its ctx / grad_fn class, `<Name>Backward`."""

    def __init__(cls, name, bases, attrs):
        cls._backward_cls = type(name + "Backward", (BackwardCFunction,),
                                 {"_forward_cls": cls, "__module__": __name__})
        super().__init__(name, bases, attrs)
        cls._new_style = "Function" in globals() and _defined(cls, "setup_context")


class Function(metaclass=FunctionMeta):
    """Base class of custom autograd operations: define static `forward(ctx, *args)` (or
    `forward(*args)` with `setup_context(ctx, inputs, output)`) and `backward(ctx,
    *grad_outputs)` returning one gradient (or None) per forward argument; call
    `MyFunction.apply(*args)`."""

    def __init__(self, *args, **kwargs):
        warnings.warn(f"{type(self)} should not be instantiated. Methods on autograd functions "
                      "are all static, so you should invoke them on the class itself. "
                      "Instantiating an autograd function will raise an error in a future "
                      "version of PyTorch.", DeprecationWarning, stacklevel=2)

    def __call__(self, *args, **kwargs):
        raise RuntimeError("Legacy autograd function with non-static forward method is "
                           "deprecated. Please use new-style autograd function with static "
                           "forward method. (Example: https://pytorch.org/docs/stable/"
                           "autograd.html#torch.autograd.Function)")

    @staticmethod
    def forward(*args: Any, **kwargs: Any) -> Any:
        """The computation (runs with grad mode off)."""
        raise NotImplementedError("You must implement the forward function for custom "
                                  "autograd.Function.")

    @staticmethod
    def setup_context(ctx: Any, inputs: tuple, output: Any) -> None:
        """Optional: save what backward needs, when forward does not take ctx."""
        raise NotImplementedError("setup_context is not implemented.")

    @staticmethod
    def backward(ctx: Any, *grad_outputs: Any) -> Any:
        """Gradients of the inputs from the gradients of the outputs."""
        raise NotImplementedError("You must implement either the backward or vjp method for "
                                  "your custom autograd.Function to use it with backward mode "
                                  "AD.")

    vjp = backward

    @staticmethod
    def jvp(ctx: Any, *grad_inputs: Any) -> Any:
        """Forward-mode rule: tapegrad has no forward-mode AD (raises)."""
        raise NotImplementedError("You must implement the jvp function for custom "
                                  "autograd.Function to use it with forward mode AD.")

    @classmethod
    def apply(cls, *args: Any, **kwargs: Any) -> Any:
        """Run forward and, when an input requires grad, record it for backward."""
        new_style = cls._new_style
        if new_style or kwargs:
            args, kwargs = _bind_args(cls.forward, args, kwargs, new_style)
        ctx = cls._backward_cls()
        ctx.needs_input_grad = needs = tuple([isinstance(a, Tensor) and a._rg for a in args])
        local = _local
        prev = local.grad_enabled
        local.grad_enabled = False
        try:
            if new_style:
                out = cls.forward(*args, **kwargs)
                cls.setup_context(ctx, args, out)
            else:
                out = cls.forward(ctx, *args, **kwargs)
        finally:
            local.grad_enabled = prev
        if not (prev and True in needs):
            ctx._saved = [(t, None, None if t is None else t._version) for t in ctx._to_save]
            ctx._to_save = ()
            return out
        return _record(ctx, args, out)


def _defined(cls, name):
    """Does cls (or a base below Function) define `name` itself?"""
    return getattr(cls, name) is not getattr(Function, name)


def _backward_fn(cls):
    if _defined(cls, "backward") and _defined(cls, "vjp") and cls.vjp is not cls.backward:
        raise RuntimeError("Implementing both 'backward' and 'vjp' for a custom Function is "
                           "not allowed. You should only implement one of them.")
    return cls.backward if _defined(cls, "backward") else cls.vjp


def _bind_args(forward, args, kwargs, new_style):
    """Keyword arguments of `apply` bound to forward's parameters: they are inputs too."""
    try:
        sig = inspect.signature(forward)
        bound = sig.bind(*args, **kwargs) if new_style else sig.bind(None, *args, **kwargs)
    except (TypeError, ValueError):
        return args, kwargs  # forward itself raises PyTorch's TypeError
    if new_style:
        bound.apply_defaults()
        return tuple(bound.args), dict(bound.kwargs)
    return tuple(bound.args[1:]), dict(bound.kwargs)


def once_differentiable(fn: Callable) -> Callable:
    """Decorator for `backward`: it runs with grad mode off (its result is not itself
    differentiated; tapegrad's backward never is, as there is no create_graph yet)."""

    @functools.wraps(fn)
    def wrapper(ctx, *args):
        prev = _local.grad_enabled
        _local.grad_enabled = False
        try:
            return fn(ctx, *args)
        finally:
            _local.grad_enabled = prev

    return wrapper
