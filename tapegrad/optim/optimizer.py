"""Optimizer: parameter groups, state, state_dict and zero_grad, as PyTorch's.

`FlatOptimizer` is the base of the optimizers whose step is one compiled kernel call per
group and dtype over flat buffers (see `_flat.py` for the layout and its checks); a
subclass says which state buffers it keeps (`_state_keys`) and which scalars its kernel
takes (`_scalars`).
"""

from copy import deepcopy
from itertools import chain
from operator import is_
from typing import Any, Callable, Dict, List, Optional, Tuple

import numpy as np

from .. import dtypes
from ..autograd.grad_mode import enable_grad
from ..tape.notice import compiling
from ..tape.tape import _fast
from ..tensor import Tensor
from ._flat import Flat, Relayout, StateMap

class _RequiredParameter:
    """A default that a parameter group must set itself."""

    def __repr__(self) -> str:
        return "<required parameter>"


required = _RequiredParameter()


def _typename(obj: Any) -> str:
    if isinstance(obj, Tensor):
        return f"torch.{obj._dtype.legacy}"
    cls = type(obj)
    module = cls.__module__
    return cls.__qualname__ if module in ("", "builtins") else f"{module}.{cls.__qualname__}"


def _num(x: Any) -> float:
    """A hyperparameter as a Python float (a 1-element tensor lr is allowed, as PyTorch)."""
    return float(x) if isinstance(x, Tensor) else x


def _check_lr(lr: Any) -> None:
    if isinstance(lr, Tensor) and lr.numel() != 1:
        raise ValueError("Tensor lr must be 1-element")
    if not 0.0 <= _num(lr):
        raise ValueError(f"Invalid learning rate: {lr}")


def _check(value: Any, what: str) -> None:
    """PyTorch's `Invalid <what> value: <value>` for a negative hyperparameter."""
    if not 0.0 <= value:
        raise ValueError(f"Invalid {what} value: {value}")


def _no_differentiable(name: str, differentiable: bool) -> None:
    if differentiable:
        raise NotImplementedError(f"{name}(differentiable=True): differentiating through an "
                                  "optimizer step is not supported by tapegrad")


class Optimizer:
    """Base class of the optimizers: `param_groups`, `state`, `zero_grad`, `step`,
    `state_dict` / `load_state_dict` and `add_param_group`, as PyTorch's Optimizer."""

    def __init__(self, params: Any, defaults: Dict[str, Any]) -> None:
        self.defaults = defaults
        if isinstance(params, Tensor):
            raise TypeError("params argument given to the optimizer should be an iterable of "
                            "Tensors or dicts, but got " + _typename(params))
        self._state = StateMap()
        self.param_groups: List[Dict[str, Any]] = []
        self._layouts: Dict[int, tuple] = {}
        groups = list(params)
        if len(groups) == 0:
            raise ValueError("optimizer got an empty parameter list")
        if not isinstance(groups[0], dict):
            groups = [{"params": groups}]
        for group in groups:
            self.add_param_group(group)

    # ---- state ----------------------------------------------------------------------
    @property
    def state(self) -> StateMap:
        """Per-parameter state: `opt.state[p]` is a dict (e.g. "step", "exp_avg")."""
        return self._state

    @state.setter
    def state(self, value: Any) -> None:
        self._state = value if isinstance(value, StateMap) else StateMap(value)

    def __repr__(self) -> str:
        out = self.__class__.__name__ + " ("
        for i, group in enumerate(self.param_groups):
            out += f"\nParameter Group {i}\n"
            for key in sorted(group):
                if key != "params":
                    out += f"    {key}: {group[key]}\n"
        return out + ")"

    # ---- groups ---------------------------------------------------------------------
    def add_param_group(self, param_group: Dict[str, Any]) -> None:
        """Add a group of parameters (a dict with "params" and optional options)."""
        if not isinstance(param_group, dict):
            raise TypeError(f"param_group must be a dict, but got {type(param_group)}")
        params = param_group["params"]
        if isinstance(params, Tensor):
            params = [params]
        elif isinstance(params, set):
            raise TypeError("optimizer parameters need to be organized in ordered collections, "
                            "but the ordering of tensors in sets will change between runs. "
                            "Please use a list instead.")
        else:
            params = list(params)
        names = [p[0] for p in params if isinstance(p, tuple)]
        params = [p[1] if isinstance(p, tuple) else p for p in params]
        param_group["params"] = params
        if names:
            if len(names) != len(params):
                raise ValueError("all optimizer params should be with/without names. Some param "
                                 "names are missing")
            param_group["param_names"] = names
        for p in params:
            if not isinstance(p, Tensor):
                raise TypeError("optimizer can only optimize Tensors, but one of the params is "
                                + _typename(p))
            if not p.is_leaf:
                raise ValueError("can't optimize a non-leaf Tensor")
        for name, default in self.defaults.items():
            if default is required and name not in param_group:
                raise ValueError("parameter group didn't specify a value of required "
                                 f"optimization parameter {name}")
            param_group.setdefault(name, default)
        if len({id(p) for p in params}) != len(params):
            import warnings

            warnings.warn("optimizer contains a parameter group with duplicate parameters; "
                          "tapegrad updates such a parameter once per step", stacklevel=3)
        seen = set()
        for group in self.param_groups:
            seen.update(id(p) for p in group["params"])
            if ("param_names" in param_group) != ("param_names" in group):
                which = "with names" if "param_names" in param_group else "without names"
                raise ValueError("all optimizer param groups should be with/without names. "
                                 f"cannot add param group {which} to the optimizer")
        if any(id(p) in seen for p in params):
            raise ValueError("some parameters appear in more than one parameter group")
        self.param_groups.append(param_group)
        self._group_added(param_group)

    def _group_added(self, group: Dict[str, Any]) -> None:
        """Hook: a group was added (FlatOptimizer lays it out)."""

    def __deepcopy__(self, memo: Dict[int, Any]) -> "Optimizer":
        """A copy with copies of the parameters and state; it lays its groups out anew
        (the copied parameters are not views of this optimizer's buffers)."""
        new = object.__new__(type(self))
        memo[id(self)] = new
        for k, v in self.__dict__.items():
            if k == "step":  # a scheduler's wrapper of this optimizer's step
                continue
            new.__dict__[k] = {} if k == "_layouts" else deepcopy(v, memo)
        if isinstance(new, FlatOptimizer):
            for group in new.param_groups:
                new._flats(group)
        return new

    # ---- gradients and steps ----------------------------------------------------------
    def zero_grad(self, set_to_none: bool = True) -> None:
        """Reset the gradients: to None (the default), or to zeros in place."""
        for group in self.param_groups:
            for p in group["params"]:
                g = p._grad
                if g is None:
                    continue
                if set_to_none:
                    p._grad = None
                else:
                    g.detach_()
                    g.zero_()

    def step(self, closure: Optional[Callable[[], Any]] = None) -> Any:
        """One optimization step (implemented by each optimizer)."""
        raise NotImplementedError

    # ---- state_dict -----------------------------------------------------------------
    def state_dict(self) -> Dict[str, Any]:
        """{"state": {index: {...}}, "param_groups": [{..., "params": [indices]}]}, as
        PyTorch's (the state tensors are the live ones, not copies)."""
        index: Dict[int, int] = {}
        start = 0
        groups = []
        for group in self.param_groups:
            packed = {k: v for k, v in group.items() if k != "params"}
            for i, p in enumerate(group["params"], start):
                index.setdefault(id(p), i)
            packed["params"] = [index[id(p)] for p in group["params"]]
            start += len(packed["params"])
            groups.append(packed)
        state = {(index[id(k)] if isinstance(k, Tensor) else k): dict(v)
                 for k, v in self._state.items()}
        return {"state": state, "param_groups": groups}

    def load_state_dict(self, state_dict: Dict[str, Any]) -> None:
        """Load a state_dict() of an optimizer of the same groups (values are copied)."""
        state_dict = dict(state_dict)
        groups = self.param_groups
        saved = deepcopy(state_dict["param_groups"])
        if len(groups) != len(saved):
            raise ValueError("loaded state dict has a different number of parameter groups")
        if any(len(g["params"]) != len(s["params"]) for g, s in zip(groups, saved)):
            raise ValueError("loaded state dict contains a parameter group that doesn't match "
                             "the size of optimizer's group")
        id_map = dict(zip(chain.from_iterable(s["params"] for s in saved),
                          chain.from_iterable(g["params"] for g in groups)))
        state = StateMap()
        for k, v in state_dict["state"].items():
            if k in id_map:
                p = id_map[k]
                state[p] = {key: _cast(p, val, key) for key, val in v.items()}
            else:
                state[k] = v
        for g, s in zip(groups, saved):
            s["params"] = g["params"]
            if "param_names" in g and "param_names" not in s:
                s["param_names"] = g["param_names"]
            entry = self._layouts.pop(id(g), None)
            if entry is not None:  # same parameters: keep their layout
                self._layouts[id(s)] = (s,) + entry[1:]
        self._state = state
        self.param_groups = saved
        for group in saved:
            self._setstate_group(group)

    def _setstate_group(self, group: Dict[str, Any]) -> None:
        """Hook: a loaded group gets the options it lacks (PyTorch's __setstate__)."""
        for k, v in self.defaults.items():
            group.setdefault(k, v)


def _cast(param: Tensor, value: Any, key: Any) -> Any:
    """A loaded state value for `param`: tensors in its dtype (but "step"), recursively."""
    if isinstance(value, Tensor):
        if key != "step" and param._dtype.is_floating_point and value._dtype is not param._dtype:
            return value.to(param._dtype)
        return value
    if isinstance(value, dict):
        return {k: _cast(param, v, k) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return type(value)(_cast(param, v, None) for v in value)
    return value


def _step_dtype() -> Any:
    """NumPy dtype of the "step" tensors: float32, or float64 under a float64 default."""
    return np.float64 if dtypes.get_default_dtype() is dtypes.float64 else np.float32


class FlatOptimizer(Optimizer):
    """An optimizer whose step is one compiled kernel call per group and dtype."""

    _kernel: Any = None        # the kernel in _kernels (a staticmethod)
    _writes_first = False      # SGD: the kernel starts the buffers (mode 2), not zeros
    # The group options `_scalars` reads, all of them (it reads nothing else): while their
    # values are unchanged, a layout reuses the scalars it made last step. Empty: none kept.
    _hp_names: Tuple[str, ...] = ()

    def _state_keys(self, group: Dict[str, Any]) -> Tuple[tuple, tuple, bool]:
        """(three state keys or None, their initial fills, keeps a "step")."""
        raise NotImplementedError

    def _scalars(self, group: Dict[str, Any], dt: Any) -> Tuple[np.ndarray, np.ndarray, int]:
        """(scalars in the dtype, float64 hyperparameters, flag bits) for the kernel."""
        raise NotImplementedError

    def _group_added(self, group: Dict[str, Any]) -> None:
        self._flats(group)

    def _flats(self, group: Dict[str, Any], rebuild: bool = False) -> List[Flat]:
        """The group's layouts (one a floating dtype), rebuilt when its parameters or the
        state it keeps changed."""
        params = group["params"]
        keys = self._state_keys(group)
        entry = self._layouts.get(id(group))
        if rebuild or entry is None or entry[0] is not group or entry[2] != keys or \
                len(entry[1]) != len(params) or not all(map(is_, entry[1], params)):
            by_dtype: Dict[Any, list] = {}
            seen = set()
            for p in params:
                if p._dtype.is_floating_point and id(p) not in seen:
                    seen.add(id(p))
                    by_dtype.setdefault(p._dtype, []).append(p)
            flats = [Flat(ps, dt, keys[0], keys[1], keys[2], _step_dtype())
                     for dt, ps in by_dtype.items()]
            entry = self._layouts[id(group)] = (group, tuple(params), keys, flats)
        return entry[3]

    def step(self, closure: Optional[Callable[[], Any]] = None) -> Any:
        """One optimization step; `closure` (re-evaluating the loss) is called under
        enable_grad and its loss returned."""
        loss = None
        if closure is not None:
            with enable_grad():
                loss = closure()
        for group in self.param_groups:
            flats = self._flats(group)
            try:
                ready = [f.prepare() for f in flats]
            except Relayout:  # a parameter changed dtype or shape: lay the group out again
                flats = self._flats(group, rebuild=True)
                ready = [f.prepare() for f in flats]
            for f, (modes, G) in zip(flats, ready):
                self._update(group, f, modes, G)
        return loss

    def _update(self, group: Dict[str, Any], f: Flat, modes: list, G: np.ndarray) -> None:
        if 1 not in modes:
            return
        first = ()
        if f.has_state:
            state = self._state
            if f.stale(state):
                f.read_state(state)
            if not all(f.inited):
                first = []
                for k, m in enumerate(modes):
                    if m and not f.inited[k]:
                        if self._writes_first:  # the kernel makes the buffer: mode 2
                            modes[k] = 2
                            first.append(k)
                        else:
                            f.start(state, k)
        sc, hp, flags = self._scalars_of(group, f)
        a, b, c = f.bufs
        args = (f.P, G, a, b, c, f.off, f.mode_array(modes), f.steps, sc, hp, flags)
        kernel = self._kernel
        fn = _ENTRY.get((kernel, f.dt))
        if fn is None:
            with compiling(f"the {type(self).__name__} step ({f.dt.np.name})"):
                fn = _ENTRY[(kernel, f.dt)] = _fast(kernel, *args)
        fn(*args)
        f.finish(modes)
        for k in first:
            f.started(self._state, k)

    def _scalars_of(self, group: Dict[str, Any], f: Flat) -> Tuple[np.ndarray, np.ndarray, int]:
        """`_scalars(group, f.dt)`, reused from the last step while the options it reads
        (`_hp_names`) compare equal to the ones it was made from (a scheduler's new lr, an
        edited option or a loaded group makes new ones). Options holding a tensor (a tensor
        lr may change in place) are never kept."""
        names = self._hp_names
        if not names:
            return self._scalars(group, f.dt)
        key = _frozen([group[k] for k in names])
        kept = f.scalars
        if key is not None and kept is not None and kept[0] == key:
            return kept[1]
        out = self._scalars(group, f.dt)
        f.scalars = None if key is None else (key, out)
        return out


def _frozen(values: Any) -> Any:
    """The option values as a tuple with every list made a tuple (a copy: a list edited in
    place, `group["betas"][0] = 0.8`, then compares unequal to it), or None when one is
    not a number, a string, None or a sequence of those (a tensor can change in place)."""
    out = []
    for v in values:
        if isinstance(v, (tuple, list)):
            v = _frozen(v)
            if v is None:
                return None
        elif not (v is None or isinstance(v, (int, float, str))):
            return None
        out.append(v)
    return tuple(out)


_ENTRY: Dict[tuple, Any] = {}  # (kernel, dtype) -> the kernel's compiled entry point
