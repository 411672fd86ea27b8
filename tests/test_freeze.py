"""Freeze and replay on real Prometheus servers: exact samples, identical dashboard frames.

The demo week is frozen from the session's demo Prometheus and checked against the
generator's own arrays (not against obskit's reader); its replay is read back and must
equal the fixture sample for sample, and every committed dashboard query must return the
same frame on both. A hand-made fixture with the awkward cases (counter reset, histogram
buckets, NaN/±Inf, gaps, a series that ends, escaped label values, ms jitter across 2 h
edges) is replayed, frozen again from that replay and compared bit for bit.
"""

from __future__ import annotations

import json
import time
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

import obskit
from conftest import CACHE_ROOT, ROOT
from obskit import dashboards
from obskit.client import connect
from obskit.dashboards._plan import plan
from obskit.demo import DemoPrometheus, DemoSpec, _fixture, generate, replay
from obskit.demo.freeze import freeze

pytestmark = pytest.mark.prometheus

EDGE_START = 1_771_020_000_000  # 2026-02-13T22:00:00Z, on a 2 h block edge
EDGE_STEP = 15_000


def _same(a: _fixture.Samples, b: _fixture.Samples) -> None:
    assert a.labels == b.labels
    assert a.counts.tolist() == b.counts.tolist()
    assert np.array_equal(a.times_ms, b.times_ms)
    assert np.array_equal(a.values.view(np.int64), b.values.view(np.int64))  # NaN/±Inf, -0.0


def edge_samples() -> _fixture.Samples:
    """Awkward series over 5 h: they cross two 2 h block edges and four freeze windows."""
    rng = np.random.default_rng(7)
    n = 5 * 3600 * 1000 // EDGE_STEP
    grid = EDGE_START + 1 + EDGE_STEP * np.arange(n, dtype=np.int64)
    jitter = grid + rng.integers(-400, 400, n)  # real scrapes land a few ms off the grid
    counter = np.cumsum(rng.integers(0, 5, n)).astype(float)
    counter[n // 2 :] -= counter[n // 2]  # a counter reset
    special = rng.normal(0.5, 0.2, n)
    special[[3, 4, 5, n - 7]] = [np.nan, np.inf, -np.inf, -0.0]
    gap = np.r_[0 : n // 3, n // 3 + 40 : n]  # 10 minutes missing
    series: list[tuple[dict[str, str], np.ndarray, np.ndarray]] = [
        ({"__name__": "edge_requests_total", "job": "edge"}, jitter, counter),
        ({"__name__": "edge_temperature", "job": "edge"}, grid, special),
        ({"__name__": "edge_gap", "job": "edge"}, grid[gap], rng.normal(size=len(gap))),
        ({"__name__": "edge_ends", "job": "edge"}, grid[: n // 2], np.arange(n // 2) * 0.25),
        ({"__name__": "edge_labels", "job": "edge", "path": 'a "b" \\c\nd'}, grid, np.ones(n)),
    ]
    for le in ("0.1", "0.5", "+Inf"):
        buckets = np.cumsum(rng.integers(0, 3, n)) * (1 + float(le.replace("+Inf", "2")))
        series.append(({"__name__": "edge_seconds_bucket", "job": "edge", "le": le}, grid, buckets))  # fmt: skip
    series.sort(key=lambda s: sorted(s[0].items()))
    return _fixture.Samples(
        [s[0] for s in series],
        np.array([len(s[1]) for s in series], np.int64),
        np.concatenate([s[1] for s in series]),
        np.concatenate([s[2] for s in series]),
    )


def write_edge_fixture(folder: Path) -> Path:
    """The edge samples as a fixture directory (as if frozen), with metadata."""
    folder.mkdir(parents=True)
    samples = edge_samples()
    end = int(samples.times_ms.max())
    manifest = {
        "source": "http://edge.example", "selectors": ['{job="edge"}'],
        "start": pd.Timestamp(EDGE_START, unit="ms", tz="UTC").isoformat(),
        "end": pd.Timestamp(end, unit="ms", tz="UTC").isoformat(),
        "series": len(samples.labels), "samples": int(samples.counts.sum()),
        "scrape_interval_seconds": EDGE_STEP / 1000, "obskit": obskit.__version__,
    }  # fmt: skip
    metadata = {"edge_requests": [{"type": "counter", "help": "Requests.", "unit": ""}]}
    _fixture.write_files(folder, samples, metadata, manifest)
    return folder


# -- the demo week ---------------------------------------------------------------------------


@pytest.fixture(scope="module")
def frozen_demo(demo, tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict, float]:
    out = tmp_path_factory.mktemp("freeze") / "demo-week"
    began = time.perf_counter()
    report = freeze(demo.url, ['{__name__=~".+"}'], demo.start_time, demo.end, out)
    return out, dict(report), time.perf_counter() - began


@pytest.fixture(scope="module")
def demo_replay(frozen_demo):
    with DemoPrometheus(data=frozen_demo[0], cache=CACHE_ROOT) as prom:
        yield prom


def test_frozen_demo_week_equals_the_generators_arrays(frozen_demo) -> None:
    path, report, _ = frozen_demo
    data = generate(DemoSpec())
    grid = data.spec.timestamps() * 1000
    truth = {}
    for s in data.series:
        keep = slice(None) if s.present is None else s.present
        truth[tuple(sorted({**s.labels, "__name__": s.name}.items()))] = (grid[keep], s.values[keep])  # fmt: skip
    fixture = _fixture.read(path)
    assert report["samples"] == data.samples == int(fixture.samples.counts.sum())
    assert len(fixture.samples.labels) == len(truth)
    for i, labels in enumerate(fixture.samples.labels):
        times, values = fixture.samples.of(i)
        want_t, want_v = truth[tuple(sorted(labels.items()))]
        assert np.array_equal(times, want_t), labels
        assert np.array_equal(values.view(np.int64), want_v.view(np.int64)), labels


def test_the_demo_fixture_is_small_and_its_manifest_complete(frozen_demo, demo) -> None:
    path, report, _ = frozen_demo
    size = sum(p.stat().st_size for p in path.iterdir())
    assert size / report["samples"] <= 2.0
    manifest = json.loads((path / "manifest.json").read_text())
    assert manifest["source"] == demo.url
    assert manifest["scrape_interval_seconds"] == 30.0
    assert manifest["series"] == 297
    assert set(manifest["files"]) == {p.name for p in path.iterdir()} - {"manifest.json"}


def test_replayed_demo_week_holds_every_sample(frozen_demo, demo, demo_replay) -> None:
    path, _, _ = frozen_demo
    assert (demo_replay.start_time, demo_replay.end) == (demo.start_time, demo.end)
    back = path.parent / "again"
    freeze(demo_replay.url, ['{__name__=~".+"}'], demo_replay.start_time, demo_replay.end, back)
    _same(_fixture.read(back).samples, _fixture.read(path).samples)


def _board_queries() -> list:
    from obskit.demo.scenario import PINNED_END

    found = []
    for board in sorted((ROOT / "grafana" / "dashboards").glob("*.json")):
        found += plan(json.loads(board.read_text()), PINNED_END)
    return found


def test_every_dashboard_query_gives_the_same_frame_on_source_and_replay(demo, demo_replay) -> None:
    queries = _board_queries()
    assert queries
    with connect(demo.url) as source, connect(demo_replay.url) as copy:
        for query in queries:
            want = dashboards.run_query(source, query)
            got = dashboards.run_query(copy, query)
            pd.testing.assert_frame_equal(got, want, obj=f"{query.panel}/{query.ref_id}")


# -- the awkward cases -----------------------------------------------------------------------


def test_edge_cases_survive_replay_and_freeze_bit_for_bit(tmp_path: Path) -> None:
    source_fixture = write_edge_fixture(tmp_path / "edge")
    original = _fixture.read(source_fixture)
    with DemoPrometheus(data=source_fixture, cache=tmp_path / "cache") as prom:
        assert prom.end == pd.Timestamp(original.manifest["end"]).to_pydatetime()
        report = freeze(prom.url, ['{job="edge"}'], prom.start_time, prom.end, tmp_path / "out")
    _same(_fixture.read(tmp_path / "out").samples, original.samples)
    assert report["scrape_interval_seconds"] == 15.0
    staleness = report["staleness"]
    assert staleness["gaps_over_two_intervals"] == 1
    assert staleness["series_ending_over_two_intervals_before_end"] == 1
    # the gap and the early end were looked at with remote read: no marker there (backfilled)
    assert (staleness["reproduced"], staleness["markers"]) == (True, 0)
    assert not (tmp_path / "out" / "stale.json").exists()


def test_two_overlapping_selectors_keep_each_series_once(tmp_path: Path) -> None:
    source_fixture = write_edge_fixture(tmp_path / "edge")
    with DemoPrometheus(data=source_fixture, cache=tmp_path / "cache") as prom:
        freeze(prom.url, ['{job="edge"}', '{__name__=~"edge_seconds.*"}'],
               prom.start_time, prom.end, tmp_path / "out")  # fmt: skip
    _same(_fixture.read(tmp_path / "out").samples, _fixture.read(source_fixture).samples)


def test_replay_metadata_gives_the_frozen_metadata_for_the_replays_url(tmp_path: Path) -> None:
    source_fixture = write_edge_fixture(tmp_path / "edge")
    with DemoPrometheus(data=source_fixture, cache=tmp_path / "cache") as prom:
        with connect(prom.url) as client:
            assert client.prometheus_connect().get_metric_metadata(metric=None) == []  # none
        assert replay.metadata(prom.url)["edge_requests"][0]["type"] == "counter"
    assert replay.metadata(prom.url) == {}


def test_a_second_replay_start_uses_the_cache(tmp_path: Path) -> None:
    source_fixture = write_edge_fixture(tmp_path / "edge")
    with DemoPrometheus(data=source_fixture, cache=tmp_path / "cache") as prom:
        assert prom.build is not None and not prom.build.cached
    began = time.perf_counter()
    with DemoPrometheus(data=source_fixture, cache=tmp_path / "cache") as prom:
        assert prom.build is not None and prom.build.cached
        assert prom.build.samples == int(edge_samples().counts.sum())
    assert time.perf_counter() - began < 30


def test_a_replay_lends_its_frozen_metadata_to_the_client_and_lint() -> None:
    """Backfilled data has no metadata: the client reads the fixture's, so lint knows types."""
    import obskit
    from obskit.demo import DemoPrometheus

    fixture = Path(__file__).resolve().parents[1] / "notebooks" / "fixtures" / "exporters"
    with DemoPrometheus(data=fixture) as replay:
        client = obskit.connect(replay.url)
        table = client.metrics().set_index("name")
        assert table.loc["go_goroutines", ["type", "source"]].tolist() == ["gauge", "prometheus"]
        report = obskit.validate("rate(go_goroutines[5m])", client, time=replay.end)
        assert [f.rule for f in report.errors] == ["rate-on-gauge"]
