"""Comparing an answer with the reference: the hints a student reads when an answer is wrong.

Every ``compare`` of an exercise returns ``None`` when the answer is right, else one short sentence
that says *what* is wrong (a shape, a sign, a factor, a broken symmetry) without the expected numbers.
The lesson files build their own comparisons from these.
"""

import torch

__all__ = ["as_bool", "as_irreps", "choice", "close", "compare_irreps", "error_size"]



def as_bool(got) -> bool | str:
    """A yes/no answer as a Python bool (a one-element boolean tensor counts too); else the hint to give."""
    if isinstance(got, torch.Tensor) and got.numel() == 1 and got.dtype == torch.bool:
        return bool(got)
    return got if isinstance(got, bool) else f"return True or False, not {type(got).__name__}"


def as_irreps(got):
    """An irreps answer (a string such as ``"1x0e + 2x1o"`` or an ``o3.Irreps``) sorted and simplified; else the hint to give."""
    from e3nn import o3

    if not isinstance(got, (str, o3.Irreps)):
        return f"answer with an irreps string such as \"1x0e + 2x1o\", not {type(got).__name__}"
    try:
        return o3.Irreps(got).sort().irreps.simplify()
    except Exception:
        return f"{got!r} is not an irreps string (write it like \"1x0e + 2x1o\")"


def compare_irreps(got, expected, explain):
    """``None`` if the irreps answer ``got`` equals ``expected`` (both sorted and simplified), else a hint.

    The hint is :func:`as_irreps`'s when ``got`` is no irreps string, else ``explain(mine, want)``
    with both as sorted, simplified ``o3.Irreps``.
    """
    mine = as_irreps(got)
    if isinstance(mine, str):
        return mine
    want = as_irreps(expected)
    return None if mine == want else explain(mine, want)


def choice(options, why: dict | None = None):
    """A ``compare`` for a prediction picked from ``options`` (strings: ``"a"``, ``"b"``, or whole words).

    ``why`` maps each wrong option to the hint that teaches the idea behind the right one without
    naming it ("a rotation by 90° maps x to y: count what the rotation does to the trace"). An answer
    that is not one of the options gets the list of options back.
    """
    options = [str(o) for o in options]

    def compare(got, expected, case=None):
        picked = got.strip() if isinstance(got, str) else got
        if picked not in options:
            return f"answer with one of {', '.join(repr(o) for o in options)}, not {got!r}"
        if picked == expected:
            return None
        return (why or {}).get(picked, "that is not what happens: go back to the argument in the lesson")

    return compare


def error_size(got, expected, *, should_vanish: str, missed: str, wrong_size: str) -> str | None:
    """Compare an equivariance *error* the student measured (a number) with the reference's.

    Right when both are ~0 (below 1e-9), or both are non-zero and agree to 1e-6 (relative). The
    three hints say what to fix when the student finds an error where there is none (``should_vanish``),
    none where there is one (``missed``), or one of the wrong size (``wrong_size``).
    """
    if isinstance(got, torch.Tensor) and got.numel() == 1:
        got = float(got)
    if not isinstance(got, (int, float)) or isinstance(got, bool):
        return f"return the error as a number, not {type(got).__name__}"
    if got != got:
        return "the error is nan"
    if expected < 1e-9:
        return None if got < 1e-9 else should_vanish
    if got < 1e-9:
        return missed
    return wrong_size if abs(got - expected) > 1e-6 * max(1.0, expected) else None


def close(got, expected, case=None, *, rtol: float = 1e-4, atol: float = 1e-5, what: str = "the output") -> str | None:
    """``None`` if ``got`` matches ``expected`` (tensors, numbers, or tuples/lists of them), else a hint.

    Tolerance: ``|got - expected| ≤ atol + rtol · max|expected|`` entrywise. Integers and booleans
    must match exactly. The hints name what is wrong, never the expected numbers: a missing
    ``return``, the type, the shape, nan, a flipped sign, a constant factor, a transpose, off by one.
    """
    be = "are" if what.endswith("s") else "is"  # "the forces are", "the output is"
    if got is None and expected is not None:
        return f"{what} {be} None: did you forget to `return` it?"
    if isinstance(expected, (tuple, list)):
        if not isinstance(got, (tuple, list)) or len(got) != len(expected):
            return f"{what} should be a tuple of {len(expected)} items, got {_type_name(got)}"
        for i, (g, e) in enumerate(zip(got, expected)):
            hint = close(g, e, case, rtol=rtol, atol=atol, what=f"item {i} of {what}")
            if hint:
                return hint
        return None
    e, g = _as_tensor(expected), _as_tensor(got)
    if e is None:
        return None if got == expected else f"{what} {be} wrong"
    if g is None:
        return f"{what} should be a tensor or a number, not {_type_name(got)}"
    if g.is_complex() != e.is_complex():
        return f"{what} should {'' if e.is_complex() else 'not '}be complex"
    if g.shape != e.shape:
        hint = f"{what} {'have' if be == 'are' else 'has'} shape {_shape(g)} but should have shape {_shape(e)}"
        if g.numel() == e.numel():
            hint += " (the right number of entries, arranged differently)"
        return hint
    if e.dtype == torch.bool or g.dtype == torch.bool:
        return None if torch.equal(g.bool(), e.bool()) else f"{what} {be} wrong: some True/False values are flipped"
    if not (e.is_floating_point() or e.is_complex()):  # integers: exact
        if g.is_floating_point() and not torch.equal(g, g.round()):
            return f"{what} should be a whole number"
        d = (g.to(torch.float64) - e.to(torch.float64)).abs()
        if d.max() == 0:
            return None
        return f"{what} {be} off by one" if d.max() == 1 else f"{what} {be} wrong"
    wide = torch.complex128 if e.is_complex() else torch.float64
    g, e = g.detach().to(wide), e.detach().to(wide)
    if e.numel() == 0:
        return None
    if not torch.isfinite(g).all() and torch.isfinite(e).all():
        return f"{what} contain{'s' if be == 'is' else ''} nan or inf"
    scale = float(e.abs().max())
    tol = atol + rtol * scale

    def near(a):
        return float((a - e).abs().max()) <= tol

    if near(g):
        return None
    if scale > tol and near(-g):
        return f"{what} {be} off by a sign"
    if g.dim() >= 2 and g.shape[-1] == g.shape[-2] and scale > tol and near(g.transpose(-1, -2)):
        return f"{what} {be} transposed"
    ee = float((e.conj() * e).real.sum())
    if ee > 0 and scale > tol:
        r = complex((e.conj() * g).sum()) / ee
        if abs(r.imag) < 1e-9 and abs(r.real) > 1e-9 and float((g - r.real * e).abs().max()) <= tol * max(1.0, abs(r.real)):
            factor = _factor(r.real)  # named only when it is a whole number (2×, 1/3...)
            if factor:
                return f"{what} {be} off by a constant factor ({factor})"
            if e.numel() > 1:  # for a single number any wrong value is "a factor": say nothing
                return f"{what} {be} off by a constant factor"
    return f"{what} {'have' if be == 'are' else 'has'} the wrong values"


def _as_tensor(x):
    if isinstance(x, torch.Tensor):
        return x
    if isinstance(x, (bool, int, float, complex)):
        return torch.tensor(x)
    if type(x).__module__ == "numpy":
        try:
            return torch.as_tensor(x)
        except Exception:
            return None
    if isinstance(x, (tuple, list)):
        try:
            return torch.as_tensor(x)
        except Exception:
            return None
    return None


def _factor(r: float) -> str:
    """"3× too large", "2× too small, and a flipped sign", or "" when ``r`` is no simple ratio."""
    a, sign = abs(r), (", and the sign is flipped" if r < 0 else "")
    for k in range(2, 1001):
        if abs(a - k) < 1e-3 * k:
            return f"{k}× too large{sign}"
        if abs(1 / a - k) < 1e-3 * k:
            return f"{k}× too small{sign}"
    return ""


def _shape(t: torch.Tensor) -> str:
    return "(" + ", ".join(str(n) for n in t.shape) + ("," if t.dim() == 1 else "") + ")"


def _type_name(x) -> str:
    return "None" if x is None else f"a {type(x).__name__}"


def as_student(source: str, **names):
    """A function written as if in a student's notebook: ``as_student("lambda x: o3.wigner_3j(1, 1, 2)", o3=o3)``.

    For the ``mistakes`` of an exercise that calls a forbidden function: code defined in symml is
    trusted by the tripwire (it is the library), code compiled here counts as the student's.
    """
    return eval(compile(source, "<student notebook>", "eval"), dict(names))


def shortcuts(*kinds: str) -> dict:
    """``{display name: callable}`` of the library calls that compute what an exercise asks to derive, for ``forbidden=``.

    ``kinds``: ``"tensor products"`` (e3nn's and symml's tensor-product modules and e3nn's Cartesian
    tensors, which hold Clebsch-Gordan coefficients and the product rule inside), ``"clebsch-gordan"``
    (``o3.wigner_3j``, ``symml.cg.clebsch_gordan`` and the private functions behind them),
    ``"spherical harmonics"`` (every e3nn and symml route to Yˡ). A class counts as called when the
    answer constructs it (its ``__init__``), since its methods are then called by the library.
    """
    import e3nn.io
    from e3nn import o3

    import symml.cg
    import symml.nn
    import symml.sh

    table = {
        "tensor products": {
            "o3.TensorProduct": o3.TensorProduct.__init__, "o3.FullTensorProduct": o3.FullTensorProduct.__init__,
            "o3.FullTensorProductv2": o3.FullTensorProductv2.__init__,
            "o3.FullyConnectedTensorProduct": o3.FullyConnectedTensorProduct.__init__,
            "o3.ElementwiseTensorProduct": o3.ElementwiseTensorProduct.__init__, "o3.TensorSquare": o3.TensorSquare.__init__,
            "o3.ReducedTensorProducts": o3.ReducedTensorProducts.__init__, "symml.nn.TensorProduct": symml.nn.TensorProduct.__init__,
            "e3nn.io.CartesianTensor": e3nn.io.CartesianTensor.from_cartesian,
            "e3nn.io.CartesianTensor.to_cartesian": e3nn.io.CartesianTensor.to_cartesian,
            "e3nn.io.CartesianTensor.reduced_tensor_products": e3nn.io.CartesianTensor.reduced_tensor_products,
        },
        "clebsch-gordan": {
            "o3.wigner_3j": o3.wigner_3j, "symml.cg.clebsch_gordan": symml.cg.clebsch_gordan,
            "symml.cg._clebsch_gordan": symml.cg._clebsch_gordan, "symml.cg._product_eigenspaces": symml.cg._product_eigenspaces,
            "o3._wigner._so3_clebsch_gordan": o3._wigner._so3_clebsch_gordan, "o3._wigner._su2_clebsch_gordan": o3._wigner._su2_clebsch_gordan,
        },
        "spherical harmonics": {
            "o3.spherical_harmonics": o3.spherical_harmonics, "symml.sh.spherical_harmonics": symml.sh.spherical_harmonics,
            "o3.SphericalHarmonics": o3.SphericalHarmonics.__init__,
            "o3.spherical_harmonics_alpha_beta": o3.spherical_harmonics_alpha_beta,
            "o3.SphericalHarmonicsAlphaBeta": o3.SphericalHarmonicsAlphaBeta.__init__,
            "o3.spherical_harmonics_alpha": o3.spherical_harmonics_alpha, "o3.Legendre": o3.Legendre.__init__,
            "o3._spherical_harmonics._spherical_harmonics": o3._spherical_harmonics._spherical_harmonics,
            "symml.sh._recursion_matrix": symml.sh._recursion_matrix,
        },
    }
    return {name: f for kind in kinds for name, f in table[kind].items()}


def irreps_answer(got):
    """An irreps answer as ``check`` received it: an ``o3.Irreps`` arrives as a plain tuple of ``(mul, (l, p))``
    (the outcome is copied as plain data), so turn such a tuple back into ``o3.Irreps``; anything else is
    returned as it is, for :func:`as_irreps` to judge."""
    from e3nn import o3

    if isinstance(got, (tuple, list)) and not isinstance(got, o3.Irreps) and got:
        try:
            if all(len(item) == 2 and len(item[1]) == 2 for item in got):
                return o3.Irreps(got)
        except Exception:
            pass
    return got
