r"""Release: make the student notebooks (``exercises/``) from the solutions notebooks.

    python -m symml.course release            # solutions/NN_*.ipynb -> exercises/NN_*.ipynb, without outputs
    python -m symml.course release --check    # exit 1 if exercises/ is not what release would write
    python -m symml.course release 04 --phase predictions --out handout/   # the predictions only

The student version of a solutions notebook is defined by its cells' *sources*:

* In a code cell, the lines from ``### BEGIN SOLUTION`` to ``### END SOLUTION`` become
  ``raise NotImplementedError("prompt")`` at the marker's indentation. Text after the begin marker
  is the prompt: ``### BEGIN SOLUTION average the squared differences``; without one, a generic
  prompt is used. A region at the top level of a cell (a *value* to write, not a function body)
  becomes ``name = ...  # prompt`` for each name it assigns, since a top-level ``raise`` would stop
  the notebook; ``check`` reads ``...`` as "not attempted".
* In a markdown cell, a solution region becomes ``*✏️ prompt*``.
* ``### BEGIN HIDDEN TESTS`` … ``### END HIDDEN TESTS`` regions, markers included, are removed.
* Everything else (cell types, ids, metadata, other cells) is copied.

``release`` writes the exercise notebooks whose sources changed WITHOUT outputs, as nbgrader's
release does: a student sees no output of the reference solution (no verifying cell's answer)
before running a cell. It then runs a throw-away copy of each in a fresh kernel (``python3`` of
this Python, in the notebook's folder) to make sure it runs blank: no cell fails and every
exercise reports "not attempted" (``--no-execute`` skips that). ``release --check`` compares cell
types, sources and tags, and fails on any stored output.

``--phase predictions`` is the first half of a two-phase release (for a class that grades
predictions): a notebook with the problem set's introduction and set-up cells and, for each
prediction (value exercise), its section up to its check cell, which records the answer without a
verdict (``check(..., feedback=False)``); no function exercise, no verifying cell, no explanation.
It carries ``metadata.symml.phase = "predictions"`` so ``symml grade`` grades only its predictions.
The second half is the ordinary release, handed out after the predictions are in.
"""

import ast
import copy
import json
import re
from pathlib import Path

import nbformat

from symml.course import ROOT

BEGIN_SOLUTION, END_SOLUTION = "### BEGIN SOLUTION", "### END SOLUTION"
BEGIN_HIDDEN, END_HIDDEN = "### BEGIN HIDDEN TESTS", "### END HIDDEN TESTS"
DEFAULT_PROMPT = "write your solution here"


class MarkerError(ValueError):
    """A solutions notebook has unbalanced or nested markers."""


# ---------------------------------------------------------------- solutions -> exercises


def _regions(lines: list[str], begin: str, end: str, where: str):
    """Yield ``(start, stop)`` line indices of each ``begin``…``end`` region (``stop`` inclusive)."""
    start = None
    for i, line in enumerate(lines):
        text = line.strip()
        if text.startswith(begin):
            if start is not None:
                raise MarkerError(f"{where}: nested {begin!r} (line {i + 1})")
            start = i
        elif text.startswith(end):
            if start is None:
                raise MarkerError(f"{where}: {end!r} without {begin!r} (line {i + 1})")
            yield start, i
            start = None
    if start is not None:
        raise MarkerError(f"{where}: {begin!r} without {end!r} (line {start + 1})")


def prompt_of(marker_line: str) -> str:
    prompt = marker_line.strip()[len(BEGIN_SOLUTION):].strip(" :-—")
    return prompt or DEFAULT_PROMPT


def _assigned_names(code: str) -> list[str]:
    """The names a top-level solution region assigns, in order (``x = …``, ``x: T = …``, ``x += …``)."""
    try:
        tree = ast.parse(code)
    except SyntaxError:
        return []
    names = []
    for node in tree.body:
        targets = node.targets if isinstance(node, ast.Assign) else [getattr(node, "target", None)]
        for t in targets:
            for n in ast.walk(t) if t is not None else ():
                if isinstance(n, ast.Name) and n.id not in names:
                    names.append(n.id)
    return names


def student_source(source: str, cell_type: str = "code", where: str = "cell") -> str:
    """The student version of one cell's source (see the module docstring)."""
    lines = source.split("\n")
    drop = set()
    for a, b in _regions(lines, BEGIN_HIDDEN, END_HIDDEN, where):
        drop.update(range(a, b + 1))
    kept = [line for i, line in enumerate(lines) if i not in drop]
    out, last = [], 0
    for a, b in _regions(kept, BEGIN_SOLUTION, END_SOLUTION, where):
        out += kept[last:a]
        indent = kept[a][: len(kept[a]) - len(kept[a].lstrip())]
        prompt = prompt_of(kept[a])
        if cell_type != "code":
            out.append(f"{indent}*✏️ {prompt}*")
        elif indent:
            out.append(f"{indent}raise NotImplementedError({json.dumps(prompt, ensure_ascii=False)})")
        else:
            names = _assigned_names("\n".join(kept[a + 1 : b]))
            if not names:
                raise MarkerError(f"{where}: a top-level solution region must assign a value (x = ...) or be indented")
            out += [f"{name} = ...  # {prompt}" for name in names]
        last = b + 1
    out += kept[last:]
    return "\n".join(out).rstrip("\n")


def student_notebook(solution: nbformat.NotebookNode, name: str = "notebook") -> nbformat.NotebookNode:
    """The student notebook for a solutions notebook: transformed sources, no outputs yet."""
    nb = nbformat.v4.new_notebook(metadata=nbformat.from_dict(dict(solution.metadata)))
    nb.nbformat, nb.nbformat_minor = solution.nbformat, solution.nbformat_minor
    for k, cell in enumerate(solution.cells):
        source = student_source(cell.source, cell.cell_type, f"{name}, cell {k}") if cell.cell_type in ("code", "markdown") else cell.source
        new = nbformat.from_dict({"cell_type": cell.cell_type, "metadata": dict(cell.metadata), "source": source})
        if "id" in cell:
            new["id"] = cell["id"]
        if cell.cell_type == "code":
            new["outputs"], new["execution_count"] = [], None
        if "attachments" in cell:
            new["attachments"] = cell["attachments"]
        nb.cells.append(new)
    return nb


CHECK_CALL = re.compile(r"""check\(\s*["'](\d\d\.\d+)["']\s*,\s*([A-Za-z_][A-Za-z_0-9]*)""")


def declaration_problems(solution: nbformat.NotebookNode, lesson: str) -> list[str]:
    """How a solutions notebook disagrees with its lesson's declarations (``symml/checks/lessonNN.py``).

    Every declared exercise needs exactly one check call, binding the declared ``name``, after
    exactly one solution region of its own; nothing else may be checked.
    """
    from symml.checks import exercises

    try:
        declared = exercises(lesson)
    except ModuleNotFoundError:
        return [f"no declarations: symml/checks/lesson{lesson}.py is missing"]
    problems, pending, seen = [], 0, []
    for k, cell in enumerate(solution.cells):
        if cell.cell_type != "code":
            continue
        pending += len(list(_regions(cell.source.split("\n"), BEGIN_SOLUTION, END_SOLUTION, f"cell {k}")))
        for exercise_id, name in CHECK_CALL.findall(cell.source):
            if exercise_id not in declared:
                problems.append(f"cell {k} checks {exercise_id}, which symml/checks/lesson{lesson}.py does not declare")
                continue
            if name != declared[exercise_id].name:
                problems.append(f"cell {k} checks {exercise_id} with `{name}`, but its declaration says name={declared[exercise_id].name!r}")
            if pending != 1:
                problems.append(f"cell {k} checks {exercise_id} after {pending} solution regions (want exactly one per exercise)")
            pending = 0
            seen.append(exercise_id)
    missing = [e for e in declared if e not in seen]
    if missing:
        problems.append(f"declared but never checked: {', '.join(missing)}")
    if seen != [e for e in declared if e in seen]:
        problems.append("the check calls are not in the order of the declarations")
    return problems


PREDICTIONS = "predictions"


def predictions_half(nb: nbformat.NotebookNode, lesson: str, name: str = "notebook") -> nbformat.NotebookNode:
    """The first half of a two-phase release of ``nb`` (a solutions or a student notebook): its predictions only.

    Kept: every cell before the first ``## `` section heading (title, set-up), and for each value
    exercise the cells from its section's heading to its check call, that call rewritten as
    ``x = check("NN.k", x, feedback=False)`` (recorded, no verdict). Dropped: function exercises,
    verifying cells, the folded explanations. Raises :class:`MarkerError` when the set has no prediction.
    """
    from symml.checks import exercises

    values = {e.id for e in exercises(lesson).values() if e.prediction}
    if not values:
        raise MarkerError(f"{name}: problem set {lesson} has no prediction to hand out first")
    cells = [nbformat.from_dict(copy.deepcopy(dict(c))) for c in nb.cells]
    heading = [k for k, c in enumerate(cells) if c.cell_type == "markdown" and c.source.lstrip().startswith("## ")]
    keep = set(range(heading[0] if heading else 0))
    for k, cell in enumerate(cells):
        found = CHECK_CALL.search(cell.source) if cell.cell_type == "code" else None
        if found and found.group(1) in values:
            keep.update(range(max((h for h in heading if h <= k), default=k), k + 1))
            exercise_id, variable = found.groups()
            cell.source = CHECK_CALL.sub(lambda m: f'check("{exercise_id}", {variable}, feedback=False', cell.source, count=1)
    half = nbformat.v4.new_notebook(metadata=copy.deepcopy(dict(nb.metadata)))
    half.nbformat, half.nbformat_minor = nb.nbformat, nb.nbformat_minor
    half.metadata["symml"] = {**half.metadata.get("symml", {}), "phase": PREDICTIONS}
    half.cells = [c for k, c in enumerate(cells) if k in keep]
    return nbformat.from_dict(half)


def predictions_notebook(solution: nbformat.NotebookNode, lesson: str, name: str = "notebook") -> nbformat.NotebookNode:
    """The student notebook of the first half: :func:`predictions_half` of the student version."""
    return predictions_half(student_notebook(solution, name), lesson, name)


def run_blank(path: Path, timeout: int = 600) -> None:
    """Run a throw-away copy of a student notebook: raises unless every cell runs and every exercise is "not attempted"."""
    import shutil

    from symml.checks import MIMETYPE
    from symml.course.execute import execute

    copy = path.with_name(f".{path.stem}.blank-run.ipynb")  # in the same folder: relative paths resolve as for a student
    shutil.copy(path, copy)
    try:
        execute(copy, timeout)
        verdicts = [o["data"][MIMETYPE] for c in nbformat.read(copy, as_version=4).cells if c.cell_type == "code"
                    for o in c.get("outputs", []) if MIMETYPE in o.get("data", {})]
    finally:
        copy.unlink(missing_ok=True)
    attempted = [f"{v['exercise']} {v['status']}" for v in verdicts if v["status"] not in ("not attempted", "recorded")]
    if attempted:
        raise MarkerError(f"{path.name}: the blank student version should leave every exercise not attempted, but: {', '.join(attempted)}")


def has_outputs(nb) -> bool:
    return any(c.cell_type == "code" and (c.get("outputs") or c.get("execution_count") is not None) for c in nb.cells)


def signature(nb) -> list[tuple]:
    """What ``release --check`` compares: each cell's type, source and tags."""
    return [(c.cell_type, c.source, tuple(c.metadata.get("tags", ()))) for c in nb.cells]


def pairs(root: Path = ROOT):
    """``(solution, exercise)`` paths for every ``solutions/NN_*.ipynb``."""
    for solution in sorted((root / "solutions").glob("[0-9][0-9]_*.ipynb")):
        yield solution, root / "exercises" / solution.name


def out_of_step(root: Path = ROOT) -> list[str]:
    """What differs between ``exercises/`` and what ``release`` would write; empty when in step."""
    problems = []
    wanted = set()
    for solution, target in pairs(root):
        wanted.add(target.name)
        rel = target.relative_to(root)
        nb = student_notebook(nbformat.read(solution, as_version=4), solution.name)
        if not target.exists():
            problems.append(f"{rel}: missing")
            continue
        stored = nbformat.read(target, as_version=4)
        have, want = signature(stored), signature(nb)
        if has_outputs(stored):
            problems.append(f"{rel}: has outputs (student notebooks are handed out without them)")
        if have != want:
            diff = next((i for i, (h, w) in enumerate(zip(have, want)) if h != w), min(len(have), len(want)))
            problems.append(f"{rel}: differs from the release of solutions/{solution.name} (first at cell {diff})")
    for target in sorted((root / "exercises").glob("*.ipynb")):
        if target.name not in wanted:
            problems.append(f"{target.relative_to(root)}: has no solutions notebook")
    return problems


def release(root: Path = ROOT, run: bool = True, force: bool = False, only=(), validate: bool | None = None,
            phase: str = "all", out: Path | None = None) -> list[Path]:
    """Write every exercise notebook whose sources changed (all with ``force``), without outputs.

    ``run``: then run a throw-away copy of each blank (:func:`run_blank`). ``only``: lesson numbers
    (``["04"]``) to release; default all. ``validate`` (default: when ``root`` is this course) first
    checks each solutions notebook against its declarations. ``phase="predictions"``: the first half
    of a two-phase release (:func:`predictions_notebook`), written to ``out`` (required: never into
    ``exercises/``, which holds the whole problem sets).
    """
    if phase not in ("all", PREDICTIONS):
        raise ValueError(f"phase must be 'all' or {PREDICTIONS!r}, not {phase!r}")
    if phase == PREDICTIONS and out is None:
        raise ValueError("--phase predictions writes a separate handout: give --out FOLDER (exercises/ keeps the whole problem sets)")
    validate = root == ROOT if validate is None else validate
    written = []
    for solution, target in pairs(root):
        lesson = solution.name[:2]
        if only and lesson not in only:
            continue
        if phase == PREDICTIONS and not any(e.prediction for e in _declared(lesson)):
            print(f"skipped {solution.name}: no predictions")
            continue
        source = nbformat.read(solution, as_version=4)
        problems = declaration_problems(source, lesson) if validate else []
        if problems:
            raise MarkerError(f"solutions/{solution.name}: " + "; ".join(problems))
        target = Path(out) / solution.name if out is not None else target
        nb = predictions_notebook(source, lesson, solution.name) if phase == PREDICTIONS else student_notebook(source, solution.name)
        if not force and target.exists():
            stored = nbformat.read(target, as_version=4)
            if signature(stored) == signature(nb) and not has_outputs(stored):
                continue  # in step already: no churn in git
        target.parent.mkdir(parents=True, exist_ok=True)
        nbformat.write(nb, target)
        written.append(target)
        if run:
            run_blank(target)
        print(f"released {target}")
    return written


def _declared(lesson: str):
    from symml.checks import exercises

    try:
        return list(exercises(lesson).values())
    except ModuleNotFoundError:
        return []


def main(argv=None) -> int:
    import argparse

    parser = argparse.ArgumentParser(prog="symml release", description="Generate exercises/ (the student versions) from solutions/.")
    parser.add_argument("--check", action="store_true", help="exit 1 if exercises/ is not what release would write")
    parser.add_argument("--force", action="store_true", help="rewrite and re-execute every exercise notebook")
    parser.add_argument("--no-execute", action="store_true", help="write the notebooks without running a blank copy of each")
    parser.add_argument("--phase", choices=("all", PREDICTIONS), default="all",
                        help="'predictions': the first half of a two-phase release, only the predictions, recorded without verdicts (needs --out)")
    parser.add_argument("--out", type=Path, help="write the notebooks here instead of exercises/ (required with --phase predictions)")
    parser.add_argument("lessons", nargs="*", help="only these lessons, e.g. 04 07 (default: all)")
    args = parser.parse_args(argv)
    if args.check:
        problems = out_of_step()
        for p in problems:
            print(f"out of step: {p}")
        if problems:
            print("run `symml release` to regenerate exercises/")
        return 1 if problems else 0
    try:
        release(run=not args.no_execute, force=args.force, only=args.lessons, phase=args.phase, out=args.out)
    except (MarkerError, ValueError) as e:
        print(f"symml release: {e}")
        return 2
    return 0
