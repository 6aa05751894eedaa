"""A conv training step, float32, tapegrad against PyTorch (one thread).

Group `train_conv`: LeNet-5 on a batch of 64 28x28 single-channel inputs: Conv2d(1, 6, 5,
padding=2), ReLU, MaxPool2d(2), Conv2d(6, 16, 5), ReLU, MaxPool2d(2), Flatten,
Linear(400, 120), ReLU, Linear(120, 84), ReLU, Linear(84, 10); nn.CrossEntropyLoss, SGD
(lr 0.01, momentum 0.9). One step = forward, zero_grad, backward, opt.step().

Both libraries start from the same weights (drawn here in NumPy and copied in). The
reference of the cross-check is PyTorch's loss and gradients of the first step when
PyTorch is installed; without it, tapegrad's gradients are checked against central
differences of tapegrad's float64 loss at a few weight entries (`bench_conv_crosscheck`).
"""

import numpy as np
import pytest

from bench.common import available, crosscheck_all, size, time_case

IMPLS = ("tapegrad", "torch")
BATCH = size(64, 8)
SIDE = 28
# (name, shape) of the parameters in module order
SHAPES = (("0.weight", (6, 1, 5, 5)), ("0.bias", (6,)), ("3.weight", (16, 6, 5, 5)),
          ("3.bias", (16,)), ("7.weight", (120, 400)), ("7.bias", (120,)),
          ("9.weight", (84, 120)), ("9.bias", (84,)), ("11.weight", (10, 84)),
          ("11.bias", (10,)))


def conv_data():
    """Inputs (BATCH, 1, 28, 28), targets and the parameters, float32, PyTorch's init bounds."""
    rng = np.random.default_rng(12)
    x = rng.normal(0, 1, (BATCH, 1, SIDE, SIDE)).astype(np.float32)
    t = rng.integers(0, 10, BATCH)
    params, fan = [], None
    for name, shp in SHAPES:
        if name.endswith("weight"):
            fan = int(np.prod(shp[1:]))
        bound = 1 / np.sqrt(fan)
        params.append(rng.uniform(-bound, bound, shp).astype(np.float32))
    return x, t, params


def _lib(impl):
    if impl == "tapegrad":
        import tapegrad as T
    else:
        import torch as T
        T.set_num_threads(1)
    return T


def _lenet(T):
    nn = T.nn
    return nn.Sequential(nn.Conv2d(1, 6, 5, padding=2), nn.ReLU(), nn.MaxPool2d(2),
                         nn.Conv2d(6, 16, 5), nn.ReLU(), nn.MaxPool2d(2), nn.Flatten(),
                         nn.Linear(400, 120), nn.ReLU(), nn.Linear(120, 84), nn.ReLU(),
                         nn.Linear(84, 10))


def make_conv(impl):
    T = _lib(impl)
    x, t, params = conv_data()
    xt, tt = T.tensor(x), T.tensor(t)
    net = _lenet(T)
    names = [n for n, _ in net.named_parameters()]
    assert names == [n for n, _ in SHAPES], names
    with T.no_grad():
        for p, a in zip(net.parameters(), params):
            p.copy_(T.tensor(a))
    loss_fn = T.nn.CrossEntropyLoss()
    opt = T.optim.SGD(net.parameters(), lr=0.01, momentum=0.9)

    def run():
        loss = loss_fn(net(xt), tt)
        opt.zero_grad()
        loss.backward()
        opt.step()
        return loss

    def result():
        with T.no_grad():
            for p, a in zip(net.parameters(), params):
                p.copy_(T.tensor(a))
        loss = loss_fn(net(xt), tt)
        opt.zero_grad()
        loss.backward()
        return loss.item(), tuple(p.grad.detach().numpy().copy() for p in net.parameters())

    return run, result


def conv_reference():
    """PyTorch's first-step loss and gradients, or tapegrad's own when PyTorch is absent
    (then checked by central differences in bench_conv_crosscheck)."""
    return make_conv("torch" if available("torch") else "tapegrad")[1]()


def bench_conv_crosscheck():
    if available("torch"):
        assert "tapegrad" in crosscheck_all(make_conv, IMPLS, rtol=1e-3, atol=1e-5)
    import tapegrad as T

    x, t, params = conv_data()
    loss, grads = make_conv("tapegrad")[1]()
    net = _lenet(T)
    loss_fn = T.nn.CrossEntropyLoss()

    def f(k, delta, i):
        ps = [p.astype(np.float64) for p in params]
        ps[k].reshape(-1)[i] += delta
        with T.no_grad():
            for p, a in zip(net.double().parameters(), ps):
                p.copy_(T.tensor(a))
            return loss_fn(net(T.tensor(x.astype(np.float64))), T.tensor(t)).item()

    eps = 1e-7  # small: ReLU and max-pool kinks lie within 1e-5 of some weights
    for k in (0, 1, 2, 4, 9):
        for i in (0, params[k].size // 2):
            fd = (f(k, eps, i) - f(k, -eps, i)) / (2 * eps)
            assert grads[k].reshape(-1)[i] == pytest.approx(fd, rel=1e-3, abs=1e-6), (k, i)


@pytest.mark.parametrize("impl", IMPLS)
def bench_train_conv(benchmark, impl):
    time_case(benchmark, "train_conv", impl, make_conv, conv_reference(), rtol=1e-3,
              atol=1e-5, info={"batch": BATCH, "net": "LeNet-5 28x28"})
