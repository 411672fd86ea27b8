"""The few Prometheus remote-read/write protobuf messages (prompb), encoded by hand.

Only what freeze and replay need: a ``ReadRequest`` of equality-matcher queries with
response type ``SAMPLES`` and its ``ReadResponse``, and a ``WriteRequest`` of float
samples. Protobuf wire format: a key ``field << 3 | wire type`` as a varint, then a
varint (type 0), 8 little-endian bytes (type 1) or a length-prefixed body (type 2).
Bodies travel block-compressed with snappy (``cramjam``).

>>> body = write_request([({"__name__": "up"}, [(1000, 1.0)])])
>>> decode_write_request(body)
[({'__name__': 'up'}, [(1000, 1.0)])]
"""

from __future__ import annotations

import struct
from collections.abc import Iterable, Sequence

__all__ = [
    "Series",
    "decode_read_response",
    "decode_write_request",
    "read_request",
    "write_request",
]

#: One series: its labels and its (timestamp ms, value) samples.
Series = tuple[dict[str, str], list[tuple[int, float]]]
_DOUBLE = struct.Struct("<d")


def _varint(n: int) -> bytes:
    n &= (1 << 64) - 1  # negative int64 as two's complement, ten bytes
    out = bytearray()
    while n > 0x7F:
        out.append(n & 0x7F | 0x80)
        n >>= 7
    out.append(n)
    return bytes(out)


def _field(number: int, body: bytes) -> bytes:
    return _varint(number << 3 | 2) + _varint(len(body)) + body


def _int_field(number: int, n: int) -> bytes:
    return _varint(number << 3) + _varint(n) if n else b""


def _labels(labels: dict[str, str]) -> bytes:
    return b"".join(
        _field(1, _field(1, k.encode()) + _field(2, v.encode())) for k, v in sorted(labels.items())
    )


def _sample(t: int, v: float) -> bytes:
    # proto3 leaves zero fields out; the double is always written so -0.0 keeps its sign
    return _field(2, b"\x09" + _DOUBLE.pack(v) + _int_field(2, t))


def write_request(series: Iterable[Series]) -> bytes:
    """``WriteRequest{timeseries: [TimeSeries{labels, samples}]}`` (uncompressed)."""
    return b"".join(
        _field(1, _labels(labels) + b"".join(_sample(t, v) for t, v in samples))
        for labels, samples in series
    )


def read_request(queries: Sequence[tuple[int, int, dict[str, str]]]) -> bytes:
    """``ReadRequest`` of ``(start_ms, end_ms, labels)`` queries, each label an EQ matcher.

    ``accepted_response_types`` is ``[SAMPLES]`` (enum 0, packed).
    """
    out = []
    for start, end, labels in queries:
        matchers = b"".join(
            _field(3, _field(2, k.encode()) + _field(3, v.encode()))  # type EQ = 0: left out
            for k, v in sorted(labels.items())
        )
        out.append(_field(1, _int_field(1, start) + _int_field(2, end) + matchers))
    return b"".join(out) + _field(2, b"\x00")


def _read_varint(buf: bytes | memoryview, pos: int) -> tuple[int, int]:
    n = shift = 0
    while True:
        byte = buf[pos]
        pos += 1
        n |= (byte & 0x7F) << shift
        if byte < 0x80:
            return n, pos
        shift += 7


def _fields(buf: bytes | memoryview) -> Iterable[tuple[int, int | bytes | memoryview]]:
    """``(field number, value)``: an int for varint/fixed64 (raw bits), a slice for bytes."""
    view = memoryview(buf)
    pos, end = 0, len(view)
    while pos < end:
        key, pos = _read_varint(view, pos)
        kind = key & 7
        if kind == 0:
            value, pos = _read_varint(view, pos)
            yield key >> 3, value
        elif kind == 1:
            yield key >> 3, int.from_bytes(view[pos : pos + 8], "little")
            pos += 8
        elif kind == 2:
            size, pos = _read_varint(view, pos)
            yield key >> 3, view[pos : pos + size]
            pos += size
        elif kind == 5:
            pos += 4
        else:
            raise ValueError(f"unsupported protobuf wire type {kind}")


def _signed(n: int) -> int:
    return n - (1 << 64) if n >= 1 << 63 else n


def _series(body: memoryview) -> tuple[dict[str, str], list[tuple[int, int]]]:
    """One ``TimeSeries``: labels, and samples as (timestamp ms, float64 bits)."""
    labels: dict[str, str] = {}
    samples: list[tuple[int, int]] = []
    for number, value in _fields(body):
        if number == 1 and isinstance(value, memoryview):
            pair = dict(_fields(value))
            labels[bytes(pair.get(1, b"")).decode()] = bytes(pair.get(2, b"")).decode()
        elif number == 2 and isinstance(value, memoryview):
            sample = dict(_fields(value))
            samples.append((_signed(int(sample.get(2, 0))), int(sample.get(1, 0))))
    return labels, samples


def decode_read_response(buf: bytes) -> list[list[tuple[dict[str, str], list[tuple[int, int]]]]]:
    """``ReadResponse``: per query, its series as (labels, [(ms, float64 bits)])."""
    results = []
    for number, result in _fields(buf):
        if number == 1 and isinstance(result, memoryview):
            results.append(
                [_series(ts) for n, ts in _fields(result) if n == 1 and isinstance(ts, memoryview)]
            )
    return results


def decode_write_request(buf: bytes) -> list[Series]:
    """The inverse of :func:`write_request` (for tests)."""
    out = []
    for number, ts in _fields(buf):
        if number == 1 and isinstance(ts, memoryview):
            labels, samples = _series(ts)
            out.append((labels, [(t, _DOUBLE.unpack(struct.pack("<Q", b))[0]) for t, b in samples]))
    return out
