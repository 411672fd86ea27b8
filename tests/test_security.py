"""Auth and TLS against a real Prometheus (--web.config.file), and secrets kept out of every output.

Prometheus has basic auth and TLS but no bearer-token auth, so bearer tokens are tested
through a real reverse proxy (tests/test_faults.py's :class:`Proxy`) in front of the demo
Prometheus that answers 401 unless ``Authorization: Bearer <token>`` is right.
"""

from __future__ import annotations

import base64
import json
import logging
import os
import pickle
import shutil
import subprocess
import sys
import traceback
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
import requests
from prometheus_api_client import PrometheusApiClientException
from test_faults import END, LocalPrometheus, Proxy, load_openmetrics

from obskit import dashboards
from obskit.client import Client, connect
from obskit.config import Settings
from obskit.errors import AuthError, ObskitError, TLSError

ROOT = Path(__file__).resolve().parent.parent
USER = "alice"
PASSWORD = "pw-Zq8x7-correct"
WRONG_PASSWORD = "pw-Kp3m1-wrong"
TOKEN = "tok-9f8e7d6c5b4a-correct"
WRONG_TOKEN = "tok-0a1b2c3d4e5f-wrong"
HOUR = timedelta(hours=1)
SECRETS = (PASSWORD, WRONG_PASSWORD, TOKEN, WRONG_TOKEN)


def _openssl(*args: str | Path) -> None:
    subprocess.run(["openssl", *map(str, args)], check=True, capture_output=True)


def _make_ca(folder: Path, name: str) -> None:
    _openssl("req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2",
             "-subj", f"/CN=obskit test {name}", "-keyout", folder / f"{name}.key",
             "-out", folder / f"{name}.pem")  # fmt: skip


@pytest.fixture(scope="module")
def tls(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """A CA, a server certificate for 127.0.0.1 signed by it, and an unrelated CA."""
    if not shutil.which("openssl"):
        pytest.skip("openssl not installed")
    d = tmp_path_factory.mktemp("tls")
    _make_ca(d, "ca")
    _make_ca(d, "other-ca")
    _openssl("req", "-newkey", "rsa:2048", "-nodes", "-subj", "/CN=127.0.0.1",
             "-keyout", d / "server.key", "-out", d / "server.csr")  # fmt: skip
    (d / "ext.cnf").write_text("subjectAltName=IP:127.0.0.1\n")
    _openssl("x509", "-req", "-in", d / "server.csr", "-CA", d / "ca.pem", "-CAkey", d / "ca.key",
             "-CAcreateserial", "-days", "2", "-extfile", d / "ext.cnf", "-out", d / "server.pem")  # fmt: skip
    return {"ca": d / "ca.pem", "other_ca": d / "other-ca.pem", "cert": d / "server.pem",
            "key": d / "server.key"}  # fmt: skip


@pytest.fixture(scope="module")
def secured(tmp_path_factory: pytest.TempPathFactory, tls: dict[str, Path]) -> Iterator[Any]:
    """A real Prometheus serving HTTPS only, with one basic-auth user (bcrypt hash)."""
    bcrypt = pytest.importorskip("bcrypt")
    hashed = bcrypt.hashpw(PASSWORD.encode(), bcrypt.gensalt(rounds=4)).decode()
    web = (
        "tls_server_config:\n"
        f"  cert_file: {tls['cert']}\n"
        f"  key_file: {tls['key']}\n"
        "basic_auth_users:\n"
        f"  {USER}: '{hashed}'\n"
    )
    prom = LocalPrometheus(
        tmp_path_factory.mktemp("secured-prometheus"),
        openmetrics=load_openmetrics(series=3, hours=2),
        web_config=web,
        probe={"auth": (USER, PASSWORD), "verify": str(tls["ca"])},
    ).start()
    yield prom
    prom.stop()


@pytest.fixture
def bearer_proxy(demo) -> Iterator[Proxy]:
    """A reverse proxy to the demo Prometheus that wants ``Authorization: Bearer TOKEN``."""

    def check(handler: Any, path: str, body: bytes) -> tuple[int, bytes] | None:
        if handler.headers.get("Authorization") != f"Bearer {TOKEN}":
            return 401, b"Unauthorized\n"
        return None

    proxy = Proxy(demo.url, check)
    yield proxy
    proxy.close()


def _good(secured: LocalPrometheus, tls: dict[str, Path], **kwargs: Any) -> Client:
    return connect(secured.url, username=USER, password=PASSWORD, ca_bundle=str(tls["ca"]),
                   **kwargs)  # fmt: skip


# -- basic auth and TLS on a real Prometheus ----------------------------------------------------


def test_basic_auth_and_ca_bundle_reach_every_endpoint(secured, tls):
    with _good(secured, tls) as client:
        assert client.query("sum(obskit_load)", time=END)["value"].tolist() == [3.0]
        frame = client.query_range("obskit_load", END.replace(hour=17), END, "5m")
        assert len(frame) == 3 * 13
        assert client.series("obskit_load", END.replace(hour=17), END)["i"].tolist() == [
            "0",
            "1",
            "2",
        ]
        # prometheus-api-client's helpers go through the same authenticated session
        assert "i" in client.labels("obskit_load")["label"].tolist()
        assert client.label_values("i")["i"].tolist() == ["0", "1", "2"]
        assert "obskit_load" in client.metrics()["name"].tolist()


def test_prometheus_connect_shares_basic_auth_and_tls(secured, tls):
    with _good(secured, tls) as client:
        prom = client.prometheus_connect()
        assert prom.get_label_values("i") == ["0", "1", "2"]
        answer = prom.custom_query("sum(obskit_load)", params={"time": END.timestamp()})
        assert answer[0]["value"][1] == "3"
    refused = [
        connect(secured.url, ca_bundle=str(tls["ca"])),  # no credentials
        connect(secured.url, username=USER, password=WRONG_PASSWORD, ca_bundle=str(tls["ca"])),
    ]
    for client in refused:
        with client, pytest.raises(PrometheusApiClientException, match="HTTP Status Code 401"):
            client.prometheus_connect().get_label_values("i")
    untrusted = connect(secured.url, username=USER, password=PASSWORD)  # no CA bundle
    with untrusted, pytest.raises(requests.exceptions.SSLError, match="certificate verify"):
        untrusted.prometheus_connect().get_label_names()


def test_prometheus_connect_sends_the_bearer_token(demo, bearer_proxy):
    with connect(bearer_proxy.url, bearer_token=TOKEN) as client:
        assert "job" in client.prometheus_connect().get_label_names()
    anonymous = connect(bearer_proxy.url)
    with anonymous, pytest.raises(PrometheusApiClientException, match="HTTP Status Code 401"):
        anonymous.prometheus_connect().get_label_names()


def test_credentials_from_the_environment_and_from_the_url(secured, tls, monkeypatch):
    monkeypatch.setenv("PROMETHEUS_URL", secured.url)
    monkeypatch.setenv("PROMETHEUS_USERNAME", USER)
    monkeypatch.setenv("PROMETHEUS_PASSWORD", PASSWORD)
    monkeypatch.setenv("PROMETHEUS_CA_BUNDLE", str(tls["ca"]))
    with connect() as client:
        assert client.query("count(obskit_load)", time=END)["value"].tolist() == [3.0]
    in_url = secured.url.replace("https://", f"https://{USER}:{PASSWORD}@")
    with connect(in_url) as client:  # same server: the env CA bundle still applies
        assert client.url == secured.url
        assert client.query("count(obskit_load)", time=END)["value"].tolist() == [3.0]


@pytest.mark.parametrize(
    "credentials",
    [{"username": USER, "password": WRONG_PASSWORD}, {"username": "mallory", "password": PASSWORD},
     {}],
    ids=["wrong-password", "unknown-user", "none"],
)  # fmt: skip
def test_wrong_or_missing_credentials_are_an_auth_error(secured, tls, credentials):
    with connect(secured.url, ca_bundle=str(tls["ca"]), **credentials) as client:
        with pytest.raises(AuthError) as info:
            client.query("up", time=END)
        with pytest.raises(AuthError) as helper:
            client.labels()
    message = str(info.value)
    assert info.value.status == 401
    assert f"{secured.url}/api/v1/query" in message, "names the URL"
    assert "username/password or bearer token" in message, "says what to check"
    assert helper.value.status == 401 and secured.url in str(helper.value)
    for text in (message, repr(info.value), str(helper.value)):
        assert PASSWORD not in text and WRONG_PASSWORD not in text


def test_a_wrong_password_written_into_the_url_is_not_repeated(secured, tls):
    url = secured.url.replace("https://", f"https://{USER}:{WRONG_PASSWORD}@")
    with connect(url, ca_bundle=str(tls["ca"])) as client, pytest.raises(AuthError) as info:
        client.query("up", time=END)
    assert WRONG_PASSWORD not in str(info.value) and secured.url in str(info.value)


@pytest.mark.parametrize("char", ["#", "/", "?"])
def test_a_password_with_url_special_characters_is_not_repeated(char):
    secret = f"pw{char}Kp3m1"
    with pytest.raises(ObskitError) as info:
        connect(f"https://{USER}:{secret}@127.0.0.1:9/", timeout=1).query("up")
    assert "Kp3m1" not in str(info.value) and "pw" not in str(info.value).split("got")[-1]


@pytest.mark.parametrize("ca", [None, "other_ca"], ids=["system-trust", "unrelated-ca"])
def test_an_untrusted_certificate_is_a_tls_error(secured, tls, ca):
    bundle = {"ca_bundle": str(tls[ca])} if ca else {}
    with (
        connect(secured.url, username=USER, password=PASSWORD, timeout=5, **bundle) as client,
        pytest.raises(TLSError) as info,
    ):
        client.query("up", time=END)
    message = str(info.value)
    assert "TLS handshake failed" in message and "certificate verify failed" in message
    assert secured.url in message and "ca_bundle=" in message  # what to do
    assert PASSWORD not in message


def test_plain_http_to_the_tls_port_says_use_https(secured):
    plain = secured.url.replace("https://", "http://")
    with connect(plain, username=USER, password=PASSWORD) as client:
        with pytest.raises(TLSError, match=r"speaks HTTPS.*Use an https:// URL"):
            client.query("up", time=END)
        with pytest.raises(TLSError, match="Use an https:// URL"):
            client.labels()


def test_https_to_a_plain_http_port_says_use_http(demo):
    with (
        connect(demo.url.replace("http://", "https://"), timeout=5) as client,
        pytest.raises(TLSError, match="plain HTTP: use an http:// URL"),
    ):
        client.query("up", time=END)


def test_verify_false_skips_certificate_checks_with_a_warning(secured):
    with (
        connect(secured.url, username=USER, password=PASSWORD, verify=False) as client,
        pytest.warns(Warning, match="Unverified HTTPS request"),
    ):
        assert client.query("count(obskit_load)", time=END)["value"].tolist() == [3.0]


# -- bearer tokens through a real reverse proxy ------------------------------------------------


def test_a_bearer_token_reaches_every_endpoint(demo, bearer_proxy):
    with connect(bearer_proxy.url, bearer_token=TOKEN) as client:
        assert len(client.query("sum(voicebot_active_calls)", time=demo.end)) == 1
        long_expr = "sum(voicebot_active_calls)" + " + 0" * 600  # sent as POST
        assert len(client.query(long_expr, time=demo.end)) == 1
        assert (
            len(client.query_range("sum(voicebot_active_calls)", demo.end - HOUR, demo.end, "1m"))
            > 0
        )
        assert "job" in client.labels()["label"].tolist()
        assert "voicebot" in client.label_values("job")["job"].tolist()
    assert len(bearer_proxy.seen) >= 5


def test_a_wrong_bearer_token_is_an_auth_error_without_the_token(bearer_proxy):
    for token in (WRONG_TOKEN, None):
        with connect(bearer_proxy.url, bearer_token=token) as client:
            with pytest.raises(AuthError) as info:
                client.query("up", time=END)
            with pytest.raises(AuthError):
                client.label_values("job")
        assert bearer_proxy.url in str(info.value) and info.value.status == 401
        assert WRONG_TOKEN not in str(info.value) and TOKEN not in str(info.value)


# -- secrets appear nowhere ---------------------------------------------------------------------


def _needles() -> list[str]:
    """Every form a secret could leak in: as is, and inside a Basic or Bearer header."""
    found = list(SECRETS)
    for password in (PASSWORD, WRONG_PASSWORD):
        found.append(base64.b64encode(f"{USER}:{password}".encode()).decode())
    return found


def _leaks(text: str) -> list[str]:
    return [needle for needle in _needles() if needle in text]


def test_secrets_appear_in_no_repr_error_log_or_generated_file(
    secured, tls, bearer_proxy, caplog, tmp_path, monkeypatch
):
    captured: list[str] = []
    caplog.set_level(logging.DEBUG)  # every logger: obskit, urllib3, requests

    good = _good(secured, tls)
    bearer = connect(bearer_proxy.url, bearer_token=TOKEN, headers={"X-Api-Key": TOKEN})
    in_url = connect(secured.url.replace("https://", f"https://{USER}:{PASSWORD}@"),
                     ca_bundle=str(tls["ca"]))  # fmt: skip
    for client in (good, bearer, in_url):
        captured += [repr(client), str(client), repr(client.settings), str(client.settings)]
        captured.append(repr(client.query("vector(1)", time=END)))

    errors: list[BaseException] = []
    attempts = [
        lambda: connect(secured.url, username=USER, password=WRONG_PASSWORD,
                        ca_bundle=str(tls["ca"])).query("up", time=END),
        lambda: connect(secured.url, username=USER, password=WRONG_PASSWORD,
                        ca_bundle=str(tls["ca"])).labels(),
        lambda: connect(secured.url, username=USER, password=PASSWORD).query("up"),  # TLS
        lambda: connect(bearer_proxy.url, bearer_token=WRONG_TOKEN).query("up", time=END),
        lambda: connect(secured.url.replace("https://", f"https://{USER}:{WRONG_PASSWORD}@"),
                        ca_bundle=str(tls["ca"])).query("up", time=END),
        lambda: Settings(f"ftp://{USER}:{PASSWORD}@host"),  # bad URL: ConfigError
        lambda: connect(f"http://{USER}:{PASSWORD}@127.0.0.1:1", timeout=1).query("up"),
    ]  # fmt: skip
    for number, attempt in enumerate(attempts):
        with pytest.raises(ObskitError) as info:
            attempt()
            pytest.fail(f"attempt {number} did not fail")
        errors.append(info.value)
    for error in errors:
        captured += [str(error), repr(error)]
        captured.append("".join(traceback.format_exception(error)))  # with chained causes
        captured.append(str(pickle.loads(pickle.dumps(error))))

    # Generated dashboard files from a panel added with an authenticated client.
    grafana = tmp_path / "grafana"
    shutil.copytree(ROOT / "grafana", grafana)
    dashboards.add_panel("business-dashboard", "sum(rate(voicebot_calls_total[5m]))",
                         title="Secret check", client=bearer, grafana_dir=grafana)  # fmt: skip
    dashboards.build(grafana_dir=grafana)
    files = [p for p in grafana.rglob("*") if p.is_file()]

    # The command line: errors are printed, credentials given in the URL are not.
    cli = subprocess.run(
        [sys.executable, "-m", "obskit.cli", "dashboards", "check", "--grafana-dir", str(grafana),
         "--prometheus", secured.url.replace("https://", f"https://{USER}:{WRONG_PASSWORD}@")],
        capture_output=True, text=True, timeout=120,
        env={**os.environ, "PROMETHEUS_CA_BUNDLE": str(tls["ca"])},
    )  # fmt: skip
    assert cli.returncode == 1 and "HTTP 401" in cli.stderr, cli.stderr
    captured += [cli.stdout, cli.stderr]

    for client in (good, bearer, in_url):
        client.close()
    captured.append(caplog.text)
    captured += [f"{r.getMessage()} {r.args!r}" for r in caplog.records]
    assert len(caplog.records) > 0, "DEBUG logging was on"
    assert {type(e).__name__ for e in errors} >= {"AuthError", "TLSError", "ConfigError"}

    leaks = {needle for text in captured for needle in _leaks(text)}
    assert not leaks, f"secrets leaked into reprs, errors or logs: {leaks}"
    for path in files:
        assert not _leaks(path.read_text(errors="replace")), path


def test_the_repository_holds_no_credential():
    """grafana/**/* and notebooks/*.ipynb: no test secret, and provisioning only ${VAR}s."""
    paths = [p for p in (ROOT / "grafana").rglob("*") if p.is_file()]
    paths += sorted((ROOT / "notebooks").glob("*.ipynb"))
    for path in paths:
        text = path.read_text(errors="replace")
        assert not _leaks(text), path
        for line in text.splitlines():
            key, _, value = line.strip().partition(":")
            if key.lower() in ("password", "basicauthpassword", "token", "bearertoken"):
                assert value.strip().startswith("${"), f"{path}: {line.strip()}"


def test_notebook_output_shows_no_secret(secured, tls, tmp_path, monkeypatch):
    """A real kernel runs what a user would type, errors included; its outputs are searched.

    The secrets come from the environment, as they should in a notebook: a traceback shows
    the failing cell's own code, so a password typed into a cell is shown back by IPython.
    """
    monkeypatch.setenv("PROMETHEUS_USERNAME", USER)
    monkeypatch.setenv("PROMETHEUS_PASSWORD", PASSWORD)
    monkeypatch.setenv("PROMETHEUS_CA_BUNDLE", str(tls["ca"]))
    monkeypatch.setenv("TEST_WRONG_PASSWORD", WRONG_PASSWORD)
    monkeypatch.setenv("TEST_TOKEN", TOKEN)
    nbformat = pytest.importorskip("nbformat")
    nbclient = pytest.importorskip("nbclient")
    setup = (
        "import logging, os, obskit\n"
        "logging.basicConfig(level=logging.DEBUG)\n"
        f"client = obskit.connect({secured.url!r})\n"
        "client"
    )
    cells = [
        setup,
        "client.settings",
        f"client.query('count(obskit_load)', time={END.isoformat()!r})",
        f"obskit.connect({secured.url!r}, password=os.environ['TEST_WRONG_PASSWORD']).query('up')",
        f"obskit.connect({secured.url!r}, ca_bundle=None, bearer_token=os.environ['TEST_TOKEN'],\n"
        "               verify=True).labels()",
        f"os.environ['PROMETHEUS_CA_BUNDLE'] = ''\nobskit.connect({secured.url!r}).query('up')",
    ]
    book = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell(c) for c in cells])
    runner = nbclient.NotebookClient(
        book, timeout=120, kernel_name="python3", allow_errors=True,
        resources={"metadata": {"path": str(tmp_path)}},
    )  # fmt: skip
    runner.execute()
    outputs = [out for cell in book.cells for out in cell.get("outputs", [])]
    assert any(out.get("ename") == "AuthError" for out in outputs)
    assert any(out.get("ename") == "TLSError" for out in outputs)
    assert any("Client(url=" in str(out.get("data", {})) for out in outputs)
    assert not any(_leaks(cell.source) for cell in book.cells)
    for out in outputs:
        assert not _leaks(json.dumps(out)), out
