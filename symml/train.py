"""A short training loop for the lessons: Adam, a progress bar, and the history of the loss."""

import torch
from tqdm.auto import tqdm

__all__ = ["train"]


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
