"""Exercises of lesson 05, spherical harmonics (component normalisation throughout)."""

import math

import torch

from symml.cg import clebsch_gordan
from symml.checks import Case, Exercise, close
from symml.so3 import rand_matrix


def _sh(l, vectors):
    """Y^l of the directions of ``vectors`` (n, 3), component normalisation, by the recursion."""
    r = vectors / vectors.norm(dim=-1, keepdim=True)
    Y = torch.ones(len(r), 1, dtype=r.dtype)
    for k in range(l):
        if k == 0:
            Y = math.sqrt(3) * r
        else:
            Y = (2 * k + 3) / math.sqrt(k + 1) * torch.einsum("ijk,ni,nj->nk", clebsch_gordan(k, 1, k + 1, dtype=r.dtype), Y, r)
    return Y


def _vectors(g, n):
    return torch.randn(n, 3, generator=g, dtype=torch.float64) * (0.5 + 2 * torch.rand(n, 1, generator=g, dtype=torch.float64))


TETRAHEDRON = [[1.0, 1, 1], [1, -1, -1], [-1, 1, -1], [-1, -1, 1]]
OCTAHEDRON = [[1.0, 0, 0], [0, 1, 0], [0, 0, 1], [-1, 0, 0], [0, -1, 0], [0, 0, -1]]


def _unnormalised_hint(got, expected, vectors, l):
    """A hint if ``got`` is ``expected`` times |v|^l row by row: the vectors were not normalised."""
    if not isinstance(got, torch.Tensor) or got.shape != expected.shape or l == 0:
        return None
    scale = vectors.norm(dim=-1, keepdim=True) ** l
    if close(got, expected * scale) is None:
        return "the result depends on the lengths of the vectors: normalise them to unit vectors first"
    return None


# ---- 05.1: Y² from the tensor square


def Y2(vectors):
    return _sh(2, vectors)


def _y2_cases(g):
    yield Case(_vectors(g, 6))
    yield Case(torch.tensor([[0.0, 1.0, 0.0]], dtype=torch.float64), note="the unit vector along y")
    yield Case(torch.tensor([[0.0, 0.0, 5.0], [1e-3, 2e-3, -1e-3]], dtype=torch.float64), note="a long and a short vector")


def _y2_compare(got, expected, case):
    hint = close(got, expected)
    if hint:
        hint = _unnormalised_hint(got, expected, case.args[0], 2) or hint
    if hint and "factor" in hint:
        return hint + ": scale so that the squared length of each row is 5"
    if hint and "sign" in hint:
        return hint + ": the factor that fixes the length should be positive"
    return hint


# ---- 05.2: any l, by recursion


def sh(l, vectors):
    return _sh(l, vectors)


def _sh_cases(g):
    for l in (1, 2, 3, 4):
        yield Case(l, _vectors(g, 5), note=f"l = {l}")
    yield Case(0, _vectors(g, 3), note="l = 0")


def _sh_compare(got, expected, case):
    l, vectors = case.args
    if l == 0 and isinstance(got, torch.Tensor) and got.shape != expected.shape:
        return f"for l = 0 return ones of shape (n, 1), got shape {tuple(got.shape)}"
    hint = close(got, expected)
    if hint and _unnormalised_hint(got, expected, vectors, l):
        return _unnormalised_hint(got, expected, vectors, l)
    if hint and isinstance(got, torch.Tensor) and got.shape == expected.shape:
        lengths = (got.to(torch.float64) ** 2).sum(-1)
        if not torch.allclose(lengths, torch.full_like(lengths, 2 * l + 1), rtol=1e-4):
            return f"{hint}: the squared length of each row should be 2l+1 = {2 * l + 1}"
        return f"{hint}: the length is right, so look at the coupling (which C, which order of the indices) or the sign"
    return hint


# ---- 05.3: project a neighbourhood


def projection(l, vectors):
    return _sh(l, vectors).sum(0)


def _projection_cases(g):
    yield Case(1, _vectors(g, 5))
    yield Case(2, _vectors(g, 4))
    yield Case(3, _vectors(g, 7))
    yield Case(3, torch.tensor(TETRAHEDRON, dtype=torch.float64), note="a tetrahedron, l = 3")
    yield Case(2, torch.tensor(TETRAHEDRON, dtype=torch.float64) * 2, note="a tetrahedron, l = 2")
    yield Case(4, torch.tensor(OCTAHEDRON, dtype=torch.float64), note="an octahedron, l = 4")


def _projection_compare(got, expected, case):
    l, vectors = case.args
    if isinstance(got, torch.Tensor) and got.dim() == 2 and got.shape[-1] == expected.shape[-1]:
        return f"the output has shape {tuple(got.shape)}: add up the neighbours' harmonics into one vector of shape ({2 * l + 1},)"
    if isinstance(got, torch.Tensor) and got.shape == expected.shape and l > 0 and close(got, expected) is not None:
        norms = vectors.norm(dim=-1, keepdim=True) ** l
        if close(got, (_sh(l, vectors) * norms).sum(0)) is None:
            return "the result depends on the lengths of the vectors: use the directions only"
    return close(got, expected)


# ---- 05.4: the power spectrum


def power_spectrum(vectors, lmax):
    return torch.stack([(projection(l, vectors) ** 2).sum() for l in range(lmax + 1)])


def _rotated_pair(answer, vectors, *args):
    """(answer(vectors, ...), answer(vectors rotated by R, ...)) with R the last argument."""
    *rest, R = args
    return answer(vectors, *rest), answer(vectors @ R.T, *rest)


def _power_cases(g):
    yield Case(_vectors(g, 5), 4, rand_matrix(generator=g, dtype=torch.float64))
    yield Case(_vectors(g, 3), 2, rand_matrix(generator=g, dtype=torch.float64))
    yield Case(_vectors(g, 1), 3, rand_matrix(generator=g, dtype=torch.float64), note="a single neighbour")
    yield Case(torch.tensor(TETRAHEDRON, dtype=torch.float64), 0, rand_matrix(generator=g, dtype=torch.float64), note="lmax = 0")


def _power_compare(got, expected, case):
    vectors, lmax, R = case.args
    hint = close(got, expected, what="the pair (p of the neighbours, p of the rotated neighbours)")
    if hint is None:
        return None
    if not (isinstance(got, tuple) and len(got) == 2 and all(isinstance(t, torch.Tensor) for t in got)):
        return hint
    p, p_rotated = got
    if p.shape != expected[0].shape:
        return close(p, expected[0])
    if close(p_rotated, p) is not None:
        return "the power spectrum changes when the neighbours are rotated: it should be invariant"
    per_l = torch.tensor([2 * l + 1 for l in range(lmax + 1)], dtype=torch.float64)
    if close(p, expected[0] / per_l) is None:
        return "p_l is the plain squared length Σ_m (A^l_m)², without dividing by 2l+1"
    if close(p, expected[0].sqrt()) is None:
        return "p_l is the squared length of A^l, not the length"
    return close(p, expected[0])


# ---- 05.5: the bispectrum


def bispectrum(vectors, l1, l2, l3):
    A1, A2, A3 = projection(l1, vectors), projection(l2, vectors), projection(l3, vectors)
    return torch.einsum("ijk,i,j,k->", clebsch_gordan(l1, l2, l3, dtype=vectors.dtype), A1, A2, A3)


MIRROR = torch.tensor([-1.0, 1.0, 1.0], dtype=torch.float64)


def _bispectrum_call(answer, vectors, l1, l2, l3, R):
    return tuple(answer(v, l1, l2, l3) for v in (vectors, vectors @ R.T, vectors * MIRROR))


def _bispectrum_cases(g):
    def rot():
        return rand_matrix(generator=g, dtype=torch.float64)

    yield Case(_vectors(g, 5), 1, 1, 2, rot())
    yield Case(_vectors(g, 4), 2, 2, 2, rot())
    yield Case(_vectors(g, 6), 1, 2, 3, rot())
    yield Case(_vectors(g, 5), 2, 3, 4, rot(), note="(2, 3, 4), which sees mirror images")
    yield Case(_vectors(g, 4), 3, 2, 1, rot(), note="(3, 2, 1)")


def _bispectrum_compare(got, expected, case):
    if not (isinstance(got, tuple) and len(got) == 3 and all(isinstance(t, torch.Tensor) for t in got)):
        return close(got, expected)
    b, b_rotated, b_mirror = got
    if b.shape != ():
        return f"the bispectrum should be a single number, a tensor of shape (), not shape {tuple(b.shape)}"
    if close(b_rotated, b) is not None:
        return "the bispectrum changes when the neighbours are rotated: it should be invariant"
    hint = close(b, expected[0], what="the bispectrum")
    if hint:
        if close(b, -expected[0]) is None:
            return "the bispectrum is off by a sign"
        return hint
    return close(b_mirror, expected[2], what="the bispectrum of the mirror image")


EXERCISES = [
    Exercise("05.1", Y2, _y2_cases, _y2_compare, title="Y² from the tensor square", name="Y2"),
    Exercise("05.2", sh, _sh_cases, _sh_compare, title="any l, by recursion", name="sh"),
    Exercise("05.3", projection, _projection_cases, _projection_compare, title="project a neighbourhood", name="projection"),
    Exercise("05.4", power_spectrum, _power_cases, _power_compare, call=_rotated_pair, title="the power spectrum", name="power_spectrum"),
    Exercise("05.5", bispectrum, _bispectrum_cases, _bispectrum_compare, call=_bispectrum_call, title="the bispectrum", name="bispectrum"),
]
