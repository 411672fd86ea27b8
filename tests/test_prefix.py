"""Every Client call through a path prefix: real servers, real proxy, the same small dataset.

Three real layouts, each on a free 127.0.0.1 port, loaded with test_client.py's 6 h
dataset (so every layout must give the same answers):

- ``prometheus``: Prometheus with ``--web.route-prefix=/prom --web.external-url=.../prom``,
  reached as ``http://127.0.0.1:PORT/prom`` (nothing answers outside ``/prom``);
- ``vm-prometheus``: VictoriaMetrics behind a real vmauth under ``/prometheus``
  (``http://127.0.0.1:PORT/prometheus``, the single-node and Mimir-style layout);
- ``vm-cluster``: the same VictoriaMetrics under the cluster layout
  ``/select/0/prometheus`` (vmselect's ``/select/<tenant>/prometheus``).

Debian's vmauth 1.79 forwards the request path unchanged (it cannot strip a prefix), so the
VictoriaMetrics process serves ``-http.pathPrefix=/select/0``, as a vmselect serves
``/select/0``; vmauth routes ``/select/0/prometheus/...`` to it as is and
``/prometheus/...`` to ``/select/0/prometheus/...``, and answers anything else itself
("missing route"). vmauth wants credentials, so the VictoriaMetrics layouts also carry
basic auth through the proxy.
"""

from __future__ import annotations

import shutil
import subprocess
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path
from typing import Any

import pandas as pd
import pytest
import requests
from test_client import END, write_openmetrics
from test_faults import LocalPrometheus

import obskit
from obskit.client import Client
from obskit.demo.server import die_with_parent, free_port, terminate
from obskit.errors import AuthError, PrometheusError, QuerySyntaxError

USER, PASSWORD = "reader", "pw-prefix-Lq7"
WINDOW = (END - timedelta(minutes=30), END)
LAYOUTS = ["prometheus", "vm-prometheus", "vm-cluster"]


@dataclass
class Layout:
    name: str
    url: str  # with its prefix
    root: str  # the same server without the prefix
    credentials: dict[str, str] = field(default_factory=dict)

    @property
    def victoria(self) -> bool:
        return self.name.startswith("vm-")

    def connect(self, **kwargs: Any) -> Client:
        return obskit.connect(self.url, **self.credentials, **kwargs)


# -- servers -------------------------------------------------------------------------------------


class PrefixedPrometheus(LocalPrometheus):
    """LocalPrometheus serving under ``/prom`` (its readiness probe included), scraping itself."""

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/prom"


@pytest.fixture(scope="module")
def dataset(tmp_path_factory: pytest.TempPathFactory) -> str:
    path = tmp_path_factory.mktemp("prefix-data") / "data.om"
    write_openmetrics(path)
    return path.read_text()


@pytest.fixture(scope="module")
def prometheus(tmp_path_factory: pytest.TempPathFactory, dataset: str) -> Iterator[Layout]:
    workdir = tmp_path_factory.mktemp("prefixed-prometheus")
    prom = PrefixedPrometheus(workdir, openmetrics=dataset)
    prom.args = ("--web.route-prefix=/prom", f"--web.external-url={prom.url}")
    (workdir / "prometheus.yml").write_text(
        "global: {scrape_interval: 1s}\n"
        "scrape_configs: [{job_name: self, metrics_path: /prom/metrics, "
        f"static_configs: [{{targets: ['127.0.0.1:{prom.port}']}}]}}]\n"
    )
    prom.start()
    yield Layout("prometheus", prom.url, prom.url.removesuffix("/prom"))
    prom.stop()


def _import_lines(openmetrics: str) -> bytes:
    """OpenMetrics samples as VictoriaMetrics' Prometheus import wants them (ms timestamps)."""
    lines = []
    for line in openmetrics.splitlines():
        if line and not line.startswith("#"):
            head, ts = line.rsplit(" ", 1)
            lines.append(f"{head} {ts}000")
    return ("\n".join(lines) + "\n").encode()


def _wait(probe: Any, what: str, process: subprocess.Popen[bytes], log: Path) -> None:
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"{what} exited: {log.read_text()[-2000:]}")
        try:
            if probe():
                return
        except requests.RequestException:
            pass
        time.sleep(0.1)
    raise RuntimeError(f"{what} not ready within 30 s: {log.read_text()[-2000:]}")


def _start(argv: list[str], log: Path) -> subprocess.Popen[bytes]:
    with log.open("wb") as out:
        return subprocess.Popen(
            argv, stdout=out, stderr=subprocess.STDOUT, preexec_fn=die_with_parent()
        )


@pytest.fixture(scope="module")
def vmauth(tmp_path_factory: pytest.TempPathFactory, dataset: str) -> Iterator[str]:
    """A VictoriaMetrics serving ``/select/0`` with the dataset, behind vmauth; its URL."""
    vm_bin, auth_bin = shutil.which("victoria-metrics"), shutil.which("vmauth")
    assert vm_bin and auth_bin, "victoria-metrics (with vmauth) missing: scripts/system-deps test"
    workdir = tmp_path_factory.mktemp("vmauth")
    vm_port, auth_port = free_port(), free_port()
    vm = _start([vm_bin, f"-storageDataPath={workdir / 'data'}", "-retentionPeriod=100y",
                 f"-httpListenAddr=127.0.0.1:{vm_port}", "-search.disableCache",
                 "-http.pathPrefix=/select/0"], workdir / "vm.log")  # fmt: skip
    proxy: subprocess.Popen[bytes] | None = None
    try:
        vm_url = f"http://127.0.0.1:{vm_port}/select/0"
        _wait(lambda: requests.get(f"{vm_url}/health", timeout=1).ok, "victoria-metrics", vm,
              workdir / "vm.log")  # fmt: skip
        answer = requests.post(f"{vm_url}/api/v1/import/prometheus",
                               data=_import_lines(dataset), timeout=60)  # fmt: skip
        assert answer.status_code < 300, answer.text
        requests.get(f"{vm_url}/internal/force_flush", timeout=60).raise_for_status()
        (workdir / "auth.yml").write_text(
            "users:\n"
            f"- username: {USER}\n"
            f"  password: {PASSWORD}\n"
            "  url_map:\n"
            '  - src_paths: ["/select/0/prometheus/.+"]\n'
            f'    url_prefix: "http://127.0.0.1:{vm_port}"\n'
            '  - src_paths: ["/prometheus/.+"]\n'
            f'    url_prefix: "http://127.0.0.1:{vm_port}/select/0"\n'
        )
        proxy = _start([auth_bin, f"-auth.config={workdir / 'auth.yml'}",
                        f"-httpListenAddr=127.0.0.1:{auth_port}"], workdir / "vmauth.log")  # fmt: skip
        url = f"http://127.0.0.1:{auth_port}"
        newest = {"query": "max(timestamp(obskit_test_key))", "time": END.timestamp()}

        def searchable() -> bool:  # ingestion is asynchronous: wait for the last sample
            body = requests.get(f"{url}/prometheus/api/v1/query", params=newest,
                                auth=(USER, PASSWORD), timeout=5).json()  # fmt: skip
            found = body.get("data", {}).get("result", [])
            return bool(found) and float(found[0]["value"][1]) >= END.timestamp()

        _wait(searchable, "vmauth + victoria-metrics", proxy, workdir / "vmauth.log")
        yield url
    finally:
        terminate(proxy)
        terminate(vm)


@pytest.fixture(scope="module", params=LAYOUTS)
def layout(request: pytest.FixtureRequest) -> Layout:
    if request.param == "prometheus":
        return request.getfixturevalue("prometheus")
    url = request.getfixturevalue("vmauth")
    prefix = "/prometheus" if request.param == "vm-prometheus" else "/select/0/prometheus"
    return Layout(request.param, url + prefix, url, {"username": USER, "password": PASSWORD})


@pytest.fixture
def client(layout: Layout) -> Iterator[Client]:
    with layout.connect() as c:
        yield c


# -- every call through the prefix ---------------------------------------------------------------


def test_the_prefix_is_needed(layout):
    """Without its prefix the same server does not answer: the calls below really use it."""
    bare = obskit.connect(layout.root, **layout.credentials)
    with bare, pytest.raises(PrometheusError, match="check the URL's path prefix") as info:
        bare.query("obskit_test_key", time=END)
    assert f"{layout.root}/api/v1/query" in str(info.value)
    assert info.value.status in (400, 404)


def test_instant_query(client):
    df = client.query("obskit_test_requests_total", time=END)
    assert df["code"].tolist() == ["200", "500"] and df["value"].tolist() == [14400.0, 144.0]


def test_query_stats(client, layout):
    stats = client.query_stats("sum(obskit_test_requests_total)", time=END)
    if layout.victoria:
        assert stats == {}  # VictoriaMetrics reports none
    else:
        assert stats["samples"]["totalQueryableSamples"] == 2


def test_long_query_sent_as_post(client):
    methods: list[str] = []
    client.session.hooks["response"].append(lambda r, *a, **k: methods.append(r.request.method))
    df = client.query("obskit_test_key" + " + 0" * 600, time=END)
    assert df["value"].tolist() == [1.0] and methods == ["POST"]


def test_query_range(client):
    df = client.query_range("obskit_test_temperature_celsius", END - timedelta(hours=1), END, "1m")
    assert df.attrs["params"]["chunks"] == 1
    assert df.groupby("room", observed=True).size().tolist() == [61, 61]
    assert df["timestamp"].max() == pd.Timestamp(END)


def test_a_split_range_equals_the_one_request_answer(layout):
    """4 h at 1 s is 14,401 points a series: split in 2 by default, in 15 with max_points=1000."""
    expr = "obskit_test_requests_total"
    start = END - timedelta(hours=4)
    with layout.connect() as one:
        default = one.query_range(expr, start, END, "1s")
    with layout.connect(max_points=1000, max_workers=3) as many:
        split = many.query_range(expr, start, END, "1s")
    assert (default.attrs["params"]["chunks"], split.attrs["params"]["chunks"]) == (2, 15)
    pd.testing.assert_frame_equal(default, split)
    assert default.groupby("code", observed=True).size().tolist() == [14401, 14401]
    assert not default.duplicated(["code", "timestamp"]).any()


def test_labels_and_label_values(client):
    assert client.labels("obskit_test_dup")["label"].tolist() == ["__name__", "k", "v"]
    assert "room" in client.labels()["label"].tolist()
    assert client.label_values("room")["room"].tolist() == ["kitchen", "lab"]
    values = client.label_values("code", "obskit_test_requests_total")
    assert values["code"].tolist() == ["200", "500"]


def test_series_and_series_count(client):
    df = client.series("obskit_test_dup", *WINDOW)
    assert list(df.columns) == ["__name__", "k", "v"] and df["v"].tolist() == ["x", "y"]
    counts = client.series_count('{__name__=~"obskit_test_.*"}', *WINDOW).set_index("name")
    assert counts.loc["obskit_test_dup", "series"] == 2
    assert counts.loc["obskit_test_key", "series"] == 1


def test_metrics_with_metadata(client, layout):
    if not layout.victoria:  # Prometheus scrapes itself: wait for the first scrape's metadata
        deadline = time.monotonic() + 15
        while time.monotonic() < deadline and "prometheus_http_requests_total" not in set(
            client.metrics()["name"]
        ):
            time.sleep(0.2)
    df = client.metrics().set_index("name")
    assert df.loc["voicebot_active_calls", ["type", "source"]].tolist() == ["gauge", "catalog"]
    assert df.loc["obskit_test_key", "source"] == "unknown"
    if not layout.victoria:
        assert df.loc["prometheus_http_requests_total", ["type", "source"]].tolist() == [
            "counter",
            "prometheus",
        ]


def test_validate_with_a_client(client):
    good = obskit.validate("sum by (code) (rate(obskit_test_requests_total[5m]))", client,
                           time=END)  # fmt: skip
    assert good.ok and good.series == 2
    assert "metadata-unavailable" not in {f.rule for f in good.findings}  # metadata was read
    typo = obskit.validate('obskit_test_temperature_celsius{room="kitchn"}', client, time=END)
    finding = next(f for f in typo.findings if f.rule == "unknown-label-value")
    assert "kitchen" in finding.message  # the real values came through the prefix


def test_targets(client, layout):
    if layout.victoria:
        assert client.targets().empty  # single-node VictoriaMetrics does not scrape
        return
    deadline = time.monotonic() + 15
    while (targets := client.targets()).empty and time.monotonic() < deadline:
        time.sleep(0.2)
    assert targets["job"].tolist() == ["self"]
    assert targets["scrape_url"].iloc[0].endswith("/prom/metrics")


def test_build_info(client, layout):
    info = client.build_info()
    if layout.victoria:
        assert info == {}  # VictoriaMetrics answers an empty buildinfo
    else:
        assert info["version"].startswith("2.") and info["goVersion"].startswith("go")


def test_format_query(client, layout):
    messy = "sum by(code)(rate(obskit_test_requests_total[5m]))"
    if layout.victoria:  # VictoriaMetrics 1.79 has no /api/v1/format_query
        with pytest.raises(PrometheusError, match="has no such endpoint") as info:
            client.format_query(messy)
        assert f"{layout.url}/api/v1/format_query" in str(info.value)
        return
    assert client.format_query(messy) == "sum by (code) (rate(obskit_test_requests_total[5m]))"
    with pytest.raises(QuerySyntaxError, match="unclosed left parenthesis"):
        client.format_query("sum(")


def test_prometheus_connect_through_the_prefix(client):
    prom = client.prometheus_connect()
    assert prom.get_label_values("room") == ["kitchen", "lab"]
    answer = prom.custom_query("sum(obskit_test_key)", params={"time": END.timestamp()})
    assert answer[0]["value"][1] == "1"


def test_wrong_credentials_through_the_proxy_are_an_auth_error(vmauth):
    for prefix in ("/prometheus", "/select/0/prometheus"):
        for credentials in ({"username": USER, "password": "pw-wrong-Zx9"}, {}):
            refused = obskit.connect(vmauth + prefix, **credentials)
            with refused, pytest.raises(AuthError) as info:
                refused.labels()
            text = str(info.value)
            assert f"{vmauth}{prefix}/api/v1/labels" in text
            assert "pw-wrong-Zx9" not in text and "cmVhZGVy" not in text  # nor its base64
