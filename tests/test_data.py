"""tapegrad.utils.data: datasets, random_split, samplers, default_collate, DataLoader (its
options, errors, reproducible shuffling, and the TensorDataset fast path)."""

import collections
import warnings

import numpy as np
import pytest

import tapegrad as torch
from tapegrad.utils.data import (BatchSampler, ConcatDataset, DataLoader, Dataset,
                                 IterableDataset, RandomSampler, Sampler, SequentialSampler,
                                 Subset, SubsetRandomSampler, TensorDataset,
                                 WeightedRandomSampler, default_collate, default_convert,
                                 get_worker_info, random_split)


class Squares(Dataset):
    def __init__(self, n):
        self.n = n

    def __len__(self):
        return self.n

    def __getitem__(self, i):
        if not 0 <= i < self.n:
            raise IndexError(i)
        return {"x": float(i), "y": i * i}


class Stream(IterableDataset):
    def __init__(self, n):
        self.n = n

    def __iter__(self):
        return iter(range(self.n))

    def __len__(self):
        return self.n


def _xy(n=10):
    return torch.arange(2.0 * n).reshape(n, 2), torch.arange(n)


def _lists(loader):
    return [[t.tolist() for t in b] for b in loader]


# ---- datasets -------------------------------------------------------------------------
def test_tensor_dataset():
    x, y = _xy()
    ds = TensorDataset(x, y)
    assert len(ds) == 10 and ds.tensors == (x, y)
    xi, yi = ds[3]
    assert xi.tolist() == [6.0, 7.0] and yi.item() == 3
    with pytest.raises(AssertionError, match="Size mismatch between tensors"):
        TensorDataset(torch.zeros(3), torch.zeros(4))
    with pytest.raises(TypeError, match="must be a Tensor"):
        TensorDataset(np.zeros(3))


def test_concat_and_subset():
    a, b = Squares(3), Squares(2)
    c = a + b
    assert isinstance(c, ConcatDataset) and len(c) == 5 and c.cumulative_sizes == [3, 5]
    assert [c[i]["y"] for i in range(5)] == [0, 1, 4, 0, 1]
    assert c[-1]["y"] == 1 and c[-5]["y"] == 0
    with pytest.raises(ValueError, match="absolute value of index"):
        c[-6]
    with pytest.raises(IndexError):
        c[5]
    with pytest.raises(AssertionError, match="empty iterable"):
        ConcatDataset([])
    with pytest.raises(AssertionError, match="IterableDataset"):
        ConcatDataset([a, Stream(2)])
    s = Subset(a, [2, 0])
    assert len(s) == 2 and s[0]["y"] == 4 and s[1]["y"] == 0
    assert [d["y"] for d in s.__getitems__([1, 0])] == [0, 4]
    with pytest.raises(NotImplementedError):
        Dataset()[0]


def test_random_split_lengths_and_fractions():
    ds = Squares(10)
    parts = random_split(ds, [3, 7], generator=torch.Generator().manual_seed(0))
    assert [len(p) for p in parts] == [3, 7]
    assert sorted(parts[0].indices + parts[1].indices) == list(range(10))
    again = random_split(ds, [3, 7], generator=torch.Generator().manual_seed(0))
    assert again[0].indices == parts[0].indices
    # fractions: floor of each, the remainder handed out one by one from the first split
    assert [len(p) for p in random_split(ds, [0.33, 0.33, 0.34])] == [4, 3, 3]
    assert [len(p) for p in random_split(Squares(11), [0.5, 0.5])] == [6, 5]
    torch.manual_seed(3)
    a = random_split(ds, [0.5, 0.5])[0].indices
    torch.manual_seed(3)
    assert random_split(ds, [0.5, 0.5])[0].indices == a
    with warnings.catch_warnings(record=True) as w:
        warnings.simplefilter("always")
        assert [len(p) for p in random_split(Squares(2), [0.0, 1.0])] == [0, 2]
    assert any("Length of split at index 0 is 0" in str(x.message) for x in w)
    with pytest.raises(ValueError, match="Sum of input lengths does not equal"):
        random_split(ds, [3, 3])
    with pytest.raises(ValueError, match="Fraction at index 0 is not between 0 and 1"):
        random_split(ds, [1.5, -0.5])


# ---- collate ---------------------------------------------------------------------------
def test_default_collate_rules():
    out = default_collate([(1, 2.0), (3, 4.0)])
    assert type(out) is list
    assert out[0].dtype == torch.int64 and out[0].tolist() == [1, 3]
    assert out[1].dtype == torch.float64 and out[1].tolist() == [2.0, 4.0]
    d = default_collate([{"a": 1, "b": [1, 2]}, {"a": 2, "b": [3, 4]}])
    assert d["a"].tolist() == [1, 2] and [t.tolist() for t in d["b"]] == [[1, 3], [2, 4]]
    assert type(d["b"]) is list
    assert default_collate([True, False]).dtype == torch.bool
    f = default_collate([np.float32(1), np.float32(2)])
    assert f.dtype == torch.float32 and f.tolist() == [1.0, 2.0]
    arr = default_collate([np.zeros(2), np.ones(2)])
    assert arr.dtype == torch.float64 and arr.tolist() == [[0.0, 0.0], [1.0, 1.0]]
    assert default_collate(["a", "b"]) == ["a", "b"]
    t = default_collate([torch.tensor([1.0, 2.0]), torch.tensor([3.0, 4.0])])
    assert t.shape == (2, 2) and t.tolist() == [[1.0, 2.0], [3.0, 4.0]]
    Point = collections.namedtuple("Point", "x y")
    p = default_collate([Point(1, 2.0), Point(3, 4.0)])
    assert type(p) is Point and p.x.tolist() == [1, 3]
    od = default_collate([collections.OrderedDict(k=1), collections.OrderedDict(k=2)])
    assert type(od) is collections.OrderedDict
    with pytest.raises(TypeError, match="default_collate: batch must contain tensors"):
        default_collate([object()])
    with pytest.raises(TypeError, match="found <U1"):
        default_collate([np.array(["a"])])
    with pytest.raises(RuntimeError, match="each element in list of batch should be of equal"):
        default_collate([[1, 2], [3]])


def test_collate_keeps_gradients():
    w = torch.tensor([1.0, 2.0], requires_grad=True)
    batch = default_collate([w * 2, w * 3])
    assert batch.requires_grad
    batch.sum().backward()
    assert w.grad.tolist() == [5.0, 5.0]


def test_default_convert():
    c = default_convert((np.arange(3), 1, "s"))
    assert type(c) is list and isinstance(c[0], torch.Tensor) and c[1:] == [1, "s"]
    assert default_convert({"a": np.float64(2.0)})["a"].dtype == torch.float64


# ---- samplers --------------------------------------------------------------------------
def test_samplers():
    ds = Squares(7)
    assert list(SequentialSampler(ds)) == list(range(7)) and len(SequentialSampler(ds)) == 7
    g = torch.Generator().manual_seed(1)
    order = list(RandomSampler(ds, generator=g))
    assert sorted(order) == list(range(7))
    g.manual_seed(1)
    assert list(RandomSampler(ds, generator=g)) == order
    rep = list(RandomSampler(ds, replacement=True, num_samples=50))
    assert len(rep) == 50 and set(rep) <= set(range(7))
    more = list(RandomSampler(ds, num_samples=10))  # whole permutations, then part of one
    assert len(more) == 10 and sorted(more[:7]) == list(range(7))
    sub = list(SubsetRandomSampler([5, 1, 3], generator=g))
    assert sorted(sub) == [1, 3, 5]
    w = list(WeightedRandomSampler([0.0, 1.0, 0.0, 3.0], 200, generator=g))
    assert set(w) == {1, 3} and len(WeightedRandomSampler([1.0], 5)) == 5
    assert list(WeightedRandomSampler([1, 1, 1], 3, replacement=False)) != [] and \
        sorted(WeightedRandomSampler([1, 1, 1], 3, replacement=False)) == [0, 1, 2]
    bs = BatchSampler(SequentialSampler(ds), 3, drop_last=False)
    assert list(bs) == [[0, 1, 2], [3, 4, 5], [6]] and len(bs) == 3
    bs = BatchSampler(range(7), 3, drop_last=True)  # any iterable of indices
    assert list(bs) == [[0, 1, 2], [3, 4, 5]] and len(bs) == 2
    with pytest.raises(ValueError, match="batch_size should be a positive integer"):
        BatchSampler(range(3), 0, False)
    with pytest.raises(ValueError, match="drop_last should be a boolean"):
        BatchSampler(range(3), 2, 1)
    with pytest.raises(TypeError, match="replacement should be a boolean"):
        RandomSampler(ds, replacement=1)
    with pytest.raises(ValueError, match="num_samples should be a positive integer"):
        RandomSampler(ds, num_samples=0)


# ---- DataLoader ------------------------------------------------------------------------
def test_loader_batches_like_collate():
    x, y = _xy(10)
    loader = DataLoader(TensorDataset(x, y), batch_size=4)
    assert len(loader) == 3
    batches = list(loader)
    assert all(type(b) is list and len(b) == 2 for b in batches)
    assert [b[1].tolist() for b in batches] == [[0, 1, 2, 3], [4, 5, 6, 7], [8, 9]]
    assert batches[0][0].tolist() == x[:4].tolist() and batches[0][0].dtype == torch.float32
    assert len(DataLoader(TensorDataset(x, y), batch_size=4, drop_last=True)) == 2
    assert [b[1].tolist() for b in DataLoader(TensorDataset(x, y), batch_size=4,
                                              drop_last=True)] == [[0, 1, 2, 3], [4, 5, 6, 7]]
    d = list(DataLoader(Squares(5), batch_size=2))
    assert d[0]["x"].dtype == torch.float64 and d[2]["y"].tolist() == [16]
    one = list(DataLoader(Squares(3)))  # batch_size=1
    assert one[1]["y"].tolist() == [1]
    raw = list(DataLoader(Squares(3), batch_size=None))  # no auto-batching
    assert raw[2] == {"x": 2.0, "y": 4} and len(DataLoader(Squares(3), batch_size=None)) == 3


def test_fast_path_equals_general_path():
    """The TensorDataset fast path gives exactly the batches of row lookup + default_collate
    (a custom collate_fn forces the general path), shuffled or not, through Subsets."""
    x = torch.randn(53, 3, 2)
    y = torch.randint(0, 5, (53,))
    b = torch.rand(53) > 0.5
    ds = TensorDataset(x, y, b)
    slow = lambda batch: default_collate(batch)  # noqa: E731
    for kw in ({"batch_size": 8}, {"batch_size": 8, "drop_last": True},
               {"batch_size": 5, "shuffle": True}, {"batch_size": 64, "shuffle": True},
               {"sampler": SubsetRandomSampler(list(range(0, 53, 2))), "batch_size": 4},
               {"sampler": RandomSampler(ds, replacement=True, num_samples=30),
                "batch_size": 7}):
        for data in (ds, Subset(Subset(ds, list(range(40, 3, -1))), [0, 5, 2, 30, 31, 7])):
            if "sampler" in kw and data is not ds:
                continue
            runs = []
            for collate in (None, slow):
                torch.manual_seed(7)
                loader = DataLoader(data, collate_fn=collate, **kw)
                runs.append(_lists(loader))
            assert runs[0] == runs[1], kw
            assert runs[0] or (data is not ds and kw.get("drop_last"))
            fast = next(iter(DataLoader(data, **kw)), [x, y, b])
            assert [t.dtype for t in fast] == [torch.float32, torch.int64, torch.bool]


def test_fast_path_is_taken_only_when_it_reproduces_the_general_path():
    x, y = _xy(6)
    ds = TensorDataset(x, y)
    assert DataLoader(ds, batch_size=2)._fast_batches() is not None
    assert DataLoader(ds, batch_size=2, shuffle=True)._fast_batches() is not None
    assert DataLoader(Subset(ds, [1, 2]), batch_size=2)._fast_batches() is not None
    assert DataLoader(ds, batch_size=2, collate_fn=list)._fast_batches() is None
    assert DataLoader(ds, batch_size=2, sampler=[0, 1])._fast_batches() is None

    class Doubled(TensorDataset):
        def __getitem__(self, i):
            return tuple(t[i] * 2 for t in self.tensors)

    loader = DataLoader(Doubled(x, y), batch_size=3)
    assert loader._fast_batches() is None
    assert next(iter(loader))[1].tolist() == [0, 2, 4]


def test_fast_path_batches_are_copies_and_follow_writes():
    x, y = _xy(6)
    loader = DataLoader(TensorDataset(x, y), batch_size=3)
    first = next(iter(loader))
    first[0].add_(100)
    assert x[0].tolist() == [0.0, 1.0]  # a batch is its own memory
    with torch.no_grad():
        x.mul_(-1)  # the loader reads the tensors' current values
    assert next(iter(loader))[0][1].tolist() == [-2.0, -3.0]


def test_fast_path_skips_tensors_that_require_grad():
    w = torch.ones(4, 2, requires_grad=True)
    batch = next(iter(DataLoader(TensorDataset(w), batch_size=4)))[0]
    assert batch.requires_grad
    batch.sum().backward()
    assert w.grad.tolist() == [[1.0, 1.0]] * 4


def test_shuffle_is_reproducible():
    x, y = _xy(20)
    ds = TensorDataset(x, y)

    def order(**kw):
        return [b[1].tolist() for b in DataLoader(ds, batch_size=6, shuffle=True, **kw)]

    torch.manual_seed(0)
    a, a2 = order(), order()  # two epochs draw two orders
    torch.manual_seed(0)
    assert order() == a and order() == a2 and a != a2
    assert sorted(sum(a, [])) == list(range(20))
    g = torch.Generator().manual_seed(5)
    b = order(generator=g)
    g.manual_seed(5)
    torch.rand(3)  # the default stream moving changes nothing
    assert order(generator=g) == b
    assert order(generator=torch.Generator().manual_seed(5)) == b
    # the epoch's order is drawn at the first batch, not at iter()
    torch.manual_seed(1)
    it = iter(DataLoader(ds, batch_size=6, shuffle=True))
    torch.manual_seed(2)
    first = next(it)[1].tolist()
    torch.manual_seed(2)
    assert next(iter(DataLoader(ds, batch_size=6, shuffle=True)))[1].tolist() == first


def test_iterable_dataset():
    assert [b.tolist() for b in DataLoader(Stream(7), batch_size=3)] == [[0, 1, 2], [3, 4, 5],
                                                                          [6]]
    assert len(DataLoader(Stream(7), batch_size=3)) == 3
    assert len(DataLoader(Stream(7), batch_size=3, drop_last=True)) == 2
    assert [b.tolist() for b in DataLoader(Stream(7), batch_size=3, drop_last=True)] == \
        [[0, 1, 2], [3, 4, 5]]
    assert list(DataLoader(Stream(3), batch_size=None)) == [0, 1, 2]
    with pytest.raises(ValueError, match="expected unspecified shuffle option"):
        DataLoader(Stream(3), shuffle=True)
    with pytest.raises(ValueError, match="expected unspecified sampler option"):
        DataLoader(Stream(3), sampler=[0, 1])


def test_custom_samplers_and_collate():
    class Evens(Sampler):
        def __init__(self, n):
            self.n = n

        def __iter__(self):
            return iter(range(0, self.n, 2))

        def __len__(self):
            return (self.n + 1) // 2

    x, y = _xy(9)
    loader = DataLoader(TensorDataset(x, y), batch_size=2, sampler=Evens(9))
    assert [b[1].tolist() for b in loader] == [[0, 2], [4, 6], [8]] and len(loader) == 3
    loader = DataLoader(TensorDataset(x, y), batch_sampler=[[8, 0], [3]])
    assert [b[1].tolist() for b in loader] == [[8, 0], [3]]

    class Backwards(SequentialSampler):  # a subclass that changes the order
        def __iter__(self):
            return iter(range(len(self.data_source) - 1, -1, -1))

    loader = DataLoader(TensorDataset(x, y), batch_size=4, sampler=Backwards(x))
    assert [b[1].tolist() for b in loader] == [[8, 7, 6, 5], [4, 3, 2, 1], [0]]
    sums = list(DataLoader(TensorDataset(x, y), batch_size=3,
                           collate_fn=lambda b: sum(int(t[1]) for t in b)))
    assert sums == [3, 12, 21]


def test_loader_options_and_errors():
    ds = Squares(4)
    loader = DataLoader(ds, batch_size=2, num_workers=2, pin_memory=True, timeout=1,
                        prefetch_factor=2, persistent_workers=True)
    assert [b["y"].tolist() for b in loader] == [[0, 1], [4, 9]]  # in the main process
    assert get_worker_info() is None
    it = iter(loader)
    assert len(it) == 2 and iter(it) is it
    with pytest.raises(ValueError, match="num_workers option should be non-negative"):
        DataLoader(ds, num_workers=-1)
    with pytest.raises(ValueError, match="timeout option should be non-negative"):
        DataLoader(ds, timeout=-1)
    with pytest.raises(ValueError, match="prefetch_factor option could only be specified"):
        DataLoader(ds, prefetch_factor=2)
    with pytest.raises(ValueError, match="persistent_workers option needs num_workers > 0"):
        DataLoader(ds, persistent_workers=True)
    with pytest.raises(ValueError, match="sampler option is mutually exclusive with shuffle"):
        DataLoader(ds, sampler=SequentialSampler(ds), shuffle=True)
    with pytest.raises(ValueError, match="batch_sampler option is mutually exclusive"):
        DataLoader(ds, batch_sampler=[[0]], batch_size=2)
    with pytest.raises(ValueError, match="batch_size=None option disables auto-batching"):
        DataLoader(ds, batch_size=None, drop_last=True)
    with pytest.raises(ValueError, match="batch_size attribute should not be set after"):
        loader.batch_size = 3
    loader.num_workers = 0  # other attributes may change
    with pytest.raises(IndexError):
        list(DataLoader(ds, sampler=[7]))


@pytest.mark.torch
def test_matches_pytorch_dataloader():
    torch_ref = pytest.importorskip("torch")
    from torch.utils import data as ref

    xn = np.arange(22.0, dtype=np.float32).reshape(11, 2)
    yn = np.arange(11)
    samples = [(1, 2.0, "a", {"k": np.float32(3)}), (4, 5.0, "b", {"k": np.float32(6)})]
    ours, theirs = default_collate(samples), ref.default_collate(samples)
    assert type(ours) is type(theirs) and ours[2] == theirs[2]
    for o, t in zip(ours[:2] + [ours[3]["k"]], theirs[:2] + [theirs[3]["k"]]):
        assert o.tolist() == t.tolist() and str(o.dtype) == str(t.dtype)
    for kw in ({"batch_size": 4}, {"batch_size": 4, "drop_last": True}, {"batch_size": 20}):
        a = DataLoader(TensorDataset(torch.from_numpy(xn), torch.from_numpy(yn)), **kw)
        b = ref.DataLoader(ref.TensorDataset(torch_ref.from_numpy(xn),
                                             torch_ref.from_numpy(yn)), **kw)
        assert len(a) == len(b)
        assert _lists(a) == _lists(b)
    for lengths in ([0.33, 0.33, 0.34], [0.5, 0.5], [3, 8], [0.1, 0.2, 0.7]):
        assert [len(p) for p in random_split(Squares(11), lengths)] == \
            [len(p) for p in ref.random_split(list(range(11)), lengths)]
    assert len(ref.BatchSampler(range(7), 3, True)) == len(BatchSampler(range(7), 3, True))


def _bench(n=60_000, d=784, batch=256):
    """µs per batch over a float32 TensorDataset (the fast path), the general path, and
    PyTorch's DataLoader when installed: python tests/test_data.py"""
    import time

    rng = np.random.default_rng(0)
    xn, yn = rng.random((n, d), dtype=np.float32), rng.integers(0, 10, n)

    def per_batch(make, reps):
        best = float("inf")
        for _ in range(reps):
            t0, k = time.perf_counter(), 0
            for _batch in make():
                k += 1
            best = min(best, (time.perf_counter() - t0) / k)
        return best * 1e6

    ds = TensorDataset(torch.from_numpy(xn), torch.from_numpy(yn))
    for shuffle in (False, True):
        fast = per_batch(lambda: DataLoader(ds, batch_size=batch, shuffle=shuffle), 5)
        general = per_batch(lambda: DataLoader(ds, batch_size=batch, shuffle=shuffle,
                                               collate_fn=lambda b: default_collate(b)), 1)
        print(f"tapegrad shuffle={shuffle}: fast path {fast:7.1f} us/batch, general path "
              f"{general:7.1f} us/batch")
    try:
        import torch as torch_ref
    except ImportError:
        print("PyTorch is not installed")
        return
    from torch.utils import data as ref

    torch_ref.set_num_threads(1)
    tds = ref.TensorDataset(torch_ref.from_numpy(xn), torch_ref.from_numpy(yn))
    for shuffle in (False, True):
        t = per_batch(lambda: ref.DataLoader(tds, batch_size=batch, shuffle=shuffle), 3)
        print(f"PyTorch {torch_ref.__version__} shuffle={shuffle}: {t:7.1f} us/batch")


if __name__ == "__main__":
    _bench()
