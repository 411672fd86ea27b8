"""``obskit dashboards import``: any dashboard JSON → a source whose build is the same JSON."""

from __future__ import annotations

import ast
import json
import os
import shutil
from pathlib import Path
from typing import Any

import pytest

from obskit import cli, dashboards
from obskit.dashboards import _model, _sidecar
from obskit.dashboards._import import generate, import_dashboard, normalised
from obskit.errors import DashboardError

ROOT = Path(__file__).resolve().parent.parent
COMMITTED = sorted((ROOT / "grafana" / "dashboards").glob("*.json"))
PUBLIC = sorted((ROOT / "tests" / "data" / "dashboards").glob("*.json"))
ALL = COMMITTED + PUBLIC


@pytest.fixture
def grafana(tmp_path: Path) -> Path:
    """An empty grafana/ folder to import into (never the repository's)."""
    (tmp_path / "grafana" / "dashboards").mkdir(parents=True)
    return tmp_path / "grafana"


def _import(path: Path, grafana: Path, name: str = "imported", **kw: Any) -> Any:
    return import_dashboard(path, name, grafana_dir=grafana, **kw)


@pytest.mark.parametrize("path", ALL, ids=[p.stem for p in ALL])
def test_the_round_trip_is_exact(path: Path, grafana: Path) -> None:
    done = _import(path, grafana)
    built = json.loads(done.json.read_text())
    assert normalised(built) == normalised(json.loads(path.read_text()))
    assert dashboards.render(done.source) == done.json.read_text()  # the file is its build
    assert dashboards.build(grafana_dir=grafana) == []  # and a build changes nothing


@pytest.mark.parametrize("path", ALL, ids=[p.stem for p in ALL])
def test_the_source_has_one_variable_per_panel(path: Path, grafana: Path) -> None:
    done = _import(path, grafana)
    tree = ast.parse(done.source.read_text())
    names = [t.id for node in tree.body if isinstance(node, ast.Assign) for t in node.targets
             if isinstance(t, ast.Name)]  # fmt: skip
    panels = list(_model.iter_panels(_model.read(path)))
    legacy = [r for r in panels if r.legacy_row is not None]
    assert len(names) == len(panels) - len(legacy) + 1  # + `dashboard`
    assert names[-1] == "dashboard" and len(set(names)) == len(names)


@pytest.mark.parametrize("path", COMMITTED, ids=[p.stem for p in COMMITTED])
def test_obskit_made_dashboards_come_back_as_builders_in_rows(path: Path, grafana: Path) -> None:
    done = _import(path, grafana)
    text = done.source.read_text()
    assert done.carried == 0 and "d.panel(" not in text
    assert "p.row(" in text and "d.place(" not in text
    assert "\ndashboard = p.dashboard(" in text and "source=__file__" in text  # as committed ones
    assert "from obskit import panels as p" in text


def test_what_builders_cannot_express_is_carried_as_data(grafana: Path) -> None:
    path = ROOT / "tests" / "data" / "dashboards" / "shapes.json"
    done = _import(path, grafana)
    text = done.source.read_text()
    assert done.panels == 8 and done.carried == 8 and done.targets == 9
    assert '"rawSql": "SELECT count(*) FROM orders"' in text  # the PostgreSQL panel, kept
    assert '"libraryPanel": {"uid": "lib-1", "name": "Shared CPU"}' in text
    assert "panels=[traffic_device, orders]" in text  # the collapsed row holds its panels


def test_counts_match_the_input() -> None:
    data = _model.read(ROOT / "grafana" / "dashboards" / "system-overview.json")
    text, counts = generate(data, "system-overview.json")
    assert counts == {"panels": 9, "targets": 11, "carried": 0}
    assert text.startswith('"""System Overview: imported from system-overview.json')


def test_an_existing_source_is_not_replaced_without_force(grafana: Path) -> None:
    path = COMMITTED[0]
    first = _import(path, grafana)
    first.source.write_text(first.source.read_text() + "# my edit\n")
    with pytest.raises(DashboardError, match="exists already; pass --force"):
        _import(path, grafana)
    assert first.source.read_text().endswith("# my edit\n")
    again = _import(path, grafana, force=True)
    assert not again.source.read_text().endswith("# my edit\n")


def test_a_failed_write_leaves_nothing_behind(
    grafana: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    calls = []
    real = os.replace

    def second_fails(src: Any, dst: Any) -> None:
        calls.append(dst)
        if len(calls) == 2:
            raise OSError(28, "No space left on device")
        real(src, dst)

    monkeypatch.setattr("obskit._atomic.os.replace", second_fails)
    with pytest.raises(DashboardError, match="nothing was changed"):
        _import(COMMITTED[0], grafana)
    assert sorted(p.name for p in (grafana / "dashboards").iterdir()) == []


def test_bad_input_writes_nothing(grafana: Path, tmp_path: Path) -> None:
    bad = tmp_path / "bad.json"
    bad.write_text('{"panels": [{"title": "CPU", "type": "stat", "targets": []}]}')
    with pytest.raises(DashboardError, match="panel 'CPU' has no gridPos"):
        _import(bad, grafana)
    assert list((grafana / "dashboards").iterdir()) == []


def test_an_imported_dashboard_is_checked_without_obskits_house_rules(grafana: Path) -> None:
    shutil.copytree(ROOT / "grafana" / "provisioning", grafana / "provisioning")
    _import(ROOT / "tests" / "data" / "dashboards" / "node-mixin-nodes.json", grafana, "nodes")
    assert dashboards.check(grafana_dir=grafana, live=False) == []
    target = grafana / "dashboards" / "nodes.json"
    target.write_text(target.read_text().replace('"title": "CPU Usage"', '"title": "CPU"'))
    assert [p.rule for p in dashboards.check(grafana_dir=grafana, live=False)] == ["stale"]


def test_panels_added_from_notebooks_join_an_imported_dashboard(grafana: Path) -> None:
    done = _import(ROOT / "tests" / "data" / "dashboards" / "node-mixin-nodes.json", grafana, "n")
    spec = {"title": "Load", "id": 500, "kind": "stat", "unit": "short", "legend": "load",
            "description": "One-minute load.", "expr": "sum(node_load1)"}  # fmt: skip
    _sidecar.sidecar_path(done.source).write_text(_sidecar.dump([spec]))
    data = json.loads(dashboards.render(done.source))
    added = next(p for p in data["panels"] if p["id"] == 500)
    bottom = max(p["gridPos"]["y"] + p["gridPos"]["h"] for p in data["panels"] if p["id"] != 500)
    assert added["gridPos"]["y"] == bottom and added["targets"][0]["expr"] == "sum(node_load1)"


def test_cli_import_reports_what_it_wrote(
    grafana: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = ROOT / "tests" / "data" / "dashboards" / "postgres-overview.json"
    args = ["dashboards", "import", str(path), "--name", "pg", "--grafana-dir", str(grafana)]
    assert cli.main(args) == 0
    out = capsys.readouterr().out.splitlines()
    assert (
        out[0]
        == f"wrote {grafana / 'dashboards' / 'pg.dashboard.py'} and {grafana / 'dashboards' / 'pg.json'}"
    )
    assert out[1].startswith("6 panels (6 carried as data), 15 targets, ")
    assert cli.main(args) == 1  # a second time: refused
    assert "exists already; pass --force" in capsys.readouterr().err
    assert cli.main([*args, "--force"]) == 0


def test_the_api_wrapper_is_imported_as_the_dashboard_inside(grafana: Path) -> None:
    done = _import(ROOT / "tests" / "data" / "dashboards" / "shapes.json", grafana)
    assert "meta" not in json.loads(done.json.read_text())


@pytest.mark.parametrize("path", ALL, ids=[p.stem for p in ALL])
def test_the_source_imports_only_what_it_uses(path: Path, grafana: Path) -> None:
    tree = ast.parse(_import(path, grafana).source.read_text())
    imported = {a.asname for n in tree.body if isinstance(n, ast.ImportFrom) for a in n.names}
    used = {n.id for n in ast.walk(tree) if isinstance(n, ast.Name)}
    assert imported and imported <= used
