"""More losses of tapegrad.nn.functional: cosine_embedding_loss, the multi-class and
multi-label margin losses (multi_margin_loss, multilabel_soft_margin_loss) and the
Gaussian negative log likelihood (gaussian_nll_loss).

Like tapegrad/nn/_losses.py, each is a few recorded tensor ops (its gradient is theirs);
class-index targets are read in NumPy and enter the tape as constants (masks, weights).
"""

import math

import numpy as np

from .. import dtypes
from ..activations import logsigmoid
from ..recorder import check_tensor
from ..selection import where
from ..tensor import Tensor
from ._grad_fn import show
from ._losses import _const, _float_loss_input, _legacy_reduction, _reduce


def cosine_embedding_loss(input1: Tensor, input2: Tensor, target: Tensor, margin: float = 0,
                          size_average: bool | None = None, reduce: bool | None = None,
                          reduction: str = "mean") -> Tensor:
    """1 - cos(x1, x2) where target is 1, max(0, cos(x1, x2) - margin) where it is -1; the
    cosine along the last dim of 1-D or 2-D inputs, squared norms shifted by 1e-12."""
    for name, t in (("input1", input1), ("input2", input2), ("target", target)):
        check_tensor(t, "cosine_embedding_loss", name)
    reduction = _legacy_reduction(size_average, reduce, reduction)
    if input1.ndim not in (1, 2) or input1._shape != input2._shape:
        raise RuntimeError(f"cosine_embedding_loss: expected 1D or 2D inputs of one shape, "
                           f"got {list(input1._shape)} and {list(input2._shape)}")
    d = input1.ndim - 1
    dot = (input1 * input2).sum(d)
    denom = (((input1 * input1).sum(d) + 1e-12) * ((input2 * input2).sum(d) + 1e-12)).sqrt()
    cos = dot / denom
    zero = cos * 0.0
    out = where(target == 1, 1.0 - cos, zero) + where(
        target == -1, (cos - float(margin)).clamp(min=0.0), zero)
    return _reduce(out, reduction)


def multilabel_soft_margin_loss(input: Tensor, target: Tensor, weight: Tensor | None = None,
                                size_average: bool | None = None, reduce: bool | None = None,
                                reduction: str = "mean") -> Tensor:
    """Per sample, the mean over the classes (last dim) of the binary cross-entropy of
    sigmoid(input) against the 0/1 target: -(t logsigmoid(x) + (1 - t) logsigmoid(-x)),
    each class term times `weight` when given."""
    _float_loss_input(input, "multilabel_soft_margin_loss")
    check_tensor(target, "multilabel_soft_margin_loss", "target")
    reduction = _legacy_reduction(size_average, reduce, reduction)
    loss = -(target * logsigmoid(input) + (1.0 - target) * logsigmoid(-input))
    if weight is not None:
        check_tensor(weight, "multilabel_soft_margin_loss", "weight")
        loss = loss * weight
    cdim = max(input.ndim - 1, 0)
    n_cls = input._shape[cdim] if input.ndim else 1
    loss = loss.sum(cdim) / n_cls if input.ndim else loss
    return _reduce(loss, reduction)


def multi_margin_loss(input: Tensor, target: Tensor, p: int = 1, margin: float = 1.0,
                      weight: Tensor | None = None, size_average: bool | None = None,
                      reduce: bool | None = None, reduction: str = "mean") -> Tensor:
    """Multi-class hinge loss: per sample, sum over j != y of w_y max(0, margin - x_y +
    x_j)^p, divided by the class count (input (N, C) or (C,), target class indices)."""
    _float_loss_input(input, "multi_margin_loss")
    check_tensor(target, "multi_margin_loss", "target")
    reduction = _legacy_reduction(size_average, reduce, reduction)
    if p not in (1, 2):
        raise ValueError("only p == 1 and p == 2 supported")
    if input.ndim > 2 or input.numel() == 0:
        raise RuntimeError(f"Expected non-empty vector or matrix with optional 0-dim batch "
                           f"size, but got: {list(input._shape)}")
    x = input.reshape(1, -1) if input.ndim < 2 else input
    n, n_cls = x._shape
    tv = np.asarray(target._value()).reshape(-1).astype(np.int64)
    if target._dtype.is_floating_point or tv.shape[0] != n:
        raise RuntimeError(f"multi_margin_loss: inconsistent target size: expected {n} class "
                           f"indices (int64), got a target of shape {list(target._shape)} "
                           f"and dtype {target._dtype}")
    if ((tv < 0) | (tv >= n_cls)).any():
        raise RuntimeError(f"target out of range (multi_margin_loss: targets {tv.tolist()} "
                           f"for {n_cls} classes)")
    dt = input._dtype
    picked = x.gather(1, _const(tv[:, None], dtypes.int64))
    z = (x - picked + float(margin)).clamp(min=0.0)
    if p == 2:
        z = z * z
    scale = (np.arange(n_cls)[None, :] != tv[:, None]).astype(np.float64) / n_cls
    if weight is not None:
        check_tensor(weight, "multi_margin_loss", "weight")
        if weight.ndim != 1 or weight.numel() != n_cls:
            raise RuntimeError(f"inconsistent weight size, expected {n_cls} but got "
                               f"{list(weight._shape)}")
        scale = scale * np.asarray(weight._value(), np.float64)[tv][:, None]
    loss = (z * _const(scale, dt)).sum(1)
    if input.ndim < 2:
        loss = loss.reshape(())
    return show(_reduce(loss, reduction), "MultiMarginLossBackward0", input)


def gaussian_nll_loss(input: Tensor, target: Tensor, var: Tensor | float, full: bool = False,
                      eps: float = 1e-6, reduction: str = "mean") -> Tensor:
    """0.5 (log v + (input - target)^2 / v) for predicted means `input` and variances
    `var` (input's shape, one dim short of it, or a single mismatched dim of size 1; a
    float is one variance for all). v is var clamped at eps, the gradient passing to var
    unclamped (as PyTorch's clamp under no_grad); `full` adds 0.5 log(2 pi)."""
    _float_loss_input(input, "gaussian_nll_loss")
    check_tensor(target, "gaussian_nll_loss", "target")
    if isinstance(var, (int, float)):
        if var < 0:
            raise ValueError("var has negative entry/entries")
        var = _const(np.full(input._shape, float(var)), input._dtype)
    check_tensor(var, "gaussian_nll_loss", "var")
    vv = np.asarray(var._value())
    if (vv < 0).any():
        raise ValueError("var has negative entry/entries")
    if var._shape != input._shape:
        if input._shape[:-1] == var._shape:
            var = var.unsqueeze(-1)
            vv = vv[..., None]
        elif not (input.ndim == var.ndim and sum(
                b for a, b in zip(input._shape, var._shape) if a != b) == 1):
            raise ValueError(f"var is of incorrect size (gaussian_nll_loss: var of shape "
                             f"{list(var._shape)} for an input of shape {list(input._shape)})")
    if reduction not in ("none", "mean", "sum"):
        raise ValueError(f"{reduction} is not valid")
    lift = np.maximum(vv, eps) - vv  # the clamp as a constant shift: gradient 1 to var
    if lift.any():
        var = var + _const(lift, var._dtype)
    d = input - target
    loss = (var.log() + d * d / var) * 0.5
    if full:
        loss = loss + 0.5 * math.log(2 * math.pi)
    return _reduce(loss, reduction)
