"""Hook handles: `handle.remove()` takes a registered hook out of its module again."""

import warnings
import weakref
from collections import OrderedDict


class RemovableHandle:
    """The handle that `register_*_hook` returns: `.remove()` (or leaving a `with` block)
    unregisters the hook; `id` is its key in the hook dicts."""

    next_id: int = 0

    def __init__(self, hooks_dict: OrderedDict, *, extra_dict: OrderedDict | None = None):
        self.hooks_dict_ref = weakref.ref(hooks_dict)
        self.id = RemovableHandle.next_id
        RemovableHandle.next_id += 1
        self.extra_dict_ref = () if extra_dict is None else (weakref.ref(extra_dict),)

    def remove(self) -> None:
        """Unregister the hook (a second call does nothing)."""
        for ref in (self.hooks_dict_ref, *self.extra_dict_ref):
            d = ref()
            if d is not None and self.id in d:
                del d[self.id]

    def __enter__(self) -> "RemovableHandle":
        return self

    def __exit__(self, *exc) -> None:
        self.remove()


def call_with_hooks(module, args: tuple, kwargs: dict) -> object:
    """A module call with hooks: pre-hooks (may replace the args), forward, forward hooks
    (may replace the output); always_call hooks also run when forward raises."""
    for hid, hook in list(module._forward_pre_hooks.items()):
        if hid in module._forward_pre_hooks_with_kwargs:
            out = hook(module, args, kwargs)
            if out is not None:
                if not (isinstance(out, tuple) and len(out) == 2):
                    raise RuntimeError("forward pre-hook must return None or a tuple of "
                                       f"(new_args, new_kwargs), but got {out}.")
                args, kwargs = out
        else:
            out = hook(module, args)
            if out is not None:
                args = out if isinstance(out, tuple) else (out,)
    called = set()
    try:
        result = module.forward(*args, **kwargs)
        for hid, hook in list(module._forward_hooks.items()):
            called.add(hid)
            if hid in module._forward_hooks_with_kwargs:
                out = hook(module, args, kwargs, result)
            else:
                out = hook(module, args, result)
            if out is not None:
                result = out
    except Exception:
        for hid, hook in list(module._forward_hooks.items()):
            if hid in module._forward_hooks_always_called and hid not in called:
                try:
                    if hid in module._forward_hooks_with_kwargs:
                        hook(module, args, kwargs, None)
                    else:
                        hook(module, args, None)
                except Exception as e:  # the forward's exception is the one to see
                    warnings.warn(f"forward hook with always_call=True raised an "
                                  f"exception that was silenced: {e!r}", stacklevel=2)
        raise
    return result
