"""The training step's fast paths stay exact: an optimizer reuses the kernel scalars it
made from a group's options only while those options are unchanged, and layers read
their registered parameters and buffers directly only when the attribute could not name
something else.

Every test compares with updates written out in NumPy (PyTorch's rules, float64), so it
runs without torch; the torch-marked test repeats one scenario against PyTorch.
"""

import numpy as np
import pytest

import tapegrad as tg
import tapegrad.nn as nn
import tapegrad.nn.functional as F
from tapegrad.optim.lr_scheduler import StepLR

RTOL = 1e-12


# ---- NumPy references (PyTorch's update rules) -------------------------------------------
class _SGDRef:
    def __init__(self, p):
        self.p, self.buf = np.array(p, np.float64), None

    def step(self, g, lr, momentum=0.0, dampening=0.0, weight_decay=0.0, nesterov=False,
             maximize=False):
        g = -g if maximize else g.copy()
        g = g + weight_decay * self.p
        if momentum:
            self.buf = g.copy() if self.buf is None else momentum * self.buf + (1 - dampening) * g
            g = g + momentum * self.buf if nesterov else self.buf
        self.p = self.p - lr * g
        return self.p


class _AdamRef:
    def __init__(self, p):
        self.p = np.array(p, np.float64)
        self.m, self.v, self.t = np.zeros_like(self.p), np.zeros_like(self.p), 0

    def step(self, g, lr, betas=(0.9, 0.999), eps=1e-8, weight_decay=0.0):
        b1, b2 = betas
        g = g + weight_decay * self.p
        self.t += 1
        self.m = b1 * self.m + (1 - b1) * g
        self.v = b2 * self.v + (1 - b2) * g * g
        denom = np.sqrt(self.v) / np.sqrt(1 - b2 ** self.t) + eps
        self.p = self.p - lr / (1 - b1 ** self.t) * self.m / denom
        return self.p


def _param(values):
    return nn.Parameter(tg.tensor(np.array(values, np.float64)))


def _grads(n, size, seed=0):
    return np.random.default_rng(seed).normal(size=(n, size))


def _set_grad(p, g):
    p.grad = tg.tensor(np.array(g, np.float64))


# ---- optimizer scalars: reused only while the options are the same ----------------------
def test_sgd_scheduler_changes_lr_between_steps():
    p = _param([1.0, -2.0, 0.5])
    ref = _SGDRef(p.detach().numpy())
    opt = tg.optim.SGD([p], lr=0.1, momentum=0.9)
    sched = StepLR(opt, step_size=1, gamma=0.5)
    lr = 0.1
    for g in _grads(5, 3):
        _set_grad(p, g)
        opt.step()
        sched.step()
        np.testing.assert_allclose(p.detach().numpy(), ref.step(g, lr, momentum=0.9), rtol=RTOL)
        lr *= 0.5


@pytest.mark.parametrize("option,value", [("lr", 0.01), ("momentum", 0.5), ("dampening", 0.3),
                                          ("weight_decay", 0.1), ("maximize", True)])
def test_sgd_option_edited_in_param_groups(option, value):
    p = _param([0.3, 0.7])
    ref = _SGDRef(p.detach().numpy())
    opt = tg.optim.SGD([p], lr=0.1, momentum=0.9)
    opts = dict(lr=0.1, momentum=0.9)
    for k, g in enumerate(_grads(4, 2, seed=1)):
        if k == 2:
            opt.param_groups[0][option] = value
            opts[option] = value
        _set_grad(p, g)
        opt.step()
        np.testing.assert_allclose(p.detach().numpy(), ref.step(g, **opts), rtol=RTOL)


def test_sgd_nesterov_switched_on():
    p = _param([0.3, 0.7])
    ref = _SGDRef(p.detach().numpy())
    opt = tg.optim.SGD([p], lr=0.1, momentum=0.9)
    for k, g in enumerate(_grads(4, 2, seed=2)):
        nesterov = k >= 2
        opt.param_groups[0]["nesterov"] = nesterov
        _set_grad(p, g)
        opt.step()
        np.testing.assert_allclose(p.detach().numpy(),
                                   ref.step(g, 0.1, momentum=0.9, nesterov=nesterov), rtol=RTOL)


def test_tensor_lr_changed_in_place_is_read_each_step():
    p = _param([1.0, 2.0])
    lr = tg.tensor(0.1, dtype=tg.float64)
    opt = tg.optim.SGD([p], lr=lr)
    ref = _SGDRef(p.detach().numpy())
    for k, g in enumerate(_grads(3, 2, seed=3)):
        if k:
            lr.fill_(0.1 / (10 * k))
        _set_grad(p, g)
        opt.step()
        np.testing.assert_allclose(p.detach().numpy(), ref.step(g, float(lr)), rtol=RTOL)


def test_adam_lr_and_betas_changed_between_steps():
    p = _param([0.5, -1.5, 2.0])
    ref = _AdamRef(p.detach().numpy())
    opt = tg.optim.Adam([p], lr=0.01)
    opts = dict(lr=0.01, betas=(0.9, 0.999))
    for k, g in enumerate(_grads(6, 3, seed=4)):
        if k == 2:
            opt.param_groups[0]["lr"] = opts["lr"] = 0.05
        if k == 4:
            opt.param_groups[0]["betas"] = opts["betas"] = (0.8, 0.99)
        _set_grad(p, g)
        opt.step()
        np.testing.assert_allclose(p.detach().numpy(), ref.step(g, **opts), rtol=1e-10)


def test_adam_betas_list_edited_in_place_between_steps():
    p = _param([0.5, -1.5, 2.0])
    ref = _AdamRef(p.detach().numpy())
    opt = tg.optim.Adam([p], lr=0.01)
    betas = opt.param_groups[0]["betas"] = [0.9, 0.999]  # a list the program edits later:
    for k, g in enumerate(_grads(5, 3, seed=6)):       # the kept scalars must see it
        if k == 2:
            betas[0] = 0.8
        _set_grad(p, g)
        opt.step()
        want = ref.step(g, lr=0.01, betas=(0.8 if k >= 2 else 0.9, 0.999))
        np.testing.assert_allclose(p.detach().numpy(), want, rtol=1e-10)


def test_grad_set_to_none_or_replaced_between_steps():
    a, b = _param([1.0, 2.0]), _param([3.0])
    ra, rb = _SGDRef(a.detach().numpy()), _SGDRef(b.detach().numpy())
    opt = tg.optim.SGD([a, b], lr=0.1, momentum=0.9)
    g = _grads(4, 3, seed=5)
    _set_grad(a, g[0, :2])
    _set_grad(b, g[0, 2:])
    opt.step()
    ra.step(g[0, :2], 0.1, momentum=0.9)
    rb.step(g[0, 2:], 0.1, momentum=0.9)
    b.grad = None  # b is skipped, a goes on
    _set_grad(a, g[1, :2])
    opt.step()
    ra.step(g[1, :2], 0.1, momentum=0.9)
    np.testing.assert_allclose(b.detach().numpy(), rb.p, rtol=RTOL)
    np.testing.assert_allclose(a.detach().numpy(), ra.p, rtol=RTOL)
    # a gradient from backward, then a replaced .grad object
    (b * b).sum().backward()
    gb = 2 * b.detach().numpy()
    opt.step()  # a's .grad is still g[1]: it is applied again
    ra.step(g[1, :2], 0.1, momentum=0.9)
    rb.step(gb, 0.1, momentum=0.9)
    b.grad = tg.tensor(g[2, 2:])
    a.grad = tg.tensor(g[2, :2])
    opt.step()
    ra.step(g[2, :2], 0.1, momentum=0.9)
    rb.step(g[2, 2:], 0.1, momentum=0.9)
    np.testing.assert_allclose(a.detach().numpy(), ra.p, rtol=RTOL)
    np.testing.assert_allclose(b.detach().numpy(), rb.p, rtol=RTOL)


def test_add_param_group_gets_its_own_options():
    a, b = _param([1.0, 2.0]), _param([3.0, 4.0])
    ra, rb = _SGDRef(a.detach().numpy()), _SGDRef(b.detach().numpy())
    opt = tg.optim.SGD([a], lr=0.1, momentum=0.9)
    g = _grads(3, 4, seed=6)
    _set_grad(a, g[0, :2])
    opt.step()
    ra.step(g[0, :2], 0.1, momentum=0.9)
    opt.add_param_group({"params": [b], "lr": 0.5, "momentum": 0.0})
    for row in g[1:]:
        _set_grad(a, row[:2])
        _set_grad(b, row[2:])
        opt.step()
        ra.step(row[:2], 0.1, momentum=0.9)
        rb.step(row[2:], 0.5)
    np.testing.assert_allclose(a.detach().numpy(), ra.p, rtol=RTOL)
    np.testing.assert_allclose(b.detach().numpy(), rb.p, rtol=RTOL)


def test_param_list_edited_in_place():
    a, b = _param([1.0, 2.0]), _param([3.0])
    ra, rb = _SGDRef(a.detach().numpy()), _SGDRef(b.detach().numpy())
    opt = tg.optim.SGD([a], lr=0.1)
    g = _grads(2, 3, seed=7)
    _set_grad(a, g[0, :2])
    opt.step()
    ra.step(g[0, :2], 0.1)
    opt.param_groups[0]["params"].append(b)
    _set_grad(a, g[1, :2])
    _set_grad(b, g[1, 2:])
    opt.step()
    ra.step(g[1, :2], 0.1)
    rb.step(g[1, 2:], 0.1)
    np.testing.assert_allclose(a.detach().numpy(), ra.p, rtol=RTOL)
    np.testing.assert_allclose(b.detach().numpy(), rb.p, rtol=RTOL)


def test_load_state_dict_brings_its_options():
    p = _param([1.0, -1.0])
    opt = tg.optim.SGD([p], lr=0.1, momentum=0.9)
    other = tg.optim.SGD([_param([0.0, 0.0])], lr=0.02, momentum=0.5)
    g = _grads(3, 2, seed=8)
    ref = _SGDRef(p.detach().numpy())
    _set_grad(p, g[0])
    opt.step()
    ref.step(g[0], 0.1, momentum=0.9)
    opt.load_state_dict(other.state_dict())  # no momentum buffer in it: starts again
    ref.buf = None
    for row in g[1:]:
        _set_grad(p, row)
        opt.step()
        ref.step(row, 0.02, momentum=0.5)
    np.testing.assert_allclose(p.detach().numpy(), ref.p, rtol=RTOL)


def test_parameter_data_replaced_between_steps():
    p = _param([1.0, 2.0, 3.0])
    ref = _SGDRef(p.detach().numpy())
    opt = tg.optim.SGD([p], lr=0.1, momentum=0.9)
    g = _grads(3, 3, seed=9)
    _set_grad(p, g[0])
    opt.step()
    ref.step(g[0], 0.1, momentum=0.9)
    p.data = tg.tensor(np.array([10.0, 20.0, 30.0]))
    ref.p = np.array([10.0, 20.0, 30.0])
    for row in g[1:]:
        _set_grad(p, row)
        opt.step()
        ref.step(row, 0.1, momentum=0.9)
    np.testing.assert_allclose(p.detach().numpy(), ref.p, rtol=RTOL)


def test_numpy_scalar_option_is_not_kept_but_still_right():
    p = _param([1.0, 2.0])
    opt = tg.optim.SGD([p], lr=np.float32(0.25))
    ref = _SGDRef(p.detach().numpy())
    for g in _grads(2, 2, seed=10):
        _set_grad(p, g)
        opt.step()
        ref.step(g, float(np.float32(0.25)))
    np.testing.assert_allclose(p.detach().numpy(), ref.p, rtol=RTOL)


# ---- layers read their registered tensors ------------------------------------------------
def test_linear_forward_matches_the_formula():
    tg.manual_seed(0)
    lin = nn.Linear(3, 2).double()
    x = tg.tensor(np.arange(6.0).reshape(2, 3))
    want = x.numpy() @ lin.weight.detach().numpy().T + lin.bias.detach().numpy()
    np.testing.assert_allclose(lin(x).detach().numpy(), want, rtol=RTOL)
    lin.weight = nn.Parameter(tg.ones(2, 3, dtype=tg.float64))  # re-registered
    lin.bias = None
    np.testing.assert_allclose(lin(x).detach().numpy(), x.numpy() @ np.ones((3, 2)), rtol=RTOL)


def test_linear_subclass_with_a_weight_property_uses_it():
    class Tied(nn.Linear):
        @property
        def weight(self):  # a class attribute wins over the registered "weight"
            return self._parameters["base"] * 2.0

    lin = nn.Linear(2, 2).double()
    lin._parameters["base"] = nn.Parameter(tg.tensor(np.eye(2)))
    lin.__class__ = Tied  # "weight" stays registered, the property now shadows it
    x = tg.tensor(np.array([[1.0, 2.0]]))
    np.testing.assert_allclose(lin(x).detach().numpy(),
                               np.array([[2.0, 4.0]]) + lin.bias.detach().numpy(), rtol=RTOL)


def test_linear_weight_shadowed_in_the_instance_dict():
    lin = nn.Linear(2, 1).double()
    w = tg.tensor(np.array([[3.0, 4.0]]))
    object.__setattr__(lin, "weight", w)  # found before the registry, as any attribute
    x = tg.tensor(np.array([[1.0, 1.0]]))
    np.testing.assert_allclose(lin(x).detach().numpy(), [7.0 + lin.bias.detach().numpy()],
                               rtol=RTOL)


def test_loss_weight_buffer_replaced_is_used():
    p = tg.tensor(np.array([0.2, 0.9]))
    t = tg.tensor(np.array([0.0, 1.0]))
    loss = nn.BCELoss()
    base = -np.array([np.log(0.8), np.log(0.9)])
    np.testing.assert_allclose(float(loss(p, t)), base.mean(), rtol=RTOL)
    loss.weight = tg.tensor(np.array([2.0, 0.0]))
    np.testing.assert_allclose(float(loss(p, t)), (base * [2.0, 0.0]).mean(), rtol=RTOL)
    ce = nn.CrossEntropyLoss(weight=tg.tensor(np.array([1.0, 3.0])))
    z = tg.tensor(np.array([[0.0, 1.0], [2.0, 0.0]]))
    lp = z.numpy() - np.log(np.exp(z.numpy()).sum(1, keepdims=True))
    want = -(lp[0, 1] * 3.0 + lp[1, 0] * 1.0) / 4.0
    np.testing.assert_allclose(float(ce(z, tg.tensor([1, 0]))), want, rtol=RTOL)


def test_layer_norm_without_affine_and_conv_still_run():
    x = tg.tensor(np.arange(8.0).reshape(2, 4))
    ln = nn.LayerNorm(4, elementwise_affine=False)
    v = x.numpy()
    want = (v - v.mean(1, keepdims=True)) / np.sqrt(v.var(1, keepdims=True) + 1e-5)
    np.testing.assert_allclose(ln(x).numpy(), want, rtol=1e-10)
    conv = nn.Conv1d(1, 1, 2, bias=False).double()
    with tg.no_grad():
        conv.weight.fill_(1.0)
    y = conv(tg.tensor(np.array([[[1.0, 2.0, 4.0]]])))
    np.testing.assert_allclose(y.detach().numpy(), [[[3.0, 6.0]]], rtol=RTOL)


def test_training_step_still_reaches_the_numpy_result():
    """Linear + sigmoid + BCE + SGD momentum, 20 steps, against NumPy backprop."""
    rng = np.random.default_rng(11)
    x = rng.normal(size=(16, 2))
    y = (x[:, 0] > 0).astype(np.float64)
    w0, b0 = rng.normal(size=(1, 2)), rng.normal(size=1)
    net = nn.Sequential(nn.Linear(2, 1), nn.Sigmoid()).double()
    with tg.no_grad():
        net[0].weight.copy_(tg.tensor(w0))
        net[0].bias.copy_(tg.tensor(b0))
    opt = tg.optim.SGD(net.parameters(), lr=0.1, momentum=0.9)
    rw, rb = _SGDRef(w0), _SGDRef(b0)
    xt, yt = tg.tensor(x), tg.tensor(y)
    for _ in range(20):
        loss = F.binary_cross_entropy(net(xt).squeeze(), yt)
        opt.zero_grad()
        loss.backward()
        opt.step()
        p = 1 / (1 + np.exp(-(x @ rw.p.T + rb.p)))[:, 0]
        dz = (p - y) / len(y)
        rw.step(dz[None, :] @ x, 0.1, momentum=0.9)
        rb.step(dz.sum(keepdims=True), 0.1, momentum=0.9)
    np.testing.assert_allclose(net[0].weight.detach().numpy(), rw.p, rtol=1e-10)
    np.testing.assert_allclose(net[0].bias.detach().numpy(), rb.p, rtol=1e-10)


@pytest.mark.torch
def test_scheduler_and_edits_match_pytorch():
    torch_ref = pytest.importorskip("torch")
    g = _grads(6, 3, seed=12)
    ours, theirs = _param([1.0, 2.0, 3.0]), torch_ref.nn.Parameter(
        torch_ref.tensor([1.0, 2.0, 3.0], dtype=torch_ref.float64))
    results = []
    for lib, p in ((tg, ours), (torch_ref, theirs)):
        opt = lib.optim.Adam([p], lr=0.01)
        sched = lib.optim.lr_scheduler.StepLR(opt, step_size=2, gamma=0.3)
        for k, row in enumerate(g):
            if k == 3:
                opt.param_groups[0]["betas"] = (0.8, 0.95)
            p.grad = lib.tensor(row)
            opt.step()
            sched.step()
        results.append(p.detach().numpy())
    np.testing.assert_allclose(results[0], results[1], rtol=1e-10)


# ---- gradients whose home is held by an earlier .grad -------------------------------------
def _quad_grads(ps, coef):
    """Backward of sum(coef_i * p_i^2): gradients 2 coef_i p_i."""
    loss = None
    for p, c in zip(ps, coef):
        term = (p * p * c).sum()
        loss = term if loss is None else loss + term
    loss.backward()


def test_kept_earlier_grads_keep_their_values_and_steps_stay_right():
    ps = [_param([1.0, -2.0]), _param([[0.5, 1.5], [2.5, -0.5]])]
    refs = [_SGDRef(p.detach().numpy()) for p in ps]
    opt = tg.optim.SGD(ps, lr=0.05, momentum=0.9)
    coef = [1.0, 3.0]
    _quad_grads(ps, coef)
    kept = [p.grad for p in ps]  # held, as a program logging its gradients does
    kept_values = [k.numpy().copy() for k in kept]
    for _ in range(5):
        opt.zero_grad()
        _quad_grads(ps, coef)
        for p, r, c in zip(ps, refs, coef):
            r.step(2 * c * r.p, 0.05, momentum=0.9)
        opt.step()
        for p, r in zip(ps, refs):
            np.testing.assert_allclose(p.detach().numpy(), r.p, rtol=RTOL)
    for k, v in zip(kept, kept_values):
        np.testing.assert_array_equal(k.numpy(), v)
    # the later gradients were written into the optimizer's (new) flat gradient buffer
    flat = opt._flats(opt.param_groups[0])[0]
    assert all(p.grad._arr.base is flat.G for p in ps)


def test_kept_grads_with_zero_grad_in_place_and_two_optimizers():
    a, b = _param([1.0, 2.0]), _param([3.0])
    ra = _SGDRef(a.detach().numpy())
    rb1, rb2 = _SGDRef(b.detach().numpy()), None
    opt1 = tg.optim.SGD([a, b], lr=0.1)
    opt2 = tg.optim.SGD([b], lr=0.01)
    _quad_grads([a, b], [1.0, 1.0])
    kept = a.grad
    kept_value = kept.numpy().copy()
    for _ in range(3):
        opt1.zero_grad(set_to_none=False)
        _quad_grads([a, b], [1.0, 1.0])
        ga, gb = 2 * ra.p, 2 * rb1.p
        opt1.step()
        ra.step(ga, 0.1)
        rb1.step(gb, 0.1)
        opt2.step()  # b again, with the same gradient
        rb1.step(gb, 0.01)
        np.testing.assert_allclose(a.detach().numpy(), ra.p, rtol=RTOL)
        np.testing.assert_allclose(b.detach().numpy(), rb1.p, rtol=RTOL)
    assert kept is a.grad  # zero_grad(set_to_none=False) keeps the .grad object
    del rb2, kept_value


def test_kept_grads_with_lbfgs_and_adam():
    p = _param([1.0, -1.0, 0.5])
    ref = _AdamRef(p.detach().numpy())
    opt = tg.optim.Adam([p], lr=0.01)
    _quad_grads([p], [1.0])
    kept, kept_value = p.grad, p.grad.numpy().copy()
    for _ in range(4):
        opt.zero_grad()
        _quad_grads([p], [1.0])
        g = 2 * ref.p
        opt.step()
        ref.step(g, 0.01)
        np.testing.assert_allclose(p.detach().numpy(), ref.p, rtol=1e-10)
    np.testing.assert_array_equal(kept.numpy(), kept_value)
    finals = []
    for hold in (False, True):
        q = _param([2.0, 1.0])
        lb = tg.optim.LBFGS([q], lr=0.5, max_iter=5)
        _quad_grads([q], [1.0])
        held = q.grad if hold else None

        def closure():
            lb.zero_grad()
            loss = (q * q * q * q).sum()
            loss.backward()
            return loss

        for _ in range(3):
            lb.step(closure)
        finals.append(q.detach().numpy().copy())
        if hold:
            np.testing.assert_array_equal(held.numpy(), [4.0, 2.0])
    np.testing.assert_array_equal(finals[0], finals[1])
