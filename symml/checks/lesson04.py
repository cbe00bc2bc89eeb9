"""Exercises of problem set 04, Clebsch-Gordan coefficients: derive them from one Casimir eigenspace,
predict what survives in the product of a feature with itself, and count the paths of a tensor product.

Conventions: e3nn 0.6; a Clebsch-Gordan tensor ``C`` of ``l1 ⊗ l2 → l3`` has shape
``(2l1+1, 2l2+1, 2l3+1)``, real, unit Frobenius norm, and couples ``z_k = Σ_ij C_ijk x_i y_j``.
"""

from typing import NamedTuple

import sympy.physics.wigner
import torch
from e3nn import o3

import symml.cg as symml_cg
import symml.nn as symml_nn
from symml.cg import clebsch_gordan
from symml.checks import Case, Exercise, close
from symml.checks.hints import as_student, compare_irreps, irreps_answer, shortcuts
from symml.irreps import casimir, decompose, intertwiners, null_space
from symml.so3 import rand_matrix, so3_generators

# ---------------------------------------------------------------- 04.1 Clebsch-Gordan from one Casimir eigenspace


def _allowed(l1, l2, l3):
    return abs(l1 - l2) <= l3 <= l1 + l2


def cg_from_casimir(l1, l2, l3):
    """The Clebsch-Gordan tensor of ``l1 ⊗ l2 → l3`` (unit norm, either sign), float64.

    Derived as the lesson's library does: the ``l3`` eigenspace of the Casimir of ``l1 ⊗ l2`` (a space
    of ``2l3+1`` dimensions), then the one map from irrep ``l3`` onto it. A triple the selection rule
    forbids has an empty eigenspace: the zero tensor of shape ``(2l1+1, 2l2+1, 2l3+1)``.
    """
    if not _allowed(l1, l2, l3):
        return torch.zeros(2 * l1 + 1, 2 * l2 + 1, 2 * l3 + 1, dtype=torch.float64)
    return clebsch_gordan(l1, l2, l3, dtype=torch.float64)


# How the method asked for is told apart from the lesson's direct solve: the direct solve finds C as the
# null space of a constraint on all (2l1+1)(2l2+1)(2l3+1) entries at once, so it hands a matrix with that
# many columns to a decomposition (SVD, eigh, QR, ...). The Casimir route never decomposes anything wider
# than the product space, (2l1+1)(2l2+1) (the Casimir), or (2l3+1)² (the map from irrep l3 onto the
# eigenspace, e.g. symml.irreps.intertwiners). The guard below records the widest matrix any decomposition
# receives while the answer runs (library code included) and compares it with that bound.
_DECOMPOSITIONS = {getattr(torch.linalg, name) for name in dir(torch.linalg) if not name.startswith("_") and callable(getattr(torch.linalg, name))}
_DECOMPOSITIONS |= {torch.svd, torch.qr, torch.pinverse, torch.lu, torch.cholesky, torch.lstsq} if hasattr(torch, "lstsq") else {torch.svd, torch.qr, torch.pinverse, torch.lu, torch.cholesky}


class _WidestDecomposition(torch.overrides.TorchFunctionMode):
    def __init__(self):
        super().__init__()
        self.widest = 0

    def __torch_function__(self, func, types, args=(), kwargs=None):
        if func in _DECOMPOSITIONS and args and isinstance(args[0], torch.Tensor) and args[0].dim() >= 2:
            self.widest = max(self.widest, int(args[0].shape[-1]))
        return func(*args, **(kwargs or {}))


class DirectSolve(NamedTuple):
    """What the guard returns in place of C when the answer decomposed a matrix too wide for the Casimir route."""

    columns: int
    bound: int


def cg_call(answer, l1, l2, l3):
    guard = _WidestDecomposition()
    with guard:
        C = answer(l1, l2, l3)
    bound = max((2 * l1 + 1) * (2 * l2 + 1), (2 * l3 + 1) ** 2)
    return DirectSolve(guard.widest, bound) if guard.widest > bound else C


def _allowed_triple(g, top):
    l1, l2 = (int(l) for l in torch.randint(0, top + 1, (2,), generator=g))
    l3 = abs(l1 - l2) + int(torch.randint(0, 2 * min(l1, l2) + 1, (), generator=g))
    return l1, l2, l3


def cg_cases(g):
    yield Case(*_allowed_triple(g, 3))
    yield Case(*_allowed_triple(g, 4))
    l1, l2 = (int(l) for l in torch.randint(1, 4, (2,), generator=g))
    yield Case(l1, l2, l1 + l2, note="the largest l3")
    yield Case(1, 1, 3, note="a triple the selection rule forbids")


def cg_hidden(g):
    yield Case(2, 2, 0, note="l3 = 0")
    yield Case(0, 3, 3, note="l1 = 0")
    yield Case(0, 0, 0, note="three scalars")
    yield Case(*_allowed_triple(g, 5), note="larger l")
    yield Case(3, 1, 1, note="l3 below |l1 − l2|, a forbidden triple")


def cg_compare(got, expected, case):
    if isinstance(got, tuple) and len(got) == 2 and all(isinstance(x, int) for x in got):  # DirectSolve, as plain data
        columns, bound = got
        return (f"your answer solves for all {columns} entries of C at once (a decomposition of a matrix that wide): that is the "
                f"lesson's direct solve; this exercise asks you to work in the l3 eigenspace of the Casimir of l1 ⊗ l2, "
                f"where nothing wider than {bound} is needed")
    l1, l2, l3 = case.args
    if not _allowed(l1, l2, l3):
        if isinstance(got, torch.Tensor) and got.shape == expected.shape and got.abs().max() > 1e-9:
            return "the selection rule forbids this triple: the l3 eigenspace is empty, so C is the zero tensor"
        return close(got, expected, what="C")
    hint = close(got, expected, what="C")
    if hint is None or close(got, -expected) is None:
        return None
    if not isinstance(got, torch.Tensor) or got.shape != expected.shape:
        return hint
    C = got.detach().to(torch.float64)
    norm = float(C.norm())
    if abs(norm - 1) > 1e-6:
        return "normalise it: the sum of the squares of its entries should be 1"
    R = rand_matrix(dtype=torch.float64, seed=0)
    D = [o3.Irrep(l, 1).D_from_matrix(R).to(torch.float64) for l in case.args]
    moved = torch.einsum("ijk,ia,jb,kc->abc", C, *D)
    if (moved - C).abs().max() > 1e-6:
        return "it is not equivariant: rotating all three indices changes it"
    return hint


def _unit_random(l1, l2, l3):
    C = torch.randn(2 * l1 + 1, 2 * l2 + 1, 2 * l3 + 1, generator=torch.Generator().manual_seed(0), dtype=torch.float64)
    return C / C.norm()


# the lesson's direct solve, copied into a notebook: it must fail (tests/test_checks.py runs it as a mistake)
DIRECT_SOLVE = """(lambda l1, l2, l3: (lambda L1, L2, L3, I1, I2, I3: null_space(torch.cat([
    (torch.kron(torch.kron(L1[a], I2), I3) + torch.kron(torch.kron(I1, L2[a]), I3) + torch.kron(torch.kron(I1, I2), L3[a])).T for a in range(3)]))[0]
    .reshape(2 * l1 + 1, 2 * l2 + 1, 2 * l3 + 1))(*(so3_generators(l, torch.float64) for l in (l1, l2, l3)), *(torch.eye(2 * l + 1, dtype=torch.float64) for l in (l1, l2, l3)))
    if abs(l1 - l2) <= l3 <= l1 + l2 else torch.zeros(2 * l1 + 1, 2 * l2 + 1, 2 * l3 + 1, dtype=torch.float64))"""
# the same solve through intertwiners: every map from irrep l3 into the whole product space at once
WHOLE_SPACE_SOLVE = """(lambda l1, l2, l3: (lambda L: intertwiners(so3_generators(l3, torch.float64), L)[0].reshape(2 * l1 + 1, 2 * l2 + 1, 2 * l3 + 1))(torch.stack([torch.kron(so3_generators(l1, torch.float64)[a], torch.eye(2 * l2 + 1, dtype=torch.float64)) + torch.kron(torch.eye(2 * l1 + 1, dtype=torch.float64), so3_generators(l2, torch.float64)[a])
    for a in range(3)])) if abs(l1 - l2) <= l3 <= l1 + l2 else torch.zeros(2 * l1 + 1, 2 * l2 + 1, 2 * l3 + 1, dtype=torch.float64))"""
# the method asked for, as a student writes it (tests/test_keys_00_06.py checks that it passes)
CASIMIR_METHOD = """(lambda l1, l2, l3: (lambda L: (lambda values, vectors: (lambda W: (lambda C: C / C.norm())(
    (W @ intertwiners(so3_generators(l3, torch.float64), W.T @ L @ W)[0]).reshape(2 * l1 + 1, 2 * l2 + 1, 2 * l3 + 1)))(vectors[:, (values - l3 * (l3 + 1)).abs() < 0.5]))
    (*torch.linalg.eigh(casimir(L))))(torch.stack([torch.kron(so3_generators(l1, torch.float64)[a], torch.eye(2 * l2 + 1, dtype=torch.float64)) + torch.kron(torch.eye(2 * l1 + 1, dtype=torch.float64), so3_generators(l2, torch.float64)[a])
    for a in range(3)])) if abs(l1 - l2) <= l3 <= l1 + l2 else torch.zeros(2 * l1 + 1, 2 * l2 + 1, 2 * l3 + 1, dtype=torch.float64))"""
STUDENT_TOOLS = dict(torch=torch, null_space=null_space, intertwiners=intertwiners, casimir=casimir, so3_generators=so3_generators)


# ---------------------------------------------------------------- 04.2 predict: a feature times itself


def self_product():
    """The irreps of the parts of ``x ⊗ x`` that are not identically zero, for a feature ``x`` of type 2e."""
    return "0e + 2e + 4e"


def _explain_self_product(mine, want):
    if any(ir.p == -1 for _, ir in mine):
        return "x ⊗ x is unchanged by inversion when x is even: no odd parity can appear"
    if any(ir.l % 2 == 1 for _, ir in mine):
        return "swap the two inputs: for x ⊗ x that changes nothing, so a part whose coefficients change sign under the swap must be zero"
    if any(mul > 1 for mul, _ in mine) or any(ir.l > 4 for _, ir in mine):
        return "the product of two 2's holds each l from 0 to 4 at most once"
    return "some l's that survive are missing: a part vanishes only if the swap flips its sign"


def self_product_compare(got, expected, case=None):
    return compare_irreps(irreps_answer(got), expected, _explain_self_product)


# ---------------------------------------------------------------- 04.3 counting the paths of a tensor product


def count_paths(irreps1, irreps2, ir_out):
    """How many independent equivariant bilinear maps ``irreps1 × irreps2 → ir_out`` there are: an int.

    One per pair of copies (a copy of ``ir1`` in ``irreps1``, one of ``ir2`` in ``irreps2``) with
    ``ir_out`` in ``ir1 ⊗ ir2``: ``|l1 - l2| ≤ l_out ≤ l1 + l2`` and ``p_out = p1 p2``.
    """
    out = o3.Irrep(ir_out)
    return sum(m1 * m2 for m1, a in o3.Irreps(irreps1) for m2, b in o3.Irreps(irreps2) if out in a * b)


def _random_irreps(g, k, top=3):
    parts = []
    for _ in range(k):
        mul, l, p = int(torch.randint(1, 4, (), generator=g)), int(torch.randint(0, top + 1, (), generator=g)), "eo"[int(torch.randint(0, 2, (), generator=g))]
        parts.append(f"{mul}x{l}{p}")
    return " + ".join(parts)


def paths_cases(g):
    for k in (2, 3):
        yield Case(_random_irreps(g, k), _random_irreps(g, 2), f"{int(torch.randint(0, 4, (), generator=g))}{'eo'[int(torch.randint(0, 2, (), generator=g))]}")
    yield Case("2x0e + 1x1o", "3x1o + 1x2e", "1o", note="a mixed product")


def paths_hidden(g):
    yield Case("1x1o", "1x1o", "3e", note="an output no pair reaches")
    yield Case("4x0e", "2x0o", "0o", note="only pseudoscalars out")
    yield Case("1x2e", "1x3o", "1e", note="a parity that cannot come out")
    yield Case(_random_irreps(g, 4, top=5), _random_irreps(g, 4, top=5), "2o", note="large irreps")


def paths_compare(got, expected, case):
    irreps1, irreps2, ir_out = case.args
    if isinstance(got, torch.Tensor) and got.numel() == 1:
        got = got.item()
    if isinstance(got, float) and got.is_integer():
        got = int(got)
    if isinstance(got, bool) or not isinstance(got, int):
        return f"return a whole number of paths, not {type(got).__name__}"
    if got == expected:
        return None
    out = o3.Irrep(ir_out)
    pairs = [(m1, a, m2, b) for m1, a in o3.Irreps(irreps1) for m2, b in o3.Irreps(irreps2)]
    ignoring_parity = sum(m1 * m2 for m1, a, m2, b in pairs if abs(a.l - b.l) <= out.l <= a.l + b.l)
    one_per_kind = sum(1 for m1, a, m2, b in pairs if out in a * b)
    if got == ignoring_parity:
        return "some of the pairs you count cannot give this output's parity: under inversion the product picks up p1 p2"
    if got == one_per_kind and one_per_kind != expected:
        return "every copy counts: m1 copies of one irrep and m2 of another make m1 · m2 pairs"
    return "that is not the number of paths"


# ---------------------------------------------------------------- the declarations

# every tensor product module holds the coefficients; decompose's change of basis holds them too; sympy tabulates them
CG_FORBIDDEN = {**shortcuts("clebsch-gordan", "tensor products"), "symml.irreps.decompose": decompose,
                "sympy.physics.wigner.clebsch_gordan": sympy.physics.wigner.clebsch_gordan, "sympy.physics.wigner.wigner_3j": sympy.physics.wigner.wigner_3j}
PATHS_FORBIDDEN = {"o3.Irrep.__mul__": o3.Irrep.__mul__, **shortcuts("tensor products")}

EXERCISES = [
    Exercise("04.1", cg_from_casimir, cg_cases, cg_compare, call=cg_call, title="Clebsch-Gordan from one Casimir eigenspace", name="cg_from_casimir",
             points=3, hidden=cg_hidden, forbidden=CG_FORBIDDEN,
             mistakes=[(lambda l1, l2, l3: 2 * cg_from_casimir(l1, l2, l3), "normalise it"),
                       (_unit_random, "not equivariant"),
                       (lambda l1, l2, l3: cg_from_casimir(l1, l2, l3).flatten(), "shape"),
                       (as_student("lambda l1, l2, l3: o3.wigner_3j(l1, l2, l3)", o3=o3), "calls o3.wigner_3j"),
                       (as_student("lambda l1, l2, l3: clebsch_gordan(l1, l2, l3)", clebsch_gordan=clebsch_gordan), "calls symml.cg.clebsch_gordan"),
                       (as_student("lambda l1, l2, l3: (o3.ReducedTensorProducts('i', i='0e'), clebsch_gordan_(l1, l2, l3))[1]", o3=o3, clebsch_gordan_=cg_from_casimir), "calls o3.ReducedTensorProducts"),
                       # the coefficients read off a tensor product module, or from the private functions behind the public ones
                       (as_student("lambda l1, l2, l3: (lambda tp, e1, e2: (lambda C: C / C.norm())(torch.stack([torch.stack([tp(a, b) for b in e2]) for a in e1])))"
                                   "(o3.FullTensorProduct(f'{l1}e', f'{l2}e', filter_ir_out=[f'{l3}e']), torch.eye(2 * l1 + 1), torch.eye(2 * l2 + 1))", o3=o3, torch=torch),
                        "calls o3.FullTensorProduct"),
                       (as_student("lambda l1, l2, l3: symml_cg._clebsch_gordan(l1, l2, l3)", symml_cg=symml_cg), "calls symml.cg._clebsch_gordan"),
                       (as_student("lambda l1, l2, l3: o3._wigner._so3_clebsch_gordan(l1, l2, l3)", o3=o3), "calls o3._wigner._so3_clebsch_gordan"),
                       (as_student(DIRECT_SOLVE, **STUDENT_TOOLS), "the lesson's direct solve"),
                       (as_student(WHOLE_SPACE_SOLVE, **STUDENT_TOOLS), "the lesson's direct solve"),
                       (lambda l1, l2, l3: cg_from_casimir(l1, l2, l3) + (0 if _allowed(l1, l2, l3) else 1.0), "C is the zero tensor"),
                       (as_student("lambda l1, l2, l3: decompose(lambda R: torch.kron(R, R))[1][:1].reshape(3, 3, 1)", decompose=decompose, torch=torch),
                        "calls symml.irreps.decompose"),
                       (as_student("lambda l1, l2, l3: torch.tensor(float(wigner.clebsch_gordan(l1, l2, l3, 0, 0, 0))) * torch.ones(2 * l1 + 1, 2 * l2 + 1, 2 * l3 + 1)",
                                   wigner=sympy.physics.wigner, torch=torch), "calls sympy.physics.wigner.clebsch_gordan"),
                       (as_student("lambda l1, l2, l3: torch.tensor(float(wigner.wigner_3j(l1, l2, l3, 0, 0, 0))) * torch.ones(2 * l1 + 1, 2 * l2 + 1, 2 * l3 + 1)",
                                   wigner=sympy.physics.wigner, torch=torch), "calls sympy.physics.wigner.wigner_3j")]),
    Exercise("04.2", self_product, None, self_product_compare, kind="value", name="self_product", title="predict: a feature times itself",
             mistakes=[("0e + 1e + 2e + 3e + 4e", "swap the two inputs"), ("0o + 2o + 4o", "no odd parity"), ("0e + 2e", "some l's that survive"),
                       ("2x0e + 2e + 4e", "at most once"), ("many", "not an irreps string"), (3, "irreps string such as")]),
    Exercise("04.3", count_paths, paths_cases, paths_compare, title="counting the paths of a tensor product", name="count_paths",
             points=2, hidden=paths_hidden, forbidden=PATHS_FORBIDDEN,
             mistakes=[(lambda a, b, c: "two", "whole number"),
                       (lambda a, b, c: sum(m1 * m2 for m1, x in o3.Irreps(a) for m2, y in o3.Irreps(b) if abs(x.l - y.l) <= o3.Irrep(c).l <= x.l + y.l), "parity"),
                       (lambda a, b, c: sum(1 for m1, x in o3.Irreps(a) for m2, y in o3.Irreps(b) if o3.Irrep(c) in x * y), "every copy counts"),
                       (lambda a, b, c: count_paths(a, b, c) + 1, "not the number of paths"),
                       (as_student("lambda a, b, c: sum(m1 * m2 for m1, x in o3.Irreps(a) for m2, y in o3.Irreps(b) if o3.Irrep(c) in x * y)", o3=o3), "calls o3.Irrep.__mul__"),
                       (as_student("lambda a, b, c: o3.FullyConnectedTensorProduct(a, b, c).weight_numel", o3=o3), "calls o3.FullyConnectedTensorProduct"),
                       (as_student("lambda a, b, c: (o3.FullTensorProduct('0e', '0e'), count(a, b, c))[1]", o3=o3, count=count_paths), "calls o3.FullTensorProduct"),
                       (as_student("lambda a, b, c: o3.TensorProduct(a, b, c, []).weight_numel", o3=o3), "calls o3.TensorProduct"),
                       (as_student("lambda a, b, c: sum(p.numel() for p in TensorProduct(a, b, c).parameters())", TensorProduct=symml_nn.TensorProduct), "calls symml.nn.TensorProduct")]),
]
