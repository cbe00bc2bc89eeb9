"""`symml grade` on every problem set: the solutions, the blank release, one exercise wrong, twice.

One grading run covers all 13 problem sets (kernels are slow to start: the run is shared), in
nbgrader's ``submitted/<student>/<assignment>/<notebook>.ipynb`` layout (``SYMML_TEST_LESSONS=07,10``
narrows it while iterating). The hostile class is in tests/test_sandbox.py. Predictions are
formative unless switched on: the points counted here are the function exercises'.
"""

import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import nbformat
import pytest

from symml import checks

ROOT = Path(__file__).resolve().parent.parent
SOLUTION_REGION = re.compile(r"^([ \t]*)### BEGIN SOLUTION[^\n]*\n(.*?)^[ \t]*### END SOLUTION[^\n]*$", re.S | re.M)
CHECK_ID = re.compile(r"""check\(\s*["'](\d\d\.\d+)["']""")
LESSONS = [lesson for lesson in checks.lessons() if lesson in os.environ.get("SYMML_TEST_LESSONS", lesson)]
SUMMARY_LINE = re.compile(r"^  (\d\d\.\d+)( \(formative\))?: (\d+)/(\d+) passed \((\d+)%\)$", re.M)


def sandbox_args() -> list[str]:
    """Grade in the sandbox where bwrap exists (always in CI), else say so and grade without it."""
    if shutil.which("bwrap"):
        return []
    if os.environ.get("SYMML_CI"):
        pytest.fail("bwrap is missing but SYMML_CI is set: .ci/run installs bubblewrap", pytrace=False)
    return ["--no-sandbox"]


def grade(paths, out: Path, *args, check=True):
    cmd = [sys.executable, "-m", "symml", "grade", *map(str, paths), "--out", str(out), "--quiet", "--cell-timeout", "120", *sandbox_args(), *args]
    result = subprocess.run(cmd, capture_output=True, text=True, timeout=3000)
    if check:
        assert result.returncode == 0, result.stderr[-3000:]
    book = json.loads(out.with_suffix(".json").read_text()) if out.with_suffix(".json").exists() else {}
    return book, result


def solutions_notebook(lesson: str) -> Path:
    return next((ROOT / "solutions").glob(f"{lesson}_*.ipynb"))


def regions(nb) -> list[tuple[int, str]]:
    """``(cell index, exercise id)`` of each solution region: the id of the next check call."""
    found = []
    for k, cell in enumerate(nb.cells):
        if cell.cell_type == "code" and SOLUTION_REGION.search(cell.source):
            later = (CHECK_ID.search(c.source) for c in nb.cells[k:] if c.cell_type == "code")
            found.append((k, next(m.group(1) for m in later if m)))
    return found


def with_one_wrong(lesson: str) -> tuple[nbformat.NotebookNode, str]:
    """The solutions with one function exercise's region replaced by a wrong answer (``None``); which one varies by lesson."""
    nb = nbformat.read(solutions_notebook(lesson), as_version=4)
    found = [(k, i) for k, i in regions(nb) if not checks.exercise(i).prediction]
    k, exercise_id = found[int(lesson) % len(found)]
    ex = checks.exercise(exercise_id)

    def wrong(m):
        return f"{m.group(1)}return None" if m.group(1) else f"{ex.name} = None"

    nb.cells[k].source = SOLUTION_REGION.sub(wrong, nb.cells[k].source)
    return nb, exercise_id


def blank(nb):
    for cell in nb.cells:
        if cell.cell_type == "code":
            cell.outputs, cell.execution_count = [], None
    return nb


def place(nb, folder: Path, student: str, lesson: str) -> Path:
    name = solutions_notebook(lesson).name
    path = folder / "submitted" / student / name[:-len(".ipynb")] / name
    path.parent.mkdir(parents=True, exist_ok=True)
    nbformat.write(blank(nb), path)
    return path


@pytest.fixture(scope="module")
def course(tmp_path_factory):
    """Every problem set handed in three ways, graded in one run; the one-wrong ones graded again."""
    folder = tmp_path_factory.mktemp("class")
    wrong_ids = {}
    for lesson in LESSONS:
        place(nbformat.read(solutions_notebook(lesson), as_version=4), folder, "solved", lesson)
        place(nbformat.read(ROOT / "exercises" / solutions_notebook(lesson).name, as_version=4), folder, "blank", lesson)
        nb, wrong_ids[lesson] = with_one_wrong(lesson)
        place(nb, folder, "onewrong", lesson)
    book, result = grade([folder / "submitted"], folder / "grades.csv", "--jobs", "2")
    again, _ = grade([folder / "submitted" / "onewrong"], folder / "again.csv", "--jobs", "2")
    return folder, book, result.stdout, again, wrong_ids


def row(book, student, lesson):
    (found,) = [r for r in book.values() if r["student"] == student and r["lesson"] == lesson]
    return found


def declared_points(lesson):
    """The points each exercise is worth by default: its declared points, 0 for a (formative) prediction."""
    return {e.id: 0.0 if e.prediction else float(e.points) for e in checks.exercises(lesson).values()}


@pytest.mark.parametrize("lesson", LESSONS)
def test_every_exercise_has_one_solution_region(lesson):
    nb = nbformat.read(solutions_notebook(lesson), as_version=4)
    assert [i for _, i in regions(nb)] == list(checks.exercises(lesson)), "one solution region per declared exercise, in order"
    assert not any("### BEGIN HIDDEN TESTS" in c.source for c in nb.cells), "hidden cases live in the declaration"


@pytest.mark.parametrize("lesson", LESSONS)
def test_the_solutions_get_full_points(course, lesson):
    _, book, *_ = course
    r = row(book, "solved", lesson)
    assert r["max_points"] == sum(declared_points(lesson).values()) > 0
    assert r["points"] == r["max_points"], r
    assert r["reason"] == "", r["reason"]


@pytest.mark.parametrize("lesson", LESSONS)
def test_the_blank_release_gets_zero_without_error(course, lesson):
    _, book, *_ = course
    r = row(book, "blank", lesson)
    assert r["points"] == 0 and r["max_points"] > 0
    assert r["reason"] == "", r["reason"]
    assert {e["status"] for e in r["exercises"].values()} == {"not attempted"}, r["exercises"]


@pytest.mark.parametrize("lesson", LESSONS)
def test_one_wrong_answer_costs_exactly_its_points(course, lesson):
    _, book, _, _, wrong_ids = course
    r = row(book, "onewrong", lesson)
    points = declared_points(lesson)
    wrong = wrong_ids[lesson]
    assert r["exercises"][wrong]["status"] == "failed" and r["exercises"][wrong]["points"] == 0, r["exercises"][wrong]
    assert r["points"] == pytest.approx(sum(points.values()) - points[wrong]), r["exercises"]


@pytest.mark.parametrize("lesson", LESSONS)
def test_grading_twice_gives_the_same_gradebook(course, lesson):
    _, book, _, again, _ = course
    assert row(again, "onewrong", lesson) == row(book, "onewrong", lesson)


def test_gradebook_reports_and_summary(course):
    folder, book, stdout, *_ = course
    lines = (folder / "grades.csv").read_text().splitlines()
    assert lines[0].startswith("student,lesson,points,max_points,reason,sandbox,submission")
    assert len(lines) == 1 + 3 * len(LESSONS)
    reports = sorted((folder / "grades-feedback").rglob("*.md"))
    assert len(reports) == 3 * len(LESSONS), "one report per submission: none overwrites another"
    assert {p.relative_to(folder / "grades-feedback").parts[0] for p in reports} == {"solved", "blank", "onewrong"}

    # the summary's numbers, exercise by exercise, against the gradebook
    rows = list(book.values())
    assert f"{len(rows)} submissions, mean {sum(r['points'] for r in rows) / len(rows):.2f} points" in stdout
    printed = {m[0]: (bool(m[1]), int(m[2]), int(m[3]), int(m[4])) for m in SUMMARY_LINE.findall(stdout)}
    for lesson in LESSONS:
        for e, ex in checks.exercises(lesson).items():
            results = [r["exercises"][e] for r in rows if e in r["exercises"]]
            passed = sum(x["status"] == "passed" for x in results)
            assert printed[e] == (ex.prediction, passed, len(results), round(100 * passed / len(results))), e

    # each report says what its gradebook row says
    for p in reports:
        student, assignment = p.relative_to(folder / "grades-feedback").parts[:2]
        r = row(book, student, assignment[:2])
        text = p.read_text()
        assert text.startswith(f"# {student} · problem set {r['lesson']}: {r['points']:g} / {r['max_points']:g} points\n")
        for e, x in r["exercises"].items():
            (line,) = [line for line in text.splitlines() if line.startswith(f"| {e} ")]
            cells = [c.strip() for c in line.strip("|").split("|")]
            assert cells[1] == (f"{x['points']:g} / {x['max_points']:g}" if x["graded"] else "formative (0 points)"), line
            assert cells[2] == x["tests"] and cells[3].startswith(x["status"]), line
            if x["status"] == "failed":
                assert x["message"].replace("|", "/") in cells[3], line


def test_a_rerun_resumes_instead_of_regrading(course):
    """A rerun over the same gradebook grades nothing again: the run log (one line per notebook a run
    graded) gains no line, and the gradebook and summary are unchanged."""
    folder, book, stdout, *_ = course
    log = (folder / "grades.log").read_text().splitlines()
    assert sorted(json.loads(line)["graded"] for line in log) == sorted(book), "the first run graded each notebook once"
    again, result = grade([folder / "submitted"], folder / "grades.csv")
    assert (folder / "grades.log").read_text().splitlines() == log, "a resumed run re-ran notebooks"
    assert again == book
    assert result.stdout.split("gradebook:")[0] == stdout.split("gradebook:")[0]


def test_flat_folder_students_and_wrong_lesson(tmp_path):
    """A flat folder: the student is the file name; a notebook for another lesson gets a reason, not points."""
    first, second = LESSONS[0], LESSONS[1]
    nbformat.write(blank(nbformat.read(ROOT / "exercises" / solutions_notebook(first).name, as_version=4)), tmp_path / f"{first}_alice.ipynb")
    nbformat.write(blank(nbformat.read(ROOT / "exercises" / solutions_notebook(second).name, as_version=4)), tmp_path / f"{first}_bob.ipynb")
    (tmp_path / f"{first}_carol.ipynb").write_text("{ not a notebook")
    book, _ = grade([tmp_path], tmp_path / "out" / "g.csv")
    by_student = {r["student"]: r for r in book.values()}
    assert set(by_student) == {f"{first}_alice", f"{first}_bob", f"{first}_carol"}
    assert by_student[f"{first}_alice"]["reason"] == ""
    assert "wrong lesson" in by_student[f"{first}_bob"]["reason"]
    assert "not a readable notebook" in by_student[f"{first}_carol"]["reason"]
    assert by_student[f"{first}_carol"]["max_points"] == sum(declared_points(first).values())


def test_gradescope_results(tmp_path):
    """Gradescope's autograder format: score, and tests with name, score, max_score, output."""
    lesson = LESSONS[0]
    nb, wrong = with_one_wrong(lesson)
    path = tmp_path / solutions_notebook(lesson).name
    nbformat.write(blank(nb), path)
    results = tmp_path / "results" / "results.json"
    out = subprocess.run([sys.executable, "-m", "symml", "grade", str(path), "--gradescope", str(results), *sandbox_args()],
                         capture_output=True, text=True, timeout=600)
    assert out.returncode == 0, out.stderr[-2000:]
    data = json.loads(results.read_text())
    points = declared_points(lesson)
    assert data["score"] == pytest.approx(sum(points.values()) - points[wrong])
    assert [t["name"].split()[0] for t in data["tests"]] == list(points)
    assert [t["max_score"] for t in data["tests"]] == list(points.values()), "a formative prediction is worth 0 of 0"
    from test_gradescope import valid_results

    valid_results(data)


def test_no_sandbox_is_refused_without_bwrap_unless_asked(tmp_path):
    """Where bwrap is missing, grading stops and says how to install it; --no-sandbox grades and says so."""
    lesson = LESSONS[0]
    path = tmp_path / solutions_notebook(lesson).name
    nbformat.write(blank(nbformat.read(ROOT / "exercises" / path.name, as_version=4)), path)
    env = dict(os.environ, PATH=str(Path(sys.executable).parent))  # this Python, no bwrap
    cmd = [sys.executable, "-m", "symml", "grade", str(path), "--out", str(tmp_path / "g.csv"), "--quiet"]
    refused = subprocess.run(cmd, capture_output=True, text=True, env=env, timeout=300)
    assert refused.returncode == 2 and "apt install bubblewrap" in refused.stderr and "--no-sandbox" in refused.stderr
    assert not (tmp_path / "g.csv").exists()
    ran = subprocess.run([*cmd, "--no-sandbox"], capture_output=True, text=True, env=env, timeout=600)
    assert ran.returncode == 0, ran.stderr[-2000:]
    report = next((tmp_path / "g-feedback").rglob("*.md")).read_text()
    assert "without a sandbox" in report


def test_grading_from_an_installed_wheel(tmp_path):
    """`pip install .` (not editable): the grader needs nothing but the installed package."""
    wheels = tmp_path / "wheels"
    subprocess.run([sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "-q", "-w", str(wheels), str(ROOT)], check=True, timeout=600)
    target = tmp_path / "site"
    subprocess.run([sys.executable, "-m", "pip", "install", "--no-deps", "-q", "--target", str(target), *map(str, wheels.glob("*.whl"))], check=True, timeout=600)
    lesson = LESSONS[-1]
    path = tmp_path / "work" / solutions_notebook(lesson).name
    path.parent.mkdir()
    nbformat.write(blank(nbformat.read(solutions_notebook(lesson), as_version=4)), path)
    env = dict(os.environ, PYTHONPATH=str(target))
    where = subprocess.run([sys.executable, "-c", "import symml; print(symml.__file__)"], capture_output=True, text=True, env=env, cwd=path.parent)
    assert where.stdout.startswith(str(target)), where.stdout
    result = subprocess.run([sys.executable, "-m", "symml", "grade", str(path), "--out", "g.csv", "--quiet", *sandbox_args()],
                            capture_output=True, text=True, env=env, cwd=path.parent, timeout=900)
    assert result.returncode == 0, result.stderr[-2000:]
    (r,) = json.loads((path.parent / "g.json").read_text()).values()
    assert r["points"] == r["max_points"] > 0, r


# ---------------------------------------------------------------- predictions: formative, no key handed back (no kernel)


VALUES = [e for lesson in checks.lessons() for e in checks.exercises(lesson).values() if e.prediction]


@pytest.mark.parametrize("ex", VALUES, ids=lambda e: e.id)
def test_a_wrong_prediction_gets_its_hint_never_the_key(ex, capsys):
    key = ex.solution()
    for answer, piece in ex.mistakes:
        returned = checks.check(ex.id, answer, seed=0)
        shown = capsys.readouterr().out
        assert returned is answer, "check hands back the student's own value, never the key"
        assert "failed" in shown and piece in shown, shown
        assert checks.without_key(shown, key) == shown or len(re.findall(r"'[^']*'", shown)) >= 2, f"{ex.id} shows its key: {shown}"
        assert checks.FALLBACK_NOTE not in shown
    assert checks.check(ex.id, ..., seed=0) is Ellipsis


def test_without_key_replaces_a_hint_that_spells_the_key():
    assert checks.without_key("the answer is 1x0e+1x2e here", "1x0e+1x2e") == checks.KEY_HIDDEN
    assert checks.without_key("you wrote '4e'", "4e") == checks.KEY_HIDDEN
    assert checks.without_key("answer with one of 'a', 'b', 'c'", "a") == "answer with one of 'a', 'b', 'c'"
    assert checks.without_key("count the odd l", "4e") == "count the odd l"


def test_feedback_off_records_without_a_verdict(capsys):
    ex = VALUES[0]
    checks.SUBMITTED.pop(ex.id, None)
    wrong = ex.mistakes[0][0]
    assert checks.check(ex.id, wrong, feedback=False) is wrong
    shown = capsys.readouterr().out
    assert "recorded" in shown and "failed" not in shown and "passed" not in shown and ex.mistakes[0][1] not in shown
    assert checks.SUBMITTED[ex.id] is wrong and checks.score(ex.id) == 0, "recorded for the grader all the same"


def test_a_function_exercise_still_falls_back_to_the_reference():
    ex = next(e for e in checks.exercises("07").values() if not e.prediction)
    assert checks.check(ex.id, lambda *a: None, seed=0) is ex.reference


def graded_row(lesson="07"):
    from symml.course.grade import new_row

    row = new_row(Path("x.ipynb"), "x", lesson, True)
    for r in row["exercises"].values():
        r.update(status="passed", points=r["max_points"])
    return row


def test_the_switch_graded_predictions():
    from symml.course.grade import weigh

    functions = sum(e.points for e in checks.exercises("07").values() if not e.prediction)
    everything = sum(e.points for e in checks.exercises("07").values())
    assert weigh(graded_row())["points"] == weigh(graded_row())["max_points"] == functions
    assert weigh(graded_row(), checks.graded_predictions("07"))["max_points"] == everything
    assert weigh(graded_row(), checks.graded_predictions("all"))["max_points"] == everything
    one = weigh(graded_row(), checks.graded_predictions("07.2"))
    assert one["max_points"] == functions + checks.exercise("07.2").points and one["exercises"]["07.5"]["graded"] is False
    row = weigh(weigh(graded_row(), checks.graded_predictions("07")))  # re-weighed by a later run's switches
    assert row["max_points"] == functions and row["exercises"]["07.2"]["earned"] == checks.exercise("07.2").points
    half = weigh(graded_row(), checks.graded_predictions("07"), "predictions")
    assert half["max_points"] == sum(e.points for e in checks.exercises("07").values() if e.prediction)
    assert half["exercises"]["07.1"]["status"] == "not in this half"
    for bad, why in (("07.1", "function exercise"), ("99", "no problem set"), ("7", "look like")):
        with pytest.raises(ValueError, match=why):
            checks.graded_predictions(bad)


# ---------------------------------------------------------------- the handout: no outputs, runs blank


def test_student_notebooks_are_handed_out_without_outputs(tmp_path):
    from symml.course import release

    for path in sorted((ROOT / "exercises").glob("*.ipynb")):
        assert not release.has_outputs(nbformat.read(path, as_version=4)), f"{path.name} has outputs"
    (tmp_path / "solutions").mkdir()
    solution = solutions_notebook("07")
    shutil.copy(solution, tmp_path / "solutions" / solution.name)
    assert release.release(tmp_path, run=False, validate=False) == [tmp_path / "exercises" / solution.name]
    assert release.out_of_step(tmp_path) == []
    nb = nbformat.read(tmp_path / "exercises" / solution.name, as_version=4)
    code = next(c for c in nb.cells if c.cell_type == "code")
    code.outputs = [nbformat.v4.new_output("stream", text="the reference's answer\n")]
    nbformat.write(nb, tmp_path / "exercises" / solution.name)
    assert any("has outputs" in p for p in release.out_of_step(tmp_path))
    assert release.release(tmp_path, run=False, validate=False) == [tmp_path / "exercises" / solution.name], "an executed handout is rewritten"
    assert not release.has_outputs(nbformat.read(tmp_path / "exercises" / solution.name, as_version=4))


@pytest.mark.slow
def test_the_first_half_of_a_two_phase_release_runs_blank_and_records(tmp_path):
    from symml.course import release

    (path,) = release.release(only=["07"], phase="predictions", out=tmp_path, run=True)  # run_blank raises unless all "not attempted"
    nb = nbformat.read(path, as_version=4)
    assert nb.metadata["symml"]["phase"] == "predictions" and not release.has_outputs(nb)
    ids = set(CHECK_ID.findall("\n".join(c.source for c in nb.cells)))
    assert ids == {e.id for e in checks.exercises("07").values() if e.prediction}
    with pytest.raises(ValueError, match="--out"):
        release.release(only=["07"], phase="predictions")


IMPORT_E3NN = """
import sys, torch
from symml.course.kernel import import_e3nn
import_e3nn()
assert torch.compiler.disable.__module__.startswith("torch"), "torch.compiler.disable is put back"
assert "torch._dynamo" not in sys.modules, "e3nn was imported with torch's compiler"
from e3nn.o3 import _wigner
from e3nn import o3
f = _wigner.change_basis_real_to_complex
assert torch.equal(f(3), f.__wrapped__(3))
torch.set_default_dtype(torch.float64)  # e3nn builds D in the default dtype; float32 misses 1e-6 on a quarter of draws
torch.manual_seed(0)
R = o3.rand_matrix(10)
assert torch.allclose(o3.Irrep("1o").D_from_matrix(R), R, atol=1e-10)
assert "torch._dynamo" not in sys.modules, "e3nn's functions ran without it"
import torch._dynamo  # a student compiles something: from now on the function runs as torch.compiler.disable made it
assert torch.equal(f(3), f.__wrapped__(3))
(disabled,) = [c.cell_contents for c in f.__closure__ if isinstance(c.cell_contents, list)]
assert len(disabled) == 1 and disabled[0] is not f.__wrapped__
print("ok")
"""


def test_the_grader_imports_e3nn_without_torch_compiler(tmp_path):
    """The kernel's start-up imports e3nn without torch._dynamo (0.8 s of CPU per graded notebook), and e3nn still works, compiler or not."""
    result = subprocess.run([sys.executable, "-c", IMPORT_E3NN], capture_output=True, text=True, timeout=300)
    assert result.stdout.strip() == "ok", result.stderr[-2000:]
    # and the grader's own start-up does it: a graded notebook's first cell finds e3nn loaded, the compiler not
    lesson = "05"  # its checks import e3nn
    nb = blank(nbformat.read(ROOT / "exercises" / solutions_notebook(lesson).name, as_version=4))
    nb.cells.insert(0, nbformat.v4.new_code_cell('import sys\nassert "e3nn.o3" in sys.modules and "torch._dynamo" not in sys.modules'))
    path = tmp_path / "submitted" / "student" / lesson / solutions_notebook(lesson).name
    path.parent.mkdir(parents=True)
    nbformat.write(nb, path)
    book, _ = grade([tmp_path / "submitted"], tmp_path / "g.csv")
    assert "cell 1:" not in row(book, "student", lesson)["reason"], row(book, "student", lesson)["reason"]
