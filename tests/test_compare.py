"""Comparisons, logical and bitwise ops, any/all, argmax/argmin, isclose/allclose: bool
(or int64) results, never recorded, PyTorch's broadcasting, promotion and errors."""

import numpy as np
import pytest

import tapegrad as torch

NAN, INF = float("nan"), float("inf")


def vals(t):
    assert isinstance(t, torch.Tensor)
    return t.tolist()


def check(t, expected, dtype=torch.bool, shape=None):
    assert isinstance(t, torch.Tensor)
    assert t.dtype is dtype, (t.dtype, dtype)
    assert t.tolist() == expected
    if shape is not None:
        assert t.shape == torch.Size(shape)
    assert not t.requires_grad and t.grad_fn is None and t.is_leaf


# ---- comparisons ------------------------------------------------------------------------
X = [1.0, 2.0, 3.0]
Y = [3.0, 2.0, 1.0]

CMP = [
    ("eq", lambda a, b: a == b, [False, True, False]),
    ("ne", lambda a, b: a != b, [True, False, True]),
    ("lt", lambda a, b: a < b, [True, False, False]),
    ("le", lambda a, b: a <= b, [True, True, False]),
    ("gt", lambda a, b: a > b, [False, False, True]),
    ("ge", lambda a, b: a >= b, [False, True, True]),
]


@pytest.mark.parametrize("name,op,expected", CMP, ids=[c[0] for c in CMP])
def test_comparison_function_method_operator(name, op, expected):
    x, y = torch.tensor(X), torch.tensor(Y)
    check(getattr(torch, name)(x, y), expected, shape=(3,))
    check(getattr(x, name)(y), expected)
    check(op(x, y), expected)


@pytest.mark.parametrize("name,op,expected", CMP, ids=[c[0] for c in CMP])
def test_comparison_with_scalar_both_sides(name, op, expected):
    x = torch.tensor([1.0, 2.0, 3.0])
    # x op 2 and 2 op' x where the expected pattern at index 1 is the tie
    ref = {"eq": [False, True, False], "ne": [True, False, True],
           "lt": [True, False, False], "le": [True, True, False],
           "gt": [False, False, True], "ge": [False, True, True]}[name]
    check(op(x, 2), ref)
    check(op(x, 2.0), ref)
    check(getattr(torch, name)(x, 2), ref)
    check(getattr(x, name)(np.float64(2.0)), ref)
    # reflected: 2 op x is x op' 2
    flipped = {"eq": "eq", "ne": "ne", "lt": "gt", "le": "ge", "gt": "lt", "ge": "le"}[name]
    check(op(2, x), {"eq": [False, True, False], "ne": [True, False, True],
                     "lt": [False, False, True], "le": [False, True, True],
                     "gt": [True, False, False], "ge": [True, True, False]}[name])
    check(op(2, x), vals(getattr(torch, flipped)(x, 2)))


def test_reflected_examples():
    x = torch.tensor([1, 2, 3])
    check(2 < x, [False, False, True])
    check(2 >= x, [True, True, False])
    check(2 == x, [False, True, False])
    check(2.5 != x, [True, True, True])


def test_aliases():
    x, y = torch.tensor(X), torch.tensor(Y)
    for alias, name in [("greater", "gt"), ("greater_equal", "ge"), ("less", "lt"),
                        ("less_equal", "le"), ("not_equal", "ne")]:
        assert vals(getattr(torch, alias)(x, y)) == vals(getattr(torch, name)(x, y))
        assert vals(getattr(x, alias)(y)) == vals(getattr(torch, name)(x, y))


def test_broadcasting():
    a = torch.tensor([[1.0], [2.0], [3.0]])       # 3x1
    b = torch.tensor([1.0, 2.0, 3.0, 4.0])         # 4
    r = a < b
    check(r, [[False, True, True, True], [False, False, True, True],
              [False, False, False, True]], shape=(3, 4))
    check(torch.eq(torch.tensor(2.0), b), [False, True, False, False], shape=(4,))
    check(torch.ones(2, 1, 3) == torch.ones(4, 1), [[[True] * 3] * 4] * 2, shape=(2, 4, 3))


@pytest.mark.parametrize("name", ["eq", "ne", "lt", "le", "gt", "ge", "logical_and",
                                  "logical_or", "logical_xor", "bitwise_and", "bitwise_or",
                                  "bitwise_xor", "isclose"])
def test_broadcast_error_names_op(name):
    a = torch.zeros(3) if not name.startswith("bitwise") else torch.zeros(3, dtype=torch.int64)
    b = torch.zeros(4) if not name.startswith("bitwise") else torch.zeros(4, dtype=torch.int64)
    with pytest.raises(RuntimeError) as e:
        getattr(torch, name)(a, b)
    assert str(e.value) == (f"{name}: The size of tensor a (3) must match the size of tensor b "
                            "(4) at non-singleton dimension 0")


def test_broadcast_error_operator_and_allclose():
    with pytest.raises(RuntimeError, match=r"^eq: The size of tensor a \(3\) must match the "
                                           r"size of tensor b \(4\) at non-singleton dimension 0"):
        torch.zeros(3) == torch.zeros(4)  # noqa: B015
    with pytest.raises(RuntimeError, match=r"^lt: .*dimension 1"):
        torch.zeros(2, 3) < torch.zeros(2, 4)  # noqa: B015
    with pytest.raises(RuntimeError, match=r"^allclose: .*\(3\).*\(4\)"):
        torch.allclose(torch.zeros(3), torch.zeros(4))


def test_operator_broadcast_error_names_bitwise():
    with pytest.raises(RuntimeError, match=r"^bitwise_and: "):
        torch.tensor([True, False]) & torch.tensor([True, False, True])


@pytest.mark.parametrize("name", ["eq", "ne", "lt", "le", "gt", "ge", "bitwise_and",
                                  "bitwise_or", "bitwise_xor"])
def test_non_tensor_arguments(name):
    f = getattr(torch, name)
    with pytest.raises(TypeError, match=rf"^{name}\(\): argument 'input' must be Tensor, not list"):
        f([1, 2], torch.tensor([1, 2]))
    with pytest.raises(TypeError, match=rf"^{name}\(\): argument 'other' must be Tensor or Number,"
                                        " not list"):
        f(torch.tensor([1, 2]), [1, 2])
    with pytest.raises(TypeError, match=rf"^{name}\(\): .*not str"):
        f(torch.tensor([1, 2]), "a")


@pytest.mark.parametrize("name,args", [
    ("equal", (torch.tensor([1.0]), [1.0])),
    ("logical_and", (torch.tensor([1.0]), 1)),
    ("logical_or", (torch.tensor([1.0]), 1.0)),
    ("logical_xor", (torch.tensor([1.0]), None)),
    ("isclose", (torch.tensor([1.0]), 1.0)),
    ("allclose", (torch.tensor([1.0]), [1.0])),
])
def test_other_must_be_tensor(name, args):
    with pytest.raises(TypeError, match=rf"^{name}\(\): argument 'other' must be Tensor, not "):
        getattr(torch, name)(*args)


@pytest.mark.parametrize("name", ["isnan", "isinf", "isfinite", "logical_not", "bitwise_not",
                                  "any", "all", "argmax", "argmin"])
def test_unary_non_tensor_input(name):
    with pytest.raises(TypeError, match=rf"^{name}\(\): argument 'input' must be Tensor, not int"):
        getattr(torch, name)(3)
    with pytest.raises(TypeError, match=rf"^{name}\(\): argument 'input' must be Tensor, not list"):
        getattr(torch, name)([1.0, 2.0])


def test_operators_with_unsupported_operands():
    x = torch.tensor([1.0, 2.0])
    assert (x == None) is False
    assert (x != None) is True
    assert (x == "a") is False
    assert x != [1.0, 2.0]
    with pytest.raises(TypeError, match="'<' not supported between instances of 'Tensor'"):
        x < None  # noqa: B015
    with pytest.raises(TypeError):
        x >= "a"  # noqa: B015
    with pytest.raises(TypeError):
        x & "a"


def test_dtypes_and_promotion():
    i = torch.tensor([1, 2, 3])
    f = torch.tensor([1.0, 2.5, 3.0])
    b = torch.tensor([True, False, True])
    check(i == f, [True, False, True])
    check(i < 2.5, [True, True, False])
    check(i == 2.0, [False, True, False])
    check(b == 1, [True, False, True])
    check(b == 2, [False, False, False])
    check(b == 0.5, [False, False, False])
    check(b == True, [True, False, True])
    check(b < i, [False, True, True])
    check(torch.tensor([1, 2], dtype=torch.int32) == torch.tensor([1, 3]), [True, False])
    check(torch.tensor([1.0, 2.0], dtype=torch.float64) > torch.tensor([1.5, 1.5]),
          [False, True])
    # float32 compares in float32: the python scalar (and a 0-d float64 tensor) is rounded
    check(torch.tensor([0.1]) == 0.1, [True])
    check(torch.tensor([0.1]) == torch.tensor(0.1, dtype=torch.float64), [True])
    check(torch.tensor([0.1], dtype=torch.float64) == torch.tensor([0.1]), [False])
    # an integer tensor against a python int out of its dtype's range
    check(torch.tensor([1], dtype=torch.int32) == 2**40, [False])
    check(torch.tensor([1], dtype=torch.int32) < 2**40, [False])  # (2**40 wraps to 0 first)
    with pytest.raises(OverflowError):
        torch.tensor([1]) < 2**70  # noqa: B015
    check(torch.tensor([1.0]) < 2**70, [True])


def test_nan_and_inf():
    x = torch.tensor([NAN, INF, -INF, 1.0, 0.0])
    same = x
    check(x == same, [False, True, True, True, True])
    check(x != same, [True, False, False, False, False])
    check(x < same, [False] * 5)
    check(x >= NAN, [False] * 5)
    check(x != NAN, [True] * 5)
    check(torch.isnan(x), [True, False, False, False, False])
    check(torch.isinf(x), [False, True, True, False, False])
    check(torch.isfinite(x), [False, False, False, True, True])
    check(x.isnan(), [True, False, False, False, False])
    check(x.isinf(), [False, True, True, False, False])
    check(x.isfinite(), [False, False, False, True, True])
    assert vals(torch.isnan(x).sum()) == 1
    # NaN is truthy
    check(torch.logical_not(x), [False, False, False, False, True])
    check(torch.any(torch.tensor([NAN])), True)
    assert vals(torch.argmax(torch.tensor([1.0, NAN, 3.0, NAN]))) == 1
    assert vals(torch.argmin(torch.tensor([1.0, NAN, 3.0, NAN]))) == 1


@pytest.mark.parametrize("dtype", [torch.int64, torch.int32, torch.bool])
def test_classification_of_non_float(dtype):
    x = torch.tensor([1, 0, 1], dtype=dtype)
    check(torch.isnan(x), [False] * 3)
    check(torch.isinf(x), [False] * 3)
    check(torch.isfinite(x), [True] * 3)


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
def test_classification_float_dtypes(dtype):
    x = torch.tensor([NAN, 1.0], dtype=dtype)
    check(torch.isnan(x), [True, False])
    check(torch.isfinite(x), [False, True])


def test_requires_grad_input_is_not_recorded():
    x = torch.tensor([1.0, -2.0, 3.0], requires_grad=True)
    y = x * 2
    for r in (x > 0, y > 0, torch.eq(x, y), x.isnan(), torch.any(y), torch.argmax(y),
              torch.isclose(x, y), torch.logical_and(x, y), ~(x > 0)):
        assert not r.requires_grad and r.grad_fn is None and r.is_leaf
    mask = (x > 0).float()
    (x * mask).sum().backward()
    assert x.grad.tolist() == [1.0, 0.0, 1.0]
    with torch.no_grad():
        check(x > 0, [True, False, True])


def test_equal():
    a = torch.tensor([[1.0, 2.0], [3.0, 4.0]])
    assert torch.equal(a, a.clone()) is True
    assert a.equal(torch.tensor([[1.0, 2.0], [3.0, 5.0]])) is False
    assert torch.equal(a, torch.tensor([1.0, 2.0, 3.0, 4.0])) is False  # shape differs
    assert torch.equal(a, torch.tensor([1.0, 2.0])) is False  # even if broadcastable
    assert torch.equal(torch.tensor([1, 2]), torch.tensor([1.0, 2.0])) is True
    assert torch.equal(torch.tensor([NAN]), torch.tensor([NAN])) is False
    assert torch.equal(torch.zeros(0), torch.zeros(0)) is True
    assert torch.equal(torch.tensor(3), torch.tensor(3)) is True
    with pytest.raises(TypeError, match=r"^equal\(\): argument 'input' must be Tensor"):
        torch.equal([1.0], a)


# ---- logical --------------------------------------------------------------------------
def test_logical_ops():
    a = torch.tensor([True, True, False, False])
    b = torch.tensor([True, False, True, False])
    check(torch.logical_and(a, b), [True, False, False, False])
    check(torch.logical_or(a, b), [True, True, True, False])
    check(torch.logical_xor(a, b), [False, True, True, False])
    check(torch.logical_not(a), [False, False, True, True])
    check(a.logical_and(b), [True, False, False, False])
    check(a.logical_or(b), [True, True, True, False])
    check(a.logical_xor(b), [False, True, True, False])
    check(a.logical_not(), [False, False, True, True])


def test_logical_ops_any_dtype_and_broadcast():
    f = torch.tensor([[0.0, 2.5], [-1.0, 0.0]])
    i = torch.tensor([3, 0])
    check(torch.logical_and(f, i), [[False, False], [True, False]], shape=(2, 2))
    check(torch.logical_or(f, i), [[True, True], [True, False]])
    check(torch.logical_xor(f, i), [[True, True], [False, False]])
    check(torch.logical_not(i), [False, True])
    check(torch.logical_not(torch.tensor(0.0)), True, shape=())


def test_bitwise_operators_bool():
    a = torch.tensor([True, True, False, False])
    b = torch.tensor([True, False, True, False])
    check(a & b, [True, False, False, False])
    check(a | b, [True, True, True, False])
    check(a ^ b, [False, True, True, False])
    check(~a, [False, False, True, True])
    check(a & True, [True, True, False, False])
    check(False | a, [True, True, False, False])
    check(True ^ a, [False, False, True, True])
    # combining masks, the common idiom
    x = torch.tensor([-2.0, -1.0, 0.0, 1.0, 2.0])
    check((x > -2) & (x < 2), [False, True, True, True, False])
    check((x < -1) | (x > 1), [True, False, False, False, True])
    check(~(x == 0), [True, True, False, True, True])


def test_bitwise_operators_int():
    a = torch.tensor([12, 10, -1])
    b = torch.tensor([10, 6, 5])
    check(a & b, [8, 2, 5], torch.int64)
    check(a | b, [14, 14, -1], torch.int64)
    check(a ^ b, [6, 12, -6], torch.int64)
    check(~a, [-13, -11, 0], torch.int64)
    check(a & 3, [0, 2, 3], torch.int64)
    check(3 & a, [0, 2, 3], torch.int64)
    check(1 | a, [13, 11, -1], torch.int64)
    check(torch.bitwise_and(a, b), [8, 2, 5], torch.int64)
    check(a.bitwise_or(b), [14, 14, -1], torch.int64)
    check(torch.bitwise_not(a), [-13, -11, 0], torch.int64)
    i32 = torch.tensor([1, -2], dtype=torch.int32)
    check(~i32, [-2, 1], torch.int32)
    check(i32 & 3, [1, 2], torch.int32)
    check(i32 | torch.tensor([4, 4]), [5, -2], torch.int64)
    # bool with int promotes to int; a python int lifts a bool tensor to int64
    check(torch.tensor([True, False]) | torch.tensor([1, 2]), [1, 2], torch.int64)
    check(torch.tensor([True, False]) & 1, [1, 0], torch.int64)
    check(1 & torch.tensor([True, False]), [1, 0], torch.int64)
    check(torch.tensor([1, 2]) & True, [1, 0], torch.int64)


def test_bitwise_float_refused():
    x = torch.tensor([1.0, 2.0])
    with pytest.raises(TypeError, match=r"~ \(operator.invert\) is only implemented on integer "
                                        "and Boolean-type tensors"):
        ~x  # noqa: B018
    with pytest.raises(NotImplementedError, match="\"bitwise_and_cpu\" not implemented for "
                                                  "'Float'"):
        x & x
    with pytest.raises(NotImplementedError, match="bitwise_or_cpu.*'Double'"):
        torch.tensor([1.0], dtype=torch.float64) | 1
    with pytest.raises(NotImplementedError, match="bitwise_xor_cpu.*'Float'"):
        torch.tensor([1, 2]) ^ 1.5
    with pytest.raises(NotImplementedError, match="bitwise_not_cpu.*'Float'"):
        torch.bitwise_not(x)


# ---- any / all --------------------------------------------------------------------------
def test_any_all_whole():
    x = torch.tensor([[0.0, 1.0], [0.0, 0.0]])
    check(torch.any(x), True, shape=())
    check(torch.all(x), False, shape=())
    check(x.any(), True)
    check(x.all(), False)
    check(torch.all(torch.ones(2, 3)), True)
    check(torch.any(torch.zeros(2, 3)), False)
    check(torch.any(x, keepdim=True), [[True]], shape=(1, 1))
    check(torch.any(torch.tensor([0, 3])), True)
    check(torch.all(torch.tensor([True, False])), False)


def test_any_all_dim():
    x = torch.tensor([[0.0, 1.0, 2.0], [0.0, 0.0, 3.0]])
    check(torch.any(x, dim=0), [False, True, True], shape=(3,))
    check(torch.all(x, dim=0), [False, False, True])
    check(torch.any(x, 1), [True, True], shape=(2,))
    check(torch.all(x, dim=-1), [False, False])
    check(x.any(dim=1, keepdim=True), [[True], [True]], shape=(2, 1))
    check(x.all(0, True), [[False, False, True]], shape=(1, 3))
    check(torch.any(x, dim=(0, 1)), True, shape=())
    check(torch.all(x, dim=[1, 0], keepdim=True), [[False]], shape=(1, 1))
    check(torch.any(x, dim=()), [[False, True, True], [False, False, True]], shape=(2, 3))


def test_any_all_errors():
    x = torch.zeros(2, 3)
    with pytest.raises(IndexError, match=r"any\(\): Dimension out of range \(expected to be in "
                                         r"range of \[-2, 1\], but got 2\)"):
        torch.any(x, 2)
    with pytest.raises(IndexError, match=r"^all\(\): Dimension out of range"):
        torch.all(x, dim=(0, -3))
    with pytest.raises(RuntimeError, match=r"^any\(\): dim 0 appears multiple times"):
        torch.any(x, dim=(0, -2))
    with pytest.raises(TypeError, match=r"all\(\): argument 'dim' must be int, not float"):
        torch.all(x, dim=1.0)


def test_any_all_empty():
    e = torch.zeros(0)
    check(torch.any(e), False, shape=())
    check(torch.all(e), True, shape=())
    e2 = torch.zeros(0, 3)
    check(torch.any(e2, dim=0), [False] * 3, shape=(3,))
    check(torch.all(e2, dim=0), [True] * 3, shape=(3,))
    check(torch.any(e2, dim=1), [], shape=(0,))
    check(e2.all(dim=1, keepdim=True), [], shape=(0, 1))


def test_any_all_0d():
    z = torch.tensor(0.0)
    check(torch.any(z), False, shape=())
    check(torch.all(torch.tensor(2)), True, shape=())
    check(torch.any(z, dim=0), False, shape=())
    check(torch.all(z, dim=-1, keepdim=True), False, shape=())


# ---- argmax / argmin --------------------------------------------------------------------
def test_argmax_argmin_flat():
    x = torch.tensor([[1.0, 5.0, 5.0], [7.0, 7.0, 0.0]])
    check(torch.argmax(x), 3, torch.int64, shape=())
    check(torch.argmin(x), 5, torch.int64, shape=())
    check(x.argmax(), 3, torch.int64)
    check(x.argmin(), 5, torch.int64)
    check(torch.argmax(x, keepdim=True), [[3]], torch.int64, shape=(1, 1))
    check(torch.argmax(torch.tensor([2, 9, 9, 1])), 1, torch.int64)  # first of the ties
    check(torch.argmin(torch.tensor([3, 1, 1, 1], dtype=torch.int32)), 1, torch.int64)


def test_argmax_argmin_dim():
    x = torch.tensor([[1.0, 5.0, 5.0], [7.0, 7.0, 0.0]])
    check(torch.argmax(x, dim=1), [1, 0], torch.int64, shape=(2,))
    check(torch.argmin(x, dim=1), [0, 2], torch.int64)
    check(torch.argmax(x, dim=0), [1, 1, 0], torch.int64)
    check(x.argmax(dim=-1, keepdim=True), [[1], [0]], torch.int64, shape=(2, 1))
    check(x.argmin(0, True), [[0, 0, 1]], torch.int64, shape=(1, 3))
    # on a tensor requiring grad and on a computed tensor
    w = torch.tensor([[1.0, 5.0, 5.0], [7.0, 7.0, 0.0]], requires_grad=True)
    check(torch.argmax(w * -1, dim=1), [0, 2], torch.int64)


def test_argmax_argmin_0d_and_empty():
    check(torch.argmax(torch.tensor(5.0)), 0, torch.int64, shape=())
    check(torch.argmax(torch.tensor(5.0), dim=0), 0, torch.int64, shape=())
    check(torch.argmin(torch.tensor(5.0), dim=-1, keepdim=True), 0, torch.int64, shape=())
    e = torch.zeros(0, 3)
    check(torch.argmax(e, dim=1), [], torch.int64, shape=(0,))
    with pytest.raises(IndexError, match=r"^argmax\(\): Expected reduction dim to be specified "
                                         r"for input.numel\(\) == 0\."):
        torch.argmax(e)
    with pytest.raises(IndexError, match=r"^argmin\(\): Expected reduction dim 0 to have "
                                         "non-zero size"):
        torch.argmin(e, dim=0)


def test_argmax_errors():
    x = torch.zeros(2, 3)
    with pytest.raises(IndexError, match=r"^argmax\(\): Dimension out of range"):
        torch.argmax(x, dim=2)
    with pytest.raises(TypeError, match=r"^argmin\(\): argument 'dim' must be int, not tuple"):
        torch.argmin(x, dim=(0,))
    with pytest.raises(RuntimeError, match=r"^argmax\(\): does not support bool input"):
        torch.argmax(torch.tensor([True, False]))


# ---- isclose / allclose -----------------------------------------------------------------
def test_isclose():
    a = torch.tensor([1.0, 1.0, 1.0, INF, -INF, NAN, 0.0])
    b = torch.tensor([1.0, 1.0 + 1e-6, 1.1, INF, INF, NAN, 1e-9])
    check(torch.isclose(a, b), [True, True, False, True, False, False, True])
    check(a.isclose(b, equal_nan=True), [True, True, False, True, False, True, True])
    check(torch.isclose(a, b, rtol=0.2), [True, True, True, True, False, False, True])
    check(torch.isclose(a, b, rtol=0, atol=0), [True, False, False, True, False, False, False])
    check(torch.isclose(torch.tensor([1, 5]), torch.tensor([2, 5]), atol=1), [True, True])
    check(torch.isclose(torch.tensor([1, 5]), torch.tensor([2, 5])), [False, True])
    check(torch.isclose(torch.tensor([True, False]), torch.tensor([True, True])),
          [True, False])
    check(torch.isclose(torch.tensor([[1.0], [2.0]]), torch.tensor([1.0, 2.0])),
          [[True, False], [False, True]], shape=(2, 2))


def test_allclose():
    a = torch.tensor([1.0, 2.0, 3.0])
    assert torch.allclose(a, a + 1e-7) is True
    assert torch.allclose(a, a + 1e-3) is False
    assert a.allclose(a + 1e-3, atol=1e-2) is True
    assert torch.allclose(a, torch.tensor(2.0), rtol=1.0) is True  # broadcasting
    assert torch.allclose(torch.tensor([NAN]), torch.tensor([NAN])) is False
    assert torch.allclose(torch.tensor([NAN]), torch.tensor([NAN]), equal_nan=True) is True
    assert torch.allclose(torch.zeros(0), torch.zeros(0)) is True
    x = torch.tensor([1.0, 2.0], requires_grad=True)
    assert torch.allclose(x, x * 1) is True


def test_isclose_errors():
    with pytest.raises(RuntimeError, match=r"^isclose\(\): Float did not match Double"):
        torch.isclose(torch.zeros(2), torch.zeros(2, dtype=torch.float64))
    with pytest.raises(RuntimeError, match=r"^allclose\(\): Float did not match Long"):
        torch.allclose(torch.zeros(2), torch.zeros(2, dtype=torch.int64))
    with pytest.raises(RuntimeError, match="rtol must be greater than or equal to zero"):
        torch.isclose(torch.zeros(2), torch.zeros(2), rtol=-1)
    with pytest.raises(RuntimeError, match="atol must be greater than or equal to zero"):
        torch.allclose(torch.zeros(2), torch.zeros(2), atol=-1)


# ---- empty and 0-d tensors -----------------------------------------------------------------
def test_empty_tensors():
    e = torch.zeros(0)
    check(e == torch.zeros(0), [], shape=(0,))
    check(e < 1, [], shape=(0,))
    check(torch.zeros(0, 3) > torch.zeros(3), [], shape=(0, 3))
    check(torch.isnan(e), [], shape=(0,))
    check(torch.logical_not(e), [], shape=(0,))
    check(torch.logical_or(torch.zeros(2, 0), torch.zeros(1, 0)), [[], []], shape=(2, 0))
    check(~torch.zeros(0, dtype=torch.bool), [], shape=(0,))
    check(torch.isclose(e, e), [], shape=(0,))
    assert vals((e > 0).sum()) == 0


def test_zero_dim_tensors():
    s = torch.tensor(2.0)
    check(s == 2, True, shape=())
    check(s > torch.tensor(1.0), True, shape=())
    check(3 > s, True, shape=())
    check(torch.isfinite(s), True, shape=())
    check(s.logical_not(), False, shape=())
    check(torch.tensor(True) & torch.tensor(False), False, shape=())
    check(s != torch.tensor([1.0, 2.0]), [True, False], shape=(2,))
    assert bool(s > 1) is True
    assert (s > 1).item() is True


# ---- results as values ------------------------------------------------------------------------
def test_sum_of_bool_and_conversion():
    x = torch.tensor([1.0, -2.0, 3.0, 4.0, 0.0])
    m = x > 0
    r = m.sum()
    check(r, 3, torch.int64, shape=())
    assert repr(r) == "tensor(3)"
    assert repr(m) == "tensor([ True, False,  True,  True, False])"
    f = m.float()
    assert f.dtype is torch.float32 and f.tolist() == [1.0, 0.0, 1.0, 1.0, 0.0]
    assert m.long().dtype is torch.int64 and m.long().tolist() == [1, 0, 1, 1, 0]
    assert m.double().dtype is torch.float64
    assert (x * m.float()).sum().item() == 8.0
    assert m.sum(dim=0).dtype is torch.int64


def test_result_owns_its_array():
    x = torch.tensor([1.0, 2.0])
    m = x > 1
    x.add_(10.0)
    assert m.tolist() == [False, True]  # unaffected by later writes to x
    m2 = torch.tensor([True, False])
    n = torch.logical_not(torch.logical_not(m2))
    n.numpy()[0] = False
    assert m2.tolist() == [True, False]


def test_tensors_stay_hashable():
    a, b = torch.tensor([1.0]), torch.tensor([1.0])
    d = {a: "a", b: "b"}
    assert d[a] == "a" and d[b] == "b"
    assert hash(a) != hash(b)
    assert len({a, b, a}) == 2
    assert a in [a] and a in {a}


def test_comparison_results_in_control_flow():
    x = torch.tensor(3.0, requires_grad=True)
    y = x * x if x > 2 else x
    y.backward()
    assert x.grad.item() == 6.0
    with pytest.raises(RuntimeError, match="Boolean value of Tensor with more than one value "
                                           "is ambiguous"):
        bool(torch.tensor([1.0, 2.0]) > 0)


# ---- against PyTorch ------------------------------------------------------------------------
CASES = [
    lambda m: m.tensor([1.0, 2.0, 3.0]) < m.tensor([[2.0], [1.0]]),
    lambda m: m.tensor([1.0, float("nan")]) == m.tensor([1.0, float("nan")]),
    lambda m: m.tensor([1.0, float("nan")]) != float("nan"),  # noqa: PLW0177
    lambda m: 2 <= m.tensor([1, 2, 3]),
    lambda m: 2.5 > m.tensor([1, 2, 3]),
    lambda m: m.tensor([True, False]) == 1,
    lambda m: m.tensor([True, False]) > 0.5,
    lambda m: m.tensor([0.1]) == 0.1,
    lambda m: m.tensor([0.1]) == m.tensor(0.1, dtype=m.float64),
    lambda m: m.tensor([1], dtype=m.int32) == 2**40,
    lambda m: m.tensor([16777217]) == 16777217.0,
    lambda m: m.tensor([1, 2], dtype=m.int32).ge(m.tensor([2.0, 1.0], dtype=m.float64)),
    lambda m: m.eq(m.zeros(3), m.zeros(4)),
    lambda m: m.ne(m.zeros(3), [1]),
    lambda m: m.isnan(m.tensor([1.0, float("nan"), float("inf")])),
    lambda m: m.isinf(m.tensor([1.0, float("nan"), -float("inf")])),
    lambda m: m.isfinite(m.tensor([1, 2])),
    lambda m: m.isinf(m.tensor([True])),
    lambda m: m.logical_and(m.tensor([[0.0, 1.0]]), m.tensor([[2], [0]])),
    lambda m: m.logical_or(m.tensor([0, 1]), m.tensor([0.0, 0.0])),
    lambda m: m.logical_xor(m.tensor([True, False]), m.tensor([True, True])),
    lambda m: m.logical_not(m.tensor([0.0, -1.0, float("nan")])),
    lambda m: m.logical_and(m.tensor([1.0]), 1),
    lambda m: m.tensor([True, False]) & m.tensor([True, True]),
    lambda m: m.tensor([True, False]) | m.tensor([1, 2]),
    lambda m: m.tensor([True, False]) ^ True,
    lambda m: 1 & m.tensor([True, False]),
    lambda m: m.tensor([12, -3], dtype=m.int32) ^ 5,
    lambda m: ~m.tensor([12, -3]),
    lambda m: ~m.tensor([True, False]),
    lambda m: ~m.tensor([1.0]),
    lambda m: m.tensor([1.0]) & m.tensor([1.0]),
    lambda m: m.tensor([1.0, 2.0]) == None,
    lambda m: m.tensor([1.0, 2.0]) < None,
    lambda m: m.any(m.tensor([[0.0, 1.0], [0.0, 0.0]]), dim=1),
    lambda m: m.all(m.tensor([[0.0, 1.0], [2.0, 3.0]]), dim=0, keepdim=True),
    lambda m: m.any(m.tensor([[0.0, 1.0], [0.0, 0.0]]), dim=(0, 1)),
    lambda m: m.all(m.tensor([[0.0, 1.0], [0.0, 0.0]]), dim=()),
    lambda m: m.any(m.zeros(0)),
    lambda m: m.all(m.zeros(0)),
    lambda m: m.all(m.zeros(0, 3), dim=0),
    lambda m: m.any(m.zeros(0, 3), dim=1),
    lambda m: m.any(m.zeros(2, 3), dim=(0, 0)),
    lambda m: m.any(m.zeros(2, 3), dim=2),
    lambda m: m.any(m.tensor(0.0), dim=0),
    lambda m: m.argmax(m.tensor([[1.0, 5.0, 5.0], [7.0, 7.0, 0.0]])),
    lambda m: m.argmax(m.tensor([[1.0, 5.0, 5.0], [7.0, 7.0, 0.0]]), keepdim=True),
    lambda m: m.argmin(m.tensor([[1.0, 5.0, 5.0], [7.0, 7.0, 0.0]]), dim=0),
    lambda m: m.argmax(m.tensor([[1, 5, 5], [7, 7, 0]]), dim=1, keepdim=True),
    lambda m: m.argmax(m.tensor([1.0, float("nan"), 3.0, float("nan")])),
    lambda m: m.argmin(m.tensor([1.0, float("nan"), 3.0, float("nan")])),
    lambda m: m.argmax(m.tensor(5.0), dim=0),
    lambda m: m.argmax(m.zeros(0, 3)),
    lambda m: m.argmax(m.zeros(0, 3), dim=0),
    lambda m: m.argmax(m.zeros(0, 3), dim=1),
    lambda m: m.argmax(m.tensor([True, False])),
    lambda m: m.isclose(m.tensor([1.0, float("inf"), float("nan")]),
                        m.tensor([1.0 + 1e-6, float("inf"), float("nan")])),
    lambda m: m.isclose(m.tensor([1.0, float("nan")]), m.tensor([1.1, float("nan")]),
                        rtol=0.2, equal_nan=True),
    lambda m: m.isclose(m.tensor([1, 5]), m.tensor([2, 5]), atol=1),
    lambda m: m.isclose(m.zeros(2), m.zeros(2, dtype=m.float64)),
    lambda m: m.isclose(m.zeros(2), 1.0),
    lambda m: m.allclose(m.tensor([1.0, 2.0]), m.tensor([1.0, 2.0 + 1e-7])),
    lambda m: m.allclose(m.tensor([1.0, 2.0]), m.tensor([1.0, 2.1])),
    lambda m: m.allclose(m.zeros(3), m.zeros(4)),
    lambda m: m.equal(m.tensor([1, 2]), m.tensor([1.0, 2.0])),
    lambda m: m.equal(m.tensor([1.0]), m.tensor([1.0, 1.0])),
    lambda m: m.equal(m.tensor([float("nan")]), m.tensor([float("nan")])),
    lambda m: (m.tensor([1.0, -2.0, 3.0]) > 0).sum(),
    lambda m: (m.tensor([1.0, -2.0, 3.0]) > 0).float(),
    lambda m: m.tensor([1.0, -2.0], requires_grad=True) > 0,
    lambda m: m.eq(m.tensor([[1.0]]), m.tensor(1.0)),
    lambda m: m.zeros(0, 3) == m.zeros(3),
]


def _observe(f, m):
    try:
        r = f(m)
    except Exception as e:  # noqa: BLE001
        return ("raises", type(e).__name__)
    if hasattr(r, "tolist"):
        return ("tensor", r.tolist(), str(r.dtype).split(".")[-1], tuple(r.shape),
                r.requires_grad, repr(r))
    return ("value", r)


@pytest.mark.parametrize("i", range(len(CASES)))
def test_against_pytorch(i):
    torch_ref = pytest.importorskip("torch")
    f = CASES[i]
    expected = _observe(f, torch_ref)
    got = _observe(f, torch)
    assert got == expected  # values, dtype, shape, requires_grad and repr; or exception class
