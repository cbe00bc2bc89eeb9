"""docs/instructors.md followed as written: its code blocks, extracted (never retyped), run on a class.

Three students hand in problem set 07: ``full`` (the solutions), ``blank`` (the handout) and
``partial`` (the solutions, except that 07.1 breaks on a crystal without edges, one of its three
hidden cases, and the prediction 07.2 is wrong). Route 1 (``symml grade``) and route 2 (nbgrader:
prepare, each student fetches and submits as their own user, collect, autograde, export) must give
each student the points the declarations say: the full points, 0, and the full points less 07.1's
share of one case (its visible set and each hidden case share its points), predictions formative. Route 3 (Gradescope) is in tests/test_gradescope.py.
The sudo lines that make the hub's exchange folder are not run: the test's exchange is a temporary
folder, given to the guide's config through ``$NBGRADER_EXCHANGE``; the students, all one OS user
here, are told apart by a config of their own (``CourseDirectory.student_id``), as separate hub
users are by their user names.
"""

import csv
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
GUIDE = ROOT / "docs" / "instructors.md"
LESSON, ASSIGNMENT = "07", "07_equivariant_convolutions"
NOTEBOOK = f"{ASSIGNMENT}.ipynb"
STUDENTS = ("full", "blank", "partial")
BLOCK = re.compile(r"<!-- tested: ([\w-]+) -->\n```(\w+)\n(.*?)\n```", re.S)
BIN = str(Path(sys.executable).parent)
WRONG_PREDICTION = ('flat_cloud_outputs = {"2e": 3, "2o": 2}', 'flat_cloud_outputs = {"2e": 5, "2o": 5}')


def blocks() -> dict[str, str]:
    """``{name: code}`` of every code block the guide marks ``<!-- tested: name -->``."""
    found = {name: code for name, _, code in BLOCK.findall(GUIDE.read_text())}
    assert {"grade", "nbgrader-config", "nbgrader-prepare", "nbgrader-student", "nbgrader-grade", "gradescope"} <= set(found), found.keys()
    return found


def no_edges_case():
    """07.1's hidden case with no edge at all (none of its visible cases has one): what ``partial`` gets wrong."""
    ex = checks.exercise(f"{LESSON}.1")
    n_edges = lambda case: len(ex.reference(*case.args)[0])  # noqa: E731
    assert all(n_edges(c) > 0 for c in ex.inputs(0)), "07.1's visible cases all have edges"
    empty = [c for c in ex.hidden_inputs(0) if n_edges(c) == 0]
    assert len(empty) == 1, "07.1 has exactly one hidden case without edges"
    return ex


def expected_points() -> dict[str, float]:
    """From the declarations: function exercises only (predictions are formative by default)."""
    graded = [e for e in checks.exercises(LESSON).values() if not e.prediction]
    full = float(sum(e.points for e in graded))
    ex = no_edges_case()
    return {"full": full, "blank": 0.0, "partial": full - float(ex.points) / len(ex.tests(0))}


def break_partially(source: str) -> str:
    """The partial student's edits to a solution cell: 07.1 fails on no edges; 07.2 predicts a wrong count."""
    if "def periodic_edges" in source:
        line = "    s, edge_dst, edge_src = keep.nonzero(as_tuple=True)\n"
        assert line in source, "07.1's solution changed: update break_partially"
        return source.replace(line, line + '    assert len(s) > 0, "no edges"\n')
    return source.replace(WRONG_PREDICTION[0], WRONG_PREDICTION[1])


def cleared(nb):
    for cell in nb.cells:
        if cell.cell_type == "code":
            cell.outputs, cell.execution_count = [], None
    return nb


def student_notebook(student: str) -> nbformat.NotebookNode:
    """The notebook a student of route 1 hands in."""
    if student == "blank":
        return cleared(nbformat.read(ROOT / "exercises" / NOTEBOOK, as_version=4))
    nb = cleared(nbformat.read(ROOT / "solutions" / NOTEBOOK, as_version=4))
    if student == "partial":
        for cell in nb.cells:
            cell.source = break_partially(cell.source)
    assert student != "partial" or nb != cleared(nbformat.read(ROOT / "solutions" / NOTEBOOK, as_version=4))
    return nb


def run(code: str, cwd: Path, env: dict, timeout=1200) -> subprocess.CompletedProcess:
    result = subprocess.run(["bash", "-e", "-c", code], cwd=cwd, env=env, capture_output=True, text=True, timeout=timeout)
    assert result.returncode == 0, f"{code}\n--- stdout\n{result.stdout[-3000:]}\n--- stderr\n{result.stderr[-3000:]}"
    return result


def base_env(home: Path, with_bin: bool) -> dict:
    """The environment a user's shell has: ``with_bin=False`` is a shell where the course's environment is not activated."""
    path = [p for p in os.environ["PATH"].split(os.pathsep) if p != BIN]
    env = dict(os.environ, HOME=str(home), PATH=os.pathsep.join(([BIN] if with_bin else []) + path))
    env.pop("VIRTUAL_ENV", None)
    if not shutil.which("bwrap"):
        pytest.skip("bwrap (Debian's bubblewrap) is missing: symml grade refuses to grade without its sandbox")
    return env


def points_of(book: Path) -> dict[str, float]:
    return {row["student"]: row["points"] for row in json.loads(book.read_text()).values()}


@pytest.mark.slow
def test_route_1_symml_grade_as_written(tmp_path):
    for student in STUDENTS:
        path = tmp_path / "submitted" / student / ASSIGNMENT / NOTEBOOK
        path.parent.mkdir(parents=True)
        nbformat.write(student_notebook(student), path)
    run(blocks()["grade"], tmp_path, base_env(tmp_path, with_bin=True))
    assert points_of(tmp_path / "grades.json") == pytest.approx(expected_points())
    (partial,) = [r for r in json.loads((tmp_path / "grades.json").read_text()).values() if r["student"] == "partial"]
    assert partial["exercises"]["07.1"]["tests"] == "3/4" and partial["exercises"]["07.2"]["graded"] is False
    assert (tmp_path / "grades-class.html").exists() and len(list((tmp_path / "grades-feedback").rglob("*.md"))) == 3


@pytest.mark.slow
def test_route_2_nbgrader_as_written(tmp_path):
    pytest.importorskip("nbgrader", reason="nbgrader is in the test extra: pip install -e '.[test]'")
    guide = blocks()
    config = tmp_path / "etc-jupyter"
    config.mkdir()
    (config / "nbgrader_config.py").write_text(guide["nbgrader-config"])
    (tmp_path / "exchange").mkdir()
    shared = {"JUPYTER_CONFIG_PATH": str(config), "NBGRADER_EXCHANGE": str(tmp_path / "exchange")}
    instructor = tmp_path / "instructor"
    instructor.mkdir()
    (instructor / ".venv").symlink_to(Path(sys.executable).parent.parent)  # the guide's `source .venv/bin/activate`
    env = {**base_env(instructor, with_bin=False), **shared}
    run(guide["nbgrader-prepare"], instructor, env)
    source = nbformat.read(instructor / "course" / "source" / ASSIGNMENT / NOTEBOOK, as_version=4)
    by_id = {c.metadata["nbgrader"]["grade_id"]: c.source for c in source.cells if c.metadata.get("nbgrader", {}).get("solution")}

    fetch, submit = guide["nbgrader-student"].split("\n# ...")
    for student in STUDENTS:
        home = tmp_path / "home" / student
        home.mkdir(parents=True)
        own = tmp_path / "config" / student  # each student is a user of the hub: here the same OS user, told apart by their own config
        own.mkdir(parents=True)
        (own / "nbgrader_config.py").write_text(f"c = get_config()\nc.CourseDirectory.student_id = {student!r}\n")
        student_env = {**base_env(home, with_bin=True), **shared, "JUPYTER_CONFIG_PATH": f"{config}{os.pathsep}{own}"}
        run(fetch, home, student_env)
        path = home / ASSIGNMENT / NOTEBOOK
        nb = nbformat.read(path, as_version=4)
        assert "BEGIN HIDDEN TESTS" not in path.read_text() and WRONG_PREDICTION[0] not in path.read_text()
        if student != "blank":  # the student's work: the solution cells filled in
            for cell in nb.cells:
                meta = cell.metadata.get("nbgrader", {})
                if meta.get("solution"):
                    cell.source = by_id[meta["grade_id"]] if student == "full" else break_partially(by_id[meta["grade_id"]])
        nbformat.write(nb, path)
        run(submit.split("\n", 1)[1], home, student_env)

    run(guide["nbgrader-grade"], instructor, env, timeout=1800)
    course = instructor / "course"
    with (course / "grades.csv").open() as f:
        exported = {row["student_id"]: float(row["score"]) for row in csv.DictReader(f) if row["assignment"] == ASSIGNMENT}
    want = expected_points()
    assert exported == pytest.approx(want), "nbgrader's export"
    assert points_of(course / "symml-grades.json") == pytest.approx(want), "symml grade on nbgrader's submitted/"

    from nbgrader.api import Gradebook

    with Gradebook(f"sqlite:///{course / 'gradebook.db'}") as gb:
        grades = {g.name: g.score for n in gb.find_submission(ASSIGNMENT, "partial").notebooks for g in n.grades}
        max_score = gb.find_assignment(ASSIGNMENT).max_score
    ex = no_edges_case()
    assert grades["exercise-07-1"] == pytest.approx(float(ex.points) * (len(ex.tests(0)) - 1) / len(ex.tests(0))), "the exact fraction"
    assert "exercise-07-2" not in grades, "a formative prediction is no graded cell"
    assert max_score == pytest.approx(want["full"])


def test_the_guide_has_every_route_and_the_points_table_is_in_step():
    guide = blocks()
    assert "symml grade submitted/" in guide["grade"]
    assert guide["nbgrader-prepare"].splitlines()[0] == "source .venv/bin/activate", "nbgrader needs the environment activated (alembic)"
    assert "alembic" in GUIDE.read_text()
    result = subprocess.run([sys.executable, "-m", "symml", "points", "--check", str(GUIDE)], capture_output=True, text=True)
    assert result.returncode == 0, result.stderr
