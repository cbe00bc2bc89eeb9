r"""Clebsch-Gordan coefficients: the change of basis that splits a tensor product of irreps (lesson 04).

Two features of types l1 and l2 combine into ``(2l1+1)(2l2+1)`` numbers ``x_i y_j``. That product
representation ``D^{l1}(R) ⊗ D^{l2}(R)`` is reducible: it holds each l3 with
``|l1 − l2| ≤ l3 ≤ l1 + l2`` exactly once. The Clebsch-Gordan tensor ``C`` picks out the l3 part,

    z_k = Σ_ij C_ijk x_i y_j,      and it is equivariant:   C_ijk D^{l1}_ii' D^{l2}_jj' D^{l3}_kk' = C_i'j'k'.

We *derive* C as a null space, as in lesson 04: C is an intertwiner from l3 into l1⊗l2,
``(L^{l1} ⊗ 1 + 1 ⊗ L^{l2}) C = C L^{l3}``. Solving that for all ``(2l1+1)(2l2+1)(2l3+1)``
unknowns at once is slow for large l, so we first restrict to the Casimir eigenspace of l3
(``symml.irreps``): there the null space is small and one-dimensional (Schur).

Normalisation and sign follow e3nn's ``wigner_3j``: ``Σ C² = 1``, and in the complex basis of
``symml.so3`` the Condon-Shortley coefficient ``⟨l1 l1; l2 (l3−l1) | l3 l3⟩`` is
``(−i)^(l1+l2−l3)`` times a positive number.
"""

import functools

import torch

from symml.irreps import casimir, intertwiners
from symml.so3 import change_basis_real_to_complex, so3_generators

__all__ = ["clebsch_gordan"]


def _check_ls(l1, l2, l3):
    for name, l in (("l1", l1), ("l2", l2), ("l3", l3)):
        if isinstance(l, bool) or not isinstance(l, int):
            raise ValueError(f"{name} must be an integer, got {l!r}")
        if l < 0:
            raise ValueError(f"{name} must be non-negative, got {l}")
    if not abs(l1 - l2) <= l3 <= l1 + l2:
        raise ValueError(
            f"selection rule |l1 - l2| <= l3 <= l1 + l2 violated for (l1, l2, l3) = ({l1}, {l2}, {l3}): "
            f"{l1} ⊗ {l2} contains only l3 = {abs(l1 - l2)} … {l1 + l2}"
        )


@functools.lru_cache(maxsize=None)
def _product_eigenspaces(l1: int, l2: int):
    """Generators of l1⊗l2 and the eigen-decomposition of its Casimir (shared by every l3)."""
    L1, L2 = so3_generators(l1, torch.float64), so3_generators(l2, torch.float64)
    eye1, eye2 = torch.eye(2 * l1 + 1, dtype=torch.float64), torch.eye(2 * l2 + 1, dtype=torch.float64)
    L = torch.stack([torch.kron(L1[a], eye2) + torch.kron(eye1, L2[a]) for a in range(3)])
    values, vectors = torch.linalg.eigh(casimir(L))
    return L, values, vectors


@functools.lru_cache(maxsize=None)
def _clebsch_gordan(l1: int, l2: int, l3: int) -> torch.Tensor:
    L, values, vectors = _product_eigenspaces(l1, l2)
    W = vectors[:, (values - l3 * (l3 + 1)).abs() < 0.5]  # the l3 subspace, in some basis
    (A,) = intertwiners(so3_generators(l3, torch.float64), W.T @ L @ W)  # exactly one map (Schur)
    C = (W @ A).reshape(2 * l1 + 1, 2 * l2 + 1, 2 * l3 + 1)
    C = C / C.norm()
    # Fix the sign (the null space only knows C up to ±) with the Condon-Shortley convention.
    U1, U2, U3 = (change_basis_real_to_complex(l) for l in (l1, l2, l3))
    C_complex = torch.einsum("am,bn,cp,abc->mnp", U1, U2, U3.conj(), C.to(torch.complex128))
    cs = C_complex[2 * l1, l2 + l3 - l1, 2 * l3] * 1j ** (l1 + l2 - l3)
    return C * torch.sign(cs.real)


def clebsch_gordan(l1: int, l2: int, l3: int, dtype=None, device=None) -> torch.Tensor:
    r"""Clebsch-Gordan (Wigner 3j) tensor coupling l1 ⊗ l2 → l3, shape ``(2l1+1, 2l2+1, 2l3+1)``.

    Real, unit Frobenius norm, e3nn's basis and sign: equal to ``e3nn.o3.wigner_3j(l1, l2, l3)``.
    ``z_k = Σ_ij C_ijk x_i y_j`` turns features x (type l1) and y (type l2) into a feature of type l3.
    Derived once per (l1, l2, l3) in float64 and cached; a fresh copy is returned.

    Raises:
        ValueError: an l is negative or not an integer, or the selection rule
        ``|l1 − l2| ≤ l3 ≤ l1 + l2`` fails.
    """
    _check_ls(l1, l2, l3)
    return _clebsch_gordan(l1, l2, l3).to(dtype=dtype or torch.get_default_dtype(), device=device, copy=True)
