"""The exercise machinery: verdicts, hints, fallbacks, the display bundle, and every registered exercise."""

import pytest
import torch

from symml import checks
from symml.checks import MIMETYPE, Case, Exercise, check, grade, judge, lesson00, lesson01, run_answer


def status(exercise_id, answer, seed=0):
    return grade(exercise_id, answer, seed=seed).status


def message(exercise_id, answer, seed=0):
    v = grade(exercise_id, answer, seed=seed)
    assert v.status == "failed", v
    return v.message


# ---------------------------------------------------------------- every registered reference passes


def all_exercises():
    return [ex for lesson in checks.lessons() for ex in checks.exercises(lesson).values()]


@pytest.mark.parametrize("ex", all_exercises(), ids=lambda ex: ex.id)
def test_reference_passes_its_own_check(ex):
    for seed in (0, 1, 2):
        v = grade(ex.id, ex.solution(), seed=seed)
        assert v.status == "passed", v


def test_lessons_are_discovered():
    assert {"00", "01"} <= set(checks.lessons())
    assert checks.exercise("01.4") is checks.exercises("01")["01.4"]


def test_cases_are_reproducible_and_fresh():
    ex = checks.exercise("00.1")
    a, b, c = ex.inputs(5), ex.inputs(5), ex.inputs(6)
    assert all(torch.equal(x, y) for ca, cb in zip(a, b) for x, y in zip(ca.args, cb.args))
    assert not torch.equal(a[0].args[0], c[0].args[0])


# ---------------------------------------------------------------- the three statuses


def test_passed():
    v = grade("00.1", lambda y, t: ((y - t) ** 2).mean(), seed=3)
    assert (v.status, v.points, v.max_points) == ("passed", 1, 1)


def test_not_attempted_function():
    def mse(y, y_true):
        raise NotImplementedError("write your solution here")

    v = grade("00.1", mse)
    assert v.status == "not attempted" and v.points == 0


def test_not_attempted_value():
    assert status("01.1", ...) == "not attempted"


def test_student_exception_is_a_verdict():
    def mse(y, y_true):
        return y.no_such_method()

    msg = message("00.1", mse)
    assert msg.startswith("your code raised AttributeError") and "no_such_method" in msg


def test_never_raises(capsys):
    def explode(*args):
        raise SystemExit(3)

    for answer in (explode, None, "text", 42, lambda: None, lambda *a: object()):
        assert grade("01.2", answer).status == "failed"
    assert grade("99.1", lambda x: x).status == "failed"  # no such lesson
    assert grade("00.42", lambda x: x).status == "failed"  # no such exercise
    assert grade("nonsense", lambda x: x).status == "failed"
    check("00.42", lambda x: x)  # shows a verdict and returns, no exception
    check(["00.1"], lambda x: x)  # even a nonsense id
    out = capsys.readouterr().out
    assert "00.42" in out and "['00.1']" in out


# ---------------------------------------------------------------- hints say what is wrong, not the answer


@pytest.mark.parametrize(
    "exercise_id, answer, words",
    [
        ("00.1", lambda y, t: (y - t) ** 2, "single number"),  # shape
        ("00.1", lambda y, t: ((y - t) ** 2).sum(), "sum"),
        ("00.1", lambda y, t: -((y - t) ** 2).mean(), "sign"),
        ("00.1", lambda y, t: None, "return"),
        ("00.2", lambda losses, th: lesson00.first_below(losses, th) + 1 if (losses < th).any() else -1, "off by one"),
        ("00.3", lambda w, x, y, lr: lesson00.gd_step(w, x, y, -lr), "uphill"),
        ("00.3", lambda w, x, y, lr: lesson00.gd_step(w, x, y, 2 * lr), "factor"),
        ("00.5", lambda x: 2 * lesson00.max_stable_lr(x), "2× too large"),
        ("01.1", lesson01.quarter_turn_z().T, "wrong way"),
        ("01.1", -lesson01.quarter_turn_z(), "reflection"),
        ("01.1", torch.ones(3, 3), "not a rotation"),
        ("01.2", lambda points, R: points @ R, "wrong way"),
        ("01.3", lambda f, x, R: 0.0, "not equivariant"),
        ("01.4", lambda x: torch.pdist(x), "not sorted"),
        ("01.4", lambda x: torch.cdist(x, x).flatten().sort().values, "each pair once"),
        ("01.4", lambda x: (x - x[:1]).norm(dim=1)[1:].sort().values, "shape"),
        ("01.5", lambda x: -lesson01.forces(x), "uphill"),
        ("01.5", lambda x: lesson01.forces(x) + torch.tensor([0.0, 0.0, 0.1]), "add up to zero"),
    ],
)
def test_hints(exercise_id, answer, words):
    msg = message(exercise_id, answer)
    assert words in msg, msg


def test_symmetry_broken_hint():
    def forces(points):  # right on most molecules, but it ignores how the molecule is oriented
        F = lesson01.forces(points)
        return F @ torch.linalg.qr(torch.tensor([[1.0, 2, 0], [0, 1, 3], [2, 0, 1]]))[0] if points[0, 0] > 0.5 else F

    msg = message("01.5", forces, seed=11)
    assert "symmetry broken" in msg or "wrong values" in msg


def test_hints_hide_the_numbers():
    msg = message("00.1", lambda y, t: ((y - t) ** 2).mean() + 0.123456)
    assert "0.12" not in msg and "wrong values" in msg


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


# ---------------------------------------------------------------- check(): fallback and display


def test_check_returns_answer_or_reference(capsys):
    def mine(y, y_true):
        return ((y - y_true) ** 2).mean()

    assert check("00.1", mine) is mine
    assert check("00.1", lambda y, t: y) is lesson00.mse
    assert torch.equal(check("01.1", ...), lesson01.quarter_turn_z())
    out = capsys.readouterr().out
    assert "✅ 00.1 passed" in out and "❌ 00.1 failed" in out and "⏳ 01.1 not attempted" in out


def test_check_displays_one_bundle(monkeypatch):
    shown = []
    monkeypatch.setattr(checks, "_show", shown.append)
    check("00.1", lambda y, t: y)
    (verdict,) = shown
    bundle = verdict.bundle()
    assert set(bundle) == {MIMETYPE, "text/plain"}
    data = bundle[MIMETYPE]
    assert data["exercise"] == "00.1" and data["status"] == "failed" and isinstance(data["message"], str)
    assert data["points"] == 0 and data["max_points"] == 1
    assert bundle["text/plain"].startswith("❌ 00.1 failed")


def test_bundle_text_is_deterministic():
    texts = {grade("01.4", lesson01.sorted_distances, seed=s).text() for s in range(3)}
    texts |= {grade("01.4", lesson01.sorted_distances).text() for _ in range(2)}
    assert texts == {"✅ 01.4 passed · an invariant feature"}
    def nie(x):
        raise NotImplementedError
    assert grade("01.4", nie).text() == "⏳ 01.4 not attempted · an invariant feature\n   → the cells below use the reference solution"


def test_check_in_a_kernel_displays_the_bundle():
    from IPython.core.interactiveshell import InteractiveShell

    shell = InteractiveShell.instance()
    try:
        published = []
        shell.display_pub.publish = lambda data, metadata=None, **kw: published.append(data)
        check("00.1", lesson00.mse)
        assert len(published) == 1 and published[0][MIMETYPE]["status"] == "passed"
    finally:
        InteractiveShell.clear_instance()


def test_grading_mode_is_quiet_and_remembers_the_answer(monkeypatch, capsys):
    monkeypatch.setenv("SYMML_GRADING", "1")
    def wrong(y, t):
        return y

    assert check("00.1", wrong) is lesson00.mse  # the same fallback the student saw
    assert checks.SUBMITTED["00.1"] is wrong  # what the grader asks the kernel about
    assert capsys.readouterr().out == ""


def test_check_leaves_global_rng_alone():
    def noisy(y, y_true):
        torch.rand(1000)  # a student's function that draws random numbers
        return ((y - y_true) ** 2).mean()

    torch.manual_seed(0)
    expected = torch.rand(3)
    torch.manual_seed(0)
    grade("00.1", noisy)
    assert torch.equal(torch.rand(3), expected)


def test_inputs_are_not_mutated_by_the_answer():
    def in_place(points, R):
        points[:] = points @ R.T  # edits its input, returns it
        return points

    assert status("01.2", in_place) == "passed"


# ---------------------------------------------------------------- the data-only split for graders


def test_run_answer_and_judge_exchange_data_only(tmp_path):
    ex = checks.exercise("01.5")
    cases = ex.inputs(7)
    outcomes = run_answer(ex, lesson01.forces, cases)
    path = tmp_path / "outcomes.pt"
    torch.save(outcomes, path)
    outcomes = torch.load(path, weights_only=True)  # plain data survives the trip
    args = [c.args for c in cases]
    torch.save(args, path)
    back = [Case(*a) for a in torch.load(path, weights_only=True)]
    assert judge(ex, back, outcomes).status == "passed"
    assert judge(ex, back, [("error", "ValueError: boom")] * len(back)).message.startswith("your code raised ValueError")


def test_a_new_exercise_spec():
    ex = Exercise("77.1", lambda x: 2 * x, lambda g: [Case(torch.randn(3, generator=g)), (torch.zeros(2),)], title="double")
    cases = ex.inputs(0)
    assert [c.describe() for c in cases] == ["a random input", "a random input"]
    assert judge(ex, cases, run_answer(ex, lambda x: x + x, cases)).status == "passed"
    assert "off by a sign" in judge(ex, cases, run_answer(ex, lambda x: -2 * x, cases)).message


def test_hidden_tests(capsys):
    checks.hidden_tests("00.1", [Case(torch.tensor([1.0, 2.0]), torch.tensor([1.0, 4.0]))], lesson00.mse)
    assert capsys.readouterr().out == ""  # silent when they pass
    checks.hidden_tests("00.1", [(torch.tensor([1.0, 2.0]), torch.tensor([1.0, 5.0]))], lambda y, t: (y - t).abs().sum())
    assert "hidden tests" in capsys.readouterr().out
