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

import math
from collections.abc import Iterable, Mapping
from typing import Any

import promql_parser as pp

from ..catalog import find_metric
from ._ast import match_op, unwrap
from ._lintctx import KEEP_LABELS, SEVERITIES, Context, Finding, build_context, name_of
from ._rules import RULE_FUNCS

__all__ = ["RULES", "Finding", "check_series_budget", "estimate_series", "lint"]

Finding.__module__ = __name__  # documented and shown as obskit.lint.Finding

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


# -- series estimate -------------------------------------------------------------------------


def _estimate(ctx: Context, node: Any) -> dict[str, int] | None:
    """Label -> number of values of what ``node`` returns (``None`` if unknown)."""
    node = unwrap(node)
    if isinstance(node, pp.NumberLiteral | pp.StringLiteral):
        return {}
    if isinstance(node, pp.VectorSelector):
        return _estimate_selector(ctx, node)
    if isinstance(node, pp.MatrixSelector):
        return _estimate(ctx, node.vector_selector)
    if isinstance(node, pp.SubqueryExpr | pp.UnaryExpr):
        return _estimate(ctx, node.expr)
    if isinstance(node, pp.AggregateExpr):
        return _estimate_aggregate(ctx, node)
    if isinstance(node, pp.Call):
        return _estimate_call(ctx, node)
    if isinstance(node, pp.BinaryExpr):
        return _estimate_binary(ctx, node)
    return None


def _estimate_selector(ctx: Context, node: Any) -> dict[str, int] | None:
    name = name_of(node)
    metric = find_metric(name) if name else None
    if metric is None:
        return None
    counts: dict[str, int] = {}
    for label in metric.labels:
        values = ctx.values(metric.name, label) or set(metric.values.get(label, ("",)))
        counts[label] = len(values)
    if name and name.endswith("_bucket"):
        counts["le"] = len(metric.buckets) + 1
    for matcher in node.matchers.matchers:
        if matcher.name in counts and match_op(matcher) == "=":
            counts[matcher.name] = 1
        elif matcher.name in counts and match_op(matcher) == "=~":
            counts[matcher.name] = max(1, str(matcher.value).count("|") + 1)
    return counts


def _estimate_aggregate(ctx: Context, node: Any) -> dict[str, int] | None:
    inner = _estimate(ctx, node.expr)
    if inner is None or str(node.op) == "count_values":
        return None
    modifier = node.modifier
    if str(node.op) in KEEP_LABELS:
        return inner
    if modifier is None:
        return {}
    if str(modifier.type).endswith("By"):
        return {k: v for k, v in inner.items() if k in modifier.labels}
    return {k: v for k, v in inner.items() if k not in modifier.labels}


def _estimate_call(ctx: Context, node: Any) -> dict[str, int] | None:
    name = node.func.name
    if name in ("vector", "time", "scalar", "absent", "absent_over_time"):
        return {}
    if name == "histogram_quantile":
        inner = _estimate(ctx, node.args[1])
        return None if inner is None else {k: v for k, v in inner.items() if k != "le"}
    vectors = [
        a for a in node.args if not isinstance(unwrap(a), pp.NumberLiteral | pp.StringLiteral)
    ]
    return _estimate(ctx, vectors[0]) if vectors else {}


def _estimate_binary(ctx: Context, node: Any) -> dict[str, int] | None:
    lhs, rhs = _estimate(ctx, node.lhs), _estimate(ctx, node.rhs)
    if lhs is None or rhs is None:
        return None
    if isinstance(unwrap(node.lhs), pp.NumberLiteral):
        return rhs
    card = str(node.modifier.card) if node.modifier is not None else ""
    if str(node.op) == "or":
        return {k: max(lhs.get(k, 1), rhs.get(k, 1)) for k in lhs.keys() | rhs.keys()}
    return rhs if card.endswith("OneToMany") else lhs


def estimate_series(expr: str, **kwargs: Any) -> int | None:
    """Roughly how many series ``expr`` returns, from the catalog (``None`` if unknown).

    Keyword arguments are those of :func:`lint`.

    >>> estimate_series('sum by (provider) (rate(voicebot_stt_latency_seconds_count[5m]))')
    2
    """
    ctx = build_context(expr, **kwargs)
    if isinstance(ctx, list):
        return None
    counts = _estimate(ctx, ctx.root)
    return None if counts is None else math.prod(counts.values())


def lint(
    expr: str,
    *,
    types: Mapping[str, str] | None = None,
    labels: Mapping[str, Iterable[str]] | None = None,
    label_values: Mapping[Any, Iterable[str]] | None = None,
    scrape_interval: float | str = 30,
    dashboard: bool = False,
    variables: Mapping[str, Any] | None = None,
    series_budget: int | None = None,
    range_seconds: float = 21600,
    max_data_points: int = 1000,
) -> list[Finding]:
    """Check a query offline and return its findings, errors first.

    Parameters
    ----------
    expr : str
        The query; Grafana macros and ``$variables`` allowed.
    types : mapping, optional
        Live metric types (name -> ``counter``/``gauge``/``histogram``/``summary``...),
        e.g. from ``/api/v1/metadata``; they win over the catalog.
    labels : mapping, optional
        Metric name -> its label names on the server.
    label_values : mapping, optional
        ``(metric, label)`` or ``label`` -> the values that occur.
    scrape_interval : float or str
        The scrape interval windows are checked against (30 s in the demo).
    dashboard : bool
        The query is for a Grafana panel: fixed rate() windows are flagged.
    variables : mapping, optional
        Declared dashboard variables and their values (a list for multi-value).
    series_budget : int, optional
        Warn when the catalog estimate of the series count is above this.
    range_seconds, max_data_points
        Panel settings that give ``$__interval`` and ``$__rate_interval`` their values.

    Returns
    -------
    list of Finding
        Empty when the query is clean. See the module docstring for the rule ids.

    >>> [f.rule for f in lint("rate(voicebot_active_calls[5m])")]
    ['rate-on-gauge']
    >>> lint("sum(rate(voicebot_calls_total[5m]))")
    []
    """
    ctx = build_context(
        expr,
        types=types,
        labels=labels,
        label_values=label_values,
        scrape_interval=scrape_interval,
        dashboard=dashboard,
        variables=variables,
        range_seconds=range_seconds,
        max_data_points=max_data_points,
    )
    if isinstance(ctx, list):
        return ctx
    found = [finding for rule in RULE_FUNCS for finding in rule(ctx)]
    if series_budget is not None:
        counts = _estimate(ctx, ctx.root)
        count = None if counts is None else math.prod(counts.values())
        budget = check_series_budget(count, series_budget, estimated=True)
        found += [budget] if budget else []
    unique = list(dict.fromkeys(found))
    return sorted(unique, key=lambda f: SEVERITIES.index(f.severity))
