"""Client execution details: Grafana macros expanded to run a query; big answers fetched in overlapping halves."""

import pytest

from obskit import promql


@pytest.mark.prometheus
def test_rate_interval_is_expanded_for_execution(demo_client, demo):
    expr = promql.bot_resolution_rate()
    frame = demo_client.query_range(expr, demo.end.timestamp() - 3600, demo.end, step="5m")
    assert frame.attrs["query"] == expr and "$__rate_interval" in expr
    assert len(frame) == 13 and frame["value"].between(0, 1).all()


@pytest.mark.prometheus
def test_range_macro_and_variables_in_an_instant_query(demo_client, demo):
    both = demo_client.query(
        'sum(increase(voicebot_calls_total{scenario=~"$scenario"}[$__range]))',
        demo.end,
        variables={"scenario": ["new_order", "order_status"]},
    )
    one = demo_client.query(
        'sum(increase(voicebot_calls_total{scenario=~"$scenario"}[$__range]))',
        demo.end,
        variables={"scenario": "new_order"},
    )
    assert both["value"].iloc[0] > one["value"].iloc[0] > 0


def test_queries_without_macros_are_sent_unchanged(demo_client):
    assert demo_client._expanded("rate(x[5m])", 60, 3600, None) == "rate(x[5m])"
    assert demo_client._expanded('x{a=~"b$"}', 60, 3600, None) == 'x{a=~"b$"}'


def test_one_big_window_is_split_in_two_on_the_step_grid_for_overlap():
    from obskit.client import OVERLAP_SAMPLES, _overlapped

    one = [(0, 1440 * 60_000)]
    halves = _overlapped(one, series=1_000, points=1441, step_ms=60_000)
    assert halves == [(0, 720 * 60_000), (721 * 60_000, 1440 * 60_000)]
    assert _overlapped(one, series=10, points=1441, step_ms=60_000) == one  # small: unchanged
    assert OVERLAP_SAMPLES > 10 * 1441
    assert _overlapped(one, series=None, points=1441, step_ms=60_000) == one
    many = [(0, 10), (11, 20)]
    assert _overlapped(many, series=10**6, points=21, step_ms=1) == many  # already chunked
