"""obskit: explore Prometheus metrics in notebooks and turn them into committed Grafana dashboards.

>>> import obskit
>>> client = obskit.connect()  # doctest: +SKIP  ($PROMETHEUS_URL, else the running demo)
>>> frame = client.query_range("sum(rate(voicebot_calls_total[5m]))", "-6h", "now")  # doctest: +SKIP
>>> obskit.plot(frame)  # doctest: +SKIP
"""

from . import catalog, promql
from .analysis import periods
from .client import Client, connect
from .config import Settings, now
from .dashboards import add_panel
from .demo.freeze import freeze
from .errors import (  # the rest of the tree is in obskit.errors
    ConfigError,
    DashboardError,
    ObskitError,
    PrometheusError,
    PromQLWarning,
    ValidationError,
)
from .frames import wide
from .plots import figure_grid, plot
from .promql.validate import Report, validate

__version__ = "0.1.0"


def load_ipython_extension(ipython: object) -> None:
    """``%load_ext obskit``: the ``%%promql`` magic and PromQL completion (:mod:`obskit.magic`).

    IPython's hook, so not in ``__all__``.
    """
    from .magic import load_ipython_extension as load

    load(ipython)


__all__ = [
    "Client",
    "ConfigError",
    "DashboardError",
    "ObskitError",
    "PromQLWarning",
    "PrometheusError",
    "Report",
    "Settings",
    "ValidationError",
    "__version__",
    "add_panel",
    "catalog",
    "connect",
    "figure_grid",
    "freeze",
    "now",
    "periods",
    "plot",
    "promql",
    "validate",
    "wide",
]
