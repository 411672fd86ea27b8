"""Regex hygiene in label matchers: a literal in ``=~``, ``.*`` that filters nothing, anchors.

Prometheus anchors every label regex (``=~"a"`` is ``^(?:a)$``) and ``.*`` also matches an
absent label. Values holding a Grafana ``$variable`` are left alone: a multi-value
variable needs ``=~`` whatever its current value looks like.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

import promql_parser as pp

from .. import _macros as grafana
from .._ast import Visit, match_op
from .._lintctx import Context, Finding

_META = re.compile(r"[.^$*+?()\[\]{}|\\]")


def _regex_matchers(ctx: Context) -> Iterator[tuple[Visit, Any, str, str]]:
    """``(selector visit, matcher, op, value)`` of every ``=~``/``!~`` without variables."""
    for visit in ctx.visits:
        if not isinstance(visit.node, pp.VectorSelector):
            continue
        for matcher in visit.node.matchers.matchers:
            op, value = match_op(matcher), str(matcher.value)
            if op in ("=~", "!~") and matcher.name != "__name__" and not grafana.refs(value):
                yield visit, matcher, op, value


def _quoted(value: str) -> str:
    return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'


def _rewrite(ctx: Context, visit: Visit, matcher: Any, new: str | None) -> str | None:
    """The query with one matcher replaced by ``new`` (``None``: removed), if it prints back."""
    text = ctx.text(visit)
    old = f"{matcher.name}{match_op(matcher)}{_quoted(str(matcher.value))}"
    if old not in text:
        return None
    if new is None:
        gone = next(part for part in (f",{old}", f"{old},", old) if part in text)
        text = text.replace(gone, "", 1).replace("{}", "")
    else:
        text = text.replace(old, new, 1)
    return ctx.fix({visit.path: text})


def regex_literal(ctx: Context) -> list[Finding]:
    found = []
    for visit, matcher, op, value in _regex_matchers(ctx):
        if not value or _META.search(value):
            continue
        plain = "=" if op == "=~" else "!="
        new = f"{matcher.name}{plain}{_quoted(value)}"
        found.append(
            Finding(
                "regex-literal",
                "warning",
                f"{ctx.text(visit)}: {matcher.name}{op}{_quoted(value)} has no regex syntax, so it "
                f"is an exact match written as a regex (slower, and easy to break with a dot "
                f"later). Use {new}",
                _rewrite(ctx, visit, matcher, new),
            )
        )
    return found


def regex_match_all(ctx: Context) -> list[Finding]:
    found = []
    for visit, matcher, op, value in _regex_matchers(ctx):
        if value != ".*":
            continue
        if op == "=~":
            others = [m for m in visit.node.matchers.matchers if m is not matcher]
            if not visit.node.name and not others:
                continue  # {x=~".*"} alone is refused by Prometheus anyway
            message = (
                f'{matcher.name}=~".*" matches every series, with or without {matcher.name}, so '
                "it filters nothing. Remove it"
            )
            fix = _rewrite(ctx, visit, matcher, None)
        else:
            message = (
                f'{matcher.name}!~".*" keeps only series without {matcher.name}; say so '
                f'directly: {matcher.name}=""'
            )
            fix = _rewrite(ctx, visit, matcher, f'{matcher.name}=""')
        found.append(Finding("regex-match-all", "warning", f"{ctx.text(visit)}: {message}", fix))
    return found


def regex_anchors(ctx: Context) -> list[Finding]:
    found = []
    for visit, matcher, op, value in _regex_matchers(ctx):
        start = value.startswith("^")
        end = value.endswith("$") and not value.endswith("\\$")
        if not (start or end):
            continue
        bare = value[1 if start else 0 : len(value) - 1 if end else len(value)]
        new = f"{matcher.name}{op}{_quoted(bare)}"
        found.append(
            Finding(
                "regex-anchors",
                "warning",
                f"{ctx.text(visit)}: Prometheus anchors label regexes at both ends already, so "
                f"the ^ and $ in {matcher.name}{op}{_quoted(value)} are redundant. Use {new}",
                _rewrite(ctx, visit, matcher, new) if bare else None,
            )
        )
    return found
