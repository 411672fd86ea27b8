"""Load, build and check the committed dashboards, and add panels to them from notebooks.

Layout of ``grafana/dashboards/``: ``NAME.dashboard.py`` (hand-written source defining
``dashboard``), ``NAME.json`` (generated, committed, provisioned into Grafana) and,
once a panel was added from a notebook, ``NAME.panels.yaml`` (the source loads it).
"""

from __future__ import annotations

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

from .._atomic import remove_leftovers, write_atomic
from ..errors import DashboardError, ObskitError
from . import _json as _dashjson
from . import _sidecar
from ._check import check, client_for, instant, run_query
from ._plan import plan
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


def load(source: str | Path) -> Any:
    """Import a ``NAME.dashboard.py`` by path and return its ``dashboard``.

    That is a grafanalib ``Dashboard`` (made with :func:`obskit.panels.dashboard`) or,
    for an imported one, an :class:`obskit.dashboards.imported.Board`.

    Raises
    ------
    DashboardError
        Naming the file and line when the source fails to import, or when it defines
        no ``dashboard`` of those kinds.

    >>> load("grafana/dashboards/system-overview.dashboard.py").uid  # doctest: +SKIP
    'obskit-system-overview'
    """
    path = Path(source).resolve()
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise DashboardError(f"cannot be read ({exc.strerror})", path) from exc
    return load_text(text, path)


def load_text(text: str, path: Path) -> Any:
    """The ``dashboard`` a source's ``text`` defines (``path`` is its ``__file__``)."""
    from .imported import Board

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
    if not isinstance(board, g.Dashboard | Board):
        raise DashboardError(
            "must define `dashboard`, made with obskit.panels.dashboard() "
            "(or obskit.dashboards.imported.dashboard())",
            path,
        )
    return board


def is_imported(source: str | Path) -> bool:
    """Whether a source defines an imported dashboard (obskit's house rules do not apply)."""
    from .imported import Board

    return isinstance(load(source), Board)


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

    ``dashboard_name`` is a committed dashboard or the path of any dashboard JSON (panels
    in rows and collapsed rows included). Each panel becomes a plotly figure placed like
    its ``gridPos``; queries run as in :func:`check`. Returns the file written (default
    ``NAME.preview.html`` in the working directory).

    >>> preview("system-overview", "/tmp/system.html")  # doctest: +SKIP
    PosixPath('/tmp/system.html')
    """
    from . import _model
    from ._preview import page
    from ._provisioning import GRAFANA_DEFAULT_INTERVAL

    path = Path(dashboard_name)
    if dashboard_name.endswith(".json") or path.is_file():
        data, name, interval = _model.read(path), path.stem, GRAFANA_DEFAULT_INTERVAL
    else:
        folder = dashboards_dir(grafana_dir)
        source = _sources(folder, [dashboard_name])[0]
        data, name = json.loads(render(source)), dashboard_name
        interval = scrape_interval(folder.parent)
    queries = plan(data, instant(at), interval)
    frames: dict[tuple[int, str], pd.DataFrame] = {}
    with client_for(client, prometheus) as runner:
        for q in queries:
            try:
                frames[(q.panel_id, q.ref_id)] = run_query(runner, q)
            except ObskitError as exc:
                log.warning("%s: panel %r refId %s failed: %s", name, q.panel, q.ref_id, exc)
    target = Path(out) if out is not None else Path.cwd() / f"{name}.preview.html"
    write_atomic([(target, page(_model.previewable(data), queries, frames))])
    return target
