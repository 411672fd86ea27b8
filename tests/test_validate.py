"""validate(): offline checks, a recorded fake client, and the real demo Prometheus."""

from __future__ import annotations

import warnings
from collections.abc import Mapping
from typing import Any

import numpy as np
import pandas as pd
import pytest

from obskit import catalog, promql
from obskit.errors import (
    PromQLWarning,
    QueryExecutionError,
    UnreachableError,
    ValidationError,
)
from obskit.promql.validate import Report, validate

GOOD = "sum by (provider) (rate(voicebot_stt_latency_seconds_count[$__rate_interval]))"


def frame(rows: list[dict[str, Any]], attrs: Mapping[str, Any] | None = None) -> pd.DataFrame:
    """A frame shaped like obskit's data contract (timestamp, value, label columns)."""
    df = pd.DataFrame(rows, columns=list(rows[0]) if rows else ["timestamp", "value"])
    df["timestamp"] = pd.to_datetime(df["timestamp"], utc=True)
    df["value"] = df["value"].astype("float64")
    for column in df.columns[2:]:
        df[column] = df[column].astype("category")
    df.attrs = {"warnings": [], "infos": [], **(attrs or {})}
    return df


def two_series(value: float = 1.0) -> pd.DataFrame:
    t = "2026-02-14T18:00:00Z"
    return frame(
        [
            {"timestamp": t, "value": value, "provider": "deepgram"},
            {"timestamp": t, "value": value, "provider": "google"},
        ]
    )


class FakeClient:
    """Answers like obskit.Client from recorded frames; records what it was asked."""

    def __init__(self, result: pd.DataFrame | Exception | None = None, **options: Any) -> None:
        self.result = two_series() if result is None else result
        self.options = options
        self.queries: list[tuple[str, Any]] = []

    def query(self, expr: str, time: Any = None) -> pd.DataFrame:
        self.queries.append((expr, time))
        if "warn" in self.options:
            warnings.warn(self.options["warn"], PromQLWarning, stacklevel=2)
        if isinstance(self.result, Exception):
            raise self.result
        return self.result

    def metrics(self) -> pd.DataFrame:
        if "metrics_error" in self.options:
            raise self.options["metrics_error"]
        rows = [(m.name, m.type) for m in catalog.CATALOG] + list(self.options.get("types", []))
        frame = pd.DataFrame(rows, columns=["name", "type"])
        return frame.assign(help="", unit="", source="catalog")

    def labels(self, metric: str | None = None) -> pd.DataFrame:
        found = self.options.get("labels", {}).get(metric, [])
        return pd.DataFrame({"label": found}, dtype=str)

    def label_values(self, label: str, metric: str | None = None) -> list[str]:
        return list(self.options.get("values", {}).get(label, []))


# -- offline -----------------------------------------------------------------------------------


def test_offline_clean_query() -> None:
    report = validate(GOOD)
    assert isinstance(report, Report)
    assert report.ok and report.findings == ()
    assert report.expanded == GOOD.replace("$__rate_interval", "2m")
    assert report.series is None
    assert report.raise_for_findings() is report


def test_offline_expansion_follows_the_panel_settings() -> None:
    report = validate(GOOD, range_seconds=7 * 86400, max_data_points=1000)
    assert "[10m30s]" in report.expanded  # $__interval 10m + 30s scrape


def test_offline_syntax_error() -> None:
    report = validate("sum(rate(voicebot_calls_total[5m])")
    assert not report.ok
    assert [f.rule for f in report.findings] == ["syntax-error"]
    with pytest.raises(ValidationError, match="syntax-error") as caught:
        report.raise_for_findings()
    assert caught.value.report is report


def test_offline_lint_findings_and_estimate() -> None:
    report = validate("rate(voicebot_active_calls[5m])", dashboard=True)
    assert [f.rule for f in report.findings] == ["rate-on-gauge", "hardcoded-window"]
    big = validate(
        "sum by (le, model) (rate(voicebot_llm_latency_seconds_bucket[5m]))", series_budget=5
    )
    assert [f.rule for f in big.findings] == ["series-budget"]
    assert big.ok  # an estimate is only a warning


def test_report_renders_as_text_and_html() -> None:
    report = validate('voicebot_calls_total{outcome="<b>"} / voicebot_active_calls')
    text = str(report)
    assert "counter-raw" in text and "division-unguarded" in text and "fix:" in text
    page = report._repr_html_()
    assert "<table>" in page and "&lt;b&gt;" in page and '<b>"' not in page
    assert "No findings" in validate(GOOD)._repr_html_()


def test_variables_are_expanded_and_undeclared_ones_refused() -> None:
    expr = 'sum(rate(voicebot_calls_total{outcome=~"$outcome"}[$__rate_interval]))'
    report = validate(expr, variables={"outcome": ["abandoned", "bot_resolved"]})
    assert report.ok
    assert '"(abandoned|bot_resolved)"' in report.expanded
    client = FakeClient()
    refused = validate(expr, client)
    assert [f.rule for f in refused.errors] == ["undeclared-variable"]
    assert client.queries == []


# -- with a (fake) client ----------------------------------------------------------------------


def test_client_run_counts_series() -> None:
    client = FakeClient()
    report = validate(GOOD, client, time="2026-02-14T18:00:00Z")
    assert report.ok and report.series == 2
    assert client.queries == [(report.expanded, "2026-02-14T18:00:00Z")]


def test_syntax_error_is_not_sent() -> None:
    client = FakeClient()
    assert not validate("sum(", client).ok
    assert client.queries == []


def test_execution_error_becomes_a_finding() -> None:
    error = QueryExecutionError("vector cannot contain metrics with the same labelset", query="x")
    report = validate(GOOD, FakeClient(error))
    assert not report.ok
    assert [f.rule for f in report.errors] == ["execution-error"]
    assert "same labelset" in report.errors[0].message


def test_empty_result_is_a_warning() -> None:
    report = validate(GOOD, FakeClient(frame([])))
    assert report.ok and report.series == 0
    assert [f.rule for f in report.findings] == ["empty-result"]


def test_series_over_budget_is_an_error() -> None:
    report = validate(GOOD, FakeClient(), series_budget=1)
    assert [f.rule for f in report.errors] == ["series-budget"]


def test_nan_only_series() -> None:
    t = "2026-02-14T18:00:00Z"
    rows = [
        {"timestamp": t, "value": np.nan, "provider": "deepgram"},
        {"timestamp": t, "value": 0.5, "provider": "google"},
    ]
    report = validate(GOOD, FakeClient(frame(rows)))
    assert [f.rule for f in report.findings] == ["nan-series"]
    assert "1 of 2" in report.findings[0].message


def test_prometheus_warnings_become_infos() -> None:
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        report = validate(GOOD, FakeClient(warn="PromQL info: metric might not be a counter"))
    assert [f.rule for f in report.findings] == ["prometheus-warning"]
    assert report.ok


def test_query_stats_give_the_cost() -> None:
    client = FakeClient()
    stats = {"samples": {"totalQueryableSamples": 2880, "peakSamples": 12}}
    client.query_stats = lambda expr, time: stats  # type: ignore[attr-defined]
    report = validate(GOOD, client)
    assert report.stats == stats
    (cost,) = [f for f in report.findings if f.rule == "query-cost"]
    assert "2880 samples" in cost.message and cost.severity == "info"


def test_live_metadata_is_used() -> None:
    client = FakeClient(
        labels={"voicebot_stt_latency_seconds_count": ["__name__", "job", "provider", "region"]},
        values={"provider": ["deepgram", "google"], "region": ["eu"]},
    )
    query = 'sum(rate(voicebot_stt_latency_seconds_count{provider="deepgrm", region="eu"}[5m]))'
    report = validate(query, client)
    assert [f.rule for f in report.findings] == ["unknown-label-value"]
    assert "did you mean deepgram" in report.findings[0].message


def test_live_types_override_the_catalog() -> None:
    client = FakeClient(types=[("shop_queue_length", "gauge")])
    report = validate("rate(shop_queue_length[5m])", client)
    assert "rate-on-gauge" in [f.rule for f in report.errors]


def test_metadata_failure_falls_back_to_offline() -> None:
    client = FakeClient(metrics_error=UnreachableError("no connection", url="http://x"))
    report = validate(GOOD, client)
    assert report.ok and report.series == 2
    assert [f.rule for f in report.findings] == ["metadata-unavailable"]


# -- the real demo Prometheus (the session fixture from conftest.py) ---------------------


@pytest.fixture
def live(request: pytest.FixtureRequest) -> tuple[Any, Any]:
    try:
        return request.getfixturevalue("demo_client"), request.getfixturevalue("demo")
    except pytest.FixtureLookupError:
        pytest.skip("needs the demo_client fixture from conftest.py")


BUILT = {
    "stt_p95": promql.quantile(0.95, "voicebot_stt_latency_seconds", by=["provider"]),
    "llm_p99": promql.quantile(0.99, "voicebot_llm_latency_seconds", by=["model"]),
    "bot": promql.bot_resolution_rate(min_volume=None),  # 2 min at 19:00: < 20 calls, no value
    "cache": promql.cache_hit_rate(),
    "errors": promql.error_ratio(),
    "transfers": promql.increase("voicebot_transfers_total", window="1h", by=["reason"]),
    "per_hour": promql.per_hour("voicebot_calls_total", by=["outcome"]),
    "tools": promql.topk(3, promql.rate("voicebot_tool_calls_total", by=["tool_name"])),
}


@pytest.mark.prometheus
@pytest.mark.parametrize("name", sorted(BUILT))
def test_builders_run_clean_on_the_demo(live: tuple[Any, Any], name: str) -> None:
    client, demo = live
    report = validate(BUILT[name], client, time=demo.end, dashboard=True)
    assert report.ok, str(report)
    assert report.series and report.series > 0
    assert [f.rule for f in report.findings if f.severity != "info"] == []


@pytest.mark.prometheus
def test_demo_flags_a_gauge_rate_but_still_runs(live: tuple[Any, Any]) -> None:
    client, demo = live
    report = validate("rate(voicebot_active_calls[5m])", client, time=demo.end)
    assert not report.ok
    assert report.errors[0].rule == "rate-on-gauge"
    assert report.series == 1


@pytest.mark.prometheus
def test_demo_label_values_and_typos(live: tuple[Any, Any]) -> None:
    client, demo = live
    value = validate(
        'sum(rate(voicebot_tts_latency_seconds_count{provider="elevenlab"}[5m]))',
        client,
        time=demo.end,
    )
    assert "unknown-label-value" in [f.rule for f in value.findings]
    assert (
        "elevenlabs" in next(f for f in value.findings if f.rule == "unknown-label-value").message
    )
    typo = validate("sum(rate(voicebot_cals_total[5m]))", client, time=demo.end)
    assert {"unknown-metric", "empty-result"} <= {f.rule for f in typo.findings}


@pytest.mark.prometheus
def test_demo_series_budget_and_execution_error(live: tuple[Any, Any]) -> None:
    client, demo = live
    wide = validate(
        "rate(voicebot_llm_latency_seconds_bucket[5m])", client, time=demo.end, series_budget=10
    )
    assert wide.series is not None and wide.series > 10
    assert "series-budget" in [f.rule for f in wide.errors]
    clash = validate(
        'label_replace(voicebot_circuit_breaker_state, "dependency", "x", "", "")',
        client,
        time=demo.end,
    )
    assert "execution-error" in [f.rule for f in clash.errors]


@pytest.mark.prometheus
def test_demo_mismatched_labels_are_really_empty_and_the_fix_is_not(live: tuple[Any, Any]) -> None:
    client, demo = live
    share = "sum by (model) (rate(voicebot_llm_latency_seconds_count[1h])) / {}sum(rate(voicebot_llm_latency_seconds_count[1h]))"
    broken = validate(share.format(""), client, time=demo.end)
    assert {"vector-matching", "empty-result"} <= {f.rule for f in broken.findings}
    fix = next(f.fix for f in broken.findings if f.rule == "vector-matching")
    assert fix == share.format("on() group_left ")
    fixed = validate(fix, client, time=demo.end)
    assert fixed.series == 2 and "vector-matching" not in {f.rule for f in fixed.findings}
    shares = client.query(fix, demo.end)["value"]
    assert shares.sum() == pytest.approx(1.0)  # each model's share of all LLM calls


@pytest.mark.prometheus
def test_demo_syntax_error_is_not_sent(live: tuple[Any, Any]) -> None:
    client, demo = live
    report = validate("sum(rate(voicebot_calls_total[5m])", client, time=demo.end)
    assert [f.rule for f in report.findings] == ["syntax-error"]
    assert report.series is None
