"""NumPy's `axis=` keyword as another name of `dim=`, as PyTorch accepts it (x.sum(axis=0),
torch.cat(ts, axis=1), ...): the Tensor methods and tapegrad functions that take `dim=` are
rebound to wrappers with their own signature plus a keyword-only `axis`."""

import functools
import inspect

from .tensor import Tensor

_NO = object()


_AXIS_METHODS = (
    "sum", "mean", "std", "var", "prod", "max", "min", "amax", "amin", "argmax", "argmin",
    "cumsum", "cumprod", "logsumexp", "all", "any", "squeeze", "unsqueeze", "count_nonzero",
    "softmax", "log_softmax", "median", "nanmedian", "sort", "argsort", "kthvalue", "mode",
    "cummax", "cummin", "logcumsumexp", "topk", "diff", "gather", "index_select", "chunk",
    "unbind", "narrow", "select", "repeat_interleave", "nansum", "nanmean")
_AXIS_FUNCTIONS = _AXIS_METHODS + ("cat", "concat", "concatenate", "stack", "std_mean",
                                   "var_mean")


def _axis_alias(fn):
    """fn accepting `axis=` as another name of its `dim=` argument: a wrapper with fn's own
    signature plus a keyword-only `axis` (generated, so a call costs one frame and no
    argument packing)."""
    if getattr(fn, "_axis_alias", False):
        return fn
    if "dim" not in inspect.signature(fn, follow_wrapped=False).parameters:
        return _axis_alias_kw(fn)  # a (*args, **kwargs) wrapper such as out='s
    P = inspect.Parameter
    defaults, params, call, star, late, seen = {}, [], [], False, [], False
    for p in inspect.signature(fn, follow_wrapped=False).parameters.values():
        text = p.name
        seen = seen or p.name == "dim"
        if p.default is not P.empty:
            defaults[p.name] = p.default
            text += f"=_d[{p.name!r}]"
        elif seen and p.kind is P.POSITIONAL_OR_KEYWORD:  # dim and what follows it
            late.append(p.name)
            text += "=_NO"
        if p.kind is P.VAR_POSITIONAL:
            text, star = "*" + p.name, True
            call.append(text)
        elif p.kind is P.KEYWORD_ONLY:
            if not star:
                params.append("*")
                star = True
            call.append(f"{p.name}={p.name}")
        elif p.kind is P.VAR_KEYWORD:
            params.append("axis=_NO")
            star, text = None, "**" + p.name
            call.append(text)
        else:
            call.append(p.name)
        params.append(text)
    if star is not None:
        params += ([] if star else ["*"]) + ["axis=_NO"]
    name = fn.__name__
    src = (f"def _w({', '.join(params)}):\n"
           f"    if axis is not _NO:\n"
           f"        if dim is not _d.get('dim', _NO):\n"
           f"            raise TypeError('{name}(): got both dim and its alias axis')\n"
           f"        dim = axis\n" +
           "".join(f"    if {a} is _NO:\n        raise TypeError(\"{name}() missing required "
                   f"argument '{a}'\")\n" for a in late) +
           f"    return _f({', '.join(call)})\n")
    scope = {"_d": defaults, "_NO": _NO, "_f": fn}
    exec(src, scope)
    f = functools.wraps(fn)(scope["_w"])
    f._axis_alias = True
    return f


def _axis_alias_kw(fn):
    @functools.wraps(fn)
    def f(*args, axis=_NO, **kwargs):
        if axis is not _NO:
            if "dim" in kwargs:
                raise TypeError(f"{fn.__name__}(): got both dim and its alias axis")
            kwargs["dim"] = axis
        return fn(*args, **kwargs)

    f._axis_alias = True
    return f


def _accepts_dim(fn) -> bool:
    try:
        return "dim" in inspect.signature(fn).parameters
    except (TypeError, ValueError):
        return False


def install_axis(namespace: dict) -> None:
    """Let the Tensor methods and the functions of `namespace` (tapegrad's) that take `dim=`
    take `axis=` too, as PyTorch's do."""
    for name in _AXIS_METHODS:
        fn = Tensor.__dict__.get(name)
        if fn is not None and _accepts_dim(fn):
            setattr(Tensor, name, _axis_alias(fn))
    for name in _AXIS_FUNCTIONS:
        fn = namespace.get(name)
        if fn is not None and _accepts_dim(fn):
            namespace[name] = _axis_alias(fn)
