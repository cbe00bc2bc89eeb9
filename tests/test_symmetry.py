import itertools

import pytest
import torch

from symml.sh import spherical_harmonics
from symml.so3 import rand_matrix
from symml.symmetry import describe_operation, symmetry_operations

SQUARE = torch.tensor([[1.0, 0, 0], [0, 1, 0], [-1, 0, 0], [0, -1, 0]], dtype=torch.float64)
CUBE = torch.tensor(list(itertools.product([-1.0, 1.0], repeat=3)), dtype=torch.float64)
TETRAHEDRON = torch.tensor([[1.0, 1, 1], [1, -1, -1], [-1, 1, -1], [-1, -1, 1]], dtype=torch.float64)
WATER = torch.tensor([[0.0, 0, 0], [0.76, 0.59, 0], [-0.76, 0.59, 0]], dtype=torch.float64)


@pytest.mark.parametrize(
    "pos, types, order",
    [(SQUARE, None, 16), (SQUARE * torch.tensor([2.0, 1, 1]), None, 8), (CUBE, None, 48), (TETRAHEDRON, None, 24),
     (WATER, ["O", "H", "H"], 4), (WATER, ["H", "H", "H"], 4), (torch.tensor([[0.0, 0, 0], [1, 0, 0], [1, 1, 0], [1, 1, 1]]), None, 2)],
)
def test_group_orders(pos, types, order):
    ops = symmetry_operations(pos, types)
    assert len(ops) == order
    assert torch.allclose(ops[0], torch.eye(3, dtype=torch.float64))
    # a group: closed under products
    products = torch.einsum("aij,bjk->abik", ops, ops).reshape(-1, 9)
    assert torch.cdist(products, ops.reshape(-1, 9)).min(dim=1).values.max() < 1e-9


def test_rotated_cloud_has_the_conjugate_group():
    R = rand_matrix(dtype=torch.float64, seed=4)
    ops = symmetry_operations(CUBE @ R.T + torch.tensor([1.0, 2.0, 3.0], dtype=torch.float64))
    assert len(ops) == 48
    for S in ops:
        assert any(torch.allclose(R.T @ S @ R, T, atol=1e-9) for T in symmetry_operations(CUBE))


def test_chiral_piece_has_no_mirror():
    chiral = torch.tensor([[0.0, 0, 0], [1, 0, 0], [1, 1, 0], [1, 1, 1]])  # a 3D Tetris piece
    assert all(torch.det(R) > 0 for R in symmetry_operations(chiral))


def test_curie_principle_for_spherical_harmonics():
    # an equivariant function of the square (the mean of its harmonics) keeps the square's symmetry
    features = spherical_harmonics([0, 1, 2, 3, 4], SQUARE).mean(0)
    for R in symmetry_operations(SQUARE):
        moved = spherical_harmonics([0, 1, 2, 3, 4], SQUARE @ R.T).mean(0)
        assert torch.allclose(moved, features, atol=1e-12)


def test_describe():
    names = [describe_operation(R) for R in symmetry_operations(WATER, ["O", "H", "H"])]
    assert names[0] == "identity"
    assert "2-fold rotation about (+0.00, +1.00, +0.00)" in names
    assert sum(n.startswith("mirror") for n in names) == 2
    assert describe_operation(-torch.eye(3)) == "inversion"


def test_bad_input():
    with pytest.raises(ValueError, match="one line"):
        symmetry_operations(torch.tensor([[0.0, 0, 1], [0, 0, -1]]))
    with pytest.raises(ValueError, match=r"shape \(N, 3\)"):
        symmetry_operations(torch.zeros(4, 2))
    with pytest.raises(ValueError, match="one label per point"):
        symmetry_operations(SQUARE, ["a"])
