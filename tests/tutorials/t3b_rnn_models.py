# nn.RNN / GRU / LSTM (2 layers, batch_first, bidirectional) with weights from NumPy, a
# many-to-one sine-wave regressor, GRUCell / LSTMCell loops and packed sequences.
import math

import numpy as np
import torch
import torch.nn as nn
from torch.nn.utils.rnn import pack_padded_sequence, pad_packed_sequence, pad_sequence

rng = np.random.default_rng(11)


def fill(module, scale=None):
    """Every parameter uniform in +-1/sqrt(hidden) from NumPy (PyTorch's init, our stream)."""
    with torch.no_grad():
        for name, p in module.named_parameters():
            hidden = getattr(module, "hidden_size", p.shape[0])
            k = scale if scale is not None else 1 / math.sqrt(hidden)
            p.copy_(torch.tensor(rng.uniform(-k, k, tuple(p.shape)), dtype=p.dtype))


N, T, I, Hs = 3, 6, 4, 5
x = torch.tensor(rng.standard_normal((N, T, I)), dtype=torch.float32)

for cls in (nn.RNN, nn.GRU, nn.LSTM):
    print("----", cls.__name__)
    net = cls(I, Hs, num_layers=2, batch_first=True, bidirectional=True)
    fill(net)
    print(net)
    print([(n, tuple(p.shape)) for n, p in net.named_parameters()][:5], len(list(net.parameters())))
    out, hidden = net(x)
    if cls is nn.LSTM:
        h, c = hidden
        print(out.shape, h.shape, c.shape, c[0, 0])
    else:
        h = hidden
        print(out.shape, h.shape)
    print(out[0, -1], h[-1, 0], out.grad_fn is not None)
    # the last layer's forward state is the end of the output's first half, the backward
    # state the start of its second half
    print(torch.allclose(out[:, -1, :Hs], h[-2]), torch.allclose(out[:, 0, Hs:], h[-1]))
    loss = out.pow(2).mean() + h.sum()
    loss.backward()
    g = {n: round(p.grad.norm().item(), 5) for n, p in net.named_parameters()
         if n.endswith("l1_reverse") or n == "weight_ih_l0"}
    print(f"{loss.item():.6f}", g)
    h0 = torch.zeros(4, N, Hs)
    if cls is nn.LSTM:
        out2, (h2, c2) = net(x, (h0, torch.zeros(4, N, Hs)))
    else:
        out2, h2 = net(x, h0)
    print(torch.allclose(out2, out), net(x[0])[0].shape)

print("---- unidirectional, (T, N, I) layout")
gru = nn.GRU(I, Hs, num_layers=1)
fill(gru)
seq = x.transpose(0, 1)
o, hn = gru(seq)
print(o.shape, hn.shape, torch.allclose(o[-1], hn[0]), hn[0, 1])
print(gru.weight_ih_l0.shape, gru.bias_hh_l0.shape, list(gru.state_dict().keys()))
try:
    gru(torch.zeros(2, 3, I + 1))
except RuntimeError as e:
    print("RuntimeError:", str(e).splitlines()[0])

print("---- many-to-one sine regressor")


class SineLSTM(nn.Module):
    def __init__(self, hidden=8):
        super().__init__()
        self.lstm = nn.LSTM(1, hidden, batch_first=True)
        self.head = nn.Linear(hidden, 1)

    def forward(self, s):
        o, (hn, cn) = self.lstm(s)
        return self.head(o[:, -1, :])


t_axis = np.linspace(0, 4 * np.pi, 80)
wave = np.sin(t_axis)
W = 10
starts = np.arange(0, 60, 4)
xs = torch.tensor(np.stack([wave[s:s + W] for s in starts])[:, :, None], dtype=torch.float32)
ys = torch.tensor(wave[starts + W][:, None], dtype=torch.float32)
print(xs.shape, ys.shape, xs.dtype)
model = SineLSTM()
fill(model.lstm)
fill(model.head, 0.3)
opt = torch.optim.Adam(model.parameters(), lr=0.02)
loss_fn = nn.MSELoss()
for step in range(20):
    opt.zero_grad()
    pred = model(xs)
    loss = loss_fn(pred, ys)
    loss.backward()
    nn.utils.clip_grad_norm_(model.parameters(), 1.0)
    opt.step()
    if step % 4 == 0 or step == 19:
        print(step, f"{loss.item():.6f}")
with torch.no_grad():
    print(model(xs[:3]).view(-1), ys[:3].view(-1))

print("---- cells")
cell = nn.GRUCell(I, Hs)
fill(cell)
hx = torch.zeros(N, Hs)
outs = []
for t in range(T):
    hx = cell(x[:, t], hx)
    outs.append(hx)
stacked = torch.stack(outs, dim=1)
print(cell, stacked.shape, hx[0], hx.grad_fn is not None)
lcell = nn.LSTMCell(I, Hs)
fill(lcell)
hx, cx = torch.zeros(N, Hs), torch.zeros(N, Hs)
for t in range(T):
    hx, cx = lcell(x[:, t], (hx, cx))
print(lcell, hx[1], cx[1])
(hx.sum() + cx.pow(2).sum()).backward()
print(lcell.weight_hh.grad.norm().item(), lcell.bias_ih.grad[:4])
rcell = nn.RNNCell(I, Hs, nonlinearity="relu")
fill(rcell)
print(rcell(x[:, 0]).shape, rcell(x[:, 0])[2], rcell(x[0, 0]).shape)
# the cell loop equals the layer
lstm1 = nn.LSTM(I, Hs, batch_first=True)
with torch.no_grad():
    lstm1.weight_ih_l0.copy_(lcell.weight_ih)
    lstm1.weight_hh_l0.copy_(lcell.weight_hh)
    lstm1.bias_ih_l0.copy_(lcell.bias_ih)
    lstm1.bias_hh_l0.copy_(lcell.bias_hh)
print(torch.allclose(lstm1(x)[1][0][0], hx, atol=1e-6))

print("---- packed sequences")
seqs = [torch.tensor(rng.standard_normal((n, I)), dtype=torch.float32) for n in (5, 3, 2)]
lengths = torch.tensor([5, 3, 2])
padded = pad_sequence(seqs, batch_first=True)
print(padded.shape, padded[2, 2:].abs().sum())
packed = pack_padded_sequence(padded, lengths, batch_first=True, enforce_sorted=True)
print(type(packed).__name__, packed.batch_sizes, packed.data.shape)
lstm2 = nn.LSTM(I, Hs, batch_first=True)
fill(lstm2)
po, (ph, pc) = lstm2(packed)
unpacked, lens = pad_packed_sequence(po, batch_first=True)
print(unpacked.shape, lens, unpacked[1, 3:].abs().sum(), ph[0])
print(torch.allclose(ph[0, 1], lstm2(seqs[1][None])[1][0][0, 0], atol=1e-6))
unsorted = pack_padded_sequence(padded[[2, 0, 1]], torch.tensor([2, 5, 3]), batch_first=True,
                                enforce_sorted=False)
print(unsorted.sorted_indices, unsorted.unsorted_indices, lstm2(unsorted)[1][0][0, 0])
