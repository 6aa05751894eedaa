# "Training a Classifier" (CIFAR-10 CNN) on synthetic 32x32 images, then a small conv
# autoencoder with ConvTranspose2d, MaxPool2d(return_indices=True), BatchNorm2d, Dropout2d.
# (MaxUnpool2d is left out: tapegrad does not have it yet.)
import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F
import torch.optim as optim

rng = np.random.default_rng(10)


def fill(model, scale=0.2):
    """Every parameter from NumPy (uniform in +-scale*3/sqrt(fan_in)); buffers kept."""
    sd = model.state_dict()
    for k, v in model.named_parameters():
        fan = max(1, v[0].numel()) if v.dim() > 1 else max(1, v.numel())
        sd[k] = torch.tensor(rng.uniform(-1, 1, tuple(v.shape)) * scale * 3 / np.sqrt(fan),
                             dtype=torch.float32)
    model.load_state_dict(sd)


classes = ('plane', 'car', 'bird', 'cat', 'deer', 'dog', 'frog', 'horse', 'ship', 'truck')


class Net(nn.Module):
    def __init__(self):
        super().__init__()
        self.conv1 = nn.Conv2d(3, 6, 5)
        self.pool = nn.MaxPool2d(2, 2)
        self.conv2 = nn.Conv2d(6, 16, 5)
        self.fc1 = nn.Linear(16 * 5 * 5, 120)
        self.fc2 = nn.Linear(120, 84)
        self.fc3 = nn.Linear(84, 10)

    def forward(self, x):
        x = self.pool(F.relu(self.conv1(x)))
        x = self.pool(F.relu(self.conv2(x)))
        x = torch.flatten(x, 1)  # flatten all dimensions except batch
        x = F.relu(self.fc1(x))
        x = F.relu(self.fc2(x))
        x = self.fc3(x)
        return x


net = Net()
fill(net)
print(net)
print(list(net.state_dict().keys()))
print(sum(p.numel() for p in net.parameters()), [tuple(p.shape) for p in net.parameters()][:4])

# two mini-batches of 4 "images", normalized as transforms.Normalize((0.5,)*3, (0.5,)*3) does
images = [torch.tensor((rng.random((4, 3, 32, 32)) - 0.5) / 0.5, dtype=torch.float32)
          for _ in range(2)]
labels = [torch.tensor([3, 8, 8, 0]), torch.tensor([6, 1, 6, 3])]
print(images[0].shape, images[0].dtype, labels[0].dtype,
      ' '.join(f'{classes[labels[0][j]]:5s}' for j in range(4)))

criterion = nn.CrossEntropyLoss()
optimizer = optim.SGD(net.parameters(), lr=0.01, momentum=0.9)

for epoch in range(3):
    running_loss = 0.0
    for i, data in enumerate(zip(images, labels), 0):
        inputs, lbls = data
        optimizer.zero_grad()
        outputs = net(inputs)
        loss = criterion(outputs, lbls)
        loss.backward()
        optimizer.step()
        running_loss += loss.item()
        print(f'[{epoch + 1}, {i + 1:5d}] loss: {loss.item():.6f}')
    print(f'epoch {epoch + 1} running loss: {running_loss / 2:.6f}')
print('Finished Training', outputs.grad_fn, loss.grad_fn)
print(net.conv1.weight.grad.shape, net.conv1.weight.grad.norm().item(), net.fc3.bias.grad)

with torch.no_grad():
    outputs = net(images[0])
print(outputs.requires_grad, outputs.shape)
_, predicted = torch.max(outputs, 1)
print('Predicted: ', ' '.join(f'{classes[predicted[j]]:5s}' for j in range(4)))
print(outputs.max(1), outputs.max(1).indices.tolist(), outputs.argmax(dim=1))
print(torch.softmax(outputs, dim=1).sum(1), F.softmax(outputs, 1)[0])

correct = 0
total = 0
correct_pred = {classname: 0 for classname in classes}
total_pred = {classname: 0 for classname in classes}
with torch.no_grad():
    for images_b, labels_b in zip(images, labels):
        outputs = net(images_b)
        _, predicted = torch.max(outputs.data, 1)
        total += labels_b.size(0)
        correct += (predicted == labels_b).sum().item()
        for label, prediction in zip(labels_b, predicted):
            if label == prediction:
                correct_pred[classes[label]] += 1
            total_pred[classes[label]] += 1
print(f'Accuracy of the network on the 8 test images: {100 * correct // total} %')
for classname, correct_count in correct_pred.items():
    if total_pred[classname] == 0:
        continue
    accuracy = 100 * float(correct_count) / total_pred[classname]
    print(f'Accuracy for class: {classname:5s} is {accuracy:.1f} %')
print(correct_pred, total_pred)


class AutoEncoder(nn.Module):
    def __init__(self):
        super().__init__()
        self.enc = nn.Sequential(nn.Conv2d(3, 8, 3, padding=1, bias=False), nn.BatchNorm2d(8),
                                 nn.ReLU(),
                                 nn.Dropout2d(0.25))
        self.pool = nn.MaxPool2d(2, return_indices=True)
        self.enc2 = nn.Sequential(nn.Conv2d(8, 4, 3, stride=2, padding=1), nn.ReLU())
        self.dec = nn.Sequential(nn.ConvTranspose2d(4, 8, 4, stride=2, padding=1), nn.ReLU(),
                                 nn.ConvTranspose2d(8, 3, 2, stride=2), nn.Tanh())

    def forward(self, x):
        h = self.enc(x)
        h, idx = self.pool(h)
        z = self.enc2(h)
        return self.dec(z), z, idx


ae = AutoEncoder()
fill(ae, 0.5)
print(ae)
print([k for k in ae.state_dict()])
x = images[0][:, :, :16, :16].contiguous()
ae.eval()
with torch.no_grad():
    rec, z, idx = ae(x)
print(rec.shape, z.shape, idx.shape, idx.dtype, idx[0, 0, :2], F.mse_loss(rec, x).item())
ae.train()
opt = optim.Adam(ae.parameters(), lr=1e-2)
bn = ae.enc[1]
ae.enc[3].p = 0.0  # dropout off in training too, so that both libraries draw nothing
for step in range(4):
    opt.zero_grad()
    rec, z, _ = ae(x)
    loss = F.mse_loss(rec, x)
    loss.backward()
    opt.step()
    print(step, f'{loss.item():.6f}', f'{bn.running_mean.norm().item():.6f}',
          bn.num_batches_tracked.item())
print(bn.running_var[:3], bn.weight.grad[:3], rec.grad_fn)
ae.enc[3].p = 0.25
ae.eval()
with torch.no_grad():
    out_eval, _, _ = ae(x)
    drop = nn.Dropout2d(0.5)
    drop.eval()
    print(torch.equal(drop(x), x), ae.training, bn.training, ae.enc[3].training)
print(out_eval[0, 0, 0, :4], F.mse_loss(out_eval, x).item())
up = nn.ConvTranspose2d(2, 1, 3, stride=2, padding=1, output_padding=1)
fill(up)
y = up(torch.ones(1, 2, 3, 3))
print(y.shape, y.grad_fn, y[0, 0, :2])
pool_y, pool_i = F.max_pool2d(torch.arange(16.0).view(1, 1, 4, 4), 2, return_indices=True)
print(pool_y, pool_i)
