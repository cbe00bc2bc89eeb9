"""The README's two commands: `make lab` opens lesson 00 on the whole course, `make test` runs every stage.

Both run the real Makefile in the checkout, on an environment that is already set up (its
``.installed`` stamp is fresh, so make does not reinstall): `make lab` with this environment's
JupyterLab, `make test` with a stand-in python that records what it is asked to run.
"""

import contextlib
import json
import os
import re
import secrets
import shutil
import signal
import subprocess
import sys
import time
import urllib.parse
import urllib.request
from pathlib import Path

import pytest

from browser.labserver import free_port

ROOT = Path(__file__).resolve().parent.parent
MAKE = shutil.which("make")
pytestmark = pytest.mark.skipif(MAKE is None, reason="needs make")


# what an outer make (`make unit TESTS=...`) passes down: its flags, and its command-line variables
# as environment variables, which the Makefile's `?=` would take
OUTER_MAKE = ("MAKEFLAGS", "MFLAGS", "MAKELEVEL", "MAKEOVERRIDES", "TESTS", "VENV", "BIN", "PYTHON", "TORCH", "LAB_FLAGS")


def clean_env(**extra) -> dict:
    return {**{k: v for k, v in os.environ.items() if k not in OUTER_MAKE}, **extra}


def installed_venv(tmp_path) -> Path:
    """A VENV folder whose stamp is newer than pyproject.toml and the Makefile: make installs nothing."""
    venv = tmp_path / "venv"
    (venv / "bin").mkdir(parents=True)
    (venv / ".installed").touch()
    return venv


def make_test(tmp_path, unit_rc: int, notebooks_rc: int):
    venv = installed_venv(tmp_path)
    calls = tmp_path / "calls.txt"
    python = venv / "bin" / "python"
    python.write_text(f'#!/bin/sh\necho "$*" >> {calls}\ncase "$*" in *--nbval*) exit {notebooks_rc};; *) exit {unit_rc};; esac\n')
    python.chmod(0o755)
    proc = subprocess.run([MAKE, "-s", "--no-print-directory", "-C", ROOT, "test", f"VENV={venv}"], env=clean_env(),
                          capture_output=True, text=True, timeout=60, check=False)
    return proc, calls.read_text().splitlines()


@pytest.mark.parametrize("unit_rc, notebooks_rc", [(1, 0), (0, 1), (1, 1)])
def test_make_test_runs_every_stage_and_fails_at_the_end(tmp_path, unit_rc, notebooks_rc):
    proc, calls = make_test(tmp_path, unit_rc, notebooks_rc)
    assert [c.split()[:2] for c in calls] == [["-m", "pytest"], ["-m", "pytest"]], "both stages ran"
    assert calls[0].split()[2:] == ["tests"]
    assert "--nbval" in calls[1] and "lessons/00_learning_from_examples.ipynb" in calls[1]
    assert proc.returncode != 0
    failed = proc.stdout.strip().splitlines()[-1]
    assert ("unit-tests" in failed) == bool(unit_rc) and ("notebooks" in failed) == bool(notebooks_rc), failed


def test_make_test_passes_when_every_stage_passes(tmp_path):
    proc, calls = make_test(tmp_path, 0, 0)
    assert len(calls) == 2 and proc.returncode == 0, proc.stdout + proc.stderr


def test_make_lab_opens_lesson_00_with_the_whole_course(tmp_path):
    """What the browser is asked to open, and the folder JupyterLab serves."""
    venv = installed_venv(tmp_path)
    opened = tmp_path / "opened.html"
    browser = tmp_path / "browser"  # stands in for the web browser: keeps the page it is given (file://...-open.html)
    browser.write_text(f'#!/bin/sh\ncp "${{1#file://}}" {opened}.part && mv {opened}.part {opened}\n')
    browser.chmod(0o755)
    port, token = free_port(), secrets.token_hex(16)
    flags = [f"--ServerApp.browser='{browser} %s'", "--ServerApp.ip=127.0.0.1",
             f"--ServerApp.port={port}", "--ServerApp.port_retries=0", f"--IdentityProvider.token={token}",
             "--LabApp.news_url=None", "--LabApp.check_for_updates_class=jupyterlab.NeverCheckForUpdate"]
    if hasattr(os, "geteuid") and os.geteuid() == 0:
        flags.append("--allow-root")
    home = tmp_path / "jupyter"
    env = clean_env(JUPYTER_CONFIG_DIR=str(home / "config"), JUPYTER_DATA_DIR=str(home / "data"),
                    JUPYTER_RUNTIME_DIR=str(home / "runtime"), JUPYTER_PLATFORM_DIRS="1")
    cmd = [MAKE, "-s", "--no-print-directory", "-C", ROOT, "lab", f"VENV={venv}", f"BIN={Path(sys.executable).parent}", "LAB_FLAGS=" + " ".join(flags)]
    log = tmp_path / "lab.log"
    with open(log, "w") as out:
        lab = subprocess.Popen(cmd, env=env, stdout=out, stderr=subprocess.STDOUT, start_new_session=True)
    try:
        deadline = time.monotonic() + 180
        while not opened.exists() and time.monotonic() < deadline and lab.poll() is None:
            time.sleep(0.5)
        assert opened.exists(), f"make lab opened no page:\n{log.read_text()[-3000:]}"
        # the page the browser opens sends it on to this URL
        url = re.search(r'http-equiv="refresh" content="\d+;url=([^"]+)"', opened.read_text()).group(1)
        assert urllib.parse.urlsplit(url).path == "/lab/tree/lessons/00_learning_from_examples.ipynb", url
        assert url.startswith(f"http://127.0.0.1:{port}/")
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/api/contents/?token={token}", timeout=30) as r:
            root = {item["name"] for item in json.load(r)["content"]}
        assert {"lessons", "exercises", "solutions", "docs", "README.md"} <= root, root
    finally:
        with contextlib.suppress(OSError):
            urllib.request.urlopen(urllib.request.Request(f"http://127.0.0.1:{port}/api/shutdown?token={token}", method="POST"), timeout=10)
        try:
            lab.wait(timeout=30)
        except subprocess.TimeoutExpired:
            os.killpg(lab.pid, signal.SIGKILL)  # the make we started, its shell and its jupyter
            lab.wait()
