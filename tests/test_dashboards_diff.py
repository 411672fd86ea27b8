"""``obskit dashboards diff``: each edit reported once, and nothing else; noise ignored."""

from __future__ import annotations

import copy
import json
import random
import shutil
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from obskit import cli
from obskit.dashboards._diff import diff

ROOT = Path(__file__).resolve().parent.parent
BOARD = json.loads((ROOT / "grafana" / "dashboards" / "system-overview.json").read_text())
NODES = json.loads((ROOT / "tests" / "data" / "dashboards" / "node-mixin-nodes.json").read_text())


def _panel(data: dict[str, Any], title: str) -> dict[str, Any]:
    return next(p for p in data["panels"] if p.get("title") == title)


def _edited(edit: Callable[[dict[str, Any]], None], data: dict[str, Any] = BOARD) -> dict[str, Any]:
    copied = copy.deepcopy(data)
    edit(copied)
    return copied


def _kinds(old: dict[str, Any], new: dict[str, Any]) -> list[tuple[str, str]]:
    return [(c.kind, c.where) for c in diff(old, new)]


def _shuffled(value: Any, rng: random.Random) -> Any:
    if isinstance(value, dict):
        items = list(value.items())
        rng.shuffle(items)
        return {k: _shuffled(v, rng) for k, v in items}
    if isinstance(value, list):
        return [_shuffled(v, rng) for v in value]
    return value


def test_moving_a_panel_is_reported_once() -> None:
    def move(data: dict[str, Any]) -> None:
        _panel(data, "Redis ops/sec")["gridPos"].update(x=0, y=22)

    changes = diff(BOARD, _edited(move))
    assert [(c.kind, c.where) for c in changes] == [("panel-moved", "panel 'Redis ops/sec' (id 9)")]
    assert (changes[0].old, changes[0].new) == ({"x": 18, "y": 14}, {"x": 0, "y": 22})


def test_resizing_a_panel_is_reported_once() -> None:
    def grow(data: dict[str, Any]) -> None:
        _panel(data, "Redis ops/sec")["gridPos"]["h"] = 12

    assert _kinds(BOARD, _edited(grow)) == [("panel-resized", "panel 'Redis ops/sec' (id 9)")]


def test_changing_one_query_is_reported_once_with_a_text_diff() -> None:
    def edit(data: dict[str, Any]) -> None:
        _panel(data, "Redis connections")["targets"][0]["expr"] = "max(redis_connected_clients)"

    changes = diff(BOARD, _edited(edit))
    assert [(c.kind, c.where) for c in changes] == [
        ("query-changed", "panel 'Redis connections' (id 8) refId A")
    ]
    assert changes[0].detail == "-sum(redis_connected_clients)\n+max(redis_connected_clients)"


def test_changing_one_unit_is_reported_once() -> None:
    def edit(data: dict[str, Any]) -> None:
        _panel(data, "Redis memory")["fieldConfig"]["defaults"]["unit"] = "decbytes"

    changes = diff(BOARD, _edited(edit))
    assert [(c.kind, c.old, c.new) for c in changes] == [("unit", "bytes", "decbytes")]


def test_changing_one_threshold_is_reported_once() -> None:
    def edit(data: dict[str, Any]) -> None:
        _panel(data, "CPU busy")["fieldConfig"]["defaults"]["thresholds"]["steps"][2]["value"] = 0.9

    assert _kinds(BOARD, _edited(edit)) == [("thresholds", "panel 'CPU busy' (id 1)")]


def test_shuffled_keys_and_bumped_version_are_equal() -> None:
    noisy = _shuffled(BOARD, random.Random(7))
    noisy.update(version=12, iteration=1771092000000, id=42)
    noisy["panels"] = list(reversed(noisy["panels"]))
    assert json.dumps(noisy) != json.dumps(BOARD)
    assert diff(BOARD, noisy) == []


def test_a_reimport_with_new_panel_ids_matches_by_title() -> None:
    def renumber(data: dict[str, Any]) -> None:
        for panel in data["panels"]:
            panel["id"] += 100

    assert diff(BOARD, _edited(renumber)) == []


def test_added_and_removed_panels() -> None:
    def edit(data: dict[str, Any]) -> None:
        data["panels"] = [p for p in data["panels"] if p["title"] != "Disk used"]
        data["panels"].append({**_panel(data, "CPU busy"), "id": 30, "title": "CPU again"})

    assert _kinds(BOARD, _edited(edit)) == [
        ("panel-removed", "panel 'Disk used' (id 3)"),
        ("panel-added", "panel 'CPU again' (id 30)"),
    ]


@pytest.mark.parametrize(
    ("edit", "kind"),
    [
        (lambda d: _panel(d, "CPU busy")["fieldConfig"]["defaults"].update(
            mappings=[{"type": "value", "options": {"1": {"text": "ONE"}}}]), "mappings"),
        (lambda d: _panel(d, "Network I/O")["options"]["legend"].update(displayMode="table"),
         "legend"),
        (lambda d: _panel(d, "Network I/O")["targets"][0].update(legendFormat="rx {{device}}"),
         "legend"),
        (lambda d: _panel(d, "Network I/O")["options"]["tooltip"].update(mode="single"), "options"),
        (lambda d: _panel(d, "Network I/O").update(description="Traffic."), "panel-setting"),
        (lambda d: d["time"].update({"from": "now-24h"}), "time"),
        (lambda d: d.update(refresh="5m"), "time"),
        (lambda d: d["templating"]["list"][0].update(label="NIC"), "variable-changed"),
        (lambda d: d["templating"]["list"].pop(), "variable-removed"),
        (lambda d: d.update(title="Hosts"), "setting"),
    ],
)  # fmt: skip
def test_each_kind_of_edit_is_named(edit: Callable[[dict[str, Any]], Any], kind: str) -> None:
    assert [c.kind for c in diff(BOARD, _edited(edit))] == [kind]


def test_panels_in_collapsed_rows_are_compared_too() -> None:
    def collapse(data: dict[str, Any]) -> None:
        rows = [p for p in data["panels"] if p["type"] == "row"]
        first = rows[0]
        children = [
            p
            for p in data["panels"]
            if p["type"] != "row" and p["gridPos"]["y"] < rows[1]["gridPos"]["y"]
        ]
        data["panels"] = [p for p in data["panels"] if p not in children]
        first.update(collapsed=True, panels=children)
        children[0]["targets"][0]["expr"] += " * 100"

    changes = _kinds(NODES, _edited(collapse, NODES))
    assert [k for k, _ in changes] == ["panel-setting", "query-changed"]  # the row's `collapsed`
    assert changes[0][0] == "panel-setting" and "collapsed" in changes[0][1]


# -- the command ---------------------------------------------------------------------------------


def test_cli_diff_exits_1_and_prints_each_change(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    old, new = tmp_path / "old.json", tmp_path / "new.json"
    old.write_text(json.dumps(BOARD))
    new.write_text(json.dumps(_edited(lambda d: _panel(d, "Redis memory")["fieldConfig"]["defaults"].update(unit="decbytes"))))  # fmt: skip
    assert cli.main(["dashboards", "diff", str(old), str(new)]) == 1
    assert capsys.readouterr().out.splitlines() == [
        'panel \'Redis memory\' (id 5): unit: "bytes" -> "decbytes"',
        "1 change(s)",
    ]
    assert cli.main(["dashboards", "diff", str(old), str(old)]) == 0
    assert capsys.readouterr().out == "no differences\n"


def test_cli_diff_json(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    old, new = tmp_path / "old.json", tmp_path / "new.json"
    old.write_text(json.dumps(BOARD))
    new.write_text(json.dumps({"dashboard": _edited(lambda d: d.update(refresh="5m")), "meta": {}}))
    assert cli.main(["dashboards", "diff", "--format", "json", str(old), str(new)]) == 1
    payload = json.loads(capsys.readouterr().out)
    assert payload == {"equal": False, "changes": [
        {"kind": "time", "where": "dashboard refresh", "old": "1m", "new": "5m", "detail": ""}]}  # fmt: skip


def test_a_dashboard_name_against_an_export_shows_the_ui_edit(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    grafana = Path(shutil.copytree(ROOT / "grafana", tmp_path / "grafana"))
    export = tmp_path / "export.json"
    ui = _shuffled(BOARD, random.Random(1))
    ui.update(version=3, id=17)
    _panel(ui, "Disk used")["gridPos"]["w"] = 10
    export.write_text(json.dumps({"dashboard": ui, "meta": {"slug": "system-overview"}}))
    args = ["dashboards", "diff", "system-overview", str(export), "--grafana-dir", str(grafana)]
    assert cli.main(args) == 1
    assert capsys.readouterr().out.splitlines()[0] == (
        'panel \'Disk used\' (id 3): panel-resized: {"h": 6, "w": 12} -> {"h": 6, "w": 10}'
    )


def test_drift_of_the_committed_json_from_its_source(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    grafana = Path(shutil.copytree(ROOT / "grafana", tmp_path / "grafana"))
    target = grafana / "dashboards" / "system-overview.json"
    target.write_text(target.read_text().replace('"unit": "ops"', '"unit": "wps"'))
    args = ["dashboards", "diff", "system-overview", str(target), "--grafana-dir", str(grafana)]
    assert cli.main(args) == 1
    assert capsys.readouterr().out.splitlines() == [
        'panel \'Redis ops/sec\' (id 9): unit: "ops" -> "wps"',
        "1 change(s)",
    ]
