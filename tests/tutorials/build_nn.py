# Build the Neural Network (Learn the Basics).
import numpy as np
import torch
from torch import nn

device = torch.accelerator.current_accelerator().type if torch.accelerator.is_available() else "cpu"
print(f"Using {device} device")


class NeuralNetwork(nn.Module):
    def __init__(self):
        super().__init__()
        self.flatten = nn.Flatten()
        self.linear_relu_stack = nn.Sequential(
            nn.Linear(28*28, 512),
            nn.ReLU(),
            nn.Linear(512, 512),
            nn.ReLU(),
            nn.Linear(512, 10),
        )

    def forward(self, x):
        x = self.flatten(x)
        logits = self.linear_relu_stack(x)
        return logits


def fixed_init(module):
    """Deterministic weights (instead of the random default initialisation)."""
    with torch.no_grad():
        for k, p in enumerate(module.parameters()):
            n = p.numel()
            vals = np.sin(np.arange(n) * 0.37 + k) * (1.0 / np.sqrt(p.shape[-1]))
            p.copy_(torch.from_numpy(vals.astype(np.float32)).reshape(p.shape))


model = NeuralNetwork().to(device)
print(model)
fixed_init(model)

X = torch.rand(1, 28, 28, device=device)
print(X.shape, X.dtype, X.device, bool((X >= 0).all()), bool((X < 1).all()))
X = torch.linspace(0, 1, 784).reshape(1, 28, 28)
logits = model(X)
print(logits.shape, logits.grad_fn)
pred_probab = nn.Softmax(dim=1)(logits)
y_pred = pred_probab.argmax(1)
print(f"Predicted class: {y_pred}")
print(pred_probab.sum(), pred_probab.dtype)

input_image = torch.cos(torch.arange(3 * 28 * 28) * 0.01).reshape(3, 28, 28)
print(input_image.size())

flatten = nn.Flatten()
flat_image = flatten(input_image)
print(flat_image.size())

layer1 = nn.Linear(in_features=28*28, out_features=20)
fixed_init(layer1)
hidden1 = layer1(flat_image)
print(hidden1.size())

print(f"Before ReLU: {hidden1}\n\n")
hidden1 = nn.ReLU()(hidden1)
print(f"After ReLU: {hidden1}")

seq_modules = nn.Sequential(
    flatten,
    layer1,
    nn.ReLU(),
    nn.Linear(20, 10)
)
fixed_init(seq_modules)
logits = seq_modules(input_image)
print(logits)

softmax = nn.Softmax(dim=1)
pred_probab = softmax(logits)
print(pred_probab)

print(f"Model structure: {model}\n\n")

for name, param in model.named_parameters():
    print(f"Layer: {name} | Size: {param.size()} | Values : {param[:2]} \n")
