"""Training loops for the lessons.

* ``train``: Adam on any loss, with a progress bar and the history of the loss.
* ``fit_order_parameters``: a net and a learned input together, the order parameter by plain
  gradient descent (lesson 11).
* ``fit_potential``: an interatomic potential (``Potential``) on energies and forces, trained until
  a validation set stops it (patience in epochs, learning-rate decay on plateaus, a floor);
  ``potential_errors`` its test errors.
* ``learning_curve_point``, ``potential_net``, ``fit_power_law``: the silicon learning curves of
  lesson 09 and ``benchmarks/learning_curves.py``, which run this same code.
"""

import math

import torch
from tqdm.auto import tqdm

__all__ = ["ANGLE_BLIND", "LEARNING_CURVE_FIT", "MATCHED_HIDDEN", "R_MAX", "Potential", "fit_order_parameters", "fit_potential", "fit_power_law", "learning_curve_point", "potential_errors", "potential_net", "train"]


def train(model: torch.nn.Module, loss_fn, steps: int, lr: float = 1e-2, every: int = 10, evaluate=None, progress: bool = True) -> dict:
    """Minimise ``loss_fn(model)`` (a scalar tensor) with Adam for ``steps`` steps.

    Args:
        model: the parameters to train are ``model.parameters()``.
        loss_fn: called with the model each step; returns the training loss.
        steps, lr: number of steps and Adam's learning rate.
        every: record the history every ``every`` steps (and at the last step).
        evaluate: optional ``evaluate(model) -> dict`` of numbers, recorded with the history
            (e.g. a test accuracy), computed without gradients.
        progress: show a progress bar (tqdm) with the current loss.

    Returns:
        ``{"step": [...], "loss": [...], **evaluated}``: lists, one entry per record.
    """
    if not isinstance(steps, int) or steps < 1:
        raise ValueError(f"steps must be a positive integer, got {steps!r}")
    optimizer = torch.optim.Adam(model.parameters(), lr=lr)
    history = {"step": [], "loss": []}
    bar = tqdm(range(1, steps + 1), disable=not progress, leave=False)
    for step in bar:
        optimizer.zero_grad()
        loss = loss_fn(model)
        loss.backward()
        optimizer.step()
        if step % every == 0 or step == steps:
            history["step"].append(step)
            history["loss"].append(loss.item())
            if evaluate is not None:
                with torch.no_grad():
                    for key, value in evaluate(model).items():
                        history.setdefault(key, []).append(float(value))
            bar.set_postfix(loss=f"{loss.item():.3g}")
    return history


# ---- interatomic potentials: energies and forces, trained to convergence


class Potential(torch.nn.Module):
    r"""An energy model in physical units: ``E = scale · net(pos, cell, batch) + shift · atoms``.

    ``net`` is any ``(pos (N, 3), cell, batch (N,)) → (num_graphs,)`` or ``(num_graphs, 1)``
    model, e.g. ``symml.nn.EquivariantNet(reduce="sum")``, trained on numbers of order one: ``shift``
    takes out the mean energy per atom, ``scale`` the typical force. Forces come from
    ``symml.datasets.energy_and_forces(potential, pos, cell)``.
    """

    def __init__(self, net: torch.nn.Module, scale: float = 1.0, shift: float = 0.0):
        super().__init__()
        self.net, self.scale, self.shift = net, scale, shift

    def forward(self, pos: torch.Tensor, cell: torch.Tensor | None = None, batch: torch.Tensor | None = None) -> torch.Tensor:
        batch = torch.zeros(len(pos), dtype=torch.long, device=pos.device) if batch is None else batch
        energy = self.net(pos, batch=batch, cell=cell).reshape(-1)
        atoms = torch.bincount(batch, minlength=len(energy)).to(energy.dtype)
        return self.scale * energy + self.shift * atoms


# The weight of the energy term against the force term, 1 as in NequIP's loss (per-atom energies).
# Forces are 3·atoms numbers per structure against one energy, so they dominate the fit: a larger
# weight learns energies faster but, in a fixed number of steps, forces more slowly.
ENERGY_WEIGHT = 1.0


def fit_order_parameters(net: torch.nn.Module, pos: torch.Tensor, features, target: torch.Tensor, steps: int, order_parameters=(),
                         batch: torch.Tensor | None = None, cell: torch.Tensor | None = None, adam_for_p: bool = False) -> list[float]:
    r"""Fit ``net(pos, features(), batch, cell)`` to ``target`` by the mean squared error, learning the order parameters too (lesson 11).

    The weights move by Adam (lr 10⁻²). The ``order_parameters`` (tensors that ``features()`` builds
    the input from) move by plain gradient descent with momentum (lr 1, momentum 0.9): each step a
    sum of multiples of the gradient, so it commutes with every ``D(h)`` and an order parameter that
    starts ``h``-invariant stays so (lesson 11 shows why). ``adam_for_p=True`` moves them by Adam
    instead, to see what that breaks. ``pos (N, 3)``, ``target (N, irreps_out.dim)``; ``batch`` and
    ``cell`` as for ``EquivariantNet``. Returns the loss before each step.
    """
    device = next(net.parameters()).device
    pos, target = pos.to(device), target.to(device)
    batch = None if batch is None else batch.to(device)
    cell = None if cell is None else cell.to(device)
    optimizers = [torch.optim.Adam(net.parameters(), lr=1e-2)]
    if order_parameters:
        optimizers.append(torch.optim.Adam(order_parameters, lr=1e-2) if adam_for_p
                          else torch.optim.SGD(order_parameters, lr=1.0, momentum=0.9))
    losses = []
    for _ in range(steps):
        loss = ((net(pos, features(), batch, cell) - target) ** 2).mean()
        for opt in optimizers:
            opt.zero_grad()
        loss.backward()
        for opt in optimizers:
            opt.step()
        losses.append(loss.item())
    return losses


def _batches(data: dict, size: int, order: torch.Tensor | None = None):
    index = torch.arange(len(data["energy"])) if order is None else order
    for chunk in index.split(size):
        yield {key: value[chunk] for key, value in data.items()}


def potential_errors(model: Potential, data: dict, batch_size: int = 32) -> dict:
    """Mean absolute errors of ``model`` on ``data`` (``symml.datasets.silicon``'s layout).

    Returns ``{"force_mae": eV/Å per force component, "energy_mae": eV per atom, "loss": the
    training loss of ``fit_potential``}``, computed in batches of ``batch_size`` structures.
    """
    from symml.datasets import energy_and_forces

    atoms = data["pos"].shape[1]
    force_err, energy_err, loss = 0.0, 0.0, 0.0
    for part in _batches(data, batch_size):
        energy, forces = energy_and_forces(model, part["pos"], part["cell"])
        force_err += (forces - part["forces"]).abs().sum().item()
        energy_err += ((energy - part["energy"]) / atoms).abs().sum().item()
        loss += _loss(model, energy, forces, part).item() * len(energy)
    G = len(data["energy"])
    return {"force_mae": force_err / (G * atoms * 3), "energy_mae": energy_err / G, "loss": loss / G}


def _loss(model: Potential, energy, forces, part, energy_weight: float = ENERGY_WEIGHT) -> torch.Tensor:
    # squared errors of the energy per atom and of the force components, in units of the typical force
    atoms = part["pos"].shape[1]
    e = ((energy - part["energy"]) / (atoms * model.scale)).pow(2).mean()
    f = ((forces - part["forces"]) / model.scale).pow(2).mean()
    return energy_weight * e + f


def _epoch_order(n: int, epoch_size: int, g: torch.Generator) -> torch.Tensor:
    # one epoch: passes over the n structures, each in a fresh random order, until at least
    # epoch_size structures have been seen (a tiny training set is repeated, a large one seen once)
    passes = max(1, math.ceil(epoch_size / n))
    return torch.cat([torch.randperm(n, generator=g) for _ in range(passes)])


def fit_potential(net: torch.nn.Module, train: dict, valid: dict, lr: float = 5e-3, batch_size: int = 8, epoch_size: int = 32,
                  patience: int = 10, decay_patience: int = 3, decay: float = 0.5, min_lr: float | None = None, max_epochs: int = 500,
                  seed: int = 0, progress: bool = True) -> tuple[Potential, dict]:
    r"""Train ``net`` on energies and forces until the validation loss stops improving; returns ``(potential, history)``.

    The loss is ``mean((ΔE/atoms)²) + mean(ΔF²)``, both in units of the training forces' RMS
    (``Potential.scale``), minimised by Adam on mini-batches of ``batch_size`` structures. An epoch
    is one pass over ``train`` in random order (repeated until it holds ``epoch_size`` structures, so
    a training set of 5 is not judged every step). After each epoch the loss on ``valid`` is
    measured and training follows three rules, all counted in epochs, none in steps:

    * learning-rate decay on a plateau: ``decay_patience`` epochs without a new best multiply the
      learning rate by ``decay``;
    * a floor: when the learning rate would fall below ``min_lr`` (default ``lr / 64``), stop;
    * early stopping: ``patience`` epochs without a new best, stop;

    and the weights of the best epoch are restored. ``max_epochs`` is a safety net only: a run that
    reaches it is reported as not converged. The validation set alone decides, the test set stays untouched.

    ``train``, ``valid``: dicts ``pos (G, atoms, 3)``, ``cell (G, 3, 3)``, ``energy (G,)``,
    ``forces (G, atoms, 3)`` (``symml.datasets.silicon``). ``history``: per epoch ``epoch``,
    ``step``, ``train_loss`` (mean over the epoch's steps), ``valid_loss``, ``lr``; and
    ``converged`` (stopped by a rule, not by ``max_epochs``), ``stopped`` (which rule),
    ``best_epoch``, ``best_valid_loss``.
    """
    import copy

    from symml.datasets import energy_and_forces

    for name, value in [("batch_size", batch_size), ("epoch_size", epoch_size), ("patience", patience), ("decay_patience", decay_patience), ("max_epochs", max_epochs)]:
        if not isinstance(value, int) or value < 1:
            raise ValueError(f"{name} must be a positive integer, got {value!r}")
    if not 0 < decay < 1:
        raise ValueError(f"decay must be between 0 and 1 (the factor the learning rate is multiplied by), got {decay!r}")
    min_lr = lr / 64 if min_lr is None else min_lr
    atoms = train["pos"].shape[1]
    scale = train["forces"].pow(2).mean().sqrt().item()
    shift = (train["energy"] / atoms).mean().item()
    model = Potential(net, scale, shift)
    optimizer = torch.optim.Adam(model.parameters(), lr=lr)
    g = torch.Generator().manual_seed(seed)
    history = {"epoch": [], "step": [], "train_loss": [], "valid_loss": [], "lr": []}
    best, best_state, best_epoch, waited, step, stopped = float("inf"), copy.deepcopy(model.state_dict()), 0, 0, 0, "max_epochs"
    bar = tqdm(range(1, max_epochs + 1), disable=not progress, leave=False)
    for epoch in bar:
        running = []
        for part in _batches(train, batch_size, _epoch_order(len(train["energy"]), epoch_size, g)):
            optimizer.zero_grad()
            energy, forces = energy_and_forces(model, part["pos"], part["cell"], training=True)
            loss = _loss(model, energy, forces, part)
            loss.backward()
            optimizer.step()
            running.append(loss.item())
            step += 1
        valid_loss = potential_errors(model, valid)["loss"]
        for key, value in zip(history, (epoch, step, sum(running) / len(running), valid_loss, optimizer.param_groups[0]["lr"])):
            history[key].append(value)
        if valid_loss < best:
            best, best_state, best_epoch, waited = valid_loss, copy.deepcopy(model.state_dict()), epoch, 0
        else:
            waited += 1
        bar.set_postfix(valid=f"{valid_loss:.3g}", best=f"{best:.3g}", lr=f"{optimizer.param_groups[0]['lr']:.2g}")
        if waited >= patience:
            stopped = "patience"
            break
        if waited and waited % decay_patience == 0:
            if optimizer.param_groups[0]["lr"] * decay < min_lr * (1 - 1e-9):
                stopped = "lr floor"
                break
            for group in optimizer.param_groups:
                group["lr"] *= decay
    bar.close()
    model.load_state_dict(best_state)
    history.update(converged=stopped != "max_epochs", stopped=stopped, best_epoch=best_epoch, best_valid_loss=best)
    return model, history


# ---- learning curves (benchmarks/learning_curves.py and lesson 09 run this same code)

# The cutoff of the learning-curve nets: beyond diamond's second-neighbour shell (a/√2 = 3.84 Å),
# short of the third (4.50 Å, where the envelope is zero). With both shells in the graph, the three
# sides of a bond triangle are edges, so even the invariant net can learn angles through distances.
R_MAX = 4.5

# Hidden irreps per lmax with (almost) the same number of weights, 5,300 to 5,620 with two
# interactions: whatever differs between the three nets is the order of the spherical harmonics.
MATCHED_HIDDEN = {0: "16x0e", 1: "10x0e + 4x1o", 2: "8x0e + 3x1o + 2x2e"}

# The expressivity control of lesson 09's star test: one interaction, lmax 0, and the
# Stillinger-Weber cutoff aσ = 3.77 Å (first neighbours only). It is blind to every angle by
# construction, so it measures what a net can express, not how fast it learns.
ANGLE_BLIND = {"lmax": 0, "hidden": "36x0e", "num_layers": 1, "max_radius": 3.7718}


def potential_net(lmax: int, num_neighbors: float, hidden: str | None = None, num_layers: int = 2, max_radius: float = R_MAX):
    """The ``EquivariantNet`` of the silicon learning curves: energy ``0e`` from ``lmax`` and ``MATCHED_HIDDEN[lmax]``.

    Two interactions (a convolution and a gate each) and the output convolution, radius ``R_MAX``.
    ``num_neighbors``: the model's constant n̄ (sums over neighbours are divided by sqrt(n̄)), taken
    from the training set with ``symml.nn.average_num_neighbors``. ``potential_net(**ANGLE_BLIND,
    num_neighbors=...)`` is the angle-blind control.
    """
    from symml.nn import EquivariantNet

    hidden = MATCHED_HIDDEN[lmax] if hidden is None else hidden
    return EquivariantNet("0e", "0e", irreps_hidden=hidden, lmax=lmax, max_radius=max_radius, num_layers=num_layers, num_neighbors=num_neighbors)


# fit_potential's settings in benchmarks/learning_curves.py
LEARNING_CURVE_FIT = {"lr": 5e-3, "batch_size": 8, "epoch_size": 128, "patience": 8, "decay_patience": 3, "decay": 0.5, "max_epochs": 400}


def learning_curve_point(lmax: int, train: dict, valid: dict, test: dict, seed: int = 0, progress: bool = False, net: dict | None = None, **fit) -> dict:
    """Train a fresh ``potential_net(lmax)`` (initialised from ``seed``) on ``train`` until ``valid`` stops it; errors on ``test``.

    ``net``: keywords for ``potential_net`` (e.g. ``ANGLE_BLIND`` without its lmax); ``fit``:
    keywords for ``fit_potential``, overriding ``LEARNING_CURVE_FIT``. n̄ is the training set's
    ``average_num_neighbors`` at the net's radius.

    Returns ``{"params", "force_mae" (eV/Å), "energy_mae" (eV/atom), "train_loss", "valid_loss",
    "epochs", "steps", "converged", "lr", "history", "model"}``: test errors, the restored model's losses on
    the training and validation sets, and from ``fit_potential``'s history the epochs and steps
    run, whether a rule stopped it, and the final learning rate.
    """
    from symml.nn import average_num_neighbors

    net = dict(net or {})
    radius = net.get("max_radius", R_MAX)
    num_neighbors = average_num_neighbors(list(train["pos"]), radius, list(train["cell"]))
    torch.manual_seed(seed)
    model_net = potential_net(lmax, num_neighbors, **net).to(train["pos"].dtype)
    model, history = fit_potential(model_net, train, valid, seed=seed, progress=progress, **{**LEARNING_CURVE_FIT, **fit})
    errors = potential_errors(model, test)
    return {"params": sum(p.numel() for p in model_net.parameters()), "force_mae": errors["force_mae"], "energy_mae": errors["energy_mae"],
            "train_loss": potential_errors(model, train)["loss"], "valid_loss": history["best_valid_loss"], "epochs": history["epoch"][-1],
            "steps": history["step"][-1], "converged": history["converged"], "lr": history["lr"][-1], "history": history, "model": model}


def fit_power_law(N, error) -> tuple[float, float, float]:
    r"""Least squares on ``log error = log a − β log N``: returns ``(β, a, R²)``.

    ``R²`` is the fraction of the variance of ``log error`` the line explains (1: a perfect power law).
    """
    x = torch.log(torch.as_tensor(N, dtype=torch.float64))
    y = torch.log(torch.as_tensor(error, dtype=torch.float64))
    A = torch.stack([x, torch.ones_like(x)], dim=1)
    slope, intercept = torch.linalg.lstsq(A, y[:, None]).solution[:, 0].tolist()
    residual = y - (slope * x + intercept)
    r2 = 1 - float(residual.pow(2).sum() / (y - y.mean()).pow(2).sum())
    return -slope, math.exp(intercept), r2
