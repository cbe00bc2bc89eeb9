"""Exercises of lesson 11, symmetry breaking: stabilisers, which irreps can break a symmetry, order parameters."""

import functools
import math

import torch
from e3nn import o3

from symml.checks import Case, Exercise, choice, close
from symml.so3 import matrix_z, rand_matrix
from symml.symmetry import symmetry_operations

ALL = "0e+0o+1e+1o+2e+2o+3e+3o"
UP_TO_4 = "0e+0o+1e+1o+2e+2o+3e+3o+4e+4o"


def _square():
    return torch.tensor([[1.0, 1, 0], [-1, 1, 0], [-1, -1, 0], [1, -1, 0]], dtype=torch.float64)


def _octahedron():
    return torch.tensor([[0.0, 0, 0], [1, 0, 0], [-1, 0, 0], [0, 1, 0], [0, -1, 0], [0, 0, 1], [0, 0, -1]], dtype=torch.float64)


@functools.lru_cache
def _groups():
    """Point groups used by the cases: name -> (k, 3, 3) float64 (computed once: symmetry_operations takes a while)."""
    sq = _square()
    octa = _octahedron()
    types = ["B"] + ["X"] * 6
    shifted = octa.clone()
    shifted[0, 2] = 0.1
    diagonal = matrix_z(math.pi / 4, dtype=torch.float64)
    stretch = torch.tensor([1.3, 0.9, 1.0], dtype=torch.float64)
    return {
        "square": symmetry_operations(sq),
        "rectangle": symmetry_operations(sq * stretch),
        "rhombus": symmetry_operations((sq @ diagonal.T) * stretch @ diagonal),  # the square stretched along a diagonal
        "parallelogram": symmetry_operations(sq + 0.3 * sq[:, [1]] * torch.tensor([1.0, 0, 0], dtype=torch.float64)),
        "octahedron": symmetry_operations(octa, types),
        "shifted octahedron": symmetry_operations(shifted, types),
        "elongated octahedron": symmetry_operations(octa * torch.tensor([1.0, 1.0, 1.2], dtype=torch.float64), types),
        "identity": torch.eye(3, dtype=torch.float64)[None],
    }


_POINTS = torch.randn(40, 3, generator=torch.Generator().manual_seed(0), dtype=torch.float64)


def _D(irreps, ops):
    """``o3.Irreps(irreps).D_from_matrix(ops)`` in float64, (k, dim, dim), fast: the checks call it thousands of times.

    D^l of the proper part P = det(R)·R solves Y^l(P x) = D^l(P) Y^l(x) on 40 fixed points (least
    squares, exact to rounding); the inversion then contributes the parity p.
    """
    irreps, ops = o3.Irreps(irreps), ops.to(torch.float64)
    det = torch.linalg.det(ops)
    proper = ops * det[:, None, None]
    out = torch.zeros(len(ops), irreps.dim, irreps.dim, dtype=torch.float64)
    for (mul, ir), part in zip(irreps, irreps.slices()):
        Y = o3.spherical_harmonics(ir.l, _POINTS, normalize=True)                    # (n, 2l+1)
        Y_moved = o3.spherical_harmonics(ir.l, _POINTS @ proper.transpose(1, 2), normalize=True)  # (k, n, 2l+1)
        D = (torch.linalg.pinv(Y) @ Y_moved).transpose(1, 2)                          # rows of Y are Y(x)ᵀ, so Y_moved = Y Dᵀ
        D = D * torch.where(det < 0, float(ir.p), 1.0)[:, None, None]
        for k in range(mul):
            a = part.start + k * ir.dim
            out[:, a:a + ir.dim, a:a + ir.dim] = D
    return out.round(decimals=13)  # exact zeros and ones where D has them


def _projector(irreps, ops):
    """The group average (1/|G|) Σ_g D(g), the projector onto the vectors every operation keeps: (dim, dim)."""
    return _D(irreps, ops).mean(0)


def _turned(ops, Q):
    """The same group in a frame turned by Q."""
    return Q @ ops @ Q.T


# ---- 11.1: the stabiliser


def stabilizer(p, irreps, ops):
    """A boolean mask over ``ops`` (k, 3, 3): True where D(g) p = p, up to 1e-6 |p|."""
    moved = _D(irreps, ops) @ p.to(torch.float64)
    return (moved - p).norm(dim=-1) <= 1e-6 * p.norm()


def _stabilizer_cases(g):
    groups = _groups()
    for big, small in [("square", "rectangle"), ("square", "parallelogram"), ("octahedron", "elongated octahedron")]:
        q = torch.randn(o3.Irreps(ALL).dim, generator=g, dtype=torch.float64)
        yield Case(_projector(ALL, groups[small]) @ q, ALL, groups[big], note=f"a p with the symmetry of the {small}, tested with the operations of the {big}")
    yield Case(torch.randn(8, generator=g, dtype=torch.float64), "1o+2e", groups["square"])
    yield Case(torch.tensor([0.7], dtype=torch.float64), "0e", groups["octahedron"], note="a scalar p")


def _hidden_stabilizer(g):
    groups = _groups()
    yield Case(torch.zeros(o3.Irreps(ALL).dim, dtype=torch.float64), ALL, groups["square"], note="p = 0")
    yield Case(torch.tensor([-0.3], dtype=torch.float64), "0o", groups["square"], note="a pseudoscalar p")
    Q = rand_matrix(dtype=torch.float64, generator=g)
    q = torch.randn(o3.Irreps(ALL).dim, generator=g, dtype=torch.float64)
    p = _D(ALL, Q[None])[0] @ (_projector(ALL, groups["shifted octahedron"]) @ q)
    yield Case(p, ALL, _turned(groups["octahedron"], Q), note="an off-centre octahedron in a turned frame")


def _stabilizer_compare(got, expected, case):
    if not isinstance(got, torch.Tensor):
        return f"return a tensor of True/False, one per operation, not {type(got).__name__}"
    if got.shape != expected.shape:
        return f"the mask has shape {tuple(got.shape)} but should have one entry per operation, shape {tuple(expected.shape)}"
    if got.dtype != torch.bool:
        return "return a boolean mask (a comparison such as `error <= tol` gives one)"
    if torch.equal(got, expected):
        return None
    if case.note == "p = 0":
        return "for p = 0 every operation leaves p unchanged: compare |D(g) p − p| with tol · |p| without dividing by |p|"
    if not bool(got[0]):
        return "the identity (the first operation) always leaves p unchanged"
    extra, missing = int((got & ~expected).sum()), int((~got & expected).sum())
    if extra and missing:
        hint = f"your mask keeps {extra} operation(s) that change p and misses {missing} that leave it unchanged"
    elif extra:
        hint = f"your mask keeps {extra} operation(s) that change p"
    else:
        hint = f"your mask misses {missing} operation(s) that leave it unchanged"
    if missing:
        return hint + " (compare with a small tolerance times |p|, not with exact equality)"
    return hint + " (is your tolerance too loose, or the parity of an irrep ignored?)"


# ---- 11.2: predict which irreps can hold the order parameter of an elongated octahedron


def octahedron_irreps():
    """The irreps of 0e…4o that can hold an order parameter for octahedron (O_h) → elongated along z (D_4h)."""
    return "2e+4e"


def _irrep_set(text):
    return [str(ir) for _, ir in o3.Irreps(text)]


def _octahedron_compare(got, expected, case):
    if not isinstance(got, str):
        return f"answer with an irreps string such as '1o+3e', not {type(got).__name__}"
    try:
        picked = set(_irrep_set(got)) if got.strip() else set()
    except Exception:
        return f"{got!r} is not an irreps string such as '1o+3e'"
    if not picked <= set(_irrep_set(UP_TO_4)):
        return "pick among 0e, 0o, 1e, 1o, 2e, 2o, 3e, 3o, 4e and 4o"
    want = set(_irrep_set(expected))
    if any(o3.Irrep(ir).p == -1 for ir in picked):
        return "the elongated octahedron keeps its inversion centre: what does the inversion do to an irrep of odd parity?"
    if any(o3.Irrep(ir).l % 2 == 1 for ir in picked):
        return "a pseudotensor (l odd, parity e) that the elongated octahedron keeps must survive its mirrors through the z axis as well"
    if "0e" in picked:
        return "a scalar is unchanged by every operation, of either group: it cannot tell them apart"
    if "2e" not in picked:
        return "an elongation along z is a strain, a symmetric traceless matrix: which irrep holds one?"
    if not want <= picked:
        return "higher l can see the elongation too: is there an even-l harmonic, beyond the cube's own invariant, that the elongated octahedron keeps?"
    return None if picked == want else "that is not what happens: compare what each group leaves unchanged, irrep by irrep"


# ---- 11.3: which irreps can break the symmetry


def breaking_irreps(irreps, ops_input, ops_output):
    """The irreps (strings, in order) with more invariant directions under ops_output than under ops_input."""
    out = []
    for _, ir in o3.Irreps(irreps):
        dims = [float(_projector(str(ir), ops).trace()) for ops in (ops_input, ops_output)]
        if round(dims[1]) > round(dims[0]):
            out.append(str(ir))
    return out


def _breaking_cases(g):
    groups = _groups()
    Q = rand_matrix(dtype=torch.float64, generator=g)
    yield Case(ALL, _turned(groups["square"], Q), _turned(groups["rectangle"], Q), note="square → rectangle, in a random frame")
    yield Case(ALL, groups["square"], groups["parallelogram"], note="square → parallelogram")
    yield Case(ALL, groups["octahedron"], groups["shifted octahedron"], note="octahedron → off-centre B")


def _hidden_breaking(g):
    groups = _groups()
    yield Case(ALL, groups["square"], groups["square"], note="no symmetry lost")
    yield Case("4e+0e+2o", groups["octahedron"], groups["elongated octahedron"], note="irreps not sorted by l")
    yield Case("1o+2e", groups["rectangle"], groups["identity"], note="every symmetry lost")
    yield Case("2x2e", groups["square"], groups["rhombus"], note="an irrep with two copies")


def _breaking_compare(got, expected, case):
    if not isinstance(got, (list, tuple)) or not all(isinstance(s, str) for s in got):
        return f"return a list of irreps as strings such as ['2e'], not {type(got).__name__}"
    try:
        got = [str(o3.Irrep(s)) for s in got]
    except Exception:
        return "each entry should be one irrep such as '2e'"
    if got == expected:
        return None
    if sorted(got) == sorted(expected):
        return "the right irreps, in the wrong order: keep the order of `irreps`"
    if "0e" in got and "0e" not in expected:
        return "0e is invariant under every operation: it cannot break anything"
    extra = [s for s in got if s not in expected]
    missing = [s for s in expected if s not in got]
    if extra and not missing:
        return f"{len(extra)} irrep{'s' if len(extra) > 1 else ''} too many: an irrep can break the symmetry only if it has a direction the smaller group keeps and the larger one does not"
    if missing and not extra:
        return f"{len(missing)} irrep{'s' if len(missing) > 1 else ''} missing: count, for each irrep, the directions each group leaves unchanged"
    return "wrong irreps: count, for each irrep, the directions each group leaves unchanged"


# ---- 11.4: predict whether a rectangle and a rhombus need different irreps

SAME_OR_NOT = ["the same irreps", "different irreps"]


def rectangle_vs_rhombus():
    """Do square → rectangle and square → rhombus (stretched along a diagonal) use the same irreps?"""
    return "the same irreps"


_rectangle_rhombus_compare = choice(SAME_OR_NOT, why={
    "different irreps": "a 45° turn about z carries the rectangle onto the rhombus: what does a rotation do to the irrep an order parameter lives in?",
})


# ---- 11.5: an order parameter in a given irrep


def order_parameter(irrep, ops_input, ops_output):
    """A unit vector of the irrep kept by every operation of ops_output but not by all of ops_input; zeros if there is none."""
    P_in, P_out = _projector(irrep, ops_input), _projector(irrep, ops_output)
    # the directions kept by the output's group, minus those kept by the input's (P_in P_out = P_in: G ⊇ H)
    Q = P_out - P_in
    if float(Q.trace()) < 0.5:
        return torch.zeros(len(Q), dtype=torch.float64)
    vectors = torch.linalg.eigh(Q).eigenvectors[:, -1]
    return vectors / vectors.norm()


def _order_cases(g):
    groups = _groups()
    Q = rand_matrix(dtype=torch.float64, generator=g)
    yield Case("2e", _turned(groups["square"], Q), _turned(groups["rectangle"], Q), note="2e, square → rectangle in a random frame")
    yield Case("4e", groups["octahedron"], groups["elongated octahedron"], note="4e, octahedron → elongated")
    yield Case("1o", groups["octahedron"], groups["shifted octahedron"], note="1o, octahedron → off-centre B")


def _hidden_order(g):
    groups = _groups()
    yield Case("2o", groups["square"], groups["rectangle"], note="an irrep that cannot break square → rectangle")
    yield Case("0e", groups["octahedron"], groups["identity"], note="a scalar")
    yield Case("3e", groups["square"], groups["rhombus"], note="3e, square → rhombus")


def _order_compare(got, expected, case):
    irrep, ops_in, ops_out = case.args
    dim = o3.Irrep(irrep).dim
    if not isinstance(got, torch.Tensor) or got.shape != (dim,):
        return f"return a tensor of shape ({dim},), the components of one {irrep}"
    got = got.to(torch.float64)
    if expected.norm() < 0.5:
        return None if got.norm() < 1e-6 else f"no direction of {irrep} is kept by the smaller group and not by the larger one: return zeros"
    if got.norm() < 1e-6:
        return "you returned zeros, but this irrep has an order parameter for this transition"
    if abs(float(got.norm()) - 1) > 1e-6:
        return "return a unit vector"
    if not bool(stabilizer(got, irrep, ops_out).all()):
        return "some operation of the smaller group (the output's) changes your vector"
    if bool(stabilizer(got, irrep, ops_in).all()):
        return "every operation of the larger group keeps your vector too: it breaks nothing"
    return None


EXERCISES = [
    Exercise("11.1", stabilizer, _stabilizer_cases, _stabilizer_compare, title="the stabiliser of an order parameter", name="stabilizer", hidden=_hidden_stabilizer,
             mistakes=[
                 (lambda p, irreps, ops: (_D(irreps, ops) @ p - p).norm(dim=-1) <= 1e-6 * p.norm() * 0 - 1, "identity"),
                 (lambda p, irreps, ops: (_D(irreps, ops) @ p - p).norm(dim=-1) / p.norm() <= 1e-6, "without dividing"),
                 (lambda p, irreps, ops: ((_D(irreps, ops) @ p - p) == 0).all(dim=-1), "exact equality"),
                 (lambda p, irreps, ops: (_D(irreps, ops) @ p - p).norm(dim=-1) <= 10 * p.norm(), "too loose"),
                 (lambda p, irreps, ops: ((_D(irreps, ops) @ p - p).norm(dim=-1) <= 1e-6 * p.norm()).double(), "boolean mask"),
                 (lambda p, irreps, ops: stabilizer(p, irreps, ops)[:1], "one entry per operation"),
                 (lambda p, irreps, ops: stabilizer(p, irreps, ops).tolist(), "a tensor of True/False"),
             ]),
    Exercise("11.2", octahedron_irreps, kind="value", name="octahedron_irreps", compare=_octahedron_compare, title="predict: the irreps of an elongated octahedron",
             mistakes=[("2e+3o+4e", "inversion centre"), ("1e+2e+4e", "mirrors through the z axis"), ("0e+2e+4e", "a scalar"), ("4e", "strain"),
                       ("2e", "higher l"), ("5e", "pick among"), ("spin", "not an irreps string"), (2, "irreps string")]),
    Exercise("11.3", breaking_irreps, _breaking_cases, _breaking_compare, title="which irreps can break a symmetry", name="breaking_irreps", hidden=_hidden_breaking, points=2,
             mistakes=[
                 (lambda irreps, a, b: breaking_irreps(irreps, a, b)[::-1] if len(breaking_irreps(irreps, a, b)) > 1 else ["9e"], "wrong order"),
                 (lambda irreps, a, b: ["0e"] + breaking_irreps(irreps, a, b), "0e is invariant"),
                 (lambda irreps, a, b: [str(ir) for _, ir in o3.Irreps(irreps) if str(ir) != "0e"], "too many"),
                 (lambda irreps, a, b: breaking_irreps(irreps, a, b)[1:] or ["0o"], "missing"),
                 (lambda irreps, a, b: "2e", "a list of irreps"),
                 (lambda irreps, a, b: ["two e"], "one irrep such as"),
             ]),
    Exercise("11.4", rectangle_vs_rhombus, kind="value", name="rectangle_vs_rhombus", compare=_rectangle_rhombus_compare, title="predict: a rectangle and a rhombus",
             mistakes=[("different irreps", "45° turn"), ("same", "answer with one of")]),
    Exercise("11.5", order_parameter, _order_cases, _order_compare, title="an order parameter in a given irrep", name="order_parameter", hidden=_hidden_order, points=2,
             mistakes=[
                 (lambda irrep, a, b: torch.ones(o3.Irrep(irrep).dim, dtype=torch.float64) / o3.Irrep(irrep).dim ** 0.5, "changes your vector"),
                 (lambda irrep, a, b: 2 * order_parameter(irrep, a, b), "unit vector"),
                 (lambda irrep, a, b: torch.zeros(o3.Irrep(irrep).dim, dtype=torch.float64), "you returned zeros"),
                 (lambda irrep, a, b: _first_kept(irrep, a), "breaks nothing"),
                 (lambda irrep, a, b: order_parameter(irrep, a, b)[:1], "shape"),
             ]),
]


def _first_kept(irrep, ops):
    """A mistake for 11.5: a unit vector kept by the larger group ``ops`` (so by the smaller one too), zeros if none."""
    P = _projector(irrep, ops)
    v = P[:, int(P.diagonal().argmax())]
    return v / v.norm() if v.norm() > 1e-9 else torch.zeros(len(P), dtype=torch.float64)
