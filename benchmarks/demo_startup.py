"""Benchmark: demo data generation, promtool backfill and Prometheus start, cold and warm.

Run: ``.venv/bin/python benchmarks/demo_startup.py``. Uses a fresh temporary cache, so "cold"
really is cold; "warm" is the second start from that cache. The comparison in the same run is
the obvious alternative: one promtool process over one OpenMetrics file for the whole span
(promtool 2.42 re-reads its input once per 2 h block it writes).
"""

from __future__ import annotations

import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from obskit.demo import DemoPrometheus, DemoSpec, generate
from obskit.demo.backfill import find_binary
from obskit.demo.generate import render_window

SETS = {
    "default demo (7 d at 30 s)": DemoSpec(),
    "test data set (same: 7 d at 30 s, pinned end)": DemoSpec(),
    "small (1 d at 30 s)": DemoSpec(days=1),
}


def timed_start(spec: DemoSpec, cache: Path) -> tuple[float, DemoPrometheus]:
    t0 = time.perf_counter()
    prom = DemoPrometheus(spec, cache=cache).start()
    return time.perf_counter() - t0, prom


def one_set(name: str, spec: DemoSpec) -> None:
    cache = Path(tempfile.mkdtemp(prefix="obskit-bench-"))
    try:
        cold, prom = timed_start(spec, cache)
        build = prom.build
        prom.stop()
        warm, prom = timed_start(spec, cache)
        prom.stop()
    finally:
        shutil.rmtree(cache, ignore_errors=True)
    assert build is not None
    rate = build.samples / max(build.generate_s + build.backfill_s, 1e-9)
    print(f"{name}: {build.samples:,} samples")
    print(f"  generate {build.generate_s:6.2f} s | write+backfill {build.backfill_s:6.2f} s "
          f"| {rate / 1000:,.0f} k samples/s")  # fmt: skip
    print(f"  ready cold {cold:6.2f} s (target < 60 s) | ready warm {warm:5.2f} s (target < 5 s)")


def single_file_promtool(spec: DemoSpec) -> None:
    """The obvious alternative: one file, one promtool process (serial, re-reads per block)."""
    data = generate(spec)
    work = Path(tempfile.mkdtemp(prefix="obskit-bench-"))
    try:
        text = work / "all.om"
        text.write_text(render_window(data, 0, len(spec.timestamps())))
        t0 = time.perf_counter()
        subprocess.run([find_binary("promtool"), "tsdb", "create-blocks-from", "openmetrics",
                        "-q", str(text), str(work / "out")], check=True)  # fmt: skip
        print(f"  alternative, one file + one promtool: backfill {time.perf_counter() - t0:6.2f} s")
    finally:
        shutil.rmtree(work, ignore_errors=True)


def main() -> int:
    for name, spec in SETS.items():
        if name.startswith("test data set"):
            print(f"{name}: identical inputs to the default demo, so identical figures")
            continue
        one_set(name, spec)
    print("comparison on the small set:")
    single_file_promtool(SETS["small (1 d at 30 s)"])
    return 0


if __name__ == "__main__":
    sys.exit(main())
