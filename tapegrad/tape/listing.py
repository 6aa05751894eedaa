"""print(tape): one line per record, Wengert style, then op counts and bytes."""

from collections import Counter

from ..ops import BY_CODE
from ..ops.spec import UNARY
from .records import R_FREED, S_LEAF, S_RG


def _shape(tape, s):
    return "[" + ",".join(str(d) for d in tape._dims(int(tape.S[s, 3]))) + "]"


LIMIT = 200  # records listed; past it, one line counts the rest


def listing(tape, start=0, stop=None, limit=LIMIT):
    """The records start..stop as text: `v5 = mul(v3, v4)   # MulBackward0 [3] f32`, at
    most `limit` of them (None: all), then op counts and bytes."""
    recs, slots = tape.records(), tape.S
    stop = len(recs) if stop is None else stop
    lines = []
    plan = tape.plan  # a replay's plan: list the records it keeps
    order = range(start, stop) if plan is None else [k for k in plan[0].tolist()
                                                      if start <= k < stop]
    shown = len(order) if limit is None else min(len(order), limit)
    for k in order[:shown]:
        r = recs[k]
        spec = BY_CODE[int(r["op"])]
        out = int(r["out"])
        flags = int(slots[out, 6])
        dt = "f32" if slots[out, 4] == 0 else "f64"
        if spec.opcode == 0:
            rhs = "leaf" if flags & S_LEAF else "const"
            note = "requires_grad" if flags & S_RG else ""
        else:
            args = [f"v{int(r[f])}" for f in ("in0", "in1", "in2") if r[f] >= 0]
            if spec.family == UNARY and spec.name.endswith("_scalar") or spec.name in ("add",
                                                                                        "sub"):
                if spec.family == UNARY or r["const"] != 1:
                    args.append(repr(float(r["const"])))
            rhs = f"{spec.name}({', '.join(args)})"
            note = spec.grad_fn + (" freed" if r["flags"] & R_FREED else "")
            if not flags & S_RG:
                note += " (no grad)"
        lines.append(f"v{out:<4} = {rhs:<28} # {note} {_shape(tape, out)} {dt}".rstrip())
    if shown < len(order):
        lines.append(f"... {len(order) - shown:,} more records (listing(tape, limit=None) "
                     "shows all)")
    counts = Counter(BY_CODE[int(recs[k]["op"])].name for k in order)
    lines.append(f"-- {stop - start} records, {tape.nslots} slots; "
                 + ", ".join(f"{n} {name}" for name, n in counts.most_common())
                 + f"; {tape.nbytes():,} bytes allocated")
    if plan is not None:
        lines.append(plan[1])
    return "\n".join(lines)
