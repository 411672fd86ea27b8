"""Load, build and check the committed dashboards, and add panels to them from notebooks.

Layout of ``grafana/dashboards/``: ``NAME.dashboard.py`` (hand-written source defining
``dashboard``), ``NAME.json`` (generated, committed, provisioned into Grafana) and,
once a panel was added from a notebook, ``NAME.panels.yaml`` (the source loads it).
"""

from __future__ import annotations

import contextlib
import json
import logging
import traceback
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

import grafanalib.core as g
import pandas as pd

from .. import config
from .._atomic import remove_leftovers, write_atomic
from ..errors import AuthError, DashboardError, ObskitError, TLSError, UnreachableError
from . import _json as _dashjson
from . import _sidecar
from ._plan import Query, plan
from ._provisioning import scrape_interval
from ._structure import Problem, check_structure

__all__ = [
    "PanelChange",
    "Problem",
    "add_panel",
    "build",
    "check",
    "dashboards_dir",
    "load",
    "names",
    "preview",
    "render",
]

log = logging.getLogger("obskit")
SOURCE_SUFFIX = _sidecar.SOURCE_SUFFIX
_REBUILD = "run `obskit dashboards build` to regenerate it from its source"


# -- finding the files -------------------------------------------------------------------------


def dashboards_dir(grafana_dir: str | Path | None = None) -> Path:
    """``grafana/dashboards``: under ``grafana_dir``, else found from the working directory up.

    >>> dashboards_dir().name  # doctest: +SKIP
    'dashboards'
    """
    if grafana_dir is not None:
        found = Path(grafana_dir) / "dashboards"
        if not found.is_dir():
            raise DashboardError(
                "has no dashboards/ folder; pass the repository's grafana/", grafana_dir
            )
        return found
    here = Path.cwd().resolve()
    package_repo = Path(__file__).resolve().parent.parent
    for base in (here, *here.parents, package_repo):
        if (base / "grafana" / "dashboards").is_dir():
            return base / "grafana" / "dashboards"
    raise DashboardError(
        "no grafana/dashboards folder here or above; run from the obskit repository "
        "or pass grafana_dir='path/to/grafana'"
    )


def _sources(folder: Path, wanted: Iterable[str] | None = None) -> list[Path]:
    found = sorted(folder.glob(f"*{SOURCE_SUFFIX}"))
    if wanted is None:
        return found
    by_name = {_name(p): p for p in found}
    missing = [n for n in wanted if n not in by_name]
    if missing:
        raise DashboardError(
            f"no dashboard named {', '.join(missing)}; known: {', '.join(by_name) or 'none'}",
            folder,
        )
    return [by_name[n] for n in wanted]


def _name(source: Path) -> str:
    return source.name.removesuffix(SOURCE_SUFFIX)


def names(grafana_dir: str | Path | None = None) -> list[str]:
    """The dashboards' names (``system-overview``, ...), from their sources.

    >>> "system-overview" in names()  # doctest: +SKIP
    True
    """
    return [_name(p) for p in _sources(dashboards_dir(grafana_dir))]


def _json_path(source: Path) -> Path:
    return source.with_name(_name(source) + ".json")


# -- loading and rendering ---------------------------------------------------------------------


def load(source: str | Path) -> g.Dashboard:
    """Import a ``NAME.dashboard.py`` by path and return its ``dashboard``.

    Raises
    ------
    DashboardError
        Naming the file and line when the source fails to import, or when it defines
        no grafanalib ``Dashboard`` called ``dashboard``.

    >>> load("grafana/dashboards/system-overview.dashboard.py").uid  # doctest: +SKIP
    'obskit-system-overview'
    """
    path = Path(source).resolve()
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise DashboardError(f"cannot be read ({exc.strerror})", path) from exc
    # compile + exec instead of an import: no __pycache__ is written into grafana/dashboards
    namespace: dict[str, Any] = {
        "__name__": f"_obskit_dashboard_{_name(path)}",
        "__file__": str(path),
    }
    try:
        exec(compile(text, str(path), "exec"), namespace)
    except DashboardError:
        raise  # e.g. a broken NAME.panels.yaml: that error names the file to fix
    except Exception as exc:
        raise DashboardError(_import_failure(exc, path), path) from exc
    board = namespace.get("dashboard")
    if not isinstance(board, g.Dashboard):
        raise DashboardError("must define `dashboard`, a grafanalib Dashboard", path)
    return board


def _import_failure(exc: BaseException, path: Path) -> str:
    line = getattr(exc, "lineno", None) if isinstance(exc, SyntaxError) else None
    for frame in traceback.extract_tb(exc.__traceback__):
        if Path(frame.filename).resolve() == path:
            line = frame.lineno
    where = f"line {line}: " if line else ""
    text = exc.msg if isinstance(exc, SyntaxError) else str(exc)  # the line is already said
    return (
        f"{where}could not import the dashboard source: {type(exc).__name__}: {text}; "
        "fix it, then run `obskit dashboards build`"
    )


def render(source: str | Path) -> str:
    """The JSON text a source builds to: deterministic (sorted keys, indent 2, newline).

    >>> render("grafana/dashboards/system-overview.dashboard.py")[:1]  # doctest: +SKIP
    '{'
    """
    return _dashjson.render(_dashjson.to_data(load(source)))


def build(
    dashboards: Iterable[str] | None = None, *, grafana_dir: str | Path | None = None
) -> list[Path]:
    """Regenerate ``NAME.json`` from every (or the named) source; return the files changed.

    A second run changes nothing: files whose text is already right are not touched.

    >>> build()  # doctest: +SKIP
    []
    """
    changed = []
    for source in _sources(dashboards_dir(grafana_dir), dashboards):
        with _sidecar.locked(source):  # not while add_panel is changing this dashboard
            remove_leftovers(
                source.parent, [_json_path(source).name, _sidecar.sidecar_path(source).name]
            )
            target, text = _json_path(source), render(source)
            if not target.exists() or target.read_text(encoding="utf-8") != text:
                write_atomic([(target, text)])
                changed.append(target)
                log.info("wrote %s", target)
    return changed


# -- checking ----------------------------------------------------------------------------------


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
    folder = dashboards_dir(grafana_dir)
    moment = _instant(at)
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
        with _client(client, prometheus) as runner:
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
    message = f"cannot be read as a Grafana dashboard ({type(exc).__name__}: {exc}); {_REBUILD}"
    return Problem(str(_json_path(source)), message, rule="json")


def _orphans(folder: Path) -> list[Problem]:
    """Committed JSON without a source: nothing would rebuild or check it."""
    names = {_name(p) for p in _sources(folder)}
    return [
        Problem(
            str(p), f"has no {p.stem}{SOURCE_SUFFIX} source; add one or delete it", rule="orphan"
        )
        for p in sorted(folder.glob("*.json"))
        if p.stem not in names
    ]


def _instant(at: datetime | str | None) -> datetime:
    if at is None:
        return config.now()
    return config.parse_instant(at, "at") if isinstance(at, str) else at


def _check_files(source: Path) -> tuple[list[Problem], dict[str, Any] | None]:
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
        found = check_structure(data, file, f"obskit-{_name(source)}")
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


def _source_problem(exc: ObskitError, source: Path) -> Problem:
    """The file to fix (the source, or the sidecar it loads) and the message without it."""
    path = getattr(exc, "path", None)
    message = str(exc).removeprefix(f"{path}: ") if path else str(exc)
    same = path is None or Path(path).resolve() == source.resolve()
    return Problem(str(source if same else path), message, rule="source")


def _check_queries(file: str, queries: list[Query]) -> list[Problem]:
    from ..promql.validate import validate

    found = []
    for q in queries:
        report = validate(
            q.expr, dashboard=True, variables=q.variables, range_seconds=q.range_seconds,
            max_data_points=q.max_data_points, scrape_interval=q.scrape_interval,
        )  # fmt: skip
        for finding in report.errors:
            message = f"[{finding.rule}] {finding.message}: {q.expr}"
            found.append(Problem(file, message, q.panel, q.ref_id, "lint"))
    return found


@contextlib.contextmanager
def _client(client: Any, prometheus: str | None) -> Any:
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


# -- adding panels from notebooks --------------------------------------------------------------


@dataclass(frozen=True)
class PanelChange:
    """What :func:`add_panel` did: ``action`` is ``added``, ``updated`` or ``unchanged``."""

    dashboard: str
    title: str
    panel_id: int
    kind: str
    action: str
    files: tuple[Path, ...]


def add_panel(
    dashboard_name: str,
    expr: str,
    *,
    title: str,
    kind: str | None = None,
    unit: str | None = None,
    legend: str | None = None,
    description: str | None = None,
    client: Any = None,
    grafana_dir: str | Path | None = None,
) -> PanelChange:
    """Add a validated query as a panel of a committed dashboard (source and JSON together).

    The panel is kept in ``NAME.panels.yaml`` beside ``NAME.dashboard.py`` (the hand-written
    source is never rewritten) and ``NAME.json`` is rebuilt; both are replaced together
    or not at all. Calling it again with the same arguments changes nothing; the same
    ``title`` with a new query updates that panel in place.

    Parameters
    ----------
    dashboard_name : str
        ``system-overview``, ``application-metrics``, ``business-dashboard``, ...
    expr : str
        The query. Fixed ``rate``/``irate``/``increase`` windows become ``$__rate_interval``.
    title : str
        Panel title (the key: the same title updates the panel).
    kind : str, optional
        ``timeseries``, ``stat``, ``gauge``, ``pie`` or ``bar``. By default stat (gauge for
        a 0..1 ratio) when the query gives one series, else timeseries.
    unit, legend, description : str, optional
        By default the catalog's unit, the query's ``by (...)`` labels, and the catalog's
        help text of its first metric.
    client : obskit.Client, optional
        Used to validate against live metadata and to see how many series the query
        returns; without one both are done offline from the catalog.
    grafana_dir : path, optional
        The repository's ``grafana/`` folder (found from the working directory).

    Raises
    ------
    ValidationError
        The query has error-level findings; nothing is written.

    >>> add_panel("business-dashboard", "sum(rate(voicebot_orders_created_total[5m]))",
    ...           title="Order rate")  # doctest: +SKIP
    PanelChange(dashboard='business-dashboard', title='Order rate', ..., action='added', ...)
    """
    from ._add import make_spec

    folder = dashboards_dir(grafana_dir)
    source = _sources(folder, [dashboard_name])[0]
    with _sidecar.locked(source):  # another process adding a panel now waits: no lost update
        data = json.loads(render(source))
        spec = make_spec(
            data, expr, title=title, kind=kind, unit=unit, legend=legend,
            description=description, client=client, scrape_interval=scrape_interval(folder.parent),
        )  # fmt: skip
        sidecar = _sidecar.sidecar_path(source)
        current = _sidecar.added_specs(source)
        spec["id"] = _next_id(data, current)
        specs, action = _sidecar.upsert(current, spec)
        final = next(s for s in specs if s["title"] == title)
        change = PanelChange(dashboard_name, title, int(final["id"]), final["kind"], action, ())
        if action == "unchanged" and _json_path(source).exists():
            return change
        return _write_panel(source, sidecar, specs, change)


def _next_id(data: dict[str, Any], specs: list[dict[str, Any]]) -> int:
    ids = [int(p.get("id") or 0) for p in data.get("panels", [])] + [int(s["id"]) for s in specs]
    return max([100, *ids]) + 1


def _write_panel(
    source: Path, sidecar: Path, specs: list[dict[str, Any]], change: PanelChange
) -> PanelChange:
    with _sidecar.pending(sidecar, specs):
        text = render(source)
    problems = check_structure(json.loads(text), str(_json_path(source)), f"obskit-{_name(source)}")
    if problems:
        listed = "; ".join(f"panel {p.panel!r}: {p.message}" for p in problems)
        raise DashboardError(
            f"the new panel would break the dashboard ({listed}); nothing was written", source
        )
    files = [(sidecar, _sidecar.dump(specs)), (_json_path(source), text)]
    changed = [(p, t) for p, t in files if not p.exists() or p.read_text(encoding="utf-8") != t]
    write_atomic(changed)
    return PanelChange(
        change.dashboard, change.title, change.panel_id, change.kind, change.action,
        tuple(p for p, _ in changed),
    )  # fmt: skip


# -- preview -----------------------------------------------------------------------------------


def preview(
    dashboard_name: str,
    out: str | Path | None = None,
    *,
    client: Any = None,
    prometheus: str | None = None,
    grafana_dir: str | Path | None = None,
    at: datetime | str | None = None,
) -> Path:
    """Render a dashboard's panels with real data into one standalone HTML file.

    Each panel becomes a plotly figure placed like its ``gridPos``; queries run as in
    :func:`check`. Returns the file written (default ``NAME.preview.html`` in the
    working directory).

    >>> preview("system-overview", "/tmp/system.html")  # doctest: +SKIP
    PosixPath('/tmp/system.html')
    """
    from ._preview import page

    folder = dashboards_dir(grafana_dir)
    source = _sources(folder, [dashboard_name])[0]
    data = json.loads(render(source))
    moment = _instant(at)
    queries = plan(data, moment, scrape_interval(folder.parent))
    frames: dict[tuple[int, str], pd.DataFrame] = {}
    with _client(client, prometheus) as runner:
        for q in queries:
            try:
                frames[(q.panel_id, q.ref_id)] = run_query(runner, q)
            except ObskitError as exc:
                log.warning(
                    "%s: panel %r refId %s failed: %s", dashboard_name, q.panel, q.ref_id, exc
                )
    target = Path(out) if out is not None else Path.cwd() / f"{dashboard_name}.preview.html"
    write_atomic([(target, page(data, queries, frames))])
    return target
