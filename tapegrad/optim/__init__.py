"""tapegrad.optim: optimizers whose steps are compiled kernels over flat buffers.

Each group's parameters of one dtype become views of one flat buffer (their gradients
land in a flat buffer too), so a step of SGD, Adam, AdamW, RMSprop, Adagrad, Adadelta,
Adamax, NAdam or RAdam is one Numba kernel call per group and dtype, whatever the number
of parameters.
"""

from . import lr_scheduler
from .adadelta import Adadelta
from .adagrad import Adagrad
from .adam import Adam, AdamW
from .adamax import Adamax
from .lbfgs import LBFGS
from .nadam import NAdam
from .optimizer import Optimizer
from .radam import RAdam
from .rmsprop import RMSprop
from .sgd import SGD

__all__ = ["Adadelta", "Adagrad", "Adam", "AdamW", "Adamax", "LBFGS", "NAdam", "Optimizer",
           "RAdam", "RMSprop", "SGD", "lr_scheduler"]


def __getattr__(name: str) -> object:
    """A missing name: an AttributeError that says so when PyTorch has it (not yet here)."""
    import sys

    from .._pytorch_names import OPTIM, unsupported

    raise unsupported("torch.optim", name, OPTIM, sys.modules[__name__])
