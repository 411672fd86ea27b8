"""Rules about how series pair up: vector matching, multi-value variables, undeclared ``$vars``."""

from __future__ import annotations

import re
from typing import Any

import promql_parser as pp

from .. import _macros as grafana
from .._ast import Visit, func_name, match_op, unwrap
from .._infer import output_labels
from .._lintctx import Context, Finding, child, undeclared

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


def vector_matching(ctx: Context) -> list[Finding]:
    found = []
    for visit in ctx.visits:
        node = visit.node
        if not isinstance(node, pp.BinaryExpr) or str(node.op) not in _MATCHING_OPS:
            continue
        lhs, rhs = _output_labels(node.lhs), _output_labels(node.rhs)
        never = _never_matches(ctx, visit, lhs, rhs)
        if never is not None:
            found.append(never)
        elif _explicit_matching(node):
            continue  # the author chose the matching
        elif isinstance(lhs, frozenset) and isinstance(rhs, frozenset) and lhs != rhs:
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


def _never_matches(
    ctx: Context, visit: Visit, lhs: Labels | None, rhs: Labels | None
) -> Finding | None:
    """A finding when the two sides can never pair, whatever the data: a label one side
    cannot carry (an aggregation removed it) but matching needs, or two sides that select
    different values of a label matching compares."""
    node = visit.node
    on, labels = _matching_labels(node)
    sides = (("left", lhs, rhs, node.rhs), ("right", rhs, lhs, node.lhs))
    for side, known, other_known, other in sides:
        if known is None:
            continue
        if on:
            needed = labels - known  # on(x): x must be on both sides
        elif other_known is not None:
            continue  # both sides known: _mismatch explains it
        else:
            needed = {label for label in _required(other) if label not in labels} - known
        if needed:
            why = "on(...) asks for" if on else "the other side's series always have"
            what = f"the {side} side {_short(ctx, visit, side)} has no {_names(needed)} label"
            return _never(
                ctx,
                visit,
                f"{what} (its labels: {_names(known)}), which {why}",
                "match on labels both sides have (on(...)), or keep the label in the aggregation",
            )
    left, right = _equalities(node.lhs), _equalities(node.rhs)
    for label in sorted(set(left) & set(right)):
        compared = label in labels if on else label not in labels
        if compared and left[label] != right[label]:
            values = f'{label}="{left[label]}" and the right side {label}="{right[label]}"'
            return _never(
                ctx,
                visit,
                f"the left side selects {values}, and matching compares {label}",
                f"leave {label} out of the matching (ignoring({label})) or select one value",
            )
    return None


def _short(ctx: Context, visit: Visit, side: str) -> str:
    return ctx.text(child(visit, "lhs" if side == "left" else "rhs"))


def _never(ctx: Context, visit: Visit, why: str, advice: str) -> Finding:
    op = str(visit.node.op)
    outcome = "nothing is removed" if op == "unless" else "the result is always empty"
    return Finding(
        "vector-matching",
        "warning",
        f"{ctx.text(visit)}: {why}, so no pair of series ever matches and {outcome}. "
        f"{advice[0].upper()}{advice[1:]}",
    )


def _matching_labels(node: Any) -> tuple[bool, set[str]]:
    """``(True, on-labels)`` for on(...), ``(False, ignored labels)`` otherwise."""
    matching = node.modifier.matching if node.modifier is not None else None
    if matching is None:
        return False, set()
    return str(matching.type).endswith("Include"), {str(label) for label in matching.labels}


#: Functions whose output series keep their input's labels.
_KEEPS_LABELS = {"rate", "irate", "increase", "delta", "idelta", "deriv", "abs", "ceil", "floor",
                 "round", "clamp", "clamp_min", "clamp_max", "exp", "ln", "log2", "log10", "sqrt",
                 "avg_over_time", "min_over_time", "max_over_time", "sum_over_time",
                 "last_over_time", "quantile_over_time", "predict_linear", "resets", "changes"}  # fmt: skip


def _selector(node: Any) -> Any:
    """The vector selector whose labels ``node``'s series carry unchanged, else ``None``."""
    node = unwrap(node)
    if isinstance(node, pp.MatrixSelector):
        return node.vector_selector
    if isinstance(node, pp.VectorSelector):
        return node
    if isinstance(node, pp.Call) and func_name(node) in _KEEPS_LABELS:
        vectors = [a for a in node.args if not isinstance(unwrap(a), pp.NumberLiteral)]
        return _selector(vectors[0]) if len(vectors) == 1 else None
    return None


def _equalities(node: Any) -> dict[str, str]:
    """Labels ``node``'s series always carry with one fixed value (``job="a"``)."""
    sel = _selector(node)
    if sel is None:
        return {}
    return {
        str(m.name): str(m.value)
        for m in sel.matchers.matchers
        if match_op(m) == "=" and m.value and m.name != "__name__"
        and grafana.PLACEHOLDER_PREFIX not in str(m.value)
    }  # fmt: skip


def _required(node: Any) -> set[str]:
    """Labels ``node``'s series always carry (an ``=`` matcher with a non-empty value)."""
    sel = _selector(node)
    if sel is None:
        return set()
    return {
        str(m.name)
        for m in sel.matchers.matchers
        if match_op(m) == "=" and m.value and m.name != "__name__"
    }


def _names(labels: Labels | set[str]) -> str:
    return ", ".join(sorted(labels)) or "none"


def multi_value_equality(ctx: Context) -> list[Finding]:
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


def _all_selected(value: Any) -> bool:
    return value is not None and not isinstance(value, str) and grafana.ALL in value


def undeclared_variable(ctx: Context) -> list[Finding]:
    return [undeclared(name, text) for name, text in ctx.prep.undeclared.items()]
