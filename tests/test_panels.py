"""Notebook → panel: add_panel round trips on a temporary copy of grafana/, plus the helpers."""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

from obskit import dashboards, panels
from obskit.dashboards._add import use_rate_interval
from obskit.errors import ConfigError, DashboardError, ValidationError
from obskit.promql import Expr

ROOT = Path(__file__).resolve().parent.parent
NAME = "business-dashboard"
LLM_P95 = (
    "histogram_quantile(0.95, sum by (le, model) (rate(voicebot_llm_latency_seconds_bucket[5m])))"
)


@pytest.fixture
def grafana(tmp_path: Path) -> Path:
    """A private copy of the repository's grafana/ folder."""
    return Path(shutil.copytree(ROOT / "grafana", tmp_path / "grafana"))


def _files(grafana: Path) -> dict[str, bytes]:
    folder = grafana / "dashboards"
    return {p.name: p.read_bytes() for p in sorted(folder.iterdir())}


def _json(grafana: Path, name: str = NAME) -> dict:
    return json.loads((grafana / "dashboards" / f"{name}.json").read_text())


def _add(grafana: Path, expr: str = LLM_P95, title: str = "LLM p95 by model", **kwargs):
    return dashboards.add_panel(NAME, expr, title=title, grafana_dir=grafana, **kwargs)


# -- add_panel round trip ----------------------------------------------------------------------


def test_add_writes_sidecar_and_json_together(grafana: Path) -> None:
    source_before = (grafana / "dashboards" / f"{NAME}.dashboard.py").read_bytes()
    change = _add(grafana)
    assert change.action == "added" and change.kind == "timeseries"
    assert {p.name for p in change.files} == {f"{NAME}.panels.yaml", f"{NAME}.json"}
    panel = next(p for p in _json(grafana)["panels"] if p["title"] == "LLM p95 by model")
    target = panel["targets"][0]
    assert "[$__rate_interval]" in target["expr"] and "[5m]" not in target["expr"]
    assert (target["legendFormat"], panel["fieldConfig"]["defaults"]["unit"]) == ("{{model}}", "s")
    assert panel["datasource"] == panels.DATASOURCE
    assert (grafana / "dashboards" / f"{NAME}.dashboard.py").read_bytes() == source_before
    assert dashboards.check([NAME], grafana_dir=grafana, live=False) == []


def test_added_panel_goes_to_the_next_free_row(grafana: Path) -> None:
    bottom = max(p["gridPos"]["y"] + p["gridPos"]["h"] for p in _json(grafana)["panels"])
    _add(grafana)
    panel = next(p for p in _json(grafana)["panels"] if p["title"] == "LLM p95 by model")
    assert panel["gridPos"]["y"] == bottom and panel["gridPos"]["x"] == 0


def test_adding_twice_changes_nothing(grafana: Path) -> None:
    _add(grafana)
    before = _files(grafana)
    assert _add(grafana).action == "unchanged"
    assert _files(grafana) == before


def test_same_title_updates_in_place(grafana: Path) -> None:
    first = _add(grafana)
    other = _add(
        grafana,
        "histogram_quantile(0.5, sum by (le, model) (rate(voicebot_llm_latency_seconds_bucket[5m])))",
    )
    assert (other.action, other.panel_id) == ("updated", first.panel_id)
    found = [p for p in _json(grafana)["panels"] if p["title"] == "LLM p95 by model"]
    assert len(found) == 1 and found[0]["targets"][0]["expr"].startswith("histogram_quantile(0.5,")
    assert dashboards.check([NAME], grafana_dir=grafana, live=False) == []


def test_an_invalid_query_is_refused_and_nothing_changes(grafana: Path) -> None:
    before = _files(grafana)
    with pytest.raises(ValidationError, match="rate-on-gauge"):
        _add(grafana, "rate(voicebot_active_calls[5m])", title="Bad")
    with pytest.raises(ValidationError, match="syntax-error"):
        _add(grafana, "sum(rate(voicebot_calls_total[5m])", title="Bad")
    assert _files(grafana) == before


def test_a_failed_second_replace_restores_both_files(
    grafana: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    _add(grafana)  # the sidecar exists, so both files have a previous version
    before = _files(grafana)
    real = os.replace
    calls: list[str] = []

    def flaky(src: str, dst: str) -> None:
        calls.append(str(dst))
        if len(calls) == 2:
            raise OSError(28, "No space left on device")
        real(src, dst)

    monkeypatch.setattr("obskit._atomic.os.replace", flaky)
    with pytest.raises(DashboardError, match="nothing was changed"):
        _add(grafana, title="Second panel")
    monkeypatch.undo()
    assert _files(grafana) == before  # the first file was put back; no temporary files left


_KILLED = """
import os, sys, time
import obskit.dashboards as d
real, calls = os.fsync, []
def slow(fd):
    real(fd)
    calls.append(fd)
    if len(calls) == 2:  # both temporary files are written; nothing is replaced yet
        open(sys.argv[2], "w").close()
        time.sleep(120)
os.fsync = slow
d.add_panel("{name}", "sum(voicebot_active_calls)", title="Killed", grafana_dir=sys.argv[1])
"""


def test_a_write_killed_midway_leaves_the_previous_files(grafana: Path, tmp_path: Path) -> None:
    _add(grafana)
    before = {k: v for k, v in _files(grafana).items() if not k.startswith(".")}
    ready = tmp_path / "ready"
    script = textwrap.dedent(_KILLED.format(name=NAME))
    proc = subprocess.Popen([sys.executable, "-c", script, str(grafana), str(ready)])
    try:
        deadline = time.monotonic() + 60
        while not ready.exists() and proc.poll() is None and time.monotonic() < deadline:
            time.sleep(0.05)
        assert ready.exists(), "the writer never reached the point to kill it at"
    finally:
        proc.send_signal(signal.SIGKILL)
        proc.wait()
    after = _files(grafana)
    assert {k: v for k, v in after.items() if not k.startswith(".")} == before
    dashboards.build(grafana_dir=grafana)  # build removes what the killed write left
    assert not [k for k in _files(grafana) if k.startswith(".")]


def test_hand_edits_in_the_source_and_sidecar_survive(grafana: Path) -> None:
    source = grafana / "dashboards" / f"{NAME}.dashboard.py"
    edited = source.read_text().replace(
        '"Tool usage",', '"Tool usage (hand edit)",  # renamed by hand'
    )
    source.write_text(edited)
    _add(grafana)
    sidecar = grafana / "dashboards" / f"{NAME}.panels.yaml"
    sidecar.write_text(sidecar.read_text().replace("by model.", "by model (hand edit)."))
    change = _add(grafana, "sum(rate(voicebot_orders_created_total[5m]))", title="Order rate")
    assert change.action == "added"
    assert source.read_text() == edited
    assert "(hand edit)." in sidecar.read_text()
    titles = [p["title"] for p in _json(grafana)["panels"]]
    assert {"Tool usage (hand edit)", "LLM p95 by model", "Order rate"} <= set(titles)
    assert dashboards.check([NAME], grafana_dir=grafana, live=False) == []


def test_explicit_kind_unit_and_legend_win(grafana: Path) -> None:
    change = _add(
        grafana,
        "sum by (tool_name) (increase(voicebot_tool_calls_total[$__range]))",
        title="Tools (bars)", kind="bar", unit="none", legend="{{tool_name}} calls",
    )  # fmt: skip
    panel = next(p for p in _json(grafana)["panels"] if p["id"] == change.panel_id)
    assert panel["type"] == "barchart" and panel["options"]["xField"] == "tool_name"
    assert panel["targets"][0]["legendFormat"] == "{{tool_name}} calls"
    assert panel["fieldConfig"]["defaults"]["unit"] == "none"


def test_unknown_dashboard_and_kind_are_refused(grafana: Path) -> None:
    with pytest.raises(DashboardError, match="no dashboard named nope"):
        dashboards.add_panel("nope", "sum(voicebot_active_calls)", title="x", grafana_dir=grafana)
    with pytest.raises(ConfigError, match="kind must be one of"):
        _add(grafana, "sum(voicebot_active_calls)", title="x", kind="donut")


# -- inference (pure) --------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("expr", "expected"),
    [
        ("rate(x[5m])", "rate(x[$__rate_interval])"),
        ("increase(x[1h]) / rate(y[$__interval])", "increase(x[1h]) / rate(y[$__interval])"),  # a chosen period
        ("irate(x[5m]) + rate(y[5m])", "irate(x[5m]) + rate(y[$__rate_interval])"),
        ('rate(x{a="[5m]"}[5m])', 'rate(x{a="[5m]"}[$__rate_interval])'),
        ("max_over_time(x[1h])", "max_over_time(x[1h])"),
        ("max_over_time(rate(x[1m])[1h:5m])", "max_over_time(rate(x[$__rate_interval])[1h:5m])"),
    ],
)  # fmt: skip
def test_use_rate_interval(expr: str, expected: str) -> None:
    assert use_rate_interval(expr) == expected


@pytest.mark.parametrize(
    ("expr", "unit"),
    [
        (LLM_P95, "s"),
        ("sum(rate(node_network_receive_bytes_total[5m]))", "Bps"),
        ("sum(rate(voicebot_calls_total[5m])) * 60", "cpm"),
        ("sum(rate(voicebot_calls_total[5m]))", "cps"),
        ("sum(increase(voicebot_orders_created_total[1h]))", "short"),
        ("1 - node_memory_MemAvailable_bytes / node_memory_MemTotal_bytes", "percentunit"),
        ("sum(rate(voicebot_call_cost_usd_total[5m])) / sum(rate(voicebot_calls_total[5m]))", "currencyUSD"),
        ("count(voicebot_build_info)", "short"),
        ("sum(nonexistent_metric)", "short"),
    ],
)  # fmt: skip
def test_unit_comes_from_the_catalog(expr: str, unit: str) -> None:
    assert (Expr(expr).unit or "short") == unit


@pytest.mark.parametrize(
    ("expr", "legend"),
    [
        (LLM_P95, "{{model}}"),
        ("sum by (outcome, scenario) (rate(voicebot_calls_total[5m]))", "{{outcome}} {{scenario}}"),
        ("sum(rate(voicebot_calls_total[5m]))", "Title"),
        ("voicebot_circuit_breaker_state", "{{dependency}}"),
        ("1 - sum by (cpu) (rate(node_cpu_seconds_total[5m]))", "{{cpu}}"),
    ],
)  # fmt: skip
def test_legend_from_by_labels(expr: str, legend: str) -> None:
    assert (Expr(expr).legend or "Title") == legend


def test_kind_inference() -> None:
    ratio = Expr(
        "sum(rate(voicebot_tts_cache_hits_total[5m])) / sum(rate(voicebot_calls_total[5m]))"
    )
    count = Expr("sum(rate(voicebot_calls_total[5m]))")
    latency = Expr(
        "histogram_quantile(0.95, sum by (le) (rate(voicebot_llm_latency_seconds_bucket[5m])))"
    )
    assert [ratio.kind(1), count.kind(1), latency.kind(3), latency.kind()] == [
        "gauge", "stat", "timeseries", "stat"]  # fmt: skip
    by_component = Expr(
        "time() - max by (component) (voicebot_backup_last_success_timestamp_seconds)"
    )
    assert by_component.kind() == "timeseries" and by_component.legend == "{{component}}"


# -- building blocks ---------------------------------------------------------------------------


def test_rows_share_or_pin_widths_and_layout_never_overlaps() -> None:
    a = panels.stat("A", "a.", [panels.target("x", "a")], unit="short")
    placed = panels.layout(
        [panels.row(4, a, a, a), panels.row(6, (a, 16), a)], [(a, 12, 8), (a, 6, 6), (a, 12, 8)]
    )
    boxes = [p.gridPos.to_json_data() for p in placed]
    assert [b["w"] for b in boxes] == [8, 8, 8, 16, 8, 12, 6, 12]
    assert [(b["x"], b["y"]) for b in boxes[-3:]] == [(0, 10), (12, 10), (0, 18)]
    with pytest.raises(ConfigError, match="sum to at most 24"):
        panels.row(4, (a, 20), (a, 8))


def test_thresholds_and_panels_validate_when_built() -> None:
    with pytest.raises(ConfigError, match="must increase"):
        panels.thresholds("green", (0.9, "red"), (0.7, "orange"))
    with pytest.raises(ConfigError, match="one-line description"):
        panels.stat("A", "", [panels.target("x", "a")], unit="short")
    with pytest.raises(ConfigError, match="at least one query"):
        panels.stat("A", "a.", [], unit="short")


def test_targets_get_ref_ids_and_the_datasource() -> None:
    p = panels.timeseries("T", "t.", [panels.target("a", "a"), panels.target("b", "b")], unit="s")
    assert [t.refId for t in p.targets] == ["A", "B"]
    assert all(t.datasource == panels.DATASOURCE for t in p.targets)
