"""One compiled call for a whole replay of a one-dtype tape: the forward sweep with the
new inputs, the marking pass and the reverse sweep, with no Python in between (the
sequence from Python costs about 2 us more a call, which is most of a small function's
replay). It calls the tape's own sweep entry points, so it adds only its own few lines to
compile (once per dtype, a few seconds, then cached)."""

from numba import njit

from ..tape import notice
from ..tape.records import OK
from ..tape.sweep import forward, mark, reverse1

# the sweeps' stamp (tapegrad/tape/codegen.py rewrites it): a change of the sweeps changes
# this file, so Numba recompiles replay1 instead of loading it with the old sweeps inside
DISPATCH_STAMP = "3b7087ce86755972"


@njit(cache=True, error_model="numpy")
def replay1(RF, R, S, AUX, A32, A64, A, G, G32, G64, MARK, LIST, BUF, roots, seed, nrec):
    """Forward sweep over the records RF[:nrec] (the planned ones: R's records that reach
    an output, in order), then the reverse sweep from `roots` seeded by
    `seed` (ones when empty), keeping the records (retain_graph). A and G are the value
    and adjoint arenas of the tape's one dtype (A32 or A64, G32 or G64). Returns the
    reverse sweep's (status, count, 0, top), or mark's error (status, record, slot, top)."""
    forward(RF, S, AUX, A32, A64, 0, nrec)
    status, fams, b, top, bottom = mark(R, S, AUX, G32, G64, MARK, LIST, roots, seed)
    if status != OK:
        return status, fams, b, top
    return reverse1(R, S, AUX, A, G, MARK, LIST, BUF, top, bottom, top, True)


notice.watch(replay1)
