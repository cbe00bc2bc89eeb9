"""Training loops for the lessons.

* ``train``: Adam on any loss, with a progress bar and the history of the loss.
* ``fit_potential``: an interatomic potential (``Potential``) on energies and forces, with early
  stopping on a validation set; ``potential_errors`` its test errors.
* ``learning_curve_point``, ``potential_net``, ``fit_power_law``: the silicon learning curves of
  lesson 09 and ``benchmarks/learning_curves.py``, which run this same code.
"""

import math

import torch
from tqdm.auto import tqdm

__all__ = ["LEARNING_CURVE_FIT", "MATCHED_HIDDEN", "Potential", "fit_potential", "fit_power_law", "learning_curve_point", "potential_errors", "potential_net", "train"]


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


def fit_potential(net: torch.nn.Module, train: dict, valid: dict, lr: float = 5e-3, batch_size: int = 4, eval_every: int = 20,
                  patience: int = 10, max_steps: int = 4000, seed: int = 0, progress: bool = True) -> tuple[Potential, dict]:
    r"""Train ``net`` on energies and forces with early stopping; returns ``(potential, history)``.

    The loss is ``mean((ΔE/atoms)²) + mean(ΔF²)``, both in units of the training forces' RMS
    (``Potential.scale``), minimised by Adam on mini-batches of ``batch_size`` structures. Every
    ``eval_every`` steps the loss on ``valid`` is measured: the learning rate halves after
    ``patience // 2`` measurements without a new best, training stops after ``patience`` (or
    ``max_steps``), and the weights of the best measurement are restored. The validation set alone
    decides when to stop, so the test set stays untouched.

    ``train``, ``valid``: dicts ``pos (G, atoms, 3)``, ``cell (G, 3, 3)``, ``energy (G,)``,
    ``forces (G, atoms, 3)`` (``symml.datasets.silicon``). ``history``: ``step``, ``train_loss``
    (mean over the steps since the last record), ``valid_loss``, ``lr``.
    """
    import copy

    from symml.datasets import energy_and_forces

    atoms = train["pos"].shape[1]
    scale = train["forces"].pow(2).mean().sqrt().item()
    shift = (train["energy"] / atoms).mean().item()
    model = Potential(net, scale, shift)
    optimizer = torch.optim.Adam(model.parameters(), lr=lr)
    scheduler = torch.optim.lr_scheduler.ReduceLROnPlateau(optimizer, factor=0.5, patience=max(patience // 2 - 1, 0))
    g = torch.Generator().manual_seed(seed)
    history = {"step": [], "train_loss": [], "valid_loss": [], "lr": []}
    best, best_state, waited, running = float("inf"), copy.deepcopy(model.state_dict()), 0, []
    bar = tqdm(total=max_steps, disable=not progress, leave=False)
    step = 0
    while step < max_steps and waited < patience:
        for part in _batches(train, batch_size, torch.randperm(len(train["energy"]), generator=g)):
            optimizer.zero_grad()
            energy, forces = energy_and_forces(model, part["pos"], part["cell"], training=True)
            loss = _loss(model, energy, forces, part)
            loss.backward()
            optimizer.step()
            running.append(loss.item())
            step += 1
            bar.update()
            if step % eval_every == 0 or step == max_steps:
                valid_loss = potential_errors(model, valid)["loss"]
                scheduler.step(valid_loss)
                for key, value in zip(history, (step, sum(running) / len(running), valid_loss, optimizer.param_groups[0]["lr"])):
                    history[key].append(value)
                running = []
                if valid_loss < best:
                    best, best_state, waited = valid_loss, copy.deepcopy(model.state_dict()), 0
                else:
                    waited += 1
                bar.set_postfix(valid=f"{valid_loss:.3g}", best=f"{best:.3g}")
                if waited >= patience or step >= max_steps:
                    break
    bar.close()
    model.load_state_dict(best_state)
    return model, history


# ---- learning curves (benchmarks/learning_curves.py and lesson 09 run this same code)

# Hidden irreps per lmax with (almost) the same number of weights, 1,530 to 1,600: whatever
# differs between the three nets is the order of the spherical harmonics, not their size.
MATCHED_HIDDEN = {0: "36x0e", 1: "20x0e + 10x1o", 2: "16x0e + 8x1o + 6x2e"}


def potential_net(lmax: int, hidden: str | None = None, num_layers: int = 1):
    """The ``EquivariantNet`` of the silicon learning curves: energy ``0e`` from ``lmax`` and ``MATCHED_HIDDEN[lmax]``.

    One interaction (a convolution and a gate) and the output convolution: the energy is a sum
    over atoms i and neighbours j of the features of j, which hold ``Σ_k R(r_jk) Y^l(r̂_jk)``,
    coupled to ``Y^l(r̂_ij)``, i.e. of terms ``R(r_ij) R'(r_jk) P_l(cos θ_ijk)`` with ``l ≤ lmax``.
    Its cutoff is the Stillinger–Weber cutoff ``aσ``, so it sees exactly the neighbours the
    potential sees; sums over neighbours are divided by sqrt(4), diamond's coordination, a fixed
    number (the default, an average over the batch at hand, would make an energy depend on the
    other structures in its batch).
    """
    from symml.datasets import SW_SILICON
    from symml.nn import EquivariantNet

    hidden = MATCHED_HIDDEN[lmax] if hidden is None else hidden
    return EquivariantNet("0e", "0e", irreps_hidden=hidden, lmax=lmax, max_radius=SW_SILICON["a"] * SW_SILICON["sigma"], num_layers=num_layers, num_neighbors=4.0)


# fit_potential's settings in benchmarks/learning_curves.py
LEARNING_CURVE_FIT = {"lr": 5e-3, "batch_size": 8, "eval_every": 25, "patience": 6, "max_steps": 1000}


def learning_curve_point(lmax: int, train: dict, valid: dict, test: dict, seed: int = 0, progress: bool = False, **fit) -> dict:
    """Train a fresh ``potential_net(lmax)`` (initialised from ``seed``) on ``train`` with early stopping on ``valid``; errors on ``test``.

    Returns ``{"params", "force_mae" (eV/Å), "energy_mae" (eV/atom), "steps", "history"}``, the last
    two from ``fit_potential``. ``fit``: keywords for ``fit_potential``, overriding ``LEARNING_CURVE_FIT``.
    """
    torch.manual_seed(seed)
    net = potential_net(lmax).to(train["pos"].dtype)
    model, history = fit_potential(net, train, valid, seed=seed, progress=progress, **{**LEARNING_CURVE_FIT, **fit})
    errors = potential_errors(model, test)
    return {"params": sum(p.numel() for p in net.parameters()), "force_mae": errors["force_mae"], "energy_mae": errors["energy_mae"], "steps": history["step"][-1], "history": history}


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
