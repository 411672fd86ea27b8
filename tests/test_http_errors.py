"""obskit.client._errors.TABLE: every failure maps to one ObskitError, and every rule is reachable.

Pure units: answers are bodies recorded from a real Prometheus (tests/data/responses) or
the exact texts real servers send; exceptions are the requests types a real failure raises
(tests/test_client.py, test_faults.py and test_security.py provoke them for real).
"""

from __future__ import annotations

import http.client
import json
import re
from pathlib import Path

import pytest
import requests
from requests import exceptions as rex

from obskit.client import _envelope, _errors
from obskit.errors import (
    AuthError,
    PrometheusError,
    QueryExecutionError,
    QuerySyntaxError,
    QueryTimeoutError,
    TLSError,
    TooLargeError,
    UnreachableError,
)

ROOT = Path(__file__).resolve().parent.parent
RESPONSES = ROOT / "tests" / "data" / "responses"
URL = "http://127.0.0.1:9090/prom/api/v1/query"


def _body(name: str) -> bytes:
    return (RESPONSES / f"{name}.json").read_bytes()


def _envelope_of(error_type: str, error: str) -> bytes:
    return json.dumps({"status": "error", "errorType": error_type, "error": error}).encode()


#: (status, body, error class, text the message must hold)
ANSWERS = {
    "plain-http-to-tls": (400, b"Client sent an HTTP request to an HTTPS server.\n", TLSError,
                          "speaks HTTPS"),
    "unauthorised": (401, b"Unauthorized\n", AuthError, "Unauthorized"),
    "forbidden": (403, _envelope_of("bad_data", "tenant denied"), AuthError, "tenant denied"),
    "vm-unsupported-path": (400, b'remoteAddr: "127.0.0.1:1"; unsupported path requested: '
                            b'"/api/v1/format_query"', PrometheusError, "unsupported path"),
    "vmauth-refused-credentials": (400, b'remoteAddr: "127.0.0.1:1"; cannot find the provided '
                                   b'auth token "Basic cmVhZGVyOmJhZA==" in config\n', AuthError,
                                   "Basic <redacted>"),
    "vmauth-missing-route": (400, b'requestURI: /api/v1/query; cannot determine targetURL: '
                             b'missing route for "/api/v1/query"\n', PrometheusError,
                             "missing route"),
    "not-found": (404, b"404 page not found\n", PrometheusError, "404 page not found"),
    "method-not-allowed": (405, b"Method Not Allowed\n", PrometheusError, "Method Not Allowed"),
    "too-many-points": (400, _body("error_400_too_many_points"), TooLargeError,
                        "exceeded maximum resolution"),
    "bad-data": (400, _body("error_400_bad_data"), QuerySyntaxError, "unclosed left parenthesis"),
    "execution": (422, _body("error_422_execution"), QueryExecutionError, "many-to-many"),
    "timeout": (503, _body("error_503_timeout"), QueryTimeoutError, "query timed out"),
    "canceled": (422, _envelope_of("canceled", "query was canceled"), QueryTimeoutError,
                 "canceled"),
    "bare-400": (400, b"bad request", QuerySyntaxError, "bad request"),
    "bare-422": (422, b"unprocessable", QueryExecutionError, "unprocessable"),
    "proxy-503": (503, b"<html><body>503 Service Unavailable</body></html>", QueryTimeoutError,
                  "503 Service Unavailable"),
    "internal": (500, _envelope_of("internal", "storage failed"), PrometheusError,
                 "storage failed"),
}  # fmt: skip

_REFUSED = "HTTPConnectionPool(host='127.0.0.1', port=9): Max retries exceeded"
#: (exception, error class, text the message must hold)
EXCEPTIONS = {
    "tls-to-plain-http": (rex.SSLError("[SSL: WRONG_VERSION_NUMBER] wrong version number"),
                          TLSError, "plain HTTP: use an http:// URL"),
    "untrusted-certificate": (rex.SSLError("[SSL: CERTIFICATE_VERIFY_FAILED] certificate "
                              "verify failed"), TLSError, "TLS handshake failed"),
    "connect-timeout": (rex.ConnectTimeout("timed out"), UnreachableError,
                        "no connection within 5 s"),
    "read-timeout": (rex.ReadTimeout("Read timed out. (read timeout=5)"), QueryTimeoutError,
                     "no answer within timeout=5 s"),
    "read-timeout-while-streaming": (rex.ConnectionError("Read timed out."), QueryTimeoutError,
                                     "no answer within timeout=5 s"),
    "dropped": (rex.ConnectionError("('Connection aborted.', RemoteDisconnected('Remote end "
                "closed connection without response'))"), UnreachableError, "was closed"),
    "broken-body": (rex.ChunkedEncodingError("Connection broken: IncompleteRead(10 bytes)"),
                    UnreachableError, "was closed"),
    "refused": (rex.ConnectionError(f"{_REFUSED} (Caused by NewConnectionError('Failed to "
                "establish a new connection: [Errno 111] Connection refused'))"),
                UnreachableError, "cannot connect (timeout 5 s)"),
    "other": (rex.TooManyRedirects("Exceeded 30 redirects."), PrometheusError,
              "request failed: Exceeded 30 redirects."),
}  # fmt: skip


def _answer_error(status: int, body: bytes) -> PrometheusError:
    with pytest.raises(PrometheusError) as info:
        _envelope.decode(body, status=status, query="up", url=URL)
    return info.value


@pytest.mark.parametrize("name", sorted(ANSWERS))
def test_answers_map_through_the_envelope_to_one_error(name):
    status, body, error, text = ANSWERS[name]
    err = _answer_error(status, body)
    assert type(err) is error and text in str(err)
    assert (err.status, err.query, err.url) == (status, "up", URL)


@pytest.mark.parametrize("name", sorted(EXCEPTIONS))
def test_requests_exceptions_map_to_one_error(name):
    exc, error, text = EXCEPTIONS[name]
    err = _errors.from_exception(exc, "up", URL, 5)
    assert type(err) is error and text in str(err)
    assert (err.status, err.query, err.url) == (None, "up", URL)


def test_every_rule_of_the_table_is_reached_by_a_case():
    reached = {_errors._first(status, _error_type(body), _text(body), None)
               for status, body, _, _ in ANSWERS.values()}  # fmt: skip
    reached |= {_errors._first(None, None, str(exc), exc) for exc, _, _ in EXCEPTIONS.values()}
    unreached = [rule for rule in _errors.TABLE if rule not in reached]
    assert not unreached, "rules no failure reaches (dead, or shadowed by an earlier rule)"


def _error_type(body: bytes) -> str | None:
    try:
        return json.loads(body).get("errorType")
    except ValueError:
        return None


def _text(body: bytes) -> str:
    try:
        return str(json.loads(body)["error"])
    except (ValueError, KeyError):
        return " ".join(body.decode().split())


def test_a_missing_endpoint_says_to_check_the_path_prefix():
    for name in ("not-found", "vm-unsupported-path", "vmauth-missing-route"):
        status, body, _, _ = ANSWERS[name]
        message = str(_answer_error(status, body))
        assert "check the URL's path prefix" in message and URL in message


def test_credentials_a_server_echoes_are_redacted():
    status, body, _, _ = ANSWERS["vmauth-refused-credentials"]
    assert "cmVhZGVyOmJhZA==" not in str(_answer_error(status, body))
    err = _errors.from_answer(500, None, "bad header: Bearer tok-123.abc", "up", URL)
    assert "tok-123" not in str(err) and "Bearer <redacted>" in str(err)


def test_the_last_rule_catches_everything():
    assert _errors.TABLE[-1] == _errors.Rule(PrometheusError)
    err = _errors.from_answer(418, None, "I'm a teapot", "up", URL)
    assert type(err) is PrometheusError and "HTTP 418" in str(err)
    # every exception requests raises is a RequestException, the last exception rule
    assert isinstance(rex.InvalidURL("x"), requests.RequestException)
    assert isinstance(_errors.from_exception(rex.InvalidURL("x"), "up", URL, 5), PrometheusError)


def test_real_http_client_disconnects_read_as_dropped():
    cause = http.client.RemoteDisconnected("Remote end closed connection without response")
    exc = rex.ConnectionError(rex.ConnectionError("Connection aborted.", cause))
    assert type(_errors.from_exception(exc, "up", URL, 5)) is UnreachableError


def test_only_the_table_maps_failures_to_error_classes():
    """No other obskit module looks at requests' exception types or Prometheus' errorType."""
    package = ROOT / "obskit"
    exception_names = re.compile(
        r"\b(SSLError|ConnectTimeout|ReadTimeout|ChunkedEncodingError|ConnectionError)\b"
    )
    for path in sorted(package.rglob("*.py")):
        text = path.read_text()
        relative = path.relative_to(package).as_posix()
        if relative != "client/_errors.py":
            assert not exception_names.search(text), f"{relative} maps a requests exception"
        if relative not in ("client/_errors.py", "client/_envelope.py", "client/_matrix.py"):
            assert not re.search(r"[\"']errorType[\"']", text), f"{relative} reads errorType"
        if relative != "client/_http.py":
            assert "session.request(" not in text, f"{relative} sends its own requests"
