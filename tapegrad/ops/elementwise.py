"""Elementwise ops: one block each, the row and then its scalar kernels.

Kernels are Numba nopython code on scalars; tapegrad/tape/codegen.py copies them into the
compiled dispatch, so edit them here and run `python -m tapegrad.tape.codegen`.
Use np.* math (it keeps float32 in float32) and never divide by a value that can be 0
without a comment on what PyTorch returns there.
"""

import math

import numpy as np

from ..tape.records import R_IN0, R_IN1
from .spec import IN0, IN1, IN2, OUT, SCALAR, binary, ternary, unary

# ---- unary math ----------------------------------------------------------------------


@unary(1, "neg", "NegBackward0")
def neg(x, c):
    return -x


@neg.vjp
def neg_vjp(x, y, g, c):
    return -g


@neg.grad
def neg_grad(ctx):
    return (-ctx.g,)


@unary(2, "exp", "ExpBackward0", saves=OUT)
def exp(x, c):
    return np.exp(x)


@exp.vjp
def exp_vjp(x, y, g, c):  # d exp(x) = exp(x) dx: reuses the output
    return g * y


@exp.grad
def exp_grad(ctx):
    return (ctx.g * ctx.out,)


@unary(3, "log", "LogBackward0", saves=IN0, domain=(0.2, 3.0))
def log(x, c):
    return np.log(x)


@log.vjp
def log_vjp(x, y, g, c):  # at x = 0 this is g/0 = inf, as in PyTorch
    return g / x


@log.grad
def log_grad(ctx):
    return (ctx.g / ctx.inputs[0],)


@unary(4, "sqrt", "SqrtBackward0", saves=OUT, domain=(0.2, 3.0))
def sqrt(x, c):
    return np.sqrt(x)


@sqrt.vjp
def sqrt_vjp(x, y, g, c):  # g / (2 sqrt x): inf at 0, as in PyTorch
    return g / (y + y)


@sqrt.grad
def sqrt_grad(ctx):
    return (ctx.g / (ctx.out * 2),)


@unary(5, "sin", "SinBackward0", saves=IN0)
def sin(x, c):
    return np.sin(x)


@sin.vjp
def sin_vjp(x, y, g, c):
    return g * np.cos(x)


@sin.grad
def sin_grad(ctx):
    return (ctx.g * ctx.inputs[0].cos(),)


@unary(6, "cos", "CosBackward0", saves=IN0)
def cos(x, c):
    return np.cos(x)


@cos.vjp
def cos_vjp(x, y, g, c):
    return -g * np.sin(x)


@cos.grad
def cos_grad(ctx):
    return (ctx.g * -ctx.inputs[0].sin(),)


@unary(7, "tanh", "TanhBackward0", saves=OUT)
def tanh(x, c):
    return np.tanh(x)


@tanh.vjp
def tanh_vjp(x, y, g, c):
    return g * (1 - y * y)


@tanh.grad
def tanh_grad(ctx):
    y = ctx.out
    return (ctx.g * (1 - y * y),)


@unary(8, "sigmoid", "SigmoidBackward0", saves=OUT, domain=(-4.0, 4.0))
def sigmoid(x, c):  # exp(-x) overflows to inf for x < -88 (float32): 1/inf = 0, fine
    return 1 / (1 + np.exp(-x))


@sigmoid.vjp
def sigmoid_vjp(x, y, g, c):
    return g * y * (1 - y)


@sigmoid.grad
def sigmoid_grad(ctx):
    y = ctx.out
    return (ctx.g * (y * (1 - y)),)


@unary(9, "relu", "ReluBackward0", saves=OUT)
def relu(x, c):  # +0 for x <= 0 and -inf (x * 0 would give -0 and nan), nan stays nan
    return x if x > 0 or x != x else 0.0


@relu.vjp
def relu_vjp(x, y, g, c):  # subgradient 0 at x = 0, as in PyTorch
    return g if y > 0 else g * 0


@relu.grad
def relu_grad(ctx):
    return (ctx.keep(ctx.g, ctx.value(-1) > 0),)


@relu.numpy
def relu_np(x, c):
    return np.maximum(x, 0)


@unary(10, "abs", "AbsBackward0", saves=IN0)
def abs(x, c):
    return np.abs(x)


@abs.vjp
def abs_vjp(x, y, g, c):  # sign(0) = 0: zero subgradient at 0, as in PyTorch
    return g * np.sign(x)


@abs.grad
def abs_grad(ctx):
    return (ctx.g * ctx.const(np.sign(ctx.value(0))),)


@unary(60, "log1p", "Log1PBackward0", saves=IN0, domain=(-0.5, 2.0))
def log1p(x, c):
    return np.log1p(x)


@log1p.vjp
def log1p_vjp(x, y, g, c):
    return g / (1 + x)


@log1p.grad
def log1p_grad(ctx):
    return (ctx.g / (ctx.inputs[0] + 1),)


@unary(61, "expm1", "Expm1Backward0", saves=OUT)
def expm1(x, c):
    return np.expm1(x)


@expm1.vjp
def expm1_vjp(x, y, g, c):
    return g * (y + 1)


@expm1.grad
def expm1_grad(ctx):
    return (ctx.g * (ctx.out + 1),)


@unary(62, "log2", "Log2Backward0", saves=IN0, domain=(0.2, 3.0))
def log2(x, c):
    return np.log2(x)


@log2.vjp
def log2_vjp(x, y, g, c):
    return g / (x * 0.6931471805599453)


@log2.grad
def log2_grad(ctx):
    return (ctx.g / (ctx.inputs[0] * 0.6931471805599453),)


@unary(63, "log10", "Log10Backward0", saves=IN0, domain=(0.2, 3.0))
def log10(x, c):
    return np.log10(x)


@log10.vjp
def log10_vjp(x, y, g, c):
    return g / (x * 2.302585092994046)


@log10.grad
def log10_grad(ctx):
    return (ctx.g / (ctx.inputs[0] * 2.302585092994046),)


@unary(64, "tan", "TanBackward0", saves=OUT, domain=(-1.2, 1.2))
def tan(x, c):
    return np.tan(x)


@tan.vjp
def tan_vjp(x, y, g, c):
    return g * (1 + y * y)


@tan.grad
def tan_grad(ctx):
    y = ctx.out
    return (ctx.g * (1 + y * y),)


@unary(65, "sinh", "SinhBackward0", saves=IN0)
def sinh(x, c):
    return np.sinh(x)


@sinh.vjp
def sinh_vjp(x, y, g, c):
    return g * np.cosh(x)


@sinh.grad
def sinh_grad(ctx):
    return (ctx.g * ctx.inputs[0].cosh(),)


@unary(66, "cosh", "CoshBackward0", saves=IN0)
def cosh(x, c):
    return np.cosh(x)


@cosh.vjp
def cosh_vjp(x, y, g, c):
    return g * np.sinh(x)


@cosh.grad
def cosh_grad(ctx):
    return (ctx.g * ctx.inputs[0].sinh(),)


@unary(67, "asin", "AsinBackward0", saves=IN0, domain=(-0.9, 0.9))
def asin(x, c):
    return np.arcsin(x)


@asin.vjp
def asin_vjp(x, y, g, c):  # inf at |x| = 1, nan outside, as in PyTorch
    return g / np.sqrt(1 - x * x)


@asin.grad
def asin_grad(ctx):
    x = ctx.inputs[0]
    return (ctx.g / (1 - x * x).sqrt(),)


@unary(68, "acos", "AcosBackward0", saves=IN0, domain=(-0.9, 0.9))
def acos(x, c):
    return np.arccos(x)


@acos.vjp
def acos_vjp(x, y, g, c):
    return -g / np.sqrt(1 - x * x)


@acos.grad
def acos_grad(ctx):
    x = ctx.inputs[0]
    return (-ctx.g / (1 - x * x).sqrt(),)


@unary(69, "atan", "AtanBackward0", saves=IN0)
def atan(x, c):
    return np.arctan(x)


@atan.vjp
def atan_vjp(x, y, g, c):
    return g / (1 + x * x)


@atan.grad
def atan_grad(ctx):
    x = ctx.inputs[0]
    return (ctx.g / (1 + x * x),)


@unary(70, "erf", "ErfBackward0", saves=IN0)
def erf(x, c):  # math.erf computes in float64; the arena store rounds float32 once
    return math.erf(x)


@erf.vjp
def erf_vjp(x, y, g, c):  # 2/sqrt(pi) exp(-x^2)
    return g * 1.1283791670955126 * np.exp(-x * x)


@erf.grad
def erf_grad(ctx):
    x = ctx.inputs[0]
    return (ctx.g * ((-x * x).exp() * 1.1283791670955126),)


@erf.numpy
def erf_np(x, c):  # in float64, then rounded, as the kernel
    from scipy.special import erf as _erf  # scipy is a dependency; importing it costs 0.1 s

    return _erf(np.asarray(x, np.float64)).astype(x.dtype)


@unary(71, "rsqrt", "RsqrtBackward0", saves=OUT, domain=(0.2, 3.0))
def rsqrt(x, c):
    return 1 / np.sqrt(x)


@rsqrt.vjp
def rsqrt_vjp(x, y, g, c):  # -x^(-3/2) / 2
    return -0.5 * g * y * y * y


@rsqrt.grad
def rsqrt_grad(ctx):
    y = ctx.out
    return (ctx.g * (y * y * y) * -0.5,)


@unary(72, "sign", "SignBackward0")
def sign(x, c):
    return np.sign(x)


@sign.vjp
def sign_vjp(x, y, g, c):  # zero gradient everywhere (PyTorch)
    return g * 0


@sign.grad
def sign_grad(ctx):
    return (None,)  # zero everywhere


@unary(73, "clamp", "ClampBackward1", const=-0.5,
       examples=(("x.clamp(-0.5, 1.0)", (3, 4)), ("x.clamp(min=0.3)", (5,)),
                 ("torch.clip(x, max=0.2)", (5,))))
def clamp(x, c, c2):  # c = min, c2 = max (-inf / inf when absent; the record's aux holds c2)
    return min(max(x, c), c2) if x == x else x


@clamp.vjp
def clamp_vjp(x, y, g, c, c2):  # the bounds are inclusive: x == min passes the gradient
    return g if c <= x <= c2 else g * 0


@clamp.grad
def clamp_grad(ctx):
    x = ctx.value(0)
    return (ctx.keep(ctx.g, (x >= ctx.c) & (x <= ctx.c2)),)


@clamp.numpy
def clamp_np(x, c, c2):  # np.maximum and np.minimum pass nan through
    return np.minimum(np.maximum(x, c), c2)


# ---- tensor (op) python scalar: c is the scalar ---------------------------------------


@unary(11, "add_scalar", "AddBackward0", const=1.5,
       examples=(("x + c", ()), ("x + c", (2, 3))))
def add_scalar(x, c):
    return x + c


@add_scalar.vjp
def add_scalar_vjp(x, y, g, c):
    return g


@add_scalar.grad
def add_scalar_grad(ctx):
    return (ctx.g,)


@unary(12, "sub_scalar", "SubBackward0", const=1.5,
       examples=(("x - c", ()), ("x - c", (2, 3))))
def sub_scalar(x, c):
    return x - c


@sub_scalar.vjp
def sub_scalar_vjp(x, y, g, c):
    return g


@sub_scalar.grad
def sub_scalar_grad(ctx):
    return (ctx.g,)


@unary(13, "rsub_scalar", "RsubBackward1", const=1.5,
       examples=(("c - x", ()), ("c - x", (2, 3))))
def rsub_scalar(x, c):  # c - x
    return c - x


@rsub_scalar.vjp
def rsub_scalar_vjp(x, y, g, c):
    return -g


@rsub_scalar.grad
def rsub_scalar_grad(ctx):
    return (-ctx.g,)


@unary(14, "mul_scalar", "MulBackward0", saves=SCALAR, const=-1.5,
       examples=(("x * c", ()), ("x * c", (2, 3))))
def mul_scalar(x, c):
    return x * c


@mul_scalar.vjp
def mul_scalar_vjp(x, y, g, c):
    return g * c


@mul_scalar.grad
def mul_scalar_grad(ctx):
    return (ctx.g * ctx.c,)


@unary(15, "div_scalar", "DivBackward0", saves=SCALAR, const=0.7,
       examples=(("x / c", ()), ("x / c", (2, 3))))
def div_scalar(x, c):
    return x / c


@div_scalar.vjp
def div_scalar_vjp(x, y, g, c):
    return g / c


@div_scalar.grad
def div_scalar_grad(ctx):
    return (ctx.g / ctx.c,)


@unary(16, "pow_scalar", "PowBackward0", saves=IN0, domain=(0.2, 2.0), const=2.5,
       examples=(("x ** c", ()), ("x ** c", (2, 3)), ("x ** 2", (3,)), ("x ** 0", (3,))),
       special=(2.0,))
def pow_scalar(x, c):  # x ** c; squares are common and pow() costs ~20x a multiply
    return x * x if c == 2 else x**c


@pow_scalar.vjp
def pow_scalar_vjp(x, y, g, c):  # exponent 0 has a zero gradient everywhere (PyTorch)
    if c == 2:
        return 2 * g * x
    return g * c * x ** (c - 1) if c != 0 else g * 0


@pow_scalar.grad
def pow_scalar_grad(ctx):
    c, x = ctx.c, ctx.inputs[0]
    if c == 0:
        return (None,)
    if c == 2:
        return (ctx.g * (x * 2.0),)
    return (ctx.g * (x ** (c - 1) * c),)


@unary(17, "rpow_scalar", "PowBackward2", saves=IN0 | OUT, const=1.7,
       examples=(("c ** x", ()), ("c ** x", (2, 3))))
def rpow_scalar(x, c):  # c ** x
    return c**x


@rpow_scalar.vjp
def rpow_scalar_vjp(x, y, g, c):  # base 0 with x >= 0: gradient 0, not nan (PyTorch)
    return g * y * np.log(c) if c != 0 or x < 0 else g * 0


@rpow_scalar.grad
def rpow_scalar_grad(ctx):  # base 0 with x >= 0: zero gradient (PyTorch)
    c = ctx.c
    if c == 0 and (ctx.value(0) >= 0).all():
        return (None,)
    with np.errstate(all="ignore"):
        log_c = float(np.log(np.float64(c)))  # nan for a negative base, as the kernel
    return (ctx.g * (ctx.out * log_c),)


@unary(18, "reciprocal", "ReciprocalBackward0", saves=OUT, domain=(0.3, 2.0))
def reciprocal(x, c):
    return 1 / x


@reciprocal.vjp
def reciprocal_vjp(x, y, g, c):
    return -g * y * y


@reciprocal.grad
def reciprocal_grad(ctx):
    y = ctx.out
    return (-ctx.g * y * y,)


# ---- binary, with broadcasting: c is alpha (add, sub) --------------------------------


@binary(20, "add", "AddBackward0", const=1.0,
        examples=(("torch.add(x, y, alpha=c)", (2, 3), (3,)), ("x + y", (2, 3), (2, 3)),
                  ("x + y", (3, 1), (1, 4)), ("x + y", (), (3,))))
def add(a, b, c):
    return a + c * b if c != 1 else a + b


@add.vjp
def add_vjp_a(a, b, y, g, c):
    return g


@add.vjp
def add_vjp_b(a, b, y, g, c):
    return g * c if c != 1 else g


@add.grad
def add_grad(ctx):
    g, c = ctx.g, ctx.c
    return ctx.sum_to(g, 0), ctx.sum_to(g * c if c != 1 else g, 1)


@binary(21, "sub", "SubBackward0", const=1.0,
        examples=(("torch.sub(x, y, alpha=c)", (2, 3), (3,)), ("x - y", (3, 1), (1, 4))))
def sub(a, b, c):
    return a - c * b if c != 1 else a - b


@sub.vjp
def sub_vjp_a(a, b, y, g, c):
    return g


@sub.vjp
def sub_vjp_b(a, b, y, g, c):
    return -g * c if c != 1 else -g


@sub.grad
def sub_grad(ctx):
    g, c = ctx.g, ctx.c
    return ctx.sum_to(g, 0), ctx.sum_to(-g * c if c != 1 else -g, 1)


@binary(22, "mul", "MulBackward0", saves=IN0 | IN1)
def mul(a, b, c):
    return a * b


@mul.vjp
def mul_vjp_a(a, b, y, g, c):
    return g * b


@mul.vjp
def mul_vjp_b(a, b, y, g, c):
    return g * a


@mul.grad
def mul_grad(ctx):
    (a, b, _), g = ctx.inputs, ctx.g
    return (ctx.sum_to(g * b, 0) if ctx.need[0] else None,
            ctx.sum_to(g * a, 1) if ctx.need[1] else None)


@binary(23, "div", "DivBackward0", saves=IN0 | IN1, domain=(0.3, 2.0))
def div(a, b, c):
    return a / b


@div.vjp
def div_vjp_a(a, b, y, g, c):
    return g / b


@div.vjp
def div_vjp_b(a, b, y, g, c):
    return -g * a / (b * b)


@div.grad
def div_grad(ctx):
    (a, b, _), g = ctx.inputs, ctx.g
    return (ctx.sum_to(g / b, 0) if ctx.need[0] else None,
            ctx.sum_to(-g * a / (b * b), 1) if ctx.need[1] else None)


@binary(24, "pow", "PowBackward1", saves=IN0 | IN1 | OUT, domain=(0.3, 2.0))
def pow(a, b, c):
    return a**b


@pow.vjp
def pow_vjp_a(a, b, y, g, c):  # b == 0: zero gradient, not 0 * inf
    return g * b * a ** (b - 1) if b != 0 else g * 0


@pow.vjp
def pow_vjp_b(a, b, y, g, c):  # a == 0 and b >= 0: zero gradient, not nan (PyTorch)
    return g * y * np.log(a) if a != 0 or b < 0 else g * 0


@pow.grad
def pow_grad(ctx):
    (a, b, _), g = ctx.inputs, ctx.g
    va, vb = ctx.values(0, 1)
    ga = gb = None
    if ctx.need[0]:  # b == 0: zero gradient
        ga = ctx.sum_to(ctx.keep(g * b * a ** (b - 1), vb != 0), 0)
    if ctx.need[1]:  # a == 0 with b >= 0: zero gradient
        gb = ctx.sum_to(ctx.keep(g * ctx.out * a.log(), (va != 0) | (vb < 0)), 1)
    return ga, gb



@binary(80, "atan2", "Atan2Backward0", saves=IN0 | IN1, domain=(0.3, 2.0))
def atan2(a, b, c):  # atan(a / b) in the right quadrant
    return np.arctan2(a, b)


@atan2.vjp
def atan2_vjp_a(a, b, y, g, c):
    return g * b / (a * a + b * b)


@atan2.vjp
def atan2_vjp_b(a, b, y, g, c):
    return -g * a / (a * a + b * b)


@atan2.grad
def atan2_grad(ctx):
    (a, b, _), g = ctx.inputs, ctx.g
    d = a * a + b * b
    return ctx.sum_to(g * b / d, 0), ctx.sum_to(-g * a / d, 1)


@binary(81, "maximum", "MaximumBackward0", saves=IN0 | IN1)
def maximum(a, b, c):  # nan wins, as in PyTorch
    return a if a > b or a != a else b


@maximum.vjp
def maximum_vjp_a(a, b, y, g, c):  # a tie splits the gradient in halves (PyTorch)
    return g if a > b else (g * 0.5 if a == b else g * 0)


@maximum.vjp
def maximum_vjp_b(a, b, y, g, c):
    return g if b > a else (g * 0.5 if a == b else g * 0)


@maximum.grad
def maximum_grad(ctx):
    va, vb = ctx.values(0, 1)
    g = ctx.g  # a tie splits the gradient in halves; constant shares: second derivative 0
    return (ctx.sum_to(g * ctx.const(np.where(va > vb, 1.0, np.where(va == vb, 0.5, 0.0))), 0),
            ctx.sum_to(g * ctx.const(np.where(vb > va, 1.0, np.where(va == vb, 0.5, 0.0))), 1))


@maximum.numpy
def maximum_np(a, b, c):
    return np.maximum(a, b)


@binary(82, "minimum", "MinimumBackward0", saves=IN0 | IN1)
def minimum(a, b, c):
    return a if a < b or a != a else b


@minimum.vjp
def minimum_vjp_a(a, b, y, g, c):
    return g if a < b else (g * 0.5 if a == b else g * 0)


@minimum.vjp
def minimum_vjp_b(a, b, y, g, c):
    return g if b < a else (g * 0.5 if a == b else g * 0)


@minimum.grad
def minimum_grad(ctx):
    va, vb = ctx.values(0, 1)
    g = ctx.g
    return (ctx.sum_to(g * ctx.const(np.where(va < vb, 1.0, np.where(va == vb, 0.5, 0.0))), 0),
            ctx.sum_to(g * ctx.const(np.where(vb < va, 1.0, np.where(va == vb, 0.5, 0.0))), 1))


@minimum.numpy
def minimum_np(a, b, c):
    return np.minimum(a, b)


# ---- selections with a python-scalar parameter c: b is a mask (1 where true), no grad ----


@binary(83, "masked_fill", "MaskedFillBackward0",
        examples=(("x.masked_fill(x > 0.5, c)", (2, 3)),
                  ("x.masked_fill(torch.tensor([True, False, True]), c)", (2, 3))))
def masked_fill(a, b, c):  # a where the mask is false, c where it is true
    return c if b != 0 else a


@masked_fill.vjp
def masked_fill_vjp_a(a, b, y, g, c):
    return g * 0 if b != 0 else g


@masked_fill.vjp
def masked_fill_vjp_b(a, b, y, g, c):  # the mask has no gradient
    return g * 0


@masked_fill.grad
def masked_fill_grad(ctx):
    (m,) = ctx.values(1)
    return ctx.sum_to(ctx.keep(ctx.g, m == 0), 0), None


@masked_fill.numpy
def masked_fill_np(a, b, c):
    return np.where(b != 0, a.dtype.type(c), a)


@binary(84, "lerp", "LerpBackward0", const=0.3,
        examples=(("torch.lerp(x, y, c)", (3,), (3,)), ("x.lerp(y, c)", (2, 3), (3,))))
def lerp(a, b, c):  # a + c (b - a), c the weight
    return a + c * (b - a)


@lerp.vjp
def lerp_vjp_a(a, b, y, g, c):
    return g * (1 - c)


@lerp.vjp
def lerp_vjp_b(a, b, y, g, c):
    return g * c


@lerp.grad
def lerp_grad(ctx):
    g, c = ctx.g, ctx.c
    return ctx.sum_to(g * (1 - c), 0), ctx.sum_to(g * c, 1)


@binary(85, "where_scalar_other", "WhereBackward0",
        examples=(("torch.where(x > 0.5, x, c)", (2, 3)),))
def where_scalar_other(a, b, c):  # where(mask b, a, c)
    return a if b != 0 else c


@where_scalar_other.vjp
def where_scalar_other_vjp_a(a, b, y, g, c):
    return g if b != 0 else g * 0


@where_scalar_other.vjp
def where_scalar_other_vjp_b(a, b, y, g, c):
    return g * 0


@where_scalar_other.grad
def where_scalar_other_grad(ctx):
    (m,) = ctx.values(1)
    return ctx.sum_to(ctx.keep(ctx.g, m != 0), 0), None


@where_scalar_other.numpy
def where_scalar_other_np(a, b, c):
    return np.where(b != 0, a, a.dtype.type(c))


@binary(86, "where_scalar_self", "WhereBackward0",
        examples=(("torch.where(x > 0.5, c, x)", (2, 3)),))
def where_scalar_self(a, b, c):  # where(mask b, c, a)
    return c if b != 0 else a


@where_scalar_self.vjp
def where_scalar_self_vjp_a(a, b, y, g, c):
    return g * 0 if b != 0 else g


@where_scalar_self.vjp
def where_scalar_self_vjp_b(a, b, y, g, c):
    return g * 0


@where_scalar_self.grad
def where_scalar_self_grad(ctx):
    (m,) = ctx.values(1)
    return ctx.sum_to(ctx.keep(ctx.g, m == 0), 0), None


@where_scalar_self.numpy
def where_scalar_self_np(a, b, c):
    return np.where(b != 0, a.dtype.type(c), a)


@binary(87, "copy_from", "CopyBackwards",
        examples=(("x.clone().copy_(y)", (2, 3), (3,)), ("x.clone().copy_(y)", (3,), (3,))))
def copy_from(a, b, c):  # a.copy_(b): b's value (broadcast) in a's place
    return b


@copy_from.vjp
def copy_from_vjp_a(a, b, y, g, c):  # the old value is not used: PyTorch's zero gradient
    return g * 0


@copy_from.vjp
def copy_from_vjp_b(a, b, y, g, c):
    return g


@copy_from.grad
def copy_from_grad(ctx):
    return None, ctx.sum_to(ctx.g, 1)


@copy_from.numpy
def copy_from_np(a, b, c):
    return np.array(np.broadcast_to(b, np.broadcast_shapes(a.shape, b.shape)))


# ---- three tensor inputs (TERNARY): a, b, m; a one-element input broadcasts ---------


@ternary(120, "where", "WhereBackward0", saves=IN2, edges=(R_IN0, R_IN1),
         doc="where(m, a, b); the condition m is in2 and is not a next_function",
         examples=(("torch.where(x > 0, x, y)", (2, 3), (2, 3)),
                   ("torch.where(y > 0.5, x, y)", (3,), (2, 3)), ("x.where(x < 0, y)", (2, 1), ())))
def where(a, b, m, c):
    return a if m != 0 else b


@where.vjp
def where_vjp_a(a, b, m, y, g, c):
    return g if m != 0 else g * 0


@where.vjp
def where_vjp_b(a, b, m, y, g, c):
    return g * 0 if m != 0 else g


@where.vjp
def where_vjp_m(a, b, m, y, g, c):
    return g * 0


@where.grad
def where_grad(ctx):
    (m,) = ctx.values(2)
    m = m != 0
    return ctx.sum_to(ctx.keep(ctx.g, m), 0), ctx.sum_to(ctx.keep(ctx.g, ~m), 1), None


@where.numpy
def where_np(a, b, m, c):
    return np.where(m != 0, a, b)


@ternary(121, "lerp_tensor", "LerpBackward1", saves=IN0 | IN1 | IN2, doc="lerp(a, b, weight m)",
         examples=(("torch.lerp(x, y, z)", (3,), (3,), (3,)), ("x.lerp(y, z)", (2, 3), (3,), ())))
def lerp_tensor(a, b, m, c):
    return a + m * (b - a)


@lerp_tensor.vjp
def lerp_tensor_vjp_a(a, b, m, y, g, c):
    return g * (1 - m)


@lerp_tensor.vjp
def lerp_tensor_vjp_b(a, b, m, y, g, c):
    return g * m


@lerp_tensor.vjp
def lerp_tensor_vjp_m(a, b, m, y, g, c):
    return g * (b - a)


@lerp_tensor.grad
def lerp_tensor_grad(ctx):
    (a, b, m), g = ctx.inputs, ctx.g
    return (ctx.sum_to(g * (1 - m), 0) if ctx.need[0] else None,
            ctx.sum_to(g * m, 1) if ctx.need[1] else None,
            ctx.sum_to(g * (b - a), 2) if ctx.need[2] else None)


@lerp_tensor.numpy
def lerp_tensor_np(a, b, m, c):
    return a + m * (b - a)


# clamp with tensor bounds: b = min, m = max; c says which are given (1 min, 2 max, 3 both),
# the absent one is a dummy element. NaN in x or a given bound gives NaN, as in PyTorch.
# Gradients follow PyTorch to the tie: x where min <= x <= max; min where x < min < max;
# max where x > max or min > max (then the result is max).
@ternary(122, "clamp_tensor", "ClampBackward0", saves=IN0 | IN1 | IN2,
         doc="clamp with tensor bounds; c = 1 min, 2 max, 3 both",
         examples=(("torch.clamp(x, y, z)", (3,), (3,), (3,)), ("x.clamp(min=y)", (2, 3), (3,)),
                   ("torch.clamp(x, max=y)", (2, 3), (2, 1)), ("x.clip(y, z)", (2, 2), (), (2, 2))))
def clamp_tensor(a, b, m, c):
    if a != a:
        return a
    y = a
    if c != 2.0:
        if b != b or y < b:
            y = b
    if c != 1.0:
        if m != m or m < y:
            y = m
    return y


@clamp_tensor.vjp
def clamp_tensor_vjp_a(a, b, m, y, g, c):
    keep = (c == 2.0 or a >= b) and (c == 1.0 or a <= m)
    return g if keep else g * 0


@clamp_tensor.vjp
def clamp_tensor_vjp_b(a, b, m, y, g, c):
    return g if a < b and (c == 1.0 or b < m) else g * 0


@clamp_tensor.vjp
def clamp_tensor_vjp_m(a, b, m, y, g, c):
    return g if a > m or (c == 3.0 and b > m) else g * 0


@clamp_tensor.grad
def clamp_tensor_grad(ctx):
    a, b, m = ctx.values(0, 1, 2)
    c, g = ctx.c, ctx.g
    with np.errstate(invalid="ignore"):
        ka = ((a >= b) | (c == 2.0)) & ((a <= m) | (c == 1.0))
        kb = (a < b) & ((b < m) | (c == 1.0))
        km = (a > m) | ((b > m) & (c == 3.0))
    return (ctx.sum_to(ctx.keep(g, ka), 0), ctx.sum_to(ctx.keep(g, kb), 1),
            ctx.sum_to(ctx.keep(g, km), 2))


@clamp_tensor.numpy
def clamp_tensor_np(a, b, m, c):  # c: 1 min only, 2 max only, 3 both; nan passes through
    lo = np.maximum(a, b) if c != 2.0 else a
    return np.minimum(lo, m) if c != 1.0 else lo


# ---- comparisons, recorded only while tapegrad.func traces a function ------------------
# The output is 1.0 where the comparison holds, else 0.0, in the compared dtype's arena (the
# front end, tapegrad/compare.py, presents it as a bool tensor); it never requires grad, so
# the zero VJPs never run. A python scalar c is rounded to the tensor's dtype beforehand.


@binary(140, "gt", "None", examples=(("torch.where(x > y, x, y * c)", (2, 3), (3,)),))
def gt(a, b, c):
    return 1.0 if a > b else 0.0


@gt.vjp
def gt_vjp_a(a, b, y, g, c):
    return g * 0


@gt.vjp
def gt_vjp_b(a, b, y, g, c):
    return g * 0


@gt.grad
def gt_grad(ctx):
    return None, None


@gt.numpy
def gt_np(a, b, c):
    return np.greater(a, b).astype(np.result_type(a, b))


@binary(141, "lt", "None", examples=(("torch.where(x < y, x - y, x * y)", (3, 1), (1, 4)),))
def lt(a, b, c):
    return 1.0 if a < b else 0.0


@lt.vjp
def lt_vjp_a(a, b, y, g, c):
    return g * 0


@lt.vjp
def lt_vjp_b(a, b, y, g, c):
    return g * 0


@lt.grad
def lt_grad(ctx):
    return None, None


@lt.numpy
def lt_np(a, b, c):
    return np.less(a, b).astype(np.result_type(a, b))


@binary(142, "ge", "None", examples=(("x.masked_fill(x >= y, c)", (2, 3), (3,)),))
def ge(a, b, c):
    return 1.0 if a >= b else 0.0


@ge.vjp
def ge_vjp_a(a, b, y, g, c):
    return g * 0


@ge.vjp
def ge_vjp_b(a, b, y, g, c):
    return g * 0


@ge.grad
def ge_grad(ctx):
    return None, None


@ge.numpy
def ge_np(a, b, c):
    return np.greater_equal(a, b).astype(np.result_type(a, b))


@binary(143, "le", "None", examples=(("torch.where(torch.le(x, y), x, 0.0)", (3,), (3,)),))
def le(a, b, c):
    return 1.0 if a <= b else 0.0


@le.vjp
def le_vjp_a(a, b, y, g, c):
    return g * 0


@le.vjp
def le_vjp_b(a, b, y, g, c):
    return g * 0


@le.grad
def le_grad(ctx):
    return None, None


@le.numpy
def le_np(a, b, c):
    return np.less_equal(a, b).astype(np.result_type(a, b))


@binary(144, "eq", "None", examples=(("torch.where(x == y, x, y)", (2, 3), (2, 3)),))
def eq(a, b, c):
    return 1.0 if a == b else 0.0


@eq.vjp
def eq_vjp_a(a, b, y, g, c):
    return g * 0


@eq.vjp
def eq_vjp_b(a, b, y, g, c):
    return g * 0


@eq.grad
def eq_grad(ctx):
    return None, None


@eq.numpy
def eq_np(a, b, c):
    return np.equal(a, b).astype(np.result_type(a, b))


@binary(145, "ne", "None", examples=(("torch.where(torch.ne(x, y), x * y, x)", (2, 3), (3,)),))
def ne(a, b, c):
    return 1.0 if a != b else 0.0


@ne.vjp
def ne_vjp_a(a, b, y, g, c):
    return g * 0


@ne.vjp
def ne_vjp_b(a, b, y, g, c):
    return g * 0


@ne.grad
def ne_grad(ctx):
    return None, None


@ne.numpy
def ne_np(a, b, c):
    return np.not_equal(a, b).astype(np.result_type(a, b))


@unary(146, "gt_scalar", "None", const=0.3, examples=(("torch.where(x > c, x, x * 0.1)", (2, 3)), ("x.masked_fill(x > c, 2.0)", (3,))))
def gt_scalar(x, c):
    return 1.0 if x > c else 0.0


@gt_scalar.vjp
def gt_scalar_vjp(x, y, g, c):
    return g * 0


@gt_scalar.grad
def gt_scalar_grad(ctx):
    return (None,)


@gt_scalar.numpy
def gt_scalar_np(x, c):  # compared as the kernel compares: in float64
    return np.greater(np.asarray(x, np.float64), c).astype(x.dtype)


@unary(147, "lt_scalar", "None", const=0.3, examples=(("torch.where(x < c, x * x, x)", (2, 3)),))
def lt_scalar(x, c):
    return 1.0 if x < c else 0.0


@lt_scalar.vjp
def lt_scalar_vjp(x, y, g, c):
    return g * 0


@lt_scalar.grad
def lt_scalar_grad(ctx):
    return (None,)


@lt_scalar.numpy
def lt_scalar_np(x, c):  # compared as the kernel compares: in float64
    return np.less(np.asarray(x, np.float64), c).astype(x.dtype)


@unary(148, "ge_scalar", "None", const=0.3, examples=(("x.masked_fill(x >= c, 0.5)", (2, 3)),))
def ge_scalar(x, c):
    return 1.0 if x >= c else 0.0


@ge_scalar.vjp
def ge_scalar_vjp(x, y, g, c):
    return g * 0


@ge_scalar.grad
def ge_scalar_grad(ctx):
    return (None,)


@ge_scalar.numpy
def ge_scalar_np(x, c):  # compared as the kernel compares: in float64
    return np.greater_equal(np.asarray(x, np.float64), c).astype(x.dtype)


@unary(149, "le_scalar", "None", const=0.3, examples=(("torch.where(x <= c, c, x)", (2, 3)),))
def le_scalar(x, c):
    return 1.0 if x <= c else 0.0


@le_scalar.vjp
def le_scalar_vjp(x, y, g, c):
    return g * 0


@le_scalar.grad
def le_scalar_grad(ctx):
    return (None,)


@le_scalar.numpy
def le_scalar_np(x, c):  # compared as the kernel compares: in float64
    return np.less_equal(np.asarray(x, np.float64), c).astype(x.dtype)


@unary(150, "eq_scalar", "None", const=0.3, examples=(("torch.where(x == c, x, -x)", (3,)),))
def eq_scalar(x, c):
    return 1.0 if x == c else 0.0


@eq_scalar.vjp
def eq_scalar_vjp(x, y, g, c):
    return g * 0


@eq_scalar.grad
def eq_scalar_grad(ctx):
    return (None,)


@eq_scalar.numpy
def eq_scalar_np(x, c):  # compared as the kernel compares: in float64
    return np.equal(np.asarray(x, np.float64), c).astype(x.dtype)


@unary(151, "ne_scalar", "None", const=0.3, examples=(("torch.where(x != c, x, x * 2)", (3,)),))
def ne_scalar(x, c):
    return 1.0 if x != c else 0.0


@ne_scalar.vjp
def ne_scalar_vjp(x, y, g, c):
    return g * 0


@ne_scalar.grad
def ne_scalar_grad(ctx):
    return (None,)


@ne_scalar.numpy
def ne_scalar_np(x, c):  # compared as the kernel compares: in float64
    return np.not_equal(np.asarray(x, np.float64), c).astype(x.dtype)
