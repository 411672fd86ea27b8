"""Small, pure analyses over query frames that notebooks use to state findings from the data."""

from __future__ import annotations

import numpy as np
import pandas as pd

from ._time import parse_duration
from .errors import ConfigError

__all__ = ["periods"]

_COLUMNS = ["start", "end", "minutes", "peak"]


def periods(
    frame: pd.DataFrame,
    *,
    above: float | None = None,
    below: float | None = None,
    min_duration: str | float = 0,
    max_gap: str | float | None = None,
) -> pd.DataFrame:
    """Contiguous periods where a series is above (or below) a threshold.

    Works on a range-query frame (``timestamp``, ``value``, label columns); one row per period
    and series, with the label columns first. A period runs from its first to its last
    matching sample; samples further apart than ``max_gap`` (default: 1.5 × the frame's step)
    split it. NaN never matches.

    >>> import pandas as pd
    >>> ts = pd.date_range("2026-02-12T13:00Z", periods=6, freq="min")
    >>> f = pd.DataFrame({"timestamp": ts, "value": [1, 4, 5, 4, 1, 1.0]})
    >>> periods(f, above=3)[["start", "end", "minutes"]].to_dict("records")[0]["minutes"]
    2.0
    """
    if (above is None) == (below is None):
        raise ConfigError("periods() needs exactly one of above= or below=, e.g. above=3.0")
    labels = [c for c in frame.columns if c not in ("timestamp", "value")]
    shortest = (
        parse_duration(min_duration) if isinstance(min_duration, str) else float(min_duration)
    )
    rows = []
    groups = frame.groupby(labels, observed=True, sort=True) if labels else [((), frame)]
    for key, part in groups:
        part = part.sort_values("timestamp")
        values = part["value"].to_numpy(dtype=float)
        hit = values > above if above is not None else values < below
        times = part["timestamp"].to_numpy()
        gap = _gap(times, max_gap)
        for lo, hi in _runs(hit, times, gap):
            minutes = (times[hi] - times[lo]) / np.timedelta64(1, "m")
            if minutes * 60 < shortest:
                continue
            peak = values[lo : hi + 1].max() if above is not None else values[lo : hi + 1].min()
            keys = key if isinstance(key, tuple) else (key,)
            rows.append(
                [
                    *keys,
                    pd.Timestamp(times[lo]),
                    pd.Timestamp(times[hi]),
                    float(minutes),
                    float(peak),
                ]
            )
    out = pd.DataFrame(rows, columns=[*labels, *_COLUMNS])
    for col in ("start", "end"):
        out[col] = pd.to_datetime(out[col], utc=True)
    return out


def _gap(times: np.ndarray, max_gap: str | float | None) -> np.timedelta64:
    if max_gap is not None:
        seconds = parse_duration(max_gap) if isinstance(max_gap, str) else float(max_gap)
        return np.timedelta64(int(seconds * 1e9), "ns")
    if len(times) < 2:
        return np.timedelta64(0, "ns")
    step = np.min(np.diff(times))
    return step + step // 2


def _runs(hit: np.ndarray, times: np.ndarray, gap: np.timedelta64) -> list[tuple[int, int]]:
    runs: list[tuple[int, int]] = []
    start = None
    for i, flag in enumerate(hit):
        if flag and start is not None and times[i] - times[i - 1] > gap:
            runs.append((start, i - 1))
            start = None
        if flag and start is None:
            start = i
        elif not flag and start is not None:
            runs.append((start, i - 1))
            start = None
    if start is not None:
        runs.append((start, len(hit) - 1))
    return runs
