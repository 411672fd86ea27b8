"""Freeze from a real VictoriaMetrics (the demo week imported into it): the same samples.

VictoriaMetrics answers the same raw-sample reads (``sel[2h]`` at an instant) with
left-open windows, where Prometheus 2.x' are left-closed: the freeze must give every
sample once either way, at the generator's exact timestamps and values (to the precision
VictoriaMetrics itself stores). Freeze reads VictoriaMetrics through its export API
(faster); it must give bit for bit what the range selectors give, special values included.
"""

from __future__ import annotations

import contextlib
import subprocess
import time
from datetime import UTC, datetime
from pathlib import Path

import numpy as np
import pytest
import requests

from obskit.client import connect
from obskit.demo import DemoPrometheus, DemoSpec, _export, _fixture, _prompb, _stale, generate
from obskit.demo import freeze as freeze_module
from obskit.demo.freeze import freeze
from obskit.demo.server import HOST, free_port, terminate

EDGE_START = 1_771_020_000_000

pytestmark = pytest.mark.prometheus


def test_freezing_victoriametrics_gives_the_generators_arrays(victoria, tmp_path: Path) -> None:
    report = freeze(victoria.url, ['{__name__=~".+"}'], victoria.start_time, victoria.end,
                    tmp_path / "vm")  # fmt: skip
    data = generate(DemoSpec())
    grid = data.spec.timestamps() * 1000
    fixture = _fixture.read(tmp_path / "vm").samples
    assert report["samples"] == data.samples
    frozen = {
        tuple(sorted(labels.items())): fixture.of(i) for i, labels in enumerate(fixture.labels)
    }
    assert len(frozen) == len(data.series)
    for s in data.series:
        keep = slice(None) if s.present is None else s.present
        times, values = frozen[tuple(sorted({**s.labels, "__name__": s.name}.items()))]
        assert np.array_equal(times, grid[keep]), s.name
        # VictoriaMetrics stores floats as a decimal mantissa + exponent with about 12
        # significant digits (seen: 1127.2000000001863 imported, 1127.2 stored)
        np.testing.assert_allclose(values, s.values[keep], rtol=1e-11, atol=0, err_msg=s.name)
    exact = sum(
        np.array_equal(frozen[tuple(sorted({**s.labels, "__name__": s.name}.items()))][1],
                       s.values[slice(None) if s.present is None else s.present])
        for s in data.series
    )  # fmt: skip
    assert exact >= len(data.series) * 0.8  # integers and short decimals come back bit for bit


# -- the export fast path --------------------------------------------------------------------


def _read(url: str, lo: int, hi: int, export: bool) -> _fixture.Samples:
    with connect(url) as client:
        return freeze_module._read_all(client, ['{__name__=~".+"}'], lo, hi, False, export)


def _equal(a: _fixture.Samples, b: _fixture.Samples) -> bool:
    return (
        a.labels == b.labels
        and a.counts.tolist() == b.counts.tolist()
        and np.array_equal(a.times_ms, b.times_ms)
        and np.array_equal(a.values.view(np.int64), b.values.view(np.int64))
    )


def _export_equals_range_selectors(url: str, lo: int, hi: int) -> _fixture.Samples:
    """Export, between two range-selector reads that agree, equals them bit for bit.

    VictoriaMetrics re-encodes freshly imported parts when it merges them in the
    background (seen: 432 of 5,967,656 values changed between two reads 3 s apart, right
    after the import): only a read between two equal reads compares two ways of reading.
    """
    for _ in range(30):
        before = _read(url, lo, hi, False)
        exported = _read(url, lo, hi, True)
        if _equal(before, _read(url, lo, hi, False)):
            assert _equal(exported, before)
            return exported
        time.sleep(2)
    raise AssertionError(f"{url} kept changing its answers for a minute")


def test_the_export_api_gives_what_range_selectors_give_on_the_demo_week(victoria) -> None:
    with connect(victoria.url) as client:
        assert _export.is_victoria(client)
    lo, hi = (round(t.timestamp() * 1000) for t in (victoria.start_time, victoria.end))
    exported = _export_equals_range_selectors(victoria.url, lo, hi)
    assert int(exported.counts.sum()) == generate(DemoSpec()).samples


@pytest.fixture
def special_vm(tmp_path: Path):
    """A fresh VictoriaMetrics holding ±Inf, a huge value, -0 and a staleness marker."""
    port = free_port()
    url = f"http://{HOST}:{port}"
    proc = subprocess.Popen(
        ["victoria-metrics", f"-storageDataPath={tmp_path / 'vm'}", f"-httpListenAddr={HOST}:{port}",
         "-retentionPeriod=100y", "-search.disableCache"],
        stdout=subprocess.DEVNULL, stderr=subprocess.STDOUT,
    )  # fmt: skip
    try:
        _until(lambda: requests.get(f"{url}/health", timeout=1).ok)
        t0 = EDGE_START
        values = ["+Inf", "-Inf", "1.7976931348623157e308", "-0", "2.5"]
        text = "".join(
            f'vm_special{{le="+Inf"}} {v} {t0 + 15000 * i}\n' for i, v in enumerate(values)
        )
        text += "".join(f'vm_plain{{job="x"}} {0.1 * i!r} {t0 + 15000 * i}\n' for i in range(20))
        assert requests.post(f"{url}/api/v1/import/prometheus", data=text, timeout=10).ok
        marker = [(t0, 1.0), (t0 + 15000, _stale.STALE_NAN), (t0 + 30000, 3.0)]
        body = _stale._snappy(_prompb.write_request([({"__name__": "vm_stale"}, marker)]), True)
        headers = {"Content-Encoding": "snappy", "Content-Type": "application/x-protobuf"}
        assert requests.post(f"{url}/api/v1/write", data=body, headers=headers, timeout=10).ok
        requests.get(f"{url}/internal/force_flush", timeout=10)
        _until(lambda: len(_read(url, t0 - 1, t0 + 600_000, False).labels) == 3)
        yield url, t0
    finally:
        terminate(proc)


def _until(ready, timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        with contextlib.suppress(requests.RequestException):
            if ready():
                return
        time.sleep(0.2)
    raise AssertionError(f"not ready within {timeout} s")


def test_the_export_api_gives_what_range_selectors_give_for_special_values(special_vm) -> None:
    url, t0 = special_vm
    exported = _export_equals_range_selectors(url, t0 - 1, t0 + 600_000)
    values = dict(zip((s["__name__"] for s in exported.labels), (exported.of(i)[1] for i in range(3)), strict=True))  # fmt: skip
    assert np.isinf(values["vm_special"][:2]).all() and np.isnan(values["vm_stale"][1])


def test_export_lines_with_bare_infinities_null_and_long_integers() -> None:
    big = b"1" + b"0" * 308
    line = (
        b'{"metric":{"a":"},\\"values\\":["},"values":[-Inf,null,'
        + big
        + b'],"timestamps":[1,2,3]}'
    )
    labels, times, values = _export.parse_line(line)
    assert labels == {"a": '},"values":['}
    assert times.tolist() == [1, 2, 3]
    assert values.tolist()[0] == -np.inf and np.isnan(values[1]) and values[2] == 1e308
    with pytest.raises(ValueError):
        _export.parse_line(b'{"metric":{},"values":[1,2],"timestamps":[1]}')


def _instant(url: str, expr: str, at_ms: int) -> list[str]:
    params = {"query": expr, "time": f"{at_ms / 1000:.3f}"}
    result = requests.get(f"{url}/api/v1/query", params=params, timeout=10).json()["data"]["result"]
    return [r["value"][1] for r in result]


def test_victoriametrics_nan_samples_are_frozen_as_staleness_markers(
    special_vm, tmp_path: Path
) -> None:
    """It keeps only staleness NaNs (plain ones are dropped): the replay ends the series too."""
    url, t0 = special_vm
    start, end = (datetime.fromtimestamp(t / 1000, UTC) for t in (t0, t0 + 600_000))
    report = freeze(url, ['{__name__=~"vm_.*"}'], start, end, tmp_path / "frozen")
    assert (report["staleness"]["reproduced"], report["staleness"]["markers"]) == (True, 1)
    stored = _stale.from_file(tmp_path / "frozen", _fixture.verify(tmp_path / "frozen"))
    assert stored == [({"__name__": "vm_stale"}, [t0 + 15_000])]
    samples = _fixture.read(tmp_path / "frozen").samples
    assert not np.isnan(samples.values).any()
    with DemoPrometheus(data=tmp_path / "frozen", cache=tmp_path / "cache") as replay:
        for at in (t0 + 14_999, t0 + 15_001, t0 + 29_999, t0 + 30_000):
            assert _instant(replay.url, "vm_stale", at) == _instant(url, "vm_stale", at), at
        assert _instant(replay.url, "vm_stale", t0 + 15_001) == []
