"""System Overview: the host (node_exporter), PostgreSQL and Redis behind the voice bot."""

from obskit import panels as p
from obskit.promql import quantile

PCT = "percentunit"
BUSY = p.thresholds("green", (0.7, "orange"), (0.85, "red"))
RATE = "[$__rate_interval]"

cpu = p.gauge(
    "CPU busy",
    "Share of CPU time not idle, averaged over all cores (node_cpu_seconds_total).",
    [p.target(f'1 - avg(rate(node_cpu_seconds_total{{mode="idle"}}{RATE}))', "CPU", instant=True)],
    unit=PCT,
    steps=BUSY,
)
memory = p.gauge(
    "Memory used",
    "Share of memory not available to new processes: 1 - MemAvailable / MemTotal.",
    [
        p.target(
            "1 - node_memory_MemAvailable_bytes / (node_memory_MemTotal_bytes > 0)",
            "memory",
            instant=True,
        )
    ],
    unit=PCT,
    steps=BUSY,
)
disk = p.gauge(
    "Disk used",
    "Share of each filesystem's size that is not available, per mount point ($mountpoint).",
    [
        p.target(
            '1 - node_filesystem_avail_bytes{mountpoint=~"$mountpoint"}'
            ' / (node_filesystem_size_bytes{mountpoint=~"$mountpoint"} > 0)',
            "{{mountpoint}}",
            instant=True,
        )
    ],
    unit=PCT,
    steps=p.thresholds("green", (0.75, "orange"), (0.9, "red")),
)
network = p.timeseries(
    "Network I/O",
    "Bytes per second received and transmitted per network device ($device).",
    [
        p.target(
            f'sum by (device) (rate(node_network_receive_bytes_total{{device=~"$device", device!="lo"}}{RATE}))',
            "{{device}} receive",
        ),
        p.target(
            f'sum by (device) (rate(node_network_transmit_bytes_total{{device=~"$device", device!="lo"}}{RATE}))',
            "{{device}} transmit",
        ),
    ],
    unit="Bps",
)
redis_memory = p.timeseries(
    "Redis memory",
    "Memory Redis uses against its maxmemory limit (redis_exporter).",
    [
        p.target("sum(redis_memory_used_bytes)", "used"),
        p.target("sum(redis_memory_max_bytes > 0)", "max"),  # 0 means no maxmemory set
    ],
    unit="bytes",
)
pg_connections = p.timeseries(
    "PostgreSQL connections",
    "Server connections by state (postgres_exporter pg_stat_activity_count); max is 100.",
    [p.target("sum by (state) (pg_stat_activity_count)", "{{state}}")],
    unit="short",
    steps=p.thresholds("green", (80, "red")),
)
DB_P95 = quantile(
    0.95, "voicebot_db_query_duration_seconds", ["operation"], min_count=p.MIN_OBSERVATIONS
)
pg_latency = p.timeseries(
    "PostgreSQL query latency p95",
    "p95 of the bot's own DB query timer (voicebot_db_query_duration_seconds) by operation:"
    " postgres_exporter has no latency histogram.",
    [p.target(DB_P95, "p95 {{operation}}")],
    unit="s",
    interval=p.quantile_interval(DB_P95, 473),  # update: quietest series, Sunday 19:00-20:00
)
redis_clients = p.timeseries(
    "Redis connections",
    "Clients connected to Redis (redis_connected_clients).",
    [p.target("sum(redis_connected_clients)", "clients")],
    unit="short",
)
redis_ops = p.timeseries(
    "Redis ops/sec",
    "Commands Redis processed per second (rate of redis_commands_processed_total).",
    [p.target(f"sum(rate(redis_commands_processed_total{RATE}))", "commands")],
    unit="ops",
)

dashboard = p.dashboard(
    "System Overview",
    uid="obskit-system-overview",
    description="Host, PostgreSQL and Redis health behind the voice bot.",
    variables=[
        # All devices but loopback by default: interface names differ per host (eth0, ens5, ...).
        p.variable("device", 'node_network_receive_bytes_total{device!="lo"}', "device"),
        p.variable("mountpoint", "node_filesystem_size_bytes", "mountpoint", text="Mount point"),
    ],
    rows=[
        p.row(6, (cpu, 6), (memory, 6), (disk, 12)),
        p.row(8, network, redis_memory),
        p.row(8, pg_connections, pg_latency, redis_clients, redis_ops),
    ],
    source=__file__,
)
