"""The lint rules: each takes the query's context and returns its findings."""

from __future__ import annotations

import difflib
import operator
import re
from collections.abc import Callable, Mapping
from typing import Any

import promql_parser as pp

from .._time import format_duration
from . import _macros as grafana
from ._ast import Visit, children, func_name, match_op, unwrap, walk
from ._infer import KEEP_LABELS, name_of, output_labels
from ._lintctx import (
    COUNTER_FUNCS,
    GAUGE_FUNCS,
    MIN_SAMPLES,
    RAW_OK,
    Context,
    Finding,
    child,
    default_window,
    selectors,
    undeclared,
    under,
)


def _rule_rate_on_gauge(ctx: Context) -> list[Finding]:
    found = []
    for visit in ctx.visits:
        func = func_name(visit.node)
        if func not in COUNTER_FUNCS and func not in GAUGE_FUNCS:
            continue
        arg = unwrap(visit.node.args[0])
        target = arg.vector_selector if isinstance(arg, pp.MatrixSelector) else None
        if isinstance(arg, pp.SubqueryExpr) and isinstance(unwrap(arg.expr), pp.VectorSelector):
            target = unwrap(arg.expr)
        name = name_of(target) if target is not None else None
        kind = ctx.kind(name) if name else None
        typ, _, source = ctx.lookup(name) if name else (None, "", "")
        part = ctx.text(visit)
        if func in COUNTER_FUNCS and kind == "gauge":
            alt = COUNTER_FUNCS[func]
            fix = ctx.fix({visit.path: f"{alt}({ctx.text(child(visit, 'arg0'))})"}) if alt else None
            found.append(
                Finding(
                    "rate-on-gauge",
                    "error",
                    f"{part}: {name} is a {typ} ({source}), but {func}() is for counters and "
                    f"reads every drop as a counter reset. Use {alt or 'deriv'}() for a gauge's "
                    "change, or avg_over_time()/max_over_time() to smooth its level",
                    fix,
                )
            )
        elif func in GAUGE_FUNCS and kind == "counter":
            alt = GAUGE_FUNCS[func]
            fix = ctx.fix({visit.path: f"{alt}({ctx.text(child(visit, 'arg0'))})"}) if alt else None
            found.append(
                Finding(
                    "delta-on-counter",
                    "warning",
                    f"{part}: {name} is a counter ({source or 'by its name'}); {func}() ignores "
                    f"counter resets, so restarts show as large negative values. Use "
                    f"{alt or 'rate'}() for counters",
                    fix,
                )
            )
    return found


def _rule_counter_raw(ctx: Context) -> list[Finding]:
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
    for parent in visit.parents:
        if func_name(parent) in RAW_OK:
            return True
        if isinstance(parent, pp.AggregateExpr) and str(parent.op) in ("count", "group"):
            return True
    return False


def _rule_histogram_quantile(ctx: Context) -> list[Finding]:
    found: list[Finding | None] = []
    for visit in ctx.visits:
        if func_name(visit.node) != "histogram_quantile" or len(visit.node.args) != 2:
            continue
        phi = unwrap(visit.node.args[0])
        value = ctx.number(phi) if isinstance(phi, pp.NumberLiteral) else None
        if value is not None and not 0 <= value <= 1:
            found.append(
                Finding(
                    "quantile-out-of-range",
                    "error",
                    f"{ctx.text(visit)}: φ={value:g} is outside 0..1, so the result is ±Inf. "
                    "Write 0.95 for p95, not 95",
                )
            )
        inner = child(visit, "arg1")
        found += [_drops_le(ctx, agg) for agg in under(ctx, inner, pp.AggregateExpr)]
        found += [_not_bucket(ctx, sel) for sel in selectors(ctx, inner)]
    return [f for f in found if f is not None]


def _drops_le(ctx: Context, agg: Visit) -> Finding | None:
    node, op = agg.node, str(agg.node.op)
    if op in KEEP_LABELS:
        return None
    modifier = node.modifier
    labels = list(modifier.labels) if modifier is not None else []
    by = modifier is None or str(modifier.type).endswith("By")
    if (by and "le" in labels) or (not by and "le" not in labels):
        return None
    new = ["le", *labels] if by else [label for label in labels if label != "le"]
    fix = ctx.fix({agg.path: _aggregate_text(ctx, agg, new, by)})
    return Finding(
        "histogram-quantile-le",
        "error",
        f"{ctx.text(agg)} drops the le label, so histogram_quantile() has no buckets to "
        "interpolate and returns nothing. Keep le in the aggregation: sum by (le, ...)",
        fix,
    )


def _aggregate_text(ctx: Context, agg: Visit, labels: list[str], by: bool) -> str:
    args = ", ".join(ctx.text(child(agg, name)) for name, _ in children(agg.node))
    word = "by" if by else "without"
    return f"{agg.node.op} {word} ({', '.join(labels)}) ({args})"


def _not_bucket(ctx: Context, sel: Visit) -> Finding | None:
    name = name_of(sel.node)
    if not name:
        return None
    typ, suffix, _ = ctx.lookup(name)
    if suffix == "_bucket" or (typ in ("histogram", "gaugehistogram") and not suffix):
        return None
    if suffix not in ("_sum", "_count") and typ is None:
        return None
    fix = None
    if typ == "histogram" and suffix:
        bucket = name.removesuffix(suffix) + "_bucket"
        fix = ctx.fix({sel.path: ctx.text(sel).replace(name, bucket, 1)})
    return Finding(
        "histogram-quantile-input",
        "error",
        f"histogram_quantile() over {name}: it needs the _bucket series of a histogram "
        f"(with their le label), but {name} is {_describe(typ, suffix)}",
        fix,
    )


def _describe(typ: str | None, suffix: str) -> str:
    if suffix in ("_sum", "_count"):
        return f"the histogram's {suffix} series"
    return f"a {typ}"


def _rule_aggregation_before_rate(ctx: Context) -> list[Finding]:
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


def _rule_windows(ctx: Context) -> list[Finding]:
    found = []
    for visit in ctx.visits:
        func = func_name(visit.parent)
        if not isinstance(visit.node, pp.MatrixSelector) or func is None:
            continue
        seconds, origin = ctx.window(visit.node)
        samples = MIN_SAMPLES.get(func, 1 if func.endswith("_over_time") else 0)
        minimum = samples * ctx.scrape
        use_macro = ctx.dashboard and func in ("rate", "irate", "increase")
        if seconds is not None and seconds < minimum:
            window = "$__rate_interval" if use_macro else format_duration(minimum)
            fix = ctx.fix({visit.path: ctx.printer.matrix(visit.node, visit.path, window)})
            found.append(
                Finding(
                    "range-too-short",
                    "warning",
                    f"{ctx.text(visit)}: the {format_duration(seconds)} window is shorter than "
                    f"{samples} scrape intervals ({samples} × {format_duration(ctx.scrape)}), so "
                    f"{func}() returns gaps or noise. Use at least {format_duration(minimum)}"
                    + (" or $__rate_interval" if use_macro else ""),
                    fix,
                )
            )
        elif ctx.dashboard and func in ("rate", "irate") and origin is None:
            call = Visit(visit.parent, visit.path[:-1], visit.parents[:-1])
            fix = ctx.fix(
                {visit.path: ctx.printer.matrix(visit.node, visit.path, "$__rate_interval")}
            )
            found.append(
                Finding(
                    "hardcoded-window",
                    "warning",
                    f"{ctx.text(call)}: a fixed window in a dashboard panel ignores the zoom "
                    "level and the scrape interval; use [$__rate_interval]",
                    fix,
                )
            )
    return found


def _rule_unknown(ctx: Context) -> list[Finding]:
    found: list[Finding] = []
    known = ctx.known_names()
    for visit in ctx.visits:
        if isinstance(visit.node, pp.VectorSelector):
            found += _check_selector(ctx, visit, known)
        elif isinstance(visit.node, pp.AggregateExpr) and visit.node.modifier is not None:
            found += _check_grouping(ctx, visit)
    return found


def _check_selector(ctx: Context, visit: Visit, known: set[str]) -> list[Finding]:
    name = name_of(visit.node)
    if not name or name.startswith(grafana.PLACEHOLDER_PREFIX):
        return []
    if name not in known:
        close = difflib.get_close_matches(name, sorted(known), n=3, cutoff=0.6)
        hint = f"did you mean {', '.join(close)}?" if close else "check the spelling"
        fix = ctx.fix({visit.path: ctx.text(visit).replace(name, close[0], 1)}) if close else None
        return [Finding("unknown-metric", "warning",
            f"{name} is not a metric the catalog or the server knows; {hint} "
            "(obskit.catalog.search() lists known metrics)", fix)]  # fmt: skip
    found = []
    allowed = ctx.label_names(name)
    for matcher in visit.node.matchers.matchers:
        if allowed is not None and matcher.name not in allowed:
            found.append(_unknown_label(ctx, visit, name, matcher.name, allowed))
        elif match_op(matcher) in ("=", "=~") and matcher.value:
            found += _check_value(ctx, name, matcher)
    return found


def _unknown_label(ctx: Context, visit: Visit, name: str, label: str, allowed: set[str]) -> Finding:
    close = difflib.get_close_matches(label, sorted(allowed), n=1, cutoff=0.6)
    text = ctx.text(visit)
    fix = ctx.fix({visit.path: re.sub(rf"\b{label}(?=\s*[!=])", close[0], text)}) if close else None
    return Finding(
        "unknown-label",
        "warning",
        f"{text}: {name} has no label {label!r}, so nothing matches "
        f"(its labels: {', '.join(sorted(allowed - {'__name__'}))})"
        + (f"; did you mean {close[0]}?" if close else ""),
        fix,
    )


def _check_value(ctx: Context, name: str, matcher: Any) -> list[Finding]:
    known = ctx.values(name, matcher.name)
    value = _expand_value(str(matcher.value), ctx.variables)
    if known is None or value is None:
        return []
    op = match_op(matcher)
    try:
        hits = value in known if op == "=" else any(re.fullmatch(value, v) for v in known)
    except re.error:
        return []
    if hits:
        return []
    close = difflib.get_close_matches(value, sorted(known), n=3, cutoff=0.5)
    hint = f"; did you mean {', '.join(close)}?" if close else ""
    return [Finding("unknown-label-value", "warning",
        f"{name}{{{matcher.name}{op}\"{value}\"}} matches no series: {matcher.name} takes "
        f"{', '.join(sorted(known)[:10])}{' ...' if len(known) > 10 else ''}{hint}")]  # fmt: skip


def _expand_value(value: str, variables: Mapping[str, Any]) -> str | None:
    refs = grafana.refs(value)
    if any(ref.name not in variables for ref in refs):
        return None
    return grafana.substitute(
        value, lambda r: grafana.format_variable(variables[r.name], r.fmt, "`")
    )


def _check_grouping(ctx: Context, visit: Visit) -> list[Finding]:
    modifier = visit.node.modifier
    if str(visit.node.op) in KEEP_LABELS or any(
        func_name(v.node) in ("label_replace", "label_join") for v in walk(visit.node)
    ):
        return []
    available: set[str] = set()
    for sel in selectors(ctx, visit):
        name = name_of(sel.node)
        labels = ctx.label_names(name) if name else None
        if labels is None:
            return []
        available |= labels
    missing = [
        label
        for label in modifier.labels
        if label not in available and not label.startswith(grafana.PLACEHOLDER_PREFIX)
    ]
    if not missing or not available:
        return []
    return [Finding("unknown-label", "warning",
        f"{ctx.text(visit)}: no series under it has the label {', '.join(missing)}, so "
        f"the grouping does nothing for it (available: "
        f"{', '.join(sorted(available - {'__name__'}))})")]  # fmt: skip


def _rule_division(ctx: Context) -> list[Finding]:
    found = []
    for visit in ctx.visits:
        if not isinstance(visit.node, pp.BinaryExpr) or str(visit.node.op) != "/":
            continue
        rhs = unwrap(visit.node.rhs)
        if isinstance(rhs, pp.NumberLiteral) and ctx.number(rhs) == 0:
            found.append(
                Finding(
                    "division-unguarded",
                    "error",
                    f"{ctx.text(visit)} divides by the literal 0, which is always ±Inf or NaN",
                )
            )
        elif not _guarded(ctx, rhs):
            den = child(visit, "rhs")
            guarded = f"({ctx.text(den)} > 0)"
            found.append(
                Finding(
                    "division-unguarded",
                    "warning",
                    f"{ctx.text(visit)}: the denominator {ctx.text(den)} can be 0 (no traffic), "
                    f"which gives NaN or +Inf. Filter it: / {guarded}",
                    ctx.fix({den.path: guarded}),
                )
            )
    return found


def _guarded(ctx: Context, node: Any) -> bool:
    node = unwrap(node)
    if isinstance(node, pp.NumberLiteral):
        return ctx.number(node) != 0
    if isinstance(node, pp.AggregateExpr):
        return str(node.op) in ("count", "group")
    if isinstance(node, pp.Call):
        return _guarded_call(ctx, node)
    if isinstance(node, pp.BinaryExpr):
        return _guarded_binary(ctx, node)
    return False


def _guarded_call(ctx: Context, node: Any) -> bool:
    name, args = node.func.name, [unwrap(a) for a in node.args]
    if name in ("time", "count_over_time", "absent", "absent_over_time"):
        return True
    if name in ("clamp_min", "clamp") and isinstance(args[1], pp.NumberLiteral):
        return (ctx.number(args[1]) or 0) > 0
    if name == "vector" and isinstance(args[0], pp.NumberLiteral):
        return ctx.number(args[0]) != 0
    return False


def _guarded_binary(ctx: Context, node: Any) -> bool:
    op = str(node.op)
    constant = _constant(ctx, node)
    if constant is not None:
        return constant != 0
    if op == "or":
        return _guarded(ctx, node.rhs) and func_name(unwrap(node.rhs)) == "vector"
    if node.modifier is not None and node.modifier.return_bool:
        return False
    rhs = unwrap(node.rhs)
    if not isinstance(rhs, pp.NumberLiteral) or ctx.number(rhs) is None:
        return False
    limit = ctx.number(rhs) or 0.0
    checks: dict[str, Callable[[float], bool]] = {
        ">": lambda c: c >= 0,
        ">=": lambda c: c > 0,
        "!=": lambda c: c == 0,
    }
    return op in checks and checks[op](limit)


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


_ARITHMETIC: dict[str, Callable[[float, float], float]] = {
    "+": operator.add,
    "-": operator.sub,
    "*": operator.mul,
    "/": operator.truediv,
}


def _rule_multi_value_equality(ctx: Context) -> list[Finding]:
    found = []
    pattern = re.compile(r'([a-zA-Z_]\w*)\s*(!?=)(?!~)\s*"((?:[^"\\]|\\.)*)"')
    for match in pattern.finditer(ctx.expr):
        for ref in grafana.refs(match.group(3)):
            value = ctx.variables.get(ref.name)
            multi = value is not None and not isinstance(value, str) and len(value) > 1
            if not (multi or value in (grafana.ALL, "All") or _all_selected(value)):
                continue
            op = match.group(2) + "~"
            start, end = match.span(2)
            fix = ctx.expr[:start] + op + ctx.expr[end:]
            found.append(
                Finding(
                    "multi-value-equality",
                    "warning",
                    f"{match.group(0)}: {ref.text(match.group(3))} can hold several values "
                    f"(a regex like (a|b) or .*), which {match.group(2)} compares literally. "
                    f"Use {op}",
                    fix,
                )
            )
    return found


# -- vector matching ------------------------------------------------------------------------

#: Binary operators that pair series one to one (``or`` keeps both sides: never empty).
_MATCHING_OPS = {"+", "-", "*", "/", "%", "^", "atan2", "==", "!=", ">", "<", ">=", "<=",
                 "and", "unless"}  # fmt: skip
Labels = frozenset[str]


def _output_labels(node: Any) -> Labels | None:
    """The output labels of ``node`` as a set (``None`` for a scalar or when data decides)."""
    labels = output_labels(node)
    return frozenset(labels) if isinstance(labels, tuple) else None


def _explicit_matching(node: Any) -> bool:
    """Whether a binary expression says how to match: ``on(...)`` or ``ignoring(...)``."""
    return node.modifier is not None and node.modifier.matching is not None


def _rule_vector_matching(ctx: Context) -> list[Finding]:
    found = []
    for visit in ctx.visits:
        node = visit.node
        if not isinstance(node, pp.BinaryExpr) or str(node.op) not in _MATCHING_OPS:
            continue
        if _explicit_matching(node):
            continue  # the author chose the matching
        lhs, rhs = _output_labels(node.lhs), _output_labels(node.rhs)
        if not isinstance(lhs, frozenset) or not isinstance(rhs, frozenset) or lhs == rhs:
            continue
        found.append(_mismatch(ctx, visit, lhs, rhs))
    return found


def _mismatch(ctx: Context, visit: Visit, lhs: Labels, rhs: Labels) -> Finding:
    left, right = child(visit, "lhs"), child(visit, "rhs")
    op = str(visit.node.op)
    outcome = "nothing is removed" if op == "unless" else "the result is empty"
    message = (
        f"{ctx.text(visit)}: the left side's series have the labels ({_names(lhs)}) and the "
        f"right side's ({_names(rhs)}); {op} pairs series whose labels are all equal, so "
        f"nothing matches and {outcome}. "
    )
    if not (lhs < rhs or rhs < lhs):
        message += "Aggregate both sides by the same labels, or match with on(...) group_left"
        return Finding("vector-matching", "warning", message)
    matching = f"on({', '.join(sorted(lhs & rhs))})"
    if op not in ("and", "unless"):  # set operators match many-to-many without grouping
        matching += " group_left" if rhs < lhs else " group_right"
    message += (
        f"Match on the shared labels ({op} {matching}), or aggregate both sides by the same labels"
    )
    fix = ctx.fix({visit.path: f"{ctx.text(left)} {op} {matching} {ctx.text(right)}"})
    return Finding("vector-matching", "warning", message, fix)


def _names(labels: Labels) -> str:
    return ", ".join(sorted(labels)) or "none"


def _all_selected(value: Any) -> bool:
    return value is not None and not isinstance(value, str) and grafana.ALL in value


def _rule_undeclared(ctx: Context) -> list[Finding]:
    return [undeclared(name, text) for name, text in ctx.prep.undeclared.items()]


RULE_FUNCS: tuple[Callable[[Context], list[Finding]], ...] = (
    _rule_undeclared,
    _rule_rate_on_gauge,
    _rule_counter_raw,
    _rule_histogram_quantile,
    _rule_aggregation_before_rate,
    _rule_windows,
    _rule_unknown,
    _rule_multi_value_equality,
    _rule_division,
    _rule_vector_matching,
)
