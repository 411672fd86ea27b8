"""The ``NAME.panels.yaml`` sidecar: panels added from notebooks, read by dashboard sources.

A dashboard source stays hand-written; :func:`obskit.dashboards.add_panel` only ever
rewrites this file. Entries are kept in the order they were added, keyed by title.
"""

from __future__ import annotations

import contextlib
import logging
import time
from collections.abc import Iterator, Mapping, Sequence
from contextvars import ContextVar
from pathlib import Path
from typing import Any

import yaml

from ..errors import DashboardError

log = logging.getLogger("obskit")
SOURCE_SUFFIX = ".dashboard.py"
SIDECAR_SUFFIX = ".panels.yaml"
FIELDS = ("title", "id", "kind", "unit", "legend", "description", "expr")
HEADER = (
    "# Panels added with obskit.add_panel() (or `obskit dashboards add`); the dashboard\n"
    "# source loads them. Hand edits are kept, but add_panel rewrites this file: keep\n"
    "# each entry's fields: title, id, kind, unit, legend, description, expr.\n"
)
Spec = dict[str, Any]
#: Seconds to wait for another process's change to the same dashboard before giving up.
LOCK_TIMEOUT = 120.0

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
def locked(source: str | Path, timeout: float | None = None) -> Iterator[None]:
    """Hold an exclusive inter-process lock on one dashboard while it is read and rewritten.

    Two processes adding panels at once would otherwise both read the same sidecar and
    the later write would drop the earlier panel. The lock is ``flock`` on the
    hand-written source itself: it is never replaced (the sidecar and JSON are, by
    rename, so a lock on them would not be shared), and no lock file is left in the
    repository. Not re-entrant. Waits at most ``timeout`` seconds (default
    :data:`LOCK_TIMEOUT`). Without ``fcntl`` (Windows) there is no lock.
    """
    try:
        import fcntl
    except ImportError:  # pragma: no cover - Windows
        yield
        return
    path = Path(source)
    timeout = LOCK_TIMEOUT if timeout is None else timeout
    with path.open("rb") as handle:
        deadline = time.monotonic() + timeout
        while True:
            try:
                fcntl.flock(handle.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                if time.monotonic() > deadline:
                    raise DashboardError(
                        f"another process has been changing this dashboard for over "
                        f"{timeout:g} s (it holds a lock on the file); try again when it is done",
                        path,
                    ) from None
                log.debug("waiting for another process to finish changing %s", path)
                time.sleep(0.02)
        try:
            yield
        finally:
            fcntl.flock(handle.fileno(), fcntl.LOCK_UN)


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
        raise DashboardError(
            f"is not valid YAML ({_yaml_problem(exc)}); fix the entry or delete the file, "
            "then run `obskit dashboards build`",
            path,
        ) from exc
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


def _yaml_problem(exc: yaml.YAMLError) -> str:
    """One line: where and what, e.g. ``line 3, column 1: expected ',' or ']'``."""
    mark = getattr(exc, "problem_mark", None)
    what = getattr(exc, "problem", None) or str(exc)
    where = f"line {mark.line + 1}, column {mark.column + 1}: " if mark is not None else ""
    return " ".join(f"{where}{what}".split())


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
