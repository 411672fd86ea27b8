"""Lint PromQL offline: rules over the parsed query, the catalog and passed-in live metadata.

Lint does no HTTP: live metric types, label names and label values are passed in as
mappings (:func:`obskit.validate.validate` fetches them). Each rule has a stable id:

========================  ========  =======================================================
rule                      severity  what it catches
========================  ========  =======================================================
syntax-error              error     the query does not parse
undeclared-variable       error     ``$var`` that is neither a Grafana macro nor declared
rate-on-gauge             error     rate/irate/increase/resets over a gauge
delta-on-counter          warning   delta/idelta/deriv/predict_linear over a counter
counter-raw               warning   a counter used without rate()/increase()
histogram-quantile-le     error     histogram_quantile whose aggregation drops ``le``
histogram-quantile-input  error     histogram_quantile over ``_sum``/``_count``/non-buckets
quantile-out-of-range     error     histogram_quantile with φ outside 0..1
aggregation-before-rate   error     rate(sum(x)[5m:]): aggregating counters before rate
range-too-short           warning   range window shorter than 4 × scrape interval
hardcoded-window          warning   rate(x[5m]) in a dashboard instead of $__rate_interval
unknown-metric            warning   a metric neither the catalog nor the server knows
unknown-label             warning   a label the metric does not have
unknown-label-value       warning   a label value that never occurs
multi-value-equality      warning   a multi-value variable inside ``=`` instead of ``=~``
division-unguarded        warning   ``a / b`` where b can be 0 (NaN/Inf), no ``> 0`` guard
vector-matching           warning   ``sum by (a) (x) / sum by (b) (y)``: label sets differ, empty
series-budget             warning   more series than the budget (error for a real count)
========================  ========  =======================================================
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from ._expr import Expr
from ._lintctx import SEVERITIES, Context, Finding, build_context, read
from ._rules import RULE_FUNCS

__all__ = ["RULES", "Finding", "check_series_budget", "estimate_series", "lint"]

RULES = (
    "syntax-error",
    "undeclared-variable",
    "rate-on-gauge",
    "delta-on-counter",
    "counter-raw",
    "histogram-quantile-le",
    "histogram-quantile-input",
    "quantile-out-of-range",
    "aggregation-before-rate",
    "range-too-short",
    "hardcoded-window",
    "unknown-metric",
    "unknown-label",
    "unknown-label-value",
    "multi-value-equality",
    "division-unguarded",
    "vector-matching",
    "series-budget",
)


def check_series_budget(
    count: int | None, budget: int | None, *, estimated: bool = False
) -> Finding | None:
    """A ``series-budget`` finding when ``count`` series exceed ``budget``, else ``None``.

    >>> check_series_budget(1200, 500).message.split(";")[0]
    'the query returns 1200 series, over the budget of 500'
    >>> check_series_budget(10, 500) is None
    True
    """
    if count is None or budget is None or count <= budget:
        return None
    how = "about " if estimated else ""
    source = " (estimated from the catalog and label values)" if estimated else ""
    return Finding(
        "series-budget",
        "warning" if estimated else "error",
        f"the query returns {how}{count} series, over the budget of {budget}{source}; "
        "aggregate with sum by (...) over fewer labels, narrow the selector, or use topk()",
    )


def estimate_series(expr: str | Expr, **kwargs: Any) -> int | None:
    """Roughly how many series ``expr`` returns, from the catalog (``None`` if unknown).

    Keyword arguments are those of :func:`lint`.

    >>> estimate_series('sum by (provider) (rate(voicebot_stt_latency_seconds_count[5m]))')
    2
    """
    ctx = _context(expr, kwargs)
    return None if isinstance(ctx, list) else ctx.query.series_estimate(ctx.values)


def _context(expr: str | Expr, kwargs: dict[str, Any]) -> Context | list[Finding]:
    live = {k: kwargs.pop(k, None) for k in ("types", "labels", "label_values")}
    kwargs.pop("series_budget", None)
    return build_context(read(expr, **kwargs), **live)


def lint(
    expr: str | Expr,
    *,
    types: Mapping[str, str] | None = None,
    labels: Mapping[str, Iterable[str]] | None = None,
    label_values: Mapping[Any, Iterable[str]] | None = None,
    scrape_interval: float | str | None = None,
    dashboard: bool | None = None,
    variables: Mapping[str, Any] | None = None,
    series_budget: int | None = None,
    range_seconds: float | None = None,
    max_data_points: int | None = None,
) -> list[Finding]:
    """Check a query offline and return its findings, errors first.

    Parameters
    ----------
    expr : str or Expr
        The query; Grafana macros and ``$variables`` allowed. An :class:`Expr` is
        read in its own panel context unless the settings below change it.
    types : mapping, optional
        Live metric types (name -> ``counter``/``gauge``/``histogram``/``summary``...),
        e.g. from ``/api/v1/metadata``; they win over the catalog.
    labels : mapping, optional
        Metric name -> its label names on the server.
    label_values : mapping, optional
        ``(metric, label)`` or ``label`` -> the values that occur.
    scrape_interval : float or str, optional
        The scrape interval windows are checked against (default 30 s, the demo's).
    dashboard : bool
        The query is for a Grafana panel: fixed rate() windows are flagged.
    variables : mapping, optional
        Declared dashboard variables and their values (a list for multi-value).
    series_budget : int, optional
        Warn when the catalog estimate of the series count is above this.
    range_seconds, max_data_points
        Panel settings that give ``$__interval`` and ``$__rate_interval`` their values
        (default 6 h and 1,000: see :class:`PanelContext`).

    Returns
    -------
    list of Finding
        Empty when the query is clean. See the module docstring for the rule ids.

    >>> [f.rule for f in lint("rate(voicebot_active_calls[5m])")]
    ['rate-on-gauge']
    >>> lint("sum(rate(voicebot_calls_total[5m]))")
    []
    """
    query = read(
        expr, scrape_interval=scrape_interval, dashboard=dashboard, variables=variables,
        range_seconds=range_seconds, max_data_points=max_data_points,
    )  # fmt: skip
    ctx = build_context(query, types=types, labels=labels, label_values=label_values)
    if isinstance(ctx, list):
        return ctx
    found = [finding for rule in RULE_FUNCS for finding in rule(ctx)]
    if series_budget is not None:
        count = query.series_estimate(ctx.values)
        budget = check_series_budget(count, series_budget, estimated=True)
        found += [budget] if budget else []
    unique = list(dict.fromkeys(found))
    return sorted(unique, key=lambda f: SEVERITIES.index(f.severity))
