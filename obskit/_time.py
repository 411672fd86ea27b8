"""Parse time arguments and durations; format durations the way Prometheus writes them."""

from __future__ import annotations

import math
import numbers
import re
from datetime import UTC, date, datetime, timedelta
from typing import TypeAlias

from . import config
from .errors import ConfigError

__all__ = [
    "TimeLike",
    "check_range",
    "format_duration",
    "nice_step",
    "parse_duration",
    "parse_time",
    "to_unix",
]

TimeLike: TypeAlias = datetime | date | str | int | float
DurationLike: TypeAlias = str | int | float | timedelta

_UNITS = {
    "y": 31_536_000.0,
    "w": 604_800.0,
    "d": 86_400.0,
    "h": 3600.0,
    "m": 60.0,
    "s": 1.0,
    "ms": 0.001,
}
_PART = re.compile(r"(\d+(?:\.\d+)?)(ms|y|w|d|h|m|s)")
_DURATION = re.compile(r"^(?:\d+(?:\.\d+)?(?:ms|y|w|d|h|m|s))+$")
_RELATIVE = re.compile(r"^(?:now)?\s*([+-])\s*(\S+)$")
_NICE_MINUTES = (1, 2, 5, 10, 15, 30, 60, 120, 180, 360, 720, 1440, 2880, 10080, 20160, 43200)
_NICE = (1, 2, 5, 10, 15, 30, *(60 * m for m in _NICE_MINUTES))  # seconds: 1s ... 30d
_DURATION_EXAMPLE = "a positive duration like 30s, 5m, 1h30m or 1d"
_TIME_EXAMPLE = (
    "a datetime, an ISO string like 2026-02-14T18:00:00Z, unix seconds, or now / -6h / now-1h"
)


def parse_duration(value: DurationLike, what: str = "step") -> float:
    """Seconds in a duration: ``"30s"``, ``"5m"``, ``"1h30m"``, ``"1d"``, a number, a timedelta.

    Units are ``ms``, ``s``, ``m``, ``h``, ``d``, ``w``, ``y`` (365 days), as in PromQL.
    Zero, negative and unparsable durations raise :class:`~obskit.ConfigError`.

    >>> parse_duration("1h30m")
    5400.0
    >>> parse_duration(15)
    15.0
    """
    seconds = _duration_seconds(value, what)
    if not math.isfinite(seconds) or seconds <= 0:
        raise ConfigError(f"{what} must be {_DURATION_EXAMPLE}; got {value!r}")
    return seconds


def _duration_seconds(value: DurationLike, what: str) -> float:
    if isinstance(value, timedelta):
        return value.total_seconds()
    if isinstance(value, bool):
        raise ConfigError(f"{what} must be {_DURATION_EXAMPLE}; got {value!r}")
    if isinstance(value, int | float):
        return float(value)
    if isinstance(value, str):
        text = value.strip().lower()
        if _DURATION.match(text):
            return sum(float(n) * _UNITS[u] for n, u in _PART.findall(text))
        try:
            return float(text)
        except ValueError:
            pass
    raise ConfigError(f"{what} must be {_DURATION_EXAMPLE}; got {value!r}")


def format_duration(seconds: float) -> str:
    """A duration the way Prometheus writes it (``5400`` -> ``"1h30m"``), to the millisecond.

    >>> format_duration(5400)
    '1h30m'
    >>> format_duration(0.25)
    '250ms'
    """
    ms = round(float(seconds) * 1000)
    if ms <= 0:
        raise ConfigError(f"a duration must be positive, like 30s or 5m; got {seconds!r} seconds")
    parts = []
    for unit, size in _UNITS.items():
        size_ms = round(size * 1000)
        count, ms = divmod(ms, size_ms)
        if count:
            parts.append(f"{count}{unit}")
    return "".join(parts)


def parse_time(
    value: TimeLike | None, what: str = "time", *, now: datetime | None = None
) -> datetime:
    """An aware UTC datetime from any time argument obskit accepts.

    Accepted: aware datetimes (converted to UTC); **naive datetimes, read as UTC**;
    dates (midnight UTC); ISO 8601 strings (``Z`` or an offset; without one, UTC);
    unix seconds as int, float or numeric string; and relative forms ``"now"``,
    ``"-6h"``, ``"-30m"``, ``"-7d"``, ``"now-1h"``, ``"now+5m"``, resolved against
    ``now`` (default :func:`obskit.config.now`). ``None`` means now.

    >>> from datetime import datetime, UTC
    >>> end = datetime(2026, 2, 14, 18, tzinfo=UTC)
    >>> parse_time("now-1h", now=end).isoformat()
    '2026-02-14T17:00:00+00:00'
    >>> parse_time(1771092000).isoformat()
    '2026-02-14T18:00:00+00:00'
    """
    if _missing(value):
        raise ConfigError(
            f"{what} is {value!r}, a missing time (e.g. the max() of an empty frame); "
            f"pass {_TIME_EXAMPLE}"
        )
    if isinstance(value, datetime):
        return _as_utc(value)
    if isinstance(value, date):
        return datetime(value.year, value.month, value.day, tzinfo=UTC)
    if isinstance(value, bool):
        raise ConfigError(f"{what} must be {_TIME_EXAMPLE}; got {value!r}")
    if isinstance(value, numbers.Real):  # numpy's integers and floats too
        return _from_unix(float(value), what)
    if _is_datetime64(value):  # e.g. frame["timestamp"].to_numpy(): naive UTC times
        import pandas as pd

        return _as_utc(pd.Timestamp(value).to_pydatetime())
    if value is None or isinstance(value, str):
        return _parse_text(value or "now", what, now)
    raise ConfigError(f"{what} must be {_TIME_EXAMPLE}; got {value!r}")


def _missing(value: object) -> bool:
    """NaT (pandas' or numpy's) and NaN: what an empty frame's min() or max() gives."""
    if isinstance(value, float) and math.isnan(value):
        return True
    return (type(value).__name__ == "NaTType" or _is_datetime64(value)) and str(value) == "NaT"


def _is_datetime64(value: object) -> bool:
    """numpy's datetime64, recognised without importing numpy."""
    return type(value).__name__ == "datetime64"


def _as_utc(value: datetime) -> datetime:
    if value.tzinfo is None:
        return value.replace(tzinfo=UTC)
    return value.astimezone(UTC)


def _from_unix(seconds: float, what: str) -> datetime:
    try:
        return datetime.fromtimestamp(seconds, UTC)
    except (OverflowError, OSError, ValueError):
        raise ConfigError(f"{what} must be {_TIME_EXAMPLE}; got {seconds!r}") from None


def _parse_text(text: str, what: str, now: datetime | None) -> datetime:
    lowered = text.strip().lower()
    if lowered == "now":
        return _as_utc(now or config.now())
    match = _RELATIVE.match(lowered)
    if match:
        sign = -1.0 if match.group(1) == "-" else 1.0
        offset = _duration_seconds(match.group(2), what)
        return _as_utc(now or config.now()) + timedelta(seconds=sign * offset)
    try:
        return _from_unix(float(text), what)
    except ValueError:
        pass
    try:
        return config.parse_instant(text, what)
    except ConfigError:
        raise ConfigError(f"{what} must be {_TIME_EXAMPLE}; got {text!r}") from None


def to_unix(value: datetime) -> float:
    """Unix seconds of an aware datetime, as Prometheus' ``time``/``start``/``end`` take them.

    >>> from datetime import datetime, UTC
    >>> to_unix(datetime(2026, 2, 14, 18, tzinfo=UTC))
    1771092000.0
    """
    return _as_utc(value).timestamp()


def check_range(start: datetime, end: datetime) -> None:
    """Raise :class:`~obskit.ConfigError` unless ``start`` is not after ``end``.

    >>> from datetime import datetime, UTC
    >>> check_range(datetime(2026, 2, 14, tzinfo=UTC), datetime(2026, 2, 15, tzinfo=UTC))
    """
    if start > end:
        raise ConfigError(
            f"start {start.isoformat()} is after end {end.isoformat()}; "
            "pass start before end, e.g. start='-6h', end='now'"
        )


def nice_step(span_seconds: float, target_points: int) -> float:
    """A round step (1s, 15s, 1m, 5m, 1h, ...) giving about ``target_points`` points over a span.

    >>> nice_step(7 * 86400, 1000)  # 604.8 s rounds to 10 minutes
    600.0
    """
    raw = max(span_seconds, 1.0) / max(int(target_points), 1)
    if raw >= _NICE[-1]:
        return float(math.ceil(raw / 86400) * 86400)
    return float(min(_NICE, key=lambda nice: abs(math.log(nice / raw))))
