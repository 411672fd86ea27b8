"""Every panel query of every dashboard shows what the demo's ground truth says it should.

A query that runs and returns data can still answer the wrong question. Each panel target is
mapped (``TABLE``, keyed by dashboard, panel title and refId) to the truth it claims to show,
computed from the draws in ``obskit.demo.truth``. Each target is expanded the way Grafana would
(``obskit.dashboards._plan.plan``, the code behind ``obskit dashboards check``) for a 6 h and a 7 d
dashboard range (and the dashboard's own default range), with template variables at their
defaults and at non-default values (``ALTERNATIVES``: the first at 6 h, the second at 7 d), as
if "now" were each of 73 instants: every 3 h over the 7-day span plus every 15 min inside each
scripted incident shorter than 6 h (the day-long backup failure holds eight of the 3 h ones; see
``_truth.instant_runs``). The values are compared with the truth at each instant.

Tolerances, and why:

- counts, rates and gauges (kind ``count``): within 2 % relative. At whole-scrape instants and
  windows Prometheus' ``increase()``/``rate()`` sees exactly the drawn increments in
  ``(t - w, t]`` (no extrapolation is needed when the window starts on a sample), so the real
  error is ~0; 2 % is the issue's bound. A zero truth needs a zero answer. The one place a
  deviation shows (up to 1.5 %) is a window reaching back before the first sample (the 7 d
  range and "today" on the data's first day): Prometheus extrapolates towards the window start,
  the truth has nothing there.
- ratios 0..1 (kind ``ratio``): within 1 percentage point, absolute.
- quantiles (kind ``quantile``): within the width of the histogram bucket that holds the true
  quantile (numpy's default linear quantile of the raw, unbucketed observations pooled over
  everything the query aggregates). A true quantile above the last finite bound can only be
  reported as that bound, so there the answer must equal at least that bound.
  Low traffic: this comparison is made only where at least ``MIN_TAIL`` = 5 observations lie
  above the quantile (n · (1 - q) >= 5: p50 needs 10, p95 100, p99 500 observations in the
  window). Below that the q-quantile is decided by a few samples, and the linear interpolation
  between them and ``histogram_quantile``'s rank ``q · n`` can land in different buckets for
  reasons that say nothing about the query. Measured over every quantile target here: with
  n · (1 - q) > 5 the largest deviation was 0.59 bucket widths; at 2-5 it reached 1.5, below 2
  it reached 3.2. Those instants are not skipped but checked exactly in a weaker way
  ("bucket-only"): the answer must lie in the bucket of the observation of rank ceil(q · n)
  (or the next one when q · n is whole), which is the bucket ``histogram_quantile`` locates
  whatever n is. Night-time windows, the 6 h range's 2 min windows for p99 (at most ~300
  observations per provider at peak) and call-duration p95 (at most ~55 calls) are all
  bucket-only; ``test_report`` lists, per setting, how many instants were compared in full,
  and every quantile target has at least 20 such instants over its settings.
- states (kind ``state``: circuit breakers, backup status): exact.
- calm panels (issue 18): a ratio of events with ``min_volume`` (``Ratio.min_volume``) and a
  quantile with ``min_count`` (``Quantile.min_count``) must show *no value* where the window
  holds fewer events / observations than that (20): the truth is NaN there and compared
  exactly, so a panel showing "1 failed of 2" at night fails. ``test_report`` lists how many
  values each guard hid; ``test_calm_panel_shows_nothing_below_its_minimum`` checks it did.
- "today" stats are checked from two scrapes after local midnight (``increase()`` needs two
  samples; at 00:00:00 Grafana shows "No data", not 0).

Windows come from Grafana's rules, not from the query text: ``rate`` is the panel's
``$__rate_interval`` (from its max data points and the 30 s scrape interval), ``range`` the
dashboard's range, ``today`` the time since local midnight in the dashboard's zone, a number a
fixed window. So a query that uses another window than the one the panel's claim implies fails.

Run with ``-rP`` to see the per-panel table of the largest deviations (``test_report``).
"""

from __future__ import annotations

import math

import pytest
from _truth import (
    COUNT_REL,
    MIN_TAIL,
    RATIO_PP,
    Counter,
    Gauge,
    GaugeRatio,
    Outcome,
    Quantile,
    Ratio,
    Spec,
    Target,
    all_instants,
    default_settings,
    evaluate,
    instant_runs,
    load_boards,
    plan_targets,
)

from obskit import catalog as cat
from obskit import panels as p
from obskit.demo.truth import truth as demo_truth
from obskit.promql._builders import volume_guard

pytestmark = pytest.mark.prometheus

APP, BIZ, SYS = "Application Metrics", "Business Dashboard", "System Overview"
BOARDS = load_boards()

#: Non-default variable choices tried on each dashboard (each at 6 h and 7 d).
ALTERNATIVES: dict[str, list[dict[str, list[str]]]] = {
    APP: [
        {"stt_provider": ["google"], "llm_model": ["gpt-4o-mini"], "tts_provider": ["azure"]},
        {"stt_provider": ["deepgram", "google"], "llm_model": ["claude-3-5-haiku", "gpt-4o-mini"],
         "tts_provider": ["elevenlabs"]},
    ],
    BIZ: [{"scenario": ["new_order"]}, {"scenario": ["order_status", "return_request"]}],
    SYS: [{"device": ["eth0"], "mountpoint": ["/var/lib/postgresql"]}, {"mountpoint": ["/"]}],
}  # fmt: skip

CALLS = ("voicebot_calls_total",)
NON_2XX = tuple(c for c in cat.STATUS_CODES if not c.startswith("2"))
FIVE_XX = tuple(c for c in cat.STATUS_CODES if c.startswith("5"))
SCENARIO = {"scenario": "scenario"}
NOT_LOOPBACK = {"device": ("eth0",)}  # the demo host's devices are eth0 and lo


#: Calm panels (issue 18): ratios of events need this many in the window, quantiles this many
#: observations; below that the panel must show nothing (the truth says NaN there).
MIN_VOLUME, MIN_OBS = p.MIN_VOLUME, p.MIN_OBSERVATIONS


def _latency(family: str, label: str, variable: str) -> dict[str, Spec]:
    return {
        ref: Quantile(family, q, labels=(label,), variables={label: variable}, min_count=MIN_OBS)
        for ref, q in (("A", 0.5), ("B", 0.95), ("C", 0.99))
    }


def _today(names: tuple[str, ...], **variables: str) -> Counter:
    return Counter(names, window="today", per_second=False, variables=variables)


def _in_range(labels: tuple[str, ...] = (), **kw) -> Counter:
    return Counter(kw.pop("names", CALLS), window="range", per_second=False, labels=labels, **kw)


#: Dashboard, panel title, refId -> the truth that target shows.
# fmt: off
TABLE: dict[tuple[str, str, str], Spec] = {
    (APP, "Active calls", "A"): Gauge("voicebot_active_calls"),
    (APP, "Call rate", "A"): Counter(CALLS, scale=60.0),
    (APP, "WebSocket connections", "A"): Gauge("voicebot_websocket_connections"),
    (APP, "TTS cache hit rate", "A"): Ratio(
        Counter(("voicebot_tts_cache_hits_total",)),
        Counter(("voicebot_tts_cache_hits_total", "voicebot_tts_cache_misses_total")),
        kind="ratio", min_volume=MIN_VOLUME,
    ),
    (APP, "Circuit breakers", "A"): Gauge(
        "voicebot_circuit_breaker_state", "max", labels=("dependency",), kind="state"
    ),
    (APP, "Call duration p50 / p95", "A"): Quantile(
        "voicebot_call_duration_seconds", 0.5, min_count=MIN_OBS
    ),
    (APP, "Call duration p50 / p95", "B"): Quantile(
        "voicebot_call_duration_seconds", 0.95, min_count=MIN_OBS
    ),
    (APP, "Store API errors", "A"): Counter(
        ("voicebot_store_api_requests_total",), labels=("status_code",),
        match={"status_code": NON_2XX},
    ),
    **{(APP, "STT latency", ref): spec for ref, spec in
       _latency("voicebot_stt_latency_seconds", "provider", "stt_provider").items()},
    **{(APP, "LLM latency", ref): spec for ref, spec in
       _latency("voicebot_llm_latency_seconds", "model", "llm_model").items()},
    **{(APP, "TTS latency", ref): spec for ref, spec in
       _latency("voicebot_tts_latency_seconds", "provider", "tts_provider").items()},
    (APP, "Store API error ratio", "A"): Ratio(
        Counter(("voicebot_store_api_requests_total",), match={"status_code": FIVE_XX}),
        Counter(("voicebot_store_api_requests_total",)),
        kind="ratio", min_volume=MIN_VOLUME,
    ),
    (APP, "Rate-limit events", "A"): Counter(
        ("voicebot_rate_limit_events_total",), labels=("limiter",)
    ),
    (APP, "Backup status", "A"): Gauge(
        "voicebot_backup_success", "min", labels=("component",), kind="state"
    ),
    (BIZ, "Calls today", "A"): _today(CALLS, **SCENARIO),
    (BIZ, "Orders created today", "A"): _today(("voicebot_orders_created_total",)),
    (BIZ, "Fittings booked today", "A"): _today(("voicebot_fittings_booked_total",)),
    (BIZ, "Bot resolution rate", "A"): Ratio(
        _in_range(match={"outcome": "bot_resolved"}, variables=SCENARIO),
        _in_range(variables=SCENARIO),
        kind="ratio", min_volume=MIN_VOLUME,
    ),
    (BIZ, "Calls per hour", "A"): Counter(
        CALLS, window=3600.0, per_second=False, labels=("outcome",), variables=SCENARIO
    ),
    (BIZ, "Scenario distribution", "A"): _in_range(("scenario",), variables=SCENARIO),
    (BIZ, "Resolution: bot vs operator", "A"): _in_range(
        ("outcome",), match={"outcome": ("bot_resolved", "operator_transfer")},
        variables=SCENARIO,
    ),
    (BIZ, "Tool usage", "A"): _in_range(("tool_name",), names=("voicebot_tool_calls_total",)),
    (BIZ, "Transfer reasons", "A"): _in_range(("reason",), names=("voicebot_transfers_total",)),
    (BIZ, "Average call cost", "A"): Ratio(  # USD per call: an amount, so 2 % relative
        Counter(("voicebot_call_cost_usd_total",)), Counter(CALLS), kind="count"
    ),
    (SYS, "CPU busy", "A"): Ratio(  # busy = 1 - idle seconds / all CPU seconds, over all cores
        Counter(("node_cpu_seconds_total",), match={"mode": "idle"}),
        Counter(("node_cpu_seconds_total",)),
        complement=True,
        kind="ratio",
    ),
    (SYS, "Memory used", "A"): GaugeRatio(
        Gauge("node_memory_MemAvailable_bytes"), Gauge("node_memory_MemTotal_bytes"),
        complement=True, kind="ratio",
    ),
    (SYS, "Disk used", "A"): GaugeRatio(
        Gauge("node_filesystem_avail_bytes", labels=("mountpoint",),
              variables={"mountpoint": "mountpoint"}),
        Gauge("node_filesystem_size_bytes", labels=("mountpoint",),
              variables={"mountpoint": "mountpoint"}),
        complement=True, kind="ratio", labels=("mountpoint",),
    ),
    (SYS, "Network I/O", "A"): Counter(
        ("node_network_receive_bytes_total",), labels=("device",), match=NOT_LOOPBACK,
        variables={"device": "device"},
    ),
    (SYS, "Network I/O", "B"): Counter(
        ("node_network_transmit_bytes_total",), labels=("device",), match=NOT_LOOPBACK,
        variables={"device": "device"},
    ),
    (SYS, "Redis memory", "A"): Gauge("redis_memory_used_bytes"),
    (SYS, "Redis memory", "B"): Gauge("redis_memory_max_bytes"),
    (SYS, "PostgreSQL connections", "A"): Gauge("pg_stat_activity_count", labels=("state",)),
    (SYS, "PostgreSQL query latency p95", "A"): Quantile(
        "voicebot_db_query_duration_seconds", 0.95, labels=("operation",), min_count=MIN_OBS
    ),
    (SYS, "Redis connections", "A"): Gauge("redis_connected_clients"),
    (SYS, "Redis ops/sec", "A"): Counter(("redis_commands_processed_total",)),
}
# fmt: on

MIN_INSTANTS = 20


def panel_targets() -> set[tuple[str, str, str]]:
    """Every (dashboard, panel title, refId) in the committed dashboards."""
    return {
        (title, str(panel["title"]), str(target["refId"]))
        for title, board in BOARDS.items()
        for panel in board["panels"]
        for target in panel.get("targets") or []
    }


def all_targets(instants) -> list[Target]:
    out = []
    for title, board in BOARDS.items():
        settings = default_settings(board, ALTERNATIVES.get(title, []))
        out += plan_targets(board, settings, instants)
    return out


@pytest.fixture(scope="module")
def evaluation(demo, demo_client) -> list[tuple[Target, Outcome]]:
    """Every target under every setting at every instant, compared with the truth (once)."""
    truth = demo_truth(demo.spec)
    runs = instant_runs(truth)
    return evaluate(demo_client, truth, all_targets(all_instants(runs)), TABLE, runs)


def test_every_panel_target_has_a_truth_entry() -> None:
    missing = sorted(panel_targets() - set(TABLE))
    stale = sorted(set(TABLE) - panel_targets())
    assert not missing, f"panel targets without a truth check: {missing}"
    assert not stale, f"truth entries for panels that no longer exist: {stale}"


def test_every_variable_is_tried_at_a_non_default_value() -> None:
    for title, board in BOARDS.items():
        declared = {v["name"] for v in board.get("templating", {}).get("list", [])}
        tried = {name for alt in ALTERNATIVES.get(title, []) for name in alt}
        assert declared <= tried, f"{title}: no non-default value tried for {declared - tried}"


def test_instants_cover_the_span_and_every_incident(demo) -> None:
    truth = demo_truth(demo.spec)
    instants = all_instants(instant_runs(truth))
    assert len(instants) >= MIN_INSTANTS
    assert instants.min() <= truth.start + 6 * 3600 and instants.max() == truth.end
    for row in truth.incidents().itertuples():
        inside = (instants > row.start.timestamp()) & (instants < row.end.timestamp())
        assert inside.sum() >= 2, f"fewer than two instants inside {row.name}"


@pytest.mark.parametrize("key", sorted(TABLE), ids=" / ".join)
def test_panel_shows_the_truth(key, evaluation) -> None:
    outcomes = [o for t, o in evaluation if t.key == key]
    assert outcomes, f"{key} was not evaluated"
    failures = [f"{o.target}: {f}" for o in outcomes for f in o.failures]
    assert not failures, "\n".join(failures)
    for o in outcomes:
        assert o.instants >= MIN_INSTANTS, f"{o.target}: only {o.instants} instants checked"
    compared = sum(o.tolerance_instants for o in outcomes)
    assert compared >= MIN_INSTANTS, f"{key}: only {compared} instants compared within tolerance"


#: Ratio panels that are not shares of counted events, so need no minimum volume.
NOT_EVENTS = {(SYS, "CPU busy", "A")}  # CPU seconds: a busy share, whatever the volume


def _guard(key: tuple[str, str, str]) -> int | None:
    board = BOARDS[key[0]]
    (expr,) = [t["expr"] for pn in board["panels"] if pn["title"] == key[1]
               for t in pn["targets"] if t["refId"] == key[2]]  # fmt: skip
    return volume_guard(expr)


def test_every_ratio_and_quantile_panel_is_calm() -> None:
    """Every share of events needs MIN_VOLUME events, every quantile MIN_OBS observations: in
    the query (its guard) and in the truth (which then expects no value below it)."""
    for key, spec in TABLE.items():
        if isinstance(spec, Ratio) and spec.kind == "ratio" and key not in NOT_EVENTS:
            assert spec.min_volume == MIN_VOLUME and _guard(key) == MIN_VOLUME, key
        if isinstance(spec, Quantile):
            assert spec.min_count == MIN_OBS and _guard(key) == MIN_OBS, key


@pytest.mark.parametrize(
    "key", sorted(k for k, s in TABLE.items() if getattr(s, "min_volume", None)
                  or getattr(s, "min_count", None)), ids=" / ".join,
)  # fmt: skip
def test_calm_panel_shows_nothing_below_its_minimum(key, evaluation) -> None:
    """No ratio panel shows a value from fewer than MIN_VOLUME events, no quantile panel from
    fewer than MIN_OBS observations (compared exactly: the truth is NaN there, so any value
    shown fails ``test_panel_shows_the_truth``); here: the guard was really exercised."""
    outcomes = [o for t, o in evaluation if t.key == key]
    hidden = sum(o.hidden for o in outcomes)
    assert not [f for o in outcomes for f in o.failures]
    assert hidden > 0, f"{key}: no instant had too few events, the guard was never tested"


def report(evaluation: list[tuple[Target, Outcome]]) -> str:
    """A markdown table: per panel target, the largest deviation over all settings/instants."""
    lines = [
        "| dashboard | panel | ref | kind | values compared | bucket-only | hidden (too few) "
        "| largest deviation | share of tolerance | where (UTC, setting) "
        "| instants within tolerance per setting |",
        "|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for key in sorted(TABLE):
        pairs = [(t, o) for t, o in evaluation if t.key == key]
        worst = max((o for _, o in pairs), key=lambda o: o.worst)
        kind, raw = TABLE[key].kind, worst.worst_raw
        shown = {
            "count": f"{raw * 100:.2g} % (rel)", "ratio": f"{raw * 100:.2g} pp",
            "quantile": f"{raw:.2g} bucket widths", "state": "0" if raw == 0 else "differs",
        }[kind]  # fmt: skip
        setting = worst.target.rsplit("[", 1)[-1].rstrip("]")
        per_setting = ", ".join(
            f"{t.setting.label}: {o.tolerance_instants}/{len(t.instants)}" for t, o in pairs
        )
        lines.append(
            f"| {key[0]} | {key[1]} | {key[2]} | {kind} | {sum(o.compared for _, o in pairs)} | "
            f"{sum(o.rank_checked for _, o in pairs)} | {sum(o.hidden for _, o in pairs)} | "
            f"{shown} | {worst.worst:.2g} | "
            f"{worst.worst_at} {setting} | {per_setting if kind == 'quantile' else 'all'} |"
        )
    tolerances = (
        f"Tolerances: count {COUNT_REL:.0%} relative, ratio {RATIO_PP * 100:g} pp, quantile one "
        f"bucket width where n·(1-q) >= {MIN_TAIL:g} (else bucket-only: the answer must lie in "
        "the bucket of the observation histogram_quantile's rank points at), state exact."
    )
    return "\n".join([*lines, "", tolerances])


def test_report(evaluation) -> None:
    text = report(evaluation)
    print(text)  # shown with pytest -rP
    assert all(math.isfinite(o.worst) and o.worst <= 1 for _, o in evaluation)
