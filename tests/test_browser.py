"""A person's view: `obskit demo lab` (what `make demo` runs) in headless Chromium.

Starts the demo and JupyterLab exactly as `make demo` does (on a scratch copy of the notebooks, so
autosave never touches the committed ones), opens the getting-started notebook with Playwright in
Debian's Chromium, runs every cell, and checks that a plotly figure rendered and no cell failed.
A screenshot is saved under test-artifacts/. The lab starts with SIGINT at its default disposition
(whatever this process inherited: a shell's background job has it ignored) and its own TMPDIR.
"""

from __future__ import annotations

import contextlib
import os
import re
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from conftest import CACHE_ROOT, ROOT

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
ARTIFACTS = ROOT / "test-artifacts"
URL = re.compile(r"(http://127\.0\.0\.1:\d+/lab\?token=[0-9a-f]+)")


@pytest.fixture
def lab(tmp_path: Path):
    notebooks = tmp_path / "notebooks"
    shutil.copytree(ROOT / "notebooks", notebooks)
    _clear_outputs(notebooks / "01-getting-started.ipynb")  # a plot can only come from this run
    cache = tmp_path / "cache"
    (cache / "demo").mkdir(parents=True)
    (CACHE_ROOT / "demo" / "data").mkdir(parents=True, exist_ok=True)
    (cache / "demo" / "data").symlink_to(CACHE_ROOT / "demo" / "data")  # reuse built demo data
    (tmp_path / "tmp").mkdir()
    env = {
        **os.environ,
        "TMPDIR": str(tmp_path / "tmp"),
        "OBSKIT_CACHE_DIR": str(cache),
        "JUPYTER_CONFIG_DIR": str(tmp_path / "jcfg"),
    }
    log = (tmp_path / "lab.log").open("w+")
    proc = subprocess.Popen(
        [sys.executable, "-m", "obskit.cli", "demo", "lab", "--end", "2026-02-14T18:00:00Z",
         "--notebooks", str(notebooks)],
        stdout=log, stderr=subprocess.STDOUT, env=env, start_new_session=True,
        preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL),  # Ctrl-C must reach it
    )  # fmt: skip
    try:
        yield _wait_for_url(tmp_path / "lab.log", proc), notebooks
    finally:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGINT)
        try:
            proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
        log.close()
        assert proc.returncode == 0, "Ctrl-C stops the demo and JupyterLab cleanly"
        assert not list((tmp_path / "tmp").glob("obskit-lab-*")), "its token folder is removed"


def _clear_outputs(path: Path) -> None:
    import nbformat

    nb = nbformat.read(path, as_version=4)
    for cell in nb.cells:
        if cell.cell_type == "code":
            cell.outputs, cell.execution_count = [], None
    nbformat.write(nb, path)


def _wait_for_url(log: Path, proc: subprocess.Popen) -> str:
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        found = URL.search(log.read_text())
        if found:
            return found.group(1)
        assert proc.poll() is None, f"obskit demo lab exited: {log.read_text()[-2000:]}"
        time.sleep(0.25)
    raise AssertionError(f"JupyterLab printed no URL within 120 s: {log.read_text()[-2000:]}")


def test_getting_started_runs_in_jupyterlab_and_draws_a_plot(lab):
    from playwright.sync_api import sync_playwright

    url, _ = lab
    notebook_url = url.replace("/lab?", "/lab/tree/01-getting-started.ipynb?")
    ARTIFACTS.mkdir(exist_ok=True)
    args = ["--no-sandbox", "--disable-gpu", "--disable-background-networking",
            "--disable-component-update", "--disable-sync", "--no-first-run"]  # fmt: skip
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=args)
        page = browser.new_page(viewport={"width": 1400, "height": 1000})
        try:
            page.goto(notebook_url, timeout=60_000)
            page.wait_for_selector(".jp-Notebook .jp-Cell", timeout=60_000)
            select = page.get_by_role("button", name="Select", exact=True)
            with contextlib.suppress(Exception):  # JupyterLab may ask which kernel to start
                select.click(timeout=10_000)
            page.wait_for_selector(
                ".jp-Notebook-ExecutionIndicator[data-status='idle']", timeout=60_000
            )
            assert page.locator(".jp-OutputArea .js-plotly-plot").count() == 0
            page.get_by_role("menuitem", name="Run", exact=True).click()
            page.get_by_text("Run All Cells", exact=True).click()
            page.wait_for_function(
                "() => document.querySelectorAll('.jp-InputArea-prompt').length > 0 && "
                "[...document.querySelectorAll('.jp-CodeCell .jp-InputArea-prompt')]"
                ".every(p => /\\[\\d+\\]/.test(p.textContent))",
                timeout=120_000,
            )
            plot = page.wait_for_selector(
                ".jp-OutputArea .js-plotly-plot .main-svg", timeout=60_000
            )
            plot.scroll_into_view_if_needed()
            page.screenshot(path=str(ARTIFACTS / "jupyterlab-getting-started.png"))
            errors = page.locator(
                ".jp-OutputArea-output[data-mime-type='application/vnd.jupyter.stderr']"
            )
            tracebacks = [t for t in errors.all_inner_texts() if "Traceback" in t or "Error" in t]
            assert not tracebacks, tracebacks
            assert page.locator(".jp-OutputArea .js-plotly-plot").count() >= 1
            traces = page.locator(".jp-OutputArea .js-plotly-plot .scatterlayer .trace").count()
            assert traces >= 3, "calls per minute by outcome: one line per outcome"
        finally:
            browser.close()
