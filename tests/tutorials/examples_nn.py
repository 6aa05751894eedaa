# Learning PyTorch with Examples: the nn version.
import math

import torch

x = torch.linspace(-math.pi, math.pi, 2000)
y = torch.sin(x)

p = torch.tensor([1, 2, 3])
xx = x.unsqueeze(-1).pow(p)
print(p.dtype, xx.shape, xx.dtype, xx[1])

model = torch.nn.Sequential(
    torch.nn.Linear(3, 1),
    torch.nn.Flatten(0, 1)
)
print(model)
print(model[0], model[1], len(model))
print([(n, tuple(q.shape)) for n, q in model.named_parameters()])
with torch.no_grad():  # fixed weights instead of the random default initialisation
    model[0].weight.copy_(torch.tensor([[-0.1, 0.05, 0.02]]))
    model[0].bias.fill_(0.1)
print(model[0].weight, model[0].bias)

loss_fn = torch.nn.MSELoss(reduction='sum')
print(loss_fn)

learning_rate = 1e-6
for t in range(2000):
    y_pred = model(xx)
    loss = loss_fn(y_pred, y)
    if t % 100 == 99:
        print(t, loss.item())
    if t == 0:
        print(y_pred.shape, y_pred.grad_fn.name(), loss.grad_fn.name())
    model.zero_grad()
    loss.backward()
    with torch.no_grad():
        for param in model.parameters():
            param -= learning_rate * param.grad

linear_layer = model[0]
print(f'Result: y = {linear_layer.bias.item()} + {linear_layer.weight[:, 0].item()} x + '
      f'{linear_layer.weight[:, 1].item()} x^2 + {linear_layer.weight[:, 2].item()} x^3')
print(linear_layer.weight.grad.shape, linear_layer.bias.grad.shape)
