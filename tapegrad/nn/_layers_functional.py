"""Layers as functions (tapegrad.nn.functional): dropout, embedding, one_hot, pad,
normalize, the norms (layer, batch, group), bilinear, cosine_similarity and
pairwise_distance, composed from recorded tensor ops.

Index maps (which input element an output element reads: embedding rows, padding) are
computed in NumPy, so `pad` in any mode is one index record (plus one masked_fill for a
constant fill), whatever the number of padded dims.
"""

import math
import warnings

import numpy as np

from .. import dtypes
from ..autograd.grad_mode import no_grad
from ..creation import _rng
from ..recorder import check_tensor
from ..selection import where
from ..tensor import Tensor, _dim, _from_array
from ._grad_fn import show


def _const(v, dt: dtypes.dtype) -> Tensor:
    return _from_array(np.array(v, dt.np, order="C"), dt, False)


# ---- dropout ----------------------------------------------------------------------------
def _check_p(p: float) -> float:
    if not 0.0 <= p <= 1.0:
        raise ValueError(f"dropout probability has to be between 0 and 1, but got {p}")
    return float(p)


def _drop(input: Tensor, p: float, mask_shape: tuple, inplace: bool) -> Tensor:
    """input * mask / (1 - p), the mask drawn from the global generator (kept with
    probability 1 - p) in `mask_shape`, which broadcasts to input's shape."""
    dt = input._dtype
    if p == 1.0:
        noise = np.zeros(mask_shape, dt.np)
    else:
        keep = _rng[0].random(mask_shape) < 1.0 - p
        noise = keep.astype(dt.np) / dt.np.type(1.0 - p)
    noise_t = _const(noise, dt)
    return input.mul_(noise_t) if inplace else input * noise_t


def dropout(input: Tensor, p: float = 0.5, training: bool = True,
            inplace: bool = False) -> Tensor:
    """Zero each element with probability p and scale the rest by 1/(1-p) in training;
    the input itself otherwise, and for p=0 (nothing drawn). inplace=True multiplies into
    input (PyTorch's rules for in-place ops apply: a leaf that requires grad refuses)."""
    check_tensor(input, "dropout")
    p = _check_p(p)
    if not training or p == 0.0:
        return input
    return _drop(input, p, input._shape, inplace)


def _feature_dropout(input: Tensor, p: float, training: bool, inplace: bool,
                     batched: bool) -> Tensor:
    p = _check_p(p)
    if not training or p == 0.0:  # (p=0: nothing drawn)
        return input
    sh = input._shape
    lead = 2 if batched else 1  # (N, C, ...) or (C, ...): one draw per channel
    return _drop(input, p, sh[:lead] + (1,) * (len(sh) - lead), inplace)


def dropout1d(input: Tensor, p: float = 0.5, training: bool = True,
              inplace: bool = False) -> Tensor:
    """Zero whole channels of an (N, C, L) or (C, L) input with probability p."""
    check_tensor(input, "dropout1d")
    if input.ndim not in (2, 3):
        raise RuntimeError(f"dropout1d: Expected 2D or 3D input, but received a {input.ndim}D "
                           "input. Note that dropout1d exists to provide channel-wise dropout "
                           "on inputs with 1 spatial dimension, a channel dimension, and an "
                           "optional batch dimension (i.e. 2D or 3D inputs).")
    return _feature_dropout(input, p, training, inplace, input.ndim == 3)


def dropout2d(input: Tensor, p: float = 0.5, training: bool = True,
              inplace: bool = False) -> Tensor:
    """Zero whole channels of an (N, C, H, W) or (C, H, W) input with probability p (a 3-D
    input is taken as (N, C, L), with PyTorch's warning)."""
    check_tensor(input, "dropout2d")
    nd = input.ndim
    if nd not in (3, 4):
        warnings.warn(f"dropout2d: Received a {nd}-D input to dropout2d, which is deprecated "
                      "and will result in an error in a future release. To retain the "
                      "behavior and silence this warning, please use dropout instead. Note "
                      "that dropout2d exists to provide channel-wise dropout on inputs with 2 "
                      "spatial dimensions, a channel dimension, and an optional batch "
                      "dimension (i.e. 3D or 4D inputs).", UserWarning, stacklevel=2)
    if nd == 3:
        warnings.warn("dropout2d: Received a 3D input to dropout2d and assuming that "
                      "channel-wise 1D dropout behavior is desired - input is interpreted as "
                      "shape (N, C, L), where C is the channel dim. This behavior will change "
                      "in a future release to interpret the input as one without a batch "
                      "dimension, i.e. shape (C, H, W). To maintain the 1D channel-wise "
                      "dropout behavior, please switch to using dropout1d instead.",
                      UserWarning, stacklevel=2)
    return _feature_dropout(input, p, training, inplace, nd >= 3)


def dropout3d(input: Tensor, p: float = 0.5, training: bool = True,
              inplace: bool = False) -> Tensor:
    """Zero whole channels of an (N, C, D, H, W) or (C, D, H, W) input with probability p."""
    check_tensor(input, "dropout3d")
    nd = input.ndim
    if nd not in (4, 5):
        warnings.warn(f"dropout3d: Received a {nd}-D input to dropout3d, which is deprecated "
                      "and will result in an error in a future release. To retain the "
                      "behavior and silence this warning, please use dropout instead. Note "
                      "that dropout3d exists to provide channel-wise dropout on inputs with 3 "
                      "spatial dimensions, a channel dimension, and an optional batch "
                      "dimension (i.e. 4D or 5D inputs).", UserWarning, stacklevel=2)
    return _feature_dropout(input, p, training, inplace, nd != 4)


# ---- embedding, one_hot -------------------------------------------------------------
def _int_indices(input: Tensor, op: str) -> np.ndarray:
    check_tensor(input, op)
    if input._dtype not in (dtypes.int64, dtypes.int32):
        raise RuntimeError(f"Expected tensor for argument #1 'indices' to have one of the "
                           f"following scalar types: Long, Int; but got torch."
                           f"{input._dtype.legacy} instead (while checking arguments for {op})")
    return input._value().astype(np.int64)


def embedding(input: Tensor, weight: Tensor, padding_idx: int | None = None,
              max_norm: float | None = None, norm_type: float = 2.0,
              scale_grad_by_freq: bool = False, sparse: bool = False) -> Tensor:
    """Rows of `weight` (num_embeddings, dim) at int indices of any shape: the result has
    shape input.shape + (dim,). The row of `padding_idx` gets a zero gradient; `max_norm`
    renormalizes (in place, without grad) the rows looked up whose norm exceeds it;
    `scale_grad_by_freq` divides each row's gradient by its count in `input`. `sparse` is
    accepted and ignored: gradients are dense."""
    idx = _int_indices(input, "embedding")
    check_tensor(weight, "embedding", "weight")
    if weight.ndim != 2:
        raise RuntimeError("'weight' must be 2-D")
    n, d = weight._shape
    if idx.size and (idx.min() < 0 or idx.max() >= n):
        bad = idx[(idx < 0) | (idx >= n)].flat[0]
        raise IndexError(f"index out of range in self (embedding: index {bad} for a weight of "
                         f"{n} rows)")
    if padding_idx is not None:
        if not -n <= padding_idx < n:
            raise AssertionError("Padding_idx must be within num_embeddings")
        padding_idx = padding_idx + n if padding_idx < 0 else padding_idx
    if max_norm is not None:
        _renorm_rows(weight, np.unique(idx), float(max_norm), float(norm_type))
    out = weight[_const(idx, dtypes.int64)]
    dt = weight._dtype
    if scale_grad_by_freq and out._rg:
        rows, counts = np.unique(idx, return_counts=True)
        freq = np.zeros(n)
        freq[rows] = counts
        scale = (1.0 / freq[idx])[..., None].astype(dt.np)
        vals = _const(out._value(), dt)
        out = vals + (out - vals) * _const(scale, dt)  # same value, gradient / count
    if padding_idx is not None and out._rg and (idx == padding_idx).any():
        pad = _const((idx == padding_idx)[..., None], dtypes.bool_)
        out = where(pad, _const(np.broadcast_to(out._value(), out._shape), dt), out)
    return show(out, "EmbeddingBackward0", weight)


def _renorm_rows(weight: Tensor, rows: np.ndarray, max_norm: float, p: float) -> None:
    w = weight._value()
    sub = w[rows].astype(np.float64)
    norms = np.linalg.norm(sub, ord=p, axis=1) if p != 2 else np.sqrt((sub * sub).sum(1))
    big = norms > max_norm
    if big.any():
        scaled = sub[big] * (max_norm / (norms[big] + 1e-7))[:, None]
        with no_grad():
            weight[_const(rows[big], dtypes.int64)] = _const(scaled, weight._dtype)


def one_hot(tensor: Tensor, num_classes: int = -1) -> Tensor:
    """int64 one-hot encoding: shape tensor.shape + (num_classes,), num_classes = max + 1
    when -1."""
    check_tensor(tensor, "one_hot")
    if tensor._dtype is not dtypes.int64:
        raise RuntimeError("one_hot is only applicable to index tensor of type LongTensor.")
    v = tensor._value()
    if num_classes == -1:
        if v.size == 0:
            raise RuntimeError("Can not infer total number of classes from empty tensor.")
        num_classes = int(v.max()) + 1
    if v.size and v.min() < 0:
        raise RuntimeError("Class values must be non-negative.")
    if v.size and v.max() >= num_classes:
        raise RuntimeError("Class values must be smaller than num_classes.")
    out = (v[..., None] == np.arange(num_classes)).astype(np.int64)
    return _from_array(out, dtypes.int64, False)


# ---- pad ----------------------------------------------------------------------------
def _source(n_in: int, lo: int, hi: int, mode: str, dim: int, shape) -> tuple:
    """For one padded dim: the input position each output position reads, and where the
    output is padding (constant mode)."""
    o = np.arange(n_in + lo + hi) - lo
    if mode == "constant":
        inside = (o >= 0) & (o < n_in)
        return np.where(inside, o, 0), ~inside
    if mode == "reflect":
        if lo >= n_in or hi >= n_in:
            raise RuntimeError(f"Argument #4: Padding size should be less than the "
                               f"corresponding input dimension, but got: padding ({lo}, {hi}) "
                               f"at dimension {dim} of input {list(shape)}")
        o = np.abs(o)
        o = np.where(o >= n_in, 2 * (n_in - 1) - o, o)
    elif mode == "replicate":
        o = np.clip(o, 0, n_in - 1)
    else:  # circular
        if lo > n_in or hi > n_in:
            raise RuntimeError("Padding value causes wrapping around more than once.")
        o = np.mod(o, n_in)
    return o, None


def pad(input: Tensor, pad: list[int], mode: str = "constant",
        value: float | None = None) -> Tensor:
    """Pad the last len(pad)/2 dims: pad = (left, right) of the last dim, then of the one
    before it, ... 'constant' fills with `value` (0 by default) and takes negative pads
    (cropping); 'reflect', 'replicate' and 'circular' pad the last 1-3 dims of a batched
    input. One index record, plus a masked_fill for the constant."""
    check_tensor(input, "pad")
    pad = [int(v) for v in pad]
    if len(pad) % 2:
        raise RuntimeError("Padding length must be divisible by 2")
    k, nd, sh = len(pad) // 2, input.ndim, input._shape
    if k > nd:
        raise RuntimeError(f"Padding length should be less than or equal to two times the "
                           f"input dimension but got padding length {len(pad)} and input of "
                           f"dimension {nd}")
    if mode not in ("constant", "reflect", "replicate", "circular"):
        raise NotImplementedError(f"Unrecognised padding mode {mode}")
    if mode != "constant":
        if value is not None and value != 0:
            raise RuntimeError(f'Padding mode "{mode}" doesn\'t take in value argument')
        if k > 3 or nd not in (k + 1, k + 2):
            raise NotImplementedError(
                f"Padding size {len(pad)} is not supported for {nd}D input tensor.\n"
                "Supported combinations for non-constant padding:\n"
                "  - 2D or 3D input: padding size = 2 (pads last dimension)\n"
                "  - 3D or 4D input: padding size = 4 (pads last 2 dimensions)\n"
                "  - 4D or 5D input: padding size = 6 (pads last 3 dimensions)")
    strides = [math.prod(sh[i + 1:]) for i in range(nd)]
    flat = np.zeros((), np.int64)
    fill = np.zeros((), bool)
    out_shape = list(sh)
    for i in range(nd):
        j = nd - 1 - i  # pads[2i], pads[2i+1] are dim j's
        if i < k:
            lo, hi = pad[2 * i], pad[2 * i + 1]
            if sh[j] + lo + hi < 0:
                raise RuntimeError(f"The input size {sh[j]}, plus negative padding {lo} and "
                                   f"{hi} resulted in a negative output size, which is "
                                   f"invalid. Check dimension {j} of your input.")
            src, outside = _source(sh[j], lo, hi, mode, j, sh)
        else:
            src, outside = np.arange(sh[j]), None
        out_shape[j] = len(src)
        view = (1,) * j + (-1,) + (1,) * (nd - 1 - j)
        flat = flat + (src * strides[j]).reshape(view)
        if outside is not None:
            fill = fill | outside.reshape(view)
    out_shape = tuple(out_shape)
    flat = np.broadcast_to(flat, out_shape)
    if input.numel() == 0 or flat.size == 0:
        v = np.full(out_shape, 0 if value is None else value).astype(input._dtype.np)
        return _from_array(v, input._dtype, False)
    out = input.reshape(-1)[_const(flat, dtypes.int64)]
    if fill.any():
        out = out.masked_fill(_const(np.broadcast_to(fill, out_shape), dtypes.bool_),
                              0.0 if value is None else value)
    if mode == "circular":
        return out
    node = "ConstantPadNdBackward0" if mode == "constant" else f"{_PAD_NODES[mode]}{k}DBackward0"
    return show(out, node, input)  # PyTorch's one node


_PAD_NODES = {"reflect": "ReflectionPad", "replicate": "ReplicationPad"}


# ---- distances and normalisation ------------------------------------------------------
def normalize(input: Tensor, p: float = 2.0, dim: int = 1, eps: float = 1e-12,
              out: Tensor | None = None) -> Tensor:
    """input / max(||input||_p, eps) along dim."""
    check_tensor(input, "normalize")
    r = input / input.norm(p, dim, keepdim=True).clamp(min=eps)
    if out is not None:
        out.copy_(r)
        return out
    return r


def _norm_clamped(x: Tensor, dim: int, eps: float) -> Tensor:
    """||x|| along dim (kept), raised to eps where smaller without changing the gradient
    (a clamp outside the recorded graph, as PyTorch's cosine_similarity)."""
    n = x.norm(2, dim, keepdim=True)
    nv = n._value()
    if (nv < eps).any():
        n = n + _const(np.maximum(nv, eps) - nv, n._dtype)
    return n


def cosine_similarity(x1: Tensor, x2: Tensor, dim: int = 1, eps: float = 1e-8) -> Tensor:
    """sum((x1 / max(||x1||, eps)) * (x2 / max(||x2||, eps))) along dim, x1 and x2
    broadcast together."""
    check_tensor(x1, "cosine_similarity", "x1")
    check_tensor(x2, "cosine_similarity", "x2")
    if x1._shape != x2._shape:
        sh = np.broadcast_shapes(x1._shape, x2._shape) if _broadcastable(x1, x2) else None
        if sh is None:
            raise RuntimeError(f"cosine_similarity: The size of tensor a ({x1._shape}) must "
                               f"match the size of tensor b ({x2._shape})")
        x1, x2 = x1.expand(sh), x2.expand(sh)
    d = _dim(dim, x1.ndim, "cosine_similarity")
    return ((x1 / _norm_clamped(x1, d, eps)) * (x2 / _norm_clamped(x2, d, eps))).sum(d)


def _broadcastable(a: Tensor, b: Tensor) -> bool:
    try:
        np.broadcast_shapes(a._shape, b._shape)
        return True
    except ValueError:
        return False


def pairwise_distance(x1: Tensor, x2: Tensor, p: float = 2.0, eps: float = 1e-6,
                      keepdim: bool = False) -> Tensor:
    """||x1 - x2 + eps||_p over the last dim."""
    check_tensor(x1, "pairwise_distance", "x1")
    check_tensor(x2, "pairwise_distance", "x2")
    d = x1 - x2 + float(eps)
    return d.norm(p, -1 if d.ndim else None, keepdim=keepdim)
