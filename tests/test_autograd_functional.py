"""autograd.functional: vjp, jvp and jacobian with PyTorch's signatures and return
structure; rows from reverse sweeps over one recorded tape. Fixed numbers and finite
differences always; the same calls against PyTorch in the tests marked `torch`."""

import numpy as np
import pytest

import tapegrad as torch
from tapegrad.autograd.functional import hessian, hvp, jacobian, jvp, vhp, vjp


def _inputs(T):
    return (T.tensor([1.0, 2.0], dtype=T.float64), T.tensor([3.0, 4.0, 5.0], dtype=T.float64))


def _f(a, b):
    return (a.sum() * b, (a * a).exp())


def _fd_jacobian(f, xs, j, eps=1e-6):
    """Central differences of a NumPy function's outputs w.r.t. xs[j]: (out..., in)."""
    x = xs[j]
    cols = []
    for k in range(x.size):
        vals = []
        for sign in (1, -1):
            p = [v.copy() for v in xs]
            p[j].reshape(-1)[k] += sign * eps
            vals.append(f(*p))
        cols.append([(a - b) / (2 * eps) for a, b in zip(*vals)])
    return [np.stack([c[i] for c in cols], axis=-1) for i in range(len(cols[0]))]


def _f_numpy(a, b):
    return (a.sum() * b, np.exp(a * a))


def test_jacobian_structure_and_values():
    a, b = _inputs(torch)
    J = jacobian(_f, (a, b))
    assert len(J) == 2 and all(len(row) == 2 for row in J)
    assert [tuple(t.shape) for row in J for t in row] == [(3, 2), (3, 3), (2, 2), (2, 3)]
    np.testing.assert_allclose(J[0][0].numpy(), [[3.0, 3.0], [4.0, 4.0], [5.0, 5.0]])
    np.testing.assert_allclose(J[0][1].numpy(), 3 * np.eye(3))
    np.testing.assert_allclose(J[1][0].numpy(), np.diag(2 * np.array([1.0, 2.0]) *
                                                         np.exp([1.0, 4.0])))
    assert not J[1][1].numpy().any() and not J[0][0].requires_grad
    xs = [a.numpy().copy(), b.numpy().copy()]
    for j in range(2):
        for i, fd in enumerate(_fd_jacobian(_f_numpy, xs, j)):
            np.testing.assert_allclose(J[i][j].numpy(), fd, rtol=1e-6, atol=1e-6)
    # a lone tensor in and out: a tensor; shapes out.shape + in.shape
    m = torch.tensor([[1.0, 2.0], [3.0, 4.0]])
    Jm = jacobian(lambda x: (x @ x).sum(0), m)
    assert tuple(Jm.shape) == (2, 2, 2)
    np.testing.assert_allclose(Jm.numpy()[0], [[5.0, 3.0], [7.0, 3.0]])  # x_b0 + [b=0] colsum_a
    assert jacobian(lambda x: x.sum(), torch.tensor(3.0)).item() == 1.0
    single_in = jacobian(lambda x: (x * 2, x.sum()), a)
    assert isinstance(single_in, tuple) and tuple(single_in[1].shape) == (2,)
    single_out = jacobian(lambda x, y: x.sum() * y, (a, b))
    assert isinstance(single_out, tuple) and tuple(single_out[0].shape) == (3, 2)


def test_jacobian_records_once_and_sweeps_per_row():
    calls = []

    def f(x):
        calls.append(1)
        return x.exp() * x.sum()

    x = torch.tensor([0.1, 0.2, 0.3, 0.4], dtype=torch.float64)
    tape = torch.tape.current()
    n0 = tape.nrecords
    J = jacobian(f, x)
    assert len(calls) == 1
    assert tape.nrecords - n0 <= 4  # the leaf, exp, sum, mul: the rows recorded nothing
    xv = x.numpy()
    expected = np.diag(np.exp(xv) * xv.sum()) + np.exp(xv)[:, None]
    np.testing.assert_allclose(J.numpy(), expected, rtol=1e-12)


def test_jacobian_strict_and_strategy():
    a, b = _inputs(torch)
    with pytest.raises(RuntimeError, match="Output 0 of the user-provided function is "
                                           "independent of input 1. This is not allowed in "
                                           "strict mode."):
        jacobian(lambda x, y: x * 2, (a, b), strict=True)
    with pytest.raises(RuntimeError, match="Output 0 of the user-provided function does not "
                                           "require gradients"):
        jacobian(lambda x: torch.ones(2), a, strict=True)
    assert not jacobian(lambda x: torch.ones(2), a).numpy().any()
    with pytest.raises(NotImplementedError, match="only implemented for `vectorize=True`"):
        jacobian(_f, (a, b), strategy="forward-mode")
    J = jacobian(lambda x: x * x, a, strategy="forward-mode", vectorize=True)
    np.testing.assert_allclose(J.numpy(), np.diag([2.0, 4.0]))
    with pytest.raises(AssertionError, match='Expected strategy to be either "forward-mode" or '
                                             '"reverse-mode"'):
        jacobian(_f, a, strategy="sideways")
    with pytest.raises(RuntimeError, match="`strict=True` and `vectorized=True` are not "
                                           "supported together"):
        jacobian(_f, (a, b), strict=True, vectorize=True)


def test_vjp():
    a, b = _inputs(torch)
    out, (ga, gb) = vjp(_f, (a, b), (torch.ones(3, dtype=torch.float64),
                                     torch.tensor([1.0, 0.5], dtype=torch.float64)))
    np.testing.assert_allclose(out[0].numpy(), [9.0, 12.0, 15.0])
    np.testing.assert_allclose(ga.numpy(), [12.0 + 2 * np.e, 12.0 + 0.5 * 4 * np.exp(4)])
    np.testing.assert_allclose(gb.numpy(), [3.0, 3.0, 3.0])
    out, g = vjp(lambda x: x * x, a, torch.ones(2, dtype=torch.float64))
    assert isinstance(g, torch.Tensor) and g.tolist() == [2.0, 4.0] and not out.requires_grad
    out, g = vjp(lambda x: x.sum(), a)  # v may be None for a one-element output
    assert out.item() == 3.0 and g.tolist() == [1.0, 1.0]
    out, (g0, g1) = vjp(lambda x, y: x * 2, (a, b), torch.ones(2, dtype=torch.float64))
    assert g0.tolist() == [2.0, 2.0] and g1.tolist() == [0.0, 0.0, 0.0]


def test_jvp_is_j_times_v():
    a, b = _inputs(torch)
    va, vb = torch.tensor([1.0, -1.0], dtype=torch.float64), torch.ones(3, dtype=torch.float64)
    out, (j0, j1) = jvp(_f, (a, b), (va, vb))
    np.testing.assert_allclose(j0.numpy(), [3.0, 3.0, 3.0])  # sum(va) * b + sum(a) * vb
    np.testing.assert_allclose(j1.numpy(), [2 * np.e, -4 * np.exp(4)])
    out, j = jvp(lambda x: x.sum() * torch.ones(3), torch.tensor(2.0))
    assert j.tolist() == [1.0, 1.0, 1.0] and out.tolist() == [2.0, 2.0, 2.0]


def test_errors_and_second_order_functions():
    a, b = _inputs(torch)
    f = lambda x: x * x  # noqa: E731
    with pytest.raises(RuntimeError, match="The vector v can only be None if the user-provided "
                                           "function returns a single Tensor with a single "
                                           "element."):
        vjp(f, a)
    with pytest.raises(RuntimeError, match=r"v has invalid size: should be torch.Size\(\[2\]\) "
                                           r"but got torch.Size\(\[3\]\)."):
        vjp(f, a, torch.ones(3))
    with pytest.raises(TypeError, match="The inputs given to vjp must be either a Tensor or a "
                                        "tuple of Tensors but the given inputs has type "
                                        "<class 'list'>."):
        vjp(f, [a], torch.ones(2))
    with pytest.raises(TypeError, match="The outputs of the user-provided function given to vjp "
                                        "must be either a Tensor or a tuple of Tensors"):
        vjp(lambda x: 3, a)
    with pytest.raises(RuntimeError, match="The output of the user-provided function is "
                                           "independent of input 1. This is not allowed in "
                                           "strict mode."):
        vjp(lambda x, y: x * 2, (a, b), torch.ones(2), strict=True)
    with pytest.raises(RuntimeError, match="The vector v can only be None if the input to the "
                                           "user-provided function is a single Tensor with a "
                                           "single element."):
        jvp(f, a)
    # create_graph=True and the second-order functions work now (tests/test_create_graph.py)
    for call in (lambda: vjp(f, a, torch.ones(2, dtype=torch.float64), create_graph=True),
                 lambda: jvp(f, a, torch.ones(2, dtype=torch.float64), create_graph=True),
                 lambda: jacobian(f, a, create_graph=True),
                 lambda: hessian(lambda x: (x ** 3).sum(), a),
                 lambda: hvp(lambda x: (x ** 3).sum(), a, torch.ones(2, dtype=torch.float64)),
                 lambda: vhp(lambda x: (x ** 3).sum(), a, torch.ones(2, dtype=torch.float64))):
        call()


def test_closure_tensors_get_no_gradient():
    a, _ = _inputs(torch)
    m = torch.ones(2, dtype=torch.float64, requires_grad=True)
    J = jacobian(lambda x: x * m, a)
    out, g = vjp(lambda x: x * m, a, torch.ones(2, dtype=torch.float64))
    assert not J.requires_grad and not out.requires_grad and m.grad is None


@pytest.mark.torch
def test_functional_matches_pytorch():
    torch_ref = pytest.importorskip("torch")

    def run(T):
        F = T.autograd.functional
        a, b = _inputs(T)
        v2, v3 = T.tensor([1.0, -2.0], dtype=T.float64), T.tensor([0.5, 1.0, 2.0],
                                                                   dtype=T.float64)
        res = [F.jacobian(_f, (a, b)), F.jacobian(lambda x: (x * x).sin(), a),
               F.jacobian(lambda x: (x * 2, x.sum()), a), F.vjp(_f, (a, b), (v3, v2)),
               F.vjp(lambda x: x.exp(), a, v2), F.jvp(_f, (a, b), (v2, v3)),
               F.jvp(lambda x: x.exp(), a, v2), F.jacobian(lambda x, y: x * 2, (a, b))]
        out = []

        def walk(r):
            if isinstance(r, tuple):
                return ("tuple", [walk(e) for e in r])
            return (tuple(r.shape), r.detach().numpy().tolist(), r.requires_grad)

        for r in res:
            out.append(walk(r))
        for call in (lambda: F.vjp(lambda x: x * x, a), lambda: F.jvp(lambda x: x * x, a),
                     lambda: F.vjp(lambda x: x * x, a, T.ones(3, dtype=T.float64)),
                     lambda: F.jacobian(lambda x, y: x * 2, (a, b), strict=True)):
            try:
                call()
            except RuntimeError as e:
                out.append(str(e))
        return out

    ours, theirs = run(torch), run(torch_ref)
    assert len(ours) == len(theirs)
    for o, t in zip(ours, theirs):
        _same(o, t)


def _same(o, t):
    """Same structure, shapes and flags; values to rounding."""
    if isinstance(o, str):
        assert o == t
    elif o[0] == "tuple":
        assert t[0] == "tuple" and len(o[1]) == len(t[1])
        for a, b in zip(o[1], t[1]):
            _same(a, b)
    else:
        assert o[0] == t[0] and o[2] == t[2]
        np.testing.assert_allclose(o[1], t[1], rtol=1e-12, atol=1e-15)
