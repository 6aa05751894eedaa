"""Module state: state_dict / load_state_dict in PyTorch's format, and conversion of the
parameters and buffers (`to`, `double`, `float`, `type`; `cuda` and `half` refuse)."""

import itertools
import warnings
from collections import OrderedDict, namedtuple
from collections.abc import Mapping

import numpy as np

from ... import dtypes
from ...autograd.grad_mode import no_grad
from ...tensor import Tensor, _from_array, _Version
from .hooks import RemovableHandle


def _typename(obj) -> str:
    """PyTorch's typename: 'torch.FloatTensor' for a tensor, else the qualified type name."""
    if isinstance(obj, Tensor):
        return obj.type()
    module = getattr(obj, "__module__", "") or ""
    if hasattr(obj, "__qualname__"):
        qual = obj.__qualname__
    elif hasattr(obj, "__name__"):
        qual = obj.__name__
    else:
        module, qual = type(obj).__module__ or "", type(obj).__qualname__
    return qual if module in ("", "builtins") else f"{module}.{qual}"


class _IncompatibleKeys(namedtuple("IncompatibleKeys", ["missing_keys", "unexpected_keys"])):
    """What load_state_dict returns: the keys missing from and unexpected in the dict."""

    __slots__ = ()

    def __repr__(self) -> str:
        if not self.missing_keys and not self.unexpected_keys:
            return "<All keys matched successfully>"
        return super().__repr__()

    __str__ = __repr__


_EXTRA = "_extra_state"


def _device_kind(dev) -> str:
    kind = getattr(dev, "type", None)
    return kind if isinstance(kind, str) else str(dev).partition(":")[0]


def _check_cpu(dev, op: str) -> None:
    if dev is not None and _device_kind(dev) != "cpu":
        raise RuntimeError(f"{op}: tapegrad runs on the CPU only; device {str(dev)!r} is not "
                           "available")


def _factory(make, shape, device, dtype) -> Tensor:
    """A layer's new tensor (creation.empty / zeros / ones) on the CPU, the only device."""
    _check_cpu(device, "a layer's parameters")
    return make(*shape, dtype=dtype)


def _parse_to(args, kwargs):
    """(device, dtype) of Module.to's forms: to(device), to(dtype), to(tensor),
    to(device, dtype), to(device=..., dtype=..., non_blocking=...)."""
    kwargs = dict(kwargs)
    dev, dt = kwargs.pop("device", None), kwargs.pop("dtype", None)
    for k in ("non_blocking", "memory_format", "copy"):
        kwargs.pop(k, None)
    if kwargs:
        raise TypeError(f"to() received an invalid combination of arguments: unexpected "
                        f"keyword argument '{next(iter(kwargs))}'")
    for a in args:
        if isinstance(a, dtypes.dtype):
            dt = a
        elif isinstance(a, Tensor):
            dt = a._dtype
        elif isinstance(a, bool) or a is None:
            continue
        elif isinstance(a, (str, int)) or hasattr(a, "type"):
            dev = a
        else:
            raise TypeError(f"to() received an invalid combination of arguments: got "
                            f"{type(a).__name__}")
    return dev, dt


class _ModuleState:
    """state_dict, load_state_dict and conversions of nn.Module (mixed into Module)."""

    # ---- state_dict ---------------------------------------------------------------------
    def _save_to_state_dict(self, destination, prefix, keep_vars):
        for name, p in self._parameters.items():
            if p is not None:
                destination[prefix + name] = p if keep_vars else p.detach()
        for name, b in self._buffers.items():
            if b is not None and name not in self._non_persistent_buffers_set:
                destination[prefix + name] = b if keep_vars else b.detach()
        if type(self).get_extra_state is not _ModuleState.get_extra_state:
            destination[prefix + _EXTRA] = self.get_extra_state()

    def state_dict(self, *args, destination=None, prefix: str = "",
                   keep_vars: bool = False) -> "OrderedDict[str, Tensor]":
        """An OrderedDict of every parameter and persistent buffer, by dotted name
        ("0.weight", "bn.running_mean"), depth-first as PyTorch. Its tensors are detached
        and share storage with the module's (keep_vars=True: the parameters themselves)."""
        if args:
            warnings.warn("Positional args are being deprecated, use kwargs instead.",
                          FutureWarning, stacklevel=2)
            destination = args[0] if destination is None else destination
            prefix = args[1] if len(args) > 1 and prefix == "" else prefix
            keep_vars = args[2] if len(args) > 2 and keep_vars is False else keep_vars
        if destination is None:
            destination = OrderedDict()
            destination._metadata = OrderedDict()
        if hasattr(destination, "_metadata"):
            destination._metadata[prefix[:-1]] = {"version": self._version}
        self._save_to_state_dict(destination, prefix, keep_vars)
        for name, m in self._modules.items():
            if m is not None:
                m.state_dict(destination=destination, prefix=prefix + name + ".",
                             keep_vars=keep_vars)
        return destination

    def get_extra_state(self) -> object:
        """Extra (non-tensor) state for state_dict(); override with set_extra_state."""
        raise RuntimeError("Reached a code path in Module.get_extra_state() that should never "
                           "be called.")

    def set_extra_state(self, state) -> None:
        """Restore what get_extra_state() returned."""
        raise RuntimeError("Reached a code path in Module.set_extra_state() that should never "
                           "be called.")

    def _load_from_state_dict(self, state_dict, prefix, local_metadata, strict, missing_keys,
                              unexpected_keys, error_msgs):
        persistent = {k: v for k, v in self._buffers.items()
                      if k not in self._non_persistent_buffers_set}
        local = {k: v for k, v in itertools.chain(self._parameters.items(), persistent.items())
                 if v is not None}
        assign = local_metadata.get("assign_to_params_buffers", False)
        for name, param in local.items():
            key = prefix + name
            if key not in state_dict:
                if strict:
                    missing_keys.append(key)
                continue
            src = state_dict[key]
            if not isinstance(src, Tensor):
                error_msgs.append(f'While copying the parameter named "{key}", expected '
                                  "torch.Tensor or Tensor-like object from checkpoint but "
                                  f"received {type(src)}")
                continue
            if len(param._shape) == 0 and len(src._shape) == 1:  # old 1-element checkpoints
                src = src.reshape(())
            if src._shape != param._shape:
                error_msgs.append(f"size mismatch for {key}: copying a param with shape "
                                  f"{src.shape} from checkpoint, the shape in current model "
                                  f"is {param.shape}.")
                continue
            try:
                with no_grad():
                    if assign:
                        self._assign(name, param, src)
                    else:
                        param.copy_(src)
            except Exception as ex:
                error_msgs.append(f'While copying the parameter named "{key}", whose '
                                  f"dimensions in the model are {param.size()} and whose "
                                  f"dimensions in the checkpoint are {src.size()}, an "
                                  f"exception occurred : {ex.args}.")
        has_extra = type(self).set_extra_state is not _ModuleState.set_extra_state
        if has_extra:
            if prefix + _EXTRA in state_dict:
                self.set_extra_state(state_dict[prefix + _EXTRA])
            elif strict:
                missing_keys.append(prefix + _EXTRA)
        if strict:
            for key in state_dict.keys():
                if not key.startswith(prefix) or (has_extra and key == prefix + _EXTRA):
                    continue
                parts = key[len(prefix):].split(".", 1)
                if len(parts) > 1:
                    if parts[0] not in self._modules:
                        unexpected_keys.append(key)
                elif parts[0] not in local:
                    unexpected_keys.append(key)

    def _assign(self, name, param, src):
        from ..parameter import Parameter

        if isinstance(param, Parameter):
            if not isinstance(src, Parameter):
                src = Parameter(src, requires_grad=param.requires_grad)
            else:
                src.requires_grad_(param.requires_grad)
        setattr(self, name, src)

    def load_state_dict(self, state_dict: Mapping, strict: bool = True,
                        assign: bool = False) -> _IncompatibleKeys:
        """Copy the tensors of `state_dict` into the parameters and buffers in place
        (under no_grad; assign=True puts the given tensors in instead). strict: missing or
        unexpected keys raise RuntimeError; returns _IncompatibleKeys(missing, unexpected)."""
        if not isinstance(state_dict, Mapping):
            raise TypeError(f"Expected state_dict to be dict-like, got {type(state_dict)}.")
        missing, unexpected, errors = [], [], []
        metadata = getattr(state_dict, "_metadata", None)
        state_dict = OrderedDict(state_dict)

        def load(module, local_dict, prefix=""):  # this module, then its children
            meta = {} if metadata is None else dict(metadata.get(prefix[:-1], {}))
            if assign:
                meta["assign_to_params_buffers"] = True
            module._load_from_state_dict(local_dict, prefix, meta, True, missing, unexpected,
                                         errors)
            for name, child in module._modules.items():
                if child is not None:
                    p = prefix + name + "."
                    load(child, {k: v for k, v in local_dict.items() if k.startswith(p)}, p)
            keys = _IncompatibleKeys(missing, unexpected)
            for hook in module._load_state_dict_post_hooks.values():
                hook(module, keys)

        load(self, state_dict)
        if strict:
            if unexpected:
                errors.insert(0, "Unexpected key(s) in state_dict: {}. ".format(
                    ", ".join(f'"{k}"' for k in unexpected)))
            if missing:
                errors.insert(0, "Missing key(s) in state_dict: {}. ".format(
                    ", ".join(f'"{k}"' for k in missing)))
        if errors:
            raise RuntimeError("Error(s) in loading state_dict for {}:\n\t{}".format(
                self.__class__.__name__, "\n\t".join(errors)))
        return _IncompatibleKeys(missing, unexpected)

    def register_load_state_dict_post_hook(self, hook) -> "RemovableHandle":
        """hook(module, incompatible_keys), called after load_state_dict loaded this module
        (it may edit the keys lists in place)."""
        handle = RemovableHandle(self._load_state_dict_post_hooks)
        self._load_state_dict_post_hooks[handle.id] = hook
        return handle

    # ---- conversion ---------------------------------------------------------------------
    def _convert(self, dt, floating_only=True):
        """Give every (floating) parameter and buffer dtype dt: parameters in place (the
        same objects, so an optimizer made before still holds them), buffers replaced."""
        for m in self.modules():
            for p in m._parameters.values():
                if p is not None and p._dtype is not dt and (
                        p._dtype.is_floating_point or not floating_only):
                    _retype(p, dt)
            for name, b in m._buffers.items():
                if b is not None and b._dtype is not dt and (
                        b._dtype.is_floating_point or not floating_only):
                    m._buffers[name] = b.to(dt)
        return self

    def to(self, *args, **kwargs) -> "_ModuleState":
        """to(dtype), to("cpu"), to(device=..., dtype=...), to(tensor): converts floating
        parameters and buffers to dtype; a device other than the CPU raises RuntimeError
        (tapegrad runs on the CPU only). Returns self."""
        dev, dt = _parse_to(args, kwargs)
        _check_cpu(dev, "Module.to")
        if dt is None:
            return self
        if not dt.is_floating_point:
            raise TypeError("nn.Module.to only accepts floating point or complex dtypes, but "
                            f"got desired dtype={dt}")
        return self._convert(dt)

    def cpu(self) -> "_ModuleState":
        """The module is on the CPU already: returns self."""
        return self

    def cuda(self, device=None) -> "_ModuleState":
        """Refuses: tapegrad has no CUDA backend."""
        raise RuntimeError("Module.cuda: tapegrad runs on the CPU only (no CUDA backend); "
                           "keep the module on the CPU")

    def double(self) -> "_ModuleState":
        """Floating parameters and buffers to float64; returns self."""
        return self._convert(dtypes.float64)

    def float(self) -> "_ModuleState":
        """Floating parameters and buffers to float32; returns self."""
        return self._convert(dtypes.float32)

    def half(self) -> "_ModuleState":
        """Refuses: tapegrad has no float16."""
        raise TypeError("Module.half: tapegrad has no float16 dtype (float32 and float64 "
                        "only); use .float() or .double()")

    def bfloat16(self) -> "_ModuleState":
        """Refuses: tapegrad has no bfloat16."""
        raise TypeError("Module.bfloat16: tapegrad has no bfloat16 dtype (float32 and float64 "
                        "only); use .float() or .double()")

    def type(self, dst_type) -> "_ModuleState":
        """Every parameter and buffer to dst_type (a dtype or 'torch.DoubleTensor');
        returns self."""
        if isinstance(dst_type, str):
            legacy = {f"torch.{d.legacy}": d for d in dtypes.ALL}
            if dst_type not in legacy:
                raise TypeError(f"Module.type: invalid type {dst_type!r}")
            dst_type = legacy[dst_type]
        if not isinstance(dst_type, dtypes.dtype):
            raise TypeError(f"Module.type: expected a dtype, got {type(dst_type).__name__}")
        return self._convert(dst_type, floating_only=False)

    def share_memory(self) -> "_ModuleState":
        """Move every parameter, its gradient and every buffer into shared memory
        (Tensor.share_memory_), so that processes forked afterwards train the same
        weights (Hogwild); returns self. The tensors stay the same objects."""
        for m in self.modules():
            for p in m._parameters.values():
                if p is not None:
                    p.share_memory_()
                    if p._grad is not None and p._grad.is_leaf:
                        p._grad.share_memory_()
            for b in m._buffers.values():
                if b is not None:
                    b.share_memory_()
        return self


def _retype(p, dt):
    """Parameter p now holds its value in dtype dt (its own new array); its grad follows."""
    if p._rg and not dt.is_floating_point:
        raise RuntimeError(f"cannot convert a parameter that requires grad to {dt}: only "
                           "floating point tensors can require gradients")
    p._arr = np.array(p._value(), dt.np)
    p._tape, p._slot, p._gfn = None, -1, None
    p._dtype = dt
    p._vc = _Version()  # a new storage: earlier tape copies stay valid for earlier graphs
    p._ltape = None
    if getattr(p, "_ghome", None) is not None:  # an optimizer's gradient home of the old dtype
        p._ghome = None
    g = p._grad
    if g is not None:
        p._grad = _from_array(np.array(g._value(), dt.np), dt, False)
