"""Staleness markers: read at freeze time with remote read, written back into a replay.

Prometheus writes a staleness marker (the NaN ``0x7ff0000000000002``) when a series
disappears from its target; an instant query after it returns nothing instead of the
last sample for the 5 m lookback. The query API freeze reads samples with drops these
markers, and promtool cannot write them. So :func:`read_markers` asks the source's remote
read API (``POST /api/v1/read``, response type SAMPLES, which keeps them) for the
places a marker can be: between two samples of a series further apart than 1.5 of its
scrape interval, and after its last sample. The markers go into ``stale.json``;
:func:`write_markers` remote-writes them into a temporary Prometheus on a replay's
freshly built blocks (2.42 accepts them as out-of-order samples and replays them from
its WAL on every later start), so the replay's cache holds them.

Samples themselves are not read with remote read: proto3 leaves a zero double out of
the message, so ``-0.0`` comes back as ``0.0``; the query API keeps it.

VictoriaMetrics (1.79) has no remote read, but it drops a plain NaN on ingestion and
keeps staleness markers, which its query and export APIs answer as NaN samples: from
it, :func:`split_nan` turns every NaN sample into a marker.
"""

from __future__ import annotations

import contextlib
import json
import logging
import shutil
import subprocess
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import requests

from ..client import _raw
from ..client._raw import Unavailable
from ..errors import DemoError
from . import _prompb

if TYPE_CHECKING:
    from ..client import Client
    from ._fixture import Samples

__all__ = [
    "STALE",
    "STALE_BITS",
    "from_file",
    "read_markers",
    "split_nan",
    "to_file",
    "write_markers",
]

log = logging.getLogger("obskit")
STALE = "stale.json"
STALE_BITS = 0x7FF0000000000002
STALE_NAN = float(np.array([STALE_BITS], np.uint64).view(np.float64)[0])
#: Remote-read queries per request, and samples per remote-write request.
QUERIES_PER_READ = 500
SAMPLES_PER_WRITE = 10_000
_PROTOBUF = {"Content-Encoding": "snappy", "Content-Type": "application/x-protobuf"}
_READ_HEADERS = {**_PROTOBUF, "X-Prometheus-Remote-Read-Version": "0.1.0"}
_WRITE_HEADERS = {**_PROTOBUF, "X-Prometheus-Remote-Write-Version": "0.1.0"}

#: Per series: its labels and its markers' timestamps (ms).
Markers = list[tuple[dict[str, str], list[int]]]


def _snappy(data: bytes, compress: bool) -> bytes:
    import cramjam

    op = cramjam.snappy.compress_raw if compress else cramjam.snappy.decompress_raw
    return bytes(op(data))


def windows(samples: Samples, hi: int, interval_s: float) -> list[tuple[int, int, int]]:
    """``(series index, first ms, last ms)`` of every place a marker can be.

    A marker lands on a scrape after a series' last sample: inside a gap longer than
    1.5 scrape intervals, or after the last sample when the range goes on for more than
    half an interval. A series' interval is the 10th percentile of its own gaps (robust
    to a few odd samples), or the fixture's when it has one sample.
    """
    out = []
    ends = np.cumsum(samples.counts)
    for i, (stop, count) in enumerate(zip(ends.tolist(), samples.counts.tolist(), strict=True)):
        times = samples.times_ms[stop - count : stop]
        gaps = np.diff(times)
        step = float(np.partition(gaps, len(gaps) // 10)[len(gaps) // 10]) if len(gaps) else interval_s * 1000  # fmt: skip
        for k in np.flatnonzero(gaps > 1.5 * step).tolist():
            out.append((i, int(times[k]) + 1, int(times[k + 1]) - 1))
        if hi - int(times[-1]) > 0.5 * step:
            out.append((i, int(times[-1]) + 1, hi))
    return out


def _post_read(client: Client, body: bytes) -> list[list[tuple[dict[str, str], list[tuple[int, int]]]]]:  # fmt: skip
    """One remote read; :class:`Unavailable` where the source has none (e.g.
    VictoriaMetrics answers 400 for /api/v1/read) or answers something else."""
    post = _raw._transport(client).post_raw
    with post("read", "remote read", data=_snappy(body, True), headers=_READ_HEADERS) as response:
        if response.status_code != 200:
            text = response.text.strip().splitlines()[-1:] or [""]
            raise Unavailable(f"HTTP {response.status_code}: {text[0][:200]}")
        content = response.content
    try:
        return _prompb.decode_read_response(_snappy(content, False))
    except Exception as exc:  # not snappy protobuf: a proxy's page, another API
        raise Unavailable(f"the answer is not a remote-read response ({exc})") from None


def read_markers(
    client: Client, samples: Samples, hi: int, interval_s: float
) -> tuple[Markers | None, str]:
    """The staleness markers of ``samples`` on the source, and how they were read.

    ``None`` (and the reason) when the source offers no remote read.
    """
    from ..client import _split

    places = windows(samples, hi, interval_s)
    batches = [places[lo : lo + QUERIES_PER_READ] for lo in range(0, len(places), QUERIES_PER_READ)]

    def read(batch: list[tuple[int, int, int]]) -> list[tuple[int, int]]:
        body = _prompb.read_request([(a, b, samples.labels[i]) for i, a, b in batch])
        return [
            (i, t)
            for (i, _, _), result in zip(batch, _post_read(client, body), strict=False)
            for labels, points in result
            if labels == samples.labels[i]  # EQ matchers also match supersets
            for t, bits in points
            if bits == STALE_BITS
        ]

    try:
        _post_read(client, _prompb.read_request([(hi, hi, {"__name__": "obskit_probe"})]))
        parts = _split.fetch_all(read, batches, max_workers=client.workers,
                                 progress=False) if batches else []  # fmt: skip
    except Unavailable as exc:
        log.info("no remote read on %s (%s): staleness markers are not frozen", client.url, exc)
        return None, f"no remote read on the source ({exc})"
    found: dict[int, set[int]] = {}
    for i, t in (pair for part in parts for pair in part):
        found.setdefault(i, set()).add(t)
    markers = [(samples.labels[i], sorted(found[i])) for i in sorted(found)]
    return markers, f"remote read, {len(places):,} places checked"


VICTORIA = "victoriametrics: it drops NaN on ingestion and keeps staleness markers, which its query API returns as NaN samples"  # fmt: skip


def split_nan(samples: Samples) -> tuple[Samples, Markers]:
    """The non-NaN samples, and the NaN ones as markers (a VictoriaMetrics source's).

    VictoriaMetrics 1.79 drops a plain NaN it is sent and stores a staleness marker,
    which ``sel[2h]`` and ``/api/v1/export`` answer as a NaN sample (``null``): every
    NaN it returns is a marker. A series left without samples is dropped.
    """
    from ._fixture import Samples

    nan = np.isnan(samples.values)
    if not nan.any():
        return samples, []
    owner = np.repeat(np.arange(len(samples.labels)), samples.counts)
    markers = [
        (samples.labels[i], samples.times_ms[nan & (owner == i)].tolist())
        for i in np.unique(owner[nan]).tolist()
    ]
    counts = np.bincount(owner[~nan], minlength=len(samples.labels)).astype(np.int64)
    keep = counts > 0
    labels = [labels for labels, kept in zip(samples.labels, keep.tolist(), strict=True) if kept]
    return Samples(labels, counts[keep], samples.times_ms[~nan], samples.values[~nan]), markers


def to_file(markers: Markers) -> bytes:
    """``stale.json``: one line per series with markers, in the fixture's series order."""
    lines = [
        json.dumps({"labels": labels, "times_ms": times}, sort_keys=True, separators=(",", ":"))
        for labels, times in markers
    ]
    return ("[\n" + ",\n".join(lines) + "\n]\n").encode()


def from_file(path: Path, manifest: dict[str, Any]) -> Markers:
    """The markers of the (verified) fixture at ``path``; none if it has no ``stale.json``."""
    if STALE not in (manifest.get("files") or {}):
        return []
    try:
        entries = json.loads((Path(path) / STALE).read_text(encoding="utf-8"))
        return [(dict(e["labels"]), [int(t) for t in e["times_ms"]]) for e in entries]
    except (OSError, ValueError, KeyError, TypeError) as exc:
        raise DemoError(f"fixture file {Path(path) / STALE} cannot be read ({exc}): freeze it again") from None  # fmt: skip


def _requests(markers: Markers) -> Iterator[bytes]:
    batch: list[_prompb.Series] = []
    size = 0
    for labels, times in markers:
        batch.append((labels, [(t, STALE_NAN) for t in times]))
        size += len(times)
        if size >= SAMPLES_PER_WRITE:
            yield _prompb.write_request(batch)
            batch, size = [], 0
    if batch:
        yield _prompb.write_request(batch)


def write_markers(tsdb: Path, markers: Markers, timeout: float = 60.0) -> None:
    """Remote-write ``markers`` into the TSDB at ``tsdb`` through a temporary Prometheus.

    Prometheus starts on ``tsdb`` with an out-of-order window and the remote-write
    receiver, takes the markers, and stops: they stay in its WAL (``wal``, ``wbl``), which
    every later Prometheus on a copy of ``tsdb`` replays.
    """
    from .backfill import find_binary
    from .server import HOST, free_port, prometheus_argv, terminate, wait_ready

    work = Path(tempfile.mkdtemp(prefix="obskit-stale-"))
    config, log_path = work / "prometheus.yml", work / "prometheus.log"
    config.write_text("storage:\n  tsdb:\n    out_of_order_time_window: 100y\n")
    port = free_port()
    url = f"http://{HOST}:{port}"
    argv = prometheus_argv(find_binary("prometheus"), config, tsdb, port,
                           "--web.enable-remote-write-receiver")  # fmt: skip
    with log_path.open("wb") as log_file:
        proc = subprocess.Popen(argv, stdout=log_file, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)  # fmt: skip
    try:
        wait_ready(proc, url, timeout, log_path, "Prometheus (writing staleness markers)")
        for body in _requests(markers):
            answer = requests.post(f"{url}/api/v1/write", data=_snappy(body, True),
                                   headers=_WRITE_HEADERS, timeout=timeout)  # fmt: skip
            if answer.status_code // 100 != 2:
                raise DemoError(
                    f"writing the fixture's staleness markers into the replay failed (HTTP "
                    f"{answer.status_code}: {answer.text.strip()[:300]}); report it with the "
                    "fixture's manifest"
                )
    finally:
        terminate(proc)
        with contextlib.suppress(OSError):
            for name in ("lock", "queries.active"):
                (tsdb / name).unlink(missing_ok=True)
        shutil.rmtree(work, ignore_errors=True)
