"""Module state: state_dict / load_state_dict (keys, shared storage, messages), extra
state, dtype and device conversion, deepcopy, save/load and optimizers across a
conversion."""

import copy
import warnings
from collections import OrderedDict

import numpy as np
import pytest

import tapegrad as tg
import tapegrad.nn as nn
from tapegrad.nn.modules.module_state import _IncompatibleKeys


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


# ---- state_dict ---------------------------------------------------------------------------
def test_state_dict_detached_and_shared():
    net = Net()
    sd = net.state_dict()
    assert isinstance(sd, OrderedDict)
    w = sd["fc.weight"]
    assert type(w) is tg.Tensor and not w.requires_grad
    with tg.no_grad():
        net.fc.weight.fill_(0.5)
    assert w.tolist() == [[0.5, 0.5]] * 3  # the same storage
    kv = net.state_dict(keep_vars=True)
    assert kv["fc.weight"] is net.fc.weight
    assert list(net.state_dict(prefix="net.")) == ["net." + k for k in sd]
    assert sd._metadata[""] == {"version": 1} and "head.1" in sd._metadata
    with pytest.warns(FutureWarning, match="Positional args"):
        d = net.state_dict(OrderedDict(), "p.")
    assert list(d)[0] == "p.scale"


def test_load_state_dict_copies_in_place():
    a, b = Net(), Net()
    x = tg.randn(5, 2)
    b(x).sum().backward()  # b has recorded its old weights on the tape once
    w_obj = b.fc.weight
    res = b.load_state_dict(a.state_dict())
    assert repr(res) == "<All keys matched successfully>" and res == ([], [])
    assert b.fc.weight is w_obj  # copied in place: the same parameter objects
    assert np.array_equal(np.array(b(x).detach()), np.array(a(x).detach()))
    b.zero_grad()
    b(x).sum().backward()
    a(x).sum().backward()
    assert np.allclose(np.array(b.fc.weight.grad), np.array(a.fc.weight.grad))
    with tg.no_grad():
        a.fc.weight.add_(1.0)
    assert not np.array_equal(np.array(a.fc.weight.detach()), np.array(b.fc.weight.detach()))


def test_load_state_dict_errors():
    lin = nn.Linear(2, 1)
    sd = lin.state_dict()
    del sd["bias"]
    sd["extra"] = tg.zeros(1)
    with pytest.raises(RuntimeError) as e:
        lin.load_state_dict(sd)
    assert str(e.value) == ('Error(s) in loading state_dict for Linear:\n\tMissing key(s) in '
                            'state_dict: "bias". \n\tUnexpected key(s) in state_dict: "extra". ')
    res = lin.load_state_dict(sd, strict=False)
    assert isinstance(res, _IncompatibleKeys)
    assert res.missing_keys == ["bias"] and res.unexpected_keys == ["extra"]
    with pytest.raises(RuntimeError) as e:
        lin.load_state_dict({"weight": tg.zeros(2, 2), "bias": tg.zeros(1)})
    assert ("size mismatch for weight: copying a param with shape torch.Size([2, 2]) from "
            "checkpoint, the shape in current model is torch.Size([1, 2]).") in str(e.value)
    with pytest.raises(RuntimeError, match="expected torch.Tensor or Tensor-like"):
        lin.load_state_dict({"weight": [[1.0, 2.0]], "bias": tg.zeros(1)})
    with pytest.raises(TypeError, match="Expected state_dict to be dict-like"):
        lin.load_state_dict([1, 2])
    seq = nn.Sequential(nn.Linear(1, 1))
    res = seq.load_state_dict({"0.weight": tg.ones(1, 1), "1.weight": tg.ones(1)},
                              strict=False)
    assert res.missing_keys == ["0.bias"] and res.unexpected_keys == ["1.weight"]


def test_load_state_dict_assign_and_dtype_cast():
    lin = nn.Linear(2, 1)
    w = tg.tensor([[1.0, 2.0]], dtype=tg.float64)
    lin.load_state_dict({"weight": w, "bias": tg.zeros(1, dtype=tg.float64)})
    assert lin.weight.dtype is tg.float32 and lin.weight.tolist() == [[1.0, 2.0]]
    new = tg.tensor([[3.0, 4.0]])
    lin.load_state_dict({"weight": new, "bias": tg.zeros(1)}, assign=True)
    assert isinstance(lin.weight, nn.Parameter) and lin.weight.requires_grad
    assert lin.weight.tolist() == [[3.0, 4.0]]


def test_extra_state_round_trip():
    class WithState(nn.Module):
        def __init__(self):
            super().__init__()
            self.step = 0

        def get_extra_state(self):
            return {"step": self.step}

        def set_extra_state(self, state):
            self.step = state["step"]

    a, b = WithState(), WithState()
    a.step = 7
    sd = a.state_dict()
    assert sd["_extra_state"] == {"step": 7}
    b.load_state_dict(sd)
    assert b.step == 7


# ---- conversion ----------------------------------------------------------------------------
def test_to_double_keeps_parameter_objects():
    net = nn.Sequential(nn.Linear(2, 3), nn.BatchNorm1d(3))
    params = list(net.parameters())
    before = [np.asarray(p.detach()).copy() for p in params]
    net(tg.randn(4, 2)).sum().backward()
    assert net.to(tg.float64) is net
    assert [id(p) for p in net.parameters()] == [id(p) for p in params]
    assert all(p.dtype is tg.float64 and p.grad.dtype is tg.float64 for p in params)
    assert all(np.allclose(np.array(p.detach()), b) for p, b in zip(params, before))
    assert net[1].running_mean.dtype is tg.float64
    assert net[1].num_batches_tracked.dtype is tg.int64
    y = net(tg.randn(4, 2, dtype=tg.float64))
    assert y.dtype is tg.float64
    y.sum().backward()
    assert net.float() is net and net[0].weight.dtype is tg.float32
    assert net.double() is net and net[0].bias.dtype is tg.float64
    assert net.to("cpu") is net and net.cpu() is net and net.to(device="cpu") is net
    assert net.to("cpu", tg.float32)[0].weight.dtype is tg.float32
    assert net.to(tg.zeros(1, dtype=tg.float64))[0].weight.dtype is tg.float64
    assert net.type(tg.float32)[0].weight.dtype is tg.float32
    assert net.type("torch.DoubleTensor")[0].weight.dtype is tg.float64


def test_conversion_errors():
    lin = nn.Linear(1, 1)
    with pytest.raises(RuntimeError, match="CPU only"):
        lin.to("cuda")
    with pytest.raises(RuntimeError, match="CPU only"):
        lin.to(device="cuda:0", dtype=tg.float64)
    with pytest.raises(RuntimeError, match="no CUDA"):
        lin.cuda()
    with pytest.raises(TypeError, match="only accepts floating point or complex dtypes, but "
                                        "got desired dtype=torch.int64"):
        lin.to(tg.int64)
    with pytest.raises(TypeError, match="float16"):
        lin.half()
    with pytest.raises(TypeError, match="bfloat16"):
        lin.bfloat16()
    assert lin.weight.dtype is tg.float32  # nothing changed


def test_deepcopy_module():
    lin = nn.Linear(2, 2)
    seq = nn.Sequential(lin, lin)
    c = copy.deepcopy(seq)
    assert c[0] is c[1] and c[0].weight is not lin.weight
    assert np.array_equal(np.array(c[0].weight.detach()), np.array(lin.weight.detach()))
    with tg.no_grad():
        c[0].weight.zero_()
    assert lin.weight.abs().sum().item() > 0
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        c(tg.ones(1, 2)).sum().backward()
    assert c[0].weight.grad is not None and lin.weight.grad is None


def test_optimizer_survives_to_double_and_load():
    """An optimizer built before `.double()` / `load_state_dict` holds the same parameter
    objects and steps them as one built on a float64 copy from the start."""
    opt_cls = getattr(tg.optim, "SGD", None)
    if opt_cls is None:
        pytest.skip("tapegrad.optim.SGD is not there yet")

    def build():
        tg.manual_seed(0)
        return nn.Sequential(nn.Linear(2, 3), nn.Tanh(), nn.Linear(3, 1))

    net, ref = build(), build().double()
    opt = opt_cls(net.parameters(), lr=0.1, momentum=0.9)
    x = tg.randn(5, 2)
    opt.zero_grad()
    net(x).sum().backward()
    opt.step()  # a float32 step first: the optimizer has set up its state
    ref.load_state_dict(net.state_dict())
    params = list(net.parameters())
    net.double()
    assert [id(p) for p in opt.param_groups[0]["params"]] == [id(p) for p in params]
    ref_opt = opt_cls(ref.parameters(), lr=0.1, momentum=0.9)
    ref_opt.load_state_dict(opt.state_dict())
    for step in range(3):
        if step == 2:
            other = build().double()
            net.load_state_dict(other.state_dict())
            ref.load_state_dict(other.state_dict())
        for m, o in ((net, opt), (ref, ref_opt)):
            o.zero_grad()
            m(x.double()).sum().backward()
            o.step()
        for p, q in zip(net.parameters(), ref.parameters()):
            assert p.dtype is tg.float64
            assert np.allclose(np.array(p.detach()), np.array(q.detach()), atol=1e-6)


def test_save_load_state_dict_round_trip(tmp_path):
    net = nn.Sequential(nn.Linear(2, 3), nn.BatchNorm1d(3))
    net(tg.randn(4, 2))
    path = tmp_path / "net.npz"
    tg.save(net.state_dict(), path)
    fresh = nn.Sequential(nn.Linear(2, 3), nn.BatchNorm1d(3))
    assert fresh.load_state_dict(tg.load(path)) == ([], [])
    for (ka, va), (kb, vb) in zip(net.state_dict().items(), fresh.state_dict().items()):
        assert ka == kb and np.array_equal(np.array(va), np.array(vb))
