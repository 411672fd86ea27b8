"""Dashboard building blocks: grafanalib panels with obskit's data source, units and layout.

Every ``grafana/dashboards/NAME.dashboard.py`` source is written with these helpers so
it stays short: each panel is a title, a one-line description, its queries and a unit;
:func:`dashboard` lays the rows out on Grafana's 24-column grid and appends the panels
added from notebooks (kept in the sidecar ``NAME.panels.yaml``, see
:func:`obskit.dashboards.add_panel`).

Query settings, chosen once here:

* ``maxDataPoints`` is fixed instead of Grafana's default (the panel's width in pixels)
  so that the step, ``$__interval`` and ``$__rate_interval`` are the same on every
  screen and ``obskit dashboards check`` can send exactly what Grafana sends. Time series
  use :data:`TIMESERIES_POINTS` (500: at most one point per ~1.5 px of a half-width
  panel, a 30 s step up to 4 h ranges, 2 min at 24 h, 20 min at 7 d); stat, gauge and
  pie panels use :data:`INSTANT_POINTS` (100), so their ``$__rate_interval`` smooths the
  current value over about 1 % of the visible range (5.5 min at 6 h) instead of the
  noisy 2 min minimum.
* The minimum interval is the data source's scrape interval (30 s, set as
  ``timeInterval`` in the provisioned data source), not repeated on every panel, except
  on quantile panels: :func:`quantile_interval` gives the min interval whose windows hold
  enough observations (see :mod:`obskit.dashboards._calm`), and guarded queries (ratios
  with ``min_volume``, quantiles with ``min_count``) say so in the description
  (:func:`calm_description`).
"""

from __future__ import annotations

import string
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, TypeAlias

import attr
import grafanalib.core as g

from ..config import SCRAPE_INTERVAL
from ..errors import ConfigError
from ..promql._builders import MIN_OBSERVATIONS, MIN_VOLUME
from ._calm import calm_description, quantile_interval
from ._sidecar import added_specs

__all__ = [
    "ALL",
    "DATASOURCE",
    "INSTANT_POINTS",
    "KINDS",
    "MIN_OBSERVATIONS",
    "MIN_VOLUME",
    "PANEL_TYPES",
    "SCRAPE_INTERVAL",
    "TIMESERIES_POINTS",
    "Row",
    "barchart",
    "calm_description",
    "dashboard",
    "gauge",
    "kind_of",
    "layout",
    "mappings",
    "panel_from_spec",
    "piechart",
    "points",
    "quantile_interval",
    "row",
    "stat",
    "target",
    "thresholds",
    "timeseries",
    "variable",
]

#: Every panel and target queries this data source (provisioned with this uid).
DATASOURCE: dict[str, str] = {"type": "prometheus", "uid": "prometheus"}
#: The scrape interval of the data source (Grafana's ``timeInterval``), in seconds.

TIMESERIES_POINTS = 500
INSTANT_POINTS = 100
#: A variable's "All" value as Grafana stores it.
ALL = "$__all"
GRID_COLUMNS = 24
#: obskit's panel kinds and the Grafana panel type each becomes (one table for every module).
PANEL_TYPES = {"timeseries": "timeseries", "stat": "stat", "gauge": "gauge", "pie": "piechart",
               "bar": "barchart"}  # fmt: skip
KINDS = tuple(PANEL_TYPES)


def kind_of(grafana_type: str) -> str | None:
    """The obskit kind of a Grafana panel type (``piechart`` -> ``pie``), else ``None``.

    >>> kind_of("piechart"), kind_of("graph"), kind_of("text")
    ('pie', 'timeseries', None)
    """
    found = {t: k for k, t in PANEL_TYPES.items()}.get(grafana_type)
    return found or ("timeseries" if grafana_type in ("graph", "time_series") else None)


def points(kind: str) -> int:
    """The max data points a panel of ``kind`` gets: :data:`TIMESERIES_POINTS` for a time
    series, :data:`INSTANT_POINTS` for the panels that show one value per series.

    >>> points("timeseries"), points("stat")
    (500, 100)
    """
    return TIMESERIES_POINTS if kind == "timeseries" else INSTANT_POINTS


#: Any grafanalib panel (grafanalib has no type hints).
Panel: TypeAlias = Any
Threshold = dict[str, Any]


# -- queries, thresholds, mappings -----------------------------------------------------------


def target(
    expr: str, legend: str, *, instant: bool = False, table: bool = False, ref_id: str = ""
) -> g.Target:
    """One Prometheus query of a panel (``refId`` is set by the panel constructors).

    ``instant`` queries one value at the end of the range (stat, gauge, pie, bar
    panels); ``table`` returns a table frame (bar charts over a label).

    >>> target("sum(voicebot_active_calls)", "active calls").legendFormat
    'active calls'
    """
    return g.Target(
        expr=expr,
        legendFormat=legend,
        instant=instant,
        format="table" if table else g.TIME_SERIES_TARGET_FORMAT,
        refId=ref_id,
        datasource=dict(DATASOURCE),
    )


def _with_ref_ids(targets: Sequence[g.Target]) -> list[g.Target]:
    if not targets:
        raise ConfigError("a panel needs at least one query, e.g. target('sum(x)', 'x')")
    letters = string.ascii_uppercase
    return [attr.evolve(t, refId=t.refId or letters[i]) for i, t in enumerate(targets)]


def thresholds(base: str = "green", *steps: tuple[float, str]) -> list[Threshold]:
    """Threshold steps in Grafana's format: a base colour, then ``(from value, colour)``.

    >>> thresholds("green", (0.7, "orange"), (0.9, "red"))[1]
    {'color': 'orange', 'value': 0.7}
    """
    values = [value for value, _ in steps]
    if values != sorted(values):
        raise ConfigError(
            f"threshold values must increase, e.g. (0.7, 'orange'), (0.9, 'red'); got {values}"
        )
    return [{"color": base, "value": None}, *({"color": c, "value": v} for v, c in steps)]


def mappings(values: Mapping[int | float, tuple[str, str]]) -> list[g.StatValueMappings]:
    """Value mappings shown instead of numbers: ``{value: (text, colour)}``.

    >>> mappings({0: ("CLOSED", "green"), 1: ("OPEN", "red")})[0].to_json_data()["options"]["1"]
    {'text': 'OPEN', 'color': 'red', 'index': 1}
    """
    items = [
        g.StatValueMappingItem(text, mapValue=f"{value:g}", color=color, index=i)
        for i, (value, (text, color)) in enumerate(values.items())
    ]
    return [g.StatValueMappings(*items)]


# -- panels ------------------------------------------------------------------------------------


def _common(
    title: str,
    description: str,
    targets: Sequence[g.Target],
    points: int,
    interval: str | None = None,
) -> dict[str, Any]:
    if not title or not description or "\n" in description:
        raise ConfigError(f"panel {title!r} needs a title and a one-line description")
    for t in targets:  # a guarded query (min_volume, min_count) and a min interval say so once
        description = calm_description(description, t.expr, interval)
    return {
        "title": title,
        "description": description,
        "dataSource": dict(DATASOURCE),
        "targets": _with_ref_ids(targets),
        "maxDataPoints": points,
    }


def timeseries(
    title: str,
    description: str,
    targets: Sequence[g.Target],
    *,
    unit: str,
    steps: list[Threshold] | None = None,
    bars: bool = False,
    interval: str | None = None,
    time_from: str | None = None,
    soft_max: int | None = None,
) -> g.TimeSeries:
    """A time series panel; ``bars`` draws bars (e.g. counts per hour with ``interval="1h"``).

    >>> p = timeseries("Calls", "Finished calls.", [target("sum(x)", "calls")], unit="cps")
    >>> p.maxDataPoints, p.targets[0].refId
    (500, 'A')
    """
    return g.TimeSeries(
        **_common(title, description, targets, TIMESERIES_POINTS, interval),
        unit=unit,
        thresholds=steps or thresholds(),
        thresholdsStyleMode="line" if steps else "off",
        drawStyle="bars" if bars else "line",
        fillOpacity=60 if bars else 10,
        showPoints="never",
        stacking={"mode": "none", "group": "A"},
        interval=interval,
        timeFrom=time_from,
        axisSoftMin=0,
        axisSoftMax=soft_max,
        legendDisplayMode="list",
        tooltipMode="multi",
    )


def stat(
    title: str,
    description: str,
    targets: Sequence[g.Target],
    *,
    unit: str,
    steps: list[Threshold] | None = None,
    value_mappings: list[g.StatValueMappings] | None = None,
    time_from: str | None = None,
    decimals: int | None = None,
) -> g.Stat:
    """A stat panel showing the last value of each (instant) query.

    >>> stat("Active calls", "Calls in progress.", [target("sum(x)", "calls", instant=True)],
    ...      unit="short").reduceCalc
    'lastNotNull'
    """
    return g.Stat(
        **_common(title, description, targets, INSTANT_POINTS),
        format=unit,
        thresholds=steps or thresholds("blue"),
        mappings=value_mappings or [],
        reduceCalc="lastNotNull",
        graphMode="none",
        colorMode="background" if value_mappings else "value",
        textMode="value_and_name" if len(targets) > 1 or value_mappings else "auto",
        timeFrom=time_from,
        decimals=decimals,
    )


def gauge(
    title: str,
    description: str,
    targets: Sequence[g.Target],
    *,
    unit: str,
    steps: list[Threshold],
    low: float = 0,
    high: float = 1,
) -> g.GaugePanel:
    """A gauge with thresholds, from ``low`` to ``high`` (0..1 for a ``percentunit`` ratio).

    >>> gauge("CPU", "Busy CPU share.", [target("x", "cpu", instant=True)], unit="percentunit",
    ...       steps=thresholds("green", (0.8, "red"))).max
    1
    """
    return g.GaugePanel(
        **_common(title, description, targets, INSTANT_POINTS),
        format=unit,
        thresholds=steps,
        min=low,
        max=high,
        calc="lastNotNull",
    )


def piechart(
    title: str, description: str, targets: Sequence[g.Target], *, unit: str, donut: bool = True
) -> g.PieChartv2:
    """A pie (or donut) chart of instant values, legend with values and percentages.

    >>> piechart("Tools", "Tool calls by tool.", [target("x", "{{tool_name}}", instant=True)],
    ...          unit="short").pieType
    'donut'
    """
    return g.PieChartv2(
        **_common(title, description, targets, INSTANT_POINTS),
        unit=unit,
        pieType="donut" if donut else "pie",
        legendDisplayMode="table",
        legendPlacement="right",
        legendValues=["value", "percent"],
        reduceOptionsCalcs=["lastNotNull"],
        tooltipMode="single",
    )


def barchart(
    title: str, description: str, targets: Sequence[g.Target], *, unit: str, x_field: str
) -> g.BarChart:
    """A bar chart of an instant table query, one bar per value of ``x_field``.

    >>> barchart("Transfers", "Transfers by reason.",
    ...          [target("x", "{{reason}}", instant=True, table=True)],
    ...          unit="short", x_field="reason").orientation
    'horizontal'
    """
    panel = g.BarChart(
        **_common(title, description, targets, INSTANT_POINTS),
        orientation="horizontal",
        showValue="always",
        thresholdSteps=thresholds("blue"),
        showLegend=False,
        transformations=[{"id": "organize", "options": {"excludeByName": {"Time": True}}}],
    )
    extra = {"options": {"xField": x_field}, "fieldConfig": {"defaults": {"unit": unit}}}
    return attr.evolve(panel, extraJson=extra)


# -- variables ---------------------------------------------------------------------------------


def variable(
    name: str,
    metric: str,
    label: str,
    *,
    text: str | None = None,
    default: str = ALL,
    multi: bool = True,
) -> g.Template:
    """A query variable listing the values of ``label`` on ``metric`` (All by default).

    Use it in queries as ``label=~"$name"``: "All" sends ``.*``, several values send
    ``(a|b)``.

    >>> variable("stt_provider", "voicebot_stt_latency_seconds_count", "provider").query
    'label_values(voicebot_stt_latency_seconds_count, provider)'
    """
    return g.Template(
        name=name,
        query=f"label_values({metric}, {label})",
        label=text or label.replace("_", " ").capitalize(),
        default=default,
        dataSource=dict(DATASOURCE),
        multi=multi,
        includeAll=True,
        allValue=".*",
        refresh=g.REFRESH_ON_TIME_RANGE_CHANGE,
        sort=1,
    )


# -- layout ------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Row:
    """Panels side by side, all ``height`` grid units tall; ``widths`` sum to at most 24."""

    height: int
    panels: tuple[Panel, ...]
    widths: tuple[int, ...]


def row(height: int, *items: Panel | tuple[Panel, int]) -> Row:
    """A row of panels: bare panels share the 24 columns equally, ``(panel, width)`` pins one.

    >>> r = row(6, stat("A", "a.", [target("x", "a")], unit="short"),
    ...         (stat("B", "b.", [target("y", "b")], unit="short"), 16))
    >>> r.widths
    (8, 16)
    """
    fixed = sum(item[1] for item in items if isinstance(item, tuple))
    free = [item for item in items if not isinstance(item, tuple)]
    share = (GRID_COLUMNS - fixed) // len(free) if free else 0
    pairs = [item if isinstance(item, tuple) else (item, share) for item in items]
    widths = tuple(w for _, w in pairs)
    if sum(widths) > GRID_COLUMNS or min(widths, default=1) < 1 or height < 1:
        raise ConfigError(f"a row's widths must be 1..24 and sum to at most 24; got {widths}")
    return Row(height, tuple(p for p, _ in pairs), widths)


def layout(rows: Iterable[Row], extra: Iterable[tuple[Panel, int, int]] = ()) -> list[Panel]:
    """Panels with ``gridPos`` set: rows top to bottom, then ``extra`` ``(panel, w, h)``
    packed left to right into the next free rows. Nothing overlaps by construction.

    >>> a = stat("A", "a.", [target("x", "a")], unit="short")
    >>> [p.gridPos.to_json_data() for p in layout([row(4, a, a)])]
    [{'h': 4, 'w': 12, 'x': 0, 'y': 0}, {'h': 4, 'w': 12, 'x': 12, 'y': 0}]
    """
    placed: list[Panel] = []
    y = 0
    for r in rows:
        x = 0
        for panel, width in zip(r.panels, r.widths, strict=True):
            placed.append(attr.evolve(panel, gridPos=g.GridPos(h=r.height, w=width, x=x, y=y)))
            x += width
        y += r.height
    x, row_height = 0, 0
    for panel, width, height in extra:
        if x + width > GRID_COLUMNS:
            x, y, row_height = 0, y + row_height, 0
        placed.append(attr.evolve(panel, gridPos=g.GridPos(h=height, w=width, x=x, y=y)))
        x, row_height = x + width, max(row_height, height)
    return placed


def dashboard(
    title: str,
    *,
    uid: str,
    description: str,
    rows: Sequence[Row],
    variables: Sequence[g.Template] = (),
    time: tuple[str, str] = ("now-6h", "now"),
    timezone: str = "browser",
    source: str | None = None,
    tags: Sequence[str] = ("obskit",),
) -> g.Dashboard:
    """A dashboard: ``rows`` laid out, then the panels added to ``source``'s sidecar file.

    Pass ``source=__file__`` from ``NAME.dashboard.py`` to include the panels
    :func:`obskit.dashboards.add_panel` keeps in ``NAME.panels.yaml``.

    >>> d = dashboard("Demo", uid="obskit-demo", description="A demo.",
    ...               rows=[row(4, stat("A", "a.", [target("x", "a")], unit="short"))])
    >>> d.schemaVersion, d.panels[0].gridPos.w
    (39, 24)
    """
    extra = [] if source is None else [_sized(panel_from_spec(s)) for s in added_specs(source)]
    return g.Dashboard(
        title=title,
        uid=uid,
        description=description,
        panels=layout(rows, extra),
        templating=g.Templating(list=list(variables)),
        time=g.Time(*time),
        timezone=timezone,
        schemaVersion=39,
        refresh="1m",
        graphTooltip=g.GRAPH_TOOLTIP_MODE_SHARED_CROSSHAIR,
        tags=list(tags),
    )


def _sized(panel: Panel) -> tuple[Panel, int, int]:
    small = isinstance(panel, g.Stat | g.GaugePanel)
    return (panel, 6, 6) if small else (panel, 12, 8)


# -- panels from a spec (the sidecar's entries) ------------------------------------------------


def panel_from_spec(spec: Mapping[str, Any]) -> Panel:
    """The panel one sidecar entry describes: ``title``, ``expr``, ``kind``, ``unit``,
    ``legend``, ``description`` and a fixed ``id``; optional ``interval`` (a time series'
    min interval; a quantile query without one gets :func:`quantile_interval`'s default).

    >>> panel_from_spec({"title": "Calls", "expr": "sum(x)", "kind": "stat", "unit": "short",
    ...                  "legend": "calls", "description": "Calls.", "id": 101}).id
    101
    """
    kind = spec.get("kind")
    if kind not in KINDS:
        raise ConfigError(f"kind must be one of {', '.join(KINDS)}; got {kind!r}")
    args = (str(spec["title"]), str(spec["description"]))
    unit = str(spec["unit"])
    one = [target(str(spec["expr"]), str(spec["legend"]), instant=kind != "timeseries")]
    panel: Panel
    if kind == "timeseries":
        interval = spec.get("interval") or quantile_interval(str(spec["expr"]))
        panel = timeseries(*args, one, unit=unit, interval=str(interval) if interval else None)
    elif kind == "stat":
        panel = stat(*args, one, unit=unit)
    elif kind == "gauge":  # Grafana's own default for a new gauge: green, red from 80 %
        high = 1 if unit == "percentunit" else 100
        steps = thresholds("green", (0.8 * high, "red"))
        panel = gauge(*args, one, unit=unit, steps=steps, high=high)
    elif kind == "pie":
        panel = piechart(*args, one, unit=unit)
    else:
        labels = [p.strip("{} ") for p in str(spec["legend"]).split("}}") if "{{" in p]
        table = [target(str(spec["expr"]), str(spec["legend"]), instant=True, table=True)]
        panel = barchart(*args, table, unit=unit, x_field=labels[0] if labels else "Value")
    return attr.evolve(panel, id=int(spec["id"]))
