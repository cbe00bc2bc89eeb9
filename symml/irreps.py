r"""Irreducible representations and how to find them (lesson 03).

Given any representation ``rep`` of O(3) — a function from a 3x3 orthogonal matrix to an n×n
matrix with ``rep(R1 @ R2) == rep(R1) @ rep(R2)`` — :func:`decompose` finds the orthogonal change
of basis ``Q`` that splits it into irreps, in exactly e3nn's basis:

    Q @ rep(R) @ Q.T == irreps.D_from_matrix(R)          for every R in O(3).

The recipe, in four steps a student can do by hand for small cases:

1. *Generators.* Differentiate ``rep`` at the identity: ``L_a = d/dt rep(exp(t L⁽¹⁾_a))`` at t=0.
2. *Parity.* ``rep(-I)`` commutes with everything and squares to one: its ±1 eigenspaces are the
   even (``e``) and odd (``o``) parts.
3. *Casimir.* ``C = −Σ_a L_a²`` commutes with every rotation, so by Schur's lemma it is the number
   ``l(l+1)`` on every copy of irrep l: its eigenspaces collect all copies of each l.
4. *Align.* Inside an eigenspace W holding k copies of l, the maps ``A`` with ``(Wᵀ L_a W) A = A L⁽ˡ⁾_a``
   (intertwiners) form a k-dimensional null space; an orthonormal basis of it gives the k copies,
   each written in the standard basis of irrep l.

The same four steps, run on the tensor product of two irreps, give the Clebsch-Gordan
coefficients (``symml.cg``).
"""

import math

import sympy
import numpy as np
import torch
from e3nn import o3

from symml.so3 import check_rotation_matrix, so3_generators

__all__ = ["generators", "casimir", "null_space", "intertwiners", "decompose", "D_from_matrix", "vector_product_polynomials"]


def generators(rep, dtype=torch.float64) -> torch.Tensor:
    r"""Lie algebra generators of an n-dimensional representation: shape ``(3, n, n)``.

    ``L_a = d/dθ rep(exp(θ G_a))`` at θ = 0, with ``G_a`` the generators of vectors. No autodiff and
    no finite-difference error: along one axis, ``rep(exp(θ G_a)) = exp(θ L_a)`` is a trigonometric
    polynomial in θ of degree ``K ≤ (n−1)/2`` (its frequencies are the m of the irreps inside), so
    its derivative at 0 is an exact weighted sum of samples at ``θ_k = 2πk/N``, ``N = 2K+1``:

        L_a = Σ_k w_k rep(exp(θ_k G_a)),      w_k = (2/N) Σ_{m=1..K} m sin(m θ_k).

    ``rep`` may be any callable (torch or numpy-backed) returning an ``(n, n)`` matrix.
    """
    G = so3_generators(1, dtype)
    n = torch.as_tensor(rep(torch.eye(3, dtype=dtype))).shape[-1]
    K = max(1, (n - 1) // 2)
    N = 2 * K + 1
    theta = 2 * math.pi * torch.arange(N, dtype=dtype) / N
    m = torch.arange(1, K + 1, dtype=dtype)
    w = (2 / N) * (m * torch.sin(theta[:, None] * m)).sum(-1)
    samples = [torch.stack([torch.as_tensor(rep(torch.matrix_exp(t * G[a]))).to(dtype) for t in theta]) for a in range(3)]
    return torch.stack([torch.einsum("k,kij->ij", w, S) for S in samples])


def casimir(L: torch.Tensor) -> torch.Tensor:
    r"""The Casimir operator ``−Σ_a L_a²`` of generators ``L`` of shape ``(3, n, n)``; equals ``l(l+1)`` on irrep l."""
    return -torch.einsum("aij,ajk->ik", L, L)


def null_space(A: torch.Tensor, tol: float = 1e-9) -> torch.Tensor:
    r"""Orthonormal basis of ``{x : A x = 0}`` as the rows of a ``(k, n)`` matrix, from the SVD of ``A``."""
    try:
        _, S, Vh = torch.linalg.svd(A, full_matrices=True)
    except torch.linalg.LinAlgError:
        # torch's LAPACK driver can fail to converge on these sparse, highly degenerate constraint
        # matrices (seen for l = 10 on some CPUs); numpy's does not, and the null space is the same.
        _, S, Vh = (torch.from_numpy(M).to(dtype=A.dtype, device=A.device) for M in np.linalg.svd(A.detach().cpu().numpy(), full_matrices=True))
    rank = int((S > tol * max(1.0, float(S.max()) if S.numel() else 1.0)).sum())
    return Vh[rank:]


def intertwiners(L_in: torch.Tensor, L_out: torch.Tensor) -> torch.Tensor:
    r"""All maps ``A`` with ``L_out[a] @ A == A @ L_in[a]`` for a = x, y, z: shape ``(k, n_out, n_in)``.

    They commute with every rotation. The equation is linear in A, so they are the null space of
    ``(L_out ⊗ 1 − 1 ⊗ L_inᵀ) vec(A) = 0``, stacked over the three generators. Orthonormal in the
    Frobenius inner product.
    """
    n_out, n_in = L_out.shape[-1], L_in.shape[-1]
    eye_out = torch.eye(n_out, dtype=L_in.dtype)
    eye_in = torch.eye(n_in, dtype=L_in.dtype)
    # row-major vec: vec(L A) = (L ⊗ 1) vec(A),  vec(A L) = (1 ⊗ Lᵀ) vec(A)
    constraint = torch.cat([torch.kron(L_out[a], eye_in) - torch.kron(eye_out, L_in[a].T.contiguous()) for a in range(3)])
    return null_space(constraint).reshape(-1, n_out, n_in)


def _copies_of(l: int, W: torch.Tensor, L: torch.Tensor) -> torch.Tensor:
    """Rows: the copies of irrep l inside the columns of W (n × k(2l+1)), each in e3nn's basis of l."""
    L_W = W.T @ L @ W
    A = intertwiners(so3_generators(l, L.dtype), L_W)  # (k, dim W, 2l+1), Frobenius-orthonormal
    A = A * math.sqrt(2 * l + 1)  # Schur: Aᵢᵀ Aⱼ = δᵢⱼ I, i.e. each copy is orthonormal
    rows = torch.einsum("nw,kwm->kmn", W, A)  # (k, 2l+1, n)
    # A copy is defined up to sign: make its first clearly non-zero coefficient positive.
    for copy in rows:
        flat = copy.flatten()
        first = flat[flat.abs() > 1e-6][0]
        copy.mul_(torch.sign(first))
    return rows.reshape(-1, W.shape[0])


def decompose(rep, tol: float = 1e-6):
    r"""Decompose a representation of O(3) into irreps.

    Args:
        rep: callable ``R -> rep(R)`` mapping a ``(3, 3)`` orthogonal float64 matrix to an orthogonal
            ``(n, n)`` matrix, built from torch operations (it is differentiated).

    Returns:
        ``(irreps, Q)``: an ``e3nn.o3.Irreps`` sorted and simplified (``kron(R, R)`` gives ``0e+1e+2e``),
        and an orthogonal ``(n, n)`` float64 matrix with ``Q @ rep(R) @ Q.T == irreps.D_from_matrix(R)``.

    Raises:
        ValueError: if ``rep`` does not return a square orthogonal matrix, is not a representation
        (``rep(R1 R2) ≠ rep(R1) rep(R2)``), or its Casimir has an eigenvalue that is not ``l(l+1)``.
    """
    from symml.so3 import rand_matrix

    R1, R2 = rand_matrix(2, dtype=torch.float64, seed=0)
    D1 = rep(R1)
    if not isinstance(D1, torch.Tensor) or D1.dim() != 2 or D1.shape[0] != D1.shape[1]:
        raise ValueError(f"rep(R) must return a square (n, n) torch.Tensor, got {getattr(D1, 'shape', type(D1))}")
    D1 = D1.to(torch.float64)
    n = D1.shape[0]
    eye = torch.eye(n, dtype=torch.float64)
    if (D1 @ D1.T - eye).abs().max() > tol:
        raise ValueError("rep(R) must be an orthogonal matrix; use an orthonormal basis for your representation")
    if (rep(R1 @ R2).to(torch.float64) - D1 @ rep(R2).to(torch.float64)).abs().max() > tol:
        raise ValueError("rep is not a representation: rep(R1 @ R2) != rep(R1) @ rep(R2)")

    L = generators(rep)
    parity = rep(-torch.eye(3, dtype=torch.float64)).to(torch.float64)
    blocks = []  # (l, p, rows of Q)
    p_values, p_vectors = torch.linalg.eigh((parity + parity.T) / 2)
    for p in (-1, 1):
        P = p_vectors[:, (p_values - p).abs() < 0.5]
        if P.shape[1] == 0:
            continue
        c_values, c_vectors = torch.linalg.eigh(P.T @ casimir(L) @ P)
        ls = (torch.sqrt(0.25 + c_values) - 0.5)  # solve l(l+1) = c
        if (ls - ls.round()).abs().max() > 1e-4:
            raise ValueError(f"the Casimir has eigenvalues {c_values.tolist()} that are not of the form l(l+1)")
        for l in sorted(set(ls.round().long().tolist())):
            W = P @ c_vectors[:, (ls - l).abs() < 0.5]
            if W.shape[1] % (2 * l + 1):
                raise ValueError(f"the l={l} part has dimension {W.shape[1]}, not a multiple of {2 * l + 1}")
            blocks.append((l, p, _copies_of(l, W, L)))
    blocks.sort(key=lambda b: (b[0], b[1]))  # e3nn's order: by l, odd before even
    irreps = o3.Irreps([(rows.shape[0] // (2 * l + 1), (l, p)) for l, p, rows in blocks])
    return irreps, torch.cat([rows for *_, rows in blocks])


def D_from_matrix(irreps, R: torch.Tensor) -> torch.Tensor:
    r"""Block-diagonal matrix of ``irreps`` (anything ``o3.Irreps`` accepts) for ``R`` of shape ``(..., 3, 3)``.

    Built from our own irrep matrices (``symml.so3``); equals ``o3.Irreps(irreps).D_from_matrix(R)``.
    """
    from symml.so3 import irrep_D_from_matrix

    irreps = o3.Irreps(irreps)
    check_rotation_matrix(R)
    blocks = [irrep_D_from_matrix(ir.l, ir.p, R) for mul, ir in irreps for _ in range(mul)]
    out = R.new_zeros(*R.shape[:-2], irreps.dim, irreps.dim)
    i = 0
    for D in blocks:
        out[..., i : i + D.shape[-1], i : i + D.shape[-1]] = D
        i += D.shape[-1]
    return out


def _exact(t: torch.Tensor) -> sympy.Matrix:
    """Recognise the entries of a float matrix as exact numbers like 1/√2, √3/6 (checked afterwards)."""

    def entry(value):
        return 0 if abs(value) < 1e-12 else sympy.nsimplify(value, [sympy.sqrt(2), sympy.sqrt(3), sympy.sqrt(6)], tolerance=1e-10)

    return sympy.Matrix(t.shape[0], t.shape[1], lambda i, j: entry(float(t[i, j])))


def vector_product_polynomials(u=None, v=None):
    r"""The tensor product of two vectors, written in the irrep basis, as exact sympy polynomials.

    ``u ⊗ v`` has 9 components ``u_i v_j``; the change of basis found by :func:`decompose` for
    ``kron(R, R)`` turns them into ``0e`` (the dot product), ``1e`` (the cross product) and ``2e``
    (the symmetric traceless part), in e3nn's order — the polar axis is y. With the default
    ``u = v = (x, y, z)`` the cross product vanishes and the ``2e`` part lists the quadratic
    harmonic polynomials ``√3 xz, √3 xy, y² − (x² + z²)/2, √3 yz, (√3/2)(z² − x²)`` up to one factor.

    Returns: list of ``(irrep, [sympy expressions])`` and the exact change of basis (sympy Matrix, 9×9).
    The exact Q is recovered from the numerical one and then checked exactly: orthogonal, and it
    block-diagonalises the exact generators.
    """
    x, y, z = sympy.symbols("x y z", real=True)
    u = sympy.Matrix(u if u is not None else [x, y, z])
    v = sympy.Matrix(v if v is not None else [x, y, z])
    irreps, Q = decompose(lambda R: torch.kron(R, R))
    Q_exact = _exact(Q)
    if sympy.simplify(Q_exact * Q_exact.T - sympy.eye(9)) != sympy.zeros(9, 9):
        raise RuntimeError("the exact change of basis is not orthogonal")  # a bug, not bad input

    L1 = [_exact(g) for g in so3_generators(1, torch.float64)]
    for a in range(3):
        L_product = sympy.kronecker_product(L1[a], sympy.eye(3)) + sympy.kronecker_product(sympy.eye(3), L1[a])
        target = sympy.diag(*[_exact(so3_generators(ir.l, torch.float64)[a]) for mul, ir in irreps for _ in range(mul)])
        if sympy.simplify(Q_exact * L_product * Q_exact.T - target) != sympy.zeros(9, 9):
            raise RuntimeError("the exact change of basis does not block-diagonalise the generators")
    components = Q_exact * sympy.Matrix([u[i] * v[j] for i in range(3) for j in range(3)])
    out, i = [], 0
    for _, ir in irreps:
        out.append((ir, [sympy.simplify(c) for c in components[i : i + ir.dim]]))
        i += ir.dim
    return out, Q_exact
