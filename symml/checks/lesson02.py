"""Exercises of problem set 02, representations: D(g) for an antisymmetric matrix and for a list of
vectors, the talk's feature vectors, a predicted decomposition, and a numerical equivariance test.

Conventions: e3nn 0.6, a vector is ordered (x, y, z) and transforms with ``R`` itself; a single
vector is a 1-D tensor and ``D(R) @ v`` acts on it. The talk's slides (older e3nn) order vectors
(y, z, x): ``P @ v`` with ``P`` the permutation below.
"""

import torch

from e3nn import o3

from symml.checks import Case, Exercise, as_bool, close
from symml.checks.hints import compare_irreps, irreps_answer
from symml.so3 import matrix_z, rand_matrix

# P @ (x, y, z) = (y, z, x)
P_YZX = torch.tensor([[0.0, 1.0, 0.0], [0.0, 0.0, 1.0], [1.0, 0.0, 0.0]], dtype=torch.float64)


def _P(R):
    return P_YZX.to(R.dtype)


def _elements(g, n=2):
    """Random elements of O(3): n proper rotations, n improper ones, a mirror, the inversion."""
    R = rand_matrix(n, generator=g, dtype=torch.float64)
    S = -rand_matrix(n, generator=g, dtype=torch.float64)
    yield from (Case(r) for r in R)
    yield from (Case(s, note="an improper element (det = −1)") for s in S)
    yield Case(torch.diag(torch.tensor([1.0, 1.0, -1.0], dtype=torch.float64)), note="the mirror z → −z")
    yield Case(-torch.eye(3, dtype=torch.float64), note="the inversion −I")


def _basic(hint):
    """Hints about the form of the answer (shape, None, type) are passed on as they are."""
    return hint is not None and any(w in hint for w in ("shape", "None", "tensor", "complex", "nan"))


# ---------------------------------------------------------------- 02.1 an antisymmetric matrix as three numbers


def D_antisymmetric(R):
    """The 3×3 matrix acting on ``(A[1, 2], A[2, 0], A[0, 1])`` of an antisymmetric ``A`` that transforms as ``R A Rᵀ``.

    Those three numbers are a pseudovector (``1e``): ``det(R) R``.
    """
    return torch.det(R) * R


def antisymmetric_hidden(g):
    yield Case(torch.eye(3, dtype=torch.float64), note="the identity")
    yield Case(rand_matrix(generator=g), note="a float32 rotation")
    yield Case(torch.diag(torch.tensor([-1.0, 1.0, 1.0], dtype=torch.float64)), note="the mirror x → −x")


def antisymmetric_compare(got, expected, case):
    (R,) = case.args
    hint = close(got, expected, what="D(R)")
    if hint is None or _basic(hint):
        return hint
    proper = bool(torch.det(R) > 0)
    if close(got, R) is None:
        return "on an element with det = −1 your matrix acts like the vector representation: apply R A Rᵀ to an antisymmetric A with R = −I and look"
    if close(got, -R) is None and proper:
        return "under a proper rotation (det = +1) these three numbers turn exactly like a vector"
    if close(got, R.T) is None or close(got, torch.det(R) * R.T) is None:
        return "that turns the other way: the inverse rotation"
    if close(got, -expected) is None:
        return "D(R) is off by a sign" + ("" if proper else " for an element with det = −1")
    return hint


# ---------------------------------------------------------------- representations the cases below use


def D_pseudovector(R):
    """``det(R) R``, the representation on pseudovectors (used by the cases of 02.5)."""
    return torch.det(R) * R


def D_matrix(R):
    """``kron(R, R)``: 3×3 matrices, flattened row by row (used by the cases of 02.5)."""
    return torch.kron(R, R)


def D_yzx(R):
    """The representation on vectors written in the order (y, z, x): ``P R Pᵀ``."""
    P = _P(R)
    return P @ R @ P.T


# ---------------------------------------------------------------- 02.2 three vectors stored as the columns of a matrix


def D_columns(R):
    """The 9×9 matrix with ``D(R) @ M.flatten() == (R @ M).flatten()``: M holds three vectors as columns.

    Flattening is row by row, so the row index (the vector's component) is the slow one: ``kron(R, I)``.
    """
    return torch.kron(R, torch.eye(3, dtype=R.dtype))


def columns_hidden(g):
    yield Case(-torch.eye(3, dtype=torch.float64), note="the inversion −I")
    yield Case(rand_matrix(generator=g), note="a float32 rotation")
    yield Case(matrix_z(0.3, dtype=torch.float64), note="a rotation about z")


def columns_compare(got, expected, case):
    (R,) = case.args
    hint = close(got, expected, what="D(R)")
    if hint is None or _basic(hint):
        return hint
    I = torch.eye(3, dtype=R.dtype)
    if close(got, torch.kron(I, R)) is None:
        return "your D(R) turns the rows of M; here the three vectors are its columns (and M is flattened row by row)"
    if close(got, torch.kron(R, R)) is None:
        return "your D(R) turns M on both sides, as a matrix; these are three separate vectors, and which one is which never changes"
    if close(got, torch.kron(R.T.contiguous(), I)) is None:
        return "that turns the other way: the inverse rotation"
    return hint


# ---------------------------------------------------------------- 02.3 the talk's feature vector


def D_features(R):
    """The 7×7 representation on the talk's features ``[m, v_y, v_z, v_x, a_y, a_z, a_x]``.

    Mass is a scalar (``0e``), velocity and acceleration are vectors (``1o``) in the order (y, z, x):
    block-diagonal ``1 ⊕ P R Pᵀ ⊕ P R Pᵀ``.
    """
    one = torch.ones(1, 1, dtype=R.dtype)
    return torch.block_diag(one, D_yzx(R), D_yzx(R))


def features_compare(got, expected, case):
    (R,) = case.args
    hint = close(got, expected, what="D(R)")
    if hint is None or _basic(hint):
        return hint
    G = torch.as_tensor(got).to(torch.float64)
    P = _P(R)
    off = G.clone()
    for a, b in [(0, 1), (1, 4), (4, 7)]:
        off[a:b, a:b] = 0
    if off.abs().max() > 1e-6:
        return "D(R) mixes mass, velocity and acceleration: it should be block-diagonal, blocks of size 1, 3, 3"
    if close(G[0, 0], expected[0, 0]) is not None:
        if close(G[0, 0], torch.det(R)) is None:
            return "mass is a scalar: it does not change sign under an improper element"
        return "the mass block is wrong: mass does not change when you rotate the coordinates"
    for name, a in [("velocity", 1), ("acceleration", 4)]:
        block = G[a : a + 3, a : a + 3]
        if close(block, expected[a : a + 3, a : a + 3]) is None:
            continue
        if close(block, R) is None:
            return f"the {name} block acts on (x, y, z)-ordered components, but the features list them as (y, z, x)"
        if close(block, P.T @ R @ P) is None:
            return f"the {name} block is for the order (z, x, y): the permutation goes the wrong way"
        if close(block, torch.det(R) * (P @ R @ P.T)) is None:
            return f"the {name} block is a pseudovector's; {name} is an ordinary vector (1o): it flips under inversion"
        return f"the {name} block is wrong"
    return hint


def features_hidden(g):
    yield Case(torch.eye(3, dtype=torch.float64), note="the identity")
    yield Case(rand_matrix(generator=g), note="a float32 rotation")


# ---------------------------------------------------------------- 02.4 predict: the pieces of a vector times a pseudovector


def vector_times_pseudovector():
    """The irreps of ``M = outer(a, b)`` (transforming as ``det(R) R M Rᵀ``) with ``a`` a vector, ``b`` a pseudovector."""
    return "0o + 1o + 2o"


def _explain_ab(mine, want):
    if mine.dim != want.dim:
        return f"your irreps have {mine.dim} components; M has 9 numbers, and a change of basis keeps them all"

    def ls(irreps):
        return sorted(ir.l for mul, ir in irreps for _ in range(mul))

    if ls(mine) == ls(want):
        return "the l's are right, the parities are not: apply the inversion −I to a and to b, and see what happens to a bᵀ"
    return "forget parity for a moment: this is the product of two vectors, whose nine numbers split into pieces of 1, 3 and 5 (lesson 02 names them; lesson 03 shows it)"


def irreps_compare(got, expected, case=None):
    return compare_irreps(irreps_answer(got), expected, _explain_ab)


# ---------------------------------------------------------------- 02.5 a numerical equivariance test


def is_equivariant(f, D_in, D_out, trials=6):
    """True if ``f(D_in(g) x) == D_out(g) f(x)`` for random x and random g in O(3), proper and improper."""
    R = rand_matrix(trials, dtype=torch.float64)
    R[1::2] *= -1  # every other element improper, so parity is always tested
    n = D_in(R[0]).shape[0]
    for g in R:
        x = torch.randn(n, dtype=torch.float64)
        if not torch.allclose(f(D_in(g) @ x), D_out(g) @ f(x), rtol=1e-6, atol=1e-9):
            return False
    return True


def _det(R):
    return torch.det(R).reshape(1, 1)


def _one(R):
    return torch.ones(1, 1, dtype=R.dtype)


def _two_vectors(R):
    return torch.block_diag(R, R)


def _three_vectors(R):
    return torch.block_diag(R, R, R)


def _cross(x):
    return torch.linalg.cross(x[:3], x[3:])


def _triple(x):
    return (torch.linalg.cross(x[:3], x[3:6]) @ x[6:]).reshape(1)


def _kinetic(x):
    return (0.5 * x[0] * (x[1:4] ** 2).sum()).reshape(1)


def _fixed_turn(x):
    return matrix_z(0.4, dtype=x.dtype) @ x


# name -> (f, D_in, D_out): f maps a 1-D tensor to a 1-D tensor
CASES = {
    "cross product, out as a pseudovector": (_cross, _two_vectors, D_pseudovector),
    "cross product, out as a vector": (_cross, _two_vectors, lambda R: R),
    "norm, out as a scalar": (lambda x: x.norm().reshape(1), lambda R: R, _one),
    "norm, out as a pseudoscalar": (lambda x: x.norm().reshape(1), lambda R: R, _det),
    "triple product (a × b)·c, out as a pseudoscalar": (_triple, _three_vectors, _det),
    "triple product (a × b)·c, out as a scalar": (_triple, _three_vectors, _one),
    "outer product a bᵀ, out as a matrix": (lambda x: torch.outer(x[:3], x[3:]).reshape(9), _two_vectors, D_matrix),
    "outer product a bᵀ, out with kron(R, Rᵀ)": (lambda x: torch.outer(x[:3], x[3:]).reshape(9), _two_vectors, lambda R: torch.kron(R, R.T.contiguous())),
    "|x|² x, a vector": (lambda x: (x @ x) * x, lambda R: R, lambda R: R),
    "x + (1, 0, 0), a vector": (lambda x: x + torch.tensor([1.0, 0.0, 0.0], dtype=x.dtype), lambda R: R, lambda R: R),
    "a fixed turn about z, a vector": (_fixed_turn, lambda R: R, lambda R: R),
    "(x, y, z) → (y, z, x), out as an (x, y, z) vector": (lambda x: x[[1, 2, 0]], lambda R: R, lambda R: R),
    "(x, y, z) → (y, z, x), out as a (y, z, x) vector": (lambda x: x[[1, 2, 0]], lambda R: R, D_yzx),
    "kinetic energy ½ m |v|² of the talk's features": (_kinetic, D_features, _one),
}


# more of them, for the grader only
HIDDEN_CASES = {
    "zero function, out as a vector": (lambda x: torch.zeros(3, dtype=x.dtype), lambda R: R, lambda R: R),
    "vector × pseudovector, out as a vector": (_cross, lambda R: torch.block_diag(R, torch.det(R) * R), lambda R: R),
    "|x| x of a pseudovector, out as a vector": (lambda x: x.norm() * x, D_pseudovector, lambda R: R),
    "|v|² of a (y, z, x) vector, out as a scalar": (lambda x: (x @ x).reshape(1), D_yzx, _one),
}


def equivariant_call(answer, name):
    f, D_in, D_out = CASES[name] if name in CASES else HIDDEN_CASES[name]
    return answer(f, D_in, D_out)


def equivariant_cases(g):
    return [Case(name, note=f"the {name}") for name in CASES]


def equivariant_compare(got, expected, case):
    got = as_bool(got)
    if isinstance(got, str):
        return got
    if got == expected:
        return None
    name = case.args[0]
    if expected:
        return "your test says False, but this function is equivariant: compare f(D_in(g) x) with D_out(g) f(x), up to round-off"
    parity_only = name in ("cross product, out as a vector", "norm, out as a pseudoscalar", "triple product (a × b)·c, out as a scalar",
                           "|x| x of a pseudovector, out as a vector")
    if parity_only:
        return "your test says True, but this function is not equivariant: it holds for every rotation, so try improper elements (det = −1) too"
    return "your test says True, but this function is not equivariant"


def equivariant_hidden(g):
    return [Case(name, note=f"the {name}") for name in HIDDEN_CASES]


def _only_inversion(f, D_in, D_out):  # a mistake: a test that only tries g = −I
    g = -torch.eye(3, dtype=torch.float64)
    x = torch.randn(D_in(g).shape[0], dtype=torch.float64)
    return bool(torch.allclose(f(D_in(g) @ x), D_out(g) @ f(x)))


def _only_rotations(f, D_in, D_out):  # a mistake: proper rotations only
    for g in rand_matrix(4, dtype=torch.float64):
        x = torch.randn(D_in(g).shape[0], dtype=torch.float64)
        if not torch.allclose(f(D_in(g) @ x), D_out(g) @ f(x)):
            return False
    return True


EXERCISES = [
    Exercise("02.1", D_antisymmetric, _elements, antisymmetric_compare, title="an antisymmetric matrix as three numbers",
             name="D_antisymmetric", hidden=antisymmetric_hidden,
             mistakes=[(lambda R: R.clone(), "acts like the vector representation"), (lambda R: -R, "turn exactly like a vector"),
                       (lambda R: torch.det(R) * R.T, "other way"), (lambda R: torch.kron(R, R), "shape")]),
    Exercise("02.2", D_columns, _elements, columns_compare, title="three vectors as the columns of a matrix", name="D_columns",
             hidden=columns_hidden,
             mistakes=[(lambda R: torch.kron(torch.eye(3, dtype=R.dtype), R), "rows of M"), (lambda R: torch.kron(R, R), "both sides"),
                       (lambda R: torch.kron(R.T.contiguous(), torch.eye(3, dtype=R.dtype)), "other way"), (lambda R: R, "shape")]),
    Exercise("02.3", D_features, _elements, features_compare, title="the talk's feature vector", name="D_features", hidden=features_hidden,
             mistakes=[(lambda R: torch.block_diag(torch.ones(1, 1, dtype=R.dtype), R, R), "(y, z, x)"),
                       (lambda R: torch.block_diag(torch.ones(1, 1, dtype=R.dtype), _P(R).T @ R @ _P(R), _P(R).T @ R @ _P(R)), "wrong way"),
                       (lambda R: torch.block_diag(torch.det(R).reshape(1, 1), D_yzx(R), D_yzx(R)), "does not change sign"),
                       (lambda R: torch.block_diag(2 * torch.ones(1, 1, dtype=R.dtype), D_yzx(R), D_yzx(R)), "mass block is wrong"),
                       (lambda R: torch.block_diag(torch.ones(1, 1, dtype=R.dtype), D_yzx(R), torch.det(R) * D_yzx(R)), "pseudovector's"),
                       (lambda R: torch.block_diag(torch.ones(1, 1, dtype=R.dtype), D_yzx(R), -D_yzx(R)), "acceleration block is wrong"),
                       (lambda R: torch.ones(7, 7, dtype=R.dtype), "block-diagonal"),
                       (lambda R: D_yzx(R), "shape")]),
    Exercise("02.4", vector_times_pseudovector, None, irreps_compare, kind="value", name="irreps_ab",
             title="predict: a vector times a pseudovector",
             mistakes=[("0e + 1e + 2e", "parities are not"), ("0e + 1o + 2e", "parities are not"), ("3x1o", "pieces of 1, 3 and 5"),
                       ("0o + 1o", "components"), ("banana", "not an irreps string"), (9, "irreps string such as")]),
    Exercise("02.5", is_equivariant, equivariant_cases, equivariant_compare, call=equivariant_call, title="a numerical equivariance test",
             name="is_equivariant", hidden=equivariant_hidden, points=2,
             mistakes=[(lambda f, D_in, D_out: False, "says False"), (_only_rotations, "improper elements"),
                       (_only_inversion, "this function is not equivariant"), (lambda f, D_in, D_out: "yes", "True or False")]),
]
