"""The demo Prometheus: every catalog metric over the whole span, sane counters, visible incidents.

These talk to the session's real Prometheus with plain HTTP on purpose: they check the data,
independently of obskit's client.
"""

import numpy as np
import pandas as pd
import pytest
import requests

from obskit import catalog as cat
from obskit.demo import incidents

HOUR = 3600


def instant(demo, expr, at=None):
    params = {"query": expr, "time": (at or demo.end).timestamp()}
    body = requests.get(f"{demo.url}/api/v1/query", params=params, timeout=30).json()
    assert body["status"] == "success", body
    return body["data"]["result"]


def series_over_time(demo, expr, step=300):
    """{timestamp: value} of a one-series range query over the whole span."""
    params = {
        "query": expr,
        "start": demo.start_time.timestamp(),
        "end": demo.end.timestamp(),
        "step": step,
    }
    body = requests.get(f"{demo.url}/api/v1/query_range", params=params, timeout=60).json()
    assert body["status"] == "success", body
    result = body["data"]["result"]
    if not result:
        return pd.Series(dtype=float)
    assert len(result) == 1, expr
    ts, values = zip(*result[0]["values"], strict=True)
    return pd.Series(np.array(values, dtype=float), index=pd.to_datetime(ts, unit="s", utc=True))


@pytest.mark.parametrize("name", cat.metric_names())
def test_every_catalog_series_has_data_over_the_whole_span(demo, name):
    present = series_over_time(demo, f"count({name})", step=HOUR)
    expected = int(demo.spec.days * 24) + 1
    assert len(present) == expected, f"{name}: {len(present)} of {expected} hours have data"


def _counter_series():
    for m in cat.CATALOG:
        if m.type == "counter":
            yield m.name
        elif m.type == "histogram":
            yield from m.series_names


@pytest.mark.parametrize("name", list(_counter_series()))
def test_rate_of_every_counter_is_never_negative(demo, name):
    lowest = instant(demo, f"min(min_over_time(rate({name}[2m])[{int(demo.spec.days)}d:30s]))")
    assert lowest and float(lowest[0]["value"][1]) >= 0, name


def test_the_restart_is_a_counter_reset_that_rate_absorbs(demo):
    resets = instant(demo, f"sum(resets(voicebot_calls_total[{int(demo.spec.days)}d]))")
    assert float(resets[0]["value"][1]) > 0


def _incident(demo, name):
    row = incidents(demo.spec).set_index("name").loc[name]
    return row["start"], row["end"]


# Each incident: a PromQL condition that holds inside its window and nowhere else.
# Edges get 10 minutes of slack for rate windows and breaker timing.
INCIDENT_QUERIES = {
    "store_api_outage": 'sum(increase(voicebot_store_api_requests_total{status_code=~"5.."}[2m])) > 20',
    "llm_slowdown": "histogram_quantile(0.95, sum by (le) "
    '(rate(voicebot_llm_latency_seconds_bucket{model="gpt-4o-mini"}[5m]))) > 3',
    # Hit rate below 60 % while at least 200 phrases were spoken (nights are too quiet to judge).
    "tts_cache_cold": "(sum(rate(voicebot_tts_cache_hits_total[5m])) / (sum(rate("
    "voicebot_tts_cache_hits_total[5m])) + sum(rate(voicebot_tts_cache_misses_total[5m]))) < 0.6)"
    " and on () (sum(increase(voicebot_tts_cache_hits_total[5m]))"
    " + sum(increase(voicebot_tts_cache_misses_total[5m])) > 200)",
    "backup_failed": 'voicebot_backup_success{component="postgres"} == 0',
}


@pytest.mark.parametrize("name", sorted(INCIDENT_QUERIES))
def test_each_incident_is_visible_inside_its_window_and_absent_outside(demo, name):
    start, end = _incident(demo, name)
    hits = series_over_time(demo, INCIDENT_QUERIES[name], step=60).index
    slack = pd.Timedelta(minutes=10)
    assert len(hits) >= 10, f"{name}: condition held at only {len(hits)} minutes"
    assert hits.min() >= start - slack and hits.max() <= end + slack, (name, hits.min(), hits.max())


def test_breakers_open_and_half_open_during_their_incidents(demo):
    start, end = _incident(demo, "store_api_outage")
    mid = start + (end - start) / 2
    state = instant(demo, 'voicebot_circuit_breaker_state{dependency="store_api"}', at=mid)
    assert float(state[0]["value"][1]) == 1.0
    start, end = _incident(demo, "llm_slowdown")
    state = instant(
        demo, 'voicebot_circuit_breaker_state{dependency="llm"}', at=start + (end - start) / 2
    )
    assert float(state[0]["value"][1]) == 2.0


def test_orders_stop_and_transfers_say_why_during_the_outage(demo):
    start, end = _incident(demo, "store_api_outage")
    window = f"{int((end - start).total_seconds()) - 120}s"
    end = end - pd.Timedelta(minutes=1)  # strictly inside the outage
    orders = instant(demo, f"sum(increase(voicebot_orders_created_total[{window}]))", at=end)
    assert float(orders[0]["value"][1]) == 0
    reason = instant(
        demo,
        f"topk(1, sum by (reason) (increase(voicebot_transfers_total[{window}])))",
        at=end,
    )
    assert reason[0]["metric"]["reason"] == "store_api_unavailable"


def test_the_demo_listens_on_loopback_only(demo):
    assert demo.url.startswith("http://127.0.0.1:")
    with open("/proc/net/tcp") as f:
        rows = [line.split() for line in f.readlines()[1:]]
    port_hex = f"{demo.port:04X}"
    listening = [r[1] for r in rows if r[1].endswith(":" + port_hex) and r[3] == "0A"]
    assert listening == ["0100007F:" + port_hex]
