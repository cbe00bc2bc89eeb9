"""The course website builds offline, with a page per lesson, its figures and its Binder links."""

import re
import socket

import nbformat
import pytest

from symml.course import site
from symml.course import ROOT
from symml.plot import PLOTLY_MIMETYPE


@pytest.fixture(scope="module")
def built(tmp_path_factory):
    out = tmp_path_factory.mktemp("site")
    real_connect = socket.socket.connect

    def refuse(self, address):  # building must not fetch anything (themes, scripts, fonts)
        raise AssertionError(f"the site build tried to connect to {address}")

    socket.socket.connect = refuse
    try:
        pages = site.build(out)
    finally:
        socket.socket.connect = real_connect
    return out, pages


def lessons():
    return sorted((ROOT / "lessons").glob("[0-9][0-9]_*.ipynb"))


def test_every_lesson_has_a_page_with_its_figures(built):
    out, pages = built
    assert [p.name for p in pages] == [f"{nb.stem}.html" for nb in lessons()]
    for nb_path in lessons():
        nb = nbformat.read(nb_path, as_version=4)
        figures = sum(PLOTLY_MIMETYPE in o.get("data", {}) for c in nb.cells for o in c.get("outputs", []))
        page = (out / f"{nb_path.stem}.html").read_text()
        assert page.count('class="symml-figure"') == figures, nb_path.name
        assert page.count("Plotly.newPlot(") == figures
        assert '<script src="static/plotly.min.js"></script>' in page
        assert site.binder_url(f"lessons/{nb_path.name}") in page
        assert site.title(nb) in page
    assert (out / "static" / "plotly.min.js").stat().st_size > 1_000_000
    assert sum(page.read_text().count("symml-figure") for page in pages) > 0


def test_index_links_every_lesson_and_the_instructors_page(built):
    out, _ = built
    index = (out / "index.html").read_text()
    for nb_path in lessons():
        assert f'href="{nb_path.stem}.html"' in index
    assert 'href="instructors.html"' in index
    guide = (out / "instructors.html").read_text()
    assert "symml grade" in guide and "JupyterHub" in guide


def test_binder_links_point_at_jupyterlab():
    url = site.binder_url("lessons/00_learning_from_examples.ipynb")
    assert re.fullmatch(r"https://mybinder\.org/v2/gh/[\w.-]+/[\w.-]+/HEAD\?urlpath=lab/tree/lessons/00_learning_from_examples\.ipynb", url)


def test_readme_links_every_lesson_on_binder():
    readme = (ROOT / "README.md").read_text()
    linked = set(re.findall(r"\]\((lessons/\d\d_\w+\.ipynb)\)", readme))
    assert linked == {f"lessons/{p.name}" for p in lessons()}
    for path in linked:
        assert site.binder_url(path) in readme
        assert (ROOT / path.replace("lessons/", "exercises/")).exists()
