"""Every example of every op in the table: VJP against central differences (float64)."""

import numpy as np
import pytest

import tapegrad as torch
from tapegrad.ops.spec import BINARY, UNARY
from tests.opcases import CASES, IDS, inputs, run


def numeric_vjp(spec, expr, arrays, v, eps):
    """Central differences of <f(x), v> with respect to every input element."""
    grads = []
    for i, a in enumerate(arrays):
        g = np.zeros_like(a)
        for j in np.ndindex(a.shape):
            vals = []
            for h in (eps, -eps):
                b = [x.copy() for x in arrays]
                b[i][j] += h
                with torch.no_grad():
                    out = run(spec, expr, [torch.tensor(x) for x in b])
                vals.append(float(np.sum(np.asarray(out.double()) * v)))
            g[j] = (vals[0] - vals[1]) / (2 * eps)
        grads.append(g)
    return grads


@pytest.mark.parametrize("spec,expr,shapes", CASES, ids=IDS)
def test_vjp_matches_finite_differences(spec, expr, shapes):
    xs = inputs(spec, shapes)
    out = run(spec, expr, xs)
    assert out.grad_fn is not None
    if spec.grad_fn != "None":  # (a comparison's example reaches it through a where)
        assert type(out.grad_fn).__name__ == spec.grad_fn  # (name() adds a namespace to some)
    v = np.random.default_rng(1).standard_normal(out.shape)
    out.backward(torch.tensor(v, dtype=out.dtype))
    eps = 1e-6 if out.dtype is torch.float64 else 1e-3
    expected = numeric_vjp(spec, expr, [x.detach().numpy() for x in xs], v, eps)
    for x, g in zip(xs, expected):
        got = x.grad.numpy() if x.grad is not None else np.zeros_like(g)  # only in a mask
        np.testing.assert_allclose(got, g, rtol=spec.tol, atol=spec.tol)


@pytest.mark.parametrize("spec,expr,shapes", CASES, ids=IDS)
def test_forward_sweep_replays_eager_values(spec, expr, shapes):
    """Wipe every recorded output, run the compiled forward sweep, get the same bits."""
    from tapegrad.tape import sweep
    from tapegrad.tape.tape import current

    for dtype in (torch.float32, torch.float64):
        xs = inputs(spec, shapes, dtype=dtype)
        tape = current()
        k0 = tape.nrecords
        out = run(spec, expr, xs)
        eager = np.array(out.detach().numpy())
        k1 = tape.nrecords
        recs = tape.records()[k0:k1]
        for r in recs:
            if r["op"] != 0:
                s = tape.S[r["out"]]
                tape.A[s[4]][s[0]:s[0] + s[1]] = np.nan
        sweep.forward(tape.R, tape.S, tape.AUX, tape.A[0], tape.A[1], k0, k1)
        np.testing.assert_array_equal(out.detach().numpy(), eager)


ELEMENTWISE = [(spec, expr, shapes) for spec, expr, shapes in CASES
               if spec.family in (UNARY, BINARY) and len({tuple(s) for s in shapes}) == 1
               and len(shapes[0]) == 1]


@pytest.mark.parametrize("spec,expr,shapes", ELEMENTWISE,
                         ids=[f"{s.name}-{e}" for s, e, _ in ELEMENTWISE])
def test_one_element_sweep_path_is_bitwise_the_array_path(spec, expr, shapes):
    """The reverse sweep passes 1-element records as scalars (a faster path): its
    gradients must be bit for bit those of the array loop, in both dtypes."""
    for dtype in (torch.float32, torch.float64):
        xs = inputs(spec, [(3,)] * len(shapes), dtype=dtype)
        firsts = [x.detach()[:1].clone().requires_grad_() for x in xs]
        run(spec, expr, xs)[0:1].sum().backward()      # 3 elements: the array loop
        run(spec, expr, firsts).sum().backward()        # 1 element: the scalar path
        for x, f in zip(xs, firsts):
            if x.grad is None or f.grad is None:  # an input read only by a comparison
                assert x.grad is None and f.grad is None, spec.name
                continue
            assert x.grad.numpy()[:1].tobytes() == f.grad.numpy().tobytes(), spec.name
