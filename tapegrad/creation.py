"""Tensor factories: tensor, as_tensor, from_numpy, zeros, ones, full, eye, arange, rand*."""

import builtins
import math

import numpy as np

from . import dtypes
from .tensor import Tensor, _expose, _from_array

_rng = [np.random.default_rng()]


def manual_seed(seed):
    """Seed tapegrad's generator (rand, randn, randint, normal, dropout, init)."""
    _rng[0] = np.random.default_rng(seed)
    return _rng[0]


def _infer(data):
    """dtype PyTorch would give to nested python data."""
    kinds = set()

    def walk(x):
        if isinstance(x, (list, tuple)):
            for y in x:
                walk(y)
        elif isinstance(x, Tensor):
            kinds.add(x._dtype)
        elif isinstance(x, (np.generic, np.ndarray)):
            kinds.add(dtypes.from_numpy_dtype(x.dtype))
        elif isinstance(x, bool):
            kinds.add(dtypes.bool_)
        elif isinstance(x, int):
            kinds.add(dtypes.int64)
        elif not isinstance(x, (float, np.floating)):
            raise TypeError(f"tensor(): invalid data type '{type(x).__name__}'")
        else:
            kinds.add(dtypes.get_default_dtype())
    walk(data)
    if not kinds:
        return dtypes.get_default_dtype()
    best = dtypes.bool_
    for k in kinds:
        best = dtypes.promote(best, k)
    return best


def _to_array(data):
    if isinstance(data, Tensor):
        return data._value()
    if isinstance(data, (list, tuple)) and builtins.any(isinstance(x, Tensor) for x in data):
        return np.array([_to_array(x) for x in data])
    return np.asarray(data)


def _check_rg(dt, requires_grad):
    if requires_grad and not dt.is_floating_point:
        raise RuntimeError("Only Tensors of floating point and complex dtype can require "
                           f"gradients (got {dt})")


def tensor(data, dtype=None, device=None, requires_grad=False, pin_memory=False):
    """A new leaf tensor holding a copy of `data` (nested lists, numbers, arrays, tensors)."""
    if isinstance(data, (np.ndarray, np.generic)):
        dt = dtype or dtypes.from_numpy_dtype(data.dtype)
    elif isinstance(data, Tensor):
        dt = dtype or data._dtype
    else:
        dt = dtype or _infer(data)
    _check_rg(dt, requires_grad)
    try:
        arr = np.array(_to_array(data), dtype=dt.np)
    except ValueError as e:
        _check_ragged(data)
        raise ValueError(f"tensor(): {e}") from e
    return _from_array(arr, dt, bool(requires_grad))


def _check_ragged(data, dim=0):
    """Raise PyTorch's ValueError for nested sequences of unequal lengths."""
    if not isinstance(data, (list, tuple)) or not data:
        return
    subs = [x for x in data if isinstance(x, (list, tuple))]
    if subs and len(subs) != len(data):
        raise ValueError(f"tensor(): expected a sequence at dim {dim + 1} for every element, "
                         f"got a mix of sequences and scalars")
    if subs:
        n = len(subs[0])
        for x in subs:
            if len(x) != n:
                raise ValueError(f"tensor(): expected sequence of length {n} at dim {dim + 1} "
                                 f"(got {len(x)})")
        for x in subs:
            _check_ragged(x, dim + 1)


def as_tensor(data, dtype=None, device=None):
    """Shares memory with a NumPy array of a supported dtype, copies otherwise."""
    if isinstance(data, Tensor):
        return data if dtype in (None, data._dtype) else data.to(dtype)
    if isinstance(data, np.ndarray) and (dtype is None or dtype.np == data.dtype):
        return from_numpy(data)
    return tensor(data, dtype=dtype)


def from_numpy(ndarray):
    """A tensor sharing memory with `ndarray` (writes through either are seen by both)."""
    if not isinstance(ndarray, np.ndarray):
        raise TypeError(f"expected np.ndarray (got {type(ndarray).__name__})")
    t = _from_array(ndarray, dtypes.from_numpy_dtype(ndarray.dtype), False)
    _expose(t)
    return t


def _size(size, op="tensor"):
    if len(size) == 1 and isinstance(size[0], (list, tuple)):
        size = tuple(size[0])
    for d in size:
        if not isinstance(d, (int, np.integer)) or isinstance(d, bool):
            raise TypeError(f"{op}(): argument 'size' must be tuple of ints, but found element of "
                            f"type {type(d).__name__}")
        if d < 0:
            raise RuntimeError(f"{op}(): Trying to create tensor with negative dimension {d}: "
                               f"{list(size)}")
    return tuple(int(d) for d in size)


def _factory(fill, name):
    def make(*size, dtype=None, requires_grad=False, device=None, out=None, layout=None,
             generator=None, pin_memory=False):
        shape = _size(size, name)
        dt = dtype or dtypes.get_default_dtype()
        _check_rg(dt, requires_grad)
        try:
            arr = fill(shape, dt.np)
        except (MemoryError, ValueError) as e:
            n = math.prod(shape) * dt.itemsize
            raise MemoryError(f"{name}(): can't allocate a tensor of shape {list(shape)} and dtype "
                              f"{dt} ({n} bytes)") from e
        return _from_array(arr, dt, bool(requires_grad))

    make.__name__ = make.__qualname__ = name
    return make


zeros = _factory(np.zeros, "zeros")
ones = _factory(np.ones, "ones")
empty = _factory(np.empty, "empty")
rand = _factory(lambda s, d: _rng[0].random(s).astype(d), "rand")
randn = _factory(lambda s, d: _rng[0].standard_normal(s).astype(d), "randn")


def full(size, fill_value, *, dtype=None, requires_grad=False, device=None):
    if dtype is None:
        dtype = dtypes.bool_ if isinstance(fill_value, bool) else dtypes.int64 \
            if isinstance(fill_value, int) else dtypes.get_default_dtype()
    t = zeros(*_size((size,) if isinstance(size, int) else tuple(size), "full"), dtype=dtype)
    t._arr[...] = fill_value
    return t.requires_grad_(requires_grad) if requires_grad else t


def _like(factory):
    def make(input, *, dtype=None, requires_grad=False, device=None, memory_format=None):
        return factory(*input._shape, dtype=dtype or input._dtype, requires_grad=requires_grad)

    return make


zeros_like = _like(zeros)
ones_like = _like(ones)
empty_like = _like(empty)
rand_like = _like(rand)
randn_like = _like(randn)


def full_like(input, fill_value, *, dtype=None, requires_grad=False, device=None):
    return full(input._shape, fill_value, dtype=dtype or input._dtype,
                requires_grad=requires_grad)


def eye(n, m=None, *, dtype=None, requires_grad=False, device=None):
    dt = dtype or dtypes.get_default_dtype()
    _check_rg(dt, requires_grad)
    return _from_array(np.eye(n, m, dtype=dt.np), dt, requires_grad)


def arange(start, end=None, step=1, *, dtype=None, requires_grad=False, device=None):
    if end is None:
        start, end = 0, start
    if step == 0:
        raise RuntimeError("arange: step must be nonzero")
    if dtype is None:
        ints = builtins.all(isinstance(v, (int, np.integer)) for v in (start, end, step))
        dtype = dtypes.int64 if ints else dtypes.get_default_dtype()
    _check_rg(dtype, requires_grad)
    return _from_array(np.arange(start, end, step).astype(dtype.np), dtype, requires_grad)


def linspace(start, end, steps, *, dtype=None, requires_grad=False, device=None):
    dt = dtype or dtypes.get_default_dtype()
    _check_rg(dt, requires_grad)
    return _from_array(np.linspace(start, end, steps).astype(dt.np), dt, requires_grad)


def randint(low, high=None, size=None, *, dtype=None, requires_grad=False, device=None):
    if high is None:
        low, high = 0, low
    dt = dtype or dtypes.int64
    return _from_array(_rng[0].integers(low, high, size=tuple(size)).astype(dt.np), dt, False)


def normal(mean, std, size=None, *, generator=None, dtype=None):
    """normal(mean, std[, size]): mean and std may be tensors or floats."""
    m = mean._value() if isinstance(mean, Tensor) else mean
    s = std._value() if isinstance(std, Tensor) else std
    shape = tuple(size) if size is not None else np.broadcast(np.asarray(m), np.asarray(s)).shape
    dt = dtype or (mean._dtype if isinstance(mean, Tensor) else std._dtype
                   if isinstance(std, Tensor) else dtypes.get_default_dtype())
    return _from_array((m + s * _rng[0].standard_normal(shape)).astype(dt.np), dt, False)


def FloatTensor(*data):
    """Legacy constructor (float32), as in old PyTorch tutorials."""
    return Tensor(*data)


def DoubleTensor(*data):
    t = Tensor(*data)
    return _from_array(t._arr.astype(np.float64), dtypes.float64, False)


def LongTensor(*data):
    if len(data) == 1 and not isinstance(data[0], int):
        return tensor(data[0], dtype=dtypes.int64)
    return zeros(*data, dtype=dtypes.int64)
