"""The ``obskit freeze`` command and ``obskit demo start --data DIR`` (added by obskit.cli)."""

from __future__ import annotations

import argparse
from pathlib import Path

from .. import _cliargs

__all__ = ["add_data_option", "add_freeze_parser"]


def _budget(text: str) -> int | None:
    if text.strip().lower() in ("none", "off", "0"):
        return None
    if not text.strip().isdigit():
        raise argparse.ArgumentTypeError(
            f"must be a whole number like 100000, or none; got {text!r}"
        )
    return int(text)


def _fixture_dir(text: str) -> Path:
    path = Path(text).expanduser()
    if not (path / "manifest.json").is_file():
        raise argparse.ArgumentTypeError(
            f"must be a fixture directory written by `obskit freeze` (with a manifest.json); "
            f"got {text!r}"
        )
    return path


def _time(text: str) -> str:
    """An instant ``freeze`` accepts (ISO 8601, unix seconds, now, -1h); returned as given."""
    from .._time import parse_time
    from ..errors import ConfigError

    try:
        parse_time(text, "time")
    except ConfigError:
        raise _cliargs.bad(
            "an ISO 8601 instant like 2026-02-14T18:00:00Z, or now, -1h", text
        ) from None
    return text


def add_data_option(parser: argparse.ArgumentParser) -> None:
    """``--data DIR``: replay a frozen fixture instead of the synthetic demo."""
    parser.add_argument(
        "--data",
        type=_fixture_dir,
        default=None,
        metavar="DIR",
        help="replay a fixture written by `obskit freeze` instead of the synthetic demo",
    )


def add_freeze_parser(sub: argparse._SubParsersAction) -> None:
    """The ``freeze`` subcommand."""
    from .freeze import MAX_SAMPLES, MAX_SERIES

    p = sub.add_parser(
        "freeze",
        help="copy raw samples of a Prometheus into a fixture directory",
        description=(
            "Read every raw sample of the series matching --match in [--start, --end] and "
            "write a fixture that `obskit demo start --data DIR` replays."
        ),
    )
    p.add_argument("--prometheus", required=True, type=_cliargs.url, metavar="URL",
                   help="the source server")  # fmt: skip
    p.add_argument(
        "--match",
        action="append",
        required=True,
        type=_cliargs.selector,
        metavar="SELECTOR",
        help="series selector, e.g. '{job=\"node\"}' (repeat for more)",
    )
    p.add_argument(
        "--start", required=True, type=_time, metavar="T", help="ISO instant or e.g. -1h"
    )
    p.add_argument("--end", required=True, type=_time, metavar="T", help="ISO instant or now")
    p.add_argument("--out", required=True, type=_cliargs.new_dir, metavar="DIR",
                   help="the fixture directory to write (missing parents are made)")  # fmt: skip
    p.add_argument("--force", action="store_true", help="replace --out if it exists")
    p.add_argument(
        "--max-series", type=_budget, default=MAX_SERIES, metavar="N",
        help=f"refuse above this many series (default {MAX_SERIES:,}; none: no limit)",
    )  # fmt: skip
    p.add_argument(
        "--max-samples", type=_budget, default=MAX_SAMPLES, metavar="N",
        help=f"refuse above about this many samples (default {MAX_SAMPLES:,}; none: no limit)",
    )  # fmt: skip
    p.set_defaults(func=_freeze)


def _freeze(args: argparse.Namespace) -> int:
    from .freeze import freeze

    report = freeze(
        args.prometheus,
        args.match,
        args.start,
        args.end,
        args.out,
        force=args.force,
        max_series=args.max_series,
        max_samples=args.max_samples,
    )
    size = sum(p.stat().st_size for p in report.path.iterdir())
    print(
        f"froze {report['series']:,} series, {report['samples']:,} samples "
        f"({size / max(report['samples'], 1):.2f} bytes/sample) into {report.path}"
    )
    staleness = report.get("staleness") or {}
    if staleness.get("reproduced"):
        print(
            f"staleness markers: {staleness.get('markers', 0):,} (read with remote read; replayed)"
        )
    else:
        print(
            "staleness markers: not frozen (the source has no remote read): on replay a series "
            "that ended answers for 5m after its last sample"
        )
    print(f"replay it with: obskit demo start --data {report.path}")
    return 0
