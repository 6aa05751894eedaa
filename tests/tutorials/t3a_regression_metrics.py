# Regression: an MLP with SGD (momentum, weight decay), every regression loss and reduction,
# R^2 / MAE by tensor ops, inference_mode evaluation, clip_grad_norm_, ReduceLROnPlateau.
import math

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F
from torch.utils.data import DataLoader, TensorDataset

rng = np.random.default_rng(21)
n_train, n_val, n_feat = 96, 32, 5
Xn = rng.normal(size=(n_train + n_val, n_feat))
coef = np.array([1.5, -2.0, 0.5, 0.0, 3.0])
yn = Xn @ coef + 0.5 * np.sin(3 * Xn[:, 0]) + rng.normal(scale=0.3, size=n_train + n_val)
X = torch.tensor(Xn, dtype=torch.float32)
y = torch.tensor(yn, dtype=torch.float32).unsqueeze(1)
X_train, X_val, y_train, y_val = X[:n_train], X[n_train:], y[:n_train], y[n_train:]
mean, std = X_train.mean(dim=0), X_train.std(dim=0)
print(mean, std)
X_train, X_val = (X_train - mean) / std, (X_val - mean) / std

# every loss with every reduction on a fixed pair
pred = torch.tensor([[0.5], [2.0], [-1.0], [3.5]], requires_grad=True)
target = torch.tensor([[0.0], [2.5], [1.0], [0.0]])
for cls in (nn.MSELoss, nn.L1Loss, nn.HuberLoss, nn.SmoothL1Loss):
    for red in ("mean", "sum", "none"):
        crit = cls(reduction=red)
        val = crit(pred, target)
        print(crit, red, val.detach().flatten().tolist() if red == "none" else round(val.item(), 6),
              val.grad_fn.name())
print(nn.HuberLoss(delta=0.5)(pred, target), nn.SmoothL1Loss(beta=2.0)(pred, target))
print(nn.HuberLoss(delta=2.0), nn.SmoothL1Loss(beta=0.5))
loss = F.huber_loss(pred, target, delta=1.5) + F.smooth_l1_loss(pred, target, beta=0.25)
loss.backward()
print(pred.grad.flatten())
pred.grad = None
F.l1_loss(pred, target, reduction="sum").backward()
print(pred.grad.flatten())
try:
    F.mse_loss(pred, target.flatten())
except Exception as e:
    print(type(e).__name__)
import warnings
with warnings.catch_warnings(record=True) as w:
    warnings.simplefilter("always")
    F.mse_loss(pred, target.flatten())
print(len(w) >= 1, w[0].category.__name__ if w else None)


class MLP(nn.Module):
    def __init__(self):
        super().__init__()
        self.layers = nn.Sequential(nn.Linear(n_feat, 32), nn.Tanh(), nn.Linear(32, 16), nn.ReLU(),
                                    nn.Linear(16, 1))

    def forward(self, x):
        return self.layers(x)


model = MLP()
with torch.no_grad():
    for p in model.parameters():
        fan = p.shape[1] if p.dim() == 2 else 4
        p.copy_(torch.from_numpy(rng.uniform(-1, 1, tuple(p.shape)).astype(np.float32) / math.sqrt(fan)))

criterion = nn.MSELoss()
optimizer = torch.optim.SGD(model.parameters(), lr=0.05, momentum=0.9, weight_decay=1e-3)
scheduler = torch.optim.lr_scheduler.ReduceLROnPlateau(optimizer, mode="min", factor=0.5, patience=1,
                                                       threshold=0.05)
loader = DataLoader(TensorDataset(X_train, y_train), batch_size=32)


def r2_score(pred, target):
    ss_res = ((target - pred) ** 2).sum()
    ss_tot = ((target - target.mean()) ** 2).sum()
    return 1 - ss_res / ss_tot


for epoch in range(8):
    model.train()
    running, norms = 0.0, []
    for xb, yb in loader:
        optimizer.zero_grad()
        loss = criterion(model(xb), yb)
        loss.backward()
        total_norm = torch.nn.utils.clip_grad_norm_(model.parameters(), max_norm=5.0)
        norms.append(total_norm.item())
        optimizer.step()
        running += loss.item() * xb.size(0)
    model.eval()
    with torch.inference_mode():
        val_pred = model(X_val)
        val_loss = criterion(val_pred, y_val)
        mae = (val_pred - y_val).abs().mean()
        r2 = r2_score(val_pred, y_val)
    scheduler.step(val_loss)
    print(f"epoch {epoch}: train {running / n_train:.5f} val {val_loss.item():.5f} "
          f"mae {mae.item():.4f} r2 {r2.item():.4f} lr {optimizer.param_groups[0]['lr']:.5f} "
          f"norms {[round(v, 3) for v in norms]}")
print(type(total_norm).__name__, total_norm.dtype, total_norm.shape, total_norm.requires_grad)
print(val_pred.requires_grad, val_loss.requires_grad, torch.is_inference_mode_enabled())
print(scheduler.num_bad_epochs, scheduler.best, scheduler.state_dict()["best"] == scheduler.best)
print(optimizer.state_dict()["state"][0].keys(), optimizer.state_dict()["state"][4]["momentum_buffer"])

with torch.no_grad():
    out = model(X_val[:5])
print(torch.cat([out, y_val[:5]], dim=1))
print(F.l1_loss(out, y_val[:5]), F.mse_loss(out, y_val[:5], reduction="sum"))

# clip_grad_norm_ with an inf norm, a tiny max_norm, and clip_grad_value_
loss = criterion(model(X_train), y_train)
optimizer.zero_grad()
loss.backward()
g = model.layers[4].bias.grad.clone()
print(torch.nn.utils.clip_grad_norm_(model.parameters(), 0.1, norm_type=float("inf")))
print(torch.nn.utils.clip_grad_norm_(model.parameters(), 0.01))
print(model.layers[4].bias.grad, g.sign() == model.layers[4].bias.grad.sign())
torch.nn.utils.clip_grad_value_(model.parameters(), clip_value=1e-3)
print(max(p.grad.abs().max().item() for p in model.parameters()) <= 1e-3)
print(torch.nn.utils.clip_grad_norm_([], 1.0))

# a mean-and-variance network trained with GaussianNLLLoss
class MeanVar(nn.Module):
    def __init__(self):
        super().__init__()
        self.body = nn.Sequential(nn.Linear(n_feat, 16), nn.SiLU())
        self.mean = nn.Linear(16, 1)
        self.log_var = nn.Linear(16, 1)

    def forward(self, x):
        h = self.body(x)
        return self.mean(h), self.log_var(h).exp()


mv = MeanVar()
with torch.no_grad():
    for p in mv.parameters():
        p.copy_(torch.from_numpy(rng.uniform(-0.5, 0.5, tuple(p.shape)).astype(np.float32)))
gnll = nn.GaussianNLLLoss()
print(gnll, gnll.eps, gnll.full)
opt_mv = torch.optim.Adam(mv.parameters(), lr=0.02)
for epoch in range(30):
    mu, var = mv(X_train)
    loss = gnll(mu, y_train, var)
    opt_mv.zero_grad()
    loss.backward()
    opt_mv.step()
    if epoch % 10 == 9:
        print(f"gnll epoch {epoch}: {loss.item():.5f} mean var {var.mean().item():.4f}")
with torch.no_grad():
    mu, var = mv(X_val)
print(nn.GaussianNLLLoss(full=True)(mu, y_val, var), F.gaussian_nll_loss(mu, y_val, var.squeeze(1), reduction="sum"))
print(F.gaussian_nll_loss(mu, y_val, 0.5), F.gaussian_nll_loss(mu[:3], y_val[:3], torch.zeros(3, 1), reduction="none").flatten())
try:
    gnll(mu, y_val, -var)
except ValueError as e:
    print(type(e).__name__ + ":", str(e).splitlines()[0].split(" (")[0])
try:
    gnll(mu, y_val, var[:5])
except ValueError as e:
    print(type(e).__name__ + ":", str(e).splitlines()[0].split(" (")[0])

# ReduceLROnPlateau in "max" mode on a metric, with cooldown and min_lr
opt2 = torch.optim.SGD([torch.zeros(1, requires_grad=True)], lr=1.0)
sch2 = torch.optim.lr_scheduler.ReduceLROnPlateau(opt2, mode="max", factor=0.1, patience=0,
                                                  cooldown=1, min_lr=0.001)
for metric in [0.5, 0.6, 0.6, 0.55, 0.7, 0.7, 0.7, 0.7, 0.7]:
    sch2.step(metric)
    print(metric, opt2.param_groups[0]["lr"], sch2.num_bad_epochs, sch2.cooldown_counter, sch2.get_last_lr())
