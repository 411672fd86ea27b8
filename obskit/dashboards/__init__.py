"""Dashboards as code: panel builders, the committed files, check, add, preview.

``grafana/dashboards/NAME.dashboard.py`` is the hand-written source, ``NAME.json`` the
generated file Grafana provisions, ``NAME.panels.yaml`` the panels added from notebooks.
"""

from . import panels
from ._files import (
    SOURCE_SUFFIX,
    PanelChange,
    Problem,
    add_panel,
    build,
    check,
    dashboards_dir,
    load,
    names,
    preview,
    render,
    run_query,
)

__all__ = [
    "SOURCE_SUFFIX",
    "PanelChange",
    "Problem",
    "add_panel",
    "build",
    "check",
    "dashboards_dir",
    "load",
    "names",
    "panels",
    "preview",
    "render",
    "run_query",
]
