"""Benchmark: one big range query into a DataFrame, prometheus-api-client vs obskit.

Run: ``.venv/bin/python benchmarks/query_range.py [--repeat 5]`` (about 6 minutes).

Data. The demo has ~300 series, so the 1,000-series case is a synthetic backfill made
here with promtool: ``bench_http_requests_total`` counters for 50 instances x 20
handlers, one sample a minute for 1 day (+10 min), cached under the obskit cache dir.
The query ``bench_http_requests_total`` over that day at step 60 s returns 1,000
series x 1,441 points, a ~32 MB JSON body. The chunking case (e) runs on the real demo
Prometheus (:class:`obskit.demo.DemoPrometheus`, 7 days at 30 s).

Method. Every measurement runs in a fresh Python process (so memory is not shared
between them) that makes the call twice: the second call's time is reported (what the
next query in a notebook costs), the first call's in parentheses (a fresh process also
pays for getting its memory from the system). Repetitions are interleaved (A, B, C, A,
B, C, ...) so that load from other processes hits all of them alike; medians are shown.
Peak memory growth (first call) is the kernel's resident-set high-water mark (``VmHWM``, reset via
``/proc/self/clear_refs``) minus the resident set just before the call; where that is
not available, RSS sampled by a thread every millisecond (psutil).
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import numpy as np

from obskit import config
from obskit.demo import PINNED_END, DemoPrometheus, DemoSpec, free_port
from obskit.demo.backfill import find_binary

END = PINNED_END
DAY = timedelta(days=1)
SCRAPE = 60  # seconds between synthetic samples
MARGIN = 600  # seconds of data before the queried day
INSTANCES, HANDLERS = 50, 20
QUERY = "bench_http_requests_total"
CHUNKED_QUERY = "rate(voicebot_llm_latency_seconds_bucket[5m])"
CHUNKED_STEP = "15s"
KEY = f"v1-{INSTANCES}x{HANDLERS}-{SCRAPE}s-{END:%Y%m%dT%H%M}"
SERVER_PID = "OBSKIT_BENCH_SERVER_PID"  # the demo Prometheus, for (e)'s CPU accounting


# -- the synthetic data set ----------------------------------------------------------------


def _series_names() -> list[str]:
    return [
        f'bench_http_requests_total{{code="200",handler="/api/v{h}",'
        f'instance="10.1.0.{i}:8080",job="shop"}}'
        for i in range(INSTANCES)
        for h in range(HANDLERS)
    ]


def _window_text(names: list[str], values: np.ndarray, times: np.ndarray) -> str:
    lines = ["# TYPE bench_http_requests counter\n"]
    stamps = [str(t) for t in times.tolist()]
    for name, row in zip(names, values.tolist(), strict=True):
        lines.append("".join(f"{name} {v!r} {t}\n" for v, t in zip(row, stamps, strict=True)))
    lines.append("# EOF\n")
    return "".join(lines)


def build_blocks() -> Path:
    """TSDB blocks of the synthetic set, built once with promtool and cached."""
    target = config.cache_dir() / "bench" / KEY
    if (target / "DONE").exists():
        return target
    promtool = find_binary("promtool")
    first = int(END.timestamp()) - int(DAY.total_seconds()) - MARGIN
    times = np.arange(first, int(END.timestamp()) + 1, SCRAPE)
    names = _series_names()
    rng = np.random.default_rng(7)
    rates = rng.uniform(0.1, 20.0, (len(names), 1))
    values = np.cumsum(rng.poisson(rates * SCRAPE, (len(names), len(times))), axis=1)
    work = Path(tempfile.mkdtemp(prefix="obskit-bench-"))
    try:
        for block in np.unique(times // 7200):  # one file per 2 h block: promtool reads it once
            inside = times // 7200 == block
            text = work / "window.om"
            text.write_text(_window_text(names, values[:, inside].astype(float), times[inside]))
            subprocess.run([promtool, "tsdb", "create-blocks-from", "openmetrics", "-q",
                            str(text), str(work / "blocks")], check=True)  # fmt: skip
        (work / "blocks" / "DONE").write_text(KEY)
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.rmtree(target, ignore_errors=True)
        (work / "blocks").rename(target)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    return target


class Server:
    """A plain Prometheus over a copy of ``blocks`` on a free loopback port."""

    def __init__(self, blocks: Path) -> None:
        self.workdir = Path(tempfile.mkdtemp(prefix="obskit-bench-prom-"))
        shutil.copytree(blocks, self.workdir / "data", ignore=shutil.ignore_patterns("DONE"))
        (self.workdir / "prometheus.yml").write_text("global: {scrape_interval: 60s}\n")
        self.url = f"http://127.0.0.1:{free_port()}"
        argv = [find_binary("prometheus"), f"--config.file={self.workdir / 'prometheus.yml'}",
                f"--storage.tsdb.path={self.workdir / 'data'}",
                f"--web.listen-address={self.url.removeprefix('http://')}",
                "--storage.tsdb.retention.time=100y", "--storage.tsdb.max-block-duration=2h"]  # fmt: skip
        with (self.workdir / "prometheus.log").open("wb") as log:
            self.process = subprocess.Popen(argv, stdout=log, stderr=subprocess.STDOUT)
        _wait_ready(self.url)

    def stop(self) -> None:
        self.process.terminate()
        self.process.wait(15)
        shutil.rmtree(self.workdir, ignore_errors=True)


def _wait_ready(url: str) -> None:
    import requests

    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        try:
            if requests.get(f"{url}/-/ready", timeout=1).status_code == 200:
                return
        except requests.RequestException:
            pass
        time.sleep(0.1)
    raise RuntimeError(f"Prometheus on {url} not ready within 60 s")


# -- measurements, each run in a fresh process -------------------------------------------------


class Peak:
    """Peak resident-memory growth over a block: kernel high-water mark, else sampled RSS."""

    def __init__(self) -> None:
        self.method = "VmHWM" if _reset_hwm() else "psutil RSS sampled every 1 ms"
        self.base = _status("VmRSS")
        self.peak = self.base
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        if self.method != "VmHWM":
            self._thread = threading.Thread(target=self._sample, daemon=True)
            self._thread.start()

    def _sample(self) -> None:
        import psutil

        me = psutil.Process()
        while not self._stop.wait(0.001):
            self.peak = max(self.peak, me.memory_info().rss)

    def growth(self) -> int:
        self._stop.set()
        if self._thread is not None:
            self._thread.join()
            return self.peak - self.base
        return _status("VmHWM") - self.base


def _reset_hwm() -> bool:
    try:
        Path("/proc/self/clear_refs").write_text("5")
        return True
    except OSError:
        return False


def _status(field: str) -> int:
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith(field + ":"):
                return int(line.split()[1]) * 1024
    except OSError:
        pass
    import psutil

    return int(psutil.Process().memory_info().rss)


def _range() -> tuple[datetime, datetime]:
    return END - DAY, END


def _twice(call: Callable[[], Any], server_pid: int | None = None) -> tuple[Any, dict[str, Any]]:
    """Call twice: the first call's time and peak memory growth, the second call's time.

    The first call is what a fresh process pays (its memory comes from the system);
    the second is what a notebook pays for its next query (warm allocator and caches).
    With ``server_pid``, also the CPU seconds this process and that server spent on the
    second call.
    """
    peak = Peak()
    t0 = time.perf_counter()
    result = call()
    cold = time.perf_counter() - t0
    grown = peak.growth()
    del result
    cpu0, server0, t0 = _cpu(), _server_cpu(server_pid), time.perf_counter()
    result = call()
    warm = time.perf_counter() - t0
    cpu = {"cpu_client": _cpu() - cpu0, "cpu_server": _server_cpu(server_pid) - server0}
    return result, {"s": warm, "cold": cold, "peak": grown, "method": peak.method, **cpu}


def _cpu() -> float:
    times = os.times()
    return times.user + times.system


def _server_cpu(pid: int | None) -> float:
    """User + system CPU seconds of process ``pid`` so far (0 without one)."""
    if pid is None:
        return 0.0
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def measure_papi(url: str) -> dict[str, Any]:
    from prometheus_api_client import MetricRangeDataFrame, PrometheusConnect

    prom = PrometheusConnect(url, disable_ssl=True)
    prom.custom_query("vector(1)")  # connection and imports warmed
    start, end = _range()
    frame, found = _twice(
        lambda: MetricRangeDataFrame(prom.custom_query_range(QUERY, start, end, str(SCRAPE)))
    )
    return {**found, "bytes_per_sample": frame.memory_usage(deep=True).sum() / len(frame)}


def measure_obskit(url: str) -> dict[str, Any]:
    import obskit

    client = obskit.connect(url)
    client.query_range("vector(1)", END - timedelta(hours=1), END, "1m")  # imports warmed
    start, end = _range()
    frame, found = _twice(lambda: client.query_range(QUERY, start, end, f"{SCRAPE}s"))
    return {**found, "samples": len(frame),
            "series": int(frame.groupby(list(frame.columns[2:]), observed=True).ngroups),
            "chunks": frame.attrs["params"]["chunks"],
            "bytes_per_sample": frame.memory_usage(deep=True).sum() / len(frame)}  # fmt: skip


def _params() -> dict[str, str | float]:
    start, end = _range()
    return {"query": QUERY, "start": start.timestamp(), "end": end.timestamp(), "step": SCRAPE}


def _raw(url: str, encoding: str) -> dict[str, Any]:
    import requests

    session = requests.Session()
    session.headers["Accept-Encoding"] = encoding
    params = _params()
    session.get(f"{url}/api/v1/query", params={"query": "vector(1)"})  # connection warmed
    address = f"{url}/api/v1/query_range"
    body, found = _twice(lambda: session.get(address, params=params).content)
    wire = session.get(address, params=params, stream=True)
    sent = len(wire.raw.read(decode_content=False))
    return {**found, "body": len(body), "wire": sent}


def measure_identity(url: str) -> dict[str, Any]:
    return _raw(url, "identity")


def measure_gzip(url: str) -> dict[str, Any]:
    return _raw(url, "gzip")


def _orjson(url: str, gc_on: bool) -> dict[str, Any]:
    import gc

    import orjson
    import requests

    params = _params()
    body = requests.get(f"{url}/api/v1/query_range", params=params,
                        headers={"Accept-Encoding": "identity"}).content  # fmt: skip
    if not gc_on:
        gc.disable()
    t0 = time.perf_counter()
    document = orjson.loads(body)
    seconds = time.perf_counter() - t0
    del document  # freed before the collector is back, or its first pass walks it all
    gc.enable()
    return {"s": seconds}


def measure_orjson_gc_on(url: str) -> dict[str, Any]:
    return _orjson(url, True)


def measure_orjson_gc_off(url: str) -> dict[str, Any]:
    return _orjson(url, False)


def _chunked(url: str, workers: int | None) -> dict[str, Any]:
    import pandas as pd

    import obskit
    from obskit.client import Client

    if workers is not None:  # this process only: exactly `workers` at once, even on loopback
        Client.workers = property(lambda self: self.settings.max_workers)  # type: ignore[method-assign,assignment]
    client = obskit.connect(url) if workers is None else obskit.connect(url, max_workers=workers)
    client.query_range("vector(1)", END - timedelta(hours=1), END, "1m")  # imports warmed
    start = END - timedelta(days=7)
    pid = int(os.environ[SERVER_PID]) if os.environ.get(SERVER_PID) else None
    call = lambda: client.query_range(CHUNKED_QUERY, start, END, CHUNKED_STEP)  # noqa: E731
    frame, found = _twice(call, server_pid=pid)
    digest = hashlib.sha256(pd.util.hash_pandas_object(frame, index=False).to_numpy()).hexdigest()
    return {**found, "samples": len(frame), "digest": digest, "workers": client.workers,
            "chunks": frame.attrs["params"]["chunks"]}  # fmt: skip


def measure_concurrent(url: str) -> dict[str, Any]:
    return _chunked(url, None)  # the default: max_workers=4, one per core on loopback


def measure_concurrent_4(url: str) -> dict[str, Any]:
    return _chunked(url, 4)


def measure_serial(url: str) -> dict[str, Any]:
    return _chunked(url, 1)


MEASURES: dict[str, Callable[[str], dict[str, Any]]] = {
    name.removeprefix("measure_").replace("_", "-"): fn
    for name, fn in list(globals().items())
    if name.startswith("measure_")
}


def run_one(kind: str, url: str) -> dict[str, Any]:
    """Run one measurement in a fresh interpreter and return what it printed."""
    argv = [sys.executable, __file__, "--measure", kind, "--url", url]
    done = subprocess.run(argv, check=True, capture_output=True, text=True)
    return dict(json.loads(done.stdout.strip().splitlines()[-1]))


#: Measurements that take seconds (not 15 s) run this many times per round: more runs,
#: steadier medians for the ratios that compare them.
CHEAP_RUNS = 3
EXPENSIVE = ("papi", "orjson-gc-on")


def run_all(plan: dict[str, str], repeat: int) -> dict[str, list[dict[str, Any]]]:
    found: dict[str, list[dict[str, Any]]] = {kind: [] for kind in plan}
    for round_ in range(repeat):
        for _ in range(CHEAP_RUNS):
            for kind, url in plan.items():
                if kind not in EXPENSIVE or _ == 0:
                    found[kind].append(run_one(kind, url))
        print(f"  round {round_ + 1}/{repeat} done", file=sys.stderr, flush=True)
    return found


# -- report ----------------------------------------------------------------------------------


def med(runs: list[dict[str, Any]], key: str) -> float:
    return float(statistics.median(r[key] for r in runs))


def report(found: dict[str, list[dict[str, Any]]], repeat: int) -> tuple[str, bool]:
    papi, ours, ident = found["papi"], found["obskit"], found["identity"]
    body, mib = med(ident, "body"), 1 << 20
    e2e, raw = med(ours, "s"), med(ident, "s")
    chunked = found["concurrent"] + found["concurrent-4"] + found["serial"]
    same = len({r["digest"] for r in chunked}) == 1
    speedup = med(found["serial"], "s") / med(found["concurrent"], "s")
    checks = [
        ("obskit end to end vs (a)", f"{med(papi, 's') / e2e:.1f}x faster", ">= 10x faster",
         med(papi, "s") / e2e >= 10),
        ("obskit end to end vs (c) identity fetch", f"{e2e / raw:.2f}x", "<= 1.5x",
         e2e / raw <= 1.5),
        ("obskit peak memory growth / body size", f"{med(ours, 'peak') / body:.1f}x",
         "<= 5x", med(ours, "peak") / body <= 5),
        ("obskit frame bytes per sample", f"{med(ours, 'bytes_per_sample'):.1f}", "<= 24",
         med(ours, "bytes_per_sample") <= 24),
        ("(e) concurrent vs serial", f"{speedup:.2f}x faster", ">= 1.5x faster", speedup >= 1.5),
    ]  # fmt: skip
    s, serial = ours[0], found["serial"][0]
    lines = [
        f"Synthetic backfill (promtool): {s['series']:,} series x "
        f"{s['samples'] // s['series']:,} points = {s['samples']:,} samples; "
        f"`{QUERY}` over 1 day at step 60 s: a {body / mib:.1f} MiB body "
        f"({med(found['gzip'], 'wire') / mib:.1f} MiB gzipped). Medians of {repeat} runs "
        f"((a) and (d) gc on) or {repeat * CHEAP_RUNS} runs (the rest), each in a fresh "
        "process: time of a second call (first call in parentheses); peak memory growth of "
        f"the first call ({ours[0]['method']}).",
        "",
        "| measurement | median |",
        "|---|---|",
        f"| (a) prometheus-api-client `custom_query_range` + `MetricRangeDataFrame` | "
        f"{_time(papi)}, peak +{med(papi, 'peak') / mib:,.0f} MiB, "
        f"{med(papi, 'bytes_per_sample'):.0f} bytes/sample |",
        f"| (b) obskit `client.query_range` end to end | {_time(ours)}, peak "
        f"+{med(ours, 'peak') / mib:,.0f} MiB, {med(ours, 'bytes_per_sample'):.1f} bytes/sample |",
        f"| (c) raw HTTP fetch, `Accept-Encoding: identity` | {_time(ident)} |",
        f"| (c) raw HTTP fetch, gzip (requests' default) | {_time(found['gzip'])} |",
        f"| (d) `orjson.loads` of the body, gc on | {med(found['orjson-gc-on'], 's'):.2f} s |",
        f"| (d) `orjson.loads` of the body, gc off | {med(found['orjson-gc-off'], 's'):.2f} s |",
        f"| (e) `{CHUNKED_QUERY}`, 7 d at {CHUNKED_STEP} on the demo: {serial['samples']:,} "
        f"samples in {serial['chunks']} chunks, serial (`max_workers=1`) | {_time(found['serial'])} |",
        f"| (e) same, concurrent (default: {found['concurrent'][0]['workers']} at once here); "
        f"identical samples: {'yes' if same else 'NO'} | {_time(found['concurrent'])} |",
        f"| (e) same, concurrent, 4 at once (`max_workers=4` on a remote server) | "
        f"{_time(found['concurrent-4'])} |",
        "",
        "| target | reached | wanted | met |",
        "|---|---|---|---|",
        *(f"| {name} | {got} | {want} | {'yes' if ok else '**no**'} |"
          for name, got, want, ok in checks),
        "",
        _bound(found),
        "",
        "(e) serial / concurrent, run by run: " + ", ".join(
            f"{a['s'] / b['s']:.2f}" for a, b in zip(found["serial"], found["concurrent"], strict=True)
        ) + ".",
    ]  # fmt: skip
    return "\n".join(lines), same


def _bound(found: dict[str, list[dict[str, Any]]]) -> str:
    """What concurrency can give at most here: CPU seconds spread over every core."""
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    serial, conc = found["serial"], found["concurrent"]
    client, server = med(conc, "cpu_client"), med(conc, "cpu_server")
    floor = (client + server) / (cores or 1)
    return (
        f"(e) CPU seconds per call (medians): serial {med(serial, 'cpu_client'):.2f} here + "
        f"{med(serial, 'cpu_server'):.2f} in Prometheus, concurrent {client:.2f} + {server:.2f}. "
        f"Prometheus runs on the same {cores} cores, so a concurrent call cannot take less than "
        f"{client + server:.2f} / {cores} = {floor:.2f} s: at most "
        f"{med(serial, 's') / floor:.2f}x the serial call on this machine."
    )


def _time(runs: list[dict[str, Any]]) -> str:
    return f"{med(runs, 's'):.2f} s ({med(runs, 'cold'):.2f} s)"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--measure", choices=sorted(MEASURES), help=argparse.SUPPRESS)
    parser.add_argument("--url", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.measure:
        print(json.dumps(MEASURES[args.measure](args.url)))
        return 0
    print("building/loading the synthetic data set ...", file=sys.stderr, flush=True)
    server = Server(build_blocks())
    demo = DemoPrometheus(DemoSpec()).start()
    try:
        plan = {kind: server.url for kind in MEASURES}
        plan["concurrent"] = plan["concurrent-4"] = plan["serial"] = demo.url
        assert demo.process is not None
        os.environ[SERVER_PID] = str(demo.process.pid)
        for kind in ("identity", "concurrent"):  # warm the servers' caches, untimed
            run_one(kind, plan[kind])
        before = os.getloadavg()[0]
        found = run_all(plan, args.repeat)
        load = f"load average {before:.1f} at the start, {os.getloadavg()[0]:.1f} at the end"
        text, same = report(found, args.repeat)
    finally:
        server.stop()
        demo.stop()
    print(text)
    print(f"\nMachine: {os.cpu_count()} cores, {load} (other work on the machine slows all rows).")
    assert same, "concurrent and serial fetches returned different samples"
    return 0


if __name__ == "__main__":
    os.environ.pop("PROMETHEUS_URL", None)
    sys.exit(main())
