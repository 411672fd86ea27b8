"""Read raw stored samples, series, metadata and counts through a Client's session (for freeze).

Raw samples come from an instant query of a range selector (``sel[2h]`` at ``time=T``):
Prometheus and VictoriaMetrics answer it with every stored sample of the window. Windows
are left-closed in Prometheus 2.x and left-open in 3.x and VictoriaMetrics, so
:func:`read_window` asks for a little more and keeps only ``lo < t <= hi``: joined windows
neither lose nor repeat the sample on their shared edge.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

import numpy as np

from ._envelope import gc_paused
from ._http import Transport
from ._matrix import Columns

if TYPE_CHECKING:
    from ._client import Client

__all__ = ["Unavailable", "Window", "count_samples", "metadata", "read_window", "series"]

log = logging.getLogger("obskit")


class Unavailable(Exception):
    """The server lacks a raw API (remote read, export) or answered it with something else."""


class Window:
    """Samples of one window: ``metrics[i]`` owns ``counts[i]`` consecutive (ms, value) pairs."""

    __slots__ = ("counts", "metrics", "times_ms", "values")

    def __init__(
        self,
        metrics: list[dict[str, str]],
        counts: np.ndarray,
        times_ms: np.ndarray,
        values: np.ndarray,
    ) -> None:
        self.metrics, self.counts, self.times_ms, self.values = metrics, counts, times_ms, values


def _transport(client: Client) -> Transport:
    """The client's one transport (its session, retries and error table)."""
    found = getattr(client, "_http", None)
    return found if isinstance(found, Transport) else Transport(client.session, client.settings)


def _call(client: Client, path: str, params: Mapping[str, Any], what: str, **kwargs: Any) -> Any:
    return _transport(client).call(path, params, what, **kwargs).data


def read_window(client: Client, selector: str, lo_ms: int, hi_ms: int) -> Window:
    """Every stored sample of series matching ``selector`` with ``lo_ms < t <= hi_ms``.

    >>> window = read_window(client, 'up{job="node"}', 0, 7_200_000)  # doctest: +SKIP
    """
    span = hi_ms - lo_ms + 1  # one ms more: left-open servers then still include lo + 1
    what = f"{selector}[{span}ms]"
    params = {"query": what, "time": f"{hi_ms / 1000:.3f}"}
    with gc_paused():
        data = _call(client, "query", params, what, matrix=True)
    result = data.get("result") if isinstance(data, dict) else None
    if isinstance(result, Columns):
        metrics, counts, times, values = result
    else:
        metrics, counts, times, values = _columns(result or [])
    times_ms = np.round(times * 1000).astype(np.int64)
    keep = (times_ms > lo_ms) & (times_ms <= hi_ms)
    if not keep.all():
        owner = np.repeat(np.arange(len(counts)), counts)
        counts = np.bincount(owner[keep], minlength=len(counts)).astype(np.int64)
        times_ms, values = times_ms[keep], values[keep]
    return Window(list(metrics), np.asarray(counts, np.int64), times_ms, np.asarray(values))


def _columns(
    result: Sequence[Mapping[str, Any]],
) -> tuple[list[dict[str, str]], np.ndarray, np.ndarray, np.ndarray]:
    """The small-answer path: orjson's lists into the same columns."""
    metrics = [dict(s.get("metric") or {}) for s in result]
    pairs = [s.get("values") or [] for s in result]
    counts = np.array([len(p) for p in pairs], np.int64)
    flat = [point for p in pairs for point in p]
    times = np.array([float(t) for t, _ in flat], np.float64)
    values = np.array([float(v) for _, v in flat], np.float64)
    return metrics, counts, times, values


def series(
    client: Client, selectors: Sequence[str], start_ms: int | None, end_ms: int | None
) -> list[dict[str, str]]:
    """Label sets of the series matching any selector (in ``[start, end]`` when given)."""
    params: dict[str, Any] = {"match[]": list(selectors)}
    if start_ms is not None and end_ms is not None:
        params |= {"start": f"{start_ms / 1000:.3f}", "end": f"{end_ms / 1000:.3f}"}
    found = _call(client, "series", params, " ".join(selectors)) or []
    return [dict(s) for s in found]


def count_samples(
    client: Client, selector: str, names: Sequence[str], start_ms: int, end_ms: int
) -> int:
    """Samples of ``selector`` in ``[start, end]``, counted by the server (no samples sent).

    ``count_over_time`` drops the metric name, so a selector over several names is
    counted per name (``names``: those it matches), a batch of names per request.
    """
    span = end_ms - start_ms + 1
    if not selector.lstrip().startswith("{") or len(names) <= 1:
        return _sum(client, f"sum(count_over_time({selector}[{span}ms]))", end_ms)
    inner = selector.strip()[1:]
    total = 0
    for lo in range(0, len(names), _NAMES_PER_REQUEST):
        parts = [
            f'label_replace(sum(count_over_time({{__name__="{name}",{inner}[{span}ms])),'
            f' "__obskit_name", "{name}", "", "")'
            for name in names[lo : lo + _NAMES_PER_REQUEST]
        ]
        total += _sum(client, f"sum({' or '.join(parts)})", end_ms)
    return total


_NAMES_PER_REQUEST = 50


def _sum(client: Client, expr: str, at_ms: int) -> int:
    data = _call(client, "query", {"query": expr, "time": f"{at_ms / 1000:.3f}"}, expr)
    result = data.get("result") if isinstance(data, dict) else None
    if not result:
        return 0
    return int(float(result[0]["value"][1]))


def metadata(client: Client) -> dict[str, list[dict[str, str]]]:
    """``/api/v1/metadata``: metric family -> entries (``type``, ``help``, ``unit``)."""
    data = _call(client, "metadata", {}, "metadata", post=False)
    return {str(k): [dict(e) for e in v] for k, v in (data or {}).items()}
