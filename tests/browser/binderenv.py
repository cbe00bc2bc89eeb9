"""Build what ``binder/`` specifies into a fresh virtual environment, as repo2docker would.

repo2docker (Python 3.11 from ``binder/runtime.txt``) does, in the repository root:

    pip install -r binder/requirements.txt
    binder/postBuild

``build()`` does the same in a fresh ``venv`` on a copy of the repository (its files as git sees
them), with one change that this machine forces: PyTorch's own CPU wheel index cannot be reached
from here, so its ``--extra-index-url`` line is dropped and ``torch==2.13.0+cpu`` comes from the
wheel on this machine's disk (pip's ``find-links``). Every other line is used as written.
"""

import atexit
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
BINDER = ROOT / "binder"
PYTORCH_INDEX = re.compile(r"^\s*--(extra-)?index-url\s+https://download\.pytorch\.org/\S*\s*$")


def requirements_here(text: str) -> str:
    """``binder/requirements.txt`` as this machine can install it: PyTorch's index line dropped."""
    lines = text.splitlines()
    kept = [line for line in lines if not PYTORCH_INDEX.match(line)]
    assert len(kept) == len(lines) - 1, "binder/requirements.txt should name PyTorch's CPU index once"
    return "\n".join(kept) + "\n"


def repo_files() -> list[str]:
    """The repository's files as a fresh clone would have them (tracked + new, not ignored)."""
    out = subprocess.run(
        ["git", "ls-files", "--cached", "--others", "--exclude-standard", "-z"],
        cwd=ROOT, check=True, capture_output=True, text=True,
    ).stdout
    return [f for f in out.split("\0") if f and (ROOT / f).is_file()]


def copy_repo(dest: Path) -> Path:
    for f in repo_files():
        target = dest / f
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(ROOT / f, target)
    return dest


class BinderEnv:
    """A built Binder environment: ``repo`` (the copy it was built in) and ``bin`` (its scripts)."""

    def __init__(self, base: Path):
        self.base = base
        self.repo = base / "repo"
        self.venv = base / "venv"
        self.bin = self.venv / "bin"
        self.python = self.bin / "python"
        self.log = base / "build.log"
        self.seconds = 0.0

    def env(self) -> dict:
        """Environment variables for running a command inside this environment."""
        env = {k: v for k, v in os.environ.items() if k not in ("VIRTUAL_ENV", "PYTHONPATH", "PYTHONHOME")}
        env["PATH"] = f"{self.bin}{os.pathsep}{env.get('PATH', '')}"
        env["VIRTUAL_ENV"] = str(self.venv)
        # jupyter must find kernels and config in this environment only, as in the image
        env["JUPYTER_CONFIG_DIR"] = str(self.base / "jupyter-config")
        env["JUPYTER_DATA_DIR"] = str(self.base / "jupyter-data")
        env["JUPYTER_PLATFORM_DIRS"] = "1"
        env["PYTHONNOUSERSITE"] = "1"
        return env

    def run(self, *cmd, **kw):
        with open(self.log, "a") as log:
            log.write(f"\n$ {' '.join(map(str, cmd))}\n")
            log.flush()
            proc = subprocess.run(list(map(str, cmd)), cwd=kw.pop("cwd", self.repo), env=self.env(),
                                  stdout=log, stderr=subprocess.STDOUT, **kw)
        if proc.returncode:
            tail = self.log.read_text()[-4000:]
            raise RuntimeError(f"{cmd} failed with exit code {proc.returncode}:\n{tail}")


def build(base: Path) -> BinderEnv:
    """Build the Binder environment under ``base`` (a fresh, empty folder)."""
    be = BinderEnv(base)
    copy_repo(be.repo)
    return build_into(be)


def build_into(be: BinderEnv) -> BinderEnv:
    start = time.monotonic()
    req = be.repo / "binder" / "requirements.txt"
    req.write_text(requirements_here(req.read_text()))
    subprocess.run([_base_python(), "-m", "venv", str(be.venv)], check=True)
    # what repo2docker does, in the repository root
    be.run(be.python, "-m", "pip", "install", "--quiet", "--no-compile", "-r", "binder/requirements.txt")
    postbuild = be.repo / "binder" / "postBuild"
    if postbuild.exists():
        be.run("bash", postbuild)
    be.seconds = time.monotonic() - start
    return be


def _base_python() -> str:
    """A Python interpreter outside any virtual environment (the one this venv was made from)."""
    return getattr(sys, "_base_executable", None) or sys.executable


_CACHE: dict = {}


def shared() -> BinderEnv:
    """One Binder environment per test session, shared by test_binder and test_browser."""
    if "env" not in _CACHE and os.environ.get("SYMML_BINDER_ENV"):  # reuse a built one while developing tests
        be = BinderEnv(Path(os.environ["SYMML_BINDER_ENV"]))
        if not be.python.exists():
            copy_repo(be.base.mkdir(parents=True, exist_ok=True) or be.repo)
            be = build_into(be)
        _CACHE["env"] = be
    if "env" not in _CACHE:
        base = Path(tempfile.mkdtemp(prefix="symml-binder-"))
        atexit.register(shutil.rmtree, base, ignore_errors=True)
        _CACHE["env"] = build(base)
    return _CACHE["env"]
