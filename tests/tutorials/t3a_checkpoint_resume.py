# Saving and loading a general checkpoint, then resuming training (Adam + StepLR).
import os
import shutil
import tempfile

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F
import torch.optim as optim

rng = np.random.default_rng(11)
X = torch.tensor(rng.normal(size=(48, 6)), dtype=torch.float32)
y = torch.tensor(rng.integers(0, 3, 48))
W0 = {k: rng.normal(size=s).astype(np.float32) * 0.3 for k, s in
      [("fc1.weight", (16, 6)), ("fc1.bias", (16,)), ("bn.weight", (16,)), ("bn.bias", (16,)),
       ("fc2.weight", (3, 16)), ("fc2.bias", (3,))]}


class Net(nn.Module):
    def __init__(self):
        super().__init__()
        self.fc1 = nn.Linear(6, 16)
        self.bn = nn.BatchNorm1d(16)
        self.fc2 = nn.Linear(16, 3)

    def forward(self, x):
        return self.fc2(F.relu(self.bn(self.fc1(x))))


def fresh():
    net = Net()
    state = net.state_dict()
    for k, v in W0.items():
        state[k] = torch.from_numpy(v.copy())
    print(net.load_state_dict(state))
    opt = optim.Adam(net.parameters(), lr=0.01, betas=(0.9, 0.99), weight_decay=1e-4)
    sched = optim.lr_scheduler.StepLR(opt, step_size=2, gamma=0.5)
    return net, opt, sched


def run_epoch(net, opt, sched, epoch):
    net.train()
    total = 0.0
    for i in range(0, 48, 16):
        opt.zero_grad()
        loss = F.cross_entropy(net(X[i:i + 16]), y[i:i + 16])
        loss.backward()
        opt.step()
        total += loss.item()
    sched.step()
    print(f"epoch {epoch} loss {total / 3:.6f} lr {sched.get_last_lr()[0]:.6f}")
    return loss


model, optimizer, scheduler = fresh()
print(list(model.state_dict().keys()))
print(optimizer.state_dict()["param_groups"])
print(optimizer.state_dict()["state"])
for epoch in range(3):
    loss = run_epoch(model, optimizer, scheduler, epoch)

sd = optimizer.state_dict()
print(sorted(sd), sorted(sd["state"]), sorted(sd["state"][0]))
print(sd["state"][0]["step"], sd["state"][0]["exp_avg"].shape, sd["state"][5]["exp_avg_sq"])
print(sd["param_groups"][0]["params"], sd["param_groups"][0]["lr"], sd["param_groups"][0]["initial_lr"])
print(scheduler.state_dict())
print(model.state_dict()["bn.running_mean"][:4], model.state_dict()["bn.num_batches_tracked"])

tmpdir = tempfile.mkdtemp()
path = os.path.join(tmpdir, "checkpoint.pt")
torch.save({
    "epoch": 3,
    "model_state_dict": model.state_dict(),
    "optimizer_state_dict": optimizer.state_dict(),
    "scheduler_state_dict": scheduler.state_dict(),
    "loss": loss,
}, path)

# keep going without interruption: the reference
ref = [run_epoch(model, optimizer, scheduler, e).item() for e in (3, 4)]
ref_w = model.fc2.weight.detach().clone()

model2, optimizer2, scheduler2 = fresh()
checkpoint = torch.load(path, weights_only=True)
print(sorted(checkpoint), checkpoint["epoch"], checkpoint["loss"])
print(model2.load_state_dict(checkpoint["model_state_dict"]))
optimizer2.load_state_dict(checkpoint["optimizer_state_dict"])
scheduler2.load_state_dict(checkpoint["scheduler_state_dict"])
epoch = checkpoint["epoch"]
print(optimizer2.param_groups[0]["lr"], scheduler2.last_epoch, scheduler2.get_last_lr())
print(optimizer2.state[model2.fc1.weight]["step"], len(optimizer2.state))
model2.train()
res = [run_epoch(model2, optimizer2, scheduler2, e).item() for e in range(epoch, epoch + 2)]
print("resumed equals uninterrupted:", res == ref, torch.equal(model2.fc2.weight, ref_w))
print(res)
print(model2.fc2.weight)
print(model2.fc2.bias.grad)

model2.eval()
with torch.no_grad():
    out = model2(X[:4])
print([[round(v, 3) for v in row] for row in out.tolist()], out.argmax(dim=1))  # (3 places: the 4th sits on a rounding edge that PyTorch itself crosses between runs)

# saving only the model, loading into a model on "cpu"
torch.save(model2.state_dict(), path)
m3 = Net()
print(m3.load_state_dict(torch.load(path, map_location="cpu", weights_only=True)))
m3.eval()
print(torch.allclose(m3(X[:4]), out), m3.bn.num_batches_tracked)
# tensors, lists and nested containers
torch.save({"a": [torch.arange(3), (1.5, "s")], "b": {"c": torch.ones(2, dtype=torch.float64)}}, path)
obj = torch.load(path)
print(obj)
print(type(obj["a"][1]).__name__)
shutil.rmtree(tmpdir)
print(os.path.exists(path))
