"""Dashboard variables as Grafana hands them to queries: every kind, All, multi, formats."""

from __future__ import annotations

import json
import urllib.parse
from collections.abc import Mapping
from typing import Any

from .._time import format_duration, parse_duration
from ..errors import ConfigError
from ..promql._macros import ALL, Ref, grafana_interval, regex_escape, substitute

__all__ = ["FORMATS", "apply_formats", "variable_texts", "variable_values"]

#: ``${var:FORMAT}`` forms obskit expands here; raw/regex/pipe/csv are the query expander's.
FORMATS = (
    "distributed", "doublequote", "glob", "json", "lucene", "percentencode", "queryparam",
    "singlequote", "sqlstring", "text",
)  # fmt: skip
_AUTO = "$__auto_interval"


def variable_values(data: Mapping[str, Any], range_seconds: float = 21600) -> dict[str, Any]:
    """Each variable's default value as queries receive it.

    Query, custom, textbox, constant, interval and datasource variables: the ``current``
    value (constant: its ``query``); a list for several selected values; All becomes
    its ``allValue``, else every option (Grafana's ``(a|b|c)``), else ``.*`` when the
    export has no options; an ``auto`` interval is computed for ``range_seconds``.
    Ad hoc filters are not variables of the query text and are left out.

    >>> variable_values({"templating": {"list": [{"name": "job", "type": "custom",
    ...     "current": {"value": ["a", "b"]}}]}})
    {'job': ['a', 'b']}
    """
    values: dict[str, Any] = {}
    for var in _variables(data):
        kind, name = var.get("type"), str(var["name"])
        if kind == "adhoc":
            continue
        chosen = _chosen(var)
        if kind == "constant":
            values[name] = str(var.get("query") or (chosen[0] if chosen else ""))
            continue
        if kind == "interval" and chosen and chosen[0].startswith(_AUTO):
            values[name] = _auto_interval(var, range_seconds)
        elif not chosen and kind == "textbox":
            values[name] = str(var.get("query") or "")
        elif not chosen or ALL in chosen or (chosen == ["All"] and var.get("includeAll")):
            values[name] = _all_value(var)
        else:
            values[name] = chosen if len(chosen) > 1 else chosen[0]
    return values


def variable_texts(data: Mapping[str, Any]) -> dict[str, str]:
    """Each variable's displayed text (``${var:text}``), several joined with `` + ``."""
    texts = {}
    for var in _variables(data):
        text = (var.get("current") or {}).get("text")
        items = [text] if isinstance(text, str) else [str(t) for t in text or []]
        texts[str(var["name"])] = " + ".join(items)
    return texts


def _variables(data: Mapping[str, Any]) -> list[dict[str, Any]]:
    found = (data.get("templating") or {}).get("list") or []
    return [v for v in found if isinstance(v, dict) and v.get("name")]


def _chosen(var: Mapping[str, Any]) -> list[str]:
    current = (var.get("current") or {}).get("value")
    if current is None:
        return []
    return [str(current)] if isinstance(current, str | int | float) else [str(v) for v in current]


def _all_value(var: Mapping[str, Any]) -> Any:
    if var.get("allValue"):
        return str(var["allValue"])
    options = [
        str(o.get("value"))
        for o in var.get("options") or []
        if isinstance(o, dict) and o.get("value") not in (None, ALL)
    ]
    if var.get("type") == "custom" and not options:
        options = [v.strip() for v in str(var.get("query") or "").split(",") if v.strip()]
    if not options:
        return ".*"
    return options if len(options) > 1 else options[0]


def _auto_interval(var: Mapping[str, Any], range_seconds: float) -> str:
    count = int(var.get("auto_count") or 30)
    low = parse_duration(str(var.get("auto_min") or "10s"), "auto_min")
    return format_duration(grafana_interval(range_seconds, count, low))


def apply_formats(expr: str, values: Mapping[str, Any], texts: Mapping[str, str]) -> str:
    """``expr`` with the ``${var:FORMAT}`` forms of :data:`FORMATS` expanded as Grafana does.

    >>> apply_formats('x{a=~"${v:glob}"}', {"v": ["p", "q"]}, {})
    'x{a=~"{p,q}"}'
    """

    def resolve(ref: Ref) -> str | None:
        if ref.fmt not in FORMATS or ref.name not in values:
            return None
        if ref.fmt == "text":
            return texts.get(ref.name, "")
        value = values[ref.name]
        return _format(ref.name, [value] if isinstance(value, str) else list(value), ref.fmt)

    return substitute(expr, resolve)


def _format(name: str, items: list[str], fmt: str) -> str:
    quoted = {
        "doublequote": lambda v: '"' + v.replace('"', '\\"') + '"',
        "singlequote": lambda v: "'" + v.replace("'", "\\'") + "'",
        "sqlstring": lambda v: "'" + v.replace("'", "''") + "'",
    }
    if fmt in quoted:
        return ",".join(quoted[fmt](v) for v in items)
    if fmt == "json":
        return json.dumps(items if len(items) > 1 else items[0])
    if fmt == "glob":
        return items[0] if len(items) == 1 else "{" + ",".join(items) + "}"
    if fmt == "lucene":
        escaped = ['"' + regex_escape(v) + '"' for v in items]
        return escaped[0] if len(items) == 1 else "(" + " OR ".join(escaped) + ")"
    if fmt == "percentencode":
        return urllib.parse.quote(",".join(items) if len(items) > 1 else items[0], safe="")
    if fmt == "queryparam":
        return "&".join(f"var-{name}={urllib.parse.quote(v, safe='')}" for v in items)
    if fmt == "distributed":
        return ",".join([items[0], *(f"{name}={v}" for v in items[1:])])
    raise ConfigError(f"${{{name}:{fmt}}}: the format must be one of {', '.join(FORMATS)}")
