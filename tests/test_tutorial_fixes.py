"""What the tutorials needed (tests/test_tutorials.py runs the programs): linspace and
arange bit for bit as PyTorch's CPU kernels, scatter, out=, set_default_device, the new_*
factories, and PyTorch's grad_fn nodes for nn functions recorded as several ops.

Expected values are fixed numbers (PyTorch's, written out) or exact rational arithmetic;
the torch-marked tests compare with PyTorch on random cases."""

import math
import warnings
from fractions import Fraction

import numpy as np
import pytest

import tapegrad as tg
from tapegrad import tape as tp
import tapegrad.nn.functional as F
from tapegrad import nn


# ---- linspace, arange ------------------------------------------------------------------
def test_linspace_float32_is_pytorchs():
    x = tg.linspace(-math.pi, math.pi, 2000).numpy()
    want = [-3.1415927410125732, -3.1384496688842773, -3.1353063583374023,
            -0.0015715761110186577, 0.0015715761110186577, 3.1384496688842773,
            3.1415927410125732]
    assert [float(x[i]) for i in (0, 1, 2, 999, 1000, 1998, 1999)] == want
    assert x.dtype == np.float32 and x.shape == (2000,)


def _exact_linspace(a: float, b: float, n: int) -> list:
    """start + i*step (first half) or end - (n-1-i)*step, each rounded once."""
    step = (b - a) / (n - 1)  # float64, as the kernel computes it
    fa, fb, fs = Fraction(a), Fraction(b), Fraction(step)
    return [float(fa + i * fs) if i < n // 2 else float(fb - (n - 1 - i) * fs)
            for i in range(n)]


@pytest.mark.parametrize("a,b,n", [(0.1, 0.7, 7), (-3.3, 12.9, 1001), (5.0, -2.0, 64)])
def test_linspace_float64_rounds_once_from_each_end(a, b, n):
    got = tg.linspace(a, b, n, dtype=tg.float64).tolist()
    assert got == _exact_linspace(a, b, n)
    if (a, b, n) == (0.1, 0.7, 7):
        assert got[3] == 0.39999999999999997  # 0.7 - 3 * 0.1, where NumPy gives 0.4


def test_linspace_edges_and_integers():
    assert tg.linspace(0, 1, 1).tolist() == [0.0]
    assert tg.linspace(2, 5, 0).shape == (0,)
    assert tg.linspace(0, 1, 5, dtype=tg.float64).tolist() == [0.0, 0.25, 0.5, 0.75, 1.0]
    assert tg.linspace(0, 10, 4, dtype=tg.int64).tolist() == [0, 3, 6, 10]
    assert tg.linspace(-2.7, 5.9, 5, dtype=tg.int64).tolist() == [-2, 0, 1, 3, 5]
    assert tg.linspace(3, -3, 4, dtype=tg.int32).tolist() == [3, 1, -1, -3]
    assert tg.linspace(tg.tensor(0.0), tg.tensor(2.0), 3).tolist() == [0.0, 1.0, 2.0]
    with pytest.raises(RuntimeError, match="non-negative"):
        tg.linspace(0, 1, -1)


def test_arange_values_are_pytorchs():
    got = tg.arange(0, 1, 0.1)
    assert got.dtype is tg.float32
    assert got.tolist() == [0.0, 0.10000000149011612, 0.20000000298023224, 0.30000001192092896,
                            0.4000000059604645, 0.5, 0.6000000238418579, 0.699999988079071,
                            0.800000011920929, 0.8999999761581421]
    assert tg.arange(-1, 1, 0.3, dtype=tg.float64).tolist() == [
        -1.0, -0.7, -0.4, -0.10000000000000003, 0.19999999999999996, 0.49999999999999994,
        0.7999999999999999]
    a = tg.arange(0.5, 30, 0.7)
    assert len(a) == 43 and [a[i].item() for i in (17, 20, 41)] == [
        12.399999618530273, 14.5, 29.200000762939453]
    assert tg.arange(5).tolist() == [0, 1, 2, 3, 4] and tg.arange(5).dtype is tg.int64
    assert tg.arange(10, 0, -3).tolist() == [10, 7, 4, 1]
    assert tg.arange(0, 0).shape == (0,)
    with pytest.raises(RuntimeError, match="upper bound and lower bound inconsistent"):
        tg.arange(5, 0)
    with pytest.raises(RuntimeError, match="nonzero"):
        tg.arange(0, 1, 0)


@pytest.mark.torch
def test_linspace_arange_bitwise_against_pytorch():
    torch = pytest.importorskip("torch")
    rng = np.random.default_rng(3)
    for _ in range(150):
        a, b = (float(v) for v in rng.uniform(-50, 50, 2))
        n = int(rng.integers(1, 5000))
        for td, gd in ((torch.float32, tg.float32), (torch.float64, tg.float64),
                       (torch.int64, tg.int64)):
            np.testing.assert_array_equal(tg.linspace(a, b, n, dtype=gd).numpy(),
                                          torch.linspace(a, b, n, dtype=td).numpy())
        st = float(rng.uniform(0.001, 1)) * (1 if rng.random() < 0.5 else -1)
        end = a + st * int(rng.integers(1, 5000)) + st / 3
        for td, gd in ((torch.float32, tg.float32), (torch.float64, tg.float64)):
            np.testing.assert_array_equal(tg.arange(a, end, st, dtype=gd).numpy(),
                                          torch.arange(a, end, st, dtype=td).numpy())


# ---- scatter -----------------------------------------------------------------------------
def test_scatter_values():
    onehot = tg.zeros(10, dtype=tg.float32).scatter_(0, tg.tensor(6), value=1)
    assert onehot.tolist() == [0, 0, 0, 0, 0, 0, 1, 0, 0, 0]
    src = tg.arange(1, 11).reshape((2, 5))
    out = tg.zeros(3, 5, dtype=src.dtype).scatter_(0, tg.tensor([[0, 1, 2, 0]]), src)
    assert out.tolist() == [[1, 0, 0, 4, 0], [0, 2, 0, 0, 0], [0, 0, 3, 0, 0]]
    out = tg.zeros(3, 5, dtype=src.dtype).scatter(1, tg.tensor([[0, 1, 2], [0, 1, 4]]), src)
    assert out.tolist() == [[1, 2, 3, 0, 0], [6, 7, 0, 0, 8], [0, 0, 0, 0, 0]]
    added = tg.full((2, 4), 2.).scatter_(1, tg.tensor([[2], [3]]), 1.5, reduce="add")
    assert added.tolist() == [[2, 2, 3.5, 2], [2, 2, 2, 3.5]]
    s = tg.scatter_add(tg.zeros(3), 0, tg.tensor([0, 2, 0]), tg.tensor([1., 2., 3.]))
    assert s.tolist() == [4, 0, 2]
    assert tg.zeros(3).scatter_add_(0, tg.tensor([1, 1]), tg.ones(2)).tolist() == [0, 2, 0]


def test_scatter_gradients():
    x = tg.tensor([[1., 2., 3.], [4., 5., 6.]], requires_grad=True)
    base = tg.ones(3, 3, requires_grad=True)
    idx = tg.tensor([[0, 2, 1], [2, 0, 0]])
    y = base.scatter(0, idx, x * 2)
    w = tg.arange(9.).reshape(3, 3)
    (y * w).sum().backward()
    # x[i, j] lands at row idx[i, j], column j (weight 2 * w there); base keeps the rest
    assert x.grad.tolist() == [[0., 14., 10.], [12., 2., 4.]]
    assert base.grad.tolist() == [[0., 0., 0.], [3., 4., 0.], [0., 0., 8.]]
    a = tg.tensor([1., 2., 3.], requires_grad=True)
    tg.zeros(2).scatter_add(0, tg.tensor([0, 1, 0]), a).pow(2).sum().backward()
    assert a.grad.tolist() == [8., 4., 8.]  # d/da of (a0 + a2)^2 + a1^2


def test_scatter_bad_input():
    with pytest.raises(RuntimeError, match="out of bounds"):
        tg.zeros(3).scatter_(0, tg.tensor([5]), 1.0)
    with pytest.raises(RuntimeError, match="int32/int64"):
        tg.zeros(3).scatter_(0, tg.tensor([1.0]), 1.0)
    with pytest.raises(RuntimeError, match="same number of dimensions"):
        tg.zeros(3, 2).scatter_(0, tg.tensor([1]), 1.0)
    with pytest.raises(RuntimeError, match="no larger than self"):
        tg.zeros(2, 2).scatter_(0, tg.tensor([[0, 1, 1]]), 1.0)
    with pytest.raises(RuntimeError, match="leaf Variable"):
        tg.zeros(3, requires_grad=True).scatter_(0, tg.tensor([1]), 1.0)


# ---- out=, the default device, new_* ---------------------------------------------------
def test_out_argument():
    t = tg.ones(4, 4)
    y3 = tg.rand(4, 4)
    assert tg.matmul(t, t.T, out=y3) is y3 and y3.tolist() == [[4.0] * 4] * 4
    z3 = tg.zeros(4, 4)
    tg.mul(t, 3, out=z3)
    assert z3.tolist() == [[3.0] * 4] * 4
    r = tg.empty(2)
    tg.add(tg.tensor([1., 2.]), tg.tensor([3., 4.]), out=r)
    assert r.tolist() == [4., 6.]
    small = tg.zeros(2)
    with pytest.warns(UserWarning, match="was resized"):
        tg.cat([tg.ones(2), tg.ones(1)], out=small)
    assert small.tolist() == [1., 1., 1.]
    d = tg.zeros(2, dtype=tg.float64)
    tg.add(tg.tensor([1., 2.]), 1, out=d)
    assert d.dtype is tg.float64 and d.tolist() == [2., 3.]
    with pytest.raises(RuntimeError, match="can't be cast"):
        tg.mul(tg.ones(2), 2.5, out=tg.zeros(2, dtype=tg.int64))
    with pytest.raises(RuntimeError, match="don't support automatic differentiation"):
        tg.mul(tg.ones(2, requires_grad=True), 2, out=tg.zeros(2))
    with tg.no_grad():
        tg.mul(tg.ones(2, requires_grad=True), 2, out=d)
    assert d.tolist() == [2., 2.]


def test_default_device_and_new_factories():
    tg.set_default_device("cpu")
    tg.set_default_device(None)
    assert str(tg.get_default_device()) == "cpu"
    with pytest.raises(RuntimeError, match="CPU only"):
        tg.set_default_device("cuda")
    x = tg.tensor([5.5, 3], dtype=tg.float64)
    assert x.new_ones(2, 3).dtype is tg.float64 and x.new_ones((2, 3)).shape == (2, 3)
    assert x.new_zeros(2, dtype=tg.int64).tolist() == [0, 0]
    assert x.new_full((2,), 7).tolist() == [7.0, 7.0] and x.new_empty(3).shape == (3,)
    assert x.new_tensor([1, 2]).dtype is tg.float64
    assert x.new_ones(2, requires_grad=True).requires_grad
    assert x.is_floating_point() and not tg.tensor([1]).is_floating_point()
    m = tg.ones(2, 3)
    assert m.is_contiguous()


# ---- grad_fn nodes of nn functions -------------------------------------------------------
def _desc(g, depth=3) -> str:
    if g is None:
        return "None"
    s = type(g).__name__
    if depth and g.next_functions:
        s += "(" + ",".join(_desc(n, depth - 1) for n, _ in g.next_functions) + ")"
    return s


def _cases():
    x = tg.linspace(-1, 1, 12).reshape(4, 3).requires_grad_()
    p = tg.linspace(0.1, 0.9, 12).reshape(4, 3).requires_grad_()
    t = tg.linspace(0, 1, 12).reshape(4, 3)
    cls = tg.tensor([0, 2, 1, 0])
    w, b = tg.ones(2, 3, requires_grad=True), tg.ones(2, requires_grad=True)
    return {
        "mse": lambda: F.mse_loss(x, t), "mse_none": lambda: F.mse_loss(x, t, reduction="none"),
        "huber": lambda: F.huber_loss(x, t, reduction="sum"),
        "smooth_l1": lambda: F.smooth_l1_loss(x, t), "l1": lambda: F.l1_loss(x, t),
        "bce": lambda: F.binary_cross_entropy(p, t),
        "bce_logits": lambda: F.binary_cross_entropy_with_logits(x, t),
        "ce": lambda: F.cross_entropy(x, cls), "nll": lambda: F.nll_loss(x, cls, reduction="sum"),
        "linear": lambda: F.linear(x, w, b), "linear_nobias": lambda: F.linear(x, w),
        "linear_1d": lambda: F.linear(x[0], w, b), "linear_1d_nobias": lambda: F.linear(x[0], w),
        "linear_3d": lambda: F.linear(x.reshape(2, 2, 3), w, b),
        "linear_3d_nobias": lambda: F.linear(x.reshape(2, 2, 3), w),
        "linear_frozen": lambda: F.linear(x, tg.ones(2, 3), tg.ones(2)),
        "layer_norm": lambda: nn.LayerNorm(3)(x), "batch_norm": lambda: nn.BatchNorm1d(3)(x),
        "group_norm": lambda: nn.GroupNorm(1, 3)(x), "embedding": lambda: nn.Embedding(5, 2)(cls),
        "softmax": lambda: F.softmax(x, 1),
    }


EXPECTED_GRAD_FN = {
    "mse": "MseLossBackward0(AccumulateGrad,None)",
    "mse_none": "MseLossBackward0(AccumulateGrad,None)",
    "huber": "HuberLossBackward0(AccumulateGrad,None)",
    "smooth_l1": "SmoothL1LossBackward0(AccumulateGrad,None)",
    "l1": "MeanBackward0(AbsBackward0(SubBackward0(AccumulateGrad,None)))",
    "bce": "BinaryCrossEntropyBackward0(AccumulateGrad,None)",
    "bce_logits": "BinaryCrossEntropyWithLogitsBackward0(AccumulateGrad,None)",
    "ce": "NllLossBackward0(LogSoftmaxBackward0(AccumulateGrad))",
    "nll": "NllLossBackward0(AccumulateGrad)",
    "linear": "AddmmBackward0(AccumulateGrad,AccumulateGrad,TBackward0(AccumulateGrad))",
    "linear_nobias": "MmBackward0(AccumulateGrad,TBackward0(AccumulateGrad))",
    "linear_1d": "ViewBackward0(AddmmBackward0(AccumulateGrad,ViewBackward0(SelectBackward0),"
                 "TBackward0(AccumulateGrad)))",
    "linear_1d_nobias": "SqueezeBackward4(MmBackward0(UnsqueezeBackward0(SelectBackward0),"
                        "TBackward0(AccumulateGrad)))",
    "linear_3d": "ViewBackward0(AddmmBackward0(AccumulateGrad,ViewBackward0(ViewBackward0),"
                 "TBackward0(AccumulateGrad)))",
    "linear_3d_nobias": "UnsafeViewBackward0(MmBackward0(ViewBackward0(ViewBackward0),"
                        "TBackward0(AccumulateGrad)))",
    "linear_frozen": "AddmmBackward0(None,AccumulateGrad,None)",
    "layer_norm": "NativeLayerNormBackward0(AccumulateGrad,AccumulateGrad,AccumulateGrad)",
    "batch_norm": "NativeBatchNormBackward0(AccumulateGrad,AccumulateGrad,AccumulateGrad)",
    "group_norm": "NativeGroupNormBackward0(AccumulateGrad,AccumulateGrad,AccumulateGrad)",
    "embedding": "EmbeddingBackward0(AccumulateGrad)",
    "softmax": "SoftmaxBackward0(AccumulateGrad)",
}


@pytest.mark.parametrize("case", sorted(EXPECTED_GRAD_FN))
def test_grad_fn_of_nn_functions(case):
    assert _desc(_cases()[case]().grad_fn) == EXPECTED_GRAD_FN[case]


@pytest.mark.torch
def test_grad_fn_of_nn_functions_against_pytorch():
    torch = pytest.importorskip("torch")
    x = torch.linspace(-1, 1, 12).reshape(4, 3).requires_grad_()
    w, b = torch.ones(2, 3, requires_grad=True), torch.ones(2, requires_grad=True)
    t = torch.linspace(0, 1, 12).reshape(4, 3)
    assert _desc(torch.nn.functional.linear(x[0], w, b).grad_fn) == EXPECTED_GRAD_FN["linear_1d"]
    assert _desc(torch.nn.functional.mse_loss(x, t).grad_fn) == EXPECTED_GRAD_FN["mse"]
    assert _desc(torch.nn.functional.cross_entropy(x, torch.tensor([0, 2, 1, 0])).grad_fn) == \
        EXPECTED_GRAD_FN["ce"]
    assert _desc(torch.nn.GroupNorm(1, 3)(x).grad_fn) == EXPECTED_GRAD_FN["group_norm"]


def test_grad_fn_chain_of_the_blitz_tutorial():
    net = nn.Sequential(nn.Linear(4, 3), nn.ReLU(), nn.Linear(3, 2))
    out = net(tg.ones(1, 4))
    loss = nn.MSELoss()(out, tg.zeros(1, 2))
    assert repr(loss).endswith("grad_fn=<MseLossBackward0>)")
    addmm = loss.grad_fn.next_functions[0][0]
    assert type(addmm).__name__ == "AddmmBackward0" and addmm is out.grad_fn
    acc = addmm.next_functions[0][0]
    assert type(acc).__name__ == "AccumulateGrad" and acc.variable is net[2].bias
    relu = addmm.next_functions[1][0]
    assert type(relu).__name__ == "ReluBackward0"
    # a recorded op's node leads to the display node of the linear below it
    assert relu.next_functions[0][0] is net[0](tg.ones(1, 4)).grad_fn or \
        type(relu.next_functions[0][0]).__name__ == "AddmmBackward0"
    assert loss.grad_fn.next_functions is loss.grad_fn.next_functions


def test_grad_fn_survives_compaction_and_gradients_are_unchanged():
    lin = nn.Linear(3, 2)
    with tg.no_grad():
        lin.weight.copy_(tg.tensor([[1., 2., 3.], [-1., 0., 1.]]))
        lin.bias.fill_(0.5)
    h = tg.tensor([[1., 0., 2.]], requires_grad=True) * 1.0
    loss = F.mse_loss(lin(h), tg.zeros(1, 2), reduction="sum")
    for _ in range(3000):  # enough records for the tape to compact
        (tg.ones(50, requires_grad=True) * 2).sum()
    assert _desc(loss.grad_fn, 2) == "MseLossBackward0(AddmmBackward0(AccumulateGrad," \
                                     "MulBackward0,TBackward0),None)"
    loss.backward()
    y = [1 + 6 + 0.5, -1 + 2 + 0.5]  # lin(h) = [7.5, 1.5]
    assert lin.bias.grad.tolist() == [2 * y[0], 2 * y[1]]
    assert lin.weight.grad.tolist() == [[2 * y[0], 0, 4 * y[0]], [2 * y[1], 0, 4 * y[1]]]


def test_training_loop_keeps_a_bounded_tape():
    model = nn.Sequential(nn.Linear(8, 16), nn.ReLU(), nn.Linear(16, 3))
    opt = tg.optim.SGD(model.parameters(), lr=0.01)
    x, y = tg.ones(4, 8), tg.tensor([0, 1, 2, 0])
    sizes = []
    with tp.recording():  # a fresh tape: the tables earlier tests grew would compact later
        for _ in range(1500):
            opt.zero_grad()
            loss = F.cross_entropy(model(x), y)
            loss.backward()
            opt.step()
            sizes.append(loss._tape.nrecords)
    assert loss._tape.epoch > 5  # it compacted, and the tape grows no further:
    assert max(sizes[1000:]) <= max(sizes[:500]), (max(sizes[:500]), max(sizes[1000:]))


def test_no_display_node_without_grad():
    lin = nn.Linear(3, 2)
    with tg.no_grad():
        assert lin(tg.ones(1, 3)).grad_fn is None
    assert F.mse_loss(tg.ones(2), tg.zeros(2)).grad_fn is None
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        y = lin(tg.ones(2, 3))
        y.add_(1)  # an in-place op makes its own node
    assert type(y.grad_fn).__name__ == "AddBackward0"
    assert type(y.grad_fn.next_functions[0][0]).__name__ == "AddmmBackward0"


@pytest.mark.parametrize("make", [
    lambda d: tg.zeros(2, device=d), lambda d: tg.ones(2, 3, device=d),
    lambda d: tg.empty(2, device=d), lambda d: tg.rand(2, device=d),
    lambda d: tg.randn(2, device=d), lambda d: tg.tensor([1.0], device=d),
    lambda d: tg.as_tensor([1.0], device=d), lambda d: tg.full((2,), 1.0, device=d),
    lambda d: tg.eye(2, device=d), lambda d: tg.arange(3, device=d),
    lambda d: tg.linspace(0, 1, 3, device=d), lambda d: tg.logspace(0, 1, 3, device=d),
    lambda d: tg.randint(0, 3, (2,), device=d), lambda d: tg.randperm(3, device=d),
    lambda d: tg.zeros_like(tg.ones(2), device=d), lambda d: tg.rand_like(tg.ones(2), device=d),
    lambda d: tg.full_like(tg.ones(2), 3.0, device=d),
    lambda d: tg.ones(2).new_zeros(3, device=d), lambda d: tg.ones(2).new_full((2,), 1.0, device=d),
    lambda d: tg.ones(2).new_tensor([1.0], device=d)])
def test_factories_take_the_cpu_and_refuse_another_device(make):
    """`device=` on every factory: the CPU (as a string, with an index or a device object)
    works; a CUDA device raises a RuntimeError naming the factory, never a CPU tensor
    computed silently."""
    for d in ("cpu", tg.device("cpu"), None):
        assert make(d).device == tg.device("cpu")
    with pytest.raises(RuntimeError, match="CPU only"):
        make("cuda")
    with pytest.raises(RuntimeError, match="CPU only"):
        make(tg.device("cuda", 0))
