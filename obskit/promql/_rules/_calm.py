"""noisy-panel (a suggestion, info): a dashboard ratio or quantile that shouts at night.

A panel ratio of rates jumps to 50 % when one of two night-time requests fails, and a
quantile of a handful of observations breaks into dots. The calm form keeps a value only
where the window holds enough events: ``... and on() (sum(increase(x[w])) >= 20)``, as
``promql.ratio(..., min_volume=)``, the ratio helpers and ``promql.quantile(..., min_count=)``
write it (the panel min interval comes from ``obskit.panels.quantile_interval``).

Whether a metric's volume falls at night is knowledge, not syntax: a kubelet's relist
histogram or a scrape-interval summary gets the same number of observations every
minute. So the rule speaks only for metrics in a namespace the active catalog owns
(``owns:``; the voice bot's traffic-driven ``voicebot_`` by default, a project's own with
``obskit catalog import --owns``), never for another team's dashboards.
"""

from __future__ import annotations

from typing import Any

import promql_parser as pp

from .._ast import func_name, unwrap, walk
from .._infer import name_of
from .._lintctx import Context, Finding

_CHANGES = {"rate", "irate", "increase"}


def noisy_panel(ctx: Context) -> list[Finding]:
    if not ctx.dashboard or _guarded(ctx):
        return []
    for visit in ctx.visits:
        node = visit.node
        if not _owned(ctx, node):
            continue
        if func_name(node) == "histogram_quantile":
            return [_finding(ctx, visit, "a quantile of a handful of observations is noise",
                             "promql.quantile(q, family, min_count=20)")]  # fmt: skip
        ratio = isinstance(node, pp.BinaryExpr) and str(node.op) == "/"
        if ratio and _changes(node.rhs) and _changes(node.lhs) and not _time_based(node.rhs):
            return [_finding(ctx, visit, "one failure in two requests reads as 50 %",
                             "promql.ratio(num, den, min_volume=20, volume=...)")]  # fmt: skip
    return []


def _finding(ctx: Context, visit: Any, why: str, helper: str) -> Finding:
    return Finding(
        "noisy-panel",
        "info",
        f"{ctx.text(visit)}: at night a window may hold few events, and {why}. Show a value "
        "only where the window holds enough: append `and on() (sum(increase(<the counter>"
        f"[$__rate_interval])) >= 20)`, or build it with {helper}",
    )


def _changes(node: Any) -> bool:
    """Whether ``node`` computes a rate or an increase somewhere inside."""
    node = unwrap(node)
    if func_name(node) in _CHANGES:
        return True
    children = [getattr(node, a, None) for a in ("expr", "lhs", "rhs")]
    children += list(getattr(node, "args", []) or [])
    return any(_changes(c) for c in children if c is not None and not isinstance(c, str))


def _owned(ctx: Context, node: Any) -> bool:
    """Whether every metric under ``node`` is in a namespace the active catalog owns."""
    names = [name_of(v.node) for v in walk(node) if isinstance(v.node, pp.VectorSelector)]
    return bool(names) and all(n is not None and ctx.owned(n) for n in names)


def _time_based(node: Any) -> bool:
    """A denominator of seconds counters (CPU time): its volume never runs low at night."""
    names = [name_of(v.node) for v in walk(node) if isinstance(v.node, pp.VectorSelector)]
    return bool(names) and all(n and n.endswith("_seconds_total") for n in names)


def _guarded(ctx: Context) -> bool:
    """Whether the query keeps values only where a volume is at least some number."""
    for visit in ctx.visits:
        node = visit.node
        if isinstance(node, pp.BinaryExpr) and str(node.op) == "and":
            rhs = unwrap(node.rhs)
            limit = isinstance(rhs, pp.BinaryExpr) and str(rhs.op) in (">=", ">")
            if limit and isinstance(unwrap(rhs.rhs), pp.NumberLiteral):
                return True
    return False
