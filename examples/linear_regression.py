"""Linear regression by hand, as the first tutorials write it: a weight and a bias that
require grad, the loss, backward, then `w.data.sub_(lr * w.grad)` and `grad.zero_()`.

Fits 20 noisy points on y = 3x + 2 until the mean squared error is below 1 and plots the
fitted line (linear_regression.png, when matplotlib is installed).
Set TAPEGRAD_EXAMPLES_QUICK=1 for the small run CI does; TAPEGRAD_EXAMPLES_OUT=dir says
where the figure goes (default: the current directory).
"""
import os

import tapegrad as torch

torch.manual_seed(0)
x = torch.linspace(0, 5, 20)
y = 3 * x + 2 + 0.5 * torch.randn(20)

w = torch.zeros(1, requires_grad=True)
b = torch.zeros(1, requires_grad=True)
lr = 0.02
max_steps = 200 if os.environ.get("TAPEGRAD_EXAMPLES_QUICK") else 2000

for step in range(max_steps):
    loss = ((w * x + b - y) ** 2).mean()
    if loss.item() < 1:
        break
    loss.backward()
    w.data.sub_(lr * w.grad)
    b.data.sub_(lr * b.grad)
    w.grad.zero_()
    b.grad.zero_()

print(f"step {step}: loss {loss.item():.3f} < 1, w = {w.item():.2f}, b = {b.item():.2f}")

try:
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
except ImportError:
    plt = None
if plt is not None:
    fig, ax = plt.subplots(figsize=(5, 3.5))
    ax.scatter(x, y, s=12, label="data")
    with torch.no_grad():
        ax.plot(x, w * x + b, color="C1", label=f"fit: {w.item():.2f} x + {b.item():.2f}")
    ax.set_xlabel("x")
    ax.set_ylabel("y")
    ax.legend()
    fig.tight_layout()
    out = os.path.join(os.environ.get("TAPEGRAD_EXAMPLES_OUT", "."), "linear_regression.png")
    fig.savefig(out, dpi=100)
    print(f"saved {out}")
