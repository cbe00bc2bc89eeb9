r"""Rotations in 3D and the matrices of every irreducible representation, derived from scratch.

Conventions are those of e3nn 0.6, so that everything here can be compared with e3nn number for number:

* a vector is ordered ``(x, y, z)``, and the l=1 representation of a rotation ``R`` is ``R`` itself;
* the real basis of every irrep ``l`` has its *polar axis along y*: the middle component (m = 0)
  of the l=2 harmonics is ``y² - (x² + z²)/2``;
* Euler angles are Y-X-Y: ``R(α, β, γ) = R_y(α) R_x(β) R_y(γ)``.

e3nn before release 0.2.2 (early 2021, when its Euler angles changed from Z-Y-Z to Y-X-Y; see the
"Change of Basis" page of e3nn's documentation) ordered vectors as ``(y, z, x)``, and so do the talk's
slides. The physics is the same; the labels of the basis vectors are permuted. Lesson 06 shows both.

How the irreps are built (lesson 02): a rotation by angle θ about the unit axis n is
``D(R) = exp(θ n·L)``, where ``L = (L_x, L_y, L_z)`` are three real antisymmetric matrices, the
*generators*, that obey ``[L_x, L_y] = L_z`` (and cyclic). For l=1 they are ``(L_a)_bc = -ε_abc``.
For any l we build them with the textbook ladder operators of angular momentum, then rotate them
to the real basis; nothing is read off e3nn.
"""

import functools
import math

import torch

__all__ = [
    "check_rotation_matrix",
    "rand_matrix",
    "matrix_x",
    "matrix_y",
    "matrix_z",
    "angles_to_matrix",
    "matrix_to_angles",
    "axis_angle_to_matrix",
    "so3_generators",
    "change_basis_real_to_complex",
    "wigner_D",
    "irrep_D_from_matrix",
]


def check_rotation_matrix(R: torch.Tensor, name: str = "R", proper: bool = False, tol: float | None = None):
    """Raise ``ValueError`` unless ``R`` has shape ``(..., 3, 3)`` and is orthogonal (det ±1, or +1 if ``proper``)."""
    if not isinstance(R, torch.Tensor):
        raise ValueError(f"{name} must be a torch.Tensor of shape (..., 3, 3), got {type(R).__name__}")
    if R.dim() < 2 or R.shape[-2:] != (3, 3):
        raise ValueError(f"{name} must have shape (..., 3, 3), got {tuple(R.shape)}")
    if not R.is_floating_point():
        raise ValueError(f"{name} must be a floating point tensor, got {R.dtype}")
    if tol is None:
        tol = 1e-4 if R.dtype in (torch.float16, torch.bfloat16, torch.float32) else 1e-8
    eye = torch.eye(3, dtype=R.dtype, device=R.device)
    error = (R @ R.transpose(-1, -2) - eye).abs().amax() if R.numel() else 0.0
    if error > tol:
        raise ValueError(f"{name} is not orthogonal: max |R Rᵀ - I| = {float(error):.2e} > {tol:g}")
    if proper and R.numel() and (torch.det(R) < 0).any():
        raise ValueError(f"{name} must be a proper rotation (det = +1); an improper one (det = -1) was given")


def _resolve(dtype, device):
    return dtype or torch.get_default_dtype(), device


def rand_matrix(*shape, dtype=None, device=None, generator: torch.Generator | None = None, seed: int | None = None):
    r"""Random rotation matrices, uniform (Haar) on SO(3).

    A unit quaternion drawn from an isotropic Gaussian in 4D is uniform on the 3-sphere, and the
    3-sphere covers SO(3) twice evenly, so the rotations are uniform.

    Args:
        *shape: batch shape; ``rand_matrix()`` returns one ``(3, 3)`` matrix.
        generator / seed: for reproducible draws (``seed`` makes a fresh generator).

    Returns:
        tensor of shape ``(*shape, 3, 3)`` with ``det = +1``.
    """
    dtype, device = _resolve(dtype, device)
    if seed is not None:
        generator = torch.Generator().manual_seed(seed)
    q = torch.randn(*shape, 4, dtype=torch.float64, generator=generator)
    q = q / q.norm(dim=-1, keepdim=True)
    return _quaternion_to_matrix(q).to(dtype=dtype, device=device)


def _quaternion_to_matrix(q):
    w, x, y, z = q.unbind(-1)
    rows = [
        [1 - 2 * (y * y + z * z), 2 * (x * y - z * w), 2 * (x * z + y * w)],
        [2 * (x * y + z * w), 1 - 2 * (x * x + z * z), 2 * (y * z - x * w)],
        [2 * (x * z - y * w), 2 * (y * z + x * w), 1 - 2 * (x * x + y * y)],
    ]
    return torch.stack([torch.stack(r, dim=-1) for r in rows], dim=-2)


def _as_angle(angle, dtype=None, device=None):
    """A tensor of angles: tensors keep their dtype unless one is asked for; numbers get the default."""
    if dtype is None and not torch.is_tensor(angle):
        dtype = torch.get_default_dtype()
    return torch.as_tensor(angle, dtype=dtype, device=device)


def _axis_matrix(angle, i, j, dtype=None, device=None):
    angle = _as_angle(angle, dtype, device)
    c, s = torch.cos(angle), torch.sin(angle)
    R = torch.zeros(*angle.shape, 3, 3, dtype=angle.dtype, device=angle.device)
    k = 3 - i - j  # the axis that stays fixed
    R[..., k, k] = 1
    R[..., i, i], R[..., i, j], R[..., j, i], R[..., j, j] = c, -s, s, c
    return R


def matrix_x(angle, dtype=None, device=None):
    """Rotation by ``angle`` (radians, any shape ``(...)``) about the x axis; shape ``(..., 3, 3)``."""
    return _axis_matrix(angle, 1, 2, dtype, device)


def matrix_y(angle, dtype=None, device=None):
    """Rotation by ``angle`` about the y axis: ``z → x`` for a quarter turn; shape ``(..., 3, 3)``."""
    return _axis_matrix(angle, 2, 0, dtype, device)


def matrix_z(angle, dtype=None, device=None):
    """Rotation by ``angle`` about the z axis; shape ``(..., 3, 3)``."""
    return _axis_matrix(angle, 0, 1, dtype, device)


def angles_to_matrix(alpha, beta, gamma, dtype=None, device=None):
    r"""Euler angles (Y-X-Y, as e3nn) to a rotation matrix ``R_y(α) R_x(β) R_y(γ)``, shape ``(..., 3, 3)``."""
    alpha, beta, gamma = torch.broadcast_tensors(*(_as_angle(a, dtype, device) for a in (alpha, beta, gamma)))
    return matrix_y(alpha) @ matrix_x(beta) @ matrix_y(gamma)


def matrix_to_angles(R: torch.Tensor):
    r"""Inverse of :func:`angles_to_matrix` for proper rotations ``R`` of shape ``(..., 3, 3)``.

    ``R e_y = (sin α sin β, cos β, cos α sin β)`` gives α and β; what is left, ``R_x(β)ᵀ R_y(α)ᵀ R``,
    is a rotation about y by γ. Uses ``atan2`` throughout so it stays accurate near β = 0.
    """
    check_rotation_matrix(R, proper=True)
    x, y, z = R[..., 0, 1], R[..., 1, 1], R[..., 2, 1]
    alpha = torch.atan2(x, z)
    beta = torch.atan2(torch.sqrt(x * x + z * z), y)
    rest = (matrix_y(alpha) @ matrix_x(beta)).transpose(-1, -2) @ R
    gamma = torch.atan2(rest[..., 0, 2], rest[..., 0, 0])
    return alpha, beta, gamma


def axis_angle_to_matrix(axis, angle):
    r"""Rotation by ``angle`` about ``axis`` (shapes ``(..., 3)`` and ``(...)``): ``R = exp(θ n·L)``.

    The axis need not be normalised; a zero axis raises ``ValueError``.
    """
    axis = _as_angle(axis)
    if axis.shape[-1:] != (3,):
        raise ValueError(f"axis must have shape (..., 3), got {tuple(axis.shape)}")
    norm = axis.norm(dim=-1, keepdim=True)
    if (norm == 0).any():
        raise ValueError("axis must be a non-zero vector")
    angle = torch.as_tensor(angle, dtype=axis.dtype, device=axis.device)
    generator = torch.einsum("...a,abc->...bc", axis / norm, so3_generators(1, axis.dtype, axis.device))
    return torch.matrix_exp(angle[..., None, None] * generator)


def change_basis_real_to_complex(l: int) -> torch.Tensor:
    r"""Unitary ``U`` of shape ``(2l+1, 2l+1)``, complex128, from the complex basis ``|l, m⟩`` to the real one.

    Row ``a`` of ``U`` writes real basis vector ``a`` in terms of ``|l, m⟩``:
    ``e_{m} = (|−m⟩ + (−1)^m |m⟩)/√2`` for m > 0, ``e_0 = |0⟩``, ``e_{−m} = i(|−m⟩ − (−1)^m |m⟩)/√2``
    (the real form of spherical harmonics found in textbooks).
    """
    U = torch.zeros(2 * l + 1, 2 * l + 1, dtype=torch.complex128)
    s = 1 / math.sqrt(2)
    U[l, l] = 1
    for m in range(1, l + 1):
        U[l + m, l - m], U[l + m, l + m] = s, (-1) ** m * s
        U[l - m, l - m], U[l - m, l + m] = 1j * s, -1j * (-1) ** m * s
    return U


@functools.lru_cache(maxsize=None)
def _so3_generators(l: int) -> torch.Tensor:
    # Angular momentum with the textbook ladder operators, J± |m⟩ = √(l(l+1) − m(m±1)) |m±1⟩.
    m = torch.arange(-l, l + 1, dtype=torch.float64)
    J_plus = torch.diag(torch.sqrt(l * (l + 1) - m[:-1] * (m[:-1] + 1)), -1).to(torch.complex128)
    J_minus = J_plus.T
    J1 = (J_plus + J_minus) / 2
    J2 = (J_plus - J_minus) / 2j
    J3 = torch.diag(m).to(torch.complex128)
    # The textbook frame (1, 2, 3) sits in e3nn's as (−z, x, −y): a right-handed frame whose
    # quantisation axis 3 lies along −y (y is the polar axis). This choice makes l=1 come out as (x, y, z).
    U = change_basis_real_to_complex(l)
    L = [U @ (-1j * J) @ U.conj().T for J in (J2, -J3, -J1)]  # L_x, L_y, L_z: real antisymmetric
    return torch.stack([A.real for A in L])


def so3_generators(l: int, dtype=None, device=None) -> torch.Tensor:
    r"""The generators ``(L_x, L_y, L_z)`` of irrep ``l`` in e3nn's real basis, shape ``(3, 2l+1, 2l+1)``.

    Real antisymmetric, with ``[L_x, L_y] = L_z`` (cyclic), Casimir ``−Σ_a L_a² = l(l+1) I``, and
    ``exp(θ L_a)`` the rotation by θ about axis a. For l=1, ``(L_a)_bc = −ε_abc``.
    """
    if not isinstance(l, int) or l < 0:
        raise ValueError(f"l must be a non-negative integer, got {l!r}")
    dtype, device = _resolve(dtype, device)
    return _so3_generators(l).to(dtype=dtype, device=device, copy=True)


def wigner_D(l: int, alpha, beta, gamma) -> torch.Tensor:
    r"""Wigner D matrix of irrep ``l`` for Euler angles (Y-X-Y), shape ``(..., 2l+1, 2l+1)``.

    ``D(α, β, γ) = exp(α L_y) exp(β L_x) exp(γ L_y)``, the representation of ``R_y(α) R_x(β) R_y(γ)``.
    """
    alpha, beta, gamma = torch.broadcast_tensors(*(_as_angle(a) for a in (alpha, beta, gamma)))
    L = so3_generators(l, alpha.dtype, alpha.device)
    # Angles taken mod 2π so matrix_exp never works with large norms.
    a, b, c = (torch.remainder(t, 2 * math.pi)[..., None, None] for t in (alpha, beta, gamma))
    return torch.matrix_exp(a * L[1]) @ torch.matrix_exp(b * L[0]) @ torch.matrix_exp(c * L[1])


def irrep_D_from_matrix(l: int, p: int, R: torch.Tensor) -> torch.Tensor:
    r"""Matrix of irrep ``(l, p)`` of O(3) for orthogonal ``R`` of shape ``(..., 3, 3)``.

    Any ``R`` in O(3) is ``R = (det R) · R₊`` with ``R₊`` a proper rotation, and the inversion ``−I``
    acts on irrep ``(l, p)`` as the number ``p``: ``D(R) = p^{[det R < 0]} D^l(R₊)``.
    Returns shape ``(..., 2l+1, 2l+1)``.
    """
    if p not in (1, -1):
        raise ValueError(f"parity p must be +1 or -1, got {p!r}")
    check_rotation_matrix(R)
    det = torch.det(R)
    proper = R * det[..., None, None]
    D = wigner_D(l, *matrix_to_angles(proper))
    sign = torch.where(det < 0, float(p), 1.0).to(R.dtype)
    return D * sign[..., None, None]
