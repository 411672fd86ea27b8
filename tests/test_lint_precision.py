"""Lint claims only what its knowledge supports: owned namespaces, complete label sets, real zeros."""

from __future__ import annotations

from typing import Any

import pytest

from obskit.lint import Finding, lint
from obskit.promql._rules._names import close_names, edit_distance
from obskit.promql._rules._types import article

C = "rate(voicebot_calls_total[5m])"
#: What validate passes when the server has series of these metrics (the "live" view).
LIVE = {
    "voicebot_active_calls": ["__name__", "job", "instance"],
    "voicebot_calls_total": ["__name__", "job", "instance", "outcome", "scenario"],
}


def rules(expr: str, **kwargs: Any) -> list[str]:
    return [f.rule for f in lint(expr, **kwargs)]


def only(expr: str, rule: str, **kwargs: Any) -> list[Finding]:
    return [f for f in lint(expr, **kwargs) if f.rule == rule]


# -- unknown-metric ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "expr",
    [
        "up",
        'up{job="node"} == 0',
        "scrape_duration_seconds",
        "scrape_samples_scraped",
        'ALERTS{alertstate="firing"}',
        "ALERTS_FOR_STATE",
        "instance:node_cpu_utilisation:rate5m",
        "level:metric:ops",
        "voicebot:calls:rate5m",  # a recording rule, even inside the owned namespace
        "node_pressure_cpu_waiting_seconds_total",  # node_ is an exporter family, not owned
        "container_oom_events_total",
        "machine_memory_bytes",
        "pg_stat_bgwriter_buffers_alloc_total",
    ],
)
def test_unknown_metric_is_not_claimed_outside_owned_namespaces(expr: str) -> None:
    assert "unknown-metric" not in rules(expr)


@pytest.mark.parametrize("expr", ["up", "scrape_series_added", "ALERTS", "job:up:sum"])
def test_builtins_and_recording_rules_are_never_unknown_even_live(expr: str) -> None:
    assert "unknown-metric" not in rules(expr, labels=LIVE)


def test_a_typo_in_the_owned_namespace_gets_one_fix() -> None:
    (found,) = only("sum(voicebot_active_cals)", "unknown-metric")
    assert "voicebot_ namespace" in found.message
    assert found.fix == "sum(voicebot_active_calls)"


def test_no_fix_when_two_candidates_are_equally_close() -> None:
    known = {"voicebot_ab_total", "voicebot_ac_total"}
    assert close_names("voicebot_a_total", known) == sorted(known)
    types = dict.fromkeys(known, "counter")
    (found,) = only("rate(voicebot_ad_total[5m])", "unknown-metric", types=types)
    assert found.fix is None
    assert "voicebot_ab_total" in found.message and "voicebot_ac_total" in found.message


def test_far_names_are_not_suggested() -> None:
    (found,) = only("voicebot_completely_different_thing", "unknown-metric")
    assert found.fix is None and "did you mean" not in found.message


def test_live_flags_what_the_server_lacks_and_never_crosses_namespaces() -> None:
    labels = {**LIVE, "voicebot_rate_limit_events_total": ["__name__", "job"]}
    (found,) = only("container_oom_events_total", "unknown-metric", labels=labels)
    assert "server has no series" in found.message
    assert found.fix is None and "voicebot_" not in found.message
    assert "unknown-metric" not in rules("voicebot_active_calls", labels=LIVE)


def test_fixes_stay_in_the_namespace() -> None:
    known = {"redis_memory_max_bytes", "machine_memory_bytez", "voicebot_calls_total"}
    assert close_names("machine_memory_bytes", known) == ["machine_memory_bytez"]
    assert close_names("redis_memory_used_byte", known) == []


def test_edit_distance() -> None:
    assert edit_distance("kitten", "sitting") == 3
    assert edit_distance("", "abc") == 3
    assert edit_distance("same", "same") == 0


# -- unknown-label -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "expr",
    [
        'voicebot_active_calls{cluster="eu", namespace="bot", pod="p-1"}',
        'voicebot_active_calls{region="eu", env="prod", replica="a"}',
        'voicebot_active_calls{job="voicebot", instance="host:9100"}',
        f"sum by (cluster, namespace) ({C})",
        'node_cpu_seconds_total{mode="idle", cluster="eu", nodename="n1"}',  # exporter: incomplete
        "sum by (nodename) (rate(node_cpu_seconds_total[5m]))",
    ],
)
def test_unknown_label_is_not_claimed_offline_for_deployment_labels(expr: str) -> None:
    assert "unknown-label" not in rules(expr)


def test_unknown_label_offline_for_an_owned_complete_entry() -> None:
    (found,) = only('voicebot_active_calls{sitee="berlin"}', "unknown-label")
    assert "'sitee'" in found.message


def test_deployment_labels_are_configurable() -> None:
    expr = 'voicebot_active_calls{cluster="eu", zone="a"}'
    assert "unknown-label" not in rules(expr, deployment_labels=["cluster", "zone"])
    (found,) = only(expr, "unknown-label", deployment_labels=["zone"])
    assert "'cluster'" in found.message


def test_live_series_make_deployment_labels_claimable() -> None:
    (found,) = only('voicebot_active_calls{cluster="eu"}', "unknown-label", labels=LIVE)
    assert "'cluster'" in found.message
    grouped = only(f"sum by (cluster) ({C})", "unknown-label", labels=LIVE)
    assert grouped and "cluster" in grouped[0].message


# -- division-unguarded --------------------------------------------------------------------------


@pytest.mark.parametrize(
    "expr",
    [
        "node_memory_MemAvailable_bytes / node_memory_MemTotal_bytes",
        "1 - node_filesystem_avail_bytes / node_filesystem_size_bytes",
        "sum(rate(container_cpu_usage_seconds_total[5m])) / sum(machine_cpu_cores)",
        "container_memory_working_set_bytes / container_spec_memory_limit_bytes",
        "sum(rate(node_cpu_seconds_total[5m])) / count(node_cpu_seconds_total)",
        "sum(node_filesystem_avail_bytes / node_filesystem_size_bytes)",  # capacity inside sum
        "sum(kube_pod_container_resource_requests) / sum(kube_node_status_allocatable)",
        "sum(foo) / sum(bar)",  # nothing says bar is ever 0
        "topk(5, foo / bar)",
        "sum(rate(a_total[5m])) / (sum(rate(b_total[5m])) < 0)",
        "sum(foo / (bar >= 1))",
        "sum(a / clamp_min(rate(b_total[5m]), 1))",
        "rate(a_total[5m]) / node_memory_MemAvailable_bytes",  # an exporter gauge: no claim
    ],
)
def test_division_is_quiet_for_denominators_that_are_never_zero(expr: str) -> None:
    assert "division-unguarded" not in rules(expr)


@pytest.mark.parametrize(
    "expr",
    [
        "sum(rate(a_total[5m])) / sum(rate(b_total[5m]))",
        "rate(a_sum[5m]) / rate(a_count[5m])",
        "sum(increase(a_total[1h])) / (sum(increase(b_total[1h])) + sum(increase(c_total[1h])))",
        "sum(foo / bar)",  # inside a sum, one zero series spoils the group
        "sum(foo / (bar >= 0))",
        "avg by (x) (foo / clamp_min(bar, 0))",
        "sum(foo / (bar > 0) * baz / qux)",
        "sum(rate(voicebot_calls_total[5m])) / voicebot_active_calls",  # an owned gauge: 0 at night
    ],
)
def test_division_fires_where_the_denominator_can_be_zero(expr: str) -> None:
    (found,) = only(expr, "division-unguarded")
    assert found.severity == "warning" and "NaN" in found.message


@pytest.mark.parametrize("expr", ["sum(foo % 0)", "foo / (2 - 2)"])
def test_modulo_and_constant_zero_are_errors(expr: str) -> None:
    (found,) = only(expr, "division-unguarded")
    assert found.severity == "error"


# -- messages and counter-raw --------------------------------------------------------------------


def test_a_metric_typed_unknown_is_described_properly() -> None:
    types = {"foo": "unknown", "bar_count": "untyped"}
    for expr in ("histogram_quantile(0.9, rate(foo[5m]))", "rate(foo[5m])", "bar_count"):
        assert all(" a unknown" not in f.message for f in lint(expr, types=types))
    assert article("info") == "an info" and article("gauge") == "a gauge"
    assert article("unknown") == "an unknown metric"


def test_a_counter_right_of_unless_only_tests_presence() -> None:
    types = {"http_requests_total": "counter"}
    expr = 'absent(http_requests_total{cluster="dev"}) unless http_requests_total{cluster="prod"}'
    assert "counter-raw" not in rules(expr, types=types)
    assert "counter-raw" in rules("http_requests_total > 1 unless absent(up)", types=types)


# -- vector-matching: joins that can never match ---------------------------------------------------


@pytest.mark.parametrize(
    ("expr", "words"),
    [
        ("foo / on(instance) sum(bar)", "has no instance label"),
        ("sum(bar) / on(instance) group_right(cluster) foo", "left side sum(bar) has no instance"),
        ('foo{job="bar"} unless sum(foo)', "nothing is removed"),
        ('rate(x_total{job="a"}[5m]) / sum(rate(x_total[5m]))', "has no job label"),
        ('up{job="a"} / up{job="b"}', 'selects job="a"'),
        ('x{state="a"} / on(state) x{state="b"}', "matching compares state"),
    ],
)
def test_joins_that_can_never_match(expr: str, words: str) -> None:
    (found,) = only(expr, "vector-matching")
    assert words in found.message and "no pair of series ever matches" in found.message


@pytest.mark.parametrize(
    "expr",
    [
        'up{job="a"} / on() up{job="b"}',
        'rate(x_total{job="a"}[5m]) / ignoring(job) rate(x_total{job="b"}[5m])',
        'x{state="a"} / on(instance) x{state="b"}',
        'abs(sum(foo{job="bar"})) / sum(foo)',
        "sum(missing or vector(0))",
        'foo{job="bar"} / on() group_left sum(foo)',
        'sum by (job) (foo{job="bar"}) / on(job) sum by (job) (bar)',
        'x{job="$job"} / y{job="$job"}',
    ],
)
def test_joins_that_can_match_are_quiet(expr: str) -> None:
    assert "vector-matching" not in rules(expr, variables={"job": "api"})


# -- regex hygiene and constant comparisons --------------------------------------------------------


@pytest.mark.parametrize(
    ("expr", "rule", "fix"),
    [
        ('foo{job=~"bar"}', "regex-literal", 'foo{job="bar"}'),
        ('foo{job!~"bar"}', "regex-literal", 'foo{job!="bar"}'),
        ('foo{job=~"^.+$"}', "regex-anchors", 'foo{job=~".+"}'),
        ('foo{job=~"^api"}', "regex-anchors", 'foo{job=~"api"}'),
        ('foo{job!~".*"}', "regex-match-all", 'foo{job=""}'),
        ('foo{a="1", job=~".*", b="2"}', "regex-match-all", 'foo{a="1",b="2"}'),
        ('foo{job=~".*"}', "regex-match-all", "foo"),
    ],
)
def test_regex_hygiene_fires_with_a_fix(expr: str, rule: str, fix: str) -> None:
    (found,) = only(expr, rule)
    assert found.fix == fix
    assert rule not in rules(fix)


@pytest.mark.parametrize(
    "expr",
    [
        'foo{job=~"bar|foo"}',
        'foo{job=~".+"}',
        'foo{job=~"api-.*"}',
        'foo{job=~"$job"}',  # a variable may hold several values: =~ is right
        'foo{job=~"${job:regex}"}',
        'foo{job=~"a\\$"}',  # an escaped dollar is a literal character, not an anchor
        'foo{job=""}',
    ],
)
def test_regex_hygiene_is_quiet(expr: str) -> None:
    found = {r for r in rules(expr, variables={"job": ["a", "b"]}) if r.startswith("regex-")}
    assert not found


@pytest.mark.parametrize(
    ("expr", "severity"),
    [
        ("((( group(vector(0)) ))) > 0", "info"),
        ("count(foo) > 0", "info"),
        ("0 < count(foo)", "info"),
        ("sum(rate(foo_total[5m])) >= 0", "info"),
        ("rate(foo_total[5m]) < 0", "warning"),
        ("up > 1", "warning"),
        ("count(foo) == 0", "warning"),
        ("absent(foo) == 0", "warning"),
        ("clamp_max(foo, 1) > 2", "warning"),
    ],
)
def test_constant_comparisons(expr: str, severity: str) -> None:
    (found,) = only(expr, "constant-comparison")
    assert found.severity == severity
    assert ("never true" in found.message) == (severity == "warning")


@pytest.mark.parametrize(
    "expr",
    [
        "up == 0",
        "sum(rate(foo_total[5m])) > 0",
        "min(topk(10, foo)) > 5000",
        "foo > 0",
        "count(foo) > 1",
        "vector(1) > bool 0",
        "deriv(foo[5m]) < 0",
        "count(foo) > $n",
    ],
)
def test_comparisons_that_depend_on_data_are_quiet(expr: str) -> None:
    assert "constant-comparison" not in rules(expr, variables={"n": "3"})


# -- windows ---------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("expr", "scrape", "floor", "advised"),
    [
        ("rate(x_total[59s])", 30, "1m", "2m"),
        ("deriv(x[119s])", 60, "2m", "4m"),
        ("increase(x_total[1m])", 60, "2m", "4m"),
        ("irate(x_total[1m59s])", 60, "2m", None),
    ],
)
def test_windows_just_under_two_scrapes_are_too_short(
    expr: str, scrape: int, floor: str, advised: str | None
) -> None:
    """pint's promql/rate threshold: a window under 2 x scrape can hold fewer than 2 samples."""
    (found,) = only(expr, "range-too-short", scrape_interval=scrape)
    assert "shorter than 2 scrape intervals" in found.message
    assert f"at least {floor}" in found.message
    if advised:  # the advice (and the fix) stays 4 x scrape, as $__rate_interval
        assert f"({advised}, 4 scrape intervals" in found.message
        assert f"[{advised}]" in str(found.fix)


def test_over_time_windows_need_one_scrape() -> None:
    (found,) = only("max_over_time(x[29s])", "range-too-short", scrape_interval=30)
    assert "shorter than 1 scrape interval (30s)" in found.message
    assert found.fix == "max_over_time(x[30s])"
    assert "range-too-short" not in rules("max_over_time(x[30s])", scrape_interval=30)


@pytest.mark.parametrize(
    ("expr", "scrape"),
    [
        ("rate(x_total[1m])", 30),
        ("deriv(x[2m])", 60),
        ("rate(x_total[2m])", 60),
        ("increase(x_total[90s])", 30),
        ("irate(x_total[2m])", 60),
    ],
)
def test_windows_of_two_scrapes_are_long_enough(expr: str, scrape: int) -> None:
    assert "range-too-short" not in rules(expr, scrape_interval=scrape)


@pytest.mark.parametrize(
    "expr", ["irate(x_total[5m])", "sum(increase(x_total[1h]))", "rate(x_total[$__rate_interval])"]
)
def test_fixed_windows_that_are_chosen_are_not_hardcoded(expr: str) -> None:
    assert "hardcoded-window" not in rules(expr, dashboard=True)


@pytest.mark.parametrize(
    "expr",
    [
        "sum by (cluster, job) (sum by (instance, job) (rate(c_total[2m])))",
        "sum by (cluster, err) (sum by (instance, job) (rate(c_total[2m])) * on (instance) "
        "group_left (err) (instance_job:node_metadata))",
    ],
)
def test_grouping_by_a_label_an_inner_aggregation_removed(expr: str) -> None:
    (found,) = only(expr, "unknown-label")
    assert "dropped cluster" in found.message


@pytest.mark.parametrize(
    "expr",
    [
        "sum by (job) (sum by (instance, job) (rate(c_total[2m])))",
        "sum by (err, job) (sum by (instance, job) (rate(c_total[2m])) * on (instance) "
        "group_left (err) (instance_job:node_metadata))",
        "sum by (cluster) (rate(c_total[2m]))",
        "sum by (cluster) (sum without (instance) (rate(c_total[2m])))",
        "topk by (cluster) (3, sum by (instance) (rate(c_total[2m])))",
    ],
)
def test_grouping_by_labels_the_inner_expression_keeps(expr: str) -> None:
    assert "unknown-label" not in rules(expr)


# -- live, against the real demo Prometheus ---------------------------------------------------------


@pytest.mark.prometheus
def test_live_unknown_metric_is_what_the_demo_server_lacks(demo_client: Any, demo: Any) -> None:
    from obskit import validate

    def found(expr: str) -> list[Finding]:
        report = validate(expr, demo_client, time=demo.end)
        return [f for f in report.findings if f.rule == "unknown-metric"]

    (typo,) = found("sum(rate(voicebot_cals_total[5m]))")
    assert "server has no series" in typo.message
    assert typo.fix == "sum(rate(voicebot_calls_total[5m]))"
    (foreign,) = found("node_pressure_cpu_waiting_seconds_total")  # the demo has no such series
    assert foreign.fix is None
    assert found("up") == [] and found("scrape_duration_seconds") == []
    assert found("instance:node_cpu_utilisation:rate5m") == []
    assert found("sum(rate(voicebot_calls_total[5m]))") == []
