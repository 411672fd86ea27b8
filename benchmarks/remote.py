"""Benchmark: big range queries from a server on "another host" over shaped links.

Run (as root): ``.venv/bin/python benchmarks/remote.py [--repeat 3] [--quick]``.

Set-up. Two network namespaces made here (``obskit-srv-<pid>``, ``obskit-cli-<pid>``)
joined by a veth pair with addresses in 10.201.77.0/30 (server .1, client .2); nothing
outside them is touched. The servers run in the server namespace pinned to core 1
(``taskset``): Prometheus 2.42 over the 1,000-series synthetic set of
benchmarks/query_range.py, Prometheus over the demo data (7 days at 30 s) and, unless
``--no-victoria``, one VictoriaMetrics holding both (only the queried family of the
demo). Every client is a fresh Python process in the client namespace pinned to core 0.
Each link is shaped with ``tc qdisc ... tbf`` on both veth ends (1 Gbit/s, 100 Mbit/s,
20 Mbit/s), or left unshaped. Namespaces, veth and servers are removed on exit, also on
SIGINT/SIGTERM.

Queries. "wide": ``bench_http_requests_total`` over 1 day at 60 s (1,000 series x 1,441
points); "7d": ``rate(voicebot_llm_latency_seconds_bucket[5m])`` over 7 days at 15 s
(40,321 points per series, split on the step grid).

Rows. obskit's default (after a warm-up call, see below) and its first call in a fresh
process ("obskit:cold", which learns the link from the probe piece the answer starts
with); obskit with each fixed encoding x concurrency; prometheus-api-client
with its defaults (``custom_query_range`` + ``MetricRangeDataFrame``; the 7-day range in
11,000-point windows one after the other, as Prometheus refuses more per request); and the
raw fetch (requests, body only, 1 MiB reads) of the same windows with each encoding. Each
obskit row first runs the query over the last quarter of the range, untimed (the default
learns the link from it; it warms every row's allocator alike), then the timed call; other
rows time one call after a tiny warm-up request. Medians over ``--repeat`` fresh processes
per row (prometheus-api-client: one, it is 3-30x slower), rows interleaved, with min-max.
VictoriaMetrics gets a subset of the rows.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
import query_range as qr  # the synthetic data set and its query

SERVER_CORE, CLIENT_CORE = "1", "0"
SERVER_IP, CLIENT_IP, PREFIX = "10.201.77.1", "10.201.77.2", 30
PORTS = {"prom-wide": 9301, "prom-demo": 9302, "vm": 9303}
LINKS: dict[str, str | None] = {
    "unshaped": None,
    "1gbit": "1gbit",
    "100mbit": "100mbit",
    "20mbit": "20mbit",
}
BURST = {"1gbit": "1250kb", "100mbit": "128kb", "20mbit": "64kb"}
WIDE = {"query": qr.QUERY, "start": qr.END - qr.DAY, "end": qr.END, "step": 60}
SEVEN = {
    "query": qr.CHUNKED_QUERY,
    "start": qr.END - timedelta(days=7),
    "end": qr.END,
    "step": 15,
}
QUERIES = {"wide": WIDE, "7d": SEVEN}
ENCODINGS = ("identity", "gzip")
CONCURRENCY = (1, 2, 4)
TIMEOUT = 300  # seconds: the slowest row (identity at 20 Mbit, 7 d) takes about 30


# -- the measured side (a fresh process in the client namespace) -----------------------------


def _windows(spec: dict[str, Any]) -> list[tuple[float, float]]:
    from obskit.client._split import windows

    start, end = int(spec["start"].timestamp() * 1000), int(spec["end"].timestamp() * 1000)
    return [(a / 1000, b / 1000) for a, b in windows(start, end, spec["step"] * 1000, 11_000)]


def measure_obskit(
    url: str, spec: dict[str, Any], encoding: str, conc: int | None, warm: bool = True
) -> dict:
    """An untimed call over the last quarter of the range, then the timed call over all of it.

    The first call is what the default learns the link from (and it warms the allocator
    for every row alike); it is a quarter of the range to keep the benchmark short.
    Without ``warm`` the timed call is the fresh client's first: the default then learns
    the link from the probe piece the answer starts with.
    """
    import obskit
    from obskit.client import _link

    client = obskit.connect(url, encoding=encoding, concurrency=conc, timeout=120)
    step = f"{spec['step']}s"
    quarter = spec["end"] - (spec["end"] - spec["start"]) / 4
    t0 = time.perf_counter()
    if warm:
        client.query_range(spec["query"], quarter, spec["end"], step, progress=False)
    else:
        client.query("vector(1)")  # the connection, as other rows' warm-up request
    warmed = time.perf_counter() - t0
    asked = client.session.headers["Accept-Encoding"]
    t0 = time.perf_counter()
    frame = client.query_range(spec["query"], spec["start"], spec["end"], step, progress=False)
    seconds = time.perf_counter() - t0
    link = _link.link_of(client.session)
    rates = link.rates() if link is not None else {}
    return {"s": seconds, "warm": warmed, "samples": len(frame), "encoding": asked,
            "workers": client.workers, "chunks": frame.attrs["params"]["chunks"],
            "rates": {k: v for k, v in rates.items() if v is not None}}  # fmt: skip


def measure_papi(url: str, spec: dict[str, Any]) -> dict:
    from datetime import UTC, datetime

    import pandas as pd
    from prometheus_api_client import MetricRangeDataFrame, PrometheusConnect

    prom = PrometheusConnect(url, disable_ssl=True)
    prom.custom_query("vector(1)")
    t0 = time.perf_counter()
    frames = [
        MetricRangeDataFrame(
            prom.custom_query_range(
                spec["query"],
                datetime.fromtimestamp(a, UTC),
                datetime.fromtimestamp(b, UTC),
                str(spec["step"]),
            )
        )
        for a, b in _windows(spec)
    ]
    frame = frames[0] if len(frames) == 1 else pd.concat(frames)
    return {"s": time.perf_counter() - t0, "samples": len(frame)}


def measure_raw(url: str, spec: dict[str, Any], encoding: str) -> dict:
    """The same windows, fetched one after the other and read in 1 MiB pieces, not parsed."""
    import requests

    session = requests.Session()
    session.headers["Accept-Encoding"] = encoding
    session.get(f"{url}/api/v1/query", params={"query": "vector(1)"}, timeout=30)
    address, body, wire = f"{url}/api/v1/query_range", 0, 0
    t0 = time.perf_counter()
    for a, b in _windows(spec):
        params = {"query": spec["query"], "start": a, "end": b, "step": spec["step"]}
        with session.get(address, params=params, timeout=120, stream=True) as response:
            body += len(b"".join(response.iter_content(1 << 20)))
    seconds = time.perf_counter() - t0
    if encoding != "identity":  # bytes on the wire, from one more (untimed) fetch
        for a, b in _windows(spec):
            params = {"query": spec["query"], "start": a, "end": b, "step": spec["step"]}
            with session.get(address, params=params, timeout=120, stream=True) as response:
                wire += sum(map(len, response.raw.stream(1 << 20, decode_content=False)))
    return {"s": seconds, "body": body, "wire": wire or body}


def measure(kind: str, url: str, query: str) -> dict:
    """One row's measurement: ``obskit``, ``obskit:cold``, ``obskit:ENC:N``, ``papi`` or ``raw:ENC``."""
    os.environ.pop("PROMETHEUS_URL", None)
    spec = QUERIES[query]
    parts = kind.split(":")
    if kind == "obskit:cold":
        return measure_obskit(url, spec, "auto", None, warm=False)
    if parts[0] == "obskit":
        enc, conc = (parts[1], int(parts[2])) if len(parts) == 3 else ("auto", None)
        return measure_obskit(url, spec, enc, conc)
    if parts[0] == "papi":
        return measure_papi(url, spec)
    return measure_raw(url, spec, parts[1])


# -- the network ----------------------------------------------------------------------------


def _ip(*args: str) -> None:
    subprocess.run(["ip", *args], check=True, capture_output=True)


class Network:
    """Two namespaces made here, joined by a veth pair; removed by :meth:`remove`."""

    def __init__(self) -> None:
        tag = os.getpid() % 100_000
        self.srv, self.cli = f"obskit-srv-{tag}", f"obskit-cli-{tag}"
        self.vs, self.vc = f"obks{tag}", f"obkc{tag}"
        self.made: list[str] = []

    def create(self) -> Network:
        for ns in (self.srv, self.cli):
            _ip("netns", "add", ns)
            self.made.append(ns)
        _ip("-n", self.srv, "link", "add", self.vs, "type", "veth", "peer", "name", self.vc,
            "netns", self.cli)  # fmt: skip
        for ns, dev, addr in ((self.srv, self.vs, SERVER_IP), (self.cli, self.vc, CLIENT_IP)):
            _ip("-n", ns, "addr", "add", f"{addr}/{PREFIX}", "dev", dev)
            _ip("-n", ns, "link", "set", dev, "up")
            _ip("-n", ns, "link", "set", "lo", "up")
        return self

    def shape(self, link: str) -> None:
        """``tc tbf`` at the link's rate on both ends, or no shaping."""
        rate = LINKS[link]
        for ns, dev in ((self.srv, self.vs), (self.cli, self.vc)):
            subprocess.run(["ip", "netns", "exec", ns, "tc", "qdisc", "del", "dev", dev, "root"],
                           capture_output=True)  # fmt: skip
            if rate is not None:
                subprocess.run(["ip", "netns", "exec", ns, "tc", "qdisc", "add", "dev", dev,
                                "root", "tbf", "rate", rate, "burst", BURST[link],
                                "latency", "100ms"], check=True, capture_output=True)  # fmt: skip

    def in_server(self, argv: list[str]) -> list[str]:
        return ["ip", "netns", "exec", self.srv, "taskset", "-c", SERVER_CORE, *argv]

    def in_client(self, argv: list[str]) -> list[str]:
        return ["ip", "netns", "exec", self.cli, "taskset", "-c", CLIENT_CORE, *argv]

    def remove(self) -> None:
        for ns in reversed(self.made):  # the veth pair goes with its namespaces
            subprocess.run(["ip", "netns", "del", ns], capture_output=True)
        self.made.clear()


# -- the servers ------------------------------------------------------------------------------


class Servers:
    """Prometheus (x2) and VictoriaMetrics in the server namespace, pinned to the server core."""

    def __init__(self, net: Network, victoria: bool) -> None:
        self.net, self.victoria = net, victoria
        self.workdir = Path(tempfile.mkdtemp(prefix="obskit-remote-"))
        self.procs: dict[str, subprocess.Popen[bytes]] = {}

    def url(self, name: str) -> str:
        return f"http://{SERVER_IP}:{PORTS[name]}"

    def start(self) -> Servers:
        import shutil

        from obskit.demo import DemoSpec, ensure_blocks

        blocks = {"prom-wide": qr.build_blocks(), "prom-demo": ensure_blocks(DemoSpec()).path}
        for name, source in blocks.items():
            data = self.workdir / name
            shutil.copytree(source, data, ignore=shutil.ignore_patterns("DONE", "manifest.json"))
            config = self.workdir / f"{name}.yml"
            config.write_text("global: {scrape_interval: 60s}\n")
            self._spawn(name, [qr.find_binary("prometheus"), f"--config.file={config}",
                               f"--storage.tsdb.path={data}",
                               f"--web.listen-address={SERVER_IP}:{PORTS[name]}",
                               "--storage.tsdb.retention.time=100y",
                               "--storage.tsdb.max-block-duration=2h"])  # fmt: skip
        if self.victoria:
            self._spawn("vm", ["victoria-metrics", f"-storageDataPath={self.workdir / 'vm'}",
                               f"-httpListenAddr={SERVER_IP}:{PORTS['vm']}",
                               "-retentionPeriod=100y", "-search.disableCache",
                               "-search.maxPointsPerTimeseries=11000"])  # fmt: skip
        for name in self.procs:
            self._client_step(["--wait", self.url(name)])
        if self.victoria:
            self._client_step(["--load-vm", self.url("vm")])
        return self

    def _spawn(self, name: str, argv: list[str]) -> None:
        from obskit.demo.server import die_with_parent

        with (self.workdir / f"{name}.log").open("wb") as log:
            self.procs[name] = subprocess.Popen(
                self.net.in_server(argv), stdout=log, stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL, preexec_fn=die_with_parent(),
            )  # fmt: skip

    def _client_step(self, args: list[str]) -> None:
        argv = self.net.in_client([sys.executable, __file__, *args])
        subprocess.run(argv, check=True, timeout=600)

    def stop(self) -> None:
        import shutil

        for proc in self.procs.values():
            proc.terminate()
        for proc in self.procs.values():
            try:
                proc.wait(15)
            except subprocess.TimeoutExpired:
                proc.kill()
        self.procs.clear()
        shutil.rmtree(self.workdir, ignore_errors=True)


def wait_ready(url: str) -> None:
    import requests

    for _ in range(600):
        with contextlib.suppress(requests.RequestException):
            ready = requests.get(f"{url}/-/ready", timeout=1)
            if ready.status_code == 200 or requests.get(f"{url}/health", timeout=1).ok:
                return
        time.sleep(0.1)
    raise SystemExit(f"{url} not ready within 60 s")


def load_victoria(url: str) -> None:
    """Import the wide set and the demo's queried family (ms timestamps), then flush."""
    import gzip

    import numpy as np
    import requests

    from obskit.demo import DemoSpec, generate
    from obskit.demo.generate import windows
    from obskit.demo.victoria import _import_text

    session = requests.Session()
    names = qr._series_names()
    first = int(qr.END.timestamp()) - int(qr.DAY.total_seconds()) - qr.MARGIN
    times = np.arange(first, int(qr.END.timestamp()) + 1, qr.SCRAPE)
    rng = np.random.default_rng(7)
    rates = rng.uniform(0.1, 20.0, (len(names), 1))
    values = np.cumsum(rng.poisson(rates * qr.SCRAPE, (len(names), len(times))), axis=1)
    stamps = [f"{t}000" for t in times.tolist()]
    lines = [f"{n} {v} {t}\n" for n, row in zip(names, values.tolist(), strict=True)
             for v, t in zip(row, stamps, strict=True)]  # fmt: skip

    def post(text: bytes) -> None:
        resp = session.post(f"{url}/api/v1/import/prometheus", data=gzip.compress(text, 1),
                            headers={"Content-Encoding": "gzip"}, timeout=300)  # fmt: skip
        resp.raise_for_status()

    post("".join(lines).encode())
    data = generate(DemoSpec())
    family = qr.CHUNKED_QUERY.split("(")[1].split("[")[0].encode()
    for lo, hi in windows(data.spec):
        kept = [ln for ln in _import_text(data, lo, hi).splitlines() if ln.startswith(family)]
        post(b"\n".join(kept) + b"\n")
    session.get(f"{url}/internal/force_flush", timeout=60)
    for _ in range(300):
        found = session.get(f"{url}/api/v1/query", params={"query": f"count({qr.QUERY})",
                            "time": qr.END.timestamp()}, timeout=30).json()  # fmt: skip
        if found["data"]["result"] and found["data"]["result"][0]["value"][1] == "1000":
            return
        time.sleep(0.2)
    raise SystemExit("VictoriaMetrics did not show the imported data within 60 s")


# -- running the plan -----------------------------------------------------------------------


def rows(quick: bool, server: str = "prometheus") -> list[str]:
    """The rows measured: all of them on Prometheus, a subset on VictoriaMetrics."""
    if server == "victoria":
        return ["obskit", "obskit:cold", "obskit:identity:2", "obskit:gzip:2", "raw:identity",
                "raw:gzip"]  # fmt: skip
    fixed = [f"obskit:{e}:{c}" for e in ENCODINGS for c in CONCURRENCY if not (quick and c == 4)]
    return ["obskit", "obskit:cold", *fixed, "papi", *(f"raw:{e}" for e in ENCODINGS)]


#: Rows measured in the first round only: prometheus-api-client takes 5-30x obskit's time
#: and no link brings it near; one run each keeps the whole benchmark short.
ONCE = ("papi",)


def run_one(net: Network, kind: str, url: str, query: str) -> dict[str, Any]:
    argv = net.in_client([sys.executable, __file__, "--measure", kind, "--url", url,
                          "--query", query])  # fmt: skip
    done = subprocess.run(argv, capture_output=True, text=True, timeout=TIMEOUT)
    if done.returncode != 0:
        return {"error": done.stderr.strip().splitlines()[-1:] or ["?"]}
    return dict(json.loads(done.stdout.strip().splitlines()[-1]))


Found = dict[tuple[str, str, str, str], list[dict[str, Any]]]  # (server, query, link, row)


def run_all(net: Network, servers: Servers, args: argparse.Namespace) -> Found:
    found: Found = {}
    targets = [("prometheus", "wide", servers.url("prom-wide")),
               ("prometheus", "7d", servers.url("prom-demo"))]  # fmt: skip
    if servers.victoria:
        targets += [("victoria", q, servers.url("vm")) for q in QUERIES]
    for link in args.links:
        net.shape(link)
        t0 = time.monotonic()
        for round_ in range(args.repeat):
            for server, query, url in targets:
                for kind in rows(args.quick, server):
                    if round_ and kind in ONCE:
                        continue
                    found.setdefault((server, query, link, kind), []).append(
                        run_one(net, kind, url, query)
                    )
            if args.json:
                _dump(found, args.json)
            print(f"  {link}: round {round_ + 1}/{args.repeat} done "
                  f"({time.monotonic() - t0:.0f} s)", file=sys.stderr, flush=True)  # fmt: skip
    return found


def _dump(found: Found, path: Path) -> None:
    path.write_text(json.dumps({"|".join(k): v for k, v in found.items()}, indent=1))


# -- report ---------------------------------------------------------------------------------


def _cell(runs: list[dict[str, Any]]) -> str:
    times = [r["s"] for r in runs if "s" in r]
    if not times:
        return "failed: " + " ".join(runs[0].get("error", ["?"]))
    med = statistics.median(times)
    spread = f" ({min(times):.2f}-{max(times):.2f})" if len(times) > 1 else ""
    return f"{med:.2f}{spread}"


def _med(runs: list[dict[str, Any]] | None) -> float:
    times = [r["s"] for r in runs or [] if "s" in r]
    return statistics.median(times) if times else float("nan")


def report(found: Found, args: argparse.Namespace) -> str:
    out: list[str] = []
    for server in dict.fromkeys(k[0] for k in found):
        for query in dict.fromkeys(k[1] for k in found if k[0] == server):
            out += _table(found, server, query, args)
    return "\n".join(out)


def _table(found: Found, server: str, query: str, args: argparse.Namespace) -> list[str]:
    def get(link: str, kind: str) -> list[dict[str, Any]]:
        return found.get((server, query, link, kind), [])

    links, kinds = args.links, rows(args.quick, server)
    runs = max((len(get(link, "obskit")) for link in links), default=0)
    lines = [f"\n### {server}, {query} query: seconds, median (min-max) of {runs} fresh "
             "processes (prometheus-api-client: 1); obskit rows: after one call over the last quarter",
             "", "| row | " + " | ".join(links) + " |", "|---|" + "---|" * len(links)]  # fmt: skip
    for kind in kinds:
        lines.append(f"| {kind} | " + " | ".join(_cell(get(link, kind)) for link in links) + " |")
    chosen = []
    for link in links:
        runs = [r for r in get(link, "obskit") if "encoding" in r]
        chosen.append(", ".join(sorted({f"{r['encoding']}/{r['workers']}" for r in runs})) or "-")
    lines.append("| default chose (encoding/concurrency) | " + " | ".join(chosen) + " |")
    sizes = []
    for link in links:
        ident, gz = get(link, "raw:identity"), get(link, "raw:gzip")
        if ident and gz and "body" in ident[0] and "wire" in gz[0]:
            sizes.append(f"{ident[0]['body'] / 2**20:.1f} / {gz[0]['wire'] / 2**20:.1f} MiB")
        else:
            sizes.append("-")
    lines.append("| body: identity / gzip on the wire | " + " | ".join(sizes) + " |")
    lines += ["", "| link | default | best fixed | default / best fixed | first call (cold) / "
              "best fixed | PAC / default | default / best raw fetch |",
              "|---|---|---|---|---|---|---|"]  # fmt: skip
    for link in links:
        default, cold = _med(get(link, "obskit")), _med(get(link, "obskit:cold"))
        fixed = {k: _med(get(link, k)) for k in kinds if k.count(":") == 2}
        best = min(fixed, key=lambda k: fixed[k])
        raw = min(_med(get(link, "raw:identity")), _med(get(link, "raw:gzip")))
        papi = _med(get(link, "papi"))
        lines.append(f"| {link} | {default:.2f} | {best} {fixed[best]:.2f} | "
                     f"{default / fixed[best]:.2f} | {cold / fixed[best]:.2f} | "
                     f"{papi / default:.1f}x | "
                     f"{default / raw:.2f} |")  # fmt: skip
    if query == "7d" and "obskit:identity:1" in kinds:
        ratios = []
        for link in links:
            serial = min(_med(get(link, f"obskit:{e}:1")) for e in ENCODINGS)
            ratios.append(f"{link} {serial / _med(get(link, 'obskit')):.2f}x")
        lines += ["", "7 d, best serial fixed row (obskit:*:1) / default: " + ", ".join(ratios)]
    return lines


# -- main -------------------------------------------------------------------------------------


@contextlib.contextmanager
def _interruptible() -> Iterator[None]:
    """SIGTERM raises like SIGINT does, so the ``finally`` clean-up runs for both."""

    def stop(signum: int, frame: object) -> None:
        raise KeyboardInterrupt(f"signal {signum}")

    previous = {s: signal.signal(s, stop) for s in (signal.SIGINT, signal.SIGTERM)}
    try:
        yield
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)


def _load() -> str:
    one, five, fifteen = os.getloadavg()
    return f"load average {one:.2f}, {five:.2f}, {fifteen:.2f}"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--repeat", type=int, help="fresh processes per row (default 3, 1 with --quick)"
    )
    parser.add_argument(
        "--quick",
        action="store_true",
        help="concurrency 1 and 2 only, no VictoriaMetrics, one run per row unless --repeat",
    )
    parser.add_argument("--links", nargs="+", choices=list(LINKS), default=list(LINKS))
    parser.add_argument("--no-victoria", action="store_true")
    parser.add_argument("--json", type=Path, help="also write every run's figures here")
    parser.add_argument("--from-json", type=Path, help="print the tables of a --json dump")
    for hidden in ("--measure", "--url", "--query", "--wait", "--load-vm"):
        parser.add_argument(hidden, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.measure:
        print(json.dumps(measure(args.measure, args.url, args.query)))
        return 0
    if args.wait:
        wait_ready(args.wait)
        return 0
    if args.load_vm:
        load_victoria(args.load_vm)
        return 0
    if args.from_json:  # the tables of a (possibly interrupted) run's --json dump
        dumped = json.loads(args.from_json.read_text())
        print(report({tuple(k.split("|")): v for k, v in dumped.items()}, args))  # type: ignore[misc]
        return 0
    if args.quick:
        args.no_victoria = True
    if args.repeat is None:
        args.repeat = 1 if args.quick else 3
    net, servers = Network(), None
    with _interruptible():
        try:
            net.create()
            servers = Servers(net, victoria=not args.no_victoria).start()
            print(f"servers up; {_load()}", file=sys.stderr, flush=True)
            started, load0 = time.monotonic(), _load()
            found = run_all(net, servers, args)
            took, load1 = time.monotonic() - started, _load()
        finally:
            if servers is not None:
                servers.stop()
            net.remove()
    print(report(found, args))
    print(f"\nMeasured in {took / 60:.1f} min on {os.cpu_count()} cores; at the start {load0}, "
          f"at the end {load1} (other work on the machine slows every row).")  # fmt: skip
    if args.json:
        _dump(found, args.json)
    return 0


if __name__ == "__main__":
    sys.exit(main())
