"""Exercises of lesson 12, missing information: which input is missing, floors with several answers, the decision chart."""

import functools
import math

import torch
from e3nn import o3

from symml.checks import Case, Exercise, choice, close
from symml.checks.hints import as_student
from symml.so3 import rand_matrix
from symml.symmetry import act, loss_floor, symmetric_average, symmetry_operations

F64 = dict(dtype=torch.float64)


def _square():
    return torch.tensor([[1.0, 1, 0], [-1, 1, 0], [-1, -1, 0], [1, -1, 0]], **F64)


def _triangle():
    return torch.tensor([[math.cos(a), math.sin(a), 0.0] for a in (math.pi / 2 + 2 * math.pi * k / 3 for k in range(3))], **F64)


def _octahedron():
    return torch.tensor([[0.0, 0, 0], [1, 0, 0], [-1, 0, 0], [0, 1, 0], [0, -1, 0], [0, 0, 1], [0, 0, -1]], **F64)


@functools.lru_cache
def _groups():
    return {"square": symmetry_operations(_square()), "triangle": symmetry_operations(_triangle()),
            "octahedron": symmetry_operations(_octahedron(), ["B"] + ["X"] * 6)}


def _average(pos, u, ops):
    """The group average of a field of vectors, (1/|G|) Σ_g g·u: the best output of any equivariant model."""
    return torch.stack([act(R, pos, u) for R in ops]).mean(0)


# ---- 12.1: predict whether an arrow breaks too much for a triangle

YES_NO = ["yes", "no"]


def arrow_breaks_too_much():
    """Triangle → stretched along its vertex direction ŷ: does the arrow ŷ (1o) keep fewer operations than the target needs?"""
    return "no"


_arrow_compare = choice(YES_NO, why={
    "yes": "for the square an arrow is too much because −x̂ is an image of +x̂ under the square's operations: is −ŷ an image of +ŷ under the triangle's?",
})


# ---- 12.2: the floor with several answers


def multi_target_floor(pos, targets, ops):
    """targets (m, N, 3), several correct answers for one input: the lowest mean squared error (over answers and entries) of an output keeping ops."""
    best = _average(pos, targets.mean(0), ops)
    return float(((targets - best) ** 2).mean())


def _multi_cases(g):
    square, G = _square(), _groups()["square"]
    a, b = torch.rand(2, generator=g, **F64) * 0.4 + 0.8
    rect = square * torch.tensor([a + 0.3, b - 0.1, 1.0], **F64) - square
    other = square * torch.tensor([b, a, 1.0], **F64) - square
    yield Case(square, torch.stack([rect, other]), G, note="a square and two rectangles")
    R = G[int(torch.randint(1, len(G), (1,), generator=g))]
    yield Case(square, torch.stack([rect, act(R, square, rect)]), G, note="a square and two answers related by one of its operations")
    octa, O = _octahedron(), _groups()["octahedron"]
    yield Case(octa, 0.1 * torch.randn(3, 7, 3, generator=g, **F64), O, note="an octahedron and three random answers")


def _hidden_multi(g):
    square, G = _square(), _groups()["square"]
    rect = square * torch.tensor([1.3, 0.9, 1.0], **F64) - square
    yield Case(square, rect[None], G, note="a single answer")
    yield Case(square, torch.stack([0.1 * square, -0.1 * square]), G, note="two symmetric answers")
    cloud = torch.randn(5, 3, generator=g, **F64)
    yield Case(cloud, torch.randn(4, 5, 3, generator=g, **F64), torch.eye(3, **F64)[None], note="a cloud without symmetry")


def _multi_compare(got, expected, case):
    if isinstance(got, torch.Tensor) and got.numel() == 1:
        got = float(got)
    if isinstance(got, bool) or not isinstance(got, (int, float)):
        return f"return the floor as a number, not {type(got).__name__}"
    if close(got, expected) is None:
        return None
    pos, targets, ops = case.args
    single = [float(((t - _average(pos, t, ops)) ** 2).mean()) for t in targets]
    if close(got, sum(single) / len(single)) is None and abs(sum(single) / len(single) - expected) > 1e-9:
        return "that is the average of each answer's own floor: but one output has to serve every answer at once"
    spread = float(((targets - targets.mean(0)) ** 2).mean())
    if close(got, spread) is None and abs(spread - expected) > 1e-9:
        return "that is the spread of the answers around their mean: the model's output must also keep the input's symmetry"
    if close(got, expected * len(targets)) is None:
        return "average over the answers too, not only over the entries"
    return "the floor is wrong: which output, keeping every operation, is closest to all the answers together?"


# ---- 12.3: predict the dipole of a square given an axis or an arrow

DIPOLE = ["zero with either input", "non-zero with the axis only", "non-zero with the arrow only", "non-zero with either input"]


def square_dipole():
    """A square plus the axis Y²(x̂) (2e) or the arrow x̂ (1o) on every corner: when can an equivariant net's total dipole (1o) be non-zero?"""
    return "non-zero with the arrow only"


_dipole_compare = choice(DIPOLE, why={
    "zero with either input": "an arrow has a head and a tail: which of the square's operations still keep x̂, and does any of them flip a vector along x?",
    "non-zero with the axis only": "which operation keeps the axis Y²(x̂) but sends every vector v to −v?",
    "non-zero with either input": "the axis is unchanged when x̂ → −x̂: which of the square's operations that keep the axis flips every vector?",
})


# ---- 12.4: the decision chart

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


# ---- 12.5: the floor once an input is added


def floor_with_input(pos, y, ops, feature, irreps):
    """The floor mean (y − ȳ)² when every point also gets ``feature`` (irreps ``irreps``): ȳ averages over the operations that keep it."""
    D = o3.Irreps(irreps).D_from_matrix(ops.to(torch.float64)).to(torch.float64)
    keeps = (D @ feature.to(torch.float64) - feature).norm(dim=-1) <= 1e-6 * max(float(feature.norm()), 1e-12)
    kept = ops[keeps]
    return float(((y - _average(pos, y, kept)) ** 2).mean())


def _sh(l, v):
    return o3.spherical_harmonics(l, v.to(torch.float64), normalize=True, normalization="component")


def _input_cases(g):
    square, G = _square(), _groups()["square"]
    a = 1.1 + 0.4 * float(torch.rand(1, generator=g))
    rect = square * torch.tensor([a, 2 - a, 1.0], **F64) - square
    x_hat, z_hat = torch.tensor([1.0, 0, 0], **F64), torch.tensor([0.0, 0, 1], **F64)
    yield Case(square, rect, G, _sh(2, x_hat), "2e", note="the axis Y²(x̂)")
    yield Case(square, rect, G, _sh(2, z_hat), "2e", note="the axis Y²(ẑ)")
    yield Case(square, rect, G, x_hat, "1o", note="the arrow x̂")
    tri, T = _triangle(), _groups()["triangle"]
    yield Case(tri, 0.2 * torch.randn(3, 3, generator=g, **F64), T, torch.tensor([0.0, 1, 0], **F64), "1o", note="a triangle and a random target, the arrow ŷ")


def _hidden_inputs(g):
    square, G = _square(), _groups()["square"]
    rect = square * torch.tensor([1.3, 0.9, 1.0], **F64) - square
    yield Case(square, rect, G, torch.tensor([0.7], **F64), "0e", note="a scalar input")
    yield Case(square, rect, G, torch.zeros(5, **F64), "2e", note="a zero feature")
    yield Case(square, rect, G, torch.tensor([-1.0], **F64), "0o", note="a pseudoscalar input")
    octa, O = _octahedron(), _groups()["octahedron"]
    Q = rand_matrix(dtype=torch.float64, generator=g)
    yield Case(octa, 0.1 * torch.randn(7, 3, generator=g, **F64), O, _sh(3, Q[0]), "3o", note="an octahedron and an l = 3 input")


def _input_compare(got, expected, case):
    if isinstance(got, torch.Tensor) and got.numel() == 1:
        got = float(got)
    if isinstance(got, bool) or not isinstance(got, (int, float)):
        return f"return the floor as a number, not {type(got).__name__}"
    if close(got, expected) is None:
        return None
    pos, y, ops, feature, irreps = case.args
    if close(got, float(((y - _average(pos, y, ops)) ** 2).mean())) is None:
        return "that is the floor without the new input: the input removes the operations that change it"
    if len(o3.Irreps(irreps)) == 1:
        other = _ignoring_parity(pos, y, ops, feature, irreps)
        if close(got, other) is None and abs(other - expected) > 1e-9:
            return "the parity of the input matters: an improper operation acts on it with D of its rotation part times its parity"
    if close(got, 0.0) is None:
        return "the floor is not zero here: which operations still keep both the square and the new input?"
    return "the floor is wrong: which operations keep the new input, and what is the best output that keeps them?"


# ---- 12.6: read the axis off a learned symmetry-breaking 2e


def field_axis(p):
    """The unit axis n̂ (3,), sign free, that maximises |p · Y²(n̂)| for a 2e vector ``p`` (5,) in e3nn's basis.

    ``p · Y²(r)`` (unnormalised harmonics) is a quadratic form ``rᵀ M r``; its extreme directions are the
    eigenvectors of ``M``, and the largest ``|p · Y²|`` is along the one with the largest |eigenvalue|.
    """
    def f(r):
        return float(o3.spherical_harmonics(2, r.to(p.dtype), normalize=False) @ p)

    e = torch.eye(3, dtype=p.dtype)
    M = torch.empty(3, 3, dtype=p.dtype)
    for a in range(3):
        for b in range(3):
            M[a, b] = f(e[a]) if a == b else (f(e[a] + e[b]) - f(e[a]) - f(e[b])) / 2
    values, vectors = torch.linalg.eigh(M)
    return vectors[:, values.abs().argmax()]


def _axis_input(g, scale=1.0, noise=0.0, sign=1.0, axis=None):
    n = torch.randn(3, generator=g, dtype=torch.float64) if axis is None else axis
    p = sign * _sh(2, n / n.norm()) + noise * torch.randn(5, generator=g, dtype=torch.float64)
    return scale * p


def _axis_cases(g):
    yield Case(_axis_input(g))
    yield Case(_axis_input(g, sign=-1.0), note="p = −Y²(n̂), a disc around the axis")
    yield Case(_axis_input(g, noise=0.2, scale=0.7), note="a learned p: an axis plus noise")


def _axis_hidden(g):
    yield Case(_axis_input(g, scale=1e-3, noise=0.1), note="a small p (a strong penalty)")
    yield Case(_axis_input(g, axis=torch.tensor([0.0, 0.0, 1.0], dtype=torch.float64)), note="the axis ẑ")
    yield Case(_axis_input(g, sign=-1.0, noise=0.3), note="a noisy disc")


def _axis_compare(got, expected, case):
    if not isinstance(got, torch.Tensor) or got.shape != (3,):
        return f"return the axis as a tensor of shape (3,), not {tuple(got.shape) if isinstance(got, torch.Tensor) else type(got).__name__}"
    got = got.detach().to(torch.float64)
    if abs(float(got.norm()) - 1) > 1e-6:
        return "return a unit vector"
    if abs(float(got @ expected)) > 1 - 1e-6:
        return None
    (p,) = case.args
    size = abs(float(_sh(2, got) @ p)) / abs(float(_sh(2, expected) @ p))
    if size > 0.999:
        return "that direction gives as large a |p · Y²(n̂)| only by accident here: make sure you take the largest"
    if abs(float(got @ expected)) < 1e-3:
        return "that direction is perpendicular to the axis: p · Y²(n̂) can be most negative along the axis (a disc), so compare |p · Y²(n̂)|"
    return "not the axis: p · Y²(r) is a quadratic form rᵀ M r, and its extreme directions are those of M"


EXERCISES = [
    Exercise("12.1", arrow_breaks_too_much, kind="value", name="arrow_breaks_too_much", compare=_arrow_compare, title="predict: an arrow for a triangle",
             mistakes=[("yes", "image of +ŷ"), (True, "answer with one of")]),
    Exercise("12.2", multi_target_floor, _multi_cases, _multi_compare, title="the floor with several answers", name="multi_target_floor", hidden=_hidden_multi, points=2,
             forbidden={"symml.symmetry.loss_floor": loss_floor, "symml.symmetry.symmetric_average": symmetric_average},
             mistakes=[
                 (lambda pos, t, ops: sum(float(((y - _average(pos, y, ops)) ** 2).mean()) for y in t) / len(t), "average of each answer's own floor"),
                 (lambda pos, t, ops: float(((t - t.mean(0)) ** 2).mean()), "spread of the answers"),
                 (lambda pos, t, ops: multi_target_floor(pos, t, ops) * len(t), "average over the answers"),
                 (lambda pos, t, ops: multi_target_floor(pos, t, ops) + 0.01, "floor is wrong"),
                 (lambda pos, t, ops: [0.0], "as a number"),
                 (as_student("lambda pos, t, ops: sum(loss_floor(pos, y, ops) for y in t) / len(t)", loss_floor=loss_floor), "calls symml.symmetry.loss_floor"),
                 (as_student("lambda pos, t, ops: float(((t - symmetric_average(pos, t.mean(0), ops)) ** 2).mean())", symmetric_average=symmetric_average), "calls symml.symmetry.symmetric_average"),
             ]),
    Exercise("12.3", square_dipole, kind="value", name="square_dipole", compare=_dipole_compare, title="predict: a dipole from an axis or an arrow",
             mistakes=[("zero with either input", "head and a tail"), ("non-zero with the axis only", "sends every vector"), ("non-zero with either input", "flips every vector"), ("arrow", "answer with one of")]),
    Exercise("12.4", classify, None, _classify_compare, kind="value", title="the decision chart", name="answers",
             mistakes=[({**classify(), "c": "scalar sampling"}, "look again at 'c'"), ({"a": "missing information"}, "no answer"), ({**classify(), "f": "direct"}, "should be one of"), ("a", "dictionary")]),
    Exercise("12.5", floor_with_input, _input_cases, _input_compare, title="the floor once an input is added", name="floor_with_input", hidden=_hidden_inputs, points=2,
             mistakes=[
                 (lambda pos, y, ops, f, irreps: float(((y - _average(pos, y, ops)) ** 2).mean()), "without the new input"),
                 (lambda pos, y, ops, f, irreps: _ignoring_parity(pos, y, ops, f, irreps), "parity of the input"),
                 (lambda pos, y, ops, f, irreps: 0.0, "not zero here"),
                 (lambda pos, y, ops, f, irreps: floor_with_input(pos, y, ops, f, irreps) + 0.01, "floor is wrong"),
                 (lambda pos, y, ops, f, irreps: "none", "as a number"),
             ]),
    Exercise("12.6", field_axis, _axis_cases, _axis_compare, title="read the axis off a learned symmetry-breaking 2e", name="field_axis",
             hidden=_axis_hidden, points=2,
             mistakes=[
                 (lambda p: _largest_eigenvalue_axis(p), "perpendicular"),
                 (lambda p: 2 * field_axis(p), "unit vector"),
                 (lambda p: field_axis(p)[:2], "shape (3,)"),
                 (lambda p: torch.nn.functional.normalize(p[:3], dim=0), "not the axis"),
             ]),
]


def _largest_eigenvalue_axis(p):
    """A mistake for 12.6: the direction of the largest (signed) p · Y², wrong for a disc."""
    def f(r):
        return float(o3.spherical_harmonics(2, r.to(p.dtype), normalize=False) @ p)

    e = torch.eye(3, dtype=p.dtype)
    M = torch.tensor([[f(e[a]) if a == b else (f(e[a] + e[b]) - f(e[a]) - f(e[b])) / 2 for b in range(3)] for a in range(3)], dtype=p.dtype)
    return torch.linalg.eigh(M).eigenvectors[:, -1]


def _ignoring_parity(pos, y, ops, feature, irreps):
    """A mistake for 12.5: the input's irrep treated as if its parity were the other one."""
    ir = o3.Irreps(irreps)[0].ir
    return floor_with_input(pos, y, ops, feature, f"{ir.l}{'e' if ir.p == -1 else 'o'}")
