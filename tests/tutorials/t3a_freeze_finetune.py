# Fine-tuning: a frozen backbone, a new head, param groups, init via apply, forward hooks, buffers.
import numpy as np
import torch
import torch.nn as nn
import torch.optim as optim

rng = np.random.default_rng(5)


class Backbone(nn.Module):
    def __init__(self):
        super().__init__()
        self.conv = nn.Conv2d(1, 4, 3, padding=1)
        self.bn = nn.BatchNorm2d(4)
        self.pool = nn.AdaptiveAvgPool2d((2, 2))
        self.fc = nn.Linear(16, 12)
        self.register_buffer("scale", torch.tensor(2.0))
        self.register_buffer("mask", torch.ones(12), persistent=False)

    def forward(self, x):
        x = torch.relu(self.bn(self.conv(x)))
        x = self.pool(x).flatten(1)
        return torch.tanh(self.fc(x)) * self.scale * self.mask


class Classifier(nn.Module):
    def __init__(self, n_classes=5):
        super().__init__()
        self.backbone = Backbone()
        self.head = nn.Sequential(nn.Linear(12, 8), nn.ReLU(), nn.Dropout(0.0), nn.Linear(8, n_classes))

    def forward(self, x):
        return self.head(self.backbone(x))


def init_weights(m):
    if isinstance(m, (nn.Linear, nn.Conv2d)):
        nn.init.xavier_uniform_(m.weight)
        nn.init.zeros_(m.bias)
        print("init", type(m).__name__, tuple(m.weight.shape), m.bias.abs().sum().item())


torch.manual_seed(0)
model = Classifier()
print(model.apply(init_weights) is model)
print([n for n, _ in model.named_buffers()], model.backbone.scale, "mask" in model.state_dict())
print(list(model.state_dict().keys()))

# deterministic weights for the comparison
with torch.no_grad():
    for name, p in model.named_parameters():
        p.copy_(torch.from_numpy(rng.normal(size=tuple(p.shape)).astype(np.float32) * 0.4))

print(sum(p.numel() for p in model.parameters()))
model.backbone.requires_grad_(False)
for name, param in model.named_parameters():
    print(f"{name:28s} {str(tuple(param.shape)):14s} requires_grad={param.requires_grad}")
print("trainable:", sum(p.numel() for p in model.parameters() if p.requires_grad))

# hooks collecting activations
activations = {}


def get_activation(name):
    def hook(module, inputs, output):
        activations[name] = output.detach()
    return hook


h1 = model.backbone.fc.register_forward_hook(get_activation("backbone.fc"))
h2 = model.head[1].register_forward_hook(get_activation("head.relu"))
seen = []
h3 = model.head.register_forward_pre_hook(lambda m, inp: seen.append(tuple(inp[0].shape)))

X = torch.tensor(rng.normal(size=(10, 1, 6, 6)), dtype=torch.float32)
y = torch.tensor(rng.integers(0, 5, 10))
out = model(X)
print(out.shape, out.requires_grad, out.grad_fn.name())
print(sorted(activations), activations["backbone.fc"].shape, activations["head.relu"][0])
print(activations["backbone.fc"].requires_grad, seen)
h1.remove()
h3.remove()
activations.clear()
model(X)
print(sorted(activations), seen)
h2.remove()

# a hook that changes the output
h = model.head[3].register_forward_hook(lambda m, i, o: o * 0 + 1)
print(model(X[:2]))
h.remove()

optimizer = optim.SGD([{"params": model.head.parameters()},
                       {"params": model.backbone.parameters(), "lr": 1e-4}], lr=0.05, momentum=0.9)
print(len(optimizer.param_groups), [g["lr"] for g in optimizer.param_groups],
      [len(g["params"]) for g in optimizer.param_groups], optimizer.param_groups[1]["momentum"])
loss_fn = nn.CrossEntropyLoss()
w_before = model.backbone.fc.weight.clone()
model.train()
model.backbone.eval()  # keep BatchNorm statistics frozen too
for epoch in range(4):
    optimizer.zero_grad()
    loss = loss_fn(model(X), y)
    loss.backward()
    optimizer.step()
    print(epoch, round(loss.item(), 5), model.backbone.fc.weight.grad, model.head[0].weight.grad.abs().sum().item())
print(torch.equal(w_before, model.backbone.fc.weight), model.backbone.bn.num_batches_tracked,
      model.backbone.training, model.head.training)

# unfreeze the last backbone layer and add it to the optimizer
model.backbone.fc.requires_grad_(True)
print([n for n, p in model.named_parameters() if p.requires_grad])
try:
    optimizer.add_param_group({"params": [model.backbone.fc.weight], "lr": 0.01})
except ValueError as e:
    print(type(e).__name__ + ":", str(e).splitlines()[0].split(" (")[0])
optimizer.param_groups[1]["lr"] = 0.01
extra = nn.Linear(5, 5)
optimizer.add_param_group({"params": extra.parameters(), "lr": 0.5, "momentum": 0.0})
print([g["lr"] for g in optimizer.param_groups], [g["momentum"] for g in optimizer.param_groups],
      optimizer.param_groups[2]["nesterov"], len(optimizer.param_groups[2]["params"]))
for epoch in range(2):
    optimizer.zero_grad()
    loss = loss_fn(model(X), y)
    loss.backward()
    optimizer.step()
    print(epoch, round(loss.item(), 5), model.backbone.fc.bias.grad, model.backbone.fc.weight.grad.norm().item())
print(model.backbone.fc.weight[0])

# freezing with a loop and detaching a feature extractor
for p in model.parameters():
    p.requires_grad = False
print(sum(p.numel() for p in model.parameters() if p.requires_grad))
feats = model.backbone(X[:3])
print(feats.requires_grad, feats.grad_fn, feats[0, :4])
model.backbone.scale.fill_(1.0)
print(model.backbone(X[:1])[0, :3], model.state_dict()["backbone.scale"])
