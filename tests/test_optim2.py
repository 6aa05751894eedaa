"""tapegrad.optim's Adadelta, Adamax, NAdam and RAdam: update rules (against a NumPy
reference of the documented rules, fixed hand-checked values, and PyTorch when
installed), the flat-buffer step (one kernel call per group and dtype), state keys,
NAdam's mu_product state, state_dict round trips and hyperparameter errors."""

import math
from itertools import product

import numpy as np
import pytest

import tapegrad as tg
from tapegrad.optim import adadelta, adamax, nadam, radam
from tapegrad.optim import optimizer as optimizer_mod
from tests.test_optim import SHAPES, _grad, tg_run

NAMES = ("Adadelta", "Adamax", "NAdam", "RAdam")
LR = {"Adadelta": 1.0, "Adamax": 2e-3, "NAdam": 2e-3, "RAdam": 1e-3}
EPS = {"Adadelta": 1e-6}


# ---- NumPy reference: the update rules as documented --------------------------------------
def ref_run(name, kw, dtype, steps=100, skip=False):
    rng = np.random.default_rng(0)
    xs = [rng.standard_normal(s).astype(dtype) for s in SHAPES]
    cs = [rng.uniform(0.5, 2, s).astype(dtype) for s in SHAPES]
    st = [dict(t=0, P=1.0) for _ in xs]
    for i in range(steps):
        for j, (x, c) in enumerate(zip(xs, cs)):
            if skip and (i + j) % 3 == 0:
                continue
            xs[j] = _ref_update(name, kw, x, _grad(x, c), st[j])
    return xs


def _ref_update(name, kw, p, g, s):
    lr, wd = kw.get("lr", LR[name]), kw.get("weight_decay", 0)
    eps = kw.get("eps", EPS.get(name, 1e-8))
    b1, b2 = kw.get("betas", (0.9, 0.999))
    g = -g if kw.get("maximize") else g
    zero = 0 * p
    s["t"] += 1
    t = s["t"]
    if kw.get("decoupled_weight_decay"):
        p = p * (1 - lr * wd)
    else:
        g = g + wd * p
    if name == "Adadelta":
        rho = kw.get("rho", 0.9)
        s["v"] = rho * s.get("v", zero) + (1 - rho) * g * g
        d = np.sqrt(s.get("u", zero) + eps) / np.sqrt(s["v"] + eps) * g
        s["u"] = rho * s.get("u", zero) + (1 - rho) * d * d
        return p - lr * d
    s["m"] = b1 * s.get("m", zero) + (1 - b1) * g
    if name == "Adamax":
        s["u"] = np.maximum(b2 * s.get("u", zero), np.abs(g) + eps)
        return p - lr / (1 - b1 ** t) * s["m"] / s["u"]
    s["v"] = b2 * s.get("v", zero) + (1 - b2) * g * g
    m, v = s["m"], s["v"]
    if name == "NAdam":
        md = kw.get("momentum_decay", 4e-3)
        mu = b1 * (1 - 0.5 * 0.96 ** (t * md))
        mu_next = b1 * (1 - 0.5 * 0.96 ** ((t + 1) * md))
        f32 = np.float32  # mu_product is a float32 tensor (the default dtype's "step")
        s["P"] = float(f32(f32(s["P"]) * f32(mu)))
        d = np.sqrt(v / (1 - b2 ** t)) + eps
        return p - lr * (1 - mu) / (1 - s["P"]) * g / d - \
            lr * mu_next / (1 - s["P"] * mu_next) * m / d
    rho_inf = 2 / (1 - b2) - 1
    rho_t = rho_inf - 2 * t * b2 ** t / (1 - b2 ** t)
    mhat = m / (1 - b1 ** t)
    if rho_t <= 5:
        return p - lr * mhat
    r = math.sqrt((rho_t - 4) * (rho_t - 2) * rho_inf / ((rho_inf - 4) * (rho_inf - 2) * rho_t))
    return p - lr * mhat * r * math.sqrt(1 - b2 ** t) / (np.sqrt(v) + eps)


def _configs():
    """Every combination of each optimizer's options (two values each), and a few more.
    The small betas are (0.3, 0.99): with beta2 = 0.9, v follows g so closely near a
    minimum that the step is lr * sign(g), and 100 steps turn a rounding difference of
    1e-16 into 1e-4 (Adamax's max switches sides likewise; the NumPy reference run in
    float32 and in float64 differs as much), which no implementation can be compared on."""
    out = []
    for rho, wd, mx in product([0.9, 0.5], [0, 0.1], [False, True]):
        out.append(("Adadelta", dict(rho=rho, weight_decay=wd, maximize=mx)))
    for betas, wd, mx in product([(0.9, 0.999), (0.3, 0.99)], [0, 0.1], [False, True]):
        out.append(("Adamax", dict(lr=0.005, betas=betas, weight_decay=wd, maximize=mx)))
    for name, betas, wd, dec, mx in product(["NAdam", "RAdam"], [(0.9, 0.999), (0.3, 0.99)],
                                            [0, 0.1], [False, True], [False, True]):
        out.append((name, dict(lr=0.003, betas=betas, weight_decay=wd,
                               decoupled_weight_decay=dec, maximize=mx)))
    out += [("Adadelta", dict(lr=0.5, eps=1e-4)), ("Adadelta", dict()), ("Adamax", dict()),
            ("Adamax", dict(lr=0.02, betas=(0.5, 0.95), eps=1e-3)), ("NAdam", dict()),
            ("NAdam", dict(momentum_decay=0.1, lr=0.01)), ("RAdam", dict()),
            ("RAdam", dict(lr=0.01, betas=(0.5, 0.8), eps=1e-4))]
    return out


CONFIGS = _configs()
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
    """The same gradients assigned to both (each library's backward of sin rounds its own
    way), so that what is compared is the optimizer."""
    torch_ref = pytest.importorskip("torch")
    got, opt = tg_run(name, kw, dtype, skip=skip)
    want, topt = tg_run(name, kw, dtype, skip=skip, lib=torch_ref)
    for a, b in zip(got, want):
        np.testing.assert_allclose(a, b, **TOL[dtype])
    sd, tsd = opt.state_dict(), topt.state_dict()
    assert sd["param_groups"] == tsd["param_groups"]
    assert list(sd["state"]) == list(tsd["state"])
    for i, st in sd["state"].items():
        assert list(st) == list(tsd["state"][i])
        for key, v in st.items():
            tv = tsd["state"][i][key]
            assert str(v.dtype) == str(tv.dtype) and v.shape == tuple(tv.shape)
            if key in ("step", "mu_product"):  # the same numbers, rounded alike
                assert v.item() == tv.item(), key
                continue
            # state such as Adadelta's d^2 ~ g^2 is noise where g is near 0 (a difference
            # of nearly equal terms, its float32 rounding amplified): compared to its scale
            scale = float(np.abs(tv.numpy()).max()) if tv.numel() else 1.0
            tol = dict(rtol=1e-3, atol=5e-3 * scale) if dtype == np.float32 else TOL[dtype]
            np.testing.assert_allclose(v.numpy(), tv.numpy(), **tol)


# ---- fixed, hand-checked values -----------------------------------------------------------
def _first(cls, steps=1, **kw):
    p = tg.tensor([1.0, -1.0], dtype=tg.float64, requires_grad=True)
    opt = cls([p], **kw)
    for _ in range(steps):
        p.grad = tg.tensor([2.0, -4.0], dtype=tg.float64)
        opt.step()
    return p.tolist(), opt.state[p]


def test_hand_checked_first_steps():
    # Adadelta: v = 0.1 g^2, d = sqrt(eps) / sqrt(v + eps) g ~ 1e-3 sign(g) / sqrt(0.1)
    got, st = _first(tg.optim.Adadelta)
    d = [1e-3 * g / math.sqrt(0.1 * g * g + 1e-6) for g in (2.0, -4.0)]
    assert got == pytest.approx([1 - d[0], -1 - d[1]], abs=1e-15)
    assert st["square_avg"].tolist() == pytest.approx([0.4, 1.6])
    assert st["acc_delta"].tolist() == pytest.approx([0.1 * x * x for x in d])
    # Adamax: m = 0.1 g, u = |g| + eps, step lr / 0.1 * m / u = lr sign(g)
    got, st = _first(tg.optim.Adamax, lr=0.1)
    assert got == pytest.approx([0.9, -0.9], abs=1e-8)
    assert st["exp_inf"].tolist() == [2 + 1e-8, 4 + 1e-8]
    # RAdam: rho_1 = 1 <= 5, so the first steps are lr * m / (1 - beta1^t) = lr g
    got, st = _first(tg.optim.RAdam, lr=0.1)
    assert got == pytest.approx([0.8, -0.6], abs=1e-12)
    got, _ = _first(tg.optim.RAdam, steps=5, lr=0.1)
    assert got == pytest.approx([0.0, 1.0], abs=1e-12)  # five SGD-like steps of m_hat = g
    # NAdam: denom = |g| + eps; p -= lr sign(g) (1 + 0.1 mu_2 / (1 - mu_1 mu_2))
    got, st = _first(tg.optim.NAdam, lr=0.1)
    mu1, mu2 = (0.9 * (1 - 0.5 * 0.96 ** (t * 4e-3)) for t in (1, 2))
    move = 0.1 * (1 + 0.1 * mu2 / (1 - mu1 * mu2))
    assert got == pytest.approx([1 - move, -1 + move], abs=1e-8)
    assert st["mu_product"].dtype is tg.float32 and st["mu_product"].shape == ()
    assert st["mu_product"].item() == float(np.float32(mu1))


def test_float32_state_rounds_as_float32():
    p = tg.tensor([1.0, 3.0], requires_grad=True)
    opt = tg.optim.Adadelta([p], rho=0.5)
    g = np.array([1e-3, 7e-3], np.float32)
    p.grad = tg.tensor(g)
    opt.step()
    sa = opt.state[p]["square_avg"].numpy()
    assert sa.dtype == np.float32
    want = (g.astype(np.float64) * np.float32(0.5) * g).astype(np.float32)  # one rounding
    assert sa.tobytes() == want.tobytes()


# ---- state ----------------------------------------------------------------------------------
def test_state_keys_as_pytorch():
    def keys(cls, **kw):
        p = tg.ones(2, requires_grad=True)
        opt = cls([p], **kw)
        assert not opt.state
        p.grad = tg.ones(2)
        opt.step()
        return list(opt.state[p])

    assert keys(tg.optim.Adadelta) == ["step", "square_avg", "acc_delta"]
    assert keys(tg.optim.Adamax) == ["step", "exp_avg", "exp_inf"]
    assert keys(tg.optim.NAdam) == ["step", "mu_product", "exp_avg", "exp_avg_sq"]
    assert keys(tg.optim.RAdam, decoupled_weight_decay=True) == ["step", "exp_avg",
                                                                 "exp_avg_sq"]


def test_state_tensors_view_the_flat_buffers():
    ps = [tg.randn(3, 2, requires_grad=True), tg.randn(5, requires_grad=True)]
    opt = tg.optim.NAdam(ps)
    (f,) = opt._flats(opt.param_groups[0])
    assert all(p._arr.base is f.P for p in ps)
    (ps[0].sum() + (ps[1] * 2).sum()).backward()
    opt.step()
    st = opt.state[ps[1]]
    assert st["exp_avg"]._arr.base is f.bufs[0] and st["exp_avg_sq"]._arr.base is f.bufs[1]
    assert st["mu_product"]._arr.base is f.mu_pub and st["step"].item() == 1
    assert f.mu.tolist() == [st["mu_product"].item()] * 2


def test_nadam_mu_product_follows_changes_of_the_state():
    p = tg.ones(3, requires_grad=True)
    opt = tg.optim.NAdam([p], lr=0.1)
    mus = [0.9 * (1 - 0.5 * 0.96 ** (t * 4e-3)) for t in range(1, 5)]
    f32 = np.float32
    p.grad = tg.ones(3)
    opt.step()
    opt.state[p]["mu_product"] = tg.tensor(0.5)  # replaced: the next product starts from it
    opt.step()
    assert opt.state[p]["mu_product"].item() == float(f32(f32(0.5) * f32(mus[1])))
    opt.state[p]["mu_product"].fill_(0.25)  # changed in place
    opt.step()
    assert opt.state[p]["mu_product"].item() == float(f32(f32(0.25) * f32(mus[2])))
    opt.state[p]["mu_product"].data = tg.tensor(0.125)  # its array replaced
    opt.state[p]["step"].fill_(0.0)
    opt.step()
    assert opt.state[p]["mu_product"].item() == float(f32(f32(0.125) * f32(mus[0])))
    assert opt.state[p]["step"].item() == 1
    del opt.state[p]
    opt.step()
    assert opt.state[p]["mu_product"].item() == float(f32(mus[0]))
    assert list(opt.state[p]) == ["step", "mu_product", "exp_avg", "exp_avg_sq"]


def test_nadam_params_at_different_steps_keep_their_own_mu_product():
    ps = [tg.ones(2, requires_grad=True) for _ in range(3)]
    opt = tg.optim.NAdam(ps, lr=0.1)
    for i in range(4):
        for j, p in enumerate(ps):
            p.grad = tg.ones(2) if j <= i else None
        opt.step()
    steps = [opt.state[p]["step"].item() for p in ps]
    assert steps == [4, 3, 2]
    for p, t in zip(ps, steps):
        want = 1.0
        for k in range(1, int(t) + 1):
            want = np.float32(np.float32(want) * np.float32(0.9 * (1 - 0.5 * 0.96 ** (k * 4e-3))))
        assert opt.state[p]["mu_product"].item() == float(want)
    # same start, later steps: the parameter three steps behind moves as the first did
    q = tg.ones(2, requires_grad=True)
    o2 = tg.optim.NAdam([q], lr=0.1)
    for _ in range(2):
        q.grad = tg.ones(2)
        o2.step()
    assert q.tolist() == ps[2].tolist()


def test_nadam_relayout_deepcopy_and_save_keep_mu_product(tmp_path):
    import copy

    def two_steps_of(q, opt):
        for _ in range(2):
            q.grad = tg.ones(3)
            opt.step()
        return q.tolist(), opt.state[q]["mu_product"].item()

    p = tg.ones(3, requires_grad=True)
    opt = tg.optim.NAdam([p], lr=0.1)
    p.grad = tg.ones(3)
    opt.step()
    twin = copy.deepcopy(opt)
    path = tmp_path / "opt.pt"
    tg.save(opt.state_dict(), path)
    loaded = tg.optim.NAdam([tg.tensor(p.tolist(), requires_grad=True)], lr=0.1)
    loaded.load_state_dict(tg.load(path))
    want = two_steps_of(p, opt)
    assert two_steps_of(twin.param_groups[0]["params"][0], twin) == want
    assert two_steps_of(loaded.param_groups[0]["params"][0], loaded) == want
    p.data = p.data.double()  # a new dtype: the group is laid out again, its state kept
    p.grad = tg.ones(3, dtype=tg.float64)
    mu = opt.state[p]["mu_product"].item()
    opt.step()
    st = opt.state[p]
    mu4 = 0.9 * (1 - 0.5 * 0.96 ** (4 * 4e-3))
    assert st["step"].item() == 4 and st["exp_avg"].dtype is tg.float64
    assert st["mu_product"].item() == float(np.float32(np.float32(mu) * np.float32(mu4)))
    assert isinstance(opt._flats(opt.param_groups[0])[0], nadam._MuFlat)


def test_float64_default_keeps_step_and_mu_product_in_float64():
    old = tg.get_default_dtype()
    tg.set_default_dtype(tg.float64)
    try:
        p = tg.ones(2, requires_grad=True)
        opt = tg.optim.NAdam([p])
        p.grad = tg.ones(2)
        opt.step()
        st = opt.state[p]
        mu1 = 0.9 * (1 - 0.5 * 0.96 ** 4e-3)
        assert st["step"].dtype is tg.float64 and st["mu_product"].dtype is tg.float64
        assert st["mu_product"].item() == mu1
    finally:
        tg.set_default_dtype(old)


@pytest.mark.parametrize("name", NAMES)
def test_state_dict_round_trip(name):
    def make():
        ps = [tg.tensor(np.linspace(-1, 1, 4), dtype=tg.float32, requires_grad=True),
              tg.tensor([0.5, 0.25], dtype=tg.float64, requires_grad=True),
              tg.tensor([0.3, -0.2, 0.1], requires_grad=True)]
        opt = getattr(tg.optim, name)([{"params": ps[:2]}, {"params": ps[2:], "lr": 0.01}],
                                      weight_decay=0.1)
        return ps, opt

    def steps(ps, opt, n):
        for _ in range(n):
            opt.zero_grad()
            sum((p * p * p).sum() + tg.sin(p).sum() for p in ps).backward()
            opt.step()

    ps, opt = make()
    steps(ps, opt, 10)
    qs, o2 = make()
    steps(qs, o2, 5)
    sd = o2.state_dict()
    assert list(sd["state"]) == [0, 1, 2] and sd["param_groups"][1]["params"] == [2]
    rs, o3 = make()
    for r, q in zip(rs, qs):
        r.data = q.data.clone()
    o3.load_state_dict(sd)
    steps(rs, o3, 5)
    for p, r in zip(ps, rs):
        assert p.tolist() == r.tolist()
    assert o3.state_dict()["param_groups"] == opt.state_dict()["param_groups"]
    for i, st in o3.state_dict()["state"].items():
        assert list(st) == list(opt.state_dict()["state"][i])


# ---- the compiled step ----------------------------------------------------------------------
@pytest.mark.parametrize("name", NAMES)
def test_one_kernel_call_per_group_and_dtype(name, monkeypatch):
    ps = [tg.randn(4, requires_grad=True) for _ in range(10)]
    qs = [tg.randn(3, dtype=tg.float64, requires_grad=True) for _ in range(4)]
    opt = getattr(tg.optim, name)([{"params": ps[:6] + qs}, {"params": ps[6:], "lr": 0.1}])
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
        for name in NAMES:
            p = tg.ones(3, dtype=dt, requires_grad=True)
            opt = getattr(tg.optim, name)([p], weight_decay=0.1)
            p.grad = tg.ones_like(p)
            opt.step()
    for kern in (adadelta.adadelta_step, adamax.adamax_step, nadam.nadam_step,
                 radam.radam_step):
        assert len(kern.overloads) <= 2


@pytest.mark.parametrize("name", NAMES)
def test_params_without_grad_are_skipped_and_nan_propagates(name):
    p, q = tg.ones(2, requires_grad=True), tg.ones(2, requires_grad=True)
    opt = getattr(tg.optim, name)([p, q])
    p.grad = tg.tensor([float("nan"), 1.0])
    opt.step()
    assert q.tolist() == [1.0, 1.0] and q not in opt.state
    assert math.isnan(p.tolist()[0]) and not math.isnan(p.tolist()[1])


def test_with_nn_modules_and_a_scheduler():
    tg.manual_seed(0)
    model = tg.nn.Sequential(tg.nn.Linear(3, 8), tg.nn.Tanh(), tg.nn.Linear(8, 1))
    x, y = tg.randn(32, 3), tg.randn(32, 1)
    losses = {}
    for name in NAMES:
        m = tg.nn.Sequential(tg.nn.Linear(3, 8), tg.nn.Tanh(), tg.nn.Linear(8, 1))
        m.load_state_dict(model.state_dict())
        opt = getattr(tg.optim, name)(m.parameters(), lr=0.05 if name != "Adadelta" else 1.0)
        sched = tg.optim.lr_scheduler.CyclicLR(opt, 0.01, 0.05, step_size_up=5,
                                               cycle_momentum=name != "Adadelta")
        first = None
        for _ in range(40):
            opt.zero_grad()
            loss = ((m(x) - y) ** 2).mean()
            loss.backward()
            opt.step()
            sched.step()
            first = first if first is not None else loss.item()
        losses[name] = (first, loss.item())
    assert all(last < first for first, last in losses.values()), losses


# ---- errors ---------------------------------------------------------------------------------
ERRORS = [
    (lambda m, p: m.optim.Adadelta(p, lr=-1.0), "Invalid learning rate: -1.0"),
    (lambda m, p: m.optim.Adadelta(p, rho=1.5), "Invalid rho value: 1.5"),
    (lambda m, p: m.optim.Adadelta(p, rho=-0.1), "Invalid rho value: -0.1"),
    (lambda m, p: m.optim.Adadelta(p, eps=-1e-6), "Invalid epsilon value: -1e-06"),
    (lambda m, p: m.optim.Adadelta(p, weight_decay=-1), "Invalid weight_decay value: -1"),
    (lambda m, p: m.optim.Adamax(p, lr=-0.1), "Invalid learning rate: -0.1"),
    (lambda m, p: m.optim.Adamax(p, eps=-1.0), "Invalid epsilon value: -1.0"),
    (lambda m, p: m.optim.Adamax(p, betas=(1.0, 0.9)), "Invalid beta parameter at index 0: 1.0"),
    (lambda m, p: m.optim.Adamax(p, betas=(0.9, -0.5)),
     "Invalid beta parameter at index 1: -0.5"),
    (lambda m, p: m.optim.Adamax(p, weight_decay=-0.5), "Invalid weight_decay value: -0.5"),
    (lambda m, p: m.optim.NAdam(p, lr=-2.0), "Invalid learning rate: -2.0"),
    (lambda m, p: m.optim.NAdam(p, betas=(0.9, 1.0)), "Invalid beta parameter at index 1: 1.0"),
    (lambda m, p: m.optim.NAdam(p, momentum_decay=-1e-3), "Invalid momentum_decay value: -0.001"),
    (lambda m, p: m.optim.NAdam(p, weight_decay=-1e-3), "Invalid weight_decay value: -0.001"),
    (lambda m, p: m.optim.NAdam(p, eps=-1e-3), "Invalid epsilon value: -0.001"),
    (lambda m, p: m.optim.RAdam(p, lr=-1e-3), "Invalid learning rate: -0.001"),
    (lambda m, p: m.optim.RAdam(p, betas=(-0.1, 0.9)), "Invalid beta parameter at index 0: -0.1"),
    (lambda m, p: m.optim.RAdam(p, eps=-1.0), "Invalid epsilon value: -1.0"),
    (lambda m, p: m.optim.RAdam(p, weight_decay=-2), "Invalid weight_decay value: -2"),
]


@pytest.mark.parametrize("make,msg", ERRORS, ids=[e[1] for e in ERRORS])
def test_errors(make, msg):
    with pytest.raises(ValueError) as info:
        make(tg, [tg.ones(2, requires_grad=True)])
    assert str(info.value) == msg


@pytest.mark.torch
@pytest.mark.parametrize("make,msg", ERRORS, ids=[e[1] for e in ERRORS])
def test_errors_match_torch(make, msg):
    torch_ref = pytest.importorskip("torch")
    with pytest.raises(ValueError) as info:
        make(torch_ref, [torch_ref.ones(2, requires_grad=True)])
    assert str(info.value) == msg


@pytest.mark.parametrize("name", NAMES)
def test_defaults_differentiable_and_repr(name):
    cls = getattr(tg.optim, name)
    with pytest.raises(NotImplementedError, match="differentiable=True"):
        cls([tg.ones(1, requires_grad=True)], differentiable=True)
    opt = cls([tg.ones(1, requires_grad=True)], foreach=False, capturable=True)
    group = opt.param_groups[0]
    assert group["lr"] == LR[name] and group["foreach"] is False and group["capturable"]
    assert repr(opt).startswith(f"{name} (\nParameter Group 0\n")
    assert name in tg.optim.__all__ and cls.__doc__


@pytest.mark.torch
@pytest.mark.parametrize("name", NAMES)
def test_defaults_and_repr_match_torch(name):
    torch_ref = pytest.importorskip("torch")
    got = getattr(tg.optim, name)([tg.ones(1, requires_grad=True)])
    want = getattr(torch_ref.optim, name)([torch_ref.ones(1, requires_grad=True)])
    assert got.defaults == want.defaults
    assert repr(got) == repr(want)
