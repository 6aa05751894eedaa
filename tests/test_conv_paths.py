"""The conv and pool fast paths: the custom-Function conv against the recorded composite
(what create_graph differentiates), the NumPy paths of constants, double backward, empty
batches, tapegrad.func recordings, and max pooling's first maximum (ties, NaN, padding,
ceil_mode, dilation, integer and bool inputs). No PyTorch needed."""

import numpy as np
import pytest

import tapegrad as tg
import tapegrad.nn.functional as F
from tapegrad.autograd.gradcheck import gradcheck
from tests.test_conv import _naive_conv2d

RNG = np.random.default_rng(4321)

FAST_CASES = [  # (x shape, w shape, kwargs, bias)
    ((3, 4, 7, 6), (6, 4, 3, 2), dict(stride=1, padding=0), True),
    ((2, 4, 7, 6), (4, 2, 3, 3), dict(stride=(2, 1), padding=(1, 2), dilation=(1, 2),
                                      groups=2), True),
    ((2, 3, 5, 5), (2, 3, 5, 5), dict(padding=2), False),
    ((3, 5, 6), (2, 3, 5, 5), dict(padding=1), True),  # unbatched
    ((1, 1, 1, 1), (2, 1, 1, 1), {}, True),           # a 1x1 plane (two tail channels)
]


@pytest.mark.parametrize("xs,ws,kw,with_bias", FAST_CASES)
def test_conv_function_path_equals_recorded_composite(xs, ws, kw, with_bias):
    from tapegrad.nn import _conv

    x0, w0 = RNG.standard_normal(xs), RNG.standard_normal(ws)
    b0 = RNG.standard_normal(ws[0]) if with_bias else None

    def run(force_composite):
        x, w = tg.tensor(x0, requires_grad=True), tg.tensor(w0, requires_grad=True)
        b = tg.tensor(b0, requires_grad=True) if with_bias else None
        if force_composite:  # what create_graph=True differentiates
            orig = _conv._ConvFunction.apply
            _conv._ConvFunction.apply = lambda x, w, b, geom: geom[-2](x, w, b)
            try:
                y = F.conv2d(x, w, b, **kw)
            finally:
                _conv._ConvFunction.apply = orig
        else:
            y = F.conv2d(x, w, b, **kw)
        g = tg.tensor(np.random.default_rng(5).standard_normal(tuple(y.shape)))
        (y * g).sum().backward()
        return [y.detach().numpy()] + [t.grad.numpy() for t in (x, w, b) if t is not None]

    ref = _naive_conv2d(x0 if len(xs) == 4 else x0[None], w0,
                        b0 if with_bias else np.zeros(ws[0]), *(
                            (v, v) if isinstance(v, int) else v for v in
                            (kw.get("stride", 1), kw.get("padding", 0), kw.get("dilation", 1))),
                        kw.get("groups", 1))
    fast, comp = run(False), run(True)
    np.testing.assert_allclose(fast[0], ref.reshape(fast[0].shape), rtol=1e-12, atol=1e-12)
    for a, b in zip(fast, comp):
        np.testing.assert_allclose(a, b, rtol=1e-12, atol=1e-12)


def test_conv_no_grad_and_constant_input_paths():
    x0, w0, b0 = (RNG.standard_normal(s) for s in ((2, 3, 6, 6), (4, 3, 3, 3), (4,)))
    ref = _naive_conv2d(x0, w0, b0, (1, 1), (1, 1), (1, 1), 1)
    w = tg.tensor(w0, requires_grad=True)
    with tg.no_grad():
        y = F.conv2d(tg.tensor(x0), w, tg.tensor(b0), padding=1)
    assert not y.requires_grad
    np.testing.assert_allclose(y.numpy(), ref, rtol=1e-12, atol=1e-12)
    # a constant input, the weight and bias require grad (a LeNet's first layer)
    assert gradcheck(lambda w, b: F.conv2d(tg.tensor(x0), w, b, padding=1),
                     (w, tg.tensor(b0, requires_grad=True)))


def test_conv_double_backward():
    from tapegrad.autograd.gradcheck import gradgradcheck

    x = tg.tensor(RNG.standard_normal((2, 2, 5, 4)), requires_grad=True)
    w = tg.tensor(RNG.standard_normal((4, 1, 3, 2)), requires_grad=True)
    b = tg.tensor(RNG.standard_normal(4), requires_grad=True)
    assert gradgradcheck(lambda x, w, b: F.conv2d(x, w, b, padding=1, groups=2), (x, w, b))
    # a constant input (the composite's NumPy patches) and a 1-D conv
    assert gradgradcheck(lambda w: F.conv2d(x.detach(), w, b.detach(), stride=2, groups=2),
                         (w,))
    w2 = tg.tensor(RNG.standard_normal((3, 2, 2, 2)), requires_grad=True)
    assert gradgradcheck(lambda w: F.conv2d(x.detach(), w, padding=1), (w2,))
    x1 = tg.tensor(RNG.standard_normal((2, 2, 6)), requires_grad=True)
    w1 = tg.tensor(RNG.standard_normal((2, 2, 3)), requires_grad=True)
    assert gradgradcheck(lambda x, w: F.conv1d(x, w, padding=1), (x1, w1))


def _first_max_reference(x, k, s, p, d, ceil_mode):
    """Per window: the flat plane index of its first maximum in row-major order (NumPy's
    argmax: the first NaN wins), from explicit window lists; padding never wins."""
    N, C, H, W = x.shape
    from tapegrad.nn._pool import _pool_out

    Ho, Wo = (_pool_out(n, k, s, p, d, ceil_mode) for n in (H, W))
    idx = np.empty((N, C, Ho, Wo), np.int64)
    for i in range(Ho):
        for j in range(Wo):
            cells = [(r, c) for r in range(i * s - p, i * s - p + d * (k - 1) + 1, d)
                     for c in range(j * s - p, j * s - p + d * (k - 1) + 1, d)
                     if 0 <= r < H and 0 <= c < W]
            vals = np.stack([x[:, :, r, c] for r, c in cells], -1)
            idx[:, :, i, j] = np.array([r * W + c for r, c in cells])[np.argmax(vals, -1)]
    return idx


@pytest.mark.parametrize("k,s,p,d,ceil", [(2, 2, 0, 1, False), (3, 2, 1, 1, True),
                                          (2, 1, 1, 2, False), (3, 3, 0, 1, True)])
def test_max_pool2d_first_maximum_ties_nan_and_grad(k, s, p, d, ceil):
    x = RNG.integers(0, 3, (2, 2, 7, 8)).astype(np.float64)  # many ties
    x[0, 0, 1, 1] = x[1, 1, 4, 5] = x[1, 1, 4, 6] = np.nan   # NaN wins; the first NaN
    idx = _first_max_reference(x, k, s, p, d, ceil)
    xt = tg.tensor(x, requires_grad=True)
    y, got = F.max_pool2d(xt, k, s, p, d, ceil_mode=ceil, return_indices=True)
    np.testing.assert_array_equal(got.numpy(), idx)
    want = np.take_along_axis(x.reshape(2, 2, -1), idx.reshape(2, 2, -1), 2)
    np.testing.assert_array_equal(y.detach().numpy().reshape(2, 2, -1), want)
    y.sum().backward()
    g = np.zeros((2, 2, 56))
    for n in range(2):
        for c in range(2):
            np.add.at(g[n, c], idx[n, c].reshape(-1), 1.0)
    np.testing.assert_array_equal(xt.grad.numpy().reshape(2, 2, -1), g)
    # integer and bool inputs: values only, the same first maxima
    xi = np.nan_to_num(x, nan=5).astype(np.int64)
    yi, ii = F.max_pool2d(tg.tensor(xi), k, s, p, d, ceil_mode=ceil, return_indices=True)
    np.testing.assert_array_equal(ii.numpy(), _first_max_reference(xi, k, s, p, d, ceil))
    yb = F.max_pool2d(tg.tensor(xi > 1), k, s, p, d, ceil_mode=ceil)
    np.testing.assert_array_equal(yb.numpy(), yi.numpy() > 1)


def test_conv_empty_batch():
    w = tg.tensor(RNG.standard_normal((2, 1, 3, 3)), requires_grad=True)
    for rg in (False, True):
        x = tg.tensor(np.zeros((0, 1, 5, 5)), requires_grad=rg)
        y = F.conv2d(x, w, padding=1)
        assert tuple(y.shape) == (0, 2, 5, 5)
        y.sum().backward()
        np.testing.assert_array_equal(w.grad.numpy(), np.zeros((2, 1, 3, 3)))
        if rg:
            assert tuple(x.grad.shape) == (0, 1, 5, 5)


def test_conv_in_tapegrad_func_replays():
    import tapegrad.func as tf

    x0 = RNG.standard_normal((2, 3, 6, 6))
    w0, b0 = RNG.standard_normal((4, 3, 3, 3)), RNG.standard_normal(4)

    def loss(w, b):
        y = F.max_pool2d(F.relu(F.conv2d(tg.tensor(x0), w, b, padding=1)), 2)
        return (y * y).sum()

    fg = tf.value_and_grad(loss, argnums=(0, 1))
    for scale in (1.0, 0.5):  # recorded, then replayed
        v, (gw, gb) = fg(w0 * scale, b0)
        w, b = tg.tensor(w0 * scale, requires_grad=True), tg.tensor(b0, requires_grad=True)
        ref = loss(w, b)
        ref.backward()
        assert v == pytest.approx(ref.item(), rel=1e-12)
        np.testing.assert_allclose(gw, w.grad.numpy(), rtol=1e-10, atol=1e-12)
        np.testing.assert_allclose(gb, b.grad.numpy(), rtol=1e-10, atol=1e-12)
    assert fg._variants and all(not v.python for vs in fg._variants.values() for v in vs)
