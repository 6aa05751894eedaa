"""L-BFGS (PyTorch's algorithm, minFunc-style), in NumPy on the flat parameter vector.

The parameters are views of one flat buffer (see `_flat.py`), so a step along a direction
is one fused update of that buffer. The scalars (dot products, step lengths) are NumPy
scalars of the parameters' dtype, so float32 parameters give float32 arithmetic, as
PyTorch's 0-dim tensors do.
"""

from operator import is_
from typing import Any, Callable, Optional

import numpy as np

from ..autograd.grad_mode import enable_grad
from ..tensor import Tensor, _from_array
from . import _kernels as K
from ._flat import Flat, Relayout
from .optimizer import Optimizer, _check_lr, _num

_NONE3 = (None, None, None)


def _cubic_interpolate(x1: Any, f1: Any, g1: Any, x2: Any, f2: Any, g2: Any,
                       bounds: Optional[tuple] = None) -> Any:
    """Minimizer of the cubic through (x1, f1, g1) and (x2, f2, g2), clipped to bounds
    (the interval by default); the midpoint when the cubic has no minimum."""
    lo, hi = bounds if bounds is not None else ((x1, x2) if x1 <= x2 else (x2, x1))
    d1 = g1 + g2 - 3 * (f1 - f2) / (x1 - x2)
    disc = d1 ** 2 - g1 * g2
    if disc >= 0:
        d2 = np.sqrt(disc)
        if x1 <= x2:
            x = x2 - (x2 - x1) * ((g2 + d2 - d1) / (g2 - g1 + 2 * d2))
        else:
            x = x1 - (x1 - x2) * ((g1 + d2 - d1) / (g1 - g2 + 2 * d2))
        return min(max(x, lo), hi)
    return (lo + hi) / 2.0


def _strong_wolfe(obj: Callable, x: np.ndarray, t: Any, d: np.ndarray, f: float,
                  g: np.ndarray, gtd: Any, c1: float = 1e-4, c2: float = 0.9,
                  tolerance_change: float = 1e-9, max_ls: int = 25) -> tuple:
    """Line search along d for a step t meeting the strong Wolfe conditions: bracket,
    then zoom with cubic interpolation. Returns (f, g, t, evaluations)."""
    d_norm = np.abs(d).max()
    f_new, g_new = obj(x, t, d)
    evals = 1
    gtd_new = g_new.dot(d)
    t_prev, f_prev, g_prev, gtd_prev = 0, f, g, gtd
    done = False
    it = 0
    while it < max_ls:  # bracketing phase
        if f_new > (f + c1 * t * gtd) or (it > 1 and f_new >= f_prev):
            br, br_f, br_g, br_gtd = [t_prev, t], [f_prev, f_new], [g_prev, g_new], \
                [gtd_prev, gtd_new]
            break
        if abs(gtd_new) <= -c2 * gtd:
            br, br_f, br_g = [t], [f_new], [g_new]
            done = True
            break
        if gtd_new >= 0:
            br, br_f, br_g, br_gtd = [t_prev, t], [f_prev, f_new], [g_prev, g_new], \
                [gtd_prev, gtd_new]
            break
        lo_step, hi_step = t + 0.01 * (t - t_prev), t * 10
        t_old = t
        t = _cubic_interpolate(t_prev, f_prev, gtd_prev, t, f_new, gtd_new,
                               bounds=(lo_step, hi_step))
        t_prev, f_prev, g_prev, gtd_prev = t_old, f_new, g_new, gtd_new
        f_new, g_new = obj(x, t, d)
        evals += 1
        gtd_new = g_new.dot(d)
        it += 1
    if it == max_ls:
        br, br_f, br_g = [0, t], [f, f_new], [g, g_new]
    stuck = False
    low, high = (0, 1) if br_f[0] <= br_f[-1] else (1, 0)
    while not done and it < max_ls:  # zoom phase
        if abs(br[1] - br[0]) * d_norm < tolerance_change:
            break
        t = _cubic_interpolate(br[0], br_f[0], br_gtd[0], br[1], br_f[1], br_gtd[1])
        top, bottom = max(br), min(br)
        eps = 0.1 * (top - bottom)
        if min(top - t, t - bottom) < eps:  # too close to an end: move away from it
            if stuck or t >= top or t <= bottom:
                t = top - eps if abs(t - top) < abs(t - bottom) else bottom + eps
                stuck = False
            else:
                stuck = True
        else:
            stuck = False
        f_new, g_new = obj(x, t, d)
        evals += 1
        gtd_new = g_new.dot(d)
        it += 1
        if f_new > (f + c1 * t * gtd) or f_new >= br_f[low]:
            br[high], br_f[high], br_g[high], br_gtd[high] = t, f_new, g_new, gtd_new
            low, high = (0, 1) if br_f[0] <= br_f[1] else (1, 0)
        else:
            if abs(gtd_new) <= -c2 * gtd:
                done = True
            elif gtd_new * (br[high] - br[low]) >= 0:
                br[high], br_f[high], br_g[high], br_gtd[high] = \
                    br[low], br_f[low], br_g[low], br_gtd[low]
            br[low], br_f[low], br_g[low], br_gtd[low] = t, f_new, g_new, gtd_new
    return br_f[low], br_g[low], br[low], evals


def _np(v: Any) -> Any:
    """A stored state value back as NumPy (tensors) or itself."""
    if isinstance(v, Tensor):
        a = v._value()
        return a[()] if a.ndim == 0 else a
    if isinstance(v, list):
        return [_np(x) for x in v]
    return v


def _tensor(v: Any, dt: Any) -> Any:
    """A state value as PyTorch keeps it: arrays and NumPy scalars as tensors."""
    if isinstance(v, np.ndarray):
        return _from_array(v, dt, False)
    if isinstance(v, np.generic):
        return _from_array(np.array(v), dt, False)
    if isinstance(v, list):
        return [_tensor(x, dt) for x in v]
    return v


class LBFGS(Optimizer):
    """L-BFGS with PyTorch's options; `step(closure)` needs the closure, which clears the
    gradients, computes the loss, calls backward and returns the loss. One group only."""

    def __init__(self, params: Any, lr: float = 1, max_iter: int = 20,
                 max_eval: Optional[int] = None, tolerance_grad: float = 1e-7,
                 tolerance_change: float = 1e-9, history_size: int = 100,
                 line_search_fn: Optional[str] = None) -> None:
        _check_lr(lr)
        if max_eval is None:
            max_eval = max_iter * 5 // 4
        defaults = dict(lr=lr, max_iter=max_iter, max_eval=max_eval,
                        tolerance_grad=tolerance_grad, tolerance_change=tolerance_change,
                        history_size=history_size, line_search_fn=line_search_fn)
        super().__init__(params, defaults)
        if len(self.param_groups) != 1:
            raise ValueError("LBFGS doesn't support per-parameter options (parameter groups)")
        self._params = self.param_groups[0]["params"]
        self._layout: Optional[tuple] = None

    def _flat(self) -> Flat:
        params = self.param_groups[0]["params"]
        lay = self._layout
        if lay is None or len(lay[0]) != len(params) or not all(map(is_, lay[0], params)) or \
                any(p._dtype is not lay[1].dt or p._shape != s
                    for p, s in zip(params, lay[1].shapes)):
            kinds = {p._dtype for p in params}
            if len(kinds) != 1 or not next(iter(kinds)).is_floating_point:
                raise NotImplementedError(
                    "LBFGS: all parameters must have one floating dtype (got "
                    f"{sorted(str(k) for k in kinds)})")
            flat = Flat(list(params), params[0]._dtype, _NONE3, _NONE3, False, np.float32)
            lay = self._layout = (tuple(params), flat)
        return lay[1]

    def _gather(self, f: Flat) -> np.ndarray:
        """The flat gradient (zeros where a .grad is None), a copy."""
        try:
            _, G = f.prepare(zero_missing=True)
        except Relayout:
            self._layout = None
            f = self._flat()
            _, G = f.prepare(zero_missing=True)
        return G.copy()

    def _add(self, f: Flat, t: Any, d: np.ndarray) -> None:
        """Parameters += t * d (fused, as PyTorch's add_ with alpha)."""
        f.prepare()
        K.axpy(d, np.array([t], f.dt.np), f.P)
        f.finish([1] * len(f.params), wrote_state=False)

    def _set(self, f: Flat, x: np.ndarray) -> None:
        f.prepare()
        f.P[:] = x
        f.finish([1] * len(f.params), wrote_state=False)

    def step(self, closure: Callable[[], Any]) -> Any:  # type: ignore[override]
        """Up to max_iter L-BFGS iterations; returns the closure's first loss."""
        with np.errstate(all="ignore"):
            return self._step(closure)

    def _step(self, closure: Callable[[], Any]) -> Any:
        group = self.param_groups[0]
        lr, max_iter, max_eval = _num(group["lr"]), group["max_iter"], group["max_eval"]
        tol_grad, tol_change = group["tolerance_grad"], group["tolerance_change"]
        line_search, history = group["line_search_fn"], group["history_size"]

        def evaluate() -> Any:
            with enable_grad():
                return closure()

        f = self._flat()
        T = f.dt.np.type
        state = self.state[self.param_groups[0]["params"][0]]
        state.setdefault("func_evals", 0)
        state.setdefault("n_iter", 0)
        orig_loss = evaluate()
        loss = float(orig_loss)
        evals = 1
        state["func_evals"] += 1
        g = self._gather(f)
        if np.abs(g).max() <= tol_grad:
            return orig_loss
        d, t = _np(state.get("d")), _np(state.get("t"))
        old_dirs, old_stps = _np(state.get("old_dirs")), _np(state.get("old_stps"))
        ro, H_diag = _np(state.get("ro")), _np(state.get("H_diag"))
        prev_g, prev_loss = _np(state.get("prev_flat_grad")), state.get("prev_loss")
        al = _np(state.get("al"))
        n_iter = 0
        while n_iter < max_iter:
            n_iter += 1
            state["n_iter"] += 1
            if state["n_iter"] == 1:
                d = -g
                old_dirs, old_stps, ro, H_diag = [], [], [], 1
            else:
                y = g - prev_g
                s = d * T(t)
                ys = y.dot(s)
                if ys > 1e-10:  # keep the pair only when the curvature is positive
                    if len(old_dirs) == history:
                        old_dirs.pop(0)
                        old_stps.pop(0)
                        ro.pop(0)
                    old_dirs.append(y)
                    old_stps.append(s)
                    ro.append(1.0 / ys)
                    H_diag = ys / y.dot(y)
                if al is None:
                    al = [None] * history
                    state["al"] = None  # its place in the dict, as PyTorch's
                q = -g
                for i in range(len(old_dirs) - 1, -1, -1):  # the two-loop recursion
                    al[i] = old_stps[i].dot(q) * ro[i]
                    K.axpy(old_dirs[i], np.array([-al[i]], T), q)
                d = r = q * T(H_diag)
                for i in range(len(old_dirs)):
                    be_i = old_dirs[i].dot(r) * ro[i]
                    K.axpy(old_stps[i], np.array([al[i] - be_i], T), r)
            prev_g = g.copy()
            prev_loss = loss
            if state["n_iter"] == 1:
                t = min(1.0, 1.0 / np.abs(g).sum()) * lr
            else:
                t = lr
            gtd = g.dot(d)
            if gtd > -tol_change:  # not a descent direction
                break
            ls_evals = 0
            if line_search is not None:
                if line_search != "strong_wolfe":
                    raise RuntimeError("only 'strong_wolfe' is supported")
                x0 = f.P.copy()

                def obj(x: np.ndarray, step: Any, direction: np.ndarray) -> tuple:
                    self._add(f, step, direction)
                    value = float(evaluate())
                    grad = self._gather(f)
                    self._set(f, x)
                    return value, grad

                loss, g, t, ls_evals = _strong_wolfe(obj, x0, t, d, loss, g, gtd,
                                                     max_ls=max_eval - evals)
                self._add(f, t, d)
                opt_cond = np.abs(g).max() <= tol_grad
            else:
                self._add(f, t, d)
                opt_cond = False
                if n_iter != max_iter:
                    loss = float(evaluate())
                    g = self._gather(f)
                    opt_cond = np.abs(g).max() <= tol_grad
                    ls_evals = 1
            evals += ls_evals
            state["func_evals"] += ls_evals
            if n_iter == max_iter or evals >= max_eval or opt_cond:
                break
            if np.abs(d * T(t)).max() <= tol_change or abs(loss - prev_loss) < tol_change:
                break
        dt = f.dt
        state.update(d=_tensor(d, dt), t=_tensor(t, dt), old_dirs=_tensor(old_dirs, dt),
                     old_stps=_tensor(old_stps, dt), ro=_tensor(ro, dt),
                     H_diag=_tensor(H_diag, dt), prev_flat_grad=_tensor(prev_g, dt),
                     prev_loss=prev_loss)
        if al is not None:
            state["al"] = _tensor(al, dt)
        return orig_loss
