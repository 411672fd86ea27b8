"""The Prometheus client: instant and range queries as DataFrames, series and discovery."""

from __future__ import annotations

import ast
import contextlib
import logging
import os
import re
import threading
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from datetime import datetime
from typing import Any, TypeVar
from urllib.parse import urlencode

import pandas as pd
import requests
from prometheus_api_client import PrometheusApiClientException, PrometheusConnect

from .. import _time, config, frames
from ..config import Settings
from ..errors import (
    ConfigError,
    PrometheusError,
    QueryExecutionError,
    QuerySyntaxError,
    QueryTimeoutError,
    TLSError,
    TooLargeError,
    UnreachableError,
)
from . import _discovery, _matrix
from . import _envelope as _api
from . import _split as _chunks
from . import _transport as _session

__all__ = ["Client", "connect"]

log = logging.getLogger("obskit")
T = TypeVar("T")

#: Requests whose form-encoded parameters are longer than this are sent as POST.
POST_OVER = 2048
#: Bytes read from the socket at once.
READ_SIZE = 1 << 20
_FORM = {"Content-Type": "application/x-www-form-urlencoded"}
_AT_MODIFIER = re.compile(r"@\s*(start|end)\s*\(\s*\)")
_POOL_PREFIX = re.compile(r"^\w*(?:Connection|ConnectionPool)\(host=[^)]*\):\s*")
_HELPER_FAILURE = re.compile(r"HTTP Status Code (\d+) \((b['\"].*['\"])\)\s*$", re.S)
_DROPPED = ("Connection aborted", "RemoteDisconnected", "Connection reset", "Connection broken")
_TO_HTTPS = b"HTTP request to an HTTPS server"  # Go's answer to plain HTTP on a TLS port
#: Range queries over this many points per series are refused before any request is sent.
MAX_RANGE_POINTS = 1_000_000
#: Range queries over this many points per series first count the expression's series.
PRECHECK_POINTS = 1_000


def connect(
    url: str | None = None, *, session: requests.Session | None = None, **kwargs: Any
) -> Client:
    """A :class:`Client` for ``url``, ``$PROMETHEUS_URL`` or the running demo.

    Keyword arguments are :class:`~obskit.config.Settings` fields (``username``,
    ``password``, ``bearer_token``, ``headers``, ``tenant``, ``ca_bundle``, ``verify``,
    ``timeout``, ``max_workers``, ...); ``PROMETHEUS_*`` variables fill the rest.

    >>> client = connect("http://127.0.0.1:9090", timeout=5)
    >>> client
    Client(url='http://127.0.0.1:9090')
    """
    return Client(Settings.from_env(url=url, **kwargs), session=session)


class Client:
    """Queries one Prometheus-compatible server through one :class:`requests.Session`.

    The session carries auth, headers and TLS settings and is shared by obskit's own
    fast calls (queries, series) and prometheus-api-client's helpers (labels, metadata).
    Requests answered with a 5xx status are retried ``settings.retries`` times with
    exponential backoff, except Prometheus' own query timeout (503, ``errorType``
    ``timeout``): running the same query again would only time out again.

    >>> client = Client(Settings("http://127.0.0.1:9090", tenant="shop"))
    >>> client.session.headers["X-Scope-OrgID"]
    'shop'
    """

    def __init__(self, settings: Settings, *, session: requests.Session | None = None) -> None:
        self.settings = settings
        self.url = settings.url
        self.session = session or requests.Session()
        retry = _session.retry_policy(settings.retries, settings.backoff)
        self.prom = PrometheusConnect(
            settings.url, session=self.session, retry=retry, timeout=settings.timeout
        )
        # After PrometheusConnect, whose own adapter for the URL this replaces.
        _session.configure(self.session, settings, retry)

    def __repr__(self) -> str:
        tenant = f", tenant={self.settings.tenant!r}" if self.settings.tenant else ""
        return f"Client(url={self.url!r}{tenant})"

    def __enter__(self) -> Client:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        """Close the session's pooled connections."""
        self.session.close()

    # -- queries -----------------------------------------------------------------

    def query(
        self,
        expr: str,
        time: _time.TimeLike | None = None,
        *,
        variables: Mapping[str, Any] | None = None,
    ) -> pd.DataFrame:
        """Evaluate ``expr`` at one instant (default :func:`obskit.config.now`).

        Grafana macros and ``$variables`` in ``expr`` are expanded as Grafana would for
        a one-hour dashboard (``$__range`` = 1h); ``df.attrs["query"]`` keeps them.

        >>> client.query("up", time="2026-02-14T18:00:00Z")  # doctest: +SKIP
        """
        _check_expr(expr)
        at = _time.parse_time(time, "time")
        params = {"query": self._expanded(expr, None, 3600.0, variables, at), "time": _unix(at)}
        with _api.gc_paused():
            result = self._call("query", params, what=expr)
            self._check_budget(result.data, expr)
            frame = frames.to_frame(
                result.data,
                query=expr,
                params={"time": at.isoformat()},
                warnings=result.warnings,
                infos=result.infos,
            )
            del result
        return frame

    def query_stats(self, expr: str, time: _time.TimeLike | None = None) -> dict[str, Any]:
        """What evaluating ``expr`` at one instant costs the server (``stats=all``).

        Prometheus' ``data.stats``: ``timings`` (seconds per phase) and ``samples``
        (``totalQueryableSamples``, ``peakSamples``). Servers that report no stats
        (VictoriaMetrics) give ``{}``. Warnings are left to :meth:`query`, which
        reports them. :func:`obskit.validate` adds the cost as a ``query-cost`` finding.

        >>> client.query_stats("sum(rate(voicebot_calls_total[5m]))")["samples"]  # doctest: +SKIP
        {'totalQueryableSamples': 1210, 'peakSamples': 24}
        """
        at = _time.parse_time(time, "time")
        sent = self._expanded(expr, None, 3600.0, None, at)
        params = {"query": sent, "time": _unix(at), "stats": "all"}
        data = self._call("query", params, what=expr, warn=False).data
        stats = data.get("stats") if isinstance(data, dict) else None
        return dict(stats) if isinstance(stats, dict) else {}

    def query_range(
        self,
        expr: str,
        start: _time.TimeLike = "-1h",
        end: _time.TimeLike = "now",
        step: _time.DurationLike | None = None,
        *,
        progress: bool | None = None,
        variables: Mapping[str, Any] | None = None,
    ) -> pd.DataFrame:
        """Evaluate ``expr`` over ``[start, end]`` every ``step``; a tidy long DataFrame.

        Grafana macros are expanded as Grafana would for this range with ``$__interval``
        = ``step`` (``$__rate_interval`` from ``settings.scrape_interval``); dashboard
        ``$variables`` come from ``variables``. ``df.attrs["query"]`` keeps the macros.

        Without ``step``, a round step giving about ``settings.target_points`` points is
        chosen. Ranges over ``settings.max_points`` points per series (Prometheus refuses
        more than 11,000) are split into chunks on the step grid, fetched concurrently
        (:attr:`workers` at once) and stitched: the same samples one request would
        return, no duplicates. If any chunk fails the whole call raises. Over
        :data:`MAX_RANGE_POINTS` points per series is refused before any request
        (:class:`~obskit.TooLargeError` naming a step that fits); over
        :data:`PRECHECK_POINTS`, one instant ``count(expr)`` at ``end`` first refuses a
        result over ``settings.series_budget`` before anything big is downloaded.
        ``progress=True`` shows a progress bar over the chunks (tqdm, if installed);
        the default shows it only in a Jupyter kernel and for 4 chunks or more;
        ``progress=False`` never does.

        >>> client.query_range("rate(voicebot_calls_total[5m])", "-6h", step="1m")  # doctest: +SKIP
        """
        _check_expr(expr)
        t0, t1 = _time_range(start, end)
        step_ms = self._step_ms(step, (t1 - t0).total_seconds())
        points = (_ms(t1) - _ms(t0)) // step_ms + 1
        self._check_points(expr, points, t0, t1)  # before planning millions of windows
        windows = _chunks.windows(_ms(t0), _ms(t1), step_ms, self.settings.max_points)
        params = {"start": t0.isoformat(), "end": t1.isoformat(), "step": step_ms / 1000}
        with _api.gc_paused():
            span = (t1 - t0).total_seconds()
            runnable = self._expanded(expr, step_ms / 1000, span, variables, t1)
            sent = _pin_start_end(runnable, t0, t1)  # chunks must agree on start() and end()
            if points > PRECHECK_POINTS:
                series = self._precheck_budget(sent, expr, t1)
                windows = _spread(windows, series, points, step_ms, self.workers)
            results = self._fetch_windows(expr, sent, windows, step_ms, progress)
            frame = frames.matrix_frame(
                [r.data["result"] or [] for r in results],
                query=expr,
                params={**params, "chunks": len(windows)},
                warnings=_unique(w for r in results for w in r.warnings),
                infos=_unique(i for r in results for i in r.infos),
                step=step_ms / 1000,
            )
            del results
        _api.emit_notes(frame.attrs["warnings"], frame.attrs["infos"], expr)
        return frame

    def _expanded(
        self,
        expr: str,
        interval: float | None,
        range_seconds: float,
        variables: Mapping[str, Any] | None,
        end: datetime,
    ) -> str:
        """``expr`` with Grafana macros and variables expanded (unchanged without any)."""
        if "$" not in expr and "[[" not in expr:
            return expr
        from ..promql._macros import expand

        return expand(
            expr,
            interval=interval,
            scrape_interval=self.settings.scrape_interval,
            range_seconds=max(range_seconds, 1.0),
            variables=variables,
            end=end,
        )

    def _step_ms(self, step: _time.DurationLike | None, span: float) -> int:
        """The step in whole milliseconds: as given, or a round one for ~target_points."""
        if step is None:
            seconds = _time.nice_step(span, self.settings.target_points)
        else:
            seconds = _time.parse_duration(step, "step")
        return max(1, round(seconds * 1000))

    def _check_points(self, expr: str, points: int, start: datetime, end: datetime) -> None:
        """Refuse, before any request, a range of over MAX_RANGE_POINTS points per series."""
        if points <= MAX_RANGE_POINTS:
            return
        span = (end - start).total_seconds()
        fits = _time.format_duration(_time.nice_step(span, self.settings.target_points))
        message = (
            f"{start.isoformat()} to {end.isoformat()} is {points:,} points per series at this "
            f"step, over obskit's limit of {MAX_RANGE_POINTS:,} (Prometheus itself answers at "
            f"most 11,000 per request); use a larger step, e.g. step={fits!r}"
        )
        raise TooLargeError(message, query=expr, url=self.url)

    def _precheck_budget(self, sent: str, expr: str, at: datetime) -> int | None:
        """Refuse a long range query whose expression has too many series at ``at``.

        One instant ``count(...)`` costs the server one evaluation where the range costs
        thousands, and nothing big is downloaded. Series that exist only earlier in the
        range are still caught by the check on each chunk. Expressions ``count()`` cannot
        wrap (scalars, strings) or that fail are left for the range query itself to report.
        """
        budget = self.settings.series_budget
        params = {"query": f"count({sent})", "time": _unix(at)}
        try:
            data = self._call("query", params, expr, warn=False).data
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
            raise TooLargeError(message, query=expr, url=self.url)
        return count

    def _fetch_windows(
        self,
        expr: str,
        sent: str,
        windows: list[tuple[int, int]],
        step_ms: int,
        progress: bool | None,
    ) -> list[_api.Decoded]:
        # One chunk is parsed at a time: parsing is CPU-bound and mostly holds the GIL, so a
        # second parse at once only takes the core the server needs to encode the next chunk.
        parsing = threading.Lock()

        def fetch(window: tuple[int, int]) -> _api.Decoded:
            start, end, step = window[0] / 1000, window[1] / 1000, step_ms / 1000
            params = {"query": sent, "start": start, "end": end, "step": step}
            result = self._call(
                "query_range", params, expr, warn=False, matrix=True, parsing=parsing
            )
            self._check_budget(result.data, expr)
            return result

        return _chunks.fetch_all(
            fetch, windows, max_workers=self.workers, progress=progress, label=expr
        )

    @property
    def workers(self) -> int:
        """Chunks fetched at once: ``settings.max_workers``, on loopback at most one per core.

        A Prometheus on this machine encodes its answers on the cores this process parses
        them on; with more requests in flight than cores, the first answers all finish
        late and parsing waits (measured in benchmarks/query_range.py).
        """
        if not _session.is_loopback(self.url):
            return self.settings.max_workers
        cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
        return max(1, min(self.settings.max_workers, cores or 1))

    def series(
        self,
        match: str | Sequence[str],
        start: _time.TimeLike = "-1h",
        end: _time.TimeLike = "now",
    ) -> pd.DataFrame:
        """The label sets of series matching ``match`` with samples in ``[start, end]``.

        One row per series, one string column per label (``__name__`` first).

        >>> client.series('{job="voicebot"}', "-1h", "now")  # doctest: +SKIP
        """
        t0, t1 = _time_range(start, end)
        matches = [match] if isinstance(match, str) else list(match)
        params = {"match[]": matches, "start": _unix(t0), "end": _unix(t1)}
        found = self._call("series", params, what=" ".join(matches)).data or []
        names = sorted({k for s in found for k in s}, key=lambda n: (n != "__name__", n))
        table = pd.DataFrame.from_records(found, columns=names)
        if names:
            table = table.sort_values(names, na_position="last", ignore_index=True)
        return table

    # -- discovery ---------------------------------------------------------------

    def labels(self, metric: str | None = None) -> pd.DataFrame:
        """Label names, of all series or of those matching ``metric`` (a selector).

        >>> client.labels("voicebot_calls_total")  # doctest: +SKIP
        """
        params = {"match[]": metric} if metric else {}
        names = self._helper("labels", lambda: self.prom.get_label_names(params=params))
        return pd.DataFrame({"label": sorted(names)}, dtype=str)

    def label_values(self, label: str, metric: str | None = None) -> pd.DataFrame:
        """Values of ``label``, optionally only on series matching ``metric``.

        The column is named after the label.

        >>> client.label_values("provider", "voicebot_tts_latency_seconds_count")  # doctest: +SKIP
        """
        params = {"match[]": metric} if metric else {}
        values = self._helper(
            f"values of label {label}", lambda: self.prom.get_label_values(label, params=params)
        )
        return pd.DataFrame({label: sorted(values)}, dtype=str)

    def metrics(self) -> pd.DataFrame:
        """Every metric name on the server with its ``type``, ``help`` and ``unit``.

        Prometheus' ``/api/v1/metadata`` is used where it knows the metric (``source``
        ``"prometheus"``); backfilled data has no metadata, so obskit's catalog fills in
        (``source`` ``"catalog"``); names neither knows get ``"unknown"``.

        >>> client.metrics().columns.tolist()  # doctest: +SKIP
        ['name', 'type', 'help', 'unit', 'source']
        """
        names = self._helper("metric names", lambda: self.prom.get_label_values("__name__"))
        entries = self._helper("metadata", lambda: self.prom.get_metric_metadata(metric=None))
        return _discovery.describe_metrics(names, entries)

    def series_count(
        self,
        match: str | None = None,
        start: _time.TimeLike = "-1h",
        end: _time.TimeLike = "now",
    ) -> pd.DataFrame:
        """How many series each metric name has in ``[start, end]`` (largest first).

        >>> client.series_count('{job="voicebot"}')  # doctest: +SKIP
        """
        found = self.series(match or '{__name__=~".+"}', start, end)
        return _discovery.series_per_name(found)

    # -- HTTP --------------------------------------------------------------------

    def _call(
        self,
        endpoint: str,
        params: Mapping[str, Any],
        what: str,
        *,
        warn: bool = True,
        matrix: bool = False,
        parsing: threading.Lock | None = None,
    ) -> _api.Decoded:
        """One request to ``/api/v1/<endpoint>`` (POST when long), decoded.

        ``matrix`` lets a large range-query body be parsed straight into numpy columns;
        ``parsing`` is held while the body is parsed.
        """
        url = f"{self.url}/api/v1/{endpoint}"
        status, body = self._send(url, params, what)
        if status == 400 and _TO_HTTPS in body[:200]:
            raise _plain_http_error(what, url)
        decode = _api.decode_matrix if matrix else _api.decode
        with parsing or contextlib.nullcontext():
            return decode(body, status=status, query=what, url=url, warn=warn)

    def _send(self, url: str, params: Mapping[str, Any], what: str) -> tuple[int, bytes]:
        """The status and whole body of a request, a 503 retried unless it is a timeout.

        500/502/504 are retried by the session's adapter (for prometheus-api-client's
        helpers too); 503 is retried here, where the body tells Prometheus' query timeout
        (not worth repeating) from an unavailable server or proxy.
        """
        for attempt in range(self.settings.retries + 1):
            status, body = self._send_once(url, params, what)
            if status != 503 or attempt == self.settings.retries or _api.is_timeout(body):
                break
            delay = self.settings.backoff * 2**attempt
            log.info("%s answered 503; retry %d in %.2f s", url, attempt + 1, delay)
            time.sleep(delay)
        return status, body

    def _send_once(self, url: str, params: Mapping[str, Any], what: str) -> tuple[int, bytes]:
        """The status and whole body of one request; transport failures mapped."""
        encoded = urlencode(params, doseq=True)
        post = len(encoded) > POST_OVER
        try:
            response = self.session.request(
                "POST" if post else "GET",
                url,
                params=None if post else encoded,
                data=encoded if post else None,
                headers=_FORM if post else None,
                timeout=self.settings.timeout,
                verify=self.session.verify,  # else $REQUESTS_CA_BUNDLE overrides session.verify
                stream=True,
            )
            try:  # big reads: requests' default of 10 kB costs ~0.1 s per 30 MB
                body = b"".join(response.iter_content(READ_SIZE))
            finally:
                response.close()
        except requests.RequestException as exc:
            raise self._transport_error(exc, what, url) from exc
        log.debug("%s %s -> %s (%d bytes)", response.request.method, url, response.status_code,
                  len(body))  # fmt: skip
        return response.status_code, body

    def _transport_error(self, exc: Exception, what: str, url: str) -> PrometheusError:
        timeout = self.settings.timeout
        if isinstance(exc, requests.exceptions.SSLError):
            plain = "WRONG_VERSION_NUMBER" in str(exc)  # the server answered without TLS
            hint = "It speaks plain HTTP: use an http:// URL" if plain else None
            return TLSError(f"TLS handshake failed: {_reason(exc)}", query=what, url=url, hint=hint)
        if isinstance(exc, requests.exceptions.ConnectTimeout):
            message = f"no connection within {timeout:g} s"
            return UnreachableError(message, query=what, url=url)
        if isinstance(exc, requests.exceptions.Timeout):
            message = f"no answer within timeout={timeout:g} s"
            return QueryTimeoutError(message, query=what, url=url)
        if "Read timed out" in str(exc):  # while streaming the body requests says ConnectionError
            message = f"no answer within timeout={timeout:g} s"
            return QueryTimeoutError(message, query=what, url=url)
        if isinstance(
            exc, requests.exceptions.ConnectionError | requests.exceptions.ChunkedEncodingError
        ) and any(marker in str(exc) for marker in _DROPPED):
            message = f"the connection was closed before an answer came: {_reason(exc)}"
            return UnreachableError(message, query=what, url=url)
        if isinstance(exc, requests.exceptions.ConnectionError):
            message = f"cannot connect (timeout {timeout:g} s): {_reason(exc)}"
            return UnreachableError(message, query=what, url=url)
        return PrometheusError(f"request failed: {_reason(exc)}", query=what, url=url)

    def _helper(self, what: str, call: Callable[[], T]) -> T:
        """Run a prometheus-api-client helper, translating its errors to obskit's."""
        try:
            return call()
        except requests.RequestException as exc:
            raise self._transport_error(exc, what, self.url) from exc
        except PrometheusApiClientException as exc:
            raise _helper_error(exc, what, self.url) from exc

    def _check_budget(self, data: Any, expr: str) -> None:
        """Refuse a matrix or vector with more series than ``settings.series_budget``."""
        budget = self.settings.series_budget
        if not isinstance(data, dict) or data.get("resultType") not in ("matrix", "vector"):
            return
        result = data.get("result") or ()
        count = len(result.metrics if isinstance(result, _matrix.Columns) else result)
        if budget is not None and count > budget:
            message = f"the result has {count} series, over series_budget={budget}"
            raise TooLargeError(message, query=expr, url=self.url)


def _check_expr(expr: object) -> None:
    """Refuse a query that is not a string, or is empty, before sending it."""
    if not isinstance(expr, str):
        raise ConfigError(
            "the query must be a PromQL string like 'sum(rate(voicebot_calls_total[5m]))'; "
            f"got {type(expr).__name__} {expr!r}"
        )
    if not expr.strip():
        raise QuerySyntaxError(
            "the query is empty; pass a PromQL expression like "
            "'sum(rate(voicebot_calls_total[5m]))'",
            query=expr,
        )


#: Range answers above this many samples are fetched in pieces so that Prometheus encodes
#: one while this process parses another (measured in benchmarks/query_range.py).
SPREAD_SAMPLES = 400_000
#: ... pieces of about this many samples: small enough to keep both ends of the pipeline
#: busy, large enough that the per-request work does not dominate ...
PIECE_SAMPLES = 250_000
#: ... and of at least this many points per series: per piece, the server and the parser
#: also pay per series (labels, lookups), so wide answers get few, long pieces.
PIECE_POINTS = 1_000


def _spread(
    windows: list[tuple[int, int]], series: int | None, points: int, step_ms: int, workers: int
) -> list[tuple[int, int]]:
    """Re-split a big answer's windows on the step grid into pieces for the workers.

    ``ceil(samples / PIECE_SAMPLES)`` pieces, fewer if they would hold under
    :data:`PIECE_POINTS` points per series, at least one per worker, and never larger
    than the windows planned for Prometheus' point cap. Answers under
    :data:`SPREAD_SAMPLES` and an unknown series count keep their plan.
    """
    if not series or series * points < SPREAD_SAMPLES:
        return windows
    pieces = max(workers, min(-(-series * points // PIECE_SAMPLES), points // PIECE_POINTS))
    if pieces <= len(windows):
        return windows
    return _chunks.windows(windows[0][0], windows[-1][1], step_ms, -(-points // pieces))


def _time_range(start: _time.TimeLike, end: _time.TimeLike) -> tuple[datetime, datetime]:
    now = config.now()
    t0 = _time.parse_time(start, "start", now=now)
    t1 = _time.parse_time(end, "end", now=now)
    _time.check_range(t0, t1)
    return t0, t1


def _pin_start_end(expr: str, start: datetime, end: datetime) -> str:
    """Replace ``@ start()``/``@ end()`` by the whole range's times, so chunks agree on them.

    >>> from datetime import datetime, UTC
    >>> day = datetime(2026, 2, 14, tzinfo=UTC)
    >>> _pin_start_end("up @ end() - up @ start()", day, day.replace(hour=6))
    'up @ 1771048800.000 - up @ 1771027200.000'
    """
    times = {"start": _unix(start), "end": _unix(end)}
    return _AT_MODIFIER.sub(lambda m: f"@ {times[m.group(1)]:.3f}", expr)


def _plain_http_error(what: str, url: str) -> TLSError:
    return TLSError(
        "the server answered that it speaks HTTPS",
        query=what,
        url=url,
        hint="Use an https:// URL (with ca_bundle= if its certificate is not publicly trusted)",
    )


def _helper_error(exc: PrometheusApiClientException, what: str, url: str) -> PrometheusError:
    """Recover status and body from prometheus-api-client's message and decode them."""
    match = _HELPER_FAILURE.search(str(exc))
    if match and match.group(1) == "400" and _TO_HTTPS.decode() in match.group(2):
        return _plain_http_error(what, url)
    if match:
        try:
            body = ast.literal_eval(match.group(2))
            _api.decode(body, status=int(match.group(1)), query=what, url=url)
        except PrometheusError as mapped:
            return mapped
        except (ValueError, SyntaxError):
            pass
    return PrometheusError(str(exc), query=what, url=url)


def _unique(items: Iterable[str]) -> list[str]:
    return list(dict.fromkeys(items))


def _reason(exc: Exception) -> str:
    """The innermost cause of a requests error, e.g. ``[Errno 111] Connection refused``."""
    inner = exc.args[0] if exc.args else exc
    text = str(getattr(inner, "reason", inner))  # urllib3's MaxRetryError wraps the cause
    text = _POOL_PREFIX.sub("", text).removeprefix("Failed to establish a new connection: ")
    return " ".join(text.split())[:300]


def _ms(moment: datetime) -> int:
    return round(_time.to_unix(moment) * 1000)


def _unix(moment: datetime) -> float:
    return _ms(moment) / 1000
