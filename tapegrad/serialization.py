"""tapegrad.save / tapegrad.load: tensors and nested containers in NumPy's .npz format.

    tapegrad.save(model.state_dict(), "model.pt")
    model.load_state_dict(tapegrad.load("model.pt"))

The file is an uncompressed .npz archive (a zip of .npy arrays): one entry `__tapegrad__`
holds a JSON description of the saved object (containers with the type of every key and
value, so int keys come back as ints, tuples as tuples, OrderedDicts as OrderedDicts), and
each tensor or NumPy array is an entry `a0`, `a1`, ... Loading reads it with
`allow_pickle=False` and builds the object from the description: it never runs code from
the file, whatever `weights_only` says. Files of PyTorch's `torch.save` (pickles) are
refused with a RuntimeError, as are truncated or foreign files.

Saved: tensors (dtype, shape, values, requires_grad; a Parameter comes back as a
Parameter when tapegrad.nn defines one), NumPy arrays and scalars, None, bools, ints,
floats (exactly), complex numbers, strings, bytes, tapegrad dtypes, Size, and lists,
tuples, dicts (any of those as keys) and OrderedDicts of them. The same tensor object saved
twice comes back as one object; two different tensors that share memory come back as
two independent copies.
"""

import io
import json
import os
import zipfile
from collections import OrderedDict

import numpy as np

from . import dtypes
from .tensor import Size, Tensor, _from_array

__all__ = ["save", "load"]

_ENTRY = "__tapegrad__"
_FORMAT = "tapegrad.save"
_VERSION = 1
_ZIP_MAGIC = b"PK\x03\x04"
_FOREIGN = ("tapegrad reads only files written by tapegrad.save (an .npz archive with a "
            f"'{_ENTRY}' entry)")


class _Writer:
    """Turns an object into a JSON-able description, collecting its arrays."""

    def __init__(self):
        self.arrays = {}
        self.memo = {}  # id(tensor) -> node, so a tensor saved twice loads as one object
        self.keep = []  # the memo's objects stay alive while ids are compared

    def array(self, arr):
        name = f"a{len(self.arrays)}"
        arr = np.asarray(arr)  # (np.ascontiguousarray would make a 0-d array 1-d)
        self.arrays[name] = arr if arr.flags.c_contiguous else np.array(arr, order="C")
        return name

    def node(self, obj, path):
        if obj is None:
            return {"T": "none"}
        if isinstance(obj, bool):
            return {"T": "bool", "v": obj}
        if isinstance(obj, Tensor):
            return self.tensor(obj)
        if isinstance(obj, np.ndarray):
            if obj.dtype.hasobject:
                raise TypeError(f"tapegrad.save: can't save a NumPy array of dtype object at "
                                f"{path}")
            return {"T": "ndarray", "a": self.array(obj)}
        if isinstance(obj, np.generic):
            return {"T": "npscalar", "a": self.array(np.asarray(obj))}
        if isinstance(obj, int):
            return {"T": "int", "v": int(obj)}
        if isinstance(obj, float):
            return {"T": "float", "v": float(obj).hex()}
        if isinstance(obj, complex):
            return {"T": "complex", "v": [obj.real.hex(), obj.imag.hex()]}
        if isinstance(obj, str):
            return {"T": "str", "v": obj}
        if isinstance(obj, (bytes, bytearray)):
            return {"T": "bytes", "v": bytes(obj).hex()}
        if isinstance(obj, dtypes.dtype):
            return {"T": "dtype", "v": obj.name}
        if isinstance(obj, Size):
            return {"T": "size", "v": [int(d) for d in obj]}
        if isinstance(obj, (dict, OrderedDict)):
            kind = "odict" if isinstance(obj, OrderedDict) else "dict"
            items = [[self.node(k, f"{path} (a key)"), self.node(v, f"{path}[{k!r}]")]
                     for k, v in obj.items()]
            return {"T": kind, "items": items}
        if type(obj) in (list, tuple):
            kind = "list" if type(obj) is list else "tuple"
            return {"T": kind, "items": [self.node(v, f"{path}[{i}]")
                                         for i, v in enumerate(obj)]}
        raise TypeError(f"tapegrad.save: can't save an object of type {type(obj).__name__} at "
                        f"{path} (supported: tensors, NumPy arrays, numbers, strings, bytes, "
                        f"None, dtypes, and lists, tuples and dicts of them)")

    def tensor(self, t):
        key = id(t)
        if key in self.memo:
            return {"T": "ref", "v": self.memo[key]}
        self.keep.append(t)
        node = {"T": "tensor", "a": self.array(t._value()), "dtype": t._dtype.name,
                "rg": bool(t._rg), "param": _is_parameter(t)}
        node["id"] = self.memo[key] = len(self.memo)
        return node


def save(obj: object, f: str | os.PathLike | io.IOBase, pickle_module: object = None,
         pickle_protocol: int = 2,
         _use_new_zipfile_serialization: bool = True) -> None:
    """Write `obj` (a tensor, a state_dict, nested containers of tensors and numbers) to
    `f`, a path or a binary file object, in tapegrad's .npz format.

    The path is used as given (no `.npz` is appended). `pickle_module` and
    `pickle_protocol` are accepted for compatibility and ignored: nothing is pickled."""
    w = _Writer()
    root = w.node(obj, "the saved object")
    meta = json.dumps({"format": _FORMAT, "version": _VERSION, "root": root},
                      separators=(",", ":"), allow_nan=False)
    entries = {_ENTRY: np.frombuffer(meta.encode("utf-8"), np.uint8)}
    entries.update(w.arrays)
    if isinstance(f, (str, os.PathLike)):
        with open(f, "wb") as fh:
            np.savez(fh, **entries)
    elif hasattr(f, "write"):
        np.savez(f, **entries)
    else:
        raise TypeError(f"tapegrad.save: f must be a path or a binary file object, not "
                        f"{type(f).__name__}")


def _open(f):
    """(file object, name, should close) for a path or a readable binary file object."""
    if isinstance(f, (str, os.PathLike)):
        return open(f, "rb"), os.fspath(f), True
    if hasattr(f, "read"):
        return f, str(getattr(f, "name", f"the {type(f).__name__} object")), False
    raise TypeError(f"tapegrad.load: f must be a path or a binary file object, not "
                    f"{type(f).__name__}")


def _check_map_location(map_location):
    if map_location is None or callable(map_location) or isinstance(map_location, dict):
        return
    dev = str(map_location)
    if dev != "cpu" and not dev.startswith("cpu:"):
        raise RuntimeError(f"tapegrad.load: map_location={dev!r}, but tapegrad has only the "
                           "CPU device")


def load(f: str | os.PathLike | io.IOBase, map_location: object = None,
         pickle_module: object = None, *, weights_only: bool = True, mmap: bool | None = None,
         **pickle_load_args: object) -> object:

    """Read an object written by `tapegrad.save` from `f` (a path or a binary file object).

    Tensors come back with their dtype, shape, values and requires_grad, on the CPU.
    Loading never runs code from the file, whatever `weights_only` says; files that are
    not tapegrad's (a PyTorch .pt file, a truncated file) raise RuntimeError."""
    _check_map_location(map_location)
    fh, name, close = _open(f)
    try:
        head = fh.read(4)
        if head != _ZIP_MAGIC:
            raise RuntimeError(f"tapegrad.load: {name} is not a tapegrad file: "
                               f"{_describe(head)}. {_FOREIGN}")
        fh.seek(-4, io.SEEK_CUR)
        return _read(fh, name)
    finally:
        if close:
            fh.close()


def _describe(head):
    if not head:
        return "it is empty"
    if _ZIP_MAGIC.startswith(head):
        return f"it is truncated ({len(head)} bytes)"
    if head[:1] == b"\x80":
        return "it is a Python pickle (a legacy PyTorch file?), which tapegrad never unpickles"
    if head[:4] == b"\x93NUM":
        return "it is a single .npy array, not an .npz archive"
    return "it is not a zip archive"


def _read(fh, name):
    try:
        with np.load(fh, allow_pickle=False) as npz:
            names = set(npz.files)
            if _ENTRY not in names:
                pt = any(n.endswith("data.pkl") for n in names)
                what = ("a PyTorch file (torch.save's zip of pickles)" if pt else
                        "a zip or .npz archive without tapegrad's structure entry")
                raise RuntimeError(f"tapegrad.load: {name} is {what}. {_FOREIGN}")
            meta = json.loads(npz[_ENTRY].tobytes().decode("utf-8"))
            if not isinstance(meta, dict) or meta.get("format") != _FORMAT:
                raise RuntimeError(f"tapegrad.load: {name} has a '{_ENTRY}' entry that is not "
                                   f"tapegrad's. {_FOREIGN}")
            if meta.get("version") != _VERSION:
                raise RuntimeError(f"tapegrad.load: {name} was written in tapegrad.save format "
                                   f"version {meta.get('version')}; this tapegrad reads "
                                   f"version {_VERSION}")
            return _Reader(npz, names, name).node(meta.get("root"))
    except RuntimeError:
        raise
    except (zipfile.BadZipFile, ValueError, KeyError, TypeError, EOFError, OSError,
            UnicodeDecodeError, AttributeError, IndexError, RecursionError) as e:
        raise RuntimeError(f"tapegrad.load: {name} is truncated or corrupt ({type(e).__name__}:"
                           f" {e}). {_FOREIGN}") from None


class _Reader:
    """Builds the object from the JSON description; every node is checked."""

    def __init__(self, npz, names, name):
        self.npz, self.names, self.name, self.tensors = npz, names, name, {}

    def bad(self, what):
        return RuntimeError(f"tapegrad.load: {self.name} has a malformed structure entry "
                            f"({what}). {_FOREIGN}")

    def array(self, key):
        if not isinstance(key, str) or key == _ENTRY or key not in self.names:
            raise self.bad(f"missing array {key!r}")
        return self.npz[key]

    def node(self, n):
        if not isinstance(n, dict) or not isinstance(n.get("T"), str):
            raise self.bad(f"node {str(n)[:60]!r}")
        kind, v = n["T"], n.get("v")
        if kind == "none":
            return None
        if kind in ("bool", "int", "str"):
            if type(v) is not {"bool": bool, "int": int, "str": str}[kind]:
                raise self.bad(f"{kind} value {v!r}")
            return v
        if kind == "float":
            return float.fromhex(v)
        if kind == "complex":
            return complex(float.fromhex(v[0]), float.fromhex(v[1]))
        if kind == "bytes":
            return bytes.fromhex(v)
        if kind == "dtype":
            return self.dtype(v)
        if kind == "size":
            return Size(int(d) for d in v)
        if kind in ("list", "tuple"):
            items = [self.node(x) for x in self.items(n)]
            return items if kind == "list" else tuple(items)
        if kind in ("dict", "odict"):
            out = OrderedDict() if kind == "odict" else {}
            for pair in self.items(n):
                if not isinstance(pair, list) or len(pair) != 2:
                    raise self.bad("dict item")
                out[self.node(pair[0])] = self.node(pair[1])
            return out
        if kind == "ndarray":
            return np.array(self.array(n.get("a")))
        if kind == "npscalar":
            a = self.array(n.get("a"))
            if a.shape != ():
                raise self.bad(f"NumPy scalar of shape {a.shape}")
            return a[()]
        if kind == "tensor":
            return self.tensor(n)
        if kind == "ref":
            if v not in self.tensors:
                raise self.bad(f"reference to tensor {v!r} before it")
            return self.tensors[v]
        raise self.bad(f"unknown node type {kind!r}")

    def items(self, n):
        items = n.get("items")
        if not isinstance(items, list):
            raise self.bad("container without items")
        return items

    def dtype(self, name):
        try:
            return dtypes._by_name(name)
        except (KeyError, TypeError):
            raise self.bad(f"unknown dtype {name!r}") from None

    def tensor(self, n):
        dt = self.dtype(n.get("dtype"))
        arr = self.array(n.get("a"))
        if arr.dtype != dt.np:
            raise self.bad(f"array {n.get('a')} is {arr.dtype}, its tensor {dt}")
        rg = n.get("rg") is True
        if rg and not dt.is_floating_point:
            raise self.bad(f"an {dt} tensor that requires grad")
        arr = np.array(arr, order="C")  # own, writable memory
        t = _from_array(arr, dt, rg)
        if n.get("param"):
            t = _as_parameter(t, rg)
        self.tensors[n.get("id")] = t
        return t


def _parameter_class():
    try:
        from .nn import Parameter
    except ImportError:
        return None
    return Parameter if isinstance(Parameter, type) else None


def _is_parameter(t):
    cls = _parameter_class()
    return cls is not None and isinstance(t, cls)


def _as_parameter(t, rg):
    """A tapegrad.nn.Parameter holding t's value, when tapegrad.nn defines Parameter."""
    cls = _parameter_class()
    if cls is None:
        return t
    try:
        return cls(t, requires_grad=rg)
    except (TypeError, ValueError, RuntimeError):
        return t
