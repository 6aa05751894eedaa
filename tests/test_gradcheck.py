"""autograd.gradcheck: analytical Jacobians (reverse sweeps over one recorded call)
against central differences, with PyTorch's messages; the same checks against PyTorch in
the tests marked `torch`."""

import warnings

import numpy as np
import pytest

import tapegrad as torch
from tapegrad.autograd import GradcheckError, gradcheck, gradgradcheck


def _functions(T):
    class Square(T.autograd.Function):  # right
        @staticmethod
        def forward(ctx, a):
            ctx.save_for_backward(a)
            return a * a

        @staticmethod
        def backward(ctx, g):
            (a,) = ctx.saved_tensors
            return 2 * a * g

    class Wrong(T.autograd.Function):  # backward forgets a factor 3 and a's second element
        @staticmethod
        def forward(ctx, a, b):
            return T.stack([a[0] * b.sum(), a[0] * 3, a[1]])

        @staticmethod
        def backward(ctx, g):
            return T.stack([g[0] + g[1], g[2] * 0]), None

    return Square, Wrong


def _x():
    return torch.tensor([1.0, 2.0], dtype=torch.float64, requires_grad=True)


def test_correct_gradients_pass():
    Square, _ = _functions(torch)
    x = _x()
    y = torch.tensor([3.0, 4.0, 5.0], dtype=torch.float64, requires_grad=True)
    assert gradcheck(Square.apply, (x,))
    assert gradcheck(lambda a, b: (a.sum() * b, (a * a).exp()), (x, y))
    assert gradcheck(lambda a, k: a * k, (x, 2.0))          # non-tensor arguments
    assert gradcheck(lambda a: a * 2, [x])                  # a list of inputs
    assert gradcheck(lambda a: (a * 2, a.argmax()), x)      # a lone tensor; an int output
    assert gradcheck(lambda m: (m @ m).tanh(), torch.tensor([[0.1, 0.2], [0.3, -0.4]],
                                                            dtype=torch.float64,
                                                            requires_grad=True), fast_mode=True)


def test_a_wrong_backward_fails_with_pytorchs_message():
    _, Wrong = _functions(torch)
    x, b = _x(), torch.tensor([1.0, 1.0], dtype=torch.float64)
    with pytest.raises(GradcheckError) as e:
        gradcheck(Wrong.apply, (x, b))
    assert str(e.value) == (
        "Jacobian mismatch for output 0 with respect to input 0,\n"
        "numerical:tensor([[2.0000, 3.0000, 0.0000],\n"
        "        [0.0000, 0.0000, 1.0000]], dtype=torch.float64)\n"
        "analytical:tensor([[1., 1., 0.],\n"
        "        [0., 0., 0.]], dtype=torch.float64)\n")
    assert isinstance(e.value, RuntimeError)
    assert gradcheck(Wrong.apply, (x, b), raise_exception=False) is False
    with pytest.raises(GradcheckError, match=r"(?s)computed \nin fast mode.*Numerical:\n "
                                             r"tensor\(\[\[2\.0000, 3\.0000.*The max "
                                             r"per-element difference \(slow mode\) is: 1\.99"):
        gradcheck(Wrong.apply, (x, b), fast_mode=True)


def test_analytical_rows_come_from_one_recorded_call():
    calls = []

    def f(a):
        calls.append(torch.is_grad_enabled())
        return (a * a).sum() * a

    x = torch.tensor([1.0, 2.0, 3.0], dtype=torch.float64, requires_grad=True)
    assert gradcheck(f, (x,))
    # one recorded call (grad on); the rest are the 2 x 3 central differences (no grad)
    assert calls[0] is True and calls[1:] == [False] * 6


def test_inputs_and_outputs_that_cannot_be_checked():
    with pytest.raises(ValueError, match="gradcheck expects at least one input tensor to require "
                                         "gradient, but none of them have requires_grad=True."):
        gradcheck(lambda a: a * a, (torch.tensor([1.0], dtype=torch.float64),))
    with pytest.raises(GradcheckError, match="Numerical gradient for function expected to be "
                                             "zero"):
        gradcheck(lambda a: (a * a).detach(), _x())
    assert gradcheck(lambda a: (a * 1).detach() * 0, _x())
    assert gradgradcheck(lambda a: a * a, _x())  # create_graph=True exists now


def test_float32_inputs_warn_and_use_their_own_precision():
    x = torch.tensor([1.0, 2.0], requires_grad=True)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        with pytest.raises(GradcheckError, match="Jacobian mismatch"):
            gradcheck(lambda a: a * a, (x,))
    assert [str(w.message) for w in caught] == [
        "Input #0 requires gradient and is not a double precision floating point or complex. "
        "This check will likely fail if all the inputs are not of double precision floating "
        "point or complex. "]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        assert gradcheck(lambda a: a * a, (x,), eps=1e-2, atol=1e-2)


def test_nondeterministic_and_undefined_grad_checks():
    rng = np.random.default_rng(0)

    class Noisy(torch.autograd.Function):
        @staticmethod
        def forward(ctx, a):
            return a * 2

        @staticmethod
        def backward(ctx, g):
            return g * 2 + float(rng.normal()) * 1e-9

    with pytest.raises(GradcheckError, match="Backward is not reentrant"):
        gradcheck(Noisy.apply, _x())
    assert gradcheck(Noisy.apply, _x(), nondet_tol=1e-6, check_undefined_grad=False)

    class Offset(torch.autograd.Function):  # a zero output gradient gives a nonzero one
        @staticmethod
        def forward(ctx, a):
            return a * 2

        @staticmethod
        def backward(ctx, g):
            return g * 2 + 1 if g.abs().sum().item() == 0 else g * 2

    with pytest.raises(GradcheckError, match="undefined output grads"):
        gradcheck(Offset.apply, _x())
    assert gradcheck(Offset.apply, _x(), check_undefined_grad=False)


@pytest.mark.torch
def test_gradcheck_matches_pytorch():
    torch_ref = pytest.importorskip("torch")

    def run(T):
        Square, Wrong = _functions(T)
        x = T.tensor([1.0, 2.0], dtype=T.float64, requires_grad=True)
        b = T.tensor([1.0, 1.0], dtype=T.float64)
        out = [T.autograd.gradcheck(Square.apply, (x,)),
               T.autograd.gradcheck(lambda a: (a.sum() * a, a.exp()), (x,)),
               T.autograd.gradcheck(Wrong.apply, (x, b), raise_exception=False)]
        for fn, args in ((Wrong.apply, (x, b)), (lambda a: (a * a).detach(), (x,))):
            try:
                T.autograd.gradcheck(fn, args)
            except RuntimeError as e:
                out.append((type(e).__name__, str(e)))
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            try:
                T.autograd.gradcheck(lambda a: a * a, (T.tensor([1.0, 2.0],
                                                                 requires_grad=True),))
            except RuntimeError as e:
                out.append(str(e).split("\n")[0])
        out.append([str(w.message) for w in caught])
        return out

    assert run(torch) == run(torch_ref)
