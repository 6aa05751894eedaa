"""Tensor.share_memory_ / is_shared and nn.Module.share_memory: a shared storage is an
anonymous shared mapping, so a forked child's in-place writes (add_, an optimizer step)
reach the parent, Hogwild style."""

import multiprocessing as mp

import numpy as np
import pytest

import tapegrad as torch
from tapegrad import nn


def _fork():
    try:
        return mp.get_context("fork")
    except ValueError:
        pytest.skip("the fork start method is not available here")


def _in_child(fn):
    """Run fn() in a forked child; its exit code (0: fn returned)."""
    ctx = _fork()

    def target():
        try:
            fn()
        except BaseException:
            import os
            import traceback

            traceback.print_exc()
            os._exit(3)

    p = ctx.Process(target=target)
    p.start()
    p.join(120)
    assert p.exitcode is not None, "the child did not finish"
    return p.exitcode


def test_share_memory_moves_the_storage_and_keeps_the_tensor():
    x = torch.tensor([[1.0, 2.0], [3.0, 4.0]])
    assert not x.is_shared()
    assert x.share_memory_() is x
    assert x.is_shared()
    assert x.tolist() == [[1.0, 2.0], [3.0, 4.0]]
    assert x.dtype is torch.float32 and x.shape == (2, 2)
    assert x.share_memory_() is x and x.is_shared()  # twice: a no-op
    assert x[0].is_shared()  # a view made since shares the mapping
    x[0, 1] = 7.0
    assert x.tolist() == [[1.0, 7.0], [3.0, 4.0]]


def test_other_dtypes_and_empty_tensors():
    for t in (torch.arange(5), torch.zeros(0), torch.tensor([True, False]),
              torch.tensor(3.0, dtype=torch.float64)):
        v = t.tolist()
        t.share_memory_()
        assert t.is_shared() and t.tolist() == v


def test_gradients_flow_through_a_shared_leaf():
    w = torch.tensor([1.0, -2.0, 3.0], requires_grad=True)
    y_before = (w * w).sum()  # recorded before the move: its backward still works
    version = w._version
    w.share_memory_()
    assert w._version == version  # same values: no in-place change counted
    y_before.backward()
    assert w.grad.tolist() == [2.0, -4.0, 6.0]
    w.grad = None
    (w * 3.0).sum().backward()
    assert w.grad.tolist() == [3.0, 3.0, 3.0]
    assert w.requires_grad and w.is_leaf and w.is_shared()


def test_a_non_leaf_cannot_move():
    w = torch.ones(3, requires_grad=True)
    y = w * 2
    with pytest.raises(RuntimeError, match="share_memory_.*recorded operations"):
        y.share_memory_()
    assert not y.is_shared()
    d = y.detach()  # a value without history: it gets its own shared storage
    assert d.share_memory_() is d and d.is_shared() and d.tolist() == [2.0, 2.0, 2.0]


def test_shared_tensors_are_re_read_each_use():
    # another process writes behind tapegrad's back: no cached copy on the tape is reused
    w = torch.tensor([1.0, 2.0], requires_grad=True).share_memory_()
    assert (w * 2).sum().item() == 6.0
    w.detach().numpy()[:] = 10.0  # as another process would: no tapegrad op
    assert (w * 2).sum().item() == 40.0


def test_growing_a_shared_storage_refuses():
    x = torch.zeros(3).share_memory_()
    with pytest.raises(RuntimeError, match="not resizable"):
        x.resize_(10)


def test_module_share_memory_shares_parameters_grads_and_buffers():
    model = nn.Sequential(nn.Linear(3, 2), nn.BatchNorm1d(2))
    model(torch.randn(4, 3)).sum().backward()
    params = list(model.parameters())
    assert model.share_memory() is model
    assert [p is q for p, q in zip(params, model.parameters())] == [True] * len(params)
    assert all(p.is_shared() for p in model.parameters())
    assert all(p.grad.is_shared() for p in model.parameters())
    assert all(b.is_shared() for b in model.buffers())


def test_forked_child_add_is_seen_by_the_parent():
    p = torch.tensor([1.0, 2.0, 3.0], requires_grad=True)
    p.share_memory_()
    before = (p * 1.0).sum().item()  # the parent read p onto its tape before the fork

    def child():
        with torch.no_grad():
            p.add_(1)

    assert _in_child(child) == 0
    assert p.tolist() == [2.0, 3.0, 4.0]
    assert before == 6.0 and (p * 1.0).sum().item() == 9.0  # not a stale copy


def test_unshared_tensor_is_not_changed_by_a_child():
    p = torch.tensor([1.0, 2.0])

    def child():
        p.add_(1)

    assert _in_child(child) == 0
    assert p.tolist() == [1.0, 2.0]


def _grads(model):
    model.zero_grad()
    x = torch.tensor([[1.0, 2.0], [0.5, -1.0]])
    (model(x) ** 2).sum().backward()
    return [p.grad.detach().clone() for p in model.parameters()]


@pytest.mark.parametrize("make", [
    lambda ps: torch.optim.SGD(ps, lr=0.1),
    lambda ps: torch.optim.SGD(ps, lr=0.1, momentum=0.9),
    lambda ps: torch.optim.Adam(ps, lr=0.1),
])
def test_hogwild_optimizer_step_in_a_child(make):
    torch.manual_seed(0)
    model = nn.Linear(2, 1)
    model.share_memory()
    start = [p.detach().clone() for p in model.parameters()]
    # the step the child takes, computed here on a copy
    ref = nn.Linear(2, 1)
    ref.load_state_dict(model.state_dict())
    opt_ref = make(list(ref.parameters()))
    _grads(ref)
    opt_ref.step()
    expected = [p.detach().clone() for p in ref.parameters()]

    def child():
        opt = make(list(model.parameters()))  # made in the child, as Hogwild does
        _grads(model)
        opt.step()
        assert all(p.is_shared() for p in model.parameters())

    assert _in_child(child) == 0
    for p, e, s in zip(model.parameters(), expected, start):
        assert p.is_shared()
        assert not np.allclose(p.detach().numpy(), s.numpy())
        np.testing.assert_allclose(p.detach().numpy(), e.numpy(), rtol=1e-6, atol=1e-7)


def test_optimizer_made_before_sharing_keeps_the_parameters_shared():
    # the optimizer's flat layout made the parameters views of its buffer; sharing moves
    # them out and the optimizer mirrors them (copies in and out around its kernel)
    torch.manual_seed(1)
    model = nn.Linear(2, 1)
    opt = torch.optim.SGD(model.parameters(), lr=0.5)
    _grads(model)
    opt.step()
    model.share_memory()
    assert all(p.is_shared() for p in model.parameters())
    w0 = model.weight.detach().clone()
    g = _grads(model)[0]
    opt.step()  # in the parent: still shared, and right
    assert model.weight.is_shared()
    np.testing.assert_allclose(model.weight.detach().numpy(), (w0 - 0.5 * g).numpy(),
                               rtol=1e-6)
    w1 = model.weight.detach().clone()
    g1 = _grads(model)[0]

    def child():
        _grads(model)
        opt.step()  # the parent's optimizer, inherited by the fork

    assert _in_child(child) == 0
    assert model.weight.is_shared()
    np.testing.assert_allclose(model.weight.detach().numpy(), (w1 - 0.5 * g1).numpy(),
                               rtol=1e-6)


@pytest.mark.torch
def test_share_memory_matches_pytorch():
    torch_ref = pytest.importorskip("torch")
    for lib in (torch, torch_ref):
        w = lib.tensor([1.0, 2.0], requires_grad=True)
        y = (w * w).sum()
        v = w._version
        assert not w.is_shared()
        assert w.share_memory_() is w and w.is_shared() and w._version == v
        y.backward()
        assert w.grad.tolist() == [2.0, 4.0]
        a = lib.zeros(2, 3).share_memory_()
        assert a[0].is_shared()
        m = lib.nn.Linear(2, 2)
        assert m.share_memory() is m and m.weight.is_shared() and m.bias.is_shared()
