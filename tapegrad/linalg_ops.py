"""torch.linalg's functions: inv, det, slogdet, solve, cholesky, qr, eigh, svd (and svdvals,
eigvalsh), the norms, and the top-level inverse / det / logdet / slogdet / cholesky / qr / svd.

Each decomposition or inverse is an autograd.Function: its forward is NumPy's (LAPACK) and
its backward is written in tapegrad ops. A plain backward evaluates that formula on the
forward's NumPy results; while the backward is itself recorded (create_graph=True), the
outputs the formula needs are recomputed through the Function again, so the gradient is
differentiable again (a Function's saved outputs carry no graph in tapegrad). The norms are
composites of recorded reductions (and of svd for the spectral and nuclear norms).
"""

import numpy as np

from .autograd.function import Function
from .autograd.grad_mode import is_grad_enabled
from .composite import tril
from .recorder import check_tensor
from .tensor import Tensor, _from_array


class LinAlgError(RuntimeError):
    """A linear algebra routine failed on its input (singular or not positive-definite)."""


# its type prints as PyTorch's does (torch.linalg.LinAlgError is a class named _LinAlgError);
# the alias keeps it picklable under that name
LinAlgError.__name__ = LinAlgError.__qualname__ = "_LinAlgError"
_LinAlgError = LinAlgError


def _result(name: str, fields: tuple):
    """A tuple type with named fields, as torch.return_types.<name>."""
    def rep(self):
        inner = ",\n".join(f"{f}={v!r}" for f, v in zip(fields, self))
        return f"torch.return_types.{name}(\n{inner})"

    attrs = {f: property(lambda self, i=i: self[i]) for i, f in enumerate(fields)}
    return type(name, (tuple,), dict(attrs, __repr__=rep, __slots__=(), _fields=fields))


_EighResult = _result("linalg_eigh", ("eigenvalues", "eigenvectors"))
_SvdResult = _result("linalg_svd", ("U", "S", "Vh"))
_OldSvdResult = _result("svd", ("U", "S", "V"))
_QrResult = _result("linalg_qr", ("Q", "R"))
_SlogdetResult = _result("linalg_slogdet", ("sign", "logabsdet"))


def _t(a, dt) -> Tensor:
    return _from_array(np.array(a, dt.np, order="C"), dt, False)


def _mT(x: Tensor) -> Tensor:
    return x.transpose(-2, -1)


def _eye_like(x: Tensor) -> Tensor:
    return _t(np.eye(x._shape[-1]), x._dtype)


def _square(A, op: str, square: bool = True) -> None:
    check_tensor(A, op, "A")
    if not A._dtype.is_floating_point:
        raise RuntimeError(f"{op}: Expected a floating point or complex tensor as input. Got "
                           f"{A._dtype.legacy}")
    if A.ndim < 2:
        raise RuntimeError(f"{op}: The input tensor A must have at least 2 dimensions.")
    if square and A._shape[-1] != A._shape[-2]:
        raise RuntimeError(f"{op}: A must be batches of square matrices, but they are "
                           f"{A._shape[-2]} by {A._shape[-1]} matrices")


def _np(op: str, fn, *args, why="the input matrix is singular"):
    try:
        return fn(*args)
    except np.linalg.LinAlgError:
        raise LinAlgError(f"{op}: The operation could not be completed because {why}.") from None


def _outs(ctx, fn, *args) -> tuple:
    """The forward's outputs for the backward formula: recomputed through the Function when
    the backward is recorded (create_graph), else the forward's values as constants."""
    if is_grad_enabled():
        r = fn.apply(*args)
        return tuple(r) if isinstance(r, tuple) else (r,)
    return tuple(_t(a, ctx.dt) for a in ctx.arrays)


class _Inv(Function):
    @staticmethod
    def forward(ctx, A):
        ctx.dt, ctx.arrays = A._dtype, (_np("linalg.inv", np.linalg.inv, A._value()),)
        ctx.save_for_backward(A)
        return _t(ctx.arrays[0], A._dtype)

    @staticmethod
    def backward(ctx, g):
        (Y,) = _outs(ctx, _Inv, *ctx.saved_tensors)
        return -(_mT(Y) @ g @ _mT(Y))


def _inv_of(A: Tensor) -> Tensor:
    """inv(A) inside a backward: recorded when create_graph, else a constant."""
    if is_grad_enabled():
        return _Inv.apply(A)
    return _t(_np("linalg.inv", np.linalg.inv, A._value()), A._dtype)


def _cofactor(a: np.ndarray) -> np.ndarray:
    """adj(A)^T, also for singular A (from the SVD: adj(A) = det(U V^T) V adj(S) U^T)."""
    u, s, vh = np.linalg.svd(a)
    n = s.shape[-1]
    prods = np.stack([np.prod(np.delete(s, i, axis=-1), axis=-1) for i in range(n)], -1)
    sgn = np.linalg.det(u) * np.linalg.det(vh)
    adj = np.swapaxes(vh, -1, -2) @ (prods[..., :, None] * np.swapaxes(u, -1, -2))
    return np.swapaxes(adj, -1, -2) * sgn[..., None, None]


class _Det(Function):
    @staticmethod
    def forward(ctx, A):
        ctx.save_for_backward(A)
        return _t(np.linalg.det(A._value()), A._dtype)

    @staticmethod
    def backward(ctx, g):
        (A,) = ctx.saved_tensors
        if is_grad_enabled():
            return (g * _Det.apply(A)).unsqueeze(-1).unsqueeze(-1) * _mT(_Inv.apply(A))
        return g.unsqueeze(-1).unsqueeze(-1) * _t(_cofactor(A._value()), A._dtype)


class _Slogdet(Function):
    @staticmethod
    def forward(ctx, A):
        ctx.save_for_backward(A)
        s, l = np.linalg.slogdet(A._value())
        sign = _t(s, A._dtype)
        ctx.mark_non_differentiable(sign)
        return sign, _t(l, A._dtype)

    @staticmethod
    def backward(ctx, g_sign, g):
        (A,) = ctx.saved_tensors
        return g.unsqueeze(-1).unsqueeze(-1) * _mT(_inv_of(A))


class _Solve(Function):  # A (..., n, n), B (..., n, k), batch dims equal
    @staticmethod
    def forward(ctx, A, B):
        ctx.dt = A._dtype
        ctx.arrays = (_np("linalg.solve", np.linalg.solve, A._value(), B._value(),
                          why="the input matrix is singular"),)
        ctx.save_for_backward(A, B)
        return _t(ctx.arrays[0], A._dtype)

    @staticmethod
    def backward(ctx, g):
        A, B = ctx.saved_tensors
        (X,) = _outs(ctx, _Solve, A, B)
        gB = _Solve.apply(_mT(A), g) if is_grad_enabled() else _t(
            np.linalg.solve(np.swapaxes(A._value(), -1, -2), g._value()), A._dtype)
        return -(gB @ _mT(X)), gB


class _Cholesky(Function):
    @staticmethod
    def forward(ctx, A):
        a = A._value()
        try:
            L = np.linalg.cholesky(a)
        except np.linalg.LinAlgError:
            k = next((k for k in range(1, a.shape[-1] + 1)
                      if np.any(np.linalg.eigvalsh(a[..., :k, :k]) <= 0)), a.shape[-1])
            raise LinAlgError(f"linalg.cholesky: The factorization could not be completed "
                              f"because the input is not positive-definite (the leading minor "
                              f"of order {k} is not positive-definite).") from None
        ctx.dt, ctx.arrays = A._dtype, (L,)
        ctx.save_for_backward(A)
        return _t(L, A._dtype)

    @staticmethod
    def backward(ctx, g):
        (L,) = _outs(ctx, _Cholesky, *ctx.saved_tensors)
        P = _mT(L) @ tril(g)
        P = tril(P) - 0.5 * P * _eye_like(P)  # the lower triangle, diagonal halved
        Linv = _inv_of(L)
        S = _mT(Linv) @ P @ Linv
        return 0.5 * (S + _mT(S))


class _Eigh(Function):
    @staticmethod
    def forward(ctx, A, uplo):
        w, v = np.linalg.eigh(A._value(), UPLO=uplo)
        ctx.dt, ctx.arrays, ctx.uplo = A._dtype, (w, v), uplo
        ctx.save_for_backward(A)
        return _t(w, A._dtype), _t(v, A._dtype)

    @staticmethod
    def backward(ctx, gL, gV):
        (A,) = ctx.saved_tensors
        L, V = _outs(ctx, _Eigh, A, ctx.uplo)
        inner = gL.unsqueeze(-1) * _eye_like(V)
        if gV is not None:
            off = _t(1.0 - np.eye(V._shape[-1]), V._dtype)
            E = (L.unsqueeze(-2) - L.unsqueeze(-1)) + (1.0 - off)  # L_j - L_i; 1 on the diagonal
            inner = inner + (_mT(V) @ gV) / E * off
        gA = V @ inner @ _mT(V)
        return 0.5 * (gA + _mT(gA)), None  # the symmetric part, as PyTorch


class _Svd(Function):  # the reduced SVD
    @staticmethod
    def forward(ctx, A):
        u, s, vh = _np("linalg.svd", np.linalg.svd, A._value(), False,
                       why="the SVD did not converge")
        ctx.dt, ctx.arrays = A._dtype, (u, s, vh)
        ctx.save_for_backward(A)
        return _t(u, A._dtype), _t(s, A._dtype), _t(vh, A._dtype)

    @staticmethod
    def backward(ctx, gU, gS, gVh):
        (A,) = ctx.saved_tensors
        U, S, Vh = _outs(ctx, _Svd, A)
        V, gV = _mT(Vh), _mT(gVh)
        k = S._shape[-1]
        off = _t(1.0 - np.eye(k), A._dtype)
        s2 = S * S
        F = off / ((s2.unsqueeze(-2) - s2.unsqueeze(-1)) + (1.0 - off))  # 1/(s_j^2 - s_i^2)
        J = F * (_mT(U) @ gU)
        K = F * (_mT(V) @ gV)
        Sd = S.unsqueeze(-2)  # right-multiplying by diag(S) scales columns
        inner = (J + _mT(J)) * Sd + gS.unsqueeze(-1) * _eye_like(F) + \
            S.unsqueeze(-1) * (K + _mT(K))
        gA = U @ inner @ Vh
        m, n = A._shape[-2:]
        if m > k:  # (I - U U^T) gU S^-1 V^T
            gA = gA + (gU - U @ (_mT(U) @ gU)) / Sd @ Vh
        if n > k:  # U S^-1 gV^T (I - V V^T)
            gA = gA + (U / Sd) @ (_mT(gV) - (_mT(gV) @ V) @ Vh)
        return gA


class _Qr(Function):  # reduced QR of an m x n matrix, m >= n
    @staticmethod
    def forward(ctx, A):
        q, r = np.linalg.qr(A._value(), mode="reduced")
        ctx.dt, ctx.arrays = A._dtype, (q, r)
        ctx.save_for_backward(A)
        return _t(q, A._dtype), _t(r, A._dtype)

    @staticmethod
    def backward(ctx, gQ, gR):
        (A,) = ctx.saved_tensors
        Q, R = _outs(ctx, _Qr, A)
        M = R @ _mT(gR) - _mT(gQ) @ Q
        b = gQ + Q @ (tril(M) + _mT(tril(M, -1)))
        RinvT = _mT(_inv_of(R))
        return b @ RinvT


class _NoGrad(Function):
    """Outputs computed elsewhere whose derivative tapegrad (as PyTorch) does not define."""

    @staticmethod
    def forward(ctx, A, outs, why):
        ctx.why = why
        return outs

    @staticmethod
    def backward(ctx, *grads):
        raise RuntimeError(ctx.why)


# ---- public functions ---------------------------------------------------------------------
def inv(A: Tensor) -> Tensor:
    """The inverse of each square matrix of A (..., n, n); LinAlgError if one is singular."""
    _square(A, "linalg.inv")
    return _Inv.apply(A)


def det(A: Tensor) -> Tensor:
    """The determinant of each square matrix of A (gradient also at singular matrices)."""
    _square(A, "linalg.det")
    return _Det.apply(A)


def slogdet(A: Tensor) -> tuple[Tensor, Tensor]:
    """(sign, logabsdet) of the determinant of each square matrix of A."""
    _square(A, "linalg.slogdet")
    return _SlogdetResult(_Slogdet.apply(A))


def logdet(A: Tensor) -> Tensor:
    """log(det(A)): nan where det(A) < 0, -inf where it is 0."""
    from .selection import where

    _square(A, "logdet")
    s, l = slogdet(A)
    return where(s < 0, _t(np.nan, A._dtype), l)


def solve(A: Tensor, B: Tensor, *, left: bool = True) -> Tensor:
    """X with A X = B (X A = B with left=False); B is (..., n, k) or a vector (n,) or
    (..., n); batch dims broadcast."""
    _square(A, "linalg.solve")
    check_tensor(B, "linalg.solve", "B")
    if B._dtype is not A._dtype:
        raise RuntimeError(f"linalg.solve: Expected A and B to have the same dtype, but found "
                           f"A of type {A._dtype.legacy} and B of type {B._dtype.legacy} instead")
    if not left:
        return _mT(solve(_mT(A), _mT(B)))
    n = A._shape[-1]
    vec = B.ndim == 1 or (B.ndim == A.ndim - 1 and B._shape == A._shape[:-1])
    Bm = B.unsqueeze(-1) if vec else B
    if Bm._shape[-2] != n:
        raise RuntimeError(f"linalg.solve: Incompatible shapes of A and B for the equation "
                           f"AX = B ({A._shape[-2]}x{n} and {Bm._shape[-2]}x{Bm._shape[-1]})")
    batch = tuple(np.broadcast_shapes(A._shape[:-2], Bm._shape[:-2]))
    if A._shape[:-2] != batch:
        A = A.expand(*(batch + A._shape[-2:]))
    if Bm._shape[:-2] != batch:
        Bm = Bm.expand(*(batch + Bm._shape[-2:]))
    X = _Solve.apply(A, Bm)
    if not vec:
        return X
    from .nn._grad_fn import show  # one LinalgSolveExBackward0 node, as for a matrix B

    return show(X.squeeze(-1), "LinalgSolveExBackward0", A, B)


def cholesky(A: Tensor, *, upper: bool = False) -> Tensor:
    """Lower-triangular L with A = L L^T (upper=True: L^T) for symmetric positive-definite A;
    LinAlgError otherwise."""
    _square(A, "linalg.cholesky")
    L = _Cholesky.apply(A)
    return _mT(L) if upper else L


def qr(A: Tensor, mode: str = "reduced") -> tuple[Tensor, Tensor]:
    """(Q, R) with A = Q R, Q orthonormal columns, R upper triangular; mode 'reduced',
    'complete' or 'r' (Q empty)."""
    _square(A, "linalg.qr", square=False)
    if mode not in ("reduced", "complete", "r"):
        raise RuntimeError(f"qr received unrecognized mode '{mode}' but expected one of "
                           f"'reduced' (default), 'r', or 'complete'")
    m, n = A._shape[-2:]
    if mode == "complete" and m > n:
        q, r = np.linalg.qr(A._value(), mode="complete")
        q, r = _t(q, A._dtype), _t(r, A._dtype)
        if A.requires_grad and is_grad_enabled():
            q, r = _NoGrad.apply(A, (q, r), "The QR decomposition is not differentiable when "
                                 "mode='complete' and nrows > ncols.")
        return _QrResult((q, r))
    if m >= n:
        Q, R = _Qr.apply(A)
    else:  # A = [X | Y]: X = Q RX, and R = [RX | Q^T Y]
        from .movement import cat

        Q, RX = _Qr.apply(A[..., :, :m])
        R = cat([RX, _mT(Q) @ A[..., :, m:]], -1)
    if mode == "r":
        Q = _t(np.zeros((0,)), A._dtype)
    return _QrResult((Q, R))


def eigh(A: Tensor, UPLO: str = "L") -> tuple[Tensor, Tensor]:
    """(eigenvalues ascending, eigenvectors as columns) of each symmetric matrix of A, read
    from its lower (UPLO='L') or upper triangle."""
    _square(A, "linalg.eigh")
    if UPLO not in ("L", "U"):
        raise RuntimeError(f"Expected UPLO argument to be 'L' or 'U', but got {UPLO}")
    return _EighResult(_Eigh.apply(A, UPLO))


def eigvalsh(A: Tensor, UPLO: str = "L") -> Tensor:
    """The eigenvalues (ascending) of each symmetric matrix of A."""
    return eigh(A, UPLO)[0]


def svd(A: Tensor, full_matrices: bool = True, *,
        driver: str | None = None) -> tuple[Tensor, Tensor, Tensor]:
    """(U, S, Vh) with A = U diag(S) Vh, S descending. With full_matrices (the default) and
    a non-square A, U or Vh get extra columns/rows completing a basis; gradients through
    those are ignored (as PyTorch)."""
    _square(A, "linalg.svd", square=False)
    U, S, Vh = _Svd.apply(A)
    m, n = A._shape[-2:]
    if full_matrices and m != n:
        from .movement import cat

        u, _, vh = np.linalg.svd(A._value(), full_matrices=True)
        k = min(m, n)
        if m > k:
            U = cat([U, _t(u[..., :, k:], A._dtype)], -1)
        if n > k:
            Vh = cat([Vh, _t(vh[..., k:, :], A._dtype)], -2)
    return _SvdResult((U, S, Vh))


def svdvals(A: Tensor) -> Tensor:
    """The singular values of each matrix of A, descending."""
    return svd(A, full_matrices=False)[1]


def _torch_svd(input: Tensor, some: bool = True,
               compute_uv: bool = True) -> tuple[Tensor, Tensor, Tensor]:
    """torch.svd: (U, S, V) with input = U diag(S) V^T (reduced unless some=False)."""
    U, S, Vh = svd(input, full_matrices=not some)
    if not compute_uv:
        z = np.zeros(U._shape, input._dtype.np)
        return _OldSvdResult((_t(z, input._dtype), S, _t(np.zeros(Vh._shape), input._dtype)))
    return _OldSvdResult((U, S, _mT(Vh)))


def _torch_qr(input: Tensor, some: bool = True) -> tuple[Tensor, Tensor]:

    """torch.qr: (Q, R), reduced unless some=False."""
    return qr(input, "reduced" if some else "complete")


def _torch_cholesky(input: Tensor, upper: bool = False) -> Tensor:
    """torch.cholesky: L (or L^T with upper=True)."""
    return cholesky(input, upper=upper)


from ._norms import matrix_norm, norm, vector_norm  # noqa: E402

__all__ = ["LinAlgError", "cholesky", "det", "eigh", "eigvalsh", "inv", "matrix_norm", "norm",
           "qr", "slogdet", "solve", "svd", "svdvals", "vector_norm"]
TOP_LEVEL = {"inverse": inv, "det": det, "logdet": logdet, "slogdet": slogdet,
             "cholesky": _torch_cholesky, "qr": _torch_qr, "svd": _torch_svd}


for _cls, _name in ((_Inv, "LinalgInvExBackward0"), (_Det, "LinalgDetBackward0"),
                    (_Slogdet, "LinalgSlogdetBackward0"), (_Solve, "LinalgSolveExBackward0"),
                    (_Cholesky, "LinalgCholeskyExBackward0"), (_Eigh, "LinalgEighBackward0"),
                    (_Svd, "LinalgSvdBackward0"), (_Qr, "LinalgQrBackward0"),
                    (_NoGrad, "LinalgQrBackward0")):
    _cls._backward_cls.__name__ = _cls._backward_cls.__qualname__ = _name
    _cls._backward_cls._native = True  # (printed as PyTorch's own nodes, without a module)


def _bind() -> None:
    for name, fn in TOP_LEVEL.items():
        setattr(Tensor, name, fn)


_bind()
