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
from symml.irreps import decompose, null_space
from symml.so3 import matrix_z, rand_matrix



pytestmark = pytest.mark.usefixtures("float64")  # the keys are exact facts: derived in double precision (conftest)


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


# ---------------------------------------------------------------- 05


def test_key_05_3():
    phi = (1 + math.sqrt(5)) / 2
    corners = [torch.tensor([0.0, a, b * phi]) for a in (-1, 1) for b in (-1, 1)]
    vertices = torch.stack([v.roll(k) for v in corners for k in range(3)])  # the 12 cyclic permutations of (0, ±1, ±φ)
    assert torch.allclose(torch.cdist(vertices, vertices).sort(dim=1).values[:, 1:6], torch.full((12, 5), 2.0))  # five neighbours at the edge length
    power = [float(o3.spherical_harmonics(l, vertices, True).sum(dim=0).norm() ** 2) for l in range(1, 7)]
    derived = "".join(str(l) for l, p in zip(range(1, 7), power) if p < 1e-9)
    assert derived == key("05.3") and agrees("05.3", derived) and max(power) > 1


def test_key_05_5():
    g = torch.Generator().manual_seed(5)
    r = torch.tensor([0.9, 1.4, 2.0, 2.7])  # four neighbours at four distances
    vectors = r[:, None] * torch.nn.functional.normalize(torch.randn(4, 3, generator=g), dim=-1)
    radial = torch.exp(-((vectors.norm(dim=-1, keepdim=True) - torch.linspace(0.5, 3.0, 5)) ** 2) / (2 * 0.5**2))  # (4, 5)
    Y0 = o3.spherical_harmonics(0, vectors, True, normalization="component")  # (4, 1): all ones
    p = torch.einsum("jn,jm,km,kq->nq", radial, Y0, Y0, radial)  # p_nn'0 = Σ_jk g_n(r_j) Y⁰_j · Y⁰_k g_n'(r_k)
    derived = str(int(torch.linalg.matrix_rank(p)))
    assert derived == key("05.5") and agrees("05.5", derived)


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


# ---------------------------------------------------------------- 06


def _on(basis, rep):
    """``rep`` restricted to the span of the orthonormal rows of ``basis`` (an invariant subspace)."""
    return lambda g: basis @ rep(g) @ basis.T


def _subspace(condition, n):
    """Orthonormal rows spanning ``{t : condition(t) = 0}`` in R^n (``condition`` linear)."""
    return null_space(torch.stack([condition(e) for e in torch.eye(n)], dim=1))  # columns: the condition of each basis tensor


def test_key_06_1():
    E = lambda g: g  # noqa: E731  a vector
    B = lambda g: torch.det(g) * g  # noqa: E731  a pseudovector
    EB = lambda g: torch.kron(E(g), B(g))  # noqa: E731  E_i B_j, row-major
    swap = lambda t: t.reshape(3, 3).T.reshape(-1)  # noqa: E731
    sym_traceless = _subspace(lambda t: torch.cat([t - swap(t), t.reshape(3, 3).trace()[None]]), 9)
    antisym = _subspace(lambda t: t + swap(t), 9)  # the three numbers of E × B
    piezo = _subspace(lambda t: (t.reshape(3, 3, 3) - t.reshape(3, 3, 3).transpose(1, 2)).reshape(-1), 27)
    derived = {
        "E · B": decompose(lambda g: torch.det(g)[None, None])[0],
        "E × B": decompose(_on(antisym, EB))[0],
        "symmetric traceless part of E_i B_j": decompose(_on(sym_traceless, EB))[0],
        "piezoelectric tensor d_ijk = d_ikj": decompose(_on(piezo, lambda g: torch.kron(g, torch.kron(g, g))))[0],
    }
    assert [len(b) for b in (antisym, sym_traceless, piezo)] == [3, 5, 18]
    assert {k: irreps(v) for k, v in derived.items()} == {k: irreps(v) for k, v in key("06.1").items()}
    assert agrees("06.1", {k: str(v) for k, v in derived.items()})


def test_key_06_4():
    # the seven textbook l = 3 functions, polar axis z, as cubic polynomials evaluated on points
    x, y, z = torch.randn(3, 200, generator=torch.Generator().manual_seed(6))
    r2 = x**2 + y**2 + z**2
    def textbook(x, y, z):
        return torch.stack([y * (3 * x**2 - y**2), x * y * z, y * (5 * z**2 - r2), z * (5 * z**2 - 3 * r2),
                            x * (5 * z**2 - r2), z * (x**2 - y**2), x * (x**2 - 3 * y**2)])
    old, relabelled = textbook(x, y, z), textbook(y, z, x)  # the axes relabelled x -> y -> z -> x
    old = old / old.norm(dim=1, keepdim=True)
    relabelled = relabelled / relabelled.norm(dim=1, keepdim=True)
    overlap = (relabelled @ old.T).abs()  # |cos| between each relabelled function and each old one
    derived = int(((overlap - 1).abs() < 1e-9).any(dim=1).sum())
    assert derived == key("06.4") and agrees("06.4", derived)
