import pytest
import sympy
import torch
from e3nn import o3
from sympy.physics.wigner import clebsch_gordan as sympy_cg

from conftest import DEVICES, random_O3
from symml.cg import clebsch_gordan
from symml.so3 import change_basis_real_to_complex, irrep_D_from_matrix

TRIPLES = [(l1, l2, l3) for l1 in range(9) for l2 in range(9) for l3 in range(abs(l1 - l2), min(l1 + l2, 8) + 1)]


@pytest.mark.parametrize("l1", range(9))
def test_equal_to_e3nn_up_to_l8(l1, float64):
    for a, l2, l3 in TRIPLES:
        if a == l1:
            assert torch.allclose(clebsch_gordan(l1, l2, l3), o3.wigner_3j(l1, l2, l3), atol=1e-10, rtol=0), (l1, l2, l3)


@pytest.mark.parametrize("ls", [(1, 1, 2), (2, 3, 4), (4, 4, 0), (3, 5, 6), (6, 2, 5)])
def test_equivariant_normalised_orthogonal(ls):
    l1, l2, l3 = ls
    C = clebsch_gordan(l1, l2, l3, dtype=torch.float64)
    assert abs(C.norm() - 1) < 1e-12
    for R in random_O3(4, seed=sum(ls)):
        D1, D2, D3 = (irrep_D_from_matrix(l, (-1) ** l, R) for l in ls)
        # with parities (-1)^l the product is even under inversion exactly when l1+l2+l3 is even
        sign = torch.det(R) ** (l1 + l2 + l3)
        assert torch.allclose(torch.einsum("ijk,ia,jb,kc->abc", C, D1, D2, D3), sign * C, atol=1e-12)
    # the l3 outputs are orthonormal (up to 1/(2l3+1)): C is an isometry onto its image
    gram = torch.einsum("ijk,ijn->kn", C, C)
    assert torch.allclose(gram, torch.eye(2 * l3 + 1, dtype=torch.float64) / (2 * l3 + 1), atol=1e-12)


@pytest.mark.parametrize("ls", [(1, 1, 1), (1, 1, 2), (2, 1, 2), (2, 2, 3), (3, 2, 4), (3, 3, 2)])
def test_equal_to_sympy_after_complex_to_real_change_of_basis(ls):
    l1, l2, l3 = ls
    C = clebsch_gordan(*ls, dtype=torch.float64)
    U1, U2, U3 = (change_basis_real_to_complex(l) for l in ls)
    complex_C = torch.einsum("am,bn,cp,abc->mnp", U1, U2, U3.conj(), C.to(torch.complex128))
    textbook = torch.zeros_like(complex_C)
    for m1 in range(-l1, l1 + 1):
        for m2 in range(-l2, l2 + 1):
            if abs(m1 + m2) <= l3:
                value = float(sympy_cg(l1, l2, l3, m1, m2, m1 + m2))
                textbook[l1 + m1, l2 + m2, l3 + m1 + m2] = value
    phase = (-1j) ** (l1 + l2 - l3) / (2 * l3 + 1) ** 0.5
    assert torch.allclose(complex_C, phase * textbook, atol=1e-12)


def test_cached_but_returns_fresh_copies():
    C = clebsch_gordan(2, 2, 2, dtype=torch.float64)
    C.zero_()
    assert clebsch_gordan(2, 2, 2, dtype=torch.float64).abs().sum() > 0


@pytest.mark.parametrize("device", DEVICES)
def test_dtype_and_device(device):
    C = clebsch_gordan(1, 2, 3, dtype=torch.float32, device=device)
    assert C.dtype == torch.float32 and C.device.type == device and C.shape == (3, 5, 7)


def test_bad_input():
    with pytest.raises(ValueError, match="selection rule"):
        clebsch_gordan(1, 1, 3)
    with pytest.raises(ValueError, match="selection rule"):
        clebsch_gordan(4, 1, 2)
    with pytest.raises(ValueError, match="non-negative"):
        clebsch_gordan(-1, 1, 1)
    with pytest.raises(ValueError, match="integer"):
        clebsch_gordan(1.5, 1, 1)
