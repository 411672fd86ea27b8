"""Grafana's panel interval, ``$__`` macros and dashboard variables, as it expands them."""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TypeAlias

from .._time import format_duration, parse_duration
from ..errors import ConfigError

__all__ = [
    "ALL",
    "BUILTINS",
    "FIXED_WINDOW_FUNCS",
    "INSTANTS",
    "OFFLINE_END",
    "PLACEHOLDER_PREFIX",
    "VARIABLE",
    "WINDOW_MACROS",
    "Ref",
    "VariableValue",
    "builtin_values",
    "escape_body",
    "expand",
    "fixed_windows",
    "format_instant",
    "format_variable",
    "grafana_interval",
    "placeholder",
    "rate_interval",
    "refs",
    "regex_escape",
    "string_spans",
    "substitute",
]

VariableValue: TypeAlias = str | Sequence[str]

ALL = "$__all"
# Grafana's variable syntaxes: $var, [[var]] / [[var:fmt]], ${var} / ${var:fmt}.
VARIABLE = re.compile(
    r"\$(?P<plain>\w+)|\[\[(?P<old>\w+?)(?::(?P<oldfmt>\w+))?\]\]"
    r"|\$\{(?P<braced>\w+)(?:\.[^:}]+)?(?::(?P<fmt>[^}]+))?\}"
)
_REGEX_META = re.compile(r"([\\.+*?()|\[\]{}^$])")
_CONTROL = {"\n": "\\n", "\r": "\\r", "\t": "\\t", "\a": "\\a", "\b": "\\b", "\f": "\\f"}
_SAFE_RESOLUTION = 11_000  # Grafana never asks for more points than Prometheus allows
# Grafana's roundInterval (rangeutil.ts): a raw interval below the bound -> the rounded one.
_ROUND_TABLE_MS = (
    (10, 1), (15, 10), (35, 20), (75, 50), (150, 100), (350, 200), (750, 500),
    (1_500, 1_000), (3_500, 2_000), (7_500, 5_000), (12_500, 10_000), (17_500, 15_000),
    (25_000, 20_000), (45_000, 30_000), (90_000, 60_000), (210_000, 120_000),
    (450_000, 300_000), (750_000, 600_000), (1_050_000, 900_000), (1_500_000, 1_200_000),
    (2_700_000, 1_800_000), (5_400_000, 3_600_000), (9_000_000, 7_200_000),
    (16_200_000, 10_800_000), (32_400_000, 21_600_000), (86_400_000, 43_200_000),
    (604_800_000, 86_400_000), (1_814_400_000, 604_800_000), (3_628_800_000, 2_592_000_000),
)  # fmt: skip
_YEAR_MS = 31_536_000_000
#: Where the range ends for offline work ($__from/$__to): a fixed instant, never the clock.
OFFLINE_END = datetime(2000, 1, 1, tzinfo=UTC)


def escape_body(value: str, quote_char: str = '"') -> str:
    """``value`` escaped for the inside of a PromQL string literal quoted with ``quote_char``."""
    out = []
    for char in value:
        code = ord(char)
        if char in ("\\", quote_char):
            out.append("\\" + char)
        elif char in _CONTROL:
            out.append(_CONTROL[char])
        elif code < 0x20 or code == 0x7F:
            out.append(f"\\x{code:02x}")
        elif not char.isprintable():
            out.append(f"\\u{code:04x}" if code <= 0xFFFF else f"\\U{code:08x}")
        else:
            out.append(char)
    return "".join(out)


def regex_escape(value: str) -> str:
    """``value`` with RE2 metacharacters escaped, to match it literally in ``=~``.

    >>> regex_escape("/var/lib/postgresql (main)")
    '/var/lib/postgresql \\\\(main\\\\)'
    """
    return _REGEX_META.sub(r"\\\1", value)


def grafana_interval(
    range_seconds: float, max_data_points: int = 1000, min_interval: float | str = 30
) -> float:
    """``$__interval`` in seconds as Grafana computes it for a panel.

    The raw interval ``range / max_data_points`` is rounded with Grafana's
    ``roundInterval`` table (e.g. 21.6 s -> 20 s, 604.8 s -> 10 min), then raised to
    ``min_interval`` (the data source's scrape interval) and to the 11,000-points limit.

    >>> grafana_interval(6 * 3600, 1000, min_interval=15)  # 21.6 s rounds to 20 s
    20.0
    >>> grafana_interval(6 * 3600, 1000, min_interval=30)
    30.0
    >>> grafana_interval(7 * 86400, 1000, min_interval=30)
    600.0
    """
    if range_seconds <= 0 or max_data_points < 1:
        raise ConfigError(
            "range_seconds and max_data_points must be positive, like 21600 and 1000; "
            f"got {range_seconds!r} and {max_data_points!r}"
        )
    low_ms = parse_duration(min_interval, "min_interval") * 1000
    range_ms = range_seconds * 1000
    interval_ms = max(_round_ms(range_ms / max_data_points), low_ms)
    return max(interval_ms, _round_ms(range_ms / _SAFE_RESOLUTION)) / 1000


def _round_ms(interval_ms: float) -> float:
    for bound, rounded in _ROUND_TABLE_MS:
        if interval_ms < bound:
            return float(rounded)
    return float(_YEAR_MS)


def rate_interval(interval: float | str, scrape_interval: float | str = 30) -> float:
    """``$__rate_interval`` in seconds: ``max($__interval + scrape, 4 * scrape)``.

    >>> rate_interval(20, 30)
    120.0
    >>> rate_interval("10m", 30)
    630.0
    """
    scrape = parse_duration(scrape_interval, "scrape_interval")
    return max(parse_duration(interval, "interval") + scrape, 4 * scrape)


def builtin_values(
    *,
    interval: float | str | None = None,
    scrape_interval: float | str = 30,
    range_seconds: float = 21600,
    max_data_points: int = 1000,
    end: datetime | None = None,
) -> dict[str, str]:
    """The text Grafana puts in place of each ``$__`` macro for these panel settings.

    ``$__from``/``$__to`` are the range's ends in epoch milliseconds, the range ending
    at ``end`` (default :data:`OFFLINE_END`, a fixed instant: nothing here reads the
    clock); their ``:date`` formats are applied by :func:`expand`.
    """
    if interval is None:
        seconds = grafana_interval(range_seconds, max_data_points, scrape_interval)
    else:
        seconds = parse_duration(interval, "interval")
    rate_s = rate_interval(seconds, scrape_interval)
    range_s = round(range_seconds)
    to_ms = round((end or OFFLINE_END).timestamp() * 1000)
    return {
        "__interval": format_duration(seconds),
        "__interval_ms": str(round(seconds * 1000)),
        "__rate_interval": format_duration(rate_s),
        "__rate_interval_ms": str(round(rate_s * 1000)),
        "__range": f"{range_s}s",
        "__range_s": str(range_s),
        "__range_ms": str(round(range_seconds * 1000)),
        "__from": str(to_ms - round(range_seconds * 1000)),
        "__to": str(to_ms),
    }


#: The builtins that are instants; ``${__to:date:seconds}`` etc. format them.
INSTANTS = ("__from", "__to")


def format_instant(ms_text: str, fmt: str | None, name: str = "__to") -> str:
    """``$__from``/``$__to`` (epoch ms) in one of Grafana's formats.

    ``None`` keeps milliseconds; ``date:seconds`` gives epoch seconds (what PromQL's
    ``@`` wants); ``date`` and ``date:iso`` give ISO 8601 in UTC, as Grafana does.

    >>> format_instant("1771092000000", "date:seconds")
    '1771092000'
    >>> format_instant("1771092000000", "date:iso")
    '2026-02-14T18:00:00.000Z'
    """
    ms = int(ms_text)
    if fmt is None:
        return ms_text
    if fmt == "date:seconds":
        return str(ms // 1000)
    if fmt in ("date", "date:iso"):
        moment = datetime.fromtimestamp(ms / 1000, UTC)
        return moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{ms % 1000:03d}Z"
    raise ConfigError(
        f"${{{name}:{fmt}}}: obskit expands ${{{name}}}, ${{{name}:date:seconds}}, "
        f"${{{name}:date}} and ${{{name}:date:iso}}; use one of those (custom date "
        "formats are Grafana-only)"
    )


BUILTINS = tuple(builtin_values())


@dataclass(frozen=True)
class Ref:
    """One variable reference found in a query, with where it stands."""

    name: str
    fmt: str | None
    start: int
    end: int
    quote: str | None  # the quote character of the string literal it sits in
    in_brackets: bool

    def text(self, expr: str) -> str:
        return expr[self.start : self.end]


def refs(expr: str) -> list[Ref]:
    """Every variable or macro reference in ``expr`` (``$1`` regex groups excluded)."""
    quotes = string_spans(expr)
    brackets = _bracket_spans(expr, quotes)
    found = []
    for match in VARIABLE.finditer(expr):
        name = match.group("plain") or match.group("old") or match.group("braced")
        if name.isdigit():
            continue
        pos = match.start()
        quote_char = next((q for s, e, q in quotes if s < pos < e), None)
        in_brackets = any(s < pos < e for s, e in brackets)
        fmt = match.group("oldfmt") or match.group("fmt")
        found.append(Ref(name, fmt, pos, match.end(), quote_char, in_brackets))
    return found


def string_spans(expr: str) -> list[tuple[int, int, str]]:
    """``(start, end, quote)`` of each string literal; ``end`` is the closing quote's index."""
    spans, i = [], 0
    while i < len(expr):
        char = expr[i]
        if char in "\"'`":
            j = i + 1
            while j < len(expr) and expr[j] != char:
                j += 2 if expr[j] == "\\" and char != "`" else 1
            spans.append((i, j, char))
            i = j
        i += 1
    return spans


def _bracket_spans(expr: str, quotes: list[tuple[int, int, str]]) -> list[tuple[int, int]]:
    skip = {p for s, e, _ in quotes for p in range(s, e + 1)}
    spans, start = [], None
    for i, char in enumerate(expr):
        if i in skip:
            continue
        if char == "[":
            start = i
        elif char == "]" and start is not None:
            spans.append((start, i))
            start = None
    return spans


def substitute(expr: str, resolve: Callable[[Ref], str | None]) -> str:
    """``expr`` with each reference replaced by ``resolve(ref)`` (``None`` keeps it)."""
    out, last = [], 0
    for ref in refs(expr):
        value = resolve(ref)
        if value is None:
            continue
        out += [expr[last : ref.start], value]
        last = ref.end
    out.append(expr[last:])
    return "".join(out)


def format_variable(
    value: VariableValue, fmt: str | None = None, quote: str | None = None, all_value: str = ".*"
) -> str:
    """The text a variable's value becomes where it stands, as Grafana formats it.

    A list (multi-value) becomes a regex alternation ``(a|b)`` of regex-escaped values
    inside a string literal and ``a,b`` elsewhere; ``"$__all"`` (All) becomes
    ``all_value``; inside a string literal the result is escaped for that literal.
    """
    if isinstance(value, int | float):
        value = f"{value:g}"
    values = [value] if isinstance(value, str) else [str(v) for v in value]
    if ALL in values or values == ["All"]:
        return all_value
    if fmt == "raw":
        return ",".join(values)
    if fmt not in (None, "regex", "pipe", "csv"):
        raise ConfigError(f"variable format must be raw, regex, pipe or csv; got {fmt!r}")
    multi = not isinstance(value, str)
    if fmt == "csv" or (fmt is None and multi and not quote):
        text = ",".join(values)
    elif fmt == "pipe":
        text = "|".join(values)
    elif fmt == "regex" or multi:
        escaped = [regex_escape(v) for v in values]
        text = escaped[0] if len(escaped) == 1 else "(" + "|".join(escaped) + ")"
    else:
        text = values[0]
    return escape_body(text, quote) if quote in ('"', "'") else text


def expand(
    expr: str,
    *,
    interval: float | str | None = None,
    scrape_interval: float | str = 30,
    range_seconds: float = 21600,
    max_data_points: int = 1000,
    variables: Mapping[str, VariableValue] | None = None,
    all_value: str = ".*",
    end: datetime | None = None,
) -> str:
    """The query Grafana would send: ``$__`` macros and dashboard variables replaced.

    Parameters
    ----------
    expr : str
        A query with ``$__interval``, ``$__interval_ms``, ``$__rate_interval``,
        ``$__range``, ``$__range_s``, ``$__range_ms``, ``$__from``, ``$__to`` and ``$var``/``${var}``/``[[var]]``.
    interval : float or str, optional
        The panel's ``$__interval``; by default :func:`grafana_interval` of
        ``range_seconds`` / ``max_data_points`` with the scrape interval as minimum.
    scrape_interval : float or str
        The data source's scrape interval (Grafana's "Scrape interval" setting).
    range_seconds : float
        The dashboard time range in seconds.
    max_data_points : int
        The panel's max data points.
    variables : mapping, optional
        Variable values: a string, a list for multi-value variables, ``"$__all"`` for All.
    all_value : str
        What All becomes (Grafana's "Custom all value", e.g. ``.*`` or ``.+``).
    end : datetime, optional
        Where the dashboard range ends, for ``$__to`` and ``$__from`` (also
        ``${__to:date:seconds}``, ``${__to:date:iso}``); default :func:`obskit.now`.

    Returns
    -------
    str
        The expanded query. Variables that are not given are left in place, as Grafana
        leaves them.

    >>> expand('rate(x_total{p=~"$p"}[$__rate_interval])', variables={"p": ["a", "b"]})
    'rate(x_total{p=~"(a|b)"}[2m])'
    >>> expand("increase(x_total[$__range])", range_seconds=86400)
    'increase(x_total[86400s])'
    """
    if end is None and any(ref.name in INSTANTS for ref in refs(expr)):
        from ..config import now  # only this convenience reads the clock, and only for $__to

        end = now()
    builtins = builtin_values(
        interval=interval,
        scrape_interval=scrape_interval,
        range_seconds=range_seconds,
        max_data_points=max_data_points,
        end=end,
    )
    given = dict(variables or {})

    def resolve(ref: Ref) -> str | None:
        if ref.name in INSTANTS:
            return format_instant(builtins[ref.name], ref.fmt, ref.name)
        if ref.name in builtins:
            return builtins[ref.name]
        if ref.name in given:
            return format_variable(given[ref.name], ref.fmt, ref.quote, all_value)
        return None

    return substitute(expr, resolve)


def placeholder(ref: Ref, expr: str) -> str:
    """The stand-in for an undeclared variable while parsing offline: whatever fits there.

    Inside a string the reference stays as it is; in ``[...]`` or after ``offset`` it
    becomes a duration; as the first argument before a comma a number; else a name.
    """
    if ref.quote:
        return ref.text(expr)
    before = expr[: ref.start].rstrip()
    after = expr[ref.end :].lstrip()
    if ref.in_brackets or before.endswith("offset"):
        return "5m"
    if before.endswith(("(", ",")) and after.startswith(","):
        return "1"
    return PLACEHOLDER_PREFIX + ref.name


PLACEHOLDER_PREFIX = "__var_"


#: Functions whose window a dashboard panel should leave to Grafana (``$__rate_interval``):
#: ``rate()`` only, as lint's ``hardcoded-window`` (``irate``'s window is only a lookback and
#: ``increase(x[1h])`` a chosen period, which ``$__rate_interval`` would change).
FIXED_WINDOW_FUNCS = ("rate",)
#: Windows that are Grafana's own: they follow the zoom level and the scrape interval.
WINDOW_MACROS = ("$__rate_interval", "$__interval", "$__range")
_WINDOWED = re.compile(r"\b(" + "|".join(FIXED_WINDOW_FUNCS) + r")\s*\(")


def fixed_windows(expr: str) -> list[tuple[int, int]]:
    """``(start, end)`` of every fixed window of ``rate()`` in ``expr`` (not macros).

    The text-level twin of lint's ``hardcoded-window`` rule, for rewriting a query
    without reprinting it: subquery ranges (``[1h:5m]``), strings and macros are skipped.

    >>> q = 'rate(x{a="[5m]"}[5m]) + increase(y[$__range])'
    >>> [q[s:e] for s, e in fixed_windows(q)]
    ['5m']
    """
    quoted = {i for s, e, _ in string_spans(expr) for i in range(s, e + 1)}
    spans = []
    for match in _WINDOWED.finditer(expr):
        span = _window_span(expr, match.end(), quoted)
        if span is not None and expr[span[0] : span[1]].strip() not in WINDOW_MACROS:
            spans.append(span)
    return spans


def _window_span(expr: str, start: int, quoted: set[int]) -> tuple[int, int] | None:
    depth = 1
    for i in range(start, len(expr)):
        if i in quoted:
            continue
        depth += {"(": 1, ")": -1}.get(expr[i], 0)
        if depth == 0:
            return None
        if expr[i] == "[" and depth == 1:
            end = expr.find("]", i)
            return None if end < 0 or ":" in expr[i:end] else (i + 1, end)
    return None
