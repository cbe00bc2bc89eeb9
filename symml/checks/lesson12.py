"""Exercises of lesson 12, missing information."""

import math

import torch
from e3nn import o3

from symml.checks import Case, Exercise, as_bool, close
from symml.symmetry import symmetry_operations


def _act(R, pos, u):
    """(g·u)_{π(i)} = R u_i, where R (about the centroid) sends point i onto point π(i)."""
    c = pos.mean(0)
    lands = torch.cdist((pos - c) @ R.T + c, pos).argmin(dim=1)
    out = torch.empty_like(u)
    out[lands] = u @ R.T
    return out


def _average(pos, u, ops):
    return torch.stack([_act(R, pos, u) for R in ops]).mean(0)


def _shapes():
    """(name, pos, ops, target): a few inputs, their operations and displacement targets."""
    f64 = dict(dtype=torch.float64)
    square = torch.tensor([[1.0, 1, 0], [-1, 1, 0], [-1, -1, 0], [1, -1, 0]], **f64)
    G = symmetry_operations(square)
    x_hat = torch.tensor([1.0, 0, 0], **f64)
    G_x = G[(G @ x_hat - x_hat).norm(dim=1) < 1e-9]
    rect = square * torch.tensor([1.3, 0.9, 1.0], **f64) - square
    twist = square @ torch.tensor([[math.cos(0.2), -math.sin(0.2), 0], [math.sin(0.2), math.cos(0.2), 0], [0, 0, 1]], **f64).T - square
    octa = torch.tensor([[0.0, 0, 0], [1, 0, 0], [-1, 0, 0], [0, 1, 0], [0, -1, 0], [0, 0, 1], [0, 0, -1]], **f64)
    O = symmetry_operations(octa, ["B"] + ["X"] * 6)
    jt = octa * torch.tensor([0.95, 0.95, 1.1], **f64) - octa
    return [
        ("a square becoming a rectangle", square, G, rect),
        ("a square becoming a bigger square", square, G, 0.1 * square),
        ("a rectangle target, the input's symmetry reduced by a direction x̂", square, G_x, rect),
        ("a square turning about z", square, G, twist),
        ("an octahedron stretched along z", octa, O, jt),
        ("an octahedron growing", octa, O, 0.05 * octa),
    ]


# ---- 12.1: can a symmetric model fit this target?


def can_fit(pos, y, ops):
    """True if g·y = y (to 1e-6) for every operation g in ops: an equivariant model can then fit y."""
    return all(torch.allclose(_act(R, pos, y), y, atol=1e-6) for R in ops)


def _fit_cases(g):
    for name, pos, ops, y in _shapes():
        yield Case(pos, y, ops, note=name)
    pos = torch.randn(5, 3, generator=g, dtype=torch.float64)
    yield Case(pos, torch.randn(5, 3, generator=g, dtype=torch.float64), torch.eye(3, dtype=torch.float64)[None], note="random points whose only operation is the identity")


def _fit_compare(got, expected, case):
    got = as_bool(got)
    if isinstance(got, str):
        return got
    if got == expected:
        return None
    if expected:
        return ("this target keeps every operation, but you said it does not: after turning the vectors, compare each one "
                "with the vector of the point where its point lands (the operation also permutes the points)")
    return "this target changes under some operation of the input, but you said a symmetric model can fit it"


# ---- 12.2: the loss floor


def loss_floor(pos, y, ops):
    """mean((y − ȳ)²) with ȳ = (1/|G|) Σ_g g·y, the best an equivariant model can reach."""
    return ((y - _average(pos, y, ops)) ** 2).mean().item()


def _floor_cases(g):
    for name, pos, ops, y in _shapes():
        yield Case(pos, y, ops, note=name)
    square = torch.tensor([[1.0, 1, 0], [-1, 1, 0], [-1, -1, 0], [1, -1, 0]], dtype=torch.float64)
    yield Case(square, 0.2 * torch.randn(4, 3, generator=g, dtype=torch.float64), symmetry_operations(square), note="a random target on the square")


def _floor_compare(got, expected, case):
    if isinstance(got, torch.Tensor) and got.numel() == 1:
        got = float(got)
    if not isinstance(got, (int, float)):
        return f"return a number, not {type(got).__name__}"
    hint = close(got, expected, atol=1e-8)
    if hint is None:
        return None
    pos, y, ops = case.args
    if abs(got - (y**2).mean().item()) < 1e-8 and abs(expected - got) > 1e-8:
        return ("that is the mean of y², the floor only if the symmetric part ȳ is zero — here it is not: "
                "when you average g·y, move each turned vector to the point where its point lands")
    unpermuted = torch.stack([y @ R.T for R in ops]).mean(0)
    if abs(got - ((y - unpermuted) ** 2).mean().item()) < 1e-8:
        return "the vectors were turned but stayed on their own points: each must move to the point where its point lands"
    if abs(got - expected * y.numel()) < 1e-8 * max(1.0, abs(expected) * y.numel()):
        return "that is the sum of the squares: take the mean over all entries"
    return hint


# ---- 12.3: the decision chart


CHOICES = ("direct prediction", "scalar sampling", "nonscalar sampling", "missing information")


def classify():
    return {
        "a": "missing information",
        "b": "missing information",
        "c": "nonscalar sampling",
        "d": "scalar sampling",
        "e": "missing information",
        "f": "direct prediction",
    }


def _classify_compare(got, expected, case):
    if not isinstance(got, dict):
        return f"answer with a dictionary {{'a': ..., 'b': ...}}, not {type(got).__name__}"
    missing = sorted(set(expected) - set(got))
    if missing:
        return f"scenario{'s' if len(missing) > 1 else ''} {', '.join(missing)} {'have' if len(missing) > 1 else 'has'} no answer"
    odd = [k for k in expected if got[k] not in CHOICES]
    if odd:
        return f"the answer for {odd[0]!r} should be one of {', '.join(repr(c) for c in CHOICES)}"
    wrong = [k for k in expected if got[k] != expected[k]]
    if wrong:
        return f"{len(wrong)} of {len(expected)} scenarios are classified wrongly (look again at {wrong[0]!r}: which symmetry does the output have, and how many answers are correct?)"
    return None


# ---- 12.4: add the missing input


def augment(x, axis):
    """x (N, d) → (N, d + 5): every node also gets the 2e feature of the axis, Y²(axis) with 'component' normalisation."""
    y2 = o3.spherical_harmonics(2, axis.to(x.dtype), normalize=True, normalization="component")
    return torch.cat([x, y2.expand(len(x), 5)], dim=1)


def _augment_cases(g):
    yield Case(torch.ones(4, 1, dtype=torch.float64), torch.tensor([1.0, 0, 0], dtype=torch.float64), note="x̂ on a square's corners")
    yield Case(torch.randn(6, 3, generator=g, dtype=torch.float64), torch.randn(3, generator=g, dtype=torch.float64))
    yield Case(torch.randn(3, 2, generator=g, dtype=torch.float64), torch.tensor([0.0, 0, -2.5], dtype=torch.float64), note="an axis of length 2.5 along −z")


def _augment_compare(got, expected, case):
    x, axis = case.args
    if isinstance(got, torch.Tensor) and got.shape == (len(x), x.shape[1] + 3):
        return "you added 3 numbers: a vector (1o) points one way, but a stretch along the axis is the same along −axis; add its 2e feature, 5 numbers"
    hint = close(got, expected)
    if hint is None:
        return None
    if isinstance(got, torch.Tensor) and got.shape == expected.shape:
        g = got.to(torch.float64)
        if not torch.allclose(g[:, : x.shape[1]], x):
            return "the original features should come first, unchanged"
        if not torch.allclose(g[:, x.shape[1]:], g[:1, x.shape[1]:].expand_as(g[:, x.shape[1]:])):
            return "every node should get the same new feature"
        new, ref = g[0, x.shape[1]:], expected[0, x.shape[1]:]
        ratio = float(new @ ref / (ref @ ref))
        if ratio > 0 and torch.allclose(new, ratio * ref, atol=1e-8):
            return "the new feature points the right way but has the wrong length: use normalize=True and normalization='component'"
    return hint


EXERCISES = [
    Exercise("12.1", can_fit, _fit_cases, _fit_compare, title="can a symmetric model fit the target?", name="can_fit"),
    Exercise("12.2", loss_floor, _floor_cases, _floor_compare, title="the loss floor", name="loss_floor"),
    Exercise("12.3", classify, None, _classify_compare, kind="value", title="the decision chart", name="answers"),
    Exercise("12.4", augment, _augment_cases, _augment_compare, title="add the missing input", name="augment"),
]
