"""The voice bot's own metrics: calls, the STT → LLM → TTS pipeline, tools and business counters."""

from __future__ import annotations

import numpy as np

from .. import catalog as cat
from ._model import (
    Context,
    Series,
    cumulative,
    draw_events,
    fmt_le,
    histogram_counts,
    restart_index,
)

__all__ = ["app_series"]

JOB = {"job": "voicebot", "instance": "voicebot:8000"}
PEAK_CALLS_PER_SECOND = 0.45
MEAN_CALL_SECONDS = 140.0
SECONDS_PER_TURN = 18.0

# Shares and distributions (normal operation); incidents shift some of them.
OUTCOME_P = np.array([0.68, 0.24, 0.08])  # bot_resolved, operator_transfer, abandoned
OUTCOME_P_OUTAGE = np.array([0.30, 0.62, 0.08])
OUTCOME_P_SLOW = np.array([0.58, 0.27, 0.15])
SCENARIO_P = np.array([0.34, 0.22, 0.18, 0.14, 0.12])
REASON_P = np.array([0.44, 0.30, 0.01, 0.14, 0.11])
REASON_P_OUTAGE = np.array([0.10, 0.06, 0.78, 0.04, 0.02])
# Median seconds and log-sigma per outcome.
DURATION = {
    "bot_resolved": (115.0, 0.45),
    "operator_transfer": (150.0, 0.5),
    "abandoned": (35.0, 0.7),
}
STT = {"deepgram": (0.75, 0.17, 0.35), "google": (0.25, 0.24, 0.40)}  # share, median, sigma
LLM = {"gpt-4o-mini": (0.7, 0.55, 0.35), "claude-3-5-haiku": (0.3, 0.72, 0.33)}
TTS = {"elevenlabs": (0.8, 0.21, 0.30), "azure": (0.2, 0.29, 0.35)}
LLM_SLOWDOWN_FACTOR = 4.5
TTS_HIT_RATIO = 0.82
# Tool calls per call, by scenario (rows) and tool (columns, as cat.TOOLS).
TOOLS_PER_CALL = np.array(
    [
        [1.3, 0.0, 0.0, 0.0, 0.0, 0.1],  # order_status
        [0.3, 0.9, 1.6, 0.0, 0.0, 0.0],  # new_order
        [0.0, 0.0, 0.3, 0.95, 0.12, 0.4],  # fitting_booking
        [1.1, 0.0, 0.0, 0.0, 0.0, 0.05],  # return_request
        [0.0, 0.0, 1.0, 0.0, 0.0, 0.45],  # product_question
    ]
)
STATUS_P = np.array([0.985, 0.008, 0.002, 0.002, 0.001, 0.001, 0.001])
STATUS_P_OUTAGE = np.array([0.02, 0.0, 0.0, 0.03, 0.05, 0.80, 0.10])


def call_rate(ctx: Context) -> np.ndarray:
    """Expected calls per second: a daily and weekly cycle in the business time zone."""
    h = ctx.hours
    daily = (
        0.02
        + 1.0 * np.exp(-0.5 * ((h - 10.5) / 1.8) ** 2)
        + 0.85 * np.exp(-0.5 * ((h - 16.0) / 2.2) ** 2)
    )
    daily *= np.where((h >= 7.5) & (h < 21.5), 1.0, 0.15)
    weekly = np.array([1.0, 1.0, 0.97, 1.0, 0.92, 0.75, 0.45])[ctx.weekday]
    noise = np.exp(ctx.smooth_noise("call_rate", 0.08))
    return PEAK_CALLS_PER_SECOND * daily / 1.02 * weekly * noise


def app_series(ctx: Context) -> list[Series]:
    """Every voicebot series, drawn in a fixed order from per-model RNG streams."""
    out: list[Series] = []
    calls = _calls(ctx, out)
    turns = _pipeline(ctx, out, calls)
    _tools(ctx, out, calls)
    _platform(ctx, out, calls, turns)
    return out


def _counter(ctx: Context, name: str, labels: dict[str, str], inc: np.ndarray) -> Series:
    ctx.record_increments(name, labels, inc.astype(np.float64))
    values = cumulative(ctx, inc.astype(np.float64), resets=True)
    return Series(name.removesuffix("_total"), "counter", name, {**JOB, **labels}, values)


def _gauge(name: str, labels: dict[str, str], values: np.ndarray, present=None) -> Series:
    return Series(name, "gauge", name, {**JOB, **labels}, values.astype(np.float64), present)


def _histogram(ctx, name, labels, interval, observed, buckets) -> list[Series]:
    ctx.record_observations(name, labels, interval, observed)
    per_le, sums, counts = histogram_counts(interval, observed, buckets, ctx.n)
    out = []
    for i, bound in enumerate((*buckets, float("inf"))):
        le = "+Inf" if bound == float("inf") else fmt_le(bound)
        values = cumulative(ctx, per_le[:, i], resets=True)
        out.append(Series(name, "histogram", f"{name}_bucket", {**JOB, **labels, "le": le}, values))
    out.append(
        Series(
            name, "histogram", f"{name}_sum", {**JOB, **labels}, cumulative(ctx, sums, resets=True)
        )
    )
    out.append(
        Series(
            name,
            "histogram",
            f"{name}_count",
            {**JOB, **labels},
            cumulative(ctx, counts, resets=True),
        )
    )
    return out


def _calls(ctx: Context, out: list[Series]) -> dict[str, np.ndarray]:
    rng = ctx.rng("calls")
    rate = call_rate(ctx)
    ctx.truth["call_rate"] = rate
    outage, slow = ctx.during("store_api_outage"), ctx.during("llm_slowdown")
    n_calls = draw_events(rng, rate * ctx.step)
    p_out = np.where(
        outage[:, None], OUTCOME_P_OUTAGE, np.where(slow[:, None], OUTCOME_P_SLOW, OUTCOME_P)
    )
    ctx.truth["outcome_p"] = p_out
    by_scenario = rng.multinomial(n_calls, SCENARIO_P)  # n × scenario
    by_outcome = np.stack(
        [rng.multinomial(by_scenario[:, s], p_out) for s in range(len(SCENARIO_P))], 1
    )
    for s, scenario in enumerate(cat.SCENARIOS):  # by_outcome: n × scenario × outcome
        for o, outcome in enumerate(cat.OUTCOMES):
            labels = {"outcome": outcome, "scenario": scenario}
            out.append(_counter(ctx, "voicebot_calls_total", labels, by_outcome[:, s, o]))
    out.append(_gauge("voicebot_active_calls", {}, rng.poisson(rate * MEAN_CALL_SECONDS)))
    per_outcome = by_outcome.sum(axis=1)
    interval, durations = _durations(rng, per_outcome)
    out.extend(
        _histogram(ctx, "voicebot_call_duration_seconds", {}, interval, durations, cat.CALL_BUCKETS)
    )
    transfers = per_outcome[:, 1]
    p_reason = np.where(outage[:, None], REASON_P_OUTAGE, REASON_P)
    by_reason = rng.multinomial(transfers, p_reason)
    for r, reason in enumerate(cat.TRANSFER_REASONS):
        out.append(_counter(ctx, "voicebot_transfers_total", {"reason": reason}, by_reason[:, r]))
    _cost(ctx, out, interval, durations)
    return {"rate": rate, "n": n_calls, "by_scenario": by_scenario, "per_outcome": per_outcome}


def _durations(rng, per_outcome: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    intervals, values = [], []
    for o, outcome in enumerate(cat.OUTCOMES):
        median, sigma = DURATION[outcome]
        idx = np.repeat(np.arange(len(per_outcome)), per_outcome[:, o])
        intervals.append(idx)
        values.append(np.round(rng.lognormal(np.log(median), sigma, idx.size), 1))
    interval, durations = np.concatenate(intervals), np.concatenate(values)
    order = np.argsort(interval, kind="stable")
    return interval[order], durations[order]


def _cost(ctx: Context, out: list[Series], interval: np.ndarray, durations: np.ndarray) -> None:
    minutes = np.bincount(interval, weights=durations, minlength=ctx.n) / 60.0
    miss = 1.0 - _hit_ratio(ctx)
    per_minute: dict[str, float | np.ndarray] = {
        "telephony": 0.012,
        "stt": 0.0043,
        "llm": 0.0065,
        "tts": 0.009 * miss / (1 - TTS_HIT_RATIO),
    }
    for component in cat.COST_COMPONENTS:
        cost = np.round(minutes * np.asarray(per_minute[component]), 6)
        out.append(_counter(ctx, "voicebot_call_cost_usd_total", {"component": component}, cost))


def _hit_ratio(ctx: Context) -> np.ndarray:
    since = ctx.since("tts_cache_cold")
    cold = np.where(since >= 0, 0.72 * np.exp(-np.clip(since, 0, None) / 2700.0), 0.0)
    return TTS_HIT_RATIO - cold


def _pipeline(ctx: Context, out: list[Series], calls: dict) -> np.ndarray:
    rng = ctx.rng("pipeline")
    turns = draw_events(rng, calls["rate"] * MEAN_CALL_SECONDS / SECONDS_PER_TURN * ctx.step)
    slow = ctx.during("llm_slowdown")
    stages = (
        ("voicebot_stt_latency_seconds", "provider", STT, None),
        ("voicebot_llm_latency_seconds", "model", LLM, slow),
        ("voicebot_tts_latency_seconds", "provider", TTS, None),
    )
    for name, label, providers, slowed in stages:
        buckets = cat.CATALOG_BY_NAME[name].buckets
        shares = np.array([p[0] for p in providers.values()])
        split = rng.multinomial(turns, shares)
        for i, (provider, (_, median, sigma)) in enumerate(providers.items()):
            idx = np.repeat(np.arange(ctx.n), split[:, i])
            factor = np.ones(ctx.n)
            if slowed is not None and provider == "gpt-4o-mini":
                factor[slowed] = LLM_SLOWDOWN_FACTOR
            ctx.truth[f"{name}|{provider}|median"] = median * factor
            observed = rng.lognormal(np.log(median), sigma, idx.size) * factor[idx]
            out.extend(_histogram(ctx, name, {label: provider}, idx, observed, buckets))
    ratio = _hit_ratio(ctx)
    ctx.truth["tts_hit_ratio"] = ratio
    hits = rng.binomial(turns, ratio)
    out.append(_counter(ctx, "voicebot_tts_cache_hits_total", {}, hits))
    out.append(_counter(ctx, "voicebot_tts_cache_misses_total", {}, turns - hits))
    return turns


def _tools(ctx: Context, out: list[Series], calls: dict) -> None:
    rng = ctx.rng("tools")
    outage = ctx.during("store_api_outage")
    expected = calls["by_scenario"] @ TOOLS_PER_CALL  # n × tool
    tool_calls = draw_events(rng, expected)
    for t, tool in enumerate(cat.TOOLS):
        out.append(
            _counter(ctx, "voicebot_tool_calls_total", {"tool_name": tool}, tool_calls[:, t])
        )
    api_calls = tool_calls[:, :5].sum(axis=1)  # get_store_hours is answered locally
    retries = np.where(outage, rng.poisson(api_calls * 1.5), 0)
    p_status = np.where(outage[:, None], STATUS_P_OUTAGE, STATUS_P)
    by_status = rng.multinomial(api_calls + retries, p_status)
    for s, code in enumerate(cat.STATUS_CODES):
        out.append(
            _counter(
                ctx, "voicebot_store_api_requests_total", {"status_code": code}, by_status[:, s]
            )
        )
    ok = np.where(outage, 0.0, 0.97)
    orders = rng.binomial(tool_calls[:, 1], ok)
    fittings = rng.binomial(tool_calls[:, 3], np.where(outage, 0.0, 0.95))
    out.append(_counter(ctx, "voicebot_orders_created_total", {}, orders))
    out.append(_counter(ctx, "voicebot_fittings_booked_total", {}, fittings))
    ctx.truth["orders"] = orders
    ctx.truth["fittings"] = fittings


def _platform(ctx: Context, out: list[Series], calls: dict, turns: np.ndarray) -> None:
    rng = ctx.rng("platform")
    outage, slow = ctx.during("store_api_outage"), ctx.during("llm_slowdown")
    _breakers(ctx, out, outage, slow)
    out.append(
        _gauge(
            "voicebot_websocket_connections",
            {},
            rng.poisson(calls["rate"] * MEAN_CALL_SECONDS) + rng.poisson(6.0, ctx.n),
        )
    )
    limits = {
        "llm_tokens": 0.002 * turns * np.where(slow, 12.0, 1.0),
        "store_api": np.where(outage, 3.0, 0.02),
        "telephony": np.full(ctx.n, 0.01),
    }
    for limiter, expected in limits.items():
        out.append(
            _counter(
                ctx,
                "voicebot_rate_limit_events_total",
                {"limiter": limiter},
                draw_events(rng, expected),
            )
        )
    _backups(ctx, out)
    _db(ctx, out, rng, calls)
    _build_info(ctx, out)


def _breakers(ctx: Context, out: list[Series], outage: np.ndarray, slow: np.ndarray) -> None:
    state = {dep: np.zeros(ctx.n) for dep in cat.DEPENDENCIES}
    inc = ctx.incidents.get("store_api_outage")
    if inc is not None:
        after = (ctx.ts >= inc.end.timestamp()) & (ctx.ts < inc.end.timestamp() + 180)
        state["store_api"] = np.where(outage, 1.0, np.where(after, 2.0, 0.0))
        state["store_api"][outage & (ctx.ts < inc.start.timestamp() + 60)] = (
            0.0  # trips after 1 min
        )
    state["llm"] = np.where(slow, 2.0, 0.0)
    for dep in cat.DEPENDENCIES:
        out.append(_gauge("voicebot_circuit_breaker_state", {"dependency": dep}, state[dep]))
    ctx.truth["breaker_store_api"] = state["store_api"]
    ctx.truth["breaker_llm"] = state["llm"]


def _backups(ctx: Context, out: list[Series]) -> None:
    failed = ctx.incidents.get("backup_failed")
    offsets = {"postgres": 0, "redis": 900, "recordings": 1800}
    day = 86400
    for component in cat.BACKUP_COMPONENTS:
        # Nightly runs at 02:00 local (+ offset): the local clock tells when the run happened.
        local_seconds = np.rint(ctx.hours * 3600).astype(np.int64)
        run_today = ctx.ts - local_seconds + 7200 + offsets[component]
        last_run = np.where(ctx.ts >= run_today, run_today, run_today - day)
        success = np.ones(ctx.n)
        last_ok = last_run.astype(np.float64)
        if component == "postgres" and failed is not None:
            bad_run = failed.start.timestamp()
            is_bad = last_run == bad_run
            success[is_bad] = 0.0
            last_ok[is_bad] = bad_run - day
        out.append(_gauge("voicebot_backup_success", {"component": component}, success))
        out.append(
            _gauge(
                "voicebot_backup_last_success_timestamp_seconds", {"component": component}, last_ok
            )
        )


def _db(ctx: Context, out: list[Series], rng, calls: dict) -> None:
    per_call = {
        "select": (12.0, 0.0028, 0.55),
        "insert": (2.0, 0.0045, 0.5),
        "update": (1.5, 0.006, 0.5),
    }
    h = ctx.hours
    backup = (h >= 2.0) & (h < 2.4)
    for op, (count, median, sigma) in per_call.items():
        n = draw_events(rng, calls["rate"] * ctx.step * count + 0.05 * ctx.step)
        idx = np.repeat(np.arange(ctx.n), n)
        factor = np.where(backup, 2.2, 1.0)[idx]
        observed = rng.lognormal(np.log(median), sigma, idx.size) * factor
        out.extend(
            _histogram(
                ctx,
                "voicebot_db_query_duration_seconds",
                {"operation": op},
                idx,
                observed,
                cat.DB_BUCKETS,
            )
        )


def _build_info(ctx: Context, out: list[Series]) -> None:
    idx = restart_index(ctx)
    cut = ctx.n if idx is None else idx
    before = np.arange(ctx.n) < cut
    out.append(_gauge("voicebot_build_info", {"version": "1.14.2"}, np.ones(ctx.n), before))
    if idx is not None:
        out.append(_gauge("voicebot_build_info", {"version": "1.15.0"}, np.ones(ctx.n), ~before))
