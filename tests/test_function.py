"""autograd.Function: custom ops whose backward runs in Python while the compiled sweep
pauses at their record. Fixed numbers and finite differences always; the same programs
against PyTorch in the tests marked `torch`."""

import warnings

import numpy as np
import pytest

import tapegrad as torch


# ---- programs written once, run with tapegrad and (in the torch tests) with PyTorch ------
def _functions(T):
    """The custom Functions of the tests, for library T (tapegrad or torch)."""

    class Cube(T.autograd.Function):
        @staticmethod
        def forward(ctx, x, k):
            ctx.save_for_backward(x)
            ctx.k = k
            return k * x ** 3

        @staticmethod
        def backward(ctx, g):
            (x,) = ctx.saved_tensors
            return g * 3 * ctx.k * x ** 2, None

    class MulAdd(T.autograd.Function):  # new style: forward without ctx, setup_context
        @staticmethod
        def forward(x, y, z):
            return x * y + z, x - y

        @staticmethod
        def setup_context(ctx, inputs, output):
            x, y, _ = inputs
            ctx.save_for_backward(x, y)

        @staticmethod
        def backward(ctx, g1, g2):
            x, y = ctx.saved_tensors
            return g1 * y + g2, g1 * x - g2, g1

    class SignSTE(T.autograd.Function):
        @staticmethod
        def forward(ctx, x):
            ctx.save_for_backward(x)
            return T.sign(x)

        @staticmethod
        def backward(ctx, g):
            (x,) = ctx.saved_tensors
            return g * (x.abs() <= 1).float()

    class Sum5(T.autograd.Function):  # more inputs than a record has slots
        @staticmethod
        def forward(ctx, a, b, c, d, e):
            return a + 2 * b + 3 * c + 4 * d + 5 * e

        @staticmethod
        def backward(ctx, g):
            return g, 2 * g, 3 * g, 4 * g, 5 * g

    return Cube, MulAdd, SignSTE, Sum5


def _program(T):
    """A small graph mixing recorded ops and custom Functions; its numbers."""
    Cube, MulAdd, SignSTE, Sum5 = _functions(T)
    x = T.tensor([0.5, -1.5, 2.0], requires_grad=True)
    y = T.tensor([1.0, 2.0, -0.5], requires_grad=True)
    z = T.tensor([0.25, 0.0, 1.0], requires_grad=True)
    c = Cube.apply(x * 2, 0.5)
    s, d = MulAdd.apply(c, y, z)
    b = SignSTE.apply(d * 0.5)
    e = Sum5.apply(x, y, z, s, b)
    loss = (e * e).sum() + (s * d).sum()
    loss.backward()
    return [t.detach().numpy().tolist() for t in (c, s, d, b, e, x.grad, y.grad, z.grad)] + \
        [type(t.grad_fn).__name__ for t in (c, s, b, e)]


def _fd_program(xv, yv, zv, h0):
    """_program's loss in NumPy, sign(h) replaced near the base point h0 by a stand-in with
    its value and the straight-through derivative: sign(h0) + (h - h0) where |h0| <= 1."""
    c = 0.5 * (2 * xv) ** 3
    s, d = c * yv + zv, c - yv
    h = 0.5 * d
    b = np.sign(h0) + np.where(np.abs(h0) <= 1, h - h0, 0.0)
    e = xv + 2 * yv + 3 * zv + 4 * s + 5 * b
    return (e * e).sum() + (s * d).sum()


def test_the_program_gives_fixed_numbers():
    c, s, d, b, e, gx, gy, gz, *names = _program(torch)
    np.testing.assert_allclose(c, [0.5, -13.5, 32.0])
    np.testing.assert_allclose(s, [0.75, -27.0, -15.0])
    np.testing.assert_allclose(d, [-0.5, -15.5, 32.5])
    assert b == [-1.0, -1.0, 1.0]
    np.testing.assert_allclose(e, [1.25, -110.5, -51.0])
    assert names == ["CubeBackward", "MulAddBackward", "SignSTEBackward", "Sum5Backward"]
    # gradients against central differences of the same function in NumPy
    xv, yv, zv = (np.array(v) for v in ([0.5, -1.5, 2.0], [1.0, 2.0, -0.5], [0.25, 0.0, 1.0]))
    for got, i in ((gx, 0), (gy, 1), (gz, 2)):
        fd = []
        for k in range(3):
            vals = []
            for sign in (1, -1):
                args = [xv.copy(), yv.copy(), zv.copy()]
                args[i][k] += sign * 1e-6
                vals.append(_fd_program(*args, h0=np.array(d) * 0.5))
            fd.append((vals[0] - vals[1]) / 2e-6)
        np.testing.assert_allclose(got, fd, rtol=1e-4, atol=1e-3)


def test_ctx_is_the_grad_fn_with_saved_tensors_and_needs_input_grad():
    Cube = _functions(torch)[0]
    x = torch.tensor([1.0, 2.0], requires_grad=True)
    w = torch.tensor([3.0, 4.0])
    y = Cube.apply(x, 2.0)
    fn = y.grad_fn
    assert type(fn).__name__ == "CubeBackward" and fn.name() == "CubeBackward"
    assert repr(y) == "tensor([ 2., 16.], grad_fn=<CubeBackward>)"
    assert fn.needs_input_grad == (True, False) and fn.k == 2.0
    (saved,) = fn.saved_tensors
    assert saved is x
    ((acc, nr),) = fn.next_functions  # tensor arguments only; the float has no edge
    assert acc.variable is x and nr == 0
    MulAdd = _functions(torch)[1]
    s, d = MulAdd.apply(y, w, x)
    assert s.grad_fn is d.grad_fn  # one node for all outputs
    nf = s.grad_fn.next_functions
    assert nf[0][0] is fn and nf[1] == (None, 0) and nf[2][0].variable is x
    assert isinstance(fn, torch.autograd.graph.Node)


def test_forward_runs_without_recording_and_outputs_require_grad_as_pytorch():
    seen = []

    class Probe(torch.autograd.Function):
        @staticmethod
        def forward(ctx, x):
            seen.append((torch.is_grad_enabled(), ctx.needs_input_grad))
            return (x * 2).exp().log()  # three ops, none recorded

        @staticmethod
        def backward(ctx, g):
            return g * 2

    x = torch.tensor([1.0], requires_grad=True)
    tape = torch.tape.current()
    n0 = tape.nrecords
    y = Probe.apply(x)
    assert tape.nrecords - n0 == 2  # x's leaf record and the custom Function's one
    assert seen == [(False, (True,))] and y.requires_grad
    with torch.no_grad():
        assert not Probe.apply(x).requires_grad
    assert seen[-1] == (False, (True,))  # needs_input_grad ignores grad mode, as PyTorch's
    assert not Probe.apply(torch.tensor([1.0])).requires_grad


def test_backward_gets_zeros_or_none_for_outputs_it_does_not_reach():
    seen = []

    class Two(torch.autograd.Function):
        @staticmethod
        def forward(ctx, x, materialize):
            ctx.set_materialize_grads(materialize)
            return x * 2, x * 3, 7, x.sum().long()

        @staticmethod
        def backward(ctx, g1, g2, g3, g4):
            seen.append((g1, g2, g3, g4))
            return (0 if g1 is None else g1 * 2) + (0 if g2 is None else g2 * 3), None

    x = torch.tensor([1.0, 2.0], requires_grad=True)
    a, b, k, n = Two.apply(x, True)
    assert k == 7 and not n.requires_grad and n.dtype is torch.int64
    b.sum().backward()
    g1, g2, g3, g4 = seen[-1]
    assert g1.tolist() == [0.0, 0.0] and g2.tolist() == [1.0, 1.0] and g3 is None
    assert g4.dtype is torch.int64 and g4.item() == 0
    assert x.grad.tolist() == [3.0, 3.0]
    a, b, _, _ = Two.apply(x, False)
    (a * 5).sum().backward()
    g1, g2, _, _ = seen[-1]
    assert g1.tolist() == [5.0, 5.0] and g2 is None
    assert x.grad.tolist() == [13.0, 13.0]


def test_mark_non_differentiable():
    class ArgmaxAndValue(torch.autograd.Function):
        @staticmethod
        def forward(ctx, x):
            i = x.argmax()
            ctx.mark_non_differentiable(i)
            ctx.save_for_backward(i)
            return x.max(), i.float()

        @staticmethod
        def backward(ctx, g, gi):
            assert gi.tolist() == 0.0  # zeros for the non-differentiable output
            (i,) = ctx.saved_tensors
            out = torch.zeros(3)
            out[i] = g
            return out

    x = torch.tensor([1.0, 5.0, 2.0], requires_grad=True)
    m, i = ArgmaxAndValue.apply(x)
    # `i.float()` is a new tensor: only what forward returned and marked is non-differentiable
    assert m.requires_grad
    m.backward()
    assert x.grad.tolist() == [0.0, 1.0, 0.0]

    class Halve(torch.autograd.Function):
        @staticmethod
        def forward(ctx, x):
            y = x / 2
            ctx.mark_non_differentiable(y)
            return y

        @staticmethod
        def backward(ctx, g):
            return g

    h = Halve.apply(x)
    assert not h.requires_grad and h.grad_fn is None


def test_mark_dirty_rebinds_the_input_to_the_output():
    class Double_(torch.autograd.Function):
        @staticmethod
        def forward(ctx, x):
            x.mul_(2)
            ctx.mark_dirty(x)
            ctx.save_for_backward(x)
            return x

        @staticmethod
        def backward(ctx, g):
            (x,) = ctx.saved_tensors
            assert x.tolist() == [2.0, 4.0]
            return g * 2

    w = torch.tensor([1.0, 2.0], requires_grad=True)
    h = w * 1
    out = Double_.apply(h)
    assert out is h and h.tolist() == [2.0, 4.0] and h._version == 2
    assert type(h.grad_fn).__name__ == "Double_Backward"
    (h * h).sum().backward()
    assert w.grad.tolist() == [8.0, 16.0]  # d(4 w^2)/dw
    with pytest.raises(RuntimeError, match="a leaf Variable that requires grad has been used "
                                           "in an in-place operation."):
        Double_.apply(w)
    c = torch.tensor([1.0, 2.0])
    cw = Double_.apply(c) * w  # no input requires grad: a plain in-place op
    assert c.tolist() == [2.0, 4.0] and not c.requires_grad and cw.requires_grad

    class Forgot(torch.autograd.Function):
        @staticmethod
        def forward(ctx, x):
            ctx.mark_dirty(x)
            return x * 1

        @staticmethod
        def backward(ctx, g):
            return g

    with pytest.raises(RuntimeError, match="marked as dirty during the forward method were not "
                                           "returned as output"):
        Forgot.apply(w * 1)


def test_an_input_returned_as_is_is_a_new_tensor():
    class Same(torch.autograd.Function):
        @staticmethod
        def forward(ctx, x):
            return x

        @staticmethod
        def backward(ctx, g):
            return g * 5

    w = torch.tensor([1.0, 2.0], requires_grad=True)
    r = Same.apply(w)
    assert r is not w and type(r.grad_fn).__name__ == "SameBackward"
    r.sum().backward()
    assert w.grad.tolist() == [5.0, 5.0]


def test_wrong_gradients_raise_pytorch_errors():
    def make(result):
        class Bad(torch.autograd.Function):
            @staticmethod
            def forward(ctx, x, k):
                return x * 2

            @staticmethod
            def backward(ctx, g):
                return result(g)

        return Bad

    x = torch.tensor([1.0, 2.0], requires_grad=True)
    cases = [(lambda g: g, "function BadBackward returned an incorrect number of gradients "
                           r"\(expected 2, got 1\)"),
             (lambda g: (g, None, g), r"\(expected 2, got 3\)"),
             (lambda g: (g, g), "function BadBackward returned a gradient different than None "
                                "at position 2, but the corresponding forward input was not a "
                                "Variable"),
             (lambda g: (torch.ones(3), None), r"Function BadBackward returned an invalid "
                                               r"gradient at index 0 - got \[3\] but expected "
                                               r"shape compatible with \[2\]"),
             (lambda g: (2.0, None), r"expected Variable or None \(got float\)")]
    for result, message in cases:
        with pytest.raises(RuntimeError, match=message):
            make(result).apply(x, 3).sum().backward()
        assert x.grad is None
    make(lambda g: (g, None, None, None)).apply(x, 3).sum().backward()  # extra Nones: fine
    assert x.grad.tolist() == [1.0, 1.0]
    x.grad = None
    make(lambda g: (torch.ones(4, 2, dtype=torch.float64), None)).apply(x, 3).sum().backward()
    assert x.grad.tolist() == [4.0, 4.0] and x.grad.dtype is torch.float32  # summed, cast


def test_an_error_in_backward_propagates_and_leaves_every_grad_as_it_was():
    class Boom(torch.autograd.Function):
        @staticmethod
        def forward(ctx, x):
            return x * 2

        @staticmethod
        def backward(ctx, g):
            raise ValueError("boom in backward")

    x = torch.tensor([1.0, 2.0], requires_grad=True)
    w = torch.tensor([3.0], requires_grad=True)
    x.grad = torch.tensor([10.0, 20.0])
    h = x * w
    h.retain_grad()
    with pytest.raises(ValueError, match="boom in backward"):
        (Boom.apply(h) + h * w).sum().backward()
    assert x.grad.tolist() == [10.0, 20.0] and w.grad is None and h.grad is None
    (x * 3).sum().backward()  # the tape is usable afterwards
    assert x.grad.tolist() == [13.0, 23.0]


def test_saved_tensors_are_freed_after_backward_unless_retain_graph():
    Cube = _functions(torch)[0]
    x = torch.tensor([1.0, 2.0], requires_grad=True)
    y = Cube.apply(x, 1.0)
    y.sum().backward(retain_graph=True)
    y.sum().backward()
    assert x.grad.tolist() == [6.0, 24.0]
    with pytest.raises(RuntimeError, match="Trying to backward through the graph a second time"):
        y.grad_fn.saved_tensors
    with pytest.raises(RuntimeError, match="Trying to backward through the graph a second time"):
        y.sum().backward()


def test_saved_tensors_changed_in_place_raise():
    Cube = _functions(torch)[0]
    x = torch.tensor([1.0, 2.0], requires_grad=True)
    h = x * 1
    y = Cube.apply(h, 1.0)
    h.add_(1)
    with pytest.raises(RuntimeError, match=r"modified by an inplace operation: "
                                           r"\[torch.FloatTensor \[2\]\].*is at version 1; "
                                           r"expected version 0 instead"):
        y.sum().backward()

    class SaveOut(torch.autograd.Function):
        @staticmethod
        def forward(ctx, x):
            y = x.exp()
            ctx.save_for_backward(y)
            return y

        @staticmethod
        def backward(ctx, g):
            (y,) = ctx.saved_tensors
            return g * y

    y = SaveOut.apply(x)
    y.sum().backward(retain_graph=True)
    np.testing.assert_allclose(x.grad.numpy(), np.exp([1.0, 2.0]), rtol=1e-6)
    y.mul_(2)
    with pytest.raises(RuntimeError, match="is at version 1; expected version 0 instead"):
        y.sum().backward()


def test_legacy_forms_raise_as_pytorch():
    Cube = _functions(torch)[0]
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        f = Cube()
    assert "should not be instantiated" in str(caught[0].message)
    with pytest.raises(RuntimeError, match="Legacy autograd function with non-static forward"):
        f(torch.ones(1))

    class SavesInt(torch.autograd.Function):
        @staticmethod
        def forward(ctx, x):
            ctx.save_for_backward(3)
            return x

    with pytest.raises(TypeError, match="save_for_backward can only save variables, but "
                                        "argument 0 is of type int"):
        SavesInt.apply(torch.ones(1, requires_grad=True))


# ---- against PyTorch ------------------------------------------------------------------
@pytest.mark.torch
def test_the_program_matches_pytorch():
    torch_ref = pytest.importorskip("torch")
    ours, theirs = _program(torch), _program(torch_ref)
    assert ours[8:] == theirs[8:]  # grad_fn names
    for a, b in zip(ours[:8], theirs[:8]):
        np.testing.assert_allclose(a, b, rtol=1e-6)


@pytest.mark.torch
def test_errors_and_flags_match_pytorch():
    torch_ref = pytest.importorskip("torch")

    def run(T):
        class Bad(T.autograd.Function):
            @staticmethod
            def forward(ctx, x, k):
                return x * 2, x.sum()

            @staticmethod
            def backward(ctx, g, g2):
                return T.ones(3), None

        x = T.tensor([1.0, 2.0], requires_grad=True)
        a, b = Bad.apply(x, 2)
        out = [a.requires_grad, b.requires_grad, a.grad_fn is b.grad_fn,
               len(a.grad_fn.next_functions), a.grad_fn.needs_input_grad]
        try:
            a.sum().backward()
        except RuntimeError as e:
            out.append(str(e))
        with T.no_grad():
            out.append(Bad.apply(x, 2)[0].requires_grad)
        return out

    assert run(torch) == run(torch_ref)
