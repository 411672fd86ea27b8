"""Turn the demo data into TSDB blocks with promtool, cached on disk under the spec's key."""

from __future__ import annotations

import hashlib
import json
import logging
import multiprocessing
import os
import shutil
import subprocess
import tempfile
import time
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass
from pathlib import Path

from .. import config
from ..errors import DemoError
from .generate import DemoData, generate, render_window, windows
from .scenario import DemoSpec

__all__ = ["BuildReport", "ensure_blocks", "find_binary", "store_manifest", "verified_samples"]

log = logging.getLogger("obskit")
MANIFEST = "manifest.json"
_INSTALL_HINT = (
    "install it with `sudo apt-get install prometheus` (Debian/Ubuntu, ships promtool too), "
    "`conda install -c conda-forge prometheus`, or `brew install prometheus` (macOS)"
)


@dataclass(frozen=True)
class BuildReport:
    """Where the blocks are and what getting them cost (seconds)."""

    path: Path
    cached: bool
    samples: int
    generate_s: float = 0.0
    backfill_s: float = 0.0


def find_binary(name: str) -> str:
    """Absolute path of ``prometheus`` or ``promtool``, or a DemoError saying how to install it."""
    found = shutil.which(name)
    if not found:
        raise DemoError(f"`{name}` was not found on PATH: {_INSTALL_HINT}")
    return found


def cache_root(root: Path | None = None) -> Path:
    return (root or config.cache_dir()) / "demo" / "data"


def ensure_blocks(
    spec: DemoSpec,
    *,
    root: Path | None = None,
    workers: int | None = None,
    until: float | None = None,
) -> BuildReport:
    """Blocks for ``spec`` from the cache, or built (and cached) when missing or corrupt.

    ``until`` (unix seconds) backfills only the scrapes up to that instant: the live
    simulator serves the rest.

    >>> report = ensure_blocks(DemoSpec(days=1))  # doctest: +SKIP
    >>> report.cached  # doctest: +SKIP
    True
    """
    key = spec.key() if until is None else f"{spec.key()}-until{int(until)}"
    target = cache_root(root) / key
    samples = verified_samples(target)
    if samples is not None:
        log.info("demo data %s: using the cache at %s", spec.key(), target)
        return BuildReport(target, True, samples)
    if target.exists():
        log.warning("demo data cache %s is incomplete or corrupt; rebuilding it", target)
    return _build(spec, target, workers, until)


def _build(spec: DemoSpec, target: Path, workers: int | None, until: float | None) -> BuildReport:
    promtool = find_binary("promtool")
    t0 = time.perf_counter()
    data = generate(spec)
    t1 = time.perf_counter()
    target.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f".{target.name}-", dir=target.parent))
    limit = len(data.spec.timestamps()) if until is None else data.index_after(until)
    try:
        _backfill(data, staging, promtool, workers or os.cpu_count() or 1, limit)
        _write_manifest(staging, spec, data.samples_before(limit))
        if target.exists():
            shutil.rmtree(target)
        staging.rename(target)  # atomic: the cache is complete or absent
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    t2 = time.perf_counter()
    return BuildReport(target, False, data.samples_before(limit), t1 - t0, t2 - t1)


_DATA: DemoData | None = None


def create_blocks(text: str, workdir: str, name: str, promtool: str, what: str) -> str:
    """Backfill one window of OpenMetrics ``text`` with promtool into ``workdir/out-NAME``.

    The text file is removed afterwards; a promtool failure is a :class:`DemoError`
    naming ``what`` (e.g. ``demo window 12``) and promtool's own message.
    """
    text_path = Path(workdir) / f"block-{name}.om"
    text_path.write_text(text)
    out = Path(workdir) / f"out-{name}"
    proc = subprocess.run(
        [promtool, "tsdb", "create-blocks-from", "openmetrics", "-q", str(text_path), str(out)],
        capture_output=True,
        text=True,
    )
    text_path.unlink()
    if proc.returncode != 0:
        raise DemoError(f"promtool failed on {what}: {proc.stderr.strip()[-500:]}")
    return str(out)


def _window_job(args: tuple[int, int, int, str, str]) -> str:
    index, lo, hi, workdir, promtool = args
    assert _DATA is not None
    text = render_window(_DATA, lo, hi)
    return create_blocks(text, workdir, f"{index:04d}", promtool, f"demo window {index}")


def _backfill(data: DemoData, staging: Path, promtool: str, workers: int, limit: int) -> None:
    """Write each 2 h window of scrapes ``< limit`` and run promtool on it, in parallel."""
    global _DATA
    _DATA = data  # inherited by forked workers: no pickling of 6 M samples
    spans = [(lo, min(hi, limit)) for lo, hi in windows(data.spec) if lo < limit]
    jobs = [(i, lo, hi, str(staging), promtool) for i, (lo, hi) in enumerate(spans)]
    try:
        ctx = multiprocessing.get_context("fork")
        with ProcessPoolExecutor(max_workers=workers, mp_context=ctx) as pool:
            outputs = list(pool.map(_window_job, jobs))
    finally:
        _DATA = None
    for out in outputs:
        for block in Path(out).iterdir():
            block.rename(staging / block.name)
        Path(out).rmdir()


def _file_digests(path: Path) -> dict[str, str]:
    files = sorted(p for p in path.rglob("*") if p.is_file() and p.name != MANIFEST)
    return {str(p.relative_to(path)): hashlib.sha256(p.read_bytes()).hexdigest() for p in files}


def _write_manifest(path: Path, spec: DemoSpec, samples: int) -> None:
    facts = {"key": spec.key(), "end": spec.end.isoformat(), "days": spec.days,
             "step": spec.step, "seed": spec.seed}  # fmt: skip
    store_manifest(path, facts, samples)


def store_manifest(path: Path, facts: dict[str, object], samples: int) -> None:
    """Record ``facts``, the sample count and every file's sha256 in ``path/manifest.json``."""
    manifest = {**facts, "samples": samples, "files": _file_digests(path)}
    tmp = path / (MANIFEST + ".tmp")
    tmp.write_text(json.dumps(manifest, indent=1, sort_keys=True))
    tmp.rename(path / MANIFEST)


def verified_samples(path: Path) -> int | None:
    """The cached sample count if every file matches the manifest, else None."""
    try:
        manifest = json.loads((path / MANIFEST).read_text())
        expected = manifest["files"]
        if not expected or _file_digests(path) != expected:
            return None
        return int(manifest["samples"])
    except (OSError, ValueError, KeyError, TypeError):
        return None
