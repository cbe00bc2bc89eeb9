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
input, ``f(R x) = D(R) f(x) = f(x)`` for every R of the input's group.
"""

import math

import torch

__all__ = ["symmetry_operations", "describe_operation"]


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


def describe_operation(R: torch.Tensor, tol: float = 1e-6) -> str:
    """A name for an orthogonal 3×3 matrix: identity, inversion, mirror, n-fold rotation (about an axis) or rotoreflection."""
    R = R.to(torch.float64)
    proper = torch.det(R) > 0
    P = R if proper else -R  # R = -P for improper R, with P a rotation
    angle = torch.arccos(((torch.trace(P) - 1) / 2).clamp(-1, 1))
    if angle < tol:
        return "identity" if proper else "inversion"
    values, vectors = torch.linalg.eig(P)
    axis = vectors[:, (values - 1).abs().argmin()].real
    axis = axis / axis.norm()
    axis = axis * torch.sign(axis[(axis.abs() > tol).nonzero()[0, 0]])
    n = round(2 * math.pi / angle.item()) if angle > tol else 1
    where = "(" + ", ".join(f"{round(v, 2) + 0.0:+.2f}" for v in axis.tolist()) + ")"
    if proper:
        return f"{n}-fold rotation about {where}"
    if abs(angle.item() - math.pi) < tol:
        return f"mirror plane ⟂ {where}"
    return f"rotoreflection (−1 × {n}-fold rotation) about {where}"
