"""Exercises of problem set 05, spherical harmonics: a function on the sphere from its coefficients, the recursion's constant in another
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


# ---------------------------------------------------------------- 05.1 a function on the sphere from its coefficients

FOUR_PI_SQRT = math.sqrt(4 * math.pi)


def sphere_function(coefficients, vectors):
    """``f(r̂) = Σ_l Σ_m c^l_m Yˡ_m(r̂)`` at the direction of each row of ``vectors`` (n, 3): shape ``(n,)``.

    ``coefficients``: a list ``[c⁰, c¹, …, c^L]``, ``c^l`` of shape ``(2l+1,)``, in e3nn's basis;
    the harmonics in the *integral* normalisation ``∫ (Yˡ_m)² dΩ = 1``, i.e. the component ones over √(4π).
    """
    return sum(_sh(l, vectors) @ c for l, c in enumerate(coefficients)) / FOUR_PI_SQRT


def _coefficients(g, L, dtype=torch.float64):
    return [torch.randn(2 * l + 1, generator=g, dtype=torch.float64).to(dtype) for l in range(L + 1)]


def sphere_function_cases(g):
    yield Case(_coefficients(g, 2), _vectors(g, 5), note="L = 2")
    L = int(torch.randint(3, 6, (), generator=g))
    yield Case(_coefficients(g, L), _vectors(g, int(torch.randint(2, 8, (), generator=g))), note=f"L = {L}")
    c = _coefficients(g, 3)
    yield Case([torch.zeros_like(x) for x in c[:-1]] + c[-1:], _vectors(g, 4), note="only l = 3 coefficients")


def sphere_function_hidden(g):
    yield Case(_coefficients(g, 0), _vectors(g, 3), note="L = 0: a constant function")
    yield Case(_coefficients(g, 1), _vectors(g, 1), note="a single vector, L = 1")
    yield Case([torch.zeros(2 * l + 1, dtype=torch.float64) for l in range(3)], _vectors(g, 3), note="every coefficient 0")
    yield Case(_coefficients(g, 7), 10 * _vectors(g, 4), note="L = 7, long vectors")
    yield Case(_coefficients(g, 3, torch.float32), _vectors(g, 4, torch.float32), note="float32")


def sphere_function_compare(got, expected, case):
    coefficients, vectors = case.args
    hint = close(got, expected, case, what="f")
    if hint is None or not isinstance(got, torch.Tensor) or got.shape != expected.shape:
        return hint
    got = got.detach().to(torch.float64)
    terms = [(_sh(l, vectors) @ c).to(torch.float64) / FOUR_PI_SQRT for l, c in enumerate(coefficients)]
    norms = vectors.norm(dim=-1).to(torch.float64)
    if close(got, FOUR_PI_SQRT * expected) is None:
        return "off by a constant factor: these harmonics are normalised so that ∫ (Yˡ_m)² dΩ = 1 over the whole sphere"
    if len(terms) > 1 and close(got, sum(t * norms**l for l, t in enumerate(terms))) is None:
        return "the result depends on the lengths of the vectors: only their directions count"
    if terms[0].abs().max() > 1e-6 and close(got, expected - terms[0]) is None:
        return "the l = 0 term, a constant, is missing"
    if terms[-1].abs().max() > 1e-6 and close(got, expected - terms[-1]) is None:
        return "the highest l is missing: coefficients holds c⁰ … c^L, L + 1 of them"
    return f"{hint}: look at each Yˡ (the coupling, the order of its indices, the sign) and how c^l meets it"


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
    Exercise("05.1", sphere_function, sphere_function_cases, sphere_function_compare, title="a function on the sphere from its coefficients",
             name="sphere_function", points=2, hidden=sphere_function_hidden, forbidden=SH_FORBIDDEN,
             mistakes=[(lambda c, v: FOUR_PI_SQRT * sphere_function(c, v), "constant factor"),
                       (lambda c, v: sum((_sh(l, v) @ x) * v.norm(dim=-1) ** l for l, x in enumerate(c)) / FOUR_PI_SQRT, "lengths of the vectors"),
                       (lambda c, v: sphere_function([torch.zeros_like(c[0])] + list(c[1:]), v), "l = 0 term"),
                       (lambda c, v: sphere_function(list(c[:-1]) + [torch.zeros_like(c[-1])], v), "highest l is missing"),
                       (lambda c, v: sphere_function([x.flip(0) for x in c], v), "the coupling"),
                       (lambda c, v: sphere_function(c, v)[:, None], "shape"),
                       (lambda c, v: None, "forget to `return`"),
                       (as_student("lambda c, v: sum(o3.spherical_harmonics(l, v, True, 'integral') @ x for l, x in enumerate(c))", o3=o3), "calls o3.spherical_harmonics"),
                       (as_student("lambda c, v: sum(spherical_harmonics(l, v, normalization='integral') @ x for l, x in enumerate(c))",
                                   spherical_harmonics=symml_sh.spherical_harmonics), "calls symml.sh.spherical_harmonics"),
                       (as_student("lambda c, v: o3.SphericalHarmonics(list(range(len(c))), True, 'integral')(v) @ torch.cat(c)", o3=o3, torch=torch),
                        "calls o3.SphericalHarmonics"),
                       (as_student("lambda c, v: o3.spherical_harmonics_alpha_beta(list(range(len(c))), *o3.xyz_to_angles(v), normalization='integral') @ torch.cat(c)",
                                   o3=o3, torch=torch), "calls o3.spherical_harmonics_alpha_beta")]),
    Exercise("05.2", norm_recursion_constant, constant_cases, constant_compare, title="the recursion's constant, norm normalisation",
             name="norm_recursion_constant", points=2, hidden=constant_hidden, forbidden=CONSTANT_FORBIDDEN,
             mistakes=[(lambda l: (2 * l + 3) / math.sqrt(l + 1), "component-normalised"), (lambda l: -norm_recursion_constant(l), "positive"),
                       (lambda l: 1.0, "not the right constant"), (lambda l: "c", "as a number"),
                       (as_student("lambda l: float(o3.spherical_harmonics(min(l, 2), torch.ones(1, 3), True, 'norm').norm())", o3=o3, torch=torch), "calls o3.spherical_harmonics"),
                       (as_student("lambda l: float(sh(min(l, 2), torch.ones(1, 3)).norm())", sh=symml_sh.spherical_harmonics, torch=torch), "calls symml.sh.spherical_harmonics"),
                       (as_student("lambda l: float(o3.SphericalHarmonics(1, True, 'norm')(torch.ones(1, 3)).norm())", o3=o3, torch=torch), "calls o3.SphericalHarmonics"),
                       # measuring the constant again, as the lesson did, with the component harmonics scaled to length 1
                       (as_student("lambda l: (lambda r: (lambda Y: float(1 / torch.einsum('ijk,ni,nj->nk', clebsch_gordan(l, 1, l + 1, dtype=r.dtype), Y, r).norm(dim=-1).mean()))"
                                   "(sh(l, r) / sh(l, r).norm(dim=-1, keepdim=True)))(torch.nn.functional.normalize(torch.randn(50, 3, dtype=torch.float64), dim=-1))",
                                   torch=torch, clebsch_gordan=clebsch_gordan, sh=_sh), "calls symml.cg.clebsch_gordan")]),
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
