"""Exercises of lesson 09, data efficiency: power laws, exponents with error bars, what a symmetry buys."""

import math

import numpy
import torch

from symml.checks import Case, Exercise, choice, close
from symml.checks.hints import as_student
from symml.train import fit_power_law

# ---- 09.1: fit a power law


def power_law(N, err):
    """err ≈ a N^(−β): least squares on (log N, log err). N, err (k,) -> (beta, a), two floats."""
    x, y = torch.log(torch.as_tensor(N, dtype=torch.float64)), torch.log(torch.as_tensor(err, dtype=torch.float64))
    A = torch.stack([x, torch.ones_like(x)], dim=1)
    slope, intercept = torch.linalg.lstsq(A, y[:, None]).solution[:, 0].tolist()
    return -slope, math.exp(intercept)


def _law(g, k, noise, start=3):
    beta = 0.1 + 0.9 * float(torch.rand(1, generator=g))
    a = 0.5 + 4.5 * float(torch.rand(1, generator=g))
    N = 2.0 ** torch.arange(start, start + k, dtype=torch.float64)
    return N, a * N**-beta * torch.exp(noise * torch.randn(k, generator=g, dtype=torch.float64))


def _curves(g):
    yield Case(*_law(g, 6, 0.2))
    yield Case(*_law(g, 5, 0.3))
    yield Case(*_law(g, 5, 0.0), note="an exact power law")


def _hidden_curves(g):
    yield Case(torch.tensor([4.0, 64.0], dtype=torch.float64), torch.tensor([1.0, 0.5], dtype=torch.float64), note="two points")
    N = torch.tensor([10.0, 30.0, 90.0, 270.0], dtype=torch.float64)
    yield Case(N, 0.2 * N**0.3, note="an error that grows (β < 0)")
    yield Case(N, torch.full((4,), 0.7, dtype=torch.float64), note="an error that does not change (β = 0)")
    N = torch.tensor([100.0, 150.0, 1000.0, 5000.0, 20000.0], dtype=torch.float64)
    yield Case(N, 3 * N**-0.6 * torch.exp(0.1 * torch.randn(5, generator=g, dtype=torch.float64)), note="unevenly spaced sizes")


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
    if not all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in (beta, a)):
        return "beta and a should be numbers (a float, or a tensor holding one number)"
    eb, ea = expected
    if close(beta, eb) is not None:
        if abs(eb) > 1e-6 and close(-beta, eb) is None:
            return "β has the wrong sign: err ∝ N^(−β), so β > 0 when the error falls"
        if close(a, eb) is None and close(beta, ea) is None:
            return "the two numbers are swapped: return (beta, a)"
        return "β (minus the slope on the log-log plot) is wrong"
    if close(a, ea) is not None:
        if close(a, math.log(ea)) is None:
            return "a is the prefactor itself, not its logarithm"
        if close(a, math.log10(ea)) is None:
            return "a is the prefactor itself, not its log10"
        return "the prefactor a is wrong"
    return None


# ---- 09.2: an exponent with an error bar


def beta_with_error(N, errors):
    """errors (seeds, k), one learning curve per seed at sizes N (k,) -> (mean of the seeds' β, their sample standard deviation)."""
    betas = torch.tensor([power_law(N, e)[0] for e in errors], dtype=torch.float64)
    return float(betas.mean()), float(betas.std()) if len(betas) > 1 else 0.0


def _seeded_curves(g):
    for seeds, noise in [(3, 0.15), (5, 0.1)]:
        N, base = _law(g, 6, 0.0)
        yield Case(N, base * torch.exp(noise * torch.randn(seeds, 6, generator=g, dtype=torch.float64)))
    N, base = _law(g, 5, 0.0)
    yield Case(N, base * torch.exp(torch.linspace(-0.3, 0.3, 3, dtype=torch.float64)[:, None] * torch.log(N / N[0])), note="three seeds with very different slopes")


def _hidden_seeded(g):
    N, base = _law(g, 5, 0.0)
    yield Case(N, base.repeat(3, 1), note="three identical seeds (no spread)")
    N, base = _law(g, 4, 0.0)
    yield Case(N, base * torch.exp(0.2 * torch.randn(2, 4, generator=g, dtype=torch.float64)), note="two seeds")


def _beta_error_compare(got, expected, case):
    if not isinstance(got, (tuple, list)) or len(got) != 2:
        return "return two numbers, (mean β, standard deviation of β)"
    mean, sd = (_as_float(v) for v in got)
    if not all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in (mean, sd)):
        return "the mean and the standard deviation should be numbers"
    N, errors = case.args
    em, esd = expected
    if close(mean, em) is not None:
        if close(mean, power_law(N, errors.mean(0))[0]) is None and close(mean, em) is not None:
            return "that is the β of the averaged curve: fit each seed's curve, then average the exponents"
        return "the mean β is wrong"
    if close(sd, esd) is None:
        return None
    k = len(errors)
    if esd > 0 and close(sd, esd * math.sqrt((k - 1) / k)) is None:
        return "that is the spread of these seeds as a population: with a few seeds, estimate it with the sample standard deviation (divide by seeds − 1)"
    if esd > 0 and close(sd, esd**2) is None:
        return "that is the variance: return its square root"
    if esd > 0 and close(sd, esd / math.sqrt(k)) is None:
        return "that is the standard error of the mean: return the standard deviation of the seeds' β"
    return "the standard deviation of β is wrong"


# ---- 09.3: predict which nets tell a planar star from a tetrahedron

STAR_NETS = ["lmax 0", "lmax 1", "lmax 2", "lmax 0, second neighbours"]


def star_vs_tetrahedron():
    """For each net (one interaction; cutoff between the bond and the neighbour-neighbour distances, or beyond them all):
    can its energy differ between a planar four-coordinated star and a tetrahedron with the same bond length?"""
    # P_1 terms see only Σ r̂, zero for both; P_2 of the bond angles differs (Σ_k P_2 = 1 vs 0); leaf-leaf distances differ
    return {"lmax 0": False, "lmax 1": False, "lmax 2": True, "lmax 0, second neighbours": True}


def _star_compare(got, expected, case):
    if not isinstance(got, dict) or set(got) != set(STAR_NETS):
        return "answer with a dict with the four nets as keys: " + ", ".join(repr(k) for k in STAR_NETS)
    if any(not isinstance(v, bool) for v in got.values()):
        return "each entry is True (the net can tell them apart) or False"
    if got == expected:
        return None
    if got["lmax 0"]:
        return "with the short cutoff an lmax 0 net sees a centre with four bonds of the same length, and leaves with one bond each: in both shapes"
    if got["lmax 1"]:
        return "an lmax 1 net's angular information is the vector sum Σ R(r) r̂ of each atom's bonds (P_1 terms): what is it for the two shapes?"
    if not got["lmax 2"]:
        return "with l = 2 the net writes P_2(cos θ) of the bond angles: compare Σ_k P_2(r̂_j · r̂_k) over the bonds of the two shapes"
    return "with the second neighbours in the graph, the net sees the distances between the four outer atoms: are they the same in both shapes?"


# ---- 09.4: predict what a change of units does to the fit

UNITS = ["only beta", "only a", "both", "neither"]


def units():
    """Energies in meV instead of eV (every target ×1000): which of β and a change for a nearest-neighbour regressor?"""
    return "only a"


_units_compare = choice(UNITS, why={
    "only beta": "the model's prediction is linear in the targets: what does multiplying all targets by 1000 do to each test error, and to the slope on a log-log plot?",
    "both": "every test error is multiplied by the same number: which of slope and intercept on a log-log plot does that move?",
    "neither": "the errors are now in meV, 1000 times larger numbers: one of the two parameters carries the units",
})


# ---- 09.5: where two learning curves cross


def crossover(beta1, a1, beta2, a2):
    """The training-set size N at which a1 N^(−β1) = a2 N^(−β2); inf when the curves are parallel (β1 = β2)."""
    if beta1 == beta2:
        return math.inf
    return (a2 / a1) ** (1 / (beta2 - beta1))


def _pairs(g):
    for _ in range(2):
        b1 = 0.1 + 0.3 * float(torch.rand(1, generator=g))
        b2 = b1 + 0.1 + 0.4 * float(torch.rand(1, generator=g))
        a1 = 0.5 + float(torch.rand(1, generator=g))
        yield Case(b1, a1, b2, a1 * (2 + 8 * float(torch.rand(1, generator=g))))
    yield Case(0.2, 1.0, 0.4, 10.0, note="β 0.2 and 0.4, prefactors 1 and 10")


def _hidden_pairs(g):
    yield Case(0.3, 2.0, 0.3, 5.0, note="parallel curves")
    yield Case(0.5, 4.0, 0.25, 1.0, note="the steeper curve given first")
    yield Case(0.2, 3.0, 0.6, 1.0, note="the steeper curve is below from the start (they cross below N = 1)")


def _crossover_compare(got, expected, case):
    got = _as_float(got)
    if isinstance(got, bool) or not isinstance(got, (int, float)):
        return "return one number (math.inf when the curves never cross)"
    if math.isinf(expected):
        return None if math.isinf(got) and got > 0 else "parallel curves never cross: return math.inf"
    if math.isinf(got) or got != got:
        return "these curves have different exponents, so they cross somewhere"
    if close(got, expected, rtol=1e-6) is None:
        return None
    b1, a1, b2, a2 = case.args
    if close(got, 1 / expected, rtol=1e-6) is None:
        return "the ratio is upside down: at the crossing the larger prefactor has been paid back by the steeper fall"
    if close(got, (a2 / a1) ** (b2 - b1), rtol=1e-6) is None or close(got, (a1 / a2) ** (b2 - b1), rtol=1e-6) is None:
        return "solve a1 N^(−β1) = a2 N^(−β2) for N: take the logarithm of both sides"
    return close(got, expected, rtol=1e-6, what="N")


_STAR = star_vs_tetrahedron()

EXERCISES = [
    Exercise("09.1", power_law, _curves, _power_law_compare, title="fit a power law", name="power_law", hidden=_hidden_curves,
             forbidden={"symml.train.fit_power_law": fit_power_law, "numpy.polyfit": numpy.polyfit},
             mistakes=[
                 (lambda N, e: (-power_law(N, e)[0], power_law(N, e)[1]), "wrong sign"),
                 (lambda N, e: power_law(N, e)[::-1], "swapped"),
                 (lambda N, e: (power_law(N, e)[0], math.log(power_law(N, e)[1])), "not its logarithm"),
                 (lambda N, e: (power_law(N, e)[0], math.log10(power_law(N, e)[1])), "not its log10"),
                 (lambda N, e: (power_law(N, e)[0], 2 * power_law(N, e)[1]), "prefactor a is wrong"),
                 (lambda N, e: (2 * power_law(N, e)[0] + 0.1, power_law(N, e)[1]), "minus the slope"),
                 (lambda N, e: power_law(N, e)[0], "two numbers"),
                 (lambda N, e: ("b", "a"), "should be numbers"),
                 (as_student("lambda N, e: fit_power_law(N, e)[:2]", fit_power_law=fit_power_law), "calls symml.train.fit_power_law"),
                 (as_student("lambda N, e: (-float(numpy.polyfit(numpy.log(N.numpy()), numpy.log(e.numpy()), 1)[0]), float(numpy.exp(numpy.polyfit(numpy.log(N.numpy()), numpy.log(e.numpy()), 1)[1])))", numpy=numpy), "calls numpy.polyfit"),
             ]),
    Exercise("09.2", beta_with_error, _seeded_curves, _beta_error_compare, title="an exponent with an error bar", name="beta_with_error", hidden=_hidden_seeded,
             forbidden={"symml.train.fit_power_law": fit_power_law},
             mistakes=[
                 (lambda N, e: (power_law(N, e.mean(0))[0], beta_with_error(N, e)[1]), "averaged curve"),
                 (lambda N, e: (beta_with_error(N, e)[0], beta_with_error(N, e)[1] * math.sqrt((len(e) - 1) / len(e))), "sample standard deviation"),
                 (lambda N, e: (beta_with_error(N, e)[0], beta_with_error(N, e)[1] ** 2), "variance"),
                 (lambda N, e: (beta_with_error(N, e)[0], beta_with_error(N, e)[1] / math.sqrt(len(e))), "standard error"),
                 (lambda N, e: (beta_with_error(N, e)[0] + 0.05, beta_with_error(N, e)[1]), "mean β is wrong"),
                 (lambda N, e: (beta_with_error(N, e)[0], beta_with_error(N, e)[1] + 0.05), "standard deviation of β is wrong"),
                 (lambda N, e: beta_with_error(N, e)[0], "two numbers"),
                 (lambda N, e: (None, None), "should be numbers"),
                 (as_student("lambda N, e: (sum(fit_power_law(N, c)[0] for c in e) / len(e), 0.0)", fit_power_law=fit_power_law), "calls symml.train.fit_power_law"),
             ]),
    Exercise("09.3", star_vs_tetrahedron, kind="value", name="star_vs_tetrahedron", compare=_star_compare,
             title="predict: which nets tell a planar star from a tetrahedron",
             mistakes=[(dict(_STAR, **{"lmax 0": True}), "four bonds of the same length"), (dict(_STAR, **{"lmax 1": True}), "vector sum"),
                       (dict(_STAR, **{"lmax 2": False}), "P_2"), (dict(_STAR, **{"lmax 0, second neighbours": False}), "outer atoms"),
                       ({"lmax 0": False}, "four nets as keys"), (dict(_STAR, **{"lmax 2": 1}), "True (the net")]),
    Exercise("09.4", units, kind="value", name="units", compare=_units_compare, title="predict: a change of units",
             mistakes=[("only beta", "linear in the targets"), ("both", "slope and intercept"), ("neither", "carries the units"), ("a", "answer with one of")]),
    Exercise("09.5", crossover, _pairs, _crossover_compare, title="where two learning curves cross", name="crossover", hidden=_hidden_pairs,
             mistakes=[
                 (lambda b1, a1, b2, a2: 1 / crossover(b1, a1, b2, a2) if b1 != b2 else math.inf, "upside down"),
                 (lambda b1, a1, b2, a2: (a2 / a1) ** (b2 - b1) if b1 != b2 else math.inf, "logarithm of both sides"),
                 (lambda b1, a1, b2, a2: (a2 / a1) ** (1 / (b2 - b1)) if b1 != b2 else 0.0, "return math.inf"),
                 (lambda b1, a1, b2, a2: math.inf, "cross somewhere"),
                 (lambda b1, a1, b2, a2: 2 * crossover(b1, a1, b2, a2), "N is off"),
                 (lambda b1, a1, b2, a2: "never", "one number"),
             ]),
]
