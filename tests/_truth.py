"""Evaluate dashboard panel queries the way Grafana would and compare them with the demo's truth.

Shared by test_truth_dashboards.py (the truth table) and test_mutations.py (broken queries must
fail it). The pieces:

- ``instant_runs``: where queries are evaluated: every 3 h over the whole span, plus every 15 min
  inside each scripted incident shorter than 6 h.
- ``Setting`` / ``plan_targets``: a dashboard viewed with a time range (6 h, 7 d, its own default)
  and variable choices, expanded by ``obskit.dashboards._plan.plan`` -- the code ``obskit dashboards
  check`` uses -- as if "now" were each instant.
- ``fetch``: each distinct expanded query runs once per run of instants, as one range query
  whose steps land on the instants (an instant query where the text changes with "now").
- Truth specs (``Gauge``, ``Counter``, ``Ratio``, ``GaugeRatio``, ``Quantile``): what the panel
  should show, computed from ``obskit.demo.truth``, and ``compare``: seen vs expected with the
  tolerance of the spec's kind.
"""

from __future__ import annotations

import copy
import json
import math
from collections.abc import Iterable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import numpy as np
import pandas as pd

from obskit._time import parse_duration
from obskit.dashboards._plan import Query, plan
from obskit.demo.truth import Truth
from obskit.promql._macros import ALL, rate_interval

ROOT = Path(__file__).resolve().parent.parent
DASHBOARDS = ROOT / "grafana" / "dashboards"
SCRAPE = 30.0

# -- tolerances (why each one: see test_truth_dashboards.py) ------------------------------------
COUNT_REL = 0.02  # counts, rates, gauges: relative
RATIO_PP = 0.01  # shares 0..1: absolute, one percentage point
MIN_TAIL = 5.0  # a quantile is compared with the truth when n * (1 - q) >= MIN_TAIL
MIN_TODAY = 2 * SCRAPE  # "today" windows need two scrapes before increase() has a value
KINDS = ("count", "ratio", "quantile", "state")


# -- where to evaluate ---------------------------------------------------------------------------


@dataclass(frozen=True)
class Run:
    """Evenly spaced instants (unix seconds): one range query's steps."""

    name: str
    start: float
    step: float
    count: int

    @property
    def instants(self) -> np.ndarray:
        return self.start + self.step * np.arange(self.count)


def instant_runs(truth: Truth) -> list[Run]:
    """Every 3 h over the span, and every 15 min inside each incident shorter than 6 h."""
    start, end = truth.start, truth.end
    runs = [Run("every 3h", start + 10800, 10800, int((end - start) // 10800))]
    for row in truth.incidents().itertuples():
        lo, hi = row.start.timestamp(), min(row.end.timestamp(), end)
        if hi - lo > 6 * 3600:
            continue  # long incidents hold several of the 3 h instants already
        first = (math.floor(lo / 900) + 1) * 900
        runs.append(Run(row.name, first, 900.0, int((hi - 1 - first) // 900) + 1))
    return runs


def all_instants(runs: Iterable[Run]) -> np.ndarray:
    return np.unique(np.concatenate([r.instants for r in runs]))


# -- how a dashboard is viewed -------------------------------------------------------------------


@dataclass(frozen=True)
class Setting:
    """A dashboard viewed with a time range and variable choices (others at their defaults)."""

    range: str  # "6h", "7d", ...
    variables: tuple[tuple[str, tuple[str, ...]], ...] = ()

    @property
    def label(self) -> str:
        chosen = ",".join(f"{k}={'|'.join(v)}" for k, v in self.variables)
        return f"{self.range}" + (f" {chosen}" if chosen else " defaults")

    @property
    def seconds(self) -> float:
        return parse_duration(self.range, "range")


def load_boards() -> dict[str, dict[str, Any]]:
    """The committed dashboard JSON (what Grafana provisions), by title."""
    boards = [json.loads(p.read_text()) for p in sorted(DASHBOARDS.glob("*.json"))]
    return {b["title"]: b for b in boards}


def view(board: Mapping[str, Any], setting: Setting) -> dict[str, Any]:
    """A copy of ``board`` with the setting's time range and variable choices applied."""
    data = copy.deepcopy(dict(board))
    data["time"] = {"from": f"now-{setting.range}", "to": "now"}
    chosen = dict(setting.variables)
    for var in data.get("templating", {}).get("list", []):
        if var["name"] in chosen:
            values = list(chosen[var["name"]])
            var["current"] = {"selected": True, "text": values, "value": values}
    return data


def selection(data: Mapping[str, Any]) -> dict[str, tuple[str, ...] | None]:
    """Each variable's chosen label values (None: All), read from the view, not from obskit."""
    out: dict[str, tuple[str, ...] | None] = {}
    for var in data.get("templating", {}).get("list", []):
        value = var.get("current", {}).get("value")
        values = [value] if isinstance(value, str) else list(value or [])
        out[var["name"]] = None if not values or ALL in values else tuple(values)
    return out


@dataclass
class Target:
    """One panel target of one dashboard view, planned at every instant."""

    dashboard: str
    setting: Setting
    panel: str
    ref_id: str
    expr: str
    zone: str
    chosen: dict[str, tuple[str, ...] | None]
    instants: np.ndarray
    queries: list[Query]  # one per instant

    @property
    def key(self) -> tuple[str, str, str]:
        return (self.dashboard, self.panel, self.ref_id)


def plan_targets(
    board: Mapping[str, Any], settings: Iterable[Setting], instants: np.ndarray
) -> list[Target]:
    """Every target of ``board`` under each setting, as Grafana would expand it at each instant.

    Panels with a relative time override (``timeFrom``) change with "now" and are planned at
    every instant; the others expand the same everywhere and are planned once.
    """
    moments = [datetime.fromtimestamp(float(t), UTC) for t in instants]
    out = []
    for setting in settings:
        data = view(board, setting)
        fixed = {(q.panel_id, q.ref_id): q for q in plan(data, moments[-1])}
        moving = {**data, "panels": [p for p in data["panels"] if p.get("timeFrom")]}
        per_instant: dict[tuple[int, str], list[Query]] = {}
        if moving["panels"]:
            for moment in moments:
                for q in plan(moving, moment):
                    per_instant.setdefault((q.panel_id, q.ref_id), []).append(q)
        for key, q in fixed.items():
            queries = per_instant.get(key, [q] * len(moments))
            out.append(
                Target(
                    str(board["title"]), setting, q.panel, q.ref_id, q.expr,
                    str(data.get("timezone") or "UTC"), selection(data), instants, queries,
                )
            )  # fmt: skip
    return out


def default_settings(
    board: Mapping[str, Any], alternatives: Sequence[Mapping[str, Sequence[str]]]
) -> list[Setting]:
    """6 h, 7 d and the board's own default range at default variables, then each alternative
    variable choice at 6 h and 7 d in turn (the first at 6 h, the second at 7 d, ...)."""
    own = str(board.get("time", {}).get("from", "now-6h")).removeprefix("now-")
    settings = [Setting(r) for r in dict.fromkeys(["6h", "7d", own])]
    for i, alt in enumerate(alternatives):
        chosen = tuple(sorted((k, tuple(v)) for k, v in alt.items()))
        settings.append(Setting(("6h", "7d")[i % 2], chosen))
    return settings


# -- running the queries -------------------------------------------------------------------------


def needs(targets: Iterable[Target]) -> dict[str, set[float]]:
    """Which instants each distinct expanded query must be evaluated at."""
    out: dict[str, set[float]] = {}
    for target in targets:
        for t, q in zip(target.instants, target.queries, strict=True):
            out.setdefault(q.expanded, set()).add(float(t))
    return out


#: Expanded query -> everything fetched for it: tidy rows, label columns as str, unix ``t``.
Results = dict[str, pd.DataFrame]


def _jobs(
    expr: str, instants: set[float], runs: Sequence[Run]
) -> list[tuple[str, float, float, float | None]]:
    """A range query per run of ``instants`` (each step an instant), instant queries for the rest.

    Measured here: one range query over the span at 15 min steps costs ~10x a 3 h-step one
    (Prometheus pays per step); a run's range query costs a few instant queries.
    """
    jobs: list[tuple[str, float, float, float | None]] = []
    left = set(instants)
    for run in runs:
        hit = {float(t) for t in run.instants} & left
        if len(hit) == run.count and run.count >= 2:
            jobs.append((expr, run.start, run.start + run.step * (run.count - 1), run.step))
            left -= hit
    return jobs + [(expr, t, t, None) for t in sorted(left)]


def _clean(frame: pd.DataFrame) -> pd.DataFrame:
    """A plain frame (no attrs to deep-copy), label columns as str, unix seconds in ``t``."""
    out = pd.DataFrame(
        {c: (frame[c] if c in ("timestamp", "value") else frame[c].astype(str)) for c in frame}
    )
    out["t"] = np.round(_unix(out["timestamp"])).astype(np.int64) if len(out) else 0
    return out


def fetch(client: Any, wanted: Mapping[str, set[float]], runs: Sequence[Run]) -> Results:
    """Evaluate each distinct query at the instants it is needed at; batched (see ``_jobs``)."""
    jobs = [job for expr, ts in wanted.items() for job in _jobs(expr, ts, runs)]

    def one(job: tuple[str, float, float, float | None]) -> tuple[str, pd.DataFrame]:
        expr, lo, hi, step = job
        if step is None:
            return expr, _clean(client.query(expr, time=datetime.fromtimestamp(lo, UTC)))
        start, end = datetime.fromtimestamp(lo, UTC), datetime.fromtimestamp(hi, UTC)
        return expr, _clean(client.query_range(expr, start, end, step))

    parts: dict[str, list[pd.DataFrame]] = {}
    with ThreadPoolExecutor(max_workers=3) as pool:
        for expr, frame in pool.map(one, jobs):
            parts.setdefault(expr, []).append(frame)
    results: Results = {}
    for expr, frames in parts.items():
        frame = pd.concat(frames, ignore_index=True) if len(frames) > 1 else frames[0]
        results[expr] = frame[frame["t"].isin([round(t) for t in wanted[expr]])]
    return results


def seen_frame(target: Target, results: Results) -> pd.DataFrame:
    """What the panel showed at each instant, as one tidy frame (``t``: unix seconds)."""
    by_expr: dict[str, list[int]] = {}
    for t, q in zip(target.instants, target.queries, strict=True):
        by_expr.setdefault(q.expanded, []).append(round(float(t)))
    parts = []
    for expr, ts in by_expr.items():
        frame = results[expr]
        parts.append(frame[frame["t"].isin(ts)] if len(by_expr) > 1 else frame)
    return pd.concat(parts, ignore_index=True) if len(parts) > 1 else parts[0]


_EPOCH = pd.Timestamp(0, tz="UTC")


def _unix(stamps: pd.Series) -> np.ndarray:
    """Unix seconds of a timestamp column, whatever its datetime unit."""
    return ((pd.to_datetime(stamps, utc=True) - _EPOCH) / pd.Timedelta(seconds=1)).to_numpy()


# -- what the truth says ------------------------------------------------------------------------


@dataclass
class Context:
    """Per instant: the windows the panel's query covers and the variables chosen."""

    instants: np.ndarray
    rate: np.ndarray  # $__rate_interval of the panel, seconds
    interval: np.ndarray  # $__interval of the panel
    range: np.ndarray  # the dashboard's time range
    today: np.ndarray  # seconds since local midnight in the dashboard's time zone
    chosen: dict[str, tuple[str, ...] | None]

    def window(self, kind: str | float) -> np.ndarray:
        if not isinstance(kind, str):
            return np.full(len(self.instants), float(kind))
        return {"rate": self.rate, "interval": self.interval, "range": self.range,
                "today": self.today}[kind]  # fmt: skip

    def match(self, base: Mapping[str, Any], variables: Mapping[str, str]) -> dict[str, Any]:
        """The truth's label match: fixed values plus each variable's chosen values."""
        out = dict(base)
        for label, variable in variables.items():
            chosen = self.chosen.get(variable)
            if chosen is not None:
                out[label] = chosen
        return out


def context(target: Target) -> Context:
    """The truth's view of a target: windows from Grafana's interval rules, not from its text."""
    zone = ZoneInfo("UTC" if target.zone in ("", "browser", "utc") else target.zone)
    today = []
    for t in target.instants:
        local = datetime.fromtimestamp(float(t), UTC).astimezone(zone)
        midnight = local.replace(hour=0, minute=0, second=0, microsecond=0)
        today.append(float(t) - midnight.timestamp())
    steps = np.array([q.step for q in target.queries])
    return Context(
        instants=target.instants,
        rate=np.array([rate_interval(s, SCRAPE) for s in steps]),
        interval=steps,
        range=np.full(len(target.instants), target.setting.seconds),
        today=np.array(today),
        chosen=target.chosen,
    )


@dataclass(frozen=True)
class Spec:
    """What one panel target should show; subclasses compute it from the truth."""

    kind: str = field(default="count", kw_only=True)
    labels: tuple[str, ...] = field(default=(), kw_only=True)

    def expected(self, truth: Truth, ctx: Context) -> pd.DataFrame:  # pragma: no cover
        raise NotImplementedError


@dataclass(frozen=True)
class Gauge(Spec):
    """``how by (labels) (name{match})`` at the last scrape at or before each instant."""

    name: str
    how: str = "sum"
    match: Mapping[str, Any] = field(default_factory=dict)
    variables: Mapping[str, str] = field(default_factory=dict)

    def expected(self, truth: Truth, ctx: Context) -> pd.DataFrame:
        m = ctx.match(self.match, self.variables)
        return truth.gauges(self.name, ctx.instants, by=self.labels, how=self.how, **m)


@dataclass(frozen=True)
class Counter(Spec):
    """Events of ``names`` in the window ending at each instant, per second if ``per_second``."""

    names: tuple[str, ...]
    window: str | float = "rate"
    per_second: bool = True
    scale: float = 1.0
    match: Mapping[str, Any] = field(default_factory=dict)
    variables: Mapping[str, str] = field(default_factory=dict)

    def expected(self, truth: Truth, ctx: Context) -> pd.DataFrame:
        width = ctx.window(self.window)
        m = ctx.match(self.match, self.variables)
        frames = [truth.totals(n, ctx.instants, width, by=self.labels, **m) for n in self.names]
        out = _summed(frames, self.labels)
        per_row = _per_instant(out, ctx.instants, width)
        out["value"] = out["value"] / (per_row if self.per_second else 1.0) * self.scale
        if self.window == "today":
            out["check"] = per_row >= MIN_TODAY
        return out


@dataclass(frozen=True)
class Ratio(Spec):
    """``num / den`` of two :class:`Counter` totals over the same window (NaN where den is 0);
    ``1 - num / den`` with ``complement``. With ``min_volume``: NaN (no value shown) where the
    window holds fewer than that many events of ``den`` (column ``hidden``)."""

    num: Counter
    den: Counter
    complement: bool = False
    min_volume: int | None = None

    def expected(self, truth: Truth, ctx: Context) -> pd.DataFrame:
        out = _divide(self.num.expected(truth, ctx), self.den.expected(truth, ctx),
                      self.labels, self.complement)  # fmt: skip
        if self.min_volume is None:
            return out
        events = replace(self.den, per_second=False, scale=1.0).expected(truth, ctx)
        keys = ["timestamp", *self.labels]
        events = events.astype({lb: str for lb in self.labels})[[*keys, "value"]]
        out = out.merge(events.rename(columns={"value": "volume"}), on=keys, how="left")
        out["hidden"] = out["volume"] < self.min_volume
        out.loc[out["hidden"], "value"] = np.nan
        return out


@dataclass(frozen=True)
class GaugeRatio(Spec):
    """``num / den`` of two gauges at each instant; ``1 - num / den`` with ``complement``."""

    num: Gauge
    den: Gauge
    complement: bool = False

    def expected(self, truth: Truth, ctx: Context) -> pd.DataFrame:
        return _divide(self.num.expected(truth, ctx), self.den.expected(truth, ctx),
                       self.labels, self.complement)  # fmt: skip


@dataclass(frozen=True)
class Quantile(Spec):
    """The q-quantile of the raw observations pooled per ``labels`` in the rate window."""

    name: str
    q: float
    window: str = "rate"
    variables: Mapping[str, str] = field(default_factory=dict)
    min_count: int | None = None  # the query's guard: no value from fewer observations
    kind: str = field(default="quantile", kw_only=True)

    def expected(self, truth: Truth, ctx: Context) -> pd.DataFrame:
        width = ctx.window(self.window)
        key = (id(truth), self.name, self.q, self.labels, ctx.instants.tobytes(), width.tobytes())
        if key not in _QUANTILES:  # shared by settings with the same windows
            found = truth.quantiles(self.name, self.q, ctx.instants, width, by=self.labels)
            _QUANTILES[key] = found.astype({lb: str for lb in self.labels})
        out = _QUANTILES[key].copy()
        for label, chosen in ctx.match({}, self.variables).items():
            out = out[out[label].isin(chosen)]  # variables filter labels the query keeps
        out["rank"] = out["n"] * (1 - self.q) < MIN_TAIL  # too few: check the bucket only
        out["rank_lower"], _ = truth.bucket_edges(self.name, out["rank_low"].to_numpy())
        _, out["rank_upper"] = truth.bucket_edges(self.name, out["rank_high"].to_numpy())
        out["hidden"] = out["n"] < (self.min_count or 0)  # the query's guard: no value shown
        out.loc[out["hidden"], ["value", "lower", "upper"]] = np.nan
        out.loc[out["hidden"], "rank"] = False  # compared exactly: both must be empty
        return out


_QUANTILES: dict[tuple[Any, ...], pd.DataFrame] = {}


def _per_instant(frame: pd.DataFrame, instants: np.ndarray, values: np.ndarray) -> np.ndarray:
    """``values`` (one per instant) aligned with the rows of a tidy frame."""
    where = np.searchsorted(instants, np.round(_unix(frame["timestamp"])))
    return np.asarray(values, dtype=float)[where]


def _summed(frames: Sequence[pd.DataFrame], labels: Sequence[str]) -> pd.DataFrame:
    if len(frames) == 1:
        return frames[0].copy()
    keys = ["timestamp", *labels]
    joined = pd.concat(frames).astype({lb: str for lb in labels})
    return joined.groupby(keys, as_index=False, sort=True)["value"].sum()


def _divide(num: pd.DataFrame, den: pd.DataFrame, labels: Sequence[str], complement: bool):
    keys = ["timestamp", *labels]
    num = num.astype({lb: str for lb in labels})
    den = den.astype({lb: str for lb in labels})
    both = num.merge(den, on=keys, suffixes=("_num", "_den"))
    with np.errstate(all="ignore"):
        value = np.where(both["value_den"] > 0, both["value_num"] / both["value_den"], np.nan)
    both["value"] = 1 - value if complement else value
    return both[[*keys, "value"]]


# -- comparing -----------------------------------------------------------------------------------


@dataclass
class Outcome:
    """How one target compared: the worst deviation, as a share of its tolerance and raw."""

    target: str
    kind: str
    compared: int = 0  # (series, instant) values compared
    skipped: int = 0  # (series, instant) values not compared ("today" right after midnight)
    rank_checked: int = 0  # quantiles with too few observations: only the bucket is checked
    hidden: int = 0  # (series, instant) values the query's guard must leave out (and did)
    instants: int = 0  # instants with at least one value checked (tolerance or bucket)
    tolerance_instants: int = 0  # instants with at least one value within-tolerance compared
    worst: float = 0.0  # deviation / tolerance (> 1 fails)
    worst_raw: float = 0.0  # in the kind's unit: relative (count), pp (ratio), bucket widths
    worst_at: str = ""
    failures: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.failures

    def fail(self, message: str) -> None:
        if len(self.failures) < 5:
            self.failures.append(message)
        elif len(self.failures) == 5:
            self.failures.append("...")


def deviation(kind: str, seen: np.ndarray, want: np.ndarray, lower=None, upper=None):
    """(deviation / tolerance, raw deviation) per row; both-NaN rows are 0, one NaN is inf."""
    seen, want = np.asarray(seen, float), np.asarray(want, float)
    missing = np.isnan(seen) != np.isnan(want)
    with np.errstate(all="ignore"):
        diff = np.abs(seen - want)
        if kind == "count":
            raw = np.where(want != 0, diff / np.abs(want), np.where(diff < 1e-9, 0.0, np.inf))
            norm = raw / COUNT_REL
        elif kind == "ratio":
            raw = diff
            norm = raw / RATIO_PP
        elif kind == "quantile":
            width = np.asarray(upper, float) - np.asarray(lower, float)
            beyond = np.isinf(width)  # true value above the last bound: Prometheus says the bound
            raw = np.where(beyond, np.where(seen >= np.asarray(lower) - 1e-12, 0.0, np.inf),
                           diff / width)  # fmt: skip
            norm = raw
        elif kind == "state":
            raw = np.where(diff == 0, 0.0, np.inf)
            norm = raw
        else:
            raise ValueError(f"kind must be one of {KINDS}; got {kind!r}")
    both_nan = np.isnan(seen) & np.isnan(want)
    norm = np.where(both_nan, 0.0, np.where(missing, np.inf, norm))
    raw = np.where(both_nan, 0.0, np.where(missing, np.inf, raw))
    return norm, raw


def compare(name: str, spec: Spec, seen: pd.DataFrame, want: pd.DataFrame) -> Outcome:
    """Seen vs expected, keyed by the spec's labels and the timestamp."""
    out = Outcome(name, spec.kind)
    labels = list(spec.labels)
    absent = [lb for lb in labels if lb not in seen.columns]
    if absent and len(seen):
        out.fail(f"result lacks label(s) {absent}: the query aggregates them away")
        out.worst = out.worst_raw = math.inf
        return out
    keys = [*labels, "t"]
    want, seen = _keyed(want, labels), _keyed(seen, labels)
    checked = want["check"].astype(bool) if "check" in want else pd.Series(True, want.index)
    skipped = want.loc[~checked, keys]
    out.skipped = len(skipped)
    want = want[checked]
    if len(skipped) and len(seen):
        marked = seen.merge(skipped.assign(_skip=True), on=keys, how="left")
        seen = marked[marked["_skip"].isna()].drop(columns="_skip")
    dupes = seen[seen.duplicated(keys, keep=False)]
    if len(dupes):
        out.fail(f"{len(dupes)} rows share labels {labels} at one instant: more series than "
                 f"the panel should show (extra labels {_extra(seen, labels)})")  # fmt: skip
        out.worst = out.worst_raw = math.inf
        return out
    bounds = (
        ["lower", "upper", "rank", "rank_lower", "rank_upper"] if spec.kind == "quantile" else []
    )
    both = want[[*keys, "value", *bounds]].merge(
        seen[[*keys, "value"]], on=keys, how="outer", suffixes=("_want", "_seen")
    )
    norm, raw = deviation(spec.kind, both["value_seen"], both["value_want"],
                          both.get("lower"), both.get("upper"))  # fmt: skip
    if spec.kind == "quantile":
        rank = both["rank"].fillna(False).to_numpy(dtype=bool)
        inside = _in_bucket(both["value_seen"], both["rank_lower"], both["rank_upper"])
        both_nan = both["value_seen"].isna() & both["value_want"].isna()
        norm = np.where(rank, np.where(inside | both_nan, 0.0, np.inf), norm)
        raw = np.where(rank, norm, raw)
        out.rank_checked = int(rank.sum())
        full = ~want["rank"].astype(bool) & ~_hidden(want)
        out.tolerance_instants = int(want.loc[full, "t"].nunique())
        out.compared = int(full.sum())
    else:
        out.compared = int((~_hidden(want)).sum())
        out.tolerance_instants = int(want.loc[~_hidden(want), "t"].nunique())
    out.instants = int(want["t"].nunique())
    out.hidden = int(_hidden(want).sum())
    for i in np.flatnonzero(norm > 1):
        row = both.iloc[i]
        at = datetime.fromtimestamp(int(row["t"]), UTC).strftime("%a %m-%d %H:%M")
        who = ",".join(f"{lb}={row[lb]}" for lb in labels)
        out.fail(f"{at} {who}: seen {row['value_seen']:.6g}, truth {row['value_want']:.6g}")
    if len(both):
        top = int(np.argmax(norm))
        out.worst, out.worst_raw = float(norm[top]), float(raw[top])
        stamp = int(both["t"].iloc[top])
        out.worst_at = datetime.fromtimestamp(stamp, UTC).strftime("%m-%d %H:%M")
    return out


def _hidden(want: pd.DataFrame) -> pd.Series:
    """Rows the query's guard leaves out (too few events or observations in the window)."""
    return (
        want["hidden"].fillna(False).astype(bool)
        if "hidden" in want
        else pd.Series(False, want.index)
    )


def _in_bucket(seen: pd.Series, lower: pd.Series, upper: pd.Series) -> np.ndarray:
    """Whether each value lies in [lower, upper] (an infinite upper: at least ``lower``)."""
    value, low, high = (np.asarray(x, dtype=float) for x in (seen, lower, upper))
    with np.errstate(invalid="ignore"):
        return (value >= low - 1e-12) & ((value <= high + 1e-12) | np.isinf(high))


def _keyed(frame: pd.DataFrame, labels: Sequence[str]) -> pd.DataFrame:
    """A copy with integer unix seconds in ``t`` and every key label as str ("" if absent)."""
    frame = frame.copy()
    if "t" not in frame:
        frame["t"] = np.round(_unix(frame["timestamp"])).astype(np.int64) if len(frame) else 0
    for lb in labels:
        frame[lb] = frame[lb].astype(str) if lb in frame else ""
    return frame


def _extra(seen: pd.DataFrame, labels: Sequence[str]) -> list[str]:
    return [c for c in seen.columns if c not in (*labels, "timestamp", "value", "t")]


def check_target(target: Target, spec: Spec, truth: Truth, results: Results) -> Outcome:
    name = f"{target.dashboard} / {target.panel} / {target.ref_id} [{target.setting.label}]"
    want = spec.expected(truth, context(target))
    return compare(name, spec, seen_frame(target, results), want)


def evaluate(
    client: Any,
    truth: Truth,
    targets: Sequence[Target],
    table: Mapping[tuple[str, str, str], Spec],
    runs: Sequence[Run],
) -> list[tuple[Target, Outcome]]:
    """Run every target's queries (batched, shared) and compare each with its truth."""
    results = fetch(client, needs(targets), runs)
    return [(t, check_target(t, table[t.key], truth, results)) for t in targets]
