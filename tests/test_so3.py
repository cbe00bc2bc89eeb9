import math

import pytest
import torch
from e3nn import o3

from conftest import DEVICES, random_O3
from symml import so3


def test_rand_matrix_is_a_seeded_rotation():
    R = so3.rand_matrix(500, dtype=torch.float64, seed=1)
    assert R.shape == (500, 3, 3)
    assert torch.allclose(R @ R.transpose(-1, -2), torch.eye(3, dtype=torch.float64).expand(500, 3, 3), atol=1e-12)
    assert torch.allclose(torch.det(R), torch.ones(500, dtype=torch.float64), atol=1e-12)
    assert torch.equal(R, so3.rand_matrix(500, dtype=torch.float64, seed=1))
    assert not torch.equal(R, so3.rand_matrix(500, dtype=torch.float64, seed=2))


def test_rand_matrix_is_uniform():
    # Haar measure: E[R_ij] = 0 and E[R_ij^2] = 1/3; with 40 000 draws both are known to ~0.003.
    R = so3.rand_matrix(40_000, dtype=torch.float64, seed=0)
    assert R.mean(0).abs().max() < 0.015
    assert (R.pow(2).mean(0) - 1 / 3).abs().max() < 0.015
    # the angle of rotation has density (1 - cos θ)/π, so E[cos θ] = -1/2 and E[tr R] = 0
    assert abs(R.diagonal(dim1=-2, dim2=-1).sum(-1).mean()) < 0.02


def test_axis_rotations_and_euler_angles(float64):
    angle = torch.tensor(0.3)
    assert torch.allclose(so3.matrix_x(angle), o3.matrix_x(angle))
    assert torch.allclose(so3.matrix_y(angle), o3.matrix_y(angle))
    assert torch.allclose(so3.matrix_z(angle), o3.matrix_z(angle))
    # quarter turn about y takes z to x
    assert torch.allclose(so3.matrix_y(math.pi / 2) @ torch.tensor([0.0, 0, 1]), torch.tensor([1.0, 0, 0]), atol=1e-15)
    R = so3.rand_matrix(100, seed=3)
    assert torch.allclose(so3.angles_to_matrix(*so3.matrix_to_angles(R)), R, atol=1e-13)
    # gimbal lock: beta = 0 and beta = pi
    for beta in (0.0, math.pi):
        R = so3.angles_to_matrix(0.4, beta, 1.1)
        assert torch.allclose(so3.angles_to_matrix(*so3.matrix_to_angles(R)), R, atol=1e-13)


def test_axis_angle(float64):
    axis = torch.tensor([1.0, -2.0, 0.5])
    R = so3.axis_angle_to_matrix(axis, 0.7)
    assert torch.allclose(R, o3.axis_angle_to_matrix(axis / axis.norm(), torch.tensor(0.7)), atol=1e-14)
    assert torch.allclose(R @ axis, axis, atol=1e-14)  # the axis is fixed


def test_generators_of_l1_are_the_cross_product():
    L = so3.so3_generators(1, torch.float64)
    eps = torch.zeros(3, 3, 3, dtype=torch.float64)
    for a, b, c in [(0, 1, 2), (1, 2, 0), (2, 0, 1)]:
        eps[a, b, c], eps[a, c, b] = 1, -1
    assert torch.allclose(L, -eps, atol=1e-15, rtol=0)


@pytest.mark.parametrize("l", range(9))
def test_generators_lie_algebra_and_casimir(l):
    L = so3.so3_generators(l, torch.float64)
    assert torch.allclose(L, -L.transpose(-1, -2))
    for a in range(3):
        b, c = (a + 1) % 3, (a + 2) % 3
        assert torch.allclose(L[a] @ L[b] - L[b] @ L[a], L[c], atol=1e-12)
    casimir = -(L @ L).sum(0)
    assert torch.allclose(casimir, l * (l + 1) * torch.eye(2 * l + 1, dtype=torch.float64), atol=1e-11)


@pytest.mark.parametrize("l", range(9))
def test_generators_equal_e3nn(l, float64):
    assert torch.allclose(so3.so3_generators(l), o3.so3_generators(l), atol=1e-13)


@pytest.mark.parametrize("l", range(9))
def test_irrep_matrices_are_a_representation_equal_to_e3nn(l, float64):
    R1, R2 = random_O3(2, seed=l), random_O3(3, seed=l + 100)[1:]
    for p in (1, -1):
        D = lambda R: so3.irrep_D_from_matrix(l, p, R)  # noqa: E731
        assert torch.allclose(D(R1 @ R2), D(R1) @ D(R2), atol=1e-10)
        eye = torch.eye(2 * l + 1).expand(2, -1, -1)
        assert torch.allclose(D(R1) @ D(R1).transpose(-1, -2), eye, atol=1e-10)
        assert torch.allclose(D(R1), o3.Irrep(l, p).D_from_matrix(R1), atol=1e-10)
        assert torch.allclose(D(-torch.eye(3)), p * torch.eye(2 * l + 1), atol=1e-12)


def test_vectors_are_l1_odd(float64):
    R = random_O3(6, seed=7)
    assert torch.allclose(so3.irrep_D_from_matrix(1, -1, R), R, atol=1e-13)


@pytest.mark.parametrize("device", DEVICES)
def test_float32_device_and_autograd(device):
    alpha = torch.tensor([0.1, 2.0], device=device, requires_grad=True)
    D = so3.wigner_D(2, alpha, torch.tensor(0.3, device=device), torch.tensor(1.2, device=device))
    assert D.device.type == device and D.dtype == torch.float32
    D.pow(2).sum().backward()  # sum of squares of an orthogonal matrix is constant: zero gradient
    assert alpha.grad.abs().max() < 1e-4
    a, b, c = (torch.rand(3, dtype=torch.float64, requires_grad=True) for _ in range(3))
    assert torch.autograd.gradcheck(lambda a, b, c: so3.wigner_D(3, a, b, c), (a, b, c))


def test_bad_input():
    with pytest.raises(ValueError, match="orthogonal"):
        so3.irrep_D_from_matrix(1, 1, torch.ones(3, 3))
    with pytest.raises(ValueError, match=r"shape \(\.\.\., 3, 3\)"):
        so3.irrep_D_from_matrix(1, 1, torch.eye(4))
    with pytest.raises(ValueError, match="non-negative"):
        so3.so3_generators(-1)
    with pytest.raises(ValueError, match="parity"):
        so3.irrep_D_from_matrix(1, 0, torch.eye(3))
    with pytest.raises(ValueError, match="proper"):
        so3.matrix_to_angles(-torch.eye(3))
    with pytest.raises(ValueError, match="non-zero"):
        so3.axis_angle_to_matrix(torch.zeros(3), 1.0)
