"""The frozen-data fixture on disk: compact sample columns, metadata and a manifest of hashes.

A fixture directory holds::

    manifest.json   what was frozen (source, selectors, range, counts) + sha256 of every file
    series.json     one entry per series: labels, sample count, how its values are encoded
    times.z         every series' timestamps (ms): delta-of-delta, zigzag, byte-shuffled, zlib
    values.z        every series' values: scaled integers as deltas, or float64 XOR previous
    metadata.json   the source's /api/v1/metadata for the frozen metric families

Values are stored bit-exactly: a series whose values are all ``n / 10**k`` (integers,
or decimals with ``k`` digits) keeps the integers ``n``; anything else (NaN, ±Inf, full
mantissas) keeps the float64 bits XORed with the previous value's. Byte shuffling puts
the many zero bytes of small deltas next to each other, where zlib packs them.
"""

from __future__ import annotations

import hashlib
import json
import zlib
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from ..errors import DemoError

__all__ = ["FORMAT", "Fixture", "Samples", "decode", "encode", "read", "write_files"]

FORMAT = "obskit-fixture/1"
MANIFEST = "manifest.json"
SERIES, TIMES, VALUES, METADATA = "series.json", "times.z", "values.z", "metadata.json"
XOR = -1
_MAX_DIGITS = 6
#: zlib levels of times and values: 6 packs regular timestamps 4x tighter than 1 in the time
#: level 1 takes for values, where 6 would gain ~10 % at twice the time.
_LEVELS = (6, 1)


@dataclass
class Samples:
    """Series ``i`` has labels ``labels[i]`` and owns ``counts[i]`` consecutive samples."""

    labels: list[dict[str, str]]
    counts: np.ndarray
    times_ms: np.ndarray
    values: np.ndarray

    @property
    def starts(self) -> np.ndarray:
        return np.concatenate([[0], np.cumsum(self.counts)[:-1]]).astype(np.int64)

    def of(self, i: int) -> tuple[np.ndarray, np.ndarray]:
        """Times (ms) and values of series ``i``."""
        lo = int(self.counts[:i].sum())
        hi = lo + int(self.counts[i])
        return self.times_ms[lo:hi], self.values[lo:hi]


@dataclass
class Fixture:
    """A verified fixture directory, read into memory."""

    path: Path
    manifest: dict[str, Any]
    samples: Samples
    metadata: dict[str, list[dict[str, str]]]


def _zigzag(a: np.ndarray) -> np.ndarray:
    return ((a << 1) ^ (a >> 63)).view(np.uint64)


def _unzigzag(u: np.ndarray) -> np.ndarray:
    return ((u >> np.uint64(1)).view(np.int64)) ^ -((u & np.uint64(1)).view(np.int64))


def _pack(column: np.ndarray, level: int) -> bytes:
    shuffled = column.astype("<u8").view(np.uint8).reshape(-1, 8).T.copy()
    return zlib.compress(shuffled.tobytes(), level)


def _unpack(blob: bytes, count: int, name: str) -> np.ndarray:
    try:
        raw = zlib.decompress(blob)
    except zlib.error as exc:
        raise DemoError(f"fixture file {name} is corrupt ({exc}): freeze it again") from None
    if len(raw) != count * 8:
        raise DemoError(
            f"fixture file {name} holds {len(raw) // 8:,} samples where series.json "
            f"counts {count:,}: the file is truncated or from another freeze; freeze it again"
        )
    return np.frombuffer(raw, np.uint8).reshape(8, count).T.copy().view("<u8").ravel()


def _segment_diff(a: np.ndarray, starts: np.ndarray) -> np.ndarray:
    """``a[k] - a[k-1]`` within each series; the first sample of a series keeps ``a``."""
    out = np.diff(a, prepend=a[:1])
    out[starts] = a[starts]
    return out


def _segment_cumsum(d: np.ndarray, starts: np.ndarray, counts: np.ndarray) -> np.ndarray:
    total = np.cumsum(d)
    base = np.repeat(total[starts] - d[starts], counts)
    return total - base


def _encode_times(times: np.ndarray, starts: np.ndarray) -> np.ndarray:
    first = times[starts]
    delta = _segment_diff(times, starts)
    delta[starts] = 0
    dod = _segment_diff(delta, starts)
    dod[starts] = first
    return _zigzag(dod)


def _decode_times(u: np.ndarray, starts: np.ndarray, counts: np.ndarray) -> np.ndarray:
    dod = _unzigzag(u).copy()
    first = dod[starts].copy()
    dod[starts] = 0
    delta = _segment_cumsum(dod, starts, counts)
    return _segment_cumsum(delta, starts, counts) + np.repeat(first, counts)


def _value_mode(v: np.ndarray) -> int:
    """The fewest decimal digits ``k`` with ``v == n / 10**k`` bit for bit, else XOR."""
    if len(v) == 0 or not np.isfinite(v).all():
        return XOR
    for k in range(_MAX_DIGITS + 1):
        n = np.round(v * 10.0**k)
        if np.abs(n).max() >= 2**53:
            return XOR
        back = n.astype(np.int64) / 10.0**k  # as decoded: from the integers (so -0.0 fails)
        if np.array_equal(back.view(np.int64), v.view(np.int64)):
            return k
    return XOR


def _encode_values(v: np.ndarray, mode: int) -> np.ndarray:
    if mode == XOR:
        bits = v.view(np.uint64)
        return bits ^ np.concatenate([[np.uint64(0)], bits[:-1]]).astype(np.uint64)
    n = np.round(v * 10.0**mode).astype(np.int64)
    return _zigzag(np.diff(n, prepend=np.int64(0)))


def _decode_values(u: np.ndarray, mode: int) -> np.ndarray:
    if mode == XOR:
        return np.bitwise_xor.accumulate(u).view(np.float64)
    n = np.cumsum(_unzigzag(u))
    return n / 10.0**mode


def encode(samples: Samples) -> tuple[list[dict[str, Any]], bytes, bytes]:
    """``series.json`` entries and the two packed columns."""
    starts = samples.starts
    times = _encode_times(samples.times_ms.astype(np.int64), starts)
    entries, columns = [], []
    lo = 0
    for labels, count in zip(samples.labels, samples.counts.tolist(), strict=True):
        v = samples.values[lo : lo + count]
        mode = _value_mode(v)
        columns.append(_encode_values(v, mode))
        entries.append({"labels": labels, "samples": count, "digits": mode})
        lo += count
    values = np.concatenate(columns) if columns else np.empty(0, np.uint64)
    with ThreadPoolExecutor(2) as pool:  # zlib releases the GIL: both columns at once
        times_blob, values_blob = pool.map(_pack, [times, values], _LEVELS)
    return entries, times_blob, values_blob


def decode(entries: list[dict[str, Any]], times_blob: bytes, values_blob: bytes) -> Samples:
    """The inverse of :func:`encode`."""
    counts = np.array([int(e["samples"]) for e in entries], np.int64)
    total = int(counts.sum())
    starts = np.concatenate([[0], np.cumsum(counts)[:-1]]).astype(np.int64)
    times = _decode_times(_unpack(times_blob, total, TIMES), starts, counts)
    packed = _unpack(values_blob, total, VALUES)
    values = np.empty(total, np.float64)
    for e, lo, count in zip(entries, starts.tolist(), counts.tolist(), strict=True):
        values[lo : lo + count] = _decode_values(packed[lo : lo + count], int(e["digits"]))
    return Samples([dict(e["labels"]) for e in entries], counts, times, values)


def _json_bytes(obj: Any) -> bytes:
    return (json.dumps(obj, indent=1, sort_keys=True, allow_nan=False) + "\n").encode()


def _lines_bytes(entries: list[dict[str, Any]]) -> bytes:
    """A JSON list with one compact entry per line (small, and diffs read line by line)."""
    lines = [json.dumps(e, sort_keys=True, separators=(",", ":")) for e in entries]
    return ("[\n" + ",\n".join(lines) + "\n]\n").encode()


def write_files(
    folder: Path,
    samples: Samples,
    metadata: dict[str, list[dict[str, str]]],
    manifest: dict[str, Any],
    extra: dict[str, bytes] | None = None,
) -> dict[str, Any]:
    """Write every fixture file (and ``extra`` ones) into ``folder``, an empty staging directory."""
    entries, times_blob, values_blob = encode(samples)
    blobs: dict[str, bytes] = {
        SERIES: _lines_bytes(entries),
        TIMES: times_blob,
        VALUES: values_blob,
        METADATA: _json_bytes(metadata),
        **(extra or {}),
    }
    for name, blob in blobs.items():
        (folder / name).write_bytes(blob)
    digests = {name: hashlib.sha256(blob).hexdigest() for name, blob in blobs.items()}
    manifest = {**manifest, "format": FORMAT, "files": digests}
    (folder / MANIFEST).write_bytes(_json_bytes(manifest))
    return manifest


def read_manifest(path: Path) -> dict[str, Any]:
    """The manifest of the fixture at ``path``, or a DemoError saying what is wrong."""
    file = Path(path) / MANIFEST
    try:
        manifest = json.loads(file.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise DemoError(
            f"{path} is not a fixture: it has no {MANIFEST} (make one with `obskit freeze`)"
        ) from None
    except (OSError, ValueError) as exc:
        raise DemoError(f"fixture file {file} cannot be read ({exc}): freeze it again") from None
    if not isinstance(manifest, dict) or manifest.get("format") != FORMAT:
        got = manifest.get("format") if isinstance(manifest, dict) else None
        raise DemoError(f"{file} is not an {FORMAT} manifest (format {got!r}): freeze it again")
    return manifest


def verify(path: Path) -> dict[str, Any]:
    """The manifest, once every file it lists has its recorded sha256; else name the file."""
    manifest = read_manifest(path)
    for name, digest in sorted(dict(manifest.get("files") or {}).items()):
        file = Path(path) / name
        try:
            actual = hashlib.sha256(file.read_bytes()).hexdigest()
        except OSError as exc:
            raise DemoError(f"fixture file {file} cannot be read ({exc.strerror})") from None
        if actual != digest:
            raise DemoError(
                f"fixture file {file} does not match its manifest (sha256 {actual[:12]}..., "
                f"expected {digest[:12]}...): it was changed or truncated; restore it from "
                "version control or freeze again"
            )
    missing = {SERIES, TIMES, VALUES, METADATA} - set(manifest.get("files") or {})
    if missing:
        raise DemoError(f"{Path(path) / MANIFEST} lists no {sorted(missing)}: freeze it again")
    return manifest


def read(path: Path) -> Fixture:
    """Verify and load the fixture at ``path``.

    >>> fixture = read(Path("notebooks/fixtures/exporters"))  # doctest: +SKIP
    >>> fixture.manifest["samples"] == int(fixture.samples.counts.sum())  # doctest: +SKIP
    True
    """
    path = Path(path)
    manifest = verify(path)
    try:
        entries = json.loads((path / SERIES).read_text(encoding="utf-8"))
        metadata = json.loads((path / METADATA).read_text(encoding="utf-8"))
        samples = decode(entries, (path / TIMES).read_bytes(), (path / VALUES).read_bytes())
    except (OSError, ValueError, KeyError, TypeError) as exc:
        raise DemoError(f"fixture {path} cannot be read ({exc}): freeze it again") from None
    return Fixture(path, manifest, samples, metadata)
