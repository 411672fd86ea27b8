"""``obskit dashboards build|check|preview|add``: the committed dashboards from the shell."""

from __future__ import annotations

import argparse
import sys
from typing import Any

from .. import config

__all__ = ["add_parsers"]

_DIR_HELP = "the repository's grafana/ folder (default: found from the working directory)"


def _grafana_dir(p: argparse.ArgumentParser) -> None:
    p.add_argument("--grafana-dir", default=None, metavar="DIR", help=_DIR_HELP)


def _at(text: str | None) -> Any:
    return None if text is None else config.parse_instant(text, "--at")


def _build(args: argparse.Namespace) -> int:
    from . import _files as dashboards

    changed = dashboards.build(args.names or None, grafana_dir=args.grafana_dir)
    for path in changed:
        print(f"wrote {path}")
    if not changed:
        print("all dashboards are up to date")
    return 0


def _check(args: argparse.Namespace) -> int:
    from . import _files as dashboards

    problems = dashboards.check(
        args.names or None,
        grafana_dir=args.grafana_dir,
        prometheus=args.prometheus,
        live=not args.offline,
        at=_at(args.at),
    )
    for problem in problems:
        print(problem, file=sys.stderr)
    if problems:
        print(f"{len(problems)} problem(s) found", file=sys.stderr)
        return 1
    print("all dashboards OK")
    return 0


def _preview(args: argparse.Namespace) -> int:
    from . import _files as dashboards

    path = dashboards.preview(
        args.name,
        args.out,
        prometheus=args.prometheus,
        grafana_dir=args.grafana_dir,
        at=_at(args.at),
    )
    print(f"wrote {path}")
    return 0


def _add(args: argparse.Namespace) -> int:
    from ..client._client import connect
    from . import _files as dashboards

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


def add_parsers(sub: argparse._SubParsersAction) -> None:
    top = sub.add_parser(
        "dashboards", help="build, check and preview the committed Grafana dashboards",
        description="Dashboards as code: grafana/dashboards/NAME.dashboard.py -> NAME.json.",
    )  # fmt: skip
    dsub = top.add_subparsers(dest="action", required=True, metavar="ACTION")

    build = dsub.add_parser("build", help="regenerate NAME.json from every source (idempotent)",
                            description="Regenerate NAME.json from NAME.dashboard.py; files "
                            "already up to date are not touched.")  # fmt: skip
    build.add_argument("names", nargs="*", metavar="NAME", help="only these dashboards")
    _grafana_dir(build)
    build.set_defaults(func=_build)

    check = dsub.add_parser("check", help="structure, freshness and every query against Prometheus",
                            description="Exit 1 with one line per problem (file, panel, refId).")  # fmt: skip
    check.add_argument("names", nargs="*", metavar="NAME", help="only these dashboards")
    check.add_argument("--prometheus", metavar="URL", default=None,
                       help="Prometheus to run the queries on (default: $PROMETHEUS_URL or the demo)")  # fmt: skip
    check.add_argument("--offline", action="store_true", help="skip running the queries")
    check.add_argument("--at", metavar="ISO", default=None,
                       help="evaluate at this instant (default: obskit.now(), the demo's end)")  # fmt: skip
    _grafana_dir(check)
    check.set_defaults(func=_check)

    prev = dsub.add_parser("preview", help="render a dashboard with real data into one HTML file",
                           description="Plotly figures laid out like the Grafana grid, standalone HTML.")  # fmt: skip
    prev.add_argument("name", metavar="NAME", help="e.g. system-overview")
    prev.add_argument("--out", metavar="FILE.html", default=None, help="default: NAME.preview.html")
    prev.add_argument(
        "--prometheus", metavar="URL", default=None, help="default: $PROMETHEUS_URL or the demo"
    )
    prev.add_argument("--at", metavar="ISO", default=None, help="default: obskit.now()")
    _grafana_dir(prev)
    prev.set_defaults(func=_preview)

    add = dsub.add_parser("add", help="add a validated query as a panel (NAME.panels.yaml + NAME.json)",
                          description="Same as obskit.add_panel(): the same title updates the panel.")  # fmt: skip
    add.add_argument("name", metavar="NAME", help="e.g. business-dashboard")
    add.add_argument("expr", metavar="EXPR", help="the PromQL query")
    add.add_argument("--title", required=True, help="panel title (the same title updates it)")
    add.add_argument("--kind", choices=("timeseries", "stat", "gauge", "pie", "bar"), default=None)
    add.add_argument("--unit", default=None, help="Grafana unit id (default: from the catalog)")
    add.add_argument("--legend", default=None, help="legend format (default: the by (...) labels)")
    add.add_argument("--description", default=None, help="one line (default: the metric's help)")
    add.add_argument("--live", action="store_true", help="validate against Prometheus too")
    add.add_argument(
        "--prometheus", metavar="URL", default=None, help="with --live (default: $PROMETHEUS_URL)"
    )
    _grafana_dir(add)
    add.set_defaults(func=_add)
