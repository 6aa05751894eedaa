"""tapegrad.func save/load: round trips in this process and in another one (bit for bit),
guards after load, the errors of bad files, and a Dask LocalCluster evaluating a saved
program."""

import io
import json
import os
import subprocess
import sys
import zipfile
from pathlib import Path

import numpy as np
import pytest

import tapegrad as torch
from tapegrad import func
from tapegrad.func import _saved

ROOT = Path(__file__).resolve().parent.parent


def rosen(x):
    return (100 * (x[1:] - x[:-1] ** 2) ** 2 + (1 - x[:-1]) ** 2).sum()


def two_args(x, w, scale):
    return ((x * w).sin().sum() * scale) ** 2 + (w * w).sum()


def vector_out(x):
    return (x * x).sin() * 2.0


RNG = np.random.default_rng(11)
X5 = RNG.uniform(-1.5, 1.5, (4, 5))
W5 = RNG.uniform(-1, 1, (4, 5))
W32 = W5.astype(np.float32)

# (name, transform, the arguments of the recording call, the arguments of later calls)
CASES = {
    "value_and_grad": (lambda: func.value_and_grad(rosen), [(X5[0],)],
                       [(X5[1],), (X5[2],)]),
    "grad_tuple": (lambda: func.grad(two_args, argnums=(0, 1)), [(X5[0], W32[0], 3.0)],
                   [(X5[1], W32[1], 3.0), (X5[2], W32[2], 3.0)]),
    "hvp": (lambda: func.hvp(rosen), [(X5[0], W5[0])], [(X5[1], W5[1]), (X5[3], W5[2])]),
    "jacrev": (lambda: func.jacrev(vector_out), [(X5[0],)], [(X5[1],), (X5[2],)]),
    "jvp": (lambda: func.jvp(vector_out), [(X5[0], W5[0])], [(X5[1], W5[1])]),
}


def _flat(result):
    """A result (a float, an array or a tuple of them) as a list of arrays."""
    if isinstance(result, tuple):
        return [np.asarray(r) for r in result]
    return [np.asarray(result)]


def _same(a, b):
    fa, fb = _flat(a), _flat(b)
    return len(fa) == len(fb) and all(
        x.dtype == y.dtype and x.shape == y.shape and x.tobytes() == y.tobytes()
        for x, y in zip(fa, fb))


def _recorded(name, tmp_path):
    make, first, later = CASES[name]
    f = make()
    f(*first[0])
    path = tmp_path / f"{name}.npz"
    f.save(path)
    return f, path, first + later


@pytest.mark.parametrize("name", sorted(CASES))
def test_round_trip_in_this_process(name, tmp_path):
    f, path, calls = _recorded(name, tmp_path)
    g = func.load(path)
    assert isinstance(g, func.Loaded) and g.kind == f.kind and g.variants == 1
    for args in calls:
        assert _same(g(*args), f(*args)), name
    records = [line for line in str(f.tape).splitlines() if not line.startswith("-- ")]
    assert [line for line in str(g.tape).splitlines() if not line.startswith("-- ")] == records
    assert str(g.tape).splitlines()[-1] == str(f.tape).splitlines()[-1]  # the same plan
    if name == "value_and_grad":  # .batch, and loading from a file object
        assert _same(g.batch(X5), f.batch(X5))
        with open(path, "rb") as fh:
            h = func.load(io.BytesIO(fh.read()))
        assert _same(h(X5[3]), f(X5[3]))
        buf = io.BytesIO()
        h.save(buf)  # a loaded program saves again
        buf.seek(0)
        assert _same(func.load(buf)(X5[2]), f(X5[2]))


def test_hand_values_after_load(tmp_path):
    """Without comparing with the original: the loaded gradients equal formulas."""
    f = func.value_and_grad(rosen)
    f(np.zeros(3))
    f.save(tmp_path / "r.npz")
    v, g = func.load(tmp_path / "r.npz")(np.array([1.0, 2.0, 3.0]))
    assert v == 100 * (2 - 1) ** 2 + 100 * (3 - 4) ** 2 + 1
    np.testing.assert_allclose(g, [-400 * 1 * (2 - 1), 200 * (2 - 1) - 400 * 2 * (3 - 4) - 2 * (1 - 2),
                                   200 * (3 - 4)])
    hv = func.hvp(lambda x: (x ** 3).sum())
    hv(np.ones(2), np.ones(2))
    hv.save(tmp_path / "h.npz")
    np.testing.assert_allclose(func.load(tmp_path / "h.npz")(np.array([1.0, 2.0]),
                                                             np.array([1.0, 0.5])), [6.0, 6.0])


_SUBPROCESS = """
import sys
import numpy as np
import tapegrad
g = tapegrad.func.load(sys.argv[1])
with np.load(sys.argv[2]) as z:
    calls = [[z[f"c{i}_{j}"] for j in range(int(z[f"n{i}"]))] for i in range(int(z["calls"]))]
statics = [float(s) for s in sys.argv[3:]]
out = {}
for i, args in enumerate(calls):
    res = g(*args, *statics)
    res = res if isinstance(res, tuple) else (res,)
    for j, r in enumerate(res):
        out[f"r{i}_{j}"] = np.asarray(r)
    out[f"m{i}"] = np.int64(len(res))
np.savez(sys.argv[2] + ".out.npz", **out)
assert set(sys.modules) & {"torch", "tests"} == set()
"""


@pytest.mark.parametrize("name", sorted(CASES))
def test_round_trip_in_another_process(name, tmp_path):
    f, path, calls = _recorded(name, tmp_path)
    arrays = [[a for a in args if isinstance(a, np.ndarray)] for args in calls]
    statics = [str(a) for a in calls[0] if not isinstance(a, np.ndarray)]
    inputs = {"calls": np.int64(len(calls))}
    for i, args in enumerate(arrays):
        inputs[f"n{i}"] = np.int64(len(args))
        for j, a in enumerate(args):
            inputs[f"c{i}_{j}"] = a
    np.savez(tmp_path / "in.npz", **inputs)
    env = dict(os.environ, PYTHONPATH=str(ROOT))
    subprocess.run([sys.executable, "-c", _SUBPROCESS, str(path), str(tmp_path / "in.npz"),
                    *statics], check=True, env=env, cwd=tmp_path, timeout=300)
    with np.load(tmp_path / "in.npz.out.npz") as z:
        for i, args in enumerate(calls):
            got = tuple(z[f"r{i}_{j}"] for j in range(int(z[f"m{i}"])))
            want = tuple(_flat(f(*args)))
            assert _same(got, want), (name, i)


def test_guards_after_load(tmp_path):
    def branchy(x):
        if float(x.sum()) > 0:
            return (x * x).sum()
        return x.exp().sum()

    def stable(x):  # its guarded value does not depend on x: every replay passes
        return (x * 2.0).sum() if float((x * 0.0).sum()) == 0 else x.sum()

    g = func.grad(branchy)
    x = np.array([1.0, 2.0, 3.0])
    g(x)
    g.save(tmp_path / "b.npz")
    h = func.load(tmp_path / "b.npz")
    np.testing.assert_array_equal(h(x), 2 * x)  # the guard holds: the recorded branch
    with pytest.raises(RuntimeError, match=r"guard at slot v\d+ failed: it was recorded for "
                                           "another branch; record it again"):
        h(-x)
    np.testing.assert_array_equal(h(x), 2 * x)  # still usable afterwards
    s = func.grad(stable)
    s(x)
    s.save(tmp_path / "s.npz")
    t = func.load(tmp_path / "s.npz")
    for y in (-x, x * 5, np.zeros(3)):
        np.testing.assert_array_equal(t(y), [2.0, 2.0, 2.0])
    with pytest.raises(RuntimeError, match=r"takes \(float64\[3\]\), got \(float64\[4\]\)"):
        t(np.zeros(4))


def test_statics_are_saved_and_checked(tmp_path):
    f = func.grad(two_args, argnums=(0, 1))
    f(X5[0], W32[0], 3.0)
    f.save(tmp_path / "t.npz")
    g = func.load(tmp_path / "t.npz")
    assert _same(g(X5[1], W32[1], 3), f(X5[1], W32[1], 3.0))
    with pytest.raises(RuntimeError, match="=2.0"):
        g(X5[1], W32[1], 2.0)
    with pytest.raises(RuntimeError, match="float32"):
        g(X5[1], W5[1], 3.0)  # float64 where float32 was recorded


def test_save_needs_a_recording(tmp_path):
    f = func.grad(rosen)
    with pytest.raises(RuntimeError, match="nothing is recorded yet"):
        f.save(tmp_path / "x.npz")
    g = func.grad(lambda x, o: (x * 2.0).sum(), argnums=0)
    g(np.ones(2), object())
    with pytest.raises(TypeError, match="argument 1 is a object"):
        g.save(tmp_path / "x.npz")


def _tables(path):
    with np.load(path) as z:
        return {k: z[k] for k in z.files}


def _write(path, data, digest=True):
    if digest:
        data["digest"] = _saved._digest(data)
    with open(path, "wb") as fh:
        np.savez(fh, **data)


@pytest.fixture
def saved(tmp_path):
    f = func.value_and_grad(rosen)
    f(X5[0])
    path = tmp_path / "r.npz"
    f.save(path)
    return path


def test_bad_files(saved, tmp_path):
    data = _tables(saved)
    bad = tmp_path / "bad.npz"
    _write(bad, dict(data, format=np.int64(_saved.FORMAT + 1)))
    with pytest.raises(ValueError, match="written by a newer tapegrad"):
        func.load(bad)
    rec = data["records"].copy()
    rec[1, 0] = 999
    _write(bad, dict(data, records=rec))  # not in the opcode table
    with pytest.raises(ValueError, match="unknown opcode 999"):
        func.load(bad)
    _write(bad, dict(data, records=rec, op_codes=np.append(data["op_codes"], 999),
                     op_names=np.append(data["op_names"], "frobnicate")))
    with pytest.raises(ValueError, match="unknown opcode 999 .'frobnicate'."):
        func.load(bad)
    names = data["op_names"].copy()
    names[list(names).index("sum")] = "prod"  # a renamed op is a different op
    _write(bad, dict(data, op_names=names))
    with pytest.raises(ValueError, match="is 'prod' in the file but 'sum'"):
        func.load(bad)
    missing = dict(data)
    del missing["guard_bytes"]
    _write(bad, missing)
    with pytest.raises(ValueError, match="lacks the key 'guard_bytes'"):
        func.load(bad)
    arena = data["arena64"].copy()
    arena[-1] += 1.0  # a constant changed behind the digest's back
    _write(bad, dict(data, arena64=arena), digest=False)
    with pytest.raises(ValueError, match="corrupt: its contents do not match"):
        func.load(bad)
    slots = data["slots"].copy()
    slots[2, 0] = 10 ** 9  # an offset past the arena, digest recomputed
    _write(bad, dict(data, slots=slots))
    with pytest.raises(ValueError, match="corrupt .its slots"):
        func.load(bad)
    _write(bad, dict(data, signature=np.str_(json.dumps([{"shape": [7], "dtype": "<f8"}]))))
    with pytest.raises(ValueError, match="signature does not match"):
        func.load(bad)


def test_corrupt_and_truncated_bytes(saved, tmp_path):
    raw = saved.read_bytes()
    bad = tmp_path / "bad.npz"
    for cut in (10, len(raw) // 2, len(raw) - 30):
        bad.write_bytes(raw[:cut])
        with pytest.raises(ValueError, match="corrupt or truncated"):
            func.load(bad)
    with zipfile.ZipFile(saved) as z:  # flip the last byte of the records: the zip's
        info = z.getinfo("records.npy")    # CRC-32 no longer matches
    head = raw[info.header_offset:info.header_offset + 30]
    start = info.header_offset + 30 + int.from_bytes(head[26:28], "little") + \
        int.from_bytes(head[28:30], "little")
    flipped = bytearray(raw)
    flipped[start + info.compress_size - 1] ^= 0xFF
    bad.write_bytes(bytes(flipped))
    with pytest.raises(ValueError, match="corrupt"):
        func.load(bad)
    bad.write_bytes(b"not a zip file at all")
    with pytest.raises(ValueError, match="not a saved tapegrad program"):
        func.load(bad)
    np.save(tmp_path / "plain.npy", np.zeros(3))
    with pytest.raises(ValueError, match="not a saved tapegrad program"):
        func.load(tmp_path / "plain.npy")
    with pytest.raises(FileNotFoundError):
        func.load(tmp_path / "absent.npz")


def test_saved_program_is_plain_arrays(saved):
    with np.load(saved, allow_pickle=False) as z:
        keys = set(z.files)
        assert all(z[k].dtype != object for k in keys)
        assert int(z["format"]) == _saved.FORMAT
        names = dict(zip(z["op_codes"].tolist(), z["op_names"].tolist()))
    assert set(_saved._KEYS) <= keys
    assert names[0] == "leaf" and "sum" in names.values()


@pytest.mark.torch
def test_loaded_gradient_matches_pytorch(saved):
    torch_ref = pytest.importorskip("torch")
    x = torch_ref.tensor(X5[2], requires_grad=True)
    y = (100 * (x[1:] - x[:-1] ** 2) ** 2 + (1 - x[:-1]) ** 2).sum()
    y.backward()
    v, g = func.load(saved)(X5[2])
    np.testing.assert_allclose(v, y.item(), rtol=1e-13)
    np.testing.assert_allclose(g, x.grad.numpy(), rtol=1e-13)
    assert torch.func is func


def test_dask_local_cluster_evaluates_a_saved_program(saved, monkeypatch):
    """examples/dask_eval.py's evaluate on a LocalCluster of 2 worker processes: each loads
    the file once (a worker plugin) and evaluates its chunks; equal to the local results."""
    pytest.importorskip("distributed")
    from distributed import Client, LocalCluster

    # the worker processes import tapegrad, and the example's plugin class by its name
    # (they start with this process's sys.path)
    monkeypatch.syspath_prepend(str(ROOT / "examples"))
    monkeypatch.setenv("PYTHONPATH", os.pathsep.join([str(ROOT), str(ROOT / "examples")]))
    import dask_eval

    X = np.random.default_rng(5).uniform(-2, 2, (60, 5))
    V0, G0 = func.load(saved).batch(X)
    with LocalCluster(n_workers=2, threads_per_worker=1, processes=True,
                      dashboard_address=None) as cluster, Client(cluster) as client:
        V, G, workers = dask_eval.evaluate(client, saved, X, 10)
        loads = client.run(lambda dask_worker: dask_worker.plugins["tapegrad-program"].loads)
    assert len(workers) == 6 and np.array_equal(V, V0) and np.array_equal(G, G0)
    assert sorted(loads.values()) == [1, 1]  # each worker loaded the file once
