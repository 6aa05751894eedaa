"""The compiled interpreter of a planned scalar program (tapegrad/func/_plan.py).

A scalar program is a recording whose records all compute one element: the forward part
is rows (kind, opcode, out, a, b) over a register file V, the reverse part rows (kind,
opcode, out, a, b, g_out, g_a, g_b) over adjoint registers G. Registers are plain
indices, no slot or offset lookups, and each row is 40 or 64 bytes, so a row costs a few
nanoseconds a direction. The element kernels are the engine's own (`unary_fwd1`, ...,
generated from the op table): the numbers are the eager sweep's, bit for bit.

The reverse rows take their adjoint register and zero it (`g = G[go]; G[go] = 0`), which
lets the planner reuse adjoint registers by liveness and leaves the whole file zero after
a call but for the inputs' adjoints (cleared at the next call's start) and the sink, the
register that gradients of inputs that need none are added to (never read).
"""

import numpy as np
from numba import njit

from ..tape import notice
from ..tape.dispatch import binary_fwd1, binary_vjp1, unary_fwd1, unary_vjp1

# the sweeps' stamp (tapegrad/tape/codegen.py rewrites it): a change of the op kernels
# changes this file, so Numba recompiles it instead of loading it with the old kernels
DISPATCH_STAMP = "3b7087ce86755972"

K_UNARY, K_BINARY, K_MOVE = 0, 1, 2  # row kinds (K_MOVE: out = a, a select or a copy)


@njit(cache=True, nogil=True, error_model="numpy")
def forward_rows(F, FC, V, lo, hi):
    """Forward rows lo..hi-1 of F (float parameters FC) over the register file V."""
    for k in range(lo, hi):
        kind, op, o, a = F[k, 0], F[k, 1], F[k, 2], F[k, 3]
        if kind == K_UNARY:
            V[o] = unary_fwd1(op, V[a], FC[k, 0], FC[k, 1])
        elif kind == K_BINARY:
            V[o] = binary_fwd1(op, V[a], V[F[k, 4]], FC[k, 0])
        else:
            V[o] = V[a]


@njit(cache=True, nogil=True, error_model="numpy")
def reverse_rows(B, BC, V, G, lo, hi):
    """Reverse rows lo..hi-1 of B (float parameters BC): each takes its adjoint register
    and zeroes it, then adds its terms into its inputs' adjoint registers."""
    for k in range(lo, hi):
        kind, op, go = B[k, 0], B[k, 1], B[k, 5]
        g = G[go]
        G[go] = 0
        if kind == K_UNARY:
            G[B[k, 6]] += unary_vjp1(op, V[B[k, 3]], V[B[k, 2]], g, BC[k, 0], BC[k, 1])
        elif kind == K_BINARY:
            da, db = binary_vjp1(op, V[B[k, 3]], V[B[k, 4]], V[B[k, 2]], g, BC[k, 0])
            G[B[k, 6]] += da
            G[B[k, 7]] += db
        else:
            G[B[k, 6]] += g


@njit(cache=True, error_model="numpy")
def scalar_replay(F, FC, B, BC, V, G, root, nclear):
    """Forward rows F (float parameters FC) over V, then the reverse rows B (BC) from the
    root's adjoint register `root` seeded by 1; G[:nclear] (the inputs' adjoints and the
    sink) is cleared first."""
    for i in range(nclear):
        G[i] = 0
    zero = nclear * 0  # (a literal 0 would compile copies of the row loops for it)
    forward_rows(F, FC, V, zero, F.shape[0])
    G[root] += 1.0
    reverse_rows(B, BC, V, G, zero, B.shape[0])


notice.watch(scalar_replay)


@njit(inline="always", error_model="numpy")
def row_in(V, X, r):
    """Row r of X (every input's elements, in the input registers' order) into V."""
    for j in range(X.shape[1]):
        V[j] = X[r, j]


@njit(inline="always", error_model="numpy")
def row_out(V, G, X, r, out, guards, want, OUT, ok):
    """OUT[r] = (the output, the inputs' adjoints) after row r's replay, and ok[r] = 1
    unless a guard (rows of `guards`: first register, count, offset into `want`, the
    expected bytes) came out otherwise."""
    Vb = V.view(np.uint8)
    size = V.itemsize
    good = 1
    for q in range(guards.shape[0]):
        g0, m, w0 = guards[q, 0], guards[q, 1], guards[q, 2]
        for b in range(m * size):
            if Vb[g0 * size + b] != want[w0 + b]:
                good = 0
    ok[r] = good
    OUT[r, 0] = V[out]
    for j in range(X.shape[1]):
        OUT[r, 1 + j] = G[j]


@njit(cache=True, nogil=True, error_model="numpy")
def scalar_rows(F, FC, B, BC, V, G, root, nclear, X, out, guards, want, OUT, ok, lo, hi):
    """Rows lo..hi-1 of X through `scalar_replay` on this thread's register files V and G
    (copies), see row_in and row_out. Without the GIL: one call per thread. (A rolled
    program's generated module has the same loop around its own replay: _roll.py.)"""
    for r in range(lo, hi):
        row_in(V, X, r)
        scalar_replay(F, FC, B, BC, V, G, root, nclear)
        row_out(V, G, X, r, out, guards, want, OUT, ok)


notice.watch(scalar_rows)
