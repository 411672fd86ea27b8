"""Every finding the notebooks state, computed as the notebooks compute it, agrees with the truth.

Each test runs the notebook's own obskit calls (same query, window, step, threshold) against the
demo Prometheus and checks the result two ways: against the scripted incident windows
(``obskit.demo.incidents``) and against the same computation done on the ground truth
(``obskit.demo.truth``: the draws before counters and buckets).

Tolerances: times within one evaluation step + the query's window of the scripted edges (a
window ending at t sees the change only after it has filled enough of the window), and within
one step of the truth's own periods; counts within 2 %; shares within 1 percentage point;
quantiles within the width of the bucket holding the truth's quantile.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

import obskit
from obskit import promql
from obskit.demo.truth import Truth
from obskit.demo.truth import truth as demo_truth

pytestmark = pytest.mark.prometheus

TIMEZONE = "Europe/Berlin"
MINUTE = pd.Timedelta("1m")


@pytest.fixture(scope="module")
def truth(demo) -> Truth:
    return demo_truth(demo.spec)


@pytest.fixture(scope="module")
def week(truth) -> tuple[pd.Timestamp, pd.Timestamp]:
    """The notebooks' RANGE = 7D ending at the demo's end."""
    end = pd.Timestamp(truth.end, unit="s", tz="UTC")
    return end - pd.Timedelta("7D"), end


def incident(truth: Truth, name: str) -> tuple[pd.Timestamp, pd.Timestamp]:
    row = truth.incidents().set_index("name").loc[name]
    return row["start"], row["end"]


def ends_of(frame: pd.DataFrame) -> np.ndarray:
    """Unix seconds of a frame's distinct timestamps, ascending."""
    stamps = pd.DatetimeIndex(frame["timestamp"].unique()).sort_values()
    return ((stamps - pd.Timestamp(0, tz="UTC")) / pd.Timedelta(seconds=1)).to_numpy()


def plain(frame: pd.DataFrame, *labels: str) -> pd.DataFrame:
    """timestamp, value and the given labels only (what periods() groups by)."""
    out = frame[["timestamp", "value", *labels]].copy()
    for label in labels:
        out[label] = out[label].astype(str)
    return out


def near(seen: pd.Timestamp, want: pd.Timestamp, slack: pd.Timedelta) -> bool:
    return abs(pd.Timestamp(seen) - pd.Timestamp(want)) <= slack


def close(seen: float, want: float, rel: float = 0.02) -> bool:
    return abs(seen - want) <= rel * abs(want) + 1e-9


# -- 01 getting started ---------------------------------------------------------------------------


def test_operators_took_over_one_tuesday_morning(demo_client, truth, week) -> None:
    """01: calls per minute by outcome (10 min windows) show operators above the bot only in the
    outage (outside the night, where both are a handful)."""
    calls = demo_client.query_range(
        "sum by (outcome) (rate(voicebot_calls_total[10m])) * 60", *week, step="10m"
    )
    wide = calls.pivot_table(index="timestamp", columns="outcome", values="value", observed=True)
    lead = (wide["operator_transfer"] - wide["bot_resolved"]).rename("value").reset_index()
    found = obskit.periods(lead, above=1.0)  # operators take > 1 call/min more than the bot
    ends = ends_of(calls)
    by = truth.rates("voicebot_calls_total", ends, 600, by=["outcome"])
    t_wide = by.pivot_table(index="timestamp", columns="outcome", values="value", observed=True)
    t_lead = ((t_wide["operator_transfer"] - t_wide["bot_resolved"]) * 60).rename("value")
    expected = obskit.periods(t_lead.reset_index(), above=1.0)
    start, end = incident(truth, "store_api_outage")
    assert len(found) == 1 and len(expected) == 1
    assert found["start"][0].tz_convert(TIMEZONE).day_name() == "Tuesday"
    assert near(found["start"][0], expected["start"][0], pd.Timedelta("10m"))
    assert near(found["end"][0], expected["end"][0], pd.Timedelta("10m"))
    slack = pd.Timedelta("10m") + pd.Timedelta("10m")  # step + window
    assert near(found["start"][0], start, slack) and near(found["end"][0], end, slack)


# -- 02 calls -------------------------------------------------------------------------------------


def test_calls_per_local_day(demo_client, truth, week) -> None:
    """02: per_hour summed per local day equals the drawn calls; weekdays > Saturday > Sunday."""
    hourly = demo_client.query_range(promql.per_hour("voicebot_calls_total"), *week, step="1h")
    hours = hourly.set_index("timestamp")["value"]
    hours.index = (hours.index - pd.Timedelta("1h")).tz_convert(TIMEZONE)
    daily = hours.resample("D").sum()
    per_hour = truth.frames("1h")["voicebot_calls_total"]  # the truth as frames, hourly
    drawn = per_hour.groupby("timestamp")["value"].sum()
    drawn.index = (drawn.index - pd.Timedelta("1h")).tz_convert(TIMEZONE)
    assert np.allclose(hours.reindex(drawn.index).to_numpy(), drawn.to_numpy(), rtol=0.02)
    want = drawn.resample("D").sum()
    assert list(daily.index) == list(want.index)
    for day, value in daily.items():
        assert close(value, want[day]), f"{day:%a %d}: seen {value}, drawn {want[day]}"
    by_name = {d.day_name(): v for d, v in list(daily.items())[1:-1]}  # whole days only
    weekdays = [by_name[d] for d in ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday")]
    assert min(weekdays) > daily.iloc[-1] > by_name["Sunday"]  # Saturday lighter, Sunday quiet


def test_outcome_and_scenario_shares_over_the_week(demo_client, truth, week) -> None:
    """02/04: outcome shares (0.671 / 0.248 / 0.081), per scenario, and the scenario mix."""
    window = f"{int((week[1] - week[0]).total_seconds())}s"
    outcomes = demo_client.query(
        f"sum by (outcome) (increase(voicebot_calls_total[{window}]))", week[1]
    )
    shares = outcomes.set_index(outcomes["outcome"].astype(str))["value"]
    want = truth.outcome_shares(*week)
    for outcome, value in (shares / shares.sum()).items():
        assert abs(value - want[outcome]) <= 0.01, outcome
    by_scenario = demo_client.query(
        f"sum by (scenario, outcome) (increase(voicebot_calls_total[{window}]))", week[1]
    )
    table = by_scenario.pivot_table(
        index="scenario", columns="outcome", values="value", observed=True
    )
    table = table.div(table.sum(axis=1), axis=0)
    for scenario, row in table.iterrows():
        want = truth.outcome_shares(*week, scenario=str(scenario))
        assert (row - want[row.index]).abs().max() <= 0.01, scenario
    scenarios = demo_client.query(
        f"sum by (scenario) (increase(voicebot_calls_total[{window}]))", week[1]
    )
    mix = scenarios.set_index(scenarios["scenario"].astype(str))["value"]
    drawn = truth.totals("voicebot_calls_total", [week[1]], 7 * 86400, by=["scenario"])
    drawn_mix = drawn.set_index(drawn["scenario"].astype(str))["value"]
    assert ((mix / mix.sum()) - (drawn_mix / drawn_mix.sum())).abs().max() <= 0.01


def test_outage_transfers_carry_store_api_unavailable(demo_client, truth, week) -> None:
    """02: the periods with > 10 store_api_unavailable transfers per 5 min are the outage; the
    reason's share is ~77 % during it and ~1 % outside it."""
    transfers = demo_client.query_range(
        "sum by (reason) (increase(voicebot_transfers_total[5m]))", *week, step="5m"
    )
    unavailable = transfers[transfers["reason"] == "store_api_unavailable"]
    found = obskit.periods(plain(unavailable, "reason"), above=10)
    drawn = truth.totals(
        "voicebot_transfers_total", ends_of(transfers), 300, reason="store_api_unavailable"
    )
    expected = obskit.periods(drawn[["timestamp", "value"]], above=10)
    start, end = incident(truth, "store_api_outage")
    assert len(found) == len(expected) == 1
    assert found["start"][0] == expected["start"][0] and found["end"][0] == expected["end"][0]
    slack = pd.Timedelta("5m") + pd.Timedelta("5m")
    assert near(found["start"][0], start, slack) and near(found["end"][0], end, slack)
    during = transfers[transfers["timestamp"].between(found["start"][0], found["end"][0])]
    share = during.groupby("reason", observed=True)["value"].sum() / during["value"].sum()
    lo, hi = found["start"][0] - pd.Timedelta("5m"), found["end"][0]
    assert (
        abs(share["store_api_unavailable"] - truth.transfer_shares(lo, hi)["store_api_unavailable"])
        <= 0.01
    )
    assert share["store_api_unavailable"] > 0.7
    outside = transfers[~transfers["timestamp"].between(found["start"][0], found["end"][0])]
    normal = outside.groupby("reason", observed=True)["value"].sum() / outside["value"].sum()
    drawn_all = truth.totals("voicebot_transfers_total", [week[1]], 7 * 86400, by=["reason"])
    drawn_out = truth.totals("voicebot_transfers_total", [hi], hi - lo, by=["reason"])
    counts = (
        drawn_all.set_index(drawn_all["reason"].astype(str))["value"]
        - drawn_out.set_index(drawn_out["reason"].astype(str))["value"]
    )
    assert (
        abs(normal["store_api_unavailable"] - counts["store_api_unavailable"] / counts.sum())
        <= 0.01
    )
    assert normal["store_api_unavailable"] <= 0.02  # "normally about 1 %"


# -- 03 voice pipeline ----------------------------------------------------------------------------


@pytest.fixture(scope="module")
def llm_p95(demo_client, week) -> pd.DataFrame:
    expr = promql.quantile(0.95, "voicebot_llm_latency_seconds", by=["model"], window="5m")
    return demo_client.query_range(expr, *week, step="1m")


def test_llm_slowdown_period(llm_p95, truth) -> None:
    """03: the only stretch of >= 10 min with a p95 above 3 s is gpt-4o-mini's scripted slowdown."""
    found = obskit.periods(plain(llm_p95, "model"), above=3.0, min_duration="10m")
    start, end = incident(truth, "llm_slowdown")
    assert found["model"].tolist() == ["gpt-4o-mini"]
    slack = MINUTE + pd.Timedelta("5m")
    assert near(found["start"][0], start, slack), (found["start"][0], start)
    assert near(found["end"][0], end, slack), (found["end"][0], end)
    gpt = llm_p95[llm_p95["model"] == "gpt-4o-mini"]
    ends = ends_of(gpt)
    inside = (ends > start.timestamp() - 3600) & (ends < end.timestamp() + 3600)
    drawn = truth.quantiles(
        "voicebot_llm_latency_seconds", 0.95, ends[inside], 300, model="gpt-4o-mini"
    )
    expected = obskit.periods(drawn[["timestamp", "value"]], above=3.0, min_duration="10m")
    assert len(expected) == 1
    assert near(found["start"][0], expected["start"][0], MINUTE)
    assert near(found["end"][0], expected["end"][0], MINUTE)
    true_peak = float(drawn["value"].max())
    lower, upper = truth.bucket_bounds("voicebot_llm_latency_seconds", true_peak)
    assert abs(found["peak"][0] - true_peak) <= upper - lower
    assert found["peak"][0] > 4.0  # "above 4 s"


def test_llm_p95_outside_the_slowdown(llm_p95, truth) -> None:
    """03: median p95 outside the slowdown, about 1 s (gpt-4o-mini) and 1.2 s (claude)."""
    start, end = incident(truth, "llm_slowdown")
    slack = pd.Timedelta("6m")
    normal = llm_p95[~llm_p95["timestamp"].between(start - MINUTE, end + slack)]
    for model, part in normal.groupby("model", observed=True):
        seen = part["value"].median()
        stamps = ends_of(part)
        drawn = truth.quantiles("voicebot_llm_latency_seconds", 0.95, stamps, 300, model=str(model))
        want = float(np.nanmedian(drawn["value"]))
        lower, upper = truth.bucket_bounds("voicebot_llm_latency_seconds", want)
        assert abs(seen - want) <= upper - lower, (model, seen, want)
    medians = normal.groupby("model", observed=True)["value"].median()
    assert 0.8 <= medians["gpt-4o-mini"] <= 1.2 and 1.0 <= medians["claude-3-5-haiku"] <= 1.4


def test_circuit_breakers_not_closed(demo_client, truth, week) -> None:
    """03: the LLM breaker was half-open during the slowdown; the store API breaker open during
    the outage (tripping after 1 min) and half-open for 3 min after it."""
    breakers = demo_client.query_range(
        "max by (dependency) (max_over_time(voicebot_circuit_breaker_state[1m]))",
        *week,
        step="1m",
    )
    found = obskit.periods(plain(breakers, "dependency"), above=0)
    ends = ends_of(breakers)
    state = truth.gauges("voicebot_circuit_breaker_state", ends, by=["dependency"], how="max")
    # max_over_time over [1m] at t sees the scrapes in [t-1m, t]: the truth's max of those
    lagged = truth.gauges("voicebot_circuit_breaker_state", ends - 30, by=["dependency"], how="max")
    lagged2 = truth.gauges(
        "voicebot_circuit_breaker_state", ends - 60, by=["dependency"], how="max"
    )
    state["value"] = np.maximum.reduce(
        [state["value"].to_numpy(), lagged["value"].to_numpy(), lagged2["value"].to_numpy()]
    )
    expected = obskit.periods(plain(state, "dependency"), above=0)
    pd.testing.assert_frame_equal(
        found.reset_index(drop=True), expected.reset_index(drop=True), check_categorical=False
    )
    llm = found.set_index("dependency").loc["llm"]
    start, end = incident(truth, "llm_slowdown")
    assert near(llm["start"], start, MINUTE) and near(llm["end"], end, 2 * MINUTE)
    store = found.set_index("dependency").loc["store_api"]
    start, end = incident(truth, "store_api_outage")
    assert near(store["start"], start + MINUTE, MINUTE)
    assert near(store["end"], end + pd.Timedelta("3m"), 2 * MINUTE)


def test_tts_cache_went_cold_after_the_deploy(demo_client, truth, week) -> None:
    """03: hit rate (10 min windows) below 0.6 for >= 15 min only right after the deploy, at its
    lowest ~0.18; it recovered (back within 1 pp of normal) within about three hours."""
    hit_rate = demo_client.query_range(promql.cache_hit_rate(window="10m"), *week, step="5m")
    cold = obskit.periods(hit_rate, below=0.6, min_duration="15m")
    ends = ends_of(hit_rate)
    hits = truth.totals("voicebot_tts_cache_hits_total", ends, 600)["value"].to_numpy()
    misses = truth.totals("voicebot_tts_cache_misses_total", ends, 600)["value"].to_numpy()
    with np.errstate(all="ignore"):
        ratio = np.where(hits + misses > 0, hits / (hits + misses), np.nan)
    drawn = pd.DataFrame({"timestamp": pd.to_datetime(ends, unit="s", utc=True), "value": ratio})
    expected = obskit.periods(drawn, below=0.6, min_duration="15m")
    start, end = incident(truth, "tts_cache_cold")
    assert len(cold) == len(expected) == 1
    assert cold["start"][0] == expected["start"][0] and cold["end"][0] == expected["end"][0]
    assert near(cold["start"][0], start, pd.Timedelta("5m") + pd.Timedelta("10m"))
    assert abs(cold["peak"][0] - expected["peak"][0]) <= 0.01
    assert abs(cold["peak"][0] - 0.18) <= 0.05
    after = hit_rate.set_index("timestamp")["value"]
    normal = truth.hit_ratio(start - pd.Timedelta("1D"), start)  # the day before the deploy
    recovered = after[(after.index > start) & ((after - normal).abs() <= 0.05)].index.min()
    assert start + pd.Timedelta("1h") < recovered <= end + pd.Timedelta("15m")


def test_build_versions_switch_at_the_deploy(demo_client, truth, week) -> None:
    builds = demo_client.query_range("max by (version) (voicebot_build_info)", *week, step="5m")
    spans = builds.groupby("version", observed=True)["timestamp"].agg(["min", "max"])
    start, _ = incident(truth, "tts_cache_cold")
    assert spans.loc["1.14.2", "max"] == start and spans.loc["1.15.0", "min"] == start
    ends = ends_of(builds)
    drawn = truth.gauges("voicebot_build_info", ends, by=["version"])
    present = drawn.dropna().groupby("version", observed=True)["timestamp"].agg(["min", "max"])
    # the 5 min lookback keeps the old version visible until the restart's first scrape
    assert present.loc["1.15.0", "min"] == spans.loc["1.15.0", "min"]


# -- 04 business ----------------------------------------------------------------------------------


def test_today_so_far(demo_client, truth, week) -> None:
    """04: calls 10506, resolution 0.677, orders 2010, fittings 1687 since local midnight."""
    end = week[1]
    midnight = end.tz_convert(TIMEZONE).normalize()
    seconds = (end - midnight).total_seconds()
    today = f"{int(seconds)}s"
    seen = {
        name: demo_client.query(f"sum(increase({name}[{today}]))", end)["value"].iloc[0]
        for name in (
            "voicebot_calls_total",
            "voicebot_orders_created_total",
            "voicebot_fittings_booked_total",
        )
    }
    for name, value in seen.items():
        assert close(value, truth.total(name, midnight, end)), name
    rate = demo_client.query(promql.bot_resolution_rate(window=today), end)["value"].iloc[0]
    assert abs(rate - truth.outcome_shares(midnight, end)["bot_resolved"]) <= 0.01


def test_orders_stopped_during_the_outage(demo_client, truth, week) -> None:
    """04: during business hours, the one stretch of >= 15 min with < 2 orders per 5 min is the
    outage; the same window the day before and after has ~200 orders, the outage 0."""
    orders = demo_client.query_range(
        "sum(increase(voicebot_orders_created_total[5m]))", *week, step="5m"
    )
    local = orders["timestamp"].dt.tz_convert(TIMEZONE)
    business = orders[(local.dt.hour >= 8) & (local.dt.hour < 20) & (local.dt.day_of_week < 5)]
    dent = obskit.periods(business, below=2, min_duration="15m")
    drawn = truth.totals("voicebot_orders_created_total", ends_of(business), 300)
    assert np.allclose(business["value"].to_numpy(), drawn["value"].to_numpy(), rtol=0.02)
    expected = obskit.periods(drawn, below=2, min_duration="15m")
    start, end = incident(truth, "store_api_outage")
    assert len(dent) == len(expected) == 1
    assert dent["start"][0] == expected["start"][0] and dent["end"][0] == expected["end"][0]
    slack = pd.Timedelta("5m") + pd.Timedelta("5m")
    assert near(dent["start"][0], start, slack) and near(dent["end"][0], end, slack)
    length = (dent["end"][0] - dent["start"][0]).total_seconds() + 300
    for days in (-1, 0, 1):
        at = dent["end"][0] + pd.Timedelta(days=days)
        seen = demo_client.query(
            f"sum(increase(voicebot_orders_created_total[{int(length)}s]))", at
        )["value"].iloc[0]
        want = truth.total("voicebot_orders_created_total", at - pd.Timedelta(seconds=length), at)
        assert close(seen, want), days
        assert (seen == 0) if days == 0 else (seen > 100)


def test_cost_per_call(demo_client, truth, week) -> None:
    """04: 0.0704 USD per call over the week; the TTS cost per call rises after the deploy."""
    window = f"{int((week[1] - week[0]).total_seconds())}s"
    seen = demo_client.query(
        f"sum(increase(voicebot_call_cost_usd_total[{window}])) / "
        f"sum(increase(voicebot_calls_total[{window}]))",
        week[1],
    )["value"].iloc[0]
    assert close(seen, truth.cost_per_call(*week))
    cost = demo_client.query_range(
        "sum by (component) (increase(voicebot_call_cost_usd_total[1h]))"
        " / on () group_left () (sum(increase(voicebot_calls_total[1h])) > 0)",
        *week,
        step="1h",
    )
    tts = cost[cost["component"] == "tts"].set_index("timestamp")["value"]
    start, _ = incident(truth, "tts_cache_cold")
    for at in (start + pd.Timedelta("1h"), start - pd.Timedelta("1D") + pd.Timedelta("1h")):
        want = truth.cost_per_call(at - pd.Timedelta("1h"), at, component="tts")
        assert close(tts[at], want), at
    assert (
        tts[start + pd.Timedelta("1h")] > 2 * tts[start - pd.Timedelta("1D") + pd.Timedelta("1h")]
    )


def test_store_api_error_ratio_plateau(demo_client, truth, week) -> None:
    """06: the new panel's query over the week: the outage is the plateau near 100 %.

    Also every point of the week matches the truth: the night has single-point spikes to 100 %
    too (one failed request out of one), so "plateau" needs a minimum duration.
    """
    expr = promql.error_ratio("voicebot_store_api_requests_total", errors='status_code=~"5.."')
    ratio = demo_client.query_range(expr, *week, step="5m")  # $__rate_interval: 5m30s here
    ends = ends_of(ratio)
    name = "voicebot_store_api_requests_total"
    errors = truth.totals(name, ends, 330, status_code=("500", "502", "503", "504"))["value"]
    total = truth.totals(name, ends, 330)["value"]
    assert (total > 0).all()  # no gaps: every point has traffic
    assert np.abs(ratio["value"].to_numpy() - (errors / total).to_numpy()).max() <= 0.01
    plateau = obskit.periods(ratio, above=0.5, min_duration="15m")
    start, end = incident(truth, "store_api_outage")
    assert len(plateau) == 1
    slack = pd.Timedelta("5m") + pd.Timedelta("5m30s")
    assert near(plateau["start"][0], start, slack) and near(plateau["end"][0], end, slack)
    inside = ratio[ratio["timestamp"].between(start + pd.Timedelta("10m"), end)]
    assert inside["value"].min() > 0.9  # "near 100 %"
    assert truth.error_ratio(start, end) > 0.9


# -- 05 system ------------------------------------------------------------------------------------


def test_postgres_backup_failed_once(demo_client, truth, week) -> None:
    """05: only the PostgreSQL backup failed, from its 02:00 run until the next night's."""
    backups = demo_client.query_range(
        "min by (component) (voicebot_backup_success)", *week, step="5m"
    )
    failed = obskit.periods(plain(backups, "component"), below=0.5)
    drawn = truth.gauges("voicebot_backup_success", ends_of(backups), by=["component"], how="min")
    expected = obskit.periods(plain(drawn, "component"), below=0.5)
    start, end = incident(truth, "backup_failed")
    assert failed["component"].tolist() == ["postgres"]
    assert failed["start"][0].tz_convert(TIMEZONE).strftime("%A %H:%M") == "Friday 02:00"
    pd.testing.assert_frame_equal(failed, expected, check_categorical=False)
    step = pd.Timedelta("5m")
    assert near(failed["start"][0], start, step) and near(failed["end"][0], end, step)
    age = demo_client.query("time() - voicebot_backup_last_success_timestamp_seconds", week[1])
    for row in age.itertuples():
        last = truth.gauge(
            "voicebot_backup_last_success_timestamp_seconds", week[1], component=row.component
        )
        assert close(row.value, week[1].timestamp() - last), row.component


def test_backups_slow_the_database(demo_client, truth, week) -> None:
    """05: median select p95 ~2x higher in 02:00-02:30 local (backup running) than otherwise."""
    expr = promql.quantile(
        0.95, "voicebot_db_query_duration_seconds", selector={"operation": "select"}, window="5m"
    )
    p95 = demo_client.query_range(expr, *week, step="5m").set_index("timestamp")["value"]
    clock = p95.index.tz_convert(TIMEZONE)
    in_backup = (clock.hour == 2) & (clock.minute > 0) & (clock.minute <= 30)
    ends = ((p95.index - pd.Timestamp(0, tz="UTC")) / pd.Timedelta(seconds=1)).to_numpy()
    drawn = truth.quantiles(
        "voicebot_db_query_duration_seconds", 0.95, ends, 300, operation="select"
    )["value"].to_numpy()
    ratios = []
    for mask in (in_backup, ~in_backup):
        seen, want = float(p95[mask].median()), float(np.nanmedian(drawn[mask]))
        lower, upper = truth.bucket_bounds("voicebot_db_query_duration_seconds", want)
        assert abs(seen - want) <= upper - lower, (seen, want)
        ratios.append((seen, want))
    assert ratios[0][0] / ratios[1][0] > 1.5 and ratios[0][1] / ratios[1][1] > 1.5


def test_disk_free_share(demo_client, truth, week) -> None:
    disk = demo_client.query("node_filesystem_avail_bytes / node_filesystem_size_bytes", week[1])
    for row in disk.itertuples():
        avail = truth.gauge("node_filesystem_avail_bytes", week[1], mountpoint=row.mountpoint)
        size = truth.gauge("node_filesystem_size_bytes", week[1], mountpoint=row.mountpoint)
        assert abs(row.value - avail / size) <= 0.01, row.mountpoint
