r"""Grade a class's notebooks: ``symml grade SUBMISSIONS... --out grades.csv``.

``SUBMISSIONS`` are notebooks or folders of them: a flat folder (``alice.ipynb`` …, one lesson
each, ``NN_`` in the name or the notebook's own ``check("NN.k", …)`` calls tell which), or
nbgrader's ``submitted/<student>/<assignment>/<notebook>.ipynb``. The student is the folder after
``submitted/``, else the file's path. What a grading run does, and why one student cannot change
anything but their own grade:

1. *Read.* The grader reads each submission as JSON; it never runs a student's code itself.
2. *Run.* A fresh kernel per submission, in a bubblewrap sandbox (``symml.course.sandbox``: no
   network, its own PID namespace, a read-only system, an empty in-memory home and ``/tmp``,
   limits on memory, processes, file size and open files), runs the code cells one by one with
   a per-cell and a per-notebook timeout. Errors do not stop it; printed output is counted and
   dropped. Inside, ``check()`` shows nothing but records each answer it is given.
3. *Ask.* For every exercise the lesson declares (``symml/checks/lessonNN.py``: never read from the
   notebook), the grader picks the inputs (random ones from ``--seed``, then each hidden case),
   sends them to the kernel as data, and a probe applies the student's answer to them under the
   forbidden-call tripwire, with a private copy of ``symml.checks`` loaded from the read-only
   package (patching ``symml.checks`` in the kernel does not reach it). The outputs come back as
   data (``torch.load(weights_only=True)``, which cannot run code).
4. *Judge.* The grader compares them with the reference in its own process, writes the
   gradebook row (CSV and JSON, after every submission: an interrupted run resumes) and the
   student's report, and kills the sandbox: nothing the notebook started survives.

An exercise earns its points in equal shares: one for the visible cases, one per hidden case.
Predictions (value exercises) are formative: graded and reported like the others, worth 0 points
unless ``--graded-predictions 04,07.2`` (problem sets or exercises, or ``all``) names them (see
:func:`weigh`); ``--self`` counts them all. A notebook from the first half of a two-phase release
(``metadata.symml.phase == "predictions"``) is graded on its predictions only.
The class's gradebook comes with ``<out>-class.html``, the class report (``symml.course.classreport``),
and ``<out>.log``, one line per notebook this run graded (a resumed run adds none for the others).
"""

import argparse
import base64
import csv
import io
import json
import os
import re
import secrets
import sys
import threading
import time
from concurrent.futures import ThreadPoolExecutor, as_completed
from pathlib import Path

CHECK_CALL = re.compile(r"""check\(\s*["'](\d\d)\.\d+["']""")
OUTCOMES = "application/vnd.symml.outcomes+base64"
MAX_OUTPUT_CHARS = 100_000  # per submission: what a notebook prints beyond this is noted
MAX_ANSWER_BYTES = 50_000_000  # the serialized outputs of one test
FIELDS = ["student", "lesson", "points", "max_points", "reason", "sandbox", "submission"]

# The code that prepares a kernel for the probes, run before the student's first cell (and again
# after a restart). It loads a private copy of symml.checks, the lesson's declarations with their
# forbidden calls and references, forbidden.py (which takes the genuine sys.setprofile) and hints,
# with sys.modules emptied of them for the time of the import and restored after, so nothing the
# notebook later does to `symml.checks` reaches these copies; it takes the display function,
# torch.save and base64 now, and notes what the reply's path depends on (the shell's display
# publisher, the kernel's session and socket, torch's serialization) to see at probe time whether
# the notebook replaced any of it. All this lives in the kernel's process, so a student who goes
# looking (gc, sys.modules) can still reach it: a replaced reply path is reported, not prevented.
PREPARE = r"""
def __symml_prepare(private, lesson):
    import base64, importlib, io, pickle, sys, types
    import torch
    importlib.import_module("symml.course.kernel").import_e3nn()  # before the lesson's checks import it
    import IPython.core.display_functions, IPython.display
    from IPython.core.interactiveshell import InteractiveShell
    ours = lambda: [k for k in sys.modules if k == "symml.checks" or k.startswith("symml.checks.")]
    theirs = {k: sys.modules.pop(k) for k in ours()}
    try:
        checks = importlib.import_module("symml.checks")
        declared = importlib.import_module("symml.checks.lesson" + lesson).EXERCISES
        Tripwire = sys.modules["symml.checks.forbidden"].Tripwire
    finally:
        for k in ours():
            del sys.modules[k]
        sys.modules.update(theirs)
    shell = InteractiveShell.instance()
    publish, save, load, encode, decode = IPython.display.publish_display_data, torch.save, torch.load, base64.b64encode, base64.b64decode
    BytesIO, Tensor = io.BytesIO, torch.Tensor

    def reply_path():
        pub = shell.display_pub
        session, socket = getattr(pub, "session", None), getattr(pub, "pub_socket", None)
        thread = getattr(socket, "io_thread", None)
        found = {"IPython.display.publish_display_data": IPython.display.publish_display_data,
                 "IPython.core.display_functions.publish_display_data": IPython.core.display_functions.publish_display_data,
                 "the shell's display publisher": pub, "the kernel's session": session, "the iopub socket": socket,
                 "torch.save": torch.save, "torch.serialization.save": torch.serialization.save, "pickle.Pickler": pickle.Pickler,
                 "base64.b64encode": base64.b64encode}  # (a replaced setprofile is the tripwire's: it names it in the hint)
        for what, obj in [("the display publisher", pub), ("the session", session), ("the iopub socket", socket), ("the iopub thread", thread),
                          ("the iopub thread's socket", getattr(thread, "socket", None))]:
            for method in ("publish", "send", "serialize", "pack", "sign", "send_multipart", "schedule"):
                if obj is not None and hasattr(obj, method):
                    bound = getattr(obj, method)  # a function, or a method bound to obj: its function is what counts
                    found[f"{what}'s {method}"] = bound.__func__ if isinstance(bound, types.MethodType) and bound.__self__ is obj else bound
        return found

    before = reply_path()

    def plain(x):
        # exact built-in types only: a subclass could run the student's code when it is saved or judged
        if x is None or type(x) in (bool, int, float, complex, str):
            return x
        if isinstance(x, Tensor):
            x = x.detach().cpu().clone()
            return x if type(x) is Tensor else "a tensor subclass, " + type(x).__name__
        for base, zero in ((int, 0), (float, 0.0), (complex, 0j)):
            if isinstance(x, base):
                return base.__add__(x, zero)  # the exact value, without calling the subclass
        if isinstance(x, str):
            return "".join([x])
        if isinstance(x, (tuple, list)):
            return (tuple if isinstance(x, tuple) else list)(plain(v) for v in x)
        if isinstance(x, dict):
            return {plain(str(k)): plain(v) for k, v in x.items()}
        if type(x).__module__ == "numpy":
            return torch.as_tensor(x).clone()
        return plain(str(x))  # an object the grader cannot take as data: keep what it says

    def probe(name, exercise_id, tests, nonce, mimetype):
        ex = next(e for e in declared if e.id == exercise_id)
        trusted = [e.reference for e in declared if e.id != exercise_id and e.kind == "function"]
        submitted = getattr(sys.modules.get("symml.checks"), "SUBMITTED", {})
        answer = submitted[exercise_id] if exercise_id in submitted else shell.user_ns.get(name)
        results = []
        for cases in tests:
            args = load(BytesIO(decode(cases)), weights_only=True)
            if answer is None:
                outcomes = [("error", "NameError: `" + name + "` is not defined")] * len(args)
            else:
                outcomes = checks.run_answer(ex, answer, [checks.Case(*a) for a in args], trusted=trusted)
            wire = Tripwire(ex.forbidden_calls(), trusted)  # turning outputs into data may run the student's code too
            with wire:
                try:
                    outcomes = [(str(s), plain(v)) for s, v in outcomes]
                except Exception as e:
                    outcomes = [("error", "the output could not be sent back (" + type(e).__name__ + ")")] * len(outcomes)
            results.append([("forbidden", wire.hit)] * len(outcomes) if wire.hit else outcomes)
        now = reply_path()
        replaced = sorted(k for k in before if now.get(k) is not before[k])  # identity only: an __eq__ is the notebook's
        buffer = BytesIO()
        save({"nonce": nonce, "results": results, "replaced": replaced}, buffer)
        publish({mimetype: encode(buffer.getvalue()).decode()})

    sys.modules[private] = types.SimpleNamespace(probe=probe)

__symml_prepare(%r, %r)
del __symml_prepare
"""
PROBE = "__import__('sys').modules[%r].probe(*%r)\n"  # the private module's probe, with (name, id, tests, nonce, mimetype)


# ---------------------------------------------------------------- which lesson, which student


def lesson_of(path: Path, code=()) -> str | None:
    """The lesson a submission is for: ``NN_`` in its name or its folder's, else its own check calls."""
    for part in (path.name, path.parent.name):
        if m := re.match(r"(\d\d)_", part):
            return m.group(1)
    found = {i for source in code for i in CHECK_CALL.findall(source)}
    return found.pop() if len(found) == 1 else None


def code_cells(path: Path) -> list[str]:
    """The sources of a notebook's code cells, read as plain JSON (nbformat's validation costs seconds)."""
    nb = json.loads(path.read_text(encoding="utf-8"))
    if not isinstance(nb, dict) or nb.get("nbformat") != 4 or not isinstance(nb.get("cells"), list):
        raise ValueError("not a version 4 notebook")
    code = []
    for cell in nb["cells"]:
        if isinstance(cell, dict) and cell.get("cell_type") == "code":
            source = cell.get("source", "")
            code.append("".join(source) if isinstance(source, list) else str(source))
    return code


def student_of(path: Path, root: Path) -> str:
    """The student: the folder after ``submitted/`` (nbgrader), else the path under ``root`` without ``.ipynb``.

    Read from the path as given (its folders resolved, never a link's target): a link cannot name
    its maker after someone else, nor move the root.
    """
    parts = _as_given(path).parts
    if "submitted" in parts[:-1] and parts.index("submitted") + 1 < len(parts) - 1:
        return parts[parts.index("submitted") + 1]
    return _as_given(path).relative_to(root).with_suffix("").as_posix()


def _as_given(path: Path) -> Path:
    """``path`` with its folders resolved but not the file itself (a link stays the link)."""
    if isinstance(path, Refused):
        return path.where
    return Path(os.path.realpath(path.parent)) / path.name


class Refused(type(Path())):
    """A submission the grader will not read, with the ``reason`` (a link, or a file in a linked folder).

    ``where``: its path as given, under the given folder resolved (a linked folder is not followed);
    its ``resolve()`` is that, so the reports and the common root stay where the link is.
    """

    reason, where = "", None

    def resolve(self, strict=False):
        return self.where


def _refuse(path: Path, reason: str, where: Path) -> Refused:
    r = Refused(path)
    r.reason, r.where = reason, where
    return r


def submissions(paths: list[Path]) -> list[Path]:
    """The notebooks given, folders searched recursively (checkpoints skipped), in a stable order.

    A notebook that is a symbolic link, or lies in a linked folder (outside the folder given),
    comes back as :class:`Refused`: graded as a row with the reason, never read.
    """
    found = []
    for p in paths:
        if p.is_dir() and not p.is_symlink():
            real = p.resolve()
            for q in sorted(q for q in p.rglob("*") if ".ipynb_checkpoints" not in q.parts):
                inside = real / q.relative_to(p)
                if q.suffix == ".ipynb" and q.is_symlink():
                    found.append(_refuse(q, f"refused: a symbolic link (to {os.readlink(q)}), not a notebook handed in", inside))
                elif q.is_symlink() and q.is_dir():  # rglob does not go in; say what is there
                    for r in sorted(q.rglob("*.ipynb")):
                        found.append(_refuse(r, f"refused: it lies in a linked folder ({q} links to {os.readlink(q)})", real / r.relative_to(p)))
                elif q.suffix == ".ipynb" and q.is_file():
                    found.append(q)
        elif p.is_symlink():
            found.append(_refuse(p, f"refused: a symbolic link (to {os.readlink(p)}), not a notebook handed in", Path(os.path.realpath(p.parent)) / p.name))
        else:
            found.append(p)
    return list({str(q): q for q in found}.values())


def common_root(paths: list[Path]) -> Path:
    """The deepest folder that holds every submission, from the paths as given (links not followed)."""
    folders = [_as_given(p).parent for p in paths]
    return Path(os.path.commonpath(folders)) if folders else Path.cwd()


# ---------------------------------------------------------------- one submission


class Options:
    """What a grading run is told: timeouts, limits, seed, sandbox, and how large a reply may be."""

    def __init__(self, cell_timeout=60.0, timeout=600.0, memory=2 * 2**30, processes=256, seed=0, sandbox=True, max_answer_bytes=None):
        self.cell_timeout, self.timeout, self.memory, self.processes, self.seed, self.sandbox = cell_timeout, timeout, memory, processes, seed, sandbox
        self.max_answer_bytes = MAX_ANSWER_BYTES if max_answer_bytes is None else max_answer_bytes


def new_row(path: Path, student: str, lesson: str | None, sandbox: bool) -> dict:
    from symml.checks import exercises

    row = {"submission": str(path), "student": student, "lesson": lesson or "", "points": 0.0, "max_points": 0.0, "reason": "", "sandbox": sandbox, "exercises": {}}
    try:
        declared = exercises(lesson) if lesson else {}
    except ModuleNotFoundError:
        declared = {}
    for exercise_id, ex in declared.items():
        row["exercises"][exercise_id] = {"title": ex.title, "points": 0.0, "max_points": float(ex.points), "status": "not graded", "message": "", "tests": ""}
        row["max_points"] += float(ex.points)
    return row


def grade_submission(path: Path, student: str, options: Options) -> dict:
    """Grade one notebook; always returns a row, with a reason when something could not be graded."""
    from symml.checks import exercise, exercises

    if isinstance(path, Refused) or path.is_symlink():
        row = new_row(path, student, lesson_of(path), options.sandbox)
        row["reason"] = getattr(path, "reason", "") or f"refused: a symbolic link (to {os.readlink(path)}), not a notebook handed in"
        return row
    try:
        code = code_cells(path)
    except Exception as e:
        row = new_row(path, student, lesson_of(path), options.sandbox)
        row["reason"] = f"not a readable notebook ({type(e).__name__}: {str(e)[:120]})"
        return row
    lesson = lesson_of(path, code)
    row = new_row(path, student, lesson, options.sandbox)
    if not row["exercises"]:
        row["reason"] = f"no problem set {lesson} exists" if lesson else "cannot tell which lesson this is for: keep the NN_ of the exercise notebook's name"
        return row
    mentioned = {i for source in code for i in CHECK_CALL.findall(source)}
    if mentioned and lesson not in mentioned:
        row["reason"] = f"wrong lesson: this notebook has the exercises of lesson {', '.join(sorted(mentioned))}, not {lesson}"
        return row

    from symml.course.kernel import Kernel

    notes, start = [], time.monotonic()
    private = f"_symml_grader_{secrets.token_hex(8)}"  # where the probes keep their own copy of symml.checks
    try:  # the probes' private load is made before the student's first cell, and again after each restart
        kernel = Kernel(options.memory, options.processes, sandboxed=options.sandbox, startup=PREPARE % (private, lesson))
    except Exception as e:
        row["reason"] = f"the kernel could not start ({type(e).__name__}: {str(e)[:200]})"
        return row
    try:
        printed, ran, skipped = 0, [], set()
        for i, source in enumerate(code):
            left = options.timeout - (time.monotonic() - start)
            if left <= 0:
                notes.append(f"the notebook did not finish within {options.timeout:g} s (cells {i + 1}–{len(code)} not run)")
                break
            restarts = kernel.restarts
            status, detail, n = kernel.run(source, min(options.cell_timeout, left))
            printed += n
            if status != "ok":
                notes.append(f"cell {i + 1}: {status} {detail}".strip())
            if kernel.restarts > restarts:  # a hang or a crash: the new kernel gets the earlier cells again, without this one
                skipped.add(i)
                again = [k for k in ran if k not in skipped]
                for k in again:
                    left = options.timeout - (time.monotonic() - start)
                    if left <= 0 or kernel.restarts > restarts + 1:
                        break
                    restarts_before = kernel.restarts
                    printed += kernel.run(code[k], min(options.cell_timeout, left))[2]
                    if kernel.restarts > restarts_before:
                        skipped.add(k)
                notes.append(f"the kernel was restarted after cell {i + 1}; cells {_ranges(again)} were run again" if again else f"the kernel was restarted after cell {i + 1}")
            else:
                ran.append(i)
        if printed > MAX_OUTPUT_CHARS:
            notes.append(f"printed {printed:,} characters (only results were graded)")
        if kernel.startup_status and kernel.startup_status[0] != "ok":
            notes.append(f"the grader's probe could not be prepared ({kernel.startup_status[1]})")
        dtype = _default_dtype(kernel, options)
        replaced = set()
        for exercise_id in exercises(lesson):
            result = _grade_exercise(kernel, exercise(exercise_id), options, private, dtype)
            replaced.update(result.pop("replaced", ()))
            row["exercises"][exercise_id].update(result)
        if replaced:
            notes.insert(0, f"the notebook replaced what the grader's reply goes through ({', '.join(sorted(replaced))}): those answers were not accepted")
    finally:
        kernel.close()
    row["points"] = round(sum(r["points"] for r in row["exercises"].values()), 3)
    row["reason"] = "; ".join(notes[:5]) + (f"; and {len(notes) - 5} more" if len(notes) > 5 else "")
    return row


def _ranges(cells: list[int]) -> str:
    """``[0, 1, 2, 4]`` -> ``"1–3, 5"`` (cell numbers from 1)."""
    out, k = [], 0
    while k < len(cells):
        j = k
        while j + 1 < len(cells) and cells[j + 1] == cells[j] + 1:
            j += 1
        out.append(f"{cells[k] + 1}" if j == k else f"{cells[k] + 1}–{cells[j] + 1}")
        k = j + 1
    return ", ".join(out)


DTYPE = "application/vnd.symml.dtype"
DTYPE_LOCK = threading.Lock()  # torch's default dtype is one per process; the jobs take turns with it


def _default_dtype(kernel, options: Options) -> str:
    """The kernel's default dtype at the end of the notebook ("float64" when a notebook set it): the
    cases are drawn and the references run with it, exactly as ``check`` did in the student's run."""
    seen = []
    code = "from IPython.display import publish_display_data as __p\nimport torch as __t\n__p({%r: str(__t.get_default_dtype())})\ndel __p, __t" % DTYPE
    kernel.run(code, options.cell_timeout, on_display=lambda data: seen.append(data.get(DTYPE)))
    return seen[0] if seen and seen[0] in ("torch.float32", "torch.float64", "torch.float16", "torch.bfloat16") else "torch.float32"


class _DefaultDtype:
    """``with _DefaultDtype("torch.float64"):`` torch's default dtype, for this job only (under the lock)."""

    def __init__(self, name: str):
        import torch

        self.dtype = getattr(torch, name.removeprefix("torch."))

    def __enter__(self):
        import torch

        DTYPE_LOCK.acquire()
        self.previous = torch.get_default_dtype()
        torch.set_default_dtype(self.dtype)

    def __exit__(self, *exc):
        import torch

        torch.set_default_dtype(self.previous)
        DTYPE_LOCK.release()


def _grade_exercise(kernel, ex, options: Options, private: str, dtype: str = "torch.float32") -> dict:
    """Ask the kernel for the answer on every test (the visible cases, then each hidden case) and judge each."""
    import torch

    from symml.checks import judge

    with _DefaultDtype(dtype):
        tests = ex.tests(options.seed)
    encoded = []
    for cases in tests:
        buffer = io.BytesIO()
        torch.save([c.args for c in cases], buffer)
        encoded.append(base64.b64encode(buffer.getvalue()).decode())
    received, nonce = [], secrets.token_hex(16)  # a reply made before this probe ran cannot carry it
    call = (ex.name, ex.id, encoded, nonce, OUTCOMES)
    status, detail, _ = kernel.run(PROBE % (private, call), options.cell_timeout * len(tests),
                                   on_display=lambda data: received.append(data[OUTCOMES]) if OUTCOMES in data else None)
    verdicts, replaced = [], []
    if status != "ok" or len(received) != 1:
        why = f"{len(received)} replies to one question" if status == "ok" and received else f"{status}: {detail or 'no result'}"
        verdicts = [("failed", f"the answer could not be computed ({why})")] * len(tests)
    elif not isinstance(received[0], str) or len(received[0]) > options.max_answer_bytes * 4 // 3 + 4:
        verdicts = [("failed", "the answer is far too large")] * len(tests)
    else:
        try:
            reply = load_reply(base64.b64decode(received[0]), options.max_answer_bytes)
            if not isinstance(reply, dict) or reply.get("nonce") != nonce:
                raise ValueError("not the reply of this probe")
            results, replaced = reply["results"], [str(r) for r in reply.get("replaced", [])]
            if len(results) != len(tests):
                raise ValueError("one result per test")
            if replaced:
                verdicts = [("failed", f"not accepted: the notebook replaced {', '.join(replaced)}, which the grader's reply goes through")] * len(tests)
            else:
                with _DefaultDtype(dtype):  # the references run as they did in the student's own check
                    for cases, outcomes in zip(tests, results):
                        v = judge(ex, cases, [tuple(o) for o in outcomes])
                        verdicts.append((v.status, v.message))
        except Exception as e:
            verdicts = [("failed", f"the answer could not be read as data ({type(e).__name__}: {str(e)[:100]})")] * len(tests)
    passed = sum(status == "passed" for status, _ in verdicts)
    first = next((k for k, v in enumerate(verdicts) if v[0] != "passed"), None)
    status, message = verdicts[first] if first is not None else ("passed", "all tests passed")
    if status == "not attempted" and passed:
        status = "failed"  # some tests pass: it was attempted
    if first is not None and first > 0:
        message = f"a hidden test: {message}"
    return {"points": round(float(ex.points) * passed / len(tests), 3), "status": status, "message": message, "tests": f"{passed}/{len(tests)}",
            "replaced": replaced}


def load_reply(raw: bytes, limit: int = MAX_ANSWER_BYTES):
    """Read a probe's reply (``torch.save``'s zip) as data, refusing what would grow past ``limit`` bytes.

    Checked before ``torch.load`` inflates anything: a zip whose entries are compressed, or whose
    declared sizes add up to more than ``limit``; and after: tensors whose elements (a view can
    claim many over a small storage) add up to more than ``limit`` bytes.
    """
    import zipfile

    import torch

    with zipfile.ZipFile(io.BytesIO(raw)) as archive:  # not a zip: refused (the old pickle format is not read)
        total = 0
        for entry in archive.infolist():
            if entry.compress_type != zipfile.ZIP_STORED or entry.compress_size != entry.file_size:
                raise ValueError(f"a compressed entry ({entry.filename[-40:]})")
            total += entry.file_size
            if total > limit:
                raise ValueError(f"entries of more than {limit:,} bytes")
    reply = torch.load(io.BytesIO(raw), weights_only=True, mmap=False)
    size, stack, seen = 0, [reply], 0
    while stack:
        x = stack.pop()
        seen += 1
        if seen > 10**6:
            raise ValueError("more than a million values")
        if isinstance(x, torch.Tensor):
            size += x.numel() * x.element_size()
            if size > limit:
                raise ValueError(f"tensors of more than {limit:,} bytes")
        elif isinstance(x, (list, tuple)):
            stack.extend(x)
        elif isinstance(x, dict):
            stack.extend(x.values())
    return reply


# ---------------------------------------------------------------- what counts


NOT_IN_THIS_HALF = "not in this half"  # a function exercise, absent from a two-phase release's first notebook


def phase_of(path: Path) -> str:
    """``"predictions"`` for the first half of a two-phase release (``symml release --phase predictions``), else ``"all"``."""
    try:
        meta = json.loads(Path(path).read_text(encoding="utf-8")).get("metadata", {})
        return "predictions" if meta.get("symml", {}).get("phase") == "predictions" else "all"
    except Exception:
        return "all"


def weigh(row: dict, graded: frozenset = frozenset(), phase: str = "all") -> dict:
    """Give each exercise of ``row`` the points it is worth in this class, in place; returns ``row``.

    The grader scores every exercise out of its declared points (kept as ``earned`` / ``worth``);
    here a prediction not named in ``graded`` becomes formative (``graded: False``, 0 of 0 points,
    its verdict and hint kept), and in the first half of a two-phase release every function
    exercise is out of the notebook (0 of 0, status "not in this half"). Applying it again with the
    same switches changes nothing, so a resumed run can re-weigh the rows it kept.
    """
    from symml.checks import counts, exercise

    for exercise_id, r in row["exercises"].items():
        r.setdefault("earned", r["points"])
        r.setdefault("worth", r["max_points"])
        try:
            ex = exercise(exercise_id)
        except KeyError:
            continue
        r["kind"] = "prediction" if ex.prediction else "function"
        r["graded"] = counts(ex, graded) and not (phase == "predictions" and not ex.prediction)
        if phase == "predictions" and not ex.prediction:
            r["status"], r["message"] = NOT_IN_THIS_HALF, "this notebook holds the predictions only"
        r["points"], r["max_points"] = (r["earned"], r["worth"]) if r["graded"] else (0.0, 0.0)
    row["points"] = round(sum(r["points"] for r in row["exercises"].values()), 3)
    row["max_points"] = round(sum(r["max_points"] for r in row["exercises"].values()), 3)
    row["phase"] = phase
    return row


# ---------------------------------------------------------------- a class


def _verdict(r: dict) -> str:
    return r["status"] + (f": {r['message']}" if r["status"] == "failed" else "")


def report(row: dict) -> str:
    """A short Markdown report for one student: every exercise, formative ones marked as such."""
    lines = [f"# {row['student']} · problem set {row['lesson'] or '?'}: {row['points']:g} / {row['max_points']:g} points", ""]
    if not row.get("sandbox", True):
        lines += ["Graded without a sandbox (`--no-sandbox`).", ""]
    if row["reason"]:
        lines += [f"Note: {row['reason']}", ""]
    lines += ["| exercise | points | tests passed | verdict |", "|---|---|---|---|"]
    for exercise_id, r in row["exercises"].items():
        points = f"{r['points']:g} / {r['max_points']:g}" if r.get("graded", True) else "formative (0 points)"
        lines.append(f"| {exercise_id} {r.get('title', '')} | {points} | {r.get('tests', '')} | {_verdict(r).replace('|', '/')} |")
    if any(not r.get("graded", True) and r["status"] != NOT_IN_THIS_HALF for r in row["exercises"].values()):
        lines += ["", "Formative exercises (predictions) carry no points in this class; their verdicts and hints are for you."]
    return "\n".join(lines) + "\n"


def gradescope(row: dict) -> dict:
    """The row in Gradescope's autograder format (https://gradescope-autograders.readthedocs.io/en/latest/specs/):
    ``score``, ``tests`` with ``name``, ``score``, ``max_score``, ``output``, ``visibility``. A formative
    prediction is a test worth 0 of 0 whose output is its verdict and hint; an exercise out of this
    half of a two-phase release is left out."""
    tests = []
    for exercise_id, r in row["exercises"].items():
        if r["status"] == NOT_IN_THIS_HALF:
            continue
        name = f"{exercise_id} {r.get('title', '')}".strip() + ("" if r.get("graded", True) else " (formative, no points)")
        tests.append({"name": name, "score": float(r["points"]), "max_score": float(r["max_points"]), "output": _verdict(r), "visibility": "visible"})
    out = {"score": float(row["points"]), "tests": tests, "visibility": "visible"}
    if row["reason"]:
        out["output"] = row["reason"]
    return out


def _write(path: Path, text: str):
    """Write a file whole or not at all (an interrupted run never leaves half a gradebook)."""
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    tmp.write_text(text)
    os.replace(tmp, path)


def grade_class(paths: list[Path], out: Path, feedback: Path | None, options: Options, jobs: int = 1, quiet: bool = False,
                graded: frozenset = frozenset()) -> list[dict]:
    """Grade every submission, writing the gradebook after each one so an interrupted run resumes.

    ``graded``: the predictions that earn points (:func:`weigh`). Besides the gradebook (``out``
    and its JSON twin) and the reports, writes the class report ``<out>-class.html`` and appends one
    line per notebook graded in this run to ``<out>.log``.
    """
    from tqdm import tqdm

    from symml.course import classreport

    book_file = out.with_suffix(".json")
    book = json.loads(book_file.read_text()) if book_file.exists() else {}
    for key, kept in book.items():  # kept rows count as this run's switches say
        weigh(kept, graded, kept.get("phase", "all"))
    root = common_root(paths)
    students = {str(p): student_of(p, root) for p in paths}
    todo = [p for p in paths if str(p) not in book]
    feedback = feedback or out.parent / (out.stem + "-feedback")
    log = out.with_suffix(".log")

    def report_path(p: Path) -> Path:
        return feedback / _as_given(p).relative_to(root).with_suffix(".md")  # mirrors the submissions (a link stays a link): no two collide

    def save():
        ids = sorted({e for row in book.values() for e in row["exercises"]})
        buffer = io.StringIO()
        writer = csv.writer(buffer)
        writer.writerow(FIELDS + ids)
        for key in sorted(book, key=lambda k: (book[k]["student"], book[k]["lesson"], k)):
            row = book[key]
            writer.writerow([row.get(k, "") for k in FIELDS] + [row["exercises"].get(e, {}).get("points", "") for e in ids])
        _write(out, buffer.getvalue())
        _write(book_file, json.dumps(book, indent=1, sort_keys=True))

    def safe(p: Path) -> dict:
        try:
            row = grade_submission(p, students[str(p)], options)
        except Exception as e:  # never lose a submission: a row with the reason
            row = new_row(p, students[str(p)], lesson_of(p), options.sandbox)
            row["reason"] = f"the grader could not grade it ({type(e).__name__}: {str(e)[:200]})"
        return weigh(row, graded, phase_of(p))

    with ThreadPoolExecutor(max_workers=max(1, jobs)) as pool:
        futures = {pool.submit(safe, p): p for p in todo}
        for future in tqdm(as_completed(futures), total=len(futures), desc="grading", unit="notebook", disable=quiet):
            p = futures[future]
            row = future.result()
            book[str(p)] = row
            target = report_path(p)
            target.parent.mkdir(parents=True, exist_ok=True)
            _write(target, report(row))
            with log.open("a") as f:  # the evidence of what this run graded (a resumed notebook adds no line)
                f.write(json.dumps({"graded": str(p), "student": row["student"], "points": row["points"]}) + "\n")
            save()
    save()
    rows = [book[str(p)] for p in paths]
    for p in paths:  # every report, kept rows' too, says what this run's switches make of them
        report_path(p).parent.mkdir(parents=True, exist_ok=True)
        _write(report_path(p), report(book[str(p)]))
    _write(out.with_name(out.stem + "-class.html"), classreport.html_report(rows, [report_path(p) for p in paths], out.parent))
    return rows


def summary(rows: list) -> str:
    """Per-exercise pass rates of a class, formative ones marked."""
    ids = sorted({e for row in rows for e in row["exercises"]})
    lines = [f"{len(rows)} submissions, mean {sum(r['points'] for r in rows) / max(1, len(rows)):.2f} points"]
    for e in ids:
        results = [r["exercises"][e] for r in rows if e in r["exercises"] and r["exercises"][e]["status"] != NOT_IN_THIS_HALF]
        if not results:
            continue
        passed = sum(x["status"] == "passed" for x in results)
        formative = "" if all(x.get("graded", True) for x in results) else " (formative)"
        lines.append(f"  {e}{formative}: {passed}/{len(results)} passed ({100 * passed / max(1, len(results)):.0f}%)")
    noted = [r for r in rows if r["reason"]]
    if noted:
        lines.append(f"{len(noted)} submissions with notes (see the gradebook's 'reason' column)")
    return "\n".join(lines)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog="symml grade", description="Grade students' notebooks into a gradebook (CSV and JSON) with a report per student.")
    parser.add_argument("submissions", nargs="*", type=Path, help="notebooks, or folders of them (flat, or nbgrader's submitted/<student>/<assignment>/)")
    parser.add_argument("--out", type=Path, default=Path("grades.csv"), help="gradebook CSV; a JSON twin is written beside it (default: grades.csv)")
    parser.add_argument("--feedback", type=Path, help="folder for the reports, mirroring the submissions' layout (default: next to --out)")
    parser.add_argument("--self", dest="self_nb", type=Path, help="grade one notebook of your own and print the report")
    parser.add_argument("--gradescope", type=Path, help="grade one submission and write Gradescope's results.json here")
    parser.add_argument("--jobs", type=int, default=1, help="submissions graded in parallel")
    parser.add_argument("--cell-timeout", type=float, default=60, help="seconds per cell")
    parser.add_argument("--timeout", type=float, default=600, help="seconds per notebook")
    parser.add_argument("--memory", type=int, default=2 * 2**30, help="memory cap per kernel, in bytes")
    parser.add_argument("--processes", type=int, default=256, help="processes and threads a kernel may add")
    parser.add_argument("--seed", type=int, default=0, help="seed of the grader's random inputs")
    parser.add_argument("--no-sandbox", action="store_true", help="run kernels without bubblewrap (only for notebooks you trust)")
    parser.add_argument("--graded-predictions", default="", metavar="SETS_OR_IDS",
                        help="predictions that earn points, e.g. 04,07.2 or all (default: none; predictions are formative)")
    parser.add_argument("--quiet", action="store_true")
    args = parser.parse_args(argv)
    from symml.checks import graded_predictions

    try:
        graded = graded_predictions(args.graded_predictions)
    except ValueError as e:
        parser.error(str(e))

    options = Options(args.cell_timeout, args.timeout, args.memory, args.processes, args.seed, sandbox=not args.no_sandbox)
    if options.sandbox:
        from symml.course.sandbox import SandboxUnavailable, check, mode

        try:
            check()
        except SandboxUnavailable as e:
            print(e, file=sys.stderr)
            return 2
        print(f"sandbox: bubblewrap, {mode()}", file=sys.stderr)  # what caps a student's memory here
    if args.self_nb or args.gradescope:
        one = args.self_nb or (args.submissions[0] if len(args.submissions) == 1 else None)
        if one is None:
            parser.error("--gradescope grades one submission: give exactly one notebook")
        graded_here = graded_predictions("all") if args.self_nb else graded  # a self-learner's predictions count for them
        row = weigh(grade_submission(one, one.stem, options), graded_here, phase_of(one))
        if args.gradescope:
            args.gradescope.parent.mkdir(parents=True, exist_ok=True)
            _write(args.gradescope, json.dumps(gradescope(row), indent=1))
        print(report(row))
        return 0
    paths = submissions(args.submissions)
    if not paths:
        parser.error("give the submitted notebooks (or folders of them), or --self NOTEBOOK")
    missing = [p for p in paths if not p.exists()]
    if missing:
        parser.error(f"no such file: {missing[0]}")
    rows = grade_class(paths, args.out, args.feedback, options, args.jobs, args.quiet, graded)
    print(summary(rows))
    print(f"gradebook: {args.out} and {args.out.with_suffix('.json')}; class report: {args.out.with_name(args.out.stem + '-class.html')}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
