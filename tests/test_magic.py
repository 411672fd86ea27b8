"""``%%promql`` in a real IPython kernel on the demo Prometheus: results, findings, completion."""

from __future__ import annotations

import os
import time
from collections.abc import Iterator
from typing import Any

import pytest
from jupyter_client.manager import KernelManager

from obskit.errors import ConfigError
from obskit.magic import parse_options
from obskit.magic._complete import Vocabulary, complete, place, promql_before_cursor

# -- pure: options, where the cursor stands ---------------------------------------------------------


@pytest.mark.parametrize(
    ("line", "message"),
    [
        ("--bogus", "unrecognized arguments: --bogus"),
        ("--range 6h --start -1h", "not both"),
        ("--range soon", "--range"),
        ("--range 0s", "positive duration"),
        ("--step -1m", "--step"),
        ("--panel business-dashboard", "--panel needs --title"),
        ("-o 1df", "Python name"),
        ("--var provider", "name=value"),
        ('--title "unclosed', "cannot read the options"),
    ],
)
def test_bad_options_are_one_clear_error(line: str, message: str) -> None:
    with pytest.raises(ConfigError, match=message) as err:
        parse_options(line)
    assert "\n" not in str(err.value)


def test_options() -> None:
    o = parse_options("--range 6h --step 1m -o df --var provider=deepgram,google --var env=prod")
    assert (o.start, o.end, o.step, o.out, o.show) == ("-6h", "now", "1m", "df", "plot")
    assert o.variables == {"provider": ["deepgram", "google"], "env": "prod"}
    assert parse_options("--instant").show == "table"
    assert parse_options("--instant --no-plot").show == "none"


@pytest.mark.parametrize(
    ("code", "promql"),
    [
        ("%%promql --range 6h\nsum by (mo", "sum by (mo"),
        ('df = client.query_range("voicebot_llm_l', "voicebot_llm_l"),
        ("obskit.validate('rate(x{job=\"a", 'rate(x{job="a'),
        ('promql.quantile(0.95, "voicebot_llm_l', "voicebot_llm_l"),
        ('client.query("done") + client.query(', None),
        ('x = "voicebot_llm_l', None),
        ("%promql sum(rate(voicebot_calls_t", "sum(rate(voicebot_calls_t"),
    ],
)
def test_promql_before_cursor(code: str, promql: str | None) -> None:
    assert promql_before_cursor(code, len(code)) == promql


@pytest.mark.parametrize(
    ("text", "kind", "prefix"),
    [
        ("voicebot_llm_l", "metric", "voicebot_llm_l"),
        ("sum by (mo", "label", "mo"),
        ("sum without (le, mo", "label", "mo"),
        ("rate(voicebot_calls_total{out", "label", "out"),
        ('rate(voicebot_calls_total{outcome="bot', "value", "bot"),
        ('x{a="{", b', "label", "b"),
        ("rate(x[$__rate", "macro", "__rate"),
    ],
)
def test_place(text: str, kind: str, prefix: str) -> None:
    found = place(text)
    assert (found.kind, found.prefix) == (kind, prefix)


def test_offline_completion_uses_the_catalog() -> None:
    offline = Vocabulary(None)
    assert ("model", "label") in complete("sum by (mo", offline)[1]
    values = complete('voicebot_llm_latency_seconds_bucket{model="gpt', offline)[1]
    assert ("gpt-4o-mini", "label value") in values
    assert ("$__rate_interval"[1:], "macro") in complete("rate(x[$__ra", offline)[1]


# -- a real kernel ----------------------------------------------------------------------------------


class Kernel:
    """One IPython kernel whose outputs are collected per cell."""

    def __init__(self, manager: KernelManager) -> None:
        self.manager = manager
        self.client = manager.client()
        self.client.start_channels()
        self.client.wait_for_ready(timeout=60)

    def run(self, code: str) -> list[dict[str, Any]]:
        outputs: list[dict[str, Any]] = []

        def keep(msg: dict[str, Any]) -> None:
            if msg["msg_type"] in ("stream", "display_data", "execute_result", "error"):
                outputs.append({"type": msg["msg_type"], **msg["content"]})

        reply = self.client.execute_interactive(code, output_hook=keep, timeout=120)
        outputs.append({"type": "reply", "status": reply["content"]["status"]})
        return outputs

    def complete(self, code: str) -> dict[str, Any]:
        msg_id = self.client.complete(code, len(code))
        reply = self.client.get_shell_msg(timeout=30)
        assert reply["parent_header"]["msg_id"] == msg_id
        return reply["content"]


@pytest.fixture(scope="module")
def kernel(demo) -> Iterator[Kernel]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("OBSKIT_", "PROMETHEUS_"))}
    env.update(PROMETHEUS_URL=demo.url, OBSKIT_NOW=demo.state()["end"])
    manager = KernelManager(kernel_name="python3")
    manager.start_kernel(env=env)
    k = Kernel(manager)
    try:
        assert _status(k.run("%load_ext obskit")) == "ok"
        yield k
    finally:
        k.client.stop_channels()
        manager.shutdown_kernel(now=True)


def _status(outputs: list[dict[str, Any]]) -> str:
    return outputs[-1]["status"]


def _text(outputs: list[dict[str, Any]], stream: str = "stderr") -> str:
    return "".join(o.get("text", "") for o in outputs if o.get("name") == stream)


def _mimes(outputs: list[dict[str, Any]]) -> list[str]:
    return [m for o in outputs for m in o.get("data", {})]


RANGE_QUERY = "sum by (outcome) (rate(voicebot_calls_total[$__rate_interval]))"


@pytest.mark.prometheus
def test_range_cell_plots_and_stores_the_frame(kernel: Kernel) -> None:
    out = kernel.run(f"%%promql --range 6h -o calls\n{RANGE_QUERY}")
    assert _status(out) == "ok" and "application/vnd.plotly.v1+json" in _mimes(out), out
    check = kernel.run(
        "import obskit\n"
        f"reference = obskit.connect().query_range({RANGE_QUERY!r}, '-6h', 'now')\n"
        "print(len(calls) > 0, reference.equals(calls), calls.attrs['query'] == reference.attrs['query'])"
    )
    assert _text(check, "stdout").strip() == "True True True", check


@pytest.mark.prometheus
def test_instant_cell_shows_a_table(kernel: Kernel) -> None:
    out = kernel.run("%%promql --instant -o now_calls\nsum by (outcome) (voicebot_calls_total)")
    assert _status(out) == "ok" and "text/html" in _mimes(out), out
    assert "bot_resolved" in str(out)


@pytest.mark.prometheus
def test_findings_are_shown_above_the_result(kernel: Kernel) -> None:
    out = kernel.run("%%promql --range 1h\nrate(voicebot_active_calls[5m])")
    kinds = [o["type"] for o in out]
    assert "rate-on-gauge" in str(out[0]) and "deriv(voicebot_active_calls[5m])" in str(out[0])
    assert kinds.count("display_data") == 2  # the findings, then the plot


@pytest.mark.prometheus
@pytest.mark.parametrize(
    ("cell", "message"),
    [
        ("%%promql\nsum(rate(voicebot_calls_total[5m])", "unclosed left parenthesis"),
        ("%%promql --bogus\nup", "unrecognized arguments: --bogus"),
        ("%%promql\n   \n", "the cell has no query"),
        ("%%promql --client nowhere\nup", "--client nowhere must name an obskit client"),
    ],
)
def test_bad_input_is_one_line_without_traceback(kernel: Kernel, cell: str, message: str) -> None:
    out = kernel.run(cell)
    err = _text(out)
    assert message in err and "Traceback" not in err, out
    assert _status(out) == "ok" and not any(o["type"] == "error" for o in out)


@pytest.mark.prometheus
def test_unreachable_server_is_one_line(kernel: Kernel) -> None:
    kernel.run("import obskit\nfar = obskit.connect('http://127.0.0.1:9', retries=0, timeout=2)")
    out = kernel.run("%%promql --client far\nup")
    err = _text(out)
    assert err.startswith("obskit: ") and err.count("\n") == 1 and "127.0.0.1:9" in err, out
    assert "Traceback" not in err


@pytest.mark.prometheus
@pytest.mark.parametrize(
    ("code", "expected"),
    [
        ("%%promql --range 6h\nvoicebot_llm_l", "voicebot_llm_latency_seconds_bucket"),
        ("%%promql\nsum by (mo", "model"),
        ('%%promql\nrate(voicebot_llm_latency_seconds_bucket{model="', "gpt-4o-mini"),
        (
            'calls = obskit.connect().query_range("voicebot_llm_l',
            "voicebot_llm_latency_seconds_bucket",
        ),
        ('obskit.validate("sum by (mo', "model"),
    ],
)
def test_completion_from_the_live_server_within_200_ms_warm(
    kernel: Kernel, code: str, expected: str
) -> None:
    first = kernel.complete(code)
    assert expected in first["matches"], first["matches"][:20]
    start = time.perf_counter()
    warm = kernel.complete(code)
    elapsed = time.perf_counter() - start
    assert expected in warm["matches"]
    assert elapsed < 0.2, f"warm completion took {elapsed * 1000:.0f} ms"


@pytest.mark.prometheus
def test_completion_offers_live_labels_the_catalog_does_not_know(kernel: Kernel) -> None:
    found = kernel.complete("%%promql\nvoicebot_calls_total{j")
    assert "job" in found["matches"], found["matches"]


@pytest.mark.prometheus
def test_line_magic_runs_a_query(kernel: Kernel) -> None:
    out = kernel.run("%promql --instant --no-plot -o total -- sum(voicebot_calls_total)")
    assert _status(out) == "ok", out
    check = kernel.run("print(len(total), total.columns.tolist())")
    assert _text(check, "stdout").strip() == "1 ['timestamp', 'value']", check
