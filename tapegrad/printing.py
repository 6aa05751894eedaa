"""repr of tensors in PyTorch's format: tensor([7.]), tensor([5.], requires_grad=True).

A port of torch/_tensor_str.py (default print options) over NumPy arrays: one formatter
for all elements, chosen from the nonzero finite values; summaries beyond 1000 elements.
"""

import math

import numpy as np

from . import dtypes

PRECISION = 4
THRESHOLD = 1000
EDGEITEMS = 3
LINEWIDTH = 80


class _Formatter:
    """PyTorch's _Formatter: int mode ('7.'), fixed ('2.5000') or scientific ('1.0000e-05')."""

    def __init__(self, v, dt):
        self.floating = dt.is_floating_point
        self.int_mode = True
        self.sci_mode = False
        self.max_width = 1
        flat = v.reshape(-1)
        if not self.floating:
            for x in flat.tolist():
                self.max_width = max(self.max_width, len(str(x)))
            return
        vals = flat[np.isfinite(flat) & (flat != 0)]
        if vals.size == 0:
            return
        nz = np.abs(vals.astype(np.float64))
        lo, hi = nz.min(), nz.max()
        self.int_mode = bool(np.all(vals == np.ceil(vals)))
        self.sci_mode = bool(hi / lo > 1000.0 or hi > 1.0e8 or lo < 1.0e-4)
        for x in vals.tolist():
            if self.sci_mode:
                n = len(f"{x:.{PRECISION}e}")
            elif self.int_mode:
                n = len(f"{x:.0f}") + 1
            else:
                n = len(f"{x:.{PRECISION}f}")
            self.max_width = max(self.max_width, n)

    def format(self, x):
        if not self.floating:
            s = str(x)
        elif self.sci_mode:
            s = f"{x:{self.max_width}.{PRECISION}e}"
        elif self.int_mode:
            s = f"{x:.0f}"
            if not (math.isinf(x) or math.isnan(x)):
                s += "."
        else:
            s = f"{x:.{PRECISION}f}"
        return (self.max_width - len(s)) * " " + s


def _summarized(v):
    """The edge items PyTorch's formatter looks at when a tensor is summarized."""
    if v.ndim == 0:
        return v
    if v.ndim == 1:
        if v.shape[0] > 2 * EDGEITEMS:
            return np.concatenate((v[:EDGEITEMS], v[-EDGEITEMS:]))
        return v
    rows = range(v.shape[0])
    if v.shape[0] > 2 * EDGEITEMS:
        rows = list(range(EDGEITEMS)) + list(range(v.shape[0] - EDGEITEMS, v.shape[0]))
    return np.stack([_summarized(v[i]) for i in rows])


def _vector(v, indent, summarize, fmt):
    per_line = max(1, math.floor((LINEWIDTH - indent) / (fmt.max_width + 2)))
    if summarize and v.shape[0] > 2 * EDGEITEMS:
        data = ([fmt.format(x) for x in v[:EDGEITEMS].tolist()] + [" ..."]
                + [fmt.format(x) for x in v[-EDGEITEMS:].tolist()])
    else:
        data = [fmt.format(x) for x in v.tolist()]
    lines = [", ".join(data[i:i + per_line]) for i in range(0, len(data), per_line)]
    return "[" + (",\n" + " " * (indent + 1)).join(lines) + "]"


def _nested(v, indent, summarize, fmt):
    if v.ndim == 0:
        return fmt.format(v.item())
    if v.ndim == 1:
        return _vector(v, indent, summarize, fmt)
    n = v.shape[0]
    if summarize and n > 2 * EDGEITEMS:
        parts = ([_nested(v[i], indent + 1, summarize, fmt) for i in range(EDGEITEMS)] + ["..."]
                 + [_nested(v[i], indent + 1, summarize, fmt) for i in range(n - EDGEITEMS, n)])
    else:
        parts = [_nested(v[i], indent + 1, summarize, fmt) for i in range(n)]
    return "[" + ("," + "\n" * (v.ndim - 1) + " " * (indent + 1)).join(parts) + "]"


def _body(v, dt, indent):
    summarize = v.size > THRESHOLD
    return _nested(v, indent, summarize, _Formatter(_summarized(v) if summarize else v, dt))


def _add_suffixes(text, suffixes, indent):
    out = [text]
    last = len(text) - text.rfind("\n") + 1
    for s in suffixes:
        if last + len(s) + 2 > LINEWIDTH:
            out.append(",\n" + " " * indent + s)
            last = indent + len(s)
        else:
            out.append(", " + s)
            last += len(s) + 2
    out.append(")")
    return "".join(out)


def tensor_repr(t):
    prefix = "tensor("
    indent = len(prefix)
    v = np.asarray(t._value())
    dt = t._dtype
    suffixes = []
    if v.size == 0:
        if v.ndim != 1:
            suffixes.append(f"size={tuple(v.shape)}")
        if dt is not dtypes.get_default_dtype():
            suffixes.append(f"dtype={dt!r}")
        body = "[]"
    else:
        if dt not in (dtypes.get_default_dtype(), dtypes.int64, dtypes.bool_):
            suffixes.append(f"dtype={dt!r}")
        body = _body(v, dt, indent)
    gfn = t.grad_fn
    if gfn is not None:
        suffixes.append(f"grad_fn=<{type(gfn).__name__}>")
    elif t._rg:
        suffixes.append("requires_grad=True")
    return _add_suffixes(prefix + body, suffixes, indent)
