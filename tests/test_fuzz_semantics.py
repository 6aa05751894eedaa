"""Deterministic companions of the "autograd" fuzz flavor (tests/fuzz_programs.py): the
cases a random program cannot check against finite differences, because their PyTorch
answer is an error or depends on the thread they run in.

- threads: a graph built in one thread and used (by an op or by backward) in another
  either raises a RuntimeError that says so, or gives PyTorch's gradient; it never leaves
  the leaf's .grad None while writing a .grad somewhere else. Leaves (tensors the user
  made with requires_grad=True) may be used in any thread, also concurrently;
- in-place version errors: a tensor saved for backward and then changed in place makes
  backward raise "modified by an inplace operation" (a plain tensor, a non-leaf); a write
  through `.data` is invisible to the version counter, and backward uses the written value
  (PyTorch 2.13).

Expected numbers are PyTorch 2.13's; with torch installed the `torch`-marked tests
recompute them.
"""

import threading
import warnings

import numpy as np
import pytest

import tapegrad as tg


def _in_thread(fn):
    """Run fn() in a worker thread; {"value": ...} or {"error": exception}."""
    box = {}

    def work():
        try:
            box["value"] = fn()
        except Exception as e:  # noqa: BLE001 (handed back to the test)
            box["error"] = e

    th = threading.Thread(target=work)
    th.start()
    th.join()
    return box


def _grad(t):
    with warnings.catch_warnings():  # .grad of a non-leaf warns: not the point here
        warnings.simplefilter("ignore")
        return t.grad


# ---- threads ------------------------------------------------------------------------------
# (what the worker does with z = w * w built in the main thread, what the main thread does
# with the worker's result after the join, PyTorch's w.grad) at w = 3
CROSS_THREAD = {
    "op and backward in the worker": (lambda z: (z * 2).backward(), lambda r: None, 12.0),
    "backward in the worker": (lambda z: z.backward(), lambda r: None, 6.0),
    "op in the worker, backward in main": (lambda z: z * 2, lambda r: r.backward(), 12.0),
}


def _cross_thread(lib, case):
    work, after, _ = CROSS_THREAD[case]
    w = lib.tensor(3.0, dtype=lib.float64, requires_grad=True)
    z = w * w
    box = _in_thread(lambda: work(z))
    if "error" not in box:
        try:
            after(box["value"])
        except RuntimeError as e:
            box["error"] = e
    return w, z, box


@pytest.mark.parametrize("case", sorted(CROSS_THREAD))
def test_non_leaf_used_in_another_thread_raises_or_is_right(case):
    expected = CROSS_THREAD[case][2]
    w, z, box = _cross_thread(tg, case)
    assert _grad(z) is None, f"a .grad was written to the non-leaf z: {_grad(z)}"
    if "error" not in box:
        assert w.grad is not None, "no error, but the leaf got no gradient"
        assert w.grad.item() == expected, f"w.grad = {w.grad.item()}, PyTorch's is {expected}"
        return
    assert isinstance(box["error"], RuntimeError), repr(box["error"])
    assert "thread" in str(box["error"]), str(box["error"])
    assert w.grad is None, f"the failed backward wrote w.grad = {w.grad}"
    z.backward()  # the graph is intact for the thread that built it
    assert w.grad.item() == 6.0


@pytest.mark.torch
@pytest.mark.parametrize("case", sorted(CROSS_THREAD))
def test_cross_thread_numbers_are_torch(case):
    torch = pytest.importorskip("torch")
    w, z, box = _cross_thread(torch, case)
    assert "error" not in box, box
    assert w.grad.item() == CROSS_THREAD[case][2] and _grad(z) is None


def test_leaves_are_free_in_worker_threads():
    """A graph built and backwarded entirely inside a worker, from main-thread leaves."""
    w = tg.tensor([0.5, -1.0, 2.0], dtype=tg.float64, requires_grad=True)
    c = tg.tensor([1.5, 2.0, -0.5], dtype=tg.float64)
    box = _in_thread(lambda: ((tg.tanh(w) * c).sum() + (w * w).sum()).backward())
    assert "error" not in box, box
    expected = (1 - np.tanh([0.5, -1.0, 2.0]) ** 2) * [1.5, 2.0, -0.5] + 2 * np.array(
        [0.5, -1.0, 2.0])
    np.testing.assert_allclose(w.grad.numpy(), expected, rtol=1e-12)
    (w * c).sum().backward()  # the main thread accumulates onto the worker's gradient
    np.testing.assert_allclose(w.grad.numpy(), expected + [1.5, 2.0, -0.5], rtol=1e-12)


def test_leaves_in_concurrent_worker_threads():
    """Several workers use one leaf at the same time, each on a graph of its own."""
    w = tg.tensor([0.5, -1.0, 2.0], dtype=tg.float64, requires_grad=True)
    start = threading.Barrier(3)
    results = {}

    def work(k):
        start.wait()
        gs = []
        for step in range(30):
            loss = (tg.sin(w * k) * (step + 1)).sum()
            gs.append(tg.autograd.grad(loss, w)[0].numpy())
        results[k] = gs

    boxes = []
    threads = [threading.Thread(target=lambda k=k: boxes.append(_in_thread(lambda: work(k))))
               for k in (1, 2, 3)]
    for th in threads:
        th.start()
    for th in threads:
        th.join()
    assert all("error" not in b for b in boxes), boxes
    x = np.array([0.5, -1.0, 2.0])
    for k in (1, 2, 3):
        for step, g in enumerate(results[k]):
            np.testing.assert_allclose(g, k * np.cos(k * x) * (step + 1), rtol=1e-12)
    assert w.grad is None  # autograd.grad writes no .grad


# ---- in-place version errors ----------------------------------------------------------------
def _saved_then_changed(lib, kind):
    """y = (w * b).sum() saves b; then b changes in place (kind says how)."""
    w = lib.tensor([1.0, 2.0], dtype=lib.float64, requires_grad=True)
    b = w * 2 if "nonleaf" in kind else lib.tensor([3.0, 4.0], dtype=lib.float64)
    y = (w * b).sum()
    if kind.startswith("data"):
        b.data.add_(1)
    else:
        b.add_(1)
    return w, y


@pytest.mark.parametrize("kind", ["plain", "nonleaf"])
def test_saved_tensor_changed_in_place_raises(kind):
    w, y = _saved_then_changed(tg, kind)
    with pytest.raises(RuntimeError, match="modified by an inplace operation"):
        y.backward()
    assert w.grad is None  # a failed backward writes no gradient


# PyTorch 2.13: a write through .data bumps no version, and MulBackward0 reads the saved b
# as it is at backward time: d/dw sum(w * b) = b + 1 (plain); (2 w + 1) + 2 w (b = 2 w)
DATA_WRITE = {"data_plain": [4.0, 5.0], "data_nonleaf": [5.0, 9.0]}


@pytest.mark.parametrize("kind", sorted(DATA_WRITE))
def test_write_through_data_does_not_raise(kind):
    w, y = _saved_then_changed(tg, kind)
    y.backward()
    assert w.grad is not None


@pytest.mark.parametrize("kind", sorted(DATA_WRITE))
def test_write_through_data_gradient_is_torch(kind):
    w, y = _saved_then_changed(tg, kind)
    y.backward()
    np.testing.assert_allclose(w.grad.numpy(), DATA_WRITE[kind], rtol=1e-12)


@pytest.mark.torch
@pytest.mark.parametrize("kind", ["plain", "nonleaf"] + sorted(DATA_WRITE))
def test_version_numbers_are_torch(kind):
    torch = pytest.importorskip("torch")
    w, y = _saved_then_changed(torch, kind)
    if kind in DATA_WRITE:
        y.backward()
        np.testing.assert_allclose(w.grad.numpy(), DATA_WRITE[kind], rtol=1e-12)
    else:
        with pytest.raises(RuntimeError, match="modified by an inplace operation"):
            y.backward()
