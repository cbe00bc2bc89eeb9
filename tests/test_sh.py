import math

import numpy as np
import pytest
import torch
from e3nn import o3

from conftest import DEVICES, random_O3
from symml.sh import spherical_harmonics
from symml.so3 import irrep_D_from_matrix

NORMALIZATIONS = ["integral", "component", "norm"]


@pytest.mark.parametrize("normalization", NORMALIZATIONS)
@pytest.mark.parametrize("normalize", [True, False])
def test_equal_to_e3nn_float64(normalization, normalize, float64):
    x = torch.randn(2, 50, 3, generator=torch.Generator().manual_seed(0))
    for l in range(11):
        ours = spherical_harmonics(l, x, normalize, normalization)
        theirs = o3.spherical_harmonics(l, x, normalize, normalization=normalization)
        assert ours.shape == (2, 50, 2 * l + 1)
        scale = 1 if normalize else x.norm(dim=-1, keepdim=True) ** l  # homogeneous of degree l
        assert torch.allclose(ours / scale, theirs / scale, atol=1e-12, rtol=0), l


@pytest.mark.parametrize("device", DEVICES)
def test_equal_to_e3nn_float32_lists_and_irreps(device):
    x = torch.randn(1000, 3, device=device)
    for ls in ([0, 1, 2, 3, 4], [3, 1], "0e + 1o + 2e + 3o"):
        ours = spherical_harmonics(ls, x)
        assert ours.dtype == torch.float32 and ours.device.type == device
        assert torch.allclose(ours, o3.spherical_harmonics(ls, x, True), atol=1e-5)


@pytest.mark.parametrize("l", range(7))
def test_equivariant_under_O3(l, float64):
    x = torch.randn(20, 3)
    for R in random_O3(4, seed=l):
        D = irrep_D_from_matrix(l, (-1) ** l, R)  # spherical harmonics have parity (-1)^l
        assert torch.allclose(spherical_harmonics(l, x @ R.T), spherical_harmonics(l, x) @ D.T, atol=1e-12)


def legendre(l, t):
    p0, p1 = torch.ones_like(t), t
    if l == 0:
        return p0
    for k in range(1, l):
        p0, p1 = p1, ((2 * k + 1) * t * p1 - k * p0) / (k + 1)
    return p1


@pytest.mark.parametrize("l", range(9))
def test_addition_theorem(l, float64):
    a, b = torch.nn.functional.normalize(torch.randn(2, 30, 3), dim=-1)
    lhs = (spherical_harmonics(l, a) * spherical_harmonics(l, b)).sum(-1)
    assert torch.allclose(lhs, (2 * l + 1) / (4 * math.pi) * legendre(l, (a * b).sum(-1)), atol=1e-12)


def test_integral_normalization_by_exact_quadrature(float64):
    # Gauss-Legendre in cos(θ) times equally spaced φ integrates polynomials of degree ≤ 2·lmax exactly
    lmax = 6
    nodes, weights = np.polynomial.legendre.leggauss(lmax + 1)
    phi = torch.arange(2 * lmax + 2) * 2 * math.pi / (2 * lmax + 2)
    c, w = torch.tensor(nodes), torch.tensor(weights) * 2 * math.pi / len(phi)
    s = torch.sqrt(1 - c**2)
    xyz = torch.stack([s[:, None] * torch.sin(phi), c[:, None].expand(-1, len(phi)), s[:, None] * torch.cos(phi)], -1)
    Y = spherical_harmonics(list(range(lmax + 1)), xyz.reshape(-1, 3))
    gram = torch.einsum("n,ni,nj->ij", w[:, None].expand(-1, len(phi)).reshape(-1), Y, Y)
    assert torch.allclose(gram, torch.eye((lmax + 1) ** 2), atol=1e-12)  # orthonormal on the sphere


def test_gradients_match_e3nn(float64):
    x = torch.randn(10, 3, requires_grad=True)
    y = torch.randn(10, 3, requires_grad=True)
    spherical_harmonics([1, 2, 5], x).pow(2).sum().backward()
    o3.spherical_harmonics([1, 2, 5], y, True).pow(2).sum().backward()
    assert x.grad.abs().max() < 1e-10  # |Y^l|² is constant on the sphere
    x.grad = None
    w = torch.randn(3 + 5 + 11)
    (spherical_harmonics([1, 2, 5], x) @ w).sum().backward()
    y = x.detach().clone().requires_grad_()
    (o3.spherical_harmonics([1, 2, 5], y, True) @ w).sum().backward()
    assert torch.allclose(x.grad, y.grad, atol=1e-12)
    z = torch.randn(4, 3, requires_grad=True)
    assert torch.autograd.gradcheck(lambda z: spherical_harmonics(3, z, normalize=False), (z,))


def test_bad_input():
    x = torch.randn(5, 3)
    with pytest.raises(ValueError, match="normalization must be one of"):
        spherical_harmonics(1, x, normalization="unit")
    with pytest.raises(ValueError, match=r"shape \(\.\.\., 3\)"):
        spherical_harmonics(1, torch.randn(5, 2))
    with pytest.raises(ValueError, match="non-negative integer"):
        spherical_harmonics(-1, x)
    with pytest.raises(ValueError, match="parity"):
        spherical_harmonics("1e", x)
    with pytest.raises(ValueError, match="floating point"):
        spherical_harmonics(1, torch.ones(5, 3, dtype=torch.long))
