"""periods(): contiguous runs above/below a threshold, per series."""

import numpy as np
import pandas as pd
import pytest

from obskit.analysis import periods
from obskit.errors import ConfigError

TS = pd.date_range("2026-02-12T13:00Z", periods=10, freq="min")


def frame(values, **labels):
    data = {"timestamp": TS[: len(values)], "value": np.array(values, dtype=float)}
    data.update({k: pd.Categorical([v] * len(values)) for k, v in labels.items()})
    return pd.DataFrame(data)


def test_one_period_with_its_bounds_length_and_peak():
    out = periods(frame([1, 4, 5, 4, 1]), above=3)
    assert out.to_dict("records") == [{"start": TS[1], "end": TS[3], "minutes": 2.0, "peak": 5.0}]


def test_below_reports_the_minimum_and_nan_never_matches():
    out = periods(frame([0.9, 0.5, np.nan, 0.4, 0.9]), below=0.6)
    assert out[["start", "end", "peak"]].to_dict("records") == [
        {"start": TS[1], "end": TS[1], "peak": 0.5},
        {"start": TS[3], "end": TS[3], "peak": 0.4},
    ]


def test_periods_are_found_per_series_with_labels_first():
    both = pd.concat([frame([1, 5, 5, 1], model="a"), frame([5, 1, 1, 5], model="b")])
    out = periods(both, above=3)
    assert list(out.columns) == ["model", "start", "end", "minutes", "peak"]
    assert out["model"].tolist() == ["a", "b", "b"]


def test_gaps_in_the_samples_split_a_period():
    f = frame([5, 5, 5, 5, 5]).drop(index=2)
    assert len(periods(f, above=3)) == 2
    assert len(periods(f, above=3, max_gap="5m")) == 1


def test_min_duration_drops_blips():
    assert len(periods(frame([5, 1, 5, 5, 5]), above=3, min_duration="2m")) == 1


def test_threshold_is_required_once():
    with pytest.raises(ConfigError, match="exactly one of above= or below="):
        periods(frame([1]), above=1, below=2)


def test_empty_frame_gives_empty_periods():
    out = periods(frame([]), above=1)
    assert out.empty and list(out.columns) == ["start", "end", "minutes", "peak"]
