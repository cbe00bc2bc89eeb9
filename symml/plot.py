"""Show a plotly figure: interactive in JupyterLab, a picture on GitHub.

``show(fig, summary)`` displays one output holding up to three representations of the figure:

* ``application/vnd.plotly.v1+json``: the figure as JSON. JupyterLab (with the ``jupyterlab-plotly``
  extension that ships with plotly), VS Code and nteract draw it interactively, and the notebook
  does not embed plotly.js (~3.5 MB) the way ``fig.show()`` with the HTML renderer would;
* ``image/png``: the same figure drawn once by kaleido's headless Chromium, which is what a reader
  without a kernel or JavaScript sees (GitHub, nbviewer, Colab before running). Only where kaleido
  and a Chromium-based browser are installed (``pip install symml[dev]``); elsewhere (Binder, a
  student's laptop) this representation is simply left out, with no warning;
* ``text/plain``: a one-line summary for a terminal, e.g. "3D scatter: water (3 atoms) and a
  rotated copy".

A front end shows the richest representation it can draw: JupyterLab prefers the plotly JSON to the
PNG, nbconvert and GitHub fall back to the PNG.

Keep figures small (each well under ~200 KB of JSON, a PNG of some 20-80 kB): plot hundreds of
points, not millions. Cells that call ``show`` should carry the ``nbval-ignore-output`` tag: the
JSON and the pixels are not meant to be compared digit by digit.
"""

import asyncio
import atexit
import base64
import json
import numbers
import threading

import numpy as np

PLOTLY_MIMETYPE = "application/vnd.plotly.v1+json"
MAX_BYTES = 200_000
PNG_WIDTH, PNG_HEIGHT = 700, 450  # pixels, when the figure's layout sets no size; scale 1
PNG_TIMEOUT = 60  # seconds for Chromium to start or to draw one figure


def figure_json(fig) -> dict:
    """``fig`` as plain JSON, its numeric arrays packed as base64 typed arrays.

    Plotly already packs numpy arrays and tensors that way; Python lists of numbers (a loss curve
    collected with ``append``) and lists of equal rows (a heatmap's ``z``) are packed here too, as
    float32: a 600-point curve takes 3 kB instead of 30 kB once the notebook is indented.
    """
    figure = json.loads(fig.to_json())
    figure["data"] = [_pack(trace) for trace in figure.get("data", [])]
    figure.setdefault("config", {})["displaylogo"] = False
    return figure


def _pack(value):
    if isinstance(value, dict):
        return {k: _pack(v) for k, v in value.items()}
    if isinstance(value, list) and len(value) >= 16 and all(_is_number(v) for v in value):
        data = np.asarray(value, dtype=np.float32)
        return {"dtype": "f4", "bdata": base64.b64encode(data.tobytes()).decode("ascii")}
    if _is_matrix(value):  # a heatmap's z: one typed array with its shape (plotly.js draws no list of them)
        data = np.asarray(value, dtype=np.float32)
        shape = ", ".join(str(n) for n in data.shape)
        return {"dtype": "f4", "bdata": base64.b64encode(data.tobytes()).decode("ascii"), "shape": shape}
    if isinstance(value, list):
        return [_pack(v) for v in value]
    return value


def _is_matrix(value) -> bool:
    """A list of at least 16 numbers in rows of one length (a 2D list such as a heatmap's z)."""
    return (isinstance(value, list) and len(value) > 1 and all(isinstance(row, list) and row for row in value)
            and len({len(row) for row in value}) == 1 and len(value) * len(value[0]) >= 16
            and all(_is_number(v) for row in value for v in row))


def _is_number(v) -> bool:
    return isinstance(v, numbers.Real) and not isinstance(v, bool)


def show(fig, summary: str) -> None:
    """Display plotly ``fig`` with a one-line text ``summary`` for static renders; returns nothing.

    Raises ``ValueError`` if the figure's JSON exceeds ``MAX_BYTES``: a notebook stays small.
    """
    from IPython.display import display

    figure = figure_json(fig)
    size = len(json.dumps(figure))
    if size > MAX_BYTES:
        raise ValueError(f"figure is {size / 1000:.0f} kB of JSON, more than {MAX_BYTES / 1000:.0f} kB: plot fewer points")
    bundle = {PLOTLY_MIMETYPE: figure, "text/plain": f"[figure] {summary}"}
    png = figure_png(figure)
    if png is not None:
        bundle["image/png"] = base64.b64encode(png).decode("ascii")
    display(bundle, raw=True)


def figure_png(figure: dict) -> bytes | None:
    """``figure`` (plotly JSON, as from ``figure_json``) drawn as PNG bytes, or ``None`` where kaleido
    or a Chromium-based browser is missing or fails: the static picture is a bonus, never an error."""
    global _BROWSER
    if _BROWSER is None:
        _BROWSER = _Browser.start()
    if not _BROWSER:
        return None
    layout = figure.get("layout", {})
    opts = {"format": "png", "width": layout.get("width", PNG_WIDTH), "height": layout.get("height", PNG_HEIGHT), "scale": 1}
    try:
        return _BROWSER.run(_BROWSER.kaleido.calc_fig(figure, opts=opts))
    except Exception:  # noqa: BLE001 (kaleido raises many kinds; a figure it cannot draw still shows interactively)
        return None


_BROWSER = None  # None: not tried yet; False: no kaleido or no browser here; else the open _Browser


class _Browser:
    """One headless Chromium (through kaleido), opened at the first figure and kept for the kernel's
    life: opening costs seconds, each figure after that a fraction of one.

    kaleido is asynchronous and a Jupyter kernel already runs an event loop, so the browser lives on
    its own loop in a daemon thread; every call waits at most ``PNG_TIMEOUT`` seconds, so a browser
    that hangs cannot hang the notebook.
    """

    def __init__(self, kaleido):
        self.loop = asyncio.new_event_loop()
        threading.Thread(target=self.loop.run_forever, name="symml-kaleido", daemon=True).start()
        self.kaleido = self.run(self._open(kaleido))
        atexit.register(self.close)

    @classmethod
    def start(cls):
        """An open ``_Browser``, or ``False`` where kaleido, a browser, or its start is missing."""
        try:
            import kaleido
            from choreographer.browsers.chromium import Chromium
        except ImportError:
            return False
        if Chromium.find_browser(skip_local=False) is None:  # never download one: kaleido_get_chrome would
            return False
        try:
            return cls(kaleido)
        except Exception:  # noqa: BLE001 (a browser that will not start: no PNGs, the figures still show)
            return False

    @staticmethod
    async def _open(kaleido):
        k = kaleido.Kaleido(n=1, mathjax=False)  # MathJax would come from a CDN; labels are plain text
        await k.__aenter__()
        return k

    def run(self, coroutine):
        return asyncio.run_coroutine_threadsafe(coroutine, self.loop).result(PNG_TIMEOUT)

    def close(self) -> None:
        try:
            self.run(self.kaleido.__aexit__(None, None, None))
        except Exception:  # noqa: BLE001, S110 (at exit, a browser already gone is fine)
            pass
        self.loop.call_soon_threadsafe(self.loop.stop)
