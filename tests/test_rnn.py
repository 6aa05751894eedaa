"""Recurrent layers: shapes, a NumPy reference, finite differences and (marked) PyTorch."""

import itertools

import numpy as np
import pytest

import tapegrad as tg
from tapegrad import nn
from tapegrad.tensor import bump


def arr(t):
    return np.array(t.detach()._value())


def _sig(x):
    return 1 / (1 + np.exp(-x))


def _np_step(mode, x, h, c, w_ih, w_hh, b_ih, b_hh):
    """NumPy reference of one step of each recurrence (gate orders i,f,g,o and r,z,n)."""
    gi, gh = x @ w_ih.T + b_ih, h @ w_hh.T + b_hh
    if mode == "LSTM":
        i, f, g, o = np.split(gi + gh, 4, -1)
        c = _sig(f) * c + _sig(i) * np.tanh(g)
        return _sig(o) * np.tanh(c), c
    if mode == "GRU":
        ir, iz, inn = np.split(gi, 3, -1)
        hr, hz, hn = np.split(gh, 3, -1)
        r, z = _sig(ir + hr), _sig(iz + hz)
        n = np.tanh(inn + r * hn)
        return (1 - z) * n + z * h, None
    if mode == "RNN_RELU":
        return np.maximum(gi + gh, 0), None
    return np.tanh(gi + gh), None


def _np_run(m, x, h0, c0):
    """NumPy reference of a whole (L, N, H_in) multi-layer, maybe bidirectional, run."""
    ndir = 2 if m.bidirectional else 1
    layer_in, hn, cn = x, [], []
    for layer in range(m.num_layers):
        outs = []
        for d in range(ndir):
            sfx = f"_l{layer}" + ("_reverse" if d else "")
            p = [arr(getattr(m, n + sfx)) for n in ("weight_ih", "weight_hh", "bias_ih",
                                                    "bias_hh")]
            k = layer * ndir + d
            h, c = h0[k], (c0[k] if c0 is not None else None)
            out = [None] * len(x)
            for t in (reversed(range(len(x))) if d else range(len(x))):
                h, c = _np_step(m.mode, layer_in[t], h, c, *p)
                out[t] = h
            outs.append(np.stack(out))
            hn.append(h), cn.append(c)
        layer_in = np.concatenate(outs, -1)
    return layer_in, np.stack(hn), (np.stack(cn) if c0 is not None else None)


def _build(kind, **kw):
    if kind == "RNN_RELU":
        return nn.RNN(3, 4, nonlinearity="relu", **kw)
    return getattr(nn, kind)(3, 4, **kw)


@pytest.mark.parametrize("kind", ["RNN", "RNN_RELU", "LSTM", "GRU"])
def test_matches_numpy_reference(kind):
    tg.manual_seed(0)
    m = _build(kind, num_layers=2, bidirectional=True).double()
    rng = np.random.default_rng(1)
    x = rng.standard_normal((5, 2, 3))
    h0 = rng.standard_normal((4, 2, 4))
    c0 = rng.standard_normal((4, 2, 4)) if kind == "LSTM" else None
    hx = (tg.tensor(h0), tg.tensor(c0)) if kind == "LSTM" else tg.tensor(h0)
    out, st = m(tg.tensor(x), hx)
    eo, eh, ec = _np_run(m, x, h0, c0)
    np.testing.assert_allclose(arr(out), eo, rtol=1e-12, atol=1e-13)
    if kind == "LSTM":
        np.testing.assert_allclose(arr(st[0]), eh, rtol=1e-12, atol=1e-13)
        np.testing.assert_allclose(arr(st[1]), ec, rtol=1e-12, atol=1e-13)
    else:
        np.testing.assert_allclose(arr(st), eh, rtol=1e-12, atol=1e-13)


@pytest.mark.parametrize("kind", ["RNN", "LSTM", "GRU"])
def test_cells_match_numpy_reference(kind):
    tg.manual_seed(0)
    m = getattr(nn, kind + "Cell")(3, 4).double()
    rng = np.random.default_rng(2)
    x, h, c = (rng.standard_normal(s) for s in ((2, 3), (2, 4), (2, 4)))
    p = [arr(getattr(m, n)) for n in ("weight_ih", "weight_hh", "bias_ih", "bias_hh")]
    eh, ec = _np_step("RNN_TANH" if kind == "RNN" else kind, x, h, c, *p)
    if kind == "LSTM":
        rh, rc = m(tg.tensor(x), (tg.tensor(h), tg.tensor(c)))
        np.testing.assert_allclose(arr(rc), ec, rtol=1e-12)
        uh, uc = m(tg.tensor(x[0]), (tg.tensor(h[0]), tg.tensor(c[0])))
        assert uh.shape == (4,) and uc.shape == (4,)
    else:
        rh = m(tg.tensor(x), tg.tensor(h))
        uh = m(tg.tensor(x[0]), tg.tensor(h[0]))
    np.testing.assert_allclose(arr(rh), eh, rtol=1e-12)
    np.testing.assert_allclose(arr(uh), eh[0], rtol=1e-12)
    zero = m(tg.tensor(x))
    zh = zero[0] if kind == "LSTM" else zero
    np.testing.assert_allclose(arr(zh), _np_step("RNN_TANH" if kind == "RNN" else kind, x,
                                                 0 * h, 0 * c, *p)[0], rtol=1e-12)


OPTS = list(itertools.product(["RNN", "LSTM", "GRU"], [1, 2], [False, True], [False, True],
                              [False, True], [False, True], [False, True]))


@pytest.mark.parametrize("kind,layers,bidir,batch_first,bias,unbatched,with_h0", OPTS)
def test_shapes(kind, layers, bidir, batch_first, bias, unbatched, with_h0):
    m = _build(kind, num_layers=layers, bidirectional=bidir, batch_first=batch_first,
               bias=bias)
    D, L, N = (2 if bidir else 1), 5, 2
    x = tg.randn(L, 3) if unbatched else (tg.randn(N, L, 3) if batch_first else
                                          tg.randn(L, N, 3))
    sshape = (D * layers, 4) if unbatched else (D * layers, N, 4)
    hx = None
    if with_h0:
        hx = (tg.randn(*sshape), tg.randn(*sshape)) if kind == "LSTM" else tg.randn(*sshape)
    out, st = m(x, hx)
    oshape = (L, D * 4) if unbatched else ((N, L, D * 4) if batch_first else (L, N, D * 4))
    assert tuple(out.shape) == oshape
    for s in (st if kind == "LSTM" else (st,)):
        assert tuple(s.shape) == sshape
    assert len(list(m.parameters())) == layers * D * (4 if bias else 2)


def test_parameters_names_init_and_repr():
    tg.manual_seed(0)
    m = nn.GRU(3, 16, num_layers=2, bidirectional=True)
    names = [n for n, _ in m.named_parameters()]
    assert names[:8] == ["weight_ih_l0", "weight_hh_l0", "bias_ih_l0", "bias_hh_l0",
                         "weight_ih_l0_reverse", "weight_hh_l0_reverse", "bias_ih_l0_reverse",
                         "bias_hh_l0_reverse"]
    assert tuple(m.weight_ih_l1.shape) == (48, 32) and tuple(m.weight_hh_l1.shape) == (48, 16)
    for p in m.parameters():
        v = arr(p)
        assert np.abs(v).max() <= 0.25 and np.abs(v).max() > 0.2
    assert repr(nn.LSTM(10, 20, num_layers=2)) == "LSTM(10, 20, num_layers=2)"
    assert repr(nn.RNN(3, 4, 2, nonlinearity="relu", bias=False, batch_first=True,
                       dropout=0.5, bidirectional=True)) == (
        "RNN(3, 4, num_layers=2, bias=False, batch_first=True, dropout=0.5, "
        "bidirectional=True)")
    assert repr(nn.GRUCell(3, 4, bias=False)) == "GRUCell(3, 4, bias=False)"
    assert repr(nn.RNNCell(3, 4, nonlinearity="relu")) == "RNNCell(3, 4, nonlinearity=relu)"
    assert repr(nn.LSTMCell(3, 4)) == "LSTMCell(3, 4)"
    assert tuple(nn.LSTMCell(3, 4).weight_ih.shape) == (16, 3)
    assert nn.RNNCell(3, 4, bias=False).bias_ih is None


def test_dropout_between_layers_training_only():
    tg.manual_seed(0)
    m = nn.LSTM(3, 4, num_layers=2, dropout=0.5)
    x = tg.randn(6, 2, 3)
    m.eval()
    a, b = arr(m(x)[0]), arr(m(x)[0])
    np.testing.assert_array_equal(a, b)
    m.train()
    c = arr(m(x)[0])
    assert not np.allclose(a, c)
    with pytest.warns(UserWarning, match="num_layers greater than 1"):
        m1 = nn.LSTM(3, 4, num_layers=1, dropout=0.5)  # one layer: nothing to drop between
    np.testing.assert_array_equal(arr(m1(x)[0]), arr(m1(x)[0]))


def test_bad_input():
    m = nn.LSTM(3, 4)
    with pytest.raises(RuntimeError, match="input_size"):
        m(tg.randn(5, 2, 7))
    with pytest.raises(ValueError, match="2D or 3D"):
        m(tg.randn(5, 2, 3, 1))
    with pytest.raises(RuntimeError, match=r"hidden size \(1, 2, 4\)"):
        m(tg.randn(5, 2, 3), (tg.randn(1, 3, 4), tg.randn(1, 2, 4)))
    with pytest.raises(RuntimeError, match="cell size"):
        m(tg.randn(5, 2, 3), (tg.randn(1, 2, 4), tg.randn(2, 2, 4)))
    with pytest.raises(ValueError, match="nonlinearity"):
        nn.RNN(3, 4, nonlinearity="sigmoid")
    with pytest.raises(ValueError, match="dropout"):
        nn.GRU(3, 4, dropout=1.5)
    with pytest.raises(RuntimeError, match="input_size"):
        nn.GRUCell(3, 4)(tg.randn(2, 5))
    with pytest.raises(RuntimeError, match="hidden size"):
        nn.GRUCell(3, 4)(tg.randn(2, 3), tg.randn(3, 4))


def _fd_check(m, x, loss_of):
    """Compare autograd gradients of loss_of(m(x)) with central differences (float64)."""
    xt = tg.tensor(x, requires_grad=True)
    loss_of(m(xt)).backward()
    eps = 1e-6
    targets = [(xt, "x")] + list((p, n) for n, p in m.named_parameters())
    for t, name in targets:
        g = arr(t.grad)
        a = t._arr
        for idx in list(np.ndindex(a.shape))[:: max(1, a.size // 7)]:
            old = a[idx]
            vals = []
            for s in (eps, -eps):
                a[idx] = old + s
                bump(t._vc)
                with tg.no_grad():
                    vals.append(float(loss_of(m(t if t is xt else tg.tensor(x))).item()))
            a[idx] = old
            bump(t._vc)
            fd = (vals[0] - vals[1]) / (2 * eps)
            assert abs(fd - g[idx]) <= 1e-6 + 1e-5 * abs(fd), (name, idx, fd, g[idx])


@pytest.mark.parametrize("kind", ["LSTM", "GRU", "RNN"])
def test_finite_difference_gradients(kind):
    tg.manual_seed(3)
    m = getattr(nn, kind)(2, 3, num_layers=2, bidirectional=True).double()
    rng = np.random.default_rng(4)
    x = rng.standard_normal((4, 2, 2))
    w = tg.tensor(rng.standard_normal((4, 2, 6)))
    wh = tg.tensor(rng.standard_normal((4, 2, 3)))

    def loss_of(res):
        out, st = res
        h = st[0] if kind == "LSTM" else st
        loss = (out * w).sum() + (h * wh).sum()
        return loss + (st[1] * wh).sum() if kind == "LSTM" else loss
    _fd_check(m, x, loss_of)


@pytest.mark.parametrize("kind", ["LSTMCell", "GRUCell"])
def test_finite_difference_cells(kind):
    tg.manual_seed(5)
    m = getattr(nn, kind)(2, 3).double()
    x = np.random.default_rng(6).standard_normal((2, 2))
    _fd_check(m, x, lambda r: ((r[0] * 1.5 + r[1]).sum() if kind == "LSTMCell"
                               else (r * r).sum()))


# ---- against PyTorch: copied weights, outputs, final states, all gradients --------------
@pytest.fixture
def torch_ref():
    return pytest.importorskip("torch")


def _copy_to_tapegrad(b, a, dtype):
    with tg.no_grad():
        for n, p in a.named_parameters():
            p.copy_(tg.tensor(getattr(b, n).detach().numpy(), dtype=dtype))


CASES = [
    ("RNN", dict(num_layers=2, bidirectional=True)),
    ("RNN", dict(nonlinearity="relu", batch_first=True)),
    ("LSTM", dict(num_layers=2, bidirectional=True, batch_first=True)),
    ("LSTM", dict(bias=False)),
    ("GRU", dict(num_layers=2, bidirectional=True)),
    ("GRU", dict(batch_first=True, num_layers=2)),
]


@pytest.mark.torch
@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize("with_h0", [False, True])
@pytest.mark.parametrize("kind,kw", CASES, ids=[f"{c[0]}-{i}" for i, c in enumerate(CASES)])
def test_matches_torch(torch_ref, kind, kw, with_h0, dtype):
    torch = torch_ref
    torch.manual_seed(0)
    b = getattr(torch.nn, kind)(3, 4, **kw).to(getattr(torch, dtype))
    a = getattr(nn, kind)(3, 4, **kw).to(getattr(tg, dtype))
    _copy_to_tapegrad(b, a, getattr(tg, dtype))
    assert repr(a) == repr(b)
    tol = dict(rtol=1e-4, atol=1e-5) if dtype == "float32" else dict(rtol=1e-10, atol=1e-12)
    rng = np.random.default_rng(1)
    D = 2 if kw.get("bidirectional") else 1
    nl = kw.get("num_layers", 1)
    xv = rng.standard_normal((2, 5, 3) if kw.get("batch_first") else (5, 2, 3))
    hv = [rng.standard_normal((D * nl, 2, 4)) for _ in range(2)]
    ta = lambda v: tg.tensor(v, dtype=getattr(tg, dtype), requires_grad=True)  # noqa: E731
    tb = lambda v: torch.tensor(v, dtype=getattr(torch, dtype), requires_grad=True)  # noqa
    xa, xb = ta(xv), tb(xv)
    ha, hb = [ta(v) for v in hv], [tb(v) for v in hv]
    if with_h0:
        oa, sa = a(xa, tuple(ha) if kind == "LSTM" else ha[0])
        ob, sb = b(xb, tuple(hb) if kind == "LSTM" else hb[0])
    else:
        (oa, sa), (ob, sb) = a(xa), b(xb)
    sa, sb = (sa, sb) if kind == "LSTM" else ((sa,), (sb,))
    np.testing.assert_allclose(arr(oa), ob.detach().numpy(), **tol)
    for u, v in zip(sa, sb):
        np.testing.assert_allclose(arr(u), v.detach().numpy(), **tol)
    go = rng.standard_normal(tuple(ob.shape))
    gs = [rng.standard_normal(tuple(v.shape)) for v in sb]
    la = (oa * tg.tensor(go, dtype=oa.dtype)).sum()
    lb = (ob * torch.tensor(go, dtype=ob.dtype)).sum()
    for u, v, g in zip(sa, sb, gs):
        la = la + (u * tg.tensor(g, dtype=u.dtype)).sum()
        lb = lb + (v * torch.tensor(g, dtype=v.dtype)).sum()
    la.backward(), lb.backward()
    np.testing.assert_allclose(arr(xa.grad), xb.grad.numpy(), **tol)
    if with_h0:
        for u, v in list(zip(ha, hb))[: 2 if kind == "LSTM" else 1]:
            np.testing.assert_allclose(arr(u.grad), v.grad.numpy(), **tol)
    names_b = [n for n, _ in b.named_parameters()]
    assert [n for n, _ in a.named_parameters()] == names_b
    for n, p in a.named_parameters():
        np.testing.assert_allclose(arr(p.grad), getattr(b, n).grad.numpy(), **tol)


@pytest.mark.torch
@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize("kind,kw", [("RNNCell", {}), ("RNNCell", dict(nonlinearity="relu")),
                                     ("LSTMCell", {}), ("GRUCell", {}),
                                     ("GRUCell", dict(bias=False))])
def test_cells_match_torch(torch_ref, kind, kw, dtype):
    torch = torch_ref
    torch.manual_seed(0)
    b = getattr(torch.nn, kind)(3, 4, **kw).to(getattr(torch, dtype))
    a = getattr(nn, kind)(3, 4, **kw).to(getattr(tg, dtype))
    _copy_to_tapegrad(b, a, getattr(tg, dtype))
    assert repr(a) == repr(b)
    tol = dict(rtol=1e-4, atol=1e-5) if dtype == "float32" else dict(rtol=1e-10, atol=1e-12)
    rng = np.random.default_rng(2)
    for shape in ((2, 3), (3,)):
        xv = rng.standard_normal(shape)
        hv = [rng.standard_normal(shape[:-1] + (4,)) for _ in range(2)]
        xa = tg.tensor(xv, dtype=getattr(tg, dtype), requires_grad=True)
        xb = torch.tensor(xv, dtype=getattr(torch, dtype), requires_grad=True)
        ha = [tg.tensor(v, dtype=getattr(tg, dtype)) for v in hv]
        hb = [torch.tensor(v, dtype=getattr(torch, dtype)) for v in hv]
        ra = a(xa, tuple(ha) if kind == "LSTMCell" else ha[0])
        rb = b(xb, tuple(hb) if kind == "LSTMCell" else hb[0])
        ra, rb = (ra, rb) if kind == "LSTMCell" else ((ra,), (rb,))
        la, lb = 0, 0
        for u, v in zip(ra, rb):
            np.testing.assert_allclose(arr(u), v.detach().numpy(), **tol)
            g = rng.standard_normal(tuple(v.shape))
            la = la + (u * tg.tensor(g, dtype=u.dtype)).sum()
            lb = lb + (v * torch.tensor(g, dtype=v.dtype)).sum()
        la.backward(), lb.backward()
        np.testing.assert_allclose(arr(xa.grad), xb.grad.numpy(), **tol)
    for n, p in a.named_parameters():
        np.testing.assert_allclose(arr(p.grad), getattr(b, n).grad.numpy(), **tol)
