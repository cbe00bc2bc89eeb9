r"""Autotested exercises: ``answer = check("03.2", answer)``.

A problem set asks the student for a function (or a value) and then calls ``check``. It tests the
answer against the reference on fresh random inputs plus fixed edge cases, shows a friendly
verdict, and returns what the rest of the notebook should use: the student's answer if it passed,
the reference otherwise, so the lesson keeps flowing. ``check`` never raises.

Each verdict is displayed once, as a bundle with two mimetypes:

* ``application/vnd.symml.check+json``: ``{"exercise": "03.2", "status": "passed" | "failed" |
  "not attempted", "message": "...", "points": 0 or 1, "max_points": 1}``, read by graders and CI;
* ``text/plain``, for people: ``✅ 03.2 passed · the cross product``; or ``❌ 03.2 failed · …``
  with the hint on a second line (``the output is off by a sign (on a random input)``); or
  ``⏳ 03.2 not attempted · …``; both followed by ``→ the cells below use the reference solution``.
  A passing or unattempted verdict never holds random numbers or timings, so nbval compares it
  strictly: a solution that stops passing fails CI.

Registering exercises (one file per lesson, nothing to edit here)
-----------------------------------------------------------------
Exercise ``NN.k`` lives in ``symml/checks/lessonNN.py``, which defines a list ``EXERCISES``. It is
imported on demand the first time an id ``NN.*`` is checked. An :class:`Exercise` has

* ``id``: ``"03.2"``;
* ``reference``: the reference function (``kind="function"``), or a function of no arguments that
  returns the reference value (``kind="value"``);
* ``cases(generator)``: the inputs, each a :class:`Case` of positional arguments. Draw the random
  ones from ``generator`` (a seeded ``torch.Generator``), add fixed edge cases, keep their number
  fixed. Arguments are data only: tensors, numbers, strings, and tuples/lists/dicts of them;
* ``compare(got, expected, case)``: ``None`` when ``got`` is right, else a short hint that says
  *what* is wrong (shape, symmetry broken, off by a sign...) without giving the answer away. Default:
  :func:`close`, which already spots wrong shapes, signs, constant factors, transposes, off-by-one;
* ``call(answer, *args)`` (optional): how an answer is applied to a case, default
  ``answer(*args)``. Use it to test more than one call per case, e.g. ``(f(x), f(x @ R.T))`` so
  ``compare`` can tell a broken symmetry from wrong values. Reference and student go through the
  same ``call``;
* ``points`` (default 1), ``kind`` (``"function"`` or ``"value"``), ``title`` (a few words).

Example, ``symml/checks/lesson03.py``::

    import torch
    from symml.checks import Case, Exercise, close

    def cross(a, b):                                # the reference: (n, 3), (n, 3) -> (n, 3)
        return torch.linalg.cross(a, b)

    def cross_cases(g):
        a, b = torch.randn(2, 5, 3, generator=g)
        yield Case(a, b)                            # fresh random
        yield Case(a, a, note="two equal vectors")  # an edge case: the answer is zero

    def cross_compare(got, expected, case):
        hint = close(got, expected)                 # None when right; else a generic hint
        if hint and "sign" in hint:
            return "the output is off by a sign: mind the order a × b"
        return hint

    EXERCISES = [Exercise("03.1", cross, cross_cases, cross_compare, title="the cross product")]

In ``solutions/03_name.ipynb`` (``python -m symml.course release`` makes the student version)::

    def cross(a, b):
        '''a × b for each row. a, b: (n, 3) -> (n, 3).'''
        ### BEGIN SOLUTION one line: torch has it       <- the text after the marker is the prompt
        return torch.linalg.cross(a, b)
        ### END SOLUTION

    # the next cell, the check cell
    cross = check("03.1", cross)
    ### BEGIN HIDDEN TESTS
    hidden_tests("03.1", [Case(torch.eye(3), torch.eye(3).roll(1, 0), note="the basis")], cross)
    ### END HIDDEN TESTS

A *value* exercise is a top-level assignment inside the solution markers (``R = torch.tensor(...)``);
the student version reads ``R = ...  # prompt``, which ``check`` reports as not attempted. Test every
reference with ``tests/test_checks.py`` (it runs each registered exercise's reference through its
own check).

For graders (issue 6), the work splits in two, and only data crosses between them:
:func:`run_answer` applies an answer to the cases where the answer lives (the student's kernel)
and returns the outcomes as data; :func:`judge` computes the references and compares, anywhere.
``grade(id, answer)`` does both in one process. ``check`` remembers each answer it was given in
``SUBMITTED`` — what ``symml grade`` asks the kernel about — and, with ``SYMML_GRADING=1`` in the
environment, shows nothing. Later cells get the same fallbacks as in the student's own run, so an
exercise built on an earlier one is graded as the student saw it.
"""

import copy
import importlib
import os
import pkgutil
import secrets
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

import torch

__all__ = ["MIMETYPE", "Case", "Exercise", "Verdict", "check", "close", "exercise", "exercises", "grade", "hidden_tests", "judge", "lessons", "run_answer"]

MIMETYPE = "application/vnd.symml.check+json"
ICONS = {"passed": "✅", "failed": "❌", "not attempted": "⏳"}
FALLBACK_NOTE = "the cells below use the reference solution"


class Case:
    """One input of an exercise: ``Case(*args, note="")``.

    ``args`` are passed to the answer; ``note`` names an edge case in hints ("a single point");
    random cases leave it empty and are called "a random input".
    """

    __slots__ = ("args", "note")

    def __init__(self, *args, note: str = ""):
        self.args, self.note = args, note

    def describe(self) -> str:
        """How hints name this case: its note, "a random input", or "" for a value's lone case."""
        return self.note or ("a random input" if self.args else "")

    def __repr__(self):
        return f"Case({', '.join(_short(a) for a in self.args)}{', note=' + repr(self.note) if self.note else ''})"


@dataclass
class Exercise:
    """The spec of one exercise; see the module docstring."""

    id: str
    reference: Callable
    cases: Callable[[torch.Generator], Iterable] | None = None
    compare: Callable[[Any, Any, Case], str | None] | None = None
    kind: str = "function"
    points: int = 1
    call: Callable | None = None
    title: str = ""

    def __post_init__(self):
        if self.kind not in ("function", "value"):
            raise ValueError(f"exercise {self.id}: kind must be 'function' or 'value', not {self.kind!r}")

    def inputs(self, seed: int) -> list[Case]:
        """The cases for ``seed``: the same seed gives the same cases."""
        if self.cases is None:
            return [Case()]
        g = torch.Generator().manual_seed(seed)
        with torch.random.fork_rng(devices=[]):  # the cases never touch the notebook's global RNG
            return [c if isinstance(c, Case) else Case(*c) for c in self.cases(g)]

    def output(self, answer, case: Case):
        """What ``answer`` gives on ``case``: its output for a function, the answer itself for a value."""
        args = copy.deepcopy(case.args)  # an answer that edits its inputs in place cannot spoil the case
        if self.kind == "value":
            return self.call(answer, *args) if self.call else answer
        return self.call(answer, *args) if self.call else answer(*args)

    def expected(self, case: Case):
        return self.output(self.solution(), case)

    def solution(self):
        """What the notebook uses when the student's answer is missing or wrong."""
        return self.reference() if self.kind == "value" else self.reference

    def judge(self, got, expected, case: Case) -> str | None:
        return (self.compare or close)(got, expected, case)


@dataclass
class Verdict:
    exercise: str
    status: str  # "passed" | "failed" | "not attempted"
    message: str
    points: int = 0
    max_points: int = 1
    title: str = ""
    uses_reference: bool = True  # check() hands back the reference when this did not pass

    def json(self) -> dict:
        return {
            "exercise": self.exercise,
            "status": self.status,
            "message": self.message,
            "points": self.points,
            "max_points": self.max_points,
        }

    def text(self) -> str:
        """The human line(s): icon, id, status, title; then the hint and what happens next."""
        head = f"{ICONS.get(self.status, '?')} {self.exercise} {self.status}{f' · {self.title}' if self.title else ''}"
        if self.status == "passed":
            return head
        lines = [head]
        if self.status == "failed":
            lines.append(f"   {self.message}")
        if self.uses_reference:
            lines.append(f"   → {FALLBACK_NOTE}")
        return "\n".join(lines)

    def bundle(self) -> dict:
        return {MIMETYPE: self.json(), "text/plain": self.text()}

    def _repr_mimebundle_(self, include=None, exclude=None):
        return self.bundle()


# ---------------------------------------------------------------- the registry


def exercise(exercise_id: str) -> Exercise:
    """The spec of ``exercise_id`` ("03.2"), importing ``symml.checks.lesson03`` on first use."""
    lesson = str(exercise_id).split(".")[0]
    if not (len(lesson) == 2 and lesson.isdigit()):
        raise KeyError(f"exercise ids look like '03.2', got {exercise_id!r}")
    try:
        found = exercises(lesson)
    except ModuleNotFoundError as e:
        raise KeyError(f"no exercises are registered for lesson {lesson} (symml/checks/lesson{lesson}.py)") from e
    if exercise_id not in found:
        raise KeyError(f"exercise {exercise_id} is not registered in symml/checks/lesson{lesson}.py")
    return found[exercise_id]


def exercises(lesson: str) -> dict[str, Exercise]:
    """All exercises of a lesson ("03"), by id, in the order they are registered."""
    module = importlib.import_module(f"{__name__}.lesson{lesson}")
    out = {}
    for ex in module.EXERCISES:
        if not ex.id.startswith(f"{lesson}.") or ex.id in out:
            raise ValueError(f"symml/checks/lesson{lesson}.py: bad or duplicate exercise id {ex.id!r}")
        out[ex.id] = ex
    return out


def lessons() -> list[str]:
    """The lessons that have exercises registered: ["00", "01", ...]."""
    names = (m.name for m in pkgutil.iter_modules(__path__))
    return sorted(n[len("lesson"):] for n in names if n.startswith("lesson") and n[len("lesson"):].isdigit())


# ---------------------------------------------------------------- running and judging


def run_answer(ex: Exercise, answer, cases: list[Case]) -> list[tuple[str, Any]]:
    """Apply ``answer`` to each case, where the answer lives; returns data only.

    Each outcome is ``("ok", output)`` (tensors detached and copied), ``("not attempted", "")`` or
    ``("error", "TypeError: message")``. The global torch RNG is left as it was, whatever the
    answer draws, so a notebook stays deterministic.
    """
    if answer is Ellipsis or answer is NotImplemented:  # `x = ...` is a value still to be written
        return [("not attempted", "")] * len(cases)
    outcomes = []
    for case in cases:
        try:
            with torch.random.fork_rng(devices=[]):
                outcomes.append(("ok", _detach(ex.output(answer, case))))
        except NotImplementedError:
            outcomes.append(("not attempted", ""))
        except (Exception, SystemExit) as e:  # the student's bug is a verdict, never a crash
            outcomes.append(("error", _describe_exception(e)))
    return outcomes


def judge(ex: Exercise, cases: list[Case], outcomes: list[tuple[str, Any]]) -> Verdict:
    """Compare outcomes (from :func:`run_answer`) with the reference: a :class:`Verdict`."""
    v = Verdict(ex.id, "passed", "all tests passed", ex.points, ex.points, ex.title)
    if ex.kind == "function" and outcomes and outcomes[0][0] == "not attempted":
        return _with(v, "not attempted", "the body still raises NotImplementedError")
    if ex.kind == "value" and outcomes and outcomes[0][0] == "not attempted":
        return _with(v, "not attempted", "the answer is still `...`")
    if len(outcomes) != len(cases):
        return _with(v, "failed", f"expected outcomes for {len(cases)} inputs, got {len(outcomes)}")
    for case, (status, got) in zip(cases, outcomes):
        where = f" (on {case.describe()})" if case.describe() else ""
        if status == "not attempted":
            return _with(v, "failed", f"your code raised NotImplementedError{where}")
        if status == "error":
            return _with(v, "failed", f"your code raised {got}{where}")
        try:
            with torch.random.fork_rng(devices=[]):
                expected = _detach(ex.expected(case))
        except Exception as e:  # a bug on our side must not look like the student's
            return _with(v, "failed", f"the check itself broke, please report it: {_describe_exception(e)}")
        try:
            hint = ex.judge(got, expected, case)
        except Exception as e:
            hint = f"the output could not be compared with the expected one ({_describe_exception(e)})"
        if hint:
            return _with(v, "failed", f"{hint}{where}")
    return v


def grade(exercise_id: str, answer, seed: int | None = None) -> Verdict:
    """Test ``answer`` and return the :class:`Verdict`, without showing it. Never raises."""
    try:
        ex = exercise(exercise_id)
    except Exception as e:
        message = e.args[0] if isinstance(e, KeyError) and e.args else _describe_exception(e)
        return Verdict(str(exercise_id), "failed", f"unknown exercise: {message}", 0, 1, uses_reference=False)
    try:
        if ex.kind == "function" and not callable(answer) and answer is not Ellipsis:
            return Verdict(ex.id, "failed", f"expected a function, got {_type_name(answer)}", 0, ex.points, ex.title)
        cases = ex.inputs(_seed() if seed is None else seed)
        return judge(ex, cases, run_answer(ex, answer, cases))
    except Exception as e:
        return Verdict(ex.id, "failed", f"the check itself broke, please report it: {_describe_exception(e)}", 0, ex.points, ex.title)


SUBMITTED: dict = {}  # exercise id -> the answer last passed to check()


def check(exercise_id: str, answer, *, seed: int | None = None):
    """Test ``answer``, show the verdict, and return what the notebook should use from here on.

    That is ``answer`` if it passed, else the reference (function or value), so write
    ``f = check("03.2", f)``. ``seed`` fixes the random inputs (default: fresh ones each call,
    or ``$SYMML_CHECK_SEED``). Never raises.
    """
    if isinstance(exercise_id, str):
        SUBMITTED[exercise_id] = answer  # what `symml grade` asks about, whatever the notebook does next
    verdict = grade(exercise_id, answer, seed)
    if os.environ.get("SYMML_GRADING") != "1":  # under the grader, verdicts are computed outside
        _show(verdict)
    if verdict.status == "passed":
        return answer
    try:
        return exercise(exercise_id).solution()
    except Exception:
        return answer


def hidden_tests(exercise_id: str, cases, answer=None) -> None:
    """Instructor-only cases, written in a solutions notebook's ``### BEGIN HIDDEN TESTS`` region.

    ``hidden_tests("03.2", [Case(x, note="a hand-made example"), ...], f)`` judges ``f`` on these
    cases like ``check`` does; it shows a verdict only if they fail (so a passing solution's output
    is unchanged) and returns nothing. ``release`` removes the region from the student version; a
    grader (issue 6) reads the cases from it. Never raises.
    """
    if os.environ.get("SYMML_GRADING") == "1" or answer is None:
        return
    try:
        ex = exercise(exercise_id)
        cases = [c if isinstance(c, Case) else Case(*c) for c in cases]
        verdict = judge(ex, cases, run_answer(ex, answer, cases))
    except Exception as e:
        verdict = Verdict(str(exercise_id), "failed", f"the hidden tests broke: {_describe_exception(e)}", 0, 1)
    if verdict.status != "passed":
        verdict.status, verdict.message = "failed", f"hidden tests: {verdict.message}"
        _show(verdict)


# ---------------------------------------------------------------- comparing outputs


def as_bool(got) -> bool | str:
    """A yes/no answer as a Python bool (a one-element boolean tensor counts too); else the hint to give."""
    if isinstance(got, torch.Tensor) and got.numel() == 1 and got.dtype == torch.bool:
        return bool(got)
    return got if isinstance(got, bool) else f"return True or False, not {type(got).__name__}"


def error_size(got, expected, *, should_vanish: str, missed: str, wrong_size: str) -> str | None:
    """Compare an equivariance *error* the student measured (a number) with the reference's.

    Right when both are ~0 (below 1e-9), or both are non-zero and agree to 1e-6 (relative). The
    three hints say what to fix when the student finds an error where there is none (``should_vanish``),
    none where there is one (``missed``), or one of the wrong size (``wrong_size``).
    """
    if isinstance(got, torch.Tensor) and got.numel() == 1:
        got = float(got)
    if not isinstance(got, (int, float)) or isinstance(got, bool):
        return f"return the error as a number, not {type(got).__name__}"
    if got != got:
        return "the error is nan"
    if expected < 1e-9:
        return None if got < 1e-9 else should_vanish
    if got < 1e-9:
        return missed
    return wrong_size if abs(got - expected) > 1e-6 * max(1.0, expected) else None


def close(got, expected, case: Case | None = None, *, rtol: float = 1e-4, atol: float = 1e-5, what: str = "the output") -> str | None:
    """``None`` if ``got`` matches ``expected`` (tensors, numbers, or tuples/lists of them), else a hint.

    Tolerance: ``|got - expected| ≤ atol + rtol · max|expected|`` entrywise. Integers and booleans
    must match exactly. The hints name what is wrong, never the expected numbers: a missing
    ``return``, the type, the shape, nan, a flipped sign, a constant factor, a transpose, off by one.
    """
    be = "are" if what.endswith("s") else "is"  # "the forces are", "the output is"
    if got is None and expected is not None:
        return f"{what} {be} None: did you forget to `return` it?"
    if isinstance(expected, (tuple, list)):
        if not isinstance(got, (tuple, list)) or len(got) != len(expected):
            return f"{what} should be a tuple of {len(expected)} items, got {_type_name(got)}"
        for i, (g, e) in enumerate(zip(got, expected)):
            hint = close(g, e, case, rtol=rtol, atol=atol, what=f"item {i} of {what}")
            if hint:
                return hint
        return None
    e, g = _as_tensor(expected), _as_tensor(got)
    if e is None:
        return None if got == expected else f"{what} {be} wrong"
    if g is None:
        return f"{what} should be a tensor or a number, not {_type_name(got)}"
    if g.is_complex() != e.is_complex():
        return f"{what} should {'' if e.is_complex() else 'not '}be complex"
    if g.shape != e.shape:
        hint = f"{what} {'have' if be == 'are' else 'has'} shape {_shape(g)} but should have shape {_shape(e)}"
        if g.numel() == e.numel():
            hint += " (the right number of entries, arranged differently)"
        return hint
    if e.dtype == torch.bool or g.dtype == torch.bool:
        return None if torch.equal(g.bool(), e.bool()) else f"{what} {be} wrong: some True/False values are flipped"
    if not (e.is_floating_point() or e.is_complex()):  # integers: exact
        if g.is_floating_point() and not torch.equal(g, g.round()):
            return f"{what} should be a whole number"
        d = (g.to(torch.float64) - e.to(torch.float64)).abs()
        if d.max() == 0:
            return None
        return f"{what} {be} off by one" if d.max() == 1 else f"{what} {be} wrong"
    wide = torch.complex128 if e.is_complex() else torch.float64
    g, e = g.detach().to(wide), e.detach().to(wide)
    if e.numel() == 0:
        return None
    if not torch.isfinite(g).all() and torch.isfinite(e).all():
        return f"{what} contain{'s' if be == 'is' else ''} nan or inf"
    scale = float(e.abs().max())
    tol = atol + rtol * scale

    def near(a):
        return float((a - e).abs().max()) <= tol

    if near(g):
        return None
    if scale > tol and near(-g):
        return f"{what} {be} off by a sign"
    if g.dim() >= 2 and g.shape[-1] == g.shape[-2] and scale > tol and near(g.transpose(-1, -2)):
        return f"{what} {be} transposed"
    ee = float((e.conj() * e).real.sum())
    if ee > 0 and scale > tol:
        r = complex((e.conj() * g).sum()) / ee
        if abs(r.imag) < 1e-9 and abs(r.real) > 1e-9 and float((g - r.real * e).abs().max()) <= tol * max(1.0, abs(r.real)):
            factor = _factor(r.real)  # named only when it is a whole number (2×, 1/3...)
            if factor:
                return f"{what} {be} off by a constant factor ({factor})"
            if e.numel() > 1:  # for a single number any wrong value is "a factor": say nothing
                return f"{what} {be} off by a constant factor"
    return f"{what} {'have' if be == 'are' else 'has'} the wrong values"


# ---------------------------------------------------------------- helpers


def _show(verdict: Verdict) -> None:
    """One display of the verdict's bundle in IPython; its text line anywhere else."""
    try:
        from IPython.core.interactiveshell import InteractiveShell
        from IPython.display import display

        if InteractiveShell.initialized():
            display(verdict.bundle(), raw=True)
            return
    except Exception:
        pass
    print(verdict.text())


def _with(v: Verdict, status: str, message: str) -> Verdict:
    v.status, v.message, v.points = status, message, v.max_points if status == "passed" else 0
    return v


def _seed() -> int:
    env = os.environ.get("SYMML_CHECK_SEED")
    return int(env) if env else secrets.randbits(62)


def _detach(x):
    """A copy of ``x`` that holds plain data: tensors detached, cloned, on the CPU."""
    if isinstance(x, torch.Tensor):
        return x.detach().cpu().clone()
    if isinstance(x, tuple):
        return tuple(_detach(v) for v in x)
    if isinstance(x, list):
        return [_detach(v) for v in x]
    if isinstance(x, dict):
        return {k: _detach(v) for k, v in x.items()}
    return x


def _as_tensor(x):
    if isinstance(x, torch.Tensor):
        return x
    if isinstance(x, (bool, int, float, complex)):
        return torch.tensor(x)
    if type(x).__module__ == "numpy":
        try:
            return torch.as_tensor(x)
        except Exception:
            return None
    if isinstance(x, (tuple, list)):
        try:
            return torch.as_tensor(x)
        except Exception:
            return None
    return None


def _factor(r: float) -> str:
    """"3× too large", "2× too small, and a flipped sign", or "" when ``r`` is no simple ratio."""
    a, sign = abs(r), (", and the sign is flipped" if r < 0 else "")
    for k in range(2, 1001):
        if abs(a - k) < 1e-3 * k:
            return f"{k}× too large{sign}"
        if abs(1 / a - k) < 1e-3 * k:
            return f"{k}× too small{sign}"
    return ""


def _shape(t: torch.Tensor) -> str:
    return "(" + ", ".join(str(n) for n in t.shape) + ("," if t.dim() == 1 else "") + ")"


def _type_name(x) -> str:
    return "None" if x is None else f"a {type(x).__name__}"


def _short(x) -> str:
    return f"tensor{_shape(x)}" if isinstance(x, torch.Tensor) else repr(x)


def _describe_exception(e: BaseException) -> str:
    msg = str(e).strip().splitlines()[0] if str(e).strip() else ""
    if len(msg) > 200:
        msg = msg[:197] + "..."
    return f"{type(e).__name__}: {msg}" if msg else type(e).__name__
