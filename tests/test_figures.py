"""A reader without a kernel sees every figure: each committed plotly output carries a PNG.

GitHub and nbviewer render a notebook without running JavaScript, so the interactive plotly JSON is
invisible there. Each lesson is rendered here the way they do (nbconvert's HTML exporter, scripts
stripped) and every plotly figure must come out as an ``<img>``. The PNGs are made by
``symml.plot.show`` when the notebook is executed with kaleido installed (the ``dev`` extra).
"""

import base64
import contextlib
import io
import re
import sys
import warnings
from pathlib import Path

import nbformat
import numpy as np
import plotly.graph_objects as go
import pytest
from nbconvert import HTMLExporter

from symml import plot
from symml.plot import PLOTLY_MIMETYPE

ROOT = Path(__file__).resolve().parent.parent
LESSONS = sorted((ROOT / "lessons").glob("*.ipynb"))
MAX_NOTEBOOK_BYTES = 2_000_000
PNG_MAGIC = b"\x89PNG\r\n\x1a\n"
IMG = re.compile(r'<img\s[^>]*src="data:image/png;base64,([^"]+)"')


def static_html(nb) -> str:
    """The notebook as a reader without JavaScript sees it: nbconvert's HTML, every script removed."""
    html, _ = HTMLExporter(exclude_input=False).from_notebook_node(nb)
    return re.sub(r"<script\b.*?</script>", "", html, flags=re.DOTALL | re.IGNORECASE)


def figures(nb):
    """(cell index, output data) for every plotly output of the notebook."""
    for index, cell in enumerate(nb.cells):
        for output in cell.get("outputs", []):
            if PLOTLY_MIMETYPE in output.get("data", {}):
                yield index, output["data"]


@pytest.mark.parametrize("path", LESSONS, ids=lambda p: p.name)
def test_every_figure_is_an_image_without_javascript(path):
    nb = nbformat.read(path, as_version=4)
    found = list(figures(nb))
    shown = {"".join(src.split()) for src in IMG.findall(static_html(nb))}
    missing = []
    for index, data in found:
        png = data.get("image/png")
        if png is None or "".join(png.split()) not in shown:
            missing.append(index)
            continue
        assert base64.b64decode(png).startswith(PNG_MAGIC), f"cell {index}: image/png is not a PNG"
    assert not missing, f"{path.name}: figures in cells {missing} have no image a static render shows; re-execute the lesson with kaleido installed"


@pytest.mark.parametrize("path", LESSONS, ids=lambda p: p.name)
def test_notebook_stays_small(path):
    assert path.stat().st_size < MAX_NOTEBOOK_BYTES, f"{path.name} is {path.stat().st_size / 1e6:.1f} MB"


def test_without_kaleido_the_figure_still_shows_quietly(monkeypatch):
    """On Binder or a student's laptop (no kaleido, no browser) ``show`` gives the interactive figure
    and its summary, with no image, no error and nothing printed."""
    monkeypatch.setitem(sys.modules, "kaleido", None)  # import kaleido now raises ImportError
    monkeypatch.setattr(plot, "_BROWSER", None)
    shown = []
    monkeypatch.setattr("IPython.display.display", lambda bundle, raw: shown.append(bundle))
    out, err = io.StringIO(), io.StringIO()
    with warnings.catch_warnings(), contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        warnings.simplefilter("error")
        plot.show(go.Figure(go.Scatter(y=[1, 3, 2])), "three points")
    assert len(shown) == 1
    assert set(shown[0]) == {PLOTLY_MIMETYPE, "text/plain"}
    assert shown[0]["text/plain"] == "[figure] three points"
    assert out.getvalue() == err.getvalue() == ""


def test_without_a_browser_the_figure_still_shows(monkeypatch, tmp_path):
    """kaleido installed but its browser missing (BROWSER_PATH points nowhere): no image, no error."""
    monkeypatch.setenv("BROWSER_PATH", str(tmp_path / "no-such-browser"))
    monkeypatch.setattr(plot, "_BROWSER", None)
    assert plot.figure_png(plot.figure_json(go.Figure(go.Scatter(y=[1, 3, 2])))) is None
    assert plot._BROWSER is False, "the missing browser is remembered, not searched for at every figure"


def test_a_heatmap_from_nested_lists_is_one_typed_array_with_its_shape():
    """plotly.js draws no list of typed arrays: a 2D list must be packed whole, with its shape."""
    z = [[float(i * j) for i in range(5)] for j in range(4)]
    packed = plot.figure_json(go.Figure(go.Heatmap(z=z)))["data"][0]["z"]
    assert packed["shape"] == "4, 5"
    assert base64.b64decode(packed["bdata"]) == np.asarray(z, dtype=np.float32).tobytes()
