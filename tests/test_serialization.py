"""tapegrad.save / tapegrad.load: round trips of tensors and containers, paths and file
objects, and refusal of foreign, truncated and malformed files."""

import io
import json
import math
import zipfile
from collections import OrderedDict

import numpy as np
import pytest

import tapegrad as torch


def _round_trip(obj, **kw):
    buf = io.BytesIO()
    torch.save(obj, buf)
    buf.seek(0)
    return torch.load(buf, **kw)


def _same_tensor(a, b):
    assert isinstance(b, torch.Tensor)
    assert a.dtype is b.dtype and a.shape == b.shape and a.requires_grad == b.requires_grad
    assert np.array_equal(a.detach().numpy(), b.detach().numpy(), equal_nan=True)


def test_tensors_of_every_dtype_and_shape():
    cases = [torch.tensor([1.5, -2.0]), torch.tensor([[1.0, 2.0]], dtype=torch.float64),
             torch.arange(6).reshape(2, 3), torch.tensor([1, 2], dtype=torch.int32),
             torch.tensor([True, False]), torch.tensor(3.25), torch.zeros(0, 4),
             torch.tensor([math.nan, math.inf, -0.0]),
             torch.arange(12.0).reshape(3, 4).t(),  # non-contiguous
             torch.tensor([1.0, 2.0], requires_grad=True)]
    for t in cases:
        _same_tensor(t, _round_trip(t))


def test_loaded_tensor_is_a_fresh_leaf():
    x = torch.tensor([1.0, 2.0], requires_grad=True)
    y = x * 3  # a non-leaf comes back as a leaf that requires grad
    z = _round_trip(y)
    assert z.is_leaf and z.requires_grad and z.grad_fn is None and z.tolist() == [3.0, 6.0]
    (z * z).sum().backward()
    assert z.grad.tolist() == [6.0, 12.0]
    w = _round_trip(torch.ones(2))
    w.add_(1)  # own, writable memory
    assert w.tolist() == [2.0, 2.0]


def test_nested_containers_keep_types():
    t = torch.ones(2)
    obj = {"list": [1, 2.5, None, True, False, "s", b"\x00\xff", 1 + 2j],
           "tuple": (1, (2, [3])), 7: "int key", 2.5: "float key", (1, "a"): "tuple key",
           None: "none key", True: "bool key",
           "od": OrderedDict([("b", t), ("a", 2)]), "dtype": torch.float64,
           "size": torch.Size([2, 3]), "big": 2 ** 80, "neg": -3, "nan": math.nan,
           "inf": -math.inf, "third": 1 / 3, "empty": ([], (), {}, OrderedDict()),
           "np": np.arange(4.0), "npscalar": np.float32(1.5), "npint": np.int64(7)}
    back = _round_trip(obj)
    assert list(back) == list(obj)
    assert back["list"][:7] == obj["list"][:7] and back["list"][7] == 1 + 2j
    assert type(back["list"][4]) is bool and type(back["list"][0]) is int
    assert back["tuple"] == (1, (2, [3])) and type(back["tuple"][1]) is tuple
    assert back[7] == "int key" and back[2.5] == "float key" and back[(1, "a")] == "tuple key"
    assert back[None] == "none key"
    assert type(back["od"]) is OrderedDict and list(back["od"]) == ["b", "a"]
    _same_tensor(t, back["od"]["b"])
    assert back["dtype"] is torch.float64
    assert type(back["size"]) is torch.Size and back["size"] == (2, 3)
    assert back["big"] == 2 ** 80 and back["neg"] == -3
    assert math.isnan(back["nan"]) and back["inf"] == -math.inf and back["third"] == 1 / 3
    assert back["empty"] == ([], (), {}, OrderedDict()) and type(back["empty"]) is tuple
    assert type(back["np"]) is np.ndarray and back["np"].tolist() == [0.0, 1.0, 2.0, 3.0]
    assert back["npscalar"].dtype == np.float32 and back["npscalar"] == 1.5
    assert back["npint"].dtype == np.int64 and back["npint"] == 7


def test_state_dict_shapes():
    """A module's state_dict (OrderedDict str -> tensor) and an optimizer's (int keys)."""
    sd = OrderedDict([("0.weight", torch.randn(3, 2)), ("0.bias", torch.zeros(3)),
                      ("bn.num_batches_tracked", torch.tensor(5))])
    back = _round_trip(sd)
    assert type(back) is OrderedDict and list(back) == list(sd)
    for k in sd:
        _same_tensor(sd[k], back[k])
    osd = {"state": {0: {"step": torch.tensor(3.0), "exp_avg": torch.ones(3, 2),
                         "exp_avg_sq": torch.full((3, 2), 0.5)},
                     1: {"step": torch.tensor(3.0), "momentum_buffer": None}},
           "param_groups": [{"lr": 0.001, "betas": (0.9, 0.999), "eps": 1e-08,
                             "weight_decay": 0, "amsgrad": False, "maximize": False,
                             "foreach": None, "params": [0, 1]}]}
    back = _round_trip(osd)
    assert set(back["state"]) == {0, 1} and all(type(k) is int for k in back["state"])
    _same_tensor(osd["state"][0]["exp_avg_sq"], back["state"][0]["exp_avg_sq"])
    assert back["state"][1]["momentum_buffer"] is None
    assert back["param_groups"] == osd["param_groups"]
    assert type(back["param_groups"][0]["betas"]) is tuple


def test_real_module_and_optimizer_state_dicts():
    nn, optim = torch.nn, torch.optim
    if not hasattr(nn, "Linear") or not hasattr(optim, "Adam"):
        pytest.skip("tapegrad.nn.Linear / tapegrad.optim.Adam are not there yet")
    torch.manual_seed(0)
    model = nn.Linear(3, 2)
    opt = optim.Adam(model.parameters(), lr=0.01)
    model(torch.randn(4, 3)).sum().backward()
    opt.step()
    buf = io.BytesIO()
    torch.save({"model": model.state_dict(), "opt": opt.state_dict()}, buf)
    buf.seek(0)
    ck = torch.load(buf)
    model2 = nn.Linear(3, 2)
    model2.load_state_dict(ck["model"])
    assert model2.weight.tolist() == model.weight.tolist()
    opt2 = optim.Adam(model2.parameters(), lr=0.01)
    opt2.load_state_dict(ck["opt"])
    assert opt2.state_dict()["param_groups"] == opt.state_dict()["param_groups"]


def test_parameters_come_back_as_parameters():
    Parameter = getattr(torch.nn, "Parameter", None)
    if Parameter is None:
        pytest.skip("tapegrad.nn.Parameter is not there yet")
    p = Parameter(torch.ones(2))
    frozen = Parameter(torch.zeros(1), requires_grad=False)
    back = _round_trip({"p": p, "f": frozen})
    assert type(back["p"]) is Parameter and back["p"].requires_grad
    assert type(back["f"]) is Parameter and not back["f"].requires_grad
    _same_tensor(p, back["p"])


def test_shared_tensor_loads_as_one_object():
    t = torch.ones(3)
    back = _round_trip({"a": t, "b": [t, torch.ones(3)]})
    assert back["a"] is back["b"][0] and back["b"][1] is not back["a"]


def test_paths_and_file_objects(tmp_path):
    obj = {"w": torch.arange(5.0), "n": 3}
    p = tmp_path / "model.pt"
    torch.save(obj, p)  # a pathlib.Path, written as named (no .npz appended)
    assert p.exists() and not (tmp_path / "model.pt.npz").exists()
    assert torch.load(p)["w"].tolist() == [0.0, 1.0, 2.0, 3.0, 4.0]
    torch.save(obj, str(tmp_path / "m2"))
    assert torch.load(str(tmp_path / "m2"), map_location="cpu")["n"] == 3
    with open(tmp_path / "m3", "wb") as f:
        torch.save(obj, f)
    with open(tmp_path / "m3", "rb") as f:
        assert torch.load(f, weights_only=False)["n"] == 3
    assert zipfile.is_zipfile(p)  # an ordinary .npz: NumPy reads it too
    with np.load(p, allow_pickle=False) as z:
        meta = json.loads(z["__tapegrad__"].tobytes())
        assert meta["format"] == "tapegrad.save"
    assert torch.load(p, map_location=lambda s, loc: s)["n"] == 3


def test_file_objects_stay_open():
    buf = io.BytesIO()
    torch.save(torch.ones(1), buf)
    assert not buf.closed
    buf.seek(0)
    assert torch.load(buf).tolist() == [1.0]
    assert not buf.closed


def test_unsupported_objects_and_arguments():
    with pytest.raises(TypeError, match=r"can't save an object of type set at .*\['x'\]"):
        torch.save({"x": {1, 2}}, io.BytesIO())
    with pytest.raises(TypeError, match="object"):
        torch.save(np.array([object()]), io.BytesIO())
    with pytest.raises(TypeError, match="path or a binary file"):
        torch.save(1, 42)
    with pytest.raises(RuntimeError, match="only the CPU device"):
        _round_trip(1, map_location="cuda:0")


def _load_error(data):
    with pytest.raises(RuntimeError) as e:
        torch.load(io.BytesIO(data))
    assert any(m in str(e.value) for m in (
        "tapegrad reads only files written by tapegrad.save", "tapegrad.save format version"))
    return str(e.value)


def test_foreign_and_broken_files():
    buf = io.BytesIO()
    torch.save({"w": torch.ones(100)}, buf)
    good = buf.getvalue()
    assert "truncated or corrupt" in _load_error(good[: len(good) // 2])
    assert "truncated" in _load_error(good[:3])
    assert "empty" in _load_error(b"")
    assert "not a zip" in _load_error(np.random.default_rng(0).bytes(500))
    assert "pickle" in _load_error(b"\x80\x02}q\x00.")
    one = io.BytesIO()
    np.save(one, np.ones(3))
    assert "single .npy" in _load_error(one.getvalue())
    # a zip laid out like PyTorch's torch.save
    pt = io.BytesIO()
    with zipfile.ZipFile(pt, "w") as z:
        z.writestr("archive/data.pkl", b"\x80\x02}q\x00.")
        z.writestr("archive/version", b"3\n")
    assert "PyTorch file" in _load_error(pt.getvalue())
    plain = io.BytesIO()
    np.savez(plain, x=np.ones(2))
    assert "without tapegrad's structure entry" in _load_error(plain.getvalue())


def _with_meta(meta, **arrays):
    buf = io.BytesIO()
    np.savez(buf, __tapegrad__=np.frombuffer(json.dumps(meta).encode(), np.uint8), **arrays)
    return buf.getvalue()


def test_malformed_structure_entries():
    base = {"format": "tapegrad.save", "version": 1}
    assert "version 9" in _load_error(_with_meta({**base, "version": 9}))
    _load_error(_with_meta({"format": "other"}))
    assert "unknown node type" in _load_error(_with_meta({**base, "root": {"T": "pickle"}}))
    assert "missing array" in _load_error(_with_meta(
        {**base, "root": {"T": "tensor", "a": "a0", "dtype": "float32"}}))
    assert "unknown dtype" in _load_error(_with_meta(
        {**base, "root": {"T": "tensor", "a": "a0", "dtype": "float16"}}, a0=np.ones(2)))
    assert "is float64, its tensor torch.float32" in _load_error(_with_meta(
        {**base, "root": {"T": "tensor", "a": "a0", "dtype": "float32"}}, a0=np.ones(2)))
    assert "int value" in _load_error(_with_meta({**base, "root": {"T": "int", "v": "7"}}))
    assert "before it" in _load_error(_with_meta({**base, "root": {"T": "ref", "v": 0}}))
    _load_error(_with_meta({**base, "root": {"T": "list"}}))
    _load_error(b"PK\x03\x04" + b"\x00" * 100)


def test_object_arrays_in_the_archive_are_never_unpickled():
    buf = io.BytesIO()
    np.savez(buf, __tapegrad__=np.frombuffer(json.dumps(
        {"format": "tapegrad.save", "version": 1,
         "root": {"T": "ndarray", "a": "a0"}}).encode(), np.uint8),
        a0=np.array([{"evil": 1}], dtype=object))
    assert "truncated or corrupt" in _load_error(buf.getvalue())


@pytest.mark.torch
def test_pytorch_files_are_refused_and_values_match():
    torch_ref = pytest.importorskip("torch")
    buf = io.BytesIO()
    torch_ref.save({"w": torch_ref.ones(2)}, buf)
    assert "PyTorch file" in _load_error(buf.getvalue())
    legacy = io.BytesIO()
    torch_ref.save({"w": torch_ref.ones(2)}, legacy, _use_new_zipfile_serialization=False)
    assert "pickle" in _load_error(legacy.getvalue())
    # the same container through both libraries gives the same structure and values
    ref = torch_ref.load(_bytes(torch_ref, {"a": [torch_ref.arange(3), (1, 2.5)], 0: None}))
    ours = torch.load(_bytes(torch, {"a": [torch.arange(3), (1, 2.5)], 0: None}))
    assert ours["a"][0].tolist() == ref["a"][0].tolist() and ours["a"][1] == ref["a"][1]
    assert ours[0] is ref[0] is None and str(ours["a"][0].dtype) == str(ref["a"][0].dtype)


def _bytes(lib, obj):
    b = io.BytesIO()
    lib.save(obj, b)
    b.seek(0)
    return b
