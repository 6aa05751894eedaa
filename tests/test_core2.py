"""The small integer dtypes (uint8, int8, int16), the in-place shape methods (t_, transpose_,
squeeze_, unsqueeze_, resize_), set_printoptions, Tensor.half and Tensor.data_ptr: fixed
values always, PyTorch itself under the `torch` marker."""

import warnings

import numpy as np
import pytest

import tapegrad as tg
from fdcheck import fd_check

DTYPES = ["bool", "uint8", "int8", "int16", "int32", "int64", "float32", "float64"]
# PyTorch 2.x's promotion of two tensors with dims (row: left operand), dtype names
PROMOTE = {
    "bool": "bool uint8 int8 int16 int32 int64 float32 float64",
    "uint8": "uint8 uint8 int16 int16 int32 int64 float32 float64",
    "int8": "int8 int16 int8 int16 int32 int64 float32 float64",
    "int16": "int16 int16 int16 int16 int32 int64 float32 float64",
    "int32": "int32 int32 int32 int32 int32 int64 float32 float64",
    "int64": "int64 int64 int64 int64 int64 int64 float32 float64",
    "float32": "float32 float32 float32 float32 float32 float32 float32 float64",
    "float64": "float64 " * 8,
}


def _t(M, name, zero_d=False):
    """A small tensor of dtype `name` of module M (tapegrad or torch)."""
    v = [True, False] if name == "bool" else [3, 1]
    return M.tensor(v[0] if zero_d else v, dtype=getattr(M, name))


def _vals(t):
    return t.tolist(), str(t.dtype).split(".")[-1]


@pytest.fixture
def default_print():
    tg.set_printoptions(profile="default")
    yield
    tg.set_printoptions(profile="default")


# ---- dtypes ------------------------------------------------------------------------------
def test_dtype_objects():
    assert (tg.uint8.itemsize, tg.int8.itemsize, tg.int16.itemsize) == (1, 1, 2)
    assert not tg.uint8.is_signed and tg.int8.is_signed and tg.int16.is_signed
    assert not any(d.is_floating_point for d in (tg.uint8, tg.int8, tg.int16))
    assert tg.short is tg.int16 and repr(tg.uint8) == "torch.uint8"
    u = tg.tensor([255, 0, 7], dtype=tg.uint8)
    assert (u.type(), u.char().type(), u.short().type()) == \
        ("torch.ByteTensor", "torch.CharTensor", "torch.ShortTensor")
    assert u.byte() is u and u.element_size() == 1 and u.short().nbytes == 6
    assert not u.is_signed() and u.char().is_signed()
    assert (tg.iinfo(tg.uint8).max, tg.iinfo(tg.int8).min, tg.iinfo(tg.int16).bits) == \
        (255, -128, 16)
    assert u.numpy().dtype == np.uint8 and tg.from_numpy(np.zeros(2, np.int8)).dtype is tg.int8
    assert repr(u) == "tensor([255,   0,   7], dtype=torch.uint8)"
    assert repr(tg.tensor([], dtype=tg.int16)) == "tensor([], dtype=torch.int16)"


def test_promotion_table():
    for i, a in enumerate(DTYPES):
        for b, want in zip(DTYPES, PROMOTE[a].split()):
            assert (_t(tg, a) + _t(tg, b)).dtype is getattr(tg, want), (a, b)
    # a 0-d tensor or a python scalar lifts only the category
    assert (_t(tg, "uint8") + _t(tg, "int64", True)).dtype is tg.uint8
    assert (_t(tg, "int8") + _t(tg, "float64", True)).dtype is tg.float64  # a higher category
    assert (_t(tg, "uint8") + 1).dtype is tg.uint8 and (_t(tg, "uint8") + 1.5).dtype is tg.float32
    assert (_t(tg, "bool") + 1).dtype is tg.int64 and (_t(tg, "int16") / 2).dtype is tg.float32


def test_wraparound_and_scalar_conversion():
    u = tg.tensor([255, 0, 7], dtype=tg.uint8)
    i8 = tg.tensor([127, -128, 3], dtype=tg.int8)
    cases = [(u + 1, [0, 1, 8]), (u + 300, [43, 44, 51]), (u - 1, [254, 255, 6]),
             (u * 2, [254, 0, 14]), (-u, [1, 0, 249]), (300 - u, [45, 44, 37]),
             (i8 + 1, [-128, -127, 4]), (abs(i8), [127, -128, 3]), (i8 * 300, [-44, 0, -124]),
             (u ** 2, [1, 0, 49]), (2 ** u, [0, 1, 128]), (u // 2, [127, 0, 3]),
             (u % 3, [0, 0, 1]), (u.sub(1, alpha=2), [253, 254, 5]),
             (u.clamp(min=-5), [255, 251, 251])]
    for got, want in cases:
        assert got.tolist() == want and got.dtype in (tg.uint8, tg.int8)
    assert _vals(tg.ones(2, dtype=tg.int16) * 40000) == ([-25536, -25536], "int16")
    assert _vals(u + i8) == ([382, -128, 10], "int16")
    assert _vals(u.add(i8, alpha=2)) == ([509, -256, 13], "int16")
    assert _vals(u / 2) == ([127.5, 0.0, 3.5], "float32")
    assert _vals(tg.tensor([-1.5, 300.0]).to(tg.uint8)) == ([255, 44], "uint8")
    assert _vals(tg.tensor([-1, -200], dtype=tg.uint8)) == ([255, 56], "uint8")
    assert _vals(tg.zeros(2, dtype=tg.uint8).fill_(-1)) == ([255, 255], "uint8")
    for bad in (lambda: tg.tensor([256], dtype=tg.uint8), lambda: tg.tensor([-256], dtype=tg.uint8),
                lambda: tg.tensor([128], dtype=tg.int8), lambda: tg.full((2,), 300, dtype=tg.uint8),
                lambda: u.clone().fill_(300), lambda: u.clamp(max=300), lambda: u ** 300):
        with pytest.raises(RuntimeError, match="without overflow"):
            bad()
    with pytest.raises(RuntimeError, match="with a bool tensor is not supported"):
        u - True


def test_comparisons_reductions_inplace():
    u = tg.tensor([255, 0, 7], dtype=tg.uint8)
    assert (u < 300).tolist() == [False, True, True]  # 300 wraps to 44, as in PyTorch
    assert (u == 256).tolist() == [False, True, False] and not (u > -1).any()
    assert _vals(u.sum()) == (262, "int64") and _vals(u.max()) == (255, "uint8")
    assert _vals(u.cumsum(0)) == ([255, 255, 262], "int64")
    assert _vals(u.any()) == (1, "uint8") and _vals(u.all()) == (0, "uint8")
    assert u.topk(2)[0].tolist() == [255, 7] and u.sort(descending=True)[1].tolist() == [0, 2, 1]
    a = tg.tensor([250], dtype=tg.uint8)
    a += 10
    a *= 3
    assert _vals(a) == ([12], "uint8")
    with pytest.raises(RuntimeError, match="Float can't be cast to the desired output type Byte"):
        a += 1.5
    with pytest.raises(RuntimeError, match="only Tensors of floating point"):
        tg.zeros(2, dtype=tg.uint8).requires_grad_()
    with pytest.raises(RuntimeError, match="floating point"):
        tg.tensor([1], dtype=tg.int8, requires_grad=True)
    w = tg.tensor([1.0, 2.0], requires_grad=True)
    (w * tg.tensor([3, 250], dtype=tg.uint8)).sum().backward()
    assert w.grad.tolist() == [3.0, 250.0]


def test_indexing_with_small_ints():
    x = tg.arange(6.0).reshape(2, 3)
    m = tg.tensor([[1, 0, 1], [0, 1, 0]], dtype=tg.uint8)
    with pytest.warns(UserWarning, match="indexing with dtype torch.uint8 is now deprecated"):
        assert x[m].tolist() == [0.0, 2.0, 4.0]
    with pytest.warns(UserWarning, match="uint8"):
        assert x[:, tg.tensor([1, 0, 1], dtype=tg.uint8)].tolist() == [[0.0, 2.0], [3.0, 5.0]]
    with pytest.warns(UserWarning, match="where received a uint8 condition"):
        assert tg.where(m, x, -x).tolist() == [[0.0, -1.0, 2.0], [-3.0, 4.0, -5.0]]
    with pytest.raises(IndexError, match="long, int, byte or bool"):
        x[tg.tensor([0, 1], dtype=tg.int8)]
    with pytest.raises(RuntimeError):
        x.masked_select(m)
    with pytest.raises(RuntimeError):
        x.masked_fill(m, 0.0)
    assert x[tg.tensor([1, 0], dtype=tg.int32)].tolist() == [[3.0, 4.0, 5.0], [0.0, 1.0, 2.0]]


def test_half_and_data_ptr():
    x = tg.arange(6.0)
    for name in ("half", "bfloat16"):
        with pytest.raises(TypeError, match=f"{name}\\(\\): dtype torch.*not supported"):
            getattr(x, name)()
    assert x[2:].data_ptr() - x.data_ptr() == 8 and x.view(2, 3).data_ptr() == x.data_ptr()
    assert x.numpy().ctypes.data == x.data_ptr() and tg.empty(0).data_ptr() == 0
    assert isinstance((x * 2).data_ptr(), int)


# ---- in-place shape methods --------------------------------------------------------------
def test_inplace_shape_on_a_plain_tensor():
    base = tg.arange(6.0)
    x = base.view(2, 3)
    v = x._version
    assert x.t_() is x and x.shape == (3, 2) and x.stride() == (1, 3) and x._version == v + 1
    x[0, 1] = 100.0  # the same storage: element [1, 0] of the 2x3 view
    assert base[3].item() == 100.0
    y = tg.ones(2, 3, 4)
    assert y.transpose_(0, -1).shape == (4, 3, 2) and y.stride() == (1, 4, 12)
    z = tg.ones(2, 1, 3, 1)
    assert z.squeeze_(1).shape == (2, 3, 1) and z.squeeze_((0, 2)).shape == (2, 3)
    assert z.unsqueeze_(-1).shape == (2, 3, 1) and z.squeeze_().shape == (2, 3)
    assert tg.ones(3).t_().shape == (3,) and tg.ones(2, 3).swapaxes_(0, 1).shape == (3, 2)
    with pytest.raises(RuntimeError, match="t_\\(\\) expects a tensor with <= 2 dimensions"):
        tg.ones(2, 3, 4).t_()
    with pytest.raises(IndexError):
        tg.ones(2, 3).transpose_(0, 2)


def test_inplace_shape_and_grad_rules():
    leaf = tg.ones(2, 3, requires_grad=True)
    for op in (lambda t: t.t_(), lambda t: t.transpose_(0, 1), lambda t: t.squeeze_(),
               lambda t: t.unsqueeze_(0)):
        with pytest.raises(RuntimeError, match="a leaf Variable that requires grad is being "
                                               "used in an in-place operation"):
            op(leaf)
    with tg.no_grad():
        leaf.t_()
    assert leaf.shape == (3, 2) and leaf.is_leaf and leaf.requires_grad
    w = tg.randn(2, 3, requires_grad=True)
    y = w * 1.0
    z = y * y  # saves y
    y.t_()
    with pytest.raises(RuntimeError, match="modified by an inplace operation"):
        z.sum().backward()
    d = (w * 2.0).detach()  # a tape value without grad: squeeze_ keeps the slot, t_ copies
    d.unsqueeze_(0)
    assert d.shape == (1, 2, 3) and d.squeeze_().t_().shape == (3, 2)


def _shape_chain(x):
    y = x * 1.0
    y.t_()
    y.unsqueeze_(1)
    y = y * tg.arange(1.0, 4.0, dtype=tg.float64).reshape(3, 1, 1)
    y.transpose_(0, 2)
    y.squeeze_(1)
    return y.exp()


def test_inplace_shape_gradients_by_finite_differences():
    a = np.random.default_rng(3).standard_normal((2, 3))
    out = fd_check(_shape_chain, [a])
    assert out.shape == (2, 3) and type(out.grad_fn).__name__ == "ExpBackward0"
    w = tg.tensor(a, requires_grad=True)
    y = w * 1.0
    y.t_()
    assert type(y.grad_fn).__name__ == "TBackward0" and y.shape == (3, 2)


def test_resize_():
    a = tg.arange(6.0)
    v = a.view(2, 3)
    assert a.resize_(2, 2).tolist() == [[0.0, 1.0], [2.0, 3.0]] and v.shape == (2, 3)
    a[0, 0] = 9.0
    assert v[0, 0].item() == 9.0  # still the same storage
    assert tg.arange(6.0).resize_(8).tolist() == [0.0, 1, 2, 3, 4, 5, 0, 0]
    assert tg.arange(6.0).reshape(2, 3).t().resize_(3).tolist() == [0.0, 1.0, 2.0]
    assert tg.arange(6.0)[2:].resize_((4,)).tolist() == [2.0, 3.0, 4.0, 5.0]
    assert tg.arange(6.0).resize_(0, 3).shape == (0, 3)
    assert tg.arange(6.0).flip(0).resize_(2).tolist() == [5.0, 4.0]  # (a copy in PyTorch)
    with pytest.raises(RuntimeError, match="not resizable"):
        tg.from_numpy(np.arange(6.0)).resize_(8)
    with pytest.raises(RuntimeError, match="cannot resize variables that require grad"):
        tg.ones(2, requires_grad=True).resize_(3)


# ---- print options -----------------------------------------------------------------------
PRINT_CASES = [
    ({"precision": 2}, "tg.tensor([1.23456, 2.5])", "tensor([1.23, 2.50])"),
    ({"precision": 0}, "tg.tensor([1.6e-6, 2.5])", "tensor([2e-06, 2e+00])"),
    ({"sci_mode": True, "precision": 2}, "tg.tensor([1.5, -2.25, 0.0, float('inf')])",
     "tensor([ 1.50e+00, -2.25e+00,  0.00e+00,       inf])"),
    ({"sci_mode": False}, "tg.tensor([1e-5, 1e5])", "tensor([     0.0000, 100000.0000])"),
    ({"sci_mode": True}, "tg.tensor([1, 2])", "tensor([1, 2])"),
    ({"sci_mode": True}, "tg.tensor([0.0, 0.0])", "tensor([0., 0.])"),
    ({"threshold": 5}, "tg.arange(10.)", "tensor([0., 1., 2.,  ..., 7., 8., 9.])"),
    ({"threshold": 5, "edgeitems": 1}, "tg.arange(12.).reshape(3, 4)",
     "tensor([[ 0.,  ...,  3.],\n        ...,\n        [ 8.,  ..., 11.]])"),
    ({"edgeitems": 0, "threshold": 3}, "tg.arange(10, dtype=tg.uint8)",
     "tensor([...], size=(10,), dtype=torch.uint8)"),
    ({"edgeitems": 0}, "tg.arange(3.)", "tensor([0., 1., 2.], size=(3,))"),
    ({"linewidth": 20}, "tg.arange(7.)", "tensor([0., 1., 2.,\n        3., 4., 5.,\n        6.])"),
    ({"linewidth": 40}, "tg.ones(3, requires_grad=True) * 2.5",
     "tensor([2.5000, 2.5000, 2.5000],\n       grad_fn=<MulBackward0>)"),
    ({"profile": "short"}, "tg.arange(5.) / 3", "tensor([0.00, 0.33, 0.67, 1.00, 1.33])"),
    ({"profile": "short"}, "tg.arange(2000.) / 3",
     "tensor([0.00e+00, 3.33e-01,  ..., 6.66e+02, 6.66e+02])"),
    ({"profile": "full", "linewidth": 200}, "tg.arange(1001)[-1:]", "tensor([1000])"),
    ({"profile": "short", "precision": 6}, "tg.tensor([1/3])", "tensor([0.333333])"),
]


@pytest.mark.parametrize("options,expr,want", PRINT_CASES)
def test_set_printoptions(default_print, options, expr, want):
    tg.set_printoptions(**options)
    assert repr(eval(expr)) == want


def test_printoptions_state(default_print):
    from tapegrad.printing import get_printoptions, printoptions

    tg.set_printoptions(profile="full")
    assert len(repr(tg.arange(2000))) > 8000  # never summarized
    tg.set_printoptions(sci_mode=True)
    tg.set_printoptions(precision=2)  # sci_mode goes back to None, as in PyTorch
    assert get_printoptions() == {"precision": 2, "threshold": float("inf"), "edgeitems": 3,
                                  "linewidth": 80, "sci_mode": None}
    tg.set_printoptions(profile="no such profile")  # ignored, as in PyTorch
    assert get_printoptions()["precision"] == 2
    with printoptions(precision=1):
        assert repr(tg.tensor([0.25, 1.5])) == "tensor([0.2, 1.5])"
    assert repr(tg.tensor([0.25, 1.5])) == "tensor([0.25, 1.50])"
    with pytest.raises(ValueError, match="precision"):
        tg.set_printoptions(precision=-1)
    tg.set_printoptions(profile="default")
    assert repr(tg.arange(2000)).count("...") == 1


# ---- against PyTorch ---------------------------------------------------------------------
@pytest.mark.torch
def test_promotion_against_pytorch():
    torch = pytest.importorskip("torch")
    for a in DTYPES:
        for b in DTYPES:
            for za, zb in ((False, False), (False, True), (True, False)):
                want = (_t(torch, a, za) + _t(torch, b, zb)).dtype
                got = (_t(tg, a, za) + _t(tg, b, zb)).dtype
                assert repr(got) == repr(want), (a, b, za, zb)
            for s in (2, 2.5, True):
                if not (a == "bool" and s is True):
                    assert repr((_t(tg, a) * s).dtype) == repr((_t(torch, a) * s).dtype)


@pytest.mark.torch
@pytest.mark.parametrize("name", ["uint8", "int8", "int16"])
def test_arithmetic_against_pytorch(name):
    torch = pytest.importorskip("torch")
    info = np.iinfo(name)
    rng = np.random.default_rng(0)
    arr = rng.integers(info.min, info.max + 1, 12).tolist()
    brr = [x if x not in (0, -1) else 1 for x in rng.integers(info.min, info.max + 1, 12).tolist()]
    ops = [lambda x, y: x + y, lambda x, y: x - y, lambda x, y: x * y, lambda x, y: -x,
           lambda x, y: x // y, lambda x, y: x % y, lambda x, y: x + 300, lambda x, y: x * 1000,
           lambda x, y: 500 - x, lambda x, y: x < 300, lambda x, y: x == -1, lambda x, y: x ** 3,
           lambda x, y: abs(x), lambda x, y: x.sum(), lambda x, y: (x.float() * 1.5).to(x.dtype),
           lambda x, y: x.float() / 7, lambda x, y: x.clamp(min=-3), lambda x, y: x.sign(),
           lambda x, y: x.sort(descending=True)[0], lambda x, y: y.max(0)[1]]
    for k, op in enumerate(ops):
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            want = op(torch.tensor(arr, dtype=getattr(torch, name)),
                      torch.tensor(brr, dtype=getattr(torch, name)))
        got = op(tg.tensor(arr, dtype=getattr(tg, name)), tg.tensor(brr, dtype=getattr(tg, name)))
        assert _vals(got) == _vals(want), k
    fl = [-3.7, 2.5, 299.0, -255.0]
    assert _vals(tg.tensor(fl).to(getattr(tg, name))) == \
        _vals(torch.tensor(fl).to(getattr(torch, name)))


@pytest.mark.torch
def test_inplace_shape_against_pytorch():
    torch = pytest.importorskip("torch")
    a = np.random.default_rng(1).standard_normal((2, 3))
    results = []
    for M in (torch, tg):
        x = M.tensor(a, requires_grad=True)
        y = x * 1.0
        y.t_()
        y.unsqueeze_(1)
        y = y * M.arange(1.0, 4.0, dtype=M.float64).reshape(3, 1, 1)
        y.transpose_(0, 2)
        y.squeeze_(1)
        y.exp().sum().backward()
        p = M.arange(6.0).reshape(2, 3)
        p.t_()
        p.squeeze_()
        p.unsqueeze_(0)
        r = M.arange(6.0)
        r.resize_(2, 2)
        results.append((y.shape, y.detach().numpy(), x.grad.numpy(), p.shape, p.stride(),
                        p.tolist(), r.tolist()))
    for want, got in zip(*results):
        np.testing.assert_allclose(np.asarray(got), np.asarray(want), rtol=1e-12)


@pytest.mark.torch
def test_printing_against_pytorch(default_print):
    torch = pytest.importorskip("torch")
    rng = np.random.default_rng(2)
    arrays = [rng.standard_normal((4, 5)) * 10.0 ** rng.integers(-6, 9), np.arange(30.0),
              rng.integers(0, 256, (3, 40)).astype(np.uint8), np.array([1e-9, 1.0, np.nan])]
    options = [{}, {"precision": 2}, {"sci_mode": True}, {"sci_mode": False, "precision": 6},
               {"threshold": 10, "edgeitems": 2}, {"linewidth": 30}, {"profile": "short"},
               {"edgeitems": 0, "threshold": 5}]
    try:
        for opt in options:
            for M in (torch, tg):
                M.set_printoptions(profile="default")
                M.set_printoptions(**opt)
            for arr in arrays:
                assert repr(tg.tensor(arr)) == repr(torch.tensor(arr)), (opt, arr.dtype)
    finally:
        torch.set_printoptions(profile="default")
