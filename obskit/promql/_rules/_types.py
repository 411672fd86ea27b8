"""Rules about metric types: rate over a gauge, delta over a counter, raw counters, rate(sum)."""

from __future__ import annotations

from typing import Any

import promql_parser as pp

from .._ast import Visit, func_name, unwrap, walk
from .._infer import name_of
from .._lintctx import COUNTER_FUNCS, GAUGE_FUNCS, RAW_OK, Context, Finding, child, default_window


def _typed_calls(ctx: Context, funcs: dict[str, str | None], kind: str) -> list[tuple[Visit, str]]:
    """Calls of ``funcs`` whose argument is a series of ``kind``, with that series' name."""
    found = []
    for visit in ctx.visits:
        if func_name(visit.node) not in funcs:
            continue
        arg = unwrap(visit.node.args[0])
        target = arg.vector_selector if isinstance(arg, pp.MatrixSelector) else None
        if isinstance(arg, pp.SubqueryExpr) and isinstance(unwrap(arg.expr), pp.VectorSelector):
            target = unwrap(arg.expr)
        name = name_of(target) if target is not None else None
        if name and ctx.kind(name) == kind:
            found.append((visit, name))
    return found


def _swap(ctx: Context, visit: Visit, alt: str | None) -> str | None:
    return ctx.fix({visit.path: f"{alt}({ctx.text(child(visit, 'arg0'))})"}) if alt else None


def rate_on_gauge(ctx: Context) -> list[Finding]:
    found = []
    for visit, name in _typed_calls(ctx, COUNTER_FUNCS, "gauge"):
        func = func_name(visit.node) or ""
        alt = COUNTER_FUNCS[func]
        typ, _, source = ctx.lookup(name)
        found.append(
            Finding(
                "rate-on-gauge",
                "error",
                f"{ctx.text(visit)}: {name} is {article(typ or 'gauge')} ({source}), but "
                f"{func}() is for counters and reads every drop as a counter reset. Use "
                f"{alt or 'deriv'}() for a gauge's change, or avg_over_time()/max_over_time() "
                "to smooth its level",
                _swap(ctx, visit, alt),
            )
        )
    return found


def delta_on_counter(ctx: Context) -> list[Finding]:
    found = []
    for visit, name in _typed_calls(ctx, GAUGE_FUNCS, "counter"):
        func = func_name(visit.node) or ""
        alt = GAUGE_FUNCS[func]
        _, _, source = ctx.lookup(name)
        found.append(
            Finding(
                "delta-on-counter",
                "warning",
                f"{ctx.text(visit)}: {name} is a counter ({source or 'by its name'}); {func}() "
                f"ignores counter resets, so restarts show as large negative values. Use "
                f"{alt or 'rate'}() for counters",
                _swap(ctx, visit, alt),
            )
        )
    return found


def article(word: str) -> str:
    """``word`` with ``a``/``an`` in front: ``a gauge``, ``an info``, ``an untyped metric``."""
    if word in ("unknown", "untyped"):
        word = f"{word} metric"
    return f"{'an' if word[:1] in 'aeiou' else 'a'} {word}"


def counter_raw(ctx: Context) -> list[Finding]:
    found = []
    for visit in ctx.visits:
        if not isinstance(visit.node, pp.VectorSelector):
            continue
        name = name_of(visit.node)
        if not name or ctx.kind(name) != "counter" or _consumed(visit):
            continue
        sel = ctx.text(visit)
        fix = None
        if not isinstance(visit.parent, pp.MatrixSelector):
            fix = ctx.fix({visit.path: f"rate({sel}[{default_window(ctx)}])"})
        found.append(
            Finding(
                "counter-raw",
                "warning",
                f"{sel} is a counter used raw: its value only grows and drops to 0 on restart. "
                "Wrap it in rate() for a per-second rate or increase() for a count over a window",
                fix,
            )
        )
    return found


def _consumed(visit: Visit) -> bool:
    """Whether a raw counter's value is not used: a function of presence, count(), ``unless x``."""
    for i, parent in enumerate(visit.parents):
        if func_name(parent) in RAW_OK:
            return True
        if isinstance(parent, pp.AggregateExpr) and str(parent.op) in ("count", "group"):
            return True
        # the right side of and/unless only says which series exist
        sides = isinstance(parent, pp.BinaryExpr) and str(parent.op) in ("and", "unless")
        if sides and visit.path[i] == "rhs":
            return True
    return False


def aggregation_before_rate(ctx: Context) -> list[Finding]:
    found = []
    for visit in ctx.visits:
        func = func_name(visit.node)
        if func not in COUNTER_FUNCS and func not in ("delta", "changes"):
            continue
        sub = child(visit, "arg0")
        if not isinstance(unwrap(sub.node), pp.SubqueryExpr):
            continue
        inner = unwrap(unwrap(sub.node).expr)
        if not any(isinstance(v.node, pp.AggregateExpr) for v in walk(inner)):
            continue
        found.append(
            Finding(
                "aggregation-before-rate",
                "error",
                f"{ctx.text(visit)} aggregates counters before {func}() sees them, so a reset "
                f"of any one series looks like a huge drop. Apply {func}() to each series first, "
                f"then aggregate: sum by (...) ({func}(x[5m]))",
                _rate_first(ctx, visit, unwrap(sub.node), inner),
            )
        )
    return found


def _rate_first(ctx: Context, call: Visit, sub: Any, inner: Any) -> str | None:
    if not isinstance(inner, pp.AggregateExpr) or inner.param is not None:
        return None
    if not isinstance(unwrap(inner.expr), pp.VectorSelector):
        return None
    sel = ctx._restore(ctx.printer(unwrap(inner.expr), ("_",)))
    window = ctx.printer.duration(sub.range)
    rated = f"{func_name(call.node)}({sel}[{window}])"
    modifier = inner.modifier
    if modifier is None:
        return ctx.fix({call.path: f"{inner.op}({rated})"})
    word = "by" if str(modifier.type).endswith("By") else "without"
    return ctx.fix({call.path: f"{inner.op} {word} ({', '.join(modifier.labels)}) ({rated})"})
