"""PyTorch's "Automatic Differentiation with torch.autograd": Disabling Gradient Tracking."""
import tapegrad as torch

x = torch.ones(5)               # input tensor
w = torch.ones(5, 3, requires_grad=True)
b = torch.zeros(3, requires_grad=True)

z = torch.matmul(x, w) + b
print(z.requires_grad)

with torch.no_grad():
    z = torch.matmul(x, w) + b
print(z.requires_grad)

z = torch.matmul(x, w) + b
z_det = z.detach()
print(z_det.requires_grad)

# The same flags in the older "Autograd: Automatic Differentiation" blitz tutorial.
x = torch.tensor([1.0, 2.0, 3.0], requires_grad=True)
print(x.requires_grad)
print((x ** 2).requires_grad)
with torch.no_grad():
    print((x ** 2).requires_grad)
y = x.detach()
print(y.requires_grad, y.is_leaf, y.grad_fn)
print(y)
