"""Decode Prometheus' JSON envelope: return ``data`` or raise the mapped obskit error."""

from __future__ import annotations

import gc
import os
import sys
import threading
import warnings as _warnings
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from typing import Any, NamedTuple

import orjson

from ..errors import PrometheusError, PromQLWarning
from . import _errors, _matrix

__all__ = ["Decoded", "decode", "decode_matrix", "emit_notes", "gc_paused", "loads"]

#: Bodies at least this large are parsed with the cyclic garbage collector paused.
LARGE_BODY = 1 << 20


class Decoded(NamedTuple):
    """A successful response: its ``data`` plus Prometheus' ``warnings`` and ``infos``."""

    data: Any
    warnings: list[str]
    infos: list[str]


class _GcPause:
    """Counts nested/concurrent pauses so the collector is re-enabled exactly once."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.depth = 0
        self.was_enabled = False

    def enter(self) -> None:
        with self.lock:
            if self.depth == 0:
                self.was_enabled = gc.isenabled()
                gc.disable()
            self.depth += 1

    def exit(self) -> None:
        with self.lock:
            self.depth -= 1
            if self.depth == 0 and self.was_enabled:
                gc.enable()


_PAUSE = _GcPause()


@contextmanager
def gc_paused() -> Iterator[None]:
    """Pause Python's cyclic garbage collector; safe to nest and to use from threads.

    Parsing a big JSON body creates millions of containers, and every collection
    triggered meanwhile walks them all (most of the parse time, see FACTS.md). Keep
    the pause until the parsed document is freed, or the first collection after it
    walks the whole document anyway. The collector is re-enabled (if it was enabled)
    when the outermost pause ends, even on error.

    >>> import gc
    >>> with gc_paused():
    ...     gc.isenabled()
    False
    """
    _PAUSE.enter()
    try:
        yield
    finally:
        _PAUSE.exit()


def loads(body: bytes) -> Any:
    """Parse JSON with orjson, pausing the garbage collector for large bodies.

    >>> loads(b'{"status": "success"}')
    {'status': 'success'}
    """
    if len(body) < LARGE_BODY:
        return orjson.loads(body)
    with gc_paused():
        return orjson.loads(body)


def decode(
    body: bytes,
    *,
    status: int,
    query: str | None = None,
    url: str | None = None,
    warn: bool = True,
) -> Decoded:
    """The ``data`` of a Prometheus API response, or the mapped :class:`~obskit.PrometheusError`.

    The only place Prometheus' envelope is read; which error a failure raises is decided
    by the one table in :mod:`obskit.client._errors`.

    Parameters
    ----------
    body : bytes
        The raw response body.
    status : int
        The HTTP status code.
    query : str, optional
        What was asked (the expression, or e.g. ``"labels"``), for error messages.
    url : str, optional
        The endpoint, **without credentials**, for error messages.
    warn : bool
        Emit Prometheus' ``warnings``/``infos`` as :class:`~obskit.PromQLWarning` now
        (pass ``False`` to emit them once later with :func:`emit_notes`).

    Raises
    ------
    QuerySyntaxError
        ``bad_data`` (HTTP 400).
    QueryExecutionError
        ``execution`` (HTTP 422).
    QueryTimeoutError
        ``timeout``/``canceled``, HTTP 503 or 504.
    AuthError
        HTTP 401 or 403.
    TooLargeError
        Over the points-per-series cap or the server's sample limit.
    PrometheusError
        Anything else that is not ``"status": "success"``.

    >>> decode(b'{"status":"success","data":{"resultType":"scalar","result":[1,"2"]}}',
    ...        status=200).data
    {'resultType': 'scalar', 'result': [1, '2']}
    >>> decode(b'{"status":"error","errorType":"bad_data","error":"parse error"}',
    ...        status=400, query="rate(")  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    obskit.errors.QuerySyntaxError: query 'rate(' failed (HTTP 400, bad_data): parse error. ...
    """
    envelope = _parse(body)
    if envelope is None or not isinstance(envelope, dict):
        full = _snippet(body, limit=4096)  # the rules read all of it; the message the start
        raise _errors.from_answer(status, None, _snippet(body), query, url, full=full)
    if envelope.get("status") != "success" or not 200 <= status < 300:
        message = str(envelope.get("error") or _snippet(body))
        error_type = envelope.get("errorType")
        raise _errors.from_answer(
            status, str(error_type) if error_type else None, message, query, url
        )
    return _decoded(envelope, envelope.get("data"), query, warn)


def _decoded(envelope: dict[str, Any], data: Any, query: str | None, warn: bool) -> Decoded:
    """``data`` with the envelope's warnings and infos (emitted now when ``warn``)."""
    notes = Decoded(data, _strings(envelope, "warnings"), _strings(envelope, "infos"))
    if warn:
        emit_notes(notes.warnings, notes.infos, query)
    return notes


def decode_matrix(
    body: bytes,
    *,
    status: int,
    query: str | None = None,
    url: str | None = None,
    warn: bool = True,
) -> Decoded:
    """Like :func:`decode`, but a large matrix's samples come back as numpy columns.

    Big successful range-query bodies are parsed by :func:`obskit._matrix.parse` into
    :class:`~obskit._matrix.Columns` (no Python object per sample); everything else,
    and anything that parser is not sure about, goes through :func:`decode`.

    >>> body = b'{"status":"success","data":{"resultType":"matrix","result":[]}}'
    >>> decode_matrix(body, status=200).data
    {'resultType': 'matrix', 'result': []}
    """
    parsed = _matrix.parse(body) if 200 <= status < 300 and len(body) >= _matrix.FAST_FROM else None
    if parsed is None:
        return decode(body, status=status, query=query, url=url, warn=warn)
    envelope, columns = parsed
    return _decoded(envelope, {**envelope["data"], "result": columns}, query, warn)


def is_timeout(body: bytes) -> bool:
    """Whether an error body is Prometheus' own query timeout (``errorType`` ``timeout``).

    Read by :func:`decode` like any other answer, so the envelope is read in one place.

    >>> is_timeout(b'{"status":"error","errorType":"timeout","error":"query timed out"}')
    True
    >>> is_timeout(b"<html>503 Service Unavailable</html>")
    False
    """
    try:
        decode(body, status=503, warn=False)
    except PrometheusError as err:
        return err.error_type == "timeout"
    return False


def emit_notes(warnings: Sequence[str], infos: Sequence[str], query: str | None) -> None:
    """Raise Prometheus' ``warnings`` and ``infos`` as :class:`~obskit.PromQLWarning`."""
    asked = f"query {query!r}" if query else "request"
    for kind, texts in (("warning", warnings), ("info", infos)):
        for text in texts:
            message = f"Prometheus {kind} for {asked}: {text}"
            _warnings.warn(message, PromQLWarning, stacklevel=_outside_obskit())


def _outside_obskit() -> int:
    """The ``stacklevel`` of the first caller outside the obskit package."""
    package = os.path.dirname(__file__) + os.sep
    frame, level = sys._getframe(1), 1
    while frame.f_back is not None and frame.f_code.co_filename.startswith(package):
        frame, level = frame.f_back, level + 1
    return level


def _parse(body: bytes) -> Any:
    try:
        return loads(body) if body else None
    except orjson.JSONDecodeError:
        return None


def _strings(envelope: dict[str, Any], key: str) -> list[str]:
    return [str(item) for item in envelope.get(key) or ()]


def _snippet(body: bytes, limit: int = 200) -> str:
    text = body[: limit * 4].decode("utf-8", "replace").strip()
    text = " ".join(text.split())
    if not text:
        return "empty response body"
    return text if len(text) <= limit else text[:limit] + "..."
