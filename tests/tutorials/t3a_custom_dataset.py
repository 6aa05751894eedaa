# Custom datasets: dict samples, Subset splits, collate_fn, drop_last, TensorDataset, ConcatDataset.
import numpy as np
import torch
from torch.utils.data import (ConcatDataset, DataLoader, Dataset, Subset, TensorDataset,
                              default_collate)

rng = np.random.default_rng(3)


def show(e):
    """An exception's type and the first line of its message, up to any added detail."""
    print(type(e).__name__ + ":", str(e).splitlines()[0].split(" (")[0])


class FaceLandmarksDataset(Dataset):
    """Dict samples: an image, its landmarks, a name and an index."""

    def __init__(self, n, transform=None):
        self.images = rng.random((n, 3, 8, 8)).astype(np.float32)
        self.landmarks = rng.normal(size=(n, 4, 2))
        self.names = [f"face_{i:03d}.jpg" for i in range(n)]
        self.transform = transform

    def __len__(self):
        return len(self.names)

    def __getitem__(self, idx):
        if torch.is_tensor(idx):
            idx = idx.tolist()
        sample = {"image": torch.from_numpy(self.images[idx]),
                  "landmarks": self.landmarks[idx].astype("float"),
                  "name": self.names[idx], "idx": idx}
        if self.transform:
            sample = self.transform(sample)
        return sample


class ToTensor:
    def __call__(self, sample):
        out = dict(sample)
        out["landmarks"] = torch.from_numpy(sample["landmarks"])
        return out


ds = FaceLandmarksDataset(23)
print(len(ds))
s = ds[4]
print(sorted(s), s["image"].shape, s["image"].dtype, type(s["landmarks"]).__name__,
      s["landmarks"].dtype, s["name"], s["idx"])
print(ds[torch.tensor(5)]["idx"])

loader = DataLoader(ds, batch_size=5)
batch = next(iter(loader))
print(type(batch).__name__, sorted(batch))
print(batch["image"].shape, batch["image"].dtype)
print(batch["landmarks"].shape, batch["landmarks"].dtype)
print(batch["name"])
print(batch["idx"], batch["idx"].dtype)
print(len(loader), [len(b["name"]) for b in loader])

# fixed split in place of random_split(..., generator=torch.Generator().manual_seed(42))
perm = np.random.default_rng(42).permutation(len(ds)).tolist()
train_set, val_set = Subset(ds, perm[:18]), Subset(ds, perm[18:])
print(len(train_set), len(val_set), val_set.indices, val_set[0]["idx"], val_set[0]["name"])
print(type(train_set.dataset).__name__)

t_ds = FaceLandmarksDataset(12, transform=ToTensor())
dl = DataLoader(t_ds, batch_size=5, drop_last=True)
print(len(dl))
for i_batch, sample_batched in enumerate(dl):
    print(i_batch, sample_batched["image"].size(), sample_batched["landmarks"].size(),
          sample_batched["landmarks"].dtype, sample_batched["idx"].tolist())


class PairDataset(Dataset):
    """Tuples of variable-length sequences and int labels."""

    def __init__(self, n):
        self.lengths = [int(v) for v in rng.integers(2, 6, n)]
        self.seqs = [rng.normal(size=k).astype(np.float32) for k in self.lengths]
        self.labels = [int(v) for v in rng.integers(0, 3, n)]

    def __len__(self):
        return len(self.labels)

    def __getitem__(self, i):
        return torch.tensor(self.seqs[i]), self.labels[i]


def pad_collate(batch):
    seqs, labels = zip(*batch)
    lengths = torch.tensor([len(s) for s in seqs])
    out = torch.zeros(len(seqs), int(lengths.max()))
    for i, s in enumerate(seqs):
        out[i, :len(s)] = s
    return out, lengths, torch.tensor(labels)


pairs = PairDataset(9)
print(pairs[0][0].dtype, type(pairs[0][1]).__name__)
pl = DataLoader(pairs, batch_size=4, collate_fn=pad_collate)
for step, (x, lengths, labels) in enumerate(pl):
    print(step, x.shape, lengths, labels, x.sum(1))
x, lengths, labels = next(iter(pl))
print(x)

try:
    next(iter(DataLoader(pairs, batch_size=4)))
except RuntimeError as e:
    print(type(e).__name__, str(e).splitlines()[0][:38])

X = torch.tensor(rng.normal(size=(10, 3)), dtype=torch.float32)
Y = torch.arange(10)
tds = TensorDataset(X, Y)
print(len(tds), tds[2][1], tds[2][0].shape, len(tds.tensors))
more = TensorDataset(torch.ones(4, 3), torch.arange(100, 104))
both = ConcatDataset([tds, more])
print(len(both), both.cumulative_sizes, both[9][1], both[10][1], both[-1][1])
cl = DataLoader(both, batch_size=6)
for xb, yb in cl:
    print(xb.shape, yb.tolist(), xb.sum().item() > -100)
print(len(cl), len(DataLoader(both, batch_size=6, drop_last=True)))

# a custom collate that keeps the default for part of the batch
def collate_with_meta(batch):
    xs = default_collate([b[0] for b in batch])
    return {"x": xs, "y": torch.stack([b[1] for b in batch]), "n": len(batch)}

b = next(iter(DataLoader(tds, batch_size=3, collate_fn=collate_with_meta)))
print(b["x"].shape, b["y"], b["n"])
print(default_collate([1, 2, 3]), default_collate([1.5, 2.5]).dtype)
print(default_collate([(1, "a"), (2, "b")]))
print(default_collate([np.array([1.0, 2.0]), np.array([3.0, 4.0])]))
print(default_collate([{"a": 1, "b": torch.ones(2)}, {"a": 2, "b": torch.zeros(2)}]))

# an IterableDataset-free generator view, and a list as a dataset
lst = [torch.full((2,), float(i)) for i in range(5)]
print(next(iter(DataLoader(lst, batch_size=2))), len(DataLoader(lst, batch_size=2)))
print(next(iter(DataLoader(list(range(7)), batch_size=3))))

from torch.utils.data import random_split

parts = random_split(ds, [0.7, 0.3], generator=torch.Generator().manual_seed(42))
print([len(p) for p in parts], type(parts[0]).__name__, sorted(parts[0].indices + parts[1].indices) == list(range(23)))
print([len(p) for p in random_split(range(10), [3, 3, 4])])
try:
    random_split(ds, [10, 10])
except ValueError as e:
    show(e)
try:
    ds[100]
except IndexError as e:
    show(e)
try:
    tds[10]
except IndexError as e:
    show(e)
try:
    TensorDataset(torch.ones(3), torch.ones(4))
except AssertionError as e:
    show(e)
print(len(Subset(tds, [1, 3])), Subset(tds, [1, 3])[1][1], Subset(tds, range(4))[3][1])
print(tds[[0, 2]][1], tds[1:3][1], both[3][0].shape)
