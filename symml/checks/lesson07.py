"""Exercises of lesson 07, equivariant convolutions."""

import math

import torch
from e3nn import o3

from symml.checks import Case, Exercise, close, error_size
from symml.nn import Convolution, TensorProduct, radius_graph
from symml.sh import spherical_harmonics
from symml.so3 import rand_matrix

IRREPS_SH = "0e+1o+2e"


def _cloud(g, n=7, scale=0.6):
    return scale * torch.randn(n, 3, generator=g, dtype=torch.float64)


# ---- 07.1: edge vectors and lengths


def edge_vectors(pos, edge_src, edge_dst, edge_shift):
    """The vector from each centre ``dst`` to its neighbour ``src`` (or its periodic image), and its length."""
    edge_vec = pos[edge_src] + edge_shift - pos[edge_dst]
    return edge_vec, edge_vec.norm(dim=-1)


def _graphs(g):
    pos = _cloud(g)
    yield Case(pos, *radius_graph(pos, 1.5))
    cell = torch.tensor([[2.0, 0.0, 0.0], [0.5, 1.8, 0.0], [0.2, 0.3, 1.9]], dtype=torch.float64)
    pos = torch.rand(3, 3, generator=g, dtype=torch.float64) @ cell
    yield Case(pos, *radius_graph(pos, 2.1, cell=cell), note="a periodic crystal (non-zero edge_shift)")
    pos = torch.tensor([[0.0, 0.0, 0.0], [1.0, 0.0, 0.0]], dtype=torch.float64)
    yield Case(pos, *radius_graph(pos, 1.5), note="two points one apart along x")


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


# ---- 07.2: the messages


def messages(x, edge_src, edge_dst, edge_vec, weight, irreps_in, irreps_out):
    """m_ij = TP(x_j, Y(r̂_ij); w_ij) for every edge: the neighbour's features times the filter's harmonics."""
    tp = TensorProduct(irreps_in, IRREPS_SH, irreps_out, shared_weights=False)
    Y = spherical_harmonics(IRREPS_SH, edge_vec, normalize=True, normalization="component")
    return tp(x[edge_src], Y, weight)


def _message_cases(g):
    for irreps_in, irreps_out, note in [("0e", "0e+1o+2e", "scalar inputs"), ("2x0e+1x1o", "2x0e+1x1o+1x1e", ""), ("1x0e+1x1o+1x2e", "1x0o+2x1e+1x2o", "odd outputs")]:
        pos = _cloud(g)
        src, dst, _ = radius_graph(pos, 1.6)
        x = torch.randn(len(pos), o3.Irreps(irreps_in).dim, generator=g, dtype=torch.float64)
        n = TensorProduct(irreps_in, IRREPS_SH, irreps_out, shared_weights=False).weight_numel
        w = torch.randn(len(src), n, generator=g, dtype=torch.float64)
        yield Case(x, src, dst, pos[src] - pos[dst], w, irreps_in, irreps_out, note=note)


def _messages_compare(got, expected, case):
    x, src, dst, vec, w, irreps_in, irreps_out = case.args
    hint = close(got, expected, what="the messages")
    if not hint or not isinstance(got, torch.Tensor) or got.shape != expected.shape:
        return hint
    tp = TensorProduct(irreps_in, IRREPS_SH, irreps_out, shared_weights=False).to(torch.float64)

    def Y(normalize=True, normalization="component"):
        return spherical_harmonics(IRREPS_SH, vec, normalize=normalize, normalization=normalization)

    if close(got, tp(x[dst], Y(), w)) is None:
        return "a message carries the features of the neighbour, x[edge_src], not those of the centre"
    for norm in ("integral", "norm"):
        if close(got, tp(x[src], Y(normalization=norm), w)) is None:
            return f"the harmonics use {norm!r} normalisation; the convolution uses 'component' (every component of order one)"
    if close(got, tp(x[src], Y(normalize=False), w)) is None:
        return "the filter's harmonics depend on the direction r̂ = r/|r| only: pass normalize=True (the length enters through the weights)"
    return hint


# ---- 07.3: summing the messages


def aggregate(messages, edge_dst, num_nodes, num_neighbors):
    """Σ over the edges arriving at each node, divided by sqrt(num_neighbors): shape (num_nodes, dim)."""
    out = messages.new_zeros(num_nodes, messages.shape[1]).index_add(0, edge_dst, messages)
    return out / math.sqrt(num_neighbors)


def _aggregate_cases(g):
    pos = _cloud(g, 9)
    src, dst, _ = radius_graph(pos, 1.6)
    yield Case(torch.randn(len(src), 4, generator=g, dtype=torch.float64), dst, 9, len(src) / 9)
    yield Case(torch.randn(5, 3, generator=g, dtype=torch.float64), torch.tensor([0, 0, 2, 2, 2]), 4, 2.5, note="nodes 1 and 3 without neighbours")
    yield Case(torch.randn(3, 2, generator=g, dtype=torch.float64), torch.tensor([1, 1, 1]), 2, 3.0, note="three messages into node 1")


def _aggregate_compare(got, expected, case):
    hint = close(got, expected)
    if not hint or not isinstance(got, torch.Tensor) or got.shape != expected.shape:
        return hint
    n = case.args[3]
    if close(got, expected * math.sqrt(n)) is None:
        return "the sum is not normalised: divide it by sqrt(num_neighbors)"
    if close(got, expected / math.sqrt(n)) is None:
        return "divide by the square root of num_neighbors, not by num_neighbors itself"
    return hint


# ---- 07.4: the equivariance error of a whole layer

LAYERS = ("convolution", "absolute positions", "anisotropic filter", "wrong parity")


def _layer(kind: str):
    """A layer ``(pos, x) -> features`` for irreps "0e+1o" -> "0e+1o+1e", equivariant or broken in one way."""
    old = torch.get_default_dtype()
    torch.set_default_dtype(torch.float64)  # built in float64: Clebsch-Gordan coefficients rounded to float32 are equivariant to 1e-7 only
    try:
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(7)
            conv = Convolution("0e+1o", "0e+1o+1e", lmax=2, max_radius=2.0)
    finally:
        torch.set_default_dtype(old)

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
    with torch.no_grad():  # the layer's parameters need no gradients here
        return answer(_layer(kind), pos, x, Q, t, "0e+1o", "0e+1o+1e")


def _equivariance_cases(g):
    def case(kind, proper, shift, note):
        pos, x = _cloud(g, 8), torch.randn(8, 4, generator=g, dtype=torch.float64)
        Q = rand_matrix(dtype=torch.float64, generator=g) * (1 if proper else -1)
        t = torch.randn(3, generator=g, dtype=torch.float64) * shift
        return Case(kind, pos, x, Q, t, note=note)

    yield case("convolution", False, 1.0, "an equivariant convolution, a rotation with inversion and a translation")
    yield case("convolution", True, 0.0, "an equivariant convolution and a rotation")
    yield case("absolute positions", True, 1.0, "a layer that sees absolute positions, and a translation")
    yield case("anisotropic filter", True, 0.0, "a layer whose filter prefers one axis, and a rotation")
    yield case("wrong parity", False, 0.0, "a layer with a wrong parity, and a rotation with inversion")
    yield case("wrong parity", True, 0.0, "a layer with a wrong parity, and a proper rotation")


def _equivariance_compare(got, expected, case):
    return error_size(
        got, expected,
        should_vanish="the error should be ~0 for this equivariant layer: rotate the input features with D_in(Q) and the output with D_out(Q) (rows: x @ D.T), and move the positions as pos @ Q.T + t",
        missed="you found no error, but this layer is not equivariant: transform both the input (positions and features) and the output",
        wrong_size="the error has the wrong size: the largest |layer(moved input) − moved output| over all entries",
    )


# ---- 07.5: a pseudovector from two vectors


def cross_via_tensor_product(u, v):
    """u × v for vectors u, v (n, 3), through the one path 1o ⊗ 1o → 1e of a TensorProduct."""
    tp = TensorProduct("1o", "1o", "1e").to(u.dtype)
    with torch.no_grad():
        tp.weight.fill_(math.sqrt(2))  # α C = √3 · ε/√6 = ε/√2 for this path
    return tp(u, v)


def _vector_pairs(g):
    u, v = torch.randn(2, 6, 3, generator=g, dtype=torch.float64)
    yield Case(u, v)
    yield Case(torch.eye(3, dtype=torch.float64), torch.eye(3, dtype=torch.float64).roll(-1, 0), note="x̂ × ŷ, ŷ × ẑ, ẑ × x̂")
    yield Case(u[:2], u[:2], note="a vector with itself")


def _cross_compare(got, expected, case):
    hint = close(got, expected)
    if not hint or not isinstance(got, torch.Tensor) or got.shape != expected.shape:
        return hint
    if got.abs().max() < 1e-12 and expected.abs().max() > 1e-12:
        return "the output is zero: can 1o ⊗ 1o reach the irreps you asked for? Mind the parity"
    if "sign" in hint:
        return "off by a sign: mind the order u, v (or the sign of the weight)"
    if "factor" in hint:
        return "the direction is right but the length is not: the tensor product is normalised, so scale its weight to make it exactly u × v"
    return hint


EXERCISES = [
    Exercise("07.1", edge_vectors, _graphs, _edges_compare, title="edge vectors and lengths", name="edge_vectors"),
    Exercise("07.2", messages, _message_cases, _messages_compare, title="the messages x_j ⊗ Y(r̂_ij)", name="messages"),
    Exercise("07.3", aggregate, _aggregate_cases, _aggregate_compare, title="sum the messages", name="aggregate"),
    Exercise("07.4", equivariance_error, _equivariance_cases, _equivariance_compare, call=_equivariance_call, title="the equivariance error of a layer", name="equivariance_error"),
    Exercise("07.5", cross_via_tensor_product, _vector_pairs, _cross_compare, title="a pseudovector from two vectors", name="cross_via_tensor_product"),
]
