"""tapegrad.linalg: linear algebra, as torch.linalg.

Only the names of `__all__` are public. A torch.linalg name tapegrad lacks raises an
AttributeError saying it is not supported yet. The products themselves (matmul, mm, mv,
dot, bmm, outer, linear) live in tapegrad._products; tapegrad exports mm, mv, dot, bmm and
outer at top level, as PyTorch does (torch.linalg has none of them).
"""

import sys as _sys

from ._products import matmul
from .linalg_ops import (LinAlgError, cholesky, det, eigh, eigvalsh, inv, matrix_norm, norm, qr,
                         slogdet, solve, svd, svdvals, vector_norm)

__all__ = sorted(["matmul", "LinAlgError", "cholesky", "det", "eigh", "eigvalsh", "inv",
                  "matrix_norm", "norm", "qr", "slogdet", "solve", "svd", "svdvals",
                  "vector_norm"])

# tapegrad-internal imports written before this namespace was public (`from ..linalg import
# linear`): served from tapegrad._products, not listed in dir()
_INTERNAL = frozenset(("linear", "mm", "mv", "dot", "bmm", "outer", "ger"))


def __getattr__(name: str) -> object:
    """A missing name: an internal product (see _INTERNAL) or an AttributeError."""
    if name in _INTERNAL:
        from . import _products

        return getattr(_products, name)
    from ._pytorch_names import LINALG, unsupported

    raise unsupported("torch.linalg", name, LINALG, _sys.modules[__name__])


def __dir__() -> list[str]:
    """The public names."""
    return list(__all__)
