"""An MLP on scikit-learn's 8x8 digits (they ship with scikit-learn: no download), trained
with Adam and CrossEntropyLoss from a DataLoader, a tqdm bar showing the loss; prints the
test accuracy and plots the loss curve (mlp_digits.png, when matplotlib is installed).

Needs `pip install -e ".[examples]"` (scikit-learn, tqdm, matplotlib).
Set TAPEGRAD_EXAMPLES_QUICK=1 for the small run CI does; TAPEGRAD_EXAMPLES_OUT=dir says
where the figure goes (default: the current directory).
"""
import os

from sklearn.datasets import load_digits

import tapegrad as torch
import tapegrad.nn as nn
from tapegrad.utils.data import DataLoader, TensorDataset

try:
    from tqdm import tqdm
except ImportError:  # the bar is a nicety
    def tqdm(it, **kw):
        return it

quick = bool(os.environ.get("TAPEGRAD_EXAMPLES_QUICK"))
torch.manual_seed(0)
digits = load_digits()
x = torch.tensor(digits.data, dtype=torch.float32) / 16.0
y = torch.tensor(digits.target)
perm = torch.randperm(len(y))
test, train = perm[:360], perm[360:]
loader = DataLoader(TensorDataset(x[train], y[train]), batch_size=64, shuffle=True)

model = nn.Sequential(nn.Linear(64, 128), nn.ReLU(), nn.Linear(128, 64), nn.ReLU(),
                      nn.Linear(64, 10))
opt = torch.optim.Adam(model.parameters(), lr=3e-3)
loss_fn = nn.CrossEntropyLoss()
epochs = 8 if quick else 40
losses = []
bar = tqdm(range(epochs), desc="training", disable=quick)
for epoch in bar:
    model.train()
    for xb, yb in loader:
        loss = loss_fn(model(xb), yb)
        opt.zero_grad()
        loss.backward()
        opt.step()
        losses.append(loss.item())
    if hasattr(bar, "set_postfix"):
        bar.set_postfix(loss=f"{losses[-1]:.4f}")

model.eval()
with torch.no_grad():
    accuracy = (model(x[test]).argmax(1) == y[test]).float().mean().item()
print(f"{epochs} epochs, {len(losses)} steps: last loss {losses[-1]:.4f}, "
      f"test accuracy {accuracy:.3f}")
assert accuracy >= (0.9 if quick else 0.95), accuracy

try:
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
except ImportError:
    plt = None
if plt is not None:
    fig, ax = plt.subplots(figsize=(5, 3.5))
    ax.plot(losses, lw=0.8)
    ax.set_yscale("log")
    ax.set_xlabel("step")
    ax.set_ylabel("cross-entropy (batch)")
    ax.set_title(f"MLP on 8x8 digits: test accuracy {accuracy:.3f}")
    fig.tight_layout()
    out = os.path.join(os.environ.get("TAPEGRAD_EXAMPLES_OUT", "."), "mlp_digits.png")
    fig.savefig(out, dpi=100)
    print(f"saved {out}")
