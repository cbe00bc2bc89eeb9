import itertools
import math

import pytest
import torch

from symml.sh import spherical_harmonics
from symml.so3 import matrix_z, rand_matrix
from symml.nn import EquivariantNet
from symml.symmetry import (act, describe_operation, invariant_vectors, loss_floor, permutation, site_symmetry, symmetric_average,
                             symmetry_elements, symmetry_operations)

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



TRIANGLE = torch.tensor([[math.cos(a), math.sin(a), 0.0] for a in (math.pi / 2 + 2 * math.pi * k / 3 for k in range(3))], dtype=torch.float64)


def test_permutation():
    assert permutation(SQUARE, matrix_z(math.pi / 2, dtype=torch.float64)).tolist() == [1, 2, 3, 0]
    shifted = SQUARE + torch.tensor([5.0, -2.0, 1.0], dtype=torch.float64)  # about the centroid, not the origin
    assert permutation(shifted, matrix_z(math.pi / 2, dtype=torch.float64)).tolist() == [1, 2, 3, 0]
    with pytest.raises(ValueError, match="not one of their symmetry operations"):
        permutation(SQUARE, matrix_z(0.3, dtype=torch.float64))


def test_act_is_a_group_action():
    g = torch.Generator().manual_seed(0)
    u = torch.randn(4, 3, generator=g, dtype=torch.float64)
    ops = symmetry_operations(SQUARE)
    assert torch.equal(act(ops[0], SQUARE, u), u)
    for A, B in itertools.product(ops[::3], ops[1::4]):
        assert torch.allclose(act(A @ B, SQUARE, u), act(A, SQUARE, act(B, SQUARE, u)), atol=1e-12)


def test_equivariant_outputs_keep_the_symmetry():
    # the reason act is defined this way: an equivariant network's per-point vectors satisfy f = g·f
    torch.manual_seed(0)
    net = EquivariantNet("0e", "1o", irreps_hidden="8x0e + 4x1o + 4x1e", max_radius=3.0, num_layers=2, num_neighbors=4.0, reduce=None).double()
    with torch.no_grad():
        for pos in (SQUARE, TETRAHEDRON, TRIANGLE):
            f = net(pos)
            assert f.abs().max() > 1e-3
            for R in symmetry_operations(pos):
                assert torch.allclose(act(R, pos, f), f, atol=1e-10)


def test_symmetric_average_is_the_orthogonal_projection():
    g = torch.Generator().manual_seed(1)
    for pos in (SQUARE, TETRAHEDRON, TRIANGLE, WATER):
        ops = symmetry_operations(pos)
        u, v = torch.randn(2, len(pos), 3, generator=g, dtype=torch.float64)
        u_bar, v_bar = symmetric_average(pos, u, ops), symmetric_average(pos, v, ops)
        assert all(torch.allclose(act(R, pos, u_bar), u_bar, atol=1e-12) for R in ops)
        assert torch.allclose(symmetric_average(pos, u_bar, ops), u_bar, atol=1e-12)  # idempotent
        assert abs(((u - u_bar) * v_bar).sum()) < 1e-12  # the residual is orthogonal to every symmetric field


@pytest.mark.parametrize("a, b", [(1.6, 1.2), (1.3, 0.9), (0.7, 1.45)])
def test_square_to_rectangle_floor(a, b):
    # corner (±1, ±1) moves by (±(a−1), ±(b−1)); the symmetric part stretches both ways by (a+b)/2 − 1,
    # leaving ±(a−b)/2 in x and ∓(a−b)/2 in y on every corner: a mean over 12 entries of 8 ((a−b)/2)²
    square = torch.tensor([[1.0, 1, 0], [-1, 1, 0], [-1, -1, 0], [1, -1, 0]], dtype=torch.float64)
    rectangle = square * torch.tensor([a, b, 1.0], dtype=torch.float64)
    assert loss_floor(square, rectangle - square, symmetry_operations(square)) == pytest.approx((a - b) ** 2 / 6, rel=1e-12)
    assert loss_floor(square, rectangle - square, symmetry_operations(rectangle)) < 1e-25  # the rectangle's own operations keep it


def test_no_equivariant_output_beats_the_floor():
    g = torch.Generator().manual_seed(2)
    target = torch.randn(4, 3, generator=g, dtype=torch.float64)
    floor = loss_floor(SQUARE, target, symmetry_operations(SQUARE))
    assert floor > 0.1
    for seed in range(5):
        torch.manual_seed(seed)
        net = EquivariantNet("0e", "1o", irreps_hidden="4x0e + 2x1o", max_radius=3.0, num_layers=1, num_neighbors=4.0, reduce=None).double()
        with torch.no_grad():
            for scale in (0.1, 1.0, 10.0):
                assert ((scale * net(SQUARE) - target) ** 2).mean() >= floor - 1e-12


def test_invariant_vectors_and_site_symmetry():
    assert invariant_vectors(symmetry_operations(SQUARE)).shape == (0, 3)
    assert invariant_vectors(symmetry_operations(TETRAHEDRON)).shape == (0, 3)
    axis = invariant_vectors(symmetry_operations(WATER, ["O", "H", "H"]))
    assert axis.shape == (1, 3) and torch.allclose(axis.abs(), torch.tensor([[0.0, 1.0, 0.0]], dtype=torch.float64), atol=1e-12)
    everything = invariant_vectors(torch.eye(3, dtype=torch.float64)[None])
    assert torch.allclose(everything @ everything.T, torch.eye(3, dtype=torch.float64), atol=1e-12)
    site = site_symmetry(SQUARE, symmetry_operations(SQUARE), 0)  # corner (1, 0, 0): C2v
    assert len(site) == 4
    assert torch.allclose(invariant_vectors(site).abs(), torch.tensor([[1.0, 0, 0]], dtype=torch.float64), atol=1e-12)
    hydrogen = site_symmetry(WATER, symmetry_operations(WATER, ["O", "H", "H"]), 1)  # only the molecule's plane
    assert len(hydrogen) == 2 and invariant_vectors(hydrogen).shape == (2, 3)


@pytest.mark.parametrize("pos, types, expected", [
    (SQUARE, None, {("rotation", 4): 1, ("rotation", 2): 4, ("rotoreflection", 4): 1, ("mirror", 1): 5, ("inversion", 2): 1}),        # D4h
    (TETRAHEDRON, None, {("rotation", 3): 4, ("rotation", 2): 3, ("rotoreflection", 4): 3, ("mirror", 1): 6}),                        # Td
    (TRIANGLE, None, {("rotation", 3): 1, ("rotation", 2): 3, ("rotoreflection", 3): 1, ("mirror", 1): 4}),                           # D3h
    (CUBE, None, {("rotation", 4): 3, ("rotation", 3): 4, ("rotation", 2): 6, ("rotoreflection", 4): 3, ("rotoreflection", 6): 4,
                  ("mirror", 1): 9, ("inversion", 2): 1}),                                                                             # Oh
    (WATER, ["O", "H", "H"], {("rotation", 2): 1, ("mirror", 1): 2}),                                                                 # C2v
])
def test_symmetry_elements(pos, types, expected):
    ops = symmetry_operations(pos, types)
    elements = symmetry_elements(ops)
    counts = {}
    for e in elements:
        counts[(e.kind, e.order)] = counts.get((e.kind, e.order), 0) + 1
        if e.kind == "rotation":  # the turn by 2π/n about the axis is one of the operations
            turn = _rotation(e.axis, 2 * math.pi / e.order)
            assert any(torch.allclose(turn, R, atol=1e-9) for R in ops)
        if e.kind == "mirror":
            reflection = torch.eye(3, dtype=torch.float64) - 2 * torch.outer(e.axis, e.axis)
            assert any(torch.allclose(reflection, R, atol=1e-9) for R in ops)
    assert counts == expected


def _rotation(axis, angle):
    K = torch.tensor([[0.0, -axis[2], axis[1]], [axis[2], 0.0, -axis[0]], [-axis[1], axis[0], 0.0]], dtype=torch.float64)
    return torch.eye(3, dtype=torch.float64) + math.sin(angle) * K + (1 - math.cos(angle)) * K @ K


@pytest.mark.parametrize("name", ["square", "tetrahedron", "water"])
def test_operations_agree_with_spglib(name, monkeypatch):
    # a molecule in a big cubic box: spglib's operations with no translation are the molecule's
    # point group (it is a subgroup of the cube's, since these shapes are aligned with the axes)
    spglib = pytest.importorskip("spglib")
    monkeypatch.setattr(spglib.error, "OLD_ERROR_HANDLING", False)  # raise errors instead of warning about the old way
    pos, types = {"square": (SQUARE, [1] * 4), "tetrahedron": (TETRAHEDRON, [1] * 4), "water": (WATER - WATER.mean(0), [8, 1, 1])}[name]
    box = 20.0
    found = spglib.get_symmetry((torch.eye(3).numpy() * box, (pos.numpy() / box) % 1.0, types), symprec=1e-5)
    pure = [torch.tensor(W, dtype=torch.float64) for W, t in zip(found["rotations"], found["translations"])
            if abs(t - t.round()).max() < 1e-6]
    ours = symmetry_operations(pos, types)
    assert len(pure) == len(ours)
    assert all(any(torch.allclose(W, R, atol=1e-9) for R in ours) for W in pure)
