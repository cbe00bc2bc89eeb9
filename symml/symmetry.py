r"""The symmetry of a point cloud: which rotations and reflections map it onto itself (lesson 10).

A finite set of points (with types, e.g. chemical elements) centred at its centroid is mapped onto
itself by a finite group of orthogonal matrices, its *point group*. To find it:

1. Pick two points ``a`` and ``b`` (off the centre, not on one line through it).
2. An operation R must send them to two points ``a'``, ``b'`` of the same types with the same
   lengths and the same angle: ``|a'| = |a|``, ``|b'| = |b|``, ``a'·b' = a·b``.
3. Then R is fixed: it maps the frame ``(a, b, a×b)`` to ``(a', b', ±a'×b')`` — plus sign for a
   rotation, minus for a rotation combined with the inversion.
4. Keep the candidates that map the whole cloud onto itself.

Curie's principle (lesson 10): an equivariant function's output has at least the symmetry of its
input, ``f(R x) = D(R) f(x) = f(x)`` for every R of the input's group. For one vector per point
that reads ``f_{π(i)} = R f_i`` (``π`` the permutation R induces): each point's vector lies in the
vectors its site symmetry fixes, and the best such output for a target ``y`` is the group average
``ȳ`` (``symmetric_average``); no equivariant model gets below ``loss_floor = mean (y − ȳ)²``.

Crystals (lesson 11) are periodic, so their operations ``x → R x + t`` carry translations too:
``space_group`` names a crystal's space group, ``crystal_operations`` lists the operations with the
permutation of the atoms each one induces, ``crystal_act`` applies them to a field of irreps on the
atoms and ``space_group_of`` names the group a set of them forms. They call spglib (Togo, Shinohara &
Tanaka, Sci. Technol. Adv. Mater. Methods 2024).
"""

import math
from typing import NamedTuple

import torch

from symml.irreps import null_space

__all__ = ["Element", "act", "crystal_act", "crystal_operations", "describe_operation", "invariant_vectors", "loss_floor",
           "permutation", "site_symmetry", "space_group", "space_group_of", "symmetric_average", "symmetry_elements",
           "symmetry_operations"]


def _frame(a, b, sign=1.0):
    return torch.stack([a, b, sign * torch.linalg.cross(a, b)], dim=1)  # columns


def symmetry_operations(pos: torch.Tensor, types=None, tol: float = 1e-6) -> torch.Tensor:
    r"""All orthogonal ``R`` (shape ``(k, 3, 3)``) that map the centred point cloud onto itself.

    Args:
        pos: ``(N, 3)`` positions; the cloud is centred at its centroid first.
        types: optional ``(N,)`` labels (ints or strings); an operation may only swap equal types.
        tol: distance tolerance, relative to the cloud's size.

    Returns:
        float64 tensor ``(k, 3, 3)``, the identity first; ``det = −1`` entries are improper
        (mirrors, inversion, rotoreflections).

    Raises:
        ValueError: for a cloud on a line through its centre (infinitely many symmetries) or bad shapes.
    """
    if not isinstance(pos, torch.Tensor) or pos.dim() != 2 or pos.shape[1] != 3 or len(pos) == 0:
        raise ValueError(f"pos must be a tensor of shape (N, 3) with N >= 1, got {getattr(pos, 'shape', type(pos))}")
    x = pos.detach().to(torch.float64).cpu()
    x = x - x.mean(0)
    labels = list(range(len(x))) if types is None else [str(t) for t in (types.tolist() if torch.is_tensor(types) else types)]
    if len(labels) != len(x):
        raise ValueError(f"types must have one label per point: {len(labels)} labels for {len(x)} points")
    if types is None:
        labels = ["point"] * len(x)
    scale = max(float(x.norm(dim=1).max()), 1.0)
    eps = tol * scale

    # two reference points: far from the centre, and spanning a plane with it
    order = torch.argsort(-x.norm(dim=1))
    a = next((i for i in order.tolist() if x[i].norm() > eps), None)
    if a is None:
        return torch.eye(3, dtype=torch.float64)[None]  # a single point: every operation
    b = next((i for i in order.tolist() if torch.linalg.cross(x[a], x[i]).norm() > eps * scale), None)
    if b is None:
        raise ValueError("the points lie on one line through their centre: the symmetry group is infinite")

    F_inv = torch.linalg.inv(_frame(x[a], x[b]))
    found = []
    for i in range(len(x)):
        if labels[i] != labels[a] or abs(x[i].norm() - x[a].norm()) > eps:
            continue
        for j in range(len(x)):
            if labels[j] != labels[b] or abs(x[j].norm() - x[b].norm()) > eps or abs(x[i] @ x[j] - x[a] @ x[b]) > eps * scale:
                continue
            for sign in (1.0, -1.0):
                R = _frame(x[i], x[j], sign) @ F_inv
                if (R @ R.T - torch.eye(3, dtype=torch.float64)).abs().max() > 1e-6:
                    continue
                if _maps_onto_itself(R, x, labels, eps) and not any((R - S).abs().max() < 1e-6 for S in found):
                    found.append(R)
    found.sort(key=lambda R: (-(torch.det(R) > 0).item(), -torch.trace(R).item()))  # identity first
    return torch.stack(found)


def _maps_onto_itself(R, x, labels, eps) -> bool:
    moved = x @ R.T
    distance = torch.cdist(moved, x)
    for i in range(len(x)):
        close = (distance[i] < eps).nonzero().flatten().tolist()
        if not any(labels[j] == labels[i] for j in close):
            return False
    return True


def _axis_angle(R: torch.Tensor, tol: float = 1e-6):
    """``(proper, angle, axis)`` of an orthogonal 3×3 ``R``: ``R = P`` or ``R = −P`` with ``P`` the rotation
    by ``angle ∈ [0, π]`` about the unit ``axis`` (sign fixed: its first non-zero entry is positive)."""
    R = R.to(torch.float64)
    proper = bool(torch.det(R) > 0)
    P = R if proper else -R  # R = -P for improper R, with P a rotation
    angle = torch.arccos(((torch.trace(P) - 1) / 2).clamp(-1, 1))
    values, vectors = torch.linalg.eig(P)
    axis = vectors[:, (values - 1).abs().argmin()].real
    axis = axis / axis.norm()
    axis = axis * torch.sign(axis[(axis.abs() > tol).nonzero()[0, 0]])
    return proper, angle, axis


def describe_operation(R: torch.Tensor, tol: float = 1e-6) -> str:
    """A name for an orthogonal 3×3 matrix: identity, inversion, mirror, n-fold rotation (about an axis) or rotoreflection."""
    proper, angle, axis = _axis_angle(R, tol)
    if angle < tol:
        return "identity" if proper else "inversion"
    n = round(2 * math.pi / angle.item())
    where = "(" + ", ".join(f"{round(v, 2) + 0.0:+.2f}" for v in axis.tolist()) + ")"
    if proper:
        return f"{n}-fold rotation about {where}"
    if abs(angle.item() - math.pi) < tol:
        return f"mirror plane ⟂ {where}"
    return f"rotoreflection (−1 × {n}-fold rotation) about {where}"


# ---- what an operation does to per-point outputs, and what survives it (lessons 10 and 12)


def permutation(pos: torch.Tensor, R: torch.Tensor, tol: float = 1e-6) -> torch.Tensor:
    r"""``perm`` (shape ``(N,)``, int64) with ``perm[i] = j`` when ``R``, applied about the centroid, moves point i onto point j.

    Raises ``ValueError`` if some point lands on no point (within ``tol`` times the cloud's size)
    or two land on the same one: then ``R`` is not a symmetry operation of ``pos``.
    """
    x = pos.detach().to(torch.float64)
    x = x - x.mean(0)
    distance = torch.cdist(x @ R.to(torch.float64).T, x)
    nearest, perm = distance.min(dim=1)
    scale = max(float(x.norm(dim=1).max()), 1.0)
    if nearest.max() > tol * scale or len(set(perm.tolist())) < len(x):
        raise ValueError("R does not map the points onto themselves: it is not one of their symmetry operations")
    return perm


def act(R: torch.Tensor, pos: torch.Tensor, u: torch.Tensor) -> torch.Tensor:
    r"""The operation ``g`` (matrix ``R``) applied to a field of vectors on the points: ``(g·u)_{π(i)} = R u_i``.

    Each vector is turned by ``R`` and carried along to the point its point moves onto (``π`` from
    ``permutation``). ``pos (N, 3)``, ``u (N, 3)`` → ``(N, 3)``. An equivariant network's per-point
    vectors obey ``f(x) = g·f(x)`` for every symmetry ``g`` of its input ``x`` (lesson 10).
    """
    out = torch.empty_like(u)
    out[permutation(pos, R)] = u @ R.to(u.dtype).T
    return out


def symmetric_average(pos: torch.Tensor, u: torch.Tensor, ops: torch.Tensor) -> torch.Tensor:
    r"""The group average ``ū = (1/|G|) Σ_g g·u`` of a field of vectors ``u (N, 3)`` over ``ops (k, 3, 3)``.

    ``ops`` must be a group (e.g. ``symmetry_operations(pos)`` or one of its subgroups). Then ``ū``
    keeps every operation (``g·ū = ū``) and is the orthogonal projection of ``u`` onto the fields that
    do (each ``g·`` is orthogonal, so the average of a group of them is a symmetric idempotent): of all
    outputs an equivariant model can give on ``pos``, ``ū`` is the closest to ``u``.
    """
    return torch.stack([act(R, pos, u) for R in ops]).mean(0)


def loss_floor(pos: torch.Tensor, y: torch.Tensor, ops: torch.Tensor) -> float:
    r"""``mean((y − ȳ)²)`` over all ``N × 3`` entries, ``ȳ = symmetric_average(pos, y, ops)``.

    The lowest mean squared error of any model whose output keeps every operation in ``ops`` — every
    equivariant network fed the points ``pos`` (and inputs with at least these symmetries). Lesson 10
    derives it: for symmetric ``f``, Pythagoras gives ``|f − y|² = |f − ȳ|² + |ȳ − y|²``.
    """
    return ((y - symmetric_average(pos, y, ops)) ** 2).mean().item()


def invariant_vectors(ops: torch.Tensor, tol: float = 1e-9) -> torch.Tensor:
    r"""Orthonormal basis (rows, shape ``(k, 3)``, ``0 ≤ k ≤ 3``) of the vectors ``v`` with ``R v = v`` for every R in ``ops``.

    The null space of the stacked ``R − I``. For a shape's whole group: the directions its one total
    vector output may take; for a point's site symmetry: the directions that point's vector may take.
    """
    ops = ops.to(torch.float64)
    return null_space((ops - torch.eye(3, dtype=torch.float64)).reshape(-1, 3), tol)


def site_symmetry(pos: torch.Tensor, ops: torch.Tensor, i: int) -> torch.Tensor:
    """The operations of ``ops (k, 3, 3)`` that leave point ``i`` of ``pos`` in place (about the centroid), shape ``(k', 3, 3)``."""
    return ops[torch.tensor([int(permutation(pos, R)[i]) == i for R in ops])]


class Element(NamedTuple):
    """A symmetry element: ``kind`` is "rotation" (``order``-fold axis ``axis``), "mirror" (plane with normal
    ``axis``, order 1), "rotoreflection" (``order``-fold rotoreflection axis ``axis``) or "inversion" (a
    centre, ``axis`` zero, order 2)."""

    kind: str
    order: int
    axis: torch.Tensor


def symmetry_elements(ops: torch.Tensor, tol: float = 1e-6) -> list[Element]:
    r"""The geometric elements behind a point group's operations ``ops (k, 3, 3)``: axes, mirror planes, a centre.

    Operations about one axis are grouped: an axis's order ``n`` comes from the smallest turn about it,
    ``2π/n``. An improper ``R = −P`` (``P`` a turn by ``θ`` about ``a``) is a rotoreflection ``S_n`` about
    ``a`` with ``2π/n = π − θ``: a mirror ⟂ ``a`` when ``θ = π``, the inversion when ``θ = 0``.
    Returns rotations (highest order first), then rotoreflections, mirrors and the inversion.
    """
    smallest = {"rotation": [], "rotoreflection": []}  # [axis, smallest angle]
    mirrors, inversion = [], False
    for R in ops:
        proper, theta, axis = _axis_angle(R, tol)
        turn = float(theta) if proper else math.pi - float(theta)
        if proper and turn < tol:
            continue  # the identity
        if not proper and turn < tol:
            mirrors.append(axis)
            continue
        if not proper and abs(turn - math.pi) < tol:
            inversion = True
            continue
        found = smallest["rotation" if proper else "rotoreflection"]
        for entry in found:
            if abs(abs(float(entry[0] @ axis)) - 1) < tol:
                entry[1] = min(entry[1], turn)
                break
        else:
            found.append([axis, turn])
    elements = []
    for kind in ("rotation", "rotoreflection"):
        axes = [Element(kind, round(2 * math.pi / turn), axis) for axis, turn in smallest[kind]]
        elements += sorted(axes, key=lambda e: -e.order)
    elements += [Element("mirror", 1, normal) for normal in mirrors]
    if inversion:
        elements.append(Element("inversion", 2, torch.zeros(3, dtype=torch.float64)))
    return elements


# ---- crystals: space groups with spglib (lesson 11)


def _spglib():
    try:
        import spglib
    except ImportError:  # pragma: no cover - spglib is a dependency of symml
        raise ImportError("crystal symmetry needs spglib: pip install spglib") from None
    return spglib


def _call_spglib(function, *args, **kwargs):
    """Call a spglib function with its errors raised as exceptions (spglib ≥ 2.7 warns about the older, silent way)."""
    spglib = _spglib()
    old = getattr(spglib.error, "OLD_ERROR_HANDLING", None)
    if old is not None:
        spglib.error.OLD_ERROR_HANDLING = False
    try:
        return function(*args, **kwargs)
    finally:
        if old is not None:
            spglib.error.OLD_ERROR_HANDLING = old


def _spglib_cell(pos: torch.Tensor, cell: torch.Tensor, types=None):
    """``(lattice, fractional positions, type numbers)`` as spglib takes them; lattice vectors are the rows of ``cell``."""
    if not isinstance(pos, torch.Tensor) or pos.dim() != 2 or pos.shape[1] != 3:
        raise ValueError(f"pos must be a tensor of shape (N, 3), got {getattr(pos, 'shape', type(pos))}")
    if not isinstance(cell, torch.Tensor) or cell.shape != (3, 3) or abs(float(torch.det(cell.double()))) < 1e-12:
        raise ValueError("cell must be a (3, 3) tensor with three linearly independent lattice vectors as rows")
    labels = ["atom"] * len(pos) if types is None else [str(t) for t in (types.tolist() if torch.is_tensor(types) else types)]
    if len(labels) != len(pos):
        raise ValueError(f"types must have one label per atom: {len(labels)} labels for {len(pos)} atoms")
    numbers = [sorted(set(labels)).index(t) for t in labels]
    lattice = cell.detach().double().cpu()
    frac = pos.detach().double().cpu() @ torch.linalg.inv(lattice)
    return lattice.numpy(), (frac % 1.0).numpy(), numbers


def space_group(pos: torch.Tensor, cell: torch.Tensor, types=None, symprec: float = 1e-5) -> tuple[str, int]:
    """The space group of a crystal, ``(Hermann–Mauguin symbol, number)``, e.g. ``("Pnma", 62)``, from spglib.

    ``pos (N, 3)`` Cartesian positions, ``cell (3, 3)`` lattice vectors as rows, ``types`` one label per
    atom; ``symprec``: how far (Å) an atom may be from where an operation puts it.
    """
    dataset = _call_spglib(_spglib().get_symmetry_dataset, _spglib_cell(pos, cell, types), symprec=symprec)
    return dataset.international, int(dataset.number)


def crystal_operations(pos: torch.Tensor, cell: torch.Tensor, types=None, symprec: float = 1e-5):
    r"""The operations ``x → R x + t`` that map a crystal onto itself *and* its cell's lattice onto itself.

    Returns ``rotations (k, 3, 3)`` and ``translations (k, 3)`` (Cartesian, float64) and
    ``permutation (k, N)``: operation g moves atom i onto atom ``permutation[g, i]`` (up to a lattice
    vector). In a supercell, the translations by the smaller lattice count as operations of their own;
    operations that would turn the supercell into a differently shaped one (the cube's 3-fold axes for a
    tetragonal supercell of a cubic crystal) are not among them. ``symprec`` as in ``space_group``.
    """
    lattice, frac, numbers = _spglib_cell(pos, cell, types)
    found = _call_spglib(_spglib().get_symmetry, (lattice, frac, numbers), symprec=symprec)
    W = torch.from_numpy(found["rotations"]).double()  # fractional: f → W f + w
    w = torch.from_numpy(found["translations"]).double()
    L, f = torch.from_numpy(lattice), torch.from_numpy(frac)
    rotations = L.T @ W @ torch.linalg.inv(L.T)  # x = Lᵀ f
    translations = w @ L
    moved = torch.einsum("gab,nb->gna", W, f) + w[:, None, :]
    gap = moved[:, :, None, :] - f[None, None, :, :]
    distance = ((gap - gap.round()) @ L).norm(dim=-1)  # (k, i, j), the shortest way round the cell
    distance = distance + 1e9 * (torch.tensor(numbers)[None, :] != torch.tensor(numbers)[:, None])[None]
    nearest, permutation = distance.min(dim=-1)
    if nearest.max() > 10 * symprec:  # pragma: no cover - spglib's operations always map the crystal
        raise ValueError("an operation from spglib does not map the atoms onto each other")
    return rotations, translations, permutation


def crystal_act(field: torch.Tensor, irreps, rotations: torch.Tensor, permutation: torch.Tensor) -> torch.Tensor:
    r"""Every operation applied to a field of irreps on the atoms: ``field (N, dim)`` → ``(k, N, dim)``.

    Operation g turns atom i's features by ``D(R_g)`` (``irreps``, e.g. ``"1o"`` for displacements) and
    carries them to the atom it moves i onto: ``(g·f)_{π_g(i)} = D(R_g) f_i``, with ``rotations`` and
    ``permutation`` from ``crystal_operations``. The field keeps operation g when ``g·f = f``.
    """
    from symml.irreps import D_from_matrix

    D = D_from_matrix(irreps, rotations.to(field.dtype))
    moved = torch.einsum("gab,nb->gna", D, field)
    out = torch.empty_like(moved)
    return out.scatter_(1, permutation[:, :, None].expand_as(moved).to(field.device), moved)


def space_group_of(rotations: torch.Tensor, translations: torch.Tensor, cell: torch.Tensor, symprec: float = 1e-5) -> tuple[str, int]:
    r"""Name the space group formed by some operations ``x → R x + t`` (Cartesian, e.g. a subset of ``crystal_operations``).

    ``cell`` is the lattice they are given in (rows). Raises ``ValueError`` when the operations are not
    a group (not closed under composition), e.g. a stabiliser computed with too loose a tolerance.
    """
    L = cell.detach().double().cpu()
    W = torch.linalg.inv(L.T) @ rotations.double().cpu() @ L.T
    if (W - W.round()).abs().max() > 1e-6:
        raise ValueError("the rotations do not map the cell's lattice onto itself")
    W = W.round()
    w = (translations.double().cpu() @ torch.linalg.inv(L)) % 1.0
    # closed under composition: (W1, w1)(W2, w2) = (W1 W2, W1 w2 + w1) must be one of them, modulo the lattice
    W12 = torch.einsum("gab,hbc->ghac", W, W).reshape(-1, 9)
    w12 = (torch.einsum("gab,hb->gha", W, w) + w[:, None, :]).reshape(-1, 3)
    same_W = (W12[:, None, :] == W.reshape(1, -1, 9)).all(-1)
    gap = w12[:, None, :] - w[None, :, :]
    same_w = ((gap - gap.round()).abs() < 1e-6).all(-1)
    if not (same_W & same_w).any(dim=1).all():
        raise ValueError("these operations are not a group: some product of two of them is not among them")
    found = _call_spglib(_spglib().get_spacegroup_type_from_symmetry, W.int().numpy(), w.numpy(), L.numpy(), symprec=symprec)
    return found.international_short, int(found.number)
