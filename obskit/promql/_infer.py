"""What a parsed query returns, one function per fact: output labels, unit, series count.

Each function takes a promql-parser node, so lint rules can ask about a sub-expression
and :class:`obskit.promql.Expr` about the whole query; nothing else walks the tree to
answer these questions.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

import promql_parser as pp

from ..catalog import find_metric
from ._ast import children, match_op, unwrap

__all__ = [
    "SCALAR",
    "estimate",
    "first_metric",
    "implied_labels",
    "legend_labels",
    "lookback",
    "name_of",
    "output_labels",
    "unit",
]

#: What :func:`output_labels` returns for a scalar expression.
SCALAR = "scalar"
#: Aggregations that keep each series' labels (they select, they do not group).
KEEP_LABELS = {"topk", "bottomk", "limitk", "limit_ratio"}
_SCALAR_FUNCS = {"scalar", "time", "pi"}
_RELABELING = {"label_replace", "label_join", "absent", "absent_over_time"}
_NO_SERIES = {"vector", "time", "scalar", "absent", "absent_over_time"}
_RATE_FUNCS = {"rate", "irate", "deriv"}
_PER_SECOND = {"short": "cps", "bytes": "Bps", "s": "percentunit", "currencyUSD": "USD/s"}
_COUNT_AGGREGATIONS = ("count", "count_values")
#: Labels a legend leaves out: ``le`` is a bucket bound, ``fstype`` noise beside ``mountpoint``.
_NOT_IN_LEGEND = {"le", "fstype"}

Labels = tuple[str, ...]
LabelValues = Callable[[str, str], "set[str] | None"]


def name_of(node: Any) -> str | None:
    """The metric name a vector selector reads (``x`` or ``{__name__="x"}``), else ``None``."""
    if node.name:
        return str(node.name)
    eq = [m for m in node.matchers.matchers if m.name == "__name__" and match_op(m) == "="]
    return str(eq[0].value) if eq else None


def vector_args(node: Any) -> list[Any]:
    """A call's arguments that are not number or string literals."""
    return [a for a in node.args if not isinstance(unwrap(a), pp.NumberLiteral | pp.StringLiteral)]


# -- output labels -------------------------------------------------------------------------------


def output_labels(node: Any) -> Labels | str | None:
    """The label names every series of ``node`` has, in the order the query names them.

    :data:`SCALAR` for a scalar; ``None`` when they depend on the data (a bare selector,
    ``without``, relabeling), so nothing is claimed about it.
    """
    node = unwrap(node)
    if isinstance(node, pp.NumberLiteral):
        return SCALAR
    if isinstance(node, pp.AggregateExpr):
        return _aggregate_labels(node)
    if isinstance(node, pp.Call):
        return _call_labels(node)
    if isinstance(node, pp.SubqueryExpr | pp.UnaryExpr):
        return output_labels(node.expr)
    if isinstance(node, pp.BinaryExpr):
        lhs, rhs = output_labels(node.lhs), output_labels(node.rhs)
        if str(node.op) in ("and", "unless"):
            return lhs  # a filter: the left side's series, whatever it is matched on
        if lhs == SCALAR:
            return rhs
        explicit = node.modifier is not None and node.modifier.matching is not None
        same = isinstance(lhs, tuple) and isinstance(rhs, tuple) and set(lhs) == set(rhs)
        if rhs == SCALAR or (not explicit and same):
            return lhs
    return None


def _aggregate_labels(node: Any) -> Labels | str | None:
    op, modifier = str(node.op), node.modifier
    if op in KEEP_LABELS:
        return output_labels(node.expr)
    if op == "count_values":
        return None
    if modifier is None:
        return ()
    return tuple(dict.fromkeys(modifier.labels)) if str(modifier.type).endswith("By") else None


def _call_labels(node: Any) -> Labels | str | None:
    name = node.func.name
    if name in _SCALAR_FUNCS:
        return SCALAR
    if name == "vector":
        return ()
    vectors = vector_args(node)
    if name in _RELABELING or len(vectors) != 1:
        return None
    inner = output_labels(vectors[0])
    if name == "histogram_quantile" and isinstance(inner, tuple):
        return tuple(label for label in inner if label != "le")
    return inner


def implied_labels(node: Any) -> Labels:
    """The labels the query's grouping promises even when it returns nothing.

    Its :func:`output_labels` where they are fixed, plus the target label of an outer
    ``label_replace``/``label_join`` (whose input may not fix its own).

    >>> import promql_parser as pp
    >>> implied_labels(pp.parse('label_replace(max by (component) (x), "c", "$1", "component", "(.*)")'))
    ('component', 'c')
    """
    node = unwrap(node)
    if isinstance(node, pp.Call) and node.func.name in ("label_replace", "label_join"):
        vectors = vector_args(node)
        inner = implied_labels(vectors[0]) if vectors else ()
        target = unwrap(node.args[1]) if len(node.args) > 1 else None
        extra = (str(target.val),) if isinstance(target, pp.StringLiteral) else ()
        return tuple(dict.fromkeys((*inner, *extra)))
    labels = output_labels(node)
    return labels if isinstance(labels, tuple) else ()


def legend_labels(node: Any) -> Labels:
    """The labels a legend should name: the output labels, else a catalog metric's labels.

    ``le`` is dropped (a quantile has none; buckets are drawn as a heatmap).
    """
    labels = output_labels(node)
    if labels is None:
        metric = find_metric(_only_metric(node) or "")
        labels = metric.labels if metric is not None else ()
    if not isinstance(labels, tuple):
        return ()
    return tuple(label for label in labels if label not in _NOT_IN_LEGEND)


def _only_metric(node: Any) -> str | None:
    """The metric of a query that is one selector under functions (``rate(x[5m])``)."""
    node = unwrap(node)
    if isinstance(node, pp.VectorSelector):
        return name_of(node)
    if isinstance(node, pp.MatrixSelector):
        return _only_metric(node.vector_selector)
    if isinstance(node, pp.SubqueryExpr | pp.UnaryExpr):
        return _only_metric(node.expr)
    if isinstance(node, pp.Call) and node.func.name not in _RELABELING:
        vectors = vector_args(node)
        return _only_metric(vectors[0]) if len(vectors) == 1 else None
    return None


# -- unit ----------------------------------------------------------------------------------------

_Unit = tuple[str, bool]  # (base unit, per second)


def unit(node: Any) -> str | None:
    """The Grafana unit of what ``node`` returns, from the catalog metrics it reads.

    ``rate()`` of a counter is per second (bytes → ``Bps``, seconds → ``percentunit``,
    counts → ``cps``); ``a / b`` of one unit is a ratio (``percentunit``);
    ``histogram_quantile`` keeps the histogram's unit; ``time() - timestamp`` is an age
    in seconds; ``count`` and ``_bucket``/``_count`` series are counts; ``None`` when the
    catalog does not tell.
    """
    found = _unit(node)
    if found is None:
        return None
    base, per_second = found
    return _PER_SECOND.get(base, f"{base}/s") if per_second else base


def _series_unit(name: str) -> _Unit | None:
    metric = find_metric(name)
    if metric is None:
        return None
    if metric.type == "histogram" and name.endswith(("_bucket", "_count")):
        return ("short", False)
    return (metric.unit, False)


def _unit(node: Any) -> _Unit | None:
    node = unwrap(node)
    if isinstance(node, pp.VectorSelector):
        name = name_of(node)
        return _series_unit(name) if name else None
    if isinstance(node, pp.MatrixSelector):
        return _unit(node.vector_selector)
    if isinstance(node, pp.BinaryExpr):
        return _binary_unit(node)
    if isinstance(node, pp.AggregateExpr):
        return ("short", False) if str(node.op) in _COUNT_AGGREGATIONS else _unit(node.expr)
    if isinstance(node, pp.Call):
        return _call_unit(node)
    if isinstance(node, pp.UnaryExpr | pp.SubqueryExpr):
        return _unit(node.expr)
    return None


def _binary_unit(node: Any) -> _Unit | None:
    op = str(node.op)
    left, right = _unit(node.lhs), _unit(node.rhs)
    if op == "-" and "dateTimeAsIso" in (left and left[0], right and right[0]):
        return ("s", False)  # time() - last_success_timestamp: an age
    if op == "*" and left == ("short", True) and _number(node.rhs) == 60:
        return ("cpm", False)  # a per-second count × 60: per minute
    if op != "/" or left is None or right is None:
        return left or right
    if left[1] != right[1] and not left[1]:
        return None  # a plain value divided by a rate
    per_second = left[1] and not right[1]
    if left[0] == right[0]:
        return ("short" if left[0] in ("percentunit", "percent") else "percentunit", per_second)
    return (left[0], per_second) if right[0] == "short" else None


def _number(node: Any) -> float | None:
    node = unwrap(node)
    return float(node.val) if isinstance(node, pp.NumberLiteral) else None


def _call_unit(node: Any) -> _Unit | None:
    name = node.func.name
    args = list(node.args)
    if name == "histogram_quantile" and len(args) == 2:
        metric = find_metric(first_metric(args[1]) or "")
        return (metric.unit, False) if metric else None
    if name == "time":
        return ("dateTimeAsIso", False)
    if name.startswith("count"):
        return ("short", False)
    units = [u for u in (_unit(a) for a in args) if u]
    if not units:
        return None
    return (units[0][0], True) if name in _RATE_FUNCS else units[0]


def first_metric(node: Any) -> str | None:
    """The first metric name ``node`` reads, depth-first in source order."""
    node = unwrap(node)
    if isinstance(node, pp.VectorSelector):
        return name_of(node)
    if isinstance(node, pp.MatrixSelector):
        return first_metric(node.vector_selector)
    for attr in ("expr", "lhs", "rhs"):
        child = getattr(node, attr, None)
        found = first_metric(child) if child is not None else None
        if found:
            return found
    if isinstance(node, pp.Call):
        return next((n for n in (first_metric(a) for a in node.args) if n), None)
    return None


# -- how far back it reads ------------------------------------------------------------------------


def lookback(node: Any, seconds: Callable[[Any], float | None]) -> float | None:
    """The furthest a query reads back from its evaluation time, in seconds (window + offset).

    ``seconds(delta)`` turns a parsed duration into real seconds (macros resolved);
    ``None`` when a part of it is unknown (an undeclared variable).
    """
    node = unwrap(node)
    if isinstance(node, pp.MatrixSelector):
        return _sum(seconds(node.range), _offset(node.vector_selector, seconds))
    if isinstance(node, pp.VectorSelector):
        return _offset(node, seconds)
    if isinstance(node, pp.SubqueryExpr):
        inner = lookback(node.expr, seconds)
        return _sum(seconds(node.range), _offset(node, seconds), inner)
    parts = [lookback(child, seconds) for _, child in children(node)]
    if any(part is None for part in parts):
        return None
    return max((part for part in parts if part is not None), default=0.0)


def _sum(*parts: float | None) -> float | None:
    return None if any(p is None for p in parts) else sum(p for p in parts if p is not None)


def _offset(node: Any, seconds: Callable[[Any], float | None]) -> float | None:
    offset = getattr(node, "offset", None)
    return 0.0 if offset is None else seconds(offset)


# -- series estimate -------------------------------------------------------------------------------


def estimate(node: Any, values: LabelValues | None = None) -> int | None:
    """Roughly how many series ``node`` returns, from the catalog (``None`` if unknown).

    ``values(metric, label)`` gives the label values seen on a server, where known.
    """
    counts = _estimate(node, values or _no_values)
    return None if counts is None else math.prod(counts.values())


def _no_values(metric: str, label: str) -> set[str] | None:
    return None


def _estimate(node: Any, values: LabelValues) -> dict[str, int] | None:
    """Label -> number of values of what ``node`` returns (``None`` if unknown)."""
    node = unwrap(node)
    if isinstance(node, pp.NumberLiteral | pp.StringLiteral):
        return {}
    if isinstance(node, pp.VectorSelector):
        return _estimate_selector(node, values)
    if isinstance(node, pp.MatrixSelector):
        return _estimate(node.vector_selector, values)
    if isinstance(node, pp.SubqueryExpr | pp.UnaryExpr):
        return _estimate(node.expr, values)
    if isinstance(node, pp.AggregateExpr):
        return _estimate_aggregate(node, values)
    if isinstance(node, pp.Call):
        return _estimate_call(node, values)
    if isinstance(node, pp.BinaryExpr):
        return _estimate_binary(node, values)
    return None


def _estimate_selector(node: Any, values: LabelValues) -> dict[str, int] | None:
    name = name_of(node)
    metric = find_metric(name) if name else None
    if metric is None:
        return None
    counts: dict[str, int] = {}
    for label in metric.labels:
        seen = values(metric.name, label) or set(metric.values.get(label, ("",)))
        counts[label] = len(seen)
    if name and name.endswith("_bucket"):
        counts["le"] = len(metric.buckets) + 1
    for matcher in node.matchers.matchers:
        if matcher.name in counts and match_op(matcher) == "=":
            counts[matcher.name] = 1
        elif matcher.name in counts and match_op(matcher) == "=~":
            counts[matcher.name] = max(1, str(matcher.value).count("|") + 1)
    return counts


def _estimate_aggregate(node: Any, values: LabelValues) -> dict[str, int] | None:
    inner = _estimate(node.expr, values)
    if inner is None or str(node.op) == "count_values":
        return None
    if str(node.op) in KEEP_LABELS:
        return inner
    modifier = node.modifier
    if modifier is None:
        return {}
    if str(modifier.type).endswith("By"):
        return {k: v for k, v in inner.items() if k in modifier.labels}
    return {k: v for k, v in inner.items() if k not in modifier.labels}


def _estimate_call(node: Any, values: LabelValues) -> dict[str, int] | None:
    name = node.func.name
    if name in _NO_SERIES:
        return {}
    if name == "histogram_quantile":
        inner = _estimate(node.args[1], values)
        return None if inner is None else {k: v for k, v in inner.items() if k != "le"}
    vectors = vector_args(node)
    return _estimate(vectors[0], values) if vectors else {}


def _estimate_binary(node: Any, values: LabelValues) -> dict[str, int] | None:
    lhs, rhs = _estimate(node.lhs, values), _estimate(node.rhs, values)
    if lhs is None or rhs is None:
        return None
    if output_labels(node.lhs) == SCALAR:
        return rhs  # time() - max by (component) (x): one series per component
    if output_labels(node.rhs) == SCALAR:
        return lhs
    card = str(node.modifier.card) if node.modifier is not None else ""
    if str(node.op) == "or":
        return {k: max(lhs.get(k, 1), rhs.get(k, 1)) for k in lhs.keys() | rhs.keys()}
    return rhs if card.endswith("OneToMany") else lhs
