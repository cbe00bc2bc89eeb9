r"""Grade a class's notebooks: ``symml grade SUBMISSIONS... --out grades.csv`` (issue 6).

How a submission is graded, and why a student cannot fool it:

1. *Run.* The notebook's code cells run in a fresh kernel of their own, in an empty temporary
   directory, under a memory cap (``symml._grading_kernel``), a per-cell timeout, a per-notebook
   timeout (the whole submission runs in a child process that is killed when time is up); printed
   output is counted and dropped. Errors in cells do not stop the run. Inside that kernel
   ``check()`` shows nothing (``SYMML_GRADING=1``) but still records each answer it is given.
2. *Ask.* For each exercise of the lesson — taken from the *solutions* notebook, never from the
   submission — the grader picks the inputs (fresh random cases from a seed, plus the hidden tests
   of the solutions' ``### BEGIN HIDDEN TESTS`` regions), writes them to a file, and asks the kernel
   to apply the student's answer to them (the one the notebook passed to ``check``). The outputs come back as data (``torch.save``), read
   with ``torch.load(weights_only=True)``, which cannot run code.
3. *Compare.* The grader compares those outputs with the reference implementation *in its own
   process*. Verdicts printed in the notebook, a redefined ``check``, a patched ``symml`` inside
   the kernel, or edited metadata change nothing here.

What it is not: an operating-system sandbox. Student code runs with the grader's user rights; run
it in a container or a throw-away account if the class is not trusted with that.
"""

import argparse
import csv
import json
import os
import re
import secrets
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import nbformat

HERE = Path(__file__).resolve().parent
BEGIN_HIDDEN, END_HIDDEN = "### BEGIN HIDDEN TESTS", "### END HIDDEN TESTS"
CHECK_CALL = re.compile(r"""check\(\s*["'](\d\d\.\d+)["']\s*,\s*([A-Za-z_][A-Za-z_0-9]*)""")
MAX_OUTPUT_CHARS = 100_000  # per submission: what a notebook prints beyond this is dropped
MAX_ANSWER_BYTES = 50_000_000  # the serialized outputs of one exercise


# ---------------------------------------------------------------- the lessons, from the solutions


def lesson_of(path: Path) -> str | None:
    """The lesson a notebook file is for, from its name (``03_tensor_products.ipynb`` → ``"03"``)."""
    match = re.match(r"(\d\d)_", path.name)
    return match.group(1) if match else None


def lesson_exercises(solution: Path) -> dict:
    """The exercises of a solutions notebook: ``{id: {"name", "points", "hidden"}}``, in order.

    ``name`` is the variable holding the student's answer (``f = check("03.2", f)``); ``points`` come
    from the check cell's metadata ``{"symml": {"points": 2}}``, else from the exercise spec;
    ``hidden`` is the source of the cell's hidden-test region, run later in the grader's process.
    """
    nb = nbformat.read(solution, as_version=4)
    found = {}
    for cell in nb.cells:
        if cell.cell_type != "code":
            continue
        hidden = ""
        if BEGIN_HIDDEN in cell.source:
            hidden = cell.source.split(BEGIN_HIDDEN, 1)[1].split(END_HIDDEN, 1)[0]
        for exercise_id, name in CHECK_CALL.findall(cell.source.split(BEGIN_HIDDEN)[0]):
            points = cell.metadata.get("symml", {}).get("points")
            found.setdefault(exercise_id, {"name": name, "points": points, "hidden": hidden})
    return found


def hidden_cases(source: str) -> list:
    """The groups of hidden cases a hidden-test region declares, run in the grader's own process.

    The region calls ``hidden_tests("03.2", [Case(...), ...])`` (see ``symml.checks``); each call is
    one hidden test, worth an equal share of the exercise's points.
    """
    import builtins
    import math

    import torch

    from symml.checks import Case

    groups = []

    def hidden_tests(exercise_id, cases, *args, **kwargs):
        groups.append((exercise_id, [c if isinstance(c, Case) else Case(*c) for c in cases]))

    namespace = {"torch": torch, "math": math, "Case": Case, "hidden_tests": hidden_tests}

    class Names(dict):
        def __missing__(self, name):  # the region also names the student's answer: not needed here
            return namespace[name] if name in namespace else getattr(builtins, name, None)

    import symml.checks

    real, symml.checks.hidden_tests = symml.checks.hidden_tests, hidden_tests  # also when the region imports it
    try:
        exec(compile(source, "<hidden tests>", "exec"), namespace, Names())  # the instructor's code, trusted
    finally:
        symml.checks.hidden_tests = real
    return groups


# ---------------------------------------------------------------- a kernel of its own


class Kernel:
    """An ipykernel in ``cwd`` under a memory cap, driven cell by cell with timeouts."""

    def __init__(self, cwd: Path, memory: int, python: str = sys.executable):
        from jupyter_client import KernelManager
        from jupyter_client.kernelspec import KernelSpecManager

        spec = cwd.parent / "kernels" / "symml-grader"
        spec.mkdir(parents=True, exist_ok=True)
        argv = [python, "-m", "symml.course.kernel", str(memory), "-f", "{connection_file}"]
        (spec / "kernel.json").write_text(json.dumps({"argv": argv, "display_name": "symml grader", "language": "python"}))
        self.km = KernelManager(kernel_name="symml-grader", kernel_spec_manager=KernelSpecManager(kernel_dirs=[str(spec.parent)]))
        self.cwd = cwd
        self.start()

    def start(self):
        env = {k: v for k, v in os.environ.items() if not k.startswith("JPY_")}
        env["SYMML_GRADING"] = "1"
        self.km.start_kernel(cwd=str(self.cwd), env=env)
        self._connect()

    def _connect(self):
        self.kc = self.km.client()
        self.kc.start_channels()
        self.kc.wait_for_ready(timeout=120)

    def restart(self):
        """A fresh kernel after a crash or a hang; what the old one defined is gone."""
        self.kc.stop_channels()
        self.km.restart_kernel(now=True)  # keeps the connection's zmq context, unlike a shutdown
        self._connect()

    def run(self, code: str, timeout: float) -> tuple[str, str, int]:
        """Run ``code``: ``(status, detail, characters printed)``, status ok / error / timeout / died."""
        import queue

        msg_id = self.kc.execute(code, store_history=False, allow_stdin=False)
        deadline, printed, error = time.monotonic() + timeout, 0, ""
        while True:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                self.km.interrupt_kernel()
                if not self._wait_idle(msg_id, 10):
                    self.restart()
                return "timeout", f"stopped after {timeout:g} s", printed
            try:
                msg = self.kc.get_iopub_msg(timeout=min(remaining, 1.0))
            except queue.Empty:
                if not self.km.is_alive():
                    self.restart()
                    return "died", "the kernel died (memory cap, a crash, or exit())", printed
                continue
            if msg["parent_header"].get("msg_id") != msg_id:
                continue
            kind, content = msg["msg_type"], msg["content"]
            if kind == "stream":
                printed += len(content.get("text", ""))
            elif kind == "error":
                error = f"{content.get('ename')}: {str(content.get('evalue'))[:200]}"
            elif kind == "status" and content.get("execution_state") == "idle":
                return ("error" if error else "ok"), error, printed

    def _wait_idle(self, msg_id, timeout):
        import queue

        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            try:
                msg = self.kc.get_iopub_msg(timeout=0.5)
            except queue.Empty:
                continue
            if msg["parent_header"].get("msg_id") == msg_id and msg["msg_type"] == "status" and msg["content"].get("execution_state") == "idle":
                return True
        return False

    def close(self):
        try:
            self.kc.stop_channels()
            self.km.shutdown_kernel(now=True)
        except Exception:
            pass


# The code the grader sends to ask for an answer. It runs in the student's kernel, so it trusts
# nothing there but what it imports itself; what it writes is data, read back with weights_only.
PROBE = """
def __symml_probe(name, exercise_id, cases_file, out_file, checks_dir, private):
    import importlib.util, os, sys
    import torch as _torch
    # A private copy of symml.checks, loaded from the grader's files under a name chosen now:
    # patching symml.checks inside this kernel does not reach it.
    spec = importlib.util.spec_from_file_location(private, os.path.join(checks_dir, "__init__.py"), submodule_search_locations=[checks_dir])
    checks = importlib.util.module_from_spec(spec)
    sys.modules[private] = checks
    spec.loader.exec_module(checks)
    submitted = getattr(sys.modules.get("symml.checks"), "SUBMITTED", {})
    if exercise_id in submitted:  # what the student passed to check()
        answer = submitted[exercise_id]
    else:  # the check cell is gone: the variable itself
        answer = globals().get(name)
    args = _torch.load(cases_file, weights_only=False)
    if answer is None:
        outcomes = [("error", f"NameError: `{name}` is not defined")] * len(args)
    else:
        outcomes = checks.run_answer(checks.exercise(exercise_id), answer, [checks.Case(*a) for a in args])
    def plain(x):
        if isinstance(x, _torch.Tensor) or x is None or isinstance(x, (bool, int, float, complex, str)):
            return x
        if isinstance(x, (tuple, list)):
            return type(x)(plain(v) for v in x)
        if isinstance(x, dict):
            return {str(k): plain(v) for k, v in x.items()}
        if type(x).__module__ == "numpy":
            return _torch.as_tensor(x)
        return str(x)  # an object the grader cannot take as data: keep what it says
    _torch.save([(s, plain(v)) for s, v in outcomes], out_file)
"""


# ---------------------------------------------------------------- one submission


def grade_submission(path: Path, solutions: Path, cell_timeout: float = 60, memory: int = 2 * 2**30, seed: int = 0) -> dict:
    """Grade one notebook; always returns a row, with a reason when something could not be graded."""
    from symml.checks import Case, exercise, judge

    row = {"submission": str(path), "lesson": lesson_of(path), "points": 0.0, "max_points": 0.0, "reason": "", "exercises": {}}
    try:
        nb = nbformat.read(path, as_version=4)
        code = [c.source for c in nb.cells if c.cell_type == "code"]
    except Exception as e:
        row["reason"] = f"not a readable notebook ({type(e).__name__}: {str(e)[:120]})"
        return row
    mentioned = sorted({i.split(".")[0] for source in code for i, _ in CHECK_CALL.findall(source)})
    lesson = row["lesson"] or (mentioned[0] if len(mentioned) == 1 else None)
    solution = next(iter(sorted(solutions.glob(f"{lesson}_*.ipynb"))), None) if lesson else None
    if solution is None:
        row["reason"] = "cannot tell which lesson this is for: name it NN_*.ipynb like the exercise notebook"
        return row
    row["lesson"] = lesson
    wanted = lesson_exercises(solution)
    for exercise_id, info in wanted.items():
        points = float(info["points"] if info["points"] is not None else exercise(exercise_id).points)
        row["exercises"][exercise_id] = {"points": 0.0, "max_points": points, "status": "not graded", "message": ""}
        row["max_points"] += points
    if mentioned and lesson not in mentioned:
        row["reason"] = f"wrong lesson: this notebook has the exercises of lesson {', '.join(mentioned)}, not {lesson}"
        return row

    notes = []
    with tempfile.TemporaryDirectory(prefix="symml-grade-") as tmp:
        work = Path(tmp) / "work"
        work.mkdir()
        kernel = Kernel(work, memory)
        try:
            printed = 0
            for i, source in enumerate(code):
                status, detail, n = kernel.run(source, cell_timeout)
                printed += n
                if status != "ok":
                    notes.append(f"cell {i + 1}: {status} {detail}".strip())
            if printed > MAX_OUTPUT_CHARS:
                notes.append(f"printed {printed:,} characters (only results were graded)")
            for exercise_id, info in wanted.items():
                row["exercises"][exercise_id].update(_grade_exercise(kernel, Path(tmp), exercise_id, info, cell_timeout, seed, Case, exercise, judge))
        finally:
            kernel.close()
    for result in row["exercises"].values():
        row["points"] += result["points"]
    row["reason"] = "; ".join(notes[:5]) + (f"; and {len(notes) - 5} more" if len(notes) > 5 else "")
    return row


def _grade_exercise(kernel, tmp, exercise_id, info, timeout, seed, Case, exercise, judge) -> dict:
    """Ask the kernel for the answer on each group of cases (the random ones, then each hidden test)."""
    import torch

    ex = exercise(exercise_id)
    groups = [ex.inputs(seed)]
    if info["hidden"]:
        groups += [cases for i, cases in hidden_cases(info["hidden"]) if i == exercise_id]
    verdicts = []
    for k, cases in enumerate(groups):
        cases_file, out_file = tmp / f"cases-{exercise_id}-{k}.pt", tmp / f"answers-{exercise_id}-{k}.pt"
        torch.save([c.args for c in cases], cases_file)
        private = f"_symml_grader_{secrets.token_hex(8)}"
        call = (info["name"], exercise_id, str(cases_file), str(out_file), str(HERE / "checks"), private)
        probe = PROBE + f"__symml_probe(*{call!r})\ndel __symml_probe\n"
        status, detail, _ = kernel.run(probe, timeout)
        if status != "ok" or not out_file.exists():
            verdicts.append(("failed", f"the answer could not be computed ({status}: {detail})"))
        elif out_file.stat().st_size > MAX_ANSWER_BYTES:
            verdicts.append(("failed", "the answer is far too large"))
        else:
            try:
                outcomes = [tuple(o) for o in torch.load(out_file, weights_only=True)]
                v = judge(ex, cases, outcomes)
                verdicts.append((v.status, v.message))
            except Exception as e:
                verdicts.append(("failed", f"the answer could not be read as data ({type(e).__name__})"))
    max_points = float(info["points"] if info["points"] is not None else ex.points)
    passed = sum(status == "passed" for status, _ in verdicts)
    status, message = next((v for v in verdicts if v[0] != "passed"), ("passed", "all tests passed"))
    if status == "not attempted" and passed:
        status = "failed"  # some hidden tests pass: it was attempted
    return {"points": round(max_points * passed / len(groups), 3), "status": status, "message": message}


# ---------------------------------------------------------------- a class


FIELDS = ["submission", "lesson", "points", "max_points", "reason"]


def _run_isolated(path: Path, args) -> dict:
    """Grade one submission in a child process that is killed, with its kernel, when time is up."""
    with tempfile.NamedTemporaryFile(suffix=".json", delete=False) as f:
        result_file = Path(f.name)
    cmd = [sys.executable, "-m", "symml.course.grade", "--one", str(path), "--result", str(result_file),
           "--solutions", str(args.solutions), "--cell-timeout", str(args.cell_timeout), "--memory", str(args.memory), "--seed", str(args.seed)]
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, start_new_session=True)
    try:
        _, err = proc.communicate(timeout=args.timeout)
        row = json.loads(result_file.read_text()) if result_file.stat().st_size else None
        if row is None:
            raise RuntimeError((err or b"").decode(errors="replace")[-300:] or "no result")
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait()
        row = {"submission": str(path), "lesson": lesson_of(path), "points": 0.0, "max_points": 0.0, "exercises": {},
               "reason": f"the notebook did not finish within {args.timeout:g} s"}
    except Exception as e:
        row = {"submission": str(path), "lesson": lesson_of(path), "points": 0.0, "max_points": 0.0, "exercises": {},
               "reason": f"the grader could not grade it ({type(e).__name__}: {str(e)[:200]})"}
    finally:
        result_file.unlink(missing_ok=True)
    if not row["max_points"] and row.get("lesson"):
        row["max_points"] = _max_points(Path(args.solutions), row["lesson"])
    return row


def _max_points(solutions: Path, lesson: str) -> float:
    from symml.checks import exercise

    solution = next(iter(sorted(solutions.glob(f"{lesson}_*.ipynb"))), None)
    if solution is None:
        return 0.0
    return sum(float(i["points"] if i["points"] is not None else exercise(e).points) for e, i in lesson_exercises(solution).items())


def report(row: dict) -> str:
    """A short Markdown report for one student."""
    lines = [f"# {Path(row['submission']).name}: {row['points']:g} / {row['max_points']:g} points", ""]
    if row["reason"]:
        lines += [f"Note: {row['reason']}", ""]
    lines += ["| exercise | points | verdict |", "|---|---|---|"]
    for exercise_id, r in row["exercises"].items():
        verdict = r["status"] + (f": {r['message']}" if r["status"] == "failed" else "")
        lines.append(f"| {exercise_id} | {r['points']:g} / {r['max_points']:g} | {verdict.replace('|', '/')} |")
    return "\n".join(lines) + "\n"


def grade_class(args) -> list:
    """Grade every submission, writing the gradebook after each one so an interrupted run resumes."""
    from concurrent.futures import ThreadPoolExecutor, as_completed

    from tqdm import tqdm

    out = Path(args.out)
    book_file = out.with_suffix(".json")
    book = json.loads(book_file.read_text()) if book_file.exists() else {}
    todo = [p for p in args.submissions if str(p) not in book]
    feedback = Path(args.feedback) if args.feedback else out.parent / (out.stem + "-feedback")
    feedback.mkdir(parents=True, exist_ok=True)

    def save():
        book_file.write_text(json.dumps(book, indent=1, sort_keys=True))
        ids = sorted({e for row in book.values() for e in row["exercises"]})
        with out.open("w", newline="") as f:
            writer = csv.writer(f)
            writer.writerow(FIELDS + ids)
            for key in sorted(book):
                row = book[key]
                writer.writerow([row[k] for k in FIELDS] + [row["exercises"].get(e, {}).get("points", "") for e in ids])

    with ThreadPoolExecutor(max_workers=max(1, args.jobs)) as pool:
        futures = {pool.submit(_run_isolated, Path(p), args): p for p in todo}
        for future in tqdm(as_completed(futures), total=len(futures), desc="grading", unit="notebook", disable=args.quiet):
            row = future.result()
            book[str(futures[future])] = row
            (feedback / (Path(row["submission"]).stem + ".md")).write_text(report(row))
            save()
    save()
    return [book[str(p)] for p in args.submissions]


def summary(rows: list) -> str:
    """Per-exercise pass rates of a class."""
    ids = sorted({e for row in rows for e in row["exercises"]})
    lines = [f"{len(rows)} submissions, mean {sum(r['points'] for r in rows) / max(1, len(rows)):.2f} points"]
    for e in ids:
        results = [r["exercises"][e] for r in rows if e in r["exercises"]]
        passed = sum(x["status"] == "passed" for x in results)
        lines.append(f"  {e}: {passed}/{len(results)} passed ({100 * passed / max(1, len(results)):.0f}%)")
    broken = [r for r in rows if r["reason"]]
    if broken:
        lines.append(f"{len(broken)} submissions with notes (see the gradebook's 'reason' column)")
    return "\n".join(lines)


def main(argv=None):
    parser = argparse.ArgumentParser(prog="symml grade", description="Grade students' notebooks into a gradebook (CSV and JSON) with feedback.")
    parser.add_argument("submissions", nargs="*", type=Path, help="submitted notebooks (NN_name.ipynb)")
    parser.add_argument("--out", default="grades.csv", help="gradebook CSV; a JSON twin is written beside it (default: grades.csv)")
    parser.add_argument("--self", dest="self_nb", type=Path, help="grade one notebook of your own and print the report")
    parser.add_argument("--solutions", type=Path, default=Path(__file__).resolve().parent.parent / "solutions", help="the solutions notebooks")
    parser.add_argument("--feedback", help="folder for the per-student reports (default: next to --out)")
    parser.add_argument("--jobs", type=int, default=1, help="submissions graded in parallel")
    parser.add_argument("--cell-timeout", type=float, default=60, help="seconds per cell")
    parser.add_argument("--timeout", type=float, default=600, help="seconds per notebook")
    parser.add_argument("--memory", type=int, default=2 * 2**30, help="memory cap per kernel, in bytes")
    parser.add_argument("--seed", type=int, default=0, help="seed of the grader's random inputs")
    parser.add_argument("--quiet", action="store_true")
    parser.add_argument("--one", type=Path, help=argparse.SUPPRESS)
    parser.add_argument("--result", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)

    if args.one:  # the child process of _run_isolated
        row = grade_submission(args.one, args.solutions, args.cell_timeout, args.memory, args.seed)
        args.result.write_text(json.dumps(row))
        return 0
    if args.self_nb:
        row = _run_isolated(args.self_nb, args)
        print(report(row))
        return 0
    if not args.submissions:
        parser.error("give the submitted notebooks, or --self NOTEBOOK")
    rows = grade_class(args)
    print(summary(rows))
    print(f"gradebook: {args.out} and {Path(args.out).with_suffix('.json')}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
