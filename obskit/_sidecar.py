"""The ``NAME.panels.yaml`` sidecar: panels added from notebooks, read by dashboard sources.

A dashboard source stays hand-written; :func:`obskit.dashboards.add_panel` only ever
rewrites this file. Entries are kept in the order they were added, keyed by title.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator, Mapping, Sequence
from contextvars import ContextVar
from pathlib import Path
from typing import Any

import yaml

from .errors import DashboardError

SOURCE_SUFFIX = ".dashboard.py"
SIDECAR_SUFFIX = ".panels.yaml"
FIELDS = ("title", "id", "kind", "unit", "legend", "description", "expr")
HEADER = (
    "# Panels added with obskit.add_panel() (or `obskit dashboards add`); the dashboard\n"
    "# source loads them. Hand edits are kept, but add_panel rewrites this file: keep\n"
    "# each entry's fields: title, id, kind, unit, legend, description, expr.\n"
)
Spec = dict[str, Any]

# Entries not yet on disk, by sidecar path: add_panel builds the new JSON from them first.
_PENDING: ContextVar[Mapping[Path, Sequence[Spec]] | None] = ContextVar("_PENDING", default=None)


def sidecar_path(source: str | Path) -> Path:
    """``NAME.panels.yaml`` beside ``NAME.dashboard.py``."""
    path = Path(source).resolve()
    name = path.name.removesuffix(SOURCE_SUFFIX)
    return path.with_name(name + SIDECAR_SUFFIX)


def added_specs(source: str | Path) -> list[Spec]:
    """The sidecar entries of the dashboard whose source is ``source`` (none if no file)."""
    path = sidecar_path(source)
    pending = _PENDING.get()
    if pending is not None and path in pending:
        return [dict(s) for s in pending[path]]
    if not path.exists():
        return []
    return parse(path.read_text(encoding="utf-8"), path)


@contextlib.contextmanager
def pending(path: Path, specs: Sequence[Spec]) -> Iterator[None]:
    """Within the block, sources read ``specs`` instead of the sidecar file at ``path``."""
    token = _PENDING.set({path.resolve(): list(specs)})
    try:
        yield
    finally:
        _PENDING.reset(token)


def parse(text: str, path: Path) -> list[Spec]:
    """Entries from sidecar text; a :class:`DashboardError` naming ``path`` if malformed."""
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        raise DashboardError(f"is not valid YAML ({exc}); fix or delete it", path) from exc
    entries = (data or {}).get("panels", []) if isinstance(data, dict) else None
    if not isinstance(entries, list):
        raise DashboardError("must be a mapping with a 'panels:' list of entries", path)
    for i, entry in enumerate(entries):
        missing = [f for f in FIELDS if not isinstance(entry, dict) or entry.get(f) in (None, "")]
        if missing:
            raise DashboardError(
                f"entry {i + 1} lacks {', '.join(missing)}; each entry needs {', '.join(FIELDS)}",
                path,
            )
    return [{f: e[f] for f in FIELDS} for e in entries]


def dump(specs: Sequence[Spec]) -> str:
    """Deterministic sidecar text (fixed field order, no line wrapping)."""
    entries = [{f: spec[f] for f in FIELDS} for spec in specs]
    body = yaml.safe_dump(
        {"panels": entries}, sort_keys=False, allow_unicode=True, width=10_000, indent=2
    )
    return HEADER + body


def upsert(specs: Sequence[Spec], new: Spec) -> tuple[list[Spec], str]:
    """``specs`` with ``new`` added, or replacing the entry with its title (keeping its id).

    Returns the entries and what happened: ``"added"``, ``"updated"`` or ``"unchanged"``.
    """
    out = [dict(s) for s in specs]
    for i, old in enumerate(out):
        if old["title"] == new["title"]:
            merged = {**new, "id": old["id"]}
            if merged == old:
                return out, "unchanged"
            out[i] = merged
            return out, "updated"
    return [*out, new], "added"
