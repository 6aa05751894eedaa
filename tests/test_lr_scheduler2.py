"""tapegrad.optim.lr_scheduler's ConstantLR, LinearLR, MultiplicativeLR, PolynomialLR,
CosineAnnealingWarmRestarts, CyclicLR, OneCycleLR, SequentialLR and ChainedScheduler: the
learning-rate (and momentum) sequences, hand-checked, against the closed forms, and equal
to PyTorch's to the bit when installed; state_dict / load_state_dict; the errors."""

import math
import warnings

import pytest

import tapegrad as tg
from tapegrad.optim import lr_scheduler as S


def _opt(lib=tg, lrs=(1.0,), cls="SGD", **kw):
    groups = [{"params": [lib.ones(1, requires_grad=True)], "lr": lr} for lr in lrs]
    return getattr(lib.optim, cls)(groups, lr=lrs[0], **kw)


def _momenta(opt):
    return [g["betas"][0] if "betas" in g else g.get("momentum") for g in opt.param_groups]


def _run(lib, make, steps, cls="SGD", kw=None, lrs=(1.0, 0.5), epochs=None):
    """[(get_last_lr(), momentum or beta1 of each group)] at construction and after each
    step; step(epochs[i]) when epochs are given."""
    opt = _opt(lib, lrs, cls, **({"momentum": 0.9} if kw is None and cls == "SGD" else
                                 kw or {}))
    sched = make(lib.optim.lr_scheduler, opt)
    out = [(sched.get_last_lr(), _momenta(opt))]
    for i in range(steps):
        opt.step()
        if epochs is None:
            sched.step()
        else:
            sched.step(epochs[i])
        out.append((sched.get_last_lr(), _momenta(opt)))
    return out, opt, sched


def _lrs(make, steps, **kw):
    """The first group's lr sequence (its initial lr is 1)."""
    return [lr[0] for lr, _ in _run(tg, make, steps, **kw)[0]]


# ---- hand-checked sequences ---------------------------------------------------------------
def test_constant_lr():
    assert _lrs(lambda m, o: m.ConstantLR(o, factor=0.5, total_iters=3), 5) == \
        [0.5, 0.5, 0.5, 1.0, 1.0, 1.0]


def test_linear_lr():
    got = _lrs(lambda m, o: m.LinearLR(o, start_factor=0.5, total_iters=4), 6)
    assert got == pytest.approx([0.5, 0.625, 0.75, 0.875, 1.0, 1.0, 1.0], abs=1e-15)
    got = _lrs(lambda m, o: m.LinearLR(o, start_factor=1.0, end_factor=0.0, total_iters=4), 5)
    assert got == pytest.approx([1.0, 0.75, 0.5, 0.25, 0.0, 0.0], abs=1e-15)


def test_multiplicative_lr():
    got = _lrs(lambda m, o: m.MultiplicativeLR(o, lambda e: 0.9), 3)
    assert got == pytest.approx([1.0, 0.9, 0.81, 0.729])
    out, _, _ = _run(tg, lambda m, o: m.MultiplicativeLR(o, [lambda e: 1.0, lambda e: 0.5]), 2)
    assert out[-1][0] == [1.0, 0.125]
    with pytest.raises(TypeError, match="lr_lambda should be a function, but got int"):
        S.MultiplicativeLR(_opt(), 3)
    with pytest.raises(ValueError, match="Expected 1 lr_lambdas, but got 2"):
        S.MultiplicativeLR(_opt(), [lambda e: 1.0] * 2)


def test_polynomial_lr():
    got = _lrs(lambda m, o: m.PolynomialLR(o, total_iters=4, power=2.0), 6)
    assert got == pytest.approx([1.0, 0.5625, 0.25, 0.0625, 0.0, 0.0, 0.0], abs=1e-15)


@pytest.mark.parametrize("make", [
    lambda m, o: m.ConstantLR(o, factor=0.3, total_iters=4),
    lambda m, o: m.LinearLR(o, start_factor=0.2, end_factor=0.8, total_iters=7),
    lambda m, o: m.PolynomialLR(o, total_iters=9, power=1.5)], ids=["Constant", "Linear", "Poly"])
def test_recursive_forms_follow_the_closed_forms(make):
    steps = _lrs(make, 12)
    with pytest.warns(UserWarning, match="The epoch parameter"):
        closed = _lrs(make, 12, epochs=list(range(1, 13)))
    assert steps == pytest.approx(closed, abs=1e-12)


def test_cosine_annealing_warm_restarts():
    got = _lrs(lambda m, o: m.CosineAnnealingWarmRestarts(o, T_0=2, T_mult=2), 8)
    # T_cur: 0 1 | 0 1 2 3 | 0 1 2 (T_i = 2, then 4, then 8)
    want = [(1 + math.cos(math.pi * c / t)) / 2
            for c, t in [(0, 2), (1, 2), (0, 4), (1, 4), (2, 4), (3, 4), (0, 8), (1, 8), (2, 8)]]
    assert got == pytest.approx(want, abs=1e-15)
    _, opt, s = _run(tg, lambda m, o: m.CosineAnnealingWarmRestarts(o, T_0=2, T_mult=2,
                                                                    eta_min=0.1), 0)
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # a float epoch: no deprecation warning
        s.step(2.5)  # 2.5 epochs: the second cycle (T_i = 4), 0.5 into it
    assert (s.T_cur, s.T_i, s.last_epoch) == (0.5, 4, 2)
    assert s.get_last_lr()[0] == pytest.approx(0.1 + 0.9 * (1 + math.cos(math.pi / 8)) / 2)
    s.step(1.25)
    assert (s.T_cur, s.T_i, s.last_epoch) == (1.25, 2, 1)
    _, _, s = _run(tg, lambda m, o: m.CosineAnnealingWarmRestarts(o, T_0=2), 0)
    s.step(5.5)
    assert s.T_cur == 1.5 and s.get_last_lr()[0] == pytest.approx((1 + math.cos(0.75 * math.pi))
                                                                  / 2)
    with pytest.raises(ValueError, match="Expected non-negative epoch, but got -1"):
        s.step(-1)
    for kw, msg in [(dict(T_0=0), "Expected positive integer T_0, but got 0"),
                    (dict(T_0=2.0), "Expected positive integer T_0, but got 2.0"),
                    (dict(T_0=2, T_mult=0), "Expected integer T_mult >= 1, but got 0"),
                    (dict(T_0=2, eta_min="0"), "Expected float or int eta_min, but got 0")]:
        with pytest.raises(ValueError, match=msg):
            S.CosineAnnealingWarmRestarts(_opt(), **kw)


def test_cyclic_lr_modes_and_momentum():
    def run(**kw):
        out, opt, s = _run(tg, lambda m, o: m.CyclicLR(o, 1.0, 3.0, step_size_up=2, **kw), 9,
                           lrs=(1.0,))
        return [lr[0] for lr, _ in out], [m[0] for _, m in out], opt, s

    lrs, moms, opt, _ = run()
    assert lrs == [1, 2, 3, 2, 1, 2, 3, 2, 1, 2]
    assert moms == pytest.approx([0.9, 0.85, 0.8, 0.85, 0.9, 0.85, 0.8, 0.85, 0.9, 0.85])
    assert opt.param_groups[0]["base_momentum"] == 0.8
    assert run(mode="triangular2")[0] == [1, 2, 3, 2, 1, 1.5, 2, 1.5, 1, 1.25]
    lrs = run(mode="exp_range", gamma=0.5)[0]
    assert lrs == pytest.approx([1 + 2 * f * 0.5 ** i for i, f in
                                 enumerate([0, .5, 1, .5, 0, .5, 1, .5, 0, .5])])
    lrs, _, _, s = run(scale_fn=lambda x: 1 / x, step_size_down=1)  # per cycle: 1, 1/2, ...
    assert lrs == pytest.approx([1, 2, 3, 1, 1.5, 2, 1, 1 + 1 / 3, 1 + 2 / 3, 1])
    assert s.scale_mode == "cycle" and s.scale_fn(4) == 0.25
    out, opt, _ = _run(tg, lambda m, o: m.CyclicLR(o, 0.1, 0.2, step_size_up=1), 1, cls="Adam")
    assert [g["betas"] for g in opt.param_groups] == [(0.8, 0.999), (0.8, 0.999)]  # beta1
    assert out[0][1] == [0.9, 0.9] and out[1][0] == [0.2, 0.2]
    _, opt, _ = _run(tg, lambda m, o: m.CyclicLR(o, 0.1, 0.2, cycle_momentum=False), 1,
                     cls="Adagrad", kw={})
    assert "base_momentum" not in opt.param_groups[0]


def test_cyclic_lr_errors_and_per_group_values():
    with pytest.raises(ValueError, match="mode is invalid and scale_fn is None"):
        S.CyclicLR(_opt(), 0.1, 1.0, mode="square")
    with pytest.raises(ValueError, match="optimizer must support momentum or beta1"):
        S.CyclicLR(_opt(cls="Adagrad"), 0.1, 1.0)
    with pytest.raises(ValueError, match="base_lr must have the same length as "
                                         "optimizer.param_groups. base_lr has 2 values, "
                                         "param_groups has 1."):
        S.CyclicLR(_opt(), [0.1, 0.2], 1.0)
    with pytest.raises(TypeError, match="list is not an Optimizer"):
        S.CyclicLR([], 0.1, 1.0)
    out, _, _ = _run(tg, lambda m, o: m.CyclicLR(o, [0.1, 0.2], [1.1, 0.4], step_size_up=1,
                                                 base_momentum=[0.5, 0.6]), 1)
    assert out[0][0] == [0.1, 0.2] and out[1][0] == [1.1, 0.4]
    assert out[1][1] == [0.5, 0.6]


def test_cyclic_lr_state_dict_saves_callable_objects_only():
    class Halve:
        def __init__(self):
            self.k = 0.5

        def __call__(self, x):
            return self.k ** x

    s = S.CyclicLR(_opt(), 0.1, 1.0, scale_fn=Halve())
    sd = s.state_dict()
    assert sd["_scale_fn_custom"] == {"k": 0.5} and "_scale_fn_ref" not in sd
    sd["_scale_fn_custom"]["k"] = 0.25
    s.load_state_dict(sd)
    assert s._scale_fn_custom.k == 0.25
    s2 = S.CyclicLR(_opt(), 0.1, 1.0, mode="exp_range", gamma=0.9)
    sd = s2.state_dict()
    assert sd["_scale_fn_custom"] is None
    s2.load_state_dict(sd)
    assert s2.scale_fn(2) == pytest.approx(0.81)


def test_one_cycle_lr():
    def run(steps=10, **kw):
        out, opt, s = _run(tg, lambda m, o: m.OneCycleLR(o, 1.0, div_factor=10,
                                                         final_div_factor=100, **kw), steps,
                           lrs=(1.0,))
        return [lr[0] for lr, _ in out], [m[0] for _, m in out], opt, s

    lrs, moms, opt, s = run(total_steps=10, anneal_strategy="linear")
    # up from 0.1 to 1 by step 2 (0.3 * 10 - 1), then down to 0.001 by step 9
    want = [0.1, 0.55, 1.0] + [1.0 + (0.001 - 1.0) * k / 7 for k in range(1, 8)]
    assert lrs[:10] == pytest.approx(want, abs=1e-15)
    assert moms[:3] == pytest.approx([0.95, 0.9, 0.85]) and moms[9] == pytest.approx(0.95)
    g = opt.param_groups[0]
    assert (g["initial_lr"], g["max_lr"], g["min_lr"]) == (0.1, 1.0, 0.001)
    with pytest.raises(ValueError, match="Tried to step 11 times. The specified number of "
                                         "total steps is 10"):
        s.step()
    lrs, _, _, _ = run(total_steps=10)
    assert lrs[1] == pytest.approx(0.55) and lrs[9] == pytest.approx(0.001)
    assert lrs[5] == pytest.approx(0.001 + (1 - 0.001) / 2 * (math.cos(math.pi * 3 / 7) + 1))
    lrs, moms, _, _ = run(epochs=2, steps_per_epoch=5, three_phase=True)
    # phases end at steps 2 (max_lr), 4 (back to initial_lr), 9 (min_lr)
    assert [lrs[i] for i in (0, 2, 4, 9)] == pytest.approx([0.1, 1.0, 0.1, 0.001])
    assert [moms[i] for i in (0, 2, 4, 9)] == pytest.approx([0.95, 0.85, 0.95, 0.95])
    opt = _opt(cls="Adam")
    S.OneCycleLR(opt, 0.5, total_steps=4, base_momentum=0.7)
    assert opt.param_groups[0]["betas"] == (0.95, 0.999)
    assert opt.param_groups[0]["lr"] == pytest.approx(0.02)  # max_lr / div_factor


@pytest.mark.parametrize("kw,msg", [
    (dict(), "You must define either total_steps OR \\(epochs AND steps_per_epoch\\)"),
    (dict(total_steps=0), "Expected positive integer total_steps, but got 0"),
    (dict(total_steps=5.0), "Expected positive integer total_steps, but got 5.0"),
    (dict(epochs=0, steps_per_epoch=3), "Expected positive integer epochs, but got 0"),
    (dict(epochs=2, steps_per_epoch=1.5), "Expected positive integer steps_per_epoch, but got"),
    (dict(total_steps=5, pct_start=1), "Expected float between 0 and 1 pct_start, but got 1"),
    (dict(total_steps=5, pct_start=1.5), "Expected float between 0 and 1 pct_start"),
    (dict(total_steps=5, anneal_strategy="exp"), "anneal_strategy must be one of 'cos' or "
                                                  "'linear', instead got exp")])
def test_one_cycle_lr_errors(kw, msg):
    with pytest.raises(ValueError, match=msg):
        S.OneCycleLR(_opt(), 1.0, **kw)


def test_sequential_lr():
    def make(m, o):
        return m.SequentialLR(o, [m.ConstantLR(o, factor=0.1, total_iters=2),
                                  m.ExponentialLR(o, gamma=0.5)], milestones=[3])

    out, opt, s = _run(tg, make, 6)
    # ConstantLR: 0.1, 0.1, then 1 at its total_iters; ExponentialLR from its milestone
    assert [lr[0] for lr, _ in out] == pytest.approx([0.1, 0.1, 1.0, 1.0, 0.5, 0.25, 0.125])
    assert [lr[1] for lr, _ in out][-1] == pytest.approx(0.0625)
    assert s.last_epoch == 6 and s._schedulers[1].last_epoch == 3
    sd = s.state_dict()
    assert "optimizer" not in sd and len(sd["_schedulers"]) == 2
    assert sd["_milestones"] == [3] and sd["_schedulers"][1]["gamma"] == 0.5
    o2 = _opt(lrs=(1.0, 0.5), momentum=0.9)
    s2 = make(S, o2)
    s2.load_state_dict(sd)
    o2.load_state_dict(opt.state_dict())
    for _ in range(3):
        opt.step()
        s.step()
        o2.step()
        s2.step()
        assert s2.get_last_lr() == s.get_last_lr()


def test_chained_scheduler():
    def make(m, o):
        return m.ChainedScheduler([m.ConstantLR(o, factor=0.1, total_iters=2),
                                   m.ExponentialLR(o, gamma=0.9)])

    got = _lrs(make, 4)
    assert got == pytest.approx([0.1, 0.09, 0.81, 0.729, 0.6561])
    _, opt, s = _run(tg, make, 2)
    sd = s.state_dict()
    assert [d["last_epoch"] for d in sd["_schedulers"]] == [2, 2]
    s.load_state_dict(dict(sd, _schedulers=[dict(d, last_epoch=7) for d in sd["_schedulers"]]))
    assert [c.last_epoch for c in s._schedulers] == [7, 7] and "_schedulers" in sd


@pytest.mark.parametrize("cls", [S.SequentialLR, S.ChainedScheduler])
def test_holder_errors(cls):
    def make(opt, scheds, **kw):
        if cls is S.SequentialLR:
            return cls(opt, scheds, kw.get("milestones", [1] * (len(scheds) - 1)))
        return cls(scheds, opt)

    opt, other = _opt(), _opt()
    name = cls.__name__
    with pytest.raises(ValueError, match=f"{name} expects at least one scheduler"):
        make(opt, [])
    with pytest.raises(TypeError, match=f"{name} at index 0 should have `optimizer`"):
        make(opt, [object()])
    with pytest.raises(ValueError, match=f"{name} does not support `ReduceLROnPlateau`"):
        make(opt, [S.ReduceLROnPlateau(opt)])
    with pytest.raises(ValueError, match=f"{name} expects all schedulers to belong to the same "
                                         "optimizer, but got scheduler StepLR at index 1"):
        make(opt, [S.StepLR(opt, 2), S.StepLR(other, 2)])
    if cls is S.SequentialLR:
        with pytest.raises(ValueError, match="number of schedulers 2 and the number of "
                                             "milestones to be equal to 0"):
            make(opt, [S.StepLR(opt, 2), S.StepLR(opt, 2)], milestones=[])


def test_scheduled_lr_and_momentum_reach_the_update():
    p = tg.zeros(1, requires_grad=True)
    opt = tg.optim.SGD([p], lr=1.0, momentum=0.9)
    s = S.OneCycleLR(opt, 1.0, total_steps=4, div_factor=2)
    seen = []
    for _ in range(3):
        p.grad = tg.ones(1)
        seen.append((opt.param_groups[0]["lr"], opt.param_groups[0]["momentum"]))
        opt.step()
        s.step()
    b, want = 0.0, 0.0
    for i, (lr, mom) in enumerate(seen):
        b = 1.0 if i == 0 else mom * b + 1.0
        want -= lr * b
    assert p.tolist() == pytest.approx([want])
    assert seen[0] == (0.5, 0.95)


def test_names_and_docstrings():
    for name in ["ConstantLR", "LinearLR", "MultiplicativeLR", "PolynomialLR",
                 "CosineAnnealingWarmRestarts", "CyclicLR", "OneCycleLR", "SequentialLR",
                 "ChainedScheduler"]:
        cls = getattr(tg.optim.lr_scheduler, name)
        assert name in S.__all__ and issubclass(cls, S.LRScheduler) and cls.__doc__
        assert cls.get_lr.__doc__ or name in ("SequentialLR", "ChainedScheduler")


# ---- against PyTorch ------------------------------------------------------------------------
SCHEDULES = [
    ("ConstantLR", lambda m, o: m.ConstantLR(o, factor=0.5, total_iters=4), {}),
    ("ConstantLR-default", lambda m, o: m.ConstantLR(o), {}),
    ("LinearLR", lambda m, o: m.LinearLR(o, start_factor=0.1, end_factor=0.9,
                                         total_iters=10), {}),
    ("LinearLR-default", lambda m, o: m.LinearLR(o), {}),
    ("MultiplicativeLR", lambda m, o: m.MultiplicativeLR(o, lambda e: 0.95), {}),
    ("PolynomialLR", lambda m, o: m.PolynomialLR(o, total_iters=20, power=2.0), {}),
    ("PolynomialLR-default", lambda m, o: m.PolynomialLR(o), {}),
    ("CAWR", lambda m, o: m.CosineAnnealingWarmRestarts(o, T_0=5, T_mult=2, eta_min=0.01), {}),
    ("CAWR-float-epochs", lambda m, o: m.CosineAnnealingWarmRestarts(o, T_0=3, T_mult=2),
     dict(epochs=[i * 0.37 for i in range(60)])),
    ("CAWR-float-epochs-Tmult1", lambda m, o: m.CosineAnnealingWarmRestarts(o, T_0=3),
     dict(epochs=[i * 0.37 for i in range(60)])),
    ("CyclicLR", lambda m, o: m.CyclicLR(o, 0.01, 0.1, step_size_up=4, step_size_down=7), {}),
    ("CyclicLR-triangular2", lambda m, o: m.CyclicLR(o, [0.01, 0.02], [0.1, 0.3],
                                                     step_size_up=5, mode="triangular2"), {}),
    ("CyclicLR-exp_range", lambda m, o: m.CyclicLR(o, 0.01, 0.1, step_size_up=3,
                                                   mode="exp_range", gamma=0.97), {}),
    ("CyclicLR-scale_fn", lambda m, o: m.CyclicLR(o, 0.01, 0.1, step_size_up=3,
                                                  scale_fn=lambda x: 0.5 ** x,
                                                  scale_mode="iterations"), {}),
    ("CyclicLR-Adam", lambda m, o: m.CyclicLR(o, 0.01, 0.1, step_size_up=3), dict(cls="Adam")),
    ("CyclicLR-NAdam", lambda m, o: m.CyclicLR(o, 0.01, 0.1, base_momentum=0.5),
     dict(cls="NAdam")),
    ("CyclicLR-no-momentum", lambda m, o: m.CyclicLR(o, 0.01, 0.1, cycle_momentum=False),
     dict(cls="Adagrad")),
    ("OneCycleLR", lambda m, o: m.OneCycleLR(o, 0.1, total_steps=60), {}),
    ("OneCycleLR-three-linear", lambda m, o: m.OneCycleLR(
        o, [0.1, 0.2], epochs=6, steps_per_epoch=10, three_phase=True,
        anneal_strategy="linear"), {}),
    ("OneCycleLR-Adam", lambda m, o: m.OneCycleLR(o, 0.1, total_steps=60, div_factor=10,
                                                  final_div_factor=100, pct_start=0.25),
     dict(cls="Adam")),
    ("OneCycleLR-RAdam-no-momentum", lambda m, o: m.OneCycleLR(
        o, 0.1, total_steps=70, cycle_momentum=False), dict(cls="RAdam")),
    ("SequentialLR", lambda m, o: m.SequentialLR(o, [
        m.LinearLR(o, start_factor=0.1, total_iters=5), m.ExponentialLR(o, gamma=0.9),
        m.CosineAnnealingLR(o, T_max=10)], milestones=[5, 20]), {}),
    ("SequentialLR-constant-step", lambda m, o: m.SequentialLR(o, [
        m.ConstantLR(o, factor=0.1, total_iters=2), m.StepLR(o, 4, 0.5)], milestones=[7]), {}),
    ("ChainedScheduler", lambda m, o: m.ChainedScheduler([
        m.ConstantLR(o, factor=0.1, total_iters=2), m.ExponentialLR(o, gamma=0.9)]), {}),
    ("ChainedScheduler-linear-step", lambda m, o: m.ChainedScheduler([
        m.LinearLR(o, start_factor=0.2, total_iters=8), m.StepLR(o, 3, 0.5)], optimizer=o), {}),
]


def _equal(a, b):
    if isinstance(a, dict):
        return a.keys() == b.keys() and all(_equal(a[k], b[k]) for k in a if k != "lr_lambdas")
    if isinstance(a, (list, tuple)):
        return len(a) == len(b) and all(_equal(x, y) for x, y in zip(a, b))
    return a == b


@pytest.mark.torch
@pytest.mark.parametrize("name,make,kw", SCHEDULES, ids=[s[0] for s in SCHEDULES])
def test_lrs_equal_torch(name, make, kw):
    torch_ref = pytest.importorskip("torch")
    kw = dict(kw)
    if kw.get("cls") not in (None, "SGD"):
        kw["kw"] = {}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # step(epoch)'s deprecation, in both
        got = [_run(lib, make, 60, **kw) for lib in (tg, torch_ref)]
    assert got[0][0] == got[1][0]  # lrs and momenta: the same floats, to the bit
    assert got[0][1].param_groups[0].keys() == got[1][1].param_groups[0].keys()
    assert _equal(got[0][2].state_dict(), got[1][2].state_dict())
