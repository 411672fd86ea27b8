"""Per server: which ``Accept-Encoding`` to ask for and how many range pieces to fetch at once.

The choice is measured, not configured. Every answer of at least :data:`PROBE_BYTES`
is timed while its body arrives (from its headers to its last byte, several answers in
flight counted once), giving the JSON bytes per second this client receives from that
server with that encoding. On loopback obskit asks for ``identity`` (gzip only costs
there). Elsewhere it starts with ``identity``, which measures the link itself; if that
is slower than :data:`TRY_GZIP_BELOW` it tries ``gzip`` on the next big answers and
keeps whichever delivered more JSON per second (:func:`choose_encoding`). A fresh
client's first big range answer starts with one or two small probe pieces fetched alone
(:func:`needs_probe`), so the rest already comes in the link's encoding. Prometheus
compresses on one core per request (~16 MB/s of JSON on this machine), so on a fast
link gzip is the slow choice and on a slow link identity is (benchmarks/remote.py).
``Settings.encoding`` / ``Settings.concurrency`` fix either choice.
"""

from __future__ import annotations

import os
import statistics
import threading
import time
import weakref
from collections import deque
from collections.abc import Iterator, Mapping
from typing import Any

import requests

from ..config import Settings
from . import _transport

__all__ = [
    "GZIP_PROBE_SAMPLES",
    "PROBE_SAMPLES",
    "Link",
    "attach",
    "choose_concurrency",
    "choose_encoding",
    "link_of",
    "needs_probe",
    "steady_rate",
    "workers",
]

#: Answers smaller than this tell latency, not bandwidth: they are not measured. A
#: quarter MiB is past tc's burst on the benchmark's links and costs 0.1 s at 20 Mbit/s.
PROBE_BYTES = 1 << 18
#: Body bytes read at once while the link is unsettled, so that the second half of a
#: probe's body can be timed (obskit otherwise reads 1 MiB at once).
MARK_BYTES = 1 << 16
#: Samples in the probe piece a big range answer starts with while the link is not yet
#: measured (:func:`needs_probe`): about 0.35 MB of JSON, just over :data:`PROBE_BYTES`.
PROBE_SAMPLES = 16_000
#: ... and in the second probe, gzip, where the first found the link slow: gzip bodies
#: are 4-8x smaller on the wire, and a smaller one passes in a shaper's burst or before
#: the server's compression reaches its steady rate, overstating it.
GZIP_PROBE_SAMPLES = 64_000
#: Below this many JSON bytes per second with identity, gzip is worth a try: Prometheus
#: 2.42 gzips ~16 MB/s of JSON on one core, so on a faster link gzip cannot win.
TRY_GZIP_BELOW = 40e6
#: Rates kept per encoding (the median of the last few decides).
KEPT = 3
#: Pieces fetched at once from a server on another host, when not fixed (see
#: :func:`choose_concurrency`).
REMOTE_CONCURRENCY = 2

_LINKS: weakref.WeakKeyDictionary[requests.Session, Link] = weakref.WeakKeyDictionary()


def choose_encoding(identity: float | None, gzip: float | None) -> str:
    """The encoding to ask for, from the measured JSON bytes/s of each (``None``: unmeasured).

    Identity until measured; gzip tried when identity is slower than
    :data:`TRY_GZIP_BELOW`; once both are measured, the faster.

    >>> choose_encoding(None, None), choose_encoding(90e6, None), choose_encoding(12e6, None)
    ('identity', 'identity', 'gzip')
    >>> choose_encoding(12e6, 16e6), choose_encoding(30e6, 16e6)
    ('gzip', 'identity')
    """
    if identity is None:
        return "identity"
    if gzip is None:
        return "gzip" if identity < TRY_GZIP_BELOW else "identity"
    return "gzip" if gzip > identity else "identity"


def choose_concurrency(max_workers: int, *, loopback: bool, cores: int) -> int:
    """Range pieces fetched at once when ``Settings.concurrency`` is not set.

    On loopback the server encodes on the cores this process parses on: at most one
    piece per core. Elsewhere :data:`REMOTE_CONCURRENCY`: pieces are parsed one at a
    time, so two in flight keep the server computing the next while this process parses
    the last; more only split the link and the server's cores between more requests.
    Never more than ``max_workers``.

    >>> choose_concurrency(4, loopback=True, cores=2), choose_concurrency(4, loopback=False, cores=2)
    (2, 2)
    >>> choose_concurrency(1, loopback=False, cores=8)
    1
    """
    wanted = cores if loopback else REMOTE_CONCURRENCY
    return max(1, min(max_workers, wanted))


class Link:
    """What one session's big answers measured: JSON bytes per second, per encoding.

    Several answers in flight at once are counted together: their bytes over the time
    during which at least one of them was arriving. Only the second half of those bytes
    is timed: the first half arrives faster than the link carries (a router's or
    shaper's burst allowance) or slower (TCP slow start), and a probe piece is small.
    """

    def __init__(self, settings: Settings) -> None:
        self.fixed = None if settings.encoding == "auto" else settings.encoding
        self.loopback = _transport.is_loopback(settings.url)
        self._lock = threading.Lock()
        self._rates: dict[str, deque[float]] = {e: deque(maxlen=KEPT) for e in ("identity", "gzip")}
        self._active: dict[str, int] = {"identity": 0, "gzip": 0}
        #: (time, bytes so far) after each piece of body, while answers are arriving
        self._marks: dict[str, list[tuple[float, int]]] = {"identity": [], "gzip": []}
        self._session: weakref.ref[requests.Session] | None = None

    def __repr__(self) -> str:
        shown = {e: round(r / 1e6, 1) for e, r in self.rates().items() if r is not None}
        return f"Link(encoding={self.encoding!r}, MB/s={shown})"

    @property
    def settled(self) -> bool:
        """Whether measuring more would not change the choice yet: fixed, loopback, a fast
        identity link, or both encodings timed."""
        if self.fixed is not None or self.loopback:
            return True
        rates = self.rates()
        identity, gzip = rates["identity"], rates["gzip"]
        return identity is not None and (identity >= TRY_GZIP_BELOW or gzip is not None)

    @property
    def encoding(self) -> str:
        """The ``Accept-Encoding`` the next request asks for."""
        if self.fixed is not None:
            return self.fixed
        if self.loopback:
            return "identity"
        rates = self.rates()
        return choose_encoding(rates["identity"], rates["gzip"])

    def rates(self) -> dict[str, float | None]:
        """Median measured JSON bytes/s per encoding (``None`` where none was measured)."""
        with self._lock:
            return {e: statistics.median(r) if r else None for e, r in self._rates.items()}

    def record(self, encoding: str, rate: float) -> None:
        """Add one measured rate (JSON bytes/s) for ``encoding`` and apply the new choice."""
        with self._lock:
            self._rates[encoding].append(rate)
        self._apply()

    def on_response(self, response: requests.Response, *args: Any, **kwargs: Any) -> None:
        """requests response hook: time this answer's body as it is read."""
        raw = response.raw
        stream = getattr(raw, "stream", None)
        if stream is None or _declared_small(response.headers):
            return
        gzip = "gzip" in response.headers.get("Content-Encoding", "").lower()
        encoding = "gzip" if gzip else "identity"

        fine = not self.settled  # a probe piece: read in small pieces to time its halves

        def timed(amt: int | None = None, *a: Any, **k: Any) -> Iterator[bytes]:
            self._begin(encoding)
            if fine and amt is not None:
                amt = min(amt, MARK_BYTES)
            try:
                for chunk in stream(amt, *a, **k):
                    self._add(encoding, len(chunk))
                    yield chunk
            finally:
                self._end(encoding)

        raw.stream = timed

    def _begin(self, encoding: str) -> None:
        with self._lock:
            if self._active[encoding] == 0:
                self._marks[encoding] = []
            self._active[encoding] += 1

    def _add(self, encoding: str, size: int) -> None:
        with self._lock:
            marks = self._marks[encoding]
            marks.append((time.perf_counter(), (marks[-1][1] if marks else 0) + size))

    def _end(self, encoding: str) -> None:
        with self._lock:
            self._active[encoding] -= 1
            if self._active[encoding]:
                return
            marks, self._marks[encoding] = self._marks[encoding], []
        rate = steady_rate(marks)
        if rate is not None:
            self.record(encoding, rate)

    def _apply(self) -> None:
        """Ask for the (possibly new) choice from the next request on."""
        session = self._session() if self._session is not None else None
        if session is not None:
            session.headers["Accept-Encoding"] = self.encoding


def steady_rate(marks: list[tuple[float, int]]) -> float | None:
    """Bytes per second over the second half of a body, from ``(time, bytes so far)`` marks.

    ``None`` for bodies under :data:`PROBE_BYTES` (they tell latency, not bandwidth).

    >>> steady_rate([(0.0, 200_000), (0.25, 300_000), (0.5, 400_000), (0.75, 500_000)])
    400000.0
    >>> steady_rate([(0.0, 1000), (1.0, 2000)]) is None
    True
    """
    if not marks or marks[-1][1] < PROBE_BYTES:
        return None
    end, total = marks[-1]
    half = next((t, b) for t, b in marks if b >= total / 2)
    seconds = end - half[0]
    return (total - half[1]) / seconds if seconds > 0 else None


def _declared_small(headers: Mapping[str, str]) -> bool:
    length = headers.get("Content-Length")
    return length is not None and length.isdigit() and int(length) < PROBE_BYTES // 8


def attach(session: requests.Session, settings: Settings) -> Link:
    """Give ``session`` a :class:`Link`: its ``Accept-Encoding`` and the timing hook.

    >>> s = requests.Session()
    >>> attach(s, Settings("http://127.0.0.1:9090")).encoding, s.headers["Accept-Encoding"]
    ('identity', 'identity')
    """
    previous = _LINKS.get(session)
    if previous is not None and previous.on_response in session.hooks["response"]:
        session.hooks["response"].remove(previous.on_response)
    link = Link(settings)
    link._session = weakref.ref(session)
    _LINKS[session] = link
    session.hooks["response"].append(link.on_response)
    session.headers["Accept-Encoding"] = link.encoding
    return link


def link_of(session: requests.Session) -> Link | None:
    """The :class:`Link` :func:`attach` gave ``session``, if any."""
    return _LINKS.get(session)


def needs_probe(session: requests.Session) -> bool:
    """Whether a big answer should start with a small probe piece, fetched alone.

    Only while the encoding is chosen by measurement and not yet settled
    (:attr:`Link.settled`): a first probe (:data:`PROBE_SAMPLES`, identity) times the
    link; where that is slow, a second (:data:`GZIP_PROBE_SAMPLES`, gzip) times the
    server's compression. The rest of
    the answer is then asked for in the encoding that delivered more, instead of a whole
    first answer being fetched uncompressed over a slow link, or compressed where the
    server compresses slower than the link carries.

    >>> s = requests.Session()
    >>> _ = attach(s, Settings("http://10.0.0.5:9090")); needs_probe(s)
    True
    >>> _ = attach(s, Settings("http://10.0.0.5:9090", encoding="gzip")); needs_probe(s)
    False
    """
    link = _LINKS.get(session)
    return link is not None and not link.settled


def workers(session: requests.Session, settings: Settings) -> int:
    """Range pieces fetched at once for ``settings``' server: fixed, or :func:`choose_concurrency`.

    >>> workers(requests.Session(), Settings("http://10.0.0.5:9090", concurrency=3))
    3
    """
    if settings.concurrency is not None:
        return settings.concurrency
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    loopback = _transport.is_loopback(settings.url)
    return choose_concurrency(settings.max_workers, loopback=loopback, cores=cores or 1)
