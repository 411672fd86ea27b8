"""obskit.client against a real Prometheus (small backfilled dataset) and tiny local servers."""

from __future__ import annotations

import http.server
import json
import math
import shutil
import socket
import ssl
import subprocess
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from urllib.parse import parse_qsl, urlsplit

import pandas as pd
import pytest
import requests

from obskit.client import Client, _discovery, connect
from obskit.config import Settings
from obskit.errors import (
    AuthError,
    ConfigError,
    PrometheusError,
    PromQLWarning,
    QueryExecutionError,
    QuerySyntaxError,
    QueryTimeoutError,
    TLSError,
    TooLargeError,
    UnreachableError,
)

END = datetime(2026, 2, 14, 18, tzinfo=UTC)
SPAN = timedelta(hours=6)
SCRAPE = 15  # seconds between backfilled samples
DUP_FROM = END - timedelta(hours=1)  # obskit_test_dup{v="y"} exists only from here on


# -- a small real Prometheus ---------------------------------------------------------------


@dataclass
class SmallPrometheus:
    url: str
    start: datetime
    end: datetime


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _series() -> dict[str, tuple[str, list[tuple[dict[str, str], Callable[[int], float | None]]]]]:
    """family -> (type, [(labels, value at sample index or None for absent)])."""
    dup_from = int((DUP_FROM - (END - SPAN)).total_seconds()) // SCRAPE
    return {
        "obskit_test_requests": ("counter", [
            ({"code": "200", "handler": "/api/a"}, lambda i: 10.0 * i),
            ({"code": "500", "handler": "/api/a"}, lambda i: float(i // 10)),
        ]),
        "obskit_test_temperature_celsius": ("gauge", [
            ({"room": "kitchen"}, lambda i: 21 + 2 * math.sin(i / 100)),
            ({"room": "lab"}, lambda i: 18 + math.cos(i / 50)),
        ]),
        "obskit_test_key": ("gauge", [({"k": "1"}, lambda i: 1.0)]),
        "obskit_test_dup": ("gauge", [
            ({"k": "1", "v": "x"}, lambda i: 2.0),
            ({"k": "1", "v": "y"}, lambda i: 3.0 if i >= dup_from else None),
        ]),
        "voicebot_active_calls": ("gauge", [({}, lambda i: float(i % 40))]),
    }  # fmt: skip


def write_openmetrics(path: Path) -> None:
    """The dataset as OpenMetrics text: 6 h at 15 s ending at END."""
    first = int((END - SPAN).timestamp())
    count = int(SPAN.total_seconds()) // SCRAPE + 1
    lines = []
    for family, (kind, members) in _series().items():
        lines.append(f"# TYPE {family} {kind}")
        name = f"{family}_total" if kind == "counter" else family
        for labels, value in members:
            text = ",".join(f'{k}="{v}"' for k, v in sorted(labels.items()))
            selector = f"{name}{{{text}}}" if text else name
            for i in range(count):
                v = value(i)
                if v is not None:
                    lines.append(f"{selector} {v!r} {first + i * SCRAPE}")
    lines.append("# EOF")
    path.write_text("\n".join(lines) + "\n")


def start_prometheus(workdir: Path) -> tuple[subprocess.Popen[bytes], str]:
    """Backfill the dataset into ``workdir`` and start Prometheus on a free loopback port."""
    promtool, prometheus = shutil.which("promtool"), shutil.which("prometheus")
    if not promtool or not prometheus:
        pytest.skip("prometheus/promtool not installed (apt-get install prometheus)")
    data = workdir / "data"
    source = workdir / "data.om"
    write_openmetrics(source)
    subprocess.run(
        [promtool, "tsdb", "create-blocks-from", "openmetrics", str(source), str(data)],
        check=True,
        capture_output=True,
    )
    port = _free_port()
    cfg = workdir / "prometheus.yml"
    cfg.write_text(
        "global: {scrape_interval: 1s}\n"
        f"scrape_configs: [{{job_name: self, static_configs: [{{targets: ['127.0.0.1:{port}']}}]}}]\n"
    )
    with (workdir / "prometheus.log").open("wb") as log:
        process = subprocess.Popen(
            [prometheus, f"--config.file={cfg}", f"--storage.tsdb.path={data}",
             f"--web.listen-address=127.0.0.1:{port}", "--storage.tsdb.retention.time=100y"],
            stdout=log, stderr=subprocess.STDOUT,
        )  # fmt: skip
    url = f"http://127.0.0.1:{port}"
    _wait_ready(url, process, workdir / "prometheus.log")
    return process, url


def _wait_ready(url: str, process: subprocess.Popen[bytes], log: Path) -> None:
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"prometheus exited: {log.read_text()[-2000:]}")
        try:
            if requests.get(f"{url}/-/ready", timeout=1).status_code == 200:
                return
        except requests.RequestException:
            pass
        time.sleep(0.1)
    process.kill()
    raise RuntimeError(f"prometheus not ready within 30 s: {log.read_text()[-2000:]}")


def stop_prometheus(process: subprocess.Popen[bytes]) -> None:
    process.terminate()
    try:
        process.wait(10)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()


@pytest.fixture(scope="module")
def _small_prometheus(tmp_path_factory: pytest.TempPathFactory) -> Iterator[SmallPrometheus]:
    process, url = start_prometheus(tmp_path_factory.mktemp("small-prometheus"))
    try:
        yield SmallPrometheus(url=url, start=END - SPAN, end=END)
    finally:
        stop_prometheus(process)


@pytest.fixture
def client(_small_prometheus: SmallPrometheus) -> Iterator[Client]:
    with Client(Settings(_small_prometheus.url)) as c:
        yield c


# -- tiny local HTTP servers for faults a real Prometheus cannot produce ---------------------


@dataclass
class Seen:
    method: str
    path: str
    headers: dict[str, str]
    body: bytes


Reply = tuple[int, bytes, float]  # status, body, seconds to wait before answering


class FaultServer:
    """A real HTTP server on 127.0.0.1 whose answers a test scripts with ``reply``."""

    def __init__(self, tls: ssl.SSLContext | None = None) -> None:
        self.seen: list[Seen] = []
        self.reply: Callable[[Seen], Reply] = lambda seen: (200, b"{}", 0.0)
        outer = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def _answer(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                seen = Seen(self.command, self.path, dict(self.headers), self.rfile.read(length))
                outer.seen.append(seen)
                status, body, delay = outer.reply(seen)
                time.sleep(delay)
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            do_GET = do_POST = _answer

            def log_message(self, *args: object) -> None:
                pass

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.server.handle_error = lambda request, address: None  # e.g. refused handshakes
        if tls is not None:
            self.server.socket = tls.wrap_socket(self.server.socket, server_side=True)
        scheme = "https" if tls else "http"
        self.url = f"{scheme}://127.0.0.1:{self.server.server_address[1]}"
        self.thread = threading.Thread(target=self.server.serve_forever, args=(0.05,), daemon=True)
        self.thread.start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def fault_server() -> Iterator[FaultServer]:
    server = FaultServer()
    yield server
    server.close()


RESPONSES = Path(__file__).parent / "data" / "responses"


def recorded(name: str) -> bytes:
    return (RESPONSES / f"{name}.json").read_bytes()


def _reference(url: str, expr: str, start: float, end: float, step: float, per: int = 997):
    """Serial fetch of small sub-ranges with plain requests: {labels: [(t, v), ...]}."""
    found: dict[tuple, list[tuple[float, float]]] = {}
    t = start
    while t <= end:
        stop = min(t + (per - 1) * step, end)
        params = {"query": expr, "start": t, "end": stop, "step": step}
        body = requests.get(f"{url}/api/v1/query_range", params=params, timeout=30).json()
        for s in body["data"]["result"]:
            samples = found.setdefault(tuple(sorted(s["metric"].items())), [])
            samples.extend((float(ts), float(v)) for ts, v in s["values"])
        t = stop + step
    return found


def _as_samples(df: pd.DataFrame) -> dict[tuple, list[tuple[float, float]]]:
    labels = list(df.columns[2:])
    found: dict[tuple, list[tuple[float, float]]] = {}
    for key, group in df.groupby(labels, observed=True, sort=False):
        keys = key if isinstance(key, tuple) else (key,)
        seconds = group["timestamp"].astype("int64") / 1e9
        found[tuple(sorted(zip(labels, keys, strict=True)))] = list(
            zip(seconds.tolist(), group["value"].tolist(), strict=True)
        )
    return found


# -- queries against the real Prometheus ------------------------------------------------------


def test_instant_query(client):
    df = client.query("obskit_test_requests_total", time=END)
    assert list(df.columns) == ["timestamp", "value", "__name__", "code", "handler"]
    assert df["value"].tolist() == [14400.0, 144.0]
    assert (df["timestamp"] == pd.Timestamp(END)).all()
    assert df.attrs["query"] == "obskit_test_requests_total"
    assert df.attrs["params"] == {"time": END.isoformat()}


def test_default_evaluation_time_is_obskit_now(client, monkeypatch):
    monkeypatch.setenv("OBSKIT_NOW", END.isoformat())
    assert client.query("obskit_test_requests_total")["value"].tolist() == [14400.0, 144.0]


def test_query_range_without_step_aims_at_target_points(client):
    df = client.query_range("obskit_test_temperature_celsius", END - SPAN, END)
    assert df.attrs["params"]["step"] == 30.0  # 21.6 s per point for 1000 points -> 30s
    assert df.groupby("room", observed=True).size().tolist() == [721, 721]
    assert df.attrs["result_type"] == "matrix"


def test_relative_times_resolve_against_now(client, monkeypatch):
    monkeypatch.setenv("OBSKIT_NOW", END.isoformat())
    df = client.query_range("obskit_test_key", "-1h", "now", "1m")
    assert df["timestamp"].min() == pd.Timestamp(END - timedelta(hours=1))
    assert df["timestamp"].max() == pd.Timestamp(END) and len(df) == 61


def test_a_range_over_the_points_cap_equals_a_serial_fetch_of_small_ranges(_small_prometheus):
    """4 h at 1 s is 14,401 points per series: Prometheus alone refuses it (cap 11,000)."""
    expr = "rate(obskit_test_requests_total[1m]) * 60"
    start, end = END - timedelta(hours=4), END - timedelta(seconds=0.5)
    with Client(Settings(_small_prometheus.url)) as c:
        default = c.query_range(expr, start, end, "1s")
    with Client(Settings(_small_prometheus.url, max_points=1000, max_workers=3)) as c:
        many = c.query_range(expr, start, end, "1s")
    assert (default.attrs["params"]["chunks"], many.attrs["params"]["chunks"]) == (2, 15)
    reference = _reference(_small_prometheus.url, expr, start.timestamp(), end.timestamp(), 1)
    assert _as_samples(default) == reference
    pd.testing.assert_frame_equal(default, many)
    labels = list(default.columns[2:])
    assert not default.duplicated([*labels, "timestamp"]).any()
    assert default.groupby(labels, observed=True).size().tolist() == [14400, 14400]


def test_one_failing_chunk_fails_the_whole_call(_small_prometheus):
    """obskit_test_dup gains a second series in the last hour: only late chunks fail (422)."""
    expr = "obskit_test_key * on(k) obskit_test_dup"
    with Client(Settings(_small_prometheus.url, max_points=2000, retries=0)) as c:
        early = c.query_range(expr, END - SPAN, DUP_FROM - timedelta(minutes=10), "1s")
        assert early.attrs["params"]["chunks"] > 1 and len(early) > 0
        with pytest.raises(QueryExecutionError, match="many-to-many matching not allowed") as info:
            c.query_range(expr, END - SPAN, END, "1s")
    assert info.value.query == expr and info.value.status == 422


def test_progress_is_logged_when_asked(client, caplog):
    with caplog.at_level("INFO", logger="obskit"):
        client.query_range("obskit_test_key", END - timedelta(hours=4), END, "1s", progress=True)
    assert "2/2 chunks fetched" in caplog.text


def test_progress_is_off_outside_notebooks(client, caplog):
    with caplog.at_level("INFO", logger="obskit"):
        client.query_range("obskit_test_key", END - timedelta(hours=4), END, "1s")
    assert "chunks fetched" not in caplog.text


def test_long_queries_are_sent_as_post(client):
    methods: list[str] = []
    client.session.hooks["response"].append(lambda r, *a, **k: methods.append(r.request.method))
    long_expr = "obskit_test_key" + " + 0" * 600
    assert client.query(long_expr, time=END)["value"].tolist() == [1.0]
    assert client.query("obskit_test_key", time=END)["value"].tolist() == [1.0]
    assert methods == ["POST", "GET"]


def test_first_requests_ask_for_identity_encoding(client):
    encodings: list[str] = []
    client.session.hooks["response"].append(
        lambda r, *a, **k: encodings.append(r.request.headers.get("Accept-Encoding", ""))
    )
    client.query("obskit_test_key", time=END)
    assert encodings == ["identity"]
    remote = Client(Settings("https://prometheus.example.com"))
    assert remote.session.headers["Accept-Encoding"] == "identity"  # until measured (_link)


def test_prometheus_connect_is_built_lazily_on_the_clients_session(client):
    assert client._prometheus_connect is None  # not at construction
    adapter = client.session.get_adapter(client.url)
    prom = client.prometheus_connect()
    assert prom is client.prometheus_connect() and prom._session is client.session
    assert client.session.get_adapter(client.url) is adapter  # obskit's pool and retries kept
    assert "obskit_test_key" in prom.all_metrics()
    assert (
        prom.custom_query("obskit_test_key", params={"time": END.timestamp()})[0]["value"][1] == "1"
    )


def test_prometheus_connect_on_the_demo_agrees_with_obskit(demo_client, demo):
    prom = demo_client.prometheus_connect()
    assert prom.get_label_names() == demo_client.labels()["label"].tolist()
    expr = "sum by (provider) (voicebot_tts_latency_seconds_count)"
    answer = prom.custom_query(expr, params={"time": demo.end.timestamp()})
    theirs = {s["metric"]["provider"]: float(s["value"][1]) for s in answer}
    ours = demo_client.query(expr, time=demo.end)
    assert len(theirs) > 1 and theirs == dict(zip(ours["provider"], ours["value"], strict=True))


def _every_call(client: Client) -> dict[str, Callable[[], object]]:
    """One call of each public Client method that talks to the server."""
    window = (END - timedelta(minutes=30), END)
    return {
        "query": lambda: client.query("obskit_test_key", time=END),
        "query_stats": lambda: client.query_stats("obskit_test_key", time=END),
        "query_range": lambda: client.query_range("obskit_test_key", END - SPAN, END, "1s"),
        "series": lambda: client.series("obskit_test_dup", *window),
        "series_count": lambda: client.series_count("obskit_test_dup", *window),
        "labels": lambda: client.labels("obskit_test_dup"),
        "label_values": lambda: client.label_values("room"),
        "metrics": client.metrics,
        "targets": client.targets,
        "build_info": client.build_info,
        "flags": client.flags,
        "format_query": lambda: client.format_query("sum by(k)(obskit_test_key)"),
    }


def test_every_call_goes_through_the_one_transport(client):
    import inspect
    import sys

    callers: list[str] = []
    real = client.session.request

    def spy(*args, **kwargs):
        callers.append(Path(sys._getframe(1).f_code.co_filename).name)
        return real(*args, **kwargs)

    client.session.request = spy  # type: ignore[method-assign]
    calls = _every_call(client)
    public = {n for n, _ in inspect.getmembers(Client, inspect.isfunction) if n[0] != "_"}
    assert public - set(calls) == {"close", "prometheus_connect"}, "a new method is untested"
    for name, call in calls.items():
        before = len(callers)
        call()
        assert len(callers) > before, name
    assert set(callers) == {"_http.py"}


def test_targets_build_info_and_format_query(client):
    deadline = time.monotonic() + 15  # Prometheus discovers its one target within ~5 s
    while (targets := client.targets()).empty and time.monotonic() < deadline:
        time.sleep(0.2)
    assert targets[["job", "instance"]].values.tolist() == [["self", client.url[7:]]]
    assert targets["health"].iloc[0] in ("up", "unknown")
    assert client.build_info()["version"].startswith("2.")
    pretty = client.format_query("sum by(code)(rate(obskit_test_requests_total[5m]))")
    assert pretty == "sum by (code) (rate(obskit_test_requests_total[5m]))"
    with pytest.raises(QuerySyntaxError, match="unclosed left parenthesis"):
        client.format_query("sum(")


def test_syntax_errors_carry_prometheus_text(client):
    with pytest.raises(QuerySyntaxError, match="unclosed left parenthesis") as info:
        client.query("rate(obskit_test_requests_total[5m]", time=END)
    assert info.value.url == f"{client.url}/api/v1/query"


def test_series_budget(_small_prometheus):
    with Client(Settings(_small_prometheus.url, series_budget=1)) as c:
        with pytest.raises(TooLargeError, match="2 series, over series_budget=1"):
            c.query("obskit_test_requests_total", time=END)
        assert len(c.query("scalar(obskit_test_key) * 2", time=END)) == 1  # not series
        assert len(c.query('"hello"', time=END)) == 1


def test_bad_arguments_fail_before_any_request(client):
    with pytest.raises(ConfigError, match=r"start .* is after end"):
        client.query_range("up", END, END - timedelta(hours=1))
    with pytest.raises(ConfigError, match="step must be a positive duration"):
        client.query_range("up", END - SPAN, END, "0s")


# -- series and discovery ---------------------------------------------------------------------


def test_series(client):
    df = client.series("obskit_test_dup", END - timedelta(minutes=30), END)
    assert list(df.columns) == ["__name__", "k", "v"]
    assert df["v"].tolist() == ["x", "y"]
    early = client.series("obskit_test_dup", END - SPAN, DUP_FROM - timedelta(minutes=10))
    assert early["v"].tolist() == ["x"]


def test_series_count(client):
    df = client.series_count('{__name__=~"obskit_test_.*"}', END - timedelta(minutes=30), END)
    assert df.to_dict("records")[:2] == [
        {"name": "obskit_test_dup", "series": 2},
        {"name": "obskit_test_requests_total", "series": 2},
    ]
    assert set(df["name"]) == {
        "obskit_test_dup",
        "obskit_test_requests_total",
        "obskit_test_temperature_celsius",
        "obskit_test_key",
    }


def test_labels_and_label_values(client):
    assert "room" in client.labels()["label"].tolist()
    assert client.labels("obskit_test_dup")["label"].tolist() == ["__name__", "k", "v"]
    assert client.label_values("room")["room"].tolist() == ["kitchen", "lab"]
    assert client.label_values("code", "obskit_test_requests_total")["code"].tolist() == [
        "200",
        "500",
    ]


def test_metrics_merge_prometheus_metadata_with_the_catalog(client):
    deadline = time.monotonic() + 15  # Prometheus scrapes itself: wait for its first scrape
    while time.monotonic() < deadline and not client.prometheus_connect().get_metric_metadata(None):
        time.sleep(0.2)
    df = client.metrics().set_index("name")
    assert list(df.columns) == ["type", "help", "unit", "source"]
    assert df.loc["voicebot_active_calls", "source"] == "catalog"  # backfilled: no metadata
    assert df.loc["voicebot_active_calls", "type"] == "gauge"
    assert df.loc["prometheus_http_requests_total", "source"] == "prometheus"
    assert df.loc["prometheus_http_requests_total", "type"] == "counter"
    assert df.loc["obskit_test_key", "source"] == "unknown"


# -- connection settings, faults and error mapping --------------------------------------------


def test_connect_uses_prometheus_url_and_repr_hides_credentials(monkeypatch, _small_prometheus):
    monkeypatch.setenv("PROMETHEUS_URL", _small_prometheus.url)
    monkeypatch.setenv("PROMETHEUS_PASSWORD", "hunter2")
    monkeypatch.setenv("PROMETHEUS_USERNAME", "bob")
    with connect() as c:
        assert c.url == _small_prometheus.url
        assert "hunter2" not in repr(c) and repr(c) == f"Client(url='{_small_prometheus.url}')"
        assert c.query("obskit_test_key", time=END)["value"].tolist() == [1.0]


def test_connect_without_url_explains_what_to_do():
    with pytest.raises(ConfigError, match="obskit demo start"):
        connect()


def test_auth_headers_tenant_and_extra_headers_are_sent(fault_server):
    fault_server.reply = lambda seen: (200, recorded("vector"), 0.0)
    with connect(fault_server.url, username="bob", password="hunter2", tenant="shop",
                 headers={"X-Team": "voice"}) as c:  # fmt: skip
        c.query("up", time=END)
        c.labels()
        c.prometheus_connect().get_label_names()
    assert len(fault_server.seen) == 3
    for seen in fault_server.seen:  # obskit's calls and prometheus-api-client's alike
        assert seen.headers["Authorization"] == "Basic Ym9iOmh1bnRlcjI="
        assert (seen.headers["X-Scope-OrgID"], seen.headers["X-Team"]) == ("shop", "voice")
    with connect(fault_server.url, bearer_token="tok-3141") as c:
        c.query("up", time=END)
    assert fault_server.seen[-1].headers["Authorization"] == "Bearer tok-3141"


def test_unauthorised_is_an_auth_error(fault_server):
    fault_server.reply = lambda seen: (401, b"Unauthorized\n", 0.0)
    with (
        connect(fault_server.url, password="hunter2", username="bob") as c,
        pytest.raises(AuthError, match="HTTP 401") as info,
    ):
        c.query("up", time=END)
    assert "hunter2" not in str(info.value)


@pytest.mark.parametrize(
    ("status", "body"),
    [(503, b"<html><body>503 Service Unavailable</body></html>"),  # a proxy or load balancer
     (500, b'{"status":"error","errorType":"internal","error":"storage"}'),
     (504, b"upstream timed out")],
)  # fmt: skip
def test_5xx_is_retried_a_bounded_number_of_times(fault_server, status, body):
    fault_server.reply = lambda seen: (status, body, 0.0)
    with connect(fault_server.url, retries=2, backoff=0.01) as c, pytest.raises(PrometheusError):
        c.query("up", time=END)
    assert len(fault_server.seen) == 3  # one try + two retries


def test_prometheus_query_timeout_is_not_retried(fault_server):
    timeout_body = recorded("error_503_timeout")
    fault_server.reply = lambda seen: (503, timeout_body, 0.0)
    with (
        connect(fault_server.url, retries=2, backoff=0.01) as c,
        pytest.raises(QueryTimeoutError, match="query timed out in query execution"),
    ):
        c.query("up", time=END)
    assert len(fault_server.seen) == 1  # the same query would only time out again


def test_a_transient_503_is_recovered_after_backoff(fault_server):
    fault_server.reply = lambda seen: (
        (503, b"unavailable", 0.0) if len(fault_server.seen) < 3 else (200, recorded("vector"), 0)
    )
    began = time.monotonic()
    with connect(fault_server.url, retries=2, backoff=0.1) as c:
        assert len(c.query("up", time=END)) == 2
    assert len(fault_server.seen) == 3
    assert time.monotonic() - began >= 0.3  # waited 0.1 s, then 0.2 s


def test_a_transient_5xx_is_recovered(fault_server):
    fault_server.reply = lambda seen: (
        (502, b"bad gateway", 0.0) if len(fault_server.seen) == 1 else (200, recorded("vector"), 0)
    )
    with connect(fault_server.url, backoff=0.01) as c:
        assert len(c.query("up", time=END)) == 2
    assert len(fault_server.seen) == 2


def test_4xx_is_not_retried(fault_server):
    fault_server.reply = lambda seen: (400, recorded("error_400_bad_data"), 0.0)
    with connect(fault_server.url) as c, pytest.raises(QuerySyntaxError):
        c.query("rate(", time=END)
    assert len(fault_server.seen) == 1


def test_a_slow_answer_is_a_query_timeout(fault_server):
    fault_server.reply = lambda seen: (200, recorded("vector"), 2.0)
    with (
        connect(fault_server.url, timeout=0.3) as c,
        pytest.raises(QueryTimeoutError, match=r"no answer within timeout=0\.3 s"),
    ):
        c.query("up", time=END)
    assert len(fault_server.seen) == 1  # a timed-out query is not repeated


def test_discovery_errors_are_mapped_with_prometheus_text(fault_server):
    fault_server.reply = lambda seen: (400, recorded("error_400_bad_data"), 0.0)
    with connect(fault_server.url) as c, pytest.raises(QuerySyntaxError) as info:
        c.labels("up{")
    assert "unclosed left parenthesis" in str(info.value) and info.value.query == "labels"


def test_prometheus_warnings_are_warned_and_kept_in_attrs(fault_server):
    fault_server.reply = lambda seen: (200, recorded("vector_warnings"), 0.0)
    with connect(fault_server.url) as c, pytest.warns(PromQLWarning) as caught:
        df = c.query("obskit_test_requests_total", time=END)
    assert [str(w.message).split(":")[0] for w in caught] == [
        "Prometheus warning for query 'obskit_test_requests_total'",
        "Prometheus info for query 'obskit_test_requests_total'",
    ]
    assert caught[0].filename == __file__  # points at the caller's line, not into obskit
    assert df.attrs["warnings"] == ["PromQL warning: encountered a mix of histograms and floats"]
    assert df.attrs["infos"] == ['PromQL info: metric might not be a counter: "obskit_test_key"']


def test_range_warnings_from_many_chunks_are_warned_once(fault_server):
    body = json.loads(recorded("matrix"))
    body["warnings"] = ["partial response"]
    fault_server.reply = lambda seen: (200, json.dumps(body).encode(), 0.0)
    with (
        connect(fault_server.url, max_points=100) as c,
        pytest.warns(PromQLWarning, match="partial response") as caught,
    ):
        df = c.query_range("x", END - timedelta(hours=1), END, "10s")
    assert len(fault_server.seen) == 4 and len(caught) == 1
    assert df.attrs["warnings"] == ["partial response"]


def test_unreachable_names_the_url_and_timeout():
    url = f"http://127.0.0.1:{_free_port()}"
    with connect(url, timeout=2) as c, pytest.raises(UnreachableError) as info:
        c.query("up", time=END)
    message = str(info.value)
    assert url in message and "timeout 2 s" in message and "obskit demo start" in message


def test_tls_errors_are_tls_errors(_small_prometheus):
    https = _small_prometheus.url.replace("http://", "https://")
    with connect(https, timeout=5) as c, pytest.raises(TLSError, match="TLS handshake failed"):
        c.query("up", time=END)


def test_start_and_end_modifiers_mean_the_whole_range_in_every_chunk(client):
    start, end = END - timedelta(hours=4), END
    df = client.query_range("obskit_test_requests_total @ end()", start, end, "1s")
    assert df.attrs["params"]["chunks"] == 2
    assert df.attrs["query"] == "obskit_test_requests_total @ end()"
    assert set(df["value"]) == {14400.0, 144.0}  # the value at END, at every step
    first = client.query_range("obskit_test_requests_total @ start()", start, end, "1s")
    assert set(first["value"]) == {4800.0, 48.0}  # the value at END - 4 h


def _openssl(*args: str | Path) -> None:
    subprocess.run(["openssl", *map(str, args)], check=True, capture_output=True)


@pytest.fixture(scope="module")
def tls_files(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """A throwaway CA and a server certificate for 127.0.0.1 it signed."""
    if not shutil.which("openssl"):
        pytest.skip("openssl not installed")
    d = tmp_path_factory.mktemp("tls")
    _openssl("req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2", "-subj", "/CN=test CA",
             "-keyout", d / "ca.key", "-out", d / "ca.pem")  # fmt: skip
    _openssl("req", "-newkey", "rsa:2048", "-nodes", "-subj", "/CN=127.0.0.1",
             "-keyout", d / "server.key", "-out", d / "server.csr")  # fmt: skip
    (d / "ext.cnf").write_text("subjectAltName=IP:127.0.0.1\n")
    _openssl("x509", "-req", "-in", d / "server.csr", "-CA", d / "ca.pem", "-CAkey", d / "ca.key",
             "-CAcreateserial", "-days", "2", "-extfile", d / "ext.cnf", "-out", d / "server.pem")  # fmt: skip
    return {"ca": d / "ca.pem", "cert": d / "server.pem", "key": d / "server.key"}


@pytest.fixture
def tls_server(tls_files: dict[str, Path]) -> Iterator[FaultServer]:
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(tls_files["cert"], tls_files["key"])
    server = FaultServer(tls=context)
    server.reply = lambda seen: (200, recorded("vector"), 0.0)
    yield server
    server.close()


def test_tls_with_the_right_ca_bundle_works(tls_server, tls_files):
    with connect(tls_server.url, ca_bundle=str(tls_files["ca"])) as c:
        assert len(c.query("up", time=END)) == 2


def test_tls_with_an_unknown_ca_is_a_tls_error(tls_server):
    with connect(tls_server.url, timeout=5) as c, pytest.raises(TLSError) as info:
        c.query("up", time=END)
    assert "certificate verify failed" in str(info.value) and "ca_bundle=" in str(info.value)


def test_tls_verification_can_be_turned_off(tls_server):
    with connect(tls_server.url, verify=False) as c, pytest.warns(Warning, match="Unverified"):
        assert len(c.query("up", time=END)) == 2


# -- pure helpers behind the client -------------------------------------------------------------


def test_describe_metrics_finds_families_of_suffixed_names():
    metadata = {
        "http_seconds": [{"type": "histogram", "help": "Latency.", "unit": ""}],
        "jobs": [{"type": "counter", "help": "Jobs done.", "unit": ""}],
    }
    names = ["http_seconds_bucket", "jobs_total", "voicebot_calls_total", "mystery"]
    df = _discovery.describe_metrics(names, metadata).set_index("name")
    assert df.loc["http_seconds_bucket", ["type", "source"]].tolist() == ["histogram", "prometheus"]
    assert df.loc["jobs_total", ["type", "source"]].tolist() == ["counter", "prometheus"]
    assert df.loc["voicebot_calls_total", ["type", "source"]].tolist() == ["counter", "catalog"]
    assert df.loc["mystery", ["type", "source"]].tolist() == ["unknown", "unknown"]


@pytest.mark.parametrize(
    ("url", "loopback"),
    [
        ("http://127.0.0.1:9090", True),
        ("http://127.8.9.10", True),
        ("http://localhost:9090", True),
        ("http://[::1]:9090", True),
        ("https://prom.example", False),
        ("http://10.0.0.5:9090", False),
    ],
)
def test_identity_encoding_first_everywhere(url, loopback):
    client = Client(Settings(url))  # remote servers switch to gzip if measured slow (_link)
    assert client.session.headers["Accept-Encoding"] == "identity"


def test_no_request_asks_for_more_than_the_points_cap(client):
    asked: list[float] = []

    def record(response, *args, **kwargs):
        if not response.request.path_url.startswith("/api/v1/query_range"):
            return  # the series-budget pre-check is one instant count()
        params = dict(parse_qsl(urlsplit(response.request.url).query))
        asked.append((float(params["end"]) - float(params["start"])) / float(params["step"]) + 1)

    client.session.hooks["response"].append(record)
    df = client.query_range("obskit_test_key", END - SPAN, END, "1s")  # 21,601 points
    assert len(asked) == 2 and max(asked) <= 11_000 and sum(asked) == 21_601 == len(df)


def test_workers_are_capped_by_the_cores_only_when_prometheus_shares_them():
    import os

    cores = len(os.sched_getaffinity(0))
    with Client(Settings("http://127.0.0.1:9", max_workers=64)) as local:
        assert local.workers == min(64, cores)
    with Client(Settings("http://localhost:9", max_workers=1)) as local:
        assert local.workers == 1  # never more than asked
    with Client(Settings("https://prometheus.example:9090", max_workers=64)) as remote:
        assert remote.workers == 2  # _link.REMOTE_CONCURRENCY: not the server's cores
