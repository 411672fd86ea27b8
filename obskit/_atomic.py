"""Write files all-or-nothing: temp file in the same folder, fsync, ``os.replace``."""

from __future__ import annotations

import contextlib
import logging
import os
import tempfile
from collections.abc import Iterable, Sequence
from pathlib import Path

from .errors import DashboardError

__all__ = ["remove_leftovers", "write_atomic"]

log = logging.getLogger("obskit")


def write_atomic(files: Sequence[tuple[Path, str]]) -> None:
    """Replace several files all-or-nothing (as far as a file system allows).

    Each new text goes to a temporary file in the target's folder and is fsynced; then
    the files are replaced in order. If a replace fails, those already replaced get
    their previous text back and every temporary file is removed.
    """
    temps: list[Path] = []
    done: list[tuple[Path, str | None]] = []
    try:
        for path, text in files:
            temps.append(_temp_copy(path, text))
        for (path, _), temp in zip(files, temps, strict=True):
            previous = path.read_text(encoding="utf-8") if path.exists() else None
            os.replace(temp, path)
            done.append((path, previous))
    except BaseException as exc:
        _roll_back(done)
        for temp in temps:
            temp.unlink(missing_ok=True)
        if isinstance(exc, OSError):
            raise DashboardError(
                f"could not write ({exc}); nothing was changed", files[0][0]
            ) from exc
        raise


def _temp_copy(path: Path, text: str) -> Path:
    fd, name = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    os.fchmod(fd, _mode(path))  # mkstemp makes 0600; Grafana must be able to read the file
    with os.fdopen(fd, "w", encoding="utf-8", newline="\n") as handle:
        handle.write(text)
        handle.flush()
        os.fsync(handle.fileno())
    return Path(name)


def _mode(path: Path) -> int:
    return path.stat().st_mode & 0o777 if path.exists() else 0o644


def _roll_back(done: list[tuple[Path, str | None]]) -> None:
    for path, previous in reversed(done):
        with contextlib.suppress(OSError):
            if previous is None:
                path.unlink(missing_ok=True)
            else:
                os.replace(_temp_copy(path, previous), path)


def remove_leftovers(folder: Path, names: Iterable[str]) -> None:
    """Temporary files a killed write left behind (``.NAME.*.tmp``) for these file names."""
    for name in names:
        for leftover in folder.glob(f".{name}.*.tmp"):
            log.info("removing %s, left by an interrupted write", leftover)
            leftover.unlink(missing_ok=True)
