"""`Compiled.batch`: many rows replayed in one compiled call, in parallel on all cores.

A `Variant`'s replay is the forward sweep with new inputs, the marking pass and the
reverse sweep, each a compiled entry point of tapegrad/tape/sweep.py. The entry points
here call those same three for each row of a range, so each row gets the answer the
one-by-one call gives, bit for bit. They run without the GIL: the batch's rows are cut
into one range per thread (numba.get_num_threads(), so NUMBA_NUM_THREADS applies) and
the threads run at once. (Not a `prange`: a parallel entry that links the sweeps took
four times as long to compile, 43 s against 10 s on a busy 2-core machine.)

What each thread owns: copies of the value arenas (A32/A64: the inputs and every
computed value), the adjoint arenas, MARK, LIST, BUF and the aux pool (the marking pass
writes its header word H_MARKED). The record and slot tables R and S are shared: with
retain=True nothing in them changes. A workspace is the used part of each arena, copied
from the recording (its constants included), a few KB to MB a thread.

A scalar program (tapegrad/func/_plan.py) has a kernel of its own, `scalar_rows`: each
thread copies the register files and runs the program's one-call replay per row (a
rolled program, its generated `rows`: tapegrad/func/_roll.py).

A row whose guards fail, or that a sweep refuses, is answered afterwards by the normal
call (which may record a new variant). Batches too small for threads to pay, programs
with a custom Function, anomaly mode and hooked tapes take the plain loop of calls.
"""

import weakref
from typing import Any, Optional, Sequence

import numba
import numpy as np
from numba import njit

from ..autograd import engine
from ..tape import notice, sweep
from ..tape.records import OK, S_DTYPE, S_OFF
from ..tape.sweep import forward, mark, reverse, reverse1
from ._trace import as_input

# the sweeps' stamp (tapegrad/tape/codegen.py rewrites it): these entries carry the
# sweeps' machine code and Numba caches them by this file alone, so a change of the sweeps
# must change this file
DISPATCH_STAMP = "3b7087ce86755972"

# Measured on a (busy) 2-core machine, rosenbrock n=100 (about 3 us a row): the compiled
# loop beats the loop of calls from about 6 rows (below, the set-up costs more than it
# saves), and a second thread pays once it gets about 64 rows (handing work to a thread
# costs some 30-50 us).
MIN_ROWS = 8
ROWS_PER_THREAD = 64
_KINDS = ("grad", "value_and_grad", "vjp", "hvp", "jvp")  # jacrev, hessian: the loop
_PLANS = weakref.WeakKeyDictionary()  # Variant -> its batch plan (or None: not batchable)


# ---- the compiled part ---------------------------------------------------------------
@njit(inline="always", error_model="numpy")
def _load_row(W32, W64, x, xin):
    """Write row x of the batch into the input slots (xin rows: code, offset, size,
    column of x)."""
    for q in range(xin.shape[0]):
        off, n, col = xin[q, 1], xin[q, 2], xin[q, 3]
        if xin[q, 0] == 0:
            for j in range(n):
                W32[off + j] = np.float32(x[col + j])
        else:
            for j in range(n):
                W64[off + j] = x[col + j]


@njit(inline="always", error_model="numpy")
def _guards_hold(I32, I64, guards, want):
    """Are the guarded values bitwise what the recording read (want: their bits)?"""
    for q in range(guards.shape[0]):
        off, n, col = guards[q, 1], guards[q, 2], guards[q, 3]
        if guards[q, 0] == 0:
            for j in range(n):
                if I32[off + j] != want[col + j]:
                    return False
        else:
            for j in range(n):
                if I64[off + j] != want[col + j]:
                    return False
    return True


@njit(inline="always", error_model="numpy")
def _store_row(W32, W64, GW32, GW64, MARK, out, outs):
    """Copy a row's results into out (outs rows: 0 value / 1 adjoint, code, offset, size,
    column, slot); an adjoint the sweep did not reach stays 0."""
    for q in range(outs.shape[0]):
        src, code, off, n, col = outs[q, 0], outs[q, 1], outs[q, 2], outs[q, 3], outs[q, 4]
        if src == 1 and MARK[outs[q, 5]] == 0:
            continue
        if code == 0:
            V = W32 if src == 0 else GW32
            for j in range(n):
                out[col + j] = V[off + j]
        else:
            V = W64 if src == 0 else GW64
            for j in range(n):
                out[col + j] = V[off + j]


@njit(nogil=True, cache=True, error_model="numpy")
def rows_one(R, S, AUX, nrec, W32, W64, I32, I64, GW32, GW64, WA, GA, MARK, LIST, BUF,
             X, xin, guards, want, roots, seeds, outs, OUT, ok, zero, retain, lo, hi):
    """Replay rows lo..hi-1 of X (forward, mark, reverse1 over the one arena WA/GA, which
    alias W32/GW32 or W64/GW64) in one thread's workspace, without the GIL: threads run
    their own row ranges at once. ok[i] = 1 for the rows answered (results in OUT[i]).
    `zero` (0) and `retain` (True) come in as arguments: written as literals they would
    type, and so compile, the sweeps again with literal argument types."""
    for i in range(lo, hi):
        _load_row(W32, W64, X[i], xin)
        forward(R, S, AUX, W32, W64, zero, nrec)
        if not _guards_hold(I32, I64, guards, want):
            continue
        st = mark(R, S, AUX, GW32, GW64, MARK, LIST, roots, seeds[i])
        if st[0] != OK:
            continue
        top, bottom = st[3], st[4]
        if reverse1(R, S, AUX, WA, GA, MARK, LIST, BUF, top, bottom, top, retain)[0] != OK:
            continue
        _store_row(W32, W64, GW32, GW64, MARK, OUT[i], outs)
        ok[i] = 1


@njit(nogil=True, cache=True, error_model="numpy")
def rows_two(R, S, AUX, nrec, W32, W64, I32, I64, GW32, GW64, WA, GA, MARK, LIST, BUF,
             X, xin, guards, want, roots, seeds, outs, OUT, ok, zero, retain, lo, hi):
    """`rows_one` for a tape with values in both arenas (the `reverse` sweep; WA and GA
    are not used)."""
    for i in range(lo, hi):
        _load_row(W32, W64, X[i], xin)
        forward(R, S, AUX, W32, W64, zero, nrec)
        if not _guards_hold(I32, I64, guards, want):
            continue
        st = mark(R, S, AUX, GW32, GW64, MARK, LIST, roots, seeds[i])
        if st[0] != OK:
            continue
        top, bottom = st[3], st[4]
        if reverse(R, S, AUX, W32, W64, GW32, GW64, MARK, LIST, BUF, top, bottom, top,
                   retain)[0] != OK:
            continue
        _store_row(W32, W64, GW32, GW64, MARK, OUT[i], outs)
        ok[i] = 1


notice.watch(rows_one, rows_two)  # a first compile prints one line
_POOL = []  # [ThreadPoolExecutor], made on the first parallel batch


def _pool(n):
    """A pool of at least n worker threads (the calling thread is one more)."""
    if not _POOL or _POOL[0]._max_workers < n:
        from concurrent.futures import ThreadPoolExecutor

        if _POOL:
            _POOL.pop().shutdown(wait=False)
        _POOL.append(ThreadPoolExecutor(n, thread_name_prefix="tapegrad-batch"))
    return _POOL[0]


def _threads(chunk, T, entry):
    """chunk(0), ..., chunk(T - 1) on T threads (this one and T - 1 of the pool). A first
    compile of `entry` happens once, on this thread, before the others start."""
    if T == 1:
        chunk(0)
    elif not entry.overloads:  # (on this thread: it compiles; the other ranges then run)
        chunk(0)
        for f in [_pool(T - 1).submit(chunk, t) for t in range(1, T)]:
            f.result()
    else:
        for f in [_pool(T - 1).submit(chunk, t) for t in range(1, T)] + [chunk(0)]:
            if f is not None:
                f.result()  # (re-raises a thread's exception here)


# ---- the Python part -----------------------------------------------------------------
class _Plan:
    """Where a variant's batch reads and writes (fixed: the tape is pinned and done)."""

    def __init__(self, v, kind, wrt):
        tape = v.tape
        tape.adjoints()  # (sized like the value arenas)
        S, A = tape.S, tape.A
        self.v, self.kind, self.wrt = v, kind, wrt
        self.top = [int(tape.AUX[sweep.H_TOP32]), int(tape.AUX[sweep.H_TOP64])]
        xin, col = [], 0
        for code, off, n in v._ins[:len(v._shapes) - (1 if kind == "jvp" else 0)]:
            xin.append((code, off, n, col))
            col += n
        self.ncols_in = col
        self.xin = np.array(xin, np.int64).reshape(-1, 4)
        guards, want, col = [], [], 0
        for s, code, g in v.guards:
            if g.dtype != A[code].dtype:
                raise _NotBatchable
            n = g.size
            guards.append((code, S.item(s, S_OFF), n, col))
            want.append(g.view(np.int32 if code == 0 else np.int64).astype(np.int64))
            col += n
        self.guards = np.array(guards, np.int64).reshape(-1, 4)
        self.want = np.concatenate(want) if want else np.zeros(0, np.int64)
        outs, col = [], 0
        value, vslot = (v.extras[0] if kind == "jvp" else (v.value, v.out))
        self.value = value
        self.has_value = kind in ("value_and_grad", "vjp", "jvp")
        if self.has_value and vslot is not None:
            code, off = S.item(vslot, S_DTYPE), S.item(vslot, S_OFF)
            outs.append((0, code, off, value.size, col, vslot))
            col += value.size
        self.vslot = vslot
        self.vdtype = np.float64 if value.ndim == 0 else (
            A[S.item(vslot, S_DTYPE)].dtype if vslot is not None else value.dtype)
        gin = (len(v._shapes) - 1,) if kind == "jvp" else wrt
        self.grads = []  # (column, size, shape, dtype)
        for i in gin:
            code, off, n = v._ins[i]
            outs.append((1, code, off, n, col, v.in_slots[i]))
            self.grads.append((col, n, v._shapes[i], A[code].dtype))
            col += n
        self.outs = np.array(outs, np.int64).reshape(-1, 6)
        self.ncols_out = col
        self.roots = np.array([v.out], np.int64)
        code = engine._ONE_DTYPE.get(tape.codes)
        if code is None:
            self.entry, self.code = rows_two, 1
        else:  # (reverse1 also for an elementwise-only sweep: the kernels are the same)
            self.entry, self.code = rows_one, code
        self.rdtypes = [np.dtype(np.float32), np.dtype(np.float64)]

    def run(self, X, seeds, T):
        """Every row of X through the kernel, T threads each over its own range of rows
        in its own workspace: (OUT, ok)."""
        tape, B, v = self.v.tape, X.shape[0], self.v
        OUT = np.zeros((B, self.ncols_out), np.float64)
        ok = np.zeros(B, np.uint8)
        shared = (X, self.xin, self.guards, self.want, self.roots, seeds, self.outs, OUT, ok,
                  0, True)

        def chunk(t):
            W = [tape.A[c][:self.top[c]].copy() for c in (0, 1)]
            GW = [tape.G[c][:self.top[c]].copy() for c in (0, 1)]
            self.entry(tape.R, tape.S, tape.AUX.copy(), v.nrec, W[0], W[1],
                       W[0].view(np.int32), W[1].view(np.int64), GW[0], GW[1],
                       W[self.code], GW[self.code], tape.MARK.copy(), tape.LIST.copy(),
                       np.zeros_like(tape.BUF), *shared, t * B // T, (t + 1) * B // T)

        _threads(chunk, T, self.entry)
        return OUT, ok

    def unpack(self, OUT, B):
        """The kernel's flat rows as the call's structure, stacked (value, gradients)."""
        grads = [OUT[:, c:c + n].astype(dt).reshape((B,) + tuple(sh))
                 for c, n, sh, dt in self.grads]
        if not self.has_value:
            val = None
        elif self.vslot is None:
            val = (np.full(B, float(self.value)) if self.value.ndim == 0 else
                   np.repeat(self.value[None], B, axis=0))
        elif self.value.ndim == 0:
            val = OUT[:, 0].copy()
        else:
            val = OUT[:, :self.value.size].astype(self.vdtype).reshape(
                (B,) + self.value.shape)
        return val, grads


class _NotBatchable(Exception):
    pass


class _ScalarPlan:
    """A batch of a scalar program (tapegrad/func/_plan.py): `scalar_rows` on each
    thread's copies of the register files, the same calls as the one-by-one replays (the
    same bits). The interface of _Plan (run, unpack)."""

    def __init__(self, v, wrt):
        prog = self.prog = v.program
        self.v, self.wrt = v, wrt
        self.has_value = True
        self.value = v.value
        nbytes = prog.V.itemsize
        rows, want, w0 = [], [], 0
        for lo, m, bytes_, _ in prog.guards:
            rows.append((lo, m, w0))
            want.append(bytes_)
            w0 += m * nbytes
        self.guards = np.array(rows, np.int64).reshape(-1, 3)
        self.want = np.concatenate(want) if want else np.zeros(0, np.uint8)
        self.cols = []  # (column of OUT, size, shape) per argnum
        for i in wrt:
            lo, m = prog.ins[i]
            self.cols.append((1 + lo, m, v._shapes[i]))

    def run(self, X, seeds, T):
        from ._scalar import scalar_rows
        from ._calls import roll_due

        p, B = self.prog, X.shape[0]
        OUT = np.zeros((B, 1 + X.shape[1]), np.float64)
        ok = np.zeros(B, np.uint8)
        if p.when is not None:  # a program that may roll: the rows count as replays
            p.replays += B
            if p.replays >= p.when:
                roll_due(self.v, p)
        module = p.module
        if module is not None:  # rolled (tapegrad/func/_roll.py): its own rows loop
            def chunk(t):
                module.rows(p.F, p.FC, p.B, p.BC, p.V.copy(), p.G.copy(), X, p.out,
                            self.guards, self.want, OUT, ok, t * B // T, (t + 1) * B // T)
            entry = module.rows
        else:
            def chunk(t):
                scalar_rows(p.F, p.FC, p.B, p.BC, p.V.copy(), p.G.copy(), p.root, p.nclear,
                            X, p.out, self.guards, self.want, OUT, ok, t * B // T,
                            (t + 1) * B // T)
            entry = scalar_rows
        _threads(chunk, T, entry)
        return OUT, ok

    def unpack(self, OUT, B):
        dt = self.prog.V.dtype
        grads = [OUT[:, c:c + n].astype(dt).reshape((B,) + tuple(sh)) for c, n, sh in self.cols]
        val = OUT[:, 0].copy() if self.value.ndim == 0 else \
            OUT[:, :1].astype(dt).reshape((B,) + self.value.shape)
        return val, grads


def batch(c: Any, args: Sequence[Any], min_rows: Optional[int] = None) -> Any:
    """`c.batch(*args)` for a `Compiled` c: the call at each row of the arguments (all
    batched along their first axis), results stacked along a new first axis."""
    kind = c.kind
    if not args:
        raise TypeError(f"tapegrad.func.{kind}.batch: expected at least one batch of "
                        "arguments")
    arrays = [as_input(a, kind) for a in args]
    B = arrays[0].shape[0] if arrays[0].ndim else -1
    for a in arrays:
        if a.ndim == 0 or a.shape[0] != B:
            raise ValueError(f"tapegrad.func.{kind}.batch: every argument needs the same "
                             f"first (batch) dimension, got shapes "
                             f"{[tuple(x.shape) for x in arrays]}")
    if B == 0:
        return np.array([])
    if (min_rows if min_rows is not None else MIN_ROWS) <= B and kind in _KINDS:
        first = c(*(a[0] for a in arrays))  # records if needed
        plan = _plan_for(c, arrays)
        if plan is not None:
            return _batched(c, plan, arrays, first)
    return _stack([c(*(a[i] for a in arrays)) for i in range(B)])


def _plan_for(c, arrays):
    """The plan of the variant the next call would try first, or None (the loop)."""
    hot = c._hot
    if c._eager is not None or hot is None or engine._ANOMALY[0]:
        return None
    key, variants, wrt, nargs = hot
    if key != tuple((a.shape[1:], a.dtype.str) for a in arrays) or not variants:
        return None
    v = variants[0]
    if v.program is not None and c.kind in ("grad", "value_and_grad") and \
            v.tape not in engine._hooks.NONLEAF:  # a scalar program: its own rows kernel
        plan = _PLANS.get(v)
        if plan is None:
            plan = _PLANS[v] = _ScalarPlan(v, tuple(wrt))
        return plan if plan.wrt == tuple(wrt) else None
    if v.out is None or v._mark is None or v.python or v.tape in engine._hooks.NONLEAF \
            or v.tmode is not None:  # (a tangent-sweep jvp: the loop)
        return None
    if c.kind == "vjp" and arrays[-1][0].size != np.size(v.value):
        return None  # the loop's call raises the error
    plan = _PLANS.get(v)
    if plan is None and v not in _PLANS:
        try:
            plan = _Plan(v, c.kind, tuple(wrt))
        except _NotBatchable:
            plan = None
        _PLANS[v] = plan
    if plan is not None and plan.wrt != tuple(wrt):
        return None
    return plan


def _batched(c, plan, arrays, first):
    B = arrays[0].shape[0]
    if len(arrays) == 1 and arrays[0].dtype == np.float64:
        X = np.ascontiguousarray(arrays[0].reshape(B, -1))
    else:  # one row: every input's elements, in the order of the input slots
        X = np.concatenate([a.reshape(B, -1) for a in arrays], axis=1, dtype=np.float64)
    if c.kind == "vjp":  # the cotangent (the last argument, an input too) seeds the sweep
        seeds = np.ascontiguousarray(arrays[-1].reshape(B, -1), np.float64)
    else:
        seeds = np.zeros((B, 0))
    T = max(1, min(numba.get_num_threads(), B // ROWS_PER_THREAD))
    OUT, ok = plan.run(X, seeds, T)
    val, grads = plan.unpack(OUT, B)
    for i in np.flatnonzero(ok == 0):  # a guard failed there: the normal call answers
        _put(c.kind, c.single, val, grads, c(*(a[i] for a in arrays)), i)
    g = grads[0] if c.single or c.kind == "jvp" else tuple(grads)
    return g if c.kind in ("grad", "hvp") else (val, g)


def _put(kind, single, val, grads, res, i):
    if kind in ("grad", "hvp"):
        res = (None, res)
    v, g = res
    if v is not None:
        val[i] = v
    for k, gk in enumerate((g,) if single or kind == "jvp" else g):
        grads[k][i] = gk


def _stack(outs):
    """Stack a list of equal structures (arrays, floats, tuples of them) leafwise."""
    if isinstance(outs[0], tuple):
        return tuple(_stack(list(col)) for col in zip(*outs))
    return np.array(outs)
