# Three autograd idioms of PyTorch programs: WGAN-GP's gradient penalty (a gradient that is
# itself differentiated), the LinearFunction of "Extending PyTorch" checked by gradcheck,
# and tensor hooks. Data and weights come from NumPy so that every library computes the
# same numbers.
import numpy as np
import torch
import torch.nn as nn
import torch.autograd as autograd
from torch.autograd import Function, gradcheck

rng = np.random.default_rng(42)


def from_np(*shape, scale=1.0, dtype=np.float32):
    return torch.from_numpy((rng.standard_normal(shape) * scale).astype(dtype))


# ---- WGAN-GP ---------------------------------------------------------------------------
img_shape = (1, 4, 4)
latent_dim = 6
lambda_gp = 10
batch = 5


class Generator(nn.Module):
    def __init__(self):
        super(Generator, self).__init__()

        def block(in_feat, out_feat, normalize=True):
            layers = [nn.Linear(in_feat, out_feat)]
            if normalize:
                layers.append(nn.BatchNorm1d(out_feat, 0.8))
            layers.append(nn.LeakyReLU(0.2, inplace=True))
            return layers

        self.model = nn.Sequential(
            *block(latent_dim, 16, normalize=False),
            *block(16, 32),
            nn.Linear(32, int(np.prod(img_shape))),
            nn.Tanh()
        )

    def forward(self, z):
        img = self.model(z)
        img = img.view(img.shape[0], *img_shape)
        return img


class Discriminator(nn.Module):
    def __init__(self):
        super(Discriminator, self).__init__()

        self.model = nn.Sequential(
            nn.Linear(int(np.prod(img_shape)), 32),
            nn.LeakyReLU(0.2, inplace=True),
            nn.Linear(32, 16),
            nn.Tanh(),  # LeakyReLU(0.2) in the example: a curved layer makes the penalty's
            nn.Linear(16, 1),  # second derivative nonzero
        )

    def forward(self, img):
        img_flat = img.view(img.shape[0], -1)
        validity = self.model(img_flat)
        return validity


generator = Generator()
discriminator = Discriminator()
for net in (generator, discriminator):
    with torch.no_grad():
        for p in net.parameters():
            p.copy_(from_np(*p.shape, scale=0.3))
# eps=1e-4 (1e-8 by default): a few gradients here are zero but for rounding (the critic's
# last bias, the biases ahead of BatchNorm) and Adam's g / (|g| + eps) would turn rounding
# noise of 1e-8 into a full step, different in every library
optimizer_G = torch.optim.Adam(generator.parameters(), lr=0.001, betas=(0.5, 0.999), eps=1e-4)
optimizer_D = torch.optim.Adam(discriminator.parameters(), lr=0.001, betas=(0.5, 0.999), eps=1e-4)
Tensor = torch.FloatTensor


def compute_gradient_penalty(D, real_samples, fake_samples, alpha):
    """Calculates the gradient penalty loss for WGAN GP"""
    # Random weight term for interpolation between real and fake samples
    # (alpha = Tensor(np.random.random((real_samples.size(0), 1, 1, 1))) in the example)
    # Get random interpolation between real and fake samples
    interpolates = (alpha * real_samples + ((1 - alpha) * fake_samples)).requires_grad_(True)
    d_interpolates = D(interpolates)
    fake = torch.ones_like(d_interpolates, requires_grad=False)
    # Get gradient w.r.t. interpolates
    gradients = autograd.grad(
        outputs=d_interpolates,
        inputs=interpolates,
        grad_outputs=fake,
        create_graph=True,
        retain_graph=True,
        only_inputs=True,
    )[0]
    gradients = gradients.view(gradients.size(0), -1)
    gradient_penalty = ((gradients.norm(2, dim=1) - 1) ** 2).mean()
    return gradient_penalty


n_critic = 2
for i in range(4):
    real_imgs = from_np(batch, *img_shape).clamp(-1, 1)
    z = from_np(batch, latent_dim)  # Tensor(np.random.normal(0, 1, (imgs.shape[0], latent_dim)))
    alpha = Tensor(rng.random((batch, 1, 1, 1)))

    # ---------------------
    #  Train Discriminator
    # ---------------------
    optimizer_D.zero_grad()
    fake_imgs = generator(z)
    real_validity = discriminator(real_imgs)
    fake_validity = discriminator(fake_imgs)
    gradient_penalty = compute_gradient_penalty(discriminator, real_imgs.data, fake_imgs.data, alpha)
    d_loss = -torch.mean(real_validity) + torch.mean(fake_validity) + lambda_gp * gradient_penalty
    d_loss.backward()
    optimizer_D.step()
    optimizer_G.zero_grad()

    # Train the generator every n_critic steps
    if i % n_critic == 0:
        fake_imgs = generator(z)
        fake_validity = discriminator(fake_imgs)
        g_loss = -torch.mean(fake_validity)
        g_loss.backward()
        optimizer_G.step()
        print("[Batch %d] [D loss: %.6f] [G loss: %.6f] [GP: %.6f]"
              % (i, d_loss.item(), g_loss.item(), gradient_penalty.item()))
print(gradient_penalty.grad_fn)
print(discriminator.model[0].weight.grad[0, :6])
print(generator.model[3].running_mean[:4])

# a gradient penalty without the network: the gradient of sum(x ** 3) is 3 x ** 2
x = torch.tensor([[1.0, -2.0], [0.5, 0.0]], requires_grad=True)
y = (x ** 3).sum(dim=1)
(g,) = autograd.grad(y, x, grad_outputs=torch.ones_like(y), create_graph=True)
print(g, g.requires_grad)
penalty = ((g.norm(2, dim=1) - 1) ** 2).mean()
penalty.backward()
print(penalty, x.grad)


# ---- Extending PyTorch: a custom Function ----------------------------------------------
# Inherit from Function
class LinearFunction(Function):

    # Note that forward, setup_context, and backward are @staticmethods
    @staticmethod
    def forward(ctx, input, weight, bias=None):
        ctx.save_for_backward(input, weight, bias)
        output = input.mm(weight.t())
        if bias is not None:
            output += bias.unsqueeze(0).expand_as(output)
        return output

    # This function has only a single output, so it gets only one gradient
    @staticmethod
    def backward(ctx, grad_output):
        # This is a pattern that is very convenient - at the top of backward
        # unpack saved_tensors and initialize all gradients w.r.t. inputs to
        # None. Thanks to the fact that additional trailing Nones are
        # ignored, the return statement is simple even when the function has
        # optional inputs.
        input, weight, bias = ctx.saved_tensors
        grad_input = grad_weight = grad_bias = None

        # These needs_input_grad checks are optional and there only to
        # improve efficiency. If you want to make your code simpler, you can
        # skip them. Returning gradients for inputs that don't require it is
        # not an error.
        if ctx.needs_input_grad[0]:
            grad_input = grad_output.mm(weight)
        if ctx.needs_input_grad[1]:
            grad_weight = grad_output.t().mm(input)
        if bias is not None and ctx.needs_input_grad[2]:
            grad_bias = grad_output.sum(0)

        return grad_input, grad_weight, grad_bias


class MulConstant(Function):
    @staticmethod
    def forward(ctx, tensor, constant):
        # ctx is a context object that can be used to stash information
        # for backward computation
        ctx.constant = constant
        return tensor * constant

    @staticmethod
    def backward(ctx, grad_output):
        # We return as many input gradients as there were arguments.
        # Gradients of non-Tensor arguments to forward must be None.
        return grad_output * ctx.constant, None


linear = LinearFunction.apply
# gradcheck takes a tuple of tensors as input, check if your gradient
# evaluated with these tensors are close enough to numerical
# approximations and returns True if they all verify this condition.
input = (from_np(20, 20, dtype=np.float64).requires_grad_(), from_np(30, 20, dtype=np.float64).requires_grad_())
test = gradcheck(linear, input, eps=1e-6, atol=1e-4)
print(test)
print(gradcheck(linear, input + (from_np(30, dtype=np.float64).requires_grad_(),), eps=1e-6, atol=1e-4))
print(gradcheck(lambda t: MulConstant.apply(t, 2.5), (from_np(3, 4, dtype=np.float64).requires_grad_(),)))


class Linear(nn.Module):
    def __init__(self, input_features, output_features, bias=True):
        super().__init__()
        self.input_features = input_features
        self.output_features = output_features

        # nn.Parameter is a special kind of Tensor, that will get
        # automatically registered as Module's parameter once it's assigned
        # as an attribute. Parameters and buffers need to be registered, or
        # they won't appear in .parameters() (doesn't apply to buffers), and
        # won't be converted when e.g. .cuda() is called. You can use
        # .register_buffer() to register buffers.
        # nn.Parameters require gradients by default.
        self.weight = nn.Parameter(torch.empty(output_features, input_features))
        if bias:
            self.bias = nn.Parameter(torch.empty(output_features))
        else:
            # You should always register all possible parameters, but the
            # optional ones can be None if you want.
            self.register_parameter('bias', None)

        # Not a very smart way to initialize weights (uniform_ in the tutorial)
        with torch.no_grad():
            self.weight.copy_(from_np(output_features, input_features, scale=0.1))
            if self.bias is not None:
                self.bias.copy_(from_np(output_features, scale=0.1))

    def forward(self, input):
        # See the autograd section for explanation of what happens here.
        return LinearFunction.apply(input, self.weight, self.bias)

    def extra_repr(self):
        # (Optional)Set the extra information about this module. You can test
        # it by printing an object of this class.
        return 'input_features={}, output_features={}, bias={}'.format(
            self.input_features, self.output_features, self.bias is not None
        )


layer = Linear(4, 3)
nobias = Linear(4, 2, bias=False)
print(layer, nobias, [n for n, _ in nobias.named_parameters()])
inp = from_np(2, 4)
out = layer(inp)
print(out)
out.pow(2).sum().backward()
print(layer.weight.grad, layer.bias.grad)
print(MulConstant.apply(out, 3.0).sum())

# ---- tensor hooks ----------------------------------------------------------------------
a = torch.tensor([1.0, 2.0, 3.0], requires_grad=True)
b = a * 2
seen = []
h = b.register_hook(lambda grad: seen.append(grad.clone()))
h2 = a.register_hook(lambda grad: grad * 10)  # replaces the gradient a accumulates
b.retain_grad()
(b ** 2).sum().backward()
print(seen, b.grad, a.grad)
h.remove()
h2.remove()
a.grad = None
(b ** 2).sum().backward() if False else (a * 2).pow(2).sum().backward()
print(len(seen), a.grad)
v = torch.tensor([0.0, 0.0, 0.0], requires_grad=True)
hv = v.register_hook(lambda grad: grad * 2)
v.backward(torch.tensor([1., 2., 3.]))
print(v.grad)
hv.remove()
