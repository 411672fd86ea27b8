"""Structure rules for committed dashboard JSON (pure: data in, problems out)."""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from typing import Any

from ..promql._macros import BUILTINS, fixed_windows, refs
from ._json import TARGET_KEYS
from .panels import DATASOURCE

SCHEMA_VERSION = 39
GRID_COLUMNS = 24
#: rate()/irate()/increase() windows must be one of these Grafana macros.
_PANEL_TYPES = ("timeseries", "stat", "gauge", "piechart", "barchart", "bargauge", "table")


@dataclass(frozen=True)
class Problem:
    """One thing wrong with a dashboard: which file, panel and query, and what.

    >>> print(Problem("x.json", "no data", panel="CPU", ref_id="A", rule="no-data"))
    x.json: panel 'CPU' refId A: no data
    """

    file: str
    message: str
    panel: str | None = None
    ref_id: str | None = None
    rule: str = ""

    def __str__(self) -> str:
        where = self.file
        if self.panel is not None:
            where += f": panel {self.panel!r}"
        if self.ref_id is not None:
            where += f" refId {self.ref_id}"
        return f"{where}: {self.message}"


def check_structure(data: Any, file: str, uid: str) -> list[Problem]:
    """Every structural rule over one dashboard's JSON data."""
    if not isinstance(data, dict):
        return [Problem(file, "is not a JSON object (a Grafana dashboard)", rule="json")]
    found = list(_dashboard_rules(data, file, uid))
    panels = [p for p in data.get("panels", []) if isinstance(p, dict)]
    found += _ids(panels, file)
    found += _grid(panels, file)
    for panel in panels:
        found += _panel_rules(panel, file)
    found += _variables(data, panels, file)
    return found


def _dashboard_rules(data: dict[str, Any], file: str, uid: str) -> Iterator[Problem]:
    if data.get("schemaVersion") != SCHEMA_VERSION:
        yield Problem(file, f"schemaVersion is {data.get('schemaVersion')!r}, must be "
                      f"{SCHEMA_VERSION} (grafanalib defaults to 12)", rule="schema-version")  # fmt: skip
    if data.get("uid") != uid:
        yield Problem(file, f"uid is {data.get('uid')!r}, must be the stable {uid!r}", rule="uid")
    if not data.get("title"):
        yield Problem(file, "the dashboard has no title", rule="title")
    if data.get("rows"):
        yield Problem(file, "uses legacy 'rows'; put panels in 'panels'", rule="legacy-key")
    if not data.get("panels"):
        yield Problem(file, "has no panels", rule="panels")


def _ids(panels: list[dict[str, Any]], file: str) -> list[Problem]:
    found, seen = [], set()
    for panel in panels:
        pid = panel.get("id")
        if not isinstance(pid, int) or pid in seen:
            what = "has no integer id" if not isinstance(pid, int) else f"reuses id {pid}"
            found.append(
                Problem(file, f"{what}; ids must be unique", panel.get("title"), rule="panel-id")
            )
        seen.add(pid)
    return found


def _grid(panels: list[dict[str, Any]], file: str) -> list[Problem]:
    found: list[Problem] = []
    cells: dict[tuple[int, int], str | None] = {}
    for panel in panels:
        title, pos = panel.get("title"), panel.get("gridPos") or {}
        try:
            h, w, x, y = (int(pos[k]) for k in ("h", "w", "x", "y"))
        except (KeyError, TypeError, ValueError):
            found.append(Problem(file, "has no gridPos {h, w, x, y}", title, rule="grid"))
            continue
        if h < 1 or w < 1 or x < 0 or y < 0 or x + w > GRID_COLUMNS:
            found.append(
                Problem(file, f"gridPos {pos} is outside the 24-column grid", title, rule="grid")
            )
            continue
        for cell in ((cx, cy) for cx in range(x, x + w) for cy in range(y, y + h)):
            if cell in cells and cells[cell] != title:
                found.append(
                    Problem(file, f"gridPos overlaps panel {cells[cell]!r}", title, rule="grid")
                )
                break
            cells[cell] = title
    return found


def _panel_rules(panel: dict[str, Any], file: str) -> list[Problem]:
    title = panel.get("title") or f"(untitled, id {panel.get('id')})"
    found = []

    def bad(message: str, rule: str, ref: str | None = None) -> None:
        found.append(Problem(file, message, title, ref, rule))

    if not panel.get("title"):
        bad("has no title", "panel-title")
    description = panel.get("description")
    if not isinstance(description, str) or not description.strip() or "\n" in description:
        bad("needs a one-line description", "panel-description")
    if panel.get("type") not in _PANEL_TYPES:
        bad(f"has unsupported type {panel.get('type')!r}", "panel-type")
    if panel.get("datasource") != DATASOURCE:
        bad(f"datasource must be {DATASOURCE}", "datasource")
    defaults = (panel.get("fieldConfig") or {}).get("defaults") or {}
    if not defaults.get("unit"):
        bad("has no unit (fieldConfig.defaults.unit)", "unit")
    if not isinstance(panel.get("maxDataPoints"), int):
        bad(
            "has no maxDataPoints: set it so the step is the same on every screen",
            "max-data-points",
        )
    steps = (defaults.get("thresholds") or {}).get("steps") or []
    if panel.get("type") == "gauge" and len(steps) < 2:
        bad("is a gauge without thresholds beyond the base colour", "thresholds")
    targets = panel.get("targets") or []
    if not targets:
        bad("has no queries", "targets")
    for problem in _targets(targets):
        bad(*problem)
    return found


def _targets(targets: list[Any]) -> Iterator[tuple[str, str, str | None]]:
    seen: set[str] = set()
    for target in targets:
        ref = target.get("refId") if isinstance(target, dict) else None
        if not ref or ref in seen:
            yield ("needs a unique refId", "ref-id", ref)
            continue
        seen.add(ref)
        if target.get("datasource") != DATASOURCE:
            yield (f"datasource must be {DATASOURCE}", "datasource", ref)
        if not str(target.get("expr") or "").strip():
            yield ("has an empty expr", "expr", ref)
        if not target.get("legendFormat"):
            yield ("has no legendFormat", "legend", ref)
        legacy = sorted(set(target) - set(TARGET_KEYS))
        if legacy:
            yield (
                f"has legacy keys {legacy}; Grafana 10/11 reads only {list(TARGET_KEYS)}",
                "legacy-key",
                ref,
            )
        for window in bad_windows(str(target.get("expr") or "")):
            yield (f"window [{window}] is fixed: use [$__rate_interval]", "rate-window", ref)


def bad_windows(expr: str) -> list[str]:
    """Windows of ``rate()`` in ``expr`` that are not Grafana macros (one scanner:
    :func:`obskit.promql._macros.fixed_windows`).

    >>> bad_windows('rate(x[5m]) + increase(y[$__range])')
    ['5m']
    """
    return [expr[start:end].strip() for start, end in fixed_windows(expr)]


def used_variables(exprs: Iterable[str]) -> set[str]:
    """Names of the dashboard variables ``exprs`` refer to (macros excluded)."""
    return {ref.name for expr in exprs for ref in refs(expr) if ref.name not in BUILTINS}


def _variables(data: dict[str, Any], panels: list[dict[str, Any]], file: str) -> list[Problem]:
    declared = {v.get("name") for v in (data.get("templating") or {}).get("list", [])}
    found = []
    for panel in panels:
        for target in panel.get("targets") or []:
            for name in sorted(used_variables([str(target.get("expr") or "")]) - declared):
                found.append(Problem(file, f"uses ${name}, which is not a declared variable",
                                     panel.get("title"), target.get("refId"), "variable"))  # fmt: skip
    exprs = [str(t.get("expr") or "") for p in panels for t in p.get("targets") or []]
    for name in sorted(declared - used_variables(exprs), key=str):
        found.append(Problem(file, f"declares ${name} but no query uses it", rule="variable"))
    return found
