"""The op table's create_graph formulas (`grad` of each row), generated from its examples:
(a) the formula's first-order gradient equals the compiled VJP's, (b) its second
derivatives match finite differences of the compiled first derivatives, (c) the rows
without a formula are listed here (the known gaps)."""

import numpy as np
import pytest

import tapegrad as torch
from tapegrad.ops import OPS
from tapegrad.ops.spec import LEAF, PENDING_GRADS

from opcases import CASES, IDS, inputs, run

# rows the walk handles itself (LEAF family: leaf, detach, snapshot, fill_, ...; PYTHON:
# a custom Function's backward) and rows still without a formula
WALK_ROWS = {"leaf", "detach", "snapshot", "fill_", "zero_", "normal_", "uniform_",
             "fill_all", "python"}
KNOWN_GAPS = set()

FORMULA_CASES = [(c, i) for c, i in zip(CASES, IDS) if c[0].grad is not None]


def test_every_row_has_a_formula_or_is_a_listed_gap():
    missing = {s.name for s in OPS if s.grad is None}
    assert missing == WALK_ROWS | KNOWN_GAPS
    assert all(s.family == LEAF or s.name == "python" for s in OPS if s.name in WALK_ROWS)
    assert not PENDING_GRADS  # every grad_of name was declared


def _loss(spec, expr, xs, v):
    out = run(spec, expr, xs)
    return (out * torch.tensor(v)).sum()


def _first(spec, expr, arrays, v, create_graph):
    xs = [torch.tensor(a, dtype=torch.float64, requires_grad=True) for a in arrays]
    loss = _loss(spec, expr, xs, v)
    gs = torch.autograd.grad(loss, xs, create_graph=create_graph, allow_unused=True,
                             materialize_grads=True)
    return xs, gs


def _setup(spec, expr, shapes):
    xs = inputs(spec, shapes)
    arrays = [x.detach().numpy().copy() for x in xs]
    out = run(spec, expr, xs)
    rng = np.random.default_rng(spec.opcode + 7)
    v = rng.standard_normal(out.shape)
    return arrays, v, rng


@pytest.mark.parametrize("case", [c for c, _ in FORMULA_CASES],
                         ids=[i for _, i in FORMULA_CASES])
def test_formula_first_order_equals_compiled_vjp(case):
    spec, expr, shapes = case
    arrays, v, _ = _setup(spec, expr, shapes)
    _, compiled = _first(spec, expr, arrays, v, False)
    _, recorded = _first(spec, expr, arrays, v, True)
    for a, b in zip(compiled, recorded):
        assert a.shape == b.shape
        np.testing.assert_allclose(b.detach().numpy(), a.numpy(), rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("case", [c for c, _ in FORMULA_CASES],
                         ids=[i for _, i in FORMULA_CASES])
def test_formula_second_order_matches_finite_differences(case):
    spec, expr, shapes = case
    arrays, v, rng = _setup(spec, expr, shapes)
    us = [rng.standard_normal(a.shape) for a in arrays]
    ws = [rng.standard_normal(a.shape) for a in arrays]
    xs, gs = _first(spec, expr, arrays, v, True)
    s = sum((g * torch.tensor(u)).sum() for g, u in zip(gs, us))
    if s.requires_grad:
        hs = torch.autograd.grad(s, xs, allow_unused=True, materialize_grads=True)
        analytic = sum(float((h.numpy() * w).sum()) for h, w in zip(hs, ws))
    else:  # the gradient is a constant: second derivatives are zero
        analytic = 0.0

    def directional(eps):
        shifted = [a + eps * w for a, w in zip(arrays, ws)]
        _, g = _first(spec, expr, shifted, v, False)
        return sum(float((gi.numpy() * u).sum()) for gi, u in zip(g, us))

    eps = 1e-6
    numeric = (directional(eps) - directional(-eps)) / (2 * eps)
    tol = max(spec.tol, 1e-6) * 10
    assert analytic == pytest.approx(numeric, rel=tol, abs=tol), (analytic, numeric)
