# Basic and advanced indexing, index/scatter ops and gradients through indexing.
import numpy as np
import torch


def show(e):
    """An exception's type and the first line of its message, up to any added detail."""
    print(type(e).__name__ + ":", str(e).splitlines()[0].split(" (")[0])


x = torch.arange(24.0).reshape(4, 6)
print("---- basic")
print(x[:, 1], x[1], x[1, 2], x[1][2], x[-1, -1].item())
print(x[..., -1], x[..., 0].shape, x[None].shape, x[:, None].shape, x[..., None].shape)
print(x[1:3], x[:, ::2], x[::3, 1:5:2], x[-2:, :-4])
print(x[0, :], x[0, :].shape, x[0:1, :].shape, x[2:2].shape, x[10:].shape)
try:
    x[:, ::-1]
except ValueError as e:
    show(e)
print(x.flip(1)[0], x[[0, 2]].shape)
try:
    x[4]
except IndexError as e:
    show(e)
try:
    x[0, 1, 2]
except IndexError as e:
    show(e)
v = x[1]
v[0] = -1.0
print(x[1, :3], v.data_ptr() == x[1].data_ptr())

print("---- masks")
mask = x > 15
print(mask.dtype, mask.sum(), x[mask])
print(x[x % 5 == 0], x[:, x[0] > 2].shape)
row_mask = torch.tensor([True, False, True, False])
print(x[row_mask], x[row_mask, 1:3])
y = x.clone()
y[y > 20] = 0
print(y[3])
y[mask] += 1
print(y[2:], y.sum())
y[~mask] = -y[~mask]
print(y[0])
try:
    x[torch.tensor([True, False])]
except IndexError as e:
    show(e)

print("---- integer indices")
idx = torch.tensor([0, 2, 2])
print(x[idx].shape, x[idx, 0], x[[0, 1], [1, 2]], x[[3, -1]])
print(x[idx][:, [0, -1]], x[torch.tensor([[0, 1], [2, 3]])].shape)
print(x[[0, 3]][:, [1, 4]], x[torch.tensor([1, 2]), torch.tensor([4, 5])])
print(x[1:, [0, 5]], x[[1, 2], 1:3], x[idx, None].shape)
rows = torch.arange(4)
cols = torch.tensor([5, 4, 3, 2])
print(x[rows, cols])
try:
    x[torch.tensor([0, 9])]
except IndexError as e:
    show(e)
try:
    x[torch.tensor([0.0, 1.0])]
except IndexError as e:
    show(e)
z = torch.zeros(5)
z[torch.tensor([1, 3])] = torch.tensor([10.0, 30.0])
z[[0, 4]] = 7
z[2] = z[1] + 1
print(z)
z[z > 8] -= 100
print(z, z.dtype)
q = torch.zeros(3, 4, dtype=torch.long)
q[1] = torch.tensor([1, 2, 3, 4])
q[:, 2] = 9
q[0, [0, 3]] = torch.tensor([5, 6])
print(q)
acc = torch.zeros(4)
acc[torch.tensor([0, 0, 1])] += 1  # repeated indices: the last write wins, not a sum
print(acc)
acc.index_put_((torch.tensor([0, 0, 2]),), torch.tensor([1.0, 2.0, 3.0]), accumulate=True)
print(acc)

print("---- index_select, gather, scatter, take")
print(torch.index_select(x, 0, torch.tensor([3, 0])), x.index_select(1, torch.tensor([1, 1])).shape)
g_idx = torch.tensor([[0, 0], [1, 0], [5, 2], [3, 3]])
print(torch.gather(x, 1, g_idx), x.gather(0, torch.tensor([[0, 1, 2, 3, 0, 1]])))
labels = torch.tensor([2, 0, 1])
logits = torch.tensor([[0.1, 0.2, 0.7], [0.5, 0.3, 0.2], [0.3, 0.4, 0.3]])
print(logits.gather(1, labels.unsqueeze(1)).squeeze(1))
one_hot = torch.zeros(3, 4).scatter_(1, labels.unsqueeze(1), 1.0)
print(one_hot)
print(torch.zeros(3, 5).scatter_(1, torch.tensor([[0, 1], [2, 3], [4, 0]]), torch.ones(3, 2) * 2))
bins = torch.zeros(4).scatter_add_(0, torch.tensor([0, 1, 1, 3, 3, 3]), torch.ones(6))
print(bins,
      torch.zeros(2, 3).scatter_add(1, torch.tensor([[0, 0], [2, 1]]),
                                    torch.tensor([[1.0, 2.0], [3.0, 4.0]])))
print(torch.zeros(4).scatter(0, torch.tensor([1, 2]), 5.0),
      torch.bincount(torch.tensor([0, 1, 1, 3, 3, 3])))
print(torch.take(x, torch.tensor([0, 7, 23])), x.take(torch.tensor([[1, 2], [3, 4]])))
t = torch.zeros(3, 2)
t.index_add_(0, torch.tensor([0, 2, 0]), torch.tensor([[1.0, 1.0], [2.0, 2.0], [3.0, 3.0]]))
print(t, torch.ones(2).index_add(0, torch.tensor([1, 1]), torch.tensor([5.0, 6.0]), alpha=2))
print(torch.masked_select(x, x > 20),
      x.masked_select(torch.tensor([True, False, True, False, True, False])))
print(x.narrow(1, 2, 3)[0], x.narrow(0, 1, 2).shape)
try:
    torch.gather(x, 1, torch.tensor([[0.0]]))
except RuntimeError as e:
    show(e)

print("---- gradients through indexing")
w = torch.tensor([1.0, 2.0, 3.0, 4.0], requires_grad=True)
sel = w[torch.tensor([0, 2, 2, 3, 3, 3])]
loss = (sel ** 2).sum()
loss.backward()
print(sel.grad_fn.name(), loss, w.grad)
w.grad = None
(w[[1, 1]] * torch.tensor([10.0, 20.0])).sum().backward()
print(w.grad)
w.grad.zero_()
(w[w > 2] * 3).sum().backward()
print(w.grad, w[w > 2].grad_fn.name())
A = torch.tensor(np.arange(12.0).reshape(3, 4) / 10, requires_grad=True)
out = A[1:, ::2].sum() + A[:, -1].pow(2).sum() + A[0, 0] * 5
out.backward()
print(A.grad)
A.grad = None
B = A.gather(1, torch.tensor([[0], [3], [3]]))
B.sum().backward()
print(B.grad_fn.name(), A.grad)
A.grad = None
C = torch.zeros(3, 4, dtype=torch.float64).scatter(1, torch.tensor([[1], [2], [0]]), A[:, :1])
(C * torch.arange(12.0, dtype=torch.float64).view(3, 4)).sum().backward()
print(C.grad_fn.name(), A.grad)
A.grad = None
D = A.index_select(0, torch.tensor([2, 2, 0])).sum(0)
D.backward(torch.tensor([1.0, 2.0, 3.0, 4.0], dtype=torch.float64))
print(D.grad_fn.name(), A.grad)
A.grad = None
E = A.clone()
E[0] = 0.0
E[:, 1] = E[:, 1] * 2
E.sum().backward()
print(E.grad_fn.name(), A.grad)
A.grad = None
F = A.masked_fill(A > 0.5, 0.0).sum() + torch.take(A, torch.tensor([0, 0, 11])).sum()
F.backward()
print(A.grad)
emb = torch.tensor([[0.1, 0.2], [0.3, 0.4], [0.5, 0.6]], requires_grad=True)
tokens = torch.tensor([[0, 2, 2], [1, 1, 0]])
vecs = emb[tokens]
print(vecs.shape, vecs.grad_fn.name())
vecs.mean(dim=1).pow(2).sum().backward()
print(emb.grad)
