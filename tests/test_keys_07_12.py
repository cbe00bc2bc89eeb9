"""Every value and prediction key of problem sets 07-12, computed here independently of its declaration.

Each test derives the answer with the library's tools (or by hand) and compares it with the reference the
declaration states: a wrong key fails here, whatever the exercise's own tests say. None of them calls
the exercise's reference function except to read the declared key.
"""

import math

import pytest
import torch
from e3nn import o3

from symml import checks
from symml.checks import judge, run_answer


pytestmark = pytest.mark.usefixtures("float64")  # the keys are exact facts: derived in double precision (conftest)


def key(exercise_id):
    """The answer a declaration states for a value exercise."""
    ex = checks.exercise(exercise_id)
    assert ex.kind == "value", f"{exercise_id} is not a value exercise"
    return ex.solution()


def allowed(ops, irrep) -> int:
    """dim {v : D(R) v = v for every R in ops}: the trace of the group average of D (a projector)."""
    return round(float(o3.Irrep(irrep).D_from_matrix(ops).mean(dim=0).trace()))


def group(*generators) -> torch.Tensor:
    """The closure of a few 3×3 matrices under multiplication (a finite group)."""
    elements = [torch.eye(3)]
    frontier = list(elements)
    while frontier:
        new = []
        for A in frontier:
            for B in generators:
                C = A @ B
                if not any(torch.allclose(C, E, atol=1e-9) for E in elements + new):
                    new.append(C)
        elements += new
        frontier = new
    return torch.stack(elements)


def reachable(start, lmax_filter, depth):
    """The irreps (l ≤ 3, both parities) that ``depth`` convolutions with filters Y^0..Y^lmax_filter reach from ``start``."""
    every = [o3.Irrep(l, p) for l in range(4) for p in (1, -1)]
    filters = [o3.Irrep(l, (-1) ** l) for l in range(lmax_filter + 1)]
    now = {o3.Irrep(start)}
    for _ in range(depth):
        now = {ir for a in now for f in filters for ir in a * f if ir in every}
    return now


# ---------------------------------------------------------------- 07


def test_07_2_flat_cloud_outputs():
    mirror = torch.diag(torch.tensor([1.0, 1.0, -1.0]))  # keeps every point of a cloud in z = 0
    site = torch.stack([torch.eye(3), mirror])
    assert key("07.2") == {"2e": allowed(site, "2e"), "2o": allowed(site, "2o")}


def test_07_5_layers_to_pseudoscalar():
    fewest = next(depth for depth in range(1, 6) if o3.Irrep("0o") in reachable("0e", 3, depth))
    assert key("07.5") == fewest


def test_07_3_a_signed_max_is_caught_by_a_hidden_case():
    """max(difference) without abs passes some seeds' visible cases; the long translation's hidden case fails it."""
    ex = checks.exercise("07.3")

    def signed(layer, pos, x, cell, Q, t, irreps_in, irreps_out):
        D_in, D_out = o3.Irreps(irreps_in).D_from_matrix(Q), o3.Irreps(irreps_out).D_from_matrix(Q)
        return float((layer(pos @ Q.T + t, x @ D_in.T, cell @ Q.T) - layer(pos, x, cell) @ D_out.T).max())

    hidden = [c for c in ex.hidden_inputs(0) if "distance from the origin" in c.note]
    assert len(hidden) == 1
    v = judge(ex, hidden, run_answer(ex, signed, hidden))
    assert v.status == "failed" and "not equivariant" in v.message, v
    honest = judge(ex, hidden, run_answer(ex, _abs_max, hidden))
    assert honest.status == "passed", honest


def _abs_max(layer, pos, x, cell, Q, t, irreps_in, irreps_out):
    D_in, D_out = o3.Irreps(irreps_in).D_from_matrix(Q), o3.Irreps(irreps_out).D_from_matrix(Q)
    return float((layer(pos @ Q.T + t, x @ D_in.T, cell @ Q.T) - layer(pos, x, cell) @ D_out.T).abs().max())


# ---------------------------------------------------------------- 08


def test_08_2_smallest_hidden_without_1e():
    """Search every set of single irreps up to l = 2 without 1e: the smallest that reaches 0o is the key's size."""
    import itertools
    import warnings

    from symml.nn import EquivariantNet

    cloud = 0.6 * torch.randn(6, 3, generator=torch.Generator().manual_seed(3))
    sizes = []
    for k in range(1, 6):
        for chosen in itertools.combinations(["0e", "0o", "1o", "2e", "2o"], k):
            hidden = o3.Irreps("+".join(chosen))
            torch.manual_seed(0)
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                try:
                    net = EquivariantNet("0e", "0o", irreps_hidden=hidden, max_radius=2.5, num_layers=2, num_neighbors=3.0)
                    with torch.no_grad():
                        out = float(net(cloud).abs().max())
                except Exception:
                    out = 0.0
            if out > 1e-9:
                sizes.append((hidden.dim, hidden.sort().irreps.simplify()))
    smallest = min(d for d, _ in sizes)
    declared = o3.Irreps(key("08.2"))
    assert "1e" not in [str(ir) for _, ir in declared]
    assert (declared.dim, declared.sort().irreps.simplify()) in sizes and declared.dim == smallest
    assert smallest <= checks.exercise("08.2").reference.__globals__["MAX_HIDDEN_DIM"]


def test_08_4_zero_modes_of_a_distorted_water():
    from symml.datasets import water, water_energy

    for seed in (3, 7):
        pos = water(1, seed=seed)[0][0].to(torch.float64)
        H = torch.autograd.functional.hessian(water_energy, pos).reshape(9, 9)
        eigenvalues = torch.linalg.eigvalsh(H)
        assert int((eigenvalues.abs() < 1e-8 * eigenvalues.abs().max()).sum()) == key("08.4")


def test_08_5_output_irreps():
    from e3nn.io import CartesianTensor

    vector, pseudovector = o3.Irrep("1o"), next(ir for ir in o3.Irrep("1o") * o3.Irrep("1o") if ir.l == 1)  # r × p
    pseudoscalar = next(ir for ir in pseudovector * vector if ir.l == 0)  # a triple product
    truth = {"energy": o3.Irreps("0e"), "forces on each atom": o3.Irreps([vector]), "dipole moment": o3.Irreps([vector]),
             "polarizability": CartesianTensor("ij=ji"), "magnetic moment": o3.Irreps([pseudovector]),
             "handedness of a molecule": o3.Irreps([pseudoscalar])}
    declared = key("08.5")
    assert set(declared) == set(truth)
    for name, irreps in truth.items():
        assert o3.Irreps(declared[name]).sort().irreps.simplify() == o3.Irreps(irreps).sort().irreps.simplify(), name


def test_08_7_weights_agree_with_e3nn():
    """The reference count of 08.7 is a function exercise; e3nn's modules count the same weights."""
    radial_weights = checks.exercise("08.7").reference
    for irreps_in, lmax, irreps_out in [("4x0e + 4x1o + 4x2e", 2, "4x0e + 4x1o + 4x2e"), ("8x0e + 4x1o + 2x1e", 1, "8x0e + 2x0o + 4x1o + 4x1e"),
                                        ("2x1o + 3x3e", 3, "1x0e + 2x2o + 4x3o")]:
        irreps_in, irreps_out, sh = o3.Irreps(irreps_in), o3.Irreps(irreps_out), o3.Irreps.spherical_harmonics(lmax)
        full = o3.FullyConnectedTensorProduct(irreps_in, sh, irreps_out, shared_weights=False)
        assert radial_weights(irreps_in, lmax, irreps_out, "uvw") == full.weight_numel
        mid, instructions = [], []
        for i, (mul, ir_in) in enumerate(irreps_in):
            for j, (_, ir_sh) in enumerate(sh):
                for ir in ir_in * ir_sh:
                    if ir in irreps_out:
                        instructions.append((i, j, len(mid), "uvu", True))
                        mid.append((mul, ir))
        uvu = o3.TensorProduct(irreps_in, sh, o3.Irreps(mid), instructions, shared_weights=False, internal_weights=False)
        assert radial_weights(irreps_in, lmax, irreps_out, "uvu") == uvu.weight_numel


def test_08_8_own_features_depth():
    """The shortest closed walk from node 0 in a graph without self-loops: (A^k)_00 > 0."""
    from symml.nn import radius_graph

    points = torch.tensor([[0.0, 0, 0], [1.0, 0, 0], [0, 1.2, 0], [0.3, 0.4, 1.1]])
    src, dst, _ = radius_graph(points, 1.5)
    A = torch.zeros(4, 4)
    A[dst, src] = 1.0
    walks, depth = torch.eye(4), 0
    while True:
        walks, depth = A @ walks, depth + 1
        if walks[0, 0] > 0:
            break
    assert key("08.8") == depth


# ---------------------------------------------------------------- 09


def test_09_3_star_vs_tetrahedron():
    """By hand: what each net's one interaction can write (distances in its graph; P_1, P_2 of the bond angles)."""
    bonds = {"star": torch.tensor([[1.0, 0, 0], [-1, 0, 0], [0, 1, 0], [0, -1, 0]]),
             "tetrahedron": torch.tensor([[1.0, 1, 1], [1, -1, -1], [-1, 1, -1], [-1, -1, 1]]) / math.sqrt(3)}

    def sees(lmax, cutoff):
        def invariants(b):
            pos = torch.cat([torch.zeros(1, 3), b])
            d = torch.cdist(pos, pos)
            found = [sorted(round(x, 9) for x in d[(d > 0) & (d < cutoff)].tolist())]
            cos = b @ b.T
            for l in range(1, lmax + 1):  # Σ_k P_l(r̂_j · r̂_k) for each bond j, and |Σ_k Y^l(r̂_k)|
                P = torch.special.legendre_polynomial_p(cos, l)
                found.append(sorted(round(x, 9) for x in P.sum(dim=1).tolist()))
            return found
        return invariants(bonds["star"]) != invariants(bonds["tetrahedron"])

    truth = {"lmax 0": sees(0, 1.3), "lmax 1": sees(1, 1.3), "lmax 2": sees(2, 1.3), "lmax 0, second neighbours": sees(0, 2.5)}
    assert key("09.3") == truth


def test_09_4_units():
    """β and a of err = a N^-β when every error is multiplied by 1000, fitted on the logarithms by hand."""
    N = torch.tensor([10.0, 30, 100, 300])
    err = 2.0 * N**-0.4 * torch.tensor([1.1, 0.9, 1.05, 0.97])

    def fit(e):
        A = torch.stack([torch.log(N), torch.ones(4)], dim=1)
        slope, intercept = torch.linalg.lstsq(A, torch.log(e)[:, None]).solution[:, 0].tolist()
        return -slope, math.exp(intercept)

    (b1, a1), (b2, a2) = fit(err), fit(1000 * err)
    changed = [name for name, moved in [("beta", abs(b2 - b1) > 1e-9), ("a", abs(a2 / a1 - 1) > 1e-9)] if moved]
    truth = {(): "neither", ("beta",): "only beta", ("a",): "only a", ("beta", "a"): "both"}[tuple(changed)]
    assert key("09.4") == truth


# ---------------------------------------------------------------- 10-12: shapes and their operations

SQUARE = torch.tensor([[1.0, 1, 0], [-1, 1, 0], [-1, -1, 0], [1, -1, 0]], dtype=torch.float64)


def operations(pos, types=None):
    from symml.symmetry import symmetry_operations

    return symmetry_operations(pos, types)


def kept_by(ops, pos, i):
    """The operations that leave point i in place, about the centroid."""
    c = pos.mean(dim=0)
    moved = (pos[i] - c) @ ops.transpose(1, 2) + c
    return ops[(moved - pos[i]).norm(dim=-1) < 1e-6]


def test_10_1_pyramid_vectors():
    pyramid = torch.tensor([[1.0, 0, 0], [-0.5, 3**0.5 / 2, 0], [-0.5, -(3**0.5) / 2, 0], [0, 0, 0.8]])
    ops = operations(pyramid, ["H", "H", "H", "N"])
    assert key("10.1") == {"N": allowed(kept_by(ops, pyramid, 3), "1o"), "H": allowed(kept_by(ops, pyramid, 0), "1o"),
                           "whole molecule": allowed(ops, "1o")}


def test_10_3_tetrahedron_lowest_l():
    # T_d from its generators: a three-fold turn about (1,1,1), a two-fold about z, a mirror x ↔ y
    three = torch.tensor([[0.0, 0, 1], [1, 0, 0], [0, 1, 0]])
    two = torch.diag(torch.tensor([-1.0, -1, 1]))
    mirror = torch.tensor([[0.0, 1, 0], [1, 0, 0], [0, 0, 1]])
    Td = group(three, two, mirror)
    assert len(Td) == 24
    lowest = next(l for l in range(1, 8) if allowed(Td, f"{l}{'e' if l % 2 == 0 else 'o'}") > 0)
    assert key("10.3") == lowest


def test_11_2_octahedron_irreps():
    three = torch.tensor([[0.0, 0, 1], [1, 0, 0], [0, 1, 0]])
    four = torch.tensor([[0.0, -1, 0], [1, 0, 0], [0, 0, 1]])
    Oh = group(three, four, -torch.eye(3))
    D4h = group(four, torch.diag(torch.tensor([1.0, -1, -1])), -torch.eye(3))
    assert (len(Oh), len(D4h)) == (48, 16)
    candidates = [f"{l}{p}" for l in range(5) for p in "eo"]
    breaking = {ir for ir in candidates if allowed(D4h, ir) > allowed(Oh, ir)}
    assert {str(ir) for _, ir in o3.Irreps(key("11.2"))} == breaking


def test_11_4_rectangle_vs_rhombus():
    diagonal = torch.tensor([[math.cos(math.pi / 4), -math.sin(math.pi / 4), 0], [math.sin(math.pi / 4), math.cos(math.pi / 4), 0], [0, 0, 1]])
    stretch = torch.tensor([1.3, 0.9, 1.0])
    rectangle, rhombus = SQUARE * stretch, (SQUARE @ diagonal.T) * stretch @ diagonal
    G = operations(SQUARE)
    irreps = [f"{l}{p}" for l in range(5) for p in "eo"]

    def breaking(H):
        return [ir for ir in irreps if allowed(H, ir) > allowed(G, ir)]

    same = breaking(operations(rectangle)) == breaking(operations(rhombus))
    assert key("11.4") == ("the same irreps" if same else "different irreps")


def test_12_1_arrow_for_a_triangle():
    from symml.symmetry import act

    triangle = torch.tensor([[math.cos(a), math.sin(a), 0.0] for a in [math.pi / 2 + 2 * math.pi * k / 3 for k in range(3)]])
    T = operations(triangle)
    stretched = triangle * torch.tensor([1.0, 1.3, 1.0]) - triangle
    keep_target = sum(bool(torch.allclose(act(R, triangle, stretched), stretched, atol=1e-9)) for R in T)
    keep_arrow = int(((T @ torch.tensor([0.0, 1, 0]) - torch.tensor([0.0, 1, 0])).norm(dim=1) < 1e-9).sum())
    assert key("12.1") == ("yes" if keep_arrow < keep_target else "no")


def test_12_3_square_dipole():
    G = operations(SQUARE)
    x = torch.tensor([1.0, 0, 0])
    axis = o3.spherical_harmonics(2, x, normalize=True)

    def dipole_allowed(feature, irreps):
        D = o3.Irreps(irreps).D_from_matrix(G)
        kept = G[(D @ feature - feature).norm(dim=1) < 1e-9]
        return allowed(kept, "1o") > 0

    with_axis, with_arrow = dipole_allowed(axis, "2e"), dipole_allowed(x, "1o")
    truth = {(False, False): "zero with either input", (True, False): "non-zero with the axis only",
             (False, True): "non-zero with the arrow only", (True, True): "non-zero with either input"}[with_axis, with_arrow]
    assert key("12.3") == truth


def test_12_4_decision_chart():
    """The chart of lesson 12 as a function of three facts, each scenario's facts stated by hand from its text."""

    def chart(output_keeps_input_symmetry, several_outputs, related_by_symmetry=False):
        if output_keeps_input_symmetry:
            return "scalar sampling" if several_outputs else "direct prediction"
        if several_outputs and related_by_symmetry:
            return "nonscalar sampling"
        return "missing information"

    facts = {
        "a": (False, True, False),  # irregular hexagons, not images of each other under the hexagon's operations
        "b": (False, False),        # one rectangle from a square
        "c": (False, True, True),   # domains along x, y, z: images under the cube's operations
        "d": (True, True),          # a volume is a scalar: it keeps everything, but has several values
        "e": (False, False),        # a non-zero dipole on an inversion-symmetric molecule
        "f": (True, False),         # forces from the energy of the input itself
    }
    assert key("12.4") == {k: chart(*v) for k, v in facts.items()}
