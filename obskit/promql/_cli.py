"""``obskit lint EXPR... | -f FILE``: lint queries from CI, as text, JSON or GitHub annotations.

Exit status 1 when any finding is an error, 0 otherwise (2 for bad options).
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any

from .. import _cliargs as types
from ..errors import ConfigError
from ._dialect import DIALECTS

__all__ = ["add_lint_parser", "render"]

FORMATS = ("text", "json", "github")


def add_lint_parser(sub: argparse._SubParsersAction) -> None:
    """The ``lint`` subcommand."""
    p = sub.add_parser(
        "lint",
        help="lint PromQL queries (offline, or against a Prometheus)",
        description="Lint each EXPR (or each non-empty line of -f FILE; '#' starts a comment). "
        "Exit 1 when any finding is an error.",
    )
    p.add_argument("expr", nargs="*", type=types.text("a PromQL query like up"), metavar="EXPR")
    p.add_argument("-f", "--file", type=types.existing_file("a file of queries, one per line"),
                   metavar="FILE", help="queries, one per line ('-' is not supported)")  # fmt: skip
    p.add_argument("--format", choices=FORMATS, default="text",
                   help="text (default), json (one object per query) or github (annotations)")  # fmt: skip
    p.add_argument("--offline", action="store_true", help="never contact a server")
    p.add_argument("--prometheus", type=types.url, metavar="URL",
                   help="validate against this server (default: $PROMETHEUS_URL; none: offline)")  # fmt: skip
    p.add_argument("--scrape-interval", type=types.duration, default=None, metavar="DURATION",
                   help="the scrape interval windows are checked against (default 30s)")  # fmt: skip
    p.add_argument("--catalog", action="append", type=types.existing_file("a catalog YAML file"),
                   metavar="FILE", help="your metric catalog (repeat; over the default)")  # fmt: skip
    p.add_argument("--metadata", type=types.existing_file("a /api/v1/metadata JSON body"),
                   metavar="FILE", help="metric types from a saved /api/v1/metadata answer")  # fmt: skip
    p.add_argument("--dialect", choices=DIALECTS, default=None,
                   help="the server's PromQL (default: prometheus-2, or the server's own)")  # fmt: skip
    p.add_argument("--dashboard", action="store_true", help="lint as panel queries")
    p.set_defaults(func=_lint)


def _queries(args: argparse.Namespace) -> list[tuple[str, dict[str, Any] | None]]:
    found: list[tuple[str, dict[str, Any] | None]] = [(q, None) for q in args.expr]
    if args.file:
        for number, line in enumerate(Path(args.file).read_text(encoding="utf-8").splitlines(), 1):
            text = line.strip()
            if text and not text.startswith("#"):
                found.append((text, {"file": args.file, "line": number}))
    if not found:
        raise ConfigError("obskit lint needs queries: EXPR arguments or -f FILE (one per line)")
    return found


def _types(path: str | None) -> dict[str, str]:
    if path is None:
        return {}
    try:
        body = json.loads(Path(path).read_text(encoding="utf-8"))
    except ValueError as exc:
        raise ConfigError(
            f"--metadata {path} is not JSON ({exc}); save /api/v1/metadata's answer"
        ) from None
    data = body.get("data", body) if isinstance(body, Mapping) else None
    if not isinstance(data, Mapping):
        raise ConfigError(
            f'--metadata {path} must be /api/v1/metadata\'s answer ({{"data": {{...}}}})'
        )
    return {
        str(name): str(entries[-1].get("type", "")) for name, entries in data.items() if entries
    }


def _lint(args: argparse.Namespace) -> int:
    import obskit
    from obskit import catalog

    from .. import config
    from .lint import lint

    if args.catalog:
        catalog.use(args.catalog)
    url = None if args.offline else (args.prometheus or config.prometheus_url())
    client = obskit.connect(url) if url else None
    types_ = _types(args.metadata)
    results = []
    for text, where in _queries(args):
        options: dict[str, Any] = {"dashboard": args.dashboard or None}
        if args.scrape_interval is not None:
            options["scrape_interval"] = args.scrape_interval
        if client is not None:
            findings = obskit.validate(text, client, dialect=args.dialect, **options).findings
        elif types_:
            findings = tuple(lint(text, types=types_, **options))
        else:
            findings = obskit.validate(text, dialect=args.dialect, **options).findings
        results.append((text, where, list(findings)))
    sys.stdout.write(render(results, args.format))
    return 1 if any(f.severity == "error" for _, _, fs in results for f in fs) else 0


def render(results: Iterable[tuple[str, Mapping[str, Any] | None, Sequence[Any]]], fmt: str) -> str:
    """The findings of each query in ``fmt`` (``text``, ``json``, ``github``).

    >>> from obskit.lint import Finding
    >>> print(render([("rate(x[5m])", None, [Finding("r", "warning", "m")])], "github"), end="")
    ::warning title=obskit lint r::rate(x[5m]): m
    """
    lines = []
    for expr, where, findings in results:
        if fmt == "json":
            lines.append(json.dumps({"expr": expr, "source": dict(where) if where else None,
                                     "findings": [_finding(f) for f in findings]}, sort_keys=True))  # fmt: skip
        elif fmt == "github":
            place = f"file={where['file']},line={where['line']}," if where else ""
            for f in findings:
                kind = {"error": "error", "warning": "warning"}.get(f.severity, "notice")
                message = f"{expr}: {f.message}".replace("%", "%25").replace("\n", "%0A")
                lines.append(f"::{kind} {place}title=obskit lint {f.rule}::{message}")
        else:
            lines.append(("OK" if not findings else f"{len(findings)} finding(s)") + f": {expr}")
            for f in findings:
                lines.append(f"  {f.severity:<7} {f.rule:<24} {f.message}")
                if f.fix:
                    lines.append(f"  {'':<7} {'':<24} fix: {f.fix}")
    return "\n".join(lines) + ("\n" if lines else "")


def _finding(f: Any) -> dict[str, Any]:
    return {"rule": f.rule, "severity": f.severity, "message": f.message, "fix": f.fix}
