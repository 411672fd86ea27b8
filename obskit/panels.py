"""``obskit.panels``: the panel builders the dashboard sources import (see :mod:`obskit.dashboards.panels`)."""

from .dashboards.panels import *  # noqa: F403
from .dashboards.panels import __all__ as __all__
