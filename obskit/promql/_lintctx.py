"""Lint internals: findings, the prepared query (macros as sentinels) and its context."""

from __future__ import annotations

import math
import re
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

import promql_parser as pp

from .._time import format_duration, parse_duration
from ..catalog import find_metric, metric_names
from ..errors import ConfigError, QuerySyntaxError
from . import _macros as grafana
from ._ast import Printer, Visit, children, match_op, parse_text, walk

SEVERITIES = ("error", "warning", "info")
COUNTER_FUNCS = {"rate": "deriv", "irate": "deriv", "increase": "delta", "resets": None}
GAUGE_FUNCS = {"delta": "increase", "deriv": "rate", "idelta": "irate", "predict_linear": None}
RAW_OK = {
    "absent", "absent_over_time", "changes", "count_over_time", "last_over_time",
    "present_over_time", "timestamp", *COUNTER_FUNCS, *GAUGE_FUNCS,
}  # fmt: skip
MIN_SAMPLES = {"irate": 2, "idelta": 2, **dict.fromkeys(("rate", "increase", "delta"), 4)}
MIN_SAMPLES |= {"deriv": 4, "predict_linear": 4, "resets": 4, "changes": 4}
KEEP_LABELS = {"topk", "bottomk", "limitk", "limit_ratio"}
ALWAYS_LABELS = {"__name__", "job", "instance"}
SENTINEL = 3_777_000_000  # sentinel ms / numbers standing for macros (parser caps ms at 2**32)


@dataclass(frozen=True)
class Finding:
    """One problem lint or validate found in a query.

    Attributes
    ----------
    rule : str
        Stable rule id, one of :data:`RULES` (or a validate id such as ``"empty-result"``).
    severity : str
        ``"error"``, ``"warning"`` or ``"info"``.
    message : str
        What is wrong, in which part of the query, and what to do.
    fix : str or None
        The whole query rewritten to fix it, where one exists.

    >>> Finding("counter-raw", "warning", "use rate()").severity
    'warning'
    """

    rule: str
    severity: str
    message: str
    fix: str | None = None

    def __post_init__(self) -> None:
        if self.severity not in SEVERITIES:
            raise ConfigError(f"severity must be one of {SEVERITIES}; got {self.severity!r}")


# -- preparing: macros and variables become sentinels that print back ----------------------


@dataclass
class Prepared:
    text: str
    durations: dict[int, str] = field(default_factory=dict)  # ms -> original text
    windows: dict[int, float | None] = field(default_factory=dict)  # ms -> real seconds
    numbers: dict[str, str] = field(default_factory=dict)  # printed sentinel -> text
    real_numbers: dict[float, float | None] = field(default_factory=dict)
    undeclared: dict[str, str] = field(default_factory=dict)  # name -> first reference
    originals: dict[str, str] = field(default_factory=dict)  # name -> first reference


def prepare(expr: str, variables: Mapping[str, Any], builtins: Mapping[str, str]) -> Prepared:
    prep = Prepared(expr)

    def resolve(ref: grafana.Ref) -> str | None:
        original = ref.text(expr)
        known = ref.name in builtins or ref.name in variables
        prep.originals.setdefault(ref.name, original)
        if not known:
            prep.undeclared.setdefault(ref.name, original)
        if ref.quote:
            return None  # kept as written; label-value checks expand it separately
        value = builtins.get(ref.name) or _single(variables.get(ref.name))
        index = SENTINEL + len(prep.durations) + len(prep.numbers)
        before = expr[: ref.start].rstrip()
        if ref.in_brackets or before.endswith("offset"):
            prep.durations[index] = original
            prep.windows[index] = _seconds(value)
            return f"{index}ms"
        if grafana.placeholder(ref, expr) == "1" or (value and _is_number(value)):
            prep.numbers[str(index)] = original
            prep.real_numbers[float(index)] = float(value) if value and _is_number(value) else None
            return str(index)
        return grafana.PLACEHOLDER_PREFIX + ref.name

    prep.text = grafana.substitute(expr, resolve)
    return prep


def _constant(text: str) -> Callable[[re.Match[str]], str]:
    return lambda _match: text


def _single(value: Any) -> str | None:
    if isinstance(value, int | float) and not isinstance(value, bool):
        return f"{value:g}"
    return value if isinstance(value, str) else None


def _seconds(value: str | None) -> float | None:
    try:
        return parse_duration(value, "window") if value else None
    except ConfigError:
        return None


def _is_number(text: str) -> bool:
    try:
        return math.isfinite(float(text))
    except ValueError:
        return False


# -- context -----------------------------------------------------------------------------------


@dataclass
class Context:
    expr: str
    root: Any
    prep: Prepared
    types: Mapping[str, str]
    labels: Mapping[str, Iterable[str]] | None
    label_values: Mapping[Any, Iterable[str]] | None
    variables: Mapping[str, Any]
    scrape: float
    dashboard: bool
    visits: list[Visit] = field(default_factory=list)

    def __post_init__(self) -> None:
        self.visits = list(walk(self.root))
        self.printer = Printer({}, self.prep.durations)

    def text(self, visit: Visit) -> str:
        return self._restore(self.printer(visit.node, visit.path))

    def fix(self, overrides: Mapping[tuple[str, ...], str]) -> str:
        return self._restore(Printer(overrides, self.prep.durations)(self.root))

    def _restore(self, text: str) -> str:
        for printed, original in self.prep.numbers.items():
            text = re.sub(rf"\b{printed}\b", _constant(original), text)
        pattern = rf"\b{grafana.PLACEHOLDER_PREFIX}(\w+)"
        return re.sub(pattern, lambda m: self.prep.originals.get(m.group(1), m.group(0)), text)

    def number(self, node: Any) -> float | None:
        """The real value of a number literal (``None`` for an unknown variable)."""
        return self.prep.real_numbers.get(node.val, node.val)

    def window(self, node: Any) -> tuple[float | None, str | None]:
        """Real seconds and original macro text (``None`` if literal) of a range."""
        ms = round(node.range.total_seconds() * 1000)
        if ms in self.prep.durations:
            return self.prep.windows[ms], self.prep.durations[ms]
        return ms / 1000, None

    def lookup(self, name: str) -> tuple[str | None, str, str]:
        """``(type, suffix, source)`` of a series name from metadata, then the catalog."""
        types = self.types
        if name in types:
            return types[name], suffix_of(name), "server metadata"
        for suffix in ("_bucket", "_sum", "_count"):
            base = name.removesuffix(suffix)
            if base != name and types.get(base) in ("histogram", "summary", "gaugehistogram"):
                return types[base], suffix, "server metadata"
        if name.endswith("_total") and types.get(name.removesuffix("_total")) == "counter":
            return "counter", "", "server metadata"
        metric = find_metric(name)
        if metric is not None:
            return metric.type, name[len(metric.name) :], "catalog"
        return None, "", ""

    def kind(self, name: str) -> str | None:
        """What a series' samples are: ``counter``, ``gauge``, ``histogram`` or ``None``."""
        typ, suffix, _ = self.lookup(name)
        if typ in ("histogram", "summary") and suffix in ("_bucket", "_sum", "_count"):
            return "counter"
        return {"counter": "counter", "histogram": "histogram", "summary": "gauge"}.get(
            typ or "", "gauge" if typ in ("gauge", "info", "stateset", "gaugehistogram") else None
        )

    def known_names(self) -> set[str]:
        names = set(metric_names()) | set(self.types) | set(self.labels or {})
        for name, typ in self.types.items():
            if typ in ("histogram", "summary", "gaugehistogram"):
                names |= {name + "_bucket", name + "_sum", name + "_count"}
            elif typ == "counter":
                names.add(name + "_total")
        return names

    def label_names(self, name: str) -> set[str] | None:
        if self.labels is not None and name in self.labels:
            return set(self.labels[name]) | {"__name__"}
        metric = find_metric(name)
        if metric is None:
            return None
        extra = {"le"} if name.endswith("_bucket") else set()
        return set(metric.labels) | ALWAYS_LABELS | extra

    def values(self, name: str, label: str) -> set[str] | None:
        if not self.label_values:
            return None
        found = self.label_values.get((name, label), self.label_values.get(label))
        return None if found is None else {str(v) for v in found}


def suffix_of(name: str) -> str:
    return next((s for s in ("_bucket", "_sum", "_count") if name.endswith(s)), "")


def name_of(node: Any) -> str | None:
    if node.name:
        return str(node.name)
    eq = [m for m in node.matchers.matchers if m.name == "__name__" and match_op(m) == "="]
    return str(eq[0].value) if eq else None


def selectors(ctx: Context, root: Visit) -> list[Visit]:
    prefix = root.path
    return [
        v
        for v in ctx.visits
        if v.path[: len(prefix)] == prefix and isinstance(v.node, pp.VectorSelector)
    ]


def under(ctx: Context, root: Visit, kind: type) -> list[Visit]:
    prefix = root.path
    return [v for v in ctx.visits if v.path[: len(prefix)] == prefix and isinstance(v.node, kind)]


def default_window(ctx: Context) -> str:
    return "$__rate_interval" if ctx.dashboard else format_duration(max(4 * ctx.scrape, 300))


def child(visit: Visit, name: str) -> Visit:
    """The visit of ``visit``'s child called ``name`` (``arg0``, ``rhs``, ...)."""
    node = dict(children(visit.node))[name]
    return Visit(node, (*visit.path, name), (*visit.parents, visit.node))


def undeclared(name: str, text: str) -> Finding:
    """The ``undeclared-variable`` finding for one variable."""
    return Finding(
        "undeclared-variable",
        "error",
        f"{text} is neither a Grafana macro nor a declared dashboard variable, so it "
        f"reaches Prometheus as written. Declare it (variables={{{name!r}: ...}}) or replace it",
    )


def build_context(
    expr: str,
    *,
    types: Mapping[str, str] | None = None,
    labels: Mapping[str, Iterable[str]] | None = None,
    label_values: Mapping[Any, Iterable[str]] | None = None,
    scrape_interval: float | str = 30,
    dashboard: bool = False,
    variables: Mapping[str, Any] | None = None,
    range_seconds: float = 21600,
    max_data_points: int = 1000,
) -> Context | list[Finding]:
    variables = dict(variables or {})
    scrape = parse_duration(scrape_interval, "scrape_interval")
    builtins = grafana.builtin_values(
        scrape_interval=scrape, range_seconds=range_seconds, max_data_points=max_data_points,
        end=grafana.EPOCH,  # lint runs nothing: $__from/$__to need a value, not the clock
    )  # fmt: skip
    prep = prepare(expr, variables, builtins)
    try:
        root = parse_text(prep.text, original=expr)
    except QuerySyntaxError as err:
        found = [Finding("syntax-error", "error", err.message)]
        return found + [undeclared(name, text) for name, text in prep.undeclared.items()]
    types = {str(k): str(v).lower() for k, v in (types or {}).items()}
    return Context(expr, root, prep, types, labels, label_values, variables, scrape, dashboard)
