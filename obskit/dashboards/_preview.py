"""Pure: a dashboard's JSON + its query results → one standalone HTML page laid out like
the Grafana grid, each panel drawn by :func:`obskit.plots.plot`."""

from __future__ import annotations

import math
from typing import Any

import pandas as pd
import plotly.graph_objects as go

from ..frames import _series_names, empty_frame
from ..plots._plots import figure_grid, plot
from ._plan import Query
from .panels import kind_of

#: Grafana's named threshold colours (as its dark/light themes draw them).
COLORS = {"green": "#73BF69", "orange": "#FF9830", "red": "#F2495C", "blue": "#5794F2",
          "yellow": "#FADE2A", "purple": "#B877D9"}  # fmt: skip
_FIXED = ("timestamp", "value")


def panel_frame(results: list[tuple[Query, pd.DataFrame]]) -> pd.DataFrame:
    """All of a panel's results as one tidy frame with a ``series`` label (its legend name).

    >>> panel_frame([]).columns.tolist()
    ['timestamp', 'value', 'series']
    """
    parts = [_named(q, frame) for q, frame in results if not frame.empty]
    columns = ["timestamp", "value", "series"]
    if parts:
        out = pd.concat(parts, ignore_index=True)
    else:  # typed like a result, so a panel without data is drawn empty instead of refused
        out = empty_frame().assign(series=pd.Categorical([]))[columns]
    instant = bool(results) and all(q.instant for q, _ in results)
    out.attrs = {"result_type": "vector" if instant else "matrix", "query": ""}
    return out


def _named(q: Query, frame: pd.DataFrame) -> pd.DataFrame:
    labels = [c for c in frame.columns if c not in _FIXED]
    rows = frame[labels].astype(object).to_dict("records") if labels else [{}] * len(frame)
    names = _series_names(rows, q.legend or q.panel)  # a label a series lacks formats as ""
    return pd.DataFrame(
        {
            "timestamp": frame["timestamp"].to_numpy(),
            "value": frame["value"].to_numpy(),
            "series": pd.Categorical(names),
        }
    )


def _thresholds(panel: dict[str, Any]) -> list[tuple[float, str]]:
    steps = panel["fieldConfig"]["defaults"].get("thresholds", {}).get("steps", [])
    if panel["type"] not in ("gauge", "stat") or len(steps) < 2:
        return []
    low = panel["fieldConfig"]["defaults"].get("min", 0)
    return [
        (low if s["value"] is None else s["value"], COLORS.get(s["color"], s["color"]))
        for s in steps
    ]


def figure(panel: dict[str, Any], frame: pd.DataFrame) -> go.Figure:
    """The figure for one panel: :func:`obskit.plots.plot`, or text for value mappings."""
    defaults = panel["fieldConfig"]["defaults"]
    if defaults.get("mappings") and not frame.empty:
        return _mapped(panel, frame)
    kind = kind_of(panel["type"]) or "timeseries"
    single = kind in ("stat", "gauge") and frame["series"].nunique() <= 1
    return plot(
        frame,
        kind,
        title=panel["title"],
        unit=defaults.get("unit"),
        legend=None if single else "{{series}}",  # one number needs no name under it
        thresholds=_thresholds(panel),
        donut=panel.get("options", {}).get("pieType") == "donut",
    )


def _mapped(panel: dict[str, Any], frame: pd.DataFrame) -> go.Figure:
    """A stat whose values show as mapped text (``CLOSED``, ``OK``, ...) in their colour."""
    options: dict[str, Any] = {}
    for mapping in panel["fieldConfig"]["defaults"]["mappings"]:
        options.update(mapping.get("options", {}))
    last = frame.sort_values("timestamp").groupby("series", observed=True)["value"].last()
    fig = go.Figure(
        layout={
            "title": {"text": panel["title"], "x": 0.01},
            "template": "none",
            "margin": {"l": 8, "r": 8, "t": 40, "b": 8},
        }
    )
    for i, (name, value) in enumerate(last.items()):
        hit = options.get("No data" if math.isnan(value) else f"{value:g}", {})
        x = (i + 0.5) / len(last)
        text, colour = hit.get("text", f"{value:g}"), COLORS.get(hit.get("color"), "#2B2B2B")
        fig.add_annotation(x=x, y=0.35, xref="paper", yref="paper", showarrow=False,
                           text=f"<b>{text}</b>", font={"size": max(14, 30 - 4 * len(last)), "color": colour})  # fmt: skip
        fig.add_annotation(x=x, y=0.8, xref="paper", yref="paper", showarrow=False,
                           text=str(name), font={"size": 12})  # fmt: skip
    return fig.update_xaxes(visible=False).update_yaxes(visible=False)


def page(
    data: dict[str, Any], queries: list[Query], results: dict[tuple[int, str], pd.DataFrame]
) -> str:
    """The standalone HTML page (plotly.js inline) for a dashboard and its results."""
    figures, layout = [], []
    for panel in data.get("panels", []):
        mine = [(q, results[(q.panel_id, q.ref_id)]) for q in queries
                if q.panel_id == panel["id"] and (q.panel_id, q.ref_id) in results]  # fmt: skip
        fig = figure(panel, panel_frame(mine))
        ranged = [q for q, _ in mine if not q.instant]
        if ranged and kind_of(panel["type"]) in (None, "timeseries"):
            # Grafana draws the dashboard's time range, not just where the data lies:
            # a night with no value is an empty axis, not a zoom on its last minutes
            fig.update_xaxes(range=[min(q.start for q in ranged), max(q.end for q in ranged)])
        figures.append(fig)
        layout.append(panel["gridPos"])
    return figure_grid(figures, layout, title=str(data.get("title", "obskit dashboard")))
