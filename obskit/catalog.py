"""Metric catalogs: names, types, units and labels of a team's metrics, as YAML files it owns.

A catalog file (``obskit/catalogs/voicebot.yaml`` is the default: the demo's voice bot)::

    owns: [voicebot_]          # namespaces this file describes completely
    complete: true             # the label sets of the owned metrics are complete
    metrics:
    - name: voicebot_calls_total
      type: counter            # counter, gauge, histogram, summary, info
      unit: short              # a Grafana unit id (s, bytes, percentunit, ...)
      help: Finished calls by outcome and scenario.
      labels:                  # label -> the values known (may be empty)
        outcome: [bot_resolved, operator_transfer, abandoned]
      buckets: [0.1, 0.5, 1.0] # histograms only
      source: voicebot         # who exposes it (an exporter's name for theirs)

Lint, units, legends and completion read :func:`active`: the default, merged under the
files ``$OBSKIT_CATALOG`` names or :func:`use` was given; the demo generator draws
:data:`CATALOG`, the shipped voice-bot catalog. ``obskit catalog import`` writes such a
file from a live Prometheus or a ``prometheus_client`` registry.
"""

from __future__ import annotations

import contextlib
import contextvars
import difflib
import re
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd
import yaml

from .errors import ConfigError

__all__ = [
    "CATALOG",
    "DEFAULT_FILE",
    "Catalog",
    "Metric",
    "active",
    "closest_names",
    "dump",
    "find_metric",
    "from_files",
    "load",
    "loads",
    "metric_names",
    "search",
    "table",
    "use",
    "using",
]

_TYPES = ("counter", "gauge", "histogram", "summary", "info")
_NAME = re.compile(r"^[a-zA-Z_:][a-zA-Z0-9_:]*$")


@dataclass(frozen=True)
class Metric:
    """One metric family as the application (or a real exporter) exposes it.

    ``name`` is the family name as queried: counters carry ``_total``, histograms
    are queried through ``_bucket``/``_sum``/``_count``. ``values`` maps each label
    to the values the demo uses. ``unit`` is a Grafana unit id (``s``, ``bytes``,
    ``percentunit``, ``currencyUSD``, ``short``, ...).
    """

    name: str
    type: str
    unit: str
    help: str
    labels: tuple[str, ...] = ()
    values: dict[str, tuple[str, ...]] = field(default_factory=dict)
    source: str = "voicebot"
    buckets: tuple[float, ...] = ()
    complete: bool = False  # the label set is all the metric has

    def __post_init__(self) -> None:
        if not _NAME.match(self.name):
            raise ValueError(f"metric name {self.name!r} is not a valid Prometheus name")
        if self.type not in _TYPES:
            raise ValueError(f"{self.name}: type must be one of {_TYPES}, got {self.type!r}")
        if (
            self.type == "counter"
            and self.source == "voicebot"
            and not self.name.endswith("_total")
        ):
            raise ValueError(f"{self.name}: counters end in _total, e.g. voicebot_calls_total")
        if self.type == "histogram" and not self.buckets:
            raise ValueError(f"{self.name}: a histogram needs buckets, e.g. (0.1, 0.5, 1.0)")
        missing = set(self.values) - set(self.labels)
        if missing:
            raise ValueError(f"{self.name}: values given for undeclared labels {sorted(missing)}")

    @property
    def series_names(self) -> tuple[str, ...]:
        """Names that appear in Prometheus for this family."""
        if self.type == "histogram":
            return (f"{self.name}_bucket", f"{self.name}_sum", f"{self.name}_count")
        return (self.name,)

    @property
    def job(self) -> str:
        return {"voicebot": "voicebot"}.get(self.source, self.source.removesuffix("_exporter"))


_KEYS = {"name", "type", "unit", "help", "labels", "source", "buckets", "complete"}
DEFAULT_FILE = Path(__file__).parent / "catalogs" / "voicebot.yaml"
_SUFFIXES = ("_bucket", "_sum", "_count")


@dataclass(frozen=True)
class Catalog:
    """Metric families and the namespaces (name prefixes) whose every metric is listed.

    >>> VOICEBOT.owns_name("voicebot_calls_totl"), VOICEBOT.owns_name("node_load1")
    (True, False)
    """

    metrics: tuple[Metric, ...]
    owns: tuple[str, ...] = ()
    files: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        object.__setattr__(self, "_by_name", {m.name: m for m in self.metrics})

    def find(self, name: str) -> Metric | None:
        """The family a series name belongs to (``_bucket``/``_sum``/``_count`` resolved)."""
        table: dict[str, Metric] = self._by_name  # type: ignore[attr-defined]
        if name in table:
            return table[name]
        for suffix in _SUFFIXES:
            base = name.removesuffix(suffix)
            if base != name and base in table and table[base].type in ("histogram", "summary"):
                return table[base]
        return None

    def owns_name(self, name: str) -> bool:
        """Whether ``name`` lies in a namespace this catalog describes completely."""
        return any(name.startswith(prefix) for prefix in self.owns) and ":" not in name

    def merged(self, other: Catalog) -> Catalog:
        """Both catalogs; a family ``other`` lists again replaces this one's."""
        names = {m.name for m in other.metrics}
        kept = tuple(m for m in self.metrics if m.name not in names)
        owns = tuple(dict.fromkeys((*self.owns, *other.owns)))
        return Catalog(kept + other.metrics, owns, (*self.files, *other.files))


def loads(text: str, origin: str = "<catalog>") -> Catalog:
    """A :class:`Catalog` from YAML text; errors name ``origin``, the metric and a fix."""
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        raise ConfigError(
            f"catalog {origin} is not valid YAML ({exc}); see obskit/catalog.py for the format"
        ) from None
    if not isinstance(data, Mapping) or not isinstance(data.get("metrics"), list):
        raise ConfigError(
            f"catalog {origin} needs a top-level `metrics:` list (see obskit/catalog.py)"
        )
    owns = data.get("owns") or []
    if not isinstance(owns, list) or not all(isinstance(o, str) and o for o in owns):
        raise ConfigError(
            f"catalog {origin}: `owns` is a list of name prefixes like [voicebot_]; got {owns!r}"
        )
    complete = bool(data.get("complete", False))
    metrics = tuple(
        _metric(entry, origin, i, owns, complete) for i, entry in enumerate(data["metrics"])
    )
    return Catalog(metrics, tuple(owns), (origin,))


def _metric(entry: Any, origin: str, index: int, owns: list[str], complete: bool) -> Metric:
    where = f"catalog {origin}, metric #{index + 1}"
    if not isinstance(entry, Mapping) or "name" not in entry:
        raise ConfigError(f"{where}: each metric is a mapping with at least name, type, unit, help")
    where = f"catalog {origin}, metric {entry['name']!r}"
    unknown = set(entry) - _KEYS
    if unknown:
        raise ConfigError(f"{where}: unknown keys {sorted(unknown)}; the keys are {sorted(_KEYS)}")
    labels = entry.get("labels") or {}
    if isinstance(labels, list):
        labels = dict.fromkeys(labels, ())
    if not isinstance(labels, Mapping):
        raise ConfigError(f"{where}: labels maps each label to [values] (or lists label names)")
    owned = any(str(entry["name"]).startswith(prefix) for prefix in owns)
    try:
        return Metric(
            name=str(entry["name"]),
            type=str(entry.get("type", "gauge")),
            unit=str(entry.get("unit", "short")),
            help=str(entry.get("help", "")),
            labels=tuple(str(k) for k in labels),
            values={str(k): tuple(str(v) for v in (vs or ())) for k, vs in labels.items()},
            source=str(entry.get("source", "voicebot" if owned else "unknown")),
            buckets=tuple(float(b) for b in entry.get("buckets") or ()),
            complete=bool(entry.get("complete", complete and owned)),
        )
    except (ValueError, TypeError) as exc:
        raise ConfigError(f"{where}: {exc}") from None


def load(*paths: str | Path) -> Catalog:
    """The catalog of one or more files (a later file wins for a family listed twice).

    >>> load(DEFAULT_FILE).owns
    ('voicebot_',)
    """
    if not paths:
        raise ConfigError("load() needs at least one catalog file, e.g. load('metrics.yaml')")
    found: Catalog | None = None
    for path in paths:
        try:
            text = Path(path).read_text(encoding="utf-8")
        except OSError as exc:
            raise ConfigError(
                f"cannot read catalog {path}: {exc.strerror or exc}; check the path"
            ) from None
        one = loads(text, str(path))
        found = one if found is None else found.merged(one)
    assert found is not None
    return found


def dump(catalog: Catalog) -> str:
    """The catalog as YAML in the file format; deterministic (same catalog, same bytes)."""
    entries = []
    for m in catalog.metrics:
        entry: dict[str, Any] = {"name": m.name, "type": m.type, "unit": m.unit, "help": m.help}
        if m.labels:
            entry["labels"] = {label: _Flow(m.values.get(label, ())) for label in m.labels}
        if m.source not in ("voicebot", "unknown"):
            entry["source"] = m.source
        if m.buckets:
            entry["buckets"] = _Flow(m.buckets)
        if m.complete != catalog.owns_name(m.name):
            entry["complete"] = m.complete
        entries.append(entry)
    data = {"owns": _Flow(catalog.owns), "complete": True, "metrics": entries}
    return yaml.dump(data, Dumper=_Dumper, sort_keys=False, width=100, allow_unicode=True)


class _Flow(tuple):
    """A list written inline (``[a, b]``)."""


class _Dumper(yaml.SafeDumper):
    pass


_Dumper.add_representer(
    _Flow, lambda d, v: d.represent_sequence("tag:yaml.org,2002:seq", list(v), flow_style=True)
)

#: The shipped voice-bot catalog: what the demo generator draws.
VOICEBOT = load(DEFAULT_FILE)
CATALOG: tuple[Metric, ...] = VOICEBOT.metrics
_ACTIVE: Catalog | None = None
#: A catalog for the current context only (:func:`using`): a client's ``Settings.catalog``.
_SCOPED: contextvars.ContextVar[Catalog | None] = contextvars.ContextVar("catalog", default=None)


def active() -> Catalog:
    """The catalog lint, units and completion read: the one :func:`using` scopes, else what
    :func:`use` set, else the files ``$OBSKIT_CATALOG`` names (``os.pathsep``-separated)
    over the default, else the default."""
    global _ACTIVE
    scoped = _SCOPED.get()
    if scoped is not None:
        return scoped
    if _ACTIVE is None:
        from .config import catalog_files

        files = catalog_files()
        _ACTIVE = VOICEBOT.merged(load(*files)) if files else VOICEBOT
    return _ACTIVE


def use(
    catalog: Catalog | str | Path | Iterable[str | Path] | None = None, *, default: bool = True
) -> Catalog:
    """Make ``catalog`` (or the files named) the active one; ``None`` goes back to the default.

    With ``default`` the shipped voice-bot catalog stays underneath (yours wins).

    >>> use(DEFAULT_FILE).owns
    ('voicebot_',)
    >>> _ = use(None)
    """
    global _ACTIVE
    if catalog is None:
        _ACTIVE = None
        return active()
    if not isinstance(catalog, Catalog):
        paths = [catalog] if isinstance(catalog, str | Path) else list(catalog)
        catalog = load(*paths)
    _ACTIVE = VOICEBOT.merged(catalog) if default else catalog
    return _ACTIVE


def from_files(paths: Iterable[str | Path], *, default: bool = True) -> Catalog:
    """The catalog of ``paths`` (over the shipped one with ``default``), loaded once per set
    of files as they are now (a file edited since is read again)."""
    files = tuple(Path(p).expanduser() for p in paths)
    stamps = tuple((str(f), f.stat().st_mtime_ns if f.exists() else 0) for f in files)
    key = (stamps, default)
    if key not in _LOADED:
        mine = load(*files)
        _LOADED[key] = VOICEBOT.merged(mine) if default else mine
    return _LOADED[key]


_LOADED: dict[tuple[object, bool], Catalog] = {}


@contextlib.contextmanager
def using(catalog: Catalog | str | Path | Iterable[str | Path] | None) -> Iterator[Catalog]:
    """Make ``catalog`` (or the files named, over the default) active in this context only.

    ``None`` keeps what is active. Threads and other contexts are not affected, and the
    catalog before is back on exit: a client's ``Settings.catalog`` is used this way.

    >>> with using(DEFAULT_FILE) as scoped:
    ...     scoped.owns == active().owns
    True
    """
    if catalog is None:
        yield active()
        return
    if not isinstance(catalog, Catalog):
        catalog = from_files([catalog] if isinstance(catalog, str | Path) else catalog)
    token = _SCOPED.set(catalog)
    try:
        yield catalog
    finally:
        _SCOPED.reset(token)


def _values(metric: str, label: str) -> tuple[str, ...]:
    found = VOICEBOT.find(metric)
    assert found is not None, metric
    return found.values[label]


def _buckets(metric: str) -> tuple[float, ...]:
    found = VOICEBOT.find(metric)
    assert found is not None, metric
    return found.buckets


# The demo's label values and buckets, as the shipped catalog lists them.
OUTCOMES = _values("voicebot_calls_total", "outcome")
SCENARIOS = _values("voicebot_calls_total", "scenario")
TRANSFER_REASONS = _values("voicebot_transfers_total", "reason")
COST_COMPONENTS = _values("voicebot_call_cost_usd_total", "component")
DEPENDENCIES = _values("voicebot_circuit_breaker_state", "dependency")
STATUS_CODES = _values("voicebot_store_api_requests_total", "status_code")
BACKUP_COMPONENTS = _values("voicebot_backup_success", "component")
TOOLS = _values("voicebot_tool_calls_total", "tool_name")
CALL_BUCKETS = _buckets("voicebot_call_duration_seconds")
DB_BUCKETS = _buckets("voicebot_db_query_duration_seconds")

CATALOG_BY_NAME: dict[str, Metric] = {m.name: m for m in CATALOG}


def metric_names(metrics: Iterable[Metric] | None = None) -> list[str]:
    """Every series name the (active) catalog's families expose, sorted."""
    found = active().metrics if metrics is None else metrics
    return sorted(n for m in found for n in m.series_names)


def find_metric(name: str, metrics: Iterable[Metric] | None = None) -> Metric | None:
    """The family a series name belongs to in the active catalog (or in ``metrics``).

    >>> find_metric("voicebot_llm_latency_seconds_bucket").type
    'histogram'
    """
    if metrics is None:
        return active().find(name)
    return Catalog(tuple(metrics)).find(name)


def closest_names(name: str, n: int = 3) -> list[str]:
    """Known series names that look like ``name`` (for "did you mean" messages)."""
    return difflib.get_close_matches(name, metric_names(), n=n, cutoff=0.6)


def table(metrics: Iterable[Metric] | None = None) -> pd.DataFrame:
    """The catalog as a DataFrame: one row per family.

    >>> table().set_index("name").loc["voicebot_calls_total", "type"]
    'counter'
    """
    metrics = active().metrics if metrics is None else metrics
    rows = [
        {
            "name": m.name,
            "type": m.type,
            "unit": m.unit,
            "help": m.help,
            "labels": ", ".join(m.labels),
            "source": m.source,
            "series": _series_count(m),
        }
        for m in metrics
    ]
    return pd.DataFrame(
        rows, columns=["name", "type", "unit", "help", "labels", "source", "series"]
    )


def search(text: str, metrics: Iterable[Metric] | None = None) -> pd.DataFrame:
    """Catalog rows whose name, help or labels contain ``text`` (case-insensitive).

    >>> search("latency")["name"].tolist()[:2]
    ['voicebot_stt_latency_seconds', 'voicebot_llm_latency_seconds']
    """
    frame = table(metrics)
    hay = frame["name"] + " " + frame["help"] + " " + frame["labels"]
    return frame[hay.str.contains(text, case=False, regex=False)].reset_index(drop=True)


def _series_count(metric: Metric) -> int:
    n = 1
    for label in metric.labels:
        if label in ("fstype",):
            continue
        if label == "device" and "mountpoint" in metric.labels:
            continue  # device and mountpoint move together
        n *= len(metric.values.get(label, ("",)))
    if metric.type == "histogram":
        n *= len(metric.buckets) + 3  # finite buckets, +Inf, _sum, _count
    return n
