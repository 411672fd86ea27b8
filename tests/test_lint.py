"""Every lint rule: one query that triggers it, one that does not, and fixes that are clean."""

from __future__ import annotations

from typing import Any

import pytest

from obskit import catalog, promql
from obskit.errors import ConfigError
from obskit.lint import RULES, Finding, check_series_budget, estimate_series, lint

LLM = "voicebot_llm_latency_seconds"
MULTI = {"outcome": ["abandoned", "bot_resolved"]}
DEPENDENCIES = {"dependency": catalog.DEPENDENCIES}

# rule id -> (query that triggers it, query that does not, lint keyword arguments)
CASES: dict[str, tuple[str, str, dict[str, Any]]] = {
    "syntax-error": (
        "sum(rate(voicebot_calls_total[5m])",
        "sum(rate(voicebot_calls_total[5m]))",
        {},
    ),
    "undeclared-variable": (
        'sum(rate(voicebot_calls_total{outcome=~"$outcome"}[5m]))',
        'sum(rate(voicebot_calls_total{outcome=~"$outcome"}[5m]))',
        {"variables": MULTI},
    ),
    "rate-on-gauge": ("rate(voicebot_active_calls[5m])", "deriv(voicebot_active_calls[5m])", {}),
    "delta-on-counter": (
        "delta(voicebot_calls_total[5m])",
        "increase(voicebot_calls_total[5m])",
        {},
    ),
    "counter-raw": ("sum by (outcome) (voicebot_calls_total)", "count(voicebot_calls_total)", {}),
    "histogram-quantile-le": (
        f"histogram_quantile(0.95, sum by (model) (rate({LLM}_bucket[5m])))",
        f"histogram_quantile(0.95, sum by (le, model) (rate({LLM}_bucket[5m])))",
        {},
    ),
    "histogram-quantile-input": (
        f"histogram_quantile(0.95, sum by (le) (rate({LLM}_count[5m])))",
        f"histogram_quantile(0.95, sum by (le) (rate({LLM}_bucket[5m])))",
        {},
    ),
    "quantile-out-of-range": (
        f"histogram_quantile(95, sum by (le) (rate({LLM}_bucket[5m])))",
        f"histogram_quantile(1, sum by (le) (rate({LLM}_bucket[5m])))",
        {},
    ),
    "aggregation-before-rate": (
        "rate(sum by (outcome) (voicebot_calls_total)[5m:1m])",
        "max_over_time(sum by (outcome) (rate(voicebot_calls_total[5m]))[1h:1m])",
        {},
    ),
    "range-too-short": ("rate(voicebot_calls_total[45s])", "rate(voicebot_calls_total[1m])", {}),
    "noisy-panel": (
        'sum(rate(voicebot_store_api_requests_total{status_code=~"5.."}[$__rate_interval]))'
        " / (sum(rate(voicebot_store_api_requests_total[$__rate_interval])) > 0)",
        'sum(rate(voicebot_store_api_requests_total{status_code=~"5.."}[$__rate_interval]))'
        " / (sum(rate(voicebot_store_api_requests_total[$__rate_interval])) > 0)"
        " and on() (sum(increase(voicebot_store_api_requests_total[$__rate_interval])) >= 20)",
        {"dashboard": True},
    ),
    "hardcoded-window": (
        "sum(rate(voicebot_calls_total[5m]))",
        "sum(rate(voicebot_calls_total[$__rate_interval]))",
        {"dashboard": True},
    ),
    "unknown-metric": ("voicebot_active_cals", "voicebot_active_calls", {}),
    "unknown-label": (
        'voicebot_circuit_breaker_state{dependncy="llm"}',
        'voicebot_circuit_breaker_state{dependency="llm", job="voicebot"}',
        {},
    ),
    "unknown-label-value": (
        'voicebot_circuit_breaker_state{dependency="lmm"}',
        'voicebot_circuit_breaker_state{dependency=~"llm|stt"}',
        {"label_values": DEPENDENCIES},
    ),
    "multi-value-equality": (
        'sum(rate(voicebot_calls_total{outcome="$outcome"}[5m]))',
        'sum(rate(voicebot_calls_total{outcome=~"$outcome"}[5m]))',
        {"variables": MULTI},
    ),
    "division-unguarded": (
        "sum(rate(voicebot_calls_total[5m])) / sum(rate(voicebot_transfers_total[5m]))",
        "sum(rate(voicebot_calls_total[5m])) / (sum(rate(voicebot_transfers_total[5m])) > 0)",
        {},
    ),
    "vector-matching": (
        f"sum by (model) (rate({LLM}_count[5m])) / sum(rate({LLM}_count[5m]))",
        f"sum by (model) (rate({LLM}_count[5m])) / on() group_left sum(rate({LLM}_count[5m]))",
        {},
    ),
    "regex-literal": (
        'voicebot_active_calls{job=~"voicebot"}',
        'voicebot_active_calls{job=~"voicebot|bot"}',
        {},
    ),
    "regex-match-all": (
        'voicebot_active_calls{job="voicebot", instance=~".*"}',
        'voicebot_active_calls{job="voicebot", instance=~".+"}',
        {},
    ),
    "regex-anchors": (
        'voicebot_active_calls{job=~"^voice.*$"}',
        'voicebot_active_calls{job=~"voice.*"}',
        {},
    ),
    "constant-comparison": (
        "count(voicebot_active_calls) == 0",
        "sum(voicebot_active_calls) == 0",
        {},
    ),
    "series-budget": (
        f"sum by (le, model) (rate({LLM}_bucket[5m]))",
        f"sum by (model) (rate({LLM}_count[5m]))",
        {"series_budget": 10},
    ),
}


def rules_of(findings: list[Finding]) -> set[str]:
    return {f.rule for f in findings}


def test_every_rule_has_a_case() -> None:
    assert set(CASES) == set(RULES)


#: Rules that suggest rather than warn (they stay info, so a community dashboard's check is quiet).
SUGGESTIONS = {"noisy-panel"}


@pytest.mark.parametrize("rule", sorted(CASES))
def test_rule_triggers(rule: str) -> None:
    bad, _, kwargs = CASES[rule]
    if rule == "undeclared-variable":
        kwargs = {}
    found = [f for f in lint(bad, **kwargs) if f.rule == rule]
    assert found, f"{rule} did not fire on {bad}"
    for finding in found:
        assert finding.severity in (("info",) if rule in SUGGESTIONS else ("error", "warning"))
        assert len(finding.message) > 40


@pytest.mark.parametrize("rule", sorted(CASES))
def test_rule_stays_quiet(rule: str) -> None:
    _, good, kwargs = CASES[rule]
    assert rule not in rules_of(lint(good, **kwargs))


@pytest.mark.parametrize("rule", sorted(CASES))
def test_fixes_parse_and_clear_the_rule(rule: str) -> None:
    bad, _, kwargs = CASES[rule]
    for finding in lint(bad, **kwargs):
        if finding.fix is None or finding.rule != rule:
            continue
        promql.parse(finding.fix, variables=kwargs.get("variables"))
        assert rule not in rules_of(lint(finding.fix, **kwargs)), finding.fix


@pytest.mark.parametrize(
    ("expr", "kwargs", "rule", "fix"),
    [
        (
            "rate(voicebot_active_calls[5m])",
            {},
            "rate-on-gauge",
            "deriv(voicebot_active_calls[5m])",
        ),
        (
            "increase(voicebot_active_calls[1h])",
            {},
            "rate-on-gauge",
            "delta(voicebot_active_calls[1h])",
        ),
        (
            "sum(voicebot_calls_total) by (outcome)",
            {"dashboard": True},
            "counter-raw",
            "sum by (outcome) (rate(voicebot_calls_total[$__rate_interval]))",
        ),
        (
            f"histogram_quantile(0.9, sum(rate({LLM}_bucket[$__rate_interval])))",
            {},
            "histogram-quantile-le",
            f"histogram_quantile(0.9, sum by (le) (rate({LLM}_bucket[$__rate_interval])))",
        ),
        (
            f"histogram_quantile(0.9, sum without (le) (rate({LLM}_bucket[5m])))",
            {},
            "histogram-quantile-le",
            f"histogram_quantile(0.9, sum without () (rate({LLM}_bucket[5m])))",
        ),
        (
            f"histogram_quantile(0.9, sum by (le) (rate({LLM}_sum[5m])))",
            {},
            "histogram-quantile-input",
            f"histogram_quantile(0.9, sum by (le) (rate({LLM}_bucket[5m])))",
        ),
        (
            "rate(sum(voicebot_calls_total)[10m:])",
            {},
            "aggregation-before-rate",
            "sum(rate(voicebot_calls_total[10m]))",
        ),
        (
            'rate(voicebot_calls_total{outcome=~"$o"}[$__interval])',
            {"dashboard": True, "variables": {"o": "a"}},
            "range-too-short",
            'rate(voicebot_calls_total{outcome=~"$o"}[$__rate_interval])',
        ),
        (
            "irate(voicebot_calls_total[30s] offset 1h)",
            {},
            "range-too-short",
            "irate(voicebot_calls_total[1m] offset 1h)",
        ),
        (
            "topk($k, sum by ($group) (rate(voicebot_calls_total[5m])))",
            {"dashboard": True, "variables": {"k": "5", "group": "outcome"}},
            "hardcoded-window",
            "topk($k, sum by ($group) (rate(voicebot_calls_total[$__rate_interval])))",
        ),
        ("voicebot_activ_calls", {}, "unknown-metric", "voicebot_active_calls"),
        (
            'voicebot_circuit_breaker_state{dependncy="llm"}',
            {},
            "unknown-label",
            'voicebot_circuit_breaker_state{dependency="llm"}',
        ),
        (
            'a{x="$v"} + b{y="$v"}',
            {"variables": {"v": ["1", "2"]}},
            "multi-value-equality",
            'a{x=~"$v"} + b{y="$v"}',
        ),
        (
            "sum(rate(a_total[5m])) / (sum(rate(b_total[5m])) + sum(rate(c_total[5m])))",
            {},
            "division-unguarded",
            "sum(rate(a_total[5m])) / ((sum(rate(b_total[5m])) + sum(rate(c_total[5m]))) > 0)",
        ),
    ],
)
def test_fix_text(expr: str, kwargs: dict[str, Any], rule: str, fix: str) -> None:
    fixes = [f.fix for f in lint(expr, **kwargs) if f.rule == rule]
    assert fix in fixes


@pytest.mark.parametrize(
    "denominator",
    [
        "(sum(rate(b_total[5m])) > 0)",
        "(sum(rate(b_total[5m])) != 0)",
        "(sum(rate(b_total[5m])) >= 1)",
        "clamp_min(sum(rate(b_total[5m])), 1)",
        "(sum(rate(b_total[5m])) or vector(1))",
        "count(b_total)",
        "2",
        "$__range_s",
        "($__interval_ms / 1000)",
        "time()",
    ],
)
def test_division_guards(denominator: str) -> None:
    expr = f"sum(rate(a_total[5m])) / {denominator}"
    assert "division-unguarded" not in rules_of(lint(expr))


@pytest.mark.parametrize(
    "denominator",
    [
        "sum(rate(b_total[5m]))",
        "(sum(rate(b_total[5m])) > bool 0)",
        "clamp_min(sum(rate(b_total[5m])), 0)",
        "scalar(sum(rate(b_total[5m])))",
        "(b > bool 0)",
        "sum(increase(b_total[1h])) + sum(increase(c_total[1h]))",
    ],
)
def test_division_not_guarded(denominator: str) -> None:
    found = [f for f in lint(f"a / {denominator}") if f.rule == "division-unguarded"]
    assert found and found[0].severity == "warning"


def test_division_by_literal_zero_is_an_error() -> None:
    found = [f for f in lint("a / 0") if f.rule == "division-unguarded"]
    assert found[0].severity == "error"
    assert found[0].fix is None


def test_live_types_win_over_the_catalog() -> None:
    assert "rate-on-gauge" in rules_of(lint("rate(voicebot_active_calls[5m])"))
    assert lint("rate(voicebot_active_calls[5m])", types={"voicebot_active_calls": "counter"}) == []
    typed = lint("rate(shop_queue_length[5m])", types={"shop_queue_length": "gauge"})
    assert "rate-on-gauge" in rules_of(typed)
    assert "(server metadata)" in typed[0].message


def test_metadata_for_histogram_families() -> None:
    types = {"api_latency_seconds": "histogram", "jobs_done": "counter"}
    query = "histogram_quantile(0.9, sum by (le) (rate(api_latency_seconds_bucket[5m])))"
    assert lint(query, types=types) == []
    assert "counter-raw" in rules_of(lint("api_latency_seconds_count", types=types))
    assert "counter-raw" in rules_of(lint("jobs_done_total", types=types))


def test_rate_on_counter_is_not_flagged_by_suffix_alone() -> None:
    # The type decides, not the suffix: a gauge named *_total is still a gauge.
    found = lint("rate(weird_total[5m])", types={"weird_total": "gauge"})
    assert "rate-on-gauge" in rules_of(found)


def test_live_labels_and_values() -> None:
    labels = {"voicebot_active_calls": ["__name__", "job", "instance", "site"]}
    assert lint('voicebot_active_calls{site="berlin"}', labels=labels) == []
    found = lint('voicebot_active_calls{sight="berlin"}', labels=labels)
    assert [f.rule for f in found] == ["unknown-label"]
    assert "did you mean site" in found[0].message
    values = {("voicebot_active_calls", "site"): ["berlin", "paris"]}
    found = lint('voicebot_active_calls{site="berln"}', labels=labels, label_values=values)
    assert [f.rule for f in found] == ["unknown-label-value"]
    assert "did you mean berlin" in found[0].message
    assert lint('voicebot_active_calls{site=~"ber.*"}', labels=labels, label_values=values) == []
    assert lint('voicebot_active_calls{site!="x"}', labels=labels, label_values=values) == []


def test_label_values_through_variables() -> None:
    expr = 'voicebot_circuit_breaker_state{dependency=~"$dep"}'
    assert lint(expr, variables={"dep": ["llm", "stt"]}, label_values=DEPENDENCIES) == []
    found = lint(expr, variables={"dep": ["lmm"]}, label_values=DEPENDENCIES)
    assert rules_of(found) == {"unknown-label-value"}


def test_grouping_by_a_missing_label() -> None:
    found = lint("sum by (provder) (rate(voicebot_stt_latency_seconds_count[5m]))")
    assert rules_of(found) == {"unknown-label"}
    assert "provder" in found[0].message


def test_undeclared_variable_is_named_once() -> None:
    found = lint('sum by ($g) (x{a="$g", b=~"${h}"})')
    undeclared = [f for f in found if f.rule == "undeclared-variable"]
    assert len(undeclared) == 2
    assert undeclared[0].severity == "error"
    assert "$g" in undeclared[0].message and "${h}" in undeclared[1].message


def test_grafana_time_range_builtins_are_not_undeclared() -> None:
    expr = "sum(voicebot_active_calls @ ${__to:date:seconds}) + ($__to - $__from) * 0"
    assert "undeclared-variable" not in rules_of(lint(expr))


C = "rate(voicebot_calls_total[5m])"


@pytest.mark.parametrize(
    ("expr", "fix"),
    [
        (f"sum by (outcome, scenario) ({C}) / sum by (outcome) ({C})",
         f"sum by (outcome, scenario) ({C}) / on(outcome) group_left sum by (outcome) ({C})"),
        (f"sum({C}) * sum by (outcome) ({C})",
         f"sum({C}) * on() group_right sum by (outcome) ({C})"),
        (f"sum by (outcome, scenario) ({C}) unless sum by (outcome) ({C}) < 1",
         f"sum by (outcome, scenario) ({C}) unless on(outcome) sum by (outcome) ({C}) < 1"),
        (f"histogram_quantile(0.9, sum by (le, model) (rate({LLM}_bucket[5m]))) > "
         f"2 * histogram_quantile(0.5, sum by (le) (rate({LLM}_bucket[5m])))",
         f"histogram_quantile(0.9, sum by (le, model) (rate({LLM}_bucket[5m]))) > on() group_left "
         f"2 * histogram_quantile(0.5, sum by (le) (rate({LLM}_bucket[5m])))"),
        (f"sum by (outcome) ({C}) / sum by (scenario) ({C})", None),  # disjoint: no fix
    ],
)  # fmt: skip
def test_vector_matching_fires_with_the_matching_that_fixes_it(expr: str, fix: str | None) -> None:
    (found,) = [f for f in lint(expr) if f.rule == "vector-matching"]
    assert found.fix == fix
    assert "nothing matches" in found.message


@pytest.mark.parametrize(
    "expr",
    [
        f"sum by (outcome) ({C}) / ignoring(scenario) sum by (outcome, scenario) ({C})",
        f"sum by (outcome) ({C}) / on(outcome) group_left sum by (outcome, scenario) ({C})",
        f"{C} / sum({C})",  # a bare selector's labels depend on the data: no claim
        f"sum without (scenario) ({C}) / sum({C})",
        f'label_replace(sum({C}), "outcome", "all", "", "") / sum by (outcome) ({C})',
        f"sum by (outcome) ({C}) / scalar(sum({C}))",
        f"sum by (outcome) ({C}) * 60 / sum by (outcome) (rate(voicebot_calls_total[1h]))",
        f"sum by (outcome) ({C}) or sum({C})",  # or keeps both sides
        f"topk(3, sum by (outcome) ({C})) / sum by (outcome) ({C})",
    ],
)
def test_vector_matching_stays_quiet_when_labels_match_or_are_unknown(expr: str) -> None:
    assert "vector-matching" not in rules_of(lint(expr))


def test_syntax_error_finding_has_the_position() -> None:
    (finding,) = lint("sum(rate(voicebot_calls_total[5m])")
    assert finding.rule == "syntax-error"
    assert "line 1, column 4" in finding.message


def test_findings_are_sorted_errors_first() -> None:
    found = lint("rate(voicebot_calls_total[1m]) / rate(voicebot_active_calls[5m])")
    severities = [f.severity for f in found]
    assert severities == sorted(severities, key=("error", "warning", "info").index)
    assert severities[0] == "error"


def test_macro_windows_are_checked_with_their_real_value() -> None:
    query = "rate(voicebot_calls_total[$__interval])"
    assert "range-too-short" in rules_of(lint(query, scrape_interval=30))
    assert "range-too-short" not in rules_of(lint(query, scrape_interval=5))
    assert lint("rate(voicebot_calls_total[$__rate_interval])", scrape_interval=60) == []


def test_finding_rejects_unknown_severity() -> None:
    with pytest.raises(ConfigError, match="severity"):
        Finding("x", "fatal", "message")


def test_check_series_budget() -> None:
    over = check_series_budget(501, 500)
    assert over is not None and over.severity == "error" and "501 series" in over.message
    estimate = check_series_budget(600, 500, estimated=True)
    assert estimate is not None and estimate.severity == "warning"
    assert check_series_budget(500, 500) is None
    assert check_series_budget(None, 500) is None


@pytest.mark.parametrize(
    ("expr", "expected"),
    [
        ("voicebot_calls_total", 15),
        ('voicebot_calls_total{outcome="abandoned"}', 5),
        ("sum by (outcome) (rate(voicebot_calls_total[5m]))", 3),
        ("sum(rate(voicebot_calls_total[5m]))", 1),
        (promql.quantile(0.95, LLM, by=["model"]), 2),
        (f"sum by (le) (rate({LLM}_bucket[5m]))", 23),
        ("sum without (scenario) (rate(voicebot_calls_total[5m]))", 3),
        ("topk(3, voicebot_calls_total)", 15),
        ("rate(voicebot_calls_total[5m]) / 2", 15),
        ("no_such_metric", None),
    ],
)
def test_estimate_series(expr: str, expected: int | None) -> None:
    assert estimate_series(expr) == expected


def test_the_rule_table_is_derived_from_the_registry() -> None:
    from pathlib import Path

    from obskit.promql import lint as module

    doc = module.__doc__ or ""
    readme = (Path(__file__).parents[1] / "README.md").read_text()
    for rule in RULES:
        assert f"\n{rule} " in doc, rule
        assert f"`{rule}`" in readme, f"README's lint table lacks {rule}"


def test_noisy_panel_speaks_only_for_namespaces_the_catalog_owns() -> None:
    """Volume at night is catalog knowledge: a kubelet histogram's never falls."""
    foreign = (
        "histogram_quantile(0.99, sum by (le) "
        "(rate(kubelet_pleg_relist_duration_seconds_bucket[$__rate_interval])))"
    )
    owned = (
        "histogram_quantile(0.99, sum by (le) "
        "(rate(voicebot_llm_latency_seconds_bucket[$__rate_interval])))"
    )
    assert [f.rule for f in lint(owned, dashboard=True)] == ["noisy-panel"]
    assert [f.rule for f in lint(foreign, dashboard=True)] == []
    ratio = "sum(rate(foo_errors_total[5m])) / sum(rate(foo_requests_total[5m]))"
    assert "noisy-panel" not in [f.rule for f in lint(ratio, dashboard=True)]
