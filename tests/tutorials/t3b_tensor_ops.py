# A tour of tensor manipulation, as the "Tensors" tutorial and StackOverflow answers write it.
import numpy as np
import torch


def show(e):
    """An exception's type and the first line of its message, up to any added detail."""
    print(type(e).__name__ + ":", str(e).splitlines()[0].split(" (")[0])


print("---- creation")
a = torch.arange(6)
print(a, a.dtype, a.shape)
print(torch.arange(1, 10, 2), torch.arange(0, 1, 0.25))
print(torch.arange(5.0), torch.arange(2, 8).dtype)
print(torch.linspace(0, 1, 5))
print(torch.linspace(-1, 1, steps=4, dtype=torch.float64))
z = torch.zeros_like(torch.ones(2, 3))
print(z, z.dtype)
print(torch.ones_like(a), torch.full((2, 2), 7), torch.full((2,), 1.5))
print(torch.full((2, 3), True), torch.eye(3), torch.eye(2, 3, dtype=torch.int64))
print(torch.tensor([[1, 2], [3, 4]]), torch.tensor([1, 2]).dtype)
print(torch.tensor([True, False, True]), torch.tensor(3), torch.tensor(2.5))
print(torch.tensor([[1.0, 2], [3, 4]]).dtype, torch.tensor([1, 2.0]).dtype)
print(torch.tensor([]), torch.tensor([]).shape, torch.empty(0, 3).shape)
print(torch.zeros(2, 3, dtype=torch.int32), torch.ones(3, dtype=torch.bool))

print("---- dtype promotion")
i = torch.tensor([1, 2, 3])
f = torch.tensor([0.5, 1.5, 2.5])
print(i + f, (i + f).dtype)
print(i / 2, (i / 2).dtype, i // 2, i * 2.5)
print(torch.tensor([7, 8]) / torch.tensor([2, 4]))
b = torch.tensor([True, False, True, True])
print(b.sum(), b.sum().dtype, b.float().mean(), b.int())
print(i + True, (i > 1).dtype, (f.double() + f).dtype, (i.int() + i).dtype)
print(torch.tensor([1, 2], dtype=torch.int32) * 1.5, (i + 1).dtype, (f * 2).dtype)
print(torch.result_type(i, f), torch.promote_types(torch.int32, torch.float32))
print(torch.tensor(3) + torch.tensor([1.5]), f.to(torch.int64), f.long(), i.float())

print("---- cat, stack, chunk, split, unbind")
x = torch.arange(12).reshape(3, 4)
print(torch.cat([x, x], dim=0).shape, torch.cat([x, x], dim=1).shape, torch.cat((x, x), -1)[0])
print(torch.stack([x, x]).shape, torch.stack([x, x], dim=1).shape, torch.stack([x, x], 2).shape)
for c in torch.chunk(x, 2, dim=1):
    print("chunk", c)
print([c.shape for c in x.chunk(3, 0)], [c.shape for c in torch.arange(5).chunk(2)])
print(torch.split(x, 2, dim=1))
print([s.tolist() for s in torch.arange(10).split([3, 3, 4])])
print([s.shape for s in x.split([1, 2], dim=0)])
print(torch.unbind(x), x.unbind(1)[2])
print(torch.hstack([a, a]), torch.vstack([a, a]).shape)

print("---- view, reshape, permute, transpose")
y = torch.arange(24)
print(y.view(2, 3, 4).shape, y.view(-1, 6).shape, y.reshape(4, -1).shape)
t = y.view(2, 3, 4).permute(2, 0, 1)
print(t.shape, t.is_contiguous(), t.contiguous().is_contiguous(), t.stride(),
      t.contiguous().stride())
print(t.reshape(-1)[:6], t.transpose(0, 1).shape, x.t(), x.T.shape)
print(y.view(2, 3, 4).flatten().shape, y.view(2, 3, 4).flatten(1).shape,
      y.view(2, 3, 4).flatten(0, 1).shape)
print(torch.flatten(y.view(2, 3, 4), start_dim=1).shape)
print(a.unsqueeze(0).shape, a.unsqueeze(-1).shape, a.unsqueeze(1).squeeze().shape)
print(torch.zeros(1, 3, 1).squeeze(0).shape, torch.zeros(1, 3, 1).squeeze(-1).shape)
print(x.view(4, 3), x.size(), x.size(1), x.dim(), x.numel())
try:
    y.view(5, 5)
except RuntimeError as e:
    show(e)

print("---- broadcasting")
col = torch.tensor([[1.0], [2.0], [3.0]])
row = torch.tensor([10.0, 20.0])
print(col + row, (col * row).shape)
print(torch.ones(2, 1, 4) + torch.ones(3, 1), torch.broadcast_shapes((2, 1), (1, 3)))
try:
    torch.ones(2, 3) + torch.ones(4)
except RuntimeError as e:
    show(e)
print(torch.tensor([1.0, 2.0]).expand(3, 2), col.expand(-1, 4).shape)

print("---- reductions")
m = torch.tensor([[1.0, 5.0, 3.0], [4.0, 2.0, 6.0]])
print(m.sum(), m.sum(0), m.sum(dim=1), m.sum(1, keepdim=True), m.sum((0, 1)))
print(m.mean(), m.mean(0), m.mean(-1, keepdim=True))
vals, idx = m.max(dim=1)
print(vals, idx, m.max(), m.min(0))
print(torch.max(m, 1, keepdim=True))
r = m.max(0)
print(r.values, r.indices, r[0], type(r).__name__)
print(m.argmax(), m.argmax(1), m.argmin(dim=0), torch.argmax(m, dim=1, keepdim=True))
print(m.std(), m.std(0), m.var(1), m.var(1, unbiased=False), m.std(dim=1, correction=0))
print(m.prod(), m.prod(1), torch.arange(1, 6).prod(), m.cumsum(1), torch.arange(5).cumsum(0))
print(m.norm(), m.norm(dim=1), m.norm(p=1), torch.norm(m, dim=0), m.norm(p=float("inf")))
print(m.amax(1), m.amin(0), m.median(), m.abs().sum(), m.logsumexp(1))
print(torch.arange(6).sum(), torch.arange(6).sum().dtype, torch.arange(6).float().mean())
try:
    torch.arange(6).mean()
except RuntimeError as e:
    show(e)

print("---- comparisons, where, clamp, masked_fill")
v = torch.tensor([-2.0, -0.5, 0.0, 0.5, 2.0])
print(v > 0, v.eq(0), v >= -0.5, torch.eq(v, v), torch.equal(v, v.clone()))
print(torch.where(v > 0, v, torch.zeros_like(v)), torch.where(v < 0, -1.0, 1.0))
print(torch.where(v > 0), torch.where(v > 0, v, 0.0))
print(v.clamp(-1, 1), v.clamp(min=0), torch.clamp(v, max=0.25), v.clip(-0.5, 0.5))
print(v.masked_fill(v < 0, 0.0), m.masked_fill(m > 3, -1))
print(torch.nonzero(v), torch.nonzero(m > 3), (m > 3).nonzero(as_tuple=True))
print(torch.count_nonzero(v), (v != 0).sum().item(), torch.any(v > 1), torch.all(v > -3))
print(torch.allclose(v, v + 1e-9), torch.isclose(v, v + 0.1), v.sign(), v.abs())

print("---- unique, sort, argsort, topk")
u = torch.tensor([3, 1, 2, 3, 3, 1, 5])
print(torch.unique(u), u.unique(return_counts=True))
uu, inv, cnt = torch.unique(u, return_inverse=True, return_counts=True)
print(uu, inv, cnt)
print(torch.unique(u, sorted=True), torch.unique(torch.tensor([[1, 2], [1, 2], [3, 4]]), dim=0))
s = torch.tensor([0.3, -1.0, 2.0, 0.3, 1.5])
print(torch.sort(s), s.sort(descending=True).values, s.argsort(), torch.argsort(s, descending=True))
d = torch.tensor([0.3, -1.0, 2.0, 0.7, 1.5])  # (no ties: topk's order of ties is unspecified)
print(torch.topk(d, 2), d.topk(3, largest=False).indices, m.topk(1, dim=1),
      type(d.topk(2)).__name__)
print(m.sort(dim=0), torch.sort(m, dim=1, descending=True)[1])
print(torch.kthvalue(d, 2), torch.msort(m), s.flip(0), torch.flip(m, [0, 1]))

print("---- in-place")
p = torch.ones(2, 3)
p.add_(1)
print(p, p.mul_(3), p.add_(torch.tensor([1.0, 2.0, 3.0])), p.sub_(1, alpha=2))
print(p.clamp_(max=6), p.div_(2), p.zero_(), p.fill_(2.5))
q = torch.empty(2, 3)
q.copy_(torch.arange(6).view(2, 3))
print(q, q.dtype, q.pow_(2), q.neg_(), q.abs_().sqrt_())
w = torch.arange(4.0)
w2 = w.view(2, 2)
w2[0, 0] = 100
print(w, w.data_ptr() == w2.data_ptr())
try:
    torch.arange(3).add_(0.5)
except RuntimeError as e:
    show(e)

print("---- item, tolist, numpy")
print(m.sum().item(), type(m.sum().item()).__name__, torch.tensor(3).item(),
      type(i[0].item()).__name__)
print(m.tolist(), i.tolist(), b.tolist(), torch.tensor(2.5).tolist())
try:
    m.item()
except RuntimeError as e:
    show(e)
arr = np.array([1.0, 2.0, 3.0])
tn = torch.from_numpy(arr)
arr[0] = -1.0
print(tn, tn.dtype)
tn.mul_(2)
print(arr)
back = tn.numpy()
back[1] = 42.0
print(tn, np.shares_memory(arr, back))
print(torch.as_tensor(arr), torch.tensor(arr).dtype, torch.from_numpy(np.arange(3)).dtype)
print(torch.from_numpy(np.ones((2, 2), dtype=np.float32)), np.asarray(torch.ones(2)))
n = torch.ones(3)
nn_ = n.numpy()
n.add_(1)
print(nn_, n)

print("---- reprs")
print(torch.tensor([1, -20, 300]), torch.tensor([1.0, -2.5, 1e-4]), torch.tensor([1e10, 1.0]))
print(torch.tensor([[True, False]]), torch.tensor([0.1, 0.25], dtype=torch.float64))
print(torch.tensor([1.0, float("nan"), float("inf"), -float("inf")]), torch.tensor([100000.0, 1.5]))
print(torch.tensor([1.0, 2.0, 3.0]), torch.tensor(-0.0), torch.zeros(2, 0),
      torch.tensor([1e-8, 1.0]))
print(torch.arange(20.0).reshape(4, 5) / 3)
print(torch.arange(2000.0))
print(repr(torch.tensor([1.5], dtype=torch.float64)), str(torch.tensor([2], dtype=torch.int32)))
print(torch.tensor([1.0, 2.0], requires_grad=True), torch.float32, torch.int64, torch.bool)

print("---- grids, shapes and friends")
gx, gy = torch.meshgrid(torch.arange(3), torch.arange(2), indexing="xy")
print(gx, gy, gx.shape)
ii, jj = torch.meshgrid(torch.arange(3), torch.arange(2), indexing="ij")
print(ii.shape, jj[2],
      torch.stack(torch.meshgrid(torch.linspace(0, 1, 2), torch.linspace(0, 1, 3),
                                 indexing="xy"), -1).shape)
sz = torch.zeros(2, 3, 4).size()
print(sz[1:], sz[1:].numel(), sz[:-1] + (8,), sz[::-1], type(sz[0]).__name__,
      torch.Size([2, 3]) == (2, 3))
print(m.var(True), m.std(False), torch.var_mean(m, 1, unbiased=False), torch.std_mean(m, dim=0))
print(torch.roll(x, 1, 0)[0], torch.roll(x, shifts=(1, -1), dims=(0, 1))[1],
      torch.roll(torch.arange(5), 2))
print(torch.tril(x), torch.triu(x, 1)[0], x.cumprod(1)[1], x.type(), m.type(),
      m.type(torch.float64).dtype)
print(torch.searchsorted(torch.tensor([1, 3, 5, 7]), torch.tensor([3, 6, 9])),
      torch.bucketize(torch.tensor([1, 5, 8]), torch.tensor([2, 4, 6])))
print(torch.repeat_interleave(torch.tensor([1, 2]), 2), x.repeat(2, 1).shape,
      torch.tile(torch.tensor([1, 2]), (2, 2)))
print(torch.tensor([[1, 2]]) @ torch.tensor([[3], [4]]), 2 ** torch.tensor([1, 2, 3]),
      torch.tensor([1, 2]) ** 2)
print(sum(torch.tensor([1, 2, 3])), max(torch.tensor([1, 5, 3])), int(torch.tensor(3.7)),
      float(torch.tensor([2])), f"{torch.tensor(2.5):.2f}")
print(torch.diff(x, dim=1)[0], torch.cdist(m, m), torch.isin(x, torch.tensor([1, 5])).sum())
wg = torch.tensor([[0.5, -1.0], [2.0, 0.25]], requires_grad=True)
for r in (wg.unbind()[0], torch.roll(wg, 1, 0), torch.tril(wg), torch.triu(wg), wg.cumprod(1),
          wg.take(torch.tensor([3])), wg.floor(), wg.ceil(), wg.round(), wg.round(decimals=1),
          wg.trunc(), wg.frac(), torch.addmm(wg, wg, wg),
          wg.diagonal(), torch.trace(wg), torch.nn.functional.pad(wg, (1, 1)), wg.contiguous()):
    print(type(r.grad_fn).__name__, end=" ")
print()
print(type(wg.t().contiguous().grad_fn).__name__, wg.t().is_contiguous())
