r"""Spherical harmonics, derived from tensor products of a vector with itself (lesson 05).

Take a unit vector r̂ (type l=1). Its tensor square ``r̂ ⊗ r̂`` splits into l = 0, 1, 2; the l=2 part
is a quadratic polynomial in (x, y, z) that rotates like an l=2 feature. Multiply that by r̂ again
and keep the l=3 part, and so on — "use it to derive spherical harmonics":

    Y⁰ = 1,    Y¹ = √3 r̂,    Y^l_k = c_l Σ_ij C^{(l−1, 1, l)}_ijk Y^{l−1}_i r̂_j ,

with C the Clebsch-Gordan coefficients of ``symml.cg`` and c_l > 0 fixed so that
``|Y^l(r̂)|² = 2l+1`` on the unit sphere. Each Y^l is equivariant by construction,
``Y^l(R r̂) = D^l(R) Y^l(r̂)``, and its m=0 component peaks on the polar axis y (e3nn's convention).

Normalisations (all three of e3nn):
* ``"component"``: ``Σ_m Y^l_m(r̂)² = 2l+1`` — every component is of order one;
* ``"norm"``:      ``Σ_m Y^l_m(r̂)² = 1``;
* ``"integral"``:  ``∫ Y^l_m(r̂)² dΩ = 1`` over the sphere, i.e. ``Σ_m Y^l_m² = (2l+1)/(4π)``.
"""

import functools
import math

import torch
from e3nn import o3

from symml.cg import clebsch_gordan

__all__ = ["spherical_harmonics"]

NORMALIZATIONS = ("integral", "component", "norm")


@functools.lru_cache(maxsize=None)
def _recursion_matrix(l: int) -> torch.Tensor:
    """``M_l`` of shape ``((2l−1)·3, 2l+1)`` with ``Y^l = (Y^{l−1} ⊗ r̂) @ M_l`` (component normalisation)."""
    C = clebsch_gordan(l - 1, 1, l, dtype=torch.float64)
    # Evaluate the bare contraction on the polar axis: its length fixes c_l, and its m=0 sign
    # fixes the overall sign (positive at the pole, as for Y¹ = √3 r̂).
    pole = torch.tensor([0.0, 1.0, 0.0], dtype=torch.float64)
    Y = torch.ones(1, dtype=torch.float64)
    for k in range(1, l):
        Y = torch.outer(Y, pole).flatten() @ _recursion_matrix(k)
    bare = torch.outer(Y, pole).flatten() @ C.reshape(-1, 2 * l + 1)
    c = math.sqrt(2 * l + 1) / bare.norm() * torch.sign(bare[l])
    return (c * C).reshape(-1, 2 * l + 1)


def _as_ls(l) -> list[int]:
    if isinstance(l, (str, o3.Irreps, o3.Irrep)):
        irreps = o3.Irreps(l)
        for _, ir in irreps:
            if ir.p != (-1) ** ir.l:
                raise ValueError(f"spherical harmonics have parity (-1)^l, so {ir} is not one of them (use {ir.l}{'e' if ir.l % 2 == 0 else 'o'})")
        return [ir.l for mul, ir in irreps for _ in range(mul)]
    ls = [l] if isinstance(l, int) else list(l)
    for x in ls:
        if isinstance(x, bool) or not isinstance(x, int) or x < 0:
            raise ValueError(f"l must be a non-negative integer or a list of them, got {l!r}")
    return ls


def spherical_harmonics(l, xyz: torch.Tensor, normalize: bool = True, normalization: str = "integral") -> torch.Tensor:
    r"""Real spherical harmonics of the vectors ``xyz``, equal to ``e3nn.o3.spherical_harmonics``.

    Args:
        l: an int, a list of ints, or irreps such as ``"0e + 1o + 2e"``.
        xyz: tensor of shape ``(..., 3)``, ordered (x, y, z).
        normalize: if True, use the direction ``xyz/|xyz|``; if False, return the homogeneous
            polynomials ``|xyz|^l Y^l(x̂yz)``.
        normalization: ``"integral"``, ``"component"`` or ``"norm"`` (see the module docstring).

    Returns:
        tensor of shape ``(..., Σ (2l+1))``, the harmonics of each requested l, concatenated.
    """
    ls = _as_ls(l)
    if normalization not in NORMALIZATIONS:
        raise ValueError(f"normalization must be one of {NORMALIZATIONS}, got {normalization!r}")
    if not isinstance(xyz, torch.Tensor) or xyz.shape[-1:] != (3,):
        raise ValueError(f"xyz must be a tensor of shape (..., 3), got {getattr(xyz, 'shape', type(xyz))}")
    if not xyz.is_floating_point():
        raise ValueError(f"xyz must be a floating point tensor, got {xyz.dtype}")
    if normalize:
        xyz = torch.nn.functional.normalize(xyz, dim=-1)
    batch, r = xyz.shape[:-1], xyz.reshape(-1, 3)

    def scale(k):  # the factor from component normalisation to the requested one
        return {"component": 1.0, "norm": 1 / math.sqrt(2 * k + 1), "integral": 1 / math.sqrt(4 * math.pi)}[normalization]

    # The recursion is linear in Y^{k−1}, so the normalisation rides along in Y⁰ and in M_k.
    Y = [torch.full_like(r[:, :1], scale(0))]
    for k in range(1, max(ls, default=0) + 1):
        M = (_recursion_matrix(k) * (scale(k) / scale(k - 1))).to(dtype=r.dtype, device=r.device)
        outer = Y[-1][:, :, None] * r[:, None, :]  # Y^{k−1} ⊗ r̂, shape (n, 2k−1, 3)
        Y.append(outer.reshape(len(r), -1) @ M)
    out = torch.cat([Y[k] for k in ls], dim=-1) if ls else r.new_zeros(len(r), 0)
    return out.reshape(*batch, -1)
