"""Tape.prune: dead results leave the tape's handles at the collector's young collections
(before the next compaction), live ones and their gradients stay."""

import gc
import weakref

import numpy as np

import tapegrad as tg
from tapegrad.tape import tape as tapes


def test_dead_results_are_freed_before_compaction():
    tape = tapes.current()
    x = tg.tensor([1.5], dtype=tg.float64, requires_grad=True)
    y = x * 2.0
    gc.disable()  # (no young collection prunes part of them first)
    try:
        dead = [weakref.ref(y * 3.0) for _ in range(2 * tapes._PRUNE_MIN)]
        epoch = tape.epoch
        tape.prune()
    finally:
        gc.enable()
    assert tape.epoch == epoch  # no compaction ran: prune only drops handles
    assert all(r() is None for r in dead)
    assert any(h is y for h in tape.handles)  # live results stay roots


def test_gradients_after_pruning_match_numpy():
    x = tg.tensor([0.5, -1.0, 2.0], dtype=tg.float64, requires_grad=True)
    h = x
    for _ in range(3 * tapes._PRUNE_MIN):
        h = h * 0.999 + 0.001 * x
        _ = [h * 2.0 for _ in range(3)]  # results dropped at once
    gc.collect(0)  # a young collection prunes (tapes._collecting)
    h.sum().backward()
    n = 3 * tapes._PRUNE_MIN
    a = 0.999
    expected = a**n + 0.001 * (1 - a**n) / (1 - a)  # d h_n / d x, elementwise
    np.testing.assert_allclose(x.grad.numpy(), np.full(3, expected), rtol=1e-10)


def test_prune_keeps_handles_appended_meanwhile():
    tape = tapes.current()
    x = tg.tensor([1.0], dtype=tg.float64, requires_grad=True)
    keep = [x * float(i) for i in range(tapes._PRUNE_MIN + 1)]
    tape.prune()
    tape.prune()  # nothing new: a no-op
    ids = {id(h) for h in tape.handles}
    assert all(id(t) in ids for t in keep)
    assert tape._pruned <= len(tape.handles)
