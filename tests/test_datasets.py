"""symml.datasets' Stillinger–Weber silicon and symml.train's potential fitting: checked against known numbers and matscipy."""

import math

import pytest
import torch

from symml.datasets import (
    SI_LATTICE,
    SW_SILICON,
    diamond_silicon,
    energy_and_forces,
    silicon,
    stillinger_weber,
)
from symml.so3 import rand_matrix
from symml.train import (
    MATCHED_HIDDEN,
    R_MAX,
    Potential,
    fit_potential,
    fit_power_law,
    potential_errors,
    potential_net,
)

pytestmark = pytest.mark.usefixtures("float64")  # conftest's: float64 by default, restored afterwards


@pytest.mark.parametrize("repeat", [(1, 1, 1), (2, 1, 1), (1, 2, 2)])
def test_diamond_energy_is_minus_two_epsilon_and_forces_vanish(repeat):
    # in the perfect crystal every angle is tetrahedral (no three-body energy) and each atom has
    # four bonds at 2.3517 Å, where the pair term is −ε: E/atom = 4 · (−ε) / 2 = −4.3366 eV
    pos, cell = diamond_silicon(repeat)
    energy, forces = energy_and_forces(stillinger_weber, pos[None], cell)
    assert energy.item() / len(pos) == pytest.approx(-4.3366, abs=5e-5)
    assert energy.item() / len(pos) == pytest.approx(-2 * SW_SILICON["epsilon"], abs=5e-5)
    assert forces.abs().max() < 1e-10


def test_diamond_is_the_minimum_at_5431():
    # E(a) of the perfect crystal has its minimum at SW's lattice constant: E(a ± 0.5 %) is higher
    energies = [stillinger_weber(*diamond_silicon(lattice=a)).item() for a in (0.995 * SI_LATTICE, SI_LATTICE, 1.005 * SI_LATTICE)]
    assert energies[1] < energies[0] and energies[1] < energies[2]
    curvature = (energies[0] - 2 * energies[1] + energies[2]) / (0.005 * SI_LATTICE) ** 2
    derivative = (energies[2] - energies[0]) / (0.01 * SI_LATTICE)
    assert abs(derivative) < 1e-3 * curvature * SI_LATTICE  # the minimum is within 0.1 % of 5.431 Å


def test_forces_are_minus_the_finite_difference_gradient():
    data = silicon(2, seed=1)
    h = 1e-5
    for g in range(2):
        pos, cell = data["pos"][g].clone(), data["cell"][g]
        for atom, axis in [(0, 0), (3, 1), (7, 2), (5, 0)]:
            plus, minus = pos.clone(), pos.clone()
            plus[atom, axis] += h
            minus[atom, axis] -= h
            numeric = -(stillinger_weber(plus, cell) - stillinger_weber(minus, cell)).item() / (2 * h)
            assert data["forces"][g, atom, axis].item() == pytest.approx(numeric, abs=1e-6)


def test_three_body_term_is_angular():
    # bending a bond away from the tetrahedral angle costs λ-proportional energy; without λ it is a pair potential
    data = silicon(3, seed=2)
    nodes = data["pos"].reshape(-1, 3)
    batch = torch.arange(3).repeat_interleave(8)
    full = stillinger_weber(nodes, data["cell"], batch)
    pair = stillinger_weber(nodes, data["cell"], batch, lam=0.0)
    double = stillinger_weber(nodes, data["cell"], batch, lam=2 * SW_SILICON["lam"])
    assert (full - pair).min() > 0.05  # a disordered crystal has a sizeable angular energy
    assert torch.allclose(double - pair, 2 * (full - pair), atol=1e-10)  # linear in λ


def test_energy_is_invariant_and_forces_equivariant():
    data = silicon(2, seed=3)
    R = rand_matrix(seed=4)
    order = torch.randperm(8, generator=torch.Generator().manual_seed(5))
    moved_pos = data["pos"][:, order] @ R.T + torch.tensor([0.3, -1.0, 2.0])
    moved_cell = data["cell"] @ R.T
    energy, forces = energy_and_forces(stillinger_weber, moved_pos, moved_cell)
    assert torch.allclose(energy, data["energy"], atol=1e-10)
    assert torch.allclose(forces, data["forces"][:, order] @ R.T, atol=1e-10)


def test_energy_is_extensive_and_batching_changes_nothing():
    data = silicon(3, seed=6)
    pos, cell = data["pos"][0], data["cell"][0]
    # the same structure in a cell twice as long along a: twice the energy
    doubled = torch.cat([pos, pos + cell[0]])
    big_cell = torch.stack([2 * cell[0], cell[1], cell[2]])
    assert stillinger_weber(doubled, big_cell).item() == pytest.approx(2 * data["energy"][0].item(), abs=1e-10)
    one_by_one = torch.cat([stillinger_weber(p, c) for p, c in zip(data["pos"], data["cell"])])
    assert torch.allclose(one_by_one, data["energy"], atol=1e-10)


def test_silicon_matches_matscipy():
    pytest.importorskip("ase", reason="ase is not installed: pip install ase matscipy for the independent SW cross-check")
    pytest.importorskip("matscipy", reason="matscipy is not installed: pip install matscipy for the independent SW cross-check")
    import ase
    from matscipy.calculators.manybody import Manybody
    from matscipy.calculators.manybody.explicit_forms import StillingerWeber
    from matscipy.calculators.manybody.explicit_forms.stillinger_weber import (
        Stillinger_Weber_PRB_31_5262_Si,
    )

    calc = Manybody(**StillingerWeber(Stillinger_Weber_PRB_31_5262_Si))
    for repeat, seed in [((1, 1, 1), 7), ((2, 1, 1), 8)]:
        data = silicon(3, repeat=repeat, noise=0.15, strain=0.03, seed=seed)
        for pos, cell, energy, forces in zip(data["pos"], data["cell"], data["energy"], data["forces"]):
            atoms = ase.Atoms(f"Si{len(pos)}", positions=pos.numpy(), cell=cell.numpy(), pbc=True)
            atoms.calc = calc
            assert atoms.get_potential_energy() == pytest.approx(energy.item(), abs=1e-8)
            assert torch.allclose(torch.from_numpy(atoms.get_forces()), forces, atol=1e-8)


def test_matched_nets_have_the_same_size_and_see_the_second_shell():
    sizes = [sum(p.numel() for p in potential_net(lmax, 16.0).parameters()) for lmax in MATCHED_HIDDEN]
    assert max(sizes) / min(sizes) < 1.1 and min(sizes) >= 5000
    assert all(len(potential_net(lmax, 16.0).layers) >= 2 for lmax in MATCHED_HIDDEN)
    # diamond's second-neighbour distance a/√2 is inside the cutoff, the third a√11/4 is not
    assert SI_LATTICE / math.sqrt(2) < R_MAX <= SI_LATTICE * math.sqrt(11) / 4


def test_potential_is_equivariant_and_extensive():
    torch.manual_seed(0)
    model = Potential(potential_net(1, 16.0), scale=1.3, shift=-4.0)
    data = silicon(2, seed=9)
    R = -rand_matrix(seed=10)  # a rotation with inversion
    energy, forces = energy_and_forces(model, data["pos"], data["cell"])
    energy_R, forces_R = energy_and_forces(model, data["pos"] @ R.T, data["cell"] @ R.T)
    assert torch.allclose(energy_R, energy, atol=1e-10)
    assert torch.allclose(forces_R, forces @ R.T, atol=1e-10)
    pos, cell = data["pos"][0], data["cell"][0]
    doubled = torch.cat([pos, pos + cell[0]])[None]
    big_cell = torch.stack([2 * cell[0], cell[1], cell[2]])
    assert energy_and_forces(model, doubled, big_cell)[0].item() == pytest.approx(2 * energy[0].item(), abs=1e-9)


def test_fit_potential_learns_and_a_validation_rule_stops_it():
    torch.set_default_dtype(torch.float32)
    train, valid = silicon(8, seed=11), silicon(4, seed=12)
    torch.manual_seed(0)
    net = potential_net(0, 16.0)
    before = potential_errors(Potential(net, train["forces"].pow(2).mean().sqrt().item(), (train["energy"] / 8).mean().item()), valid)
    model, history = fit_potential(net, train, valid, lr=5e-3, epoch_size=16, patience=4, decay_patience=2, min_lr=5e-3 / 4, max_epochs=200, progress=False)
    after = potential_errors(model, valid)
    assert after["loss"] < 0.5 * before["loss"] and after["force_mae"] < before["force_mae"]
    # a rule stopped it (patience, or the floor: two halvings allowed, the third refused), long before max_epochs
    assert history["converged"] and history["stopped"] in ("patience", "lr floor") and history["epoch"][-1] < 200
    assert min(history["lr"]) >= 5e-3 / 4


def test_fit_power_law_recovers_an_exponent():
    N = [4, 8, 16, 32, 64, 128]
    beta, a, r2 = fit_power_law(N, [3.0 * n**-0.37 for n in N])
    assert (beta, a, r2) == pytest.approx((0.37, 3.0, 1.0), abs=1e-10)
    noisy = [3.0 * n**-0.37 * math.exp(0.1 * (-1) ** k) for k, n in enumerate(N)]
    assert fit_power_law(N, noisy)[2] < 1
