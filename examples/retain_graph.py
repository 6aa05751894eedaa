"""PyTorch autograd tutorials' retain_graph example: backward twice through y = x**2 at x = 3."""
import tapegrad as torch

x = torch.tensor([3.0], requires_grad=True)
y = x**2
y.backward(retain_graph=True)   # keep the saved x for a second pass
print(x.grad)                   # dy/dx = 2x = 6
y.backward()                    # gradients accumulate into .grad
print(x.grad)                   # 6 + 6 = 12

# Without retain_graph the graph was freed: a third backward raises.
try:
    y.backward()
except RuntimeError as e:
    print("RuntimeError:", str(e).split(" (")[0])
