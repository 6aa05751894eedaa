"""SciPy's L-BFGS-B on the Rosenbrock function, its gradient from tapegrad.func.

    fg = tapegrad.func.value_and_grad(rosen)    # records on the first call, replays after
    scipy.optimize.minimize(fg, x0, jac=True, method="L-BFGS-B")

The same minimization runs three ways: with the replayed gradient, with an eager one
(the function recorded and backpropagated on every call, as a PyTorch user writes it),
and with SciPy's finite differences (n + 1 function calls a gradient). It prints the
iterations, the gradient evaluations and the wall time of each.

Set TAPEGRAD_EXAMPLES_QUICK=1 for the small run CI does (n = 100 instead of 1,000).
"""
import os
import time

import numpy as np
import scipy.optimize

import tapegrad as tg


def rosen(x):
    return (100 * (x[1:] - x[:-1] ** 2) ** 2 + (1 - x[:-1]) ** 2).sum()


def eager_value_and_grad(x):
    t = tg.tensor(x, requires_grad=True)
    y = rosen(t)
    y.backward()
    return y.item(), t.grad.numpy()


def value_only(x):
    with tg.no_grad():
        return rosen(tg.tensor(x)).item()


n = 100 if os.environ.get("TAPEGRAD_EXAMPLES_QUICK") else 1000
x0 = np.zeros(n)
fg = tg.func.value_and_grad(rosen)
t0 = time.perf_counter()
fg(x0)  # the first call records (and loads the compiled forward sweep); later ones replay
print(f"first call of the replayed gradient (record + load): {time.perf_counter() - t0:.3f} s")
runs = [("tapegrad.func replay", fg, True), ("eager backward", eager_value_and_grad, True)]
if n <= 100:  # finite differences: n + 1 evaluations a gradient
    runs.append(("finite differences", value_only, False))
results = {}
scipy.optimize.minimize(fg, x0, jac=True, method="L-BFGS-B", options={"maxiter": 5})  # warm
for name, fun, jac in runs:
    t0 = time.perf_counter()
    res = scipy.optimize.minimize(fun, x0, jac=jac, method="L-BFGS-B",
                                  options={"maxiter": 10_000, "maxfun": 100_000})
    seconds = time.perf_counter() - t0
    results[name] = res
    print(f"{name:22s} n={n}: {res.nit:5d} iterations, {res.nfev:6d} evaluations, "
          f"{seconds:7.3f} s, f = {res.fun:.3e}, |x - 1|max = {np.abs(res.x - 1).max():.1e}")
assert results["tapegrad.func replay"].success
np.testing.assert_allclose(results["tapegrad.func replay"].x, results["eager backward"].x,
                           rtol=1e-10, atol=1e-10)  # the same gradients, the same path
print(f"replay recordings: {fg.variants}; the recorded program:")
print("\n".join(str(fg.tape).splitlines()[-3:]))
