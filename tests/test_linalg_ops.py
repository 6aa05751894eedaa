"""tapegrad/linalg_ops.py and _norms.py: torch.linalg's decompositions, inverses and norms.
Values against NumPy, gradients (and second derivatives) against finite differences in
float64 always; the same programs against PyTorch when it is installed."""

import math

import numpy as np
import pytest

import tapegrad as tg
from fdcheck import fd_check
from tapegrad import linalg_ops as L

RNG = np.random.default_rng(7)
SQ = RNG.standard_normal((3, 3)) + 3 * np.eye(3)        # well conditioned
BATCH = RNG.standard_normal((2, 3, 3)) + 3 * np.eye(3)
TALL, WIDE = RNG.standard_normal((4, 3)), RNG.standard_normal((3, 4))
B2 = RNG.standard_normal((3, 2))


def _spd(X):
    return X @ X.transpose(-2, -1) + X.new_tensor(np.eye(X.shape[-1]))


def _sym(X):
    return X + X.transpose(-2, -1)


# (name, function of the module m and the float64 tensors, the arrays)
CASES = [
    ("inv", lambda m, a: m.linalg.inv(a), [SQ]),
    ("inv_batch", lambda m, a: m.linalg.inv(a), [BATCH]),
    ("inverse", lambda m, a: m.inverse(a) * 2, [SQ]),
    ("det", lambda m, a: m.linalg.det(a), [SQ]),
    ("det_batch", lambda m, a: m.det(a), [BATCH]),
    ("slogdet", lambda m, a: m.linalg.slogdet(a)[1], [BATCH]),
    ("logdet", lambda m, a: m.logdet(_spd(a)), [SQ]),
    ("solve", lambda m, a, b: m.linalg.solve(a, b), [SQ, B2]),
    ("solve_vec", lambda m, a, b: m.linalg.solve(a, b), [SQ, B2[:, 0]]),
    ("solve_bcast", lambda m, a, b: m.linalg.solve(a, b), [BATCH, B2]),
    ("solve_right", lambda m, a, b: m.linalg.solve(a, b, left=False), [SQ, B2.T]),
    ("cholesky", lambda m, a: m.linalg.cholesky(_spd(a)), [SQ]),
    ("cholesky_upper", lambda m, a: m.linalg.cholesky(_spd(a), upper=True), [BATCH]),
    ("qr_tall", lambda m, a: m.cat([x.reshape(-1) for x in m.linalg.qr(a)]), [TALL]),
    ("qr_square", lambda m, a: m.linalg.qr(a).Q * 3 + m.linalg.qr(a).R, [SQ]),
    ("qr_wide", lambda m, a: m.cat([x.reshape(-1) for x in m.linalg.qr(a)]), [WIDE]),
    ("eigh_values", lambda m, a: m.linalg.eigh(_sym(a)).eigenvalues, [SQ]),
    ("eigh_vectors", lambda m, a: m.linalg.eigh(_sym(a))[1] ** 2, [BATCH]),
    ("eigvalsh", lambda m, a: m.linalg.eigvalsh(_sym(a), "U"), [SQ]),
    ("svd_S", lambda m, a: m.linalg.svd(a).S, [TALL]),
    ("svd_UVh", lambda m, a: (lambda u, s, vh: u @ vh)(*m.linalg.svd(a, False)), [TALL]),
    ("svd_U2", lambda m, a: m.linalg.svd(a, full_matrices=False)[0] ** 2, [WIDE]),
    ("svd_Vh2", lambda m, a: m.linalg.svd(a, full_matrices=False)[2] ** 2, [TALL]),
    ("svd_full", lambda m, a: m.linalg.svd(a)[0][:, :3] ** 2, [TALL]),
    ("svd_old", lambda m, a: (lambda u, s, v: u @ v.T * s.sum())(*m.svd(a)), [WIDE]),
    ("svdvals", lambda m, a: m.linalg.svdvals(a), [BATCH]),
    ("vnorm2", lambda m, a: m.linalg.vector_norm(a), [TALL]),
    ("vnorm3_dim", lambda m, a: m.linalg.vector_norm(a, 3, dim=1), [TALL]),
    ("vnorm_inf", lambda m, a: m.linalg.vector_norm(a, math.inf, dim=0), [TALL]),
    ("vnorm_minf", lambda m, a: m.linalg.vector_norm(a, -math.inf, dim=(0, 1)), [TALL]),
    ("vnorm_half", lambda m, a: m.linalg.vector_norm(a, 0.5, 1, keepdim=True), [TALL]),
    ("vnorm_neg", lambda m, a: m.linalg.vector_norm(a, -1.5), [TALL]),
    ("vnorm_0", lambda m, a: m.linalg.vector_norm(a, 0) + a.sum(), [TALL]),
    ("mnorm_fro", lambda m, a: m.linalg.matrix_norm(a), [BATCH]),
    ("mnorm_nuc", lambda m, a: m.linalg.matrix_norm(a, "nuc"), [TALL]),
    ("mnorm_2", lambda m, a: m.linalg.matrix_norm(a, 2, keepdim=True), [BATCH]),
    ("mnorm_m2", lambda m, a: m.linalg.matrix_norm(a, -2, dim=(0, 1)), [TALL]),
    ("mnorm_1", lambda m, a: m.linalg.matrix_norm(a, 1), [TALL]),
    ("mnorm_m1", lambda m, a: m.linalg.matrix_norm(a, -1), [BATCH]),
    ("mnorm_inf", lambda m, a: m.linalg.matrix_norm(a, math.inf, dim=(1, 2)), [BATCH]),
    ("mnorm_minf", lambda m, a: m.linalg.matrix_norm(a, -math.inf, keepdim=True), [TALL]),
    ("norm", lambda m, a: m.linalg.norm(a), [BATCH]),
    ("norm_ord", lambda m, a: m.linalg.norm(a, 1), [TALL]),
    ("norm_vec", lambda m, a: m.linalg.norm(a, 3, dim=1), [TALL]),
    ("norm_mat", lambda m, a: m.linalg.norm(a, "nuc", dim=(1, 2)), [BATCH]),
]
IDS = [c[0] for c in CASES]


@pytest.mark.parametrize("name,f,arrays", CASES, ids=IDS)
def test_gradient_matches_finite_differences(name, f, arrays):
    fd_check(lambda *ts: f(tg, *ts), arrays, rtol=1e-5, atol=1e-7)


def test_values_against_numpy():
    A, Bt = tg.tensor(BATCH), tg.tensor(TALL)
    np.testing.assert_allclose(tg.linalg.inv(A).numpy(), np.linalg.inv(BATCH))
    np.testing.assert_allclose(tg.det(A).numpy(), np.linalg.det(BATCH))
    s, la = L.slogdet(A)
    np.testing.assert_allclose(la.numpy(), np.linalg.slogdet(BATCH)[1])
    np.testing.assert_allclose(L.solve(A, tg.tensor(B2)).numpy(), np.linalg.solve(BATCH, B2))
    spd = SQ @ SQ.T + np.eye(3)
    np.testing.assert_allclose(L.cholesky(tg.tensor(spd)).numpy(), np.linalg.cholesky(spd))
    q, r = L.qr(Bt)
    np.testing.assert_allclose((q @ r).numpy(), TALL, atol=1e-12)
    q, r = L.qr(tg.tensor(WIDE))
    np.testing.assert_allclose((q @ r).numpy(), WIDE, atol=1e-12)
    assert L.qr(Bt, "complete").Q.shape == (4, 4) and L.qr(Bt, "r").Q.shape == (0,)
    w, v = L.eigh(tg.tensor(spd))
    np.testing.assert_allclose(w.numpy(), np.linalg.eigvalsh(spd))
    np.testing.assert_allclose((v @ tg.diag(w) @ v.T).numpy(), spd, atol=1e-12)
    u, s, vh = L.svd(Bt)
    assert u.shape == (4, 4) and vh.shape == (3, 3)
    np.testing.assert_allclose(s.numpy(), np.linalg.svd(TALL, compute_uv=False))
    u, s, v = tg.svd(Bt)
    np.testing.assert_allclose((u * s @ v.T).numpy(), TALL, atol=1e-12)
    for o in (None, "fro", "nuc", 1, -1, 2, -2, math.inf, -math.inf):
        np.testing.assert_allclose(L.norm(Bt, o).numpy(), np.linalg.norm(TALL, o), err_msg=o)
    for o in (1, 2, 3, 0, math.inf, -math.inf, -1):
        np.testing.assert_allclose(L.vector_norm(tg.tensor(TALL[0]), o).numpy(),
                                   np.linalg.norm(TALL[0], o), err_msg=o)
    assert L.vector_norm(tg.tensor([3.0, 4.0])).item() == 5.0
    assert L.det(tg.tensor(SQ)).shape == () and tg.det(A).shape == (2,)
    assert L.inv(tg.tensor(SQ, dtype=tg.float32)).dtype == tg.float32
    assert math.isnan(tg.logdet(tg.tensor([[0.0, 1.0], [1.0, 0.0]])).item())


def test_det_gradient_at_a_singular_matrix():
    a = tg.tensor([[1.0, 2.0], [2.0, 4.0]], dtype=tg.float64, requires_grad=True)
    tg.linalg.det(a).backward()
    np.testing.assert_allclose(a.grad.numpy(), [[4.0, -2.0], [-2.0, 1.0]], atol=1e-12)


@pytest.mark.parametrize("name", ["inv", "det", "logdet", "solve", "cholesky", "eigh", "svd",
                                  "qr"])
def test_second_derivatives_match_finite_differences(name):
    f = {"inv": lambda a: tg.linalg.inv(a).sum(), "det": lambda a: tg.linalg.det(a),
         "logdet": lambda a: tg.logdet(_spd(a)),
         "solve": lambda a: tg.linalg.solve(a, tg.tensor(B2)).sum(),
         "cholesky": lambda a: tg.linalg.cholesky(_spd(a)).sum(),
         "eigh": lambda a: (tg.linalg.eigh(_sym(a))[0] * tg.tensor([1.0, 2.0, 3.0])).sum(),
         "svd": lambda a: (tg.linalg.svdvals(a) ** 2 * tg.tensor([1.0, 2.0, 3.0])).sum(),
         "qr": lambda a: tg.linalg.qr(a).R.sum()}[name]
    w = RNG.standard_normal((3, 3))

    def gradient(b, create_graph=False):
        x = tg.tensor(b, requires_grad=True)
        (g,) = tg.autograd.grad(f(x), x, create_graph=create_graph)
        return x, g

    x, g = gradient(SQ, True)
    (h,) = tg.autograd.grad((g * tg.tensor(w)).sum(), x)
    num = np.zeros_like(SQ)
    for j in np.ndindex(SQ.shape):
        p, q = SQ.copy(), SQ.copy()
        p[j] += 1e-6
        q[j] -= 1e-6
        num[j] = ((gradient(p)[1].numpy() - gradient(q)[1].numpy()) * w).sum() / 2e-6
    np.testing.assert_allclose(h.numpy(), num, rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("expr,exc", [
    ("m.linalg.inv(m.zeros(2, 2))", "LinAlgError"), ("m.linalg.inv(m.ones(2, 3))", RuntimeError),
    ("m.linalg.inv(m.eye(2, dtype=m.int64))", RuntimeError),
    ("m.linalg.det(m.ones(3))", RuntimeError),
    ("m.linalg.cholesky(-m.eye(2))", "LinAlgError"),
    ("m.linalg.solve(m.zeros(2, 2), m.ones(2))", "LinAlgError"),
    ("m.linalg.solve(m.eye(2), m.ones(3))", RuntimeError),
    ("m.linalg.solve(m.eye(2), m.ones(2, dtype=m.float64))", RuntimeError),
    ("m.linalg.qr(m.ones(2, 2), 'full')", RuntimeError),
    ("m.linalg.eigh(m.eye(2), 'X')", RuntimeError),
    ("m.linalg.matrix_norm(m.ones(3), 'fro')", RuntimeError),
    ("m.linalg.norm(m.ones(2, 2, 2), 2)", RuntimeError),
    ("m.linalg.matrix_norm(m.ones(2, 2), 3)", RuntimeError),
    ("m.linalg.vector_norm(m.ones(2, dtype=m.int64))", RuntimeError),
])
def test_errors(expr, exc):
    exc = L.LinAlgError if exc == "LinAlgError" else exc
    with pytest.raises(exc):
        eval(expr, {"m": _ns(tg)})
    assert issubclass(L.LinAlgError, RuntimeError)


def test_qr_complete_tall_is_not_differentiable():
    a = tg.tensor(TALL, requires_grad=True)
    q, r = L.qr(a, "complete")
    with pytest.raises(RuntimeError, match="not differentiable"):
        q.sum().backward()


def _ns(m):
    """m with m.linalg holding tapegrad's functions (until tapegrad.linalg re-exports them)."""
    if m is not tg or hasattr(tg.linalg, "vector_norm"):
        return m

    class NS:
        def __getattr__(self, name):
            return L if name == "linalg" else getattr(tg, name)

    return NS()


@pytest.fixture(autouse=True)
def _linalg_namespace(monkeypatch):
    if not hasattr(tg.linalg, "vector_norm"):
        for name in L.__all__:
            monkeypatch.setattr(tg.linalg, name, getattr(L, name), raising=False)
    yield


@pytest.mark.torch
@pytest.mark.parametrize("name,f,arrays", CASES, ids=IDS)
def test_matches_torch(name, f, arrays):
    torch = pytest.importorskip("torch")
    res = []
    for m in (tg, torch):
        ts = [m.tensor(a, dtype=m.float64, requires_grad=True) for a in arrays]
        out = f(m, *ts)
        v = np.random.default_rng(1).standard_normal(tuple(out.shape))
        (out * m.tensor(v)).sum().backward()
        res.append([out.detach().numpy()] + [t.grad.numpy() for t in ts])
    for a, b in zip(*res):
        np.testing.assert_allclose(a, b, rtol=1e-8, atol=1e-10)


@pytest.mark.torch
def test_eigh_gradient_of_a_general_matrix_matches_torch():
    torch = pytest.importorskip("torch")
    grads = []
    for m in (tg, torch):
        a = m.tensor(_sym_np(SQ), dtype=m.float64, requires_grad=True)
        w, v = m.linalg.eigh(a)
        (w.sum() * 0.5 + (v[:, 0] ** 2 * m.tensor([1.0, 2.0, 3.0])).sum()).backward()
        grads.append(a.grad.numpy())
    np.testing.assert_allclose(grads[0], grads[1], rtol=1e-8, atol=1e-10)


def _sym_np(a):
    return a + a.T


@pytest.mark.torch
def test_errors_and_dtypes_match_torch():
    torch = pytest.importorskip("torch")
    for e in ["m.linalg.inv(m.zeros(2, 2))", "m.linalg.inv(m.ones(2, 3))",
              "m.linalg.cholesky(-m.eye(2))", "m.linalg.solve(m.eye(2), m.ones(3))",
              "m.linalg.det(m.ones(3))", "m.linalg.inv(m.eye(2, dtype=m.int64))"]:
        kinds = []
        for m in (_ns(tg), torch):
            with pytest.raises(RuntimeError) as info:
                eval(e, {"m": m})
            kinds.append(info.type.__name__)
        assert ("LinAlgError" in kinds[0]) == ("LinAlgError" in kinds[1]), (e, kinds)
    for e in ["m.linalg.det(m.eye(3))", "m.linalg.svd(m.ones(2, 3))[1]",
              "m.linalg.eigh(m.eye(2, dtype=m.float64))[0]", "m.linalg.norm(m.ones(3))",
              "m.logdet(m.eye(2))", "m.linalg.slogdet(m.eye(2))[0]"]:
        a, b = eval(e, {"m": _ns(tg)}), eval(e, {"m": torch})
        assert str(a.dtype) == str(b.dtype) and tuple(a.shape) == tuple(b.shape), e
