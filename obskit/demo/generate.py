"""Draw the demo data set and write it as OpenMetrics text, one file per TSDB block window."""

from __future__ import annotations

import hashlib
import itertools
import logging
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from .. import catalog as cat
from ._app import PEAK_CALLS_PER_SECOND, app_series
from ._model import Context, Series
from ._system import system_series
from .scenario import DemoSpec

__all__ = ["BLOCK_SECONDS", "DemoData", "generate", "write_openmetrics"]

log = logging.getLogger("obskit")

#: promtool cuts blocks on 2 h boundaries; one input file per block is parsed once.
BLOCK_SECONDS = 7200


@dataclass
class DemoData:
    """The drawn data set: every series, and the truth the draws came from."""

    spec: DemoSpec
    series: list[Series]
    truth: dict[str, np.ndarray] = field(default_factory=dict)
    context: Context | None = field(default=None, repr=False)

    @property
    def samples(self) -> int:
        return self.samples_before(len(self.spec.timestamps()))

    def samples_before(self, limit: int) -> int:
        """Samples in the first ``limit`` scrapes."""
        return int(
            sum(limit if s.present is None else int(s.present[:limit].sum()) for s in self.series)
        )

    def index_after(self, instant: float) -> int:
        """Number of scrapes at or before ``instant`` (unix seconds)."""
        return int(np.searchsorted(self.spec.timestamps(), instant, side="right"))

    def families(self) -> dict[str, list[Series]]:
        """Series grouped by family, in catalog order (the order written)."""
        order = {m.name.removesuffix("_total"): i for i, m in enumerate(cat.CATALOG)}
        groups: dict[str, list[Series]] = {}
        for s in self.series:
            groups.setdefault(s.family, []).append(s)
        return dict(sorted(groups.items(), key=lambda kv: order.get(kv[0], len(order))))


def generate(spec: DemoSpec | None = None) -> DemoData:
    """Draw every catalog series over the spec's span.

    >>> data = generate(DemoSpec(days=1, step=60))
    >>> sorted({s.labels["job"] for s in data.series})
    ['node', 'postgres', 'redis', 'voicebot']
    """
    spec = spec or DemoSpec()
    ctx = Context(spec)
    series = app_series(ctx)
    load = np.clip(ctx.truth["call_rate"] / PEAK_CALLS_PER_SECOND, 0.0, 1.2)
    series += system_series(ctx, load)
    return DemoData(spec, series, ctx.truth, ctx)


def _family_type(family: str, members: list[Series]) -> str:
    kind = members[0].type
    if kind == "counter" and not members[0].name.endswith("_total"):
        return "unknown"  # exporters' untyped counters (e.g. pg_stat_database_xact_commit)
    return kind


def windows(spec: DemoSpec) -> list[tuple[int, int]]:
    """Index ranges [lo, hi) of the scrapes in each 2 h block window, in time order."""
    ts = spec.timestamps()
    block = ts // BLOCK_SECONDS
    cuts = np.flatnonzero(np.diff(block)) + 1
    edges = [0, *cuts.tolist(), len(ts)]
    return list(itertools.pairwise(edges))


def render_window(data: DemoData, lo: int, hi: int) -> str:
    """OpenMetrics text for scrapes ``lo..hi-1``: each family under its TYPE line, ``# EOF`` last."""
    ts_text = [str(t) for t in data.spec.timestamps()[lo:hi].tolist()]
    chunks: list[str] = []
    for family, members in data.families().items():
        chunks.append(f"# TYPE {family} {_family_type(family, members)}\n")
        for s in members:
            prefix = s.name + s.rendered_labels() + " "
            values = s.values[lo:hi].tolist()
            if s.present is None:
                chunks.append(
                    "".join([f"{prefix}{v!r} {t}\n" for v, t in zip(values, ts_text, strict=True)])
                )
            else:
                keep = s.present[lo:hi].tolist()
                rows = zip(values, ts_text, keep, strict=True)
                chunks.append("".join([f"{prefix}{v!r} {t}\n" for v, t, k in rows if k]))
    chunks.append("# EOF\n")
    return "".join(chunks)


def write_openmetrics(
    data: DemoData, directory: Path, only: Iterable[int] | None = None
) -> list[Path]:
    """Write one ``block-NNNN.om`` file per 2 h window into ``directory``; returns the paths."""
    directory.mkdir(parents=True, exist_ok=True)
    paths = []
    for i, (lo, hi) in enumerate(windows(data.spec)):
        if only is not None and i not in only:
            continue
        path = directory / f"block-{i:04d}.om"
        path.write_text(render_window(data, lo, hi))
        paths.append(path)
    return paths


def digest(data: DemoData) -> str:
    """SHA-256 of the whole OpenMetrics output (what "byte-identical" is checked on)."""
    h = hashlib.sha256()
    for lo, hi in windows(data.spec):
        h.update(render_window(data, lo, hi).encode())
    return h.hexdigest()
