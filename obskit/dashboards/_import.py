"""``obskit dashboards import``: any dashboard JSON → ``NAME.dashboard.py`` + ``NAME.json``.

Each panel becomes one variable. A panel is written with an :mod:`obskit.panels`
builder when that builder gives back exactly the stored panel (checked by building
it), else it is carried as its JSON with :mod:`obskit.dashboards.imported`; panels go
into ``p.row`` rows when the grid allows, else each keeps its position. The generated
source is built once before anything is written: the result must equal the input
after :func:`normalised` (the round trip is exact), or nothing is written.
"""

from __future__ import annotations

import copy
import json
import logging
import re
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from .._atomic import write_atomic
from ..errors import DashboardError
from . import _model
from ._builders import FUNCTIONS, builder_call, variable_call
from ._json import to_data
from ._pysource import Call, Name, identifier, literal
from .imported import render_panel

__all__ = ["Imported", "generate", "import_dashboard", "normalised"]

log = logging.getLogger("obskit")
_NAME = re.compile(r"^[a-z0-9][a-z0-9_-]*$")
GRID_COLUMNS = 24


def normalised(data: Any) -> str:
    """The text two dashboards are compared by: what Grafana itself treats as the same.

    The API's ``{"dashboard": ...}`` wrapper is removed; top-level panels are ordered by
    grid position (``y``, then ``x``: Grafana sorts them so when it loads a dashboard);
    keys are sorted and indented 2. Nothing else is changed.

    >>> a = {"panels": [{"id": 2, "gridPos": {"y": 8, "x": 0}}, {"id": 1, "gridPos": {"y": 0, "x": 0}}]}
    >>> normalised({"dashboard": a, "meta": {}}) == normalised({"panels": a["panels"][::-1]})
    True
    """
    board = copy.deepcopy(_model.unwrap(data) or data)
    panels = board.get("panels")
    if isinstance(panels, list):
        board["panels"] = sorted(panels, key=_position)
    return json.dumps(board, sort_keys=True, indent=2, ensure_ascii=False) + "\n"


def _position(panel: Any) -> tuple[float, float]:
    pos = panel.get("gridPos") if isinstance(panel, dict) else None
    if not isinstance(pos, dict):
        return (float("inf"), float("inf"))
    return (float(pos.get("y", 0)), float(pos.get("x", 0)))


@dataclass(frozen=True)
class Imported:
    """What :func:`import_dashboard` wrote and how much obskit could express."""

    name: str
    source: Path
    json: Path
    panels: int
    targets: int
    carried: int
    lines: int


@dataclass
class _Panel:
    var: str
    code: Any  # a Call: a builder, or imported.panel(...)
    data: dict[str, Any]
    builder: bool
    children: list[_Panel]


def generate(data: dict[str, Any], origin: str) -> tuple[str, dict[str, int]]:
    """The source text for dashboard ``data`` and its counts (panels, targets, carried)."""
    taken: set[str] = set()
    top = sorted(data.get("panels") or [], key=_position)
    items = [_panel(p, taken) for p in top]
    rows = _rows(items) if "panels" in data else None
    _fix_ids(items, placed_by_rows=rows is not None)
    counts = _counts(items, data)
    board = _dashboard_call(data, items, rows)
    body = [f"{item.var} = {literal(item.code)}" for item in _defined(items)]
    body += ["", f"dashboard = {literal(board)}"]
    used = {fn.split(".")[0] for fn in _functions([board, *(i.code for i in _flat(items))])}
    lines = [_docstring(data, origin, counts)]
    if "p" in used:
        lines.append("from obskit import panels as p")
    if "d" in used:
        lines.append("from obskit.dashboards import imported as d")
    return "\n".join([*lines, "", *body]) + "\n", counts


def _functions(values: Any) -> set[str]:
    """The functions the calls in ``values`` name (``p.row``, ``d.panel``, ...)."""
    if isinstance(values, Call):
        return (
            {values.fn} | _functions(list(values.args)) | _functions(list(values.kwargs.values()))
        )
    if isinstance(values, list | tuple):
        return set().union(*(_functions(v) for v in values)) if values else set()
    return set()


def _docstring(data: dict[str, Any], origin: str, counts: dict[str, int]) -> str:
    title = str(data.get("title") or "Untitled").replace('"""', "'''").replace("\\", "/")
    built = counts["panels"] - counts["carried"]
    if counts["carried"]:
        how = (
            f"Panels written with obskit.panels builders: {built} of {counts['panels']}; the "
            "others are carried\nas their Grafana JSON (obskit.dashboards.imported)."
        )
    else:
        how = "Every panel is written with an obskit.panels builder."
    return (
        f'"""{title}: imported from {origin} by `obskit dashboards import`.\n\n{how} '
        "Edit this file, then run\n`obskit dashboards build`; `obskit dashboards diff` shows "
        'what changed.\n"""\n'
    )


def _panel(data: dict[str, Any], taken: set[str]) -> _Panel:
    title = str(data.get("title") or data.get("type") or "panel")
    var = identifier(("row " if data.get("type") == "row" else "") + title, taken)
    children = [_panel(c, taken) for c in data.get("panels") or [] if isinstance(c, dict)]
    call = builder_call(data) if data.get("type") != "row" else None
    if call is not None and _same_panel(call, data):
        return _Panel(var, call, data, True, [])
    carried = {k: v for k, v in data.items() if not (k == "panels" and children)}
    kwargs = {"panels": [Name(c.var) for c in children]} if children else {}
    return _Panel(var, Call("d.panel", (carried,), kwargs), data, False, children)


def _same_panel(call: Call, data: dict[str, Any]) -> bool:
    """Whether the builder call gives back ``data`` (grid position and id set apart)."""
    try:
        built = render_panel(call.evaluate(FUNCTIONS, {}))
    except Exception as exc:
        log.debug("builder %s refused panel %r: %s", call.fn, data.get("title"), exc)
        return False
    keep = {k: v for k, v in data.items() if k not in ("gridPos", "id")}
    got = {k: v for k, v in built.items() if k not in ("gridPos", "id")}
    return _text(keep) == _text(got)


def _text(value: Any) -> str:
    return json.dumps(value, sort_keys=True)


def _rows(items: list[_Panel]) -> list[tuple[int, list[tuple[_Panel, int]]]] | None:
    """The top-level panels as ``p.row`` rows, if the grid is exactly rows from y=0."""
    rows: list[tuple[int, list[tuple[_Panel, int]]]] = []
    cursor = 0
    for y, group in _by_y(items):
        heights = {int(i.data["gridPos"]["h"]) for i in group}
        x = 0
        for item in group:
            pos = item.data["gridPos"]
            exact = set(pos) == set("hwxy") and all(float(pos[k]).is_integer() for k in "hwxy")
            if not exact or int(pos["x"]) != x:
                return None
            x += int(pos["w"])
        if len(heights) != 1 or y != cursor or x > GRID_COLUMNS:
            return None
        height = heights.pop()
        rows.append((height, [(i, int(i.data["gridPos"]["w"])) for i in group]))
        cursor += height
    return rows


def _by_y(items: list[_Panel]) -> Iterable[tuple[float, list[_Panel]]]:
    groups: dict[float, list[_Panel]] = {}
    for item in items:
        groups.setdefault(float(item.data["gridPos"]["y"]), []).append(item)
    return sorted(groups.items())


def _fix_ids(items: list[_Panel], *, placed_by_rows: bool) -> None:
    """Builder panels: position (``d.place``) where rows do not give it, id where the
    automatic one would differ; carried panels keep both in their data."""
    fixed = _fixed_ids(_flat(items))
    top = {id(i) for i in items}
    for item in _flat(items):
        if item.builder:
            if id(item) in fixed:
                item.code = Call("d.with_id", (item.code, item.data.get("id")))
            if not (placed_by_rows and id(item) in top):
                pos = item.data["gridPos"]
                item.code = Call("d.place", (item.code, *(pos[k] for k in "hwxy")))
        elif placed_by_rows and id(item) in top:
            settings = item.code.args[0]
            settings.pop("gridPos", None)


def _fixed_ids(panels: list[_Panel]) -> set[int]:
    """The builder panels whose id the automatic numbering would not give them (as few as
    possible: each one fixed takes its id out of the automatic numbering)."""
    builders = [p for p in panels if p.builder]
    fixed: set[int] = set()
    while True:
        taken = {p.data.get("id") for p in panels if not p.builder or id(p) in fixed}
        free = (n for n in range(1, 1_000_000) if n not in taken)
        wrong = {id(p) for p in builders if id(p) not in fixed and p.data.get("id") != next(free)}
        if not wrong:
            return fixed
        fixed |= wrong


def _flat(items: list[_Panel]) -> list[_Panel]:
    out = []
    for item in items:
        out.append(item)
        out += _flat(item.children)
    return out


def _defined(items: list[_Panel]) -> list[_Panel]:
    """Source order: a collapsed row's panels before the row that names them."""
    out = []
    for item in items:
        out += _defined(item.children)
        out.append(item)
    return out


def _counts(items: list[_Panel], data: dict[str, Any]) -> dict[str, int]:
    panels = [i for i in _flat(items) if i.data.get("type") != "row"]
    legacy = [
        p for r in data.get("rows") or [] if isinstance(r, dict) for p in r.get("panels") or []
    ]
    targets = sum(len(i.data.get("targets") or []) for i in panels)
    targets += sum(len(p.get("targets") or []) for p in legacy if isinstance(p, dict))
    carried = sum(not i.builder for i in panels) + len(legacy)
    return {"panels": len(panels) + len(legacy), "targets": targets, "carried": carried}


def _dashboard_call(data: dict[str, Any], items: list[_Panel], rows: list[Any] | None) -> Call:
    variables = (data.get("templating") or {}).get("list")
    calls = [variable_call(v) for v in variables] if isinstance(variables, list) else None
    built = _obskit_call(data, items, rows, calls)
    if built is not None:
        return built
    settings = {k: v for k, v in data.items() if k != "panels"}
    kwargs: dict[str, Any] = {}
    if calls is not None:
        settings["templating"] = {k: v for k, v in data["templating"].items() if k != "list"}
        kwargs["variables"] = calls
    if "panels" in data:
        settings["panels"] = []  # the panels come from rows=/panels= below
    if rows is not None:
        kwargs["rows"] = [Call("p.row", (height, *_row_items(members))) for height, members in rows]
    elif items:
        kwargs["panels"] = [Name(i.var) for i in items]
    kwargs["source"] = Name("__file__")
    return Call("d.dashboard", (settings,), kwargs)


def _obskit_call(
    data: dict[str, Any], items: list[_Panel], rows: list[Any] | None, variables: list[Any] | None
) -> Call | None:
    """``p.dashboard(...)`` when it gives back every dashboard setting exactly (a dashboard
    obskit made): builder panels in rows with automatic ids, ``p.variable`` variables."""
    plain = all(i.builder and i.code.fn != "d.place" for i in items)
    if rows is None or not plain or not all(isinstance(v, Call) for v in variables or []):
        return None
    time = data.get("time") or {}
    kwargs: dict[str, Any] = {"uid": data.get("uid"), "description": data.get("description")}
    optional = {
        "time": ((time.get("from"), time.get("to")), ("now-6h", "now")),
        "timezone": (data.get("timezone"), "browser"),
        "tags": (tuple(data.get("tags") or ()), ("obskit",)),
    }
    kwargs.update({k: v for k, (v, default) in optional.items() if v != default})
    extra = {"variables": variables} if variables else {}
    probe = Call("p.dashboard", (data.get("title"),), {**kwargs, **extra, "rows": []})
    try:
        built = to_data(probe.evaluate(FUNCTIONS, {}))
    except Exception as exc:
        log.debug("p.dashboard refused %r: %s", data.get("title"), exc)
        return None
    keep = {k: v for k, v in data.items() if k != "panels"}
    if _text(keep) != _text({k: v for k, v in built.items() if k != "panels"}):
        return None
    rows_code = [Call("p.row", (height, *_row_items(members))) for height, members in rows]
    return Call("p.dashboard", probe.args,
                {**kwargs, **extra, "rows": rows_code, "source": Name("__file__")})  # fmt: skip


def _row_items(members: list[tuple[_Panel, int]]) -> list[Any]:
    widths = {w for _, w in members}
    if len(widths) == 1 and widths.pop() == GRID_COLUMNS // len(members):
        return [Name(i.var) for i, _ in members]
    return [(Name(i.var), w) for i, w in members]


def import_dashboard(
    file: str | Path,
    name: str | None = None,
    *,
    force: bool = False,
    grafana_dir: str | Path | None = None,
) -> Imported:
    """Write ``grafana/dashboards/NAME.dashboard.py`` and ``NAME.json`` from ``file``.

    The source is built before anything is written and must give back the input
    (after :func:`normalised`); both files are replaced together or not at all. An
    existing source is only replaced with ``force``.

    >>> import_dashboard("node-exporter-full.json").carried  # doctest: +SKIP
    31
    """
    from ._files import SOURCE_SUFFIX, dashboards_dir, load_text
    from ._json import render, to_data

    path = Path(file)
    data = _model.read(path)
    name = name or re.sub(r"[^a-z0-9_-]+", "-", path.stem.lower()).strip("-") or "imported"
    if not _NAME.match(name):
        raise DashboardError(
            f"--name must be lower case letters, digits, - and _, like node-exporter; got {name!r}"
        )
    folder = dashboards_dir(grafana_dir)
    source, target = folder / f"{name}{SOURCE_SUFFIX}", folder / f"{name}.json"
    for existing in (source, target):
        if existing.exists() and not force:
            raise DashboardError(
                "exists already; pass --force to replace it (or --name to import under "
                "another name); nothing was written",
                existing,
            )
    text, counts = generate(data, path.name)
    probe = folder / f".{name}.import-check{SOURCE_SUFFIX}"  # no sidecar panels join the check
    rendered = render(to_data(load_text(text, probe)))
    if normalised(json.loads(rendered)) != normalised(data):
        raise DashboardError(
            "could not be imported exactly (the generated source builds a different "
            "dashboard); nothing was written: please report this with the file",
            path,
        )
    write_atomic([(source, text), (target, rendered)])
    return Imported(name, source, target, counts["panels"], counts["targets"],
                    counts["carried"], text.count("\n"))  # fmt: skip
