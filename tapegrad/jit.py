"""tapegrad.jit: the names of PyTorch's `torch.jit`, for code that uses them in passing.

tapegrad has no TorchScript: there is no compiler to hand a model to and no serialized
program format. `script` and `trace` return what they are given (a Module stays the same
Module and keeps training; `trace` first runs the function once on the example inputs,
as PyTorch does, so its errors surface there); the decorators (`ignore`, `unused`,
`export`) return the function; `is_scripting()` and `is_tracing()` are False; `annotate`
returns its value; `Final` is `typing.Final`. `jit.save` and `jit.load` raise: save
weights with `tapegrad.save(model.state_dict(), path)`, and to get compiled speed use
`tapegrad.func` (record a function once, replay its value and gradient compiled).
"""


import typing
from typing import Any, Callable, TypeVar

__all__ = ["script", "trace", "trace_module", "ignore", "unused", "export", "is_scripting",
           "is_tracing", "annotate", "save", "load", "freeze", "fork", "wait",
           "Attribute", "Future"]

_T = TypeVar("_T")

Final = typing.Final  # PyTorch's torch.jit.Final is typing.Final too (not in __all__: the
# reference documents it in the module docstring, it has no signature of its own)

_NO_FORMAT = ("tapegrad has no TorchScript: there is no compiled program format to {what}. "
              "Save and load weights with tapegrad.save(model.state_dict(), path) / "
              "model.load_state_dict(tapegrad.load(path)), and get compiled speed with "
              "tapegrad.func (record a function once, replay its value and gradient "
              "compiled)")


def script(obj: _T, optimize: object = None, example_inputs: object = None) -> _T:
    """`obj` itself (a Module, a function or a class): tapegrad has no TorchScript
    compiler, so the model runs as ordinary Python, with the same results. Unlike
    PyTorch, nothing checks that the code is scriptable, and the result has no `.code`,
    `.graph` or `.save`. For compiled speed use `tapegrad.func`."""
    return obj


def trace(func: _T, example_inputs: Any = None, optimize: object = None,
          check_trace: bool = True, check_inputs: object = None,
          check_tolerance: float = 1e-5, strict: bool = True,
          example_kwarg_inputs: dict | None = None) -> _T:
    """`func` itself (a Module or a function), after calling it once on
    `example_inputs` (a tuple of arguments, or one tensor) and/or `example_kwarg_inputs`
    as PyTorch does, so that an error in it surfaces here. tapegrad has no TorchScript:
    nothing is recorded for later, the returned object runs its Python code on every
    call (data-dependent control flow keeps working, which a PyTorch trace would freeze),
    and it has no `.graph` or `.save`. To record once and replay compiled, use
    `tapegrad.func`."""
    if example_inputs is None and example_kwarg_inputs is None:
        raise RuntimeError("jit.trace(): give example_inputs (a tuple of arguments or one "
                           "tensor) or example_kwarg_inputs to run the function on")
    if example_inputs is None:
        args: tuple = ()
    elif isinstance(example_inputs, tuple):
        args = example_inputs
    else:
        args = (example_inputs,)
    func(*args, **(example_kwarg_inputs or {}))  # type: ignore[operator]
    return func


def trace_module(mod: _T, inputs: dict, optimize: object = None, check_trace: bool = True,
                 check_inputs: object = None, check_tolerance: float = 1e-5,
                 strict: bool = True, example_inputs_is_kwarg: bool = False) -> _T:
    """`mod` itself, after calling each named method once on its example inputs
    (`inputs`: {"forward": (x,), ...}); see `trace`."""
    if not isinstance(inputs, dict):
        raise AttributeError("jit.trace_module(): inputs must be a dict of method name -> "
                             f"example inputs, not {type(inputs).__name__}")
    for name, example in inputs.items():
        method = getattr(mod, name)
        if example_inputs_is_kwarg:
            method(**example)
        else:
            method(*(example if isinstance(example, tuple) else (example,)))
    return mod


def ignore(drop: Any = False, **kwargs: Any) -> Any:
    """Decorator `@ignore` or `@ignore(drop=True)`: returns the function unchanged (with
    no TorchScript, every function stays Python)."""
    if callable(drop):
        return drop
    return lambda fn: fn


def unused(fn: _T) -> _T:
    """Decorator: returns the function unchanged (no TorchScript to leave it out of)."""
    return fn


def export(fn: _T) -> _T:
    """Decorator: returns the method unchanged (no TorchScript to compile it into)."""
    return fn


def is_scripting() -> bool:
    """False: tapegrad never runs code as TorchScript."""
    return False


def is_tracing() -> bool:
    """False: `trace` does not trace (it runs the function as Python)."""
    return False


def annotate(the_type: Any, the_value: _T) -> _T:
    """`the_value` (a type hint for the TorchScript compiler, which tapegrad has not)."""
    return the_value


def Attribute(value: _T, type: Any) -> _T:
    """`value` (a type hint for a TorchScript attribute, which tapegrad has not)."""
    return value


def freeze(mod: _T, preserved_attrs: list | None = None, optimize_numerics: bool = True) -> _T:
    """`mod` itself (nothing to inline without TorchScript); as in PyTorch it must be in
    eval mode."""
    if getattr(mod, "training", False):
        raise RuntimeError("Freezing is currently only implemented for modules in eval "
                           "mode. Please call .eval() on your module before freezing.")
    return mod


class Future:
    """The result of `fork`: the call ran already; `wait()` returns its value (PyTorch's
    Future also has callbacks; this one has not)."""

    def __init__(self, value: Any) -> None:
        self._value = value

    def wait(self) -> Any:
        """The value the forked call returned."""
        return self._value

    def value(self) -> Any:
        """The value the forked call returned."""
        return self._value

    def done(self) -> bool:
        """True: the call ran when it was forked."""
        return True


def fork(func: Callable[..., Any], *args: Any, **kwargs: Any) -> Future:
    """Run `func(*args, **kwargs)` now (PyTorch runs it asynchronously only inside
    TorchScript; eagerly it runs it at once too) and return a future for `wait`."""
    return Future(func(*args, **kwargs))


def wait(future: Future) -> Any:
    """The value of a future from `fork`."""
    return future.wait()


def save(m: object, f: object, **kwargs: Any) -> None:
    """Raises RuntimeError: tapegrad has no TorchScript program format. Save the weights
    with `tapegrad.save(model.state_dict(), path)` instead; `tapegrad.func` is the
    compile path."""
    raise RuntimeError("jit.save: " + _NO_FORMAT.format(what="write"))


def load(f: object, map_location: object = None, **kwargs: Any) -> Any:
    """Raises RuntimeError: tapegrad has no TorchScript program format to read. Load
    weights saved with `tapegrad.save` through `tapegrad.load` and `load_state_dict`;
    `tapegrad.func` is the compile path."""
    raise RuntimeError("jit.load: " + _NO_FORMAT.format(what="read"))


_MISSING = frozenset("""
CompilationUnit Error RecursiveScriptClass RecursiveScriptModule ScriptFunction
ScriptModule ScriptWarning TopLevelTracedModule TracedModule TracerWarning interface
isinstance last_executed_optimized_graph onednn_fusion_enabled optimize_for_inference
script_if_tracing script_method set_fusion_strategy strict_fusion enable_onednn_fusion
""".split())


def __getattr__(name: str) -> object:
    """An AttributeError that says tapegrad does not support a torch.jit name yet."""
    import sys

    from ._pytorch_names import unsupported

    raise unsupported("torch.jit", name, _MISSING, sys.modules[__name__])
