"""The parsed query value: parsed once per entry point, facts agree everywhere, no clock offline."""

from __future__ import annotations

import json
import re
import shutil
from pathlib import Path

import nbformat
import numpy as np
import pandas as pd
import promql_parser
import pytest

import obskit
from obskit import config
from obskit.catalog import find_metric
from obskit.dashboards import _preview
from obskit.dashboards._add import make_spec
from obskit.errors import ConfigError, QuerySyntaxError, ValidationError
from obskit.frames import to_frame
from obskit.lint import lint
from obskit.plots import _units
from obskit.plots._plots import query_legend
from obskit.promql import Expr, PanelContext

ROOT = Path(__file__).resolve().parents[1]
LLM_P95 = (
    "histogram_quantile(0.95, sum by (le, model) "
    "(rate(voicebot_llm_latency_seconds_bucket[$__rate_interval])))"
)
_STRING = re.compile(r'"((?:[^"\\]|\\.)*)"|\'((?:[^\'\\]|\\.)*)\'')


@pytest.fixture
def parses(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """Every text promql-parser is asked to parse during the test."""
    seen: list[str] = []
    real = promql_parser.parse

    def counting(text: str):
        seen.append(text)
        return real(text)

    monkeypatch.setattr(promql_parser, "parse", counting)
    return seen


# -- the value itself -----------------------------------------------------------------------------


def test_of_returns_an_expr_unchanged_and_parses_lazily_once(parses: list[str]) -> None:
    e = Expr.of(LLM_P95)
    assert parses == []
    assert Expr.of(e) is e
    assert (e.unit, e.legend, e.output_labels) == ("s", "{{model}}", ("model",))
    assert e.metrics == ("voicebot_llm_latency_seconds_bucket",)
    assert e.series_estimate() is not None and e.kind() == "timeseries"
    assert len(parses) == 1


def test_a_new_context_reads_the_same_text_anew() -> None:
    e = Expr(LLM_P95)
    wide = e.within(range_seconds=7 * 86400)
    assert wide is not e and wide.text == e.text
    assert "[20m0s]" not in wide.expanded and wide.expanded != e.expanded
    assert e.within() is e


def test_syntax_error_is_kept_and_raised_by_tree() -> None:
    e = Expr("sum(rate(x_total[5m])")
    assert isinstance(e.syntax_error, QuerySyntaxError)
    with pytest.raises(QuerySyntaxError, match="unclosed left parenthesis"):
        _ = e.tree


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"range_seconds": 0}, "range_seconds must be a positive number"),
        ({"max_data_points": 1.5}, "max_data_points must be a whole number"),
        ({"scrape_interval": "soon"}, "scrape_interval"),
    ],
)
def test_panel_context_is_validated_when_built(changes: dict, message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        PanelContext(**changes)


def test_not_text_is_refused_with_an_example() -> None:
    with pytest.raises(ConfigError, match="PromQL text like"):
        Expr.of(42)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("query", "labels"),
    [
        ("max by (component) (x)", ("component",)),
        ('label_replace(max by (component) (x), "c", "$1", "component", "(.*)")', ("component", "c")),
        ('label_join(x, "both", ",", "a", "b")', ("both",)),
        ("sum(x)", ()),
        ("x", ()),
        ("max by (a) (x) and on() (sum(increase(y[5m])) >= 20)", ("a",)),
    ],
)  # fmt: skip
def test_implied_labels(query: str, labels: tuple[str, ...]) -> None:
    assert Expr(query).implied_labels == labels


def test_age_of_a_timestamp_per_component_is_seconds_one_series_each() -> None:
    e = Expr("time() - max by (component) (voicebot_backup_last_success_timestamp_seconds)")
    assert e.unit == "s"  # not dateTimeAsIso: an age
    assert e.legend == "{{component}}"
    assert e.series_estimate() == len(find_metric("voicebot_backup_success").values["component"])
    assert e.kind() == "timeseries"


# -- parsed once per entry point ------------------------------------------------------------------


def test_validate_offline_parses_once(parses: list[str]) -> None:
    report = obskit.validate(LLM_P95, dashboard=True)
    assert report.ok, report
    assert len(parses) == 1


def test_validate_of_an_expr_parses_nothing_more(parses: list[str]) -> None:
    e = Expr(LLM_P95)
    _ = e.tree
    obskit.validate(e)
    lint(e)
    assert len(parses) == 1


@pytest.mark.prometheus
def test_validate_with_a_client_parses_once(demo, demo_client, parses: list[str]) -> None:
    report = obskit.validate(
        "sum by (provider) (rate(voicebot_stt_latency_seconds_count[5m]))", demo_client,
        time=demo.end,
    )  # fmt: skip
    assert report.ok and report.series and report.series > 1, report
    assert len(parses) == 1


@pytest.fixture
def grafana_copy(tmp_path: Path) -> Path:
    shutil.copytree(ROOT / "grafana", tmp_path / "grafana")
    return tmp_path / "grafana"


def test_add_panel_parses_once(grafana_copy: Path, parses: list[str]) -> None:
    change = obskit.add_panel(
        "business-dashboard",
        "sum by (tool_name) (rate(voicebot_tool_calls_total[$__rate_interval]))",
        title="Tool calls by tool",
        grafana_dir=grafana_copy,
    )
    assert change.action == "added"
    mine = [text for text in parses if "voicebot_tool_calls_total" in text]  # not the sources' own
    assert len(mine) == 1, parses


def test_add_panel_rewriting_a_fixed_window_still_parses_once(
    grafana_copy: Path, parses: list[str]
) -> None:
    obskit.add_panel(
        "business-dashboard",
        "sum(rate(voicebot_tool_calls_total[5m]))",
        title="Tool calls",
        grafana_dir=grafana_copy,
    )
    mine = [text for text in parses if "voicebot_tool_calls_total" in text]
    assert mine == ["sum(rate(voicebot_tool_calls_total[3777000000ms]))"]


# -- offline work reads no clock and no state file -------------------------------------------------


@pytest.fixture
def no_clock(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    def refuse(*args, **kwargs):
        raise AssertionError("offline work read the clock or the demo's state file")

    monkeypatch.setattr(config, "now", refuse)
    monkeypatch.setattr(config, "demo_state", refuse)
    blocked = tmp_path / "not-a-directory"
    blocked.write_text("a file where the cache directory would be")
    monkeypatch.setenv("OBSKIT_CACHE_DIR", str(blocked))


def test_offline_validate_lint_and_add_panel_need_no_clock(no_clock, grafana_copy: Path) -> None:
    query = "sum(increase(voicebot_orders_created_total[$__range] @ ${__to:date:seconds}))"
    assert obskit.validate(query, dashboard=True).ok
    assert lint(query, dashboard=True) == []
    assert "@ 946684800" in Expr(query).expanded  # the fixed offline instant, 2000-01-01
    change = obskit.add_panel(
        "business-dashboard", query, title="Orders in range", grafana_dir=grafana_copy
    )
    assert change.action == "added"


# -- plot and panel agree on unit and legend -------------------------------------------------------


def _dashboard_queries() -> list[tuple[str, str]]:
    found = []
    for path in sorted((ROOT / "grafana" / "dashboards").glob("*.json")):
        data = json.loads(path.read_text())
        for panel in data.get("panels", []):
            found += [(t["expr"], path.stem) for t in panel.get("targets", []) if t.get("expr")]
    return found


def _notebook_queries() -> list[tuple[str, str]]:
    """String literals of the notebooks' code cells that are PromQL over catalog metrics."""
    found = []
    for path in sorted((ROOT / "notebooks").glob("*.ipynb")):
        for cell in nbformat.read(path, as_version=4).cells:
            if cell.cell_type != "code":
                continue
            for match in _STRING.finditer(cell.source):
                text = match.group(1) or match.group(2) or ""
                expr = Expr(text)
                if expr.syntax_error is None and any(map(find_metric, expr.metrics)):
                    found.append((text, ""))
    return found


QUERIES = sorted(set(_dashboard_queries() + _notebook_queries()))


def test_the_queries_were_found() -> None:
    assert _dashboard_queries() and _notebook_queries()


def _frame_of(query: str) -> pd.DataFrame:
    """A two-series frame of ``query`` carrying the labels its legend names."""
    labels = Expr(query).legend_labels
    rows = {"timestamp": pd.to_datetime([0, 0], unit="s", utc=True), "value": [1.0, 2.0]}
    frame = pd.DataFrame(
        {**rows, **{label: pd.Categorical([f"{label}-a", f"{label}-b"]) for label in labels}}
    )
    frame.attrs = {"query": query, "result_type": "matrix"}
    return frame


def _dashboard(name: str) -> dict:
    path = ROOT / "grafana" / "dashboards" / f"{name}.json"
    return json.loads(path.read_text()) if name else {}


@pytest.mark.parametrize(("query", "dashboard"), QUERIES)
def test_plot_and_panel_give_the_same_unit_and_legend(query: str, dashboard: str) -> None:
    try:
        spec = make_spec(
            _dashboard(dashboard), query, title="T", kind=None, unit=None, legend=None,
            description=None, client=None, scrape_interval=30,
        )  # fmt: skip
    except ValidationError as err:
        if dashboard:
            pytest.fail(f"a committed dashboard query does not validate: {err}")
        assert not obskit.validate(query).ok  # a notebook's example of a bad query
        return
    frame = _frame_of(query)
    assert spec["unit"] == (_units.unit_of(frame) or "short")
    expected = query_legend(frame) or "T"
    assert spec["legend"] == expected
    figure = obskit.plot(frame, "timeseries")
    if Expr(query).legend:
        names = [t.name for t in figure.data]
        assert all(n and "=" not in n for n in names), names


# -- empty results keep the columns the query promises --------------------------------------------


@pytest.mark.prometheus
def test_an_empty_range_result_has_the_grouping_columns(demo, demo_client) -> None:
    start = demo.end - pd.Timedelta("1h")
    frame = demo_client.query_range(
        "max by (component) (no_such_metric_anywhere)", start, demo.end, step="5m"
    )
    assert frame.empty
    assert frame.columns.tolist() == ["timestamp", "value", "component"]
    with_data = demo_client.query_range(
        "max by (component) (voicebot_backup_success)", start, demo.end, step="5m"
    )
    assert not with_data.empty
    assert [str(t) for t in frame.dtypes] == [str(t) for t in with_data.dtypes]
    assert frame["component"].cat.categories.dtype == with_data["component"].cat.categories.dtype


@pytest.mark.prometheus
def test_an_empty_instant_result_has_label_replace_targets(demo, demo_client) -> None:
    frame = demo_client.query(
        'label_replace(sum by (job) (no_such_metric), "service", "$1", "job", "(.*)")', demo.end
    )
    assert frame.empty and frame.columns.tolist()[2:] == ["job", "service"]


# -- preview draws panels whose series lack a label -----------------------------------------------


def test_preview_names_a_series_without_the_legend_label() -> None:
    data = {"resultType": "matrix", "result": [
        {"metric": {"provider": "deepgram"}, "values": [[1771092000, "1"]]},
        {"metric": {}, "values": [[1771092000, "2"]]},
    ]}  # fmt: skip
    frame = to_frame(data, query="sum by (provider) (x)")
    assert frame["provider"].isna().any()

    class Target:
        legend = "{{provider}}"
        panel = "STT"

    named = _preview._named(Target(), frame)  # type: ignore[arg-type]
    assert sorted(named["series"].astype(str)) == ["", "deepgram"]
    figure = _preview.figure(
        {"type": "timeseries", "title": "STT", "fieldConfig": {"defaults": {}}}, named
    )
    assert len(figure.data) == 2 and np.isfinite([v for t in figure.data for v in t.y]).all()


@pytest.mark.prometheus
def test_the_client_takes_an_expr_and_does_not_parse_it(
    demo, demo_client, parses: list[str]
) -> None:
    e = Expr("sum by (outcome) (rate(voicebot_calls_total[$__rate_interval]))")
    start = demo.end - pd.Timedelta("1h")
    by_expr = demo_client.query_range(e, start, demo.end, step="5m")
    by_text = demo_client.query_range(e.text, start, demo.end, step="5m")
    assert by_expr.equals(by_text) and not by_expr.empty
    assert demo_client.query(e, demo.end).columns.tolist()[2:] == ["outcome"]
    assert parses == []  # nothing parsed: the client expands macros on the text
