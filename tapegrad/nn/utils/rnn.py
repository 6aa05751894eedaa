"""nn.utils.rnn: variable-length sequences for the recurrent layers, as torch.nn.utils.rnn.

A PackedSequence holds the time steps of a batch of sequences sorted by decreasing length,
step after step: `data` has the batch_sizes[0] first elements, then the batch_sizes[1]
second elements, ... Packing, padding and their inverses are each one cat and one index
record (the positions are computed in NumPy), so gradients flow through them.

nn.RNN, nn.LSTM and nn.GRU accept a PackedSequence: they run the padded batch, each
sample's state held once its sequence has ended, and return the output packed the same
way (`_run_packed`).
"""

from collections import namedtuple

import numpy as np

from ... import dtypes
from ...creation import full
from ...movement import cat
from ...recorder import check_tensor
from ...selection import where
from ...tensor import Tensor, _from_array

__all__ = ["PackedSequence", "pad_sequence", "pack_padded_sequence", "pad_packed_sequence",
           "pack_sequence", "unpad_sequence", "unpack_sequence"]


def _long(v) -> Tensor:
    return _from_array(np.ascontiguousarray(v, dtype=np.int64), dtypes.int64, False)


def _ints(v) -> np.ndarray:
    """A tensor, list or array of lengths/indices as a NumPy int64 array."""
    return np.asarray(v._value() if isinstance(v, Tensor) else v).astype(np.int64).reshape(-1)


def _invert(perm: Tensor | None) -> Tensor | None:
    if perm is None:
        return None
    p = _ints(perm)
    inv = np.empty_like(p)
    inv[p] = np.arange(p.size)
    return _long(inv)


_Fields = namedtuple("PackedSequence_", ["data", "batch_sizes", "sorted_indices",
                                         "unsorted_indices"])


class PackedSequence(_Fields):
    """A packed batch of variable-length sequences (a namedtuple of data, batch_sizes,
    sorted_indices, unsorted_indices); made by pack_padded_sequence or pack_sequence.
    sorted_indices is the batch order of the packing (None: the given order);
    unsorted_indices, its inverse, is computed when not given."""

    def __new__(cls, data: Tensor | tuple, batch_sizes: Tensor | None = None,
                sorted_indices: Tensor | None = None,
                unsorted_indices: Tensor | None = None) -> "PackedSequence":
        if unsorted_indices is None:
            unsorted_indices = _invert(sorted_indices)
        if batch_sizes is None:
            if not (isinstance(data, (list, tuple)) and len(data) == 2):
                raise TypeError("PackedSequence: expected (data, batch_sizes) or a data "
                                "tensor and batch_sizes")
            data, batch_sizes = data
        if not isinstance(batch_sizes, Tensor):
            batch_sizes = _long(_ints(batch_sizes))
        return super().__new__(cls, data, batch_sizes, sorted_indices, unsorted_indices)

    def to(self, *args: object, **kwargs: object) -> "PackedSequence":
        """The sequence with data.to(*args, **kwargs) (self when data is unchanged)."""
        data = self.data.to(*args, **kwargs)
        return self if data is self.data else type(self)(data, self.batch_sizes,
                                                          self.sorted_indices,
                                                          self.unsorted_indices)

    def cpu(self) -> "PackedSequence":
        """self (the CPU is the only device)."""
        return self

    def double(self) -> "PackedSequence":
        """data as float64."""
        return self.to(dtypes.float64)

    def float(self) -> "PackedSequence":
        """data as float32."""
        return self.to(dtypes.float32)

    def long(self) -> "PackedSequence":
        """data as int64."""
        return self.to(dtypes.int64)

    def int(self) -> "PackedSequence":
        """data as int32."""
        return self.to(dtypes.int32)

    @property
    def is_cuda(self) -> bool:
        """False: tapegrad runs on the CPU."""
        return False

    def is_pinned(self) -> bool:
        """False: no pinned memory in tapegrad."""
        return False


def _pack_positions(lengths: np.ndarray, order: np.ndarray, t: int, batch_first: bool):
    """(positions, batch_sizes): the flat (time, batch) positions, in a padded batch of
    max length t, of the packed elements of the samples taken in `order` (sorted by
    decreasing length)."""
    ls = lengths[order]
    steps = np.arange(int(ls[0]) if ls.size else 0)
    bs = (ls[None, :] > steps[:, None]).sum(1)
    nb = lengths.size
    tt = np.repeat(steps, bs)
    bb = order[np.concatenate([np.arange(k) for k in bs]).astype(np.int64)] if bs.size \
        else np.zeros(0, np.int64)
    return (bb * t + tt if batch_first else tt * nb + bb), bs


def _trail(t: Tensor) -> tuple:
    return tuple(t._shape[1:])


def _with_pad_row(rows: Tensor, value: float) -> Tensor:
    """rows (n, *) with one more row of `value` at the end."""
    pad = full((1,) + _trail(rows), value, dtype=rows._dtype)
    return cat([rows, pad], 0)


def pad_sequence(sequences: list[Tensor] | Tensor, batch_first: bool = False,
                 padding_value: float = 0.0, padding_side: str = "right") -> Tensor:
    """Stack sequences of shape (L_i, *) into (T, B, *) ((B, T, *) when batch_first), T
    the longest length, filled with padding_value on the right (or the left)."""
    if padding_side not in ("left", "right"):
        raise RuntimeError(f"Expected padding_side to be one of left or right, but got "
                           f"{padding_side}.")
    seqs = list(sequences)
    if not seqs:
        raise RuntimeError("received an empty list of sequences")
    for s in seqs:
        check_tensor(s, "pad_sequence", "sequences")
        if s.ndim == 0:
            raise RuntimeError("pad_sequence: the sequences must have at least one dim (a "
                               "length), got a 0-d tensor")
    tr, dt = _trail(seqs[0]), seqs[0]._dtype
    for s in seqs[1:]:
        if _trail(s) != tr:
            raise RuntimeError(f"pad_sequence: every sequence must have the trailing shape "
                               f"{list(tr)} of the first, got {list(s._shape)}")
    seqs = [s if s._dtype is dt else s.to(dt) for s in seqs]
    lens = np.array([s._shape[0] for s in seqs], np.int64)
    t = int(lens.max())
    start = np.concatenate([[0], np.cumsum(lens)[:-1]])
    step = np.arange(t)[:, None]                                    # (T, 1)
    k = step - (t - lens[None, :]) if padding_side == "left" else step + 0 * lens[None, :]
    inside = (k >= 0) & (k < lens[None, :])
    pos = np.where(inside, start[None, :] + k, lens.sum())          # (T, B); pad: the last row
    if batch_first:
        pos = pos.T
    rows = _with_pad_row(cat(seqs, 0), padding_value)
    return rows[_long(pos)]


def pack_padded_sequence(input: Tensor, lengths: Tensor | list[int], batch_first: bool = False,
                         enforce_sorted: bool = True) -> PackedSequence:
    """Pack a padded batch (T, B, *) ((B, T, *) when batch_first) of sequences of the given
    lengths. enforce_sorted: the lengths must be decreasing; otherwise the batch is sorted
    (stably) and the order kept in sorted_indices."""
    check_tensor(input, "pack_padded_sequence")
    if input.ndim < 2:
        raise RuntimeError(f"pack_padded_sequence: expected a padded batch of 2 or more dims, "
                           f"got shape {list(input._shape)}")
    lens = _ints(lengths)
    nb, t = input._shape[:2] if batch_first else input._shape[1::-1]
    if lens.size != nb:
        raise RuntimeError(f"Expected `len(lengths)` to be equal to batch_size, but got "
                           f"{lens.size} (batch_size={nb})")
    if enforce_sorted:
        if (np.diff(lens) > 0).any():
            raise RuntimeError("`lengths` array must be sorted in decreasing order when "
                               "`enforce_sorted` is True. You can pass `enforce_sorted=False` "
                               "to pack_padded_sequence and/or pack_sequence to sidestep this "
                               "requirement if you do not need ONNX exportability.")
        order, sorted_indices = np.arange(nb), None
    else:
        order = np.argsort(-lens, kind="stable")
        sorted_indices = _long(order)
    if lens.size and lens.min() <= 0:
        raise RuntimeError("Length of all samples has to be greater than 0, but found an "
                           "element in 'lengths' that is <= 0")
    if lens.size and lens.max() > t:
        raise RuntimeError(f"pack_padded_sequence: a length ({int(lens.max())}) exceeds the "
                           f"padded length {t} of input {list(input._shape)}")
    pos, bs = _pack_positions(lens, order, t, batch_first)
    data = input.reshape((nb * t,) + tuple(input._shape[2:]))[_long(pos)]
    return PackedSequence(data, _long(bs), sorted_indices, None)


def _lengths(packed: PackedSequence) -> tuple:
    """(lengths in the given batch order, the packing order) of a PackedSequence."""
    bs = _ints(packed.batch_sizes)
    nb = int(bs[0]) if bs.size else 0
    sorted_lens = (bs[None, :] > np.arange(nb)[:, None]).sum(1)
    order = np.arange(nb) if packed.sorted_indices is None else _ints(packed.sorted_indices)
    lens = np.empty(nb, np.int64)
    lens[order] = sorted_lens
    return lens, order


def pad_packed_sequence(sequence: PackedSequence, batch_first: bool = False,
                        padding_value: float = 0.0,
                        total_length: int | None = None) -> tuple[Tensor, Tensor]:
    """The inverse of pack_padded_sequence: (padded batch (T, B, *) or (B, T, *) in the
    original batch order, int64 lengths). total_length pads to that length."""
    lens, order = _lengths(sequence)
    t = int(lens.max()) if lens.size else 0
    if total_length is not None:
        if total_length < t:
            raise ValueError(f"Expected total_length to be at least the length of the longest "
                             f"sequence in input, but got total_length={total_length} and max "
                             f"sequence length being {t}")
        t = int(total_length)
    pos, _ = _pack_positions(lens, order, t, batch_first)
    data = sequence.data
    nb = lens.size
    src = np.full(nb * t, data._shape[0], np.int64)                 # padding: the extra row
    src[pos] = np.arange(pos.size)
    shape = (nb, t) if batch_first else (t, nb)
    out = _with_pad_row(data, padding_value)[_long(src.reshape(shape))]
    return out, _long(lens)


def pack_sequence(sequences: list[Tensor], enforce_sorted: bool = True) -> PackedSequence:
    """Pack a list of sequences (L_i, *) (decreasing lengths unless enforce_sorted=False)."""
    lengths = [s.size(0) for s in sequences]
    return pack_padded_sequence(pad_sequence(sequences), lengths, enforce_sorted=enforce_sorted)


def unpad_sequence(padded_sequences: Tensor, lengths: Tensor | list[int],
                   batch_first: bool = False) -> list[Tensor]:
    """The list of sequences of a padded batch, each cut to its length."""
    x = padded_sequences if batch_first else padded_sequences.transpose(0, 1)
    return [x[i, :int(n)] for i, n in enumerate(_ints(lengths))]


def unpack_sequence(packed_sequences: PackedSequence) -> list[Tensor]:
    """The list of sequences of a PackedSequence, in the original batch order."""
    padded, lengths = pad_packed_sequence(packed_sequences, batch_first=True)
    return unpad_sequence(padded, lengths, batch_first=True)


# ---- the recurrent layers on a packed input -------------------------------------------
def _hold(new, old, lengths: np.ndarray, t: int):
    """The state after step t: `new` for the samples whose sequence reaches step t, `old`
    (unchanged) for the others; new and old a tensor or a tuple of tensors."""
    live = lengths > t
    if live.all():
        return new
    m = _from_array(live[:, None], dtypes.bool_, False)
    if isinstance(new, tuple):
        return tuple(where(m, a, b) for a, b in zip(new, old))
    return where(m, new, old)


def _run_packed(module, packed: PackedSequence, hx) -> tuple:
    """(packed output, final states) of an RNNBase module on a PackedSequence: the padded
    batch runs in its original order (the final states come back in that order, as
    PyTorch's), each sample's state held after its last step."""
    bf = module.batch_first
    padded, lens = pad_packed_sequence(packed, batch_first=bf)
    out, states = module._run(padded, hx, _ints(lens))
    lv, order = _lengths(packed)
    t = padded._shape[1] if bf else padded._shape[0]
    pos, _ = _pack_positions(lv, order, t, bf)
    data = out.reshape((-1,) + tuple(out._shape[2:]))[_long(pos)]
    return PackedSequence(data, packed.batch_sizes, packed.sorted_indices,
                          packed.unsorted_indices), states
