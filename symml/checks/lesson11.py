"""Exercises of lesson 11, symmetry breaking."""

import torch
from e3nn import o3

from symml.checks import Case, Exercise, close
from symml.symmetry import symmetry_operations

ALL = "0e+0o+1e+1o+2e+2o+3e+3o"


def _square():
    return torch.tensor([[1.0, 1, 0], [-1, 1, 0], [-1, -1, 0], [1, -1, 0]], dtype=torch.float64)


def _octahedron():
    return torch.tensor([[0.0, 0, 0], [1, 0, 0], [-1, 0, 0], [0, 1, 0], [0, -1, 0], [0, 0, 1], [0, 0, -1]], dtype=torch.float64)


def _groups():
    """Point groups used by the cases: name -> (k, 3, 3) float64."""
    sq = _square()
    octa = _octahedron()
    types = ["B"] + ["X"] * 6
    shifted = octa.clone()
    shifted[0, 2] = 0.1
    elongated = octa * torch.tensor([1.0, 1.0, 1.2], dtype=torch.float64)
    return {
        "square": symmetry_operations(sq),
        "rectangle": symmetry_operations(sq * torch.tensor([1.3, 0.9, 1.0], dtype=torch.float64)),
        "parallelogram": symmetry_operations(sq + 0.3 * sq[:, [1]] * torch.tensor([1.0, 0, 0], dtype=torch.float64)),
        "octahedron": symmetry_operations(octa, types),
        "shifted octahedron": symmetry_operations(shifted, types),
        "elongated octahedron": symmetry_operations(elongated, types),
        "identity": torch.eye(3, dtype=torch.float64)[None],
    }


def _D(irreps, ops):
    return o3.Irreps(irreps).D_from_matrix(ops.to(torch.float64)).to(torch.float64)


# ---- 11.1: the length of each irrep block


def irrep_norms(p, irreps):
    """One Euclidean norm per entry of ``irreps`` (each with one copy): shape (len(irreps),)."""
    irreps = o3.Irreps(irreps)
    return torch.stack([p[s].norm() for s in irreps.slices()])


def _norm_cases(g):
    def r(irreps):
        return torch.randn(o3.Irreps(irreps).dim, generator=g, dtype=torch.float64)

    yield Case(r(ALL), ALL)
    yield Case(r("1o+2e"), "1o+2e")
    yield Case(r("2e+0e+3o"), "2e+0e+3o", note="irreps not sorted by l")
    zeros = r(ALL)
    zeros[o3.Irreps(ALL).slices()[3]] = 0
    yield Case(zeros, ALL, note="a p with one block exactly zero")
    yield Case(torch.tensor([-2.0], dtype=torch.float64), "0o", note="a single pseudoscalar −2")


def _norm_compare(got, expected, case):
    hint = close(got, expected)
    if hint is None:
        return None
    p, irreps = case.args
    if isinstance(got, torch.Tensor) and got.shape == expected.shape:
        g = got.to(torch.float64)
        if torch.allclose(g, expected**2, atol=1e-8) and not torch.allclose(expected, expected**2):
            return "these are the squared lengths: take the square root"
        l1 = torch.stack([p[s].abs().sum() for s in o3.Irreps(irreps).slices()])
        if torch.allclose(g, l1, atol=1e-8):
            return "that is the sum of absolute values; the length of a block is its Euclidean norm"
    if isinstance(got, torch.Tensor) and got.dim() == 1 and len(got) != len(expected):
        return f"expected one number per irrep ({len(expected)} of them), got {len(got)}: use o3.Irreps(irreps).slices()"
    return hint


# ---- 11.2: the stabiliser


def stabilizer(p, irreps, ops):
    """A boolean mask over ``ops`` (k, 3, 3): True where D(g) p = p, up to 1e-6 |p|."""
    moved = _D(irreps, ops) @ p.to(torch.float64)
    return (moved - p).norm(dim=-1) <= 1e-6 * p.norm()


def _stabilizer_cases(g):
    groups = _groups()
    for big, small in [("square", "rectangle"), ("square", "parallelogram"), ("octahedron", "shifted octahedron"), ("octahedron", "elongated octahedron")]:
        q = torch.randn(o3.Irreps(ALL).dim, generator=g, dtype=torch.float64)
        p = invariant_projector(ALL, groups[small]) @ q
        yield Case(p, ALL, groups[big], note=f"a p with the symmetry of the {small}, tested with the operations of the {big}")
    yield Case(torch.randn(8, generator=g, dtype=torch.float64), "1o+2e", groups["square"])
    yield Case(torch.tensor([0.7], dtype=torch.float64), "0e", groups["octahedron"], note="a scalar p")
    yield Case(torch.zeros(o3.Irreps(ALL).dim, dtype=torch.float64), ALL, groups["square"], note="p = 0")


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
        hint = f"your mask misses {missing} operation(s) that leave p unchanged"
    if missing:
        return hint + " (compare |D(g) p − p| with a small tolerance times |p|, not with exact equality)"
    return hint + " (is your tolerance too loose?)"


# ---- 11.3: the projector onto the invariant subspace


def invariant_projector(irreps, ops):
    """The group average (1/|G|) Σ_g D(g): shape (dim, dim)."""
    return _D(irreps, ops).mean(0)


def _projector_cases(g):
    groups = _groups()
    yield Case(ALL, groups["square"])
    yield Case(ALL, groups["rectangle"])
    yield Case("1o+2e+2e", groups["shifted octahedron"], note="a group without the inversion")
    yield Case("1o", groups["square"], note="vectors under a group with the inversion")
    yield Case("2e+3o", groups["identity"], note="the group of the identity alone")


def _projector_compare(got, expected, case):
    hint = close(got, expected)
    if hint is None:
        return None
    if isinstance(got, torch.Tensor) and got.shape == expected.shape:
        g = got.to(torch.float64)
        if torch.allclose(g, torch.eye(len(g), dtype=torch.float64)) and not torch.allclose(expected, g):
            return "that is D of the identity alone: average D(g) over all the operations"
        if not torch.allclose(g @ g, g, atol=1e-6):
            hint += " — it is not a projector (P @ P should equal P): average D(g) over the group, don't add them up"
    return hint


# ---- 11.4: which irreps can break the symmetry


def breaking_irreps(irreps, ops_input, ops_output):
    """The irreps (strings, in order) with more invariant directions under ops_output than under ops_input."""
    out = []
    for _, ir in o3.Irreps(irreps):
        dims = [float(_D(str(ir), ops).mean(0).trace()) for ops in (ops_input, ops_output)]
        if round(dims[1]) > round(dims[0]):
            out.append(str(ir))
    return out


def _breaking_cases(g):
    groups = _groups()
    yield Case(ALL, groups["square"], groups["rectangle"], note="square → rectangle")
    yield Case(ALL, groups["square"], groups["parallelogram"], note="square → parallelogram")
    yield Case(ALL, groups["octahedron"], groups["shifted octahedron"], note="octahedron → off-centre B")
    yield Case("0e+1o+2e+4e", groups["octahedron"], groups["elongated octahedron"], note="octahedron → elongated, irreps 0e+1o+2e+4e")
    yield Case(ALL, groups["square"], groups["square"], note="no symmetry lost")


def _breaking_compare(got, expected, case):
    if not isinstance(got, (list, tuple)) or not all(isinstance(s, str) for s in got):
        return f"return a list of irreps as strings such as ['2e'], not {type(got).__name__}"
    got = [str(o3.Irrep(s)) for s in got]
    if got == expected:
        return None
    if sorted(got) == sorted(expected):
        return "the right irreps, in the wrong order: keep the order of `irreps`"
    if "0e" in got and "0e" not in expected:
        return "0e is invariant under every operation: it cannot break anything"
    extra = [s for s in got if s not in expected]
    missing = [s for s in expected if s not in got]
    if extra and not missing:
        return f"{len(extra)} irrep{'s' if len(extra) > 1 else ''} too many: an irrep breaks the symmetry only if the output's group leaves *more* of its directions alone than the input's"
    if missing and not extra:
        return f"{len(missing)} irrep{'s' if len(missing) > 1 else ''} missing: count invariant directions with the trace of the group average"
    return "wrong irreps: compare the trace of the group average under both groups, irrep by irrep"


# ---- 11.5: a loss that prefers a simple order parameter


def penalized_loss(pred, target, p, irreps, weight):
    """mean((pred − target)²) + weight · Σ_blocks |p_block| (the Euclidean length of each irrep block)."""
    return ((pred - target) ** 2).mean() + weight * irrep_norms(p, irreps).sum()


def _loss_cases(g):
    def r(*shape):
        return torch.randn(*shape, generator=g, dtype=torch.float64)

    yield Case(r(4, 3), r(4, 3), r(32), ALL, 0.1)
    yield Case(r(7, 3), r(7, 3), r(8), "1o+2e", 2.0)
    yield Case(r(4, 3), r(4, 3), r(32), ALL, 0.0, note="weight 0: the plain mean squared error")
    yield Case(r(4, 3), r(4, 3), torch.zeros(32, dtype=torch.float64), ALL, 1.0, note="p = 0")


def _loss_compare(got, expected, case):
    if isinstance(got, torch.Tensor) and got.numel() == 1 and got.dim() > 0:
        return "return a single number (a 0-dimensional tensor): reduce with .mean() and .sum()"
    hint = close(got, expected)
    if hint is None:
        return None
    pred, target, p, irreps, weight = case.args
    mse = ((pred - target) ** 2).mean()
    slices = o3.Irreps(irreps).slices()
    variants = {
        "the penalty is an L1 norm of all components; use one Euclidean length per irrep block (an L1 norm depends on the basis)": mse + weight * p.abs().sum(),
        "the penalty uses squared lengths; use the lengths themselves, so that small blocks are pushed all the way to zero": mse + weight * sum(p[s].pow(2).sum() for s in slices),
        "the penalty is the length of the whole p; add up the lengths of the irrep blocks, one per irrep": mse + weight * p.norm(),
        "the error is summed, not averaged over the entries": ((pred - target) ** 2).sum() + weight * irrep_norms(p, irreps).sum(),
    }
    for message, value in variants.items():
        if isinstance(got, (torch.Tensor, float)) and close(got, value) is None:
            return message
    return hint


EXERCISES = [
    Exercise("11.1", irrep_norms, _norm_cases, _norm_compare, title="the length of each irrep", name="irrep_norms"),
    Exercise("11.2", stabilizer, _stabilizer_cases, _stabilizer_compare, title="the stabiliser of an order parameter", name="stabilizer"),
    Exercise("11.3", invariant_projector, _projector_cases, _projector_compare, title="the projector onto invariant vectors", name="invariant_projector"),
    Exercise("11.4", breaking_irreps, _breaking_cases, _breaking_compare, title="which irreps break the symmetry", name="breaking_irreps"),
    Exercise("11.5", penalized_loss, _loss_cases, _loss_compare, title="a loss for a simple order parameter", name="penalized_loss"),
]
