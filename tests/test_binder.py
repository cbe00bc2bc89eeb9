"""The Binder environment is the one CI tests: build what binder/ specifies, then run a lesson in it.

repo2docker would do ``pip install -r binder/requirements.txt`` and ``binder/postBuild`` in the
repository root (tests/browser/binderenv.py does the same in a fresh virtual environment; only
PyTorch's CPU index is replaced by the same CPU wheel on this machine's disk). That this is what
repo2docker does is checked too: its own Dockerfile for this repository (``--no-build --debug``
prints it, and needs no Docker).
"""

import json
import re
import subprocess
import sys

import pytest

from browser import binderenv

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def binder():
    return binderenv.shared()


def test_binder_files_are_what_repo2docker_reads():
    assert (binderenv.BINDER / "runtime.txt").read_text().strip() == "python-3.11"
    requirements = (binderenv.BINDER / "requirements.txt").read_text()
    lines = [line.strip() for line in requirements.splitlines() if line.strip() and not line.startswith("#")]
    assert "-e ." in lines, "repo2docker ignores pyproject.toml once binder/ exists: the requirements must install symml"
    assert any(line.startswith("torch==") and line.endswith("+cpu") for line in lines), "pin the CPU build of torch"
    assert any("download.pytorch.org/whl/cpu" in line for line in lines)


def test_binder_environment_is_lean_and_cpu_only(binder):
    probe = "import json, torch, e3nn, symml, plotly, ipywidgets; print(json.dumps([torch.__version__, torch.version.cuda, e3nn.__version__]))"
    out = subprocess.run([binder.python, "-c", probe], env=binder.env(), capture_output=True, text=True, check=True).stdout
    torch_version, cuda, e3nn_version = json.loads(out.strip().splitlines()[-1])
    assert torch_version.endswith("+cpu") and cuda is None
    assert e3nn_version.startswith("0.6")
    packages = subprocess.run([binder.python, "-m", "pip", "list", "--format=json"], env=binder.env(), capture_output=True, text=True, check=True).stdout
    names = {p["name"].lower() for p in json.loads(packages)}
    assert not {n for n in names if n.startswith("nvidia")}, "no CUDA libraries in the image"
    assert {"jupyterlab", "ipywidgets", "plotly", "symml", "nbgitpuller"} <= names


def test_postbuild_opens_the_first_lesson(binder):
    config = json.loads((binder.venv / "etc" / "jupyter" / "jupyter_server_config.d" / "symml.json").read_text())
    first = sorted(p.name for p in (binder.repo / "lessons").glob("[0-9][0-9]_*.ipynb"))[0]
    assert config["ServerApp"]["default_url"] == f"/lab/tree/lessons/{first}"


def test_a_lesson_runs_in_the_binder_environment(binder, tmp_path):
    lesson = sorted((binder.repo / "lessons").glob("[0-9][0-9]_*.ipynb"))[0]
    out = tmp_path / "executed.ipynb"
    cmd = [binder.bin / "jupyter", "nbconvert", "--to", "notebook", "--execute", "--ExecutePreprocessor.timeout=300",
           "--ExecutePreprocessor.kernel_name=python3", "--output", out, lesson]
    subprocess.run(list(map(str, cmd)), env=binder.env(), cwd=lesson.parent, check=True, capture_output=True)
    executed = json.loads(out.read_text())
    errors = [o for c in executed["cells"] for o in c.get("outputs", []) if o["output_type"] == "error"]
    assert not errors
    assert sum(1 for c in executed["cells"] if c["cell_type"] == "code" and c.get("outputs")) >= 3


def repo2docker_dockerfile(repo) -> tuple[str, str]:
    """The Dockerfile repo2docker writes for ``repo`` (Binder's build, without building), and its log."""
    pytest.importorskip("repo2docker", reason="needs jupyter-repo2docker (pip install -e '.[test]')")
    proc = subprocess.run([sys.executable, "-m", "repo2docker", "--no-build", "--no-run", "--debug", str(repo)],
                          cwd=repo, capture_output=True, text=True, check=True, timeout=300)
    return proc.stdout, proc.stderr


def test_repo2docker_installs_the_requirements_then_runs_postbuild(tmp_path):
    dockerfile, log = repo2docker_dockerfile(binderenv.copy_repo(tmp_path / "repo"))
    steps = [line.strip() for line in dockerfile.splitlines() if re.match(r"[A-Z]+ ", line)]
    assert steps[0].startswith("FROM "), dockerfile[:500]
    assert "conda environment for python=3.11" in log, "binder/runtime.txt asks for Python 3.11"

    def index(pattern):
        found = [k for k, step in enumerate(steps) if re.fullmatch(pattern, step)]
        assert len(found) == 1, f"{pattern!r} in {len(found)} steps of:\n" + "\n".join(steps)
        return found[0]

    workdir = index(r"WORKDIR \$\{REPO_DIR\}")
    copy_repo = index(r"COPY --chown=\S+ src/ \$\{REPO_DIR\}/")
    pip = index(r'RUN \$\{KERNEL_PYTHON_PREFIX\}/bin/pip install --no-cache-dir -r "binder/requirements.txt"')
    postbuild = index(r"RUN \./binder/postBuild")
    # in the repository root, with every file there: `-e .` installs symml, postBuild finds lessons/
    assert workdir < copy_repo < pip < postbuild
    user = [s for s in steps[:postbuild] if s.startswith("USER ")][-1]
    assert user == "USER ${NB_USER}", "postBuild writes the notebook user's own environment"
    installs = [s for s in steps if re.search(r"\bpip install\b", s)]
    assert installs == [steps[pip]], "once binder/ exists repo2docker must install nothing else (no setup.py, no pyproject.toml)"
