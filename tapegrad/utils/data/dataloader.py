"""DataLoader: batches of a dataset, in sampler order, merged by a collate function.

Everything runs in the calling process: `num_workers > 0` is accepted (with PyTorch's
checks on the related options) and loads in the main process as `num_workers=0` does, so
`get_worker_info()` is None and `worker_init_fn` is not called.

Fast path: over a `TensorDataset` (or `Subset`s of one) with the default collate and a
built-in sampler, a batch is one fancy-indexing copy of each underlying array by the
batch's index array, instead of `batch_size` row lookups and a stack. The batches are the
same as the general path's: same rows, order, dtypes and the `[inputs, targets]` list.
"""

from collections.abc import Callable, Iterable
from typing import Any

import numpy as np

from ...random import Generator
from ...tensor import _from_array
from .collate import default_collate, default_convert
from .dataset import Dataset, IterableDataset, Subset, TensorDataset
from .sampler import BatchSampler, RandomSampler, Sampler, SequentialSampler, _knows_epoch

__all__ = ["DataLoader", "get_worker_info"]

_FROZEN = ("batch_size", "batch_sampler", "sampler", "drop_last", "dataset",
           "persistent_workers")


def get_worker_info() -> None:
    """None: tapegrad's DataLoader loads in the main process (there are no workers)."""
    return None


class DataLoader:
    """Iterate over `dataset` in batches (PyTorch's DataLoader options and checks).

    `shuffle=True` uses a `RandomSampler` with `generator` (else tapegrad's default
    generator, so `tapegrad.manual_seed` makes the order reproducible). `batch_size=None`
    turns automatic batching off (each sample goes through `default_convert`).
    `num_workers`, `pin_memory`, `timeout`, `prefetch_factor` and friends are checked as
    PyTorch does and otherwise have no effect: loading runs in the main process."""

    def __init__(self, dataset: Dataset, batch_size: int | None = 1,
                 shuffle: bool | None = None, sampler: Sampler | Iterable | None = None,
                 batch_sampler: Sampler | Iterable | None = None, num_workers: int = 0,
                 collate_fn: Callable[[list], Any] | None = None, pin_memory: bool = False,
                 drop_last: bool = False, timeout: float = 0,
                 worker_init_fn: Callable[[int], None] | None = None,
                 multiprocessing_context: object = None,
                 generator: Generator | None = None, *, prefetch_factor: int | None = None,
                 persistent_workers: bool = False,
                 pin_memory_device: str = "", in_order: bool = True) -> None:
        if not isinstance(num_workers, int) or num_workers < 0:
            raise ValueError("num_workers option should be non-negative; use num_workers=0 to "
                             "disable multiprocessing.")
        if timeout < 0:
            raise ValueError("timeout option should be non-negative")
        if num_workers == 0 and prefetch_factor is not None:
            raise ValueError("prefetch_factor option could only be specified in "
                             "multiprocessing.let num_workers > 0 to enable multiprocessing, "
                             "otherwise set prefetch_factor to None.")
        if persistent_workers and num_workers == 0:
            raise ValueError("persistent_workers option needs num_workers > 0")
        iterable = isinstance(dataset, IterableDataset)
        if iterable:
            for name, val in (("shuffle", shuffle), ("sampler", sampler),
                              ("batch_sampler", batch_sampler)):
                if val not in (None, False):
                    raise ValueError(f"DataLoader with IterableDataset: expected unspecified "
                                     f"{name} option, but got {name}={val}")
        if sampler is not None and shuffle:
            raise ValueError("sampler option is mutually exclusive with shuffle")
        if batch_sampler is not None:
            if batch_size != 1 or shuffle or sampler is not None or drop_last:
                raise ValueError("batch_sampler option is mutually exclusive with batch_size, "
                                 "shuffle, sampler, and drop_last")
            batch_size, drop_last = None, False
        elif batch_size is None and drop_last:
            raise ValueError("batch_size=None option disables auto-batching and is mutually "
                             "exclusive with drop_last")
        if sampler is None and not iterable:
            sampler = (RandomSampler(dataset, generator=generator) if shuffle
                       else SequentialSampler(dataset))
        if batch_size is not None and batch_sampler is None and not iterable:
            batch_sampler = BatchSampler(sampler, batch_size, drop_last)
        if collate_fn is None:
            auto = batch_size is not None or batch_sampler is not None
            collate_fn = default_collate if auto else default_convert
        set_ = object.__setattr__
        for name, val in (("dataset", dataset), ("batch_size", batch_size),
                          ("sampler", sampler), ("batch_sampler", batch_sampler),
                          ("drop_last", drop_last), ("persistent_workers", persistent_workers)):
            set_(self, name, val)
        self.num_workers, self.collate_fn, self.pin_memory = num_workers, collate_fn, pin_memory
        self.timeout, self.worker_init_fn = timeout, worker_init_fn
        self.multiprocessing_context, self.generator = multiprocessing_context, generator
        self.prefetch_factor, self.pin_memory_device = prefetch_factor, pin_memory_device
        self.in_order = in_order
        self._initialized = True

    def __setattr__(self, name, value):
        if name in _FROZEN and getattr(self, "_initialized", False):
            raise ValueError(f"{name} attribute should not be set after "
                             f"{type(self).__name__} is initialized")
        object.__setattr__(self, name, value)

    @property
    def _auto_collation(self) -> bool:
        return self.batch_sampler is not None

    def __iter__(self):
        if isinstance(self.dataset, IterableDataset):
            return _Iter(self, self._iterable_batches())
        if not self._auto_collation:
            return _Iter(self, (self.collate_fn(self.dataset[i]) for i in self.sampler))
        fast = self._fast_batches()
        return _Iter(self, fast if fast is not None else self._map_batches())

    def _map_batches(self):
        many = getattr(self.dataset, "__getitems__", None)
        for idx in self.batch_sampler:
            samples = many(idx) if many is not None else [self.dataset[i] for i in idx]
            yield self.collate_fn(samples)

    def _iterable_batches(self):
        it, collate, n = iter(self.dataset), self.collate_fn, self.batch_size
        if n is None:
            for sample in it:
                yield collate(sample)
            return
        batch = []
        for sample in it:
            batch.append(sample)
            if len(batch) == n:
                yield collate(batch)
                batch = []
        if batch and not self.drop_last:
            yield collate(batch)

    def _fast_batches(self):
        """Batches by fancy indexing the TensorDataset's arrays, or None if this loader's
        dataset, collate or samplers are not the built-in ones it can reproduce."""
        if self.collate_fn is not default_collate or type(self.batch_sampler) is not \
                BatchSampler:
            return None
        ds, index_map = self.dataset, None
        while type(ds) is Subset or (isinstance(ds, Subset) and _plain_subset(ds)):
            idx = np.asarray(ds.indices, dtype=np.int64)
            if idx.ndim != 1:
                return None
            index_map = idx if index_map is None else idx[index_map]
            ds = ds.dataset
        if not (isinstance(ds, TensorDataset) and type(ds).__getitem__ is
                TensorDataset.__getitem__ and ds.tensors):
            return None
        if any(t._rg for t in ds.tensors):  # stacking records an op: the general path does it
            return None
        if not _knows_epoch(self.batch_sampler.sampler):
            return None
        if index_map is not None:
            n = len(ds)
            if len(index_map) and (index_map.min() < -n or index_map.max() >= n):
                return None  # let the general path raise its IndexError
        return _tensor_batches(ds.tensors, self.batch_sampler, index_map)

    def __len__(self) -> int:
        if isinstance(self.dataset, IterableDataset):
            n = len(self.dataset)
            if self.batch_size is not None:
                n = n // self.batch_size if self.drop_last else -(-n // self.batch_size)
            return n
        return len(self.batch_sampler if self._auto_collation else self.sampler)


def _plain_subset(ds):
    return (type(ds).__getitem__ is Subset.__getitem__
            and type(ds).__getitems__ is Subset.__getitems__)


def _tensor_batches(tensors, batch_sampler, index_map):
    # a generator: the epoch's order is drawn at the first batch, as the general path does
    for idx in batch_sampler._index_batches():
        if index_map is not None:
            idx = index_map[idx]
        yield [_from_array(t._value()[idx], t._dtype, False) for t in tensors]


class _Iter:
    """The DataLoader's iterator: yields its batches, knows how many there are."""

    def __init__(self, loader, batches):
        self._loader, self._batches = loader, batches

    def __iter__(self):
        return self

    def __next__(self):
        return next(self._batches)

    def __len__(self) -> int:
        return len(self._loader)
