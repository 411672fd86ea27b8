"""Soak: 10,000 mixed calls from 8 threads on one client; errors, descriptors, connections, memory.

Run: ``.venv/bin/python benchmarks/soak.py [--calls 10000] [--threads 8] [--warmup 1000]``
(about 2-4 minutes on 2 cores). It starts its own demo Prometheus (7 days at 30 s, from the
obskit cache) on a free 127.0.0.1 port and stops it at the end.

The calls share one :class:`obskit.Client`, as the cells of a notebook do, and mix:
instant queries (40 %), range queries of 241 to 1,441 points (35 %; those of 1,000+ points
first count their series with one instant ``count()``), offline ``validate`` (15 %) and live ``validate``
(10 %: metadata, the query and its stats). A sampler thread records this process's
resident memory, open file descriptors, TCP connections and threads once a second.

Pass criteria (exit code 1 if any fails): zero errors; after a warm-up of ``--warmup``
calls, open descriptors and connections no higher at the end than their warm-up level
(plus the pool's size for connections); memory flat: resident memory under load in the
last tenth of the measured calls at most 10 % (or 25 MiB) above the first tenth, and
growing less than 1 MiB per 1,000 calls over the second half.

Memory is compared under load on purpose: 8 threads (and the short-lived chunk threads)
each get a glibc malloc arena, so RSS steps up as soon as they run and creeps while new
arenas fill, then levels off; with ``MALLOC_ARENA_MAX=2`` it stays flat from the start.
Python-level allocations (tracemalloc) do not grow.
"""

from __future__ import annotations

import argparse
import gc
import json
import logging
import random
import statistics
import sys
import threading
import time
from collections import Counter
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass
from datetime import timedelta
from functools import partial

import psutil

import obskit
from obskit import config
from obskit.demo import DemoPrometheus, DemoSpec

MIB = 1024 * 1024
INSTANT = [
    "sum(rate(voicebot_calls_total[5m]))",
    "sum by (outcome) (increase(voicebot_calls_total[1h]))",
    "histogram_quantile(0.95, sum by (le) (rate(voicebot_llm_latency_seconds_bucket[5m])))",
    "voicebot_active_calls",
    "1 - node_memory_MemAvailable_bytes / node_memory_MemTotal_bytes",
    "sum by (status_code) (rate(voicebot_store_api_requests_total[5m]))",
    "redis_memory_used_bytes",
    "sum(pg_stat_activity_count) by (state)",
]
RANGE = [
    "sum(rate(voicebot_calls_total[5m]))",
    "histogram_quantile(0.95, sum by (le, provider) (rate(voicebot_tts_latency_seconds_bucket[5m])))",
    "sum by (mode) (rate(node_cpu_seconds_total[5m]))",
    "voicebot_active_calls",
    "sum(rate(voicebot_tts_cache_hits_total[5m])) / (sum(rate(voicebot_tts_cache_hits_total[5m]))"
    " + sum(rate(voicebot_tts_cache_misses_total[5m])))",
]
SPANS = [(timedelta(hours=1), "15s"), (timedelta(hours=6), "1m"), (timedelta(hours=6), "30s"),
         (timedelta(hours=24), "1m")]  # fmt: skip
VALIDATE = [*INSTANT, "rate(voicebot_active_calls[5m])", "sum(voicebot_calls_total)"]


@dataclass
class Sample:
    t: float
    done: int
    rss_mib: float
    fds: int
    tcp: int
    threads: int


def snapshot(proc: psutil.Process, done: int, began: float) -> Sample:
    return Sample(
        t=round(time.monotonic() - began, 1),
        done=done,
        rss_mib=round(proc.memory_info().rss / MIB, 1),
        fds=proc.num_fds(),
        tcp=len(proc.net_connections(kind="tcp")),
        threads=proc.num_threads(),
    )


def plan_calls(
    n: int, client: obskit.Client, end, seed: int
) -> list[tuple[str, Callable[[], object]]]:
    """``n`` calls, deterministic for a seed: (kind, zero-argument function)."""
    rng = random.Random(seed)
    start_of_data = end - timedelta(days=6)
    calls: list[tuple[str, Callable[[], object]]] = []
    for _ in range(n):
        roll = rng.random()
        at = start_of_data + timedelta(minutes=rng.randrange(0, 6 * 24 * 60))
        if roll < 0.40:
            expr = rng.choice(INSTANT)
            calls.append(("instant", partial(client.query, expr, time=at)))
        elif roll < 0.75:
            expr = rng.choice(RANGE)
            span, step = rng.choice(SPANS)
            calls.append(("range", partial(client.query_range, expr, at - span, at, step)))
        elif roll < 0.90:
            expr = rng.choice(VALIDATE)
            calls.append(("validate", partial(obskit.validate, expr)))
        else:
            expr = rng.choice(INSTANT)
            calls.append(("validate-live", partial(obskit.validate, expr, client, time=at)))
    return calls


class Counting(logging.Handler):
    """Counts urllib3's 'Starting new HTTP connection' and 'pool is full' records."""

    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.new = 0
        self.discarded = 0

    def emit(self, record: logging.LogRecord) -> None:
        message = record.getMessage()
        if message.startswith("Starting new HTTP"):
            self.new += 1
        elif "Connection pool is full" in message:
            self.discarded += 1


def run(calls, threads: int, proc: psutil.Process, began: float) -> tuple[Counter, list, list]:
    """Run ``calls`` on ``threads`` workers; count kinds, collect errors and samples."""
    done: Counter[str] = Counter()
    errors: list[str] = []
    samples: list[Sample] = []
    lock = threading.Lock()
    stop = threading.Event()

    def sampler() -> None:
        while not stop.wait(1.0):
            samples.append(snapshot(proc, sum(done.values()), began))

    def one(call: tuple[str, Callable[[], object]]) -> None:
        kind, fn = call
        try:
            fn()
        except Exception as exc:
            with lock:
                errors.append(f"{kind}: {type(exc).__name__}: {exc}")
        with lock:
            done[kind] += 1

    watcher = threading.Thread(target=sampler, daemon=True)
    watcher.start()
    with ThreadPoolExecutor(threads, "soak") as pool:
        list(pool.map(one, calls))
    stop.set()
    watcher.join()
    return done, errors, samples


def _slope(xs: list[int], ys: list[float]) -> float:
    """Least-squares slope of ys over xs (0 for fewer than two distinct xs)."""
    if len(set(xs)) < 2:
        return 0.0
    mx, my = statistics.fmean(xs), statistics.fmean(ys)
    return sum((x - mx) * (y - my) for x, y in zip(xs, ys, strict=True)) / sum(
        (x - mx) ** 2 for x in xs
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--calls", type=int, default=10_000)
    parser.add_argument("--threads", type=int, default=8)
    parser.add_argument("--warmup", type=int, default=1_000)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--json", metavar="FILE", help="also write the figures as JSON")
    args = parser.parse_args(argv)

    counting = Counting()
    urllib3_log = logging.getLogger("urllib3.connectionpool")
    urllib3_log.setLevel(logging.DEBUG)
    urllib3_log.addHandler(counting)
    proc = psutil.Process()
    began = time.monotonic()

    with DemoPrometheus(DemoSpec(), cache=config.cache_dir()) as prom:
        print(f"demo Prometheus on {prom.url} ready in {time.monotonic() - began:.1f} s")
        client = obskit.connect(prom.url)
        pool_size = max(10, client.settings.max_workers)
        warm = plan_calls(args.warmup, client, prom.end, args.seed + 1)
        _, warm_errors, _ = run(warm, args.threads, proc, began)
        gc.collect()
        before = snapshot(proc, 0, began)
        new_at_start = counting.new
        t0 = time.monotonic()
        done, errors, samples = run(
            plan_calls(args.calls, client, prom.end, args.seed), args.threads, proc, began
        )
        seconds = time.monotonic() - t0
        gc.collect()
        after = snapshot(proc, sum(done.values()), began)
        client.close()
        closed = snapshot(proc, sum(done.values()), began)

    tenth = max(1, len(samples) // 10)
    first = statistics.median(s.rss_mib for s in samples[:tenth])
    last = statistics.median(s.rss_mib for s in samples[-tenth:])
    half = samples[len(samples) // 2 :]
    slope = _slope([s.done for s in half], [s.rss_mib for s in half]) * 1000
    growth = last - first
    checks = {
        "zero errors": not errors and not warm_errors,
        "descriptors flat": after.fds <= before.fds + 2,
        "connections flat": max(s.tcp for s in samples) <= before.tcp + pool_size
        and after.tcp <= before.tcp + pool_size,
        # Fewer than 30 one-second samples is too short to tell a trend from the arena ramp.
        "memory flat": len(samples) < 30 or (growth < max(25.0, 0.10 * first) and slope < 1.0),
        "connections closed on close()": closed.tcp == 0,
    }
    report = {
        "calls": dict(done),
        "threads": args.threads,
        "seconds": round(seconds, 1),
        "calls_per_second": round(sum(done.values()) / seconds, 1),
        "errors": len(errors) + len(warm_errors),
        "first_errors": (warm_errors + errors)[:5],
        "after_warmup": asdict(before),
        "end": asdict(after),
        "after_close": asdict(closed),
        "rss_under_load_first_tenth_mib": round(first, 1),
        "rss_under_load_last_tenth_mib": round(last, 1),
        "rss_growth_under_load_mib": round(growth, 1),
        "rss_slope_second_half_mib_per_1000_calls": round(slope, 2),
        "rss_idle_after_warmup_to_idle_end_mib": round(after.rss_mib - before.rss_mib, 1),
        "max_fds": max(s.fds for s in samples),
        "max_tcp": max(s.tcp for s in samples),
        "max_threads": max(s.threads for s in samples),
        "new_connections_during_soak": counting.new - new_at_start,
        "pool_full_discards": counting.discarded,
        "checks": checks,
    }
    print(json.dumps(report, indent=1))
    print("\n  t(s)   calls  rss(MiB)  fds  tcp  threads")
    for s in samples[:: max(1, len(samples) // 12)] + samples[-1:]:
        print(f"{s.t:6.0f} {s.done:7d} {s.rss_mib:9.1f} {s.fds:4d} {s.tcp:4d} {s.threads:8d}")
    if args.json:
        with open(args.json, "w") as handle:
            json.dump({**report, "samples": [asdict(s) for s in samples]}, handle, indent=1)
    failed = [name for name, ok in checks.items() if not ok]
    print("PASS" if not failed else f"FAIL: {', '.join(failed)}")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
