"""Any dashboard JSON by path: every panel shape, variable kind and data source, offline.

The dashboards are in tests/data/dashboards/ (their origin and licence in its README);
``shapes.json`` and ``legacy-rows.json`` were written here to hold one of every shape.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from obskit import cli
from obskit.dashboards import _model
from obskit.dashboards._inspect import inspect
from obskit.dashboards._plan import plan_board, variable_values
from obskit.dashboards._variables import apply_formats
from obskit.errors import DashboardError

DATA = Path(__file__).resolve().parent / "data" / "dashboards"
FILES = sorted(DATA.glob("*.json"))
AT = datetime(2026, 2, 14, 18, tzinfo=UTC)


def _shapes() -> dict[str, Any]:
    return _model.read(DATA / "shapes.json")


def _query(title: str, ref: str = "A") -> Any:
    found = [q for q in plan_board(_shapes(), AT, 15).queries if q.panel == title]
    return next(q for q in found if q.ref_id == ref)


def _all_targets(value: Any) -> int:
    """Targets anywhere in the JSON (an independent count: no panel walking)."""
    if isinstance(value, dict):
        here = len(value["targets"]) if isinstance(value.get("targets"), list) else 0
        return here + sum(_all_targets(v) for k, v in value.items() if k != "targets")
    if isinstance(value, list):
        return sum(_all_targets(v) for v in value)
    return 0


# -- reading -------------------------------------------------------------------------------------


def test_the_api_wrapper_is_unwrapped() -> None:
    assert _shapes()["uid"] == "obskit-test-shapes"


def test_every_panel_is_found_in_rows_and_collapsed_rows() -> None:
    refs = list(_model.iter_panels(_shapes()))
    titles = {r.panel.get("title"): r for r in refs}
    assert titles["Orders"].collapsed and titles["Orders"].row == "Details"
    assert not titles["CPU by mode"].collapsed and titles["CPU by mode"].row == "Overview"
    assert [r.panel["title"] for r in refs if r.is_row] == ["Overview", "Details"]


def test_legacy_rows_are_planned() -> None:
    board = _model.read(DATA / "legacy-rows.json")
    planned = plan_board(board, AT, 15)
    assert [(q.panel, q.expanded) for q in planned.queries] == [
        ("Load", "node_load1"),
        ("Up", 'up{job="node"}'),
    ]
    assert [s.datasource for s in planned.skipped] == ["grafana"]


@pytest.mark.parametrize("path", FILES, ids=[p.stem for p in FILES])
def test_every_target_is_planned_or_skipped_with_a_reason(path: Path) -> None:
    data = _model.read(path)
    planned = plan_board(data, AT, 15)
    libraries = sum(1 for r in _model.iter_panels(data) if "libraryPanel" in r.panel)
    assert len(planned.queries) + len(planned.skipped) == _all_targets(data) + libraries
    assert all(s.reason for s in planned.skipped)


# -- what Grafana sends -------------------------------------------------------------------------


def test_min_interval_and_max_data_points_set_the_step() -> None:
    q = _query("CPU by mode")  # 6 h / 200 points = 108 s -> Grafana rounds to 2 min; min 1m
    assert (q.step, q.max_data_points) == (120.0, 200)
    assert "[2m15s]" in q.expanded  # $__rate_interval = max(2m + 15s, 4 x 15s)


def test_time_from_and_time_shift_move_the_range() -> None:
    q = _query("Uptime yesterday")
    assert (q.start, q.end) == (AT - timedelta(days=1, hours=1), AT - timedelta(days=1))
    assert q.range_seconds == 3600


def test_variables_of_every_kind_get_their_default() -> None:
    assert variable_values(_shapes()) == {
        "job": ["node", "redis"],  # All without allValue: every option
        "mode": ["user", "system"],  # multi-value custom
        "window": "10m",  # auto interval: 6 h / 30, rounded like Grafana
        "step": "5m",
        "quantile": "0.99",  # constant
        "device": "eth0",  # textbox
        "ds": "prom-uid",  # datasource
        "instance": ".+",  # All with allValue
    }  # the ad hoc filter is not a variable of the query text


def test_variable_formats_are_expanded() -> None:
    q = _query("Traffic $device", "B")
    assert 'job=~"node|redis"' in q.expanded and "histogram_quantile(0.99," in q.expanded
    assert '{job=~"(node|redis)"}' in _query("Traffic $device", "C").expanded
    values = {"v": ["a", "b"]}
    assert apply_formats("${v:glob} ${v:json} ${v:text}", values, {"v": "a + b"}) == (
        '{a,b} ["a", "b"] a + b'
    )


def test_a_repeated_panel_is_planned_for_the_first_value() -> None:
    q = _query("Traffic $device")
    assert q.repeat == "mode" and 'mode="user"' in q.expanded
    assert 'device="eth0"' in q.expanded and "[10m]" in q.expanded


def test_a_target_without_ref_id_is_named_as_grafana_names_it() -> None:
    assert _query("Traffic $device", "C").ref_id == "C"


def test_other_data_sources_are_skipped_with_a_note_saying_which() -> None:
    skipped = {(s.panel, s.ref_id): s for s in plan_board(_shapes(), AT, 15).skipped}
    assert skipped[("Orders", "A")].datasource == "grafana-postgresql-datasource"
    assert "loki" in skipped[("Errors", "A")].reason
    assert skipped[("Mixed", "B")].datasource == "loki"
    assert "library panel 'Shared CPU'" in skipped[("Shared panel", "")].reason
    assert _query("Mixed").datasource == "prom-uid"  # the mixed panel's Prometheus target runs


@pytest.mark.parametrize(
    ("ref", "expected"),
    [
        (None, "prometheus"),
        ({"type": "loki", "uid": "x"}, "loki"),
        ("-- Grafana --", "grafana"),
        ({"type": "datasource", "uid": "-- Mixed --"}, "mixed"),
        ("${DS_PROM}", "prometheus"),  # the export's __inputs
        ("$ds", "prometheus"),  # the datasource variable's plugin
        ("Some Name", "?"),  # a name from another Grafana: the query's shape decides
    ],
)
def test_datasource_references_resolve(ref: Any, expected: str) -> None:
    assert _model.datasource_of(ref, _shapes())[0] == expected


def test_a_named_source_is_read_by_the_shape_of_its_queries() -> None:
    assert _model.target_type("?", "Postgres Overview", {"expr": "pg_up"}) == "prometheus"
    assert _model.target_type("?", "Logs", {"rawSql": "SELECT 1"}) == "sql"
    assert _model.target_type("?", "Loki EU", {"expr": '{job="a"}'}) == "loki"


# -- the check ----------------------------------------------------------------------------------


def test_inspection_reports_one_entry_per_target() -> None:
    found = inspect([DATA / "shapes.json"], at=AT, scrape_interval=15)
    statuses = [t.status for t in found.targets]
    assert statuses.count("skipped") == 4 and len(statuses) == 10
    assert not found.problems and not found.failed
    assert found.summary(str(DATA / "shapes.json")).endswith(
        "6 Prometheus targets linted (0 with errors, 0 with warnings), 4 skipped"
    )


def test_check_offline_of_a_file_without_source_lints_every_target(
    capsys: pytest.CaptureFixture[str],
) -> None:
    path = DATA / "node-mixin-nodes.json"
    code = cli.main(["dashboards", "check", "--offline", "--at", "2026-02-14T18:00:00Z", str(path)])
    out = capsys.readouterr().out.splitlines()
    total = _all_targets(json.loads(path.read_text()))
    assert code == 0
    assert len(out) == total + 1  # one line per target, then the summary
    assert out[-1].startswith(f"{path}: {total} Prometheus targets linted")


def test_check_json_is_one_object_per_target(capsys: pytest.CaptureFixture[str]) -> None:
    path = DATA / "shapes.json"
    cli.main(["dashboards", "check", "--offline", "--format", "json", str(path)])
    rows = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert len(rows) == 10
    assert {r["status"] for r in rows} == {"ok", "skipped"}
    orders = next(r for r in rows if r["panel"] == "Orders")
    assert (
        orders["datasource"] == "grafana-postgresql-datasource"
        and "not Prometheus" in orders["note"]
    )


def test_a_folder_is_checked_file_by_file(capsys: pytest.CaptureFixture[str]) -> None:
    cli.main(["dashboards", "check", "--offline", str(DATA)])
    summaries = [line for line in capsys.readouterr().out.splitlines() if "targets linted" in line]
    assert len(summaries) == len(FILES)


def test_a_lint_error_makes_check_fail(capsys: pytest.CaptureFixture[str]) -> None:
    path = DATA / "redis-exporter.json"  # uses $instance, which it never declares
    assert cli.main(["dashboards", "check", "--offline", str(path)]) == 1
    errors = [line for line in capsys.readouterr().out.splitlines() if ": error: " in line]
    assert errors == [
        line for line in errors if "'Network I/O' refId A" in line and "undeclared-variable" in line
    ]
    assert len(errors) == 1


def test_var_overrides_a_default(capsys: pytest.CaptureFixture[str]) -> None:
    path = DATA / "redis-exporter.json"
    args = ["dashboards", "check", "--offline", "--format", "json", str(path)]
    cli.main([*args, "--var", "kubernetes_pod_name=a", "--var", "kubernetes_pod_name=b"])
    rows = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    uptime = next(r for r in rows if r["panel"] == "Uptime")
    assert 'kubernetes_pod_name=~"(a|b)"' in uptime["expanded"]


# -- bad input ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "match"),
    [
        ("{not json", r"is not valid JSON .* export the dashboard again"),
        ('{"hello": 1}', r"is not a Grafana dashboard .*found \['hello'\]"),
        ("[1, 2]", r"is not a Grafana dashboard"),
        ('{"panels": [], "schemaVersion": 99}', r"schemaVersion 99.*reads 1 to 41"),
        ('{"panels": [{"id": 1, "title": "CPU", "type": "stat"}]}', r"panel 'CPU' has no gridPos"),
    ],
)
def test_bad_input_is_one_clear_error_naming_the_file(
    tmp_path: Path, text: str, match: str
) -> None:
    path = tmp_path / "bad.json"
    path.write_text(text)
    with pytest.raises(DashboardError, match=match) as caught:
        _model.read(path)
    assert str(caught.value).startswith(f"{path}: ")


def test_bad_input_from_the_command_line_is_one_line_and_exit_1(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "bad.json"
    path.write_text('{"panels": [], "schemaVersion": "39"}')
    assert cli.main(["dashboards", "check", "--offline", str(path)]) == 1
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "schemaVersion '39'" in err[0] and str(path) in err[0]


def test_a_collapsed_row_child_without_grid_pos_is_named(tmp_path: Path) -> None:
    board = {"schemaVersion": 39, "panels": [{"type": "row", "title": "R", "collapsed": True,
             "gridPos": {"h": 1, "w": 24, "x": 0, "y": 0}, "panels": [{"title": "Inner", "type": "stat"}]}]}  # fmt: skip
    path = tmp_path / "row.json"
    path.write_text(json.dumps(board))
    with pytest.raises(DashboardError, match="panel 'Inner' has no gridPos"):
        _model.read(path)


def test_preview_of_a_path_writes_one_page(tmp_path: Path, demo_client: Any) -> None:
    from obskit.dashboards import preview

    out = preview(str(DATA / "shapes.json"), tmp_path / "shapes.html", client=demo_client, at=AT)
    html = out.read_text()
    assert html.count('id="panel-') == 8  # every panel but the two rows, collapsed ones too


# -- against the real exporters -----------------------------------------------------------------


@pytest.fixture(scope="module")
def stack() -> Iterator[Any]:
    """PostgreSQL, Redis, node/postgres/redis exporters and a Prometheus (tests/_stack.py)."""
    from _stack import running

    ready = ["pg_up == 1", "redis_up == 1", "count(count_over_time(up[1m]) >= 3) >= 3"]
    with running(ready) as started:
        yield started


#: Community exporter dashboards and the variable values this stack answers (its series
#: have no ``cluster`` or ``kubernetes_pod_name`` label: "" and ".*" match a missing label).
COMMUNITY = {
    "postgres-overview": [],
    "redis-exporter": ["--var", "kubernetes_pod_name=.*", "--var", "instance=.*"],
    "node-mixin-overview": ["--var", "cluster="],
}


@pytest.mark.exporters
def test_check_runs_community_dashboards_against_real_exporters(
    stack: Any, capsys: pytest.CaptureFixture[str]
) -> None:
    found: dict[str, dict[tuple[str, str], str]] = {}
    for name, extra in COMMUNITY.items():
        path = DATA / f"{name}.json"
        args = ["dashboards", "check", str(path), "--prometheus", stack.url, "--format", "json"]
        cli.main([*args, "--scrape-interval", "1s", *extra])
        rows = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
        assert len(rows) == _all_targets(json.loads(path.read_text()))
        found[name] = {(r["panel"], r["ref_id"]): r["status"] for r in rows}
    assert set(found["redis-exporter"].values()) == {"data"}
    pg = found["postgres-overview"]
    assert pg[("Cache hit ratio", "A")] == pg[("Number of active connections", "A")] == "data"
    # instance='$instance' compares with the All value .* by equality: Grafana gets nothing too
    assert {pg[("Buffers", ref)] for ref in "ABCDE"} == {"no-data"}
    node = found["node-mixin-overview"]
    assert node[("Total Cores", "A")] == node[("Top Nodes by CPU", "A")] == "data"
    assert node[("Firing Alerts", "A")] == "no-data"  # this Prometheus has no alerting rules


@pytest.mark.exporters
def test_check_text_says_which_targets_return_data(
    stack: Any, capsys: pytest.CaptureFixture[str]
) -> None:
    path = DATA / "postgres-overview.json"
    code = cli.main(["dashboards", "check", str(path), "--prometheus", stack.url])
    out = capsys.readouterr().out.splitlines()
    assert code == 1  # five targets return no data
    assert out[-1].endswith("run: 10 returned data, 5 did not")
    assert sum(": no-data: no data at " in line for line in out) == 5


def test_each_target_is_parsed_once(monkeypatch: pytest.MonkeyPatch) -> None:
    from obskit.promql import _expr

    calls: list[str] = []
    real = _expr.parse_text

    def counting(text: str, **kwargs: Any) -> Any:
        calls.append(text)
        return real(text, **kwargs)

    monkeypatch.setattr(_expr, "parse_text", counting)
    path = DATA / "node-mixin-nodes.json"
    found = inspect([path], at=AT, scrape_interval=15)
    assert len(calls) == len(found.targets) == _all_targets(json.loads(path.read_text()))


def test_a_committed_json_checked_by_path_reports_drift_from_its_source(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    import shutil

    grafana = Path(shutil.copytree(DATA.parent.parent.parent / "grafana", tmp_path / "grafana"))
    target = grafana / "dashboards" / "system-overview.json"
    assert cli.main(["dashboards", "check", "--offline", str(target)]) == 0
    capsys.readouterr()
    target.write_text(target.read_text().replace('"unit": "ops"', '"unit": "wps"'))
    assert cli.main(["dashboards", "check", "--offline", str(target)]) == 1
    err = capsys.readouterr().err.strip().splitlines()
    assert err == [
        f"{target}: differs from a fresh build of system-overview.dashboard.py; "
        "`obskit dashboards diff` shows how"
    ]


def test_interval_factor_and_a_targets_own_interval_set_step_and_interval() -> None:
    redis = plan_board(_model.read(DATA / "redis-exporter.json"), AT, 15).queries
    uptime = next(q for q in redis if q.panel == "Uptime")  # 3 h / 100 points -> 2m, x2
    assert uptime.step == 240 and "[4m]" in uptime.expanded
    board = _shapes()
    cpu = next(p for p in board["panels"] if p.get("title") == "CPU by mode")
    cpu["targets"][0]["interval"] = "5m"  # a query's own min interval wins over the panel's
    q = next(q for q in plan_board(board, AT, 15).queries if q.panel == "CPU by mode")
    assert q.step == 300 and "[5m15s]" in q.expanded
