"""LazyLinear, affine_grid / grid_sample and TransformerDecoderLayer / TransformerDecoder /
Transformer without PyTorch: NumPy references, fixed values, finite differences (float64),
the wiring of the decoder blocks, causality, initialisation and error classes."""

import copy
import itertools
import math
import warnings

import numpy as np
import pytest

import tapegrad as tg
import tapegrad.nn as nn
import tapegrad.nn.functional as F
from tests.fdcheck import fd_check, t64

RNG = np.random.default_rng(34)


def arr(t):
    return t.detach().numpy()


# ---- LazyLinear ---------------------------------------------------------------------------
def test_lazy_linear_infers_in_features_and_becomes_linear():
    m = nn.LazyLinear(5)
    assert repr(m) == "LazyLinear(in_features=0, out_features=5, bias=True)"
    assert repr(m.weight) == "<UninitializedParameter>" and m.has_uninitialized_params()
    with pytest.raises(RuntimeError, match="uninitialized parameter"):
        m.weight.shape
    opt = tg.optim.SGD(m.parameters(), lr=0.1)  # made before the shapes are known
    w_obj = m.weight
    y = m(tg.randn(4, 3))
    assert type(m) is nn.Linear and repr(m) == "Linear(in_features=3, out_features=5, bias=True)"
    assert m.weight is w_obj and type(m.weight) is nn.Parameter
    assert y.shape == (4, 5) and m.weight.shape == (5, 3) and m.bias.shape == (5,)
    bound = 1 / math.sqrt(3)
    assert np.abs(arr(m.weight)).max() <= bound and np.abs(arr(m.bias)).max() <= bound
    y.sum().backward()
    before = arr(m.weight).copy()
    opt.step()
    np.testing.assert_allclose(arr(m.weight), before - 0.1 * arr(m.weight.grad), rtol=1e-5,
                               atol=1e-6)


def test_lazy_linear_bias_false_dtype_load_and_copy():
    m = nn.LazyLinear(4, bias=False)
    assert m.bias is None and repr(m).endswith("bias=False)")
    d = nn.LazyLinear(2).double()
    assert d(t64(np.ones((1, 3)))).dtype == tg.float64
    c = copy.deepcopy(nn.LazyLinear(3))
    assert c.has_uninitialized_params() and c(tg.randn(2, 7)).shape == (2, 3)
    src = nn.Linear(6, 4)
    lz = nn.LazyLinear(4)
    lz.load_state_dict(src.state_dict())
    assert not lz.has_uninitialized_params() and lz.weight.shape == (4, 6)
    x = tg.randn(2, 6)
    np.testing.assert_allclose(arr(lz(x)), arr(src(x)), rtol=1e-6)
    assert type(lz) is nn.Linear and lz.in_features == 6


# ---- affine_grid and grid_sample ----------------------------------------------------------
def test_affine_grid_identity_and_fixed_values():
    eye = t64([[[1, 0, 0], [0, 1, 0]]])
    g = F.affine_grid(eye, (1, 1, 2, 3), align_corners=True)
    np.testing.assert_allclose(arr(g)[0, :, :, 0], [[-1, 0, 1], [-1, 0, 1]])
    np.testing.assert_allclose(arr(g)[0, :, :, 1], [[-1, -1, -1], [1, 1, 1]])
    g = F.affine_grid(eye, (1, 1, 2, 2), align_corners=False)
    np.testing.assert_allclose(arr(g)[0, :, :, 0], [[-.5, .5], [-.5, .5]])
    th = RNG.standard_normal((2, 2, 3))
    g = F.affine_grid(t64(th), (2, 3, 4, 5), align_corners=False)
    xs, ys = (np.arange(5) * 2 + 1) / 5 - 1, (np.arange(4) * 2 + 1) / 4 - 1
    base = np.stack(list(np.meshgrid(xs, ys)) + [np.ones((4, 5))], -1)
    np.testing.assert_allclose(arr(g), np.einsum("hwk,nik->nhwi", base, th), rtol=1e-12)
    g3 = F.affine_grid(t64(np.tile(np.eye(4)[:3], (1, 1, 1))), (1, 1, 2, 3, 4),
                       align_corners=True)
    assert g3.shape == (1, 2, 3, 4, 3)
    np.testing.assert_allclose(arr(g3)[0, :, 0, 0, 2], [-1, 1])
    fd_check(lambda t: F.affine_grid(t, (2, 1, 3, 4), align_corners=True), [th])


def test_affine_grid_warnings_and_errors():
    th = tg.randn(2, 2, 3)
    with pytest.warns(UserWarning, match="align_corners=False"):
        F.affine_grid(th, (2, 3, 4, 5))
    with pytest.warns(UserWarning, match="unit-size"):
        F.affine_grid(th, (2, 3, 1, 5), align_corners=True)
    for call, exc in [(lambda: F.affine_grid(th, (2, 3, 4), False), NotImplementedError),
                      (lambda: F.affine_grid(tg.randn(2, 3, 4), (2, 3, 4, 5), False), ValueError),
                      (lambda: F.affine_grid(th, (2, 3, -1, 5), False), ValueError),
                      (lambda: F.affine_grid(tg.ones(2, 2, 3, dtype=tg.int64), (2, 3, 4, 5),
                                             False), ValueError),
                      (lambda: F.affine_grid(th, (3, 3, 4, 5), False), RuntimeError)]:
        with pytest.raises(exc):
            call()


def _ref_grid_sample(x, grid, mode, pm, ac):
    """Per-pixel loops of grid_sample's definition."""
    N, C, H, W = x.shape

    def coord(g, n):
        v = ((g + 1) / 2) * (n - 1) if ac else ((g + 1) * n - 1) / 2
        if pm == "reflection":
            lo, hi = (0, n - 1) if ac else (-0.5, n - 0.5)
            if hi == lo:
                v = 0.0
            else:
                span = hi - lo
                d = abs(v - lo) % (2 * span)
                v = lo + (d if d <= span else 2 * span - d)
        if pm in ("border", "reflection"):
            v = min(max(v, 0), n - 1)
        return v

    out = np.zeros((N, C) + grid.shape[1:3])
    for n, i, j in itertools.product(range(N), *map(range, grid.shape[1:3])):
        u, v = coord(grid[n, i, j, 0], W), coord(grid[n, i, j, 1], H)
        pix = lambda yy, xx: x[n, :, yy, xx] if 0 <= yy < H and 0 <= xx < W else 0  # noqa
        if mode == "nearest":
            out[n, :, i, j] = pix(int(np.rint(v)), int(np.rint(u)))
        else:
            x0, y0 = int(np.floor(u)), int(np.floor(v))
            fx, fy = u - x0, v - y0
            out[n, :, i, j] = ((1 - fy) * (1 - fx) * pix(y0, x0) + (1 - fy) * fx * pix(y0, x0 + 1)
                               + fy * (1 - fx) * pix(y0 + 1, x0) + fy * fx * pix(y0 + 1, x0 + 1))
    return out


@pytest.mark.parametrize("mode", ["bilinear", "nearest"])
@pytest.mark.parametrize("pm", ["zeros", "border", "reflection"])
@pytest.mark.parametrize("ac", [False, True])
def test_grid_sample_matches_loops_and_finite_differences(mode, pm, ac):
    x = RNG.standard_normal((2, 2, 3, 4))
    grid = RNG.uniform(-1.7, 1.7, (2, 3, 5, 2))
    got = F.grid_sample(t64(x), t64(grid), mode, pm, ac)
    np.testing.assert_allclose(arr(got), _ref_grid_sample(x, grid, mode, pm, ac), rtol=1e-10,
                               atol=1e-12)
    if mode == "bilinear":
        fd_check(lambda a, g: F.grid_sample(a, g, mode, pm, ac), [x, grid])
    else:
        g = t64(grid)
        fd_check(lambda a: F.grid_sample(a, g, mode, pm, ac), [x])


def test_grid_sample_identity_grid_reproduces_the_input():
    x = RNG.standard_normal((2, 3, 4, 5))
    eye = t64(np.tile([[1.0, 0, 0], [0, 1, 0]], (2, 1, 1)))
    for ac in (True, False):
        g = F.affine_grid(eye, (2, 3, 4, 5), align_corners=ac)
        for mode in ("bilinear", "nearest"):
            np.testing.assert_allclose(arr(F.grid_sample(t64(x), g, mode, align_corners=ac)), x,
                                       atol=1e-12)


def test_grid_sample_warnings_and_errors():
    x, g = tg.randn(2, 3, 4, 5), tg.rand(2, 6, 7, 2)
    with pytest.warns(UserWarning, match="align_corners=False"):
        F.grid_sample(x, g)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        for call, exc in [
                (lambda: F.grid_sample(x, g, mode="foo"), ValueError),
                (lambda: F.grid_sample(x, g, padding_mode="foo"), ValueError),
                (lambda: F.grid_sample(x, g[:1]), RuntimeError),
                (lambda: F.grid_sample(x, g[..., :1]), RuntimeError),
                (lambda: F.grid_sample(x, g.double()), RuntimeError),
                (lambda: F.grid_sample(x, g[:, :, :, None]), RuntimeError),
                (lambda: F.grid_sample(x[:, :, :0], g), RuntimeError),
                (lambda: F.grid_sample(x, g, mode="bicubic"), NotImplementedError),
                (lambda: F.grid_sample(x[..., None], tg.rand(2, 1, 1, 1, 3)),
                 NotImplementedError)]:
            with pytest.raises(exc):
                call()


# ---- Transformer --------------------------------------------------------------------------
def _quiet(fn, *a, **k):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return fn(*a, **k)


KEYS_ENC = ["self_attn.in_proj_weight", "self_attn.in_proj_bias", "self_attn.out_proj.weight",
            "self_attn.out_proj.bias", "linear1.weight", "linear1.bias", "linear2.weight",
            "linear2.bias", "norm1.weight", "norm1.bias", "norm2.weight", "norm2.bias"]
KEYS_DEC = KEYS_ENC[:4] + [k.replace("self_attn", "multihead_attn") for k in KEYS_ENC[:4]] + \
    KEYS_ENC[4:] + ["norm3.weight", "norm3.bias"]


def test_transformer_state_dict_keys_and_initialisation():
    tg.manual_seed(0)
    with pytest.warns(UserWarning, match="enable_nested_tensor is True"):
        t = nn.Transformer(d_model=8, nhead=2, num_encoder_layers=2, num_decoder_layers=1,
                           dim_feedforward=16)
    want = [f"encoder.layers.{i}.{k}" for i in range(2) for k in KEYS_ENC] + \
        ["encoder.norm.weight", "encoder.norm.bias"] + \
        [f"decoder.layers.0.{k}" for k in KEYS_DEC] + ["decoder.norm.weight", "decoder.norm.bias"]
    assert list(t.state_dict()) == want
    for name, p in t.named_parameters():
        v = arr(p)
        if p.dim() > 1:  # xavier_uniform_
            assert np.abs(v).max() <= math.sqrt(6 / (v.shape[0] + v.shape[1])) + 1e-7, name
        elif "in_proj_bias" in name or "out_proj.bias" in name:
            assert (v == 0).all(), name
    e0, e1 = (arr(t.encoder.layers[i].linear1.weight) for i in range(2))
    assert not np.allclose(e0, e1)  # drawn again after the copies
    d = nn.TransformerDecoder(nn.TransformerDecoderLayer(8, 2, 16), 2)
    a, b = d.layers[0], d.layers[1]
    assert a is not b and np.array_equal(arr(a.linear1.weight), arr(b.linear1.weight))
    assert repr(d).startswith("TransformerDecoder(\n  (layers): ModuleList(\n    (0-1): 2 x "
                              "TransformerDecoderLayer(")


def _ln(v, m):
    mu, var = v.mean(-1, keepdims=True), v.var(-1, keepdims=True)
    return (v - mu) / np.sqrt(var + m.eps) * arr(m.weight) + arr(m.bias)


def _mha(m, q, kv, add):
    """NumPy MultiheadAttention on (N, L, E) with an additive mask."""
    E, H = m.embed_dim, m.num_heads
    W, b = arr(m.in_proj_weight), arr(m.in_proj_bias)
    proj = [x @ W[i * E:(i + 1) * E].T + b[i * E:(i + 1) * E] for i, x in enumerate((q, kv, kv))]
    N = q.shape[0]
    qh, kh, vh = (x.reshape(N, x.shape[1], H, E // H).transpose(0, 2, 1, 3) for x in proj)
    s = qh @ kh.transpose(0, 1, 3, 2) / math.sqrt(E // H) + add
    w = np.exp(s - s.max(-1, keepdims=True))
    o = (w / w.sum(-1, keepdims=True)) @ vh
    return o.transpose(0, 2, 1, 3).reshape(q.shape) @ arr(m.out_proj.weight).T + \
        arr(m.out_proj.bias)


@pytest.mark.parametrize("norm_first", [False, True])
@pytest.mark.parametrize("act", ["relu", "gelu"])
def test_decoder_layer_matches_numpy(norm_first, act):
    layer = nn.TransformerDecoderLayer(8, 2, 16, dropout=0.0, activation=act, batch_first=True,
                                       norm_first=norm_first).double()
    with tg.no_grad():
        for p in layer.parameters():
            p.copy_(t64(RNG.standard_normal(p.shape) * 0.4))
    tgt, mem = RNG.standard_normal((2, 4, 8)), RNG.standard_normal((2, 5, 8))
    causal = np.triu(np.full((4, 4), -np.inf), 1)
    kp = np.zeros((2, 1, 1, 5))
    kp[1, ..., 3:] = -np.inf
    l1, l2 = layer.linear1, layer.linear2
    erf = np.vectorize(math.erf)
    f = (lambda v: np.maximum(v, 0)) if act == "relu" else \
        (lambda v: 0.5 * v * (1 + erf(v / math.sqrt(2))))
    ff = lambda v: f(v @ arr(l1.weight).T + arr(l1.bias)) @ arr(l2.weight).T + arr(l2.bias)  # noqa
    sa = lambda v: _mha(layer.self_attn, v, v, causal)  # noqa: E731
    ca = lambda v: _mha(layer.multihead_attn, v, mem, kp)  # noqa: E731
    x = tgt
    if norm_first:
        x = x + sa(_ln(x, layer.norm1))
        x = x + ca(_ln(x, layer.norm2))
        x = x + ff(_ln(x, layer.norm3))
    else:
        x = _ln(x + sa(x), layer.norm1)
        x = _ln(x + ca(x), layer.norm2)
        x = _ln(x + ff(x), layer.norm3)
    got = layer(t64(tgt), t64(mem), tgt_mask=nn.Transformer.generate_square_subsequent_mask(
        4, dtype=tg.float64), memory_key_padding_mask=tg.tensor(np.isinf(kp[:, 0, 0])))
    np.testing.assert_allclose(arr(got), x, rtol=1e-10, atol=1e-12)


def test_decoder_layer_gradients_by_finite_differences():
    layer = nn.TransformerDecoderLayer(4, 2, 6, dropout=0.0).double().requires_grad_(False)
    mask = nn.Transformer.generate_square_subsequent_mask(3, dtype=tg.float64)
    fd_check(lambda t, m: layer(t, m, tgt_mask=mask), [RNG.standard_normal((3, 2, 4)),
                                                       RNG.standard_normal((2, 2, 4))])


def test_transformer_is_causal_with_the_square_subsequent_mask():
    t = _quiet(nn.Transformer, 8, 2, 1, 2, 16, dropout=0.0).double()
    src, tgt = t64(RNG.standard_normal((5, 2, 8))), RNG.standard_normal((4, 2, 8))
    mask = t.generate_square_subsequent_mask(4, dtype=tg.float64)
    y = arr(t(src, t64(tgt), tgt_mask=mask))
    tgt2 = tgt.copy()
    tgt2[2:] += 1.0
    y2 = arr(t(src, t64(tgt2), tgt_mask=mask))
    np.testing.assert_allclose(y2[:2], y[:2], rtol=1e-12)
    assert not np.allclose(y2[2:], y[2:])
    unb = arr(t(src[:, 0], t64(tgt[:, 0]), tgt_mask=mask))  # unbatched
    np.testing.assert_allclose(unb, y[:, 0], rtol=1e-10, atol=1e-12)


def test_square_subsequent_mask_values():
    m = nn.Transformer.generate_square_subsequent_mask(3)
    assert m.dtype == tg.float32
    np.testing.assert_array_equal(arr(m), [[0, -np.inf, -np.inf], [0, 0, -np.inf], [0, 0, 0]])
    assert nn.Transformer.generate_square_subsequent_mask(2, dtype=tg.float64).dtype == \
        tg.float64


def test_transformer_dropout_train_and_eval():
    t = _quiet(nn.Transformer, 8, 2, 1, 1, 16, dropout=0.5, batch_first=True)
    src, tgt = tg.randn(2, 5, 8), tg.randn(2, 3, 8)
    assert not np.allclose(arr(t(src, tgt)), arr(t(src, tgt)))
    t.eval()
    np.testing.assert_array_equal(arr(t(src, tgt)), arr(t(src, tgt)))


def test_transformer_bad_input():
    t = _quiet(nn.Transformer, 8, 2, 1, 1, 16)
    with pytest.raises(RuntimeError, match="batch number"):
        t(tg.randn(5, 2, 8), tg.randn(4, 3, 8))
    with pytest.raises(RuntimeError, match="feature number"):
        t(tg.randn(5, 2, 8), tg.randn(4, 2, 6))
    with pytest.raises(RuntimeError, match="activation should be relu/gelu"):
        nn.TransformerDecoderLayer(8, 2, activation="tanh")
    layer = nn.TransformerDecoderLayer(8, 2, 16)
    with pytest.raises(RuntimeError, match="Need attn_mask"):
        layer(tg.randn(3, 2, 8), tg.randn(4, 2, 8), tgt_is_causal=True)
    with pytest.raises(AssertionError):
        nn.TransformerDecoderLayer(8, 3)
