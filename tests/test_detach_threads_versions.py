"""Gradients that once came back wrong without an error: detach() and .data of a value
that requires grad, a Python range as an index, a graph used from another thread, and
in-place changes of a saved plain tensor. Expected numbers are PyTorch 2.13's."""

import numpy as np
import pytest

import tapegrad as torch
from tests.test_fuzz_semantics import _in_thread


def _x():
    return torch.tensor([1.0, 2.0, 3.0], requires_grad=True)


@pytest.mark.parametrize("cut", [lambda y: y.detach(), lambda y: y.data])
def test_detached_value_is_a_constant(cut):
    x = _x()
    y = x * x
    (cut(y) * x).sum().backward()
    np.testing.assert_allclose(x.grad.numpy(), [1.0, 4.0, 9.0])
    # y's own graph was not touched: it can still be backwarded once
    x.grad = None
    y.sum().backward()
    np.testing.assert_allclose(x.grad.numpy(), [2.0, 4.0, 6.0])


def test_straight_through_estimator():
    x = _x()
    y = x * x
    st = y - y.detach() + torch.relu(y - 4).detach()  # forward: relu(y - 4); gradient: y's
    np.testing.assert_allclose(st.detach().numpy(), [0.0, 0.0, 5.0])
    st.sum().backward()
    np.testing.assert_allclose(x.grad.numpy(), [2.0, 4.0, 6.0])


def test_detach_shares_storage_and_version():
    x = _x()
    y = x * 2
    z = x * y  # saves y
    d = y.detach()
    assert not d.requires_grad and d.is_leaf and d.grad_fn is None
    assert d._version == y._version
    with torch.no_grad():
        d.add_(1)  # writes y's value: PyTorch's detach shares storage and version counter
    np.testing.assert_allclose(y.detach().numpy(), [3.0, 5.0, 7.0])
    assert d._version == y._version == 1
    with pytest.raises(RuntimeError, match="modified by an inplace operation"):
        z.sum().backward()


def test_data_write_is_not_versioned():
    x = _x()
    y = x * 2
    z = x * y
    y.data.add_(1)  # .data writes are invisible to autograd, as in PyTorch
    z.sum().backward()
    np.testing.assert_allclose(x.grad.numpy(), [5.0, 9.0, 13.0])  # y as changed, + 2x


def test_detached_alias_survives_compaction():
    x = _x()
    y = x * x
    d = y.detach()
    del y
    tape = torch.tape.current()
    tape.compact()
    np.testing.assert_allclose(d.numpy(), [1.0, 4.0, 9.0])
    (d * x).sum().backward()
    np.testing.assert_allclose(x.grad.numpy(), [1.0, 4.0, 9.0])


def test_detach_of_a_value_without_grad_needs_no_record():
    a = torch.tensor([1.0, 2.0]) * 2.0
    n = torch.tape.current().nrecords
    b = a.detach()
    assert torch.tape.current().nrecords == n
    np.testing.assert_allclose(b.numpy(), [2.0, 4.0])


def test_range_is_a_sequence_index():
    m = torch.arange(6.0).reshape(2, 3)
    t = torch.tensor([1, 0])
    np.testing.assert_allclose(m[range(2), t].numpy(), [1.0, 3.0])
    np.testing.assert_allclose(m[0, range(2)].numpy(), [0.0, 1.0])
    assert m[range(0)].shape == (0, 3)
    w = m.clone().requires_grad_()
    w[range(2), t].sum().backward()
    np.testing.assert_allclose(w.grad.numpy(), [[0, 1, 0], [1, 0, 0]])
    z = m.clone()
    z[range(2), t] = torch.tensor([9.0, 8.0])
    np.testing.assert_allclose(z.numpy(), [[0, 9, 2], [8, 4, 5]])


def test_graph_from_another_thread_raises_never_misroutes():
    x = torch.tensor(3.0, requires_grad=True)
    z = x * x
    box = _in_thread(lambda: (z * 2).backward())
    assert isinstance(box.get("error"), RuntimeError)
    assert "another thread" in str(box["error"])
    assert x.grad is None and z._grad is None
    box = _in_thread(lambda: z.backward())
    assert isinstance(box.get("error"), RuntimeError)
    z.backward()  # the thread that built the graph can still use it
    assert x.grad.item() == 6.0


def test_leaves_and_detached_values_cross_threads():
    x = torch.tensor([1.0, 2.0], requires_grad=True)
    c = (x * 3).detach()

    def work():
        loss = (x * x * c).sum()
        loss.backward()
        return loss.item()

    box = _in_thread(work)
    assert "error" not in box, box
    assert box["value"] == 27.0
    np.testing.assert_allclose(x.grad.numpy(), [6.0, 24.0])


@pytest.mark.parametrize("kind", ["plain", "nonleaf", "leaf_nograd"])
def test_inplace_change_of_a_saved_input_raises(kind):
    w = torch.tensor([1.0, 2.0], requires_grad=True)
    b = {"plain": lambda: torch.tensor([3.0, 4.0]),
         "nonleaf": lambda: w * 2,
         "leaf_nograd": lambda: torch.tensor([3.0, 4.0], requires_grad=True)}[kind]()
    y = (w * b).sum()
    if kind == "leaf_nograd":
        with torch.no_grad():
            b.add_(1)
    else:
        b.add_(1)
    with pytest.raises(RuntimeError, match="modified by an inplace operation"):
        y.backward()
    assert w.grad is None


def test_inplace_change_of_an_unsaved_plain_input_is_fine():
    w = torch.tensor([1.0, 2.0], requires_grad=True)
    b = torch.tensor([3.0, 4.0])
    y = (w + b).sum()  # add saves nothing
    b.add_(1)
    y.backward()
    np.testing.assert_allclose(w.grad.numpy(), [1.0, 1.0])


def test_plain_input_changed_after_backward_graph_is_rebuilt():
    w = torch.tensor([1.0, 2.0], requires_grad=True)
    b = torch.tensor([3.0, 4.0])
    for step in range(3):
        (w * b).sum().backward()
        b.mul_(2)  # changed after its use was backwarded: the next use reloads it
    np.testing.assert_allclose(w.grad.numpy(), [3 + 6 + 12, 4 + 8 + 16])


# ---- a value changed in place, then read again: only earlier readers are stale ----------
def test_no_grad_write_then_read_keeps_the_history():
    x = torch.tensor([1.0, 1.0, 1.0], requires_grad=True)
    y = x * 2
    with torch.no_grad():
        y.mul_(0.5)  # the value changes, the history (MulBackward0) stays
    assert y.grad_fn.name() == "MulBackward0" and y._version == 1
    z = (y * x).sum()  # saves y as it is now: no version error
    z.backward()
    np.testing.assert_allclose(x.grad.numpy(), [3.0, 3.0, 3.0])  # y + x * 2, PyTorch's


def test_write_through_detach_then_read():
    x = _x()
    y = x * x
    d = y.detach()
    d.mul_(2)  # grad mode: d needs no grad, so this writes y's storage
    np.testing.assert_allclose(y.detach().numpy(), [2.0, 8.0, 18.0])
    (d * x).sum().backward()
    np.testing.assert_allclose(x.grad.numpy(), [2.0, 8.0, 18.0])


@pytest.mark.parametrize("call, name, value", [
    ("fill_(0.5)", "FillBackward2", [0.5, 0.5]),
    ("zero_()", "ZeroBackward0", [0.0, 0.0]),
    ("copy_(torch.tensor([7.0, 8.0]))", "CopyBackwards", [7.0, 8.0]),
    ("normal_()", "NormalBackward0", None),
    ("uniform_()", "UniformBackward0", None),
])
def test_overwrite_of_a_value_that_requires_grad(call, name, value):
    x = torch.tensor([1.0, 2.0], requires_grad=True)
    y = x.clone()
    y.retain_grad()
    eval("y." + call, {"y": y, "torch": torch})
    assert y.requires_grad and y.grad_fn.name() == name
    assert y.grad_fn.next_functions[0][0].name() == "CloneBackward0"
    if value is not None:
        np.testing.assert_allclose(y.detach().numpy(), value)
    (y * torch.tensor([3.0, 4.0])).sum().backward()
    np.testing.assert_allclose(x.grad.numpy(), [0.0, 0.0])  # the old value is not used
    np.testing.assert_allclose(y.grad.numpy(), [3.0, 4.0])


def test_copy_from_a_value_that_requires_grad():
    x = torch.tensor([1.0, 2.0], requires_grad=True)
    a = torch.zeros(3, 2)
    a.copy_(x * 3)
    assert a.requires_grad
    a.sum().backward()
    np.testing.assert_allclose(x.grad.numpy(), [9.0, 9.0])


def test_detached_reader_of_a_changed_value_survives_compaction():
    x = _x()
    y = x * 2
    with torch.no_grad():
        y.add_(1)
    z = y * x
    torch.tape.current().compact()
    z.sum().backward()
    np.testing.assert_allclose(x.grad.numpy(), [3.0 + 2, 5.0 + 4, 7.0 + 6])
