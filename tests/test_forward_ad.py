"""autograd.forward_ad: tangents of every op-table example against finite differences and
against the reverse-mode VJP (<J t, u> = <t, J^T u>), the API (levels, make_dual's checks,
unpack_dual), and PyTorch's numbers and error classes."""

import numpy as np
import pytest

import tapegrad as torch
import tapegrad.autograd.forward_ad as fwAD
from tapegrad.ops.spec import PYTHON
from tapegrad.tape.tape import Tape

from opcases import CASES, IDS, inputs, run

FWD_CASES = [(c, i) for c, i in zip(CASES, IDS) if c[0].family != PYTHON]
EPS = 1e-6


def _t64(a, rg=False):
    return torch.tensor(np.asarray(a, np.float64), dtype=torch.float64, requires_grad=rg)


def _setup(spec, shapes):
    xs = inputs(spec, shapes)
    arrays = [x.detach().numpy().copy() for x in xs]
    rng = np.random.default_rng(spec.opcode + 11)
    tans = [rng.standard_normal(a.shape) for a in arrays]
    return arrays, tans, rng


def _forward_tangent(spec, expr, arrays, tans, rg=True):
    with fwAD.dual_level():
        ds = [fwAD.make_dual(_t64(a, rg), _t64(t)) for a, t in zip(arrays, tans)]
        out = run(spec, expr, ds)
        primal, tan = fwAD.unpack_dual(out)
        value = primal.detach().numpy().copy()
        tan = np.zeros(value.shape) if tan is None else tan.detach().numpy().copy()
    return value, tan


def _plain(spec, expr, arrays):
    with torch.no_grad():
        return run(spec, expr, [_t64(a) for a in arrays]).numpy().astype(np.float64)


@pytest.mark.parametrize("case", [c for c, _ in FWD_CASES], ids=[i for _, i in FWD_CASES])
def test_tangent_matches_finite_differences_and_vjp(case):
    spec, expr, shapes = case
    arrays, tans, rng = _setup(spec, shapes)
    value, tan = _forward_tangent(spec, expr, arrays, tans)
    np.testing.assert_allclose(value, _plain(spec, expr, arrays), rtol=1e-12, atol=1e-12)
    assert tan.shape == value.shape
    eps, tol = (EPS, 1e-5) if value.dtype == np.float64 else (1e-2, 1e-4)  # x.float()
    hi = _plain(spec, expr, [a + eps * t for a, t in zip(arrays, tans)])
    lo = _plain(spec, expr, [a - eps * t for a, t in zip(arrays, tans)])
    np.testing.assert_allclose(tan, (hi - lo) / (2 * eps), rtol=tol, atol=tol / 10)
    # the sharp check: <J t, u> = <t, J^T u> with the compiled reverse sweep
    u = rng.standard_normal(value.shape)
    xs = [_t64(a, True) for a in arrays]
    out = run(spec, expr, xs)
    gs = torch.autograd.grad((out * _t64(u)).sum(), xs, allow_unused=True,
                             materialize_grads=True)
    lhs = float((tan * u).sum())
    rhs = sum(float((g.numpy() * t).sum()) for g, t in zip(gs, tans))
    sharp = 1e-10 if value.dtype == np.float64 else 1e-6
    assert lhs == pytest.approx(rhs, rel=sharp, abs=sharp)


@pytest.mark.parametrize("case", [c for c, _ in FWD_CASES[::7]], ids=[i for _, i in FWD_CASES[::7]])
def test_tangent_of_primal_that_needs_no_grad(case):
    spec, expr, shapes = case
    arrays, tans, _ = _setup(spec, shapes)
    with_grad = _forward_tangent(spec, expr, arrays, tans, rg=True)
    without = _forward_tangent(spec, expr, arrays, tans, rg=False)
    np.testing.assert_allclose(without[1], with_grad[1], rtol=1e-13, atol=1e-13)


# ---- the API ------------------------------------------------------------------------------
def test_levels_and_nesting():
    assert fwAD.enter_dual_level() == 0
    with pytest.raises(RuntimeError, match="Nested forward mode AD is not supported"):
        fwAD.enter_dual_level()
    with pytest.raises(RuntimeError, match="not the last one"):
        fwAD.exit_dual_level(level=3)
    fwAD.exit_dual_level()
    with pytest.raises(RuntimeError, match="positive number"):
        fwAD.exit_dual_level()
    with fwAD.dual_level() as lvl:
        assert lvl == 0
        with pytest.raises(RuntimeError, match="Nested"):
            with fwAD.dual_level():
                pass
    with fwAD.dual_level():  # the level was closed: a new one opens
        pass


def test_recording_path_is_plain_outside_a_level():
    plain = Tape.__dict__["record"]
    with fwAD.dual_level():
        assert Tape.__dict__["record"] is not plain
    assert Tape.__dict__["record"] is plain


def test_make_dual_outside_a_level_and_unpack_outside():
    x, t = torch.ones(3), torch.ones(3)
    with pytest.raises(RuntimeError, match="no level exists"):
        fwAD.make_dual(x, t)
    p, tan = fwAD.unpack_dual(x)
    assert p is x and tan is None
    with fwAD.dual_level():
        d = fwAD.make_dual(x, t)
    p, tan = fwAD.unpack_dual(d)  # the level closed: its tangents are gone
    assert tan is None
    assert fwAD.UnpackedDualTensor._fields == ("primal", "tangent")


def test_make_dual_checks():
    x = torch.ones(3)
    with fwAD.dual_level():
        with pytest.raises(RuntimeError, match=r"Tensor is of size \[3\] while the given forward "
                                               r"gradient is of size \[4\]"):
            fwAD.make_dual(x, torch.ones(4))
        with pytest.raises(RuntimeError, match="different size"):
            fwAD.make_dual(x, torch.ones(1, 3))
        with pytest.raises(ValueError, match="Expected tangent to be floating point"):
            fwAD.make_dual(x, torch.ones(3, dtype=torch.int64))
        with pytest.raises(ValueError, match="Expected primal to be floating point"):
            fwAD.make_dual(torch.arange(3), torch.ones(3))
        with pytest.raises(RuntimeError, match="Invalid level"):
            fwAD.make_dual(x, torch.ones(3), level=1)
        with pytest.raises(TypeError, match="must be Tensor"):
            fwAD.make_dual(x, [1.0, 2.0, 3.0])
        d = fwAD.make_dual(x, torch.ones(3))
        with pytest.raises(RuntimeError, match="already has a forward gradient"):
            fwAD.make_dual(d, torch.ones(3))
        with pytest.raises(RuntimeError, match="Invalid level"):
            fwAD.unpack_dual(d, level=1)
        t64 = torch.ones(3, dtype=torch.float64)  # another float dtype is accepted
        assert fwAD.unpack_dual(fwAD.make_dual(x, t64)).tangent is t64


def test_unpack_dual_primal_and_tangent():
    x = torch.tensor([1.0, 2.0], requires_grad=True)
    t = torch.tensor([0.5, -1.0])
    with fwAD.dual_level():
        d = fwAD.make_dual(x, t)
        p, tan = fwAD.unpack_dual(d)
        assert tan is t
        assert p.requires_grad and fwAD.unpack_dual(p).tangent is None
        np.testing.assert_array_equal(p.detach().numpy(), [1.0, 2.0])
        y = d * d
        (g,) = torch.autograd.grad(y.sum(), x)  # reverse mode still flows to x
        np.testing.assert_allclose(g.numpy(), [2.0, 4.0])
        np.testing.assert_allclose(fwAD.unpack_dual(y).tangent.detach().numpy(), [1.0, -4.0])
        plain = torch.ones(2)
        p2, t2 = fwAD.unpack_dual(plain)
        assert p2 is plain and t2 is None
        z = fwAD.make_dual(torch.ones(2), t)  # a primal without grad: a detached primal
        assert not fwAD.unpack_dual(z * 3).primal.requires_grad
        assert not fwAD.unpack_dual(z * 3).tangent.requires_grad


def test_in_place_detach_and_fill():
    with fwAD.dual_level():
        d = fwAD.make_dual(torch.tensor([1.0, 2.0]), torch.tensor([1.0, 1.0]))
        w = d.clone()
        w.mul_(3)
        np.testing.assert_allclose(fwAD.unpack_dual(w).tangent.numpy(), [3.0, 3.0])
        assert fwAD.unpack_dual(d.detach()).tangent is None
        w.zero_()
        np.testing.assert_allclose(fwAD.unpack_dual(w).tangent.numpy(), [0.0, 0.0])


def test_custom_function_without_jvp_raises():
    class Double(torch.autograd.Function):
        @staticmethod
        def forward(ctx, a):
            return a * 2

        @staticmethod
        def backward(ctx, g):
            return g * 2

    with fwAD.dual_level():
        d = fwAD.make_dual(torch.ones(3), torch.ones(3))
        with pytest.raises(NotImplementedError, match="implement the jvp function"):
            Double.apply(d)


def test_forward_over_reverse_mixed_with_params():
    """A tangent keeps its graph: reverse mode through a jvp gives a Hessian-vector product."""
    x = torch.tensor([0.3, -0.7, 1.1], dtype=torch.float64, requires_grad=True)
    v = torch.tensor([1.0, 2.0, -1.0], dtype=torch.float64)
    with fwAD.dual_level():
        d = fwAD.make_dual(x, v)
        f = (d.exp() * d.sin()).sum()
        jv = fwAD.unpack_dual(f).tangent
        (hv,) = torch.autograd.grad(jv, x)
    xn, vn = x.detach().numpy(), v.numpy()
    hdiag = 2 * np.exp(xn) * np.cos(xn)  # (e^x sin x)'' = 2 e^x cos x
    np.testing.assert_allclose(hv.numpy(), hdiag * vn, rtol=1e-12)


def test_double_vjp_fallback_agrees_with_the_rules():
    from tapegrad.autograd import forward_ad as impl
    from tapegrad.ops import BY_NAME

    rng = np.random.default_rng(3)
    xa, ta = rng.uniform(0.5, 1.5, (2, 3)), rng.standard_normal((2, 3))
    programs = ["x.prod(1)", "torch.log_softmax(x, 1)", "x.sin() * x", "x.var(0)"]
    expected = [_forward_tangent(BY_NAME["sin"], p, [xa], [ta])[1] for p in programs]
    rule = impl._rule

    def generic(tape, row, spec, ts, out, method, args):
        if spec.family in (impl.UNARY, impl.BINARY, impl.REDUCE):
            return impl._double_vjp(tape, row, spec, [impl._as(t, out._dtype) for t in ts], out)
        return rule(tape, row, spec, ts, out, method, args)

    impl._rule = generic
    try:
        got = [_forward_tangent(BY_NAME["sin"], p, [xa], [ta])[1] for p in programs]
    finally:
        impl._rule = rule
    for e, g in zip(expected, got):
        np.testing.assert_allclose(g, e, rtol=1e-12, atol=1e-14)


def test_rosenbrock_jvp_matches_functional_jvp():
    rng = np.random.default_rng(0)
    xn, vn = rng.normal(0, 1, 50), rng.normal(0, 1, 50)

    def f(x):
        return (100 * (x[1:] - x[:-1] ** 2) ** 2 + (1 - x[:-1]) ** 2).sum()

    with fwAD.dual_level():
        out = f(fwAD.make_dual(_t64(xn), _t64(vn)))
        jv = float(fwAD.unpack_dual(out).tangent)
    _, ref = torch.autograd.functional.jvp(f, _t64(xn), _t64(vn))
    assert jv == pytest.approx(float(ref), rel=1e-12)


# ---- against PyTorch ------------------------------------------------------------------
PROGRAMS = [
    ("sin-mul", lambda T, x, w: (x.sin() * x).sum(1)),
    ("mlp", lambda T, x, w: T.tanh(x @ w).relu().mean()),
    ("softmax", lambda T, x, w: T.softmax(x @ w, dim=1) * 2.0),
    ("slices", lambda T, x, w: T.cat([x[:, 1:], x[:, :1] ** 3], 1).norm(dim=0)),
    ("where", lambda T, x, w: T.where(x > 0, x.exp(), -x).max(1).values),
]


@pytest.mark.torch
@pytest.mark.parametrize("prog", [p for _, p in PROGRAMS], ids=[n for n, _ in PROGRAMS])
def test_tangents_match_pytorch(prog):
    torch_ref = pytest.importorskip("torch")
    import torch.autograd.forward_ad as tfw

    rng = np.random.default_rng(5)
    x, t, w = rng.normal(0, 1, (3, 4)), rng.normal(0, 1, (3, 4)), rng.normal(0, 1, (4, 2))
    res = []
    for T, F in ((torch, fwAD), (torch_ref, tfw)):
        with F.dual_level():
            d = F.make_dual(T.tensor(x, dtype=T.float64), T.tensor(t, dtype=T.float64))
            out = prog(T, d, T.tensor(w, dtype=T.float64))
            p, tan = F.unpack_dual(out)
            res.append((p.detach().numpy().copy(), tan.detach().numpy().copy()))
    np.testing.assert_allclose(res[0][0], res[1][0], rtol=1e-12)
    np.testing.assert_allclose(res[0][1], res[1][1], rtol=1e-10, atol=1e-12)


@pytest.mark.torch
def test_error_classes_match_pytorch():
    torch_ref = pytest.importorskip("torch")
    import torch.autograd.forward_ad as tfw

    def classes(T, F):
        def kind(fn):
            try:
                fn()
            except Exception as e:  # noqa: BLE001 - the class is what is compared
                return type(e).__name__
            return None

        out = [kind(lambda: F.make_dual(T.ones(3), T.ones(3)))]  # no level
        for fn in (lambda: F.make_dual(T.ones(3), T.ones(4)),
                   lambda: F.make_dual(T.ones(3), T.ones(3, dtype=T.int64)),
                   lambda: F.make_dual(T.arange(3), T.ones(3)),
                   lambda: F.enter_dual_level()):
            with F.dual_level():
                out.append(kind(fn))
        return out

    assert classes(torch, fwAD) == classes(torch_ref, tfw)


def test_with_anomaly_mode_in_either_nesting():
    import warnings

    plain = {n: Tape.__dict__[n] for n in ("record", "record_wide", "record_cast", "compact")}
    x, t = torch.tensor([0.5, 1.5]), torch.tensor([1.0, -2.0])
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        with torch.autograd.detect_anomaly():
            with fwAD.dual_level():
                tan = fwAD.unpack_dual(fwAD.make_dual(x, t).exp()).tangent
        np.testing.assert_allclose(tan.numpy(), np.exp([0.5, 1.5]) * [1.0, -2.0], rtol=1e-6)
        with fwAD.dual_level():
            with torch.autograd.detect_anomaly():
                tan = fwAD.unpack_dual(fwAD.make_dual(x, t).exp()).tangent
        np.testing.assert_allclose(tan.numpy(), np.exp([0.5, 1.5]) * [1.0, -2.0], rtol=1e-6)
    torch.ones(1, requires_grad=True).sum().backward()  # anomaly's compaction hook may linger
    for n in ("record", "record_wide", "record_cast"):
        assert Tape.__dict__[n] is plain[n]


def test_tangents_dropped_when_their_primal_dies():
    with fwAD.dual_level():
        x = fwAD.make_dual(torch.ones(4), torch.ones(4))
        tape = x._tape
        for _ in range(3000):  # a loop inside the level: the table stays bounded
            y = (x * 2.0).sin()
        np.testing.assert_allclose(fwAD.unpack_dual(y).tangent.numpy(), 2 * np.cos(2.0) * np.ones(4))
        for _ in range(2):  # the dead outputs' entries go, then the inputs their tangents held
            tape.compact()
            x * 1.0  # the first record after a compaction prunes the table
        assert len(fwAD._TABLES[tape]) < 10
