"""`python -m symml.course`: the solutions -> exercises transformation, and the committed notebooks."""

import json
import os
import shutil
from pathlib import Path

import nbformat
import pytest

from symml import checks
from symml.checks import MIMETYPE
from symml.course import execute
from symml.course import release as course
from symml.plot import PLOTLY_MIMETYPE

ROOT = Path(__file__).resolve().parent.parent
NOTEBOOKS = execute.notebooks(ROOT)

SOLUTION_CELL = '''def mse(y, y_true):
    """The loss."""
    diff = y - y_true
    ### BEGIN SOLUTION square, then average
    squared = diff ** 2
    return squared.mean()
    ### END SOLUTION'''

CHECK_CELL = '''mse = check("00.1", mse)
### BEGIN HIDDEN TESTS
hidden_tests("00.1", [Case(torch.ones(2), torch.zeros(2))], mse)
### END HIDDEN TESTS
print("done")'''


def synthetic_solution():
    nb = nbformat.v4.new_notebook()
    nb.metadata["kernelspec"] = dict(execute.KERNELSPEC)
    cells = [
        nbformat.v4.new_markdown_cell("# Problem set\nWrite the loss."),
        nbformat.v4.new_code_cell(SOLUTION_CELL),
        nbformat.v4.new_code_cell(CHECK_CELL, metadata={"tags": ["keep-me"]}),
        nbformat.v4.new_code_cell("### BEGIN SOLUTION\nR = torch.eye(3)\nn, m = 1, 2\n### END SOLUTION\nR = check('01.1', R)"),
        nbformat.v4.new_code_cell("for k in range(2):\n    if k:\n        ### BEGIN SOLUTION\n        print(k)\n        ### END SOLUTION"),
        nbformat.v4.new_markdown_cell("Why?\n### BEGIN SOLUTION explain in one sentence\nBecause.\n### END SOLUTION"),
    ]
    for k, cell in enumerate(cells):
        cell.id = f"cell-{k}"
        if cell.cell_type == "code":
            cell.execution_count = k
            cell.outputs = [nbformat.v4.new_output("stream", name="stdout", text="solution output\n")]
    nb.cells = cells
    return nb


# ---------------------------------------------------------------- the transformation


def test_solution_region_becomes_raise_with_prompt():
    assert course.student_source(SOLUTION_CELL) == '''def mse(y, y_true):
    """The loss."""
    diff = y - y_true
    raise NotImplementedError("square, then average")'''


def test_hidden_tests_are_removed():
    assert course.student_source(CHECK_CELL) == 'mse = check("00.1", mse)\nprint("done")'


def test_default_prompt_and_indentation():
    src = course.student_source("for k in range(2):\n    if k:\n        ### BEGIN SOLUTION\n        print(k)\n        ### END SOLUTION")
    assert src == f'for k in range(2):\n    if k:\n        raise NotImplementedError("{course.DEFAULT_PROMPT}")'


def test_top_level_value_becomes_ellipsis():
    src = course.student_source("### BEGIN SOLUTION a float tensor\nR = torch.eye(3)\nn, m = 1, 2\n### END SOLUTION\nR = check('01.1', R)")
    assert src == "R = ...  # a float tensor\nn = ...  # a float tensor\nm = ...  # a float tensor\nR = check('01.1', R)"


def test_markdown_region_becomes_prompt():
    src = course.student_source("Why?\n### BEGIN SOLUTION explain\nBecause.\n### END SOLUTION", "markdown")
    assert src == "Why?\n*✏️ explain*"


@pytest.mark.parametrize(
    "source",
    [
        "### BEGIN SOLUTION\nx = 1",
        "x = 1\n### END SOLUTION",
        "    ### BEGIN SOLUTION\n    ### BEGIN SOLUTION\n    ### END SOLUTION",
        "### BEGIN HIDDEN TESTS\nassert True",
        "### BEGIN SOLUTION\nprint(1)\n### END SOLUTION",  # top level, but assigns nothing
    ],
)
def test_bad_markers_fail_loudly(source):
    with pytest.raises(course.MarkerError):
        course.student_source(source)


def test_student_notebook_keeps_structure_and_clears_outputs():
    solution = synthetic_solution()
    student = course.student_notebook(solution)
    assert [c.id for c in student.cells] == [c.id for c in solution.cells]
    assert [c.cell_type for c in student.cells] == [c.cell_type for c in solution.cells]
    assert student.cells[2].metadata["tags"] == ["keep-me"]
    assert student.metadata["kernelspec"]["name"] == "python3"
    for cell in student.cells:
        if cell.cell_type == "code":
            assert cell.outputs == [] and cell.execution_count is None
    assert "BEGIN" not in json.dumps([c.source for c in student.cells])
    nbformat.validate(student)


def test_release_and_check_on_a_synthetic_course(tmp_path):
    (tmp_path / "solutions").mkdir()
    (tmp_path / "exercises").mkdir()
    nbformat.write(synthetic_solution(), tmp_path / "solutions" / "00_toy.ipynb")
    assert course.out_of_step(tmp_path) == ["exercises/00_toy.ipynb: missing"]
    assert course.release(tmp_path, run=False) == [tmp_path / "exercises" / "00_toy.ipynb"]
    assert course.out_of_step(tmp_path) == []
    assert course.release(tmp_path, run=False) == []  # in step: nothing rewritten

    target = tmp_path / "exercises" / "00_toy.ipynb"
    nb = nbformat.read(target, as_version=4)
    nb.cells[1].source += "\n# a stray edit"
    nbformat.write(nb, target)
    assert course.out_of_step(tmp_path) == ["exercises/00_toy.ipynb: differs from the release of solutions/00_toy.ipynb (first at cell 1)"]

    nb.cells[1].source = course.student_source(SOLUTION_CELL)  # back in step, but executed: a student would see its outputs
    nb.cells[1].outputs = [nbformat.v4.new_output("stream", name="stdout", text="anything\n")]
    nbformat.write(nb, target)
    assert course.out_of_step(tmp_path) == ["exercises/00_toy.ipynb: has outputs (student notebooks are handed out without them)"]
    nb.cells[1].outputs = []
    nbformat.write(nb, target)
    assert course.out_of_step(tmp_path) == []

    shutil.copy(target, tmp_path / "exercises" / "07_orphan.ipynb")
    assert course.out_of_step(tmp_path) == ["exercises/07_orphan.ipynb: has no solutions notebook"]


# ---------------------------------------------------------------- the repository's notebooks


def test_exercises_are_in_step_with_solutions():
    problems = course.out_of_step(ROOT)
    assert problems == [], "run `python -m symml.course release`:\n" + "\n".join(problems)


def test_release_check_command():
    assert course.main(["--check"]) == 0


def outputs(nb, mimetype):
    for cell in nb.cells:
        for out in cell.get("outputs", []):
            if mimetype in out.get("data", {}):
                yield cell, out["data"][mimetype]


def checked_ids(nb):
    return [course_id for _, data in outputs(nb, MIMETYPE) for course_id in [data["exercise"]]]


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: f"{p.parent.name}/{p.name}")
def test_committed_notebook_hygiene(path):
    assert path.stat().st_size <= 2_000_000, "notebooks stay under 2 MB"
    nb = nbformat.read(path, as_version=4)
    nbformat.validate(nb)
    assert nb.metadata["kernelspec"]["name"] == "python3", "CI only has the python3 kernel"
    handed_out = path.parent.name == "exercises"  # committed without outputs: a student sees no answer
    for k, cell in enumerate(nb.cells):
        if cell.cell_type != "code":
            continue
        if handed_out:
            assert cell.execution_count is None and cell.outputs == [], f"cell {k} has outputs (run `python -m symml.course release`)"
            continue
        assert cell.execution_count is not None, f"cell {k} is not executed (run `python -m symml.course execute`)"
        for out in cell.outputs:
            assert out.output_type != "error", f"cell {k} raised {out.get('ename')}"
            assert not (out.output_type == "stream" and out.name == "stderr"), f"cell {k} wrote to stderr: {out.text[:200]}"
            assert "text/html" not in out.get("data", {}) or "plotly" not in out["data"]["text/html"], f"cell {k} embeds plotly.js"
    for cell, figure in outputs(nb, PLOTLY_MIMETYPE):
        assert "nbval-ignore-output" in cell.metadata.get("tags", []), "figure cells are not compared by nbval"
        assert len(json.dumps(figure)) <= 200_000


def run(path: Path) -> nbformat.NotebookNode:
    """The notebook executed top to bottom in a fresh kernel of this Python (cwd: its folder), not saved.

    Raises ``nbclient.exceptions.CellExecutionError`` if a cell raises: a problem set must run
    through, solved or not."""
    from nbclient import NotebookClient

    nb = nbformat.read(path, as_version=4)
    for cell in nb.cells:  # what the notebook shows comes from this run only
        if cell.cell_type == "code":
            cell.outputs = []
    NotebookClient(nb, km=execute._current_env_kernel_manager(), timeout=600,
                   resources={"metadata": {"path": str(path.parent)}}).execute(cleanup_kc=True)
    return nb


def children() -> set[int]:
    """The PIDs of this process's live (not zombie) children."""
    found = set()
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if int(fields[1]) == os.getpid() and fields[0] != "Z":
            found.add(int(stat.parent.name))
    return found


def test_execute_shuts_its_kernel_down(tmp_path):
    # nbclient leaves a kernel it did not start running until the process exits: `symml execute`
    # over 39 notebooks held 39 kernels, and the CPU time of each went uncounted by its parent
    path = tmp_path / "tiny.ipynb"
    nbformat.write(nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell("print(6 * 7)")]), path)
    before = children()
    execute.execute(path)
    assert nbformat.read(path, as_version=4).cells[0].outputs[0]["text"] == "42\n"
    assert children() - before == set()


@pytest.mark.parametrize("solution", [s for s, _ in course.pairs(ROOT)], ids=lambda p: p.name)
def test_solutions_pass_every_exercise(solution):
    """The committed solutions pass every exercise the lesson declares, each checked once, in order.

    nbval re-runs each solution and compares these outputs, so the committed verdicts are the run's."""
    declared = list(checks.exercises(solution.name[:2]))
    assert 3 <= len(declared) <= 8
    solved = nbformat.read(solution, as_version=4)
    assert checked_ids(solved) == declared, "each declared exercise is checked once, in order"
    verdicts = {d["exercise"]: (d["status"], d["message"]) for _, d in outputs(solved, MIMETYPE)}
    assert all(status == "passed" for status, _ in verdicts.values()), {i: v for i, v in verdicts.items() if v[0] != "passed"}


@pytest.mark.parametrize("exercise", [e for _, e in course.pairs(ROOT)], ids=lambda p: p.name)
def test_exercises_run_through_not_attempted(exercise):
    """Run the student version: every cell runs, and every declared exercise is checked, not attempted."""
    student = run(exercise)
    assert checked_ids(student) == list(checks.exercises(exercise.name[:2]))
    assert {d["status"] for _, d in outputs(student, MIMETYPE)} == {"not attempted"}


@pytest.mark.parametrize("solution, exercise", list(course.pairs(ROOT)), ids=lambda p: p.name)
def test_solutions_agree_with_their_declarations(solution, exercise):
    assert course.declaration_problems(nbformat.read(solution, as_version=4), solution.name[:2]) == []
