"""Client execution details: Grafana macros expanded to run a query; big answers fetched in pieces."""

import itertools

import pytest

from obskit import promql
from obskit.demo import PINNED_END as END


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


@pytest.mark.prometheus
def test_from_and_to_are_the_queried_range(demo_client, demo):
    frame = demo_client.query("vector(${__to:date:seconds})", demo.end)
    assert frame["value"].tolist() == [demo.end.timestamp()]
    start = demo.end.timestamp() - 600
    frame = demo_client.query_range(
        "vector(${__to:date:seconds} - ${__from:date:seconds})", start, demo.end, step="5m"
    )
    assert frame["value"].tolist() == [600.0] * 3  # the range, at every step
    at_end = demo_client.query_range(
        "sum(voicebot_active_calls @ ${__to:date:seconds})", start, demo.end, step="5m"
    )
    assert at_end["value"].nunique() == 1  # pinned to the range's end, like Grafana's
    assert (
        at_end["value"].iloc[0]
        == demo_client.query("sum(voicebot_active_calls)", demo.end)["value"].iloc[0]
    )


def test_queries_without_macros_are_sent_unchanged(demo_client):
    assert demo_client._expanded("rate(x[5m])", 60, 3600, None, END) == "rate(x[5m])"
    assert demo_client._expanded('x{a=~"b$"}', 60, 3600, None, END) == 'x{a=~"b$"}'


def _points(windows, step_ms):
    return [1 + (end - start) // step_ms for start, end in windows]


def test_a_big_answer_is_fetched_in_pieces_on_the_step_grid():
    from obskit.client import _split as _chunks
    from obskit.client._range import PIECE_POINTS, PIECE_SAMPLES, SPREAD_SAMPLES
    from obskit.client._range import spread as _spread

    # wide (1,000 series x 1,441 points): few long pieces, one per worker
    one = [(0, 1440 * 60_000)]
    halves = _spread(one, series=1_000, points=1441, step_ms=60_000, workers=2)
    assert halves == [(0, 720 * 60_000), (721 * 60_000, 1440 * 60_000)]
    quarters = _spread(one, series=1_000, points=1441, step_ms=60_000, workers=4)
    assert _points(quarters, 60_000) == [361, 361, 361, 358]
    assert all(b[0] - a[1] == 60_000 for a, b in itertools.pairwise(quarters))
    # long (46 series x 40,321 points, 4 windows for the point cap): ~PIECE_SAMPLES pieces
    capped = _chunks.windows(0, 40_320 * 15_000, 15_000, 11_000)
    finer = _spread(capped, series=46, points=40_321, step_ms=15_000, workers=2)
    assert len(finer) == -(-46 * 40_321 // PIECE_SAMPLES) == 8
    assert (finer[0][0], finer[-1][1]) == (capped[0][0], capped[-1][1])
    assert sum(_points(finer, 15_000)) == 40_321 and min(_points(finer, 15_000)) >= PIECE_POINTS
    assert all(b[0] - a[1] == 15_000 for a, b in itertools.pairwise(finer))
    # left as planned: small answers, unknown series counts, capped plans with enough pieces
    assert _spread(one, series=10, points=1441, step_ms=60_000, workers=4) == one
    assert SPREAD_SAMPLES > 10 * 1441
    assert _spread(one, series=None, points=1441, step_ms=60_000, workers=4) == one
    assert _spread(one, series=1_000, points=1441, step_ms=60_000, workers=1) == one
    assert _spread(capped, series=12, points=40_321, step_ms=15_000, workers=4) == capped
