"""Exercises of lesson 07, equivariant convolutions."""

import functools
import math

import torch
from e3nn import o3

from symml.checks import Case, Exercise, close, error_size
from symml.nn import Convolution, TensorProduct, radius_graph
from symml.so3 import rand_matrix


def _neighbour_lists() -> dict:
    """The neighbour lists of ase and matscipy, where installed: routes to 07.1's answer."""
    found = {"symml.nn.radius_graph": radius_graph}
    try:
        from ase.neighborlist import neighbor_list, primitive_neighbor_list
        found.update({"ase.neighborlist.neighbor_list": neighbor_list, "ase.neighborlist.primitive_neighbor_list": primitive_neighbor_list})
    except ImportError:
        pass
    try:
        from matscipy.neighbours import neighbour_list
        found["matscipy.neighbours.neighbour_list"] = neighbour_list
    except ImportError:
        pass
    return found


# ---- 07.1: the periodic graph of a crystal, by hand


def periodic_edges(pos, cell, r_max):
    """Every neighbour pair of a crystal, periodic images included: ``(edge_src, edge_dst, edge_vec)``.

    ``edge_vec[e]`` goes from ``pos[edge_dst[e]]`` to the image ``pos[edge_src[e]] + n @ cell`` (``n`` whole
    numbers), shorter than ``r_max``; a point is not its own neighbour with ``n = 0``. Any edge order.
    """
    src, dst, shift = radius_graph(pos, r_max, cell=cell)
    return src, dst, pos[src] + shift - pos[dst]


def _crystal(g, n=3, size=2.0):
    cell = size * torch.tensor([[1.0, 0.0, 0.0], [0.25, 0.9, 0.0], [0.1, 0.15, 0.95]], dtype=torch.float64)
    cell = cell + 0.1 * torch.randn(3, 3, generator=g, dtype=torch.float64)
    pos = torch.rand(n, 3, generator=g, dtype=torch.float64) @ cell
    return pos, cell


def _graphs(g):
    pos, cell = _crystal(g)
    yield Case(pos, cell, 1.5)
    pos, cell = _crystal(g, 1)
    yield Case(pos, cell, 2.3, note="one atom per cell: every neighbour is one of its own images")
    yield Case(torch.zeros(1, 3, dtype=torch.float64), torch.eye(3, dtype=torch.float64), 1.1, note="a simple cubic crystal of one atom, r_max 1.1")


def _hidden_graphs(g):
    pos, cell = _crystal(g, 2, size=1.0)
    yield Case(pos, cell, 2.2, note="a cell smaller than r_max (images two cells away count)")
    pos = torch.tensor([[0.0, 0.0, 0.0], [0.5, 0.5, 0.5]], dtype=torch.float64) * 10
    yield Case(pos, 10 * torch.eye(3, dtype=torch.float64), 1.0, note="a large cell and a short cutoff (no edges at all)")
    pos, cell = _crystal(g, 4)
    yield Case(pos, cell, 3.0, note="four atoms and a long cutoff")


def _edge_keys(src, dst, vec):
    """The edges as a sorted list of (dst, src, vec rounded to 1e-6): any order of edges compares equal."""
    return sorted(zip(dst.tolist(), src.tolist(), [tuple(round(float(c), 6) + 0.0 for c in v) for v in vec]))


def _edges_compare(got, expected, case):
    pos, cell, r_max = case.args
    if not isinstance(got, (tuple, list)) or len(got) != 3:
        return "return three things: edge_src (E,), edge_dst (E,) and edge_vec (E, 3)"
    src, dst, vec = got
    if not all(isinstance(t, torch.Tensor) for t in got):
        return "return edge_src, edge_dst and edge_vec as tensors"
    if src.shape != dst.shape or vec.shape != (*src.shape, 3) or src.dim() != 1:
        return "edge_src and edge_dst should have shape (E,) and edge_vec (E, 3), for the same E"
    if src.is_floating_point() or dst.is_floating_point():
        return "edge_src and edge_dst are point indices: integer tensors"
    want = _edge_keys(*expected)
    mine = _edge_keys(src, dst, vec.to(torch.float64))
    if mine == want:
        return None
    if len(mine) < len(want):
        if len(vec) and (vec.norm(dim=1) < 1e-9).any():
            return "an edge of length zero: a point is not its own neighbour (with n = 0)"
        return (f"{len(want) - len(mine)} edge(s) missing: every image pos[j] + n @ cell closer than r_max counts, "
                "the point's own images too, and when r_max is longer than the cell, images several cells away")
    if len(mine) > len(want):
        if len(vec) and (vec.norm(dim=1) < 1e-9).any():
            return "an edge of length zero: a point is not its own neighbour (with n = 0)"
        if len(vec) and (vec.norm(dim=1) >= r_max).any():
            return "some edges are not shorter than r_max"
        return "some edges appear twice: each (src, dst, image) once"
    if _edge_keys(src, dst, -vec.to(torch.float64)) == want or _edge_keys(dst, src, vec.to(torch.float64)) == want:
        return "edge_vec points the wrong way: it goes from the centre pos[edge_dst] to the image of pos[edge_src]"
    return "the right number of edges, but not the right ones: check which image each edge_vec goes to"


# ---- 07.2: predict what a flat cloud allows in l = 2

def flat_cloud_outputs():
    """How many of the 5 components of a 2e and of a 2o output can be non-zero at a point of a flat cloud (z = 0)."""
    return {"2e": 3, "2o": 2}  # the mirror z → −z keeps every point: 2e keeps xy, x²−y², 3z²−r²; 2o gets det(M) = −1, keeps xz, yz


def _flat_compare(got, expected, case):
    if not isinstance(got, dict) or set(got) != {"2e", "2o"}:
        return 'answer with a dict {"2e": ..., "2o": ...} of two whole numbers'
    if any(isinstance(v, bool) or not isinstance(v, int) or not 0 <= v <= 5 for v in got.values()):
        return "each entry is a whole number of components, from 0 to 5"
    if got == expected:
        return None
    if got["2e"] == 5 or got["2o"] == 5:
        return "the mirror through the plane maps every point of the cloud onto itself, so each output must be left alone by it: not every component survives"
    if got["2e"] + got["2o"] != 5:
        return "write the five l = 2 components as quadratic polynomials (xy, yz, ...): each one is either even or odd under z → −z"
    return "mind what the mirror does to each kind: a 2o output also picks up det(M) = −1"


# ---- 07.3: the equivariance error of a layer on a crystal

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
    """A layer ``(pos, x, cell) -> features`` of a crystal, irreps "0e+1o" -> "0e+1o+1e", equivariant or broken in one way."""
    conv = _conv()

    def layer(pos, x, cell):
        src, dst, shift = radius_graph(pos, 2.0, cell=cell)
        vec = pos[src] + shift - pos[dst]
        out = conv(x, src, dst, vec, 6.0)
        if kind == "absolute positions":  # remembers where the origin is
            out = out + 0.1 * pos[:, :1]
        if kind == "anisotropic filter":  # the filter prefers the x axis
            out = out + 0.1 * torch.zeros_like(out).index_add(0, dst, vec[:, :1].expand(-1, out.shape[1]) ** 2)
        if kind == "wrong parity":  # a vector (1o) declared as a pseudovector (1e)
            out = torch.cat([out[:, :4], out[:, 1:4]], dim=1)
        if kind == "raw lattice":  # reads an entry of the cell matrix, which turns with the crystal
            out = out + 0.1 * cell[0, 0]
        if kind == "distance from the origin":  # lowers the scalar of points far from the origin
            out = torch.cat([out[:, :1] - 0.1 * (pos**2).sum(dim=1, keepdim=True), out[:, 1:]], dim=1)
        return out

    return layer


def equivariance_error(layer, pos, x, cell, Q, t, irreps_in, irreps_out):
    """max |layer(Q·pos + t, D_in(Q) x, cell Qᵀ) − D_out(Q) layer(pos, x, cell)| over all entries."""
    D_in, D_out = o3.Irreps(irreps_in).D_from_matrix(Q), o3.Irreps(irreps_out).D_from_matrix(Q)
    moved = layer(pos @ Q.T + t, x @ D_in.T, cell @ Q.T)
    return float((moved - layer(pos, x, cell) @ D_out.T).abs().max())


def _equivariance_call(answer, kind, pos, x, cell, Q, t):
    old = torch.get_default_dtype()
    torch.set_default_dtype(torch.float64)  # D_from_matrix works in the default dtype: float32 would leave errors of 1e-7
    try:
        with torch.no_grad():
            return answer(_layer(kind), pos, x, cell, Q, t, "0e+1o", "0e+1o+1e")
    finally:
        torch.set_default_dtype(old)


def _move(g, kind, proper, shift, note, identity=False):
    pos, cell = _crystal(g, 4)
    x = torch.randn(4, 4, generator=g, dtype=torch.float64)
    Q = torch.eye(3, dtype=torch.float64) if identity else rand_matrix(dtype=torch.float64, generator=g) * (1 if proper else -1)
    t = torch.randn(3, generator=g, dtype=torch.float64) * shift
    return Case(kind, pos, x, cell, Q, t, note=note)


def _equivariance_cases(g):
    yield _move(g, "convolution", False, 1.0, "an equivariant convolution, a rotation with inversion and a translation")
    yield _move(g, "convolution", True, 0.0, "an equivariant convolution and a rotation")
    yield _move(g, "absolute positions", True, 1.0, "a layer that sees absolute positions, and a translation")
    yield _move(g, "anisotropic filter", True, 0.0, "a layer whose filter prefers one axis, and a rotation")
    yield _move(g, "wrong parity", False, 0.0, "a layer with a wrong parity, and a rotation with inversion")


def _hidden_equivariance(g):
    yield _move(g, "wrong parity", True, 0.0, "a layer with a wrong parity, and a proper rotation")
    yield _move(g, "anisotropic filter", True, 0.0, "a broken layer and the identity (nothing moves)", identity=True)
    yield _move(g, "raw lattice", True, 1.0, "a layer that reads an entry of the cell matrix, a rotation and a translation")
    yield _move(g, "distance from the origin", True, 50.0, "a layer that sees the distance from the origin, and a long translation")


def _equivariance_compare(got, expected, case):
    if isinstance(got, torch.Tensor) and got.numel() == 1:
        got = float(got)
    if isinstance(got, (int, float)) and not isinstance(got, bool) and got < -1e-9:
        return "the error is negative: it is a size, the largest |difference| over all entries"
    return error_size(
        got, expected,
        should_vanish="the error should be ~0 here (the layer is equivariant, or nothing moved): move the positions, the features and the crystal's cell, then compare with the moved output",
        missed="you found no error, but this layer is not equivariant: move the whole input (positions, features, cell) and the output, and take the largest |difference|",
        wrong_size="the error has the wrong size: the largest |difference| between layer(moved input) and the moved output, over all entries",
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
    Exercise("07.1", periodic_edges, _graphs, _edges_compare, title="the periodic graph of a crystal, by hand", name="periodic_edges",
             hidden=_hidden_graphs, points=2,
             forbidden=_neighbour_lists(),
             mistakes=[
                 (lambda p, c, r: _no_images(p, r), "missing"),
                 (lambda p, c, r: _flipped(periodic_edges(p, c, r)), "wrong way"),
                 (lambda p, c, r: _with_self(periodic_edges(p, c, r), len(p)), "length zero"),
                 (lambda p, c, r: periodic_edges(p, c, r)[2], "return three things"),
                 (lambda p, c, r: tuple(t.double() for t in periodic_edges(p, c, r)), "integer tensors"),
             ]),
    Exercise("07.2", flat_cloud_outputs, kind="value", name="flat_cloud_outputs", compare=_flat_compare,
             title="predict: what a flat cloud allows in l = 2",
             mistakes=[({"2e": 5, "2o": 5}, "maps every point"), ({"2e": 3, "2o": 3}, "quadratic polynomials"), ({"2e": 2, "2o": 3}, "det(M)"),
                       ({"2e": 3}, "a dict"), ({"2e": 3.0, "2o": 2}, "whole number")]),
    Exercise("07.3", equivariance_error, _equivariance_cases, _equivariance_compare, call=_equivariance_call, title="the equivariance error of a layer on a crystal",
             name="equivariance_error", hidden=_hidden_equivariance, points=2,
             mistakes=[
                 (lambda layer, pos, x, c, Q, t, i, o: float((layer(pos @ Q.T + t, x, c @ Q.T) - layer(pos, x, c) @ o3.Irreps(o).D_from_matrix(Q).T).abs().max()), "should be ~0"),
                 (lambda layer, pos, x, c, Q, t, i, o: float((layer(pos @ Q.T + t, x @ o3.Irreps(i).D_from_matrix(Q).T, c) - layer(pos, x, c) @ o3.Irreps(o).D_from_matrix(Q).T).abs().max()), "cell"),
                 (lambda layer, pos, x, c, Q, t, i, o: float((layer(pos @ Q.T + t, x @ o3.Irreps(i).D_from_matrix(Q).T, c @ Q.T) - layer(pos, x, c) @ o3.Irreps(o).D_from_matrix(Q).T).max()), "|difference|"),  # signed: caught by the hidden long translation too
                 (lambda layer, pos, x, c, Q, t, i, o: -equivariance_error(layer, pos, x, c, Q, t, i, o), "negative"),
                 (lambda layer, pos, x, c, Q, t, i, o: 0.0, "you found no error"),
                 (lambda layer, pos, x, c, Q, t, i, o: 2 * equivariance_error(layer, pos, x, c, Q, t, i, o), "wrong size"),
                 (lambda layer, pos, x, c, Q, t, i, o: "small", "as a number"),
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


def _no_images(pos, r_max):
    """A mistake for 07.1: the pairs inside one cell only (no periodic images)."""
    src, dst, _ = radius_graph(pos, r_max)
    return src, dst, pos[src] - pos[dst]


def _flipped(edges):
    src, dst, vec = edges
    return src, dst, -vec


def _with_self(edges, n):
    """A mistake for 07.1: every point also listed as its own neighbour, with n = 0."""
    src, dst, vec = edges
    me = torch.arange(n)
    return torch.cat([src, me]), torch.cat([dst, me]), torch.cat([vec, vec.new_zeros(n, 3)])


def _weighted(irreps_out, weights):
    """A mistake for 07.4: TensorProduct("1o", "1o", irreps_out) with the given weights."""
    tp = TensorProduct("1o", "1o", irreps_out)
    with torch.no_grad():
        tp.weight.copy_(torch.tensor(weights))
    return tp
