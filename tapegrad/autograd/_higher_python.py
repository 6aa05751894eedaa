"""create_graph=True through a PYTHON record (a custom autograd.Function): the user's
backward runs on Tensors with grad mode on, so a backward written in tapegrad ops is
recorded and can itself be differentiated (double backward). The record kinds are those
of tapegrad/autograd/_function_tape.py: core, output and fan-in records."""

import numpy as np

from ..dtypes import float64
from ..tape.records import R_SEQ
from ..tensor import _from_array
from ._function_tape import _Core, _FanIn, _OutputGrad, _check_grads
from .engine import _SWEEPS


def python_grads(ctx, paused: list) -> tuple:
    """One gradient Tensor (or None) per input slot of PYTHON record ctx.row."""
    vjp = ctx.tape.python_vjp[ctx.row[R_SEQ]]
    if isinstance(vjp, _OutputGrad):  # the core, further down, picks it up
        vjp.core.output_grads[vjp.j] = (_SWEEPS[0], ctx.g)
        return (_from_array(np.zeros(0), float64, False),)  # the core's empty slot: reached
    if isinstance(vjp, _FanIn):
        grads = vjp.core.input_grads
        return tuple(None if i is None or grads is None else grads[i] for i in vjp.direct)
    if not isinstance(vjp, _Core):
        raise NotImplementedError("create_graph=True through a Python record that is not a "
                                  "custom autograd.Function is not supported")
    paused.append(vjp)
    fctx = vjp.ctx
    grads = [ctx.g] if vjp.one else _gathered(vjp, fctx)
    res = fctx.apply(*grads)
    _check_grads(fctx, vjp.args, res)  # PyTorch's errors (count, shapes)
    res = res if isinstance(res, tuple) else (res,)
    out = []
    for a, g in zip(vjp.args, res):
        if a is None or not a[1]:
            continue
        if g is not None and g._shape != a[0]:
            from ._grad_ctx import sum_to

            g = sum_to(g, a[0])
        out.append(g)
    vjp.input_grads = out
    if vjp.direct is None:
        return tuple(out)
    return tuple(None if i is None else out[i] for i in vjp.direct)


def _gathered(core, fctx):
    now, grads = _SWEEPS[0], []
    for j, info in enumerate(core.outs):
        if info is None:
            grads.append(None)
            continue
        stored = core.output_grads[j]
        if stored is not None and stored[0] == now:
            grads.append(stored[1])
        elif fctx.materialize_grads:
            grads.append(_from_array(np.zeros(info[0], info[1].np), info[1], False))
        else:
            grads.append(None)
    return grads
