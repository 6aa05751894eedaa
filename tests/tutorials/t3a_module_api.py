# The nn.Module surface: printing nested containers, children/named_modules, Sequential
# indexing and slicing, add_module, dtype moves, zero_grad, strict=False loading, flat vectors.
import re
from collections import OrderedDict

import numpy as np
import torch
import torch.nn as nn
from torch.nn.utils import parameters_to_vector, vector_to_parameters

rng = np.random.default_rng(13)


def show(e):
    """An exception's type and the first line of its message, without a leading op name
    ("linear: ...") or added detail in parentheses."""
    print(type(e).__name__ + ":", re.sub(r"^[\w.]+: ", "", str(e).splitlines()[0].split(" (")[0]))


class Block(nn.Module):
    def __init__(self, d):
        super().__init__()
        self.norm = nn.LayerNorm(d)
        self.ff = nn.Sequential(OrderedDict([("fc1", nn.Linear(d, 2 * d)), ("act", nn.GELU()),
                                             ("fc2", nn.Linear(2 * d, d))]))

    def forward(self, x):
        return x + self.ff(self.norm(x))


class Net(nn.Module):
    def __init__(self):
        super().__init__()
        self.embed = nn.Linear(3, 4)
        self.blocks = nn.ModuleList([Block(4) for _ in range(2)])
        self.heads = nn.ModuleDict({"cls": nn.Linear(4, 2), "reg": nn.Sequential(nn.Linear(4, 1), nn.Tanh())})
        self.dropout = nn.Dropout(p=0.25)
        self.register_buffer("step", torch.zeros((), dtype=torch.long))
        self.scale = nn.Parameter(torch.ones(1))

    def forward(self, x, head="cls"):
        h = self.embed(x)
        for blk in self.blocks:
            h = blk(h)
        return self.heads[head](self.dropout(h)) * self.scale


model = Net()
with torch.no_grad():
    for p in model.parameters():
        p.copy_(torch.from_numpy(rng.normal(size=tuple(p.shape)).astype(np.float32) * 0.5))
print(model)
print([name for name, _ in model.named_children()])
print([type(m).__name__ for m in model.children()])
print([name for name, _ in model.named_modules()])
print(len(list(model.modules())), len(list(model.parameters())), len(model.state_dict()))
print([(n, tuple(p.shape)) for n, p in model.named_parameters()][:5])
print(list(model.named_buffers()))
print(model.heads["reg"], model.heads.keys(), "cls" in model.heads, len(model.heads))
print(model.blocks[1].ff.fc2, model.blocks[-1].ff[1], len(model.blocks))
print(list(model.blocks[0].ff._modules.keys()))

seq = nn.Sequential(nn.Linear(3, 5), nn.ReLU(), nn.Linear(5, 5), nn.Sigmoid(), nn.Linear(5, 1))
print(seq[0], seq[-1], len(seq))
print(seq[1:3])
print(type(seq[1:3]).__name__, seq[::2])
seq.add_module("final", nn.Identity())
seq.append(nn.Flatten(0))
print(seq)
print([n for n, _ in seq.named_children()])
for i, layer in enumerate(seq):
    if isinstance(layer, nn.Linear):
        print(i, layer.in_features, layer.out_features)
del seq[5]
print(len(seq), seq[-1])
seq[1] = nn.LeakyReLU(0.2)
print(seq[1], seq[:2])

x = torch.tensor(rng.normal(size=(4, 3)), dtype=torch.float32)
model.eval()
out = model(x)
print(out, model(x, head="reg").shape, model.training, model.blocks[0].training)
model.train()
print(model.dropout.training, model.heads.reg[0].training)

# dtype moves
m64 = Net().to(torch.float64)
print(m64.embed.weight.dtype, m64.step.dtype, m64.blocks[0].norm.weight.dtype)
print(Net().double().scale.dtype, Net().double().float().scale.dtype, type(Net().to("cpu")).__name__)
md = model.double()
print(md is model, model.embed.weight.dtype, model(x.double()).dtype)
model.float()
try:
    model(x.double())
except RuntimeError as e:
    show(e)

# zero_grad(set_to_none=False) keeps zero tensors; the default drops them
model.eval()
model(x).sum().backward()
print(model.scale.grad, model.embed.bias.grad)
model.zero_grad(set_to_none=False)
print(model.scale.grad, model.embed.bias.grad, model.heads.reg[0].weight.grad)
model(x, head="reg").sum().backward()
print(model.heads.reg[0].bias.grad, model.heads.cls.bias.grad)
model.zero_grad()
print(model.scale.grad, model.embed.weight.grad)
opt = torch.optim.SGD(model.parameters(), lr=0.1)
model(x).sum().backward()
opt.zero_grad(set_to_none=False)
print(model.embed.bias.grad)

# state_dict round trips
sd = model.state_dict()
print(list(sd.keys()))
print(type(sd).__name__, sd["step"], sd["scale"].requires_grad, sd["embed.bias"].requires_grad)
fresh = Net()
print(fresh.load_state_dict(sd))
fresh.eval()
print(torch.equal(fresh(x), model(x)))
partial = {k: v for k, v in sd.items() if not k.startswith("heads.")}
partial["extra.weight"] = torch.zeros(2)
result = fresh.load_state_dict(partial, strict=False)
print(result.missing_keys)
print(result.unexpected_keys)
print(result)
try:
    fresh.load_state_dict(partial)
except RuntimeError as e:
    print(type(e).__name__ + ":", str(e).splitlines()[0])
    print(sorted(str(e).splitlines()[1:])[:2])
bad = dict(sd)
bad["embed.weight"] = torch.zeros(5, 3)
try:
    fresh.load_state_dict(bad)
except RuntimeError as e:
    lines = str(e).splitlines()
    print(type(e).__name__ + ":", lines[0])
    print(lines[1].strip())
try:
    fresh.load_state_dict(bad, strict=False)
except RuntimeError as e:
    print("strict=False too:", str(e).splitlines()[1].strip())
head_sd = model.heads.state_dict()
print(list(head_sd.keys()))
print(nn.ModuleDict({"cls": nn.Linear(4, 2), "reg": nn.Sequential(nn.Linear(4, 1))}).load_state_dict(head_sd))

# flat parameter vectors
vec = parameters_to_vector(model.parameters())
print(vec.shape, vec.dtype, vec.requires_grad, vec.grad_fn.name(), vec[:5])
vector_to_parameters(torch.arange(vec.numel(), dtype=torch.float32), fresh.parameters())
print(fresh.embed.weight[0], fresh.scale, fresh.embed.weight.requires_grad)
print(parameters_to_vector(fresh.parameters()).sum())
try:
    vector_to_parameters(vec[:10], fresh.parameters())
except RuntimeError:
    print("RuntimeError")  # (PyTorch's message is that of a failed view)
try:
    vector_to_parameters(vec.tolist(), fresh.parameters())
except TypeError as e:
    show(e)

# misc attributes users poke at
print(model.embed.weight.is_leaf, model.embed.in_features, model.heads.cls.extra_repr())
print(isinstance(model.scale, nn.Parameter), isinstance(model.step, nn.Parameter))
print(model.get_submodule("blocks.1.ff.fc1"), model.get_parameter("blocks.0.norm.bias").shape)
try:
    model.get_submodule("blocks.5")
except AttributeError:
    print("AttributeError")
try:
    model.nosuch
except AttributeError as e:
    show(e)
model.requires_grad_(False)
print(any(p.requires_grad for p in model.parameters()))
