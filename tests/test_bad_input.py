"""Bad input: each case raises one exact error class with a message that says what to do.

Queries run against real Prometheus servers: the session's demo, and a small one holding
label values with quotes, unicode and newlines, and NaN/±Inf samples.
"""

from __future__ import annotations

import json
import math
import shutil
import time as _time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from test_faults import LocalPrometheus

from obskit import cli, dashboards
from obskit.client import Client, connect
from obskit.errors import ConfigError, DashboardError, QuerySyntaxError, TooLargeError
from obskit.promql import selector

ROOT = Path(__file__).resolve().parent.parent
END = datetime(2026, 2, 14, 18, tzinfo=UTC)
HOUR = timedelta(hours=1)
WEIRD = [
    'say "hi"',
    "café ☎ 日本語 🚀",
    "two\nlines",
    "back\\slash",
    'all of "\\\n" at once',
    "regex chars .*+?()[]{}|^$",
]
SPECIAL = {"nan": "NaN", "pos": "+Inf", "neg": "-Inf"}


def _escape(value: str) -> str:
    """An OpenMetrics label value: backslash, quote and newline escaped."""
    return value.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")


def _openmetrics() -> str:
    stamp = int(END.timestamp())
    times = range(stamp - 3600, stamp + 1, 60)
    lines = ["# TYPE obskit_weird gauge"]
    for i, value in enumerate(WEIRD):
        lines += [f'obskit_weird{{v="{_escape(value)}"}} {i} {t}' for t in times]
    lines.append("# TYPE obskit_special gauge")
    for kind, text in SPECIAL.items():
        lines += [f'obskit_special{{kind="{kind}"}} {text} {t}' for t in times]
    return "\n".join([*lines, "# EOF"]) + "\n"


@pytest.fixture(scope="module")
def odd(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalPrometheus]:
    prom = LocalPrometheus(tmp_path_factory.mktemp("odd-labels"), openmetrics=_openmetrics())
    yield prom.start()
    prom.stop()


@pytest.fixture
def counted(demo) -> Iterator[tuple[Client, list[str]]]:
    """A client on the demo and the paths of the requests it sent."""
    client = connect(demo.url)
    sent: list[str] = []
    client.session.hooks["response"].append(lambda r, *a, **k: sent.append(r.request.path_url))
    yield client, sent
    client.close()


# -- the query text ----------------------------------------------------------------------------


@pytest.mark.parametrize("expr", ["", "   ", "\n\t"])
def test_an_empty_query_is_refused_before_sending(counted, expr):
    client, sent = counted
    with pytest.raises(QuerySyntaxError, match="the query is empty; pass a PromQL expression"):
        client.query(expr, time=END)
    with pytest.raises(QuerySyntaxError, match="the query is empty"):
        client.query_range(expr, END - HOUR, END, "1m")
    assert sent == []


@pytest.mark.parametrize("expr", [None, 42, ["up"]])
def test_a_query_that_is_not_a_string_is_a_config_error(counted, expr):
    client, sent = counted
    with pytest.raises(ConfigError, match="the query must be a PromQL string like"):
        client.query(expr, time=END)
    assert sent == []


@pytest.mark.parametrize(
    ("expr", "says"),
    [
        ("sum(rate(voicebot_calls_total[5m])", "1:35: parse error: unclosed left parenthesis"),
        ('voicebot_calls_total{outcome=}', '1:30: parse error: unexpected "}" in label matching'),
        ("voicebot_calls_total +", "parse error: unexpected end of input"),
        ("rat(voicebot_calls_total[5m])", 'unknown function with name "rat"'),
        ("sum(voicebot_calls_total[5m])",
         "1:5: parse error: expected type instant vector in aggregation expression, got range vector"),
        ("rate(voicebot_calls_total)",
         'expected type range vector in call to function "rate", got instant vector'),
    ],
    ids=["unclosed", "matcher", "dangling", "unknown-function", "range-in-sum", "instant-in-rate"],
)  # fmt: skip
def test_prometheus_parse_errors_name_the_query_and_the_position(demo_client, expr, says):
    with pytest.raises(QuerySyntaxError) as info:
        demo_client.query(expr, time=END)
    message = str(info.value)
    assert says in message
    assert repr(expr) in message and "Fix the expression; obskit.validate(expr)" in message
    assert (info.value.status, info.value.error_type, info.value.query) == (400, "bad_data", expr)


def test_a_range_vector_as_a_range_query_says_which_types_are_allowed(demo_client):
    with pytest.raises(QuerySyntaxError, match='invalid expression type "range vector" for range '
                       "query, must be Scalar or instant Vector"):  # fmt: skip
        demo_client.query_range("voicebot_calls_total[5m]", END - HOUR, END, "1m")


# -- step and time range ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    "step", [0, "0s", -60, "-5m", "5 minutes", "fast", math.nan, math.inf, True, timedelta(0)]
)
def test_a_bad_step_is_refused_before_sending(counted, step):
    client, sent = counted
    with pytest.raises(ConfigError) as info:
        client.query_range("up", END - HOUR, END, step)
    assert "step must be a positive duration like 30s, 5m, 1h30m or 1d; got" in str(info.value)
    assert sent == []


def test_start_after_end_is_refused_before_sending(counted):
    client, sent = counted
    with pytest.raises(ConfigError) as info:
        client.query_range("up", END, END - HOUR, "1m")
    assert str(info.value) == (
        "start 2026-02-14T18:00:00+00:00 is after end 2026-02-14T17:00:00+00:00; "
        "pass start before end, e.g. start='-6h', end='now'"
    )
    assert sent == []


@pytest.mark.parametrize("what", ["yesterday", "2026-02-30T00:00:00Z", "-6 hours", object()])
def test_a_bad_time_shows_the_accepted_forms(demo_client, what):
    with pytest.raises(ConfigError, match="time must be a datetime, an ISO string like "):
        demo_client.query("up", time=what)


def test_naive_datetimes_are_read_as_utc_whatever_the_local_zone(demo_client, monkeypatch):
    monkeypatch.setenv("TZ", "America/New_York")
    _time.tzset()
    try:
        expr = "sum(voicebot_active_calls)"
        aware = demo_client.query(expr, time=END)
        naive = demo_client.query(expr, time=END.replace(tzinfo=None))
        text = demo_client.query(expr, time="2026-02-14T18:00:00")  # no offset: UTC too
        assert naive.equals(aware) and text.equals(aware)
        assert naive.attrs["params"] == {"time": "2026-02-14T18:00:00+00:00"}
        ranged = demo_client.query_range(expr, datetime(2026, 2, 14, 17), datetime(2026, 2, 14, 18),
                                         "1m")  # fmt: skip
        assert ranged["timestamp"].iloc[-1] == END
    finally:
        monkeypatch.delenv("TZ")
        _time.tzset()


def test_a_range_far_past_the_points_cap_is_refused_before_sending(counted):
    client, sent = counted
    with pytest.raises(TooLargeError) as info:
        client.query_range("sum(voicebot_active_calls)", END - timedelta(days=1), END, "50ms")
    message = str(info.value)
    assert "1,728,001 points per series" in message and "limit of 1,000,000" in message
    assert "use a larger step, e.g. step='2m'" in message
    assert sent == []


def test_a_range_past_the_points_cap_is_split_and_complete(counted):
    client, sent = counted
    df = client.query_range("sum(voicebot_active_calls)", END - timedelta(days=1), END, "1s")
    assert len(df) == 86_401 and df["timestamp"].is_unique and df.attrs["params"]["chunks"] == 8
    assert sum(path.startswith("/api/v1/query_range") for path in sent) == 8


# -- label values and special floats round-trip ------------------------------------------------------


@pytest.mark.parametrize("value", WEIRD, ids=range(len(WEIRD)))
def test_label_values_round_trip_through_selector(odd, value):
    with connect(odd.url) as client:
        df = client.query(selector("obskit_weird", {"v": value}), time=END)
        assert df["v"].tolist() == [value] and df["value"].tolist() == [WEIRD.index(value)]
        others = client.query(selector("obskit_weird", {"v": ("!=", value)}), time=END)
        assert sorted(others["v"]) == sorted(set(WEIRD) - {value})
        ranged = client.query_range(selector("obskit_weird", {"v": value}), END - HOUR, END, "5m")
        assert set(ranged["v"]) == {value} and len(ranged) == 13


def test_a_list_of_odd_values_matches_exactly_those(odd):
    picked = [WEIRD[0], WEIRD[2], WEIRD[5]]  # quotes, a newline, regex characters
    with connect(odd.url) as client:
        df = client.query(selector("obskit_weird", {"v": picked}), time=END)
        assert sorted(df["v"]) == sorted(picked)
        assert sorted(client.label_values("v", "obskit_weird")["v"]) == sorted(WEIRD)


def test_nan_and_infinities_come_back_as_floats(odd):
    with connect(odd.url) as client:
        df = client.query("obskit_special", time=END).set_index("kind")["value"]
        assert math.isnan(df["nan"]) and df["pos"] == math.inf and df["neg"] == -math.inf
        ranged = client.query_range("obskit_special", END - HOUR, END, "10m")
        assert str(ranged["value"].dtype) == "float64" and len(ranged) == 3 * 7
        computed = client.query("vector(0) / 0 or label_replace(vector(1)/0, 'x', 'y', '', '')",
                                time=END)  # fmt: skip
        assert sorted(computed["value"].map(repr)) == ["inf", "nan"]


# -- results over the series budget --------------------------------------------------------------


def test_a_long_range_over_the_series_budget_is_refused_before_downloading(demo):
    with connect(demo.url, series_budget=3) as client:
        sent: list[str] = []
        client.session.hooks["response"].append(lambda r, *a, **k: sent.append(r.request.path_url))
        with pytest.raises(TooLargeError) as info:
            client.query_range("voicebot_calls_total", END - 2 * HOUR, END, "1s")  # 7,201 points
    message = str(info.value)
    assert "series at 2026-02-14T18:00:00+00:00, over series_budget=3" in message
    assert "counted before downloading the range" in message
    assert "aggregate with sum by (...)" in message  # what to do
    assert [p.split("?")[0] for p in sent] == ["/api/v1/query"], "only the count() was asked"


def test_short_ranges_and_instants_over_the_budget_are_refused_after_the_answer(demo):
    with connect(demo.url, series_budget=3) as client:
        with pytest.raises(TooLargeError, match=r"the result has \d+ series, over series_budget=3"):
            client.query_range("voicebot_calls_total", END - HOUR, END, "1m")
        with pytest.raises(TooLargeError, match="over series_budget=3"):
            client.query("voicebot_calls_total", time=END)
        # Not series at all: the count() pre-check does not apply and nothing is refused.
        assert len(client.query_range("scalar(sum(voicebot_active_calls))", END - 2 * HOUR, END,
                                      "1s")) == 7201  # fmt: skip


# -- the Prometheus URL ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("url", "why"),
    [
        ("localhost:9090", "scheme must be http or https"),
        ("prometheus.example.com", "scheme must be http or https"),
        ("http://", "no host"),
        ("http://127.0.0.1:99999", "Port out of range"),
        ("http://prom host:9090", "contains spaces"),
        ("http://127.0.0.1:9090/?x=1", "no ?query or #fragment"),
    ],
)
def test_an_invalid_prometheus_url_says_what_a_valid_one_looks_like(monkeypatch, url, why):
    monkeypatch.setenv("PROMETHEUS_URL", url)
    with pytest.raises(ConfigError) as info:
        connect()
    message = str(info.value)
    assert message.startswith("PROMETHEUS_URL must be an http(s) URL like http://127.0.0.1:9090;")
    assert why in message


# -- dashboards edited by hand ---------------------------------------------------------------------


@pytest.fixture
def grafana_copy(tmp_path: Path) -> Path:
    target = tmp_path / "grafana"
    shutil.copytree(ROOT / "grafana", target)
    return target


def _obskit(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str]:
    code = cli.main(list(argv))
    out = capsys.readouterr()
    return code, out.out + out.err


CORRUPTIONS: dict[str, Any] = {
    "truncated": lambda text: text[: len(text) // 2],
    "not-json": lambda text: "<<<<<<< HEAD\n" + text,
    "a-list": lambda text: "[1, 2, 3]\n",
    "panels-a-string": lambda text: json.dumps({**json.loads(text), "panels": "oops"}),
    "targets-a-number": lambda text: json.dumps(
        {**json.loads(text), "panels": [{**json.loads(text)["panels"][0], "targets": 5}]}
    ),
    "templating-a-number": lambda text: json.dumps({**json.loads(text), "templating": 3}),
}


@pytest.mark.parametrize("how", list(CORRUPTIONS))
def test_hand_corrupted_json_is_named_by_check_and_repaired_by_build(grafana_copy, capsys, how):
    path = grafana_copy / "dashboards" / "system-overview.json"
    path.write_text(CORRUPTIONS[how](path.read_text()))
    code, said = _obskit(capsys, "dashboards", "check", "--offline",
                         "--grafana-dir", str(grafana_copy))  # fmt: skip
    assert code == 1 and "Traceback" not in said
    mine = [line for line in said.splitlines() if "system-overview.json" in line]
    assert mine and all(line.startswith(str(path)) for line in mine)
    assert any("run `obskit dashboards build`" in line for line in mine), said
    assert not any("application-metrics" in line for line in said.splitlines())

    code, said = _obskit(capsys, "dashboards", "build", "--grafana-dir", str(grafana_copy))
    assert code == 0 and said.strip() == f"wrote {path}"
    assert dashboards.check(grafana_dir=grafana_copy, live=False) == []


def test_a_syntax_error_in_a_source_names_the_file_and_line(grafana_copy, capsys):
    source = grafana_copy / "dashboards" / "system-overview.dashboard.py"
    lines = source.read_text().splitlines()
    lines[11] += " ("  # line 12 opens a parenthesis it never closes
    source.write_text("\n".join(lines) + "\n")
    with pytest.raises(DashboardError) as info:
        dashboards.load(source)
    assert info.value.path == source.resolve()
    message = str(info.value)
    assert message.startswith(f"{source.resolve()}: line ")
    assert "SyntaxError" in message and "fix it, then run `obskit dashboards build`" in message

    code, said = _obskit(capsys, "dashboards", "check", "--offline",
                         "--grafana-dir", str(grafana_copy))  # fmt: skip
    assert code == 1 and f"{source}: line " in said and said.count(str(source.name)) == 1
    code, said = _obskit(capsys, "dashboards", "build", "--grafana-dir", str(grafana_copy))
    assert code == 1 and said.startswith(f"obskit: error: {source.resolve()}: line ")


def test_an_error_raised_by_a_source_names_its_line(grafana_copy):
    source = grafana_copy / "dashboards" / "system-overview.dashboard.py"
    source.write_text(source.read_text() + "\nundefined_name + 1\n")
    count = len(source.read_text().splitlines())
    with pytest.raises(DashboardError, match=f"line {count}: .*NameError: name 'undefined_name'"):
        dashboards.load(source)


def test_a_broken_panels_yaml_names_that_file_and_line(grafana_copy, capsys):
    sidecar = grafana_copy / "dashboards" / "business-dashboard.panels.yaml"
    sidecar.write_text("panels:\n  - title: [unclosed\n")
    code, said = _obskit(capsys, "dashboards", "check", "--offline",
                         "--grafana-dir", str(grafana_copy))  # fmt: skip
    assert code == 1
    (line,) = [line for line in said.splitlines() if "panels.yaml" in line]
    assert line.startswith(f"{sidecar.resolve()}: is not valid YAML (line 3, column 1: ")
    assert line.endswith("fix the entry or delete the file, then run `obskit dashboards build`")
    sidecar.write_text("panels:\n  - title: only a title\n")
    with pytest.raises(DashboardError, match="entry 1 lacks id, kind, unit, legend"):
        dashboards.render(grafana_copy / "dashboards" / "business-dashboard.dashboard.py")
