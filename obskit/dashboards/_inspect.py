"""Check any dashboard JSON by path: lint every Prometheus target, optionally run it.

The file needs no ``NAME.dashboard.py`` source and may sit anywhere (a folder is read
recursively). obskit's house rules (uid, descriptions, units) are not applied: they are
for the dashboards obskit builds. One :class:`TargetReport` per target, skipped ones
(other data sources, library panels) included with the reason.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

from ..errors import AuthError, ObskitError, TLSError, UnreachableError
from ..promql._lintctx import Finding
from . import _model
from ._check import client_for, lint_query, run_query
from ._plan import Query, Skipped, plan_board
from ._provisioning import GRAFANA_DEFAULT_INTERVAL
from ._provisioning import scrape_interval as scrape_interval_of
from ._sidecar import SOURCE_SUFFIX
from ._structure import Problem

__all__ = ["Inspection", "TargetReport", "inspect"]

#: Statuses that make ``obskit dashboards check PATH`` exit 1.
FAILING = ("error", "query-error", "no-data")


@dataclass(frozen=True)
class TargetReport:
    """What was found for one target: ``status`` is ``ok``, ``warning``, ``error``,
    ``skipped``, and after a live run ``data``, ``no-data`` or ``query-error``."""

    file: str
    panel: str
    panel_id: int
    ref_id: str
    datasource: str
    status: str
    expr: str = ""
    expanded: str = ""
    findings: tuple[Finding, ...] = ()
    note: str = ""
    series: int | None = None
    lint: str = ""  # the offline verdict (ok, warning, error) before any run

    def line(self) -> str:
        """One line of text: where, the status, then the first finding or the note."""
        where = f"{self.file}: panel {self.panel!r} refId {self.ref_id or '-'}"
        detail = self.note
        if self.findings and self.status in ("error", "warning"):
            first = self.findings[0]
            more = f" (+{len(self.findings) - 1} more)" if len(self.findings) > 1 else ""
            detail = f"[{first.rule}] {first.message}{more}"
        return f"{where}: {self.status}" + (f": {detail}" if detail else "")

    def to_json(self) -> dict[str, Any]:
        """The report as plain JSON data (one object per target)."""
        return {
            "file": self.file, "panel": self.panel, "panel_id": self.panel_id,
            "ref_id": self.ref_id, "datasource": self.datasource, "status": self.status,
            "expr": self.expr, "expanded": self.expanded, "note": self.note,
            "series": self.series, "lint": self.lint,
            "findings": [
                {"rule": f.rule, "severity": f.severity, "message": f.message, "fix": f.fix}
                for f in self.findings
            ],
        }  # fmt: skip


@dataclass
class Inspection:
    """Every target of every file, and problems of whole files (a stale JSON)."""

    targets: list[TargetReport] = field(default_factory=list)
    problems: list[Problem] = field(default_factory=list)
    files: list[str] = field(default_factory=list)

    @property
    def failed(self) -> bool:
        return bool(self.problems) or any(t.status in FAILING for t in self.targets)

    def summary(self, file: str) -> str:
        """``FILE: N Prometheus targets linted (E with errors, W with warnings), S skipped``."""
        mine = [t for t in self.targets if t.file == file]
        linted = [t for t in mine if t.status != "skipped"]
        count = {s: sum(t.lint == s for t in mine) for s in ("error", "warning", "skipped")}
        text = (
            f"{file}: {len(linted)} Prometheus targets linted ({count['error']} with errors, "
            f"{count['warning']} with warnings), {count['skipped']} skipped"
        )
        ran = [t for t in linted if t.status in ("data", "no-data", "query-error")]
        if ran:
            data = sum(t.status == "data" for t in ran)
            text += f"; run: {data} returned data, {len(ran) - data} did not"
        return text


def inspect(
    paths: Iterable[str | Path],
    *,
    live: bool = False,
    client: Any = None,
    prometheus: str | None = None,
    at: datetime,
    scrape_interval: float | None = None,
    variables: Mapping[str, Any] | None = None,
) -> Inspection:
    """Lint (and with ``live`` run) every target of the dashboard JSON files in ``paths``.

    ``scrape_interval`` is the data source's; by default the provisioned one for a file in
    a ``grafana/dashboards`` folder that has ``grafana/provisioning``, else Grafana's 15 s.

    ``variables`` override the dashboards' variable defaults (``{"job": "node"}``).

    >>> inspect(["node-exporter-full.json"], at=obskit.now()).targets[0].status  # doctest: +SKIP
    'ok'
    """
    found = Inspection()
    planned: list[tuple[str, list[Query]]] = []
    for path in paths:
        for file in _model.dashboard_files(path):
            name = str(file)
            data = _model.read(file)
            found.files.append(name)
            found.problems += _stale(file)
            interval = scrape_interval or _provisioned(file)
            board = plan_board(data, at, interval, variables)
            found.targets += [_skipped(name, s) for s in board.skipped]
            planned.append((name, board.queries))
    linted = {(name, id(q)): _linted(name, q) for name, queries in planned for q in queries}
    if live and linted:
        with client_for(client, prometheus) as runner:
            for name, queries in planned:
                for q in queries:
                    report = linted[(name, id(q))]
                    if report.status != "error":
                        linted[(name, id(q))] = _run(runner, report, q)
    found.targets += linted.values()
    order = {name: i for i, name in enumerate(found.files)}
    found.targets.sort(key=lambda t: (order[t.file], t.status == "skipped"))
    return found


def _provisioned(file: Path) -> float:
    """The scrape interval Grafana's provisioning gives a file's folder (else 15 s)."""
    grafana = file.resolve().parent.parent
    if file.resolve().parent.name == "dashboards" and (grafana / "provisioning").is_dir():
        return scrape_interval_of(grafana)
    return GRAFANA_DEFAULT_INTERVAL


def _skipped(file: str, s: Skipped) -> TargetReport:
    return TargetReport(
        file, s.panel, s.panel_id, s.ref_id, s.datasource, "skipped", note=s.reason, lint="skipped"
    )


def _linted(file: str, q: Query) -> TargetReport:
    findings = tuple(lint_query(q))
    severities = {f.severity for f in findings}
    status = "error" if "error" in severities else "warning" if "warning" in severities else "ok"
    notes = ["hidden in Grafana"] if q.hidden else []
    if q.repeat:
        value = q.variables.get(q.repeat)
        notes.append(f"repeated for each value of ${q.repeat} (checked with {value!r})")
    note = "; ".join(notes)
    return TargetReport(
        file, q.panel, q.panel_id, q.ref_id, q.datasource, status, q.expr, q.expanded,
        findings, note, lint=status,
    )  # fmt: skip


def _run(client: Any, report: TargetReport, q: Query) -> TargetReport:
    from dataclasses import replace

    try:
        frame = run_query(client, q)
    except (UnreachableError, AuthError, TLSError):
        raise  # the server, not the query: one clear error
    except ObskitError as exc:
        return replace(report, status="query-error", note=str(exc))
    if frame.empty or not frame["value"].notna().any():
        note = f"no data at {q.end.isoformat()}: {q.expanded}"
        return replace(report, status="no-data", note=note, series=0)
    series = _series(frame)
    return replace(report, status="data", series=series, note=f"{series} series")


def _series(frame: Any) -> int:
    labels = [c for c in frame.columns if c not in ("timestamp", "value")]
    return len(frame[labels].astype(str).drop_duplicates()) if labels else 1


def _stale(file: Path) -> list[Problem]:
    """A JSON beside its ``NAME.dashboard.py`` that a fresh build would change."""
    source = file.with_name(file.stem + SOURCE_SUFFIX)
    if not source.exists():
        return []
    from ._files import render

    try:
        fresh = render(source)
    except ObskitError as exc:
        return [Problem(str(source), str(exc), rule="source")]
    if fresh == file.read_text(encoding="utf-8"):
        return []
    message = f"differs from a fresh build of {source.name}; `obskit dashboards diff` shows how"
    return [Problem(str(file), message, rule="stale")]
