"""Exercises of lesson 10, symmetry is preserved: permutations, groups, allowed outputs, the symmetric average."""

import math

import torch

from symml.checks import Case, Exercise, as_bool, close
from symml.irreps import null_space
from symml.so3 import matrix_z, rand_matrix
from symml.symmetry import symmetry_operations

SQUARE = [[1.0, 1.0, 0.0], [-1.0, 1.0, 0.0], [-1.0, -1.0, 0.0], [1.0, -1.0, 0.0]]
TETRAHEDRON = [[1.0, 1.0, 1.0], [1.0, -1.0, -1.0], [-1.0, 1.0, -1.0], [-1.0, -1.0, 1.0]]


def _triangle():
    return torch.tensor([[math.cos(a), math.sin(a), 0.0] for a in (0.5 * math.pi + 2 * math.pi * k / 3 for k in range(3))], dtype=torch.float64)


def _water():
    half = math.radians(104.5) / 2
    return torch.tensor([[0.0, 0.0, 0.0], [0.96 * math.sin(half), 0.96 * math.cos(half), 0.0], [-0.96 * math.sin(half), 0.96 * math.cos(half), 0.0]],
                        dtype=torch.float64)


def _symmetric_cloud(g):
    """Random points plus their images under a 3-fold rotation about a random axis: (9, 3), and the rotation."""
    Q = rand_matrix(dtype=torch.float64, generator=g)
    R = Q @ matrix_z(2 * math.pi / 3, dtype=torch.float64) @ Q.T
    p = torch.randn(3, 3, generator=g, dtype=torch.float64)
    return torch.cat([p, p @ R.T, p @ R.T @ R.T]) + torch.randn(3, generator=g, dtype=torch.float64), R


def _shuffled(pos, g):
    return pos[torch.randperm(len(pos), generator=g)]


# ---- 10.1: the permutation an operation induces


def induced_permutation(pos, R):
    """perm (n,) with R (x_i − c) + c = x_perm[i], c the centroid: where each point goes."""
    c = pos.mean(dim=0)
    moved = (pos - c) @ R.T + c
    return torch.cdist(moved, pos).argmin(dim=1)


def _operations_on_shapes(g):
    square = _shuffled(torch.tensor(SQUARE, dtype=torch.float64), g)
    ops = symmetry_operations(square)
    yield Case(square, ops[int(torch.randint(1, len(ops), (1,), generator=g))])
    tetrahedron = _shuffled(torch.tensor(TETRAHEDRON, dtype=torch.float64), g) + 2.0
    ops = symmetry_operations(tetrahedron)
    yield Case(tetrahedron, ops[int(torch.randint(1, len(ops), (1,), generator=g))], note="a shifted tetrahedron")
    cloud, R = _symmetric_cloud(g)
    yield Case(cloud, R, note="a cloud with a 3-fold axis")
    yield Case(square, torch.eye(3, dtype=torch.float64), note="the identity")


def _permutation_compare(got, expected, case):
    if not isinstance(got, torch.Tensor):
        return f"return a tensor of point indices, not {type(got).__name__}"
    if got.shape != expected.shape:
        return f"the permutation should have one entry per point, shape {tuple(expected.shape)}, not {tuple(got.shape)}"
    if got.is_floating_point() and not torch.equal(got, got.round()):
        return "the entries should be whole numbers, the indices of points"
    got = got.long()
    if torch.equal(got, expected):
        return None
    if sorted(got.tolist()) != list(range(len(got))):
        return "that is not a permutation: some points are hit twice, others never (did you measure positions from the centroid?)"
    inverse = torch.empty_like(expected)
    inverse[expected] = torch.arange(len(expected))
    if torch.equal(got, inverse):
        return "you found where each point comes from, perm[j] = i for R x_i = x_j: the exercise wants where it goes"
    return "the permutation is wrong"


# ---- 10.2: is it a group?


def is_group(ops):
    """True when the set of 3x3 matrices ops (k, 3, 3) is closed under multiplication (for a finite set of invertible matrices, that makes a group)."""
    products = (ops[:, None] @ ops[None, :]).reshape(-1, 1, 3, 3)
    found = ((products - ops[None]).abs().amax(dim=(-1, -2)) < 1e-6).any(dim=1)
    return bool(found.all())


def _sets(g):
    square = symmetry_operations(torch.tensor(SQUARE, dtype=torch.float64))
    k = int(torch.randint(1, len(square), (1,), generator=g))
    yield Case(square[torch.randperm(len(square), generator=g)], note="the square's operations, shuffled")
    yield Case(torch.cat([square[:k], square[k + 1:]]), note="the square's operations but one")
    yield Case(symmetry_operations(_water()), note="water's operations")
    R = rand_matrix(dtype=torch.float64, generator=g)
    yield Case(torch.stack([torch.eye(3, dtype=torch.float64), R]), note="the identity and a random rotation")
    yield Case(torch.stack([torch.eye(3, dtype=torch.float64), -torch.eye(3, dtype=torch.float64)]), note="the identity and the inversion")
    C3 = R @ matrix_z(2 * math.pi / 3, dtype=torch.float64) @ R.T
    yield Case(torch.stack([C3, C3 @ C3, torch.eye(3, dtype=torch.float64)]), note="the turns by 120° about an axis")
    yield Case(torch.stack([C3, C3 @ C3]), note="the two turns by 120° without the identity")
    yield Case(symmetry_operations(torch.tensor(TETRAHEDRON, dtype=torch.float64))[1:], note="the tetrahedron's operations without the identity")


def _bool_compare(got, expected, case):
    got = as_bool(got)
    if isinstance(got, str):
        return got
    if got == expected:
        return None
    return "this set is not a group, but you said it is" if got else "this set is a group, but you said it is not (products are equal only up to rounding: compare with a tolerance)"


# ---- 10.3: the vectors a symmetric shape allows


def allowed_vectors(ops):
    """An orthonormal basis (rows, (k, 3)) of the vectors v with R v = v for every R in ops."""
    A = torch.cat([R - torch.eye(3, dtype=R.dtype) for R in ops])
    return null_space(A)


def _groups(g):
    Q = rand_matrix(dtype=torch.float64, generator=g)
    water = symmetry_operations(_water() @ Q.T)
    yield Case(water, note="water's operations, in a random orientation")
    yield Case(symmetry_operations(torch.tensor(SQUARE, dtype=torch.float64)), note="the square's operations")
    yield Case(torch.eye(3, dtype=torch.float64)[None], note="the identity alone")
    n = torch.randn(3, generator=g, dtype=torch.float64)
    n = n / n.norm()
    mirror = torch.eye(3, dtype=torch.float64) - 2 * torch.outer(n, n)
    yield Case(torch.stack([torch.eye(3, dtype=torch.float64), mirror]), note="a single mirror plane")
    pyramid = torch.cat([_triangle() * torch.tensor([1.0, 1.0, 0.0], dtype=torch.float64), torch.tensor([[0.0, 0.0, 0.8]], dtype=torch.float64)])
    yield Case(symmetry_operations(pyramid @ Q.T), note="a triangular pyramid")


def _subspace_compare(got, expected, case):
    if not isinstance(got, torch.Tensor):
        return f"return a tensor of basis vectors (rows), not {type(got).__name__}"
    got = got.to(torch.float64)
    if got.dim() == 1 and got.numel() in (0, 3):
        got = got.reshape(-1, 3)
    if got.dim() != 2 or got.shape[1] != 3:
        return f"return the basis as rows, shape (k, 3), not {tuple(got.shape)}"
    k, dim = got.shape[0], expected.shape[0]
    ops = case.args[0]
    if k and (got @ ops.transpose(1, 2) - got[None]).abs().max() > 1e-6:
        return "some of your vectors change under one of the operations: they are not allowed"
    if k and (got @ got.T - torch.eye(k, dtype=torch.float64)).abs().max() > 1e-6:
        return "the rows should be orthonormal (unit length, perpendicular)"
    if k != dim:
        return f"your basis has {k} vector{'s' * (k != 1)}, but the allowed vectors form a space of dimension {dim}"
    return None


# ---- 10.4: the symmetric average, the best an equivariant network can do


def symmetric_average(pos, target, ops):
    """t̄_i = (1/|G|) Σ_g R_gᵀ t_{π_g(i)}: the per-point vectors closest to target that respect every operation."""
    out = torch.zeros_like(target)
    for R in ops:
        out = out + target[induced_permutation(pos, R)] @ R
    return out / len(ops)


def _targets(g):
    square = torch.tensor(SQUARE, dtype=torch.float64)
    rectangle = square * torch.tensor([1.6, 1.2, 1.0], dtype=torch.float64)
    yield Case(square, rectangle - square, symmetry_operations(square), note="square → rectangle")
    yield Case(square, torch.randn(4, 3, generator=g, dtype=torch.float64), symmetry_operations(square), note="the square, random vectors")
    triangle = _triangle() + torch.tensor([0.5, 0.0, 0.0], dtype=torch.float64)
    yield Case(triangle, torch.randn(3, 3, generator=g, dtype=torch.float64), symmetry_operations(triangle), note="a shifted triangle, random vectors")
    water = _water()
    yield Case(water, torch.randn(3, 3, generator=g, dtype=torch.float64), symmetry_operations(water, ["O", "H", "H"]), note="water, random vectors")
    cloud, R = _symmetric_cloud(g)
    yield Case(cloud, torch.randn(9, 3, generator=g, dtype=torch.float64), torch.stack([torch.eye(3, dtype=torch.float64), R, R @ R]),
               note="a cloud with a 3-fold axis, random vectors")


def _average_compare(got, expected, case):
    pos, target, ops = case.args
    if not isinstance(got, torch.Tensor):
        return f"return a tensor of shape {tuple(target.shape)}, not {type(got).__name__}"
    if got.shape != target.shape:
        return f"return one vector per point, shape {tuple(target.shape)}, not {tuple(got.shape)}"
    got = got.to(torch.float64)
    if close(got, expected) is None:
        return None
    for R in ops:
        if (got[induced_permutation(pos, R)] - got @ R.T).abs().max() > 1e-6:
            return "the result does not respect the symmetry, out[π_g(i)] ≠ R_g out[i]: check the direction R_g acts in, and the permutation"
    if close(got, len(ops) * expected) is None:
        return "divide by the number of operations"
    if close(got, sum(target @ R for R in ops) / len(ops)) is None:
        return "each operation also moves the points: take the target at the point π_g(i) that point i goes to"
    return "the result respects the symmetry but is not the average of the target: average every operation's view of the target"


EXERCISES = [
    Exercise("10.1", induced_permutation, _operations_on_shapes, _permutation_compare, title="the permutation of an operation", name="induced_permutation"),
    Exercise("10.2", is_group, _sets, _bool_compare, title="is it a group?", name="is_group"),
    Exercise("10.3", allowed_vectors, _groups, _subspace_compare, title="the vectors a symmetric shape allows", name="allowed_vectors"),
    Exercise("10.4", symmetric_average, _targets, _average_compare, title="the symmetric average", name="symmetric_average"),
]
