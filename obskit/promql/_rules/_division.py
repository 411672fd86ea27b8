"""division-unguarded: ``a / b`` where ``b`` can really be 0, or is 0.

Claimed only where the denominator can be 0: rates, increases and other changes over a
window, ``> bool`` results, gauges of the application's own (calls in progress), sums of those. Sizes and capacities (``*_size_bytes``,
``MemTotal``, ``*_limit*``, CPU counts), ``count()`` of series and constants are never 0,
and ``> 0``, ``clamp_min(x, 1)`` or ``or vector(1)`` guard a denominator. Inside an
aggregation that NaN poisons (``sum(a / b)``), one zero series spoils the whole group, so
there a denominator must be known non-zero.
"""

from __future__ import annotations

import operator
import re
from collections.abc import Callable
from typing import Any

import promql_parser as pp

from .._ast import Visit, func_name, unwrap
from .._infer import name_of
from .._lintctx import Context, Finding, child

#: Functions whose value is a change over a window, so 0 when nothing happened.
_CHANGES = {"rate", "irate", "increase", "delta", "idelta", "deriv", "changes", "resets"}
#: Functions whose value is never 0.
_NEVER_ZERO = {"time", "count_over_time", "absent", "absent_over_time", "pi"}
#: Functions whose value is one of their argument's values (or its absolute value).
_KEEPS_VALUE = {"vector", "abs", "sort", "sort_desc", "scalar", "label_replace", "label_join",
                "last_over_time", "max_over_time", "min_over_time", "avg_over_time"}  # fmt: skip
#: Aggregations whose result one NaN/Inf series spoils.
_POISONED = {"sum", "avg", "stddev", "stdvar", "quantile"}
#: Names of sizes and capacities: never 0 where they exist.
_CAPACITY = re.compile(
    r"(_size_bytes$|Total|_total_bytes$|_limit|^machine_cpu_cores$|_capacity|_allocatable)"
)
_FILTERS: dict[str, Callable[[float], bool]] = {  # x OP c keeps only non-zero values when...
    ">": lambda c: c >= 0,
    ">=": lambda c: c > 0,
    "<": lambda c: c <= 0,
    "<=": lambda c: c < 0,
    "!=": lambda c: c == 0,
}
_ARITHMETIC: dict[str, Callable[[float, float], float]] = {
    "+": operator.add,
    "-": operator.sub,
    "*": operator.mul,
    "/": operator.truediv,
}


def division_unguarded(ctx: Context) -> list[Finding]:
    found = []
    for visit in ctx.visits:
        if not isinstance(visit.node, pp.BinaryExpr) or str(visit.node.op) not in ("/", "%"):
            continue
        den = child(visit, "rhs")
        if _constant(ctx, den.node) == 0:
            what = (
                "divides by" if str(visit.node.op) == "/" else "takes a remainder after dividing by"
            )
            found.append(
                Finding(
                    "division-unguarded",
                    "error",
                    f"{ctx.text(visit)} {what} the literal 0, which is always ±Inf or NaN",
                )
            )
        elif _poisoned(visit) and not _nonzero(ctx, den.node):
            found.append(_finding(ctx, visit, den, "inside"))
        elif _can_be_zero(ctx, den.node):
            found.append(_finding(ctx, visit, den, "top"))
    return found


def _finding(ctx: Context, visit: Visit, den: Visit, where: str) -> Finding:
    guarded = f"({ctx.text(den)} > 0)"
    if where == "top":
        why = f"the denominator {ctx.text(den)} can be 0 (no traffic), which gives NaN or +Inf"
    else:
        why = (
            f"inside an aggregation, a 0 in {ctx.text(den)} for any one series gives NaN or "
            "+Inf and spoils the whole aggregate"
        )
    return Finding(
        "division-unguarded",
        "warning",
        f"{ctx.text(visit)}: {why}. Filter it: / {guarded}",
        ctx.fix({den.path: guarded}),
    )


def _poisoned(visit: Visit) -> bool:
    """Whether the division's result feeds an aggregation that a NaN spoils."""
    for parent in reversed(visit.parents):
        if isinstance(parent, pp.AggregateExpr):
            return str(parent.op) in _POISONED
        if isinstance(parent, pp.BinaryExpr) and _is_filter(parent):
            return False
    return False


def _is_filter(node: Any) -> bool:
    return str(node.op) in _FILTERS or (str(node.op) == "==" and not _bool(node))


def _bool(node: Any) -> bool:
    return node.modifier is not None and bool(node.modifier.return_bool)


def _can_be_zero(ctx: Context, node: Any) -> bool:
    """Whether ``node`` is 0 in ordinary operation: a change over a window and what sums it."""
    node = unwrap(node)
    if isinstance(node, pp.UnaryExpr | pp.SubqueryExpr):
        return _can_be_zero(ctx, node.expr)
    if isinstance(node, pp.AggregateExpr):
        return str(node.op) not in ("count", "group", "count_values") and _can_be_zero(
            ctx, node.expr
        )
    if isinstance(node, pp.Call):
        return _call_can_be_zero(ctx, node)
    if isinstance(node, pp.BinaryExpr):
        return _binary_can_be_zero(ctx, node)
    if isinstance(node, pp.VectorSelector):  # a level of the application's own: calls in progress
        name = name_of(node)
        owned = bool(name) and ctx.owned(name or "") and ctx.kind(name or "") == "gauge"
        return owned and not _CAPACITY.search(name or "")
    return False


def _call_can_be_zero(ctx: Context, node: Any) -> bool:
    name, args = func_name(node) or "", [unwrap(a) for a in node.args]
    if name in _CHANGES:
        return True
    if name in ("clamp_min", "clamp") and isinstance(args[1], pp.NumberLiteral):
        return (ctx.number(args[1]) or 0) <= 0 and _can_be_zero(ctx, args[0])
    if name == "vector":
        return _constant(ctx, args[0]) == 0
    if name in _NEVER_ZERO or name == "histogram_quantile":
        return False
    inner = next((a for a in args if not isinstance(a, pp.NumberLiteral | pp.StringLiteral)), None)
    return (
        inner is not None and not isinstance(inner, pp.MatrixSelector) and _can_be_zero(ctx, inner)
    )


def _binary_can_be_zero(ctx: Context, node: Any) -> bool:
    op, lhs, rhs = str(node.op), node.lhs, node.rhs
    if _constant(ctx, node) is not None:
        return _constant(ctx, node) == 0
    if op in _FILTERS or op == "==":
        return _bool(node) or not _filters_zero(ctx, node)
    if op == "or":  # x or vector(1): the author chose a fallback for the empty case
        fallback = func_name(unwrap(rhs)) == "vector" and _nonzero(ctx, rhs)
        return not fallback and (_can_be_zero(ctx, lhs) or _can_be_zero(ctx, rhs))
    if op in ("and", "unless", "/", "%", "^", "atan2"):
        return _can_be_zero(ctx, lhs)
    if op == "*":
        return _can_be_zero(ctx, lhs) or _can_be_zero(ctx, rhs)
    return _can_be_zero(ctx, lhs) and _can_be_zero(ctx, rhs)  # + and -: sums of changes


def _filters_zero(ctx: Context, node: Any) -> bool:
    """Whether a comparison filter (``x > 0``) drops every zero value."""
    if _bool(node):
        return False
    limit = _constant(ctx, node.rhs)
    check = _FILTERS.get(str(node.op))
    return limit is not None and check is not None and check(limit)


def _nonzero(ctx: Context, node: Any) -> bool:
    """Whether ``node`` is known never to be 0: a constant, a capacity, a guarded value."""
    node = unwrap(node)
    constant = _constant(ctx, node)
    if constant is not None:
        return constant != 0
    if isinstance(node, pp.VectorSelector):
        name = name_of(node)
        return bool(name and _CAPACITY.search(name))
    if isinstance(node, pp.UnaryExpr | pp.SubqueryExpr):
        return _nonzero(ctx, node.expr)
    if isinstance(node, pp.AggregateExpr):
        op = str(node.op)
        return op in ("count", "group") or (
            op in ("sum", "max", "min", "avg") and _nonzero(ctx, node.expr)
        )
    if isinstance(node, pp.Call):
        return _call_nonzero(ctx, node)
    if isinstance(node, pp.BinaryExpr):
        return _binary_nonzero(ctx, node)
    return False


def _call_nonzero(ctx: Context, node: Any) -> bool:
    name, args = func_name(node) or "", [unwrap(a) for a in node.args]
    if name in _NEVER_ZERO:
        return True
    if name in ("clamp_min", "clamp") and isinstance(args[1], pp.NumberLiteral):
        return (ctx.number(args[1]) or 0) > 0
    if name in _KEEPS_VALUE and args:
        inner = args[0].vector_selector if isinstance(args[0], pp.MatrixSelector) else args[0]
        return _nonzero(ctx, inner)
    return False


def _binary_nonzero(ctx: Context, node: Any) -> bool:
    op = str(node.op)
    if op in _FILTERS or op == "==":
        return _filters_zero(ctx, node)
    if op == "or":
        return (_nonzero(ctx, node.lhs) and _nonzero(ctx, node.rhs)) or (
            func_name(unwrap(node.rhs)) == "vector" and _nonzero(ctx, node.rhs)
        )
    if op in ("and", "unless"):
        return _nonzero(ctx, node.lhs)
    if op in ("*", "/", "+"):
        return _nonzero(ctx, node.lhs) and _nonzero(ctx, node.rhs)
    return False


def _constant(ctx: Context, node: Any) -> float | None:
    """The value of arithmetic on number literals only (``None`` otherwise)."""
    node = unwrap(node)
    if isinstance(node, pp.NumberLiteral):
        return ctx.number(node)
    if not isinstance(node, pp.BinaryExpr) or str(node.op) not in _ARITHMETIC:
        return None
    lhs, rhs = _constant(ctx, node.lhs), _constant(ctx, node.rhs)
    if lhs is None or rhs is None:
        return None
    try:
        return float(_ARITHMETIC[str(node.op)](lhs, rhs))
    except (ZeroDivisionError, OverflowError):
        return None
