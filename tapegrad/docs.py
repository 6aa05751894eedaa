"""The API reference: `python -m tapegrad.docs` writes docs/api.md from the docstrings and
signatures of the public surface (`python -m tapegrad.docs --check` only reports problems).

The public surface is every name of `__all__` of tapegrad, tapegrad.nn,
tapegrad.nn.functional, tapegrad.nn.init, tapegrad.optim, tapegrad.optim.lr_scheduler,
tapegrad.linalg, tapegrad.utils.data, tapegrad.autograd, tapegrad.autograd.graph,
tapegrad.autograd.profiler, tapegrad.profiler and tapegrad.jit, and the public methods and properties of Tensor.
`problems()` lists what the reference cannot state for it: a missing docstring, a
parameter with a private name, a missing type hint.
"""

from __future__ import annotations

import importlib
import inspect
import re
import sys
import types
from pathlib import Path

NAMESPACES = ("tapegrad", "tapegrad.nn", "tapegrad.nn.functional", "tapegrad.nn.init",
              "tapegrad.optim", "tapegrad.optim.lr_scheduler", "tapegrad.linalg",
              "tapegrad.utils.data", "tapegrad.autograd", "tapegrad.func",
              "tapegrad.autograd.graph", "tapegrad.autograd.profiler", "tapegrad.profiler",
              "tapegrad.jit")

# sections of the reference, in order; a top-level name goes by the module defining it
_GROUP_OF_MODULE = {
    "tapegrad.creation": "Tensor creation", "tapegrad.random": "Tensor creation",
    "tapegrad.ranges": "Tensor creation",
    "tapegrad.functions": "Math", "tapegrad.activations": "Math", "tapegrad._products": "Math",
    "tapegrad.compare": "Math", "tapegrad.composite": "Math",
    "tapegrad.reductions": "Reductions", "tapegrad.movement": "Shape",
    "tapegrad.selection": "Indexing", "tapegrad.scatter": "Indexing",
    "tapegrad.inplace": "Autograd", "tapegrad.serialization": "Serialization",
    "tapegrad.dtypes": "Types, devices and threads",
    "tapegrad.device": "Types, devices and threads",
    "tapegrad.tensor": "Types, devices and threads", "tapegrad": "Types, devices and threads",
}
_GROUP_OF_NAME = {  # composites that are not math
    **dict.fromkeys("argsort sort topk msort count_nonzero std_mean var_mean unique bincount "
                    "diff".split(), "Reductions"),
    **dict.fromkeys("tril triu diagonal diag roll repeat_interleave tile unbind narrow movedim "
                    "broadcast_to atleast_1d atleast_2d hstack vstack column_stack meshgrid "
                    "broadcast_shapes".split(), "Shape"),
    **dict.fromkeys("masked_select nonzero searchsorted bucketize isin".split(), "Indexing"),
    **dict.fromkeys("finfo iinfo get_num_threads set_num_threads".split(),
                    "Types, devices and threads"),
}
GROUPS = ("Tensor creation", "Math", "Reductions", "Shape", "Indexing", "Autograd",
          "Types, devices and threads", "Constants and dtypes", "Serialization", "Tensor",
          "linalg", "nn modules", "nn.functional", "nn.init", "optim", "optim.lr_scheduler",
          "utils.data", "func (record once, replay)", "profiler", "jit (no TorchScript)")
_GROUP_OF_NAMESPACE = {"tapegrad.nn": "nn modules", "tapegrad.nn.functional": "nn.functional",
                       "tapegrad.nn.init": "nn.init", "tapegrad.optim": "optim",
                       "tapegrad.optim.lr_scheduler": "optim.lr_scheduler",
                       "tapegrad.linalg": "linalg", "tapegrad.utils.data": "utils.data",
                       "tapegrad.autograd": "Autograd", "tapegrad.autograd.graph": "Autograd",
                       "tapegrad.func": "func (record once, replay)",
                       "tapegrad.autograd.profiler": "profiler", "tapegrad.profiler": "profiler",
                       "tapegrad.jit": "jit (no TorchScript)"}
_NO_HINTS = {"self", "cls"}


def public_names(module: types.ModuleType) -> list[str]:
    """The public names of a namespace: its `__all__` minus its submodules."""
    names = getattr(module, "__all__", None)
    if names is None:
        names = [n for n in dir(module) if not n.startswith("_")]
    return [n for n in names if not isinstance(getattr(module, n), types.ModuleType)]


def tensor_members() -> list[str]:
    """Public methods and properties of Tensor (the names without a leading underscore),
    without the PyTorch names it lacks (their attributes only raise)."""
    from ._pytorch_names import unsupported_members
    from .tensor import Tensor

    hidden = unsupported_members(Tensor)
    return sorted(n for n in dir(Tensor) if not n.startswith("_") and n not in hidden)


def _is_value(obj: object) -> bool:
    """A constant or a dtype object: documented by a table row, not a signature."""
    from .dtypes import dtype

    return isinstance(obj, (int, float, dtype)) or type(obj).__name__ == "Generator"


def _group(name: str, obj: object) -> str:
    """The section of a top-level name: by name, else by the module defining it."""
    module = getattr(obj, "__module__", None) or ""
    if name in _GROUP_OF_NAME:
        return _GROUP_OF_NAME[name]
    if module.startswith("tapegrad.autograd"):
        return "Autograd"
    return _GROUP_OF_MODULE.get(module, "Math")


def entries() -> list[tuple[str, str, object]]:
    """(group, qualified name, object) of every public name, in reference order."""
    import tapegrad

    out = []
    for ns in NAMESPACES:
        mod = importlib.import_module(ns)
        for name in public_names(mod):
            obj = getattr(mod, name)
            if ns == "tapegrad":
                group = "Constants and dtypes" if _is_value(obj) else _group(name, obj)
            else:
                group = _GROUP_OF_NAMESPACE[ns]
            out.append((group, f"{ns}.{name}", obj))
    for name in tensor_members():
        out.append(("Tensor", f"tapegrad.Tensor.{name}",
                    inspect.getattr_static(tapegrad.Tensor, name)))
    order = {g: i for i, g in enumerate(GROUPS)}
    return sorted(out, key=lambda e: (order[e[0]], e[1].lower()))


def _callable_of(obj: object) -> object | None:
    """The function whose signature documents obj (a class documents its __init__)."""
    if isinstance(obj, (staticmethod, classmethod)):
        return obj.__func__
    if isinstance(obj, property):
        return obj.fget
    if callable(obj) and not _is_value(obj):
        return obj
    return None


def signature(obj: object) -> str:
    """The signature text of a public callable ("" for a value or a property)."""
    fn = _callable_of(obj)
    if fn is None or isinstance(obj, property):
        return ""
    try:
        sig = inspect.signature(fn)
    except (TypeError, ValueError):
        return "(...)"
    text = str(sig)
    return re.sub(r" at 0x[0-9a-fA-F]+", "", text).replace("tapegrad.tensor.", "")


def _own_doc(obj: object) -> str:
    """The docstring written for obj (a class's own, not one inherited)."""
    if isinstance(obj, type):
        return inspect.cleandoc(obj.__dict__.get("__doc__") or "")
    if _is_value(obj):
        return ""
    if isinstance(obj, property):
        return inspect.cleandoc(obj.__doc__ or "")
    fn = obj
    if isinstance(fn, (staticmethod, classmethod)):
        fn = fn.__func__
    return inspect.getdoc(fn) or ""


def _missing_hints(obj: object) -> list[str]:
    """Parameters (and "return") of obj's public signature without a type hint."""
    fn = _callable_of(obj)
    if fn is None or isinstance(obj, property):
        return []
    if isinstance(fn, type):
        init = fn.__dict__.get("__init__")
        if init is None:
            return []
        fn = init
    try:
        sig = inspect.signature(fn)
    except (TypeError, ValueError):
        return []
    out = [p.name for p in sig.parameters.values() if p.name not in _NO_HINTS and
           p.annotation is inspect.Parameter.empty and
           p.kind not in (p.VAR_POSITIONAL, p.VAR_KEYWORD)]
    if sig.return_annotation is inspect.Signature.empty and fn.__name__ != "__init__":
        out.append("return")
    return out


def problems(hints: bool = True) -> list[str]:
    """What the reference cannot state: names without a docstring, signatures with a
    private parameter, and (hints=True) parameters without a type hint."""
    out = []
    for _, qual, obj in entries():
        if _is_value(obj):
            continue
        if not _own_doc(obj):
            out.append(f"{qual}: no docstring")
        sig = signature(obj)
        if re.search(r"[(, ]\*{0,2}_\w*[:=,)]", sig):
            out.append(f"{qual}{sig}: a private parameter")
        if hints:
            missing = _missing_hints(obj)
            if missing:
                out.append(f"{qual}: no type hint for {', '.join(missing)}")
    return out


def _value_row(qual: str, obj: object) -> str:
    text = repr(obj) if not type(obj).__name__ == "Generator" else \
        "the global Generator (seeded by manual_seed)"
    return f"| `{qual}` | `{text}` |"


def render() -> str:
    """The text of docs/api.md."""
    lines = ["# tapegrad API reference", "",
             "Generated by `python -m tapegrad.docs` from the docstrings and signatures; do "
             "not edit by hand. Each entry says what the name does and where it differs from "
             "PyTorch's.", ""]
    by_group: dict[str, list[tuple[str, object]]] = {}
    for group, qual, obj in entries():
        by_group.setdefault(group, []).append((qual, obj))
    lines += ["## Contents", ""]
    lines += [f"- [{g}](#{g.lower().replace(' ', '-').replace('.', '').replace(',', '')})"
              f" ({len(by_group[g])})" for g in GROUPS if g in by_group]
    for group in GROUPS:
        items = by_group.get(group)
        if not items:
            continue
        lines += ["", f"## {group}", ""]
        if group == "Constants and dtypes":
            lines += ["| name | value |", "| --- | --- |"]
            lines += [_value_row(q, o) for q, o in items]
            continue
        for qual, obj in items:
            kind = "class " if isinstance(obj, type) else (
                "property " if isinstance(obj, property) else "")
            lines += [f"### `{kind}{qual}{signature(obj)}`", ""]
            text = _own_doc(obj) or (f"A constant: `{obj!r}` (as in PyTorch on the CPU)."
                                     if _is_value(obj) else "(no docstring)")
            lines += [text, ""]
    return "\n".join(lines).rstrip() + "\n"


def default_path() -> Path:
    """docs/api.md of the source tree this package sits in."""
    return Path(__file__).resolve().parent.parent / "docs" / "api.md"


def main(argv: list[str] | None = None) -> int:
    """Write docs/api.md (or, with --check, print the problems and return 1 if any)."""
    argv = sys.argv[1:] if argv is None else argv
    if "--check" in argv:
        found = problems()
        print("\n".join(found) or "no problems")
        return 1 if found else 0
    path = Path(argv[0]) if argv else default_path()
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(render(), encoding="utf-8")
    print(f"wrote {path}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
