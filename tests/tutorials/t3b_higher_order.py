# Higher-order derivatives: autograd.grad(create_graph=True), autograd.functional
# (hessian, jacobian, jvp, vjp, hvp), Newton's method, a gradient penalty,
# retain_graph reuse and .grad accumulation.
import numpy as np
import torch
from torch.autograd.functional import hessian, hvp, jacobian, jvp, vhp, vjp


def show(e):
    """An exception's type and the first line of its message, up to any added detail."""
    print(type(e).__name__ + ":", str(e).splitlines()[0].split(" (")[0])


print("---- derivatives of x**3 + sin(x)")
x = torch.tensor(1.5, requires_grad=True)
y = x ** 3 + torch.sin(x)
(dy,) = torch.autograd.grad(y, x, create_graph=True)
(d2y,) = torch.autograd.grad(dy, x, create_graph=True)
(d3y,) = torch.autograd.grad(d2y, x)
print(dy, d2y, d3y)
print(dy.grad_fn is not None, d3y.requires_grad, 3 * 1.5 ** 2 + np.cos(1.5), 6 * 1.5 - np.sin(1.5))
xs = torch.linspace(-2, 2, 5, requires_grad=True)
f = torch.tanh(xs)
g1 = torch.autograd.grad(f.sum(), xs, create_graph=True)[0]
g2 = torch.autograd.grad(g1.sum(), xs, create_graph=True)[0]
g3 = torch.autograd.grad(g2.sum(), xs)[0]
print(g1.detach(), g2.detach(), g3, sep="\n")
print(g1.grad_fn.name(), g2.requires_grad, g3.requires_grad)
try:
    torch.autograd.grad(torch.autograd.grad((xs ** 2).sum(), xs)[0].sum(), xs)
except RuntimeError as e:
    show(e)
z = torch.tensor([1.0, 2.0], requires_grad=True)
u = torch.tensor([3.0], requires_grad=True)
gz, gu = torch.autograd.grad((z ** 2).sum() * u, [z, u], create_graph=True)
print(gz, gu, torch.autograd.grad(gz.sum(), u, retain_graph=True))
print(torch.autograd.grad(gz.sum(), [z, u], allow_unused=True))
try:
    torch.autograd.grad((z * 2).sum(), [z, u])
except RuntimeError as e:
    show(e)
print(torch.autograd.grad((z * 2).sum(), [z, u], allow_unused=True, materialize_grads=True))

print("---- autograd.functional")


def rosen(p):
    return (1 - p[0]) ** 2 + 100 * (p[1] - p[0] ** 2) ** 2


p0 = torch.tensor([-1.0, 1.5], dtype=torch.float64)
H = hessian(rosen, p0)
print(H, H.dtype, H.requires_grad)


def field(v):
    return torch.stack([v[0] * v[1], torch.exp(v[0]) - v[2], v.pow(2).sum()])


v0 = torch.tensor([0.5, -1.0, 2.0])
J = jacobian(field, v0)
print(J, jacobian(field, v0, vectorize=False).equal(J))
print(jacobian(lambda a, b: a * b + b, (torch.tensor([1.0, 2.0]), torch.tensor([3.0, 4.0]))))
out, jv = jvp(field, v0, torch.tensor([1.0, 0.0, 0.0]))
print(out, jv)
out, vj = vjp(field, v0, torch.tensor([1.0, 1.0, 1.0]))
print(out, vj)
val, hv = hvp(rosen, p0, torch.tensor([1.0, 0.0], dtype=torch.float64))
print(val, hv, H @ torch.tensor([1.0, 0.0], dtype=torch.float64))
print(vhp(rosen, p0, torch.tensor([0.0, 1.0], dtype=torch.float64))[1])
print(hessian(lambda a, b: (a * b ** 2).sum(), (torch.tensor([1.0]), torch.tensor([2.0]))))
Jc = jacobian(field, v0, create_graph=True)
print(Jc.requires_grad, jacobian(lambda t: t ** 2, torch.ones(2, requires_grad=True)).requires_grad)

print("---- Newton's method")
p = torch.tensor([-1.2, 1.0], dtype=torch.float64, requires_grad=True)
for it in range(8):
    f = rosen(p)
    (g,) = torch.autograd.grad(f, p, create_graph=True)
    Hm = torch.stack([torch.autograd.grad(g[i], p, retain_graph=True)[0] for i in range(2)])
    with torch.no_grad():
        step = torch.linalg.solve(Hm, g)
        p -= step
    print(it, f"{f.item():.10f}", [round(c, 8) for c in p.tolist()], f"{g.norm().item():.6e}")

print("---- gradient penalty (WGAN-GP style)")
rng = np.random.default_rng(1)
W1 = torch.tensor(rng.standard_normal((4, 8)) * 0.5, dtype=torch.float32, requires_grad=True)
W2 = torch.tensor(rng.standard_normal((8, 1)) * 0.5, dtype=torch.float32, requires_grad=True)


def critic(inp):
    return torch.tanh(inp @ W1) @ W2


real = torch.tensor(rng.standard_normal((6, 4)), dtype=torch.float32)
fake = torch.tensor(rng.standard_normal((6, 4)) + 1, dtype=torch.float32)
alpha = torch.tensor(rng.random((6, 1)), dtype=torch.float32)
interp = (alpha * real + (1 - alpha) * fake).requires_grad_(True)
d_interp = critic(interp)
grads = torch.autograd.grad(outputs=d_interp, inputs=interp, grad_outputs=torch.ones_like(d_interp),
                            create_graph=True, retain_graph=True)[0]
gp = ((grads.norm(2, dim=1) - 1) ** 2).mean()
loss = critic(fake).mean() - critic(real).mean() + 10 * gp
loss.backward()
print(grads.shape, f"{gp.item():.6f}", f"{loss.item():.6f}", gp.grad_fn)
print(W1.grad.norm().item(), W2.grad.view(-1))

print("---- retain_graph and accumulation")
a = torch.tensor([1.0, 2.0, 3.0], requires_grad=True)
b = (a ** 2).sum()
b.backward(retain_graph=True)
print(a.grad)
b.backward(retain_graph=True)
print(a.grad)
a.grad.zero_()
b.backward()
print(a.grad)
try:
    b.backward()
except RuntimeError as e:
    show(e)
c = (a + 3).sum()
c.backward()
c.backward()  # nothing saved: a second sweep works and accumulates
print(a.grad)
a.grad = None
for _ in range(3):
    (a.exp().sum()).backward()
print(a.grad, torch.allclose(a.grad, 3 * a.exp()))
a.grad.zero_()
d = a.pow(3).sum()
(ga,) = torch.autograd.grad(d, a, create_graph=True)
ga.sum().backward()
print(a.grad, ga)
a.grad = None
e = a * 2
e.retain_grad()
(e ** 2).sum().backward()
print(e.grad, a.grad, e.is_leaf, a.is_leaf)
w = torch.ones(2, requires_grad=True)
hook_out = []
w.register_hook(lambda grad: hook_out.append(grad.clone()))
(w * torch.tensor([2.0, 3.0])).sum().backward()
print(hook_out, w.grad)
s = torch.tensor([0.5, 1.5], requires_grad=True)
t = s.exp()
t.mul_(2)  # exp saved its output: the backward refuses
try:
    t.sum().backward()
except RuntimeError as e:
    print("RuntimeError:", str(e).split(" Hint")[0])
print(t.grad_fn, t._version if hasattr(t, "_version") else None)
