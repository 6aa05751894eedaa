"""What the third batch of tutorial programs (tests/tutorials/t3b_*.py) found: one test per
fix, with expected values written out (worked by hand or with NumPy); a few torch-marked
tests compare the same cases with PyTorch."""

import math
import pickle
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

import tapegrad as tg
import tapegrad.nn.functional as F
from tapegrad import nn

ROOT = Path(__file__).resolve().parent.parent


def _name(t) -> str:
    return type(t.grad_fn).__name__


def _err(fn) -> tuple:
    try:
        fn()
    except Exception as e:  # noqa: BLE001 (the class is what the tests check)
        return type(e), str(e)
    return None, ""


# ---- dtypes, where, contiguous, Size ------------------------------------------------------
def test_result_type_and_promote_types():
    i, f = tg.tensor([1, 2]), tg.tensor([0.5])
    assert tg.result_type(i, f) is tg.float32 and tg.result_type(i, 2.5) is tg.float32
    assert tg.result_type(i, 3) is tg.int64  # a 0-d tensor does not lift a dimensioned one
    assert tg.result_type(tg.tensor(1.0, dtype=tg.float64), f) is tg.float32  # (same category)
    assert tg.result_type(True, 2) is tg.int64 and tg.result_type(2, 1.5) is tg.float32
    assert tg.promote_types(tg.int32, tg.float32) is tg.float32
    assert tg.promote_types(tg.uint8, tg.int8) is tg.int16
    with pytest.raises(TypeError, match="promote_types"):
        tg.promote_types(tg.int32, "float")


def test_where_with_the_condition_alone_is_nonzero_as_tuple():
    v = tg.tensor([-2.0, 0.0, 0.5, 2.0])
    (idx,) = tg.where(v > 0)
    assert idx.tolist() == [2, 3] and idx.dtype is tg.int64
    rows, cols = tg.where(tg.tensor([[True, False], [False, True]]))
    assert rows.tolist() == [0, 1] and cols.tolist() == [0, 1]
    with pytest.raises(TypeError, match="where"):
        tg.where(v > 0, v)


def test_contiguous_copies_a_permuted_view():
    t = tg.arange(24).view(2, 3, 4).permute(2, 0, 1)
    assert not t.is_contiguous() and t.stride() == (1, 12, 4)
    c = t.contiguous()
    assert c.is_contiguous() and c.stride() == (6, 3, 1) and c.tolist() == t.tolist()
    assert c.contiguous() is c
    leaf = tg.from_numpy(np.arange(6.0).reshape(3, 2).T).requires_grad_()  # a strided array
    cl = leaf.contiguous()
    assert _name(cl) == "CloneBackward0" and cl.is_contiguous()
    cl.sum().backward()
    assert leaf.grad.tolist() == [[1.0] * 3] * 2


def test_size_slices_and_sums_stay_sizes():
    s = tg.zeros(2, 3, 4).size()
    assert repr(s[1:]) == "torch.Size([3, 4])" and s[1:].numel() == 12
    assert repr(s[:-1] + (8,)) == "torch.Size([2, 3, 8])" and repr((1,) + s) == \
        "torch.Size([1, 2, 3, 4])"
    assert repr(s * 2) == "torch.Size([2, 3, 4, 2, 3, 4])" and type(s[0]) is int
    assert s == (2, 3, 4) and pickle.loads(pickle.dumps(s)) == s
    with pytest.raises(TypeError):
        [1] + s


def test_meshgrid_xy_is_cartesian():
    gx, gy = tg.meshgrid(tg.arange(3), tg.arange(2), indexing="xy")
    assert gx.tolist() == [[0, 1, 2], [0, 1, 2]] and gy.tolist() == [[0, 0, 0], [1, 1, 1]]
    a, b, c = tg.arange(2), tg.arange(3), tg.arange(4)
    for ix in ("ij", "xy"):
        want = np.meshgrid(np.arange(2), np.arange(3), np.arange(4), indexing=ix)
        got = tg.meshgrid(a, b, c, indexing=ix)
        assert all(np.array_equal(g.numpy(), w) for g, w in zip(got, want)), ix


def test_var_and_std_take_unbiased_as_the_only_positional():
    m = tg.tensor([[1.0, 5.0, 3.0], [4.0, 2.0, 6.0]])  # mean 3.5, squares sum 17.5
    assert m.var(True).item() == pytest.approx(3.5) and m.std(False).item() == \
        pytest.approx(math.sqrt(17.5 / 6))
    v, mu = tg.var_mean(m, 1, unbiased=False)
    assert v.tolist() == pytest.approx([8 / 3, 8 / 3]) and mu.tolist() == [3.0, 4.0]
    s, mu = tg.std_mean(m, False)
    assert s.item() == pytest.approx(math.sqrt(17.5 / 6)) and mu.item() == 3.5
    assert tg.var_mean(m, dim=0, correction=0)[0].tolist() == [2.25, 2.25, 2.25]


# ---- messages and exception classes -------------------------------------------------------
def test_integer_mean_names_the_dtype_as_pytorch_does():
    _, msg = _err(lambda: tg.arange(6).mean())
    assert msg.endswith("Got: Long")
    assert _err(lambda: tg.tensor([True]).mean())[1].endswith("Got: Bool")


def test_return_types_are_named_after_the_op():
    m = tg.tensor([[1.0, 5.0], [4.0, 2.0]])
    assert type(m.max(1)).__name__ == "max" and type(m.min(0)).__name__ == "min"
    assert type(m.sort()).__name__ == "sort" and type(m.topk(1)).__name__ == "topk"
    r = m.max(1)
    assert isinstance(r, tuple) and r.values.tolist() == [5.0, 4.0]
    assert r.indices.tolist() == [1, 0] and repr(r).startswith("torch.return_types.max(")


def test_gather_and_index_select_refuse_a_float_index_with_runtime_error():
    x = tg.arange(6.0).view(2, 3)
    for fn, text in ((lambda: x.gather(1, tg.tensor([[0.0]])), "gather(): Expected dtype "
                      "int32/int64 for index"),
                     (lambda: x.index_select(0, tg.tensor([0.0])), "index_select(): Expected "
                      "dtype int32 or int64 for index")):
        cls, msg = _err(fn)
        assert cls is RuntimeError and msg.startswith(text)
    assert x.gather(1, tg.tensor([[2]], dtype=tg.int32)).tolist() == [[2.0]]


def test_index_messages_read_as_pytorchs():
    x = tg.arange(24.0).reshape(4, 6)
    cls, msg = _err(lambda: x[tg.tensor([True, False])])
    assert cls is IndexError and msg == ("The shape of the mask [2] at index 0 does not match "
                                         "the shape of the indexed tensor [4, 6] at index 0")
    cls, msg = _err(lambda: x[tg.tensor([0.0, 1.0])])
    assert cls is IndexError and "must be long, int, byte or bool tensors (got" in msg


def test_einsum_and_bmm_shape_messages():
    a, b = tg.ones(3, 4), tg.ones(3, 4)
    assert _err(lambda: tg.einsum("ij,jk->ik", a, b))[1] == (
        "einsum(): subscript j has size 3 for operand 1 which does not broadcast with "
        "previously seen size 4")
    cls, msg = _err(lambda: tg.bmm(tg.ones(2, 3, 4), tg.ones(3, 4, 5)))
    assert cls is RuntimeError and msg.startswith(
        "Expected size for first two dimensions of batch2 tensor to be: [2, 4] but got: [3, 4].")
    msg = _err(lambda: tg.bmm(tg.ones(2, 3, 4), tg.ones(2, 5, 6)))[1]
    assert msg.startswith("Expected size for first two dimensions of batch2 tensor to be: "
                          "[2, 4] but got: [2, 5].")
    msg = _err(lambda: tg.matmul(tg.ones(2, 3, 4), tg.ones(2, 5, 6)))[1]
    assert "[2, 4] but got: [2, 5]." in msg and "[[2]" not in msg  # (was "[[2], 4]")


def test_linalg_error_prints_as_pytorchs():
    cls, msg = _err(lambda: tg.linalg.cholesky(tg.tensor([[1.0, 2.0], [2.0, 1.0]])))
    assert cls is tg.linalg.LinAlgError and cls.__name__ == "_LinAlgError"
    assert issubclass(cls, RuntimeError) and "not positive-definite" in msg
    assert type(pickle.loads(pickle.dumps(cls("x")))) is cls


def test_version_error_names_the_node_as_pytorch():
    w = tg.ones(3, requires_grad=True)
    x = w.exp()
    x.mul_(2)
    cls, msg = _err(lambda: x.sum().backward())
    assert cls is RuntimeError
    assert ("[torch.FloatTensor [3]], which is output 0 of Exp, is at version 1; expected "
            "version 0 instead. Hint: enable anomaly detection") in msg


def test_integer_division_by_zero_raises():
    a, z = tg.tensor([5, -3]), tg.tensor([0, 2])
    for fn in (lambda: a // z, lambda: a // 0, lambda: a % z, lambda: tg.remainder(a, 0),
               lambda: tg.fmod(a, z), lambda: tg.floor_divide(a, z),
               lambda: tg.tensor([5], dtype=tg.int32) // tg.tensor([0], dtype=tg.int32)):
        assert _err(fn) == (RuntimeError, "ZeroDivisionError")
    assert (a // tg.tensor([2, 2])).tolist() == [2, -2] and (a % 2).tolist() == [1, 1]
    assert (a.float() // 0).tolist() == [math.inf, -math.inf]


# ---- grad_fn names --------------------------------------------------------------------------
def test_copy_slices_name_is_namespaced_and_its_repr_is_not():
    e = tg.ones(2, 2, requires_grad=True).clone()
    e[0] = 0.0
    assert e.grad_fn.name() == "torch::autograd::CopySlices"
    assert repr(e.grad_fn).startswith("<CopySlices object at ")


def test_scatter_nodes():
    a = tg.ones(3, 2, requires_grad=True)
    i = tg.tensor([[1], [0], [1]])
    c = tg.zeros(3, 4).scatter(1, i, a[:, :1])
    assert _name(c) == "ScatterBackward0"
    assert [type(n).__name__ for n, _ in c.grad_fn.next_functions] == ["NoneType", "SliceBackward0"]
    assert _name(a.scatter(1, i, 2.0)) == "ScatterBackward1"
    assert _name(a.scatter_add(1, i, a[:, :1])) == "ScatterAddBackward0"
    b = a.clone()
    b.scatter_(1, i, a[:, :1])
    assert _name(b) == "ScatterBackward0"
    b.sum().backward()
    assert a.grad.tolist() == [[2.0, 0.0], [1.0, 1.0], [2.0, 0.0]]  # hand-worked


def test_native_function_nodes_print_without_a_module():
    m = (tg.eye(3, dtype=tg.float64) * 2).requires_grad_()
    b = tg.ones(3, dtype=tg.float64)
    assert repr(tg.linalg.inv(m).grad_fn).startswith("<LinalgInvExBackward0 object at ")
    assert repr(tg.linalg.det(m).grad_fn).startswith("<LinalgDetBackward0 object at ")
    s = tg.linalg.solve(m, b)
    assert repr(s.grad_fn).startswith("<LinalgSolveExBackward0 object at ")  # (a vector b)
    s.sum().backward()
    assert m.grad.tolist() == [[-0.25] * 3] * 3  # -inv(A)^T x 1^T... = -(1/2)(1/2)
    conv = nn.Conv2d(1, 1, 1)(tg.ones(1, 1, 2, 2))
    assert repr(conv.grad_fn).startswith("<ConvolutionBackward0 object at ")

    class Mine(tg.autograd.Function):
        @staticmethod
        def forward(ctx, x):
            return x * 2

        @staticmethod
        def backward(ctx, g):
            return g * 2

    y = Mine.apply(tg.ones(1, requires_grad=True))
    assert repr(y.grad_fn).startswith("<torch.autograd.function.MineBackward object at ")


def test_conv_transpose_node():
    up = nn.ConvTranspose2d(2, 1, 3, stride=2, padding=1, output_padding=1)
    x = tg.ones(1, 2, 3, 3, requires_grad=True)
    y = up(x)
    assert _name(y) == "ConvolutionBackward0" and y.shape == (1, 1, 6, 6)
    assert [type(n).__name__ for n, _ in y.grad_fn.next_functions] == ["AccumulateGrad"] * 3
    assert _name(F.conv_transpose2d(x, up.weight)) == "ConvolutionBackward0"
    assert _name(up(x[0])) == "SqueezeBackward1"  # unbatched: PyTorch squeezes too


def test_composite_nodes_have_pytorchs_names():
    w = tg.tensor([[0.5, -1.0], [2.0, 0.25]], requires_grad=True)
    cases = {"UnbindBackward0": w.unbind()[1], "RollBackward0": tg.roll(w, 1, 0),
             "TrilBackward0": tg.tril(w), "TriuBackward0": tg.triu(w, 1),
             "CumprodBackward0": w.cumprod(1), "TakeBackward0": w.take(tg.tensor([3])),
             "FloorBackward0": w.floor(), "CeilBackward0": w.ceil(),
             "RoundBackward0": w.round(), "RoundBackward1": w.round(decimals=1),
             "TruncBackward0": w.trunc(), "FracBackward0": w.frac(),
             "AddmmBackward0": tg.addmm(w, w, w), "DiagonalBackward0": w.diagonal(),
             "TraceBackward0": tg.trace(w), "ConstantPadNdBackward0": F.pad(w, (1, 1)),
             "ReflectionPad1DBackward0": F.pad(w.view(1, 2, 2), (1, 1), mode="reflect"),
             "ReplicationPad2DBackward0": F.pad(w.view(1, 1, 2, 2), (1, 1, 1, 1),
                                                mode="replicate")}
    for name, t in cases.items():
        assert _name(t) == name, (name, _name(t))
    assert _name(tg.roll(w, 1)) == "RollBackward0"  # (over the flattened tensor)
    loss = sum(t.sum() for t in cases.values())
    loss.backward()
    # d/dw of each case, summed (worked out per case: unbind row 1, roll 1, tril/triu masks,
    # cumprod [a, a*b] rows, take [1,1], rounding 0, frac 1, addmm, diagonal 2x, pads 1)
    a, b, c, d = 0.5, -1.0, 2.0, 0.25
    addmm = np.array([[1 + (a + b) + (a + c), 1 + (c + d) + (a + c)],
                      [1 + (a + b) + (b + d), 1 + (c + d) + (b + d)]])
    want = (np.array([[0, 0], [1, 1]]) + 1 + np.array([[1, 0], [1, 1]])
            + np.array([[0, 1], [0, 0]]) + np.array([[1 + b, a], [1 + d, c]])
            + np.array([[0, 0], [0, 1]]) + 1 + addmm + 2 * np.eye(2) + 1
            + np.array([[2, 2], [2, 2]]) + np.array([[4, 4], [4, 4]]))
    np.testing.assert_allclose(w.grad.numpy(), want, rtol=1e-6)


def test_diagonal_of_batched_matrices():
    g = tg.arange(24.0).view(2, 3, 4)
    assert g.diagonal(dim1=1, dim2=2).tolist() == [[0.0, 5.0, 10.0], [12.0, 17.0, 22.0]]
    assert tg.diagonal(g, 1, 0, 2).tolist() == [[1.0, 14.0], [5.0, 18.0], [9.0, 22.0]]
    assert g.diagonal(offset=-1, dim1=-1, dim2=-2).tolist() == [[1.0, 6.0, 11.0],
                                                                [13.0, 18.0, 23.0]]
    np.testing.assert_array_equal(g.diagonal(0, 0, 1).numpy(),
                                  np.diagonal(np.arange(24.0).reshape(2, 3, 4), 0, 0, 1))
    x = tg.arange(24.0).view(2, 3, 4).requires_grad_()
    (x.diagonal(dim1=-2, dim2=-1) * tg.tensor([1.0, 2.0, 3.0])).sum().backward()
    want = np.zeros((2, 3, 4))
    want[:, [0, 1, 2], [0, 1, 2]] = [1.0, 2.0, 3.0]
    np.testing.assert_array_equal(x.grad.numpy(), want)
    with pytest.raises(RuntimeError, match="diagonal dimensions cannot be identical"):
        g.diagonal(dim1=1, dim2=-2)
    with pytest.raises(RuntimeError, match="trace: expected a matrix"):
        tg.trace(g)


# ---- values and gradients -------------------------------------------------------------------
def test_dropout_with_p_zero_is_the_input_and_draws_nothing():
    x = tg.ones(3, requires_grad=True) * 2
    tg.manual_seed(0)
    want = tg.rand(2).tolist()
    tg.manual_seed(0)
    assert F.dropout(x, 0.0) is x and F.dropout2d(x.view(1, 3, 1, 1), 0.0).grad_fn is not None
    assert nn.Dropout(0.0)(x) is x and _name(x) == "MulBackward0"
    assert tg.rand(2).tolist() == want  # no random numbers drawn


def test_median_over_all_elements_shares_the_gradient_among_ties():
    x = tg.tensor([1.0, 2.0, 2.0, 3.0], requires_grad=True)
    y = x.median()
    y.backward()
    assert y.item() == 2.0 and _name(y) == "MedianBackward0"
    assert x.grad.tolist() == [0.0, 0.5, 0.5, 0.0]
    x = tg.tensor([float("nan"), 1.0, float("nan")], requires_grad=True)
    x.median().backward()
    assert x.grad.tolist() == [0.5, 0.0, 0.5]
    x.grad = None
    x.nanmedian().backward()
    assert x.grad.tolist() == [0.0, 1.0, 0.0]
    x = tg.tensor([3.0, 1.0, 2.0], requires_grad=True)  # no ties: one element
    x.median().backward()
    assert x.grad.tolist() == [0.0, 0.0, 1.0]
    assert x.median(0).values.item() == 2.0 and tg.tensor([3, 1, 3]).median().item() == 3


def test_isposinf_isneginf_nansum_nanmean():
    bad = tg.tensor([1.0, float("nan"), float("inf"), -float("inf"), 2.0])
    assert tg.isposinf(bad).tolist() == [False, False, True, False, False]
    assert bad.isneginf().tolist() == [False, False, False, True, False]
    assert tg.isposinf(tg.tensor([1, 2])).tolist() == [False, False]
    x = tg.tensor([[1.0, float("nan")], [3.0, 4.0]], requires_grad=True)
    s = tg.nansum(x)
    assert s.item() == 8.0 and _name(s) == "NansumBackward0"
    assert x.nansum(0).tolist() == [4.0, 4.0] and x.nansum(1, keepdim=True).shape == (2, 1)
    s.backward()
    assert x.grad.tolist() == [[1.0, 0.0], [1.0, 1.0]]
    x.grad = None
    m = tg.nanmean(x, 1)
    assert m.tolist() == [1.0, 3.5]
    m.sum().backward()
    assert x.grad.tolist() == [[1.0, 0.0], [0.5, 0.5]]
    assert math.isnan(tg.nanmean(tg.tensor([float("nan")])).item())
    assert tg.nansum(tg.tensor([1, 2])).item() == 3
    with pytest.raises(RuntimeError, match="nanmean"):
        tg.nanmean(tg.tensor([1, 2]))


def test_out_of_range_float32_and_wide_ranges_print_without_numpy_warnings():
    code = ("import tapegrad as t\n"
            "x = t.tensor([1e-45, 3e38, 4e38])\n"
            "print(x, t.tensor([1e-320, 1e308], dtype=t.float64))\n")
    r = subprocess.run([sys.executable, "-W", "default", "-c", code], capture_output=True,
                       text=True, timeout=120, cwd=ROOT)
    assert r.returncode == 0 and r.stderr == "", r.stderr
    assert r.stdout == ("tensor([1.4013e-45, 3.0000e+38,        inf]) tensor([9.9999e-321, "
                        "1.0000e+308], dtype=torch.float64)\n")


# ---- against PyTorch --------------------------------------------------------------------
@pytest.mark.torch
def test_fixes_against_pytorch():
    torch = pytest.importorskip("torch")
    w0 = np.array([[0.5, -1.0, 2.0], [2.0, 0.25, 2.0], [1.5, 1.5, -3.0]])
    outs = []
    for m in (tg, torch):
        w = m.tensor(w0, requires_grad=True)
        parts = [w.median(), m.roll(w, 1), m.tril(w, -1), w.cumprod(0), w.take(m.tensor([0, 8])),
                 m.addmm(w, w, w, beta=0.5, alpha=2), w.diagonal(1), m.trace(w),
                 m.nn.functional.pad(w, (1, 2)),
                 m.zeros(3, 3, dtype=m.float64).scatter(1, m.tensor([[1], [2], [0]]), w[:, :1]),
                 m.nansum(w), m.nanmean(w, 0)]
        names = [type(p.grad_fn).__name__ for p in parts]
        sum(p.sum() for p in parts).backward()
        gx, gy = m.meshgrid(m.arange(3), m.arange(2), indexing="xy")
        outs.append((names, w.grad.numpy().copy(), gx.tolist(), gy.tolist(),
                     type(w.max(0)).__name__, str(w.var(True).item())))
    assert outs[0][0] == outs[1][0]
    np.testing.assert_allclose(outs[0][1], outs[1][1], rtol=1e-12)
    assert outs[0][2:] == outs[1][2:]
