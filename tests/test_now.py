"""obskit.now(): pinned for the demo, the wall clock elsewhere."""

import json
import os
from datetime import UTC, datetime, timedelta

import pytest

from obskit import config
from obskit.errors import ConfigError


def test_obskit_now_variable_pins_the_instant():
    assert config.now({"OBSKIT_NOW": "2026-02-14T18:00:00Z"}) == datetime(
        2026, 2, 14, 18, tzinfo=UTC
    )


def test_without_demo_or_variable_it_is_the_wall_clock(tmp_path):
    got = config.now({"OBSKIT_CACHE_DIR": str(tmp_path)})
    assert abs(got - datetime.now(UTC)) < timedelta(seconds=5)


def _state(tmp_path, **extra):
    path = tmp_path / "demo" / "state.json"
    path.parent.mkdir(parents=True)
    state = {
        "pid": os.getpid(),
        "url": "http://127.0.0.1:9999",
        "end": "2026-02-14T18:00:00Z",
        **extra,
    }
    path.write_text(json.dumps(state))


def test_running_demo_pins_now_unless_another_prometheus_is_chosen(tmp_path):
    _state(tmp_path)
    env = {"OBSKIT_CACHE_DIR": str(tmp_path)}
    assert config.now(env) == datetime(2026, 2, 14, 18, tzinfo=UTC)
    assert config.now({**env, "PROMETHEUS_URL": "http://127.0.0.1:9999/"}).year == 2026
    real = config.now({**env, "PROMETHEUS_URL": "https://prometheus.example.com"})
    assert abs(real - datetime.now(UTC)) < timedelta(seconds=5)


def test_state_of_a_dead_process_is_ignored(tmp_path):
    _state(tmp_path, pid=2**22 + 12345)
    assert config.demo_state({"OBSKIT_CACHE_DIR": str(tmp_path)}) is None


def test_bad_obskit_now_names_the_variable():
    with pytest.raises(ConfigError, match="OBSKIT_NOW must be an ISO 8601 instant"):
        config.now({"OBSKIT_NOW": "tomorrow"})
