"""Exercises of lesson 07, equivariant convolutions."""

import functools
import math

import torch
from e3nn import o3

from symml.checks import Case, Exercise, choice, close, error_size
from symml.nn import Convolution, TensorProduct, radius_graph
from symml.so3 import rand_matrix


def _cloud(g, n=7, scale=0.6):
    return scale * torch.randn(n, 3, generator=g, dtype=torch.float64)


# ---- 07.1: edge vectors and lengths, in a crystal too


def edge_vectors(pos, edge_src, edge_dst, edge_shift):
    """The vector from each centre ``dst`` to its neighbour ``src`` (or its periodic image), and its length."""
    edge_vec = pos[edge_src] + edge_shift - pos[edge_dst]
    return edge_vec, edge_vec.norm(dim=-1)


def _crystal(g, n=3):
    cell = torch.tensor([[2.0, 0.0, 0.0], [0.5, 1.8, 0.0], [0.2, 0.3, 1.9]], dtype=torch.float64)
    cell = cell + 0.1 * torch.randn(3, 3, generator=g, dtype=torch.float64)
    pos = torch.rand(n, 3, generator=g, dtype=torch.float64) @ cell
    return pos, cell


def _graphs(g):
    pos = _cloud(g)
    yield Case(pos, *radius_graph(pos, 1.5))
    pos, cell = _crystal(g)
    yield Case(pos, *radius_graph(pos, 2.1, cell=cell), note="a periodic crystal (non-zero edge_shift)")
    pos = torch.tensor([[0.0, 0.0, 0.0], [1.0, 0.0, 0.0]], dtype=torch.float64)
    yield Case(pos, *radius_graph(pos, 1.5), note="two points one apart along x")


def _hidden_graphs(g):
    pos, cell = _crystal(g, 1)
    yield Case(pos, *radius_graph(pos, 2.5, cell=cell), note="a crystal with a single atom per cell (every neighbour is its own image)")
    pos = 5.0 * torch.eye(3, dtype=torch.float64)
    yield Case(pos, *radius_graph(pos, 1.0), note="three points with no neighbours (no edges at all)")
    pos, cell = _crystal(g, 4)
    yield Case(pos, *radius_graph(pos, 3.0, cell=cell), note="a crystal with four atoms and a long cutoff")


def _edges_compare(got, expected, case):
    pos, src, dst, shift = case.args
    if not isinstance(got, (tuple, list)) or len(got) != 2:
        return "return two things: edge_vec (E, 3) and the lengths (E,)"
    vec, length = got
    hint = close(vec, expected[0], what="edge_vec")
    if hint:
        if close(vec, -expected[0]) is None:
            return "edge_vec points the wrong way: it goes from the centre pos[edge_dst] to the neighbour pos[edge_src]"
        if close(vec, pos[src] - pos[dst]) is None:
            return "edge_vec ignores edge_shift: in a crystal the neighbour is an image of pos[edge_src], shifted by edge_shift"
        return hint
    return close(length, expected[1], what="the lengths")


# ---- 07.2: predict which harmonics survive on a cubic site

CUBIC_CANDIDATES = "1o+2e+3o+4e"


def cubic_site_irreps():
    """The irreps among 1o+2e+3o+4e that one convolution of a scalar can output on a simple cubic site."""
    return "4e"  # odd l cancel between ±r; Σ Y^2 over ±x,±y,±z vanishes (no traceless tensor is cubic); l = 4 has a cubic invariant


def _irreps_set(text):
    return {str(ir) for _, ir in o3.Irreps(text)}


def _cubic_compare(got, expected, case):
    if not isinstance(got, str):
        return f"answer with an irreps string such as '1o+2e', not {type(got).__name__}"
    try:
        picked = _irreps_set(got) if got.strip() else set()
    except Exception:
        return f"{got!r} is not an irreps string such as '1o+2e'"
    allowed = _irreps_set(CUBIC_CANDIDATES)
    if not picked <= allowed:
        return f"pick among {CUBIC_CANDIDATES} only"
    want = _irreps_set(expected)
    if picked & {"1o", "3o"}:
        return "every neighbour at r has a partner at −r: what does an odd-l harmonic do when r → −r?"
    if "2e" in picked:
        return "an l = 2 output is a symmetric traceless 3×3 tensor: which such tensor looks the same along x, y and z?"
    if not picked >= want:
        return "not every even l cancels: the six neighbours do have a shape, and some harmonic of higher order can see it"
    return None if picked == want else "that is not what happens: sum the harmonics over the six neighbours"


# ---- 07.3: the equivariance error of a layer

@functools.lru_cache
def _conv():
    """The convolution inside every test layer of 07.3, built once, in float64."""
    old = torch.get_default_dtype()
    torch.set_default_dtype(torch.float64)  # Clebsch-Gordan coefficients rounded to float32 are equivariant to 1e-7 only
    try:
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(7)
            return Convolution("0e+1o", "0e+1o+1e", lmax=2, max_radius=2.0).requires_grad_(False)
    finally:
        torch.set_default_dtype(old)


def _layer(kind: str):
    """A layer ``(pos, x) -> features`` for irreps "0e+1o" -> "0e+1o+1e", equivariant or broken in one way."""
    conv = _conv()

    def layer(pos, x):
        src, dst, _ = radius_graph(pos, 2.0)
        vec = pos[src] - pos[dst]
        out = conv(x, src, dst, vec, 3.0)
        if kind == "absolute positions":  # remembers where the origin is
            out = out + 0.1 * pos[:, :1]
        if kind == "anisotropic filter":  # the filter prefers the x axis
            out = out + 0.1 * torch.zeros_like(out).index_add(0, dst, vec[:, :1].expand(-1, out.shape[1]) ** 2)
        if kind == "wrong parity":  # a vector (1o) declared as a pseudovector (1e)
            out = torch.cat([out[:, :4], out[:, 1:4]], dim=1)
        return out

    return layer


def equivariance_error(layer, pos, x, Q, t, irreps_in, irreps_out):
    """max |layer(Q·pos + t, D_in(Q) x) − D_out(Q) layer(pos, x)| over all entries."""
    D_in, D_out = o3.Irreps(irreps_in).D_from_matrix(Q), o3.Irreps(irreps_out).D_from_matrix(Q)
    moved = layer(pos @ Q.T + t, x @ D_in.T)
    return float((moved - layer(pos, x) @ D_out.T).abs().max())


def _equivariance_call(answer, kind, pos, x, Q, t):
    old = torch.get_default_dtype()
    torch.set_default_dtype(torch.float64)  # D_from_matrix works in the default dtype: float32 would leave errors of 1e-7
    try:
        with torch.no_grad():
            return answer(_layer(kind), pos, x, Q, t, "0e+1o", "0e+1o+1e")
    finally:
        torch.set_default_dtype(old)


def _move(g, kind, proper, shift, note, identity=False):
    pos, x = _cloud(g, 8), torch.randn(8, 4, generator=g, dtype=torch.float64)
    Q = torch.eye(3, dtype=torch.float64) if identity else rand_matrix(dtype=torch.float64, generator=g) * (1 if proper else -1)
    t = torch.randn(3, generator=g, dtype=torch.float64) * shift
    return Case(kind, pos, x, Q, t, note=note)


def _equivariance_cases(g):
    yield _move(g, "convolution", False, 1.0, "an equivariant convolution, a rotation with inversion and a translation")
    yield _move(g, "convolution", True, 0.0, "an equivariant convolution and a rotation")
    yield _move(g, "absolute positions", True, 1.0, "a layer that sees absolute positions, and a translation")
    yield _move(g, "anisotropic filter", True, 0.0, "a layer whose filter prefers one axis, and a rotation")
    yield _move(g, "wrong parity", False, 0.0, "a layer with a wrong parity, and a rotation with inversion")


def _hidden_equivariance(g):
    yield _move(g, "wrong parity", True, 0.0, "a layer with a wrong parity, and a proper rotation")
    yield _move(g, "anisotropic filter", True, 0.0, "a broken layer and the identity (nothing moves)", identity=True)
    yield _move(g, "absolute positions", True, 0.0, "a layer that sees absolute positions, and a rotation only")


def _equivariance_compare(got, expected, case):
    return error_size(
        got, expected,
        should_vanish="the error should be ~0 here (the layer is equivariant, or nothing moved): transform the input positions and features, and compare with the transformed output",
        missed="you found no error, but this layer is not equivariant: transform both the input (positions and features) and the output",
        wrong_size="the error has the wrong size: the largest |layer(moved input) − moved output| over all entries",
    )


# ---- 07.4: a dot and a cross product from one tensor product


def dot_and_cross_layer():
    """A TensorProduct("1o", "1o", "0e+1e") whose output on (u, v) is exactly (u·v, u × v)."""
    tp = TensorProduct("1o", "1o", "0e+1e")
    with torch.no_grad():
        # α C: 1 · δ/√3 for the 0e path, √3 · ε/√6 = ε/√2 for the 1e path (fan-in 1 each)
        tp.weight.copy_(torch.tensor([math.sqrt(3), math.sqrt(2)]))
    return tp


def _apply_layer(answer, u, v):
    layer = answer()
    if not isinstance(layer, torch.nn.Module):
        return f"not a module: {type(layer).__name__}"  # compare says what is wrong
    return layer.to(u.dtype)(u, v)


def _vector_pairs(g):
    u, v = torch.randn(2, 6, 3, generator=g, dtype=torch.float64)
    yield Case(u, v)
    yield Case(u[:2], 3 * u[:2], note="parallel vectors")
    yield Case(torch.eye(3, dtype=torch.float64), torch.eye(3, dtype=torch.float64).roll(-1, 0), note="x̂ × ŷ, ŷ × ẑ, ẑ × x̂")


def _hidden_pairs(g):
    u = torch.randn(3, 3, generator=g, dtype=torch.float64)
    yield Case(torch.zeros(1, 3, dtype=torch.float64), u[:1], note="a zero vector")
    yield Case(u, torch.randn(3, 3, generator=g, dtype=torch.float64) * 10, note="long vectors")


def _dot_cross_compare(got, expected, case):
    if isinstance(got, str):
        return f"return the TensorProduct module itself (a torch.nn.Module), not a {got.removeprefix('not a module: ')}"
    if not isinstance(got, torch.Tensor):
        return f"the layer's output should be a tensor, not {type(got).__name__}"
    if got.shape != expected.shape:
        return f"the output has shape {tuple(got.shape)}, but (u·v, u × v) is a 0e and a 1e: build the layer for irreps_out '0e+1e'"
    for part, cols in (("0e", slice(0, 1)), ("1e", slice(1, 4))):
        hint = close(got[:, cols], expected[:, cols], what=f"the {part} part")
        if hint is None:
            continue
        if got[:, cols].abs().max() < 1e-12:
            return f"the {part} part is zero: is there a path of 1o ⊗ 1o into it? mind the parity of the output"
        if "sign" in hint:
            return f"the {part} part is off by a sign: mind the order u, v and the sign of its weight"
        if "factor" in hint:
            return f"the {part} part points the right way but has the wrong size: each path is multiplied by its Clebsch-Gordan coefficients and a normalisation α, and its weight must undo both"
        return hint
    return None


# ---- 07.5: predict how many convolutions a pseudoscalar needs


def layers_to_pseudoscalar():
    """The fewest convolutions (filters Y^0..Y^3, any hidden irreps) from 0e inputs to a 0o output."""
    return 3


def _layers_compare(got, expected, case):
    if isinstance(got, bool) or not isinstance(got, int):
        return f"answer with a whole number of layers, not {type(got).__name__}"
    if got == expected:
        return None
    if got < 1:
        return "at least one convolution is needed: the input is a scalar 0e"
    if got == 1:
        return "one convolution multiplies the scalar by Y^l(r̂): what parity does Y^l have for each l?"
    if got == 2:
        return "after two convolutions, an l = 0 output needs l1 = l2 in l1 ⊗ l2: compare the parities the two factors can have"
    return "fewer convolutions are enough: follow the parities layer by layer, with every hidden irrep allowed"


EXERCISES = [
    Exercise("07.1", edge_vectors, _graphs, _edges_compare, title="edge vectors and lengths, in a crystal too", name="edge_vectors",
             hidden=_hidden_graphs,
             mistakes=[
                 (lambda p, s, d, sh: (p[d] - p[s] - sh, (p[s] - p[d]).norm(dim=-1)), "wrong way"),
                 (lambda p, s, d, sh: (p[s] - p[d], (p[s] - p[d]).norm(dim=-1)), "ignores edge_shift"),
                 (lambda p, s, d, sh: p[s] + sh - p[d], "return two things"),
                 (lambda p, s, d, sh: (p[s] + sh - p[d], ((p[s] + sh - p[d]) ** 2).sum(-1)), "the lengths"),
             ]),
    Exercise("07.2", cubic_site_irreps, kind="value", name="cubic_site_irreps", compare=_cubic_compare, points=1,
             title="predict: what a simple cubic site can output",
             mistakes=[("1o+2e+3o+4e", "odd-l"), ("2e+4e", "traceless"), ("", "not every even l cancels"), ("5e", "pick among"), (4, "irreps string")]),
    Exercise("07.3", equivariance_error, _equivariance_cases, _equivariance_compare, call=_equivariance_call, title="the equivariance error of a layer",
             name="equivariance_error", hidden=_hidden_equivariance, points=2,
             mistakes=[
                 (lambda layer, pos, x, Q, t, i, o: float((layer(pos @ Q.T + t, x) - layer(pos, x) @ o3.Irreps(o).D_from_matrix(Q).T).abs().max()), "should be ~0"),
                 (lambda layer, pos, x, Q, t, i, o: 0.0, "you found no error"),
                 (lambda layer, pos, x, Q, t, i, o: 2 * equivariance_error(layer, pos, x, Q, t, i, o), "wrong size"),
                 (lambda layer, pos, x, Q, t, i, o: "small", "as a number"),
             ]),
    Exercise("07.4", dot_and_cross_layer, _vector_pairs, _dot_cross_compare, call=_apply_layer, title="a dot and a cross product from one tensor product",
             name="dot_and_cross_layer", hidden=_hidden_pairs, points=2,
             mistakes=[
                 (lambda: TensorProduct("1o", "1o", "0e+1e"), "wrong size"),
                 (lambda: _weighted("0e+1e", [math.sqrt(3), -math.sqrt(2)]), "1e part is off by a sign"),
                 (lambda: _weighted("0e+1o", [math.sqrt(3)]), "1e part is zero"),
                 (lambda: _weighted("0e", [math.sqrt(3)]), "has shape"),
                 (lambda: torch.zeros(3), "the TensorProduct module"),
             ]),
    Exercise("07.5", layers_to_pseudoscalar, kind="value", name="layers_to_pseudoscalar", compare=_layers_compare,
             title="predict: convolutions needed for a pseudoscalar",
             mistakes=[(1, "parity does Y^l"), (2, "l1 = l2"), (4, "fewer"), (0, "at least one"), ("3", "whole number")]),
]


def _weighted(irreps_out, weights):
    """A mistake for 07.4: TensorProduct("1o", "1o", irreps_out) with the given weights."""
    tp = TensorProduct("1o", "1o", irreps_out)
    with torch.no_grad():
        tp.weight.copy_(torch.tensor(weights))
    return tp
