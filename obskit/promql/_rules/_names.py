"""Rules about names: unknown metrics, labels and label values, claimed only where known.

Offline, the catalog is complete only for the namespaces it owns (``voicebot_``): a name
elsewhere (``node_``, ``kube_``, a recording rule) is not unknown just because it is not
listed. With the server's series (``labels=``), absence there is absence.
"""

from __future__ import annotations

import difflib
import re
from collections.abc import Mapping
from typing import Any

import promql_parser as pp

from .. import _macros as grafana
from .._ast import Visit, func_name, match_op, unwrap, walk
from .._infer import KEEP_LABELS, name_of, output_labels
from .._lintctx import TARGET_LABELS, Context, Finding, namespace, selectors

#: Series every Prometheus has, or writes itself: never unknown.
_BUILTIN = re.compile(r"^(up|scrape_\w*|ALERTS\w*)$")


def edit_distance(a: str, b: str) -> int:
    """Levenshtein distance between two strings.

    >>> edit_distance("voicebot_active_cals", "voicebot_active_calls")
    1
    """
    previous = list(range(len(b) + 1))
    for i, ca in enumerate(a, 1):
        current = [i]
        for j, cb in enumerate(b, 1):
            current.append(min(previous[j] + 1, current[j - 1] + 1, previous[j - 1] + (ca != cb)))
        previous = current
    return previous[-1]


def close_names(name: str, known: set[str]) -> list[str]:
    """Known names within a small edit distance of ``name`` in its own namespace, closest first."""
    limit = 2 if len(name) < 24 else 3
    space = namespace(name)
    scored = sorted(
        (edit_distance(name, other), other)
        for other in known
        if other != name and other.startswith(space) and abs(len(other) - len(name)) <= limit
    )
    return [other for distance, other in scored if distance <= limit]


def _unknown(ctx: Context, name: str, known: set[str]) -> bool:
    if name in known or name.startswith(grafana.PLACEHOLDER_PREFIX) or ":" in name:
        return False  # recording rules (level:metric:ops) are defined elsewhere
    if _BUILTIN.match(name):
        return False
    return ctx.live or ctx.owned(name)


def unknown_metric(ctx: Context) -> list[Finding]:
    found = []
    known = ctx.known_names()
    for visit in ctx.visits:
        name = name_of(visit.node) if isinstance(visit.node, pp.VectorSelector) else None
        if not name or not _unknown(ctx, name, known):
            continue
        close = close_names(name, known)
        hint = f"did you mean {', '.join(close[:3])}?" if close else "check the spelling"
        fix = None
        if len(close) == 1:
            fix = ctx.fix({visit.path: ctx.text(visit).replace(name, close[0], 1)})
        where = (
            "the server has no series or metadata for it"
            if ctx.live
            else f"it is in the {namespace(name)} namespace the catalog owns, but not listed"
        )
        found.append(Finding("unknown-metric", "warning",
            f"{name} is not a known metric: {where}; {hint} "
            "(obskit.catalog.search() lists known metrics)", fix))  # fmt: skip
    return found


def _claimable(ctx: Context, name: str, label: str) -> bool:
    """Whether a label missing from ``name``'s label set may be reported."""
    if ctx.labels_live(name):
        return True
    return label not in TARGET_LABELS and label not in ctx.deployment_labels


def _known_selectors(ctx: Context) -> list[tuple[Visit, str]]:
    known = ctx.known_names()
    found = []
    for visit in ctx.visits:
        name = name_of(visit.node) if isinstance(visit.node, pp.VectorSelector) else None
        if name and name in known:
            found.append((visit, name))
    return found


def unknown_label(ctx: Context) -> list[Finding]:
    found = []
    for visit, name in _known_selectors(ctx):
        allowed = ctx.label_names(name)
        for matcher in visit.node.matchers.matchers:
            label = str(matcher.name)
            if allowed is not None and label not in allowed and _claimable(ctx, name, label):
                found.append(_unknown_label(ctx, visit, name, label, allowed))
    for visit in ctx.visits:
        if isinstance(visit.node, pp.AggregateExpr) and visit.node.modifier is not None:
            found += _removed_inside(ctx, visit) or _check_grouping(ctx, visit)
    return found


def _removed_inside(ctx: Context, visit: Visit) -> list[Finding]:
    """``sum by (cluster) (sum by (instance) (x))``: a label an inner aggregation removed."""
    node = visit.node
    if not str(node.modifier.type).endswith("By") or str(node.op) in KEEP_LABELS:
        return []
    inner = _labels(node.expr)
    if inner is None:
        return []
    missing = [label for label in node.modifier.labels if label not in inner]
    missing = [label for label in missing if not label.startswith(grafana.PLACEHOLDER_PREFIX)]
    if not missing:
        return []
    return [Finding("unknown-label", "warning",
        f"{ctx.text(visit)}: the expression it aggregates only has the labels "
        f"({', '.join(sorted(inner)) or 'none'}), an inner aggregation or join dropped "
        f"{', '.join(missing)}, so grouping by it does nothing. Keep {missing[0]} in the inner "
        "by (...) or leave it out here")]  # fmt: skip


def _labels(node: Any) -> set[str] | None:
    """Output labels of ``node``, also through ``* on(...) group_left(extra)`` joins."""
    node = unwrap(node)
    if isinstance(node, pp.BinaryExpr) and node.modifier is not None:
        card = str(node.modifier.card)
        many = node.lhs if card.endswith("ManyToOne") else node.rhs
        if card.endswith(("ManyToOne", "OneToMany")):
            known = _labels(many)
            extra = {str(label) for label in node.modifier.group_labels or ()}
            return None if known is None else known | extra
    labels = output_labels(node)
    return set(labels) if isinstance(labels, tuple) else None


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


def unknown_label_value(ctx: Context) -> list[Finding]:
    found = []
    for visit, name in _known_selectors(ctx):
        allowed = ctx.label_names(name)
        for matcher in visit.node.matchers.matchers:
            if allowed is not None and str(matcher.name) not in allowed:
                continue
            if match_op(matcher) in ("=", "=~") and matcher.value:
                found += _check_value(ctx, name, matcher)
    return found


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
    names = []
    for sel in selectors(ctx, visit):
        name = name_of(sel.node)
        labels = ctx.label_names(name) if name else None
        if labels is None or name is None:
            return []
        available |= labels
        names.append(name)
    missing = [
        label
        for label in modifier.labels
        if label not in available
        and not label.startswith(grafana.PLACEHOLDER_PREFIX)
        and all(_claimable(ctx, name, label) for name in names)
    ]
    if not missing or not available:
        return []
    return [Finding("unknown-label", "warning",
        f"{ctx.text(visit)}: no series under it has the label {', '.join(missing)}, so "
        f"the grouping does nothing for it (available: "
        f"{', '.join(sorted(available - {'__name__'}))})")]  # fmt: skip
