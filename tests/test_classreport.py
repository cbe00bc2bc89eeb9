"""The class report (symml/course/classreport.py) opened in headless Chromium, offline: its numbers
(submissions, mean, the histogram's bars, each exercise's pass rate, each hint's count) are read
from the page and compared with the class it was made from, its links open the students' reports,
and it asks for nothing beyond its own file."""

import pytest

from symml import checks
from symml.course import classreport
from symml.course.grade import new_row, report, weigh

pytestmark = pytest.mark.slow
playwright_api = pytest.importorskip("playwright.sync_api", reason="the browser test needs playwright (pip install -e '.[test]')")

WRONG_WAY = "edge_vec points the wrong way: it goes from the centre pos[edge_dst] to the neighbour pos[edge_src]"
ODD_L = "every neighbour at r has a partner at −r: what does an odd-l harmonic do when r → −r?"


def a_class(tmp_path):
    """Five students of problem set 07 as the grader records them: statuses, hints with where they happened."""
    plan = {  # student -> {exercise: (status, message, earned fraction)}
        "ada": {},
        "ben": {"07.1": ("failed", f"{WRONG_WAY} (on a random input)", 0.0), "07.2": ("failed", ODD_L, 0.0)},
        "cy": {"07.1": ("failed", f"a hidden test: {WRONG_WAY} (on a crystal with a single atom per cell (every neighbour is its own image))", 0.75)},
        "dee": {"07.2": ("failed", ODD_L, 0.0), "07.3": ("failed", "the error should be ~0 for this layer (on a random input)", 0.0)},
        "eve": {e: ("not attempted", "the body still raises NotImplementedError", 0.0) for e in checks.exercises("07")},
    }
    rows, paths = [], []
    for student, changes in plan.items():
        row = new_row(tmp_path / f"{student}.ipynb", student, "07", True)
        for exercise_id, r in row["exercises"].items():
            status, message, fraction = changes.get(exercise_id, ("passed", "all tests passed", 1.0))
            r.update(status=status, message=message, points=r["max_points"] * fraction)
        rows.append(weigh(row))
        path = tmp_path / "feedback" / f"{student}.md"
        path.parent.mkdir(exist_ok=True)
        path.write_text(report(row))
        paths.append(path)
    return rows, paths


def test_the_class_report_in_a_browser(tmp_path, chromium_executable):
    from browser.labserver import chromium

    rows, paths = a_class(tmp_path)
    page_file = tmp_path / "grades-class.html"
    page_file.write_text(classreport.html_report(rows, paths, tmp_path))
    requested = []
    with playwright_api.sync_playwright() as p, chromium(p, chromium_executable) as context:
        page = context.new_page()
        page.on("request", lambda r: requested.append(r.url))
        page.goto(page_file.as_uri())
        section = page.locator('section[data-lesson="07"]')
        assert section.locator("[data-submissions]").inner_text() == "5"
        mean = sum(r["points"] for r in rows) / 5
        assert float(section.locator("[data-mean]").inner_text()) == pytest.approx(mean, abs=0.005)

        bars = section.locator("svg rect[data-score]")
        drawn = {float(bars.nth(i).get_attribute("data-score")): int(bars.nth(i).get_attribute("data-count")) for i in range(bars.count())}
        want = {}
        for r in rows:  # bars of half a point, a score counted in the bar it reaches (4.75 in 4.5's)
            bar = int(r["points"] * 2) / 2
            want[bar] = want.get(bar, 0) + 1
        assert {k: v for k, v in drawn.items() if v} == want
        assert max(drawn) == rows[0]["max_points"], "the axis runs to the set's maximum"
        assert section.locator("svg").first.bounding_box()["height"] > 50, "the histogram is drawn"

        for exercise_id in checks.exercises("07"):
            results = [r["exercises"][exercise_id] for r in rows]
            passed = sum(x["status"] == "passed" for x in results)
            line = section.locator(f'tr[data-exercise="{exercise_id}"]')
            assert line.locator("[data-pass-rate]").inner_text() == f"{passed}/5", exercise_id
            assert ("formative" in line.inner_text()) == checks.exercise(exercise_id).prediction

        hints = section.locator('tr[data-exercise="07.1"] li')
        assert hints.count() == 1, "the same misconception, visible or hidden, on any input, is counted once per student"
        assert WRONG_WAY in hints.first.inner_text() and hints.first.get_attribute("data-hint-count") == "2"
        assert section.locator('tr[data-exercise="07.2"] li').first.get_attribute("data-hint-count") == "2"

        link = section.locator('tr[data-student="cy"] a')
        assert section.locator('tr[data-student="cy"] [data-points]').inner_text() == f"{rows[2]['points']:g} / {rows[2]['max_points']:g}"
        link.click()
        page.wait_for_load_state()
        assert page.url.endswith("/feedback/cy.md") and "cy · problem set 07" in page.inner_text("body")
    assert all(u.startswith("file://") for u in requested) and len(requested) == 2, requested


def test_hint_of_drops_only_where_it_happened():
    assert classreport.hint_of(f"a hidden test: {WRONG_WAY} (on a crystal with a single atom per cell (every neighbour is its own image))") == WRONG_WAY
    assert classreport.hint_of("the lengths (E,) are wrong (on a random input)") == "the lengths (E,) are wrong"
    assert classreport.hint_of(ODD_L) == ODD_L
