"""Seconds per notebook graded, against executing the same notebook with nbclient (what nbgrader's autograde does).

    python benchmarks/bench_grade.py [--lesson 04] [--repeats 5] [--no-sandbox]

Both run as fresh processes, one notebook at a time, on a copy of a solutions notebook handed in
as a student's: `symml execute` (nbclient, a plain kernel) and `symml grade` (a sandboxed kernel,
then the probes and the judging). Prints the median wall time and the median CPU time of each,
and their ratio (goal: grading ≤ 1.5× nbclient).
"""

import argparse
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def timed(cmd) -> tuple[float, float]:
    """(wall seconds, CPU seconds of the process and its children) of one command."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    start = time.perf_counter()
    subprocess.run(cmd, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    wall = time.perf_counter() - start
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    return wall, (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--lesson", default="04")
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--no-sandbox", action="store_true")
    args = parser.parse_args()
    solution = next((ROOT / "solutions").glob(f"{args.lesson}_*.ipynb"))
    symml = [sys.executable, "-m", "symml"]
    results = {"nbclient": [], "symml grade": []}
    with tempfile.TemporaryDirectory() as tmp:
        for k in range(args.repeats):
            copy = Path(tmp) / f"run{k}" / solution.name
            copy.parent.mkdir()
            shutil.copy(solution, copy)
            results["nbclient"].append(timed([*symml, "execute", str(copy)]))
            grade = [*symml, "grade", str(copy), "--out", str(copy.parent / "g.csv"), "--quiet"] + (["--no-sandbox"] if args.no_sandbox else [])
            results["symml grade"].append(timed(grade))
    print(f"problem set {args.lesson}, {args.repeats} runs each, medians ({'no sandbox' if args.no_sandbox else 'sandbox on'}):")
    med = {}
    for name, runs in results.items():
        med[name] = (statistics.median(w for w, _ in runs), statistics.median(c for _, c in runs))
        print(f"  {name:12s} wall {med[name][0]:6.2f} s   cpu {med[name][1]:6.2f} s")
    print(f"  ratio        wall {med['symml grade'][0] / med['nbclient'][0]:.2f}×   cpu {med['symml grade'][1] / med['nbclient'][1]:.2f}×   (goal ≤ 1.5×)")


if __name__ == "__main__":
    main()
