"""``obskit.lint``: the documented home of :func:`lint`; the rules live in :mod:`obskit.promql.lint`."""

from .promql.lint import RULES, Finding, check_series_budget, estimate_series, lint

__all__ = ["RULES", "Finding", "check_series_budget", "estimate_series", "lint"]
