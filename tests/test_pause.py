"""The reverse sweep pauses at a record whose backward runs in Python and resumes below
it: the mechanism under custom autograd Functions, tensor hooks and anomaly checks.

`scaled` is a test-only op: y = x, whose backward (in Python) multiplies by a factor."""

import numpy as np
import pytest

import tapegrad as torch
from tapegrad.recorder import slots as _slots
from tapegrad.tape.tape import current
from tapegrad.tensor import _on_tape
from tests.test_tape import _python_calls

CALLS = []


def scaled(x, factor):
    tape = current()
    (s,) = _slots(tape, x._dtype, x)

    def vjp(g):
        CALLS.append(g.shape)
        return (g * factor,)

    out = tape.record_python([s], np.array(x._value()), vjp, x._dtype.code, x._rg)
    return _on_tape(tape, out, x._shape, x._dtype, x._rg)


def _chain(n, pauses):
    x = torch.tensor([0.5], dtype=torch.float64, requires_grad=True)
    y = x
    every = n // pauses if pauses else n + 1
    for i in range(n):
        y = y * 1.0001
        if (i + 1) % every == 0:
            y = scaled(y, 2.0)
    return x, y


def test_pauses_give_the_chain_rule_through_python():
    x, y = _chain(100, 4)
    CALLS.clear()
    y.backward()
    assert len(CALLS) == 4
    assert x.grad.item() == pytest.approx(1.0001 ** 100 * 2.0 ** 4, rel=1e-12)
    assert y.grad_fn.name() == "PythonBackward0"


def test_python_calls_grow_with_pauses_not_records():
    _chain(10, 1)[1].backward()  # compile and warm every entry point
    x1, y1 = _chain(10_000, 10)
    x2, y2 = _chain(20_000, 10)
    x3, y3 = _chain(10_000, 20)
    _chain(10, 1)[1].backward()  # once more: the adjoint arenas grow to the tape's size
    n1, n2, n3 = (_python_calls(y.backward) for y in (y1, y2, y3))
    assert n1 == n2              # twice the records, the same Python work
    per_pause = (n3 - n1) / 10
    assert 0 < per_pause < 60    # each pause costs a few calls: its vjp and a resume
    assert n1 < 100 + 10 * per_pause
    assert x1.grad.item() == pytest.approx(1.0001 ** 10_000 * 2.0 ** 10, rel=1e-9)


def test_an_error_in_python_backward_leaves_grad_untouched():
    x = torch.tensor([1.0, 2.0], requires_grad=True)
    tape = current()
    (s,) = _slots(tape, x._dtype, x)

    def vjp(g):
        raise ValueError("custom backward failed")

    y = _on_tape(tape, tape.record_python([s], np.array(x._value()), vjp, x._dtype.code, True),
                 x._shape, x._dtype, True)
    with pytest.raises(ValueError, match="custom backward failed"):
        (y * x).sum().backward()
    assert x.grad is None
    (x * 3).sum().backward()  # the tape is usable afterwards
    np.testing.assert_allclose(x.grad.numpy(), [3.0, 3.0])


def test_python_records_survive_compaction():
    x, y = _chain(50, 5)
    current().compact()
    CALLS.clear()
    y.backward()
    assert len(CALLS) == 5
    assert x.grad.item() == pytest.approx(1.0001 ** 50 * 2.0 ** 5, rel=1e-12)


def test_python_backward_that_records_does_not_compact_under_the_sweep():
    """A Python backward may record on the tape (under enable_grad); make_room then grows
    the tables instead of compacting, so the paused sweep's marks and positions hold."""
    from tapegrad.tape import Tape
    from tapegrad.tape import tape as tapes

    w = torch.tensor([3.0], dtype=torch.float64, requires_grad=True)
    junk = []

    def busy(x):
        tape = current()
        (s,) = _slots(tape, x._dtype, x)

        def vjp(g):
            with torch.enable_grad():
                for _ in range(100):  # far more than the tiny tape holds
                    junk.append(w * 2.0)
            return (g * 2.0,)

        out = tape.record_python([s], np.array(x._value()), vjp, x._dtype.code, x._rg)
        return _on_tape(tape, out, x._shape, x._dtype, x._rg)

    with tapes.recording(Tape(records=16, elements=64, aux=64)) as tape:
        x = torch.tensor([0.5], dtype=torch.float64, requires_grad=True)
        y = (busy(x * 3.0) * x).sum()
        epoch = tape.epoch
        y.backward()
        assert tape.epoch == epoch and tape.pinned == 0  # grown, not compacted
        assert x.grad.item() == pytest.approx(0.5 * 2.0 * 3.0 + 3.0 * 0.5)  # x busy' 3 + u
        assert len(junk) == 100 and junk[-1].item() == 6.0
