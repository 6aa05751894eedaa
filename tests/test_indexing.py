"""Indexing that mixes ints, slices, None, `...`, integer tensors and bool masks; writes
by index (x[index] = v, index_put); and the three-tensor ops (where, lerp with a tensor
weight, clamp with tensor bounds). PyTorch's rules, checked by hand and, where torch is
installed, against it."""

import itertools

import numpy as np
import pytest

import tapegrad as tg
from tapegrad.selection import positions

try:
    import torch as torch_ref
except ImportError:  # the comparisons below skip themselves
    torch_ref = None

needs_torch = pytest.mark.skipif(torch_ref is None, reason="needs PyTorch (torch==2.13.0)")

T = [0, 2]          # an integer index; lists become tensors in each library
B = [True, False, True]
INDICES = [  # for a tensor of shape [3, 4, 5]
    (0, slice(None), T), (T, slice(None), 0), (slice(None), T, 0), (T, T), (T, 1),
    ([[1], [0]], T), (slice(None), [[1], [0]], T), (T, slice(None), T), (slice(1, 3), T),
    (T, slice(1, 3)), (None, T, 0), (Ellipsis, T), (1, T, slice(None)), (B, T),
    (slice(None), None, T, None, 1), (B, 0, T), (0, T, T), (T, 0, T), (T, Ellipsis, None, 1),
    (slice(None, None, 2), [-1, 0]), ([True, True, False], ), ([-3],), (T, [[0, 1]]),
]


def _index(lib, idx):
    return tuple(lib.tensor(i) if isinstance(i, list) else i for i in idx)


def test_ints_apply_before_tensors_as_in_pytorch():
    """NumPy would put the tensor's dim first in x[0, :, idx]; PyTorch selects first."""
    p = positions((3, 4, 5), (0, slice(None), np.array([0, 2])))
    assert p.shape == (4, 2)
    np.testing.assert_array_equal(p, np.arange(60).reshape(3, 4, 5)[0][:, [0, 2]])
    p = positions((3, 4, 5), (np.array([0, 2]), slice(None), 0))
    assert p.shape == (2, 4)


@pytest.mark.parametrize("idx", INDICES, ids=[str(i) for i in range(len(INDICES))])
def test_getitem_values_and_gradients(idx):
    x = tg.arange(60, dtype=tg.float64).reshape(3, 4, 5).requires_grad_()
    y = x[_index(tg, idx)]
    flat = positions((3, 4, 5), _index(tg, idx))
    np.testing.assert_array_equal(y.detach().numpy(), flat.astype(np.float64))
    assert y.grad_fn.name() == "IndexBackward0"
    w = np.random.default_rng(0).standard_normal(y.shape)
    y.backward(tg.tensor(w))
    expect = np.zeros(60)
    np.add.at(expect, flat.reshape(-1), w.reshape(-1))
    np.testing.assert_array_equal(x.grad.numpy().reshape(-1), expect)


@needs_torch
@pytest.mark.torch
@pytest.mark.parametrize("idx", INDICES, ids=[str(i) for i in range(len(INDICES))])
def test_getitem_matches_pytorch(idx):
    a = torch_ref.arange(60.0, dtype=torch_ref.float64).reshape(3, 4, 5).requires_grad_()
    x = tg.arange(60, dtype=tg.float64).reshape(3, 4, 5).requires_grad_()
    ya, yx = a[_index(torch_ref, idx)], x[_index(tg, idx)]
    assert tuple(ya.shape) == tuple(yx.shape)
    np.testing.assert_array_equal(ya.detach().numpy(), yx.detach().numpy())
    assert ya.grad_fn.name() == yx.grad_fn.name()
    (ya * ya).sum().backward()
    (yx * yx).sum().backward()
    np.testing.assert_array_equal(a.grad.numpy(), x.grad.numpy())


# ---- writes: x[index] = v ----------------------------------------------------------------
SETS = [  # (index, value shape or None for a python number) on a [3, 4] tensor
    (1, (4,)), (1, None), ((slice(1, None), 0), (2,)), ((slice(None), slice(1, 3)), (1, 2)),
    (([0, 2],), (2, 4)), (([0, 2],), None), ((B,), (4,)), ((0, [3, 1]), (2,)),
    (([0, 2], [1, 3]), ()), ((Ellipsis, [0]), (3, 1)), (([1, 1], [2, 2]), (2,)),
    ((slice(None), [True, False, True, False]), (3, 2)), ((0,), (1, 1, 4)), ((1,), (1, 1)),
]


def _set_program(lib, index, vshape):
    x = lib.tensor(np.arange(12.0).reshape(3, 4), requires_grad=True)
    v = lib.tensor(np.arange(1.0, 1.0 + np.prod(vshape or ())).reshape(vshape or ()) * 10,
                   requires_grad=True)
    y = x * 2
    idx = _index(lib, index if isinstance(index, tuple) else (index,))
    y[idx] = 7.5 if vshape is None else v * 1
    (y * lib.tensor(np.arange(12.0).reshape(3, 4) + 1)).sum().backward()
    return y, x.grad, v.grad


@pytest.mark.parametrize("index,vshape", SETS, ids=[str(i) for i in range(len(SETS))])
def test_setitem_is_recorded(index, vshape):
    y, gx, gv = _set_program(tg, index, vshape)
    expect = np.arange(12.0).reshape(3, 4) * 2
    idx = _index(tg, index if isinstance(index, tuple) else (index,))
    pos = positions((3, 4), idx).reshape(-1)
    pshape = positions((3, 4), idx).shape
    vs = vshape if vshape is None or len(vshape) <= len(pshape) else vshape[-len(pshape):]
    vals = np.broadcast_to(7.5 if vshape is None else
                           np.arange(1.0, 1.0 + np.prod(vshape)).reshape(vs) * 10,
                           pshape).reshape(-1)
    expect.reshape(-1)[pos] = vals
    np.testing.assert_array_equal(y.detach().numpy(), expect)
    hit = np.zeros(12, bool)
    hit[pos] = True
    np.testing.assert_array_equal(gx.numpy().reshape(-1), np.where(hit, 0.0, 2 * np.arange(1, 13)))
    if vshape is not None:  # each position reads its value's weight (arange + 1)
        want = (pos + 1.0).reshape(positions((3, 4), idx).shape)
        want = want.sum(tuple(range(want.ndim - len(vs))))
        want = want.sum(tuple(d for d, n in enumerate(vs) if n == 1), keepdims=True)
        np.testing.assert_array_equal(gv.numpy(), want.reshape(vshape))


@needs_torch
@pytest.mark.torch
@pytest.mark.parametrize("index,vshape", SETS, ids=[str(i) for i in range(len(SETS))])
def test_setitem_matches_pytorch(index, vshape):
    ya, gxa, gva = _set_program(torch_ref, index, vshape)
    yx, gxx, gvx = _set_program(tg, index, vshape)
    np.testing.assert_array_equal(ya.detach().numpy(), yx.detach().numpy())
    assert ya.grad_fn.name() == yx.grad_fn.name()
    np.testing.assert_array_equal(gxa.numpy(), gxx.numpy())
    if vshape is not None:
        np.testing.assert_array_equal(gva.numpy(), gvx.numpy())


def test_setitem_rules():
    x = tg.tensor([1.0, 2.0, 3.0], requires_grad=True)
    with pytest.raises(RuntimeError, match="leaf Variable that requires grad"):
        x[0] = 1.0
    y = x.sin()           # SinBackward0 saves x ...
    h = x * 1
    s = h.sin()           # ... and this one saves h, which is then written
    h[1] = 0.0
    assert h._version == 1 and h.grad_fn.name() == "torch::autograd::CopySlices"
    with pytest.raises(RuntimeError, match="modified by an inplace operation"):
        s.sum().backward()
    y.sum().backward()
    np.testing.assert_allclose(x.grad.numpy(), np.cos([1.0, 2.0, 3.0]))
    # a plain tensor that receives a value requiring grad joins the graph
    z = tg.zeros(3)
    z[1:] = x[:2] * 2
    assert z.requires_grad and not z.is_leaf and z.grad_fn.name() == "torch::autograd::CopySlices"
    names = [type(f).__name__ for f, _ in z.grad_fn.next_functions]
    assert names == ["NoneType", "MulBackward0"]
    # under no_grad nothing is recorded, a leaf may be written
    with tg.no_grad():
        x[0] = 10.0
    assert x.tolist() == [10.0, 2.0, 3.0] and x.is_leaf


def test_setitem_value_shapes():
    y = tg.zeros(2, 4, requires_grad=True) * 1
    with pytest.raises(RuntimeError, match=r"value tensor of shape \[3, 2, 4\].*\[2, 4\]"):
        y[:] = tg.ones(3, 2, 4)
    with pytest.raises(RuntimeError, match=r"value tensor of shape \[2, 3\].*\[2, 4\]"):
        y[:, :] = tg.ones(2, 3)
    y[:] = tg.ones(1, 1, 4)
    assert y.tolist() == [[1.0] * 4] * 2


def test_setitem_without_grad_follows_pytorch_index_rules():
    a = tg.zeros(2, 3, 4)
    a[0, :, tg.tensor([0, 2])] = tg.tensor([[1.0, 2.0, 3.0], [4.0, 5.0, 6.0]]).T  # [3, 2]
    np.testing.assert_array_equal(a[0].numpy(), [[1, 0, 4, 0], [2, 0, 5, 0], [3, 0, 6, 0]])
    i = tg.tensor([1, 0, 1])
    i[tg.tensor([True, False, True])] = 5
    assert i.tolist() == [5, 0, 5]


def test_index_put():
    x = tg.tensor([1.0, 2.0, 3.0, 4.0], requires_grad=True)
    v = tg.tensor([10.0, 20.0, 30.0], requires_grad=True)
    i = (tg.tensor([0, 2, 0]),)
    y = x.index_put(i, v, accumulate=True)
    assert y.tolist() == [41.0, 2.0, 23.0, 4.0] and y.grad_fn.name() == "IndexPutBackward0"
    (y * tg.tensor([1.0, 2.0, 3.0, 4.0])).sum().backward()
    assert x.grad.tolist() == [1.0, 2.0, 3.0, 4.0] and v.grad.tolist() == [1.0, 3.0, 1.0]
    assert x.tolist() == [1.0, 2.0, 3.0, 4.0]  # out of place
    z = tg.index_put(x.detach(), (tg.tensor([3]),), tg.tensor(0.0))
    assert z.tolist() == [1.0, 2.0, 3.0, 0.0]


# ---- where, lerp and clamp with three tensors -------------------------------------------
def test_three_tensor_ops_are_one_record():
    x = tg.tensor([1.0, -2.0, 3.0], requires_grad=True)
    y = tg.tensor([[0.5], [4.0]], requires_grad=True)
    w = tg.where(x > 0, x, y)                       # y broadcasts inside the op
    assert w.shape == (2, 3) and w.grad_fn.name() == "WhereBackward0"
    assert [type(f).__name__ for f, _ in w.grad_fn.next_functions] == ["AccumulateGrad"] * 2
    w.sum().backward()
    assert x.grad.tolist() == [2.0, 0.0, 2.0] and y.grad.tolist() == [[1.0], [1.0]]
    lerp = tg.lerp(x, y, tg.tensor(0.25, requires_grad=True))
    assert lerp.grad_fn.name() == "LerpBackward1" and len(lerp.grad_fn.next_functions) == 3
    c = x.clamp(min=tg.zeros(3))
    assert c.grad_fn.name() == "ClampBackward0"
    assert [f is None for f, _ in c.grad_fn.next_functions] == [False, True, True]


CLAMP_VALUES = [0.0, 1.0, 2.0, float("nan")]


def _clamp_all(lib, xv, lo, hi):
    out = []
    for kw in ("both", "min", "max"):
        a, l, h = (lib.tensor(v, requires_grad=True) for v in (xv, lo, hi))
        args = {"both": dict(min=l, max=h), "min": dict(min=l), "max": dict(max=h)}[kw]
        r = lib.clamp(a, **args)
        r.backward()
        out.append([r.item()] + [t.grad.item() if t.grad is not None else None
                                 for t in (a, l, h)])
    return out


def test_clamp_tensor_ties_and_nans():
    """Values and gradients at ties, crossed bounds and NaNs (PyTorch 2.13's, recorded)."""
    got = {k: _clamp_all(tg, *k) for k in [(0.0, 1.0, 1.0), (2.0, 1.0, 1.0), (1.0, 1.0, 2.0),
                                           (1.5, 2.0, 1.0), (0.5, 2.0, 1.0)]}
    assert got[(0.0, 1.0, 1.0)][0] == [1.0, 0.0, 0.0, 0.0]   # min == max: no gradient at all
    assert got[(2.0, 1.0, 1.0)][0] == [1.0, 0.0, 0.0, 1.0]
    assert got[(1.0, 1.0, 2.0)][0] == [1.0, 1.0, 0.0, 0.0]   # x == min: x's gradient
    assert got[(1.5, 2.0, 1.0)][0] == [1.0, 0.0, 0.0, 1.0]   # min > max: max wins
    assert got[(0.5, 2.0, 1.0)][0] == [1.0, 0.0, 0.0, 1.0]
    r = _clamp_all(tg, 1.0, float("nan"), 2.0)
    assert np.isnan(r[0][0]) and np.isnan(r[1][0]) and r[2][0] == 1.0


@needs_torch
@pytest.mark.torch
def test_clamp_tensor_matches_pytorch_everywhere():
    for xv, lo, hi in itertools.product(CLAMP_VALUES, repeat=3):
        want, got = _clamp_all(torch_ref, xv, lo, hi), _clamp_all(tg, xv, lo, hi)
        np.testing.assert_array_equal(np.array(got, dtype=float), np.array(want, dtype=float),
                                      err_msg=f"clamp x={xv} min={lo} max={hi}")


@needs_torch
@pytest.mark.torch
def test_where_and_lerp_match_pytorch_with_broadcasting():
    rng = np.random.default_rng(3)
    shapes = [((2, 3), (3,), (2, 1)), ((3,), (), (4, 1, 3)), ((1,), (2, 2), ())]
    for sa, sb, sm in shapes:
        vals = [rng.standard_normal(s) for s in (sa, sb, sm)]
        res = []
        for lib in (torch_ref, tg):
            a, b, m = (lib.tensor(v, requires_grad=True) for v in vals)
            w = lib.where(m > 0, a, b) + lib.lerp(a, b, m)
            w.backward(lib.ones(w.shape, dtype=w.dtype))
            res.append([w.detach().numpy(), a.grad.numpy(), b.grad.numpy(), m.grad.numpy()])
        for p, q in zip(*res):
            np.testing.assert_allclose(q, p, rtol=1e-12, atol=1e-12)


def test_setitem_on_arrays_not_in_c_order():
    """Found by the fuzzer: a write by index into a tensor whose array is not in C order
    (from_numpy of a Fortran or transposed array, an expand of a detached value cloned)
    was computed on a flattened copy and lost."""
    a = np.asfortranarray(np.ones((2, 3)))
    t = tg.from_numpy(a)
    t[0] = 0.0
    assert t.tolist() == [[0, 0, 0], [1, 1, 1]] and a.tolist() == t.tolist()  # still shared
    b = np.ones((3, 2)).T
    u = tg.from_numpy(b)
    u[0, 1] = 5.0
    assert b[0, 1] == 5.0 and u[0, 1].item() == 5.0
    v0 = tg.tensor([0.5, -0.9], dtype=tg.float64, requires_grad=True)
    v3 = v0.expand(1, 2).detach().expand(2, 1, 2).clone()
    v3[0, :, :] = 0.0
    assert v3.tolist() == [[[0.0, 0.0]], [[0.5, -0.9]]]
