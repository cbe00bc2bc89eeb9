r"""An E(3)-equivariant network, built from Clebsch-Gordan coefficients and spherical harmonics (lessons 07–08).

Every feature is a concatenation of irreps (an ``e3nn.o3.Irreps`` such as ``"16x0e + 8x1o + 4x2e"``),
every layer maps irreps to irreps, and every layer commutes with rotations and inversion:
``layer(x @ D_in(R).T) == layer(x) @ D_out(R).T``. Four layers are enough for a network:

* ``TensorProduct``: multiply two features, ``z = Σ_paths w · C (x ⊗ y)`` (the only non-linear
  *and* direction-aware operation; lesson 04's Clebsch-Gordan coefficients do the coupling);
* ``Linear``: mix the copies of each irrep (``16x1o → 8x1o``), never mixing different irreps;
* ``Gate``: a non-linearity. Scalars go through an activation; every other irrep is multiplied by
  a scalar "gate" (a number times a vector is still a vector);
* ``Convolution``: messages from neighbours, ``TensorProduct(x_j, Y(r̂_ij))`` with weights that
  are any function of the distance ``|r_ij|``, summed over neighbours within ``max_radius``.

``EquivariantNet`` stacks convolutions and gates. Names, weight layouts and normalisations follow
e3nn 0.6 (``FullyConnectedTensorProduct``, ``Linear``), so the same weights give the same numbers.
Everything runs on the input's device and dtype; there are no Python loops over nodes or edges.
"""

import math

import numpy as np
import torch
from e3nn import o3

from symml.cg import clebsch_gordan
from symml.sh import spherical_harmonics

__all__ = ["Convolution", "EquivariantNet", "Gate", "Linear", "TensorProduct", "average_num_neighbors", "radial_basis", "radius_graph"]


def _as_irreps(irreps, name: str) -> o3.Irreps:
    try:
        return o3.Irreps(irreps)
    except (ValueError, AssertionError, TypeError) as error:
        raise ValueError(f"{name} must be irreps such as '8x0e + 4x1o', got {irreps!r} ({error})") from None


def _check_features(x: torch.Tensor, irreps: o3.Irreps, name: str):
    if not isinstance(x, torch.Tensor):
        raise ValueError(f"{name} must be a tensor of shape (..., {irreps.dim}), got {type(x).__name__}")
    if x.dim() == 0 or x.shape[-1] != irreps.dim:
        raise ValueError(f"{name} has shape {tuple(x.shape)}, but {irreps} needs shape (..., {irreps.dim})")


def _blocks(x: torch.Tensor, irreps: o3.Irreps) -> list[torch.Tensor]:
    """Split features ``(Z, irreps.dim)`` into one ``(Z, mul, 2l+1)`` block per entry of ``irreps``."""
    return [x[:, s].reshape(len(x), mul, ir.dim) for s, (mul, ir) in zip(irreps.slices(), irreps)]


class _Mix(torch.autograd.Function):
    r"""``torch.bmm(xy, w)``, ``(Z, k, n) @ (Z, n, m)``, whose backward makes ``∂w = xyᵀ g`` a broadcast
    product when ``k = 1``. torch does that outer product (a sum over one index) as Z separate matrix
    products, up to 20x slower on small blocks; it is the weight gradient of every path into a
    scalar (``l3 = 0``)."""

    @staticmethod
    def forward(ctx, xy, w):
        ctx.save_for_backward(xy, w)
        return torch.bmm(xy, w)

    @staticmethod
    def backward(ctx, g):  # made of differentiable operations, so forces (create_graph=True) work
        xy, w = ctx.saved_tensors
        grad_xy = torch.bmm(g, w.transpose(1, 2)) if ctx.needs_input_grad[0] else None
        grad_w = None
        if ctx.needs_input_grad[1]:
            grad_w = xy.transpose(1, 2) * g if xy.shape[1] == 1 else torch.bmm(xy.transpose(1, 2), g)
        return grad_xy, grad_w


class TensorProduct(torch.nn.Module):
    r"""The fully connected tensor product, equal to ``e3nn.o3.FullyConnectedTensorProduct``.

    For every *path*, an irrep ``l1`` of ``x`` (``mul1`` copies, index u), an irrep ``l2`` of ``y``
    (``mul2`` copies, index v) and an irrep ``l3`` of the output (``mul3`` copies, index w) allowed by
    the selection rule and parity (``ir3 in ir1 * ir2``):

        z_wk += α Σ_uv Σ_ij w_uvw C^{(l1 l2 l3)}_ijk x_ui y_vj

    with ``C`` from ``symml.cg``. ``α = sqrt((2l3+1) / fan_in)``, ``fan_in`` being the number of
    ``(u, v)`` pairs over all paths into that output irrep: e3nn's default "component" and "element"
    normalisation, which keeps every output component of variance ~1 for inputs of variance 1.

    The weights of all paths are one flat vector of ``weight_numel`` numbers, path after path in
    e3nn's order (irreps of ``x``, then of ``y``, then of the output), each path's ``(mul1, mul2, mul3)``
    block in row-major order. Per-sample weights may also come *grouped*: a list with one tensor
    ``weight[..., index]`` for each ``index`` in ``group_index``, the weights of all paths into one
    output irrep side by side (the layout ``Convolution`` makes, and the fastest; see below).

    Args:
        irreps_in1, irreps_in2, irreps_out: irreps of ``x``, ``y`` and the output.
        shared_weights: if True, one weight vector for the whole batch (a parameter of the module,
            or passed to ``forward``); if False, ``forward`` takes one weight vector per sample,
            shape ``(..., weight_numel)``, e.g. a function of each edge's length in a convolution.

    Shapes: ``x (..., irreps_in1.dim)``, ``y (..., irreps_in2.dim)`` → ``(..., irreps_out.dim)``;
    the batch dimensions ``...`` broadcast.

    How it is computed (``benchmarks/bench_nn.py`` measures it against e3nn). The sum above is done
    in two steps, couple then mix. *Couple*: ``xy_{k,uv} = Σ_ij C_ijk x_ui y_vj``. All paths that
    start from the same irrep ``i1`` of ``x`` share ``x_ui``, so ``__init__`` stacks their
    coefficients (times α) into one matrix per ``i1``, ``coupling{i1}``, with a row for each
    ``(path, k, v)`` and a column for each component ``(j, i)`` of ``y ⊗ x_i``; most of it is zero
    (``C`` only connects ``y``'s irrep ``i2`` of that path). ``forward`` then needs two matrix
    products per ``i1``, ``y @ coupling`` and a product with ``x``'s block batched over samples,
    instead of one three-operand ``einsum`` per path (which re-plans its contraction at every call:
    the plan is made once, here). *Mix*: ``z_kw += Σ_uv xy_{k,uv} w_{uv,w}``. All paths into the
    same output irrep share ``k`` and ``w``, so putting their ``xy`` side by side (and their
    weights one above the other) makes their mixing one matrix product, batched over samples:
    ``groups`` lists them. With one weight vector per sample, the products are of tiny matrices
    (``(1, 16) @ (16, 8)``), and their cost is a fixed ~0.1 µs per sample and product, so fewer
    products is what counts: grouped, a training step of ``EquivariantNet`` takes about half as
    long as path by path on slices of one flat weight tensor. A group's weights must then lie
    side by side in memory: a slice of one ``(Z, weight_numel)`` tensor sends torch to a 2-3x
    slower kernel, and gathering it would copy the largest tensor of the layer. So flat
    per-sample weights are mixed path by path, on slices, and ``Convolution`` makes its weights
    already grouped, each group by its own rows of the radial network's last layer. On
    ``benchmarks/bench_nn.py``'s 20,000 edges (2 CPU cores), against e3nn's generated code:
    grouped, the forward pass takes 0.4x its time (4x the time to read the weights once) and
    forward+backward 0.2x; flat, 1.0x and 0.3x.
    """

    def __init__(self, irreps_in1, irreps_in2, irreps_out, shared_weights: bool = True):
        super().__init__()
        self.irreps_in1 = _as_irreps(irreps_in1, "irreps_in1")
        self.irreps_in2 = _as_irreps(irreps_in2, "irreps_in2")
        self.irreps_out = _as_irreps(irreps_out, "irreps_out")
        self.shared_weights = shared_weights
        self.paths = [
            (i1, i2, i3)
            for i1, (_, ir1) in enumerate(self.irreps_in1)
            for i2, (_, ir2) in enumerate(self.irreps_in2)
            for i3, (_, ir3) in enumerate(self.irreps_out)
            if ir3 in ir1 * ir2
        ]
        self.path_shapes = [(self.irreps_in1[i1].mul, self.irreps_in2[i2].mul, self.irreps_out[i3].mul) for i1, i2, i3 in self.paths]
        self.path_numel = [math.prod(shape) for shape in self.path_shapes]
        self.weight_numel = sum(self.path_numel)

        fan_in = [0] * len(self.irreps_out)
        for (i1, i2, i3), (u, v, _) in zip(self.paths, self.path_shapes):
            fan_in[i3] += u * v

        # The plan (see forward): for each irrep i1 of x, one matrix couples it with all of y at
        # once, for every path leaving i1. Its rows are (path, k, v), its columns (j of all of y, i).
        offsets2 = [s.start for s in self.irreps_in2.slices()]
        self.plan = []
        for i1, (_, ir1) in enumerate(self.irreps_in1):
            group = [(n, i3, self.irreps_out[i3].ir.dim, v) for n, ((a, _, i3), (_, v, _)) in enumerate(zip(self.paths, self.path_shapes)) if a == i1]
            if not group:
                continue
            coupling = torch.zeros(sum(k * v for _, _, k, v in group), self.irreps_in2.dim, ir1.dim, dtype=torch.float64)
            row = 0
            for n, i3, k, v in group:
                _, i2, _ = self.paths[n]
                ls = (ir1.l, self.irreps_in2[i2].ir.l, self.irreps_out[i3].ir.l)
                C = math.sqrt((2 * ls[2] + 1) / fan_in[i3]) * clebsch_gordan(*ls, dtype=torch.float64)  # (i, j, k)
                for c in range(v):  # copy c of y's irrep i2 feeds rows (k, c) of this path
                    columns = slice(offsets2[i2] + c * C.shape[1], offsets2[i2] + (c + 1) * C.shape[1])
                    coupling[row + c : row + k * v : v, columns, :] = C.permute(2, 1, 0)
                row += k * v
            # A buffer, so .to(device) moves it and forward never copies from the host. Kept in
            # float64 (forward casts it to the input's dtype): a net built under a float32 default
            # and then made .double() stays equivariant to 1e-10, not to float32's 1e-7.
            self.register_buffer(f"coupling{i1}", coupling.permute(1, 0, 2).reshape(self.irreps_in2.dim, -1), persistent=False)
            self.plan.append((i1, group))
        # The paths into each output irrep, and where their weights sit in the flat vector: their
        # mixing is one matrix product per group (see forward), given the group's weights side by side.
        starts = np.cumsum([0] + self.path_numel)
        self.groups = [(i3, [n for n, p in enumerate(self.paths) if p[2] == i3]) for i3 in range(len(self.irreps_out))]
        self.groups = [(i3, paths) for i3, paths in self.groups if paths]
        for g, (_, paths) in enumerate(self.groups):
            self.register_buffer(f"group_index{g}", torch.cat([torch.arange(starts[n], starts[n + 1]) for n in paths]), persistent=False)
        if shared_weights:
            self.weight = torch.nn.Parameter(torch.randn(self.weight_numel))

    @property
    def group_index(self) -> list[torch.Tensor]:
        """For each group, the positions of its weights in the flat vector: ``weight[..., group_index[g]]``."""
        return [getattr(self, f"group_index{g}") for g in range(len(self.groups))]

    def extra_repr(self) -> str:
        return f"{self.irreps_in1} x {self.irreps_in2} -> {self.irreps_out}, {len(self.paths)} paths, weight_numel={self.weight_numel}"

    def forward(self, x: torch.Tensor, y: torch.Tensor, weight: torch.Tensor | None = None) -> torch.Tensor:
        _check_features(x, self.irreps_in1, "x")
        _check_features(y, self.irreps_in2, "y")
        if weight is None:
            if not self.shared_weights:
                raise ValueError("this TensorProduct has shared_weights=False: pass one weight vector per sample, shape (..., weight_numel)")
            weight = self.weight
        if isinstance(weight, (list, tuple)):  # already grouped, as Convolution makes them
            group_numel = [len(index) for index in self.group_index]
            if self.shared_weights or len(weight) != len(self.groups) or any(
                not isinstance(w, torch.Tensor) or w.dim() == 0 or w.shape[-1] != n for w, n in zip(weight, group_numel)
            ):
                raise ValueError(f"weights given by group must be a list of {len(self.groups)} tensors of shapes (..., n), n = {group_numel} "
                                 "(weight[..., index] for index in group_index), and only with shared_weights=False")
            weights, blocks = list(weight), self.groups
        else:
            wanted = f"({self.weight_numel},)" if self.shared_weights else f"(..., {self.weight_numel})"
            if not isinstance(weight, torch.Tensor):
                raise ValueError(f"weight must be a tensor of shape {wanted}, got {type(weight).__name__}")
            if weight.shape[-1:] != (self.weight_numel,) or (self.shared_weights and weight.dim() != 1):
                raise ValueError(f"weight must have shape {wanted}, got {tuple(weight.shape)}")
            if self.shared_weights:  # a few thousand numbers: regrouping them costs nothing
                weights, blocks = [weight[index] for index in self.group_index], self.groups
            else:  # one block per path: slices of the flat tensor, as regrouping would copy all of it
                weights, blocks = list(weight.split(self.path_numel, dim=-1)), [(i3, [n]) for n, (_, _, i3) in enumerate(self.paths)]

        batch = torch.broadcast_shapes(x.shape[:-1], y.shape[:-1], *[w.shape[:-1] for w in weights])
        Z = math.prod(batch)
        x = x.broadcast_to(batch + x.shape[-1:]).reshape(Z, -1)
        y = y.broadcast_to(batch + y.shape[-1:]).reshape(Z, -1)
        if not self.shared_weights:
            weights = [w.broadcast_to(batch + w.shape[-1:]).reshape(Z, -1) for w in weights]
        xs = _blocks(x, self.irreps_in1)

        xy_paths = [None] * len(self.paths)  # (z, k, uv) for each path
        for i1, group in self.plan:
            u = self.irreps_in1[i1].mul
            # couple x's irrep i1 with all of y in two products: Σ_j y_vj C_ijk for every path from
            # i1 at once (one matrix product), then Σ_i with x_ui (one product batched over z)
            yC = (y @ getattr(self, f"coupling{i1}").to(x.dtype)).reshape(Z, sum(k * v for _, _, k, v in group), self.irreps_in1[i1].ir.dim)
            if self.irreps_in1[i1].ir.dim == 1:  # scalars: an outer product, cheaper as a broadcast than as a product of (1, 1) matrices
                xy = yC * xs[i1].transpose(1, 2)
            else:
                xy = torch.matmul(yC, xs[i1].transpose(1, 2))  # (z, rows (path, k, v), u)
            for (n, _, k, v), xy_path in zip(group, xy.split([k * v for _, _, k, v in group], dim=1)):
                xy_paths[n] = xy_path.reshape(Z, k, v, u).transpose(2, 3).reshape(Z, k, u * v)  # a view when v = 1

        out = [None] * len(self.irreps_out)  # (z, k, w) for each output irrep
        for (i3, paths), w in zip(blocks, weights):
            # mix the copies, z_kw = Σ_uv xy_{k,uv} w_{uv,w}, for all the block's paths at once (their
            # xy side by side): a matrix product, batched over z when the weights are per sample.
            # (k, uv) @ (uv, w) reads the big weight tensor in memory order, 2-3x faster than the
            # transposed (w, uv) @ (uv, k).
            xy = xy_paths[paths[0]] if len(paths) == 1 else torch.cat([xy_paths[n] for n in paths], dim=2)
            w = w.reshape(-1, xy.shape[2], self.irreps_out[i3].mul)
            mixed = torch.matmul(xy, w) if self.shared_weights else _Mix.apply(xy, w)
            out[i3] = mixed if out[i3] is None else out[i3] + mixed
        out = [x.new_zeros(Z, ir.dim, mul) if o is None else o for o, (mul, ir) in zip(out, self.irreps_out)]
        return torch.cat([o.transpose(1, 2).reshape(Z, -1) for o in out], dim=1).reshape(batch + (self.irreps_out.dim,))


class Linear(torch.nn.Module):
    r"""Equivariant linear map, equal to ``e3nn.o3.Linear``: mixes the copies of each irrep.

    ``z_w = Σ_u W_uw x_u / sqrt(fan_in)`` for every pair (input irrep, output irrep) with the same
    ``l`` *and* parity, where ``fan_in`` is the number of input copies reaching that output. Mixing
    a vector into a scalar would break equivariance (Schur's lemma: the only maps between irreps
    that commute with every rotation are multiples of the identity), so there is no such weight.
    Output irreps that no input reaches are zero. Weights: one flat vector, e3nn's layout.

    Shapes: ``x (..., irreps_in.dim)`` → ``(..., irreps_out.dim)``.
    """

    def __init__(self, irreps_in, irreps_out):
        super().__init__()
        self.irreps_in = _as_irreps(irreps_in, "irreps_in")
        self.irreps_out = _as_irreps(irreps_out, "irreps_out")
        self.paths = [(i, o) for i, (_, a) in enumerate(self.irreps_in) for o, (_, b) in enumerate(self.irreps_out) if a == b]
        fan_in = [sum(self.irreps_in[i].mul for i, o2 in self.paths if o2 == o) for o in range(len(self.irreps_out))]
        self.alphas = [fan_in[o] ** -0.5 for _, o in self.paths]
        self.path_shapes = [(self.irreps_in[i].mul, self.irreps_out[o].mul) for i, o in self.paths]
        self.weight_numel = sum(u * w for u, w in self.path_shapes)
        self.weight = torch.nn.Parameter(torch.randn(self.weight_numel))

    def extra_repr(self) -> str:
        return f"{self.irreps_in} -> {self.irreps_out}, weight_numel={self.weight_numel}"

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        _check_features(x, self.irreps_in, "x")
        batch = x.shape[:-1]
        x = x.reshape(-1, self.irreps_in.dim)
        xs = _blocks(x, self.irreps_in)
        out = [x.new_zeros(len(x), mul, ir.dim) for mul, ir in self.irreps_out]
        weights = self.weight.split([u * w for u, w in self.path_shapes])
        for (i, o), (u, w), alpha, W in zip(self.paths, self.path_shapes, self.alphas, weights):
            out[o] = out[o] + alpha * torch.einsum("zui,uw->zwi", xs[i], W.reshape(u, w))
        return torch.cat([o.flatten(1) for o in out], dim=1).reshape(batch + (self.irreps_out.dim,))


class _Normalized(torch.nn.Module):
    """``c f(x)`` with ``c`` such that ``E[(c f(z))²] = 1`` for ``z ~ N(0, 1)``: activations keep features of order one."""

    def __init__(self, f):
        super().__init__()
        z, w = np.polynomial.hermite_e.hermegauss(100)  # Gauss quadrature for the normal density
        second_moment = float(np.sum(w / w.sum() * f(torch.from_numpy(z)).numpy() ** 2))
        self.f, self.c = f, second_moment**-0.5

    def forward(self, x):
        return self.c * self.f(x)


class Gate(torch.nn.Module):
    r"""Gated non-linearity: ``[s, g, v] → [σ(s), σ'(g) · v]``.

    Input: the concatenation ``irreps_scalars + irreps_gates + irreps_gated``. Scalars ``s`` go
    through an activation; each irrep copy in ``v`` is multiplied by its own gate ``g`` (one scalar
    per copy). A scalar times a vector is a vector, so this is equivariant for any activation,
    *provided parity is respected*: an odd scalar (``0o``) needs an odd activation (``tanh``), since
    ``σ(−s)`` must be ``−σ(s)``; even scalars may use any (``silu``; ``sigmoid`` for even gates).
    A ``0o`` gate flips the parity of what it gates. Activations are normalised to keep unit variance.

    Shapes: ``x (..., irreps_in.dim)`` → ``(..., irreps_out.dim)``, ``irreps_out = irreps_scalars + gated``.
    """

    def __init__(self, irreps_scalars, irreps_gates, irreps_gated):
        super().__init__()
        self.irreps_scalars = _as_irreps(irreps_scalars, "irreps_scalars")
        self.irreps_gates = _as_irreps(irreps_gates, "irreps_gates")
        self.irreps_gated = _as_irreps(irreps_gated, "irreps_gated")
        for name, irreps in (("irreps_scalars", self.irreps_scalars), ("irreps_gates", self.irreps_gates)):
            if any(ir.l > 0 for _, ir in irreps):
                raise ValueError(f"{name} must hold scalars only (0e, 0o), got {irreps}")
        if self.irreps_gates.num_irreps != self.irreps_gated.num_irreps:
            raise ValueError(f"one gate per gated irrep: {self.irreps_gated} has {self.irreps_gated.num_irreps} irreps, but {self.irreps_gates} gives {self.irreps_gates.num_irreps} gates")
        self.irreps_in = self.irreps_scalars + self.irreps_gates + self.irreps_gated
        gate_parities = [ir.p for mul, ir in self.irreps_gates for _ in range(mul)]
        gated = [ir for mul, ir in self.irreps_gated for _ in range(mul)]
        self.irreps_out = self.irreps_scalars + o3.Irreps([(1, (ir.l, ir.p * p)) for ir, p in zip(gated, gate_parities)]).simplify()
        even, odd = _Normalized(torch.nn.functional.silu), _Normalized(torch.tanh)
        self.scalar_acts = [even if ir.p == 1 else odd for _, ir in self.irreps_scalars]
        self.gate_acts = [_Normalized(torch.sigmoid) if ir.p == 1 else odd for _, ir in self.irreps_gates]
        # component j of the gated features is multiplied by gate gate_index[j]
        self.register_buffer("gate_index", torch.arange(len(gated)).repeat_interleave(torch.tensor([ir.dim for ir in gated], dtype=torch.long)))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        _check_features(x, self.irreps_in, "x")
        s, g, v = x.split([self.irreps_scalars.dim, self.irreps_gates.dim, self.irreps_gated.dim], dim=-1)
        s = torch.cat([act(s[..., sl]) for act, sl in zip(self.scalar_acts, self.irreps_scalars.slices())] or [s], dim=-1)
        g = torch.cat([act(g[..., sl]) for act, sl in zip(self.gate_acts, self.irreps_gates.slices())] or [g], dim=-1)
        return torch.cat([s, v * g[..., self.gate_index]], dim=-1)


def radial_basis(r: torch.Tensor, r_max: float, number: int) -> torch.Tensor:
    r"""Bessel functions of the distance with a smooth cutoff, shape ``r (...)`` → ``(..., number)``.

    ``B_n(r) = sqrt(2 / r_max) · sin(nπ r / r_max) / r · u(r / r_max)``, n = 1…number, with the
    polynomial envelope ``u(x) = 1 − 28x⁶ + 48x⁷ − 21x⁸`` (``u(1) = u'(1) = u''(1) = 0``): every basis
    function and its first two derivatives go to zero at ``r_max``, so an atom crossing the cutoff
    changes nothing abruptly (energies and forces stay smooth).
    """
    x = r[..., None] / r_max
    n = torch.arange(1, number + 1, dtype=r.dtype, device=r.device)
    bessel = math.sqrt(2 / r_max) * n * math.pi / r_max * torch.sinc(n * x)  # sin(nπx)/r, finite at r = 0
    u = 1 - 28 * x**6 + 48 * x**7 - 21 * x**8
    return bessel * torch.where(x < 1, u, torch.zeros_like(u))


def radius_graph(pos: torch.Tensor, r_max: float, batch: torch.Tensor | None = None, cell: torch.Tensor | None = None):
    r"""All pairs of points closer than ``r_max`` within the same graph, periodic when a cell is given.

    Args:
        pos: ``(N, 3)`` positions.
        r_max: the cutoff radius.
        batch: ``(N,)`` graph index of each point (default: all in graph 0).
        cell: ``(3, 3)`` or ``(num_graphs, 3, 3)`` lattice vectors as rows, for crystals: point j is
            then also a neighbour of i through its periodic images ``pos[j] + n @ cell``.

    Returns:
        ``edge_src, edge_dst, edge_shift``: ``(E,)``, ``(E,)``, ``(E, 3)``. The edge vector from
        point ``dst`` to (the image of) point ``src`` is ``pos[src] + edge_shift − pos[dst]``.
        No self-edges, except a point's own images in a small cell.
    """
    if not isinstance(pos, torch.Tensor) or pos.dim() != 2 or pos.shape[1] != 3:
        raise ValueError(f"pos must have shape (N, 3), got {tuple(pos.shape) if isinstance(pos, torch.Tensor) else type(pos).__name__}")
    if not r_max > 0:
        raise ValueError(f"r_max must be positive, got {r_max}")
    N = len(pos)
    batch = _check_batch(batch, N, pos.device)
    if cell is None:
        shifts = pos.new_zeros(1, 3)
        offsets = pos.new_zeros(1, N, 3)
    else:
        cell = cell.to(pos.dtype).reshape(-1, 3, 3)
        if torch.linalg.det(cell).abs().min() < 1e-12:
            raise ValueError("cell must have three linearly independent lattice vectors as rows")
        # planes of lattice points are 1/|b_a| apart (b_a: the reciprocal vectors, the columns of
        # cell⁻¹), so images up to ceil(r_max |b_a|) cells away can be within r_max
        reach = torch.ceil(r_max * torch.linalg.inv(cell).norm(dim=-2)).amax(dim=0).long().tolist()
        ranges = [torch.arange(-n, n + 1, dtype=pos.dtype, device=pos.device) for n in reach]
        shifts = torch.cartesian_prod(*ranges)  # (S, 3) whole numbers of cells
        offsets = torch.einsum("sa,nab->snb", shifts, cell[batch if len(cell) > 1 else torch.zeros_like(batch)])
    with torch.no_grad():
        distance = (pos[None, None, :, :] + offsets[:, None, :, :] - pos[None, :, None, :]).norm(dim=-1)  # (S, dst, src)
        keep = (distance < r_max) & (batch[:, None] == batch[None, :])
        keep[(shifts == 0).all(dim=1)] &= ~torch.eye(N, dtype=torch.bool, device=pos.device)
        s, edge_dst, edge_src = keep.nonzero(as_tuple=True)
    return edge_src, edge_dst, offsets[s, edge_src]


def average_num_neighbors(positions, r_max: float, cells=None) -> float:
    r"""The mean number of neighbours closer than ``r_max`` per point, over a set of structures.

    ``positions``: a list of ``(N_k, 3)`` tensors (the training set); ``cells``: None, or one
    ``(3, 3)`` lattice (rows) per structure for crystals. Returns ``Σ_k E_k / Σ_k N_k`` (E_k edges of
    ``radius_graph``): the constant ``n̄`` that ``EquivariantNet`` divides its sums by.
    """
    positions = list(positions)
    cells = [None] * len(positions) if cells is None else list(cells)
    if not positions or len(cells) != len(positions):
        raise ValueError(f"give at least one structure and one cell per structure (got {len(positions)} structures, {len(cells)} cells)")
    edges = sum(len(radius_graph(pos, r_max, cell=cell)[0]) for pos, cell in zip(positions, cells))
    return edges / sum(len(pos) for pos in positions)


def _check_batch(batch, N: int, device) -> torch.Tensor:
    if batch is None:
        return torch.zeros(N, dtype=torch.long, device=device)
    if not isinstance(batch, torch.Tensor) or batch.shape != (N,) or batch.dtype not in (torch.int32, torch.int64):
        raise ValueError(f"batch must be an integer tensor of shape ({N},), the graph index of each point")
    return batch.long()


class Convolution(torch.nn.Module):
    r"""Point convolution: ``x'_i = Linear(x_i) + 1/sqrt(n̄) Σ_{j ∈ N(i)} TP(x_j, Y(r̂_ij); w(|r_ij|))``.

    The filter is a learned function of the distance times spherical harmonics of the direction:
    ``w(|r_ij|)`` is a small MLP of ``radial_basis(|r_ij|)`` giving the tensor product's weights
    (one set per edge), ``Y`` the spherical harmonics up to ``lmax`` ("component" normalisation).
    ``n̄`` is the average number of neighbours, so the sum stays of order one.

    The radial network's last layer has one output per weight (e3nn's flat order); ``forward``
    evaluates it group by group (``TensorProduct.group_index``), which gives the same numbers as
    ``self.radial(basis)`` in the layout the tensor product mixes fastest.

    Shapes: ``x (N, irreps_in.dim)``, ``edge_src, edge_dst (E,)``, ``edge_vec (E, 3)`` → ``(N, irreps_out.dim)``.
    """

    def __init__(self, irreps_in, irreps_out, lmax: int = 2, max_radius: float = 2.0, num_basis: int = 8, radial_hidden: int = 16):
        super().__init__()
        self.irreps_in = _as_irreps(irreps_in, "irreps_in")
        self.irreps_out = _as_irreps(irreps_out, "irreps_out")
        self.irreps_sh = o3.Irreps.spherical_harmonics(lmax)
        self.max_radius, self.num_basis = max_radius, num_basis
        self.tp = TensorProduct(self.irreps_in, self.irreps_sh, self.irreps_out, shared_weights=False)
        self.radial = torch.nn.Sequential(torch.nn.Linear(num_basis, radial_hidden), torch.nn.SiLU(), torch.nn.Linear(radial_hidden, self.tp.weight_numel))
        self.self_interaction = Linear(self.irreps_in, self.irreps_out)

    def forward(self, x, edge_src, edge_dst, edge_vec, num_neighbors: float) -> torch.Tensor:
        Y = spherical_harmonics(self.irreps_sh, edge_vec, normalize=True, normalization="component")
        hidden = self.radial[:-1](radial_basis(edge_vec.norm(dim=-1), self.max_radius, self.num_basis))
        # self.radial(...)[:, index] for each group, made by the group's rows of the last layer so
        # that each comes out contiguous in memory (see TensorProduct: how it is computed)
        last = self.radial[-1]
        weights = [torch.nn.functional.linear(hidden, last.weight[index], last.bias[index]) for index in self.tp.group_index]
        messages = self.tp(x[edge_src], Y, weights)
        summed = x.new_zeros(len(x), self.irreps_out.dim).index_add(0, edge_dst, messages)
        return self.self_interaction(x) + summed / math.sqrt(num_neighbors)


def _reachable(irreps: o3.Irreps, irreps_sh: o3.Irreps, ir) -> bool:
    return any(ir in ir1 * ir2 for _, ir1 in irreps for _, ir2 in irreps_sh)


class EquivariantNet(torch.nn.Module):
    r"""Convolutions and gates, ``num_layers`` times, then a last convolution to ``irreps_out``.

    Equivariant under rotations and inversion (features transform by their irreps), invariant
    under translations (only differences of positions enter) and equivariant under permutations
    of the points (sums over neighbours).

    Args:
        irreps_in, irreps_out: irreps of the node inputs and of the outputs.
        irreps_hidden: the hidden features. Only irreps that a tensor product can reach from the
            previous layer are kept; every ``l > 0`` irrep gets a gate.
        lmax: the highest l of the spherical harmonics of the edge directions.
        max_radius: neighbours are points closer than this.
        num_neighbors: the typical number of neighbours n̄, used to normalise sums (1/sqrt(n̄)).
            Required: a constant of the model, taken once from the training set
            (``average_num_neighbors``), as e3nn and NequIP do. Computing it from each batch would
            make a graph's output depend on what it is batched with.
        reduce: ``"sum"`` or ``"mean"`` over the nodes of each graph, or None for per-node outputs.

    ``forward(pos, x=None, batch=None, cell=None)``: ``pos (N, 3)``, ``x (N, irreps_in.dim)``
    (default: ones, for ``irreps_in = "0e"``), ``batch (N,)`` graph index, ``cell`` lattice vectors
    for periodic systems (see ``radius_graph``). Returns ``(num_graphs, irreps_out.dim)``, or
    ``(N, irreps_out.dim)`` with ``reduce=None``.
    """

    def __init__(self, irreps_in="0e", irreps_out="0e", irreps_hidden="16x0e + 16x0o + 8x1o + 8x1e + 4x2e + 4x2o", lmax: int = 2, max_radius: float = 2.0,
                 num_layers: int = 3, num_basis: int = 8, num_neighbors: float | None = None, reduce: str | None = "sum"):
        super().__init__()
        if reduce not in ("sum", "mean", None):
            raise ValueError(f"reduce must be 'sum', 'mean' or None, got {reduce!r}")
        if num_neighbors is None or not num_neighbors > 0:
            raise ValueError(f"EquivariantNet needs num_neighbors > 0 (got {num_neighbors!r}): the mean number of neighbours within "
                             "max_radius in the training set, e.g. num_neighbors=average_num_neighbors(train_positions, max_radius)")
        self.irreps_in = _as_irreps(irreps_in, "irreps_in")
        self.irreps_out = _as_irreps(irreps_out, "irreps_out")
        hidden = _as_irreps(irreps_hidden, "irreps_hidden")
        self.max_radius, self.num_neighbors, self.reduce = max_radius, num_neighbors, reduce
        irreps_sh = o3.Irreps.spherical_harmonics(lmax)

        self.layers = torch.nn.ModuleList()
        irreps = self.irreps_in
        for _ in range(num_layers):
            scalars = o3.Irreps([(mul, ir) for mul, ir in hidden if ir.l == 0 and _reachable(irreps, irreps_sh, ir)])
            gated = o3.Irreps([(mul, ir) for mul, ir in hidden if ir.l > 0 and _reachable(irreps, irreps_sh, ir)])
            gate_ir = "0e" if _reachable(irreps, irreps_sh, o3.Irrep("0e")) else "0o"
            gates = o3.Irreps([(mul, gate_ir) for mul, _ in gated])
            gate = Gate(scalars, gates, gated)
            conv = Convolution(irreps, gate.irreps_in, lmax, max_radius, num_basis)
            self.layers.append(torch.nn.ModuleDict({"conv": conv, "gate": gate}))
            irreps = gate.irreps_out
        self.output = Convolution(irreps, self.irreps_out, lmax, max_radius, num_basis)

    def forward(self, pos: torch.Tensor, x: torch.Tensor | None = None, batch: torch.Tensor | None = None, cell: torch.Tensor | None = None) -> torch.Tensor:
        edge_src, edge_dst, edge_shift = radius_graph(pos, self.max_radius, batch, cell)
        batch = _check_batch(batch, len(pos), pos.device)
        if x is None:
            if self.irreps_in != o3.Irreps("0e"):
                raise ValueError(f"pass the node features x, shape (N, {self.irreps_in.dim}) for irreps_in = {self.irreps_in}")
            x = pos.new_ones(len(pos), 1)
        if x.shape != (len(pos), self.irreps_in.dim):
            raise ValueError(f"x must have shape ({len(pos)}, {self.irreps_in.dim}) for {len(pos)} points and irreps_in = {self.irreps_in}, got {tuple(x.shape)}")
        edge_vec = pos[edge_src] + edge_shift - pos[edge_dst]
        for layer in self.layers:
            x = layer["gate"](layer["conv"](x, edge_src, edge_dst, edge_vec, self.num_neighbors))
        x = self.output(x, edge_src, edge_dst, edge_vec, self.num_neighbors)
        if self.reduce is None:
            return x
        num_graphs = int(batch.max()) + 1 if len(batch) else 0
        out = x.new_zeros(num_graphs, x.shape[1]).index_add(0, batch, x)
        if self.reduce == "mean":
            out = out / torch.bincount(batch, minlength=num_graphs).clamp(min=1)[:, None].to(x.dtype)
        return out
