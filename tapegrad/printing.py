"""repr of tensors in PyTorch's format: tensor([7.]), tensor([5.], requires_grad=True), and
the print options that shape it (tapegrad.set_printoptions, as torch.set_printoptions).

Over NumPy arrays: one formatter for all elements, chosen from the nonzero finite values
(integer-valued floats print as `7.`, a wide range of magnitudes in scientific notation);
a tensor of more than `threshold` elements is summarized to `edgeitems` per edge of each
dimension; lines wrap at `linewidth`.
"""

import contextlib
import math
from collections.abc import Iterator

import numpy as np

from . import dtypes

_PROFILES = {  # precision, threshold, edgeitems, linewidth
    "default": (4, 1000, 3, 80),
    "short": (2, 1000, 2, 80),
    "full": (4, math.inf, 3, 80),
}


class _Options:
    """The current print options (one set per process, as PyTorch's)."""

    precision, threshold, edgeitems, linewidth = _PROFILES["default"]
    sci_mode = None


_OPTS = _Options()


def set_printoptions(precision: int | None = None, threshold: float | None = None,
                     edgeitems: int | None = None, linewidth: int | None = None,
                     profile: str | None = None, sci_mode: bool | None = None) -> None:
    """Set how tensors print, as torch.set_printoptions.

    `profile` ("default", "short": precision 2 and 2 edge items, "full": never summarize)
    sets all four numeric options first; the other arguments then override it, and those
    left None keep their value. `precision`: digits after the point of floats;
    `threshold`: the element count above which a tensor is summarized; `edgeitems`: the
    items kept at each edge of a summarized dimension (0 prints `[...]` and the size);
    `linewidth`: characters per line before wrapping; `sci_mode`: True or False forces
    scientific or fixed notation, None (also when omitted, as in PyTorch) lets the values
    choose. An unknown profile is ignored, as in PyTorch. Difference: a precision that is
    not a non-negative int raises ValueError here, not at the next print."""
    if profile in _PROFILES:
        _OPTS.precision, _OPTS.threshold, _OPTS.edgeitems, _OPTS.linewidth = _PROFILES[profile]
    if precision is not None:
        if not isinstance(precision, int) or isinstance(precision, bool) or precision < 0:
            raise ValueError(f"set_printoptions(): precision must be a non-negative int, got "
                             f"{precision!r}")
        _OPTS.precision = precision
    if threshold is not None:
        _OPTS.threshold = threshold
    if edgeitems is not None:
        _OPTS.edgeitems = int(edgeitems)
    if linewidth is not None:
        _OPTS.linewidth = linewidth
    _OPTS.sci_mode = None if sci_mode is None else bool(sci_mode)


def get_printoptions() -> dict:
    """The current print options as a dict (precision, threshold, edgeitems, linewidth,
    sci_mode), as torch._tensor_str.get_printoptions."""
    return {"precision": _OPTS.precision, "threshold": _OPTS.threshold,
            "edgeitems": _OPTS.edgeitems, "linewidth": _OPTS.linewidth,
            "sci_mode": _OPTS.sci_mode}


@contextlib.contextmanager
def printoptions(**kwargs: object) -> Iterator[None]:
    """A context in which tensors print with set_printoptions(**kwargs); the options before
    it come back on exit, as torch._tensor_str.printoptions."""
    old = get_printoptions()
    set_printoptions(**kwargs)
    try:
        yield
    finally:
        set_printoptions(**old)


class _Formatter:
    """How every element of one tensor prints: int mode ('7.'), fixed ('2.5000') or
    scientific ('1.0000e-05'), padded to one width."""

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
        p = _OPTS.precision
        vals = flat[np.isfinite(flat) & (flat != 0)]
        if vals.size == 0:  # zeros, inf and nan only: '0.', 'nan' whatever the options
            return
        nz = np.abs(vals.astype(np.float64))
        lo, hi = float(nz.min()), float(nz.max())  # (python floats: no overflow warning)
        self.int_mode = bool(np.all(vals == np.ceil(vals)))
        self.sci_mode = bool(hi / lo > 1000.0 or hi > 1.0e8 or lo < 1.0e-4)
        if _OPTS.sci_mode is not None:
            self.sci_mode = _OPTS.sci_mode
        for x in vals.tolist():
            if self.sci_mode:
                n = len(f"{x:.{p}e}")
            elif self.int_mode:
                n = len(f"{x:.0f}") + 1
            else:
                n = len(f"{x:.{p}f}")
            self.max_width = max(self.max_width, n)

    def format(self, x):
        p = _OPTS.precision
        if not self.floating:
            s = str(x)
        elif self.sci_mode:
            s = f"{x:{self.max_width}.{p}e}"
        elif self.int_mode:
            s = f"{x:.0f}"
            if not (math.isinf(x) or math.isnan(x)):
                s += "."
        else:
            s = f"{x:.{p}f}"
        return (self.max_width - len(s)) * " " + s


def _summarized(v, edge):
    """The edge items the formatter looks at when a tensor is summarized."""
    if v.ndim == 0:
        return v
    if v.ndim == 1:
        if v.shape[0] > 2 * edge:
            return np.concatenate((v[:edge], v[v.shape[0] - edge:]))
        return v
    rows = range(v.shape[0])
    if v.shape[0] > 2 * edge:
        rows = list(range(edge)) + list(range(v.shape[0] - edge, v.shape[0]))
    return np.stack([_summarized(v[i], edge) for i in rows])


def _vector(v, indent, summarize, fmt):
    edge, width = _OPTS.edgeitems, _OPTS.linewidth
    per_line = max(1, math.floor((width - indent) / (fmt.max_width + 2)))
    n = v.shape[0]
    if summarize and n > 2 * edge:
        data = ([fmt.format(x) for x in v[:edge].tolist()] + [" ..."]
                + [fmt.format(x) for x in v[n - edge:].tolist()])
    else:
        data = [fmt.format(x) for x in v.tolist()]
    lines = [", ".join(data[i:i + per_line]) for i in range(0, len(data), per_line)]
    return "[" + (",\n" + " " * (indent + 1)).join(lines) + "]"


def _nested(v, indent, summarize, fmt):
    if v.ndim == 0:
        return fmt.format(v.item())
    if v.ndim == 1:
        return _vector(v, indent, summarize, fmt)
    n, edge = v.shape[0], _OPTS.edgeitems
    if summarize and n > 2 * edge:
        parts = ([_nested(v[i], indent + 1, summarize, fmt) for i in range(edge)] + ["..."]
                 + [_nested(v[i], indent + 1, summarize, fmt) for i in range(n - edge, n)])
    else:
        parts = [_nested(v[i], indent + 1, summarize, fmt) for i in range(n)]
    return "[" + ("," + "\n" * (v.ndim - 1) + " " * (indent + 1)).join(parts) + "]"


def _body(v, dt, indent):
    summarize = v.size > _OPTS.threshold
    if summarize and _OPTS.edgeitems == 0 and v.ndim:
        return "[...]"
    part = _summarized(v, _OPTS.edgeitems) if summarize else v
    return _nested(v, indent, summarize, _Formatter(part, dt))


def _add_suffixes(text, suffixes, indent):
    out = [text]
    last = len(text) - text.rfind("\n") + 1
    for s in suffixes:
        if last + len(s) + 2 > _OPTS.linewidth:
            out.append(",\n" + " " * indent + s)
            last = indent + len(s)
        else:
            out.append(", " + s)
            last += len(s) + 2
    out.append(")")
    return "".join(out)


def tensor_repr(t: object) -> str:
    """repr(t) of a tapegrad Tensor, in PyTorch's format under the current print options."""
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
        if _OPTS.edgeitems == 0:
            suffixes.append(f"size={tuple(v.shape)}")
        if dt not in (dtypes.get_default_dtype(), dtypes.int64, dtypes.bool_):
            suffixes.append(f"dtype={dt!r}")
        body = _body(v, dt, indent)
    gfn = t.grad_fn
    if gfn is not None:
        suffixes.append(f"grad_fn=<{type(gfn).__name__}>")
    elif t._rg:
        suffixes.append("requires_grad=True")
    return _add_suffixes(prefix + body, suffixes, indent)
