"""``obskit dashboards diff``: what changed between two dashboards, as a reviewer reads it.

Panels are matched by id, then by title, wherever they sit (rows, collapsed rows).
Reported: panels added, removed, moved or resized; queries changed (a line diff of the
PromQL), added or removed; unit, thresholds, value mappings, legend, options and
other panel settings; variables and time settings. Ignored: key order, the
dashboard's ``id``/``version``/``iteration``, panel ids, and the refreshed ``options``
of query variables (Grafana rewrites both on every save).
"""

from __future__ import annotations

import difflib
import json
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from ._model import iter_panels
from ._plan import letters

__all__ = ["Change", "diff"]

NOISE = ("id", "version", "iteration")
TIME_KEYS = ("time", "timezone", "refresh", "timepicker", "weekStart", "fiscalYearStartMonth",
             "liveNow", "nowDelay")  # fmt: skip
_FIELD_KINDS = {"unit": "unit", "thresholds": "thresholds", "mappings": "mappings"}
_PANEL_SKIP = ("gridPos", "id", "targets", "fieldConfig", "options", "panels")


@dataclass(frozen=True)
class Change:
    """One difference: ``kind`` (``panel-moved``, ``query-changed``, ``unit``, ...), where
    it is, and the old and new values (a text diff for queries in ``detail``)."""

    kind: str
    where: str
    old: Any = None
    new: Any = None
    detail: str = ""

    def line(self) -> str:
        """One line of text (a query change adds its diff lines, indented)."""
        text = f"{self.where}: {self.kind}"
        if self.detail:
            return f"{text}\n" + "\n".join(f"    {d}" for d in self.detail.splitlines())
        if self.old is not None or self.new is not None:
            text += f": {_short(self.old)} -> {_short(self.new)}"
        return text

    def to_json(self) -> dict[str, Any]:
        return {"kind": self.kind, "where": self.where, "old": self.old, "new": self.new,
                "detail": self.detail}  # fmt: skip


def _short(value: Any) -> str:
    if value is None:
        return "(none)"
    text = json.dumps(value, sort_keys=True, ensure_ascii=False)
    return text if len(text) <= 120 else text[:117] + "..."


def _same(a: Any, b: Any) -> bool:
    return json.dumps(a, sort_keys=True) == json.dumps(b, sort_keys=True)


def diff(old: dict[str, Any], new: dict[str, Any]) -> list[Change]:
    """Every change from dashboard ``old`` to ``new`` (both JSON data); empty when equal.

    >>> a = {"panels": [{"id": 1, "title": "A", "type": "stat",
    ...                  "gridPos": {"h": 4, "w": 6, "x": 0, "y": 0}}]}
    >>> b = {"panels": [{"id": 1, "title": "A", "type": "stat",
    ...                  "gridPos": {"h": 4, "w": 6, "x": 6, "y": 0}}], "version": 9}
    >>> print(*[c.line() for c in diff(a, b)])
    panel 'A' (id 1): panel-moved: {"x": 0, "y": 0} -> {"x": 6, "y": 0}
    """
    changes = list(_settings(old, new))
    changes += _variables(old, new)
    changes += _panels(old, new)
    return changes


def _settings(old: dict[str, Any], new: dict[str, Any]) -> Iterator[Change]:
    skip = {*NOISE, "panels", "templating", "rows"}
    for key in sorted((set(old) | set(new)) - skip):
        if not _same(old.get(key), new.get(key)):
            kind = "time" if key in TIME_KEYS else "setting"
            yield Change(kind, f"dashboard {key}", old.get(key), new.get(key))
    if not _same(_without_panels(old.get("rows")), _without_panels(new.get("rows"))):
        yield Change("setting", "dashboard rows", detail="the legacy rows[] changed")


def _without_panels(rows: Any) -> Any:
    if not isinstance(rows, list):
        return rows
    return [{k: v for k, v in r.items() if k != "panels"} for r in rows if isinstance(r, dict)]


def _variables(old: dict[str, Any], new: dict[str, Any]) -> Iterator[Change]:
    before, after = _by_name(old), _by_name(new)
    for name in [n for n in before if n not in after]:
        yield Change("variable-removed", f"variable ${name}")
    for name in [n for n in after if n not in before]:
        yield Change("variable-added", f"variable ${name}", new=after[name].get("type"))
    for name in [n for n in before if n in after]:
        a, b = _comparable(before[name]), _comparable(after[name])
        for key in sorted(set(a) | set(b)):
            if not _same(a.get(key), b.get(key)):
                yield Change("variable-changed", f"variable ${name} {key}", a.get(key), b.get(key))


def _by_name(data: dict[str, Any]) -> dict[str, dict[str, Any]]:
    found = (data.get("templating") or {}).get("list") or []
    return {str(v["name"]): v for v in found if isinstance(v, dict) and v.get("name")}


def _comparable(var: dict[str, Any]) -> dict[str, Any]:
    if var.get("type") == "query" and var.get("refresh") in (1, 2):
        return {k: v for k, v in var.items() if k != "options"}
    return var


def _panels(old: dict[str, Any], new: dict[str, Any]) -> Iterator[Change]:
    before = [r.panel for r in iter_panels(old)]
    after = [r.panel for r in iter_panels(new)]
    pairs, removed, added = _match(before, after)
    for panel in removed:
        yield Change("panel-removed", _where(panel))
    for panel in added:
        yield Change("panel-added", _where(panel), new=panel.get("type"))
    for a, b in pairs:
        yield from _panel(a, b)


def _match(
    before: list[dict[str, Any]], after: list[dict[str, Any]]
) -> tuple[list[tuple[dict[str, Any], dict[str, Any]]], list[dict[str, Any]], list[dict[str, Any]]]:
    pairs = []
    left, right = list(before), list(after)
    for key in ("id", "title"):
        index: dict[Any, dict[str, Any]] = {}
        for panel in right:
            if panel.get(key) is not None:
                index.setdefault(panel.get(key), panel)
        for panel in list(left):
            other = index.pop(panel.get(key), None) if panel.get(key) is not None else None
            if other is not None and other in right:
                pairs.append((panel, other))
                left.remove(panel)
                right.remove(other)
    return pairs, left, right


def _where(panel: dict[str, Any]) -> str:
    title = panel.get("title") or f"(untitled {panel.get('type')})"
    kind = "row" if panel.get("type") == "row" else "panel"
    return f"{kind} {title!r} (id {panel.get('id')})"


def _panel(a: dict[str, Any], b: dict[str, Any]) -> Iterator[Change]:
    where = _where(b)
    pa, pb = a.get("gridPos") or {}, b.get("gridPos") or {}
    if (pa.get("x"), pa.get("y")) != (pb.get("x"), pb.get("y")):
        yield Change("panel-moved", where, _pick(pa, "xy"), _pick(pb, "xy"))
    if (pa.get("w"), pa.get("h")) != (pb.get("w"), pb.get("h")):
        yield Change("panel-resized", where, _pick(pa, "wh"), _pick(pb, "wh"))
    yield from _targets(where, a.get("targets") or [], b.get("targets") or [])
    yield from _field_config(where, a.get("fieldConfig") or {}, b.get("fieldConfig") or {})
    oa, ob = dict(a.get("options") or {}), dict(b.get("options") or {})
    if not _same(oa.pop("legend", None), ob.get("legend")):
        yield Change("legend", where, (a.get("options") or {}).get("legend"), ob.get("legend"))
    ob.pop("legend", None)
    for key in sorted(set(oa) | set(ob)):
        if not _same(oa.get(key), ob.get(key)):
            yield Change("options", f"{where} options.{key}", oa.get(key), ob.get(key))
    for key in sorted((set(a) | set(b)) - set(_PANEL_SKIP)):
        if not _same(a.get(key), b.get(key)):
            yield Change("panel-setting", f"{where} {key}", a.get(key), b.get(key))


def _pick(pos: dict[str, Any], keys: str) -> dict[str, Any]:
    return {k: pos.get(k) for k in keys}


def _by_ref(targets: list[Any]) -> dict[str, dict[str, Any]]:
    """Targets by refId; one without gets the letter Grafana gives it (A, B, ... by position)."""
    found = [t for t in targets if isinstance(t, dict)]
    return {str(t.get("refId") or letters(i)): t for i, t in enumerate(found)}


def _targets(where: str, old: list[Any], new: list[Any]) -> Iterator[Change]:
    before, after = _by_ref(old), _by_ref(new)
    for ref in [r for r in before if r not in after]:
        yield Change("query-removed", f"{where} refId {ref}", before[ref].get("expr"))
    for ref in [r for r in after if r not in before]:
        yield Change("query-added", f"{where} refId {ref}", new=after[ref].get("expr"))
    for ref in [r for r in before if r in after]:
        a, b = before[ref], after[ref]
        here = f"{where} refId {ref}"
        if a.get("expr") != b.get("expr"):
            yield Change("query-changed", here, a.get("expr"), b.get("expr"),
                         _text_diff(str(a.get("expr") or ""), str(b.get("expr") or "")))  # fmt: skip
        if a.get("legendFormat") != b.get("legendFormat"):
            yield Change("legend", f"{here} legendFormat", a.get("legendFormat"),
                         b.get("legendFormat"))  # fmt: skip
        for key in sorted((set(a) | set(b)) - {"expr", "legendFormat"}):
            if not _same(a.get(key), b.get(key)):
                yield Change("query-setting", f"{here} {key}", a.get(key), b.get(key))


def _text_diff(old: str, new: str) -> str:
    """A line diff of two queries (one line each is the usual case: - old, + new)."""
    lines = difflib.unified_diff(old.splitlines(), new.splitlines(), lineterm="", n=1)
    return "\n".join(line for line in lines if not line.startswith(("---", "+++", "@@")))


def _field_config(where: str, old: dict[str, Any], new: dict[str, Any]) -> Iterator[Change]:
    da, db = dict(old.get("defaults") or {}), dict(new.get("defaults") or {})
    for key, kind in _FIELD_KINDS.items():
        if not _same(da.pop(key, None), db.get(key)):
            yield Change(kind, where, (old.get("defaults") or {}).get(key), db.get(key))
        db.pop(key, None)
    for key in sorted(set(da) | set(db)):
        if not _same(da.get(key), db.get(key)):
            yield Change("field-config", f"{where} defaults.{key}", da.get(key), db.get(key))
    if not _same(old.get("overrides") or [], new.get("overrides") or []):
        yield Change("field-config", f"{where} overrides", old.get("overrides"),
                     new.get("overrides"))  # fmt: skip
