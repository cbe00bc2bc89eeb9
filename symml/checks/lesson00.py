"""Exercises of problem set 00, learning from examples: a loss, a loss curve, gradient descent.

Conventions shared by the exercises: tensors are float32 (torch's default); a linear model is
``x @ w`` with ``x`` of shape ``(n, d)`` and ``w`` of shape ``(d,)``; a line is ``slope * x + intercept``;
the loss is the mean squared error ``mean((y - y_true)²)``.
"""

import numbers

import torch

from symml.checks import Case, Exercise, close

# ---------------------------------------------------------------- 00.1 the mean squared error


def mse(y, y_true):
    """``mean((y - y_true)²)`` over every entry: tensors of one shape -> a scalar, shape ``()``."""
    return ((y - y_true) ** 2).mean()


def mse_cases(g):
    y, y_true = torch.randn(2, 7, generator=g)
    yield Case(y, y_true)
    n = int(torch.randint(3, 12, (), generator=g))
    yield Case(torch.randn(n, generator=g), torch.randn(n, generator=g))
    yield Case(torch.randn(4, 3, generator=g), torch.randn(4, 3, generator=g), note="a (4, 3) table of predictions")
    yield Case(torch.tensor([2.5]), torch.tensor([1.0]), note="a single example")
    yield Case(y, y.clone(), note="perfect predictions")


def mse_compare(got, expected, case):
    y, y_true = case.args
    if close(got, expected) is None:
        return None
    if isinstance(got, torch.Tensor) and got.shape == y.shape:
        return "the loss should be a single number: average over every entry"
    if close(got, ((y - y_true) ** 2).sum()) is None and y.numel() > 1:
        return "that is the sum of the squared errors; the loss is their mean"
    if close(got, (y - y_true).abs().mean()) is None and expected > 0:
        return "square the differences instead of taking their absolute value"
    if close(got, expected.sqrt()) is None and expected > 0:
        return "no square root: the loss is the mean of the squares itself"
    return close(got, expected, case)


# ---------------------------------------------------------------- 00.2 reading a loss curve


def first_below(losses, threshold):
    """The first step ``t`` with ``losses[t] < threshold``, or ``-1`` if there is none; an ``int``.

    ``losses``: shape ``(steps,)``, the loss recorded at each step.
    """
    below = (losses < threshold).nonzero()
    return int(below[0, 0]) if len(below) else -1


def first_below_cases(g):
    def curve(n):  # a noisy decay towards a floor: what training curves look like
        t = torch.arange(n, dtype=torch.float32)
        return 2.0 * torch.exp(-t / 15) + 0.01 + 0.05 * torch.rand(n, generator=g) * torch.exp(-t / 30)

    losses = curve(60)
    yield Case(losses, 0.5)
    yield Case(curve(80), float(0.05 + 0.4 * torch.rand((), generator=g)))
    yield Case(losses, 10.0, note="a threshold above the whole curve")
    yield Case(losses, 0.001, note="a threshold the curve never reaches")
    yield Case(torch.tensor([3.0, 2.0, 1.0, 1.0, 0.5]), 1.0, note="a loss exactly equal to the threshold")


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


# ---------------------------------------------------------------- 00.3 one step of gradient descent


def gd_step(w, x, y_true, lr):
    """One step ``w - lr * ∂loss/∂w`` for the model ``x @ w`` and the loss ``mse(x @ w, y_true)``.

    ``w``: ``(d,)``, ``x``: ``(n, d)``, ``y_true``: ``(n,)``, ``lr``: a float. Returns the new
    ``w``, shape ``(d,)``, a plain tensor (no gradient attached); the ``w`` passed in is unchanged.
    """
    w = w.detach().clone().requires_grad_(True)
    loss = mse(x @ w, y_true)
    (grad,) = torch.autograd.grad(loss, w)
    return (w - lr * grad).detach()


def gd_step_cases(g):
    def problem(n, d):
        return torch.randn(d, generator=g), torch.randn(n, d, generator=g), torch.randn(n, generator=g)

    yield Case(*problem(8, 3), 0.1)
    yield Case(*problem(int(torch.randint(2, 20, (), generator=g)), 2), float(torch.rand((), generator=g)))
    yield Case(*problem(5, 1), 0.05, note="a model with a single weight")
    w, x, _ = problem(6, 3)
    yield Case(w, x, x @ w, 0.1, note="weights that already fit the data perfectly")
    yield Case(*problem(6, 3), 0.0, note="a learning rate of 0")


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


# ---------------------------------------------------------------- 00.4 fitting a line


def fit_line(x, y_true, lr, steps):
    """Fit ``slope * x + intercept`` to ``y_true`` by ``steps`` steps of gradient descent on the mse.

    Starts from slope = intercept = 0. ``x``, ``y_true``: ``(n,)``. Returns ``tensor([slope, intercept])``.
    """
    w = torch.zeros(2, requires_grad=True)
    for _ in range(steps):
        loss = mse(w[0] * x + w[1], y_true)
        (grad,) = torch.autograd.grad(loss, w)
        with torch.no_grad():
            w -= lr * grad
    return w.detach()


def fit_line_cases(g):
    def data(n):
        x = 2 * torch.rand(n, generator=g) - 1
        slope, intercept = 4 * torch.rand(2, generator=g) - 2
        return x, slope * x + intercept + 0.1 * torch.randn(n, generator=g)

    yield Case(*data(20), 0.1, 100)
    yield Case(*data(int(torch.randint(5, 40, (), generator=g))), 0.3, int(torch.randint(20, 80, (), generator=g)))
    yield Case(*data(10), 0.1, 0, note="zero steps")
    yield Case(*data(10), 0.2, 1, note="a single step")


def fit_line_compare(got, expected, case):
    x, y_true, lr, steps = case.args
    hint = close(got, expected, case, what="(slope, intercept)")
    if hint is None or "shape" in hint or "None" in hint:
        return hint
    if steps == 0:
        return "with zero steps, return the starting point (0, 0)"
    for other, words in ((steps - 1, "one step too few"), (steps + 1, "one step too many")):
        if other >= 0 and close(got, fit_line(x, y_true, lr, other), rtol=1e-3) is None:
            return f"{words}: take exactly `steps` steps"
    if close(got, expected.flip(0), rtol=1e-3) is None:
        return "slope and intercept are swapped: return (slope, intercept)"
    return hint


# ---------------------------------------------------------------- 00.5 the largest stable learning rate


def max_stable_lr(x):
    """The learning rate above which gradient descent on ``mse(slope * x + intercept, y)`` diverges.

    The loss is quadratic in ``w = (slope, intercept)`` with Hessian ``H = 2 mean([[x², x], [x, 1]])``;
    a step multiplies the error along each eigenvector of ``H`` by ``1 - lr λ``, so it shrinks for every
    direction exactly when ``lr < 2 / λ_max``. ``x``: ``(n,)``; returns a float.
    """
    x = x.double()
    H = 2 * torch.stack([torch.stack([(x * x).mean(), x.mean()]), torch.stack([x.mean(), torch.ones((), dtype=x.dtype)])])
    return float(2 / torch.linalg.eigvalsh(H).max())


def max_stable_lr_cases(g):
    yield Case(2 * torch.rand(20, generator=g) - 1)
    yield Case(3 * torch.randn(int(torch.randint(5, 50, (), generator=g)), generator=g) + 1)
    yield Case(torch.zeros(5), note="every x equal to 0 (only the intercept matters)")
    yield Case(torch.full((4,), 2.0), note="every x equal to 2")


def max_stable_lr_compare(got, expected, case):
    x = case.args[0].double()
    H = 2 * torch.stack([torch.stack([(x * x).mean(), x.mean()]), torch.stack([x.mean(), torch.ones((), dtype=x.dtype)])])
    lam_min = float(torch.linalg.eigvalsh(H).min())
    if lam_min > 1e-6 and close(got, 2 / lam_min, rtol=1e-3) is None and close(got, expected, rtol=1e-3) is not None:
        return "that is set by the smallest curvature; the largest one limits the step"
    return close(got, expected, case, rtol=1e-3, what="the learning rate")


EXERCISES = [
    Exercise("00.1", mse, mse_cases, mse_compare, title="the mean squared error", name="mse"),
    Exercise("00.2", first_below, first_below_cases, first_below_compare, title="reading a loss curve", name="first_below"),
    Exercise("00.3", gd_step, gd_step_cases, gd_step_compare, title="one step of gradient descent", name="gd_step"),
    Exercise("00.4", fit_line, fit_line_cases, fit_line_compare, title="fitting a line", name="fit_line"),
    Exercise("00.5", max_stable_lr, max_stable_lr_cases, max_stable_lr_compare, title="the largest stable learning rate", name="max_stable_lr"),
]
