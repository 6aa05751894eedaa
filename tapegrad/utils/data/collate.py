"""default_collate (a list of samples -> one batch) and default_convert (one sample ->
tensors), with PyTorch's rules for tensors, NumPy values, numbers, strings and containers."""

import copy
from typing import Any
from collections.abc import Mapping, MutableMapping, MutableSequence, Sequence

import numpy as np

from ... import dtypes
from ...creation import as_tensor, tensor
from ...movement import stack
from ...tensor import Tensor, _from_array

__all__ = ["default_collate", "default_convert"]

_ERR = ("default_collate: batch must contain tensors, numpy arrays, numbers, dicts or lists; "
        "found {}")


def _is_numpy(x):
    return type(x).__module__ == "numpy" and not isinstance(x, (np.str_, np.bytes_))


def _text_array(a):
    return a.dtype.kind in "SaUO"


def _stack(batch):
    """tapegrad.stack(batch); tensors of one shape and dtype that need no gradient are
    stacked by NumPy directly (the same values, without an op per tensor)."""
    e = batch[0]
    if all(isinstance(t, Tensor) and not t._rg and t._shape == e._shape and t._dtype is e._dtype
           for t in batch):
        return _from_array(np.stack([t._value() for t in batch]), e._dtype, False)
    return stack(list(batch), 0)


def default_collate(batch: list) -> Any:
    """Merge a list of samples into a batch:

    - tensors are stacked along a new dim 0 (`tapegrad.stack`);
    - NumPy arrays become tensors and are stacked; NumPy scalars become a 1-D tensor;
    - Python floats give a float64 tensor, ints an int64 tensor, bools a bool tensor;
    - strings and bytes are returned as given (the batch list, or the tuple of one
      position of transposed samples);
    - dicts are collated key by key, namedtuples field by field; a list of tuples or lists
      is transposed and each position collated, giving a *list* for tuples (so a
      TensorDataset batch is `[inputs, targets]`) and the sample's own sequence type
      otherwise. Samples of unequal lengths raise RuntimeError.
    """
    if not batch:
        raise IndexError("default_collate: the batch is empty")
    elem = batch[0]
    if isinstance(elem, Tensor):
        return _stack(batch)
    if _is_numpy(elem):
        if isinstance(elem, np.ndarray):
            if _text_array(elem):
                raise TypeError(_ERR.format(elem.dtype))
            return default_collate([as_tensor(b) for b in batch])
        if getattr(elem, "shape", None) == ():
            return as_tensor(np.array(batch))
    if isinstance(elem, float):
        return tensor(batch, dtype=dtypes.float64)
    if isinstance(elem, int):
        return tensor(batch)
    if isinstance(elem, (str, bytes)):
        return batch
    if isinstance(elem, Mapping):
        merged = {key: default_collate([d[key] for d in batch]) for key in elem}
        if isinstance(elem, MutableMapping):
            out = copy.copy(elem)
            out.update(merged)
            return out
        try:
            return type(elem)(merged)
        except TypeError:
            return merged
    if isinstance(elem, tuple) and hasattr(elem, "_fields"):  # namedtuple
        return type(elem)(*(default_collate(s) for s in zip(*batch)))
    if isinstance(elem, Sequence):
        n = len(elem)
        if any(len(b) != n for b in batch):
            raise RuntimeError("each element in list of batch should be of equal size (got "
                               f"lengths {sorted({len(b) for b in batch})})")
        columns = [default_collate(s) for s in zip(*batch)]  # strings stay a tuple
        if isinstance(elem, tuple):
            return columns
        if isinstance(elem, MutableSequence):
            out = copy.copy(elem)
            for i, c in enumerate(columns):
                out[i] = c
            return out
        try:
            return type(elem)(columns)
        except TypeError:
            return columns
    raise TypeError(_ERR.format(type(elem)))


def default_convert(data: Any) -> Any:
    """Turn NumPy arrays and scalars inside one sample into tensors (the DataLoader's
    conversion when automatic batching is off, `batch_size=None`); a tuple becomes a
    list, other values stay as they are."""
    if isinstance(data, Tensor):
        return data
    if _is_numpy(data):
        if isinstance(data, np.ndarray):
            return data if _text_array(data) else as_tensor(data)
        if getattr(data, "shape", None) == ():
            return as_tensor(np.asarray(data))
        return data
    if isinstance(data, Mapping):
        merged = {k: default_convert(v) for k, v in data.items()}
        if isinstance(data, MutableMapping):
            out = copy.copy(data)
            out.update(merged)
            return out
        try:
            return type(data)(merged)
        except TypeError:
            return merged
    if isinstance(data, tuple) and hasattr(data, "_fields"):
        return type(data)(*(default_convert(d) for d in data))
    if isinstance(data, tuple):
        return [default_convert(d) for d in data]
    if isinstance(data, Sequence) and not isinstance(data, (str, bytes)):
        items = [default_convert(d) for d in data]
        if isinstance(data, MutableSequence):
            out = copy.copy(data)
            for i, c in enumerate(items):
                out[i] = c
            return out
        try:
            return type(data)(items)
        except TypeError:
            return items
    return data
