"""Pure conversions: Prometheus response data -> tidy long DataFrame, and a wide pivot.

The long frame is obskit's data contract: ``timestamp`` (``datetime64[ns, UTC]``),
``value`` (``float64``; ``NaN``/``+Inf``/``-Inf`` parsed), then one categorical column
per label (``__name__`` first, the rest alphabetical), sorted by labels then time.
``df.attrs`` holds ``query``, ``params``, ``warnings``, ``infos`` and ``result_type``.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence
from itertools import chain
from operator import itemgetter
from typing import Any

import numpy as np
import pandas as pd

from .client._matrix import Columns
from .errors import ConfigError
from .promql._expr import Expr

__all__ = ["columns_frame", "columns_of", "matrix_frame", "to_frame", "wide"]

_FIXED = ("timestamp", "value")
_LEGEND_FIELD = re.compile(r"\{\{\s*([a-zA-Z_][a-zA-Z0-9_]*)\s*\}\}")
_TS_DTYPE = pd.DatetimeTZDtype("ns", "UTC")


def to_frame(
    data: Mapping[str, Any],
    *,
    query: str = "",
    params: Mapping[str, Any] | None = None,
    warnings: Sequence[str] = (),
    infos: Sequence[str] = (),
    step: float | None = None,
) -> pd.DataFrame:
    """The tidy long DataFrame for a ``data`` object of a query or range-query response.

    Parameters
    ----------
    data : mapping
        Prometheus' ``data``: ``{"resultType": ..., "result": ...}``. A matrix result may
        list the same series several times (one entry per fetched chunk); their samples
        are stitched in time order.
    query, params, warnings, infos
        Recorded in ``df.attrs``.
    step : float, optional
        The range query's step in seconds. When given, series without gaps get their
        timestamps from the step grid instead of one Python float per sample (faster).

    Returns
    -------
    pandas.DataFrame
        ``timestamp``, ``value``, then one categorical column per label. A ``string``
        result keeps its text in ``value``.

    >>> data = {"resultType": "vector", "result": [
    ...     {"metric": {"__name__": "up", "job": "node"}, "value": [1771092000, "1"]}]}
    >>> df = to_frame(data, query="up")
    >>> df.columns.tolist(), df["value"].tolist(), df.attrs["result_type"]
    (['timestamp', 'value', '__name__', 'job'], [1.0], 'vector')
    """
    kind = data.get("resultType")
    result = data.get("result")
    if kind == "matrix":
        frame = _series_frame(result or [], "values", step)
    elif kind == "vector":
        frame = _series_frame(result or [], "value")
    elif kind in ("scalar", "string"):
        frame = _single_frame(result, text=kind == "string")
    else:
        raise ConfigError(
            f"response data must have resultType matrix, vector, scalar or string; got {kind!r}"
        )
    frame.attrs = _attrs(kind, query, params, warnings, infos)
    return _with_promised_labels(frame, query)


def matrix_frame(
    parts: Sequence[Columns | Sequence[Mapping[str, Any]]],
    *,
    query: str = "",
    params: Mapping[str, Any] | None = None,
    warnings: Sequence[str] = (),
    infos: Sequence[str] = (),
    step: float | None = None,
) -> pd.DataFrame:
    """The frame of a range query fetched in parts (chunks), stitched in time order.

    Each part is the ``result`` of one response: a list of series as Prometheus sends
    them, or the :class:`~obskit._matrix.Columns` the fast parser made of it.

    >>> part = [{"metric": {"job": "a"}, "values": [[1771092000, "1"]]}]
    >>> matrix_frame([part, part], query="up")["value"].tolist()
    [1.0, 1.0]
    """
    columns = [p if isinstance(p, Columns) else columns_of(p, "values", step) for p in parts]
    frame = columns_frame(columns)
    frame.attrs = _attrs("matrix", query, params, warnings, infos)
    return _with_promised_labels(frame, query)


def _with_promised_labels(frame: pd.DataFrame, query: str) -> pd.DataFrame:
    """An empty result with the label columns its query promises (``by (...)`` labels).

    A cell that selects ``frame["component"]`` then works on a server without the data.

    >>> empty = {"resultType": "matrix", "result": []}
    >>> to_frame(empty, query="max by (component) (x)").columns.tolist()
    ['timestamp', 'value', 'component']
    """
    if (
        not frame.empty
        or not query.strip()
        or frame.attrs.get("result_type") not in ("matrix", "vector")
    ):
        return frame
    expr = Expr.of(query)
    if expr.syntax_error is not None:
        return frame
    missing = [label for label in expr.implied_labels if label not in frame.columns]
    for label in missing:
        frame[label] = pd.Categorical([], categories=pd.Index([], dtype=str))
    return frame


def _attrs(
    kind: Any,
    query: str,
    params: Mapping[str, Any] | None,
    warnings: Sequence[str],
    infos: Sequence[str],
) -> dict[str, Any]:
    return {
        "query": query,
        "params": dict(params or {}),
        "warnings": list(warnings),
        "infos": list(infos),
        "result_type": kind,
    }


def empty_frame() -> pd.DataFrame:
    """A frame with the contract's fixed columns and no rows."""
    return pd.DataFrame(
        {
            "timestamp": pd.Series([], dtype=_TS_DTYPE),
            "value": pd.Series([], dtype=np.float64),
        }
    )


def _series_frame(
    result: Sequence[Mapping[str, Any]], key: str, step: float | None = None
) -> pd.DataFrame:
    return columns_frame([columns_of(result, key, step)])


def columns_of(
    result: Sequence[Mapping[str, Any]], key: str = "values", step: float | None = None
) -> Columns:
    """The samples of a parsed ``matrix`` (``key="values"``) or ``vector`` (``"value"``).

    Native-histogram samples (``"histogram"``, ``"histograms"``) are not converted:
    such series keep their labels but contribute no rows.

    >>> columns_of([{"metric": {"job": "a"}, "value": [1771092000, "2"]}], "value").values
    array([2.])
    """
    if key == "value":
        samples: list[Sequence[Any]] = [[s["value"]] if "value" in s else [] for s in result]
    else:
        samples = [s.get("values") or [] for s in result]
    counts = np.fromiter(map(len, samples), np.int64, len(samples))
    total = int(counts.sum())
    pairs = chain.from_iterable(samples)
    values = np.fromiter(map(float, map(itemgetter(1), pairs)), np.float64, total)
    metrics = [s.get("metric") or {} for s in result]
    return Columns(metrics, counts, _seconds(samples, total, step), values)


def columns_frame(parts: Sequence[Columns]) -> pd.DataFrame:
    """The contract's frame (without attrs) for the samples of one or more :class:`Columns`.

    Series are sorted by label values (a missing label last), then by their first
    timestamp, so pieces of one series from several chunks are stitched in time order.
    Each part's samples are copied once, straight to their place in the frame.

    >>> cols = columns_of([{"metric": {"job": "b"}, "values": [[1771092000, "1"]]},
    ...                    {"metric": {"job": "a"}, "values": [[1771092000, "2"]]}])
    >>> columns_frame([cols])["job"].tolist()
    ['a', 'b']
    """
    metrics = [m for p in parts for m in p.metrics]
    counts = np.concatenate([p.counts for p in parts]) if parts else np.empty(0, np.int64)
    if not counts.sum():
        return empty_frame()
    names = _label_names(metrics)
    codes, categories = _label_codes(metrics, names)
    order = _series_order(codes, _first_times(parts))
    seconds, values = _placed(parts, counts, order)
    frame = pd.DataFrame({"timestamp": _timestamps(seconds), "value": values}, copy=False)
    del seconds
    for name, series_codes, cats in zip(names, codes, categories, strict=True):
        rows = np.repeat(series_codes[order], counts[order])
        frame[name] = pd.Categorical.from_codes(rows, categories=pd.Index(cats, dtype=str))
    return frame


def _first_times(parts: Sequence[Columns]) -> np.ndarray:
    """Each series' first sample time (0 for a series without samples)."""
    found = []
    for part in parts:
        first = np.zeros(len(part.counts))
        has = part.counts > 0
        first[has] = part.times[(np.cumsum(part.counts) - part.counts)[has]]
        found.append(first)
    return np.concatenate(found)


def _placed(
    parts: Sequence[Columns], counts: np.ndarray, order: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """Times and values of every part, series in ``order``: one copy, no concatenation."""
    if len(parts) == 1 and np.array_equal(order, np.arange(len(order))):
        return parts[0].times, np.require(parts[0].values, requirements="W")
    moved = counts[order]
    target = np.empty(len(order), np.int64)
    target[order] = np.cumsum(moved) - moved  # where each series (input order) starts
    seconds, values = np.empty(int(counts.sum())), np.empty(int(counts.sum()))
    first = 0
    for part in parts:
        n = len(part.counts)
        local = np.cumsum(part.counts) - part.counts
        place = _copy_runs if n <= _RUNS_UP_TO else _scatter
        place(part, local, target[first : first + n], seconds, values)
        first += n
    return seconds, values


#: Up to this many series per part, each series is copied with a slice (no index arrays).
_RUNS_UP_TO = 20_000


def _copy_runs(
    part: Columns, local: np.ndarray, target: np.ndarray, seconds: np.ndarray, values: np.ndarray
) -> None:
    for src, dst, n in zip(local.tolist(), target.tolist(), part.counts.tolist(), strict=True):
        seconds[dst : dst + n] = part.times[src : src + n]
        values[dst : dst + n] = part.values[src : src + n]


def _scatter(
    part: Columns, local: np.ndarray, target: np.ndarray, seconds: np.ndarray, values: np.ndarray
) -> None:
    dest = np.repeat(target - local, part.counts)
    dest += np.arange(len(dest))
    seconds[dest], values[dest] = part.times, part.values


def _label_names(metrics: Iterable[Mapping[str, str]]) -> list[str]:
    names = set().union(*metrics)
    return sorted(names, key=lambda n: (n != "__name__", n))


def _label_codes(
    metrics: Sequence[Mapping[str, str]], names: Sequence[str]
) -> tuple[list[np.ndarray], list[list[str]]]:
    """Per label: each series' category code (-1 when missing) and the sorted categories."""
    codes, categories = [], []
    for name in names:
        values = [m.get(name) for m in metrics]
        cats = sorted({v for v in values if v is not None})
        index: dict[str | None, int] = {v: i for i, v in enumerate(cats)}
        dtype = np.int8 if len(cats) < 127 else np.int16 if len(cats) < 32767 else np.int32
        codes.append(np.fromiter((index.get(v, -1) for v in values), dtype, len(values)))
        categories.append(cats)
    return codes, categories


def _series_order(codes: Sequence[np.ndarray], first: np.ndarray) -> np.ndarray:
    """Series sorted by label values (missing last), then by their first timestamp."""
    keys = [np.where(c < 0, np.iinfo(np.int32).max, c.astype(np.int32)) for c in codes]
    return np.lexsort([first, *reversed(keys)])


def _seconds(samples: Sequence[Sequence[Any]], count: int, step: float | None) -> np.ndarray:
    """Sample times; a series without gaps on the step grid is built with ``arange``."""
    if not step:
        return np.fromiter(map(itemgetter(0), chain.from_iterable(samples)), np.float64, count)
    parts = [
        s[0][0] + np.arange(len(s)) * step
        if _without_gaps(s, step)
        else np.fromiter(map(itemgetter(0), s), np.float64, len(s))
        for s in samples
    ]
    return np.concatenate(parts) if parts else np.empty(0)


def _without_gaps(samples: Sequence[Any], step: float) -> bool:
    """Whether a range-query series has a sample at every step from its first to its last.

    Range-query samples lie on the step grid, so a count equal to the span in steps
    proves there is no gap; the middle sample is checked too, as a guard.
    """
    n = len(samples)
    if n < 3:
        return False
    first = samples[0][0]
    if round((samples[-1][0] - first) / step) + 1 != n:
        return False
    return abs(samples[n // 2][0] - (first + (n // 2) * step)) < 5e-4


def _timestamps(seconds: np.ndarray) -> pd.DatetimeIndex:
    """Unix seconds (millisecond precision, as Prometheus sends them) as UTC timestamps."""
    millis = seconds * 1000.0
    np.rint(millis, out=millis)
    nanos = millis.astype(np.int64)
    del millis
    nanos *= 1_000_000
    return pd.DatetimeIndex(nanos.view("M8[ns]"), copy=False).tz_localize("UTC")


def _single_frame(result: Sequence[Any] | None, *, text: bool) -> pd.DataFrame:
    if not result:
        return empty_frame()
    seconds = np.array([float(result[0])])
    value = pd.Series([str(result[1])], dtype=str) if text else np.array([float(result[1])])
    return pd.DataFrame({"timestamp": _timestamps(seconds), "value": value})


def wide(df: pd.DataFrame, legend: str | None = None) -> pd.DataFrame:
    """Pivot a long frame to one column per series, indexed by timestamp.

    Column names come from ``legend``, a Grafana-style format such as
    ``"{{provider}} p95"`` (a missing label gives an empty string), or else from the
    labels whose values differ between series: one such label gives its value,
    several give ``"label=value, ..."``; a single series is named after ``__name__``
    (or ``value``).

    >>> data = {"resultType": "vector", "result": [
    ...     {"metric": {"provider": "azure"}, "value": [1771092000, "0.4"]},
    ...     {"metric": {"provider": "elevenlabs"}, "value": [1771092000, "0.3"]}]}
    >>> wide(to_frame(data), legend="{{provider}} p95").columns.tolist()
    ['azure p95', 'elevenlabs p95']
    """
    labels = [c for c in df.columns if c not in _FIXED]
    if not labels:
        name = legend or "value"
        out = df.set_index("timestamp")[["value"]].rename(columns={"value": name})
        out.attrs = dict(df.attrs)
        return out
    ids = df.groupby(labels, observed=True, sort=False, dropna=False).ngroup().to_numpy()
    firsts = df[labels].iloc[np.unique(ids, return_index=True)[1]]
    names = _series_names(firsts.astype(object).to_dict("records"), legend)
    _check_unique(names, legend)
    out = pd.DataFrame({"timestamp": df["timestamp"], "series": np.array(names)[ids]})
    out["value"] = df["value"].to_numpy()
    pivot = out.pivot(index="timestamp", columns="series", values="value")
    pivot = pivot[names]
    pivot.columns.name = None
    pivot.attrs = {**df.attrs, "legend": legend}
    return pivot


def _series_names(rows: list[dict[str, Any]], legend: str | None) -> list[str]:
    present = [{k: str(v) for k, v in row.items() if not pd.isna(v)} for row in rows]
    if legend is not None:
        return [_format_legend(legend, r) for r in present]
    keys = sorted({k for r in present for k in r}, key=lambda n: (n != "__name__", n))
    varying = [k for k in keys if len({r.get(k) for r in present}) > 1]
    if not varying:
        return [r.get("__name__", "value") for r in present]
    if len(varying) == 1:
        return [r.get(varying[0], "") for r in present]
    return [", ".join(f"{k}={r[k]}" for k in varying if k in r) for r in present]


def _format_legend(legend: str, labels: Mapping[str, str]) -> str:
    return _LEGEND_FIELD.sub(lambda m: labels.get(m.group(1), ""), legend)


def _check_unique(names: list[str], legend: str | None) -> None:
    seen: set[str] = set()
    for name in names:
        if name in seen:
            raise ConfigError(
                f"legend {legend!r} gives two series the same column name {name!r}; "
                "use a legend with the labels that tell them apart, e.g. '{{provider}} {{model}}'"
            )
        seen.add(name)
