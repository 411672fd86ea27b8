"""Every dashboard query against the session's demo Prometheus, and `obskit dashboards check`."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from obskit import cli, dashboards
from obskit.client import connect
from obskit.dashboards._plan import Query, plan
from obskit.demo.scenario import PINNED_END

pytestmark = pytest.mark.prometheus

ROOT = Path(__file__).resolve().parent.parent
GRAFANA = ROOT / "grafana"


def _queries() -> list[Query]:
    found = []
    for path in sorted((GRAFANA / "dashboards").glob("*.json")):
        found += plan(json.loads(path.read_text()), PINNED_END)
    return found


QUERIES = _queries()


@pytest.fixture(scope="module")
def client(demo):
    """A client of the demo (obskit.client directly: independent of obskit's re-exports)."""
    with connect(demo.url) as own:
        yield own


@pytest.mark.parametrize("query", QUERIES, ids=[f"{q.panel}-{q.ref_id}" for q in QUERIES])
def test_every_query_returns_data_at_the_demo_end(query: Query, demo, client) -> None:
    assert demo.end == PINNED_END
    frame = dashboards.run_query(client, query)
    assert not frame.empty, f"no data: {query.expanded}"
    assert frame["value"].notna().any(), f"only NaN: {query.expanded}"


def test_check_exits_zero_against_the_demo(
    demo, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("OBSKIT_NOW", demo.end.isoformat())  # what `make demo` exports
    assert cli.main(["dashboards", "check", "--prometheus", demo.url]) == 0
    assert "all dashboards OK" in capsys.readouterr().out


def _broken_copy(tmp_path: Path) -> Path:
    grafana = Path(shutil.copytree(GRAFANA, tmp_path / "grafana"))
    source = grafana / "dashboards" / "business-dashboard.dashboard.py"
    text = source.read_text()
    source.write_text(
        text.replace('"voicebot_orders_created_total"', '"voicebot_orders_created_totl"')
    )
    assert source.read_text() != text
    dashboards.build(grafana_dir=grafana)
    return grafana


def test_a_broken_copy_fails_with_file_title_and_ref_id(
    demo, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    grafana = _broken_copy(tmp_path)
    argv = ["dashboards", "check", "--prometheus", demo.url, "--at", demo.end.isoformat(),
            "--grafana-dir", str(grafana)]  # fmt: skip
    assert cli.main(argv) == 1
    err = capsys.readouterr().err
    assert (
        "business-dashboard.json: panel 'Orders created today' refId A: query returned no data"
        in err
    )
    assert "1 problem(s) found" in err


def test_a_lint_error_is_a_problem(demo, client, tmp_path: Path) -> None:
    grafana = Path(shutil.copytree(GRAFANA, tmp_path / "grafana"))
    source = grafana / "dashboards" / "application-metrics.dashboard.py"
    source.write_text(
        source.read_text().replace(
            '"sum(voicebot_active_calls)"', '"sum(rate(voicebot_active_calls[$__rate_interval]))"'
        )
    )
    dashboards.build(grafana_dir=grafana)
    found = dashboards.check(grafana_dir=grafana, client=client, at=demo.end)
    assert [(p.panel, p.ref_id, p.rule) for p in found] == [("Active calls", "A", "lint")]
    assert "rate-on-gauge" in found[0].message


def test_preview_writes_one_standalone_page(demo, client, tmp_path: Path) -> None:
    out = dashboards.preview(
        "system-overview", tmp_path / "system.html", client=client, at=demo.end
    )
    html = out.read_text()
    assert html.startswith("<!DOCTYPE html>") and "Plotly.newPlot" in html
    data = json.loads((GRAFANA / "dashboards" / "system-overview.json").read_text())
    for i in range(len(data["panels"])):
        assert f'id="panel-{i + 1}"' in html
    assert '"text":"no data"' not in html


def test_add_panel_infers_the_kind_from_a_live_run(
    demo, client, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("OBSKIT_NOW", demo.end.isoformat())
    grafana = Path(shutil.copytree(GRAFANA, tmp_path / "grafana"))
    one = dashboards.add_panel(
        "application-metrics", "sum(rate(voicebot_calls_total[5m])) * 60",
        title="Calls per minute", client=client, grafana_dir=grafana,
    )  # fmt: skip
    many = dashboards.add_panel(
        "application-metrics", "sum by (scenario) (rate(voicebot_calls_total[5m]))",
        title="Calls by scenario", client=client, grafana_dir=grafana,
    )  # fmt: skip
    assert (one.kind, many.kind) == ("stat", "timeseries")
    assert (
        dashboards.check(["application-metrics"], grafana_dir=grafana, client=client, at=demo.end)
        == []
    )
