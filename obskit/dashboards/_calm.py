"""Calm panels: the min interval a quantile panel needs, and what a guarded query's description says.

A quantile of a handful of observations, or a ratio of one failure in two requests, is noise
that reads as an incident. Two tools keep panels calm (see ``obskit.promql``'s
``MIN_OBSERVATIONS`` / ``MIN_VOLUME`` guards, ``quantile(min_count=)`` and the ratio
builders' ``min_volume=``):

* the **guard** leaves a point out where its window holds fewer than the minimum number of
  observations or events (the demo's nights: 1-20 calls an hour);
* the **panel min interval** (Grafana's ``interval``) widens a quantile panel's
  ``$__rate_interval`` so that its windows hold enough observations over the day the panel
  is meant for, so the guard rarely bites there. :func:`quantile_interval` is the rule.

The rule, measured on the demo: aim for ``MARGIN`` (1.5) times the minimum at the average
rate of the quietest hour, because the rate moves within an hour (at the demo's morning ramp
and evening decline a window of the quietest hour holds 0.6-0.75x the hour's average). The
demo's quietest hour of its service day (08:00-20:00 Europe/Berlin) is Sunday 19:00-20:00:
195 calls, and per series 371 STT (google), 440 LLM (claude-3-5-haiku), 325 TTS (azure)
and 473 DB (update) observations, which gives 10m for call duration and TTS, 5m for STT,
LLM and DB latency; every window of the service day then holds at least 23 observations
per series (checked in tests/test_calm_panels.py).
"""

from __future__ import annotations

import math

from .._time import format_duration
from ..config import SCRAPE_INTERVAL
from ..errors import ConfigError
from ..promql._builders import MIN_OBSERVATIONS, volume_guard
from ..promql._macros import rate_interval

__all__ = [
    "DEFAULT_QUANTILE_INTERVAL",
    "MARGIN",
    "calm_description",
    "quantile_interval",
]

#: Panel min intervals tried, shortest first (seconds); the last is the longest one offered.
LADDER = (60, 120, 300, 600, 900, 1800, 3600)
#: Aim for this many times the minimum at the quietest hour's average rate.
MARGIN = 1.5
#: The interval for a quantile panel whose traffic is not known: 330 s windows, enough from
#: 327 observations an hour per series.
DEFAULT_QUANTILE_INTERVAL = "5m"


def quantile_interval(
    expr: object,
    per_hour: float | None = None,
    *,
    min_observations: int = MIN_OBSERVATIONS,
    margin: float = MARGIN,
    scrape_interval: float = SCRAPE_INTERVAL,
) -> str | None:
    """The panel min interval a quantile query needs; ``None`` for a query without quantiles.

    The shortest interval of :data:`LADDER` whose ``$__rate_interval`` (interval + scrape
    interval) holds ``margin * min_observations`` observations at ``per_hour``, the
    observations per hour of the query's quietest series in the quietest hour the panel
    should show; the longest (1h) when none does (then the query's guard hides the rest).
    Without ``per_hour``: :data:`DEFAULT_QUANTILE_INTERVAL`.

    Parameters
    ----------
    expr : str or obskit.promql.Expr
        The panel query (text or a parsed query value).
    per_hour : float, optional
        Observations per hour per series at the quietest hour that matters.

    >>> quantile_interval('histogram_quantile(0.5, sum by (le) (rate(x_bucket[5m])))', 195)
    '10m'
    >>> quantile_interval("histogram_quantile(0.95, sum by (le) (rate(x_bucket[5m])))", 371)
    '5m'
    >>> quantile_interval("sum(rate(x_total[5m]))", 10) is None
    True
    """
    text = str(getattr(expr, "text", expr))
    if "histogram_quantile" not in text:
        return None
    if per_hour is None:
        return DEFAULT_QUANTILE_INTERVAL
    if not per_hour > 0 or math.isinf(per_hour) or min_observations < 1 or margin <= 0:
        raise ConfigError(
            "quantile_interval needs a positive per_hour, like 195 observations an hour, and a "
            f"positive min_observations and margin; got {per_hour!r}, {min_observations!r}, "
            f"{margin!r}"
        )
    wanted = margin * min_observations
    for seconds in LADDER:
        if per_hour / 3600 * rate_interval(seconds, scrape_interval) >= wanted:
            return format_duration(seconds)
    return format_duration(LADDER[-1])


def calm_description(description: str, expr: object, interval: str | None = None) -> str:
    """``description`` plus a sentence on the query's guard and, for a quantile query with a
    min ``interval``, one on that interval (unchanged without them, or when it already says so).

    >>> calm_description("Share of failed requests.",
    ...     "a / (b > 0) and on() (sum(increase(b_total[$__rate_interval])) >= 20)")
    'Share of failed requests. No value where the window holds fewer than 20 counted events.'
    >>> calm_description("Latency.", "histogram_quantile(0.5, sum by (le) (rate(x_bucket[5m])))",
    ...     "10m")
    'Latency. Each point pools at least 10m of observations (the min interval).'
    """
    text = str(getattr(expr, "text", expr))
    quantile = "histogram_quantile" in text
    if interval and quantile and "(the min interval)" not in description:
        description = (
            f"{description} Each point pools at least {interval} of observations "
            "(the min interval)."
        )
    least = volume_guard(text)
    if least is None or f"fewer than {least}" in description:
        return description
    what = "observations" if quantile else "counted events"
    return f"{description} No value where the window holds fewer than {least} {what}."
