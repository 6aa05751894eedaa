"""Tangent sweeps (tapegrad/tape/tangent.py): func.jvp and func.jacfwd by forward mode,
checked against reverse mode (func.jacrev) on every op-table example, with the fallback to
the double-vjp recording for records without a tangent rule."""

import warnings

import numpy as np
import pytest

import tapegrad as torch
from tapegrad import func
from tapegrad.ops import BY_CODE
from tapegrad.ops.spec import BINARY, COPY, INDEX, JOIN, MATMUL, STRIDED, TERNARY, UNARY
from tapegrad.tape.tangent import _LINEAR_REDUCE
from tests.opcases import CASES, IDS, run

_RULED = (UNARY, BINARY, TERNARY, STRIDED, COPY, JOIN, INDEX, MATMUL)


def has_rule(spec):
    return spec.family in _RULED or spec.opcode in _LINEAR_REDUCE


@pytest.mark.parametrize("case", CASES, ids=IDS)
def test_jvp_equals_the_jacobian_times_t_on_every_op_example(case):
    """f = the example (any output shape) of its first input; J t by the tangent sweep,
    J by reverse sweeps: the same to rounding. Ops with a tangent rule must take the
    tangent sweep (not the fallback)."""
    spec, expr, shapes = case
    if not shapes:
        pytest.skip("no tensor input")
    rng = np.random.default_rng(spec.opcode + 7)
    lo, hi = spec.domain
    rest = [rng.uniform(lo, hi, s) for s in shapes[1:]]

    def f(x):
        return run(spec, expr, [x] + [torch.tensor(r) for r in rest]) * 1.0

    x = rng.uniform(lo, hi, shapes[0])
    t = rng.normal(size=shapes[0])
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # (an op reading values falls back to eager)
        j = func.jvp(f)
        j(x, t)  # records
        value, jt = j(x, t)
        jac = func.jacrev(f)(x)
    y = np.asarray(value)
    want = np.tensordot(jac, t, axes=t.ndim) if t.ndim else jac * t
    tol = 1e-5 if np.asarray(jt).dtype == np.float32 else 1e-9
    np.testing.assert_allclose(jt, want.reshape(y.shape), rtol=tol, atol=tol * 1e-3)
    v = j._last
    if v is not None and v.out is not None and j.eager is None:
        ops = [BY_CODE[int(op)] for op in set(v.tape.R[:v.tape.nrecords, 0].tolist())]
        if all(has_rule(s) or s.family == 0 for s in ops):
            assert v.tmode == "tangent", expr


def mlp(x, W1, b1, W2):
    return ((W1 @ x + b1).tanh() @ W2.T).cumsum(0)


def test_jacfwd_equals_jacrev_with_argnums():
    rng = np.random.default_rng(0)
    args = [rng.normal(size=3), rng.normal(size=(4, 3)), rng.normal(size=4),
            rng.normal(size=(2, 4))]
    jf = func.jacfwd(mlp, argnums=(0, 1, 3))
    jr = func.jacrev(mlp, argnums=(0, 1, 3))
    for _ in range(2):
        args = [a + 0.1 for a in args]
        a, b = jf(*args), jr(*args)
        for p, q in zip(a, b):
            assert p.shape == q.shape
            np.testing.assert_allclose(p, q, rtol=1e-12, atol=1e-14)
    assert jf._last.tmode == "tangent"


def test_a_nonlinear_reduction_falls_back_to_the_double_vjp():
    def f(x):
        return x.max() * x + x.softmax(0)

    j = func.jvp(f)
    x, t = np.array([0.5, 2.0, 1.0]), np.array([1.0, -1.0, 0.5])
    value, jt = j(x, t)
    assert j._last.tmode is None
    jac = func.jacrev(f)(x)
    np.testing.assert_allclose(jt, jac @ t, rtol=1e-12)
    jf = func.jacfwd(f)
    np.testing.assert_allclose(jf(x), jac, rtol=1e-12)


def test_detached_values_have_no_tangent():
    def f(x):
        d = x.detach()
        return x * d + torch.cat([d, x]).sum() + d.exp()

    j = func.jvp(f)
    x, t = np.array([0.5, 2.0]), np.array([1.0, 3.0])
    _, jt = j(x, t)
    np.testing.assert_allclose(jt, x * t + t.sum())  # d(x * d) = t * d; cat's sum: sum(t)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_scalar_code_and_float32(dtype):
    def f(p):
        a, b = p[0], p[1]
        x = a
        for _ in range(20):
            x = x + 0.1 * (a * x - b * x * x)
        return x

    p, t = np.array([0.3, 0.2], dtype), np.array([1.0, 0.0], dtype)
    j = func.jvp(f)
    _, jt = j(p, t)
    assert j._last.tmode == "tangent" and jt.dtype == dtype
    (g,) = [func.grad(f)(p)]
    np.testing.assert_allclose(jt, g @ t, rtol=1e-5 if dtype == np.float32 else 1e-12)


def test_a_saved_tangent_program_loads(tmp_path):
    j = func.jvp(mlp)
    rng = np.random.default_rng(2)
    args = [rng.normal(size=3), rng.normal(size=(4, 3)), rng.normal(size=4),
            rng.normal(size=(2, 4)), rng.normal(size=3)]
    want = j(*args)
    j.save(tmp_path / "j.npz")
    g = func.load(tmp_path / "j.npz")
    got = g(*args)
    assert g._last.tmode == "tangent"
    assert np.array_equal(got[0], want[0]) and np.array_equal(got[1], want[1])
