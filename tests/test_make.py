"""The README's two commands: `make lab` opens lesson 00 on the whole course, `make test` runs every stage.

Both run the real Makefile in the checkout, on an environment that is already set up (its
``.installed`` stamp is fresh, so make does not reinstall): `make lab` with this environment's
JupyterLab, `make test` with a stand-in python that records what it is asked to run. From those
calls: every notebook on disk in lessons/, solutions/ (``--nbval``) and exercises/ (``--nbval-lax``)
is run with its flags, and the unit tests run over all of tests/, however the Makefile spells it
(extra flags such as xdist's ``-n`` are fine; flags that deselect tests are not).
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


SEP = "\x1f"  # between the arguments of one recorded call (none of them holds it)


def make_test(tmp_path, unit_rc: int, notebooks_rc: int):
    """Run the real `make test` with a stand-in python; returns (process, the argument list of every call)."""
    venv = installed_venv(tmp_path)
    calls = tmp_path / "calls.txt"
    python = venv / "bin" / "python"
    python.write_text(f'#!/bin/sh\nprintf "%s{SEP}" "$@" >> {calls}\necho >> {calls}\n'
                      f'case "$*" in *--nbval*) exit {notebooks_rc};; *) exit {unit_rc};; esac\n')
    python.chmod(0o755)
    proc = subprocess.run([MAKE, "-s", "--no-print-directory", "-C", ROOT, "test", f"VENV={venv}"], env=clean_env(),
                          capture_output=True, text=True, timeout=60, check=False)
    recorded = calls.read_text().splitlines() if calls.exists() else []
    return proc, [line.split(SEP)[:-1] for line in recorded]


def is_notebook_call(args: list[str]) -> bool:
    return any(a.startswith("--nbval") for a in args) or any(a.endswith(".ipynb") for a in args)


# pytest options that run fewer tests than were named: none of them belongs in `make test`
SELECTING = ("-k", "-m", "--deselect", "--ignore", "--ignore-glob", "--lf", "--last-failed", "--sw", "--stepwise",
             "-x", "--exitfirst", "--maxfail", "--co", "--collect-only", "--nbval-cell-timeout=0")


def selecting(args: list[str]) -> list[str]:
    return [a for a in args[2:] if a.split("=")[0] in SELECTING]


def covered(path: str, args: list[str]) -> bool:
    """Whether a pytest call with these arguments collects ``path`` (named itself, or its folder)."""
    folder = path.split("/")[0]
    return path in args or folder in args or folder + "/" in args or f"./{path}" in args


@pytest.mark.parametrize("unit_rc, notebooks_rc", [(1, 0), (0, 1), (1, 1)])
def test_make_test_runs_every_stage_and_fails_at_the_end(tmp_path, unit_rc, notebooks_rc):
    proc, calls = make_test(tmp_path, unit_rc, notebooks_rc)
    assert all(c[:2] == ["-m", "pytest"] for c in calls), calls
    assert any(not is_notebook_call(c) for c in calls) and any(is_notebook_call(c) for c in calls), "both stages ran"
    assert proc.returncode != 0
    failed = proc.stdout.strip().splitlines()[-1]
    assert "FAILED" in failed, failed
    assert ("unit-tests" in failed) == bool(unit_rc), failed
    assert bool(failed.replace("unit-tests", "").split("FAILED:")[-1].strip()) == bool(notebooks_rc), failed


def test_make_test_passes_when_every_stage_passes(tmp_path):
    proc, calls = make_test(tmp_path, 0, 0)
    assert len(calls) >= 2 and proc.returncode == 0, proc.stdout + proc.stderr


def test_make_test_runs_the_unit_tests_over_all_of_tests(tmp_path):
    _, calls = make_test(tmp_path, 0, 0)
    unit = [c for c in calls if not is_notebook_call(c)]
    whole = [c for c in unit if covered("tests/x.py", c) and not selecting(c)]
    assert whole, f"no pytest call runs every test in tests/ (without -k, -m, --deselect, ...): {unit}"


def repository_notebooks() -> dict[str, list[str]]:
    """The course's notebooks on disk, by folder (what `make test` must run, however the Makefile lists them)."""
    return {d: sorted(p.relative_to(ROOT).as_posix() for p in (ROOT / d).glob("*.ipynb")) for d in ("lessons", "solutions", "exercises")}


def test_every_notebook_runs_under_nbval_with_its_flags(tmp_path):
    """lessons/ and solutions/ (committed with outputs) under --nbval, which compares every output;
    exercises/ (committed without outputs) under --nbval-lax: every cell must run (contract C6)."""
    _, calls = make_test(tmp_path, 0, 0)
    notebook_calls = [c for c in calls if is_notebook_call(c)]
    found = repository_notebooks()
    assert len(found["lessons"]) >= 13 and len(found["solutions"]) >= 13 and len(found["exercises"]) == len(found["solutions"]), found
    for call in notebook_calls:
        assert not selecting(call), f"a notebook stage runs only some of what it names: {selecting(call)}"
        assert "--nbval-current-env" in call, "the notebooks must run in this environment's kernel"
    missing = []
    for folder, flag in (("lessons", "--nbval"), ("solutions", "--nbval"), ("exercises", "--nbval-lax")):
        for path in found[folder]:
            runs = [c for c in notebook_calls if covered(path, c)]
            if not runs:
                missing.append(f"{path}: not run")
            for c in runs:
                flags = {a for a in c if a in ("--nbval", "--nbval-lax")}
                if flags != {flag}:
                    missing.append(f"{path}: run with {sorted(flags) or 'no nbval flag'}, not {flag}")
                if flag == "--nbval" and not ("--nbval-sanitize-with" in c and "tests/sanitize.cfg" in c):
                    missing.append(f"{path}: outputs compared without --nbval-sanitize-with tests/sanitize.cfg")
    assert not missing, f"{len(missing)} problems, e.g. " + "; ".join(missing[:6])


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


def test_the_longest_test_files_start_first(tmp_path):
    """The unit stage hands files to its workers in collection order (``--no-loadscope-reorder``),
    and tests/conftest.py collects LONGEST_FIRST first. xdist's own order (most tests first) started
    nbgrader's three long runs last, on one worker, while the other had nothing left to do."""
    from types import SimpleNamespace

    from conftest import LONGEST_FIRST, pytest_collection_modifyitems

    _, calls = make_test(tmp_path, 0, 0)
    unit = [c for c in calls if not is_notebook_call(c)]
    assert unit and all("--no-loadscope-reorder" in c for c in unit if "-n" in c), unit
    assert all((ROOT / "tests" / name).is_file() for name in LONGEST_FIRST), "LONGEST_FIRST names a file tests/ no longer has"
    items = [SimpleNamespace(path=ROOT / "tests" / name, name=str(k)) for k, name in enumerate(["test_cg.py", "test_nbgrader.py", "test_cg.py", "test_grade.py"])]
    pytest_collection_modifyitems(items)
    assert [(i.path.name, i.name) for i in items] == [("test_grade.py", "3"), ("test_nbgrader.py", "1"), ("test_cg.py", "0"), ("test_cg.py", "2")]
