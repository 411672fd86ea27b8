"""obskit.client._link: the encoding and concurrency chosen per server, and that they are applied."""

from __future__ import annotations

from datetime import timedelta

import pytest

from obskit.client import Client, _link
from obskit.config import Settings
from obskit.demo import PINNED_END
from obskit.errors import ConfigError

# About 2 MB of JSON from the demo: big enough to be measured (>= PROBE_BYTES).
BIG = "rate(voicebot_llm_latency_seconds_bucket[5m])"


@pytest.mark.parametrize(
    ("identity", "gzip", "chosen"),
    [
        (None, None, "identity"),  # nothing measured yet: identity measures the link itself
        (None, 5e6, "identity"),
        (120e6, None, "identity"),  # a fast link: Prometheus' one-core gzip cannot beat it
        (_link.TRY_GZIP_BELOW, None, "identity"),
        (_link.TRY_GZIP_BELOW - 1, None, "gzip"),  # slow enough to try gzip
        (2.5e6, 9e6, "gzip"),  # 20 Mbit/s: gzip delivers more JSON per second
        (12e6, 16e6, "gzip"),
        (30e6, 16e6, "identity"),  # tried, and slower: back to identity
        (10e6, 10e6, "identity"),  # a tie keeps the cheaper one for the server
    ],
)
def test_choose_encoding(identity, gzip, chosen):
    assert _link.choose_encoding(identity, gzip) == chosen


@pytest.mark.parametrize(
    ("max_workers", "loopback", "cores", "chosen"),
    [
        (4, True, 2, 2),  # loopback: one per core, the server shares them
        (4, True, 8, 4),
        (1, True, 8, 1),
        (4, False, 1, _link.REMOTE_CONCURRENCY),  # the server's cores are not ours
        (64, False, 2, _link.REMOTE_CONCURRENCY),
        (1, False, 8, 1),  # never more than max_workers
    ],
)
def test_choose_concurrency(max_workers, loopback, cores, chosen):
    assert _link.choose_concurrency(max_workers, loopback=loopback, cores=cores) == chosen


def test_fixed_concurrency_is_used_exactly():
    assert Client(Settings("http://127.0.0.1:9", concurrency=3, max_workers=1)).workers == 3
    assert Client(Settings("https://prom.example", concurrency=1)).workers == 1
    remote = Client(Settings("https://prom.example", max_workers=64))
    assert remote.workers == _link.REMOTE_CONCURRENCY


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"encoding": "br"}, "encoding must be one of auto, identity, gzip"),
        ({"encoding": None}, "encoding must be one of"),
        ({"concurrency": 0}, "concurrency must be a whole number from 1 to 64"),
        ({"concurrency": 2.5}, "e.g. concurrency=2"),
    ],
)
def test_settings_refuse_bad_link_settings(kwargs, message):
    with pytest.raises(ConfigError, match=message):
        Settings("http://127.0.0.1:9090", **kwargs)


def test_link_settings_from_the_environment():
    env = {"PROMETHEUS_URL": "http://10.0.0.5:9090"}
    assert Settings.from_env(env).encoding == "auto"
    assert Settings.from_env(env).concurrency is None
    s = Settings.from_env({**env, "OBSKIT_ENCODING": "GZIP", "OBSKIT_CONCURRENCY": "3"})
    assert (s.encoding, s.concurrency) == ("gzip", 3)
    assert Settings.from_env({**env, "OBSKIT_CONCURRENCY": "auto"}).concurrency is None
    assert Settings.from_env({**env, "OBSKIT_ENCODING": "gzip"}, encoding="identity").encoding == (
        "identity"
    )  # arguments win
    with pytest.raises(ConfigError, match="OBSKIT_CONCURRENCY must be a whole number"):
        Settings.from_env({**env, "OBSKIT_CONCURRENCY": "many"})


def test_first_requests_ask_for_identity_everywhere_unless_fixed():
    for url in ("http://127.0.0.1:9090", "https://prom.example", "http://10.0.0.5:9090"):
        assert Client(Settings(url)).session.headers["Accept-Encoding"] == "identity"
    fixed = Client(Settings("http://127.0.0.1:9090", encoding="gzip"))
    assert fixed.session.headers["Accept-Encoding"] == "gzip"


def test_a_slow_identity_link_switches_to_gzip_and_keeps_the_faster():
    client = Client(Settings("https://prom.example"))
    link = _link.link_of(client.session)
    assert link is not None
    link.record("identity", 2.5e6)  # what a 20 Mbit/s link delivers
    assert client.session.headers["Accept-Encoding"] == "gzip"
    link.record("gzip", 9e6)
    assert client.session.headers["Accept-Encoding"] == "gzip"
    for _ in range(_link.KEPT):  # the link got faster than gzip can compress
        link.record("identity", 60e6)
    assert client.session.headers["Accept-Encoding"] == "identity"


def test_loopback_stays_identity_whatever_is_measured():
    client = Client(Settings("http://127.0.0.1:9090"))
    link = _link.link_of(client.session)
    assert link is not None
    link.record("identity", 1e6)
    assert client.session.headers["Accept-Encoding"] == "identity"


# -- against the real demo Prometheus ------------------------------------------------------


def _encodings(client: Client) -> list[tuple[str, str]]:
    """(asked, answered) Accept-Encoding / Content-Encoding of every response from now on."""
    seen: list[tuple[str, str]] = []
    client.session.hooks["response"].append(
        lambda r, *a, **k: seen.append(
            (r.request.headers.get("Accept-Encoding", ""), r.headers.get("Content-Encoding", ""))
        )
    )
    return seen


def _big(client: Client):
    return client.query_range(BIG, PINNED_END - timedelta(days=1), PINNED_END, "60s")


@pytest.mark.parametrize("encoding", ["identity", "gzip"])
def test_a_fixed_encoding_is_what_the_server_sends(demo, encoding):
    with Client(Settings(demo.url, encoding=encoding)) as client:
        seen = _encodings(client)
        frame = _big(client)
    assert len(frame) > 0
    answered = "gzip" if encoding == "gzip" else ""
    assert seen and set(seen) == {(encoding, answered)}


def test_loopback_default_gets_identity_from_the_server(demo):
    with Client(Settings(demo.url)) as client:
        seen = _encodings(client)
        _big(client)
    assert seen and all(answered == "" for _, answered in seen)


def test_big_answers_are_measured_and_small_ones_not(demo):
    with Client(Settings(demo.url)) as client:
        link = _link.link_of(client.session)
        assert link is not None
        client.query("up", time=PINNED_END)
        assert link.rates() == {"identity": None, "gzip": None}
        _big(client)
        identity = link.rates()["identity"]
        assert identity is not None and identity > 0
        assert link.rates()["gzip"] is None


def test_measured_choice_is_applied_to_the_next_requests(demo):
    """As against another host: a slow identity measure makes the next requests gzip."""
    with Client(Settings(demo.url)) as client:
        link = _link.link_of(client.session)
        assert link is not None
        link.loopback = False  # this real server, judged as if it were remote
        link.record("identity", 1e6)  # a slow link
        seen = _encodings(client)
        frame = _big(client)
        assert len(frame) > 0
        assert seen and set(seen) == {("gzip", "gzip")}
        rates = link.rates()
        assert rates["gzip"] is not None  # the gzip answers were measured too
        faster = "gzip" if rates["gzip"] > rates["identity"] else "identity"
        assert client.session.headers["Accept-Encoding"] == faster


def test_fixed_concurrency_sends_the_pieces(demo):
    """Serial and concurrent fetches of a split range give the same frame."""
    start = PINNED_END - timedelta(days=7)
    with Client(Settings(demo.url, concurrency=1)) as serial:
        one = serial.query_range(BIG, start, PINNED_END, "60s")
    with Client(Settings(demo.url, concurrency=3)) as concurrent:
        assert concurrent.workers == 3
        three = concurrent.query_range(BIG, start, PINNED_END, "60s")
    assert one.attrs["params"]["chunks"] > 1
    assert one.equals(three)


def test_an_unmeasured_remote_link_is_probed_by_a_small_first_piece_alone(demo, monkeypatch):
    """A fresh client's first big answer from another host starts with a probe piece.

    The probe (about PROBE_SAMPLES samples, identity) is fetched alone and timed before
    the other pieces are asked for, so they get the encoding the link wants; the frame
    is the one a single serial fetch gives.
    """
    start = PINNED_END - timedelta(days=7)
    with Client(Settings(demo.url, concurrency=1)) as serial:
        expected = serial.query_range(BIG, start, PINNED_END, "30s")
    with Client(Settings(demo.url, concurrency=2)) as client:
        link = _link.link_of(client.session)
        assert link is not None
        link.loopback = False  # this real server, judged as if it were remote
        assert _link.needs_probe(client.session)
        events: list[tuple[str, float, float]] = []
        call = client._http.call

        def traced(kind, params, *args, **kwargs):
            if kind != "query_range":
                return call(kind, params, *args, **kwargs)
            events.append(("start", params["start"], params["end"]))
            try:
                return call(kind, params, *args, **kwargs)
            finally:
                events.append(("end", params["start"], params["end"]))

        monkeypatch.setattr(client._http, "call", traced)
        frame = client.query_range(BIG, start, PINNED_END, "30s")
        assert not _link.needs_probe(client.session)  # the probe measured the link
    assert frame.equals(expected)
    pieces = [e for e in events if e[0] == "start"]
    assert len(pieces) == frame.attrs["params"]["chunks"] > 2
    # the first piece ends before any other starts; the rest follow two at a time
    assert events[1] == ("end", *events[0][1:])
    series = len(expected.attrs.get("series", [])) or expected.drop(
        columns=["timestamp", "value"]).drop_duplicates().shape[0]  # fmt: skip
    head = -(-_link.PROBE_SAMPLES // series)  # points per series in the probe
    _, first, last = pieces[0]
    assert round((last - first) / 30) + 1 == head
    assert head * series < len(frame) / 50  # a sliver of the answer


def test_fixed_encoding_or_loopback_is_never_probed(demo):
    for settings in (Settings(demo.url), Settings("http://10.0.0.5:9090", encoding="identity")):
        with Client(settings) as client:
            assert not _link.needs_probe(client.session)


def test_a_slow_link_stays_unsettled_until_gzip_is_timed_too():
    """Two probes at most: identity times the link; where it is slow, gzip the server."""
    client = Client(Settings("http://10.0.0.5:9090"))
    link = _link.link_of(client.session)
    assert link is not None and _link.needs_probe(client.session)
    link.record("identity", 12e6)  # 100 Mbit/s: slow enough that gzip may win
    assert _link.needs_probe(client.session)
    assert client.session.headers["Accept-Encoding"] == "gzip"  # the second probe's
    link.record("gzip", 8e6)  # the server compresses slower than the link carries
    assert not _link.needs_probe(client.session)
    assert client.session.headers["Accept-Encoding"] == "identity"
    fast = Client(Settings("http://10.0.0.6:9090"))
    fast_link = _link.link_of(fast.session)
    assert fast_link is not None
    fast_link.record("identity", 120e6)  # 1 Gbit/s: gzip cannot win, no second probe
    assert not _link.needs_probe(fast.session)
