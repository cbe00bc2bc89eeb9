"""No notebook's Markdown or LaTeX holds a control character.

A control character in prose is always an accident, and usually an invisible one: a string written
through Python without ``r""`` turns ``\\text`` into a TAB and ``ext``, ``\\frac`` into a form feed
and ``rac``, ``\\beta`` into a backspace and ``eta``, and MathJax then renders nonsense. Checked: the
source of every Markdown cell, and every Markdown or LaTeX output, in lessons/, solutions/ and
exercises/. A newline is the only control character allowed.
"""

import unicodedata
from pathlib import Path

import nbformat
import pytest

ROOT = Path(__file__).resolve().parent.parent
NOTEBOOKS = sorted(p for folder in ("lessons", "solutions", "exercises") for p in (ROOT / folder).glob("*.ipynb"))
TEXT_MIMETYPES = ("text/markdown", "text/latex")


def control_characters(text: str) -> list[tuple[int, str]]:
    """(line number, the character's name) for every control character but the newline."""
    found = []
    for number, line in enumerate(text.split("\n"), start=1):
        for char in line:
            if unicodedata.category(char) == "Cc":
                found.append((number, f"U+{ord(char):04X}"))
    return found


def texts(nb):
    """(where, text) for every Markdown cell and every Markdown or LaTeX output of the notebook."""
    for index, cell in enumerate(nb.cells):
        if cell.cell_type == "markdown":
            yield f"cell {index}", cell.source
        for output in cell.get("outputs", []):
            for mimetype in TEXT_MIMETYPES:
                if mimetype in output.get("data", {}):
                    text = output["data"][mimetype]
                    yield f"cell {index} output {mimetype}", text if isinstance(text, str) else "".join(text)


def test_notebooks_found():
    assert {p.parent.name for p in NOTEBOOKS} == {"lessons", "solutions", "exercises"}


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: f"{p.parent.name}/{p.name}")
def test_no_control_characters_in_markdown_or_latex(path):
    nb = nbformat.read(path, as_version=4)
    bad = [(where, found) for where, text in texts(nb) if (found := control_characters(text))]
    assert not bad, f"{path}: control characters (line, code point) in {bad}; a '\\t' or '\\f' that lost its backslash?"


def test_a_lost_backslash_is_found():
    assert control_characters("$\\text{for every } R$") == []
    assert control_characters("$\text{for every } R$") == [(1, "U+0009")]
    assert control_characters("one\n$\frac{1}{2}$\r") == [(2, "U+000C"), (2, "U+000D")]
