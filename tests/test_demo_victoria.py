"""VictoriaMetrics holds the same demo data as Prometheus: same answers to the same queries."""

import pytest
import requests

QUERIES = [
    "count({__name__=~'voicebot_.+|node_.+|pg_.+|redis_.+'})",
    "sum(increase(voicebot_calls_total[1h]))",
    "histogram_quantile(0.95, sum by (le) (rate(voicebot_llm_latency_seconds_bucket[5m])))",
    "sum(voicebot_active_calls)",
]


def _value(target, expr):
    params = {"query": expr, "time": target.end.timestamp()}
    body = requests.get(f"{target.url}/api/v1/query", params=params, timeout=30).json()
    assert body["status"] == "success", body
    return float(body["data"]["result"][0]["value"][1])


@pytest.mark.parametrize("expr", QUERIES)
def test_same_answer_as_prometheus(demo, victoria, expr):
    assert _value(victoria, expr) == pytest.approx(_value(demo, expr), rel=0.02)
