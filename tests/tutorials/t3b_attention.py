# Scaled dot-product attention by hand, F.scaled_dot_product_attention, nn.MultiheadAttention
# and a tiny pre-norm transformer block, with gradients.
import math

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F

rng = np.random.default_rng(7)


def randn(*shape, scale=1.0):
    return torch.tensor(rng.standard_normal(shape) * scale, dtype=torch.float32)


B, T, D = 2, 5, 8
x = randn(B, T, D)
Wq, Wk, Wv = (randn(D, D, scale=0.3).requires_grad_() for _ in range(3))
q, k, v = x @ Wq, x @ Wk, x @ Wv
print(q.shape, q.grad_fn, k.transpose(-2, -1).shape)

scores = q @ k.transpose(-2, -1) / math.sqrt(D)
print(scores.shape, scores.grad_fn, scores[0, 0])
mask = torch.triu(torch.ones(T, T), diagonal=1).bool()
print(mask, mask.dtype)
scores = scores.masked_fill(mask, float('-inf'))
print(scores[0, :2], scores.grad_fn)
attn = F.softmax(scores, dim=-1)
attn = F.dropout(attn, p=0.0, training=True)
print(attn[0], attn.sum(-1)[0], attn.grad_fn)
out = attn @ v
print(out.shape, out[1, -1])

ref = F.scaled_dot_product_attention(q, k, v, is_causal=True)
print(torch.allclose(ref, out, atol=1e-6), (ref - out).abs().max().item() < 1e-5,
      ref.grad_fn is not None)
ref2 = F.scaled_dot_product_attention(q, k, v, attn_mask=~mask)
print(torch.allclose(ref, ref2, atol=1e-6), ref2[0, 0])
bias = torch.zeros(T, T).masked_fill(mask, float("-inf"))
print(torch.allclose(F.scaled_dot_product_attention(q, k, v, attn_mask=bias), ref, atol=1e-6))
qh = q.view(B, T, 2, D // 2).transpose(1, 2)
kh = k.view(B, T, 2, D // 2).transpose(1, 2)
vh = v.view(B, T, 2, D // 2).transpose(1, 2)
heads = F.scaled_dot_product_attention(qh, kh, vh, is_causal=True)
print(qh.shape, heads.shape, heads.transpose(1, 2).reshape(B, T, D)[0, 1])
print(F.scaled_dot_product_attention(qh, kh, vh, scale=0.5)[0, 1, 2])

loss = out.pow(2).mean()
loss.backward()
print(loss.item(), Wq.grad.norm().item(), Wk.grad.norm().item(), Wv.grad.norm().item())
g_hand = [w.grad.clone() for w in (Wq, Wk, Wv)]
for w in (Wq, Wk, Wv):
    w.grad = None
q, k, v = x @ Wq, x @ Wk, x @ Wv
F.scaled_dot_product_attention(q, k, v, is_causal=True).pow(2).mean().backward()
print([torch.allclose(a, w.grad, atol=1e-6) for a, w in zip(g_hand, (Wq, Wk, Wv))])

print("---- nn.MultiheadAttention")
E, H = 8, 2
mha = nn.MultiheadAttention(E, H, batch_first=True)
print(mha)
print([(n, tuple(p.shape)) for n, p in mha.named_parameters()])
with torch.no_grad():
    mha.in_proj_weight.copy_(randn(3 * E, E, scale=0.3))
    mha.in_proj_bias.copy_(randn(3 * E, scale=0.1))
    mha.out_proj.weight.copy_(randn(E, E, scale=0.3))
    mha.out_proj.bias.copy_(randn(E, scale=0.1))
y, w = mha(x, x, x)
print(y.shape, w.shape, y[0, 0], w[0, 0], w.sum(-1)[0])
y2, w2 = mha(x, x, x, attn_mask=mask)
print(y2[1, 2], w2[1, 2])
y3, w3 = mha(x, x, x, need_weights=True, average_attn_weights=False)
print(w3.shape, w3[0, 1, 0])
y4, w4 = mha(x, x, x, need_weights=False)
print(w4, torch.allclose(y4, y, atol=1e-6))
pad = torch.tensor([[False, False, False, True, True], [False] * 5])
y5, w5 = mha(x, x, x, key_padding_mask=pad)
print(w5[0, 0], y5[0, 4])
mem = randn(B, 3, E)
y6, w6 = mha(x, mem, mem)
print(y6.shape, w6.shape, w6[1, 4])
y2.sum().backward()
print(mha.in_proj_weight.grad.norm().item(), mha.out_proj.bias.grad)
mha_sf = nn.MultiheadAttention(E, H)  # (T, B, E) without batch_first
mha_sf.load_state_dict(mha.state_dict())
ys, _ = mha_sf(x.transpose(0, 1), x.transpose(0, 1), x.transpose(0, 1))
print(ys.shape, torch.allclose(ys.transpose(0, 1), y, atol=1e-6), list(mha.state_dict().keys()))

print("---- a transformer block")


class Block(nn.Module):
    def __init__(self, d, h):
        super().__init__()
        self.ln1 = nn.LayerNorm(d)
        self.attn = nn.MultiheadAttention(d, h, batch_first=True)
        self.ln2 = nn.LayerNorm(d)
        self.mlp = nn.Sequential(nn.Linear(d, 4 * d), nn.GELU(), nn.Linear(4 * d, d))

    def forward(self, x, mask):
        h = self.ln1(x)
        a, _ = self.attn(h, h, h, attn_mask=mask, need_weights=False)
        x = x + a
        x = x + self.mlp(self.ln2(x))
        return x


torch.manual_seed(0)
blk = Block(E, H)
sd = blk.state_dict()
for name in sd:
    one = name.endswith("ln1.weight") or name.endswith("ln2.weight")
    sd[name] = randn(*sd[name].shape, scale=0.3) + (1.0 if one else 0.0)
blk.load_state_dict(sd)
print(blk)
print(list(sd.keys()))
opt = torch.optim.AdamW(blk.parameters(), lr=1e-2, weight_decay=0.01)
target = randn(B, T, E)
for step in range(5):
    opt.zero_grad()
    yb = blk(x, mask)
    loss = F.mse_loss(yb, target)
    loss.backward()
    norms = {n: round(p.grad.norm().item(), 4) for n, p in blk.named_parameters()
             if n in ("ln1.weight", "attn.in_proj_weight", "mlp.2.bias")}
    total = torch.nn.utils.clip_grad_norm_(blk.parameters(), max_norm=1.0)
    opt.step()
    print(step, f"{loss.item():.6f}", norms, f"{total.item():.5f}")
print(yb.grad_fn, yb[0, 0])
blk.eval()
with torch.no_grad():
    print(blk(x, mask)[1, 3])
ln = nn.LayerNorm(E, elementwise_affine=False)
z = ln(x)
print(z.mean(-1).abs().max().item() < 1e-6, z.std(-1, unbiased=False)[0], z.grad_fn)
print(F.layer_norm(x, (E,))[0, 0], F.gelu(torch.tensor([-1.0, 0.0, 1.0])),
      F.gelu(torch.tensor([1.0]), approximate="tanh"))
