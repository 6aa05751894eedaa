"""no_grad, enable_grad, set_grad_enabled, inference_mode: per thread, as in PyTorch."""

import functools

from ..tape.tape import _local


def is_grad_enabled() -> bool:
    """Whether operations in this thread record for autograd (PyTorch's grad mode)."""
    return _local.grad_enabled


def is_inference_mode_enabled() -> bool:
    """Whether this thread is inside inference_mode()."""
    return _local.inference


class _Mode:
    """Context manager and decorator that sets this thread's grad mode for its scope."""

    enabled = None

    def __init__(self, *args):
        self._prev = []

    def __enter__(self):
        self._prev.append(_local.grad_enabled)
        _local.grad_enabled = self.enabled

    def __exit__(self, *exc):
        _local.grad_enabled = self._prev.pop()
        return False

    def __call__(self, fn):
        @functools.wraps(fn)
        def wrapper(*args, **kwargs):
            with self.__class__(*self._args()):
                return fn(*args, **kwargs)

        return wrapper

    def _args(self):
        return ()

    def clone(self):
        return self.__class__(*self._args())


class _NoParamMode(_Mode):
    """A mode that also decorates without parentheses (`@no_grad`), as PyTorch's."""

    def __new__(cls, orig_func=None):
        if orig_func is None:
            return super().__new__(cls)
        return cls()(orig_func)


class no_grad(_NoParamMode):
    """Operations inside record nothing that needs a gradient."""

    enabled = False


class enable_grad(_NoParamMode):
    enabled = True


class set_grad_enabled(_Mode):
    """set_grad_enabled(mode): as a function call it sets the mode at once (PyTorch too)."""

    def __init__(self, mode: bool) -> None:
        super().__init__()
        self.enabled = bool(mode)
        self._prev.append(_local.grad_enabled)
        _local.grad_enabled = self.enabled
        self._entered_by_call = True

    def __enter__(self):
        if self._entered_by_call:  # the constructor already switched: keep its saved mode
            self._entered_by_call = False
            return
        super().__enter__()

    def _args(self):
        return (self.enabled,)

    def __call__(self, fn):
        _local.grad_enabled = self._prev.pop()  # undo the constructor's switch
        self._entered_by_call = False
        return super().__call__(fn)


class inference_mode(_Mode):
    """Like no_grad (tapegrad has no separate inference tensors); `inference_mode(False)`
    enables grad, as PyTorch's InferenceMode(false) guard does."""

    def __new__(cls, mode=True):
        if isinstance(mode, bool):
            return super().__new__(cls)
        return cls()(mode)

    def __init__(self, mode: bool = True) -> None:
        super().__init__()
        self.mode = bool(mode)
        self.enabled = None

    def __enter__(self):
        self._prev.append((_local.grad_enabled, _local.inference))
        _local.grad_enabled, _local.inference = not self.mode, self.mode

    def __exit__(self, *exc):
        _local.grad_enabled, _local.inference = self._prev.pop()
        return False

    def _args(self):
        return (self.mode,)

