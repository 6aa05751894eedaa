# Learning PyTorch with Examples: polynomial fit with autograd.
import math

import torch

dtype = torch.float
device = "cpu"
torch.set_default_device(device)

x = torch.linspace(-math.pi, math.pi, 2000, dtype=dtype)
y = torch.sin(x)

r = torch.randn((), dtype=dtype, requires_grad=True)
print(r.shape, r.requires_grad, r.is_leaf, r.grad)
a = torch.tensor(0.2, dtype=dtype, requires_grad=True)
b = torch.tensor(-0.1, dtype=dtype, requires_grad=True)
c = torch.tensor(0.05, dtype=dtype, requires_grad=True)
d = torch.tensor(0.01, dtype=dtype, requires_grad=True)

learning_rate = 1e-6
for t in range(2000):
    y_pred = a + b * x + c * x ** 2 + d * x ** 3
    loss = (y_pred - y).pow(2).sum()
    if t % 100 == 99:
        print(t, loss.item())
    if t == 0:
        print(y_pred.grad_fn.name(), loss.grad_fn.name(), loss.shape)
    loss.backward()
    if t == 0:
        print(a.grad, d.grad, a.grad.shape)
    with torch.no_grad():
        a -= learning_rate * a.grad
        b -= learning_rate * b.grad
        c -= learning_rate * c.grad
        d -= learning_rate * d.grad
        a.grad = None
        b.grad = None
        c.grad = None
        d.grad = None

print(f'Result: y = {a.item()} + {b.item()} x + {c.item()} x^2 + {d.item()} x^3')
print(a.requires_grad, a.is_leaf, a.grad)
