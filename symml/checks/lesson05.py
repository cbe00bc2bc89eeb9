"""Exercises of problem set 05, spherical harmonics: a function on the sphere from its coefficients, the recursion's constant in another
normalisation, a predicted power spectrum, the radial power spectrum from pairs of neighbours, and its rank.

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


# ---------------------------------------------------------------- 05.3 predict: the icosahedron's power spectrum

PHI = (1 + math.sqrt(5)) / 2
ICOSAHEDRON = torch.tensor([[0.0, s1, s2 * PHI] for s1 in (-1, 1) for s2 in (-1, 1)]
                           + [[s1, s2 * PHI, 0.0] for s1 in (-1, 1) for s2 in (-1, 1)]
                           + [[s2 * PHI, 0.0, s1] for s1 in (-1, 1) for s2 in (-1, 1)], dtype=torch.float64)


def icosahedron_zeros():
    """The l in 1..6 where the power spectrum ``|Σ_j Yˡ(r̂_j)|²`` of the icosahedron's twelve vertices is zero.

    Odd l cancel in ± pairs; the icosahedral group leaves no vector of l = 2 or l = 4 alone (its first
    invariant beyond l = 0 is at l = 6).
    """
    return "12345"


def icosahedron_compare(got, expected, case=None):
    if isinstance(got, (list, tuple, set)):
        got = "".join(str(x) for x in got)
    if not isinstance(got, str) or not all(c in "123456, " for c in got):
        return "answer with the l's as a string of digits from 1 to 6, such as \"24\""
    picked = {int(c) for c in got if c.isdigit()}
    want = {int(c) for c in expected}
    if picked == want:
        return None
    if not {1, 3, 5} <= picked:
        return "every vertex r̂ of the icosahedron has its opposite −r̂ among the twelve; Yˡ(−r̂) = (−1)ˡ Yˡ(r̂): what happens to odd l?"
    if 6 in picked:
        return "p_l is forced to vanish only where the shape's symmetries leave no vector of type l alone; count them for l = 6, as lesson 05 did"
    if 4 not in picked:
        return "the cube's l = 4 survivor, x⁴ + y⁴ + z⁴ − ⅗ r⁴, needs the cube's axes; count the l = 4 vectors the icosahedron's 120 symmetries leave alone"
    return "l = 2 is a symmetric traceless matrix, Σ_j r̂_j r̂_jᵀ − (n/3) I: which such matrix can a shape with five-fold axes keep?"


# ---------------------------------------------------------------- 05.4 the radial power spectrum from pairs of neighbours


def _legendre(l, x):
    """P_l(x) by Bonnet's recursion (k+1) P_{k+1} = (2k+1) x P_k − k P_{k−1}."""
    previous, current = torch.ones_like(x), x
    if l == 0:
        return previous
    for k in range(1, l):
        previous, current = current, ((2 * k + 1) * x * current - k * previous) / (k + 1)
    return current


def _channels(vectors, centres, width):
    return torch.exp(-((vectors.norm(dim=-1, keepdim=True) - centres) ** 2) / (2 * width**2))  # (n, K)


def pair_power_spectrum(vectors, l, centres, width):
    """``p_nn'l = Σ_jk g_n(|r_j|) g_n'(|r_k|) (2l+1) P_l(r̂_j · r̂_k)``, shape ``(K, K)``, without spherical harmonics.

    The pair form of lesson 05's ``Σ_m A^l_nm A^l_n'm`` (component normalisation), by the addition
    theorem; ``g_n(r) = exp(−(r − centres[n])² / (2 width²))``; the pairs j = k count too.
    """
    r = vectors / vectors.norm(dim=-1, keepdim=True)
    g = _channels(vectors, centres, width)
    return (2 * l + 1) * g.T @ _legendre(l, (r @ r.T).clamp(-1, 1)) @ g


def _pairs_cases(g):
    for K, l in ((3, int(torch.randint(1, 4, (), generator=g))), (4, int(torch.randint(2, 7, (), generator=g)))):
        yield Case(_vectors(g, int(torch.randint(3, 8, (), generator=g))), l, torch.linspace(0.5, 2.5, K, dtype=torch.float64), 0.6, note=f"l = {l}")
    yield Case(_vectors(g, 5), 0, torch.linspace(0.5, 2.5, 5, dtype=torch.float64), 0.4, note="l = 0")


def _pairs_hidden(g):
    yield Case(_vectors(g, 1), 3, torch.tensor([1.0, 2.0], dtype=torch.float64), 0.8, note="a single neighbour")
    v = _vectors(g, 1)
    yield Case(torch.cat([v, 2 * v]), 2, torch.tensor([1.0, 2.0], dtype=torch.float64), 0.8, note="two neighbours in the same direction")
    yield Case(_vectors(g, 6), 8, torch.linspace(0.5, 3.0, 3, dtype=torch.float64), 0.5, note="l = 8")
    yield Case(_vectors(g, 4, torch.float32), 2, torch.linspace(0.5, 2.5, 3, dtype=torch.float32), 0.6, note="float32")


def pairs_compare(got, expected, case):
    vectors, l, centres, width = case.args
    hint = close(got, expected, case, what="p")
    if hint is None or not isinstance(got, torch.Tensor) or got.shape != expected.shape:
        return hint
    got = got.detach().to(torch.float64)
    g = _channels(vectors, centres, width).to(torch.float64)
    self_pairs = (2 * l + 1) * g.T @ g
    if l > 0 and close(got, expected / (2 * l + 1)) is None:
        return "the addition theorem in component normalisation is Yˡ(a)·Yˡ(b) = (2l+1) P_l(a·b): the factor is missing"
    if close(got, expected - self_pairs) is None:
        return "the pairs j = k count too: each neighbour pairs with itself, with P_l(1) = 1"
    return f"{hint}: check P_l (its recursion) at the cosine of each pair's angle, and that each pair meets g_n of one and g_n' of the other"


# ---------------------------------------------------------------- 05.5 predict: the rank of p_nn'0


def rank_l0():
    """The rank of the 5×5 matrix ``p_nn'0`` of four neighbours at four different distances (five channels)."""
    return "1"


RANK_OPTIONS = ["1", "4", "5"]
rank_compare = choice(RANK_OPTIONS, why={
    "4": "write p_nn'0 with Y⁰ = 1 (or P_0 = 1): is it a sum of one outer product per neighbour, or a single outer product?",
    "5": "five channels give a 5×5 matrix, but its rank is set by how it is built: write p_nn'0 with Y⁰ = 1",
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
    Exercise("05.3", icosahedron_zeros, None, icosahedron_compare, kind="value", name="icosahedron_zeros",
             title="predict: the icosahedron's power spectrum",
             mistakes=[("1235", "l = 4 vectors"), ("123456", "for l = 6"), ("24", "odd l"), ("1345", "five-fold axes"), ("abc", "string of digits")]),
    Exercise("05.4", pair_power_spectrum, _pairs_cases, pairs_compare, title="the radial power spectrum from pairs of neighbours",
             name="pair_power_spectrum", points=2, hidden=_pairs_hidden, forbidden=CONSTANT_FORBIDDEN,
             mistakes=[(lambda v, l, c, w: pair_power_spectrum(v, l, c, w) / (2 * l + 1) if l else 2 * pair_power_spectrum(v, l, c, w), "factor is missing"),
                       (lambda v, l, c, w: pair_power_spectrum(v, l, c, w) - (2 * l + 1) * _channels(v, c, w).T @ _channels(v, c, w), "j = k count too"),
                       (lambda v, l, c, w: pair_power_spectrum(v, l + 1, c, w) * (2 * l + 1) / (2 * l + 3), "check P_l"),
                       (lambda v, l, c, w: pair_power_spectrum(v, l, c, w)[0], "shape"),
                       (as_student("lambda v, l, c, w: (lambda g, Y: g.T @ Y @ Y.T @ g)(torch.exp(-((v.norm(dim=-1, keepdim=True) - c) ** 2) / (2 * w**2)), "
                                   "o3.spherical_harmonics(l, v, True, 'component'))", o3=o3, torch=torch), "calls o3.spherical_harmonics"),
                       (as_student("lambda v, l, c, w: (lambda g, Y: g.T @ Y @ Y.T @ g)(torch.exp(-((v.norm(dim=-1, keepdim=True) - c) ** 2) / (2 * w**2)), "
                                   "sh(l, v, normalization='component'))", sh=symml_sh.spherical_harmonics, torch=torch), "calls symml.sh.spherical_harmonics")]),
    Exercise("05.5", rank_l0, None, rank_compare, kind="value", name="rank_l0", title="predict: the rank of the l = 0 radial power spectrum",
             mistakes=[("4", "single outer product"), ("5", "how it is built"), ("one", "answer with one of")]),
]
