"""``%%promql`` / ``%promql``: a query in a cell, with its findings and its plot or table.

The cell body is the query; the first line holds the options. What it shows, in order:
the lint/validate findings (with fixes), then a plot for a range query or a table for
an instant one, titled and in the unit :func:`obskit.plot` gives them. Bad input (an
unknown option, an empty cell, a syntax error, an unreachable server) is one line.
"""

from __future__ import annotations

import argparse
import shlex
import sys
from dataclasses import dataclass
from typing import Any

from .._time import parse_duration, parse_time
from ..errors import ConfigError, ObskitError
from ..promql._expr import Expr, PanelContext

__all__ = ["CellOptions", "parse_options", "run"]

USAGE = (
    "%%promql [--range 6h | --start T --end T] [--step 1m] [--instant] "
    "[--plot | --table | --no-plot] [-o NAME] [--client NAME] [--var name=value ...] "
    "[--panel DASHBOARD --title T]"
)


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> None:  # type: ignore[override]
        raise ConfigError(f"%%promql: {message}. Usage: {USAGE}")


def _parser() -> argparse.ArgumentParser:
    p = _Parser(prog="%%promql", add_help=False)
    p.add_argument("--range", default=None)
    p.add_argument("--start", default=None)
    p.add_argument("--end", default=None)
    p.add_argument("--step", default=None)
    p.add_argument("--instant", action="store_true")
    show = p.add_mutually_exclusive_group()
    show.add_argument("--plot", dest="show", action="store_const", const="plot")
    show.add_argument("--table", dest="show", action="store_const", const="table")
    show.add_argument("--no-plot", dest="show", action="store_const", const="none")
    p.add_argument("-o", "--out", default=None)
    p.add_argument("--client", default=None)
    p.add_argument("--var", action="append", default=[])
    p.add_argument("--panel", default=None)
    p.add_argument("--title", default=None)
    p.add_argument("--refresh", action="store_true")
    return p


@dataclass(frozen=True)
class CellOptions:
    """The options of one ``%%promql`` cell, validated."""

    start: str
    end: str
    step: str | None
    instant: bool
    show: str
    out: str | None
    client: str | None
    variables: dict[str, Any]
    panel: str | None
    title: str | None
    range_seconds: float
    refresh: bool = False


def parse_options(line: str) -> CellOptions:
    """The options of a ``%%promql`` line, or a :class:`ConfigError` naming what is wrong.

    >>> parse_options("--range 6h --step 1m -o df").range_seconds
    21600.0
    >>> parse_options("--instant").show
    'table'
    """
    try:
        words = shlex.split(line)
    except ValueError as exc:
        raise ConfigError(f"%%promql: cannot read the options ({exc}). Usage: {USAGE}") from None
    args = _parser().parse_args(_glued(words))
    if args.range and (args.start or args.end):
        raise ConfigError(f"%%promql: give --range or --start/--end, not both. Usage: {USAGE}")
    if args.panel and not args.title:
        raise ConfigError(
            "%%promql: --panel needs --title, e.g. --panel business-dashboard --title 'Orders'"
        )
    for name in (args.out, args.client):
        if name is not None and not name.isidentifier():
            raise ConfigError(f"%%promql: -o and --client take a Python name like df; got {name!r}")
    range_text = args.range or "1h"
    seconds = parse_duration(range_text, "--range")
    if seconds <= 0:
        raise ConfigError(
            f"%%promql: --range must be a positive duration like 6h; got {range_text!r}"
        )
    if args.step is not None and parse_duration(args.step, "--step") <= 0:
        raise ConfigError(
            f"%%promql: --step must be a positive duration like 1m; got {args.step!r}"
        )
    start = args.start or f"-{range_text}"
    show = args.show or ("table" if args.instant else "plot")
    return CellOptions(
        start, args.end or "now", args.step, args.instant, show, args.out, args.client,
        _variables(args.var), args.panel, args.title, seconds, args.refresh,
    )  # fmt: skip


def _glued(words: list[str]) -> list[str]:
    """``--start -6h`` as ``--start=-6h``: argparse would take ``-6h`` for an option."""
    out: list[str] = []
    for word in words:
        if out and out[-1] in ("--start", "--end", "--range", "--step") and word.startswith("-"):
            out[-1] = f"{out[-1]}={word}"
        else:
            out.append(word)
    return out


def _variables(pairs: list[str]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for pair in pairs:
        name, sep, value = pair.partition("=")
        if not sep or not name.strip().isidentifier():
            raise ConfigError(
                f"%%promql: --var takes name=value, e.g. --var provider=deepgram; got {pair!r}"
            )
        values = [v for v in value.split(",") if v]
        out[name.strip()] = values if len(values) > 1 else value
    return out


def run(line: str, body: str, namespace: dict[str, Any], clients: Any) -> Any:
    """Run one cell; returns the frame (also stored as ``-o NAME``), or ``None``.

    Every :class:`~obskit.ObskitError` becomes one line on the cell's error stream.
    """
    try:
        return _run(line, body, namespace, clients)
    except ObskitError as exc:  # one message (a syntax error keeps its caret), no traceback
        sys.stderr.write(f"obskit: {exc}\n")
        sys.stderr.flush()
        return None


def _run(line: str, body: str, namespace: dict[str, Any], clients: Any) -> Any:
    from IPython.display import display

    import obskit

    options = parse_options(line)
    text = body.strip()
    if not text:
        raise ConfigError(
            "%%promql: the cell has no query; write it below the %%promql line, e.g. "
            "sum by (model) (rate(voicebot_llm_requests_total[$__rate_interval]))"
        )
    client = clients.get(namespace, options.client)
    if options.refresh:
        clients.vocabulary(client).refresh()
    query = Expr(
        text, PanelContext(range_seconds=options.range_seconds, variables=options.variables)
    )
    if query.syntax_error is not None:
        raise query.syntax_error  # shown with its caret; nothing is sent
    at = parse_time(options.end, "--end")
    report = obskit.validate(query, client, time=at, dashboard=bool(options.panel) or None)
    if any(f.severity != "info" for f in report.findings):
        display(report)  # the findings and their fixes, above the result
    frame = _fetch(client, query, options)
    if options.out:
        namespace[options.out] = frame
    if options.panel:
        display(
            obskit.add_panel(options.panel, query.text, title=options.title or "", client=client)
        )
    _show(frame, query, options, display)
    return None


def _fetch(client: Any, query: Expr, options: CellOptions) -> Any:
    variables = options.variables or None
    if options.instant:
        return client.query(query.text, options.end, variables=variables)
    return client.query_range(
        query.text, options.start, options.end, options.step, variables=variables
    )


def _show(frame: Any, query: Expr, options: CellOptions, display: Any) -> None:
    import obskit

    if options.show == "plot":
        display(obskit.plot(frame, title=options.title))
    elif options.show == "table":
        display(frame)
