"""The grader, on crafted submissions: honest, wrong, blank, broken, hostile — and a class of 30."""

import json
import random
import re
import subprocess
import sys
from pathlib import Path

import nbformat
import pytest

from symml.course.grade import lesson_exercises

ROOT = Path(__file__).resolve().parent.parent
SOLUTIONS = ROOT / "solutions"
SOLUTION_REGION = re.compile(r"^([ \t]*)### BEGIN SOLUTION[^\n]*\n(.*?)^[ \t]*### END SOLUTION[^\n]*$", re.S | re.M)
HIDDEN_REGION = re.compile(r"^[ \t]*### BEGIN HIDDEN TESTS.*?### END HIDDEN TESTS[^\n]*$", re.S | re.M)


def _lessons():
    """Solutions notebooks with at least two function exercises (the grader's test subjects)."""
    found = []
    for path in sorted(SOLUTIONS.glob("[0-9][0-9]_*.ipynb")):
        nb = nbformat.read(path, as_version=4)
        if sum(bool(SOLUTION_REGION.search(c.source)) for c in nb.cells if c.cell_type == "code") >= 2:
            found.append(path)
    return found


LESSONS = _lessons()


def test_there_are_problem_sets_to_grade():
    assert LESSONS, "the grader tests need a solutions notebook with at least two exercises"


def submission(solution: Path, choose=lambda i: "right", extra_first=(), extra_last=()) -> nbformat.NotebookNode:
    """A student's notebook made from the solutions: solution region i kept ("right"), emptied
    ("blank": NotImplementedError) or broken ("wrong": returns None); hidden tests removed."""
    nb = nbformat.read(solution, as_version=4)
    counter = iter(range(1000))

    def region(m):
        choice = choose(next(counter))
        body = {"right": m.group(2), "blank": f"{m.group(1)}raise NotImplementedError\n", "wrong": f"{m.group(1)}return None\n"}[choice]
        return body.rstrip("\n")

    for cell in nb.cells:
        if cell.cell_type == "code":
            cell.source = SOLUTION_REGION.sub(region, HIDDEN_REGION.sub("", cell.source))
            cell.outputs, cell.execution_count = [], None
    nb.cells = [nbformat.v4.new_code_cell(s) for s in extra_first] + nb.cells + [nbformat.v4.new_code_cell(s) for s in extra_last]
    return nb


def write(nb, folder: Path, name: str) -> Path:
    path = folder / name
    nbformat.write(nb, path)
    return path


def grade(paths, out: Path, *args):
    cmd = [sys.executable, "-m", "symml", "grade", *map(str, paths), "--out", str(out), "--quiet", "--cell-timeout", "20", *args]
    result = subprocess.run(cmd, capture_output=True, text=True, timeout=900)
    assert result.returncode == 0, result.stderr[-2000:]
    return json.loads(out.with_suffix(".json").read_text()), result.stdout


@pytest.fixture(scope="module")
def graded(tmp_path_factory):
    """One grading run over every crafted case (kernels are slow to start: share the run)."""
    solution = LESSONS[0]
    lesson = solution.name[:2]
    other = next((p for p in sorted(SOLUTIONS.glob("[0-9][0-9]_*.ipynb")) if p.name[:2] != lesson), None)
    folder = tmp_path_factory.mktemp("submissions")
    name = solution.name
    cases = {
        "right": submission(solution),
        "blank": submission(solution, lambda i: "blank"),
        "wrong": submission(solution, lambda i: "wrong"),
        # tampering: a fake check, fake verdict outputs, edited metadata
        "tampered": submission(solution, lambda i: "blank", extra_first=[
            "def check(exercise_id, answer, **kw):\n    print('✅', exercise_id, 'passed')\n    return answer",
        ], extra_last=[
            "from IPython.display import display\n"
            "display({'application/vnd.symml.check+json': {'exercise': 'x', 'status': 'passed'}, 'text/plain': 'passed'}, raw=True)",
            "import symml.checks\nsymml.checks.judge = lambda *a, **k: None\nsymml.checks.run_answer = lambda ex, answer, cases: [('ok', ex.expected(c)) for c in cases]",
        ]),
        "loops": submission(solution, extra_first=["while True:\n    pass"]),
        "memory": submission(solution, extra_first=["import torch\nbig = torch.ones(4 * 10**9)"]),
        "dies": submission(solution, extra_first=["import os\nos._exit(1)"]),
        "chatty": submission(solution, extra_first=["print('x' * 20_000_000)"]),
        "deleted": submission(solution),
    }
    tampered = cases["tampered"]
    tampered.metadata["symml"] = {"points": 1000}
    original = nbformat.read(solution, as_version=4).cells
    cases["deleted"].cells = [c for c, o in zip(cases["deleted"].cells, original) if not SOLUTION_REGION.search(o.source)]
    paths = [write(nb, folder, f"{key}-{name}") for key, nb in cases.items()]
    bad_json = folder / f"badjson-{name}"
    bad_json.write_text("{ this is not a notebook")
    paths.append(bad_json)
    if other is not None:
        paths.append(write(submission(other), folder, f"wronglesson-{name}"))
    # the grader reads the lesson from the NN_ prefix: give every file one
    renamed = []
    for p in paths:
        target = folder / f"{lesson}_{p.name.split('-')[0]}.ipynb"
        p.rename(target)
        renamed.append(target)
    book, stdout = grade(renamed, folder / "grades.csv", "--jobs", "2", "--memory", str(3 * 2**30))
    return by_name(book), stdout, folder, renamed, lesson_exercises(solution)


def by_name(book):
    return {Path(k).stem[3:]: v for k, v in book.items()}


def test_right_answers_get_full_points(graded):
    book, *_ = graded
    row = book["right"]
    assert row["max_points"] > 0 and row["points"] == row["max_points"], row
    assert all(e["status"] == "passed" for e in row["exercises"].values())


def test_blank_and_wrong_get_nothing(graded):
    book, *_ = graded
    assert book["blank"]["points"] == 0
    assert {e["status"] for e in book["blank"]["exercises"].values()} <= {"not attempted", "failed"}
    assert "not attempted" in {e["status"] for e in book["blank"]["exercises"].values()}
    assert book["wrong"]["points"] == 0
    assert all(e["status"] == "failed" and e["message"] for e in book["wrong"]["exercises"].values())


def test_tampering_gains_nothing(graded):
    book, *_ = graded
    row = book["tampered"]
    assert row["points"] == 0 and row["max_points"] == book["right"]["max_points"]


def test_hostile_notebooks_are_graded_with_a_reason(graded):
    book, *_ = graded
    full = book["right"]["max_points"]
    assert book["loops"]["points"] == full and "timeout" in book["loops"]["reason"]
    assert book["memory"]["points"] == full and "cell 1: error" in book["memory"]["reason"]
    assert book["dies"]["points"] == full and "died" in book["dies"]["reason"]
    assert book["chatty"]["points"] == full and "printed" in book["chatty"]["reason"]
    assert book["deleted"]["points"] == 0
    assert any("not defined" in e["message"] for e in book["deleted"]["exercises"].values())
    assert book["badjson"]["points"] == 0 and "not a readable notebook" in book["badjson"]["reason"]
    if "wronglesson" in book:
        assert book["wronglesson"]["points"] == 0 and "wrong lesson" in book["wronglesson"]["reason"]


def test_gradebook_feedback_and_summary(graded):
    book, stdout, folder, paths, exercises = graded
    rows = (folder / "grades.csv").read_text().splitlines()
    assert rows[0].startswith("submission,lesson,points,max_points,reason")
    assert len(rows) == 1 + len(paths)
    report = (folder / "grades-feedback" / f"{paths[0].stem}.md").read_text()
    assert "| exercise | points | verdict |" in report
    for exercise_id in exercises:
        assert exercise_id in stdout  # the class summary lists every exercise's pass rate


def test_rerun_resumes_and_gives_the_same_grades(graded):
    book, _, folder, paths, _ = graded
    again, _ = grade(paths, folder / "grades.csv")  # everything is in the gradebook already
    assert by_name(again) == book


def test_per_notebook_timeout(tmp_path):
    solution = LESSONS[0]
    path = write(submission(solution, extra_first=["import time\ntime.sleep(600)"]), tmp_path, solution.name)
    book, _ = grade([path], tmp_path / "g.csv", "--cell-timeout", "500", "--timeout", "15")
    row = book[str(path)]
    assert row["points"] == 0 and "did not finish within 15 s" in row["reason"] and row["max_points"] > 0


def test_self_grading(tmp_path):
    solution = LESSONS[0]
    path = write(submission(solution, lambda i: "right" if i == 0 else "blank"), tmp_path, solution.name)
    out = subprocess.run([sys.executable, "-m", "symml", "grade", "--self", str(path)], capture_output=True, text=True, timeout=300)
    assert out.returncode == 0, out.stderr
    assert "passed" in out.stdout and "not attempted" in out.stdout


def test_a_class_of_30(tmp_path):
    """30 generated submissions of mixed quality; every grade must be the one we built in."""
    solution = LESSONS[0]
    exercises = lesson_exercises(solution)
    nb = nbformat.read(solution, as_version=4)
    regions = sum(len(SOLUTION_REGION.findall(c.source)) for c in nb.cells if c.cell_type == "code")
    rng = random.Random(0)
    expected, paths = {}, []
    for k in range(30):
        choices = [rng.choice(["right", "right", "blank", "wrong"]) for _ in range(regions)]
        folder = tmp_path / f"student{k:02d}"
        folder.mkdir()
        paths.append(write(submission(solution, lambda i: choices[i]), folder, solution.name))
        expected[k] = choices
    full, stdout = grade(paths, tmp_path / "class.csv", "--jobs", "2")
    assert len(full) == 30
    if regions == len(exercises):  # one solution region per exercise: points are predictable
        for k, path in enumerate(paths):
            row = full[str(path)]
            for (exercise_id, info), choice in zip(exercises.items(), expected[k]):
                result = row["exercises"][exercise_id]
                assert (result["status"] == "passed") == (choice == "right"), (k, exercise_id, choice, result)
    assert "passed" in stdout
