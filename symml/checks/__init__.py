r"""Autotested exercises: ``answer = check("03.2", answer)``.

A problem set asks the student for a function (or a value) and then calls ``check``. It tests the
answer against the reference on fresh random inputs plus fixed edge cases, shows a friendly
verdict, and returns what the rest of the notebook should use. For a function: the student's
answer if it passed, the reference otherwise, so the lesson keeps flowing (a student still has to
write the function to see it; its source is not shown). For a value (a prediction, a number, an
irreps string, a choice): always the student's own answer, never the key, and a wrong one's verdict
is the declared hint (the idea behind the right answer), never the value. A cell that verifies a
prediction computes the truth itself. ``check`` never raises.

Predictions are *formative*: ``symml grade``, the nbgrader export and Gradescope give them 0 points
unless the instructor switches them on (``--graded-predictions 04,07.2``; see :func:`counts`), and
``check(id, answer, feedback=False)`` records an answer without saying whether it is right (the
first half of a two-phase release, ``docs/instructors.md``).

Each verdict is displayed once, as a bundle with two mimetypes:

* ``application/vnd.symml.check+json``: ``{"exercise": "03.2", "status": "passed" | "failed" |
  "not attempted", "message": "...", "points": 0 or 1, "max_points": 1}``, read by graders and CI;
* ``text/plain``, for people: ``✅ 03.2 passed · the cross product``; or ``❌ 03.2 failed · …``
  with the hint on a second line (``the output is off by a sign (on a random input)``); or
  ``⏳ 03.2 not attempted · …``; for a function both followed by ``→ the cells below use the
  reference solution``; or ``📝 04.2 recorded · …`` when feedback is off.
  A passing or unattempted verdict never holds random numbers or timings, so nbval compares it
  strictly: a solution that stops passing fails CI.

Declaring exercises (one file per lesson, nothing to edit here)
---------------------------------------------------------------
Exercise ``NN.k`` is declared once, in ``symml/checks/lessonNN.py``, in a list ``EXERCISES`` of
:class:`Exercise` (imported the first time an id ``NN.*`` is checked). ``check`` (the student's
run), ``symml release`` (the student version), ``symml grade`` (the instructor's run) and the
exports all read that declaration; the notebook holds only the solution regions and the ``check``
calls. Example, ``symml/checks/lesson07.py``::

    import torch
    from symml.checks import Case, Exercise, close

    def cross(a, b):                                # the reference: (n, 3), (n, 3) -> (n, 3)
        return torch.linalg.cross(a, b)

    def cross_cases(g):
        a, b = torch.randn(2, 5, 3, generator=g, dtype=torch.float64)
        yield Case(a, b)                            # fresh random
        yield Case(a, a, note="two equal vectors")  # an edge case: the answer is zero

    def cross_compare(got, expected, case):
        hint = close(got, expected)                 # None when right; else a generic hint
        if hint and "sign" in hint:
            return "the output is off by a sign: mind the order a × b"
        return hint

    EXERCISES = [
        Exercise("07.5", cross, cross_cases, cross_compare, title="the cross product",
                 hidden=[Case(torch.zeros(1, 3), torch.ones(1, 3), note="a zero vector")],
                 forbidden=[torch.linalg.cross, torch.Tensor.cross],
                 mistakes=[(lambda a, b: -cross(a, b), "mind the order")]),
    ]

In ``solutions/07_name.ipynb`` (``symml release`` makes the student version)::

    def cross(a, b):
        '''a × b for each row. a, b: (n, 3) -> (n, 3).'''
        ### BEGIN SOLUTION write it with the Levi-Civita symbol   <- the prompt the student sees
        ...
        ### END SOLUTION

    cross = check("07.5", cross)                    # the next cell

A *value* exercise (``kind="value"``, ``name="R"``) is a top-level assignment inside the solution
markers (``R = torch.tensor(...)``); the student version reads ``R = ...  # prompt``, which ``check``
reports as not attempted. A prediction is a value exercise whose ``compare`` is
:func:`choice`. ``tests/test_checks.py`` runs every declaration: the reference passes its visible
and hidden cases, every ``mistake`` triggers its hint, an answer that calls the reference is caught.

For graders the work splits in two, and only data crosses between them: :func:`run_answer`
applies an answer to the cases where the answer lives (the student's kernel), under the
forbidden-call tripwire (``symml.checks.forbidden``), and returns the outcomes as data;
:func:`judge` computes the references and compares, anywhere. ``grade(id, answer)`` does both in
one process. ``check`` remembers each answer it was given in ``SUBMITTED`` (what ``symml grade``
asks the kernel about) and, with ``SYMML_GRADING=1`` in the environment, shows nothing. Later cells
get the same fallbacks as in the student's own run, so an exercise built on an earlier one is
graded as the student saw it.
"""

import copy
import importlib
import os
import pkgutil
import secrets
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

import torch

from symml.checks.forbidden import Tripwire  # at import: the guard takes the genuine sys.setprofile before any answer runs
from symml.checks.hints import (  # the lesson files import them from here
    _shape,
    _type_name,
    as_bool,
    choice,
    close,
    error_size,
)

__all__ = ["MIMETYPE", "Case", "Exercise", "Verdict", "as_bool", "check", "choice", "close", "error_size", "exercise", "exercises", "grade", "judge", "lessons", "run_answer", "score", "counts", "graded_predictions"]

MIMETYPE = "application/vnd.symml.check+json"
ICONS = {"passed": "✅", "failed": "❌", "not attempted": "⏳", "recorded": "📝"}
FALLBACK_NOTE = "the cells below use the reference solution"
RECORDED_NOTE = "recorded; the verdicts come with the second half of the problem set"
KEY_HIDDEN = "that is not what happens: go back to the argument in the lesson"


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
    """The one declaration of an exercise; ``check``, ``release``, ``symml grade`` and the exports read it.

    * ``id`` ``"04.2"``; ``title`` a few words; ``points`` (default 1);
    * ``reference``: the reference function (``kind="function"``), or a function of no arguments that
      returns the reference value (``kind="value"``: a number, a string, a choice the student makes);
    * ``name``: the variable the notebook binds the answer to (default: the reference's name for a
      function; required for a value);
    * ``cases(generator)``: the visible inputs, each a :class:`Case` (random ones drawn from the seeded
      ``generator``, plus fixed edge cases); ``hidden``: more cases, only the grader uses them (a list,
      or a function of a generator), each worth an equal share of the points with the visible set;
    * ``compare(got, expected, case)``: ``None`` when right, else a hint (default :func:`close`);
      ``call(answer, *args)``: how an answer is applied to a case (default ``answer(*args)``);
    * ``forbidden``: what the answer may not call (callables, or ``{"o3.wigner_3j": o3.wigner_3j}`` to
      choose how hints name them); the reference itself is always forbidden (see ``symml.checks.forbidden``);
    * ``mistakes``: deliberately wrong answers and a piece of the hint each must trigger,
      ``[(answer, "off by a sign"), ...]``, which the tests run so that every hint is exercised.
    """

    id: str
    reference: Callable
    cases: Callable[[torch.Generator], Iterable] | None = None
    compare: Callable[[Any, Any, Case], str | None] | None = None
    kind: str = "function"
    points: float = 1
    call: Callable | None = None
    title: str = ""
    name: str = ""
    hidden: Any = ()
    forbidden: Any = ()
    mistakes: list = field(default_factory=list)

    def __post_init__(self):
        if self.kind not in ("function", "value"):
            raise ValueError(f"exercise {self.id}: kind must be 'function' or 'value', not {self.kind!r}")
        if not self.name:
            if self.kind == "value":
                raise ValueError(f"exercise {self.id}: a value exercise needs name=, the variable the notebook assigns")
            self.name = self.reference.__name__
        if not self.name.isidentifier():
            raise ValueError(f"exercise {self.id}: name must be a Python identifier, not {self.name!r}")
        if not (isinstance(self.points, (int, float)) and self.points > 0):
            raise ValueError(f"exercise {self.id}: points must be a positive number, not {self.points!r}")

    @property
    def prediction(self) -> bool:
        """A value exercise (a prediction, a number, a choice): formative unless the instructor grades it."""
        return self.kind == "value"

    def inputs(self, seed: int) -> list[Case]:
        """The visible cases for ``seed``: the same seed gives the same cases."""
        return self._draw(self.cases, seed) if self.cases is not None else [Case()]

    def hidden_inputs(self, seed: int) -> list[Case]:
        """The hidden cases (the grader's only): each one is a test of its own."""
        return self._draw(self.hidden, seed) if self.hidden else []

    @staticmethod
    def _draw(cases, seed):
        g = torch.Generator().manual_seed(seed)
        with torch.random.fork_rng(devices=[]):  # the cases never touch the notebook's global RNG
            found = cases(g) if callable(cases) else cases
            return [c if isinstance(c, Case) else Case(*c) for c in found]

    def tests(self, seed: int) -> list[list[Case]]:
        """What a grader scores, in equal shares: the visible cases, then each hidden case alone."""
        return [self.inputs(seed)] + [[case] for case in self.hidden_inputs(seed)]

    def forbidden_calls(self) -> dict:
        """``{display name: callable}``: the declared forbidden calls and the reference."""
        from symml.checks.forbidden import display_name

        named = dict(self.forbidden) if isinstance(self.forbidden, dict) else {display_name(f): f for f in self.forbidden}
        if self.kind == "function":
            named[f"the reference solution ({self.reference.__module__}.{self.reference.__name__})"] = self.reference
        return named

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
    status: str  # "passed" | "failed" | "not attempted" | "recorded"
    message: str
    points: int = 0
    max_points: int = 1
    title: str = ""
    uses_reference: bool = True  # check() hands back the reference when this did not pass (functions only)

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
        if self.status == "recorded":
            return f"{head}\n   {RECORDED_NOTE}"
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


def run_answer(ex: Exercise, answer, cases: list[Case], tripwire: bool = True, trusted=None) -> list[tuple[str, Any]]:
    """Apply ``answer`` to each case, where the answer lives; returns data only.

    Each outcome is ``("ok", output)`` (tensors detached and copied), ``("not attempted", "")``,
    ``("error", "TypeError: message")`` or ``("forbidden", "o3.wigner_3j")`` when the answer called
    something the exercise forbids. The global torch RNG is left as it was, whatever the answer
    draws, so a notebook stays deterministic. ``tripwire=False`` lets the reference itself be run
    through its own check (the tests do). ``trusted``: the references the answer may build on
    (default: the lesson's other ones; the grader's probe passes those of its private load).
    """
    if answer is Ellipsis or answer is NotImplemented:  # `x = ...` is a value still to be written
        return [("not attempted", "")] * len(cases)
    wire = Tripwire(ex.forbidden_calls() if tripwire else {}, trusted=_other_references(ex) if trusted is None else trusted)
    if ex.kind == "function" and (hit := wire.answer_is_forbidden(answer)):
        return [("forbidden", hit)] * len(cases)
    outcomes = []
    for case in cases:
        wire.hit = None
        try:
            with torch.random.fork_rng(devices=[]), wire:
                got = _detach(ex.output(answer, case))  # inside: a tensor subclass's hooks are the answer's code too
            outcomes.append(("forbidden", wire.hit) if wire.hit else ("ok", got))
        except NotImplementedError:
            outcomes.append(("forbidden", wire.hit) if wire.hit else ("not attempted", ""))
        except (Exception, SystemExit) as e:  # the student's bug is a verdict, never a crash
            outcomes.append(("forbidden", wire.hit) if wire.hit else ("error", _describe_exception(e)))
    return outcomes


def _other_references(ex: Exercise) -> list:
    """The lesson's other references: an answer may build on them (``check`` hands them back as fallbacks)."""
    try:
        return [other.reference for other in exercises(ex.id.split(".")[0]).values() if other.id != ex.id and other.kind == "function"]
    except Exception:
        return []


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
        if status == "forbidden":
            return _with(v, "failed", f"your answer calls {got}; this exercise asks you to derive it")
        try:
            with torch.random.fork_rng(devices=[]):
                expected = _detach(ex.expected(case))
        except Exception as e:  # a bug on our side must not look like the student's
            return _with(v, "failed", f"the check itself broke, please report it: {_describe_exception(e)}")
        try:
            hint = ex.judge(got, expected, case)
        except Exception as e:
            hint = f"the output could not be compared with the expected one ({_describe_exception(e)})"
        if hint and ex.kind == "value":
            hint = without_key(str(hint), expected)
        if hint:
            return _with(v, "failed", f"{hint}{where}")
    return v


def without_key(hint: str, key) -> str:
    """``hint``, unless it spells out the key of a value exercise: then the generic hint.

    The declared hints teach the idea behind the answer; this is the guard that none of them, and
    no generic comparison, ever prints the answer (quoted, or as a whole word of 2+ characters).
    A list of the options (``answer with one of 'a', 'b', 'c'``) may name it among the others.
    """
    import re

    text = str(key).strip()
    if not text:
        return hint
    quoted = re.findall(r"'([^']*)'|\"([^\"]*)\"|`([^`]*)`", hint)
    if len(quoted) >= 2:
        return hint  # the options, every one of them on the page already
    spelled = len(text) >= 2 and re.search(rf"(?<![\w.+-]){re.escape(text)}(?![\w.+-])", hint) is not None
    return KEY_HIDDEN if quoted and text in sum(map(list, quoted), []) or spelled else hint


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


def graded_predictions(spec: str | None) -> frozenset:
    """Parse the instructor's switch ``--graded-predictions``: the predictions that earn points.

    ``spec`` is empty (none: the default), ``"all"``, or a comma-separated list of problem sets and
    exercises, ``"04,07.2"`` (every prediction of set 04, and 07.2). Returns the set of exercise ids.
    The same string means the same thing in ``symml grade``, ``symml nbgrader`` and ``symml gradescope``.
    """
    chosen = set()
    for item in (spec or "").replace(" ", "").split(","):
        if not item:
            continue
        lessons_named = lessons() if item == "all" else [item] if len(item) == 2 and item.isdigit() else None
        if lessons_named is None:
            try:
                ex = exercise(item)
            except KeyError as e:
                raise ValueError(f"--graded-predictions: {e.args[0]} (give problem sets such as 04, exercises such as 07.2, or all)") from None
            if not ex.prediction:
                raise ValueError(f"--graded-predictions: {item} is a function exercise, graded always; name predictions (value exercises) only")
            chosen.add(item)
            continue
        for lesson in lessons_named:
            if lesson not in lessons():
                raise ValueError(f"--graded-predictions: there is no problem set {lesson} (there are {', '.join(lessons())})")
            chosen |= {e.id for e in exercises(lesson).values() if e.prediction}
    return frozenset(chosen)


def counts(ex: Exercise, graded: frozenset = frozenset()) -> bool:
    """Whether ``ex`` earns points: a function exercise always; a prediction only when ``graded`` names it."""
    return not ex.prediction or ex.id in graded


SUBMITTED: dict = {}  # exercise id -> the answer last passed to check()


def score(exercise_id: str, answer=Ellipsis, seed: int = 0) -> float:
    """The points ``answer`` earns, counted as ``symml grade`` counts them; prints the first failure.

    Default answer: the one last given to ``check`` (before it swapped in the reference). This is
    what an nbgrader export's hidden tests call in the student's kernel, so nbgrader's partial
    credit equals ``symml grade``'s points; an unattempted exercise scores 0.
    """
    import warnings

    ex = exercise(exercise_id)
    answer = SUBMITTED.get(exercise_id, ...) if answer is Ellipsis else answer
    passed, tests = 0, ex.tests(seed)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # nbgrader gives no credit to a cell that writes to stderr
        for cases in tests:
            v = judge(ex, cases, run_answer(ex, answer, cases))
            if v.status == "passed":
                passed += 1
            elif passed == 0 and len(cases) > 1:
                print(f"{exercise_id}: {v.status}: {v.message}")
    return round(float(ex.points) * passed / len(tests), 3)


def check(exercise_id: str, answer, *, seed: int | None = None, feedback: bool = True):
    """Test ``answer``, show the verdict, and return what the notebook should use from here on.

    For a function: ``answer`` if it passed, else the reference, so write ``f = check("03.2", f)``.
    For a value: ``answer`` itself, right or wrong (the key is never handed back). ``seed`` fixes
    the random inputs (default: fresh ones each call, or ``$SYMML_CHECK_SEED``).
    ``feedback=False`` records the answer and shows only that it was recorded, not whether it is
    right (nothing is tested, so trying options tells nothing). Never raises.
    """
    if isinstance(exercise_id, str):
        SUBMITTED[exercise_id] = answer  # what `symml grade` asks about, whatever the notebook does next
    try:
        ex = exercise(exercise_id)
    except Exception:
        ex = None
    if not feedback:
        title = ex.title if ex else ""
        verdict = Verdict(str(exercise_id), "recorded", RECORDED_NOTE, 0, ex.points if ex else 1, title, uses_reference=False)
    else:
        verdict = grade(exercise_id, answer, seed)
        if ex is not None and ex.kind == "value":
            verdict.uses_reference = False
    if os.environ.get("SYMML_GRADING") != "1":  # under the grader, verdicts are computed outside
        _show(verdict)
    if ex is None or ex.kind == "value" or not feedback or verdict.status == "passed":
        return answer
    try:
        return ex.solution()
    except Exception:
        return answer


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


def _short(x) -> str:
    return f"tensor{_shape(x)}" if isinstance(x, torch.Tensor) else repr(x)


def _describe_exception(e: BaseException) -> str:
    msg = str(e).strip().splitlines()[0] if str(e).strip() else ""
    if len(msg) > 200:
        msg = msg[:197] + "..."
    return f"{type(e).__name__}: {msg}" if msg else type(e).__name__
