"""The answer key of every prediction of problem sets 00–06, computed here independently of it.

Each test derives the answer from scratch (autograd, e3nn, ``symml.irreps.decompose``,
``symml.symmetry.symmetry_operations``, ... or arithmetic written out here), never by calling the
exercise's reference, and then asks the exercise's own ``compare`` whether the declared key and
the derived answer agree. A wrong key fails here, whatever the reference and its check say.
"""

import math

import pytest
import torch
from e3nn import o3

from symml import checks
from symml.irreps import decompose
from symml.so3 import matrix_z, rand_matrix



@pytest.fixture(autouse=True)
def float64():
    """The keys are exact facts: derive them in double precision, and leave the default as it was."""
    old = torch.get_default_dtype()
    torch.set_default_dtype(torch.float64)
    yield
    torch.set_default_dtype(old)


def key(exercise_id):
    return checks.exercise(exercise_id).solution()


def agrees(exercise_id, derived):
    """The exercise's compare accepts the derived answer against the declared key (and vice versa)."""
    ex = checks.exercise(exercise_id)
    return ex.judge(derived, ex.solution(), checks.Case()) is None


def irreps(x):
    return o3.Irreps(x).sort().irreps.simplify()


def test_every_prediction_of_00_to_06_has_a_key_test():
    tested = {name.removeprefix("test_key_").replace("_", ".") for name in globals() if name.startswith("test_key_")}
    values = {ex.id for lesson in ["00", "01", "02", "03", "04", "05", "06"] for ex in checks.exercises(lesson).values() if ex.kind == "value"}
    assert values == tested


# ---------------------------------------------------------------- 00


def _lr_max(X):
    H = torch.autograd.functional.hessian(lambda w: ((X @ w - torch.zeros(len(X))) ** 2).mean(), torch.zeros(X.shape[1]))
    return float(2 / torch.linalg.eigvalsh(H).max())


def test_key_00_4():
    x = torch.linspace(-1, 1, 50)
    before, after = (_lr_max(torch.stack([x + s, torch.ones_like(x)], dim=1)) for s in (0.0, 5.0))
    derived = "smaller" if after < 0.99 * before else "larger" if after > 1.01 * before else "unchanged"
    assert derived == key("00.4")


def test_key_00_6():
    g = torch.Generator().manual_seed(0)
    x = 2 * torch.rand(200_000, generator=g) - 1
    y = 3 * x - 1 + 0.3 * torch.randn(200_000, generator=g)
    w = (x @ y) / (x @ x)  # the least-squares slope of y = w x
    floor = float(((w * x - y) ** 2).mean())
    assert abs(floor - key("00.6")) < 0.01 and agrees("00.6", floor)


# ---------------------------------------------------------------- 01


def _equivariant(f, rotations, points):
    return all(torch.allclose(f(points @ R.T), f(points) @ R.T, atol=1e-9) for R in rotations)


def test_key_01_4():
    candidates = {  # the table of the problem set, written out again
        "a": lambda x: x.mean(dim=0, keepdim=True),
        "b": lambda x: x[:1],
        "c": lambda x: x + torch.tensor([1.0, 0.0, 0.0]),
        "d": lambda x: x[x[:, 0].argmax()].unsqueeze(0),
        "e": lambda x: torch.linalg.cross(x[0], x[1]).unsqueeze(0),
        "f": lambda x: x * x.norm(dim=1, keepdim=True),
    }
    points, rotations = torch.randn(12, 3, generator=torch.Generator().manual_seed(0)), rand_matrix(8, seed=1)
    derived = "".join(letter for letter, f in candidates.items() if _equivariant(f, rotations, points))
    assert set(derived) == set(key("01.4")) and agrees("01.4", derived)


def test_key_01_6():
    def forces(points):
        x = points.clone().requires_grad_(True)
        i, j = torch.triu_indices(len(x), len(x), offset=1)
        energy = (((x[i] - x[j]).norm(dim=-1) - 1) ** 2).sum() + x[:, 2].sum()
        return -torch.autograd.grad(energy, x)[0]

    points = 1.5 * torch.randn(5, 3, generator=torch.Generator().manual_seed(2))
    every, about_z = rand_matrix(6, seed=3), [matrix_z(a) for a in (0.4, 1.3, 2.9, 5.0)]
    derived = "all" if _equivariant(forces, every, points) else "about z" if _equivariant(forces, about_z, points) else "none"
    assert derived == key("01.6")


# ---------------------------------------------------------------- 02


def test_key_02_4():
    derived, _ = decompose(lambda g: torch.det(g) * torch.kron(g, g))  # outer(vector, pseudovector)
    assert irreps(derived) == irreps(key("02.4")) and agrees("02.4", str(derived))


# ---------------------------------------------------------------- 03


def test_key_03_1():
    D2 = o3.Irrep("2e").D_from_matrix
    derived, _ = decompose(lambda g: torch.kron(D2(g), D2(g)))
    assert irreps(derived) == irreps(key("03.1")) and agrees("03.1", str(derived))


@pytest.mark.parametrize("exercise_id, case", [("03.1", None), ("03.4", checks.Case(["1o", "2e"])), ("02.4", None)])
def test_an_irreps_object_is_an_accepted_answer(exercise_id, case):
    """An ``o3.Irreps`` reaches compare as plain data (a tuple of (mul, (l, p))): still a right answer."""
    ex = checks.exercise(exercise_id)
    case = case or checks.Case()
    expected = ex.expected(case)
    as_received = checks._detach(o3.Irreps(expected))
    assert type(as_received) is tuple and ex.judge(as_received, expected, case) is None


# ---------------------------------------------------------------- 04


def test_key_04_2():
    from symml.cg import clebsch_gordan

    x = torch.randn(6, 5, generator=torch.Generator().manual_seed(4))  # features of type 2e
    survive = [l3 for l3 in range(5) if torch.einsum("ijk,ni,nj->nk", clebsch_gordan(2, 2, l3), x, x).abs().max() > 1e-9]
    derived = " + ".join(f"{l3}e" for l3 in survive)  # x ⊗ x of an even x is even
    assert irreps(derived) == irreps(key("04.2")) and agrees("04.2", derived)


def _verdict_04_1(source):
    from symml.checks import lesson04

    answer = checks.hints.as_student(source, **lesson04.STUDENT_TOOLS)
    return checks.grade("04.1", answer, seed=0)


def test_04_1_the_copied_direct_solve_fails_and_the_casimir_method_passes():
    from symml.checks import lesson04

    for source in (lesson04.DIRECT_SOLVE, lesson04.WHOLE_SPACE_SOLVE):
        v = _verdict_04_1(source)
        assert v.status == "failed" and "the lesson's direct solve" in v.message, v.message
    assert _verdict_04_1(lesson04.CASIMIR_METHOD).status == "passed"
