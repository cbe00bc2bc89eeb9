"""Exercises of lesson 09, data efficiency: power laws, invariant features, test errors."""

import math

import torch

from symml.checks import Case, Exercise, close
from symml.so3 import rand_matrix

# ---- 09.1: fit a power law


def fit_power_law(N, err):
    """err ≈ a N^(−β): least squares on (log N, log err). N, err (k,) -> (beta, a), two floats."""
    x, y = torch.log(torch.as_tensor(N, dtype=torch.float64)), torch.log(torch.as_tensor(err, dtype=torch.float64))
    A = torch.stack([x, torch.ones_like(x)], dim=1)
    slope, intercept = torch.linalg.lstsq(A, y[:, None]).solution[:, 0].tolist()
    return -slope, math.exp(intercept)


def _curves(g):
    def curve(k, noise):
        beta = 0.1 + 0.9 * float(torch.rand(1, generator=g))
        a = 0.5 + 4.5 * float(torch.rand(1, generator=g))
        N = 2.0 ** torch.arange(3, 3 + k, dtype=torch.float64)
        err = a * N**-beta * torch.exp(noise * torch.randn(k, generator=g, dtype=torch.float64))
        return N, err

    yield Case(*curve(6, 0.2))
    yield Case(*curve(5, 0.3))
    yield Case(*curve(5, 0.0), note="an exact power law")
    N = torch.tensor([10.0, 20.0, 40.0, 80.0], dtype=torch.float64)
    yield Case(N, 3.0 * N**-0.25, note="err = 3 N^(-0.25)")
    yield Case(torch.tensor([4.0, 64.0], dtype=torch.float64), torch.tensor([1.0, 0.5], dtype=torch.float64), note="two points")


def _as_float(v):
    if isinstance(v, torch.Tensor) and v.numel() == 1:
        return float(v)
    if type(v).__module__ == "numpy" and getattr(v, "size", 0) == 1:
        return float(v)
    return v


def _power_law_compare(got, expected, case):
    if not isinstance(got, (tuple, list)) or len(got) != 2:
        return "return two numbers, (beta, a)"
    beta, a = (_as_float(v) for v in got)
    if not all(isinstance(v, (int, float)) for v in (beta, a)):
        return "beta and a should be numbers (a float, or a tensor holding one number)"
    eb, ea = expected
    if close(beta, eb) is not None:
        if close(-beta, eb) is None:
            return "β has the wrong sign: the error falls, err ∝ N^(−β) with β > 0"
        if close(a, eb) is None and close(beta, ea) is None:
            return "the two numbers are swapped: return (beta, a)"
        return "β (the slope on the log-log plot) is wrong"
    if close(a, ea) is not None:
        if close(a, math.log(ea)) is None:
            return "a is the prefactor itself, not its logarithm: undo the log"
        if close(a, math.log10(ea)) is None:
            return "a is the prefactor itself, not its log10: undo the log"
        return "the prefactor a is wrong"
    return None


# ---- 09.2: an invariant featurisation


def sorted_distances(pos):
    """pos (m, n, 3) -> (m, n(n−1)/2): the distances of every pair of points, each pair once, in ascending order."""
    n = pos.shape[-2]
    i, j = torch.triu_indices(n, n, offset=1)
    return (pos[..., i, :] - pos[..., j, :]).norm(dim=-1).sort(dim=-1).values


def _clouds(g):
    for m, n in [(3, 5), (2, 4), (1, 6)]:
        pos = torch.randn(m, n, 3, generator=g, dtype=torch.float64)
        yield Case(pos, rand_matrix(dtype=torch.float64, generator=g) * (-1) ** m, torch.randn(3, generator=g, dtype=torch.float64),
                   torch.randperm(n, generator=g))
    yield Case(torch.tensor([[[0.0, 0, 0], [3, 0, 0], [0, 4, 0]]], dtype=torch.float64), torch.eye(3, dtype=torch.float64),
               torch.zeros(3, dtype=torch.float64), torch.tensor([2, 0, 1]), note="a 3-4-5 triangle")


def _moved(f, pos, R, t, perm):
    """The answer on the cloud, on the same cloud rotated (or reflected) and shifted, and with its points relabelled."""
    return f(pos), f(pos @ R.T + t), f(pos[:, perm])


def _invariant_compare(got, expected, case):
    pos = case.args[0]
    m, n = pos.shape[:2]
    first, moved, relabelled = got
    if not isinstance(first, torch.Tensor):
        return f"return a tensor, not {type(first).__name__}"
    if first.shape != expected[0].shape:
        if first.shape[-1] == n * n or first.shape[-1] == n * (n - 1):
            return "count each pair once (i < j), and leave out a point's distance to itself"
        return f"the output has shape {tuple(first.shape)} but should be (m, n(n−1)/2) = {tuple(expected[0].shape)}"
    if close(moved, first) is not None:
        return "not invariant: rotating, reflecting or shifting the cloud changes the features (use differences of positions)"
    if close(relabelled, first) is not None:
        return "not invariant under relabelling the points: sort the distances"
    hint = close(first, expected[0], what="the features")
    if hint and close(first.flip(-1), expected[0]) is None:
        return "sort in ascending order (smallest distance first)"
    return hint


# ---- 09.3: a test error


def ridge_fit(x, y):
    """A stand-in model for 09.3: linear least squares with a tiny ridge. Returns predict(x_new)."""
    X = torch.cat([x, torch.ones(len(x), 1, dtype=x.dtype)], dim=1)
    w = torch.linalg.solve(X.T @ X + 1e-6 * torch.eye(X.shape[1], dtype=x.dtype), X.T @ y)
    return lambda x_new: torch.cat([x_new, torch.ones(len(x_new), 1, dtype=x_new.dtype)], dim=1) @ w


def test_error(fit, x, y, n_train, n_test):
    """Fit on the first n_train examples, return the mean absolute error on the last n_test ones."""
    predict = fit(x[:n_train], y[:n_train])
    return (predict(x[-n_test:]) - y[-n_test:]).abs().mean()


def _datasets(g):
    for m, d, n_train, n_test in [(40, 3, 10, 20), (60, 5, 20, 30), (25, 2, 5, 20)]:
        x = torch.randn(m, d, generator=g, dtype=torch.float64)
        y = x @ torch.randn(d, generator=g, dtype=torch.float64) + 0.5 * torch.randn(m, generator=g, dtype=torch.float64)
        yield Case(x, y, n_train, n_test)


def _with_ridge(answer, x, y, n_train, n_test):
    return answer(ridge_fit, x, y, n_train, n_test)


def _test_error_compare(got, expected, case):
    x, y, n_train, n_test = case.args
    got = _as_float(got)
    if not isinstance(got, (int, float)):
        return "return one number, the mean absolute error on the test examples"
    if close(got, float(expected)) is None:
        return None
    predict = ridge_fit(x[:n_train], y[:n_train])
    if close(got, float((predict(x[:n_train]) - y[:n_train]).abs().mean())) is None:
        return "that is the error on the training examples: judge the model on examples it never saw"
    if close(got, float((predict(x) - y).abs().mean())) is None:
        return "average over the test examples only, not over all of them"
    if close(got, float((predict(x[-n_test:]) - y[-n_test:]).pow(2).mean().sqrt())) is None:
        return "that is the root-mean-square error: use the mean absolute error"
    if close(got, float((predict(x[n_train:n_train + n_test]) - y[n_train:n_train + n_test]).abs().mean())) is None:
        return "the test examples are the last n_test ones, x[-n_test:]"
    everything = ridge_fit(x, y)
    if close(got, float((everything(x[-n_test:]) - y[-n_test:]).abs().mean())) is None:
        return "the model was fitted on all the examples, test set included: fit on the first n_train only"
    return close(got, float(expected), what="the test error")


# ---- 09.4: how much data for a target error


def examples_needed(beta, a, target):
    """The N at which a N^(−β) reaches the target error: (a / target)^(1/β), a float."""
    return (a / target) ** (1 / beta)


def _laws(g):
    for _ in range(3):
        beta = 0.1 + 0.8 * float(torch.rand(1, generator=g))
        a = 1 + 4 * float(torch.rand(1, generator=g))
        yield Case(beta, a, a * 10 ** (-1 - float(torch.rand(1, generator=g))))
    yield Case(0.5, 1.0, 0.1, note="β = 1/2, a = 1, target 0.1")
    yield Case(0.25, 2.0, 1.0, note="halving an error 2 with β = 1/4")


def _needed_compare(got, expected, case):
    beta, a, target = case.args
    got = _as_float(got)
    if not isinstance(got, (int, float)):
        return "return one number"
    if close(got, expected, rtol=1e-6) is None:
        return None
    if close(got, (target / a) ** (1 / beta), rtol=1e-6) is None:
        return "N comes out below 1: the ratio is upside down (more data, smaller error)"
    if close(got, (a / target) ** beta, rtol=1e-6) is None:
        return "solve a N^(−β) = target for N: the power is 1/β, not β"
    return close(got, expected, rtol=1e-6, what="N")


EXERCISES = [
    Exercise("09.1", fit_power_law, _curves, _power_law_compare, title="fit a power law", name="fit_power_law"),
    Exercise("09.2", sorted_distances, _clouds, _invariant_compare, call=_moved, title="an invariant featurisation", name="sorted_distances"),
    Exercise("09.3", test_error, _datasets, _test_error_compare, call=_with_ridge, title="a test error", name="test_error"),
    Exercise("09.4", examples_needed, _laws, _needed_compare, title="how much data for a target error", name="examples_needed"),
]
