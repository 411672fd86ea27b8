"""The Prometheus client: instant and range queries as DataFrames, series and discovery."""

from __future__ import annotations

import ast
import logging
import re
from collections.abc import Callable, Iterable, Mapping, Sequence
from datetime import datetime
from typing import Any, TypeVar
from urllib.parse import urlencode

import pandas as pd
import requests
from prometheus_api_client import PrometheusApiClientException, PrometheusConnect

from . import _api, _chunks, _discovery, _session, _time, config, frames
from .config import Settings
from .errors import (
    PrometheusError,
    QueryTimeoutError,
    TLSError,
    TooLargeError,
    UnreachableError,
)

__all__ = ["Client", "connect"]

log = logging.getLogger("obskit")
T = TypeVar("T")

#: Requests whose form-encoded parameters are longer than this are sent as POST.
POST_OVER = 2048
_FORM = {"Content-Type": "application/x-www-form-urlencoded"}
_AT_MODIFIER = re.compile(r"@\s*(start|end)\s*\(\s*\)")
_POOL_PREFIX = re.compile(r"^\w*(?:Connection|ConnectionPool)\(host=[^)]*\):\s*")
_HELPER_FAILURE = re.compile(r"HTTP Status Code (\d+) \((b['\"].*['\"])\)\s*$", re.S)


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
    exponential backoff.

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
        at = _time.parse_time(time, "time")
        params = {"query": self._expanded(expr, None, 3600.0, variables), "time": _unix(at)}
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
        (``settings.max_workers``) and stitched: the same samples one request would
        return, no duplicates. If any chunk fails the whole call raises.
        ``progress`` shows chunk progress (default: only in a notebook, for many chunks).

        >>> client.query_range("rate(voicebot_calls_total[5m])", "-6h", step="1m")  # doctest: +SKIP
        """
        t0, t1 = _time_range(start, end)
        step_ms = self._step_ms(step, (t1 - t0).total_seconds())
        windows = _chunks.windows(_ms(t0), _ms(t1), step_ms, self.settings.max_points)
        params = {"start": t0.isoformat(), "end": t1.isoformat(), "step": step_ms / 1000}
        with _api.gc_paused():
            runnable = self._expanded(expr, step_ms / 1000, (t1 - t0).total_seconds(), variables)
            sent = _pin_start_end(runnable, t0, t1)  # chunks must agree on start() and end()
            results = self._fetch_windows(expr, sent, windows, step_ms, progress)
            data = {
                "resultType": "matrix",
                "result": [s for r in results for s in r.data["result"]],
            }
            frame = frames.to_frame(
                data,
                query=expr,
                params={**params, "chunks": len(windows)},
                warnings=_unique(w for r in results for w in r.warnings),
                infos=_unique(i for r in results for i in r.infos),
                step=step_ms / 1000,
            )
            del results, data
        _api.emit_notes(frame.attrs["warnings"], frame.attrs["infos"], expr)
        return frame

    def _expanded(
        self,
        expr: str,
        interval: float | None,
        range_seconds: float,
        variables: Mapping[str, Any] | None,
    ) -> str:
        """``expr`` with Grafana macros and variables expanded (unchanged without any)."""
        if "$" not in expr and "[[" not in expr:
            return expr
        from ._grafana import expand

        return expand(
            expr,
            interval=interval,
            scrape_interval=self.settings.scrape_interval,
            range_seconds=max(range_seconds, 1.0),
            variables=variables,
        )

    def _step_ms(self, step: _time.DurationLike | None, span: float) -> int:
        """The step in whole milliseconds: as given, or a round one for ~target_points."""
        if step is None:
            seconds = _time.nice_step(span, self.settings.target_points)
        else:
            seconds = _time.parse_duration(step, "step")
        return max(1, round(seconds * 1000))

    def _fetch_windows(
        self,
        expr: str,
        sent: str,
        windows: list[tuple[int, int]],
        step_ms: int,
        progress: bool | None,
    ) -> list[_api.Decoded]:
        def fetch(window: tuple[int, int]) -> _api.Decoded:
            params = {"query": sent, "start": window[0] / 1000, "end": window[1] / 1000}
            result = self._call("query_range", {**params, "step": step_ms / 1000}, expr, warn=False)
            self._check_budget(result.data, expr)
            return result

        return _chunks.fetch_all(
            fetch, windows, max_workers=self.settings.max_workers, progress=progress, label=expr
        )

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
        self, endpoint: str, params: Mapping[str, Any], what: str, *, warn: bool = True
    ) -> _api.Decoded:
        """One request to ``/api/v1/<endpoint>`` (POST when long), decoded."""
        url = f"{self.url}/api/v1/{endpoint}"
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
            )
        except requests.RequestException as exc:
            raise self._transport_error(exc, what, url) from exc
        log.debug("%s %s -> %s (%d bytes)", response.request.method, url, response.status_code,
                  len(response.content))  # fmt: skip
        return _api.decode(
            response.content, status=response.status_code, query=what, url=url, warn=warn
        )

    def _transport_error(self, exc: Exception, what: str, url: str) -> PrometheusError:
        timeout = self.settings.timeout
        if isinstance(exc, requests.exceptions.SSLError):
            return TLSError(f"TLS handshake failed: {_reason(exc)}", query=what, url=url)
        if isinstance(exc, requests.exceptions.ConnectTimeout):
            message = f"no connection within {timeout:g} s"
            return UnreachableError(message, query=what, url=url)
        if isinstance(exc, requests.exceptions.Timeout):
            message = f"no answer within timeout={timeout:g} s"
            return QueryTimeoutError(message, query=what, url=url)
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
        count = len(data.get("result") or ())
        if budget is not None and count > budget:
            message = f"the result has {count} series, over series_budget={budget}"
            raise TooLargeError(message, query=expr, url=self.url)


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


def _helper_error(exc: PrometheusApiClientException, what: str, url: str) -> PrometheusError:
    """Recover status and body from prometheus-api-client's message and decode them."""
    match = _HELPER_FAILURE.search(str(exc))
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
