"""Saved-tensor hooks (tapegrad/autograd/saved_hooks.py): pack at record time, unpack
before the record's backward, per thread, innermost pair; save_on_cpu and
disable_saved_tensors_hooks; off, the recording path is the plain one."""

import gc
import threading

import numpy as np
import pytest

import tapegrad as torch
from tapegrad.autograd import saved_hooks
from tapegrad.autograd.graph import (disable_saved_tensors_hooks, save_on_cpu,
                                     saved_tensors_hooks)
from tapegrad.recorder import _PLAIN_RECORD
from tapegrad.tape.tape import Tape, current, recording

_PLAIN = {n: Tape.__dict__[n] for n in ("record_wide", "compact")}


@pytest.fixture(autouse=True)
def _fresh_tape():
    """Each test records on a tape of its own (no packed values left by another)."""
    gc.collect()
    with recording() as tape:
        yield tape
    gc.collect()


class Log:
    """Hooks that log what they see; `tag` names the op being recorded."""

    def __init__(self, scale=None):
        self.packed, self.unpacked, self.tag, self.scale = [], [], None, scale or {}

    def pack(self, x):
        self.packed.append((self.tag, x))
        return self.tag, x.detach()

    def unpack(self, p):
        tag, x = p
        self.unpacked.append(tag)
        return x * self.scale[tag] if tag in self.scale else x

    def hooks(self):
        return saved_tensors_hooks(self.pack, self.unpack)


def _v(t):
    return np.asarray(t.detach().numpy(), np.float64)


def test_x_times_y_packs_both_leaves_as_themselves_and_unpacks_before_backward():
    a = torch.tensor([1.0, 2.0, 3.0], requires_grad=True)
    b = torch.tensor([4.0, 5.0, 6.0], requires_grad=True)
    log = Log()
    with log.hooks():
        y = a * b
    assert log.packed[0][1] is a and log.packed[1][1] is b  # the leaves themselves
    assert log.unpacked == []
    y.sum().backward()
    assert log.unpacked == [None, None]
    np.testing.assert_array_equal(_v(a.grad), [4, 5, 6])
    np.testing.assert_array_equal(_v(b.grad), [1, 2, 3])


def test_pow_saves_its_input_and_exp_its_output():
    x = torch.tensor([0.5, -1.0], requires_grad=True)
    log = Log()
    with log.hooks():
        log.tag = "pow"
        p = x.pow(2)
        log.tag = "exp"
        e = p.exp()
        log.tag = "add"
        s = e + p  # add saves nothing
    assert [t for t, _ in log.packed] == ["pow", "exp"]
    assert log.packed[0][1] is x
    out = log.packed[1][1]  # a copy of exp's output, needing no grad
    assert out is not e and not out.requires_grad and out.grad_fn is None
    np.testing.assert_allclose(_v(out), np.exp([0.25, 1.0]), rtol=1e-6)
    s.sum().backward()
    assert sorted(log.unpacked) == ["exp", "pow"]
    want = (np.exp([0.25, 1.0]) + 1) * 2 * np.array([0.5, -1.0])
    np.testing.assert_allclose(_v(x.grad), want, rtol=1e-6)


def test_pack_hooks_run_without_grad_and_never_recurse():
    x = torch.tensor([1.0, 2.0], requires_grad=True)
    seen = []

    def pack(t):
        seen.append(torch.is_grad_enabled())
        with torch.enable_grad():
            inner = x * x  # recorded (grad is on) but packs nothing: a hook is running
        seen.append(inner.requires_grad)
        return t

    with saved_tensors_hooks(pack, lambda t: t):
        y = x.sin()
    assert seen == [False, True]
    y.sum().backward()
    np.testing.assert_allclose(_v(x.grad), np.cos([1.0, 2.0]), rtol=1e-6)


def test_small_mlp_packs_what_its_records_save_and_unpacks_each_once():
    torch.manual_seed(0)
    net = torch.nn.Sequential(torch.nn.Linear(3, 4), torch.nn.ReLU(), torch.nn.Linear(4, 2))
    x = torch.randn(5, 3)
    shapes, n_unpack = [], [0]

    def pack(t):
        shapes.append(tuple(t.shape))
        return t

    def unpack(t):
        n_unpack[0] += 1
        return t

    with saved_tensors_hooks(pack, unpack):
        loss = net(x).pow(2).sum()
    # mm saves input and weight (as stored), relu its output, pow its input
    assert shapes == [(5, 3), (4, 3), (5, 4), (5, 4), (2, 4), (5, 2)]
    loss.backward()
    assert n_unpack[0] == 6
    grads = [_v(p.grad) for p in net.parameters()]
    for p in net.parameters():
        p.grad = None
    net(x).pow(2).sum().backward()  # the same without hooks
    for g, p in zip(grads, net.parameters()):
        np.testing.assert_array_equal(g, _v(p.grad))


def _scaled_chain(lib, a0, b0, log):
    a = lib.tensor(a0, requires_grad=True)
    b = lib.tensor(b0, requires_grad=True)
    with lib.autograd.graph.saved_tensors_hooks(log.pack, log.unpack):
        log.tag = "mul"
        y = a * b
        log.tag = "exp"
        z = y.exp()
        log.tag = "pow"
        w = z.pow(2)
    w.sum().backward()
    return _v(a.grad), _v(b.grad)


A0, B0 = [0.1, 0.2, -0.3], [0.5, -0.4, 0.3]


@pytest.mark.parametrize("tag,factor", [("mul", 3.0), ("exp", 2.0), ("pow", 0.5)])
def test_a_scaled_unpack_changes_exactly_that_records_gradient(tag, factor):
    ga, gb = _scaled_chain(torch, A0, B0, Log({tag: factor}))
    a, b = np.array(A0, np.float32), np.array(B0, np.float32)
    y = a * b
    z = np.exp(y)
    sm, se, sp = (factor if tag == t else 1.0 for t in ("mul", "exp", "pow"))
    gz = 2 * z * sp          # pow(z, 2) reads z (scaled by sp)
    gy = gz * z * se         # exp reads its output (scaled by se)
    np.testing.assert_allclose(ga, gy * b * sm, rtol=1e-5)
    np.testing.assert_allclose(gb, gy * a * sm, rtol=1e-5)


@pytest.mark.torch
@pytest.mark.parametrize("tag,factor", [("mul", 3.0), ("exp", 2.0), ("pow", 0.5)])
def test_a_scaled_unpack_against_pytorch(tag, factor):
    torch_ref = pytest.importorskip("torch")
    mine = _scaled_chain(torch, A0, B0, Log({tag: factor}))
    ref = _scaled_chain(torch_ref, A0, B0, Log({tag: factor}))
    for m, r in zip(mine, ref):
        np.testing.assert_allclose(m, r, rtol=1e-5)


@pytest.mark.torch
def test_mlp_with_a_scaled_unpack_against_pytorch():
    torch_ref = pytest.importorskip("torch")
    torch.manual_seed(1)
    mine = torch.nn.Sequential(torch.nn.Linear(3, 4), torch.nn.Tanh(), torch.nn.Linear(4, 2))
    ref = torch_ref.nn.Sequential(torch_ref.nn.Linear(3, 4), torch_ref.nn.Tanh(),
                                  torch_ref.nn.Linear(4, 2))
    with torch_ref.no_grad():
        for p, q in zip(mine.parameters(), ref.parameters()):
            q.copy_(torch_ref.tensor(_v(p)))
    x = np.random.default_rng(0).standard_normal((5, 3)).astype(np.float32)
    for lib, net in ((torch, mine), (torch_ref, ref)):
        log = Log({"tanh": 1.5, "pow": 2.0})
        with lib.autograd.graph.saved_tensors_hooks(log.pack, log.unpack):
            log.tag = "lin"
            h = net[0](lib.tensor(x))
            log.tag = "tanh"
            h = net[1](h)
            log.tag = "lin"
            h = net[2](h)
            log.tag = "pow"
            loss = h.pow(2).sum()
        loss.backward()
    for p, q in zip(mine.parameters(), ref.parameters()):
        np.testing.assert_allclose(_v(p.grad), q.grad.numpy(), rtol=1e-5, atol=1e-6)


def test_retain_graph_unpacks_again_and_the_last_backward_drops_the_packed():
    a = torch.tensor([1.0, 2.0], requires_grad=True)
    b = torch.tensor([3.0, 4.0], requires_grad=True)
    log = Log()
    with log.hooks():
        y = (a * b).sum()
    y.backward(retain_graph=True)
    assert len(log.unpacked) == 2
    y.backward(retain_graph=True)
    assert len(log.unpacked) == 4
    y.backward()
    assert len(log.unpacked) == 6
    assert not current().packed  # freed with the record
    np.testing.assert_array_equal(_v(a.grad), [9, 12])
    with pytest.raises(RuntimeError, match="backward through the graph a second time"):
        y.backward()


def test_hooks_are_per_thread():
    x = torch.tensor([1.0, 2.0], requires_grad=True)
    mine, theirs = Log(), Log()
    inside, done = threading.Event(), threading.Event()
    out = {}

    def worker():
        inside.wait()
        out["plain"] = x * 2.0 * x  # the main thread's context is open: not for this one
        with theirs.hooks():
            out["hooked"] = x.exp()
        done.set()

    t = threading.Thread(target=worker)
    t.start()
    with mine.hooks():
        inside.set()
        done.wait()
        y = x.sin()
    t.join()
    assert [x is p for _, p in mine.packed] == [True] and len(theirs.packed) == 1
    assert theirs.packed[0][1] is not x  # exp's output, a copy
    y.sum().backward()
    assert len(mine.unpacked) == 1 and theirs.unpacked == []


def test_a_wrong_shape_unpack_raises_and_a_non_tensor_raises_a_type_error():
    a = torch.tensor([1.0, 2.0, 3.0], requires_grad=True)
    with saved_tensors_hooks(lambda t: t, lambda t: torch.zeros(2)):
        y = (a * a).sum()
    with pytest.raises(RuntimeError, match=r"MulBackward0.*shape \[2\].*shape \[3\]"):
        y.backward()
    with saved_tensors_hooks(lambda t: t, lambda t: 3):
        y = a.sin().sum()
    with pytest.raises(TypeError, match="Output of saved tensor unpack_hook expected to be a "
                                        "Tensor but got result of type int"):
        y.backward()
    assert a.grad is None


def test_an_unpack_of_another_dtype_is_cast():
    a = torch.tensor([1.0, 2.0], requires_grad=True)
    b = torch.tensor([3.0, 4.0], requires_grad=True)
    with saved_tensors_hooks(lambda t: t, lambda t: t.double()):
        y = (a * b).sum()
    y.backward()
    assert a.grad.dtype is torch.float32
    np.testing.assert_array_equal(_v(a.grad), [3, 4])


def test_after_the_context_new_ops_call_nothing_and_hooked_records_still_unpack():
    a = torch.tensor([1.0, 2.0], requires_grad=True)
    log = Log()
    with log.hooks():
        log.tag = "in"
        y = a.cos()
        assert Tape.record is not _PLAIN_RECORD  # the wrappers are on
    assert Tape.record is _PLAIN_RECORD and Tape.__dict__["record_wide"] is _PLAIN[
        "record_wide"]
    log.tag = "out"
    z = (y * a).exp()
    assert [t for t, _ in log.packed] == ["in"]
    z.sum().backward()
    assert log.unpacked == ["in"]
    assert not current().packed and current() not in saved_hooks.TAPES
    current().compact()  # the compaction wrapper goes once nothing is packed
    assert Tape.__dict__["compact"] is _PLAIN["compact"]


def test_an_error_in_unpack_propagates_and_leaves_every_grad_as_it_was():
    a = torch.tensor([1.0, 2.0], requires_grad=True)
    b = torch.tensor([3.0, 4.0], requires_grad=True)
    (a * b).sum().backward()
    before = _v(a.grad), _v(b.grad)

    def unpack(t):
        raise ValueError("no unpacking today")

    with saved_tensors_hooks(lambda t: t.detach(), unpack):
        y = a.exp() * b  # exp: unhooked values below the failing record too
    with pytest.raises(ValueError, match="no unpacking today"):
        y.sum().backward()
    np.testing.assert_array_equal(_v(a.grad), before[0])
    np.testing.assert_array_equal(_v(b.grad), before[1])
    np.testing.assert_array_equal(_v(y.detach()), np.exp([1.0, 2.0]).astype(np.float32)
                                  * [3, 4])  # the arena holds the original values again


def test_create_graph_unpacks_with_grad_on_and_differentiates_again():
    x = torch.tensor([1.0, 2.0], requires_grad=True)
    seen = []

    def unpack(t):
        seen.append(torch.is_grad_enabled())
        return t

    with saved_tensors_hooks(lambda t: t, unpack):
        y = x.pow(3).sum()
    (g,) = torch.autograd.grad(y, x, create_graph=True)
    assert seen == [True]
    np.testing.assert_allclose(_v(g), [3, 12])
    (h,) = torch.autograd.grad(g.sum(), x)
    np.testing.assert_allclose(_v(h), [6, 12])


def _scaled_create_graph(lib):
    x = lib.tensor([1.0, 2.0], requires_grad=True)
    with lib.autograd.graph.saved_tensors_hooks(lambda t: t.detach(), lambda t: t * 2):
        y = x.pow(3).sum()
    (g,) = lib.autograd.grad(y, x, create_graph=True)
    return _v(g)


def test_create_graph_reads_the_unpacked_value():
    np.testing.assert_allclose(_scaled_create_graph(torch), [12, 48])  # 3 (2x)^2


@pytest.mark.torch
def test_create_graph_with_a_scaled_unpack_against_pytorch():
    torch_ref = pytest.importorskip("torch")
    np.testing.assert_allclose(_scaled_create_graph(torch), _scaled_create_graph(torch_ref))


def test_innermost_hooks_win():
    a = torch.tensor([1.0, 2.0], requires_grad=True)
    outer, inner = Log(), Log()
    with outer.hooks():
        with inner.hooks():
            y = a.sin()
        z = a.cos()
    assert len(inner.packed) == 1 and len(outer.packed) == 1
    (y + z).sum().backward()
    assert len(inner.unpacked) == 1 and len(outer.unpacked) == 1


def test_where_and_index_pack_a_bool_condition_and_int64_positions():
    a = torch.tensor([1.0, -2.0, 3.0], requires_grad=True)
    b = torch.tensor([4.0, 5.0, 6.0], requires_grad=True)
    log = Log()
    with log.hooks():
        m = torch.where(a > 0, a, b)
        g = a[torch.tensor([2, 0])]
    dts = [x.dtype for _, x in log.packed]
    assert dts == [torch.bool, torch.int64]
    np.testing.assert_array_equal(_v(log.packed[0][1]), [True, False, True])
    np.testing.assert_array_equal(_v(log.packed[1][1]), [2, 0])
    (m.sum() + g.sum()).backward()
    assert len(log.unpacked) == 2
    np.testing.assert_array_equal(_v(a.grad), [2, 0, 2])
    np.testing.assert_array_equal(_v(b.grad), [0, 1, 0])


def test_a_pack_hook_changing_its_input_in_place_raises():
    a = torch.tensor([1.0, 2.0], requires_grad=True)

    def pack(t):
        t.add_(1)
        return t

    with pytest.raises(RuntimeError, match="A saved tensor pack hook is modifying its input"):
        with saved_tensors_hooks(pack, lambda t: t):
            a.sin()


def test_disable_saved_tensors_hooks():
    msg = "saved tensors default hooks are disabled"
    with disable_saved_tensors_hooks(msg):
        with pytest.raises(RuntimeError, match=msg):
            with save_on_cpu():
                pass
        with disable_saved_tensors_hooks("inner"):
            with pytest.raises(RuntimeError, match="inner"):
                saved_tensors_hooks(lambda t: t, lambda t: t).__enter__()
        with pytest.raises(RuntimeError, match=msg):  # the outer message is back
            saved_tensors_hooks(lambda t: t, lambda t: t).__enter__()
    with saved_tensors_hooks(lambda t: t, lambda t: t):  # enabled again
        with pytest.raises(RuntimeError, match="not while hooks are set"):
            with disable_saved_tensors_hooks("not while hooks are set"):
                pass
    errors = []

    def other_thread():  # the disabled state is this thread's
        with saved_tensors_hooks(lambda t: t, lambda t: t):
            errors.append(None)

    with disable_saved_tensors_hooks(msg):
        t = threading.Thread(target=other_thread)
        t.start()
        t.join()
    assert errors == [None]


def test_save_on_cpu_gives_the_gradients_without_it():
    a = torch.tensor([0.5, 1.5], requires_grad=True)
    b = torch.tensor([2.0, -1.0], requires_grad=True)
    with save_on_cpu(pin_memory=False):
        y = (a * b).exp().sum()
    assert len(current().packed) == 2
    y.backward()
    e = np.exp(np.array([0.5, 1.5], np.float32) * [2.0, -1.0])
    np.testing.assert_allclose(_v(a.grad), e * [2.0, -1.0], rtol=1e-6)
    np.testing.assert_allclose(_v(b.grad), e * [0.5, 1.5], rtol=1e-6)


def test_compaction_drops_the_entries_of_compacted_records():
    with recording() as tape:
        a = torch.tensor([1.0, 2.0], requires_grad=True)
        with saved_tensors_hooks(lambda t: t, lambda t: t):
            keep = a.sin()
            gone = a.cos()
        assert len(tape.packed) == 2
        del gone
        tape.compact()
        assert len(tape.packed) == 1
        keep.sum().backward()
        assert not tape.packed
    np.testing.assert_allclose(_v(a.grad), np.cos([1.0, 2.0]), rtol=1e-6)


def test_with_anomaly_mode_and_tensor_hooks():
    x = torch.tensor([0.0, 1.0], requires_grad=True)
    log = Log()
    with log.hooks():
        y = x.sqrt()
    y.register_hook(lambda g: g * 2)
    with pytest.warns(UserWarning):
        with torch.autograd.detect_anomaly():
            with pytest.raises(RuntimeError, match="SqrtBackward0' returned nan"):
                (y * 0).sum().backward()
    assert log.unpacked == [None]
    y.sum().backward()  # the raising sweep freed nothing
    assert log.unpacked == [None, None]
    np.testing.assert_allclose(_v(x.grad)[1:], [1.0])  # 2 * 1 / (2 sqrt 1)


def test_switching_anomaly_mode_across_the_context_keeps_both_working():
    a = torch.tensor([0.5, 1.0], requires_grad=True)
    log = Log()
    ctx = log.hooks()
    ctx.__enter__()
    torch.autograd.set_detect_anomaly(True)  # its wrappers go on top of ours
    try:
        y = a.sin()
        ctx.__exit__(None, None, None)  # ours stays under anomaly mode's, idle
        z = a.cos()
    finally:
        torch.autograd.set_detect_anomaly(False)
    assert len(log.packed) == 1
    (y + z).sum().backward()
    assert len(log.unpacked) == 1
    np.testing.assert_allclose(_v(a.grad), np.cos([0.5, 1.0]) - np.sin([0.5, 1.0]),
                               rtol=1e-6)
    with log.hooks():  # ours is found in the chain and used again
        a.exp()
    assert len(log.packed) == 2
    assert Tape.record is _PLAIN_RECORD and Tape.__dict__["record_wide"] is _PLAIN[
        "record_wide"]
