"""Exercises of problem set 05, spherical harmonics: Yˡ for any l, the recursion's constant in another
normalisation, a predicted power spectrum, and a bispectrum with radial channels.

Conventions: e3nn 0.6's basis (the one ``clebsch_gordan`` is written in); the *component*
normalisation ``Σ_m Yˡ_m(r̂)² = 2l+1`` unless an exercise says otherwise; vectors ``(n, 3)`` of any
nonzero length, reduced to their directions.
"""

import math

import torch
from e3nn import o3

from symml import sh as symml_sh
from symml.cg import clebsch_gordan
from symml.checks import Case, Exercise, choice, close
from symml.checks.hints import as_student, shortcuts
from symml.so3 import rand_matrix

SH_FORBIDDEN = shortcuts("spherical harmonics")
# 05.2 asks for the constant from the lesson's by a change of normalisation: measuring it again needs a coupling
CONSTANT_FORBIDDEN = {**SH_FORBIDDEN, **shortcuts("clebsch-gordan", "tensor products")}


def _sh(l, vectors):
    """Yˡ of the directions of ``vectors`` (n, 3), component normalisation, by the recursion."""
    r = vectors / vectors.norm(dim=-1, keepdim=True)
    Y = torch.ones(len(r), 1, dtype=r.dtype)
    for k in range(l):
        if k == 0:
            Y = math.sqrt(3) * r
        else:
            Y = (2 * k + 3) / math.sqrt(k + 1) * torch.einsum("ijk,ni,nj->nk", clebsch_gordan(k, 1, k + 1, dtype=r.dtype), Y, r)
    return Y


def _vectors(g, n, dtype=torch.float64):
    return (torch.randn(n, 3, generator=g, dtype=torch.float64) * (0.5 + 2 * torch.rand(n, 1, generator=g, dtype=torch.float64))).to(dtype)


def _unnormalised_hint(got, expected, vectors, l):
    """A hint if ``got`` is ``expected`` times |v|^l row by row: the vectors were not normalised."""
    if not isinstance(got, torch.Tensor) or got.shape != expected.shape or l == 0:
        return None
    scale = vectors.norm(dim=-1, keepdim=True) ** l
    if close(got, expected * scale) is None:
        return "the result depends on the lengths of the vectors: normalise them to unit vectors first"
    return None


# ---------------------------------------------------------------- 05.1 Yˡ for any l


def sh(l, vectors):
    """Yˡ(r̂) for each row of ``vectors`` (n, 3): shape (n, 2l+1), component normalisation, e3nn's sign."""
    return _sh(l, vectors)


def sh_cases(g):
    for _ in range(2):
        l = int(torch.randint(1, 7, (), generator=g))
        yield Case(l, _vectors(g, int(torch.randint(2, 8, (), generator=g))), note=f"l = {l}")
    yield Case(2, _vectors(g, 4), note="l = 2")


def sh_hidden(g):
    yield Case(0, _vectors(g, 3), note="l = 0")
    yield Case(1, _vectors(g, 1), note="a single vector, l = 1")
    yield Case(8, _vectors(g, 3), note="l = 8")
    yield Case(3, _vectors(g, 4, torch.float32), note="float32 vectors")


def sh_compare(got, expected, case):
    l, vectors = case.args
    if l == 0 and isinstance(got, torch.Tensor) and got.shape != expected.shape:
        return f"for l = 0 return ones of shape (n, 1), got shape {tuple(got.shape)}"
    hint = close(got, expected)
    if hint and _unnormalised_hint(got, expected, vectors, l):
        return _unnormalised_hint(got, expected, vectors, l)
    if hint and isinstance(got, torch.Tensor) and got.shape == expected.shape:
        lengths = (got.detach().to(torch.float64) ** 2).sum(-1)
        if not torch.allclose(lengths, torch.full_like(lengths, 2 * l + 1), rtol=1e-4):
            return f"{hint}: the squared length of each row should be 2l+1 = {2 * l + 1}"
        return f"{hint}: the length is right, so look at the coupling (which C, which order of the indices) or the sign"
    return hint


# ---------------------------------------------------------------- 05.2 the recursion's constant, norm normalisation


def norm_recursion_constant(l):
    """The ``c`` with ``Yˡ⁺¹ = c Σ_ij C^{(l,1,l+1)}_ijk Yˡ_i r̂_j`` when every Yˡ has unit length (e3nn's "norm").

    Component harmonics have ``c_l = (2l+3)/√(l+1)``; dividing each Yˡ by √(2l+1) turns it into
    ``c_l √(2l+1)/√(2l+3) = √((2l+1)(2l+3)/(l+1))``. A float.
    """
    return math.sqrt((2 * l + 1) * (2 * l + 3) / (l + 1))


def constant_cases(g):
    return [Case(int(l), note=f"l = {int(l)}") for l in torch.randint(1, 9, (3,), generator=g)]


def constant_hidden(g):
    return [Case(0, note="l = 0"), Case(12, note="l = 12")]


def constant_compare(got, expected, case):
    (l,) = case.args
    if isinstance(got, torch.Tensor) and got.numel() == 1:
        got = float(got)
    if isinstance(got, bool) or not isinstance(got, (int, float)):
        return f"return the constant as a number, not {type(got).__name__}"
    if abs(got - expected) <= 1e-6 * expected:
        return None
    if abs(got - (2 * l + 3) / math.sqrt(l + 1)) <= 1e-6 * expected:
        return "that is the constant for component-normalised harmonics (|Yˡ|² = 2l+1); here every Yˡ has length 1"
    if abs(got + expected) <= 1e-6 * expected:
        return "the constant is positive: e3nn's Yˡ⁺¹ has the sign of its recursion"
    return "not the right constant: which length does the coupling of a unit Yˡ with r̂ have?"


# ---------------------------------------------------------------- 05.3 predict: the octahedron's power spectrum

OCTAHEDRON = torch.tensor([[1.0, 0, 0], [0, 1, 0], [0, 0, 1], [-1, 0, 0], [0, -1, 0], [0, 0, -1]], dtype=torch.float64)


def octahedron_zeros():
    """The l in 1..4 where the power spectrum ``|Σ_j Yˡ(r̂_j)|²`` of the octahedron's six vertices is zero."""
    return "123"


def octahedron_compare(got, expected, case=None):
    if isinstance(got, (list, tuple, set)):
        got = "".join(str(x) for x in got)
    if not isinstance(got, str) or not all(c in "1234, " for c in got):
        return "answer with the l's as a string of digits from 1 to 4, such as \"24\""
    picked = {int(c) for c in got if c.isdigit()}
    want = {int(c) for c in expected}
    if picked == want:
        return None
    if 4 in picked:
        return "l = 4 is the first l with a function that has the full symmetry of a cube, x⁴ + y⁴ + z⁴ − ⅗ r⁴: it survives the sum"
    if not {1, 3} <= picked:
        return "with every vertex r̂ the octahedron also has −r̂; Yˡ(−r̂) = (−1)ˡ Yˡ(r̂): what happens to the sum for odd l?"
    return "l = 2 is a symmetric traceless matrix, Σ_j r̂_j r̂_jᵀ − ⅓ Σ_j I; compute Σ_j r̂_j r̂_jᵀ for the six vertices"


# ---------------------------------------------------------------- 05.4 a bispectrum with radial channels


def radial_bispectrum(vectors, l1, l2, l3, centres, width):
    """``B_abc = Σ_ijk C^{(l1,l2,l3)}_ijk A^{l1}_{a,i} A^{l2}_{b,j} A^{l3}_{c,k}``, shape ``(K, K, K)``.

    ``A^l_{a} = Σ_j w_a(|r_j|) Yˡ(r̂_j)`` with the radial channels ``w_a(r) = exp(-(r - centres[a])² / (2 width²))``;
    ``vectors`` (n, 3), ``centres`` (K,), ``width`` a float. Invariant under rotations.
    """
    w = torch.exp(-((vectors.norm(dim=-1, keepdim=True) - centres) ** 2) / (2 * width**2))  # (n, K)
    A = [torch.einsum("na,ni->ai", w, _sh(l, vectors)) for l in (l1, l2, l3)]
    return torch.einsum("ijk,ai,bj,ck->abc", clebsch_gordan(l1, l2, l3, dtype=vectors.dtype), *A)


def _bispectrum_call(answer, vectors, l1, l2, l3, centres, width, R):
    return answer(vectors, l1, l2, l3, centres, width), answer(vectors @ R.T, l1, l2, l3, centres, width)


def _triple(g):
    l1, l2 = (int(l) for l in torch.randint(0, 4, (2,), generator=g))
    return l1, l2, abs(l1 - l2) + int(torch.randint(0, 2 * min(l1, l2) + 1, (), generator=g))


def bispectrum_cases(g):
    for K in (2, 3):
        yield Case(_vectors(g, 6), *_triple(g), torch.linspace(0.5, 2.5, K, dtype=torch.float64), 0.6, rand_matrix(generator=g, dtype=torch.float64))
    yield Case(_vectors(g, 5), 1, 1, 2, torch.tensor([0.8, 1.6, 2.4], dtype=torch.float64), 0.5, rand_matrix(generator=g, dtype=torch.float64), note="(1, 1, 2)")


def bispectrum_hidden(g):
    yield Case(_vectors(g, 1), 1, 1, 0, torch.tensor([1.0, 2.0], dtype=torch.float64), 1.0, rand_matrix(generator=g, dtype=torch.float64), note="a single neighbour")
    yield Case(_vectors(g, 4), 0, 0, 0, torch.tensor([1.5], dtype=torch.float64), 0.7, rand_matrix(generator=g, dtype=torch.float64), note="l = 0 and one channel")
    yield Case(_vectors(g, 7), 2, 3, 4, torch.linspace(0.5, 3.0, 4, dtype=torch.float64), 0.4, rand_matrix(generator=g, dtype=torch.float64), note="(2, 3, 4), four channels")


def bispectrum_compare(got, expected, case):
    vectors, l1, l2, l3, centres, width, R = case.args
    if not (isinstance(got, tuple) and len(got) == 2 and all(isinstance(t, torch.Tensor) for t in got)):
        return close(got, expected)
    b, b_rotated = got
    hint = close(b, expected[0], what="B")
    if hint is None:
        return None if close(b_rotated, b) is None else "B changes when the neighbours are rotated: it should be invariant"
    if "shape" in hint:
        return hint
    if close(b_rotated, b) is not None:
        return "B changes when the neighbours are rotated: it should be invariant"
    ones = torch.ones_like(centres)
    plain = torch.einsum("ijk,i,j,k->", clebsch_gordan(l1, l2, l3, dtype=vectors.dtype), *(_sh(l, vectors).sum(0) for l in (l1, l2, l3)))
    if close(b, plain * torch.einsum("a,b,c->abc", ones, ones, ones)) is None:
        return "every channel gives the same number: weight each neighbour by its channel's w_a(|r|)"
    return hint


# ---------------------------------------------------------------- 05.5 predict: the bispectrum of a mirror image


def mirror_effect():
    """What mirroring the neighbours does to B when l1 + l2 + l3 is odd."""
    return "changes sign"


MIRROR_OPTIONS = ["unchanged", "changes sign", "changes otherwise"]
mirror_compare = choice(MIRROR_OPTIONS, why={
    "unchanged": "a mirror is a rotation (which B ignores) followed by the inversion −I; under −I each Aˡ picks up (−1)ˡ",
    "changes otherwise": "a mirror is a rotation (which B ignores) followed by the inversion −I, and −I multiplies each Aˡ by a sign",
})


EXERCISES = [
    Exercise("05.1", sh, sh_cases, sh_compare, title="Yˡ for any l", name="sh", hidden=sh_hidden, forbidden=SH_FORBIDDEN,
             mistakes=[(lambda l, v: torch.ones(len(v)) if l == 0 else sh(l, v), "ones of shape (n, 1)"),
                       (lambda l, v: sh(l, v) * v.norm(dim=-1, keepdim=True) ** l, "normalise them"),
                       (lambda l, v: 2 * sh(l, v), "squared length"),
                       (lambda l, v: sh(l, v).flip(-1) if l > 0 else sh(l, v), "the length is right"),
                       (as_student("lambda l, v: o3.spherical_harmonics(l, v, normalize=True, normalization='component')", o3=o3), "calls o3.spherical_harmonics"),
                       (as_student("lambda l, v: spherical_harmonics(l, v, normalization='component')", spherical_harmonics=symml_sh.spherical_harmonics), "calls symml.sh.spherical_harmonics"),
                       (as_student("lambda l, v: o3.SphericalHarmonics(l, True, 'component')(v)", o3=o3), "calls o3.SphericalHarmonics"),
                       (as_student("lambda l, v: o3.spherical_harmonics_alpha_beta(l, *o3.xyz_to_angles(v), normalization='component')", o3=o3),
                        "calls o3.spherical_harmonics_alpha_beta")]),
    Exercise("05.2", norm_recursion_constant, constant_cases, constant_compare, title="the recursion's constant, norm normalisation",
             name="norm_recursion_constant", points=2, hidden=constant_hidden, forbidden=CONSTANT_FORBIDDEN,
             mistakes=[(lambda l: (2 * l + 3) / math.sqrt(l + 1), "component-normalised"), (lambda l: -norm_recursion_constant(l), "positive"),
                       (lambda l: 1.0, "not the right constant"), (lambda l: "c", "as a number"),
                       (as_student("lambda l: float(o3.spherical_harmonics(min(l, 2), torch.ones(1, 3), True, 'norm').norm())", o3=o3, torch=torch), "calls o3.spherical_harmonics"),
                       (as_student("lambda l: float(sh(min(l, 2), torch.ones(1, 3)).norm())", sh=symml_sh.spherical_harmonics, torch=torch), "calls symml.sh.spherical_harmonics"),
                       (as_student("lambda l: float(o3.SphericalHarmonics(1, True, 'norm')(torch.ones(1, 3)).norm())", o3=o3, torch=torch), "calls o3.SphericalHarmonics"),
                       # measuring the constant again, as the lesson did, with 05.1's harmonics scaled to length 1
                       (as_student("lambda l: (lambda r: (lambda Y: float(1 / torch.einsum('ijk,ni,nj->nk', clebsch_gordan(l, 1, l + 1, dtype=r.dtype), Y, r).norm(dim=-1).mean()))"
                                   "(sh(l, r) / sh(l, r).norm(dim=-1, keepdim=True)))(torch.nn.functional.normalize(torch.randn(50, 3, dtype=torch.float64), dim=-1))",
                                   torch=torch, clebsch_gordan=clebsch_gordan, sh=sh), "calls symml.cg.clebsch_gordan")]),
    Exercise("05.3", octahedron_zeros, None, octahedron_compare, kind="value", name="octahedron_zeros", title="predict: the octahedron's power spectrum",
             mistakes=[("1234", "full symmetry of a cube"), ("2", "odd l"), ("13", "symmetric traceless matrix"), ("abc", "string of digits")]),
    Exercise("05.4", radial_bispectrum, bispectrum_cases, bispectrum_compare, call=_bispectrum_call, title="a bispectrum with radial channels",
             name="radial_bispectrum", points=2, hidden=bispectrum_hidden, forbidden=SH_FORBIDDEN,
             mistakes=[(lambda v, l1, l2, l3, c, w: radial_bispectrum(v, l1, l2, l3, c, w)[0], "shape"),
                       (lambda v, l1, l2, l3, c, w: radial_bispectrum(v, l1, l2, l3, c, w) + 1e-3 * v[0, 0], "rotated"),
                       (lambda v, l1, l2, l3, c, w: radial_bispectrum(v, l1, l2, l3, c, 1e6) * 1.0, "every channel gives the same number"),
                       (lambda v, l1, l2, l3, c, w: radial_bispectrum(v, l1, l2, l3, c, 2 * w), "wrong values"),
                       (as_student("lambda v, l1, l2, l3, c, w: o3.spherical_harmonics(l1, v, True)", o3=o3), "calls o3.spherical_harmonics"),
                       (as_student("lambda v, l1, l2, l3, c, w: spherical_harmonics(l1, v)", spherical_harmonics=symml_sh.spherical_harmonics), "calls symml.sh.spherical_harmonics"),
                       (as_student("lambda v, l1, l2, l3, c, w: o3.SphericalHarmonics(l1, True)(v)", o3=o3), "calls o3.SphericalHarmonics")]),
    Exercise("05.5", mirror_effect, None, mirror_compare, kind="value", name="mirror_effect", title="predict: the bispectrum of a mirror image",
             mistakes=[("unchanged", "picks up (−1)ˡ"), ("changes otherwise", "multiplies each Aˡ by a sign"), ("flips", "answer with one of")]),
]
