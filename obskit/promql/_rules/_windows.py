"""Rules about range windows: too short for the scrape interval, fixed in a dashboard.

A window of ``k`` scrape intervals holds about ``k`` samples. rate() and its kind need 2, so
a window under 2 intervals is too short (pint's ``promql/rate`` threshold); ``*_over_time``
needs 1. The advice is 4 intervals (what Grafana's ``$__rate_interval`` gives), which also
rides out a late or missed scrape. irate() reads only the last two samples, so its window is
a lookback, not a smoothing choice: a fixed one is fine.
"""

from __future__ import annotations

from collections.abc import Iterator

import promql_parser as pp

from ..._time import format_duration
from .._ast import Visit, func_name
from .._lintctx import MIN_SAMPLES, Context, Finding


def _windows(ctx: Context) -> Iterator[tuple[Visit, str, float | None, str | None, int]]:
    """``(visit, function, seconds, macro text, advised intervals)`` of each function's window.

    The advised number of scrape intervals is ``MIN_SAMPLES`` (4 for rate() and its kind, 2
    for irate()/idelta(), 1 for ``*_over_time``, 0 for functions without a window rule).
    """
    for visit in ctx.visits:
        func = func_name(visit.parent)
        if not isinstance(visit.node, pp.MatrixSelector) or func is None:
            continue
        seconds, origin = ctx.window(visit.node)
        samples = MIN_SAMPLES.get(func, 1 if func.endswith("_over_time") else 0)
        yield visit, func, seconds, origin, samples


#: The fewest scrape intervals a window may span: two samples, as pint's ``promql/rate``.
MIN_INTERVALS = 2


def _floor(samples: int) -> int:
    """Scrape intervals under which a window is too short, for a function advised ``samples``."""
    return min(samples, MIN_INTERVALS)


def _too_short(ctx: Context, seconds: float | None, samples: int) -> bool:
    """Whether a window of ``seconds`` has gaps for a function advised ``samples`` intervals."""
    return seconds is not None and seconds < _floor(samples) * ctx.scrape


def range_too_short(ctx: Context) -> list[Finding]:
    found = []
    for visit, func, seconds, _, samples in _windows(ctx):
        if seconds is None or not _too_short(ctx, seconds, samples):
            continue
        floor, scrape = _floor(samples), format_duration(ctx.scrape)
        advised = format_duration(samples * ctx.scrape)
        use_macro = ctx.dashboard and func in ("rate", "irate", "increase")
        window = "$__rate_interval" if use_macro else advised
        fix = ctx.fix({visit.path: ctx.printer.matrix(visit.node, visit.path, window)})
        holds = (
            f"no sample and {func}() returns"
            if floor == 1
            else f"fewer than the {floor} samples {func}() needs and return"
        )
        use = ["$__rate_interval"] if use_macro else []
        if samples > floor:
            use.append(
                f"at least {format_duration(floor * ctx.scrape)} ({advised}, "
                f"{samples} scrape intervals, also rides out a missed scrape)"
            )
        else:
            use.append(f"at least {advised}")
        found.append(
            Finding(
                "range-too-short",
                "warning",
                f"{ctx.text(visit)}: the {format_duration(seconds)} window is shorter than "
                + (
                    f"{floor} scrape intervals ({floor} × {scrape})"
                    if floor > 1
                    else f"1 scrape interval ({scrape})"
                )
                + f", so it can hold {holds} gaps. Use "
                + " or ".join(use),
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
