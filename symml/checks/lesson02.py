"""Exercises of lesson 02, representations: D(g) for pseudovectors, relabelled vectors, matrices,
the talk's feature vectors, and a numerical equivariance test.

Conventions: e3nn 0.6, a vector is ordered (x, y, z) and transforms with ``R`` itself; a single
vector is a 1-D tensor and ``D(R) @ v`` acts on it. The talk's slides (older e3nn) order vectors
(y, z, x): ``P @ v`` with ``P`` the permutation below.
"""

import torch

from symml.checks import Case, Exercise, as_bool, close
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


# ---------------------------------------------------------------- 02.1 a pseudovector


def D_pseudovector(R):
    """The representation of ``R`` (3×3 orthogonal) on pseudovectors (e3nn ``1e``): ``det(R) R``."""
    return torch.det(R) * R


def pseudovector_compare(got, expected, case):
    (R,) = case.args
    hint = close(got, expected, what="D(R)")
    if hint is None or _basic(hint):
        return hint
    proper = bool(torch.det(R) > 0)
    if close(got, R) is None:
        return "on an element with det = −1 your matrix acts like the vector representation; a pseudovector picks up an extra sign there"
    if close(got, -R) is None and proper:
        return "under a proper rotation (det = +1) a pseudovector turns exactly like a vector"
    if close(got, -expected) is None:
        return "D(R) is off by a sign" + ("" if proper else " for an element with det = −1")
    return hint


# ---------------------------------------------------------------- 02.2 vectors in the order (y, z, x)


def D_yzx(R):
    """The representation of ``R`` on vectors written in the order (y, z, x): ``P R Pᵀ``."""
    P = _P(R)
    return P @ R @ P.T


def yzx_cases(g):
    yield from _elements(g, n=2)
    yield Case(matrix_z(0.7, dtype=torch.float64), note="a rotation about z")


def yzx_compare(got, expected, case):
    (R,) = case.args
    hint = close(got, expected, what="D(R)")
    if hint is None or _basic(hint):
        return hint
    P = _P(R)
    if close(got, R) is None:
        return "this is the representation for (x, y, z)-ordered vectors: the components are listed as (y, z, x)"
    if close(got, P.T @ R @ P) is None:
        return "this is the representation for the order (z, x, y): the permutation goes the wrong way"
    if close(got, P @ R) is None or close(got, R @ P.T) is None or close(got, R @ P) is None or close(got, P.T @ R) is None:
        return "only one side is relabelled: the vector going in and the vector coming out are both in (y, z, x) order"
    return hint


# ---------------------------------------------------------------- 02.3 matrices: the Kronecker product


def D_matrix(R):
    """The 9×9 representation on 3×3 matrices flattened row by row: ``D(R) @ M.flatten() == (R M Rᵀ).flatten()``."""
    return torch.kron(R, R)


def matrix_call(answer, R1, R2, M):
    """The answer for R1, for R2 and for their product: enough to test D(R1 R2) = D(R1) D(R2) too."""
    return answer(R1), answer(R2), answer(R1 @ R2)


def matrix_cases(g):
    def pair(note="", improper=False):
        R1, R2 = rand_matrix(2, generator=g, dtype=torch.float64)
        if improper:
            R1 = -R1
        return Case(R1, R2, torch.randn(3, 3, generator=g, dtype=torch.float64), note=note)

    yield pair()
    yield pair()
    yield pair(note="an improper element (det = −1)", improper=True)
    eye = torch.eye(3, dtype=torch.float64)
    yield Case(eye, eye, torch.randn(3, 3, generator=g, dtype=torch.float64), note="the identity")


def matrix_compare(got, expected, case):
    R1, R2, M = case.args
    if not (isinstance(got, tuple) and len(got) == 3):
        return close(got, expected)
    D1, D2, D12 = got
    hint = close(D1, expected[0], what="D(R)")
    if hint is None:
        hint = close(D12, expected[2], what="D(R1 R2)")
        if hint is None:
            return None
    if _basic(hint):
        return hint
    D1 = torch.as_tensor(D1).to(torch.float64)
    moved = (D1 @ M.reshape(9)).reshape(3, 3)
    for what, target in [
        ("R M R", R1 @ M @ R1),
        ("Rᵀ M R, the inverse rotation", R1.T @ M @ R1),
        ("R M", R1 @ M),
        ("M Rᵀ", M @ R1.T),
        ("Rᵀ M Rᵀ", R1.T @ M @ R1.T),
    ]:
        if close(moved, target) is None:
            return f"your D(R) maps M to {what}; a matrix transforms as R M Rᵀ (flattened row by row)"
    D2, D12 = (torch.as_tensor(d).to(torch.float64) for d in (D2, D12))
    if close(D12, D1 @ D2) is not None:
        return "D(R1 R2) ≠ D(R1) D(R2): this is not a representation"
    return hint


# ---------------------------------------------------------------- 02.4 the talk's feature vector


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


def equivariant_call(answer, name):
    f, D_in, D_out = CASES[name]
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
    parity_only = name in ("cross product, out as a vector", "norm, out as a pseudoscalar", "triple product (a × b)·c, out as a scalar")
    if parity_only:
        return "your test says True, but this function is not equivariant: it holds for every rotation, so try improper elements (det = −1) too"
    return "your test says True, but this function is not equivariant"


EXERCISES = [
    Exercise("02.1", D_pseudovector, _elements, pseudovector_compare, title="D for a pseudovector", name="D_pseudovector"),
    Exercise("02.2", D_yzx, yzx_cases, yzx_compare, title="vectors in the order (y, z, x)", name="D_yzx"),
    Exercise("02.3", D_matrix, matrix_cases, matrix_compare, call=matrix_call, title="D for a matrix", name="D_matrix"),
    Exercise("02.4", D_features, _elements, features_compare, title="the talk's feature vector", name="D_features"),
    Exercise("02.5", is_equivariant, equivariant_cases, equivariant_compare, call=equivariant_call, title="a numerical equivariance test", name="is_equivariant"),
]
