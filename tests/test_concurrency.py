"""Two real processes adding panels to the same dashboard at once lose no update."""

from __future__ import annotations

import json
import multiprocessing
import shutil
from pathlib import Path
from typing import Any

import pytest
import yaml

from obskit import dashboards
from obskit.errors import DashboardError

ROOT = Path(__file__).resolve().parent.parent
DASHBOARD = "business-dashboard"
PER_PROCESS = 15
EXPRS = {
    "A": "sum(rate(voicebot_calls_total[5m]))",
    "B": "sum by (outcome) (rate(voicebot_calls_total[5m]))",
}


def _add_many(grafana_dir: str, tag: str, start: Any) -> None:
    """One writer: wait for the other, then add PER_PROCESS panels titled '<tag> <i>'."""
    start.wait(30)
    for i in range(PER_PROCESS):
        dashboards.add_panel(DASHBOARD, EXPRS[tag], title=f"{tag} {i}", grafana_dir=grafana_dir)


@pytest.fixture
def grafana_copy(tmp_path: Path) -> Path:
    target = tmp_path / "grafana"
    shutil.copytree(ROOT / "grafana", target)
    for leftover in (target / "dashboards").glob("*.panels.yaml"):
        leftover.unlink()  # start from the committed sources alone
    dashboards.build(grafana_dir=target)
    return target


def _run_writers(grafana_dir: Path, tags: list[str]) -> None:
    ctx = multiprocessing.get_context("spawn")  # no fork of pytest's threads
    start = ctx.Event()
    procs = [ctx.Process(target=_add_many, args=(str(grafana_dir), t, start)) for t in tags]
    for p in procs:
        p.start()
    start.set()
    for p in procs:
        p.join(120)
    assert [p.exitcode for p in procs] == [0] * len(procs)


def test_two_processes_adding_panels_at_once_lose_nothing(grafana_copy: Path):
    folder = grafana_copy / "dashboards"
    before = json.loads((folder / f"{DASHBOARD}.json").read_text())
    _run_writers(grafana_copy, ["A", "B"])

    wanted = {f"{tag} {i}" for tag in EXPRS for i in range(PER_PROCESS)}
    sidecar = yaml.safe_load((folder / f"{DASHBOARD}.panels.yaml").read_text())["panels"]
    assert {entry["title"] for entry in sidecar} == wanted
    assert len({entry["id"] for entry in sidecar}) == len(sidecar), "panel ids stay unique"

    data = json.loads((folder / f"{DASHBOARD}.json").read_text())
    titles = [p.get("title") for p in data["panels"]]
    assert wanted <= set(titles)
    assert len(data["panels"]) == len(before["panels"]) + len(wanted)
    # The JSON on disk is exactly what the source and the final sidecar build.
    assert dashboards.check([DASHBOARD], grafana_dir=grafana_copy, live=False) == []
    assert not list(folder.glob(".*.tmp")), "no temporary file is left behind"


def test_the_lock_does_not_outlive_a_call(grafana_copy: Path):
    """After concurrent writers are done, a plain call in this process is not blocked."""
    _run_writers(grafana_copy, ["A"])
    change = dashboards.add_panel(DASHBOARD, EXPRS["B"], title="after", grafana_dir=grafana_copy)
    assert change.action == "added"
    committed = {
        p.name
        for p in (ROOT / "grafana" / "dashboards").iterdir()
        if not p.name.endswith(".panels.yaml")
    }
    files = {p.name for p in (grafana_copy / "dashboards").iterdir()}
    assert files == committed | {f"{DASHBOARD}.panels.yaml"}, "no lock or temporary file is left"


def test_a_lock_held_too_long_is_a_clear_error_and_nothing_is_written(grafana_copy, monkeypatch):
    import fcntl

    from obskit.dashboards import _sidecar

    monkeypatch.setattr(_sidecar, "LOCK_TIMEOUT", 0.3)
    folder = grafana_copy / "dashboards"
    before = {p.name: p.read_bytes() for p in folder.iterdir()}
    with (folder / f"{DASHBOARD}.dashboard.py").open("rb") as held:
        fcntl.flock(held.fileno(), fcntl.LOCK_EX)  # as another process in the middle of a change
        with pytest.raises(DashboardError, match="another process has been changing"):
            dashboards.add_panel(DASHBOARD, EXPRS["A"], title="late", grafana_dir=grafana_copy)
    assert {p.name: p.read_bytes() for p in folder.iterdir()} == before
