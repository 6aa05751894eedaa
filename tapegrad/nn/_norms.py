"""Normalisation layers as functions (tapegrad.nn.functional): layer_norm, batch_norm,
group_norm, instance_norm, rms_norm, and bilinear.

Statistics are recorded reductions (mean, then var with correction 0), so the gradient is
the exact derivative through them; batch_norm and instance_norm update their running
statistics in place, without grad, with the unbiased variance, as PyTorch."""

import numpy as np

from .. import dtypes
from ..autograd.grad_mode import no_grad
from ..recorder import check_tensor
from ..tensor import Tensor, _from_array
from ._grad_fn import show


def _const(v, dt: dtypes.dtype) -> Tensor:
    return _from_array(np.array(v, dt.np, order="C"), dt, False)


def _standardize(x: Tensor, dims: tuple, eps: float) -> Tensor:
    """(x - mean) / sqrt(var + eps) over dims (biased variance)."""
    xc = x - x.mean(dims, keepdim=True)
    var = (xc * xc).mean(dims, keepdim=True)  # (cheaper here than var's own record)
    return xc * (var + float(eps)).rsqrt()


def _affine(y: Tensor, weight, bias, shape: tuple) -> Tensor:
    if weight is not None:
        y = y * (weight if weight._shape == shape else weight.reshape(shape))
    if bias is not None:
        y = y + (bias if bias._shape == shape else bias.reshape(shape))
    return y


def layer_norm(input: Tensor, normalized_shape: list[int], weight: Tensor | None = None,
               bias: Tensor | None = None, eps: float = 1e-5) -> Tensor:
    """Standardize over the last len(normalized_shape) dims, then weight * y + bias (each
    of normalized_shape)."""
    check_tensor(input, "layer_norm")
    if isinstance(normalized_shape, int) or not all(isinstance(d, int)
                                                    for d in normalized_shape):
        raise TypeError(f"layer_norm(): argument 'normalized_shape' (position 2) must be tuple "
                        f"of ints, not {type(normalized_shape).__name__}")
    ns = tuple(normalized_shape)
    k, sh = len(ns), input._shape
    if k == 0 or sh[len(sh) - k:] != ns or k > len(sh):
        raise RuntimeError(f"Given normalized_shape={list(ns)}, expected input with shape "
                           f"[*, {', '.join(map(str, ns))}], but got input of size{list(sh)}")
    for name, t in (("weight", weight), ("bias", bias)):
        if t is not None and t._shape != ns:
            raise RuntimeError(f"Expected {name} to be of same shape as normalized_shape, but "
                               f"got {name} of shape {list(t._shape)} and normalized_shape = "
                               f"{list(ns)}")
    y = _standardize(input, tuple(range(len(sh) - k, len(sh))), eps)
    return show(_affine(y, weight, bias, ns), "NativeLayerNormBackward0", input, weight, bias)


def rms_norm(input: Tensor, normalized_shape: list[int], weight: Tensor | None = None,
             eps: float | None = None) -> Tensor:
    """x / sqrt(mean(x^2) + eps) over the last dims (eps: the dtype's machine epsilon by
    default), times weight."""
    check_tensor(input, "rms_norm")
    ns = (normalized_shape,) if isinstance(normalized_shape, int) else tuple(normalized_shape)
    sh = input._shape
    if sh[len(sh) - len(ns):] != ns:
        raise RuntimeError(f"Given normalized_shape={list(ns)}, expected input with shape "
                           f"[*, {', '.join(map(str, ns))}], but got input of size{list(sh)}")
    if eps is None:
        eps = float(np.finfo(input._dtype.np).eps)
    dims = tuple(range(len(sh) - len(ns), len(sh)))
    y = input * ((input * input).mean(dims, keepdim=True) + float(eps)).rsqrt()
    return _affine(y, weight, None, ns)


def _channel_shape(x: Tensor) -> tuple:
    return (x._shape[1],) + (1,) * (x.ndim - 2)


def _update(running: Tensor, value: np.ndarray, momentum: float) -> None:
    """running = (1 - momentum) running + momentum value, in place and without grad."""
    new = (1.0 - momentum) * running._value().astype(np.float64) + momentum * value
    with no_grad():
        running.copy_(_const(new.reshape(running._shape), running._dtype))


def _check_running(t, c: int, name: str) -> None:
    if t is not None and t.numel() != c:
        raise RuntimeError(f"{name} should contain {c} elements not {t.numel()}")


def batch_norm(input: Tensor, running_mean: Tensor | None, running_var: Tensor | None,
               weight: Tensor | None = None, bias: Tensor | None = None,
               training: bool = False, momentum: float = 0.1, eps: float = 1e-5) -> Tensor:
    """Normalize each channel (dim 1) of an (N, C, *) input: by the batch's statistics in
    training (updating running_mean/running_var in place with `momentum`, the variance
    unbiased), by the running statistics otherwise; then weight * y + bias per channel."""
    check_tensor(input, "batch_norm")
    if input.ndim < 2:
        raise ValueError(f"batch_norm: expected an input of 2 or more dims (N, C, ...), got "
                         f"shape {list(input._shape)}")
    c = input._shape[1]
    _check_running(running_mean, c, "running_mean")
    _check_running(running_var, c, "running_var")
    cs = _channel_shape(input)
    dims = (0,) + tuple(range(2, input.ndim))
    if training:
        n = input.numel() // c if c else 0
        if n == 1:
            raise ValueError(f"Expected more than 1 value per channel when training, got input "
                             f"size {input.shape}")
        y = _standardize(input, dims, eps)
        if running_mean is not None or running_var is not None:
            v = input._value().astype(np.float64)
            if running_mean is not None:
                _update(running_mean, v.mean(axis=dims), momentum)
            if running_var is not None:
                _update(running_var, v.var(axis=dims) * (n / max(n - 1, 1)), momentum)
    else:
        if running_mean is None or running_var is None:
            raise RuntimeError(f"running_{'mean' if running_mean is None else 'var'} must be "
                               "defined in evaluation mode")
        dt = input._dtype
        rm = running_mean._value().astype(np.float64).reshape(cs)
        rstd = 1.0 / np.sqrt(running_var._value().astype(np.float64).reshape(cs) + eps)
        y = (input - _const(rm, dt)) * _const(rstd, dt)
    _check_affine(input, weight, bias)
    return show(_affine(y, weight, bias, cs), "NativeBatchNormBackward0", input, weight, bias)


def _check_affine(input: Tensor, weight, bias) -> None:
    c = input._shape[1]
    for name, t in (("weight", weight), ("bias", bias)):
        if t is not None and t.numel() != c:
            raise RuntimeError(f"Expected {name} to be a vector of size equal to the number of "
                               f"channels in input, but got {name} of shape {list(t._shape)} "
                               f"and input of shape {list(input._shape)}")


def instance_norm(input: Tensor, running_mean: Tensor | None = None,
                  running_var: Tensor | None = None, weight: Tensor | None = None,
                  bias: Tensor | None = None, use_input_stats: bool = True,
                  momentum: float = 0.1, eps: float = 1e-5) -> Tensor:
    """Normalize each (sample, channel) of an (N, C, *) input over its spatial dims; the
    running statistics get the batch average of the instance statistics."""
    check_tensor(input, "instance_norm")
    if input.ndim < 3:
        raise ValueError(f"instance_norm: expected an input of 3 or more dims (N, C, L, ...), "
                         f"got shape {list(input._shape)}")
    c = input._shape[1]
    _check_running(running_mean, c, "running_mean")
    _check_running(running_var, c, "running_var")
    if not use_input_stats:
        return batch_norm(input, running_mean, running_var, weight, bias, False, momentum, eps)
    dims = tuple(range(2, input.ndim))
    n = input.numel() // max(input._shape[0] * c, 1)
    if n == 1:
        raise ValueError(f"Expected more than 1 spatial element when training, got input size "
                         f"{input.shape}")
    y = _standardize(input, dims, eps)
    v = input._value().astype(np.float64)
    if running_mean is not None:
        _update(running_mean, v.mean(axis=dims).mean(0), momentum)
    if running_var is not None:
        _update(running_var, (v.var(axis=dims) * (n / max(n - 1, 1))).mean(0), momentum)
    _check_affine(input, weight, bias)
    return _affine(y, weight, bias, _channel_shape(input))


def group_norm(input: Tensor, num_groups: int, weight: Tensor | None = None,
               bias: Tensor | None = None, eps: float = 1e-5) -> Tensor:
    """Standardize each group of C / num_groups channels of an (N, C, *) input (per
    sample), then weight * y + bias per channel."""
    check_tensor(input, "group_norm")
    sh = input._shape
    if input.ndim < 2 or sh[1] % num_groups:
        raise RuntimeError(f"Expected number of channels in input to be divisible by "
                           f"num_groups, but got input of shape {list(sh)} and num_groups="
                           f"{num_groups}")
    _check_affine(input, weight, bias)
    y = _standardize(input.reshape(sh[0], num_groups, -1), (2,), eps).reshape(sh)
    return show(_affine(y, weight, bias, _channel_shape(input)), "NativeGroupNormBackward0",
                input, weight, bias)


def bilinear(input1: Tensor, input2: Tensor, weight: Tensor,
             bias: Tensor | None = None) -> Tensor:
    """y_k = input1 W_k input2 + b_k over the last dims: weight (out, in1, in2), inputs
    (*, in1) and (*, in2) with the same leading dims."""
    check_tensor(input1, "bilinear", "input1")
    check_tensor(input2, "bilinear", "input2")
    check_tensor(weight, "bilinear", "weight")
    if weight.ndim != 3:
        raise RuntimeError(f"bilinear(): weight must be three-dimensional, got shape "
                           f"{list(weight._shape)}")
    a, b = input1._shape, input2._shape
    if len(a) != len(b) or a[:-1] != b[:-1]:
        i = next((i for i in range(min(len(a), len(b)) - 1) if a[i] != b[i]), 0)
        raise RuntimeError(f"bilinear(): input batch dimensions do not match at dim {i}: got "
                           f"{a[i]} and {b[i]}")
    out, in1, in2 = weight._shape
    if a[-1] != in1:
        raise RuntimeError(f"bilinear(): input1 size does not match weight size: got {a[-1]} "
                           f"but expected {in1}")
    if b[-1] != in2:
        raise RuntimeError(f"bilinear(): input2 size does not match weight size: got {b[-1]} "
                           f"but expected {in2}")
    if bias is not None and bias._shape != (out,):
        raise RuntimeError(f"bilinear(): bias size does not match weight size: got "
                           f"{list(bias._shape)} but expected [{out}]")
    x1 = input1.reshape(-1, in1)
    x2 = input2.reshape(-1, 1, in2)
    t = (x1 @ weight.permute(1, 0, 2).reshape(in1, out * in2)).reshape(-1, out, in2)
    y = (t * x2).sum(-1).reshape(a[:-1] + (out,))
    return y if bias is None else y + bias
