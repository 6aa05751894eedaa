"""Containers: Sequential, ModuleList, ModuleDict, ParameterList, ParameterDict (the list
and dict APIs, numbering, reprs, errors)."""

from collections import OrderedDict

import numpy as np
import pytest

import tapegrad as tg
import tapegrad.nn as nn


def arr(t):
    return np.array(t.detach())  # a copy (np.asarray would share, and expose, the storage)


# ---- containers -------------------------------------------------------------------------
def test_sequential_api():
    a, b, c = nn.Linear(2, 3), nn.ReLU(), nn.Linear(3, 1)
    s = nn.Sequential(a, b, c)
    assert len(s) == 3 and list(s) == [a, b, c] and s[0] is a and s[-1] is c
    assert isinstance(s[1:], nn.Sequential) and list(s[1:]) == [b, c]
    with pytest.raises(IndexError, match="index 3 is out of range"):
        s[3]
    x = tg.randn(4, 2)
    assert np.allclose(arr(s(x)), arr(c(b(a(x)))))
    named = nn.Sequential(OrderedDict([("enc", a), ("act", b)]))
    assert list(named._modules) == ["enc", "act"] and named.enc is a
    assert list(named[1:]._modules) == ["act"]
    d = nn.Identity()
    s.append(d).insert(1, nn.Tanh())
    assert [type(m).__name__ for m in s] == ["Linear", "Tanh", "ReLU", "Linear", "Identity"]
    assert list(s._modules) == ["0", "1", "2", "3", "4"]
    del s[1]
    assert list(s._modules) == ["0", "1", "2", "3"] and s[1] is b
    s[3] = nn.Sigmoid()
    assert isinstance(s[3], nn.Sigmoid)
    assert s.pop(3) is not None and len(s) == 3
    del s[1:]
    assert list(s) == [a]
    s.extend([b, c])
    assert len(s + nn.Sequential(d)) == 4 and len(s * 2) == 6
    s += nn.Sequential(d)
    assert s[3] is d
    with pytest.raises(ValueError, match="add operator supports only objects of Sequential"):
        s + [d]
    with pytest.raises(IndexError, match="Index out of range: 9"):
        s.insert(9, d)


def test_module_list_api():
    ml = nn.ModuleList([nn.Linear(1, 1) for _ in range(3)])
    ml.append(nn.ReLU())
    ml.extend([nn.ReLU()])
    ml.insert(0, nn.Tanh())
    assert len(ml) == 6 and isinstance(ml[0], nn.Tanh) and isinstance(ml[-1], nn.ReLU)
    assert isinstance(ml[1:3], nn.ModuleList) and len(ml[1:3]) == 2
    assert repr(ml) == ("ModuleList(\n  (0): Tanh()\n  (1-3): 3 x Linear(in_features=1, "
                        "out_features=1, bias=True)\n  (4-5): 2 x ReLU()\n)")
    assert repr(nn.ModuleList()) == "ModuleList()"
    assert len(list(ml.parameters())) == 6
    del ml[0]
    assert list(ml._modules) == [str(i) for i in range(5)]
    ml[0] = nn.Sigmoid()
    assert isinstance(ml.pop(0), nn.Sigmoid) and len(ml) == 4
    assert len(ml + nn.ModuleList([nn.ReLU()])) == 5
    ml += [nn.ReLU()]
    assert len(ml) == 5
    with pytest.raises(TypeError, match="ModuleList.extend should be called with an iterable"):
        ml.extend(nn.ReLU())
    with pytest.raises(NotImplementedError, match="missing the required \"forward\""):
        ml(1)


def test_module_dict_api():
    md = nn.ModuleDict({"b": nn.ReLU(), "a": nn.Linear(1, 1)})
    assert list(md) == ["b", "a"] and list(md.keys()) == ["b", "a"] and "a" in md
    md.update([("c", nn.Tanh())])
    md["d"] = nn.Identity()
    assert [k for k, _ in md.items()] == ["b", "a", "c", "d"] and len(md.values()) == 4
    assert isinstance(md.pop("c"), nn.Tanh) and len(md) == 3
    del md["d"]
    assert list(md) == ["b", "a"] and len(list(md.parameters())) == 2
    with pytest.raises(ValueError, match="element #0 has length 1; 2 is required"):
        md.update([("x",)])
    with pytest.raises(TypeError, match="ModuleDict.update should be called with an iterable"):
        md.update(3)
    md.clear()
    assert len(md) == 0


def test_parameter_list_and_dict():
    pl = nn.ParameterList([tg.zeros(2, 3), nn.Parameter(tg.ones(1))])
    pl.append(tg.ones(4, dtype=tg.float64))
    assert all(isinstance(p, nn.Parameter) for p in pl) and len(pl) == 3
    assert [n for n, _ in pl.named_parameters()] == ["0", "1", "2"]
    assert len(pl[1:]) == 2 and pl[-1].dtype is tg.float64
    assert repr(pl) == ("ParameterList(\n    (0): Parameter containing: [torch.float32 of size "
                        "2x3]\n    (1): Parameter containing: [torch.float32 of size 1]\n    "
                        "(2): Parameter containing: [torch.float64 of size 4]\n)")
    with pytest.raises(RuntimeError, match="ParameterList should not be called"):
        pl()
    pd = nn.ParameterDict({"w": tg.zeros(2), "a": tg.ones(1, 2)})
    assert list(pd) == ["a", "w"]  # a plain dict is taken in sorted order, as PyTorch
    pd["z"] = tg.zeros(1)
    assert isinstance(pd["z"], nn.Parameter) and "z" in pd and len(pd) == 3
    assert repr(pd) == ("ParameterDict(\n    (a): Parameter containing: [torch.FloatTensor of "
                        "size 1x2]\n    (w): Parameter containing: [torch.FloatTensor of size 2]"
                        "\n    (z): Parameter containing: [torch.FloatTensor of size 1]\n)")
    assert pd.get("nope") is None and pd.setdefault("q", tg.ones(1)) is pd["q"]
    assert pd.popitem()[0] == "q" and pd.pop("z") is not None
    assert list(pd.keys()) == ["a", "w"] and [k for k, _ in pd.items()] == ["a", "w"]
    assert len(pd | nn.ParameterDict({"b": tg.ones(1)})) == 3
    with pytest.raises(TypeError, match="not a string"):
        pd[1] = tg.ones(1)
    pd.clear()
    assert len(pd) == 0 and not list(pd.parameters())
