"""The metric catalog: valid names, types and units; searchable; matches the demo data."""

import re

import pytest

from obskit import catalog as cat
from obskit.demo import DemoSpec, generate


def test_every_family_follows_prometheus_naming():
    base_units = ("_seconds", "_bytes", "_total", "_info", "_usd_total")
    for metric in cat.CATALOG:
        assert re.fullmatch(r"[a-z_:][a-zA-Z0-9_:]*", metric.name), metric.name
        if metric.source == "voicebot" and metric.unit in ("s", "bytes"):
            assert metric.name.endswith(base_units), metric.name
        if metric.type == "histogram":
            assert metric.name.endswith("_seconds"), metric.name
            assert list(metric.buckets) == sorted(metric.buckets)


def test_names_are_unique():
    names = [m.name for m in cat.CATALOG]
    assert len(names) == len(set(names))


@pytest.mark.parametrize(
    ("name", "family", "kind"),
    [
        ("voicebot_llm_latency_seconds_bucket", "voicebot_llm_latency_seconds", "histogram"),
        ("voicebot_llm_latency_seconds_count", "voicebot_llm_latency_seconds", "histogram"),
        ("voicebot_calls_total", "voicebot_calls_total", "counter"),
        ("node_memory_MemAvailable_bytes", "node_memory_MemAvailable_bytes", "gauge"),
    ],
)
def test_find_metric_resolves_series_names(name, family, kind):
    found = cat.find_metric(name)
    assert found is not None and (found.name, found.type) == (family, kind)


def test_find_metric_unknown_and_suffix_of_non_histogram():
    assert cat.find_metric("voicebot_nope") is None
    assert cat.find_metric("voicebot_active_calls_count") is None


def test_closest_names_suggests_a_typo_fix():
    assert cat.closest_names("voicebot_call_total")[0] == "voicebot_calls_total"


def test_catalog_frame_and_search():
    frame = cat.table()
    assert list(frame.columns) == ["name", "type", "unit", "help", "labels", "source", "series"]
    assert len(frame) == len(cat.CATALOG)
    found = cat.search("LATENCY")
    assert set(found["name"]) >= {"voicebot_stt_latency_seconds", "voicebot_llm_latency_seconds"}
    assert cat.search("no-such-thing").empty


def test_invalid_metric_definitions_are_refused_with_an_example():
    with pytest.raises(ValueError, match="counters end in _total"):
        cat.Metric("voicebot_calls", "counter", "short", "x")
    with pytest.raises(ValueError, match="needs buckets"):
        cat.Metric("voicebot_x_seconds", "histogram", "s", "x")
    with pytest.raises(ValueError, match="type must be one of"):
        cat.Metric("voicebot_x", "timer", "s", "x")


def test_catalog_and_generator_cover_each_other():
    data = generate(DemoSpec(days=1, step=60))
    drawn = {s.name for s in data.series}
    assert drawn == set(cat.metric_names())
    for s in data.series:
        metric = cat.find_metric(s.name)
        assert metric is not None
        for label, value in s.labels.items():
            if label in ("job", "instance", "le", "datid"):
                continue
            assert label in metric.labels, (s.name, label)
            assert value in metric.values[label], (s.name, label, value)
