"""symml vs e3nn on the mathematics of issue 2, in one run: spherical harmonics and Clebsch-Gordan.

Prints medians of repeated runs and the ratio symml / e3nn (below 1 means symml is faster).
Goals: spherical harmonics l ≤ 4 on 10⁶ points ≤ 1.2×; all Clebsch-Gordan tensors l ≤ 6 cold ≤ 2×,
cached ≤ 1×. Run:  python benchmarks/bench_math.py
"""

import statistics
import time

import torch
from e3nn import o3
from e3nn.o3 import _wigner

from symml import cg, sh


def median_time(fn, repeat=7, setup=lambda: None):
    fn()  # warm up
    times = []
    for _ in range(repeat):
        setup()
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def clear_caches():
    for f in (cg._clebsch_gordan, cg._product_eigenspaces, _wigner._so3_clebsch_gordan, _wigner._su2_clebsch_gordan):
        f.cache_clear()


def main():
    torch.set_num_threads(2)
    print(f"torch {torch.__version__}, {torch.get_num_threads()} threads, device cpu")
    rows = []

    x = torch.randn(10**6, 3, generator=torch.Generator().manual_seed(0))
    ls = [0, 1, 2, 3, 4]
    rows.append(("spherical harmonics l≤4, 10⁶ points (float32)",
                 median_time(lambda: sh.spherical_harmonics(ls, x)),
                 median_time(lambda: o3.spherical_harmonics(ls, x, True)), 1.2))

    triples = [(a, b, c) for a in range(7) for b in range(7) for c in range(abs(a - b), min(a + b, 6) + 1)]

    def all_cg(f):
        return lambda: [f(*t) for t in triples]

    rows.append((f"all {len(triples)} Clebsch-Gordan tensors l≤6, cold",
                 median_time(all_cg(cg.clebsch_gordan), repeat=3, setup=clear_caches),
                 median_time(all_cg(o3.wigner_3j), repeat=3, setup=clear_caches), 2.0))
    rows.append((f"all {len(triples)} Clebsch-Gordan tensors l≤6, cached",
                 median_time(all_cg(cg.clebsch_gordan)), median_time(all_cg(o3.wigner_3j)), 1.0))

    print(f"{'benchmark':<52}{'symml':>10}{'e3nn':>10}{'ratio':>8}{'goal':>7}")
    for name, ours, theirs, goal in rows:
        ratio = ours / theirs
        print(f"{name:<52}{ours * 1e3:>8.1f}ms{theirs * 1e3:>8.1f}ms{ratio:>8.2f}{'≤' + str(goal):>7} {'ok' if ratio <= goal else 'SLOWER'}")


if __name__ == "__main__":
    main()
