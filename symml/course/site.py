r"""The course website: every executed lesson as a static HTML page, built offline.

    symml site [--out _site]      # or: make site

Each ``lessons/NN_*.ipynb`` becomes ``NN_*.html`` (nbconvert's JupyterLab template) with its
plotly figures drawn by a copy of plotly.js that ships with the ``plotly`` package, so the figures
stay interactive (rotate, zoom) on the page. Every page links to its problem set and opens it, and
the lesson, on Binder or Colab; ``index.html`` lists the lessons and ``instructors.html`` is
``docs/instructors.md``. Publish the folder anywhere static (GitHub Pages).

The site is self-contained: nothing is fetched while building it, nor when a page is opened.
Every script a page loads lies in ``static/``: plotly.js from ``plotly``, MathJax 2.7 (which
typesets the equations) from ``jupyter-server-mathjax``. nbconvert's template would load require.js,
MathJax, Mermaid and the widget manager from CDNs: the template below drops the three that no
page needs and points MathJax at the local copy.

A page shows the lesson as a reader meets it, not as the repository stores it: the Colab install
cell (``symml.course.colab``, which does nothing outside Colab) is left out, and the code cells
are numbered 1, 2, 3, … in reading order, as a fresh kernel run top to bottom numbers them.

Building needs the ``dev`` extra (nbconvert, and jupyter-server-mathjax for MathJax); without it
``symml site`` says in one line what to install.
"""

import argparse
import html
import importlib
import json
import shutil
import sys
from pathlib import Path

import plotly

from symml.course import ROOT
from symml.plot import PLOTLY_MIMETYPE

REPOSITORY = "symml/symml"  # on GitHub; Binder builds the image from binder/ of its default branch
BRANCH = "main"  # the default branch, which Colab opens notebooks from
BINDER = f"https://mybinder.org/v2/gh/{REPOSITORY}/HEAD?urlpath=lab/tree/{{path}}"
COLAB = f"https://colab.research.google.com/github/{REPOSITORY}/blob/{BRANCH}/{{path}}"
PLOTLY_JS = Path(plotly.__file__).parent / "package_data" / "plotly.min.js"

# nbconvert's lab template, less what would load from a CDN: require.js (no page uses it), the
# widget manager (executed notebooks keep no widget state) and Mermaid (no lesson has a diagram).
# jupyter-server-mathjax ships MathJax's STIX-Web fonts only (not its default TeX fonts): typeset
# with those, as the classic Notebook did, and never with whatever fonts the reader has installed.
# The invisible MathML copy kept for screen readers would ask for a TeX font (\mathcal's) that is
# not there; its font does not matter, so it keeps the page's.
TEMPLATE = """{%- extends 'index.html.j2' -%}
{%- block html_head_js_requirejs -%}{%- endblock -%}
{%- block jupyter_widgets -%}{%- endblock -%}
{%- block html_head_js_mermaidjs -%}{%- endblock -%}
{%- block html_head_js_mathjax -%}
<script type="text/x-mathjax-config">
MathJax.Hub.Config({"HTML-CSS": {availableFonts: [], preferredFont: null, webFont: "STIX-Web", imageFont: null}});
</script>
<style>.MJX_Assistive_MathML [mathvariant] { font-family: inherit; }</style>
{{ super() }}
{%- endblock html_head_js_mathjax -%}
"""
MATHJAX_URL = "static/mathjax/MathJax.js?config=TeX-AMS-MML_HTMLorMML-full,Safe"
# what building needs beyond symml's own dependencies: module -> the package pip installs (the dev extra has them)
DEV_MODULES = {"nbformat": "nbformat", "nbconvert": "nbconvert", "jupyter_server_mathjax": "jupyter-server-mathjax"}
INSTALL_DEV = "pip install -e '.[dev]' in a checkout (or pip install 'symml[dev]')"


def missing_dev_packages() -> list[str]:
    """The packages of the dev extra that ``symml site`` needs and this Python lacks."""
    missing = []
    for module, package in DEV_MODULES.items():
        try:
            importlib.import_module(module)
        except ImportError:
            missing.append(package)
    return missing


def mathjax_folder() -> Path:
    """MathJax 2.7 as ``jupyter-server-mathjax`` ships it (the classic Notebook's own copy)."""
    try:
        import jupyter_server_mathjax
    except ImportError as e:
        raise ImportError(f"the website needs MathJax from jupyter-server-mathjax: {INSTALL_DEV}") from e
    return Path(jupyter_server_mathjax.__file__).parent / "static"


def binder_url(path: str) -> str:
    """The link that opens ``path`` (e.g. ``lessons/00_learning_from_examples.ipynb``) in JupyterLab on Binder."""
    return BINDER.format(path=path)


def colab_url(path: str) -> str:
    """The link that opens ``path`` in Google Colab, from the repository's default branch on GitHub."""
    return COLAB.format(path=path)


def problem_set(lesson: Path, root: Path = ROOT) -> str | None:
    """``exercises/NN_….ipynb``, the problem set of lesson ``lessons/NN_….ipynb`` (a lesson in two notebooks shares one), or None."""
    found = sorted((root / "exercises").glob(f"{lesson.name[:2]}_*.ipynb"))
    return f"exercises/{found[0].name}" if found else None


def title(nb) -> str:
    """The text of the notebook's first Markdown heading."""
    for cell in nb.cells:
        if cell.cell_type == "markdown":
            for line in cell.source.splitlines():
                if line.startswith("#"):
                    return line.lstrip("#").strip()
    return "untitled"


def reader_view(nb) -> None:
    """The notebook as a reader meets it: without the Colab install cell, code cells numbered 1, 2, 3, …

    A cell that was never run keeps no number; every other code cell, and its ``Out [n]``, gets the
    next one, in reading order."""
    from symml.course import colab  # colab imports this module: import it when needed

    nb.cells = [c for c in nb.cells if not colab.is_colab_cell(c)]
    count = 0
    for cell in nb.cells:
        if cell.cell_type != "code" or cell.get("execution_count") is None:
            continue
        count += 1
        cell.execution_count = count
        for output in cell.get("outputs", []):
            if "execution_count" in output:
                output["execution_count"] = count


def _plotly_as_html(nb) -> int:
    """Give every plotly output an HTML representation that draws it; returns how many."""
    count = 0
    for cell in nb.cells:
        for output in cell.get("outputs", []):
            figure = output.get("data", {}).get(PLOTLY_MIMETYPE)
            if figure is None:
                continue
            div = f"figure-{count + 1}"
            spec = json.dumps({"data": figure.get("data", []), "layout": figure.get("layout", {}), "config": figure.get("config", {})})
            output["data"] = {
                "text/html": f'<div id="{div}" class="symml-figure"></div>\n'
                f'<script>(function () {{ const f = {spec}; Plotly.newPlot("{div}", f.data, f.layout, f.config); }})();</script>'
            }
            count += 1
    return count


NAV_STYLE = "font-family:sans-serif;padding:.6em 1em;border-bottom:1px solid #ddd"


def _lesson_page(page: str, links: list[str]) -> str:
    """nbconvert's page with plotly.js in its head and a navigation bar at the top of its body."""
    page = page.replace("</head>", '<script src="static/plotly.min.js"></script>\n</head>', 1)
    start = page.index("<body")
    end = page.index(">", start) + 1
    return page[:end] + f'<nav style="{NAV_STYLE}">{" · ".join(links)}</nav>' + page[end:]


def _plain_page(title_: str, content: str) -> str:
    return f"""<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><title>{html.escape(title_)}</title>
<style>body{{font-family:sans-serif;max-width:50em;margin:2em auto;padding:0 1em;line-height:1.5}}li{{margin:.4em 0}}code{{background:#f4f4f4}}</style>
</head><body>{content}</body></html>
"""


def build(out: Path, root: Path = ROOT) -> list[Path]:
    """Write the website into ``out`` (replacing it); returns the lesson pages written."""
    import nbformat
    from nbconvert import HTMLExporter
    from nbconvert.filters import markdown2html

    lessons = sorted((root / "lessons").glob("[0-9][0-9]_*.ipynb"))
    if not lessons:
        raise ValueError(f"no lessons in {root / 'lessons'}")
    if out.exists():
        shutil.rmtree(out)
    (out / "static").mkdir(parents=True)
    shutil.copy(PLOTLY_JS, out / "static" / "plotly.min.js")
    shutil.copytree(mathjax_folder(), out / "static" / "mathjax")
    exporter = HTMLExporter(template_name="lab", raw_template=TEMPLATE, mathjax_url=MATHJAX_URL)

    pages, items = [], []
    for path in lessons:
        nb = nbformat.read(path, as_version=4)
        reader_view(nb)
        figures, name, launch = _plotly_as_html(nb), title(nb), binder_url(f"lessons/{path.name}")
        body, _ = exporter.from_notebook_node(nb, resources={"metadata": {"name": name}})
        lesson, exercises = f"lessons/{path.name}", problem_set(path, root)
        links = ['<a href="index.html">symml</a>', f'this lesson on <a href="{launch}">Binder</a> · <a href="{colab_url(lesson)}">Colab</a>']
        if exercises:
            links.append(f'its problem set on <a href="{binder_url(exercises)}">Binder</a> · <a href="{colab_url(exercises)}">Colab</a>')
        page = out / f"{path.stem}.html"
        page.write_text(_lesson_page(body, links))
        pages.append(page)
        items.append(f'<li value="{int(path.name[:2])}"><a href="{page.name}">{html.escape(name)}</a> — {figures} figure{"s" * (figures != 1)} · '
                     f'<a href="{launch}">Binder</a> · <a href="{colab_url(lesson)}">Colab</a></li>')

    index = (f"<h1>symml: symmetry-equivariant machine learning</h1>"
             f"<p>A course in {len({p.name[:2] for p in lessons})} lessons, each with an autotested problem set. Read the lessons here, or run them: "
             f'launch the course on <a href="{binder_url(f"lessons/{lessons[0].name}")}">Binder</a> or <a href="{colab_url(f"lessons/{lessons[0].name}")}">Colab</a>, or <code>make lab</code> on your machine.</p>'
             f'<ol start="0">{"".join(items)}</ol><p><a href="instructors.html">For instructors</a></p>')
    (out / "index.html").write_text(_plain_page("symml", index))
    guide = root / "docs" / "instructors.md"
    if guide.exists():
        (out / "instructors.html").write_text(_plain_page("symml for instructors", '<p><a href="index.html">symml</a></p>' + markdown2html(guide.read_text())))
    return pages


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog="symml site", description="Build the course website from the executed lessons.")
    parser.add_argument("--out", type=Path, default=ROOT / "_site", help="output folder (default: _site)")
    args = parser.parse_args(argv)
    missing = missing_dev_packages()
    if missing:
        print(f"symml site needs the dev extra ({', '.join(missing)} missing): {INSTALL_DEV}", file=sys.stderr)
        return 2
    pages = build(args.out)
    print(f"wrote {len(pages)} lesson pages, index.html and instructors.html to {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
