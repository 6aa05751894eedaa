"""Random numbers: `Generator`, the default generator, seeds, RNG state, and the sampling
ops `bernoulli`, `multinomial` (and the tensor methods `bernoulli_`, `random_`).

Every random op of tapegrad (rand, randn, randint, randperm, normal, the `*_like` forms,
`Tensor.normal_`/`uniform_`/`bernoulli_`/`random_`, dropout, nn.init, DataLoader shuffling)
draws from a `Generator`: the one given as `generator=`, else `default_generator`.

    tapegrad.manual_seed(0); a = tapegrad.rand(3)
    tapegrad.manual_seed(0); b = tapegrad.rand(3)      # a equals b bit for bit
    g = tapegrad.Generator().manual_seed(0)            # a stream of its own
    c = tapegrad.rand(3, generator=g)                  # c equals a too

A Generator wraps NumPy's PCG64 bit generator. The same seed gives the same numbers in
tapegrad on every platform, but not PyTorch's numbers: PyTorch draws from mt19937 with its
own transforms, so `manual_seed(0); rand(3)` differs between the two libraries. As in
PyTorch, the default generator starts from a random seed (`initial_seed()` tells it) and a
new `Generator()` starts from the fixed seed 67280421310721. `get_state()` returns an int64
tensor of 8 words (PyTorch's is a uint8 tensor of its own layout; the two are not
interchangeable).
"""

import contextlib
import os
from collections.abc import Iterator

import numpy as np

from . import dtypes
from .tensor import Tensor, _from_array

__all__ = ["Generator", "default_generator", "manual_seed", "seed", "initial_seed",
           "get_rng_state", "set_rng_state", "fork_rng", "bernoulli", "multinomial"]

_FIXED_SEED = 67280421310721  # a new Generator's seed, as PyTorch's
_U64 = 1 << 64
_M64 = _U64 - 1
_TAG = 0x7467_5043_4736_3401  # "tgPCG64" + layout version 1: the first word of a state
_STATE_WORDS = 8


def _entropy_seed() -> int:
    return int.from_bytes(os.urandom(8), "little")


def _seed_value(seed, op: str) -> int:
    """A seed as PyTorch takes it: an int in [-2**63, 2**64), negatives wrap modulo 2**64."""
    if isinstance(seed, Tensor):
        seed = seed.item()
    if not isinstance(seed, (int, np.integer)):
        raise RuntimeError(f"{op} expected a long, but got {type(seed).__name__}")
    seed = int(seed)
    if not -(1 << 63) <= seed < _U64:
        raise ValueError(f"{op}: seed {seed} is out of range [-2**63, 2**64) (overflow when "
                         "unpacking long long)")
    return seed % _U64


class Generator:
    """A random number generator (tapegrad's PyTorch-style `torch.Generator`).

    Pass it as `generator=` to random ops to draw from a stream of its own. Only the CPU
    device exists."""

    __slots__ = ("_cell", "_seed", "__weakref__")

    def __init__(self, device: str = "cpu") -> None:
        if str(device) != "cpu":
            raise RuntimeError(f"Generator(): tapegrad has only the CPU device (got device="
                               f"{device!r})")
        self._seed = _FIXED_SEED
        self._cell = [np.random.Generator(np.random.PCG64(_FIXED_SEED))]

    @property
    def device(self) -> str:
        """The generator's device: always "cpu"."""
        return "cpu"

    def manual_seed(self, seed: int) -> "Generator":
        """Restart the stream from `seed`; returns self (so `Generator().manual_seed(0)`)."""
        s = _seed_value(seed, "manual_seed")
        bg = self._cell[0].bit_generator
        if type(bg) is np.random.PCG64:  # reseed in place: holders of the NumPy object follow
            bg.state = np.random.PCG64(s).state
        else:
            self._cell[0] = np.random.Generator(np.random.PCG64(s))
        self._seed = s
        return self

    def seed(self) -> int:
        """Reseed from OS entropy and return the new seed."""
        s = _entropy_seed()
        self.manual_seed(s)
        return s

    def initial_seed(self) -> int:
        """The seed the current stream started from."""
        return self._seed

    def get_state(self) -> Tensor:
        """The stream's position as an int64 tensor of 8 words (for `set_state`)."""
        st = self._cell[0].bit_generator.state
        if st.get("bit_generator") != "PCG64":
            raise RuntimeError(f"get_state: the generator's NumPy bit generator is "
                               f"{st.get('bit_generator')}, not PCG64")
        s, inc = st["state"]["state"], st["state"]["inc"]
        words = [_TAG, self._seed, s >> 64, s & _M64, inc >> 64, inc & _M64,
                 int(st["has_uint32"]), int(st["uinteger"])]
        arr = np.array(words, dtype=np.uint64).view(np.int64)
        return _from_array(arr, dtypes.int64, False)

    def set_state(self, new_state: Tensor) -> "Generator":
        """Return the stream to a position saved by `get_state`; returns self."""
        if not isinstance(new_state, Tensor):
            raise TypeError(f"set_state: RNG state must be a tapegrad int64 tensor from "
                            f"get_state() (got {type(new_state).__name__})")
        if new_state._dtype is not dtypes.int64 or new_state._shape != (_STATE_WORDS,):
            raise RuntimeError(f"set_state: expected an int64 RNG state of shape "
                               f"[{_STATE_WORDS}] from get_state(), got {new_state._dtype} of "
                               f"shape {list(new_state._shape)}")
        w = [int(x) for x in np.asarray(new_state._value(), np.int64).view(np.uint64)]
        if w[0] != _TAG or w[6] not in (0, 1) or w[7] > 0xFFFF_FFFF or not w[5] & 1:
            raise RuntimeError("set_state: the tensor is not an RNG state written by "
                               "tapegrad's get_state()")
        state = {"bit_generator": "PCG64",
                 "state": {"state": (w[2] << 64) | w[3], "inc": (w[4] << 64) | w[5]},
                 "has_uint32": w[6], "uinteger": w[7]}
        bg = self._cell[0].bit_generator
        if type(bg) is not np.random.PCG64:
            self._cell[0] = np.random.Generator(np.random.PCG64(0))
            bg = self._cell[0].bit_generator
        bg.state = state
        self._seed = w[1]
        return self

    def clone_state(self) -> "Generator":
        """A new Generator at the same position of the same stream."""
        g = Generator()
        g.set_state(self.get_state())
        return g

    def __repr__(self) -> str:
        return f"<tapegrad.Generator object (initial_seed={self._seed})>"


def _make_default() -> Generator:
    g = Generator()
    g.manual_seed(_entropy_seed())
    return g


default_generator = _make_default()
_rng = default_generator._cell  # creation._rng: _rng[0] is the default NumPy Generator


def _gen(generator) -> np.random.Generator:
    """The NumPy Generator behind `generator=` (None: the default generator)."""
    if generator is None:
        return _rng[0]
    if not isinstance(generator, Generator):
        raise TypeError(f"expected a tapegrad.Generator as argument 'generator', got "
                        f"{type(generator).__name__}")
    return generator._cell[0]


def manual_seed(seed: int) -> Generator:
    """Seed the default generator (every random op, dropout, init, shuffling); returns it."""
    if isinstance(seed, (float, np.floating)):
        seed = int(seed)  # as PyTorch's manual_seed(1.5)
    return default_generator.manual_seed(seed)


def seed() -> int:
    """Seed the default generator from OS entropy and return the seed."""
    return default_generator.seed()


def initial_seed() -> int:
    """The seed the default generator's current stream started from."""
    return default_generator.initial_seed()


def get_rng_state() -> Tensor:
    """The default generator's state (an int64 tensor for `set_rng_state`)."""
    return default_generator.get_state()


def set_rng_state(new_state: Tensor) -> None:
    """Restore the default generator's state saved by `get_rng_state`."""
    default_generator.set_state(new_state)


@contextlib.contextmanager
def fork_rng(devices=None, enabled: bool = True, device_type: str = "cpu") -> Iterator[None]:
    """Context manager: the default generator's state is restored on exit."""
    if not enabled:
        yield
        return
    state = get_rng_state()
    try:
        yield
    finally:
        set_rng_state(state)


# ---- sampling ops ---------------------------------------------------------------------
def _uniform(gen, shape, npdt, low=0.0, high=1.0):
    """Samples of U[low, high) in dtype npdt (float32 drawn as float32: never equal high)."""
    u = gen.random(shape, dtype=npdt if npdt in (np.float32, np.float64) else np.float64)
    if low != 0.0 or high != 1.0:
        u = np.asarray(low + (high - low) * u, npdt)
        if high > low:  # rounding may reach `high`; the interval is half-open
            np.minimum(u, np.nextafter(npdt.type(high), npdt.type(low)), out=u)
    return u


def _normal(gen, shape, npdt, mean=0.0, std=1.0):
    z = gen.standard_normal(shape, dtype=npdt if npdt in (np.float32, np.float64)
                            else np.float64)
    if mean != 0.0 or std != 1.0:
        z = np.asarray(mean + std * z, npdt)
    return z


def _float_only(dt, op, kernel):
    if not dt.is_floating_point:
        raise NotImplementedError(f"{op}: \"{kernel}\" is not implemented for integer or bool "
                                  f"tensors (got {dt}); use a floating dtype")


def _probs(p, op):
    if not np.all((p >= 0) & (p <= 1)):
        raise RuntimeError(f"{op}: expected every probability p to satisfy 0 <= p <= 1")


def bernoulli(input: Tensor, p: float | Tensor | None = None, *,
              generator: Generator | None = None) -> Tensor:
    """Draw 0/1 with probabilities `input` (or the float `p` for every element); the
    result has input's shape and dtype."""
    if not isinstance(input, Tensor):
        raise TypeError(f"bernoulli(): argument 'input' must be Tensor, not "
                        f"{type(input).__name__}")
    if p is None:
        _float_only(input._dtype, "bernoulli", "bernoulli_tensor_cpu")
        probs = input._value()
    else:
        probs = np.asarray(p._value() if isinstance(p, Tensor) else float(p))
    _probs(probs, "bernoulli")
    u = _gen(generator).random(input._shape)
    return _from_array((u < probs).astype(input._dtype.np), input._dtype, False)


def multinomial(input: Tensor, num_samples: int, replacement: bool = False, *,
                generator: Generator = None) -> Tensor:
    """Sample `num_samples` category indices from each row of non-negative weights
    (1-D or 2-D `input`); int64 result of shape [num_samples] or [rows, num_samples]."""
    if not isinstance(input, Tensor):
        raise TypeError(f"multinomial(): argument 'input' must be Tensor, not "
                        f"{type(input).__name__}")
    if input.ndim not in (1, 2):
        raise RuntimeError(f"multinomial: prob_dist must be 1 or 2 dim (got shape "
                           f"{list(input._shape)})")
    if not input._dtype.is_floating_point:
        raise RuntimeError(f"multinomial only supports floating-point dtypes for input, got: "
                           f"{input._dtype}")
    n = input._shape[-1]
    if num_samples <= 0:
        raise RuntimeError(f"multinomial: cannot sample n_sample <= 0 samples (got "
                           f"{num_samples})")
    if not replacement and num_samples > n:
        raise RuntimeError(f"multinomial: cannot sample n_sample > prob_dist.size(-1) samples "
                           f"without replacement ({num_samples} > {n})")
    w = np.asarray(input._value(), np.float64).reshape(-1, n)
    if not np.all(np.isfinite(w) & (w >= 0)):
        raise RuntimeError("multinomial: probability tensor contains either `inf`, `nan` or "
                           "element < 0")
    if np.any(w.sum(axis=1) <= 0):
        raise RuntimeError("multinomial: invalid multinomial distribution (sum of "
                           "probabilities <= 0)")
    gen = _gen(generator)
    if replacement:
        cdf = np.cumsum(w, axis=1)
        cdf /= cdf[:, -1:]  # the last entry is exactly 1; zero-weight categories are never hit
        u = gen.random((w.shape[0], num_samples))
        out = np.stack([np.searchsorted(c, r, side="right") for c, r in zip(cdf, u)])
    else:  # exponential race: the k smallest E_i / w_i are a weighted draw without replacement
        with np.errstate(divide="ignore"):
            keys = gen.standard_exponential(w.shape) / w
        out = np.argsort(keys, axis=1, kind="stable")[:, :num_samples]
    out = out.astype(np.int64).reshape(input._shape[:-1] + (num_samples,))
    return _from_array(out, dtypes.int64, False)


def _fill_inplace(t, op, draw):
    """Write `values` into t under the in-place rules (a leaf requiring grad refuses). A
    tensor with history gets a value that does not depend on its old one: the zero-gradient
    record of fill_."""
    from .inplace import _inplace
    from .tape.tape import _local

    tracked = t._rg and t._tape is not None and _local.grad_enabled
    return _inplace(t, "fill_" if tracked else op,
                    lambda src: _from_array(draw(), t._dtype, False))


def bernoulli_(self: Tensor, p: float | Tensor = 0.5, *,
               generator: Generator | None = None) -> Tensor:
    """In place: each element becomes 1 with probability p (a float or a tensor), else 0."""
    probs = np.asarray(p._value() if isinstance(p, Tensor) else float(p))
    _probs(probs, "bernoulli_")
    gen = _gen(generator)
    return _fill_inplace(self, "bernoulli_",
                         lambda: (gen.random(self._shape) < probs).astype(self._dtype.np))


_RANDOM_TOP = {"float32": 1 << 24, "float64": 1 << 53, "int64": (1 << 63) - 1,
               "int32": (1 << 31) - 1, "int16": (1 << 15) - 1, "int8": (1 << 7) - 1,
               "uint8": (1 << 8) - 1, "bool": 1}


def random_(self: Tensor, *args, generator: Generator = None, **kw) -> Tensor:
    """In place: integers drawn uniformly from [from, to - 1] (`random_(from, to)`);
    `random_(to)` draws from [0, to - 1]; with no upper bound, [from, 2**mantissa] for
    floats and [from, max] for integer dtypes."""
    if len(args) == 1 and not kw:
        lo, hi = 0, args[0]
    else:
        lo = args[0] if args else kw.pop("from", 0)
        hi = args[1] if len(args) > 1 else kw.pop("to", None)
        if kw or len(args) > 2:
            raise TypeError(f"random_() got unexpected arguments {args[2:]} {list(kw)}")
    if hi is None:
        hi = _RANDOM_TOP[self._dtype.name] + 1
    if lo >= hi:
        raise RuntimeError(f"random_ expects 'from' to be less than 'to', but got from={lo} "
                           f">= to={hi}")
    gen = _gen(generator)
    return _fill_inplace(self, "random_",
                         lambda: gen.integers(lo, hi, size=self._shape).astype(self._dtype.np))


def _tensor_bernoulli(self: Tensor, p: float | Tensor | None = None, *,
                      generator: Generator | None = None) -> Tensor:

    """Samples 0/1 with the probabilities in self (or p), as torch.Tensor.bernoulli."""
    return bernoulli(self, p, generator=generator)


def _tensor_multinomial(self: Tensor, num_samples: int, replacement: bool = False, *,
                        generator: Generator = None) -> Tensor:
    """Indices sampled from the rows of self taken as (unnormalised) probabilities, as
    torch.Tensor.multinomial."""
    return multinomial(self, num_samples, replacement, generator=generator)


def _bind():
    Tensor.bernoulli = _tensor_bernoulli
    Tensor.bernoulli_ = bernoulli_
    Tensor.random_ = random_
    Tensor.multinomial = _tensor_multinomial


_bind()
