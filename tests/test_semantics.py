"""PyTorch 2.x autograd semantics: leaves, grad_fn, repr, backward, graph lifetime, dtypes,
autograd.grad and conversions (grad modes and in-place ops have their own files)."""

import re
import warnings

import numpy as np
import pytest

import tapegrad as torch


def leaf(values, dtype=None):
    return torch.tensor(values, dtype=dtype, requires_grad=True)


def grads(*ts):
    return [None if t.grad is None else t.grad.tolist() for t in ts]


@pytest.fixture
def default_dtype():
    old = torch.get_default_dtype()
    yield
    torch.set_default_dtype(old)


# ---- leaves and .grad -------------------------------------------------------------------
def test_grad_accumulates_across_backward_calls():
    x = leaf([1.0, 2.0])
    (x * x).sum().backward()
    assert x.grad.tolist() == [2.0, 4.0]
    (3 * x).sum().backward()
    assert x.grad.tolist() == [5.0, 7.0]


def test_grad_accumulates_in_place_into_the_same_tensor():
    x = leaf([1.0])
    (x * 2).sum().backward()
    g = x.grad
    (x * 2).sum().backward()
    assert x.grad is g and g.tolist() == [4.0]


def test_grad_zero_and_none():
    x = leaf([2.0])
    (x ** 2).backward()
    x.grad.zero_()
    assert x.grad.tolist() == [0.0]
    (x ** 2).backward()
    assert x.grad.tolist() == [4.0]
    x.grad = None
    assert x.grad is None
    (x * 5).backward()
    assert x.grad.tolist() == [5.0]


def test_tutorial_polynomial():
    x = torch.tensor([2.0], requires_grad=True)
    y = x ** 2 + 3 * x + 1
    y.backward()
    assert repr(x.grad) == "tensor([7.])"


def test_tutorial_accumulation_loop():
    x = torch.ones(2, requires_grad=True)
    w = torch.tensor([0.5, -1.0], requires_grad=True)  # d/dw = 2w + x + 1
    seen = []
    for _ in range(3):
        ((x + w) * (w + 1)).sum().backward()
        seen.append(w.grad.tolist())
    assert seen == [[3.0, 0.0], [6.0, 0.0], [9.0, 0.0]]
    w.grad.zero_()
    ((x + w) * (w + 1)).sum().backward()
    assert w.grad.tolist() == [3.0, 0.0]


def test_grad_setter_checks_shape_and_dtype():
    x = leaf([1.0, 2.0])
    with pytest.raises(RuntimeError, match="different size"):
        x.grad = torch.zeros(3)
    with pytest.raises(RuntimeError, match="different type"):
        x.grad = torch.zeros(2, dtype=torch.float64)
    x.grad = torch.ones(2)
    (x * 2).sum().backward()
    assert x.grad.tolist() == [3.0, 3.0]


def test_requires_grad_propagates():
    x = leaf([1.0])
    c = torch.tensor([2.0])
    assert (x * c).requires_grad and (c * x + 1).requires_grad
    assert not (c * c).requires_grad and not (c + 1).requires_grad
    assert (x.exp().sum() * c).requires_grad


def test_is_leaf():
    x = leaf([1.0])
    c = torch.tensor([2.0])
    assert x.is_leaf and c.is_leaf
    assert not (x * 2).is_leaf
    assert (c * 2).is_leaf  # does not require grad: a leaf, as in PyTorch
    assert x.detach().is_leaf
    with torch.no_grad():
        assert (x * 2).is_leaf


def test_non_leaf_grad_is_none_with_warning():
    x = leaf([1.0, 2.0])
    y = x * 2
    (y * y).sum().backward()
    with pytest.warns(UserWarning, match="not a leaf Tensor"):
        assert y.grad is None


def test_leaf_grad_access_does_not_warn():
    x = leaf([1.0])
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert x.grad is None
        assert torch.tensor([1.0]).grad is None


def test_retain_grad():
    x = leaf([1.0, 2.0])
    y = x * 2
    assert not y.retains_grad
    y.retain_grad()
    assert y.retains_grad and not x.retains_grad
    (y * y).sum().backward()
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert y.grad.tolist() == [4.0, 8.0]
    assert x.grad.tolist() == [8.0, 16.0]


def test_retain_grad_accumulates_and_on_root():
    x = leaf([1.0])
    y = x * 3
    y.retain_grad()
    s = y.sum()
    s.retain_grad()
    s.backward(retain_graph=True)
    s.backward()
    assert y.grad.tolist() == [2.0] and s.grad.item() == 2.0


def test_retain_grad_on_tensor_not_requiring_grad_raises():
    with pytest.raises(RuntimeError, match="requires_grad=False"):
        torch.ones(2).retain_grad()


def test_backward_on_tensor_not_requiring_grad_raises():
    with pytest.raises(RuntimeError, match="does not require grad"):
        torch.ones(3).sum().backward()


def test_backward_on_a_leaf_root():
    x = torch.tensor(3.0, requires_grad=True)
    x.backward()
    assert x.grad.item() == 1.0
    v = leaf([1.0, 2.0])
    v.backward(torch.tensor([3.0, 4.0]))
    assert v.grad.tolist() == [3.0, 4.0]


# ---- grad_fn ----------------------------------------------------------------------------
def gf(t):
    return type(t.grad_fn).__name__


X = [1.0, 2.0, 3.0]
M = [[1.0, 2.0, 3.0], [4.0, 5.0, 6.0]]

GRAD_FN_CASES = [
    ("x + 1", "AddBackward0"), ("x + y", "AddBackward0"), ("1 + x", "AddBackward0"),
    ("torch.add(x, y, alpha=2)", "AddBackward0"),
    ("x * 2", "MulBackward0"), ("x * y", "MulBackward0"), ("2 * x", "MulBackward0"),
    ("x - y", "SubBackward0"), ("x - 1", "SubBackward0"), ("1 - x", "RsubBackward1"),
    ("x / y", "DivBackward0"), ("x / 2", "DivBackward0"), ("2 / x", "MulBackward0"),
    ("1 / x", "MulBackward0"), ("x.reciprocal()", "ReciprocalBackward0"),
    ("x ** 2", "PowBackward0"), ("x ** 0.5", "PowBackward0"), ("x ** y", "PowBackward1"),
    ("2 ** x", "PowBackward2"), ("-x", "NegBackward0"),
    ("x.sum()", "SumBackward0"), ("m.sum(1)", "SumBackward1"), ("m.sum((0, 1))", "SumBackward1"),
    ("m.sum(0, keepdim=True)", "SumBackward1"),
    ("x.mean()", "MeanBackward0"), ("m.mean(0)", "MeanBackward1"),
    ("m @ m.t()", "MmBackward0"), ("torch.mm(m, m.T)", "MmBackward0"),
    ("m @ x", "MvBackward0"), ("torch.mv(m, x)", "MvBackward0"),
    ("x @ y", "DotBackward0"), ("torch.dot(x, y)", "DotBackward0"),
    ("m.reshape(3, 2)", "ViewBackward0"), ("m.view(-1)", "ViewBackward0"),
    ("m.flatten()", "ViewBackward0"), ("m.t()", "TBackward0"),
    ("m.transpose(0, 1)", "TransposeBackward0"), ("m.T", "PermuteBackward0"),
    ("m.permute(1, 0)", "PermuteBackward0"),
    ("x.exp()", "ExpBackward0"), ("x.log()", "LogBackward0"), ("x.sqrt()", "SqrtBackward0"),
    ("x.sin()", "SinBackward0"), ("x.cos()", "CosBackward0"), ("x.tanh()", "TanhBackward0"),
    ("x.sigmoid()", "SigmoidBackward0"), ("x.relu()", "ReluBackward0"),
    ("x.abs()", "AbsBackward0"), ("torch.exp(x)", "ExpBackward0"),
    ("x.clone()", "CloneBackward0"), ("x.double()", "ToCopyBackward0"),
    ("x.to(torch.float64)", "ToCopyBackward0"),
]


@pytest.mark.parametrize("expr,name", GRAD_FN_CASES, ids=[c[0] for c in GRAD_FN_CASES])
def test_grad_fn_class_names(expr, name):
    env = {"torch": torch, "x": leaf(X), "y": leaf([0.5, 1.5, 2.5]), "m": leaf(M)}
    out = eval(expr, env)
    assert gf(out) == name
    assert out.grad_fn.name() == name


def test_grad_fn_is_none_for_leaves_and_untracked():
    x = leaf([1.0])
    assert x.grad_fn is None
    assert torch.tensor([1.0]).grad_fn is None
    assert (torch.tensor([1.0]) * 2).grad_fn is None
    assert x.detach().grad_fn is None


def test_next_functions_accumulate_grad():
    x, w = leaf([1.0]), leaf([2.0])
    fn = (x * w).grad_fn
    (a, ia), (b, ib) = fn.next_functions
    assert type(a).__name__ == "AccumulateGrad" and a.variable is x and ia == 0
    assert type(b).__name__ == "AccumulateGrad" and b.variable is w and ib == 0
    assert a.name() == "torch::autograd::AccumulateGrad"


def test_next_functions_none_for_inputs_without_grad():
    x, c = leaf([1.0]), torch.tensor([2.0])
    assert (x * c).grad_fn.next_functions[1] == (None, 0)
    assert (c * x).grad_fn.next_functions[0] == (None, 0)
    (acc, _), none = (x * 2).grad_fn.next_functions
    assert acc.variable is x and none == (None, 0)


def test_next_functions_chain():
    x = leaf([1.0, 2.0])
    s = (x.exp() * 2).sum()
    (mul, _), = s.grad_fn.next_functions
    assert mul.name() == "MulBackward0"
    assert mul.next_functions[0][0].name() == "ExpBackward0"
    assert mul.next_functions[0][0].next_functions[0][0].variable is x
    rdiv = (2 / x).grad_fn
    assert rdiv.name() == "MulBackward0"
    assert rdiv.next_functions[0][0].name() == "ReciprocalBackward0"
    assert rdiv.next_functions[1] == (None, 0)


def test_grad_fn_is_stable():
    x = leaf([1.0])
    y = x * 2
    assert y.grad_fn == y.grad_fn
    assert y.grad_fn != (x * 2).grad_fn


# ---- repr -------------------------------------------------------------------------------
REPR_CASES = [
    ("torch.tensor([7.])", "tensor([7.])"),
    ("torch.tensor([5.], requires_grad=True)", "tensor([5.], requires_grad=True)"),
    ("torch.tensor([2.], requires_grad=True) + 5", "tensor([7.], grad_fn=<AddBackward0>)"),
    ("torch.tensor([2.], requires_grad=True) * 3", "tensor([6.], grad_fn=<MulBackward0>)"),
    ("torch.tensor(2.5)", "tensor(2.5000)"),
    ("torch.tensor(3.)", "tensor(3.)"),
    ("torch.tensor([1.5, 2.0])", "tensor([1.5000, 2.0000])"),
    ("torch.tensor([-1.5, 2.0])", "tensor([-1.5000,  2.0000])"),
    ("torch.tensor([1.5, 2.0], dtype=torch.float64)",
     "tensor([1.5000, 2.0000], dtype=torch.float64)"),
    ("torch.tensor([1., 2.], dtype=torch.float64, requires_grad=True) * 2",
     "tensor([2., 4.], dtype=torch.float64, grad_fn=<MulBackward0>)"),
    ("torch.tensor(3., dtype=torch.float64)", "tensor(3., dtype=torch.float64)"),
    ("torch.tensor([1, 2, 3])", "tensor([1, 2, 3])"),
    ("torch.tensor([1, 2], dtype=torch.int32)", "tensor([1, 2], dtype=torch.int32)"),
    ("torch.tensor(5)", "tensor(5)"),
    ("torch.tensor([True, False])", "tensor([ True, False])"),
    ("torch.tensor([[1., 2.5], [3., 4.]])",
     "tensor([[1.0000, 2.5000],\n        [3.0000, 4.0000]])"),
    ("torch.tensor([[1, 2], [3, 4]])", "tensor([[1, 2],\n        [3, 4]])"),
    ("torch.tensor([[1.5, 2.], [3., -4.]], requires_grad=True)",
     "tensor([[ 1.5000,  2.0000],\n        [ 3.0000, -4.0000]], requires_grad=True)"),
    ("torch.zeros(2, 1, 2)", "tensor([[[0., 0.]],\n\n        [[0., 0.]]])"),
    ("torch.tensor([1e-5, 1.0])", "tensor([1.0000e-05, 1.0000e+00])"),
    ("torch.tensor([1e10, 1.0])", "tensor([1.0000e+10, 1.0000e+00])"),
    ("torch.tensor([100., 1.5])", "tensor([100.0000,   1.5000])"),
    ("torch.tensor([float('nan'), 1.0, float('inf')])", "tensor([nan, 1., inf])"),
    ("torch.tensor([-0.0, 1.0])", "tensor([-0., 1.])"),
    ("torch.tensor([0.0, 0.0])", "tensor([0., 0.])"),
    ("torch.tensor([])", "tensor([])"),
    ("torch.zeros(0, 3)", "tensor([], size=(0, 3))"),
    ("torch.zeros(0, dtype=torch.int64)", "tensor([], dtype=torch.int64)"),
    ("torch.arange(10)", "tensor([0, 1, 2, 3, 4, 5, 6, 7, 8, 9])"),
    ("torch.arange(3000)", "tensor([   0,    1,    2,  ..., 2997, 2998, 2999])"),
    ("torch.arange(2000.)",
     "tensor([0.0000e+00, 1.0000e+00, 2.0000e+00,  ..., 1.9970e+03, 1.9980e+03,\n"
     "        1.9990e+03])"),
]


@pytest.mark.parametrize("expr,text", REPR_CASES, ids=[c[0] for c in REPR_CASES])
def test_repr_like_pytorch(expr, text):
    assert repr(eval(expr, {"torch": torch})) == text


def test_repr_wraps_long_rows_and_suffix():
    t = torch.tensor([[1.0, 2.0, 3.0] * 10] * 2, requires_grad=True) * 2
    lines = repr(t).split("\n")
    assert lines[0] == "tensor([[" + "2., 4., 6., " * 5 + "2., 4., 6.,"
    assert lines[-1] == "       grad_fn=<MulBackward0>)"
    assert all(len(line) <= 80 for line in lines)


def test_repr_of_grad_and_print():
    x = leaf([1.0, 2.0])
    (x * x).sum().backward()
    assert repr(x.grad) == "tensor([2., 4.])"
    assert str(x) == "tensor([1., 2.], requires_grad=True)"


def test_repr_default_dtype_float64(default_dtype):
    torch.set_default_dtype(torch.float64)
    assert repr(torch.tensor([1.5])) == "tensor([1.5000])"
    assert repr(torch.tensor([1.5], dtype=torch.float32)) == "tensor([1.5000], dtype=torch.float32)"


def test_size_repr():
    assert repr(torch.ones(2, 3).shape) == "torch.Size([2, 3])"


# ---- backward(gradient=...) -------------------------------------------------------------
def test_vector_jacobian_product():
    x = leaf([1.0, 2.0, 3.0])
    y = x * x
    y.backward(torch.tensor([1.0, 0.1, 0.01]))
    np.testing.assert_allclose(x.grad.tolist(), [2.0, 0.4, 0.06], rtol=1e-6)


def test_vjp_matrix():
    a = torch.tensor([[1.0, 2.0], [3.0, 4.0]], requires_grad=True)
    y = a @ a
    y.backward(torch.ones(2, 2))
    v = np.array([[1.0, 2.0], [3.0, 4.0]])
    expected = np.ones((2, 2)) @ v.T + v.T @ np.ones((2, 2))
    np.testing.assert_allclose(np.array(a.grad.tolist()), expected)


def test_jacobian_product_on_eye():
    inp = torch.eye(5, requires_grad=True)
    out = (inp + 1).pow(2).t()
    out.backward(torch.ones_like(out), retain_graph=True)
    first = np.array(inp.grad.tolist())
    np.testing.assert_allclose(first, 2 * (np.eye(5) + 1))
    out.backward(torch.ones_like(out))
    np.testing.assert_allclose(np.array(inp.grad.tolist()), 2 * first)


def test_non_scalar_needs_gradient():
    x = leaf([1.0, 2.0])
    with pytest.raises(RuntimeError, match="grad can be implicitly created only for scalar "
                                           "outputs"):
        (x * 2).backward()
    assert x.grad is None


def test_one_element_non_scalar_is_implicit():
    x = leaf([[2.0]])
    (x * 3).backward()
    assert x.grad.tolist() == [[3.0]]


def test_wrong_shaped_gradient_raises():
    x = leaf([1.0, 2.0, 3.0])
    with pytest.raises(RuntimeError, match="shape"):
        (x * 2).backward(torch.ones(2))
    with pytest.raises(RuntimeError, match="shape"):
        (x * 2).backward(torch.ones(1, 3))
    assert x.grad is None


def test_gradient_argument_dtype_follows_output():
    x = leaf([1.0, 2.0], dtype=torch.float64)
    (x * 2).backward(torch.tensor([1.0, 1.0]))
    assert x.grad.dtype is torch.float64 and x.grad.tolist() == [2.0, 2.0]


# ---- graph lifetime ---------------------------------------------------------------------
SECOND_TIME = "Trying to backward through the graph a second time"


@pytest.mark.parametrize("expr", ["x * 2", "x / 2", "x.exp()", "x * x", "x ** 2", "2 / x",
                                  "x.sin()", "x.sigmoid()"])
def test_second_backward_raises_when_tensors_were_saved(expr):
    x = leaf([1.0, 2.0])
    s = eval(expr, {"x": x}).sum()
    s.backward()
    g = x.grad.tolist()
    with pytest.raises(RuntimeError, match=SECOND_TIME):
        s.backward()
    assert x.grad.tolist() == g


@pytest.mark.parametrize("expr", ["(x + 1).sum()", "(x - 2).sum()", "(-x).sum()",
                                  "x.reshape(2, 1).sum()", "x.mean()", "(1 - x).sum()",
                                  "(x + x).sum()", "x.sum()"])
def test_second_backward_allowed_when_nothing_was_saved(expr):
    x = leaf([1.0, 2.0])
    s = eval(expr, {"x": x})
    s.backward()
    g = np.array(x.grad.tolist())
    s.backward()
    np.testing.assert_allclose(x.grad.tolist(), 2 * g)


@pytest.mark.parametrize("expr", ["x * 2", "x / 2", "x.exp()", "x * x", "(x + 1) * x"])
def test_retain_graph_allows_second_backward(expr):
    x = leaf([1.0, 2.0])
    s = eval(expr, {"x": x}).sum()
    s.backward(retain_graph=True)
    g = np.array(x.grad.tolist())
    s.backward(retain_graph=True)
    s.backward()
    np.testing.assert_allclose(x.grad.tolist(), 3 * g)


def test_shared_subgraph_freed_by_first_backward():
    x = leaf([1.0, 2.0])
    y = x * x
    a, b = y.sum(), (y + 1).sum()
    a.backward()
    with pytest.raises(RuntimeError, match=SECOND_TIME):
        b.backward()


def test_shared_subgraph_with_retain_graph():
    x = leaf([1.0, 2.0])
    y = x * x
    y.sum().backward(retain_graph=True)
    (y * 3).sum().backward()
    assert x.grad.tolist() == [8.0, 16.0]


def test_new_graph_after_freeing_works():
    x = leaf([3.0])
    for _ in range(3):
        (x * x).sum().backward()
    assert x.grad.tolist() == [18.0]


# ---- .grad never half-written -----------------------------------------------------------
def test_failed_backward_changes_no_grad_freed_graph():
    a, b, c = leaf([1.0, 2.0]), leaf([3.0]), leaf([0.5])
    s = (a * b).sum() + (c + 1).sum() + (a.exp() * 2).sum()
    s.backward()
    before = grads(a, b, c)
    with pytest.raises(RuntimeError, match=SECOND_TIME):
        s.backward()
    assert grads(a, b, c) == before


def test_failed_backward_changes_no_grad_version_error():
    a, b, c = leaf([1.0, 2.0]), leaf([3.0]), leaf([0.5])
    a.grad = torch.tensor([10.0, 20.0])
    e = c.exp()
    s = (a * b).sum() + (a + 1).sum() + e.sum()
    e.add_(1)
    with pytest.raises(RuntimeError, match="modified by an inplace operation"):
        s.backward()
    assert grads(a, b, c) == [[10.0, 20.0], None, None]


def test_failed_backward_changes_no_retained_grad():
    a = leaf([1.0])
    y = a * 2
    y.retain_grad()
    z = y.exp()
    s = (z * y).sum()
    z.mul_(2)
    with pytest.raises(RuntimeError):
        s.backward()
    assert a.grad is None and y.grad is None


# ---- autograd.grad and backward(inputs=...) ---------------------------------------------
def test_autograd_grad_does_not_touch_grad():
    x, w = leaf([1.0, 2.0]), leaf([3.0, 4.0])
    s = (x * w).sum()
    gx, gw = torch.autograd.grad(s, [x, w])
    assert gx.tolist() == [3.0, 4.0] and gw.tolist() == [1.0, 2.0]
    assert x.grad is None and w.grad is None
    assert not gx.requires_grad and gx.is_leaf


def test_autograd_grad_single_input_and_grad_outputs():
    x = leaf([1.0, 2.0])
    (g,) = torch.autograd.grad(x * x, x, torch.tensor([1.0, 10.0]))
    assert g.tolist() == [2.0, 40.0]


def test_autograd_grad_non_leaf_input():
    x = leaf([1.0, 2.0])
    y = x * 2
    (g,) = torch.autograd.grad((y * y).sum(), y)
    assert g.tolist() == [4.0, 8.0]
    assert x.grad is None


def test_autograd_grad_frees_graph_unless_retained():
    x = leaf([1.0])
    s = (x * x).sum()
    torch.autograd.grad(s, x, retain_graph=True)
    assert torch.autograd.grad(s, x)[0].tolist() == [2.0]
    with pytest.raises(RuntimeError, match=SECOND_TIME):
        torch.autograd.grad(s, x)


def test_autograd_grad_allow_unused():
    x, w = leaf([1.0]), leaf([2.0])
    s = (x * 2).sum()
    with pytest.raises(RuntimeError, match="index 1 appears to not have been used"):
        torch.autograd.grad(s, [x, w], retain_graph=True)
    gx, gw = torch.autograd.grad(s, [x, w], allow_unused=True, retain_graph=True)
    assert gx.tolist() == [2.0] and gw is None
    gx, gw = torch.autograd.grad(s, [x, w], allow_unused=True, materialize_grads=True)
    assert gw.tolist() == [0.0]


def test_autograd_grad_of_one_tensor_by_one_tensor():
    """grad(loss, x) with tensors, not sequences (a path of its own): the same answers,
    errors and options as the general form."""
    x, w = leaf([1.0, 2.0]), leaf([3.0])
    s = (x * x).sum()
    (g,) = torch.autograd.grad(s, x, retain_graph=True)
    assert g.tolist() == [2.0, 4.0] and x.grad is None and not g.requires_grad
    h = x * 2.0  # a non-leaf input
    (gh,) = torch.autograd.grad((h * h).sum(), h)
    assert gh.tolist() == [4.0, 8.0]
    with pytest.raises(RuntimeError, match="index 0 appears to not have been used"):
        torch.autograd.grad(s, w, retain_graph=True)
    assert torch.autograd.grad(s, w, allow_unused=True, retain_graph=True) == (None,)
    (z,) = torch.autograd.grad(s, w, materialize_grads=True, retain_graph=True)
    assert z.tolist() == [0.0]
    with pytest.raises(RuntimeError, match="index 0 appears to not have been used"):
        torch.autograd.grad(s, w, allow_unused=False, materialize_grads=True,
                            retain_graph=True)
    x.register_hook(lambda g: g * 10)
    assert torch.autograd.grad(s, x)[0].tolist() == [20.0, 40.0]  # leaf hooks run
    with pytest.raises(RuntimeError, match=SECOND_TIME):
        torch.autograd.grad(s, x)


def test_autograd_grad_input_without_grad_raises():
    x = leaf([1.0])
    with pytest.raises(RuntimeError, match="does not require grad"):
        torch.autograd.grad((x * 2).sum(), torch.ones(1))


def test_backward_inputs_only_accumulates_into_them():
    x, w = leaf([1.0, 2.0]), leaf([3.0, 4.0])
    (x * w).sum().backward(inputs=[x])
    assert x.grad.tolist() == [3.0, 4.0] and w.grad is None
    x2, w2 = leaf([1.0]), leaf([5.0])
    (x2 * w2).sum().backward(inputs=w2)
    assert x2.grad is None and w2.grad.tolist() == [1.0]


def test_backward_inputs_non_leaf():
    x = leaf([1.0, 2.0])
    h = x * 2
    (h * h).sum().backward(inputs=[h])
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert h.grad.tolist() == [4.0, 8.0]
    assert x.grad is None


def test_backward_inputs_empty_raises():
    x = leaf([1.0])
    with pytest.raises(RuntimeError, match="cannot be empty"):
        (x * 2).sum().backward(inputs=[])


def test_torch_autograd_backward_function():
    x = leaf([1.0, 2.0])
    torch.autograd.backward([(x * 2).sum(), (x * x).sum()])
    assert x.grad.tolist() == [4.0, 6.0]


# ---- detach, requires_grad_, clone ------------------------------------------------------
def test_detach_shares_value_and_is_untracked():
    x = leaf([1.0, 2.0])
    d = x.detach()
    assert d.tolist() == [1.0, 2.0] and not d.requires_grad and d.is_leaf and d.grad_fn is None
    d.add_(1)
    assert x.tolist() == [2.0, 3.0]  # shares storage
    y = (x * 2).detach()
    assert not y.requires_grad and y.is_leaf and y.tolist() == [4.0, 6.0]


def test_detach_in_place():
    x = leaf([1.0])
    y = x * 2
    assert y.detach_() is y
    assert not y.requires_grad and y.is_leaf and y.grad_fn is None
    y.add_(1)
    assert y.tolist() == [3.0]


def test_requires_grad_():
    x = torch.tensor([1.0, 2.0])
    assert x.requires_grad_() is x and x.requires_grad and x.is_leaf
    (x * x).sum().backward()
    assert x.grad.tolist() == [2.0, 4.0]
    x.requires_grad_(False)
    assert not x.requires_grad
    x.requires_grad = True
    assert x.requires_grad


def test_requires_grad_on_int_raises():
    with pytest.raises(RuntimeError, match="floating point"):
        torch.tensor([1, 2]).requires_grad_()
    with pytest.raises(RuntimeError, match="floating point"):
        torch.tensor([1, 2], requires_grad=True)
    with pytest.raises(RuntimeError, match="floating point"):
        torch.zeros(2, dtype=torch.int64, requires_grad=True)
    t = torch.tensor([1, 2])
    with pytest.raises(RuntimeError, match="floating point"):
        t.requires_grad = True


def test_requires_grad_false_on_non_leaf_raises():
    y = leaf([1.0]) * 2
    with pytest.raises(RuntimeError, match="leaf variables"):
        y.requires_grad_(False)
    assert y.requires_grad_(True) is y


def test_requires_grad_on_result_computed_without_grad_makes_a_leaf():
    x = leaf([1.0, 2.0])
    with torch.no_grad():
        y = x * 2
    y.requires_grad_()
    assert y.is_leaf and y.requires_grad and y.grad_fn is None
    (y * y).sum().backward()
    assert y.grad.tolist() == [4.0, 8.0] and x.grad is None
    z = (x * 3).detach().requires_grad_()
    (z * 2).sum().backward()
    assert z.grad.tolist() == [2.0, 2.0] and x.grad is None


def test_clone():
    x = leaf([1.0, 2.0])
    c = x.clone()
    assert c.grad_fn.name() == "CloneBackward0" and not c.is_leaf
    (c * c).sum().backward()
    assert x.grad.tolist() == [2.0, 4.0]
    p = torch.tensor([1.0])
    q = p.clone()
    q.add_(1)
    assert p.tolist() == [1.0] and q.tolist() == [2.0]


# ---- dtypes -----------------------------------------------------------------------------
def test_default_float32():
    assert torch.tensor([1.5]).dtype is torch.float32
    assert torch.ones(2).dtype is torch.float32
    assert torch.get_default_dtype() is torch.float32


@pytest.mark.parametrize("expr,dtype", [
    ("torch.ones(2) + torch.ones(2, dtype=torch.float64)", "float64"),
    ("torch.ones(2, dtype=torch.float64) * torch.ones(2)", "float64"),
    ("torch.ones(2) * 2.5", "float32"),
    ("2.5 * torch.ones(2)", "float32"),
    ("torch.ones(2, dtype=torch.float64) / 3", "float64"),
    ("torch.tensor([1, 2]) + 1.5", "float32"),
    ("torch.tensor([1, 2]) * 2", "int64"),
    ("torch.tensor([1, 2]) / 2", "float32"),
    ("torch.tensor([1, 2]) + torch.ones(2)", "float32"),
    ("torch.tensor([1, 2]) + torch.ones(2, dtype=torch.float64)", "float64"),
    ("torch.tensor([1, 2]) ** 2", "int64"),
    ("torch.tensor([1, 2]) ** 0.5", "float32"),
    ("2 ** torch.tensor([1, 2])", "int64"),
    ("2.0 ** torch.tensor([1, 2])", "float32"),
    ("torch.tensor([1, 2]).sum()", "int64"),
    ("torch.tensor([True]) + 1", "int64"),
    ("torch.tensor([1, 2]).exp()", "float32"),
    ("torch.tensor([1, 2], dtype=torch.int32) + torch.tensor([1, 2])", "int64"),
])
def test_promotion(expr, dtype):
    assert eval(expr, {"torch": torch}).dtype is getattr(torch, dtype)


def test_zero_dim_tensor_promotes_like_a_scalar():
    assert (torch.tensor(2.5, dtype=torch.float64) * torch.ones(3)).dtype is torch.float32
    assert (torch.tensor(2) * torch.ones(3, dtype=torch.int32)).dtype is torch.int32


def test_subtracting_a_bool_tensor_raises():
    with pytest.raises(RuntimeError, match="with a bool tensor is not supported"):
        torch.tensor([1, 2]) - torch.tensor([True, False])


def test_implicit_promotion_adds_no_node():
    a, b = leaf([1.0]), leaf([2.0], dtype=torch.float64)
    names = [type(f).__name__ for f, _ in (a * b).grad_fn.next_functions]
    assert names == ["AccumulateGrad", "AccumulateGrad"]


def test_creation_dtypes():
    assert torch.tensor([1, 2]).dtype is torch.int64
    assert torch.tensor([True]).dtype is torch.bool
    assert torch.tensor([1, 2.5]).dtype is torch.float32
    assert torch.tensor(np.array([1.0, 2.0])).dtype is torch.float64
    assert torch.tensor(np.float64(2.5)).dtype is torch.float64
    assert torch.tensor([np.float64(1.5)]).dtype is torch.float64
    assert torch.tensor(np.int32(1)).dtype is torch.int32
    assert torch.tensor(np.float32(1.5)).dtype is torch.float32


def test_set_default_dtype(default_dtype):
    torch.set_default_dtype(torch.float64)
    assert torch.get_default_dtype() is torch.float64
    assert torch.tensor([1.5]).dtype is torch.float64
    assert torch.ones(2).dtype is torch.float64
    assert (torch.tensor([1, 2]) / 2).dtype is torch.float64
    assert torch.tensor([1]).dtype is torch.int64
    torch.set_default_dtype(torch.float32)
    assert torch.tensor([1.5]).dtype is torch.float32
    with pytest.raises(TypeError):
        torch.set_default_dtype(torch.int64)


def test_casts_record_to_copy_and_gradients_keep_leaf_dtype():
    x = leaf([1.0, 2.0])
    y = x.double()
    assert y.dtype is torch.float64 and y.grad_fn.name() == "ToCopyBackward0"
    (y * y).sum().backward()
    assert x.grad.dtype is torch.float32 and x.grad.tolist() == [2.0, 4.0]
    z = leaf([1.0, 2.0], dtype=torch.float64)
    w = z.float()
    assert w.dtype is torch.float32 and w.grad_fn.name() == "ToCopyBackward0"
    (w * 3).sum().backward()
    assert z.grad.dtype is torch.float64 and z.grad.tolist() == [3.0, 3.0]


def test_mixed_dtype_gradients_keep_leaf_dtypes():
    a, b = leaf([1.0, 2.0]), leaf([3.0, 4.0], dtype=torch.float64)
    out = (a * b).sum()
    assert out.dtype is torch.float64
    out.backward()
    assert a.grad.dtype is torch.float32 and b.grad.dtype is torch.float64
    assert a.grad.tolist() == [3.0, 4.0] and b.grad.tolist() == [1.0, 2.0]


def test_conversion_methods():
    x = torch.tensor([1.7, -2.2])
    assert x.long().dtype is torch.int64 and x.long().tolist() == [1, -2]
    assert x.int().dtype is torch.int32
    assert x.bool().dtype is torch.bool
    i = torch.tensor([1, 2])
    assert i.float().dtype is torch.float32 and i.double().dtype is torch.float64
    assert x.to(torch.float64).dtype is torch.float64
    assert x.float() is x


# ---- conversions and attributes ---------------------------------------------------------
def test_item_and_tolist():
    assert torch.tensor(2.5).item() == 2.5
    assert torch.tensor([3]).item() == 3 and type(torch.tensor([3]).item()) is int
    assert type(torch.tensor([True]).item()) is bool
    assert torch.tensor([[1.5, 2.0]]).tolist() == [[1.5, 2.0]]
    assert torch.tensor(3.5).tolist() == 3.5
    assert leaf([1.0, 2.0]).tolist() == [1.0, 2.0]
    assert (leaf([1.0, 2.0]) * 2).sum().item() == 6.0
    with pytest.raises(RuntimeError, match="2 elements cannot be converted to Scalar"):
        torch.tensor([1.0, 2.0]).item()


def test_numpy_requires_grad_raises():
    x = leaf([1.0, 2.0])
    with pytest.raises(RuntimeError, match=re.escape("detach().numpy()")):
        x.numpy()
    with pytest.raises(RuntimeError, match="requires grad"):
        (x * 2).numpy()
    with pytest.raises(RuntimeError, match="requires grad"):
        np.asarray(x)
    assert x.detach().numpy().tolist() == [1.0, 2.0]
    assert (x * 2).detach().numpy().tolist() == [2.0, 4.0]


def test_numpy_shares_memory():
    x = torch.tensor([1.0, 2.0])
    n = x.numpy()
    assert n.dtype == np.float32
    n[0] = 5.0
    assert x.tolist() == [5.0, 2.0]
    x.add_(1)
    assert n.tolist() == [6.0, 3.0]


def test_from_numpy_shares_memory_both_ways():
    a = np.ones(3, dtype=np.float32)
    t = torch.from_numpy(a)
    assert t.dtype is torch.float32
    a[0] = 7.0
    assert t.tolist() == [7.0, 1.0, 1.0]
    t.add_(1)
    assert a.tolist() == [8.0, 2.0, 2.0]
    assert torch.from_numpy(np.ones(2)).dtype is torch.float64
    assert torch.from_numpy(np.ones(2, dtype=np.int64)).dtype is torch.int64


def test_python_scalars():
    assert float(torch.tensor([2.5])) == 2.5
    assert int(torch.tensor([2.7])) == 2
    assert int(torch.tensor(-2.7)) == -2
    assert bool(torch.tensor([0.0])) is False and bool(torch.tensor(3)) is True
    assert float(leaf([1.0, 2.0]).sum()) == 3.0
    with pytest.raises(ValueError, match="only one element tensors"):
        float(torch.tensor([1.0, 2.0]))
    with pytest.raises(ValueError, match="only one element tensors"):
        int(torch.tensor([1, 2]))
    with pytest.raises(RuntimeError, match="more than one value is ambiguous"):
        bool(torch.tensor([1.0, 2.0]))
    with pytest.raises(RuntimeError, match="no values is ambiguous"):
        bool(torch.tensor([]))
    assert f"{torch.tensor(2.5):.3f}" == "2.500"


def test_len_and_iter():
    assert len(torch.ones(3, 2)) == 3
    with pytest.raises(TypeError):
        len(torch.tensor(3.0))
    rows = list(torch.tensor([[1.0, 2.0], [3.0, 4.0]]))
    assert [r.tolist() for r in rows] == [[1.0, 2.0], [3.0, 4.0]]
    assert [repr(v) for v in torch.tensor([1.0, 2.0])] == ["tensor(1.)", "tensor(2.)"]


def test_array_protocol():
    t = torch.tensor([1.0, 2.0])
    a = np.asarray(t)
    assert a.dtype == np.float32 and a.tolist() == [1.0, 2.0]
    assert np.asarray(t, dtype=np.float64).dtype == np.float64
    assert np.asarray(leaf([1.0]).detach() * 2).tolist() == [2.0]


def test_shape_attributes():
    t = torch.ones(2, 3)
    assert t.shape == (2, 3) and isinstance(t.shape, tuple)
    assert t.size() == (2, 3) and t.size(1) == 3 and t.size(-1) == 3
    assert t.dim() == 2 and t.ndim == 2 and t.numel() == 6
    assert t.T.shape == (3, 2)
    assert torch.ones(2, 3, 4).T.shape == (4, 3, 2)
    assert torch.ones(3).T.shape == (3,)
    assert torch.tensor(1.0).dim() == 0 and torch.tensor(1.0).shape == ()
    with pytest.raises(IndexError, match="Dimension out of range"):
        t.size(2)
    assert (leaf([[1.0, 2.0]]) * 2).shape == (1, 2)


def test_a_broadcast_gradient_is_summed_before_it_is_added():
    """float32: the copies of an expanded value give their adjoints summed in float64 and
    rounded once, as PyTorch's sum does; two such paths cancel exactly (0.0, not 3e-8)."""
    b = torch.zeros(1, requires_grad=True)
    (b.expand(5).mean() + b.expand(5).mean()).backward()
    assert b.grad.item() == 2.0
    b.grad = None
    (-b.expand(5).mean() + b.expand(5).mean()).backward()
    assert b.grad.item() == 0.0
    w = torch.zeros(3, requires_grad=True)  # a broadcast in a binary op: the same
    x = torch.full((5, 3), 0.2)
    ((x * w).sum() - (x * w).sum()).backward()
    assert w.grad.tolist() == [0.0, 0.0, 0.0]
