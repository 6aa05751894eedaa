"""tapegrad.optim.lr_scheduler: the learning-rate sequences (hand-checked, against the
closed forms, and equal to PyTorch's when installed), initial_lr and last_epoch,
get_last_lr, state_dict / load_state_dict, the order warnings and the errors."""

import math
import warnings

import pytest

import tapegrad as tg
from tapegrad.optim import lr_scheduler as S


def _opt(lib=tg, lrs=(1.0,), cls="SGD"):
    groups = [{"params": [lib.ones(1, requires_grad=True)], "lr": lr} for lr in lrs]
    return getattr(lib.optim, cls)(groups, lr=lrs[0])


def _lrs(lib, make, epochs, metrics=None):
    """[get_last_lr()] at construction and after each of `epochs` steps."""
    opt = _opt(lib, (1.0, 0.5))
    sched = make(lib.optim.lr_scheduler, opt)
    out = [sched.get_last_lr()]
    for e in range(epochs):
        opt.step()
        if metrics is None:
            sched.step()
        else:
            sched.step(metrics[e])
        out.append(sched.get_last_lr())
    return out, opt, sched


def test_step_lr():
    out, opt, _ = _lrs(tg, lambda m, o: m.StepLR(o, step_size=2, gamma=0.1), 5)
    assert [lr[0] for lr in out] == pytest.approx([1, 1, 0.1, 0.1, 0.01, 0.01])
    assert [lr[1] for lr in out] == pytest.approx([0.5, 0.5, 0.05, 0.05, 0.005, 0.005])
    assert [g["initial_lr"] for g in opt.param_groups] == [1.0, 0.5]


def test_multi_step_lr_counts_repeated_milestones():
    out, _, s = _lrs(tg, lambda m, o: m.MultiStepLR(o, milestones=[2, 4, 4], gamma=0.5), 6)
    assert [lr[0] for lr in out] == [1, 1, 0.5, 0.5, 0.125, 0.125, 0.125]
    assert s.last_epoch == 6


def test_exponential_lr():
    out, _, _ = _lrs(tg, lambda m, o: m.ExponentialLR(o, gamma=0.5), 4)
    assert [lr[0] for lr in out] == [1, 0.5, 0.25, 0.125, 0.0625]


@pytest.mark.parametrize("eta_min", [0.0, 0.1])
def test_cosine_annealing_recursive_form_follows_the_closed_form(eta_min):
    T = 5
    out, _, _ = _lrs(tg, lambda m, o: m.CosineAnnealingLR(o, T_max=T, eta_min=eta_min), 23)
    for e, (a, b) in enumerate(out):
        for lr, base in ((a, 1.0), (b, 0.5)):
            want = eta_min + (base - eta_min) * (1 + math.cos(math.pi * e / T)) / 2
            assert lr == pytest.approx(want, abs=1e-12)
    assert out[T][0] == pytest.approx(eta_min) and out[2 * T][0] == pytest.approx(1.0)


def test_lambda_lr_one_or_a_list():
    out, _, _ = _lrs(tg, lambda m, o: m.LambdaLR(o, lambda e: 0.9 ** e), 3)
    assert [lr[1] for lr in out] == pytest.approx([0.5, 0.45, 0.405, 0.3645])
    out, _, _ = _lrs(tg, lambda m, o: m.LambdaLR(o, [lambda e: 1.0, lambda e: e + 1]), 2)
    assert out[-1] == [1.0, 1.5]
    with pytest.raises(ValueError, match="Expected 2 lr_lambdas, but got 1"):
        S.LambdaLR(_opt(lrs=(1.0, 0.5)), [lambda e: 1.0])


def test_reduce_lr_on_plateau():
    metrics = [1.0, 0.9, 0.95, 0.95, 0.95, 0.8, 0.8, 0.8, 0.8, 0.8]
    out, _, s = _lrs(tg, lambda m, o: m.ReduceLROnPlateau(o, patience=2, factor=0.5), 10,
                     metrics)
    # bad epochs after 0.9: 3 of them (> patience 2) at index 4 -> halve; 0.8 better, then
    # three bad epochs again -> halve at index 8
    assert [lr[0] for lr in out] == [1, 1, 1, 1, 1, 0.5, 0.5, 0.5, 0.5, 0.25, 0.25]
    assert s.best == 0.8 and s.last_epoch == 10
    out, _, _ = _lrs(tg, lambda m, o: m.ReduceLROnPlateau(o, mode="max", patience=0,
                                                          factor=0.1, min_lr=[0.05, 0.2],
                                                          cooldown=1), 4, [1, 1, 1, 1])
    # epoch 2: no better than 1 -> cut (group 1 to its min_lr 0.2); epoch 3: cooldown;
    # epoch 4: cut again (group 1 stays at its floor)
    assert out[2] == [pytest.approx(0.1), 0.2] and out[3] == out[2]
    assert out[-1] == [pytest.approx(0.05), 0.2]
    out, _, _ = _lrs(tg, lambda m, o: m.ReduceLROnPlateau(o, threshold_mode="abs",
                                                          threshold=0.5, patience=0), 2,
                     [1.0, 0.6])
    assert out[-1][0] == pytest.approx(0.1)  # 0.6 is not better than 1.0 - 0.5
    with pytest.raises(ValueError, match="Factor should be < 1.0."):
        S.ReduceLROnPlateau(_opt(), factor=1.0)
    with pytest.raises(ValueError, match="mode avg is unknown!"):
        S.ReduceLROnPlateau(_opt(), mode="avg")
    with pytest.raises(ValueError, match="threshold mode x is unknown!"):
        S.ReduceLROnPlateau(_opt(), threshold_mode="x")


def test_scheduled_lr_reaches_the_update():
    p = tg.zeros(1, requires_grad=True)
    opt = tg.optim.SGD([p], lr=1.0)
    sched = S.StepLR(opt, step_size=1, gamma=0.5)
    for _ in range(3):
        p.grad = tg.ones(1)
        opt.step()
        sched.step()
    assert p.tolist() == [-1.75] and opt.param_groups[0]["lr"] == 0.125


def test_state_dict_and_resume():
    opt = _opt()
    s = S.CosineAnnealingLR(opt, T_max=10)
    for _ in range(3):
        opt.step()
        s.step()
    sd = s.state_dict()
    assert "optimizer" not in sd and sd["last_epoch"] == 3 and sd["T_max"] == 10
    assert list(sd) == ["T_max", "eta_min", "base_lrs", "last_epoch", "_step_count",
                        "_is_initial", "_get_lr_called_within_step", "_last_lr"]
    opt2 = _opt()
    opt2.load_state_dict(opt.state_dict())
    s2 = S.CosineAnnealingLR(opt2, T_max=10, last_epoch=sd["last_epoch"] - 1)
    s2.load_state_dict(sd)
    for _ in range(4):
        opt.step()
        s.step()
        opt2.step()
        s2.step()
        assert s2.get_last_lr() == s.get_last_lr()
    with pytest.raises(KeyError, match="param 'initial_lr' is not specified"):
        S.StepLR(_opt(), step_size=1, last_epoch=3)


def test_lambda_state_dict_saves_callable_objects_only():
    class Rate:
        def __init__(self):
            self.k = 0.5

        def __call__(self, e):
            return self.k ** e

    opt = _opt(lrs=(1.0, 0.5))
    s = S.LambdaLR(opt, [lambda e: 1.0, Rate()])
    sd = s.state_dict()
    assert sd["lr_lambdas"] == [None, {"k": 0.5}]
    sd["lr_lambdas"][1]["k"] = 0.25
    s.load_state_dict(sd)
    assert s.lr_lambdas[1].k == 0.25


def test_order_and_get_lr_warnings_and_errors():
    opt = _opt()
    s = S.StepLR(opt, step_size=1)
    with pytest.warns(UserWarning, match="before `optimizer.step\\(\\)`"):
        s.step()
    opt = _opt()
    s = S.StepLR(opt, step_size=1)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        opt.step()
        s.step()
    with pytest.warns(UserWarning, match="get_last_lr"):
        s.get_lr()
    with pytest.warns(UserWarning, match="epoch parameter"):
        s.step(5)
    assert s.get_last_lr() == [pytest.approx(1e-5)]  # closed form: 0.1 ** 5
    with pytest.raises(TypeError, match="list is not an Optimizer"):
        S.StepLR([], step_size=1)


SCHEDULES = [
    ("StepLR", dict(step_size=3, gamma=0.3), None),
    ("MultiStepLR", dict(milestones=[2, 5, 5, 9], gamma=0.7), None),
    ("ExponentialLR", dict(gamma=0.93), None),
    ("CosineAnnealingLR", dict(T_max=7), None),
    ("CosineAnnealingLR", dict(T_max=4, eta_min=0.05), None),
    ("LambdaLR", dict(lr_lambda=lambda e: 1 / (1 + e)), None),
    ("ReduceLROnPlateau", dict(patience=1, factor=0.3, cooldown=1, min_lr=0.01),
     [1.0, 0.9, 0.95, 0.97, 0.8, 0.85, 0.86, 0.87, 0.79, 0.9] * 3),
]


@pytest.mark.torch
@pytest.mark.parametrize("name,kw,metrics", SCHEDULES, ids=[s[0] for s in SCHEDULES])
def test_lrs_equal_torch(name, kw, metrics):
    torch_ref = pytest.importorskip("torch")
    got = [_lrs(lib, lambda m, o: getattr(m, name)(o, **kw), 30, metrics)
           for lib in (tg, torch_ref)]
    assert got[0][0] == got[1][0]  # the same floats, to the bit
    assert got[0][1].param_groups[0].keys() == got[1][1].param_groups[0].keys()
    sd, tsd = got[0][2].state_dict(), got[1][2].state_dict()
    assert sd.keys() == tsd.keys()
    for k in sd:
        if k != "lr_lambdas":
            assert sd[k] == tsd[k], k
