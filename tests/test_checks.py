"""The exercise machinery (verdicts, hints, fallbacks, the tripwire, the display bundle) on a lesson
made up here, then every declared exercise of the course: its reference passes its visible and
hidden cases, each of its mistakes triggers its hint, and an answer that calls the reference fails."""

import functools
import sys
import types

import pytest
import torch
from e3nn import o3

from symml import checks
from symml.checks import MIMETYPE, Case, Exercise, check, grade, judge, run_answer

# ---------------------------------------------------------------- a lesson made up for the machinery


def double(x):
    """The reference of 99.1: (n,) -> (n,)."""
    return 2 * x


def double_cases(g):
    yield Case(torch.randn(4, generator=g, dtype=torch.float64))
    yield Case(torch.zeros(3, dtype=torch.float64), note="a zero vector")


def cross(a, b):
    """The reference of 99.3, a "derive it" exercise: no shortcut allowed."""
    return torch.stack([a[1] * b[2] - a[2] * b[1], a[2] * b[0] - a[0] * b[2], a[0] * b[1] - a[1] * b[0]])


def cross_cases(g):
    a, b = torch.randn(2, 3, generator=g, dtype=torch.float64)
    yield Case(a, b)


def quarter_turn():
    return torch.tensor([[0.0, -1, 0], [1, 0, 0], [0, 0, 1]])


EXERCISES_99 = [
    Exercise("99.1", double, double_cases, title="double", hidden=[Case(torch.ones(1, dtype=torch.float64), note="one entry")]),
    Exercise("99.2", quarter_turn, kind="value", name="R", title="a quarter turn"),
    Exercise("99.3", cross, cross_cases, title="the cross product", forbidden=[torch.linalg.cross, torch.Tensor.cross, o3.wigner_3j], points=2),
    Exercise("99.4", lambda: "b", kind="value", name="guess", compare=checks.choice(["a", "b", "c"], why={"a": "think of the trace"})),
]


@pytest.fixture(autouse=True)
def lesson99(monkeypatch):
    module = types.ModuleType("symml.checks.lesson99")
    module.EXERCISES = EXERCISES_99
    monkeypatch.setitem(sys.modules, "symml.checks.lesson99", module)


def verdict(exercise_id, answer, seed=0):
    return grade(exercise_id, answer, seed=seed)


# ---------------------------------------------------------------- the three statuses


def test_passed_failed_not_attempted():
    assert (verdict("99.1", lambda x: x + x).status, verdict("99.1", lambda x: x + x).points) == ("passed", 1)
    assert verdict("99.1", lambda x: -2 * x).message.startswith("the output is off by a sign")

    def todo(x):
        raise NotImplementedError("write your solution here")

    assert verdict("99.1", todo).status == "not attempted"
    assert verdict("99.2", ...).status == "not attempted"
    assert verdict("99.2", quarter_turn()).status == "passed"


def test_student_exception_is_a_verdict():
    msg = verdict("99.1", lambda x: x.no_such_method()).message
    assert msg.startswith("your code raised AttributeError") and "no_such_method" in msg


def test_never_raises(capsys):
    def explode(*args):
        raise SystemExit(3)

    for answer in (explode, None, "text", 42, lambda: None, lambda *a: object()):
        assert verdict("99.1", answer).status == "failed"
    assert verdict("98.1", lambda x: x).status == "failed"  # no such lesson
    assert verdict("99.42", lambda x: x).status == "failed"  # no such exercise
    assert verdict("nonsense", lambda x: x).status == "failed"
    check("99.42", lambda x: x)  # shows a verdict and returns, no exception
    check(["99.1"], lambda x: x)
    out = capsys.readouterr().out
    assert "99.42" in out and "['99.1']" in out


def test_cases_are_reproducible_and_fresh():
    ex = checks.exercise("99.1")
    a, b, c = ex.inputs(5), ex.inputs(5), ex.inputs(6)
    assert torch.equal(a[0].args[0], b[0].args[0]) and not torch.equal(a[0].args[0], c[0].args[0])
    assert [h.note for h in ex.hidden_inputs(0)] == ["one entry"]


def test_a_choice_teaches_without_telling():
    assert verdict("99.4", "b").status == "passed"
    assert verdict("99.4", "a").message == "think of the trace"
    assert "not what happens" in verdict("99.4", "c").message
    assert "one of 'a', 'b', 'c'" in verdict("99.4", "d").message


def test_declarations_are_checked():
    with pytest.raises(ValueError, match="needs name="):
        Exercise("99.9", quarter_turn, kind="value")
    with pytest.raises(ValueError, match="kind must be"):
        Exercise("99.9", double, kind="table")
    with pytest.raises(ValueError, match="points must be"):
        Exercise("99.9", double, points=0)
    assert Exercise("99.9", double).name == "double"


# ---------------------------------------------------------------- the forbidden-call tripwire


FORBIDDEN_ANSWERS = {
    "direct": (lambda a, b: torch.linalg.cross(a, b), "torch.linalg.cross"),
    "method": (lambda a, b: a.cross(b, dim=0), "Tensor.cross"),
    "the answer itself": (torch.linalg.cross, "torch.linalg.cross"),
    "partial": (functools.partial(torch.linalg.cross), "torch.linalg.cross"),
    "the reference": (cross, "the reference solution"),
    "the reference through a lambda": (lambda a, b: cross(a, b), "the reference solution"),
    "e3nn": (lambda a, b: o3.wigner_3j(1, 1, 1).to(a.dtype)[0] @ b * 0 + a * 0, "o3.wigner_3j"),
}


@pytest.mark.parametrize("how", FORBIDDEN_ANSWERS)
def test_forbidden_calls_are_caught_and_named(how):
    answer, name = FORBIDDEN_ANSWERS[how]
    v = verdict("99.3", answer)
    assert v.status == "failed" and f"calls {name}" in v.message and "derive it" in v.message, v.message


def test_forbidden_calls_through_an_alias_or_an_earlier_wrapper():
    alias = torch.linalg.cross

    def helper(a, b):  # a wrapper made earlier, in a cell above
        return alias(a, b)

    def swallowing(a, b):  # the answer's own try/except cannot hide the call
        try:
            helper(a, b)
        except Exception:
            pass
        return torch.stack([a[1] * b[2] - a[2] * b[1], a[2] * b[0] - a[0] * b[2], a[0] * b[1] - a[1] * b[0]])

    assert "calls torch.linalg.cross" in verdict("99.3", lambda a, b: helper(a, b)).message
    assert "calls torch.linalg.cross" in verdict("99.3", swallowing).message


def test_libraries_and_other_references_may_use_forbidden_calls():
    def by_hand(a, b):
        return torch.stack([a[1] * b[2] - a[2] * b[1], a[2] * b[0] - a[0] * b[2], a[0] * b[1] - a[1] * b[0]])

    def via_library(a, b):  # e3nn's tensor product calls wigner_3j inside: that is the library's business
        o3.FullyConnectedTensorProduct("1o", "1o", "0e")
        return by_hand(a, b)

    def via_another_reference(a, b):  # building on 99.1's reference (check's fallback) is allowed
        return double(by_hand(a, b)) / 2

    for answer in (by_hand, via_library, via_another_reference):
        assert verdict("99.3", answer).status == "passed", answer


def test_reference_runs_without_the_tripwire():
    ex = checks.exercise("99.3")
    cases = ex.inputs(0)
    assert judge(ex, cases, run_answer(ex, cross, cases, tripwire=False)).status == "passed"


# ---------------------------------------------------------------- check(): fallback, display, grading mode


def test_check_returns_answer_or_reference(capsys):
    def mine(x):
        return x * 2

    assert check("99.1", mine) is mine
    assert check("99.1", lambda x: x) is double
    assert check("99.2", ...) is ...  # a value exercise never hands back its key, even not attempted
    wrong = torch.zeros(3, 3)
    assert check("99.2", wrong) is wrong
    out = capsys.readouterr().out
    assert "✅ 99.1 passed" in out and "❌ 99.1 failed" in out and "⏳ 99.2 not attempted" in out


def test_check_displays_one_bundle(monkeypatch):
    shown = []
    monkeypatch.setattr(checks, "_show", shown.append)
    check("99.3", lambda a, b: a)
    (v,) = shown
    bundle = v.bundle()
    assert set(bundle) == {MIMETYPE, "text/plain"}
    data = bundle[MIMETYPE]
    assert data["exercise"] == "99.3" and data["status"] == "failed" and (data["points"], data["max_points"]) == (0, 2)
    assert bundle["text/plain"].startswith("❌ 99.3 failed · the cross product")


def test_bundle_text_is_deterministic():
    texts = {verdict("99.1", lambda x: x + x, seed=s).text() for s in range(3)}
    assert texts == {"✅ 99.1 passed · double"}

    def todo(x):
        raise NotImplementedError

    assert verdict("99.1", todo).text() == "⏳ 99.1 not attempted · double\n   → the cells below use the reference solution"


def test_check_in_a_kernel_displays_the_bundle():
    from IPython.core.interactiveshell import InteractiveShell

    shell = InteractiveShell.instance()
    try:
        published = []
        shell.display_pub.publish = lambda data, metadata=None, **kw: published.append(data)
        check("99.1", lambda x: x + x)
        assert len(published) == 1 and published[0][MIMETYPE]["status"] == "passed"
    finally:
        InteractiveShell.clear_instance()


def test_grading_mode_is_quiet_and_remembers_the_answer(monkeypatch, capsys):
    monkeypatch.setenv("SYMML_GRADING", "1")

    def wrong(x):
        return x

    assert check("99.1", wrong) is double  # the same fallback the student saw
    assert checks.SUBMITTED["99.1"] is wrong  # what the grader asks the kernel about
    assert capsys.readouterr().out == ""


def test_check_leaves_global_rng_alone():
    def noisy(x):
        torch.rand(1000)
        return 2 * x

    torch.manual_seed(0)
    expected = torch.rand(3)
    torch.manual_seed(0)
    verdict("99.1", noisy)
    assert torch.equal(torch.rand(3), expected)


def test_inputs_are_not_mutated_by_the_answer():
    def in_place(x):
        x.mul_(2)
        return x

    assert verdict("99.1", in_place).status == "passed"


def test_run_answer_and_judge_exchange_data_only(tmp_path):
    ex = checks.exercise("99.1")
    cases = ex.inputs(7)
    path = tmp_path / "outcomes.pt"
    torch.save(run_answer(ex, lambda x: x + x, cases), path)
    outcomes = torch.load(path, weights_only=True)  # plain data survives the trip
    torch.save([c.args for c in cases], path)
    back = [Case(*a) for a in torch.load(path, weights_only=True)]
    assert judge(ex, back, outcomes).status == "passed"
    assert judge(ex, back, [("error", "ValueError: boom")] * len(back)).message.startswith("your code raised ValueError")


def test_close_generic_hints():
    e = torch.tensor([[1.0, 2.0], [3.0, 4.0]])
    assert checks.close(e.clone(), e) is None
    assert "shape" in checks.close(e.flatten(), e)
    assert "sign" in checks.close(-e, e)
    assert "transposed" in checks.close(e.T, e)
    assert "3× too large" in checks.close(3 * e, e)
    assert "nan" in checks.close(e * float("nan"), e)
    assert "off by one" in checks.close(5, 4)
    assert checks.close(4, 4) is None
    assert checks.close((e, 1.0), (e, 1.0)) is None
    assert "tuple" in checks.close(e, (e, 1.0))
    assert "0.12" not in checks.close(e + 0.123456, e)


# ---------------------------------------------------------------- every exercise of the course


def course_exercises():
    return [ex for lesson in checks.lessons() for ex in checks.exercises(lesson).values()]


def mistakes():
    return [pytest.param(ex, answer, hint, id=f"{ex.id}-{k}") for ex in course_exercises() for k, (answer, hint) in enumerate(ex.mistakes)]


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64], ids=["float32", "float64"])
@pytest.mark.parametrize("ex", course_exercises(), ids=lambda ex: ex.id)
def test_reference_passes_its_visible_and_hidden_cases(ex, dtype):
    """Under either default dtype: a notebook may set float64, and cases are drawn with the notebook's."""
    old = torch.get_default_dtype()
    torch.set_default_dtype(dtype)
    try:
        for seed in (0, 1, 2):
            for cases in (ex.inputs(seed), ex.hidden_inputs(seed)):
                v = judge(ex, cases, run_answer(ex, ex.solution(), cases, tripwire=False))
                assert v.status == "passed", (seed, v)
    finally:
        torch.set_default_dtype(old)


@pytest.mark.parametrize("ex", course_exercises(), ids=lambda ex: ex.id)
def test_declaration_is_complete(ex):
    assert ex.title and ex.name.isidentifier()
    assert ex.mistakes, f"{ex.id}: declare the deliberately wrong answers that exercise its hints"


@pytest.mark.parametrize("ex", [ex for ex in course_exercises() if ex.kind == "function"], ids=lambda ex: ex.id)
def test_an_answer_that_calls_the_reference_fails(ex):
    reference = ex.reference
    cases = ex.inputs(0)
    v = judge(ex, cases, run_answer(ex, lambda *args: reference(*args), cases))
    assert v.status == "failed" and "calls the reference solution" in v.message, v


@pytest.mark.parametrize("ex, answer, hint", mistakes())
def test_every_mistake_triggers_its_hint(ex, answer, hint):
    for seed in (0, 1):
        cases = ex.inputs(seed) + ex.hidden_inputs(seed)
        v = judge(ex, cases, run_answer(ex, answer, cases))
        assert v.status == "failed" and hint in v.message, (seed, v.message)


def _periodic_edges_except_without_edges(pos, cell, r_max):
    """A student's 07.1, right on every crystal except one where no pair is within r_max."""
    import math

    reach = [math.ceil(r_max * h) for h in torch.linalg.inv(cell).norm(dim=0).tolist()]
    n = torch.cartesian_prod(*[torch.arange(-k, k + 1, dtype=pos.dtype) for k in reach])
    vec = pos[None, None, :, :] + (n @ cell)[:, None, None, :] - pos[None, :, None, :]
    keep = vec.norm(dim=-1) < r_max
    keep[(n == 0).all(dim=1)] &= ~torch.eye(len(pos), dtype=torch.bool)
    s, dst, src = keep.nonzero(as_tuple=True)
    assert len(s) > 0, "no edges"
    return src, dst, vec[s, dst, src]


def test_score_a_wrong_hidden_case_costs_its_share_and_no_more():
    """07.1's visible set and each hidden case share its points: failing the no-edge hidden case costs one share."""
    ex = checks.exercise("07.1")
    tests = ex.tests(0)
    assert len(tests) == 1 + len(ex.hidden_inputs(0)) >= 2
    earned = checks.score("07.1", _periodic_edges_except_without_edges)
    assert earned == pytest.approx(float(ex.points) * (len(tests) - 1) / len(tests), abs=1e-3)
    assert grade("07.1", _periodic_edges_except_without_edges, seed=0).status == "passed"  # the visible cases cannot see it
