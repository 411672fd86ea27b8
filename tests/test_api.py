"""obskit.client._envelope.decode on responses recorded from a real Prometheus (tests/data/responses)."""

from __future__ import annotations

import gc
import json
import threading
from pathlib import Path

import orjson
import pytest

from obskit.client import _envelope as _api
from obskit.errors import (
    AuthError,
    PrometheusError,
    PromQLWarning,
    QueryExecutionError,
    QuerySyntaxError,
    QueryTimeoutError,
    TooLargeError,
)

RESPONSES = Path(__file__).parent / "data" / "responses"
INDEX = json.loads((RESPONSES / "index.json").read_text())["cases"]
URL = "http://127.0.0.1:9090/api/v1/query"


def recorded(name: str) -> tuple[bytes, int, str]:
    """Body, HTTP status and query of a recorded response."""
    case = INDEX[name]
    return (RESPONSES / f"{name}.json").read_bytes(), case["status"], case["params"].get("query")


@pytest.mark.parametrize("name", sorted(n for n in INDEX if not n.startswith("error_")))
def test_every_successful_recording_decodes_to_its_data(name, recwarn):
    body, status, query = recorded(name)
    decoded = _api.decode(body, status=status, query=query, url=URL, warn=False)
    assert decoded.data == json.loads(body)["data"]


@pytest.mark.parametrize(
    ("name", "error", "status", "error_type"),
    [
        ("error_400_bad_data", QuerySyntaxError, 400, "bad_data"),
        ("error_400_too_many_points", TooLargeError, 400, "bad_data"),
        ("error_422_execution", QueryExecutionError, 422, "execution"),
        ("error_503_timeout", QueryTimeoutError, 503, "timeout"),
    ],
)
def test_error_envelopes_map_to_obskit_errors_with_prometheus_text(name, error, status, error_type):
    body, recorded_status, query = recorded(name)
    assert recorded_status == status
    with pytest.raises(error) as info:
        _api.decode(body, status=status, query=query, url=URL)
    err = info.value
    prometheus_text = json.loads(body)["error"]
    assert (err.status, err.error_type, err.query, err.url) == (status, error_type, query, URL)
    assert err.message == prometheus_text
    assert prometheus_text in str(err) and query in str(err) and URL in str(err)


@pytest.mark.parametrize("status", [401, 403])
def test_auth_statuses_raise_auth_error_even_with_a_plain_text_body(status):
    with pytest.raises(AuthError, match="Unauthorized") as info:
        _api.decode(b"Unauthorized\n", status=status, query="up", url=URL)
    assert info.value.status == status
    assert "bearer token" in str(info.value)  # the hint says what to check


def test_a_non_json_error_page_keeps_its_text():
    page = b"<html><body><h1>502 Bad Gateway</h1></body></html>"
    with pytest.raises(PrometheusError, match="502 Bad Gateway") as info:
        _api.decode(page, status=502, query="up", url=URL)
    assert type(info.value) is PrometheusError


def test_a_503_without_an_envelope_is_a_timeout():
    with pytest.raises(QueryTimeoutError, match="Service Unavailable"):
        _api.decode(b"Service Unavailable", status=503, query="up", url=URL)


def test_an_empty_body_is_reported():
    with pytest.raises(PrometheusError, match="empty response body"):
        _api.decode(b"", status=500, query="up", url=URL)


def test_success_status_with_an_error_http_code_is_an_error():
    body = b'{"status":"success","data":{"resultType":"vector","result":[]}}'
    with pytest.raises(PrometheusError):
        _api.decode(body, status=500, query="up", url=URL)


def test_warnings_and_infos_are_warned_and_returned():
    body, status, query = recorded("vector_warnings")
    with pytest.warns(PromQLWarning) as caught:
        decoded = _api.decode(body, status=status, query=query, url=URL)
    texts = [str(w.message) for w in caught]
    assert decoded.warnings == ["PromQL warning: encountered a mix of histograms and floats"]
    assert decoded.infos == ['PromQL info: metric might not be a counter: "obskit_test_key"']
    assert texts[0].startswith("Prometheus warning for query 'obskit_test_requests_total'")
    assert texts[1].startswith("Prometheus info for query")
    assert caught[0].filename == __file__  # attributed to the caller, not to obskit


def test_warnings_can_be_deferred():
    body, status, query = recorded("vector_warnings")
    decoded = _api.decode(body, status=status, query=query, warn=False)  # no warning: no error
    assert len(decoded.warnings) == 1


def test_large_bodies_are_parsed_with_the_collector_paused_and_restored(monkeypatch):
    seen = []
    real = orjson.loads
    monkeypatch.setattr(_api.orjson, "loads", lambda b: (seen.append(gc.isenabled()), real(b))[1])
    big = b'{"status":"success","data":[' + b",".join([b'"x"'] * (_api.LARGE_BODY // 4)) + b"]}"
    assert gc.isenabled()
    _api.decode(big, status=200)
    _api.decode(b'{"status":"success","data":[]}', status=200)
    assert seen == [False, True]  # paused for the large body only
    assert gc.isenabled()


def test_the_collector_is_restored_after_a_parse_error():
    with pytest.raises(PrometheusError):
        _api.decode(b"{" * _api.LARGE_BODY, status=500)
    assert gc.isenabled()


def test_gc_pause_is_thread_safe_and_restores_the_collector_once():
    inside = []

    def worker():
        for _ in range(500):
            with _api.gc_paused():
                inside.append(gc.isenabled())

    threads = [threading.Thread(target=worker) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not any(inside)  # never re-enabled while another thread still pauses
    assert gc.isenabled()


def test_gc_pause_nests():
    with _api.gc_paused():
        with _api.gc_paused():
            assert not gc.isenabled()
        assert not gc.isenabled()
    assert gc.isenabled()


def test_a_collector_disabled_by_the_caller_stays_disabled():
    gc.disable()
    try:
        with _api.gc_paused():
            pass
        assert not gc.isenabled()
    finally:
        gc.enable()
