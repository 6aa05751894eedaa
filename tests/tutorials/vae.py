# pytorch/examples: the variational auto-encoder (main.py) on synthetic 28x28 "images".
# torch.randn_like in reparameterize is replaced by fixed noise, and the data and weights
# come from NumPy, so that every library computes the same numbers.
import numpy as np
import torch
import torch.utils.data
from torch import nn, optim
from torch.nn import functional as F

batch_size = 32
epochs = 2
log_interval = 2
torch.manual_seed(1)
device = torch.device("cpu")
rng = np.random.default_rng(7)

train_images = torch.from_numpy(rng.random((128, 1, 28, 28)).astype(np.float32) ** 3)
test_images = torch.from_numpy(rng.random((64, 1, 28, 28)).astype(np.float32) ** 3)
kwargs = {}
train_loader = torch.utils.data.DataLoader(
    torch.utils.data.TensorDataset(train_images, torch.zeros(128, dtype=torch.long)),
    batch_size=batch_size, shuffle=False, **kwargs)
test_loader = torch.utils.data.DataLoader(
    torch.utils.data.TensorDataset(test_images, torch.zeros(64, dtype=torch.long)),
    batch_size=batch_size, shuffle=False, **kwargs)

# the noise of the reparameterization trick, one batch's worth, reused by every batch
EPS = torch.from_numpy(rng.standard_normal((batch_size, 20)).astype(np.float32))


class VAE(nn.Module):
    def __init__(self):
        super(VAE, self).__init__()

        self.fc1 = nn.Linear(784, 400)
        self.fc21 = nn.Linear(400, 20)
        self.fc22 = nn.Linear(400, 20)
        self.fc3 = nn.Linear(20, 400)
        self.fc4 = nn.Linear(400, 784)

    def encode(self, x):
        h1 = F.relu(self.fc1(x))
        return self.fc21(h1), self.fc22(h1)

    def reparameterize(self, mu, logvar):
        std = torch.exp(0.5*logvar)
        eps = EPS[:std.size(0)]  # torch.randn_like(std) in the example
        return mu + eps*std

    def decode(self, z):
        h3 = F.relu(self.fc3(z))
        return torch.sigmoid(self.fc4(h3))

    def forward(self, x):
        mu, logvar = self.encode(x.view(-1, 784))
        z = self.reparameterize(mu, logvar)
        return self.decode(z), mu, logvar


model = VAE().to(device)
state = {}
for k, v in model.state_dict().items():
    bound = 1 / np.sqrt(v.shape[-1]) if v.dim() == 2 else 0.05
    state[k] = torch.from_numpy(rng.uniform(-bound, bound, tuple(v.shape)).astype(np.float32))
print(model.load_state_dict(state))
optimizer = optim.Adam(model.parameters(), lr=1e-3)


# Reconstruction + KL divergence losses summed over all elements and batch
def loss_function(recon_x, x, mu, logvar):
    BCE = F.binary_cross_entropy(recon_x, x.view(-1, 784), reduction='sum')

    # see Appendix B from VAE paper:
    # Kingma and Welling. Auto-Encoding Variational Bayes. ICLR, 2014
    # https://arxiv.org/abs/1312.6114
    # 0.5 * sum(1 + log(sigma^2) - mu^2 - sigma^2)
    KLD = -0.5 * torch.sum(1 + logvar - mu.pow(2) - logvar.exp())

    return BCE + KLD


def train(epoch):
    model.train()
    train_loss = 0
    for batch_idx, (data, _) in enumerate(train_loader):
        data = data.to(device)
        optimizer.zero_grad()
        recon_batch, mu, logvar = model(data)
        loss = loss_function(recon_batch, data, mu, logvar)
        loss.backward()
        train_loss += loss.item()
        optimizer.step()
        if batch_idx % log_interval == 0:
            print('Train Epoch: {} [{}/{} ({:.0f}%)]\tLoss: {:.6f}'.format(
                epoch, batch_idx * len(data), len(train_loader.dataset),
                100. * batch_idx / len(train_loader),
                loss.item() / len(data)))

    print('====> Epoch: {} Average loss: {:.4f}'.format(
          epoch, train_loss / len(train_loader.dataset)))


def test(epoch):
    model.eval()
    test_loss = 0
    with torch.no_grad():
        for i, (data, _) in enumerate(test_loader):
            data = data.to(device)
            recon_batch, mu, logvar = model(data)
            test_loss += loss_function(recon_batch, data, mu, logvar).item()
            if i == 0:
                n = min(data.size(0), 8)
                comparison = torch.cat([data[:n],
                                        recon_batch.view(batch_size, 1, 28, 28)[:n]])
                # save_image(comparison.cpu(), 'results/reconstruction_' + str(epoch) + '.png', nrow=n)
                print(comparison.shape, f"{comparison.mean().item():.5f}")

    test_loss /= len(test_loader.dataset)
    print('====> Test set loss: {:.4f}'.format(test_loss))


for epoch in range(1, epochs + 1):
    train(epoch)
    test(epoch)
    with torch.no_grad():
        sample = EPS.repeat(2, 1)  # torch.randn(64, 20) in the example
        sample = model.decode(sample).cpu()
        # save_image(sample.view(64, 1, 28, 28), 'results/sample_' + str(epoch) + '.png')
        print(sample.view(64, 1, 28, 28).shape, sample[0, :4])
print(optimizer.state_dict()["state"][0]["step"], sorted(optimizer.state_dict()["state"][0]))
