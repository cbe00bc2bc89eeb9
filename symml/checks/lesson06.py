"""Exercises of lesson 06, geometric tensors."""

import math

import torch
from e3nn import o3

from symml.cg import clebsch_gordan
from symml.checks import Case, Exercise, close
from symml.so3 import rand_matrix

# ---- 06.1: name the irreps

IRREPS = {
    "charge": "0e",
    "kinetic energy": "0e",
    "acceleration": "1o",
    "electric field": "1o",
    "electric dipole moment": "1o",
    "torque": "1e",
    "angular velocity": "1e",
    "magnetic field": "1e",
    "magnetic dipole moment": "1e",
    "helicity v · L": "0o",
    "Poynting vector E × B": "1o",
    "moment of inertia tensor": "0e+2e",
    "velocity gradient ∂v_i/∂x_j": "0e+1e+2e",
    "f orbital": "3o",
}


def irreps_of(quantity):
    return IRREPS[quantity]


def _quantities(g):
    return [Case(name, note=name) for name in IRREPS]


def _same_irreps(got, expected, case):
    try:
        got = o3.Irreps(got)
    except Exception:
        return f"write the irreps as a string like '1o' or '0e+2e', not {got!r}"
    got, expected = got.sort().irreps.simplify(), o3.Irreps(expected).sort().irreps.simplify()
    if got == expected:
        return None
    if got.dim != expected.dim:
        return f"wrong number of components ({got.dim}): count the independent numbers of the quantity"
    if [(mul, ir.l) for mul, ir in got] == [(mul, ir.l) for mul, ir in expected]:
        return "the l's are right but a parity is wrong: what does the inversion -I do to it?"
    return "wrong irreps"


# ---- 06.2: parity by experiment


def _dot(a, b):
    return (a * b).sum(-1, keepdim=True)


FUNCTIONS = {
    "a · b": (lambda a, b, c: _dot(a, b), 1),
    "a × b": (lambda a, b, c: torch.linalg.cross(a, b), 1),
    "a · (b × c)": (lambda a, b, c: _dot(a, torch.linalg.cross(b, c)), -1),
    "(a · b) c": (lambda a, b, c: _dot(a, b) * c, -1),
    "a × (b × c)": (lambda a, b, c: torch.linalg.cross(a, torch.linalg.cross(b, c)), -1),
    "|a|² (b × c)": (lambda a, b, c: _dot(a, a) * torch.linalg.cross(b, c), 1),
    "a + b × c": (lambda a, b, c: a + torch.linalg.cross(b, c), 0),
    "(a · (b × c)) a": (lambda a, b, c: _dot(a, torch.linalg.cross(b, c)) * a, 1),
    "|a| + a · (b × c)": (lambda a, b, c: a.norm(dim=-1, keepdim=True) + _dot(a, torch.linalg.cross(b, c)), 0),
}


def parity(f):
    a, b, c = torch.randn(3, 10, 3, dtype=torch.float64)
    y, y_inverted = f(a, b, c), f(-a, -b, -c)
    if torch.allclose(y_inverted, y):
        return 1
    if torch.allclose(y_inverted, -y):
        return -1
    return 0


def _call_on_function(answer, name):
    return answer(FUNCTIONS[name][0])


def _functions(g):
    return [Case(name, note=f"f(a, b, c) = {name}") for name in FUNCTIONS]


def _parity_compare(got, expected, case):
    if isinstance(got, torch.Tensor) and got.numel() == 1:
        got = got.item()
    if isinstance(got, bool) or not isinstance(got, (int, float)):
        return f"return the number 1, -1 or 0, not {type(got).__name__}"
    if got not in (1, -1, 0):
        return f"return 1, -1 or 0, not {got}"
    if got == expected:
        return None
    if expected == 0:
        return "this f is neither even nor odd: parts of it flip and parts do not"
    return "wrong parity: compare f(-a, -b, -c) with f(a, b, c)"


# ---- 06.3: pack a symmetric tensor into 0e + 2e


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


# ---- 06.4: from (y, z, x) to e3nn 0.6

CYCLE = torch.tensor([[0.0, 0, 1], [1, 0, 0], [0, 1, 0]], dtype=torch.float64)  # (y, z, x) → (x, y, z), a 3-fold rotation


def yzx_to_xyz(irreps, x):
    return x @ o3.Irreps(irreps).D_from_matrix(CYCLE.to(x.dtype)).T


def _old_features(g):
    for irreps in ["0e+1o", "1o+1e", "2e", "0e+1o+2e", "2x1o+3o"]:
        yield Case(irreps, torch.randn(3, o3.Irreps(irreps).dim, generator=g, dtype=torch.float64), note=f"irreps {irreps}")


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


EXERCISES = [
    Exercise("06.1", irreps_of, _quantities, _same_irreps, title="name the irreps", name="irreps_of"),
    Exercise("06.2", parity, _functions, _parity_compare, call=_call_on_function, title="parity by experiment", name="parity"),
    Exercise("06.3", pack_symmetric, _tensors, _pack_compare, call=_rotated_tensor_pair, title="pack a symmetric tensor into 0e + 2e", name="pack_symmetric"),
    Exercise("06.4", yzx_to_xyz, _old_features, _convert_compare, title="from (y, z, x) to e3nn 0.6", name="yzx_to_xyz"),
]
