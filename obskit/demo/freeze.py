"""Freeze the raw samples of a real Prometheus (or VictoriaMetrics) into a fixture directory.

>>> import obskit
>>> obskit.freeze("http://prom:9090", ['{job="node"}'], "2026-02-13T18:00:00Z",
...               "2026-02-14T18:00:00Z", "fixtures/node")  # doctest: +SKIP
"""

from __future__ import annotations

import itertools
import logging
import shutil
import tempfile
from collections.abc import Sequence
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from .. import _time, config
from ..client import _raw
from ..client import _split as _chunks
from ..errors import ConfigError, PrometheusError, TooLargeError
from . import _export, _fixture, _stale

if TYPE_CHECKING:
    from ..client import Client

__all__ = ["MAX_SAMPLES", "MAX_SERIES", "WINDOW_MS", "FreezeReport", "freeze"]

log = logging.getLogger("obskit")
#: Samples are read in windows of this length (ms), at most a few hundred thousand each.
WINDOW_MS = 2 * 3600 * 1000
#: VictoriaMetrics' export API is read this much at a time (all selectors in one request).
EXPORT_WINDOW_MS = 7 * 24 * 3600 * 1000
#: Default budgets: a freeze above them is refused before any sample is read.
MAX_SERIES = 20_000
MAX_SAMPLES = 50_000_000
#: The budget check reads this much (ms) at the end of the range to see the sample rate.
PROBE_MS = 15 * 60 * 1000
_FAMILY_SUFFIXES = ("_bucket", "_sum", "_count", "_total", "_created", "_info")


class FreezeReport(dict[str, Any]):
    """The written manifest (a dict) plus ``path``."""

    path: Path


def freeze(
    source: Client | str,
    match: str | Sequence[str],
    start: _time.TimeLike,
    end: _time.TimeLike,
    out: str | Path,
    *,
    force: bool = False,
    max_series: int | None = MAX_SERIES,
    max_samples: int | None = MAX_SAMPLES,
    progress: bool | None = None,
) -> FreezeReport:
    """Read every raw sample of the series matching ``match`` in ``[start, end]`` into ``out``.

    Series and samples are counted first; more than ``max_series`` or ``max_samples``
    (``None``: no limit) is refused with :class:`~obskit.errors.TooLargeError` before any
    sample is read. Samples are read in 2 h windows joined without repeating the edge
    sample; counter resets, histogram buckets, NaN/±Inf and gaps are kept as stored.
    The files are written into a hidden staging directory next to ``out`` and renamed
    at the end: an interrupted freeze leaves no directory that looks complete. An
    existing ``out`` is refused unless ``force=True``. A progress bar shows in a
    Jupyter kernel (``progress`` forces it on or off).

    >>> report = freeze("http://127.0.0.1:9090", ["up"], "-1h", "now", "fixtures/up")  # doctest: +SKIP
    >>> report["series"], report["samples"]  # doctest: +SKIP
    (4, 480)
    """
    from ..client import connect

    selectors = [match] if isinstance(match, str) else list(match)
    if not selectors or not all(isinstance(s, str) and s.strip() for s in selectors):
        raise ConfigError(f"match must be one or more selectors like 'up{{job=\"node\"}}'; got {match!r}")  # fmt: skip
    target = Path(out)
    _check_target(target, force)
    client = connect(source) if isinstance(source, str) else source
    owned = isinstance(source, str)
    try:
        return _freeze(client, selectors, start, end, target, force, max_series, max_samples, progress)  # fmt: skip
    finally:
        if owned:
            client.close()


def _check_target(target: Path, force: bool) -> None:
    if target.exists() and not force:
        raise ConfigError(
            f"the output directory {target} already exists: choose another --out, or pass "
            "--force (force=True) to replace it"
        )
    if target.exists() and not target.is_dir():
        raise ConfigError(
            f"the output {target} exists and is not a directory: choose another --out"
        )


def _range_ms(start: _time.TimeLike, end: _time.TimeLike) -> tuple[int, int, datetime, datetime]:
    now = config.now()
    t0 = _time.parse_time(start, "start", now=now)
    t1 = _time.parse_time(end, "end", now=now)
    _time.check_range(t0, t1)
    return round(_time.to_unix(t0) * 1000), round(_time.to_unix(t1) * 1000), t0, t1


def _freeze(
    client: Client,
    selectors: list[str],
    start: _time.TimeLike,
    end: _time.TimeLike,
    target: Path,
    force: bool,
    max_series: int | None,
    max_samples: int | None,
    progress: bool | None,
) -> FreezeReport:
    lo, hi, t0, t1 = _range_ms(start, end)
    _check_budget(client, selectors, lo, hi, max_series, max_samples)
    victoria = _export.is_victoria(client)
    samples = _read_all(client, selectors, lo, hi, progress, victoria)
    markers: _stale.Markers | None = None
    if victoria:  # its NaN samples are its staleness markers
        samples, markers = _stale.split_nan(samples)
        how = _stale.VICTORIA
    if len(samples.labels) == 0:
        raise _nothing_error(client, selectors, t0, t1)
    gaps = _gaps(samples)
    interval = _scrape_interval(gaps)
    if not victoria:
        markers, how = _stale.read_markers(client, samples, hi, interval)
    names = {labels.get("__name__", "") for labels in samples.labels}
    wanted = names | {_family(name) for name in names}  # keyed as the exporter wrote it
    metadata = {k: v for k, v in _raw.metadata(client).items() if k in wanted}
    manifest = {
        "source": config.redact_url(client.url),
        "selectors": selectors,
        "start": t0.isoformat().replace("+00:00", "Z"),
        "end": t1.isoformat().replace("+00:00", "Z"),
        "series": len(samples.labels),
        "samples": int(samples.counts.sum()),
        "scrape_interval_seconds": interval,
        "staleness": _staleness(samples, gaps, interval, hi, markers, how),
        "obskit": _version(),
    }
    extra = {_stale.STALE: _stale.to_file(markers)} if markers else {}
    return _write(target, force, samples, metadata, manifest, extra)


def _version() -> str:
    from .. import __version__

    return __version__


def _check_budget(
    client: Client,
    selectors: list[str],
    lo: int,
    hi: int,
    max_series: int | None,
    max_samples: int | None,
) -> None:
    """Count series (the index) and samples (``count_over_time``) before reading any sample."""
    found = _raw.series(client, selectors, lo, hi)
    what = " ".join(selectors)
    if max_series is not None and len(found) > max_series:
        raise TooLargeError(
            f"freezing would read {len(found):,} series, over max_series={max_series:,}; "
            "narrow the selectors or raise --max-series",
            query=what,
            url=config.redact_url(client.url),
        )
    if max_samples is None or not found:
        return
    estimate = _estimate_samples(client, selectors, lo, hi, len(found))
    if estimate > max_samples:
        raise TooLargeError(
            f"freezing would read about {estimate:,} samples ({len(found):,} series), over "
            f"max_samples={max_samples:,}; shorten the range, narrow the selectors or raise "
            "--max-samples",
            query=what,
            url=config.redact_url(client.url),
        )


def _estimate_samples(client: Client, selectors: list[str], lo: int, hi: int, series: int) -> int:
    """Series x samples per series: the sample rate seen in a short probe window at the end.

    Reading 15 minutes of samples costs a fraction of one 2 h window; counting the whole
    range on the server (``count_over_time``) costs as much as reading it. Without a
    sample in the probe, the server counts.
    """
    probe_lo = max(lo, hi - PROBE_MS)
    window = _raw.read_window(client, selectors[0], probe_lo - 1, hi)
    present = window.counts[window.counts > 1]
    if len(present) == 0:
        found = _raw.series(client, selectors, lo, hi)
        names = sorted({labels.get("__name__", "") for labels in found} - {""})
        return sum(_raw.count_samples(client, s, names, lo, hi) for s in selectors)
    per_ms = float(np.median(present)) / max(hi - probe_lo, 1)
    return int(series * (hi - lo) * per_ms)


def _nothing_error(
    client: Client, selectors: list[str], t0: datetime, t1: datetime
) -> PrometheusError:
    """Why nothing was read: the selectors match nothing at all, or nothing in the range."""
    anywhere = _raw.series(client, selectors, None, None)
    shown = " ".join(selectors)
    span = f"{t0.isoformat()} to {t1.isoformat()}"
    if anywhere:
        message = (
            f"the selectors match {len(anywhere):,} series, but none has samples from {span}: "
            "the range is outside the source's data; pick a range where the series exist"
        )
    else:
        message = (
            "the selectors match no series on the source; check the metric names and labels "
            "(client.series_count() lists what exists)"
        )
    return PrometheusError(message, query=shown, url=config.redact_url(client.url))


def _windows(lo: int, hi: int, size: int = WINDOW_MS) -> list[tuple[int, int]]:
    """``(after, upto]`` windows ending on ``size`` boundaries; the first starts just before ``lo``."""
    edges = [lo - 1]
    edge = (lo // size + 1) * size
    while edge < hi:
        edges.append(edge)
        edge += size
    edges.append(hi)
    return list(itertools.pairwise(edges))


def _read_all(
    client: Client,
    selectors: list[str],
    lo: int,
    hi: int,
    progress: bool | None,
    export: bool = False,
) -> _fixture.Samples:
    """Every window of every selector, joined per series in time order.

    ``export``: read VictoriaMetrics' ``/api/v1/export`` (the same samples, about twice
    as fast: benchmarks/freeze.py), falling back to range selectors if it is refused.
    """
    if export:
        try:
            return _read_export(client, selectors, lo, hi, progress)
        except _raw.Unavailable as exc:
            log.info("no export API on %s (%s): reading range selectors", client.url, exc)
    jobs = [(selector, window) for window in _windows(lo, hi) for selector in selectors]
    windows = _chunks.fetch_all(
        lambda job: _raw.read_window(client, job[0], *job[1]),
        jobs,
        max_workers=client.workers,
        progress=progress,
        label="freeze",
    )
    return _join(windows, len(selectors))


def _read_export(
    client: Client, selectors: list[str], lo: int, hi: int, progress: bool | None
) -> _fixture.Samples:
    spans = _windows(lo, hi, EXPORT_WINDOW_MS)
    windows = _chunks.fetch_all(
        lambda span: _export.read_window(client, selectors, *span),
        spans,
        max_workers=client.workers,
        progress=progress,
        label="freeze",
    )
    return _join(windows)


def _key(labels: dict[str, str]) -> tuple[tuple[str, str], ...]:
    return tuple(sorted(labels.items()))


def _join(windows: list[_raw.Window], selectors: int = 1) -> _fixture.Samples:
    """One series per label set, samples in time order (windows come in time order).

    ``windows`` holds, for each time window, one result per selector: a series two
    selectors both match is kept once per time window. Samples are moved as whole
    segments (one series in one window), so the order costs a sort of segments, not
    of samples.
    """
    ids: dict[tuple[tuple[str, str], ...], int] = {}
    owner, first, length, times, values = [], [], [], [], []
    offset = 0
    seen: set[int] = set()
    for index, window in enumerate(windows):
        if index % selectors == 0:
            seen = set()
        starts = np.cumsum(window.counts) - window.counts + offset
        for metric, start, count in zip(window.metrics, starts.tolist(), window.counts.tolist(), strict=True):  # fmt: skip
            sid = ids.setdefault(_key(metric), len(ids))
            if sid not in seen and count:
                owner.append(sid)
                first.append(start)
                length.append(count)
            seen.add(sid)
        times.append(window.times_ms)
        values.append(window.values)
        offset += len(window.times_ms)
    keys = sorted(ids)
    if not owner:
        empty = np.empty(0, np.int64)
        return _fixture.Samples([], empty, empty, np.empty(0))
    rank = np.empty(len(keys), np.int64)
    rank[[ids[k] for k in keys]] = np.arange(len(keys))
    seg_rank = rank[np.array(owner, np.int64)]
    order = np.argsort(seg_rank, kind="stable")  # segments of a series stay in time order
    lengths = np.array(length, np.int64)[order]
    starts = np.array(first, np.int64)[order]
    before = np.cumsum(lengths) - lengths
    gather = np.repeat(starts - before, lengths) + np.arange(int(lengths.sum()))
    counts = np.bincount(seg_rank, weights=np.array(length), minlength=len(keys)).astype(np.int64)
    keep = counts > 0
    labels = [dict(k) for k, kept in zip(keys, keep.tolist(), strict=True) if kept]
    return _fixture.Samples(
        labels, counts[keep], np.concatenate(times)[gather], np.concatenate(values)[gather]
    )


def _family(name: str) -> str:
    for suffix in _FAMILY_SUFFIXES:
        if name.endswith(suffix):
            return name.removesuffix(suffix)
    return name


def _gaps(samples: _fixture.Samples) -> np.ndarray:
    """Intervals between consecutive samples of the same series (ms)."""
    steps = np.diff(samples.times_ms)
    keep = np.ones(len(steps), bool)
    keep[(np.cumsum(samples.counts) - 1)[:-1]] = False  # from one series' last to the next's first
    return steps[keep] if len(steps) else steps


def _scrape_interval(gaps: np.ndarray) -> float:
    """The most common interval between consecutive samples of a series, in seconds."""
    if len(gaps) == 0:
        return 0.0
    seen = gaps[:: max(1, len(gaps) // 200_000)]  # the mode of a 200k sample is the mode
    rounded = np.round(seen / 1000.0, 0 if np.median(seen) >= 5000 else 3)
    values, counts = np.unique(rounded, return_counts=True)
    return float(values[np.argmax(counts)])


def _staleness(
    samples: _fixture.Samples,
    gaps: np.ndarray,
    interval: float,
    hi: int,
    markers: _stale.Markers | None,
    how: str,
) -> dict[str, Any]:
    """The staleness markers frozen (``stale.json``), or how many series end early or pause."""
    limit = 2 * max(interval, 0.001) * 1000
    ends = np.cumsum(samples.counts) - 1
    last = samples.times_ms[ends] if len(ends) else np.empty(0, np.int64)
    found = {
        "reproduced": markers is not None,
        "read": how,
        "markers": sum(len(times) for _, times in markers or []),
        "gaps_over_two_intervals": int((gaps > limit).sum()),
        "series_ending_over_two_intervals_before_end": int((hi - last > limit).sum()),
    }
    if markers is None:
        found["note"] = (
            "the query API drops staleness markers and this source has no remote read: on "
            "replay a series that ended answers for the lookback (5m) after its last sample"
        )
    return found


def _write(
    target: Path,
    force: bool,
    samples: _fixture.Samples,
    metadata: dict[str, list[dict[str, str]]],
    manifest: dict[str, Any],
    extra: dict[str, bytes] | None = None,
) -> FreezeReport:
    """Write into a hidden staging directory, then rename it to ``target``."""
    target.parent.mkdir(parents=True, exist_ok=True)
    for leftover in target.parent.glob(f".{target.name}.freezing-*"):
        log.info("removing %s, left by an interrupted freeze", leftover)
        shutil.rmtree(leftover, ignore_errors=True)
    staging = Path(tempfile.mkdtemp(prefix=f".{target.name}.freezing-", dir=target.parent))
    staging.chmod(0o755)  # mkdtemp makes 0700; a fixture is meant to be shared
    try:
        written = _fixture.write_files(staging, samples, metadata, manifest, extra)
        _check_target(target, force)
        if target.exists():
            old = Path(tempfile.mkdtemp(prefix=f".{target.name}.old-", dir=target.parent))
            target.rename(old / "fixture")
            staging.rename(target)
            shutil.rmtree(old, ignore_errors=True)
        else:
            staging.rename(target)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    report = FreezeReport(written)
    report.path = target
    log.info("froze %d series, %d samples into %s", written["series"], written["samples"], target)
    return report
