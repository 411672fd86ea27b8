"""Host, PostgreSQL and Redis series under the real exporters' metric and label names."""

from __future__ import annotations

import numpy as np

from ._model import Context, Series, cumulative

__all__ = ["system_series"]

NODE = {"job": "node", "instance": "voicebot-host:9100"}
POSTGRES = {"job": "postgres", "instance": "postgres-exporter:9187"}
REDIS = {"job": "redis", "instance": "redis-exporter:9121"}
GIB = 1024**3
CPU_MODES = ("idle", "iowait", "irq", "nice", "softirq", "steal", "system", "user")


def system_series(ctx: Context, load: np.ndarray) -> list[Series]:
    """node_exporter, postgres_exporter and redis_exporter series; ``load`` is 0..1 call load."""
    rng = ctx.rng("system")
    backup = (ctx.hours >= 2.0) & (ctx.hours < 2.4)
    out: list[Series] = []
    out += _cpu(ctx, rng, load, backup)
    out += _memory_disk_network(ctx, rng, load, backup)
    out += _postgres(ctx, rng, load)
    out += _redis(ctx, rng, load)
    return out


def _counter(ctx: Context, job: dict, name: str, labels: dict, inc: np.ndarray, base: float):
    ctx.record_increments(name, labels, np.asarray(inc, dtype=np.float64))
    values = cumulative(ctx, inc, resets=False, base=base)
    return Series(name.removesuffix("_total"), "counter", name, {**job, **labels}, values)


def _gauge(job: dict, name: str, labels: dict, values: np.ndarray) -> Series:
    return Series(name, "gauge", name, {**job, **labels}, np.asarray(values, dtype=np.float64))


def _cpu(ctx: Context, rng, load: np.ndarray, backup: np.ndarray) -> list[Series]:
    out = []
    for cpu in range(4):
        util = np.clip(0.06 + 0.5 * load + rng.normal(0, 0.02, ctx.n), 0.01, 0.95)
        share = {
            "user": 0.66 * util,
            "system": 0.24 * util,
            "softirq": 0.04 * util,
            "irq": 0.01 * util,
            "nice": np.full(ctx.n, 0.002),
            "steal": np.full(ctx.n, 0.004),
            "iowait": 0.01 + np.where(backup, 0.18, 0.0),
        }
        share["idle"] = np.clip(1.0 - sum(share.values()), 0.0, 1.0)
        for mode in CPU_MODES:
            inc = np.round(share[mode] * ctx.step, 2)
            base = 1_250_000.0 * (0.8 if mode == "idle" else 0.02)
            labels = {"cpu": str(cpu), "mode": mode}
            out.append(_counter(ctx, NODE, "node_cpu_seconds_total", labels, inc, base))
    return out


def _memory_disk_network(ctx: Context, rng, load, backup) -> list[Series]:
    total = 16 * GIB
    hours_in = (ctx.ts - ctx.ts[0]) / 3600.0
    used = (
        5.2 * GIB
        + 3.1 * GIB * load
        + 0.004 * GIB * (hours_in % 36)
        + rng.normal(0, 0.03 * GIB, ctx.n)
    )
    out = [
        _gauge(NODE, "node_memory_MemTotal_bytes", {}, np.full(ctx.n, float(total))),
        _gauge(NODE, "node_memory_MemAvailable_bytes", {}, np.round(total - used)),
    ]
    disks = (
        ("/dev/vda1", "/", 100 * GIB, 0.62, 0.35),
        ("/dev/vdb1", "/var/lib/postgresql", 200 * GIB, 0.48, 0.9),
    )
    for device, mount, size, used_frac, growth_gib_per_day in disks:
        labels = {"device": device, "fstype": "ext4", "mountpoint": mount}
        grow = growth_gib_per_day * GIB * hours_in / 24.0 + np.where(backup, 6 * GIB, 0.0)
        avail = np.round(size * (1 - used_frac) - grow, -3)
        out.append(_gauge(NODE, "node_filesystem_size_bytes", labels, np.full(ctx.n, float(size))))
        out.append(_gauge(NODE, "node_filesystem_avail_bytes", labels, avail))
    active = load * 60.0
    rx = (24_000 + 8_400 * active) * ctx.step * np.exp(rng.normal(0, 0.05, ctx.n))
    tx = (18_000 + 9_100 * active) * ctx.step * np.exp(rng.normal(0, 0.05, ctx.n))
    tx = tx + np.where(backup, 40e6 * ctx.step / 60, 0.0)  # the backup ships off-host
    lo = 52_000.0 * ctx.step * np.exp(rng.normal(0, 0.1, ctx.n))
    for name, eth in (
        ("node_network_receive_bytes_total", rx),
        ("node_network_transmit_bytes_total", tx),
    ):
        out.append(_counter(ctx, NODE, name, {"device": "eth0"}, np.round(eth), 9.1e11))
        out.append(_counter(ctx, NODE, name, {"device": "lo"}, np.round(lo), 2.2e10))
    return out


def _postgres(ctx: Context, rng, load) -> list[Series]:
    active = rng.poisson(1.0 + 9.0 * load)
    idle_tx = rng.poisson(0.3, ctx.n)
    idle = np.clip(24 - active - idle_tx, 0, None)
    out = [_gauge(POSTGRES, "pg_up", {}, np.ones(ctx.n))]
    for state, values in (("active", active), ("idle", idle), ("idle in transaction", idle_tx)):
        out.append(
            _gauge(
                POSTGRES, "pg_stat_activity_count", {"datname": "voicebot", "state": state}, values
            )
        )
    out.append(_gauge(POSTGRES, "pg_settings_max_connections", {}, np.full(ctx.n, 100.0)))
    tx = rng.poisson((2.0 + 55.0 * load) * ctx.step).astype(np.float64)
    rollbacks = rng.poisson(
        tx * 0.004 + np.where(ctx.during("store_api_outage"), 0.5 * ctx.step, 0.0)
    )
    labels = {"datid": "16384", "datname": "voicebot"}
    out.append(_counter(ctx, POSTGRES, "pg_stat_database_xact_commit", labels, tx, 4.2e7))
    out.append(
        _counter(
            ctx, POSTGRES, "pg_stat_database_xact_rollback", labels, rollbacks.astype(float), 1.9e4
        )
    )
    return out


def _redis(ctx: Context, rng, load) -> list[Series]:
    hours_in = (ctx.ts - ctx.ts[0]) / 3600.0
    memory = 1.8e8 + 9.0e7 * load + 1.5e6 * (hours_in % 24) + rng.normal(0, 2e6, ctx.n)
    clients = 10 + rng.poisson(2 + 26 * load)
    commands = rng.poisson((60.0 + 900.0 * load) * ctx.step).astype(np.float64)
    return [
        _gauge(REDIS, "redis_up", {}, np.ones(ctx.n)),
        _gauge(REDIS, "redis_memory_used_bytes", {}, np.round(memory)),
        _gauge(REDIS, "redis_memory_max_bytes", {}, np.full(ctx.n, float(GIB))),
        _gauge(REDIS, "redis_connected_clients", {}, clients),
        _counter(ctx, REDIS, "redis_commands_processed_total", {}, commands, 3.1e9),
    ]
