"""PromQL builders, escaping, Grafana interval/macro/variable expansion and offline parsing."""

from __future__ import annotations

import re

import promql_parser
import pytest

from obskit import promql
from obskit.errors import ConfigError, PrometheusError, QuerySyntaxError
from obskit.lint import lint

# -- escaping ----------------------------------------------------------------------------------

TRICKY_VALUES = [
    "plain",
    "",
    'say "hi"',
    "back\\slash",
    "C:\\path\\",
    "line\nbreak",
    "tab\there",
    "cr\rhere",
    "bell\a",
    "ctrl\x01\x1f\x7f",
    "café",
    "東京",
    "emoji 😀",
    "zero\u200bwidth",
    "line\u2028sep",
    "$dollar {braces} [brackets] 'single'",
    ".*+?()|^$",
]


@pytest.mark.parametrize("value", TRICKY_VALUES)
def test_quote_round_trips_through_the_parser(value: str) -> None:
    node = promql_parser.parse(f"x{{a={promql.quote(value)}}}")
    assert node.matchers.matchers[0].value == value


@pytest.mark.parametrize("value", TRICKY_VALUES)
def test_selector_escapes_values(value: str) -> None:
    node = promql_parser.parse(promql.selector("x", {"a": value}))
    assert node.matchers.matchers[0].value == value


@pytest.mark.parametrize("value", ["a.b", "1+1", "(x)", "a|b", "^$", "[x]", "{1}", "a\\b", "?*"])
def test_regex_escape_matches_only_the_literal(value: str) -> None:
    pattern = promql.regex_escape(value)
    assert re.fullmatch(pattern, value)
    assert not re.fullmatch(pattern, value + "x")
    node = promql_parser.parse(f"x{{a=~{promql.quote(pattern)}}}")
    assert node.matchers.matchers[0].value == pattern


def test_selector_forms() -> None:
    assert promql.selector("x") == "x"
    assert promql.selector("x", {"a": "b", "c": "d"}) == 'x{a="b",c="d"}'
    assert promql.selector("x", {"a": ["b.c", "d"]}) == 'x{a=~"b\\\\.c|d"}'
    assert promql.selector("x", {"a": {"z", "y"}}) == 'x{a=~"y|z"}'
    assert promql.selector("x", {"a": ["only"]}) == 'x{a="only"}'
    assert promql.selector("x", {"a": ("!~", "5..")}) == 'x{a!~"5.."}'
    assert promql.selector("x", 'provider=~"$provider"') == 'x{provider=~"$provider"}'
    assert promql.selector("x", "{a='b'}") == "x{a='b'}"
    assert promql.selector("$metric", {"a": "b"}) == '$metric{a="b"}'


@pytest.mark.parametrize(
    ("metric", "matchers"),
    [
        ("bad name", None),
        ("1x", None),
        ("x", {"bad-label": "v"}),
        ("x", {"a": []}),
        ("x", {"a": 1}),
    ],
)
def test_selector_rejects_bad_input(metric: str, matchers: object) -> None:
    with pytest.raises(ConfigError, match="like"):
        promql.selector(metric, matchers)  # type: ignore[arg-type]


# -- builders ----------------------------------------------------------------------------------


def test_rate_and_increase() -> None:
    assert promql.rate("x_total") == "rate(x_total[$__rate_interval])"
    assert promql.rate("x_total", window=300) == "rate(x_total[5m])"
    assert promql.rate("x_total", {"a": "b"}, "1h30m", by=()) == 'sum(rate(x_total{a="b"}[1h30m]))'
    assert promql.increase("x_total", by=["a", "a", "b"]) == (
        "sum by (a, b) (increase(x_total[$__rate_interval]))"
    )
    assert promql.rate("x_total", window="$window") == "rate(x_total[$window])"
    with pytest.raises(ConfigError, match="duration"):
        promql.rate("x_total", window="5 minutes")


def test_quantile_always_keeps_le() -> None:
    expected = (
        "histogram_quantile(0.95, sum by (le, provider) "
        '(rate(voicebot_stt_latency_seconds_bucket{job="voicebot"}[$__rate_interval])))'
    )
    got = promql.quantile(
        0.95, "voicebot_stt_latency_seconds", by=["provider"], selector={"job": "voicebot"}
    )
    assert got == expected
    assert promql.quantile(0.5, "x_bucket", by=["le", "a"]).startswith(
        "histogram_quantile(0.5, sum by (le, a) (rate(x_bucket["
    )
    assert "sum by (le) (" in promql.quantile(0.99, "x")


@pytest.mark.parametrize("q", [-0.1, 1.5, 95, True, "0.9"])
def test_quantile_rejects_q_outside_0_1(q: object) -> None:
    with pytest.raises(ConfigError, match=r"0\.95"):
        promql.quantile(q, "x")  # type: ignore[arg-type]


def test_quantiles_keys() -> None:
    got = promql.quantiles("x", (0.5, 0.9, 0.95, 0.99, 0.999))
    assert list(got) == ["p50", "p90", "p95", "p99", "p99.9"]
    assert got["p99"].startswith("histogram_quantile(0.99,")


def test_ratio_guards_and_parenthesises() -> None:
    assert promql.ratio("a", "b") == "a / (b > 0)"
    assert promql.ratio("a + b", "c") == "(a + b) / (c > 0)"
    assert promql.ratio("-a", "c") == "(-a) / (c > 0)"
    assert promql.ratio("rate(a[$__rate_interval])", "b") == "rate(a[$__rate_interval]) / (b > 0)"


def test_topk_and_counts() -> None:
    assert promql.topk(5, "x") == "topk(5, x)"
    assert promql.topk(2, "x", by=["a"]) == "topk by (a) (2, x)"
    assert promql.per_hour("x_total") == "sum(increase(x_total[1h]))"
    assert promql.per_day("x_total", {"a": "b"}, by=["c"]) == (
        'sum by (c) (increase(x_total{a="b"}[1d]))'
    )
    for k in (0, -1, 1.5, True):
        with pytest.raises(ConfigError, match="positive"):
            promql.topk(k, "x")  # type: ignore[arg-type]


BUILT = {
    "rate": promql.rate("voicebot_calls_total", {"outcome": "abandoned"}, by=["scenario"]),
    "increase": promql.increase("voicebot_transfers_total", by=["reason"]),
    "p95": promql.quantile(0.95, "voicebot_stt_latency_seconds", by=["provider"]),
    **promql.quantiles("voicebot_llm_latency_seconds", by=["model"]),
    "bot": promql.bot_resolution_rate(),
    "bot_by": promql.bot_resolution_rate(by=["scenario"]),
    "cache": promql.cache_hit_rate(),
    "errors": promql.error_ratio(),
    "errors_by": promql.error_ratio(by=["job"]),
    "topk": promql.topk(3, promql.rate("voicebot_tool_calls_total", by=["tool_name"])),
    "hour": promql.per_hour("voicebot_calls_total", by=["outcome"]),
    "day": promql.per_day("voicebot_orders_created_total"),
}


@pytest.mark.parametrize("name", sorted(BUILT))
@pytest.mark.parametrize("dashboard", [False, True])
def test_builder_outputs_parse_and_lint_clean(name: str, dashboard: bool) -> None:
    expr = BUILT[name]
    assert "$__rate_interval" in expr or "increase(" in expr
    promql.parse(expr)
    # clean: no warning or error (noisy-panel may suggest a guard for an unguarded quantile)
    assert [f for f in lint(expr, dashboard=dashboard) if f.severity != "info"] == []


def test_a_guarded_quantile_gets_no_calm_panel_suggestion() -> None:
    bare = promql.quantile(0.95, "voicebot_llm_latency_seconds", by=["model"])
    calm = promql.quantile(0.95, "voicebot_llm_latency_seconds", by=["model"], min_count=20)
    assert [f.rule for f in lint(bare, dashboard=True)] == ["noisy-panel"]
    assert lint(calm, dashboard=True) == []


# -- Grafana interval and macros ---------------------------------------------------------------


@pytest.mark.parametrize(
    ("range_seconds", "max_points", "min_interval", "expected"),
    [
        (6 * 3600, 1000, 15, 20.0),  # 21.6 s rounds to 20 s
        (6 * 3600, 1000, 30, 30.0),  # below the scrape interval: raised to it
        (3600, 1000, "1ms", 5.0),  # 3.6 s -> 5 s
        (86400, 1000, 15, 60.0),  # 86.4 s -> 1 m
        (7 * 86400, 1000, 30, 600.0),  # 604.8 s -> 10 m
        (30 * 86400, 1000, 30, 1800.0),  # 2592 s -> 30 m
        (300, 1000, 0.001, 0.2),  # 300 ms -> 200 ms
        (45_000, 1000, 1, 60.0),  # exactly 45 s is not < 45 s -> 1 m
        (44_999, 1000, 1, 30.0),  # just under 45 s -> 30 s
        (30 * 86400, 100_000, 1, 300.0),  # 11,000-points limit: 235.6 s -> 5 m
        (86400, 1000, "2m", 120.0),  # min interval as a duration string
        (20 * 365 * 86400, 100, 1, 31_536_000.0),  # beyond the table: 1 y
    ],
)
def test_grafana_interval_rounding(
    range_seconds: float, max_points: int, min_interval: float | str, expected: float
) -> None:
    assert promql.grafana_interval(range_seconds, max_points, min_interval) == expected


def test_grafana_interval_rejects_nonsense() -> None:
    with pytest.raises(ConfigError, match="positive"):
        promql.grafana_interval(3600, 0)
    with pytest.raises(ConfigError, match="positive"):
        promql.grafana_interval(0, 100)


@pytest.mark.parametrize(
    ("interval", "scrape", "expected"),
    [(20, 30, 120.0), (600, 30, 630.0), (30, 15, 60.0), ("1m", "15s", 75.0), (1, 60, 240.0)],
)
def test_rate_interval_formula(interval: float | str, scrape: float | str, expected: float) -> None:
    assert promql.rate_interval(interval, scrape) == expected


def test_expand_builtins() -> None:
    expr = (
        "$__interval ${__interval} $__interval_ms $__rate_interval ${__rate_interval} "
        "$__rate_interval_ms $__range $__range_s $__range_ms"
    )
    got = promql.expand(expr, range_seconds=86400, max_data_points=1000, scrape_interval=30)
    assert got == "1m 1m 60000 2m 2m 120000 86400s 86400 86400000"


def test_expand_from_and_to_in_grafanas_formats() -> None:
    from datetime import UTC, datetime

    end = datetime(2026, 2, 14, 18, tzinfo=UTC)
    expr = "$__from ${__to} ${__to:date:seconds} ${__from:date:iso} ${__to:date}"
    got = promql.expand(expr, range_seconds=3600, end=end)
    assert got == (
        "1771088400000 1771092000000 1771092000 2026-02-14T17:00:00.000Z 2026-02-14T18:00:00.000Z"
    )
    with pytest.raises(ConfigError, match=r"\$\{__to:date:YYYY\}.*date:seconds"):
        promql.expand("${__to:date:YYYY}", end=end)


def test_expand_from_and_to_default_to_obskit_now(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("OBSKIT_NOW", "2026-02-14T18:00:00Z")
    assert promql.expand("x @ ${__to:date:seconds}") == "x @ 1771092000"


def test_expand_explicit_interval() -> None:
    got = promql.expand("rate(x[$__rate_interval]) [$__interval]", interval="5m")
    assert got == "rate(x[5m30s]) [5m]"


VARS = {
    "provider": "deepgram",
    "providers": ["deepgram", "google"],
    "dotted": ["a.b", "c"],
    "one": ["only.one"],
    "everything": "$__all",
    "all_list": ["$__all"],
    "quoted": 'say "hi"\\',
    "labels": ["provider", "job"],
}


@pytest.mark.parametrize(
    ("expr", "expected"),
    [
        ('x{p="$provider"}', 'x{p="deepgram"}'),
        ('x{p="${provider}"}', 'x{p="deepgram"}'),
        ('x{p="[[provider]]"}', 'x{p="deepgram"}'),
        ('x{p=~"$providers"}', 'x{p=~"(deepgram|google)"}'),
        ('x{p=~"${dotted}"}', 'x{p=~"(a\\\\.b|c)"}'),
        ('x{p=~"$one"}', 'x{p=~"only\\\\.one"}'),
        ('x{p=~"$everything"}', 'x{p=~".*"}'),
        ('x{p=~"$all_list"}', 'x{p=~".*"}'),
        ('x{p="$quoted"}', 'x{p="say \\"hi\\"\\\\"}'),
        ("x{p='$quoted'}", "x{p='say \"hi\"\\\\'}"),
        ("sum by ($labels) (x)", "sum by (provider,job) (x)"),
        ('x{p=~"${providers:pipe}"}', 'x{p=~"deepgram|google"}'),
        ('x{p=~"${providers:csv}"}', 'x{p=~"deepgram,google"}'),
        ('x{p=~"${dotted:raw}"}', 'x{p=~"a.b,c"}'),
        ('x{p=~"${provider:regex}"}', 'x{p=~"deepgram"}'),
        ('x{p="$unknown"}', 'x{p="$unknown"}'),
        ('label_replace(x, "a", "$1", "b", "(.*)")', 'label_replace(x, "a", "$1", "b", "(.*)")'),
    ],
)
def test_expand_variables(expr: str, expected: str) -> None:
    assert promql.expand(expr, variables=VARS) == expected


def test_expand_all_value_and_bad_format() -> None:
    assert promql.expand('x{p=~"$p"}', variables={"p": "$__all"}, all_value=".+") == 'x{p=~".+"}'
    with pytest.raises(ConfigError, match="raw, regex"):
        promql.expand("${p:percentencode}", variables={"p": "a"})


def test_expanded_value_parses_back_exactly() -> None:
    node = promql.parse('x{p="$quoted"}', variables=VARS)
    assert node.matchers.matchers[0].value == VARS["quoted"]
    node = promql.parse('x{p=~"$dotted"}', variables=VARS)
    assert re.fullmatch(node.matchers.matchers[0].value, "a.b")
    assert not re.fullmatch(node.matchers.matchers[0].value, "aXb")


# -- offline parsing ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    "expr",
    [
        "sum by ($group) (rate(x_total[$__rate_interval]))",
        "topk($k, rate(x_total[5m]))",
        "rate(x_total[$window])",
        "x offset $shift",
        'x{a=~"$anything"} > $threshold',
        "histogram_quantile($q, sum by (le) (rate(x_bucket[5m])))",
    ],
)
def test_parse_gives_placeholders_to_undeclared_variables(expr: str) -> None:
    promql.parse(expr)


@pytest.mark.parametrize(
    ("expr", "line", "column", "message"),
    [
        ("sum(rate(x_total[5m])", 1, 4, "unclosed left parenthesis"),
        ("abs(x))", 1, 7, "unexpected right parenthesis"),
        ('x{a="b}', 1, 5, "unterminated quoted string"),
        ("rate(x[5q])", 1, 8, "bad number or duration"),
        ("sum(foo(x))", 1, 5, "unknown function"),
        ("rate(x)", 1, 1, "expected type matrix"),
        ('x{a~"b"}', 1, 4, "unexpected character"),
        ('x{a="\\q"}', 1, 6, "unknown escape sequence"),
        ("x offset", 1, 9, "unexpected end of input"),
        ("a\n  + rate(b[$__rate_interval]))", 2, 30, "unexpected right parenthesis"),
    ],
)
def test_parse_errors_carry_the_position(expr: str, line: int, column: int, message: str) -> None:
    with pytest.raises(QuerySyntaxError) as caught:
        promql.parse(expr)
    err = caught.value
    assert isinstance(err, PrometheusError)
    assert (err.line, err.column) == (line, column)  # type: ignore[attr-defined]
    assert message in str(err)
    assert f"line {line}, column {column}" in str(err)
    caret_line = str(err).split("\n")[2]
    assert caret_line.index("^") - 4 == column - 1
    assert err.query == expr


def test_parse_error_without_a_known_position() -> None:
    with pytest.raises(QuerySyntaxError, match="position unknown") as caught:
        promql.parse("sum(x) by")
    assert caught.value.offset is None  # type: ignore[attr-defined]
