"""The replay plan (tapegrad/func/_plan.py): dead records dropped, scalar tapes run as a
register program with adjoint registers reused by liveness, and the same numbers as the
eager sweep, bit for bit. Also has_aux and hvp's one-call replay."""

import numpy as np
import pytest

import tapegrad as tg
from tapegrad import func

DT = 0.01


def lotka_volterra(p, steps=200):
    a, b, d, g = p[0], p[1], p[2], p[3]
    x, y = 10.0, 5.0
    for _ in range(steps):
        xy = x * y
        x, y = x + DT * (a * x - b * xy), y + DT * (d * xy - g * y)
    return (x - 1.0) ** 2 + (y - 1.0) ** 2


def eager(f, *arrays, argnums=(0,)):
    ts = [tg.tensor(a, requires_grad=True) for a in arrays]
    out = f(*ts)
    grads = tg.autograd.grad(out, [ts[i] for i in argnums], allow_unused=True)
    return out.item(), [np.zeros(ts[i].shape) if g is None else g.numpy()
                        for i, g in zip(argnums, grads)]


def test_a_scalar_loop_replays_as_a_register_program_bit_for_bit():
    fg = func.value_and_grad(lotka_volterra)
    rng = np.random.default_rng(1)
    p0 = np.array([1.1, 0.4, 0.1, 0.4])
    fg(p0)
    v = fg._last
    prog = v.program
    assert prog is not None  # every record computes one element
    rec, kept, vs, vr, gs, gr = prog.counts
    assert rec == kept == 200 * 11 + 9  # nothing dead
    assert gr < 20 < gs  # adjoint registers reused by liveness
    assert "scalar program" in str(fg.tape)
    for _ in range(5):
        p = p0 + rng.uniform(-0.05, 0.05, 4)
        value, grad = fg(p)
        want_value, (want_grad,) = eager(lotka_volterra, p)
        assert value == want_value and np.array_equal(grad, want_grad)
    assert fg.variants == 1


def test_dead_records_are_dropped_from_the_replay():
    def f(x):
        unused = (x.exp() * 3).sin().sum()  # noqa: F841  (computed, never used)
        return (x * x).sum()

    fg = func.value_and_grad(f)
    x = np.array([1.0, 2.0, 3.0])
    fg(x)
    tape = fg.tape
    keep, summary = tape.plan
    assert keep.size < tape.nrecords and "kept" in summary
    assert "exp(" not in str(tape) and "mul(" in str(tape)
    value, grad = fg(x + 1)
    assert value == ((x + 1) ** 2).sum() and np.array_equal(grad, 2 * (x + 1))

    def g(x):  # the same in scalar code: the program drops it too
        unused = (x[0].exp() * 3).sin()  # noqa: F841
        return x[1] * x[2]

    gg = func.value_and_grad(g)
    gg(x)
    rec, kept = gg._last.program.counts[:2]
    assert kept < rec
    assert gg(x + 1)[0] == (x[1] + 1) * (x[2] + 1)


def test_guards_of_a_scalar_program_never_answer_with_the_other_branch():
    def f(x):
        if x[0] > 0:
            return x[0] * x[1] + 1.0
        return (x[1] - x[0]).exp()

    fg = func.value_and_grad(f)
    rng = np.random.default_rng(0)
    for _ in range(30):
        x = rng.uniform(-1, 1, 2)
        value, grad = fg(x)
        want_value, (want_grad,) = eager(f, x)
        assert value == want_value and np.array_equal(grad, want_grad)
    assert fg.variants == 2
    assert all(v.program is not None for vs in fg._variants.values() for v in vs)


def constants_detach_and_float32(x, w):
    c = tg.tensor([2.0, -1.0], dtype=x.dtype)  # a constant vector made inside
    s = (x * w).sum()  # one element: a move
    return s * c[0] + (x * s.detach()).sum() * c[1] + w.tanh().sum()


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_constants_detach_sums_and_float32_replay_as_eager(dtype):
    x, w = np.array([0.5], dtype), np.array([-1.5], dtype)
    fg = func.value_and_grad(constants_detach_and_float32, argnums=(0, 1))
    fg(x, w)
    assert fg._last.program is not None and fg._last.program.V.dtype == dtype
    for k in range(3):
        x2, w2 = (x + 0.25 * k).astype(dtype), (w - 0.5 * k).astype(dtype)
        value, grads = fg(x2, w2)
        ts = [tg.tensor(a, requires_grad=True) for a in (x2, w2)]
        out = constants_detach_and_float32(*ts)
        out.backward()
        assert value == out.item()
        for g, t in zip(grads, ts):
            assert g.dtype == dtype and np.array_equal(g, t.grad.numpy())


def test_an_input_used_twice_or_not_at_all():
    def f(x, y, z):
        return x * x * x + (x * 3 - y) * x  # z unused

    fg = func.grad(f, argnums=(0, 1, 2))
    args = [np.array(1.5), np.array(-0.5), np.array(2.0)]
    fg(*args)
    for k in range(3):
        new = [a + 0.1 * k for a in args]
        gx, gy, gz = fg(*new)
        _, want = eager(f, *new, argnums=(0, 1, 2))
        assert np.array_equal(gx, want[0]) and np.array_equal(gy, want[1])
        assert gz == 0 and gx.shape == ()


def test_a_saved_scalar_program_loads_and_replays_the_same(tmp_path):
    fg = func.value_and_grad(lotka_volterra)
    p = np.array([1.0, 0.5, 0.2, 0.3])
    fg(p)
    fg.save(tmp_path / "lv.npz")
    g = func.load(tmp_path / "lv.npz")
    a, b = g(p * 1.01), fg(p * 1.01)
    assert g._last.program is not None
    assert a[0] == b[0] and np.array_equal(a[1], b[1])


def test_has_aux_returns_the_replayed_aux_values():
    def f(x):
        y = (x ** 2).sum()
        return y, {"sq": x ** 2, "n": 3, "arg": x.argmax(), "pair": (x.sum(), "tag")}

    fg = func.value_and_grad(f, has_aux=True)
    gr = func.grad(f, has_aux=True)
    vj = func.vjp(lambda x: (x * 2, x.sum()), has_aux=True)
    for x in (np.array([1.0, 2.0, 3.0]), np.array([3.0, 2.0, 1.0]), np.array([0.5, 4.0, 1.0])):
        (value, aux), grad = fg(x)
        assert value == (x ** 2).sum() and np.array_equal(grad, 2 * x)
        assert np.array_equal(aux["sq"], x ** 2) and aux["n"] == 3
        assert aux["arg"] == int(np.argmax(x)) and isinstance(aux["arg"], int)
        assert aux["pair"] == (x.sum(), "tag")
        g2, aux2 = gr(x)
        assert np.array_equal(g2, grad) and np.array_equal(aux2["sq"], x ** 2)
        value, u_j, aux3 = vj(x, np.ones(3))
        assert np.array_equal(value, 2 * x) and np.array_equal(u_j, 2 * np.ones(3))
        assert aux3 == x.sum()
    with pytest.raises(TypeError, match="has_aux"):
        func.Compiled(f, 0, "hessian", has_aux=True)
    with pytest.raises(TypeError, match="tuple"):
        func.grad(lambda x: x.sum(), has_aux=True)(np.ones(2))


def test_hvp_replays_in_one_call_and_matches_the_eager_hessian():
    def f(x):
        return (x[1:] * x[:-1] ** 2).sum() + (x ** 3).sum()

    hv = func.hvp(f)
    rng = np.random.default_rng(3)
    for _ in range(4):
        x, v = rng.normal(size=5), rng.normal(size=5)
        got = hv(x, v)
        H = tg.autograd.functional.hessian(f, tg.tensor(x)).numpy()
        np.testing.assert_allclose(got, H @ v, rtol=1e-12, atol=1e-12)
    assert hv.variants == 1

    hs = func.hvp(lambda x: x[0] ** 3 * x[1])
    x, v = np.array([1.5, -2.0]), np.array([0.5, 1.0])
    hs(x, v)
    assert hs._last._fused  # the one-call replay (forward, mark and reverse compiled)
    H = np.array([[6 * x[0] * x[1], 3 * x[0] ** 2], [3 * x[0] ** 2, 0.0]])
    np.testing.assert_allclose(hs(x, v), H @ v, rtol=1e-14)


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_a_scalar_programs_batch_equals_its_calls_and_guards_rows(dtype):
    from tapegrad.func import _batch

    def f(p):
        a, b = p[0], p[1]
        x = a
        for _ in range(10):
            x = x + 0.1 * (a * x - b * x * x)
        if b > 0.3:  # a guard: rows on the other side are answered by their own call
            return x * 2.0
        return x

    fg = func.value_and_grad(f)
    X = np.random.default_rng(4).uniform(0.1, 0.5, (300, 2)).astype(dtype)
    V, G = fg.batch(X)
    (variants,) = fg._variants.values()
    assert any(isinstance(_batch._PLANS.get(v), _batch._ScalarPlan) for v in variants)
    calls = [fg(x) for x in X]
    assert np.array_equal(V, np.array([c[0] for c in calls]))
    assert np.array_equal(G, np.array([c[1] for c in calls])) and G.dtype == dtype
    assert fg.variants == 2
