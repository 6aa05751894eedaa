"""Newton's method with a replayed gradient and Hessian (tapegrad.func).

The chained Rosenbrock function of n variables is minimized from x0 = 0 by Newton steps
x <- x - (H(x) + s I)^-1 g(x), with s >= 0 the smallest shift (of a doubling sequence)
that makes the matrix positive definite, and a backtracking line search. The gradient is
`tapegrad.func.value_and_grad(f)` and the Hessian `tapegrad.func.hessian(f)`: each
records f once (the Hessian: f and its backward, with create_graph) and replays it at
every iterate, one compiled forward sweep and n reverse sweeps for the Hessian's rows.
Prints the iterates' f and |g|; converges quadratically to x = (1, ..., 1).

Set TAPEGRAD_EXAMPLES_QUICK=1 for the small run CI does (n = 6 instead of 20).
"""
import os

import numpy as np

import tapegrad as tg


def f(x):
    return (100 * (x[1:] - x[:-1] ** 2) ** 2 + (1 - x[:-1]) ** 2).sum()


n = 6 if os.environ.get("TAPEGRAD_EXAMPLES_QUICK") else 20
hessian = tg.func.hessian(f)
value = tg.func.value_and_grad(f)
x = np.zeros(n)
for it in range(100):
    fx, g = value(x)
    if np.linalg.norm(g) < 1e-10:
        break
    H = hessian(x)
    shift = 0.0  # H + shift I made positive definite (a Newton step that descends)
    while True:
        try:
            L = np.linalg.cholesky(H + shift * np.eye(n))
            break
        except np.linalg.LinAlgError:
            shift = max(2 * shift, 1e-3 * np.abs(H).max())
    step = -np.linalg.solve(L.T, np.linalg.solve(L, g))
    t = 1.0
    while value(x + t * step)[0] > fx + 1e-4 * t * (step @ g) and t > 1e-12:
        t *= 0.5
    x = x + t * step
    print(f"iteration {it + 1:2d}: f = {fx:.3e}, |grad| = {np.linalg.norm(g):.3e}, step {t:g}")
print(f"converged after {it} Newton steps to max|x - 1| = {np.abs(x - 1).max():.1e}")
print(f"recordings: gradient {value.variants}, Hessian {hessian.variants} "
      f"(every other call was a replay)")
assert np.abs(x - 1).max() < 1e-8
