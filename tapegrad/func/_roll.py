"""Loop rolling: a scalar program's repeating rows generated as compiled loops.

A scalar program (tapegrad/func/_plan.py) that came from a Python loop (an ODE's time
steps, a recurrence, a likelihood over observations written term by term) repeats: step
t+1 runs the same ops as step t on registers that moved by a fixed stride. This module
finds those runs and writes the program as Python source in which each run is one
`for t in range(K)` loop whose body is the period's rows, the registers `V[r0 + d*t]`,
each op's kernel from the op table written in place (its one `return` expression with
the arguments put in; a kernel of several statements is called by name from
tapegrad/tape/dispatch.py). Rows outside any run (a prologue, the loss after the loop)
are handed to the interpreter's row loops (`forward_rows`, `reverse_rows`).

What the interpreter (`scalar_replay`) decides per row at run time (the row's kind, its
opcode, where its registers are) is then decided once, by Numba: no switch, no row loads,
terms for inputs that need no gradient (the interpreter's sink register) not computed at
all. The rows run in the program's order with the same kernels and the same types, so
values and gradients are the interpreter's bit for bit (a test pins it). The
Lotka-Volterra replay (22,016 rows) goes from about 80 to 12 us a call.

A run is found greedily from each row: periods up to MAX_PERIOD rows in which the rows'
(kind, opcode) repeat and every register column is affine in t; a float parameter that
changes from step to step (a time `t*dt` baked into each step) is read from the program's
parameter array instead of written as a literal. A program is rolled when it has at
least MIN_ROWS rows, at least half of them and all but MAX_ALONE in runs (which also
bounds the planning's work: a program that does not repeat is given up on early). The generated file is compiled once
and cached like a fused loop (tapegrad/func/_fuse.py: `load_fused`): a first compile
costs about 0.5 s, so an interpreted program rolls once its replays have cost about
BUDGET seconds (`due_calls`), or at replay LATE_CALLS when the compiled loops are in the
cache already (an earlier process compiled them: loading takes milliseconds).
"""

import ast
import inspect
import re
import textwrap

import numpy as np

from ..ops import BY_CODE
from ..tape.sweep import DISPATCH_STAMP
from ._fuse import _literal, takes_c2
from ._scalar import K_BINARY, K_UNARY

MIN_ROWS = 512       # forward and reverse rows together; fewer run in a few microseconds
MAX_PERIOD = 256     # rows in one period
MIN_REPS = 3         # periods that make a run
MAX_ALONE = 1000     # rows outside runs (forward and reverse) before planning gives up
MAX_TRIED = 8        # periods tried in full from one row (each can cost a read of the run)
NS_PER_ROW = 3.5     # the interpreter's time per row (the Lotka-Volterra replay, 2-core EPYC)
BUDGET = 0.25        # seconds of interpreted replays before a first compile (~1 s) is paid
LATE_CALLS = 200     # replays before a program whose loops are in the cache is rolled
FORMAT = 2           # of the generated files (part of their hash)

__all__ = ["MIN_ROWS", "due_calls", "plan_rolled", "runs"]


def runs(sig, regs, max_straight=None):
    """The rows as segments (start, period, count): `count` periods of `period` rows from
    `start`, or (start, 1, 1) for a row on its own. `sig` holds one integer per row (what
    must repeat), `regs` the register columns (which must be affine in the period's
    index). None when more than `max_straight` rows stand alone."""
    n = len(sig)
    out, alone, i = [], 0, 0
    while i < n:
        best = None  # (rows covered, period, count)
        window = sig[i + 1:i + 1 + min(MAX_PERIOD, (n - i) // MIN_REPS)]
        tried = 0
        for p in (np.flatnonzero(window == sig[i]) + 1).tolist():
            if tried == MAX_TRIED:
                break
            if not np.array_equal(sig[i:i + p], sig[i + p:i + 2 * p]):
                continue
            tried += 1
            k = _repeats(sig, i, p)
            if k < MIN_REPS or (best is not None and k * p <= best[0]):
                continue
            k = _affine_count(regs, i, p, k)
            if k >= MIN_REPS and (best is None or k * p > best[0]):
                best = (k * p, p, k)
        if best is None:
            out.append((i, 1, 1))
            alone += 1
            if max_straight is not None and alone > max_straight:
                return None
            i += 1
        else:
            out.append((i, best[1], best[2]))
            i += best[0]
    return out


def _repeats(sig, i, p):
    """How many periods of p rows from row i the signature repeats, looked at in chunks
    that double (a near miss costs what it reads, not the rest of the program)."""
    n, end, chunk = len(sig), i + p, 64 * p
    while end < n:
        hi = min(n, end + chunk)
        bad = np.flatnonzero(sig[end:hi] != sig[end - p:hi - p])
        if bad.size:
            return (end + int(bad[0]) - i) // p
        end, chunk = hi, 2 * chunk
    return (n - i) // p


def _affine_count(regs, i, p, k):
    """How many of the k periods of p rows from row i have register columns that follow
    the first period's plus t times (second - first), looked at in doubling chunks."""
    M0 = regs[i:i + p]
    d = regs[i + p:i + 2 * p] - M0
    t0, chunk = 0, 8
    while t0 < k:
        t1 = min(k, t0 + chunk)
        M = regs[i + t0 * p:i + t1 * p].reshape(t1 - t0, p, -1)
        t = np.arange(t0, t1).reshape(-1, 1, 1)
        bad = np.flatnonzero((M != M0 + t * d).any(axis=(1, 2)))
        if bad.size:
            return t0 + int(bad[0])
        t0, chunk = t1, 2 * chunk
    return k


def due_calls(prog):
    """The replay after which ScalarProgram `prog` is rolled when its loops must be
    compiled: once the interpreted replays have cost about BUDGET seconds."""
    rows = len(prog.F) + len(prog.B)
    return max(LATE_CALLS, int(np.ceil(BUDGET / (rows * NS_PER_ROW * 1e-9))))


def plan_rolled(prog):
    """(the generated source of ScalarProgram `prog` rolled, a line for the tape's
    listing), or None when it is too small or repeats too little (module docstring)."""
    F, B = prog.F, prog.B
    n = len(F) + len(B)
    if n < MIN_ROWS:
        return None
    limit = min(n // 2, MAX_ALONE)
    fr = runs(_signature(F[:, :2]), F[:, 2:], limit)
    if fr is None:
        return None
    br = runs(_signature(B[:, :2]), B[:, 2:], limit - _alone(fr))
    if br is None:
        return None
    sink = prog.nclear - 1
    body = ['@njit(cache=True, nogil=True, error_model="numpy")',
            "def fused(F, FC, B, BC, V, G):",
            f"    G[:{prog.nclear}] = 0",
            "    z = F.shape[0] * 0  # (literal bounds would compile the row loops again)"]
    _segments(body, F, prog.FC, "FC", fr, _forward_row, "forward_rows(F, FC, V, z + {}, z + {})")
    body.append(f"    G[{prog.root}] += 1.0")
    _segments(body, B, prog.BC, "BC", br, lambda *a: _reverse_row(*a, sink=sink),
              "reverse_rows(B, BC, V, G, z + {}, z + {})")
    body.append("    return 0")
    body += ["", "", '@njit(cache=True, nogil=True, error_model="numpy")',
             "def rows(F, FC, B, BC, V, G, X, out, guards, want, OUT, ok, lo, hi):",
             "    for r in range(lo, hi):  # (tapegrad/func/_scalar.py: scalar_rows)",
             "        row_in(V, X, r)",
             "        fused(F, FC, B, BC, V, G)",
             "        row_out(V, G, X, r, out, guards, want, OUT, ok)",
             "    return 0"]
    kernels = sorted(set(re.findall(r"\b(\w+_(?:fwd|vjp\d))\(", "\n".join(body))))
    head = ['"""Generated by tapegrad/func/_roll.py: a scalar program, its repeating rows as '
            'loops."""', f"# format {FORMAT}", "import math", "", "import numpy as np",
            "from numba import njit", "",
            "from tapegrad.func._scalar import forward_rows, reverse_rows, row_in, row_out"]
    if kernels:
        head.append(f"from tapegrad.tape.dispatch import {', '.join(kernels)}")
    head += [f'STAMP = "{DISPATCH_STAMP}"', "", ""]
    loops = [s for s in fr + br if s[2] > 1]
    rolled = sum(p * k for _, p, k in loops)
    line = (f"-- rolled (tapegrad/func/_roll.py): {rolled:,} of {n:,} rows in {len(loops)} "
            f"compiled loop(s) (periods of {', '.join(str(p) for _, p, _ in loops)} rows); "
            f"{n - rolled:,} interpreted")
    return "\n".join(head + body) + "\n", line


def _alone(segments):
    return sum(1 for s in segments if s[2] == 1)


def _signature(cols):
    """One integer per row of (kind, opcode) columns."""
    return cols[:, 0] * 4096 + cols[:, 1]


def _segments(lines, rows, consts, cname, segments, emit, interpret):
    """The lines of the segments: a loop over each run's periods; rows on their own (a
    prologue, a loss after the loop) by the interpreter, consecutive ones in one call."""
    lo = None
    for start, p, k in segments + [(len(rows), 0, 0)]:
        if k == 1:
            lo = start if lo is None else lo
            continue
        if lo is not None:
            lines.append("    " + interpret.format(lo, start))
            lo = None
        if k == 0:
            break
        lines.append(f"    for t in range({k}):")
        for j in range(p):
            first, second = rows[start + j], rows[start + p + j]
            cols = [_index(int(a), int(b) - int(a)) for a, b in zip(first, second)]
            emit(lines, "        ", first, cols,
                 _params(first, consts[start + j:start + j + k * p:p], cname, start + j, p))


def _index(r0, d):
    """A register's index in a loop: r0 + d*t."""
    return str(r0) if d == 0 else f"{r0} + {d} * t"


def _params(row, values, cname, first, p):
    """A row's float parameters as source: literals when every period has the same, else
    reads of the parameter array (column 0 and, for a two-parameter kernel, 1)."""
    values = np.asarray(values, np.float64).reshape(-1, 2)
    out = []
    for c in range(2 if takes_c2(BY_CODE[int(row[1])]) else 1):
        col = values[:, c]
        if np.array_equal(col.view(np.int64), np.full(col.size, col.view(np.int64)[0])):
            out.append(_literal(col[0]))
        else:
            out.append(f"{cname}[{first} + {p} * t, {c}]")
    return out


def _forward_row(lines, pad, row, cols, params):
    kind, spec = int(row[0]), BY_CODE[int(row[1])]
    o, a, b = cols[2], cols[3], cols[4]
    if kind == K_UNARY:
        lines.append(f"{pad}x_ = V[{a}]")
        lines.append(f"{pad}V[{o}] = {_kernel(spec, 'fwd', ['x_'], params)}")
    elif kind == K_BINARY:
        lines.append(f"{pad}x_, w_ = V[{a}], V[{b}]")
        lines.append(f"{pad}V[{o}] = {_kernel(spec, 'fwd', ['x_', 'w_'], params)}")
    else:
        lines.append(f"{pad}V[{o}] = V[{a}]")


def _reverse_row(lines, pad, row, cols, params, sink):
    kind, spec = int(row[0]), BY_CODE[int(row[1])]
    o, a, b, go = cols[2], cols[3], cols[4], cols[5]
    targets = [(j, cols[6 + j]) for j in range(2 if kind == K_BINARY else 1)
               if not (int(row[6 + j]) == sink and cols[6 + j] == str(sink))]
    lines.append(f"{pad}g = G[{go}]")
    lines.append(f"{pad}G[{go}] = 0")
    if targets and kind == K_UNARY:
        lines.append(f"{pad}x_, y_ = V[{a}], V[{o}]")
    elif targets and kind == K_BINARY:
        lines.append(f"{pad}x_, w_, y_ = V[{a}], V[{b}], V[{o}]")
    for j, target in targets:
        if kind == K_UNARY:
            term = _kernel(spec, "vjp0", ["x_", "y_", "g"], params)
        elif kind == K_BINARY:
            term = _kernel(spec, f"vjp{j}", ["x_", "w_", "y_", "g"], params)
        else:
            term = "g"
        lines.append(f"{pad}G[{target}] += {term}")


def _kernel(spec, which, args, params):
    """A kernel applied to `args` and the float parameters `params` (source text): its
    `return` expression with the arguments put in, when its body is that one expression
    over its parameters, NumPy and math (most kernels: Numba then types a few operations,
    not a call); else a call of the kernel (tapegrad/tape/dispatch.py)."""
    fn = spec.fwd if which == "fwd" else spec.vjp[int(which[3:])]
    allargs = args + params
    parsed = _PARSED.get(fn)
    if parsed is None:
        parsed = _PARSED[fn] = _parse(fn)
    if not parsed:
        return f"{spec.name}_{which}({', '.join(allargs)})"
    names, expr = parsed
    put = {n: ast.parse(a, mode="eval").body for n, a in zip(names, allargs)}

    class Put(ast.NodeTransformer):
        def visit_Name(self, node):
            return put.get(node.id, node)
    return "(" + ast.unparse(Put().visit(ast.parse(expr, mode="eval")).body) + ")"


def _parse(fn):
    """(parameter names, the `return` expression's text) of a one-expression kernel over
    its parameters, np and math; () for any other."""
    tree = ast.parse(textwrap.dedent(inspect.getsource(fn))).body[0]
    body = [b for b in tree.body
            if not (isinstance(b, ast.Expr) and isinstance(b.value, ast.Constant))]
    names = [a.arg for a in tree.args.args]
    if len(body) != 1 or not isinstance(body[0], ast.Return) or body[0].value is None:
        return ()
    used = {n.id for n in ast.walk(body[0].value) if isinstance(n, ast.Name)}
    if not used <= set(names) | {"np", "math"}:
        return ()
    return names, ast.unparse(body[0].value)


_PARSED = {}  # kernel -> _parse(kernel)
