"""Replay a frozen fixture: OpenMetrics per 2 h window, promtool blocks, cached by manifest hash.

A fixture's staleness markers (``stale.json``) are then remote-written into the new
blocks' TSDB by a temporary Prometheus and kept in its WAL (:mod:`obskit.demo._stale`).

:class:`~obskit.demo.DemoPrometheus` ``(data=DIR)`` starts a real Prometheus on these
blocks. Backfilled data has no metadata (``/api/v1/metadata`` answers ``{}``), so
:func:`metadata` gives the fixture's to whoever asks for the replay's URL.

>>> report, manifest = ensure_blocks(Path("notebooks/fixtures/exporters"))  # doctest: +SKIP
>>> report.cached  # doctest: +SKIP
True
"""

from __future__ import annotations

import hashlib
import json
import logging
import multiprocessing
import os
import shutil
import tempfile
import time
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path
from typing import Any

import numpy as np

from .. import config
from . import _fixture, _stale
from .backfill import BuildReport, create_blocks, find_binary, store_manifest, verified_samples

__all__ = ["cache_key", "ensure_blocks", "metadata", "register", "render_window"]

log = logging.getLogger("obskit")
BLOCK_MS = 2 * 3600 * 1000
_RUNNING: dict[str, Path] = {}  # replay URL -> fixture directory, for metadata()
_ESCAPES = str.maketrans({"\\": "\\\\", '"': '\\"', "\n": "\\n"})


def cache_key(manifest: dict[str, Any]) -> str:
    """The blocks' cache key: a hash of the manifest's file hashes (the data, not its source).

    Two freezes of the same samples (say, of two demo servers on different ports) share
    their blocks.
    """
    files = json.dumps(manifest.get("files") or {}, sort_keys=True)
    return hashlib.sha256(f"{_fixture.FORMAT}|{files}".encode()).hexdigest()[:16]


def _cache_dir(root: Path | None) -> Path:
    return (root or config.cache_dir()) / "demo" / "replay"


def ensure_blocks(
    path: Path, *, root: Path | None = None, workers: int | None = None
) -> tuple[BuildReport, dict[str, Any]]:
    """Blocks for the fixture at ``path`` from the cache, or built with promtool and cached.

    The fixture is verified first (every file against its manifest's sha256): a changed
    or truncated file is refused with a :class:`~obskit.errors.DemoError` naming it.
    """
    path = Path(path)
    manifest = _fixture.verify(path)
    target = _cache_dir(root) / cache_key(manifest)
    samples = verified_samples(target)
    if samples is not None:
        log.info("replay of %s: using the cache at %s", path, target)
        return BuildReport(target, True, samples), manifest
    if target.exists():
        log.warning("replay cache %s is incomplete or corrupt; rebuilding it", target)
    return _build(path, target, workers or os.cpu_count() or 1), manifest


def _build(path: Path, target: Path, workers: int) -> BuildReport:
    promtool = find_binary("promtool")
    t0 = time.perf_counter()
    fixture = _fixture.read(path)
    markers = _stale.from_file(path, fixture.manifest)
    t1 = time.perf_counter()
    target.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f".{target.name}-", dir=target.parent))
    try:
        _backfill(fixture.samples, staging, promtool, workers)
        if markers:  # after the blocks: Prometheus keeps them in its WAL (obskit.demo._stale)
            _stale.write_markers(staging, markers)
        total = int(fixture.samples.counts.sum())
        store_manifest(staging, {"fixture": str(path), "key": target.name}, total)
        if target.exists():
            shutil.rmtree(target)
        staging.rename(target)  # atomic: the cache is complete or absent
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    return BuildReport(target, False, total, t1 - t0, time.perf_counter() - t1)


def _prefixes(samples: _fixture.Samples) -> list[str]:
    """``name{label="value",...} `` of every series, label values escaped."""
    out = []
    for labels in samples.labels:
        name = labels.get("__name__", "")
        pairs = ",".join(
            f'{k}="{v.translate(_ESCAPES)}"' for k, v in sorted(labels.items()) if k != "__name__"
        )
        out.append(f"{name}{{{pairs}}} " if pairs else f"{name} ")
    return out


def _value_text(values: np.ndarray) -> list[str]:
    text = [repr(v) for v in values.tolist()]
    if not np.isfinite(values).all():
        for i in np.flatnonzero(~np.isfinite(values)).tolist():
            v = values[i]
            text[i] = "NaN" if v != v else ("+Inf" if v > 0 else "-Inf")
    return text


def render_window(samples: _fixture.Samples, block: int, prefixes: list[str]) -> str:
    """OpenMetrics text for the samples in 2 h block ``block`` (``t // 7,200,000 == block``).

    Series one after another (each one's samples in time order), no ``# TYPE`` lines
    (backfilled data keeps no metadata anyway), ``# EOF`` last. Timestamps are written
    as seconds with exactly three decimals, which promtool reads back to the same ms.
    """
    lo_ms, hi_ms = block * BLOCK_MS, (block + 1) * BLOCK_MS
    chunks: list[str] = []
    start = 0
    for i, count in enumerate(samples.counts.tolist()):
        times = samples.times_ms[start : start + count]
        a, b = np.searchsorted(times, [lo_ms, hi_ms]).tolist()
        if b > a:
            ts = times[a:b].tolist()
            stamps = [f"{t // 1000}.{t % 1000:03d}" for t in ts]
            values = _value_text(samples.values[start + a : start + b])
            prefix = prefixes[i]
            chunks.append("".join([f"{prefix}{v} {t}\n" for v, t in zip(values, stamps, strict=True)]))  # fmt: skip
        start += count
    chunks.append("# EOF\n")
    return "".join(chunks)


_SAMPLES: _fixture.Samples | None = None
_PREFIXES: list[str] = []


def _window_job(args: tuple[int, str, str]) -> str:
    block, workdir, promtool = args
    assert _SAMPLES is not None
    text = render_window(_SAMPLES, block, _PREFIXES)
    return create_blocks(text, workdir, str(block), promtool, f"fixture window {block}")


def _backfill(samples: _fixture.Samples, staging: Path, promtool: str, workers: int) -> None:
    """One OpenMetrics file and one promtool run per 2 h window with data, in parallel."""
    global _SAMPLES, _PREFIXES
    blocks = sorted(set(np.unique(samples.times_ms // BLOCK_MS).tolist()))
    jobs = [(block, str(staging), promtool) for block in blocks]
    _SAMPLES, _PREFIXES = samples, _prefixes(samples)  # inherited by forked workers
    try:
        ctx = multiprocessing.get_context("fork")
        with ProcessPoolExecutor(max_workers=min(workers, max(len(jobs), 1)), mp_context=ctx) as pool:  # fmt: skip
            outputs = list(pool.map(_window_job, jobs))
    finally:
        _SAMPLES, _PREFIXES = None, []
    for out in outputs:
        for block_dir in Path(out).iterdir():
            block_dir.rename(staging / block_dir.name)
        Path(out).rmdir()


def register(url: str, path: Path | None) -> None:
    """Remember (or forget, with ``None``) which fixture the replay on ``url`` serves."""
    key = url.rstrip("/")
    if path is None:
        _RUNNING.pop(key, None)
    else:
        _RUNNING[key] = Path(path)


def metadata(url: str) -> dict[str, list[dict[str, str]]]:
    """The frozen ``/api/v1/metadata`` of the replay on ``url`` (family -> entries).

    ``{}`` when ``url`` is not a replay started in this process or recorded in the
    background demo's state (``obskit demo start --data``). The shape is the ``data``
    of ``/api/v1/metadata``: what a client reads when the server itself has none.

    >>> metadata("http://127.0.0.1:1")
    {}
    """
    key = url.rstrip("/")
    path = _RUNNING.get(key)
    if path is None:
        state = config.demo_state()
        if state and state.get("data") and str(state.get("url", "")).rstrip("/") == key:
            path = Path(state["data"])
    if path is None:
        return {}
    try:
        frozen = json.loads((path / _fixture.METADATA).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    return {str(name): [dict(e) for e in entries] for name, entries in sorted(frozen.items())}
