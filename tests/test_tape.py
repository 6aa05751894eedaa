"""The tape itself: compiled sweep call counts, constant memory, compaction, threads."""

import gc
import sys
import threading
import tracemalloc
import weakref

import numpy as np
import pytest

import tapegrad as torch
from tapegrad.tape import Tape
from tapegrad.tape import tape as tapes
from tapegrad.tape import records, sweep
from tapegrad.tape.tape import _FREQUENT_CAP


@pytest.fixture
def tiny_tape():
    """A fresh tape small enough that compaction runs every few operations."""
    with tapes.recording(Tape(records=16, elements=64, aux=64)) as tape:
        yield tape


def _chain(n):
    x = torch.tensor([0.5], dtype=torch.float64, requires_grad=True)
    y = x
    for _ in range(n):
        y = y * 1.0001 + 0.001
    return x, y


def _python_calls(fn):
    calls = [0]

    def prof(frame, event, arg):
        if event in ("call", "c_call"):
            calls[0] += 1

    gc.disable()  # a collection mid-call runs weakref callbacks: calls that are not fn's
    sys.setprofile(prof)
    try:
        fn()
    finally:
        sys.setprofile(None)
        gc.enable()
    return calls[0]


def test_backward_python_calls_do_not_grow_with_the_graph():
    x, small = _chain(5)         # 10 records
    small.backward()             # warm: compile and cache the sweep
    _chain(5000)[1].backward()   # and size the adjoint arenas for the big graph (a one-time
    # resize would count its allocation calls against the big backward below)
    x, big = _chain(5000)        # 10,000 records
    n_small = _python_calls(lambda: _chain(5)[1].backward())
    _, small = _chain(5)
    n_small = _python_calls(small.backward)
    n_big = _python_calls(big.backward)
    assert n_big < 100
    assert n_big == n_small
    expected = sum(1.0001 ** k for k in range(5000))  # d y / d x of the chain... times 1
    assert x.grad.item() == pytest.approx(1.0001 ** 5000, rel=1e-9)
    assert expected > 0


def _python_lines(fn):
    """Python lines run by fn(): a loop over the tape's history would show here, where a
    count of calls would not. Measured again if the tape compacted meanwhile; with the
    garbage collector off (its callback, Tape.prune, looks at the handles appended since
    it last ran, whenever a collection happens to start)."""
    tape = torch.tape.current()
    for _ in range(3):
        epoch, lines = tape.epoch, [0]

        def trace(frame, event, arg):
            if event == "line":
                lines[0] += 1
            return trace

        gc.disable()
        sys.settrace(trace)
        try:
            fn()
        finally:
            sys.settrace(None)
            gc.enable()
        if tape.epoch == epoch:
            return lines[0]
    raise AssertionError("the tape compacted during every measurement")


def test_backward_python_work_does_not_grow_with_the_tape_history():
    # 10,000 leaves loaded once each, then dropped: no later op or backward may walk them
    def seed_grad():
        x = torch.tensor([2.0], requires_grad=True)
        (x ** 2 + 3 * x + 1).backward()
        return x

    seed_grad()
    n_fresh = _python_lines(seed_grad)
    leaves = [torch.tensor([float(i)], requires_grad=True) for i in range(10_000)]
    total = leaves[0] * 1.0
    for leaf in leaves[1:]:
        total = total + leaf
    del total, leaves, leaf
    n_after = _python_lines(seed_grad)
    assert n_after <= n_fresh + 10, (n_fresh, n_after)
    assert seed_grad().grad.item() == 7.0


def _train(steps, seed=0):
    """Linear regression by hand-written SGD (float32), as in the tutorials."""
    rng = np.random.default_rng(seed)
    X = torch.tensor(rng.standard_normal((16, 3)), dtype=torch.float32)
    t = torch.tensor(rng.standard_normal(16), dtype=torch.float32)
    w = torch.zeros(3, requires_grad=True)
    b = torch.zeros(1, requires_grad=True)
    for _ in range(steps):
        loss = ((X @ w + b - t) ** 2).mean()
        loss.backward()
        with torch.no_grad():
            w -= 0.05 * w.grad
            b -= 0.05 * b.grad
        w.grad.zero_()
        b.grad.zero_()
    return w.detach().numpy().copy(), b.item(), loss.item()


def _memory_after(steps):
    """Bytes allocated while training `steps` steps and still held after a compaction,
    outside the tape's own tables and arenas (those grow to a cap: checked apart)."""
    tracemalloc.start(5)
    _train(steps)
    tapes.current().compact()
    snap = tracemalloc.take_snapshot().filter_traces(
        [tracemalloc.Filter(False, "*tapegrad*tape*tape.py", all_frames=True)])
    tracemalloc.stop()
    return sum(st.size for st in snap.statistics("filename"))


def test_training_loop_runs_in_constant_memory():
    with tapes.recording() as tape:  # a fresh tape, not one earlier tests grew
        _train(2000)
        m2k = _memory_after(2000)
        m20k = _memory_after(20000)
        assert tape.nrecords < tape.R.shape[0] <= 1 << 16  # the tables stay small
        assert all(a.size <= _FREQUENT_CAP for a in tape.A)  # the arenas reach a cap at most
    assert abs(m20k - m2k) < 1 << 20


def test_compaction_mid_forward_keeps_values_and_gradients(tiny_tape):
    x = torch.tensor([0.3, -0.2, 0.9], dtype=torch.float64, requires_grad=True)
    y = x
    for i in range(200):  # far more records than the 16-row tables hold
        y = (y * 0.9).sin() + x * 0.01
    y.sum().backward()
    ref = np.array([0.3, -0.2, 0.9])
    d = np.ones(3)
    dref = np.zeros(3)
    v, dv = ref.copy(), np.eye(3)
    for i in range(200):
        dv = np.cos(0.9 * v)[:, None] * 0.9 * dv + 0.01 * np.eye(3)
        v = np.sin(0.9 * v) + 0.01 * ref
    dref = d @ dv
    np.testing.assert_allclose(y.detach().numpy(), v, rtol=1e-12)
    np.testing.assert_allclose(x.grad.numpy(), dref, rtol=1e-10)
    assert tiny_tape.epoch > 0  # compaction did run


def test_state_carried_without_detach_keeps_its_history(tiny_tape):
    """An RNN-like state kept across iterations: each loss backpropagates through all of
    its history (retain_graph), even while compaction drops everything else."""
    W = torch.tensor([[0.5, -0.3], [0.2, 0.4]], dtype=torch.float64, requires_grad=True)
    h = torch.tensor([0.1, 0.2], dtype=torch.float64)
    total = np.zeros((2, 2))
    hs = [np.array([0.1, 0.2])]
    for step in range(30):
        h = (W @ h + 0.1).tanh()
        junk = (W * 3.0).exp().sum()  # garbage that compaction should drop
        del junk
        h.sum().backward(retain_graph=True)
        hs.append(None)
    # reference: the same recurrence unrolled with NumPy, summed gradients of each step
    Wn = W.detach().numpy()
    for last in range(1, 31):
        hv, states = np.array([0.1, 0.2]), []
        for s in range(last):
            pre = Wn @ hv + 0.1
            states.append((hv, pre))
            hv = np.tanh(pre)
        g = np.ones(2)
        for hv_in, pre in reversed(states):
            g = g * (1 - np.tanh(pre) ** 2)
            total += np.outer(g, hv_in)
            g = Wn.T @ g
    np.testing.assert_allclose(W.grad.numpy(), total, rtol=1e-10)


def test_running_total_keeps_only_what_it_needs():
    """`total = total + loss` pins a chain of adds, not every iteration's activations."""
    tape = tapes.current()
    w = torch.ones(1000, requires_grad=True)
    total = 0.0
    for i in range(300):
        loss = (w * float(i)).exp().mean()  # 1000-element activations each iteration
        loss.backward()
        total = total + loss
    tape.compact()
    kept = tape.AUX[tapes.sweep.H_TOP32]  # float32 elements still in the arena
    assert kept < 20_000  # 300 iterations x 1000 activations would be 300,000
    with pytest.raises(RuntimeError, match="backward through the graph a second time"):
        total.backward()  # as in PyTorch: the losses' saved values were freed


def test_two_threads_train_like_one_after_the_other():
    expected = [_train(300, seed) for seed in (1, 2)]
    results = {}

    def worker(seed):
        results[seed] = _train(300, seed)

    threads = [threading.Thread(target=worker, args=(s,)) for s in (1, 2)]
    for th in threads:
        th.start()
    for th in threads:
        th.join()
    for seed, exp in zip((1, 2), expected):
        np.testing.assert_array_equal(results[seed][0], exp[0])
        assert results[seed][1:] == exp[1:]


def test_listing_shows_one_line_per_record():
    with tapes.recording() as tape:
        x = torch.tensor([2.0], requires_grad=True)
        x ** 2 + 3 * x + 1
        text = str(tape)
    lines = text.splitlines()
    assert lines[0].startswith("v0    = leaf")
    assert "pow_scalar(v0, 2.0)" in lines[1] and "PowBackward0" in lines[1]
    assert "add(v1, v2)" in lines[3] and "AddBackward0" in lines[3]
    assert lines[-1].startswith("-- 5 records")
    recs = tape.records()
    assert recs.dtype.names[:3] == ("op", "flags", "out") and len(recs) == 5


def test_a_tape_stack_records_a_block_on_a_tape_of_its_own():
    outer = tapes.current()
    x = torch.tensor([2.0], requires_grad=True)
    with tapes.recording() as inner:
        assert tapes.current() is inner and inner is not outer
        y = x * 3.0
        assert y._tape is inner and inner.nrecords == 2  # the leaf and the multiply
        with torch.no_grad():  # grad mode is the thread's, whichever tape is on top
            assert not (x * 2.0).requires_grad
        y.backward()
    assert tapes.current() is outer
    assert x.grad.item() == 3.0


def test_grad_mode_is_per_thread():
    seen = {}

    def work():
        seen["enabled"] = torch.is_grad_enabled()
        x = torch.tensor([1.0], requires_grad=True)
        seen["rg"] = (x * 2).requires_grad

    with torch.no_grad():
        th = threading.Thread(target=work)
        th.start()
        th.join()
        assert not torch.is_grad_enabled()
    assert seen == {"enabled": True, "rg": True}  # a new thread starts with grad on


def test_a_sweep_of_elementwise_records_compiles_only_the_elementwise_sweep(monkeypatch):
    """`mark` reports the families a sweep meets: an elementwise-only sweep runs
    reverse_elementwise (a third of reverse1's compile) while reverse1 is not loaded,
    anything else reverse1; reverse_elementwise meeting another family hands over."""
    from tapegrad.autograd import engine
    from tapegrad.ops.spec import MATMUL, REDUCE

    monkeypatch.setattr(engine, "_entry", {k: v for k, v in engine._entry.items()
                                           if k not in (0, 1)})  # reverse1 "not loaded"
    used = []
    reverse = engine._reverse

    def spy(tape, *args):
        used.append("elementwise" if tape.families & ~engine._ELEMENTWISE_FAMILIES == 0
                    and tape.families >= 0 else "full")
        return reverse(tape, *args)

    monkeypatch.setattr(engine, "_reverse", spy)
    x = torch.tensor([0.5, -1.5], dtype=torch.float64, requires_grad=True)
    w = torch.tensor([[1.0, 2.0], [3.0, 4.0]], dtype=torch.float64, requires_grad=True)
    with tapes.recording() as tape:
        (x * 2.0 + 1.0).exp().backward(torch.ones(2, dtype=torch.float64))
        assert used == ["elementwise"]
        h = (w @ x).tanh() * 3.0 + x
        h.sum().backward()
        assert tape.families & (1 << MATMUL) and tape.families & (1 << REDUCE)
        assert used[-1] == "full"
    wv, xv = w.detach().numpy(), x.detach().numpy()
    d = 3.0 * (1 - np.tanh(wv @ xv) ** 2)
    np.testing.assert_allclose(w.grad.numpy(), np.outer(d, xv))
    np.testing.assert_allclose(x.grad.numpy(), 2 * np.exp(2 * xv + 1) + wv.T @ d + 1.0)
    with tapes.recording() as tape:  # the hand-over, forced: families unknown
        x.grad = None
        y = (w @ x).sum() * 2.0
        roots = np.array([y._slot])
        status, fams, _, top, bottom = sweep_mark(tape, roots)
        tape.families = 0  # pretend elementwise: reverse_elementwise meets the matmul
        engine._entry.pop(1, None)  # (float64's reverse1, loaded above)
        status, n, _, _ = engine._reverse(tape, top, bottom, top, False)
        assert status == 0 and tape.families == -1
        engine._deliver(tape, tape.BUF[:n].tolist())
        np.testing.assert_allclose(x.grad.numpy(), 2.0 * wv.sum(0))


def sweep_mark(tape, roots):
    from tapegrad.tape import sweep

    G = tape.adjoints()
    return sweep.mark(tape.R, tape.S, tape.AUX, G[0], G[1], tape.MARK, tape.LIST, roots,
                      np.zeros(0))


def test_slot_ids_stay_valid_across_compaction(tiny_tape):
    """A slot id, once handed out, is valid while anything holds it: compaction frees the
    rows of dropped values (new records take them first) and never renumbers a kept one."""
    x = torch.tensor([0.5, 1.5], dtype=torch.float64, requires_grad=True)
    keep = (x * 2.0).exp()
    node = keep.grad_fn
    held = (keep._slot, node._slot)
    epoch = tiny_tape.epoch
    for _ in range(60):  # far more records than the 16-row tables hold
        (x * 3.0 + 1.0).sin()
    assert tiny_tape.epoch > epoch  # compaction ran, several times
    assert (keep._slot, node._slot) == held
    rows = tiny_tape.slots()
    free = rows["flags"] & records.S_FREE != 0
    live = ~free & (np.arange(len(rows)) < tiny_tape.nslots)
    assert tiny_tape.nslots <= tiny_tape.R.shape[0] and live.sum() <= tiny_tape.nrecords
    keep.sum().backward()
    np.testing.assert_allclose(x.grad.numpy(), 2.0 * np.exp([1.0, 3.0]))
    np.testing.assert_allclose(keep.detach().numpy(), np.exp([1.0, 3.0]))


def test_a_leaf_read_across_a_compaction_keeps_one_slot(tiny_tape):
    """A leaf read before and after a compaction keeps its one slot (slots do not move),
    so its gradient is one sum in sweep order: the same bits as on a tape that never
    compacted (two slots, added afterwards, were 1 ulp off)."""
    rng = np.random.default_rng(3)
    x0 = rng.uniform(-1, 1, 5)

    def run():
        x = torch.tensor(x0, requires_grad=True)
        y = x * 0.7
        for _ in range(12):  # far more records than the 16-row tables hold
            y = (y * 1.3 + x * 0.1).sin()
        y.sum().backward()
        return x, x.grad.numpy().copy()

    epoch = tiny_tape.epoch
    x, small = run()
    assert tiny_tape.epoch > epoch and len(tiny_tape.leaf_slots.get(id(x), [])) <= 1
    with tapes.recording():  # a roomy tape: no compaction
        _, big = run()
    assert np.array_equal(small, big)


def test_the_listing_stops_at_200_records_with_a_count():
    with tapes.recording() as tape:
        x = torch.tensor([0.5], requires_grad=True)
        y = x
        for _ in range(300):
            y = y * 1.0001
        text = str(tape)
    lines = text.splitlines()
    assert len(lines) == 202 and lines[-2].startswith("... 101 more records")
    assert "301 records" in lines[-1] and "300 mul_scalar" in lines[-1]
    from tapegrad.tape.listing import listing

    assert len(listing(tape, limit=None).splitlines()) == 302


def test_compaction_moves_values_down_in_place_unless_an_arena_is_viewed(tiny_tape):
    """With no NumPy view of an arena alive, compaction keeps the arena array and moves
    the kept values down inside it (offsets grow in record order, so no value is
    overwritten before it moved); a view held outside makes it copy into a fresh arena,
    and the view keeps showing what it showed. Values and gradients stay exact across
    many compactions of mixed float32/float64 records, casts and in-place changes."""
    rng = np.random.default_rng(7)
    x0, w0 = rng.uniform(-1, 1, 6), rng.uniform(-1, 1, 6).astype(np.float32)
    x = torch.tensor(x0, requires_grad=True)
    w = torch.tensor(w0, requires_grad=True)
    keep = (x * 2.0).exp()  # held across the compactions below: moves down
    ref_keep = np.exp(2.0 * x0)
    moved_in_place = 0
    for i in range(40):
        y = (x * 0.5 + w.double()).sin()  # a cast into the float64 arena
        z = (w * 1.5).sin()  # (sin saves its input, not z)
        z.add_(1.0)  # in place on a non-leaf: a version bump
        arenas = [weakref.ref(a) for a in tiny_tape.A]  # (a reference would be a view)
        tiny_tape.compact()  # (make_room also grows the arenas of a tiny tape)
        moved_in_place += all(r() is a for r, a in zip(arenas, tiny_tape.A))
        (y.sum() + z.double().sum()).backward()
        np.testing.assert_allclose(keep.detach().numpy(), ref_keep, rtol=1e-15)
        u = x0 * 0.5 + w0.astype(np.float64)
        np.testing.assert_allclose(x.grad.numpy(), (i + 1) * 0.5 * np.cos(u), rtol=1e-12)
    assert moved_in_place == 40
    # a NumPy view of a slot's value (valid until the next compaction) pins the arena
    view = tiny_tape.value(keep._slot, keep.shape, torch.float64)
    before = tiny_tape.A[1]
    shown = view.copy()
    for _ in range(20):
        (x * 3.0).sin()
    assert tiny_tape.A[1] is not before and np.array_equal(view, shown)
    np.testing.assert_allclose(keep.detach().numpy(), ref_keep, rtol=1e-15)
    x.grad = None
    keep.sum().backward()  # its graph survived every compaction
    np.testing.assert_allclose(x.grad.numpy(), 2.0 * ref_keep, rtol=1e-15)


def test_a_backward_that_frees_a_big_graph_compacts_the_tape():
    """settle: after a backward without retain_graph over more than _SETTLE_BYTES of
    values, the tape compacts, so the next iteration records into the same memory; the
    gradients are the same, a retained graph is left alone, and a small one does not pay
    for a compaction."""
    n = (tapes._SETTLE_BYTES // 8) // 4 + 1  # four records of n float64 values: too big
    x0 = np.linspace(-1.0, 1.0, n)
    x = torch.tensor(x0, requires_grad=True)
    with tapes.recording(Tape(elements=1 << 21)) as tape:  # (no compaction to make room)
        for _ in range(3):
            x.grad = None
            epoch = tape.epoch
            loss = ((x * 2.0).sin() * x).sum()
            loss.backward()
            assert tape.epoch == epoch + 1  # compacted right after the sweep
            assert tape.AUX[sweep.H_TOP64] < n  # only the loss's value is left
            np.testing.assert_allclose(x.grad.numpy(), 2 * np.cos(2 * x0) * x0 +
                                       np.sin(2 * x0), rtol=1e-13)
        loss = ((x * 2.0).sin() * x).sum()
        epoch = tape.epoch
        (g,) = torch.autograd.grad(loss, x, retain_graph=True)
        assert tape.epoch == epoch  # retained: the graph stays where it is
        (g2,) = torch.autograd.grad(loss, x)
        assert tape.epoch == epoch + 1 and np.array_equal(g.numpy(), g2.numpy())
        s = torch.tensor([1.0], requires_grad=True)
        epoch = tape.epoch
        for _ in range(10):
            (s * 3.0).sum().backward()
        assert tape.epoch == epoch
