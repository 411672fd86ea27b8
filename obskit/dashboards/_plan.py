"""What Grafana sends for each query of a dashboard: time range, step and expanded text.

Every panel counts (rows, collapsed rows, the legacy ``rows[]``), with its ``interval``
(min interval), ``maxDataPoints``, ``timeFrom``/``timeShift`` and ``repeat``; targets on
other data sources and library panels are returned as :class:`Skipped`.
"""

from __future__ import annotations

import math
import re
import string
from collections.abc import Mapping
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from .._time import parse_duration
from ..config import SCRAPE_INTERVAL
from ..errors import ConfigError
from ..promql._expr import Expr, PanelContext
from ..promql._macros import expand, grafana_interval
from . import _variables
from ._model import PROMQL_TYPES, datasource_of, iter_panels, target_type

_RELATIVE = re.compile(r"^now(?:-(\d+)([smhdwMy]))?(?:/([smhdwMy]))?$")
_BARE = re.compile(r"^(\d+)([smhdwMy])$")
_UNIT_SECONDS = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800}
_SPAN_AT = datetime(2000, 1, 1, tzinfo=ZoneInfo("UTC"))  # any instant: only the length counts


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
    datasource: str = "prometheus"
    hidden: bool = False
    repeat: str = ""  # the variable a repeated panel repeats over (planned for its first value)
    query: Expr | None = None  # the target read in its panel's context: parsed once, when linted


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
    shift = _time_shift(panel.get("timeShift"))
    return start - shift, end - shift


def _time_shift(text: Any) -> timedelta:
    """A panel's ``timeShift`` (``1h``, ``1d``, ``now-1d``): the range moves back by it."""
    if not text:
        return timedelta(0)
    bare = _BARE.match(str(text).strip().removeprefix("now-"))
    if bare is None:
        raise ConfigError(f"a panel timeShift looks like 1h or 7d; got {text!r}")
    amount, unit = int(bare.group(1)), bare.group(2)
    if unit in "My":
        return timedelta(days=amount * (30 if unit == "M" else 365))
    return timedelta(seconds=amount * _UNIT_SECONDS[unit])


def variable_values(data: dict[str, Any]) -> dict[str, Any]:
    """Each declared variable's default value as queries receive it (All -> its allValue)."""
    return _variables.variable_values(data, _dashboard_span(data))


def _dashboard_span(data: dict[str, Any]) -> float:
    try:
        start, end = panel_range(data, {}, _SPAN_AT)
    except ConfigError:
        return 21600.0
    return max((end - start).total_seconds(), 1.0)


@dataclass(frozen=True)
class Skipped:
    """A target obskit does not run: another data source, a library panel, an empty query."""

    panel: str
    panel_id: int
    ref_id: str
    datasource: str
    reason: str


@dataclass(frozen=True)
class Plan:
    """A dashboard's Prometheus queries as Grafana would send them, and what was skipped."""

    queries: list[Query]
    skipped: list[Skipped]


def plan(
    data: dict[str, Any], at: datetime, scrape_interval: float = SCRAPE_INTERVAL
) -> list[Query]:
    """Every Prometheus target of the dashboard as Grafana would send it at ``at``.

    ``scrape_interval`` is the data source's (Grafana's ``timeInterval``): the lowest
    step and the base of ``$__rate_interval``.
    """
    return plan_board(data, at, scrape_interval).queries


def plan_board(
    data: dict[str, Any],
    at: datetime,
    scrape_interval: float = SCRAPE_INTERVAL,
    overrides: Mapping[str, Any] | None = None,
) -> Plan:
    """Every target of every panel (rows, collapsed rows, legacy ``rows[]``): the Prometheus
    ones planned, the others skipped with the reason (which data source, library panel).

    ``overrides`` replace variables' defaults (a list for several values), as picking
    them in Grafana's variable drop-downs would.
    """
    variables = {**variable_values(data), **dict(overrides or {})}
    texts = _variables.variable_texts(data)
    out = Plan([], [])
    for ref in iter_panels(data, rows=False):
        panel = ref.panel
        title, pid = str(panel.get("title")), int(panel.get("id") or 0)
        library = panel.get("libraryPanel")
        if isinstance(library, dict) and not panel.get("targets"):
            name = library.get("name") or library.get("uid")
            reason = f"library panel {name!r}: its queries are kept in Grafana, not in this file"
            out.skipped.append(Skipped(title, pid, "", "library", reason))
            continue
        targets = [t for t in panel.get("targets") or [] if isinstance(t, dict)]
        try:
            settings = _panel_settings(data, panel, at, scrape_interval, variables)
        except ConfigError as exc:
            for target in targets:
                reason = f"its time settings cannot be read: {exc}"
                out.skipped.append(Skipped(title, pid, str(target.get("refId")), "?", reason))
            continue
        for index, target in enumerate(targets):
            if not target.get("refId"):  # Grafana names them A, B, ... when it loads them
                target = {**target, "refId": letters(index)}
            _plan_target(data, panel, target, settings, texts, out)
    return out


def letters(index: int) -> str:
    """The refId Grafana gives the ``index``-th target that has none: A, B, ..., Z, AA, ..."""
    letters = string.ascii_uppercase
    return (
        letters[index] if index < len(letters) else letters[index // 26 - 1] + letters[index % 26]
    )


@dataclass(frozen=True)
class _Settings:
    start: datetime
    end: datetime
    span: float
    points: int
    step: float
    scrape_interval: float
    variables: dict[str, Any]
    min_interval: float | None = None

    def context(self) -> PanelContext:
        """The panel as :class:`obskit.promql.Expr` reads a query in it."""
        return PanelContext(
            range_seconds=self.span, max_data_points=self.points,
            scrape_interval=self.scrape_interval, interval=self.min_interval,
            variables=self.variables, end=self.end, dashboard=True,
        )  # fmt: skip


def _panel_settings(
    data: dict[str, Any], panel: dict[str, Any], at: datetime, scrape: float,
    variables: dict[str, Any],
) -> _Settings:  # fmt: skip
    start, end = panel_range(data, panel, at)
    span = max((end - start).total_seconds(), 1.0)
    points = panel.get("maxDataPoints")
    points = int(points) if isinstance(points, int | float) and points >= 1 else 1000
    low = _min_interval(panel.get("interval"), variables, scrape)
    step = grafana_interval(span, points, max(low, scrape))
    given = low if panel.get("interval") and low != scrape else None
    repeat = panel.get("repeat")
    if isinstance(repeat, str) and repeat in variables:  # one copy per value: plan the first
        value = variables[repeat]
        variables = {**variables, repeat: value if isinstance(value, str) else value[0]}
    return _Settings(start, end, span, points, step, scrape, variables, given)


def _min_interval(text: Any, variables: dict[str, Any], scrape: float) -> float:
    """A panel's min interval (``1m``, ``>1m``, ``$var``); the scrape interval if unset."""
    if not text:
        return scrape
    value = str(text).lstrip(">")
    if value.startswith("$"):
        found = variables.get(value.strip("${}"))
        value = found if isinstance(found, str) else ""
    try:
        return parse_duration(value, "interval")
    except ConfigError:
        return scrape


def _for_target(target: dict[str, Any], s: _Settings) -> _Settings:
    """The panel's settings as this target runs them: Grafana's Prometheus data source takes
    ``max(panel interval x intervalFactor, the target's own min interval, range / 11,000)``
    as the step and as ``$__interval``."""
    factor = target.get("intervalFactor") or 1
    own = target.get("interval")
    if factor == 1 and not own:
        return s
    low = _min_interval(own, s.variables, s.step) if own else s.step
    safe = s.span / 11_000
    adjusted = max(s.step * float(factor), low, math.ceil(safe) if safe > 1 else safe)
    if adjusted == s.step:
        return s
    return replace(s, step=adjusted, min_interval=adjusted)


def _plan_target(
    data: dict[str, Any], panel: dict[str, Any], target: dict[str, Any], s: _Settings,
    texts: dict[str, str], out: Plan,
) -> None:  # fmt: skip
    title, pid = str(panel.get("title")), int(panel.get("id") or 0)
    ref_id = str(target.get("refId") or "")
    kind, name = datasource_of(target.get("datasource"), data, panel.get("datasource"))
    kind = target_type(kind, name, target)
    if kind == "mixed":  # the panel is mixed and the target names none: the default
        kind, name = "prometheus", "default"
    if kind not in PROMQL_TYPES or "expr" not in target:
        what = "" if name in ("", kind) else f" {name!r}"
        reason = f"runs on the {kind} data source{what}, not Prometheus: not checked"
        out.skipped.append(Skipped(title, pid, ref_id, kind, reason))
        return
    expr = str(target.get("expr") or "")
    if not expr.strip():
        out.skipped.append(Skipped(title, pid, ref_id, kind, "has an empty query"))
        return
    try:
        s = _for_target(target, s)
        formatted = _variables.apply_formats(expr, s.variables, texts)
        expanded = expand(
            formatted, interval=s.step, scrape_interval=s.scrape_interval,
            range_seconds=s.span, max_data_points=s.points, variables=s.variables, end=s.end,
        )  # fmt: skip
        parsed = Expr(formatted, s.context())
    except ConfigError as exc:
        out.skipped.append(Skipped(title, pid, ref_id, kind, f"cannot be expanded: {exc}"))
        return
    query = Query(
        title, pid, str(panel.get("type")), ref_id, expr, expanded,
        str(target.get("legendFormat") or ""), bool(target.get("instant")), s.start, s.end,
        s.step, s.span, s.points, s.variables, s.scrape_interval, name, bool(target.get("hide")),
        str(panel.get("repeat") or ""), parsed,
    )  # fmt: skip
    out.queries.append(query)
