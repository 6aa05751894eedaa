"""Test cases generated from the op table: one per (op, example) row."""

import numpy as np

import tapegrad as torch
from tapegrad.ops import OPS

CASES = [(spec, expr, shapes) for spec in OPS for expr, *shapes in spec.examples]
IDS = [f"{spec.name}-{i}" for i, (spec, _, _) in enumerate(CASES)]


def inputs(spec, shapes, seed=0, dtype=torch.float64):
    rng = np.random.default_rng(seed + spec.opcode)
    lo, hi = spec.domain
    return [torch.tensor(rng.uniform(lo, hi, s), dtype=dtype, requires_grad=True) for s in shapes]


def setitem(x, index, value):
    """x with x[index] = value, x itself untouched (an example expression can't assign)."""
    x = x.clone()
    x[index] = value
    return x


def run(spec, expr, xs):
    """Evaluate an example expression on tensors xs (named x, y, z) with the row's const c."""
    c = spec.const if spec.const is not None else 1.3
    env = {"torch": torch, "c": c, "setitem": setitem}
    env.update(zip("xyz", xs))
    return eval(expr, env)
