"""The server's dialect: with a client the server decides syntax; offline a dialect knows the differences."""

from __future__ import annotations

import pytest

import obskit
from obskit.errors import ConfigError
from obskit.promql import Expr, PanelContext
from obskit.promql._dialect import dialect_of

HOLT = "holt_winters(voicebot_active_calls[10m], 0.5, 0.5)"
REJECTED_BY_2 = [
    "limitk(2, voicebot_active_calls)",
    'sort_by_label(voicebot_active_calls, "job")',
    '{"voicebot_active_calls"}',
    'sum by ("job") (voicebot_active_calls)',
]


@pytest.mark.prometheus
def test_holt_winters_validates_on_prometheus_2(demo, demo_client) -> None:
    assert demo_client.build_info()["version"].startswith("2.")
    report = obskit.validate(HOLT, demo_client, time=demo.end)
    assert report.ok, report
    assert report.series == 1
    assert not [f for f in report.findings if f.rule == "syntax-error"]


@pytest.mark.prometheus
@pytest.mark.parametrize("query", REJECTED_BY_2)
def test_what_prometheus_2_rejects_is_rejected(demo, demo_client, query: str) -> None:
    assert Expr(query).syntax_error is None  # the offline parser alone would accept it
    report = obskit.validate(query, demo_client, time=demo.end)
    assert not report.ok
    assert report.findings[0].rule == "syntax-error"
    assert "the server rejects the query" in report.findings[0].message


@pytest.mark.prometheus
def test_add_panel_accepts_holt_winters_against_the_server(demo_client, tmp_path) -> None:
    import shutil
    from pathlib import Path

    grafana = tmp_path / "grafana"
    shutil.copytree(Path(__file__).resolve().parents[1] / "grafana", grafana)
    change = obskit.add_panel(
        "business-dashboard", HOLT, title="Smoothed calls", client=demo_client, grafana_dir=grafana
    )
    assert change.action == "added"


def test_offline_prometheus_2_reads_holt_winters_and_refuses_prometheus_3_names() -> None:
    assert obskit.validate(HOLT).ok
    for query in REJECTED_BY_2:
        report = obskit.validate(query)
        assert not report.ok, query
        assert report.errors[0].rule in ("unsupported-function", "unsupported-syntax")


def test_offline_prometheus_3_has_the_new_names_and_not_holt_winters() -> None:
    three = obskit.validate(HOLT, dialect="prometheus-3")
    assert not three.ok and three.errors[0].rule == "syntax-error"
    smoothing = obskit.validate(
        "double_exponential_smoothing(voicebot_active_calls[10m], 0.5, 0.5)", dialect="prometheus-3"
    )
    assert smoothing.ok
    assert [f.rule for f in smoothing.findings] == ["experimental-function"]
    assert obskit.validate('{"voicebot_active_calls"}', dialect="prometheus-3").ok


def test_victoriametrics_has_them_all() -> None:
    for query in REJECTED_BY_2:
        assert obskit.validate(query, dialect="victoriametrics").ok, query


def test_label_replace_strings_are_not_quoted_names() -> None:
    report = obskit.validate('label_replace(voicebot_active_calls, "dst", "$1", "job", "(.*)")')
    assert not [f for f in report.findings if f.rule == "unsupported-syntax"]


def test_fixes_keep_holt_winters_as_written() -> None:
    report = obskit.validate("holt_winters(rate(voicebot_calls_total[30s])[1h:], 0.5, 0.5)")
    fixes = [f.fix for f in report.findings if f.fix]
    assert fixes and all("holt_winters(" in fix and "double_exp" not in fix for fix in fixes)


def test_dialect_from_build_info_and_bad_dialect() -> None:
    assert dialect_of({"version": "2.42.0"}) == "prometheus-2"
    assert dialect_of({"version": "3.1.0"}) == "prometheus-3"
    assert dialect_of({}) == "victoriametrics"
    with pytest.raises(ConfigError, match="dialect must be one of prometheus-2"):
        PanelContext(dialect="mimir")


# -- windows past the server's retention -------------------------------------------------------------


def test_lookback_adds_windows_offsets_and_subqueries() -> None:
    assert Expr("rate(x[5m] offset 1h)").lookback == 3900
    assert Expr("max_over_time(rate(x[5m])[1d:1m])").lookback == 86400 + 300
    assert Expr("sum(rate(x[$__rate_interval]))").lookback == 120  # the macro's real window
    assert Expr("rate(x[$w])").lookback is None  # unknown: nothing is claimed


@pytest.mark.prometheus
def test_a_window_past_the_servers_retention_is_a_warning(demo, demo_client) -> None:
    assert demo_client.flags()["storage.tsdb.retention.time"] == "100y"
    past = obskit.validate("rate(voicebot_calls_total[5m] offset 101y)", demo_client, time=demo.end)
    assert [f.rule for f in past.findings if f.rule == "retention-exceeded"] == [
        "retention-exceeded"
    ]
    assert "keeps 100y" in str(past) or "keeps 36500d" in str(past)
    within = obskit.validate("rate(voicebot_calls_total[5m] offset 1d)", demo_client, time=demo.end)
    assert not [f for f in within.findings if f.rule == "retention-exceeded"]
