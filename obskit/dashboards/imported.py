"""What :mod:`obskit.panels` cannot express, carried as data, for imported dashboards.

``obskit dashboards import FILE.json`` writes a ``NAME.dashboard.py`` that uses the
:mod:`obskit.panels` builders wherever they give back exactly the panel Grafana stored,
and these helpers for the rest, so the rebuilt ``NAME.json`` loses nothing:

* :func:`panel` — a panel kept as its JSON (a type or option obskit does not model, a
  PostgreSQL panel, a row); it can still be laid out with ``p.row``.
* :func:`place` / :func:`with_id` — a builder panel at a fixed grid position or id.
* :func:`dashboard` — the dashboard: its settings as data, panels from ``rows`` (the
  ``p.row`` layout) or ``panels`` (each placed where Grafana had it).
"""

from __future__ import annotations

import copy
import json
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import attr
import grafanalib.core as g
from grafanalib._gen import DashboardEncoder

from ..errors import ConfigError
from . import _json as _dashjson
from .panels import Row, layout, panel_from_spec

__all__ = ["Board", "Carried", "dashboard", "panel", "place", "with_id"]


@attr.s(frozen=True, auto_attribs=True)
class Carried:
    """A panel carried as its Grafana JSON ``data``; ``panels`` are a collapsed row's."""

    data: dict[str, Any]
    gridPos: Any = None  # the attribute p.layout sets
    id: int | None = None
    panels: tuple[Any, ...] = ()

    def to_data(self) -> dict[str, Any]:
        out = copy.deepcopy(self.data)
        if self.gridPos is not None:
            out["gridPos"] = self.gridPos.to_json_data()
        if self.id is not None:
            out["id"] = self.id
        if self.panels:
            out["panels"] = [render_panel(p) for p in self.panels]
        return out


def panel(data: Mapping[str, Any], *, panels: Sequence[Any] = ()) -> Carried:
    """A panel kept as data (``panels``: the panels a collapsed row holds).

    >>> panel({"type": "text", "title": "Notes", "options": {"content": "hi"}}).data["type"]
    'text'
    """
    if not isinstance(data, Mapping):
        raise ConfigError(f"a carried panel is its Grafana JSON (a dict); got {data!r:.80}")
    return Carried(dict(data), panels=tuple(panels))


def place(item: Any, h: int, w: int, x: int, y: int) -> Any:
    """``item`` (a builder panel or :func:`panel`) at a fixed position of the 24-column grid.

    >>> place(panel({"type": "text"}), 4, 12, 0, 0).gridPos.to_json_data()
    {'h': 4, 'w': 12, 'x': 0, 'y': 0}
    """
    return attr.evolve(item, gridPos=g.GridPos(h=h, w=w, x=x, y=y))


def with_id(item: Any, panel_id: int) -> Any:
    """``item`` with a fixed panel id (links and ``viewPanel=`` URLs refer to it)."""
    return attr.evolve(item, id=panel_id)


def render_panel(item: Any) -> dict[str, Any]:
    """A panel's JSON as the build writes it: carried data as is, builders normalised."""
    if isinstance(item, Carried):
        return item.to_data()
    text = json.dumps(item.to_json_data(), cls=DashboardEncoder)
    return _dashjson.normalise_panel(json.loads(text))


def render_variable(item: Any) -> dict[str, Any]:
    """A variable's JSON: a ``p.variable`` normalised, a mapping as is."""
    if isinstance(item, Mapping):
        return copy.deepcopy(dict(item))
    text = json.dumps(item.to_json_data(), cls=DashboardEncoder)
    return _dashjson.normalise_variable(json.loads(text))


@dataclass(frozen=True)
class Board:
    """An imported dashboard: settings as data, panels placed; :meth:`to_data` renders it."""

    settings: Mapping[str, Any]
    panels: tuple[Any, ...]
    variables: tuple[Any, ...] | None

    def to_data(self) -> dict[str, Any]:
        out = copy.deepcopy(dict(self.settings))
        items = _auto_ids(list(self.panels))
        if items or "panels" in self.settings:
            out["panels"] = [render_panel(p) for p in items]
        if self.variables is not None:
            out["templating"] = {
                **dict(out.get("templating") or {}),
                "list": [render_variable(v) for v in self.variables],
            }
        return out


def dashboard(
    settings: Mapping[str, Any],
    *,
    rows: Iterable[Row] = (),
    panels: Iterable[Any] = (),
    variables: Iterable[Any] | None = None,
    source: str | None = None,
) -> Board:
    """An imported dashboard: ``rows`` laid out like :func:`obskit.panels.dashboard`, then
    ``panels`` (placed with their own ``gridPos``), then the panels added from notebooks
    (``source=__file__`` reads ``NAME.panels.yaml``) below everything else.

    >>> board = dashboard({"title": "T", "uid": "t", "schemaVersion": 39},
    ...                   panels=[place(panel({"type": "text", "id": 3}), 4, 24, 0, 0)])
    >>> board.to_data()["panels"]
    [{'type': 'text', 'id': 3, 'gridPos': {'h': 4, 'w': 24, 'x': 0, 'y': 0}}]
    """
    if not isinstance(settings, Mapping):
        raise ConfigError(
            f"an imported dashboard's settings are its JSON (a dict); got {settings!r:.80}"
        )
    placed = [*layout(rows), *panels]
    if source is not None:
        placed += _sidecar_panels(source, placed)
    return Board(dict(settings), tuple(placed), None if variables is None else tuple(variables))


def _sidecar_panels(source: str, placed: list[Any]) -> list[Any]:
    from ._sidecar import added_specs

    specs = added_specs(source)
    if not specs:
        return []
    bottom = max((_bottom(p) for p in placed), default=0)
    extra = []
    for spec in specs:
        item = panel_from_spec(spec)
        small = isinstance(item, g.Stat | g.GaugePanel)
        extra.append((item, 6, 6) if small else (item, 12, 8))
    return [
        attr.evolve(p, gridPos=attr.evolve(p.gridPos, y=p.gridPos.y + bottom))
        for p in layout([], extra)
    ]


def _bottom(item: Any) -> int:
    pos = item.gridPos.to_json_data() if item.gridPos is not None else None
    if pos is None and isinstance(item, Carried):
        pos = item.data.get("gridPos")
    return int(pos["y"]) + int(pos["h"]) if pos else 0


def _auto_ids(items: list[Any]) -> list[Any]:
    """Builder panels without an id get the lowest free one, as grafanalib's
    ``auto_panel_ids`` does; carried panels keep what their data says."""
    taken = {i for i in (_id(p) for p in _all(items)) if i}
    free = (i for i in range(1, 1_000_000) if i not in taken)

    def fix(item: Any) -> Any:
        if isinstance(item, Carried):  # kept as it was, an id or none
            return attr.evolve(item, panels=tuple(fix(p) for p in item.panels))
        return item if _id(item) else attr.evolve(item, id=next(free))

    return [fix(p) for p in items]


def _all(items: Iterable[Any]) -> Iterable[Any]:
    for item in items:
        yield item
        if isinstance(item, Carried):
            yield from _all(item.panels)


def _id(item: Any) -> Any:
    if isinstance(item, Carried):
        return item.id if item.id is not None else item.data.get("id")
    return item.id
