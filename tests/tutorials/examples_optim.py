# Learning PyTorch with Examples: the optim version (RMSprop).
import math

import torch

x = torch.linspace(-math.pi, math.pi, 2000)
y = torch.sin(x)

p = torch.tensor([1, 2, 3])
xx = x.unsqueeze(-1).pow(p)

model = torch.nn.Sequential(
    torch.nn.Linear(3, 1),
    torch.nn.Flatten(0, 1)
)
with torch.no_grad():
    model[0].weight.copy_(torch.tensor([[-0.1, 0.05, 0.02]]))
    model[0].bias.fill_(0.1)
loss_fn = torch.nn.MSELoss(reduction='sum')

learning_rate = 1e-3
optimizer = torch.optim.RMSprop(model.parameters(), lr=learning_rate)
print(optimizer)
# 200 steps, not the tutorial's 2000: from about 300 steps on RMSprop divides the rounding
# noise of the (ideally zero) gradients of the even terms by their tiny running average,
# so the last digits of any two float implementations (or of PyTorch in float32 and in
# float64) part ways there.
for t in range(200):
    y_pred = model(xx)
    loss = loss_fn(y_pred, y)
    if t % 20 == 19:
        print(t, loss.item())
    optimizer.zero_grad()
    loss.backward()
    optimizer.step()

linear_layer = model[0]
print(f'Result: y = {linear_layer.bias.item()} + {linear_layer.weight[:, 0].item()} x + '
      f'{linear_layer.weight[:, 1].item()} x^2 + {linear_layer.weight[:, 2].item()} x^3')
sd = optimizer.state_dict()
print(sorted(sd), sd['param_groups'][0]['lr'], sorted(sd['state'][0]), sd['state'][0]['step'])
