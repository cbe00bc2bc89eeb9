"""The Colab cell: it installs symml on Colab only, and a lesson then runs in a Colab-like environment.

"Colab-like" is a fresh virtual environment with only what Colab brings (torch, numpy, a Jupyter
kernel) and a stand-in ``google.colab`` module that the kernel imports at start, as Colab's does.
The cell's pip command installs the symml wheel built from this checkout (``SYMML_COLAB_SOURCE``),
since the repository on GitHub is not reachable from here.
"""

import json
import re
import subprocess
import sys
import types

import nbformat
import pytest
from browser import binderenv

from symml.course import ROOT, colab, site


@pytest.fixture
def recorded_pip(monkeypatch):
    """Every subprocess.run the cell makes, recorded instead of run."""
    calls = []
    monkeypatch.setattr(subprocess, "run", lambda cmd, **kw: calls.append(cmd))
    monkeypatch.delenv(colab.SOURCE_VARIABLE, raising=False)
    return calls


def test_the_cell_does_nothing_outside_colab(recorded_pip, monkeypatch):
    monkeypatch.delitem(sys.modules, "google.colab", raising=False)
    exec(colab.CELL_SOURCE, {})  # noqa: S102 (the cell exactly as a notebook runs it)
    assert recorded_pip == []


def test_the_cell_installs_symml_from_the_repository_on_colab(recorded_pip, monkeypatch):
    monkeypatch.setitem(sys.modules, "google.colab", types.ModuleType("google.colab"))
    exec(colab.CELL_SOURCE, {})  # noqa: S102 (the cell exactly as a notebook runs it)
    assert recorded_pip == [[sys.executable, "-m", "pip", "install", "--quiet", f"symml @ git+https://github.com/{site.REPOSITORY}"]]
    monkeypatch.setenv(colab.SOURCE_VARIABLE, "/wheels/symml-0.1.0-py3-none-any.whl")
    exec(colab.CELL_SOURCE, {})  # noqa: S102 (the cell exactly as a notebook runs it)
    assert recorded_pip[-1][-1] == "/wheels/symml-0.1.0-py3-none-any.whl"


def test_requirement_installs_this_project_from_the_repository_the_readme_opens():
    """The cell's pip requirement, read as pip reads it: this project (pyproject.toml's name), from the
    GitHub repository whose notebooks the README's Colab links open (the README is written by hand)."""
    import tomllib
    from packaging.requirements import Requirement

    requirement = Requirement(colab.REQUIREMENT)
    assert requirement.name == tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["name"]
    opened = set(re.findall(r"\(https://colab\.research\.google\.com/github/([\w.-]+/[\w.-]+)/blob/", (ROOT / "README.md").read_text()))
    assert len(opened) == 1, f"the README opens notebooks from {opened}"
    assert requirement.url == f"git+https://github.com/{opened.pop()}"
    assert not requirement.extras and not requirement.specifier


def notebook(*sources):
    nb = nbformat.v4.new_notebook()
    nb.cells = [nbformat.v4.new_markdown_cell(sources[0], id="title")] + [
        nbformat.v4.new_code_cell(s, id=f"code-{k}") for k, s in enumerate(sources[1:])]
    return nb


def test_add_colab_cell_inserts_once_and_updates_an_old_one():
    nb = notebook("# 00 · A lesson", "import torch", "print(1)")
    assert colab.add_colab_cell(nb)
    assert [c.id for c in nb.cells] == [colab.CELL_ID, "title", "code-0", "code-1"]
    assert nb.cells[0].cell_type == "code" and nb.cells[0].source == colab.CELL_SOURCE
    assert colab.has_colab_cell(nb)
    assert not colab.add_colab_cell(nb), "a second run changes nothing"
    nb.cells[0].source = "# an older install cell"
    nb.cells.insert(2, nbformat.v4.new_code_cell("# a stray copy", id=colab.CELL_ID + "-x"))
    assert colab.add_colab_cell(nb)
    assert [c.id for c in nb.cells][:3] == [colab.CELL_ID, "title", colab.CELL_ID + "-x"]
    assert sum(c.get("id") == colab.CELL_ID for c in nb.cells) == 1
    nbformat.validate(nb)


def test_update_writes_lessons_and_solutions_then_releases_exercises(tmp_path):
    for folder in ("lessons", "solutions", "exercises"):
        (tmp_path / folder).mkdir()
    nbformat.write(notebook("# 00 · A lesson", "x = 1"), tmp_path / "lessons" / "00_a.ipynb")
    nbformat.write(notebook("# 00 · Problems", "### BEGIN SOLUTION\ny = 2\n### END SOLUTION"), tmp_path / "solutions" / "00_a.ipynb")
    assert len(colab.missing(tmp_path)) == 2
    changed = colab.update(tmp_path, run=False)
    assert changed == [tmp_path / "lessons" / "00_a.ipynb", tmp_path / "solutions" / "00_a.ipynb"]
    assert colab.missing(tmp_path) == []
    exercise = nbformat.read(tmp_path / "exercises" / "00_a.ipynb", as_version=4)
    assert exercise.cells[0].source == colab.CELL_SOURCE and "y = ..." in exercise.cells[2].source
    assert colab.update(tmp_path, run=False) == []


def test_every_lesson_and_problem_set_starts_with_the_colab_cell():
    lacking = colab.missing(ROOT)
    assert lacking == [], "run `symml colab`: " + ", ".join(str(p.relative_to(ROOT)) for p in lacking)


# ---------------------------------------------------------------- a lesson in a Colab-like environment

RUN_NOTEBOOK = """
import sys, nbformat
from nbclient import NotebookClient
nb = nbformat.read(sys.argv[1], as_version=4)
NotebookClient(nb, timeout=600, kernel_name="python3", resources={"metadata": {"path": sys.argv[2]}}).execute()
nbformat.write(nb, sys.argv[1])
"""


@pytest.mark.slow
def test_lesson_00_runs_in_a_colab_like_environment(tmp_path):
    # symml as a wheel, built from the checkout's files (a fresh clone's)
    source = binderenv.copy_repo(tmp_path / "repo")
    wheels = tmp_path / "wheels"
    subprocess.run([sys.executable, "-m", "pip", "wheel", "--quiet", "--no-deps", "-w", wheels, source], check=True, capture_output=True)
    (wheel,) = wheels.glob("symml-*.whl")

    # Colab: its own torch, a kernel, and google.colab imported when the kernel starts
    env = binderenv.FreshEnv(tmp_path / "colab").create()
    env.run(env.python, "-m", "pip", "install", "--quiet", "--no-compile", "torch==2.13.0", "ipykernel", "nbclient", "nbformat")
    torch_before = subprocess.run([env.python, "-c", "import torch; print(torch.__version__)"], env=env.env(),
                                  capture_output=True, text=True, check=True).stdout.strip()
    standin = tmp_path / "standin" / "google" / "colab"
    standin.mkdir(parents=True)
    (standin / "__init__.py").write_text('"""A stand-in for Colab\'s google.colab: only its presence matters."""\n')
    ipython = tmp_path / "ipython"
    (ipython / "profile_default" / "startup").mkdir(parents=True)
    (ipython / "profile_default" / "startup" / "00-colab.py").write_text("import google.colab\n")
    run_env = {**env.env(), "PYTHONPATH": str(tmp_path / "standin"), "IPYTHONDIR": str(ipython),
               colab.SOURCE_VARIABLE: str(wheel)}
    no_symml = subprocess.run([env.python, "-c", "import symml"], check=False, env=run_env, cwd=tmp_path, capture_output=True)
    assert no_symml.returncode != 0, "the environment must start without symml"

    # lesson 00 with the Colab cell first, run top to bottom outside the checkout
    lesson = min((ROOT / "lessons").glob("00_*.ipynb"))
    nb = nbformat.read(lesson, as_version=4)
    colab.add_colab_cell(nb)
    work = tmp_path / "work"
    work.mkdir()
    target = work / lesson.name
    nbformat.write(nb, target)
    script = tmp_path / "run_notebook.py"
    script.write_text(RUN_NOTEBOOK)
    env.run(env.python, script, target, work, env=run_env, cwd=work)

    executed = nbformat.read(target, as_version=4)
    errors = [o for c in executed.cells for o in c.get("outputs", []) if o.output_type == "error"]
    assert not errors, errors[0]["evalue"] if errors else ""
    stderr = [o.text for c in executed.cells[1:] for o in c.get("outputs", []) if o.output_type == "stream" and o.name == "stderr"]
    assert not stderr, stderr[0][:500]
    assert sum(bool(c.get("outputs")) for c in executed.cells if c.cell_type == "code") >= 3
    where = subprocess.run([env.python, "-c", "import json, symml, torch; print(json.dumps([symml.__file__, torch.__version__]))"],
                           env=run_env, cwd=tmp_path, capture_output=True, text=True, check=True).stdout
    symml_file, torch_after = json.loads(where)
    assert symml_file.startswith(str(env.venv)), "symml was installed into the environment by the cell"
    assert torch_after == torch_before, "the cell must keep Colab's own torch"
