"""Finite-difference checks shared by the nn.functional and loss tests (float64)."""

import numpy as np

import tapegrad as tg


def t64(a, rg=False):
    return tg.tensor(np.asarray(a, np.float64), dtype=tg.float64, requires_grad=rg)


def fd_check(f, arrays, eps=1e-6, rtol=1e-5, atol=1e-7, seed=0):
    """The recorded VJP of f at float64 `arrays` against central differences of the same
    function evaluated without grad (NumPy paths)."""
    ts = [t64(a, True) for a in arrays]
    out = f(*ts)
    v = np.random.default_rng(seed).standard_normal(out.shape)
    (out * t64(v)).sum().backward()
    for i, a in enumerate(arrays):
        num = np.zeros_like(a, dtype=np.float64)
        for j in np.ndindex(a.shape):
            vals = []
            for s in (eps, -eps):
                b = np.array(a, np.float64)
                b[j] += s
                args = [t64(b if k == i else arrays[k]) for k in range(len(arrays))]
                vals.append((f(*args).numpy() * v).sum())
            num[j] = (vals[0] - vals[1]) / (2 * eps)
        np.testing.assert_allclose(ts[i].grad.numpy(), num, rtol=rtol, atol=atol)
    return out
