"""Regression and margin losses of tapegrad.nn.functional (classification losses are in
_cross_entropy.py), composed from recorded tensor ops, and the helpers all losses share
(reduction keywords, constants).

Each loss is a few records: the elementwise terms, then the reduction. Values that need
no gradient (masks choosing a branch, targets' own terms) are computed in NumPy and enter
the tape as constants.
"""

import math
import warnings

import numpy as np

from .. import dtypes
from ..activations import softplus
from ..recorder import check_tensor, needs_grad
from ..selection import where
from ..tensor import Tensor, _from_array
from ._grad_fn import show

_REDUCTIONS = ("none", "mean", "sum")


# ---- helpers ----------------------------------------------------------------------------
def _const(v, dt: dtypes.dtype) -> Tensor:
    """A constant tensor (no grad) holding NumPy value v in dtype dt."""
    return _from_array(np.array(v, dt.np, order="C"), dt, False)


def _tname(dt: dtypes.dtype) -> str:
    """A dtype's scalar name as the reference messages spell it (Float, Double, Long...)."""
    return dt.legacy[:-len("Tensor")]


def _legacy_reduction(size_average, reduce, reduction: str) -> str:
    """Map the legacy size_average/reduce keywords to a reduction string (with the
    deprecation warning); without them, check `reduction`."""
    if size_average is not None or reduce is not None:
        size_average = True if size_average is None else size_average
        reduce = True if reduce is None else reduce
        reduction = ("mean" if size_average else "sum") if reduce else "none"
        warnings.warn(f"size_average and reduce args will be deprecated, please use "
                      f"reduction='{reduction}' instead.", UserWarning, stacklevel=3)
    return _check_reduction(reduction)


def _check_reduction(reduction: str, extra: tuple = ()) -> str:
    if reduction not in _REDUCTIONS + extra:
        raise ValueError(f"{reduction} is not a valid value for reduction")
    return reduction


def _reduce(loss: Tensor, reduction: str) -> Tensor:
    if reduction == "mean":
        return loss.mean()
    if reduction == "sum":
        return loss.sum()
    return loss


def _float_loss_input(x, op: str, arg: str = "input") -> Tensor:
    check_tensor(x, op, arg)
    if not x._dtype.is_floating_point:
        raise RuntimeError(f"{op}: expected a floating point {arg}, got {x._dtype} of shape "
                           f"{list(x._shape)}")
    return x


def _size_warning(input: Tensor, target: Tensor) -> None:
    if target._shape != input._shape:
        warnings.warn(f"Using a target size ({target.shape}) that is different to the input "
                      f"size ({input.shape}). This will likely lead to incorrect results due "
                      "to broadcasting. Please ensure they have the same size.", UserWarning,
                      stacklevel=3)


def _weighted(loss: Tensor, weight, input: Tensor, reduction: str, mean_by_weight: bool):
    """Multiply by an elementwise `weight` of input's size, then reduce ('mean' divides by
    the sum of the weights when mean_by_weight, by the element count otherwise)."""
    if weight is None:
        return _reduce(loss, reduction)
    check_tensor(weight, "loss", "weight")
    if weight._shape != input._shape:
        raise ValueError("Weights and input must have the same size.")
    loss = loss * weight
    if reduction == "mean" and mean_by_weight:
        return loss.sum() / weight.sum()
    return _reduce(loss, reduction)


# ---- regression losses ------------------------------------------------------------------
def mse_loss(input: Tensor, target: Tensor, size_average: bool | None = None,
             reduce: bool | None = None, reduction: str = "mean",
             weight: Tensor | None = None) -> Tensor:
    """Mean squared error (input - target)^2, broadcasting with a warning when the shapes
    differ; a `weight` of input's size makes 'mean' divide by the sum of the weights."""
    _float_loss_input(input, "mse_loss")
    check_tensor(target, "mse_loss", "target")
    _size_warning(input, target)
    reduction = _legacy_reduction(size_average, reduce, reduction)
    d = input - target
    out = _weighted(d * d, weight, input, reduction, True)
    return out if weight is not None else show(out, "MseLossBackward0", input, target)


def l1_loss(input: Tensor, target: Tensor, size_average: bool | None = None,
            reduce: bool | None = None, reduction: str = "mean",
            weight: Tensor | None = None) -> Tensor:
    """Mean absolute error |input - target| (zero gradient where they are equal)."""
    _float_loss_input(input, "l1_loss")
    check_tensor(target, "l1_loss", "target")
    _size_warning(input, target)
    reduction = _legacy_reduction(size_average, reduce, reduction)
    return _weighted((input - target).abs(), weight, input, reduction, True)


def _huber_terms(d: Tensor, thr: float, quad: float, lin: float, off: float) -> Tensor:
    """where(|d| < thr, quad * d^2, lin * (|d| - off)), the branch chosen from values."""
    if d._tape is not None and d._tape.reads is not None:  # tapegrad.func records: the mask
        inside = d.abs() < thr                            # is recorded, replays recompute it
    else:
        inside = _const(np.abs(d._value()) < thr, dtypes.bool_)
    outer = d.abs() - off
    return where(inside, (d * d) * quad, outer * lin if lin != 1.0 else outer)


def huber_loss(input: Tensor, target: Tensor, reduction: str = "mean", delta: float = 1.0,
               weight: Tensor | None = None) -> Tensor:
    """0.5 d^2 where |d| < delta, delta (|d| - delta/2) elsewhere (d = input - target);
    with `weight`, 'mean' is the mean of the weighted terms."""
    _float_loss_input(input, "huber_loss")
    check_tensor(target, "huber_loss", "target")
    if not delta > 0:
        raise RuntimeError("huber_loss does not support non-positive values for delta.")
    _size_warning(input, target)
    _check_reduction(reduction)
    d = input - target
    loss = _weighted(_huber_terms(d, delta, 0.5, float(delta), 0.5 * delta), weight, input,
                     reduction, False)
    return loss if weight is not None else show(loss, "HuberLossBackward0", input, target)


def smooth_l1_loss(input: Tensor, target: Tensor, size_average: bool | None = None,
                   reduce: bool | None = None, reduction: str = "mean",
                   beta: float = 1.0) -> Tensor:
    """0.5 d^2 / beta where |d| < beta, |d| - beta/2 elsewhere; beta = 0 is l1_loss."""
    _float_loss_input(input, "smooth_l1_loss")
    check_tensor(target, "smooth_l1_loss", "target")
    if beta < 0:
        raise RuntimeError("smooth_l1_loss does not support negative values for beta.")
    _size_warning(input, target)
    reduction = _legacy_reduction(size_average, reduce, reduction)
    d = input - target
    if beta == 0:
        return _reduce(d.abs(), reduction)
    return show(_reduce(_huber_terms(d, beta, 0.5 / beta, 1.0, 0.5 * beta), reduction),
                "SmoothL1LossBackward0", input, target)




# ---- divergence, margin and count losses --------------------------------------------
def kl_div(input: Tensor, target: Tensor, size_average: bool | None = None,
           reduce: bool | None = None, reduction: str = "mean",
           log_target: bool = False) -> Tensor:
    """KL divergence with `input` as log-probabilities: target (log target - input), 0
    where target = 0 (or exp(t) (t - input) with log_target). 'batchmean' divides the sum
    by the batch size (the divergence's definition); 'mean' divides by every element and
    warns, as PyTorch does."""
    _float_loss_input(input, "kl_div")
    check_tensor(target, "kl_div", "target")
    if size_average is not None or reduce is not None:
        reduction = _legacy_reduction(size_average, reduce, reduction)
    else:
        _check_reduction(reduction, ("batchmean",))
        if reduction == "mean":
            warnings.warn("reduction: 'mean' divides the total loss by both the batch size and "
                          "the support size.'batchmean' divides only by the batch size, and "
                          "aligns with the KL div math definition.'mean' will be changed to "
                          "behave the same as 'batchmean' in the next major release.",
                          UserWarning, stacklevel=2)
    if log_target:
        loss = target.exp() * (target - input)
    elif needs_grad(target):
        zero = _const(target._value() == 0, dtypes.bool_)
        loss = target * target.masked_fill(zero, 1.0).log() - target * input
    else:
        tv = target._value()
        with np.errstate(all="ignore"):
            xlogx = np.where(tv == 0, 0, tv * np.log(np.where(tv == 0, 1, tv)))
        dt = dtypes.promote_tensors(input._dtype, input._shape, target._dtype, target._shape)
        loss = _const(xlogx, dt) - target * input
    if reduction == "batchmean":
        s = loss.sum()
        return s / input._shape[0] if input.ndim else s
    return _reduce(loss, reduction)


def margin_ranking_loss(input1: Tensor, input2: Tensor, target: Tensor, margin: float = 0,
                        size_average: bool | None = None, reduce: bool | None = None,
                        reduction: str = "mean") -> Tensor:
    """max(0, -target (input1 - input2) + margin), target of 1 or -1."""
    for name, t in (("input1", input1), ("input2", input2), ("target", target)):
        check_tensor(t, "margin_ranking_loss", name)
    reduction = _legacy_reduction(size_average, reduce, reduction)
    if not input1.ndim == input2.ndim == target.ndim:
        raise RuntimeError(f"margin_ranking_loss : All input tensors should have same "
                           f"dimension but got sizes: input1: {input1.shape}, input2: "
                           f"{input2.shape}, target: {target.shape} ")
    loss = (-target * (input1 - input2) + float(margin)).clamp(min=0)
    return _reduce(loss, reduction)


def hinge_embedding_loss(input: Tensor, target: Tensor, margin: float = 1.0,
                         size_average: bool | None = None, reduce: bool | None = None,
                         reduction: str = "mean") -> Tensor:
    """x where target = 1, max(0, margin - x) where target = -1 (a target that is neither
    adds both terms, as PyTorch)."""
    _float_loss_input(input, "hinge_embedding_loss")
    check_tensor(target, "hinge_embedding_loss", "target")
    reduction = _legacy_reduction(size_average, reduce, reduction)
    tv = target._value()
    hinge = (float(margin) - input).clamp(min=0)
    loss = where(_const(tv != 1, dtypes.bool_), hinge, 0.0)
    if (tv != -1).any():
        loss = loss + where(_const(tv != -1, dtypes.bool_), input, 0.0)
    return _reduce(loss, reduction)


def soft_margin_loss(input: Tensor, target: Tensor, size_average: bool | None = None,
                     reduce: bool | None = None, reduction: str = "mean") -> Tensor:
    """log(1 + exp(-target x)), computed as softplus(-target x): finite for any logit,
    where PyTorch's log1p(exp(.)) overflows to inf past about 88 in float32."""
    _float_loss_input(input, "soft_margin_loss")
    check_tensor(target, "soft_margin_loss", "target")
    reduction = _legacy_reduction(size_average, reduce, reduction)
    return show(_reduce(softplus(-target * input), reduction), "SoftMarginLossBackward0",
                input, target)


def poisson_nll_loss(input: Tensor, target: Tensor, log_input: bool = True,
                     full: bool = False, size_average: bool | None = None,
                     eps: float = 1e-8, reduce: bool | None = None,
                     reduction: str = "mean") -> Tensor:
    """Poisson negative log likelihood: exp(x) - t x (log_input) or x - t log(x + eps);
    `full` adds Stirling's t log t - t + log(2 pi t)/2 where t > 1."""
    _float_loss_input(input, "poisson_nll_loss")
    check_tensor(target, "poisson_nll_loss", "target")
    reduction = _legacy_reduction(size_average, reduce, reduction)
    if log_input:
        loss = input.exp() - target * input
    else:
        loss = input - target * (input + float(eps)).log()
    if full:
        big = _const(target._value() > 1, dtypes.bool_)
        safe = target.masked_fill(~big, 1.0)
        stirling = safe * safe.log() - safe + (safe * (2 * math.pi)).log() * 0.5
        loss = loss + where(big, stirling, 0.0)
    return _reduce(loss, reduction)
