"""Logistic regression with nn and optim: two Gaussian clouds, nn.Linear(2, 1) followed by
nn.Sigmoid, BCELoss and SGD with momentum; prints the accuracy and plots the decision
boundary (logistic_regression.png, when matplotlib is installed).
Set TAPEGRAD_EXAMPLES_QUICK=1 for the small run CI does; TAPEGRAD_EXAMPLES_OUT=dir says
where the figure goes (default: the current directory).
"""
import os

import tapegrad as torch
import tapegrad.nn as nn

torch.manual_seed(0)
n = 100
x = torch.cat([torch.randn(n, 2) + 2.5, torch.randn(n, 2) - 2.5])
y = torch.cat([torch.ones(n), torch.zeros(n)])

net = nn.Sequential(nn.Linear(2, 1), nn.Sigmoid())
loss_fn = nn.BCELoss()
opt = torch.optim.SGD(net.parameters(), lr=0.05, momentum=0.9)
steps = 30 if os.environ.get("TAPEGRAD_EXAMPLES_QUICK") else 100

for it in range(steps):
    loss = loss_fn(net(x).squeeze(), y)
    opt.zero_grad()
    loss.backward()
    opt.step()

with torch.no_grad():
    accuracy = ((net(x).squeeze() > 0.5).float() == y).float().mean().item()
print(f"{steps} steps: loss {loss.item():.4f}, accuracy {accuracy:.3f}")
assert accuracy > 0.99, accuracy

try:
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
except ImportError:
    plt = None
if plt is not None:
    w, b = net[0].weight.detach()[0], net[0].bias.item()
    fig, ax = plt.subplots(figsize=(4.5, 4.5))
    ax.scatter(x[:, 0], x[:, 1], c=y, cmap="coolwarm", s=10)
    xs = torch.linspace(-6, 6, 2)
    ax.plot(xs, -(w[0] * xs + b) / w[1], color="k", label="p = 0.5")
    ax.set_xlim(-6, 6)
    ax.set_ylim(-6, 6)
    ax.legend()
    fig.tight_layout()
    out = os.path.join(os.environ.get("TAPEGRAD_EXAMPLES_OUT", "."), "logistic_regression.png")
    fig.savefig(out, dpi=100)
    print(f"saved {out}")
