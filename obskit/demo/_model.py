"""Shared pieces of the demo generator: the draw context, series records and histogram maths."""

from __future__ import annotations

import zlib
from dataclasses import dataclass, field

import numpy as np

from .scenario import DemoSpec, Incident, in_span

__all__ = ["Context", "Series"]


@dataclass
class Series:
    """One time series of the demo: its family, sample name, labels and values per scrape."""

    family: str
    type: str
    name: str
    labels: dict[str, str]
    values: np.ndarray
    present: np.ndarray | None = None  # scrapes where the series exists; None = all

    def rendered_labels(self) -> str:
        parts = [f'{k}="{_escape(v)}"' for k, v in sorted(self.labels.items())]
        return "{" + ",".join(parts) + "}"


def _escape(value: str) -> str:
    return value.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")


@dataclass
class Context:
    """Everything the metric models draw from: the grid, local clock, incidents, RNGs."""

    spec: DemoSpec
    ts: np.ndarray = field(init=False)
    hours: np.ndarray = field(init=False)
    weekday: np.ndarray = field(init=False)
    incidents: dict[str, Incident] = field(init=False)
    truth: dict[str, np.ndarray] = field(default_factory=dict)
    # What was drawn, before counters accumulate and histograms bucket (the ground truth):
    increments: dict[tuple[str, tuple[tuple[str, str], ...]], np.ndarray] = field(
        default_factory=dict
    )
    observations: dict[tuple[str, tuple[tuple[str, str], ...]], tuple[np.ndarray, np.ndarray]] = (
        field(default_factory=dict)
    )

    def __post_init__(self) -> None:
        self.ts = self.spec.timestamps()
        self.hours, self.weekday = self.spec.local_clock()
        self.incidents = {i.name: i for i in in_span(self.spec)}

    @property
    def n(self) -> int:
        return len(self.ts)

    @property
    def step(self) -> int:
        return self.spec.step

    def record_increments(self, name: str, labels: dict[str, str], inc: np.ndarray) -> None:
        self.increments[(name, tuple(sorted(labels.items())))] = inc

    def record_observations(
        self, name: str, labels: dict[str, str], interval: np.ndarray, observed: np.ndarray
    ) -> None:
        self.observations[(name, tuple(sorted(labels.items())))] = (interval, observed)

    def rng(self, name: str) -> np.random.Generator:
        """An independent, reproducible stream per model, so adding one changes no other."""
        return np.random.default_rng([self.spec.seed, zlib.crc32(name.encode())])

    def during(self, name: str) -> np.ndarray:
        """Boolean mask of scrapes inside the named incident (all False if not in span)."""
        inc = self.incidents.get(name)
        return inc.mask(self.ts) if inc else np.zeros(self.n, dtype=bool)

    def since(self, name: str) -> np.ndarray:
        """Seconds since the named incident started (negative before; -inf if not in span)."""
        inc = self.incidents.get(name)
        if inc is None:
            return np.full(self.n, -np.inf)
        return (self.ts - inc.start.timestamp()).astype(np.float64)

    def smooth_noise(self, name: str, sigma: float, tau_steps: float = 40.0) -> np.ndarray:
        """AR(1) noise with the given stationary sigma and correlation time (in scrapes)."""
        rng = self.rng(name)
        phi = np.exp(-1.0 / tau_steps)
        eps = rng.normal(0.0, sigma * np.sqrt(1 - phi**2), self.n)
        out = np.empty(self.n)
        acc = rng.normal(0.0, sigma)
        for i in range(self.n):  # 20k steps: fast enough, and exactly reproducible
            acc = phi * acc + eps[i]
            out[i] = acc
        return out


def restart_index(ctx: Context) -> int | None:
    """First scrape after the bot's restart (the deploy), or None if not in span."""
    inc = ctx.incidents.get("tts_cache_cold")
    if inc is None:
        return None
    return int(np.searchsorted(ctx.ts, inc.start.timestamp(), side="left"))


def cumulative(ctx: Context, increments: np.ndarray, *, resets: bool, base: float = 0.0):
    """Counter values per scrape from per-interval increments, reset at the restart if asked."""
    values = base + np.cumsum(increments)
    idx = restart_index(ctx) if resets else None
    if idx is not None and 0 < idx < ctx.n:
        values[idx:] -= values[idx - 1]
    return values


def histogram_counts(
    interval: np.ndarray, observed: np.ndarray, buckets: tuple[float, ...], n: int
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Per-interval bucket counts (n × len(buckets)+1, cumulative over le), sums and counts."""
    edges = np.asarray(buckets)
    slot = np.searchsorted(edges, observed, side="left")  # x <= le lands in bucket le
    nb = len(edges) + 1
    grid = np.bincount(interval * nb + slot, minlength=n * nb).reshape(n, nb)
    per_le = np.cumsum(grid, axis=1)
    sums = np.bincount(interval, weights=observed, minlength=n)
    return per_le.astype(np.float64), sums, per_le[:, -1].astype(np.float64)


def draw_events(rng: np.random.Generator, rate_per_step: np.ndarray) -> np.ndarray:
    """Poisson event counts per interval for a given expected count per interval."""
    return rng.poisson(np.clip(rate_per_step, 0, None)).astype(np.int64)


def fmt_le(bound: float) -> str:
    """The `le` label as Prometheus client libraries write it."""
    return repr(float(bound))
