"""obskit.Client on each real engine (Prometheus, VictoriaMetrics) loaded with the same demo data.

Prometheus is the reference: every result from the ``backend`` under test is compared with
the same call on the demo Prometheus. Where VictoriaMetrics legitimately differs, the test
asserts its documented behaviour:

- ``rate()``/``increase()``: Prometheus extrapolates to the window's edges, VictoriaMetrics
  takes the last sample before the window as the base and does not extrapolate, so the two
  estimate the same rate from slightly different samples: compared with a relative
  tolerance over 1 h windows (where that difference is < 2 %).
- ``/api/v1/metadata``: VictoriaMetrics (single node) answers ``{}``. Backfilled data has no
  metadata in Prometheus either, so ``metrics()`` comes from obskit's catalog on both.
- ``stats=all``: VictoriaMetrics reports no query stats, so ``query_stats`` gives ``{}``
  and ``validate`` adds no ``query-cost`` finding there.
- Points per series: Prometheus refuses more than 11,000 per request, VictoriaMetrics
  allows 30,000; obskit chunks at 11,000 for both, and on VictoriaMetrics the stitched
  chunks are compared with one unchunked request.
"""

from __future__ import annotations

import json
import queue
from collections.abc import Iterator
from datetime import timedelta
from typing import Any

import numpy as np
import orjson
import pandas as pd
import pytest
import requests

from obskit import frames
from obskit.client import Client, _matrix, connect
from obskit.client import _envelope as _api
from obskit.client import _split as _chunks
from obskit.errors import PrometheusError, PromQLWarning, QueryExecutionError, TooLargeError
from obskit.promql.validate import validate

pytestmark = pytest.mark.prometheus


def is_victoria(backend: Any) -> bool:
    return type(backend).__name__ == "DemoVictoriaMetrics"


@pytest.fixture(scope="module")
def reference(demo: Any) -> Iterator[Client]:
    """The demo Prometheus: what every backend is compared with."""
    with connect(demo.url) as c:
        yield c


@pytest.fixture(scope="module")
def client(backend: Any) -> Iterator[Client]:
    with connect(backend.url) as c:
        yield c


def same_frames(got: pd.DataFrame, want: pd.DataFrame, rel: float = 0.0) -> None:
    """Same series and timestamps; values equal, or within ``rel`` (NaN matching NaN)."""
    assert list(got.columns) == list(want.columns)
    labels = list(got.columns[2:])
    pd.testing.assert_frame_equal(got[["timestamp", *labels]], want[["timestamp", *labels]])
    np.testing.assert_allclose(got["value"], want["value"], rtol=rel, atol=0, equal_nan=True)


# -- instant queries ---------------------------------------------------------------------------


def test_instant_gauges_are_identical(client: Client, reference: Client, backend: Any) -> None:
    expr = "voicebot_active_calls"
    got = client.query(expr, time=backend.end)
    assert len(got) == 1 and list(got.columns) == [
        "timestamp",
        "value",
        "__name__",
        "instance",
        "job",
    ]
    same_frames(got, reference.query(expr, time=backend.end))


def test_instant_rates_agree_within_the_extrapolation_difference(
    client: Client, reference: Client, backend: Any
) -> None:
    expr = "sum by (provider) (rate(voicebot_tts_latency_seconds_count[1h]))"
    got = client.query(expr, time=backend.end)
    assert got["provider"].tolist() == ["azure", "elevenlabs"]
    same_frames(got, reference.query(expr, time=backend.end), rel=0.02)


# -- range queries -----------------------------------------------------------------------------


def test_range_with_a_step(client: Client, reference: Client, backend: Any) -> None:
    expr, start = "sum by (job) (voicebot_active_calls)", backend.end - timedelta(hours=6)
    got = client.query_range(expr, start, backend.end, "1m")
    assert len(got) == 361 and got.attrs["params"]["step"] == 60.0
    same_frames(got, reference.query_range(expr, start, backend.end, "1m"))


def test_range_without_a_step_aims_at_target_points(
    client: Client, reference: Client, backend: Any
) -> None:
    expr, start = "sum(rate(voicebot_calls_total[1h]))", backend.end - timedelta(hours=6)
    got = client.query_range(expr, start, backend.end)
    assert got.attrs["params"]["step"] == 30.0 and len(got) == 721  # 6 h / ~1000 points
    same_frames(got, reference.query_range(expr, start, backend.end), rel=0.02)


def test_a_range_past_the_points_cap_is_chunked_and_stitched(
    client: Client, reference: Client, backend: Any
) -> None:
    """3.5 h at 1 s: 12,601 points per series, over Prometheus' 11,000."""
    expr, start = "sum by (job) (voicebot_active_calls)", backend.end - timedelta(hours=3.5)
    got = client.query_range(expr, start, backend.end, "1s")
    assert got.attrs["params"]["chunks"] == 2 and len(got) == 12_601
    assert not got.duplicated(["job", "timestamp"]).any()
    same_frames(got, reference.query_range(expr, start, backend.end, "1s"))
    with connect(backend.url, max_points=1000, max_workers=3) as small:
        many = small.query_range(expr, start, backend.end, "1s")
    assert many.attrs["params"]["chunks"] == 13
    pd.testing.assert_frame_equal(many, got)
    if is_victoria(backend):  # it answers 12,601 points in one request: the same samples
        whole = _raw_range(backend.url, expr, start.timestamp(), backend.end.timestamp(), 1)
        same_frames(frames.to_frame(orjson.loads(whole)["data"], step=1), got)


def _raw_range(url: str, expr: str, start: float, end: float, step: float) -> bytes:
    """The server's own body for one range query."""
    params: dict[str, str | float] = {"query": expr, "start": start, "end": end, "step": step}
    response = requests.get(f"{url}/api/v1/query_range", params=params, timeout=60)
    assert response.status_code == 200, response.text[:300]
    return response.content


def test_series_budget_applies_to_fast_parsed_bodies(backend: Any) -> None:
    with connect(backend.url, series_budget=10) as c, pytest.raises(TooLargeError, match="10"):
        c.query_range("rate(voicebot_llm_latency_seconds_bucket[5m])",
                      backend.end - timedelta(days=1), backend.end, "1m")  # fmt: skip


# -- the fast matrix parser agrees with orjson on each engine's real bodies ----------------------

PARSER_CASES = {
    "histogram buckets": "rate(voicebot_llm_latency_seconds_bucket[5m])",
    "NaN and infinities": "(voicebot_active_calls - 20) / 0",
    "gaps": "voicebot_active_calls and on() (minute() >= 30)",
    "quotes and brackets in labels": (
        'label_replace(voicebot_active_calls, "weird", "a\\"b[x]]\\\\ \\"values\\":[[", "", "")'
    ),
}


@pytest.mark.parametrize("case", sorted(PARSER_CASES))
def test_fast_parser_matches_orjson(backend: Any, case: str) -> None:
    expr, end = PARSER_CASES[case], backend.end.timestamp()
    body = _raw_range(backend.url, expr, end - 6 * 3600, end, 60)
    parsed = _matrix.parse(body)
    assert parsed is not None, body[:300]
    envelope, columns = parsed
    slow = frames.to_frame(orjson.loads(body)["data"])
    fast = frames.matrix_frame([columns])
    pd.testing.assert_frame_equal(fast, slow, check_like=False)
    assert len(fast) and envelope["data"]["resultType"] == "matrix"
    if case == "NaN and infinities":  # VictoriaMetrics drops NaN points from its answers
        assert {np.inf, -np.inf} <= set(fast["value"])
        assert fast["value"].isna().any() != is_victoria(backend)
    if case == "quotes and brackets in labels":
        assert fast["weird"].tolist()[0] == 'a"b[x]]\\ "values":[['


def test_fast_parser_stitches_chunks_like_orjson(backend: Any) -> None:
    end, expr = backend.end.timestamp(), "voicebot_active_calls and on() (minute() >= 30)"
    halves = [_raw_range(backend.url, expr, end - 7200, end - 3660, 60),
              _raw_range(backend.url, expr, end - 3600, end, 60)]  # fmt: skip
    columns = [_matrix.parse(h) for h in halves]
    fast = frames.matrix_frame([c[1] for c in columns if c is not None][::-1])
    slow = frames.matrix_frame([orjson.loads(h)["data"]["result"] for h in halves])
    pd.testing.assert_frame_equal(fast, slow)
    whole = frames.to_frame(
        orjson.loads(_raw_range(backend.url, expr, end - 7200, end, 60))["data"]
    )
    pd.testing.assert_frame_equal(fast, whole)


def _big_matrix(**extra: Any) -> dict[str, Any]:
    """A success matrix well over the fast parser's threshold."""
    values = [[1771092000 + 30 * i, str(i / 7)] for i in range(2000)]
    result = [{"metric": {"job": "a", "n": str(n)}, "values": values} for n in range(10)]
    return {"status": "success", "data": {"resultType": "matrix", "result": result}, **extra}


def test_decode_matrix_keeps_warnings_and_falls_back_when_unsure() -> None:
    body = orjson.dumps(_big_matrix(warnings=["partial"], infos=["info"]))
    assert len(body) >= _matrix.FAST_FROM
    with pytest.warns(PromQLWarning) as caught:
        fast = _api.decode_matrix(body, status=200, query="x")
    assert [str(w.message).split(": ")[-1] for w in caught] == ["partial", "info"]
    assert isinstance(fast.data["result"], _matrix.Columns)
    assert (fast.warnings, fast.infos) == (["partial"], ["info"])
    spaced = json.dumps(_big_matrix()).encode()  # ", " and ": ": not what servers send
    slow = _api.decode_matrix(spaced, status=200, query="x")
    assert isinstance(slow.data["result"], list)
    pd.testing.assert_frame_equal(
        frames.matrix_frame([fast.data["result"]]), frames.matrix_frame([slow.data["result"]])
    )


def test_decode_matrix_maps_errors_like_decode() -> None:
    error = {"status": "error", "errorType": "execution", "error": "many-to-many " + "x" * 300_000}
    with pytest.raises(QueryExecutionError, match="many-to-many"):
        _api.decode_matrix(orjson.dumps(error), status=422, query="x")
    failed_with_200 = orjson.dumps({**_big_matrix(), "status": "error", "error": "odd"})
    with pytest.raises(PrometheusError, match="odd"):
        _api.decode_matrix(failed_with_200, status=200, query="x")


def test_many_series_are_placed_by_index_like_few_by_slices(
    backend: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    end, expr = backend.end.timestamp(), "rate(voicebot_llm_latency_seconds_bucket[5m])"
    parts = [
        _matrix.parse(_raw_range(backend.url, expr, t - 3600, t, 60)) for t in (end, end - 3660)
    ]
    columns = [p[1] for p in parts if p is not None]
    by_slices = frames.matrix_frame(columns)
    monkeypatch.setattr(frames, "_RUNS_UP_TO", 0)
    pd.testing.assert_frame_equal(frames.matrix_frame(columns), by_slices)
    assert by_slices["timestamp"].is_monotonic_increasing is False  # many series, stitched
    assert not by_slices.duplicated([*by_slices.columns[2:], "timestamp"]).any()


# -- series and discovery ----------------------------------------------------------------------


def test_series(client: Client, reference: Client, backend: Any) -> None:
    start = backend.end - timedelta(hours=1)
    got = client.series("voicebot_tts_latency_seconds_count", start, backend.end)
    assert list(got.columns) == ["__name__", "instance", "job", "provider"]
    pd.testing.assert_frame_equal(
        got, reference.series("voicebot_tts_latency_seconds_count", start, backend.end)
    )


def test_series_count(client: Client, reference: Client, backend: Any) -> None:
    args = ('{job="voicebot"}', backend.end - timedelta(hours=1), backend.end)
    got = client.series_count(*args)
    assert got["series"].sum() > 100
    pd.testing.assert_frame_equal(got, reference.series_count(*args))


def test_labels_and_label_values(client: Client, reference: Client) -> None:
    metric = "voicebot_tts_latency_seconds_count"
    assert client.labels(metric)["label"].tolist() == ["__name__", "instance", "job", "provider"]
    assert set(client.labels()["label"]) == set(reference.labels()["label"])
    values = client.label_values("provider", metric)
    assert values["provider"].tolist() == ["azure", "elevenlabs"]
    pd.testing.assert_frame_equal(values, reference.label_values("provider", metric))


def test_metrics_come_from_the_catalog_without_server_metadata(
    client: Client, reference: Client, backend: Any
) -> None:
    got = client.metrics()
    pd.testing.assert_frame_equal(got, reference.metrics())
    assert set(got["source"]) <= {"catalog", "unknown"}
    assert got.set_index("name").loc["voicebot_calls_total", "type"] == "counter"
    answer = requests.get(f"{backend.url}/api/v1/metadata", timeout=10).json()
    assert answer == {"status": "success", "data": {}}  # backfilled / VictoriaMetrics: none


# -- validate() with a live client -------------------------------------------------------------


def _rules(report: Any) -> list[str]:
    return [f.rule for f in report.findings]


def test_validate_unknown_label(client: Client, backend: Any) -> None:
    expr = 'sum(rate(voicebot_tts_latency_seconds_count{providr="azure"}[5m]))'
    report = validate(expr, client, time=backend.end)
    found = next(f for f in report.findings if f.rule == "unknown-label")
    assert "did you mean provider" in found.message and "empty-result" in _rules(report)


def test_validate_label_value_that_never_occurs(client: Client, backend: Any) -> None:
    expr = 'sum(rate(voicebot_tts_latency_seconds_count{provider="elevenlab"}[5m]))'
    report = validate(expr, client, time=backend.end)
    found = next(f for f in report.findings if f.rule == "unknown-label-value")
    assert "did you mean elevenlabs" in found.message


def test_validate_series_budget(client: Client, reference: Client, backend: Any) -> None:
    expr = "rate(voicebot_llm_latency_seconds_bucket[5m])"
    report = validate(expr, client, time=backend.end, series_budget=10)
    assert "series-budget" in [f.rule for f in report.errors]
    assert report.series == validate(expr, reference, time=backend.end).series
    assert report.series is not None and report.series > 10


def test_validate_empty_result(client: Client, backend: Any) -> None:
    report = validate("voicebot_active_calls offset 30d", client, time=backend.end)
    assert report.ok and report.series == 0
    assert [r for r in _rules(report) if r != "query-cost"] == ["empty-result"]


def test_validate_reports_cost_where_the_server_gives_stats(client: Client, backend: Any) -> None:
    report = validate("sum(rate(voicebot_calls_total[5m]))", client, time=backend.end)
    assert report.ok and report.series == 1
    if is_victoria(backend):
        assert report.stats == {} and "query-cost" not in _rules(report)
        return
    cost = next(f for f in report.findings if f.rule == "query-cost")
    assert report.stats is not None
    assert f"reads {report.stats['samples']['totalQueryableSamples']} samples" in cost.message


def test_query_stats(client: Client, backend: Any) -> None:
    stats = client.query_stats("sum(rate(voicebot_calls_total[5m]))", backend.end)
    if is_victoria(backend):
        assert stats == {}
        return
    assert stats["samples"]["totalQueryableSamples"] > 0
    assert stats["samples"]["peakSamples"] > 0
    assert stats["timings"]["evalTotalTime"] >= 0


# -- progress: a bar over chunks in notebooks, never in plain runs ------------------------------

LONG = 100  # max_points: 6 h at 1 m = 361 points, 4 chunks of <= 100


def test_progress_bar_when_asked(demo: Any, capsys: pytest.CaptureFixture[str]) -> None:
    with connect(demo.url, max_points=LONG) as c:
        c.query_range("voicebot_active_calls", demo.end - timedelta(hours=6), demo.end, "1m",
                      progress=True)  # fmt: skip
    err = capsys.readouterr().err
    assert "/4" in err and "chunk" in err


@pytest.mark.parametrize("progress", [None, False])
def test_no_progress_bar_outside_a_kernel_or_when_refused(
    demo: Any, capsys: pytest.CaptureFixture[str], progress: bool | None
) -> None:
    with connect(demo.url, max_points=LONG) as c:
        df = c.query_range("voicebot_active_calls", demo.end - timedelta(hours=6), demo.end,
                           "1m", progress=progress)  # fmt: skip
    assert df.attrs["params"]["chunks"] == 4
    assert capsys.readouterr() == ("", "")


@pytest.mark.parametrize("step", [60, 120, 300, 900, 3600])
def test_a_week_at_a_minute_or_more_never_shows_progress_by_default(step: int) -> None:
    """So notebooks on the demo data (7 days, steps >= 60 s) never print a bar under nbval."""
    week = 7 * 86400 * 1000
    assert len(_chunks.windows(0, week, step * 1000, 11_000)) < _chunks.PROGRESS_FROM


@pytest.fixture(scope="module")
def kernel() -> Iterator[Any]:
    """A real IPython kernel, started the way nbval starts one (jupyter_client)."""
    jupyter_client = pytest.importorskip("jupyter_client")
    manager, kc = jupyter_client.manager.start_new_kernel(kernel_name="python3")
    try:
        yield kc
    finally:
        kc.stop_channels()
        manager.shutdown_kernel(now=True)


def run_in_kernel(kc: Any, code: str) -> list[dict[str, Any]]:
    """Run ``code``; the outputs it produced (streams, displays, results, errors)."""
    msg_id = kc.execute(code)
    outputs: list[dict[str, Any]] = []
    while True:
        try:
            msg = kc.get_iopub_msg(timeout=60)
        except queue.Empty:
            raise AssertionError("the kernel went quiet") from None
        if msg["parent_header"].get("msg_id") != msg_id:
            continue
        kind = msg["msg_type"]
        if kind == "status" and msg["content"]["execution_state"] == "idle":
            return outputs
        if kind in ("stream", "display_data", "execute_result", "error", "update_display_data"):
            outputs.append({"type": kind, **msg["content"]})


def test_kernels_are_detected_and_get_a_bar_only_for_long_fetches(kernel: Any, demo: Any) -> None:
    setup = (
        "import obskit, obskit.client._split as ch\n"
        f"c = obskit.connect({demo.url!r}, max_points=100)\n"
        f"end = {demo.end.isoformat()!r}\n"
    )
    assert run_in_kernel(kernel, setup) == []
    [detected] = run_in_kernel(kernel, "ch._in_notebook()")
    assert detected["data"]["text/plain"] == "True"
    four = "_ = c.query_range('voicebot_active_calls', '{s}', end, '1m'{extra})"
    start6h = (demo.end - timedelta(hours=6)).isoformat()
    start2h = (demo.end - timedelta(hours=2, minutes=30)).isoformat()
    shown = run_in_kernel(kernel, four.format(s=start6h, extra=""))
    assert "/4" in json.dumps(shown)  # the bar: text on stderr without ipywidgets
    assert run_in_kernel(kernel, four.format(s=start2h, extra="")) == []  # 2 chunks: no bar
    assert run_in_kernel(kernel, four.format(s=start6h, extra=", progress=False")) == []
