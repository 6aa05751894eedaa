"""tapegrad.nn: modules, layers, losses and initialisation, as torch.nn."""

from . import functional  # noqa: F401
from . import init, utils  # noqa: F401
from .modules import *  # noqa: F401,F403
from .modules import __all__ as _modules_all
from .parameter import Parameter

__all__ = ["functional", "init", "utils", "Parameter", *_modules_all]


def __getattr__(name: str) -> object:
    """A missing name: an AttributeError that says so when PyTorch has it (not yet here)."""
    import sys

    from .._pytorch_names import NN, unsupported

    raise unsupported("torch.nn", name, NN, sys.modules[__name__])
