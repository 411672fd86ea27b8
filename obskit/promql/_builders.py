"""PromQL builders, Grafana macro and variable expansion, and offline parsing.

Builders return plain strings that keep Grafana's macros (``$__rate_interval``) and
dashboard variables (``$provider``) in their text, so the same query works in a
notebook (through :func:`expand`) and in a committed dashboard.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence
from typing import Any, TypeAlias

import promql_parser

from .._time import format_duration, parse_duration
from ..errors import ConfigError, QuerySyntaxError
from ._ast import parse_text
from ._macros import (
    VARIABLE,
    VariableValue,
    escape_body,
    expand,
    grafana_interval,
    rate_interval,
    regex_escape,
)

__all__ = [
    "MIN_OBSERVATIONS",
    "MIN_VOLUME",
    "aggregate",
    "bot_resolution_rate",
    "cache_hit_rate",
    "error_ratio",
    "expand",
    "grafana_interval",
    "increase",
    "parse",
    "per_day",
    "per_hour",
    "quantile",
    "quantiles",
    "quote",
    "rate",
    "rate_interval",
    "ratio",
    "regex_escape",
    "selector",
    "topk",
    "volume_guard",
]

MatchValue: TypeAlias = str | Sequence[str] | tuple[str, str]
Matchers: TypeAlias = str | Mapping[str, MatchValue] | None

RATE_INTERVAL = "$__rate_interval"
_OPS = ("=", "!=", "=~", "!~")
_METRIC = re.compile(r"^[a-zA-Z_:][a-zA-Z0-9_:]*$")
_LABEL = re.compile(r"^[a-zA-Z_][a-zA-Z0-9_]*$")

#: Fewest events (requests, calls, lookups) in a ratio's window for the ratio to be shown.
#: One event then moves the ratio by at most 5 pp. The demo's nights hold 0-1 store-API
#: requests per 2 min window and at most 9 per 20 min window: they show nothing.
MIN_VOLUME = 20
#: Fewest observations in a quantile's window for the quantile to be shown (see
#: :func:`obskit.dashboards.panels.quantile_interval` for the panel interval that gets there).
MIN_OBSERVATIONS = 20
_GUARD = re.compile(r"\)\s*>=\s*([0-9]+)\s*\)\s*$")


# -- escaping and selectors ------------------------------------------------------------


def quote(value: str) -> str:
    """A PromQL double-quoted string literal for ``value``, escaped so it parses back exactly.

    Backslashes, quotes and control characters are escaped; printable unicode is kept.

    >>> quote('say "hi"\\n')
    '"say \\\\"hi\\\\"\\\\n"'
    >>> quote("é")
    '"é"'
    """
    return '"' + escape_body(value) + '"'


def selector(metric: str, matchers: Matchers = None) -> str:
    """A vector selector: ``metric{label="value", ...}`` with every value escaped.

    Parameters
    ----------
    metric : str
        Series name, e.g. ``voicebot_calls_total`` (a Grafana variable is allowed).
    matchers : str or mapping, optional
        A mapping label -> value where the value is a string (``=``), a list of
        strings (``=~`` alternation of the escaped values) or a ``(op, value)`` pair
        with op one of ``=``, ``!=``, ``=~``, ``!~``; or matcher text such as
        ``'provider=~"$provider"'`` used as given.

    >>> selector("voicebot_calls_total", {"outcome": "bot_resolved"})
    'voicebot_calls_total{outcome="bot_resolved"}'
    >>> selector("voicebot_stt_latency_seconds_bucket", {"provider": ["deepgram", "google"]})
    'voicebot_stt_latency_seconds_bucket{provider=~"deepgram|google"}'
    >>> selector("voicebot_transfers_total", {"reason": ("!=", "complaint")})
    'voicebot_transfers_total{reason!="complaint"}'
    """
    if not (_METRIC.match(metric) or VARIABLE.search(metric)):
        raise ConfigError(
            f"metric must be a Prometheus name like voicebot_calls_total; got {metric!r}"
        )
    inner = _matchers_text(matchers)
    return f"{metric}{{{inner}}}" if inner else metric


def _matchers_text(matchers: Matchers) -> str:
    if matchers is None:
        return ""
    if isinstance(matchers, str):
        return matchers.strip().removeprefix("{").removesuffix("}").strip()
    return ",".join(_matcher(label, value) for label, value in matchers.items())


def _matcher(label: str, value: MatchValue) -> str:
    if not _LABEL.match(label):
        raise ConfigError(f"label names look like provider or status_code; got {label!r}")
    if isinstance(value, str):
        return f"{label}={quote(value)}"
    if isinstance(value, tuple) and len(value) == 2 and value[0] in _OPS:
        return f"{label}{value[0]}{quote(value[1])}"
    values: list[str] = []
    if isinstance(value, set | frozenset):
        values = sorted(value)
    elif isinstance(value, list | tuple):
        values = list(value)
    if not values or not all(isinstance(v, str) for v in values):
        raise ConfigError(
            f"matcher for {label!r} must be a string, a list of strings or a pair like "
            f"('=~', '5..'); got {value!r}"
        )
    if len(values) == 1:
        return f"{label}={quote(values[0])}"
    return f"{label}=~{quote('|'.join(regex_escape(v) for v in values))}"


# -- builders -----------------------------------------------------------------------------


def _window(window: str | float) -> str:
    if isinstance(window, str) and VARIABLE.search(window):
        return window
    return format_duration(parse_duration(window, "window"))


def _by(labels: Iterable[str]) -> str:
    names = list(dict.fromkeys(labels))
    for name in names:
        if not _LABEL.match(name) and not VARIABLE.search(name):
            raise ConfigError(f"group by label names like provider or le; got {name!r}")
    return ", ".join(names)


def aggregate(expr: str, op: str = "sum", by: Iterable[str] | None = ()) -> str:
    """``op by (labels) (expr)``; ``by=()`` aggregates everything, ``None`` returns ``expr``.

    >>> aggregate("rate(x_total[5m])", by=["job"])
    'sum by (job) (rate(x_total[5m]))'
    """
    if by is None:
        return expr
    labels = _by(by)
    return f"{op} by ({labels}) ({expr})" if labels else f"{op}({expr})"


def _range_call(func: str, metric: str, matchers: Matchers, window: str | float) -> str:
    return f"{func}({selector(metric, matchers)}[{_window(window)}])"


def rate(
    metric: str,
    selector: Matchers = None,
    window: str | float = RATE_INTERVAL,
    *,
    by: Iterable[str] | None = None,
) -> str:
    """Per-second rate of a counter, optionally summed ``by`` labels.

    >>> rate("voicebot_calls_total", {"outcome": "abandoned"})
    'rate(voicebot_calls_total{outcome="abandoned"}[$__rate_interval])'
    >>> rate("voicebot_calls_total", window="5m", by=["outcome"])
    'sum by (outcome) (rate(voicebot_calls_total[5m]))'
    """
    return aggregate(_range_call("rate", metric, selector, window), by=by)


def increase(
    metric: str,
    selector: Matchers = None,
    window: str | float = RATE_INTERVAL,
    *,
    by: Iterable[str] | None = None,
) -> str:
    """Increase of a counter over ``window``, optionally summed ``by`` labels.

    >>> increase("voicebot_orders_created_total", window="1h", by=())
    'sum(increase(voicebot_orders_created_total[1h]))'
    """
    return aggregate(_range_call("increase", metric, selector, window), by=by)


def per_hour(metric: str, selector: Matchers = None, *, by: Iterable[str] = ()) -> str:
    """Events per hour from a counter: ``sum(increase(x[1h]))`` (use a 1h panel step).

    >>> per_hour("voicebot_calls_total", by=["outcome"])
    'sum by (outcome) (increase(voicebot_calls_total[1h]))'
    """
    return increase(metric, selector, "1h", by=by)


def per_day(metric: str, selector: Matchers = None, *, by: Iterable[str] = ()) -> str:
    """Events per day from a counter: ``sum(increase(x[1d]))`` (use a 1d panel step).

    >>> per_day("voicebot_fittings_booked_total")
    'sum(increase(voicebot_fittings_booked_total[1d]))'
    """
    return increase(metric, selector, "1d", by=by)


def quantile(
    q: float,
    histogram_family: str,
    by: Iterable[str] = (),
    selector: Matchers = None,
    window: str | float = RATE_INTERVAL,
    *,
    min_count: int | None = None,
) -> str:
    """``histogram_quantile`` over a classic histogram, always aggregating ``by (le, ...)``.

    Parameters
    ----------
    q : float
        The quantile, between 0 and 1 (0.95 for p95).
    histogram_family : str
        Family name, with or without ``_bucket``.
    by : iterable of str
        Labels to keep besides ``le`` (e.g. ``["provider"]``).
    min_count : int, optional
        Show a value only where the window holds at least this many observations
        (:data:`MIN_OBSERVATIONS` is a good choice): the quantile is kept ``and on(by)`` the
        ``_count`` increase, per group. A quantile of a handful of observations is noise.

    >>> quantile(0.95, "x_seconds", by=["provider"])
    'histogram_quantile(0.95, sum by (le, provider) (rate(x_seconds_bucket[$__rate_interval])))'
    >>> quantile(0.5, "x_seconds", window="5m", min_count=20)  # doctest: +NORMALIZE_WHITESPACE
    'histogram_quantile(0.5, sum by (le) (rate(x_seconds_bucket[5m])))
     and on() (sum(increase(x_seconds_count[5m])) >= 20)'
    """
    if not isinstance(q, int | float) or not 0 <= q <= 1 or isinstance(q, bool):
        raise ConfigError(f"quantile q must be between 0 and 1, like 0.95 for p95; got {q!r}")
    family = histogram_family.removesuffix("_bucket")
    kept = [label for label in by if label != "le"]
    inner = aggregate(_range_call("rate", family + "_bucket", selector, window), by=["le", *kept])
    expr = f"histogram_quantile({q:g}, {inner})"
    if min_count is None:
        return expr
    count = increase(family + "_count", selector, window, by=kept)
    return _guarded(expr, count, min_count, kept, "min_count")


def quantiles(
    histogram_family: str,
    qs: Sequence[float] = (0.5, 0.95, 0.99),
    by: Iterable[str] = (),
    selector: Matchers = None,
    window: str | float = RATE_INTERVAL,
    *,
    min_count: int | None = None,
) -> dict[str, str]:
    """One :func:`quantile` query per ``q``, keyed ``p50``, ``p95``, ``p99``, ...

    >>> list(quantiles("voicebot_llm_latency_seconds"))
    ['p50', 'p95', 'p99']
    """
    labels = list(by)
    return {
        f"p{q * 100:g}": quantile(
            q, histogram_family, labels, selector, window, min_count=min_count
        )
        for q in qs
    }


def _guarded(expr: str, volume: str, least: int, by: Sequence[str], name: str) -> str:
    """``expr and on(by) (volume >= least)``: ``expr`` only where ``volume`` is large enough."""
    if isinstance(least, bool) or not isinstance(least, int) or least < 1:
        raise ConfigError(
            f"{name} must be a whole number of events like {MIN_VOLUME}; got {least!r}"
        )
    return f"{expr} and on({_by(by)}) ({volume} >= {least})"


def volume_guard(expr: str) -> int | None:
    """The least volume a guarded ratio or quantile (``... and on(...) (... >= N)``) needs.

    ``None`` when ``expr`` has no such guard. Panel builders use it to say so in the
    description.

    >>> volume_guard(error_ratio(window="5m"))
    20
    >>> volume_guard(quantile(0.5, "x_seconds")) is None
    True
    """
    if " and on(" not in expr:
        return None
    found = _GUARD.search(expr)
    return int(found.group(1)) if found else None


def ratio(
    numerator: str,
    denominator: str,
    *,
    min_volume: int | None = None,
    volume: str | None = None,
    by: Iterable[str] = (),
) -> str:
    """``numerator / (denominator > 0)``: no NaN/Inf where the denominator is zero.

    Where the denominator is 0 the point is left out (a gap) instead of ``NaN`` or ``+Inf``.
    With ``min_volume``, the point is also left out where ``volume`` (the number of events
    the denominator counts in the same window, e.g. ``sum(increase(x_total[w]))``) is below
    it; ``by`` names the labels both sides keep, so the guard matches per group.

    >>> ratio("sum(rate(a_total[5m]))", "sum(rate(b_total[5m]))")
    'sum(rate(a_total[5m])) / (sum(rate(b_total[5m])) > 0)'
    >>> ratio("sum(rate(a_total[5m]))", "sum(rate(b_total[5m]))", min_volume=20,
    ...       volume="sum(increase(b_total[5m]))")  # doctest: +NORMALIZE_WHITESPACE
    'sum(rate(a_total[5m])) / (sum(rate(b_total[5m])) > 0)
     and on() (sum(increase(b_total[5m])) >= 20)'
    """
    expr = f"{_operand(numerator)} / ({denominator} > 0)"
    if min_volume is None and volume is None:
        return expr
    if min_volume is None or volume is None:
        raise ConfigError(
            "ratio() needs both min_volume and volume, e.g. min_volume=20, "
            "volume='sum(increase(x_total[$__rate_interval]))'"
        )
    return _guarded(expr, volume, min_volume, list(by), "min_volume")


def _operand(expr: str) -> str:
    try:
        node = parse_text(expr)
    except QuerySyntaxError:
        return f"({expr})"
    atomic = (promql_parser.BinaryExpr, promql_parser.UnaryExpr)
    return f"({expr})" if isinstance(node, atomic) else expr


def cache_hit_rate(
    window: str | float = RATE_INTERVAL,
    *,
    by: Iterable[str] = (),
    min_volume: int | None = MIN_VOLUME,
) -> str:
    """TTS cache hit rate: hits / (hits + misses), 0..1, shown only where the window holds at
    least ``min_volume`` lookups (``None``: wherever there is any).

    >>> cache_hit_rate("5m", min_volume=None)  # doctest: +NORMALIZE_WHITESPACE
    'sum(rate(voicebot_tts_cache_hits_total[5m])) / ((sum(rate(voicebot_tts_cache_hits_total[5m]))
     + sum(rate(voicebot_tts_cache_misses_total[5m]))) > 0)'
    """
    names = ("voicebot_tts_cache_hits_total", "voicebot_tts_cache_misses_total")
    hits, misses = (rate(name, window=window, by=by) for name in names)
    lookups = " + ".join(increase(name, window=window, by=by) for name in names)
    return _calm(hits, f"({hits} + {misses})", min_volume, f"({lookups})", by)


def _calm(num: str, den: str, min_volume: int | None, volume: str, by: Iterable[str]) -> str:
    if min_volume is None:
        return ratio(num, den)
    return ratio(num, den, min_volume=min_volume, volume=volume, by=by)


def bot_resolution_rate(
    window: str | float = RATE_INTERVAL,
    *,
    by: Iterable[str] = (),
    min_volume: int | None = MIN_VOLUME,
) -> str:
    """Share of finished calls the bot resolved without an operator, 0..1, shown only where
    the window holds at least ``min_volume`` calls (``None``: wherever there is any).

    >>> bot_resolution_rate("1h", min_volume=None)  # doctest: +NORMALIZE_WHITESPACE
    'sum(rate(voicebot_calls_total{outcome="bot_resolved"}[1h]))
     / (sum(rate(voicebot_calls_total[1h])) > 0)'
    """
    resolved = rate("voicebot_calls_total", {"outcome": "bot_resolved"}, window, by=by)
    calls = increase("voicebot_calls_total", None, window, by=by)
    return _calm(resolved, rate("voicebot_calls_total", None, window, by=by), min_volume,
                 calls, by)  # fmt: skip


def error_ratio(
    metric: str = "voicebot_store_api_requests_total",
    errors: Matchers = 'status_code=~"5.."',
    window: str | float = RATE_INTERVAL,
    *,
    by: Iterable[str] = (),
    min_volume: int | None = MIN_VOLUME,
) -> str:
    """Share of requests that failed (default: store API 5xx), 0..1, shown only where the
    window holds at least ``min_volume`` requests (``None``: wherever there is any).

    Without the minimum, one failed request of two at night reads as a 50 % outage.

    >>> error_ratio(window="5m")  # doctest: +NORMALIZE_WHITESPACE
    'sum(rate(voicebot_store_api_requests_total{status_code=~"5.."}[5m]))
     / (sum(rate(voicebot_store_api_requests_total[5m])) > 0)
     and on() (sum(increase(voicebot_store_api_requests_total[5m])) >= 20)'
    >>> error_ratio(window="5m", by=["job"], min_volume=None)  # doctest: +NORMALIZE_WHITESPACE
    'sum by (job) (rate(voicebot_store_api_requests_total{status_code=~"5.."}[5m]))
     / (sum by (job) (rate(voicebot_store_api_requests_total[5m])) > 0)'
    """
    failed, total = rate(metric, errors, window, by=by), rate(metric, None, window, by=by)
    return _calm(failed, total, min_volume, increase(metric, None, window, by=by), by)


def topk(k: int, expr: str, *, by: Iterable[str] = ()) -> str:
    """The ``k`` largest series of ``expr`` (per group when ``by`` is given).

    >>> topk(3, rate("voicebot_tool_calls_total", window="5m", by=["tool_name"]))
    'topk(3, sum by (tool_name) (rate(voicebot_tool_calls_total[5m])))'
    """
    if isinstance(k, bool) or not isinstance(k, int) or k < 1:
        raise ConfigError(f"k must be a positive whole number like 5; got {k!r}")
    labels = _by(by)
    return f"topk by ({labels}) ({k}, {expr})" if labels else f"topk({k}, {expr})"


# -- offline parsing -----------------------------------------------------------------------


def parse(
    expr: str,
    *,
    variables: Mapping[str, VariableValue] | None = None,
    scrape_interval: float | str = 30,
    range_seconds: float = 21600,
    max_data_points: int = 1000,
) -> Any:
    """Parse a query offline, macros and variables expanded first, into promql-parser's AST.

    Variables without a value get placeholders (a name, a number or a duration,
    whichever fits where they stand), so only the query's own syntax is checked.

    Parameters
    ----------
    expr : str
        The query, Grafana macros and variables allowed.
    variables : mapping, optional
        Dashboard variable values (see :func:`expand`).
    scrape_interval, range_seconds, max_data_points
        Panel settings used to expand ``$__interval``, ``$__rate_interval``, ``$__range``.

    Returns
    -------
    promql_parser.Expr
        The root node (``Call``, ``AggregateExpr``, ``BinaryExpr``, ...).

    Raises
    ------
    QuerySyntaxError
        With ``offset``, ``line`` and ``column`` (1-based; ``None`` where promql-parser's
        message does not tell the position) and a caret excerpt in the message.

    >>> type(parse("sum by (provider) (rate(x_total[$__rate_interval]))")).__name__
    'AggregateExpr'
    >>> try:
    ...     parse("sum(rate(x_total[5m])")
    ... except QuerySyntaxError as err:
    ...     print(err.line, err.column)
    1 4
    """
    expanded = expand(
        expr,
        variables=variables,
        scrape_interval=scrape_interval,
        range_seconds=range_seconds,
        max_data_points=max_data_points,
    )
    return parse_text(expanded, original=expr)
