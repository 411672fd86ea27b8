"""PromQL completion for the kernel: what the cursor stands on, and what can go there.

:func:`promql_before_cursor` finds the PromQL text before the cursor (in a ``%%promql``
cell, or inside the string argument of ``client.query(...)``, ``obskit.validate(...)``,
a ``promql`` builder, ...); :func:`place` says what the cursor stands on (a metric name,
a label name, a label value, a function, a macro); :class:`Vocabulary` knows the names,
labels and values of one client's server (cached, refreshed on demand) and the catalog.
"""

from __future__ import annotations

import re
import threading
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

from ..catalog import CATALOG, find_metric, metric_names

__all__ = [
    "FUNCTIONS",
    "MACROS",
    "Place",
    "Vocabulary",
    "complete",
    "place",
    "promql_before_cursor",
]

#: PromQL functions and aggregation operators offered where a name can start.
FUNCTIONS = (
    "abs", "absent", "absent_over_time", "avg", "avg_over_time", "bottomk", "ceil", "changes",
    "clamp", "clamp_max", "clamp_min", "count", "count_over_time", "count_values",
    "day_of_month", "day_of_week", "days_in_month", "delta", "deriv", "exp", "floor",
    "group", "histogram_quantile", "holt_winters", "hour", "idelta", "increase", "irate",
    "label_join", "label_replace", "last_over_time", "ln", "log10", "log2", "max",
    "max_over_time", "min", "min_over_time", "minute", "month", "predict_linear",
    "present_over_time", "quantile", "quantile_over_time", "rate", "resets", "round",
    "scalar", "sort", "sort_desc", "sqrt", "stddev", "stddev_over_time", "stdvar",
    "stdvar_over_time", "sum", "sum_over_time", "time", "timestamp", "topk", "vector", "year",
)  # fmt: skip
#: Grafana macros offered after ``$``.
MACROS = ("__interval", "__interval_ms", "__rate_interval", "__rate_interval_ms", "__range",
          "__range_s", "__range_ms", "__from", "__to")  # fmt: skip
_CALLS = re.compile(
    r"(?:\.(?:query|query_range|query_stats|series_count)|\bvalidate|\blint|\badd_panel"
    r"|\bpromql\.\w+)\(\s*(?:[\w.]+\s*,\s*)?[rRbB]?(?P<q>\"\"\"|'''|\"|')"
)
_MATCHER_VALUE = re.compile(
    r"(?P<label>[a-zA-Z_]\w*)\s*(?:=~|!~|!=|=)\s*\"(?P<value>(?:[^\"\\]|\\.)*)$"
)
_SELECTOR_OPEN = re.compile(r"(?P<metric>[a-zA-Z_:][\w:]*)?\s*\{(?P<inside>[^{}]*)$")
_GROUPING_OPEN = re.compile(
    r"\b(?:by|without|on|ignoring|group_left|group_right)\s*\((?P<inside>[^()]*)$"
)
_WORD = re.compile(r"[a-zA-Z_:][\w:]*$")
_METRIC_IN = re.compile(r"[a-zA-Z_:][\w:]*(?=\s*[{\[)])")


@dataclass(frozen=True)
class Place:
    """What the cursor stands on: ``kind`` is ``metric``, ``label``, ``value`` or ``macro``.

    ``prefix`` is the part already typed; ``metric`` the selector's metric (for labels and
    values), ``label`` the matcher's label (for values), ``metrics`` every metric the
    query names (for ``by (...)`` labels).
    """

    kind: str
    prefix: str
    metric: str | None = None
    label: str | None = None
    metrics: tuple[str, ...] = ()


def promql_before_cursor(code: str, cursor: int) -> str | None:
    """The PromQL text before the cursor, or ``None`` when the cursor is not in PromQL.

    >>> promql_before_cursor("%%promql --range 6h\\nsum by (mod", 31)
    'sum by (mod'
    >>> promql_before_cursor('df = client.query_range("voicebot_llm_l', 39)
    'voicebot_llm_l'
    >>> promql_before_cursor("x = 1", 5) is None
    True
    """
    before = code[:cursor]
    if before.lstrip().startswith("%%promql"):
        first = before.lstrip().find("\n")
        return None if first < 0 else before.lstrip()[first + 1 :]
    line_start = before.rfind("\n") + 1
    if before[line_start:].lstrip().startswith("%promql "):
        return before[line_start:].lstrip()[len("%promql ") :].split(" -", 1)[0]
    last = None
    for match in _CALLS.finditer(before):
        last = match
    if last is None:
        return None
    text = before[last.end() :]
    quote = last.group("q")
    return None if quote in text.replace("\\" + quote, "") else text


def place(text: str) -> Place:
    """What the cursor at the end of ``text`` (PromQL) stands on.

    >>> place('sum by (mo')
    Place(kind='label', prefix='mo', metric=None, label=None, metrics=())
    >>> place('rate(voicebot_llm_requests_total{model="gpt').kind
    'value'
    >>> place("$__rate").kind
    'macro'
    """
    masked = _mask(text)
    value = _MATCHER_VALUE.search(text)
    selector = _SELECTOR_OPEN.search(masked)
    if value and selector:
        return Place(
            "value", _unescape(value.group("value")), selector.group("metric"), value.group("label")
        )
    word = _WORD.search(text)
    prefix = word.group(0) if word else ""
    head = text[: len(text) - len(prefix)]
    if head.endswith("$"):
        return Place("macro", prefix)
    if selector and not selector.group("inside").count('"') % 2:
        return Place("label", prefix, selector.group("metric"))
    grouping = _GROUPING_OPEN.search(masked)
    if grouping:
        return Place("label", prefix, metrics=tuple(dict.fromkeys(_METRIC_IN.findall(head))))
    return Place("metric", prefix)


def _mask(text: str) -> str:
    """``text`` with the inside of every closed string literal blanked (``{`` in a value)."""
    out, quote, start = list(text), None, 0
    i = 0
    while i < len(text):
        char = text[i]
        if quote is None and char in "\"'`":
            quote, start = char, i
        elif quote is not None and char == "\\" and quote != "`":
            i += 1
        elif quote is not None and char == quote:
            out[start + 1 : i] = "_" * (i - start - 1)
            quote = None
        i += 1
    return "".join(out)


def _unescape(value: str) -> str:
    return re.sub(r"\\(.)", r"\1", value)


class Vocabulary:
    """Metric names, label names and label values of one server, fetched once and cached.

    ``fetch`` is the client (``metrics``/``labels``/``label_values`` are used); the
    catalog's names are always offered too. :meth:`refresh` forgets what was fetched.
    """

    def __init__(
        self, client: Any = None, catalog: Callable[[], Iterable[str]] = metric_names
    ) -> None:
        self.client = client
        self._catalog = catalog
        self._lock = threading.Lock()
        self._cache: dict[tuple[str, ...], list[str]] = {}

    def refresh(self) -> None:
        with self._lock:
            self._cache.clear()

    def _cached(self, key: tuple[str, ...], fetch: Callable[[], Iterable[str]]) -> list[str]:
        with self._lock:
            if key in self._cache:
                return self._cache[key]
        try:
            found = sorted({str(v) for v in fetch()})
        except Exception:  # completion must never raise into the kernel; offer what is known
            found = []
        with self._lock:
            self._cache[key] = found
        return found

    def metric_names(self) -> list[str]:
        live = (
            self._cached(("names",), lambda: _column(self.client.label_values("__name__")))
            if self.client
            else []
        )
        return sorted({*live, *self._catalog()})

    def label_names(self, metric: str | None) -> list[str]:
        known = _catalog_labels(metric)
        if self.client is not None:
            key = ("labels", metric or "")
            known |= set(self._cached(key, lambda: _column(self.client.labels(metric))))
        return sorted(known - {"__name__"})

    def label_values(self, label: str, metric: str | None) -> list[str]:
        known = _catalog_values(label, metric)
        if self.client is not None:
            key = ("values", label, metric or "")
            known |= set(
                self._cached(key, lambda: _column(self.client.label_values(label, metric)))
            )
        return sorted(known)


def _catalog_labels(metric: str | None) -> set[str]:
    found = find_metric(metric) if metric else None
    if found is not None:
        return set(found.labels) | ({"le"} if (metric or "").endswith("_bucket") else set())
    return set() if metric else {label for m in CATALOG for label in m.labels}


def _catalog_values(label: str, metric: str | None) -> set[str]:
    found = find_metric(metric) if metric else None
    metrics = [found] if found is not None else ([] if metric else list(CATALOG))
    return {v for m in metrics for v in m.values.get(label, ())}


def _column(frame: Any) -> list[str]:
    return [] if frame is None or len(frame) == 0 else [str(v) for v in frame.iloc[:, 0]]


def complete(
    text: str, vocabulary: Vocabulary, limit: int = 200
) -> tuple[str, list[tuple[str, str]]]:
    """``(prefix, [(completion, type), ...])`` for the PromQL ``text`` before the cursor.

    The completions replace ``prefix`` (what is already typed of the word).
    """
    where = place(text)
    if where.kind == "macro":
        options = [(m, "macro") for m in MACROS]
    elif where.kind == "value" and where.label:
        options = [(v, "label value") for v in vocabulary.label_values(where.label, where.metric)]
    elif where.kind == "label":
        metrics = (where.metric,) if where.metric else where.metrics or (None,)
        names = {n for m in metrics for n in vocabulary.label_names(m)}
        options = [(n, "label") for n in sorted(names)]
    else:
        options = [(n, "metric") for n in vocabulary.metric_names()]
        options += [(f, "function") for f in FUNCTIONS]
    chosen = [(text_, kind) for text_, kind in options if text_.startswith(where.prefix)]
    return where.prefix, chosen[:limit]
