import pytest
import sympy
import torch
from e3nn import o3

from conftest import random_O3
from symml.irreps import D_from_matrix, decompose, vector_product_polynomials
from symml.so3 import rand_matrix


def assert_decomposes(rep, irreps, Q, expected):
    assert irreps == o3.Irreps(expected)
    n = Q.shape[0]
    assert torch.allclose(Q @ Q.T, torch.eye(n, dtype=torch.float64), atol=1e-10)
    for R in random_O3(6, seed=11):
        assert torch.allclose(Q @ rep(R) @ Q.T, irreps.D_from_matrix(R), atol=1e-10)


def test_tensor_square_of_a_vector(float64):
    rep = lambda R: torch.kron(R, R)  # noqa: E731
    assert_decomposes(rep, *decompose(rep), "0e + 1e + 2e")


def test_three_vectors(float64):
    rep = lambda R: torch.kron(torch.kron(R, R), R)  # noqa: E731
    assert_decomposes(rep, *decompose(rep), "0o + 3x1o + 2x2o + 3o")


def test_pseudovector_and_pseudoscalar(float64):
    rep = lambda R: torch.det(R) * R  # noqa: E731
    assert_decomposes(rep, *decompose(rep), "1e")
    rep = lambda R: torch.det(R).reshape(1, 1)  # noqa: E731
    assert_decomposes(rep, *decompose(rep), "0o")


def test_scrambled_basis_with_multiplicities(float64):
    # a direct sum in a random orthonormal basis: decompose must undo the scrambling
    irreps = o3.Irreps("1o + 2e + 0e + 1o + 2e + 1e + 3o")
    S = torch.linalg.qr(torch.randn(irreps.dim, irreps.dim, generator=torch.Generator().manual_seed(0)))[0]
    rep = lambda R: S @ irreps.D_from_matrix(R) @ S.T  # noqa: E731
    assert_decomposes(rep, *decompose(rep), "0e + 2x1o + 1e + 2x2e + 3o")


def test_decompose_rejects_bad_representations(float64):
    with pytest.raises(ValueError, match="orthogonal"):
        decompose(lambda R: 2 * R)
    with pytest.raises(ValueError, match="not a representation"):
        decompose(lambda R: R @ R)
    with pytest.raises(ValueError, match="square"):
        decompose(lambda R: R[:2])


def test_D_from_matrix_equals_e3nn(float64):
    R = random_O3(4, seed=5)
    for irreps in ["0e + 1o", "2x1e + 3x2o + 4e", "5o"]:
        assert torch.allclose(D_from_matrix(irreps, R), o3.Irreps(irreps).D_from_matrix(R), atol=1e-10)


def test_vector_product_polynomials_are_exact_and_match_e3nn(float64):
    x, y, z = sympy.symbols("x y z", real=True)
    parts, Q = vector_product_polynomials()
    assert [str(ir) for ir, _ in parts] == ["0e", "1e", "2e"]
    (_, scalar), (_, cross), (_, quadratic) = parts
    assert sympy.simplify(scalar[0] - (x**2 + y**2 + z**2) / sympy.sqrt(3)) == 0
    assert cross == [0, 0, 0]  # v × v = 0
    # the 2e part is proportional to e3nn's l=2 spherical harmonics, polar axis y (middle component)
    point = torch.tensor([0.3, -1.2, 0.7])
    values = torch.tensor([float(p.subs({x: 0.3, y: -1.2, z: 0.7})) for p in quadratic])
    e3nn_values = o3.spherical_harmonics(2, point, normalize=False, normalization="component")
    ratio = values / e3nn_values
    assert torch.allclose(ratio, ratio[0].expand(5), atol=1e-12)
    middle = sympy.expand(quadratic[2])
    assert sympy.expand(middle / middle.coeff(y, 2)) == sympy.expand(y**2 - (x**2 + z**2) / 2)
    # two different vectors: the 1e part is the cross product
    u = sympy.symbols("u1:4", real=True)
    v = sympy.symbols("v1:4", real=True)
    (_, _), (_, cross), _ = vector_product_polynomials(u, v)[0]
    expected = sympy.Matrix(u).cross(sympy.Matrix(v)) / sympy.sqrt(2)
    assert all(sympy.simplify(a - b) == 0 for a, b in zip(cross, expected))
