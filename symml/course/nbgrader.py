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
  exercise scores 0.

Then, as usual: ``nbgrader generate_assignment NN_name``, ``nbgrader release_assignment``, …,
``nbgrader autograde NN_name``.
"""

import re
from pathlib import Path

import nbformat

from symml.course import ROOT
from symml.course.release import BEGIN_SOLUTION, prompt_of

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


def source_notebook(solution: Path) -> nbformat.NotebookNode:
    """The nbgrader source version of one solutions notebook (outputs cleared)."""
    from symml.checks import exercise

    nb = nbformat.read(solution, as_version=4)
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
            cell.source = cell.source.rstrip() + f'\n### BEGIN HIDDEN TESTS\n__import__("symml.checks").checks.score("{ex.id}")\n### END HIDDEN TESTS'
            cell.metadata["nbgrader"] = _metadata(f"exercise-{ex.id.replace('.', '-')}", grade=True, locked=True, points=float(ex.points))
    return nb


def export(course: Path, lessons=(), root: Path = ROOT) -> list[Path]:
    """Write ``course/source/NN_name/NN_name.ipynb`` for each solutions notebook (only ``lessons`` if given)."""
    written = []
    for solution in sorted((root / "solutions").glob("[0-9][0-9]_*.ipynb")):
        if lessons and solution.name[:2] not in lessons:
            continue
        target = course / "source" / solution.stem / solution.name
        target.parent.mkdir(parents=True, exist_ok=True)
        nbformat.write(source_notebook(solution), target)
        written.append(target)
    return written


def main(argv=None) -> int:
    import argparse

    parser = argparse.ArgumentParser(prog="symml nbgrader", description="Write the problem sets as nbgrader source assignments.")
    parser.add_argument("course", type=Path, help="the nbgrader course folder (source/ is written inside it)")
    parser.add_argument("lessons", nargs="*", help="only these problem sets, e.g. 04 07 (default: all)")
    args = parser.parse_args(argv)
    for path in export(args.course, args.lessons):
        print(f"wrote {path}")
    return 0
