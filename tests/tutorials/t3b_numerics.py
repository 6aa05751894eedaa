# Numerically delicate spots users run into: large logits, saturation, kinks, inf/nan
# gradients, integer division of negatives, float32 vs float64 printing.
import torch
import torch.nn.functional as F


def grad_of(fn, values, dtype=torch.float32):
    x = torch.tensor(values, dtype=dtype, requires_grad=True)
    y = fn(x)
    y.sum().backward()
    return y.detach(), x.grad


print("---- softmax / log_softmax / logsumexp of large logits")
big = torch.tensor([[1000.0, 1001.0, 1002.0], [-1000.0, 0.0, 1000.0]])
print(F.softmax(big, dim=1), F.log_softmax(big, dim=1))
print(torch.log(torch.exp(big).sum(1)), torch.logsumexp(big, dim=1), big.logsumexp(0))
naive = torch.exp(big) / torch.exp(big).sum(1, keepdim=True)
print(naive, torch.isnan(naive).any())
print(torch.logsumexp(torch.tensor([-float("inf"), -float("inf")]), 0),
      torch.logsumexp(torch.tensor([float("inf"), 1.0]), 0))
print(F.cross_entropy(big, torch.tensor([2, 0])), F.log_softmax(torch.tensor([1e-30, 0.0]), 0))
y, g = grad_of(lambda t: F.log_softmax(t, 0)[0], [1000.0, 0.0, -1000.0])
print(y, g)
y, g = grad_of(lambda t: torch.logsumexp(t, 0), [88.0, 89.0, -float("inf")])
print(y, g)

print("---- softplus thresholds")
sp_in = [-30.0, -1.0, 0.0, 1.0, 19.0, 20.0, 21.0, 100.0]
print(F.softplus(torch.tensor(sp_in)))
print(F.softplus(torch.tensor(sp_in), beta=2.0, threshold=5.0))
y, g = grad_of(F.softplus, sp_in)
print(g)
y, g = grad_of(lambda t: F.softplus(t, beta=0.5, threshold=3.0), [5.0, 6.0, 7.0])
print(y, g)
print(torch.log1p(torch.exp(torch.tensor([100.0]))), torch.log1p(torch.tensor([1e-10])),
      torch.log(1 + torch.tensor([1e-10])))
print(torch.expm1(torch.tensor([1e-10])), torch.exp(torch.tensor([1e-10])) - 1)

print("---- saturation")
sat = [-100.0, -20.0, -5.0, 0.0, 5.0, 20.0, 100.0]
y, g = grad_of(torch.sigmoid, sat)
print(y, g, sep="\n")
y, g = grad_of(torch.tanh, sat)
print(y, g, sep="\n")
y, g = grad_of(torch.sigmoid, sat, torch.float64)
print(g)
y, g = grad_of(lambda t: F.logsigmoid(t), sat)
print(y, g, sep="\n")
print(F.binary_cross_entropy_with_logits(torch.tensor([100.0, -100.0]), torch.tensor([0.0, 1.0])))
print(F.binary_cross_entropy(torch.sigmoid(torch.tensor([100.0, -100.0])),
                             torch.tensor([0.0, 1.0])))

print("---- sqrt, log, pow at 0")
y, g = grad_of(torch.sqrt, [0.0, 1e-12, 4.0])
print(y, g)
y, g = grad_of(lambda t: torch.sqrt(t ** 2), [0.0, -3.0])
print(g)
y, g = grad_of(lambda t: torch.norm(t), [0.0, 0.0])
print(y, g)
y, g = grad_of(lambda t: (t ** 2).sum().sqrt(), [0.0, 0.0])
print(y, g)
y, g = grad_of(torch.log, [0.0, 1.0])
print(y, g)
y, g = grad_of(lambda t: t ** 0.5, [0.0])
print(g)
y, g = grad_of(lambda t: t ** 0, [0.0, 2.0])
print(y, g)
y, g = grad_of(lambda t: t ** 2, [0.0])
print(g)
y, g = grad_of(lambda t: torch.sqrt(t), [-1.0])
print(y, g)
y, g = grad_of(lambda t: torch.where(t > 0, torch.sqrt(t), torch.zeros_like(t)), [0.0, 4.0])
print(y, g)
y, g = grad_of(lambda t: torch.sqrt(torch.clamp(t, min=1e-8)), [0.0, 4.0])
print(y, g)

print("---- nan_to_num, isfinite, isnan")
bad = torch.tensor([1.0, float("nan"), float("inf"), -float("inf"), -0.0])
print(torch.nan_to_num(bad), torch.nan_to_num(bad, nan=0.0, posinf=1e4, neginf=-1e4))
print(bad.nan_to_num(nan=-1.0), torch.isfinite(bad), torch.isnan(bad), torch.isinf(bad),
      torch.isposinf(bad))
print(bad[torch.isfinite(bad)], torch.nansum(bad[:2]),
      torch.nanmean(torch.tensor([1.0, float("nan"), 3.0])))
print(torch.tensor([0.0]) / 0, torch.tensor([1.0]) / 0, torch.tensor([-1.0]) / 0,
      torch.tensor(float("nan")) == float("nan"))
print(torch.finfo(torch.float32).eps, torch.finfo(torch.float32).max,
      torch.finfo(torch.float64).tiny, torch.finfo(torch.float32).min)
print(torch.iinfo(torch.int64).max, torch.iinfo(torch.int32).min)

print("---- clamp, abs, relu, max at kinks")
y, g = grad_of(lambda t: t.clamp(-1.0, 1.0), [-2.0, -1.0, 0.0, 1.0, 2.0])
print(y, g)
y, g = grad_of(lambda t: t.clamp(min=0.0), [-1.0, 0.0, 1.0])
print(g)
y, g = grad_of(lambda t: torch.clamp(t, max=0.5), [0.5, 0.6])
print(g)
y, g = grad_of(torch.abs, [-1.0, 0.0, 2.0])
print(y, g)
y, g = grad_of(torch.relu, [-1.0, 0.0, 1.0])
print(g)
y, g = grad_of(F.leaky_relu, [-1.0, 0.0, 1.0])
print(g)
y, g = grad_of(lambda t: F.hardtanh(t), [-1.0, 0.0, 1.0])
print(g)
y, g = grad_of(lambda t: t.max(), [1.0, 3.0, 3.0, 2.0])
print(y, g)
y, g = grad_of(lambda t: t.max(dim=0).values, [1.0, 3.0, 3.0, 2.0])
print(y, g)
y, g = grad_of(lambda t: t.amax(0), [1.0, 3.0, 3.0, 2.0])
print(y, g)
y, g = grad_of(lambda t: torch.maximum(t, torch.tensor([3.0, 3.0, 0.0, 0.0])), [1.0, 3.0, 3.0, 2.0])
print(g)
y, g = grad_of(lambda t: t.min(), [2.0, 2.0])
print(g)
y, g = grad_of(lambda t: t.view(2, 2).max(dim=1).values, [5.0, 5.0, 1.0, 7.0])
print(y, g)
y, g = grad_of(lambda t: t.median(), [1.0, 2.0, 2.0, 3.0])
print(y, g)
y, g = grad_of(lambda t: t.sign() * t, [-2.0, 0.0, 2.0])
print(g)
y, g = grad_of(lambda t: t.round() + t.floor() + t.ceil(), [0.5, 1.5, 2.3])
print(y, g)

print("---- integer division and remainder of negatives")
a = torch.tensor([7, -7, 7, -7])
b = torch.tensor([2, 2, -2, -2])
print(a // b, torch.div(a, b, rounding_mode="floor"), torch.div(a, b, rounding_mode="trunc"), a / b)
print(a % b, torch.remainder(a, b), torch.fmod(a, b), torch.floor_divide(a, b))
af = a.float()
print(af // 2, af % 2, torch.fmod(af, -2), torch.remainder(af, -2.5), -7.5 % 2)
print(torch.tensor([-3.5, 3.5, -2.5, 2.5, 0.5]).round(), torch.tensor([-3.7, 3.7]).trunc(),
      torch.tensor([-3.7]).floor())
print(torch.tensor([5.0]) // 0, torch.tensor([-5.0]) % 0)
try:
    torch.tensor([5]) // torch.tensor([0])
except RuntimeError as e:
    print("RuntimeError:", str(e).splitlines()[0])
print(torch.tensor([2 ** 31]) * 2, torch.tensor([100], dtype=torch.int32) * 10 ** 7,
      torch.tensor([3], dtype=torch.uint8) - 5)

print("---- float32 vs float64")
third32, third64 = torch.tensor(1.0) / 3, torch.tensor(1.0, dtype=torch.float64) / 3
print(third32, third64, third32.item(), third64.item())
print(torch.tensor([0.1]) + torch.tensor([0.2]), (torch.tensor([0.1]) + torch.tensor([0.2])).item())
print(torch.tensor([0.1], dtype=torch.float64) + 0.2,
      (torch.tensor([0.1], dtype=torch.float64) + 0.2).item())
print(torch.tensor(16777217.0), torch.tensor(16777217.0, dtype=torch.float64),
      torch.tensor(16777217.0).item())
print(torch.tensor([1e-45, 1e-40, 3e38, 4e38]), torch.tensor([1e-320, 1e308], dtype=torch.float64))
print(torch.tensor([123456.789]), torch.tensor([123456.789], dtype=torch.float64),
      torch.tensor([1.23456789e-5]))
print(torch.tensor([1.0, 1e5]), torch.tensor([1.0, 1e-5]), torch.tensor([1.0, 1e8]),
      torch.tensor([0.001, 1000.0]))
print(torch.tensor(1e-5) + 1 == 1, torch.tensor(1e-8) + 1 == 1,
      torch.tensor(1e-8, dtype=torch.float64) + 1 == 1)
print((torch.arange(10, dtype=torch.float32) * 0.1).sum().item(),
      (torch.arange(10, dtype=torch.float64) * 0.1).sum().item())
print(torch.tensor([3.14159265358979]).double(),
      torch.tensor([3.14159265358979], dtype=torch.float64).float())
print(torch.tensor(2.0) ** 0.5, torch.tensor(2.0, dtype=torch.float64) ** 0.5,
      torch.tensor(1e20).exp(), torch.tensor(-1e20).exp())
print(torch.exp(torch.tensor([88.0, 89.0, 709.0])),
      torch.exp(torch.tensor([709.0, 710.0], dtype=torch.float64)))
for bad_div in (lambda: torch.tensor([5, -3]) % 0, lambda: torch.fmod(torch.tensor([5]), 0),
                lambda: torch.tensor([7]) // torch.tensor([0])):
    try:
        bad_div()
    except RuntimeError as e:
        print("RuntimeError:", e)
y, g = grad_of(lambda t: torch.median(t.view(2, 2), dim=1).values, [5.0, 5.0, 1.0, 7.0])
print(y, g)
y, g = grad_of(lambda t: torch.nansum(t), [1.0, float("nan"), 2.0])
print(y, g)
y, g = grad_of(lambda t: torch.nanmean(t), [1.0, float("nan"), 2.0])
print(y, g, torch.isposinf(torch.tensor([float("inf"), -float("inf")])))
