"""The Prometheus client: instant and range queries as DataFrames, series and discovery."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import TYPE_CHECKING, Any
from urllib.parse import quote

import pandas as pd
import requests

from .. import _time, config, frames
from ..config import Settings
from ..errors import ConfigError, QuerySyntaxError
from . import _discovery, _link, _range
from . import _envelope as _api
from . import _transport as _session
from ._http import Transport

if TYPE_CHECKING:
    from prometheus_api_client import PrometheusConnect

    from ..catalog import Catalog
    from ..promql._expr import Expr

__all__ = ["Client", "connect"]

#: Re-exported for callers that read the limits from here.
MAX_RANGE_POINTS = _range.MAX_RANGE_POINTS
PRECHECK_POINTS = _range.PRECHECK_POINTS


def connect(
    url: str | None = None, *, session: requests.Session | None = None, **kwargs: Any
) -> Client:
    """A :class:`Client` for ``url``, ``$PROMETHEUS_URL`` or the running demo.

    Keyword arguments are :class:`~obskit.config.Settings` fields (``username``,
    ``password``, ``bearer_token``, ``headers``, ``tenant``, ``ca_bundle``, ``verify``,
    ``timeout``, ``max_workers``, ...); ``PROMETHEUS_*`` variables fill the rest. The URL
    may carry a path prefix: ``http://host:9090/prometheus``,
    ``http://vmselect:8481/select/0/prometheus``.

    >>> client = connect("http://127.0.0.1:9090", timeout=5)
    >>> client
    Client(url='http://127.0.0.1:9090')
    """
    return Client(Settings.from_env(url=url, **kwargs), session=session)


class Client:
    """Queries one Prometheus-compatible server through one :class:`requests.Session`.

    The session carries auth, headers and TLS settings; every request obskit makes goes
    through one transport on it (:mod:`obskit.client._http`), whose failures one table
    maps to :class:`~obskit.ObskitError` subclasses. Requests answered with a 5xx status
    are retried ``settings.retries`` times with exponential backoff, except Prometheus'
    own query timeout (503, ``errorType`` ``timeout``): running the same query again
    would only time out again. :meth:`prometheus_connect` gives prometheus-api-client's
    ``PrometheusConnect`` on the same session, for code written against it.

    >>> client = Client(Settings("http://127.0.0.1:9090", tenant="shop"))
    >>> client.session.headers["X-Scope-OrgID"]
    'shop'
    """

    def __init__(self, settings: Settings, *, session: requests.Session | None = None) -> None:
        self.settings = settings
        self.url = settings.url
        self.session = session or requests.Session()
        retry = _session.retry_policy(settings.retries, settings.backoff)
        _session.configure(self.session, settings, retry)
        self._http = Transport(self.session, settings)
        self._prometheus_connect: PrometheusConnect | None = None

    @property
    def catalog(self) -> Catalog | None:
        """This server's catalog: ``settings.catalog``'s files over the shipped one, or
        ``None`` when it names none (the process-wide catalog applies)."""
        if not self.settings.catalog:
            return None
        from ..catalog import from_files

        return from_files(self.settings.catalog)

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

    def prometheus_connect(self) -> PrometheusConnect:
        """prometheus-api-client's ``PrometheusConnect`` on this client's session.

        It shares the session's auth, TLS settings, headers (tenant, bearer token),
        connection pool and 5xx retries; built on first use. Its own errors are its own
        (``PrometheusApiClientException``); obskit's methods raise :class:`~obskit.ObskitError`.

        >>> client.prometheus_connect().get_label_names()  # doctest: +SKIP
        ['__name__', 'instance', 'job', ...]
        """
        if self._prometheus_connect is None:
            from prometheus_api_client import PrometheusConnect

            adapter = self.session.get_adapter(self.url)
            retry = getattr(adapter, "max_retries", None)
            prom = PrometheusConnect(
                self.url, session=self.session, retry=retry, timeout=self.settings.timeout
            )
            self.session.mount(self.url, adapter)  # it mounts an adapter of its own: keep ours
            self._prometheus_connect = prom
        return self._prometheus_connect

    # -- queries -----------------------------------------------------------------

    def query(
        self,
        expr: str | Expr,
        time: _time.TimeLike | None = None,
        *,
        variables: Mapping[str, Any] | None = None,
    ) -> pd.DataFrame:
        """Evaluate ``expr`` at one instant (default :func:`obskit.config.now`).

        Grafana macros and ``$variables`` in ``expr`` are expanded as Grafana would for
        a one-hour dashboard (``$__range`` = 1h); ``df.attrs["query"]`` keeps them.

        >>> client.query("up", time="2026-02-14T18:00:00Z")  # doctest: +SKIP
        """
        expr = _check_expr(expr)
        at = _time.parse_time(time, "time")
        params = {"query": self._expanded(expr, None, 3600.0, variables, at), "time": _unix(at)}
        with _api.gc_paused():
            result = self._http.call("query", params, expr)
            _range.check_budget(self._http, result.data, expr)
            frame = frames.to_frame(
                result.data,
                query=expr,
                params={"time": at.isoformat()},
                warnings=result.warnings,
                infos=result.infos,
            )
            del result
        return frame

    def query_stats(self, expr: str | Expr, time: _time.TimeLike | None = None) -> dict[str, Any]:
        """What evaluating ``expr`` at one instant costs the server (``stats=all``).

        Prometheus' ``data.stats``: ``timings`` (seconds per phase) and ``samples``
        (``totalQueryableSamples``, ``peakSamples``). Servers that report no stats
        (VictoriaMetrics) give ``{}``. Warnings are left to :meth:`query`, which
        reports them. :func:`obskit.validate` adds the cost as a ``query-cost`` finding.

        >>> client.query_stats("sum(rate(voicebot_calls_total[5m]))")["samples"]  # doctest: +SKIP
        {'totalQueryableSamples': 1210, 'peakSamples': 24}
        """
        expr = _check_expr(expr)
        at = _time.parse_time(time, "time")
        sent = self._expanded(expr, None, 3600.0, None, at)
        params = {"query": sent, "time": _unix(at), "stats": "all"}
        data = self._http.call("query", params, expr, warn=False).data
        stats = data.get("stats") if isinstance(data, dict) else None
        return dict(stats) if isinstance(stats, dict) else {}

    def query_range(
        self,
        expr: str | Expr,
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
        expr = _check_expr(expr)
        t0, t1 = _time_range(start, end)
        span = (t1 - t0).total_seconds()
        step_ms = _range.step_ms(step, span, self.settings.target_points)
        with _api.gc_paused():
            runnable = self._expanded(expr, step_ms / 1000, span, variables, t1)
            frame = _range.fetch(self._http, expr, runnable, (t0, t1), step_ms,
                                 workers=self.workers, progress=progress)  # fmt: skip
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

    @property
    def workers(self) -> int:
        """Chunks fetched at once: ``settings.concurrency``, else chosen per server (``_link``)."""
        return _link.workers(self.session, self.settings)

    def format_query(self, expr: str | Expr) -> str:
        """``expr`` as Prometheus formats it (``/api/v1/format_query``, Prometheus 2.38+).

        >>> client.format_query("sum by(job)(rate(x[5m]))")  # doctest: +SKIP
        'sum by (job) (rate(x[5m]))'
        """
        expr = _check_expr(expr)
        return str(self._http.call("format_query", {"query": expr}, expr).data)

    # -- series and discovery ----------------------------------------------------

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
        found = self._http.call("series", params, " ".join(matches)).data or []
        names = sorted({k for s in found for k in s}, key=lambda n: (n != "__name__", n))
        table = pd.DataFrame.from_records(found, columns=names)
        if names:
            table = table.sort_values(names, na_position="last", ignore_index=True)
        return table

    def labels(self, metric: str | None = None) -> pd.DataFrame:
        """Label names, of all series or of those matching ``metric`` (a selector).

        >>> client.labels("voicebot_calls_total")  # doctest: +SKIP
        """
        params = {"match[]": metric} if metric else {}
        names = self._http.call("labels", params, "labels").data or []
        return pd.DataFrame({"label": sorted(names)}, dtype=str)

    def label_values(self, label: str, metric: str | None = None) -> pd.DataFrame:
        """Values of ``label``, optionally only on series matching ``metric``.

        The column is named after the label.

        >>> client.label_values("provider", "voicebot_tts_latency_seconds_count")  # doctest: +SKIP
        """
        values = self._label_values(label, metric, f"values of label {label}")
        return pd.DataFrame({label: sorted(values)}, dtype=str)

    def _label_values(self, label: str, metric: str | None, what: str) -> list[str]:
        params = {"match[]": metric} if metric else {}
        path = f"label/{quote(label, safe='')}/values"
        return list(self._http.call(path, params, what, post=False).data or [])  # GET only

    def metrics(self) -> pd.DataFrame:
        """Every metric name on the server with its ``type``, ``help`` and ``unit``.

        Prometheus' ``/api/v1/metadata`` is used where it knows the metric (``source``
        ``"prometheus"``); backfilled data has no metadata, so a replayed fixture's frozen
        metadata (``obskit freeze``) or else obskit's catalog fills in (``source``
        ``"catalog"``); names neither knows get ``"unknown"``.

        >>> client.metrics().columns.tolist()  # doctest: +SKIP
        ['name', 'type', 'help', 'unit', 'source']
        """
        names = self._label_values("__name__", None, "metric names")
        metadata = self._http.call("metadata", {}, "metadata", post=False).data or {}
        if not metadata:  # backfilled data has none: a replayed fixture brings its own
            from ..demo.replay import metadata as frozen

            metadata = frozen(self.url)
        from ..catalog import using

        with using(self.catalog):
            return _discovery.describe_metrics(names, metadata)

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

    def targets(self) -> pd.DataFrame:
        """The server's active scrape targets: ``job``, ``instance``, ``health``, ...

        One row per target, sorted by job and instance; VictoriaMetrics single-node
        (which does not scrape) gives none.

        >>> client.targets()[["job", "health"]]  # doctest: +SKIP
        """
        data = self._http.call("targets", {"state": "active"}, "targets", post=False).data
        return _discovery.targets_table(data)

    def build_info(self) -> dict[str, str]:
        """The server's ``/api/v1/status/buildinfo`` (``version``, ``revision``, ...).

        VictoriaMetrics answers an empty mapping.

        >>> client.build_info()["version"]  # doctest: +SKIP
        '2.42.0'
        """
        data = self._http.call("status/buildinfo", {}, "build info", post=False).data
        return {str(k): str(v) for k, v in (data or {}).items()}

    def flags(self) -> dict[str, str]:
        """The server's command-line flags (``/api/v1/status/flags``), e.g. its retention.

        >>> client.flags()["storage.tsdb.retention.time"]  # doctest: +SKIP
        '100y'
        """
        data = self._http.call("status/flags", {}, "flags", post=False).data
        return {str(k): str(v) for k, v in (data or {}).items()}


def _check_expr(expr: object) -> str:
    """The query's text (an :class:`~obskit.promql.Expr` gives its own; it is not parsed
    again); a query that is not text, or is empty, is refused before it is sent."""
    from ..promql._expr import Expr

    if isinstance(expr, Expr):
        expr = expr.text
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
    return expr


def _time_range(start: _time.TimeLike, end: _time.TimeLike) -> tuple[datetime, datetime]:
    now = config.now()
    t0 = _time.parse_time(start, "start", now=now)
    t1 = _time.parse_time(end, "end", now=now)
    _time.check_range(t0, t1)
    return t0, t1


_unix = _range.unix
