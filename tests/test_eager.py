"""Values that need no grad are computed in NumPy and append nothing to the tape (the
op table's `np_fwd`); they agree with the compiled kernels the tape records with."""

import inspect

import numpy as np
import pytest

import tapegrad as torch
from tapegrad.ops import OPS
from tapegrad.ops.spec import (BINARY, CAST, COPY, INDEX, JOIN, MATMUL, REDUCE, STRIDED,
                               TERNARY, UNARY)
from tapegrad.tape import dispatch

ROWS = [s for s in OPS if s.family in (UNARY, BINARY)]


def _inputs(spec, dt, rng):
    lo, hi = spec.domain
    n = 64
    xs = [rng.uniform(lo, hi, n).astype(dt)]
    if spec.family == BINARY:
        second = rng.uniform(lo, hi, n)
        if "mask" in (spec.doc or "") or spec.name in ("masked_fill", "where_scalar_other",
                                                         "where_scalar_self"):
            second = (second > (lo + hi) / 2).astype(float)
        xs.append(second.astype(dt))
    return xs


@pytest.mark.parametrize("dt", [np.float32, np.float64])
@pytest.mark.parametrize("spec", ROWS, ids=lambda s: s.name)
def test_numpy_forward_matches_the_compiled_kernel(spec, dt):
    rng = np.random.default_rng(spec.opcode)
    xs = _inputs(spec, dt, rng)
    nparams = len(inspect.signature(spec.fwd).parameters) - len(xs)
    params = (0.3, 0.8)[:nparams] if spec.const is None else (spec.const, 0.8)[:nparams]
    with np.errstate(all="ignore"):
        got = np.asarray(spec.np_fwd(*xs, *params))
    kernel = getattr(dispatch, spec.name + "_fwd")
    want = np.array([kernel(*(x[i] for x in xs), *params) for i in range(xs[0].size)]).astype(dt)
    assert got.dtype == dt and got.shape == want.shape
    # 2 ulp of the result, or of the largest input where the result cancels: in float32
    # the kernel computes with the python parameter in float64, NumPy rounds it to float32
    scale = np.maximum(np.abs(want), np.max(np.abs(np.stack(xs)), axis=0))
    ulp = np.spacing(np.maximum(scale, np.finfo(dt).tiny)).astype(np.float64)
    err = np.abs(got.astype(np.float64) - want.astype(np.float64)) / ulp
    assert np.all((err <= 2) | (np.isnan(got) & np.isnan(want))), (spec.name, err.max())


def test_no_grad_ops_append_nothing():
    tape = torch.tape.current()
    w = torch.randn(3, requires_grad=True)
    (w * 2).sum().backward()
    a = torch.randn(100)
    n = tape.nrecords
    b = a * 2.5 + a
    c = torch.exp(-b).clamp(0.1, 0.9) / 3 + torch.maximum(a, b)
    with torch.no_grad():
        w -= 0.1 * w.grad
        d = w * 2 + 1
    assert tape.nrecords == n
    assert not c.requires_grad and not d.requires_grad and w.requires_grad
    np.testing.assert_allclose(b.numpy(), a.numpy() * 3.5, rtol=1e-6)


def test_no_grad_values_equal_recorded_values():
    x = torch.linspace(-2, 2, 50, dtype=torch.float64)
    xr = x.clone().requires_grad_()
    for f in (lambda t: torch.sin(t) * 3 - t ** 2, lambda t: torch.relu(t - 0.5) / (1 + t * t),
              lambda t: torch.atan2(t, t + 3) + torch.minimum(t, 0.5 - t)):
        np.testing.assert_allclose(f(x).numpy(), f(xr).detach().numpy(), rtol=1e-15, atol=1e-15)


def test_no_grad_keeps_pytorch_dtypes_and_ieee_results():
    a = torch.tensor([1.0, 0.0, -1.0])
    assert (a * 2.5).dtype is torch.float32
    assert (a.double() + a).dtype is torch.float64
    r = (a / 0).tolist()
    assert r[0] == float("inf") and r[1] != r[1] and r[2] == float("-inf")
    assert torch.log(a).tolist()[1] == float("-inf")
    i = torch.tensor([1, 2, 3])
    assert (i * 2.0).dtype is torch.float32 and torch.exp(i).dtype is torch.float32


def test_no_numpy_warnings_even_when_warnings_are_errors():
    import warnings

    a = torch.tensor([1.0, 0.0, -1.0])
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        with np.errstate(all="raise"):
            r = (a / 0).tolist()
            assert torch.log(a).tolist()[1] == float("-inf")
            assert torch.exp(a * 1e30).tolist()[0] == float("inf")
    assert r[0] == float("inf") and r[1] != r[1]


from tests.opcases import CASES, IDS, inputs, run  # noqa: E402


@pytest.mark.parametrize("spec,expr,shapes", CASES, ids=IDS)
def test_every_example_gives_the_same_value_without_grad(spec, expr, shapes):
    """The op table's examples, once recorded (inputs requiring grad) and once computed
    without grad (NumPy where a family has an array path): the same values."""
    tape = torch.tape.current()
    for dtype, rtol in ((torch.float64, 1e-12), (torch.float32, 2e-6)):
        xs = inputs(spec, shapes, dtype=dtype)
        recorded = run(spec, expr, xs).detach().numpy()
        n = tape.nrecords
        with torch.no_grad():
            plain = run(spec, expr, [x.detach() for x in xs])
        assert not plain.requires_grad
        np.testing.assert_allclose(plain.numpy(), recorded, rtol=rtol, atol=rtol, err_msg=expr)
        if spec.family in (UNARY, BINARY) or spec.family in _NO_TAPE_FAMILIES:
            assert tape.nrecords == n, f"{expr}: recorded without grad"


_NO_TAPE_FAMILIES = (REDUCE, MATMUL, STRIDED, COPY, CAST, JOIN, INDEX, TERNARY)


# ---- temporaries: an op on a tensor only the expression holds runs into its array -------
def test_an_op_on_a_temporary_reuses_its_array_and_leaves_named_tensors_alone():
    a = torch.tensor(np.linspace(-1, 1, 1000, dtype=np.float32))
    y = a * 2.5                      # named: later ops must not write into it
    y_before = y.numpy().copy()
    z = y + a
    np.testing.assert_array_equal(y.numpy(), y_before)
    np.testing.assert_array_equal(z.numpy(), y_before + a.numpy())
    w = (a * 2.5) + a                # the temporary's array becomes the result
    np.testing.assert_array_equal(w.numpy(), z.numpy())
    v = ((a * 2.5) - 1.0) / 4.0 * 3.0 + 0.5
    np.testing.assert_allclose(v.numpy(), ((a.numpy() * 2.5) - 1.0) / 4.0 * 3.0 + 0.5,
                               rtol=1e-6)
    kept = [a * 2.5]                 # held by a list: not a temporary
    kept[0] + 1.0
    np.testing.assert_array_equal(kept[0].numpy(), y_before)
    base = a * 2.5
    view = base[1:]                  # a view of base's array
    view_before = view.numpy().copy()
    (base.view(-1) + 1.0)            # a view: its array is not its own
    np.testing.assert_array_equal(view.numpy(), view_before)
    assert np.array_equal(a.numpy(), np.linspace(-1, 1, 1000, dtype=np.float32))


def test_a_temporary_that_requires_grad_is_recorded_not_reused():
    a = torch.tensor([1.0, 2.0, 3.0], requires_grad=True)
    ((a * 2.0) * 3.0 + a).sum().backward()
    np.testing.assert_array_equal(a.grad.numpy(), [7.0, 7.0, 7.0])
    with torch.no_grad():
        out = (a * 2.0) + a           # no grad: a temporary, reused
    assert not out.requires_grad
    np.testing.assert_array_equal(out.numpy(), [3.0, 6.0, 9.0])
    np.testing.assert_array_equal(a.detach().numpy(), [1.0, 2.0, 3.0])


def test_a_temporary_divided_by_zero_is_inf_without_a_warning():
    import warnings

    a = torch.tensor([1.0, -1.0, 0.0])
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        out = (a * 1.0) / 0.0
        out2 = (a * 1.0) / torch.zeros(3)
    assert out.numpy()[0] == np.inf and out.numpy()[1] == -np.inf and np.isnan(out.numpy()[2])
    np.testing.assert_array_equal(out2.numpy(), out.numpy())


def test_the_temporaries_of_a_chain_are_each_reused(monkeypatch):
    from tapegrad import functions

    calls = []
    into = functions._into
    monkeypatch.setattr(functions, "_into", lambda *args: calls.append(1) or into(*args))
    a = torch.tensor(np.ones(10, np.float32))
    ((a * 2.5) - 1.0) / 4.0 * 3.0 + a
    assert len(calls) == 4  # all but the first op, whose input `a` is named
    y = a * 2.5
    y + a
    assert len(calls) == 4


def test_a_list_of_python_floats_makes_the_same_tensor_as_the_general_path():
    # tensor([floats]) takes a short path (no inference, no range check): same result
    for data, dtype, rg in [([2.0], None, True), ([1.5, -2.25, 1e300], torch.float64, False),
                            ([0.1, 0.2], torch.float32, True)]:
        t = torch.tensor(data, dtype=dtype, requires_grad=rg)
        want = np.array(data, dtype=(dtype or torch.get_default_dtype()).np)
        assert t.dtype == (dtype or torch.get_default_dtype()) and t.requires_grad == rg
        assert t.is_leaf and t.shape == (len(data),)
        np.testing.assert_array_equal(t.detach().numpy(), want)
    with torch.autograd.set_grad_enabled(True):
        prev = torch.get_default_dtype()
        torch.set_default_dtype(torch.float64)
        try:
            assert torch.tensor([1.0, 2.0]).dtype == torch.float64
        finally:
            torch.set_default_dtype(prev)
    assert torch.tensor([1.7, 2.2], dtype=torch.int64).tolist() == [1, 2]  # (the general path)
    assert torch.tensor([1.0, 2]).dtype == torch.get_default_dtype()  # a mixed list
    assert torch.tensor([]).shape == (0,)
    x = torch.tensor([3.0], requires_grad=True)
    (x * x).sum().backward()
    assert x.grad.tolist() == [6.0]
