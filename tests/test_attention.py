"""F.scaled_dot_product_attention and nn.MultiheadAttention."""

import math

import numpy as np
import pytest

import tapegrad as tg
import tapegrad.nn as nn
import tapegrad.nn.functional as F
from tapegrad.autograd.gradcheck import gradcheck

RNG = np.random.default_rng(2024)


def _softmax(s):
    e = np.exp(s - s.max(-1, keepdims=True))
    return e / e.sum(-1, keepdims=True)


def _ref_sdpa(q, k, v, add=None, scale=None):
    s = q @ np.swapaxes(k, -1, -2) * (1 / math.sqrt(q.shape[-1]) if scale is None else scale)
    if add is not None:
        s = s + add
    return _softmax(s) @ v


def _qkv():
    return (RNG.standard_normal(s) for s in ((2, 3, 4, 8), (2, 3, 5, 8), (2, 3, 5, 6)))


def test_sdpa_matches_numpy_with_masks():
    q, k, v = _qkv()
    T = tg.tensor
    np.testing.assert_allclose(F.scaled_dot_product_attention(T(q), T(k), T(v)).numpy(),
                               _ref_sdpa(q, k, v), rtol=1e-12)
    bm = RNG.random((4, 5)) > 0.3
    bm[:, 0] = True
    np.testing.assert_allclose(
        F.scaled_dot_product_attention(T(q), T(k), T(v), attn_mask=T(bm)).numpy(),
        _ref_sdpa(q, k, v, np.where(bm, 0, -np.inf)), rtol=1e-12)
    fm = RNG.standard_normal((3, 4, 5))
    np.testing.assert_allclose(
        F.scaled_dot_product_attention(T(q), T(k), T(v), attn_mask=T(fm), scale=0.2).numpy(),
        _ref_sdpa(q, k, v, fm, 0.2), rtol=1e-12)
    causal = np.where(np.tril(np.ones((4, 5), bool)), 0, -np.inf)
    np.testing.assert_allclose(
        F.scaled_dot_product_attention(T(q), T(k), T(v), is_causal=True).numpy(),
        _ref_sdpa(q, k, v, causal), rtol=1e-12)


def test_sdpa_fully_masked_row_gives_zeros():
    q, k, v = _qkv()
    bm = np.ones((4, 5), bool)
    bm[2] = False
    y = F.scaled_dot_product_attention(tg.tensor(q), tg.tensor(k), tg.tensor(v),
                                       attn_mask=tg.tensor(bm)).numpy()
    assert not np.isnan(y).any() and (y[:, :, 2] == 0).all()


@pytest.mark.parametrize("kw", [dict(), dict(is_causal=True), dict(scale=0.7)])
def test_sdpa_gradcheck(kw):
    q, k, v = (tg.tensor(a[:1, :2], requires_grad=True) for a in _qkv())
    assert gradcheck(lambda q, k, v: F.scaled_dot_product_attention(q, k, v, **kw), (q, k, v))


def test_sdpa_gradcheck_float_mask_with_grad():
    q, k, v = (tg.tensor(a[:1, :1], requires_grad=True) for a in _qkv())
    m = tg.tensor(RNG.standard_normal((4, 5)), requires_grad=True)
    assert gradcheck(lambda q, k, v, m: F.scaled_dot_product_attention(q, k, v, attn_mask=m),
                     (q, k, v, m))


def test_sdpa_dropout_uses_global_generator():
    q, k, v = (tg.tensor(a) for a in _qkv())
    tg.manual_seed(5)
    a = F.scaled_dot_product_attention(q, k, v, dropout_p=0.5).numpy()
    tg.manual_seed(5)
    b = F.scaled_dot_product_attention(q, k, v, dropout_p=0.5).numpy()
    np.testing.assert_array_equal(a, b)
    assert not np.allclose(a, F.scaled_dot_product_attention(q, k, v).numpy())
    tg.manual_seed(5)  # the same as dropping the weights by hand with the same draws
    w = F.softmax(q @ k.transpose(-2, -1) / math.sqrt(8), -1)
    np.testing.assert_allclose(a, (F.dropout(w, 0.5) @ v).numpy(), rtol=1e-12)
    ones = tg.ones(1, 1, 1000, 1)
    out = F.scaled_dot_product_attention(ones, ones, tg.ones(1, 1, 1000, 1), dropout_p=0.25)
    assert abs(float(out.mean()) - 1.0) < 0.1


def test_sdpa_errors():
    q, k, v = (tg.tensor(a) for a in _qkv())
    with pytest.raises(RuntimeError, match="should not be set when is_causal"):
        F.scaled_dot_product_attention(q, k, v, attn_mask=tg.ones(4, 5, dtype=tg.bool),
                                       is_causal=True)
    with pytest.raises(RuntimeError, match="same floating-point dtype"):
        F.scaled_dot_product_attention(q, k.float(), v)
    with pytest.raises(RuntimeError, match="shapes do not fit"):
        F.scaled_dot_product_attention(q, v, v)


def _ref_mha(m, q, k, v, add=None):
    """NumPy MultiheadAttention on (N, T, E) inputs with m's weights."""
    W, b = m.in_proj_weight.detach().numpy(), m.in_proj_bias.detach().numpy()
    E, H = m.embed_dim, m.num_heads
    proj = [x @ W[i * E:(i + 1) * E].T + b[i * E:(i + 1) * E] for i, x in enumerate((q, k, v))]
    sp = [p.reshape(p.shape[0], p.shape[1], H, E // H).transpose(0, 2, 1, 3) for p in proj]
    s = sp[0] @ sp[1].transpose(0, 1, 3, 2) / math.sqrt(E // H)
    w = _softmax(s if add is None else s + add)
    o = (w @ sp[2]).transpose(0, 2, 1, 3).reshape(q.shape)
    return o @ m.out_proj.weight.detach().numpy().T + m.out_proj.bias.detach().numpy(), w


def test_mha_parameters_and_init():
    tg.manual_seed(0)
    m = nn.MultiheadAttention(16, 4)
    names = [n for n, _ in m.named_parameters()]
    assert names == ["in_proj_weight", "in_proj_bias", "out_proj.weight", "out_proj.bias"]
    assert m.in_proj_weight.shape == (48, 16) and m.head_dim == 4
    bound = math.sqrt(6 / (48 + 16))
    assert float(m.in_proj_weight.abs().max()) <= bound
    assert float(m.in_proj_bias.abs().sum()) == 0 and float(m.out_proj.bias.abs().sum()) == 0
    assert type(m.out_proj).__name__ == "NonDynamicallyQuantizableLinear"
    assert list(nn.MultiheadAttention(8, 2, bias=False).state_dict()) == [
        "in_proj_weight", "out_proj.weight"]
    with pytest.raises(AssertionError, match="divisible by num_heads"):
        nn.MultiheadAttention(10, 3)
    with pytest.raises(NotImplementedError, match="kdim/vdim"):
        nn.MultiheadAttention(8, 2, kdim=4)


def test_mha_matches_numpy_and_layouts():
    m = nn.MultiheadAttention(8, 2, batch_first=True).double()
    with tg.no_grad():
        m.in_proj_bias.copy_(tg.tensor(RNG.standard_normal(24)))
    q, k = RNG.standard_normal((3, 4, 8)), RNG.standard_normal((3, 6, 8))
    kp = RNG.random((3, 6)) < 0.3
    kp[:, 0] = False
    am = RNG.standard_normal((4, 6))
    add = am[None, None] + np.where(kp, -np.inf, 0)[:, None, None, :]
    out, w = m(tg.tensor(q), tg.tensor(k), tg.tensor(k), key_padding_mask=tg.tensor(kp),
               attn_mask=tg.tensor(am))
    ro, rw = _ref_mha(m, q, k, k, add)
    np.testing.assert_allclose(out.detach().numpy(), ro, rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(w.detach().numpy(), rw.mean(1), rtol=1e-10, atol=1e-12)
    # sequence-first layout and self-attention (one projection) give the same numbers
    m.batch_first = False
    x = tg.tensor(q.transpose(1, 0, 2))
    o2, w2 = m(x, x, x, average_attn_weights=False)
    ro2, rw2 = _ref_mha(m, q, q, q)
    np.testing.assert_allclose(o2.detach().numpy(), ro2.transpose(1, 0, 2), rtol=1e-10)
    assert w2.shape == (3, 2, 4, 4)
    np.testing.assert_allclose(w2.detach().numpy(), rw2, rtol=1e-10)
    o3, none = m(x[:, 0], x[:, 0], x[:, 0], need_weights=False)
    assert none is None and o3.shape == (4, 8)
    np.testing.assert_allclose(o3.detach().numpy(), ro2[0], rtol=1e-10)


def test_mha_gradcheck_float64():
    m = nn.MultiheadAttention(4, 2, batch_first=True).double()
    am = tg.tensor(np.triu(np.ones((3, 3), bool), 1))
    x = tg.tensor(RNG.standard_normal((2, 3, 4)), requires_grad=True)
    y = tg.tensor(RNG.standard_normal((2, 3, 4)), requires_grad=True)
    assert gradcheck(lambda x, y: m(x, y, y, attn_mask=am)[0], (x, y))

    def loss():
        out, w = m(x, y, y, attn_mask=am)
        return float(((out * out).sum() + (w * w).sum()).detach())

    m.zero_grad()
    out, w = m(x, y, y, attn_mask=am)
    ((out * out).sum() + (w * w).sum()).backward()
    for p in m.parameters():  # central differences on every parameter entry
        num = np.zeros(p.shape)
        for j in np.ndindex(*p.shape):
            vals = []
            for eps in (1e-6, -1e-6):
                with tg.no_grad():
                    p[j] += eps
                vals.append(loss())
                with tg.no_grad():
                    p[j] -= eps
            num[j] = (vals[0] - vals[1]) / 2e-6
        np.testing.assert_allclose(p.grad.numpy(), num, rtol=1e-5, atol=1e-7)


def test_mha_backward_reaches_all_parameters():
    m = nn.MultiheadAttention(8, 2, batch_first=True, dropout=0.1)
    x = tg.randn(2, 5, 8)
    out, w = m(x, x, x)
    (out.sum() + w.sum()).backward()
    assert all(p.grad is not None and float(p.grad.abs().sum()) > 0 for p in m.parameters())
    with pytest.raises(RuntimeError, match="Need attn_mask"):
        m(x, x, x, is_causal=True)


@pytest.fixture
def torch_ref():
    return pytest.importorskip("torch")


@pytest.mark.torch
@pytest.mark.parametrize("kw", [dict(), dict(is_causal=True), dict(mask="bool"),
                                dict(mask="float"), dict(scale=0.3)])
def test_sdpa_vs_torch(torch_ref, kw):
    q, k, v = _qkv()
    L, S = 4, 5
    extra = {}
    if kw.get("mask") == "bool":
        bm = RNG.random((L, S)) > 0.4
        bm[1] = False
        extra["attn_mask"] = bm
    elif kw.get("mask") == "float":
        extra["attn_mask"] = RNG.standard_normal((2, 1, L, S))
    args = {n: kw[n] for n in ("is_causal", "scale") if n in kw}
    res = []
    for lib in (tg, torch_ref):
        ts = [lib.tensor(a, requires_grad=True) for a in (q, k, v)]
        mk = {n: lib.tensor(a) for n, a in extra.items()}
        y = lib.nn.functional.scaled_dot_product_attention(*ts, **args, **mk)
        (y * lib.tensor(np.linspace(-1, 1, y.numel()).reshape(tuple(y.shape)))).sum().backward()
        res.append([y.detach().numpy()] + [t.grad.numpy() for t in ts])
    for a, b in zip(*res):
        np.testing.assert_allclose(a, b, rtol=1e-10, atol=1e-12)


def _copy_mha(tm, m):
    with tg.no_grad():
        for (n, p), (tn, tp) in zip(m.named_parameters(), tm.named_parameters()):
            assert n == tn
            p.copy_(tg.tensor(tp.detach().numpy()))


@pytest.mark.torch
@pytest.mark.parametrize("batch_first", [False, True])
@pytest.mark.parametrize("bias", [True, False])
@pytest.mark.parametrize("need_weights,average", [(True, True), (True, False), (False, True)])
@pytest.mark.parametrize("masks", ["none", "bool", "float"])
@pytest.mark.parametrize("self_attn", [True, False])
def test_mha_vs_torch(torch_ref, batch_first, bias, need_weights, average, masks, self_attn):
    E, H, N, L, S = 12, 3, 2, 4, (4 if self_attn else 6)
    tm = torch_ref.nn.MultiheadAttention(E, H, bias=bias, batch_first=batch_first).double()
    m = nn.MultiheadAttention(E, H, bias=bias, batch_first=batch_first).double()
    if bias:
        with torch_ref.no_grad():
            tm.in_proj_bias.normal_()
            tm.out_proj.bias.normal_()
    _copy_mha(tm, m)
    shape = (lambda T: (N, T, E)) if batch_first else (lambda T: (T, N, E))
    q = RNG.standard_normal(shape(L))
    kv = q if self_attn else RNG.standard_normal(shape(S))
    kp = RNG.random((N, S)) < 0.3
    kp[:, 0] = False
    am = RNG.random((L, S)) < 0.3
    am[:, 1] = False
    res = []
    for lib, mod in ((tg, m), (torch_ref, tm)):
        x = lib.tensor(q, requires_grad=True)
        y = x if self_attn else lib.tensor(kv, requires_grad=True)
        mk = {}
        if masks == "bool":
            mk = dict(key_padding_mask=lib.tensor(kp), attn_mask=lib.tensor(am))
        elif masks == "float":
            mk = dict(attn_mask=lib.tensor(np.where(am, -2.5, 0.3)),
                      key_padding_mask=lib.tensor(np.where(kp, -1.5, 0.0)))
        out, w = mod(x, y, y, need_weights=need_weights, average_attn_weights=average, **mk)
        loss = (out * lib.tensor(np.cos(np.arange(out.numel())).reshape(tuple(out.shape)))).sum()
        if w is not None:
            loss = loss + (w * w).sum()
        loss.backward()
        res.append([out.detach().numpy(), None if w is None else w.detach().numpy(),
                    x.grad.numpy(), y.grad.numpy()] +
                   [p.grad.numpy() for p in mod.parameters()])
    for a, b in zip(*res):
        if a is None or b is None:
            assert a is None and b is None
        else:
            np.testing.assert_allclose(a, b, rtol=1e-9, atol=1e-11)


@pytest.mark.torch
def test_mha_float32_eval_vs_torch(torch_ref):
    tm = torch_ref.nn.MultiheadAttention(16, 4, batch_first=True).eval()
    m = nn.MultiheadAttention(16, 4, batch_first=True).eval()
    _copy_mha(tm, m)
    x = RNG.standard_normal((3, 7, 16)).astype(np.float32)
    with torch_ref.no_grad():
        ot, wt = tm(*(torch_ref.tensor(x),) * 3)
    og, wg = m(*(tg.tensor(x),) * 3)
    np.testing.assert_allclose(og.detach().numpy(), ot.numpy(), rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(wg.detach().numpy(), wt.numpy(), rtol=1e-5, atol=1e-6)


def _ref_encoder_layer(layer, x, add, norm_first, act):
    """NumPy TransformerEncoderLayer (dropout 0) on (N, S, E) with layer's weights."""
    def ln(v, mod):
        mu, var = v.mean(-1, keepdims=True), v.var(-1, keepdims=True)
        y = (v - mu) / np.sqrt(var + mod.eps)
        return y * mod.weight.detach().numpy() + mod.bias.detach().numpy()

    def lin(v, mod):
        return v @ mod.weight.detach().numpy().T + mod.bias.detach().numpy()

    def sa(v):
        return _ref_mha(layer.self_attn, v, v, v, add)[0]

    def ff(v):
        return lin(act(lin(v, layer.linear1)), layer.linear2)

    if norm_first:
        x = x + sa(ln(x, layer.norm1))
        return x + ff(ln(x, layer.norm2))
    x = ln(x + sa(x), layer.norm1)
    return ln(x + ff(x), layer.norm2)


@pytest.mark.parametrize("norm_first,activation", [(False, "relu"), (True, "gelu")])
def test_encoder_layer_matches_numpy_and_gradcheck(norm_first, activation):
    from scipy.special import erf

    layer = nn.TransformerEncoderLayer(8, 2, 16, dropout=0.0, batch_first=True,
                                       norm_first=norm_first, activation=activation).double()
    names = [n for n, _ in layer.named_children()]
    assert names == ["self_attn", "linear1", "dropout", "linear2", "norm1", "norm2",
                     "dropout1", "dropout2"]
    x = RNG.standard_normal((2, 5, 8))
    m = np.triu(np.ones((5, 5), bool), 1)
    act = (lambda v: np.maximum(v, 0)) if activation == "relu" else \
        (lambda v: 0.5 * v * (1 + erf(v / math.sqrt(2))))
    ref = _ref_encoder_layer(layer, x, np.where(m, -np.inf, 0.0), norm_first, act)
    y = layer(tg.tensor(x), src_mask=tg.tensor(m))
    np.testing.assert_allclose(y.detach().numpy(), ref, rtol=1e-10, atol=1e-12)
    xt = tg.tensor(x[:1, :3], requires_grad=True)
    assert gradcheck(lambda v: layer(v, src_mask=tg.tensor(m[:3, :3])), (xt,))


def test_encoder_layer_dropout_and_errors():
    layer = nn.TransformerEncoderLayer(8, 2, 16, dropout=0.5)
    x = tg.randn(4, 2, 8)
    tg.manual_seed(1)
    a = layer(x)
    tg.manual_seed(1)
    np.testing.assert_array_equal(a.detach().numpy(), layer(x).detach().numpy())
    layer.eval()
    np.testing.assert_array_equal(layer(x).detach().numpy(), layer(x).detach().numpy())
    with pytest.raises(RuntimeError, match="activation should be relu/gelu"):
        nn.TransformerEncoderLayer(8, 2, activation="tanh")


@pytest.mark.torch
@pytest.mark.parametrize("kw", [dict(), dict(norm_first=True, activation="gelu",
                                             batch_first=True), dict(bias=False)])
@pytest.mark.parametrize("masks", [False, True])
def test_encoder_layer_vs_torch(torch_ref, kw, masks):
    tl = torch_ref.nn.TransformerEncoderLayer(16, 4, 32, dropout=0.0, **kw).double()
    gl = nn.TransformerEncoderLayer(16, 4, 32, dropout=0.0, **kw).double()
    assert list(tl.state_dict()) == list(gl.state_dict())
    tp = dict(tl.named_parameters())
    with torch_ref.no_grad():
        for p in tp.values():
            p.normal_(0, 0.3)
    with tg.no_grad():
        for n, p in gl.named_parameters():
            p.copy_(tg.tensor(tp[n].detach().numpy()))
    N, S = 3, 5
    x = RNG.standard_normal((N, S, 16) if kw.get("batch_first") else (S, N, 16))
    sm = np.triu(np.ones((S, S), bool), 1)
    kp = np.zeros((N, S), bool)
    kp[1, -2:] = True
    res = []
    for lib, mod in ((tg, gl), (torch_ref, tl)):
        xt = lib.tensor(x, requires_grad=True)
        mk = dict(src_mask=lib.tensor(sm), src_key_padding_mask=lib.tensor(kp)) if masks else {}
        y = mod(xt, **mk)
        (y * lib.tensor(np.sin(np.arange(y.numel())).reshape(tuple(y.shape)))).sum().backward()
        res.append([y.detach().numpy(), xt.grad.numpy()] +
                   [p.grad.numpy() for p in mod.parameters()])
    for a, b in zip(*res):
        np.testing.assert_allclose(a, b, rtol=1e-9, atol=1e-10)
