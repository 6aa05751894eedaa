"""A WGAN-GP-style gradient penalty: the critic's input gradient, recorded with
create_graph=True, enters the loss, whose backward then differentiates it again.

The critic D (Linear, tanh, Linear) scores real points (a ring) against fake ones (a
blob); the penalty pushes the norm of dD/dx towards 1 at points between the two:
    loss = D(fake).mean() - D(real).mean() + 10 * ((|grad_x D(x_hat)| - 1)^2).mean()

Set TAPEGRAD_EXAMPLES_QUICK=1 for the small run CI does (fewer steps).
"""
import math
import os

import tapegrad as torch

torch.manual_seed(0)
D = torch.nn.Sequential(torch.nn.Linear(2, 32), torch.nn.Tanh(), torch.nn.Linear(32, 1))
opt = torch.optim.Adam(D.parameters(), lr=1e-2, betas=(0.5, 0.9))

steps = 40 if os.environ.get("TAPEGRAD_EXAMPLES_QUICK") else 200
n = 64
for step in range(1, steps + 1):
    angle = torch.rand(n) * (2 * math.pi)
    real = torch.stack([angle.cos(), angle.sin()], dim=1) * 2
    fake = torch.randn(n, 2) * 0.3
    eps = torch.rand(n, 1)
    x_hat = (eps * real + (1 - eps) * fake).requires_grad_(True)
    (g,) = torch.autograd.grad(D(x_hat).sum(), x_hat, create_graph=True)
    penalty = ((g.norm(dim=1) - 1) ** 2).mean()
    wdist = D(real).mean() - D(fake).mean()
    loss = -wdist + 10 * penalty
    opt.zero_grad()
    loss.backward()
    opt.step()
    if step == 1 or step % (steps // 4) == 0:
        print(f"step {step:3d}: critic gap {wdist.item():.4f}, penalty {penalty.item():.4f}")
print(f"final: critic gap {wdist.item():.4f} > 0, penalty {penalty.item():.4f}")
