"""Every exercise id ("03.2") that the course names exists in symml.checks (contract C7).

An id is named in a lesson, a problem set (solutions/ and exercises/), a hint or a declaration
(symml/checks/): in a ``check("03.2", ...)`` call, a heading, a hint ("as in 03.1") or a comment.
When exercises are renumbered or dropped, a reference left behind sends a student to an exercise
that is not there; this test lists each one with where it is.

What counts as an id: two digits, a dot and one digit 1-9 ("03.2"), in Markdown, in a string or
in a comment; in code outside strings and comments ``10.3`` is a number. A string that is an id
and nothing else (``"13.1"``) always counts. Elsewhere numbers are told apart by what surrounds
them: a unit or a sign after them (``55.4 meV``, ``12.5 %``, ``3.2 ±``), a format spec
(``{x:10.3f}``), TeX (``$12.5$``), or a first part that is no lesson of the course (``55.8``).
"""

import io
import json
import re
import tokenize
from functools import cache
from pathlib import Path

import pytest

from symml import checks

ROOT = Path(__file__).resolve().parent.parent

ID = re.compile(r"(?<![\w.$±=≈~<>^_{\-+×/])(\d\d)\.([1-9])(?![\w%°]|\.\d|\d)")
NUMBER_AFTER = re.compile(r"\s*(?:±|%|°|×|\$|meV|eV|Å|ms\b|s\b|sd\b|MB\b|GB\b|min\b|seconds\b|times\b|x\b|-fold)")
CHECK_CALL = re.compile(r"""\bcheck\(\s*["'](\d\d\.\d+)["']""")


@cache
def declared() -> frozenset:
    return frozenset(i for lesson in checks.lessons() for i in checks.exercises(lesson))


@cache
def lessons_on_disk() -> frozenset:
    return frozenset(p.name[:2] for p in (ROOT / "lessons").glob("[0-9][0-9]_*.ipynb"))


def ids_in_text(text: str) -> list[tuple[str, str]]:
    """(id, the text around it) for every exercise id named in prose."""
    whole = text.strip("\"'")
    if ID.fullmatch(whole):  # a string that is an id, e.g. check("13.1", ...)'s
        return [(whole, text)]
    found = []
    for m in ID.finditer(text):
        if NUMBER_AFTER.match(text, m.end()) or m.group(1) not in lessons_on_disk():
            continue
        found.append((m.group(0), text[max(0, m.start() - 30):m.end() + 20].replace("\n", " ")))
    return found


def ids_in_code(source: str) -> list[tuple[str, str]]:
    """The ids named in a piece of Python's strings and comments (IPython's %magics and !shell lines dropped)."""
    plain = "\n".join("" if line.lstrip().startswith(("%", "!")) else line for line in source.splitlines())
    try:
        tokens = list(tokenize.generate_tokens(io.StringIO(plain).readline))
    except (tokenize.TokenError, IndentationError, SyntaxError):
        return ids_in_text(plain)  # not Python: read it as text
    return [hit for tok in tokens if tok.type in (tokenize.STRING, tokenize.COMMENT) for hit in ids_in_text(tok.string)]


def references(path: Path) -> list[tuple[str, str, str]]:
    """(id, where, context) for every id a notebook's sources or a module's code names."""
    if path.suffix == ".py":
        return [(i, path.name, ctx) for i, ctx in ids_in_code(path.read_text())]
    out = []
    for k, cell in enumerate(json.loads(path.read_text())["cells"]):
        source = "".join(cell["source"])
        hits = ids_in_code(source) if cell["cell_type"] == "code" else ids_in_text(source)
        out += [(i, f"cell {k}", ctx) for i, ctx in hits]
    return out


def course_files() -> list[Path]:
    notebooks = [p for d in ("lessons", "solutions", "exercises") for p in sorted((ROOT / d).glob("*.ipynb"))]
    return notebooks + sorted((ROOT / "symml" / "checks").glob("*.py"))


# ---------------------------------------------------------------- the reader itself


def test_the_reader_tells_ids_from_numbers():
    text = ("## 03.2 · The irreps\nAs in exercise 08.3, and 12.4: see `check(\"01.1\", f)`. It stops at 55.4 meV/Å, "
            "12.5 % of the time, $10.3$ or 44.8 ± 0.3, after 1.5 s; version 10.3.1; 16.0 kg.")
    assert [i for i, _ in ids_in_text(text)] == ["03.2", "08.3", "12.4", "01.1"]
    assert [i for i, _ in ids_in_text("55.4 meV instead of 55.8, and 53.9 at N = 23")] == []
    code = 'x = torch.tensor([10.3, 11.2])  # as in 05.4\nprint(f"{a:10.3f} {b:12.5%}")\ny = check("07.2", y)\n%time z = check("13.1", z)'
    assert [i for i, _ in ids_in_code(code)] == ["05.4", "07.2"]
    assert [i for i, _ in ids_in_code('z = check("13.1", z)')] == ["13.1"]


def test_the_reader_finds_every_declared_id_in_its_problem_set():
    named = {i for p in sorted((ROOT / "solutions").glob("*.ipynb")) for i, _, _ in references(p)}
    assert declared() <= named, sorted(declared() - named)


# ---------------------------------------------------------------- the course


@pytest.mark.parametrize("path", course_files(), ids=lambda p: p.relative_to(ROOT).as_posix())
def test_every_exercise_id_named_exists(path):
    stale = [f"{where}: {i} in “…{ctx}…”" for i, where, ctx in references(path) if i not in declared()]
    assert not stale, f"{path.relative_to(ROOT)} names exercises that symml.checks does not declare:\n" + "\n".join(stale)


@pytest.mark.parametrize("path", [p for d in ("solutions", "exercises") for p in sorted((ROOT / d).glob("[0-9][0-9]_*.ipynb"))],
                         ids=lambda p: p.relative_to(ROOT).as_posix())
def test_a_problem_set_checks_its_own_lessons_exercises(path):
    nb = json.loads(path.read_text())
    called = [i for c in nb["cells"] if c["cell_type"] == "code" for i in CHECK_CALL.findall("".join(c["source"]))]
    foreign = [i for i in called if not i.startswith(path.name[:2] + ".")]
    assert called and not foreign, f"{path.name} checks {foreign or 'nothing'}"
