"""The lint rule registry: each rule's id, severity, summary and check in one place.

:data:`REGISTRY` is the one list: :data:`obskit.lint.RULES` and the rule table in
:mod:`obskit.promql.lint` are derived from it, and lint runs its checks in this order.
A check takes the query's :class:`~obskit.promql._lintctx.Context` and returns the
findings of its own rule only.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from .._lintctx import SEVERITIES, Context, Finding
from ._calm import noisy_panel
from ._compare import constant_comparison
from ._division import division_unguarded
from ._histogram import histogram_quantile_input, histogram_quantile_le, quantile_out_of_range
from ._matching import multi_value_equality, undeclared_variable, vector_matching
from ._names import unknown_label, unknown_label_value, unknown_metric
from ._regex import regex_anchors, regex_literal, regex_match_all
from ._types import aggregation_before_rate, counter_raw, delta_on_counter, rate_on_gauge
from ._windows import hardcoded_window, range_too_short

__all__ = ["REGISTRY", "RULE_FUNCS", "Rule", "table"]

Check = Callable[[Context], list[Finding]]


@dataclass(frozen=True)
class Rule:
    """One lint rule. ``check`` is ``None`` for rules lint itself reports (syntax, budget)."""

    id: str
    severity: str
    summary: str
    check: Check | None = None

    def __post_init__(self) -> None:
        assert self.severity in SEVERITIES, self.severity


REGISTRY: tuple[Rule, ...] = (
    Rule("syntax-error", "error", "the query does not parse"),
    Rule("undeclared-variable", "error", "``$var`` that is neither a Grafana macro nor declared",
         undeclared_variable),
    Rule("rate-on-gauge", "error", "rate/irate/increase/resets over a gauge", rate_on_gauge),
    Rule("delta-on-counter", "warning", "delta/idelta/deriv/predict_linear over a counter",
         delta_on_counter),
    Rule("counter-raw", "warning", "a counter used without rate()/increase()", counter_raw),
    Rule("histogram-quantile-le", "error", "histogram_quantile whose aggregation drops ``le``",
         histogram_quantile_le),
    Rule("histogram-quantile-input", "error", "histogram_quantile over ``_sum``/``_count``/"
         "non-buckets", histogram_quantile_input),
    Rule("quantile-out-of-range", "error", "histogram_quantile with φ outside 0..1",
         quantile_out_of_range),
    Rule("aggregation-before-rate", "error", "rate(sum(x)[5m:]): aggregating counters before "
         "rate", aggregation_before_rate),
    Rule("range-too-short", "warning", "a window under 2 scrape intervals (4 advised)",
         range_too_short),
    Rule("hardcoded-window", "warning", "rate(x[5m]) in a dashboard instead of $__rate_interval",
         hardcoded_window),
    Rule("unknown-metric", "warning", "a name its owning catalog, or the server, lacks", unknown_metric),
    Rule("unknown-label", "warning", "a label outside the metric's complete label set",
         unknown_label),
    Rule("unknown-label-value", "warning", "a label value that never occurs", unknown_label_value),
    Rule("multi-value-equality", "warning", "a multi-value variable inside ``=`` instead of ``=~``",
         multi_value_equality),
    Rule("division-unguarded", "warning", "``a / b`` where b can be 0 (a rate), unguarded; "
         "error for ``/ 0``", division_unguarded),
    Rule("vector-matching", "warning", "``sum by (a) (x) / sum by (b) (y)``: label sets differ, "
         "empty", vector_matching),
    Rule("regex-literal", "warning", '``l=~"abc"`` without regex syntax: an exact match, use ``=``',
         regex_literal),
    Rule("regex-match-all", "warning", '``l=~".*"`` filters nothing; ``l!~".*"`` means ``l=""``',
         regex_match_all),
    Rule("regex-anchors", "warning", "``^``/``$`` in a label regex, which Prometheus anchors anyway",
         regex_anchors),
    Rule("constant-comparison", "warning", "a comparison never true for what its side can be "
         "(info when always true: count(x) > 0)", constant_comparison),
    Rule("noisy-panel", "info", "a panel ratio or quantile with no minimum volume (shouts at "
         "night)", noisy_panel),
    Rule("series-budget", "warning", "more series than the budget (error for a real count)"),
)  # fmt: skip

#: The checks lint runs, in registry order.
RULE_FUNCS: tuple[Check, ...] = tuple(rule.check for rule in REGISTRY if rule.check is not None)


def table(rules: tuple[Rule, ...] = REGISTRY) -> str:
    """The rules as a reStructuredText table (id, severity, what it catches)."""
    width = max(len(rule.id) for rule in rules)
    summary = max(len(rule.summary) for rule in rules)
    rule_line = f"{'=' * width}  {'=' * 8}  {'=' * summary}"
    rows = [f"{rule.id:<{width}}  {rule.severity:<8}  {rule.summary}" for rule in rules]
    return "\n".join([rule_line, f"{'rule':<{width}}  {'severity':<8}  what it catches",
                      rule_line, *rows, rule_line])  # fmt: skip
