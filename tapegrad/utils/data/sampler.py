"""Samplers: which indices a DataLoader reads, in which order, and how they are batched.

Each built-in sampler draws one epoch's order as a NumPy array (`_epoch_indices`) and
iterates it as Python ints; the DataLoader's TensorDataset fast path slices that same
array, so both paths read the same rows in the same order.
"""

from collections.abc import Iterable, Iterator, Sequence, Sized

import numpy as np

from ... import dtypes
from ... import random as _random
from ...tensor import Tensor, _from_array

__all__ = ["Sampler", "SequentialSampler", "RandomSampler", "SubsetRandomSampler",
           "WeightedRandomSampler", "BatchSampler", "DistributedSampler"]


class Sampler:
    """Base class: `__iter__` yields dataset indices (or lists of them, for a batch
    sampler); `__len__` is optional."""

    def __init__(self, data_source: Sized | None = None) -> None:
        pass

    def __iter__(self) -> Iterator:
        raise NotImplementedError("Subclasses of Sampler should implement __iter__.")

    def _epoch_indices(self):
        """One epoch's indices as an int64 array, or None if this sampler can't tell."""
        return None


class SequentialSampler(Sampler):
    """0, 1, ..., len(data_source) - 1."""

    def __init__(self, data_source: Sized) -> None:
        self.data_source = data_source

    def _epoch_indices(self):
        return np.arange(len(self.data_source), dtype=np.int64)

    def __iter__(self) -> Iterator[int]:
        return iter(range(len(self.data_source)))

    def __len__(self) -> int:
        return len(self.data_source)


def _epoch_generator(generator):
    """The generator for one epoch: the given one, else a fresh one seeded from the
    default generator (so tapegrad.manual_seed makes every epoch's order reproducible)."""
    if generator is not None:
        return generator
    s = int(_random._gen(None).integers(0, 1 << 63))
    return _random.Generator().manual_seed(s)


class RandomSampler(Sampler):
    """A random permutation of the dataset each epoch (or `num_samples` draws with
    replacement). `generator=` makes the order reproducible; without it each epoch draws a
    seed from tapegrad's default generator."""

    def __init__(self, data_source: Sized, replacement: bool = False,
                 num_samples: int | None = None,
                 generator: _random.Generator | None = None) -> None:
        if not isinstance(replacement, bool):
            raise TypeError(f"replacement should be a boolean value, but got "
                            f"replacement={replacement}")
        if num_samples is not None and (not isinstance(num_samples, int) or
                                        isinstance(num_samples, bool) or num_samples <= 0):
            raise ValueError(f"num_samples should be a positive integer value, but got "
                             f"num_samples={num_samples}")
        self.data_source = data_source
        self.replacement = replacement
        self._num_samples = num_samples
        self.generator = generator

    @property
    def num_samples(self) -> int:
        """How many indices one epoch yields."""
        return len(self.data_source) if self._num_samples is None else self._num_samples

    def _epoch_indices(self):
        n, k = len(self.data_source), self.num_samples
        gen = _random._gen(_epoch_generator(self.generator))
        if self.replacement:
            return gen.integers(0, n, size=k, dtype=np.int64) if n else np.zeros(0, np.int64)
        reps = [gen.permutation(n) for _ in range(k // n)] if n else []
        if n and k % n:
            reps.append(gen.permutation(n)[:k % n])
        return np.concatenate(reps).astype(np.int64) if reps else np.zeros(0, np.int64)

    def __iter__(self) -> Iterator[int]:
        return iter(self._epoch_indices().tolist())

    def __len__(self) -> int:
        return self.num_samples


class SubsetRandomSampler(Sampler):
    """The given indices in a random order each epoch."""

    def __init__(self, indices: Sequence[int],
                 generator: _random.Generator | None = None) -> None:
        self.indices = indices
        self.generator = generator

    def _epoch_indices(self):
        gen = _random._gen(_epoch_generator(self.generator))
        return np.asarray(self.indices, np.int64)[gen.permutation(len(self.indices))]

    def __iter__(self) -> Iterator[int]:
        return iter(self._epoch_indices().tolist())

    def __len__(self) -> int:
        return len(self.indices)


class WeightedRandomSampler(Sampler):
    """`num_samples` indices drawn with probabilities proportional to `weights`."""

    def __init__(self, weights: Sequence[float], num_samples: int, replacement: bool = True,
                 generator: _random.Generator | None = None) -> None:
        if (not isinstance(num_samples, int) or isinstance(num_samples, bool)
                or num_samples <= 0):
            raise ValueError(f"num_samples should be a positive integer value, but got "
                             f"num_samples={num_samples}")
        if not isinstance(replacement, bool):
            raise ValueError(f"replacement should be a boolean value, but got "
                             f"replacement={replacement}")
        w = np.asarray(weights._value() if isinstance(weights, Tensor) else weights,
                       np.float64)
        if w.ndim != 1:
            raise ValueError(f"weights should be a 1d sequence but given weights have shape "
                             f"{tuple(w.shape)}")
        self.weights = _from_array(w, dtypes.float64, False)
        self.num_samples = num_samples
        self.replacement = replacement
        self.generator = generator

    def _epoch_indices(self):
        r = _random.multinomial(self.weights, self.num_samples, self.replacement,
                                generator=self.generator)
        return r._value()

    def __iter__(self) -> Iterator[int]:
        return iter(self._epoch_indices().tolist())

    def __len__(self) -> int:
        return self.num_samples


class BatchSampler(Sampler):
    """Groups the indices of `sampler` into lists of `batch_size` (the last one shorter
    unless `drop_last`)."""

    def __init__(self, sampler: Iterable, batch_size: int, drop_last: bool) -> None:
        if (not isinstance(batch_size, int) or isinstance(batch_size, bool)
                or batch_size <= 0):
            raise ValueError(f"batch_size should be a positive integer value, but got "
                             f"batch_size={batch_size}")
        if not isinstance(drop_last, bool):
            raise ValueError(f"drop_last should be a boolean value, but got "
                             f"drop_last={drop_last}")
        self.sampler = sampler
        self.batch_size = batch_size
        self.drop_last = drop_last

    def _index_batches(self):
        """One epoch's batches as int64 arrays, or None when the sampler can't tell."""
        if not _knows_epoch(self.sampler):
            return None
        idx = self.sampler._epoch_indices()
        b, n = self.batch_size, len(idx)
        stop = n - n % b if self.drop_last else n
        return (idx[i:i + b] for i in range(0, stop, b))

    def __iter__(self) -> Iterator[list]:
        batches = self._index_batches()
        if batches is not None:
            for arr in batches:
                yield arr.tolist()
            return
        batch = []
        for i in self.sampler:
            batch.append(i)
            if len(batch) == self.batch_size:
                yield batch
                batch = []
        if batch and not self.drop_last:
            yield batch

    def __len__(self) -> int:
        n = len(self.sampler)
        return n // self.batch_size if self.drop_last else -(-n // self.batch_size)


class DistributedSampler(Sampler):
    """The part of a dataset that replica `rank` of `num_replicas` reads, as PyTorch's:
    every replica takes every num_replicas-th index of one shared order (shuffled by
    `seed + epoch` when `shuffle`, so `set_epoch` changes it and all replicas agree),
    padded by wrapping around to a multiple of num_replicas, or cut to one with
    `drop_last`. tapegrad has no process groups, so `num_replicas` and `rank` must be
    given (each process of a job passes its own rank). The shuffled order comes from
    NumPy's generator: the same partition rules as PyTorch's, not its permutation."""

    def __init__(self, dataset: Sized, num_replicas: int | None = None,
                 rank: int | None = None, shuffle: bool = True, seed: int = 0,
                 drop_last: bool = False) -> None:
        if num_replicas is None or rank is None:
            raise ValueError("Default process group has not been initialized, please make "
                             "sure to call init_process_group. (tapegrad has no process "
                             "groups: pass num_replicas= and rank= yourself.)")
        if rank >= num_replicas or rank < 0:
            raise ValueError(f"Invalid rank {rank}, rank should be in the interval "
                             f"[0, {num_replicas - 1}]")
        self.dataset, self.num_replicas, self.rank = dataset, num_replicas, rank
        self.shuffle, self.seed, self.drop_last, self.epoch = shuffle, seed, drop_last, 0
        n = len(dataset)
        if drop_last and n % num_replicas:
            self.num_samples = -(-(n - num_replicas) // num_replicas)
        else:
            self.num_samples = -(-n // num_replicas)
        self.total_size = self.num_samples * num_replicas

    def set_epoch(self, epoch: int) -> None:
        """The epoch whose order the next iteration gives (call it before each epoch)."""
        self.epoch = epoch

    def _epoch_indices(self):
        n = len(self.dataset)
        if self.shuffle:
            order = np.random.default_rng(self.seed + self.epoch).permutation(n)
        else:
            order = np.arange(n)
        if not self.drop_last:
            pad = self.total_size - n
            if pad > 0 and n:
                order = np.concatenate([order, np.resize(order, pad)])
        else:
            order = order[:self.total_size]
        return order[self.rank:self.total_size:self.num_replicas].astype(np.int64)

    def __iter__(self) -> Iterator[int]:
        return iter(self._epoch_indices().tolist())

    def __len__(self) -> int:
        return self.num_samples


_BUILTIN = (SequentialSampler, RandomSampler, SubsetRandomSampler, WeightedRandomSampler,
            DistributedSampler)


def _knows_epoch(sampler) -> bool:
    """Does the sampler iterate exactly its `_epoch_indices` (a built-in one whose
    `__iter__` and `_epoch_indices` no subclass replaced)?"""
    cls = type(sampler)
    return any(cls.__iter__ is c.__iter__ and cls._epoch_indices is c._epoch_indices
               for c in _BUILTIN if isinstance(sampler, c))
