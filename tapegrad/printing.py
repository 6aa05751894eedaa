"""repr of tensors in PyTorch's format: tensor([7.]), tensor([5.], requires_grad=True)."""

import numpy as np

from . import dtypes


def _float_formatter(v):
    """One format for all elements, chosen as PyTorch's _Formatter does."""
    finite = v[np.isfinite(v)]
    nz = np.abs(finite[finite != 0])
    if finite.size == 0:
        return lambda x: f"{x:.4f}".replace("inf", "inf")
    if np.all(finite == np.round(finite)):  # integral values: '7.'
        if nz.size and (nz.max() > 1e8):
            return lambda x: f"{x:.4e}"
        return lambda x: f"{x:.0f}." if np.isfinite(x) else f"{x}"
    if nz.size and (nz.max() / nz.min() > 1000 or nz.max() > 1e8 or nz.min() < 1e-4):
        return lambda x: f"{x:.4e}"
    return lambda x: f"{x:.4f}" if np.isfinite(x) else f"{x}"


def _body(v, dt):
    if v.size == 0:
        return "[]" if v.ndim else ""
    if dt is dtypes.bool_:
        fmt = str
    elif dt.is_floating_point:
        fmt = _float_formatter(v.astype(np.float64))
    else:
        fmt = lambda x: str(int(x))  # noqa: E731
    if v.ndim == 0:
        return fmt(v.item())
    width = max(len(fmt(x)) for x in v.reshape(-1))
    summarize = v.size > 1000
    return np.array2string(v, separator=", ", prefix="tensor(", threshold=1000 if summarize
                           else v.size + 1, edgeitems=3, max_line_width=80,
                           formatter={"all": lambda x: fmt(x).rjust(width)})


def tensor_repr(t):
    v = t._value()
    parts = [_body(v, t._dtype)]
    if v.size == 0 and v.ndim:
        parts = ["[]"]
        if v.ndim > 1 or v.shape[0] != 0:
            parts.append(f"size={tuple(v.shape)}")
    if t._dtype not in (dtypes.get_default_dtype(), dtypes.int64, dtypes.bool_):
        parts.append(f"dtype={t._dtype!r}")
    if t.grad_fn is not None:
        parts.append(f"grad_fn=<{t.grad_fn.name()}>")
    elif t._rg:
        parts.append("requires_grad=True")
    return "tensor(" + ", ".join(parts) + ")"
