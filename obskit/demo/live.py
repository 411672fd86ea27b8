"""The live simulator: an exporter that serves the demo's next scrapes as wall-clock time moves.

The demo draws its data over a span that runs ``horizon`` past "now"; everything up to now is
backfilled, and this exporter serves the rest, scrape by scrape, so the live part continues the
backfilled series exactly (same draws, same counters). Run by ``obskit demo start --live``.
"""

from __future__ import annotations

import argparse
import signal
import sys
import threading
import time
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta

import numpy as np
from prometheus_client.core import Metric
from prometheus_client.registry import Collector, CollectorRegistry

from .generate import DemoData, generate
from .scenario import DemoSpec

__all__ = ["LiveCollector", "live_spec", "serve"]

HORIZON = timedelta(days=1)


def live_spec(now: datetime, days: float, step: int, seed: int) -> DemoSpec:
    """The spec a live demo draws from: ``days`` of history before ``now`` and a day after it."""
    return DemoSpec(
        end=now + HORIZON, days=days + HORIZON.total_seconds() / 86400, step=step, seed=seed
    )


class LiveCollector(Collector):
    """Serves, at wall-clock time t, each series' value at the last scrape time <= t."""

    def __init__(self, data: DemoData, clock: Callable[[], float] = time.time) -> None:
        self.data = data
        self.clock = clock
        self.ts = data.spec.timestamps()

    def index(self) -> int:
        i = int(np.searchsorted(self.ts, self.clock(), side="right")) - 1
        return min(max(i, 0), len(self.ts) - 1)

    def collect(self) -> Iterator[Metric]:
        i = self.index()
        for family, members in self.data.families().items():
            kind = members[0].type
            if kind == "counter" and not members[0].name.endswith("_total"):
                kind = "unknown"
            metric = Metric(family, f"obskit demo: {family}", kind)
            for s in members:
                if s.present is None or s.present[i]:
                    metric.add_sample(s.name, dict(s.labels), float(s.values[i]))
            yield metric


def serve(spec: DemoSpec, port: int, host: str = "127.0.0.1") -> None:
    """Serve the live exporter until SIGTERM/SIGINT."""
    from prometheus_client import start_http_server

    registry = CollectorRegistry(auto_describe=False)
    registry.register(LiveCollector(generate(spec)))
    server, _thread = start_http_server(port, addr=host, registry=registry)
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    signal.signal(signal.SIGINT, lambda *_: stop.set())
    stop.wait()
    server.shutdown()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m obskit.demo.live", description=__doc__)
    parser.add_argument("--end", required=True, help="the spec's end (ISO 8601, UTC)")
    parser.add_argument("--days", type=float, required=True)
    parser.add_argument("--step", type=int, required=True)
    parser.add_argument("--seed", type=int, required=True)
    parser.add_argument("--port", type=int, required=True)
    args = parser.parse_args(argv)
    end = datetime.fromisoformat(args.end.replace("Z", "+00:00")).astimezone(UTC)
    serve(DemoSpec(end=end, days=args.days, step=args.step, seed=args.seed), args.port)
    return 0


if __name__ == "__main__":
    sys.exit(main())
