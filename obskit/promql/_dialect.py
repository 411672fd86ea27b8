"""Which PromQL a server speaks: the documented differences the offline parser does not know.

The offline parser (promql-parser) reads a PromQL close to Prometheus 3: it rejects
``holt_winters`` (Prometheus 2 has it) and accepts ``double_exponential_smoothing``,
``limitk``, ``limit_ratio``, ``info()``, ``sort_by_label`` and quoted UTF-8 names
``{"x"}`` (Prometheus 2 has none of them; in 3 the functions are experimental, behind
``--enable-feature=promql-experimental-functions``). A dialect says which of these a
server has, so offline findings match what the server will say. With a client, the
server itself decides syntax (:func:`obskit.validate` asks ``/api/v1/format_query``).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

import promql_parser as pp

from ..errors import ConfigError

__all__ = ["DEFAULT", "DIALECTS", "dialect_of", "findings", "for_parser", "restore"]

DIALECTS = ("prometheus-2", "prometheus-3", "victoriametrics")
DEFAULT = "prometheus-2"
#: Functions a dialect lacks -> what it has instead (``None``: nothing).
_MISSING: Mapping[str, Mapping[str, str | None]] = {
    "prometheus-2": {
        "double_exponential_smoothing": "holt_winters",
        "limitk": None,
        "limit_ratio": None,
        "info": None,
        "sort_by_label": None,
        "sort_by_label_desc": None,
    },
    "prometheus-3": {"holt_winters": "double_exponential_smoothing"},
    "victoriametrics": {},
}
#: Prometheus 3 functions that need ``--enable-feature=promql-experimental-functions``.
_EXPERIMENTAL = ("double_exponential_smoothing", "limitk", "limit_ratio", "info",
                 "sort_by_label", "sort_by_label_desc")  # fmt: skip
_HOLT = re.compile(r"\bholt_winters(\s*\()")
_PARSER_HOLT = "double_exponential_smoothing"
_QUOTED_NAME = re.compile(r"""(?:\{|\bby\s*\(|\bwithout\s*\(|,)\s*["'`]""")


def check(dialect: str) -> str:
    """``dialect`` if it is one obskit knows, else a :class:`ConfigError` listing them."""
    if dialect not in DIALECTS:
        raise ConfigError(f"dialect must be one of {', '.join(DIALECTS)}; got {dialect!r}")
    return dialect


def dialect_of(build_info: Mapping[str, Any]) -> str:
    """The dialect of a server from its ``/api/v1/status/buildinfo``.

    VictoriaMetrics answers an empty mapping.

    >>> dialect_of({"version": "2.42.0"}), dialect_of({"version": "3.5.0"}), dialect_of({})
    ('prometheus-2', 'prometheus-3', 'victoriametrics')
    """
    version = str(build_info.get("version") or "")
    if not version:
        return "victoriametrics"
    return "prometheus-3" if version.split(".")[0] not in ("0", "1", "2") else "prometheus-2"


def for_parser(text: str, dialect: str) -> str:
    """``text`` as the offline parser reads it: Prometheus 2's ``holt_winters`` under its new name.

    >>> for_parser("holt_winters(x[10m], 0.5, 0.5)", "prometheus-2")
    'double_exponential_smoothing(x[10m], 0.5, 0.5)'
    """
    return _HOLT.sub(_PARSER_HOLT + r"\1", text) if dialect != "prometheus-3" else text


def restore(text: str, original: str) -> str:
    """Printed text with ``holt_winters`` put back where the original had it."""
    return text.replace(_PARSER_HOLT, "holt_winters") if _HOLT.search(original) else text


def findings(tree: Any, original: str, dialect: str) -> list[tuple[str, str, str]]:
    """``(rule, severity, message)`` for what ``dialect`` lacks or keeps experimental."""
    missing = _MISSING[dialect]
    out: list[tuple[str, str, str]] = []
    for name in _calls(tree):
        if name == _PARSER_HOLT and _HOLT.search(original) and dialect != "prometheus-3":
            continue  # holt_winters as written, read under its new name
        if name in missing:
            instead = missing[name]
            hint = f"; use {instead}()" if instead else ""
            out.append(("unsupported-function", "error",
                        f"{name}() does not exist in {dialect}{hint}"))  # fmt: skip
        elif dialect == "prometheus-3" and name in _EXPERIMENTAL:
            out.append(("experimental-function", "warning",
                        f"{name}() is experimental in Prometheus 3: the server needs "
                        "--enable-feature=promql-experimental-functions"))  # fmt: skip
    if dialect == "prometheus-2" and _QUOTED_NAME.search(_strip_values(original)):
        out.append(("unsupported-syntax", "error",
                    "quoted metric or label names ({\"x\"}, by (\"a.b\")) need Prometheus 3; "
                    "write plain names"))  # fmt: skip
    return list(dict.fromkeys(out))


def _calls(tree: Any) -> list[str]:
    from ._ast import walk

    names = []
    for visit in walk(tree):
        if isinstance(visit.node, pp.Call):
            names.append(visit.node.func.name)
        elif isinstance(visit.node, pp.AggregateExpr):  # limitk, limit_ratio are operators
            names.append(str(visit.node.op))
    return names


_MATCHER = re.compile(r"""([a-zA-Z_]\w*\s*(?:=~|!~|!=|=)\s*)(["'`])(?:\\.|(?!\2).)*\2""")


def _strip_values(text: str) -> str:
    """``text`` without matcher values and call arguments' strings (they may hold anything)."""
    text = _MATCHER.sub(lambda m: m.group(1) + "v", text)
    return re.sub(r""",\s*(["'])(?:\\.|(?!\1).)*\1""", ", s", text)
