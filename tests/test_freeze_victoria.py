"""Freeze from a real VictoriaMetrics (the demo week imported into it): the same samples.

VictoriaMetrics answers the same raw-sample reads (``sel[2h]`` at an instant) with
left-open windows, where Prometheus 2.x' are left-closed: the freeze must give every
sample once either way, at the generator's exact timestamps and values (to the precision
VictoriaMetrics itself stores).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from obskit.demo import DemoSpec, _fixture, generate
from obskit.demo.freeze import freeze

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
