"""obskit.config.Settings and the URL resolution of obskit.connect()."""

from __future__ import annotations

import dataclasses
import json
import logging
import os
import pickle

import pytest

from obskit.config import Settings, redact_url, resolve_url
from obskit.errors import ConfigError

SECRETS = ("hunter2", "tok-3141", "cookie-42")


def _demo_state(tmp_path, url="http://127.0.0.1:9999"):
    path = tmp_path / "demo" / "state.json"
    path.parent.mkdir(parents=True)
    path.write_text(json.dumps({"pid": os.getpid(), "url": url, "end": "2026-02-14T18:00:00Z"}))
    return {"OBSKIT_CACHE_DIR": str(tmp_path)}


def test_defaults():
    s = Settings("http://127.0.0.1:9090")
    assert (s.timeout, s.target_points, s.max_workers, s.retries) == (30.0, 1000, 4, 2)
    assert s.max_points == 11_000
    assert s.verify is True
    assert s.headers == {}


def test_settings_are_frozen():
    s = Settings("http://127.0.0.1:9090")
    with pytest.raises(dataclasses.FrozenInstanceError):
        s.url = "http://other:9090"  # type: ignore[misc]


def test_url_is_normalised_and_credentials_move_to_fields():
    s = Settings("https://bob:hunter2@prom.example:9443/prefix/")
    assert s.url == "https://prom.example:9443/prefix"
    assert (s.username, s.password) == ("bob", "hunter2")


def test_explicit_credentials_win_over_those_in_the_url():
    s = Settings("https://bob:hunter2@prom.example", username="alice", password="pw")
    assert (s.username, s.password) == ("alice", "pw")


@pytest.mark.parametrize(
    ("url", "why"),
    [
        ("localhost:9090", "scheme must be http or https"),
        ("127.0.0.1:9090", "scheme must be http or https"),
        ("ftp://prom.example", "scheme must be http or https"),
        ("http://prom example:9090", "spaces"),
        ("", "empty"),
        ("http://", "no host"),
        ("http://prom.example:notaport", "Port"),
        ("http://prom.example/?x=1", "no ?query"),
    ],
)
def test_invalid_urls_name_the_value(url, why):
    with pytest.raises(ConfigError) as info:
        Settings(url)
    message = str(info.value)
    assert f"got {url!r}" in message
    assert "http://127.0.0.1:9090" in message  # a valid example
    assert why.lower() in message.lower()


def test_invalid_url_message_hides_the_password():
    with pytest.raises(ConfigError) as info:
        Settings("ftp://bob:hunter2@prom.example")
    assert "hunter2" not in str(info.value)
    assert "ftp://prom.example" in str(info.value)


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("timeout", 0),
        ("timeout", -1),
        ("max_points", 11_001),
        ("max_points", 1),
        ("target_points", 0),
        ("max_workers", 0),
        ("max_workers", 2.5),
        ("retries", -1),
        ("series_budget", 0),
        ("timeout", "30"),
        ("retries", True),
    ],
)
def test_bad_numbers_are_refused_with_an_example(field, value):
    with pytest.raises(ConfigError, match=rf"{field} must be .* e\.g\. {field}="):
        Settings("http://127.0.0.1:9090", **{field: value})


def test_series_budget_can_be_disabled():
    assert Settings("http://127.0.0.1:9090", series_budget=None).series_budget is None


def test_missing_ca_bundle_is_refused(tmp_path):
    with pytest.raises(ConfigError, match="ca_bundle must be a PEM file"):
        Settings("https://prom.example", ca_bundle=str(tmp_path / "nope.pem"))
    pem = tmp_path / "ca.pem"
    pem.write_text("-----BEGIN CERTIFICATE-----\n")
    assert Settings("https://prom.example", ca_bundle=str(pem)).ca_bundle == str(pem)


def _secret_settings() -> Settings:
    return Settings(
        "https://bob:hunter2@prom.example",
        bearer_token="tok-3141",
        headers={"Cookie": "cookie-42", "X-Team": "voice"},
        tenant="shop",
    )


def test_secrets_never_appear_in_repr_or_str():
    s = _secret_settings()
    for text in (repr(s), str(s), f"{s}", f"{s!r}"):
        assert not any(secret in text for secret in SECRETS), text
    assert "bob" in repr(s)  # the user name is not a secret
    assert "X-Team': 'voice'" in repr(s)  # neither are ordinary headers
    assert "password='***'" in repr(s)


def test_secrets_never_appear_in_logs(caplog):
    s = _secret_settings()
    with caplog.at_level(logging.DEBUG, logger="obskit"):
        logging.getLogger("obskit").info("connecting with %s / %r", s, s)
    assert caplog.text and not any(secret in caplog.text for secret in SECRETS)


def test_settings_can_be_copied_and_pickled():
    s = _secret_settings()
    assert dataclasses.replace(s, timeout=5).timeout == 5
    assert pickle.loads(pickle.dumps(s)) == s


# -- from_env and URL resolution -------------------------------------------------------------


def test_from_env_reads_every_connection_variable(tmp_path):
    pem = tmp_path / "ca.pem"
    pem.write_text("pem")
    env = {
        "PROMETHEUS_URL": "https://prom.example",
        "PROMETHEUS_USERNAME": "bob",
        "PROMETHEUS_PASSWORD": "hunter2",
        "PROMETHEUS_BEARER_TOKEN": "tok-3141",
        "PROMETHEUS_TENANT": "shop",
        "PROMETHEUS_CA_BUNDLE": str(pem),
    }
    s = Settings.from_env(env)
    assert s.url == "https://prom.example"
    assert (s.username, s.password, s.bearer_token) == ("bob", "hunter2", "tok-3141")
    assert (s.tenant, s.ca_bundle) == ("shop", str(pem))


def test_from_env_reads_os_environ_by_default(monkeypatch):
    monkeypatch.setenv("PROMETHEUS_URL", "http://127.0.0.1:9091")
    monkeypatch.setenv("PROMETHEUS_TENANT", "shop")
    s = Settings.from_env()
    assert (s.url, s.tenant) == ("http://127.0.0.1:9091", "shop")


def test_arguments_win_over_the_environment():
    env = {"PROMETHEUS_URL": "https://prom.example", "PROMETHEUS_TENANT": "env"}
    s = Settings.from_env(env, tenant="arg", timeout=5, username=None)
    assert (s.tenant, s.timeout, s.username) == ("arg", 5, None)


def test_env_credentials_are_not_sent_to_another_explicit_url():
    env = {"PROMETHEUS_URL": "https://prom.example", "PROMETHEUS_PASSWORD": "hunter2",
           "PROMETHEUS_USERNAME": "bob", "PROMETHEUS_BEARER_TOKEN": "tok-3141"}  # fmt: skip
    other = Settings.from_env(env, url="https://elsewhere.example")
    assert (other.username, other.password, other.bearer_token) == (None, None, None)
    same = Settings.from_env(env, url="https://prom.example/")
    assert (same.username, same.password) == ("bob", "hunter2")


def test_unknown_settings_are_refused_with_the_valid_names():
    with pytest.raises(ConfigError, match=r"unknown setting.*'timout'.*valid settings: url"):
        Settings.from_env({"PROMETHEUS_URL": "http://127.0.0.1:9090"}, timout=5)


def test_url_resolution_order(tmp_path):
    demo = _demo_state(tmp_path)
    assert resolve_url("http://explicit:1", demo | {"PROMETHEUS_URL": "http://env:2"}) == (
        "http://explicit:1"
    )
    assert resolve_url(None, demo | {"PROMETHEUS_URL": "http://env:2"}) == "http://env:2"
    assert resolve_url(None, demo) == "http://127.0.0.1:9999"


def test_without_any_url_the_error_says_what_to_do(tmp_path):
    with pytest.raises(ConfigError) as info:
        resolve_url(None, {"OBSKIT_CACHE_DIR": str(tmp_path)})
    assert "obskit demo start" in str(info.value)
    assert "PROMETHEUS_URL" in str(info.value)


def test_a_bad_prometheus_url_variable_is_named():
    with pytest.raises(ConfigError, match="PROMETHEUS_URL must be an http"):
        resolve_url(None, {"PROMETHEUS_URL": "prom.example:9090"})


def test_redact_url():
    assert redact_url("https://bob:hunter2@prom.example/x") == "https://prom.example/x"
    assert redact_url("http://127.0.0.1:9090") == "http://127.0.0.1:9090"


def test_credentials_in_the_url_win_over_the_environment():
    settings = Settings.from_env(
        url="http://bob:from-url@127.0.0.1:9090",
        environ={"PROMETHEUS_USERNAME": "alice", "PROMETHEUS_PASSWORD": "from-env"},
    )
    assert (settings.username, settings.password) == ("bob", "from-url")
