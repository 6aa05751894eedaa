"""arange and linspace with PyTorch's CPU values, bit for bit.

PyTorch computes these grids with fused multiply-adds in a particular order (linspace
from both ends, arange in 256-bit lanes), so `np.linspace` and `np.arange` differ from
them in the last bit of many elements; a tutorial's polynomial fit over
`linspace(-pi, pi, 2000)` then drifts in the printed digits. Here each value is rounded
once, as the kernels round it (the fused multiply-add is emulated exactly in float64).
"""

import builtins
import math

import numpy as np

from . import dtypes
from .device import check_device as _check_device
from ._hints import Device, DType, Number
from .tensor import Tensor, _from_array


def _fma(a, b, c):
    """a * b + c on float64 arrays rounded once (Dekker's product and Knuth's sum)."""
    a, b, c = (np.asarray(v, np.float64) for v in (a, b, c))
    p = a * b

    def split(x):
        h = 134217729.0 * x
        h = h - (h - x)
        return h, x - h
    ah, al = split(a)
    bh, bl = split(b)
    pe = ((ah * bh - p) + ah * bl + al * bh) + al * bl
    s = p + c
    bb = s - p
    se = (p - (s - bb)) + (c - bb)
    return s + (pe + se)


def _float_arange(start, step, n, np_dt):
    """PyTorch's float grid start + k*step: 256-bit lanes of base + j*step, base = start +
    (k - j)*step, each a fused multiply-add; float32 rounds the base to float32 first; the
    last n % (2 * lanes) values are start + k*step."""
    lanes = 8 if np_dt == np.float32 else 4
    k = np.arange(n, dtype=np.float64)
    base = np.where(k < n - n % (2 * lanes), k - k % lanes, k)
    at = _fma(base, step, start).astype(np_dt)
    return _fma(k - base, step, at).astype(np_dt)


def arange(start: Number | Tensor, end: Number | Tensor | None = None,
           step: Number | Tensor = 1, *, dtype: DType = None, requires_grad: bool = False,
           device: Device = None) -> Tensor:
    """Values from start (default 0) up to end (excluded) by step; int64 when all are ints."""
    _check_device(device, 'arange')
    if end is None:
        start, end = 0, start
    start, end, step = (v.item() if isinstance(v, Tensor) else v for v in (start, end, step))
    if step == 0:
        raise RuntimeError("arange: step must be nonzero")
    if dtype is None:
        ints = builtins.all(isinstance(v, (int, np.integer)) for v in (start, end, step))
        dtype = dtypes.int64 if ints else dtypes.get_default_dtype()
    from .creation import _check_rg

    _check_rg(dtype, requires_grad)
    if (end - start) / step < 0 or not math.isfinite((end - start) / step):
        raise RuntimeError(f"arange: upper bound and lower bound inconsistent with step sign "
                           f"(start={start}, end={end}, step={step})")
    n = math.ceil((end - start) / step)
    if dtype in (dtypes.float32, dtypes.float64):
        arr = _float_arange(float(start), float(step), n, dtype.np)
    else:
        arr = np.arange(start, end, step)[:n].astype(dtype.np)
    return _from_array(arr, dtype, requires_grad)


def linspace(start: Number | Tensor, end: Number | Tensor, steps: int, *,
             dtype: DType = None, requires_grad: bool = False,
             device: Device = None) -> Tensor:

    """`steps` evenly spaced values from start to end, bit for bit as PyTorch's CPU kernel:
    the first half is start + i*step, the second end - (steps-1-i)*step (each fused)."""
    _check_device(device, 'linspace')
    dt = dtype or dtypes.get_default_dtype()
    from .creation import _check_rg, full

    _check_rg(dt, requires_grad)
    start, end = (v.item() if isinstance(v, Tensor) else v for v in (start, end))
    steps = int(steps)
    if steps < 0:
        raise RuntimeError(f"linspace: number of steps must be non-negative (got {steps})")
    if steps == 1:
        return full((1,), start, dtype=dt, requires_grad=requires_grad)
    i = np.arange(steps, dtype=np.float64)
    back = -(steps - 1 - i)
    if dt == dtypes.float32:
        s, e = np.float32(start), np.float32(end)
        step = np.float32(np.float32(e - s) / np.float32(builtins.max(steps - 1, 1)))
    else:  # integer dtypes truncate the ends first, then step in float64
        s, e = (float(v) if dt.is_floating_point else float(int(v)) for v in (start, end))
        step = (e - s) / builtins.max(steps - 1, 1)
    arr = np.where(i < steps // 2, _fma(i, step, s), _fma(back, step, e))
    if not dt.is_floating_point:
        arr = np.trunc(arr)
    return _from_array(arr.astype(dt.np), dt, requires_grad)
