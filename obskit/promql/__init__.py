"""PromQL: builders, Grafana macros and variables, the parsed query, lint and validate.

Builders return plain strings that keep Grafana's macros (``$__rate_interval``) and
dashboard variables (``$provider``), so one query works in a notebook and in a panel.
"""

from . import lint, validate
from ._builders import (
    aggregate,
    bot_resolution_rate,
    cache_hit_rate,
    error_ratio,
    expand,
    grafana_interval,
    increase,
    parse,
    per_day,
    per_hour,
    quantile,
    quantiles,
    quote,
    rate,
    rate_interval,
    ratio,
    regex_escape,
    selector,
    topk,
)
from ._expr import Expr, PanelContext

__all__ = [
    "Expr",
    "PanelContext",
    "aggregate",
    "bot_resolution_rate",
    "cache_hit_rate",
    "error_ratio",
    "expand",
    "grafana_interval",
    "increase",
    "lint",
    "parse",
    "per_day",
    "per_hour",
    "quantile",
    "quantiles",
    "quote",
    "rate",
    "rate_interval",
    "ratio",
    "regex_escape",
    "selector",
    "topk",
    "validate",
]
