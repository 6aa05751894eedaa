"""Random programs built from the op table, as data, for tests/test_fuzz.py.

A program is a list of steps; each step is a Python expression over earlier values
(`v0`, `v1`, ...; the first 1-3 are float64 leaves), constants (`C0`, ...) and the module
`torch`, or a few statements that assign the step's value (`{out}`). The same text runs
with `import tapegrad as torch` and with PyTorch, so a failing program prints as a runnable
script (`repr(program)`); every step also has a NumPy reference that the generator uses to
know the values it builds on:

- elementwise ops (the UNARY and BINARY rows of the table) only see values inside their
  row's `domain`; a value outside it is first squashed into it (tanh/sigmoid/atan/sin, then
  an affine map: more steps of the program);
- relu/abs/sign/maximum/minimum never see a value within MARGIN of their kink (a shift
  by a small constant is inserted), so central differences are valid;
- no value has more than CAP elements or none;
- the program ends in `loss = (result * P).sum()` with a fixed random projection P.

Autograd semantics (the "autograd" flavor; "mixed" draws them too). The gradient they
define is PyTorch's, and the NumPy reference (`run_numpy`) computes it by central
differences of a program in which some reads are held at the unperturbed point:

- `frozen` input positions of a step are read through `.detach()`, `.data`,
  `torch.detach(...)` (or are a `where` condition): in a perturbed run they read the value
  at the base point (`v3 = v1.detach() * v2`; straight-through `v2 - v2.detach() +
  torch.sign(v2).detach()`);
- a `stop` step's whole value is a constant: `(expr).detach()`, `nograd(lambda: expr)`,
  `with torch.no_grad(): ...`; its value has requires_grad False;
- in-place statements on a non-leaf clone (`v5 = v4.clone(); v5.add_(v2)`, `mul_`, `+=`,
  `v5[idx] = v2`, `clamp_`, `copy_`, `masked_fill_`, `index_put_`, `fill_`), sometimes after
  an op read the old value or after `retain_grad()`;
- `retain` steps call `.retain_grad()`; their `.grad` is checked against differences of
  the loss in that value, injected (`run_numpy(inject=...)`);
- indexing with Python lists and `range` objects (`v2[[0, 2]]`, `v3[range(2), [1, 0]]`);
- `in_thread(lambda: expr)` builds a graph from the leaves in a worker thread and runs its
  backward there (an `extra` step: its scalar value, a constant for the main thread, adds
  to the objective whose gradient the leaves' .grad must hold after the main backward);
- `pause` steps make the reverse sweep stop for Python: `scaled(v2, 1.5)` is a custom
  `autograd.Function` (x * s, backward g * s), `hooked(v2)` registers a tensor hook on
  its input that hands on a fresh copy of the gradient, then returns `v2 * 1.0`.
"""

import math
import threading
from dataclasses import dataclass, field

import numpy as np
from hypothesis import strategies as st
from scipy import special

from tapegrad.ops import OPS
from tapegrad.ops.spec import BINARY, UNARY

CAP = 48          # most elements any value may have
MARGIN = 1e-3     # least distance from a kink (relu/abs/sign at 0, maximum/minimum ties)
LEAF_NUMEL = 24   # most elements of a leaf (finite differences cost 2 runs per element)

# ---- the elementwise rows of the table, with a NumPy reference each --------------------
NP_UNARY = {
    "neg": np.negative, "exp": np.exp, "log": np.log, "sqrt": np.sqrt, "sin": np.sin,
    "cos": np.cos, "tanh": np.tanh, "sigmoid": lambda x: 1 / (1 + np.exp(-x)),
    "relu": lambda x: np.where(x > 0, x, 0.0), "abs": np.abs, "log1p": np.log1p,
    "expm1": np.expm1, "log2": np.log2, "log10": np.log10, "tan": np.tan, "sinh": np.sinh,
    "cosh": np.cosh, "asin": np.arcsin, "acos": np.arccos, "atan": np.arctan,
    "erf": special.erf, "rsqrt": lambda x: 1 / np.sqrt(x), "sign": np.sign,
    "reciprocal": lambda x: 1 / x,
}
NP_BINARY = {
    "add": np.add, "sub": np.subtract, "mul": np.multiply, "div": np.divide,
    "pow": np.power, "atan2": np.arctan2, "maximum": np.maximum, "minimum": np.minimum,
}
KINKED = {"relu", "abs", "sign", "maximum", "minimum"}
# entire functions whose row domain is only the default: keep their inputs moderate instead
LINEAR = {"neg", "add", "sub", "mul", "add_scalar", "sub_scalar", "rsub_scalar", "mul_scalar",
          "div_scalar"}
ROWS = {s.name: s for s in OPS}
UNARY_OPS = sorted(s.name for s in OPS if s.family == UNARY and not s.name.endswith("_scalar")
                   and s.name in NP_UNARY)
BINARY_OPS = sorted(s.name for s in OPS if s.family == BINARY and s.name in NP_BINARY)
UNCOVERED = sorted(s.name for s in OPS if s.family in (UNARY, BINARY)
                   and not s.name.endswith("_scalar") and s.name not in NP_UNARY
                   and s.name not in NP_BINARY)
BINARY_SYMBOL = {"add": "+", "sub": "-", "mul": "*", "div": "/", "pow": "**"}
# tensor (op) python scalar: (expression template, row, NumPy reference)
SCALAR_FORMS = {
    "add": ("{x} + {c}", "add_scalar", lambda x, c: x + c),
    "radd": ("{c} + {x}", "add_scalar", lambda x, c: c + x),
    "sub": ("{x} - {c}", "sub_scalar", lambda x, c: x - c),
    "rsub": ("{c} - {x}", "rsub_scalar", lambda x, c: c - x),
    "mul": ("{x} * {c}", "mul_scalar", lambda x, c: x * c),
    "rmul": ("{c} * {x}", "mul_scalar", lambda x, c: c * x),
    "div": ("{x} / {c}", "div_scalar", lambda x, c: x / c),
    "rdiv": ("{c} / {x}", "reciprocal", lambda x, c: c / x),
    "pow": ("{x} ** {c}", "pow_scalar", lambda x, c: x**c),
    "rpow": ("{c} ** {x}", "rpow_scalar", lambda x, c: c**x),
}
SCALARS = {"add": (1.5, -0.25, 2), "radd": (0.75, -1), "sub": (1.5, 0.5, 3), "rsub": (1.5, 1, -0.5),
           "mul": (-1.5, 0.5, 2, 3), "rmul": (2.5, -1), "div": (0.7, -2, 4), "rdiv": (1.0, -2.5, 3),
           "pow": (2, 2.5, 0.5, 3, 1, 0, -1.5), "rpow": (1.7, 0.5, 2, 3.0)}
ALPHAS = (2, -0.5, 1.5, 1)


def _fmt(c):
    return repr(c) if c >= 0 else f"({c!r})"


@dataclass
class Step:
    src: str          # expression, or statements assigning {out}; {0}, {1} name the inputs
    ins: tuple        # input value indices (one value may fill several positions)
    ref: object       # NumPy reference: f(*input arrays) -> array
    helper: bool = False  # inserted to keep a later op in its domain / off its kink
    frozen: frozenset = frozenset()  # input positions that are constants for gradients
    stop: bool = False    # the value is a constant for gradients (no_grad, detached result)
    extra: bool = False   # a worker thread's loss, already backwarded: adds to the objective
    retain: bool = False  # the statements call retain_grad() on the value

    @property
    def statement(self):
        return "{out}" in self.src

    def code(self, k):
        """The step's statements, assigning value k."""
        names = [f"v{i}" for i in self.ins]
        if self.statement:
            return self.src.format(*names, out=f"v{k}")
        return f"v{k} = " + self.src.format(*names)

    def expr(self):
        return self.src.format(*(f"v{i}" for i in self.ins), out="{out}")


HELPERS = {
    "setitem": '''
def setitem(x, index, value):  # x with x[index] = value, as an expression
    x = x.clone()
    x[index] = value
    return x
''',
    "nograd": '''
def nograd(fn):  # fn() under no_grad, as an expression
    with torch.no_grad():
        return fn()
''',
    "in_thread": '''
def in_thread(fn):  # fn()'s graph is built and backwarded in a worker thread; its value
    box = []

    def work():
        try:
            y = fn()
            y.backward()
            box.append(y.item())
        except BaseException as e:  # re-raised in the calling thread
            box.append(e)

    t = threading.Thread(target=work)
    t.start()
    t.join()
    if isinstance(box[0], BaseException):
        raise box[0]
    return torch.tensor(box[0], dtype=torch.float64)
''',
    "scaled": '''
class _Scale(torch.autograd.Function):  # y = x * s, backward g * s: the sweep pauses here
    @staticmethod
    def forward(ctx, x, s):
        ctx.s = s
        return x * s

    @staticmethod
    def backward(ctx, g):
        return g * ctx.s, None


def scaled(x, s):
    return _Scale.apply(x, s)
''',
    "hooked": '''
def hooked(x):  # a hook on x hands on a fresh copy of its gradient; a new value x * 1.0
    if x.requires_grad:
        x.register_hook(lambda g: g * 1.0)
    return x * 1.0
''',
}
_HELPERS_CODE = compile("".join(HELPERS.values()), "<fuzz helpers>", "exec")


@dataclass
class Program:
    leaves: list                  # float64 arrays
    consts: list = field(default_factory=list)   # float64 arrays, named C0, C1, ...
    steps: list = field(default_factory=list)    # value k = len(leaves) + step index
    result: int = -1              # the values the loss projects

    def lines(self, module="tapegrad"):
        used = [h for h in HELPERS if any(h + "(" in s.src for s in self.steps)]
        out = ["import numpy as np"] + (["import threading"] if "in_thread" in used else [])
        out += [f"import {module} as torch", ""]
        out += [HELPERS[h].strip() + "\n" for h in used]
        for k, c in enumerate(self.consts):
            out.append(f"C{k} = np.array({c.tolist()!r})")
        for k, a in enumerate(self.leaves):
            out.append(f"v{k} = torch.tensor({a.tolist()!r}, dtype=torch.float64, "
                       "requires_grad=True)")
        n = len(self.leaves)
        for k, s in enumerate(self.steps):
            out.extend(s.code(n + k).split("\n"))
        out.append(f"loss = v{n + len(self.steps) - 1}")
        out.append("loss.backward()")
        shown = [f"v{k}.grad" for k in range(n)] + [f"v{k}.grad" for k in self.retained]
        out.append("print(loss.item(), " + ", ".join(shown) + ")")
        return out

    def __repr__(self):
        return "\n" + "\n".join(self.lines()) + "\n"

    def _repr_pretty_(self, p, cycle):  # how hypothesis prints a falsifying example
        p.text(repr(self))

    @property
    def nops(self):
        return len(self.steps)

    @property
    def retained(self):
        n = len(self.leaves)
        return [n + k for k, s in enumerate(self.steps) if s.retain]

    @property
    def extras(self):
        n = len(self.leaves)
        return [n + k for k, s in enumerate(self.steps) if s.extra]


def expected_requires_grad(program):
    """PyTorch's requires_grad of every value: a leaf's is True; a step's is True when it
    reads a value that requires grad at a position that is not frozen, unless it stops."""
    rg = [True] * len(program.leaves)
    for s in program.steps:
        rg.append(not s.stop and any(rg[i] for p, i in enumerate(s.ins) if p not in s.frozen))
    return rg


# ---- interpretation -----------------------------------------------------------------------
_CODE = {}


def _code(src):
    c = _CODE.get(src)
    if c is None:
        c = _CODE[src] = compile(src, "<fuzz step>", "exec")
    return c


def run(program, lib, leaves):
    """Run `program` with module `lib` (tapegrad or torch) on leaf tensors; all values."""
    env = {"torch": lib, "abs": abs, "threading": threading, "range": range}
    exec(_HELPERS_CODE, env)
    for k, c in enumerate(program.consts):
        env[f"C{k}"] = c
    vals = list(leaves)
    for k, v in enumerate(leaves):
        env[f"v{k}"] = v
    for s in program.steps:
        k = len(vals)
        exec(_code(s.code(k)), env)
        vals.append(env[f"v{k}"])
    return vals


def run_numpy(program, leaves=None, base=None, inject=None):
    """The values by the NumPy references. With `base` (the values at the unperturbed
    leaves), frozen reads and stop steps take their base value, as PyTorch's gradient sees
    them; `inject` {k: array} replaces value k (to differentiate in an intermediate)."""
    vals = [np.asarray(a, np.float64) for a in (leaves if leaves is not None else program.leaves)]
    seen = list(vals)  # what later steps read
    for s in program.steps:
        if base is None:
            args = [seen[i] for i in s.ins]
        else:
            args = [base[i] if p in s.frozen else seen[i] for p, i in enumerate(s.ins)]
        v = np.asarray(s.ref(*args), np.float64)
        if inject is not None and len(vals) in inject:
            v = inject[len(vals)]
        seen.append(base[len(vals)] if base is not None and s.stop else v)
        vals.append(v)
    return vals


def objective(program, vals):
    """What the leaves' .grad differentiates: the loss plus the worker threads' losses."""
    return float(vals[-1]) + sum(float(vals[k]) for k in program.extras)


# ---- generation ---------------------------------------------------------------------------
class _Reject(Exception):
    """This step does not fit the value it drew; the generator draws another."""


def _prime_factors(n):
    out, p = [], 2
    while n > 1:
        while n % p == 0:
            out.append(p)
            n //= p
        p += 1
    return out


def _neg_dim(draw, d, nd):
    return d - nd if nd and draw(st.booleans()) else d


def _fmt_index(idx):
    parts = []
    for i in idx:
        if i is None:
            parts.append("None")
        elif i is Ellipsis:
            parts.append("...")
        elif isinstance(i, slice):
            a = "" if i.start is None else str(i.start)
            b = "" if i.stop is None else str(i.stop)
            parts.append(f"{a}:{b}" + ("" if i.step is None else f":{i.step}"))
        else:
            parts.append(str(i))
    return ", ".join(parts) if len(parts) != 1 or idx[0] is None or idx[0] is Ellipsis \
        else parts[0]


class Builder:
    def __init__(self, draw, leaves, rng):
        self.draw, self.rng = draw, rng
        self.p = Program(leaves=leaves)
        self.vals = [np.asarray(a) for a in leaves]
        # is the value certainly contiguous in PyTorch (so that .view() works on it)?
        self.contig = [True] * len(leaves)
        self.rg = [True] * len(leaves)  # does the value require grad (PyTorch's rule)?

    # -- bookkeeping
    def add(self, src, ins, ref, helper=False, contig=None, frozen=(), stop=False,
            extra=False):
        try:
            v = np.asarray(ref(*(self.vals[i] for i in ins)), np.float64)
        except (IndexError, ValueError) as e:  # a generator slip: draw another step
            raise _Reject from e
        if v.size == 0 or v.size > CAP or not np.all(np.isfinite(v)):
            raise _Reject
        self.p.steps.append(Step(src, tuple(ins), ref, helper, frozenset(frozen), stop, extra))
        self.vals.append(v)
        self.contig.append(all(self.contig[i] for i in ins) if contig is None else contig)
        self.rg.append(False)
        self.restep()
        return len(self.vals) - 1

    def restep(self):
        """Recompute the last value's requires_grad (after a wrapper changed its step)."""
        s = self.p.steps[-1]
        self.rg[-1] = not s.stop and any(self.rg[i] for p, i in enumerate(s.ins)
                                         if p not in s.frozen)

    def truncate(self, nsteps):
        """Forget the steps from `nsteps` on (a rejected draw)."""
        del self.p.steps[nsteps:]
        n = len(self.p.leaves) + nsteps
        del self.vals[n:], self.contig[n:], self.rg[n:]

    def const(self, shape):
        k = len(self.p.consts)
        self.p.consts.append(np.round(self.rng.uniform(-1.5, 1.5, shape), 3))
        c = self.p.consts[k]
        return self.add(f"torch.tensor(C{k}, dtype=torch.float64)", (), lambda: c, helper=True)

    def pick(self):
        """An earlier value; shrinks towards the most recent one."""
        return len(self.vals) - 1 - self.draw(st.integers(0, len(self.vals) - 1))

    # -- safety rails
    def bounded(self, i, bound):
        """v_i scaled by a power of 2 so that |v| <= bound."""
        m = float(np.max(np.abs(self.vals[i])))
        if m <= bound:
            return i
        s = 2.0 ** -math.ceil(math.log2(m / bound))
        return self.add("{0} * " + repr(s), (i,), lambda x: x * s, helper=True)

    def in_domain(self, i, lo, hi):
        v = self.vals[i]
        if v.min() >= lo and v.max() <= hi:
            return i
        i = self.bounded(i, 2.0)
        how = self.draw(st.sampled_from(["tanh", "sigmoid", "atan", "sin"]))
        lo1, hi1 = lo + 0.05 * (hi - lo), hi - 0.05 * (hi - lo)
        if how == "sigmoid":
            i = self.add("torch.sigmoid({0})", (i,), NP_UNARY["sigmoid"], helper=True)
            a, b = lo1, hi1 - lo1
        else:
            i = self.add(f"torch.{how}({{0}})", (i,), NP_UNARY[how], helper=True)
            r = 1.0 if how != "atan" else math.pi / 2
            a, b = (lo1 + hi1) / 2, (hi1 - lo1) / 2 / r
        b = float(np.round(b, 6))
        a = float(np.round(a, 6))
        i = self.add("{0} * " + _fmt(b), (i,), lambda x: x * b, helper=True)
        if a != 0:
            i = self.add("{0} + " + _fmt(a), (i,), lambda x: x + a, helper=True)
        return i

    def off_kink(self, i, other=None):
        """v_i shifted by a small constant so that it is MARGIN away from 0 (or from v_other)."""
        ref = 0.0 if other is None else self.vals[other]
        d = self.vals[i] - ref
        if np.min(np.abs(d)) >= MARGIN:
            return i
        for k in range(1, 200):
            for c in (0.0037 * k, -0.0037 * k):
                if np.min(np.abs(d + c)) >= MARGIN:
                    c = float(np.round(c, 4))
                    return self.add("{0} + " + _fmt(c), (i,), lambda x, c=c: x + c, helper=True)
        raise _Reject

    def ready(self, i, name):
        """v_i made fit for elementwise op `name` (its row's domain)."""
        if name in LINEAR:
            return self.bounded(i, 8.0)
        return self.in_domain(i, *ROWS[name].domain)

    def broadcastable(self, j, shape):
        """v_j, its dims that clash with `shape` averaged away (keepdim)."""
        sj = self.vals[j].shape
        n = min(len(sj), len(shape))
        clash = [len(sj) - 1 - t for t in range(n)
                 if sj[-1 - t] != shape[-1 - t] and sj[-1 - t] != 1 and shape[-1 - t] != 1]
        if not clash:
            return j
        dims = tuple(sorted(clash))
        return self.add(f"{{0}}.mean({dims!r}, keepdim=True)", (j,),
                        lambda x: x.mean(axis=dims, keepdims=True), helper=True)

    # -- the op kinds
    def unary(self):
        name = self.draw(st.sampled_from(UNARY_OPS))
        i = self.ready(self.pick(), name)
        if name in KINKED:
            i = self.off_kink(i)
        form = self.draw(st.sampled_from(["fn", "method"] + (["op"] if name in ("neg", "abs")
                                                               else [])))
        src = {"fn": f"torch.{name}({{0}})", "method": f"{{0}}.{name}()",
               "op": "-{0}" if name == "neg" else "abs({0})"}[form]
        if name == "reciprocal" and form == "fn":
            src = "torch.reciprocal({0})"
        return self.add(src, (i,), NP_UNARY[name])

    def scalar(self):
        form = self.draw(st.sampled_from(sorted(SCALAR_FORMS)))
        c = self.draw(st.sampled_from(SCALARS[form]))
        tmpl, row, ref = SCALAR_FORMS[form]
        i = self.pick()
        if form == "pow" and float(c).is_integer() and c >= 0:
            i = self.bounded(i, 2.0)
        else:
            i = self.ready(i, row)
        return self.add(tmpl.format(x="{0}", c=_fmt(c)), (i,), lambda x: ref(x, c))

    def binary(self):
        name = self.draw(st.sampled_from(BINARY_OPS))
        i = self.pick()
        partner = self.draw(st.sampled_from(["value", "value", "self", "const"]))
        if partner == "self":
            j = i
        elif partner == "const":
            sh = self.vals[i].shape
            keep = [d if self.draw(st.booleans()) else 1 for d in sh]
            lead = self.draw(st.integers(0, len(keep)))
            j = self.const(tuple(keep[lead:]))
        else:
            j = self.broadcastable(self.pick(), self.vals[i].shape)
        if self.draw(st.booleans()):
            i, j = j, i
        i, j = self.ready(i, name), (self.ready(j, name) if j != i else None)
        j = i if j is None else j
        if name in KINKED:
            j = self.off_kink(j, i)
        forms = ["fn", "method"]
        if name in BINARY_SYMBOL:
            forms.append("op")
        if name in ("add", "sub"):
            forms.append("alpha")
        form = self.draw(st.sampled_from(forms))
        if form == "op":
            src = f"{{0}} {BINARY_SYMBOL[name]} {{1}}"
            ref = NP_BINARY[name]
        elif form == "alpha":
            al = self.draw(st.sampled_from(ALPHAS))
            src = f"{{0}}.{name}({{1}}, alpha={al!r})" if self.draw(st.booleans()) else \
                f"torch.{name}({{0}}, {{1}}, alpha={al!r})"
            ref = (lambda a, b: a + al * b) if name == "add" else (lambda a, b: a - al * b)
        else:
            src = f"torch.{name}({{0}}, {{1}})" if form == "fn" else f"{{0}}.{name}({{1}})"
            ref = NP_BINARY[name]
        return self.add(src, (i, j), ref)

    def reduce(self):
        name = self.draw(st.sampled_from(["sum", "mean"]))
        i = self.pick()
        nd = self.vals[i].ndim
        how = self.draw(st.sampled_from(["all", "int", "tuple"]))
        keep = self.draw(st.booleans())
        npf = np.sum if name == "sum" else np.mean
        if how == "all" or nd == 0:
            if how == "all" and not keep:
                src = self.draw(st.sampled_from([f"{{0}}.{name}()", f"torch.{name}({{0}})"]))
                return self.add(src, (i,), lambda x: npf(x))
            if nd == 0:  # a 0-d tensor takes dim 0 or -1
                d = self.draw(st.sampled_from([0, -1]))
                return self.add(f"{{0}}.{name}({d}, keepdim={keep})", (i,), lambda x: npf(x))
            return self.add(f"{{0}}.{name}(dim=None, keepdim=True)", (i,),
                            lambda x: npf(x, keepdims=True))
        if how == "int":
            d = self.draw(st.integers(0, nd - 1))
            dim = _neg_dim(self.draw, d, nd)
            axes = (d,)
        else:
            axes = tuple(sorted(self.draw(st.sets(st.integers(0, nd - 1), min_size=1))))
            dim = tuple(_neg_dim(self.draw, d, nd) for d in axes)
            if self.draw(st.booleans()):
                dim = dim[::-1]
        src = self.draw(st.sampled_from([f"{{0}}.{name}({dim!r}, keepdim={keep})",
                                         f"torch.{name}({{0}}, dim={dim!r}, keepdim={keep})",
                                         f"{{0}}.{name}(dim={dim!r}, keepdim={keep})"]))
        if not keep and self.draw(st.booleans()):
            src = f"{{0}}.{name}({dim!r})"
        return self.add(src, (i,), lambda x: npf(x, axis=axes, keepdims=keep))

    def matmul(self):
        i = self.pick()
        sh = self.vals[i].shape
        if len(sh) == 0:
            raise _Reject
        if len(sh) > 2:
            m = math.prod(sh[:-1])
            i = self.add(f"{{0}}.reshape({m}, {sh[-1]})", (i,),
                         lambda x: x.reshape(m, sh[-1]), helper=True)
            sh = self.vals[i].shape
        left = self.draw(st.booleans())
        k = sh[-1] if left else sh[0]

        def fits(s):
            return 1 <= len(s) <= 2 and (s[0] == k if left else s[-1] == k)

        cands = [j for j, v in enumerate(self.vals) if fits(v.shape)]
        if cands and self.draw(st.booleans()):
            j = cands[len(cands) - 1 - self.draw(st.integers(0, len(cands) - 1))]
        else:
            if self.draw(st.booleans()):
                shape = (k,)
            else:
                n = self.draw(st.integers(1, 4))
                shape = (k, n) if left else (n, k)
            j = self.const(shape)
        a, b = (i, j) if left else (j, i)
        ra, rb = self.vals[a].ndim, self.vals[b].ndim
        forms = ["{0} @ {1}", "torch.matmul({0}, {1})", "{0}.matmul({1})"]
        named = {(2, 2): "mm", (2, 1): "mv", (1, 1): "dot"}.get((ra, rb))
        if named:
            forms += [f"torch.{named}({{0}}, {{1}})", f"{{0}}.{named}({{1}})"]
        return self.add(self.draw(st.sampled_from(forms)), (a, b), np.matmul, contig=True)

    def reshape(self):
        i = self.pick()
        v = self.vals[i]
        n = v.size
        how = self.draw(st.sampled_from(["reshape", "view", "flatten"]))
        if how == "view" and not self.contig[i]:  # PyTorch refuses to view it
            how = "reshape"
        if how == "flatten":
            nd = v.ndim
            if nd == 0:
                return self.add("{0}.flatten()", (i,), lambda x: x.reshape(1))
            s = self.draw(st.integers(0, nd - 1))
            e = self.draw(st.integers(s, nd - 1))
            sh = v.shape[:s] + (math.prod(v.shape[s:e + 1]),) + v.shape[e + 1:]
            s1, e1 = _neg_dim(self.draw, s, nd), _neg_dim(self.draw, e, nd)
            src = self.draw(st.sampled_from([
                f"{{0}}.flatten({s1}, {e1})", f"torch.flatten({{0}}, start_dim={s1}, end_dim={e1})"]))
            return self.add(src, (i,), lambda x: x.reshape(sh))
        r = self.draw(st.integers(1 if n > 1 else 0, 4))
        dims = [1] * r
        for p in _prime_factors(n):
            dims[self.draw(st.integers(0, r - 1))] *= p
        shape = tuple(dims)
        spec = list(shape)
        if r and self.draw(st.booleans()):
            spec[self.draw(st.integers(0, r - 1))] = -1
        args = ", ".join(map(str, spec))
        forms = [f"{{0}}.{how}({tuple(spec)!r})", f"torch.reshape({{0}}, {tuple(spec)!r})"]
        if spec:
            forms.append(f"{{0}}.{how}({args})")
        src = self.draw(st.sampled_from(forms))
        return self.add(src, (i,), lambda x: x.reshape(shape))

    def permute(self):
        i = self.pick()
        nd = self.vals[i].ndim
        how = self.draw(st.sampled_from(["permute", "transpose", "t", "T", "mT"]))
        if how == "permute":
            perm = tuple(self.draw(st.permutations(range(nd))))
            spec = tuple(_neg_dim(self.draw, d, nd) for d in perm)
            src = self.draw(st.sampled_from([f"{{0}}.permute({spec!r})",
                                             f"torch.permute({{0}}, {spec!r})"]
                                            + ([f"{{0}}.permute({', '.join(map(str, spec))})"]
                                               if nd else [])))
            return self.add(src, (i,), lambda x: x.transpose(perm), contig=False)
        if how == "t" or (how == "T" and nd == 2):
            if nd > 2:
                raise _Reject
            src = "{0}.T" if how == "T" else self.draw(st.sampled_from(["{0}.t()",
                                                                        "torch.t({0})"]))
            return self.add(src, (i,), lambda x: x.T, contig=False)
        if nd < 2 or how == "T":
            raise _Reject
        if how == "mT":
            return self.add("{0}.mT", (i,), lambda x: np.swapaxes(x, -1, -2), contig=False)
        a, b = self.draw(st.integers(0, nd - 1)), self.draw(st.integers(0, nd - 1))
        a1, b1 = _neg_dim(self.draw, a, nd), _neg_dim(self.draw, b, nd)
        src = self.draw(st.sampled_from([f"{{0}}.transpose({a1}, {b1})",
                                         f"torch.transpose({{0}}, {a1}, {b1})",
                                         f"{{0}}.swapaxes({a1}, {b1})"]))
        return self.add(src, (i,), lambda x: np.swapaxes(x, a, b), contig=False)

    def index(self):
        i = self.pick()
        sh = self.vals[i].shape
        how = self.draw(st.sampled_from(["getitem", "getitem", "select"]))
        if how == "select":
            if not sh:
                raise _Reject
            d = self.draw(st.integers(0, len(sh) - 1))
            j = self.draw(st.integers(-sh[d], sh[d] - 1))
            d1 = _neg_dim(self.draw, d, len(sh))
            src = self.draw(st.sampled_from([f"{{0}}.select({d1}, {j})",
                                             f"torch.select({{0}}, {d1}, {j})"]))
            return self.add(src, (i,), lambda x: np.take(x, j, axis=d), contig=False)
        used = self.draw(st.integers(0, len(sh)))
        idx = []
        for n in sh[:used]:
            kind = self.draw(st.sampled_from(["int", "full", "slice", "slice"]))
            if kind == "int":
                idx.append(self.draw(st.integers(-n, n - 1)))
            elif kind == "full":
                idx.append(slice(None))
            else:
                a = self.draw(st.one_of(st.none(), st.integers(-n, n)))
                b = self.draw(st.one_of(st.none(), st.integers(-n, n)))
                c = self.draw(st.sampled_from([None, 1, 2, 3]))
                idx.append(slice(a, b, c))
        for _ in range(self.draw(st.integers(0, 2))):
            idx.insert(self.draw(st.integers(0, len(idx))), None)
        if self.draw(st.booleans()):  # an ellipsis for the dims left out (maybe none)
            last = max((t + 1 for t, x in enumerate(idx) if x is not None), default=0)
            lo = 0 if used == len(sh) else last
            idx.insert(self.draw(st.integers(lo, len(idx))), Ellipsis)
        if not idx:
            idx = [Ellipsis]
        idx = tuple(idx)
        src = "{0}[" + _fmt_index(idx) + "]"
        return self.add(src, (i,), lambda x: np.array(x[idx]), contig=False)

    def unsqueeze(self):
        i = self.pick()
        nd = self.vals[i].ndim
        if self.draw(st.booleans()):
            d = self.draw(st.integers(0, nd))
            d1 = d - nd - 1 if self.draw(st.booleans()) else d
            src = self.draw(st.sampled_from([f"{{0}}.unsqueeze({d1})",
                                             f"torch.unsqueeze({{0}}, {d1})"]))
            return self.add(src, (i,), lambda x: np.expand_dims(x, d))
        if self.draw(st.booleans()) or nd == 0:
            return self.add("{0}.squeeze()", (i,), lambda x: np.squeeze(x))
        d = self.draw(st.integers(0, nd - 1))
        d1 = _neg_dim(self.draw, d, nd)
        return self.add(f"{{0}}.squeeze({d1})", (i,),
                        lambda x: np.squeeze(x, d) if x.shape[d] == 1 else x)

    def expand(self):
        i = self.pick()
        sh = self.vals[i].shape
        how = self.draw(st.sampled_from(["expand", "repeat", "flip", "clone"]))
        if how == "clone":
            src = self.draw(st.sampled_from(["{0}.clone()", "torch.clone({0})"]))
            return self.add(src, (i,), lambda x: x.copy())
        if how == "flip":
            if not sh:
                raise _Reject
            axes = tuple(sorted(self.draw(st.sets(st.integers(0, len(sh) - 1), min_size=1))))
            dims = tuple(_neg_dim(self.draw, d, len(sh)) for d in axes)
            spec = dims[0] if len(dims) == 1 and self.draw(st.booleans()) else dims
            src = self.draw(st.sampled_from([f"{{0}}.flip({spec!r})",
                                             f"torch.flip({{0}}, {dims!r})"]))
            return self.add(src, (i,), lambda x: np.flip(x, axes))
        lead = tuple(self.draw(st.integers(1, 3)) for _ in range(self.draw(st.integers(0, 2))))
        if how == "repeat":
            reps = lead + tuple(self.draw(st.integers(1, 3)) for _ in sh)
            if not reps:
                raise _Reject
            src = self.draw(st.sampled_from([f"{{0}}.repeat({', '.join(map(str, reps))})",
                                             f"{{0}}.repeat({reps!r})"]))
            return self.add(src, (i,), lambda x: np.tile(x, reps), contig=True)
        sizes, spec = list(lead), list(lead)
        for n in sh:
            m = self.draw(st.integers(1, 3)) if n == 1 else n
            sizes.append(m)
            spec.append(-1 if m == n and self.draw(st.booleans()) else m)
        sizes = tuple(sizes)
        src = self.draw(st.sampled_from([f"{{0}}.expand({', '.join(map(str, spec))})",
                                         f"{{0}}.expand({tuple(spec)!r})"])) if spec else \
            "{0}.expand(())"
        return self.add(src, (i,), lambda x: np.broadcast_to(x, sizes).copy(), contig=False)


    # -- ops that landed later: more reductions, clamp, cat/stack, outer, batched matmul
    def _groups(self, x, axes):
        """x with the reduced axes flattened last: (rest..., group)."""
        rest = [d for d in range(x.ndim) if d not in axes]
        y = np.transpose(x, rest + list(axes))
        return y.reshape(y.shape[:len(rest)] + (-1,))

    def reduce2(self):
        name = self.draw(st.sampled_from(["var", "std", "norm2", "norm1", "logsumexp", "cumsum",
                                          "prod", "amax", "amin", "max", "min"]))
        i = self.pick()
        nd = self.vals[i].ndim
        keep = self.draw(st.booleans())
        if name == "cumsum":
            if nd == 0:
                raise _Reject
            d = self.draw(st.integers(0, nd - 1))
            d1 = _neg_dim(self.draw, d, nd)
            i = self.bounded(i, 8.0)
            src = self.draw(st.sampled_from([f"{{0}}.cumsum({d1})",
                                             f"torch.cumsum({{0}}, dim={d1})"]))
            return self.add(src, (i,), lambda x: np.cumsum(x, axis=d))
        if nd == 0 or (name in ("max", "min") and self.draw(st.booleans())):
            axes, dim = tuple(range(nd)), None
        elif name in ("max", "min"):
            d = self.draw(st.integers(0, nd - 1))
            axes, dim = (d,), _neg_dim(self.draw, d, nd)
        else:
            axes = tuple(sorted(self.draw(st.sets(st.integers(0, nd - 1), min_size=1))))
            dim = tuple(_neg_dim(self.draw, d, nd) for d in axes)
            if len(dim) == 1 and self.draw(st.booleans()):
                dim = dim[0]
        x = self.vals[i]
        g = self._groups(x, axes)
        if name in ("var", "std"):
            corr = self.draw(st.sampled_from([None, 0, 1]))
            if g.shape[-1] - (1 if corr is None else corr) <= 0 or np.min(g.var(-1)) < 1e-3:
                raise _Reject
            i = self.bounded(i, 8.0)
            ddof = 1 if corr is None else corr
            f = np.var if name == "var" else np.std
            c = "" if corr is None else f", correction={corr}"
            src = f"{{0}}.{name}({dim!r}{c}, keepdim={keep})" if dim is not None else \
                f"torch.{name}({{0}}{c})"
            return self.add(src, (i,), lambda x: f(x, axis=axes, ddof=ddof,
                                                    keepdims=keep and dim is not None))
        if name in ("norm1", "norm2"):
            if name == "norm1":
                i = self.off_kink(i)
            elif np.min(np.abs(g).max(-1)) < 0.1:
                raise _Reject
            ord_ = 1 if name == "norm1" else 2
            dd = dim if dim is not None else None
            src = f"{{0}}.norm(p={ord_}, dim={dd!r}, keepdim={keep})" if dd is not None else \
                f"{{0}}.norm(p={ord_})"
            return self.add(src, (i,), lambda x: np.sum(np.abs(x) ** ord_, axis=axes,
                                                         keepdims=keep and dd is not None)
                            ** (1 / ord_))
        if name == "logsumexp":
            if dim is None:
                raise _Reject
            i = self.bounded(i, 8.0)
            return self.add(f"torch.logsumexp({{0}}, {dim!r}, keepdim={keep})", (i,),
                            lambda x: np.log(np.sum(np.exp(x), axis=axes, keepdims=keep)))
        if name == "prod":
            if g.shape[-1] > 8:
                raise _Reject
            i = self.bounded(i, 1.5)
            src = "{0}.prod()" if dim is None else (
                f"{{0}}.prod({dim!r}, keepdim={keep})" if isinstance(dim, int) else None)
            if src is None:
                raise _Reject  # prod takes a single dim
            return self.add(src, (i,), lambda x: np.prod(x, axis=axes,
                                                         keepdims=keep and dim is not None))
        # amax/amin/max/min: the extremum of each group must be unique (no tie)
        top = np.sort(g, -1)
        if g.shape[-1] > 1 and np.min(np.abs(top[..., -1] - top[..., -2]) if name in (
                "amax", "max") else np.abs(top[..., 1] - top[..., 0])) < MARGIN:
            raise _Reject
        f = np.max if name in ("amax", "max") else np.min
        if name in ("amax", "amin"):
            d = dim if dim is not None else tuple(range(nd))
            return self.add(f"torch.{name}({{0}}, {d!r}, keepdim={keep})", (i,),
                            lambda x: f(x, axis=axes, keepdims=keep))
        if dim is None:
            return self.add(f"{{0}}.{name}()", (i,), lambda x: f(x))
        src = self.draw(st.sampled_from([f"{{0}}.{name}({dim}, keepdim={keep}).values",
                                         f"torch.{name}({{0}}, dim={dim}, keepdim={keep})[0]"]))
        return self.add(src, (i,), lambda x: f(x, axis=axes, keepdims=keep))

    def clamp(self):
        i = self.bounded(self.pick(), 4.0)
        lo = self.draw(st.sampled_from([None, -1.0, -0.5, 0.25]))
        hi = self.draw(st.sampled_from([None, 1.5, 0.5, 2.0]))
        if lo is None and hi is None:
            return self.add(self.draw(st.sampled_from(["torch.square({0})", "{0}.square()"])),
                            (i,), np.square)
        x = self.vals[i]
        for b in (lo, hi):
            if b is not None and np.min(np.abs(x - b)) < MARGIN:
                raise _Reject
        args = ", ".join(f"{k}={v!r}" for k, v in (("min", lo), ("max", hi)) if v is not None)
        fn = self.draw(st.sampled_from(["clamp", "clip"]))
        src = self.draw(st.sampled_from([f"{{0}}.{fn}({args})", f"torch.{fn}({{0}}, {args})"]))
        return self.add(src, (i,), lambda x: np.clip(x, lo, hi))

    def join(self):
        i = self.pick()
        x = self.vals[i]
        how = self.draw(st.sampled_from(["cat", "stack", "outer", "bmm"]))
        if how == "outer":
            if x.ndim != 1:
                raise _Reject
            j = self.const((self.draw(st.integers(1, 4)),)) if self.draw(st.booleans()) else \
                self.pick()
            if self.vals[j].ndim != 1:
                raise _Reject
            a, b = (i, j) if self.draw(st.booleans()) else (j, i)
            return self.add("torch.outer({0}, {1})", (a, b), np.outer, contig=True)
        if how == "bmm":  # batched matmul: (b, m, k) @ (k, n), (b, m, k) @ (b, k, n), ...
            if x.ndim < 2:
                raise _Reject
            k = x.shape[-1]
            if x.ndim == 2:
                shape = (self.draw(st.integers(1, 3)), k, self.draw(st.integers(1, 3)))
            else:
                shape = self.draw(st.sampled_from([(k, 2), x.shape[:-2] + (k, 3), (1, k, 2)]))
            j = self.const(shape)
            both3 = x.ndim == 3 and len(shape) == 3 and x.shape[0] == shape[0]
            src = self.draw(st.sampled_from(["{0} @ {1}", "torch.matmul({0}, {1})"]
                                            + (["torch.bmm({0}, {1})"] if both3 else [])))
            return self.add(src, (i, j), np.matmul, contig=True)
        nd = x.ndim
        if how == "stack":
            d = self.draw(st.integers(0, nd))
            parts = [i]
            for _ in range(self.draw(st.integers(1, 2))):
                same = [k for k, v in enumerate(self.vals) if v.shape == x.shape]
                parts.append(same[len(same) - 1 - self.draw(st.integers(0, len(same) - 1))]
                             if self.draw(st.booleans()) else self.const(x.shape))
            d1 = d - nd - 1 if self.draw(st.booleans()) else d
            names = ", ".join(f"{{{t}}}" for t in range(len(parts)))
            return self.add(f"torch.stack([{names}], {d1})", tuple(parts),
                            lambda *xs: np.stack(xs, d), contig=True)
        if nd == 0:
            raise _Reject
        d = self.draw(st.integers(0, nd - 1))
        parts = [i]
        for _ in range(self.draw(st.integers(1, 2))):
            fit = [k for k, v in enumerate(self.vals) if v.ndim == nd and all(
                v.shape[t] == x.shape[t] for t in range(nd) if t != d)]
            if self.draw(st.booleans()):
                parts.append(fit[len(fit) - 1 - self.draw(st.integers(0, len(fit) - 1))])
            else:
                sh = list(x.shape)
                sh[d] = self.draw(st.integers(1, 3))
                parts.append(self.const(tuple(sh)))
        if self.draw(st.booleans()):
            parts.reverse()
        d1 = _neg_dim(self.draw, d, nd)
        names = ", ".join(f"{{{t}}}" for t in range(len(parts)))
        fn = self.draw(st.sampled_from(["cat", "concat"]))
        return self.add(f"torch.{fn}([{names}], dim={d1})", tuple(parts),
                        lambda *xs: np.concatenate(xs, d), contig=True)

    # -- by index and by condition: tensor indices, writes, where/lerp/clamp with tensors
    def _tensor_index(self, n):
        """An index for a dim of size n: int list (maybe repeated, negative) or bool mask."""
        if self.draw(st.booleans()):
            mask = [self.draw(st.booleans()) for _ in range(n)]
            return mask if any(mask) else None
        return [self.draw(st.integers(-n, n - 1)) for _ in range(self.draw(st.integers(1, 3)))]

    def _mixed_index(self, sh, basic=False):
        """Ints and tensor indices in one contiguous block among slices (where PyTorch's
        rule and NumPy's agree, so NumPy is the reference); None if it drew nothing."""
        nd = len(sh)
        a = self.draw(st.integers(0, nd - 1))
        b = self.draw(st.integers(a, nd - 1))
        idx, tensors = [], 0
        for d in range(nd):
            if a <= d <= b and not basic and (self.draw(st.booleans()) or tensors == 0):
                t = self._tensor_index(sh[d]) if tensors < 2 or d == b else None
                if t is None or (isinstance(t[0], bool) and tensors):
                    idx.append(self.draw(st.integers(-sh[d], sh[d] - 1)))
                else:
                    idx.append(t)
                    tensors += 1
            elif a <= d <= b:
                idx.append(self.draw(st.integers(-sh[d], sh[d] - 1)))
            else:
                idx.append(self.draw(st.sampled_from([slice(None), slice(1, None),
                                                      slice(None, None, 2)])))
        if not tensors and not basic:
            return None
        lists = [np.asarray(t) for t in idx if isinstance(t, list)]
        try:
            np.broadcast_shapes(*(x.shape for x in lists if x.dtype != bool))
        except ValueError:
            return None
        return tuple(idx)

    def select(self):
        how = self.draw(st.sampled_from(["getitem", "getitem", "index_put", "setitem", "setitem",
                                         "where", "lerp", "clamp"]))
        i = self.pick()
        x = self.vals[i]
        if how in ("getitem", "index_put", "setitem"):
            basic = how == "setitem" and self.draw(st.booleans())
            idx = self._mixed_index(x.shape, basic) if x.ndim else None
            if how == "index_put" and x.ndim:  # tensors for the first dims, one length
                m0 = x.shape[0]
                first = self.draw(st.lists(st.integers(-m0, m0 - 1), min_size=1,
                                           max_size=min(3, m0), unique_by=lambda v: v % m0))
                idx = (first,) + tuple([self.draw(st.integers(-m, m - 1)) for _ in first]
                                       for m in x.shape[1:self.draw(st.integers(1, x.ndim))])
                idx += (slice(None),) * (x.ndim - len(idx))
            if idx is None:
                raise _Reject
            npidx = tuple(np.asarray(t) if isinstance(t, list) else t for t in idx)
            text = ", ".join(f"torch.tensor({t!r})" if isinstance(t, list) else
                             _fmt_index((t,)) for t in idx)
            if how == "getitem":
                return self.add("{0}[" + text + "]", (i,), lambda v: np.array(v[npidx]),
                                contig=False)
            try:
                shape = np.empty(x.shape)[npidx].shape
            except IndexError:  # a mask and an int list that do not broadcast
                raise _Reject from None
            vshape = shape[self.draw(st.integers(0, len(shape))):]
            j = self.const(vshape) if self.draw(st.booleans()) or not vshape else None
            if j is None:
                same = [k for k, v in enumerate(self.vals) if v.shape == vshape]
                j = same[-1] if same else self.const(vshape)
            pos = np.arange(x.size).reshape(x.shape)[npidx]
            if len(np.unique(pos)) != pos.size:
                raise _Reject  # repeated positions: which write wins is unspecified

            def put(v, w):
                out = np.array(v)
                out[npidx] = w
                return out

            if how == "index_put":
                ts = ", ".join(f"torch.tensor({t!r})" for t in idx if isinstance(t, list))
                return self.add(f"{{0}}.index_put(({ts},), {{1}})", (i, j), put, contig=True)
            tup = ", ".join(f"torch.tensor({t!r})" if isinstance(t, list) else repr(t)
                            for t in idx)
            return self.add(f"setitem({{0}}, ({tup},), {{1}})", (i, j), put, contig=True)
        j = self.pick()
        shape = np.broadcast_shapes(x.shape, self.vals[self.broadcastable(j, x.shape)].shape)
        j = self.broadcastable(j, x.shape)
        if how == "where":
            k = self.off_kink(self.broadcastable(self.pick(), shape))
            return self.add("torch.where({2} > 0, {0}, {1})", (i, j, k),
                            lambda a, b, c: np.where(c > 0, a, b), frozen=(2,))
        if how == "lerp":
            k = self.broadcastable(self.bounded(self.pick(), 2.0), shape)
            return self.add("torch.lerp({0}, {1}, {2})", (i, j, k),
                            lambda a, b, w: a + w * (b - a))
        # clamp(x, lo, hi) with tensor bounds: no ties between x, lo and hi
        k = self.broadcastable(self.pick(), shape)
        which = self.draw(st.sampled_from(["min", "max", "both"]))
        vals = [self.vals[t] for t in (i, j, k)]
        if np.broadcast_shapes(*(v.shape for v in vals)) != x.shape:
            raise _Reject  # PyTorch 2.13's backward fails when bounds enlarge x's shape
        for u, w in ((0, 1), (0, 2), (1, 2)):
            if np.min(np.abs(np.broadcast_to(vals[u], shape) - vals[w])) < MARGIN:
                raise _Reject
        src = {"min": "torch.clamp({0}, min={1})", "max": "{0}.clamp(max={2})",
               "both": "torch.clamp({0}, {1}, {2})"}[which]
        lo = which != "max"
        hi = which != "min"
        return self.add(src, (i, j, k), lambda a, b, c: np.minimum(np.maximum(a, b) if lo else a,
                                                                  c) if hi else np.maximum(a, b))

    # -- autograd semantics: detach/.data, no_grad, in place, retain_grad, list and range
    #    indices, worker threads
    def _base(self):
        """One step of an ordinary kind (or an in-place or list-index one); its value."""
        self.last_kind = self.draw(st.sampled_from(WRAPPABLE))
        return getattr(self, self.last_kind)()

    def _detacher(self):
        """How a value is read as a constant: text -> text."""
        form = self.draw(st.sampled_from(["method", "method", "data", "fn"]))
        return {"method": lambda t: t + ".detach()", "data": lambda t: t + ".data",
                "fn": lambda t: f"torch.detach({t})"}[form]

    def detach(self):
        how = self.draw(st.sampled_from(["value", "inputs", "inputs", "result", "straight"]))
        wrap = self._detacher()
        if how == "value":  # v3 = v1.detach()
            i = self.pick()
            return self.add(wrap("{0}"), (i,), np.array, stop=True, contig=self.contig[i])
        if how == "straight":  # straight-through estimators: the value of f, the gradient of x
            i = self.bounded(self.pick(), 4.0)
            f_src, f = STRAIGHT[self.draw(st.sampled_from(sorted(STRAIGHT)))]
            if self.draw(st.booleans()):  # x - x.detach() + f(x).detach()
                src = "{0} - " + wrap("{1}") + " + " + wrap(f_src.format("{2}"))
                return self.add(src, (i, i, i), lambda a, b, c: a - b + f(c), frozen=(1, 2))
            src = "{0} + " + wrap("(" + f_src.format("{1}") + " - {2})")  # x + (f(x) - x).detach()
            return self.add(src, (i, i, i), lambda a, b, c: a + (f(b) - c), frozen=(1, 2))
        k = self._base()
        s = self.p.steps[-1]
        if s.retain:
            raise _Reject  # retain_grad() of a value that no longer requires grad raises
        if how == "result":  # (expr).detach()
            if s.statement:
                s.src += "\n{out} = " + wrap("{out}")
            else:
                s.src = wrap("(" + s.src + ")")
            s.stop = True
        else:  # some inputs read through .detach() / .data
            if not s.ins:
                raise _Reject
            chosen = self.draw(st.sets(st.integers(0, len(s.ins) - 1), min_size=1))
            for p in sorted(chosen):
                s.src = s.src.replace("{%d}" % p, wrap("{%d}" % p))
            s.frozen = s.frozen | frozenset(chosen)
        self.restep()
        return k

    def nograd(self):
        k = self._base()
        s = self.p.steps[-1]
        if s.retain:
            raise _Reject  # retain_grad() of a value that does not require grad raises
        how = self.draw(st.sampled_from(["lambda", "with", "with", "set_grad_enabled",
                                         "enable_grad"]))
        if how != "enable_grad" and (self.last_kind in VIEW_KINDS or ".expand(" in s.src):
            # PyTorch 2.13: a view made under no_grad of a tensor that requires grad is a leaf
            # with requires_grad=True (and no gradient flows to its base): not generated
            raise _Reject
        if how == "lambda" and not s.statement:  # nograd(lambda: expr)
            s.src = "nograd(lambda: " + s.src + ")"
        else:
            body = (s.src if s.statement else "{out} = " + s.src).split("\n")
            if how == "enable_grad":  # enable_grad inside no_grad: recorded after all
                head = ["with torch.no_grad():", "    with torch.enable_grad():"]
                body = ["        " + line for line in body]
            else:
                head = ["with torch.set_grad_enabled(False):" if how == "set_grad_enabled"
                        else "with torch.no_grad():"]
                body = ["    " + line for line in body]
            s.src = "\n".join(head + body)
        s.stop = how != "enable_grad" or s.stop
        self.restep()
        return k

    def pause(self):
        """A step at which the reverse sweep pauses for Python (custom Function, hook)."""
        k = self._base()
        if self.draw(st.booleans()):
            sc = self.draw(st.sampled_from([0.5, 1.5, -2.0]))
            return self.add(f"scaled({{0}}, {sc!r})", (k,), lambda x: x * sc)
        return self.add("hooked({0})", (k,), lambda x: x * 1.0)

    def retain(self):
        k = self._base()
        if not self.rg[k]:
            raise _Reject  # PyTorch refuses retain_grad() without requires_grad
        s = self.p.steps[-1]
        if not s.statement:
            s.src = "{out} = " + s.src
        s.src += "\n{out}.retain_grad()"
        s.retain = True
        return k

    def _seq_text(self, t):
        """A list index as a Python list, a range object (when it is one) or a tensor."""
        forms = ["list", "tensor"]
        if not any(isinstance(e, bool) for e in t):
            step = t[1] - t[0] if len(t) > 1 else 1
            if step and all(b - a == step for a, b in zip(t, t[1:])):
                forms += ["range"] * 4
        form = self.draw(st.sampled_from(forms))
        if form == "list":
            return repr(list(t))
        if form == "tensor":
            return f"torch.tensor({list(t)!r})"
        a, b = t[0], t[-1] + step
        return f"range({b})" if a == 0 and step == 1 else (
            f"range({a}, {b})" if step == 1 else f"range({a}, {b}, {step})")

    def _seq_index(self, sh, basic=False):
        """(index text, NumPy index) with Python lists and ranges among ints and slices."""
        if not basic and self.draw(st.booleans()):  # one list or range, for the first dim
            n = sh[0]
            if self.draw(st.integers(0, 2)):  # a range: start, step, length, all in bounds
                a = self.draw(st.integers(-n, n - 1))
                step = self.draw(st.sampled_from([1, 1, 2, -1]))
                m = self.draw(st.integers(1, 3))
                t = [a + step * r for r in range(m) if -n <= a + step * r < n]
            else:
                t = self._tensor_index(n)
                if t is None:
                    raise _Reject
            idx = (t,)
        else:
            idx = self._mixed_index(sh, basic)
            if idx is None:
                raise _Reject
        npidx = tuple(np.asarray(t) if isinstance(t, list) else t for t in idx)
        text = ", ".join(self._seq_text(t) if isinstance(t, list) else _fmt_index((t,))
                         for t in idx)
        return text, npidx

    def listindex(self):
        i = self.pick()
        x = self.vals[i]
        if x.ndim == 0:
            raise _Reject
        text, npidx = self._seq_index(x.shape)
        if self.draw(st.integers(0, 2)):  # x[[0, 2]], x[range(2), [1, 0]]
            return self.add("{0}[" + text + "]", (i,), lambda v: np.array(v[npidx]),
                            contig=False)
        return self._write(i, text, npidx, "{out} = {0}.clone()", np.array)

    def _write(self, i, text, npidx, start, start_ref, lines=()):
        """v_i's clone with out[index] = a value (or a number); the value's step index."""
        try:
            shape = np.empty(self.vals[i].shape)[npidx].shape
        except IndexError:  # a mask and an int list that do not broadcast
            raise _Reject from None
        pos = np.arange(self.vals[i].size).reshape(self.vals[i].shape)[npidx]
        if len(np.unique(pos)) != pos.size:
            raise _Reject  # repeated positions: which write wins is unspecified
        c = None
        if self.draw(st.integers(0, 3)) == 0:  # a number
            c = self.draw(st.sampled_from([0.0, 0.5, -1.25]))
            ins, src = (i,), f"{{out}}[{text}] = {c!r}"
        else:
            vshape = shape[self.draw(st.integers(0, len(shape))):]
            same = [k for k, v in enumerate(self.vals) if v.shape == vshape]
            j = same[-1] if same and self.draw(st.booleans()) else self.const(vshape)
            ins, src = (i, j), f"{{out}}[{text}] = {{1}}"

        def put(v, w=None):
            out = start_ref(v)
            out[npidx] = c if w is None else w
            return out

        return self.add("\n".join([start, *lines, src]), ins, put, contig=True)

    def _operand(self, shape, name):
        """A value that broadcasts to `shape` (without enlarging it), fit for op `name`."""
        if self.draw(st.booleans()):
            keep = [d if self.draw(st.booleans()) else 1 for d in shape]
            j = self.const(tuple(keep[self.draw(st.integers(0, len(keep))):]))
        else:
            j = self.broadcastable(self.pick(), shape)
        j = self.ready(j, name) if name else j
        if np.broadcast_shapes(shape, self.vals[j].shape) != shape:
            raise _Reject
        return j

    def inplace(self):
        how = self.draw(st.sampled_from(["method", "method", "augmented", "setitem", "setitem",
                                         "clamp", "copy", "masked_fill", "index_put", "fill"]))
        i = self.bounded(self.pick(), 8.0)
        start, start_ref = self.draw(st.sampled_from(START))
        x0 = start_ref(self.vals[i])
        pre = None if how == "fill" or self.draw(st.integers(0, 3)) else \
            self.draw(st.sampled_from(sorted(PRE)))
        lines = ["_w = " + PRE[pre][0]] if pre else []
        if not pre and self.rg[i] and self.draw(st.integers(0, 3)) == 0:
            lines.append("{out}.retain_grad()")  # follows the value through the in-place op
        if how == "setitem":
            text, npidx = self._seq_index(x0.shape, basic=self.draw(st.booleans())) \
                if x0.ndim else ("...", (Ellipsis,))
            k = self._write(i, text, npidx, "{out} = " + start, start_ref, lines)
        else:
            k = self._inplace_op(how, i, x0.shape, start, start_ref, lines)
        s = self.p.steps[-1]
        s.retain = "{out}.retain_grad()" in s.src
        if pre:  # the op read the value before the write: it must not see the write
            s.src += "\n{out} = {out} + _w"
            f, g = PRE[pre][1], s.ref
            s.ref = lambda x, *ys: g(x, *ys) + f(start_ref(x))
            self.vals[k] = np.asarray(s.ref(*(self.vals[t] for t in s.ins)), np.float64)
        return k

    def _inplace_op(self, how, i, shape, start, start_ref, lines):
        head = ["{out} = " + start, *lines]
        if how in ("method", "augmented"):
            name = self.draw(st.sampled_from(["add", "sub", "mul", "div"]))
            if self.draw(st.integers(0, 3)) == 0:  # a number
                c = self.draw(st.sampled_from([1.5, -0.5, 2, 0.25]))
                f = NP_BINARY[name]
                src = f"{{out}}.{name}_({c!r})" if how == "method" else \
                    f"{{out}} {BINARY_SYMBOL[name]}= {c!r}"
                return self.add("\n".join(head + [src]), (i,),
                                lambda x: f(start_ref(x), c), contig=True)
            j = self._operand(shape, name)
            f = NP_BINARY[name]
            if how == "augmented":
                src = f"{{out}} {BINARY_SYMBOL[name]}= {{1}}"
            elif name in ("add", "sub") and self.draw(st.booleans()):
                al = self.draw(st.sampled_from(ALPHAS))
                src = f"{{out}}.{name}_({{1}}, alpha={al!r})"
                f = (lambda a, b: a + al * b) if name == "add" else (lambda a, b: a - al * b)
            else:
                src = f"{{out}}.{name}_({{1}})"
            return self.add("\n".join(head + [src]), (i, j), lambda x, y: f(start_ref(x), y),
                            contig=True)
        if how == "clamp":
            lo = self.draw(st.sampled_from([None, -1.0, -0.5, 0.25]))
            hi = self.draw(st.sampled_from([None if lo is not None else 1.0, 1.5, 0.5]))
            x0 = start_ref(self.vals[i])
            for b in (lo, hi):
                if b is not None and np.min(np.abs(x0 - b)) < MARGIN:
                    raise _Reject
            args = ", ".join(f"{k}={v!r}" for k, v in (("min", lo), ("max", hi)) if v is not None)
            return self.add("\n".join(head + [f"{{out}}.clamp_({args})"]), (i,),
                            lambda x: np.clip(start_ref(x), lo, hi), contig=True)
        if how == "copy":
            j = self._operand(shape, None)
            return self.add("\n".join(head + ["{out}.copy_({1})"]), (i, j),
                            lambda x, y: np.broadcast_to(y, shape).copy(), contig=True)
        if how == "fill":
            c = self.draw(st.sampled_from([0, 0.5, -2.0]))
            src = "{out}.zero_()" if c == 0 and self.draw(st.booleans()) else \
                f"{{out}}.fill_({c!r})"
            return self.add("\n".join(head + [src]), (i,),
                            lambda x: np.full(shape, float(c)), contig=True)
        if how == "masked_fill":
            j = self.off_kink(self._operand(shape, None))
            c = self.draw(st.sampled_from([0.0, 0.5, -1.0]))
            return self.add("\n".join(head + [f"{{out}}.masked_fill_({{1}} > 0, {c!r})"]),
                            (i, j), lambda x, m: np.where(m > 0, c, start_ref(x)),
                            frozen=(1,), contig=True)
        # index_put_: int lists for the first dims (one length); accumulate=True may repeat
        if not shape:
            raise _Reject
        acc = self.draw(st.booleans())
        m0 = shape[0]
        first = self.draw(st.lists(st.integers(-m0, m0 - 1), min_size=1, max_size=3,
                                   unique_by=None if acc else (lambda v: v % m0)))
        idx = (first,) + tuple([self.draw(st.integers(-m, m - 1)) for _ in first]
                               for m in shape[1:self.draw(st.integers(1, len(shape)))])
        npidx = tuple(np.asarray(t) for t in idx)
        vshape = np.empty(shape)[npidx].shape
        if not acc:
            pos = np.arange(math.prod(shape)).reshape(shape)[npidx]
            if len(np.unique(pos)) != pos.size:
                raise _Reject
        j = self.const(vshape[self.draw(st.integers(0, len(vshape))):])
        ts = ", ".join(f"torch.tensor({t!r})" for t in idx)
        src = f"{{out}}.index_put_(({ts},), {{1}}" + (", accumulate=True)" if acc else ")")

        def put(x, w):
            out = start_ref(x)
            if acc:
                np.add.at(out, npidx, np.broadcast_to(w, vshape))
            else:
                out[npidx] = w
            return out

        return self.add("\n".join(head + [src]), (i, j), put, contig=True)

    def thread(self):
        """in_thread(lambda: loss of the leaves): a graph built and backwarded in a worker."""
        nl = len(self.p.leaves)
        chosen = sorted(self.draw(st.sets(st.integers(0, nl - 1), min_size=1)))
        ins, frozen, terms, parts = [], [], [], []
        for a in chosen:
            f_src, f = self.draw(st.sampled_from(THREAD_FNS))
            p = len(ins)
            ins.append(a)
            src = f_src.replace("{x}", "{%d}" % p)
            q = None
            if self.draw(st.integers(0, 2)) == 0:  # a factor the worker's gradient skips
                q = len(ins)
                ins.append(a)
                frozen.append(q)
                src = f"{src} * {self._detacher()('{%d}' % q)}"
            kc = len(self.p.consts)
            self.p.consts.append(np.round(self.rng.standard_normal(self.vals[a].shape), 3))
            terms.append(f"({src} * torch.tensor(C{kc}, dtype=torch.float64)).sum()")
            parts.append((p, q, f, self.p.consts[kc]))

        def ref(*xs):
            return sum(np.sum(f(xs[p]) * (1.0 if q is None else xs[q]) * P)
                       for p, q, f, P in parts)

        return self.add("in_thread(lambda: " + " + ".join(terms) + ")", tuple(ins), ref,
                        frozen=frozen, stop=True, extra=True)


# kinds whose step may be a view in PyTorch (reshape, permute, basic index, (un)squeeze)
VIEW_KINDS = ("reshape", "permute", "index", "unsqueeze")
# f for straight-through estimators (detached: it may be non-smooth)
STRAIGHT = {"sign": ("torch.sign({0})", np.sign), "relu": ("torch.relu({0})", NP_UNARY["relu"]),
            "tanh": ("torch.tanh({0})", np.tanh),
            "clamp": ("{0}.clamp(-0.5, 0.5)", lambda x: np.clip(x, -0.5, 0.5)),
            "square": ("({0} * {0})", np.square)}
# how an in-place statement gets its non-leaf: (text over {0}, NumPy reference, a copy)
START = (("{0}.clone()", np.array), ("{0}.clone()", np.array), ("torch.clone({0})", np.array),
         ("{0} * 1.5", lambda x: np.array(x * 1.5)), ("{0} + 0.25", lambda x: np.array(x + 0.25)))
# ops that read the value before it is written in place, and save nothing that the write
# changes (PyTorch would raise otherwise): _w = ...; then out = out + _w
PRE = {"scale": ("{out} * 0.5", lambda x: x * 0.5), "neg": ("-{out}", np.negative),
       "sum": ("{out}.sum()", np.sum), "tanh": ("torch.tanh({out})", np.tanh),
       "clone": ("{out}.clone()", np.array)}
# a worker thread's terms: f(leaf) * C, summed
THREAD_FNS = (("torch.tanh({x})", np.tanh), ("torch.sin({x})", np.sin),
              ("{x} * {x}", np.square), ("torch.exp({x} * 0.5)", lambda x: np.exp(x * 0.5)),
              ("torch.sigmoid({x})", NP_UNARY["sigmoid"]), ("{x}", lambda x: x))


KINDS = ("unary", "scalar", "binary", "reduce", "matmul", "reshape", "permute", "index",
         "unsqueeze", "expand", "reduce2", "clamp", "join", "select")
AUTOGRAD_KINDS = ("detach", "nograd", "inplace", "retain", "listindex", "thread", "pause")
WRAPPABLE = KINDS + ("inplace", "listindex")  # what detach/nograd/retain wrap
KINDS = KINDS + AUTOGRAD_KINDS
FLAVORS = {
    "mixed": dict.fromkeys(KINDS, 1),
    "autograd": {"detach": 4, "nograd": 2, "inplace": 4, "retain": 2, "listindex": 3,
                 "thread": 1, "pause": 2, "unary": 1, "scalar": 1, "binary": 2, "reduce": 1, "matmul": 1,
                 "index": 1, "select": 1, "expand": 1, "reshape": 1},
    "math": {"unary": 4, "scalar": 3, "binary": 4, "reduce": 1, "matmul": 1, "reshape": 1,
             "index": 1, "clamp": 2, "reduce2": 1, "select": 1},
    "shapes": {"reshape": 2, "permute": 3, "index": 4, "unsqueeze": 2, "expand": 3,
               "binary": 2, "reduce": 2, "unary": 1, "matmul": 1, "join": 2, "select": 3},
    "linalg": {"matmul": 4, "reduce": 3, "binary": 3, "permute": 2, "unary": 1, "index": 1,
               "expand": 1, "reduce2": 3, "join": 3, "clamp": 1},
}


def _leaf_shape(draw):
    r = draw(st.integers(0, 3))
    dims = [draw(st.integers(1, 4)) for _ in range(r)]
    while math.prod(dims) > LEAF_NUMEL:
        dims[dims.index(max(dims))] -= 1
    return tuple(dims)


@st.composite
def programs(draw, flavor="mixed"):
    weights = FLAVORS[flavor]
    kinds = [k for k in KINDS for _ in range(weights.get(k, 0))]
    nleaves = draw(st.integers(1, 3))
    shapes = [_leaf_shape(draw) for _ in range(nleaves)]
    seed = draw(st.integers(0, 2**32 - 1))
    rng = np.random.default_rng(seed)
    leaves = [rng.uniform(-2, 2, s) for s in shapes]
    b = Builder(draw, leaves, rng)
    nops = draw(st.integers(3, 12))
    tries = 0
    while len(b.p.steps) < nops:
        kind = draw(st.sampled_from(kinds))
        nsteps = len(b.p.steps)
        tries += 1
        try:
            getattr(b, kind)()
        except _Reject:
            b.truncate(nsteps)
            if tries > 100:
                break
    # loss = sum over the results (values no later step reads) of (result * P).sum()
    n = len(b.p.leaves)
    used = {i for s in b.p.steps for i in s.ins}
    sinks = [k for k in range(n, len(b.vals)) if k not in used] or [len(b.vals) - 1]
    if not any(b.rg[k] for k in sinks):  # the loss must require grad: add a value that does
        sinks.append(max(k for k in range(len(b.vals)) if b.rg[k]))
    terms, Ps = [], []
    for t, r in enumerate(sinks):
        Ps.append(np.round(rng.standard_normal(b.vals[r].shape), 3))
        terms.append(f"({{{t}}} * torch.tensor(C{len(b.p.consts)}, dtype=torch.float64)).sum()")
        b.p.consts.append(Ps[-1])

    def loss(*xs):
        return sum(np.sum(x * P) for x, P in zip(xs, Ps))

    b.add(" + ".join(terms), tuple(sinks), loss)
    b.p.result = sinks
    return b.p
