"""Reading a module's registered parameters and buffers in hot forward methods.

`module.weight` finds a registered parameter only after the ordinary attribute lookup
failed (the instance dict, then the class) and `Module.__getattr__` ran: about a
microsecond per read, several per layer call. `registered(module, name)` reads the
registries directly and gives the same object whenever the ordinary lookup could not
have found something else first (no instance-dict entry and no class attribute of that
name); otherwise it falls back to `getattr`.
"""

from typing import Any

_CLASS_ATTRS: dict = {}  # (class, name) -> the class (its MRO) defines an attribute name


def no_class_attr(cls: type, name: str) -> bool:
    """True when neither cls nor a base class defines an attribute `name` (a property,
    a method, a class-level value): then an instance's `name` comes from its dict or
    from `__getattr__`."""
    key = (cls, name)
    found = _CLASS_ATTRS.get(key)
    if found is None:
        found = _CLASS_ATTRS[key] = hasattr(cls, name)
    return not found


def registered(module: Any, name: str) -> Any:
    """`getattr(module, name)` for a name registered as a parameter or buffer, without
    the failed lookup that precedes `Module.__getattr__` (same search order: parameters,
    then buffers)."""
    d = module.__dict__
    if name not in d and no_class_attr(type(module), name):
        params = d.get("_parameters")
        if params is not None and name in params:
            return params[name]
        buffers = d.get("_buffers")
        if buffers is not None and name in buffers:
            return buffers[name]
    return getattr(module, name)
