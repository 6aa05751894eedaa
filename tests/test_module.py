"""nn.Parameter and nn.Module machinery: registration, iteration, modes, hooks and repr
(fixed expectations; torch-marked tests compare reprs, keys and messages with PyTorch).
state_dict and conversions: tests/test_module_state.py."""

import copy

import numpy as np
import pytest

import tapegrad as tg
import tapegrad.nn as nn


class Net(nn.Module):
    def __init__(self):
        super().__init__()
        self.fc = nn.Linear(2, 3)
        self.scale = nn.Parameter(tg.tensor([2.0]))
        self.register_buffer("offset", tg.zeros(3))
        self.register_buffer("tmp", tg.ones(1), persistent=False)
        self.head = nn.Sequential(nn.ReLU(), nn.Linear(3, 1))

    def forward(self, x):
        return self.head(self.fc(x) * self.scale + self.offset)


# ---- Parameter ---------------------------------------------------------------------------
def test_parameter_basics():
    x = tg.tensor([1.0, 2.0])
    p = nn.Parameter(x)
    assert isinstance(p, tg.Tensor) and isinstance(p, nn.Parameter)
    assert p.is_leaf and p.requires_grad and p.grad_fn is None
    assert repr(p) == "Parameter containing:\ntensor([1., 2.], requires_grad=True)"
    q = nn.Parameter(x, requires_grad=False)
    assert repr(q) == "Parameter containing:\ntensor([1., 2.])"
    assert repr(nn.Parameter()) == "Parameter containing:\ntensor([], requires_grad=True)"
    assert type(p * 2) is tg.Tensor and type(p.detach()) is tg.Tensor


def test_parameter_shares_storage_and_version():
    x = tg.tensor([1.0, 2.0])
    p = nn.Parameter(x)
    with tg.no_grad():
        x.mul_(3.0)
    assert p.tolist() == [3.0, 6.0]
    assert p._version == x._version == 1
    (p * p).sum().backward()  # the tape reads the current value
    assert p.grad.tolist() == [6.0, 12.0]


def test_parameter_arithmetic_both_sides():
    p = nn.Parameter(tg.tensor([1.0, 2.0]))
    t = tg.tensor([10.0, 20.0])
    assert (t + p).tolist() == [11.0, 22.0] and (p + t).tolist() == [11.0, 22.0]
    assert (t * p).tolist() == [10.0, 40.0] and (t - p).tolist() == [9.0, 18.0]
    y = (t * p + p * p).sum()
    y.backward()
    assert p.grad.tolist() == [12.0, 24.0]


def test_parameter_errors_and_copies():
    with pytest.raises(RuntimeError, match="floating point"):
        nn.Parameter(tg.tensor([1, 2]))
    assert nn.Parameter(tg.tensor([1, 2]), requires_grad=False).dtype is tg.int64
    with pytest.raises(TypeError, match="must be a Tensor"):
        nn.Parameter([1.0])
    p = nn.Parameter(tg.tensor([1.0, 2.0]))
    c = copy.deepcopy(p)
    assert type(c) is nn.Parameter and c.requires_grad and c.tolist() == [1.0, 2.0]
    with tg.no_grad():
        c.add_(1.0)
    assert p.tolist() == [1.0, 2.0]
    y = tg.tensor([1.0], requires_grad=True) * 2  # a computed value: copied out of the tape
    assert nn.Parameter(y).is_leaf


# ---- registration -----------------------------------------------------------------------
def test_registration_and_order():
    net = Net()
    assert [n for n, _ in net.named_parameters()] == ["scale", "fc.weight", "fc.bias",
                                                      "head.1.weight", "head.1.bias"]
    assert [n for n, _ in net.named_buffers()] == ["offset", "tmp"]
    assert list(net.state_dict()) == ["scale", "offset", "fc.weight", "fc.bias",
                                      "head.1.weight", "head.1.bias"]
    assert [n for n, _ in net.named_children()] == ["fc", "head"]
    assert [n for n, _ in net.named_modules()] == ["", "fc", "head", "head.0", "head.1"]
    assert len(list(net.parameters(recurse=False))) == 1
    assert [n for n, _ in net.named_parameters(prefix="m", recurse=False)] == ["m.scale"]
    assert "scale" in dir(net) and "fc" in dir(net) and "offset" in dir(net)


def test_setattr_rules():
    net = Net()
    with pytest.raises(TypeError, match=r"cannot assign 'torch.FloatTensor' as parameter "
                                        r"'scale' \(torch.nn.Parameter or None expected\)"):
        net.scale = tg.ones(1)
    with pytest.raises(TypeError, match="cannot assign 'int' as child module 'fc'"):
        net.fc = 3
    with pytest.raises(TypeError, match="cannot assign 'str' as buffer 'offset'"):
        net.offset = "x"
    net.offset = tg.ones(3)  # a tensor replaces a buffer
    assert net.offset.tolist() == [1.0, 1.0, 1.0]
    net.scale = None
    assert net.scale is None and "scale" not in [n for n, _ in net.named_parameters()]
    net.fc = nn.Parameter(tg.zeros(1))  # a parameter replaces the submodule
    assert "fc" not in net._modules and isinstance(net.fc, nn.Parameter)
    del net.fc
    with pytest.raises(AttributeError, match="'Net' object has no attribute 'fc'"):
        net.fc
    net.plain = 5
    assert net.plain == 5 and "plain" in net.__dict__


def test_register_errors():
    m = nn.Module()
    for kind, reg in (("parameter", m.register_parameter), ("buffer", m.register_buffer),
                      ("module", m.add_module)):
        with pytest.raises(KeyError, match=r"name can.*t contain"):
            reg("a.b", None)
        with pytest.raises(KeyError, match=r"can.*t be empty string"):
            reg("", None)
        with pytest.raises(KeyError, match="attribute 'training' already exists"):
            reg("training", None)
        with pytest.raises(TypeError, match=f"{kind} name should be a string. Got int"):
            reg(3, None)
    with pytest.raises(TypeError, match="int is not a Module subclass"):
        m.add_module("x", 3)
    with pytest.raises(TypeError, match="to parameter 'q' .torch.nn.Parameter or None"):
        m.register_parameter("q", tg.zeros(1))
    with pytest.raises(TypeError, match="object to buffer 'q'"):
        m.register_buffer("q", 3)
    w = tg.ones(1, requires_grad=True) * 2
    w.__class__ = nn.Parameter  # a non-leaf posing as a parameter
    with pytest.raises(ValueError, match="Cannot assign non-leaf Tensor to parameter 'q'"):
        m.register_parameter("q", w)

    class NoInit(nn.Module):
        def __init__(self):
            self.w = nn.Parameter(tg.ones(1))

    with pytest.raises(AttributeError, match="before Module.__init__"):
        NoInit()
    with pytest.raises(TypeError, match="unexpected keyword argument 'x'"):
        nn.Module(x=1)
    with pytest.raises(NotImplementedError, match=r'Module \[Module\] is missing the required '
                                                  r'"forward" function'):
        nn.Module()(1)


def test_shared_parameters_and_modules_listed_once():
    lin = nn.Linear(2, 2)
    seq = nn.Sequential(lin, nn.ReLU(), lin)
    assert [n for n, _ in seq.named_parameters()] == ["0.weight", "0.bias"]
    assert len(list(seq.named_parameters(remove_duplicate=False))) == 4
    assert [n for n, _ in seq.named_modules()] == ["", "0", "1"]
    assert len(list(seq.children())) == 2
    assert list(seq.state_dict()) == ["0.weight", "0.bias", "2.weight", "2.bias"]


def test_train_eval_zero_grad_requires_grad():
    net = Net()
    assert net.eval() is net and not net.training and not net.head[1].training
    assert net.train() is net and net.head[0].training
    with pytest.raises(ValueError, match="training mode is expected to be boolean"):
        net.train("yes")
    net(tg.randn(4, 2)).sum().backward()
    assert all(p.grad is not None for p in net.parameters())
    net.zero_grad(set_to_none=False)
    assert all(p.grad is not None and not p.grad.abs().sum().item() for p in net.parameters())
    net.zero_grad()
    assert all(p.grad is None for p in net.parameters())
    assert net.requires_grad_(False) is net
    assert not any(p.requires_grad for p in net.parameters())


def test_apply_get_submodule_parameter_buffer():
    net = Net()
    seen = []
    assert net.apply(lambda m: seen.append(type(m).__name__)) is net
    assert seen == ["Linear", "ReLU", "Linear", "Sequential", "Net"]
    assert net.get_submodule("head.1") is net.head[1] and net.get_submodule("") is net
    assert net.get_parameter("head.1.bias") is net.head[1].bias
    assert net.get_buffer("offset") is net.offset
    with pytest.raises(AttributeError, match="Sequential has no attribute `7`"):
        net.get_submodule("head.7")
    with pytest.raises(AttributeError, match="`scale` is not an nn.Module"):
        net.get_submodule("scale")
    with pytest.raises(AttributeError, match="`offset` is not an nn.Parameter"):
        net.get_parameter("offset")
    with pytest.raises(AttributeError, match="`scale` is not a buffer"):
        net.get_buffer("scale")


# ---- calls and hooks --------------------------------------------------------------------
def test_forward_hooks():
    lin = nn.Linear(2, 2)
    x = tg.ones(1, 2)
    base = lin(x).tolist()
    calls = []
    h1 = lin.register_forward_pre_hook(lambda m, args: (args[0] * 0,))
    h2 = lin.register_forward_hook(lambda m, args, out: out + 1)
    h3 = lin.register_forward_hook(lambda m, args, out: calls.append("first"), prepend=True)
    assert np.allclose(lin(x).tolist(), [[b + 1 for b in lin.bias.tolist()]])
    assert calls == ["first"]
    h1.remove()
    h1.remove()  # a second remove does nothing
    assert np.allclose(lin(x).tolist(), [[v + 1 for v in base[0]]])
    h2.remove(), h3.remove()
    assert lin(x).tolist() == base and not lin._forward_hooks and not lin._forward_pre_hooks
    ref = lin(x * 2).tolist()
    with lin.register_forward_pre_hook(lambda m, a, k: ((a[0] * 2,), k), with_kwargs=True):
        assert np.allclose(lin(x).tolist(), ref)
    assert not lin._forward_pre_hooks_with_kwargs
    lin.register_forward_pre_hook(lambda m, a, k: 3, with_kwargs=True)
    with pytest.raises(RuntimeError, match="forward pre-hook must return None or a tuple"):
        lin(x)


def test_forward_hook_always_call_and_kwargs():
    class Boom(nn.Module):
        def forward(self, x, scale=1.0):
            if x is None:
                raise ValueError("boom")
            return x * scale

    m, seen = Boom(), []
    m.register_forward_hook(lambda mod, a, kw, out: seen.append(kw), with_kwargs=True)
    m.register_forward_hook(lambda mod, a, out: seen.append(out), always_call=True)
    assert m(tg.ones(1), scale=3.0).tolist() == [3.0]
    assert seen[0] == {"scale": 3.0}
    seen.clear()
    with pytest.raises(ValueError, match="boom"):
        m(None)
    assert seen == [None]  # the always_call hook ran, the other did not
    with pytest.raises(NotImplementedError, match="no module backward hooks"):
        m.register_full_backward_hook(lambda *a: None)


# ---- repr -------------------------------------------------------------------------------
def test_repr_nested():
    net = Net()
    assert repr(net) == (
        "Net(\n"
        "  (fc): Linear(in_features=2, out_features=3, bias=True)\n"
        "  (head): Sequential(\n"
        "    (0): ReLU()\n"
        "    (1): Linear(in_features=3, out_features=1, bias=True)\n"
        "  )\n"
        ")")
    assert repr(nn.Module()) == "Module()"

    class Multi(nn.Module):
        def extra_repr(self):
            return "a=1\nb=2"

    assert repr(Multi()) == "Multi(\n  a=1\n  b=2\n)"


@pytest.mark.torch
def test_repr_and_keys_match_torch():
    torch = pytest.importorskip("torch")

    def build(lib):
        N = lib.nn

        class M(N.Module):
            def __init__(self):
                super().__init__()
                self.enc = N.Sequential(N.Linear(4, 8), N.ReLU(), N.Dropout(0.1),
                                        N.Linear(8, 8, bias=False))
                self.blocks = N.ModuleList([N.Linear(8, 8) for _ in range(3)])
                self.norm = N.BatchNorm1d(8)
                self.table = N.ModuleDict({"emb": N.Embedding(5, 8, padding_idx=0),
                                           "act": N.GELU("tanh")})
                self.register_buffer("hidden", lib.zeros(1), persistent=False)
        return M()

    a, b = build(tg), build(torch)
    assert repr(a) == repr(b)
    assert list(a.state_dict()) == list(b.state_dict())
    assert [n for n, _ in a.named_parameters()] == [n for n, _ in b.named_parameters()]
    assert [n for n, _ in a.named_buffers()] == [n for n, _ in b.named_buffers()]
    assert [n for n, _ in a.named_modules()] == [n for n, _ in b.named_modules()]
    assert dict(a.state_dict()._metadata) == dict(b.state_dict()._metadata)


@pytest.mark.torch
def test_error_messages_match_torch():
    torch = pytest.importorskip("torch")

    def messages(lib):
        N, out = lib.nn, []
        lin = N.Linear(2, 1)
        sd = lin.state_dict()
        del sd["bias"]
        sd["extra"], sd["weight"] = lib.zeros(1), lib.zeros(3, 3)
        cases = [lambda: lin.load_state_dict(sd),
                 lambda: lin.load_state_dict({"weight": 3, "bias": lib.zeros(1)}),
                 lambda: N.Sequential(N.Linear(1, 1)).load_state_dict(
                     {"0.weight": lib.zeros(1, 1), "0.bias": lib.zeros(1), "1.x": lib.zeros(1),
                      "0.y": lib.zeros(1)}),
                 lambda: setattr(lin, "weight", lib.zeros(1, 2)), lambda: lin.nope,
                 lambda: N.Module()(1), lambda: N.Sequential()[0], lambda: N.ModuleList()[2],
                 lambda: N.Dropout(-0.1), lambda: N.BatchNorm1d(3)(lib.zeros(3)),
                 lambda: lin.to(lib.int64), lambda: lin.train(1), lambda: N.ModuleList(3),
                 lambda: N.ModuleDict([(1, 2, 3)]), lambda: N.ParameterList(lib.zeros(2)),
                 lambda: lin.get_submodule("a.b"), lambda: N.Unflatten(1, 3),
                 lambda: N.init.calculate_gain("foo"), lambda: N.Sequential() + 3,
                 lambda: N.Embedding(3, 2, padding_idx=5),
                 lambda: N.utils.vector_to_parameters([1.0], lin.parameters())]
        for case in cases:
            with pytest.raises(Exception) as e:
                case()
            out.append(f"{type(e.value).__name__}: {e.value}")
        return out

    assert messages(tg) == messages(torch)
