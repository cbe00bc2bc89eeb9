"""Exercises of lesson 03, tensor products and irreps: split a matrix, the change of basis of 1 ⊗ 1,
irreps from the Casimir, and the irreps of a product of n vectors.

Conventions: e3nn 0.6 (vectors (x, y, z)); a 3×3 matrix is flattened row by row, so ``kron(R, R)``
acts on ``M.flatten()`` as ``R M Rᵀ``.
"""

import math

import torch
from e3nn import o3

from symml.checks import Case, Exercise, close
from symml.irreps import casimir, decompose
from symml.so3 import rand_matrix, so3_generators


def _basic(hint):
    return hint is not None and any(w in hint for w in ("shape", "None", "tensor", "complex", "nan"))


# ---------------------------------------------------------------- 03.1 split a matrix


def split(M):
    """``M`` (3×3) as trace part + antisymmetric part + symmetric traceless part, three 3×3 matrices."""
    T = torch.trace(M) / 3 * torch.eye(3, dtype=M.dtype)
    A = (M - M.T) / 2
    S = (M + M.T) / 2 - T
    return T, A, S


def split_cases(g):
    def r():
        return torch.randn(3, 3, generator=g, dtype=torch.float64)

    yield Case(r())
    yield Case(r())
    M = r()
    yield Case(M + M.T, note="a symmetric matrix")
    yield Case(M - M.T, note="an antisymmetric matrix")
    yield Case(torch.eye(3, dtype=torch.float64), note="the identity")


def split_compare(got, expected, case):
    (M,) = case.args
    if not (isinstance(got, (tuple, list)) and len(got) == 3):
        return "return three matrices: the trace part, the antisymmetric part and the symmetric traceless part"
    names = ("the trace part", "the antisymmetric part", "the symmetric traceless part")
    for part, name in zip(got, names):
        hint = close(part, M, what=name)
        if _basic(hint):
            return hint
    T, A, S = (torch.as_tensor(p).to(torch.float64) for p in got)
    eye = torch.eye(3, dtype=torch.float64)
    if close(T, T[0, 0] * eye) is not None:
        return "the trace part should be a multiple of the identity"
    if close(A, -A.T) is not None:
        return "the antisymmetric part is not antisymmetric (Aᵀ ≠ −A)"
    if close(S, S.T) is not None:
        return "the symmetric traceless part is not symmetric"
    if abs(float(torch.trace(S))) > 1e-6 * (1 + float(M.abs().max())):
        return "the symmetric part is not traceless: move its trace into the trace part"
    if close(T + A + S, M) is not None:
        for part, want, name in zip((T, A, S), expected, names):
            hint = close(part, want, what=name)
            if hint:
                return f"the three parts do not add up to M: {hint}"
        return "the three parts do not add up to M"
    return close((T, A, S), expected, what="the parts")


# ---------------------------------------------------------------- 03.2 the change of basis of 1 ⊗ 1


def change_of_basis():
    """An orthogonal 9×9 Q with Q kron(R, R) Qᵀ block-diagonal, blocks 1, 3, 5 (here: e3nn's)."""
    return decompose(lambda R: torch.kron(R, R))[1]


BLOCKS = [(0, 1, "the scalar (trace)"), (1, 4, "the antisymmetric part"), (4, 9, "the symmetric traceless part")]


def Q_compare(got, expected, case):
    hint = close(got, expected, what="Q")
    if hint is None or _basic(hint):
        return hint
    Q = torch.as_tensor(got).to(torch.float64)
    gram = Q @ Q.T
    if (gram - torch.diag(torch.diag(gram))).abs().max() > 1e-6:
        return "the rows of Q are not orthogonal to each other (Q Qᵀ should be the identity)"
    if (torch.diag(gram) - 1).abs().max() > 1e-6:
        return "the rows of Q are orthogonal but not all of length 1: normalise them"
    eye = torch.eye(3, dtype=torch.float64)
    Rs = [rand_matrix(dtype=torch.float64, seed=s) for s in (1, 2)] + [-rand_matrix(dtype=torch.float64, seed=3)]
    for R in Rs:
        B = Q @ torch.kron(R, R) @ Q.T
        for a, b, name in BLOCKS:
            leak = torch.cat([B[a:b, :a], B[a:b, b:]], dim=1)
            if leak.numel() and leak.abs().max() > 1e-6:
                rows = "row 0" if b - a == 1 else f"rows {a}..{b - 1}"
                return f"{rows} of Q should span {name}, but a rotation mixes {'it' if b - a == 1 else 'them'} with the other rows"
    for a, b, name in BLOCKS:  # blocks are closed; check each holds the right kind of matrix
        mats = Q[a:b].reshape(-1, 3, 3)
        if name.startswith("the anti") and (mats + mats.transpose(1, 2)).abs().max() > 1e-6:
            return f"rows {a}..{b - 1} of Q should span {name}"
        if name.startswith("the symm") and ((mats - mats.transpose(1, 2)).abs().max() > 1e-6 or close(torch.einsum("kii->k", mats), torch.zeros(b - a, dtype=torch.float64)) is not None):
            return f"rows {a}..{b - 1} of Q should span {name}"
        if name.startswith("the scalar") and close(mats[0].abs(), eye / math.sqrt(3)) is not None:
            return f"row 0 of Q should span {name}"
    return None


# ---------------------------------------------------------------- 03.3 the ls from the Casimir


def irreps_from_generators(L):
    """{l: multiplicity} of a representation with generators ``L`` (3, n, n), from its Casimir's eigenvalues l(l+1)."""
    c = torch.linalg.eigvalsh(casimir(L.to(torch.float64)))
    ls = torch.round((torch.sqrt(1 + 4 * c.clamp(min=0)) - 1) / 2).long().tolist()
    return {l: ls.count(l) // (2 * l + 1) for l in sorted(set(ls))}


def _sum_generators(*ls):
    """Generators of the direct sum l1 ⊕ l2 ⊕ …, block-diagonal."""
    gens = [so3_generators(l, torch.float64) for l in ls]
    return torch.stack([torch.block_diag(*(G[a] for G in gens)) for a in range(3)])


def _product_generators(n):
    """Generators of n vectors, kron(R, …, R): Σ_k 1 ⊗ … ⊗ L ⊗ … ⊗ 1."""
    L = so3_generators(1, torch.float64)
    out = torch.zeros(3, 3**n, 3**n, dtype=torch.float64)
    for k in range(n):
        for a in range(3):
            term = torch.ones(1, 1, dtype=torch.float64)
            for j in range(n):
                term = torch.kron(term, L[a] if j == k else torch.eye(3, dtype=torch.float64))
            out[a] += term
    return out


def casimir_cases(g):
    yield Case(_product_generators(2), note="two vectors, kron(R, R)")
    yield Case(so3_generators(3, torch.float64), note="the irrep l = 3")
    yield Case(so3_generators(0, torch.float64), note="a scalar (l = 0)")
    ls = [0, 2, 1, 2]
    L = _sum_generators(*ls)
    Q, _ = torch.linalg.qr(torch.randn(L.shape[-1], L.shape[-1], generator=g, dtype=torch.float64))
    yield Case(Q @ L @ Q.T, note="0 ⊕ 2 ⊕ 1 ⊕ 2 in a random orthonormal basis")
    yield Case(_product_generators(3), note="three vectors")


def casimir_compare(got, expected, case):
    if not isinstance(got, dict):
        return f"return a dict {{l: multiplicity}}, not {type(got).__name__}"
    try:
        got = {int(k) if float(k) == round(float(k)) else float(k): v for k, v in got.items()}
        got = {k: int(v) if float(v) == round(float(v)) else float(v) for k, v in got.items()}
    except (TypeError, ValueError):
        return "the keys (l) and values (multiplicities) should be whole numbers"
    got = {k: v for k, v in got.items() if v != 0}
    if got == expected:
        return None
    if any(isinstance(k, float) for k in got):
        return "some l are not whole numbers: solve l(l+1) = eigenvalue for l"
    if any(k < 0 for k in got):
        return "negative l: mind the sign of the Casimir, −Σ L_a² (the generators are antisymmetric)"
    if set(got) == {l * (l + 1) for l in expected}:
        return "the keys look like the Casimir eigenvalues l(l+1); the keys should be l"
    if set(got) == set(expected) and all(got[l] == expected[l] * (2 * l + 1) for l in expected):
        return "the multiplicities count eigenvalues; each copy of irrep l takes 2l+1 of them"
    n = case.args[0].shape[-1]
    if sum((2 * l + 1) * m for l, m in got.items() if isinstance(m, int)) != n:
        return f"the dimensions Σ (2l+1)·multiplicity do not add up to n = {n}"
    return "wrong ls or multiplicities"


# ---------------------------------------------------------------- 03.4 the irreps of n vectors


def vectors_irreps(n):
    """The irreps of the product of n vectors (1o ⊗ … ⊗ 1o) as an e3nn string, e.g. 2 -> "1x0e+1x1e+1x2e"."""
    irreps = o3.Irreps("0e")
    for _ in range(n):  # e3nn's product rule, one irrep at a time
        irreps = o3.Irreps([(1, c) for mul, a in irreps for _ in range(mul) for c in a * o3.Irrep("1o")]).sort().irreps.simplify()
    return str(irreps)


def vectors_cases(g):
    return [Case(2, note="n = 2"), Case(3, note="n = 3"), Case(1, note="n = 1"), Case(4, note="n = 4")]


def vectors_compare(got, expected, case):
    (n,) = case.args
    try:
        mine = o3.Irreps(got).sort().irreps.simplify()
    except Exception:
        return f"write the irreps as an e3nn string like '0e+2x1o', not {got!r}"
    want = o3.Irreps(expected)
    if mine == want:
        return None
    if mine.dim != want.dim:
        return f"the dimensions add up to {mine.dim}, but {n} vectors have 3^{n} = {want.dim} components"
    if sorted((mul, ir.l) for mul, ir in mine) == sorted((mul, ir.l) for mul, ir in want):
        return f"the ls are right but not the parities: under inversion a product of {n} vectors picks up (−1)^{n}"
    return "wrong multiplicities"


EXERCISES = [
    Exercise("03.1", split, split_cases, split_compare, title="split a matrix into irreps", name="split"),
    Exercise("03.2", change_of_basis, compare=Q_compare, kind="value", title="the change of basis of 1 ⊗ 1", name="Q"),
    Exercise("03.3", irreps_from_generators, casimir_cases, casimir_compare, title="irreps from the Casimir", name="irreps_from_generators"),
    Exercise("03.4", vectors_irreps, vectors_cases, vectors_compare, title="the irreps of n vectors", name="vectors_irreps"),
]
