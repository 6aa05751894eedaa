"""backward() and autograd.grad(): the Python side of the one compiled reverse sweep.

Python checks the arguments and calls `sweep.mark` (which marks what the sweep needs and
seeds the roots), then `sweep.reverse` or `reverse1`, which walks the records in reverse
and reports the reached leaves, pausing where a record's backward runs in Python. Only after it succeeded are
gradients written to `.grad`, so a failed backward leaves every `.grad` as it was.

Tensor hooks (tapegrad/autograd/hooks.py) add two things here: a sweep over a tape with
hooked non-leaf tensors runs in segments that stop above each hooked record, where Python
runs the hooks on that tensor's complete adjoint; hooks of leaves run at delivery.
A sweep over records whose saved values were packed by saved-tensor hooks
(saved_hooks.py) runs record by record (anomaly.py's sweep, its checks off).
"""

from sys import getrefcount
from typing import Sequence

import numpy as np

from ..ops.spec import BINARY, COPY, LEAF, PYTHON, UNARY
from ..tape import sweep
from ..tape.records import (DT_F32, DT_F64, ERR_FREED, ERR_VERSION, OK, OTHER, PAUSE, R_IN0, R_IN1, R_IN2, R_OP, R_OUT,
                            R_SEQ, S_DTYPE, S_FLAGS, S_LEAF, S_NUMEL, S_OFF, S_REC, S_SHAPE,
                            S_VER)
from ..tape.tape import _fast, _local, current
from ..tensor import Tensor, _from_array, bump
from . import hooks as _hooks
from . import saved_hooks as _saved
from .anomaly import STATE as _ANOMALY, sweep as _anomaly_sweep

_entry = {}
_SWEEPS = [0]  # sweeps that ran Python: a PYTHON record's state from another one is stale
_HOOKED = _hooks.NONLEAF.data   # tape -> hooks of its non-leaf tensors (never rebound)
_LEAF_HOOKED, _POST_HOOKED = _hooks.LEAF, _hooks.POST


def _sweep(tape, roots, seed, retain):
    G = tape.adjoints()
    args = (tape.R, tape.S, tape.AUX, G[0], G[1], tape.MARK, tape.LIST, roots, seed)
    fn = _entry.get("mark")
    if fn is None:
        fn = _entry["mark"] = _fast(sweep.mark, *args)
    status, a, b, top, bottom = fn(*args)
    if status == OK:
        tape.families = a  # the families this sweep meets
        if _ANOMALY[0]:  # anomaly mode: record by record, checking for NaN (anomaly.py)
            return _pinned(_anomaly_sweep, tape, top, bottom, retain, True, tape.packed)
        if tape.packed and _saved.covers(tape, top, bottom):  # saved-tensor hooks: unpack
            return _pinned(_anomaly_sweep, tape, top, bottom, retain, False, tape.packed)
        if _HOOKED:  # a tape has hooked non-leaf tensors
            return _pinned(_hooked_sweep, tape, top, bottom, retain)
        status, a, b, top = _reverse(tape, top, bottom, top, retain)
        if status == PAUSE:
            a = _pinned(_paused_sweep, tape, a, b, top, retain)
        return a
    if status == ERR_FREED:
        from ..ops import BY_CODE

        raise RuntimeError(
            "Trying to backward through the graph a second time (or directly access saved "
            "tensors after they have already been freed). Saved intermediate values of the graph "
            "are freed when you call .backward() or autograd.grad(). Specify retain_graph=True if "
            "you need to backward through the graph a second time or if you need to access saved "
            f"tensors after calling backward. (The freed record is "
            f"{BY_CODE[int(tape.R[a, R_OP])].grad_fn}.)")
    if status == ERR_VERSION:
        raise RuntimeError(_version_message(tape, a, b))
    return a


def _pinned(fn, tape, *args):
    """fn(tape, *args) with the tape pinned: Python code a sweep runs (a custom Function's
    backward, a hook) may record, but never compacts the tape under the sweep's marks
    and record positions; the tables grow instead (tape.make_room)."""
    tape.pinned += 1
    try:
        return fn(tape, *args)
    finally:
        tape.pinned -= 1


def _paused_sweep(tape, k, bottom, top, retain):
    """The rest of pass 2 after it paused at PYTHON record k; the reached-slot count."""
    _SWEEPS[0] += 1
    paused = []
    status = PAUSE
    while status == PAUSE:  # record k runs in Python; then the sweep goes on below it
        paused.append(_python_step(tape, k))
        status, k, bottom, top = _reverse(tape, k - 1, bottom, top, retain)
    if not retain:
        _release(paused)
    return k


def _hooked_sweep(tape, top, bottom, retain):
    """Pass 2 in segments: it stops above each hooked record this sweep reaches (whose
    adjoint is then complete), runs that tensor's hooks, and goes on."""
    _SWEEPS[0] += 1
    paused = []
    k0 = top
    for k, s, fns in _hooks.marked(tape, bottom, top):
        if k < k0:
            _segment(tape, k0, k + 1, top, True, paused)
        _hooks.run_slot_hooks(tape, s, fns)
        k0 = k
    a = _segment(tape, k0, bottom, top, retain, paused)
    if not retain:
        _release(paused)
    return a


def _release(paused):
    """After a sweep without retain_graph: e.g. a custom Function frees its saved tensors."""
    for f in paused:
        release = getattr(f, "release", None)
        if release is not None:
            release()


def _segment(tape, k0, bottom, top, retain, paused):
    """Pass 2 over records k0 down to `bottom`, running the PYTHON records it pauses at
    (their backward functions are appended to `paused`); returns the reached-slot count."""
    status, a, b, t = _reverse(tape, k0, bottom, top, retain)
    while status == PAUSE:  # record a runs in Python; then the sweep goes on below it
        paused.append(_python_step(tape, a))
        status, a, b, t = _reverse(tape, a - 1, bottom, top, retain)
    return a


def _reverse(tape, k0, bottom, top, retain):
    """Pass 2 from record k0: over the one arena of a tape with one dtype, `reverse1`, or
    `reverse_elementwise` for a sweep that meets only elementwise families while reverse1
    is not loaded yet (a third of reverse1's first-ever compile: what a first program
    needs); `reverse` over both arenas."""
    G = tape.G
    code = _ONE_DTYPE.get(tape.codes)
    if code is None:
        args = (tape.R, tape.S, tape.AUX, tape.A[0], tape.A[1], G[0], G[1], tape.MARK,
                tape.LIST, tape.BUF, k0, bottom, top, retain)
        key, dispatcher = "reverse", sweep.reverse
    else:
        args = (tape.R, tape.S, tape.AUX, tape.A[code], G[code], tape.MARK, tape.LIST,
                tape.BUF, k0, bottom, top, retain)
        if tape.families & ~_ELEMENTWISE_FAMILIES == 0 and code not in _entry:
            key, dispatcher = code + 2, sweep.reverse_elementwise
        else:
            key, dispatcher = code, sweep.reverse1
    fn = _entry.get(key)
    if fn is None:
        fn = _entry[key] = _fast(dispatcher, *args)
    out = fn(*args)
    if out[0] == OTHER:  # (a sweep whose families were not listed: go on with reverse1)
        tape.families = -1
        return _reverse(tape, out[1], bottom, top, retain)
    return out


_ELEMENTWISE_FAMILIES = sum(1 << f for f in (LEAF, UNARY, BINARY, COPY, PYTHON))


_ONE_DTYPE = {1 << DT_F32: DT_F32, 1 << DT_F64: DT_F64}  # tape.codes -> its one arena


def _python_step(tape, k):
    """The backward of PYTHON record k: its function maps the output's adjoint to one
    adjoint (or None) per input, which are added to the inputs the sweep needs. Returns
    the function."""
    S, G, AUX = tape.S, tape.G, tape.AUX
    rk = tape.R[k].tolist()  # Python ints in one call
    so = S[rk[R_OUT]].tolist()
    off, sh = so[S_OFF], so[S_SHAPE]
    g = G[so[S_DTYPE]][off:off + so[S_NUMEL]]
    vjp = tape.python_vjp[rk[R_SEQ]]
    grads = vjp(g.reshape(AUX[sh + 1:sh + 1 + AUX[sh]].tolist()).copy())
    for s, gi in zip((rk[R_IN0], rk[R_IN1], rk[R_IN2]), grads):
        if s < 0 or gi is None or tape.MARK[s] != 1:
            continue
        ss = S[s].tolist()
        Gc, off, n = G[ss[S_DTYPE]], ss[S_OFF], ss[S_NUMEL]
        v = np.asarray(gi, Gc.dtype).reshape(-1)
        if v.size != n:
            raise RuntimeError(f"a Python backward returned a gradient of {v.size} elements for "
                               f"an input of {n}")
        if n == 1:
            Gc[off] += v[0]  # a scalar add: a fifth of a slice's
        else:
            Gc[off:off + n] += v
    return vjp


def _version_message(tape, k, s):
    from ..ops import BY_CODE

    t_shape = [int(d) for d in tape._dims(int(tape.S[s, S_SHAPE]))]
    producer = BY_CODE[int(tape.R[int(tape.S[s, S_REC]), R_OP])]
    dt = "FloatTensor" if tape.S[s, S_DTYPE] == 0 else "DoubleTensor"
    loaded = [v0 for slot, v0 in tape.loaded if slot == s]  # a tensor's array, copied
    if loaded:
        what, then = "", loaded[0]
        now = then + int(tape.S[s, S_VER])
    else:  # (the node's name without its Backward0 suffix, as PyTorch prints it)
        what, now, then = f", which is output 0 of {_strip(producer.grad_fn)},", \
            int(tape.S[s, S_VER]), 0
    user = BY_CODE[int(tape.R[k, R_OP])].grad_fn
    hint = ("the backtrace further above shows the operation that failed to compute its "
            "gradient. The variable in question was changed in there or anywhere later. Good "
            "luck!") if _ANOMALY[0] else (
        "enable anomaly detection to find the operation that failed to compute its gradient, "
        "with torch.autograd.set_detect_anomaly(True, check_nan=False).")
    return (f"one of the variables needed for gradient computation has been modified by an "
            f"inplace operation: [torch.{dt} {t_shape}]{what} is at version {now}; expected "
            f"version {then} instead. Hint: {hint} (needed by {user})")


def _strip(node: str) -> str:
    """ExpBackward0 -> Exp."""
    return node.rstrip("0123456789").removesuffix("Backward") or node


_NO_SEED = np.zeros(0)  # seed for roots that are all scalars: their adjoint starts at 1


def _roots(tensors, grad_tensors, op):
    """This tape, the root slots and the flat float64 seed."""
    from ..functions import _slots

    tape = current()
    roots, seeds = [], []
    for i, (t, g) in enumerate(zip(tensors, grad_tensors)):
        if not isinstance(t, Tensor):
            raise TypeError(f"{op}: expected a Tensor as output {i}, got {type(t).__name__}")
        if not t._rg:
            raise RuntimeError(f"element {i} of tensors does not require grad and does not have a "
                               f"grad_fn ({op}() of a {t._dtype} tensor of shape "
                               f"{list(t._shape)})")
        if t._tape is not None and t._tape is not tape:
            raise RuntimeError(f"{op}: this tensor was recorded by another thread; each thread "
                               "backpropagates through its own tape")
        if g is None:
            if t.numel() != 1:
                raise RuntimeError(f"grad can be implicitly created only for scalar outputs "
                                   f"({op}() of a tensor of shape {list(t._shape)} needs a "
                                   f"gradient argument of that shape)")
            g = np.ones(1)
        else:
            if not isinstance(g, Tensor):
                g = _from_array(np.asarray(g, t._dtype.np), t._dtype, False)
            if g._shape != t._shape:
                raise RuntimeError(f"Mismatch in shape: grad_output[{i}] has a shape of "
                                   f"torch.Size({list(g._shape)}) and output[{i}] has a shape of "
                                   f"torch.Size({list(t._shape)}).")
            g = np.asarray(g._value(), np.float64).reshape(-1)
        seeds.append(g)
        roots.append(t)
    slots = _slots(tape, None, *roots)  # a leaf as a root: its gradient is the seed
    return tape, np.array(slots, np.int64), np.concatenate(seeds)


def _accumulate(t, g):
    """t.grad += g (in place when t owns a gradient array, as PyTorch's AccumulateGrad).

    A parameter of an optimizer has a grad home (`_ghome`, a view of the optimizer's flat
    gradient buffer): a new .grad is written there, unless an earlier .grad tensor made
    there is still alive (then that one keeps its values and the new one is allocated)."""
    if t._grad is None:
        if getattr(t, "_ghome", None) is not None and _home_refs(t) <= _HOME_FREE and \
                t._ghome.shape == g.shape and t._ghome.dtype == g.dtype:
            home = t._ghome
            np.copyto(home, g)
            t._grad = _from_array(home, t._dtype, False)
        else:
            t._grad = _from_array(np.array(g), t._dtype, False)
    elif t._grad._tape is None and t._grad._shape == g.shape:
        t._grad._arr += g
        bump(t._grad._vc)
    else:
        t._grad = _from_array(t._grad._value() + g, t._dtype, False)


def _home_refs(t):
    """References to t's grad home array (its slot, a .grad made there, arrays from it)."""
    home = t._ghome
    return getrefcount(home)


class _Probe:
    __slots__ = ("_ghome",)


_probe = _Probe()
_probe._ghome = np.zeros(1)
_HOME_FREE = _home_refs(_probe)  # the count when only the slot holds it
del _probe


def backward(tensors: "Tensor | Sequence[Tensor]",
             grad_tensors: "Tensor | Sequence[Tensor | None] | None" = None,
             retain_graph: "bool | None" = None, create_graph: bool = False,
             inputs: "Tensor | Sequence[Tensor] | None" = None) -> None:
    """torch.autograd.backward: accumulate d(tensors)/d(leaf) into each leaf's .grad."""
    tensors = (tensors,) if isinstance(tensors, Tensor) else tuple(tensors)
    if grad_tensors is None:
        grad_tensors = (None,) * len(tensors)
    elif isinstance(grad_tensors, Tensor):
        grad_tensors = (grad_tensors,)
    if len(grad_tensors) != len(tensors):
        raise RuntimeError(f"grad_tensors has {len(grad_tensors)} elements but tensors has "
                           f"{len(tensors)}")
    if create_graph:  # the backward pass recorded on the tape (higher.py)
        from . import higher

        return higher.backward(tensors, grad_tensors, retain_graph, inputs)
    if len(tensors) == 1 and grad_tensors[0] is None and inputs is None:
        t = tensors[0]  # loss.backward(): the common case, without the general checks
        tape = t._tape
        if tape is not None and t._rg and t._shape in _SCALAR_SHAPES and tape is current():
            _run(tape, _root(t), _NO_SEED, bool(retain_graph))
            return
    tape, roots, seed = _roots(tensors, grad_tensors, "backward")
    retain = bool(retain_graph) if retain_graph is not None else create_graph
    if inputs is not None:
        return _backward_inputs(tape, roots, seed, retain, inputs)
    _run(tape, roots, seed, retain)


_SCALAR_SHAPES = {(), (1,), (1, 1), (1, 1, 1)}


def _root(t):
    """The roots array of a sweep from tensor t alone: its tape's one-element array (read
    only by `sweep.mark`, before any Python a sweep runs could start another one)."""
    r = t._tape.ROOT
    r[0] = t._slot
    return r


def _run(tape, roots, seed, retain):
    n = _sweep(tape, roots, seed, retain)
    if n:
        _deliver(tape, tape.BUF[:n].tolist())
    if not retain:
        tape.settle()


def _deliver(tape, slots):
    if _LEAF_HOOKED or _POST_HOOKED:
        return _hooks.deliver(tape, slots, _accumulate)
    S, G = tape.S, tape.G
    for s in slots:
        off, n = S[s, S_OFF], S[s, S_NUMEL]
        if S[s, S_FLAGS] & S_LEAF:
            t = tape.leaf_of[s]
        else:
            t = tape.retained.get(s)
            if t is None:
                continue
        _accumulate(t, G[t._dtype.code][off:off + n].reshape(t._shape))


def _backward_inputs(tape, roots, seed, retain, inputs):
    """backward(inputs=...): accumulate only into the given tensors (leaves or not)."""
    inputs = (inputs,) if isinstance(inputs, Tensor) else tuple(inputs)
    if not inputs:
        raise RuntimeError("'inputs' argument to backward() cannot be empty.")
    grads = _grads(tape, roots, seed, retain, inputs, allow_unused=True)
    for t, g in zip(inputs, grads):
        if g is not None:
            _accumulate(t, g)
    if _POST_HOOKED:
        for t, g in zip(inputs, grads):
            if g is not None:
                _hooks.run_post_hooks(t)


def _grads(tape, roots, seed, retain, inputs, allow_unused):
    """Adjoints of `inputs` (NumPy arrays, None where unreached) after one sweep."""
    wanted = []
    for i, t in enumerate(inputs):
        if not isinstance(t, Tensor):
            raise TypeError(f"grad: expected a Tensor as input {i}, got {type(t).__name__}")
        if not t._rg:
            raise RuntimeError(f"One of the differentiated Tensors does not require grad (grad() "
                               f"input {i}, a {t._dtype} tensor of shape {list(t._shape)})")
        wanted.append((t._slot,) if t._tape is tape else tape.leaf_slots.get(id(t), ()))
    _sweep(tape, roots, seed, retain)
    out = []
    for i, t in enumerate(inputs):
        g = _gathered(tape, t, wanted[i])
        if g is None and not allow_unused:
            raise _unused(i)
        out.append(g)
    return out


def _unused(i):
    return RuntimeError(f"The differentiated Tensor at index {i} appears to not have been used "
                        "in the graph. Set allow_unused=True if this is the desired behavior.")


def _tensors(inputs, grads, materialize):
    """grad()'s answer: the adjoints as tensors (zeros, or None, where unreached)."""
    return tuple((_from_array(np.zeros(t._shape, t._dtype.np), t._dtype, False)
                  if materialize else None) if g is None else _from_array(g, t._dtype, False)
                 for t, g in zip(inputs, grads))


def _gathered(tape, t, slots):
    """The adjoint of tensor t after a sweep: the sum over its slots the sweep reached (a
    new array of t's shape), through t's leaf hooks; None when it reached none."""
    g = None
    MARK, S = tape.MARK, tape.S
    for s in slots:
        if MARK.item(s):  # (.item: a Python int, a third of indexing's cost)
            off = S.item(s, S_OFF)
            v = tape.G[t._dtype.code][off:off + S.item(s, S_NUMEL)]
            if g is None:
                g = v.copy()  # (a fresh contiguous array: reshaped in place)
                g.shape = t._shape
            else:
                g = g + v.reshape(t._shape)
    if g is not None and _LEAF_HOOKED and t._tape is None:
        g = _hooks.run_leaf_hooks(t, g)
    return g


def grad(outputs: "Tensor | Sequence[Tensor]", inputs: "Tensor | Sequence[Tensor]",
         grad_outputs: "Tensor | Sequence[Tensor | None] | None" = None,
         retain_graph: "bool | None" = None, create_graph: bool = False,
         only_inputs: bool = True, allow_unused: "bool | None" = None,
         is_grads_batched: bool = False,
         materialize_grads: bool = False) -> "tuple[Tensor | None, ...]":
    """torch.autograd.grad: the gradients of outputs w.r.t. inputs, as new tensors."""
    if type(outputs) is Tensor and type(inputs) is Tensor and grad_outputs is None and \
            not (create_graph or is_grads_batched) and outputs._rg and inputs._rg:
        tape = outputs._tape  # grad(loss, x): the common case, without the general checks
        if tape is not None and tape is _local.tape and outputs._shape in _SCALAR_SHAPES:
            slots = (inputs._slot,) if inputs._tape is tape else \
                tape.leaf_slots.get(id(inputs), ())
            _sweep(tape, _root(outputs), _NO_SEED, bool(retain_graph))
            g = _gathered(tape, inputs, slots)
            if not retain_graph:
                tape.settle()
            if g is not None:
                return (_from_array(g, inputs._dtype, False),)
            if not (materialize_grads if allow_unused is None else allow_unused):
                raise _unused(0)
            return _tensors((inputs,), (None,), materialize_grads)
    if is_grads_batched:
        raise NotImplementedError("grad: is_grads_batched=True is not supported yet")
    outputs = (outputs,) if isinstance(outputs, Tensor) else tuple(outputs)
    single = isinstance(inputs, Tensor)
    inputs = (inputs,) if single else tuple(inputs)
    if grad_outputs is None:
        grad_outputs = (None,) * len(outputs)
    elif isinstance(grad_outputs, Tensor):
        grad_outputs = (grad_outputs,)
    if allow_unused is None:
        allow_unused = materialize_grads
    if create_graph:  # the backward pass recorded on the tape (higher.py)
        from . import higher

        return higher.grad(outputs, inputs, grad_outputs, retain_graph, allow_unused,
                           materialize_grads)
    t = outputs[0]
    if len(outputs) == 1 and grad_outputs[0] is None and t._rg and t._tape is not None \
            and t._tape is current() and t._shape in _SCALAR_SHAPES:
        tape, roots, seed = t._tape, _root(t), _NO_SEED  # the common case
    else:
        tape, roots, seed = _roots(outputs, grad_outputs, "grad")
    retain = bool(retain_graph) if retain_graph is not None else create_graph
    grads = _grads(tape, roots, seed, retain, inputs, allow_unused)
    if not retain:
        tape.settle()
    return _tensors(inputs, grads, materialize_grads)

