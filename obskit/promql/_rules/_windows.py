"""Rules about range windows: too short for the scrape interval, fixed in a dashboard.

A window of ``k`` scrape intervals holds about ``k`` samples; one late or missed scrape
takes one away. rate() and its kind need 2, so a window under 3 intervals shows gaps, and
the advice is 4 (what Grafana's ``$__rate_interval`` gives). irate() reads only the last
two samples, so its window is a lookback, not a smoothing choice: a fixed one is fine.
"""

from __future__ import annotations

from collections.abc import Iterator

import promql_parser as pp

from ..._time import format_duration
from .._ast import Visit, func_name
from .._lintctx import MIN_SAMPLES, Context, Finding


def _windows(ctx: Context) -> Iterator[tuple[Visit, str, float | None, str | None, int]]:
    """``(visit, function, seconds, macro text, minimum samples)`` of each function's window."""
    for visit in ctx.visits:
        func = func_name(visit.parent)
        if not isinstance(visit.node, pp.MatrixSelector) or func is None:
            continue
        seconds, origin = ctx.window(visit.node)
        samples = MIN_SAMPLES.get(func, 1 if func.endswith("_over_time") else 0)
        yield visit, func, seconds, origin, samples


def _too_short(ctx: Context, seconds: float | None, samples: int) -> bool:
    """Whether a window of ``seconds`` risks gaps for a function that wants ``samples``."""
    floor = samples - 1 if samples >= 4 else samples  # 4 advised, under 3 gaps
    return seconds is not None and seconds < floor * ctx.scrape


def range_too_short(ctx: Context) -> list[Finding]:
    found = []
    for visit, func, seconds, _, samples in _windows(ctx):
        minimum = samples * ctx.scrape
        if seconds is None or not _too_short(ctx, seconds, samples):
            continue
        use_macro = ctx.dashboard and func in ("rate", "irate", "increase")
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
    return found


def hardcoded_window(ctx: Context) -> list[Finding]:
    found = []
    for visit, func, seconds, origin, samples in _windows(ctx):
        if _too_short(ctx, seconds, samples) or not ctx.dashboard:
            continue
        if func != "rate" or origin is not None:  # increase(x[1h]) is a chosen period
            continue
        call = Visit(visit.parent, visit.path[:-1], visit.parents[:-1])
        fix = ctx.fix({visit.path: ctx.printer.matrix(visit.node, visit.path, "$__rate_interval")})
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
