"""Fetch one range query: refuse what is too big, plan pieces on the step grid, fetch, stitch."""

from __future__ import annotations

import re
import threading
from collections.abc import Iterable
from datetime import datetime

import pandas as pd

from .. import _time, frames
from ..errors import QueryExecutionError, QuerySyntaxError, TooLargeError
from . import _envelope, _link, _matrix
from . import _split as _chunks
from ._http import Transport

__all__ = [
    "MAX_RANGE_POINTS",
    "PRECHECK_POINTS",
    "check_budget",
    "fetch",
    "ms",
    "probe_first",
    "step_ms",
    "unix",
]

#: Range queries over this many points per series are refused before any request is sent.
MAX_RANGE_POINTS = 1_000_000
#: Range queries over this many points per series first count the expression's series.
PRECHECK_POINTS = 1_000
#: Range answers above this many samples are fetched in pieces so that Prometheus encodes
#: one while this process parses another (measured in benchmarks/query_range.py).
SPREAD_SAMPLES = 400_000
#: ... pieces of about this many samples: small enough to keep both ends of the pipeline
#: busy, large enough that the per-request work does not dominate ...
PIECE_SAMPLES = 250_000
#: ... and of at least this many points per series: per piece, the server and the parser
#: also pay per series (labels, lookups), so wide answers get few, long pieces.
PIECE_POINTS = 1_000
#: Probe pieces a big answer may start with while the link is unsettled: identity, then
#: gzip where identity was slow (see ``_link.needs_probe`` and :func:`probe_first`).
PROBES = 2
_AT_MODIFIER = re.compile(r"@\s*(start|end)\s*\(\s*\)")


def fetch(
    http: Transport,
    expr: str,
    runnable: str,
    span: tuple[datetime, datetime],
    step: int,
    *,
    workers: int,
    progress: bool | None,
) -> pd.DataFrame:
    """``runnable`` (``expr`` with macros expanded) over ``span`` every ``step`` ms, as a frame.

    Split on the step grid into pieces of at most ``settings.max_points`` points, and
    spread big answers over the ``workers``; every piece must succeed. While the link to
    the server is not measured, a big answer starts with a small probe piece fetched
    alone (:func:`probe_first`), which decides the encoding of the rest.
    """
    t0, t1 = span
    settings = http.settings
    points = (ms(t1) - ms(t0)) // step + 1
    _check_points(http, expr, points, t0, t1)  # before planning millions of windows
    windows = _chunks.windows(ms(t0), ms(t1), step, settings.max_points)
    sent = pin_start_end(runnable, t0, t1)  # pieces must agree on start() and end()
    probe = False
    if points > PRECHECK_POINTS:
        series = _precheck_budget(http, sent, expr, t1)
        windows = spread(windows, series, points, step, workers)
        if _link.needs_probe(http.session):
            windows, probe = probe_first(windows, series, points, step), True
    results = _fetch_windows(http, expr, sent, windows, step, workers, progress, probe)
    frame = frames.matrix_frame(
        [r.data["result"] or [] for r in results],
        query=expr,
        params={
            "start": t0.isoformat(),
            "end": t1.isoformat(),
            "step": step / 1000,
            "chunks": len(windows),
        },
        warnings=_unique(w for r in results for w in r.warnings),
        infos=_unique(i for r in results for i in r.infos),
        step=step / 1000,
    )
    del results
    return frame


def step_ms(step: _time.DurationLike | None, span: float, target_points: int) -> int:
    """The step in whole milliseconds: as given, or a round one for ~target_points.

    >>> step_ms("1m", 3600, 1000), step_ms(None, 6 * 3600, 1000)
    (60000, 30000)
    """
    if step is None:
        seconds = _time.nice_step(span, target_points)
    else:
        seconds = _time.parse_duration(step, "step")
    return max(1, round(seconds * 1000))


def check_budget(http: Transport, data: object, expr: str) -> None:
    """Refuse a matrix or vector with more series than ``settings.series_budget``."""
    budget = http.settings.series_budget
    if not isinstance(data, dict) or data.get("resultType") not in ("matrix", "vector"):
        return
    result = data.get("result") or ()
    count = len(result.metrics if isinstance(result, _matrix.Columns) else result)
    if budget is not None and count > budget:
        message = f"the result has {count} series, over series_budget={budget}"
        raise TooLargeError(message, query=expr, url=http.settings.url)


def _check_points(http: Transport, expr: str, points: int, start: datetime, end: datetime) -> None:
    """Refuse, before any request, a range of over MAX_RANGE_POINTS points per series."""
    if points <= MAX_RANGE_POINTS:
        return
    span = (end - start).total_seconds()
    fits = _time.format_duration(_time.nice_step(span, http.settings.target_points))
    message = (
        f"{start.isoformat()} to {end.isoformat()} is {points:,} points per series at this "
        f"step, over obskit's limit of {MAX_RANGE_POINTS:,} (Prometheus itself answers at "
        f"most 11,000 per request); use a larger step, e.g. step={fits!r}"
    )
    raise TooLargeError(message, query=expr, url=http.settings.url)


def _precheck_budget(http: Transport, sent: str, expr: str, at: datetime) -> int | None:
    """Refuse a long range query whose expression has too many series at ``at``.

    One instant ``count(...)`` costs the server one evaluation where the range costs
    thousands, and nothing big is downloaded. Series that exist only earlier in the
    range are still caught by the check on each piece. Expressions ``count()`` cannot
    wrap (scalars, strings) or that fail are left for the range query itself to report.
    """
    budget = http.settings.series_budget
    params = {"query": f"count({sent})", "time": unix(at)}
    try:
        data = http.call("query", params, expr, warn=False).data
    except (QuerySyntaxError, QueryExecutionError):
        return None
    try:
        count = int(float(data["result"][0]["value"][1])) if data["result"] else 0
    except (LookupError, TypeError, ValueError):
        return None  # not the one-sample vector count() gives: e.g. not a Prometheus
    if budget is not None and count > budget:
        message = (
            f"the expression has {count:,} series at {at.isoformat()}, over "
            f"series_budget={budget} (counted before downloading the range)"
        )
        raise TooLargeError(message, query=expr, url=http.settings.url)
    return count


def _fetch_windows(
    http: Transport,
    expr: str,
    sent: str,
    windows: list[tuple[int, int]],
    step: int,
    workers: int,
    progress: bool | None,
    probe: bool = False,
) -> list[_envelope.Decoded]:
    """Every window's answer, in order; with ``probe``, the first alone before the rest."""
    # One piece is parsed at a time: parsing is CPU-bound and mostly holds the GIL, so a
    # second parse at once only takes the core the server needs to encode the next piece.
    parsing = threading.Lock()

    def one(window: tuple[int, int]) -> _envelope.Decoded:
        params = {"query": sent, "start": window[0] / 1000, "end": window[1] / 1000,
                  "step": step / 1000}  # fmt: skip
        result = http.call("query_range", params, expr, warn=False, matrix=True, parsing=parsing)
        check_budget(http, result.data, expr)
        return result

    first: list[_envelope.Decoded] = []
    while probe and len(windows) > 1 and len(first) < PROBES and _link.needs_probe(http.session):
        first.append(one(windows[0]))  # alone: it times the link (identity), then gzip
        windows = windows[1:]
    rest = _chunks.fetch_all(one, windows, max_workers=workers, progress=progress, label=expr)
    return first + rest


def probe_first(
    windows: list[tuple[int, int]], series: int | None, points: int, step_ms: int
) -> list[tuple[int, int]]:
    """Start a big answer with probe pieces of ``_link.PROBE_SAMPLES`` and
    ``_link.GZIP_PROBE_SAMPLES`` samples (about).

    Each is fetched alone while the link's encoding is unsettled (``_link.needs_probe``),
    else with the others; the rest keeps its plan. Answers under :data:`SPREAD_SAMPLES`
    are left whole.

    >>> probe_first([(0, 999_000), (1_000_000, 1_439_000)], 1000, 1440, 1000)
    [(0, 15000), (16000, 79000), (80000, 999000), (1000000, 1439000)]
    """
    if not series or series * points < SPREAD_SAMPLES:
        return windows
    (start, end), *rest = windows
    probes = []
    for samples in (_link.PROBE_SAMPLES, _link.GZIP_PROBE_SAMPLES):
        head = max(1, -(-samples // series))  # points per series in this probe
        cut = start + head * step_ms
        if cut > end:
            break
        probes.append((start, cut - step_ms))
        start = cut
    return [*probes, (start, end), *rest]


def spread(
    windows: list[tuple[int, int]], series: int | None, points: int, step_ms: int, workers: int
) -> list[tuple[int, int]]:
    """Re-split a big answer's windows on the step grid into pieces for the workers.

    ``ceil(samples / PIECE_SAMPLES)`` pieces, fewer if they would hold under
    :data:`PIECE_POINTS` points per series, at least one per worker, and never larger
    than the windows planned for Prometheus' point cap. Answers under
    :data:`SPREAD_SAMPLES` and an unknown series count keep their plan.

    >>> spread([(0, 3_599_000)], 1000, 3600, 1000, 2)
    [(0, 1199000), (1200000, 2399000), (2400000, 3599000)]
    """
    if not series or series * points < SPREAD_SAMPLES:
        return windows
    pieces = max(workers, min(-(-series * points // PIECE_SAMPLES), points // PIECE_POINTS))
    if pieces <= len(windows):
        return windows
    return _chunks.windows(windows[0][0], windows[-1][1], step_ms, -(-points // pieces))


def pin_start_end(expr: str, start: datetime, end: datetime) -> str:
    """Replace ``@ start()``/``@ end()`` by the whole range's times, so pieces agree on them.

    >>> from datetime import datetime, UTC
    >>> day = datetime(2026, 2, 14, tzinfo=UTC)
    >>> pin_start_end("up @ end() - up @ start()", day, day.replace(hour=6))
    'up @ 1771048800.000 - up @ 1771027200.000'
    """
    times = {"start": unix(start), "end": unix(end)}
    return _AT_MODIFIER.sub(lambda m: f"@ {times[m.group(1)]:.3f}", expr)


def _unique(items: Iterable[str]) -> list[str]:
    return list(dict.fromkeys(items))


def ms(moment: datetime) -> int:
    """``moment`` in whole unix milliseconds."""
    return round(_time.to_unix(moment) * 1000)


def unix(moment: datetime) -> float:
    """``moment`` in unix seconds, rounded to the millisecond."""
    return ms(moment) / 1000
