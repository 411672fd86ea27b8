"""Write a catalog from what a server or an application knows: ``obskit catalog import``.

From a live Prometheus: its ``/api/v1/metadata`` (type, help, unit) and the label names
and values of the series that match. Backfilled data has no metadata, so there the type
and unit come from Prometheus' naming conventions (``_total`` counter, ``_bucket`` with
``le`` histogram, ``_seconds`` seconds, ...). From a ``prometheus_client`` registry (the
application's own metrics module): its families' types, help, units, label names and
histogram buckets.

>>> from_series({}, [{"__name__": "shop_orders_total", "job": "shop", "kind": "web"}],
...             owns=["shop_"]).metrics[0].type
'counter'
"""

from __future__ import annotations

import importlib
import math
from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from .catalog import Catalog, Metric
from .errors import ConfigError

__all__ = ["from_client", "from_registry", "from_series", "registry_at"]

#: Labels the scrape adds; a catalog describes what the application exposes.
TARGET_LABELS = ("job", "instance")
#: Known values kept per label (a label with more is listed with none: too many to matter).
MAX_VALUES = 100
_UNITS = (("_timestamp_seconds", "dateTimeAsIso"), ("_seconds", "s"), ("_bytes", "bytes"),
          ("_ratio", "percentunit"), ("_percent", "percent"), ("_usd", "currencyUSD"))  # fmt: skip


def _unit(name: str) -> str:
    base = name.removesuffix("_total")
    return next((unit for suffix, unit in _UNITS if base.endswith(suffix)), "short")


def from_series(
    metadata: Mapping[str, Sequence[Mapping[str, str]]],
    series: Iterable[Mapping[str, str]],
    *,
    owns: Sequence[str] = (),
) -> Catalog:
    """A catalog of the families ``series`` (label sets with ``__name__``) belong to.

    ``metadata`` is ``/api/v1/metadata``'s ``data``; names it lacks are typed by convention.
    """
    labels: dict[str, dict[str, set[str]]] = defaultdict(lambda: defaultdict(set))
    for one in series:
        name = one.get("__name__")
        if not name:
            continue
        seen = labels[str(name)]
        for key, value in one.items():
            if key not in ("__name__", *TARGET_LABELS):
                seen[key].add(str(value))
    families = _families(labels, metadata)
    metrics = tuple(
        _metric(family, facts, labels, metadata, owns) for family, facts in families.items()
    )
    return Catalog(tuple(sorted(metrics, key=lambda m: m.name)), tuple(owns))


def _families(
    labels: Mapping[str, Mapping[str, set[str]]], metadata: Mapping[str, Any]
) -> dict[str, tuple[str, list[str]]]:
    """family -> (type, the series names it has)."""
    out: dict[str, tuple[str, list[str]]] = {}
    for name in sorted(labels):
        family, typ = _family_of(name, labels, metadata)
        out.setdefault(family, (typ, []))[1].append(name)
    return out


def _family_of(
    name: str, labels: Mapping[str, Mapping[str, set[str]]], metadata: Mapping[str, Any]
) -> tuple[str, str]:
    for suffix in ("_bucket", "_sum", "_count"):
        base = name.removesuffix(suffix)
        if base == name:
            continue
        typ = _meta(metadata, base).get("type")
        if typ in ("histogram", "summary"):
            return base, typ
        if "le" in labels.get(f"{base}_bucket", {}):
            return base, "histogram"
        if "quantile" in labels.get(base, {}):
            return base, "summary"
    if "quantile" in labels[name]:
        return name, "summary"
    typ = _meta(metadata, name).get("type") or _meta(metadata, name.removesuffix("_total")).get(
        "type"
    )
    return name, _convention(name, typ)


def _convention(name: str, typ: str | None) -> str:
    if typ in ("counter", "gauge", "histogram", "summary", "info"):
        return typ
    if typ == "stateset":
        return "gauge"
    if name.endswith("_total"):
        return "counter"
    return "info" if name.endswith("_info") else "gauge"


def _meta(metadata: Mapping[str, Any], family: str) -> Mapping[str, str]:
    entries = metadata.get(family) or []
    return entries[-1] if entries else {}


def _metric(
    family: str,
    facts: tuple[str, list[str]],
    labels: Mapping[str, Mapping[str, set[str]]],
    metadata: Mapping[str, Any],
    owns: Sequence[str],
) -> Metric:
    typ, names = facts
    merged: dict[str, set[str]] = defaultdict(set)
    for name in names:
        for key, seen in labels.get(name, {}).items():
            merged[key] |= seen
    buckets = sorted(float(b) for b in merged.pop("le", set()) if not math.isinf(float(b)))
    merged.pop("quantile", None)
    meta = _meta(metadata, family)
    unit = {"seconds": "s", "bytes": "bytes"}.get(meta.get("unit", ""), _unit(family))
    values = {k: _values(v) for k, v in sorted(merged.items())}
    return Metric(
        name=family, type=typ if typ != "histogram" or buckets else "gauge", unit=unit,
        help=meta.get("help", ""), labels=tuple(values), values=values,
        source="prometheus",
        buckets=tuple(buckets), complete=any(family.startswith(o) for o in owns),
    )  # fmt: skip


def _values(found: set[str]) -> tuple[str, ...]:
    return tuple(sorted(found)) if len(found) <= MAX_VALUES else ()


def from_client(
    client: Any,
    match: Sequence[str],
    *,
    owns: Sequence[str] = (),
    start: Any = "-1h",
    end: Any = "now",
) -> Catalog:
    """The catalog of the series ``match`` selects on ``client``'s server (last hour by default)."""
    table = client.series(list(match), start, end)
    series = [
        {k: v for k, v in row.items() if isinstance(v, str)} for row in table.to_dict("records")
    ]
    if not series:
        raise ConfigError(
            f"no series match {' '.join(match)} between {start} and {end} on {client.url}; "
            "check the selector and the time range (e.g. --match '{job=\"voicebot\"}')"
        )
    metrics = client.metrics()
    known = metrics[metrics["source"] == "prometheus"]
    metadata = {
        str(r["name"]): [{"type": str(r["type"]), "help": str(r["help"]), "unit": str(r["unit"])}]
        for r in known.to_dict("records")
    }
    return from_series(metadata, series, owns=owns)


def registry_at(spec: str) -> Any:
    """The ``prometheus_client`` registry ``module:attribute`` names (e.g. ``app.metrics:REGISTRY``)."""
    module_name, sep, attribute = spec.partition(":")
    if not sep or not module_name or not attribute:
        raise ConfigError(
            f"--registry takes module:attribute, e.g. app.metrics:REGISTRY; got {spec!r}"
        )
    try:
        module = importlib.import_module(module_name)
    except ImportError as exc:
        raise ConfigError(
            f"cannot import {module_name!r} for --registry ({exc}); is it on PYTHONPATH?"
        ) from None
    registry = getattr(module, attribute, None)
    if registry is None or not callable(getattr(registry, "collect", None)):
        raise ConfigError(
            f"{spec}: {attribute} is not a prometheus_client registry (it has no collect())"
        )
    return registry


def from_registry(registry: Any, *, owns: Sequence[str] = ()) -> Catalog:
    """The catalog of a ``prometheus_client`` registry's families (label names from its metrics)."""
    names = _label_names(registry)
    metrics = []
    for family in registry.collect():
        typ = (
            family.type
            if family.type in ("counter", "gauge", "histogram", "summary", "info")
            else "gauge"
        )
        name = f"{family.name}_total" if typ == "counter" else family.name
        labels = names.get(family.name, ())
        seen: dict[str, set[str]] = {label: set() for label in labels}
        buckets: set[float] = set(_upper_bounds(registry, family.name))
        for sample in family.samples:
            for key, value in sample.labels.items():
                if key == "le":
                    if not math.isinf(float(value)):
                        buckets.add(float(value))
                elif key != "quantile":
                    seen.setdefault(key, set()).add(str(value))
        unit = {"seconds": "s", "bytes": "bytes"}.get(family.unit or "", _unit(name))
        owned = any(name.startswith(o) for o in owns)
        metrics.append(Metric(
            name=name, type=typ if typ != "histogram" or buckets else "gauge", unit=unit,
            help=family.documentation, labels=tuple(seen), values={k: _values(v) for k, v in seen.items()},
            source="registry", buckets=tuple(sorted(buckets)),
            complete=owned,
        ))  # fmt: skip
    return Catalog(tuple(sorted(metrics, key=lambda m: m.name)), tuple(owns))


def _collectors(registry: Any) -> list[Any]:
    return list(getattr(registry, "_collector_to_names", {}) or [])


def _label_names(registry: Any) -> dict[str, tuple[str, ...]]:
    """Family name -> label names, also for labelled metrics with no child yet."""
    out = {}
    for collector in _collectors(registry):
        name = getattr(collector, "_name", None)
        if name:
            out[str(name).removesuffix("_total")] = tuple(getattr(collector, "_labelnames", ()))
    return out


def _upper_bounds(registry: Any, family: str) -> list[float]:
    for collector in _collectors(registry):
        if getattr(collector, "_name", None) == family:
            return [b for b in getattr(collector, "_upper_bounds", []) if not math.isinf(b)]
    return []
