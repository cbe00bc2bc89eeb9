"""symml.nn vs e3nn doing the same work, in one run: the tensor product and a training step.

1. The tensor product ``32x0e+16x1o+8x2e ⊗ 0e+1o+2e → 32x0e+16x1o+8x2e`` with per-edge weights on
   20,000 edges (float32), forward and forward+backward: ``symml.nn.TensorProduct`` against
   ``e3nn.o3.FullyConnectedTensorProduct``, both given the same ``(20000, 3456)`` weight tensor in
   e3nn's flat layout; then symml again with the same weights grouped by output irrep
   (``[w[:, i] for i in tp.group_index]``, the layout ``Convolution`` makes; e3nn has no such input).
2. One training step (forward, backward, Adam) of ``EquivariantNet`` on a 1,000-atom system,
   against its twin whose tensor products, linear layers and spherical harmonics are e3nn's
   (same weights: the script checks both give the same energy first).

Prints medians of 9 runs, ratios symml / e3nn (below 1: symml is faster; the goals are ≤ 0.5 for
the forward pass, ≤ 0.2 forward+backward, ≤ 0.15 for the training step) and the peak memory of
each measurement, each run in a fresh process (peak RSS on CPU, peak allocated memory on a GPU).
Reading the weights once is the bandwidth bound of the forward pass (276 MB; printed, measured as
the time of ``w.sum()``). Runs on the GPU when one is present. Run:
    python benchmarks/bench_nn.py [--device cpu|cuda] [--threads 2]
"""

import argparse
import json
import resource
import statistics
import subprocess
import sys
import time

import torch
from e3nn import o3

from symml import nn

IRREPS, IRREPS_SH, EDGES = "32x0e+16x1o+8x2e", "0e+1o+2e", 20_000
ATOMS, MAX_RADIUS = 1_000, 2.0


def synchronize(device):
    if device.type == "cuda":
        torch.cuda.synchronize()


def median_time(fn, device, repeat=9):
    fn()  # warm up
    times = []
    for _ in range(repeat):
        synchronize(device)
        start = time.perf_counter()
        fn()
        synchronize(device)
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def tensor_product_task(impl, backward, device, grouped=False):
    make = nn.TensorProduct if impl == "symml" else o3.FullyConnectedTensorProduct
    tp = make(IRREPS, IRREPS_SH, IRREPS, shared_weights=False).to(device)
    g = torch.Generator().manual_seed(0)
    x = torch.randn(EDGES, o3.Irreps(IRREPS).dim, generator=g).to(device)
    y = torch.randn(EDGES, o3.Irreps(IRREPS_SH).dim, generator=g).to(device)
    w = torch.randn(EDGES, tp.weight_numel, generator=g).to(device)
    if grouped:  # made before timing, as Convolution makes them: by the radial net, already in this layout
        w = [w[:, index].contiguous() for index in tp.group_index]

    def step():
        if backward:
            xx = x.detach().requires_grad_()
            ww = [a.detach().requires_grad_() for a in w] if grouped else w.detach().requires_grad_()
            tp(xx, y, ww).pow(2).sum().backward()
        else:
            with torch.no_grad():
                tp(x, y, w)

    return step


def bandwidth_bound(device):
    """Seconds to read the flat weight tensor once: no forward pass can take less."""
    w = torch.randn(EDGES, nn.TensorProduct(IRREPS, IRREPS_SH, IRREPS, shared_weights=False).weight_numel, device=device)
    return median_time(lambda: w.sum(), device), w.numel() * w.element_size() / 1e6


class E3nnConvolution(nn.Convolution):
    """The same convolution with e3nn's tensor product, linear layer and spherical harmonics."""

    def __init__(self, conv: nn.Convolution):
        torch.nn.Module.__init__(self)
        self.irreps_in, self.irreps_out, self.irreps_sh = conv.irreps_in, conv.irreps_out, conv.irreps_sh
        self.max_radius, self.num_basis, self.radial = conv.max_radius, conv.num_basis, conv.radial
        self.tp = o3.FullyConnectedTensorProduct(self.irreps_in, self.irreps_sh, self.irreps_out, shared_weights=False)
        self.self_interaction = o3.Linear(self.irreps_in, self.irreps_out)
        with torch.no_grad():
            self.self_interaction.weight.copy_(conv.self_interaction.weight)

    def forward(self, x, edge_src, edge_dst, edge_vec, num_neighbors):
        Y = o3.spherical_harmonics(self.irreps_sh, edge_vec, normalize=True, normalization="component")
        weight = self.radial(nn.radial_basis(edge_vec.norm(dim=-1), self.max_radius, self.num_basis))
        summed = x.new_zeros(len(x), self.irreps_out.dim).index_add(0, edge_dst, self.tp(x[edge_src], Y, weight))
        return self.self_interaction(x) + summed / num_neighbors**0.5


def e3nn_twin(net: nn.EquivariantNet) -> nn.EquivariantNet:
    import copy

    twin = copy.deepcopy(net)
    for layer in twin.layers:
        layer["conv"] = E3nnConvolution(layer["conv"])
    twin.output = E3nnConvolution(twin.output)
    return twin


def system(device):
    g = torch.Generator().manual_seed(0)
    side = (ATOMS / 0.45) ** (1 / 3)  # ~15 neighbours within MAX_RADIUS
    pos = side * torch.rand(ATOMS, 3, generator=g)
    types = torch.nn.functional.one_hot(torch.randint(0, 4, (ATOMS,), generator=g), 4).float()
    return pos.to(device), types.to(device)


def network(device):
    torch.manual_seed(0)
    return nn.EquivariantNet("4x0e", "0e", max_radius=MAX_RADIUS, num_layers=3, num_neighbors=15.0).to(device)


def training_task(impl, device):
    net = network(device)
    if impl == "e3nn":
        net = e3nn_twin(net).to(device)
    pos, types = system(device)
    optimizer = torch.optim.Adam(net.parameters(), lr=1e-3)

    def step():
        optimizer.zero_grad()
        (net(pos, types) - 1.0).pow(2).sum().backward()  # fit the total energy
        optimizer.step()

    return step


def measure(task, impl, device):
    """Run in a fresh process: median seconds and peak memory in MB."""
    torch.set_num_threads(ARGS.threads)
    if task == "training":
        step = training_task(impl, device)
    else:
        step = tensor_product_task(impl, task.startswith("tp_backward"), device, grouped=task.endswith("grouped"))
    if device.type == "cuda":
        torch.cuda.reset_peak_memory_stats()
    seconds = median_time(step, device)
    if device.type == "cuda":
        peak = torch.cuda.max_memory_allocated() / 2**20
    else:
        peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    return {"seconds": seconds, "peak_mb": peak}


def check_twins_agree(device):
    net = network(device)
    net.reduce = None  # compare every atom's output, not only the sum
    pos, types = system(device)
    with torch.no_grad():
        ours, theirs = net(pos, types), e3nn_twin(net)(pos, types)
    return float((ours - theirs).abs().max() / theirs.abs().max())


def main():
    device = torch.device(ARGS.device)
    if ARGS.task:
        print(json.dumps(measure(ARGS.task, ARGS.impl, device)))
        return
    torch.set_num_threads(ARGS.threads)
    where = torch.cuda.get_device_name() if device.type == "cuda" else f"cpu, {ARGS.threads} threads"
    print(f"torch {torch.__version__}, {where}")
    print(f"EquivariantNet and its e3nn twin agree to {check_twins_agree(device):.1e} (max difference per atom / max output, float32)")
    seconds, megabytes = bandwidth_bound(device)
    print(f"reading the {megabytes:.0f} MB of weights once (the forward pass's bound): {seconds * 1e3:.1f} ms")
    rows = [  # (name, symml's task, e3nn's task): e3nn always gets the flat weights
        ("tensor product, 20k edges, forward", "tp_forward", "tp_forward"),
        ("tensor product, 20k edges, forward+backward", "tp_backward", "tp_backward"),
        ("  the same, weights grouped: forward", "tp_forward_grouped", "tp_forward"),
        ("  the same, weights grouped: forward+backward", "tp_backward_grouped", "tp_backward"),
        (f"EquivariantNet training step, {ATOMS} atoms", "training", "training"),
    ]
    memory = "peak MB allocated" if device.type == "cuda" else "peak RSS MB"
    print(f"{'benchmark':<46}{'symml':>10}{'e3nn':>10}{'ratio':>8}   {memory} symml / e3nn")
    measured = {}
    for name, *tasks in rows:
        for impl, task in zip(("symml", "e3nn"), tasks):
            if (impl, task) not in measured:
                cmd = [sys.executable, __file__, "--task", task, "--impl", impl, "--device", ARGS.device, "--threads", str(ARGS.threads)]
                measured[impl, task] = json.loads(subprocess.run(cmd, check=True, capture_output=True, text=True).stdout.strip().splitlines()[-1])
        s, e = measured["symml", tasks[0]], measured["e3nn", tasks[1]]
        print(f"{name:<46}{s['seconds'] * 1e3:>8.1f}ms{e['seconds'] * 1e3:>8.1f}ms{s['seconds'] / e['seconds']:>8.2f}   {s['peak_mb']:.0f} / {e['peak_mb']:.0f}")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--task", help=argparse.SUPPRESS)
    parser.add_argument("--impl", help=argparse.SUPPRESS)
    ARGS = parser.parse_args()
    main()
