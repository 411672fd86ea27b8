"""``obskit dashboards build|check|preview|add|import|diff``: dashboards from the shell.

Every option is checked when the command line is parsed: a bad value is one line on
stderr and exit status 2 (names of dashboards are checked against ``--grafana-dir``
right after parsing, the same way).
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from collections.abc import Sequence
from datetime import datetime
from pathlib import Path
from typing import Any

from .. import _cliargs, config
from ..errors import ConfigError, DashboardError
from .panels import KINDS

__all__ = ["add_parsers"]

_DIR_HELP = "the repository's grafana/ folder (default: found from the working directory)"


# -- option types: each raises ArgumentTypeError with a valid example (argparse exits 2) --------

_bad, _url, _text = _cliargs.bad, _cliargs.url, _cliargs.text
_out, _duration = _cliargs.new_file, _cliargs.duration


def _folder(text: str) -> str:
    path = Path(text)
    if not path.is_dir():
        why = " (it is a file)" if path.exists() else " (no such folder)"
        raise _bad("an existing folder like grafana", text, why)
    return text


def _instant(text: str) -> datetime:
    try:
        return config.parse_instant(text, "--at")
    except ConfigError:
        raise _bad("an ISO 8601 instant like 2026-02-14T18:00:00Z", text) from None


def _assignment(text: str) -> tuple[str, str]:
    name, sep, value = text.partition("=")
    if not sep or not name.isidentifier():
        raise _bad("NAME=VALUE like job=node", text)
    return name, value


def _overrides(pairs: Sequence[tuple[str, str]] | None) -> dict[str, Any]:
    """``--var`` pairs as variable values: a name given twice or more gets a list."""
    out: dict[str, Any] = {}
    for name, value in pairs or []:
        out[name] = (
            [*out[name], value]
            if isinstance(out.get(name), list)
            else ([out[name], value] if name in out else value)
        )
    return out


def _json_file(text: str) -> str:
    if not Path(text).is_file():
        why = " (it is a folder)" if Path(text).exists() else " (no such file)"
        raise _bad("a dashboard JSON file like node-exporter-full.json", text, why)
    return text


def _new_name(text: str) -> str:
    from ._import import _NAME

    if not _NAME.match(text):
        raise _bad("lower case letters, digits, - and _ like node-exporter", text)
    return text


def _is_path(text: str) -> bool:
    return text.endswith(".json") or os.sep in text or Path(text).exists()


def _known(parser: argparse.ArgumentParser, args: argparse.Namespace, names: Sequence[str]) -> None:
    """Exit 2 (one line) when a dashboard name is not one of ``--grafana-dir``'s."""
    from ._files import names as known

    wanted = [n for n in names if not _is_path(n)]
    if not wanted:
        return
    try:
        found = known(args.grafana_dir)
    except DashboardError as exc:
        parser.error(str(exc))
    missing = [n for n in wanted if n not in found]
    if missing:
        parser.error(f"no dashboard named {', '.join(missing)}; known: {', '.join(found)}")


# -- handlers -------------------------------------------------------------------------------------


def _build(args: argparse.Namespace) -> int:
    from . import _files as dashboards

    _known(args.parser, args, args.names)
    changed = dashboards.build(args.names or None, grafana_dir=args.grafana_dir)
    for path in changed:
        print(f"wrote {path}")
    if not changed:
        print("all dashboards are up to date")
    return 0


def _check(args: argparse.Namespace) -> int:
    _known(args.parser, args, args.names)
    paths = [n for n in args.names if _is_path(n)]
    names = [n for n in args.names if not _is_path(n)]
    status = 0
    if paths:
        status = _check_paths(args, paths)
    if names or not paths:
        status = max(status, _check_committed(args, names))
    return status


def _check_committed(args: argparse.Namespace, names: list[str]) -> int:
    from ._check import check

    problems = check(
        names or None, grafana_dir=args.grafana_dir, prometheus=args.prometheus,
        live=not args.offline, at=args.at,
    )  # fmt: skip
    if args.format == "json":
        for problem in problems:
            print(json.dumps({"file": problem.file, "panel": problem.panel,
                              "ref_id": problem.ref_id, "rule": problem.rule,
                              "message": problem.message}, sort_keys=True))  # fmt: skip
        return 1 if problems else 0
    for problem in problems:
        print(problem, file=sys.stderr)
    if problems:
        print(f"{len(problems)} problem(s) found", file=sys.stderr)
        return 1
    print("all dashboards OK")
    return 0


def _check_paths(args: argparse.Namespace, paths: list[str]) -> int:
    from ._check import instant
    from ._inspect import inspect

    found = inspect(
        paths, live=not args.offline, prometheus=args.prometheus, at=instant(args.at),
        scrape_interval=args.scrape_interval,
        variables=_overrides(args.var),
    )  # fmt: skip
    if args.format == "json":
        for target in found.targets:
            print(json.dumps(target.to_json(), sort_keys=True, ensure_ascii=False))
    else:
        for target in found.targets:
            print(target.line())
        for file in found.files:
            print(found.summary(file))
    for problem in found.problems:
        print(problem, file=sys.stderr)
    return 1 if found.failed else 0


def _preview(args: argparse.Namespace) -> int:
    from . import _files as dashboards

    _known(args.parser, args, [args.name])
    path = dashboards.preview(
        args.name, args.out, prometheus=args.prometheus, grafana_dir=args.grafana_dir, at=args.at
    )
    print(f"wrote {path}")
    return 0


def _add(args: argparse.Namespace) -> int:
    from ..client._client import connect
    from . import _files as dashboards

    _known(args.parser, args, [args.name])
    client = connect(args.prometheus) if args.live else None
    try:
        change = dashboards.add_panel(
            args.name, args.expr, title=args.title, kind=args.kind, unit=args.unit,
            legend=args.legend, description=args.description, client=client,
            grafana_dir=args.grafana_dir,
        )  # fmt: skip
    finally:
        if client is not None:
            client.close()
    files = ", ".join(str(p) for p in change.files) or "no files changed"
    print(f"{change.action} panel {change.title!r} (id {change.panel_id}, {change.kind}): {files}")
    return 0


def _import(args: argparse.Namespace) -> int:
    from ._import import import_dashboard

    done = import_dashboard(args.file, args.name, force=args.force, grafana_dir=args.grafana_dir)
    print(f"wrote {done.source} and {done.json}")
    print(f"{done.panels} panels ({done.carried} carried as data), {done.targets} targets, "
          f"{done.lines} lines of source; the JSON rebuilds exactly")  # fmt: skip
    return 0


def _diff(args: argparse.Namespace) -> int:
    from ._diff import diff

    _known(args.parser, args, [args.old, args.new])
    old, new = _dashboard(args.old, args), _dashboard(args.new, args)
    changes = diff(old, new)
    if args.format == "json":
        payload = {"equal": not changes, "changes": [c.to_json() for c in changes]}
        print(json.dumps(payload, sort_keys=True, indent=2, ensure_ascii=False))
    else:
        for change in changes:
            print(change.line())
        print(f"{len(changes)} change(s)" if changes else "no differences")
    return 1 if changes else 0


def _dashboard(text: str, args: argparse.Namespace) -> dict[str, Any]:
    """A path's dashboard JSON, or a fresh build of the committed source ``NAME``."""
    from . import _model
    from ._files import _sources, dashboards_dir, render

    if _is_path(text):
        return _model.read(text)
    source = _sources(dashboards_dir(args.grafana_dir), [text])[0]
    return _model.parse(render(source), source)


# -- parsers --------------------------------------------------------------------------------------


def _common(p: argparse.ArgumentParser, *, prometheus: bool = True, at: bool = True) -> None:
    if prometheus:
        p.add_argument("--prometheus", metavar="URL", type=_url, default=None,
                       help="Prometheus to run the queries on (default: $PROMETHEUS_URL or the demo)")  # fmt: skip
    if at:
        p.add_argument("--at", metavar="ISO", type=_instant, default=None,
                       help="evaluate at this instant (default: obskit.now(), the demo's end)")  # fmt: skip
    p.add_argument("--grafana-dir", default=None, metavar="DIR", type=_folder, help=_DIR_HELP)


def _format(p: argparse.ArgumentParser, what: str) -> None:
    p.add_argument("--format", choices=("text", "json"), default="text",
                   help=f"text (default) or json: {what}")  # fmt: skip


def add_parsers(sub: argparse._SubParsersAction) -> None:
    top = sub.add_parser(
        "dashboards", help="build, check, import and diff Grafana dashboards",
        description="Dashboards as code: grafana/dashboards/NAME.dashboard.py -> NAME.json.",
    )  # fmt: skip
    dsub = top.add_subparsers(dest="action", required=True, metavar="ACTION")

    build = dsub.add_parser("build", help="regenerate NAME.json from every source (idempotent)",
                            description="Regenerate NAME.json from NAME.dashboard.py; files "
                            "already up to date are not touched.")  # fmt: skip
    build.add_argument("names", nargs="*", metavar="NAME", help="only these dashboards")
    _common(build, prometheus=False, at=False)
    build.set_defaults(func=_build, parser=build)

    check = dsub.add_parser("check", help="lint and run every query of committed or any dashboards",
                            description="NAME: a committed dashboard (structure, freshness, "
                            "queries); PATH: any dashboard JSON file or folder, one line per "
                            "target. Exit 1 when something is wrong.")  # fmt: skip
    check.add_argument("names", nargs="*", metavar="NAME|PATH", help="dashboards or JSON files")
    check.add_argument("--offline", action="store_true", help="lint only; run no query")
    check.add_argument("--scrape-interval", metavar="DURATION", type=_duration, default=None,
                       help="for PATHs: the data source's scrape interval (default: the provisioned "
                       "one of the file's grafana/ folder, else 15s, Grafana's)")  # fmt: skip
    check.add_argument("--var", metavar="NAME=VALUE", type=_assignment, action="append",
                       help="for PATHs: a variable's value instead of its default (repeat "
                       "the name for several values)")  # fmt: skip
    _format(check, "one JSON object per target (per problem for NAMEs)")
    _common(check)
    check.set_defaults(func=_check, parser=check)

    prev = dsub.add_parser("preview", help="render a dashboard with real data into one HTML file",
                           description="Plotly figures laid out like the Grafana grid, standalone HTML.")  # fmt: skip
    prev.add_argument("name", metavar="NAME|PATH", help="e.g. system-overview, or any JSON file")
    prev.add_argument("--out", metavar="FILE.html", type=_out, default=None,
                      help="default: NAME.preview.html")  # fmt: skip
    _common(prev)
    prev.set_defaults(func=_preview, parser=prev)

    add = dsub.add_parser("add", help="add a validated query as a panel (NAME.panels.yaml + NAME.json)",
                          description="Same as obskit.add_panel(): the same title updates the panel.")  # fmt: skip
    add.add_argument("name", metavar="NAME", help="e.g. business-dashboard")
    add.add_argument("expr", metavar="EXPR", type=_text("a PromQL query like up"), help="the query")
    add.add_argument("--title", required=True, type=_text("a panel title like Calls"),
                     help="panel title (the same title updates it)")  # fmt: skip
    add.add_argument("--kind", choices=KINDS, default=None)
    add.add_argument("--unit", default=None, help="Grafana unit id (default: from the catalog)")
    add.add_argument("--legend", default=None, help="legend format (default: the by (...) labels)")
    add.add_argument("--description", default=None, help="one line (default: the metric's help)")
    add.add_argument("--live", action="store_true", help="validate against Prometheus too")
    _common(add, at=False)
    add.set_defaults(func=_add, parser=add)

    imp = dsub.add_parser("import", help="write NAME.dashboard.py + NAME.json from any dashboard JSON",
                          description="Builders where they rebuild a panel exactly, the rest "
                          "carried as data; the JSON rebuilds exactly or nothing is written.")  # fmt: skip
    imp.add_argument("file", metavar="FILE.json", type=_json_file, help="an exported dashboard")
    imp.add_argument("--name", type=_new_name, default=None,
                     help="the new dashboard's name (default: from the file name)")  # fmt: skip
    imp.add_argument("--force", action="store_true", help="replace an existing source")
    _common(imp, prometheus=False, at=False)
    imp.set_defaults(func=_import, parser=imp)

    dif = dsub.add_parser("diff", help="what changed between two dashboards (exit 1 if any)",
                          description="OLD and NEW: JSON files, or a committed dashboard NAME "
                          "(a fresh build of its source).")  # fmt: skip
    dif.add_argument("old", metavar="OLD", help="NAME or FILE.json")
    dif.add_argument("new", metavar="NEW", help="NAME or FILE.json")
    _format(dif, "one JSON document with every change")
    _common(dif, prometheus=False, at=False)
    dif.set_defaults(func=_diff, parser=dif)
