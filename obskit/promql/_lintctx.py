"""Lint internals: findings, the prepared query (macros as sentinels) and its context."""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

import promql_parser as pp

from .._time import format_duration
from ..catalog import active, find_metric, metric_names
from ..errors import ConfigError
from . import _macros as grafana
from ._ast import Printer, Visit, children
from ._expr import Expr, PanelContext, Prepared

SEVERITIES = ("error", "warning", "info")
COUNTER_FUNCS = {"rate": "deriv", "irate": "deriv", "increase": "delta", "resets": None}
GAUGE_FUNCS = {"delta": "increase", "deriv": "rate", "idelta": "irate", "predict_linear": None}
RAW_OK = {
    "absent", "absent_over_time", "changes", "count_over_time", "last_over_time",
    "present_over_time", "timestamp", *COUNTER_FUNCS, *GAUGE_FUNCS,
}  # fmt: skip
MIN_SAMPLES = {"irate": 2, "idelta": 2, **dict.fromkeys(("rate", "increase", "delta"), 4)}
MIN_SAMPLES |= {"deriv": 4, "predict_linear": 4, "resets": 4, "changes": 4}
ALWAYS_LABELS = {"__name__", "job", "instance"}
#: Labels the scrape adds to every series (``job``, ``instance``): never unknown offline.
TARGET_LABELS = frozenset({"job", "instance"})
#: Labels relabeling or external labels add in a deployment: never unknown offline.
DEPLOYMENT_LABELS = frozenset({"cluster", "namespace", "pod", "region", "env", "replica"})
_NO_TYPE = ("unknown", "untyped", "")


def namespace(name: str) -> str:
    """The namespace of a metric name: its first word and underscore (``voicebot_``)."""
    head, sep, _ = name.partition("_")
    return head + sep


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


# -- context -----------------------------------------------------------------------------------


@dataclass
class Context:
    """What the rules read: the parsed query and what is known about its metrics."""

    query: Expr
    types: Mapping[str, str]
    labels: Mapping[str, Iterable[str]] | None
    label_values: Mapping[Any, Iterable[str]] | None

    def __post_init__(self) -> None:
        self.expr = self.query.text
        self.root = self.query.tree
        self.prep: Prepared = self.query.prepared
        self.visits = list(self.query.visits)
        self.variables = self.query.context.variables
        self.scrape = self.query.context.scrape_interval
        self.dashboard = self.query.context.dashboard
        self.printer = Printer({}, self.prep.durations)
        #: Labels relabeling adds in this deployment: never reported missing offline.
        self.deployment_labels: frozenset[str] = DEPLOYMENT_LABELS

    def text(self, visit: Visit) -> str:
        return self._restore(self.printer(visit.node, visit.path))

    def fix(self, overrides: Mapping[tuple[str, ...], str]) -> str:
        return self._restore(Printer(overrides, self.prep.durations)(self.root))

    def _restore(self, text: str) -> str:
        for printed, original in self.prep.numbers.items():
            text = re.sub(rf"\b{printed}\b", original.replace("\\", "\\\\"), text)
        pattern = rf"\b{grafana.PLACEHOLDER_PREFIX}(\w+)"
        text = re.sub(pattern, lambda m: self.prep.originals.get(m.group(1), m.group(0)), text)
        return self.query.restore(text)

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
            typ = types[name]
            return (None if typ in _NO_TYPE else typ), suffix_of(name), "server metadata"
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

    @property
    def live(self) -> bool:
        """Whether the server's series were given (``labels``): absence then means absence."""
        return self.labels is not None

    def owned(self, name: str) -> bool:
        """Whether ``name`` is in a namespace the active catalog owns (its ``owns:``): the
        application's own metrics (the voice bot's ``voicebot_``). Exporter families it lists
        (``node_``, ``pg_``) are samples of an exporter's, so a name there it lacks is not unknown.
        """
        return active().owns_name(name)

    def labels_live(self, name: str) -> bool:
        """Whether ``name``'s label names come from the server's series."""
        return self.labels is not None and name in self.labels

    def known_names(self) -> set[str]:
        """Every series name the catalog or the server knows."""
        names = set(metric_names()) | set(self.types) | set(self.labels or {})
        for name, typ in self.types.items():
            if typ in ("histogram", "summary", "gaugehistogram"):
                names |= {name + "_bucket", name + "_sum", name + "_count"}
            elif typ == "counter":
                names.add(name + "_total")
        return names

    def label_names(self, name: str) -> set[str] | None:
        """The complete label set of ``name``: its live series', or an owned catalog entry's.

        ``None`` when nothing says the set is complete (an exporter family the catalog only
        samples, a metric nobody listed).
        """
        if self.labels_live(name):
            return set((self.labels or {})[name]) | {"__name__"}
        metric = find_metric(name)
        if metric is None or not metric.complete:
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
    query: Expr,
    *,
    types: Mapping[str, str] | None = None,
    labels: Mapping[str, Iterable[str]] | None = None,
    label_values: Mapping[Any, Iterable[str]] | None = None,
) -> Context | list[Finding]:
    """The rules' context for ``query``, or its findings when it does not parse."""
    error = query.syntax_error
    if error is not None:
        found = [Finding("syntax-error", "error", error.message)]
        return found + [undeclared(name, text) for name, text in query.prepared.undeclared.items()]
    types = {str(k): str(v).lower() for k, v in (types or {}).items()}
    return Context(query, types, labels, label_values)


def panel_context(
    *,
    scrape_interval: float | str | None = None,
    dashboard: bool | None = None,
    variables: Mapping[str, Any] | None = None,
    range_seconds: float | None = None,
    max_data_points: int | None = None,
    dialect: str | None = None,
) -> dict[str, Any]:
    """The :class:`PanelContext` fields given as lint/validate keyword arguments."""
    given = {
        "dialect": dialect,
        "scrape_interval": scrape_interval,
        "dashboard": dashboard,
        "variables": variables,
        "range_seconds": range_seconds,
        "max_data_points": max_data_points,
    }
    return {k: v for k, v in given.items() if v is not None}


def read(expr: str | Expr, **settings: Any) -> Expr:
    """``expr`` as an :class:`Expr` read with ``settings`` (an ``Expr`` keeps its own otherwise)."""
    changes = panel_context(**settings)
    if isinstance(expr, Expr):
        return expr.within(**changes)
    return Expr.of(expr, PanelContext(**changes))
