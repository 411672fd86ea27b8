"""The ground truth of the demo data: what was drawn, before counters accumulate and buckets round.

Queries against the demo Prometheus are checked against this: counts and rates against the drawn
increments, quantiles against the raw observations (before bucketing), states against the model.

Windows follow PromQL: a window ``w`` ending at ``t`` holds the scrapes in ``(t - w, t]``, which is
what ``increase(x[w])`` at ``t`` counts when ``t`` and ``w`` are whole scrapes (the demo scrapes
every ``spec.step`` seconds on a grid that ends at ``spec.end``). The vectorised methods
(:meth:`Truth.totals`, :meth:`Truth.gauges`, :meth:`Truth.quantiles`) return tidy frames in
obskit's data contract: ``timestamp`` (UTC), ``value``, then one column per kept label.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal, TypeAlias

import numpy as np
import pandas as pd

from ._model import Context
from ._truthmath import (
    Match,
    Moment,
    Moments,
    Window,
    instants,
    label_names,
    order_stats,
    seconds,
    selected,
    tidy,
    window_seconds,
)
from .generate import DemoData, generate
from .scenario import DemoSpec, incidents

__all__ = ["Truth", "truth"]

QuantileMethod: TypeAlias = Literal["linear", "inverted_cdf"]

#: Labels every series of a job carries; aggregations in the truth never group by them.
_TARGET_LABELS = ("job", "instance")
_5XX = ("500", "502", "503", "504")
_REDUCERS: dict[str, Callable[..., Any]] = {
    "sum": np.nansum,
    "min": np.nanmin,
    "max": np.nanmax,
    "avg": np.nanmean,
}


@dataclass
class Truth:
    """Ground truth of one demo data set.

    >>> t = truth(DemoSpec(days=1, step=60))
    >>> t.total("voicebot_calls_total", t.start, t.end) > 0
    True
    """

    data: DemoData
    _sorted_obs: dict[Any, Any] = field(default_factory=dict, init=False, repr=False)

    @property
    def spec(self) -> DemoSpec:
        return self.data.spec

    @property
    def start(self) -> float:
        return self.spec.start.timestamp()

    @property
    def end(self) -> float:
        return self.spec.end.timestamp()

    @property
    def _ctx(self) -> Context:
        ctx = self.data.context
        assert ctx is not None, "demo data drawn without its context"
        return ctx

    # -- windows ---------------------------------------------------------------------------

    def _intervals(self, start: float, end: float) -> slice:
        """Scrape indexes k whose interval (t[k-1], t[k]] lies in (start, end]."""
        ts = self.spec.timestamps()
        lo = int(np.searchsorted(ts, start, side="right"))
        hi = int(np.searchsorted(ts, end, side="right"))
        return slice(lo, hi)

    def _bounds(self, ends: Moments, window: Window) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Per end: unix seconds, and the scrape index range [lo, hi) of ``(end - window, end]``."""
        at = instants(ends)
        width = np.broadcast_to(window_seconds(window), at.shape)
        ts = self.spec.timestamps()
        lo = np.searchsorted(ts, at - width, side="right")
        hi = np.searchsorted(ts, at, side="right")
        return at, lo, hi

    # -- counters --------------------------------------------------------------------------

    def _counter_groups(
        self, name: str, by: Sequence[str], match: Match
    ) -> dict[tuple[str, ...], np.ndarray]:
        groups: dict[tuple[str, ...], np.ndarray] = {}
        for (n, labels), inc in self._ctx.increments.items():
            if n == name and selected(labels, match):
                key = tuple(dict(labels).get(b, "") for b in by)
                groups[key] = groups[key] + inc if key in groups else inc.copy()
        if not groups:
            raise KeyError(f"no drawn counter {name} matches {dict(match)}")
        return groups

    def increments(self, name: str, **match: str | tuple[str, ...]) -> pd.Series:
        """Drawn increments of a counter per scrape interval (summed over matching series).

        >>> t = truth(DemoSpec(days=1, step=60))
        >>> int(t.increments("voicebot_orders_created_total").sum()) > 0
        True
        """
        (inc,) = self._counter_groups(name, (), match).values()
        index = pd.to_datetime(self.spec.timestamps(), unit="s", utc=True)
        return pd.Series(inc, index=index, name=name)

    def total(self, name: str, start: Moment, end: Moment, **match: str | tuple[str, ...]) -> float:
        """What ``increase(name[end-start])`` at ``end`` should say, from the draws."""
        window = self._intervals(seconds(start), seconds(end))
        return float(self.increments(name, **match).to_numpy()[window].sum())

    def rate(self, name: str, start: Moment, end: Moment, **match: str | tuple[str, ...]) -> float:
        """Per-second rate over (start, end] from the draws."""
        return self.total(name, start, end, **match) / (seconds(end) - seconds(start))

    def totals(
        self,
        name: str,
        ends: Moments,
        window: Window,
        *,
        by: Sequence[str] = (),
        **match: str | tuple[str, ...],
    ) -> pd.DataFrame:
        """``sum by (by) (increase(name[window]))`` at each of ``ends``, from the draws.

        ``window`` is seconds, one for all ends or one per end. Every matching label
        combination gets a row per end, zero counts included (Prometheus returns those too).

        >>> t = truth(DemoSpec(days=1, step=60))
        >>> f = t.totals("voicebot_calls_total", [t.end], 3600, by=["outcome"])
        >>> sorted(f["outcome"].astype(str))
        ['abandoned', 'bot_resolved', 'operator_transfer']
        """
        at, lo, hi = self._bounds(ends, window)
        rows = {}
        for key, inc in self._counter_groups(name, by, match).items():
            cum = np.concatenate([[0.0], np.cumsum(inc)])
            rows[key] = {"value": cum[hi] - cum[lo]}
        return tidy(rows, by, at)

    def rates(
        self,
        name: str,
        ends: Moments,
        window: Window,
        *,
        by: Sequence[str] = (),
        **match: str | tuple[str, ...],
    ) -> pd.DataFrame:
        """``sum by (by) (rate(name[window]))`` at each of ``ends``: :meth:`totals` / window.

        >>> t = truth(DemoSpec(days=1, step=60))
        >>> float(t.rates("voicebot_calls_total", [t.end], 3600)["value"].iloc[0]) > 0
        True
        """
        out = self.totals(name, ends, window, by=by, **match)
        count = len(instants(ends))
        seconds = np.broadcast_to(window_seconds(window), (count,))
        out["value"] = out["value"] / np.tile(seconds, len(out) // count)  # groups × ends
        return out

    # -- histograms ------------------------------------------------------------------------

    def _obs_groups(
        self, name: str, by: Sequence[str], match: Match
    ) -> dict[tuple[str, ...], tuple[np.ndarray, np.ndarray]]:
        """Pooled (interval index, value) per group, sorted by interval; cached."""
        cache_key = (name, tuple(by), tuple(sorted((k, str(v)) for k, v in match.items())))
        if cache_key in self._sorted_obs:
            return self._sorted_obs[cache_key]
        pooled: dict[tuple[str, ...], list[tuple[np.ndarray, np.ndarray]]] = {}
        for (n, labels), pair in self._ctx.observations.items():
            if n == name and selected(labels, match):
                key = tuple(dict(labels).get(b, "") for b in by)
                pooled.setdefault(key, []).append(pair)
        if not pooled:
            raise KeyError(f"no drawn histogram {name} matches {dict(match)}")
        groups = {}
        for key, pairs in pooled.items():
            interval = np.concatenate([p[0] for p in pairs])
            values = np.concatenate([p[1] for p in pairs])
            order = np.argsort(interval, kind="stable")
            groups[key] = (interval[order], values[order])
        self._sorted_obs[cache_key] = groups
        return groups

    def observations(
        self, name: str, start: Moment, end: Moment, **match: str | tuple[str, ...]
    ) -> np.ndarray:
        """Raw observed values (before bucketing) of a histogram in (start, end]."""
        window = self._intervals(seconds(start), seconds(end))
        chunks = []
        for (n, labels), (interval, observed) in self._ctx.observations.items():
            if n == name and selected(labels, match):
                keep = (interval >= window.start) & (interval < window.stop)
                chunks.append(observed[keep])
        if not chunks:
            raise KeyError(f"no drawn histogram {name} matches {dict(match)}")
        return np.concatenate(chunks)

    def quantile(
        self,
        name: str,
        q: float,
        start: Moment,
        end: Moment,
        *,
        method: QuantileMethod = "linear",
        **match: str | tuple[str, ...],
    ) -> float:
        """The q-quantile of the raw observations in (start, end] (NaN when there are none).

        ``method`` is numpy's: ``linear`` (the default, interpolating between order
        statistics) or ``inverted_cdf`` (the observation of rank ceil(q·n), the one
        ``histogram_quantile`` locates the bucket of).
        """
        values = self.observations(name, start, end, **match)
        return float(np.quantile(values, q, method=method)) if values.size else float("nan")

    def quantiles(
        self,
        name: str,
        q: float,
        ends: Moments,
        window: Window,
        *,
        by: Sequence[str] = (),
        **match: str | tuple[str, ...],
    ) -> pd.DataFrame:
        """The q-quantile of the pooled raw observations in ``(end - window, end]`` per group.

        ``value`` is numpy's default (linear) quantile, NaN without observations. Also:
        ``n`` (observations in the window), ``lower``/``upper`` (the bucket holding
        ``value``) and ``rank_low``/``rank_high``: the observation of rank ceil(q·n) and
        the next one when q·n is whole -- the observation ``histogram_quantile`` locates
        the bucket of (its rank is q·n over the cumulative bucket counts), whatever n.

        >>> t = truth(DemoSpec(days=1, step=60))
        >>> f = t.quantiles("voicebot_llm_latency_seconds", 0.95, [t.end], 3600, by=["model"])
        >>> sorted(f.columns)
        ['lower', 'model', 'n', 'rank_high', 'rank_low', 'timestamp', 'upper', 'value']
        """
        at, lo, hi = self._bounds(ends, window)
        rows = {}
        for key, (interval, values) in self._obs_groups(name, by, match).items():
            first = np.searchsorted(interval, lo, side="left")
            stop = np.searchsorted(interval, hi, side="left")
            stats = np.array(
                [order_stats(values[a:b], q) for a, b in zip(first, stop, strict=True)]
            )
            stats = stats.reshape(len(at), 3)
            lower, upper = self.bucket_edges(name, stats[:, 0])
            rows[key] = {
                "value": stats[:, 0], "n": stop - first, "lower": lower, "upper": upper,
                "rank_low": stats[:, 1], "rank_high": stats[:, 2],
            }  # fmt: skip
        return tidy(rows, by, at)

    def bucket_bounds(self, name: str, value: float) -> tuple[float, float]:
        """The (lower, upper] bounds of the histogram bucket that holds ``value``."""
        lower, upper = self.bucket_edges(name, np.array([value]))
        return float(lower[0]), float(upper[0])

    def bucket_edges(self, name: str, values: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Vectorised :meth:`bucket_bounds` (NaN values get NaN bounds)."""
        from ..catalog import CATALOG_BY_NAME

        edges = np.array((0.0, *CATALOG_BY_NAME[name].buckets, float("inf")))
        i = np.searchsorted(edges, np.nan_to_num(values, nan=0.0), side="left")
        lower = edges[np.maximum(i - 1, 0)]
        upper = edges[np.minimum(i, len(edges) - 1)]
        missing = np.isnan(values)
        return np.where(missing, np.nan, lower), np.where(missing, np.nan, upper)

    # -- gauges ----------------------------------------------------------------------------

    def gauge(self, name: str, at: Moment, **match: str | tuple[str, ...]) -> float:
        """Sum of the matching gauge series at the last scrape at or before ``at``."""
        frame = self._gauge_frame(name, instants(at), (), "sum", match)
        if frame.empty or frame["value"].isna().all():
            raise KeyError(f"no gauge {name} matches {dict(match)} at {at}")
        return float(frame["value"].iloc[0])

    def gauges(
        self,
        name: str,
        ends: Moments,
        *,
        by: Sequence[str] = (),
        how: str = "sum",
        **match: str | tuple[str, ...],
    ) -> pd.DataFrame:
        """``how by (by) (name)`` at each of ``ends``: the last scrape at or before each end.

        ``how`` is ``sum``, ``min``, ``max`` or ``avg``; a group with no series present at
        an end (e.g. a build_info of a version not yet deployed) is NaN there.

        >>> t = truth(DemoSpec(days=1, step=60))
        >>> t.gauges("voicebot_backup_success", [t.end], by=["component"])["value"].tolist()
        [1.0, 1.0, 1.0]
        """
        return self._gauge_frame(name, instants(ends), by, how, match)

    def _gauge_frame(
        self, name: str, at: np.ndarray, by: Sequence[str], how: str, match: Match
    ) -> pd.DataFrame:
        idx = np.searchsorted(self.spec.timestamps(), at, side="right") - 1
        pooled: dict[tuple[str, ...], list[np.ndarray]] = {}
        for s in self.data.series:
            if s.name != name or not selected(tuple(s.labels.items()), match):
                continue
            values = s.values[idx].astype(np.float64)
            if s.present is not None:
                values = np.where(s.present[idx], values, np.nan)
            pooled.setdefault(tuple(s.labels.get(b, "") for b in by), []).append(values)
        if not pooled:
            raise KeyError(f"no gauge {name} matches {dict(match)}")
        reduce = _REDUCERS[how]
        rows = {}
        for key, parts in pooled.items():
            stack = np.vstack(parts)
            with np.errstate(all="ignore"):
                value = np.where(np.isnan(stack).all(axis=0), np.nan, reduce(stack, axis=0))
            rows[key] = {"value": value}
        return tidy(rows, by, at)

    # -- domain answers --------------------------------------------------------------------

    def outcome_shares(
        self, start: Moment, end: Moment, **match: str | tuple[str, ...]
    ) -> pd.Series:
        """Share of finished calls per outcome in (start, end] (NaN without calls).

        >>> t = truth(DemoSpec(days=1, step=60))
        >>> round(float(t.outcome_shares(t.start, t.end).sum()), 6)
        1.0
        """
        return self._shares("voicebot_calls_total", "outcome", start, end, match)

    def status_shares(self, start: Moment, end: Moment) -> pd.Series:
        """Share of store API responses per status code in (start, end]."""
        return self._shares("voicebot_store_api_requests_total", "status_code", start, end, {})

    def transfer_shares(self, start: Moment, end: Moment) -> pd.Series:
        """Share of operator transfers per reason in (start, end]."""
        return self._shares("voicebot_transfers_total", "reason", start, end, {})

    def _shares(self, name: str, label: str, start: Moment, end: Moment, match: Match):
        frame = self.totals(name, [end], seconds(end) - seconds(start), by=[label], **match)
        counts = frame.set_index(frame[label].astype(str))["value"]
        total = counts.sum()
        return (counts / total if total > 0 else counts * np.nan).rename(name)

    def hit_ratio(self, start: Moment, end: Moment) -> float:
        """TTS cache hits / (hits + misses) in (start, end] (NaN without lookups)."""
        hits = self.total("voicebot_tts_cache_hits_total", start, end)
        misses = self.total("voicebot_tts_cache_misses_total", start, end)
        return hits / (hits + misses) if hits + misses > 0 else float("nan")

    def error_ratio(self, start: Moment, end: Moment, codes: Iterable[str] = _5XX) -> float:
        """Share of store API responses with one of ``codes`` (default 5xx) in (start, end]."""
        shares = self.status_shares(start, end)
        return float(shares[shares.index.isin(list(codes))].sum())

    def cost_per_call(self, start: Moment, end: Moment, **match: str | tuple[str, ...]) -> float:
        """Money spent per finished call in (start, end] (NaN without calls)."""
        cost = self.total("voicebot_call_cost_usd_total", start, end, **match)
        calls = self.total("voicebot_calls_total", start, end)
        return cost / calls if calls > 0 else float("nan")

    def incidents(self) -> pd.DataFrame:
        return incidents(self.spec)

    # -- everything as frames --------------------------------------------------------------

    def frames(self, step: str | float = "1h") -> dict[str, pd.DataFrame]:
        """The whole truth as tidy frames on a regular grid, one per metric.

        Counters: the increase per ``step`` by all their labels; histograms: observation
        count and p50/p95/p99 per ``step`` (column ``quantile``); gauges: the value at each
        grid point by all labels. Grid points run from ``start + step`` to ``end``.

        >>> t = truth(DemoSpec(days=1, step=60))
        >>> f = t.frames("1h")
        >>> calls = f["voicebot_calls_total"]["value"].sum()
        >>> bool(calls == t.total("voicebot_calls_total", t.start, t.end))
        True
        """
        seconds = pd.Timedelta(step).total_seconds() if isinstance(step, str) else float(step)
        ends = self.start + seconds * np.arange(1, int((self.end - self.start) // seconds) + 1)
        out: dict[str, pd.DataFrame] = {}
        for name, labels in label_names(self._ctx.increments).items():
            out[name] = self.totals(name, ends, seconds, by=labels)
        for name, labels in label_names(self._ctx.observations).items():
            parts = []
            for q in (0.5, 0.95, 0.99):
                part = self.quantiles(name, q, ends, seconds, by=labels)
                parts.append(part.assign(quantile=str(q)))
            out[name] = pd.concat(parts, ignore_index=True)
        gauges = {s.name: s.labels for s in self.data.series if s.type == "gauge"}
        for name, first in gauges.items():
            by = [k for k in sorted(first) if k not in _TARGET_LABELS]
            out[name] = self.gauges(name, ends, by=by)
        return out


_CACHE: dict[str, Truth] = {}


def truth(spec: DemoSpec | None = None) -> Truth:
    """The ground truth of a demo data set (drawn once per spec and kept).

    >>> truth(DemoSpec(days=1, step=60)).spec.days
    1
    """
    spec = spec or DemoSpec()
    if spec.key() not in _CACHE:
        _CACHE.clear()  # one data set at a time: ~50 MB of arrays
        _CACHE[spec.key()] = Truth(generate(spec))
    return _CACHE[spec.key()]
