"""tapegrad.autograd: backward, grad, grad modes, custom Functions, tensor hooks,
gradcheck, the functional API, anomaly mode, the profiler and the legacy Variable."""

from . import anomaly, forward_ad, function, functional, graph, profiler
from .anomaly import (detect_anomaly, is_anomaly_check_nan_enabled, is_anomaly_enabled,
                      set_anomaly_enabled, set_detect_anomaly)
from .engine import backward, grad
from .function import Function, FunctionCtx, once_differentiable
from .gradcheck import GradcheckError, gradcheck, gradgradcheck
from .grad_mode import (enable_grad, inference_mode, is_grad_enabled, no_grad,
                        set_grad_enabled)
from .graph import Node
from ..tensor import Tensor


def Variable(data: "Tensor", requires_grad: bool = False, volatile: bool = False) -> "Tensor":
    """Legacy wrapper from old tutorials: returns the tensor itself (as PyTorch does)."""
    if requires_grad:
        data.requires_grad_(True)
    return data


__all__ = ["backward", "grad", "no_grad", "enable_grad", "set_grad_enabled", "inference_mode",
           "is_grad_enabled", "Variable", "Node", "Function", "FunctionCtx",
           "once_differentiable", "gradcheck", "gradgradcheck", "GradcheckError", "function",
           "functional", "forward_ad", "graph", "anomaly", "detect_anomaly", "set_detect_anomaly",
           "is_anomaly_enabled", "is_anomaly_check_nan_enabled", "set_anomaly_enabled",
           "profiler"]
