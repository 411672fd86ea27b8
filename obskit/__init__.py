"""obskit: explore Prometheus metrics in notebooks and turn them into committed Grafana dashboards."""

from . import catalog
from .config import now
from .errors import (
    ConfigError,
    DashboardError,
    DemoError,
    ObskitError,
    PrometheusError,
    PromQLWarning,
    ValidationError,
)

__version__ = "0.1.0"

__all__ = [
    "ConfigError",
    "DashboardError",
    "DemoError",
    "ObskitError",
    "PromQLWarning",
    "PrometheusError",
    "ValidationError",
    "__version__",
    "catalog",
    "now",
]
