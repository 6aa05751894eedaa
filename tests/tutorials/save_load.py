# Save and Load the Model (Learn the Basics), with a small MLP instead of torchvision's VGG16.
import torch
from torch import nn


def make_model():
    return nn.Sequential(nn.Flatten(), nn.Linear(16, 8), nn.ReLU(), nn.Dropout(0.5),
                         nn.Linear(8, 3))


model = make_model()
with torch.no_grad():
    for k, p in enumerate(model.parameters()):
        p.copy_(torch.linspace(-1, 1, p.numel()).reshape(p.shape) * (k + 1) / 4)
torch.save(model.state_dict(), 'model_weights.pth')

sd = model.state_dict()
print(list(sd.keys()))
print(type(sd).__name__, sd['1.bias'], sd['1.bias'].requires_grad)

model = make_model()
result = model.load_state_dict(torch.load('model_weights.pth', weights_only=True))
print(result)
print(model.eval())
print(model.training, model[3].training)

x = torch.arange(32, dtype=torch.float32).reshape(2, 4, 4) / 32
with torch.no_grad():
    print(model(x))
loaded = torch.load('model_weights.pth', weights_only=True)
print(sorted(loaded), loaded['4.weight'].shape, loaded['4.weight'].dtype)
print(torch.equal(loaded['1.weight'], model[1].weight))

torch.save({'epoch': 5, 'model_state_dict': model.state_dict(), 'loss': 0.25,
            'note': 'checkpoint'}, 'checkpoint.pth')
ck = torch.load('checkpoint.pth', weights_only=True)
print(sorted(ck), ck['epoch'], ck['loss'], ck['note'], ck['model_state_dict']['4.bias'])

opt = torch.optim.SGD(model.parameters(), lr=0.1, momentum=0.9)
model(x).sum().backward()
opt.step()
torch.save(opt.state_dict(), 'opt.pth')
osd = torch.load('opt.pth', weights_only=True)
opt2 = torch.optim.SGD(make_model().parameters(), lr=0.5)
opt2.load_state_dict(osd)
print(opt2.param_groups[0]['lr'], opt2.param_groups[0]['momentum'], len(opt2.state))
