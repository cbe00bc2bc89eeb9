"""Exercises of lesson 08, an equivariant network."""

import torch
from e3nn import o3

from symml.checks import Case, Exercise, close, error_size
from symml.datasets import tetris, tetris_targets, water, water_energy
from symml.so3 import rand_matrix

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
        return "there are 8 pieces but 7 outputs: output 0 is a pseudoscalar, positive for chiral_left (label 0), negative for chiral_right (label 1); outputs 1..6 score labels 2..7"
    return "wrong accuracy: the score of chiral_left is +output 0, of chiral_right −output 0, of label k ≥ 2 output k − 1; the prediction is the highest score"


# ---- 08.2: data augmentation


def augment(pos, copies, generator):
    """``copies`` randomly rotated copies of each piece: (copies·G, n, 3), copy k of piece i at index k·G + i."""
    G = len(pos)
    R = rand_matrix(copies * G, dtype=pos.dtype, generator=generator)
    return pos.repeat(copies, 1, 1) @ R.transpose(1, 2)


def _augment_call(answer, pos, copies, seed):
    first = answer(pos, copies, torch.Generator().manual_seed(seed))
    again = answer(pos, copies, torch.Generator().manual_seed(seed))
    return first, again


def _augment_cases(g):
    yield Case(torch.randn(3, 5, 3, generator=g, dtype=torch.float64), 4, int(torch.randint(0, 1000, (1,), generator=g)))
    yield Case(torch.randn(2, 4, 3, generator=g, dtype=torch.float64), 1, 7, note="one copy")
    yield Case(tetris(dtype=torch.float64)[0], 3, 11, note="the eight tetris pieces")


def _augment_compare(got, expected, case):
    pos, copies, seed = case.args
    G, n, _ = pos.shape
    if not isinstance(got, tuple) or not isinstance(got[0], torch.Tensor):
        return f"return a tensor of shape ({copies * G}, {n}, 3)"
    out, again = got[0].to(torch.float64), got[1].to(torch.float64)
    if out.shape != (copies * G, n, 3):
        return f"the output has shape {tuple(out.shape)} but should have shape ({copies * G}, {n}, 3)"
    if not torch.allclose(out, again, atol=1e-12):
        return "two calls with generators of the same seed give different outputs: draw all random numbers from `generator`"
    original = pos.repeat(copies, 1, 1)
    # a rotation about the origin keeps every dot product between points
    if not torch.allclose(out @ out.transpose(1, 2), original @ original.transpose(1, 2), atol=1e-8):
        if torch.allclose(torch.cdist(out, out), torch.cdist(original, original), atol=1e-8):
            return "the shapes are right but the pieces moved: rotate about the origin (pos @ R.T), no translation"
        if torch.allclose(torch.cdist(out, out), torch.cdist(pos.repeat_interleave(copies, 0), pos.repeat_interleave(copies, 0)), atol=1e-8):
            return "wrong order: copy k of piece i goes to index k·G + i (as pos.repeat(copies, 1, 1)), not i·copies + k"
        return "the pieces changed shape: apply a rotation (an orthogonal matrix) to each piece"
    # recover each rotation where the points span 3D: Q = lstsq(original, out)
    full = [k for k in range(len(out)) if torch.linalg.matrix_rank(original[k] - original[k].mean(0), atol=1e-6) == 3 and torch.linalg.matrix_rank(original[k], atol=1e-6) == 3]
    Qs = [torch.linalg.lstsq(original[k], out[k]).solution.T for k in full]
    if any(torch.det(Q) < 0 for Q in Qs):
        return "some copies are mirrored (det R = −1): a reflection turns a chiral piece into its mirror image; use proper rotations only"
    if copies * G > 1 and len(Qs) > 1 and all(torch.allclose(Q, Qs[0], atol=1e-8) for Q in Qs):
        return "every piece got the same rotation: draw a new random rotation for each piece"
    if copies > 1 and torch.allclose(out[:G], out[G:2 * G], atol=1e-8):
        return "the copies are identical: each copy needs its own random rotations"
    return None


# ---- 08.3: forces from an energy


def forces(energy, pos):
    """F = −∂E/∂pos, by autograd; ``energy(pos)`` may return one energy or one per molecule."""
    pos = pos.detach().clone().requires_grad_(True)
    (grad,) = torch.autograd.grad(energy(pos).sum(), pos)
    return -grad


def _pair_energy(pos):
    """A Morse pair energy of one cloud (N, 3), invariant."""
    d = torch.pdist(pos)
    return ((1 - torch.exp(1 - d)) ** 2).sum()


def _tilted_energy(pos):
    """An energy that prefers the molecule lying along x: not invariant under rotations."""
    centred = pos - pos.mean(dim=-2, keepdim=True)
    return water_energy(pos) + 0.5 * (centred[..., 1:] ** 2).sum((-1, -2))


ENERGIES = {"water": water_energy, "pairs": _pair_energy, "tilted": _tilted_energy}


def _forces_call(answer, name, pos):
    return answer(ENERGIES[name], pos)


def _forces_cases(g):
    yield Case("water", water(4, seed=int(torch.randint(0, 1000, (1,), generator=g)), dtype=torch.float64)[0], note="four water molecules")
    yield Case("pairs", 1.2 * torch.randn(5, 3, generator=g, dtype=torch.float64) + torch.arange(5, dtype=torch.float64)[:, None], note="a cloud with a pair energy")
    yield Case("tilted", water(2, seed=3, dtype=torch.float64)[0], note="two water molecules in a field")


def _forces_compare(got, expected, case):
    hint = close(got, expected, what="the forces")
    if hint and "sign" in hint:
        return "the forces are off by a sign: a force points downhill, F = −∂E/∂pos"
    return hint


# ---- 08.4: do the forces rotate?


def force_rotation_error(energy, pos, Q):
    """max |F(pos Qᵀ) − F(pos) Qᵀ|: zero when the forces rotate with the molecule."""
    return float((forces(energy, pos @ Q.T) - forces(energy, pos) @ Q.T).abs().max())


def _rotation_call(answer, name, pos, Q):
    return answer(ENERGIES[name], pos, Q)


def _rotation_cases(g):
    pos = water(3, seed=int(torch.randint(0, 1000, (1,), generator=g)), dtype=torch.float64)[0]
    R = rand_matrix(dtype=torch.float64, generator=g)
    yield Case("water", pos, R, note="water and a rotation")
    yield Case("water", pos, -R, note="water and a rotation with inversion")
    yield Case("pairs", torch.randn(5, 3, generator=g, dtype=torch.float64) + torch.arange(5, dtype=torch.float64)[:, None], R, note="a pair energy")
    yield Case("tilted", pos, R, note="an energy that prefers one axis")


def _rotation_compare(got, expected, case):
    return error_size(
        got, expected,
        should_vanish="the error should be ~0 for this invariant energy: compare F(pos @ Q.T) with F(pos) @ Q.T",
        missed="you found no error, but this energy prefers an axis, so its forces do not rotate with the molecule",
        wrong_size="the error has the wrong size: the largest entry of |F(pos @ Q.T) − F(pos) @ Q.T|",
    )


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


EXERCISES = [
    Exercise("08.1", tetris_accuracy, _accuracy_cases, _accuracy_compare, title="tetris accuracy", name="tetris_accuracy"),
    Exercise("08.2", augment, _augment_cases, _augment_compare, call=_augment_call, title="data augmentation by rotations", name="augment"),
    Exercise("08.3", forces, _forces_cases, _forces_compare, call=_forces_call, title="forces from an energy", name="forces"),
    Exercise("08.4", force_rotation_error, _rotation_cases, _rotation_compare, call=_rotation_call, title="do the forces rotate?", name="force_rotation_error"),
    Exercise("08.5", irreps_out, None, _irreps_compare, kind="value", title="output irreps for a task", name="irreps_out"),
]
