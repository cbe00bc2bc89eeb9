r"""The problem sets as nbgrader source assignments: ``symml nbgrader COURSE_DIR [NN ...]``.

For a class already run with nbgrader on a JupyterHub. Each ``solutions/NN_name.ipynb`` becomes
``COURSE_DIR/source/NN_name/NN_name.ipynb``, an nbgrader *source* notebook (schema version 3):

* the cell that holds an exercise's ``### BEGIN SOLUTION`` region is a solution cell (nbgrader's
  ``generate_assignment`` replaces the region with its own stub; the prompt stays as a comment);
* the exercise's check cell (``answer = check("NN.k", answer)``) is a locked, graded cell worth the
  exercise's declared points, with a ``### BEGIN HIDDEN TESTS`` region that nbgrader removes from
  the student version and puts back when it autogrades: ``symml.checks.score("NN.k")``, whose value
  nbgrader takes as partial credit. It counts exactly as ``symml grade`` does (visible cases and
  each hidden case in equal shares, same seed), so both give the same points; an unattempted
  exercise scores 0;
* a prediction (value exercise) is formative, as in ``symml grade``: its check cell is locked but
  not graded (0 points; the student still sees its verdict and hint), unless
  ``--graded-predictions 04,07.2`` names it (the same switch, with the same meaning, as ``symml grade``'s);
* ``--phase predictions`` writes the first half of a two-phase release as its own assignment,
  ``source/NN_name-predictions/NN_name.ipynb``: only the predictions, recorded without verdicts
  (``symml.course.release.predictions_half``); hand out the whole set (the default export) after
  their deadline.

Then nbgrader's own steps (``docs/instructors.md`` gives every command): ``nbgrader
generate_assignment NN_name``, ``release_assignment``, ``collect``, ``autograde``, ``export``.
nbgrader runs the ``alembic`` program from ``PATH`` to create its gradebook: run it from an
activated environment (``source .venv/bin/activate``); ``symml nbgrader`` says so when ``alembic``
is not on ``PATH`` (and exits with status 1 when it is nowhere, not even next to this Python).
"""

import os
import re
import shutil
import sys
from pathlib import Path

import nbformat

from symml.course import ROOT
from symml.course.release import BEGIN_SOLUTION, PREDICTIONS, predictions_half, prompt_of

CHECK_CALL = re.compile(r"""check\(\s*["'](\d\d\.\d+)["']""")
SCHEMA_VERSION = 3


def _metadata(grade_id: str, *, solution: bool = False, grade: bool = False, locked: bool = False, points: float | None = None) -> dict:
    meta = {"grade": grade, "grade_id": grade_id, "locked": locked, "schema_version": SCHEMA_VERSION, "solution": solution, "task": False}
    if grade:
        meta["points"] = points
    return meta


def _prompt_as_comment(source: str) -> str:
    """``### BEGIN SOLUTION prompt`` → a ``# prompt`` line, then nbgrader's bare ``### BEGIN SOLUTION``."""
    out = []
    for line in source.split("\n"):
        if line.strip().startswith(BEGIN_SOLUTION):
            indent = line[: len(line) - len(line.lstrip())]
            out += [f"{indent}# {prompt_of(line)}", f"{indent}{BEGIN_SOLUTION}"]
        else:
            out.append(line)
    return "\n".join(out)


def source_notebook(solution: Path, graded: frozenset = frozenset(), phase: str = "all") -> nbformat.NotebookNode:
    """The nbgrader source version of one solutions notebook (outputs cleared).

    ``graded``: the predictions that earn points (:func:`symml.checks.graded_predictions`);
    ``phase="predictions"``: the first half of a two-phase release.
    """
    from symml.checks import counts, exercise

    nb = nbformat.read(solution, as_version=4)
    if phase == PREDICTIONS:
        nb = predictions_half(nb, Path(solution).name[:2], Path(solution).name)
    for k, cell in enumerate(nb.cells):
        cell.metadata.pop("nbgrader", None)
        cell.metadata.pop("execution", None)
        if cell.cell_type != "code":
            continue
        cell.outputs, cell.execution_count = [], None
        checked = CHECK_CALL.findall(cell.source)
        if BEGIN_SOLUTION in cell.source:
            cell.source = _prompt_as_comment(cell.source)
            cell.metadata["nbgrader"] = _metadata(f"cell-{k}-solution", solution=True)
        elif checked:
            ex = exercise(checked[0])
            grade_id = f"exercise-{ex.id.replace('.', '-')}"
            if not counts(ex, graded):  # formative: locked, verdict shown, no points
                cell.metadata["nbgrader"] = _metadata(grade_id, locked=True)
                continue
            cell.source = cell.source.rstrip() + f'\n### BEGIN HIDDEN TESTS\n__import__("symml.checks").checks.score("{ex.id}")\n### END HIDDEN TESTS'
            cell.metadata["nbgrader"] = _metadata(grade_id, grade=True, locked=True, points=float(ex.points))
    return nb


def export(course: Path, lessons=(), root: Path = ROOT, graded: frozenset = frozenset(), phase: str = "all") -> list[Path]:
    """Write ``course/source/NN_name/NN_name.ipynb`` for each solutions notebook (only ``lessons`` if given).

    With ``phase="predictions"`` the assignment is ``NN_name-predictions`` and sets without a
    prediction are skipped.
    """
    from symml.checks import exercises

    written = []
    for solution in sorted((root / "solutions").glob("[0-9][0-9]_*.ipynb")):
        if lessons and solution.name[:2] not in lessons:
            continue
        if phase == PREDICTIONS and not any(e.prediction for e in exercises(solution.name[:2]).values()):
            continue
        assignment = solution.stem + ("-predictions" if phase == PREDICTIONS else "")
        target = course / "source" / assignment / solution.name
        target.parent.mkdir(parents=True, exist_ok=True)
        nbformat.write(source_notebook(solution, graded, phase), target)
        written.append(target)
    return written


def alembic() -> str | None:
    """Where nbgrader will find ``alembic`` (it runs the program from ``PATH``), or None."""
    return shutil.which("alembic") or shutil.which("alembic", path=str(Path(sys.executable).parent))


def main(argv=None) -> int:
    import argparse

    parser = argparse.ArgumentParser(prog="symml nbgrader", description="Write the problem sets as nbgrader source assignments.")
    parser.add_argument("course", type=Path, help="the nbgrader course folder (source/ is written inside it)")
    parser.add_argument("lessons", nargs="*", help="only these problem sets, e.g. 04 07 (default: all)")
    parser.add_argument("--graded-predictions", default="", metavar="SETS_OR_IDS", help="as in symml grade: predictions that earn points (default: none)")
    parser.add_argument("--phase", choices=("all", PREDICTIONS), default="all", help="'predictions': the first half of a two-phase release, as its own assignment")
    args = parser.parse_args(argv)
    from symml.checks import graded_predictions

    try:
        graded = graded_predictions(args.graded_predictions)
    except ValueError as e:
        parser.error(str(e))
    if args.phase == PREDICTIONS and not graded:
        parser.error("--phase predictions hands out predictions to grade: name them with --graded-predictions (e.g. the same sets)")
    for path in export(args.course, args.lessons, graded=graded, phase=args.phase):
        print(f"wrote {path}")
    where = alembic()
    if where is None:
        print("nbgrader needs the `alembic` program on PATH to create its gradebook: activate this environment first "
              f"(source {Path(sys.executable).parent}/activate)", file=sys.stderr)
        return 1
    if os.path.dirname(where) not in os.environ.get("PATH", "").split(os.pathsep):
        print(f"note: `alembic` is in {os.path.dirname(where)}, which is not on PATH: activate this environment before running nbgrader "
              f"(source {Path(sys.executable).parent}/activate), or its first generate_assignment fails with FileNotFoundError: 'alembic'", file=sys.stderr)
    return 0
