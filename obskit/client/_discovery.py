"""Pure shaping of discovery answers: metric descriptions and series counts as DataFrames."""

from __future__ import annotations

from collections.abc import Iterable, Mapping

import pandas as pd

from ..catalog import find_metric

__all__ = ["describe_metrics", "series_per_name"]

METRIC_COLUMNS = ["name", "type", "help", "unit", "source"]
_FAMILY_SUFFIXES = ("_bucket", "_sum", "_count", "_total", "_created", "_info")


def describe_metrics(names: Iterable[str], metadata: Iterable[Mapping[str, str]]) -> pd.DataFrame:
    """One row per metric name: Prometheus' metadata if it has some, else obskit's catalog.

    ``metadata`` holds prometheus-api-client's entries (``metric_name``, ``type``,
    ``help``, ``unit``). ``source`` says where a row's facts come from: ``prometheus``,
    ``catalog`` or ``unknown``.

    >>> describe_metrics(["voicebot_active_calls", "x"], [])["source"].tolist()
    ['catalog', 'unknown']
    """
    by_family = {entry["metric_name"]: entry for entry in metadata}
    rows = [_describe(name, by_family) for name in sorted(set(names))]
    return pd.DataFrame(rows, columns=METRIC_COLUMNS)


def _describe(name: str, metadata: Mapping[str, Mapping[str, str]]) -> dict[str, str]:
    for family in _families(name):
        if family in metadata:
            entry = metadata[family]
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
