"""What Grafana sends for each query of a dashboard: time range, step and expanded text."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from .._time import parse_duration
from ..errors import ConfigError
from ..promql._macros import ALL, expand, grafana_interval

SCRAPE_INTERVAL = 30
_RELATIVE = re.compile(r"^now(?:-(\d+)([smhdwMy]))?(?:/([smhdwMy]))?$")
_BARE = re.compile(r"^(\d+)([smhdwMy])$")
_UNIT_SECONDS = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800}


@dataclass(frozen=True)
class Query:
    """One panel target as Grafana would run it at ``end``."""

    panel: str
    panel_id: int
    panel_type: str
    ref_id: str
    expr: str
    expanded: str
    legend: str
    instant: bool
    start: datetime
    end: datetime
    step: float
    range_seconds: float
    max_data_points: int
    variables: dict[str, Any]
    scrape_interval: float = SCRAPE_INTERVAL


def resolve(text: str, at: datetime, tz: str, *, end: bool = False) -> datetime:
    """A Grafana time (``now``, ``now-6h``, ``now/d``, ``now-1d/d``) at ``at`` in ``tz``.

    Rounding (``/d``) goes to the start of the unit, or to its end for the range's end.

    >>> from datetime import UTC
    >>> at = datetime(2026, 2, 14, 18, tzinfo=UTC)
    >>> resolve("now/d", at, "Europe/Berlin").isoformat()
    '2026-02-13T23:00:00+00:00'
    """
    match = _RELATIVE.match(text.strip())
    if match is None:
        raise ConfigError(f"dashboard times look like now, now-6h, now/d or now-7d/d; got {text!r}")
    amount, unit, round_to = match.groups()
    zone = ZoneInfo("UTC") if tz in ("", "utc", "browser") else ZoneInfo(tz)
    moment = at.astimezone(zone)
    if amount:
        moment = _shift(moment, int(amount), unit)
    if round_to:
        moment = _round(moment, round_to, end)
    return moment.astimezone(at.tzinfo)


def _shift(moment: datetime, amount: int, unit: str) -> datetime:
    if unit == "M":
        month = moment.month - 1 - amount
        return moment.replace(year=moment.year + month // 12, month=month % 12 + 1)
    if unit == "y":
        return moment.replace(year=moment.year - amount)
    return moment - timedelta(seconds=amount * _UNIT_SECONDS[unit])


def _round(moment: datetime, unit: str, end: bool) -> datetime:
    zone = moment.tzinfo
    if unit in "smh":
        seconds = _UNIT_SECONDS[unit]
        base = moment.replace(microsecond=0)
        floor = base - timedelta(seconds=(base.minute * 60 + base.second) % seconds)
        return floor + timedelta(seconds=seconds) if end else floor
    day = datetime(moment.year, moment.month, moment.day, tzinfo=zone)
    if unit == "w":
        day -= timedelta(days=day.weekday())
    elif unit == "M":
        day = day.replace(day=1)
    elif unit == "y":
        day = day.replace(month=1, day=1)
    if end:
        return (
            _shift(day, -1, unit)
            if unit in "My"
            else day + timedelta(seconds=_UNIT_SECONDS["d" if unit == "d" else "w"])
        )
    return day


def panel_range(
    data: dict[str, Any], panel: dict[str, Any], at: datetime
) -> tuple[datetime, datetime]:
    """The time range a panel shows: its ``timeFrom`` override, else the dashboard's."""
    tz = str(data.get("timezone") or "browser")
    time = data.get("time") or {"from": "now-6h", "to": "now"}
    start_text, end_text = str(time["from"]), str(time["to"])
    override = panel.get("timeFrom")
    if override:
        bare = _BARE.match(str(override))
        start_text = f"now-{override}" if bare else str(override)
        end_text = "now"
    start = resolve(start_text, at, tz)
    end = min(resolve(end_text, at, tz, end=True), at)
    return start, end


def variable_values(data: dict[str, Any]) -> dict[str, Any]:
    """Each declared variable's default value as queries receive it (All -> its allValue)."""
    values: dict[str, Any] = {}
    for var in (data.get("templating") or {}).get("list", []):
        current = (var.get("current") or {}).get("value")
        chosen = [current] if isinstance(current, str) else list(current or [])
        if not chosen or ALL in chosen:
            values[var["name"]] = var.get("allValue") or ".*"
        else:
            values[var["name"]] = chosen if len(chosen) > 1 else chosen[0]
    return values


def plan(
    data: dict[str, Any], at: datetime, scrape_interval: float = SCRAPE_INTERVAL
) -> list[Query]:
    """Every target of the dashboard as Grafana would send it at ``at``.

    ``scrape_interval`` is the data source's (Grafana's ``timeInterval``): the lowest
    step and the base of ``$__rate_interval``.
    """
    variables = variable_values(data)
    out = []
    for panel in data.get("panels", []):
        start, end = panel_range(data, panel, at)
        span = max((end - start).total_seconds(), 1.0)
        points = int(panel.get("maxDataPoints") or 1000)
        low = parse_duration(panel.get("interval") or scrape_interval, "interval")
        step = grafana_interval(span, points, max(low, scrape_interval))
        for target in panel.get("targets") or []:
            expr = str(target.get("expr") or "")
            expanded = expand(
                expr, interval=step, scrape_interval=scrape_interval,
                range_seconds=span, max_data_points=points, variables=variables, end=end,
            )  # fmt: skip
            out.append(
                Query(
                    str(panel.get("title")),
                    int(panel.get("id") or 0),
                    str(panel.get("type")),
                    str(target.get("refId")),
                    expr,
                    expanded,
                    str(target.get("legendFormat") or ""),
                    bool(target.get("instant")),
                    start,
                    end,
                    step,
                    span,
                    points,
                    variables,
                    scrape_interval,
                )
            )
    return out
