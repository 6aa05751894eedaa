"""Anomaly mode (tapegrad/autograd/anomaly.py): NaN in backward raises naming the op,
with a warning giving the forward traceback; off, nothing changes."""

import inspect
import os
import threading
import warnings

import numpy as np
import pytest

import tapegrad as torch
from tapegrad.autograd import anomaly
from tapegrad.tape.tape import Tape, current

ENABLED = ("Anomaly Detection has been enabled. This mode will increase the runtime and "
           "should only be enabled for debugging.")
SQRT_NAN = "Function 'SqrtBackward0' returned nan values in its 0th output."
NO_INFO = ("Error detected in SqrtBackward0. No forward pass information available. Enable "
           "detect anomaly during forward pass for more information.")


@pytest.fixture(autouse=True)
def _off_after():
    yield
    torch.autograd.set_detect_anomaly(False)


def _line():
    """The caller's line number."""
    return inspect.currentframe().f_back.f_lineno


def _run(fn):
    """fn() under detect_anomaly(); (the exception or None, the warnings' texts)."""
    with warnings.catch_warnings(record=True) as w:
        warnings.simplefilter("always")
        with torch.autograd.detect_anomaly():
            try:
                fn()
                err = None
            except RuntimeError as e:
                err = e
    return err, [str(m.message) for m in w if str(m.message) != ENABLED], w


def test_sqrt_nan_raises_and_warns_with_the_users_line():
    x = torch.tensor([0.0, 1.0], requires_grad=True)
    with warnings.catch_warnings(record=True) as w:
        warnings.simplefilter("always")
        with torch.autograd.detect_anomaly():
            y = x.sqrt(); line = _line()  # noqa: E702
            z = y * 0
            with pytest.raises(RuntimeError) as e:
                back = _line() + 1
                z.sum().backward()
    assert str(e.value) == SQRT_NAN
    msgs = [m for m in w if str(m.message) != ENABLED]
    assert len(msgs) == 1 and msgs[0].category is UserWarning
    text = str(msgs[0].message)
    assert text.startswith("Error detected in SqrtBackward0. Traceback of forward call that "
                           "caused the error:\n")
    assert f'File "{__file__}", line {line}, in test_sqrt_nan_raises' in text
    assert "y = x.sqrt(); line = _line()" in text
    assert os.path.dirname(torch.__file__) not in text  # no library frames
    assert msgs[0].filename == __file__ and msgs[0].lineno == back  # at the backward() call
    assert x.grad is None


def test_detect_anomaly_warns_once_it_slows_things_down():
    with pytest.warns(UserWarning, match="^Anomaly Detection has been enabled") as w:
        torch.autograd.detect_anomaly()
    assert [str(m.message) for m in w] == [ENABLED]
    assert w[0].filename == __file__
    assert not torch.autograd.is_anomaly_enabled()  # constructing it does not switch it on


def test_mul_zero_times_inf_names_the_input():
    a = torch.tensor([0.0], requires_grad=True)
    b = torch.tensor([float("inf")], requires_grad=True)
    err, msgs, _ = _run(lambda: ((a * b) * 0).sum().backward())
    assert str(err) == "Function 'MulBackward0' returned nan values in its 0th output."
    assert len(msgs) == 1 and msgs[0].startswith("Error detected in MulBackward0.")
    err, _, _ = _run(lambda: ((b * a) * 0).sum().backward())
    assert str(err) == "Function 'MulBackward0' returned nan values in its 1th output."
    # the scalar operand counts as an input: the nan goes to input 0 of the outer mul
    err, _, _ = _run(lambda: ((a * 2.0) * float("nan")).sum().backward())
    assert str(err) == "Function 'MulBackward0' returned nan values in its 0th output."
    assert a.grad is None and b.grad is None


class _NanBack(torch.autograd.Function):
    @staticmethod
    def forward(ctx, k, u, v):
        return u * k + v

    @staticmethod
    def backward(ctx, g):
        return None, g * 2, g * float("nan")


class _Raises(torch.autograd.Function):
    @staticmethod
    def forward(ctx, u):
        return u.clone()

    @staticmethod
    def backward(ctx, g):
        raise ValueError("Some error in backward")


def test_custom_function_returning_nan():
    u = torch.tensor([1.0, 2.0], requires_grad=True)
    v = torch.tensor([3.0, 4.0], requires_grad=True)

    def step():
        y = _NanBack.apply(2, u, v)
        y.sum().backward()

    err, msgs, _ = _run(step)
    # positions count tensor arguments only (the int 2 is not one)
    assert str(err) == "Function '_NanBackBackward' returned nan values in its 1th output."
    assert msgs[0].startswith("Error detected in _NanBackBackward. Traceback of forward call")
    assert "y = _NanBack.apply(2, u, v)" in msgs[0]
    assert u.grad is None and v.grad is None


def test_error_in_custom_backward_warns_then_propagates():
    u = torch.tensor([1.0, 2.0], requires_grad=True)
    with warnings.catch_warnings(record=True) as w:
        warnings.simplefilter("always")
        with torch.autograd.detect_anomaly():
            y = _Raises.apply(u).sum()
            with pytest.raises(ValueError, match="Some error in backward"):
                y.backward()
    texts = [str(m.message) for m in w if str(m.message) != ENABLED]
    assert len(texts) == 1 and texts[0].startswith("Error detected in _RaisesBackward.")
    assert "y = _Raises.apply(u).sum()" in texts[0]


def test_grad_untouched_when_it_raises():
    x = torch.tensor([0.0, 4.0], requires_grad=True)
    w = torch.tensor([1.0, 1.0], requires_grad=True)
    x.grad = torch.tensor([5.0, 6.0])
    w.grad = torch.tensor([7.0, 8.0])
    err, _, _ = _run(lambda: ((x.sqrt() * w) * 0).sum().backward())
    assert str(err) == SQRT_NAN  # w's gradient (finite) was computed before the nan
    np.testing.assert_array_equal(x.grad.numpy(), [5.0, 6.0])
    np.testing.assert_array_equal(w.grad.numpy(), [7.0, 8.0])


def _linear_step(seed):
    torch.manual_seed(seed)
    model = torch.nn.Linear(3, 2)
    opt = torch.optim.SGD(model.parameters(), lr=0.1)
    x = torch.randn(4, 3)
    target = torch.randn(4, 2)
    for _ in range(3):
        opt.zero_grad()
        loss = torch.nn.functional.mse_loss(model(x), target)
        loss.backward()
        opt.step()
    return loss.item(), [p.detach().numpy().copy() for p in model.parameters()]


@pytest.mark.filterwarnings("ignore:Anomaly Detection has been enabled")
def test_no_false_alarm_on_a_training_step():
    ref_loss, ref_params = _linear_step(0)
    err, msgs, _ = _run(lambda: _linear_step(0))
    assert err is None and msgs == []
    with torch.autograd.detect_anomaly():
        loss, params = _linear_step(0)
    assert loss == ref_loss
    for p, q in zip(params, ref_params):
        np.testing.assert_array_equal(p, q)


@pytest.mark.filterwarnings("ignore:Anomaly Detection has been enabled")
def test_same_gradients_on_and_off_with_hooks_casts_and_grad():
    def grads():
        x = torch.tensor([0.5, 1.5, 2.5], requires_grad=True)
        w32 = torch.tensor([1.0, -2.0, 3.0], dtype=torch.float32, requires_grad=True)
        h = x.exp() * w32  # an implicit cast: both arenas
        h.register_hook(lambda g: g * 3)
        y = (h.tanh() ** 2).sum() + x.max()
        (gx,) = torch.autograd.grad(y, [x], retain_graph=True)
        y.backward()
        return gx.numpy(), x.grad.numpy(), w32.grad.numpy()

    off = grads()
    with torch.autograd.detect_anomaly():
        on = grads()
    for a, b in zip(on, off):
        np.testing.assert_array_equal(a, b)


def test_nan_through_an_implicit_cast_names_the_op():
    x = torch.tensor([0.0], dtype=torch.float32, requires_grad=True)
    w = torch.tensor([float("inf")], dtype=torch.float64, requires_grad=True)
    err, msgs, _ = _run(lambda: ((x * w) * 0).sum().backward())
    assert str(err) == "Function 'MulBackward0' returned nan values in its 0th output."
    assert msgs[0].startswith("Error detected in MulBackward0.")


def test_off_leaves_behaviour_unchanged():
    assert not torch.autograd.is_anomaly_enabled() and not torch.is_anomaly_enabled()
    assert Tape.record is Tape.__dict__["record"] and not hasattr(Tape.record, "__wrapped__")
    before = dict(anomaly._STACKS.get(current(), {}))  # stacks of graphs made in the mode
    x = torch.tensor([0.0, 1.0], requires_grad=True)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        (x.sqrt() * 0).sum().backward()
    assert np.isnan(x.grad.numpy()[0]) and x.grad.numpy()[1] == 0.0
    assert anomaly._STACKS.get(current(), {}) == before  # nothing remembered


def test_switching_on_and_off_installs_and_removes_the_wrappers():
    plain = {n: Tape.__dict__[n] for n in anomaly._RECORDERS}
    torch.autograd.set_detect_anomaly(True)
    assert all(Tape.__dict__[n].__wrapped__ is plain[n] for n in plain)
    torch.autograd.set_detect_anomaly(False)
    assert all(Tape.__dict__[n] is plain[n] for n in plain)


def test_check_nan_false_only_warns_on_errors():
    x = torch.tensor([0.0], requires_grad=True)
    with warnings.catch_warnings(record=True) as w:
        warnings.simplefilter("always")
        with torch.autograd.detect_anomaly(check_nan=False):
            assert torch.is_anomaly_check_nan_enabled() is False
            (x.sqrt() * 0).sum().backward()
    assert np.isnan(x.grad.numpy()[0])
    assert [str(m.message) for m in w] == [ENABLED]
    assert torch.is_anomaly_check_nan_enabled() is True


def test_graph_recorded_with_the_mode_off():
    x = torch.tensor([0.0], requires_grad=True)
    y = (x.sqrt() * 0).sum()
    err, msgs, _ = _run(y.backward)
    assert str(err) == SQRT_NAN and msgs == [NO_INFO]


def test_nesting_restores_the_previous_state():
    get = torch.autograd.is_anomaly_enabled
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        with torch.autograd.detect_anomaly():
            assert get()
            with torch.autograd.detect_anomaly(check_nan=False):
                assert get() and not torch.is_anomaly_check_nan_enabled()
                with torch.autograd.set_detect_anomaly(False):
                    assert not get()
                assert get() and not torch.is_anomaly_check_nan_enabled()
            assert get() and torch.is_anomaly_check_nan_enabled()
        assert not get()
    torch.autograd.set_detect_anomaly(True)  # as a function call
    assert get()
    with torch.autograd.set_detect_anomaly(False):
        assert not get()
    assert get()
    torch.autograd.set_detect_anomaly(False)
    assert not get()


def test_the_flag_is_global_across_threads():
    seen = []
    torch.autograd.set_detect_anomaly(True)
    t = threading.Thread(target=lambda: seen.append(torch.autograd.is_anomaly_enabled()))
    t.start()
    t.join()
    assert seen == [True]


def test_graph_is_freed_as_without_the_mode():
    x = torch.tensor([2.0], requires_grad=True)
    with torch.autograd.set_detect_anomaly(True):
        y = (x.exp() * x).sum()
        y.backward()
        np.testing.assert_allclose(x.grad.numpy(), [3 * np.exp(2.0)])
        with pytest.raises(RuntimeError, match="backward through the graph a second time"):
            y.backward()


def test_compaction_drops_stacks_of_dropped_records():
    tape = current()
    with torch.autograd.set_detect_anomaly(True):
        x = torch.tensor([1.0], requires_grad=True)
        for _ in range(3000):  # each loss dies: compaction keeps only the live ones
            loss = (x * 2 + 1).sum()
        tape.compact()
        n = len(anomaly._STACKS.get(tape, ()))
        assert 0 < n < 20
        loss.backward()
    assert x.grad.numpy()[0] == 2.0


@pytest.mark.torch
def test_messages_match_pytorch():
    torch_ref = pytest.importorskip("torch")

    def messages(T, mk):
        with warnings.catch_warnings(record=True) as w:
            warnings.simplefilter("always")
            with T.autograd.detect_anomaly():
                try:
                    mk(T)
                    err = None
                except RuntimeError as e:
                    err = str(e)
        texts = [str(m.message).split(" (Triggered internally")[0] for m in w]
        return err, [t.split("\n")[0] for t in texts]

    def sqrt(T):
        x = T.tensor([0.0, 1.0], requires_grad=True)
        (x.sqrt() * 0).sum().backward()

    def mul(T):
        a = T.tensor([0.0], requires_grad=True)
        b = T.tensor([float("inf")], requires_grad=True)
        ((b * a) * 0).sum().backward()

    def custom(T):
        class F(T.autograd.Function):
            @staticmethod
            def forward(ctx, k, u, v):
                return u * k + v

            @staticmethod
            def backward(ctx, g):
                return None, g * 2, g * float("nan")

        u = T.tensor([1.0], requires_grad=True)
        F.apply(2, u, u * 1).sum().backward()

    for mk in (sqrt, mul, custom):
        assert messages(torch, mk) == messages(torch_ref, mk), mk.__name__
    x = torch_ref.tensor([0.0], requires_grad=True)
    y = (x.sqrt() * 0).sum()
    with warnings.catch_warnings(record=True) as w:
        warnings.simplefilter("always")
        with torch_ref.autograd.detect_anomaly():
            with pytest.raises(RuntimeError, match=SQRT_NAN):
                y.backward()
    assert [str(m.message).split(" (Triggered")[0] for m in w] == [ENABLED, NO_INFO]
