"""Figures of one value per series (the last one): stat, gauge, bar and pie."""

from __future__ import annotations

import logging
import math
from collections.abc import Sequence
from typing import Any

import numpy as np
import pandas as pd
import plotly.graph_objects as go

from . import _units
from ._data import HEIGHTS, TEXT_COLOUR, Options, colour, no_data, series, stable
from ._data import threshold_colour as step_colour
from ._units import Display

log = logging.getLogger("obskit")

_PER_ROW = 6


def stat(frame: pd.DataFrame, options: Options) -> go.Figure:
    """Big numbers: one ``go.Indicator`` per series, six to a row."""
    return _indicators(frame, options, "number")


def gauge(frame: pd.DataFrame, options: Options) -> go.Figure:
    """Gauges with threshold bands: one ``go.Indicator`` per series, six to a row."""
    return _indicators(frame, options, "gauge+number")


def bar(frame: pd.DataFrame, options: Options) -> go.Figure:
    """Horizontal bars of the last values, coloured by thresholds or the palette."""
    found = series(frame, options.legend)
    shown, values, steps = _last_values([s.last for s in found], options)
    colours = [step_colour(v, steps, colour(i)) for i, v in enumerate(values)]
    text = f"{shown.prefix}%{{x:{shown.hoverformat}}}{shown.suffix}"
    fig = go.Figure(
        go.Bar(
            x=values,
            y=[s.name for s in found],
            orientation="h",
            marker={"color": colours},
            texttemplate=text,
            textposition="auto",
            hovertemplate=f"%{{y}}: {text}<extra></extra>",
        )
    )
    fig.update_layout(xaxis=shown.axis(), yaxis={"autorange": "reversed", "type": "category"})
    fig.update_layout(height=max(HEIGHTS["bar"], 80 + 28 * len(found)))
    return fig


def pie(frame: pd.DataFrame, options: Options) -> go.Figure:
    """A pie (or donut) of the last values; series <= 0 or not finite are left out."""
    found = series(frame, options.legend)
    raw = np.array([s.last for s in found])
    kept = [i for i, v in enumerate(raw) if np.isfinite(v) and v > 0]
    if not kept:
        return no_data()
    if len(kept) < len(found):
        log.debug("plot: pie leaves out %d series <= 0 or not finite", len(found) - len(kept))
    shown = _units.indicator_display(options.unit, raw[kept])
    number = f"{shown.prefix}%{{value:{shown.hoverformat}}}{shown.suffix}"
    return go.Figure(
        go.Pie(
            labels=[found[i].name for i in kept],
            values=stable(shown.scale(raw[kept])),
            marker={"colors": [colour(i) for i in kept]},
            hole=0.45 if options.donut else 0.0,
            sort=False,
            direction="clockwise",
            textinfo="percent",
            hovertemplate=f"%{{label}}: {number} (%{{percent}})<extra></extra>",
        )
    )


def _last_values(
    raw: Sequence[float], options: Options
) -> tuple[Display, np.ndarray, tuple[tuple[float, str], ...]]:
    """The display, the scaled values and the thresholds in display units."""
    shown = _units.indicator_display(options.unit, raw)
    steps = tuple((v * shown.factor, c) for v, c in options.thresholds)
    return shown, stable(shown.scale(raw)), steps


def _indicators(frame: pd.DataFrame, options: Options, mode: str) -> go.Figure:
    found = series(frame, options.legend)
    shown, values, steps = _last_values([s.last for s in found], options)
    named = len(found) > 1 or options.legend is not None
    traces = []
    for i, (s, value) in enumerate(zip(found, values, strict=True)):
        paint = step_colour(value, steps, colour(i) if mode != "number" else TEXT_COLOUR)
        spec: dict[str, Any] = {"mode": mode, "domain": _domain(i, len(found))}
        spec["number"] = {**shown.number(), "font": {"color": paint}}
        if not math.isnan(value):
            spec["value"] = float(value)
        if named:
            spec["title"] = {"text": s.name}
        if mode != "number":
            spec["gauge"] = _gauge(values, steps, shown, paint)
        traces.append(go.Indicator(**spec))
    fig = go.Figure(traces)
    rows = math.ceil(len(found) / _PER_ROW)
    fig.update_layout(height=HEIGHTS["stat" if mode == "number" else "gauge"] * rows)
    return fig


def _domain(i: int, n: int) -> dict[str, list[float]]:
    """Where the ``i``-th of ``n`` indicators sits: rows of up to six, left to right."""
    cols, rows = min(n, _PER_ROW), math.ceil(n / _PER_ROW)
    r, c = divmod(i, cols)
    x = [round(c / cols + 0.01, 6), round((c + 1) / cols - 0.01, 6)]
    y = [round(1 - (r + 1) / rows + 0.02, 6), round(1 - r / rows - 0.02, 6)]
    return {"x": x, "y": y}


def _gauge(
    values: np.ndarray, steps: Sequence[tuple[float, str]], shown: Display, paint: str
) -> dict[str, Any]:
    top = max([_units.peak(values), *(abs(v) for v, _ in steps)])
    upper = 1.0 if shown.unit == "percentunit" and top <= 1 else nice_ceiling(top * 1.1)
    axis = {"range": [0.0, upper], **{k: v for k, v in shown.axis().items() if k != "title"}}
    if not steps:
        return {"axis": axis, "bar": {"color": paint, "thickness": 0.75}}
    ends = [s for s, _ in steps[1:]] + [upper]
    bands = [
        {"range": [max(start, 0.0), end], "color": c}
        for (start, c), end in zip(steps, ends, strict=True)
    ]
    return {
        "axis": axis,
        "bar": {"color": "rgba(40, 40, 40, 0.6)", "thickness": 0.4},
        "steps": bands,
    }


def nice_ceiling(value: float) -> float:
    """The smallest of 1, 2, 2.5, 5 × 10^k at or above ``value`` (1.0 for 0 or less).

    >>> nice_ceiling(0.37), nice_ceiling(130.0), nice_ceiling(0.0)
    (0.5, 200.0, 1.0)
    """
    if not value > 0 or not math.isfinite(value):
        return 1.0
    power = 10.0 ** math.floor(math.log10(value))
    found = next(m * power for m in (1, 2, 2.5, 5, 10) if m * power >= value * (1 - 1e-12))
    return float(f"{found:.12g}")
