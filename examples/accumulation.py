"""The computational-graph lesson of introductory PyTorch courses: y = (x + w) * (w + 1)."""
import tapegrad as torch

w = torch.tensor([1.0], requires_grad=True)
x = torch.tensor([2.0], requires_grad=True)

# Gradients accumulate in .grad across backward calls: dy/dw = (w + 1) + (x + w) = 5.
for i in range(3):
    a = torch.add(w, x)
    b = torch.add(w, 1)
    y = torch.mul(a, b)
    y.backward()
    print(w.grad)

# Reset .grad in place after each step, as a training loop does.
w.grad.zero_()
for i in range(3):
    a = torch.add(w, x)
    b = torch.add(w, 1)
    y = torch.mul(a, b)
    y.backward()
    print(w.grad)
    w.grad.zero_()
print(w.grad, x.grad)
