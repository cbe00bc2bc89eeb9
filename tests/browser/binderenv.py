"""Build what ``binder/`` specifies into a fresh virtual environment, as repo2docker would.

repo2docker (Python 3.11 from ``binder/runtime.txt``) does, in the repository root:

    pip install -r binder/requirements.txt
    binder/postBuild

``build()`` does the same in a fresh ``venv`` on a copy of the repository (its files as git sees
them), with one change where the machine forces it: where PyTorch's own CPU wheel index cannot be
reached (this machine, CI) but the pinned ``torch==2.13.0+cpu`` wheel lies on disk in pip's
``find-links``, the ``--extra-index-url`` line is dropped and pip takes that wheel. Elsewhere (a
laptop) every line is used as written.

``FreshEnv`` is the bare virtual environment underneath, also the Colab-like one of test_colab.
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


TORCH_PIN = re.compile(r"^\s*torch==(\S+)\s*$", re.MULTILINE)


def wheel_folders() -> list[Path]:
    """The folders pip's ``find-links`` names (PIP_FIND_LINKS, pip.conf): wheels kept on this machine's disk."""
    config = subprocess.run([sys.executable, "-m", "pip", "config", "list"], capture_output=True, text=True, check=False).stdout
    values = [*re.findall(r"find-links='([^']*)'", config), os.environ.get("PIP_FIND_LINKS", "")]
    return [Path(link.removeprefix("file://")) for value in values for link in value.split() if link]


def requirements_here(text: str) -> str:
    """``binder/requirements.txt`` as this machine can install it: PyTorch's index line dropped
    where the pinned torch wheel is on disk (the index is not reachable there)."""
    pin = TORCH_PIN.search(text)
    if not pin or not any(any(folder.glob(f"torch-{pin.group(1)}-*.whl")) for folder in wheel_folders() if folder.is_dir()):
        return text
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


class FreshEnv:
    """A new virtual environment under ``base``: ``venv``, ``bin`` (its scripts), ``python``, ``log``.

    Commands run through ``run()`` see this environment only (no user site, no PYTHONPATH, their
    own Jupyter folders) and append their output to ``log``.
    """

    def __init__(self, base: Path, cwd: Path | None = None):
        self.base = Path(base)
        self.cwd = cwd or self.base
        self.venv = self.base / "venv"
        self.bin = self.venv / "bin"
        self.python = self.bin / "python"
        self.log = self.base / "build.log"
        self.seconds = 0.0

    def create(self):
        """Make the venv from a Python outside any venv (the one this venv was made from)."""
        self.base.mkdir(parents=True, exist_ok=True)
        subprocess.run([_base_python(), "-m", "venv", str(self.venv)], check=True)
        return self

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
        env = kw.pop("env", None) or self.env()
        with open(self.log, "a") as log:
            log.write(f"\n$ {' '.join(map(str, cmd))}\n")
            log.flush()
            proc = subprocess.run(list(map(str, cmd)), check=False, cwd=kw.pop("cwd", self.cwd), env=env,
                                  stdout=log, stderr=subprocess.STDOUT, **kw)
        if proc.returncode:
            tail = self.log.read_text()[-4000:]
            raise RuntimeError(f"{cmd} failed with exit code {proc.returncode}:\n{tail}")


class BinderEnv(FreshEnv):
    """A built Binder environment: ``repo`` (the copy it was built in) and ``bin`` (its scripts)."""

    def __init__(self, base: Path):
        super().__init__(base, cwd=Path(base) / "repo")
        self.repo = self.cwd


def build(base: Path) -> BinderEnv:
    """Build the Binder environment under ``base`` (a fresh, empty folder)."""
    be = BinderEnv(base)
    copy_repo(be.repo)
    return build_into(be)


def build_into(be: BinderEnv) -> BinderEnv:
    start = time.monotonic()
    req = be.repo / "binder" / "requirements.txt"
    req.write_text(requirements_here(req.read_text()))
    be.create()
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
