"""``obskit catalog [TEXT]`` and ``obskit catalog import``: list, search and write catalogs."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from . import _cliargs as types

__all__ = ["add_catalog_parser", "route"]


def add_catalog_parser(sub: argparse._SubParsersAction) -> None:
    """``catalog`` (list or search the active catalog) with its ``import`` subcommand."""
    cat = sub.add_parser("catalog", help="list, search or import a metric catalog")
    csub = cat.add_subparsers(dest="catalog_command", metavar="{search,import}")
    cat.set_defaults(func=_search, text=None)
    search = csub.add_parser("search", help="list the catalog, or the rows matching TEXT")
    search.add_argument("text", nargs="?", help="search text (name, help or label)")
    search.set_defaults(func=_search)
    imp = csub.add_parser(
        "import",
        help="write a catalog file from a live Prometheus or a prometheus_client registry",
        description="Types, help and units from /api/v1/metadata (by naming convention where "
        "the server has none), label names and values from the matching series; or the "
        "families of a prometheus_client registry (--registry module:attribute).",
    )
    source = imp.add_mutually_exclusive_group(required=True)
    source.add_argument("--prometheus", type=types.url, metavar="URL", help="the server to read")
    source.add_argument("--registry", type=_registry_spec,
                        metavar="MODULE:ATTR", help="a prometheus_client registry to read")  # fmt: skip
    imp.add_argument("--match", action="append", type=types.selector, metavar="SELECTOR",
                     help="series to describe (repeat; default every series)")  # fmt: skip
    imp.add_argument("--owns", action="append", default=[], type=types.text("a name prefix like shop_"),
                     metavar="PREFIX", help="a namespace the file describes completely (repeat)")  # fmt: skip
    imp.add_argument("--out", required=True, type=types.new_file, metavar="FILE",
                     help="the catalog file to write, e.g. grafana/catalog.yaml")  # fmt: skip
    imp.add_argument("--force", action="store_true", help="replace --out if it exists")
    imp.set_defaults(func=_import)


def _registry_spec(value: str) -> str:
    """``module:attribute`` whose module can be found (it is imported only when run)."""
    import importlib.util

    module, sep, attribute = value.partition(":")
    if not sep or not module or not attribute.isidentifier():
        raise types.bad("module:attribute like app.metrics:REGISTRY", value)
    try:
        found = importlib.util.find_spec(module)
    except (ImportError, ValueError):
        found = None
    if found is None:
        raise types.bad(
            "an importable module:attribute", value, f" (no module {module!r} on sys.path)"
        )
    return value


def route(argv: list[str]) -> list[str]:
    """``catalog TEXT`` (the old form) as ``catalog search TEXT``."""
    if (
        len(argv) >= 2
        and argv[0] == "catalog"
        and argv[1] not in ("search", "import")
        and not argv[1].startswith("-")
    ):
        return ["catalog", "search", *argv[1:]]
    return argv


def _search(args: argparse.Namespace) -> int:
    from . import catalog

    frame = catalog.search(args.text) if args.text else catalog.table()
    print(frame.drop(columns=["help"]).to_string(index=False))
    return 0


def _import(args: argparse.Namespace) -> int:
    from . import catalog, catalog_import
    from ._atomic import write_atomic
    from .errors import ConfigError

    out = Path(args.out)
    if out.exists() and not args.force:
        raise ConfigError(f"{out} exists; pass --force to replace it")
    if args.registry:
        found = catalog_import.from_registry(
            catalog_import.registry_at(args.registry), owns=args.owns
        )
    else:
        import obskit

        client = obskit.connect(args.prometheus)
        found = catalog_import.from_client(
            client, args.match or ['{__name__=~".+"}'], owns=args.owns
        )
    write_atomic([(out, catalog.dump(found))])
    print(f"wrote {out}: {len(found.metrics)} metric families", file=sys.stdout)
    return 0
