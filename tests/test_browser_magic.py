"""A person's view of ``%%promql``: typed into a new notebook in JupyterLab, headless Chromium.

The lab is the one ``make demo`` runs (the ``lab`` fixture of test_browser.py). A new
notebook gets ``%load_ext obskit``, a ``%%promql`` cell that must draw a plot, and a
cell where Tab after ``voicebot_ll`` must list the LLM latency series. Screenshots go to
test-artifacts/.
"""

from __future__ import annotations

import contextlib

import nbformat
from test_browser import ARTIFACTS, CHROMIUM, lab  # noqa: F401  (the fixture)


def _new_notebook(folder) -> str:
    nb = nbformat.v4.new_notebook()
    nb.metadata["kernelspec"] = {
        "name": "python3",
        "display_name": "Python 3",
        "language": "python",
    }
    nb.cells = [nbformat.v4.new_code_cell("")]
    nbformat.write(nb, folder / "promql-magic.ipynb")
    return "promql-magic.ipynb"


def _run_cell(page, text: str) -> None:
    editor = page.locator(".jp-Notebook .jp-Cell").last.locator(".cm-content")
    editor.click()
    page.keyboard.type(text)
    page.keyboard.press("Shift+Enter")


def test_promql_cell_plots_and_tab_completes_in_jupyterlab(lab) -> None:  # noqa: F811
    from playwright.sync_api import sync_playwright

    url, notebooks = lab
    name = _new_notebook(notebooks)
    args = ["--no-sandbox", "--disable-gpu", "--disable-background-networking",
            "--disable-component-update", "--disable-sync", "--no-first-run"]  # fmt: skip
    ARTIFACTS.mkdir(exist_ok=True)
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=args)
        page = browser.new_page(viewport={"width": 1400, "height": 1000})
        try:
            page.goto(url.replace("/lab?", f"/lab/tree/{name}?"), timeout=60_000)
            page.wait_for_selector(".jp-Notebook .jp-Cell .cm-content", timeout=60_000)
            with contextlib.suppress(Exception):  # JupyterLab may ask which kernel to start
                page.get_by_role("button", name="Select", exact=True).click(timeout=10_000)
            page.wait_for_selector(
                ".jp-Notebook-ExecutionIndicator[data-status='idle']", timeout=60_000
            )
            _run_cell(page, "%load_ext obskit")
            _run_cell(
                page,
                "%%promql --range 6h\nsum by (outcome) (rate(voicebot_calls_total[$__rate_interval]))",
            )
            plot = page.wait_for_selector(
                ".jp-OutputArea .js-plotly-plot .main-svg", timeout=90_000
            )
            plot.scroll_into_view_if_needed()
            traces = page.locator(".jp-OutputArea .js-plotly-plot .scatterlayer .trace").count()
            assert traces >= 3, "one line per outcome"
            page.screenshot(path=str(ARTIFACTS / "jupyterlab-promql-plot.png"))

            editor = page.locator(".jp-Notebook .jp-Cell").last.locator(".cm-content")
            editor.click()
            page.keyboard.type("%%promql\nvoicebot_ll")
            page.keyboard.press("Tab")
            item = page.wait_for_selector(
                ".jp-Completer-item[data-value='voicebot_llm_latency_seconds_bucket']",
                timeout=30_000,
            )
            assert item is not None
            page.screenshot(path=str(ARTIFACTS / "jupyterlab-promql-completion.png"))
            errors = page.locator(
                ".jp-OutputArea-output[data-mime-type='application/vnd.jupyter.stderr']"
            ).all_inner_texts()
            assert not [t for t in errors if "Traceback" in t], errors
        finally:
            browser.close()
