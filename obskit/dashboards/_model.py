"""Any Grafana dashboard JSON as data: read and check the file, walk panels, resolve data sources.

Pure except :func:`read`: it accepts what Grafana accepts or exports — the dashboard
object itself, the HTTP API's ``{"dashboard": ..., "meta": ...}`` wrapper, panels in
(collapsed) rows, the legacy ``rows[]`` schema — and raises one :class:`DashboardError`
naming the file and what to do for anything else.
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ..errors import DashboardError

__all__ = [
    "MAX_SCHEMA_VERSION",
    "PanelRef",
    "dashboard_files",
    "datasource_of",
    "iter_panels",
    "parse",
    "previewable",
    "read",
    "target_type",
    "unwrap",
]

#: The newest ``schemaVersion`` obskit understands (Grafana 11 writes 39-41).
MAX_SCHEMA_VERSION = 41
#: Below this, Grafana stores panels in ``rows[]`` (no ``gridPos``); from 16 on in ``panels``.
GRID_SCHEMA_VERSION = 16
_UNDERSTOOD = f"1 to {MAX_SCHEMA_VERSION} (Grafana 2 to 11)"
_DASHBOARD_KEYS = ("panels", "rows", "schemaVersion", "templating")
#: Data source plugin ids whose queries are PromQL.
PROMQL_TYPES = ("prometheus",)
#: A data source given only by a name or uid: its type is not in the file.
UNKNOWN = "?"
_SPECIAL = {"-- grafana --": "grafana", "grafana": "grafana", "-- mixed --": "mixed",
            "-- dashboard --": "dashboard"}  # fmt: skip


def read(path: str | Path) -> dict[str, Any]:
    """The dashboard object in ``path`` (unwrapped, checked); a clear error otherwise.

    >>> read("grafana/dashboards/system-overview.json")["uid"]  # doctest: +SKIP
    'obskit-system-overview'
    """
    file = Path(path)
    try:
        text = file.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        reason = exc.strerror if isinstance(exc, OSError) else "not UTF-8 text"
        raise DashboardError(
            f"cannot be read ({reason}); pass a dashboard JSON file", file
        ) from exc
    return parse(text, file)


def parse(text: str, file: str | Path = "<text>") -> dict[str, Any]:
    """The dashboard object in JSON ``text`` (``file`` names it in errors)."""
    try:
        data = json.loads(text)
    except ValueError as exc:
        raise DashboardError(
            f"is not valid JSON ({exc}); export the dashboard again from Grafana "
            "(Share > Export > Save to file) or fix the file",
            file,
        ) from exc
    board = unwrap(data)
    if board is None:
        keys = sorted(data)[:6] if isinstance(data, dict) else type(data).__name__
        raise DashboardError(
            f"is not a Grafana dashboard (no panels, rows or templating; found {keys}); "
            "pass the JSON Grafana exports for a dashboard",
            file,
        )
    _check_schema(board, file)
    _check_grid(board, file)
    return board


def unwrap(data: Any) -> dict[str, Any] | None:
    """The dashboard object of ``data``: itself, or the API's ``{"dashboard": ...}`` inner."""
    if not isinstance(data, dict):
        return None
    inner = data.get("dashboard")
    if isinstance(inner, dict) and not any(k in data for k in ("panels", "rows")):
        data = inner
    return data if any(k in data for k in _DASHBOARD_KEYS) else None


def _check_schema(board: dict[str, Any], file: str | Path) -> None:
    version = board.get("schemaVersion")
    if version is None:
        return  # Grafana treats it as 0 and migrates: legacy, but readable
    if (
        isinstance(version, bool)
        or not isinstance(version, int)
        or not 1 <= version <= (MAX_SCHEMA_VERSION)
    ):
        raise DashboardError(
            f"has schemaVersion {version!r}, which obskit does not understand (it reads "
            f"{_UNDERSTOOD}); export it from a Grafana of those versions",
            file,
        )


def _check_grid(board: dict[str, Any], file: str | Path) -> None:
    if "panels" not in board:
        return
    if not isinstance(board["panels"], list):
        raise DashboardError("has 'panels' that is not a list; export the dashboard again", file)
    for ref in iter_panels(board):
        if ref.legacy_row is not None:
            continue
        pos = ref.panel.get("gridPos")
        if not isinstance(pos, dict) or not all(
            isinstance(pos.get(k), int | float) for k in ("h", "w", "x", "y")
        ):
            raise DashboardError(
                f"panel {ref.label!r} has no gridPos {{h, w, x, y}}; Grafana places every "
                'panel by it: add e.g. "gridPos": {"h": 8, "w": 12, "x": 0, "y": 0}',
                file,
            )


@dataclass(frozen=True)
class PanelRef:
    """One panel of a dashboard, wherever it sits (top level, in a row, in legacy rows[])."""

    panel: dict[str, Any]
    row: str | None = None  # the title of the row it sits under
    collapsed: bool = False  # inside a collapsed row (kept in row.panels)
    legacy_row: int | None = None  # index in the legacy rows[] schema

    @property
    def label(self) -> str:
        title = self.panel.get("title")
        return str(title) if title else f"(untitled, id {self.panel.get('id')})"

    @property
    def is_row(self) -> bool:
        return self.panel.get("type") == "row"


def iter_panels(board: Mapping[str, Any], *, rows: bool = True) -> Iterator[PanelRef]:
    """Every panel in display order: row panels (``rows=True``), then what they hold."""
    for index, legacy in enumerate(board.get("rows") or []):
        if isinstance(legacy, dict):
            title = legacy.get("title")
            for panel in legacy.get("panels") or []:
                if isinstance(panel, dict):
                    yield PanelRef(panel, str(title) if title else None, False, index)
    current: str | None = None
    for panel in board.get("panels") or []:
        if not isinstance(panel, dict):
            continue
        if panel.get("type") == "row":
            current = str(panel.get("title") or "")
            if rows:
                yield PanelRef(panel, None)
            for child in panel.get("panels") or []:
                if isinstance(child, dict):
                    yield PanelRef(child, current, bool(panel.get("collapsed", True)))
            continue
        yield PanelRef(panel, current)


def datasource_of(ref: Any, board: Mapping[str, Any], fallback: Any = None) -> tuple[str, str]:
    """``(plugin type, name)`` of a data source reference (a dict, a name, a uid, ``$var``).

    ``None`` is the default data source (taken to be Prometheus); a ``$var`` reference
    is resolved through the dashboard's datasource variable or the export's ``__inputs``;
    a bare name or uid gives :data:`UNKNOWN` (see :func:`target_type`).

    >>> datasource_of({"type": "loki", "uid": "abc"}, {})
    ('loki', 'abc')
    >>> datasource_of("${DS_PROMETHEUS}", {"__inputs": [{"name": "DS_PROMETHEUS",
    ...     "pluginId": "prometheus"}]})
    ('prometheus', '${DS_PROMETHEUS}')
    """
    if ref is None or ref == "":
        ref = fallback
    if ref is None or ref == "" or ref == "default":
        return "prometheus", "default"
    if isinstance(ref, dict):
        kind, name = ref.get("type"), ref.get("uid") or ref.get("name") or ""
        if kind:
            return _special(str(kind), str(name)) or str(kind), str(name)
        ref = name
    text = str(ref)
    special = _special(text, text)
    if special:
        return special, text
    variable = _variable_name(text)
    if variable is not None:
        return _variable_type(variable, board), text
    return UNKNOWN, text


def _special(kind: str, name: str) -> str | None:
    return _SPECIAL.get(name.lower()) or _SPECIAL.get(kind.lower()) if kind or name else None


def _variable_name(text: str) -> str | None:
    if text.startswith("${") and text.endswith("}"):
        return text[2:-1].split(":")[0]
    if text.startswith("$") and text[1:].replace("_", "").isalnum():
        return text[1:]
    return None


def _variable_type(name: str, board: Mapping[str, Any]) -> str:
    for var in (board.get("templating") or {}).get("list") or []:
        if isinstance(var, dict) and var.get("name") == name and var.get("type") == "datasource":
            return str(var.get("query") or "prometheus")
    for item in board.get("__inputs") or []:
        if isinstance(item, dict) and item.get("name") == name:
            return str(item.get("pluginId") or "prometheus")
    return UNKNOWN


def target_type(kind: str, name: str, target: Mapping[str, Any]) -> str:
    """The plugin type of a target whose data source is only named (``UNKNOWN``): a name
    or uid from another Grafana says nothing, so the query's shape decides."""
    if kind != UNKNOWN:
        return kind
    if "rawSql" in target:
        return "sql"
    if "expr" in target:
        return "loki" if "loki" in name.lower() else "prometheus"
    return "unknown"


def previewable(board: Mapping[str, Any]) -> dict[str, Any]:
    """``board`` with every panel at top level, each with a ``gridPos`` and field defaults.

    Rows are dropped and the panels of collapsed rows lifted out; legacy ``rows[]``
    panels get a position from their ``span`` (the preview draws what Grafana would).
    """
    panels: list[dict[str, Any]] = []
    y, row_index = 0, None
    for ref in iter_panels(board, rows=False):
        panel = dict(ref.panel)
        if ref.legacy_row is not None:
            if ref.legacy_row != row_index:
                row_index, x = ref.legacy_row, 0
                y += 8 if panels else 0
            w = min(int(panel.get("span") or 12) * 2, 24)
            x = 0 if x + w > 24 else x
            panel["gridPos"] = {"h": 8, "w": w, "x": x, "y": y}
            x += w
        config = dict(panel.get("fieldConfig") or {})
        defaults = dict(config.get("defaults") or {})
        defaults.setdefault("mappings", [])
        panel["fieldConfig"] = {**config, "defaults": defaults}
        panel.setdefault("title", "")
        panel.setdefault("type", "timeseries")
        panel["id"] = int(panel.get("id") or 0)
        panels.append(panel)
    return {**board, "panels": panels}


def dashboard_files(path: str | Path) -> list[Path]:
    """``path`` itself, or the dashboard JSON files in a folder (recursively), sorted."""
    root = Path(path)
    if root.is_dir():
        return sorted(p for p in root.rglob("*.json") if not p.name.startswith("."))
    if not root.exists():
        raise DashboardError("does not exist; pass a dashboard JSON file or a folder", root)
    return [root]
