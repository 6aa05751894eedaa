"""PyTorch's "Autograd: Automatic Differentiation" blitz tutorial: vector-Jacobian products."""
import tapegrad as torch

x = torch.tensor([0.5, -1.0, 2.0], requires_grad=True)   # the tutorial uses torch.randn(3)
y = x * 2
while (y.data * y.data).sum().sqrt().item() < 1000:      # the tutorial's y.data.norm() < 1000
    y = y * 2
print(y)

v = torch.tensor([0.1, 1.0, 0.0001], dtype=torch.float)
y.backward(v)                   # x.grad = v^T J = 512 * v
print(x.grad)

# "A Gentle Introduction to torch.autograd": Q = 3a^3 - b^2 with an external gradient.
a = torch.tensor([2., 3.], requires_grad=True)
b = torch.tensor([6., 4.], requires_grad=True)
Q = 3*a**3 - b**2
external_grad = torch.tensor([1., 1.])
Q.backward(gradient=external_grad)
print(a.grad)                   # 9 a^2
print(b.grad)                   # -2 b
