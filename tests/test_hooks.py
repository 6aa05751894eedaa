"""Tensor hooks: register_hook on leaves and non-leaves, post-accumulate-grad hooks.
They run in the paused sweep (non-leaves) or at delivery (leaves): fixed numbers always,
the same programs against PyTorch in the tests marked `torch`."""

import gc

import numpy as np
import pytest

import tapegrad as torch
from tapegrad.tape import Tape
from tapegrad.tape import tape as tapes
from tests.test_tape import _python_calls


def _program(T):
    """Hooks of every kind on one graph; what they saw and the gradients."""
    log = []
    x = T.tensor([1.0, 2.0], requires_grad=True)
    w = T.tensor([0.5, -1.0], requires_grad=True)
    h = x * 3
    z = h * h + h * w          # h used three times: its hook sees the sum
    h.register_hook(lambda g: log.append(("h", g.tolist())) or g * 10)
    h.retain_grad()
    x.register_hook(lambda g: log.append(("x", g.tolist())) or g + 1)
    w.register_hook(lambda g: log.append(("w", g.tolist())))
    w.register_post_accumulate_grad_hook(lambda t: log.append(("post w", t.grad.tolist())))
    z.register_hook(lambda g: log.append(("z", g.tolist())) or g * 2)
    z.sum().backward()
    (gx,) = T.autograd.grad((x * x).sum(), x)  # the leaf hook applies to grad() too
    return log, h.grad.tolist(), x.grad.tolist(), w.grad.tolist(), gx.tolist()


def test_hooks_see_complete_gradients_and_replacements_flow_on():
    log, hgrad, xgrad, wgrad, gx = _program(torch)
    # z's hook doubles the seed; h's gradient is 2 * (2h + w) = [13, 22], summed over uses
    assert log[0] == ("z", [1.0, 1.0])
    assert log[1] == ("h", [13.0, 22.0])
    assert hgrad == [130.0, 220.0]            # retain_grad sees the replacement
    assert sorted(log[2:5]) == [("post w", [6.0, 12.0]), ("w", [6.0, 12.0]),
                                ("x", [390.0, 660.0])]
    assert xgrad == [391.0, 661.0]            # 3 * [130, 220], plus the hook's 1
    assert wgrad == [6.0, 12.0]               # 2 * h
    assert log[5] == ("x", [2.0, 4.0]) and gx == [3.0, 5.0]


def test_a_hook_on_the_root_and_handles_remove_hooks():
    x = torch.tensor([1.0, 2.0], requires_grad=True)
    h = x * 3
    handle = h.register_hook(lambda g: g * 2)
    h.backward(torch.ones(2), retain_graph=True)
    assert x.grad.tolist() == [6.0, 6.0]
    handle.remove()
    handle.remove()  # a second remove does nothing
    x.grad = None
    h.backward(torch.ones(2))
    assert x.grad.tolist() == [3.0, 3.0]
    with x.register_hook(lambda g: g * 0) as _:
        (x * 1).sum().backward()
    assert x.grad.tolist() == [3.0, 3.0]
    (x * 1).sum().backward()
    assert x.grad.tolist() == [4.0, 4.0]
    from tapegrad.autograd import hooks

    assert id(x) not in hooks.LEAF  # all removed: backward delivers without the hook path


def test_several_hooks_chain_in_order():
    x = torch.tensor([1.0], requires_grad=True)
    h = x * 1
    seen = []
    h.register_hook(lambda g: seen.append(g.item()) or g + 1)
    h.register_hook(lambda g: seen.append(g.item()) or g * 10)
    h.register_hook(lambda g: seen.append(g.item()))
    (h * 2).backward()
    assert seen == [2.0, 3.0, 30.0] and x.grad.item() == 30.0


def test_a_leaf_used_twice_is_hooked_once_with_the_sum():
    y = torch.tensor([1.0, 2.0], requires_grad=True)
    seen = []
    y.register_hook(lambda g: seen.append(g.tolist()))
    (y * 2 + y * 3).sum().backward()
    assert seen == [[5.0, 5.0]]
    z = torch.tensor([1.0], dtype=torch.float64, requires_grad=True)
    z.register_hook(lambda g: seen.append(g.tolist()) or g * 0.5)
    (z.float() * 2 + z * 3).sum().backward()  # two slots: float32 and float64 uses
    assert seen[-1] == [5.0] and z.grad.item() == 2.5


def test_hooks_run_with_grad_mode_off_and_may_change_the_gradient_in_place():
    seen = []

    def hook(g):
        seen.append((torch.is_grad_enabled(), g.requires_grad))
        g.mul_(100)  # returns nothing: the change in place is the new gradient (PyTorch too)

    x = torch.tensor([1.0, 2.0], requires_grad=True)
    x.register_hook(hook)
    (x * 1).sum().backward()
    h = x * 1
    h.register_hook(hook)
    h.sum().backward()
    assert seen == [(False, False)] * 3 and x.grad.tolist() == [10100.0, 10100.0]


def test_a_hook_outlives_its_tensor_while_the_graph_does():
    seen = []

    def layer(x):
        h = x * 2
        h.register_hook(lambda g: seen.append(g.tolist()) or g * 0.5)
        return h * 3  # h itself dies here

    x = torch.tensor([1.0, 2.0], requires_grad=True)
    out = layer(x)
    gc.collect()
    torch.tape.current().compact()  # renumbers slots: the hook is keyed by record seq
    out.sum().backward()
    assert seen == [[3.0, 3.0]] and x.grad.tolist() == [3.0, 3.0]


def test_a_hook_on_a_custom_function_output_and_in_a_tiny_tape():
    class Scale(torch.autograd.Function):
        @staticmethod
        def forward(ctx, x):
            return x * 2, x * 3

        @staticmethod
        def backward(ctx, g1, g2):
            return g1 * 2 + g2 * 3

    with tapes.recording(Tape(records=16, elements=64, aux=64)) as tape:
        x = torch.tensor([1.0], requires_grad=True)
        total = x * 0
        for k in range(8):
            a, b = Scale.apply(x)
            a.register_hook(lambda g: g * 10)
            total = total + a + b
        assert tape.epoch > 0
        total.backward()
    assert x.grad.item() == 8 * (10 * 2 + 3)


def test_bad_hooks_raise_pytorch_errors_and_leave_grad_as_it_was():
    with pytest.raises(RuntimeError, match="cannot register a hook on a tensor that doesn't "
                                           "require gradient"):
        torch.ones(2).register_hook(lambda g: g)
    with pytest.raises(RuntimeError, match="cannot register a hook on a tensor that doesn't "
                                           "require gradient"):
        torch.ones(2).register_post_accumulate_grad_hook(lambda t: None)
    x = torch.tensor([1.0, 2.0], requires_grad=True)
    with pytest.raises(RuntimeError, match="post accumulate grad hooks cannot be registered on "
                                           "non-leaf tensors"):
        (x * 2).register_post_accumulate_grad_hook(lambda t: None)

    def resize(g):
        return torch.ones(3)

    for fn, exc, message in ((resize, RuntimeError, "hook 'resize' has changed the size of value"),
                             (lambda g: g.double(), RuntimeError,
                              r"hook '<lambda>' has changed the type of value \(was "
                              r"torch.FloatTensor got torch.DoubleTensor\)"),
                             (lambda g: 5, TypeError, "expected Variable, but hook returned "
                                                      "'int'")):
        for leaf in (True, False):
            y = torch.tensor([1.0, 2.0], requires_grad=True)
            w = torch.tensor([3.0], requires_grad=True)
            w.grad = torch.tensor([7.0])
            t = y if leaf else y * 1
            handle = t.register_hook(fn)
            with pytest.raises(exc, match=message):
                (t * w).sum().backward()
            assert y.grad is None and w.grad.tolist() == [7.0]
            handle.remove()


def test_post_accumulate_grad_hook_sees_the_new_grad():
    w = torch.tensor([1.0, 2.0], requires_grad=True)
    seen = []
    w.register_post_accumulate_grad_hook(lambda t: seen.append(t.grad.tolist()))
    (w * 3).sum().backward()
    (w * 3).sum().backward()
    (w * 2).sum().backward(inputs=[w])
    assert seen == [[3.0, 3.0], [6.0, 6.0], [8.0, 8.0]]
    torch.autograd.grad((w * 2).sum(), w)  # grad() accumulates nothing: no call
    assert len(seen) == 3


def test_hooks_cost_python_calls_per_hook_not_per_record():
    def chain(n):
        x = torch.tensor([0.5], dtype=torch.float64, requires_grad=True)
        y = x
        for i in range(n):
            y = y * 1.0001
            if i == n // 2:
                y.register_hook(lambda g: g * 3)
        return x, y

    chain(100)[1].backward()  # warm
    x1, y1 = chain(10_000)
    x2, y2 = chain(20_000)
    chain(10)[1].backward()
    n1, n2 = _python_calls(y1.backward), _python_calls(y2.backward)
    assert n1 == n2 < 150, (n1, n2)
    assert x1.grad.item() == pytest.approx(3 * 1.0001 ** 10_000, rel=1e-9)


def test_grad_of_a_hooked_non_leaf_is_the_replacement():
    x = torch.tensor([1.0, 2.0], requires_grad=True)
    h = x * 3
    h.register_hook(lambda g: g * 7)
    (gh, gx) = torch.autograd.grad((h * 2).sum(), (h, x), retain_graph=True)
    assert gh.tolist() == [14.0, 14.0] and gx.tolist() == [42.0, 42.0]
    np.testing.assert_array_equal(torch.autograd.grad((h * h).sum(), h)[0].numpy(),
                                  [42.0, 84.0])


@pytest.mark.torch
def test_hooks_match_pytorch():
    torch_ref = pytest.importorskip("torch")
    ours, theirs = _program(torch), _program(torch_ref)
    assert ours[1:] == theirs[1:]

    def split(log):  # tapegrad runs leaf hooks at delivery, PyTorch when each is ready
        nonleaf = [e for e in log if e[0] in ("z", "h")]
        return nonleaf, sorted(e for e in log if e[0] not in ("z", "h"))

    assert split(ours[0]) == split(theirs[0])


@pytest.mark.torch
def test_hook_errors_match_pytorch():
    torch_ref = pytest.importorskip("torch")

    def run(T):
        out = []
        for fn in (lambda g: T.ones(3), lambda g: g.double(), lambda g: 5):
            y = T.tensor([1.0, 2.0], requires_grad=True)
            y.register_hook(fn)
            try:
                (y * 2).sum().backward()
            except (RuntimeError, TypeError) as e:
                out.append((type(e).__name__, str(e)))
        for make in (lambda: T.ones(2).register_hook(lambda g: g),
                     lambda: (T.ones(2, requires_grad=True) * 2)
                     .register_post_accumulate_grad_hook(lambda t: None)):
            try:
                make()
            except RuntimeError as e:
                out.append(str(e))
        return out

    assert run(torch) == run(torch_ref)
