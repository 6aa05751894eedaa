"""Arena views and arguments that cost no reference counting.

Compiled code counts references to array memory with atomic updates: a slice
`A[p:p + n]` increments A's count when it is made and decrements it when it dies, and a
compiled function increments each array argument it receives and decrements it on
return. Numba removes such pairs only where it sees both in simple enough code; across
the sweeps' calls (record -> family kernel -> op loop, each taking R, S, AUX, A, G) it
mostly cannot, and each pair costs some 25 ns on a 2-core EPYC, more than the loop over
a 32-element record. Measured with perf, the counts were half of a small RNN's replay
(hidden 32, 100 steps: 345 -> 139 us once gone).

- `unref(A)` is the same array without its reference (a null meminfo, which the counting
  skips): every entry point of the sweeps (tapegrad/tape/sweep.py, tangent.py) applies it
  to its array arguments, so nothing under it counts. Those arrays are the tape's tables
  and arenas, which Python holds for the whole call.
- `span(A, p, n)` and `span2(A, p, m, k)` build the C-contiguous views A[p:p + n] and
  A[p:p + m*k].reshape((m, k)) the kernels loop over, with no reference either.

None of these may be returned to Python or stored: they do not keep their memory alive.
Loops over them vectorize as loops over slices do (range indices from zero, a contiguous
layout known to Numba).
"""

from numba import types
from numba.core import cgutils
from numba.extending import intrinsic


def _view(context, builder, aty, rty, arr, start, dims):
    ary = context.make_array(aty)(context, builder, value=arr)
    out = context.make_array(rty)(context, builder)
    itemsize = context.get_abi_sizeof(context.get_data_type(aty.dtype))
    intp = context.get_value_type(types.intp)
    dims = [builder.sext(d, intp) if d.type.width < intp.width else d for d in dims]
    start = builder.sext(start, intp) if start.type.width < intp.width else start
    strides, step = [], context.get_constant(types.intp, itemsize)
    for d in reversed(dims):
        strides.insert(0, step)
        step = builder.mul(step, d)
    context.populate_array(out, data=builder.gep(ary.data, [start]),
                           shape=cgutils.pack_array(builder, dims),
                           strides=cgutils.pack_array(builder, strides),
                           itemsize=context.get_constant(types.intp, itemsize),
                           meminfo=None)
    return out._getvalue()


def _check(arr, *ints):
    return isinstance(arr, types.Array) and arr.ndim == 1 and \
        all(isinstance(i, types.Integer) for i in ints)


@intrinsic
def span(typingctx, arr, start, n):
    """arr[start:start + n] of a contiguous 1-D array, as a view without a reference."""
    if not _check(arr, start, n):
        return None
    rty = types.Array(arr.dtype, 1, "C")

    def codegen(context, builder, sig, args):
        return _view(context, builder, sig.args[0], sig.return_type, args[0], args[1],
                     [args[2]])
    return rty(arr, start, n), codegen


@intrinsic
def span2(typingctx, arr, start, m, k):
    """arr[start:start + m*k].reshape((m, k)) of a contiguous 1-D array, as a view
    without a reference."""
    if not _check(arr, start, m, k):
        return None
    rty = types.Array(arr.dtype, 2, "C")

    def codegen(context, builder, sig, args):
        return _view(context, builder, sig.args[0], sig.return_type, args[0], args[1],
                     [args[2], args[3]])
    return rty(arr, start, m, k), codegen


@intrinsic
def unref(typingctx, arr):
    """The same array without its reference (a null meminfo): views of it and calls that
    take it then skip the atomic reference counting. Only for an array that outlives the
    compiled call (an argument from Python) and never for one handed back."""
    if not isinstance(arr, types.Array):
        return None

    def codegen(context, builder, sig, args):
        ary = context.make_array(sig.args[0])(context, builder, value=args[0])
        out = context.make_array(sig.return_type)(context, builder)
        context.populate_array(out, data=ary.data, shape=ary.shape, strides=ary.strides,
                               itemsize=ary.itemsize, meminfo=None)
        return out._getvalue()
    return arr(arr), codegen
