"""autograd.functional: vjp, jvp and jacobian of a Python function (PyTorch's signatures).

`func` is recorded once, on leaves that are detached copies of the inputs; every
Jacobian row is then one reverse sweep over that one tape (retain_graph=True) seeded
with a unit vector, so `func` never runs again per row. `jvp` is J @ v from those rows
(PyTorch's double-vjp trick gives the same numbers; the cost is one sweep per output
element, not two backward passes). With `create_graph=True` (tapegrad/autograd/higher.py: the
backward pass recorded on the tape) the results carry a graph: `vjp` by one recorded
backward, `jvp` by the double-vjp trick, `jacobian` by one recorded backward per output
element. `hessian` records the gradient once and sweeps it per row; `hvp`/`vhp` are a
double backward. `vectorize=True`
is accepted and computes the same rows (tapegrad has no vmap); `strategy="forward-mode"`
(with `vectorize=True`, as PyTorch requires) is computed by reverse sweeps too.
"""

from typing import Callable

import numpy as np

from ..tensor import Tensor, _from_array
from .grad_mode import enable_grad

__all__ = ["vjp", "jvp", "jacobian", "hessian", "hvp", "vhp"]


def _as_tuple(inp, arg_name, fn_name):
    """(was it a tuple, the tensors as a tuple), with PyTorch's TypeError otherwise."""
    is_tuple = isinstance(inp, tuple)
    if not is_tuple:
        inp = (inp,)
    for i, el in enumerate(inp):
        if not isinstance(el, Tensor):
            where = f"the value at index {i} has type" if is_tuple else \
                f"the given {arg_name} has type"
            raise TypeError(f"The {arg_name} given to {fn_name} must be either a Tensor or a "
                            f"tuple of Tensors but {where} {type(el)}.")
    return is_tuple, inp


def _tuple_postprocess(res, to_unpack):
    if isinstance(to_unpack, tuple):
        if not to_unpack[1]:
            res = tuple(el[0] for el in res)
        if not to_unpack[0]:
            res = res[0]
    elif not to_unpack:
        res = res[0]
    return res


def _leaves(inputs):
    """Detached copies of the inputs that require grad: func is recorded on these."""
    return tuple(t.detach().requires_grad_(True) for t in inputs)


def _check_requires_grad(outputs, strict):
    if strict:
        for i, o in enumerate(outputs):
            if not o._rg:
                raise RuntimeError(f"Output {i} of the user-provided function does not require "
                                   "gradients. The outputs must be computed in a differentiable "
                                   "manner from the input when running in strict mode.")


def _validate_v(v, other, is_other_tuple):
    if len(other) != len(v):
        kind = "v is a tuple of invalid length" if is_other_tuple else "v has invalid length"
        raise RuntimeError(f"{kind}: should be {len(other)} but got {len(v)}.")
    for idx, (el_v, el_other) in enumerate(zip(v, other)):
        if el_v.shape != el_other.shape:
            what = f"Entry {idx} in v" if is_other_tuple else "v"
            raise RuntimeError(f"{what} has invalid size: should be {el_other.shape} but got "
                               f"{el_v.shape}.")


def _zeros(t):
    return _from_array(np.zeros(t._shape, t._dtype.np), t._dtype, False)


def _detached(outputs):
    return tuple(_from_array(np.array(o._value()), o._dtype, False) for o in outputs)


def jacobian_blocks(outputs: "list | tuple", inputs: "list | tuple") -> list:
    """J[i][j]: d outputs[i] / d inputs[j] as a NumPy array (out_i numel, in_j numel) in
    the input's dtype, or None where outputs[i] does not depend on inputs[j]. One reverse
    sweep per output element over the tape the outputs were recorded on (retain_graph)."""
    from .engine import _grads, _roots

    blocks = []
    for o in outputs:
        row = [None] * len(inputs)
        if o._rg and o._dtype.is_floating_point:
            tape, roots, _ = _roots([o], [np.ones(o._shape)], "jacobian")
            n = o.numel()
            seed = np.zeros(n)
            for k in range(n):
                seed[k] = 1.0
                grads = _grads(tape, roots, seed, True, inputs, allow_unused=True)
                seed[k] = 0.0
                for j, g in enumerate(grads):
                    if g is not None:
                        if row[j] is None:
                            row[j] = np.zeros((n, inputs[j].numel()), inputs[j]._dtype.np)
                        row[j][k] = g.reshape(-1)
        blocks.append(row)
    return blocks


def vjp(func: Callable, inputs, v=None, create_graph: bool = False,
        strict: bool = False) -> tuple:
    """(func(*inputs), v^T J): the vector-Jacobian product of func at inputs (one sweep).
    `v` may be None only when func returns a single one-element tensor."""
    from .engine import _grads, _roots

    with enable_grad():
        is_inputs_tuple, inputs = _as_tuple(inputs, "inputs", "vjp")
        inputs = _graph_leaves(inputs, create_graph)
        outputs = func(*inputs)
        is_outputs_tuple, outputs = _as_tuple(outputs, "outputs of the user-provided function",
                                              "vjp")
        _check_requires_grad(outputs, strict)
        if v is not None:
            _, v = _as_tuple(v, "v", "vjp")
            _validate_v(v, outputs, is_outputs_tuple)
        elif len(outputs) != 1 or outputs[0].numel() != 1:
            raise RuntimeError("The vector v can only be None if the user-provided function "
                               "returns a single Tensor with a single element.")
        vs = (None,) * len(outputs) if v is None else v
        pairs = [(o, g) for o, g in zip(outputs, vs) if o._rg]
        grads = [None] * len(inputs)
        if pairs and create_graph:  # gradients that carry their graph (higher.py)
            from . import higher

            grads = higher.grad([p[0] for p in pairs], inputs, [p[1] for p in pairs], True,
                                True, False)
            res = tuple(_zeros(t) if g is None else g for t, g in zip(inputs, grads))
            return (_tuple_postprocess(tuple(outputs), is_outputs_tuple),
                    _tuple_postprocess(res, is_inputs_tuple))
        if pairs:
            tape, roots, seed = _roots([p[0] for p in pairs], [p[1] for p in pairs], "grad")
            grads = _grads(tape, roots, seed, False, inputs, allow_unused=True)
    res = []
    for i, (g, t) in enumerate(zip(grads, inputs)):
        if g is None:
            if strict:
                raise RuntimeError(f"The output of the user-provided function is independent of "
                                   f"input {i}. This is not allowed in strict mode.")
            res.append(_zeros(t))
        else:
            res.append(_from_array(g, t._dtype, False))
    return (_tuple_postprocess(_detached(outputs), is_outputs_tuple),
            _tuple_postprocess(tuple(res), is_inputs_tuple))


def jvp(func: Callable, inputs, v=None, create_graph: bool = False,
        strict: bool = False) -> tuple:
    """(func(*inputs), J v): the Jacobian-vector product, computed as J @ v from the
    Jacobian's rows (one reverse sweep per output element; see the module docstring).
    `v` may be None only when the input is a single one-element tensor."""
    with enable_grad():
        is_inputs_tuple, inputs = _as_tuple(inputs, "inputs", "jvp")
        inputs = _graph_leaves(inputs, create_graph)
        if v is not None:
            _, v = _as_tuple(v, "v", "jvp")
            _validate_v(v, inputs, is_inputs_tuple)
        elif len(inputs) != 1 or inputs[0].numel() != 1:
            raise RuntimeError("The vector v can only be None if the input to the user-provided "
                               "function is a single Tensor with a single element.")
        outputs = func(*inputs)
        is_outputs_tuple, outputs = _as_tuple(outputs, "outputs of the user-provided function",
                                              "jvp")
        _check_requires_grad(outputs, strict)
        if create_graph:  # the double-vjp trick, recorded: u -> J^T u, then v -> J v
            return _jvp_graph(outputs, inputs, v, is_outputs_tuple)
        blocks = jacobian_blocks(outputs, inputs)
    vs = [np.ones(1)] if v is None else [np.asarray(t._value(), np.float64).reshape(-1)
                                         for t in v]
    if strict:
        for j in range(len(inputs)):
            if all(row[j] is None for row in blocks):
                raise RuntimeError(f"The output of the user-provided function is independent of "
                                   f"input {j}. This is not allowed in strict mode.")
        for i, row in enumerate(blocks):
            if all(b is None for b in row):
                raise RuntimeError(f"The gradient with respect to the input is independent of "
                                   f"entry {i} in the grad_outputs when using the double backward "
                                   "trick to compute forward mode gradients. This is not allowed "
                                   "in strict mode.")
    res = []
    for o, row in zip(outputs, blocks):
        acc = np.zeros(o.numel())
        for b, vj in zip(row, vs):
            if b is not None:
                acc += b @ vj
        res.append(_from_array(acc.astype(o._dtype.np).reshape(o._shape), o._dtype, False))
    return (_tuple_postprocess(_detached(outputs), is_outputs_tuple),
            _tuple_postprocess(tuple(res), is_outputs_tuple))


def _jvp_graph(outputs, inputs, v, is_outputs_tuple):
    from . import higher

    vs = v if v is not None else (_from_array(np.ones(inputs[0]._shape, inputs[0]._dtype.np),
                                              inputs[0]._dtype, False),)
    us = tuple(_zeros(o).requires_grad_(True) for o in outputs)
    diff = [(o, u) for o, u in zip(outputs, us) if o._rg]
    res = [None] * len(outputs)
    if diff:
        gs = higher.grad([d[0] for d in diff], inputs, [d[1] for d in diff], True, True, False)
        pairs = [(g, w) for g, w in zip(gs, vs) if g is not None and g._rg]
        if pairs:
            res = list(higher.grad([p[0] for p in pairs], us, [p[1] for p in pairs], True, True,
                                   False))
    res = tuple(_zeros(o) if r is None else r for o, r in zip(outputs, res))
    return (_tuple_postprocess(tuple(outputs), is_outputs_tuple),
            _tuple_postprocess(res, is_outputs_tuple))


def jacobian(func: Callable, inputs, create_graph: bool = False, strict: bool = False,
             vectorize: bool = False, strategy: str = "reverse-mode"):
    """The Jacobian of func at inputs: a tensor of shape output.shape + input.shape, in
    tuples when func takes (inputs) or returns (outputs) tuples ([output][input])."""
    if strategy not in ("forward-mode", "reverse-mode"):
        raise AssertionError('Expected strategy to be either "forward-mode" or "reverse-mode". '
                             'Hint: If your function has more outputs than inputs, "forward-mode" '
                             'tends to be more performant. Otherwise, prefer to use '
                             '"reverse-mode".')
    if strategy == "forward-mode":
        if create_graph:
            raise NotImplementedError('torch.autograd.functional.jacobian: `create_graph=True` '
                                      'and `strategy="forward-mode"` are not supported together '
                                      '(yet). Please either set `create_graph=False` or '
                                      '`strategy="reverse-mode"`.')
        if not vectorize:
            raise NotImplementedError("Computing Jacobian using forward-AD or forward-over-reverse"
                                      " Hessian isonly implemented for `vectorize=True`.")
    if strict and vectorize:
        raise RuntimeError("torch.autograd.functional.jacobian: `strict=True` and "
                           "`vectorized=True` are not supported together. Please either set "
                           "`strict=False` or `vectorize=False`.")
    with enable_grad():
        is_inputs_tuple, inputs = _as_tuple(inputs, "inputs", "jacobian")
        inputs = _graph_leaves(inputs, create_graph)
        outputs = func(*inputs)
        is_outputs_tuple, outputs = _as_tuple(outputs, "outputs of the user-provided function",
                                              "jacobian")
        _check_requires_grad(outputs, strict)
        if create_graph:
            res = _graph_rows(outputs, inputs, strict, "jacobian")
            return _tuple_postprocess(tuple(res), (is_outputs_tuple, is_inputs_tuple))
        blocks = jacobian_blocks(outputs, inputs)
    res = []
    for i, (o, row) in enumerate(zip(outputs, blocks)):
        out_row = []
        for j, (t, b) in enumerate(zip(inputs, row)):
            if b is None:
                if strict:
                    raise RuntimeError(f"Output {i} of the user-provided function is independent "
                                       f"of input {j}. This is not allowed in strict mode.")
                b = np.zeros((o.numel(), t.numel()), t._dtype.np)
            out_row.append(_from_array(b.reshape(o._shape + t._shape), t._dtype, False))
        res.append(tuple(out_row))
    return _tuple_postprocess(tuple(res), (is_outputs_tuple, is_inputs_tuple))


def _graph_rows(outputs, inputs, strict, fn):
    """jacobian(create_graph=True): one recorded grad per output element, so the result
    carries a graph back to the inputs ([output][input] tensors)."""
    from . import higher

    res = []
    for i, o in enumerate(outputs):
        flat = o.reshape(-1)
        rows = [[] for _ in inputs]
        for k in range(o.numel()):
            seed = _zeros(flat)
            seed._arr[k] = 1.0
            gs = higher.grad((flat,), inputs, (seed,), True, True, False) if o._rg else \
                (None,) * len(inputs)
            for j, g in enumerate(gs):
                rows[j].append(g)
        out_row = []
        for j, (t, col) in enumerate(zip(inputs, rows)):
            if all(g is None for g in col):
                if strict:
                    raise RuntimeError(f"Output {i} of the user-provided function is independent "
                                       f"of input {j}. This is not allowed in strict mode.")
                out_row.append(_from_array(np.zeros(o._shape + t._shape, t._dtype.np), t._dtype,
                                           False))
                continue
            from ..movement import stack

            col = [_zeros(t) if g is None else g for g in col]
            out_row.append(stack(col).reshape(o._shape + t._shape) if col else
                           _from_array(np.zeros(o._shape + t._shape, t._dtype.np), t._dtype,
                                       False))
        res.append(tuple(out_row))
    return res


def _graph_leaves(inputs, create_graph):
    """With create_graph, inputs that require grad are used through a view (the result's
    graph reaches them, as PyTorch's); the others, and all without it, as detached leaves."""
    if not create_graph:
        return _leaves(inputs)
    return tuple(t.reshape(t._shape) if t._rg else t.detach().requires_grad_(True)
                 for t in inputs)


def _scalar_output(func, inputs, fn):
    out = func(*inputs)
    is_tuple, outs = _as_tuple(out, "outputs of the user-provided function", fn)
    if is_tuple or len(outs) != 1:
        raise RuntimeError(f"The function given to {fn} should return a single Tensor")
    if outs[0].numel() != 1:
        raise RuntimeError(f"The Tensor returned by the function given to {fn} should contain a "
                           "single element")
    return outs[0]


def hessian(func: Callable, inputs, create_graph: bool = False, strict: bool = False,
            vectorize: bool = False, outer_jacobian_strategy: str = "reverse-mode"):
    """The Hessian of a scalar func at inputs: shape input.shape + input.shape, in nested
    tuples [i][j] for tuple inputs. The gradient is recorded (create_graph=True), then each
    Hessian row is one reverse sweep over that tape."""
    from . import higher

    if outer_jacobian_strategy not in ("forward-mode", "reverse-mode"):
        raise AssertionError('Expected strategy to be either "forward-mode" or "reverse-mode".')
    with enable_grad():
        is_inputs_tuple, inputs = _as_tuple(inputs, "inputs", "hessian")
        leaves = _graph_leaves(inputs, create_graph)
        out = _scalar_output(func, leaves, "hessian")
        _check_requires_grad((out,), strict)
        if out._rg:
            grads = higher.grad((out,), leaves, None, True, True, False)
        else:
            grads = (None,) * len(leaves)
        if strict and any(g is None for g in grads):
            raise RuntimeError("The output of the user-provided function is independent of "
                               "input 0. This is not allowed in strict mode.")
        gs = [_zeros(t) if g is None else g for g in grads]
        if create_graph:
            res = _graph_rows(gs, leaves, strict, "hessian")
        else:
            blocks = jacobian_blocks(gs, leaves)
            res = [tuple(_from_array((np.zeros((g.numel(), t.numel()), t._dtype.np) if b is None
                                      else b).reshape(g._shape + t._shape), t._dtype, False)
                         for t, b in zip(leaves, row)) for g, row in zip(gs, blocks)]
    return _tuple_postprocess(tuple(res), (is_inputs_tuple, is_inputs_tuple))


def _hv(func, inputs, v, create_graph, strict, fn):
    from . import higher

    with enable_grad():
        is_inputs_tuple, inputs = _as_tuple(inputs, "inputs", fn)
        leaves = _graph_leaves(inputs, create_graph)
        if v is not None:
            _, v = _as_tuple(v, "v", fn)
            _validate_v(v, leaves, is_inputs_tuple)
        elif len(leaves) != 1 or leaves[0].numel() != 1:
            raise RuntimeError("The vector v can only be None if the input to the user-provided "
                               "function is a single Tensor with a single element.")
        out = _scalar_output(func, leaves, fn)
        _check_requires_grad((out,), strict)
        res = (None,) * len(leaves)
        if out._rg:
            grads = higher.grad((out,), leaves, None, True, True, False)
            pairs = [(g, w) for g, w in zip(grads, v or (None,)) if g is not None and g._rg]
            if pairs:
                if create_graph:
                    res = higher.grad([p[0] for p in pairs], leaves, [p[1] for p in pairs],
                                      True, True, False)
                else:
                    from .engine import grad as _grad

                    res = _grad([p[0] for p in pairs], leaves, [p[1] for p in pairs],
                                allow_unused=True)
    for i, r in enumerate(res):
        if r is None and strict:
            raise RuntimeError(f"The hessian of the user-provided function with respect to input "
                               f"{i} is independent of the input. This is not allowed in strict "
                               "mode.")
    res = tuple(_zeros(t) if r is None else r for t, r in zip(leaves, res))
    outs = (out,) if create_graph else _detached((out,))
    return outs[0], _tuple_postprocess(res, is_inputs_tuple)


def hvp(func: Callable, inputs, v=None, create_graph: bool = False,
        strict: bool = False):
    """(func(*inputs), H v): the Hessian-vector product of a scalar func, by double
    backward (the gradient recorded, then one reverse sweep seeded with v)."""
    return _hv(func, inputs, v, create_graph, strict, "hvp")


def vhp(func: Callable, inputs, v=None, create_graph: bool = False,
        strict: bool = False):
    """(func(*inputs), v^T H): the vector-Hessian product (H is symmetric: H v)."""
    return _hv(func, inputs, v, create_graph, strict, "vhp")
