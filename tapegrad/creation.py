"""Tensor factories: tensor, as_tensor, from_numpy, zeros, ones, full, eye, arange, and the
random ones (rand, randn, randint, randperm, normal, *_like), which draw from
tapegrad.random's generators (`generator=`, else the default generator)."""

import builtins
import math
import warnings

import numpy as np

from . import dtypes
from ._hints import Device, DType, Number, Shape
from .device import check_device as _check_device, device as _Device
from .random import Generator
from .random import _float_only, _gen, _normal, _rng, _uniform, manual_seed  # noqa: F401
from .tensor import Tensor, _expose, _from_array


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


# float32 data past its range is inf, as PyTorch gives it, without NumPy's RuntimeWarning
# (a filter: np.errstate would cost a microsecond on every tensor() call)
warnings.filterwarnings("ignore", "overflow encountered in cast", RuntimeWarning,
                        r"tapegrad\.creation$")


def _check_rg(dt, requires_grad):
    if requires_grad and not dt.is_floating_point:
        raise RuntimeError("Only Tensors of floating point and complex dtype can require "
                           f"gradients (got {dt})")


def tensor(data: object, dtype: DType = None, device: Device = None,
           requires_grad: bool = False, pin_memory: bool = False) -> Tensor:
    """A new leaf tensor holding a copy of `data` (nested lists, numbers, arrays, tensors)."""
    _check_device(device, 'tensor')
    if type(data) is list and (dtype is None or dtype.is_floating_point) and data and \
            builtins.all(type(v) is float for v in data):  # Python floats: the common case
        dt = dtype or dtypes.get_default_dtype()  # (no inference, no range check to do)
        return _from_array(np.array(data, dtype=dt.np), dt, bool(requires_grad))
    if isinstance(data, (np.ndarray, np.generic)):
        dt = dtype or dtypes.from_numpy_dtype(data.dtype)
    elif isinstance(data, Tensor):
        dt = dtype or data._dtype
    else:
        dt = dtype or _infer(data)
    _check_rg(dt, requires_grad)
    try:
        src = _to_array(data)
        if not isinstance(data, (np.ndarray, np.generic, Tensor)):
            dtypes.check_range(np.asarray(src), dt, "tensor")  # python data: PyTorch's check
        arr = np.array(src, dtype=dt.np)
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


def as_tensor(data: object, dtype: DType = None, device: Device = None) -> Tensor:
    """Shares memory with a NumPy array of a supported dtype, copies otherwise."""
    _check_device(device, 'as_tensor')
    if isinstance(data, Tensor):
        return data if dtype in (None, data._dtype) else data.to(dtype)
    if isinstance(data, np.ndarray) and (dtype is None or dtype.np == data.dtype):
        return from_numpy(data)
    return tensor(data, dtype=dtype)


def from_numpy(ndarray: np.ndarray) -> Tensor:
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


def _allocating(name, shape, dt, make):
    """make(), with NumPy's allocation failure as a MemoryError naming the op and shape."""
    try:
        return make()
    except (MemoryError, ValueError) as e:
        n = math.prod(shape) * dt.itemsize
        raise MemoryError(f"{name}(): can't allocate a tensor of shape {list(shape)} and dtype "
                          f"{dt} ({n} bytes)") from e


def _factory(fill, name):
    def make(*size: Shape, dtype: DType = None, requires_grad: bool = False,
             device: Device = None, out: Tensor | None = None, layout: object = None,
             generator: Generator | None = None, pin_memory: bool = False) -> Tensor:
        _check_device(device, name)
        shape = _size(size, name)
        dt = dtype or dtypes.get_default_dtype()
        _check_rg(dt, requires_grad)
        arr = _allocating(name, shape, dt, lambda: fill(shape, dt.np))
        return _from_array(arr, dt, bool(requires_grad))

    make.__name__ = make.__qualname__ = name
    fills = {"zeros": "zeros", "ones": "ones", "empty": "uninitialised values (NumPy's empty)"}
    make.__doc__ = (f"A new leaf tensor of the given size filled with {fills[name]}, as "
                    f"torch.{name}: size is ints or one sequence; dtype defaults to the "
                    f"default dtype. `device` accepts the CPU only; `layout`, `pin_memory` and "
                    f"`generator` are accepted and ignored.")
    return make


zeros = _factory(np.zeros, "zeros")
ones = _factory(np.ones, "ones")
empty = _factory(np.empty, "empty")


def _random_factory(draw, name, kernel):
    def make(*size: Shape, generator: Generator | None = None, dtype: DType = None,
             requires_grad: bool = False, device: Device = None, out: Tensor | None = None,
             layout: object = None, pin_memory: bool = False) -> Tensor:
        _check_device(device, name)
        shape = _size(size, name)
        dt = dtype or dtypes.get_default_dtype()
        _float_only(dt, name, kernel)
        _check_rg(dt, requires_grad)
        gen = _gen(generator)
        arr = _allocating(name, shape, dt, lambda: draw(gen, shape, dt.np))
        return _from_array(arr, dt, bool(requires_grad))

    make.__name__ = make.__qualname__ = name
    make.__doc__ = (f"{name}(*size, generator=None, dtype=None, requires_grad=False): a new "
                    f"tensor of {'U[0, 1)' if name == 'rand' else 'N(0, 1)'} samples.")
    return make


rand = _random_factory(_uniform, "rand", "check_uniform_bounds")
randn = _random_factory(_normal, "randn", "normal_kernel_cpu")


def full(size: Shape, fill_value: Number, *, dtype: DType = None, requires_grad: bool = False,
         device: Device = None) -> Tensor:
    """A new tensor of the given size filled with fill_value, as torch.full: the dtype
    follows the value (bool, int64, or the default float dtype) unless given."""
    _check_device(device, 'full')
    if dtype is None:
        dtype = dtypes.bool_ if isinstance(fill_value, bool) else dtypes.int64 \
            if isinstance(fill_value, int) else dtypes.get_default_dtype()
    t = zeros(*_size((size,) if isinstance(size, int) else tuple(size), "full"), dtype=dtype)
    t._arr[...] = dtypes.checked_int(fill_value, dtype, "full")
    return t.requires_grad_(requires_grad) if requires_grad else t


def _like(factory):
    def make(input: Tensor, *, dtype: DType = None, requires_grad: bool = False,
             device: Device = None, memory_format: object = None) -> Tensor:
        _check_device(device, factory.__name__ + "_like")
        return factory(*input._shape, dtype=dtype or input._dtype, requires_grad=requires_grad)

    make.__name__ = make.__qualname__ = factory.__name__ + "_like"
    make.__doc__ = (f"A new tensor of input's shape and dtype (unless `dtype`) filled as "
                    f"torch.{factory.__name__} fills, as torch.{factory.__name__}_like.")
    return make


zeros_like = _like(zeros)
ones_like = _like(ones)
empty_like = _like(empty)


def _random_like(factory):
    def make(input: Tensor, *, generator: Generator | None = None, dtype: DType = None,
             requires_grad: bool = False, device: Device = None, layout: object = None,
             memory_format: object = None) -> Tensor:
        _check_device(device, factory.__name__ + "_like")
        return factory(*input._shape, generator=generator, dtype=dtype or input._dtype,
                       requires_grad=requires_grad)

    make.__name__ = make.__qualname__ = factory.__name__ + "_like"
    make.__doc__ = f"A tensor of input's shape (and dtype) filled as {factory.__name__} does."
    return make


rand_like = _random_like(rand)
randn_like = _random_like(randn)


def full_like(input: Tensor, fill_value: Number, *, dtype: DType = None,
              requires_grad: bool = False, device: Device = None) -> Tensor:
    """A new tensor of input's shape and dtype (unless `dtype`) filled with fill_value."""
    _check_device(device, 'full_like')
    return full(input._shape, fill_value, dtype=dtype or input._dtype,
                requires_grad=requires_grad)


def eye(n: int, m: int | None = None, *, dtype: DType = None, requires_grad: bool = False,
        device: Device = None) -> Tensor:
    """The n x m (m defaults to n) identity matrix, as torch.eye."""
    _check_device(device, 'eye')
    dt = dtype or dtypes.get_default_dtype()
    _check_rg(dt, requires_grad)
    for name, v in (("n", n), ("m", m)):
        if v is not None and v < 0:
            raise RuntimeError(f"{name} must be greater or equal to 0, got {v}")
    return _from_array(np.eye(n, m, dtype=dt.np), dt, requires_grad)


from .ranges import arange, linspace  # noqa: E402  (they use _check_rg and full)


def _randint_args(args, kw):
    """(low, high, size) from PyTorch's randint(high, size) / randint(low, high, size)."""
    args = list(args)
    size = kw.pop("size", None)
    if size is None and args and isinstance(args[-1], (tuple, list)):
        size = args.pop()
    if "high" in kw:
        args.append(kw.pop("high"))
    if "low" in kw:
        args.insert(0, kw.pop("low"))
    if kw:
        raise TypeError(f"randint() got an unexpected keyword argument '{next(iter(kw))}'")
    if size is None or len(args) not in (1, 2):
        raise TypeError("randint() expects (high, size) or (low, high, size), with size a "
                        f"tuple of ints (got {len(args)} bounds and size={size!r})")
    low, high = (0, args[0]) if len(args) == 1 else args
    return int(low), int(high), _size(tuple(size), "randint")


def _randint_array(low, high, shape, generator):
    if low >= high:
        raise RuntimeError(f"random_ expects 'from' to be less than 'to', but got from={low} "
                           f">= to={high}")
    return _gen(generator).integers(low, high, size=shape)


def randint(*args: int | Shape, generator: Generator | None = None, dtype: DType = None,
            requires_grad: bool = False, device: Device = None, out: Tensor | None = None,
            layout: object = None, pin_memory: bool = False, **kw: object) -> Tensor:
    """randint(high, size) or randint(low, high, size): integers uniform in [low, high),
    int64 unless `dtype` says otherwise."""
    _check_device(device, 'randint')
    low, high, shape = _randint_args(args, kw)
    dt = dtype or dtypes.int64
    _check_rg(dt, requires_grad)
    v = _randint_array(low, high, shape, generator)
    return _from_array(v.astype(dt.np), dt, bool(requires_grad))


def randint_like(input: Tensor, low: int = 0, high: int | None = None, *,
                 generator: Generator | None = None, dtype: DType = None,
                 requires_grad: bool = False, device: Device = None, layout: object = None,
                 memory_format: object = None) -> Tensor:
    """A tensor of input's shape (and dtype) with integers uniform in [low, high);
    `randint_like(input, high)` draws from [0, high)."""
    _check_device(device, 'randint_like')
    if high is None:
        low, high = 0, low
    dt = dtype or input._dtype
    _check_rg(dt, requires_grad)
    v = _randint_array(int(low), int(high), input._shape, generator)
    return _from_array(v.astype(dt.np), dt, bool(requires_grad))


def randperm(n: int, *, generator: Generator | None = None, dtype: DType = None,
             requires_grad: bool = False, device: Device = None, out: Tensor | None = None,
             layout: object = None, pin_memory: bool = False) -> Tensor:
    """A random permutation of 0 .. n-1 (int64 unless `dtype` says otherwise)."""
    _check_device(device, 'randperm')
    if not isinstance(n, (int, np.integer)) or isinstance(n, bool):
        raise TypeError(f"randperm(): argument 'n' must be int, not {type(n).__name__}")
    _size((n,), "randperm")
    dt = dtype or dtypes.int64
    _check_rg(dt, requires_grad)
    return _from_array(_gen(generator).permutation(int(n)).astype(dt.np), dt,
                       bool(requires_grad))


def normal(mean: Tensor | float, std: Tensor | float = 1.0, size: Shape | None = None, *,
           generator: Generator | None = None, dtype: DType = None,
           requires_grad: bool = False, out: Tensor | None = None, layout: object = None,
           device: Device = None, pin_memory: bool = False) -> Tensor:
    """normal(mean, std[, size]): samples of N(mean, std**2); mean and std may be tensors
    (broadcast together) or floats (then `size` is required)."""
    _check_device(device, 'normal')
    tm, ts = isinstance(mean, Tensor), isinstance(std, Tensor)
    m = mean._value() if tm else mean
    s = std._value() if ts else std
    if size is None and not (tm or ts):
        raise TypeError("normal(): with a float mean and a float std, the size argument is "
                        "required: normal(mean, std, size)")
    if np.any(np.asarray(s) < 0):
        bad = np.asarray(s).min()
        raise RuntimeError(f"normal expects std >= 0.0, but found std {bad:g}")
    if size is not None:
        shape = _size(tuple(size), "normal")
    else:
        shape = np.broadcast(np.asarray(m), np.asarray(s)).shape
    dt = dtype or (mean._dtype if tm else std._dtype if ts else dtypes.get_default_dtype())
    _float_only(dt, "normal", "normal_kernel_cpu")
    z = _normal(_gen(generator), shape, dt.np)
    return _from_array(np.asarray(m + s * z, dt.np), dt, bool(requires_grad))


def FloatTensor(*data: object) -> Tensor:
    """Legacy constructor (float32), as in old PyTorch tutorials."""
    return Tensor(*data)


def DoubleTensor(*data: object) -> Tensor:
    """Legacy constructor (float64): DoubleTensor(data) or DoubleTensor(*size) of zeros."""
    t = Tensor(*data)
    return _from_array(t._arr.astype(np.float64), dtypes.float64, False)


def LongTensor(*data: object) -> Tensor:
    """Legacy constructor (int64): LongTensor(data) or LongTensor(*size) of zeros."""
    if len(data) == 1 and not isinstance(data[0], int):
        return tensor(data[0], dtype=dtypes.int64)
    return zeros(*data, dtype=dtypes.int64)


# ---- the default device, and out= arguments ------------------------------------------------
def set_default_device(device: Device) -> None:
    """The device factories use by default: the CPU (None or "cpu"), the only one here;
    another raises RuntimeError instead of silently computing on the CPU."""
    from .device import check_device

    check_device(device, "set_default_device")


def get_default_device() -> _Device:
    """The device factories use by default: always the CPU."""
    from .device import device

    return device("cpu")


def _tensors_in(args):
    for a in args:
        if isinstance(a, Tensor):
            yield a
        elif isinstance(a, (list, tuple)):
            yield from _tensors_in(a)


def with_out(fn):
    """fn with PyTorch's `out=` keyword: the result is written into `out` (resized, with
    PyTorch's warning, when its shape differs) and `out` is returned; refused while grad
    mode is on and an argument requires grad, as out= results are not differentiable."""
    import functools
    import warnings

    from .autograd.grad_mode import is_grad_enabled, no_grad

    @functools.wraps(fn)
    def call(*args, out=None, **kwargs):
        if out is None:
            return fn(*args, **kwargs)
        op = fn.__name__
        if not isinstance(out, Tensor):
            raise TypeError(f"{op}(): argument 'out' must be Tensor, not {type(out).__name__}")
        if is_grad_enabled() and builtins.any(t.requires_grad for t in _tensors_in(
                (args, tuple(kwargs.values()), out))):
            raise RuntimeError(f"{op}(): functions with out=... arguments don't support "
                               "automatic differentiation, but one of the arguments requires "
                               "grad.")
        with no_grad():
            r = fn(*args, **kwargs)
            rd, od = r._dtype, out._dtype
            if rd.is_floating_point and not od.is_floating_point or (
                    od is dtypes.bool_ and rd is not dtypes.bool_):
                raise RuntimeError(f"{op}(): result type {rd.legacy[:-6]} can't be cast to the "
                                   f"desired output type {od.legacy[:-6]}")
            if r._shape == out._shape:
                return out.copy_(r)
            if out.numel():
                warnings.warn(f"An output with one or more elements was resized since it had "
                              f"shape {list(out._shape)}, which does not match the required "
                              f"output shape {list(r._shape)}. This behavior is deprecated, and "
                              "in a future PyTorch release outputs will not be resized unless "
                              "they have zero elements. You can explicitly reuse an out tensor "
                              "t by resizing it, inplace, to zero elements with t.resize_(0).",
                              UserWarning, stacklevel=2)
            out.data = r.to(od)
        return out

    return call


def _new_method(factory):
    def method(self, *size: Shape, dtype: DType = None, device: Device = None,
               requires_grad: bool = False, layout: object = None,
               pin_memory: bool = False) -> Tensor:
        _check_device(device, "new_" + factory.__name__)
        return factory(*size, dtype=dtype or self._dtype, requires_grad=requires_grad)

    method.__name__ = "new_" + factory.__name__
    method.__doc__ = f"A {factory.__name__} tensor of this tensor's dtype (unless `dtype`)."
    return method


def _bind():
    T = Tensor
    for f in (zeros, ones, empty):
        setattr(T, "new_" + f.__name__, _new_method(f))
    T.new_full = lambda self, size, fill_value, *, dtype=None, device=None, \
        requires_grad=False: full(size, fill_value, dtype=dtype or self._dtype,
                                  requires_grad=requires_grad, device=device)
    T.is_floating_point = lambda self: self._dtype.is_floating_point
    T.is_contiguous = lambda self, memory_format=None: bool(
        self._value().flags.c_contiguous)
    T.new_tensor = lambda self, data, *, dtype=None, device=None, requires_grad=False: \
        tensor(data, dtype=dtype or self._dtype, requires_grad=requires_grad, device=device)
    T.new_full.__doc__ = "A new tensor of `size` filled with fill_value, of self's dtype " \
        "unless `dtype`, as torch.Tensor.new_full."
    T.is_floating_point.__doc__ = "Whether the dtype is a floating-point one."
    T.is_contiguous.__doc__ = "Whether the value is stored C-contiguously (NumPy's flag; " \
        "tapegrad's recorded results always are)."
    T.new_tensor.__doc__ = "A new leaf tensor of `data`, of self's dtype unless `dtype` " \
        "(a copy, as torch.Tensor.new_tensor)."
    T.new_full.__annotations__ = {"size": Shape, "fill_value": Number, "dtype": DType,
                                  "device": Device, "requires_grad": bool, "return": Tensor}
    T.is_floating_point.__annotations__ = {"return": bool}
    T.is_contiguous.__annotations__ = {"memory_format": object, "return": bool}
    T.new_tensor.__annotations__ = {"data": object, "dtype": DType, "device": Device,
                                    "requires_grad": bool, "return": Tensor}



_bind()
