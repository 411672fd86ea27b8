"""Catalogs are files the user owns: load, use, import from a live Prometheus and a registry."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram

import obskit
from obskit import catalog
from obskit.catalog_import import from_client, from_registry
from obskit.errors import ConfigError

#: Queries whose findings depend on what the catalog knows (types, labels, namespace).
QUERIES = [
    "rate(voicebot_active_calls[5m])",
    "sum(rate(voicebot_calls_total[5m]))",
    "voicebot_calls_total",
    "sum by (outcome) (rate(voicebot_calls_total[5m]))",
    "histogram_quantile(0.95, sum by (model) (rate(voicebot_llm_latency_seconds_bucket[5m])))",
    "histogram_quantile(0.95, rate(voicebot_llm_latency_seconds_sum[5m]))",
    "deriv(voicebot_calls_total[5m])",
    "rate(voicebot_calls_totl[5m])",
    'sum(rate(voicebot_calls_total{outcom="abandoned"}[5m]))',
]


@pytest.fixture(autouse=True)
def _default_catalog():
    yield
    catalog.use(None)


def _findings(queries: list[str]) -> list[list[tuple[str, str]]]:
    return [[(f.rule, f.severity) for f in obskit.validate(q).findings] for q in queries]


def test_the_shipped_file_is_the_default_and_dumps_back_byte_identical() -> None:
    text = catalog.DEFAULT_FILE.read_text()
    assert catalog.dump(catalog.VOICEBOT) == text.split("\n", 3)[3]  # after the comment lines
    assert catalog.active() is catalog.VOICEBOT
    assert catalog.find_metric("voicebot_calls_total").complete


def test_a_project_points_obskit_at_its_own_file(tmp_path: Path) -> None:
    mine = tmp_path / "shop.yaml"
    mine.write_text(
        "owns: [shop_]\ncomplete: true\nmetrics:\n"
        "- {name: shop_queue_depth, type: gauge, unit: short, help: Orders waiting.}\n"
        "- {name: shop_orders_total, type: counter, unit: short, help: Orders, labels: {kind: [web]}}\n"
    )
    assert obskit.validate("rate(shop_queue_depth[5m])").ok  # nothing known about it yet
    catalog.use(mine)
    assert obskit.validate("rate(shop_queue_depth[5m])").errors[0].rule == "rate-on-gauge"
    assert catalog.active().owns_name("shop_x") and catalog.find_metric("voicebot_calls_total")


def test_the_environment_names_catalog_files(tmp_path: Path, monkeypatch) -> None:
    mine = tmp_path / "shop.yaml"
    mine.write_text("owns: [shop_]\nmetrics:\n- {name: shop_queue_depth, type: gauge}\n")
    code = "from obskit import catalog; print(catalog.find_metric('shop_queue_depth').type)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True,
                         env={"OBSKIT_CATALOG": str(mine), "PATH": "/usr/bin:/bin"})  # fmt: skip
    assert out.stdout.strip() == "gauge"


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("metrics: [", "not valid YAML"),
        ("owns: [x_]\n", "needs a top-level `metrics:` list"),
        ("owns: x_\nmetrics: []\n", "`owns` is a list of name prefixes"),
        (
            "metrics:\n- {name: x_total, type: timer}\n",
            "metric 'x_total': x_total: type must be one of",
        ),
        ("metrics:\n- {name: x, colour: red}\n", "unknown keys ['colour']"),
        ("metrics:\n- {type: gauge}\n", "metric #1: each metric is a mapping with at least name"),
    ],
)
def test_bad_catalog_files_name_file_metric_and_fix(
    tmp_path: Path, text: str, message: str
) -> None:
    path = tmp_path / "bad.yaml"
    path.write_text(text)
    with pytest.raises(ConfigError, match=r"bad\.yaml") as err:
        catalog.load(path)
    assert message in str(err.value)


def test_a_missing_file_is_one_clear_error(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match=r"cannot read catalog .*nope\.yaml.*check the path"):
        catalog.use(tmp_path / "nope.yaml")


@pytest.mark.prometheus
def test_import_from_the_demo_gives_the_same_findings(demo, demo_client, tmp_path: Path) -> None:
    shipped = _findings(QUERIES)
    imported = from_client(demo_client, ['{__name__=~"voicebot_.+"}'], owns=["voicebot_"],
                           start=demo.end - __import__("datetime").timedelta(hours=1), end=demo.end)  # fmt: skip
    path = tmp_path / "imported.yaml"
    path.write_text(catalog.dump(imported))
    catalog.use(path, default=False)
    assert _findings(QUERIES) == shipped
    assert (
        catalog.find_metric("voicebot_llm_latency_seconds").buckets
        == catalog.VOICEBOT.find("voicebot_llm_latency_seconds").buckets
    )


def _registry() -> CollectorRegistry:
    """The demo's metrics that QUERIES read, declared as an application would."""
    r = CollectorRegistry()
    Gauge("voicebot_active_calls", "Calls in progress right now.", registry=r)
    calls = Counter("voicebot_calls_total", "Finished calls.", ["outcome", "scenario"], registry=r)
    calls.labels("abandoned", "new_order").inc()
    Histogram("voicebot_llm_latency_seconds", "LLM latency.", ["model"], registry=r,
              buckets=catalog.VOICEBOT.find("voicebot_llm_latency_seconds").buckets)  # fmt: skip
    return r


def test_import_from_a_registry_gives_the_same_findings(tmp_path: Path) -> None:
    shipped = _findings(QUERIES)
    path = tmp_path / "app.yaml"
    path.write_text(catalog.dump(from_registry(_registry(), owns=["voicebot_"])))
    catalog.use(path, default=False)
    assert _findings(QUERIES) == shipped


def test_catalog_import_command_from_a_registry(tmp_path: Path) -> None:
    module = tmp_path / "appmetrics.py"
    module.write_text(
        "from prometheus_client import CollectorRegistry, Counter\n"
        "REGISTRY = CollectorRegistry()\n"
        "Counter('shop_orders_total', 'Orders', ['kind'], registry=REGISTRY)\n"
    )
    out = tmp_path / "catalog.yaml"
    cmd = [sys.executable, "-m", "obskit.cli", "catalog", "import", "--registry", "appmetrics:REGISTRY",
           "--owns", "shop_", "--out", str(out)]  # fmt: skip
    done = subprocess.run(cmd, capture_output=True, text=True, cwd=tmp_path,
                          env={"PYTHONPATH": str(tmp_path), "PATH": "/usr/bin:/bin"})  # fmt: skip
    assert done.returncode == 0, done.stderr
    found = catalog.load(out)
    assert [(m.name, m.type, m.labels) for m in found.metrics] == [
        ("shop_orders_total", "counter", ("kind",))
    ]
    again = subprocess.run(cmd, capture_output=True, text=True, cwd=tmp_path,
                           env={"PYTHONPATH": str(tmp_path), "PATH": "/usr/bin:/bin"})  # fmt: skip
    assert again.returncode == 1 and "exists; pass --force" in again.stderr


def test_lint_command_formats_and_exit_status(tmp_path: Path) -> None:
    queries = tmp_path / "queries.promql"
    queries.write_text(
        "# panel queries\nrate(voicebot_active_calls[5m])\nsum(rate(voicebot_calls_total[5m]))\n"
    )
    base = [sys.executable, "-m", "obskit.cli", "lint", "--offline", "-f", str(queries)]
    as_json = subprocess.run([*base, "--format", "json"], capture_output=True, text=True)
    assert as_json.returncode == 1
    rows = [json.loads(line) for line in as_json.stdout.splitlines()]
    assert [r["source"]["line"] for r in rows] == [2, 3]
    assert rows[0]["findings"][0]["rule"] == "rate-on-gauge" and rows[1]["findings"] == []
    github = subprocess.run([*base, "--format", "github"], capture_output=True, text=True)
    assert github.stdout.startswith(
        f"::error file={queries},line=2,title=obskit lint rate-on-gauge::"
    )
    clean = subprocess.run([sys.executable, "-m", "obskit.cli", "lint", "--offline",
                            "sum(rate(voicebot_calls_total[5m]))"], capture_output=True, text=True)  # fmt: skip
    assert clean.returncode == 0 and clean.stdout.startswith("OK:")


def test_lint_command_reads_saved_metadata(tmp_path: Path) -> None:
    meta = tmp_path / "metadata.json"
    meta.write_text(
        json.dumps({"status": "success", "data": {"shop_queue_depth": [{"type": "gauge"}]}})
    )
    done = subprocess.run([sys.executable, "-m", "obskit.cli", "lint", "--offline", "--metadata", str(meta),
                           "rate(shop_queue_depth[5m])"], capture_output=True, text=True)  # fmt: skip
    assert done.returncode == 1 and "rate-on-gauge" in done.stdout


def test_a_clients_settings_catalog_applies_to_its_calls_only(demo, tmp_path: Path) -> None:
    """``Settings.catalog``: a server's own catalog, used when that client validates or
    lists metrics, and nowhere else (the process-wide catalog is untouched)."""
    mine = tmp_path / "shop.yaml"
    mine.write_text(
        "owns: [shop_]\nmetrics:\n"
        "  - name: shop_queue_depth\n    type: gauge\n    help: Orders waiting.\n"
        "  - name: voicebot_active_calls\n    type: gauge\n    help: Redeclared here.\n"
    )
    query = "rate(shop_queue_depth[5m])"
    plain = obskit.connect(demo.url)
    own = obskit.connect(demo.url, catalog=[mine])
    assert own.settings.catalog == (str(mine),) and plain.catalog is None
    assert "rate-on-gauge" not in {f.rule for f in obskit.validate(query, client=plain).findings}
    assert "rate-on-gauge" in {f.rule for f in obskit.validate(query, client=own).findings}
    assert "rate-on-gauge" not in {f.rule for f in obskit.validate(query).findings}  # offline
    helps = own.metrics().set_index("name")["help"]
    assert helps["voicebot_active_calls"] == "Redeclared here."
    assert plain.metrics().set_index("name")["help"]["voicebot_active_calls"] != "Redeclared here."
    assert catalog.active() is catalog.VOICEBOT


def test_a_missing_settings_catalog_file_is_refused_when_built(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match=r"catalog file .*nope\.yaml.* does not exist"):
        obskit.connect("http://127.0.0.1:9", catalog=[tmp_path / "nope.yaml"])
