"""System Overview against real exporters: its queries return data from a real stack.

The module fixture starts, all on 127.0.0.1 and free ports under one temporary directory:
PostgreSQL (a ``voicebot`` database), Redis, the Debian packages' node_exporter,
postgres_exporter and redis_exporter, the bot's own DB timer (``prometheus_client`` in a
thread of this process, timing real SQL against that PostgreSQL) and a real Prometheus
scraping them every second as jobs ``node``, ``postgres``, ``redis`` and ``voicebot``.
Queries are expanded as ``obskit dashboards check`` expands them, with this stack's 1 s
scrape interval instead of the demo's 30 s.
"""

from __future__ import annotations

import copy
import difflib
import json
import re
import shutil
from collections.abc import Iterator
from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from _stack import DATABASE, EXPORTERS, JOBS, Sample, Stack, parse, running

from obskit import dashboards
from obskit._time import parse_duration
from obskit.catalog import CATALOG, CATALOG_BY_NAME, Metric
from obskit.client import Client, connect
from obskit.dashboards._plan import Query, plan
from obskit.promql._builders import MIN_OBSERVATIONS
from obskit.promql._macros import rate_interval

pytestmark = pytest.mark.exporters

ROOT = Path(__file__).resolve().parent.parent
BOARD = json.loads((ROOT / "grafana" / "dashboards" / "system-overview.json").read_text())
SCRAPE_SECONDS = 1
JOB_RE = "|".join(JOBS)
LATENCY_PANEL = "PostgreSQL query latency p95"
DB_METRIC = CATALOG_BY_NAME["voicebot_db_query_duration_seconds"]
SOURCES = {f"{job}_exporter": job for job in EXPORTERS}
SYSTEM = [m for m in CATALOG if m.source in SOURCES]
# Label values that describe the machine, not the software: the catalog's are the demo's.
HOST_SPECIFIC = {"cpu", "device", "fstype", "mountpoint"}
# Enough data that every rate window of the dashboard has two samples that differ.
READY = [
    f'count(up{{job=~"{JOB_RE}"}} == 1) == {len(JOBS)}',
    "pg_up == 1",
    "redis_up == 1",
    f'count(count_over_time(up{{job=~"{JOB_RE}"}}[1m]) >= 3) == {len(JOBS)}',
    # the p95 panel's guard shows a value only from MIN_OBSERVATIONS observations per window
    f"min(sum by (operation) (increase({DB_METRIC.name}_count[1m]))) >= {2 * MIN_OBSERVATIONS}",
    f'sum(increase(pg_stat_database_xact_commit{{datname="{DATABASE}"}}[1m])) > 0',
    "sum(increase(redis_commands_processed_total[1m])) > 0",
]
KEYS = [(q.panel, q.ref_id) for q in plan(BOARD, datetime(2026, 2, 14, 18, tzinfo=UTC))]


@pytest.fixture(scope="module")
def stack() -> Iterator[Stack]:
    """The whole stack, started once for this module, torn down even when tests fail."""
    with running(READY, scrape_seconds=SCRAPE_SECONDS) as started:
        yield started


@pytest.fixture(scope="module")
def client(stack: Stack) -> Iterator[Client]:
    with connect(stack.url) as own:
        yield own


def _host_devices(stack: Stack) -> set[str]:
    found = stack.query("group by (device) (node_network_receive_bytes_total)")
    return {r["metric"]["device"] for r in found}


def _default_devices() -> list[str]:
    variable = next(v for v in BOARD["templating"]["list"] if v["name"] == "device")
    return list(variable["current"]["value"])


def _board_for_host(data: dict[str, Any], devices: set[str]) -> dict[str, Any]:
    """The dashboard as this host can answer it.

    ``$device`` defaults to All (every device but ``lo``), which any host answers; a
    dashboard whose default names one interface (``eth0``) is checked on a device this
    host has, since hosts name interfaces differently (``ens5``, ``enp0s3``).
    """
    board = copy.deepcopy(data)
    for var in board["templating"]["list"]:
        chosen = list(var["current"]["value"])
        if var["name"] == "device" and "$__all" not in chosen and not set(chosen) & devices:
            pick = (sorted(devices - {"lo"}) or sorted(devices))[:1]
            var["current"] = {**var["current"], "text": pick, "value": pick}
    return board


@pytest.fixture
def planned(stack: Stack) -> dict[tuple[str, str], Query]:
    """Every System Overview target as `obskit dashboards check` plans it, right now, with
    this stack's scrape interval as the data source's."""
    board = _board_for_host(BOARD, _host_devices(stack))
    return {(q.panel, q.ref_id): q for q in plan(board, datetime.now(UTC), stack.scrape_seconds)}


def test_every_target_is_up_and_connected(stack: Stack) -> None:
    up = {r["metric"]["job"]: r["value"][1] for r in stack.query(f'up{{job=~"{JOB_RE}"}}')}
    assert up == dict.fromkeys(JOBS, "1")
    # `up` is the HTTP scrape; these say the exporters reach their servers
    assert [r["value"][1] for r in stack.query("pg_up")] == ["1"]
    assert [r["value"][1] for r in stack.query("redis_up")] == ["1"]
    assert stack.load_error is None and stack.load_rounds > 0


@pytest.mark.parametrize("key", KEYS, ids=[f"{panel}-{ref}" for panel, ref in KEYS])
def test_panel_query_returns_data(
    key: tuple[str, str], planned: dict[tuple[str, str], Query], client: Client
) -> None:
    query = planned[key]
    assert "$" not in query.expanded, query.expanded
    if "$__rate_interval" in query.expr:  # expanded with this stack's scrape interval, not 30 s
        windows = {
            parse_duration(w, "window") for w in re.findall(r"\[([^\]:]+)\]", query.expanded)
        }
        assert windows == {rate_interval(query.step, SCRAPE_SECONDS)}, query.expanded
    frame = dashboards.run_query(client, query)
    assert not frame.empty, f"no data: {query.expanded}"
    assert frame["value"].notna().any(), f"only NaN: {query.expanded}"


def test_latency_panel_reads_only_the_application_histogram(
    stack: Stack, planned: dict[tuple[str, str], Query], client: Client
) -> None:
    """postgres_exporter 0.11 has no latency histogram: the p95 panel needs the bot's own.

    The panel answers from job ``voicebot`` (the bot's timer, here real ``psql`` timings)
    and from nothing the exporters serve.
    """
    query = planned[(LATENCY_PANEL, "A")]
    exporters_only = query.expanded.replace(
        f"{DB_METRIC.name}_bucket[", f'{DB_METRIC.name}_bucket{{job=~"{"|".join(EXPORTERS)}"}}['
    )
    assert exporters_only != query.expanded
    assert dashboards.run_query(client, replace(query, expanded=exporters_only)).empty
    assert stack.query(f'{{__name__=~"{DB_METRIC.name}_.+", job!="voicebot"}}') == []
    timers = [name for name, s in stack.exposition("postgres").items()
              if s.family.startswith("pg_") and s.type in ("histogram", "summary")]  # fmt: skip
    assert timers == [], f"postgres_exporter now exports {timers}: FACTS.md is stale"
    frame = dashboards.run_query(client, query)
    assert set(frame.dropna(subset=["value"])["operation"]) == set(DB_METRIC.values["operation"])
    assert (frame["value"].dropna() > 0).all()


def test_dashboards_check_finds_no_problem(stack: Stack, client: Client, tmp_path: Path) -> None:
    """What `obskit dashboards check system-overview` says against this stack: nothing.

    On a copy of grafana/ whose data source scrapes as often as this stack does."""
    assert _default_devices() == ["$__all"], "the default must work on any host"
    grafana = Path(shutil.copytree(ROOT / "grafana", tmp_path / "grafana"))
    datasources = grafana / "provisioning" / "datasources" / "datasources.yml"
    text = datasources.read_text()
    assert "timeInterval: 30s" in text
    datasources.write_text(
        text.replace("timeInterval: 30s", f"timeInterval: {stack.scrape_seconds}s")
    )
    found = dashboards.check(
        ["system-overview"], client=client, at=datetime.now(UTC), grafana_dir=grafana
    )
    assert [str(p) for p in found] == []


def _mismatches(metric: Metric, exported: dict[str, Sample]) -> list[str]:
    where = f"{metric.source} ({metric.name})"
    found = []
    for name in metric.series_names:
        sample = exported.get(name)
        if sample is None:
            near = difflib.get_close_matches(name, list(exported), n=3)
            found.append(f"{where}: no series {name}; closest: {near}")
            continue
        if sample.type != metric.type:
            found.append(f"{where}: {name} is {sample.type}, catalog says {metric.type}")
        missing = set(metric.labels) - sample.labels - {"le"}
        if missing:
            found.append(
                f"{where}: {name} has labels {sorted(sample.labels)}, not {sorted(missing)}"
            )
        for label in set(metric.labels) - HOST_SPECIFIC - missing:
            absent = set(metric.values.get(label, ())) - sample.values(label)
            if absent:
                found.append(f"{where}: {name}{{{label}}} never takes {sorted(absent)}")
    return found


@pytest.mark.parametrize("metric", SYSTEM, ids=[m.name for m in SYSTEM])
def test_catalog_entry_matches_the_real_exporter(stack: Stack, metric: Metric) -> None:
    """Name, type, labels and (software-defined) label values as the real exporter serves them."""
    exported = stack.exposition(SOURCES[metric.source])
    assert _mismatches(metric, exported) == []


def test_mismatches_are_named_precisely() -> None:
    """The catalog check is not vacuous: it names a missing ``_total``, a type and a label."""
    text = (
        "# TYPE pg_stat_database_xact_commit_total counter\n"
        'pg_stat_database_xact_commit_total{datname="voicebot"} 3\n'
        "# TYPE pg_stat_activity_count untyped\n"
        'pg_stat_activity_count{datname="voicebot",state="idle"} 1\n'
    )
    exported = parse(text)
    commits = _mismatches(CATALOG_BY_NAME["pg_stat_database_xact_commit"], exported)
    activity = _mismatches(CATALOG_BY_NAME["pg_stat_activity_count"], exported)
    assert commits == [
        "postgres_exporter (pg_stat_database_xact_commit): no series "
        "pg_stat_database_xact_commit; closest: ['pg_stat_database_xact_commit_total',"
        " 'pg_stat_activity_count']"
    ]
    assert activity == [
        "postgres_exporter (pg_stat_activity_count): pg_stat_activity_count is untyped,"
        " catalog says gauge",
        "postgres_exporter (pg_stat_activity_count): pg_stat_activity_count{state} never takes"
        " ['active', 'idle in transaction']",
    ]
