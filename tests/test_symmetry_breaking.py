"""Lesson 11's crystal tools: symml.datasets.perovskite and the spglib-based symml.symmetry functions."""

import itertools
import math

import pytest
import torch
from e3nn import o3

from symml.datasets import PEROVSKITE_B_SITES, glazer_rotations, perovskite
from symml.nn import EquivariantNet
from symml.so3 import rand_matrix, so3_generators
from symml.symmetry import crystal_act, crystal_operations, space_group, space_group_of


@pytest.fixture(autouse=True)
def float64():
    old = torch.get_default_dtype()
    torch.set_default_dtype(torch.float64)
    yield
    torch.set_default_dtype(old)


def _is_lattice_vector(v, cell, tol=1e-6):
    f = v @ torch.linalg.inv(cell)
    return bool((f - f.round()).abs().max() < tol)


# Glazer tilt systems and their space groups, from Howard & Stokes, Acta Cryst. B 54, 782 (1998), table 2
GLAZER = [
    ((0.0, 0.0, 0.0), "--+", "Pm-3m", 221),  # a⁰a⁰a⁰
    ((8.0, 8.0, 6.0), "--+", "Pnma", 62),  # a⁻a⁻c⁺ (their a⁺b⁻b⁻)
    ((8.0, 8.0, 0.0), "--+", "Imma", 74),  # a⁻a⁻c⁰ (a⁰b⁻b⁻)
    ((0.0, 0.0, 6.0), "--+", "P4/mbm", 127),  # a⁰a⁰c⁺
    ((0.0, 0.0, 6.0), "---", "I4/mcm", 140),  # a⁰a⁰c⁻
    ((7.0, 7.0, 7.0), "---", "R-3c", 167),  # a⁻a⁻a⁻
    ((8.0, 6.0, 0.0), "---", "C2/m", 12),  # a⁻b⁻c⁰ (a⁰b⁻c⁻)
    ((8.0, 6.0, 4.0), "--+", "P2_1/m", 11),  # a⁻b⁻c⁺ (a⁺b⁻c⁻)
]


@pytest.mark.parametrize("tilts, phases, symbol, number", GLAZER)
def test_tilt_systems_have_the_space_groups_of_howard_and_stokes(tilts, phases, symbol, number):
    pos, types, cell = perovskite(tilts, phases)
    assert space_group(pos, cell, types) == (symbol, number)


def test_cell_contents_and_bonds():
    a = 3.9
    pos, types, cell = perovskite(a=a)
    assert [types.count(t) for t in "ABX"] == [4, 4, 12] and len(pos) == 20
    assert torch.allclose(cell, a * torch.tensor([[1.0, 1, 0], [-1, 1, 0], [0, 0, 2]]))
    # every B has six X at a/2 along ±x, ±y, ±z, counting periodic images
    X = pos[8:]
    for b in range(4, 8):
        gap = X - pos[b]
        f = gap @ torch.linalg.inv(cell)
        gap = (f - f.round()) @ cell
        near = gap[gap.norm(dim=1) < 0.6 * a]
        assert len(near) == 6
        assert torch.allclose(near.abs().sum(0), torch.full((3,), a))  # ±a/2 along each axis
        assert torch.allclose(near.norm(dim=1), torch.full((6,), a / 2))


@pytest.mark.parametrize("phases", ["---", "--+", "-+-", "+--", "+++"])
def test_corner_sharing_neighbours_turn_opposite_ways(phases):
    # two octahedra sharing the corner between n and n + e_k turn oppositely about the axes ⟂ e_k,
    # and about e_k itself the same way for "+" and oppositely for "−"
    tilts = (5.0, 6.0, 7.0)
    sites = torch.tensor(list(itertools.product(range(-1, 3), repeat=3)), dtype=torch.float64)
    omega = glazer_rotations(sites, tilts, phases)
    assert torch.allclose(omega.abs(), torch.deg2rad(torch.tensor(tilts)).expand(len(sites), 3))
    for k in range(3):
        step = glazer_rotations(sites + torch.eye(3)[k], tilts, phases)
        for axis in range(3):
            same = axis == k and phases[axis] == "+"
            assert torch.allclose(step[:, axis], omega[:, axis] if same else -omega[:, axis])


def test_shared_corners_agree_to_first_order_and_x_sits_at_their_midpoint():
    # the two octahedra sharing an X would put it at places that differ by O(θ²): halving θ quarters the gap
    L = so3_generators(1)

    def corner_gap(theta):
        gaps = []
        for n, k in itertools.product(PEROVSKITE_B_SITES, range(3)):
            n = torch.tensor(n, dtype=torch.float64)
            e = torch.eye(3)[k]
            w = glazer_rotations(torch.stack([n, n + e]), (theta, theta, 0.8 * theta), "--+")
            R = torch.matrix_exp(torch.einsum("na,abc->nbc", w, L))
            gaps.append(((n + R[0] @ e / 2) - (n + e - R[1] @ e / 2)).norm())
        return max(gaps)

    assert corner_gap(8.0) > 1e-4
    assert corner_gap(4.0) / corner_gap(8.0) == pytest.approx(0.25, rel=0.02)
    # and the structure puts each X at the midpoint of the two places
    a, tilts = 3.9, (8.0, 8.0, 6.0)
    pos, _, _ = perovskite(tilts, a=a)
    B = torch.tensor(PEROVSKITE_B_SITES, dtype=torch.float64)
    for b, k in itertools.product(range(4), range(3)):
        e = torch.eye(3)[k]
        w = glazer_rotations(torch.stack([B[b], B[b] + e]), tilts)
        R = torch.matrix_exp(torch.einsum("na,abc->nbc", w, L))
        midpoint = ((B[b] + R[0] @ e / 2) + (B[b] + e - R[1] @ e / 2)) / 2
        assert torch.allclose(pos[8 + 3 * b + k], a * midpoint)


def test_in_phase_tilt_about_x_or_y_does_not_fit_the_cell():
    with pytest.raises(ValueError, match="in-phase"):
        perovskite((5.0, 0.0, 0.0), "+--")
    with pytest.raises(ValueError, match="in-phase"):
        perovskite((0.0, 5.0, 0.0), "-+-")
    perovskite((0.0, 0.0, 0.0), "+++")  # no tilt: any phase is fine
    with pytest.raises(ValueError):
        glazer_rotations([[0, 0, 0]], (1.0, 2.0), "--+")


@pytest.mark.parametrize("tilts, phases, symbol, number", GLAZER)
def test_crystal_operations_map_the_crystal_onto_itself(tilts, phases, symbol, number):
    pos, types, cell = perovskite(tilts, phases)
    rotations, translations, permutation = crystal_operations(pos, cell, types)
    assert torch.allclose(rotations @ rotations.transpose(1, 2), torch.eye(3).expand_as(rotations), atol=1e-10)
    moved = pos @ rotations.transpose(1, 2) + translations[:, None, :]
    for g in range(len(rotations)):
        assert [types[j] for j in permutation[g]] == types
        assert sorted(permutation[g].tolist()) == list(range(len(pos)))
        assert all(_is_lattice_vector(moved[g, i] - pos[permutation[g, i]], cell) for i in range(len(pos)))
        # the rotation maps the cell's lattice onto itself
        assert _is_lattice_vector(cell @ rotations[g].T, cell)
    # the cube's and R-3c's 3-fold axes do not keep this tetragonal cell: only a subgroup shows here
    shown = {221: ("P4/mmm", 123), 167: ("C2/c", 15)}.get(number, (symbol, number))
    assert space_group_of(rotations, translations, cell) == shown


def test_rotating_the_crystal_changes_nothing():
    pos, types, cell = perovskite((8.0, 8.0, 6.0))
    R = rand_matrix(seed=3)
    assert space_group(pos @ R.T + torch.tensor([0.3, -1.0, 2.0]), cell @ R.T, types) == ("Pnma", 62)
    rotations, _, permutation = crystal_operations(pos, cell, types)
    turned, _, turned_permutation = crystal_operations(pos @ R.T, cell @ R.T, types)
    conjugated = R.T @ turned @ R
    # the same operations, turned by R, and each moves the atoms as before
    for S, perm in zip(conjugated, turned_permutation):
        assert any(torch.allclose(S, T, atol=1e-9) and torch.equal(permutation[g], perm) for g, T in enumerate(rotations))


def test_crystal_act_is_a_group_action():
    pos, types, cell = perovskite((8.0, 8.0, 0.0))
    rotations, translations, permutation = crystal_operations(pos, cell, types)
    irreps = o3.Irreps("1e + 2o")
    field = torch.randn(len(pos), irreps.dim, generator=torch.Generator().manual_seed(0))
    moved = crystal_act(field, irreps, rotations, permutation)
    assert moved.shape == (len(rotations), len(pos), irreps.dim)
    assert torch.allclose(moved[0], field)  # the identity first
    for g, h in [(1, 2), (3, 5), (7, 11), (15, 4)]:
        R = rotations[g] @ rotations[h]
        t = rotations[g] @ translations[h] + translations[g]
        gh = next(k for k in range(len(rotations)) if torch.allclose(rotations[k], R, atol=1e-9) and _is_lattice_vector(translations[k] - t, cell))
        twice = crystal_act(moved[h], irreps, rotations[[g]], permutation[[g]])[0]
        assert torch.allclose(twice, moved[gh], atol=1e-10)


def test_an_equivariant_network_keeps_the_crystal_symmetry():
    # Curie's principle in a crystal: the per-atom vectors of an equivariant network fed the tilted
    # structure are kept by every operation of its space group, (g·u) = u
    pos, types, cell = perovskite((8.0, 8.0, 6.0))
    one_hot = torch.tensor([[float(t == s) for s in "ABX"] for t in types])
    torch.manual_seed(0)
    net = EquivariantNet("3x0e", "1o + 1e", irreps_hidden="4x0e+2x1e+2x1o", max_radius=3.0, num_layers=1, num_neighbors=4.0, reduce=None)
    with torch.no_grad():
        u = net(pos, one_hot, cell=cell)
    rotations, _, permutation = crystal_operations(pos, cell, types)
    assert u.abs().max() > 1e-3
    assert torch.allclose(crystal_act(u, "1o + 1e", rotations, permutation), u.expand(len(rotations), -1, -1), atol=1e-10)
    # the cubic structure's other operations do not keep it
    cubic_ops = crystal_operations(perovskite()[0], cell, types)
    moved = crystal_act(u, "1o + 1e", cubic_ops[0], cubic_ops[2])
    assert ((moved - u).flatten(1).norm(dim=1) < 1e-9).sum() == len(rotations)


@pytest.mark.parametrize("tilts, symbol, number", [((8.0, 8.0, 6.0), "Pnma", 62), ((8.0, 8.0, 0.0), "Imma", 74), ((0.0, 0.0, 6.0), "P4/mbm", 127)])
def test_the_stabiliser_of_the_tilt_field_is_the_tilted_space_group(tilts, symbol, number):
    # the rotation vectors ω of the octahedra, a pseudovector (1e) field on the B sites of the cubic
    # crystal: the cubic operations that keep it form the tilted crystal's group
    cubic, types, cell = perovskite()
    field = torch.zeros(len(types), 3)
    field[4:8] = glazer_rotations(PEROVSKITE_B_SITES, tilts)
    rotations, translations, permutation = crystal_operations(cubic, cell, types)
    keep = (crystal_act(field, "1e", rotations, permutation) - field).flatten(1).norm(dim=1) < 1e-9
    assert space_group_of(rotations[keep], translations[keep], cell) == (symbol, number)
    # as a polar vector (1o) the same numbers have another symmetry: the inversion at B flips them
    keep_polar = (crystal_act(field, "1o", rotations, permutation) - field).flatten(1).norm(dim=1) < 1e-9
    assert not torch.equal(keep, keep_polar)


def test_space_group_of_rejects_a_set_that_is_not_a_group():
    pos, types, cell = perovskite((8.0, 8.0, 6.0))
    rotations, translations, _ = crystal_operations(pos, cell, types)
    not_closed = torch.tensor([0, 1, 2])
    with pytest.raises(ValueError, match="not a group"):
        space_group_of(rotations[not_closed], translations[not_closed], cell)
    with pytest.raises(ValueError, match="lattice"):
        space_group_of(torch.stack([torch.eye(3), rand_matrix(seed=1)]), torch.zeros(2, 3), cell)


def test_bad_inputs():
    pos, types, cell = perovskite()
    with pytest.raises(ValueError, match="one label per atom"):
        space_group(pos, cell, types[:-1])
    with pytest.raises(ValueError, match="cell"):
        space_group(pos, torch.zeros(3, 3), types)
    with pytest.raises(ValueError, match="pos"):
        crystal_operations(pos[:, :2], cell, types)


def test_lattice_constant_scales_everything():
    pos1, _, cell1 = perovskite((8.0, 8.0, 6.0), a=1.0)
    pos2, _, cell2 = perovskite((8.0, 8.0, 6.0), a=math.pi)
    assert torch.allclose(pos2, math.pi * pos1) and torch.allclose(cell2, math.pi * cell1)
