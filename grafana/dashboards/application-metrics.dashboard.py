"""Application Metrics: calls, the STT → LLM → TTS pipeline and the bot's dependencies."""

from obskit import panels as p
from obskit.promql import cache_hit_rate, quantile

RATE = "[$__rate_interval]"
QS = (0.5, 0.95, 0.99)
#: Observations per hour of each histogram's quietest series in the demo's quietest hour of
#: its service day (Sunday 19:00-20:00 Europe/Berlin); re-measured by tests/test_calm_panels.py.
#: Quantile panels take their min interval from these (obskit.panels.quantile_interval).
QUIET = {
    "voicebot_call_duration_seconds": 195,
    "voicebot_stt_latency_seconds": 371,  # google
    "voicebot_llm_latency_seconds": 440,  # claude-3-5-haiku
    "voicebot_tts_latency_seconds": 325,  # azure
}


def latency(title, family, label, variable, description):
    """p50/p95/p99 of one pipeline stage's histogram, one line per quantile and `label`."""
    selector = {label: ("=~", f"${variable}")}
    exprs = [quantile(q, family, [label], selector, min_count=p.MIN_OBSERVATIONS) for q in QS]
    legends = [f"p{q * 100:g} {{{{{label}}}}}" for q in QS]
    targets = [p.target(expr, legend) for expr, legend in zip(exprs, legends, strict=True)]
    interval = p.quantile_interval(exprs[0], QUIET[family])
    return p.timeseries(title, description, targets, unit="s", interval=interval)


def calm_quantiles(family, qs):
    """One guarded quantile query per q of `family`, and the min interval its panel needs."""
    exprs = [quantile(q, family, min_count=p.MIN_OBSERVATIONS) for q in qs]
    return exprs, p.quantile_interval(exprs[0], QUIET[family])


active_calls = p.stat(
    "Active calls",
    "Calls in progress right now (voicebot_active_calls).",
    [p.target("sum(voicebot_active_calls)", "active calls", instant=True)],
    unit="short",
)
call_rate = p.stat(
    "Call rate",
    "Finished calls per minute, all outcomes and scenarios.",
    [p.target(f"sum(rate(voicebot_calls_total{RATE})) * 60", "calls/min", instant=True)],
    unit="cpm",
    decimals=1,
)
websockets = p.stat(
    "WebSocket connections",
    "Open WebSocket connections: telephony media streams and agent consoles.",
    [p.target("sum(voicebot_websocket_connections)", "connections", instant=True)],
    unit="short",
)
cache_hits = p.gauge(
    "TTS cache hit rate",
    "Share of TTS phrases served from the cache: hits / (hits + misses).",
    [p.target(cache_hit_rate(), "hit rate", instant=True)],
    unit="percentunit",
    steps=p.thresholds("red", (0.5, "orange"), (0.7, "green")),
)
breakers = p.stat(
    "Circuit breakers",
    "Circuit-breaker state per dependency: CLOSED (ok), OPEN (failing fast), HALF-OPEN (probing).",
    [
        p.target(
            "max by (dependency) (voicebot_circuit_breaker_state)", "{{dependency}}", instant=True
        )
    ],
    unit="short",
    value_mappings=p.mappings(
        {0: ("CLOSED", "green"), 1: ("OPEN", "red"), 2: ("HALF-OPEN", "orange")}
    ),
)
durations, duration_interval = calm_quantiles("voicebot_call_duration_seconds", (0.5, 0.95))
call_duration = p.timeseries(
    "Call duration p50 / p95",
    "Duration of finished calls from answer to hang-up (voicebot_call_duration_seconds).",
    [p.target(durations[0], "p50"), p.target(durations[1], "p95")],
    unit="s",
    interval=duration_interval,
)
store_errors = p.timeseries(
    "Store API errors",
    "Store API responses per second that were not 2xx, by HTTP status code.",
    [
        p.target(
            "sum by (status_code) (rate(voicebot_store_api_requests_total"
            f'{{status_code!~"2.."}}{RATE}))',
            "{{status_code}}",
        )
    ],
    unit="reqps",
)
stt = latency(
    "STT latency", "voicebot_stt_latency_seconds", "provider", "stt_provider",
    "Speech-to-text latency per utterance, p50/p95/p99 by provider ($stt_provider).",
)  # fmt: skip
llm = latency(
    "LLM latency", "voicebot_llm_latency_seconds", "model", "llm_model",
    "LLM response latency per turn, p50/p95/p99 by model ($llm_model).",
)  # fmt: skip
tts = latency(
    "TTS latency", "voicebot_tts_latency_seconds", "provider", "tts_provider",
    "Text-to-speech latency to first audio byte, p50/p95/p99 by provider ($tts_provider).",
)  # fmt: skip
rate_limits = p.timeseries(
    "Rate-limit events",
    "Requests delayed or refused per second, by rate limiter.",
    [p.target(f"sum by (limiter) (rate(voicebot_rate_limit_events_total{RATE}))", "{{limiter}}")],
    unit="cps",
)
backups = p.stat(
    "Backup status",
    "Whether each component's last nightly backup succeeded (voicebot_backup_success).",
    [p.target("min by (component) (voicebot_backup_success)", "{{component}}", instant=True)],
    unit="bool",
    value_mappings=p.mappings({1: ("OK", "green"), 0: ("FAILED", "red")}),
)

dashboard = p.dashboard(
    "Application Metrics",
    uid="obskit-application-metrics",
    description="The voice bot: call load, pipeline latency, dependencies and backups.",
    variables=[
        p.variable(
            "stt_provider", "voicebot_stt_latency_seconds_count", "provider", text="STT provider"
        ),
        p.variable("llm_model", "voicebot_llm_latency_seconds_count", "model", text="LLM model"),
        p.variable(
            "tts_provider", "voicebot_tts_latency_seconds_count", "provider", text="TTS provider"
        ),
    ],
    rows=[
        p.row(
            5, (active_calls, 4), (call_rate, 4), (websockets, 4), (cache_hits, 4), (breakers, 8)
        ),
        p.row(8, call_duration, store_errors),
        p.row(8, stt, llm, tts),
        p.row(6, (rate_limits, 16), (backups, 8)),
    ],
    source=__file__,
)
