"""Exercises of problem set 03, tensor products and irreps: predict a product, count irreps with the
Casimir, project onto one Casimir eigenspace, and the irreps of any product of irreps.

Conventions: e3nn 0.6 (vectors (x, y, z)); generators ``L`` of a representation have shape
``(3, n, n)``, antisymmetric, with ``D(exp(θ n̂·L)) = exp(θ Σ n_a L_a)``, so the Casimir
``C = -Σ_a L_a²`` has the eigenvalue ``l(l+1)`` on each copy of irrep ``l``.
"""

import functools

import torch
from e3nn import o3

from symml.checks import Case, Exercise, close
from symml.checks.hints import as_student, compare_irreps, shortcuts
from symml.irreps import casimir, decompose
from symml.so3 import so3_generators

FORBIDDEN_DECOMPOSE = {"symml.irreps.decompose": decompose}


# ---------------------------------------------------------------- 03.1 predict: 2 ⊗ 2


def irreps_2e_2e():
    """The irreps of the product of two l = 2 irreps of even parity, 2e ⊗ 2e."""
    return "0e + 1e + 2e + 3e + 4e"


def _explain_2x2(mine, want):
    if all(ir.l % 2 == 0 for _, ir in mine) and mine.dim < want.dim:
        return "only even l's: that is the symmetric half of the product; the antisymmetric half (a ⊗ b − b ⊗ a) is there too"
    if mine.dim != want.dim:
        return f"your irreps have {mine.dim} components; the product of two 5-component irreps has 5 × 5"
    if sorted(ir.l for _, ir in mine) == sorted(ir.l for _, ir in want):
        return "the l's are right, the parities are not: under inversion each factor is unchanged, so what does the product do?"
    return "not the right l's: the largest l of a product is the sum of the two, and each l down from there appears once"


def predict_compare(got, expected, case=None):
    return compare_irreps(got, expected, _explain_2x2)


# ---------------------------------------------------------------- 03.2 irreps from the Casimir


def irreps_from_generators(L):
    """{l: multiplicity} of a representation with generators ``L`` (3, n, n), from its Casimir's eigenvalues l(l+1)."""
    c = torch.linalg.eigvalsh(casimir(L.to(torch.float64)))
    ls = torch.round((torch.sqrt(1 + 4 * c.clamp(min=0)) - 1) / 2).long().tolist()
    return {l: ls.count(l) // (2 * l + 1) for l in sorted(set(ls))}


def _sum_generators(ls, dtype=torch.float64):
    """Generators of the direct sum l1 ⊕ l2 ⊕ …, block-diagonal."""
    gens = [so3_generators(l, dtype) for l in ls]
    return torch.stack([torch.block_diag(*(G[a] for G in gens)) for a in range(3)])


def _product_generators(*ls, dtype=torch.float64):
    """Generators of D^{l1} ⊗ D^{l2} ⊗ … by the product rule Σ_k 1 ⊗ … ⊗ L^{(k)} ⊗ … ⊗ 1."""
    gens = [so3_generators(l, dtype) for l in ls]
    n = 1
    for G in gens:
        n *= G.shape[-1]
    out = torch.zeros(3, n, n, dtype=dtype)
    for k in range(len(ls)):
        for a in range(3):
            term = torch.ones(1, 1, dtype=dtype)
            for j, G in enumerate(gens):
                term = torch.kron(term, G[a] if j == k else torch.eye(G.shape[-1], dtype=dtype))
            out[a] += term
    return out


def _random_basis(g, L):
    """The same representation in a random orthonormal basis: Q L Qᵀ."""
    Q, _ = torch.linalg.qr(torch.randn(L.shape[-1], L.shape[-1], generator=g, dtype=L.dtype))
    return Q @ L @ Q.transpose(-1, -2)


def _random_ls(g, k, top=4):
    return [int(l) for l in torch.randint(0, top + 1, (k,), generator=g)]


def casimir_cases(g):
    yield Case(_random_basis(g, _sum_generators(_random_ls(g, 4))), note="a random direct sum in a random basis")
    yield Case(_random_basis(g, _sum_generators(_random_ls(g, int(torch.randint(2, 7, (), generator=g)), top=5))), note="another random direct sum")
    l1, l2 = _random_ls(g, 2, top=3)
    yield Case(_random_basis(g, _product_generators(l1, l2)), note=f"the product {l1} ⊗ {l2}")


def casimir_hidden(g):
    yield Case(so3_generators(0, torch.float64), note="a single scalar (l = 0)")
    yield Case(_sum_generators([0, 0, 0]), note="three scalars")
    yield Case(so3_generators(6, torch.float64), note="the irrep l = 6")
    yield Case(_random_basis(g, _product_generators(1, 1, 1)), note="three vectors in a random basis")
    yield Case(_sum_generators([2, 2, 1], dtype=torch.float32), note="float32 generators")


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
        return "negative l: mind the sign of the Casimir (the generators are antisymmetric)"
    if set(got) == {l * (l + 1) for l in expected} and set(expected) != {0}:
        return "the keys look like the Casimir eigenvalues l(l+1); the keys should be l"
    if set(got) == set(expected) and all(got[l] == expected[l] * (2 * l + 1) for l in expected):
        return "the multiplicities count eigenvalues; each copy of irrep l takes 2l+1 of them"
    n = case.args[0].shape[-1]
    if sum((2 * l + 1) * m for l, m in got.items() if isinstance(m, int)) != n:
        return f"the dimensions Σ (2l+1)·multiplicity do not add up to n = {n}"
    return "wrong ls or multiplicities"


def _scalars_for_the_top_l(L):  # a mistake: dimensions right, one copy of the largest l counted as 2l+1 scalars
    found = irreps_from_generators(L)
    top = max(found)
    found[top] -= 1
    found[0] = found.get(0, 0) + 2 * top + 1
    return found


def _keys_are_eigenvalues(L):
    return {l * (l + 1): m for l, m in irreps_from_generators(L).items()}


# ---------------------------------------------------------------- 03.3 projector onto one Casimir eigenspace


def casimir_projector(L, l):
    """The orthogonal projector ``(n, n)`` onto the subspace where the Casimir of ``L`` equals ``l(l+1)``.

    That subspace holds every copy of irrep ``l``; the projector is zero when there is none.
    """
    values, vectors = torch.linalg.eigh(casimir(L.to(torch.float64)))
    V = vectors[:, (values - l * (l + 1)).abs() < 0.5]
    return (V @ V.T).to(L.dtype)


def projector_cases(g):
    ls = _random_ls(g, 5)
    yield Case(_random_basis(g, _sum_generators(ls)), ls[int(torch.randint(0, 5, (), generator=g))], note="a random direct sum in a random basis")
    l1, l2 = _random_ls(g, 2, top=3)
    yield Case(_random_basis(g, _product_generators(l1, l2)), abs(l1 - l2) + int(torch.randint(0, 2 * min(l1, l2) + 1, (), generator=g)), note=f"the product {l1} ⊗ {l2}")
    yield Case(_product_generators(1, 1), 2, note="two vectors, the l = 2 part")


def projector_hidden(g):
    yield Case(_sum_generators([1, 2]), 3, note="an l that the representation does not contain")
    yield Case(_random_basis(g, _sum_generators([0, 1, 0])), 0, note="l = 0, twice")
    yield Case(so3_generators(4, torch.float64), 4, note="a single irrep")
    yield Case(_sum_generators([1, 1], dtype=torch.float32), 1, note="float32 generators")


def projector_compare(got, expected, case):
    hint = close(got, expected, what="the projector")
    if hint is None or any(w in hint for w in ("shape", "None", "tensor", "complex", "nan")):
        return hint
    P = torch.as_tensor(got).detach().to(torch.float64)
    E = expected.to(torch.float64)
    eye = torch.eye(len(E), dtype=torch.float64)
    if close(P, eye - E) is None:
        return "that projects onto everything except the l you were asked for"
    if (P - P.T).abs().max() > 1e-5:
        return "the projector should be symmetric (an orthogonal projector: P = Pᵀ)"
    if (P @ P - P).abs().max() > 1e-5:
        return "applying it twice changes the result again (P² ≠ P): it is not a projector"
    rank, want = round(float(torch.trace(P))), round(float(torch.trace(E)))
    if rank != want:
        return f"it projects onto {rank} dimensions; that l takes (2l+1) × its multiplicity"
    return "it projects onto a subspace of the right size, but the wrong one"


# ---------------------------------------------------------------- 03.4 the irreps of a product


def product_irreps(factors):
    """The irreps of ``D^{a} ⊗ D^{b} ⊗ …`` for a list of e3nn irreps (strings ``"1o"``, ``"2e"``), as a string."""
    out = o3.Irreps("0e")
    for factor in factors:  # one factor at a time, e3nn's rule for the product of two irreps
        b = o3.Irrep(factor)
        out = o3.Irreps([(mul, c) for mul, a in out for c in a * b]).sort().irreps.simplify()
    return str(out)


def _random_irrep(g, top=3):
    return f"{int(torch.randint(0, top + 1, (), generator=g))}{'eo'[int(torch.randint(0, 2, (), generator=g))]}"


def product_cases(g):
    yield Case([_random_irrep(g), _random_irrep(g)])
    yield Case([_random_irrep(g) for _ in range(3)])
    yield Case([_random_irrep(g, top=5), _random_irrep(g, top=2), _random_irrep(g, top=1)])


def product_hidden(g):
    yield Case(["3o"], note="a single factor")
    yield Case(["0o", "2e", "0o"], note="two pseudoscalar factors")
    yield Case(["1o", "1o", "1o", "1o"], note="four vectors")
    yield Case([_random_irrep(g, top=6), _random_irrep(g, top=6)], note="large l")


def _explain_product(mine, want):
    if mine.dim != want.dim:
        return f"the dimensions add up to {mine.dim}, but the product has {want.dim} components (the product of the factors' dimensions)"
    if sorted((mul, ir.l) for mul, ir in mine) == sorted((mul, ir.l) for mul, ir in want):
        return "the l's are right but not the parities: under inversion each factor contributes its own sign"
    return "wrong l's or multiplicities"


def product_compare(got, expected, case):
    return compare_irreps(got, expected, _explain_product)


def _product_all_even(factors):
    return str(o3.Irreps([(mul, (ir.l, 1)) for mul, ir in o3.Irreps(product_irreps(factors))]).sort().irreps.simplify())


def _product_top_only(factors):
    top = sum(o3.Irrep(f).l for f in factors)
    return str(o3.Irreps([(1, (l, 1)) for l in range(top + 1)]))


EXERCISES = [
    Exercise("03.1", irreps_2e_2e, None, predict_compare, kind="value", name="irreps_2x2", title="predict: 2e ⊗ 2e",
             mistakes=[("0o + 1o + 2o + 3o + 4o", "parities are not"), ("0e + 2e + 4e", "antisymmetric half"),
                       ("1e + 2e + 3e + 4e + 0o", "parities"), ("0e + 1e + 2e", "components"), ("2x3e + 2x1e + 5x0e", "not the right l's"),
                       ("two", "not an irreps string"), (25, "irreps string such as")]),
    Exercise("03.2", irreps_from_generators, casimir_cases, casimir_compare, title="irreps from the Casimir", name="irreps_from_generators",
             points=2, hidden=casimir_hidden, forbidden=FORBIDDEN_DECOMPOSE,
             mistakes=[(lambda L: [0, 1], "return a dict"), (lambda L: {"l": 1}, "whole numbers"),
                       (lambda L: {l + 0.5: m for l, m in irreps_from_generators(L).items()}, "not whole numbers"),
                       (lambda L: {-l - 1: m for l, m in irreps_from_generators(L).items()}, "negative l"),
                       (_keys_are_eigenvalues, "Casimir eigenvalues l(l+1)"),
                       (lambda L: {l: m * (2 * l + 1) for l, m in irreps_from_generators(L).items()}, "each copy of irrep l"),
                       (lambda L: {l: m + 1 for l, m in irreps_from_generators(L).items()}, "do not add up"),
                       (_scalars_for_the_top_l, "wrong ls"),
                       (as_student("lambda L: {ir.l: mul for mul, ir in decompose(lambda R: torch.eye(1, dtype=torch.float64))[0]}", decompose=decompose, torch=torch), "calls symml.irreps.decompose")]),
    Exercise("03.3", casimir_projector, projector_cases, projector_compare, title="projector onto one Casimir eigenspace",
             name="casimir_projector", points=2, hidden=projector_hidden, forbidden=FORBIDDEN_DECOMPOSE,
             mistakes=[(lambda L, l: torch.eye(L.shape[-1], dtype=L.dtype) - casimir_projector(L, l), "everything except"),
                       (lambda L, l: casimir_projector(L, l) + torch.triu(torch.ones_like(L[0]), diagonal=1) * 0.1, "symmetric"),
                       (lambda L, l: 2 * casimir_projector(L, l), "P² ≠ P"),
                       (lambda L, l: casimir_projector(L, l + 1) if torch.trace(casimir_projector(L, l + 1)) != torch.trace(casimir_projector(L, l)) else casimir_projector(L, l) * 0 + torch.eye(L.shape[-1], dtype=L.dtype), "projects onto"),
                       (lambda L, l: casimir_projector(L, l)[:-1], "shape"),
                       (as_student("lambda L, l: decompose(lambda R: torch.eye(1, dtype=torch.float64))[1]", decompose=decompose, torch=torch), "calls symml.irreps.decompose")]),
    Exercise("03.4", product_irreps, product_cases, product_compare, title="the irreps of a product", name="product_irreps",
             points=2, hidden=product_hidden,
             forbidden={"o3.Irrep.__mul__": o3.Irrep.__mul__, "symml.irreps.decompose": decompose, **shortcuts("tensor products")},
             mistakes=[(as_student("lambda factors: str(o3.Irrep(factors[0]) * o3.Irrep(factors[-1]))", o3=o3), "calls o3.Irrep.__mul__"), (_product_all_even, "parities"),
                       (_product_top_only, "dimensions add up"), (lambda factors: "3x0e", "wrong l's or multiplicities"),
                       (lambda factors: 5, "irreps string such as"), (lambda factors: "xyz", "not an irreps string"),
                       (as_student("lambda factors: str(o3.FullTensorProduct(factors[0], factors[-1]).irreps_out)", o3=o3), "calls o3.FullTensorProduct"),
                       (as_student("lambda factors: str(o3.ReducedTensorProducts('ij', i='1o', j='1o').irreps_out)", o3=o3), "calls o3.ReducedTensorProducts"),
                       (as_student("lambda factors: str(decompose(lambda R: torch.eye(1, dtype=torch.float64))[0])", decompose=decompose, torch=torch), "calls symml.irreps.decompose"),
                       (as_student("lambda factors: str(functools.reduce(lambda acc, f: o3.Irreps([x for mul, ir in acc for _ in range(mul) "
                                   "for x in o3.ElementwiseTensorProduct(o3.Irreps([ir]), o3.Irreps(f)).irreps_out]).sort().irreps.simplify(), "
                                   "factors[1:], o3.Irreps(factors[0])))", o3=o3, functools=functools), "calls o3.ElementwiseTensorProduct")]),
]
