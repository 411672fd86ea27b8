"""Faults against real servers: Prometheus stopped, restarted, killed mid-answer, slow; failing chunks.

Covered elsewhere and not repeated here (tests/test_client.py): a 5xx retried a bounded number
of times with backoff (``test_5xx_is_retried_a_bounded_number_of_times``,
``test_a_transient_5xx_is_recovered``, ``test_prometheus_query_timeout_is_not_retried``,
``test_4xx_is_not_retried``), a slow scripted answer
(``test_a_slow_answer_is_a_query_timeout``) and one chunk failing with 422 on a real
Prometheus (``test_one_failing_chunk_fails_the_whole_call``).

The helpers here (:class:`LocalPrometheus`, :class:`Proxy`) are also used by test_security.py.
"""

from __future__ import annotations

import http.server
import re
import shutil
import socket
import subprocess
import threading
import time
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest
import requests

from obskit.client import connect
from obskit.errors import PrometheusError, QueryTimeoutError, UnreachableError

END = datetime(2026, 2, 14, 18, tzinfo=UTC)
#: About two seconds of work for Prometheus even with no data at all.
SLOW = "count_over_time(vector(1)[30d:1s])"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class LocalPrometheus:
    """A real Prometheus on 127.0.0.1 that a test can stop, kill and start again on its port.

    ``openmetrics`` is backfilled first; ``web_config`` is the text of a ``--web.config.file``
    (then ``probe`` holds the requests arguments that pass its auth and TLS).
    """

    def __init__(
        self,
        workdir: Path,
        *,
        openmetrics: str | None = None,
        web_config: str | None = None,
        probe: dict[str, Any] | None = None,
        args: tuple[str, ...] = (),
    ) -> None:
        self.binary = shutil.which("prometheus")
        promtool = shutil.which("promtool")
        if not self.binary or not promtool:
            pytest.skip("prometheus/promtool not installed (apt-get install prometheus)")
        self.workdir, self.port, self.args = workdir, free_port(), args
        self.https = web_config is not None and "tls_server_config" in web_config
        self.probe = probe or {}
        self.process: subprocess.Popen[bytes] | None = None
        (workdir / "prometheus.yml").write_text("global: {scrape_interval: 15s}\n")
        if web_config is not None:
            (workdir / "web.yml").write_text(web_config)
        if openmetrics is not None:
            (workdir / "data.om").write_text(openmetrics)
            subprocess.run(
                [promtool, "tsdb", "create-blocks-from", "openmetrics",
                 str(workdir / "data.om"), str(workdir / "data")],
                check=True, capture_output=True,
            )  # fmt: skip

    @property
    def url(self) -> str:
        return f"{'https' if self.https else 'http'}://127.0.0.1:{self.port}"

    def start(self) -> LocalPrometheus:
        argv = [
            str(self.binary),
            f"--config.file={self.workdir / 'prometheus.yml'}",
            f"--storage.tsdb.path={self.workdir / 'data'}",
            f"--web.listen-address=127.0.0.1:{self.port}",
            "--storage.tsdb.retention.time=100y",
            *self.args,
        ]
        if (self.workdir / "web.yml").exists():
            argv.append(f"--web.config.file={self.workdir / 'web.yml'}")
        with (self.workdir / "prometheus.log").open("ab") as log:
            self.process = subprocess.Popen(argv, stdout=log, stderr=subprocess.STDOUT)
        self._wait_ready()
        return self

    def _wait_ready(self) -> None:
        assert self.process is not None
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"prometheus exited: {self.log()[-2000:]}")
            try:
                if requests.get(f"{self.url}/-/ready", timeout=1, **self.probe).status_code == 200:
                    return
            except requests.RequestException:
                pass
            time.sleep(0.1)
        self.stop()
        raise RuntimeError(f"prometheus not ready within 30 s: {self.log()[-2000:]}")

    def log(self) -> str:
        return (self.workdir / "prometheus.log").read_text(errors="replace")

    def stop(self, *, kill: bool = False) -> None:
        if self.process is None:
            return
        if kill:
            self.process.kill()
        else:
            self.process.terminate()
        try:
            self.process.wait(15)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()
        self.process = None


Rule = Callable[["http.server.BaseHTTPRequestHandler", str, bytes], tuple[int, bytes] | None]


class Proxy:
    """A real reverse proxy on 127.0.0.1 in front of ``upstream``.

    ``rule(handler, path, body)`` sees each request first: it returns ``(status, body)`` to
    answer itself, ``None`` to forward the request unchanged, or closes the connection by
    raising :class:`ConnectionAbortedError`. Every request's path is kept in ``seen``.
    """

    def __init__(self, upstream: str, rule: Rule | None = None) -> None:
        self.upstream = upstream
        self.rule: Rule = rule or (lambda handler, path, body: None)
        self.seen: list[str] = []
        outer = self

        class Handler(http.server.BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def _handle(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                outer.seen.append(self.path)
                try:
                    answer = outer.rule(self, self.path, body)
                except ConnectionAbortedError:
                    self.close_connection = True
                    self.connection.shutdown(socket.SHUT_RDWR)
                    return
                if answer is None:
                    answer = outer.forward(self.command, self.path, dict(self.headers), body)
                status, data = answer
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            do_GET = do_POST = _handle

            def log_message(self, *args: object) -> None:
                pass

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        self.thread = threading.Thread(target=self.server.serve_forever, args=(0.05,), daemon=True)
        self.thread.start()

    def forward(
        self, method: str, path: str, headers: dict[str, str], body: bytes
    ) -> tuple[int, bytes]:
        keep = {k: v for k, v in headers.items() if k.lower() in ("content-type", "accept")}
        response = requests.request(
            method, self.upstream + path, data=body or None, headers=keep, timeout=60
        )
        return response.status_code, response.content

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def prometheus(tmp_path: Path) -> Iterator[LocalPrometheus]:
    prom = LocalPrometheus(tmp_path).start()
    yield prom
    prom.stop()


@pytest.fixture
def proxy_to_demo(demo) -> Iterator[Proxy]:
    proxy = Proxy(demo.url)
    yield proxy
    proxy.close()


# -- Prometheus goes away and comes back ------------------------------------------------------


def test_stopped_mid_session_is_unreachable_within_the_timeout_then_recovers(prometheus):
    client = connect(prometheus.url, timeout=3)
    assert client.query("vector(1)", time=END)["value"].tolist() == [1.0]
    assert "__name__" in client.label_values("__name__").columns  # pooled connections exist

    prometheus.stop()
    for call in (
        lambda: client.query("vector(1)", time=END),
        lambda: client.query_range("vector(1)", END - timedelta(hours=1), END, "1m"),
        client.labels,
    ):
        began = time.monotonic()
        with pytest.raises(UnreachableError) as info:
            call()
        assert time.monotonic() - began < 3
        message = str(info.value)
        assert prometheus.url in message and "Connection refused" in message
        assert "Prometheus is running" in message  # what to do

    prometheus.start()  # same port: the same client works again, no new connect() needed
    assert client.query("vector(1)", time=END)["value"].tolist() == [1.0]
    assert len(client.query_range("vector(1)", END - timedelta(hours=1), END, "1m")) == 61
    client.close()


def test_a_restart_between_calls_is_invisible(prometheus):
    """Pooled keep-alive connections to the old process are dropped, not reused and failed."""
    client = connect(prometheus.url, timeout=5)
    assert client.query("vector(1)", time=END)["value"].tolist() == [1.0]
    prometheus.stop()
    prometheus.start()
    for _ in range(3):
        assert client.query("vector(1)", time=END)["value"].tolist() == [1.0]
    client.close()


def test_killed_while_answering_says_the_connection_was_closed(prometheus):
    client = connect(prometheus.url, timeout=20)
    timer = threading.Timer(0.4, lambda: prometheus.stop(kill=True))
    timer.start()
    began = time.monotonic()
    with pytest.raises(UnreachableError, match="connection was closed before an answer came"):
        client.query(SLOW, time=END)
    timer.join()
    assert time.monotonic() - began < 5


def test_no_connection_within_the_timeout_is_unreachable():
    """A port whose accept queue is full never completes the handshake: a real black hole."""
    with socket.socket() as hole:
        hole.bind(("127.0.0.1", 0))
        hole.listen(0)
        filler = socket.create_connection(hole.getsockname(), timeout=1)
        url = f"http://127.0.0.1:{hole.getsockname()[1]}"
        began = time.monotonic()
        with connect(url, timeout=1) as client, pytest.raises(UnreachableError) as info:
            client.query("up", time=END)
        elapsed = time.monotonic() - began
        filler.close()
    assert 0.9 < elapsed < 3
    assert "no connection within 1 s" in str(info.value) and url in str(info.value)


# -- slow answers -------------------------------------------------------------------------------


def test_a_slow_real_query_with_a_short_timeout_is_a_query_timeout(prometheus):
    client = connect(prometheus.url, timeout=0.3)
    began = time.monotonic()
    with pytest.raises(QueryTimeoutError) as info:
        client.query(SLOW, time=END)
    assert time.monotonic() - began < 1.5, "not retried, not waited out"
    assert "no answer within timeout=0.3 s" in str(info.value)
    assert "raise timeout=" in str(info.value)  # what to do
    assert client.query("vector(1)", time=END)["value"].tolist() == [1.0]  # still usable


def load_openmetrics(series: int = 20, hours: int = 24, every: int = 60) -> str:
    """``obskit_load{i="0".."series-1"}`` sampled every ``every`` s for ``hours`` up to END."""
    lines = ["# TYPE obskit_load gauge"]
    last = int(END.timestamp())
    for t in range(last - hours * 3600, last + 1, every):
        lines += [f'obskit_load{{i="{i}"}} {i} {t}' for i in range(series)]
    return "\n".join([*lines, "# EOF"]) + "\n"


def _queries_served(url: str) -> float:
    """Prometheus' own count of /api/v1/query requests it answered (its /metrics)."""
    text = requests.get(f"{url}/metrics", timeout=5).text
    pattern = r'prometheus_http_requests_total\{code="(\d+)",handler="/api/v1/query"\} (\S+)'
    return sum(float(value) for _, value in re.findall(pattern, text))


def test_prometheus_own_query_timeout_is_a_query_timeout(tmp_path):
    """Prometheus started with --query.timeout=100ms gives up itself: 503, errorType timeout."""
    prom = LocalPrometheus(
        tmp_path, openmetrics=load_openmetrics(), args=("--query.timeout=100ms",)
    ).start()
    try:
        before = _queries_served(prom.url)
        with connect(prom.url, backoff=0.01) as client, pytest.raises(QueryTimeoutError) as info:
            client.query("count_over_time(sum(obskit_load)[1d:1s])", time=END)
        served = _queries_served(prom.url) - before
    finally:
        prom.stop()
    assert served == 1, "a query Prometheus timed out is not sent again (default retries=2)"
    assert info.value.status == 503 and info.value.error_type == "timeout"
    assert "query timed out in expression evaluation" in str(info.value)
    assert "a larger step" in str(info.value)  # what to do


# -- one chunk of a split range query fails --------------------------------------------------------


def _window_start(path: str) -> float | None:
    params = parse_qs(urlsplit(path).query)
    return float(params["start"][0]) if "start" in params else None


RANGE = ("sum(voicebot_active_calls)", END - timedelta(hours=8), END, "1s")  # 28,801 points


def test_one_chunk_answered_500_fails_the_whole_call(demo, proxy_to_demo):
    """The third of three chunks always fails: after its retries the call raises, no frame."""
    third = RANGE[1].timestamp() + 2 * 11_000
    proxy_to_demo.rule = lambda handler, path, body: (
        (500, b"upstream exploded") if _window_start(path) == third else None
    )
    client = connect(proxy_to_demo.url, retries=2, backoff=0.01)
    with pytest.raises(PrometheusError) as info:
        client.query_range(*RANGE)
    assert info.value.status == 500 and "upstream exploded" in str(info.value)
    assert info.value.query == RANGE[0]
    assert sum(_window_start(p) == third for p in proxy_to_demo.seen) == 3  # 1 try + 2 retries
    proxy_to_demo.rule = lambda handler, path, body: None
    whole = client.query_range(*RANGE)  # the same call through the same proxy, now healthy
    assert len(whole) == 28_801 and whole["timestamp"].is_unique


def test_one_chunk_whose_connection_drops_fails_the_whole_call(demo, proxy_to_demo):
    second = RANGE[1].timestamp() + 11_000

    def drop(handler: Any, path: str, body: bytes) -> None:
        if _window_start(path) == second:
            raise ConnectionAbortedError
        return None

    proxy_to_demo.rule = drop
    with (
        connect(proxy_to_demo.url) as client,
        pytest.raises(UnreachableError, match="connection was closed before an answer came"),
    ):
        client.query_range(*RANGE)


def test_a_failed_chunked_call_leaves_no_threads_behind(prometheus):
    prometheus.stop()
    with (
        connect(prometheus.url, timeout=2, series_budget=None) as client,
        pytest.raises(UnreachableError),
    ):
        client.query_range("vector(1)", END - timedelta(hours=8), END, "1s")  # 3 chunks
    assert not [t for t in threading.enumerate() if t.name.startswith("obskit-chunk")]
