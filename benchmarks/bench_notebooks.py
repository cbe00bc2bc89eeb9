"""Every lesson, solution and exercise notebook run the way Binder runs it: one CPU's quota, 2 GiB.

Each notebook is executed top to bottom in a fresh kernel (``symml.course.execute``, nothing saved)
from a fresh process inside its own cgroup: a CPU quota of ``--cpus`` cores (default 1, what a
Binder pod gets) and a memory cap of ``--memory`` GiB (default 2), swap off. ``import symml`` sizes
torch's threads to the quota (``symml.threads``), as it does on Binder. Prints, per notebook, the
wall time, the CPU time (the notebook's process and kernel), the peak memory the cgroup saw, and
the wall time as a fraction of the budget a notebook may take (``--budget``, 60 s), then the
slowest ones. A notebook over its budget or that fails is marked; the exit status is 1 if any is.

    sudo python benchmarks/bench_notebooks.py [NOTEBOOK ...] [--cpus 1] [--memory 2] [--budget 60]

The quota needs a cgroup the script may make (root, or a delegated cgroup v2 subtree). Where there
is none, it says so and measures without a quota (then the times are not Binder's).
"""

import argparse
import resource
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from symml.course.execute import notebooks  # noqa: E402
from symml.course.sandbox import Cgroup  # noqa: E402

RUN = "import sys\nfrom symml.course.execute import execute\nexecute(sys.argv[1], save=False)"


def run_one(path: Path, cpus: float, memory: int, timeout: float) -> dict:
    """Execute one notebook in a fresh cgroup: ``{"wall", "cpu", "peak" (bytes or None), "quota", "error"}``."""
    group = Cgroup(memory, 4096, cpus=cpus)
    try:
        command, _ = group.wrap([sys.executable, "-c", RUN, str(path)])
        before = resource.getrusage(resource.RUSAGE_CHILDREN)
        start = time.perf_counter()
        try:
            done = subprocess.run(command, capture_output=True, text=True, timeout=timeout, cwd=ROOT)
            error = None if done.returncode == 0 else (done.stderr.strip().splitlines() or [f"exit status {done.returncode}"])[-1]
        except subprocess.TimeoutExpired:
            error = f"still running after {timeout:.0f} s"
        wall = time.perf_counter() - start
        after = resource.getrusage(resource.RUSAGE_CHILDREN)
        cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
        return {"wall": wall, "cpu": cpu, "peak": group.peak(), "quota": "cpu" in group.paths, "error": error}
    finally:
        group.kill()


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("notebooks", nargs="*", type=Path, help="default: all of lessons/, solutions/, exercises/")
    parser.add_argument("--cpus", type=float, default=1.0, help="CPU quota in cores (default 1)")
    parser.add_argument("--memory", type=float, default=2.0, help="memory cap in GiB (default 2)")
    parser.add_argument("--budget", type=float, default=60.0, help="seconds a notebook may take (default 60)")
    args = parser.parse_args(argv)
    paths = [p.resolve() for p in args.notebooks] or notebooks()
    memory = int(args.memory * 2**30)

    print(f"{len(paths)} notebooks, each in a fresh kernel under a quota of {args.cpus:g} CPU and {args.memory:g} GiB", flush=True)
    print(f"{'notebook':48s} {'wall s':>7s} {'CPU s':>7s} {'peak MB':>8s} {'wall/budget':>11s}", flush=True)
    results, quota_missing = {}, False
    for path in paths:
        r = results[path] = run_one(path, args.cpus, memory, timeout=max(10 * args.budget, 600))
        quota_missing |= not r["quota"]
        peak = f"{r['peak'] / 2**20:8.0f}" if r["peak"] else f"{'?':>8s}"
        flag = f"  FAILED: {r['error']}" if r["error"] else ("  OVER BUDGET" if r["wall"] > args.budget else "")
        print(f"{str(path.relative_to(ROOT)):48s} {r['wall']:7.1f} {r['cpu']:7.1f} {peak} {r['wall'] / args.budget:11.2f}{flag}", flush=True)

    walls = [r["wall"] for r in results.values()]
    slowest = sorted(results, key=lambda p: -results[p]["wall"])[:5]
    print(f"\nmedian {statistics.median(walls):.1f} s, total {sum(walls) / 60:.1f} min; slowest: "
          + ", ".join(f"{p.relative_to(ROOT)} {results[p]['wall']:.1f} s" for p in slowest))
    peaks = [r["peak"] for r in results.values() if r["peak"]]
    if peaks:
        print(f"largest peak memory {max(peaks) / 2**20:.0f} MB of the {args.memory:g} GiB cap")
    if quota_missing:
        print("NOTE: no CPU quota could be set (run as root, or in a delegated cgroup): these times use every core")
    bad = [p for p, r in results.items() if r["error"] or r["wall"] > args.budget]
    print(f"{len(bad)} of {len(paths)} notebooks failed or took longer than {args.budget:g} s" if bad else
          f"every notebook ran within {args.budget:g} s")
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
