"""JupyterLab from the Binder environment, in headless Chromium: a lesson runs, its plotly 3D
figure is drawn and turns when dragged, and its ipywidgets slider redraws the figure.

Chromium is Debian's (`apt-get install chromium`, done by .ci/run), driven by Playwright; nothing
is downloaded. Without it the test is skipped, with the reason (in CI it fails: see
``require_system`` in conftest.py). Screenshots go to tests/artifacts/ (or $SYMML_ARTIFACTS).
"""

import os
import time
from pathlib import Path

import nbformat
import pytest
from browser import binderenv
from browser.labserver import JupyterLab, chromium

pytestmark = pytest.mark.slow
playwright_api = pytest.importorskip("playwright.sync_api", reason="the browser test needs playwright (pip install -e '.[test]')")

LESSON = "lessons/01_why_symmetry.ipynb"  # a 3D figure and a slider that redraws one
ARTIFACTS = Path(os.environ.get("SYMML_ARTIFACTS", Path(__file__).parent / "artifacts"))


@pytest.fixture(scope="module")
def lab(chromium_executable):
    env = binderenv.shared()
    with JupyterLab(env.bin, env.repo, env=env.env()) as server:
        yield server


def trace_visibility(page):
    """The visibility of each trace of the first 3D figure, as plotly itself reports it."""
    return page.evaluate("""() => {
        const gd = [...document.querySelectorAll('.js-plotly-plot')].find(g => g._fullLayout && g._fullLayout.scene);
        return gd._fullData.map(t => t.visible);
    }""")


# every code cell of the open notebook, from JupyterLab's model: JupyterLab draws only the cells
# in view, so counting what the page shows would miss the others
CODE_CELLS = """() => {
    const panel = window.jupyterapp && window.jupyterapp.shell.currentWidget;
    if (!panel || !panel.content || !panel.content.model) return null;
    const cells = panel.content.model.cells, found = [];
    for (let i = 0; i < cells.length; i++) {
        const cell = cells.get(i);
        if (cell.type === 'code') found.push({count: cell.executionCount, outputs: cell.outputs.toJSON()});
    }
    return found;
}"""


def wait_until_every_cell_ran(page, expected: int, timeout: float = 300):
    """Wait until each of the notebook's ``expected`` code cells has run and the kernel is idle; returns the cells."""
    page.wait_for_function(f"() => {{ const c = ({CODE_CELLS})(); return c !== null && c.length === {expected} && c.every(x => x.count !== null); }}",
                           timeout=timeout * 1000)
    page.wait_for_selector(".jp-Notebook-ExecutionIndicator[data-status='idle']", timeout=timeout * 1000)
    return page.evaluate(CODE_CELLS)


def poll(condition, timeout: float = 30, every: float = 0.25):
    """Wait until ``condition()`` is true (its last value is returned), at most ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    while not (value := condition()) and time.monotonic() < deadline:
        time.sleep(every)
    return value


def test_lesson_figures_and_widgets_work_in_jupyterlab(lab, chromium_executable):
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    for old in ARTIFACTS.glob("lesson01-*"):
        old.unlink()
    with playwright_api.sync_playwright() as p, chromium(p, chromium_executable) as context:
        page = context.new_page()
        try:
            run_the_lesson(page, lab)
        except Exception:
            page.screenshot(path=ARTIFACTS / "lesson01-failure.png", full_page=True)
            (ARTIFACTS / "lesson01-failure.txt").write_text(page.inner_text("body")[-20000:] + "\n\n" + lab.log())
            raise


def run_the_lesson(page, lab):
    page.goto(lab.lab_url(LESSON))
    page.wait_for_selector(".jp-NotebookPanel .jp-Cell", timeout=120_000)
    # JupyterLab may ask which kernel to use (the notebook's own is preselected): accept it
    select = page.locator(".jp-Dialog button.jp-mod-accept", has_text="Select")
    try:
        select.wait_for(timeout=15_000)
        select.click()
    except playwright_api.TimeoutError:
        pass
    page.wait_for_selector(".jp-Notebook-ExecutionIndicator[data-status='idle']", timeout=120_000)

    # Run ▸ Run All Cells, as a student would
    page.locator(".lm-MenuBar-itemLabel", has_text="Run").first.click()
    page.locator(".lm-Menu-itemLabel", has_text="Run All Cells").first.click()

    # every code cell of the lesson ran, none raised or wrote to stderr (read from the notebook's model)
    expected = sum(c.cell_type == "code" for c in nbformat.read(lab.root / LESSON, as_version=4).cells)
    cells = wait_until_every_cell_ran(page, expected)
    assert [c["count"] for c in cells] == list(range(1, expected + 1)), "Run All ran every cell once, in order"
    outputs = [o for c in cells for o in c["outputs"]]
    assert not [o for o in outputs if o["output_type"] == "error"], [o.get("ename") for o in outputs if o["output_type"] == "error"]
    assert not [o for o in outputs if o.get("name") == "stderr"], [o.get("text", "")[:300] for o in outputs if o.get("name") == "stderr"]

    # the 3D figures are drawn by WebGL, the slider by ipywidgets
    page.wait_for_selector(".js-plotly-plot .gl-container canvas", timeout=180_000)
    slider = page.locator(".widget-slider").first
    slider.wait_for(state="attached", timeout=180_000)  # JupyterLab may not paint cells out of view

    figure = page.locator(".js-plotly-plot").filter(has=page.locator(".gl-container")).first
    figure.scroll_into_view_if_needed()
    page.screenshot(path=ARTIFACTS / "lesson01-figure.png")

    # the 3D figure reacts: a click on a legend entry hides that molecule and redraws the scene
    before = figure.screenshot()
    figure.locator(".legend .traces", has_text="your friend's").first.locator(".legendtoggle").click()
    # plotly waits to tell a click from a double click, then hides the trace and redraws the scene
    assert poll(lambda: trace_visibility(page) == [True, "legendonly"]), f"clicking the legend did not hide the trace: {trace_visibility(page)}"
    assert poll(lambda: figure.screenshot() != before), "the 3D scene was not redrawn"
    page.screenshot(path=ARTIFACTS / "lesson01-figure-clicked.png")

    # the slider reacts: one step to the right redraws the turned molecule
    slider.scroll_into_view_if_needed()
    assert page.get_by_text("turned by 30°").count() >= 1
    slider.locator(".noUi-handle, .slider-handle, [role='slider']").first.focus()
    page.keyboard.press("ArrowRight")
    page.get_by_text("turned by 45°").first.wait_for(timeout=60_000)
    page.screenshot(path=ARTIFACTS / "lesson01-slider.png")
