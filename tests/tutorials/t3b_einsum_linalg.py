# einsum, batched matmul and torch.linalg, with gradients through a few of them.
# (torch.linalg.lstsq is left out: tapegrad does not have it yet.)
import numpy as np
import torch


def show(e):
    """An exception's type and the first line of its message, up to any added detail."""
    print(type(e).__name__ + ":", str(e).splitlines()[0].split(" (")[0])


rng = np.random.default_rng(5)


def t(*shape, dtype=torch.float32):
    return torch.tensor(rng.standard_normal(shape), dtype=dtype)


print("---- einsum")
A, Bm = t(3, 4), t(4, 2)
print(torch.einsum("ij,jk->ik", A, Bm),
      torch.allclose(torch.einsum("ij,jk->ik", A, Bm), A @ Bm, atol=1e-6))
X, Y = t(2, 3, 4), t(2, 4, 5)
print(torch.einsum("bij,bjk->bik", X, Y).shape,
      torch.allclose(torch.einsum("bij,bjk->bik", X, Y), torch.bmm(X, Y), atol=1e-6))
S = t(4, 4)
print(torch.einsum("ii->", S), torch.trace(S), torch.einsum("ii->i", S), S.diagonal())
u, w = torch.tensor([1.0, 2.0, 3.0]), torch.tensor([1.0, -1.0])
print(torch.einsum("i,j->ij", u, w), torch.outer(u, w).equal(torch.einsum("i,j->ij", u, w)))
q, k = t(2, 2, 3, 4), t(2, 2, 5, 4)
sc = torch.einsum("bhqd,bhkd->bhqk", q, k)
print(sc.shape, torch.allclose(sc, q @ k.transpose(-1, -2), atol=1e-5), sc[1, 0, 2])
print(torch.einsum("ij->ji", A).shape, torch.einsum("ij->", A), torch.einsum("ij,ij->i", A, A))
print(torch.einsum("i,i->", u, u), torch.einsum("...ij,...jk->...ik", X, Y).shape,
      torch.einsum("bij->bj", X)[0])
print(torch.einsum("ij,kj->ik", [A, A]).shape, torch.einsum("i j, j k -> i k", A, Bm).shape)
try:
    torch.einsum("ij,jk->ik", A, A)
except RuntimeError as e:
    show(e)

print("---- matmul and friends")
print(torch.matmul(t(2, 1, 3, 4), t(5, 4, 2)).shape, torch.matmul(t(3), t(3, 2)).shape,
      torch.matmul(t(2, 3, 4), t(4)).shape)
print((t(4) @ t(4)).shape, torch.mm(A, Bm).shape, torch.mv(A, t(4)).shape, torch.dot(u, u))
print(torch.bmm(X, Y)[1, 0], torch.outer(torch.arange(3), torch.arange(2)))
print(torch.kron(torch.eye(2), torch.tensor([[1.0, 2.0], [3.0, 4.0]])),
      torch.tensordot(A, Bm, dims=1).shape)
try:
    torch.bmm(X, t(3, 4, 5))
except RuntimeError as e:
    show(e)
try:
    A @ A
except RuntimeError as e:
    show(e)

print("---- linalg")
M = torch.tensor([[4.0, 1.0, 0.5], [1.0, 3.0, 0.2], [0.5, 0.2, 2.0]], dtype=torch.float64)
b = torch.tensor([1.0, 2.0, 3.0], dtype=torch.float64)
print(torch.linalg.norm(M), torch.linalg.norm(b), torch.linalg.norm(b, ord=1),
      torch.linalg.norm(M, ord="fro"))
print(torch.linalg.norm(M, dim=1), torch.linalg.vector_norm(b, ord=float("inf")),
      torch.linalg.matrix_norm(M, ord=1))
x = torch.linalg.solve(M, b)
print(x, torch.allclose(M @ x, b))
print(torch.linalg.solve(M, torch.eye(3, dtype=torch.float64)).diagonal())
Minv = torch.linalg.inv(M)
print(Minv, torch.allclose(Minv @ M, torch.eye(3, dtype=torch.float64)), torch.inverse(M)[0, 0])
print(torch.det(M), torch.linalg.det(M), torch.logdet(M), torch.linalg.slogdet(M))
L = torch.linalg.cholesky(M)
print(L, torch.allclose(L @ L.T, M), torch.cholesky(M)[2])
Q, R = torch.linalg.qr(M)
print(Q, R, torch.allclose(Q @ R, M))
Q2, R2 = torch.linalg.qr(t(4, 3, dtype=torch.float64))
print(Q2.shape, R2.shape, torch.allclose(Q2.T @ Q2, torch.eye(3, dtype=torch.float64)))
U, Sv, Vh = torch.linalg.svd(M)
print(Sv, torch.linalg.svdvals(M), torch.allclose(U @ torch.diag(Sv) @ Vh, M))
U2, S2, Vh2 = torch.linalg.svd(t(4, 3), full_matrices=False)
print(U2.shape, S2, Vh2.shape)
ev, V = torch.linalg.eigh(M)
print(ev, torch.linalg.eigvalsh(M), torch.allclose(V @ torch.diag(ev) @ V.T, M))
Bt = t(2, 3, 3, dtype=torch.float64) + 3 * torch.eye(3, dtype=torch.float64)
print(torch.linalg.det(Bt), torch.linalg.inv(Bt).shape,
      torch.linalg.solve(Bt, torch.ones(2, 3, 1, dtype=torch.float64))[..., 0])
try:
    torch.linalg.cholesky(torch.tensor([[1.0, 2.0], [2.0, 1.0]]))
except torch.linalg.LinAlgError as e:
    show(e)
try:
    torch.linalg.inv(torch.tensor([[1.0, 2.0], [2.0, 4.0]]))
except RuntimeError as e:
    print(type(e).__name__, isinstance(e, torch.linalg.LinAlgError))
try:
    torch.linalg.solve(M, torch.ones(4, dtype=torch.float64))
except RuntimeError as e:
    print(type(e).__name__)

print("---- gradients")
P = M.clone().requires_grad_()
ld = torch.logdet(P)
ld.backward()
print(ld, ld.grad_fn, P.grad, torch.allclose(P.grad, torch.linalg.inv(M).T))
P.grad = None
sol = torch.linalg.solve(P, b)
(sol ** 2).sum().backward()
print(sol.grad_fn, P.grad)
P.grad = None
torch.linalg.det(P).backward()
print(P.grad, torch.allclose(P.grad, torch.det(M) * torch.linalg.inv(M).T))
P.grad = None
torch.linalg.inv(P).sum().backward()
print(P.grad)
P.grad = None
torch.linalg.cholesky(P).diagonal().log().sum().backward()
print(P.grad)
P.grad = None
torch.linalg.svdvals(P).sum().backward()
print(P.grad)
P.grad = None
torch.linalg.eigvalsh(P).max().backward()
print(P.grad)
P.grad = None
torch.linalg.norm(P @ b).backward()
print(P.grad)
W1 = torch.tensor(rng.standard_normal((3, 4)), requires_grad=True)
W2 = torch.tensor(rng.standard_normal((4, 2)), requires_grad=True)
out = torch.einsum("ij,jk->ik", W1, W2).pow(2).sum() + torch.einsum("ij,ij->", W1, W1)
out.backward()
print(out.grad_fn, W1.grad, W2.grad)
Xg = t(2, 3, 4).requires_grad_()
torch.einsum("bij,bkj->bik", Xg, Xg).diagonal(dim1=-2, dim2=-1).sum().backward()
print(torch.allclose(Xg.grad, 2 * Xg.detach()), Xg.grad.dtype)
G = torch.arange(24.0).view(2, 3, 4)
print(G.diagonal(dim1=1, dim2=2), torch.diagonal(G, 1, 0, 2),
      G.diagonal(offset=-1, dim1=-1, dim2=-2))
