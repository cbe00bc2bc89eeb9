"""Exercises of lesson 08, an equivariant network."""

import math
import warnings

import e3nn.nn
import torch
from e3nn import o3

from symml.checks import Case, Exercise, close
from symml.checks.hints import as_student, shortcuts
from symml.datasets import tetris_predict, tetris_targets, water, water_energy
from symml.nn import EquivariantNet, Gate

# ---- 08.1: tetris accuracy


def tetris_accuracy(outputs, labels):
    """The fraction of pieces classified right, from outputs (n, 7) laid out as 0o + 6x0e."""
    scores = torch.cat([outputs[:, :1], -outputs[:, :1], outputs[:, 1:]], dim=1)
    return float((scores.argmax(dim=1) == labels).to(torch.float64).mean())


def _accuracy_cases(g):
    labels = torch.randint(0, 8, (40,), generator=g)
    targets = tetris_targets(labels, dtype=torch.float64)
    yield Case(targets + 0.6 * torch.randn(40, 7, generator=g, dtype=torch.float64), labels)
    yield Case(targets, labels, note="perfect outputs")
    chiral = torch.tensor([0, 1, 0, 1, 1, 1])
    yield Case(tetris_targets(1 - chiral, dtype=torch.float64), chiral, note="left and right swapped")


def _accuracy_hidden(g):
    labels = torch.randint(0, 8, (1,), generator=g)
    yield Case(tetris_targets(labels, dtype=torch.float64) - 0.3, labels, note="a single piece")
    labels = torch.tensor([0, 1, 2, 5])
    yield Case(torch.zeros(4, 7, dtype=torch.float64), labels, note="all outputs zero (ties go to the lowest label)")
    labels = torch.randint(0, 2, (30,), generator=g)
    yield Case(0.2 * torch.randn(30, 7, generator=g, dtype=torch.float64), labels, note="only chiral pieces, noisy outputs")


def _accuracy_compare(got, expected, case):
    if isinstance(got, torch.Tensor) and got.numel() == 1:
        got = float(got)
    if not isinstance(got, (int, float)) or isinstance(got, bool):
        return f"return the accuracy as a number between 0 and 1, not {type(got).__name__}"
    if abs(got - expected) < 1e-9:
        return None
    if abs(got - 100 * expected) < 1e-6 and expected > 0:
        return "return a fraction between 0 and 1, not a percentage"
    outputs, labels = case.args
    if abs(got - float((outputs.argmax(dim=1) == labels).double().mean())) < 1e-9:
        return "there are 8 pieces but 7 outputs: one output has to score two pieces"
    return "wrong accuracy: how does a pseudoscalar output tell chiral_left (label 0) from chiral_right (label 1)?"


# ---- 08.2: the smallest hidden irreps that reach a pseudoscalar

MAX_HIDDEN_DIM = 8


def irreps_hidden_for_0o():
    """The smallest irreps_hidden without a 1e with which EquivariantNet("0e", "0o", num_layers=2) outputs a non-zero 0o."""
    return "1o+2o"  # 0e → 1o (Y¹) → 2o (1o ⊗ Y², odd × even) → 0o (2o ⊗ Y²); every other way needs a 1e or more dimensions


def _pseudoscalar_output(answer, pos):
    """|0o output| of an untrained two-layer net with irreps_hidden = answer, and the hidden dimension."""
    try:
        hidden = o3.Irreps(answer)
    except Exception:
        return f"not irreps: {answer!r}"
    if any(ir == o3.Irrep("1e") for _, ir in hidden):
        return "no 1e"
    try:
        with warnings.catch_warnings(), torch.random.fork_rng(devices=[]):
            warnings.simplefilter("ignore")  # an empty layer warns about zero-element weights
            torch.manual_seed(0)
            net = EquivariantNet("0e", "0o", irreps_hidden=hidden, max_radius=2.5, num_layers=2, num_neighbors=3.0).to(pos.dtype)
            with torch.no_grad():
                out = net(pos)
    except Exception:
        return 0.0, hidden.dim  # no path survives at all: the net has nothing to output
    return float(out.abs().max()), hidden.dim


def _clouds(g):
    yield Case(0.6 * torch.randn(6, 3, generator=g, dtype=torch.float64), note="a random cloud of six points, all within max_radius of each other")


def _hidden_compare(got, expected, case):
    if got == "no 1e":
        return "this time the hidden irreps may not hold a 1e: find another path to the pseudoscalar"
    if isinstance(got, str):
        return f"irreps_hidden should be an irreps string such as '2x0e+1o', not {got.removeprefix('not irreps: ')}"
    size, dim = got
    if size < 1e-9:
        return "the 0o output is exactly zero: follow a path 0e → hidden → hidden → 0o, each step a product with Y^0, Y^1 or Y^2; an irrep no path reaches is dropped"
    if dim > MAX_HIDDEN_DIM:
        return f"that reaches 0o, but with {dim} hidden dimensions: which irreps does the path really need? (at most {MAX_HIDDEN_DIM})"
    return None


# ---- 08.3: the Hessian of an energy


def hessian(energy, pos):
    """∂²E/∂pos², shape (3N, 3N), for ``energy(pos)`` a scalar of positions ``pos`` (N, 3)."""
    pos = pos.detach().clone().requires_grad_(True)
    (grad,) = torch.autograd.grad(energy(pos), pos, create_graph=True)
    grad = grad.reshape(-1)
    rows = [torch.autograd.grad(grad[k], pos, retain_graph=True, allow_unused=True)[0] for k in range(len(grad))]
    return torch.stack([torch.zeros_like(pos) if r is None else r for r in rows]).reshape(len(grad), -1).detach()


def _pair_energy(pos):
    """A Morse pair energy of one cloud (N, 3), invariant."""
    i, j = torch.triu_indices(len(pos), len(pos), offset=1)
    d = (pos[i] - pos[j]).norm(dim=-1)  # not torch.pdist: it has no second derivative
    return ((1 - torch.exp(1 - d)) ** 2).sum()


def _field_energy(pos):
    """A cloud in a harmonic trap plus a linear field: not invariant, and linear in part."""
    return 0.5 * (pos ** 2).sum() + (pos[:, 0] * pos[:, 1]).sum() + 0.3 * pos[:, 2].sum()


ENERGIES = {"water": water_energy, "pairs": _pair_energy, "field": _field_energy}


def _hessian_call(answer, name, pos):
    return answer(ENERGIES[name], pos)


def _hessian_cases(g):
    yield Case("water", water(1, seed=int(torch.randint(0, 1000, (1,), generator=g)), dtype=torch.float64)[0][0], note="a water molecule")
    yield Case("pairs", 1.2 * torch.randn(4, 3, generator=g, dtype=torch.float64) + torch.arange(4, dtype=torch.float64)[:, None], note="four atoms with a pair energy")


def _hessian_hidden(g):
    yield Case("field", torch.randn(1, 3, generator=g, dtype=torch.float64), note="a single atom in a trap")
    yield Case("field", torch.randn(5, 3, generator=g, dtype=torch.float64), note="five atoms in a trap and a field")


def _hessian_compare(got, expected, case):
    n = expected.shape[0]
    if isinstance(got, torch.Tensor) and got.numel() == n * n and got.shape != expected.shape:
        return f"the Hessian has shape {tuple(got.shape)}: return it as a ({n}, {n}) matrix, index 3·atom + coordinate"
    hint = close(got, expected, what="the Hessian")
    if hint and isinstance(got, torch.Tensor) and got.shape == expected.shape and close(got.diagonal(), expected.diagonal()) is None:
        return "the diagonal is right, the rest is not: a Hessian couples every coordinate with every other"
    return hint


# ---- 08.4: predict the zero modes of a distorted molecule


def zero_modes():
    """How many Hessian eigenvalues of water_energy vanish at a distorted (not equilibrium) water geometry."""
    return 3  # translations only: a rotation is a zero mode only where the forces vanish


def _zero_modes_compare(got, expected, case):
    if isinstance(got, bool) or not isinstance(got, int):
        return f"answer with a whole number of eigenvalues, not {type(got).__name__}"
    if got == expected:
        return None
    if got >= 6:
        return "differentiate E(R(θ) x) = E(x) once in θ and once in x: what does the Hessian do to a small rotation of the molecule when the forces are not zero?"
    if got < 3:
        return "moving the whole molecule does not change its energy, however distorted it is: how many independent ways are there?"
    return "that is not what happens: count the motions that leave the energy unchanged to second order"


# ---- 08.5: output irreps for a task

QUANTITIES = ["energy", "forces on each atom", "dipole moment", "polarizability", "magnetic moment", "handedness of a molecule"]


def irreps_out():
    return {
        "energy": "0e",
        "forces on each atom": "1o",
        "dipole moment": "1o",
        "polarizability": "0e+2e",
        "magnetic moment": "1e",
        "handedness of a molecule": "0o",
    }


def _irreps_compare(got, expected, case):
    if not isinstance(got, dict):
        return f"irreps_out should be a dict from quantity to irreps string, not {type(got).__name__}"
    missing = [k for k in expected if k not in got]
    if missing:
        return f"irreps_out has no entry for {missing[0]!r}"
    for name in QUANTITIES:
        try:
            mine = o3.Irreps(got[name]).simplify()
        except Exception:
            return f"the entry for {name!r} should be irreps such as '0e+1o', not {got[name]!r}"
        right = o3.Irreps(expected[name]).simplify()
        if mine == right:
            continue
        if mine.dim != right.dim:
            return f"{name}: the number of components is wrong ({mine.dim} instead of {right.dim})"
        if sorted(ir.l for mul, ir in mine for _ in range(mul)) == sorted(ir.l for mul, ir in right for _ in range(mul)):
            return f"{name}: the l's are right, a parity is wrong (what happens to it under inversion?)"
        return f"{name}: wrong irreps"
    return None


def _with(**changes):
    out = irreps_out()
    out.update(changes)
    return out


# ---- 08.6: a gate, by hand


def gate(x, irreps_scalars, irreps_gated):
    """[s, g, v] → [act(s), sigmoid(g) · v]: silu on 0e scalars, tanh on 0o, one 0e gate per gated irrep copy.

    ``x (..., dim)`` with irreps ``irreps_scalars + k x 0e + irreps_gated`` (k = the number of irrep copies in
    ``irreps_gated``) → ``(..., dim of irreps_scalars + irreps_gated)``.
    """
    scalars, gated = o3.Irreps(irreps_scalars), o3.Irreps(irreps_gated)
    s, g, v = x.split([scalars.dim, gated.num_irreps, gated.dim], dim=-1)
    s = torch.cat([s[..., sl].tanh() if ir.p == -1 else torch.nn.functional.silu(s[..., sl]) for (_, ir), sl in zip(scalars, scalars.slices())] or [s], dim=-1)
    sizes = torch.tensor([ir.dim for mul, ir in gated for _ in range(mul)], dtype=torch.long)
    return torch.cat([s, v * torch.sigmoid(g).repeat_interleave(sizes, dim=-1)], dim=-1)


def _gate_input(g, scalars, gated, *batch):
    dim = o3.Irreps(scalars).dim + o3.Irreps(gated).num_irreps + o3.Irreps(gated).dim
    return Case(2 * torch.randn(*batch, dim, generator=g, dtype=torch.float64), scalars, gated)


def _gate_cases(g):
    yield _gate_input(g, "4x0e+2x0o", "2x1o+1x2e", 5)
    yield _gate_input(g, "", "1o+1e", 3)
    c = _gate_input(g, "3x0e", "", 4)
    yield Case(*c.args, note="scalars only, nothing to gate")


def _gate_hidden(g):
    c = _gate_input(g, "2x0o", "3x1o", 1)
    yield Case(*c.args, note="odd scalars only, and a single row")
    c = _gate_input(g, "0e", "2x2e+1x1o", 2, 3)
    yield Case(*c.args, note="two batch dimensions (2, 3, dim)")


def _gate_compare(got, expected, case):
    x, scalars, gated = case.args
    scalars, gated = o3.Irreps(scalars), o3.Irreps(gated)
    if not isinstance(got, torch.Tensor):
        return f"return a tensor, not {type(got).__name__}"
    if got.shape != expected.shape:
        return (f"the output has shape {tuple(got.shape)} but should have {tuple(expected.shape)}: the gates are used up, "
                "only the scalars and the gated irreps come out")
    n = scalars.dim
    s_got, s_want = got[..., :n], expected[..., :n]
    if close(s_got, s_want) is not None:
        odd = [sl for (_, ir), sl in zip(scalars, scalars.slices()) if ir.p == -1]
        if odd and any(close(got[..., sl], torch.nn.functional.silu(x[..., sl])) is None for sl in odd):
            return "a 0o scalar changes sign under inversion, so its activation must too: σ(−s) = −σ(s) (tanh, not silu)"
        return "the scalars are wrong: an activation on each scalar (silu for 0e, tanh for 0o)"
    v_got, v_want = got[..., n:], expected[..., n:]
    if close(v_got, v_want) is None:
        return None
    k = gated.num_irreps
    v = x[..., n + k:]
    if close(v_got, torch.nn.functional.silu(v)) is None or close(v_got, torch.sigmoid(v) * v) is None:
        return "an activation applied to each component of a vector is not equivariant: multiply each irrep copy by its own gate"
    return "the gated irreps are wrong: copy number c of irreps_gated (all its 2l+1 components) is multiplied by sigmoid of gate c"


def _gate_elementwise(x, scalars, gated):
    """A mistake for 08.6: the scalars right, silu on every component of the gated irreps, the gates thrown away."""
    scalars, gated = o3.Irreps(scalars), o3.Irreps(gated)
    v = x[..., scalars.dim + gated.num_irreps:]
    return torch.cat([gate(x, scalars, gated)[..., :scalars.dim], torch.nn.functional.silu(v)], dim=-1)


def _gate_even_only(x, scalars, gated):
    """A mistake for 08.6: silu on every scalar, odd ones too."""
    s_irreps = o3.Irreps(scalars)
    even = o3.Irreps([(mul, (0, 1)) for mul, _ in s_irreps])
    return gate(x, even, gated) if s_irreps.dim else gate(x, scalars, gated)


def _gate_per_component(x, scalars, gated):
    """A mistake for 08.6: gate c multiplies component c, not copy c."""
    scalars, gated = o3.Irreps(scalars), o3.Irreps(gated)
    s, g, v = x.split([scalars.dim, gated.num_irreps, gated.dim], dim=-1)
    out = gate(x, scalars, gated)
    if gated.dim == 0:
        return out
    per_component = torch.sigmoid(g).repeat_interleave(math.ceil(gated.dim / gated.num_irreps), dim=-1)[..., :gated.dim]
    return torch.cat([out[..., :scalars.dim], v * per_component], dim=-1)


# ---- 08.7: radial weights per edge, uvw and uvu


def radial_weights(irreps_in, lmax, irreps_out, mode):
    """How many weights per edge the radial MLP must output for a convolution's tensor product ``irreps_in ⊗ Y^0..lmax``.

    ``"uvw"`` (fully connected): ``mul_in · mul_out`` for every (input irrep, harmonic, output irrep) path allowed
    by the selection rule; ``"uvu"`` (NequIP, gate_points_2101): ``mul_in`` for every (input irrep, harmonic,
    distinct irrep of irreps_out) path. Irreps with their parities: a path needs ``p_out = p_in · (−1)^l``.
    """
    irreps_in, irreps_out = o3.Irreps(irreps_in), o3.Irreps(irreps_out)
    total = 0
    for mul_in, ir_in in irreps_in:
        for l in range(lmax + 1):
            products = set(ir_in * o3.Irrep(l, (-1) ** l))
            if mode == "uvw":
                total += sum(mul_in * mul_out for mul_out, ir_out in irreps_out if ir_out in products)
            else:
                total += mul_in * len(products & {ir for _, ir in irreps_out})
    return total


def _weights_cases(g):
    for mode in ("uvw", "uvu"):
        yield Case("4x0e + 4x1o + 4x2e", 2, "4x0e + 4x1o + 4x2e", mode)
    yield Case("8x0e + 4x1o + 2x1e", 1, "8x0e + 2x0o + 4x1o + 4x1e", "uvw", note="pseudovectors and pseudoscalars, filters up to l = 1")
    yield Case("8x0e + 4x1o + 2x1e", 1, "8x0e + 2x0o + 4x1o + 4x1e", "uvu", note="pseudovectors and pseudoscalars, filters up to l = 1, uvu")


def _weights_hidden(g):
    yield Case("32x0e + 32x1o + 32x2e", 2, "32x0e + 32x1o + 32x2e", "uvu", note="the lesson's 32 channels, uvu")
    yield Case("3x0o", 1, "5x0e + 2x1o", "uvw", note="pseudoscalar inputs and only 0e, 1o outputs (no path at all)")
    yield Case("2x1o + 3x3e", 3, "1x0e + 2x2o + 4x3o", "uvw", note="filters up to l = 3")
    yield Case("2x1o + 3x3e", 3, "1x0e + 2x2o + 4x3o", "uvu", note="filters up to l = 3, uvu")


def _weights_compare(got, expected, case):
    irreps_in, lmax, irreps_out, mode = case.args
    if isinstance(got, bool) or not isinstance(got, int):
        return f"answer with a whole number of weights, not {type(got).__name__}"
    if got == expected:
        return None
    other = radial_weights(irreps_in, lmax, irreps_out, "uvu" if mode == "uvw" else "uvw")
    if mode == "uvu" and got == other:
        return "that is the fully connected (uvw) count: in uvu, output channel u comes from input channel u alone, one radial weight per channel"
    if got == _weights_no_parity(irreps_in, lmax, irreps_out, mode):
        return "mind the parities: Y^l has parity (−1)^l, and a path needs p_out = p_in · (−1)^l, not only |l_in − l| ≤ l_out ≤ l_in + l"
    return "wrong count: list the paths (input irrep, harmonic Y^l, output irrep) that the selection rule allows, then count each path's weights"


def _weights_no_parity(irreps_in, lmax, irreps_out, mode):
    """A mistake for 08.7: the triangle rule on l alone, parities ignored."""
    irreps_in, irreps_out = o3.Irreps(irreps_in), o3.Irreps(irreps_out)
    total = 0
    for mul_in, ir_in in irreps_in:
        for l in range(lmax + 1):
            ls = set(range(abs(ir_in.l - l), ir_in.l + l + 1))
            if mode == "uvw":
                total += sum(mul_in * mul_out for mul_out, ir_out in irreps_out if ir_out.l in ls)
            else:
                total += mul_in * len({ir for _, ir in irreps_out if ir.l in ls})
    return total


# ---- 08.8: predict how deep a message-only network must be to hear a node's own features


def own_features_depth():
    """The fewest stacked convolutions without self-connection after which out_0 depends on x_0 (node 0 has neighbours)."""
    return 2  # a message goes 0 → j in one layer and comes back j → 0 in the next


def _depth_compare(got, expected, case):
    if isinstance(got, bool) or not isinstance(got, int):
        return f"answer with a whole number of convolutions, not {type(got).__name__}"
    if got == expected:
        return None
    if got <= 1:
        return "one convolution without self-connection sums messages from the neighbours only: follow node 0's features along the edges, layer by layer"
    if got >= 3:
        return "fewer are enough: where are node 0's features after one convolution, and where can they go from there?"
    return "that is not what happens: follow node 0's features along the edges"


EXERCISES = [
    Exercise("08.1", tetris_accuracy, _accuracy_cases, _accuracy_compare, title="tetris accuracy", name="tetris_accuracy",
             hidden=_accuracy_hidden, forbidden=[tetris_predict],
             mistakes=[
                 (lambda o, l: 100 * tetris_accuracy(o, l), "percentage"),
                 (lambda o, l: float((o.argmax(dim=1) == l).double().mean()), "8 pieces but 7 outputs"),
                 (lambda o, l: tetris_accuracy(-o[:, :1].expand(-1, 7) * torch.tensor([1.0] + [-1.0] * 6) + o * torch.tensor([0.0] + [1.0] * 6), l), "pseudoscalar"),
                 (lambda o, l: (o.sum() > 0).item(), "as a number"),
                 (as_student("lambda o, l: float((tetris_predict(o) == l).double().mean())", tetris_predict=tetris_predict), "calls symml.datasets.tetris_predict"),
             ]),
    Exercise("08.2", irreps_hidden_for_0o, _clouds, _hidden_compare, kind="value", name="irreps_hidden_for_0o", call=_pseudoscalar_output, points=2,
             title="a pseudoscalar without pseudovectors",
             mistakes=[("1o", "exactly zero"), ("1o+0o", "exactly zero"), ("1o+1e", "may not hold a 1e"), ("2e+2o", "which irreps does the path really need"),
                       ("vector", "irreps string")]),
    Exercise("08.3", hessian, _hessian_cases, _hessian_compare, call=_hessian_call, title="the Hessian of an energy", name="hessian", points=2,
             hidden=_hessian_hidden,
             forbidden={"torch.autograd.functional.hessian": torch.autograd.functional.hessian,
                        "torch.autograd.functional.jacobian": torch.autograd.functional.jacobian,
                        "torch.func.hessian": torch.func.hessian, "torch.func.jacrev": torch.func.jacrev, "torch.func.jacfwd": torch.func.jacfwd},
             mistakes=[
                 (lambda e, p: -hessian(e, p), "off by a sign"),
                 (lambda e, p: hessian(e, p).reshape(len(p), 3, len(p), 3), "as a ("),
                 (lambda e, p: torch.diag(hessian(e, p).diagonal()), "diagonal is right"),
                 (as_student("lambda e, p: torch.autograd.functional.hessian(e, p).reshape(p.numel(), -1)", torch=torch), "calls torch.autograd.functional.hessian"),
                 (as_student("lambda e, p: torch.func.hessian(e)(p).reshape(p.numel(), -1)", torch=torch), "calls torch.func.hessian"),
                 (as_student("lambda e, p: torch.autograd.functional.jacobian(lambda q: torch.autograd.grad(e(q), q, create_graph=True)[0], p).reshape(p.numel(), -1)", torch=torch), "calls torch.autograd.functional.jacobian"),
                 (as_student("lambda e, p: torch.func.jacrev(torch.func.grad(e))(p).reshape(p.numel(), -1)", torch=torch), "calls torch.func.jacrev"),
                 (as_student("lambda e, p: torch.func.jacfwd(torch.func.grad(e))(p).reshape(p.numel(), -1)", torch=torch), "calls torch.func.jacfwd"),
             ]),
    Exercise("08.4", zero_modes, None, _zero_modes_compare, kind="value", name="zero_modes", title="predict: the zero modes of a distorted molecule",
             mistakes=[(6, "differentiate"), (2, "moving the whole molecule"), (0, "moving the whole molecule"), (4, "count the motions"), ("3", "whole number")]),
    Exercise("08.5", irreps_out, None, _irreps_compare, kind="value", title="output irreps for a task", name="irreps_out",
             mistakes=[(_with(polarizability="0e+1e+2e"), "number of components"), (_with(**{"magnetic moment": "1o"}), "parity"),
                       (_with(**{"handedness of a molecule": "0e"}), "parity"), ({"energy": "0e"}, "no entry"), (_with(energy="scalar"), "irreps such as"),
                       ("0e", "dict"), (_with(polarizability="1o+1e"), "wrong irreps")]),
    Exercise("08.6", gate, _gate_cases, _gate_compare, title="a gate, by hand", name="gate", hidden=_gate_hidden, points=2,
             forbidden={"symml.nn.Gate": Gate.__init__, "e3nn.nn.Gate": e3nn.nn.Gate.__init__},
             mistakes=[
                 (_gate_elementwise, "not equivariant"),
                 (_gate_even_only, "tanh, not silu"),
                 (_gate_per_component, "copy number c"),
                 (lambda x, s, g: x, "shape"),
                 (lambda x, s, g: gate(x, s, g).tolist(), "a tensor"),
             ]),
    Exercise("08.7", radial_weights, _weights_cases, _weights_compare, title="radial weights per edge, uvw and uvu", name="radial_weights",
             hidden=_weights_hidden, points=2, forbidden=shortcuts("tensor products"),
             mistakes=[
                 (lambda i, l, o, m: radial_weights(i, l, o, "uvw"), "fully connected"),
                 (_weights_no_parity, "parities"),
                 (lambda i, l, o, m: radial_weights(i, l, o, m) + 1, "wrong count"),
                 (lambda i, l, o, m: float(radial_weights(i, l, o, m)), "whole number"),
             ]),
    Exercise("08.8", own_features_depth, None, _depth_compare, kind="value", name="own_features_depth",
             title="predict: when a node hears its own features without a self-connection",
             mistakes=[(1, "messages from the neighbours only"), (0, "messages from the neighbours only"), (3, "fewer are enough"), ("2", "whole number")]),
]
