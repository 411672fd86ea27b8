"""Plotly figures from obskit's tidy frames: time series, stat, gauge, bar, pie, bucket heatmap.

Figures are pure functions of their frame and deterministic: the same frame gives a
byte-identical ``fig.to_json()`` in any process (fixed :data:`TEMPLATE` and
:data:`PALETTE`, traces sorted by name, no ``uid``, values rounded to 12 significant
digits), so notebooks that store figure JSON pass ``pytest --nbval``. Times are sent as
UTC epoch milliseconds on a ``date`` axis and values as typed arrays, which keeps
stored figures small; long series are downsampled (see ``max_points`` of :func:`plot`).
"""

from __future__ import annotations

import itertools
import logging
import math
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np
import pandas as pd
import plotly.graph_objects as go

from ..errors import ConfigError
from ..frames import _series_names
from ..promql._expr import Expr
from . import _single, _units
from ._data import (
    FIXED,
    HEIGHTS,
    PALETTE,
    TEXT_COLOUR,
    Options,
    Series,
    colour,
    millis,
    no_data,
    series,
    stable,
)
from ._grid import figure_grid
from ._units import Display

__all__ = ["KINDS", "PALETTE", "TEMPLATE", "figure_grid", "heatmap_frame", "infer_kind", "plot"]

log = logging.getLogger("obskit")

KINDS = ("timeseries", "stat", "gauge", "bar", "pie", "heatmap")
_AXIS = {"gridcolor": "#ECECEC", "linecolor": "#BDBDBD", "zeroline": False, "automargin": True}
#: The one template every obskit figure uses (never plotly's process-wide default).
TEMPLATE = go.layout.Template(
    layout={
        "colorway": list(PALETTE),
        "font": {"family": "Helvetica, Arial, sans-serif", "size": 12, "color": TEXT_COLOUR},
        "paper_bgcolor": "white",
        "plot_bgcolor": "white",
        "title": {"x": 0.01, "xanchor": "left", "font": {"size": 14}},
        "margin": {"l": 60, "r": 24, "t": 48, "b": 40},
        "xaxis": _AXIS,
        "yaxis": _AXIS,
        "legend": {"orientation": "h", "x": 0, "y": -0.18, "yanchor": "top"},
        "hoverlabel": {"namelength": -1},
    }
)
# Times are UTC epoch ms; hover shows the zone (an x-axis title would collide with the legend).
_TIME_AXIS = {"type": "date", "hoverformat": "%Y-%m-%d %H:%M:%S UTC"}
_BUDGET, _PER_TRACE, _MIN_PER_TRACE = 10_000, 1_000, 100  # ~25 bytes of JSON per point
_TITLE_CHARS = 80


def plot(
    frame: pd.DataFrame,
    kind: str | None = None,
    *,
    title: str | None = None,
    unit: str | None = None,
    legend: str | None = None,
    height: int | None = None,
    max_points: int | None = None,
    thresholds: Sequence[tuple[float, str]] | None = None,
    donut: bool = False,
    share: bool = False,
) -> go.Figure:
    """A plotly figure of a tidy query frame.

    Parameters
    ----------
    frame : pandas.DataFrame
        A frame as obskit's queries return it (``timestamp``, ``value``, label columns).
    kind : str, optional
        One of :data:`KINDS`. ``None`` infers it (see :func:`infer_kind`).
    title : str, optional
        Figure title; default the query, shortened to 80 characters.
    unit : str, optional
        Grafana unit id (``s``, ``bytes``, ``percentunit``, ``currencyUSD``, ``short``,
        ...); default from the catalog metric the query names. Seconds below 1 s are
        shown in ms, bytes in IEC units (KiB = 1024 B); the axis title names the unit.
        For ``heatmap`` it is the unit of the bucket bounds.
    legend : str, optional
        Grafana legend format such as ``"{{provider}} p95"``; default the query's own
        legend (:attr:`obskit.promql.Expr.legend`, the one ``add_panel`` gives its panel),
        else the labels whose values differ between series. Series are ordered by name.
    height : int, optional
        Height in pixels; default depends on the kind.
    max_points : int, optional
        Most points drawn per time-series trace (columns, for a heatmap). Longer series
        are cut into ``max_points // 2`` equal runs and each run keeps its minimum and
        maximum (plus a gap marker if it held a gap), so spikes survive; heatmap columns
        are averaged instead. Default: 10,000 points over all traces, between 100 and
        1,000 per trace, which keeps a stored figure under ~300 KB. A debug log line
        says when a series was downsampled; pass a large number to draw everything.
    thresholds : sequence of (value, colour), optional
        Grafana-style steps, e.g. ``[(0, "green"), (0.8, "orange"), (0.95, "red")]``:
        colour from each value up. Used by ``stat``, ``gauge`` and ``bar``.
    donut : bool
        ``pie`` only: draw a ring.
    share : bool
        ``heatmap`` only: show each bucket's share of its time column instead of counts.

    Returns
    -------
    plotly.graph_objects.Figure
        An empty frame gives a figure that says "no data".

    Raises
    ------
    ConfigError
        Unknown ``kind``, a frame that is not a query frame, ``heatmap`` without ``le``,
        bad ``thresholds`` or ``max_points``.

    >>> import pandas as pd
    >>> df = pd.DataFrame({
    ...     "timestamp": pd.to_datetime([0, 30, 0, 30], unit="s", utc=True),
    ...     "value": [0.2, 0.3, 0.4, 0.5],
    ...     "provider": pd.Categorical(["azure", "azure", "elevenlabs", "elevenlabs"])})
    >>> df.attrs = {"query": "voicebot_tts_latency_seconds", "result_type": "matrix"}
    >>> fig = plot(df, legend="{{provider}} p95")
    >>> [t.name for t in fig.data], fig.layout.yaxis.title.text
    (['azure p95', 'elevenlabs p95'], 'duration (ms)')
    """
    _check_frame(frame)
    if kind is not None and kind not in KINDS:
        raise ConfigError(
            f"kind must be one of {', '.join(KINDS)} (or None to infer); got {kind!r}"
        )
    if not frame.empty:
        kind = kind or infer_kind(frame)
    elif kind is None:
        kind = "timeseries"
    if unit is None:
        unit = _units.bucket_unit(frame) if kind == "heatmap" else _units.unit_of(frame)
    if legend is None and kind != "heatmap":
        legend = query_legend(frame)
    checked = (_check_max_points(max_points), _check_thresholds(thresholds))
    options = Options(unit, legend, *checked, donut=donut, share=share)
    query = str(frame.attrs.get("query") or "")
    fig = no_data(query) if frame.empty else _BUILDERS[kind](frame, options)
    return _finish(fig, _title(frame, title), height or fig.layout.height or HEIGHTS[kind])


def query_legend(frame: pd.DataFrame) -> str | None:
    """The legend ``add_panel`` would give the frame's query, if the frame has its labels.

    >>> import pandas as pd
    >>> df = pd.DataFrame({"timestamp": [], "value": [], "provider": []})
    >>> df.attrs["query"] = "sum by (provider) (rate(voicebot_stt_requests_total[5m]))"
    >>> query_legend(df)
    '{{provider}}'
    """
    text = str(frame.attrs.get("query") or "")
    expr = Expr.of(text) if text.strip() else None
    if expr is None or expr.syntax_error is not None or expr.legend is None:
        return None
    if not all(label in frame.columns for label in expr.legend_labels):
        return None
    labels = [c for c in frame.columns if c not in ("timestamp", "value")]
    rows = frame[labels].drop_duplicates().astype(object).to_dict("records") if labels else []
    names = _series_names(rows, expr.legend)
    return expr.legend if len(set(names)) == len(names) else None  # else: say what differs


def infer_kind(frame: pd.DataFrame) -> str:
    """The kind :func:`plot` draws when none is given.

    One row of a ``vector``/``scalar`` → ``stat``; an ``le`` label → ``heatmap``;
    a ``matrix`` → ``timeseries``; a ``vector`` of several rows → ``bar``. Without a
    ``result_type``, several timestamps mean ``timeseries``.

    >>> import pandas as pd
    >>> df = pd.DataFrame({"timestamp": pd.to_datetime([0], unit="s", utc=True), "value": [1.0]})
    >>> df.attrs["result_type"] = "vector"
    >>> infer_kind(df)
    'stat'
    """
    result_type = frame.attrs.get("result_type")
    if result_type is None:
        result_type = "matrix" if frame["timestamp"].nunique() > 1 else "vector"
    if result_type in ("vector", "scalar") and len(frame) == 1:
        return "stat"
    if "le" in frame.columns:
        return "heatmap"
    return "timeseries" if result_type == "matrix" else "bar"


# -- checks ----------------------------------------------------------------------------------


def _check_frame(frame: Any) -> None:
    columns = list(getattr(frame, "columns", []))
    if not isinstance(frame, pd.DataFrame) or columns[:2] != list(FIXED):
        raise ConfigError(
            "plot() needs a tidy query frame (columns timestamp, value, then labels) such as "
            f"client.query_range(...) returns; got {type(frame).__name__} with columns {columns}"
        )
    if frame.attrs.get("result_type") == "string" or not pd.api.types.is_numeric_dtype(
        frame["value"]
    ):
        raise ConfigError(
            f"cannot plot a string result (query {frame.attrs.get('query', '')!r}); "
            "plot a vector, matrix or scalar query"
        )


def _check_max_points(max_points: int | None) -> int | None:
    if max_points is None:
        return None
    if isinstance(max_points, bool) or not isinstance(max_points, int) or max_points < 2:
        raise ConfigError(f"max_points must be a whole number >= 2 like 1000; got {max_points!r}")
    return max_points


def _check_thresholds(thresholds: Sequence[Any] | None) -> tuple[tuple[float, str], ...]:
    steps = []
    for step in thresholds or ():
        try:
            value, colour = float(step[0]), step[1]
            ok = len(step) == 2 and isinstance(colour, str) and bool(colour)
        except (TypeError, ValueError, IndexError):
            ok = False
        if not ok or math.isnan(value):
            raise ConfigError(
                "thresholds must be (value, colour) pairs like "
                f"[(0, 'green'), (0.8, 'orange'), (0.95, 'red')]; got {step!r}"
            )
        steps.append((value, colour))
    return tuple(sorted(steps))


# -- time series -----------------------------------------------------------------------------


def _timeseries(frame: pd.DataFrame, options: Options) -> go.Figure:
    found = series(frame, options.legend)
    shown = _units.display(options.unit, frame["value"])
    limit = options.max_points or max(_MIN_PER_TRACE, min(_PER_TRACE, _BUDGET // len(found)))
    if options.max_points is None and len(found) * limit > _BUDGET:
        log.info("plot: %d series make a large figure; aggregate or use topk()", len(found))
    fig = go.Figure([_line(s, i, shown, limit) for i, s in enumerate(found)])
    fig.update_layout(xaxis=_TIME_AXIS, yaxis=shown.axis(), hovermode="x unified")
    return fig


def _line(one: Series, i: int, shown: Display, limit: int) -> go.Scatter:
    ms, values = _with_gaps(one.ms, np.where(np.isinf(one.values), np.nan, one.values))
    if len(ms) > limit:
        log.debug(
            "plot: %s has %d points; drawing min/max of %d runs", one.name, len(ms), limit // 2
        )
        ms, values = _downsample(ms, values, limit)
    return go.Scatter(
        x=ms,
        y=stable(shown.scale(values)),
        name=one.name,
        mode="lines" if len(ms) > 1 else "markers",
        line={"color": colour(i), "width": 1.5},
        hovertemplate=shown.hovertemplate(),
    )


def _with_gaps(ms: np.ndarray, values: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Insert a NaN wherever samples are over 1.5 steps apart, so the line breaks as in Grafana."""
    if len(ms) < 3:
        return ms, values
    diffs = np.diff(ms)
    step = float(np.quantile(diffs, 0.1))  # the sampling step, robust to a few gaps
    at = np.flatnonzero(diffs > 1.5 * step) + 1
    if not at.size:
        return ms, values
    return np.insert(ms, at, ms[at - 1] + diffs[at - 1] / 2), np.insert(values, at, np.nan)


def _downsample(ms: np.ndarray, values: np.ndarray, limit: int) -> tuple[np.ndarray, np.ndarray]:
    """Each of ``limit // 2`` equal runs keeps its min and max (and a NaN gap marker)."""
    edges = np.linspace(0, len(ms), limit // 2 + 1).astype(np.int64)
    keep: list[int] = []
    for lo, hi in itertools.pairwise(edges):
        chunk = values[lo:hi]
        seen = ~np.isnan(chunk)
        picks = set()
        if seen.any():
            picks |= {int(np.argmin(np.where(seen, chunk, np.inf)))}
            picks |= {int(np.argmax(np.where(seen, chunk, -np.inf)))}
        if not seen.all():
            picks.add(int(np.argmin(seen)))
        keep.extend(lo + p for p in sorted(picks))
    index = np.asarray(keep, dtype=np.int64)
    return ms[index], values[index]


# -- histogram heatmap -----------------------------------------------------------------------


def heatmap_frame(bucket_frame: pd.DataFrame, *, share: bool = False) -> pd.DataFrame:
    """Cumulative ``le`` buckets over time → per-bucket values (rows: bounds, columns: times).

    Series with the same ``le`` and time are summed first (as ``sum by (le)`` would);
    each row then holds what fell in that bucket alone (cumulative minus the bucket
    below; small negatives from rate arithmetic are clipped to 0). The index is the
    upper bounds, ascending, ``inf`` last; the columns are the timestamps.

    Parameters
    ----------
    bucket_frame : pandas.DataFrame
        A query frame of ``rate()``/``increase()`` of a ``_bucket`` series.
    share : bool
        Divide each column by its total (columns with no observations become NaN).

    >>> import pandas as pd
    >>> t = pd.to_datetime([0, 0, 0], unit="s", utc=True)
    >>> df = pd.DataFrame({"timestamp": t, "value": [2.0, 5.0, 6.0],
    ...                    "le": pd.Categorical(["0.1", "0.5", "+Inf"])})
    >>> heatmap_frame(df).iloc[:, 0].tolist()
    [2.0, 3.0, 1.0]
    """
    if "le" not in bucket_frame.columns:
        raise ConfigError(
            "a heatmap needs histogram buckets with an `le` label, e.g. "
            "sum by (le) (rate(voicebot_llm_latency_seconds_bucket[5m])); "
            f"got labels {[c for c in bucket_frame.columns if c not in FIXED]}"
        )
    bounds = _bounds(bucket_frame["le"])
    cumulative = (
        pd.DataFrame(
            {"le": bounds, "timestamp": bucket_frame["timestamp"], "value": bucket_frame["value"]}
        )
        .groupby(["le", "timestamp"])["value"]
        .sum(min_count=1)
        .unstack("timestamp")
        .sort_index()
    )
    per_bucket = cumulative.diff().clip(lower=0)
    per_bucket.iloc[0] = cumulative.iloc[0]
    if share:
        totals = per_bucket.sum(min_count=1)
        per_bucket = per_bucket / totals.where(totals > 0)
    per_bucket.attrs = {**bucket_frame.attrs, "share": share}
    return per_bucket


def _bounds(le: pd.Series) -> np.ndarray:
    try:
        return np.array([float(v) for v in le.astype(str)], dtype=np.float64)
    except ValueError as exc:
        raise ConfigError(f"`le` labels must be numbers or +Inf like 0.5 or +Inf; {exc}") from exc


def _heatmap(frame: pd.DataFrame, options: Options) -> go.Figure:
    table = heatmap_frame(frame, share=options.share)
    ms, z = millis(table.columns.to_series()), table.to_numpy(np.float64)
    limit = options.max_points or max(_MIN_PER_TRACE, min(_PER_TRACE, _BUDGET // len(table)))
    if z.shape[1] > limit:
        log.debug("plot: heatmap has %d columns; averaging into %d", z.shape[1], limit)
        ms, z = _average_columns(ms, z, limit)
    labels = [_units.format_value(options.unit, b) for b in table.index]
    counts = (
        "percentunit" if options.share else _units.query_unit(str(frame.attrs.get("query") or ""))
    )
    shown = _units.display(counts if counts in ("percentunit", "cps") else "short", z)
    colourbar = {
        "title": {"text": "share" if options.share else shown.title or "count"},
        **({"tickformat": shown.tickformat} if shown.tickformat else {}),
    }
    fig = go.Figure(
        go.Heatmap(
            x=ms,
            y=labels,
            z=stable(shown.scale(z)),
            zmin=0.0,
            colorscale="Oranges",
            colorbar=colourbar,
            hovertemplate=f"%{{x}}<br>le %{{y}}<br>{shown.hovertemplate('z')}<extra></extra>",
        )
    )
    y_axis = {"type": "category", "categoryorder": "array", "categoryarray": labels}
    fig.update_layout(
        xaxis=_TIME_AXIS, yaxis={**y_axis, "title": {"text": "bucket upper bound (le)"}}
    )
    return fig


def _average_columns(ms: np.ndarray, z: np.ndarray, limit: int) -> tuple[np.ndarray, np.ndarray]:
    """``limit`` runs of adjacent columns, each the mean of its non-NaN cells, at its first time."""
    starts = np.array([run[0] for run in np.array_split(np.arange(z.shape[1]), limit)])
    seen = ~np.isnan(z)
    sums = np.add.reduceat(np.where(seen, z, 0.0), starts, axis=1)
    counts = np.add.reduceat(seen.astype(np.int64), starts, axis=1)
    with np.errstate(invalid="ignore", divide="ignore"):
        return ms[starts], np.where(counts > 0, sums / counts, np.nan)


# -- common ----------------------------------------------------------------------------------

_BUILDERS: dict[str, Callable[[pd.DataFrame, Options], go.Figure]] = {
    "timeseries": _timeseries,
    "stat": _single.stat,
    "gauge": _single.gauge,
    "bar": _single.bar,
    "pie": _single.pie,
    "heatmap": _heatmap,
}


def _title(frame: pd.DataFrame, title: str | None) -> str:
    if title is not None:
        return title
    text = " ".join(str(frame.attrs.get("query") or "").split())
    if len(text) > _TITLE_CHARS:
        text = text[: _TITLE_CHARS - 1] + "…"
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def _finish(fig: go.Figure, title: str, height: int) -> go.Figure:
    fig.update_layout(template=TEMPLATE, height=int(height))
    if title:
        fig.update_layout(title={"text": title})
    return fig
