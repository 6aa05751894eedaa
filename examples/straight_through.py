"""A straight-through estimator: a custom autograd.Function gives sign() a surrogate gradient.

sign(w) has zero gradient almost everywhere, so weights used through it never learn. The
straight-through estimator (as in BinaryConnect) runs the true sign in the forward pass and
passes the gradient through in the backward pass, where |w| <= 1 (the gradient of hardtanh).
Here it trains binary weights: real-valued w behind sign(w), until X @ sign(w) fits y.
"""
import tapegrad as torch


class SignSTE(torch.autograd.Function):
    @staticmethod
    def forward(ctx, w):
        ctx.save_for_backward(w)
        return torch.sign(w)

    @staticmethod
    def backward(ctx, grad_output):
        (w,) = ctx.saved_tensors
        return grad_output * (w.abs() <= 1).float()   # straight through, clipped


X = torch.tensor([[1., 2., 0., 1.], [0., 1., 1., -1.], [2., 0., 1., 1.], [1., -1., 2., 0.],
                  [-1., 1., 0., 2.], [0., 2., -1., 1.], [1., 1., 1., 1.], [2., -1., 0., -1.]])
y = X @ torch.tensor([1., -1., -1., 1.])          # made by binary weights

w = torch.full((4,), 0.25, requires_grad=True)
loss = ((X @ torch.sign(w) - y) ** 2).mean()
loss.backward()
print("gradient through torch.sign:", w.grad)     # zero: plain sign cannot learn
w.grad = None

for step in range(1, 21):
    wb = SignSTE.apply(w)
    loss = ((X @ wb - y) ** 2).mean()
    loss.backward()
    with torch.no_grad():
        w -= 0.125 * w.grad
    w.grad.zero_()
    if step <= 6 or step == 20:
        print(f"step {step:2d}: loss {loss.item():.4f}")
print("real weights:  ", w.detach())
print("binary weights:", SignSTE.apply(w))
