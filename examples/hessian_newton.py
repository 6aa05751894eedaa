"""Newton's method with exact Hessians from autograd.functional.hessian.

f(x, y) = (x^2 + y - 11)^2 + (x + y^2 - 7)^2 (Himmelblau's function) has four minima.
From (3.5, 2.5) each Newton step solves H d = -g with the Hessian computed by
double backward (the gradient recorded with create_graph=True, then differentiated),
and the iterates converge quadratically to the minimum at (3, 2).

Set TAPEGRAD_EXAMPLES_QUICK=1 for the small run CI does (fewer steps).
"""
import os

import tapegrad as torch
from tapegrad.autograd.functional import hessian


def f(p):
    x, y = p[0], p[1]
    return (x ** 2 + y - 11) ** 2 + (x + y ** 2 - 7) ** 2


steps = 6 if os.environ.get("TAPEGRAD_EXAMPLES_QUICK") else 8
p = torch.tensor([3.5, 2.5], dtype=torch.float64)
for step in range(steps):
    x = p.detach().requires_grad_(True)
    (g,) = torch.autograd.grad(f(x), x)
    H = hessian(f, p)
    (a, b), (c, e) = H.tolist()  # 2 x 2: the inverse by hand
    H_inv = torch.tensor([[e, -b], [-c, a]], dtype=torch.float64) / (a * e - b * c)
    d = -(H_inv @ g)
    p = p + d
    print(f"step {step + 1}: x = {p[0].item():.12f}, y = {p[1].item():.12f}, "
          f"f = {f(p).item():.3e}, |grad| = {g.norm().item():.3e}")
print(f"converged to ({p[0].item():.6f}, {p[1].item():.6f})")
