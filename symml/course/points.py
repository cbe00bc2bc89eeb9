r"""How each problem set's points split: ``symml points`` (a Markdown table, read from the declarations).

Graded by default: the function exercises (transfers, whose answer has to be computed). Formative
by default: the predictions (value exercises), worth their declared points only where the
instructor names them with ``--graded-predictions``. ``docs/instructors.md`` holds this table
between ``<!-- points table -->`` markers; ``symml points --check docs/instructors.md`` exits 1
when it is out of step with the declarations (a test runs it).
"""

import sys
from pathlib import Path

BEGIN, END = "<!-- points table: symml points -->", "<!-- end of points table -->"
MIN_GRADED = 2  # a set with fewer graded function exercises is not worth grading


def split(lesson: str) -> dict:
    """``{"graded": [ids], "graded_points": p, "formative": [ids], "formative_points": q}`` for a problem set."""
    from symml.checks import exercises

    found = list(exercises(lesson).values())
    graded = [e for e in found if not e.prediction]
    formative = [e for e in found if e.prediction]
    return {"graded": [e.id for e in graded], "graded_points": float(sum(e.points for e in graded)),
            "formative": [e.id for e in formative], "formative_points": float(sum(e.points for e in formative))}


def table() -> str:
    """The Markdown table: one row per problem set, then the totals."""
    from symml.checks import lessons

    lines = ["| problem set | graded: function exercises | graded points | formative: predictions | their points (if graded) |",
             "|---|---|---|---|---|"]
    total = [0, 0.0, 0, 0.0]
    for lesson in lessons():
        s = split(lesson)
        flag = "" if len(s["graded"]) >= MIN_GRADED else f" (fewer than {MIN_GRADED})"
        lines.append(f"| {lesson} | {len(s['graded'])}{flag}: {', '.join(s['graded']) or '—'} | {s['graded_points']:g} "
                     f"| {len(s['formative'])}: {', '.join(s['formative']) or '—'} | {s['formative_points']:g} |")
        total = [total[0] + len(s["graded"]), total[1] + s["graded_points"], total[2] + len(s["formative"]), total[3] + s["formative_points"]]
    lines.append(f"| all | {total[0]} | {total[1]:g} | {total[2]} | {total[3]:g} |")
    return "\n".join(lines)


def in_guide(text: str) -> str | None:
    """The table held between the markers of ``text``, or None."""
    if BEGIN not in text or END not in text:
        return None
    return text.split(BEGIN, 1)[1].split(END, 1)[0].strip()


def main(argv=None) -> int:
    import argparse

    parser = argparse.ArgumentParser(prog="symml points", description="How each problem set's points split between graded transfers and formative predictions.")
    parser.add_argument("--check", type=Path, metavar="GUIDE", help="exit 1 if the table in GUIDE (between its markers) differs from the declarations")
    parser.add_argument("--write", type=Path, metavar="GUIDE", help="replace the table in GUIDE (between its markers)")
    args = parser.parse_args(argv)
    want = table()
    if args.check or args.write:
        path = args.check or args.write
        text = path.read_text()
        have = in_guide(text)
        if have is None:
            print(f"{path}: no points table (put it between {BEGIN} and {END})", file=sys.stderr)
            return 1
        if args.write:
            path.write_text(text.replace(have, want, 1))
            return 0
        if have != want:
            print(f"{path}: the points table is out of step with the declarations; run `symml points --write {path}`", file=sys.stderr)
            return 1
        return 0
    print(want)
    return 0
