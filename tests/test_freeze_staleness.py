"""Staleness markers survive freeze and replay: a series that ended answers nothing, on both.

The source is a real Prometheus scraping (every second) an exporter thread of this test
that stops exposing one series and pauses another: Prometheus writes real staleness
markers. The freeze must find every marker a full remote read of the range shows, and
the replay must answer every instant query like the source, where without the markers
a series that ended would answer for the 5 m lookback.
"""

from __future__ import annotations

import http.server
import subprocess
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import ClassVar

import numpy as np
import pytest
import requests

from obskit.demo import DemoPrometheus, _fixture, _prompb, _stale
from obskit.demo.freeze import freeze
from obskit.demo.server import HOST, free_port, terminate

pytestmark = pytest.mark.prometheus
SELECTOR = '{job="stale"}'


class _Exporter(http.server.BaseHTTPRequestHandler):
    shown: ClassVar[dict[str, float]] = {"stale_kept": 1.0, "stale_ends": 2.0, "stale_pauses": 3.0}

    def do_GET(self) -> None:
        body = "".join(f"{name} {value}\n" for name, value in sorted(self.shown.items()))
        self.send_response(200)
        self.send_header("Content-Type", "text/plain; version=0.0.4")
        self.end_headers()
        self.wfile.write(body.encode())

    def log_message(self, *args: object) -> None:
        pass


@dataclass
class Source:
    url: str
    lo: int
    hi: int

    @property
    def range(self) -> tuple[datetime, datetime]:
        return (datetime.fromtimestamp(self.lo / 1000, UTC), datetime.fromtimestamp(self.hi / 1000, UTC))  # fmt: skip


def _ms() -> int:
    return int(time.time() * 1000)


@pytest.fixture(scope="module")
def source(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Source]:
    """A scraped source where ``stale_ends`` ends and ``stale_pauses`` is gone for ~3 s."""
    work = tmp_path_factory.mktemp("stale-source")
    exporter = http.server.ThreadingHTTPServer((HOST, 0), _Exporter)
    threading.Thread(target=exporter.serve_forever, daemon=True).start()
    (work / "prometheus.yml").write_text(
        "global:\n  scrape_interval: 1s\nscrape_configs:\n  - job_name: stale\n"
        f"    static_configs:\n      - targets: ['{HOST}:{exporter.server_port}']\n"
    )
    port = free_port()
    lo = _ms()
    with (work / "log").open("wb") as log:
        proc = subprocess.Popen(
            ["prometheus", f"--config.file={work / 'prometheus.yml'}",
             f"--storage.tsdb.path={work / 'data'}", f"--web.listen-address={HOST}:{port}"],
            stdout=log, stderr=subprocess.STDOUT,
        )  # fmt: skip
    url = f"http://{HOST}:{port}"
    try:
        _wait(lambda: _instant(url, "stale_kept", _ms()) != [], "the first scrape")
        time.sleep(4)
        _Exporter.shown = {"stale_kept": 1.0}
        time.sleep(3.2)
        _Exporter.shown = {"stale_kept": 1.0, "stale_pauses": 3.0}
        time.sleep(4)
        yield Source(url, lo, _ms())
    finally:
        terminate(proc)
        exporter.shutdown()
        exporter.server_close()


def _wait(ready, what: str, timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            if ready():
                return
        except requests.RequestException:
            pass
        time.sleep(0.1)
    raise AssertionError(f"{what} did not happen within {timeout} s")


def _instant(url: str, expr: str, at_ms: int) -> list[tuple[tuple, str]]:
    answer = requests.get(f"{url}/api/v1/query", params={"query": expr, "time": f"{at_ms / 1000:.3f}"}, timeout=10)  # fmt: skip
    result = answer.json()["data"]["result"]
    return sorted((tuple(sorted(r["metric"].items())), r["value"][1]) for r in result)


def _all_markers(url: str, lo: int, hi: int) -> dict[str, list[int]]:
    """Every staleness marker of the job in [lo, hi]: one remote read of everything."""
    body = _stale._snappy(_prompb.read_request([(lo, hi, {"job": "stale"})]), True)
    answer = requests.post(f"{url}/api/v1/read", data=body, headers=_stale._READ_HEADERS, timeout=10)  # fmt: skip
    assert answer.status_code == 200, answer.text
    [result] = _prompb.decode_read_response(_stale._snappy(answer.content, False))
    found = {labels["__name__"]: [t for t, b in points if b == _stale.STALE_BITS] for labels, points in result}  # fmt: skip
    return {name: times for name, times in found.items() if times}


@pytest.fixture(scope="module")
def frozen(source: Source, tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("stale-freeze") / "fixture"
    freeze(source.url, [SELECTOR], *source.range, out)
    return out


def test_the_freeze_holds_every_marker_a_full_remote_read_shows(
    source: Source, frozen: Path
) -> None:
    everything = _all_markers(source.url, source.lo, source.hi)
    assert sorted(everything) == ["stale_ends", "stale_pauses"]  # the source really has them
    stored = _stale.from_file(frozen, _fixture.verify(frozen))
    assert all(times for _, times in stored)  # only series with markers are listed
    assert {labels["__name__"]: times for labels, times in stored} == everything
    staleness = _fixture.verify(frozen)["staleness"]
    assert staleness["reproduced"] is True
    assert staleness["markers"] == 2


def test_replay_answers_every_instant_like_the_source(
    source: Source, frozen: Path, tmp_path: Path
) -> None:
    ends = _all_markers(source.url, source.lo, source.hi)["stale_ends"][0]
    with DemoPrometheus(data=frozen, cache=tmp_path / "cache") as replay:
        # just after the marker: nothing on the source, and nothing on the replay
        assert _instant(source.url, "stale_ends", ends + 1) == []
        assert _instant(replay.url, "stale_ends", ends + 1) == []
        assert _instant(replay.url, "stale_ends", ends - 1) != []
        differ = [
            at for at in range(source.lo, source.hi + 1, 250)
            if _instant(source.url, SELECTOR, at) != _instant(replay.url, SELECTOR, at)
        ]  # fmt: skip
        assert differ == []
        again = tmp_path / "again"
        freeze(replay.url, [SELECTOR], *source.range, again)  # the replay's own remote read
    first, second = _fixture.read(frozen).samples, _fixture.read(again).samples
    assert first.labels == second.labels and first.counts.tolist() == second.counts.tolist()
    assert np.array_equal(first.times_ms, second.times_ms)
    assert np.array_equal(first.values.view(np.int64), second.values.view(np.int64))
    assert (again / _stale.STALE).read_bytes() == (frozen / _stale.STALE).read_bytes()


def test_markers_survive_a_warm_start_from_the_cache(
    source: Source, frozen: Path, tmp_path: Path
) -> None:
    ends = _all_markers(source.url, source.lo, source.hi)["stale_ends"][0]
    with DemoPrometheus(data=frozen, cache=tmp_path / "cache") as replay:
        assert replay.build is not None and not replay.build.cached
    with DemoPrometheus(data=frozen, cache=tmp_path / "cache") as replay:
        assert replay.build is not None and replay.build.cached
        assert _instant(replay.url, "stale_ends", ends + 1) == []
        assert _instant(replay.url, "stale_ends", ends - 1) != []
        samples = _fixture.read(frozen).samples
        count = samples.counts[[s["__name__"] for s in samples.labels].index("stale_ends")]
        [(_, counted)] = _instant(replay.url, "count_over_time(stale_ends[1h])", ends + 1)
        assert int(counted) == count  # the marker is not a sample


# -- pure units ------------------------------------------------------------------------------


def test_prompb_write_request_round_trips_negative_zero_and_the_marker() -> None:
    series = [({"__name__": "a", "x": 'q"\n'}, [(1, -0.0), (2**41, _stale.STALE_NAN), (-5, 1.5)])]
    [(labels, samples)] = _prompb.decode_write_request(_prompb.write_request(series))
    assert labels == series[0][0]
    bits = [np.float64(v).view(np.uint64) for _, v in samples]
    assert [t for t, _ in samples] == [1, 2**41, -5]
    assert bits == [np.float64(v).view(np.uint64) for _, v in series[0][1]]


def test_marker_places_are_gaps_over_one_and_a_half_intervals_and_the_tail() -> None:
    times = np.array([0, 1000, 2000, 3000, 6000, 7000], np.int64)
    samples = _fixture.Samples([{"__name__": "a"}], np.array([6]), times, np.zeros(6))
    assert _stale.windows(samples, 7400, 1.0) == [(0, 3001, 5999)]
    assert _stale.windows(samples, 7600, 1.0) == [(0, 3001, 5999), (0, 7001, 7600)]
