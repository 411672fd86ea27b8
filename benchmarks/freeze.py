"""Benchmark: freeze the demo week from a loopback Prometheus, fixture size, replay cold/warm.

Run: ``.venv/bin/python benchmarks/freeze.py``. The source is the demo Prometheus (7 days at
30 s, every catalog series) started from the usual demo cache. Freeze runs three times (the
first against a freshly started server); replay "cold" builds blocks into a fresh temporary
cache, "warm" starts again from it. The comparison in the same run is the obvious
alternative: one ``query_range`` per series at the scrape step, written as OpenMetrics.
Targets: <= 2 bytes/sample on disk, freeze >= 500,000 samples/s, replay warm < 5 s.
The same week in a VictoriaMetrics is then read both ways freeze can read it there, in
turns: range selectors (2 h windows) and the export API (the path freeze takes).
"""

from __future__ import annotations

import gzip
import os
import resource
import shutil
import statistics
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd

import obskit
from obskit.demo import DemoPrometheus, DemoSpec, _fixture
from obskit.demo import freeze as freeze_module
from obskit.demo.freeze import freeze
from obskit.demo.replay import _prefixes, _value_text
from obskit.demo.victoria import DemoVictoriaMetrics

SELECTOR = '{__name__=~".+"}'
EPOCH = pd.Timestamp(0, tz="UTC")


def _size(folder: Path) -> int:
    return sum(p.stat().st_size for p in folder.iterdir() if p.is_file())


def _cpu(pid: int) -> float:
    """CPU seconds (user + system) a process has used: /proc/PID/stat (Linux)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def _own_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def bench_freeze(prom: DemoPrometheus, work: Path) -> tuple[Path, int]:
    times = []
    out = work / "fixture"
    assert prom.process is not None
    for run in range(3):
        server, own, t0 = _cpu(prom.process.pid), _own_cpu(), time.perf_counter()
        report = freeze(prom.url, [SELECTOR], prom.start_time, prom.end, out, force=True)
        times.append(time.perf_counter() - t0)
        server, own = _cpu(prom.process.pid) - server, _own_cpu() - own
        samples = int(report["samples"])
        label = "first (fresh server)" if run == 0 else f"run {run + 1}"
        print(f"  freeze {label:20s} {times[-1]:6.2f} s  {samples / times[-1]:>11,.0f} samples/s"
              f"  (CPU: Prometheus {server:.2f} s, this process {own:.2f} s; "
              f"{samples / (server + own):,.0f} samples per CPU-second; "
              f"load average {os.getloadavg()[0]:.1f})")  # fmt: skip
    best = statistics.median(times)
    print(f"freeze: {report['series']:,} series, {samples:,} samples; median {best:.2f} s = "
          f"{samples / best:,.0f} samples/s (target >= 500,000)")  # fmt: skip
    size = _size(out)
    data = sum((out / n).stat().st_size for n in (_fixture.TIMES, _fixture.VALUES))
    print(f"fixture: {size:,} bytes = {size / samples:.3f} bytes/sample (target <= 2; sample "
          f"columns alone {data / samples:.3f})")  # fmt: skip
    return out, samples


def bench_replay(fixture: Path) -> None:
    cache = Path(tempfile.mkdtemp(prefix="obskit-bench-replay-"))
    try:
        t0 = time.perf_counter()
        with DemoPrometheus(data=fixture, cache=cache) as prom:
            cold = time.perf_counter() - t0
            build = prom.build
        t0 = time.perf_counter()
        with DemoPrometheus(data=fixture, cache=cache) as prom:
            warm = time.perf_counter() - t0
            assert prom.build is not None and prom.build.cached
    finally:
        shutil.rmtree(cache, ignore_errors=True)
    assert build is not None
    print(f"replay: cold {cold:.2f} s (read fixture {build.generate_s:.2f} s, OpenMetrics + "
          f"promtool {build.backfill_s:.2f} s) | warm {warm:.2f} s (target < 5 s)")  # fmt: skip


def _selector(labels: dict[str, str]) -> str:
    inner = ",".join(f'{k}="{v}"' for k, v in sorted(labels.items()))
    return "{" + inner + "}"


def bench_alternative(prom: DemoPrometheus, fixture: Path, work: Path) -> None:
    """One query_range per series at the scrape step, written as OpenMetrics text."""
    frozen = _fixture.read(fixture).samples
    step = f"{prom.step_seconds}s"
    t0 = time.perf_counter()
    chunks, points, equal = [], 0, 0
    with obskit.connect(prom.url) as client:
        for i, labels in enumerate(frozen.labels):
            frame = client.query_range(
                _selector(labels), prom.start_time, prom.end, step, progress=False
            )
            ms = ((frame["timestamp"] - EPOCH) // pd.Timedelta("1ms")).to_numpy(np.int64)
            values = frame["value"].to_numpy(np.float64)
            prefix = _prefixes(_fixture.Samples([labels], np.array([0]), ms, values))[0]
            stamps = [f"{t // 1000}.{t % 1000:03d}" for t in ms.tolist()]
            text = _value_text(values)
            chunks.append("".join(f"{prefix}{v} {t}\n" for v, t in zip(text, stamps, strict=True)))
            raw_t, raw_v = frozen.of(i)
            points += len(ms)
            at = np.minimum(np.searchsorted(raw_t, ms), len(raw_t) - 1)
            same = (raw_t[at] == ms) & (raw_v[at].view(np.int64) == values.view(np.int64))
            equal += int(same.sum())
    path = work / "alternative.om"
    path.write_text("".join(chunks) + "# EOF\n")
    took = time.perf_counter() - t0
    size = path.stat().st_size
    packed = len(gzip.compress(path.read_bytes(), 6))
    total = int(frozen.counts.sum())
    print(f"alternative (query_range per series at {step} -> OpenMetrics): {took:.2f} s = "
          f"{points / took:,.0f} points/s; {size / points:.1f} bytes/sample "
          f"({packed / points:.2f} gzipped); {points:,} points for {total:,} raw samples, "
          f"{points - equal:,} of them not a raw sample (time or value)")  # fmt: skip


def bench_victoria(runs: int = 3) -> None:
    """Range selectors against ``/api/v1/export`` on the same VictoriaMetrics, in turns."""
    with DemoVictoriaMetrics(DemoSpec()) as vm, obskit.connect(vm.url) as client:
        lo, hi = (round(t.timestamp() * 1000) for t in (vm.start_time, vm.end))
        took: dict[bool, list[float]] = {False: [], True: []}
        read: dict[bool, _fixture.Samples] = {}
        for _ in range(runs):
            for export in (False, True):
                t0 = time.perf_counter()
                read[export] = freeze_module._read_all(client, [SELECTOR], lo, hi, False, export)
                took[export].append(time.perf_counter() - t0)
        a, b = read[False], read[True]
        same = (
            a.labels == b.labels
            and np.array_equal(a.times_ms, b.times_ms)
            and np.array_equal(a.values.view(np.int64), b.values.view(np.int64))
        )
        samples = int(a.counts.sum())
        for export, label in ((False, "range selectors"), (True, "export API")):
            best = statistics.median(took[export])
            print(f"victoriametrics {label:16s} median {best:5.2f} s = {samples / best:>10,.0f} "
                  f"samples/s (runs: {', '.join(f'{t:.2f}' for t in took[export])})")  # fmt: skip
        print(f"victoriametrics: {samples:,} samples; export {statistics.median(took[False]) / statistics.median(took[True]):.2f}x "
              f"as fast; last reads bit-identical: {same}")  # fmt: skip


def main() -> None:
    work = Path(tempfile.mkdtemp(prefix="obskit-bench-freeze-"))
    try:
        with DemoPrometheus(DemoSpec()) as prom:
            print(f"source: demo Prometheus on {prom.url}, {prom.start_time} to {prom.end}")
            fixture, _ = bench_freeze(prom, work)
            bench_alternative(prom, fixture, work)
        bench_replay(fixture)
        bench_victoria()
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
