"""The course website builds offline, with a page per lesson, its figures and its Binder and Colab
links, and works offline: opened in headless Chromium with every request off this machine refused,
each lesson page loads nothing from elsewhere, MathJax typesets its equations and plotly draws its
figures."""

import contextlib
import functools
import http.server
import re
import socket
import subprocess
import sys
import threading

import nbformat
import pytest

from symml.course import ROOT, site
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
        assert site.colab_url(f"lessons/{nb_path.name}") in page
        assert site.colab_url(site.problem_set(nb_path)) in page  # a lesson in two notebooks: both link its one problem set
        assert site.title(nb) in page
    assert (out / "static" / "plotly.min.js").stat().st_size > 1_000_000
    assert sum(page.read_text().count("symml-figure") for page in pages) > 0


def test_index_links_every_lesson_and_the_instructors_page(built):
    out, _ = built
    index = (out / "index.html").read_text()
    for nb_path in lessons():  # numbered by the lesson's number: a lesson in two notebooks is one number twice
        assert f'<li value="{int(nb_path.name[:2])}"><a href="{nb_path.stem}.html"' in index
    assert f"A course in {len({p.name[:2] for p in lessons()})} lessons" in index
    assert 'href="instructors.html"' in index
    guide = (out / "instructors.html").read_text()
    assert "symml grade" in guide and "JupyterHub" in guide


def code_cells_a_reader_sees(nb) -> int:
    """The notebook's code cells less the Colab install cell (told by what it does, not by its id)."""
    return sum(c.cell_type == "code" and "google.colab" not in c.source for c in nb.cells)


INPUT_PROMPT = re.compile(r'class="jp-InputPrompt jp-InputArea-prompt">In(?:\s|&nbsp;)*\[([^\]]*)\]:')
OUTPUT_PROMPT = re.compile(r'class="jp-OutputPrompt jp-OutputArea-prompt">Out(?:\s|&nbsp;)*\[([^\]]*)\]:')


def test_pages_show_the_lesson_as_a_reader_runs_it(built):
    """No Colab install cell on the page, and the code cells numbered 1, 2, 3, … in reading order."""
    out, _ = built
    for nb_path in lessons():
        nb = nbformat.read(nb_path, as_version=4)
        page = (out / f"{nb_path.stem}.html").read_text()
        assert "google.colab" not in page and "install symml" not in page, f"{nb_path.name}: the Colab install cell is on the page"
        numbers = INPUT_PROMPT.findall(page)
        assert numbers == [str(k) for k in range(1, code_cells_a_reader_sees(nb) + 1)], f"{nb_path.name}: In [...] = {numbers}"
        shown = [int(n) for n in OUTPUT_PROMPT.findall(page) if n]
        assert shown == sorted(shown) and set(shown) <= set(range(1, len(numbers) + 1)), f"{nb_path.name}: Out [...] = {shown}"


def test_reader_view_renumbers_and_keeps_unrun_cells_blank():
    nb = nbformat.v4.new_notebook()
    nb.cells = [nbformat.v4.new_code_cell('import sys, subprocess\nif "google.colab" in sys.modules:\n    subprocess.run(["pip", "install", "symml"])', id="old-colab", execution_count=1),
                nbformat.v4.new_markdown_cell("# A lesson"),
                nbformat.v4.new_code_cell("x = 1", execution_count=7),
                nbformat.v4.new_code_cell("def f(): pass"),
                nbformat.v4.new_code_cell("x", execution_count=3, outputs=[nbformat.v4.new_output("execute_result", {"text/plain": "1"}, execution_count=3)])]
    site.reader_view(nb)
    assert [c.get("execution_count") for c in nb.cells] == [None, 1, None, 2]
    assert nb.cells[3].outputs[0].execution_count == 2
    nbformat.validate(nb)


# `symml site` in a fresh Python where the dev extra's modules cannot be imported (None in sys.modules)
WITHOUT_DEV = """
import sys
for name in {blocked!r}:
    sys.modules[name] = None
from symml.course.__main__ import main
sys.exit(main(["site", "--out", sys.argv[1]]))
"""


@pytest.mark.parametrize("blocked", [["jupyter_server_mathjax"], ["nbconvert", "jupyter_server_mathjax"]], ids=["no-mathjax", "no-nbconvert"])
def test_site_without_the_dev_extra_says_what_to_install(tmp_path, blocked):
    proc = subprocess.run([sys.executable, "-c", WITHOUT_DEV.format(blocked=set(blocked)), str(tmp_path / "site")],
                          capture_output=True, text=True, timeout=300, check=False)
    assert proc.returncode == 2 and proc.stdout == "", proc.stdout + proc.stderr
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and "Traceback" not in proc.stderr, proc.stderr
    assert "pip install" in lines[0] and "[dev]" in lines[0] and all(m.replace("_", "-") in lines[0] for m in blocked), lines[0]
    assert not (tmp_path / "site").exists()


# what a page may load from elsewhere: nothing (links a reader clicks, <a href>, are not loads)
EXTERNAL_LOAD = re.compile(r"""<script[^>]*\ssrc=["']?(?:https?:)?//|<link[^>]*\shref=["']?(?:https?:)?//|<img[^>]*\ssrc=["']?(?:https?:)?//"""
                           r"""|\bimport\(\s*["'](?:https?:)?//|url\(\s*["']?(?:https?:)?//|@import""", re.IGNORECASE)


def test_pages_load_nothing_from_elsewhere(built):
    out, pages = built
    for page in [*pages, out / "index.html", out / "instructors.html"]:
        text = page.read_text()
        assert not EXTERNAL_LOAD.findall(text), f"{page.name} loads {EXTERNAL_LOAD.findall(text)[:3]}"
        for src in re.findall(r'<script[^>]*\ssrc="([^"?]+)', text):
            assert (out / src).is_file(), f"{page.name}: {src} is not in the site folder"
    assert (out / "static" / "mathjax" / "MathJax.js").is_file()


def test_binder_links_point_at_jupyterlab():
    url = site.binder_url("lessons/00_learning_from_examples.ipynb")
    assert re.fullmatch(r"https://mybinder\.org/v2/gh/[\w.-]+/[\w.-]+/HEAD\?urlpath=lab/tree/lessons/00_learning_from_examples\.ipynb", url)


def test_colab_links_open_the_notebook_from_github():
    url = site.colab_url("exercises/00_learning_from_examples.ipynb")
    assert url == "https://colab.research.google.com/github/symml/symml/blob/main/exercises/00_learning_from_examples.ipynb"
    for page in [*lessons(), *sorted((ROOT / "exercises").glob("*.ipynb"))]:  # each link opens a file the repository has
        path = page.relative_to(ROOT).as_posix()
        link = re.fullmatch(r"https://colab\.research\.google\.com/github/([\w.-]+/[\w.-]+)/blob/([\w.-]+)/(.+)", site.colab_url(path))
        assert link and (ROOT / link.group(3)).is_file(), site.colab_url(path)


def test_readme_links_every_lesson_on_binder():
    readme = (ROOT / "README.md").read_text()
    linked = set(re.findall(r"\]\((lessons/\d\d_\w+\.ipynb)\)", readme))
    assert linked == {f"lessons/{p.name}" for p in lessons()}
    for path in linked:
        assert site.binder_url(path) in readme
        assert site.problem_set(ROOT / path) is not None, f"{path} has no problem set of its number"


def test_readme_opens_every_lesson_and_problem_set_on_colab():
    readme = (ROOT / "README.md").read_text()
    for nb_path in lessons():
        assert site.colab_url(f"lessons/{nb_path.name}") in readme, nb_path.name
        assert site.colab_url(site.problem_set(nb_path)) in readme, nb_path.name


# ---------------------------------------------------------------- the built site in a browser, offline


@contextlib.contextmanager
def serve(folder):
    """The folder over HTTP on 127.0.0.1 (as GitHub Pages would serve it), in a thread."""

    class Quiet(http.server.SimpleHTTPRequestHandler):
        def log_message(self, *args):  # no request log on stderr
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), functools.partial(Quiet, directory=str(folder)))
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()


def is_local(url: str) -> bool:
    return url.startswith(("file:", "data:", "blob:", "about:")) or re.match(r"https?://(127\.0\.0\.1|localhost)(:\d+)?/", url) is not None


def math_in(nb) -> int:
    """How many display equations ($$...$$) the notebook's Markdown holds."""
    return sum(c.source.count("$$") // 2 for c in nb.cells if c.cell_type == "markdown")


def figures_in(nb) -> int:
    return sum(PLOTLY_MIMETYPE in o.get("data", {}) for c in nb.cells for o in c.get("outputs", []))


@pytest.fixture(scope="module")
def offline_browser(built, chromium_executable):
    """(open_page, refused): a Chromium page opener on the served site, and every request it refused."""
    playwright_api = pytest.importorskip("playwright.sync_api", reason="the browser test needs playwright (pip install -e '.[test]')")
    from browser.labserver import chromium

    out, _ = built
    refused = []

    def only_local(route):
        if is_local(route.request.url):
            route.continue_()
        else:
            refused.append(route.request.url)
            route.abort("internetdisconnected")

    with serve(out) as url, playwright_api.sync_playwright() as p, chromium(p, chromium_executable) as context:
        context.route("**/*", only_local)

        def open_page(name):
            """The page, and the script errors and missing files (HTTP 404...) it met."""
            page = context.new_page()
            errors = []
            page.on("pageerror", lambda e: errors.append(str(e)))
            page.on("response", lambda r: r.status >= 400 and not r.url.endswith("/favicon.ico") and errors.append(f"{r.status} {r.url}"))
            page.goto(f"{url}/{name}", wait_until="load")
            return page, errors

        yield open_page, refused


@pytest.mark.slow
@pytest.mark.parametrize("nb_path", lessons(), ids=lambda p: p.stem[:2])
def test_lesson_page_works_offline(offline_browser, nb_path):
    open_page, refused = offline_browser
    nb = nbformat.read(nb_path, as_version=4)
    page, errors = open_page(f"{nb_path.stem}.html")
    try:
        # MathJax's start-up signals "End" after the page's first typesetting; then the jobs still queued
        page.wait_for_function("() => window.MathJax && MathJax.Hub && MathJax.Hub.Startup.signal.posted.map(String).includes('End')",
                               timeout=120_000)
        page.evaluate("() => { window.typesetDone = false; MathJax.Hub.Queue(() => { window.typesetDone = true; }); }")
        page.wait_for_function("() => window.typesetDone", timeout=60_000)
        math = page.evaluate("""() => ({
            sources: document.querySelectorAll('script[type^="math/tex"]').length,
            displays: document.querySelectorAll('script[type="math/tex; mode=display"]').length,
            typeset: document.querySelectorAll('.MathJax[id$="-Frame"]').length,
            errors: document.querySelectorAll('.MathJax .merror, .MathJax_Error').length,
            text: [...document.querySelectorAll('.jp-RenderedMarkdown')].map(e => e.innerText).join('\\n'),
            failed: [...document.querySelectorAll('script[type^="math/tex"]')]
                .filter(s => { const f = document.getElementById(s.id + '-Frame'); return !f || f.classList.contains('MathJax_Error') || f.querySelector('.merror'); })
                .map(s => s.textContent.slice(0, 120)),
        })""")
        figures = page.evaluate("""() => [...document.querySelectorAll('.symml-figure')].map(div => ({
            drawn: Boolean(div._fullLayout) && div.querySelector('.main-svg') !== null,
            scenes: Object.keys(div._fullLayout || {}).filter(k => /^scene\\d*$/.test(k)).length,
            canvases: div.querySelectorAll('.gl-container canvas').length,
        }))""")
    finally:
        page.close()
    assert refused == [], f"the page asked the network for {refused[:5]}"
    assert errors == [], f"script errors or missing files: {errors[:3]}"
    assert math["displays"] >= math_in(nb), "MathJax did not find every display equation"
    assert math["sources"] > 0 and math["typeset"] == math["sources"], f"equations left untypeset: {math['failed'][:3]}"
    assert math["errors"] == 0, f"MathJax could not typeset {math['failed'][:3]}"
    assert "$$" not in math["text"], "raw TeX ($$) is visible on the page"
    assert len(figures) == figures_in(nb)
    assert all(f["drawn"] for f in figures), f"plotly did not draw every figure: {figures}"
    assert all(f["canvases"] >= 1 for f in figures if f["scenes"]), "a 3D scene has no WebGL canvas"
