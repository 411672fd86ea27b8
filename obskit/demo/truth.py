"""The ground truth of the demo data: what was drawn, before counters accumulate and buckets round.

Queries against the demo Prometheus are checked against this: counts and rates against the drawn
increments, quantiles against the raw observations (before bucketing), states against the model.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime

import numpy as np
import pandas as pd

from .generate import DemoData, generate
from .scenario import DemoSpec, incidents

__all__ = ["Truth", "truth"]

Match = Mapping[str, str | tuple[str, ...]]


def _selected(key_labels: tuple[tuple[str, str], ...], match: Match) -> bool:
    labels = dict(key_labels)
    for name, wanted in match.items():
        options = (wanted,) if isinstance(wanted, str) else wanted
        if labels.get(name) not in options:
            return False
    return True


def _seconds(at: datetime | pd.Timestamp | float) -> float:
    return float(at) if isinstance(at, int | float) else pd.Timestamp(at).timestamp()


@dataclass
class Truth:
    """Ground truth of one demo data set.

    >>> t = truth(DemoSpec(days=1, step=60))
    >>> t.total("voicebot_calls_total", t.start, t.end) > 0
    True
    """

    data: DemoData

    @property
    def spec(self) -> DemoSpec:
        return self.data.spec

    @property
    def start(self) -> float:
        return self.spec.start.timestamp()

    @property
    def end(self) -> float:
        return self.spec.end.timestamp()

    def _intervals(self, start: float, end: float) -> slice:
        """Scrape indexes k whose interval (t[k-1], t[k]] lies in (start, end]."""
        ts = self.spec.timestamps()
        lo = int(np.searchsorted(ts, start, side="right"))
        hi = int(np.searchsorted(ts, end, side="right"))
        return slice(lo, hi)

    def increments(self, name: str, **match: str | tuple[str, ...]) -> pd.Series:
        """Drawn increments of a counter per scrape interval (summed over matching series)."""
        ctx = self.data.context
        assert ctx is not None
        parts = [
            inc
            for (n, labels), inc in ctx.increments.items()
            if n == name and _selected(labels, match)
        ]
        if not parts:
            raise KeyError(f"no drawn counter {name} matches {dict(match)}")
        index = pd.to_datetime(self.spec.timestamps(), unit="s", utc=True)
        return pd.Series(np.sum(parts, axis=0), index=index, name=name)

    def total(self, name: str, start, end, **match: str | tuple[str, ...]) -> float:
        """What ``increase(name[end-start])`` at ``end`` should say, from the draws."""
        window = self._intervals(_seconds(start), _seconds(end))
        return float(self.increments(name, **match).to_numpy()[window].sum())

    def rate(self, name: str, start, end, **match: str | tuple[str, ...]) -> float:
        """Per-second rate over (start, end] from the draws."""
        return self.total(name, start, end, **match) / (_seconds(end) - _seconds(start))

    def observations(self, name: str, start, end, **match: str | tuple[str, ...]) -> np.ndarray:
        """Raw observed values (before bucketing) of a histogram in (start, end]."""
        ctx = self.data.context
        assert ctx is not None
        window = self._intervals(_seconds(start), _seconds(end))
        chunks = []
        for (n, labels), (interval, observed) in ctx.observations.items():
            if n == name and _selected(labels, match):
                keep = (interval >= window.start) & (interval < window.stop)
                chunks.append(observed[keep])
        if not chunks:
            raise KeyError(f"no drawn histogram {name} matches {dict(match)}")
        return np.concatenate(chunks)

    def quantile(self, name: str, q: float, start, end, **match: str | tuple[str, ...]) -> float:
        """The q-quantile of the raw observations in (start, end] (NaN when there are none)."""
        values = self.observations(name, start, end, **match)
        return float(np.quantile(values, q)) if values.size else float("nan")

    def bucket_bounds(self, name: str, value: float) -> tuple[float, float]:
        """The (lower, upper] bounds of the histogram bucket that holds ``value``."""
        from ..catalog import CATALOG_BY_NAME

        edges = (0.0, *CATALOG_BY_NAME[name].buckets, float("inf"))
        i = int(np.searchsorted(edges, value, side="left"))
        return edges[max(i - 1, 0)], edges[min(i, len(edges) - 1)]

    def gauge(self, name: str, at, **match: str | tuple[str, ...]) -> float:
        """Sum of the matching gauge series at the last scrape at or before ``at``."""
        ts = self.spec.timestamps()
        i = int(np.searchsorted(ts, _seconds(at), side="right")) - 1
        total, found = 0.0, False
        for s in self.data.series:
            present = s.present is None or bool(s.present[i])
            if s.name == name and present and _selected(tuple(s.labels.items()), match):
                total += float(s.values[i])
                found = True
        if not found:
            raise KeyError(f"no gauge {name} matches {dict(match)} at {at}")
        return total

    def incidents(self) -> pd.DataFrame:
        return incidents(self.spec)


_CACHE: dict[str, Truth] = {}


def truth(spec: DemoSpec | None = None) -> Truth:
    """The ground truth of a demo data set (drawn once per spec and kept)."""
    spec = spec or DemoSpec()
    if spec.key() not in _CACHE:
        _CACHE.clear()  # one data set at a time: ~50 MB of arrays
        _CACHE[spec.key()] = Truth(generate(spec))
    return _CACHE[spec.key()]
