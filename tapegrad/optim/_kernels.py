"""The optimizers' compiled steps: one call updates every parameter of a group (one dtype).

Every step kernel takes the group's flat buffers (parameters `p`, gradients `g`, state
`a`, `b`, `c`; an unused state buffer is an empty array), `off` (segment k is
p[off[k]:off[k+1]], one parameter), `mode` (per segment: 0 = no gradient, skip; 1 =
update; 2 = first update of a buffer PyTorch starts from the gradient, SGD's momentum),
`steps` (float64 per segment, the step counts; advanced for updated segments), `sc`
(scalars in the parameters' dtype, so a float32 group computes in float32 as PyTorch's
CPU kernels do; the last slots are scratch for per-segment scalars), `hp` (float64
hyperparameters for the per-step scalar math, done in double as PyTorch does it in
Python) and `flags` (bits: see F_*).

Where PyTorch's CPU kernels fuse a multiply and an add (add with alpha, lerp, addcmul)
these use a fused multiply-add too (`_fma`, LLVM's fma intrinsic), so that the updates
round as PyTorch's do. The elementwise loops are separate functions over one segment's
slices, with no loads or stores under a condition: LLVM vectorizes them (a loop over
offsets inside the segment loop stays scalar, ten times slower). Consecutive segments
that share their scalars are updated by one loop call.

Signatures: each of the five entry points (sgd_step, adam_step, rmsprop_step,
adagrad_step, axpy) compiles for float32 and float64 only (ten in all); the nine loop
functions they call compile with them, for the same two dtypes. Adadelta's, Adamax's,
NAdam's and RAdam's kernels follow these conventions in their own modules (four more
entry points, eight signatures).
"""

import math

import numpy as np
from numba import njit
from numba.core import types
from numba.extending import intrinsic

F_DECOUPLED = 2  # AdamW: weight decay scales the parameter instead of joining the gradient
F_AMSGRAD = 4
F_NESTEROV = 8
F_CENTERED = 16
F_MOMENTUM = 32
F_SMALL_W = 64   # lerp weight < 0.5: PyTorch's lerp computes start + w * (end - start)
F_DECAY = 128    # weight_decay != 0

_JIT = dict(cache=True, error_model="numpy")  # numpy: x / 0 is inf, no check per division


@intrinsic
def _fma(typingctx, a, b, c):
    """a * b + c rounded once (LLVM's llvm.fma), for three floats of one type."""
    if not (isinstance(a, types.Float) and a == b and b == c):
        return None

    def codegen(context, builder, signature, args):
        return builder.fma(*args)

    return a(a, b, c), codegen


@njit(inline="always")
def _count_steps(mode, steps):
    """One more step for every tensor of the group that has a gradient (mode != 0)."""
    for k in range(mode.shape[0]):
        if mode[k] != 0:
            steps[k] += 1.0


@njit(inline="always", **_JIT)
def _lerp(start, end, w, w_minus_1, small):
    """PyTorch's lerp(start, end, w) with a scalar weight (w - 1 given, in the dtype)."""
    return _fma(w, end - start, start) if small else _fma(w_minus_1, end - start, end)


@njit(inline="always", **_JIT)
def _grad(g, p, sign, wd, decay):
    """The gradient (negated under maximize: sign is +-1, exact) plus weight decay."""
    gi = g * sign
    return _fma(p, wd, gi) if decay else gi


@njit(inline="always", **_JIT)
def _run_end(mode, steps, k):
    """End of the run of segments from k on that are updated and share a step count."""
    j = k + 1
    while j < mode.shape[0] and mode[j] == mode[k] and steps[j] == steps[k]:
        j += 1
    return j


# ---- SGD --------------------------------------------------------------------------------
@njit(**_JIT)
def _sgd_plain(p, g, sign, wd, nlr, decay):
    for i in range(p.shape[0]):
        p[i] = _fma(_grad(g[i], p[i], sign, wd, decay), nlr, p[i])


@njit(**_JIT)
def _sgd_momentum(p, g, a, sign, wd, mom, keep, nlr, decay, first, nesterov):
    for i in range(p.shape[0]):
        gi = _grad(g[i], p[i], sign, wd, decay)
        old = a[i]
        buf = gi if first else _fma(gi, keep, old * mom)
        a[i] = buf
        p[i] = _fma(_fma(buf, mom, gi) if nesterov else buf, nlr, p[i])


@njit(**_JIT)
def sgd_step(p: np.ndarray, g: np.ndarray, a: np.ndarray, b: np.ndarray, c: np.ndarray,
             off: np.ndarray, mode: np.ndarray, steps: np.ndarray, sc: np.ndarray,
             hp: np.ndarray, flags: int) -> None:
    """SGD: sc = [weight_decay, momentum, 1 - dampening, -lr, 1 or -1 (maximize)];
    a = momentum buffers (mode 2: the buffer starts as the gradient)."""
    wd, mom, keep, nlr, sign = sc[0], sc[1], sc[2], sc[3], sc[4]
    decay = flags & F_DECAY != 0
    momentum = flags & F_MOMENTUM != 0
    nesterov = flags & F_NESTEROV != 0
    k = 0
    while k < mode.shape[0]:
        j = _run_end(mode, steps, k)
        if mode[k] != 0:
            o, e = off[k], off[j]
            if momentum:
                _sgd_momentum(p[o:e], g[o:e], a[o:e], sign, wd, mom, keep, nlr, decay,
                              mode[k] == 2, nesterov)
            else:
                _sgd_plain(p[o:e], g[o:e], sign, wd, nlr, decay)
        k = j


# ---- Adam, AdamW ------------------------------------------------------------------------
@njit(inline="always", **_JIT)
def _adam_moments(pi, gi, mi, vi, sc, small, decay, decoupled):
    """(p after decoupled decay, gradient, new exp_avg, new exp_avg_sq) of one element
    (also NAdam's and RAdam's: sc[0:7] and sc[9] as Adam's)."""
    w1, w1m1, beta2, omb2, wd, shrink, sign = sc[0], sc[1], sc[2], sc[3], sc[5], sc[6], sc[9]
    if decoupled:
        pi = pi * shrink if decay else pi
        gi = gi * sign
    else:
        gi = _grad(gi, pi, sign, wd, decay)
    return pi, gi, _lerp(mi, gi, w1, w1m1, small), _fma(omb2 * gi, gi, vi * beta2)


@njit(**_JIT)
def _adam(p, g, a, b, sc, small, decay, decoupled):
    eps, nstep, bc2 = sc[4], sc[7], sc[8]
    for i in range(p.shape[0]):
        pi, _, mi, vi = _adam_moments(p[i], g[i], a[i], b[i], sc, small, decay, decoupled)
        a[i] = mi
        b[i] = vi
        p[i] = pi + nstep * mi / (np.sqrt(vi) / bc2 + eps)


@njit(**_JIT)
def _adam_amsgrad(p, g, a, b, c, sc, small, decay, decoupled):
    eps, nstep, bc2 = sc[4], sc[7], sc[8]
    for i in range(p.shape[0]):
        pi, _, mi, vi = _adam_moments(p[i], g[i], a[i], b[i], sc, small, decay, decoupled)
        a[i] = mi
        b[i] = vi
        vm = c[i]
        vm = vi if (vi > vm or vi != vi) else vm  # torch.maximum: NaN wins
        c[i] = vm
        p[i] = pi + nstep * mi / (np.sqrt(vm) / bc2 + eps)


@njit(**_JIT)
def adam_step(p: np.ndarray, g: np.ndarray, a: np.ndarray, b: np.ndarray, c: np.ndarray,
              off: np.ndarray, mode: np.ndarray, steps: np.ndarray, sc: np.ndarray,
              hp: np.ndarray, flags: int) -> None:
    """Adam and AdamW: a = exp_avg, b = exp_avg_sq, c = max_exp_avg_sq (amsgrad).

    sc = [1 - beta1, (1 - beta1) - 1, beta2, 1 - beta2, eps, weight_decay,
    1 - lr * weight_decay, scratch, scratch, sign]; hp = [lr, beta1, beta2]."""
    lr, beta1, beta2 = hp[0], hp[1], hp[2]
    decay = flags & F_DECAY != 0
    decoupled = flags & F_DECOUPLED != 0
    amsgrad = flags & F_AMSGRAD != 0
    small = flags & F_SMALL_W != 0
    _count_steps(mode, steps)
    k = 0
    while k < mode.shape[0]:
        j = _run_end(mode, steps, k)
        if mode[k] != 0:
            t = steps[k]
            sc[7] = -(lr / (1.0 - beta1 ** t))   # -step_size, rounded to the dtype
            sc[8] = math.sqrt(1.0 - beta2 ** t)  # bias_correction2 ** 0.5
            o, e = off[k], off[j]
            if amsgrad:
                _adam_amsgrad(p[o:e], g[o:e], a[o:e], b[o:e], c[o:e], sc, small, decay,
                              decoupled)
            else:
                _adam(p[o:e], g[o:e], a[o:e], b[o:e], sc, small, decay, decoupled)
        k = j


# ---- RMSprop ----------------------------------------------------------------------------
@njit(inline="always", **_JIT)
def _rms_avg(pi, gi, si, sc, decay):
    """(gradient, new square_avg) of one element."""
    alpha, oma, wd, sign = sc[0], sc[1], sc[4], sc[7]
    gi = _grad(gi, pi, sign, wd, decay)
    return gi, _fma(oma * gi, gi, si * alpha)


@njit(**_JIT)
def _rms(p, g, a, sc, decay):
    eps, nlr = sc[3], sc[6]
    for i in range(p.shape[0]):
        gi, sa = _rms_avg(p[i], g[i], a[i], sc, decay)
        a[i] = sa
        p[i] = p[i] + nlr * gi / (np.sqrt(sa) + eps)


@njit(**_JIT)
def _rms_centered(p, g, a, c, sc, decay, small):
    oma, w1m1, eps, nlr = sc[1], sc[2], sc[3], sc[6]
    for i in range(p.shape[0]):
        gi, sa = _rms_avg(p[i], g[i], a[i], sc, decay)
        a[i] = sa
        ga = _lerp(c[i], gi, oma, w1m1, small)
        c[i] = ga
        p[i] = p[i] + nlr * gi / (np.sqrt(_fma(-ga, ga, sa)) + eps)


@njit(**_JIT)
def _rms_momentum(p, g, a, b, sc, decay):
    eps, mom, nlr = sc[3], sc[5], sc[6]
    for i in range(p.shape[0]):
        gi, sa = _rms_avg(p[i], g[i], a[i], sc, decay)
        a[i] = sa
        buf = b[i] * mom + gi / (np.sqrt(sa) + eps)
        b[i] = buf
        p[i] = _fma(buf, nlr, p[i])


@njit(**_JIT)
def _rms_centered_momentum(p, g, a, b, c, sc, decay, small):
    oma, w1m1, eps, mom, nlr = sc[1], sc[2], sc[3], sc[5], sc[6]
    for i in range(p.shape[0]):
        gi, sa = _rms_avg(p[i], g[i], a[i], sc, decay)
        a[i] = sa
        ga = _lerp(c[i], gi, oma, w1m1, small)
        c[i] = ga
        buf = b[i] * mom + gi / (np.sqrt(_fma(-ga, ga, sa)) + eps)
        b[i] = buf
        p[i] = _fma(buf, nlr, p[i])


@njit(**_JIT)
def rmsprop_step(p: np.ndarray, g: np.ndarray, a: np.ndarray, b: np.ndarray, c: np.ndarray,
                 off: np.ndarray, mode: np.ndarray, steps: np.ndarray, sc: np.ndarray,
                 hp: np.ndarray, flags: int) -> None:
    """RMSprop: a = square_avg, b = momentum_buffer, c = grad_avg (centered).

    sc = [alpha, 1 - alpha, (1 - alpha) - 1, eps, weight_decay, momentum, -lr, sign]."""
    decay = flags & F_DECAY != 0
    centered = flags & F_CENTERED != 0
    momentum = flags & F_MOMENTUM != 0
    small = flags & F_SMALL_W != 0
    _count_steps(mode, steps)
    k = 0
    while k < mode.shape[0]:
        j = _run_end(mode, mode, k)  # the step count does not enter the update
        if mode[k] != 0:
            o, e = off[k], off[j]
            if centered and momentum:
                _rms_centered_momentum(p[o:e], g[o:e], a[o:e], b[o:e], c[o:e], sc, decay,
                                       small)
            elif centered:
                _rms_centered(p[o:e], g[o:e], a[o:e], c[o:e], sc, decay, small)
            elif momentum:
                _rms_momentum(p[o:e], g[o:e], a[o:e], b[o:e], sc, decay)
            else:
                _rms(p[o:e], g[o:e], a[o:e], sc, decay)
        k = j


# ---- Adagrad ----------------------------------------------------------------------------
@njit(**_JIT)
def _adagrad(p, g, a, sc, decay):
    wd, eps, nclr, sign = sc[0], sc[1], sc[2], sc[3]
    for i in range(p.shape[0]):
        gi = _grad(g[i], p[i], sign, wd, decay)
        s = _fma(gi, gi, a[i])
        a[i] = s
        p[i] = p[i] + nclr * gi / (np.sqrt(s) + eps)


@njit(**_JIT)
def adagrad_step(p: np.ndarray, g: np.ndarray, a: np.ndarray, b: np.ndarray, c: np.ndarray,
                 off: np.ndarray, mode: np.ndarray, steps: np.ndarray, sc: np.ndarray,
                 hp: np.ndarray, flags: int) -> None:
    """Adagrad: a = sum. sc = [weight_decay, eps, scratch, sign]; hp = [lr, lr_decay]."""
    lr, lr_decay = hp[0], hp[1]
    decay = flags & F_DECAY != 0
    _count_steps(mode, steps)
    k = 0
    while k < mode.shape[0]:
        j = _run_end(mode, steps, k)
        if mode[k] != 0:
            sc[2] = -(lr / (1.0 + (steps[k] - 1.0) * lr_decay))  # -clr, rounded to the dtype
            o, e = off[k], off[j]
            _adagrad(p[o:e], g[o:e], a[o:e], sc, decay)
        k = j


@njit(**_JIT)
def axpy(x: np.ndarray, alpha: np.ndarray, y: np.ndarray) -> None:
    """y += alpha * x (PyTorch's add_ with alpha, fused), alpha a 1-element array."""
    al = alpha[0]
    for i in range(y.shape[0]):
        y[i] = _fma(x[i], al, y[i])
