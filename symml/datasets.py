r"""Small generated datasets for the lessons: seeded, nothing downloaded.

* ``tetris``: the eight 3D Tetris pieces (four unit cubes each), optionally randomly rotated and
  moved. Two of them, ``chiral_left`` and ``chiral_right``, are mirror images of each other: no
  rotation turns one into the other, but an inversion does.
* ``water``: water molecules near equilibrium with an analytic energy (harmonic bonds and angle),
  and the forces ``F = −∂E/∂pos`` from autograd.
* ``point_clouds``: random clouds of points with an invariant target (a smooth pair and angle
  energy), for learning curves.
* ``perovskite``: an ABX₃ perovskite in a 20-atom cell, its octahedra tilted in Glazer's notation
  (``glazer_rotations``), for structural phase transitions such as cubic Pm-3m → Pnma.
"""

import math

import torch

from symml.so3 import rand_matrix

__all__ = ["PEROVSKITE_B_SITES", "SI_LATTICE", "SW_SILICON", "TETRIS_NAMES", "cloud_energy", "diamond_silicon", "energy_and_forces", "flatten_graphs", "glazer_rotations", "perovskite", "point_clouds", "silicon", "silicon_learning_curve", "silicon_splits", "stillinger_weber", "tetris", "tetris_predict", "tetris_targets", "water", "water_energy"]

TETRIS_NAMES = ["chiral_left", "chiral_right", "square", "line", "corner", "L", "T", "zigzag"]
_TETRIS = [  # the cubes' centres, in units of the cube's edge
    [(0, 0, 0), (0, 0, 1), (1, 0, 0), (1, 1, 0)],
    [(0, 0, 0), (0, 0, 1), (1, 0, 0), (1, -1, 0)],
    [(0, 0, 0), (1, 0, 0), (0, 1, 0), (1, 1, 0)],
    [(0, 0, 0), (0, 0, 1), (0, 0, 2), (0, 0, 3)],
    [(0, 0, 0), (0, 0, 1), (0, 1, 0), (1, 0, 0)],
    [(0, 0, 0), (0, 0, 1), (0, 0, 2), (0, 1, 0)],
    [(0, 0, 0), (0, 0, 1), (0, 0, 2), (0, 1, 1)],
    [(0, 0, 0), (1, 0, 0), (1, 1, 0), (2, 1, 0)],
]


def _generator(seed):
    return torch.Generator().manual_seed(seed)


def tetris(copies: int = 1, rotate: bool = False, translate: bool = False, seed: int = 0, dtype=None):
    """The eight pieces, ``copies`` times each: ``pos (8·copies, 4, 3)`` and ``labels (8·copies,)`` (index into TETRIS_NAMES).

    ``rotate``: apply a uniformly random rotation to each copy (proper rotations only: a mirror
    image of a chiral piece is the other chiral piece). ``translate``: move each copy by a random
    vector of length up to ~3.
    """
    if not isinstance(copies, int) or copies < 1:
        raise ValueError(f"copies must be a positive integer, got {copies!r}")
    g = _generator(seed)
    pos = torch.tensor(_TETRIS, dtype=dtype or torch.get_default_dtype()).repeat(copies, 1, 1)
    labels = torch.arange(8).repeat(copies)
    if rotate:
        pos = pos @ rand_matrix(len(pos), dtype=pos.dtype, generator=g).transpose(1, 2)
    if translate:
        pos = pos + 3 * torch.rand(len(pos), 1, 3, generator=g, dtype=pos.dtype) - 1.5
    return pos, labels


def tetris_targets(labels: torch.Tensor, dtype=None) -> torch.Tensor:
    """Targets for a net with outputs ``0o + 6x0e``, shape ``(n, 7)``.

    The two chiral pieces share one *pseudoscalar* output (+1 for left, −1 for right): a scalar
    cannot tell mirror images apart, a pseudoscalar changes sign under inversion and can. The six
    other pieces get a one-hot scalar output each.
    """
    targets = torch.zeros(len(labels), 7, dtype=dtype or torch.get_default_dtype())
    targets[labels == 0, 0] = 1.0
    targets[labels == 1, 0] = -1.0
    rest = labels >= 2
    targets[rest, labels[rest] - 1] = 1.0
    return targets


def tetris_predict(outputs: torch.Tensor) -> torch.Tensor:
    """The predicted piece from outputs ``(n, 7)`` laid out as in ``tetris_targets``: ``(n,)`` labels."""
    scores = torch.cat([outputs[:, :1], -outputs[:, :1], outputs[:, 1:]], dim=1)
    return scores.argmax(dim=1)


def flatten_graphs(pos: torch.Tensor):
    """``pos (G, n, 3)`` → ``(G·n, 3)`` and the graph index ``batch (G·n,)``, the layout ``EquivariantNet`` takes."""
    G, n, _ = pos.shape
    return pos.reshape(G * n, 3), torch.arange(G, device=pos.device).repeat_interleave(n)


# ---- water

BOND_LENGTH, BOND_ANGLE = 0.9572, math.radians(104.52)  # Å and radians
K_BOND, K_ANGLE = 22.0, 3.3  # eV/Å² and eV/rad², of the order of water's


def water_energy(pos: torch.Tensor) -> torch.Tensor:
    r"""``E = K_b Σ_{OH} (|r_OH| − r₀)² + K_a (θ − θ₀)²`` for ``pos (..., 3, 3)`` ordered O, H, H → ``(...)``.

    Depends only on the two bond lengths and the angle, so it is invariant under rotations,
    inversion and translations; the forces ``−∂E/∂pos`` are then equivariant (they rotate with the molecule).
    """
    oh = pos[..., 1:, :] - pos[..., :1, :]
    r = oh.norm(dim=-1)
    cos = (oh[..., 0, :] * oh[..., 1, :]).sum(-1) / (r[..., 0] * r[..., 1])
    theta = torch.acos(cos.clamp(-1 + 1e-12, 1 - 1e-12))
    return K_BOND * ((r - BOND_LENGTH) ** 2).sum(-1) + K_ANGLE * (theta - BOND_ANGLE) ** 2


def water(n: int, noise: float = 0.08, rotate: bool = True, seed: int = 0, dtype=None):
    """``n`` distorted water molecules: ``pos (n, 3, 3)`` (O, H, H), ``energy (n,)``, ``forces (n, 3, 3)``.

    Bond lengths and the angle are perturbed by Gaussian noise (``noise`` relative), each molecule
    randomly rotated (``rotate``). Energies from ``water_energy``, forces ``−∂E/∂pos`` by autograd.
    """
    g = _generator(seed)
    dtype = dtype or torch.get_default_dtype()
    r = BOND_LENGTH * (1 + noise * torch.randn(n, 2, generator=g, dtype=dtype))
    theta = BOND_ANGLE * (1 + noise * torch.randn(n, generator=g, dtype=dtype))
    pos = torch.zeros(n, 3, 3, dtype=dtype)
    pos[:, 1, 0] = r[:, 0]
    pos[:, 2, 0], pos[:, 2, 1] = r[:, 1] * torch.cos(theta), r[:, 1] * torch.sin(theta)
    pos = pos - pos.mean(dim=1, keepdim=True)
    if rotate:
        pos = pos @ rand_matrix(n, dtype=dtype, generator=g).transpose(1, 2)
    pos.requires_grad_(True)
    energy = water_energy(pos)
    (grad,) = torch.autograd.grad(energy.sum(), pos)
    return pos.detach(), energy.detach(), -grad


# ---- random point clouds


def cloud_energy(pos: torch.Tensor) -> torch.Tensor:
    r"""An invariant target for ``pos (..., n, 3)`` → ``(...)``: a smooth pair term plus an angle term.

    ``E = Σ_{i≠j} e^{−r_ij²} + Σ_i (Σ_{j≠i} e^{−r_ij²} r̂_ij)²``: the second sum is a squared
    vector, a "three-body" term that a model of distances alone cannot write as a sum over pairs.
    """
    diff = pos[..., None, :, :] - pos[..., :, None, :]
    r2 = (diff**2).sum(-1)
    n = pos.shape[-2]
    off_diagonal = ~torch.eye(n, dtype=torch.bool, device=pos.device)
    w = torch.exp(-r2) * off_diagonal
    unit = diff / r2.clamp(min=1e-12).sqrt()[..., None]
    pull = (w[..., None] * unit).sum(-2)
    return w.sum((-1, -2)) + (pull**2).sum((-1, -2))


def point_clouds(n: int, points: int = 6, scale: float = 1.0, seed: int = 0, dtype=None):
    """``n`` clouds of ``points`` Gaussian points (std ``scale``): ``pos (n, points, 3)`` and ``energy (n,)`` from ``cloud_energy``."""
    pos = scale * torch.randn(n, points, 3, generator=_generator(seed), dtype=dtype or torch.get_default_dtype())
    return pos, cloud_energy(pos)


# ---- Stillinger–Weber silicon

# Stillinger & Weber, Phys. Rev. B 31, 5262 (1985): energies in eV, lengths in Å.
SW_SILICON = {"epsilon": 2.1683, "sigma": 2.0951, "a": 1.80, "lam": 21.0, "gamma": 1.20, "A": 7.049556277, "B": 0.6022245584, "p": 4, "q": 0}
SI_LATTICE = 5.431  # Å, the cubic cell of diamond silicon
_DIAMOND = [(0, 0, 0), (0, 0.5, 0.5), (0.5, 0, 0.5), (0.5, 0.5, 0), (0.25, 0.25, 0.25), (0.25, 0.75, 0.75), (0.75, 0.25, 0.75), (0.75, 0.75, 0.25)]


def _edge_pairs(edge_dst: torch.Tensor, num_nodes: int):
    """Every ordered pair ``(e1, e2)``, ``e1 ≠ e2``, of edges into the same node: the angles ``j–i–k`` of a graph."""
    order = torch.argsort(edge_dst, stable=True)  # edges grouped by their centre
    degree = torch.bincount(edge_dst, minlength=num_nodes)
    first = torch.cumsum(degree, 0) - degree  # where each centre's group starts in `order`
    group = degree[edge_dst[order]]  # the size of each sorted edge's group
    e1 = torch.repeat_interleave(torch.arange(len(order), device=edge_dst.device), group)
    start = torch.repeat_interleave(torch.cumsum(group, 0) - group, group)
    e2 = first[edge_dst[order]][e1] + torch.arange(len(e1), device=edge_dst.device) - start
    distinct = e1 != e2
    return order[e1[distinct]], order[e2[distinct]]


def stillinger_weber(pos: torch.Tensor, cell: torch.Tensor | None = None, batch: torch.Tensor | None = None, **params) -> torch.Tensor:
    r"""The Stillinger–Weber energy of silicon, ``pos (N, 3)`` → ``(num_graphs,)`` in eV (differentiable).

    ``E = Σ_{i<j} φ₂(r_ij) + Σ_i Σ_{j<k} φ₃(r_ij, r_ik, θ_jik)`` with, for ``r < aσ``,

        φ₂(r) = A ε [B (σ/r)^p − (σ/r)^q] exp(σ / (r − aσ))
        φ₃ = λ ε (cos θ_jik + 1/3)² exp(γσ / (r_ij − aσ)) exp(γσ / (r_ik − aσ)),

    parameters ``SW_SILICON`` unless given as keywords. The three-body term vanishes at the
    tetrahedral angle (cos θ = −1/3) and penalises every other: it is what makes diamond stable,
    and it depends on angles, which no sum of pair terms can express.
    ``cell``: lattice vectors as rows, ``(3, 3)`` or ``(num_graphs, 3, 3)``, for periodic cells;
    ``batch (N,)``: the graph index of each atom (see ``symml.nn.radius_graph``).
    """
    from symml.nn import (  # here, not at the top: symml.nn is the heavier module
        _check_batch,
        radius_graph,
    )

    p = {**SW_SILICON, **params}
    eps, sigma, cutoff = p["epsilon"], p["sigma"], p["a"] * p["sigma"]
    batch = _check_batch(batch, len(pos), pos.device)
    src, dst, shift = radius_graph(pos, cutoff, batch, cell)
    vec = pos[src] + shift - pos[dst]  # from atom dst to (an image of) atom src
    r = vec.norm(dim=-1)
    num_graphs = int(batch.max()) + 1 if len(batch) else 0

    # each pair appears as two directed edges, hence the 1/2
    pair = p["A"] * eps * (p["B"] * (sigma / r) ** p["p"] - (sigma / r) ** p["q"]) * torch.exp(sigma / (r - cutoff))
    energy = pos.new_zeros(num_graphs).index_add(0, batch[dst], 0.5 * pair)

    # each angle j–i–k appears as two ordered pairs of edges, hence the 1/2 again
    e1, e2 = _edge_pairs(dst, len(pos))
    cos = (vec[e1] * vec[e2]).sum(-1) / (r[e1] * r[e2])
    radial = torch.exp(p["gamma"] * sigma / (r - cutoff))
    triple = p["lam"] * eps * (cos + 1 / 3) ** 2 * radial[e1] * radial[e2]
    return energy.index_add(0, batch[dst[e1]], 0.5 * triple)


def diamond_silicon(repeat=(1, 1, 1), lattice: float = SI_LATTICE, dtype=None):
    """The perfect diamond crystal: ``pos (8·r₁r₂r₃, 3)`` and ``cell (3, 3)`` (rows), ``repeat`` cubic cells along x, y, z."""
    dtype = dtype or torch.get_default_dtype()
    basis = torch.tensor(_DIAMOND, dtype=dtype)
    cells = torch.cartesian_prod(*[torch.arange(n, dtype=dtype) for n in repeat]).reshape(-1, 3)
    frac = ((cells[:, None, :] + basis[None]) / torch.tensor(repeat, dtype=dtype)).reshape(-1, 3)
    cell = lattice * torch.diag(torch.tensor(repeat, dtype=dtype))
    return frac @ cell, cell


def energy_and_forces(energy_fn, pos: torch.Tensor, cell: torch.Tensor | None = None, training: bool = False):
    """``energy_fn(pos (G·n, 3), cell, batch) → (G,)`` on structures ``pos (G, n, 3)``: ``energy (G,)``, ``forces (G, n, 3)``.

    Forces are ``F = −∂E/∂pos`` by autograd; ``training=True`` keeps the graph of that derivative,
    so a loss on the forces can be differentiated again (with respect to a model's weights).
    """
    G, n, _ = pos.shape
    nodes, batch = flatten_graphs(pos)
    nodes = nodes.detach().requires_grad_(True)
    with torch.enable_grad():
        energy = energy_fn(nodes, cell, batch)
        (grad,) = torch.autograd.grad(energy.sum(), nodes, create_graph=training)
    if not training:
        energy = energy.detach()
    return energy, -grad.reshape(G, n, 3)


def silicon(n: int, repeat=(1, 1, 1), noise: float = 0.1, strain: float = 0.02, seed: int = 0, dtype=None) -> dict:
    """``n`` thermally disordered diamond-silicon cells labelled with Stillinger–Weber energies and forces.

    Each cell is the perfect crystal (``diamond_silicon(repeat)``) strained by a random symmetric
    matrix ``ε`` (entries uniform in ±``strain``; cell → cell (1 + ε)), then every atom displaced by
    Gaussian noise of std ``noise`` Å per coordinate, a snapshot of a warm crystal.

    Returns ``{"pos": (n, atoms, 3), "cell": (n, 3, 3), "energy": (n,) eV, "forces": (n, atoms, 3) eV/Å}``.
    """
    g = _generator(seed)
    dtype = dtype or torch.get_default_dtype()
    pos0, cell0 = diamond_silicon(repeat, dtype=dtype)
    e = strain * (2 * torch.rand(n, 3, 3, generator=g, dtype=dtype) - 1)
    deform = torch.eye(3, dtype=dtype) + (e + e.transpose(1, 2)) / 2
    cell = cell0 @ deform
    pos = pos0 @ deform + noise * torch.randn(n, len(pos0), 3, generator=g, dtype=dtype)
    energy, forces = energy_and_forces(stillinger_weber, pos, cell)
    return {"pos": pos, "cell": cell, "energy": energy, "forces": forces}


def silicon_splits(seed: int, pool: int = 128, valid: int = 16, test: int = 100) -> tuple[dict, dict, dict]:
    """The data of the silicon learning curves: ``(pool, valid, test)``, each in ``silicon``'s layout.

    ``pool``: ``pool`` training cells drawn with ``seed``; a training set of size N is its first N
    cells, so the sets of one seed are nested. ``valid`` (early stopping) and ``test`` (the reported
    errors) are drawn with their own fixed seeds, the same for every training seed and N.
    """
    return silicon(pool, seed=seed), silicon(valid, seed=10_000), silicon(test, seed=20_000)


def silicon_learning_curve(seed: int, n: int, pool: int = 500, valid: int = 25, test: int = 100) -> tuple[dict, dict, dict]:
    """One point of lesson 09's learning curves: ``(train, valid, test)``, ``train`` the first ``n`` of ``silicon_splits``' pool.

    The pool is always drawn at its full size ``pool``, so for one seed a training set of size
    ``n`` is contained in every larger one (nested sets: a learning curve measures more data, not
    other data), and ``valid``/``test`` are the same cells for every seed and ``n``.
    """
    if not isinstance(n, int) or not 1 <= n <= pool:
        raise ValueError(f"n must be a whole number of training cells between 1 and pool = {pool}, got {n!r}")
    cells, valid_set, test_set = silicon_splits(seed, pool=pool, valid=valid, test=test)
    return {key: value[:n] for key, value in cells.items()}, valid_set, test_set


# ---- perovskites with tilted octahedra (lesson 11)

PEROVSKITE_B_SITES = ((0, 0, 0), (1, 0, 0), (0, 0, 1), (1, 0, 1))  # the √2×√2×2 cell's B sites, in cubic lattice constants


def glazer_rotations(sites, tilts, phases: str = "--+", dtype=None) -> torch.Tensor:
    r"""Rotation vectors ``ω`` (radians) of the octahedra on the B sites ``sites (n, 3)`` → ``(n, 3)``.

    ``sites`` are whole-number cubic coordinates (in lattice constants), the cubic axes being x, y, z.
    Glazer's notation (Glazer, Acta Cryst. B 28, 3384 (1972)): the octahedra turn by ``tilts[a]``
    degrees about axis a. Two octahedra that share a corner across the plane ⟂ a must turn opposite
    ways about a; along a they turn the same way (``phases[a] == "+"``, in-phase) or opposite ways
    (``"-"``, anti-phase):

        ω_a(n) = θ_a (−1)^{Σ_{b≠a} n_b}   ("+"),        ω_a(n) = θ_a (−1)^{n_x + n_y + n_z}   ("−").
    """
    if len(tilts) != 3 or len(phases) != 3 or set(phases) - {"+", "-"}:
        raise ValueError(f"tilts must be three angles (degrees about x, y, z) and phases three of '+' or '-', got {tilts!r}, {phases!r}")
    dtype = dtype or torch.get_default_dtype()
    n = torch.as_tensor(sites, dtype=torch.float64).round().long()
    in_phase = torch.tensor([p == "+" for p in phases])
    parity = n.sum(-1, keepdim=True) - n * in_phase  # Σ_{b≠a} n_b for "+", Σ_b n_b for "−"
    return torch.deg2rad(torch.tensor(tilts, dtype=dtype)) * (1 - 2 * (parity % 2)).to(dtype)


def perovskite(tilts=(0.0, 0.0, 0.0), phases: str = "--+", a: float = 3.905, dtype=None):
    r"""A perovskite ABX₃ (SrTiO₃-like, cubic lattice constant ``a`` in Å) in its 20-atom √2×√2×2 cell, octahedra tilted.

    The cell's rows are ``(a, a, 0)``, ``(−a, a, 0)``, ``(0, 0, 2a)``: the cubic axes stay the
    Cartesian ones. In cubic coordinates the four B atoms sit at ``PEROVSKITE_B_SITES`` ``n``, the A
    atoms at ``n + (½, ½, ½)`` and the X atoms at ``n + e_k/2``: each B is the centre of an octahedron
    of six X. The octahedron on ``n`` is turned by ``R_n = exp(ω_n · L)``, ``ω`` from ``glazer_rotations``;
    the X shared by the octahedra on ``n`` and ``n + e_k`` goes to the midpoint of the two places they
    would put it, ``a [n + e_k/2 + (R_n − R_{n+e_k}) e_k/4]`` (the two agree to first order in the angles,
    since the neighbours' rotations perpendicular to the bond are opposite). The A atoms do not move.

    Glazer's tilt systems that fit this cell, and their space groups (Howard & Stokes, Acta Cryst. B 54,
    782 (1998)): a⁻a⁻c⁺ (``tilts=(α, α, γ)``, ``phases="--+"``) Pnma; a⁻a⁻c⁰ Imma; a⁰a⁰c⁺ P4/mbm;
    a⁰a⁰c⁻ I4/mcm; a⁻a⁻a⁻ R-3c; a⁻b⁻c⁺ with α ≠ β P2₁/m.

    Returns ``pos (20, 3)`` (4 A, then 4 B, then 12 X), ``types`` (a list of "A", "B", "X") and ``cell (3, 3)``.
    Raises ``ValueError`` for an in-phase tilt about x or y: its sign pattern ``(−1)^{n_y+n_z}`` flips
    under the cell vector ``(a, a, 0)``, so it does not repeat in this cell.
    """
    from symml.so3 import so3_generators

    dtype = dtype or torch.get_default_dtype()
    for axis in (0, 1):
        if phases[axis : axis + 1] == "+" and tilts[axis] != 0:
            raise ValueError(f"an in-phase tilt about {'xy'[axis]} does not fit the √2×√2×2 cell (only z may have phase '+'), got phases {phases!r}")
    B = torch.tensor(PEROVSKITE_B_SITES, dtype=dtype)
    e = torch.eye(3, dtype=dtype)
    L = so3_generators(1, dtype=dtype)

    def turn(sites):  # R_n for each site, shape (n, 3, 3)
        return torch.matrix_exp(torch.einsum("na,abc->nbc", glazer_rotations(sites, tilts, phases, dtype), L))

    X = []
    for k in range(3):  # the corner along +e_k of every octahedron: shared with the one on n + e_k
        R_here, R_there = turn(B), turn(B + e[k])
        X.append(B + e[k] / 2 + (R_here @ e[k] - R_there @ e[k]) / 4)
    X = torch.stack(X, dim=1).reshape(-1, 3)  # B site by B site: its +x, +y, +z corners
    pos = a * torch.cat([B + 0.5, B, X])
    cell = a * torch.tensor([[1.0, 1, 0], [-1, 1, 0], [0, 0, 2]], dtype=dtype)
    return pos, ["A"] * 4 + ["B"] * 4 + ["X"] * 12, cell
