r"""Plant named bugs one at a time and see whether the tests catch each one.

    python tools/mutate.py                       # every mutant, on this checkout's files
    python tools/mutate.py --repo PATH           # on another checkout (e.g. the merged main)
    python tools/mutate.py --rev 63b63c1         # on a commit of --repo (git archive: nothing is checked out)
    python tools/mutate.py --only key-10.3 --only make-notebooks-lesson-00
    python tools/mutate.py --list                # the mutants, their bug and their tests
    python tools/mutate.py --check               # does each mutant's text still exist? (seconds)

Each mutant is a bug a reviewer named, written as exact text substitutions in one or more files.
For each one the script copies the repository's files into a fresh temporary folder, applies the
substitutions there (the checkout itself is never touched), and runs the tests that should catch
that bug (a targeted pytest selection, not the whole suite, so a run takes minutes, not hours).

A substitution whose text is not found exactly as many times as it expects stops that mutant
with ``NOT APPLIED``: the code moved, so the mutant must be rewritten, never silently skipped.

Before the mutants, each distinct selection runs once on the unchanged copy (the baseline). A
test that already fails there says nothing about a mutant: it is deselected in the mutant's run,
and the table says how many were. A mutant is *killed* when a test of its selection fails (or the
run errors or times out: reported apart); it *survived* when every test passed. The exit status
is 0 when every mutant was applied and killed, 1 otherwise.

The tests run with this Python (``--python`` to change), ``PYTHONPATH`` set to the copy, and
without ``SYMML_CI`` (so a missing chromium or bwrap skips rather than fails, as on a laptop).
"""

import argparse
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
import xml.etree.ElementTree as ET
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


@dataclass
class Edit:
    """Replace ``old`` by ``new`` in ``path``, ``count`` times exactly, or at least once for ``count=-1``
    (``regex``: ``old`` is a pattern, multi-line; ``new`` may name its groups)."""

    path: str
    old: str
    new: str
    count: int = 1
    regex: bool = False

    def apply(self, root: Path) -> str | None:
        """Apply the edit in ``root``; returns what went wrong, or None."""
        file = root / self.path
        if not file.is_file():
            return f"{self.path} does not exist"
        text = file.read_text()
        pattern = self.old if self.regex else re.escape(self.old)
        found = len(re.findall(pattern, text, flags=re.MULTILINE))
        if found == 0 or (self.count != -1 and found != self.count):
            return f"{self.path}: {'pattern' if self.regex else 'text'} {self.old[:70]!r} found {found} times, expected {self.count}"
        new = self.new if self.regex else self.new.replace("\\", "\\\\")
        file.write_text(re.sub(pattern, new, text, flags=re.MULTILINE))
        return None


@dataclass
class Mutant:
    name: str
    bug: str
    edits: list[Edit]
    tests: list[str]  # pytest arguments: files, -k expressions
    origin: str = ""  # who named the bug
    notes: list[str] = field(default_factory=list)


ISSUE = "issue 23"
GUIDE = "developers' guide"
TOOLS = "grading/checks"

# test selections that several mutants share
TRAINING_TESTS = ["tests/test_datasets.py", "-k", "fit or stop or halv or restor or split or curve or nested", "tests/test_train.py"]
MAKE_TESTS = ["tests/test_make.py", "-k", "not lab"]
NN_TESTS = ["tests/test_nn.py", "-k", "mean or reduce or batch or neighbors"]
JUDGE_TESTS = ["tests/test_checks.py", "-k", "passed_failed or never_raises or choice or close or 00.1"]

MUTANTS = [
    # ------------------------------------------------ the bugs issue 23 names
    Mutant("key-10.3", "the answer key of prediction 10.3 changed from 3 to 5",
           [Edit("symml/checks/lesson10.py", r"(def tetrahedron_lowest_l\(\):\n(?:(?:    [^\n]*)?\n)*?    return )3\b", r"\g<1>5", regex=True)],
           ["tests/test_checks.py", "-k", "10.3", "tests/test_course.py", "-k", "10_", "tests/test_keys_07_12.py", "-k", "10_3"], ISSUE),
    Mutant("no-early-stopping", "early stopping deleted from fit_potential (it trains until max_epochs)",
           [Edit("symml/train.py", "        if waited >= patience:\n", "        if False:\n"),
            Edit("symml/train.py", "                stopped = \"lr floor\"\n                break\n", "                pass\n")],
           TRAINING_TESTS, ISSUE),
    Mutant("no-lr-halving", "the learning rate never halves on a plateau",
           [Edit("symml/train.py", 'group["lr"] *= decay', 'group["lr"] *= 1.0')],
           TRAINING_TESTS, ISSUE),
    Mutant("no-best-restore", "the weights of the best validation measurement are not restored",
           [Edit("symml/train.py", "    model.load_state_dict(best_state)\n", "")],
           TRAINING_TESTS, ISSUE),
    Mutant("make-notebooks-lesson-00", "make test's notebook lists cut to lesson 00",
           [Edit("Makefile", r"^(\w*(?:NOTEBOOKS|EXERCISES)\w*\s*[:?]?=\s*\$\(wildcard) [^)]*\)", r"\1 lessons/00_*.ipynb)", count=-1, regex=True)],
           MAKE_TESTS, ISSUE),
    Mutant("make-no-nbval-flags", "make test's nbval flags removed (--nbval, --nbval-lax)",
           [Edit("Makefile", r" --nbval(-lax)?(?=\s)", "", count=-1, regex=True)],
           MAKE_TESTS, ISSUE),
    Mutant("all-or-nothing-grade", "symml grade: an exercise's points all or nothing instead of split over its tests",
           [Edit("symml/course/grade.py", "float(ex.points) * passed / len(tests)", "float(ex.points) * (passed == len(tests))")],
           ["tests/test_grade.py", "-k", "partial or gradescope", "tests/test_guide.py", "-k", "route_1"], ISSUE),
    Mutant("all-or-nothing-score", "nbgrader's hidden tests (checks.score): all or nothing",
           [Edit("symml/checks/__init__.py", "round(float(ex.points) * passed / len(tests), 3)", "round(float(ex.points) * (passed == len(tests)), 3)")],
           ["tests/test_checks.py", "-k", "score or partial", "tests/test_nbgrader.py", "-k", "partial or 00"], ISSUE),
    Mutant("probe-trusts-kernel-checks", "the grader's probe uses the kernel's symml.checks (a student who patches it scores)",
           [Edit("symml/course/grade.py", "outcomes = checks.run_answer(", 'outcomes = sys.modules["symml.checks"].run_answer(')],
           ["tests/test_sandbox.py"], ISSUE, ["the max_points assertion of test_sandbox cannot see this"]),
    Mutant("rerun-regrades", "a rerun of symml grade regrades every submission instead of resuming",
           [Edit("symml/course/grade.py", "todo = [p for p in paths if str(p) not in book]", "todo = list(paths)")],
           ["tests/test_grade.py", "-k", "rerun or resume or twice"], ISSUE),
    Mutant("reduce-mean-is-sum", 'EquivariantNet(reduce="mean") sums instead of averaging',
           [Edit("symml/nn.py", r'if self\.reduce == "mean":\n(\s+)out = out / [^\n]*\n', r'if self.reduce == "mean":\n\1pass\n', regex=True)],
           NN_TESTS, ISSUE),
    Mutant("num-neighbors-from-batch", "num_neighbors taken from each batch instead of the model's constant",
           [Edit("symml/nn.py", "edge_vec, self.num_neighbors)", "edge_vec, max(len(edge_src) / max(len(pos), 1), 1e-9))", count=2)],
           NN_TESTS, ISSUE),
    Mutant("cuda-tests-vanish", "the cuda variant of the device tests silently dropped without a GPU",
           [Edit("tests/conftest.py", r"^DEVICES = .*$", 'DEVICES = ["cpu"] + (["cuda"] if torch.cuda.is_available() else [])', regex=True)],
           ["tests/test_devices.py"], ISSUE),
    # ------------------------------------------------ the developers' guide's own examples
    Mutant("key-00.1-function", "a wrong answer key: 00.1's weighted MSE divides by n instead of the total weight",
           [Edit("symml/checks/lesson00.py", "return (weight * _errors(y, y_true)).sum() / weight.sum()", "return (weight * _errors(y, y_true)).sum() / len(weight)")],
           ["tests/test_checks.py", "-k", "00.1", "tests/test_course.py", "-k", "00_"], GUIDE),
    Mutant("release-keeps-solution", "symml release leaves the solution in the student's notebook",
           [Edit("symml/course/release.py", 'out.append(f"{indent}raise NotImplementedError({json.dumps(prompt, ensure_ascii=False)})")',
                 'out += kept[a + 1 : b]')],
           ["tests/test_course.py", "-k", "not hygiene and not not_attempted and not solutions_pass and not exercises_run"], GUIDE),
    # ------------------------------------------------ the grading and checks modules
    Mutant("tripwire-off", "the forbidden-call tripwire never installs its profile hook",
           [Edit("symml/checks/forbidden.py", "        _SETPROFILE(self._hook)\n        return self\n", "        return self\n")],
           ["tests/test_checks.py", "-k", "forbidden or calls_the_reference"], TOOLS),
    Mutant("hidden-cases-dropped", "Exercise.tests drops the hidden cases (the grader scores the visible ones only)",
           [Edit("symml/checks/__init__.py", "return [self.inputs(seed)] + [[case] for case in self.hidden_inputs(seed)]", "return [self.inputs(seed)]")],
           ["tests/test_checks.py", "-k", "hidden or partial or score", "tests/test_grade.py", "-k", "partial or hidden or gradescope"], TOOLS),
    Mutant("compare-always-passes", "judge accepts every output (the comparison's hint is ignored)",
           [Edit("symml/checks/__init__.py", "        if hint:\n            return _with(v, \"failed\", f\"{hint}{where}\")\n", "")],
           JUDGE_TESTS, TOOLS),
    Mutant("close-always-passes", "the default comparison close() finds every tensor close",
           [Edit("symml/checks/hints.py", r"^(def close\([^)]*\)[^:]*:\n(?:    [ru]?\"\"\"(?:.|\n)*?\"\"\"\n)?)", r"\1    return None\n", regex=True)],
           JUDGE_TESTS, TOOLS),
    Mutant("not-attempted-scores", "an exercise still raising NotImplementedError is judged passed",
           [Edit("symml/checks/__init__.py", 'return _with(v, "not attempted", "the body still raises NotImplementedError")', "return v")],
           ["tests/test_checks.py", "-k", "passed_failed or not_attempted", "tests/test_course.py", "-k", "00_ and (not_attempted or exercises_run)"], TOOLS),
    Mutant("grade-counts-failures", "symml grade counts every test as passed",
           [Edit("symml/course/grade.py", 'passed = sum(status == "passed" for status, _ in verdicts)', "passed = len(verdicts)")],
           ["tests/test_grade.py", "-k", "gradescope or partial"], TOOLS),
    Mutant("sandbox-shares-network", "the grading sandbox keeps the machine's network",
           [Edit("symml/course/sandbox.py", '"--unshare-all", "--unshare-user"', '"--unshare-all", "--share-net", "--unshare-user"')],
           ["tests/test_sandbox.py"], TOOLS),
    # ------------------------------------------------ this helper's own parts
    Mutant("stale-reference", "a problem set sends the student to an exercise that does not exist (03.2 -> 03.9)",
           [Edit("solutions/03_tensor_products.ipynb", r"(?<=after )03\.2\b", "03.9", count=2, regex=True)],
           ["tests/test_references.py"], "C7"),
    Mutant("site-keeps-colab-cell", "the website shows the Colab install cell",
           [Edit("symml/course/site.py", "nb.cells = [c for c in nb.cells if not colab.is_colab_cell(c)]", "pass")],
           ["tests/test_site.py", "-k", "reader"], "issue 19"),
]


# ---------------------------------------------------------------- running


def copy_tree(repo: Path, rev: str | None, dest: Path) -> Path:
    """The repository's files into ``dest``: a commit's tree (``git archive``), else what git sees in the checkout."""
    dest.mkdir(parents=True)
    if rev:
        archive = subprocess.run(["git", "-C", str(repo), "archive", "--format=tar", rev], check=True, capture_output=True).stdout
        subprocess.run(["tar", "-x", "-C", str(dest)], input=archive, check=True)
        return dest
    listed = subprocess.run(["git", "-C", str(repo), "ls-files", "--cached", "--others", "--exclude-standard", "-z"],
                            check=True, capture_output=True, text=True).stdout
    for name in filter(None, listed.split("\0")):
        if (repo / name).is_file():
            (dest / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(repo / name, dest / name)
    return dest


def present(tree: Path, tests: list[str]) -> list[str]:
    """The selection without test files that do not exist in this tree (a later helper may add them)."""
    out, skip_k = [], False
    for k, arg in enumerate(tests):
        if skip_k:
            skip_k = False
            continue
        if arg.startswith("tests/") and not (tree / arg.split("::")[0]).exists():
            skip_k = k + 1 < len(tests) and tests[k + 1] == "-k"
            continue
        out.append(arg)
    return out


def pytest_runs(tests: list[str]) -> list[list[str]]:
    """One pytest call per test file with its own -k (pytest takes one -k per call)."""
    runs, k = [], 0
    while k < len(tests):
        run = [tests[k]]
        k += 1
        while k < len(tests) and not tests[k].startswith("tests/"):
            run.append(tests[k])
            k += 1
        runs.append(run)
    return runs


def run_pytest(tree: Path, args: list[str], python: str, timeout: float, junit: Path, extra=()) -> tuple[str, float, list[str]]:
    """Run pytest in ``tree``; returns (outcome: passed/failed/error/timeout/empty, seconds, the failing test ids)."""
    env = {k: v for k, v in os.environ.items() if k not in ("SYMML_CI", "PYTEST_ADDOPTS", "MAKEFLAGS", "MAKELEVEL", "MFLAGS")}
    env["PYTHONPATH"] = str(tree)
    cmd = [python, "-m", "pytest", *args, *extra, "-q", "-p", "no:cacheprovider", f"--junitxml={junit}", "-o", "junit_family=xunit1"]
    start = time.monotonic()
    try:
        proc = subprocess.run(cmd, cwd=tree, env=env, capture_output=True, text=True, timeout=timeout, check=False)
    except subprocess.TimeoutExpired:
        return "timeout", time.monotonic() - start, []
    seconds = time.monotonic() - start
    failing = []
    if junit.exists():
        for case in ET.parse(junit).getroot().iter("testcase"):
            if case.find("failure") is not None or case.find("error") is not None:
                failing.append(f"{case.get('file') or case.get('classname', '').replace('.', '/') + '.py'}::{case.get('name')}")
    if proc.returncode == 0:
        return "passed", seconds, failing
    if proc.returncode == 5:  # nothing collected or all deselected
        return "empty", seconds, failing
    if proc.returncode == 1:
        return "failed", seconds, failing
    return "error", seconds, failing + [f"pytest exit {proc.returncode}: {proc.stdout[-300:]}{proc.stderr[-300:]}"]


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0], formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--repo", type=Path, default=ROOT, help="the checkout to mutate (default: this one)")
    parser.add_argument("--rev", help="mutate this commit of --repo instead of its working files")
    parser.add_argument("--only", action="append", default=[], help="run only this mutant (repeatable)")
    parser.add_argument("--skip", action="append", default=[], help="leave this mutant out (repeatable)")
    parser.add_argument("--list", action="store_true", help="list the mutants and exit")
    parser.add_argument("--check", action="store_true", help="only apply each mutant to a copy and say whether its text is found")
    parser.add_argument("--python", default=sys.executable, help="the Python that runs the tests (default: this one)")
    parser.add_argument("--timeout", type=float, default=900, help="seconds per pytest call (default 900)")
    parser.add_argument("--keep", action="store_true", help="keep the temporary folders")
    args = parser.parse_args(argv)

    mutants = [m for m in MUTANTS if (not args.only or m.name in args.only) and m.name not in args.skip]
    unknown = set(args.only + args.skip) - {m.name for m in MUTANTS}
    if unknown:
        parser.error(f"no such mutant: {', '.join(sorted(unknown))}")
    if args.list:
        for m in mutants:
            print(f"{m.name:28} [{m.origin}] {m.bug}\n{'':28} tests: {' '.join(m.tests)}")
        return 0

    work = Path(tempfile.mkdtemp(prefix="symml-mutate-"))
    repo = args.repo.resolve()
    print(f"mutating {repo}{' at ' + args.rev if args.rev else ' (working files)'} in {work}", flush=True)
    try:
        pristine = copy_tree(repo, args.rev, work / "pristine")
        if args.check:
            bad = 0
            for n, m in enumerate(mutants):
                tree = shutil.copytree(pristine, work / f"c{n}")
                problems = [p for e in m.edits if (p := e.apply(tree))]
                bad += bool(problems)
                print(f"{m.name:28} {'NOT APPLIED: ' + problems[0] if problems else 'applies'}")
                shutil.rmtree(tree)
            return 1 if bad else 0
        baseline: dict[tuple, tuple] = {}
        rows = []
        for n, m in enumerate(mutants):
            runs = pytest_runs(present(pristine, m.tests))
            for run in runs:
                if tuple(run) not in baseline:
                    baseline[tuple(run)] = run_pytest(pristine, run, args.python, args.timeout, work / f"baseline-{len(baseline)}.xml")
                    outcome, seconds, failing = baseline[tuple(run)]
                    print(f"  baseline {' '.join(run)}: {outcome} in {seconds:.0f} s" + (f", {len(failing)} failing" if failing else ""), flush=True)
            tree = shutil.copytree(pristine, work / f"m{n}")
            problems = [p for e in m.edits if (p := e.apply(tree))]
            if problems:
                rows.append((m, "NOT APPLIED", 0.0, problems[0], 0))
                print(f"{m.name}: NOT APPLIED: {problems[0]}", flush=True)
                continue
            if not runs:  # nothing can catch it: it survives
                rows.append((m, "survived (no tests)", 0.0, "none of its test files exists", 0))
                print(f"{m.name}: survived: none of its test files exists", flush=True)
                continue
            status, total, detail, deselected = "survived", 0.0, "", 0
            for k, run in enumerate(runs):
                known = [t for t in baseline[tuple(run)][2] if "::" in t]
                deselected += len(known)
                extra = ["-x"] + [a for t in known for a in ("--deselect", t)]
                if baseline[tuple(run)][0] in ("timeout", "error"):
                    detail = f"baseline of {run[0]} did not run ({baseline[tuple(run)][0]})"
                    status = "BASELINE BROKEN"
                    break
                outcome, seconds, failing = run_pytest(tree, run, args.python, args.timeout, work / f"m{n}-{k}.xml", extra)
                total += seconds
                if outcome in ("failed", "error", "timeout"):
                    status = {"failed": "killed", "error": "killed (error)", "timeout": "killed (timeout)"}[outcome]
                    detail = failing[0] if failing else outcome
                    break
            rows.append((m, status, total, detail, deselected))
            print(f"{m.name}: {status} in {total:.0f} s {detail}", flush=True)
            if not args.keep:
                shutil.rmtree(tree, ignore_errors=True)
    finally:
        if not args.keep:
            shutil.rmtree(work, ignore_errors=True)

    print()
    print(f"{'mutant':28} {'origin':15} {'result':18} {'s':>5}  caught by / why not")
    for m, status, seconds, detail, deselected in rows:
        note = detail if status != "survived" else "every selected test passed: " + " ".join(m.tests)
        if deselected:
            note += f" ({deselected} already failing at baseline, left out)"
        print(f"{m.name:28} {m.origin:15} {status:18} {seconds:5.0f}  {note}")
    killed = sum(r[1].startswith("killed") for r in rows)
    applied = sum(r[1] not in ("NOT APPLIED", "BASELINE BROKEN") for r in rows)
    print(f"\n{killed} of {len(rows)} mutants killed ({applied} applied, {len(rows) - applied} not applied or not run)")
    return 0 if killed == len(rows) else 1


if __name__ == "__main__":
    sys.exit(main())
