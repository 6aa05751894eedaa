"""In-place operations, .data and version counters, as in PyTorch 2.x."""

import numpy as np
import pytest

import tapegrad as torch

LEAF_INPLACE = "a leaf Variable that requires grad is being used in an in-place operation"
MODIFIED = "modified by an inplace operation"


def leaf(values, dtype=None):
    return torch.tensor(values, dtype=dtype, requires_grad=True)


# ---- updating leaves --------------------------------------------------------------------
def test_data_shares_storage_and_is_untracked():
    w = leaf([1.0, 2.0])
    d = w.data
    assert not d.requires_grad and d.is_leaf and d.grad_fn is None
    d.mul_(3)
    assert w.tolist() == [3.0, 6.0] and w.requires_grad and w.is_leaf


def test_sgd_step_through_data():
    w = leaf([1.0, 2.0])
    (w * w).sum().backward()
    w.data.sub_(0.1 * w.grad)
    np.testing.assert_allclose(w.tolist(), [0.8, 1.6], rtol=1e-6)
    assert w.is_leaf and w.requires_grad


def test_later_ops_see_updates_through_data():
    w = leaf([1.0, 2.0])
    assert (w * 2).sum().item() == 6.0
    assert (w * w).sum().item() == 5.0
    w.data.sub_(0.5)
    assert (w * 2).sum().item() == 4.0
    assert (w * w).sum().item() == 2.5
    assert (w + w).sum().item() == 4.0
    w.data.copy_(torch.zeros(2))
    assert w.exp().sum().item() == 2.0
    w.data.view(2).add_(1)
    assert (w * 3).sum().item() == 6.0


def test_training_loop_through_data():
    x = torch.tensor([[1.0, 2.0], [3.0, 4.0]])
    y = torch.tensor([5.0, 11.0])
    w = torch.zeros(2, requires_grad=True)
    xn, yn, wn = np.array(x.tolist()), np.array(y.tolist()), np.zeros(2)
    for _ in range(50):
        loss = ((x @ w - y) ** 2).mean()
        loss.backward()
        w.data.sub_(0.05 * w.grad)
        w.grad.zero_()
        wn -= 0.05 * xn.T @ (xn @ wn - yn)
    np.testing.assert_allclose(w.tolist(), wn, rtol=1e-4)


def test_sgd_step_under_no_grad():
    w = leaf([1.0, 2.0])
    (w * w).sum().backward()
    with torch.no_grad():
        w -= 0.1 * w.grad
    np.testing.assert_allclose(w.tolist(), [0.8, 1.6], rtol=1e-6)
    assert w.is_leaf and w.requires_grad and w.grad_fn is None
    w.grad = None
    (w * 2).sum().backward()
    assert w.grad.tolist() == [2.0, 2.0]
    np.testing.assert_allclose((w * w).sum().item(), 0.64 + 2.56, rtol=1e-6)


def test_data_setter():
    w = leaf([1.0, 2.0])
    assert (w * 2).sum().item() == 6.0
    w.data = torch.tensor([5.0, 6.0])
    assert w.requires_grad and w.is_leaf and (w * 2).sum().item() == 22.0


@pytest.mark.parametrize("op", ["x.add_(1)", "x.mul_(2)", "x.sub_(x)", "x.div_(2)",
                                "x.zero_()", "x.fill_(3)", "x.copy_(torch.ones(2))"])
def test_in_place_on_leaf_requiring_grad_raises(op):
    x = leaf([1.0, 2.0])
    with pytest.raises(RuntimeError, match=LEAF_INPLACE):
        eval(op, {"x": x, "torch": torch})
    assert x.tolist() == [1.0, 2.0]


def test_augmented_assignment_on_leaf_raises():
    x = leaf([1.0, 2.0])
    with pytest.raises(RuntimeError, match=LEAF_INPLACE):
        x += 1
    with pytest.raises(RuntimeError, match=LEAF_INPLACE):
        x *= 2


def test_in_place_on_leaf_under_no_grad_allowed():
    x = leaf([1.0, 2.0])
    with torch.no_grad():
        x.add_(1)
        x.mul_(2)
        x.zero_()
        x.fill_(3.0)
    assert x.tolist() == [3.0, 3.0] and x.is_leaf and x.requires_grad


# ---- version counter --------------------------------------------------------------------
def test_modified_saved_output_raises():
    x = leaf([1.0, 2.0])
    y = x.exp()
    y.add_(1)
    with pytest.raises(RuntimeError, match=MODIFIED):
        y.sum().backward()
    assert x.grad is None


@pytest.mark.parametrize("op", ["y.add_(1)", "y.mul_(2)", "y.zero_()", "y.copy_(torch.ones(2))",
                                "y.detach().add_(1)"])
def test_each_kind_of_modification_of_a_saved_tensor_raises(op):
    x = leaf([1.0, 2.0])
    y = x.exp()
    s = y.sum()
    eval(op, {"y": y, "torch": torch})
    with pytest.raises(RuntimeError, match=MODIFIED):
        s.backward()


def test_modified_leaf_under_no_grad_raises():
    x = leaf([1.0, 2.0])
    y = x * x
    with torch.no_grad():
        x.add_(1)
    with pytest.raises(RuntimeError, match=MODIFIED):
        y.sum().backward()
    assert x.grad is None


def test_modified_leaf_message_names_version():
    x = leaf([1.0, 2.0])
    y = x.sin()
    with torch.no_grad():
        x.mul_(2)
    with pytest.raises(RuntimeError, match=r"is at version 1; expected version 0"):
        y.sum().backward()


def test_modification_not_saved_is_fine():
    x = leaf([1.0, 2.0])
    y = x * 2  # multiplying by a scalar saves no tensor
    y.add_(1)
    y.sum().backward()
    assert x.grad.tolist() == [2.0, 2.0]
    assert y.tolist() == [3.0, 5.0] and y.grad_fn.name() == "AddBackward0"


def test_in_place_chain_gradients():
    x = leaf([1.0, 2.0])
    y = x + 0
    y.mul_(3)
    y.add_(x)
    y.sum().backward()
    assert x.grad.tolist() == [4.0, 4.0]


def test_in_place_mul_by_tensor_saves_original_self():
    x = leaf([1.0, 2.0])
    y = x * 1
    y.mul_(x)  # PyTorch saves the original self, so this works
    y.sum().backward()
    assert x.grad.tolist() == [2.0, 4.0]
    x.grad = None
    y = x * 1
    y.div_(x)
    y.sum().backward()
    np.testing.assert_allclose(x.grad.tolist(), [0.0, 0.0], atol=1e-7)


def test_in_place_mul_by_itself_raises():
    x = leaf([1.0, 2.0])
    y = x * 1
    y.mul_(y)
    with pytest.raises(RuntimeError, match=MODIFIED):
        y.sum().backward()


def test_in_place_on_tensor_without_grad_joins_the_graph():
    x = torch.ones(2)
    w = leaf([2.0, 3.0])
    x.mul_(w)
    assert x.requires_grad and not x.is_leaf and x.grad_fn.name() == "MulBackward0"
    x.add_(w)
    assert x.grad_fn.name() == "AddBackward0"
    (x * 1).sum().backward()
    assert w.grad.tolist() == [2.0, 2.0] and x.tolist() == [4.0, 6.0]


def test_in_place_with_grad_source_of_other_float_dtype():
    x = torch.ones(2, dtype=torch.float64)
    w = leaf([2.0, 3.0])
    x.add_(w)
    assert x.dtype is torch.float64 and x.requires_grad
    (x * x).sum().backward()
    assert w.grad.dtype is torch.float32 and w.grad.tolist() == [6.0, 8.0]


def test_retained_grad_follows_in_place_op():
    x = leaf([1.0, 2.0])
    y = x * 1
    y.retain_grad()
    y.mul_(2)
    (y * y).sum().backward()
    assert y.grad.tolist() == [4.0, 8.0]
    assert x.grad.tolist() == [8.0, 16.0]


def test_data_of_non_leaf_is_untracked():
    x = leaf([0.0, 0.0])
    y = x.exp()
    y.data.add_(1)  # no version bump: backward uses the new value, as in PyTorch
    y.sum().backward()
    assert x.grad.tolist() == [2.0, 2.0]


def test_versions():
    x = leaf([1.0])
    assert x._version == 0
    with torch.no_grad():
        x.add_(1)
        x.mul_(2)
    assert x._version == 2
    y = x * 2
    assert y._version == 0
    y.add_(1)
    y.mul_(2)
    assert y._version == 2
    with torch.no_grad():
        y.add_(1)
    assert y._version == 3
    c = torch.ones(2)
    v = c.view(2, 1)
    v.add_(1)
    assert c._version == 1 and c.tolist() == [2.0, 2.0]


def test_in_place_on_int_tensor_rejects_float_result():
    i = torch.tensor([1, 2])
    with pytest.raises(RuntimeError, match="can't be cast"):
        i.add_(1.5)
    i.add_(1)
    assert i.tolist() == [2, 3] and i.dtype is torch.int64


def test_in_place_shape_mismatch_raises():
    x = torch.ones(3)
    with pytest.raises(RuntimeError, match="shape"):
        x.add_(torch.ones(2, 3))


def test_from_numpy_in_place_updates_array():
    a = np.zeros(2, dtype=np.float32)
    t = torch.from_numpy(a)
    with torch.no_grad():
        t += 1
    assert a.tolist() == [1.0, 1.0]


def test_later_ops_see_writes_through_shared_numpy_array():
    a = np.ones(3, dtype=np.float32)
    x = torch.from_numpy(a)
    assert (x * 2).sum().item() == 6.0
    a[0] = 0.0
    assert (x * 2).sum().item() == 4.0


def test_numpy_of_a_tape_tensor_moves_it_to_its_own_storage():
    """Documented difference (README): numpy() of a tensor computed on the tape gives an
    array that shares memory with *that* tensor from then on, not with tensors it came from
    (the arena moves when the tape compacts)."""
    y = leaf([1.0, 2.0]) * 2
    d = y.detach()
    n = d.numpy()
    n[0] = 9.0
    assert d.tolist() == [9.0, 4.0]
    assert y.tolist() == [2.0, 4.0]
    x = torch.tensor([1.0, 2.0])
    x.numpy()[1] = 7.0  # a tensor that owns its array shares it, as in PyTorch
    assert x.tolist() == [1.0, 7.0]


def test_clamp_normal_uniform_in_place():
    x = torch.tensor([-2.0, 0.5, 3.0])
    assert x.clamp_(0, 1) is x and x.tolist() == [0.0, 0.5, 1.0]
    assert x._version == 1
    torch.manual_seed(0)
    w = torch.empty(1000)
    w.normal_(2.0, 0.5)
    assert abs(w.mean().item() - 2.0) < 0.1 and abs(w.std().item() - 0.5) < 0.05
    w.uniform_(-1.0, 1.0)
    assert w.min().item() >= -1.0 and w.max().item() < 1.0
    leaf = torch.ones(3, requires_grad=True)
    with pytest.raises(RuntimeError, match="leaf Variable that requires grad"):
        leaf.normal_()
    with torch.no_grad():
        leaf.uniform_(0.0, 0.5)
    assert leaf.requires_grad and leaf.max().item() < 0.5
    y = torch.tensor([0.5, 2.0], requires_grad=True) * 1.0
    y.clamp_(max=1.0)  # recorded: the gradient is clamp's
    y.sum().backward()
    assert y.grad_fn is not None and y.grad_fn.name() == "ClampBackward1"


VIEWS_OF_A_LEAF = {  # a view through view ops only: PyTorch refuses an in-place op on it
    "select": lambda w: w[0], "slice": lambda w: w[:1], "view": lambda w: w.view(-1),
    "t": lambda w: w.t(), "reshape": lambda w: w.reshape(4), "flatten": lambda w: w.flatten(),
    "unsqueeze": lambda w: w.unsqueeze(0), "expand": lambda w: w[0:1].expand(3, 2),
    "view of a view": lambda w: w[0][1:],
}
NOT_VIEWS = {  # copies, or views of a non-leaf: in-place is fine
    "advanced index": lambda w: w[[0, 1]], "clone": lambda w: w.clone()[0],
    "cast": lambda w: w.double(), "non-leaf": lambda w: (w * 2)[0],
}


@pytest.mark.parametrize("make", VIEWS_OF_A_LEAF.values(), ids=VIEWS_OF_A_LEAF.keys())
def test_in_place_on_a_view_of_a_leaf_that_requires_grad_raises(make):
    """(It used to change the view's recorded value and leave the leaf as it was.)"""
    w = torch.ones(2, 2, requires_grad=True)
    with pytest.raises(RuntimeError, match="a view of a leaf Variable that requires grad"):
        make(w).mul_(2)
    with pytest.raises(RuntimeError, match="a view of a leaf Variable that requires grad"):
        make(w)[0] = 5.0
    with torch.no_grad():  # allowed without grad, and it writes through to the leaf
        w[0].mul_(3)
    assert w.tolist() == [[3.0, 3.0], [1.0, 1.0]]


@pytest.mark.parametrize("make", NOT_VIEWS.values(), ids=NOT_VIEWS.keys())
def test_in_place_on_a_copy_or_a_non_leafs_view_is_allowed(make):
    w = torch.ones(2, 2, requires_grad=True)
    v = make(w)
    v.mul_(2)
    v[0] = 5.0
    assert w.tolist() == [[1.0, 1.0], [1.0, 1.0]] and v.requires_grad


@pytest.mark.torch
def test_views_of_a_leaf_match_pytorch():
    ref = pytest.importorskip("torch")
    for name, make in {**VIEWS_OF_A_LEAF, **NOT_VIEWS}.items():
        outcome = []
        for lib in (torch, ref):
            try:
                make(lib.ones(2, 2, requires_grad=True)).mul_(2)
                outcome.append("ok")
            except RuntimeError:
                outcome.append("raises")
        assert outcome[0] == outcome[1], name
