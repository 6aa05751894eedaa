"""Comparisons recorded while tapegrad.func records a function: where / masked_fill /
huber_loss replay with one variant across inputs that flip branches, bit for bit equal to
eager; masks present as bool tensors; value-dependent uses of a mask stay guarded."""

import warnings

import numpy as np
import pytest

import tapegrad as torch
import tapegrad.nn.functional as F
from tapegrad import func
from tapegrad.tape.tape import current


def _eager(f, *xs):
    ts = [torch.tensor(x, requires_grad=True) for x in xs]
    y = f(*ts)
    gs = torch.autograd.grad(y, ts, allow_unused=True, materialize_grads=True)
    return y.item(), [g.numpy() for g in gs]


def _check_replays(f, points, variants=1):
    """Every point: the traced function's value and gradients equal eager's bit for bit."""
    n = len(points[0])
    fg = func.value_and_grad(f, argnums=tuple(range(n)))
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # no eager fallback may happen
        for xs in points:
            v, gs = fg(*xs)
            ev, egs = _eager(f, *xs)
            assert v == ev
            for g, eg in zip(gs, egs):
                assert g.dtype == eg.dtype and np.array_equal(g, eg)
    assert fg.variants == variants
    return fg


def _points(rng, *shapes, k=6, dtype=np.float64):
    return [[rng.standard_normal(s).astype(dtype) for s in shapes] for _ in range(k)]


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_where_and_masked_fill_replay_with_one_variant(dtype):
    rng = np.random.default_rng(1)

    def f(x, y):
        leaky = torch.where(x > 0, x, 0.1 * x)
        return (leaky.sum() + torch.where(x <= y, y, 2.0).sum()
                + torch.where(x >= 0.25, -1.5, x * y).sum() + x.masked_fill(x < -0.5, 3.0).sum()
                + torch.where(torch.ne(x, y), x, y).sum() + torch.where(x == 0, 1.0, x).sum())

    _check_replays(f, _points(rng, (4, 3), (4, 3), dtype=dtype))


def test_broadcast_comparisons_and_masks():
    rng = np.random.default_rng(2)

    def f(x, y):  # a (3,) mask broadcast over (2, 3) in where (TERNARY) and masked_fill
        m = y > 0
        return (torch.where(m, x * x, 0.5 * x).sum() + x.masked_fill(m, 0.0).sum()
                + torch.where(x > y, x, y).sum() + torch.where(y.gt(0.3), x, y).sum())

    _check_replays(f, _points(rng, (2, 3), (3,)))


def test_mixed_dtypes_compare_in_the_common_dtype():
    x = np.array([0.1, 0.2, -0.3], np.float32)  # float32(0.1) > 0.1 in float64, not float32

    def f(x, y):
        return torch.where(x > 0.1, x, 2 * x).sum() + torch.where(x < y, x, y).sum()

    _check_replays(f, [[x, np.array([0.1, 0.3, -0.3])], [x * 2, np.array([0.2, 0.1, 0.0])]])


def test_huber_loss_replays_bit_for_bit_across_branch_flips():
    rng = np.random.default_rng(3)

    def f(x, y):
        return F.huber_loss(x, y, delta=0.5) + F.smooth_l1_loss(x, y, beta=0.7)

    points = _points(rng, (5,), (5,), k=8)
    inside = [np.abs(a - b) < 0.5 for a, b in points]
    assert len({m.tobytes() for m in inside}) > 4  # the branch flips per element
    _check_replays(f, points)


def test_masks_present_as_bool_and_logic_is_recorded():
    rng = np.random.default_rng(4)

    def f(x, y):
        m, k = x > 0, y < 0.5
        a, b = (~m) | k, m ^ (x > y)
        c, d = torch.logical_and(m, k), m & torch.tensor([True, False, True])
        e = torch.logical_not(k) | torch.logical_xor(m, k)
        return (torch.where(a, x, 0.0).sum() + torch.where(b, y, x).sum()
                + x.masked_fill(c, 3.0).sum() + torch.where(d, 2 * x, x).sum()
                + torch.where(e, x, y).sum() + (x * m.double()).sum())

    x0 = np.array([1.0, -2.0, 0.5])
    _check_replays(f, [[x0, np.array([0.0, 1.0, 2.0])]] + _points(rng, (3,), (3,)))


def test_mask_values_inside_a_recording():
    """A mask presents as a bool tensor; reading its values is a guard (a new variant
    whenever they change), so each call here records."""
    seen = {}

    def f(x):
        m = x > 0
        s = m.sum()
        seen.update(dtype=m.dtype, shape=m.shape, sum=s.item(), sum_dtype=s.dtype,
                    vals=m.tolist(), inv=(~m).tolist(), repr=repr(m), f=m.float().tolist(),
                    f_dtype=m.float().dtype, d_dtype=m.double().dtype, det=m.detach().tolist(),
                    np=(x < 1).detach().numpy().tolist(), rg=m.requires_grad, gfn=m.grad_fn)
        return torch.where(m, x, 0.0).sum()

    fg = func.value_and_grad(f)
    assert fg(np.array([1.0, -2.0, 0.5]))[0] == 1.5  # the recording call
    assert seen == {"dtype": torch.bool, "shape": (3,), "sum": 2, "sum_dtype": torch.int64,
                    "vals": [True, False, True], "inv": [False, True, False],
                    "repr": "tensor([ True, False,  True])", "f": [1.0, 0.0, 1.0],
                    "f_dtype": torch.float32, "d_dtype": torch.float64,
                    "det": [True, False, True], "np": [False, True, True], "rg": False,
                    "gfn": None}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        assert fg(np.array([-1.0, 2.0, 0.5]))[0] == 2.5


def test_value_dependent_uses_of_a_mask_stay_guarded():
    def f(x):
        m = x > 0
        if m.any():  # Python control flow on the mask: a guard
            return (x[m] * 2).sum()  # a shape that depends on the mask: a guard
        return x.sum() * -1.0

    fg = func.value_and_grad(f)
    rng = np.random.default_rng(5)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        for _ in range(12):
            x = rng.standard_normal(3) - 0.8
            v, g = fg(x)
            ev, (eg,) = _eager(f, x)
            assert v == ev and np.array_equal(g, eg)


def test_an_in_place_write_to_a_mask_is_kept():
    def f(x):
        m = x > 0
        m[0] = True
        m |= torch.tensor([False, True, False])
        return torch.where(m, x, 0.0).sum()

    fg = _check_replays(f, [[np.array([-1.0, -2.0, 0.5])], [np.array([-1.0, -2.0, 0.75])]])
    assert fg(np.array([-1.0, -2.0, -0.75]))[0] == -3.0


def test_comparisons_in_eager_mode_are_plain_and_append_nothing():
    x = torch.tensor([1.0, -2.0], requires_grad=True)
    y = x * 2
    tape = current()
    n = tape.nrecords
    for m in (y > 0, y < x, x.ge(0.5), ~(y > 0), (y > 0) & (x < 0)):
        assert type(m) is torch.Tensor and m.dtype is torch.bool
    assert tape.nrecords == n
    assert (y > 0).tolist() == [True, False]


def test_the_recorded_mask_gives_the_gradient_of_the_chosen_branch():
    g = func.grad(lambda x: torch.where(x > 0.5, x * x, -x).sum())
    np.testing.assert_array_equal(g(np.array([1.0, 0.0, 0.5, 0.6])), [2.0, -1.0, -1.0, 1.2])
    np.testing.assert_array_equal(g(np.array([0.0, 1.0, 0.75, 0.5])), [-1.0, 2.0, 1.5, -1.0])
    assert g.variants == 1


@pytest.mark.torch
def test_traced_masks_match_pytorch():
    torch_ref = pytest.importorskip("torch")
    rng = np.random.default_rng(6)

    def f(lib, x, y):
        m = x > y
        return (lib.where(m, x, 0.1 * x).sum() + x.masked_fill(~m | (y < 0), 0.5).sum()
                + lib.nn.functional.huber_loss(x, y, delta=0.4))

    fg = func.value_and_grad(lambda x, y: f(torch, x, y), argnums=(0, 1))
    for _ in range(5):
        x, y = rng.standard_normal((2, 6))
        v, (gx, gy) = fg(x, y)
        tx = torch_ref.tensor(x, requires_grad=True)
        ty = torch_ref.tensor(y, requires_grad=True)
        out = f(torch_ref, tx, ty)
        out.backward()
        np.testing.assert_allclose(v, out.item(), rtol=1e-12)
        np.testing.assert_allclose(gx, tx.grad.numpy(), rtol=1e-12)
        np.testing.assert_allclose(gy, ty.grad.numpy(), rtol=1e-12)
    assert fg.variants == 1
