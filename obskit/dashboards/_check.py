"""``check``: the committed dashboards' structure, freshness and queries (offline and live)."""

from __future__ import annotations

import contextlib
import json
from collections.abc import Iterable
from datetime import datetime
from pathlib import Path
from typing import Any

import pandas as pd

from .. import config
from ..errors import AuthError, ObskitError, TLSError, UnreachableError
from ..promql._expr import Expr, PanelContext
from ..promql._lintctx import Finding
from ..promql.lint import lint
from ._plan import Query, plan
from ._provisioning import scrape_interval
from ._sidecar import SOURCE_SUFFIX
from ._structure import Problem, check_structure

__all__ = ["check", "client_for", "lint_query", "run_query"]

_REBUILD = "run `obskit dashboards build` to regenerate it from its source"
#: As ``obskit.validate`` offline: more series than this (estimated) is a warning.
SERIES_BUDGET = 500


def check(
    dashboards: Iterable[str] | None = None,
    *,
    grafana_dir: str | Path | None = None,
    client: Any = None,
    prometheus: str | None = None,
    live: bool = True,
    at: datetime | str | None = None,
) -> list[Problem]:
    """Every problem of the committed dashboards; an empty list means all is well.

    Checks the structure rules, that ``NAME.json`` equals a fresh build of its source,
    and each query: expanded the way Grafana would for the panel's time range,
    validated offline (error-level findings are problems) and, when ``live``, run
    against Prometheus (``client``, else ``prometheus`` URL, else ``$PROMETHEUS_URL``
    or the running demo) at ``at`` (default :func:`obskit.now`). A query that fails or
    returns no data is a problem.

    >>> [str(p) for p in check(live=False)]  # doctest: +SKIP
    []
    """
    from ._files import _json_path, _sources, dashboards_dir

    folder = dashboards_dir(grafana_dir)
    moment = instant(at)
    interval = scrape_interval(folder.parent)
    found = [] if dashboards is not None else _orphans(folder)
    boards: list[tuple[str, list[Query]]] = []
    for source in _sources(folder, dashboards):
        problems, data = _check_files(source)
        found += problems
        if data is not None:
            queries, unreadable = _plan(source, data, moment, interval)
            found += unreadable
            boards.append((_json_path(source).name, queries))
    for file, queries in boards:
        found += _check_queries(file, queries)
    if live and any(queries for _, queries in boards):
        with client_for(client, prometheus) as runner:
            for file, queries in boards:
                found += _run_queries(runner, file, queries)
    return found


def _plan(
    source: Path, data: dict[str, Any], moment: datetime, interval: float
) -> tuple[list[Query], list[Problem]]:
    """The JSON's queries, or a problem (not a crash) when hand edits broke its shape."""
    try:
        return plan(data, moment, interval), []
    except (AttributeError, LookupError, TypeError, ValueError) as exc:
        return [], [_unreadable(source, exc)]


def _unreadable(source: Path, exc: Exception) -> Problem:
    from ._files import _json_path

    message = f"cannot be read as a Grafana dashboard ({type(exc).__name__}: {exc}); {_REBUILD}"
    return Problem(str(_json_path(source)), message, rule="json")


def _orphans(folder: Path) -> list[Problem]:
    """Committed JSON without a source: nothing would rebuild or check it."""
    from ._files import _name, _sources

    names = {_name(p) for p in _sources(folder)}
    return [
        Problem(
            str(p), f"has no {p.stem}{SOURCE_SUFFIX} source; add one or delete it", rule="orphan"
        )
        for p in sorted(folder.glob("*.json"))
        if p.stem not in names
    ]


def instant(at: datetime | str | None) -> datetime:
    if at is None:
        return config.now()
    return config.parse_instant(at, "at") if isinstance(at, str) else at


def _check_files(source: Path) -> tuple[list[Problem], dict[str, Any] | None]:
    from ._files import _json_path, _name, is_imported, render

    target = _json_path(source)
    file = str(target)
    if not target.exists():
        return [Problem(file, "is missing; run `obskit dashboards build`", rule="stale")], None
    text = target.read_text(encoding="utf-8")
    try:
        data = json.loads(text)
    except ValueError as exc:
        return [Problem(file, f"is not valid JSON ({exc}); {_REBUILD}", rule="json")], None
    if not isinstance(data, dict):
        message = f"is not a Grafana dashboard (a JSON object); {_REBUILD}"
        return [Problem(file, message, rule="json")], None
    try:
        house = not _imported(source, is_imported)
        found = check_structure(data, file, f"obskit-{_name(source)}") if house else []
    except (AttributeError, LookupError, TypeError, ValueError) as exc:
        return [_unreadable(source, exc)], None
    try:
        fresh = render(source)
    except ObskitError as exc:
        return [*found, _source_problem(exc, source)], data
    if fresh != text:
        found.append(Problem(file, f"differs from a fresh build of {source.name} (hand edits of "
                             "the JSON are lost: make them in the source); run `obskit dashboards "
                             "build` and commit both", rule="stale"))  # fmt: skip
    return found, data


def _imported(source: Path, is_imported: Any) -> bool:
    """Whether the source is an imported dashboard; a source that fails to load is not
    (the fresh build below reports why it fails)."""
    try:
        return bool(is_imported(source))
    except ObskitError:
        return False


def _source_problem(exc: ObskitError, source: Path) -> Problem:
    """The file to fix (the source, or the sidecar it loads) and the message without it."""
    path = getattr(exc, "path", None)
    message = str(exc).removeprefix(f"{path}: ") if path else str(exc)
    same = path is None or Path(path).resolve() == source.resolve()
    return Problem(str(source if same else path), message, rule="source")


def lint_query(q: Query) -> list[Finding]:
    """The lint findings of one planned target, read in its panel's context.

    The one place a dashboard check lints: the planner made one
    :class:`obskit.promql.Expr` per target, so each is prepared and parsed once.
    """
    query = q.query if q.query is not None else Expr(q.expr, _context(q))
    try:
        return lint(query, series_budget=SERIES_BUDGET)
    except ObskitError as exc:
        return [Finding("syntax-error", "error", f"cannot be read: {exc}")]


def _context(q: Query) -> PanelContext:
    return PanelContext(
        range_seconds=q.range_seconds, max_data_points=q.max_data_points,
        scrape_interval=q.scrape_interval, variables=q.variables, end=q.end, dashboard=True,
    )  # fmt: skip


def _check_queries(file: str, queries: list[Query]) -> list[Problem]:
    found = []
    for q in queries:
        errors = [f for f in lint_query(q) if f.severity == "error"]
        for finding in errors:
            message = f"[{finding.rule}] {finding.message}: {q.expr}"
            found.append(Problem(file, message, q.panel, q.ref_id, "lint"))
    return found


@contextlib.contextmanager
def client_for(client: Any, prometheus: str | None) -> Any:
    if client is not None:
        yield client
        return
    from ..client._client import connect

    own = connect(prometheus)
    try:
        yield own
    finally:
        own.close()


def run_query(client: Any, q: Query) -> pd.DataFrame:
    """Execute one planned query the way Grafana would (instant at the end, or a range)."""
    if q.instant:
        return client.query(q.expanded, time=q.end)
    return client.query_range(q.expanded, q.start, q.end, q.step)


def _run_queries(client: Any, file: str, queries: list[Query]) -> list[Problem]:
    found = []
    for q in queries:
        try:
            frame = run_query(client, q)
        except (UnreachableError, AuthError, TLSError):
            raise  # the server, not the query: one clear error instead of one per query
        except ObskitError as exc:
            found.append(Problem(file, f"query failed: {exc}", q.panel, q.ref_id, "query-error"))
            continue
        if frame.empty or not frame["value"].notna().any():
            message = f"query returned no data at {q.end.isoformat()}: {q.expanded}"
            found.append(Problem(file, message, q.panel, q.ref_id, "no-data"))
    return found
