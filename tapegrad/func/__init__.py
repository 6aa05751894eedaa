"""tapegrad.func: record a function once, replay it at compiled speed.

    fg = tapegrad.func.value_and_grad(rosen)   # records on the first call, replays after
    scipy.optimize.minimize(fg, x0, jac=True)

Each transform takes a Python function of tapegrad tensors and returns a callable that
takes NumPy arrays (or numbers, or tensors) and returns NumPy arrays (a 0-d value as a
Python float). The first call with a new signature (the shapes and dtypes of the array
arguments, the values of the others) records the function on a private tape; later calls
replay it: the new inputs are written into their slots, one compiled forward sweep
recomputes every record, then compiled reverse sweeps give the derivatives. No Python
runs per record. Second-order transforms (`hvp`, `hessian`) and `jvp` record the
function together with its backward pass (`create_graph=True`) once, and replay both.

Guards: a value the function hands to Python while it is recorded (`float(t)`,
`t.item()`, `if t > 0`, `t.numpy()`, a boolean mask's shape) must come out equal on a
replay, or the call records a new variant (at most `max_variants`, default 8) and is
answered by it: a replay never returns another branch's result. Past the cap, or for a
function that changes a recorded value in place or calls a custom autograd.Function, the
transform runs the function eagerly on each call, after one warning naming the line.

Saving: `fg.save(path)` writes the latest recording as one `.npz` of plain arrays (no
pickle; the keys are listed in tapegrad/func/_saved.py), and `load(path)` gives it back in
any process that has tapegrad, without the function: a `Loaded`, called (and `.batch`ed)
like the transform on arguments of the saved signature. It cannot record again: other
shapes or a failed guard raise a RuntimeError.

What differs from `torch.func`: arguments and results are NumPy arrays, not tensors, and
random numbers drawn inside the function are drawn once, when it is recorded (as under
`jax.jit` with a fixed key).
"""

import warnings
from typing import Any, Callable, Tuple, Union

import numpy as np

from .. import autograd
from ..autograd import engine as _engine
from ._trace import Variant, as_input

__all__ = ["grad", "value_and_grad", "vjp", "jacrev", "jacfwd", "hessian", "hvp", "jvp",
           "Compiled", "load", "Loaded"]

Argnums = Union[int, Tuple[int, ...]]


class Compiled:
    """A transform of `f` (see the module docstring); call it like `f`, on arrays.

    `.tape` is the tape of the latest recording (print it for its Wengert listing),
    `.variants` the number of recordings made so far."""

    def __init__(self, f: Callable, argnums: Argnums, kind: str, max_variants: int = 8,
                 has_aux: bool = False):
        if not callable(f):
            raise TypeError(f"tapegrad.func.{kind}: expected a function, got {type(f).__name__}")
        self.f, self.kind, self.max_variants = f, kind, max_variants
        if has_aux and kind not in ("grad", "value_and_grad", "vjp"):
            raise TypeError(f"tapegrad.func.{kind}: has_aux is for grad, value_and_grad and vjp")
        self.has_aux = bool(has_aux)
        self.single = isinstance(argnums, int)
        self.argnums = (argnums,) if self.single else tuple(argnums)
        if not self.argnums or not all(isinstance(i, int) for i in self.argnums):
            raise TypeError(f"tapegrad.func.{kind}: argnums must be an int or a non-empty "
                            f"tuple of ints, got {argnums!r}")
        self._variants = {}   # signature -> [Variant], most recent first
        self._eager = None    # why calls run eagerly (a warning was given), or None
        self._last = None
        self._hot = None      # (signature, its variants, wrt, nargs) of the last call
        self.__name__ = getattr(f, "__name__", kind)
        self.__doc__ = getattr(f, "__doc__", None)

    # ---- calling -----------------------------------------------------------------------
    def __call__(self, *args: Any) -> Any:
        hot = self._hot
        if hot is not None and len(args) == len(hot[0]):  # the signature of the last call?
            sig, variants, wrt, nargs = hot
            for a, (shape, dt) in zip(args, sig):
                if type(a) is not np.ndarray or a.shape != shape or a.dtype is not dt:
                    break
            else:
                kind = self.kind
                if kind in _ONE_CALL:  # one compiled call
                    plain = not _engine._ANOMALY[0]  # (and no hooks on the variant's tape)
                    for v in variants:
                        fast = v.fast  # (a scalar program's closure: no checks inside)
                        r = fast(args, wrt) if fast is not None and plain and not (
                            _engine._HOOKED and v.tape in _engine._hooks.NONLEAF) else \
                            v.replay_grad(args, wrt)
                        if r is not None:
                            g = r[1][0] if self.single else tuple(r[1])
                            if self.has_aux:
                                return self._with_aux(v, r[0], g)
                            return (r[0], g) if kind == "value_and_grad" else g
                else:
                    for v in variants:
                        if v.forward(args):
                            return self._answer(v, wrt, args, nargs)
        return self._call(args)

    def _call(self, args):
        extra = _EXTRA_ARGS[self.kind]  # trailing vectors of vjp / hvp / jvp
        nargs = len(args) - extra
        if nargs < 1:
            raise TypeError(f"tapegrad.func.{self.kind}: expected the function's arguments"
                            + (f" and {extra} vector(s)" if extra else ""))
        for i in self.argnums:
            if not -nargs <= i < nargs:
                raise IndexError(f"tapegrad.func.{self.kind}: argnums {i} is out of range for "
                                 f"{nargs} positional arguments")
        argnums = tuple(i % nargs for i in self.argnums)
        arrays, statics, key = [], [], []
        for i, a in enumerate(args):
            if i >= nargs or i in argnums or _is_array(a):
                a = as_input(a, self.kind)
                arrays.append(a)
                key.append((a.shape, a.dtype.str))
            else:
                statics.append((i, a))
                key.append(("static", _static_key(a)))
        positions = [i for i in range(len(args)) if i >= nargs or i in argnums or
                     _is_array(args[i])]
        wrt = [positions.index(i) for i in argnums]
        key = tuple(key)
        if self._eager is None:
            variants = self._variants.setdefault(key, [])
            if not statics:  # all arrays: the next call with this signature takes __call__'s path
                sig = tuple((a.shape, a.dtype) for a in arrays)  # (NumPy's dtypes are
                self._hot = (sig, variants, wrt, nargs)               # singletons: `is`)
            for v in variants:
                if v.forward(arrays):
                    return self._answer(v, wrt, arrays, nargs)
            if len(variants) < self.max_variants:
                v = self._record(arrays, statics, nargs, key)
                if v.unsafe is None and not v.python:
                    variants.insert(0, v)
                    self._last = v
                    v.prepare(self.kind in _ONE_CALL, self.kind in _TANGENT)  # (listing)
                    return self._answer(v, wrt, arrays, nargs)
                self._go_eager(v)
            else:
                self._go_eager(variants[0], capped=True)
        v = self._record(arrays, statics, nargs)  # eager: a recording used once
        return self._answer(v, wrt, arrays, nargs)

    def _record(self, arrays, statics, nargs, key=None):
        program = (_aux_program if self.has_aux else _PROGRAMS[self.kind])(self.f, nargs)
        v = Variant(program, arrays, statics, self.kind)
        v.aux_tree = getattr(program, "tree", None)
        if self.kind == "jvp" and v.unsafe is None and not v.python:
            v.prepare(False, True)
            if v.tmode is None:  # no tangent rule for some record: the double-vjp program
                v = Variant(_jvp_program(self.f, nargs), arrays, statics, self.kind)
        v.key = key  # the call signature it answers (what `save` writes)
        return v

    def _go_eager(self, v, capped=False):
        if capped:
            why = (f"its guards failed on {self.max_variants} recordings (a value read at "
                   f"{v.where} keeps changing)")
        elif v.unsafe is not None:
            why = f"it changes a recorded value in place ({v.unsafe})"
        else:
            why = "it calls a custom autograd.Function, which a replay cannot rerun"
        self._eager = why
        warnings.warn(f"tapegrad.func.{self.kind}({self.__name__}): {why}; from now on each "
                      "call runs the function eagerly (correct, not compiled)", stacklevel=3)

    def _answer(self, v, wrt, arrays, nargs):
        kind = self.kind
        if self.has_aux:
            seed = _seed(arrays[-1], v.value) if kind == "vjp" else _NO_SEED
            return self._with_aux(v, v.output(), self._pack(v.gradients(wrt, seed)))
        if kind == "grad":
            return self._pack(v.gradients(wrt))
        if kind == "value_and_grad":
            return v.output(), self._pack(v.gradients(wrt))
        if kind == "vjp":  # f(*args) and the vjp with the cotangent (the last argument)
            return v.output(), self._pack(v.gradients(wrt, _seed(arrays[-1], v.value)))
        if kind == "jacrev":
            return self._pack(_jacobian(v, wrt))
        if kind == "hvp":  # the program's output is <grad f, v>: its gradient is H v
            return self._pack(v.gradients(wrt))
        if kind == "hessian":  # the program's output is grad f (flat): one row per sweep
            n = v.value.size
            rows = [v.gradients(wrt[:1], np.eye(1, n, j).reshape(-1))[0].reshape(-1)
                    for j in range(n)]
            shape = arrays[wrt[0]].shape
            return np.array(rows).reshape(shape + shape) if rows else np.zeros(shape + shape)
        if kind == "jvp":
            if v.tmode is not None:  # one tangent sweep seeded by t (the last argument)
                return v.output(), v.jvp({wrt[0]: arrays[-1]})
            # the double-vjp program: output <J^T u, t>; its gradient in u (made inside,
            (jt,) = v.gradients((len(arrays),))  # after the arrays) is J t
            return v.output(0), jt.reshape(np.shape(v.extras[0][0]))
        if kind == "jacfwd":
            if v.tmode is None:  # rows by reverse sweeps over the same recording
                return self._pack(_jacobian(v, wrt))
            out = []
            for i in wrt:  # one tangent sweep per input element: the Jacobian's columns
                shape = arrays[i].shape
                cols = [v.jvp({i: np.eye(1, arrays[i].size, j)}).reshape(-1)
                        for j in range(arrays[i].size)]
                J = np.array(cols).T if cols else np.zeros((np.size(v.value), 0))
                out.append(J.reshape(np.shape(v.value) + shape))
            return self._pack(out)
        raise AssertionError(kind)

    def _pack(self, grads):
        return grads[0] if self.single else tuple(grads)

    def _with_aux(self, v, value, g):
        """The answer of a has_aux transform: torch.func's layout, the aux output's tensors
        as arrays (values the replay recomputed)."""
        aux = _rebuild(v.aux_tree, [v.output(j) for j in range(len(v.extras))])
        if self.kind == "grad":
            return g, aux
        return ((value, aux), g) if self.kind == "value_and_grad" else (value, g, aux)

    # ---- inspection --------------------------------------------------------------------
    @property
    def tape(self):
        """The tape of the latest recording (None before the first call)."""
        return None if self._last is None else self._last.tape

    @property
    def eager(self) -> Union[str, None]:
        """Why calls run eagerly (after the one warning), or None while they replay."""
        return self._eager

    @property
    def variants(self) -> int:
        """How many recordings the calls so far made (one per signature, more when guards
        failed)."""
        return sum(len(v) for v in self._variants.values())

    def batch(self, X: Any, *V: Any) -> Any:
        """The transform at each row of X (and of the other arguments V, e.g. the vectors
        of vjp, hvp, jvp), each result stacked along a new first axis (a tuple result
        leafwise): what the one-by-one calls return, bit for bit. Rows run in one compiled
        call, in parallel on Numba's threads, when the batch is large enough to pay for
        them (tapegrad/func/_batch.py)."""
        from ._batch import batch

        return batch(self, (X,) + V)

    # ---- saving ------------------------------------------------------------------------
    def save(self, path: Any) -> None:
        """Write the latest recording as one `.npz` file (a path, written as given, or a
        binary file object): its records, slots, aux pool, constants, inputs, outputs and
        guards, an opcode-name table and a format version; no pickle.
        `tapegrad.func.load(path)` gives it back, in any process that has tapegrad."""
        _saved.save(self, path)

    def __repr__(self):
        return f"<tapegrad.func.{self.kind} of {self.__name__}: {self.variants} recording(s)>"


_ONE_CALL = ("value_and_grad", "grad", "hvp")  # kinds answered by Variant.replay_grad
_TANGENT = ("jvp", "jacfwd")  # kinds answered by tangent sweeps when every record has one
_NO_SEED = np.zeros(0)
_EXTRA_ARGS = {"grad": 0, "value_and_grad": 0, "vjp": 1, "jacrev": 0, "jacfwd": 0,
               "hessian": 0, "hvp": 1, "jvp": 1}


def _is_array(a):
    from ..tensor import Tensor

    return isinstance(a, (np.ndarray, Tensor, list, tuple)) or isinstance(a, np.generic)


def _static_key(a):
    try:
        hash(a)
        return a
    except TypeError:
        return ("id", id(a))


def _seed(u, value):
    u = np.asarray(u, np.float64).reshape(-1)
    if u.size != np.size(value):
        raise RuntimeError(f"tapegrad.func.vjp: the cotangent has {u.size} elements, the "
                           f"output {np.size(value)}")
    return u


def _jacobian(v, wrt):
    """Rows of the Jacobian of the output (any shape) by one reverse sweep each."""
    n = np.size(v.value)
    rows = [v.gradients(wrt, np.eye(1, n, j).reshape(-1)) for j in range(n)]
    shape = np.shape(v.value)
    out = []
    for i in range(len(wrt)):
        r = np.array([row[i] for row in rows]) if rows else np.zeros((0,))
        out.append(r.reshape(shape + r.shape[1:]))
    return out


# ---- the recorded programs: f(*inputs) -> (output whose sweeps answer, extra outputs) --
def _plain(f, n):
    return lambda *xs: (f(*xs[:n]), [])  # (vjp: the cotangent, last, is a seed)


def _hvp_program(f, n):
    def program(*xs):
        xs, v = xs[:n], xs[n]
        (g,) = autograd.grad(f(*xs), xs[0], create_graph=True)
        return (g * v).sum(), []
    return program


def _hessian_program(f, n):
    def program(*xs):
        (g,) = autograd.grad(f(*xs), xs[0], create_graph=True)
        return g.reshape(-1), []
    return program


def _jvp_program(f, n):
    """<J^T u, t> for a cotangent u of the output's shape, made inside (its value does
    not matter: J^T u is linear in u); the gradient in u is J t (the double-vjp)."""
    def program(*xs):
        from ..creation import zeros

        xs, t = xs[:n], xs[n]
        y = f(*xs)
        u = zeros(y.shape, dtype=y.dtype, requires_grad=True)
        (vjp_u,) = autograd.grad(y, xs[0], grad_outputs=u, create_graph=True)
        return (vjp_u * t).sum(), [y], [u]
    return program


def _aux_program(f, n):
    """f returns (output, aux): aux's tensors become the recording's extra outputs, its
    other items are kept as recorded (a value computed off the tape from a read value is
    guarded by that read)."""
    def program(*xs):
        from ..tensor import Tensor

        r = f(*xs[:n])
        if not isinstance(r, tuple) or len(r) != 2:
            raise TypeError("tapegrad.func: a function transformed with has_aux=True must "
                            f"return a tuple (output, aux), got {type(r).__name__}")
        out, aux = r
        leaves, tree = _flatten(aux)
        tensors = [t for t in leaves if isinstance(t, Tensor)]
        program.tree = (tree, [_AuxTensor(t._dtype.np) if isinstance(t, Tensor) else t
                               for t in leaves])
        return out, [_as_extra(t) for t in tensors]
    return program


def _as_extra(t):
    """An aux tensor as a float tensor the recording can read back (integers and bools
    are computed off the tape: their recorded value is the value)."""
    return t if t._dtype.is_floating_point else t.detach().double()


def _flatten(aux):
    """(the leaves of aux: tensors and other values, its structure) for tuples, lists and
    dicts of leaves, nested."""
    if isinstance(aux, (tuple, list)):
        parts = [_flatten(a) for a in aux]
        return [x for p in parts for x in p[0]], (type(aux), [p[1] for p in parts])
    if isinstance(aux, dict):
        parts = {k: _flatten(a) for k, a in aux.items()}
        return [x for p in parts.values() for x in p[0]], (dict, {k: p[1] for k, p in
                                                                  parts.items()})
    return [aux], None


class _AuxTensor:
    """Where a tensor of aux was, and its dtype (integer and bool values are read back as
    floats and cast back)."""

    __slots__ = ("dtype",)

    def __init__(self, dtype):
        self.dtype = dtype

    def cast(self, value):
        if self.dtype.kind == "f":
            return value
        value = np.asarray(value).astype(self.dtype)
        return value.item() if value.ndim == 0 else value


def _rebuild(tree, values):
    """aux with its tensors replaced by `values` (arrays, in order); aux as recorded."""
    structure, fixed = tree
    it = iter(values)
    leaves = iter([x.cast(next(it)) if isinstance(x, _AuxTensor) else x for x in fixed])

    def build(node):
        if node is None:
            return next(leaves)
        kind, sub = node
        if kind is dict:
            return {k: build(s) for k, s in sub.items()}
        return kind(build(s) for s in sub) if kind is tuple else [build(s) for s in sub]
    return build(structure)


_PROGRAMS = {"grad": _plain, "value_and_grad": _plain, "vjp": _plain, "jacrev": _plain,
             "jacfwd": _plain, "hvp": _hvp_program, "hessian": _hessian_program,
             "jvp": _plain}  # (jvp: _jvp_program where a record has no tangent rule)


# ---- the transforms --------------------------------------------------------------------
def grad(f: Callable, argnums: Argnums = 0, has_aux: bool = False) -> Compiled:
    """The gradient of a function with a one-element output, w.r.t. argument(s)
    `argnums`: `grad(f)(x)` is an array shaped like x (a tuple for a tuple of argnums)."""
    return Compiled(f, argnums, "grad", has_aux=has_aux)


def value_and_grad(f: Callable, argnums: Argnums = 0, has_aux: bool = False) -> Compiled:
    """`(f(x), grad f(x))`: the value (a float for a 0-d output) and the gradient, the
    pair `scipy.optimize.minimize(..., jac=True)` expects."""
    return Compiled(f, argnums, "value_and_grad", has_aux=has_aux)


def vjp(f: Callable, argnums: Argnums = 0, has_aux: bool = False) -> Compiled:
    """`vjp(f)(*args, u)` is `(f(*args), u^T J)`: the value and the vector-Jacobian
    product with the cotangent u (shaped like the output)."""
    return Compiled(f, argnums, "vjp", has_aux=has_aux)


def jacrev(f: Callable, argnums: Argnums = 0) -> Compiled:
    """The Jacobian (output shape + input shape), one reverse sweep per output element
    over one recording."""
    return Compiled(f, argnums, "jacrev")


def jacfwd(f: Callable, argnums: Argnums = 0) -> Compiled:
    """The Jacobian (output shape + input shape) by forward mode: one tangent sweep per
    input element over one recording (reverse sweeps, as `jacrev`, when some record has
    no tangent rule)."""
    return Compiled(f, argnums, "jacfwd")


def hessian(f: Callable, argnums: Argnums = 0) -> Compiled:
    """The Hessian of a one-element output w.r.t. the first of `argnums` (input shape +
    input shape): f and its backward recorded once, one reverse sweep per row."""
    if not isinstance(argnums, int):
        argnums = argnums[0]
    return Compiled(f, argnums, "hessian")


def hvp(f: Callable, argnums: Argnums = 0) -> Compiled:
    """`hvp(f)(*args, v)` is the Hessian-vector product H v (shaped like the input), by
    the gradient of <grad f, v>: f and its backward recorded once, replayed."""
    if not isinstance(argnums, int):
        argnums = argnums[0]
    return Compiled(f, argnums, "hvp")


def jvp(f: Callable, argnums: Argnums = 0) -> Compiled:
    """`jvp(f)(*args, t)` is `(f(*args), J t)`, the Jacobian-vector product with the
    tangent t of the (first) argument `argnums`: one forward sweep and one compiled tangent
    sweep (tapegrad/tape/tangent.py), or, for a function with a record that has no tangent
    rule (a nonlinear reduction, a cast), the gradient of <J^T u, t> in u over a recording
    of f and its backward."""
    return Compiled(f, argnums, "jvp")


from . import _saved  # noqa: E402  (it subclasses Compiled)
from ._saved import Loaded, load  # noqa: E402
