"""obskit._time: time arguments, durations, Prometheus duration strings, nice steps."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta, timezone

import numpy as np
import pandas as pd
import pytest

from obskit import _time
from obskit.errors import ConfigError

NOW = datetime(2026, 2, 14, 18, tzinfo=UTC)


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (datetime(2026, 2, 14, 12, tzinfo=UTC), datetime(2026, 2, 14, 12, tzinfo=UTC)),
        # naive datetimes are read as UTC
        (datetime(2026, 2, 14, 12), datetime(2026, 2, 14, 12, tzinfo=UTC)),
        # aware datetimes in another zone are converted
        (
            datetime(2026, 2, 14, 14, tzinfo=timezone(timedelta(hours=2))),
            datetime(2026, 2, 14, 12, tzinfo=UTC),
        ),
        (date(2026, 2, 14), datetime(2026, 2, 14, tzinfo=UTC)),
        ("2026-02-14T12:00:00Z", datetime(2026, 2, 14, 12, tzinfo=UTC)),
        ("2026-02-14T13:00:00+01:00", datetime(2026, 2, 14, 12, tzinfo=UTC)),
        ("2026-02-14 12:00", datetime(2026, 2, 14, 12, tzinfo=UTC)),
        (1771070400, datetime(2026, 2, 14, 12, tzinfo=UTC)),
        (1771070400.5, datetime(2026, 2, 14, 12, 0, 0, 500000, tzinfo=UTC)),
        ("1771070400", datetime(2026, 2, 14, 12, tzinfo=UTC)),
        ("now", NOW),
        (None, NOW),
        (" NOW ", NOW),
        ("-6h", NOW - timedelta(hours=6)),
        ("-30m", NOW - timedelta(minutes=30)),
        ("-7d", NOW - timedelta(days=7)),
        ("now-1h", NOW - timedelta(hours=1)),
        ("now - 1h30m", NOW - timedelta(hours=1, minutes=30)),
        ("now+5m", NOW + timedelta(minutes=5)),
    ],
)
def test_parse_time_accepts_every_documented_form(value, expected):
    parsed = _time.parse_time(value, now=NOW)
    assert parsed == expected
    assert parsed.tzinfo is UTC


def test_relative_times_default_to_config_now(monkeypatch):
    monkeypatch.setenv("OBSKIT_NOW", "2026-02-14T18:00:00Z")
    assert _time.parse_time("-1h") == NOW - timedelta(hours=1)
    assert _time.parse_time("now") == NOW


@pytest.mark.parametrize(
    "value", ["yesterday", "-6 hours", "now-", "2026-13-01", True, [1], "now*2"]
)
def test_bad_times_raise_config_error_with_an_example(value):
    with pytest.raises(ConfigError, match="2026-02-14T18:00:00Z") as info:
        _time.parse_time(value, "start", now=NOW)
    assert str(info.value).startswith("start must be")


@pytest.mark.parametrize(
    ("value", "seconds"),
    [
        ("30s", 30.0),
        ("5m", 300.0),
        ("1h30m", 5400.0),
        ("1d", 86400.0),
        ("1w", 604800.0),
        ("250ms", 0.25),
        ("1.5m", 90.0),
        ("15", 15.0),
        (15, 15.0),
        (0.5, 0.5),
        (timedelta(minutes=2), 120.0),
    ],
)
def test_parse_duration(value, seconds):
    assert _time.parse_duration(value) == seconds


@pytest.mark.parametrize("value", [0, "0s", -5, "-5m", "5 minutes", "1x", "", "m", True, None])
def test_bad_durations_raise_with_a_valid_example(value):
    with pytest.raises(ConfigError, match=r"step must be a positive duration like 30s, 5m"):
        _time.parse_duration(value, "step")


@pytest.mark.parametrize(
    ("seconds", "text"),
    [
        (30, "30s"),
        (300, "5m"),
        (5400, "1h30m"),
        (86400, "1d"),
        (7 * 86400 + 3600, "1w1h"),
        (0.25, "250ms"),
        (61.5, "1m1s500ms"),
    ],
)
def test_format_duration_round_trips(seconds, text):
    assert _time.format_duration(seconds) == text
    assert _time.parse_duration(text) == pytest.approx(seconds)


def test_format_duration_refuses_zero():
    with pytest.raises(ConfigError):
        _time.format_duration(0)


def test_start_after_end_is_refused():
    with pytest.raises(ConfigError, match="start 2026-02-14T18:00:00\\+00:00 is after end"):
        _time.check_range(NOW, NOW - timedelta(hours=1))
    _time.check_range(NOW, NOW)  # an empty range is allowed: one point


@pytest.mark.parametrize(
    ("span", "target", "step"),
    [
        (7 * 86400, 1000, 600.0),  # 604.8 s -> 10m
        (86400, 1000, 120.0),  # 86.4 s -> 2m (nearer than 1m on a log scale)
        (3600, 1000, 5.0),  # 3.6 s -> 5s
        (60, 1000, 1.0),  # never below 1s
        (365 * 86400, 10, 37 * 86400.0),  # 36.5 days: beyond 30d, whole days
    ],
)
def test_nice_step(span, target, step):
    assert _time.nice_step(span, target) == step


def test_to_unix():
    assert _time.to_unix(NOW) == 1771092000.0
    assert _time.to_unix(datetime(2026, 2, 14, 18)) == 1771092000.0


@pytest.mark.parametrize("missing", [pd.NaT, np.datetime64("NaT"), float("nan"), np.float64("nan")])
def test_a_missing_time_is_one_clear_error(missing) -> None:
    """What max() of an empty frame gives: refused by name, not passed on as a time."""
    with pytest.raises(ConfigError, match=r"end is .*NaT|end is .*nan") as error:
        _time.parse_time(missing, "end")
    assert "a missing time" in str(error.value) and "ISO string" in str(error.value)


def test_numpy_times_from_a_frame_are_times() -> None:
    end = datetime(2026, 2, 14, 18, tzinfo=UTC)
    assert _time.parse_time(np.int64(1771092000)) == end
    assert _time.parse_time(np.float64(1771092000.0)) == end
    assert _time.parse_time(np.datetime64("2026-02-14T18:00")) == end  # numpy's are UTC, naive
    frame = pd.DataFrame({"timestamp": pd.to_datetime(["2026-02-14T18:00Z"])})
    assert _time.parse_time(frame["timestamp"].dt.tz_convert(None).to_numpy()[-1]) == end
