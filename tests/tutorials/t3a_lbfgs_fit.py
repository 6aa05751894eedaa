# Fitting a damped oscillator x(t) = A exp(-g t) cos(w t + phi) to noisy samples:
# L-BFGS with a strong-Wolfe line search and a closure, then Adam + CosineAnnealingLR, then RMSprop.
import numpy as np
import torch
import torch.nn as nn

rng = np.random.default_rng(2)
t_np = np.linspace(0.0, 6.0, 80)
true = dict(A=1.3, gamma=0.4, omega=2.2, phi=0.3)
x_np = true["A"] * np.exp(-true["gamma"] * t_np) * np.cos(true["omega"] * t_np + true["phi"])
x_np = x_np + rng.normal(scale=0.02, size=t_np.shape)
t = torch.tensor(t_np, dtype=torch.float32)
x_obs = torch.tensor(x_np, dtype=torch.float32)
print(t.shape, t.dtype, x_obs[:4])


class Oscillator(nn.Module):
    def __init__(self, A=1.0, gamma=0.2, omega=2.0, phi=0.0):
        super().__init__()
        self.A = nn.Parameter(torch.tensor(A))
        self.log_gamma = nn.Parameter(torch.tensor(gamma).log())
        self.omega = nn.Parameter(torch.tensor(omega))
        self.phi = nn.Parameter(torch.tensor(phi))

    def forward(self, t):
        gamma = self.log_gamma.exp()
        return self.A * torch.exp(-gamma * t) * torch.cos(self.omega * t + self.phi)

    def report(self):
        return (f"A={self.A.item():.4f} gamma={self.log_gamma.exp().item():.4f} "
                f"omega={self.omega.item():.4f} phi={self.phi.item():.4f}")


model = Oscillator()
print(model)
print([(n, p.shape, p.requires_grad) for n, p in model.named_parameters()])
print(model.report())
loss_fn = nn.MSELoss()

optimizer = torch.optim.LBFGS(model.parameters(), lr=1, max_iter=20, history_size=10,
                              line_search_fn="strong_wolfe")
print(optimizer.defaults)
calls = []


def closure():
    optimizer.zero_grad()
    loss = loss_fn(model(t), x_obs)
    loss.backward()
    calls.append(loss.item())
    return loss


for step in range(4):
    loss = optimizer.step(closure)
    print(f"lbfgs step {step}: loss {loss.item():.6e} evals {len(calls)} {model.report()}")
state = optimizer.state[optimizer._params[0]]
print(sorted(k for k in state), state["func_evals"], state["n_iter"])
print(f"first losses {[round(v, 5) for v in calls[:6]]}")
final = loss_fn(model(t), x_obs).item()
print(f"final mse {final:.3e}", final < 1e-3)
residual = (model(t) - x_obs).detach()
print(residual.abs().max() < 0.1, residual.shape)

# the same fit with plain gradient steps: Adam and a cosine schedule
model = Oscillator()
optimizer = torch.optim.Adam(model.parameters(), lr=0.05)
scheduler = torch.optim.lr_scheduler.CosineAnnealingLR(optimizer, T_max=300, eta_min=1e-3)
lrs = []
for it in range(300):
    optimizer.zero_grad()
    loss = loss_fn(model(t), x_obs)
    loss.backward()
    optimizer.step()
    scheduler.step()
    lrs.append(scheduler.get_last_lr()[0])
    if it % 60 == 0 or it == 299:
        print(f"adam {it:3d}: loss {loss.item():.6f} lr {lrs[-1]:.6f} {model.report()}")
print(round(min(lrs), 6), round(lrs[149], 6), scheduler.last_epoch)

model = Oscillator()
# (few steps: near the optimum RMSprop amplifies float32 rounding, as it does anywhere)
optimizer = torch.optim.RMSprop(model.parameters(), lr=0.01, alpha=0.9, momentum=0.5)
for it in range(60):
    optimizer.zero_grad()
    loss = loss_fn(model(t), x_obs)
    loss.backward()
    optimizer.step()
    if it % 15 == 0 or it == 59:
        print(f"rmsprop {it:3d}: loss {loss.item():.6f} {model.report()}")
print(sorted(optimizer.state[model.A]), optimizer.state[model.A]["step"])

# L-BFGS without a line search on a quadratic, float64
torch.manual_seed(0)
Q = torch.tensor([[3.0, 0.5], [0.5, 1.0]], dtype=torch.float64)
b = torch.tensor([1.0, -2.0], dtype=torch.float64)
z = torch.zeros(2, dtype=torch.float64, requires_grad=True)
opt = torch.optim.LBFGS([z], lr=0.5, max_iter=5, tolerance_grad=1e-10, tolerance_change=1e-12)


def quad():
    opt.zero_grad()
    f = 0.5 * z @ Q @ z - b @ z
    f.backward()
    return f


for i in range(3):
    print(opt.step(quad).item(), z.detach())
print(torch.linalg.solve(Q, b))
try:
    torch.optim.LBFGS(model.parameters(), line_search_fn="armijo").step(closure)
except RuntimeError as e:
    print(type(e).__name__ + ":", str(e).splitlines()[0].split(" (")[0])
try:
    torch.optim.LBFGS(model.parameters()).step()
except Exception as e:
    print(type(e).__name__)
