"""Pure helpers of the demo's ground truth: instants, windows, label matching, tidy frames."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime, timedelta
from typing import Any, TypeAlias

import numpy as np
import pandas as pd

Match = Mapping[str, str | tuple[str, ...]]
Moment: TypeAlias = datetime | pd.Timestamp | float | int
Moments: TypeAlias = Moment | Sequence[Moment] | np.ndarray | pd.DatetimeIndex
Window: TypeAlias = float | timedelta | Sequence[float] | np.ndarray
LabelKey = tuple[tuple[str, str], ...]


def selected(key_labels: LabelKey, match: Match) -> bool:
    labels = dict(key_labels)
    for name, wanted in match.items():
        options = (wanted,) if isinstance(wanted, str) else wanted
        if labels.get(name) not in options:
            return False
    return True


def seconds(at: Moment) -> float:
    return float(at) if isinstance(at, int | float) else pd.Timestamp(at).timestamp()


def instants(ends: Moments) -> np.ndarray:
    """Unix seconds of one or many instants, as a float array."""
    if isinstance(ends, pd.DatetimeIndex):
        return ends.asi8 / 1e9 if ends.tz is not None else ends.tz_localize("UTC").asi8 / 1e9
    if isinstance(ends, datetime | pd.Timestamp | int | float):
        return np.array([seconds(ends)])
    return np.array([seconds(e) for e in ends], dtype=np.float64)


def window_seconds(window: Window) -> np.ndarray:
    """Seconds of one window or one per end (numbers, or timedeltas)."""
    if isinstance(window, timedelta):  # pd.Timedelta too
        return np.asarray(window.total_seconds())
    return np.asarray(window, dtype=np.float64)


def tidy(rows: dict[tuple[str, ...], dict[str, np.ndarray]], by: Sequence[str], ends: np.ndarray):
    """A tidy frame from ``{label values: {column: values per end}}``, sorted as obskit sorts."""
    parts = []
    stamps = pd.to_datetime(np.round(ends * 1e3).astype(np.int64), unit="ms", utc=True).as_unit(
        "ns"
    )
    for key in sorted(rows):
        part = pd.DataFrame({"timestamp": stamps, **rows[key]})
        for label, value in zip(by, key, strict=True):
            part[label] = value
        parts.append(part)
    if not parts:
        return pd.DataFrame({"timestamp": pd.to_datetime([], utc=True), "value": []})
    out = pd.concat(parts, ignore_index=True)
    for label in by:
        out[label] = out[label].astype("category")
    return out


def order_stats(window: np.ndarray, q: float) -> tuple[float, float, float]:
    """Linear q-quantile, and the observations of rank ceil(q·n) and (on a tie) the next."""
    n = window.size
    if n == 0:
        return (np.nan, np.nan, np.nan)
    ordered = np.sort(window)
    pos = q * (n - 1)
    below = int(np.floor(pos))
    above = min(below + 1, n - 1)
    linear = ordered[below] + (ordered[above] - ordered[below]) * (pos - below)
    rank = max(int(np.ceil(q * n - 1e-9)), 1)  # 1-based rank of the located observation
    tie = abs(q * n - round(q * n)) < 1e-9
    return (float(linear), float(ordered[rank - 1]), float(ordered[min(rank + tie, n) - 1]))


def label_names(store: Mapping[tuple[str, LabelKey], Any]) -> dict[str, list[str]]:
    names: dict[str, set[str]] = {}
    for name, labels in store:
        names.setdefault(name, set()).update(k for k, _ in labels)
    return {name: sorted(labels) for name, labels in names.items()}
