"""The parsed query value: text + the panel it is read in, parsed once, facts cached.

Every entry point (``query``, ``query_range``, ``validate``, ``lint``, ``plot``,
``add_panel``, ``dashboards check``) accepts text or an :class:`Expr` and parses only
text. What a query returns (its metrics, output labels, unit, legend, kind, series
estimate) is a cached property here, computed by one function in :mod:`._infer`.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from datetime import datetime
from functools import cached_property
from typing import Any

import promql_parser as pp

from .._time import parse_duration
from ..config import SCRAPE_INTERVAL
from ..errors import ConfigError, QuerySyntaxError
from . import _dialect, _infer
from ._ast import Visit, parse_text, walk
from ._macros import (
    OFFLINE_END,
    PLACEHOLDER_PREFIX,
    Ref,
    VariableValue,
    builtin_values,
    expand,
    grafana_interval,
    placeholder,
    substitute,
)

__all__ = ["OFFLINE_END", "Expr", "PanelContext", "Prepared"]

#: Sentinel ms / numbers standing for macros while parsing (promql-parser caps ms at 2**32).
SENTINEL = 3_777_000_000


@dataclass(frozen=True)
class PanelContext:
    """The settings a query is read in, as a Grafana panel has them.

    Parameters
    ----------
    range_seconds : float
        The dashboard time range (``$__range``).
    max_data_points : int
        The panel's max data points (with the range it gives ``$__interval``).
    scrape_interval : float or str
        The data source's scrape interval: the lowest ``$__interval`` and the base of
        ``$__rate_interval``.
    interval : float or str, optional
        The panel's min interval (Grafana's panel ``interval``), if it has one.
    variables : mapping, optional
        Dashboard variable values: a string, a list for multi-value, ``"$__all"`` for All.
    end : datetime
        Where the range ends (``$__to``); offline a fixed instant, :data:`OFFLINE_END`.
    dashboard : bool
        The query is a panel's: fixed ``rate()`` windows are findings.
    dialect : str
        The server's PromQL: ``prometheus-2`` (default), ``prometheus-3`` or
        ``victoriametrics`` (see :mod:`obskit.promql._dialect`).

    >>> PanelContext(range_seconds=7 * 86400, max_data_points=500).interval_seconds
    1200.0
    """

    range_seconds: float = 21600.0
    max_data_points: int = 1000
    scrape_interval: float = float(SCRAPE_INTERVAL)
    interval: float | None = None
    variables: Mapping[str, VariableValue] = field(default_factory=dict)
    end: datetime = OFFLINE_END
    dashboard: bool = False
    dialect: str = _dialect.DEFAULT

    def __post_init__(self) -> None:
        set_ = object.__setattr__
        _dialect.check(self.dialect)
        set_(self, "scrape_interval", parse_duration(self.scrape_interval, "scrape_interval"))
        if self.interval is not None:
            set_(self, "interval", parse_duration(self.interval, "interval"))
        if not isinstance(self.range_seconds, int | float) or not self.range_seconds > 0:
            raise ConfigError(
                f"range_seconds must be a positive number like 21600 (6 h); got {self.range_seconds!r}"
            )
        if isinstance(self.max_data_points, bool) or not isinstance(self.max_data_points, int):
            raise ConfigError(
                f"max_data_points must be a whole number like 500; got {self.max_data_points!r}"
            )
        set_(self, "variables", dict(self.variables or {}))
        if self.end.tzinfo is None:
            raise ConfigError(f"end must be timezone-aware, like {OFFLINE_END!r}; got {self.end!r}")

    @property
    def interval_seconds(self) -> float:
        """``$__interval`` in seconds, as Grafana computes it for this panel."""
        low = max(self.interval or 0.0, self.scrape_interval)
        return grafana_interval(self.range_seconds, self.max_data_points, low)

    def builtins(self) -> dict[str, str]:
        """The text each ``$__`` macro becomes in this panel."""
        return builtin_values(
            interval=self.interval_seconds,
            scrape_interval=self.scrape_interval,
            range_seconds=self.range_seconds,
            max_data_points=self.max_data_points,
            end=self.end,
        )

    def replace(self, **changes: Any) -> PanelContext:
        """A copy with ``changes`` applied (validated like a new one)."""
        return replace(self, **changes)


# -- preparing: macros and variables become sentinels that print back ------------------------------


@dataclass
class Prepared:
    """The text promql-parser reads, and how to map its sentinels back to the original."""

    text: str
    durations: dict[int, str] = field(default_factory=dict)  # ms -> original text
    windows: dict[int, float | None] = field(default_factory=dict)  # ms -> real seconds
    numbers: dict[str, str] = field(default_factory=dict)  # printed sentinel -> text
    real_numbers: dict[float, float | None] = field(default_factory=dict)
    undeclared: dict[str, str] = field(default_factory=dict)  # name -> first reference
    originals: dict[str, str] = field(default_factory=dict)  # name -> first reference


def prepare(expr: str, variables: Mapping[str, Any], builtins: Mapping[str, str]) -> Prepared:
    """``expr`` with macros and variables replaced by sentinels that parse and print back."""
    prep = Prepared(expr)

    def resolve(ref: Ref) -> str | None:
        original = ref.text(expr)
        prep.originals.setdefault(ref.name, original)
        if ref.name not in builtins and ref.name not in variables:
            prep.undeclared.setdefault(ref.name, original)
        if ref.quote:
            return None  # kept as written; label-value checks expand it separately
        value = builtins.get(ref.name) or _single(variables.get(ref.name))
        index = SENTINEL + len(prep.durations) + len(prep.numbers)
        if ref.in_brackets or expr[: ref.start].rstrip().endswith("offset"):
            prep.durations[index] = original
            prep.windows[index] = _seconds(value)
            return f"{index}ms"
        if placeholder(ref, expr) == "1" or (value and _is_number(value)):
            prep.numbers[str(index)] = original
            prep.real_numbers[float(index)] = float(value) if value and _is_number(value) else None
            return str(index)
        return PLACEHOLDER_PREFIX + ref.name

    prep.text = substitute(expr, resolve)
    return prep


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


# -- the value -------------------------------------------------------------------------------------


@dataclass(frozen=True, eq=False)
class Expr:
    """A PromQL query read in a panel context: parsed once, on first use.

    Build one with :meth:`of` (text or an ``Expr``, returned unchanged) or directly.
    Derived facts are cached; a syntax error is raised by :attr:`tree` and kept in
    :attr:`syntax_error`.

    >>> e = Expr("histogram_quantile(0.95, sum by (le, model) (rate(voicebot_llm_latency_seconds_bucket[$__rate_interval])))")
    >>> e.unit, e.legend, e.output_labels, e.metrics
    ('s', '{{model}}', ('model',), ('voicebot_llm_latency_seconds_bucket',))
    >>> Expr.of(e) is e
    True
    """

    text: str
    context: PanelContext = field(default_factory=PanelContext)

    def __post_init__(self) -> None:
        if not isinstance(self.text, str):
            raise ConfigError(
                f"a query is PromQL text like 'sum(rate(x_total[5m]))' or an Expr; got {self.text!r}"
            )

    @classmethod
    def of(cls, value: str | Expr, context: PanelContext | None = None) -> Expr:
        """``value`` as an :class:`Expr`: text is wrapped, an ``Expr`` returned unchanged.

        With a ``context`` that differs from an ``Expr``'s own, a new ``Expr`` of the same
        text is read in it.
        """
        if isinstance(value, Expr):
            if context is None or context == value.context:
                return value
            return cls(value.text, context)
        return cls(value, context if context is not None else PanelContext())

    def within(self, **changes: Any) -> Expr:
        """The same text read in this context with ``changes`` (itself when nothing changes)."""
        return Expr.of(self, self.context.replace(**changes)) if changes else self

    def __str__(self) -> str:
        return self.text

    def __repr__(self) -> str:
        return f"Expr({self.text!r})"

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Expr):
            return NotImplemented
        return (self.text, self.context) == (other.text, other.context)

    __hash__ = None  # type: ignore[assignment]

    # -- parsing -----------------------------------------------------------------------------------

    @cached_property
    def prepared(self) -> Prepared:
        """The text with macros and variables as sentinels (what is parsed)."""
        return prepare(self.text, self.context.variables, self.context.builtins())

    @cached_property
    def _parsed(self) -> tuple[Any, QuerySyntaxError | None]:
        try:
            text = _dialect.for_parser(self.prepared.text, self.context.dialect)
            return parse_text(text, original=self.text), None
        except QuerySyntaxError as err:
            return None, err

    @property
    def syntax_error(self) -> QuerySyntaxError | None:
        """The syntax error, located in :attr:`text`, or ``None`` when the query parses."""
        return self._parsed[1]

    @property
    def tree(self) -> Any:
        """The root node (promql-parser); raises :class:`QuerySyntaxError` if it does not parse."""
        root, error = self._parsed
        if error is not None:
            raise error
        return root

    @cached_property
    def visits(self) -> tuple[Visit, ...]:
        """Every node of the tree with its path, depth-first."""
        return tuple(walk(self.tree))

    @cached_property
    def selectors(self) -> tuple[Any, ...]:
        """The vector selectors the query reads, in source order."""
        return tuple(v.node for v in self.visits if isinstance(v.node, pp.VectorSelector))

    @cached_property
    def metrics(self) -> tuple[str, ...]:
        """The metric names the query selects (no ``__name__`` regexes), in source order."""
        names = (_infer.name_of(s) for s in self.selectors)
        return tuple(dict.fromkeys(n for n in names if n and not n.startswith("__")))

    def dialect_findings(self) -> list[tuple[str, str, str]]:
        """``(rule, severity, message)`` for what the context's dialect lacks."""
        return _dialect.findings(self.tree, self.text, self.context.dialect)

    def restore(self, printed: str) -> str:
        """Text printed from :attr:`tree` with the query's own spellings put back."""
        return _dialect.restore(printed, self.text)

    # -- what it returns ---------------------------------------------------------------------------

    @cached_property
    def output_labels(self) -> tuple[str, ...] | str | None:
        """Label names every result series has (``"scalar"``, or ``None`` when data decides)."""
        return _infer.output_labels(self.tree)

    @cached_property
    def implied_labels(self) -> tuple[str, ...]:
        """Labels the result has even when empty: grouping and ``label_replace`` targets."""
        return _infer.implied_labels(self.tree)

    @cached_property
    def legend_labels(self) -> tuple[str, ...]:
        """The labels that tell result series apart, for a legend (``le`` left out)."""
        return _infer.legend_labels(self.tree)

    @cached_property
    def legend(self) -> str | None:
        """Grafana legend format naming :attr:`legend_labels` (``"{{provider}}"``), or ``None``."""
        return " ".join(f"{{{{{label}}}}}" for label in self.legend_labels) or None

    @cached_property
    def unit(self) -> str | None:
        """The Grafana unit of the result, from the catalog (``None`` when unknown)."""
        return _infer.unit(self.tree)

    @cached_property
    def lookback(self) -> float | None:
        """How far back the query reads, in seconds: its longest window + offset (subqueries
        add up); ``None`` when a variable in a window has no value."""

        def seconds(delta: Any) -> float | None:
            ms = round(delta.total_seconds() * 1000)
            return self.prepared.windows.get(ms) if ms in self.prepared.windows else ms / 1000

        return _infer.lookback(self.tree, seconds)

    def series_estimate(self, values: _infer.LabelValues | None = None) -> int | None:
        """Roughly how many series the query returns (``None`` when the catalog cannot tell)."""
        return _infer.estimate(self.tree, values)

    def kind(self, series: int | None = None) -> str:
        """The panel kind for it: ``stat`` (``gauge`` for a 0..1 ratio) for one series."""
        count = self.series_estimate() if series is None else series
        if count == 1:
            return "gauge" if self.unit == "percentunit" else "stat"
        return "timeseries"

    # -- running it --------------------------------------------------------------------------------

    @cached_property
    def expanded(self) -> str:
        """The text Grafana would send for this panel context (macros and variables replaced)."""
        return self.expand()

    def expand(self, **changes: Any) -> str:
        """The text Grafana would send, the context changed by ``changes`` (no parsing)."""
        ctx = self.context.replace(**changes) if changes else self.context
        return expand(
            self.text,
            interval=ctx.interval_seconds,
            scrape_interval=ctx.scrape_interval,
            range_seconds=ctx.range_seconds,
            max_data_points=ctx.max_data_points,
            variables=ctx.variables,
            end=ctx.end,
        )
