"""Exercises of lesson 10, symmetry is preserved: site symmetry, closing a group, allowed irreps, the floor of a scalar target."""

import math

import torch
from e3nn import o3

from symml.checks import Case, Exercise, close
from symml.checks.hints import as_student
from symml.so3 import matrix_x, matrix_z, rand_matrix
from symml.symmetry import invariant_vectors, loss_floor, permutation, symmetric_average, symmetry_operations

SQUARE = [[1.0, 1.0, 0.0], [-1.0, 1.0, 0.0], [-1.0, -1.0, 0.0], [1.0, -1.0, 0.0]]
TETRAHEDRON = [[1.0, 1.0, 1.0], [1.0, -1.0, -1.0], [-1.0, 1.0, -1.0], [-1.0, -1.0, 1.0]]
OCTAHEDRON = [[1.0, 0, 0], [-1.0, 0, 0], [0, 1.0, 0], [0, -1.0, 0], [0, 0, 1.0], [0, 0, -1.0]]
PYRAMID = [[1.0, 0, 0], [-0.5, 3**0.5 / 2, 0], [-0.5, -(3**0.5) / 2, 0], [0, 0, 0.8]]  # like ammonia: H, H, H, N


def _water():
    half = math.radians(104.5) / 2
    return torch.tensor([[0.0, 0.0, 0.0], [0.96 * math.sin(half), 0.96 * math.cos(half), 0.0], [-0.96 * math.sin(half), 0.96 * math.cos(half), 0.0]],
                        dtype=torch.float64)


def _t(rows):
    return torch.tensor(rows, dtype=torch.float64)


# ---- 10.1: predict the vectors allowed on a pyramid


def pyramid_vectors():
    """The dimension of the vectors an equivariant network may output at N, at each H, and for the whole molecule."""
    return {"N": 1, "H": 2, "whole molecule": 1}


def _pyramid_compare(got, expected, case):
    if not isinstance(got, dict) or set(got) != set(expected):
        return f"answer with a dict with the keys {', '.join(repr(k) for k in expected)}"
    if not all(isinstance(v, int) and not isinstance(v, bool) and 0 <= v <= 3 for v in got.values()):
        return "each entry is a dimension: a whole number from 0 to 3"
    if got["H"] != expected["H"]:
        return "only one operation besides doing nothing keeps an H where it is: which vectors does it leave unchanged?"
    if got["N"] != expected["N"]:
        return "N sits on the 3-fold axis and every operation keeps it in place: which vectors survive a 120° turn and the mirrors through the axis?"
    if got["whole molecule"] != expected["whole molecule"]:
        return "one vector for the whole molecule must be unchanged by all of the molecule's operations, not only by those that keep one atom in place"
    return None


# ---- 10.2: close a group


def generate_group(generators):
    """All products of the generators (k, 3, 3), identity included: the group they generate, (n, 3, 3), in any order."""
    elements = [torch.eye(3, dtype=generators.dtype)]
    frontier = list(elements)
    while frontier:
        new = []
        for A in frontier:
            for B in generators:
                C = A @ B
                if not any(torch.allclose(C, E, atol=1e-6) for E in elements):
                    elements.append(C)
                    new.append(C)
        frontier = new
    return torch.stack(elements)


def _turn(axis, angle, Q):
    """The rotation by ``angle`` about ``axis`` in the frame turned by ``Q``."""
    axis = torch.as_tensor(axis, dtype=torch.float64)
    axis = axis / axis.norm()
    K = torch.tensor([[0.0, -axis[2], axis[1]], [axis[2], 0.0, -axis[0]], [-axis[1], axis[0], 0.0]], dtype=torch.float64)
    R = torch.eye(3, dtype=torch.float64) + math.sin(angle) * K + (1 - math.cos(angle)) * K @ K
    return Q @ R @ Q.T


def _generators(g):
    Q = rand_matrix(dtype=torch.float64, generator=g)
    mirror = Q @ torch.diag(torch.tensor([1.0, 1.0, -1.0], dtype=torch.float64)) @ Q.T
    yield Case(torch.stack([_turn([0, 0, 1], math.pi / 2, Q), mirror, _turn([1, 0, 0], math.pi, Q)]), note="a square's 4-fold turn, its plane's mirror and a half turn (a random frame)")
    Q = rand_matrix(dtype=torch.float64, generator=g)
    yield Case(torch.stack([_turn([1, 1, 1], 2 * math.pi / 3, Q), _turn([0, 0, 1], math.pi, Q)]), note="a 3-fold and a 2-fold turn of a tetrahedron")
    yield Case(_turn([0, 0, 1], 2 * math.pi / 3, rand_matrix(dtype=torch.float64, generator=g))[None], note="one 3-fold turn")


def _hidden_generators(g):
    Q = rand_matrix(dtype=torch.float64, generator=g)
    yield Case(torch.eye(3, dtype=torch.float64)[None], note="the identity alone")
    yield Case(-torch.eye(3, dtype=torch.float64)[None], note="the inversion alone")
    yield Case((-_turn([0, 0, 1], -math.pi / 2, Q))[None], note="a 4-fold rotoreflection alone")
    yield Case(torch.stack([_turn([0, 0, 1], math.pi / 2, Q), _turn([1, 1, 1], 2 * math.pi / 3, Q), -torch.eye(3, dtype=torch.float64)]), note="the 48 operations of a cube")
    yield Case(_turn([1, 2, 3], 2 * math.pi / 5, Q)[None], note="a 5-fold turn about an odd axis")


def _group_compare(got, expected, case):
    if not isinstance(got, torch.Tensor) or got.dim() != 3 or got.shape[1:] != (3, 3):
        return "return a tensor of shape (n, 3, 3), one matrix per element"
    got = got.to(torch.float64)
    def inside(A, S):
        return bool(((S - A).abs().amax(dim=(1, 2)) < 1e-6).any())
    for i, A in enumerate(got):
        if inside(A, got[:i]):
            return "some elements appear twice: list each element once"
    if not inside(torch.eye(3, dtype=torch.float64), got):
        return "the identity is missing"
    for A in got:
        if not inside(A, expected):
            return "some of your matrices are not products of the generators"
    for A in got:
        for B in got:
            if not inside(A @ B, got):
                return "not closed: the product of two of your elements is missing; keep multiplying until nothing new appears"
    if len(got) != len(expected):
        return "elements are missing: every generator must be in the group"
    return None


def _products_once(gens):
    """A mistake for 10.2: the identity, the generators and their pairwise products, without closing."""
    out = [torch.eye(3, dtype=gens.dtype)]
    for A in list(gens) + [A @ B for A in gens for B in gens]:
        if not any(torch.allclose(A, E, atol=1e-6) for E in out):
            out.append(A)
    return torch.stack(out)


# ---- 10.3: predict the lowest harmonic a tetrahedron allows


def tetrahedron_lowest_l():
    """The smallest l ≥ 1 for which one output with the parity of Y^l, (l, (−1)^l), can be non-zero for a regular tetrahedron."""
    return 3


def _lowest_compare(got, expected, case):
    if isinstance(got, bool) or not isinstance(got, int):
        return f"answer with a whole number, not {type(got).__name__}"
    if got == expected:
        return None
    if got < 1:
        return "l = 0 is always allowed: the question asks for the smallest l ≥ 1"
    if got == 1:
        return "a vector from a tetrahedron would have to be unchanged by turns about four different 3-fold axes"
    if got == 2:
        return "an l = 2 output is a symmetric traceless matrix: which one is unchanged by the tetrahedron's 120° turns about (1, 1, 1) and its other axes?"
    return "a smaller l works: look for a polynomial in x, y, z that the tetrahedron's turns and mirrors leave unchanged"


# ---- 10.4: how many outputs of an irrep a symmetric input allows


def allowed_count(ops, irrep):
    """The dimension of {v : D(R) v = v for every R in ops} for the irrep ("2e", "3o", ...): how many independent outputs survive."""
    ir = o3.Irrep(irrep)
    D = ir.D_from_matrix(ops.to(torch.float64)).to(torch.float64)  # (k, 2l+1, 2l+1), all operations at once
    projector = D.mean(0)  # the group average is the projector onto the invariant vectors
    return int(round(float(torch.trace(projector))))


def _ops_cases(g):
    Q = rand_matrix(dtype=torch.float64, generator=g)
    yield Case(symmetry_operations(_t(SQUARE) @ Q.T), "2e", note="a square (random frame), 2e")
    yield Case(symmetry_operations(_t(TETRAHEDRON) @ rand_matrix(dtype=torch.float64, generator=g).T), "3o", note="a tetrahedron, 3o")
    yield Case(symmetry_operations(_water(), ["O", "H", "H"]), "1o", note="water, 1o")
    yield Case(symmetry_operations(_water(), ["O", "H", "H"]), "2e", note="water, 2e")


def _hidden_ops(g):
    yield Case(torch.eye(3, dtype=torch.float64)[None], "3e", note="no symmetry at all")
    yield Case(symmetry_operations(_t(SQUARE)), "0o", note="a square, 0o")
    yield Case(symmetry_operations(_t(OCTAHEDRON) @ rand_matrix(dtype=torch.float64, generator=g).T), "4e", note="an octahedron, 4e")
    yield Case(symmetry_operations(_t(OCTAHEDRON)), "4o", note="an octahedron, 4o")
    yield Case(symmetry_operations(_t(PYRAMID), ["H", "H", "H", "N"]), "3e", note="a pyramid, 3e")


def _count_compare(got, expected, case):
    if isinstance(got, torch.Tensor) and got.numel() == 1 and not got.is_floating_point():
        got = int(got)
    if isinstance(got, bool) or not isinstance(got, int):
        return f"return a whole number, not {type(got).__name__}"
    if got == expected:
        return None
    ops, irrep = case.args
    ir = o3.Irrep(irrep)
    flipped = allowed_count(ops, f"{ir.l}{'o' if ir.p == 1 else 'e'}")
    if got == flipped and (torch.linalg.det(ops) < 0).any():
        return "the parity matters: an improper operation (det −1) multiplies an irrep of parity p by p"
    if got > 2 * ir.l + 1 or got < 0:
        return f"a {irrep} output has {2 * ir.l + 1} components: the count is between 0 and {2 * ir.l + 1}"
    return "wrong count: the outputs that survive are the vectors every D(R) leaves unchanged"


def _count_ignoring_parity(ops, irrep):
    """A mistake for 10.4: the count for the irrep of the other parity."""
    ir = o3.Irrep(irrep)
    return allowed_count(ops, f"{ir.l}{'o' if ir.p == 1 else 'e'}")


# ---- 10.5: the floor of a scalar target


def scalar_floor(pos, y, ops):
    """The lowest mean squared error of per-point scalar outputs that keep every operation in ops: mean (y − ȳ)², ȳ_i the average of y over i's orbit."""
    y_bar = torch.stack([y[permutation(pos, R)] for R in ops]).mean(0)
    return float(((y - y_bar) ** 2).mean())


def _floor_cases(g):
    square = _t(SQUARE) @ rand_matrix(dtype=torch.float64, generator=g).T
    yield Case(square, torch.randn(4, generator=g, dtype=torch.float64), symmetry_operations(square), note="a square")
    yield Case(_water(), torch.randn(3, generator=g, dtype=torch.float64), symmetry_operations(_water(), ["O", "H", "H"]), note="water")
    centred = torch.cat([_t(TETRAHEDRON), torch.zeros(1, 3, dtype=torch.float64)])
    yield Case(centred, torch.randn(5, generator=g, dtype=torch.float64), symmetry_operations(centred, [1, 1, 1, 1, 2]), note="a tetrahedron with an atom at its centre")


def _hidden_floor(g):
    yield Case(torch.zeros(1, 3, dtype=torch.float64), torch.randn(1, generator=g, dtype=torch.float64), torch.eye(3, dtype=torch.float64)[None], note="a single atom")
    cloud = torch.randn(5, 3, generator=g, dtype=torch.float64)
    yield Case(cloud, torch.randn(5, generator=g, dtype=torch.float64), torch.eye(3, dtype=torch.float64)[None], note="a cloud with no symmetry")
    square = _t(SQUARE)
    yield Case(square, torch.full((4,), 0.3, dtype=torch.float64), symmetry_operations(square), note="a symmetric target")
    pyramid = _t(PYRAMID)
    rotations = symmetry_operations(pyramid, ["H", "H", "H", "N"])
    yield Case(pyramid, torch.randn(4, generator=g, dtype=torch.float64), rotations[torch.linalg.det(rotations) > 0], note="a pyramid's rotations only (a subgroup)")


def _floor_compare(got, expected, case):
    if isinstance(got, torch.Tensor) and got.numel() == 1:
        got = float(got)
    if isinstance(got, bool) or not isinstance(got, (int, float)):
        return f"return the floor as a number, not {type(got).__name__}"
    pos, y, ops = case.args
    if close(got, expected) is None:
        return None
    if close(got, float(((y - y.mean()) ** 2).mean())) is None:
        return "that is the variance over all atoms: an output may differ between atoms that no operation carries onto each other"
    if expected > 1e-12 and close(got, expected * len(y)) is None:
        return "that is the sum of the squared differences: the floor is a mean squared error"
    if expected > 1e-12 and close(got, math.sqrt(expected)) is None:
        return "that is a root-mean-square error: the floor is the mean squared error"
    return "the floor is wrong: what is the best output an equivariant model can give to atoms that a symmetry operation carries onto each other?"


EXERCISES = [
    Exercise("10.1", pyramid_vectors, kind="value", name="pyramid_vectors", compare=_pyramid_compare, title="predict: the vectors a pyramid allows",
             mistakes=[({"N": 1, "H": 1, "whole molecule": 1}, "only one operation"), ({"N": 0, "H": 2, "whole molecule": 1}, "3-fold axis"),
                       ({"N": 1, "H": 2, "whole molecule": 0}, "whole molecule must"), ({"N": 1}, "keys"), ({"N": 1.0, "H": 2, "whole molecule": 1}, "whole number")]),
    Exercise("10.2", generate_group, _generators, _group_compare, title="close a group", name="generate_group", hidden=_hidden_generators, points=2,
             forbidden={"symml.symmetry.symmetry_operations": symmetry_operations},
             mistakes=[
                 (_products_once, "not closed"),
                 (lambda gens: generate_group(gens)[1:] if len(generate_group(gens)) > 1 else torch.eye(3)[None] * 2, "identity is missing"),
                 (lambda gens: torch.cat([generate_group(gens), generate_group(gens)[:1]]), "appear twice"),
                 (lambda gens: torch.cat([generate_group(gens), 0.5 * torch.eye(3, dtype=gens.dtype)[None]]), "not products of the generators"),
                 (lambda gens: generate_group(gens)[0], "shape (n, 3, 3)"),
                 (as_student("lambda gens: symmetry_operations(torch.cat([p @ R.T for R in gens for p in [torch.tensor([[0.3, 0.5, 0.9]], dtype=gens.dtype)]]))", symmetry_operations=symmetry_operations, torch=torch),
                  "calls symml.symmetry.symmetry_operations"),
             ]),
    Exercise("10.3", tetrahedron_lowest_l, kind="value", name="tetrahedron_lowest_l", compare=_lowest_compare, title="predict: the lowest harmonic a tetrahedron allows",
             mistakes=[(1, "four different 3-fold axes"), (2, "symmetric traceless"), (4, "a smaller l works"), (0, "always allowed"), ("3", "whole number")]),
    Exercise("10.4", allowed_count, _ops_cases, _count_compare, title="how many outputs of an irrep survive", name="allowed_count", hidden=_hidden_ops, points=2,
             forbidden={"symml.symmetry.invariant_vectors": invariant_vectors},
             mistakes=[
                 (_count_ignoring_parity, "parity matters"),
                 (lambda ops, irrep: 2 * o3.Irrep(irrep).l + 2, "the count is between"),
                 (lambda ops, irrep: allowed_count(ops, irrep) + 1 if allowed_count(ops, irrep) < 2 * o3.Irrep(irrep).l + 1 else 0, "wrong count"),
                 (lambda ops, irrep: float(allowed_count(ops, irrep)), "whole number"),
                 (as_student("lambda ops, irrep: len(invariant_vectors(ops))", invariant_vectors=invariant_vectors), "calls symml.symmetry.invariant_vectors"),
             ]),
    Exercise("10.5", scalar_floor, _floor_cases, _floor_compare, title="the floor of a scalar target", name="scalar_floor", hidden=_hidden_floor,
             forbidden={"symml.symmetry.loss_floor": loss_floor, "symml.symmetry.symmetric_average": symmetric_average},
             mistakes=[
                 (lambda pos, y, ops: float(((y - y.mean()) ** 2).mean()), "variance over all atoms"),
                 (lambda pos, y, ops: scalar_floor(pos, y, ops) * len(y), "sum of the squared"),
                 (lambda pos, y, ops: math.sqrt(scalar_floor(pos, y, ops)), "root-mean-square"),
                 (lambda pos, y, ops: scalar_floor(pos, y, ops) / 2, "floor is wrong"),
                 (lambda pos, y, ops: "low", "as a number"),
                 (as_student("lambda pos, y, ops: loss_floor(pos, torch.stack([y, 0 * y, 0 * y], 1), ops) * 3", loss_floor=loss_floor, torch=torch), "calls symml.symmetry.loss_floor"),
                 (as_student("lambda pos, y, ops: float(((y - symmetric_average(pos, torch.stack([y, 0 * y, 0 * y], 1), ops)[:, 0]) ** 2).mean())", symmetric_average=symmetric_average, torch=torch), "calls symml.symmetry.symmetric_average"),
             ]),
]
