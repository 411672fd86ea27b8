"""Pure shaping of discovery answers: metric descriptions and series counts as DataFrames."""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import Any

import pandas as pd

from ..catalog import find_metric

__all__ = ["describe_metrics", "series_per_name", "targets_table"]

METRIC_COLUMNS = ["name", "type", "help", "unit", "source"]
TARGET_COLUMNS = ["job", "instance", "health", "scrape_url", "last_scrape", "last_error"]
_FAMILY_SUFFIXES = ("_bucket", "_sum", "_count", "_total", "_created", "_info")


def describe_metrics(
    names: Iterable[str], metadata: Mapping[str, Sequence[Mapping[str, str]]]
) -> pd.DataFrame:
    """One row per metric name: Prometheus' metadata if it has some, else obskit's catalog.

    ``metadata`` is the ``data`` of ``/api/v1/metadata``: metric family -> its entries
    (``type``, ``help``, ``unit``; the last is used). ``source`` says where a row's facts
    come from: ``prometheus``, ``catalog`` or ``unknown``.

    >>> describe_metrics(["voicebot_active_calls", "x"], {})["source"].tolist()
    ['catalog', 'unknown']
    """
    rows = [_describe(name, metadata) for name in sorted(set(names))]
    return pd.DataFrame(rows, columns=METRIC_COLUMNS)


def _describe(name: str, metadata: Mapping[str, Sequence[Mapping[str, str]]]) -> dict[str, str]:
    for family in _families(name):
        if metadata.get(family):
            entry = metadata[family][-1]  # as before: the last entry of a family
            facts = (entry.get("type", "unknown"), entry.get("help", ""), entry.get("unit", ""))
            return dict(zip(METRIC_COLUMNS, (name, *facts, "prometheus"), strict=True))
    known = find_metric(name)
    if known is not None:
        facts = (known.type, known.help, known.unit)
        return dict(zip(METRIC_COLUMNS, (name, *facts, "catalog"), strict=True))
    return dict(zip(METRIC_COLUMNS, (name, "unknown", "", "", "unknown"), strict=True))


def _families(name: str) -> list[str]:
    """``name`` and the family names it may be reported under in metadata."""
    return [name] + [name.removesuffix(s) for s in _FAMILY_SUFFIXES if name.endswith(s)]


def series_per_name(series: pd.DataFrame) -> pd.DataFrame:
    """How many series each ``__name__`` has in a :meth:`Client.series` table, largest first.

    >>> series_per_name(pd.DataFrame({"__name__": ["up", "up", "x"]})).to_dict("list")
    {'name': ['up', 'x'], 'series': [2, 1]}
    """
    if series.empty or "__name__" not in series:
        return pd.DataFrame({"name": pd.Series([], dtype=str), "series": pd.Series([], dtype=int)})
    counts = series["__name__"].value_counts().rename_axis("name").reset_index(name="series")
    return counts.sort_values(["series", "name"], ascending=[False, True], ignore_index=True)


def targets_table(data: Any) -> pd.DataFrame:
    """One row per active target of a ``/api/v1/targets`` answer, sorted by job and instance.

    >>> targets_table({"activeTargets": [{"labels": {"job": "a", "instance": "h:1"},
    ...     "health": "up", "scrapeUrl": "http://h:1/metrics", "lastError": ""}]}).iloc[0, :3].tolist()
    ['a', 'h:1', 'up']
    """
    active = data.get("activeTargets") if isinstance(data, dict) else None
    rows = [
        {
            "job": t.get("labels", {}).get("job", t.get("scrapePool", "")),
            "instance": t.get("labels", {}).get("instance", ""),
            "health": t.get("health", "unknown"),
            "scrape_url": t.get("scrapeUrl", ""),
            "last_scrape": pd.to_datetime(t.get("lastScrape"), utc=True, errors="coerce"),
            "last_error": t.get("lastError", ""),
        }
        for t in active or ()
    ]
    table = pd.DataFrame(rows, columns=TARGET_COLUMNS)
    return table.sort_values(["job", "instance"], ignore_index=True)
