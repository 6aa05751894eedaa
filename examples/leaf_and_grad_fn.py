"""The computational-graph lesson of introductory PyTorch courses: is_leaf, .grad and grad_fn."""
import tapegrad as torch

w = torch.tensor([1.0], requires_grad=True)
x = torch.tensor([2.0], requires_grad=True)
a = torch.add(w, x)
a.retain_grad()                 # keep the gradient of a non-leaf
b = torch.add(w, 1)
y = torch.mul(a, b)
y.backward()

print("is_leaf:\n", w.is_leaf, x.is_leaf, a.is_leaf, b.is_leaf, y.is_leaf)
print("gradient:\n", w.grad, x.grad, a.grad)
print("grad_fn:\n", w.grad_fn, x.grad_fn, a.grad_fn, b.grad_fn, y.grad_fn)
print(y.grad_fn.name(), y.grad_fn.next_functions)
