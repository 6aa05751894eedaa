"""The first gradient of PyTorch's autograd tutorials: d/dx (x**2 + 3x + 1) at x = 2."""
import tapegrad as torch

x = torch.tensor([2.0], requires_grad=True)
y = x**2 + 3*x + 1
print(y)
y.backward()
print(x.grad)
