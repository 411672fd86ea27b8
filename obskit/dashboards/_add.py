"""A notebook query → a panel spec: validated, windows made ``$__rate_interval``, kind,
unit and legend inferred from the query, the catalog and (optionally) a live run."""

from __future__ import annotations

import re
from typing import Any

import promql_parser as pp

from ..catalog import find_metric
from ..errors import ConfigError
from ..promql._ast import unwrap, walk
from ..promql._builders import parse
from ..promql._lintctx import name_of
from ..promql._macros import string_spans
from ..promql.lint import estimate_series
from ..promql.validate import validate
from ._plan import variable_values
from ._structure import WINDOW_MACROS
from .panels import KINDS

_ALIASES = {
    "piechart": "pie",
    "barchart": "bar",
    "graph": "timeseries",
    "time_series": "timeseries",
}
_WINDOWED = re.compile(r"\b(rate|irate|increase)\s*\(")
_PER_SECOND = {"bytes": "Bps", "s": "percentunit", "short": "cps", "currencyUSD": "currencyUSD"}
_KEEP_UNIT = ("increase", "delta", "abs", "clamp", "clamp_min", "clamp_max", "round", "ceil",
              "floor", "sort", "sort_desc", "last_over_time", "avg_over_time", "max_over_time",
              "min_over_time", "quantile_over_time", "sum_over_time")  # fmt: skip


def use_rate_interval(expr: str) -> str:
    """``expr`` with fixed rate()/irate()/increase() windows replaced by ``$__rate_interval``.

    Subquery ranges (``[1h:5m]``) and Grafana macros are kept.

    >>> use_rate_interval('sum(rate(x_total{a="[5m]"}[5m])) / sum(increase(y[$__range]))')
    'sum(rate(x_total{a="[5m]"}[$__rate_interval])) / sum(increase(y[$__range]))'
    """
    quoted = {i for s, e, _ in string_spans(expr) for i in range(s, e + 1)}
    spans = []
    for match in _WINDOWED.finditer(expr):
        span = _window_span(expr, match.end(), quoted)
        if span is not None and expr[span[0] : span[1]].strip() not in WINDOW_MACROS:
            spans.append(span)
    for start, end in sorted(spans, reverse=True):
        expr = expr[:start] + "$__rate_interval" + expr[end:]
    return expr


def _window_span(expr: str, start: int, quoted: set[int]) -> tuple[int, int] | None:
    depth = 1
    for i in range(start, len(expr)):
        if i in quoted:
            continue
        depth += {"(": 1, ")": -1}.get(expr[i], 0)
        if depth == 0:
            return None
        if expr[i] == "[" and depth == 1:
            end = expr.find("]", i)
            return None if end < 0 or ":" in expr[i:end] else (i + 1, end)
    return None


# -- unit ---------------------------------------------------------------------------------------


def infer_unit(expr: str) -> str:
    """A Grafana unit for the query's result, from the catalog units of its metrics.

    >>> infer_unit("histogram_quantile(0.95, sum by (le) (rate(voicebot_llm_latency_seconds_bucket[5m])))")
    's'
    >>> infer_unit("sum(rate(voicebot_tts_cache_hits_total[5m])) / sum(rate(voicebot_calls_total[5m]))")
    'percentunit'
    """
    return _unit(parse(expr)) or "short"


def _unit(node: Any) -> str | None:
    node = unwrap(node)
    if isinstance(node, pp.VectorSelector):
        metric = find_metric(name_of(node) or "")
        return metric.unit if metric else None
    if isinstance(node, pp.MatrixSelector):
        return _unit(node.vector_selector)
    if isinstance(node, pp.SubqueryExpr | pp.UnaryExpr):
        return _unit(node.expr)
    if isinstance(node, pp.AggregateExpr):
        return "short" if str(node.op) in ("count", "count_values") else _unit(node.expr)
    if isinstance(node, pp.Call):
        return _call_unit(node)
    if isinstance(node, pp.BinaryExpr):
        return _binary_unit(node)
    return None


def _call_unit(node: Any) -> str | None:
    name = node.func.name
    vectors = [
        a for a in node.args if not isinstance(unwrap(a), pp.NumberLiteral | pp.StringLiteral)
    ]
    inner = _unit(vectors[0]) if vectors else None
    if name in ("rate", "irate", "deriv"):
        return _PER_SECOND.get(inner or "", inner)
    if name == "histogram_quantile":
        return _bucket_unit(node.args[1])
    if name in _KEEP_UNIT:
        return inner
    return "short" if name.startswith("count") else inner


def _bucket_unit(node: Any) -> str | None:
    """The catalog unit of the histogram whose buckets ``node`` reads (``le`` is in it)."""
    for visit in walk(node):
        if isinstance(visit.node, pp.VectorSelector):
            metric = find_metric(name_of(visit.node) or "")
            if metric is not None:
                return metric.unit
    return None


def _binary_unit(node: Any) -> str | None:
    lhs, rhs = unwrap(node.lhs), unwrap(node.rhs)
    if isinstance(lhs, pp.NumberLiteral):
        return _unit(rhs)
    left, right = _unit(lhs), _unit(rhs)
    op = str(node.op)
    if op == "/" and not isinstance(rhs, pp.NumberLiteral):
        return "percentunit" if left == right else left
    if op == "*" and isinstance(rhs, pp.NumberLiteral) and left == "cps" and rhs.val == 60:
        return "cpm"
    return left or right


# -- legend and kind ----------------------------------------------------------------------------


def infer_legend(expr: str, title: str) -> str:
    """``{{label}}`` for each label the result keeps (``by (...)``, ``le`` dropped), else the title.

    >>> infer_legend("sum by (provider) (rate(voicebot_stt_latency_seconds_count[5m]))", "STT")
    '{{provider}}'
    """
    labels = _labels(parse(expr))
    return " ".join(f"{{{{{label}}}}}" for label in labels) if labels else title


def _labels(node: Any) -> list[str]:
    node = unwrap(node)
    if isinstance(node, pp.AggregateExpr):
        modifier = node.modifier
        if modifier is not None and str(modifier.type).endswith("By"):
            return [label for label in modifier.labels if label != "le"]
        return [] if modifier is None else _labels(node.expr)
    if isinstance(node, pp.BinaryExpr):
        return _labels(node.rhs if isinstance(unwrap(node.lhs), pp.NumberLiteral) else node.lhs)
    if isinstance(node, pp.Call):
        vectors = [
            a for a in node.args if not isinstance(unwrap(a), pp.NumberLiteral | pp.StringLiteral)
        ]
        labels = _labels(vectors[0]) if vectors else []
        return [label for label in labels if label != "le"]
    if isinstance(node, pp.MatrixSelector | pp.SubqueryExpr | pp.UnaryExpr):
        return _labels(node.vector_selector if isinstance(node, pp.MatrixSelector) else node.expr)
    if isinstance(node, pp.VectorSelector):
        metric = find_metric(name_of(node) or "")
        return [label for label in (metric.labels if metric else ()) if label != "fstype"]
    return []


def infer_kind(series: int | None, unit: str) -> str:
    """``stat`` (``gauge`` for a 0..1 ratio) for one series, else ``timeseries``.

    >>> infer_kind(1, "percentunit"), infer_kind(1, "s"), infer_kind(4, "s")
    ('gauge', 'stat', 'timeseries')
    """
    if series == 1:
        return "gauge" if unit == "percentunit" else "stat"
    return "timeseries"


def _description(expr: str) -> str:
    for match in re.finditer(r"[a-zA-Z_:][a-zA-Z0-9_:]*", expr):
        metric = find_metric(match.group(0))
        if metric is not None:
            return metric.help
    return "Added from a notebook with obskit.add_panel()."


def make_spec(
    data: dict[str, Any],
    expr: str,
    *,
    title: str,
    kind: str | None,
    unit: str | None,
    legend: str | None,
    description: str | None,
    client: Any,
    scrape_interval: float,
) -> dict[str, Any]:
    """The sidecar entry for a query (no ``id`` yet); raises ValidationError on errors.

    ``scrape_interval`` is the data source's, for the rules on range windows.
    """
    if not title or not title.strip():
        raise ConfigError("title must be a non-empty string, e.g. title='LLM p95 by model'")
    expr = use_rate_interval(expr.strip())
    report = validate(
        expr, client, dashboard=True, variables=variable_values(data),
        scrape_interval=scrape_interval,
    )  # fmt: skip
    report.raise_for_findings()
    unit = unit or infer_unit(expr)
    chosen = _ALIASES.get(kind or "", kind)
    if chosen is None:
        count = report.series if report.series is not None else estimate_series(expr)
        chosen = infer_kind(count, unit)
    if chosen not in KINDS:
        raise ConfigError(f"kind must be one of {', '.join(KINDS)}; got {kind!r}")
    return {
        "title": title.strip(),
        "kind": chosen,
        "unit": unit,
        "legend": legend or infer_legend(expr, title.strip()),
        "description": (description or _description(expr)).strip().splitlines()[0],
        "expr": expr,
    }
