"""Every name of SPEC section 2 exists as a function and as a Tensor method wherever PyTorch
has both, and each differentiable one gives a gradient (the values are checked elsewhere:
test_gradients.py from the op table, test_torch_compare.py and the fuzzer)."""

import numpy as np
import pytest

import tapegrad as torch

BOTH = """add sub mul div pow matmul neg reciprocal square sqrt rsqrt exp log log1p expm1 log2
log10 sin cos tan tanh sinh cosh asin acos atan atan2 sigmoid relu abs sign clamp clip
maximum minimum where lerp erf sum mean prod max min amax amin std var norm logsumexp cumsum
argmax argmin mm bmm mv dot outer reshape flatten squeeze unsqueeze transpose t permute flip
split chunk gather index_select masked_fill eq ne lt le gt ge isnan isfinite logical_and
logical_or logical_not any all""".split()
METHOD_ONLY = "view expand expand_as repeat __setitem__ __getitem__".split()
FUNCTION_ONLY = "cat stack".split()
IN_PLACE = "add_ sub_ mul_ div_ zero_ fill_ copy_ clamp_ normal_ uniform_".split()
OPERATORS = "__add__ __radd__ __sub__ __rsub__ __mul__ __rmul__ __truediv__ __rtruediv__ " \
            "__pow__ __rpow__ __matmul__ __neg__ __eq__ __ne__ __lt__ __le__ __gt__ __ge__"


@pytest.mark.parametrize("name", BOTH + FUNCTION_ONLY)
def test_function_exists(name):
    assert callable(getattr(torch, name))


@pytest.mark.parametrize("name", BOTH + METHOD_ONLY + IN_PLACE + OPERATORS.split())
def test_method_exists(name):
    assert callable(getattr(torch.Tensor, name))


x2 = "torch.tensor([[0.3, -0.7, 0.9], [0.2, 0.5, -0.4]], requires_grad=True)"
CALLS = {  # each differentiable SPEC name, called as a method on a [2, 3] leaf x
    "unary": [f"x.{n}()" for n in "neg reciprocal square exp tan tanh sinh cosh asin acos atan "
              "sigmoid relu abs sign erf sin cos".split()]
    + ["x.abs().sqrt()", "x.abs().rsqrt()", "x.abs().log()", "x.log1p()", "x.expm1()",
       "x.abs().log2()", "x.abs().log10()"],
    "binary": ["x.add(x, alpha=2)", "x.sub(1.5)", "x.mul(x)", "x.div(2)", "x.abs().pow(x)",
               "x.atan2(x + 2)", "x.maximum(x * 0.5)", "x.minimum(x * 0.5)",
               "x.clamp(-0.5, 0.5)", "x.clip(min=x * 0.5)", "torch.where(x > 0, x, x * 2)",
               "x.lerp(x * 3, 0.25)", "x.masked_fill(x > 0, 1.0)"],
    "reductions": ["x.sum(1)", "x.mean((0, 1))", "x.prod()", "x.max(1).values", "x.min()",
                   "x.amax(0)", "x.amin(1, keepdim=True)", "x.std(1)", "x.var(correction=0)",
                   "x.norm(p=1)", "x.norm(p=float('inf'))", "x.logsumexp(0)", "x.cumsum(1)"],
    "linalg": ["x @ x.t()", "x.matmul(x.T)", "x.mm(x.t())", "x.mv(x[0])", "x[0].dot(x[1])",
               "x[0].outer(x[1])", "x[None].bmm(x.t()[None])"],
    "shape": ["x.reshape(3, 2)", "x.view(-1)", "x.flatten()", "x[None].squeeze(0)",
              "x.unsqueeze(1)", "x.transpose(0, 1)", "x.permute(1, 0)", "x[:1].expand(4, 3)",
              "x[:1].expand_as(x)", "x.repeat(2, 1)", "x.flip(1)", "torch.cat([x, x])",
              "torch.stack([x, x], 1)", "x.split(2, 1)[1]", "x.chunk(3, 1)[0]",
              "x[1, ::2]", "x[..., None, -1]", "x[torch.tensor([1, 0])]", "x[x > 0]",
              "x.gather(1, torch.tensor([[2], [0]]))", "x.index_select(1, torch.tensor([2]))"],
}


@pytest.mark.parametrize("expr", [e for v in CALLS.values() for e in v])
def test_differentiable_names_give_a_gradient(expr):
    x = eval(x2)
    y = eval(expr)
    assert y.requires_grad and y.grad_fn is not None
    y.sum().backward()
    assert x.grad is not None and x.grad.shape == (2, 3) and np.all(np.isfinite(x.grad.numpy()))
