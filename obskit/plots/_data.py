"""Shared pieces of obskit's figures: series from a frame, stable values, colours, options."""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
import plotly.graph_objects as go

from ..frames import _check_unique, _series_names

FIXED = ("timestamp", "value")
#: Grafana's classic palette; series take colours in legend-name order.
PALETTE = ("#7EB26D", "#EAB839", "#6ED0E0", "#EF843C", "#E24D42", "#1F78C1", "#BA43A9",
           "#705DA0", "#508642", "#CCA300", "#447EBC", "#C15C17", "#890F02", "#0A437C",
           "#6D1F62", "#584477")  # fmt: skip
TEXT_COLOUR = "#2B2B2B"
HEIGHTS = {"timeseries": 360, "heatmap": 360, "bar": 300, "pie": 320, "stat": 160, "gauge": 240}


@dataclass(frozen=True)
class Options:
    """What :func:`obskit.plots.plot` was asked for, checked."""

    unit: str | None
    legend: str | None
    max_points: int | None
    thresholds: tuple[tuple[float, str], ...]
    donut: bool
    share: bool


@dataclass(frozen=True)
class Series:
    """One series of a frame: its legend name, times (UTC epoch ms, ascending), values."""

    name: str
    ms: np.ndarray
    values: np.ndarray

    @property
    def last(self) -> float:
        """The last value that is not NaN (NaN when there is none)."""
        seen = self.values[~np.isnan(self.values)]
        return float(seen[-1]) if seen.size else math.nan


def millis(timestamps: Any) -> np.ndarray:
    """Timestamps as UTC epoch milliseconds (float64, exact for any realistic date)."""
    return pd.DatetimeIndex(timestamps).as_unit("ms").asi8.astype(np.float64)


def series(frame: pd.DataFrame, legend: str | None) -> list[Series]:
    """One entry per series, named as :func:`obskit.frames.wide` names columns, sorted by name.

    >>> import pandas as pd
    >>> df = pd.DataFrame({"timestamp": pd.to_datetime([0, 0], unit="s", utc=True),
    ...                    "value": [1.0, 2.0], "job": pd.Categorical(["redis", "node"])})
    >>> [(s.name, s.last) for s in series(df, None)]
    [('node', 2.0), ('redis', 1.0)]
    """
    labels = [c for c in frame.columns if c not in FIXED]
    ms, values = millis(frame["timestamp"]), frame["value"].to_numpy(np.float64)
    if not labels:
        return [_one(legend or "value", ms, values)]
    ids = frame.groupby(labels, observed=True, sort=False, dropna=False).ngroup().to_numpy()
    firsts = np.unique(ids, return_index=True)[1]
    names = _series_names(frame[labels].iloc[firsts].astype(object).to_dict("records"), legend)
    _check_unique(names, legend)
    order = np.argsort(ids, kind="stable")
    parts = np.split(order, np.cumsum(np.bincount(ids))[:-1])
    out = [_one(n, ms[p], values[p]) for n, p in zip(names, parts, strict=True)]
    return sorted(out, key=lambda s: s.name)


def _one(name: str, ms: np.ndarray, values: np.ndarray) -> Series:
    order = np.argsort(ms, kind="stable")
    return Series(name, ms[order], values[order])


def stable(values: Any) -> np.ndarray:
    """Values with ±Inf as NaN, rounded to 12 significant digits.

    Rounding makes the stored figure independent of the last bits of float arithmetic
    (summation order differs between numpy builds and CPUs).

    >>> stable([0.1 + 0.2, float("inf")]).tolist()
    [0.3, nan]
    """
    arr = np.array(values, dtype=np.float64, copy=True)
    finite = np.isfinite(arr)
    arr[~finite] = np.nan
    arr[finite] = [float(f"{v:.12g}") for v in arr[finite].tolist()]
    return arr


def colour(i: int) -> str:
    """The palette colour of the ``i``-th series."""
    return PALETTE[i % len(PALETTE)]


def threshold_colour(value: float, steps: Sequence[tuple[float, str]], default: str) -> str:
    """The colour of the last step at or below ``value``; the first step is the base."""
    found = steps[0][1] if steps else default
    for start, step_colour in steps:
        if value >= start:
            found = step_colour
    return found


def no_data(query: str = "") -> go.Figure:
    """An empty figure that says "no data" (for which query, when it is known).

    >>> no_data("sum(rate(x_total[5m]))").layout.annotations[0].text
    'no data for sum(rate(x_total[5m])) in this range'
    """
    short = " ".join(query.split())
    short = short if len(short) <= 80 else short[:77] + "..."
    text = f"no data for {short} in this range" if short else "no data"
    fig = go.Figure()
    fig.add_annotation(
        text=text, x=0.5, y=0.5, xref="paper", yref="paper", showarrow=False,
        font={"size": 16, "color": "#8E8E8E"},
    )  # fmt: skip
    fig.update_xaxes(visible=False)
    fig.update_yaxes(visible=False)
    return fig
