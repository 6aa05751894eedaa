"""nn.utils: clip_grad_norm_ / clip_grad_value_ / get_total_norm and the flat vector
conversions, checked by hand and (torch-marked) against PyTorch."""

import math

import numpy as np
import pytest

import tapegrad as tg
import tapegrad.nn as nn
from tapegrad.nn.utils import (clip_grad_norm, clip_grad_norm_, clip_grad_value_,
                               clip_grads_with_norm_, get_total_norm, parameters_to_vector,
                               vector_to_parameters)


def arr(t):
    return np.array(t.detach())  # a copy (np.asarray would share, and expose, the storage)


def _params(*grads, dtype=tg.float32):
    ps = []
    for g in grads:
        p = nn.Parameter(tg.zeros(len(g), dtype=dtype))
        p.grad = tg.tensor(g, dtype=dtype)
        ps.append(p)
    return ps


def test_clip_grad_norm_scales_to_max_norm():
    ps = _params([3.0, 0.0], [0.0, 4.0])
    total = clip_grad_norm_(ps, 1.0)
    assert isinstance(total, tg.Tensor) and total.dim() == 0 and total.dtype is tg.float32
    assert total.item() == pytest.approx(5.0)
    coef = 1.0 / (5.0 + 1e-6)
    assert np.allclose(arr(ps[0].grad), [3 * coef, 0]) and np.allclose(arr(ps[1].grad),
                                                                         [0, 4 * coef])
    g = ps[0].grad
    assert clip_grad_norm_(ps, 10.0).item() == pytest.approx(1.0, rel=1e-5)
    assert ps[0].grad is g  # in place, the same gradient tensor
    assert np.allclose(arr(g), [3 * coef, 0])  # below max_norm: unchanged (coef clamped to 1)


def test_clip_grad_norm_types_and_inputs():
    ps = _params([1.0, -2.0], [2.0])
    assert clip_grad_norm_(ps, 100, norm_type=1).item() == pytest.approx(5.0)
    assert clip_grad_norm_(ps, 100, norm_type=math.inf).item() == pytest.approx(2.0)
    assert clip_grad_norm_(ps, 100, norm_type="inf").item() == pytest.approx(2.0)
    assert clip_grad_norm_(ps, 100, norm_type=3).item() == pytest.approx(17 ** (1 / 3))
    assert clip_grad_norm_(ps, 100, norm_type=0).item() == 2.0  # nonzero norms, as PyTorch
    single = _params([6.0, 8.0])[0]
    assert clip_grad_norm_(single, 5.0).item() == pytest.approx(10.0)  # a lone tensor
    assert np.allclose(arr(single.grad), [3.0, 4.0], rtol=1e-5)
    gen = (p for p in _params([3.0, 4.0]))  # a generator, as model.parameters()
    assert clip_grad_norm_(gen, 1.0).item() == pytest.approx(5.0)
    none = nn.Parameter(tg.zeros(2))
    assert clip_grad_norm_([none], 1.0).item() == 0.0 and none.grad is None
    lin = nn.Linear(3, 2)
    lin(tg.ones(4, 3)).sum().backward()
    want = math.sqrt(sum((arr(p.grad) ** 2).sum() for p in lin.parameters()))
    assert clip_grad_norm_(lin.parameters(), 0.5).item() == pytest.approx(want, rel=1e-6)
    after = math.sqrt(sum((arr(p.grad) ** 2).sum() for p in lin.parameters()))
    assert after == pytest.approx(0.5, rel=1e-5)


def test_clip_grad_norm_dtypes_and_nonfinite():
    ps = _params([3.0], dtype=tg.float64) + _params([4.0])
    total = clip_grad_norm_(ps, 1.0)
    assert total.dtype is tg.float64 and total.item() == pytest.approx(5.0)
    assert ps[1].grad.dtype is tg.float32
    bad = _params([1.0, math.inf])
    with pytest.raises(RuntimeError, match="The total norm of order 2.0 for gradients from "
                                           "`parameters` is non-finite"):
        clip_grad_norm_(bad, 1.0, error_if_nonfinite=True)
    assert arr(bad[0].grad)[0] == 1.0  # nothing was scaled
    nan = _params([1.0, math.nan])
    assert math.isnan(clip_grad_norm_(nan, 1.0).item())
    with pytest.warns(FutureWarning, match="clip_grad_norm` is now deprecated"):
        clip_grad_norm(_params([1.0]), 1.0)


def test_get_total_norm_and_clip_with_norm():
    ps = _params([3.0], [4.0])
    total = get_total_norm([p.grad for p in ps])
    assert total.item() == pytest.approx(5.0)
    clip_grads_with_norm_(ps, 2.5, total)
    assert np.allclose([arr(p.grad)[0] for p in ps], [1.5, 2.0], rtol=1e-5)
    assert get_total_norm([]).item() == 0.0


def test_clip_grad_value():
    ps = _params([-3.0, 0.5, 2.0], [7.0])
    g = ps[0].grad
    assert clip_grad_value_(ps, 1.0) is None
    assert arr(g).tolist() == [-1.0, 0.5, 1.0] and arr(ps[1].grad).tolist() == [1.0]
    assert ps[0].grad is g
    clip_grad_value_(ps[0], 0.25)
    assert arr(g).tolist() == [-0.25, 0.25, 0.25]


def test_clipping_keeps_version_bookkeeping():
    # a clipped gradient that an earlier recorded op read must not be silently reused
    p = nn.Parameter(tg.tensor([3.0, 4.0]))
    p.grad = tg.tensor([3.0, 4.0])
    x = tg.tensor([1.0, 1.0], requires_grad=True)
    y = (x * p.grad).sum()
    clip_grad_norm_([p], 1.0)
    with pytest.raises(RuntimeError, match="modified by an inplace operation"):
        y.backward()


def test_parameters_to_vector_and_back():
    lin = nn.Linear(2, 3)
    vec = parameters_to_vector(lin.parameters())
    assert vec.shape == (9,)
    assert np.array_equal(arr(vec), np.concatenate([arr(lin.weight).ravel(), arr(lin.bias)]))
    (vec * tg.arange(9.0)).sum().backward()  # differentiable
    assert arr(lin.weight.grad).ravel().tolist() == list(range(6))
    w = lin.weight
    vector_to_parameters(tg.arange(9.0), lin.parameters())
    assert lin.weight is w and arr(w).tolist() == [[0, 1], [2, 3], [4, 5]]
    assert arr(lin.bias).tolist() == [6, 7, 8]
    assert np.allclose(arr(lin(tg.ones(1, 2))), [[7, 12, 17]])  # the forward sees them
    with pytest.raises(TypeError, match="expected torch.Tensor, but got: list"):
        vector_to_parameters([1.0], lin.parameters())
    with pytest.raises(RuntimeError, match="cannot fill parameters of 9 elements"):
        vector_to_parameters(tg.zeros(4), lin.parameters())
    with pytest.raises(TypeError, match="expected an iterable of Tensors"):
        parameters_to_vector(lin.weight)


@pytest.mark.torch
def test_clip_grad_norm_matches_torch():
    torch = pytest.importorskip("torch")
    rng = np.random.default_rng(0)
    for norm_type in (2.0, 1.0, math.inf, 3.5):
        for max_norm in (0.1, 1000.0):
            grads = [rng.standard_normal(s).astype(np.float32) for s in ((3, 4), (5,), (2, 2))]
            pa = [nn.Parameter(tg.zeros(*g.shape)) for g in grads]
            pb = [torch.nn.Parameter(torch.zeros(*g.shape)) for g in grads]
            for a, b, g in zip(pa, pb, grads):
                a.grad, b.grad = tg.tensor(g), torch.tensor(g)
            ta = clip_grad_norm_(pa, max_norm, norm_type)
            tb = torch.nn.utils.clip_grad_norm_(pb, max_norm, norm_type)
            assert ta.item() == pytest.approx(tb.item(), rel=1e-6)
            for a, b in zip(pa, pb):
                np.testing.assert_allclose(arr(a.grad), b.grad.numpy(), rtol=1e-6)
    pa, pb = nn.Parameter(tg.zeros(4)), torch.nn.Parameter(torch.zeros(4))
    g = np.array([-2.0, -0.1, 0.3, 5.0], np.float32)
    pa.grad, pb.grad = tg.tensor(g), torch.tensor(g)
    clip_grad_value_(pa, 0.5)
    torch.nn.utils.clip_grad_value_(pb, 0.5)
    assert arr(pa.grad).tolist() == pb.grad.tolist()
    la, lb = nn.Linear(3, 2), torch.nn.Linear(3, 2)
    lb.load_state_dict({k: torch.tensor(np.array(v)) for k, v in la.state_dict().items()})
    np.testing.assert_array_equal(
        arr(parameters_to_vector(la.parameters())),
        torch.nn.utils.parameters_to_vector(lb.parameters()).detach().numpy())
