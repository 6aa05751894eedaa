"""A custom Function's records on the tape: more inputs than a record has slots (fan-in
records), keyword arguments, mixed dtypes, compaction, the bound on Python calls per
backward and constant memory in a training loop."""

import numpy as np
import pytest

import tapegrad as torch
from tapegrad.autograd.function import once_differentiable
from tapegrad.tape import Tape
from tapegrad.tape import tape as tapes
from tests.test_function import _functions
from tests.test_tape import _python_calls


def test_kwargs_many_inputs_and_once_differentiable():
    Sum5 = _functions(torch)[3]
    xs = [torch.tensor([1.0, 2.0], requires_grad=True) for _ in range(5)]
    out = Sum5.apply(xs[0], xs[1], c=xs[2], e=xs[4], d=xs[3])  # keywords bound to parameters
    assert out.tolist() == [15.0, 30.0]
    assert [nf[0].variable for nf in out.grad_fn.next_functions] == xs
    out.sum().backward()
    assert [x.grad.tolist() for x in xs] == [[k, k] for k in (1.0, 2.0, 3.0, 4.0, 5.0)]

    class Many(torch.autograd.Function):
        @staticmethod
        def forward(ctx, *xs):
            return sum((i + 1) * x for i, x in enumerate(xs)), xs[0] * 0

        @staticmethod
        @once_differentiable
        def backward(ctx, g, g0):
            assert not torch.is_grad_enabled()
            return tuple((i + 1) * g for i in range(len(ctx.needs_input_grad)))

    xs = [torch.tensor([float(k)], requires_grad=True) for k in range(12)]
    a, _ = Many.apply(*xs)
    assert len(a.grad_fn.next_functions) == 12
    a.backward()
    assert [x.grad.item() for x in xs] == [float(k + 1) for k in range(12)]
    assert Many.apply(*xs)[0].grad_fn.apply(torch.ones(1), None)[3].tolist() == [4.0]


def test_records_survive_compaction():
    Cube, MulAdd, SignSTE, Sum5 = _functions(torch)
    with tapes.recording(Tape(records=16, elements=64, aux=64)) as tape:
        xs = [torch.tensor([1.0, 2.0], requires_grad=True) for _ in range(5)]
        total = None
        for k in range(6):
            s, d = MulAdd.apply(Sum5.apply(*xs), xs[0], Cube.apply(xs[1], 1.0))
            term = (s * d).sum()
            total = term if total is None else total + term
        assert tape.epoch > 0  # compacted while these were recorded
        tape.compact()
        total.backward()
    # s = 15 x0 ... per element: a = sum(k x_k) = 15 x, s = a x0 + x1^3, d = a - x0
    x = np.array([1.0, 2.0])
    a, s, d = 15 * x, 15 * x * x + x ** 3, 14 * x
    gs, gd = 6 * d, 6 * s
    ga = gs * x + gd
    expected = [ga * 1 + gs * a - gd, ga * 2 + gs * 3 * x ** 2, ga * 3, ga * 4, ga * 5]
    for t, e in zip(xs, expected):
        np.testing.assert_allclose(t.grad.numpy(), e, rtol=1e-6)


def test_one_custom_function_among_10000_records_costs_a_bounded_number_of_calls():
    class Scale(torch.autograd.Function):
        @staticmethod
        def forward(ctx, x):
            return x * 2.0

        @staticmethod
        def backward(ctx, g):
            return g * 2.0

    def chain(n):
        x = torch.tensor([0.5], dtype=torch.float64, requires_grad=True)
        y = x
        for i in range(n):
            y = y * 1.0001
            if i == n // 2:
                y = Scale.apply(y)
        return x, y

    chain(100)[1].backward()  # warm every entry point
    x1, y1 = chain(5_000)     # 10,000 records
    x2, y2 = chain(10_000)    # 20,000 records
    chain(10)[1].backward()
    n1, n2 = _python_calls(y1.backward), _python_calls(y2.backward)
    assert n1 == n2 < 150, (n1, n2)
    assert x1.grad.item() == pytest.approx(2 * 1.0001 ** 5_000, rel=1e-9)


def test_mixed_dtypes_grad_and_next_functions_after_compaction():
    class Cast(torch.autograd.Function):
        @staticmethod
        def forward(ctx, x64, y32):
            return (x64.float() * y32), x64 * 2

        @staticmethod
        def backward(ctx, g32, g64):
            assert g32.dtype is torch.float32 and g64.dtype is torch.float64
            return g32.double() + 2 * g64, g32 * 0 + 1

    x = torch.tensor([1.0, 2.0], dtype=torch.float64, requires_grad=True)
    y = torch.tensor([3.0, 4.0], requires_grad=True)
    a, b = Cast.apply(x, y)
    assert a.dtype is torch.float32 and b.dtype is torch.float64
    gx, gy = torch.autograd.grad(a.sum() + b.sum(), (x, y), retain_graph=True)
    assert gx.dtype is torch.float64 and gx.tolist() == [3.0, 3.0]
    assert gy.dtype is torch.float32 and gy.tolist() == [1.0, 1.0]
    torch.tape.current().compact()
    assert [nf[0].variable for nf in a.grad_fn.next_functions] == [x, y]
    assert a.grad_fn is b.grad_fn


def test_a_training_loop_with_custom_functions_runs_in_constant_memory():
    Cube = _functions(torch)[0]
    w = torch.tensor([0.5, -0.25], requires_grad=True)
    sizes = []
    with tapes.recording() as tape:
        for step in range(600):
            h = Cube.apply(w * 1.0, 0.5)
            h.register_hook(lambda g: g * 1.0)
            loss = (h * h).sum()
            loss.backward()
            with torch.no_grad():
                w -= 0.01 * w.grad
            w.grad = None
            if step % 200 == 199:
                del h, loss
                tape.compact()
                sizes.append((tape.nrecords, len(tape.python_vjp), tape.R.shape[0]))
    assert sizes[0] == sizes[-1] and sizes[-1][:2] == (0, 0), sizes
