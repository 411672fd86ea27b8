"""argparse ``type=`` functions shared by every ``obskit`` subcommand: a bad value is one line, exit 2.

Each raises :class:`argparse.ArgumentTypeError` with what a valid value looks like, so
argparse prints ``obskit ...: error: argument --x: must be ...; got '...'`` and exits 2.
"""

from __future__ import annotations

import argparse
import tempfile
from collections.abc import Callable
from pathlib import Path

from ._time import parse_duration
from .errors import ConfigError

__all__ = ["bad", "duration", "existing_file", "new_dir", "new_file", "selector", "text", "url"]


def bad(what: str, text: str, why: str = "") -> argparse.ArgumentTypeError:
    """The error for a value that is not ``what``: ``must be <what>; got '<text>'<why>``."""
    return argparse.ArgumentTypeError(f"must be {what}; got {text!r}{why}")


def url(value: str) -> str:
    """An http(s) URL like ``http://127.0.0.1:9090``."""
    scheme, _, rest = value.partition("://")
    if scheme not in ("http", "https") or not rest.strip("/"):
        raise bad("an http(s) URL like http://127.0.0.1:9090", value)
    return value


def new_file(value: str) -> str:
    """A file that can be written: its folder exists and is writable."""
    folder = Path(value).parent
    if not folder.is_dir():
        raise bad("a file in an existing folder like metrics.yaml", value, " (no folder)")
    try:
        with tempfile.NamedTemporaryFile(dir=folder, prefix=".obskit-", suffix=".tmp"):
            pass
    except OSError as exc:
        raise bad("a file in a folder you can write", value, f" ({exc.strerror})") from None
    return value


def new_dir(value: str) -> str:
    """A folder to create (missing parents too): the nearest existing one must be writable."""
    path = Path(value).expanduser().absolute()
    if path.is_file():
        raise bad("a folder to write, not a file", value)
    parent = path.parent
    while not parent.exists():
        parent = parent.parent
    try:
        with tempfile.TemporaryDirectory(dir=parent, prefix=".obskit-"):
            pass
    except OSError as exc:
        raise bad(
            "a folder under one you can write", value, f" ({parent}: {exc.strerror})"
        ) from None
    return value


def existing_file(what: str) -> Callable[[str], str]:
    """A file that exists (``what`` says what it should be, e.g. ``a catalog file``)."""

    def check(value: str) -> str:
        path = Path(value)
        if not path.is_file():
            why = " (it is a folder)" if path.exists() else " (no such file)"
            raise bad(what, value, why)
        return value

    return check


def text(what: str) -> Callable[[str], str]:
    """Any text that is not empty."""

    def check(value: str) -> str:
        if not value.strip():
            raise bad(what, value)
        return value

    return check


def duration(value: str) -> float:
    """A duration like ``30s`` or ``1m``, in seconds."""
    try:
        seconds = parse_duration(value, "duration")
    except ConfigError:
        raise bad("a duration like 15s, 30s or 1m", value) from None
    if seconds <= 0:
        raise bad("a positive duration like 30s", value)
    return seconds


def selector(value: str) -> str:
    """A series selector like ``{job="node"}`` or ``up`` (it must parse)."""
    from .promql._expr import Expr

    expr = Expr(value) if value.strip() else None
    if expr is None or expr.syntax_error is not None or not expr.selectors:
        raise bad("a series selector like '{job=\"node\"}' or up", value)
    return value
