"""constant-comparison: a filter that, by what its left side can be, keeps all or nothing.

``count(x) > 0`` keeps everything (count() never returns 0: it returns nothing), and
``rate(x[5m]) < 0`` or ``up > 1`` keep nothing. Only value ranges PromQL guarantees are
used: counts, group(), absent(), rates of counters, ``up``, clamps, constants.
"""

from __future__ import annotations

import math
from typing import Any

import promql_parser as pp

from .._ast import func_name, unwrap
from .._infer import name_of
from .._lintctx import Context, Finding

Range = tuple[float, float]
_INF = math.inf
_NON_NEGATIVE = {"rate", "irate", "increase", "resets", "changes", "abs", "sqrt", "time",
                 "timestamp", "day_of_month", "day_of_week", "hour", "minute", "month", "year",
                 "days_in_month", "day_of_year", "histogram_count"}  # fmt: skip
_ONE = {"absent", "absent_over_time", "present_over_time"}
_SAME = {"min", "max", "avg", "topk", "bottomk", "quantile", "limitk", "limit_ratio"}
_FLIPPED = {">": "<", "<": ">", ">=": "<=", "<=": ">=", "==": "==", "!=": "!="}


def constant_comparison(ctx: Context) -> list[Finding]:
    found = []
    for visit in ctx.visits:
        node = visit.node
        if not isinstance(node, pp.BinaryExpr) or str(node.op) not in _FLIPPED:
            continue
        if node.modifier is not None and node.modifier.return_bool:
            continue
        side, op, limit = _operands(ctx, node)
        span = _range(ctx, side) if side is not None and limit is not None else None
        if span is None or limit is None:
            continue
        verdict = _verdict(op, span, limit)
        if verdict is None:
            continue
        found.append(_finding(ctx.text(visit), op, span, limit, verdict))
    return found


def _operands(ctx: Context, node: Any) -> tuple[Any, str, float | None]:
    """``(vector side, operator as if the vector were on the left, the number)``."""
    lhs, rhs, op = unwrap(node.lhs), unwrap(node.rhs), str(node.op)
    if isinstance(rhs, pp.NumberLiteral) and not isinstance(lhs, pp.NumberLiteral):
        return lhs, op, ctx.number(rhs)
    if isinstance(lhs, pp.NumberLiteral) and not isinstance(rhs, pp.NumberLiteral):
        return rhs, _FLIPPED[op], ctx.number(lhs)
    return None, op, None


def _verdict(op: str, span: Range, c: float) -> bool | None:
    """``True`` when ``x OP c`` holds for every x in ``span``, ``False`` when for none."""
    lo, hi = span
    always = {">": lo > c, ">=": lo >= c, "<": hi < c, "<=": hi <= c,
              "==": lo == hi == c, "!=": c < lo or c > hi}  # fmt: skip
    never = {">": hi <= c, ">=": hi < c, "<": lo >= c, "<=": lo > c,
             "==": c < lo or c > hi, "!=": lo == hi == c}  # fmt: skip
    if never[op]:
        return False
    return True if always[op] else None


def _finding(text: str, op: str, span: Range, limit: float, verdict: bool) -> Finding:
    values = _describe(span)
    if verdict:
        return Finding(
            "constant-comparison",
            "info",
            f"{text}: the compared side is always {values}, so {op} {limit:g} keeps every "
            "series and filters nothing. Remove the comparison, or compare what you meant",
        )
    return Finding(
        "constant-comparison",
        "warning",
        f"{text}: the compared side is always {values}, so {op} {limit:g} is never true and "
        "the query never returns anything. Check the threshold and the operator",
    )


def _describe(span: Range) -> str:
    lo, hi = span
    if lo == hi:
        return f"{lo:g}"
    if hi == _INF:
        return f"≥ {lo:g}"
    if lo == -_INF:
        return f"≤ {hi:g}"
    return f"between {lo:g} and {hi:g}"


def _range(ctx: Context, node: Any) -> Range | None:
    """The values ``node`` can take, where PromQL guarantees them (``None``: anything)."""
    node = unwrap(node)
    if isinstance(node, pp.NumberLiteral):
        value = ctx.number(node)
        return None if value is None else (value, value)
    if isinstance(node, pp.VectorSelector):
        return (0.0, 1.0) if name_of(node) == "up" else None
    if isinstance(node, pp.AggregateExpr):
        return _aggregate_range(ctx, node)
    if isinstance(node, pp.Call):
        return _call_range(ctx, node)
    return None


def _aggregate_range(ctx: Context, node: Any) -> Range | None:
    op = str(node.op)
    if op == "group":
        return (1.0, 1.0)
    if op in ("count", "count_values"):
        return (1.0, _INF)
    inner = _range(ctx, node.expr)
    if inner is None:
        return None
    if op in _SAME:
        return inner
    if op == "sum" and inner[0] >= 0:
        return (0.0 if inner[0] == 0 else inner[0], _INF if inner[1] > 0 else 0.0)
    return None


def _call_range(ctx: Context, node: Any) -> Range | None:
    name, args = func_name(node) or "", [unwrap(a) for a in node.args]
    if name in _ONE:
        return (1.0, 1.0)
    if name == "count_over_time":
        return (1.0, _INF)
    if name in _NON_NEGATIVE:
        return (0.0, _INF)
    if name == "vector" and args:
        return _range(ctx, args[0])
    if name in ("clamp_min", "clamp_max", "clamp") and len(args) >= 2:
        return _clamped(ctx, name, args)
    if name in ("last_over_time", "max_over_time", "min_over_time", "avg_over_time") and args:
        inner = args[0]
        if isinstance(inner, pp.MatrixSelector):
            return _range(ctx, inner.vector_selector)
        if isinstance(inner, pp.SubqueryExpr):
            return _range(ctx, inner.expr)
    return None


def _clamped(ctx: Context, name: str, args: list[Any]) -> Range | None:
    inner = _range(ctx, args[0]) or (-_INF, _INF)
    bounds = [ctx.number(a) if isinstance(a, pp.NumberLiteral) else None for a in args[1:]]
    if any(b is None for b in bounds):
        return None
    lo, hi = inner
    if name == "clamp_min":
        lo = max(lo, bounds[0] or 0.0)
    elif name == "clamp_max":
        hi = min(hi, bounds[0] or 0.0)
    else:
        lo, hi = max(lo, bounds[0] or 0.0), min(hi, bounds[1] or 0.0)
    return None if (lo, hi) == (-_INF, _INF) else (lo, hi)
