"""Calm panels (issue 18): ratios and quantiles that show nothing rather than noise at night.

- the builders' guards (``min_volume=`` on ratios, ``min_count=`` on quantiles) and the rule
  for a quantile panel's min interval (``panels.quantile_interval``), as pure functions;
- from the demo's truth: each committed quantile panel's min interval is the one the rule
  gives for its quietest series in the quietest hour of the service day, and then every window
  of that day holds at least ``MIN_OBSERVATIONS`` observations per series (the truth suite,
  tests/test_truth_dashboards.py, checks that nothing is shown from fewer, at night included,
  and runs each panel at the quietest hours it finds in the real demo's ``_count`` series);
- on the real demo Prometheus: the four incidents are still outside their panel's normal range.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from obskit import panels as p
from obskit import promql
from obskit.dashboards._plan import plan
from obskit.demo.truth import truth as demo_truth
from obskit.errors import ConfigError
from obskit.promql._builders import volume_guard
from obskit.promql._macros import rate_interval

ROOT = Path(__file__).resolve().parent.parent
BOARDS = {
    b["title"]: b
    for b in (
        json.loads(f.read_text()) for f in sorted((ROOT / "grafana/dashboards").glob("*.json"))
    )
}
ZONE = "Europe/Berlin"
#: The service day the quantile panels' intervals are chosen for: windows ending 08:00-20:00
#: local (the demo's line opens 07:30 and closes 21:30; outside it traffic drops to 15 %).
DAY = (8, 20)


# -- builders ---------------------------------------------------------------------------------


def test_ratio_helpers_are_calm_by_default_and_guard_per_group() -> None:
    expr = promql.error_ratio(by=["job"])
    assert expr.endswith(
        " and on(job) (sum by (job) (increase(voicebot_store_api_requests_total"
        "[$__rate_interval])) >= 20)"
    )
    for built in (promql.cache_hit_rate(), promql.bot_resolution_rate(), promql.error_ratio()):
        assert volume_guard(built) == promql._builders.MIN_VOLUME == 20
        promql.parse(built)
    assert volume_guard(promql.error_ratio(min_volume=None)) is None
    assert volume_guard(promql.cache_hit_rate(min_volume=50, by=["provider"])) == 50


def test_quantile_guard_counts_the_same_series_and_window() -> None:
    expr = promql.quantile(
        0.99, "x_seconds_bucket", ["provider"], {"provider": "google"}, "5m", min_count=20
    )
    assert expr == (
        'histogram_quantile(0.99, sum by (le, provider) (rate(x_seconds_bucket{provider="google"}'
        '[5m]))) and on(provider) (sum by (provider) (increase(x_seconds_count{provider="google"}'
        "[5m])) >= 20)"
    )
    assert set(promql.quantiles("x", min_count=7).values()) == {
        promql.quantile(q, "x", min_count=7) for q in (0.5, 0.95, 0.99)
    }


@pytest.mark.parametrize("bad", [0, -3, 2.5, True, "20"])
def test_guards_want_a_positive_whole_number(bad) -> None:
    with pytest.raises(ConfigError, match="whole number of events like 20"):
        promql.error_ratio(min_volume=bad)
    with pytest.raises(ConfigError, match="min_count"):
        promql.quantile(0.5, "x", min_count=bad)


def test_ratio_needs_the_volume_with_its_minimum() -> None:
    with pytest.raises(ConfigError, match="both min_volume and volume"):
        promql.ratio("sum(rate(a_total[5m]))", "sum(rate(b_total[5m]))", min_volume=20)
    with pytest.raises(ConfigError, match="both min_volume and volume"):
        promql.ratio("a", "b", volume="sum(increase(b_total[5m]))")


@pytest.mark.parametrize(
    ("per_hour", "expected"),
    [
        (195, "10m"),  # the demo's calls at its quietest service hour: 5m holds 17.9 < 30
        (325, "10m"),  # TTS azure: 5m holds 29.8, just short of 1.5 x 20
        (371, "5m"),
        (800, "2m"),  # 1m: 120 s windows hold 26.7; 2m: 150 s hold 33.3
        (1500, "1m"),  # 1m still means 120 s windows (4 x scrape): 50
        (20, "1h"),  # too quiet for any interval: the longest, the guard hides the rest
    ],
)
def test_quantile_interval_rule(per_hour: float, expected: str) -> None:
    expr = promql.quantile(0.95, "x_seconds", min_count=20)
    assert p.quantile_interval(expr, per_hour) == expected


def test_quantile_interval_defaults_and_refusals() -> None:
    assert p.quantile_interval("histogram_quantile(0.5, sum by (le) (rate(x_bucket[5m])))") == "5m"
    assert p.quantile_interval(promql.error_ratio(), 10) is None
    for bad in (0, -1.0, float("inf"), float("nan")):
        with pytest.raises(ConfigError, match="positive per_hour"):
            p.quantile_interval("histogram_quantile(0.5, x)", bad)


def test_sidecar_panels_get_the_same_treatment() -> None:
    """What add_panel stores: a guarded ratio says so; a quantile time series gets a min
    interval (the default without traffic figures, or the spec's own) and says so too."""
    base = {"kind": "timeseries", "unit": "s", "legend": "p95", "description": "Latency.", "id": 7}
    quant = promql.quantile(0.95, "x_seconds", min_count=20)
    panel = p.panel_from_spec({**base, "title": "Q", "expr": quant})
    assert panel.interval == "5m"
    assert panel.description == (
        "Latency. Each point pools at least 5m of observations (the min interval). "
        "No value where the window holds fewer than 20 observations."
    )
    own = p.panel_from_spec({**base, "title": "Q", "expr": quant, "interval": "10m"})
    assert own.interval == "10m" and "at least 10m of observations" in own.description
    ratio = p.panel_from_spec({**base, "title": "R", "expr": promql.error_ratio()})
    assert ratio.interval is None and ratio.description.endswith("fewer than 20 counted events.")
    assert p.calm_description(ratio.description, promql.error_ratio()) == ratio.description


# -- the committed quantile panels, from the demo's truth ---------------------------------------


def quantile_panels() -> list[tuple[str, dict]]:
    return [
        (title, panel)
        for title, board in BOARDS.items()
        for panel in board["panels"]
        if any("histogram_quantile" in t["expr"] for t in panel.get("targets", []))
    ]


#: Panel title -> the histogram it shows and the label its series are kept by.
FAMILIES = {
    "Call duration p50 / p95": ("voicebot_call_duration_seconds", None),
    "STT latency": ("voicebot_stt_latency_seconds", "provider"),
    "LLM latency": ("voicebot_llm_latency_seconds", "model"),
    "TTS latency": ("voicebot_tts_latency_seconds", "provider"),
    "PostgreSQL query latency p95": ("voicebot_db_query_duration_seconds", "operation"),
}


@pytest.fixture(scope="module")
def truth():
    return demo_truth()


def _local_hour(ends: np.ndarray) -> np.ndarray:
    local = pd.to_datetime(ends, unit="s", utc=True).tz_convert(ZONE)
    return np.asarray(local.hour + local.minute / 60)


def quietest_hour(truth, family: str, label: str | None) -> tuple[int, str]:
    """The fewest observations of one series in an hour of the service day, and which hour."""
    ends = truth.start + 3600 * np.arange(2, int((truth.end - truth.start) // 3600) + 1)
    frame = truth.quantiles(family, 0.5, ends, 3600, by=[label] if label else [])
    starts = (frame["timestamp"] - pd.Timedelta("1h")).dt.tz_convert(ZONE).dt.hour
    day = frame[(starts >= DAY[0]) & (starts < DAY[1])]
    row = day.loc[day["n"].idxmin()]
    return int(row["n"]), str(row["timestamp"])


def test_every_quantile_panel_has_a_family_entry() -> None:
    assert sorted(
        title for _, title in ((b, pn["title"]) for b, pn in quantile_panels())
    ) == sorted(FAMILIES)


@pytest.mark.parametrize("title", sorted(FAMILIES))
def test_quantile_panel_windows_hold_enough_observations(truth, title: str) -> None:
    """The panel's min interval is the rule's for its quietest service hour, every window of
    the service day then holds >= MIN_OBSERVATIONS per series, and its queries are guarded."""
    (panel,) = [pn for _, pn in quantile_panels() if pn["title"] == title]
    family, label = FAMILIES[title]
    per_hour, _ = quietest_hour(truth, family, label)
    assert panel["interval"] == p.quantile_interval(panel["targets"][0]["expr"], per_hour)
    for t in panel["targets"]:
        assert volume_guard(t["expr"]) == p.MIN_OBSERVATIONS, t["expr"]
    seconds = pd.Timedelta(panel["interval"]).total_seconds()
    window = rate_interval(seconds, 30)  # the shortest window any range gives this panel
    everywhere = np.arange(truth.start + 7200, truth.end + 1, 300.0)
    hours = _local_hour(everywhere)
    ends = everywhere[(hours >= DAY[0]) & (hours <= DAY[1])]
    by = [label] if label else []
    counts = truth.quantiles(family, 0.5, ends, window, by=by)
    assert counts["n"].min() >= p.MIN_OBSERVATIONS, (title, int(counts["n"].min()))
    # ...while at night (01:00-05:00 local) windows this long hold fewer: the guard hides those
    night = truth.quantiles(family, 0.5, everywhere[(hours >= 1) & (hours < 5)], window, by=by)
    assert night["n"].min() < p.MIN_OBSERVATIONS


# -- the incidents stay visible on the real demo ----------------------------------------------

#: Incident -> the panel target that shows it, the series, and which side of normal it lies.
INCIDENTS = {
    "store_api_outage": ("Store API error ratio", "A", None, "above"),
    "llm_slowdown": ("LLM latency", "B", ("model", "gpt-4o-mini"), "above"),
    "tts_cache_cold": ("TTS cache hit rate", "A", None, "below"),
    "backup_failed": ("Backup status", "A", ("component", "postgres"), "below"),
}


@pytest.mark.prometheus
@pytest.mark.parametrize("name", sorted(INCIDENTS))
def test_incident_is_still_outside_the_normal_range(demo_client, truth, name: str) -> None:
    """The calm panel at a 6 h range, every 5 min over the week: inside the incident (once its
    window has filled) the values lie beyond everything seen more than 1 h from any incident."""
    title, ref, series, side = INCIDENTS[name]
    board = {**BOARDS["Application Metrics"], "time": {"from": "now-6h", "to": "now"}}
    end = datetime.fromtimestamp(truth.end, UTC)
    (query,) = [q for q in plan(board, end) if q.panel == title and q.ref_id == ref]
    start = datetime.fromtimestamp(truth.start + 3600, UTC)
    frame = demo_client.query_range(query.expanded, start, end, step=300)
    if series:
        frame = frame[frame[series[0]].astype(str) == series[1]]
    values = frame.set_index("timestamp")["value"]
    incidents = truth.incidents().set_index("name")
    normal = pd.Series(True, values.index)
    for row in incidents.itertuples():
        margin = pd.Timedelta("1h")
        normal &= ~((values.index >= row.start - margin) & (values.index <= row.end + margin))
    row = incidents.loc[name]
    filled = row.start + pd.Timedelta(seconds=rate_interval(query.step, 30))
    inside = values[(values.index > filled) & (values.index <= row.end)]
    assert len(inside) >= 5 and normal.sum() > 500
    low, high = values[normal].min(), values[normal].max()
    if side == "above":
        assert inside.min() > high, (name, inside.min(), high)
    elif name == "tts_cache_cold":  # collapses, then recovers over three hours
        assert inside.min() < low - 0.2, (name, inside.min(), low)
    else:
        assert (inside == 0).mean() > 0.9 and low == high == 1.0
