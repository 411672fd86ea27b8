"""obskit.plots: figures from synthetic frames, units, heatmaps, determinism, notebook output."""

from __future__ import annotations

import itertools
import json
import math
import os
import re
import subprocess
import sys
import textwrap

import nbformat
import numpy as np
import pandas as pd
import plotly.io as pio
import pytest
from nbclient import NotebookClient

from obskit import plots
from obskit.errors import ConfigError
from obskit.frames import to_frame
from obskit.plots._units import format_value, query_unit

END = 1771092000  # 2026-02-14T18:00:00Z
UUID = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}")
BUCKET_QUERY = "sum by (le) (increase(voicebot_llm_latency_seconds_bucket[5m]))"


def matrix(query: str, series: dict[tuple[tuple[str, str], ...], list[float]], step: int = 30):
    """A matrix frame: each series' values at END - (n-1)*step ... END."""
    result = []
    for labels, values in series.items():
        n = len(values)
        points = [[END - (n - 1 - i) * step, _text(v)] for i, v in enumerate(values)]
        result.append({"metric": dict(labels), "values": points})
    return to_frame({"resultType": "matrix", "result": result}, query=query, step=step)


def vector(query: str, series: dict[tuple[tuple[str, str], ...], float]):
    result = [{"metric": dict(k), "value": [END, _text(v)]} for k, v in series.items()]
    return to_frame({"resultType": "vector", "result": result}, query=query)


def _text(value: float) -> str:
    return {math.inf: "+Inf", -math.inf: "-Inf"}.get(
        value, "NaN" if math.isnan(value) else repr(value)
    )


def latency_frame():
    return matrix(
        "histogram_quantile(0.95, sum by (le, provider) "
        "(rate(voicebot_stt_latency_seconds_bucket[5m])))",
        {
            (("job", "voicebot"), ("provider", "google")): [0.25, 0.30, 0.35],
            (("job", "voicebot"), ("provider", "deepgram")): [0.12, 0.15, 0.20],
        },
    )


def bucket_frame(extra: tuple[tuple[str, str], ...] = ()):
    # cumulative counts per le at two times; per bucket: t0 [2, 3, 1, 0], t1 [4, 0, 4, 2]
    cumulative = {"0.1": [2, 4], "0.5": [5, 4], "1": [6, 8], "+Inf": [6, 10]}
    return matrix(BUCKET_QUERY, {(("le", le), *extra): v for le, v in cumulative.items()}, step=60)


# -- time series ----------------------------------------------------------------------------


def test_timeseries_names_from_the_label_that_varies_sorted_with_fixed_colours():
    fig = plots.plot(latency_frame())
    assert [t.name for t in fig.data] == ["deepgram", "google"]
    assert [t.line.color for t in fig.data] == list(plots.PALETTE[:2])
    assert fig.layout.xaxis.type == "date"
    assert list(fig.data[0].x) == [(END - 60) * 1000.0, (END - 30) * 1000.0, END * 1000.0]


def test_timeseries_legend_format_names_series():
    fig = plots.plot(latency_frame(), legend="{{provider}} p95")
    assert [t.name for t in fig.data] == ["deepgram p95", "google p95"]


def test_legend_that_merges_series_is_refused():
    with pytest.raises(ConfigError, match="same column name"):
        plots.plot(latency_frame(), legend="{{job}}")


def test_seconds_below_one_second_are_drawn_in_ms():
    fig = plots.plot(latency_frame())
    assert fig.layout.yaxis.title.text == "duration (ms)"
    assert list(fig.data[1].y) == [250.0, 300.0, 350.0]
    assert fig.data[1].hovertemplate == "%{y:,.4~r} ms"


def test_seconds_above_one_second_stay_seconds():
    frame = matrix("voicebot_call_duration_seconds_sum", {(): [1.5, 90.0]})
    assert plots.plot(frame).layout.yaxis.title.text == "duration (s)"


def test_bytes_use_iec_units():
    frame = matrix(
        "node_memory_MemAvailable_bytes",
        {(("__name__", "node_memory_MemAvailable_bytes"),): [3.5 * 2**30, 3 * 2**30]},
    )
    fig = plots.plot(frame)
    assert fig.layout.yaxis.title.text == "bytes (GiB)"
    assert list(fig.data[0].y) == [3.5, 3.0]


def test_ratio_of_counters_is_a_percentage_axis():
    query = (
        'sum(rate(voicebot_calls_total{outcome="bot_resolved"}[5m]))'
        " / (sum(rate(voicebot_calls_total[5m])) > 0)"
    )
    fig = plots.plot(matrix(query, {(): [0.7, 0.8]}))
    assert fig.layout.yaxis.tickformat == "~%"
    assert fig.data[0].hovertemplate == "%{y:.2~%}"


def test_currency_axis_has_a_dollar_prefix():
    query = "sum by (component) (increase(voicebot_call_cost_usd_total[1h]))"
    fig = plots.plot(matrix(query, {(("component", "llm"),): [1.0, 2.0]}))
    assert fig.layout.yaxis.tickprefix == "$"
    assert fig.layout.yaxis.title.text == "USD"


def test_unit_argument_overrides_the_catalog():
    fig = plots.plot(latency_frame(), unit="percentunit")
    assert fig.layout.yaxis.tickformat == "~%"
    assert list(fig.data[1].y) == [0.25, 0.30, 0.35]


@pytest.mark.parametrize(
    ("query", "unit"),
    [
        ("sum(rate(node_network_receive_bytes_total[5m]))", "Bps"),
        ("sum(rate(voicebot_calls_total[$__rate_interval])) by (outcome)", "cps"),
        ('sum(rate(node_cpu_seconds_total{mode!="idle"}[5m])) by (cpu)', "percentunit"),
        ("node_memory_MemAvailable_bytes / node_memory_MemTotal_bytes", "percentunit"),
        (
            "rate(voicebot_llm_latency_seconds_sum[5m]) / rate(voicebot_llm_latency_seconds_count[5m])",
            "s",
        ),
        (
            "increase(voicebot_call_cost_usd_total[1h]) / increase(voicebot_calls_total[1h])",
            "currencyUSD",
        ),
        ("time() - voicebot_backup_last_success_timestamp_seconds", "s"),
        ("count(pg_up)", "short"),
        ("redis_memory_used_bytes", "bytes"),
        ("not_a_catalog_metric", None),
        ("sum(rate(broken[5m]", None),
    ],
)
def test_unit_of_an_expression(query, unit):
    assert query_unit(query) == unit


def test_timestamps_as_values_are_drawn_on_a_date_axis():
    name = "voicebot_backup_last_success_timestamp_seconds"
    frame = matrix(name, {(("__name__", name),): [END - 3600.0, END - 60.0]})
    fig = plots.plot(frame)
    assert fig.layout.yaxis.type == "date"
    assert list(fig.data[0].y) == [(END - 3600) * 1000.0, (END - 60) * 1000.0]
    assert fig.data[0].hovertemplate == "%{y|%Y-%m-%d %H:%M:%S}"


def test_nan_and_inf_values_are_gaps_not_errors():
    frame = matrix("pg_up", {(): [1.0, math.nan, math.inf, -math.inf, 0.0]})
    fig = plots.plot(frame)
    y = np.asarray(fig.data[0].y)
    assert y[0] == 1.0 and y[-1] == 0.0 and np.isnan(y[1:4]).all()
    assert "Infinity" not in fig.to_json()


def test_missing_samples_break_the_line():
    values = {(): [1.0, 2.0, 3.0, 4.0]}
    frame = matrix("pg_up", values)
    frame = frame[frame["timestamp"] != frame["timestamp"].iloc[2]].reset_index(drop=True)
    frame.attrs = {"query": "pg_up", "result_type": "matrix"}
    y = np.asarray(plots.plot(frame).data[0].y)
    assert y[:2].tolist() == [1.0, 2.0] and np.isnan(y[2]) and y[3] == 4.0


def test_long_series_are_downsampled_keeping_extremes():
    values = [1.0 + 0.001 * (i % 97) for i in range(20160)]
    values[12345], values[777] = 50.0, -3.0
    frame = matrix("voicebot_active_calls", {(): values})
    trace = plots.plot(frame, max_points=500).data[0]
    assert len(trace.x) <= 500
    assert max(trace.y) == 50.0 and min(trace.y) == -3.0
    assert list(trace.x) == sorted(trace.x)


def test_default_budget_keeps_a_week_of_many_series_under_300_kb():
    rng = np.random.default_rng(7)
    week = {(("instance", f"i{k:02d}"),): rng.random(20160).tolist() for k in range(20)}
    fig = plots.plot(matrix("voicebot_active_calls", week))
    assert all(len(t.x) <= 500 for t in fig.data)
    assert len(fig.to_json()) < 300_000


# -- single values ----------------------------------------------------------------------------


def test_single_vector_row_is_a_stat_with_the_unit():
    frame = vector(
        "redis_memory_used_bytes", {(("__name__", "redis_memory_used_bytes"),): 1.5 * 2**20}
    )
    fig = plots.plot(frame)
    (trace,) = fig.data
    assert trace.type == "indicator" and trace.mode == "number"
    assert trace.value == 1.5 and trace.number.suffix == " MiB"


def test_stat_of_several_series_is_a_row_of_indicators():
    frame = vector(
        "up", {(("job", "redis"),): 0.0, (("job", "node"),): 1.0, (("job", "postgres"),): 1.0}
    )
    fig = plots.plot(frame, "stat", thresholds=[(0, "red"), (1, "green")])
    assert [t.title.text for t in fig.data] == ["node", "postgres", "redis"]
    assert [t.number.font.color for t in fig.data] == ["green", "green", "red"]
    domains = [tuple(t.domain.x) for t in fig.data]
    assert all(a[1] < b[0] for a, b in itertools.pairwise(domains))


def test_stat_of_a_matrix_shows_the_last_value_that_is_not_nan():
    fig = plots.plot(matrix("voicebot_active_calls", {(): [3.0, 7.0, math.nan]}), "stat")
    assert fig.data[0].value == 7.0


def test_stat_of_infinity_has_no_number():
    fig = plots.plot(vector("voicebot_active_calls", {(): math.inf}))
    assert fig.data[0].value is None


def test_gauge_has_threshold_bands_in_display_units():
    frame = vector("voicebot_llm_latency_seconds_sum", {(): 0.42})
    fig = plots.plot(frame, "gauge", unit="s", thresholds=[(0, "green"), (0.5, "red")])
    gauge = fig.data[0].gauge
    assert [s.color for s in gauge.steps] == ["green", "red"]
    assert [tuple(s.range) for s in gauge.steps] == [(0.0, 500.0), (500.0, 1000.0)]
    assert tuple(gauge.axis.range) == (0.0, 1000.0)
    assert fig.data[0].value == 420.0 and fig.data[0].number.suffix == " ms"


def test_percent_gauge_runs_from_0_to_100_percent():
    fig = plots.plot(vector("x", {(): 0.93}), "gauge", unit="percentunit")
    assert tuple(fig.data[0].gauge.axis.range) == (0.0, 1.0)
    assert fig.data[0].gauge.axis.tickformat == "~%"


def test_vector_of_several_rows_is_a_bar_of_values_sorted_by_name():
    frame = vector("up", {(("job", "redis"),): 3.0, (("job", "node"),): 1.0})
    fig = plots.plot(frame)
    assert fig.data[0].type == "bar"
    assert list(fig.data[0].y) == ["node", "redis"] and list(fig.data[0].x) == [1.0, 3.0]


def test_pie_and_donut_leave_out_values_that_cannot_be_slices():
    frame = vector(
        "x", {(("c", "b"),): 2.0, (("c", "a"),): 1.0, (("c", "z"),): -1.0, (("c", "n"),): math.nan}
    )
    pie = plots.plot(frame, "pie").data[0]
    assert list(pie.labels) == ["a", "b"] and list(pie.values) == [1.0, 2.0] and pie.hole == 0
    assert plots.plot(frame, "pie", donut=True).data[0].hole == 0.45


# -- heatmap ----------------------------------------------------------------------------------


def test_heatmap_frame_turns_cumulative_buckets_into_per_bucket_counts():
    table = plots.heatmap_frame(bucket_frame())
    assert table.index.tolist() == [0.1, 0.5, 1.0, math.inf]
    assert table.to_numpy().T.tolist() == [[2, 3, 1, 0], [4, 0, 4, 2]]


def test_heatmap_frame_share_divides_each_column_by_its_total():
    table = plots.heatmap_frame(bucket_frame(), share=True)
    assert table.iloc[:, 0].tolist() == [2 / 6, 3 / 6, 1 / 6, 0.0]
    assert table.sum().tolist() == pytest.approx([1.0, 1.0])


def test_heatmap_frame_sums_series_of_the_same_bucket():
    frames = [bucket_frame((("provider", p),)) for p in ("azure", "google")]
    both = pd.concat(frames, ignore_index=True)
    assert plots.heatmap_frame(both).to_numpy().T.tolist() == [[4, 6, 2, 0], [8, 0, 8, 4]]


def test_heatmap_frame_orders_bounds_numerically():
    cumulative = {"10": [3.0], "2": [1.0], "+Inf": [4.0]}
    frame = matrix("x_bucket", {(("le", le),): v for le, v in cumulative.items()})
    table = plots.heatmap_frame(frame)
    assert table.index.tolist() == [2.0, 10.0, math.inf]
    assert table.iloc[:, 0].tolist() == [1.0, 2.0, 1.0]


def test_heatmap_plot_has_bucket_labels_in_order_and_known_counts():
    fig = plots.plot(bucket_frame())
    (trace,) = fig.data
    assert trace.type == "heatmap"
    assert list(trace.y) == ["100 ms", "500 ms", "1 s", "+Inf"]
    assert list(fig.layout.yaxis.categoryarray) == list(trace.y)
    assert np.asarray(trace.z).tolist() == [[2, 4], [3, 0], [1, 4], [0, 2]]
    assert trace.colorbar.title.text == "count"


def test_heatmap_share_has_a_percent_colour_bar():
    trace = plots.plot(bucket_frame(), share=True).data[0]
    assert trace.colorbar.tickformat == "~%"
    assert np.asarray(trace.z)[:, 1].tolist() == [0.4, 0.0, 0.4, 0.2]


def test_heatmap_averages_columns_beyond_max_points():
    cumulative = {"0.1": [1.0, 3.0, 2.0, 2.0], "+Inf": [2.0, 4.0, 2.0, 6.0]}
    frame = matrix(BUCKET_QUERY, {(("le", le),): v for le, v in cumulative.items()}, step=60)
    trace = plots.plot(frame, max_points=2).data[0]
    assert np.asarray(trace.z).tolist() == [[2.0, 2.0], [1.0, 2.0]]
    assert list(trace.x) == [(END - 180) * 1000.0, (END - 60) * 1000.0]


def test_heatmap_needs_an_le_label():
    with pytest.raises(ConfigError, match="`le` label"):
        plots.plot(latency_frame(), "heatmap")


def test_bucket_bounds_text():
    assert [format_value("s", v) for v in (0.0005, 0.05, 2.5, math.inf)] == [
        "500 µs",
        "50 ms",
        "2.5 s",
        "+Inf",
    ]
    assert format_value("bytes", 2048.0) == "2 KiB"


# -- kinds, errors, titles ----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("frame", "kind"),
    [
        (lambda: vector("pg_up", {(): 1.0}), "stat"),
        (lambda: to_frame({"resultType": "scalar", "result": [END, "2"]}), "stat"),
        (lambda: bucket_frame(), "heatmap"),
        (lambda: latency_frame(), "timeseries"),
        (lambda: vector("up", {(("job", "a"),): 1.0, (("job", "b"),): 0.0}), "bar"),
    ],
)
def test_kind_is_inferred(frame, kind):
    assert plots.infer_kind(frame()) == kind


@pytest.mark.parametrize("kind", [None, *plots.KINDS])
def test_empty_frame_gives_a_no_data_figure(kind):
    frame = to_frame({"resultType": "matrix", "result": []}, query="absent_metric")
    fig = plots.plot(frame, kind)
    assert [a.text for a in fig.layout.annotations] == ["no data for absent_metric in this range"]
    assert not fig.data and fig.layout.title.text == "absent_metric"
    untitled = to_frame({"resultType": "matrix", "result": []})
    assert [a.text for a in plots.plot(untitled, kind).layout.annotations] == ["no data"]


def test_unknown_kind_lists_the_valid_ones():
    with pytest.raises(ConfigError, match=r"timeseries, stat, gauge, bar, pie, heatmap.*'line'"):
        plots.plot(latency_frame(), "line")


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"thresholds": [(0.5,)]}, "thresholds must be"),
        ({"thresholds": [("high", "red")]}, "thresholds must be"),
        ({"max_points": 1}, "max_points"),
        ({"max_points": True}, "max_points"),
    ],
)
def test_bad_options_are_refused(kwargs, message):
    with pytest.raises(ConfigError, match=message):
        plots.plot(latency_frame(), **kwargs)


def test_frames_that_are_not_query_frames_are_refused():
    with pytest.raises(ConfigError, match="tidy query frame"):
        plots.plot(pd.DataFrame({"a": [1]}))
    text = to_frame({"resultType": "string", "result": [END, "hello"]}, query='"hello"')
    with pytest.raises(ConfigError, match="string result"):
        plots.plot(text)


def test_title_is_the_query_shortened_and_escaped():
    query = "sum(rate(voicebot_calls_total[5m])) < 3 " + "or vector(0) " * 10
    title = plots.plot(matrix(query, {(): [1.0]})).layout.title.text
    assert len(title.replace("&lt;", "<")) == 80 and title.endswith("…") and "&lt; 3" in title
    assert plots.plot(latency_frame(), title="STT p95").layout.title.text == "STT p95"


# -- determinism and notebook output ----------------------------------------------------------

SCRIPT = textwrap.dedent(
    """
    import json, sys
    sys.path.insert(0, {tests!r})
    import plotly.io as pio
    import test_plots as t
    from obskit import plots
    pio.renderers.default = "plotly_mimetype"
    figures = [
        plots.plot(t.latency_frame()),
        plots.plot(t.bucket_frame()),
        plots.plot(t.bucket_frame(), share=True),
        plots.plot(t.vector("up", {{(("job", "b"),): 1.0, (("job", "a"),): 0.5}}), "pie"),
        plots.plot(t.vector("pg_up", {{(): 1.0}}), "gauge", thresholds=[(0, "red"), (1, "green")]),
        plots.plot(t.matrix("voicebot_active_calls", {{(): [float(i % 89) for i in range(5000)]}})),
    ]
    out = {{"json": [f.to_json() for f in figures],
            "bundle": [json.dumps(f._repr_mimebundle_(), sort_keys=True) for f in figures]}}
    sys.stdout.write(json.dumps(out))
    """
)


def _render_in_fresh_process(seed: str) -> dict[str, list[str]]:
    script = SCRIPT.format(tests=os.path.dirname(__file__))
    env = {**os.environ, "PYTHONHASHSEED": seed}
    done = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, env=env, check=True
    )
    return json.loads(done.stdout)


def test_same_frames_give_identical_json_in_fresh_processes():
    first, second = _render_in_fresh_process("1"), _render_in_fresh_process("2")
    assert first == second
    for text in first["json"] + first["bundle"]:
        assert '"uid"' not in text and not UUID.search(text)


def test_figures_ignore_the_process_default_template(monkeypatch):
    before = plots.plot(latency_frame()).to_json()
    monkeypatch.setattr(pio.templates, "default", "plotly_dark")
    assert plots.plot(latency_frame()).to_json() == before
    assert plots.plot(latency_frame()).layout.template == plots.TEMPLATE


def test_mimetype_bundle_is_the_figure_json_only(monkeypatch):
    monkeypatch.setattr(pio.renderers, "default", "plotly_mimetype")
    fig = plots.plot(latency_frame())
    bundle = fig._repr_mimebundle_()
    assert list(bundle) == ["application/vnd.plotly.v1+json"]
    assert bundle["application/vnd.plotly.v1+json"] == json.loads(fig.to_json())


def test_html_renderers_write_random_div_ids():
    # Why notebooks must not use "notebook"/"notebook_connected": their HTML differs per run.
    fig = plots.plot(latency_frame()).to_dict()
    html = pio.renderers["notebook_connected"].to_mimebundle(fig)["text/html"]
    assert UUID.search(html)


def test_notebook_outputs_are_identical_across_kernel_runs(tmp_path):
    cells = [
        "import plotly.io as pio\npio.renderers.default = 'plotly_mimetype'",
        f"import sys\nsys.path.insert(0, {os.path.dirname(__file__)!r})\nimport test_plots as t",
        "from obskit import plots\nplots.plot(t.bucket_frame())",
        "plots.plot(t.latency_frame())",
    ]
    outputs = []
    for _ in range(2):
        nb = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell(c) for c in cells])
        NotebookClient(
            nb, timeout=120, kernel_name="python3", resources={"metadata": {"path": str(tmp_path)}}
        ).execute()
        outputs.append([c.outputs for c in nb.cells])
    assert outputs[0] == outputs[1]
    shown = [o for cell in outputs[0] for o in cell]
    assert [sorted(o["data"]) for o in shown] == [["application/vnd.plotly.v1+json"]] * 2
    assert not UUID.search(json.dumps(outputs[0]))


# -- figure grid --------------------------------------------------------------------------------


def _grid(**kwargs):
    figures = [plots.plot(latency_frame()), plots.plot(bucket_frame())]
    layout = [{"x": 0, "y": 0, "w": 12, "h": 8}, {"x": 12, "y": 0, "w": 12, "h": 8}]
    return plots.figure_grid(figures, layout, title="STT <latency>", **kwargs), figures


def test_figure_grid_is_one_deterministic_page():
    page, figures = _grid(include_plotlyjs=False)
    assert page == _grid(include_plotlyjs=False)[0]
    assert page.count('class="plotly-graph-div"') == 2
    assert 'id="panel-1"' in page and 'id="panel-2"' in page and not UUID.search(page)
    assert "grid-column: 13 / span 12; grid-row: 1 / span 8;" in page
    assert "<title>STT &lt;latency&gt;</title>" in page
    assert figures[0].layout.height == 360  # the caller's figures are not changed


def test_figure_grid_embeds_plotlyjs_once_or_links_the_cdn():
    from plotly.offline import get_plotlyjs, get_plotlyjs_version

    embedded, _ = _grid()
    assert embedded.count(get_plotlyjs()) == 1
    linked, _ = _grid(include_plotlyjs="cdn")
    assert f"https://cdn.plot.ly/plotly-{get_plotlyjs_version()}.min.js" in linked
    assert 'integrity="sha256-' in linked and len(linked) < 200_000


@pytest.mark.parametrize(
    "layout",
    [
        [{"x": 0, "y": 0, "w": 12}],
        [{"x": 20, "y": 0, "w": 12, "h": 8}],
        [{"x": 0, "y": 0, "w": 0, "h": 8}],
        [{"x": 0.5, "y": 0, "w": 12, "h": 8}],
        [],
    ],
)
def test_figure_grid_refuses_bad_grid_positions(layout):
    with pytest.raises(ConfigError, match=r"gridPos|grid|whole numbers"):
        plots.figure_grid([plots.plot(latency_frame())], layout, include_plotlyjs=False)
