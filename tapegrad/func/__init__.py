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
from ._trace import Variant, as_input

__all__ = ["grad", "value_and_grad", "vjp", "jacrev", "jacfwd", "hessian", "hvp", "jvp",
           "Compiled", "load", "Loaded"]

Argnums = Union[int, Tuple[int, ...]]


class Compiled:
    """A transform of `f` (see the module docstring); call it like `f`, on arrays.

    `.tape` is the tape of the latest recording (print it for its Wengert listing),
    `.variants` the number of recordings made so far."""

    def __init__(self, f: Callable, argnums: Argnums, kind: str, max_variants: int = 8):
        if not callable(f):
            raise TypeError(f"tapegrad.func.{kind}: expected a function, got {type(f).__name__}")
        self.f, self.kind, self.max_variants = f, kind, max_variants
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
                if kind == "value_and_grad" or kind == "grad":  # one compiled call
                    for v in variants:
                        r = v.replay_grad(args, wrt)
                        if r is not None:
                            g = r[1][0] if self.single else tuple(r[1])
                            return g if kind == "grad" else (r[0], g)
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
                    return self._answer(v, wrt, arrays, nargs)
                self._go_eager(v)
            else:
                self._go_eager(variants[0], capped=True)
        v = self._record(arrays, statics, nargs)  # eager: a recording used once
        return self._answer(v, wrt, arrays, nargs)

    def _record(self, arrays, statics, nargs, key=None):
        v = Variant(_PROGRAMS[self.kind](self.f, nargs), arrays, statics, self.kind)
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
        if kind == "jvp":  # output <J^T u, t>; its gradient in u (made inside, after the
            (jt,) = v.gradients((len(arrays),))  # arrays) is J t
            return v.output(0), jt.reshape(np.shape(v.extras[0][0]))
        raise AssertionError(kind)

    def _pack(self, grads):
        return grads[0] if self.single else tuple(grads)

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


_EXTRA_ARGS = {"grad": 0, "value_and_grad": 0, "vjp": 1, "jacrev": 0, "hessian": 0,
               "hvp": 1, "jvp": 1}


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


_PROGRAMS = {"grad": _plain, "value_and_grad": _plain, "vjp": _plain, "jacrev": _plain,
             "hvp": _hvp_program, "hessian": _hessian_program, "jvp": _jvp_program}


# ---- the transforms --------------------------------------------------------------------
def grad(f: Callable, argnums: Argnums = 0) -> Compiled:
    """The gradient of a function with a one-element output, w.r.t. argument(s)
    `argnums`: `grad(f)(x)` is an array shaped like x (a tuple for a tuple of argnums)."""
    return Compiled(f, argnums, "grad")


def value_and_grad(f: Callable, argnums: Argnums = 0) -> Compiled:
    """`(f(x), grad f(x))`: the value (a float for a 0-d output) and the gradient, the
    pair `scipy.optimize.minimize(..., jac=True)` expects."""
    return Compiled(f, argnums, "value_and_grad")


def vjp(f: Callable, argnums: Argnums = 0) -> Compiled:
    """`vjp(f)(*args, u)` is `(f(*args), u^T J)`: the value and the vector-Jacobian
    product with the cotangent u (shaped like the output)."""
    return Compiled(f, argnums, "vjp")


def jacrev(f: Callable, argnums: Argnums = 0) -> Compiled:
    """The Jacobian (output shape + input shape), one reverse sweep per output element
    over one recording."""
    return Compiled(f, argnums, "jacrev")


def jacfwd(f: Callable, argnums: Argnums = 0) -> Compiled:
    """The Jacobian, as `jacrev` computes it (tapegrad replays reverse sweeps; the values
    are the same as forward mode's)."""
    return Compiled(f, argnums, "jacrev")


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
    """`jvp(f)(*args, t)` is `(f(*args), J t)`, the Jacobian-vector product."""
    return Compiled(f, argnums, "jvp")


from . import _saved  # noqa: E402  (it subclasses Compiled)
from ._saved import Loaded, load  # noqa: E402
