"""Rules about histogram_quantile(): φ in range, ``le`` kept, buckets as input."""

from __future__ import annotations

from collections.abc import Iterator

import promql_parser as pp

from .._ast import Visit, children, func_name, unwrap
from .._infer import KEEP_LABELS, name_of
from .._lintctx import Context, Finding, child, selectors, under
from ._types import article


def _quantile_calls(ctx: Context) -> Iterator[Visit]:
    for visit in ctx.visits:
        if func_name(visit.node) == "histogram_quantile" and len(visit.node.args) == 2:
            yield visit


def quantile_out_of_range(ctx: Context) -> list[Finding]:
    found = []
    for visit in _quantile_calls(ctx):
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
    return found


def histogram_quantile_le(ctx: Context) -> list[Finding]:
    found = []
    for visit in _quantile_calls(ctx):
        for agg in under(ctx, child(visit, "arg1"), pp.AggregateExpr):
            finding = _drops_le(ctx, agg)
            found += [finding] if finding else []
    return found


def histogram_quantile_input(ctx: Context) -> list[Finding]:
    found = []
    for visit in _quantile_calls(ctx):
        for sel in selectors(ctx, child(visit, "arg1")):
            finding = _not_bucket(ctx, sel)
            found += [finding] if finding else []
    return found


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
    what = (
        f"the histogram's {suffix} series"
        if suffix in ("_sum", "_count")
        else article(typ or "unknown")
    )
    return Finding(
        "histogram-quantile-input",
        "error",
        f"histogram_quantile() over {name}: it needs the _bucket series of a histogram "
        f"(with their le label), but {name} is {what}",
        fix,
    )
