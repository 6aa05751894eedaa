"""Classification losses of tapegrad.nn.functional: binary cross-entropy (on
probabilities and on logits), nll_loss and cross_entropy.

`cross_entropy` over class indices is `log_softmax` (one record), the pick of the target
column (one gather record) and the reduction (one or two records); class weights, the
mask of ignored targets and label smoothing are NumPy constants (no records of their own).
"""

import math

import numpy as np

from .. import dtypes
from ..activations import log_softmax, logsigmoid
from ..recorder import check_tensor
from ..functions import _binary
from ..tensor import Tensor, _peek
from ._grad_fn import show
from ._kernels import in_unit_interval
from ._losses import _const, _float_loss_input, _legacy_reduction, _reduce, _tname



# ---- binary classification ----------------------------------------------------------
def binary_cross_entropy(input: Tensor, target: Tensor, weight: Tensor | None = None,
                         size_average: bool | None = None, reduce: bool | None = None,
                         reduction: str = "mean") -> Tensor:
    """-w (t log p + (1 - t) log(1 - p)) with each log clamped at -100.

    One BinaryCrossEntropyBackward0 record (the op table's kernel), then the weight and
    the reduction. The gradient with respect to p is w (p - t) / max(p (1 - p), 1e-12), as
    PyTorch's (1e-12 rounded to float32). The gradient with respect to a target that requires grad is -w (log p - log(1 - p))
    with the clamped logs (finite at p = 0 and 1, where PyTorch's is infinite)."""
    _float_loss_input(input, "binary_cross_entropy")
    check_tensor(target, "binary_cross_entropy", "target")
    reduction = _legacy_reduction(size_average, reduce, reduction)
    if target._shape != input._shape:
        raise ValueError(f"Using a target size ({target.shape}) that is different to the input "
                         f"size ({input.shape}) is deprecated. Please ensure they have the "
                         "same size.")
    dt = input._dtype
    if target._dtype is not dt:  # an integer or bool target too: PyTorch converts none
        raise RuntimeError(f"Found dtype {_tname(target._dtype)} but expected {_tname(dt)} "
                           f"(binary_cross_entropy: target of dtype {target._dtype} for an "
                           f"input of dtype {dt})")
    if not in_unit_interval(_peek(input).reshape(-1)):  # nan fails too
        raise RuntimeError("all elements of input should be between 0 and 1")
    if not in_unit_interval(_peek(target).reshape(-1)):
        raise RuntimeError("all elements of target should be between 0 and 1")
    loss = _binary("binary_cross_entropy", input, target)  # one record
    if weight is not None:
        check_tensor(weight, "binary_cross_entropy", "weight")
        loss = loss * weight
        if loss._shape != input._shape:
            raise RuntimeError(f"binary_cross_entropy: output with shape {list(input._shape)} "
                               f"doesn't match the broadcast shape {list(loss._shape)}")
    return show(_reduce(loss, reduction), "BinaryCrossEntropyBackward0", input, target)


def binary_cross_entropy_with_logits(input: Tensor, target: Tensor,
                                     weight: Tensor | None = None,
                                     size_average: bool | None = None,
                                     reduce: bool | None = None, reduction: str = "mean",
                                     pos_weight: Tensor | None = None) -> Tensor:
    """BCE of sigmoid(x), stable for any logit: (1 - t) x - lw logsigmoid(x) with
    lw = 1 + (pos_weight - 1) t, times `weight`."""
    _float_loss_input(input, "binary_cross_entropy_with_logits")
    check_tensor(target, "binary_cross_entropy_with_logits", "target")
    reduction = _legacy_reduction(size_average, reduce, reduction)
    if target._shape != input._shape:
        raise ValueError(f"Target size ({target.shape}) must be the same as input size "
                         f"({input.shape})")
    if target._dtype is dtypes.bool_:
        raise RuntimeError("Subtraction, the `-` operator, with two bool tensors is not "
                           "supported. Use the `^` or `logical_xor()` operator instead.")
    if not target._dtype.is_floating_point:  # the loss would be written in target's dtype
        raise RuntimeError(f"result type {_tname(input._dtype)} can't be cast to the desired "
                           f"output type {_tname(target._dtype)} (binary_cross_entropy_with_"
                           f"logits: a target of dtype {target._dtype}; use target.float())")
    ls = logsigmoid(input)
    if pos_weight is not None:
        check_tensor(pos_weight, "binary_cross_entropy_with_logits", "pos_weight")
        ls = ls * ((pos_weight - 1.0) * target + 1.0)
    loss = (1.0 - target) * input - ls
    if weight is not None:
        check_tensor(weight, "binary_cross_entropy_with_logits", "weight")
        loss = loss * weight
    return show(_reduce(loss, reduction), "BinaryCrossEntropyWithLogitsBackward0", input,
                target)


# ---- nll_loss and cross_entropy -----------------------------------------------------
def _class_targets(input: Tensor, target: Tensor, weight, ignore_index: int, op: str):
    """Check class-index targets (PyTorch's order and messages); return the target values,
    the class count, the class dim and the weight of each target (None: all weigh 1 and
    none is ignored)."""
    check_tensor(target, op, "target")
    nd, sh, ts = input.ndim, input._shape, target._shape
    if nd == 0:
        raise ValueError("Expected 1 or more dimensions (got 0)")
    if nd >= 2 and (not ts or ts[0] != sh[0]):
        raise ValueError(f"Expected input batch_size ({sh[0]}) to match target batch_size "
                         f"({ts[0] if ts else 0}).")
    if nd <= 2 and len(ts) > 1:
        raise RuntimeError("0D or 1D target tensor expected, multi-target not supported")
    if nd == 1 and target.numel() != 1:
        raise RuntimeError(f"{op}: an unbatched input of shape {list(sh)} takes a 0-D target, "
                           f"got a target of shape {list(ts)}")
    if nd > 2 and ts != sh[:1] + sh[2:]:
        raise RuntimeError(f"Expected target size {list(sh[:1] + sh[2:])}, got {list(ts)}")
    if target._dtype not in (dtypes.int64, dtypes.uint8):
        raise RuntimeError(f"expected target dtype to be Long or Byte, but got "
                           f"{_tname(target._dtype)}")
    cdim = 1 if nd >= 2 else 0
    n_cls = sh[cdim]
    tv = target._value().reshape(ts if nd != 1 else ()).astype(np.int64, copy=False)
    valid = tv != ignore_index
    bad = valid & ((tv < 0) | (tv >= n_cls))
    if bad.any():
        raise IndexError(f"Target {int(tv[bad].flat[0])} is out of bounds.")
    safe = np.where(valid, tv, 0)
    if weight is None:
        wt = None if valid.all() else valid.astype(input._dtype.np)
    else:
        check_tensor(weight, op, "weight")
        if weight.numel() != n_cls:
            raise RuntimeError(f"weight tensor should be defined either for all {n_cls} classes "
                               f"or no classes but got weight tensor of shape: "
                               f"{list(weight._shape)}")
        if weight._dtype is not input._dtype:
            raise RuntimeError(f"expected scalar type {_tname(input._dtype)} but found "
                               f"{_tname(weight._dtype)} ({op}: weight of dtype "
                               f"{weight._dtype} for an input of dtype {input._dtype})")
        wt = np.where(valid, weight._value().reshape(-1)[safe], 0).astype(input._dtype.np)
    return safe, n_cls, cdim, wt, valid


def _pick(logp: Tensor, safe: np.ndarray, cdim: int) -> Tensor:
    """logp at the target class of each position: one gather record, shaped like the
    class dim kept (size 1)."""
    idx = np.expand_dims(safe, cdim)
    return logp.gather(cdim, _const(idx, dtypes.int64))


def _mean_by(s: Tensor, total: float) -> Tensor:
    """s / total, where total = 0 gives nan with a zero gradient (no target counted), as
    PyTorch's mean over no target."""
    if total == 0:
        return s * 0.0 + math.nan
    return s / total


def _nll(logp: Tensor, target: Tensor, weight, ignore_index: int, reduction: str,
         op: str) -> Tensor:
    """nll_loss of log-probabilities logp, shown as PyTorch's one NllLossBackward0 node."""
    return show(_nll_terms(logp, target, weight, ignore_index, reduction, op),
                "NllLossBackward0", logp)


def _nll_terms(logp: Tensor, target: Tensor, weight, ignore_index: int, reduction: str,
               op: str) -> Tensor:
    safe, _, cdim, wt, _ = _class_targets(logp, target, weight, ignore_index, op)
    picked = _pick(logp, safe, cdim)
    # negated before the reduction, so a sum of zeros is +0 (PyTorch's), not -0
    loss = -picked if wt is None else picked * _const(-np.expand_dims(wt, cdim), logp._dtype)
    if reduction == "none":
        return loss.reshape(safe.shape)
    if reduction == "sum":
        return loss.sum()
    if wt is None:
        return loss.mean()
    return _mean_by(loss.sum(), float(wt.sum(dtype=np.float64)))


def nll_loss(input: Tensor, target: Tensor, weight: Tensor | None = None,
             size_average: bool | None = None, ignore_index: int = -100,
             reduce: bool | None = None, reduction: str = "mean") -> Tensor:
    """Negative log likelihood of log-probabilities `input` (N, C, d1, ...) or (C,) at class
    indices `target` (N, d1, ...) or 0-d; 'mean' divides by the summed weight of the targets
    that are not `ignore_index` (nan when every target is ignored)."""
    _float_loss_input(input, "nll_loss")
    reduction = _legacy_reduction(size_average, reduce, reduction)
    return _nll(input, target, weight, ignore_index, reduction, "nll_loss")


def cross_entropy(input: Tensor, target: Tensor, weight: Tensor | None = None,
                  size_average: bool | None = None, ignore_index: int = -100,
                  reduce: bool | None = None, reduction: str = "mean",
                  label_smoothing: float = 0.0) -> Tensor:
    """log_softmax over the class dim (1, or 0 for an unbatched input) then nll_loss, for
    class-index targets; for a float target of input's shape (class probabilities),
    -sum(w_c p_c log_softmax(x)_c) over the class dim, 'mean' dividing by the number of
    positions. `label_smoothing` eps mixes the targets with the uniform distribution."""
    _float_loss_input(input, "cross_entropy")
    check_tensor(target, "cross_entropy", "target")
    reduction = _legacy_reduction(size_average, reduce, reduction)
    if not 0.0 <= label_smoothing <= 1.0:
        raise RuntimeError(f"label_smoothing must be between 0.0 and 1.0. Got: "
                           f"{label_smoothing}")
    if input.ndim == 0:
        raise ValueError("Expected 1 or more dimensions (got 0)")
    cdim = 1 if input.ndim >= 2 else 0
    logp = log_softmax(input, cdim)
    if target._dtype.is_floating_point and target._shape == input._shape:
        return _soft_targets(logp, target, weight, ignore_index, reduction, label_smoothing,
                             cdim)
    if label_smoothing == 0.0:
        return _nll(logp, target, weight, ignore_index, reduction, "cross_entropy")
    # smoothed class indices: -sum(logp * Q) with Q = (1 - eps) w_t onehot(t) + eps/C w
    safe, n_cls, cdim, wt, valid = _class_targets(logp, target, weight, ignore_index,
                                                  "cross_entropy")
    dt = logp._dtype
    wc = np.ones(n_cls) if weight is None else weight._value().reshape(-1).astype(np.float64)
    shape_c = [1] * input.ndim
    shape_c[cdim] = n_cls
    q = np.expand_dims(valid.astype(np.float64), cdim) * wc.reshape(shape_c) * \
        (label_smoothing / n_cls)
    wt64 = valid.astype(np.float64) if wt is None else wt.astype(np.float64)
    np.put_along_axis(q, np.expand_dims(safe, cdim),
                      np.take_along_axis(q, np.expand_dims(safe, cdim), cdim)
                      + np.expand_dims(wt64, cdim) * (1.0 - label_smoothing), cdim)
    prod = logp * _const(-q, dt)
    if reduction == "none":
        out = prod.sum(cdim)
    else:
        s = prod.sum()
        out = _mean_by(s, float(wt64.sum())) if reduction == "mean" else s
    # PyTorch adds the smoothing term to the nll term last, for every reduction
    return show(out, "AddBackward0", logp)


def _soft_targets(logp: Tensor, target: Tensor, weight, ignore_index: int, reduction: str,
                  eps: float, cdim: int) -> Tensor:
    if ignore_index != -100:
        raise RuntimeError("ignore_index is not supported for floating point target")
    n_cls = logp._shape[cdim]
    q = target if eps == 0.0 else target * (1.0 - eps) + eps / n_cls
    if weight is not None:
        check_tensor(weight, "cross_entropy", "weight")
        if weight.numel() != n_cls:
            raise RuntimeError(f"weight tensor should be defined either for all {n_cls} classes "
                               f"or no classes but got weight tensor of shape: "
                               f"{list(weight._shape)}")
        shape_c = [1] * logp.ndim
        shape_c[cdim] = n_cls
        q = q * weight.reshape(shape_c)
    prod = logp * q
    if reduction == "none":
        return -prod.sum(cdim)
    s = prod.sum()
    if reduction == "sum":
        return -s
    # a division by a Scalar: PyTorch's DivBackward1
    return show(s / -(logp.numel() // n_cls), "DivBackward1", s)
