"""The demo generator: deterministic, realistic shapes, scripted incidents known as data."""

from datetime import UTC, datetime, timedelta

import numpy as np
import pytest

from obskit.demo import DemoSpec, generate, incidents
from obskit.demo.generate import digest, render_window, windows
from obskit.errors import ConfigError

SMALL = DemoSpec(days=5, step=60)


def test_same_arguments_give_byte_identical_output():
    assert digest(generate(SMALL)) == digest(generate(SMALL))


def test_another_seed_gives_different_data():
    other = DemoSpec(days=5, step=60, seed=7)
    assert digest(generate(SMALL)) != digest(generate(other))


def test_spec_aligns_end_to_the_step_and_covers_the_span():
    spec = DemoSpec(end=datetime(2026, 2, 14, 18, 0, 17, tzinfo=UTC), days=1, step=30)
    ts = spec.timestamps()
    assert spec.end == datetime(2026, 2, 14, 18, 0, 0, tzinfo=UTC)
    assert ts[-1] == spec.end.timestamp() and ts[0] == spec.start.timestamp()
    assert np.all(np.diff(ts) == 30)


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"step": 0}, "step must be"),
        ({"days": 0}, "days must be"),
        ({"end": datetime(2026, 2, 14)}, "timezone-aware"),
    ],
)
def test_bad_spec_is_refused(kwargs, message):
    with pytest.raises(ConfigError, match=message):
        DemoSpec(**kwargs)


def test_windows_follow_two_hour_blocks_and_cover_every_scrape():
    spec = DemoSpec(days=1, step=30)
    spans = windows(spec)
    assert spans[0][0] == 0 and spans[-1][1] == len(spec.timestamps())
    ts = spec.timestamps()
    for lo, hi in spans:
        assert len({int(t) // 7200 for t in ts[lo:hi]}) == 1


def test_openmetrics_text_is_grouped_by_family_and_ends_with_eof():
    data = generate(DemoSpec(days=1, step=60))
    text = render_window(data, *windows(data.spec)[3])
    assert text.endswith("# EOF\n")
    types = [line.split()[2] for line in text.splitlines() if line.startswith("# TYPE")]
    assert len(types) == len(set(types)), "a family's lines must sit together under one TYPE line"
    assert "# TYPE voicebot_calls counter" in text and "voicebot_calls_total{" in text


def test_counters_are_monotonic_except_one_restart():
    data = generate(DemoSpec(days=7, step=60))
    restart = incidents(data.spec).set_index("name").loc["tts_cache_cold", "start"].timestamp()
    ts = data.spec.timestamps()
    for s in data.series:
        if s.type not in ("counter", "histogram") or s.family.startswith("voicebot_build"):
            continue
        drops = ts[1:][np.diff(s.values) < 0]
        if s.labels["job"] == "voicebot" and s.values[-1] > 0:
            assert set(drops.tolist()) <= {restart}, s.name
        else:
            assert drops.size == 0, s.name
    calls = next(s for s in data.series if s.name == "voicebot_calls_total")
    assert np.any(np.diff(calls.values) < 0), "the deploy restarts the bot: one counter reset"


def test_call_volume_follows_daily_and_weekly_cycle():
    data = generate(DemoSpec(days=7, step=60))
    rate = data.truth["call_rate"]
    hours, weekday = data.spec.local_clock()
    weekday_peak = rate[(weekday < 5) & (hours > 10) & (hours < 11)].mean()
    night = rate[(hours > 2) & (hours < 4)].mean()
    sunday_peak = rate[(weekday == 6) & (hours > 10) & (hours < 11)].mean()
    assert weekday_peak > 10 * night
    assert weekday_peak > 1.5 * sunday_peak


def test_incidents_are_data_inside_the_span():
    spec = DemoSpec()
    frame = incidents(spec)
    assert frame["name"].tolist() == [
        "store_api_outage",
        "tts_cache_cold",
        "llm_slowdown",
        "backup_failed",
    ]
    assert (frame["start"] >= spec.start).all() and (frame["end"] <= spec.end).all()
    assert (frame["end"] > frame["start"]).all()
    short = incidents(DemoSpec(days=1.5))
    assert "store_api_outage" not in short["name"].tolist(), (
        "incidents outside the span are left out"
    )


def test_incidents_follow_the_end_time():
    later = DemoSpec(end=DemoSpec().end + timedelta(days=7))
    shift = incidents(later)["start"] - incidents(DemoSpec())["start"]
    assert (shift == timedelta(days=7)).all()
