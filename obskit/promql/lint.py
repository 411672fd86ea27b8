"""Lint PromQL offline: rules over the parsed query, the catalog and passed-in live metadata.

Lint does no HTTP: live metric types, label names and label values are passed in as
mappings (:func:`obskit.validate.validate` fetches them). Each rule has a stable id; the
table below is built from the rule registry (``obskit.promql._rules.REGISTRY``).

{rules}
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from ._expr import Expr
from ._lintctx import SEVERITIES, Context, Finding, build_context, read
from ._rules import REGISTRY, RULE_FUNCS, table

__all__ = ["RULES", "Finding", "check_series_budget", "estimate_series", "lint"]

if __doc__:  # derived, so the table and the rules cannot drift apart
    __doc__ = __doc__.replace("{rules}", table())

#: Every rule id, in the registry's order.
RULES: tuple[str, ...] = tuple(rule.id for rule in REGISTRY)


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
    kwargs.pop("deployment_labels", None)
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
    deployment_labels: Iterable[str] | None = None,
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
    deployment_labels : iterable of str, optional
        Labels your relabeling or external labels add (default ``cluster``, ``namespace``,
        ``pod``, ``region``, ``env``, ``replica``): offline, they are never reported missing.

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
    if deployment_labels is not None:
        ctx.deployment_labels = frozenset(deployment_labels)
    found = [finding for rule in RULE_FUNCS for finding in rule(ctx)]
    if series_budget is not None:
        count = query.series_estimate(ctx.values)
        budget = check_series_budget(count, series_budget, estimated=True)
        found += [budget] if budget else []
    unique = list(dict.fromkeys(found))
    return sorted(unique, key=lambda f: SEVERITIES.index(f.severity))
