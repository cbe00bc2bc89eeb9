"""Exercises of problem set 01, why symmetry: rotations, equivariance tests, invariant features.

Conventions: a point cloud is a tensor of shape ``(n, 3)``, one point per *row*, ordered (x, y, z).
A rotation matrix ``R`` acts on a column vector as ``R @ v``; on rows that is ``points @ R.T``.
"""

import torch

from symml.checks import Case, Exercise, close
from symml.so3 import rand_matrix

# ---------------------------------------------------------------- 01.1 a quarter turn about z


def quarter_turn_z():
    """The matrix of the rotation by +90° about z (x̂ → ŷ, ŷ → -x̂, ẑ fixed), shape (3, 3)."""
    return torch.tensor([[0.0, -1.0, 0.0], [1.0, 0.0, 0.0], [0.0, 0.0, 1.0]])


def rotation_compare(got, expected, case):
    R = torch.as_tensor(got).detach().double() if isinstance(got, (torch.Tensor, list, tuple)) else None
    if R is None or R.shape != (3, 3):
        return close(got, expected, case, what="the matrix")
    if close(R, expected) is None:
        return None
    if (R @ R.T - torch.eye(3, dtype=R.dtype)).abs().max() > 1e-4:
        return "this matrix is not a rotation: its columns are not orthonormal (R Rᵀ ≠ I)"
    if torch.det(R) < 0:
        return "det R = -1: this matrix includes a mirror reflection, so it is not a rotation"
    z = torch.tensor([0.0, 0.0, 1.0], dtype=R.dtype)
    if (R @ z - z).abs().max() > 1e-4:
        return "this rotation moves the z axis; a rotation about z leaves ẑ where it is"
    if close(R, expected.double().T) is None:
        return "this turns the wrong way (by -90°): the quarter turn should take x̂ to ŷ"
    return "this is a rotation about z, but not by a quarter turn"


# ---------------------------------------------------------------- 01.2 rotating a point cloud


def rotate(points, R):
    """Rotate every point: ``(n, 3), (3, 3) -> (n, 3)``; row i becomes ``R @ points[i]``."""
    return points @ R.T


def rotate_cases(g):
    yield Case(torch.randn(5, 3, generator=g), rand_matrix(generator=g))
    yield Case(torch.randn(int(torch.randint(2, 30, (), generator=g)), 3, generator=g), rand_matrix(generator=g))
    yield Case(torch.randn(1, 3, generator=g), rand_matrix(generator=g), note="a single point")
    yield Case(torch.randn(4, 3, generator=g), torch.eye(3), note="the identity rotation")
    yield Case(torch.randn(3, 3, generator=g), -rand_matrix(generator=g), note="a rotation combined with inversion")
    yield Case(torch.zeros(0, 3), rand_matrix(generator=g), note="an empty point cloud, shape (0, 3)")


def rotate_compare(got, expected, case):
    points, R = case.args
    hint = close(got, expected, case, what="the rotated points")
    if hint is None or "shape" in hint or "None" in hint or "tensor" in hint:
        return hint
    if close(got, points @ R) is None:
        return "the points turn the wrong way: that is the inverse rotation (remember points are rows)"
    if len(points) > 1 and close(torch.cdist(torch.as_tensor(got).double(), torch.as_tensor(got).double()), torch.cdist(points.double(), points.double()), rtol=1e-3) is not None:
        return "the distances between the points changed, so this is not a rotation of the cloud"
    return hint


# ---------------------------------------------------------------- 01.3 testing equivariance numerically

# Functions from a point cloud (n, 3) to vectors (m, 3) that the student's test is run on. Cases
# name them, so the inputs stay plain data.
FUNCTIONS = {
    "centroid": lambda x: x.mean(dim=0, keepdim=True),
    "farthest point from the centroid": lambda x: (x - x.mean(0))[(x - x.mean(0)).norm(dim=1).argmax()].unsqueeze(0),
    "constant 'up' vector": lambda x: torch.tensor([[0.0, 0.0, 1.0]], dtype=x.dtype).expand(len(x), 3),
    "x-axis stretch": lambda x: x * torch.tensor([2.0, 1.0, 1.0], dtype=x.dtype),
    "each point's squared norm times ẑ": lambda x: (x * x).sum(1, keepdim=True) * torch.tensor([0.0, 0.0, 1.0], dtype=x.dtype),
}
EQUIVARIANT = {"centroid", "farthest point from the centroid"}


def equivariance_error(f, points, R):
    """``max |f(points @ R.T) - f(points) @ R.T|`` over every entry: how far ``f`` is from equivariant.

    ``f``: ``(n, 3) -> (m, 3)``; ``points``: ``(n, 3)``; ``R``: ``(3, 3)``. Returns a float, ≥ 0,
    about 1e-7 (float32 round-off) for an equivariant ``f``.
    """
    return float((f(points @ R.T) - f(points) @ R.T).abs().max())


def equivariance_error_call(answer, name, points, R):
    return answer(FUNCTIONS[name], points, R)


def equivariance_error_cases(g):
    for name in FUNCTIONS:
        yield Case(name, torch.randn(6, 3, generator=g), rand_matrix(generator=g), note=f"the {name}")
    yield Case("constant 'up' vector", torch.randn(4, 3, generator=g), torch.eye(3), note="the identity rotation")


def equivariance_error_compare(got, expected, case):
    name = case.args[0]
    if isinstance(got, torch.Tensor) and got.numel() == 1:
        got = got.item()
    if isinstance(got, bool) or not isinstance(got, (int, float)):
        return f"return one number (the largest difference), not {type(got).__name__}"
    if got < 0:
        return "an error should never be negative: measure the size of the difference"
    tol = 1e-4
    if name in EQUIVARIANT and expected < tol and got > tol:
        return f"the {name} is equivariant, yet your error is not ≈ 0: compare f(rotated points) with the rotated f(points)"
    if expected > tol and got < tol:
        return f"the {name} is not equivariant, yet your error is ≈ 0: your test misses broken symmetry"
    if abs(got - expected) > tol + 1e-3 * expected:
        return "the size of the difference is off: use the largest absolute difference over all entries"
    return None


# ---------------------------------------------------------------- 01.4 an invariant feature: sorted distances


def sorted_distances(points):
    """All distances ``|r_i - r_j|`` for ``i < j``, sorted ascending: ``(n, 3) -> (n (n - 1) / 2,)``.

    Invariant to rotations, translations, inversion and to relabelling the points.
    """
    i, j = torch.triu_indices(len(points), len(points), offset=1)
    return (points[i] - points[j]).norm(dim=-1).sort().values


def sorted_distances_call(answer, points, R, t, perm):
    """The feature of a cloud, of the same cloud moved (rotated and shifted), and relabelled."""
    return answer(points), answer(points @ R.T + t), answer(points[perm])


def sorted_distances_cases(g):
    def case(n, note=""):
        return Case(2 * torch.randn(n, 3, generator=g), rand_matrix(generator=g), torch.randn(3, generator=g), torch.randperm(n, generator=g), note=note)

    yield case(5)
    yield case(int(torch.randint(3, 12, (), generator=g)))
    yield case(2, note="two points")
    yield case(1, note="a single point (no pairs)")
    water = torch.tensor([[0.0, 0.0, 0.0], [0.757, 0.586, 0.0], [-0.757, 0.586, 0.0]])
    yield Case(water, rand_matrix(generator=g), torch.randn(3, generator=g), torch.tensor([2, 0, 1]), note="a water molecule")


def sorted_distances_compare(got, expected, case):
    n = len(case.args[0])
    if not (isinstance(got, tuple) and len(got) == 3):
        return close(got, expected, case)
    mine, moved, relabelled = got
    hint = close(mine, expected[0], case, what="the feature vector")
    if hint is None:
        hint = close(moved, expected[1], case, what="the feature of the moved cloud")
        if hint is None:
            return close(relabelled, expected[2], case, what="the feature of the relabelled cloud")
    if "shape" in hint and isinstance(mine, torch.Tensor) and mine.dim() >= 1:
        count = mine.numel()
        if count == n * n:
            return "keep each pair once (i < j) and leave out each point's zero distance to itself"
        if count == n * (n - 1):
            return "each pair is counted twice: keep pairs with i < j"
        if count == n * (n + 1) // 2:
            return "leave out each point's zero distance to itself (i < j, not i ≤ j)"
        return hint
    if "shape" in hint or "None" in hint or "tensor" in hint:
        return hint
    mine = torch.as_tensor(mine).detach().double()
    if mine.numel() > 1 and (mine[1:] < mine[:-1] - 1e-6).any():
        return "the features are not sorted in ascending order"
    if close(moved, mine, rtol=1e-3) is not None:
        return "the features change when the cloud is rotated and shifted: they are not invariant"
    if close(relabelled, mine, rtol=1e-3) is not None:
        return "the features change when the points are relabelled (listed in another order)"
    if close(mine, expected[0] ** 2) is None:
        return "these are squared distances; take the square root"
    return hint


# ---------------------------------------------------------------- 01.5 forces that rotate with the molecule


def forces(points):
    """Forces ``F = -∂E/∂points`` for the spring energy ``E = Σ_{i<j} (|r_i - r_j| - 1)²``; ``(n, 3) -> (n, 3)``.

    E is invariant, so F is equivariant: ``forces(points @ R.T) == forces(points) @ R.T``.
    """
    x = points.detach().clone().requires_grad_(True)
    i, j = torch.triu_indices(len(points), len(points), offset=1)
    energy = (((x[i] - x[j]).norm(dim=-1) - 1) ** 2).sum()
    (grad,) = torch.autograd.grad(energy, x)
    return -grad


def forces_call(answer, points, R):
    """The forces on a molecule and on its rotated copy."""
    return answer(points), answer(points @ R.T)


def forces_cases(g):
    def spread(n):  # random points kept apart, so every distance is well defined
        while True:
            x = 1.5 * torch.randn(n, 3, generator=g)
            if n < 2 or torch.pdist(x).min() > 0.3:
                return x

    yield Case(spread(4), rand_matrix(generator=g))
    yield Case(spread(int(torch.randint(2, 8, (), generator=g))), rand_matrix(generator=g))
    yield Case(torch.tensor([[0.0, 0.0, 0.0], [0.0, 0.0, 1.0]]), rand_matrix(generator=g), note="two atoms exactly 1 apart (at rest)")
    yield Case(torch.tensor([[0.0, 0.0, 0.0], [2.0, 0.0, 0.0]]), rand_matrix(generator=g), note="two atoms 2 apart")


def forces_compare(got, expected, case):
    if not (isinstance(got, tuple) and len(got) == 2):
        return close(got, expected, case)
    mine, rotated = got
    R = case.args[1]
    hint = close(mine, expected[0], case, what="the forces")
    if hint is None:
        hint = close(rotated, expected[1], case, what="the forces on the rotated molecule")
        if hint is None:
            return None
    if "shape" in hint or "None" in hint or "tensor" in hint:
        return hint
    if close(mine, -expected[0]) is None:
        return "the forces point uphill: a force is minus the gradient of the energy"
    if "factor" in hint and "2×" in hint:
        return f"{hint}: count each pair of atoms once"
    mine = torch.as_tensor(mine).detach()
    if mine.abs().max() > 1e-6 and mine.sum(0).abs().max() > 1e-3 * mine.abs().max():
        return "the forces do not add up to zero, yet each pair pushes its two atoms equally and oppositely"
    if close(rotated, mine @ R.T, rtol=1e-3) is not None:
        return "symmetry broken: rotating the molecule should rotate the forces with it"
    return hint


EXERCISES = [
    Exercise("01.1", quarter_turn_z, compare=rotation_compare, kind="value", title="a quarter turn about z", name="R_z"),
    Exercise("01.2", rotate, rotate_cases, rotate_compare, title="rotating a point cloud", name="rotate"),
    Exercise("01.3", equivariance_error, equivariance_error_cases, equivariance_error_compare, call=equivariance_error_call, title="testing equivariance", name="equivariance_error"),
    Exercise("01.4", sorted_distances, sorted_distances_cases, sorted_distances_compare, call=sorted_distances_call, title="an invariant feature", name="sorted_distances"),
    Exercise("01.5", forces, forces_cases, forces_compare, call=forces_call, title="forces that rotate with the molecule", name="forces"),
]
