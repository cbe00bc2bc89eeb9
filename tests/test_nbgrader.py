"""`symml nbgrader`: nbgrader 0.9's own generate_assignment accepts the export, and its autograde
gives the same points as `symml grade` on the same submissions (solved, blank, one answer wrong)."""

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import nbformat
import pytest

from symml import checks
from symml.course import nbgrader as export

pytest.importorskip("nbgrader", reason="nbgrader is in the test extra: pip install -e '.[test]'")

ROOT = Path(__file__).resolve().parent.parent
SOLUTION_REGION = re.compile(r"^([ \t]*)### BEGIN SOLUTION[^\n]*\n(.*?)^[ \t]*### END SOLUTION[^\n]*$", re.S | re.M)
CHECK_ID = re.compile(r"""check\(\s*["'](\d\d\.\d+)["']""")
LESSONS = [lesson for lesson in ("00", "04", "10") if lesson in checks.lessons()]


def nbgrader(course: Path, *args):
    env = dict(os.environ, PATH=f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}")  # nbgrader runs alembic
    result = subprocess.run([sys.executable, "-m", "nbgrader", *args, "--db", f"sqlite:///{course / 'gradebook.db'}"],
                            cwd=course, capture_output=True, text=True, env=env, timeout=1800)
    assert result.returncode == 0, result.stdout[-2000:] + result.stderr[-3000:]
    return result


def solved_release(release: nbformat.NotebookNode, source: nbformat.NotebookNode, wrong: str | None = None) -> nbformat.NotebookNode:
    """The student version with every solution cell filled in from the source; ``wrong``: that exercise's answer is None."""
    by_id = {c.metadata["nbgrader"]["grade_id"]: c for c in source.cells if "nbgrader" in c.metadata}
    for k, cell in enumerate(release.cells):
        meta = cell.metadata.get("nbgrader", {})
        if meta.get("solution"):
            cell.source = by_id[meta["grade_id"]].source
            later = (CHECK_ID.search(c.source) for c in release.cells[k:] if c.cell_type == "code")
            if next(m.group(1) for m in later if m) == wrong:
                name = checks.exercise(wrong).name
                cell.source = SOLUTION_REGION.sub(lambda m: f"{m.group(1)}return None" if m.group(1) else f"{name} = None", cell.source)
    return release


@pytest.mark.slow
@pytest.mark.parametrize("lesson", LESSONS)
def test_nbgrader_autograde_agrees_with_symml_grade(tmp_path, lesson):
    course = tmp_path / "course"
    (course).mkdir()
    (course / "nbgrader_config.py").write_text(f'c = get_config()\nc.CourseDirectory.root = {str(course)!r}\nc.Exchange.root = {str(tmp_path / "exchange")!r}\n')
    (path,) = export.export(course, [lesson])
    assignment = path.parent.name
    nb = nbformat.read(path, as_version=4)
    assert all(c.metadata["nbgrader"]["schema_version"] == 3 for c in nb.cells if "nbgrader" in c.metadata)
    graded = [c for c in nb.cells if c.metadata.get("nbgrader", {}).get("grade")]
    assert [c.metadata["nbgrader"]["points"] for c in graded] == [float(e.points) for e in checks.exercises(lesson).values() if not e.prediction]

    nbgrader(course, "generate_assignment", assignment, "--force")
    release = course / "release" / assignment / path.name
    assert "BEGIN HIDDEN TESTS" not in release.read_text() and "BEGIN SOLUTION" not in release.read_text()

    wrong = [e.id for e in checks.exercises(lesson).values() if not e.prediction][-1]
    students = {
        "solved": solved_release(nbformat.read(release, as_version=4), nb),
        "blank": nbformat.read(release, as_version=4),
        "onewrong": solved_release(nbformat.read(release, as_version=4), nb, wrong=wrong),
    }
    for student, student_nb in students.items():
        target = course / "submitted" / student / assignment / path.name
        target.parent.mkdir(parents=True)
        nbformat.write(student_nb, target)
    # autograde adds the students it finds to the gradebook (Autograde.create_student, nbgrader
    # 0.9's default): no `nbgrader db student add` per student, each ~4 s of nbgrader start-up
    nbgrader(course, "autograde", assignment, "--force")

    from nbgrader.api import Gradebook

    with Gradebook(f"sqlite:///{course / 'gradebook.db'}") as gb:
        by_nbgrader = {s: {g.name: g.score for n in gb.find_submission(assignment, s).notebooks for g in n.grades} for s in students}

    out = tmp_path / "grades.csv"
    sandbox = [] if __import__("shutil").which("bwrap") else ["--no-sandbox"]
    result = subprocess.run([sys.executable, "-m", "symml", "grade", str(course / "submitted"), "--out", str(out), "--quiet", "--jobs", "2", *sandbox],
                            capture_output=True, text=True, timeout=1800)
    assert result.returncode == 0, result.stderr[-2000:]
    by_symml = {row["student"]: row for row in json.loads(out.with_suffix(".json").read_text()).values()}

    points = {e.id: float(e.points) for e in checks.exercises(lesson).values() if not e.prediction}
    for student in students:
        for exercise_id, row in by_symml[student]["exercises"].items():
            if row["graded"]:
                assert by_nbgrader[student][f"exercise-{exercise_id.replace('.', '-')}"] == pytest.approx(row["points"]), (student, exercise_id)
            else:
                assert f"exercise-{exercise_id.replace('.', '-')}" not in by_nbgrader[student] and row["points"] == 0
    assert sum(by_nbgrader["solved"].values()) == pytest.approx(sum(points.values()))
    assert sum(by_nbgrader["blank"].values()) == 0
    assert sum(by_nbgrader["onewrong"].values()) == pytest.approx(sum(points.values()) - points[wrong])


def graded_cells(nb) -> dict[str, float]:
    return {c.metadata["nbgrader"]["grade_id"]: c.metadata["nbgrader"]["points"] for c in nb.cells if c.metadata.get("nbgrader", {}).get("grade")}


def test_predictions_are_graded_cells_only_when_switched_on(tmp_path):
    lesson = "07"
    predictions = [e for e in checks.exercises(lesson).values() if e.prediction]
    (default,) = export.export(tmp_path / "a", [lesson])
    assert not any(f"exercise-{e.id.replace('.', '-')}" in graded_cells(nbformat.read(default, as_version=4)) for e in predictions)
    (switched,) = export.export(tmp_path / "b", [lesson], graded=checks.graded_predictions(predictions[0].id))
    cells = graded_cells(nbformat.read(switched, as_version=4))
    assert cells[f"exercise-{predictions[0].id.replace('.', '-')}"] == float(predictions[0].points)
    assert all(f"exercise-{e.id.replace('.', '-')}" not in cells for e in predictions[1:])


def test_the_first_half_of_a_two_phase_release(tmp_path):
    lesson = "07"
    (path,) = export.export(tmp_path, [lesson], graded=checks.graded_predictions(lesson), phase="predictions")
    assert path.parent.name.endswith("-predictions") and path.name.startswith(f"{lesson}_")
    nb = nbformat.read(path, as_version=4)
    text = "\n".join(c.source for c in nb.cells)
    ids = set(CHECK_ID.findall(text))
    assert ids == {e.id for e in checks.exercises(lesson).values() if e.prediction}, ids
    assert text.count("feedback=False") == len(ids), "each prediction is recorded without a verdict"
    assert "<details>" not in text and "def " not in text, "no verifying cell, no explanation, no function exercise"
    assert set(graded_cells(nb)) == {f"exercise-{i.replace('.', '-')}" for i in ids}
    assert nb.metadata["symml"]["phase"] == "predictions"
