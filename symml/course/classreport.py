r"""The class report: one offline HTML page that shows where a class went wrong.

``symml grade`` writes it next to the gradebook (``grades-class.html``). For each problem set:

* the distribution of points, as a small inline SVG histogram (one bar per score);
* each exercise's pass rate (passed / graded submissions), graded or formative, with a bar;
* for each exercise, the hints the students got, counted: every hint is one of the lesson's declared
  mistakes (or a generic comparison), so the most frequent one names the misconception;
* every student's points, with a link to their own report.

Self-contained: no script, no stylesheet or font from elsewhere, nothing fetched (it opens from a
file on a machine without network). A hint is grouped without where it happened ("(on a random
input)", "a hidden test: "), so the same misconception is counted once per student and exercise.
"""

import html
import math
import os
import re
from collections import Counter
from pathlib import Path

STYLE = """
body { font-family: system-ui, sans-serif; max-width: 60rem; margin: 2rem auto; padding: 0 1rem; color: #222; }
table { border-collapse: collapse; margin: 0.5rem 0 1.5rem; }
th, td { border-bottom: 1px solid #ddd; padding: 0.3rem 0.6rem; text-align: left; vertical-align: top; }
td.num { text-align: right; font-variant-numeric: tabular-nums; }
.formative { color: #777; }
ol.hints { margin: 0; padding-left: 1.2rem; }
svg text { font: 11px system-ui, sans-serif; }
"""


def hint_of(message: str) -> str:
    """A failed verdict's hint without where it happened: what a misconception is counted by."""
    text = message.removeprefix("a hidden test: ")
    return re.sub(r" \(on [^()]*(\([^()]*\)[^()]*)*\)$", "", text).strip()


def pass_rates(rows: list[dict]) -> dict[str, tuple[int, int]]:
    """``{exercise id: (passed, graded submissions)}`` over the rows that hold the exercise."""
    out = {}
    for row in rows:
        for exercise_id, r in row["exercises"].items():
            if r["status"] in ("not graded", "not in this half"):
                continue
            passed, total = out.get(exercise_id, (0, 0))
            out[exercise_id] = (passed + (r["status"] == "passed"), total + 1)
    return dict(sorted(out.items()))


def hints(rows: list[dict]) -> dict[str, Counter]:
    """``{exercise id: Counter(hint -> students who got it)}``, failures only."""
    out = {}
    for row in rows:
        for exercise_id, r in row["exercises"].items():
            if r["status"] == "failed":
                out.setdefault(exercise_id, Counter())[hint_of(r["message"])] += 1
    return out


def histogram(points: list[float], max_points: float, width: int = 360, height: int = 120) -> str:
    """An inline SVG bar chart: how many students got each score (rounded down to a multiple of 0.5: 4.75 counts as 4.5)."""
    scores = Counter(math.floor(p * 2 + 1e-9) / 2 for p in points)
    ticks = [k / 2 for k in range(int(max_points * 2) + 1)] or [0.0]
    if len(ticks) > 41:  # a long problem set: one bar per whole point
        scores = Counter(float(math.floor(p + 1e-9)) for p in points)
        ticks = [float(k) for k in range(int(round(max_points)) + 1)]
    top = max(scores.values(), default=1)
    bar = (width - 30) / len(ticks)
    parts = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height + 30}" role="img" aria-label="distribution of points">']
    for i, t in enumerate(ticks):
        n = scores.get(t, 0)
        h = (height - 15) * n / top
        x = 25 + i * bar
        parts.append(f'<rect x="{x + 1:.1f}" y="{height - h:.1f}" width="{max(bar - 2, 1):.1f}" height="{h:.1f}" fill="#4c78a8" data-score="{t:g}" data-count="{n}"><title>{n} with {t:g} points</title></rect>')
        if n:
            parts.append(f'<text x="{x + bar / 2:.1f}" y="{height - h - 3:.1f}" text-anchor="middle">{n}</text>')
        if len(ticks) <= 21 or t == int(t):
            parts.append(f'<text x="{x + bar / 2:.1f}" y="{height + 14}" text-anchor="middle">{t:g}</text>')
    parts.append(f'<text x="{width / 2:.0f}" y="{height + 28}" text-anchor="middle">points</text></svg>')
    return "".join(parts)


def _bar(fraction: float) -> str:
    return (f'<svg xmlns="http://www.w3.org/2000/svg" width="100" height="10"><rect width="100" height="10" fill="#eee"/>'
            f'<rect width="{100 * fraction:.0f}" height="10" fill="#54a24b"/></svg>')


def _section(lesson: str, rows: list[dict], links: list[str]) -> str:
    e = html.escape
    max_points = max((r["max_points"] for r in rows), default=0)
    mean = sum(r["points"] for r in rows) / max(1, len(rows))
    out = [f'<section data-lesson="{e(lesson)}"><h2>Problem set {e(lesson)}</h2>',
           f'<p><span data-submissions>{len(rows)}</span> submissions; mean <span data-mean>{mean:.2f}</span> of {max_points:g} points.</p>',
           histogram([r["points"] for r in rows], max_points)]
    rates, found = pass_rates(rows), hints(rows)
    titles = {i: r.get("title", "") for row in rows for i, r in row["exercises"].items()}
    graded = {i: r.get("graded", True) for row in rows for i, r in row["exercises"].items()}
    out.append("<h3>Exercises</h3><table><tr><th>exercise</th><th>passed</th><th></th><th>the hints students got (how many)</th></tr>")
    for exercise_id, (passed, total) in rates.items():
        cls = "" if graded[exercise_id] else ' class="formative"'
        kind = "" if graded[exercise_id] else " <small>(formative, no points)</small>"
        items = "".join(f'<li data-hint-count="{n}">{e(h)} <b>× {n}</b></li>' for h, n in found.get(exercise_id, Counter()).most_common())
        out.append(f'<tr data-exercise="{e(exercise_id)}"{cls}><td>{e(exercise_id)} {e(titles[exercise_id])}{kind}</td>'
                   f'<td class="num" data-pass-rate>{passed}/{total}</td><td>{_bar(passed / max(1, total))}</td>'
                   f'<td><ol class="hints">{items}</ol></td></tr>')
    out.append("</table><h3>Students</h3><table><tr><th>student</th><th>points</th><th>note</th></tr>")
    for row, link in sorted(zip(rows, links), key=lambda x: x[0]["student"]):
        out.append(f'<tr data-student="{e(row["student"])}"><td><a href="{e(link)}">{e(row["student"])}</a></td>'
                   f'<td class="num" data-points>{row["points"]:g} / {row["max_points"]:g}</td><td>{e(row.get("reason", ""))}</td></tr>')
    out.append("</table></section>")
    return "\n".join(out)


def html_report(rows: list[dict], reports: list[Path], folder: Path) -> str:
    """The page for ``rows`` (gradebook rows), linking each to its report (paths made relative to ``folder``)."""
    links = [Path(os.path.relpath(Path(p).resolve(), Path(folder).resolve())).as_posix() for p in reports]
    by_lesson = {}
    for row, link in zip(rows, links):
        by_lesson.setdefault(row["lesson"] or "?", ([], []))
        by_lesson[row["lesson"] or "?"][0].append(row)
        by_lesson[row["lesson"] or "?"][1].append(link)
    body = "\n".join(_section(lesson, *by_lesson[lesson]) for lesson in sorted(by_lesson))
    return (f'<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8"><title>Class report</title><style>{STYLE}</style></head>'
            f"<body><h1>Class report</h1><p>{len(rows)} submissions. Pass rate: submissions whose exercise passed every test. "
            f"Hints: each failing student's first hint, in the lesson's words.</p>\n{body}\n</body></html>\n")

