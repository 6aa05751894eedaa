"""Datasets: Dataset, IterableDataset, TensorDataset, ConcatDataset, Subset, random_split."""

import bisect
import math
import warnings
from collections.abc import Iterable, Sequence
from itertools import accumulate

from ... import random as _random
from ...tensor import Tensor

__all__ = ["Dataset", "IterableDataset", "TensorDataset", "ConcatDataset", "Subset",
           "random_split"]


class Dataset:
    """A map-style dataset: subclasses define `__getitem__(index)` and usually `__len__`.
    `a + b` is `ConcatDataset([a, b])`."""

    def __getitem__(self, index):
        raise NotImplementedError("Subclasses of Dataset should implement __getitem__.")

    def __add__(self, other: "Dataset") -> "ConcatDataset":
        return ConcatDataset([self, other])


class IterableDataset(Dataset):
    """A dataset read by iterating it (`__iter__`); a DataLoader batches what it yields."""

    def __iter__(self):
        raise NotImplementedError("Subclasses of IterableDataset should implement __iter__.")

    def __add__(self, other):
        raise TypeError("IterableDataset + dataset: ConcatDataset does not support "
                        "IterableDataset (chain the iterables instead)")


class TensorDataset(Dataset):
    """Samples are rows: item i is `tuple(t[i] for t in tensors)`; every tensor must have
    the same size along dim 0."""

    def __init__(self, *tensors: Tensor) -> None:
        for i, t in enumerate(tensors):
            if not isinstance(t, Tensor):
                raise TypeError(f"TensorDataset: argument {i} must be a Tensor, not "
                                f"{type(t).__name__}")
            if not t._shape:
                raise ValueError(f"TensorDataset: tensor {i} is 0-d; every tensor needs a "
                                 "dim 0 to index")
        if tensors and any(t._shape[0] != tensors[0]._shape[0] for t in tensors):
            sizes = [t._shape[0] for t in tensors]
            raise AssertionError(f"Size mismatch between tensors (sizes along dim 0: {sizes})")
        self.tensors = tuple(tensors)

    def __getitem__(self, index):
        return tuple(t[index] for t in self.tensors)

    def __len__(self) -> int:
        return self.tensors[0]._shape[0] if self.tensors else 0


class ConcatDataset(Dataset):
    """The datasets one after the other: index i falls in the first dataset whose
    cumulative size exceeds it."""

    def __init__(self, datasets: Iterable[Dataset]) -> None:
        self.datasets = list(datasets)
        if not self.datasets:
            raise AssertionError("datasets should not be an empty iterable")
        for d in self.datasets:
            if isinstance(d, IterableDataset):
                raise AssertionError("ConcatDataset does not support IterableDataset")
        self.cumulative_sizes = list(accumulate(len(d) for d in self.datasets))

    def __len__(self) -> int:
        return self.cumulative_sizes[-1]

    def __getitem__(self, idx):
        if idx < 0:
            if -idx > len(self):
                raise ValueError("absolute value of index should not exceed dataset length")
            idx += len(self)
        k = bisect.bisect_right(self.cumulative_sizes, idx)
        if k == len(self.datasets):
            raise IndexError(f"ConcatDataset: index {idx} is out of range for a dataset of "
                             f"length {len(self)}")
        start = self.cumulative_sizes[k - 1] if k else 0
        return self.datasets[k][idx - start]


class Subset(Dataset):
    """The items of `dataset` at `indices`, in that order."""

    def __init__(self, dataset: Dataset, indices: Sequence[int]) -> None:
        self.dataset = dataset
        self.indices = indices

    def __getitem__(self, idx):
        if isinstance(idx, list):
            return self.dataset[[self.indices[i] for i in idx]]
        return self.dataset[self.indices[idx]]

    def __getitems__(self, indices):
        """A list of items (the DataLoader's batch fetch), through the dataset's own
        `__getitems__` when it has one."""
        many = getattr(self.dataset, "__getitems__", None)
        if many is not None:
            return many([self.indices[i] for i in indices])
        return [self.dataset[self.indices[i]] for i in indices]

    def __len__(self) -> int:
        return len(self.indices)


def _split_lengths(n, lengths):
    """Integer lengths from fractions summing to 1 (the remainder spread one by one)."""
    total = sum(lengths)
    if not (math.isclose(total, 1) and total <= 1):
        return [int(x) for x in lengths]
    out = []
    for i, frac in enumerate(lengths):
        if frac < 0 or frac > 1:
            raise ValueError(f"Fraction at index {i} is not between 0 and 1")
        out.append(int(math.floor(n * frac)))
    for i in range(n - sum(out)):
        out[i % len(out)] += 1
    for i, k in enumerate(out):
        if k == 0:
            warnings.warn(f"Length of split at index {i} is 0. This might result in an empty "
                          "dataset.", stacklevel=3)
    return out


def random_split(dataset: Dataset, lengths: Sequence[int | float],
                 generator: _random.Generator | None = None) -> list[Subset]:
    """Split `dataset` into non-overlapping random `Subset`s of the given lengths (ints
    summing to len(dataset), or fractions summing to 1). `generator` defaults to tapegrad's
    default generator, so `tapegrad.manual_seed` makes the split reproducible."""
    from ...creation import randperm

    n = len(dataset)
    sizes = _split_lengths(n, list(lengths))
    if any(k < 0 for k in sizes):
        raise ValueError(f"random_split: lengths must be non-negative (got {list(lengths)})")
    if sum(sizes) != n:
        raise ValueError(f"Sum of input lengths does not equal the length of the input dataset!"
                         f" (lengths {list(lengths)} sum to {sum(sizes)}, the dataset has {n})")
    perm = randperm(n, generator=generator if generator is not None
                    else _random.default_generator).tolist()
    return [Subset(dataset, perm[end - k:end]) for end, k in zip(accumulate(sizes), sizes)]
