"""gradcheck: analytical gradients (reverse sweeps) against central differences.

The analytical Jacobian of every differentiable output with respect to every input that
requires grad comes from one recorded call of `func`: one reverse sweep per output
element over that one tape (retain_graph=True; autograd/functional.py). The numerical
one perturbs each input element by +-eps in the input's own dtype (on a copy of the
input: the caller's tensors are never written) and divides the difference of the
outputs by 2 eps in the output's dtype. Jacobians are laid out (input numel, output
numel) and the failure message is PyTorch's.

tapegrad has no vmap and no forward-mode AD: `check_batched_grad` is accepted and adds
nothing (every row is computed one at a time already), nor does `check_grad_dtypes`
(a gradient always has its input's dtype); `check_forward_ad=True` raises
NotImplementedError. `gradgradcheck` runs gradcheck on the recorded gradient
(create_graph=True, tapegrad/autograd/higher.py) as a function of the inputs and of the
output gradients.
`check_undefined_grad` runs a sweep with zero output gradients and expects zero input
gradients (tapegrad materializes undefined gradients as zeros).
"""

import warnings
from typing import Callable, Sequence

import numpy as np

from .. import dtypes
from ..tensor import Tensor, _from_array
from .functional import jacobian_blocks
from .grad_mode import enable_grad, no_grad

__all__ = ["GradcheckError", "gradcheck", "gradgradcheck"]

_FAST_NOTE = ("\nThe above quantities relating the numerical and analytical jacobians are "
              "computed \nin fast mode. See: https://github.com/pytorch/pytorch/issues/53876 "
              "for more background \nabout fast mode. Below, we recompute numerical and "
              "analytical jacobians in slow mode:\n\n")


class GradcheckError(RuntimeError):
    """Raised by gradcheck when the analytical and numerical gradients disagree."""


def _as_inputs(inputs):
    return (inputs,) if isinstance(inputs, Tensor) else tuple(inputs)


def _outputs(out):
    """The float tensor outputs of func, as (index among them, tensor)."""
    out = out if isinstance(out, (tuple, list)) else (out,)
    return [o for o in out if isinstance(o, Tensor) and o._dtype.is_floating_point]


def _run(func, args):
    with no_grad():
        return [np.array(o._value()) for o in _outputs(func(*args))]


def _numerical(func, args, j, direction=None, eps=1e-6):
    """d outputs / d args[j] by central differences: per output, an array (in numel,
    out numel), or, along `direction` (an array shaped like args[j]), (out numel,)."""
    x = args[j]
    base = np.array(x._value())
    flat = base.reshape(-1)
    cols = [None] if direction is not None else range(flat.size)
    rows = []
    for e in cols:
        vals = []
        for sign in (1, -1):
            if direction is None:
                p = base.copy()
                p.reshape(-1)[e] = flat[e] + sign * x._dtype.np.type(eps)
            else:
                p = (base + sign * eps * direction).astype(x._dtype.np)
            new = list(args)
            new[j] = _from_array(p, x._dtype, False)
            vals.append(_run(func, new))
        rows.append([((a - b) / a.dtype.type(2 * eps)).reshape(-1) for a, b in zip(*vals)])
    per_out = list(zip(*rows)) if rows and rows[0] else []
    return [np.stack(cols_i) if direction is None else cols_i[0] for cols_i in per_out]


def _tensor(a, dt):
    return _from_array(np.asarray(a, dt.np), dt, False)


def _fail(msg, raise_exception):
    if raise_exception:
        raise GradcheckError(msg)
    return False


def gradcheck(func: Callable, inputs: "Tensor | Sequence[Tensor]", *, eps: float = 1e-6,
              atol: float = 1e-5,
              rtol: float = 1e-3, raise_exception: bool = True, nondet_tol: float = 0.0,
              check_undefined_grad: bool = True, check_grad_dtypes: bool = False,
              check_batched_grad: bool = False, check_batched_forward_grad: bool = False,
              check_forward_ad: bool = False, check_backward_ad: bool = True,
              fast_mode: bool = False, masked: "bool | None" = None) -> bool:
    """Check func's gradients with respect to the inputs that require grad against
    central differences: True, or GradcheckError (False with raise_exception=False)."""
    if check_forward_ad or check_batched_forward_grad:
        raise NotImplementedError("gradcheck(check_forward_ad=True): tapegrad has no "
                                  "forward-mode AD")
    if masked:
        raise NotImplementedError("gradcheck(masked=True) is for sparse tensors, which tapegrad "
                                  "does not have")
    args = _as_inputs(inputs)
    diff = [j for j, t in enumerate(args) if isinstance(t, Tensor) and t._rg]
    if not diff:
        raise ValueError("gradcheck expects at least one input tensor to require gradient, but "
                         "none of them have requires_grad=True.")
    for idx in diff:
        if args[idx]._dtype is not dtypes.float64:
            warnings.warn(f"Input #{idx} requires gradient and is not a double precision "
                          "floating point or complex. This check will likely fail if all the "
                          "inputs are not of double precision floating point or complex. ",
                          UserWarning, stacklevel=2)
    if not check_backward_ad:
        return True
    with enable_grad():
        outputs = _outputs(func(*args))
    ins = [args[j] for j in diff]
    rg_idx = [i for i, o in enumerate(outputs) if o._rg]
    rg = [outputs[i] for i in rg_idx]
    if fast_mode:
        return _fast(func, args, diff, ins, outputs, rg_idx, eps, atol, rtol, raise_exception)
    analytical = jacobian_blocks(rg, ins)
    for jj, j in enumerate(diff):
        numerical = _numerical(func, args, j, eps=eps)
        for i, o in enumerate(outputs):  # an output not requiring grad must not depend on x
            if not o._rg and not np.allclose(numerical[i], 0.0, rtol=rtol, atol=atol):
                return _fail("Numerical gradient for function expected to be zero",
                             raise_exception)
        for r, i in enumerate(rg_idx):
            n, o = numerical[i], outputs[i]
            a = analytical[r][jj]
            a = np.zeros((o.numel(), ins[jj].numel())) if a is None else a
            if not np.allclose(a.T, n, rtol=rtol, atol=atol):
                return _fail(f"Jacobian mismatch for output {r} with respect to input {jj},\n"
                             f"numerical:{_tensor(n, ins[jj]._dtype)}\n"
                             f"analytical:{_tensor(a.T, o._dtype)}\n", raise_exception)
    again = jacobian_blocks(rg, ins)  # the same sweeps once more: is backward reentrant?
    for r1, r2 in zip(analytical, again):
        for a1, a2 in zip(r1, r2):
            if a1 is not None and np.max(np.abs(a1 - a2), initial=0.0) > nondet_tol:
                return _fail("Backward is not reentrant, i.e., running backward with same input "
                             "and grad_output multiple times gives different values, although "
                             "analytical gradient matches numerical gradient.The tolerance for "
                             f"nondeterminism was {nondet_tol}.", raise_exception)
    if check_undefined_grad and rg:
        from .engine import _grads, _roots

        tape, roots, _ = _roots(rg, [np.zeros(o._shape) for o in rg], "gradcheck")
        seed = np.zeros(sum(o.numel() for o in rg))
        for g in _grads(tape, roots, seed, True, ins, allow_unused=True):
            if g is not None and np.any(g != 0):
                return _fail("Expected backward function to handle undefined output grads: "
                             "zero output gradients gave a nonzero input gradient",
                             raise_exception)
    return True


def _fast(func, args, diff, ins, outputs, rg_idx, eps, atol, rtol, raise_exception):
    """fast_mode: compare v^T J u (one directional difference per input, one vjp per
    output) for random u and v instead of the whole Jacobians."""
    from ..creation import _rng
    from .engine import _grads, _roots

    gen = _rng[0]
    us = [gen.standard_normal(t._shape) for t in ins]
    dirs = [_numerical(func, args, j, direction=u, eps=eps) for j, u in zip(diff, us)]
    for i, o in enumerate(outputs):
        if not o._rg and any(not np.allclose(d[i], 0.0, rtol=rtol, atol=atol) for d in dirs):
            return _fail("Numerical gradient for function expected to be zero", raise_exception)
    for r, i in enumerate(rg_idx):
        o = outputs[i]
        v = gen.standard_normal(o._shape)
        tape, roots, seed = _roots([o], [v], "gradcheck")
        grads = _grads(tape, roots, seed, True, ins, allow_unused=True)
        for jj, j in enumerate(diff):
            n = float(np.dot(v.reshape(-1), dirs[jj][i]))
            g = grads[jj]
            a = 0.0 if g is None else float(np.dot(g.reshape(-1), us[jj].reshape(-1)))
            if not np.isclose(a, n, rtol=rtol, atol=atol):
                numerical = _numerical(func, args, j, eps=eps)[i]
                block = jacobian_blocks([o], ins)[0][jj]
                block = np.zeros((o.numel(), ins[jj].numel())) if block is None else block
                return _fail(f"Jacobian mismatch for output {r} with respect to input {jj},\n"
                             f"numerical:{n}\nanalytical:{a}\n{_FAST_NOTE}"
                             f"Numerical:\n {_tensor(numerical, ins[jj]._dtype)}\n"
                             f"Analytical:\n{_tensor(block.T, o._dtype)}\n\n"
                             "The max per-element difference (slow mode) is: "
                             f"{float(np.max(np.abs(numerical - block.T)))}.\n",
                             raise_exception)
    return True


def gradgradcheck(func: Callable, inputs: "Tensor | Sequence[Tensor]",
                  grad_outputs: "Tensor | Sequence[Tensor] | None" = None, *, eps: float = 1e-6,
                  atol: float = 1e-5, rtol: float = 1e-3,
                  gen_non_contig_grad_outputs: bool = False, raise_exception: bool = True,
                  nondet_tol: float = 0.0, check_undefined_grad: bool = True,
                  check_grad_dtypes: bool = False, check_batched_grad: bool = False,
                  check_fwd_over_rev: bool = False, check_rev_over_rev: bool = True,
                  fast_mode: bool = False, masked: bool = False) -> bool:
    """Second-order gradcheck: gradcheck of (inputs, grad_outputs) -> the gradients of
    func's outputs seeded with grad_outputs (recorded, create_graph=True). grad_outputs
    default to random tensors that require grad."""
    from ..creation import _rng
    from . import higher

    if check_fwd_over_rev:
        raise NotImplementedError("gradgradcheck(check_fwd_over_rev=True): tapegrad has no "
                                  "forward-mode AD")
    args = _as_inputs(inputs)
    n = len(args)
    diff = [j for j, t in enumerate(args) if isinstance(t, Tensor) and t._rg]
    if grad_outputs is None:
        with enable_grad():
            outs = [o for o in _outputs(func(*args)) if o._rg]
        gen = _rng[0]
        grad_outputs = tuple(_from_array(gen.standard_normal(o._shape).astype(o._dtype.np),
                                         o._dtype, True) for o in outs)
    else:
        grad_outputs = _as_inputs(grad_outputs)

    def grads_of(*xs):
        with enable_grad():
            ins = list(xs[:n])
            for j in diff:  # a perturbed copy (numerical pass): a leaf to differentiate
                if not ins[j]._rg:
                    ins[j] = ins[j].detach().requires_grad_(True)
            outs = [o for o in _outputs(func(*ins)) if o._rg]
            return higher.grad(outs, [ins[j] for j in diff], tuple(xs[n:]), True, True, True)

    return gradcheck(grads_of, args + tuple(grad_outputs), eps=eps, atol=atol, rtol=rtol,
                     raise_exception=raise_exception, nondet_tol=nondet_tol,
                     check_undefined_grad=check_undefined_grad, fast_mode=fast_mode)
