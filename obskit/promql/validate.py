"""Validate a query: offline parse and lint, then (with a client) live metadata and a real run.

Besides the lint rules (:mod:`obskit.lint`), a run against a server adds:

======================  ========  ===========================================================
rule                    severity  meaning
======================  ========  ===========================================================
execution-error         error     Prometheus refused or failed the query (its message)
series-budget           error     the result has more series than ``series_budget``
empty-result            warning   the query returned nothing at that time
nan-series              warning   some series are NaN only (0/0, quantile of empty buckets)
prometheus-warning      info      a warning or info Prometheus returned with the result
query-cost              info      samples read, when the client offers ``query_stats``
metadata-unavailable    info      live metadata could not be read; checked offline only
offline-parse-failed    info      the server reads a query the offline parser cannot (not linted)
unsupported-function    error     offline: a function the dialect does not have (``limitk`` on 2.x)
unsupported-syntax      error     offline: syntax the dialect does not have (quoted names on 2.x)
experimental-function   warning   offline: a Prometheus 3 function behind a feature flag
retention-exceeded      warning   windows and offsets reach past the server's retention
======================  ========  ===========================================================
"""

from __future__ import annotations

import html
import logging
import warnings
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any, Protocol

import pandas as pd

from .._time import format_duration, parse_duration, parse_time
from ..catalog import using
from ..errors import ConfigError, ObskitError, PromQLWarning, QuerySyntaxError, ValidationError
from . import _dialect
from . import lint as _lint
from ._expr import Expr
from ._infer import name_of
from ._lintctx import read
from .lint import Finding

__all__ = ["Report", "SupportsValidation", "validate"]

log = logging.getLogger("obskit")
_RANK = {"error": 0, "warning": 1, "info": 2}
_NOT_RUNNABLE = ("syntax-error", "undeclared-variable")


class SupportsValidation(Protocol):
    """What :func:`validate` needs from a client (``obskit.Client`` provides it).

    An optional ``query_stats(expr, time) -> Mapping`` returning Prometheus'
    ``data.stats`` (``stats=all``) adds the query's cost to the report.
    """

    def query(self, expr: str, time: Any = None) -> pd.DataFrame: ...

    def metrics(self) -> pd.DataFrame: ...

    def labels(self, metric: str | None = None) -> Any: ...

    def label_values(self, label: str, metric: str | None = None) -> Any: ...


@dataclass(frozen=True)
class Report:
    """What :func:`validate` found about one query.

    Attributes
    ----------
    expr : str
        The query as given (macros and variables kept).
    expanded : str
        The query as Prometheus receives it.
    findings : tuple of Finding
        Errors first, then warnings, then infos.
    series : int or None
        Series the query returned (``None`` when it was not run).
    stats : mapping or None
        Prometheus' ``stats`` for the run, when the client provides them.
    """

    expr: str
    expanded: str
    findings: tuple[Finding, ...] = ()
    series: int | None = None
    # Not in repr: the timings differ on every run (notebook outputs must not).
    stats: Mapping[str, Any] | None = field(default=None, compare=False, repr=False)

    def _repr_pretty_(self, printer: Any, cycle: bool) -> None:
        """IPython's text form: the readable table, as ``print(report)`` shows it."""
        printer.text(str(self))

    @property
    def ok(self) -> bool:
        """True when no finding is an error."""
        return not self.errors

    @property
    def errors(self) -> list[Finding]:
        """The error-level findings."""
        return [f for f in self.findings if f.severity == "error"]

    def raise_for_findings(self) -> Report:
        """Raise :class:`~obskit.ValidationError` if any finding is an error; else return self.

        >>> validate("sum(rate(voicebot_calls_total[5m]))").raise_for_findings().ok
        True
        """
        if self.ok:
            return self
        first = self.errors[0]
        more = f" (and {len(self.errors) - 1} more error(s))" if len(self.errors) > 1 else ""
        raise ValidationError(f"{self.expr!r}: [{first.rule}] {first.message}{more}", self)

    def __str__(self) -> str:
        head = "OK" if self.ok else f"{len(self.errors)} error(s)"
        lines = [f"{head}: {self.expr}"]
        if self.expanded != self.expr:
            lines.append(f"  expanded: {self.expanded}")
        if self.series is not None:
            lines.append(f"  series: {self.series}")
        for f in self.findings:
            lines.append(f"  {f.severity:<7} {f.rule:<24} {f.message}")
            if f.fix:
                lines.append(f"  {'':<7} {'':<24} fix: {f.fix}")
        return "\n".join(lines)

    def _repr_html_(self) -> str:
        esc = html.escape
        status = "OK" if self.ok else f"{len(self.errors)} error(s)"
        rows = "".join(
            f"<tr><td>{esc(f.severity)}</td><td><code>{esc(f.rule)}</code></td>"
            f"<td>{esc(f.message)}</td><td><code>{esc(f.fix or '')}</code></td></tr>"
            for f in self.findings
        )
        series = "" if self.series is None else f" &middot; {self.series} series"
        table = (
            "<table><thead><tr><th>severity</th><th>rule</th><th>message</th><th>fix</th>"
            f"</tr></thead><tbody>{rows}</tbody></table>"
            if rows
            else "<p>No findings.</p>"
        )
        return f"<div><p><b>{status}</b>{series}: <code>{esc(self.expr)}</code></p>{table}</div>"


def validate(
    expr: str | Expr,
    client: SupportsValidation | None = None,
    *,
    time: Any = None,
    dashboard: bool | None = None,
    variables: Mapping[str, Any] | None = None,
    scrape_interval: float | str | None = None,
    series_budget: int = 500,
    range_seconds: float | None = None,
    max_data_points: int | None = None,
    dialect: str | None = None,
) -> Report:
    """Check a query: syntax and lint offline; with a client, live metadata and a real run.

    Parameters
    ----------
    expr : str or Expr
        The query; Grafana macros and ``$variables`` allowed. It is parsed once (an
        :class:`~obskit.promql.Expr` that was already parsed is not parsed again).
    client : optional
        An ``obskit.Client`` (or anything with ``query``, ``metrics``, ``labels``,
        ``label_values``). Without one, only the offline checks run, and nothing reads
        the clock: ``$__from``/``$__to`` expand at a fixed instant.
    time : optional
        When to run the query (anything ``Client.query`` accepts); default now.
    dashboard, variables, scrape_interval
        As for :func:`obskit.lint.lint`.
    series_budget : int
        More series than this is an error (``series-budget``).
    range_seconds, max_data_points
        The panel settings used to expand ``$__interval``/``$__rate_interval``/``$__range``.
    dialect : str, optional
        ``prometheus-2``, ``prometheus-3`` or ``victoriametrics``: which functions and
        syntax exist (default: the client's server, from its build info; offline
        ``prometheus-2``). With a client the server decides syntax itself
        (``/api/v1/format_query``): an offline parser error the server does not share is
        not an error.

    Returns
    -------
    Report
        ``report.ok`` is False when any finding is an error.

    >>> validate("rate(voicebot_active_calls[5m])").findings[0].rule
    'rate-on-gauge'
    >>> validate("sum(rate(voicebot_calls_total[5m])").ok
    False
    """
    # a client's own catalog (Settings.catalog) for everything below, this call only
    with using(getattr(client, "catalog", None)):
        if dialect is None and client is not None:
            dialect = _server_dialect(client)
        query = read(
            expr, scrape_interval=scrape_interval, dashboard=dashboard, variables=variables,
            range_seconds=range_seconds, max_data_points=max_data_points, dialect=dialect,
        )  # fmt: skip
        at = None if time is None else parse_time(time, "time")
        if at is None and client is not None:
            from ..config import now  # a run happens now; offline work never reads the clock

            at = now()
        if at is not None:
            query = query.within(end=at)
        expanded = query.expanded
        verdict = _server_syntax(client, expanded) if client is not None else None
        if isinstance(verdict, Finding):
            return _report(query.text, expanded, [verdict])  # the server's parser said no
        if query.syntax_error is not None and verdict is None:
            return _report(query.text, expanded, _lint.lint(query))
        if query.syntax_error is not None:  # the server reads what the offline parser cannot
            found = [_unlinted(query)]
        else:
            live, found = ({}, []) if client is None else _metadata(client, query)
            budget = None if client is not None else series_budget
            found += _lint.lint(query, series_budget=budget, **live)
            if client is None:
                found += [Finding(*f) for f in query.dialect_findings()]
            else:
                found += _retention(client, query)
        if client is None or any(f.rule in _NOT_RUNNABLE for f in found):
            return _report(query.text, expanded, found)
        frame, run = _run(client, expanded, time)
        found += run
        if frame is None:
            return _report(query.text, expanded, found)
        count = _series_count(frame)
        found += _result_findings(frame, count, series_budget)
        stats = _stats(client, expanded, time)
        found += _cost(stats)
        return _report(query.text, expanded, found, count, stats)


# -- the server's dialect ----------------------------------------------------------------------


def _server_dialect(client: SupportsValidation) -> str:
    """The client's server's dialect from its build info (``prometheus-2`` if unknown)."""
    build_info = getattr(client, "build_info", None)
    if not callable(build_info):
        return _dialect.DEFAULT
    try:
        return _dialect.dialect_of(build_info())
    except ObskitError as exc:
        log.info("validate: no build info: %s", exc)
        return _dialect.DEFAULT


def _server_syntax(client: SupportsValidation, expanded: str) -> Finding | str | None:
    """What the server's own parser says: ``"ok"``, a syntax-error finding, or ``None``
    when the server cannot tell (no ``/api/v1/format_query`` before Prometheus 2.38)."""
    format_query = getattr(client, "format_query", None)
    if not callable(format_query):
        return None
    try:
        format_query(expanded)
    except QuerySyntaxError as exc:
        return Finding("syntax-error", "error", f"the server rejects the query: {exc.message}")
    except ObskitError as exc:
        log.info("validate: the server cannot check syntax: %s", exc)
        return None
    return "ok"


#: Prometheus' retention when neither its time nor its size flag is set.
_DEFAULT_RETENTION = 15 * 86400


def _retention(client: SupportsValidation, query: Expr) -> list[Finding]:
    """``retention-exceeded`` when the query reads back further than the server keeps data."""
    flags = getattr(client, "flags", None)
    reach = query.lookback
    if not callable(flags) or not reach:
        return []
    try:
        text = flags().get("storage.tsdb.retention.time", "")
    except ObskitError as exc:  # VictoriaMetrics has no flags endpoint
        log.info("validate: no retention from the server: %s", exc)
        return []
    try:
        keeps = parse_duration(text, "retention") if text else None
    except ConfigError:
        return []
    if keeps is None:
        return []
    keeps = keeps or _DEFAULT_RETENTION
    if reach <= keeps:
        return []
    return [
        Finding(
            "retention-exceeded",
            "warning",
            f"the query reads back {format_duration(reach)} (its longest window and offset) but "
            f"the server keeps {format_duration(keeps)} of data, so the oldest part returns "
            "nothing; shorten the window or offset, or query a long-term store",
        )
    ]


def _unlinted(query: Expr) -> Finding:
    error = query.syntax_error
    first = (error.message if error is not None else "").splitlines()[0]
    return Finding(
        "offline-parse-failed",
        "info",
        f"the offline parser cannot read this query ({first}) but the server accepts it, "
        "so it ran without the lint rules",
    )


def _report(
    expr: str,
    expanded: str,
    found: Iterable[Finding],
    series: int | None = None,
    stats: Mapping[str, Any] | None = None,
) -> Report:
    unique = sorted(dict.fromkeys(found), key=lambda f: _RANK[f.severity])
    return Report(expr, expanded, tuple(unique), series, stats)


# -- live metadata -----------------------------------------------------------------------------


def _metadata(client: SupportsValidation, query: Expr) -> tuple[dict[str, Any], list[Finding]]:
    """Types, labels and label values for the metrics ``query`` selects, from the client."""
    selectors = query.selectors
    names = sorted(query.metrics)
    try:
        table = client.metrics()
        types = {str(n): str(t) for n, t in zip(table["name"], table["type"], strict=True)}
        types = {n: t for n, t in types.items() if t not in ("unknown", "untyped", "")}
        labels = {n: _column(client.labels(n)) for n in names}
        values = {
            (n, str(m.name)): _column(client.label_values(str(m.name), n))
            for s in selectors
            if (n := name_of(s)) in names
            for m in s.matchers.matchers
            if m.name != "__name__" and str(m.name) in labels.get(n, ())
        }
    except ObskitError as exc:
        log.info("validate: no live metadata: %s", exc)
        note = Finding(
            "metadata-unavailable",
            "info",
            f"could not read metric metadata from the server ({exc}); checked offline only",
        )
        return {}, [note]
    live = {"types": types, "labels": {n: v for n, v in labels.items() if v}}
    return {**live, "label_values": {k: v for k, v in values.items() if v}}, []


def _column(result: Any) -> list[str]:
    """A list of strings from a list, a Series or a one-column DataFrame."""
    if isinstance(result, pd.DataFrame):
        return [] if result.empty else [str(v) for v in result.iloc[:, 0]]
    return [str(v) for v in result]


# -- running the query -------------------------------------------------------------------------


def _run(
    client: SupportsValidation, expanded: str, time: Any
) -> tuple[pd.DataFrame | None, list[Finding]]:
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", PromQLWarning)
        try:
            frame = client.query(expanded, time=time)
        except ObskitError as exc:
            return None, [Finding("execution-error", "error", _error_message(exc))]
    notes = [str(w.message) for w in caught if issubclass(w.category, PromQLWarning)]
    for other in (w for w in caught if not issubclass(w.category, PromQLWarning)):
        warnings.warn_explicit(other.message, other.category, other.filename, other.lineno)
    attrs = frame.attrs if isinstance(frame, pd.DataFrame) else {}
    notes += [str(n) for n in [*attrs.get("warnings", []), *attrs.get("infos", [])]]
    found = [
        Finding("prometheus-warning", "info", f"Prometheus says: {note}")
        for note in dict.fromkeys(notes)
    ]
    return frame, found


def _error_message(exc: ObskitError) -> str:
    text = getattr(exc, "message", None) or str(exc)
    return f"Prometheus refused or failed the query: {text}. Fix the query (see the fixes above)"


def _series_count(frame: pd.DataFrame) -> int:
    labels = [c for c in frame.columns if c not in ("timestamp", "value")]
    if frame.empty:
        return 0
    if not labels:
        return 1
    return len(frame[labels].astype(str).drop_duplicates())


def _result_findings(frame: pd.DataFrame, count: int, budget: int) -> list[Finding]:
    found = []
    if count == 0:
        found.append(
            Finding(
                "empty-result",
                "warning",
                "the query returned no data at that time: check the metric name, label values "
                "and time (a selector that matches nothing is not an error in PromQL)",
            )
        )
    over = _lint.check_series_budget(count, budget)
    found += [over] if over else []
    nan = _nan_series(frame)
    if nan:
        found.append(
            Finding(
                "nan-series",
                "warning",
                f"{nan} of {count} series are NaN only, usually a 0/0 division or a "
                "histogram_quantile over buckets with no observations; guard the denominator "
                "with > 0 or widen the window",
            )
        )
    return found


def _nan_series(frame: pd.DataFrame) -> int:
    if frame.empty or "value" not in frame:
        return 0
    labels = [c for c in frame.columns if c not in ("timestamp", "value")]
    isnan = frame["value"].isna()
    if not labels:
        return int(isnan.all())
    keys = frame[labels].astype(str).apply(tuple, axis=1)
    return int(isnan.groupby(keys).all().sum())


def _stats(client: SupportsValidation, expanded: str, time: Any) -> Mapping[str, Any] | None:
    query_stats = getattr(client, "query_stats", None)
    if not callable(query_stats):
        return None
    try:
        result = query_stats(expanded, time)
    except ObskitError as exc:
        log.info("validate: no query stats: %s", exc)
        return None
    return result if isinstance(result, Mapping) else None


def _cost(stats: Mapping[str, Any] | None) -> list[Finding]:
    samples = (stats or {}).get("samples") or {}
    total = samples.get("totalQueryableSamples")
    if total is None:
        return []
    peak = samples.get("peakSamples")
    peak_text = f", at most {peak} in memory at once" if peak is not None else ""
    return [Finding("query-cost", "info", f"the query reads {total} samples{peak_text}")]
