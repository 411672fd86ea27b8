"""Parse a range query's JSON body into numpy columns, with no Python object per sample.

A matrix response is a little structure (envelope, one label set per series) around a
great many samples, each ``[<unix seconds>,"<value>"]``. The samples of every series are
cut out of the body, turned into CSV text by one ``bytes.translate`` pass and read by
pandas' C parser; the rest (envelope, labels, warnings) is small and goes to orjson.
Anything unexpected makes :func:`parse` return ``None``: the caller then parses the
whole document with orjson, which is slower and larger but never wrong.
"""

from __future__ import annotations

import io
import re
from collections.abc import Sequence
from typing import Any, NamedTuple

import numpy as np
import orjson
import pandas as pd

__all__ = ["FAST_FROM", "Columns", "parse"]

#: Bodies smaller than this are parsed with orjson alone (pandas' reader has a fixed cost).
FAST_FROM = 256 * 1024
#: Bytes of sample text handed to pandas' reader at once.
BATCH = 2 << 20
# "values" is the only key whose value is an array of arrays, and no JSON string can hold
# an unescaped quote, so this matches the start of a series' samples and nothing else.
# Prometheus and VictoriaMetrics write compact JSON; a body with spaces takes the slow path.
_VALUES = re.compile(rb'"values":\[(\]?)')
_LAST = b"]]"  # the last sample's bracket, then the array's: sample values hold no ']'
# '[' starts a CSV line, ']' and '"' go: [1771092000,"0.5"],[1771092030,"NaN"] ->
# "\n1771092000,0.5,\n1771092030,NaN" (the trailing comma makes an ignored third field)
_TO_CSV = bytes.maketrans(b"[", b"\n")
_DROP = b'"]'
_CSV = {
    "header": None,
    "names": ["t", "v", "_"],
    "usecols": [0, 1],
    "dtype": np.float64,
    "keep_default_na": False,
    "na_values": ["NaN"],
    "engine": "c",
    "low_memory": False,
}


class Columns(NamedTuple):
    """Range-query samples as arrays; series ``i`` owns ``counts[i]`` consecutive samples.

    >>> c = Columns([{"job": "a"}], np.array([2]), np.array([0.0, 30.0]), np.array([1.0, 2.0]))
    >>> int(c.counts.sum()) == len(c.times) == len(c.values)
    True
    """

    metrics: list[dict[str, str]]
    counts: np.ndarray
    times: np.ndarray
    values: np.ndarray


def parse(body: bytes) -> tuple[dict[str, Any], Columns] | None:
    """The envelope without samples, and the samples as :class:`Columns`; or ``None``.

    ``None`` means "not a successful matrix this parser is sure about": parse the body
    another way. The envelope's ``data.result`` is the list of series without their
    ``values``.

    >>> body = b'{"status":"success","data":{"resultType":"matrix","result":[' \\
    ...        b'{"metric":{"job":"a"},"values":[[1771092000,"1"],[1771092030,"+Inf"]]}]}}'
    >>> envelope, columns = parse(body)
    >>> envelope["status"], columns.metrics, columns.values.tolist()
    ('success', [{'job': 'a'}], [1.0, inf])
    """
    spans = _sample_spans(body)
    if spans is None:
        return None
    try:
        envelope = orjson.loads(_skeleton(body, spans))
    except orjson.JSONDecodeError:
        return None
    metrics = _metrics(envelope, len(spans))
    if metrics is None:
        return None
    counts = np.fromiter((body.count(b"[", s, e) for s, e in spans), np.int64, len(spans))
    samples = _read_samples(body, spans, int(counts.sum()))
    if samples is None:
        return None
    return envelope, Columns(metrics, counts, *samples)


def _sample_spans(body: bytes) -> list[tuple[int, int]] | None:
    """``(start, end)`` of each series' samples, outer brackets excluded; None if odd."""
    spans: list[tuple[int, int]] = []
    pos = 0
    while (found := _VALUES.search(body, pos)) is not None:
        start = found.end()
        if found.group(1):  # "values":[] (no samples)
            spans.append((start - 1, start - 1))
            pos = start
            continue
        last = body.find(_LAST, start)
        if last < 0:
            return None
        spans.append((start, last + 1))
        pos = last + 2
    return spans or None


def _skeleton(body: bytes, spans: Sequence[tuple[int, int]]) -> bytes:
    """The body with every sample cut out: ``"values":[]`` for each series."""
    view = memoryview(body)
    edges = [0, *(x for span in spans for x in span), len(body)]
    return b"".join(view[edges[i] : edges[i + 1]] for i in range(0, len(edges), 2))


def _metrics(envelope: Any, expected: int) -> list[dict[str, str]] | None:
    """Each series' labels, if the skeleton is a success matrix with ``expected`` series."""
    if not isinstance(envelope, dict) or envelope.get("status") != "success":
        return None
    data = envelope.get("data")
    result = data.get("result") if isinstance(data, dict) else None
    if not isinstance(result, list) or data.get("resultType") != "matrix":  # type: ignore[union-attr]
        return None
    if len(result) != expected or any(
        not isinstance(s, dict) or s.get("values") != [] for s in result
    ):
        return None  # e.g. series with native histograms only: the slow path handles them
    return [s.get("metric") or {} for s in result]


def _read_samples(
    body: bytes, spans: Sequence[tuple[int, int]], count: int
) -> tuple[np.ndarray, np.ndarray] | None:
    """Times and values of every sample, in series order, via pandas' C CSV reader.

    The text goes to the reader in batches of about :data:`BATCH` bytes, so the
    reader's own buffers (several times the text it holds) stay small.
    """
    times, values = np.empty(count), np.empty(count)
    view, filled = memoryview(body), 0
    for group in _batches(spans):
        text = b"\n".join([view[s:e] for s, e in group]).translate(_TO_CSV, _DROP)
        try:
            table = pd.read_csv(io.BytesIO(text), **_CSV)
        except (ValueError, pd.errors.ParserError):
            return None
        rows = len(table)
        if filled + rows > count:
            return None
        times[filled : filled + rows] = table["t"].to_numpy()
        values[filled : filled + rows] = table["v"].to_numpy()
        filled += rows
    return (times, values) if filled == count else None


def _batches(spans: Sequence[tuple[int, int]]) -> list[Sequence[tuple[int, int]]]:
    """Consecutive runs of spans holding about :data:`BATCH` bytes each."""
    groups: list[Sequence[tuple[int, int]]] = []
    first, size = 0, 0
    for i, (start, end) in enumerate(spans):
        size += end - start
        if size >= BATCH:
            groups.append(spans[first : i + 1])
            first, size = i + 1, 0
    if first < len(spans):
        groups.append(spans[first:])
    return groups
