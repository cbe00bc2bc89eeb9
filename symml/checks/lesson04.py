"""Exercises of lesson 04, Clebsch-Gordan coefficients."""

import torch
from e3nn import o3

from symml.cg import clebsch_gordan
from symml.checks import Case, Exercise, as_bool, close
from symml.so3 import rand_matrix, so3_generators

# ---- 04.1: the equivariance constraint as a matrix


def equivariance_constraint(L1, L2, L3):
    """Stacked over a = x, y, z: (L1[a] ⊗ 1 ⊗ 1 + 1 ⊗ L2[a] ⊗ 1 + 1 ⊗ 1 ⊗ L3[a])ᵀ, shape (3n, n), n = n1 n2 n3."""
    n1, n2, n3 = L1.shape[-1], L2.shape[-1], L3.shape[-1]
    I1, I2, I3 = (torch.eye(n, dtype=L1.dtype) for n in (n1, n2, n3))
    rows = [torch.kron(torch.kron(L1[a], I2), I3) + torch.kron(torch.kron(I1, L2[a]), I3) + torch.kron(torch.kron(I1, I2), L3[a]) for a in range(3)]
    return torch.cat([r.T for r in rows])


def _generators(g):
    for ls, note in [((1, 1, 2), ""), ((1, 2, 2), ""), ((2, 1, 1), ""), ((1, 1, 3), "a triple the selection rule forbids")]:
        yield Case(*(so3_generators(l, torch.float64) for l in ls), note=note or f"(l1, l2, l3) = {ls}")


def _same_null_space(got, expected, case):
    L1, L2, L3 = case.args
    ls = [(L.shape[-1] - 1) // 2 for L in (L1, L2, L3)]
    n = L1.shape[-1] * L2.shape[-1] * L3.shape[-1]
    if not isinstance(got, torch.Tensor) or got.dim() != 2 or got.shape[1] != n:
        return f"the constraint should be a matrix with {n} columns, one per entry of C"
    got = got.to(torch.float64)
    if abs(ls[0] - ls[1]) <= ls[2] <= ls[0] + ls[1]:
        C = clebsch_gordan(*ls, dtype=torch.float64).flatten()
        if (got @ C).abs().max() > 1e-8:
            return "the true Clebsch-Gordan tensor does not satisfy your constraint"
    rank = torch.linalg.matrix_rank(got, atol=1e-8)
    wanted = torch.linalg.matrix_rank(expected.to(torch.float64), atol=1e-8)
    if rank < wanted:
        return f"your constraint lets through {n - rank} independent tensors, but only {n - wanted} are equivariant"
    return None


# ---- 04.2: the tensor from its null space


def cg_from_null_space(l1, l2, l3):
    return clebsch_gordan(l1, l2, l3, dtype=torch.float64)


def _triples(g):
    return [Case(1, 1, 0), Case(1, 1, 2), Case(2, 1, 1), Case(1, 2, 3), Case(2, 2, 2, note="(2, 2, 2)")]


def _up_to_sign(got, expected, case):
    hint = close(got, expected)
    if hint is None or close(got, -expected) is None:
        return None
    if isinstance(got, torch.Tensor) and got.shape == expected.shape:
        norm = float(got.to(torch.float64).norm())
        if abs(norm - 1) > 1e-6:
            return f"normalise it: the sum of the squares of its entries should be 1, not {norm:.3g}"
        R = rand_matrix(dtype=torch.float64, seed=0)
        D = [o3.Irrep(l, 1).D_from_matrix(R).to(torch.float64) for l in case.args]
        moved = torch.einsum("ijk,ia,jb,kc->abc", got.to(torch.float64), *D)
        if (moved - got).abs().max() > 1e-6:
            return "it is not equivariant: rotating all three indices changes it"
    return hint


# ---- 04.3: the selection rule


def allowed(l1, l2, l3):
    return abs(l1 - l2) <= l3 <= l1 + l2


def _all_triples(g):
    return [Case(l1, l2, l3) for l1 in range(4) for l2 in range(4) for l3 in range(8)]


def _bool(got, expected, case):
    got = as_bool(got)
    if isinstance(got, str):
        return got
    return None if got == expected else f"wrong for (l1, l2, l3) = {case.args}"


# ---- 04.4: the irreps of a product, with parity


def product_irreps(ir1, ir2):
    """The irreps of ir1 ⊗ ir2 as an e3nn string, e.g. "1o", "1o" -> "0e+1e+2e"."""
    a, b = o3.Irrep(ir1), o3.Irrep(ir2)
    return str(o3.Irreps([(1, (l, a.p * b.p)) for l in range(abs(a.l - b.l), a.l + b.l + 1)]))


def _irrep_pairs(g):
    return [Case("1o", "1o"), Case("1o", "1e", note="a vector and a pseudovector"), Case("0o", "2e"), Case("2e", "3o"), Case("0e", "0e")]


def _same_irreps(got, expected, case):
    try:
        got = o3.Irreps(got).simplify()
    except Exception:
        return f"write the irreps as a string like '0e+1o', not {got!r}"
    if got == o3.Irreps(expected).simplify():
        return None
    if [ir.l for _, ir in got] == [ir.l for _, ir in o3.Irreps(expected)]:
        return f"the l's are right but some parities are wrong for {case.args[0]} ⊗ {case.args[1]}"
    return f"wrong irreps for {case.args[0]} ⊗ {case.args[1]}"


# ---- 04.5: couple two features


def couple(x, y, l3):
    """z_k = Σ_ij C_ijk x_i y_j for features x (type l1) and y (type l2)."""
    l1, l2 = (x.shape[-1] - 1) // 2, (y.shape[-1] - 1) // 2
    return torch.einsum("ijk,i,j->k", clebsch_gordan(l1, l2, l3, dtype=x.dtype), x, y)


def _features(g):
    def r(n):
        return torch.randn(n, generator=g, dtype=torch.float64)

    return [Case(r(3), r(3), 1, note="two vectors into a vector"), Case(r(3), r(3), 0), Case(r(5), r(3), 2), Case(r(5), r(5), 4)]


EXERCISES = [
    Exercise("04.1", equivariance_constraint, _generators, _same_null_space, title="the equivariance constraint", name="equivariance_constraint"),
    Exercise("04.2", cg_from_null_space, _triples, _up_to_sign, title="Clebsch-Gordan from a null space", name="cg_from_null_space"),
    Exercise("04.3", allowed, _all_triples, _bool, title="the selection rule", name="allowed"),
    Exercise("04.4", product_irreps, _irrep_pairs, _same_irreps, title="irreps of a product, with parity", name="product_irreps"),
    Exercise("04.5", couple, _features, title="couple two features", name="couple"),
]
