"""Save a recording as one `.npz` file and load it back, in another process.

    fg = tapegrad.func.value_and_grad(rosen); fg(x0)
    fg.save("rosen.npz")
    f2 = tapegrad.func.load("rosen.npz")   # no Python source needed: f2(x) == fg(x)

The file holds plain arrays only (written by `np.savez`, read with `allow_pickle=False`):

    format, tapegrad_version      the file format (FORMAT) and the writer's version
    kind, name, argnums, single   the transform, the function's name, its argnums
    signature                     JSON: per positional argument {"shape", "dtype"} or
                                  {"static": value} (a number, string, bool or None)
    records, slots, aux           the record and slot tables (rows in use), the aux pool
    arena32, arena64, codes       the value arenas up to their tops (the constants), and
                                  which arenas the tape uses
    in_slots, in_codes            the input slots and their dtype codes
    out_slot, out_value           the output slot (-1: constant) and its recorded value
    extra_slots, extra_value_<j>  the extra outputs (jvp's value)
    guard_slots, guard_codes,     the guards: slot, dtype code, element count and the
    guard_sizes, guard_bytes      expected values' bytes, concatenated
    op_codes, op_names            opcode -> op name for every opcode used
    digest                        SHA-256 of all of the above (corruption check)

Opcodes are frozen numbers: a file whose opcode names differ from this tapegrad's table
was written for other ops and is refused, as are a newer format, a missing key and a
corrupt or truncated file (ValueError). The digest guards against corruption, not against
a file crafted to pass it: load only programs you trust, as you would run only code you
trust.
"""

import hashlib
import json
import os
from typing import Any, BinaryIO, Union

import numpy as np

from .. import __version__
from ..ops import BY_CODE
from ..tape import sweep
from ..tape.dispatch import OP_PYTHON
from ..tape.records import (R_AUX, R_IN0, R_IN1, R_IN2, R_OP, R_OUT, RECORD, S_DTYPE,
                            S_NDIM, S_NUMEL, S_OFF, S_REC, S_SHAPE, SLOT)
from ..tape.tape import Tape
from . import _EXTRA_ARGS, _ONE_CALL, _TANGENT, Compiled
from ._trace import Variant

FORMAT = 1
_NP = (np.float32, np.float64)  # dtype code -> NumPy dtype
_SCALARS = (type(None), bool, int, float, str)
# key -> (dtype kind(s), ndim or None for any)
_KEYS = {"format": ("iu", 0), "tapegrad_version": ("U", 0), "kind": ("U", 0),
         "name": ("U", 0), "argnums": ("i", 1), "single": ("iub", 0), "signature": ("U", 0),
         "records": ("i", 2), "slots": ("i", 2), "aux": ("i", 1), "arena32": ("f", 1),
         "arena64": ("f", 1), "codes": ("i", 0), "in_slots": ("i", 1), "in_codes": ("i", 1),
         "out_slot": ("i", 0), "out_value": ("f", None), "extra_slots": ("i", 1),
         "guard_slots": ("i", 1), "guard_codes": ("i", 1), "guard_sizes": ("i", 1),
         "guard_bytes": ("u", 1), "op_codes": ("i", 1), "op_names": ("U", 1),
         "digest": ("u", 1)}
PathOrFile = Union[str, "os.PathLike[str]", BinaryIO]


# ---- saving ------------------------------------------------------------------------------
def save(c: Compiled, path: PathOrFile) -> None:
    """Write `c`'s latest recording to `path` (see the module docstring)."""
    where = f"tapegrad.func.{c.kind}({c.__name__}).save"
    v = c._last
    if c._eager is not None:
        raise RuntimeError(f"{where}: the function runs eagerly ({c._eager}): there is no "
                           "recorded program to save")
    if v is None or getattr(v, "key", None) is None:
        raise RuntimeError(f"{where}: nothing is recorded yet: call it once, on arguments "
                           "of the shapes the saved program should take")
    tape = v.tape
    head = tape.AUX[:sweep.AUX_HEADER].tolist()
    R = tape.R[:head[sweep.H_NREC]]
    ops = np.unique(R[:, R_OP])
    g_bytes = [np.ascontiguousarray(g).view(np.uint8) for _, _, g in v.guards]
    data = {
        "format": np.int64(FORMAT), "tapegrad_version": np.str_(__version__),
        "kind": np.str_(c.kind), "name": np.str_(c.__name__),
        "argnums": np.array(c.argnums, np.int64), "single": np.int64(c.single),
        "signature": np.str_(_signature_json(v.key, where)),
        "records": R.copy(), "slots": tape.S[:head[sweep.H_NSLOT]].copy(),
        "aux": tape.AUX[:head[sweep.H_NAUX]].copy(),
        "arena32": tape.A[0][:head[sweep.H_TOP32]].copy(),
        "arena64": tape.A[1][:head[sweep.H_TOP64]].copy(), "codes": np.int64(tape.codes),
        "in_slots": np.array(v.in_slots, np.int64), "in_codes": np.array(v.in_codes, np.int64),
        "out_slot": np.int64(-1 if v.out is None else v.out), "out_value": v.value,
        "extra_slots": np.array([-1 if s is None else s for _, s in v.extras], np.int64),
        "guard_slots": np.array([s for s, _, _ in v.guards], np.int64),
        "guard_codes": np.array([code for _, code, _ in v.guards], np.int64),
        "guard_sizes": np.array([g.size for _, _, g in v.guards], np.int64),
        "guard_bytes": np.concatenate(g_bytes) if g_bytes else np.zeros(0, np.uint8),
        "op_codes": ops.astype(np.int64),
        "op_names": np.array([BY_CODE[int(o)].name for o in ops.tolist()], np.str_)}
    for j, (value, _) in enumerate(v.extras):
        data[f"extra_value_{j}"] = value
    data["digest"] = _digest(data)
    if hasattr(path, "write"):
        np.savez(path, **data)
    else:
        with open(path, "wb") as fh:  # (np.savez would append .npz to a bare name)
            np.savez(fh, **data)


def _signature_json(key, where):
    entries = []
    for i, k in enumerate(key):
        if k[0] == "static":
            if not isinstance(k[1], _SCALARS):
                raise TypeError(f"{where}: argument {i} is a {type(k[1]).__name__}, which a "
                                "saved program cannot hold (a number, a string, a bool or "
                                "None can be saved; pass arrays as arrays)")
            entries.append({"static": k[1]})
        else:
            entries.append({"shape": list(k[0]), "dtype": k[1]})
    return json.dumps(entries)


def _digest(data):
    h = hashlib.sha256()
    for k in sorted(data):
        if k != "digest":
            a = np.ascontiguousarray(data[k])
            h.update(f"{k}:{a.dtype.str}:{a.shape};".encode())
            h.update(a.tobytes())
    return np.frombuffer(h.digest(), np.uint8).copy()


# ---- loading -----------------------------------------------------------------------------
class Loaded(Compiled):
    """A program written by `Compiled.save`, read by `tapegrad.func.load`: call it (and
    `.batch` it) like the transform that saved it, on arguments of the saved shapes.

    It has no function behind it, so it cannot record again: a call with other shapes or
    other static values, or one whose guard fails (the function would take another
    branch there), raises a RuntimeError."""

    def __init__(self, variant: Variant, kind: str, argnums: Any, key: tuple, name: str,
                 source: str):
        super().__init__(_no_function, argnums, kind)
        self.__name__, self.__doc__ = name, f"{kind} of {name}, loaded from {source}"
        self.source, self._key = source, key
        variant.key = key  # (a Loaded can be saved again)
        self._variants[key] = [variant]
        self._last = variant
        variant.prepare(kind in _ONE_CALL, kind in _TANGENT)  # planned as a recording is

    def _record(self, arrays, statics, nargs, key=None):
        where = f"tapegrad.func.load({self.source})"
        if key == self._key:
            s = self._last.failed
            raise RuntimeError(f"{where}: the saved program's guard at slot v{s} failed: it "
                               "was recorded for another branch; record it again where the "
                               "function is available")
        if key is not None and not self._variants.get(key):
            self._variants.pop(key, None)
        raise RuntimeError(f"{where}: the saved program takes {_describe(self._key)}, got "
                           f"{_describe(key)}; a loaded program cannot record again: record "
                           "and save it for these arguments where the function is available")


def _no_function(*args):
    raise RuntimeError("a loaded tapegrad.func program has no Python function")


def _describe(key):
    if key is None:
        return "other arguments"
    parts = [f"={k[1]!r}" if k[0] == "static" else f"{np.dtype(k[1]).name}{list(k[0])}"
             for k in key]
    return "(" + ", ".join(parts) + ")"


def load(file: PathOrFile) -> Loaded:
    """The program `Compiled.save` wrote to `file` (a path or a binary file object), as a
    callable with the saved transform's signature and results (`.batch` included).

    A file from a newer format, one whose opcodes are unknown here or name other ops, a
    missing key or a corrupt or truncated file raises a ValueError saying which."""
    source = getattr(file, "name", None) or ("<file>" if hasattr(file, "read")
                                             else os.fspath(file))
    where = f"tapegrad.func.load({source})"
    data = _read(file, where)
    _check_keys(data, where)
    try:
        return _build(data, where, str(source))
    except (KeyError, IndexError, TypeError, ValueError, json.JSONDecodeError) as e:
        if isinstance(e, ValueError) and str(e).startswith(where):
            raise
        raise ValueError(f"{where}: the file is corrupt ({type(e).__name__}: {e})") from None


def _read(file, where):
    try:
        with np.load(file, allow_pickle=False) as z:
            if not hasattr(z, "files"):
                raise ValueError("not an .npz archive")
            return {k: z[k] for k in z.files}
    except OSError as e:
        if not hasattr(file, "read") and not os.path.exists(os.fspath(file)):
            raise
        raise ValueError(f"{where}: not a saved tapegrad program, or a corrupt or truncated "
                         f"one ({type(e).__name__}: {e})") from None
    except Exception as e:  # zipfile, zlib and format errors of a damaged file
        raise ValueError(f"{where}: not a saved tapegrad program, or a corrupt or truncated "
                         f"one ({type(e).__name__}: {e})") from None


def _check_keys(data, where):
    if "format" not in data:
        raise ValueError(f"{where}: not a saved tapegrad program (no 'format' key)")
    fmt = data["format"]
    if fmt.dtype.kind not in "iu" or fmt.ndim != 0 or not 1 <= int(fmt) <= FORMAT:
        newer = fmt.dtype.kind in "iu" and fmt.ndim == 0 and int(fmt) > FORMAT
        raise ValueError(f"{where}: the file has format {fmt!r}; this tapegrad ({__version__}) "
                         f"reads formats 1 to {FORMAT}" + ("; it was written by a newer "
                                                           "tapegrad" if newer else ""))
    for k, (kinds, ndim) in _KEYS.items():
        if k not in data:
            raise ValueError(f"{where}: the file lacks the key {k!r} (a corrupt file?)")
        a = data[k]
        if a.dtype.kind not in kinds or (ndim is not None and a.ndim != ndim):
            raise ValueError(f"{where}: key {k!r} holds a {a.dtype} array of {a.ndim} dims, "
                             "not what a saved program has (a corrupt file?)")
    codes, names = data["op_codes"].tolist(), data["op_names"].tolist()
    if len(codes) != len(names):
        raise ValueError(f"{where}: the opcode table is corrupt ({len(codes)} codes, "
                         f"{len(names)} names)")
    for code, name in zip(codes, names):
        spec = BY_CODE.get(code)
        if spec is None:
            raise ValueError(f"{where}: unknown opcode {code} ({name!r}): the program uses an "
                             f"op this tapegrad ({__version__}) does not have")
        if spec.name != name:
            raise ValueError(f"{where}: opcode {code} is {name!r} in the file but {spec.name!r} "
                             f"in this tapegrad ({__version__}): it was written for other ops")
        if code == OP_PYTHON:
            raise ValueError(f"{where}: the program calls a custom autograd.Function, which a "
                             "saved program cannot hold")
    R = data["records"]
    if R.ndim == 2 and R.shape[0]:
        unknown = np.setdiff1d(np.unique(R[:, R_OP]), np.array(codes, np.int64))
        if unknown.size:
            raise ValueError(f"{where}: unknown opcode {int(unknown[0])} in the records (not "
                             "in the file's opcode table)")
    if not np.array_equal(data["digest"], _digest(data)):
        raise ValueError(f"{where}: the file is corrupt: its contents do not match their "
                         "SHA-256 digest")


def _build(data, where, source):
    R, S, AUX = data["records"], data["slots"], data["aux"]
    A = [data["arena32"].astype(np.float32), data["arena64"].astype(np.float64)]
    nrec, nslot, naux = R.shape[0], S.shape[0], AUX.shape[0]
    bad = []
    if R.shape[1] != len(RECORD.names) or S.shape[1] != len(SLOT.names) or nrec < 1:
        bad.append("table widths")
    elif naux < sweep.AUX_HEADER or AUX[:sweep.AUX_HEADER].tolist()[:5] != \
            [nrec, nslot, A[0].size, A[1].size, naux]:
        bad.append("aux header")
    else:
        bad += _check_tables(R, S, AUX, A, nslot, naux)
    kind = str(data["kind"])
    if kind not in _EXTRA_ARGS:
        bad.append(f"kind {kind!r}")
    ins, in_codes = data["in_slots"].tolist(), data["in_codes"].tolist()
    slots = ins + data["extra_slots"].tolist() + [int(data["out_slot"])] + \
        data["guard_slots"].tolist()
    if any(not -1 <= s < nslot for s in slots) or any(not 0 <= s for s in ins) or \
            [int(S[s, S_DTYPE]) for s in ins] != in_codes:
        bad.append("input or output slots")
    if bad:
        raise ValueError(f"{where}: the file is corrupt (its {', '.join(bad)} are not "
                         "consistent)")
    key, nargs = _signature(json.loads(str(data["signature"])), where)
    dims = [_dims(AUX, S, s) for s in ins]
    arrays = [k for k in key if k[0] != "static"]
    hidden = 1 if kind == "jvp" and data["extra_slots"].size else 0  # (double-vjp's u)
    if len(arrays) + hidden != len(ins) or \
            any(tuple(k[0]) != d or np.dtype(k[1]) != _NP[c]
                for k, d, c in zip(arrays, dims, in_codes)):
        raise ValueError(f"{where}: the file is corrupt (its signature does not match its "
                         "input slots)")
    tape = Tape(records=max(nrec, nslot) + 1, elements=16, aux=naux)
    tape.R[:nrec], tape.S[:nslot], tape.AUX[:] = R, S, AUX
    tape.A = [np.concatenate([a, np.zeros(max(16 - a.size, 0), a.dtype)]) for a in A]
    tape.codes = int(data["codes"]) & 3
    out = int(data["out_slot"])
    value = _value(data["out_value"], out, S, AUX, where)
    extras = [(_value(data[f"extra_value_{j}"], s, S, AUX, where), None if s < 0 else s)
              for j, s in enumerate(data["extra_slots"].tolist())]
    v = Variant.from_tables(tape, ins, in_codes, value, None if out < 0 else out, extras,
                            _guards(data, S, where))
    argnums = tuple(data["argnums"].tolist())
    return Loaded(v, kind, argnums[0] if int(data["single"]) else argnums, key,
                  str(data["name"]), source)


def _check_tables(R, S, AUX, A, nslot, naux):
    """What would make a compiled sweep index out of its tables."""
    bad = []
    if (R[:, R_OUT] < 0).any() or (R[:, R_OUT] >= nslot).any() or \
            (R[:, [R_IN0, R_IN1, R_IN2]] < -1).any() or \
            (R[:, [R_IN0, R_IN1, R_IN2]] >= nslot).any() or \
            (R[:, R_AUX] < -1).any() or (R[:, R_AUX] >= naux).any():
        bad.append("records")
    dt, off, n = S[:, S_DTYPE], S[:, S_OFF], S[:, S_NUMEL]
    top = np.where(dt == 0, A[0].size, A[1].size)
    if ((dt != 0) & (dt != 1)).any() or (n < 0).any() or (off < 0).any() or \
            (off + n > top).any() or (S[:, S_REC] < 0).any() or \
            (S[:, S_REC] >= R.shape[0]).any():
        bad.append("slots")
    else:
        for sh, nd in set(zip(S[:, S_SHAPE].tolist(), S[:, S_NDIM].tolist())):
            if not (0 <= sh and sh + 1 + nd <= naux and AUX[sh] == nd):
                bad.append("shapes")
                break
        else:
            sizes = [int(np.prod(AUX[sh + 1:sh + 1 + AUX[sh]])) for sh in S[:, S_SHAPE].tolist()]
            if sizes != n.tolist():
                bad.append("shapes")
    return bad


def _dims(AUX, S, s):
    sh = int(S[s, S_SHAPE])
    return tuple(AUX[sh + 1:sh + 1 + AUX[sh]].tolist())


def _signature(entries, where):
    key = []
    for e in entries:
        if "static" in e:
            key.append(("static", e["static"]))
        else:
            key.append((tuple(int(d) for d in e["shape"]), str(e["dtype"])))
    return tuple(key), len(key)


def _value(value, s, S, AUX, where):
    if s >= 0 and (value.size != S[s, S_NUMEL] or value.shape != _dims(AUX, S, s)):
        raise ValueError(f"{where}: the file is corrupt (a recorded output's shape "
                         f"{list(value.shape)} does not match its slot v{s})")
    return value


def _guards(data, S, where):
    sizes, codes = data["guard_sizes"].tolist(), data["guard_codes"].tolist()
    slots, raw = data["guard_slots"].tolist(), data["guard_bytes"]
    if not len(sizes) == len(codes) == len(slots) or \
            sum(n * np.dtype(_NP[c]).itemsize for n, c in zip(sizes, codes)) != raw.size:
        raise ValueError(f"{where}: the file is corrupt (its guard tables do not agree)")
    out, pos = [], 0
    for s, c, n in zip(slots, codes, sizes):
        if int(S[s, S_DTYPE]) != c or int(S[s, S_NUMEL]) != n:
            raise ValueError(f"{where}: the file is corrupt (guard at v{s})")
        nb = n * np.dtype(_NP[c]).itemsize
        out.append((s, c, raw[pos:pos + nb].copy().view(_NP[c])))
        pos += nb
    return out
