r"""Small generated datasets for the lessons: seeded, nothing downloaded.

* ``tetris``: the eight 3D Tetris pieces (four unit cubes each), optionally randomly rotated and
  moved. Two of them, ``chiral_left`` and ``chiral_right``, are mirror images of each other: no
  rotation turns one into the other, but an inversion does.
* ``water``: water molecules near equilibrium with an analytic energy (harmonic bonds and angle),
  and the forces ``F = −∂E/∂pos`` from autograd.
* ``point_clouds``: random clouds of points with an invariant target (a smooth pair and angle
  energy), for learning curves.
"""

import math

import torch

from symml.so3 import rand_matrix

__all__ = ["TETRIS_NAMES", "cloud_energy", "flatten_graphs", "point_clouds", "tetris", "tetris_predict", "tetris_targets", "water", "water_energy"]

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
