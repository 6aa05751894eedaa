"""no_grad, enable_grad, set_grad_enabled, inference_mode: per thread, as in PyTorch."""

import functools

from ..tape.tape import current


def is_grad_enabled():
    return current().grad_enabled


def is_inference_mode_enabled():
    return current().inference


class _Mode:
    """Context manager and decorator that sets this thread's grad mode for its scope."""

    enabled = None

    def __init__(self, *args):
        self._prev = []

    def __enter__(self):
        tape = current()
        self._prev.append(tape.grad_enabled)
        tape.grad_enabled = self.enabled

    def __exit__(self, *exc):
        current().grad_enabled = self._prev.pop()
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


class no_grad(_Mode):
    """Operations inside record nothing that needs a gradient."""

    enabled = False


class enable_grad(_Mode):
    enabled = True


class set_grad_enabled(_Mode):
    """set_grad_enabled(mode): as a function call it sets the mode at once (PyTorch too)."""

    def __init__(self, mode):
        super().__init__()
        self.enabled = bool(mode)
        tape = current()
        self._prev.append(tape.grad_enabled)
        tape.grad_enabled = self.enabled
        self._entered_by_call = True

    def __enter__(self):
        if self._entered_by_call:  # the constructor already switched: keep its saved mode
            self._entered_by_call = False
            return
        super().__enter__()

    def _args(self):
        return (self.enabled,)

    def __call__(self, fn):
        current().grad_enabled = self._prev.pop()  # undo the constructor's switch
        self._entered_by_call = False
        return super().__call__(fn)


class inference_mode(_Mode):
    """Like no_grad (tapegrad has no separate inference tensors); `inference_mode(False)`
    is a no-op scope."""

    def __init__(self, mode=True):
        super().__init__()
        self.mode = bool(mode)
        self.enabled = None

    def __enter__(self):
        tape = current()
        self._prev.append((tape.grad_enabled, tape.inference))
        if self.mode:
            tape.grad_enabled, tape.inference = False, True

    def __exit__(self, *exc):
        tape = current()
        tape.grad_enabled, tape.inference = self._prev.pop()
        return False

    def _args(self):
        return (self.mode,)

    def __call__(self, fn):
        if isinstance(fn, bool):  # @inference_mode(False) style misuse guard
            return inference_mode(fn)
        return super().__call__(fn)
