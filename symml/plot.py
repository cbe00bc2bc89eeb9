"""Show a plotly figure: interactive in JupyterLab, still meaningful on GitHub.

``show(fig, summary)`` displays one output holding two representations of the figure:

* ``application/vnd.plotly.v1+json``: the figure as JSON. JupyterLab (with the ``jupyterlab-plotly``
  extension that ships with plotly), VS Code and nteract draw it interactively, and the notebook
  does not embed plotly.js (~3.5 MB) the way ``fig.show()`` with the HTML renderer would;
* ``text/plain``: a one-line summary, which is what a static render (GitHub, a terminal, nbviewer
  without JavaScript) shows instead, e.g. "3D scatter: water (3 atoms) and a rotated copy".

Keep figures small (each well under ~200 KB of JSON): plot hundreds of points, not millions.
Cells that call ``show`` should carry the ``nbval-ignore-output`` tag: the JSON is not meant to be
compared digit by digit.
"""

import base64
import json
import numbers

import numpy as np

PLOTLY_MIMETYPE = "application/vnd.plotly.v1+json"
MAX_BYTES = 200_000


def figure_json(fig) -> dict:
    """``fig`` as plain JSON, its numeric arrays packed as base64 typed arrays.

    Plotly already packs numpy arrays and tensors that way; Python lists of numbers (a loss curve
    collected with ``append``) are packed here too, as float32: a 600-point curve takes 3 kB instead
    of 30 kB once the notebook is indented.
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
    if isinstance(value, list):
        return [_pack(v) for v in value]
    return value


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
    display({PLOTLY_MIMETYPE: figure, "text/plain": f"[figure] {summary}"}, raw=True)
