"""The voice bot's metric catalog: one source of truth for names, types, units and labels.

The demo generator draws every series listed here, lint reads metric types from it,
panels take their units from it and notebooks list and search it.
"""

from __future__ import annotations

import difflib
import re
from collections.abc import Iterable
from dataclasses import dataclass, field

import pandas as pd

__all__ = ["CATALOG", "Metric", "closest_names", "find_metric", "metric_names", "search", "table"]

_TYPES = ("counter", "gauge", "histogram", "summary", "info")
_NAME = re.compile(r"^[a-zA-Z_:][a-zA-Z0-9_:]*$")


@dataclass(frozen=True)
class Metric:
    """One metric family as the application (or a real exporter) exposes it.

    ``name`` is the family name as queried: counters carry ``_total``, histograms
    are queried through ``_bucket``/``_sum``/``_count``. ``values`` maps each label
    to the values the demo uses. ``unit`` is a Grafana unit id (``s``, ``bytes``,
    ``percentunit``, ``currencyUSD``, ``short``, ...).
    """

    name: str
    type: str
    unit: str
    help: str
    labels: tuple[str, ...] = ()
    values: dict[str, tuple[str, ...]] = field(default_factory=dict)
    source: str = "voicebot"
    buckets: tuple[float, ...] = ()

    def __post_init__(self) -> None:
        if not _NAME.match(self.name):
            raise ValueError(f"metric name {self.name!r} is not a valid Prometheus name")
        if self.type not in _TYPES:
            raise ValueError(f"{self.name}: type must be one of {_TYPES}, got {self.type!r}")
        if (
            self.type == "counter"
            and self.source == "voicebot"
            and not self.name.endswith("_total")
        ):
            raise ValueError(f"{self.name}: counters end in _total, e.g. voicebot_calls_total")
        if self.type == "histogram" and not self.buckets:
            raise ValueError(f"{self.name}: a histogram needs buckets, e.g. (0.1, 0.5, 1.0)")
        missing = set(self.values) - set(self.labels)
        if missing:
            raise ValueError(f"{self.name}: values given for undeclared labels {sorted(missing)}")

    @property
    def series_names(self) -> tuple[str, ...]:
        """Names that appear in Prometheus for this family."""
        if self.type == "histogram":
            return (f"{self.name}_bucket", f"{self.name}_sum", f"{self.name}_count")
        return (self.name,)

    @property
    def job(self) -> str:
        return {"voicebot": "voicebot"}.get(self.source, self.source.removesuffix("_exporter"))


def _m(
    name: str, type_: str, unit: str, help_: str, source: str = "voicebot", buckets=(), **values
):
    return Metric(
        name=name,
        type=type_,
        unit=unit,
        help=help_,
        labels=tuple(values),
        values={k: tuple(v) for k, v in values.items()},
        source=source,
        buckets=tuple(buckets),
    )


OUTCOMES = ("bot_resolved", "operator_transfer", "abandoned")
SCENARIOS = ("order_status", "new_order", "fitting_booking", "return_request", "product_question")
TRANSFER_REASONS = (
    "customer_request",
    "low_confidence",
    "store_api_unavailable",
    "payment_issue",
    "complaint",
)
TOOLS = (
    "lookup_order",
    "create_order",
    "check_inventory",
    "book_fitting",
    "cancel_fitting",
    "get_store_hours",
)
DEPENDENCIES = ("store_api", "llm", "stt", "tts")
STATUS_CODES = ("200", "404", "429", "500", "502", "503", "504")
BACKUP_COMPONENTS = ("postgres", "redis", "recordings")
COST_COMPONENTS = ("telephony", "stt", "llm", "tts")

SPEECH_BUCKETS = (0.05, 0.1, 0.15, 0.2, 0.25, 0.3, 0.35, 0.4, 0.5, 0.6, 0.75, 1.0, 1.5, 2.0, 3.0)
LLM_BUCKETS = (0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9, 1.0, 1.2, 1.4, 1.6, 2.0, 2.5, 3.0,
               3.5, 4.0, 5.0, 6.0, 8.0, 10.0)  # fmt: skip
CALL_BUCKETS = (15.0, 30.0, 45.0, 60.0, 90.0, 120.0, 150.0, 180.0, 240.0, 300.0, 420.0, 600.0)
DB_BUCKETS = (0.001, 0.002, 0.003, 0.005, 0.0075, 0.01, 0.015, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0)

CATALOG: tuple[Metric, ...] = (
    # -- calls -------------------------------------------------------------
    _m("voicebot_active_calls", "gauge", "short", "Calls in progress right now."),
    _m("voicebot_calls_total", "counter", "short",
       "Finished calls by outcome and scenario.", outcome=OUTCOMES, scenario=SCENARIOS),
    _m("voicebot_call_duration_seconds", "histogram", "s",
       "Duration of finished calls, from answer to hang-up.", buckets=CALL_BUCKETS),
    _m("voicebot_transfers_total", "counter", "short",
       "Calls handed to a human operator, by reason.", reason=TRANSFER_REASONS),
    _m("voicebot_call_cost_usd_total", "counter", "currencyUSD",
       "Money spent on finished calls, by cost component.", component=COST_COMPONENTS),
    # -- voice pipeline ----------------------------------------------------
    _m("voicebot_stt_latency_seconds", "histogram", "s",
       "Speech-to-text latency per utterance, by provider.",
       buckets=SPEECH_BUCKETS, provider=("deepgram", "google")),
    _m("voicebot_llm_latency_seconds", "histogram", "s",
       "LLM response latency per turn, by model.",
       buckets=LLM_BUCKETS, model=("gpt-4o-mini", "claude-3-5-haiku")),
    _m("voicebot_tts_latency_seconds", "histogram", "s",
       "Text-to-speech latency to first audio byte, by provider.",
       buckets=SPEECH_BUCKETS, provider=("elevenlabs", "azure")),
    _m("voicebot_tts_cache_hits_total", "counter", "short", "TTS phrases served from the cache."),
    _m("voicebot_tts_cache_misses_total", "counter", "short",
       "TTS phrases synthesised because the cache missed."),
    _m("voicebot_circuit_breaker_state", "gauge", "short",
       "Circuit-breaker state per dependency: 0 closed, 1 open, 2 half-open.",
       dependency=DEPENDENCIES),
    _m("voicebot_store_api_requests_total", "counter", "short",
       "Requests to the store API, by HTTP status code.", status_code=STATUS_CODES),
    _m("voicebot_websocket_connections", "gauge", "short",
       "Open WebSocket connections (telephony media streams and agent consoles)."),
    _m("voicebot_rate_limit_events_total", "counter", "short",
       "Requests delayed or refused by a rate limiter, by limiter.",
       limiter=("llm_tokens", "store_api", "telephony")),
    _m("voicebot_backup_success", "gauge", "bool",
       "1 if the component's last nightly backup succeeded, 0 if it failed.",
       component=BACKUP_COMPONENTS),
    _m("voicebot_backup_last_success_timestamp_seconds", "gauge", "dateTimeAsIso",
       "Unix time of the component's last successful backup.", component=BACKUP_COMPONENTS),
    _m("voicebot_db_query_duration_seconds", "histogram", "s",
       "PostgreSQL query latency measured by the application, by operation.",
       buckets=DB_BUCKETS, operation=("select", "insert", "update")),
    _m("voicebot_build_info", "gauge", "short",
       "Always 1; labels name the running build.", version=("1.14.2", "1.15.0")),
    # -- business ----------------------------------------------------------
    _m("voicebot_orders_created_total", "counter", "short", "Orders created by the bot."),
    _m("voicebot_fittings_booked_total", "counter", "short",
       "In-store fitting appointments booked by the bot."),
    _m("voicebot_tool_calls_total", "counter", "short",
       "Tool calls the LLM made, by tool.", tool_name=TOOLS),
    # -- system: node_exporter ---------------------------------------------
    _m("node_cpu_seconds_total", "counter", "s", "Seconds the CPUs spent in each mode.",
       source="node_exporter", cpu=("0", "1", "2", "3"),
       mode=("idle", "iowait", "irq", "nice", "softirq", "steal", "system", "user")),
    _m("node_memory_MemTotal_bytes", "gauge", "bytes", "Memory information field MemTotal_bytes.",
       source="node_exporter"),
    _m("node_memory_MemAvailable_bytes", "gauge", "bytes",
       "Memory information field MemAvailable_bytes.", source="node_exporter"),
    _m("node_filesystem_size_bytes", "gauge", "bytes", "Filesystem size in bytes.",
       source="node_exporter", device=("/dev/vda1", "/dev/vdb1"), fstype=("ext4",),
       mountpoint=("/", "/var/lib/postgresql")),
    _m("node_filesystem_avail_bytes", "gauge", "bytes",
       "Filesystem space available to non-root users in bytes.",
       source="node_exporter", device=("/dev/vda1", "/dev/vdb1"), fstype=("ext4",),
       mountpoint=("/", "/var/lib/postgresql")),
    _m("node_network_receive_bytes_total", "counter", "bytes",
       "Network device statistic receive_bytes.", source="node_exporter", device=("eth0", "lo")),
    _m("node_network_transmit_bytes_total", "counter", "bytes",
       "Network device statistic transmit_bytes.", source="node_exporter", device=("eth0", "lo")),
    # -- system: postgres_exporter -----------------------------------------
    _m("pg_up", "gauge", "bool", "Whether the last scrape of metrics from PostgreSQL was able to "
       "connect to the server (1 for yes, 0 for no).", source="postgres_exporter"),
    _m("pg_stat_activity_count", "gauge", "short", "number of connections in this state",
       source="postgres_exporter", datname=("voicebot",),
       state=("active", "idle", "idle in transaction")),
    _m("pg_settings_max_connections", "gauge", "short",
       "Sets the maximum number of concurrent connections.", source="postgres_exporter"),
    _m("pg_stat_database_xact_commit", "counter", "short",
       "Number of transactions in this database that have been committed",
       source="postgres_exporter", datname=("voicebot",)),
    _m("pg_stat_database_xact_rollback", "counter", "short",
       "Number of transactions in this database that have been rolled back",
       source="postgres_exporter", datname=("voicebot",)),
    # -- system: redis_exporter --------------------------------------------
    _m("redis_up", "gauge", "bool", "Information about the Redis instance",
       source="redis_exporter"),
    _m("redis_memory_used_bytes", "gauge", "bytes", "memory_used_bytes metric",
       source="redis_exporter"),
    _m("redis_memory_max_bytes", "gauge", "bytes", "memory_max_bytes metric",
       source="redis_exporter"),
    _m("redis_connected_clients", "gauge", "short", "connected_clients metric",
       source="redis_exporter"),
    _m("redis_commands_processed_total", "counter", "short", "commands_processed_total metric",
       source="redis_exporter"),
)  # fmt: skip

CATALOG_BY_NAME: dict[str, Metric] = {m.name: m for m in CATALOG}
_BY_NAME = CATALOG_BY_NAME
_SUFFIXES = ("_bucket", "_sum", "_count")


def metric_names(metrics: Iterable[Metric] = CATALOG) -> list[str]:
    """Every series name the catalog's families expose, sorted."""
    return sorted(n for m in metrics for n in m.series_names)


def find_metric(name: str, metrics: Iterable[Metric] = CATALOG) -> Metric | None:
    """The family a series name belongs to (``_bucket``/``_sum``/``_count`` resolved).

    >>> find_metric("voicebot_llm_latency_seconds_bucket").type
    'histogram'
    """
    table = _BY_NAME if metrics is CATALOG else {m.name: m for m in metrics}
    if name in table:
        return table[name]
    for suffix in _SUFFIXES:
        base = name.removesuffix(suffix)
        if base != name and base in table and table[base].type == "histogram":
            return table[base]
    return None


def closest_names(name: str, n: int = 3) -> list[str]:
    """Known series names that look like ``name`` (for "did you mean" messages)."""
    return difflib.get_close_matches(name, metric_names(), n=n, cutoff=0.6)


def table(metrics: Iterable[Metric] = CATALOG) -> pd.DataFrame:
    """The catalog as a DataFrame: one row per family.

    >>> table().set_index("name").loc["voicebot_calls_total", "type"]
    'counter'
    """
    rows = [
        {
            "name": m.name,
            "type": m.type,
            "unit": m.unit,
            "help": m.help,
            "labels": ", ".join(m.labels),
            "source": m.source,
            "series": _series_count(m),
        }
        for m in metrics
    ]
    return pd.DataFrame(
        rows, columns=["name", "type", "unit", "help", "labels", "source", "series"]
    )


def search(text: str, metrics: Iterable[Metric] = CATALOG) -> pd.DataFrame:
    """Catalog rows whose name, help or labels contain ``text`` (case-insensitive).

    >>> search("latency")["name"].tolist()[:2]
    ['voicebot_stt_latency_seconds', 'voicebot_llm_latency_seconds']
    """
    frame = table(metrics)
    hay = frame["name"] + " " + frame["help"] + " " + frame["labels"]
    return frame[hay.str.contains(text, case=False, regex=False)].reset_index(drop=True)


def _series_count(metric: Metric) -> int:
    n = 1
    for label in metric.labels:
        if label in ("fstype",):
            continue
        if label == "device" and "mountpoint" in metric.labels:
            continue  # device and mountpoint move together
        n *= len(metric.values.get(label, ("",)))
    if metric.type == "histogram":
        n *= len(metric.buckets) + 3  # finite buckets, +Inf, _sum, _count
    return n
