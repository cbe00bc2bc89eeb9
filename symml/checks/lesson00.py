"""Exercises of problem set 00, learning from examples: a weighted loss, a loss curve, gradient descent, the step size, what no model can fit.

Conventions shared by the exercises: tensors are float32 (torch's default) unless a case says
otherwise; a linear model is ``x @ w`` with ``x`` of shape ``(n, d)`` and ``w`` of shape ``(d,)``
(a line ``slope * x + intercept`` is the case ``d = 2`` with a column of ones); the loss is the
mean squared error ``mean((y - y_true)²)``.
"""

import numbers

import torch

from symml.checks import Case, Exercise, choice, close
from symml.checks.hints import as_student

# ---------------------------------------------------------------- 00.1 a weighted mean squared error


def _errors(y, y_true):
    """Each example's squared error, averaged over its outputs: ``(n,)`` or ``(n, d)`` -> ``(n,)``."""
    return ((y - y_true) ** 2).reshape(len(y), -1).mean(dim=1)


def weighted_mse(y, y_true, weight):
    """``Σ_i weight_i e_i / Σ_i weight_i`` with ``e_i`` example ``i``'s squared error averaged over its outputs.

    ``y``, ``y_true``: ``(n,)`` (one output per example) or ``(n, d)``; ``weight``: ``(n,)``, ≥ 0 and
    not all 0, not necessarily summing to 1. Returns a scalar, shape ``()``; equal weights give the
    plain mean squared error.
    """
    return (weight * _errors(y, y_true)).sum() / weight.sum()


def _mse(y, y_true):
    """Lesson 00's loss ``mean((y - y_true)²)``, used by the later exercises."""
    return ((y - y_true) ** 2).mean()


def _weighted_case(g, n, d=None, dtype=torch.float32, note=None):
    shape = (n,) if d is None else (n, d)
    y, y_true = torch.randn(2, *shape, generator=g, dtype=dtype)
    return Case(y, y_true, 3 * torch.rand(n, generator=g, dtype=dtype) + 0.1, note=note)


def weighted_mse_cases(g):
    yield _weighted_case(g, 7)
    yield _weighted_case(g, int(torch.randint(3, 12, (), generator=g)), int(torch.randint(2, 5, (), generator=g)), note="several outputs per example")
    c = _weighted_case(g, 6)
    yield Case(c.args[0], c.args[1], torch.ones(6), note="equal weights")


def weighted_mse_hidden(g):
    c = _weighted_case(g, 8, 3)
    y, y_true, w = c.args
    w = w.clone()
    w[::2] = 0
    yield Case(y, y_true, w, note="some examples of weight 0")
    yield Case(y, y_true, 1000 * w, note="the same weights times 1000")
    yield _weighted_case(g, 1, 4, note="a single example")
    yield _weighted_case(g, 5, 1, dtype=torch.float64, note="one output as a column (5, 1), float64")
    yield Case(y, y.clone(), w, note="perfect predictions")


def weighted_mse_compare(got, expected, case):
    y, y_true, w = case.args
    if close(got, expected) is None:
        return None
    if isinstance(got, torch.Tensor) and got.numel() > 1:
        return "the loss should be a single number, shape (): one weighted average over the examples"
    per_entry = (y - y_true) ** 2
    if expected > 0 and close(got, per_entry.mean()) is None and close(per_entry.mean(), expected) is not None:
        return "the weights are ignored: an example of weight 0 must not count, one of weight 2 counts twice"
    if close(got, (w * _errors(y, y_true)).sum() / len(y)) is None:
        return "divide by the total weight, not by the number of examples: the weights need not sum to 1"
    if y.dim() > 1 and y.shape[1] > 1 and close(got, (w * per_entry.sum(dim=1)).sum() / w.sum()) is None:
        return "average each example's squared errors over its outputs, don't add them up"
    if expected > 0 and close(got, (w * (y - y_true).abs().reshape(len(y), -1).mean(dim=1)).sum() / w.sum()) is None:
        return "square the differences instead of taking their absolute value"
    return close(got, expected, case)


# ---------------------------------------------------------------- 00.2 reading a loss curve


def first_below(losses, threshold):
    """The first step ``t`` with ``losses[t] < threshold``, or ``-1`` if there is none; an ``int``.

    ``losses``: shape ``(steps,)``, the loss recorded at each step.
    """
    below = (losses < threshold).nonzero()
    return int(below[0, 0]) if len(below) else -1


def _curve(g, n):
    """A noisy decay towards a floor: what training curves look like."""
    t = torch.arange(n, dtype=torch.float32)
    return 2.0 * torch.exp(-t / 15) + 0.01 + 0.05 * torch.rand(n, generator=g) * torch.exp(-t / 30)


def first_below_cases(g):
    losses = _curve(g, 60)
    yield Case(losses, 0.5)
    yield Case(_curve(g, 80), float(0.05 + 0.4 * torch.rand((), generator=g)))
    yield Case(losses, 10.0, note="a threshold above the whole curve")
    yield Case(losses, 0.001, note="a threshold the curve never reaches")
    yield Case(torch.tensor([3.0, 2.0, 1.0, 1.0, 0.5]), 1.0, note="a loss exactly equal to the threshold")


def first_below_hidden(g):
    yield Case(torch.tensor([0.3]), 0.5, note="a curve of a single step")
    yield Case(torch.tensor([1.0, 0.2, 5.0, 0.1]), 0.3, note="a curve that jumps back up")
    yield Case(_curve(g, 200).flip(0), 1.0, note="a curve that rises")


def first_below_compare(got, expected, case):
    if isinstance(got, torch.Tensor) and got.numel() == 1:
        got = got.item()
    if isinstance(got, float) and got.is_integer():
        got = int(got)
    if isinstance(got, bool) or not isinstance(got, numbers.Integral):
        return f"return a whole number (a step), not {type(got).__name__}"
    if expected == -1 and got != -1:
        return "when the loss never drops below the threshold, return -1"
    if expected != -1 and got == -1:
        return "the loss does drop below the threshold, yet you returned -1"
    got = int(got)
    at_most = (case.args[0] <= case.args[1]).nonzero()
    if len(at_most) and got == int(at_most[0, 0]) != expected:
        return "'below' means strictly less than the threshold"
    if got == expected + 1 or got == expected - 1:
        return "off by one: steps count from 0, and 'below' means strictly less than"
    return None if got == expected else "that is not the first step below the threshold"


def _last_below(losses, threshold):  # a mistake: the last step below, not the first
    below = (losses < threshold).nonzero()
    return int(below[-1, 0]) if len(below) else -1


# ---------------------------------------------------------------- 00.3 one step of gradient descent


def gd_step(w, x, y_true, lr):
    """One step ``w - lr * ∂loss/∂w`` for the model ``x @ w`` and the loss ``mse(x @ w, y_true)``.

    ``w``: ``(d,)``, ``x``: ``(n, d)``, ``y_true``: ``(n,)``, ``lr``: a float. Returns the new
    ``w``, shape ``(d,)``, a plain tensor (no gradient attached); the ``w`` passed in is unchanged.
    """
    w = w.detach().clone().requires_grad_(True)
    loss = _mse(x @ w, y_true)
    (grad,) = torch.autograd.grad(loss, w)
    return (w - lr * grad).detach()


def _problem(g, n, d):
    return torch.randn(d, generator=g), torch.randn(n, d, generator=g), torch.randn(n, generator=g)


def gd_step_cases(g):
    yield Case(*_problem(g, 8, 3), 0.1)
    yield Case(*_problem(g, int(torch.randint(2, 20, (), generator=g)), int(torch.randint(2, 6, (), generator=g))), float(torch.rand((), generator=g)))
    w, x, _ = _problem(g, 6, 3)
    yield Case(w, x, x @ w, 0.1, note="weights that already fit the data perfectly")


def gd_step_hidden(g):
    yield Case(*_problem(g, 5, 1), 0.05, note="a model with a single weight")
    yield Case(*_problem(g, 6, 3), 0.0, note="a learning rate of 0")
    yield Case(*_problem(g, 1, 4), 0.2, note="a single example")


def gd_step_compare(got, expected, case):
    w = case.args[0]
    hint = close(got, expected, case, what="the new w")
    if hint is None or "shape" in hint or "None" in hint or "tensor" in hint:
        return hint
    step, wanted = torch.as_tensor(got).detach().float() - w, expected - w
    if wanted.abs().max() > 1e-6 and step.abs().max() <= 1e-7:
        return "w did not move: return w minus the learning rate times the gradient"
    hint = close(step, wanted, case, what="the step (new w − w)")
    if hint and "sign" in hint:
        return "the step goes uphill: move against the gradient"
    if hint and "factor" in hint:
        return f"{hint}; use the gradient of the *mean* squared error and the learning rate as given"
    return hint


def _gd_step_sum(w, x, y_true, lr):  # a mistake: the gradient of the summed squared error
    w = w.detach().clone().requires_grad_(True)
    (grad,) = torch.autograd.grad(((x @ w - y_true) ** 2).sum(), w)
    return (w - lr * grad).detach()


# ---------------------------------------------------------------- 00.4 predict: shifting the inputs


def shift_effect():
    """What shifting every input of the line fit by +5 does to its largest stable learning rate."""
    return "smaller"


SHIFT_OPTIONS = ["larger", "smaller", "unchanged"]
shift_compare = choice(SHIFT_OPTIONS, why={
    "unchanged": "the bowl's shape is made of the inputs: its curvature along the slope is the mean of x², and a shift changes that mean",
    "larger": "a larger learning rate needs a flatter bowl; moving the inputs away from 0 makes the loss more sensitive to the slope, not less",
})


# ---------------------------------------------------------------- 00.5 the largest stable learning rate


def _hessian(x):
    x = x.double()
    return 2 * x.T @ x / len(x)


def max_stable_lr(x):
    """The learning rate above which gradient descent on ``mse(x @ w, y)`` diverges.

    ``x``: ``(n, d)``, the inputs of the linear model (for a line: a column of x and a column of
    ones). The loss is quadratic in ``w`` with Hessian ``H = 2 xᵀx / n``, whatever ``y``; a step
    multiplies the error along each eigenvector of ``H`` by ``1 - lr λ``, so every direction
    shrinks exactly when ``lr < 2 / λ_max``. Returns a float.
    """
    return float(2 / torch.linalg.eigvalsh(_hessian(x)).max())


def _line(x):
    return torch.stack([x, torch.ones_like(x)], dim=1)


def max_stable_lr_cases(g):
    yield Case(_line(2 * torch.rand(20, generator=g) - 1), note="a line fit")
    d = int(torch.randint(3, 7, (), generator=g))
    yield Case(torch.randn(int(torch.randint(10, 50, (), generator=g)), d, generator=g) * torch.rand(d, generator=g) * 3)
    yield Case(_line(3 * torch.randn(30, generator=g) + 5), note="a line fit to inputs far from 0")


def max_stable_lr_hidden(g):
    yield Case(_line(torch.zeros(5)), note="a line fit with every x equal to 0")
    yield Case(torch.randn(1, 3, generator=g), note="a single example")
    yield Case(torch.randn(40, 1, generator=g, dtype=torch.float64), note="a single weight, float64")
    a = torch.randn(12, generator=g)
    yield Case(torch.stack([a, 2 * a], dim=1), note="two columns that are multiples of each other")


def max_stable_lr_compare(got, expected, case):
    eig = torch.linalg.eigvalsh(_hessian(case.args[0]))
    lam_min = float(eig.min())
    if lam_min > 1e-6 and close(got, 2 / lam_min, rtol=1e-3) is None and close(got, expected, rtol=1e-3) is not None:
        return "that is set by the smallest curvature; the largest one limits the step"
    return close(got, expected, case, rtol=1e-3, what="the learning rate")


# ---------------------------------------------------------------- 00.6 predict: the loss floor of a line through the origin

NOISE_SD = 0.3
OFFSET = -1.0  # the targets are 3x + OFFSET + noise; the model y = w x cannot produce the offset


def loss_floor():
    """The training loss of the converged fit ``y = w x`` (no intercept) to ``3x − 1`` plus noise of sd 0.3, x uniform on [−1, 1].

    x is symmetric about 0, so the offset is orthogonal to x: the best w is 3 and leaves the offset
    (its square, 1) and the noise (its variance, 0.09) on every example.
    """
    return OFFSET**2 + NOISE_SD**2


def loss_floor_compare(got, expected, case=None):
    if isinstance(got, torch.Tensor) and got.numel() == 1:
        got = float(got)
    if isinstance(got, bool) or not isinstance(got, numbers.Real):
        return f"predict a number, not {type(got).__name__}"
    if abs(got - expected) <= 0.05 * expected:
        return None
    if got < 0.01:
        return "no line through the origin fits these targets exactly: something of them must remain"
    if abs(got - NOISE_SD**2) <= 0.15 * NOISE_SD**2:
        return "that would be the floor of a line with an intercept; y = w x passes through the origin, so what becomes of the −1?"
    if abs(got - OFFSET**2) <= 0.03:
        return "the part no w x can produce is counted; the noise is still there on top of it"
    if abs(got - NOISE_SD) <= 0.15 * NOISE_SD or abs(got - (abs(OFFSET) + NOISE_SD)) <= 0.05:
        return "the loss is the mean of the *squared* errors: add up what each part contributes squared"
    return "not quite: ask which parts of y no w x can predict, and what the loss does to each"


EXERCISES = [
    Exercise("00.1", weighted_mse, weighted_mse_cases, weighted_mse_compare, title="a weighted mean squared error", name="weighted_mse",
             hidden=weighted_mse_hidden,
             forbidden={"torch.nn.functional.mse_loss": torch.nn.functional.mse_loss, "torch.nn.MSELoss": torch.nn.MSELoss.__init__},
             mistakes=[(as_student("lambda y, t, w: (w * F.mse_loss(y, t, reduction='none').reshape(len(y), -1).mean(1)).sum() / w.sum()", F=torch.nn.functional),
                        "calls torch.nn.functional.mse_loss"),
                       (as_student("lambda y, t, w: torch.nn.MSELoss()(y, t)", torch=torch), "calls torch.nn.MSELoss"),
                       (lambda y, t, w: w * _errors(y, t) / w.sum(), "single number"),
                       (lambda y, t, w: ((y - t) ** 2).mean(), "weights are ignored"),
                       (lambda y, t, w: (w * _errors(y, t)).sum() / len(y), "total weight"),
                       (lambda y, t, w: (w * ((y - t) ** 2).reshape(len(y), -1).sum(1)).sum() / w.sum(), "don't add them up"),
                       (lambda y, t, w: (w * (y - t).abs().reshape(len(y), -1).mean(1)).sum() / w.sum(), "absolute value"),
                       (lambda y, t, w: -weighted_mse(y, t, w), "off by a sign"),
                       (lambda y, t, w: None, "forget to `return`")]),
    Exercise("00.2", first_below, first_below_cases, first_below_compare, title="reading a loss curve", name="first_below",
             hidden=first_below_hidden,
             mistakes=[(lambda losses, th: float(first_below(losses, th)) + 0.5, "whole number"),
                       (lambda losses, th: first_below(losses, th) if (losses < th).any() else 0, "never drops below"),
                       (lambda losses, th: -1, "yet you returned -1"),
                       (lambda losses, th: first_below(losses, th + 1e-6), "strictly less"),
                       (lambda losses, th: first_below(losses, th) + 1 if (losses < th).any() else -1, "off by one"),
                       (lambda losses, th: _last_below(losses, th), "not the first step")]),
    Exercise("00.3", gd_step, gd_step_cases, gd_step_compare, title="one step of gradient descent", name="gd_step",
             hidden=gd_step_hidden,
             mistakes=[(lambda w, x, y, lr: gd_step(w, x, y, -lr), "uphill"),
                       (lambda w, x, y, lr: gd_step(w, x, y, 2 * lr), "factor"),
                       (lambda w, x, y, lr: w.clone(), "did not move"),
                       (lambda w, x, y, lr: gd_step(w, x, y, lr).unsqueeze(0), "shape"),
                       (lambda w, x, y, lr: gd_step(w, x, y, lr) + 0.01 * torch.arange(len(w)), "wrong values"),
                       (_gd_step_sum, "*mean* squared error")]),
    Exercise("00.4", shift_effect, None, shift_compare, kind="value", name="shift_effect", title="predict: shifting the inputs",
             mistakes=[("unchanged", "mean of x²"), ("larger", "flatter bowl"), ("faster", "answer with one of")]),
    Exercise("00.5", max_stable_lr, max_stable_lr_cases, max_stable_lr_compare, title="the largest stable learning rate",
             name="max_stable_lr", points=2, hidden=max_stable_lr_hidden,
             mistakes=[(lambda x: float(2 / torch.linalg.eigvalsh(_hessian(x)).min()), "smallest curvature"),
                       (lambda x: 2 * max_stable_lr(x), "2× too large"),
                       (lambda x: max_stable_lr(x) / len(x), "off by a constant factor"),
                       (lambda x: None, "forget to `return`"),
                       (lambda x: max_stable_lr(x) + 0.1, "wrong values")]),
    Exercise("00.6", loss_floor, None, loss_floor_compare, kind="value", name="loss_floor", title="predict: the loss floor of a line through the origin",
             mistakes=[(0.0, "must remain"), (0.09, "what becomes of the −1"), (1.0, "noise is still there"), (0.3, "*squared* errors"),
                       (1.3, "*squared* errors"), (0.5, "not quite"), ("1.09", "predict a number")]),
]
