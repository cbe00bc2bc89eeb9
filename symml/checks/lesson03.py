"""Exercises of problem set 03, tensor products and irreps: predict a product, the irreps of a representation
of O(3) with their parities, the projector onto one irrep of O(3), and the irreps of any product of irreps.

Conventions: e3nn 0.6 (vectors (x, y, z)); generators ``L`` of a representation have shape
``(3, n, n)``, antisymmetric, with ``D(exp(θ n̂·L)) = exp(θ Σ n_a L_a)``, so the Casimir
``C = -Σ_a L_a²`` has the eigenvalue ``l(l+1)`` on each copy of irrep ``l``; ``P = D(-I)`` is the inversion.
"""

import functools

import torch
from e3nn import o3

from symml.checks import Case, Exercise, close
from symml.checks.hints import as_student, compare_irreps, irreps_answer, shortcuts
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
    return compare_irreps(irreps_answer(got), expected, _explain_2x2)


# ---------------------------------------------------------------- 03.2 the irreps of O(3), parities included


def _casimir_spaces(L):
    """``{l: V}``: orthonormal columns ``V`` spanning the Casimir eigenspace of each ``l`` present (float64)."""
    values, vectors = torch.linalg.eigh(casimir(L.to(torch.float64)))
    ls = torch.round((torch.sqrt(1 + 4 * values.clamp(min=0)) - 1) / 2).long()
    return {int(l): vectors[:, ls == l] for l in torch.unique(ls)}


def o3_irreps(L, P):
    """The irreps of a representation of O(3), as an e3nn irreps string (sorted, simplified).

    ``L``: its generators ``(3, n, n)``; ``P``: ``D(-I)``, the inversion, ``(n, n)`` with ``P² = 1``.
    On the Casimir eigenspace of ``l`` (dimension ``(2l+1)(m_e + m_o)``) the inversion is ``+1`` on the
    even copies and ``-1`` on the odd ones, so its trace there is ``(2l+1)(m_e - m_o)``.
    """
    out = []
    for l, V in _casimir_spaces(L).items():
        total, trace = V.shape[1] / (2 * l + 1), float(torch.trace(V.T @ P.to(torch.float64) @ V)) / (2 * l + 1)
        out += [(round((total + trace) / 2), (l, 1)), (round((total - trace) / 2), (l, -1))]
    return str(o3.Irreps([(m, ir) for m, ir in out if m > 0]).sort().irreps.simplify())


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


def _o3_rep(g, irreps, dtype=torch.float64, turn=True):
    """``(L, P)`` of the direct sum of ``irreps`` (a list of ``(l, p)``), in a random orthonormal basis if ``turn``."""
    L = _sum_generators([l for l, _ in irreps], dtype)
    P = torch.block_diag(*(p * torch.eye(2 * l + 1, dtype=dtype) for l, p in irreps))
    if turn:
        Q, _ = torch.linalg.qr(torch.randn(len(P), len(P), generator=g, dtype=torch.float64))
        Q = Q.to(dtype)
        L, P = Q @ L @ Q.T, Q @ P @ Q.T
    return L, P


def _product_rep(g, ls, parity, dtype=torch.float64):
    L = _product_generators(*ls, dtype=dtype)
    Q, _ = torch.linalg.qr(torch.randn(L.shape[-1], L.shape[-1], generator=g, dtype=dtype))
    return Q @ L @ Q.T, parity * torch.eye(L.shape[-1], dtype=dtype)


def _random_irreps(g, k, top=4):
    return [(int(torch.randint(0, top + 1, (), generator=g)), 1 - 2 * int(torch.randint(0, 2, (), generator=g))) for _ in range(k)]


MIXED = [(1, 1), (1, -1), (0, -1), (2, 1), (1, -1)]  # l = 1 with both parities


def o3_irreps_cases(g):
    yield Case(*_o3_rep(g, MIXED), note="1e + 2x1o + 0o + 2e in a random basis")
    yield Case(*_o3_rep(g, _random_irreps(g, int(torch.randint(3, 7, (), generator=g)))), note="a random direct sum in a random basis")
    l1, l2 = (int(l) for l in torch.randint(0, 4, (2,), generator=g))
    yield Case(*_product_rep(g, (l1, l2), -1), note=f"the product {l1}e ⊗ {l2}o")


def o3_irreps_hidden(g):
    yield Case(*_o3_rep(g, [(0, -1)], turn=False), note="a single pseudoscalar")
    yield Case(*_o3_rep(g, [(0, 1), (0, -1), (0, 1)]), note="three scalars, one of them odd")
    yield Case(*_o3_rep(g, [(5, -1)]), note="the irrep 5o")
    yield Case(*_product_rep(g, (1, 1, 1), -1), note="three vectors")
    yield Case(*_o3_rep(g, [(2, 1), (2, -1), (1, 1)], dtype=torch.float32), note="float32, 2e + 2o + 1e")


def _per_l(irreps):
    totals = {}
    for mul, ir in irreps:
        totals[ir.l] = totals.get(ir.l, 0) + mul
    return totals


def _explain_o3(mine, want):
    if mine.dim != want.dim:
        return f"the dimensions add up to {mine.dim}, but the representation has n = {want.dim}"
    if _per_l(mine) != _per_l(want):
        return "wrong l's or multiplicities: each copy of irrep l takes 2l+1 of the Casimir's eigenvalues l(l+1)"
    if len({ir.p for _, ir in mine}) == 1 and len({ir.p for _, ir in want}) == 2:
        return "every irrep got the same parity, yet this representation has both: the Casimir cannot tell them apart, D(−I) can"
    if mine == o3.Irreps([(mul, (ir.l, -ir.p)) for mul, ir in want]).sort().irreps.simplify():
        return "even and odd are swapped: an even irrep is one the inversion leaves alone"
    return "the l's are right, some parities are not: within each l, count the copies D(−I) leaves alone and those it flips"


def o3_irreps_compare(got, expected, case):
    return compare_irreps(irreps_answer(got), expected, _explain_o3)


def _o3_irreps_even(L, P):  # a mistake: every parity even
    return str(o3.Irreps([(mul, (ir.l, 1)) for mul, ir in o3.Irreps(o3_irreps(L, P))]).sort().irreps.simplify())


def _o3_irreps_swapped(L, P):
    return str(o3.Irreps([(mul, (ir.l, -ir.p)) for mul, ir in o3.Irreps(o3_irreps(L, P))]).sort().irreps.simplify())


def _o3_irreps_majority(L, P):  # a mistake: one parity per l, the sign of D(−I)'s trace on the eigenspace
    out = []
    for l, V in _casimir_spaces(L).items():
        trace = float(torch.trace(V.T @ P.to(torch.float64) @ V))
        out.append((V.shape[1] // (2 * l + 1), (l, 1 if trace >= 0 else -1)))
    return str(o3.Irreps(out).sort().irreps.simplify())


def _o3_irreps_top_as_scalars(L, P):  # a mistake: dimensions right, one copy of the largest l counted as 2l+1 scalars
    irreps = o3.Irreps(o3_irreps(L, P))
    mul, top = irreps[-1]
    rest = list(irreps[:-1]) + ([(mul - 1, top)] if mul > 1 else [])
    return str(o3.Irreps(rest + [(2 * top.l + 1, (0, top.p))]).sort().irreps.simplify())


def _o3_irreps_drop_top(L, P):
    return str(o3.Irreps(o3_irreps(L, P))[:-1]) or "0e"


# ---------------------------------------------------------------- 03.3 projector onto one irrep of O(3)


def irrep_projector(L, P, irrep):
    """The orthogonal projector ``(n, n)`` onto every copy of ``irrep`` (a string such as ``"1o"``) in ``(L, P)``.

    ``L``: generators ``(3, n, n)``; ``P``: ``D(-I)``. The Casimir eigenspace of ``l`` holds both
    parities; ``(1 + p P) / 2`` keeps those of parity ``p``. Zero when there is no copy. ``L``'s dtype.
    """
    l, p = o3.Irrep(irrep)
    V = _casimir_spaces(L).get(l, torch.zeros(len(P), 0, dtype=torch.float64))
    half = (torch.eye(len(P), dtype=torch.float64) + p * P.to(torch.float64)) / 2
    return (V @ V.T @ half).to(L.dtype)


def _casimir_part(L, P, irrep):
    V = _casimir_spaces(L).get(o3.Irrep(irrep).l, torch.zeros(len(P), 0, dtype=torch.float64))
    return (V @ V.T).to(L.dtype)


def _other_parity(L, P, irrep):
    ir = o3.Irrep(irrep)
    return irrep_projector(L, P, str(o3.Irrep(ir.l, -ir.p)))


def projector_cases(g):
    yield Case(*_o3_rep(g, MIXED), "1o", note="1e + 2x1o + 0o + 2e in a random basis, the 1o part")
    irreps = _random_irreps(g, 5)
    l, p = irreps[int(torch.randint(0, 5, (), generator=g))]
    yield Case(*_o3_rep(g, irreps), str(o3.Irrep(l, p)), note="a random direct sum in a random basis")
    yield Case(*_product_rep(g, (1, 1), 1), "2e", note="two vectors, the 2e part")


def projector_hidden(g):
    yield Case(*_o3_rep(g, [(1, 1), (2, -1)]), "3e", note="an l that the representation does not contain")
    yield Case(*_o3_rep(g, [(2, 1), (1, -1)]), "2o", note="an l present only with the other parity")
    yield Case(*_o3_rep(g, [(0, 1), (1, -1), (0, -1), (0, -1)]), "0o", note="odd scalars among even ones")
    yield Case(*_o3_rep(g, [(4, -1)], turn=False), "4o", note="a single irrep")
    yield Case(*_o3_rep(g, [(1, 1), (1, -1)], dtype=torch.float32), "1e", note="float32, 1e + 1o")


def _wrong_subspace(L, P, irrep):  # a mistake: a projector of the right rank onto a random subspace
    k = round(float(torch.trace(irrep_projector(L, P, irrep).double())))
    Q, _ = torch.linalg.qr(torch.randn(len(P), len(P), generator=torch.Generator().manual_seed(7), dtype=torch.float64))
    return (Q[:, :k] @ Q[:, :k].T).to(L.dtype)


def projector_compare(got, expected, case):
    L, P, irrep = case.args
    hint = close(got, expected, what="the projector")
    if hint is None or any(w in hint for w in ("shape", "None", "tensor", "complex", "nan")):
        return hint
    G = torch.as_tensor(got).detach().to(torch.float64)
    E = expected.to(torch.float64)
    eye = torch.eye(len(E), dtype=torch.float64)
    if close(G, eye - E) is None:
        return "that projects onto everything except the irrep you were asked for"
    if close(G, _casimir_part(L, P, irrep).double()) is None:
        return "that keeps every copy of this l, even and odd alike: the irrep asked for has one parity"
    if close(G, _other_parity(L, P, irrep).double()) is None:
        return "those are the copies of this l with the opposite parity"
    if (G - G.T).abs().max() > 1e-5:
        return "the projector should be symmetric (an orthogonal projector: P = Pᵀ)"
    if (G @ G - G).abs().max() > 1e-5:
        return "applying it twice changes the result again (P² ≠ P): it is not a projector"
    rank, want = round(float(torch.trace(G))), round(float(torch.trace(E)))
    if rank != want:
        return f"it projects onto {rank} dimensions; that irrep takes (2l+1) × its multiplicity"
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
    return compare_irreps(irreps_answer(got), expected, _explain_product)


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
    Exercise("03.2", o3_irreps, o3_irreps_cases, o3_irreps_compare, title="the irreps of O(3), parities included", name="o3_irreps",
             points=2, hidden=o3_irreps_hidden, forbidden=FORBIDDEN_DECOMPOSE,
             mistakes=[(_o3_irreps_even, "same parity"), (_o3_irreps_swapped, "swapped"), (_o3_irreps_majority, "some parities are not"),
                       (_o3_irreps_top_as_scalars, "wrong l's or multiplicities"), (_o3_irreps_drop_top, "dimensions add up"),
                       (lambda L, P: 5, "irreps string such as"), (lambda L, P: "xyz", "not an irreps string"),
                       (as_student("lambda L, P: str(decompose(lambda R: torch.eye(1, dtype=torch.float64))[0])", decompose=decompose, torch=torch), "calls symml.irreps.decompose")]),
    Exercise("03.3", irrep_projector, projector_cases, projector_compare, title="projector onto one irrep of O(3)",
             name="irrep_projector", points=2, hidden=projector_hidden, forbidden=FORBIDDEN_DECOMPOSE,
             mistakes=[(lambda L, P, ir: torch.eye(L.shape[-1], dtype=L.dtype) - irrep_projector(L, P, ir), "everything except"),
                       (_casimir_part, "even and odd alike"), (_other_parity, "opposite parity"),
                       (lambda L, P, ir: irrep_projector(L, P, ir) + torch.triu(torch.ones_like(L[0]), diagonal=1) * 0.1, "symmetric"),
                       (lambda L, P, ir: 2 * irrep_projector(L, P, ir), "P² ≠ P"),
                       (lambda L, P, ir: _casimir_part(L, P, "2e"), "projects onto 5 dimensions"),
                       (_wrong_subspace, "the wrong one"),
                       (lambda L, P, ir: irrep_projector(L, P, ir)[:-1], "shape"),
                       (as_student("lambda L, P, ir: decompose(lambda R: torch.eye(1, dtype=torch.float64))[1]", decompose=decompose, torch=torch), "calls symml.irreps.decompose")]),
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
