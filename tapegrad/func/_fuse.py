"""Fusion: a replayed elementwise objective compiled into one loop over its elements.

A recording whose kept records are one chain of elementwise ops over m elements, reading
its inputs whole or through contiguous 1-D slices (`x[1:]`, `x[:-1]`), with one-element
inputs and constants broadcast, and ending in a `sum` or `mean` of all m elements (the
shape of most objectives an optimizer calls: Rosenbrock, a least-squares sum, a
likelihood term by term) is generated as Python source: one loop whose body is every
record's forward (the op table's scalar kernels, from tapegrad/tape/dispatch.py) followed
right away by every record's VJP in reverse order, the adjoints in locals. Values and
adjoints then live in registers, not arena regions: one pass over the inputs and the
gradients instead of one per record and direction (XLA fuses the same way). Rosenbrock at
n = 100,000 has 10 records: about 24 passes of 800 KB each become one.

The source is written to tapegrad's cache directory (TAPEGRAD_CACHE_DIR, else
~/.cache/tapegrad) under the hash of its text, and Numba compiles it once (cache=True)
for every later process; its text carries the kernels' stamp, so a kernel edit makes a
new file. A fused replay computes the same terms as the sweeps, but the sum runs in one
float64 accumulator in element order and each input element's adjoint takes its terms in
the loop's order: values and gradients equal the eager ones to rounding, not bit for bit.
Only float64 recordings without guards fuse: at their first replay from MIN_ELEMENTS
elements, and after LATE_CALLS replays from LATE_ELEMENTS (a compile, some 0.2 s the
first time in any process, pays only over many calls when the sweeps take microseconds).
"""

import hashlib
import importlib.util
import inspect
import os
import sys

import numpy as np

from ..ops import BY_CODE
from ..ops.spec import BINARY, COPY, LEAF, STRIDED, UNARY
from ..tape import notice
from ..tape.dispatch import OP_LEAF
from ..tape.records import (R_AUX, R_CONST, R_IN0, R_IN1, R_OP, R_OUT, S_DTYPE, S_FLAGS,
                            S_NUMEL, S_OFF, S_RG)
from ..tape.sweep import DISPATCH_STAMP
from ._plan import positions_read

MIN_ELEMENTS = 1 << 14   # fused at the first replay
LATE_ELEMENTS = 1 << 9   # fused after LATE_CALLS replays (an optimizer's loop)
LATE_CALLS = 200
FORMAT = 2  # of the generated files (part of their hash: a new format, new files)
_SUMS = {s.opcode: s.name for s in BY_CODE.values() if s.name in ("sum", "mean")}


def plan_fused(tape, rows, in_slots, out, guards, min_elements=MIN_ELEMENTS):
    """(source, constants, element count) of the fused replay of a recording, or None
    when it does not fuse (module docstring). `rows`: the kept records' indices; `out`:
    the output slot."""
    S, R = tape.S, tape.R
    if guards or int(S[out, S_DTYPE]) != 1 or tape.codes != 2 or S[out, S_NUMEL] != 1:
        return None
    numel, rg = S[:, S_NUMEL], S[:, S_FLAGS] & S_RG
    sizes = {int(numel[int(R[k, R_IN0])]) for k in rows.tolist() if int(R[k, R_OP]) in _SUMS}
    if len(sizes) != 1:
        return None
    (m,) = sizes
    if m < min_elements:
        return None
    inputs = {int(s): j for j, s in enumerate(in_slots)}
    RF = R.view(np.float64)
    consts = {}   # leaf slot (not an input) -> its value
    names = {}    # slot -> the expression of its element i (the loop's values)
    leaves = {}   # leaf slot -> its array's name
    scal = {}     # one-element slot -> its expression after the loop (leaves, sums, tail)
    body, steps = [], []  # the loop's forward lines; what its backward undoes, in order
    reds, tail = [], []   # (slot, summed slot, sum|mean); the scalar records after the loop
    for k in rows.tolist():
        r = R[k].tolist()
        op, o = r[R_OP], r[R_OUT]
        spec = BY_CODE[op]
        a = r[R_IN0]
        if op == OP_LEAF:
            leaves[o] = f"x{inputs[o]}" if o in inputs else f"c{len(consts)}"
            if o not in inputs:
                off = S.item(o, S_OFF)
                consts[o] = tape.A[1][off:off + numel[o]].copy()
            if numel[o] == 1:
                names[o] = scal[o] = f"{leaves[o]}[0]"
            elif numel[o] == m:
                names[o] = f"{leaves[o]}[i]"
            continue  # (other sizes: read through slices only)
        if op in _SUMS and numel[o] == 1 and numel[a] == m:
            if names.get(a) is None:
                return None
            reds.append((o, a, _SUMS[op]))
            scal[o] = f"t{o}"
            continue
        if spec.family == LEAF:
            return None  # (a detach, a fill)
        if numel[o] == 1 and numel[a] == 1 and spec.family in (UNARY, BINARY):
            ins = [a] if spec.family == UNARY else [a, r[R_IN1]]
            if any(scal.get(q) is None for q in ins):
                return None
            tail.append((o, ins, _params(spec, RF, k), spec))
            scal[o] = f"t{o}"
            continue
        if numel[o] != m:
            return None
        if spec.family in (STRIDED, COPY):
            if a in leaves:
                base = _offset(tape, k, a, m)
                if base is None:
                    return None
                names[o] = f"{leaves[a]}[i + {base}]"
                steps.append(("read", o, a, base))
            elif names.get(a) is not None and numel[a] == m and spec.family == COPY:
                names[o] = names[a]  # a reshape of an element-aligned value
                steps.append(("alias", o, a))
            else:
                return None
            continue
        if spec.family not in (UNARY, BINARY) or (spec.family == BINARY and r[R_AUX] >= 0):
            return None  # (a broadcast other than of one element)
        ins = [a] if spec.family == UNARY else [a, r[R_IN1]]
        if any(names.get(q) is None or (numel[q] == 1 and q not in leaves) for q in ins):
            return None
        c = _params(spec, RF, k)
        body.append(f"v{o} = {spec.name}_fwd({', '.join(names[q] for q in ins)}, {c})")
        names[o] = f"v{o}"
        steps.append(("op", o, ins, c, spec))
    if scal.get(out) is None or not reds:
        return None
    src = _source(steps, body, names, inputs, consts, rg, reds, tail, scal, out, m)
    return src, list(consts.values()), m


def _params(spec, RF, k):
    """A record's float parameters as source text: c, and c2 for a two-parameter unary."""
    c = _literal(RF[k, R_CONST])
    if takes_c2(spec):
        c += ", " + _literal(RF[k, R_AUX])
    return c


def takes_c2(spec):
    """Whether an op's scalar kernels take a second float parameter (a unary record keeps
    it in `aux`: clamp's max, softplus's threshold)."""
    return spec.family == UNARY and len(inspect.signature(spec.fwd).parameters) == 3


def _literal(v):
    """A float as source text (inf and nan as NumPy's names)."""
    v = float(v)
    if np.isfinite(v):
        return repr(v)
    return "np.nan" if np.isnan(v) else ("np.inf" if v > 0 else "-np.inf")


def _backward(steps, names, rg, adj, prefix, vals):
    """The VJP lines of `steps` in reverse: adjoints of slot s in locals `{prefix}{s}` (the
    first term assigns, later ones add); `adj` holds the slots seeded so far. A term for
    an input read through a slice adds into its gradient array."""
    lines, seen = [], set(adj)
    for st in reversed(steps):
        kind, o = st[0], st[1]
        if o not in seen:
            continue
        terms = []
        if kind == "op":
            _, o, ins, c, spec = st
            args = ", ".join(vals[q] for q in ins)
            terms = [(q, f"{spec.name}_vjp{j}({args}, {vals[o]}, {prefix}{o}, {c})")
                     for j, q in enumerate(ins) if rg[q]]
        elif kind == "alias":
            terms = [(st[2], f"{prefix}{o}")]
        elif st[3] is not None:  # a slice of an input
            terms = [(("g", st[2], st[3]), f"{prefix}{o}")]
        for target, term in terms:
            if isinstance(target, tuple):
                lines.append(f"g_{target[1]}[i + {target[2]}] += {term}")
            elif target in seen:
                lines.append(f"{prefix}{target} += {term}")
            else:
                seen.add(target)
                lines.append(f"{prefix}{target} = {term}")
    return lines, seen


def _source(steps, body, names, inputs, consts, rg, reds, tail, scal, out, m):
    """The generated module's text (see the module docstring)."""
    kernels = sorted({f"{st[4].name}_{x}" for st in steps + [("op",) + t for t in tail]
                      if st[0] == "op" for x in ["fwd"] + [f"vjp{j}" for j in range(len(st[2]))]})
    slots = sorted(inputs, key=inputs.get)
    xs, gs = [f"x{j}" for j in range(len(slots))], [f"g_{s}" for s in slots]
    cs = [f"c{j}" for j in range(len(consts))]
    steps = [st if st[0] != "read" or st[2] in inputs else st[:3] + (None,) for st in steps]
    out_lines = [f'"""Generated by tapegrad/func/_fuse.py: {len(reds)} reduction(s) over {m} '
                 'elements."""', f"# format {FORMAT}", "import numpy as np",
                 "from numba import njit",
                 f"from tapegrad.tape.dispatch import {', '.join(kernels)}",
                 f'STAMP = "{DISPATCH_STAMP}"', "", "",
                 '@njit(cache=True, error_model="numpy")',
                 f"def fused({', '.join(xs + cs + gs)}):"]
    emit = out_lines.append
    single = len(reds) == 1 and reds[0][0] == out
    scalars_in = [s for s in slots if names.get(s, "").endswith("[0]")]
    for s in scalars_in:
        emit(f"    s_{s} = 0.0")
    if not single:  # loop 1: the sums; then the scalar tail, forward and backward
        for o, _, _ in reds:
            emit(f"    t{o} = 0.0")
        emit(f"    for i in range({m}):")
        for b in body:
            emit("        " + b)
        for o, z, _ in reds:
            emit(f"        t{o} += {names[z]}")
        for o, _, kind in reds:
            if kind == "mean":
                emit(f"    t{o} = t{o} / {m}")
        for o, ins, c, spec in tail:
            emit(f"    t{o} = {spec.name}_fwd({', '.join(scal[q] for q in ins)}, {c})")
        tsteps = [("op", o, ins, c, spec) for o, ins, c, spec in tail]
        lines, seen = _backward(tsteps, scal, rg, {out}, "b", scal)
        emit(f"    b{out} = 1.0")
        for line in lines:
            emit("    " + line)
        seeds = {}
        for o, z, kind in reds:
            if o in seen:
                w = f"b{o}" if kind == "sum" else f"b{o} / {m}"
                seeds[z] = f"{seeds[z]} + {w}" if z in seeds else w
        for s in scalars_in:  # the tail's terms of one-element inputs
            if s in seen:
                emit(f"    g_{s}[0] += b{s}")
    else:
        o, z, kind = reds[0]
        emit(f"    t{o} = 0.0")
        seeds = {z: "1.0" if kind == "sum" else f"1.0 / {m}"}
    emit(f"    for i in range({m}):")  # the loop (again) with its backward
    for b in body:
        emit("        " + b)
    if single:
        emit(f"        t{reds[0][0]} += {names[reds[0][1]]}")
    vals = dict(names)
    for z, w in seeds.items():
        emit(f"        a{z} = {w}")
    lines, seen = _backward(steps, vals, rg, set(seeds), "a", vals)
    for line in lines:
        emit("        " + line)
    for s in slots:  # inputs read element by element, or one element
        if s in seen:
            emit(f"        s_{s} += a{s}" if s in scalars_in else f"        g_{s}[i] += a{s}")
    for s in scalars_in:
        emit(f"    g_{s}[0] += s_{s}")
    if single and reds[0][2] == "mean":
        emit(f"    t{out} = t{out} / {m}")
    emit(f"    return t{out}")
    return "\n".join(out_lines) + "\n"


def load_fused(source):
    """The compiled `fused` of a generated source (written once to the cache directory
    under its hash, compiled once by Numba and cached there), or None when the directory
    cannot be written."""
    module = load_module(source)
    return None if module is None else module.fused


def load_module(source):
    """The module of a generated source (see load_fused), or None."""
    key, root, path = _where(source)
    module = _LOADED.get(key)
    if module is not None:
        return module
    try:
        os.makedirs(root, exist_ok=True)
        if not os.path.exists(path):
            tmp = f"{path}.{os.getpid()}.tmp"
            with open(tmp, "w") as f:
                f.write(source)
            os.replace(tmp, path)  # (atomic: another process may write the same file)
    except OSError:
        return None
    name = f"tapegrad_fused_{key}"
    spec = importlib.util.spec_from_file_location(name, path)
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module  # (Numba's cache names the module; a later process finds it
    spec.loader.exec_module(module)  # here when it loads the compiled code)
    for name in ("fused", "rows"):
        if hasattr(module, name):
            notice.watch(getattr(module, name))
    _LOADED[key] = module
    return module


_LOADED = {}  # source hash -> generated module (this process)


def _where(source):
    """(hash, cache directory, file) of a generated source."""
    key = hashlib.sha256(source.encode()).hexdigest()[:20]
    root = os.environ.get("TAPEGRAD_CACHE_DIR") or os.path.join(
        os.path.expanduser("~"), ".cache", "tapegrad")
    return key, root, os.path.join(root, f"fused_{key}.py")


def is_cached(source):
    """True when this source was compiled before, in this process or an earlier one (its
    file is in the cache directory: loading it takes milliseconds, not a compile)."""
    key, _, path = _where(source)
    return key in _LOADED or os.path.exists(path)


def _offset(tape, k, a, m):
    """b when record k reads elements b, b+1, ..., b+m-1 of leaf a (in C order), else
    None."""
    got = positions_read(tape, k, a)
    base = int(got[0]) if m else 0
    return base if got.size == m and np.array_equal(got, base + np.arange(m)) else None
