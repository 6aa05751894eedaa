"""The flat layout of an optimizer group: its parameters of one dtype as views of one buffer.

`Flat` copies each parameter's value into one contiguous buffer `P` and makes the
parameter's array a view of it (`p._arr`), gives each parameter a grad home (`p._ghome`,
a view of the flat gradient buffer `G`, where backward writes a new .grad), and keeps
the state (exp_avg, ...) in flat buffers too, `opt.state[p][key]` being tensors that view
them. A step is then one kernel call over P, G and the state buffers.

Everything the user can change is checked cheaply at each step and repaired, so results
stay right: a parameter whose array was replaced (`p.data = ...`) is copied back in; a
gradient that is not in its home (assigned `.grad`, or a new one allocated because an old
`.grad` made in the home is still alive) is copied in; when a home is in use, the homes
move to a new G if no current .grad lives in the old one (kept earlier .grads keep it),
else the step uses a scratch copy of G; a changed dtype or shape rebuilds the layout (`Relayout`); state that was
replaced (`load_state_dict`, `opt.state[p][key] = ...`, `.data =` on a state tensor) is
copied into the buffers. A parameter whose storage is shared with something else (NumPy,
a view, a live `.data`/`detach()`, the shared memory of `share_memory_()`) keeps its
storage ("mirrored"): it is copied in before the kernel and back after, so the sharing
stays as in PyTorch (a forked process's step reaches the shared parameter: Hogwild).
"""

import weakref
from collections import defaultdict
from sys import getrefcount
from typing import Any, List, Tuple

import numpy as np

from .. import dtypes
from ..autograd.engine import _HOME_FREE, _home_refs
from ..tensor import Tensor, _from_array, _Version, bump

_FLATS = weakref.WeakValueDictionary()  # id(P) -> P for every layout's parameter buffer


def _arr_refs(t):
    arr = t._arr
    return getrefcount(arr)


_ARR_FREE = _arr_refs(_from_array(np.zeros(1), dtypes.float32, False))


class Relayout(Exception):
    """A parameter of the group changed dtype or shape: the group's layout is rebuilt."""


class StateMap(defaultdict):
    """`Optimizer.state`: parameter -> its state dict (a `ParamState`), made on first access
    as PyTorch's defaultdict(dict). Every change of it or of a ParamState counts in `epoch`,
    so a step re-reads the state only after something changed it."""

    def __init__(self, items=()):
        super().__init__(dict)
        self.epoch = 0
        for k, v in dict(items).items():
            self[k] = v

    def __missing__(self, key):
        st = ParamState(self)
        dict.__setitem__(self, key, st)
        self.epoch += 1
        return st

    def __setitem__(self, key, value):
        st = value if isinstance(value, ParamState) and value._owner is self else \
            ParamState(self, value)
        dict.__setitem__(self, key, st)
        self.epoch += 1

    def __delitem__(self, key):
        dict.__delitem__(self, key)
        self.epoch += 1

    def pop(self, *args):
        self.epoch += 1
        return dict.pop(self, *args)

    def popitem(self):
        self.epoch += 1
        return dict.popitem(self)

    def clear(self):
        self.epoch += 1
        dict.clear(self)

    def setdefault(self, key, default=None):
        if key not in self:
            self[key] = {} if default is None else default
        return dict.__getitem__(self, key)

    def update(self, *args, **kwargs):
        for k, v in dict(*args, **kwargs).items():
            self[k] = v

    def __deepcopy__(self, memo):
        from copy import deepcopy

        new = StateMap()
        memo[id(self)] = new
        for k, v in self.items():
            dict.__setitem__(new, deepcopy(k, memo), ParamState(new, deepcopy(dict(v), memo)))
        return new

    def __reduce__(self):
        return (StateMap, (dict(self),))


class ParamState(dict):
    """One parameter's state; a change of it counts in its StateMap's epoch."""

    __slots__ = ("_owner",)

    def __init__(self, owner, items=()):
        super().__init__(items)
        self._owner = owner

    def _touch(self):
        self._owner.epoch += 1

    def __setitem__(self, key, value):
        dict.__setitem__(self, key, value)
        self._owner.epoch += 1

    def __delitem__(self, key):
        dict.__delitem__(self, key)
        self._owner.epoch += 1

    def pop(self, *args):
        self._touch()
        return dict.pop(self, *args)

    def popitem(self):
        self._touch()
        return dict.popitem(self)

    def clear(self):
        self._touch()
        dict.clear(self)

    def setdefault(self, key, default=None):
        self._touch()
        return dict.setdefault(self, key, default)

    def update(self, *args, **kwargs):
        self._touch()
        dict.update(self, *args, **kwargs)

    def __ior__(self, other):
        self.update(other)
        return self

    def __reduce__(self):
        return (dict, (dict(self),))

    def __deepcopy__(self, memo):
        from copy import deepcopy

        return {deepcopy(k, memo): deepcopy(v, memo) for k, v in self.items()}


class Flat:
    """Parameters `params` (one dtype `dt`) as views of one buffer, with state buffers for
    `keys` (three names or None: the kernel's buffers a, b, c) filled with `fills` when a
    parameter's state starts (None: the kernel writes it, SGD's momentum_buffer)."""

    def __init__(self, params: List[Tensor], dt: Any, keys: tuple, fills: tuple,
                 has_step: bool, step_dtype: Any) -> None:
        self.params, self.dt, self.keys, self.fills = params, dt, keys, fills
        self.has_step = has_step
        self.shapes = [p._shape for p in params]
        n = len(params)
        self.off = np.zeros(n + 1, np.int64)
        np.cumsum([int(np.prod(s, dtype=np.int64)) for s in self.shapes], out=self.off[1:])
        self.bounds = [(int(self.off[k]), int(self.off[k + 1])) for k in range(n)]
        total = int(self.off[-1])
        self.P = np.empty(total, dt.np)
        _FLATS[id(self.P)] = self.P
        self.G = np.zeros(total, dt.np)
        self.bufs = [np.zeros(total if key else 0, dt.np) for key in keys]
        self.vcs = [_Version() for _ in keys]           # one version cell per state buffer
        self.seen = [0] * len(keys)
        self.tens = [[None] * n for _ in keys]          # the state tensors, per buffer
        self.steps = np.zeros(n)                        # float64 counts the kernel advances
        self.steps_pub = np.zeros(n, step_dtype)        # what state[p]["step"] tensors view
        self.step_dt = dtypes.float64 if step_dtype == np.float64 else dtypes.float32
        self.step_vc = _Version()
        self.step_seen = 0
        self.step_tens = [None] * n
        self.inited = [False] * n
        self.epoch = -1
        self.state_seen = None  # the StateMap read last
        self.views = [None] * n
        self.mirror = [False] * n
        self.modes = None
        self.mode_arr = None
        self.scalars = None  # (option values, the kernel's scalars made of them), see step
        self.has_state = has_step or any(keys)
        for k in range(n):
            self.adopt(k)

    # ---- parameters and gradients ---------------------------------------------------
    def adopt(self, k: int) -> None:
        """Make parameter k a view of P (or mirror it) and give it a grad home in G."""
        p = self.params[k]
        if p._tape is not None:  # a value computed without grad: it owns an array from now
            p._arr, p._tape, p._vc = np.array(p._value()), None, _Version()
        free = _arr_refs(p) <= _ARR_FREE
        base = p._arr.base
        o, e = self.bounds[k]
        seg = self.P[o:e]
        if (base is not None and _FLATS.get(id(base)) is base) or \
                (base is None and free and len(p._vc) == 1):
            view = seg.reshape(p._shape)
            np.copyto(view, p._arr)
            p._arr = view  # same values: copies of p on tapes stay valid, no version bump
            self.mirror[k] = False
        else:  # its storage is shared: keep it, copy in and out around the kernel
            np.copyto(seg, p._arr.reshape(-1))
            self.mirror[k] = True
        self.views[k] = p._arr
        p._ghome = self.G[o:e].reshape(p._shape)

    def prepare(self, zero_missing: bool = False) -> Tuple[list, np.ndarray]:
        """Check and repair parameters and gradients; returns (modes, G to use): mode 1
        for a parameter with a gradient, 0 without (its gradient reads as 0 in G when
        `zero_missing`). Raises Relayout when a parameter changed dtype or shape."""
        G, dt = self.G, self.dt
        scratch = None
        modes = []
        add = modes.append
        params, views = self.params, self.views
        for k in range(len(params)):
            p = params[k]
            if p._arr is not views[k]:
                if p._dtype is not dt or p._shape != self.shapes[k]:
                    raise Relayout
                self.adopt(k)
            elif self.mirror[k]:
                o, e = self.bounds[k]
                np.copyto(self.P[o:e], p._arr.reshape(-1))
            g = p._grad
            home = p._ghome
            if g is not None and g._arr is home and home is not None and home.base is G:
                add(1)
                continue
            add(0 if g is None else 1)
            if g is None and not zero_missing:
                continue
            o, e = self.bounds[k]
            if home is None:  # dropped (a dtype conversion does): a new one, free
                p._ghome = G[o:e].reshape(p._shape)
            ours = p._ghome.base is G
            home = None  # (a reference held here would count as a user's)
            if scratch is None and ours and _home_refs(p) <= _HOME_FREE:
                dst = G[o:e]
            elif scratch is None and ours and self._movable(G):
                G = self._rehome(G)  # the home holds a live earlier .grad: new homes
                dst = G[o:e]
            else:  # the home holds a live earlier .grad: leave it, use a scratch copy
                if scratch is None:
                    scratch = G.copy()
                dst = scratch[o:e]
            if g is None:
                dst[:] = 0
            else:
                np.copyto(dst, g._value().reshape(-1), casting="unsafe")
        return modes, (G if scratch is None else scratch)

    def _movable(self, G: np.ndarray) -> bool:
        """No parameter's current .grad lives in G (only kept earlier ones may)."""
        for p in self.params:
            g = p._grad
            if g is not None and g._arr is not None and g._arr.base is G:
                return False
        return True

    def _rehome(self, G: np.ndarray) -> np.ndarray:
        """Move the grad homes to a copy of G and return it: kept earlier .grads keep the
        old buffer, later backwards write into free homes (no scratch copy per step)."""
        new = self.G = G.copy()
        for k, p in enumerate(self.params):
            home = p._ghome
            if home is not None and home.base is G:
                o, e = self.bounds[k]
                p._ghome = new[o:e].reshape(self.shapes[k])
        return new

    def mode_array(self, modes: list) -> np.ndarray:
        """`modes` as the kernel's uint8 array (reused while unchanged)."""
        if modes != self.modes:
            self.modes = modes
            self.mode_arr = np.array(modes, np.uint8)
        return self.mode_arr

    def finish(self, modes: list, wrote_state: bool = True) -> None:
        """After the kernel: copy mirrored parameters out, bump the versions of everything
        it wrote."""
        params, mirror = self.params, self.mirror
        for k in range(len(modes)):
            if modes[k]:
                p = params[k]
                if mirror[k]:
                    o, e = self.bounds[k]
                    np.copyto(p._arr, self.P[o:e].reshape(p._arr.shape))
                bump(p._vc)
        if not wrote_state or not self.has_state:
            return
        if self.has_step:
            self.steps_pub[:] = self.steps
            bump(self.step_vc)
            self.step_seen = self.step_vc[0]
        keys, vcs, seen = self.keys, self.vcs, self.seen
        for j in range(len(keys)):
            if keys[j]:
                vc = vcs[j]
                bump(vc)
                seen[j] = vc[0]

    # ---- state ----------------------------------------------------------------------
    def stale(self, state: "StateMap") -> bool:
        """True when the state may have changed since this layout last read it."""
        if state is not self.state_seen or state.epoch != self.epoch or \
                (self.has_step and self.step_vc[0] != self.step_seen):
            return True
        for j in range(len(self.keys)):
            if self.keys[j] and self.vcs[j][0] != self.seen[j]:
                return True
        return False

    def _view(self, j: int, k: int) -> np.ndarray:
        o, e = self.bounds[k]
        return self.bufs[j][o:e].reshape(self.shapes[k])

    def _tensor(self, j: int, k: int) -> Tensor:
        t = self.tens[j][k]
        if t is None:
            t = self.tens[j][k] = _from_array(self._view(j, k), self.dt, False)
            t._vc = self.vcs[j]
        return t

    def _step_tensor(self, k: int) -> Tensor:
        t = self.step_tens[k]
        if t is None:
            t = _from_array(self.steps_pub[k:k + 1].reshape(()), self.step_dt, False)
            t._vc = self.step_vc
            self.step_tens[k] = t
        return t

    def _load(self, j: int, k: int, value: Any) -> None:
        """Copy a state value (tensor, array or number) into buffer j at parameter k."""
        v = value._value() if isinstance(value, Tensor) else np.asarray(value)
        o, e = self.bounds[k]
        if v.size != e - o:
            raise RuntimeError(
                f"optimizer state '{self.keys[j]}' of a parameter of shape "
                f"{list(self.shapes[k])} has shape {list(np.shape(v))}: the state does not "
                "match the parameter (load_state_dict from another model?)")
        np.copyto(self.bufs[j][o:e], v.reshape(-1), casting="unsafe")

    def read_state(self, state: "StateMap") -> None:
        """Bring the buffers in line with `state` (the optimizer's StateMap)."""
        if self.has_step:
            self.steps[:] = self.steps_pub
        for k, p in enumerate(self.params):
            st = dict.get(state, p)
            if not st:
                self.inited[k] = False
                continue
            inited = True
            for j, key in enumerate(self.keys):
                if not key:
                    continue
                t = st.get(key)
                ours = self.tens[j][k]
                if t is not None and t is ours and t._arr is not None and \
                        t._arr.base is self.bufs[j]:
                    continue
                if t is None:
                    if self.fills[j] is None:   # SGD: no buffer yet, the next step makes it
                        inited = False
                        continue
                    self._view(j, k)[...] = self.fills[j]
                else:  # replaced, or our tensor got another array (`.data = ...`)
                    self._load(j, k, t)
                    if t is ours:
                        self.tens[j][k] = None
                dict.__setitem__(st, key, self._tensor(j, k))
            if self.has_step:
                t = st.get("step")
                ours = self.step_tens[k]
                if t is None or t is not ours or ours._arr is None or \
                        ours._arr.base is not self.steps_pub:
                    val = 0.0 if t is None else float(t)
                    if t is ours:
                        self.step_tens[k] = None  # it got another array: a new one
                    self.steps[k] = self.steps_pub[k] = val
                    dict.__setitem__(st, "step", self._step_tensor(k))
            self.inited[k] = inited
        self.epoch = state.epoch
        self.state_seen = state
        self.step_seen = self.step_vc[0]
        self.seen = [vc[0] for vc in self.vcs]

    def start(self, state: "StateMap", k: int) -> None:
        """Parameter k's first update: its state starts (PyTorch's lazy initialization)."""
        st = dict.get(state, self.params[k])
        if st is None:
            st = ParamState(state)
            dict.__setitem__(state, self.params[k], st)
        if self.has_step:
            self.steps[k] = 0.0
            self.steps_pub[k] = 0.0
            dict.__setitem__(st, "step", self._step_tensor(k))
        for j, key in enumerate(self.keys):
            if key and self.fills[j] is not None:
                self._view(j, k)[...] = self.fills[j]
                dict.__setitem__(st, key, self._tensor(j, k))
        self.inited[k] = True

    def started(self, state: "StateMap", k: int) -> None:
        """After the kernel made parameter k's kernel-written buffers (SGD's first step)."""
        st = dict.get(state, self.params[k])
        if st is None:
            st = ParamState(state)
            dict.__setitem__(state, self.params[k], st)
        for j, key in enumerate(self.keys):
            if key and self.fills[j] is None:
                dict.__setitem__(st, key, self._tensor(j, k))
        self.inited[k] = True
