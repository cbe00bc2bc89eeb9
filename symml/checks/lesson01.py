"""Exercises of problem set 01, why symmetry: a rotation about any axis, moves of E(3), equivariance tests, a field that breaks symmetry.

Conventions: a point cloud is a tensor of shape ``(n, 3)``, one point per *row*, ordered (x, y, z).
A rotation matrix ``R`` acts on a column vector as ``R @ v``; on rows that is ``points @ R.T``. A
move of E(3) is a pair ``(Q, t)`` acting as ``x -> Q x + t``.
"""

import math

import ase
import numpy
import scipy.linalg
import sympy
import torch
from e3nn import o3
from scipy.spatial.transform import Rotation

from symml import irreps as symml_irreps
from symml import so3
from symml.checks import Case, Exercise, choice, close
from symml.checks.hints import as_student
from symml.so3 import matrix_z, rand_matrix

# ---------------------------------------------------------------- 01.1 a rotation about any axis


def rotation_about(axis, angle):
    """The rotation by ``angle`` (radians) about ``axis``, counterclockwise seen from the tip of ``axis``: ``(3, 3)``.

    ``axis``: ``(3,)``, non-zero, of any length (only its direction matters); ``angle``: a float.
    Rodrigues' formula ``R = I + sin θ K + (1 - cos θ) K²`` with ``K v = n × v`` and ``n`` the unit axis.
    """
    return _rodrigues(axis / axis.norm(), angle)


def _rodrigues(n, angle):  # a mistake: Rodrigues with the axis as given, not normalised
    zero = torch.zeros((), dtype=n.dtype)
    K = torch.stack([torch.stack([zero, -n[2], n[1]]), torch.stack([n[2], zero, -n[0]]), torch.stack([-n[1], n[0], zero])])
    return torch.eye(3, dtype=n.dtype) + math.sin(angle) * K + (1 - math.cos(angle)) * K @ K


def _angle(g, low=-math.pi, high=2 * math.pi):
    return float(low + (high - low) * torch.rand((), generator=g))


def rotation_about_cases(g):
    yield Case(torch.randn(3, generator=g), _angle(g), note="a random axis, not of length 1")
    yield Case(torch.nn.functional.normalize(torch.randn(3, generator=g), dim=0), _angle(g), note="a random unit axis")
    yield Case(torch.tensor([0.0, 0.0, 1.0]), _angle(g), note="the z axis")
    yield Case(torch.tensor([1.0, 1.0, 1.0]), 2 * math.pi / 3, note="a third of a turn about the diagonal")


def rotation_about_hidden(g):
    yield Case(torch.randn(3, generator=g), 0.0, note="an angle of 0")
    yield Case(torch.randn(3, generator=g), math.pi, note="a half turn")
    yield Case(7 * torch.randn(3, generator=g), -_angle(g, 0.1, 3.0), note="a long axis and a negative angle")
    yield Case(torch.tensor([0.0, -2.0, 0.0]), 1.0, note="the -y axis, length 2")
    yield Case(torch.randn(3, generator=g, dtype=torch.float64), _angle(g), note="float64 axis")


def rotation_about_compare(got, expected, case):
    axis, _ = case.args
    hint = close(got, expected, case, what="the matrix")
    if hint is None or not isinstance(got, torch.Tensor) or got.shape != (3, 3) or "None" in hint:
        return hint
    R = got.detach().double()
    if (R @ R.T - torch.eye(3, dtype=R.dtype)).abs().max() > 1e-4:
        return "this matrix is not a rotation: its columns are not orthonormal (R Rᵀ ≠ I)"
    if torch.det(R) < 0:
        return "det R = -1: this matrix includes a mirror reflection, so it is not a rotation"
    n = (axis / axis.norm()).double()
    if (R @ n - n).abs().max() > 1e-4:
        return "this rotation moves the axis; a rotation about an axis leaves the axis where it is"
    if close(R, expected.double().T) is None:
        return "this turns the wrong way: seen from the tip of the axis, a positive angle turns counterclockwise"
    return "this is a rotation about the right axis, but not by the right angle"


# Every library call that returns the answer of 01.1 (a rotation matrix from an axis and an angle),
# directly or through angles, quaternions, Wigner matrices or a matrix exponential.
ROTATION_FORBIDDEN = {
    "o3.axis_angle_to_matrix": o3.axis_angle_to_matrix, "o3.angles_to_matrix": o3.angles_to_matrix,
    "o3.matrix_x": o3.matrix_x, "o3.matrix_y": o3.matrix_y, "o3.matrix_z": o3.matrix_z,
    "o3.quaternion_to_matrix": o3.quaternion_to_matrix, "o3.wigner_D": o3.wigner_D,
    **{f"o3.{cls.__name__}.{name}": getattr(cls, name) for cls in (o3.Irrep, o3.Irreps)
       for name in ("D_from_axis_angle", "D_from_angles", "D_from_quaternion", "D_from_matrix")},
    "symml.so3.axis_angle_to_matrix": so3.axis_angle_to_matrix, "symml.so3.angles_to_matrix": so3.angles_to_matrix,
    "symml.so3.matrix_x": so3.matrix_x, "symml.so3.matrix_y": so3.matrix_y, "symml.so3.matrix_z": so3.matrix_z,
    "symml.so3._axis_matrix": so3._axis_matrix, "symml.so3._quaternion_to_matrix": so3._quaternion_to_matrix,
    "symml.so3.wigner_D": so3.wigner_D, "symml.so3.irrep_D_from_matrix": so3.irrep_D_from_matrix,
    "symml.irreps.D_from_matrix": symml_irreps.D_from_matrix,
    "torch.matrix_exp": torch.matrix_exp, "torch.linalg.matrix_exp": torch.linalg.matrix_exp,
    "scipy Rotation.from_rotvec": Rotation.from_rotvec, "scipy Rotation.from_euler": Rotation.from_euler,
    "scipy Rotation.from_quat": Rotation.from_quat, "scipy Rotation.from_mrp": Rotation.from_mrp,
    "scipy Rotation.from_davenport": Rotation.from_davenport,
    "scipy.linalg.expm": scipy.linalg.expm,
    # scipy.linalg.expm_frechet and funm are left out: scipy wraps them in a decorator, whose inner call the
    # tripwire reads as the library's own (symml/checks/forbidden.py), so expm_frechet(θK, ·)[0] still gets through
    "sympy.rot_axis1": sympy.rot_axis1, "sympy.rot_axis2": sympy.rot_axis2, "sympy.rot_axis3": sympy.rot_axis3,
    "sympy.rot_ccw_axis1": sympy.rot_ccw_axis1, "sympy.rot_ccw_axis2": sympy.rot_ccw_axis2, "sympy.rot_ccw_axis3": sympy.rot_ccw_axis3,
    "sympy.rot_givens": sympy.rot_givens, "sympy Quaternion.to_rotation_matrix": sympy.Quaternion.to_rotation_matrix,
    "ase.Atoms.rotate": ase.Atoms.rotate,
}

# one answer per forbidden route, written as a student would (each must be caught: tests/test_checks.py runs them)
ROUTES = [
    ("o3.axis_angle_to_matrix(a, torch.tensor(t, dtype=a.dtype))", "o3.axis_angle_to_matrix"),
    ("o3.angles_to_matrix(*[torch.tensor(t, dtype=a.dtype)] * 3)", "o3.angles_to_matrix"),
    ("o3.matrix_x(torch.tensor(t, dtype=a.dtype))", "o3.matrix_x"), ("o3.matrix_y(torch.tensor(t, dtype=a.dtype))", "o3.matrix_y"),
    ("o3.matrix_z(torch.tensor(t, dtype=a.dtype))", "o3.matrix_z"),
    ("o3.quaternion_to_matrix(o3.axis_angle_to_quaternion(a, torch.tensor(t, dtype=a.dtype)))", "o3.quaternion_to_matrix"),
    ("o3.wigner_D(1, *[torch.tensor(t, dtype=a.dtype)] * 3)", "o3.wigner_D"),
    ("o3.Irrep('1o').D_from_axis_angle(a, torch.tensor(t, dtype=a.dtype))", "o3.Irrep.D_from_axis_angle"),
    ("o3.Irrep('1o').D_from_angles(*[torch.tensor(t, dtype=a.dtype)] * 3)", "o3.Irrep.D_from_angles"),
    ("o3.Irrep('1o').D_from_quaternion(o3.axis_angle_to_quaternion(a, torch.tensor(t, dtype=a.dtype)))", "o3.Irrep.D_from_quaternion"),
    ("o3.Irrep('1o').D_from_matrix(torch.eye(3, dtype=a.dtype))", "o3.Irrep.D_from_matrix"),
    ("o3.Irreps('1o').D_from_axis_angle(a, torch.tensor(t, dtype=a.dtype))", "o3.Irreps.D_from_axis_angle"),
    ("o3.Irreps('1o').D_from_angles(*[torch.tensor(t, dtype=a.dtype)] * 3)", "o3.Irreps.D_from_angles"),
    ("o3.Irreps('1o').D_from_quaternion(o3.axis_angle_to_quaternion(a, torch.tensor(t, dtype=a.dtype)))", "o3.Irreps.D_from_quaternion"),
    ("o3.Irreps('1o').D_from_matrix(torch.eye(3, dtype=a.dtype))", "o3.Irreps.D_from_matrix"),
    ("so3.axis_angle_to_matrix(a, t)", "symml.so3.axis_angle_to_matrix"),
    ("so3.angles_to_matrix(t, t, t, dtype=a.dtype)", "symml.so3.angles_to_matrix"),
    ("so3.matrix_x(t, dtype=a.dtype)", "symml.so3.matrix_x"), ("so3.matrix_y(t, dtype=a.dtype)", "symml.so3.matrix_y"),
    ("so3.matrix_z(t, dtype=a.dtype)", "symml.so3.matrix_z"), ("so3._axis_matrix(t, 0, 1, dtype=a.dtype)", "symml.so3._axis_matrix"),
    ("so3._quaternion_to_matrix(torch.tensor([1.0, 0, 0, 0], dtype=a.dtype))", "symml.so3._quaternion_to_matrix"),
    ("so3.wigner_D(1, t, t, t)", "symml.so3.wigner_D"),
    ("so3.irrep_D_from_matrix(1, -1, torch.eye(3, dtype=a.dtype))", "symml.so3.irrep_D_from_matrix"),
    ("symml_irreps.D_from_matrix('1o', torch.eye(3, dtype=a.dtype))", "symml.irreps.D_from_matrix"),
    ("torch.matrix_exp(t * torch.eye(3, dtype=a.dtype))", "torch.matrix_exp"),
    ("torch.linalg.matrix_exp(t * torch.eye(3, dtype=a.dtype))", "torch.linalg.matrix_exp"),
    ("torch.as_tensor(Rotation.from_rotvec((t * a / a.norm()).numpy()).as_matrix(), dtype=a.dtype)", "scipy Rotation.from_rotvec"),
    ("torch.as_tensor(Rotation.from_euler('z', t).as_matrix(), dtype=a.dtype)", "scipy Rotation.from_euler"),
    ("torch.as_tensor(Rotation.from_quat([0, 0, 0, 1]).as_matrix(), dtype=a.dtype)", "scipy Rotation.from_quat"),
    ("torch.as_tensor(Rotation.from_mrp((math.tan(t / 4) * a / a.norm()).numpy()).as_matrix(), dtype=a.dtype)", "scipy Rotation.from_mrp"),
    ("torch.as_tensor(Rotation.from_davenport(numpy.eye(3), 'extrinsic', [t, 0, 0]).as_matrix(), dtype=a.dtype)", "scipy Rotation.from_davenport"),
    ("torch.as_tensor(scipy.linalg.expm(t * torch.eye(3).numpy()), dtype=a.dtype)", "scipy.linalg.expm"),
    ("torch.tensor(numpy.array(sympy.rot_axis1(t), dtype=float), dtype=a.dtype)", "sympy.rot_axis1"),
    ("torch.tensor(numpy.array(sympy.rot_axis2(t), dtype=float), dtype=a.dtype)", "sympy.rot_axis2"),
    ("torch.tensor(numpy.array(sympy.rot_axis3(t), dtype=float), dtype=a.dtype)", "sympy.rot_axis3"),
    ("torch.tensor(numpy.array(sympy.rot_ccw_axis1(t), dtype=float), dtype=a.dtype)", "sympy.rot_ccw_axis1"),
    ("torch.tensor(numpy.array(sympy.rot_ccw_axis2(t), dtype=float), dtype=a.dtype)", "sympy.rot_ccw_axis2"),
    ("torch.tensor(numpy.array(sympy.rot_ccw_axis3(t), dtype=float), dtype=a.dtype)", "sympy.rot_ccw_axis3"),
    ("torch.tensor(numpy.array(sympy.rot_givens(0, 1, t, dim=3), dtype=float), dtype=a.dtype)", "sympy.rot_givens"),
    ("torch.tensor(numpy.array(sympy.Quaternion.from_axis_angle(tuple(float(c) for c in a / a.norm()), t).to_rotation_matrix(), dtype=float), dtype=a.dtype)",
     "sympy Quaternion.to_rotation_matrix"),
    ("(lambda atoms: (atoms.rotate(math.degrees(t), a.numpy()), torch.as_tensor(atoms.positions.T, dtype=a.dtype))[1])(ase.Atoms('H3', positions=numpy.eye(3)))",
     "ase.Atoms.rotate"),
]


# ---------------------------------------------------------------- 01.2 composing two moves of E(3)


def compose(R1, t1, R2, t2):
    """The single move ``(R, t)`` equal to: first ``x -> R2 x + t2``, then ``x -> R1 x + t1``.

    ``R1, R2``: ``(3, 3)`` orthogonal; ``t1, t2``: ``(3,)``. Returns ``(R, t)`` with ``R = R1 R2`` and
    ``t = R1 t2 + t1``: E(3) is a group, and this is its multiplication.
    """
    return R1 @ R2, R1 @ t2 + t1


def compose_cases(g):
    for _ in range(2):
        yield Case(rand_matrix(generator=g), torch.randn(3, generator=g), rand_matrix(generator=g), torch.randn(3, generator=g))
    yield Case(-rand_matrix(generator=g), torch.randn(3, generator=g), rand_matrix(generator=g), torch.randn(3, generator=g), note="an improper first move (det = -1)")


def compose_hidden(g):
    R = rand_matrix(generator=g)
    yield Case(R, torch.randn(3, generator=g), R.T, torch.randn(3, generator=g), note="a rotation and its inverse")
    yield Case(torch.eye(3), torch.randn(3, generator=g), torch.eye(3), torch.randn(3, generator=g), note="two translations")
    yield Case(-torch.eye(3), torch.zeros(3), rand_matrix(generator=g), torch.randn(3, generator=g), note="an inversion after a move")


def compose_compare(got, expected, case):
    R1, t1, R2, t2 = case.args
    hint = close(got, expected, case, what="(R, t)")
    if hint is None or not (isinstance(got, (tuple, list)) and len(got) == 2):
        return hint
    if close(got, (R2 @ R1, R2 @ t1 + t2)) is None:
        return "that is the other order: the move (R2, t2) acts first, then (R1, t1)"
    if close(got[0], expected[0]) is None and close(got[1], t1 + t2) is None:
        return "the rotation R1 acts on everything the first move produced, its shift included"
    if close(got[0], expected[0]) is None:
        return "R is right, t is not: follow one point x through both moves"
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


def equivariance_error_hidden(g):
    yield Case("x-axis stretch", torch.randn(1, 3, generator=g), rand_matrix(generator=g), note="a single point")
    yield Case("centroid", torch.randn(5, 3, generator=g, dtype=torch.float64), rand_matrix(generator=g, dtype=torch.float64), note="float64 inputs")
    yield Case("each point's squared norm times ẑ", torch.randn(4, 3, generator=g), matrix_z(torch.tensor(1.0)), note="a turn about z")


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


# ---------------------------------------------------------------- 01.4 predict: which functions are equivariant

CANDIDATES = {  # functions (n, 3) -> (m, 3), equivariant under rotations or not
    "a": ("the centroid", lambda x: x.mean(dim=0, keepdim=True)),
    "b": ("the first point", lambda x: x[:1]),
    "c": ("every point shifted by (1, 0, 0)", lambda x: x + torch.tensor([1.0, 0.0, 0.0], dtype=x.dtype)),
    "d": ("the point with the largest x coordinate", lambda x: x[x[:, 0].argmax()].unsqueeze(0)),
    "e": ("the cross product of the first two points", lambda x: torch.linalg.cross(x[0], x[1]).unsqueeze(0)),
    "f": ("every point scaled by its distance to the origin", lambda x: x * x.norm(dim=1, keepdim=True)),
}


def equivariant_candidates():
    """The letters of the candidates that are equivariant under every rotation, as a string in order."""
    return "abef"


WHY_NOT_EQUIVARIANT = {
    "c": "(c) adds the same fixed vector whatever the orientation: turn the input, and the added vector does not turn along",
    "d": "(d) picks a point by one coordinate: after a turn, another point may have the largest x",
}
WHY_EQUIVARIANT = {
    "a": "(a) an average commutes with every linear map, and a rotation is one",
    "b": "(b) choosing by position in the list ignores orientation: rotate every point and the first one is rotated too",
    "e": "(e) a rotation keeps lengths, angles and handedness, and a × b is made of those alone",
    "f": "(f) the factor |x| is a length, and rotations keep lengths",
}


def equivariant_candidates_compare(got, expected, case=None):
    if not isinstance(got, str):
        return f"answer with a string of letters such as \"ab\", not {type(got).__name__}"
    picked = {c for c in got.lower() if not c.isspace() and c not in ",;"}
    if not picked <= set(CANDIDATES):
        return f"use only the letters {', '.join(CANDIDATES)}"
    for letter in sorted(picked - set(expected)):
        return WHY_NOT_EQUIVARIANT[letter]
    for letter in sorted(set(expected) - picked):
        return WHY_EQUIVARIANT[letter]
    return None


# ---------------------------------------------------------------- 01.5 forces in a field


def field_forces(points):
    """``F = -∂E/∂points`` for ``E = Σ_{i<j} (|r_i - r_j| - 1)² + Σ_i z_i``: springs plus a uniform pull along -z.

    ``(n, 3) -> (n, 3)``. The spring part is equivariant under every rotation; the field's part,
    ``(0, 0, -1)`` on each atom, only under rotations about z.
    """
    x = points.detach().clone().requires_grad_(True)
    i, j = torch.triu_indices(len(points), len(points), offset=1)
    energy = (((x[i] - x[j]).norm(dim=-1) - 1) ** 2).sum() + x[:, 2].sum()
    (grad,) = torch.autograd.grad(energy, x)
    return -grad


def _spring_forces(points):
    return field_forces(points) - torch.tensor([0.0, 0.0, -1.0], dtype=points.dtype)


def field_forces_call(answer, points, angle):
    """The forces on a molecule and on its copy turned by ``angle`` about z (the field's axis)."""
    Rz = matrix_z(torch.tensor(angle, dtype=points.dtype))
    return answer(points), answer(points @ Rz.T)


def _spread(g, n):  # random points kept apart, so every distance is well defined
    while True:
        x = 1.5 * torch.randn(n, 3, generator=g)
        if n < 2 or torch.pdist(x).min() > 0.3:
            return x


def field_forces_cases(g):
    yield Case(_spread(g, 4), float(2 * math.pi * torch.rand((), generator=g)))
    yield Case(_spread(g, int(torch.randint(2, 8, (), generator=g))), float(2 * math.pi * torch.rand((), generator=g)))
    yield Case(torch.tensor([[0.0, 0.0, 0.0], [2.0, 0.0, 0.0]]), 1.0, note="two atoms 2 apart")


def field_forces_hidden(g):
    yield Case(torch.randn(1, 3, generator=g), 0.5, note="a single atom")
    yield Case(torch.tensor([[0.0, 0.0, 0.0], [0.0, 0.0, 1.0]]), 2.0, note="two atoms exactly 1 apart, one above the other")
    yield Case(_spread(g, 5).double(), 3.0, note="float64 positions")


def field_forces_compare(got, expected, case):
    if not (isinstance(got, tuple) and len(got) == 2):
        return close(got, expected, case)
    points, angle = case.args
    mine, rotated = got
    hint = close(mine, expected[0], case, what="the forces")
    if hint is None:
        hint = close(rotated, expected[1], case, what="the forces on the turned molecule")
        if hint is None:
            return None
    if "shape" in hint or "None" in hint or "tensor" in hint:
        return hint
    pull = torch.zeros_like(expected[0])
    pull[:, 2] = -1.0
    springs = expected[0] - pull
    if close(mine, -expected[0]) is None:
        return "the forces point uphill: a force is minus the gradient of the energy"
    if len(points) > 1 and close(mine, 2 * springs + pull) is None:
        return "the springs pull twice as hard as they should: count each pair of atoms once"
    if close(mine, springs) is None:
        return "the field's pull is missing: E has a second term"
    if close(mine, pull) is None and springs.abs().max() > 1e-4:
        return "only the field acts here: the springs between the atoms are missing"
    Rz = matrix_z(torch.tensor(angle, dtype=torch.float64))
    if close(torch.as_tensor(rotated).double(), torch.as_tensor(mine).double() @ Rz.T, rtol=1e-3) is not None:
        return "symmetry broken: turning the molecule about the field's axis should turn its forces along"
    return hint


# ---------------------------------------------------------------- 01.6 predict: what symmetry the field leaves


def field_symmetry():
    """Under which rotations the forces of 01.5 are equivariant."""
    return "about z"


FIELD_OPTIONS = ["all", "about z", "none"]
field_symmetry_compare = choice(FIELD_OPTIONS, why={
    "all": "the field points along -z whatever you do to the molecule: tip the molecule over and ask whether its forces tip with it",
    "none": "the springs' forces turn with the molecule; ask which turns leave the field's direction where it was",
})


EXERCISES = [
    Exercise("01.1", rotation_about, rotation_about_cases, rotation_about_compare, title="a rotation about any axis", name="rotation_about",
             points=2, hidden=rotation_about_hidden, forbidden=ROTATION_FORBIDDEN,
             mistakes=[(lambda a, t: rotation_about(a, -t), "wrong way"), (lambda a, t: -rotation_about(a, t), "reflection"),
                       (lambda a, t: torch.ones(3, 3), "not a rotation"), (lambda a, t: matrix_z(t), "moves the axis"),
                       (lambda a, t: rotation_about(a, 2 * t), "not by the right angle"),
                       (_rodrigues, "not a rotation"), (lambda a, t: torch.ones(2, 2), "shape"), (lambda a, t: None, "forget to `return`"),
                       *[(as_student(f"lambda a, t: {call}", o3=o3, so3=so3, symml_irreps=symml_irreps, torch=torch, Rotation=Rotation,
                                     scipy=scipy, sympy=sympy, numpy=numpy, ase=ase, math=math), f"calls {name}") for call, name in ROUTES]]),
    Exercise("01.2", compose, compose_cases, compose_compare, title="composing two moves", name="compose", hidden=compose_hidden,
             mistakes=[(lambda R1, t1, R2, t2: compose(R2, t2, R1, t1), "other order"),
                       (lambda R1, t1, R2, t2: (R1 @ R2, t1 + t2), "its shift included"),
                       (lambda R1, t1, R2, t2: (R1 @ R2, R1 @ t2 - t1), "R is right, t is not"),
                       (lambda R1, t1, R2, t2: R1 @ R2, "tuple of 2")]),
    Exercise("01.3", equivariance_error, equivariance_error_cases, equivariance_error_compare, call=equivariance_error_call,
             title="testing equivariance", name="equivariance_error", hidden=equivariance_error_hidden,
             mistakes=[(lambda f, x, R: "small", "return one number"),
                       (lambda f, x, R: float((f(x @ R.T) - f(x) @ R.T).max()) - 1.0, "never be negative"),
                       (lambda f, x, R: float((f(x @ R.T) - f(x) @ R).abs().max()), "yet your error is not ≈ 0"),
                       (lambda f, x, R: 0.0, "misses broken symmetry"),
                       (lambda f, x, R: 2 * equivariance_error(f, x, R), "size of the difference")]),
    Exercise("01.4", equivariant_candidates, None, equivariant_candidates_compare, kind="value", name="equivariant",
             title="predict: which functions are equivariant",
             mistakes=[("abcef", "(c)"), ("abdef", "(d)"), ("bef", "(a)"), ("aef", "(b)"), ("abf", "(e)"), ("abe", "(f)"),
                       ("abz", "use only the letters"), (["a"], "string of letters")]),
    Exercise("01.5", field_forces, field_forces_cases, field_forces_compare, call=field_forces_call, title="forces in a field", points=2,
             name="forces", hidden=field_forces_hidden,
             mistakes=[(lambda x: -field_forces(x), "uphill"),
                       (lambda x: 2 * _spring_forces(x) + torch.tensor([0.0, 0.0, -1.0], dtype=x.dtype), "count each pair"),
                       (_spring_forces, "field's pull is missing"),
                       (lambda x: torch.tensor([0.0, 0.0, -1.0], dtype=x.dtype).expand(len(x), 3).clone(), "springs between the atoms are missing"),
                       (lambda x: field_forces(x) + (x[:, :1] > 0).to(x.dtype) * torch.tensor([0.3, 0.0, 0.0], dtype=x.dtype), "symmetry broken"),
                       (lambda x: field_forces(x)[:, :2], "shape")]),
    Exercise("01.6", field_symmetry, None, field_symmetry_compare, kind="value", name="field_symmetry",
             title="predict: the symmetry a field leaves",
             mistakes=[("all", "tip the molecule over"), ("none", "which turns leave"), ("some", "answer with one of")]),
]
