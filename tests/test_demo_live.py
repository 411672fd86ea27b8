"""The live simulator continues the backfilled series exactly, and Prometheus scrapes it."""

import time
from datetime import UTC, datetime

import requests
from prometheus_client import CollectorRegistry, generate_latest

from obskit.demo import DemoPrometheus, DemoSpec, generate
from obskit.demo.live import LiveCollector, live_spec


def test_collector_serves_the_value_drawn_for_the_current_scrape():
    spec = DemoSpec(days=0.5, step=60)
    data = generate(spec)
    ts = spec.timestamps()
    now = float(ts[100] + 30)  # between two scrapes: the earlier one is served
    registry = CollectorRegistry(auto_describe=False)
    registry.register(LiveCollector(data, clock=lambda: now))
    text = generate_latest(registry).decode()
    calls = next(s for s in data.series if s.name == "voicebot_calls_total")
    labels = ",".join(f'{k}="{v}"' for k, v in sorted(calls.labels.items()))
    assert f"voicebot_calls_total{{{labels}}} {float(calls.values[100])!r}" in text
    assert "voicebot_llm_latency_seconds_bucket{" in text and 'le="+Inf"' in text


def test_live_spec_reaches_past_now():
    now = datetime(2026, 11, 29, 12, 0, tzinfo=UTC)
    spec = live_spec(now, days=2, step=30, seed=42)
    assert spec.end > now and (now - spec.start).total_seconds() == 2 * 86400


def test_live_demo_keeps_now_moving(tmp_path):
    spec = live_spec(datetime.now(UTC), days=0.25, step=10, seed=42)
    with DemoPrometheus(spec, cache=tmp_path, live=True) as prom:
        assert prom.live_port and prom.state()["live"] is True
        deadline = time.monotonic() + 40
        newest = 0.0
        while time.monotonic() < deadline and newest < time.time() - 60:
            body = requests.get(
                f"{prom.url}/api/v1/query", params={"query": "timestamp(voicebot_active_calls)"}
            ).json()
            result = body["data"]["result"]
            newest = float(result[0]["value"][1]) if result else 0.0
            time.sleep(1)
        assert newest > time.time() - 60, "the live simulator's samples reach the present"
        history = requests.get(
            f"{prom.url}/api/v1/query",
            params={"query": "count_over_time(voicebot_active_calls[6h])"},
        ).json()["data"]["result"]
        assert float(history[0]["value"][1]) > 1000, "backfilled history is there too"
        simulator = prom.simulator
    assert simulator is not None and simulator.poll() is not None, "stop() ends the simulator"
