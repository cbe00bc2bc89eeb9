"""Exercises of problem set 06, geometric tensors: predict the irreps of quantities the lesson did not
list, pack a symmetric tensor into e3nn's 0e + 2e, convert features from the old (y, z, x) convention,
and predict how much of l = 3 that conversion only relabels.

Conventions: e3nn 0.6 (vectors (x, y, z)); a symmetric tensor ``T`` is ``(n, 3, 3)``; features are
``(n, irreps.dim)``, one row per sample.
"""

import math

import e3nn.io as e3nn_io
import torch
from e3nn import o3

from symml.cg import clebsch_gordan
from symml.checks import Case, Exercise, close
from symml.checks.hints import as_student, compare_irreps, irreps_answer, shortcuts
from symml.so3 import rand_matrix

# ---- 06.1: predict the irreps of four quantities

QUANTITIES = {
    "E · B": "0o",
    "E × B": "1o",
    "symmetric traceless part of E_i B_j": "2o",
    "piezoelectric tensor d_ijk = d_ikj": "2x1o + 2o + 3o",
}
WHY = {  # what to think about when a prediction is wrong, by quantity
    "E · B": "E is a vector, B a pseudovector: what does −I do to each, and to their dot product?",
    "E × B": "the cross product of a vector and a pseudovector: apply −I to both and look at the result",
    "symmetric traceless part of E_i B_j": "a symmetric 3×3 tensor of two vectors is 0e + 2e, and 'traceless' removes one part; what does −I do to E_i B_j when B is a pseudovector?",
    "piezoelectric tensor d_ijk = d_ikj": "index i is a vector and the pair jk a symmetric tensor: multiply the irreps of the two",
}


def quantity_irreps():
    """The irreps of each quantity in ``QUANTITIES``: a dict from its name to an irreps string."""
    return dict(QUANTITIES)


def quantities_compare(got, expected, case=None):
    if not isinstance(got, dict):
        return f"answer with a dict from each quantity to its irreps string, not {type(got).__name__}"
    missing = [name for name in expected if name not in got]
    if missing:
        return f"the dict has no entry for {missing[0]!r}: keep the keys as given"
    for name, want in expected.items():

        def explain(mine, want, name=name):
            if mine.dim != want.dim:
                return f"{mine.dim} components, but the quantity has {want.dim} independent numbers"
            return WHY[name]

        hint = compare_irreps(irreps_answer(got[name]), want, explain)
        if hint:
            return f"{name}: {hint}"
    return None


# ---- 06.2: pack a symmetric tensor into 0e + 2e


def pack_symmetric(T):
    scalar = torch.einsum("ijk,...ij->...k", clebsch_gordan(1, 1, 0, dtype=T.dtype), T)
    l2 = math.sqrt(5) * torch.einsum("ijk,...ij->...k", clebsch_gordan(1, 1, 2, dtype=T.dtype), T)
    return torch.cat([scalar, l2], dim=-1)


def _rotated_tensor_pair(answer, T, R):
    return answer(T), answer(R @ T @ R.T)


def _symmetric(g, n):
    A = torch.randn(n, 3, 3, generator=g, dtype=torch.float64)
    return A + A.transpose(-1, -2)


def _tensors(g):
    def rot():
        return rand_matrix(generator=g, dtype=torch.float64)

    yield Case(_symmetric(g, 4), rot())
    r = torch.nn.functional.normalize(torch.randn(3, 3, generator=g, dtype=torch.float64), dim=-1)
    yield Case(r[:, :, None] * r[:, None, :], rot(), note="T = r̂ r̂ᵀ")
    yield Case(torch.diag(torch.tensor([1.0, -1.0, 0.0], dtype=torch.float64))[None], rot(), note="a traceless diagonal tensor")
    yield Case(_symmetric(g, 2), rot())


def _tensors_hidden(g):
    yield Case(2.5 * torch.eye(3, dtype=torch.float64)[None], rand_matrix(generator=g, dtype=torch.float64), note="a multiple of the identity")
    yield Case(torch.zeros(1, 3, 3, dtype=torch.float64), rand_matrix(generator=g, dtype=torch.float64), note="the zero tensor")
    yield Case(_symmetric(g, 3).float(), rand_matrix(generator=g, dtype=torch.float32), note="float32 tensors")


PACK_FORBIDDEN = {name: f for name, f in shortcuts("tensor products").items() if "CartesianTensor" in name or "Reduced" in name}


def _pack_unscaled(T):  # a mistake: the Clebsch-Gordan contractions without the factors that keep lengths
    scalar = torch.einsum("ijk,...ij->...k", clebsch_gordan(1, 1, 0, dtype=T.dtype), T)
    return torch.cat([scalar, torch.einsum("ijk,...ij->...k", clebsch_gordan(1, 1, 2, dtype=T.dtype), T)], dim=-1)


def _pack_compare(got, expected, case):
    T, R = case.args
    if not (isinstance(got, tuple) and len(got) == 2 and all(isinstance(t, torch.Tensor) for t in got)):
        return close(got, expected)
    x, x_rotated = (t.to(torch.float64) for t in got)
    if x.shape != expected[0].shape:
        return close(x, expected[0])
    if close(x, expected[0]) is None and close(x_rotated, expected[1]) is None:
        return None
    D = o3.Irreps("0e+2e").D_from_matrix(R)
    if close(x_rotated, x @ D.T) is not None:
        if close(x_rotated, x @ D) is None:
            return "your coordinates rotate with the inverse (transposed) matrix: check the order of the indices"
        return "your coordinates do not rotate with o3.Irreps('0e+2e').D_from_matrix(R)"
    lengths, wanted = x.norm(dim=-1), T.flatten(-2).norm(dim=-1)
    if not torch.allclose(lengths, wanted, rtol=1e-4, atol=1e-6):
        parts = [(x[..., :1], expected[0][..., :1], "the 0e coordinate"), (x[..., 1:], expected[0][..., 1:], "the 2e block")]
        for part, want, name in parts:
            if close(part, want) is not None and close(part.abs(), want.abs()) is not None:
                return f"the length is not kept: |x| should be |T| (Frobenius); {name} is off by a factor"
        return "the length is not kept: |x| should be |T| (Frobenius)"
    if close(x[..., :1], expected[0][..., :1]) is not None:
        return "the 0e coordinate has the wrong sign: it should be positive for a positive trace"
    if close(x[..., 1:], expected[0][..., 1:]) is not None:
        return "the 2e block has the wrong sign: for T = r̂ r̂ᵀ it should point along +Y²(r̂)"
    return close(got, expected)


# ---- 06.3: from (y, z, x) to e3nn 0.6


CYCLE = torch.tensor([[0.0, 0, 1], [1, 0, 0], [0, 1, 0]], dtype=torch.float64)  # (y, z, x) → (x, y, z), a 3-fold rotation


def yzx_to_xyz(irreps, x):
    return x @ o3.Irreps(irreps).D_from_matrix(CYCLE.to(x.dtype)).T


def _old_features(g):
    for irreps in ["0e+1o", "1o+1e", "2e", "0e+1o+2e", "2x1o+3o"]:
        yield Case(irreps, torch.randn(3, o3.Irreps(irreps).dim, generator=g, dtype=torch.float64), note=f"irreps {irreps}")


def _old_features_hidden(g):
    yield Case("0e", torch.randn(2, 1, generator=g, dtype=torch.float64), note="a lone scalar")
    yield Case("1o", torch.randn(1, 3, generator=g, dtype=torch.float64), note="a single vector")
    yield Case("2x2e+0o", torch.randn(4, 11, generator=g, dtype=torch.float64), note="two l = 2 features and a pseudoscalar")
    l = int(torch.randint(4, 7, (), generator=g))  # "every l": beyond the visible ones, so no table of matrices passes
    yield Case(f"{l}e+{l + 1}o", torch.randn(2, 4 * l + 4, generator=g, dtype=torch.float64), note=f"l = {l} and {l + 1}")


def _keep_l(irreps, x, y, l):  # a mistake helper: block(s) of l left as they were
    y = y.clone()
    for (mul, ir), s in zip(o3.Irreps(irreps), o3.Irreps(irreps).slices()):
        if ir.l == l:
            y[..., s] = x[..., s]
    return y


def _flip_l(irreps, y, l):
    y = y.clone()
    for (mul, ir), s in zip(o3.Irreps(irreps), o3.Irreps(irreps).slices()):
        if ir.l == l:
            y[..., s] = -y[..., s]
    return y


def _convert_compare(got, expected, case):
    irreps, x = case.args
    hint = close(got, expected)
    if hint is None or not isinstance(got, torch.Tensor) or got.shape != expected.shape:
        return hint
    irreps = o3.Irreps(irreps)
    wrong = [ir for (mul, ir), s in zip(irreps, irreps.slices()) if close(got[..., s], expected[..., s]) is not None]
    right = sorted({ir.l for mul, ir in irreps} - {ir.l for ir in wrong})
    first = wrong[0]
    if first.l == 0:
        return "a scalar (l = 0) is the same number in both conventions"
    s = irreps.slices()[[ir for _, ir in irreps].index(first)]
    if close(got[..., s], x[..., s]) is None:
        if first.l == 1:
            return f"the {first} block is left unchanged: its (y, z, x) must become (x, y, z)"
        return f"the l={first.l} block is left unchanged, but it must change too"
    if close(got, x @ irreps.D_from_matrix(CYCLE.to(x.dtype))) is None:
        return "this converts the wrong way, from e3nn 0.6 to the old convention: use the inverse"
    known = f" (the l = {', '.join(map(str, right))} blocks are right)" if right else ""
    return f"the {first} block is wrong{known}"


# ---- 06.4: predict: how many l = 3 components does the conversion only relabel?


def l3_relabelled():
    """How many of the seven l = 3 components go from the old convention to e3nn 0.6 as ± one component.

    The conversion is ``D³`` of the 3-fold rotation x → y → z → x; its rows that are ± a unit vector
    are the relabelled components. Of the cubic harmonics only xyz is mapped to ± itself; the others mix.
    """
    return 1


def l3_compare(got, expected, case=None):
    if isinstance(got, bool) or not isinstance(got, int):
        return f"answer with a whole number of components, from 0 to 7, not {type(got).__name__}"
    if not 0 <= got <= 7:
        return "l = 3 has seven components: the count is from 0 to 7"
    if got == expected:
        return None
    if got == 7:
        return "lesson 06 found that already at l = 2 a permutation is not enough: the polar axis moves from z to y"
    if got == 3:
        return "l = 2 kept three (xy, yz, zx); l = 3 has other functions: which of them does x → y → z → x turn into ± one of the seven?"
    if got == 0:
        return "one l = 3 function is unchanged, up to sign, by every relabelling of the axes: find it among the cubic monomials"
    return "relabel x → y → z → x in each of the seven l = 3 functions of the old list and count those that come out as ± one of the list"


EXERCISES = [
    Exercise("06.1", quantity_irreps, None, quantities_compare, kind="value", name="irreps", title="predict: the irreps of four quantities",
             points=2,
             mistakes=[(dict(QUANTITIES, **{"E · B": "0e"}), "what does −I do to each"),
                       (dict(QUANTITIES, **{"E × B": "1e"}), "apply −I to both"),
                       (dict(QUANTITIES, **{"symmetric traceless part of E_i B_j": "0o + 2o"}), "independent numbers"),
                       (dict(QUANTITIES, **{"symmetric traceless part of E_i B_j": "2e"}), "when B is a pseudovector"),
                       (dict(QUANTITIES, **{"symmetric traceless part of E_i B_j": "0o + 1o + 2o"}), "independent numbers"),
                       (dict(QUANTITIES, **{"piezoelectric tensor d_ijk = d_ikj": "1o + 2o + 3o + 1e"}), "multiply the irreps"),
                       (dict(QUANTITIES, **{"E · B": "scalar"}), "not an irreps string"),
                       ({"E · B": "0o"}, "has no entry"), ("0o", "answer with a dict")]),
    Exercise("06.2", pack_symmetric, _tensors, _pack_compare, call=_rotated_tensor_pair, title="pack a symmetric tensor into 0e + 2e",
             name="pack_symmetric", points=2, hidden=_tensors_hidden, forbidden=PACK_FORBIDDEN,
             mistakes=[(lambda T: pack_symmetric(T)[..., :5], "shape"),
                       (lambda T: pack_symmetric(T.transpose(-1, -2)) @ o3.Irreps("0e+2e").D_from_matrix(rand_matrix(dtype=T.dtype, seed=3)), "do not rotate"),
                       (_pack_unscaled, "off by a factor"),
                       (lambda T: pack_symmetric(T) * torch.tensor([-1.0, 1, 1, 1, 1, 1], dtype=T.dtype), "0e coordinate has the wrong sign"),
                       (lambda T: pack_symmetric(T) * torch.tensor([1.0, -1, -1, -1, -1, -1], dtype=T.dtype), "2e block has the wrong sign"),
                       (as_student("lambda T: torch.einsum('kij,nij->nk', o3.ReducedTensorProducts('ij=ji', i='1o').change_of_basis, T)", o3=o3, torch=torch), "calls o3.ReducedTensorProducts"),
                       (as_student("lambda T: e3nn_io.CartesianTensor('ij=ji').from_cartesian(T)", e3nn_io=e3nn_io), "calls e3nn.io.CartesianTensor")]),
    Exercise("06.3", yzx_to_xyz, _old_features, _convert_compare, title="from (y, z, x) to e3nn 0.6", name="yzx_to_xyz", points=2,
             hidden=_old_features_hidden,
             mistakes=[(lambda irreps, x: x * (2 if o3.Irreps(irreps)[0].ir.l == 0 else 1), "a scalar"),
                       (lambda irreps, x: _keep_l(irreps, x, yzx_to_xyz(irreps, x), 1), "its (y, z, x) must become"),
                       (lambda irreps, x: _keep_l(irreps, x, yzx_to_xyz(irreps, x), 2), "must change too"),
                       (lambda irreps, x: x @ o3.Irreps(irreps).D_from_matrix(CYCLE.to(x.dtype)), "the wrong way"),
                       (lambda irreps, x: -yzx_to_xyz(irreps, x) if o3.Irreps(irreps)[0].ir.l > 0 else _flip_l(irreps, yzx_to_xyz(irreps, x), 2), "block is wrong"),
                       (lambda irreps, x: yzx_to_xyz(irreps, x)[:, :1], "shape")]),
    Exercise("06.4", l3_relabelled, None, l3_compare, kind="value", name="l3_relabelled", title="predict: how many l = 3 components are only relabelled?",
             mistakes=[(7, "already at l = 2"), (3, "l = 2 kept three"), (0, "unchanged, up to sign"), (2, "count those"), (8, "from 0 to 7"), ("1", "whole number")]),
]
