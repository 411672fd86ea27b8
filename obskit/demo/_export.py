"""Raw samples from VictoriaMetrics' ``/api/v1/export``: its fast path for ``obskit freeze``.

``GET /api/v1/export?match[]=...&start=&end=`` answers one JSON line per series,
``{"metric": {...}, "values": [...], "timestamps": [...]}``, with both bounds
inclusive. The values are bare JSON numbers except ``+Inf``/``-Inf`` (bare words, not
JSON) and ``null`` (NaN, which the query API writes as ``"NaN"``), and integers may be
longer than 64 bits (``1.7976931348623157e308`` comes as 309 digits). The lines are
turned into the same :class:`~obskit.client._raw.Window` the query-API path reads.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import TYPE_CHECKING

import numpy as np
import orjson

from ..client._raw import Unavailable, Window, _transport

if TYPE_CHECKING:
    from ..client import Client

__all__ = ["is_victoria", "parse_line", "read_window"]

_VALUES, _TIMES = b'},"values":[', b'],"timestamps":['
_SPECIAL = ((b"+Inf", b'"inf"'), (b"-Inf", b'"-inf"'), (b"null", b'"nan"'))


def is_victoria(client: Client) -> bool:
    """VictoriaMetrics answers ``/api/v1/status/buildinfo`` with an empty mapping."""
    from ..errors import ObskitError
    from ..promql._dialect import dialect_of

    try:
        return dialect_of(client.build_info()) == "victoriametrics"
    except ObskitError:
        return False


def _numbers(text: bytes, dtype: type) -> np.ndarray:
    try:
        return np.array(orjson.loads(b"[" + text + b"]"), dtype)
    except orjson.JSONDecodeError:
        for word, quoted in _SPECIAL:
            text = text.replace(word, quoted)
        try:
            parsed = orjson.loads(b"[" + text + b"]")
        except orjson.JSONDecodeError:  # integers over 64 bits
            parsed = json.loads(b"[" + text + b"]")
        return np.array(parsed, dtype)


def parse_line(line: bytes) -> tuple[dict[str, str], np.ndarray, np.ndarray]:
    """One export line: labels, timestamps (ms), values.

    >>> parse_line(b'{"metric":{"le":"+Inf"},"values":[1,+Inf,null],"timestamps":[1,2,3]}')
    ({'le': '+Inf'}, array([1, 2, 3]), array([ 1., inf, nan]))
    """
    # no label value holds an unescaped quote: the first '},"values":[' ends the metric
    split = line.index(_VALUES)
    middle = line.index(_TIMES, split)
    metric = orjson.loads(line[len(b'{"metric":') : split + 1])
    values = _numbers(line[split + len(_VALUES) : middle], np.float64)
    times = _numbers(line[middle + len(_TIMES) : line.rindex(b"]")], np.int64)
    if len(values) != len(times):
        raise ValueError(f"{len(values)} values for {len(times)} timestamps")
    return {str(k): str(v) for k, v in metric.items()}, times, values


def read_window(client: Client, selectors: Sequence[str], lo_ms: int, hi_ms: int) -> Window:
    """Every stored sample of the series matching any selector with ``lo_ms < t <= hi_ms``.

    A series split over several lines is joined in time order.
    """
    params = {"match[]": list(selectors), "start": f"{(lo_ms + 1) / 1000:.3f}", "end": f"{hi_ms / 1000:.3f}"}  # fmt: skip
    series: dict[tuple[tuple[str, str], ...], list[tuple[np.ndarray, np.ndarray]]] = {}
    post = _transport(client).post_raw
    try:
        with post(
            "export", "export", data=params, stream=True, headers={"Accept-Encoding": "identity"}
        ) as response:  # gzip: 2.2 s, not 0.9 s
            if response.status_code != 200:
                raise Unavailable(f"HTTP {response.status_code}: {response.text.strip()[:200]}")
            # parsed while the server still writes: a line is one series (~400 kB a week)
            for line in response.iter_lines(chunk_size=1 << 20):
                if line:
                    labels, times, values = parse_line(line)
                    series.setdefault(tuple(sorted(labels.items())), []).append((times, values))
    except (ValueError, TypeError) as exc:  # orjson's errors are ValueErrors
        raise Unavailable(f"the answer is not export lines ({exc})") from None
    return _window(series, lo_ms, hi_ms)


def _window(
    series: dict[tuple[tuple[str, str], ...], list[tuple[np.ndarray, np.ndarray]]],
    lo_ms: int,
    hi_ms: int,
) -> Window:
    metrics, counts, all_times, all_values = [], [], [], []
    for key, parts in series.items():
        times = np.concatenate([t for t, _ in parts])
        values = np.concatenate([v for _, v in parts])
        if len(parts) > 1:
            order = np.argsort(times, kind="stable")
            times, values = times[order], values[order]
        keep = (times > lo_ms) & (times <= hi_ms)
        metrics.append(dict(key))
        counts.append(int(keep.sum()))
        all_times.append(times[keep])
        all_values.append(values[keep])
    if not metrics:
        return Window([], np.empty(0, np.int64), np.empty(0, np.int64), np.empty(0))
    return Window(metrics, np.array(counts, np.int64), np.concatenate(all_times),
                  np.concatenate(all_values))  # fmt: skip
