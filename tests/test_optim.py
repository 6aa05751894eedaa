"""tapegrad.optim: update rules (against a NumPy reference of the documented rules, fixed
hand-checked values, and PyTorch when installed), the flat-buffer step and its repairs
(replaced .data, assigned .grad, dtype changes, shared storage, live old gradients),
state and state_dict, param groups, errors and repr."""

import math
import warnings

import numpy as np
import pytest

import tapegrad as tg
from tapegrad.optim import _kernels as K
from tapegrad.optim import optimizer as optimizer_mod

SHAPES = ((7,), (3, 4), (1,), (33,))


def _grad(x, c):
    """Gradient of sum(c x^2 + sin(3x)), in x's dtype."""
    return (2 * c * x + 3 * np.cos(3 * x)).astype(x.dtype)


# ---- NumPy reference: the update rules as documented --------------------------------------
def ref_run(name, kw, dtype, steps=100, skip=False):
    rng = np.random.default_rng(0)
    xs = [rng.standard_normal(s).astype(dtype) for s in SHAPES]
    cs = [rng.uniform(0.5, 2, s).astype(dtype) for s in SHAPES]
    st = [dict(t=0) for _ in xs]
    for i in range(steps):
        for j, (x, c) in enumerate(zip(xs, cs)):
            if skip and (i + j) % 3 == 0:
                continue
            xs[j] = _ref_update(name, kw, x, _grad(x, c), st[j])
    return xs


def _ref_update(name, kw, p, g, s):
    kw = dict(kw)
    lr = kw.get("lr", {"SGD": 1e-3, "Adam": 1e-3, "AdamW": 1e-3}.get(name, 1e-2))
    wd = kw.get("weight_decay", 1e-2 if name == "AdamW" else 0)
    g = -g if kw.get("maximize") else g
    s["t"] += 1
    t = s["t"]
    if name == "SGD":
        mom, damp = kw.get("momentum", 0), kw.get("dampening", 0)
        g = g + wd * p
        if mom:
            s["b"] = g.copy() if t == 1 else mom * s["b"] + (1 - damp) * g
            g = g + mom * s["b"] if kw.get("nesterov") else s["b"]
        return p - lr * g
    if name in ("Adam", "AdamW"):
        b1, b2 = kw.get("betas", (0.9, 0.999))
        eps = kw.get("eps", 1e-8)
        if name == "AdamW":
            p = p * (1 - lr * wd)
        else:
            g = g + wd * p
        s["m"] = s.get("m", 0 * p) + (1 - b1) * (g - s.get("m", 0 * p))
        s["v"] = b2 * s.get("v", 0 * p) + (1 - b2) * g * g
        v = s["v"]
        if kw.get("amsgrad"):
            s["vmax"] = v = np.maximum(s.get("vmax", 0 * p), v)
        return p - lr / (1 - b1 ** t) * s["m"] / (np.sqrt(v) / math.sqrt(1 - b2 ** t) + eps)
    if name == "RMSprop":
        alpha, eps, mom = kw.get("alpha", 0.99), kw.get("eps", 1e-8), kw.get("momentum", 0)
        g = g + wd * p
        s["v"] = alpha * s.get("v", 0 * p) + (1 - alpha) * g * g
        v = s["v"]
        if kw.get("centered"):
            s["a"] = s.get("a", 0 * p) + (1 - alpha) * (g - s.get("a", 0 * p))
            v = v - s["a"] * s["a"]
        d = np.sqrt(v) + eps
        if mom:
            s["b"] = mom * s.get("b", 0 * p) + g / d
            return p - lr * s["b"]
        return p - lr * g / d
    if name == "Adagrad":
        g = g + wd * p
        s["sum"] = s.get("sum", 0 * p + kw.get("initial_accumulator_value", 0)) + g * g
        clr = lr / (1 + (t - 1) * kw.get("lr_decay", 0))
        return p - clr * g / (np.sqrt(s["sum"]) + kw.get("eps", 1e-10))
    raise ValueError(name)


def tg_run(name, kw, dtype, steps=100, skip=False, backward=False, lib=tg):
    """The same run with lib's optimizer; grads assigned from _grad (or by backward)."""
    rng = np.random.default_rng(0)
    D = getattr(lib, np.dtype(dtype).name)
    xs = [rng.standard_normal(s).astype(dtype) for s in SHAPES]
    cs = [rng.uniform(0.5, 2, s).astype(dtype) for s in SHAPES]
    ps = [lib.tensor(x, dtype=D, requires_grad=True) for x in xs]
    opt = getattr(lib.optim, name)(ps, **kw)
    ct = [lib.tensor(c, dtype=D) for c in cs]
    for i in range(steps):
        opt.zero_grad()
        use = [j for j in range(len(ps)) if not (skip and (i + j) % 3 == 0)]
        if backward:
            sum((ct[j] * ps[j] * ps[j]).sum() + lib.sin(3 * ps[j]).sum() for j in use).backward()
        else:
            for j in use:
                ps[j].grad = lib.tensor(_grad(ps[j].detach().numpy(), cs[j]), dtype=D)
        opt.step()
    return [p.detach().numpy() for p in ps], opt


def _configs():
    """Every combination of each optimizer's options (two values each), and a few more.
    The adaptive ones use small learning rates: with lr = 0.01 several combinations settle
    into oscillations around a minimum of this loss that amplify a rounding difference of
    1e-16 to 1e-6 in 100 steps (the NumPy reference does the same to its own perturbed
    run), which no implementation can be compared on."""
    from itertools import product

    out = []
    for (mom, damp, nest), wd, mx in product(
            [(0, 0, False), (0.9, 0, False), (0.9, 0, True), (0.5, 0.3, False)],
            [0, 0.1], [False, True]):
        out.append(("SGD", dict(lr=0.01, momentum=mom, dampening=damp, nesterov=nest,
                                weight_decay=wd, maximize=mx)))
    for name, ams, wd, mx, betas in product(["Adam", "AdamW"], [False, True], [0, 0.1],
                                            [False, True], [(0.9, 0.999), (0.3, 0.9)]):
        out.append((name, dict(lr=0.003, amsgrad=ams, weight_decay=wd, maximize=mx,
                               betas=betas)))
    for cen, mom, wd, mx, alpha in product([False, True], [0, 0.5], [0, 0.1], [False, True],
                                           [0.99, 0.9]):
        out.append(("RMSprop", dict(lr=0.003, centered=cen, momentum=mom, weight_decay=wd,
                                    maximize=mx, alpha=alpha)))
    for decay, wd, init, mx in product([0, 0.01], [0, 0.1], [0, 0.5], [False, True]):
        out.append(("Adagrad", dict(lr=0.1, lr_decay=decay, weight_decay=wd,
                                    initial_accumulator_value=init, maximize=mx)))
    out += [("SGD", dict(lr=0.02)), ("Adam", dict(lr=0.05, betas=(0.1, 0.3), eps=1e-3)),
            ("AdamW", dict()), ("Adam", dict()), ("RMSprop", dict(eps=1e-4)),
            ("Adagrad", dict(eps=1e-5))]
    return out


CONFIGS = _configs()
# every other case has parameters without a gradient at some steps (skipped, as PyTorch)
CASES = [(n, kw, i % 2 == 1) for i, (n, kw) in enumerate(CONFIGS)]
IDS = [f"{n}-{'-'.join(f'{k}={v}' for k, v in kw.items())}{'-someNone' if skip else ''}"
       for n, kw, skip in CASES]
TOL = {np.float32: dict(rtol=1e-4, atol=1e-5), np.float64: dict(rtol=1e-10, atol=1e-12)}


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("name,kw,skip", CASES, ids=IDS)
def test_update_rule_matches_numpy_reference(name, kw, skip, dtype):
    got, _ = tg_run(name, kw, dtype, skip=skip)
    for a, b in zip(got, ref_run(name, kw, dtype, skip=skip)):
        assert a.dtype == dtype
        np.testing.assert_allclose(a, b, **TOL[dtype])


@pytest.mark.torch
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("name,kw,skip", CASES, ids=IDS)
def test_update_rule_matches_torch(name, kw, skip, dtype):
    torch_ref = pytest.importorskip("torch")
    got, opt = tg_run(name, kw, dtype, skip=skip, backward=True)
    want, topt = tg_run(name, kw, dtype, skip=skip, backward=True, lib=torch_ref)
    for a, b in zip(got, want):
        np.testing.assert_allclose(a, b, **TOL[dtype])
    sd, tsd = opt.state_dict(), topt.state_dict()
    assert sd["param_groups"] == tsd["param_groups"]
    assert list(sd["state"]) == list(tsd["state"])
    for i, st in sd["state"].items():
        assert list(st) == list(tsd["state"][i])
        for key, v in st.items():
            tv = tsd["state"][i][key]
            assert v.dtype.is_floating_point and str(v.dtype) == str(tv.dtype)
            # state such as g / sqrt(v) is O(1) noise where g is near 0: compared to its scale
            scale = float(np.abs(tv.numpy()).max()) if tv.numel() else 1.0
            tol = dict(rtol=1e-3, atol=1e-3 * scale) if dtype == np.float32 else TOL[dtype]
            np.testing.assert_allclose(v.numpy(), tv.numpy(), **tol)


SHORT = [("RMSprop", dict(lr=0.01, centered=True, alpha=0.3, momentum=m)) for m in (0, 0.5)] + \
    [("Adam", dict(lr=0.01, betas=(0.2, 0.5), amsgrad=a)) for a in (False, True)]


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("name,kw", SHORT, ids=[f"{n}-{kw}" for n, kw in SHORT])
def test_lerp_weight_above_one_half(name, kw, dtype):
    """1 - beta1 or 1 - alpha >= 0.5 takes lerp's other formula. A small alpha or beta2
    makes the update sign-like, so the runs are short (they turn chaotic later)."""
    got, opt = tg_run(name, kw, dtype, steps=15, skip=True)
    for a, b in zip(got, ref_run(name, kw, dtype, steps=15, skip=True)):
        np.testing.assert_allclose(a, b, **TOL[dtype])
    assert opt.state


@pytest.mark.torch
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("name,kw", SHORT, ids=[f"{n}-{kw}" for n, kw in SHORT])
def test_lerp_weight_above_one_half_torch(name, kw, dtype):
    torch_ref = pytest.importorskip("torch")
    got, _ = tg_run(name, kw, dtype, steps=15, skip=True, backward=True)
    want, _ = tg_run(name, kw, dtype, steps=15, skip=True, backward=True, lib=torch_ref)
    for a, b in zip(got, want):
        np.testing.assert_allclose(a, b, **TOL[dtype])


@pytest.mark.parametrize("name,kw", [c for c in CONFIGS if c[1].get("weight_decay")][::9])
def test_backward_path_equals_assigned_grads(name, kw):
    """Gradients left in the flat buffer by backward and the same values assigned as
    .grad give the same bits."""
    ps = [tg.tensor(np.linspace(-1, 1, 5), dtype=tg.float32, requires_grad=True)
          for _ in range(3)]
    qs = [tg.tensor(p.detach().numpy(), requires_grad=True) for p in ps]
    o1, o2 = getattr(tg.optim, name)(ps, **kw), getattr(tg.optim, name)(qs, **kw)
    for i in range(20):
        o1.zero_grad()
        sum(((p * p * (j + 1)).sum() + tg.sin(3 * p).sum()) for j, p in enumerate(ps)).backward()
        assert all(p.grad._arr is p._ghome for p in ps)
        for p, q in zip(ps, qs):
            q.grad = tg.tensor(p.grad.numpy().copy())
        o1.step()
        o2.step()
    for p, q in zip(ps, qs):
        assert p.detach().numpy().tobytes() == q.detach().numpy().tobytes()


def test_hand_checked_first_steps():
    def first(opt_cls, **kw):
        p = tg.tensor([1.0, -1.0], dtype=tg.float64, requires_grad=True)
        opt = opt_cls([p], **kw)
        p.grad = tg.tensor([2.0, -4.0], dtype=tg.float64)
        opt.step()
        return p.tolist(), opt

    assert first(tg.optim.SGD, lr=0.1)[0] == [0.8, -0.6]
    # Adam's first step moves each coordinate by lr * g / (|g| + eps)
    got, opt = first(tg.optim.Adam, lr=0.1)
    assert got == pytest.approx([0.9, -0.9], abs=1e-8)
    assert opt.state[opt.param_groups[0]["params"][0]]["exp_avg"].tolist() == \
        pytest.approx([0.2, -0.4])
    # RMSprop: v = 0.01 g^2, so the first step is lr * g / (0.1 |g|) = 10 lr
    assert first(tg.optim.RMSprop, lr=0.01)[0] == pytest.approx([0.9, -0.9], abs=1e-7)
    assert first(tg.optim.Adagrad, lr=0.1)[0] == pytest.approx([0.9, -0.9], abs=1e-9)
    # AdamW decays first: 1 * (1 - 0.1 * 0.5) = 0.95, then the Adam step
    assert first(tg.optim.AdamW, lr=0.1, weight_decay=0.5)[0] == \
        pytest.approx([0.85, -0.85], abs=1e-8)
    # SGD momentum, two steps with g = 1: b = 1, then b = 0.9 + 1 = 1.9
    p = tg.tensor([0.0], requires_grad=True)
    opt = tg.optim.SGD([p], lr=1.0, momentum=0.9)
    for _ in range(2):
        p.grad = tg.ones(1)
        opt.step()
    assert p.tolist() == pytest.approx([-2.9])
    assert opt.state[p]["momentum_buffer"].tolist() == pytest.approx([1.9])


def test_float32_params_compute_in_float32():
    """The update rounds in float32 (as PyTorch's CPU kernels): lr = 1e-3 applied to 1.0
    with g = 1e-4 moves p by the float32 product, fused with the add."""
    p = tg.tensor([1.0, 3.0], requires_grad=True)
    opt = tg.optim.SGD([p], lr=0.1)
    g = np.array([1e-3, 7e-3], np.float32)
    p.grad = tg.tensor(g)
    opt.step()
    want = (g.astype(np.float64) * np.float64(np.float32(-0.1)) +
            np.array([1.0, 3.0])).astype(np.float32)
    assert p.detach().numpy().tobytes() == want.tobytes()


# ---- the flat layout ----------------------------------------------------------------------
def test_params_become_views_of_one_buffer_and_grads_land_in_it():
    ps = [tg.randn(3, 2, requires_grad=True), tg.randn(5, requires_grad=True)]
    opt = tg.optim.Adam(ps)
    (f,) = opt._flats(opt.param_groups[0])
    assert all(p._arr.base is f.P for p in ps)
    (ps[0].sum() + (ps[1] * 2).sum()).backward()
    assert all(p.grad._arr.base is f.G for p in ps)
    assert f.G.tolist() == [1.0] * 6 + [2.0] * 5
    opt.step()
    st = opt.state[ps[1]]
    assert st["exp_avg"]._arr.base is f.bufs[0] and st["exp_avg"].shape == (5,)
    assert st["step"].dtype is tg.float32 and st["step"].shape == () and st["step"].item() == 1


def test_one_kernel_call_per_group_and_dtype(monkeypatch):
    ps = [tg.randn(4, requires_grad=True) for _ in range(10)]
    qs = [tg.randn(3, dtype=tg.float64, requires_grad=True) for _ in range(4)]
    opt = tg.optim.Adam([{"params": ps[:6] + qs}, {"params": ps[6:], "lr": 0.1}])
    for p in ps + qs:
        p.grad = tg.ones_like(p)
    opt.step()
    calls = []
    for key, fn in list(optimizer_mod._ENTRY.items()):
        monkeypatch.setitem(optimizer_mod._ENTRY, key,
                            lambda *a, _fn=fn: calls.append(a[0].dtype) or _fn(*a))
    opt.step()
    assert sorted(map(str, calls)) == ["float32", "float32", "float64"]


def test_kernels_compile_two_signatures_at_most():
    for dt in (tg.float32, tg.float64):
        for cls, kw in ((tg.optim.SGD, dict(momentum=0.9)), (tg.optim.Adam, {}),
                        (tg.optim.RMSprop, {}), (tg.optim.Adagrad, {})):
            p = tg.ones(3, dtype=dt, requires_grad=True)
            opt = cls([p], **kw)
            p.grad = tg.ones_like(p)
            opt.step()
    for kern in (K.sgd_step, K.adam_step, K.rmsprop_step, K.adagrad_step, K.axpy):
        assert len(kern.overloads) <= 2


def test_params_without_grad_are_skipped():
    p, q = tg.ones(2, requires_grad=True), tg.ones(2, requires_grad=True)
    opt = tg.optim.Adam([p, q], lr=0.1)
    p.grad = tg.ones(2)
    opt.step()
    assert q.tolist() == [1.0, 1.0] and q not in opt.state and opt.state[p]["step"].item() == 1
    q.grad = tg.ones(2)
    opt.step()
    assert opt.state[p]["step"].item() == 2 and opt.state[q]["step"].item() == 1
    assert q.tolist() == pytest.approx([0.9, 0.9])


def test_replaced_data_and_assigned_grad_are_used():
    p = tg.tensor([1.0, 2.0, 3.0], requires_grad=True)
    opt = tg.optim.SGD([p], lr=0.1)
    p.grad = tg.ones(3)
    p.data = tg.tensor([10.0, 20.0, 30.0])
    opt.step()
    assert p.tolist() == pytest.approx([9.9, 19.9, 29.9])
    p.grad = tg.tensor([0.0, 10.0, 0.0])
    opt.step()
    assert p.tolist() == pytest.approx([9.9, 18.9, 29.9])


def test_dtype_change_relays_out_and_keeps_state():
    p, q = tg.ones(3, requires_grad=True), tg.ones(2, requires_grad=True)
    opt = tg.optim.Adam([p, q], lr=0.1)
    (p.sum() + q.sum()).backward()
    opt.step()
    p.data = p.data.double()
    p.grad = None
    (p.sum() * 2).backward()
    opt.step()
    st = opt.state[p]
    assert p.dtype is tg.float64 and st["exp_avg"].dtype is tg.float64
    assert st["exp_avg"].tolist() == pytest.approx([0.29] * 3) and st["step"].item() == 2
    assert sorted(str(f.dt) for f in opt._flats(opt.param_groups[0])) == \
        ["torch.float32", "torch.float64"]
    # step 2 with g = 2: m = 0.29, v = 0.004999, bias corrections 0.19 and 0.001999
    step2 = 0.1 / 0.19 * 0.29 / (math.sqrt(0.004999) / math.sqrt(1 - 0.999 ** 2) + 1e-8)
    assert p.tolist() == pytest.approx([0.9 - step2] * 3, rel=1e-6)


def test_a_live_old_grad_keeps_its_values():
    p = tg.ones(3, requires_grad=True)
    opt = tg.optim.SGD([p], lr=0.1)
    (p * 2).sum().backward()
    g = p.grad
    opt.zero_grad()
    (p * 5).sum().backward()
    assert g.tolist() == [2.0] * 3 and p.grad.tolist() == [5.0] * 3
    opt.step()
    assert g.tolist() == [2.0] * 3 and p.tolist() == pytest.approx([0.5] * 3)
    del g
    opt.zero_grad()
    (p * 3).sum().backward()
    assert p.grad._arr is p._ghome  # free again: back in the flat buffer


def test_shared_storage_is_kept():
    a = np.array([1.0, 2.0], np.float32)
    p = tg.from_numpy(a).requires_grad_()
    q = tg.ones(2, requires_grad=True)
    w = q.detach()  # made before the optimizer: shares q's storage
    opt = tg.optim.SGD([p, q], lr=0.5)
    (p.sum() + q.sum()).backward()
    opt.step()
    assert a.tolist() == [0.5, 1.5] and w.tolist() == [0.5, 0.5]


def test_two_optimizers_on_the_same_params():
    p = tg.tensor([1.0, 2.0], requires_grad=True)
    o1, o2 = tg.optim.SGD([p], lr=0.1), tg.optim.SGD([p], lr=1.0)
    p.grad = tg.ones(2)
    o1.step()
    o2.step()
    o1.step()
    assert p.tolist() == pytest.approx([-0.2, 0.8])


def test_a_value_computed_without_grad_can_be_a_param():
    x = tg.ones(3) * 2
    opt = tg.optim.SGD([x], lr=0.1)
    x.grad = tg.ones(3)
    opt.step()
    assert x.tolist() == pytest.approx([1.9] * 3)


def test_a_graph_recorded_before_the_optimizer_still_backwards():
    """Moving a parameter into the flat buffer keeps its value and version (no bump), so
    a graph recorded before the optimizer was made is still valid."""
    p = tg.tensor([1.0, 2.0], requires_grad=True)
    loss = (p * p).sum()
    opt = tg.optim.SGD([p], lr=0.5)
    loss.backward()
    assert p.grad.tolist() == [2.0, 4.0] and p._version == 0
    opt.step()
    assert p.tolist() == [0.0, 0.0] and p._version == 1
    with pytest.raises(RuntimeError, match="modified by an inplace operation"):
        _backward_after_step()


def _backward_after_step():
    """As in PyTorch: a graph that saved p cannot backward after a step changed p."""
    p = tg.tensor([1.0, 2.0], requires_grad=True)
    opt = tg.optim.SGD([p], lr=0.5)
    loss = (p * p).sum()  # saves p
    p.grad = tg.ones(2)
    opt.step()            # changes p in place, as PyTorch's step does
    loss.backward()


def test_step_then_forward_sees_new_values():
    """The step bumps the parameters' versions: cached tape copies are not reused."""
    p = tg.tensor([1.0, 2.0], requires_grad=True)
    opt = tg.optim.SGD([p], lr=0.5)
    for want in ([0.5, 1.5], [0.0, 1.0]):
        opt.zero_grad()
        (p * 1.0).sum().backward()
        opt.step()
        assert (p * 1.0).tolist() == want


# ---- state ----------------------------------------------------------------------------------
def test_state_keys_as_pytorch():
    def keys(cls, **kw):
        p = tg.ones(2, requires_grad=True)
        opt = cls([p], **kw)
        p.grad = tg.ones(2)
        opt.step()
        return list(opt.state[p])

    assert keys(tg.optim.SGD) == []
    assert keys(tg.optim.SGD, momentum=0.9) == ["momentum_buffer"]
    assert keys(tg.optim.Adam) == ["step", "exp_avg", "exp_avg_sq"]
    assert keys(tg.optim.AdamW, amsgrad=True) == ["step", "exp_avg", "exp_avg_sq",
                                                  "max_exp_avg_sq"]
    assert keys(tg.optim.RMSprop, momentum=0.5, centered=True) == \
        ["step", "square_avg", "momentum_buffer", "grad_avg"]
    assert keys(tg.optim.Adagrad) == ["step", "sum"]
    p = tg.ones(2, requires_grad=True)
    st = tg.optim.Adagrad([p], initial_accumulator_value=0.5).state[p]  # made at once
    assert st["sum"].tolist() == [0.5, 0.5] and st["step"].item() == 0


def test_replaced_and_deleted_state_is_used():
    p = tg.ones(3, requires_grad=True)
    opt = tg.optim.Adam([p], lr=0.1)
    p.grad = tg.ones(3)
    opt.step()
    opt.state[p]["exp_avg"] = tg.zeros(3)
    opt.step()
    assert opt.state[p]["exp_avg"].tolist() == pytest.approx([0.1] * 3)
    assert opt.state[p]["step"].item() == 2
    opt.state[p]["exp_avg_sq"].data = tg.full((3,), 4.0)
    opt.state[p]["step"].fill_(0.0)
    opt.step()
    assert opt.state[p]["exp_avg_sq"].tolist() == pytest.approx([0.999 * 4 + 0.001] * 3)
    assert opt.state[p]["step"].item() == 1
    del opt.state[p]
    opt.step()
    assert opt.state[p]["step"].item() == 1
    assert opt.state[p]["exp_avg"].tolist() == pytest.approx([0.1] * 3)


def test_state_dict_format_and_round_trip():
    def make():
        ps = [tg.tensor(np.linspace(-1, 1, 4), dtype=tg.float32, requires_grad=True),
              tg.tensor([0.5, 0.25], requires_grad=True)]
        opt = tg.optim.Adam([{"params": ps[:1]}, {"params": ps[1:], "lr": 0.1}], lr=0.01,
                            amsgrad=True)
        return ps, opt

    def steps(ps, opt, n):
        for _ in range(n):
            opt.zero_grad()
            sum((p * p * p).sum() for p in ps).backward()
            opt.step()

    ps, opt = make()
    steps(ps, opt, 10)
    qs, o2 = make()
    steps(qs, o2, 5)
    sd = o2.state_dict()
    assert list(sd) == ["state", "param_groups"] and list(sd["state"]) == [0, 1]
    assert sd["param_groups"][1]["params"] == [1] and sd["param_groups"][1]["lr"] == 0.1
    assert list(sd["state"][0]) == ["step", "exp_avg", "exp_avg_sq", "max_exp_avg_sq"]
    rs, o3 = make()
    for r, q in zip(rs, qs):
        r.data = q.data.clone()
    o3.load_state_dict(sd)
    steps(rs, o3, 5)
    for p, r in zip(ps, rs):
        assert p.tolist() == r.tolist()
    assert o3.state_dict()["param_groups"] == opt.state_dict()["param_groups"]
    with pytest.raises(ValueError, match="different number of parameter groups"):
        tg.optim.Adam([tg.ones(1, requires_grad=True)]).load_state_dict(sd)
    bad = {"state": {}, "param_groups": [dict(sd["param_groups"][0], params=[0, 1]),
                                         sd["param_groups"][1]]}
    with pytest.raises(ValueError, match="doesn't match the size"):
        o3.load_state_dict(bad)


def test_load_state_dict_casts_to_the_param_dtype():
    p = tg.ones(2, dtype=tg.float64, requires_grad=True)
    opt = tg.optim.SGD([p], lr=1.0, momentum=1.0)
    opt.load_state_dict({"state": {0: {"momentum_buffer": tg.tensor([1.0, 2.0])}},
                         "param_groups": [dict(opt.state_dict()["param_groups"][0])]})
    p.grad = tg.zeros(2, dtype=tg.float64)
    opt.step()
    assert opt.state[p]["momentum_buffer"].dtype is tg.float64
    assert p.tolist() == [0.0, -1.0]


def test_zero_grad():
    p = tg.ones(2, requires_grad=True)
    opt = tg.optim.SGD([p])
    p.sum().backward()
    home = p.grad._arr
    opt.zero_grad(set_to_none=False)
    assert p.grad.tolist() == [0.0, 0.0] and p.grad._arr is home
    opt.zero_grad()
    assert p.grad is None


def test_closure_runs_under_enable_grad():
    p = tg.tensor([1.0, 2.0], requires_grad=True)
    opt = tg.optim.SGD([p], lr=0.1)

    def closure():
        opt.zero_grad()
        loss = (p * p).sum()
        loss.backward()
        return loss

    with tg.no_grad():
        loss = opt.step(closure)
    assert loss.item() == 5.0 and p.tolist() == pytest.approx([0.8, 1.6])


# ---- groups, API, errors --------------------------------------------------------------------
def test_param_groups_and_defaults():
    p, q, r = (tg.ones(2, requires_grad=True) for _ in range(3))
    opt = tg.optim.SGD([{"params": [p]}, {"params": q, "lr": 0.5, "momentum": 0.9}], lr=0.1)
    assert [g["lr"] for g in opt.param_groups] == [0.1, 0.5]
    assert opt.param_groups[1]["params"] == [q] and opt.param_groups[0]["momentum"] == 0
    assert list(opt.param_groups[0]) == ["params", "lr", "momentum", "dampening",
                                         "weight_decay", "nesterov", "maximize", "foreach",
                                         "differentiable", "fused"]
    opt.add_param_group({"params": [r], "lr": 2.0})
    for t in (p, q, r):
        t.grad = tg.ones(2)
    opt.step()
    assert (p.tolist(), q.tolist(), r.tolist()) == \
        (pytest.approx([0.9] * 2), [0.5] * 2, [-1.0] * 2)
    opt.param_groups[0]["lr"] = 1.0  # a changed option is used at the next step
    opt.step()
    assert p.tolist() == pytest.approx([-0.1] * 2)
    model_like = (t for t in [tg.ones(1, requires_grad=True)])  # a generator works
    assert len(tg.optim.Adam(model_like).param_groups[0]["params"]) == 1
    named = tg.optim.SGD([("w", p), ("b", q)])
    assert named.param_groups[0]["param_names"] == ["w", "b"]


def test_repr():
    opt = tg.optim.SGD([tg.ones(1, requires_grad=True)], lr=0.1)
    assert repr(opt) == ("SGD (\nParameter Group 0\n    dampening: 0\n    differentiable: "
                         "False\n    foreach: None\n    fused: None\n    lr: 0.1\n    "
                         "maximize: False\n    momentum: 0\n    nesterov: False\n    "
                         "weight_decay: 0\n)")


ERRORS = [
    (lambda m, p: m.optim.SGD(p[0]), TypeError, "params argument given to the optimizer should "
     "be an iterable of Tensors or dicts, but got torch.FloatTensor"),
    (lambda m, p: m.optim.SGD([]), ValueError, "optimizer got an empty parameter list"),
    (lambda m, p: m.optim.SGD(p, lr=-0.1), ValueError, "Invalid learning rate: -0.1"),
    (lambda m, p: m.optim.SGD(p, momentum=-1), ValueError, "Invalid momentum value: -1"),
    (lambda m, p: m.optim.SGD(p, weight_decay=-1), ValueError, "Invalid weight_decay value: -1"),
    (lambda m, p: m.optim.SGD(p, nesterov=True), ValueError,
     "Nesterov momentum requires a momentum and zero dampening"),
    (lambda m, p: m.optim.SGD(p, momentum=0.9, dampening=0.1, nesterov=True), ValueError,
     "Nesterov momentum requires a momentum and zero dampening"),
    (lambda m, p: m.optim.Adam(p, betas=(1.0, 0.999)), ValueError,
     "Invalid beta parameter at index 0: 1.0"),
    (lambda m, p: m.optim.Adam(p, betas=(0.9, -0.1)), ValueError,
     "Invalid beta parameter at index 1: -0.1"),
    (lambda m, p: m.optim.Adam(p, eps=-1e-8), ValueError, "Invalid epsilon value: -1e-08"),
    (lambda m, p: m.optim.AdamW(p, weight_decay=-0.1), ValueError,
     "Invalid weight_decay value: -0.1"),
    (lambda m, p: m.optim.RMSprop(p, alpha=-0.5), ValueError, "Invalid alpha value: -0.5"),
    (lambda m, p: m.optim.RMSprop(p, momentum=-0.5), ValueError, "Invalid momentum value: -0.5"),
    (lambda m, p: m.optim.Adagrad(p, lr_decay=-1.0), ValueError, "Invalid lr_decay value: -1.0"),
    (lambda m, p: m.optim.Adagrad(p, initial_accumulator_value=-1.0), ValueError,
     "Invalid initial_accumulator_value value: -1.0"),
    (lambda m, p: m.optim.SGD([p[0], {"params": p[1]}]), TypeError,
     "optimizer can only optimize Tensors, but one of the params is dict"),
    (lambda m, p: m.optim.SGD([{"params": p}, {"params": p[:1]}]), ValueError,
     "some parameters appear in more than one parameter group"),
    (lambda m, p: m.optim.SGD([p[0] * 2]), ValueError, "can't optimize a non-leaf Tensor"),
    (lambda m, p: m.optim.SGD([{"params": {p[0]}}]), TypeError,
     "optimizer parameters need to be organized in ordered collections"),
    (lambda m, p: m.optim.LBFGS([{"params": p[:1]}, {"params": p[1:]}]), ValueError,
     "LBFGS doesn't support per-parameter options (parameter groups)"),
    (lambda m, p: m.optim.LBFGS(p, lr=-1.0), ValueError, "Invalid learning rate: -1.0"),
]


@pytest.mark.parametrize("make,exc,msg", ERRORS, ids=[e[2][:40] for e in ERRORS])
def test_errors(make, exc, msg):
    params = [tg.ones(2, requires_grad=True), tg.ones(3, requires_grad=True)]
    with pytest.raises(exc) as info:
        make(tg, params)
    assert str(info.value).startswith(msg)


def test_differentiable_is_refused_and_options_are_kept():
    with pytest.raises(NotImplementedError, match="differentiable=True"):
        tg.optim.Adam([tg.ones(1, requires_grad=True)], differentiable=True)
    opt = tg.optim.Adam([tg.ones(1, requires_grad=True)], foreach=True, capturable=True)
    assert opt.param_groups[0]["foreach"] is True and opt.param_groups[0]["capturable"]


def test_duplicate_params_warn():
    p = tg.ones(1, requires_grad=True)
    with pytest.warns(UserWarning, match="duplicate parameters"):
        opt = tg.optim.SGD([p, p], lr=0.5)
    p.grad = tg.ones(1)
    opt.step()
    assert p.tolist() == [0.5]


# ---- LBFGS ------------------------------------------------------------------------------------
def _lbfgs_problem(lib, dtype, **kw):
    D = getattr(lib, dtype)
    x = lib.tensor([-1.2, 1.0, -0.5, 0.7], dtype=D, requires_grad=True)
    y = lib.tensor([0.3, 0.1], dtype=D, requires_grad=True)
    c = lib.tensor([1.0, 2.0, 3.0, 4.0], dtype=D)
    opt = lib.optim.LBFGS([x, y], **kw)

    def closure():
        opt.zero_grad()
        loss = (c * (x - 1) ** 2).sum() + 0.1 * (x ** 4).sum() + ((y - 2) ** 2).sum() * 3
        loss.backward()
        return loss

    return x, y, opt, closure


@pytest.mark.parametrize("kw", [{}, dict(line_search_fn="strong_wolfe"),
                                dict(lr=0.5, history_size=3, max_iter=7)])
def test_lbfgs_minimizes(kw):
    x, y, opt, closure = _lbfgs_problem(tg, "float64", **kw)
    first = opt.step(closure)
    for _ in range(10):
        opt.step(closure)
    assert closure().item() < first.item()
    # the minimum: 2 c (x - 1) + 0.4 x^3 = 0 per coordinate, y = 2
    xs = x.detach().numpy()
    np.testing.assert_allclose(2 * np.array([1, 2, 3, 4]) * (xs - 1) + 0.4 * xs ** 3, 0,
                               atol=1e-3)
    np.testing.assert_allclose(y.detach().numpy(), [2.0, 2.0], atol=1e-4)
    st = opt.state[x]
    assert {"func_evals", "n_iter", "d", "t", "old_dirs", "old_stps", "ro", "H_diag",
            "prev_flat_grad", "prev_loss"} <= set(st)
    assert isinstance(st["d"], tg.Tensor) and st["d"].shape == (6,)


def test_lbfgs_needs_a_closure_and_one_dtype():
    x, y, opt, closure = _lbfgs_problem(tg, "float32")
    with pytest.raises(TypeError):
        opt.step()
    x, y, opt, closure = _lbfgs_problem(tg, "float32", line_search_fn="armijo")
    with pytest.raises(RuntimeError, match="only 'strong_wolfe' is supported"):
        opt.step(closure)
    opt = tg.optim.LBFGS([tg.ones(1, requires_grad=True),
                          tg.ones(1, dtype=tg.float64, requires_grad=True)])
    with pytest.raises(NotImplementedError, match="one floating dtype"):
        opt.step(lambda: tg.tensor(0.0))


@pytest.mark.torch
@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize("kw", [{}, dict(line_search_fn="strong_wolfe"),
                                dict(lr=0.5, history_size=3, max_iter=7)])
def test_lbfgs_matches_torch(kw, dtype):
    torch_ref = pytest.importorskip("torch")
    runs = []
    for lib in (tg, torch_ref):
        x, y, opt, closure = _lbfgs_problem(lib, dtype, **kw)
        losses = [float(opt.step(closure).detach()) for _ in range(3)]
        runs.append((np.concatenate([x.detach().numpy(), y.detach().numpy()]), losses,
                     opt.state[x]["func_evals"], opt.state[x]["n_iter"]))
    (a, la, ea, na), (b, lb, eb, nb) = runs
    tol = dict(rtol=1e-4, atol=1e-5) if dtype == "float32" else dict(rtol=1e-9, atol=1e-11)
    np.testing.assert_allclose(a, b, **tol)
    np.testing.assert_allclose(la, lb, **tol)
    if dtype == "float64":
        assert (ea, na) == (eb, nb)


@pytest.mark.torch
def test_errors_and_repr_match_torch():
    torch_ref = pytest.importorskip("torch")
    for make, exc, msg in ERRORS:
        got = []
        for lib in (tg, torch_ref):
            params = [lib.ones(2, requires_grad=True), lib.ones(3, requires_grad=True)]
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                try:
                    make(lib, params)
                except Exception as e:  # noqa: BLE001
                    got.append((type(e), str(e).split("\n")[0][:60]))
                else:
                    got.append(None)
        assert got[0] is not None
        assert got[0] == got[1], msg
    for cls, kw in (("SGD", dict(lr=0.1, momentum=0.9)), ("Adam", {}), ("AdamW", {}),
                    ("RMSprop", dict(centered=True)), ("Adagrad", {}), ("LBFGS", {})):
        ours = getattr(tg.optim, cls)([tg.ones(1, requires_grad=True)], **kw)
        theirs = getattr(torch_ref.optim, cls)([torch_ref.ones(1, requires_grad=True)], **kw)
        assert repr(ours) == repr(theirs)
        assert ours.state_dict()["param_groups"] == theirs.state_dict()["param_groups"]


# ---- subclassing, copies, modules ---------------------------------------------------------
def test_a_user_optimizer_on_the_base_class():
    class SignSGD(tg.optim.Optimizer):
        def __init__(self, params, lr=0.1):
            super().__init__(params, dict(lr=lr))

        def step(self, closure=None):
            for group in self.param_groups:
                for p in group["params"]:
                    if p.grad is not None:
                        self.state[p]["n"] = self.state[p].get("n", 0) + 1
                        p.data.add_(tg.sign(p.grad), alpha=-group["lr"])

    p = tg.tensor([1.0, -1.0], requires_grad=True)
    opt = SignSGD([p])
    for _ in range(2):
        opt.zero_grad()
        (p * tg.tensor([3.0, -2.0])).sum().backward()
        opt.step()
    assert p.tolist() == pytest.approx([0.8, -0.8]) and opt.state[p]["n"] == 2
    assert opt.state_dict()["state"] == {0: {"n": 2}}


def test_deepcopy_of_an_optimizer():
    import copy

    p = tg.ones(3, requires_grad=True)
    opt = tg.optim.Adam([p], lr=0.1)
    p.grad = tg.ones(3)
    opt.step()
    twin = copy.deepcopy(opt)
    q = twin.param_groups[0]["params"][0]
    assert q is not p and q.tolist() == p.tolist()
    assert twin.state[q]["step"].item() == 1
    q.grad = tg.ones(3)
    twin.step()
    assert opt.state[p]["step"].item() == 1 and twin.state[q]["step"].item() == 2
    assert q.tolist() != p.tolist()
    saved = copy.deepcopy(opt.state_dict())
    assert saved["state"][0]["exp_avg"].tolist() == [pytest.approx(0.1)] * 3


def test_with_nn_modules():
    nn = tg.nn
    if not hasattr(nn, "Linear") or not hasattr(nn, "MSELoss"):
        pytest.skip("tapegrad.nn.Linear is not there yet")
    tg.manual_seed(0)
    model = nn.Linear(3, 1)
    opt = tg.optim.SGD(model.parameters(), lr=0.1, momentum=0.5)
    x = tg.randn(32, 3)
    y = x @ tg.tensor([[1.0], [-2.0], [0.5]]) + 0.3
    losses = []
    for i in range(60):
        if i == 30:
            model.double()  # same parameter objects, float64 arrays: the layout follows
            x, y = x.double(), y.double()
        opt.zero_grad()
        loss = nn.MSELoss()(model(x), y)
        loss.backward()
        opt.step()
        losses.append(loss.item())
    assert losses[-1] < 1e-3 * losses[0]
    assert model.weight.dtype is tg.float64
    assert opt.state[model.weight]["momentum_buffer"].dtype is tg.float64
    np.testing.assert_allclose(model.weight.detach().numpy(), [[1.0, -2.0, 0.5]], atol=0.05)
