"""The demo's ground truth agrees with what the demo Prometheus computes from the same draws."""

import pandas as pd
import pytest
import requests

from obskit.demo.truth import truth


def _value(demo, expr, at):
    body = requests.get(
        f"{demo.url}/api/v1/query", params={"query": expr, "time": at}, timeout=30
    ).json()
    assert body["status"] == "success", body
    return float(body["data"]["result"][0]["value"][1])


def test_counts_match_increase_exactly_over_whole_scrapes(demo):
    t = truth(demo.spec)
    end = demo.end.timestamp() - 86400 * 3 + 3600 * 5  # a weekday afternoon
    start = end - 3600
    drawn = t.total("voicebot_calls_total", start, end, outcome="bot_resolved")
    seen = _value(demo, 'sum(increase(voicebot_calls_total{outcome="bot_resolved"}[1h]))', end)
    assert seen == pytest.approx(drawn, rel=1e-9)


def test_quantile_from_buckets_lies_in_the_bucket_of_the_true_quantile(demo):
    t = truth(demo.spec)
    inc = t.incidents().set_index("name").loc["llm_slowdown"]
    at = (inc["start"] + (inc["end"] - inc["start"]) / 2).timestamp()
    true_p95 = t.quantile("voicebot_llm_latency_seconds", 0.95, at - 900, at, model="gpt-4o-mini")
    seen = _value(
        demo,
        'histogram_quantile(0.95, sum by (le) (rate(voicebot_llm_latency_seconds_bucket{model="gpt-4o-mini"}[15m])))',
        at,
    )
    lower, upper = t.bucket_bounds("voicebot_llm_latency_seconds", true_p95)
    assert true_p95 > 3.0, "the slowdown is in the truth"
    assert lower <= seen <= upper


def test_gauges_and_increments_are_addressable_by_labels(demo):
    t = truth(demo.spec)
    assert t.gauge("voicebot_backup_success", demo.end, component="postgres") in (0.0, 1.0)
    series = t.increments("voicebot_transfers_total", reason=("store_api_unavailable",))
    assert isinstance(series, pd.Series) and series.sum() > 0
    with pytest.raises(KeyError, match="no drawn counter"):
        t.increments("voicebot_transfers_total", reason="nope")
