"""Open the course in Google Colab: a first cell in every notebook that installs symml there.

    symml colab [--check] [--no-execute]

Colab opens a notebook straight from GitHub (``site.colab_url``) in a runtime that has torch,
numpy and Jupyter but not symml. The first code cell of every lesson and problem set installs it
from the repository, on top of Colab's own torch (symml asks for ``torch>=2.2``, which Colab's
satisfies, so pip leaves it alone). Anywhere else (``make lab``, Binder, JupyterHub, nbval, the
grader) ``google.colab`` is not imported and the cell does nothing.

``symml colab`` puts that cell first in ``lessons/`` and ``solutions/`` (or brings an older one up to
date), executes the notebooks it changed and releases ``exercises/`` from the solutions, so the
problem sets get the cell too. ``--check`` only reports the notebooks whose first cell is not it.
"""

import argparse
import sys
from pathlib import Path

import nbformat

from symml.course import ROOT
from symml.course.site import REPOSITORY

REQUIREMENT = f"symml @ git+https://github.com/{REPOSITORY}"
SOURCE_VARIABLE = "SYMML_COLAB_SOURCE"  # what to install instead (a wheel, a fork): tests point it at a local wheel
CELL_ID = "colab-install-symml"
CELL_SOURCE = f'''# On Google Colab only: install symml, this course's library (elsewhere this cell does nothing).
import sys

if "google.colab" in sys.modules:
    import os
    import subprocess

    source = os.environ.get("{SOURCE_VARIABLE}", "{REQUIREMENT}")
    subprocess.run([sys.executable, "-m", "pip", "install", "--quiet", source], check=True)'''
FOLDERS = ("lessons", "solutions")  # exercises/ are released from solutions/


def colab_cell() -> nbformat.NotebookNode:
    return nbformat.v4.new_code_cell(CELL_SOURCE, id=CELL_ID)


def is_colab_cell(cell) -> bool:
    """Whether ``cell`` is a Colab install cell: the current one, or any version of it (its id, or a
    cell that pip-installs when ``google.colab`` is there)."""
    source = cell.get("source", "")
    return cell.get("cell_type") == "code" and (cell.get("id") == CELL_ID or ("google.colab" in source and "pip" in source))


def has_colab_cell(nb) -> bool:
    """Whether the notebook's first cell is the current Colab cell."""
    return bool(nb.cells) and nb.cells[0].get("id") == CELL_ID and nb.cells[0].source == CELL_SOURCE


def add_colab_cell(nb) -> bool:
    """Make the Colab cell the notebook's first cell (inserted, or its older version replaced).

    Returns whether the notebook changed. Every other cell, and its id, stays as it was.
    """
    if has_colab_cell(nb):
        return False
    old = [k for k, cell in enumerate(nb.cells) if cell.get("id") == CELL_ID]
    for k in reversed(old):
        del nb.cells[k]
    nb.cells.insert(0, colab_cell())
    return True


def notebooks(root: Path = ROOT) -> list[Path]:
    return [p for folder in FOLDERS for p in sorted((root / folder).glob("[0-9][0-9]_*.ipynb"))]


def missing(root: Path = ROOT) -> list[Path]:
    """The lessons, solutions and exercises whose first cell is not the current Colab cell."""
    paths = notebooks(root) + sorted((root / "exercises").glob("[0-9][0-9]_*.ipynb"))
    return [p for p in paths if not has_colab_cell(nbformat.read(p, as_version=4))]


def update(root: Path = ROOT, run: bool = True) -> list[Path]:
    """Give every lesson and solutions notebook the Colab cell, execute those changed, release exercises/."""
    from symml.course import release
    from symml.course.execute import execute

    changed = []
    for path in notebooks(root):
        nb = nbformat.read(path, as_version=4)
        if add_colab_cell(nb):
            nbformat.write(nb, path)
            changed.append(path)
            if run:
                execute(path)
            print(f"colab cell: {path.relative_to(root)}", flush=True)
    release.release(root, run=run)
    return changed


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog="symml colab", description="Put the Colab install cell first in every lesson and problem set.")
    parser.add_argument("--check", action="store_true", help="exit 1 if a notebook lacks the current Colab cell")
    parser.add_argument("--no-execute", action="store_true", help="write the notebooks without executing them")
    args = parser.parse_args(argv)
    if args.check:
        lacking = missing()
        for path in lacking:
            print(f"no Colab cell: {path.relative_to(ROOT)}")
        return 1 if lacking else 0
    update(run=not args.no_execute)
    return 0


if __name__ == "__main__":
    sys.exit(main())
