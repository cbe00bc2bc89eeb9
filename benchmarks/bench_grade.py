"""Seconds per notebook graded, against executing the same notebook with nbclient (what nbgrader's autograde does);
and with ``--memory``, the grader's own peak memory on an honest notebook against a hostile one.

    python benchmarks/bench_grade.py [--lesson 04] [--repeats 5] [--no-sandbox]
    python benchmarks/bench_grade.py --memory [--repeats 1]

``--memory`` grades, each in a fresh grader process, the solutions handed in as they are and the
same with a flood: 300 prints of 1 MiB, one print of 100 MiB, a display of 200 MiB, and answers
whose outputs are an 8 GiB view of one float and a 40 MB tensor. It prints the median peak
resident memory of the grader process itself (``getrusage(RUSAGE_SELF)``: not the kernels) for
each, and their ratio (goal: ≤ 1.5×).

Both run as fresh processes, one notebook at a time, on a copy of a solutions notebook handed in
as a student's: `symml execute` (nbclient, a plain kernel) and `symml grade` (a sandboxed kernel,
then the probes and the judging). Prints the median wall time and the median CPU time of each,
and their ratio (goal: grading ≤ 1.5× nbclient).
"""

import argparse
import json
import os
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


FLOOD = [
    "for _ in range(300):\n    print('x' * 2**20)",
    "print('y' * 100 * 2**20)",
    "from IPython.display import publish_display_data\npublish_display_data({'text/plain': 'z' * 200 * 2**20})",
]
HUGE_ANSWERS = """import torch
_honest1, _honest3 = cg_from_casimir, count_paths
def cg_from_casimir(l1, l2, l3):
    return torch.zeros(1).expand(2**30)      # 8 GiB once judged, 4 bytes sent
cg_from_casimir = check("04.1", cg_from_casimir)
def count_paths(a, b, c):
    return torch.zeros(10**7)                # 40 MB, under the reply limit
count_paths = check("04.3", count_paths)
"""


def peak_of(argv) -> float:
    """The peak resident memory (MiB) of a grader process that runs ``symml grade ARGV``, its kernels not counted."""
    code = ("import resource, sys\nfrom symml.course.grade import main\nmain(sys.argv[1:])\n"
            "print('PEAK', resource.getrusage(resource.RUSAGE_SELF).ru_maxrss)")
    out = subprocess.run([sys.executable, "-c", code, *argv], check=True, capture_output=True, text=True).stdout
    return int(out.split("PEAK")[-1]) / 1024


def memory(args, solution, symml):
    nb = json.loads(solution.read_text())
    hostile = dict(nb, cells=[{"cell_type": "code", "metadata": {}, "outputs": [], "execution_count": None, "source": c} for c in FLOOD] + nb["cells"]
                   + ([{"cell_type": "code", "metadata": {}, "outputs": [], "execution_count": None, "source": HUGE_ANSWERS}] if args.lesson == "04" else []))
    results = {"honest": [], "hostile": []}
    with tempfile.TemporaryDirectory() as tmp:
        for k in range(args.repeats):
            for name, content in (("honest", nb), ("hostile", hostile)):
                copy = Path(tmp) / f"{name}{k}" / solution.name
                copy.parent.mkdir()
                copy.write_text(json.dumps(content))
                argv = [str(copy), "--out", str(copy.parent / "g.csv"), "--quiet", "--cell-timeout", "60"]
                results[name].append(peak_of(argv + (["--no-sandbox"] if args.no_sandbox else [])))
    med = {name: statistics.median(v) for name, v in results.items()}
    print(f"problem set {args.lesson}, {args.repeats} runs each, median peak memory of the grader process:")
    for name, value in med.items():
        print(f"  {name:8s} {value:8.0f} MiB")
    print(f"  ratio    {med['hostile'] / med['honest']:.2f}×   (goal ≤ 1.5×; the flood alone is {300 + 100 + 200} MiB of text)")


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--lesson", default="04")
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--no-sandbox", action="store_true")
    parser.add_argument("--memory", action="store_true", help="the grader's peak memory, honest against hostile")
    args = parser.parse_args()
    solution = next((ROOT / "solutions").glob(f"{args.lesson}_*.ipynb"))
    symml = [sys.executable, "-m", "symml"]
    if args.memory:
        return memory(args, solution, symml)
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
