"""The demo's inputs (span, step, seed), its time grid and its scripted incidents."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import numpy as np
import pandas as pd

from ..errors import ConfigError

__all__ = ["PINNED_END", "DemoSpec", "Incident", "incidents"]

#: Bumped whenever the generator's output changes; part of the cache key.
GENERATOR_VERSION = "1"
#: The end time the tests and the committed notebooks use (a Saturday, 19:00 in Berlin).
PINNED_END = datetime(2026, 2, 14, 18, 0, tzinfo=UTC)
BUSINESS_TZ = "Europe/Berlin"


@dataclass(frozen=True)
class DemoSpec:
    """What the demo data is drawn from: same spec, byte-identical data.

    >>> spec = DemoSpec(end=PINNED_END, days=7, step=30, seed=42)
    >>> spec.start.isoformat(), len(spec.timestamps())
    ('2026-02-07T18:00:00+00:00', 20161)
    """

    end: datetime = PINNED_END
    days: float = 7.0
    step: int = 30
    seed: int = 42
    tz: str = BUSINESS_TZ

    def __post_init__(self) -> None:
        if self.end.tzinfo is None:
            raise ConfigError(
                f"end must be timezone-aware, e.g. 2026-02-14T18:00:00Z; got {self.end}"
            )
        if not 10 <= self.step <= 3600:
            raise ConfigError(f"step must be 10..3600 seconds (a scrape interval); got {self.step}")
        if not 0 < self.days <= 60:
            raise ConfigError(f"days must be > 0 and <= 60; got {self.days}")
        aligned = int(self.end.timestamp()) // self.step * self.step
        object.__setattr__(self, "end", datetime.fromtimestamp(aligned, UTC))

    @property
    def start(self) -> datetime:
        return self.end - timedelta(seconds=self.n_steps * self.step)

    @property
    def n_steps(self) -> int:
        return round(self.days * 86400 / self.step)

    def timestamps(self) -> np.ndarray:
        """Unix seconds of every scrape, start and end included."""
        first = int(self.start.timestamp())
        return first + self.step * np.arange(self.n_steps + 1, dtype=np.int64)

    def key(self) -> str:
        """A short digest of every input and the generator version (the cache key)."""
        text = f"v{GENERATOR_VERSION}|{self.end.isoformat()}|{self.days}|{self.step}|{self.seed}|{self.tz}"
        return hashlib.sha256(text.encode()).hexdigest()[:16]

    def local_clock(self) -> tuple[np.ndarray, np.ndarray]:
        """Hour of day (float) and weekday (Mon=0) in the business time zone, per scrape."""
        idx = pd.DatetimeIndex(pd.to_datetime(self.timestamps(), unit="s", utc=True))
        local = idx.tz_convert(self.tz)
        hours = (
            local.hour.to_numpy() + local.minute.to_numpy() / 60 + local.second.to_numpy() / 3600
        )
        return hours.astype(np.float64), local.day_of_week.to_numpy()


@dataclass(frozen=True)
class Incident:
    """One scripted incident: what broke, when (UTC) and where it shows."""

    name: str
    start: datetime
    end: datetime
    description: str
    shows_in: str

    def mask(self, timestamps: np.ndarray) -> np.ndarray:
        return (timestamps >= self.start.timestamp()) & (timestamps < self.end.timestamp())


def _local(spec: DemoSpec, days_before: int, hour: int, minute: int) -> datetime:
    zone = ZoneInfo(spec.tz)
    day = spec.end.astimezone(zone).date() - timedelta(days=days_before)
    return datetime(day.year, day.month, day.day, hour, minute, tzinfo=zone).astimezone(UTC)


def scripted(spec: DemoSpec) -> list[Incident]:
    """Every scripted incident, placed on local business days before the span's end."""
    deploy = _local(spec, 3, 9, 0)
    return [
        Incident(
            "store_api_outage", _local(spec, 4, 10, 30), _local(spec, 4, 11, 15),
            "Store API returns 503/504; its breaker opens, calls transfer with reason "
            "store_api_unavailable and no orders or fittings are created.",
            "voicebot_store_api_requests_total{status_code=~\"5..\"}",
        ),
        Incident(
            "tts_cache_cold", deploy, deploy + timedelta(hours=3),
            "Deploy of 1.15.0 restarts the bot (counter reset) with an empty TTS cache: "
            "the hit rate collapses, then recovers over about three hours.",
            "voicebot_tts_cache_hits_total / voicebot_tts_cache_misses_total",
        ),
        Incident(
            "llm_slowdown", _local(spec, 2, 14, 5), _local(spec, 2, 15, 20),
            "gpt-4o-mini answers about 4x slower (p95 above 3 s); the LLM breaker is half-open.",
            "voicebot_llm_latency_seconds_bucket{model=\"gpt-4o-mini\"}",
        ),
        Incident(
            "backup_failed", _local(spec, 1, 2, 0), _local(spec, 0, 2, 0),
            "The nightly PostgreSQL backup fails; the next night's run succeeds again.",
            "voicebot_backup_success{component=\"postgres\"}",
        ),
    ]  # fmt: skip


def in_span(spec: DemoSpec) -> list[Incident]:
    """The scripted incidents that start inside the span, their ends clipped to it."""
    out = []
    for inc in scripted(spec):
        if spec.start <= inc.start < spec.end:
            out.append(
                Incident(inc.name, inc.start, min(inc.end, spec.end), inc.description, inc.shows_in)
            )
    return out


def incidents(spec: DemoSpec | None = None) -> pd.DataFrame:
    """The scripted incidents of a demo data set as a DataFrame (UTC times).

    >>> incidents()["name"].tolist()
    ['store_api_outage', 'tts_cache_cold', 'llm_slowdown', 'backup_failed']
    """
    spec = spec or DemoSpec()
    rows = [
        {
            "name": i.name,
            "start": pd.Timestamp(i.start),
            "end": pd.Timestamp(i.end),
            "description": i.description,
            "shows_in": i.shows_in,
        }
        for i in in_span(spec)
    ]
    return pd.DataFrame(rows, columns=["name", "start", "end", "description", "shows_in"])
