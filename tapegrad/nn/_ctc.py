"""ctc_loss: the connectionist temporal classification loss as one custom-Function record.

The forward (alpha) and backward (beta) recursions run in NumPy (float64), one step per
time step, vectorised over the batch and the extended targets (blank, l1, blank, l2,
..., blank). The gradient is PyTorch's: d loss / d log_probs[t, n, c] =
exp(log_probs) - exp(log(sum over s with label c of alpha * beta) + nll - log_probs),
which is the true gradient plus exp(log_probs): it assumes log_probs are normalized
(log_softmax outputs), so that the extra term vanishes once the gradient passes back
through the log_softmax. Time steps past a sample's input length get zero.
"""

import numpy as np

from ..autograd.function import Function
from ..recorder import check_tensor
from ..tensor import Tensor, _from_array
from ._layers_functional import _const


def _lengths(v, name: str, N: int) -> np.ndarray:
    """input_lengths / target_lengths as an int64 array of N entries."""
    if isinstance(v, Tensor):
        a = np.asarray(v._value())
    elif isinstance(v, (list, tuple)):
        a = np.asarray(v)
    else:
        raise TypeError(f"ctc_loss(): argument '{name}' must be a tuple of ints or a Tensor, "
                        f"not {type(v).__name__}")
    if a.dtype.kind not in "iu":
        raise RuntimeError(f"ctc_loss(): {name} must hold integers, got {a.dtype}")
    a = a.reshape(-1).astype(np.int64)
    if a.size != N:
        raise RuntimeError(f"{name} must be of size batch_size")
    if (a < 0).any():
        raise RuntimeError(f"ctc_loss(): {name} must be non-negative, got {a.tolist()}")
    return a


def _shift(a: np.ndarray, k: int) -> np.ndarray:
    """a (N, Lp) moved k places along s (k > 0: from s - k; k < 0: from s + |k|)."""
    out = np.full_like(a, -np.inf)
    if k > 0:
        out[:, k:] = a[:, :-k]
    else:
        out[:, :k] = a[:, -k:]
    return out


class _CTC(Function):
    """nll (N,) of log_probs (T, N, C) for the extended targets in `geom`."""

    @staticmethod
    def forward(ctx, log_probs: Tensor, geom) -> Tensor:
        ext, Tl, Sl, zero_infinity = geom
        lp = np.asarray(log_probs._value(), np.float64)
        T, N, _ = lp.shape
        Lp = ext.shape[1]
        s = np.arange(Lp)
        live = s[None] < (2 * Sl + 1)[:, None]                           # (N, Lp)
        skip = np.zeros((N, Lp), bool)
        skip[:, 2:] = (ext[:, 2:] != ext[:, :-2]) & (s[2:] % 2 == 1)
        lpe = np.where(live[None], lp[:, np.arange(N)[:, None], ext], -np.inf)  # (T, N, Lp)
        alpha = np.full((T, N, Lp), -np.inf)
        if T:
            alpha[0, :, :2] = lpe[0, :, :2]
        for t in range(1, T):
            a = alpha[t - 1]
            a = np.logaddexp(np.logaddexp(a, _shift(a, 1)), np.where(skip, _shift(a, 2), -np.inf))
            alpha[t] = a + lpe[t]
        last = np.maximum(Tl - 1, 0)
        n = np.arange(N)
        end = alpha[last, n, 2 * Sl]
        end = np.logaddexp(end, np.where(Sl > 0, alpha[last, n, np.maximum(2 * Sl - 1, 0)],
                                         -np.inf))
        nll = np.where(Tl > 0, -end, np.where(Sl > 0, np.inf, 0.0))
        dead = np.isinf(nll) & zero_infinity
        ctx.saved = (lp, lpe, alpha, skip, live, ext, Tl, Sl, nll, dead)
        out = np.where(dead, 0.0, nll)
        return _from_array(out.astype(log_probs._dtype.np), log_probs._dtype, False)

    @staticmethod
    def backward(ctx, g: Tensor):
        lp, lpe, alpha, skip, live, ext, Tl, Sl, nll, dead = ctx.saved
        T, N, C = lp.shape
        Lp = ext.shape[1]
        n = np.arange(N)
        finish = np.zeros((N, Lp), bool)
        finish[n, 2 * Sl] = True
        finish[n[Sl > 0], 2 * Sl[Sl > 0] - 1] = True
        beta = np.full((T, N, Lp), -np.inf)
        skip_up = np.zeros_like(skip)  # the move s -> s + 2 is allowed
        skip_up[:, :-2] = skip[:, 2:]
        for t in range(T - 1, -1, -1):
            init = np.where(finish, lpe[t], -np.inf)
            if t + 1 < T:
                b = beta[t + 1]
                b = np.logaddexp(np.logaddexp(b, _shift(b, -1)),
                                 np.where(skip_up, _shift(b, -2), -np.inf)) + lpe[t]
            else:
                b = init
            at = (t == Tl - 1)[:, None]
            beta[t] = np.where(at, init, np.where((t < Tl - 1)[:, None], b, -np.inf))
        lcab = np.where(live[None], alpha + beta, -np.inf)
        acc = np.full((T, N, C), -np.inf)
        np.logaddexp.at(acc, (np.arange(T)[:, None, None], n[None, :, None], ext[None]), lcab)
        with np.errstate(all="ignore"):
            grad = np.exp(lp) - np.exp(acc + nll[None, :, None] - lp)
        grad[np.arange(T)[:, None] >= Tl[None, :]] = 0.0
        grad[:, dead] = 0.0
        grad *= np.asarray(g._value(), np.float64)[None, :, None]
        return _from_array(grad.astype(g._dtype.np), g._dtype, False), None


# its grad_fn as PyTorch names it
_CTC._backward_cls.__name__ = _CTC._backward_cls.__qualname__ = "CtcLossBackward0"
_CTC._backward_cls._native = True  # (its repr without torch.autograd.function.)


def ctc_loss(log_probs: Tensor, targets: Tensor, input_lengths: Tensor | tuple[int, ...],
             target_lengths: Tensor | tuple[int, ...], blank: int = 0,
             reduction: str = "mean", zero_infinity: bool = False) -> Tensor:
    """The CTC loss of log_probs (T, N, C) ((T, C) unbatched; log_softmax outputs) for
    targets (N, S) padded or 1-D concatenated (sum(target_lengths)), input_lengths and
    target_lengths (N,) tensors or tuples. reduction 'mean' (each loss divided by its
    target length, then the batch mean), 'sum' or 'none'; zero_infinity replaces
    impossible alignments' infinite losses (and their gradients) by zero. The gradient is
    PyTorch's (exact through a log_softmax; see the module docstring). Differences from
    PyTorch: a target label outside [0, C) raises RuntimeError; double backward is not
    supported (the gradient is a constant)."""
    op = "ctc_loss"
    check_tensor(log_probs, op, "log_probs")
    check_tensor(targets, op, "targets")
    if reduction not in ("none", "mean", "sum"):
        raise ValueError(f"{reduction} is not a valid value for reduction")
    if log_probs.ndim not in (2, 3) or not log_probs._dtype.is_floating_point:
        raise RuntimeError(f"ctc_loss: expected log_probs of floating dtype with shape (T, N, "
                           f"C) or (T, C), got {list(log_probs._shape)} of "
                           f"torch.{log_probs._dtype.name}")
    unbatched = log_probs.ndim == 2
    lpt = log_probs.unsqueeze(1) if unbatched else log_probs
    T, N, C = lpt._shape
    tv = np.asarray(targets._value())
    if unbatched:
        tv = tv.reshape(1, -1)
    if not (0 <= blank < C):
        raise RuntimeError("blank must be in label range")
    Tl = _lengths(input_lengths, "input_lengths", N)
    Sl = _lengths(target_lengths, "target_lengths", N)
    if (Tl > T).any():
        raise RuntimeError(f"Expected input_lengths to have value at most {T}, but got value "
                           f"{int(Tl.max())} (while checking arguments for ctc_loss)")
    if tv.ndim == 1:
        if tv.size < Sl.sum():
            raise RuntimeError(f"ctc_loss: 1-D targets of {tv.size} labels, but target_lengths "
                               f"sum to {int(Sl.sum())}")
        starts = np.concatenate([[0], np.cumsum(Sl)[:-1]]).astype(np.int64)
    elif tv.ndim == 2 and tv.shape[0] == N:
        if (Sl > tv.shape[1]).any():
            raise RuntimeError(f"Expected tensor to have size at least {int(Sl.max())} at "
                               f"dimension 1, but got size {tv.shape[1]} for argument #2 "
                               f"'targets' (while checking arguments for ctc_loss)")
        starts = np.arange(N, dtype=np.int64) * tv.shape[1]
    else:
        raise RuntimeError(f"ctc_loss: targets must be (N, S) or 1-D, got size "
                           f"{list(targets._shape)} for a batch of {N}")
    flat = tv.reshape(-1)
    Lp = 2 * int(Sl.max(initial=0)) + 1
    ext = np.full((N, Lp), blank, np.int64)
    for b in range(N):
        lab = flat[starts[b]:starts[b] + Sl[b]].astype(np.int64)
        if lab.size and (lab.min() < 0 or lab.max() >= C):
            raise RuntimeError(f"ctc_loss: target labels must be in [0, {C}), got "
                               f"{lab.tolist()} for sample {b}")
        ext[b, 1:2 * Sl[b]:2] = lab
    loss = _CTC.apply(lpt, (ext, Tl, Sl, bool(zero_infinity)))
    if reduction == "sum":
        return loss.sum()
    if reduction == "mean":
        return (loss / _const(np.maximum(Sl, 1), loss._dtype)).mean()
    return loss.squeeze(0) if unbatched else loss

