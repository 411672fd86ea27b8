"""A notebook query → a panel spec: validated, windows made ``$__rate_interval``, kind,
unit and legend from the parsed query (:class:`~obskit.promql.Expr`) and a live run."""

from __future__ import annotations

from typing import Any

from ..catalog import find_metric
from ..errors import ConfigError
from ..promql._expr import Expr, PanelContext
from ..promql._macros import fixed_windows
from ..promql.validate import validate
from ._plan import variable_values
from .panels import KINDS, kind_of, points


def use_rate_interval(expr: str) -> str:
    """``expr`` with fixed ``rate()`` windows replaced by ``$__rate_interval`` (see
    :data:`~obskit.promql._macros.FIXED_WINDOW_FUNCS` for why only rate).

    Subquery ranges (``[1h:5m]``) and Grafana macros are kept.

    >>> use_rate_interval('sum(rate(x_total{a="[5m]"}[5m])) / sum(increase(y[$__range]))')
    'sum(rate(x_total{a="[5m]"}[$__rate_interval])) / sum(increase(y[$__range]))'
    """
    for start, end in sorted(fixed_windows(expr), reverse=True):
        expr = expr[:start] + "$__rate_interval" + expr[end:]
    return expr


def _description(expr: Expr) -> str:
    metric = next((m for m in map(find_metric, expr.metrics) if m is not None), None)
    return metric.help if metric else "Added from a notebook with obskit.add_panel()."


def make_spec(
    data: dict[str, Any],
    expr: str | Expr,
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

    The query is parsed once: lint, validate, unit, legend and kind all read the same
    :class:`~obskit.promql.Expr`, in the context of the panel it becomes (the
    dashboard's variables, the data source's ``scrape_interval``, the panel kind's max
    data points).
    """
    if not title or not title.strip():
        raise ConfigError("title must be a non-empty string, e.g. title='LLM p95 by model'")
    chosen = kind_of(kind) or kind if kind else None  # Grafana's type names are accepted too
    if chosen is not None and chosen not in KINDS:
        raise ConfigError(f"kind must be one of {', '.join(KINDS)}; got {kind!r}")
    text = use_rate_interval(str(expr).strip())
    context = PanelContext(
        max_data_points=points(chosen or "timeseries"), scrape_interval=scrape_interval,
        variables=variable_values(data), dashboard=True,
    )  # fmt: skip
    query = Expr.of(expr, context) if text == str(expr) else Expr(text, context)
    report = validate(query, client)
    report.raise_for_findings()
    unit = unit or query.unit or "short"
    if chosen is None:
        chosen = query.kind(report.series)
        if unit != (query.unit or "short") and chosen == "gauge":
            chosen = "stat"  # a gauge is for a 0..1 ratio; the unit given says otherwise
    return {
        "title": title.strip(),
        "kind": chosen,
        "unit": unit,
        "legend": legend or query.legend or title.strip(),
        "description": (description or _description(query)).strip().splitlines()[0],
        "expr": query.text,
    }
