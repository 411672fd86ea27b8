"""Rules about how series pair up: vector matching, multi-value variables, undeclared ``$vars``."""

from __future__ import annotations

import re
from typing import Any

import promql_parser as pp

from .. import _macros as grafana
from .._ast import Visit
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
