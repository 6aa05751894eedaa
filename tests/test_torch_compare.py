"""The same small programs run with tapegrad and with PyTorch (skipped without torch):
reprs, values, gradients, grad_fn names and raised exceptions must agree."""

import warnings

import numpy as np
import pytest

import tapegrad as tg

torch_ref = pytest.importorskip("torch")


def _obs(v):
    """A comparable observation: repr for tensors, names for grad_fns, lists for values."""
    if isinstance(v, (tg.Tensor, torch_ref.Tensor)):
        return ("tensor", repr(v))
    if isinstance(v, (list, tuple)):
        return [_obs(x) for x in v]
    if hasattr(v, "next_functions"):
        return ("grad_fn", type(v).__name__)
    if isinstance(v, (tg.dtype, torch_ref.dtype)):
        return ("dtype", str(v).replace("tapegrad.", "torch."))
    return v


def run(prog, m):
    """Run prog(m); the observations, or the exception class and message start."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        try:
            return _obs(prog(m))
        except Exception as e:  # noqa: BLE001
            return ("raises", type(e).__name__)


def leaf(m, values, dtype=None):
    return m.tensor(values, dtype=dtype, requires_grad=True)


def p_polynomial(m):
    x = leaf(m, [2.0])
    y = x ** 2 + 3 * x + 1
    y.backward()
    return [y, x.grad, y.grad_fn, x]


def p_accumulate(m):
    x, w = m.ones(3, requires_grad=True), leaf(m, [0.5, -1.0, 2.0])
    out = []
    for _ in range(3):
        ((x + w) * (w + 1)).sum().backward()
        out.append(w.grad.clone())
    w.grad.zero_()
    return out + [w.grad, x.grad]


def p_mixed_ops(m):
    x, y = leaf(m, [0.5, 1.5, 2.5]), leaf(m, [1.0, 2.0, 3.0])
    z = (x * y + x / y - 2 / x + (1 - y) ** 2 + x ** y + 2 ** x).exp().sum() / 100
    z.backward()
    return [z, x.grad, y.grad]


def p_unary(m):
    x = leaf(m, [0.3, 0.7, 1.2])
    ys = [x.exp(), x.log(), x.sqrt(), x.sin(), x.cos(), x.tanh(), x.sigmoid(), x.relu(),
          x.abs(), -x, x.reciprocal()]
    s = ys[0].sum()
    for y in ys[1:]:
        s = s + y.sum()
    s.backward()
    return ys + [s, x.grad]


def p_matrices(m):
    a = leaf(m, [[1.0, 2.0, 3.0], [4.0, 5.0, 6.0]])
    v = leaf(m, [1.0, -1.0, 0.5])
    outs = [a @ a.t(), a @ v, v @ v, m.mm(a.T, a), a.T, a.t(), a.transpose(0, 1),
            a.reshape(3, 2), a.view(-1), a.flatten(), a.sum(0), a.sum(1, keepdim=True),
            a.mean(), a.mean(1), a.permute(1, 0)]
    s = sum(o.sum() for o in outs)
    s.backward()
    return outs + [a.grad, v.grad]


def p_vjp(m):
    x = leaf(m, [1.0, 2.0, 3.0])
    y = x * x
    y.backward(m.tensor([1.0, 0.1, 0.01]))
    return [x.grad]


def p_eye_jacobian(m):
    inp = m.eye(4, 5, requires_grad=True)
    out = (inp + 1).pow(2).t()
    out.backward(m.ones_like(out), retain_graph=True)
    first = inp.grad.clone()
    inp.grad.zero_()
    out.backward(m.ones_like(out))
    return [first, inp.grad, out]


def p_leaf_flags(m):
    a = leaf(m, [1.0])
    b = a * 2
    c = m.tensor([1.0]) * 2
    return [a.is_leaf, b.is_leaf, c.is_leaf, a.requires_grad, b.requires_grad,
            c.requires_grad, a.grad_fn is None, b.grad_fn, b.detach().is_leaf,
            b.retains_grad]


def p_next_functions(m):
    x, c = leaf(m, [1.0]), m.tensor([2.0])
    y = (x.exp() * c + 1).sum()
    fns, fn = [], y.grad_fn
    while fn is not None and fn.next_functions:
        fns.append(type(fn).__name__)
        fns.append([None if f is None else type(f).__name__ for f, _ in fn.next_functions])
        fn = fn.next_functions[0][0]
    return fns


def p_rdiv_graph(m):
    x = leaf(m, [2.0])
    y = 2 / x
    z = 1 / x
    return [y.grad_fn, y.grad_fn.next_functions[0][0], z.grad_fn, y, z]


def p_second_backward(m):
    out = []
    for expr in ["x * 2", "x / 2", "x.exp()", "x * x", "x + 1", "x - 2", "-x",
                 "x.reshape(2, 1)", "x.mean()"]:
        x = leaf(m, [1.0, 2.0])
        s = eval(expr, {"x": x}).sum()
        s.backward()
        out.append(run(lambda _: s.backward(), m))
        out.append(x.grad)
    return out


def p_retain_graph(m):
    x = leaf(m, [1.0, 2.0])
    s = (x * x).sum()
    s.backward(retain_graph=True)
    s.backward()
    return [x.grad]


def p_retain_grad(m):
    x = leaf(m, [1.0, 2.0])
    y = x * 2
    y.retain_grad()
    z = y * 1
    z.mul_(2)
    (z * y).sum().backward()
    return [y.grad, x.grad, y.retains_grad, z]


def p_inplace(m):
    x = leaf(m, [1.0, 2.0])
    y = x * 2
    y.add_(1)
    y.sum().backward()
    w = m.ones(2)
    w.mul_(x)
    return [y, x.grad, w, w.is_leaf, y._version]


def p_inplace_saved(m):
    x = leaf(m, [1.0, 2.0])
    y = x * 1
    y.mul_(x)
    y.sum().backward()
    return [x.grad, y]


def p_version_error(m):
    x = leaf(m, [1.0, 2.0])
    y = x.exp()
    y.add_(1)
    return [run(lambda _: y.sum().backward(), m), x.grad]


def p_leaf_inplace_error(m):
    x = leaf(m, [1.0, 2.0])
    return [run(lambda _: x.add_(1), m)]


def p_sgd(m):
    w = leaf(m, [1.0, -2.0])
    for _ in range(3):
        loss = ((w * 3 - 1) ** 2).sum()
        loss.backward()
        with m.no_grad():
            w -= 0.01 * w.grad
        w.grad.zero_()
    v = leaf(m, [1.0, -2.0])
    for _ in range(3):
        ((v * 3 - 1) ** 2).sum().backward()
        v.data.sub_(0.01 * v.grad)
        v.grad = None
    return [w, v, loss]


def p_no_grad(m):
    x = leaf(m, [1.0])
    with m.no_grad():
        a = x * 2
        with m.enable_grad():
            b = x * 2
    with m.set_grad_enabled(False):
        c = x * 2
    with m.inference_mode():
        d = x * 2
    return [a, b, c, d, m.is_grad_enabled()]


def p_detach_clone(m):
    x = leaf(m, [1.0, 2.0])
    d = x.detach()
    c = x.clone()
    (c * c).sum().backward()
    y = x * 2
    y.detach_()
    return [d, c, x.grad, y, d.requires_grad]


def p_dtypes(m):
    f, d = m.ones(2), m.ones(2, dtype=m.float64)
    i = m.tensor([1, 2])
    return [(f + d).dtype, (f * 2.5).dtype, (i + 1.5).dtype, (i * 2).dtype, (i / 2).dtype,
            m.tensor([True]).dtype, (i + f).dtype, (2 ** i).dtype, i.sum().dtype,
            m.get_default_dtype(), m.tensor(np.float64(1.0)).dtype, i, i / 2, f + d]


def p_cast_grads(m):
    x = leaf(m, [1.0, 2.0])
    y = x.double()
    (y * y).sum().backward()
    z = leaf(m, [1.0, 2.0], dtype=m.float64)
    (z.float() * 3).sum().backward()
    return [y, x.grad, z.grad, y.grad_fn]


def p_conversions(m):
    t = m.tensor([[1.5, 2.0], [3.0, 4.25]])
    return [t.tolist(), t.sum().item(), float(t[0, 0]) if False else float(t.sum()),
            int(m.tensor([2.7])), bool(m.tensor([0.0])), len(t), list(t.shape), t.size(1),
            t.dim(), t.ndim, t.numel(), list(t.T.shape), np.asarray(t).tolist(),
            run(lambda _: float(t), m), run(lambda _: bool(t), m), run(lambda _: t.item(), m),
            run(lambda _: leaf(m, [1.0]).numpy(), m), [repr(r) for r in t]]


def p_autograd_grad(m):
    x, w = leaf(m, [1.0, 2.0]), leaf(m, [3.0, 4.0])
    s = (x * w).sum()
    gx, gw = m.autograd.grad(s, [x, w], retain_graph=True)
    g2 = m.autograd.grad(s, [x, w, leaf(m, [0.0])], allow_unused=True)
    return [gx, gw, x.grad, g2[2], run(lambda _: m.autograd.grad((x * 2).sum(), [x, w]), m)]


def p_backward_inputs(m):
    x, w = leaf(m, [1.0, 2.0]), leaf(m, [3.0, 4.0])
    (x * w).sum().backward(inputs=[x])
    return [x.grad, w.grad]


def p_errors(m):
    x = leaf(m, [1.0, 2.0])
    return [run(lambda _: (x * 2).backward(), m),
            run(lambda _: (x * 2).backward(m.ones(3)), m),
            run(lambda _: m.tensor([1, 2]).requires_grad_(), m),
            run(lambda _: m.ones(2).sum().backward(), m)]


def p_reprs(m):
    return [m.tensor(2.5), m.tensor([1.5, 2.0]), m.tensor([1, 2, 3]), m.tensor([True, False]),
            m.tensor([1.5], dtype=m.float64), m.tensor([[1.0, -2.5], [3.0, 4.0]]),
            m.tensor([1e-5, 1.0]), m.tensor([1e9, 1.0]), m.tensor([float("nan"), 1.0]),
            m.tensor([float("inf"), -1.5]), m.zeros(0, 2), m.tensor([]), m.zeros(2, 1, 3),
            m.arange(1500.), m.arange(30.).reshape(5, 6) / 7, m.tensor([123456.7, 1.0]),
            leaf(m, [[1.0] * 30] * 2) * 2, m.tensor(-0.0), m.tensor([0.1, 0.25, 100.0]),
            m.ones(2, dtype=m.float64, requires_grad=True), m.tensor([1, 2], dtype=m.int32),
            m.arange(40.).reshape(2, 4, 5) - 20.5]


PROGRAMS = {name[2:]: fn for name, fn in sorted(globals().items()) if name.startswith("p_")}


@pytest.mark.parametrize("name", sorted(PROGRAMS))
def test_same_as_pytorch(name):
    prog = PROGRAMS[name]
    expected = run(prog, torch_ref)
    got = run(prog, tg)
    assert got == expected
