# 60-minute blitz: Neural Networks. Conv2d/max_pool2d are replaced by Linear layers
# (tapegrad has no convolution yet); the rest of the program is the tutorial's.
import torch
import torch.nn as nn
import torch.nn.functional as F


class Net(nn.Module):

    def __init__(self):
        super(Net, self).__init__()
        self.conv1 = nn.Linear(32 * 32, 6 * 14 * 14)
        self.conv2 = nn.Linear(6 * 14 * 14, 16 * 5 * 5)
        self.fc1 = nn.Linear(16 * 5 * 5, 120)  # 5*5 from image dimension
        self.fc2 = nn.Linear(120, 84)
        self.fc3 = nn.Linear(84, 10)

    def forward(self, input):
        c1 = F.relu(self.conv1(torch.flatten(input, 1)))
        c3 = F.relu(self.conv2(c1))
        s4 = torch.flatten(c3, 1)
        f5 = F.relu(self.fc1(s4))
        f6 = F.relu(self.fc2(f5))
        output = self.fc3(f6)
        return output


torch.manual_seed(0)
net = Net()
print(net)

params = list(net.parameters())
print(len(params))
print(params[0].size())  # conv1's .weight
with torch.no_grad():  # fixed weights instead of the random default initialisation
    for k, p in enumerate(params):
        p.copy_(torch.sin(torch.arange(p.numel()) * 0.1 + k).reshape(p.shape) * 0.05)

input = torch.randn(1, 1, 32, 32)
input = torch.cos(torch.arange(32 * 32) * 0.05).reshape(1, 1, 32, 32)
out = net(input)
print(out)

net.zero_grad()
out.backward(torch.linspace(-1, 1, 10).reshape(1, 10))
print(net.fc3.bias.grad)

output = net(input)
target = torch.randn(10)  # a dummy target, for example
target = torch.arange(10.0) / 10
target = target.view(1, -1)  # make it the same shape as output
criterion = nn.MSELoss()

loss = criterion(output, target)
print(loss)

print(loss.grad_fn)  # MSELoss
print(loss.grad_fn.next_functions[0][0])  # Linear
print(loss.grad_fn.next_functions[0][0].next_functions[0][0])  # ReLU

net.zero_grad()     # zeroes the gradient buffers of all parameters

print('conv1.bias.grad before backward')
print(net.conv1.bias.grad)

loss.backward()

print('conv1.bias.grad after backward')
print(net.conv1.bias.grad[:6])

learning_rate = 0.01
for f in net.parameters():
    f.data.sub_(f.grad.data * learning_rate)

import torch.optim as optim

# create your optimizer
optimizer = optim.SGD(net.parameters(), lr=0.01)

# in your training loop:
optimizer.zero_grad()   # zero the gradient buffers
output = net(input)
loss = criterion(output, target)
loss.backward()
optimizer.step()    # Does the update
print(loss, net(input))
