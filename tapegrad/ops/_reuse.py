"""NumPy's temporary elision for tensors that need no grad: `a * 2.5 + a` computes the
add into the array of the temporary `a * 2.5`, as NumPy does for plain arrays, instead of
taking (and page-faulting) a fresh array per op. tapegrad.functions decides when a tensor
is such a temporary (nothing but the expression holds it); this module runs the ufunc,
inside the package whose RuntimeWarnings tapegrad filters (x / 0 is inf without one)."""

import numpy as np

from .spec import REGISTRY

_BY_NAME = {s.name: s.opcode for s in REGISTRY}
UFUNCS = {_BY_NAME[name]: fn for name, fn in (
    ("add", np.add), ("sub", np.subtract), ("mul", np.multiply), ("div", np.true_divide),
    ("add_scalar", np.add), ("sub_scalar", np.subtract), ("mul_scalar", np.multiply),
    ("div_scalar", np.true_divide))}


def into(ufunc, x, y):
    """ufunc(x, y) written into x (an ndarray that nothing else holds); returns x."""
    try:
        ufunc(x, y, out=x)
    except (RuntimeWarning, FloatingPointError):  # -W error, or np.seterr(all="raise")
        with np.errstate(all="ignore"):
            ufunc(x, y, out=x)
    return x
