"""Committed dashboards: structure rules, JSON equal to a fresh build, provisioning, CLI help."""

from __future__ import annotations

import copy
import json
import re
import shutil
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pandas as pd
import pytest
import yaml

from obskit import cli, dashboards
from obskit.dashboards._json import TARGET_KEYS
from obskit.dashboards._plan import panel_range, plan, resolve, variable_values
from obskit.dashboards._preview import page
from obskit.dashboards._provisioning import scrape_interval
from obskit.dashboards._structure import bad_windows, check_structure
from obskit.errors import DashboardError

ROOT = Path(__file__).resolve().parent.parent
GRAFANA = ROOT / "grafana"
SOURCES = sorted((GRAFANA / "dashboards").glob("*.dashboard.py"))
NAMES = [p.name.removesuffix(".dashboard.py") for p in SOURCES]
DATASOURCE = {"type": "prometheus", "uid": "prometheus"}
AT = datetime(2026, 2, 14, 18, tzinfo=UTC)


def _data(name: str) -> dict[str, Any]:
    return json.loads((GRAFANA / "dashboards" / f"{name}.json").read_text())


def _panels(name: str) -> list[dict[str, Any]]:
    return _data(name)["panels"]


def test_there_are_dashboards() -> None:
    assert SOURCES, "no grafana/dashboards/*.dashboard.py found"


# -- every dashboard ---------------------------------------------------------------------------


@pytest.mark.parametrize("source", SOURCES, ids=NAMES)
def test_committed_json_equals_a_fresh_build(source: Path) -> None:
    committed = source.with_name(source.name.removesuffix(".dashboard.py") + ".json")
    assert committed.read_text() == dashboards.render(source), "run `obskit dashboards build`"


@pytest.mark.parametrize("source", SOURCES, ids=NAMES)
def test_rendering_is_deterministic_and_prints_nothing(
    source: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    first, second = dashboards.render(source), dashboards.render(source)
    assert first == second
    assert first.endswith("}\n")
    assert first == json.dumps(json.loads(first), sort_keys=True, indent=2) + "\n"
    assert capsys.readouterr().out == ""  # grafanalib's print() warnings are silenced


@pytest.mark.parametrize("name", NAMES)
def test_structure_rules_find_nothing(name: str) -> None:
    path = f"{name}.json"
    assert [str(p) for p in check_structure(_data(name), path, f"obskit-{name}")] == []


@pytest.mark.parametrize("name", NAMES)
def test_schema_uid_and_ids(name: str) -> None:
    data = _data(name)
    assert data["schemaVersion"] == 39
    assert data["uid"] == f"obskit-{name}"
    ids = [p["id"] for p in data["panels"]]
    assert len(ids) == len(set(ids))


@pytest.mark.parametrize("name", NAMES)
def test_grid_has_no_overlap(name: str) -> None:
    taken: dict[tuple[int, int], str] = {}
    for panel in _panels(name):
        pos = panel["gridPos"]
        assert pos["x"] + pos["w"] <= 24
        for x in range(pos["x"], pos["x"] + pos["w"]):
            for y in range(pos["y"], pos["y"] + pos["h"]):
                assert (x, y) not in taken, f"{panel['title']} overlaps {taken.get((x, y))}"
                taken[(x, y)] = panel["title"]


@pytest.mark.parametrize("name", NAMES)
def test_every_panel_is_complete(name: str) -> None:
    for panel in _panels(name):
        assert panel["title"] and panel["description"] and "\n" not in panel["description"]
        assert panel["datasource"] == DATASOURCE
        assert panel["fieldConfig"]["defaults"]["unit"]
        assert isinstance(panel["maxDataPoints"], int)
        for target in panel["targets"]:
            assert target["datasource"] == DATASOURCE
            assert target["legendFormat"]
            assert set(target) <= set(TARGET_KEYS), f"legacy keys in {panel['title']}"
            assert bad_windows(target["expr"]) == []


@pytest.mark.parametrize("name", NAMES)
def test_gauges_have_thresholds(name: str) -> None:
    for panel in (p for p in _panels(name) if p["type"] == "gauge"):
        assert len(panel["fieldConfig"]["defaults"]["thresholds"]["steps"]) >= 2


@pytest.mark.parametrize("name", NAMES)
def test_variables_are_declared_and_used(name: str) -> None:
    data = _data(name)
    declared = {v["name"] for v in data["templating"]["list"]}
    text = " ".join(t["expr"] for p in data["panels"] for t in p["targets"])
    used = set(re.findall(r"\$(\w+)", text)) - {"__rate_interval", "__interval", "__range"}
    assert used == declared


def test_the_requested_panels_exist() -> None:
    kinds = {(p["title"], p["type"]) for n in NAMES for p in _panels(n)}
    for wanted in [
        ("CPU busy", "gauge"), ("Memory used", "gauge"), ("Disk used", "gauge"),
        ("Network I/O", "timeseries"), ("PostgreSQL query latency p95", "timeseries"),
        ("Circuit breakers", "stat"), ("TTS cache hit rate", "gauge"),
        ("Backup status", "stat"), ("Resolution: bot vs operator", "piechart"),
        ("Transfer reasons", "barchart"), ("Calls per hour", "timeseries"),
    ]:  # fmt: skip
        assert wanted in kinds


def test_circuit_breaker_and_backup_mappings() -> None:
    panels = {p["title"]: p for p in _panels("application-metrics")}
    breaker = panels["Circuit breakers"]["fieldConfig"]["defaults"]["mappings"][0]["options"]
    assert {k: (v["text"], v["color"]) for k, v in breaker.items()} == {
        "0": ("CLOSED", "green"), "1": ("OPEN", "red"), "2": ("HALF-OPEN", "orange"),
    }  # fmt: skip
    backup = panels["Backup status"]["fieldConfig"]["defaults"]["mappings"][0]["options"]
    assert {k: v["text"] for k, v in backup.items()} == {"1": "OK", "0": "FAILED"}


def test_postgres_latency_uses_the_application_histogram() -> None:
    panel = next(p for p in _panels("system-overview") if "latency" in p["title"])
    assert "voicebot_db_query_duration_seconds_bucket" in panel["targets"][0]["expr"]
    assert "postgres_exporter has no latency histogram" in panel["description"]


# -- structure rules catch what they should ----------------------------------------------------


def _break(data: dict[str, Any], how: str) -> None:
    first, second = data["panels"][0], data["panels"][1]
    if how == "schema-version":
        data["schemaVersion"] = 12
    elif how == "uid":
        data["uid"] = "random"
    elif how == "panel-id":
        second["id"] = first["id"]
    elif how == "grid":
        second["gridPos"] = dict(first["gridPos"])
    elif how == "legacy-key":
        first["targets"][0]["intervalFactor"] = 2
    elif how == "rate-window":
        first["targets"][0]["expr"] = "sum(rate(voicebot_calls_total[5m]))"
    elif how == "variable":
        first["targets"][0]["expr"] = 'sum(voicebot_active_calls{x=~"$nope"})'
    elif how == "datasource":
        first["targets"][0]["datasource"] = {"uid": "other"}
    elif how == "unit":
        del first["fieldConfig"]["defaults"]["unit"]
    elif how == "legend":
        first["targets"][0]["legendFormat"] = ""
    elif how == "panel-description":
        first["description"] = "two\nlines"


@pytest.mark.parametrize(
    "rule",
    ["schema-version", "uid", "panel-id", "grid", "legacy-key", "rate-window", "variable",
     "datasource", "unit", "legend", "panel-description"],
)  # fmt: skip
def test_structure_rules_catch_a_broken_copy(rule: str) -> None:
    data = copy.deepcopy(_data("application-metrics"))
    _break(data, rule)
    found = check_structure(data, "x.json", "obskit-application-metrics")
    assert rule in {p.rule for p in found}
    assert all(str(p).startswith("x.json") for p in found)


def test_bad_windows_ignores_subqueries_and_strings() -> None:
    assert bad_windows('rate(x{a="[5m]"}[$__rate_interval])') == []
    assert bad_windows("max_over_time(rate(x[1m])[1h:5m])") == ["1m"]
    assert bad_windows("increase(x[1h]) / rate(y[$__interval])") == []  # a chosen period
    assert bad_windows("rate(x[1h]) / rate(y[$__interval])") == ["1h"]


# -- building, loading -------------------------------------------------------------------------


@pytest.fixture
def grafana_copy(tmp_path: Path) -> Path:
    return Path(shutil.copytree(GRAFANA, tmp_path / "grafana"))


def test_build_is_idempotent(grafana_copy: Path) -> None:
    assert dashboards.build(grafana_dir=grafana_copy) == []
    target = grafana_copy / "dashboards" / f"{NAMES[0]}.json"
    target.unlink()
    assert dashboards.build(grafana_dir=grafana_copy) == [target]
    assert dashboards.build(grafana_dir=grafana_copy) == []
    assert target.stat().st_mode & 0o044 == 0o044  # readable by Grafana's user


def test_cli_build_second_run_changes_nothing(
    grafana_copy: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    before = {p: p.read_bytes() for p in (grafana_copy / "dashboards").iterdir()}
    assert cli.main(["dashboards", "build", "--grafana-dir", str(grafana_copy)]) == 0
    assert "up to date" in capsys.readouterr().out
    assert {p: p.read_bytes() for p in (grafana_copy / "dashboards").iterdir()} == before


def test_a_source_that_fails_names_file_and_line(grafana_copy: Path) -> None:
    source = grafana_copy / "dashboards" / "broken.dashboard.py"
    source.write_text("from obskit import panels as p\n\nx = 1\ndashboard = p.nope()\n")
    with pytest.raises(DashboardError, match=r"broken\.dashboard\.py: line 4: .*AttributeError"):
        dashboards.load(source)
    source.write_text("dashboard = (\n")
    with pytest.raises(DashboardError, match=r"broken\.dashboard\.py: line 1: .*SyntaxError"):
        dashboards.load(source)
    source.write_text("dashboard = 1\n")
    with pytest.raises(DashboardError, match="must define `dashboard`"):
        dashboards.load(source)


def test_offline_check_of_a_stale_copy_names_the_file(grafana_copy: Path) -> None:
    target = grafana_copy / "dashboards" / "system-overview.json"
    target.write_text(target.read_text().replace('"title": "CPU busy"', '"title": "CPU"'))
    found = dashboards.check(grafana_dir=grafana_copy, live=False)
    assert [(p.rule, Path(p.file).name) for p in found] == [("stale", "system-overview.json")]


def test_json_without_a_source_is_a_problem(grafana_copy: Path) -> None:
    (grafana_copy / "dashboards" / "legacy.json").write_text("{}\n")
    found = dashboards.check(grafana_dir=grafana_copy, live=False)
    assert [(p.rule, Path(p.file).name) for p in found] == [("orphan", "legacy.json")]


def test_unknown_dashboard_name_lists_the_known_ones() -> None:
    with pytest.raises(DashboardError, match=r"known: .*system-overview"):
        dashboards.build(["nope"])


# -- what Grafana would send -------------------------------------------------------------------


def test_grafana_times_resolve_in_the_dashboard_time_zone() -> None:
    assert resolve("now/d", AT, "Europe/Berlin").isoformat() == "2026-02-13T23:00:00+00:00"
    assert resolve("now-6h", AT, "browser").isoformat() == "2026-02-14T12:00:00+00:00"
    assert resolve("now-1d/d", AT, "utc").isoformat() == "2026-02-13T00:00:00+00:00"


def test_today_panels_cover_the_local_day_so_far() -> None:
    data = _data("business-dashboard")
    panel = next(p for p in data["panels"] if p["title"] == "Calls today")
    start, end = panel_range(data, panel, AT)
    assert (start.isoformat(), end) == ("2026-02-13T23:00:00+00:00", AT)
    query = next(q for q in plan(data, AT) if q.panel == "Calls today")
    assert "[68400s]" in query.expanded


def test_calls_per_hour_steps_one_hour() -> None:
    query = next(q for q in plan(_data("business-dashboard"), AT) if q.panel == "Calls per hour")
    assert query.step == 3600 and "[1h]" in query.expanded


def test_variable_defaults_become_what_queries_receive() -> None:
    assert variable_values(_data("system-overview")) == {"device": ".*", "mountpoint": ".*"}


# -- provisioning ------------------------------------------------------------------------------


def _yaml(*parts: str) -> Any:
    return yaml.safe_load(GRAFANA.joinpath(*parts).read_text())


def test_dashboard_provider_reads_the_mounted_folder() -> None:
    provider = _yaml("provisioning", "dashboards", "dashboards.yml")["providers"][0]
    assert provider["type"] == "file"
    assert provider["options"]["path"] == "/var/lib/grafana/dashboards"


def test_compose_mounts_provisioning_and_dashboards() -> None:
    grafana = _yaml("docker-compose.yml")["services"]["grafana"]
    mounts = {v.split(":")[1]: v.split(":")[0] for v in grafana["volumes"]}
    provider = _yaml("provisioning", "dashboards", "dashboards.yml")["providers"][0]
    assert mounts["/etc/grafana/provisioning"] == "./provisioning"
    assert mounts[provider["options"]["path"]] == "./dashboards"
    for host in mounts.values():
        assert not host.startswith(".") or (GRAFANA / host).exists(), host
    assert "prometheus" in _yaml("docker-compose.yml")["services"]


def test_datasource_uids_match_the_dashboards() -> None:
    sources = _yaml("provisioning", "datasources", "datasources.yml")["datasources"]
    prometheus = next(s for s in sources if s["type"] == "prometheus")
    used = {t["datasource"]["uid"] for n in NAMES for p in _panels(n) for t in p["targets"]}
    assert used == {prometheus["uid"]} == {"prometheus"}
    assert prometheus["jsonData"]["timeInterval"] == "30s"


def _set_time_interval(grafana_dir: Path, line: str) -> Path:
    path = grafana_dir / "provisioning" / "datasources" / "datasources.yml"
    text = path.read_text()
    assert "      timeInterval: 30s\n" in text
    path.write_text(text.replace("      timeInterval: 30s\n", line))
    return path


def test_scrape_interval_comes_from_the_provisioned_datasource(grafana_copy: Path) -> None:
    assert scrape_interval(GRAFANA) == 30.0
    _set_time_interval(grafana_copy, "      timeInterval: 1m\n")
    assert scrape_interval(grafana_copy) == 60.0
    path = grafana_copy / "provisioning" / "datasources" / "datasources.yml"
    path.write_text(path.read_text().replace("      timeInterval: 1m\n", ""))
    assert scrape_interval(grafana_copy) == 15.0  # Grafana's default without a setting


def test_scrape_interval_without_provisioning_is_grafanas_default(tmp_path: Path) -> None:
    assert scrape_interval(tmp_path) == 15.0


@pytest.mark.parametrize(
    ("line", "match"),
    [("      timeInterval: thirty\n", "timeInterval 'thirty'.*like 30s"),
     ("      timeInterval: [30s\n", "cannot be read.*fix the YAML")],
)  # fmt: skip
def test_a_bad_scrape_interval_names_the_file(grafana_copy: Path, line: str, match: str) -> None:
    path = _set_time_interval(grafana_copy, line)
    with pytest.raises(DashboardError, match=match) as caught:
        dashboards.check(grafana_dir=grafana_copy, live=False)
    assert str(path) in str(caught.value)


class _Recording:
    """The demo client, remembering every range query it is asked to run."""

    def __init__(self, client: Any) -> None:
        self.client, self.sent = client, []

    def query(self, expr: str, **kwargs: Any) -> pd.DataFrame:
        self.sent.append(expr)
        return self.client.query(expr, **kwargs)

    def query_range(self, expr: str, *args: Any) -> pd.DataFrame:
        self.sent.append(expr)
        return self.client.query_range(expr, *args)


@pytest.mark.prometheus
def test_check_expands_macros_with_the_provisioned_scrape_interval(
    grafana_copy: Path, demo_client: Any
) -> None:
    runner = _Recording(demo_client)
    assert dashboards.check(["application-metrics"], grafana_dir=grafana_copy, client=runner,
                            at=AT) == []  # fmt: skip
    at_30s = [e for e in runner.sent if "[2m]" in e]
    _set_time_interval(grafana_copy, "      timeInterval: 1m\n")
    runner.sent.clear()
    assert dashboards.check(["application-metrics"], grafana_dir=grafana_copy, client=runner,
                            at=AT) == []  # fmt: skip
    assert at_30s and not [e for e in runner.sent if "[2m]" in e]
    assert len([e for e in runner.sent if "[4m]" in e]) == len(at_30s)  # 4 x 1m, not 4 x 30s


def test_postgres_credentials_come_from_the_environment() -> None:
    sources = _yaml("provisioning", "datasources", "datasources.yml")["datasources"]
    postgres = next(s for s in sources if "postgres" in s["type"])
    assert postgres["secureJsonData"]["password"] == "${POSTGRES_PASSWORD}"
    assert re.fullmatch(r"\$\{\w+\}", postgres["user"])
    environment = _yaml("docker-compose.yml")["services"]["grafana"]["environment"]
    for name in set(re.findall(r"\$\{(\w+)\}", json.dumps(sources))):
        assert name in environment, f"{name} is not passed to Grafana"


# -- preview (pure) and CLI help ---------------------------------------------------------------


def test_preview_page_places_every_panel_like_the_grid() -> None:
    data = _data("application-metrics")
    queries = plan(data, AT)
    frame = pd.DataFrame({"timestamp": pd.to_datetime([AT]), "value": [1.0]})
    results = {(q.panel_id, q.ref_id): frame for q in queries}
    html = page(data, queries, results)
    for i, panel in enumerate(data["panels"]):
        pos = panel["gridPos"]
        assert f"grid-column: {pos['x'] + 1} / span {pos['w']}" in html
        assert f'id="panel-{i + 1}"' in html
    for text in ("OPEN", "OK"):  # value mappings are drawn as their text
        assert f"\\u003cb\\u003e{text}\\u003c" in html
    assert html == page(data, queries, results)


def test_preview_time_series_show_the_dashboard_range_not_the_datas() -> None:
    """A night with one value at the end is an empty axis over 6 h, not a 1-minute zoom."""
    data = _data("application-metrics")
    queries = plan(data, AT)
    frame = pd.DataFrame({"timestamp": pd.to_datetime([AT]), "value": [1.0]})
    html = page(data, queries, {(q.panel_id, q.ref_id): frame for q in queries})
    ranged = [q for q in queries if not q.instant and q.panel_type == "timeseries"]
    assert ranged
    start, end = min(q.start for q in ranged), max(q.end for q in ranged)
    shown = f'"range":["{start.isoformat()}","{end.isoformat()}"]'
    assert html.count(shown) == len({q.panel_id for q in ranged})


@pytest.mark.parametrize("action", ["build", "check", "preview", "add", "import", "diff"])
def test_every_subcommand_has_help(action: str, capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exit_:
        cli.main(["dashboards", action, "--help"])
    assert exit_.value.code == 0
    assert "usage: obskit dashboards" in capsys.readouterr().out
