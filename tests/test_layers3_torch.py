"""Conv3d, LazyLinear, EmbeddingBag, affine_grid / grid_sample, ctc_loss / CTCLoss and
TransformerDecoderLayer / TransformerDecoder / Transformer against PyTorch: values and
gradients with weights copied across (state dicts load both ways), and the exception
class of bad calls."""

import warnings

import numpy as np
import pytest

import tapegrad as tg
import tapegrad.nn as nn

pytestmark = pytest.mark.torch
RNG = np.random.default_rng(35)


@pytest.fixture
def torch():
    return pytest.importorskip("torch")


def _np(t):
    return t.detach().numpy()


def _run(lib, fn, arrays, grad=True):
    """fn(*tensors) in lib, then (output, input grads) for sum(out * cos(arange))."""
    ts = [lib.tensor(a, requires_grad=grad and np.issubdtype(np.asarray(a).dtype, np.floating))
          for a in arrays]
    out = fn(lib, *ts)
    G = np.cos(np.arange(out.numel())).reshape(tuple(out.shape))
    if grad:
        (out * lib.tensor(G)).sum().backward()
    return [_np(out)] + [None if t.grad is None else t.grad.numpy() for t in ts]


def _same(a, b, tol=1e-10):
    for x, y in zip(a, b):
        if x is None or y is None:
            continue
        np.testing.assert_allclose(x, y, rtol=tol, atol=tol)


@pytest.mark.parametrize("kw", [dict(), dict(stride=2, padding=1),
                                dict(stride=(1, 2, 1), padding=(2, 0, 1), dilation=(2, 1, 2),
                                     groups=2), dict(padding="same", dilation=(1, 2, 1))])
def test_conv3d_matches_torch(torch, kw):
    g = kw.get("groups", 1)
    arrays = [RNG.standard_normal((2, 4, 6, 7, 5)), RNG.standard_normal((6, 4 // g, 3, 2, 3)),
              RNG.standard_normal(6)]
    f = lambda lib, x, w, b: lib.nn.functional.conv3d(x, w, b, **kw)  # noqa: E731
    _same(_run(tg, f, arrays), _run(torch, f, arrays))


@pytest.mark.parametrize("mode", ["zeros", "reflect", "replicate", "circular"])
def test_conv3d_module_matches_torch(torch, mode):
    a = nn.Conv3d(2, 4, (3, 2, 3), stride=(2, 1, 1), padding=1, padding_mode=mode).double()
    b = torch.nn.Conv3d(2, 4, (3, 2, 3), stride=(2, 1, 1), padding=1, padding_mode=mode).double()
    b.load_state_dict({k: torch.tensor(_np(v)) for k, v in a.state_dict().items()})
    assert repr(a) == repr(b)
    x = RNG.standard_normal((2, 2, 5, 4, 4))
    _same(_run(tg, lambda lib, t: a(t), [x]), _run(torch, lambda lib, t: b(t), [x]))


def test_lazy_linear_matches_torch(torch):
    a, b = nn.LazyLinear(3), torch.nn.LazyLinear(3)
    assert repr(a) == repr(b)
    x = RNG.standard_normal((4, 5)).astype(np.float32)
    a(tg.tensor(x)), b(torch.tensor(x))
    assert repr(a) == repr(b) and type(a).__name__ == type(b).__name__ == "Linear"
    b.load_state_dict({k: torch.tensor(_np(v)) for k, v in a.state_dict().items()})
    np.testing.assert_allclose(_np(a(tg.tensor(x))), _np(b(torch.tensor(x))), rtol=1e-5,
                               atol=1e-6)


BAGS = [
    dict(inp=[1, 2, 4, 5, 4, 3, 2, 9], offs=[0, 4], mode="mean"),
    dict(inp=[1, 2, 4, 5, 4, 3, 2, 9], offs=[0, 4, 4], mode="sum"),
    dict(inp=[1, 2, 4, 5, 4, 3, 2, 9], offs=[0, 4, 4], mode="max"),
    dict(inp=[1, 2, 4, 5, 4, 3, 2, 9], offs=[0, 3, 8], mode="max", include_last_offset=True),
    dict(inp=[1, 2, 4, 5, 4, 3, 2, 9], offs=[0, 3, 6], mode="mean", padding_idx=4),
    dict(inp=[1, 2, 4, 5, 4, 3, 2, 9], offs=[0, 3, 6], mode="max", padding_idx=-6),
    dict(inp=[1, 2, 4, 5, 4, 3, 2, 9], offs=[0, 3, 6], mode="sum", psw=True, padding_idx=2),
    dict(inp=[[1, 2, 4, 5], [4, 3, 2, 9]], mode="sum", psw=True),
    dict(inp=[[1, 2, 4, 5], [4, 3, 2, 9]], mode="mean", include_last_offset=True),
    dict(inp=[1, 2, 4, 5, 4, 3, 2, 9], offs=[0, 3, 6], mode="sum", max_norm=1.0),
    dict(inp=[[1, 2, 4, 5], [4, 3, 2, 9]], mode="mean", scale_grad_by_freq=True),
]


@pytest.mark.parametrize("c", BAGS)
def test_embedding_bag_matches_torch(torch, c):
    W = RNG.standard_normal((10, 4)) * 2
    psw = RNG.standard_normal(np.shape(c["inp"])) if c.get("psw") else None
    kw = {k: v for k, v in c.items() if k not in ("inp", "offs", "psw")}
    res = []
    for lib in (tg, torch):
        w = lib.tensor(W.copy(), requires_grad=True)
        p = None if psw is None else lib.tensor(psw, requires_grad=True)
        offs = lib.tensor(c["offs"]) if "offs" in c else None
        out = lib.nn.functional.embedding_bag(lib.tensor(c["inp"]), w, offs,
                                              per_sample_weights=p, **kw)
        (out * lib.tensor(np.cos(np.arange(out.numel())).reshape(tuple(out.shape)))).sum() \
            .backward()
        res.append([_np(out), _np(w), w.grad.numpy(), None if p is None else p.grad.numpy()])
    if c.get("scale_grad_by_freq"):  # PyTorch's CPU kernel divides by other rows' counts
        res[0][2] = res[1][2] = None
    _same(*res, tol=1e-12)


def test_embedding_bag_module_matches_torch(torch):
    a = nn.EmbeddingBag(10, 3, mode="sum", padding_idx=1, include_last_offset=True)
    b = torch.nn.EmbeddingBag(10, 3, mode="sum", padding_idx=1, include_last_offset=True)
    b.load_state_dict({k: torch.tensor(_np(v)) for k, v in a.state_dict().items()})
    assert repr(a) == repr(b)
    x, o = [3, 1, 4, 1, 5, 9, 2], [0, 2, 2, 7]
    np.testing.assert_allclose(_np(a(tg.tensor(x), tg.tensor(o))),
                               _np(b(torch.tensor(x), torch.tensor(o))), rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("ac", [False, True])
@pytest.mark.parametrize("size", [(2, 3, 5, 6), (2, 3, 4, 5, 6), (2, 1, 1, 4)])
def test_affine_grid_matches_torch(torch, ac, size):
    th = RNG.standard_normal((2, len(size) - 2, len(size) - 1))
    f = lambda lib, t: lib.nn.functional.affine_grid(t, size, align_corners=ac)  # noqa: E731
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        _same(_run(tg, f, [th]), _run(torch, f, [th]))


@pytest.mark.parametrize("mode", ["bilinear", "nearest"])
@pytest.mark.parametrize("pm", ["zeros", "border", "reflection"])
@pytest.mark.parametrize("ac", [False, True])
def test_grid_sample_matches_torch(torch, mode, pm, ac):
    x, g = RNG.standard_normal((2, 3, 4, 5)), RNG.uniform(-1.8, 1.8, (2, 6, 7, 2))
    f = lambda lib, a, b: lib.nn.functional.grid_sample(a, b, mode, pm, ac)  # noqa: E731
    r = _run(tg, f, [x, g]), _run(torch, f, [x, g])
    if mode == "nearest":  # the grid's gradient: None here, zeros in PyTorch
        assert r[0][2] is None and not r[1][2].any()
    _same(*r)
    x32, g32 = x.astype(np.float32), g.astype(np.float32)
    np.testing.assert_allclose(_np(f(tg, tg.tensor(x32), tg.tensor(g32))),
                               _np(f(torch, torch.tensor(x32), torch.tensor(g32))), atol=2e-6)


@pytest.mark.parametrize("reduction", ["none", "mean", "sum"])
@pytest.mark.parametrize("raw", [False, True])
@pytest.mark.parametrize("flat", [False, True])
def test_ctc_loss_matches_torch(torch, reduction, raw, flat):
    x = RNG.standard_normal((7, 3, 5))
    tgt = [[1, 2, 2], [3, 4, 0], [1, 1, 0]]
    Tl, Sl = (7, 5, 6), (3, 2, 2)

    def f(lib, z):
        lp = z if raw else z.log_softmax(2)
        t = lib.tensor([1, 2, 2, 3, 4, 1, 1]) if flat else lib.tensor(tgt)
        return lib.nn.functional.ctc_loss(lp, t, lib.tensor(Tl), lib.tensor(Sl),
                                          reduction=reduction)
    _same(_run(tg, f, [x]), _run(torch, f, [x]))


def test_ctc_loss_module_zero_infinity_and_float32_match_torch(torch):
    x = RNG.standard_normal((4, 2, 3))
    tgt = [[1, 2], [1, 1]]  # the second needs 3 steps and gets 2
    for zi in (False, True):
        f = lambda lib, z: lib.nn.CTCLoss(blank=0, reduction="none", zero_infinity=zi)(  # noqa
            z.log_softmax(2), lib.tensor(tgt), (4, 2), (2, 2))
        a, b = _run(tg, f, [x], grad=zi), _run(torch, f, [x], grad=zi)
        _same(a, b)
        assert np.isinf(a[0][1]) != zi
    x32 = x.astype(np.float32)
    np.testing.assert_allclose(
        _np(tg.nn.functional.ctc_loss(tg.tensor(x32).log_softmax(2), tg.tensor(tgt), (4, 4),
                                      (2, 2))),
        _np(torch.nn.functional.ctc_loss(torch.tensor(x32).log_softmax(2), torch.tensor(tgt),
                                         (4, 4), (2, 2))), rtol=1e-5)


def _pair(torch, name, **kw):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        a, b = getattr(nn, name)(**kw).double(), getattr(torch.nn, name)(**kw).double()
    sd = {k: _np(v) + 0.2 * RNG.standard_normal(tuple(v.shape)) for k, v in b.state_dict().items()}
    a.load_state_dict({k: tg.tensor(v) for k, v in sd.items()})
    b.load_state_dict({k: torch.tensor(v) for k, v in sd.items()})
    assert list(a.state_dict()) == list(b.state_dict())
    return a, b


@pytest.mark.filterwarnings("ignore:Support for mismatched key_padding_mask")
@pytest.mark.parametrize("batch_first", [False, True])
@pytest.mark.parametrize("norm_first", [False, True])
@pytest.mark.parametrize("act", ["relu", "gelu"])
def test_transformer_matches_torch(torch, batch_first, norm_first, act):
    a, b = _pair(torch, "Transformer", d_model=8, nhead=2, num_encoder_layers=2,
                 num_decoder_layers=2, dim_feedforward=16, dropout=0.0, activation=act,
                 batch_first=batch_first, norm_first=norm_first)
    assert repr(a) == repr(b)
    S, T, N = 5, 4, 3
    sh = (lambda L: (N, L, 8)) if batch_first else (lambda L: (L, N, 8))
    src, tgt = RNG.standard_normal(sh(S)), RNG.standard_normal(sh(T))
    kp_s = np.array([[False] * S, [False] * 3 + [True] * 2, [False] * 4 + [True]])
    kp_t = np.array([[False] * T, [False] * 3 + [True], [False] * T])
    mem_mask = RNG.standard_normal((T, S))

    def f(lib, s, t):
        m = a if lib is tg else b
        return m(s, t, tgt_mask=lib.nn.Transformer.generate_square_subsequent_mask(
            T, dtype=lib.float64), memory_mask=lib.tensor(mem_mask),
            src_key_padding_mask=lib.tensor(kp_s), tgt_key_padding_mask=lib.tensor(kp_t),
            memory_key_padding_mask=lib.tensor(kp_s))
    ra, rb = _run(tg, f, [src, tgt]), _run(torch, f, [src, tgt])
    ra += [p.grad.numpy() for p in a.parameters()]
    rb += [p.grad.numpy() for p in b.parameters()]
    _same(ra, rb, tol=1e-9)


def test_decoder_and_float32_eval_match_torch(torch):
    kw = dict(d_model=8, nhead=4, dim_feedforward=12, dropout=0.1)
    a, b = _pair(torch, "TransformerDecoderLayer", **kw)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        da, db = nn.TransformerDecoder(a, 2, nn.LayerNorm(8)).float().eval(), \
            torch.nn.TransformerDecoder(b, 2, torch.nn.LayerNorm(8)).float().eval()
    db.load_state_dict({k: torch.tensor(_np(v)) for k, v in da.state_dict().items()})
    tgt, mem = (RNG.standard_normal(s).astype(np.float32) for s in ((4, 2, 8), (6, 2, 8)))
    mask = np.triu(np.ones((4, 4), bool), 1)
    ya = da(tg.tensor(tgt), tg.tensor(mem), tgt_mask=tg.tensor(mask))
    with torch.no_grad():
        yb = db(torch.tensor(tgt), torch.tensor(mem), tgt_mask=torch.tensor(mask))
    np.testing.assert_allclose(_np(ya), yb.numpy(), rtol=1e-5, atol=1e-5)
    a, b = a.float().eval(), b.float().eval()
    with torch.no_grad():  # unbatched, one layer
        yb = b(torch.tensor(tgt[:, 0]), torch.tensor(mem[:, 0])).numpy()
    np.testing.assert_allclose(_np(a(tg.tensor(tgt[:, 0]), tg.tensor(mem[:, 0]))), yb,
                               rtol=1e-5, atol=1e-5)


BAD = [
    lambda L: L.nn.functional.conv3d(L.randn(1, 2, 4, 4, 4, 4), L.randn(2, 2, 2, 2, 2)),
    lambda L: L.nn.functional.conv3d(L.randn(1, 2, 1, 4, 4), L.randn(2, 2, 2, 2, 2)),
    lambda L: L.nn.functional.conv3d(L.randn(1, 3, 4, 4, 4), L.randn(2, 2, 2, 2, 2)),
    lambda L: L.nn.functional.conv3d(L.randn(1, 2, 4, 4, 4), L.randn(2, 2, 2, 2, 2), stride=(1, 2)),
    lambda L: L.nn.Conv3d(2, 4, 3, stride=2, padding="same"),
    lambda L: L.nn.functional.embedding_bag(L.tensor([1, 2]), L.randn(10, 3)),
    lambda L: L.nn.functional.embedding_bag(L.tensor([1, 2]), L.randn(10, 3), L.tensor([1])),
    lambda L: L.nn.functional.embedding_bag(L.tensor([1, 12]), L.randn(10, 3), L.tensor([0])),
    lambda L: L.nn.functional.embedding_bag(L.tensor([1, 2]), L.randn(10, 3), L.tensor([0]),
                                            per_sample_weights=L.ones(2)),
    lambda L: L.nn.functional.embedding_bag(L.tensor([1, 2]), L.randn(10, 3), L.tensor([0]),
                                            mode="max", scale_grad_by_freq=True),
    lambda L: L.nn.EmbeddingBag(4, 2, padding_idx=4),
    lambda L: L.nn.functional.affine_grid(L.randn(2, 2, 3), (2, 3, 4), align_corners=False),
    lambda L: L.nn.functional.affine_grid(L.randn(2, 3, 4), (2, 3, 4, 5), align_corners=False),
    lambda L: L.nn.functional.grid_sample(L.randn(2, 3, 4, 5), L.rand(1, 6, 7, 2),
                                          align_corners=False),
    lambda L: L.nn.functional.grid_sample(L.randn(2, 3, 4, 5), L.rand(2, 6, 7, 2), mode="x",
                                          align_corners=False),
    lambda L: L.nn.functional.ctc_loss(L.randn(6, 2, 5), L.tensor([[1, 2], [1, 2]]), (7, 5),
                                       (2, 2)),
    lambda L: L.nn.functional.ctc_loss(L.randn(6, 2, 5), L.tensor([[1, 2], [1, 2]]), (6, 5),
                                       (2, 2), blank=5),
    lambda L: L.nn.functional.ctc_loss(L.randn(6, 2, 5), L.tensor([[1, 2], [1, 2]]), (6, 5),
                                       (2, 2), reduction="x"),
    lambda L: L.nn.Transformer(8, 2, 1, 1, 16)(L.randn(5, 2, 8), L.randn(4, 3, 8)),
    lambda L: L.nn.TransformerDecoderLayer(8, 2, 16)(L.randn(3, 2, 8), L.randn(4, 2, 8),
                                                     tgt_is_causal=True),
    lambda L: L.nn.LazyLinear(3).weight.shape,
]


@pytest.mark.parametrize("k", range(len(BAD)))
def test_bad_input_raises_the_torch_class(torch, k):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        with pytest.raises(Exception) as want:
            BAD[k](torch)
        with pytest.raises(want.type):
            BAD[k](tg)
