"""The op table's rows for tapegrad.nn: activations and binary cross-entropy, each one
record with its scalar kernels (as in elementwise.py; run `python -m tapegrad.tape.codegen`
after editing)."""

import math

import numpy as np

from .spec import IN0, IN1, OUT, binary, unary

# ---- activations (tapegrad.nn.functional): c, c2 are the layer's float parameters ------


@unary(74, "leaky_relu", "LeakyReluBackward0", saves=IN0, const=0.2,
       examples=(("torch.nn.functional.leaky_relu(x, c)", (3, 4)),
                 ("torch.nn.functional.leaky_relu(x)", (5,))))
def leaky_relu(x, c):  # c = negative_slope
    return x if x > 0 else x * c


@leaky_relu.vjp
def leaky_relu_vjp(x, y, g, c):  # slope c at x = 0, as PyTorch (x > 0 passes g)
    return g if x > 0 else g * c


@leaky_relu.grad
def leaky_relu_grad(ctx):
    return (ctx.g * ctx.const(np.where(ctx.value(0) > 0, 1.0, ctx.c)),)


@leaky_relu.numpy
def leaky_relu_np(x, c):
    return np.where(x > 0, x, x * c)


@unary(75, "elu", "EluBackward0", saves=OUT, const=1.0,
       examples=(("torch.nn.functional.elu(x)", (3, 4)),
                 ("torch.nn.functional.elu(x, 0.5)", (5,))))
def elu(x, c):  # c = alpha
    return x if x > 0 else c * np.expm1(x)


@elu.vjp
def elu_vjp(x, y, g, c):  # from the output: d/dx alpha (e^x - 1) = y + alpha
    return g if y > 0 else g * (y + c)


@elu.grad
def elu_grad(ctx):
    y, g = ctx.out, ctx.g
    return (ctx.where(ctx.value(-1) > 0, g, g * (y + ctx.c)),)


@elu.numpy
def elu_np(x, c):
    return np.where(x > 0, x, c * np.expm1(np.minimum(x, 0)))


@unary(76, "gelu", "GeluBackward0", saves=IN0, const=0.0,
       examples=(("torch.nn.functional.gelu(x)", (3, 4)),
                 ("torch.nn.functional.gelu(x, approximate='tanh')", (5,))))
def gelu(x, c):  # c = 0: x Phi(x) (erf); c = 1: the tanh approximation
    if c == 0:
        return x * 0.5 * (1.0 + math.erf(x * 0.7071067811865476))
    t = np.tanh(0.7978845608028654 * (x + 0.044715 * x * x * x))
    return 0.5 * x * (1 + t)


@gelu.vjp
def gelu_vjp(x, y, g, c):
    if c == 0:  # Phi(x) + x phi(x)
        cdf = 0.5 * (1.0 + math.erf(x * 0.7071067811865476))
        return g * (cdf + x * 0.3989422804014327 * np.exp(-0.5 * x * x))
    t = np.tanh(0.7978845608028654 * (x + 0.044715 * x * x * x))
    dt = 0.7978845608028654 * (1 + 0.134145 * x * x) * (1 - t * t)
    return g * (0.5 * (1 + t) + 0.5 * x * dt)


@gelu.grad
def gelu_grad(ctx):
    x, g = ctx.inputs[0], ctx.g
    if ctx.c == 0:  # Phi(x) + x phi(x)
        cdf = (x * 0.7071067811865476).erf() * 0.5 + 0.5
        return (g * (cdf + x * ((x * x * -0.5).exp() * 0.3989422804014327)),)
    t = ((x + x * x * x * 0.044715) * 0.7978845608028654).tanh()
    dt = (x * x * 0.134145 + 1) * 0.7978845608028654 * (1 - t * t)
    return (g * ((t + 1) * 0.5 + x * 0.5 * dt),)


@gelu.numpy
def gelu_np(x, c):  # erf in float64, then rounded, as the kernel
    from scipy.special import erf as _erf

    if c == 0:
        x64 = np.asarray(x, np.float64)
        return (x64 * 0.5 * (1.0 + _erf(x64 * 0.7071067811865476))).astype(x.dtype)
    t = np.tanh(0.7978845608028654 * (x + 0.044715 * x * x * x))
    return 0.5 * x * (1 + t)


@unary(77, "silu", "SiluBackward0", saves=IN0,
       examples=(("torch.nn.functional.silu(x)", (3, 4)),))
def silu(x, c):
    return x / (1 + np.exp(-x))


@silu.vjp
def silu_vjp(x, y, g, c):  # s (1 + x (1 - s)), s = sigmoid(x)
    s = 1 / (1 + np.exp(-x))
    return g * s * (1 + x * (1 - s))


@silu.grad
def silu_grad(ctx):
    x = ctx.inputs[0]
    s = x.sigmoid()
    return (ctx.g * (s * (1 + x * (1 - s))),)


@unary(78, "softplus", "SoftplusBackward0", saves=IN0, const=1.0,
       examples=(("torch.nn.functional.softplus(x)", (3, 4)),
                 ("torch.nn.functional.softplus(x, beta=2.0, threshold=1.5)", (6,))))
def softplus(x, c, c2):  # c = beta, c2 = threshold: linear where beta x > threshold
    return x if x * c > c2 else np.log1p(np.exp(x * c)) / c


@softplus.vjp
def softplus_vjp(x, y, g, c, c2):
    return g if x * c > c2 else g / (1 + np.exp(-x * c))


@softplus.grad
def softplus_grad(ctx):
    x, g = ctx.inputs[0], ctx.g
    return (ctx.where(ctx.value(0) * ctx.c > ctx.c2, g, g * (x * ctx.c).sigmoid()),)


@softplus.numpy
def softplus_np(x, c, c2):
    return np.where(x * c > c2, x, np.log1p(np.exp(np.minimum(x * c, c2))) / c)


@unary(79, "hardtanh", "HardtanhBackward0", saves=IN0, const=-0.5,
       examples=(("torch.nn.functional.hardtanh(x, c, 1.0)", (3, 4)),
                 ("torch.nn.functional.relu6(x * 4)", (6,))))
def hardtanh(x, c, c2):  # c = min_val, c2 = max_val
    return min(max(x, c), c2) if x == x else x


@hardtanh.vjp
def hardtanh_vjp(x, y, g, c, c2):  # open interval: zero gradient at the bounds (PyTorch)
    return g if c < x < c2 else g * 0


@hardtanh.grad
def hardtanh_grad(ctx):
    x = ctx.value(0)
    return (ctx.keep(ctx.g, (ctx.c < x) & (x < ctx.c2)),)


@hardtanh.numpy
def hardtanh_np(x, c, c2):
    return np.minimum(np.maximum(x, c), c2)


@unary(19, "logsigmoid", "LogSigmoidBackward0", saves=IN0, domain=(-4.0, 4.0),
       examples=(("torch.nn.functional.logsigmoid(x)", (3, 4)),))
def logsigmoid(x, c):  # min(x, 0) - log1p(exp(-|x|)): no overflow either side
    return min(x, x * 0) - np.log1p(np.exp(-np.abs(x)))


@logsigmoid.vjp
def logsigmoid_vjp(x, y, g, c):  # sigmoid(-x); exp(x) = inf gives 0
    return g / (1 + np.exp(x))


@logsigmoid.grad
def logsigmoid_grad(ctx):
    return (ctx.g * (-ctx.inputs[0]).sigmoid(),)


@logsigmoid.numpy
def logsigmoid_np(x, c):
    return np.minimum(x, 0) - np.log1p(np.exp(-np.abs(x)))


# ---- losses ------------------------------------------------------------------------
@binary(88, "binary_cross_entropy", "BinaryCrossEntropyBackward0", saves=IN0 | IN1,
        domain=(0.05, 0.95),
        examples=(("torch.nn.functional.binary_cross_entropy(x, y, reduction='none')", (3, 4),
                   (3, 4)),
                  ("torch.nn.functional.binary_cross_entropy(x, y, reduction='none')", (5,),
                   (5,))))
def binary_cross_entropy(a, b, c):  # a = p, b = target; each log clamped at -100 (PyTorch)
    return (b - 1) * max(np.log1p(-a), -100.0) - b * max(np.log(a), -100.0)


@binary_cross_entropy.vjp
def binary_cross_entropy_vjp_p(a, b, y, g, c):  # p (1 - p) floored at float32's 1e-12
    return g * (a - b) / max(a * (1 - a), 9.999999960041972e-13)


@binary_cross_entropy.vjp
def binary_cross_entropy_vjp_t(a, b, y, g, c):  # the clamped logs: finite at p = 0 and 1
    return g * (max(np.log1p(-a), -100.0) - max(np.log(a), -100.0))


@binary_cross_entropy.grad
def binary_cross_entropy_grad(ctx):
    (p, t, _), g = ctx.inputs, ctx.g
    gp = gt = None
    if ctx.need[0]:  # p (1 - p) floored at float32's 1e-12, as the kernel
        gp = g * (p - t) / (p * (1 - p)).clamp(min=9.999999960041972e-13)
    if ctx.need[1]:
        gt = g * ((-p).log1p().clamp(min=-100.0) - p.log().clamp(min=-100.0))
    return gp, gt


@binary_cross_entropy.numpy
def binary_cross_entropy_np(a, b, c):
    with np.errstate(divide="ignore"):
        return (b - 1) * np.maximum(np.log1p(-a), -100) - b * np.maximum(np.log(a), -100)
