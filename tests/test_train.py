"""symml.train's training loop and the data of lesson 09's learning curves: each behaviour the
benchmark's numbers depend on (early stopping, learning-rate decay, its floor, best weights
restored, epochs rather than steps, disjoint and nested splits, learning_curve_point) has a test
that fails without it."""

import pytest
import torch

from symml.datasets import silicon, silicon_learning_curve, silicon_splits
from symml.nn import average_num_neighbors
from symml.train import Potential, fit_potential, learning_curve_point, potential_errors

pytestmark = pytest.mark.usefixtures("float64")  # conftest's: float64 by default, restored afterwards


class Frozen(torch.nn.Module):
    """An energy that no weight can change (its one weight is multiplied by zero): the validation loss is the same every epoch."""

    def __init__(self):
        super().__init__()
        self.w = torch.nn.Parameter(torch.ones(()))

    def forward(self, pos, batch, cell=None):
        energy = pos.new_zeros(int(batch.max()) + 1).index_add(0, batch, pos.pow(2).sum(-1))
        return energy + 0 * self.w


class Quadratic(torch.nn.Module):
    """E = w Σ_i |pos_i|², its one weight starting at 0: forces −2w·pos."""

    def __init__(self):
        super().__init__()
        self.w = torch.nn.Parameter(torch.zeros(()))

    def forward(self, pos, batch, cell=None):
        return self.w * pos.new_zeros(int(batch.max()) + 1).index_add(0, batch, pos.pow(2).sum(-1))


def spring_labels(cells: int, k: float, seed: int) -> dict:
    """Random 8-point clouds labelled with forces −2k·pos and zero energies (so the energy term pulls w to 0)."""
    pos = torch.randn(cells, 8, 3, generator=torch.Generator().manual_seed(seed), dtype=torch.float64)
    return {"pos": pos, "cell": torch.eye(3, dtype=torch.float64).expand(cells, 3, 3), "energy": torch.zeros(cells, dtype=torch.float64), "forces": -2 * k * pos}


@pytest.fixture(scope="module")
def cells():
    return silicon(12, seed=3, dtype=torch.float64)


def test_a_plateau_halves_the_learning_rate_then_stops_after_patience_epochs(cells):
    train, valid = {k: v[:8] for k, v in cells.items()}, {k: v[8:] for k, v in cells.items()}
    _, history = fit_potential(Frozen(), train, valid, lr=0.1, patience=7, decay_patience=3, max_epochs=50, progress=False)
    # epoch 1 is the best; epochs 2… wait: after 3 and 6 of them the rate halves, after 7 it stops
    assert history["epoch"] == [1, 2, 3, 4, 5, 6, 7, 8]
    assert history["lr"] == pytest.approx([0.1, 0.1, 0.1, 0.1, 0.05, 0.05, 0.05, 0.025])
    assert history["converged"] and history["stopped"] == "patience" and history["best_epoch"] == 1


def test_the_learning_rate_floor_stops_a_run(cells):
    train, valid = {k: v[:8] for k, v in cells.items()}, {k: v[8:] for k, v in cells.items()}
    _, history = fit_potential(Frozen(), train, valid, lr=0.1, patience=20, decay_patience=2, min_lr=0.1 / 5, max_epochs=50, progress=False)
    # 0.1 → 0.05 → 0.025 are allowed; 0.0125 would be below the floor 0.02, so epoch 7 (the third halving) ends the run
    assert history["lr"] == pytest.approx([0.1, 0.1, 0.1, 0.05, 0.05, 0.025, 0.025])
    assert history["stopped"] == "lr floor" and history["converged"]


def test_a_run_that_never_stops_is_not_converged(cells):
    train, valid = {k: v[:8] for k, v in cells.items()}, {k: v[8:] for k, v in cells.items()}
    _, history = fit_potential(Frozen(), train, valid, lr=0.1, patience=20, decay_patience=20, max_epochs=4, progress=False)
    assert history["epoch"][-1] == 4 and history["stopped"] == "max_epochs" and not history["converged"]


def test_patience_counts_epochs_not_steps(cells):
    # the same plateau with 5 training cells (an epoch: ceil(16 / 5) = 4 passes, 20 structures, batches
    # of 8, 8, 4: 3 steps) and with 40 cells (one pass, 5 steps): the same epochs, steps in proportion
    big = silicon(40, seed=4)
    valid = {k: v[8:] for k, v in cells.items()}
    runs = {}
    for n, data in [(5, {k: v[:5] for k, v in cells.items()}), (40, big)]:
        _, runs[n] = fit_potential(Frozen(), data, valid, lr=0.1, batch_size=8, epoch_size=16, patience=4, decay_patience=10, max_epochs=50, progress=False)
    assert runs[5]["epoch"][-1] == runs[40]["epoch"][-1] == 5
    assert runs[5]["step"] == [3, 6, 9, 12, 15]
    assert runs[40]["step"] == [5, 10, 15, 20, 25]


def test_the_best_weights_are_restored():
    # the training forces want a stiff spring, the validation forces a soft one: as w grows from 0
    # the validation loss falls, then rises, so the last epoch is not the best one
    train, valid = spring_labels(8, 1.0, seed=0), spring_labels(8, 0.3, seed=1)
    model, history = fit_potential(Quadratic(), train, valid, lr=0.005, batch_size=2, epoch_size=8, patience=5, decay_patience=100, max_epochs=60, progress=False)
    best = min(history["valid_loss"])
    assert history["valid_loss"][-1] > 1.5 * best and history["stopped"] == "patience"
    assert potential_errors(model, valid)["loss"] == pytest.approx(best, rel=1e-12)
    assert history["best_valid_loss"] == best and history["valid_loss"].index(best) + 1 == history["best_epoch"]


def test_fit_potential_rejects_bad_settings(cells):
    with pytest.raises(ValueError, match="patience"):
        fit_potential(Frozen(), cells, cells, patience=0, progress=False)
    with pytest.raises(ValueError, match="decay"):
        fit_potential(Frozen(), cells, cells, decay=1.5, progress=False)


def _same_cells(a, b):
    """How many cells of ``a`` also appear (same positions) in ``b``."""
    return sum(bool((b["pos"] == p).all(-1).all(-1).any()) for p in a["pos"])


def test_training_validation_and_test_cells_never_overlap():
    held_out = []
    for seed in (0, 1, 2):
        train, valid, test = silicon_learning_curve(seed, 40, pool=40, valid=10, test=10)
        assert _same_cells(train, valid) == _same_cells(train, test) == _same_cells(valid, test) == 0
        held_out.append((valid, test))
    # the validation and test cells are the same for every seed (each seed's curve is judged on the same cells)
    for valid, test in held_out:
        assert torch.equal(valid["pos"], held_out[0][0]["pos"]) and torch.equal(test["pos"], held_out[0][1]["pos"])
    # different seeds draw different training cells
    assert _same_cells(silicon_learning_curve(0, 40, pool=40)[0], silicon_learning_curve(1, 40, pool=40)[0]) == 0


def test_training_sets_are_nested():
    sizes = [5, 12, 30]
    sets = [silicon_learning_curve(7, n, pool=30, valid=2, test=2)[0] for n in sizes]
    for small, large in zip(sets, sets[1:]):
        for key in small:
            assert torch.equal(small[key], large[key][: len(small[key])])
    assert torch.equal(sets[-1]["pos"], silicon_splits(7, pool=30, valid=2, test=2)[0]["pos"])
    with pytest.raises(ValueError, match="between 1 and pool"):
        silicon_learning_curve(0, 31, pool=30)


def test_learning_curve_point_reports_the_restored_model_on_the_test_set():
    torch.set_default_dtype(torch.float32)
    train, valid, test = silicon_learning_curve(0, 4, pool=4, valid=4, test=6)
    result = learning_curve_point(1, train, valid, test, seed=0, epoch_size=4, max_epochs=2)
    model = result["model"]
    assert result["params"] == sum(p.numel() for p in model.net.parameters())
    # n̄, the model's constant, comes from the training cells at the net's radius (contract C1)
    assert model.net.num_neighbors == average_num_neighbors(list(train["pos"]), model.net.max_radius, list(train["cell"]))
    errors = potential_errors(model, test)
    assert (result["force_mae"], result["energy_mae"]) == (errors["force_mae"], errors["energy_mae"])
    assert result["valid_loss"] == pytest.approx(potential_errors(model, valid)["loss"], rel=1e-5)
    assert result["train_loss"] == pytest.approx(potential_errors(model, train)["loss"], rel=1e-5)
    assert result["epochs"] == 2 and result["steps"] == 2 and not result["converged"]  # an epoch: one pass over 4 cells, one batch
    # the seed fixes the run: the same call gives the same numbers
    again = learning_curve_point(1, train, valid, test, seed=0, epoch_size=4, max_epochs=2)
    assert again["force_mae"] == result["force_mae"]


def _square_to_rectangle(adam_for_p, steps=8):
    """Learn p from zero so that a net moves a square into a rectangle: (the rectangle's invariant projector, p, losses)."""
    from e3nn import o3

    from symml.nn import EquivariantNet
    from symml.symmetry import symmetry_operations
    from symml.train import fit_order_parameters

    square = torch.tensor([[1.0, 1, 0], [-1, 1, 0], [-1, -1, 0], [1, -1, 0]])
    target = square * torch.tensor([0.3, -0.1, 0])
    irreps_p = o3.Irreps("0e+1e+1o+2e+2o+3e+4e")
    torch.manual_seed(0)
    net = EquivariantNet(o3.Irreps("0e") + irreps_p, "1o", irreps_hidden="4x0e+2x1e+2x1o", lmax=3, max_radius=3.0, num_layers=1,
                         num_neighbors=3.0, reduce=None)
    p = torch.zeros(irreps_p.dim, requires_grad=True)
    losses = fit_order_parameters(net, square, lambda: torch.cat([torch.ones(4, 1), p.expand(4, -1)], dim=1), target, steps,
                                  order_parameters=[p], adam_for_p=adam_for_p)
    H = symmetry_operations(torch.cat([square, square + target]), ["a"] * 4 + ["b"] * 4)
    return irreps_p.D_from_matrix(H).mean(0), p.detach(), losses


def test_fit_order_parameters_keeps_the_symmetry_of_the_data_by_gradient_descent():
    # lesson 11's claim: from zero, gradient descent keeps p in the invariant subspace of the rectangle's
    # operations. Adam for p (what a loop that put every parameter in one Adam would do) amplifies the
    # rounding out of it within a few steps
    P, p, losses = _square_to_rectangle(adam_for_p=False)
    assert losses[-1] < 0.5 * losses[0] and p.norm() > 1e-3
    assert (p - P @ p).norm() < 1e-10 * p.norm()
    P, p, _ = _square_to_rectangle(adam_for_p=True)
    assert (p - P @ p).norm() > 1e-8 * p.norm()
